# CNIO_CHECK_HDF5: optional parallel HDF5 (Debian's libhdf5-openmpi-dev), for the
# HDF5 virtual file driver. Sets HDF5_CFLAGS, HDF5_LIBS, have_hdf5, AM_CONDITIONAL HAVE_HDF5.
AC_DEFUN([CNIO_CHECK_HDF5], [
  AC_ARG_WITH([hdf5],
    [AS_HELP_STRING([--without-hdf5], [do not build the HDF5 driver])],
    [], [with_hdf5=check])
  have_hdf5=no
  AS_IF([test "x$with_hdf5" != xno], [
    PKG_CHECK_MODULES([HDF5], [hdf5-openmpi], [have_hdf5=yes], [
      AS_IF([test -f /usr/include/hdf5/openmpi/hdf5.h], [
        HDF5_CFLAGS="-I/usr/include/hdf5/openmpi"
        HDF5_LIBS="-L/usr/lib/$host_cpu-linux-gnu/hdf5/openmpi -lhdf5"
        have_hdf5=yes])])
    AS_IF([test "x$have_hdf5" = xyes], [
      save_CPPFLAGS=$CPPFLAGS; CPPFLAGS="$CPPFLAGS $HDF5_CFLAGS $MPI_CFLAGS"
      AC_CHECK_HEADER([hdf5.h], [], [have_hdf5=no])
      AS_IF([test "x$have_hdf5" = xyes], [
        AC_MSG_CHECKING([whether HDF5 is built for MPI])
        AC_COMPILE_IFELSE([AC_LANG_PROGRAM([[#include <hdf5.h>]],
          [[#ifndef H5_HAVE_PARALLEL
            #error not parallel
            #endif]])], [AC_MSG_RESULT([yes])], [AC_MSG_RESULT([no]); have_hdf5=no])])
      CPPFLAGS=$save_CPPFLAGS])
    AS_IF([test "x$with_hdf5" = xyes && test "x$have_hdf5" != xyes],
      [AC_MSG_ERROR([parallel HDF5 requested but not found])])
  ])
  AC_SUBST([HDF5_CFLAGS])
  AC_SUBST([HDF5_LIBS])
  AM_CONDITIONAL([HAVE_HDF5], [test "x$have_hdf5" = xyes])
])
