/*
 * h5write.c - parallel HDF5 write benchmark for bench/compare.sh: every rank writes its
 * contiguous share of a 1-D double dataset of SIZE bytes with one collective H5Dwrite
 * (H5FD_MPIO_COLLECTIVE, collective metadata), through HDF5's MPI-IO driver. The same
 * program measures Open MPI's own MPI-IO on a local file and cnio under `cnio run` on a
 * cnio:// name.
 *
 *   mpirun -n 4 h5write NAME SIZE[K|M|G] [REPS]
 *
 * Per repetition, timed from a barrier before H5Fcreate to the end of H5Fclose (which
 * flushes the metadata and closes the MPI file): prints "h5write: BYTES bytes SECONDS s
 * GBPS GB/s" on rank 0 (GB = 1e9 bytes). Exit status 0 when every call succeeded.
 */
#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long long h5w_size(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);

    switch (*end) {
    case 'K': return v << 10;
    case 'M': return v << 20;
    case 'G': return v << 30;
    default: return *end ? -1 : v;
    }
}

/* One timed create-write-close of the dataset: seconds, or -1 on an HDF5 error. */
static double h5w_once(const char *name, hsize_t total, hsize_t start, hsize_t count,
                       const double *buf)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), dxpl = H5Pcreate(H5P_DATASET_XFER);
    hid_t file, space, mem, dset;
    double t0;
    int bad = 0, any;

    H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, MPI_INFO_NULL);
    H5Pset_all_coll_metadata_ops(fapl, 1);
    H5Pset_coll_metadata_write(fapl, 1);
    H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
    MPI_Barrier(MPI_COMM_WORLD);
    t0 = MPI_Wtime();
    file = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (file < 0) {
        bad = 1;
    } else {
        space = H5Screate_simple(1, &total, NULL);
        mem = H5Screate_simple(1, &count, NULL);
        dset = H5Dcreate2(file, "data", H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT,
                          H5P_DEFAULT);
        H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, NULL, &count, NULL);
        bad |= dset < 0 || H5Dwrite(dset, H5T_NATIVE_DOUBLE, mem, space, dxpl, buf) < 0;
        H5Dclose(dset);
        H5Sclose(mem);
        H5Sclose(space);
        bad |= H5Fclose(file) < 0;
    }
    t0 = MPI_Wtime() - t0;
    H5Pclose(dxpl);
    H5Pclose(fapl);
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &t0, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return any ? -1 : t0;
}

int main(int argc, char **argv)
{
    int rank, size, reps, rc = 0;
    long long bytes;
    hsize_t total, start, count;
    double *buf;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    bytes = argc >= 3 ? h5w_size(argv[2]) : -1;
    reps = argc >= 4 ? atoi(argv[3]) : 1;
    if (argc < 3 || bytes < 8 * size || reps < 1) {
        if (rank == 0)
            fprintf(stderr, "usage: h5write NAME SIZE[K|M|G] [REPS]\n");
        MPI_Finalize();
        return 2;
    }
    total = (hsize_t)bytes / 8;
    start = total * rank / size;
    count = total * (rank + 1) / size - start;
    buf = malloc(count * sizeof(double) + 1);
    for (hsize_t i = 0; i < count; i++)
        buf[i] = (double)(start + i);
    for (int r = 0; r < reps && !rc; r++) {
        double s = h5w_once(argv[1], total, start, count, buf);

        rc = s < 0;
        if (rank == 0 && !rc)
            printf("h5write: %llu bytes %.3f s %.3f GB/s\n", (unsigned long long)total * 8, s,
                   total * 8 / s / 1e9);
    }
    if (rank == 0 && rc)
        fprintf(stderr, "h5write: %s: HDF5 call failed\n", argv[1]);
    free(buf);
    MPI_Finalize();
    return rc;
}
