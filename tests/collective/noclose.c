/*
 * noclose.c - writes 4 bytes of (rank + 1) at rank * 4 of URI, collectively, and reaches
 * MPI_Finalize without closing the file: through the C API (`noclose api URI`, the
 * collective layer's MPI_COMM_SELF attribute closes it) or MPI-IO (`noclose mpiio URI`,
 * run with libcnio_mpiio.so preloaded: its MPI_Finalize closes it). finalize.test reads
 * the object back. Exit 0 when every call before MPI_Finalize succeeded.
 */
#include "cnio.h"

#include <mpi.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    unsigned char b[4];
    int rank, rc;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (argc != 3) {
        fprintf(stderr, "usage: noclose api|mpiio URI\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    memset(b, rank + 1, sizeof(b));
    if (!strcmp(argv[1], "api")) {
        cnio_file_t *fh;

        rc = cnio_file_open(MPI_COMM_WORLD, argv[2], MPI_MODE_CREATE | MPI_MODE_RDWR,
                            MPI_INFO_NULL, &fh);
        if (rc == 0)
            rc = cnio_file_write_at_all(fh, rank * 4, b, 4, MPI_BYTE, MPI_STATUS_IGNORE);
    } else {
        MPI_File f;

        rc = MPI_File_open(MPI_COMM_WORLD, argv[2], MPI_MODE_CREATE | MPI_MODE_RDWR,
                           MPI_INFO_NULL, &f);
        if (rc == MPI_SUCCESS)
            rc = MPI_File_write_at_all(f, rank * 4, b, 4, MPI_BYTE, MPI_STATUS_IGNORE);
    }
    if (rc)
        fprintf(stderr, "noclose: rank %d: open or write failed (%d)\n", rank, rc);
    MPI_Finalize();   /* the file is still open */
    return rc ? 1 : 0;
}
