/*
 * block.c - each rank writes one block of an object, collectively, then reads it back.
 *
 *   mpirun -n 4 ./block cnio://host1,host2/demo/blocks.dat [BLOCK_BYTES]
 */
#include <cnio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    size_t n = argc > 2 ? strtoull(argv[2], NULL, 0) : (1u << 20);
    char *out, *in;
    cnio_file_t *fh;
    int rank, rc;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (argc < 2) {
        if (rank == 0)
            fprintf(stderr, "usage: %s cnio://HOSTS/PATH [BLOCK_BYTES]\n", argv[0]);
        MPI_Finalize();
        return 2;
    }
    out = malloc(n);
    in = malloc(n);
    for (size_t i = 0; i < n; i++)
        out[i] = (char)(rank * 31 + i * 7);

    rc = cnio_file_open(MPI_COMM_WORLD, argv[1], MPI_MODE_CREATE | MPI_MODE_RDWR,
                        MPI_INFO_NULL, &fh);
    if (rc == 0)
        rc = cnio_file_write_at_all(fh, (MPI_Offset)rank * n, out, (int)n, MPI_BYTE,
                                    MPI_STATUS_IGNORE);
    if (rc == 0)
        rc = cnio_file_read_at_all(fh, (MPI_Offset)rank * n, in, (int)n, MPI_BYTE,
                                   MPI_STATUS_IGNORE);
    if (rc == 0)
        rc = cnio_file_close(&fh);
    if (rc)
        fprintf(stderr, "rank %d: %s\n", rank, cnio_strerror(rc));
    else if (memcmp(in, out, n) != 0)
        fprintf(stderr, "rank %d: read back different bytes\n", rank), rc = 1;
    else if (rank == 0)
        printf("block: every rank wrote and read back %zu bytes\n", n);
    free(out);
    free(in);
    MPI_Finalize();
    return rc != 0;
}
