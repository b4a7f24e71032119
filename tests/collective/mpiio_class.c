/*
 * mpiio_class.c - the names of MPI error classes for the MPI-IO tests (mpiio_class.h).
 */
#include "mpiio_class.h"

#include <mpi.h>
#include <stdio.h>

const char *cls(int rc)
{
    static const struct {
        int c;
        const char *n;
    } names[] = {
        { MPI_SUCCESS, "ok" }, { MPI_ERR_ARG, "ARG" }, { MPI_ERR_AMODE, "AMODE" },
        { MPI_ERR_NO_SUCH_FILE, "NO_SUCH_FILE" }, { MPI_ERR_FILE_EXISTS, "FILE_EXISTS" },
        { MPI_ERR_ACCESS, "ACCESS" }, { MPI_ERR_IO, "IO" }, { MPI_ERR_FILE, "FILE" },
        { MPI_ERR_UNSUPPORTED_OPERATION, "UNSUPPORTED_OPERATION" },
        { MPI_ERR_UNSUPPORTED_DATAREP, "UNSUPPORTED_DATAREP" },
        { MPI_ERR_NO_SPACE, "NO_SPACE" }, { MPI_ERR_BAD_FILE, "BAD_FILE" },
        { MPI_ERR_READ_ONLY, "READ_ONLY" }, { MPI_ERR_OTHER, "OTHER" },
        { MPI_ERR_COUNT, "COUNT" }, { MPI_ERR_TYPE, "TYPE" }, { MPI_ERR_NOT_SAME, "NOT_SAME" },
        { MPI_ERR_REQUEST, "REQUEST" }, { MPI_ERR_INFO_VALUE, "INFO_VALUE" },
    };
    static char other[32];
    int c = rc;

    MPI_Error_class(rc, &c);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].c == c)
            return names[i].n;
    snprintf(other, sizeof(other), "class%d", c);
    return other;
}
