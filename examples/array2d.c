/*
 * array2d.c - a global N x N array of 32-bit integers, decomposed over a 2-D process grid
 * and written with a subarray file view; then read back with a different decomposition
 * (row slabs) and checked. Prints GB/s for each direction.
 *
 *   mpirun -n 4 ./array2d [--write|--read|--both] [--info k=v]... cnio://h1,h2/demo/a.dat N
 *
 * --write writes the array, --read reads it back (with any number of ranks) and checks
 * it, --both (default) does both. Element (i, j) holds i * N + j (mod 2^32).
 */
#include <cnio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t value(uint64_t i, uint64_t j, uint64_t n)
{
    return (uint32_t)(i * n + j);
}

static int fail(int rank, const char *what, int rc)
{
    fprintf(stderr, "array2d: rank %d: %s: %s\n", rank, what, cnio_strerror(rc));
    return rc;
}

/* Writes this rank's block of a dims[0] x dims[1] grid decomposition. */
static int write_grid(const char *uri, MPI_Info info, int n, double *secs)
{
    int rank, size, dims[2] = { 0, 0 }, periods[2] = { 0, 0 }, coords[2], rc;
    int gsizes[2] = { n, n }, lsizes[2], starts[2];
    MPI_Comm cart;
    MPI_Datatype ft;
    cnio_file_t *fh;
    uint32_t *a;

    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Dims_create(size, 2, dims);
    MPI_Cart_create(MPI_COMM_WORLD, 2, dims, periods, 0, &cart);
    MPI_Comm_rank(cart, &rank);
    MPI_Cart_coords(cart, rank, 2, coords);
    for (int d = 0; d < 2; d++) {
        starts[d] = (int)((int64_t)n * coords[d] / dims[d]);
        lsizes[d] = (int)((int64_t)n * (coords[d] + 1) / dims[d]) - starts[d];
    }
    a = malloc((size_t)lsizes[0] * lsizes[1] * sizeof(*a) + 1);
    for (int64_t i = 0; i < lsizes[0]; i++)
        for (int64_t j = 0; j < lsizes[1]; j++)
            a[i * lsizes[1] + j] = value((uint64_t)(starts[0] + i), (uint64_t)(starts[1] + j), (uint64_t)n);
    MPI_Type_create_subarray(2, gsizes, lsizes, starts, MPI_ORDER_C, MPI_UINT32_T, &ft);
    MPI_Type_commit(&ft);
    rc = cnio_file_open(cart, uri, MPI_MODE_CREATE | MPI_MODE_WRONLY, info, &fh);
    if (rc)
        return fail(rank, "open", rc);
    rc = cnio_file_set_view(fh, 0, MPI_UINT32_T, ft, "native", MPI_INFO_NULL);
    MPI_Barrier(cart);
    *secs = MPI_Wtime();
    if (rc == 0)
        rc = cnio_file_write_at_all(fh, 0, a, lsizes[0] * lsizes[1], MPI_UINT32_T, MPI_STATUS_IGNORE);
    if (rc == 0)
        rc = cnio_file_sync(fh);
    *secs = MPI_Wtime() - *secs;
    if (rc)
        fail(rank, "write", rc);
    rc = rc ? rc : cnio_file_close(&fh);
    if (fh)
        cnio_file_close(&fh);
    MPI_Type_free(&ft);
    MPI_Comm_free(&cart);
    free(a);
    return rc;
}

/* Reads row slabs (a different decomposition) and checks every element. */
static int read_rows(const char *uri, MPI_Info info, int n, double *secs)
{
    int rank, size, rc, bad = 0, allbad = 0;
    int64_t r0, r1;
    cnio_file_t *fh;
    uint32_t *a;
    MPI_Status st;

    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    r0 = (int64_t)n * rank / size;
    r1 = (int64_t)n * (rank + 1) / size;
    a = malloc((size_t)(r1 - r0) * n * sizeof(*a) + 1);
    rc = cnio_file_open(MPI_COMM_WORLD, uri, MPI_MODE_RDONLY, info, &fh);
    if (rc)
        return fail(rank, "open", rc);
    MPI_Barrier(MPI_COMM_WORLD);
    *secs = MPI_Wtime();
    rc = cnio_file_read_at_all(fh, r0 * n * (int64_t)sizeof(*a), a, (int)((r1 - r0) * n),
                               MPI_UINT32_T, &st);
    *secs = MPI_Wtime() - *secs;
    if (rc)
        fail(rank, "read", rc);
    for (int64_t i = r0; rc == 0 && i < r1 && !bad; i++)
        for (int64_t j = 0; j < n; j++)
            if (a[(i - r0) * n + j] != value((uint64_t)i, (uint64_t)j, (uint64_t)n)) {
                fprintf(stderr, "array2d: rank %d: element (%lld, %lld) is %u, expected %u\n",
                        rank, (long long)i, (long long)j, a[(i - r0) * n + j],
                        value((uint64_t)i, (uint64_t)j, (uint64_t)n));
                bad = 1;
                break;
            }
    MPI_Allreduce(&bad, &allbad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    rc = rc ? rc : cnio_file_close(&fh);
    if (fh)
        cnio_file_close(&fh);
    free(a);
    return rc ? rc : (allbad ? 1 : 0);
}

int main(int argc, char **argv)
{
    int rank, size, n = 0, rc = 0, dow = 1, dor = 1;
    const char *uri = NULL;
    double tw = 0, tr = 0, gb;
    MPI_Info info;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Info_create(&info);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--write"))
            dow = 1, dor = 0;
        else if (!strcmp(argv[i], "--read"))
            dow = 0, dor = 1;
        else if (!strcmp(argv[i], "--both"))
            dow = dor = 1;
        else if (!strcmp(argv[i], "--info") && i + 1 < argc && strchr(argv[i + 1], '=')) {
            char *kv = strdup(argv[++i]), *eq = strchr(kv, '=');
            *eq = '\0';
            MPI_Info_set(info, kv, eq + 1);
            free(kv);
        } else if (!uri)
            uri = argv[i];
        else
            n = atoi(argv[i]);
    }
    if (!uri || n <= 0) {
        if (rank == 0)
            fprintf(stderr, "usage: %s [--write|--read|--both] [--info k=v] cnio://HOSTS/PATH N\n", argv[0]);
        MPI_Finalize();
        return 2;
    }
    gb = (double)n * n * 4 / 1e9;
    if (dow)
        rc = write_grid(uri, info, n, &tw);
    if (rc == 0 && dow && rank == 0)
        printf("array2d: wrote %d x %d uint32 (%.3f GB) from %d ranks with a subarray view: "
               "%.3f s, %.2f GB/s\n", n, n, gb, size, tw, gb / tw);
    if (rc == 0 && dor)
        rc = read_rows(uri, info, n, &tr);
    if (rc == 0 && dor && rank == 0)
        printf("array2d: read back as row slabs on %d ranks and checked: %.3f s, %.2f GB/s\n",
               size, tr, gb / tr);
    MPI_Info_free(&info);
    MPI_Finalize();
    return rc != 0;
}
