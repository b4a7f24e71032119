/*
 * hdf5_rw.c - a parallel HDF5 C program for the real-client test (clients.test), built
 * twice: as hdf5_rw, plain HDF5 over its MPI-IO driver (run under `cnio run` for the
 * preload), and with -DHDF5_RW_CNIO as hdf5_rw_cnio, which calls H5Pset_fapl_cnio and
 * is linked with libcnio_hdf5 (no preload).
 *
 *   hdf5_rw [--independent] write|read NAME
 *
 * write: creates NAME with a contiguous int dataset "contig" and a chunked (8 x 250)
 * double dataset "chunked", both NY x NX; each rank writes its block of rows. read:
 * each rank reads its block of rows of both (any rank count) and checks every value.
 * Raw data moves collectively (H5FD_MPIO_COLLECTIVE), or independently with
 * --independent; metadata reads and writes are collective (H5Pset_all_coll_metadata_ops,
 * H5Pset_coll_metadata_write). contig[y][x] = y * 1000 + x, chunked = the same + 0.5.
 * Exit status 0 when every call succeeded and every value matched.
 */
#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef HDF5_RW_CNIO
#include <cnio_hdf5.h>
#endif

#define NY 48
#define NX 1000

struct rw {
    hid_t file, dxpl;
    hsize_t start[2], count[2];
    int bad;
};

static void ok(struct rw *rw, int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "hdf5_rw: %s failed\n", what);
        rw->bad = 1;
    }
}

static hid_t open_file(const char *name, int create)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), file;

#ifdef HDF5_RW_CNIO
    if (H5Pset_fapl_cnio(fapl, MPI_COMM_WORLD, MPI_INFO_NULL) < 0)
        return -1;
#else
    if (H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, MPI_INFO_NULL) < 0)
        return -1;
#endif
    H5Pset_all_coll_metadata_ops(fapl, 1);
    H5Pset_coll_metadata_write(fapl, 1);
    file = create ? H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl)
                  : H5Fopen(name, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    return file;
}

/* Moves this rank's rows of dataset `dset` (type t, buffer buf) in or out. */
static void move(struct rw *rw, const char *dset, hid_t t, void *buf, int write)
{
    hid_t d = H5Dopen2(rw->file, dset, H5P_DEFAULT), fs, ms;

    ok(rw, d >= 0, dset);
    if (d < 0)
        return;
    fs = H5Dget_space(d);
    ms = H5Screate_simple(2, rw->count, NULL);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, rw->start, NULL, rw->count, NULL);
    ok(rw, (write ? H5Dwrite(d, t, ms, fs, rw->dxpl, buf)
                  : H5Dread(d, t, ms, fs, rw->dxpl, buf)) >= 0, write ? "H5Dwrite" : "H5Dread");
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
}

static void create_sets(struct rw *rw)
{
    hsize_t dims[2] = { NY, NX }, chunk[2] = { 8, 250 };
    hid_t space = H5Screate_simple(2, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE), d;

    d = H5Dcreate2(rw->file, "contig", H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT,
                   H5P_DEFAULT);
    ok(rw, d >= 0, "create contig");
    H5Dclose(d);
    H5Pset_chunk(dcpl, 2, chunk);
    d = H5Dcreate2(rw->file, "chunked", H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ok(rw, d >= 0, "create chunked");
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
}

int main(int argc, char **argv)
{
    int rank, size, write, any, independent = argc > 1 && !strcmp(argv[1], "--independent");
    struct rw rw = { 0 };
    int *iv;
    double *dv;
    long wrong = 0;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    argv += independent;
    argc -= independent;
    if (argc != 3 || (strcmp(argv[1], "write") && strcmp(argv[1], "read"))) {
        if (rank == 0)
            fprintf(stderr, "usage: hdf5_rw [--independent] write|read NAME\n");
        MPI_Finalize();
        return 2;
    }
    write = !strcmp(argv[1], "write");
    rw.start[0] = (hsize_t)NY * rank / size;
    rw.count[0] = (hsize_t)NY * (rank + 1) / size - rw.start[0];
    rw.count[1] = NX;
    iv = malloc(sizeof(int) * NY * NX);
    dv = malloc(sizeof(double) * NY * NX);
    for (hsize_t i = 0; i < rw.count[0] * NX; i++) {
        iv[i] = write ? (int)((rw.start[0] + i / NX) * 1000 + i % NX) : -1;
        dv[i] = write ? iv[i] + 0.5 : -1;
    }
    rw.dxpl = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(rw.dxpl, independent ? H5FD_MPIO_INDEPENDENT : H5FD_MPIO_COLLECTIVE);
    rw.file = open_file(argv[2], write);
    ok(&rw, rw.file >= 0, write ? "H5Fcreate" : "H5Fopen");
    if (rw.file >= 0) {
        if (write)
            create_sets(&rw);
        move(&rw, "contig", H5T_NATIVE_INT, iv, write);
        move(&rw, "chunked", H5T_NATIVE_DOUBLE, dv, write);
        ok(&rw, H5Fclose(rw.file) >= 0, "H5Fclose");
    }
    for (hsize_t i = 0; !write && !rw.bad && i < rw.count[0] * NX; i++) {
        int want = (int)((rw.start[0] + i / NX) * 1000 + i % NX);

        wrong += iv[i] != want || dv[i] != want + 0.5;
    }
    if (wrong)
        fprintf(stderr, "hdf5_rw: rank %d: %ld wrong values\n", rank, wrong);
    rw.bad |= wrong != 0;
    H5Pclose(rw.dxpl);
    free(iv);
    free(dv);
    MPI_Allreduce(&rw.bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0 && !any)
        printf("hdf5_rw: %s %s (%s): ok\n", argv[1], argv[2], independent ? "independent" : "collective");
    MPI_Finalize();
    return any != 0;
}
