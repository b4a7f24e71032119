/*
 * mpiio_class.h - the name of an MPI error code's class, as the MPI-IO tests print it
 * (check_mpiio's table, mpiio_diff's lines): "ok", "NO_SUCH_FILE", ... or "classN".
 */
#ifndef CNIO_TEST_MPIIO_CLASS_H
#define CNIO_TEST_MPIIO_CLASS_H

/* The class of MPI error code rc (MPI_Error_class), named without its MPI_ERR_ prefix;
 * a static buffer for a class not in the list. */
const char *cls(int rc);

#endif
