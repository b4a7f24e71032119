/*
 * pnetcdf_rw.c - a plain PnetCDF program, as a user writes one, for the real-client test
 * (tests/clients/clients.test): `pnetcdf_rw write NAME` creates NAME (NC_CLOBBER) with a
 * 2-D int variable "v" of NY x NX, each rank writing a block of rows with
 * ncmpi_put_vara_int_all, and a global attribute; `pnetcdf_rw read NAME` opens it and
 * checks every value with ncmpi_get_vara_int_all (a different rank count may read).
 * v[y][x] = y * 1000 + x. Exit status 0 when every call succeeded and every value matched.
 */
#include <mpi.h>
#include <pnetcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NY 24
#define NX 1000

static int check(int rc, const char *what)
{
    if (rc != NC_NOERR)
        fprintf(stderr, "pnetcdf_rw: %s: %s\n", what, ncmpi_strerror(rc));
    return rc != NC_NOERR;
}

/* Rows [*y0, *y0 + *ny) of this rank. */
static void rows(int rank, int size, MPI_Offset *y0, MPI_Offset *ny)
{
    *y0 = (MPI_Offset)NY * rank / size;
    *ny = (MPI_Offset)NY * (rank + 1) / size - *y0;
}

static int do_write(const char *name, int rank, int size)
{
    MPI_Offset start[2], count[2];
    int ncid, dims[2], var, bad = 0;
    int *buf = malloc(sizeof(int) * NY * NX);

    rows(rank, size, &start[0], &count[0]);
    start[1] = 0;
    count[1] = NX;
    for (MPI_Offset i = 0; i < count[0] * NX; i++)
        buf[i] = (int)((start[0] + i / NX) * 1000 + i % NX);
    if (check(ncmpi_create(MPI_COMM_WORLD, name, NC_CLOBBER, MPI_INFO_NULL, &ncid), "create"))
        return 1;
    bad |= check(ncmpi_def_dim(ncid, "y", NY, &dims[0]), "def_dim y");
    bad |= check(ncmpi_def_dim(ncid, "x", NX, &dims[1]), "def_dim x");
    bad |= check(ncmpi_def_var(ncid, "v", NC_INT, 2, dims, &var), "def_var");
    bad |= check(ncmpi_put_att_text(ncid, NC_GLOBAL, "title", 10, "cnio test!"), "put_att");
    bad |= check(ncmpi_enddef(ncid), "enddef");
    bad |= check(ncmpi_put_vara_int_all(ncid, var, start, count, buf), "put_vara_all");
    bad |= check(ncmpi_close(ncid), "close");
    free(buf);
    return bad;
}

static int do_read(const char *name, int rank, int size)
{
    MPI_Offset start[2], count[2], len;
    int ncid, var, bad = 0, wrong = 0;
    int *buf = malloc(sizeof(int) * NY * NX);
    char title[16] = "";

    rows(rank, size, &start[0], &count[0]);
    start[1] = 0;
    count[1] = NX;
    if (check(ncmpi_open(MPI_COMM_WORLD, name, NC_NOWRITE, MPI_INFO_NULL, &ncid), "open"))
        return 1;
    bad |= check(ncmpi_inq_varid(ncid, "v", &var), "inq_varid");
    bad |= check(ncmpi_inq_attlen(ncid, NC_GLOBAL, "title", &len), "inq_attlen");
    bad |= check(ncmpi_get_att_text(ncid, NC_GLOBAL, "title", title), "get_att");
    bad |= len != 10 || memcmp(title, "cnio test!", 10);
    bad |= check(ncmpi_get_vara_int_all(ncid, var, start, count, buf), "get_vara_all");
    for (MPI_Offset i = 0; !bad && i < count[0] * NX; i++)
        wrong += buf[i] != (int)((start[0] + i / NX) * 1000 + i % NX);
    if (wrong)
        fprintf(stderr, "pnetcdf_rw: rank %d: %d wrong values\n", rank, wrong);
    bad |= check(ncmpi_close(ncid), "close");
    free(buf);
    return bad || wrong;
}

int main(int argc, char **argv)
{
    int rank, size, bad, any;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc != 3 || (strcmp(argv[1], "write") && strcmp(argv[1], "read"))) {
        if (rank == 0)
            fprintf(stderr, "usage: pnetcdf_rw write|read NAME\n");
        MPI_Finalize();
        return 2;
    }
    bad = !strcmp(argv[1], "write") ? do_write(argv[2], rank, size) : do_read(argv[2], rank, size);
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0 && !any)
        printf("pnetcdf_rw: %s %s: ok\n", argv[1], argv[2]);
    MPI_Finalize();
    return any != 0;
}
