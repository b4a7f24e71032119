# AX_PTHREAD_SIMPLE: POSIX threads through -pthread (glibc). Sets PTHREAD_CFLAGS, PTHREAD_LIBS.
AC_DEFUN([AX_PTHREAD_SIMPLE], [
  AC_MSG_CHECKING([for -pthread])
  save_CFLAGS=$CFLAGS; CFLAGS="$CFLAGS -pthread"
  AC_LINK_IFELSE([AC_LANG_PROGRAM([[#include <pthread.h>
static void *start(void *arg) { return arg; }]],
    [[pthread_t t; return pthread_create(&t, 0, start, 0);]])],
    [AC_MSG_RESULT([yes])], [AC_MSG_RESULT([no]); AC_MSG_ERROR([POSIX threads are required])])
  CFLAGS=$save_CFLAGS
  PTHREAD_CFLAGS=-pthread
  PTHREAD_LIBS=-pthread
  AC_SUBST([PTHREAD_CFLAGS])
  AC_SUBST([PTHREAD_LIBS])
])
