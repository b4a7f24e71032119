# CNIO_CHECK_MPI: find the MPI C compiler wrapper (mpicc, or $MPICC) and take the flags
# it would add, so that only the MPI parts of cnio are compiled with them.
# Sets MPICC, MPI_CFLAGS, MPI_LIBS, MPIEXEC, MPI_SUMMARY.
AC_DEFUN([CNIO_CHECK_MPI], [
  AC_ARG_VAR([MPICC], [MPI C compiler wrapper])
  AC_ARG_VAR([MPIEXEC], [MPI launcher])
  AC_PATH_PROGS([MPICC], [mpicc mpicc.openmpi], [no])
  AS_IF([test "x$MPICC" = xno],
    [AC_MSG_ERROR([no MPI compiler wrapper (mpicc) found; run scripts/install-deps.sh])])
  AC_MSG_CHECKING([MPI compile flags])
  MPI_CFLAGS=`$MPICC --showme:compile 2>/dev/null`
  AS_IF([test $? -ne 0], [MPI_CFLAGS=`$MPICC -compile-info 2>/dev/null | cut -d' ' -f2-`])
  AC_MSG_RESULT([$MPI_CFLAGS])
  AC_MSG_CHECKING([MPI link flags])
  MPI_LIBS=`$MPICC --showme:link 2>/dev/null`
  AS_IF([test $? -ne 0], [MPI_LIBS=`$MPICC -link-info 2>/dev/null | cut -d' ' -f2-`])
  AC_MSG_RESULT([$MPI_LIBS])
  save_CFLAGS=$CFLAGS; save_LIBS=$LIBS
  CFLAGS="$CFLAGS $MPI_CFLAGS"; LIBS="$LIBS $MPI_LIBS"
  AC_LINK_IFELSE([AC_LANG_PROGRAM([[#include <mpi.h>]], [[MPI_Init(0, 0); MPI_Finalize();]])],
    [], [AC_MSG_ERROR([cannot compile and link an MPI program with $MPICC's flags])])
  CFLAGS=$save_CFLAGS; LIBS=$save_LIBS
  AC_PATH_PROGS([MPIEXEC], [mpirun mpiexec], [no])
  AC_SUBST([MPI_CFLAGS])
  AC_SUBST([MPI_LIBS])
  MPI_SUMMARY="$MPICC, launcher $MPIEXEC"
])
