/*
 * mpiio_rows_data.c - check_mpiio rows about data access: explicit offsets, views,
 * individual and shared pointers, ordered, split collective, nonblocking, atomic mode.
 * Every row checks the bytes it reads back against what it computed itself.
 */
#include "mpiio_rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RW_TMP (MPI_MODE_CREATE | MPI_MODE_RDWR | MPI_MODE_DELETE_ON_CLOSE)
enum { N = 1000 };

static MPI_File ropen_info(struct rctx *c, MPI_Info info)
{
    char name[700];
    MPI_File fh = MPI_FILE_NULL;
    int rc;

    rname(c->row, NULL, name, sizeof(name));
    rc = MPI_File_open(MPI_COMM_WORLD, name, RW_TMP, info, &fh);
    rcheck(c, rc == MPI_SUCCESS, "open");
    return fh;
}

static MPI_File ropen(struct rctx *c)
{
    return ropen_info(c, MPI_INFO_NULL);
}

static int count_of(MPI_Status *st, MPI_Datatype t)
{
    int n = -1;

    MPI_Get_count(st, t, &n);
    return n;
}

static void fill_ints(int *a, int n, int tag)
{
    for (int i = 0; i < n; i++)
        a[i] = tag * 100000 + i;
}

void row_explicit(struct rctx *c)
{
    MPI_File fh = ropen(c);
    int out[N], in[N], peer = (rk + 1) % nr, rc;
    MPI_Status st;

    fill_ints(out, N, rk);
    rc = MPI_File_write_at(fh, (MPI_Offset)rk * sizeof(out), out, N, MPI_INT, &st);
    rout(c, "write=%s,%d", cls(rc), count_of(&st, MPI_INT));
    rsync(fh);
    rc = MPI_File_read_at(fh, (MPI_Offset)peer * sizeof(in), in, N, MPI_INT, &st);
    fill_ints(out, N, peer);
    rout(c, " read=%s,%d,%d", cls(rc), count_of(&st, MPI_INT), !memcmp(in, out, sizeof(in)));
    /* Past the end: half of it is there. */
    rc = MPI_File_read_at(fh, (MPI_Offset)nr * sizeof(in) - sizeof(in) / 2, in, N, MPI_INT, &st);
    rout(c, " eof=%s,%d", cls(rc), count_of(&st, MPI_INT));
    MPI_File_close(&fh);
}

/* Rank r owns every nr-th block of B ints: a resized vector filetype. */
enum { B = 7, K = 50 };
static void strided_view(MPI_File fh, MPI_Datatype *ft)
{
    MPI_Datatype v;

    MPI_Type_vector(1, B, B * nr, MPI_INT, &v);
    MPI_Type_create_resized(v, 0, (MPI_Aint)(B * nr * sizeof(int)), ft);
    MPI_Type_commit(ft);
    MPI_Type_free(&v);
    MPI_File_set_view(fh, (MPI_Offset)rk * B * sizeof(int), MPI_INT, *ft, "native", MPI_INFO_NULL);
}

void row_explicit_all(struct rctx *c)
{
    MPI_File fh = ropen(c);
    int out[B * K], in[B * K], *all = malloc(sizeof(int) * B * K * (size_t)nr), ok = 1, rc;
    MPI_Datatype ft, mem;
    MPI_Count el = -1;
    MPI_Status st;

    fill_ints(out, B * K, rk);
    strided_view(fh, &ft);
    rc = MPI_File_write_at_all(fh, 0, out, B * K, MPI_INT, &st);
    rout(c, "write=%s,%d", cls(rc), count_of(&st, MPI_INT));
    memset(in, 0, sizeof(in));
    rc = MPI_File_read_at_all(fh, 0, in, B * K, MPI_INT, &st);
    MPI_Get_elements_x(&st, MPI_INT, &el);
    rout(c, " read=%s,%d,%lld,%d", cls(rc), count_of(&st, MPI_INT), (long long)el,
         !memcmp(in, out, sizeof(in)));
    /* The whole file through the byte view: block k of rank r at (k * nr + r) * B. */
    MPI_File_set_view(fh, 0, MPI_BYTE, MPI_BYTE, "native", MPI_INFO_NULL);
    MPI_File_read_at_all(fh, 0, all, B * K * nr * (int)sizeof(int), MPI_BYTE, &st);
    for (int k = 0; k < K; k++)
        for (int r = 0; r < nr; r++)
            for (int i = 0; i < B; i++)
                ok &= all[(k * nr + r) * B + i] == r * 100000 + k * B + i;
    /* A non-contiguous memory type: every other int of a 2x buffer. */
    MPI_Type_vector(B * K, 1, 2, MPI_INT, &mem);
    MPI_Type_commit(&mem);
    {
        int *two = calloc(2 * B * K, sizeof(int));

        MPI_File_set_view(fh, (MPI_Offset)rk * B * sizeof(int), MPI_INT, ft, "native",
                          MPI_INFO_NULL);
        rc = MPI_File_read_at_all(fh, 0, two, 1, mem, &st);
        for (int i = 0; i < B * K; i++)
            ok &= two[2 * i] == out[i] && two[2 * i + 1] == 0;
        rout(c, " memtype=%s,%d", cls(rc), count_of(&st, mem));
        free(two);
    }
    rout(c, " layout=%d", ok);
    MPI_Type_free(&mem);
    MPI_Type_free(&ft);
    free(all);
    MPI_File_close(&fh);
}

/* MPI_BOTTOM with a struct of absolute addresses (MPI_Get_address), the C and Fortran
 * idiom for scattered variables, collective and independent, write and read. */
void row_bottom(struct rctx *c)
{
    MPI_File fh = ropen(c);
    int a[3] = { rk, rk + 10, rk + 20 }, ra[3] = { -1, -1, -1 }, blen[2] = { 3, 1 }, rc;
    double d = rk + 0.5, rd = -1;
    MPI_Aint disp[2];
    MPI_Datatype types[2] = { MPI_INT, MPI_DOUBLE }, t;
    MPI_Offset off = (MPI_Offset)rk * 64;
    MPI_Status st;

    MPI_Get_address(a, &disp[0]);
    MPI_Get_address(&d, &disp[1]);
    MPI_Type_create_struct(2, blen, disp, types, &t);
    MPI_Type_commit(&t);
    rc = MPI_File_write_at_all(fh, off, MPI_BOTTOM, 1, t, &st);
    rout(c, "write_all=%s,%d", cls(rc), count_of(&st, t));
    rc = MPI_File_write_at(fh, off + 32, MPI_BOTTOM, 1, t, &st);
    rout(c, " write=%s,%d", cls(rc), count_of(&st, t));
    rsync(fh);
    MPI_Get_address(ra, &disp[0]);
    MPI_Get_address(&rd, &disp[1]);
    MPI_Type_free(&t);
    MPI_Type_create_struct(2, blen, disp, types, &t);
    MPI_Type_commit(&t);
    rc = MPI_File_read_at_all(fh, off, MPI_BOTTOM, 1, t, &st);
    rout(c, " read_all=%s,%d,%d", cls(rc), count_of(&st, t),
         !memcmp(ra, a, sizeof(a)) && rd == d);
    ra[0] = rd = -1;
    rc = MPI_File_read_at(fh, off + 32, MPI_BOTTOM, 1, t, &st);
    rout(c, " read=%s,%d,%d", cls(rc), count_of(&st, t), !memcmp(ra, a, sizeof(a)) && rd == d);
    MPI_Type_free(&t);
    MPI_File_close(&fh);
}

void row_view(struct rctx *c)
{
    MPI_File fh = ropen(c);
    MPI_Datatype ft, et, gft, st;
    MPI_Offset disp = -1;
    MPI_Count sz1 = 0, sz2 = 0;
    MPI_Aint lb1, ex1, lb2, ex2, ext = -1;
    char rep[MPI_MAX_DATAREP_STRING] = "";
    int rc, bl[2] = { 1, 1 };
    MPI_Aint dp[2] = { 0, 8 };
    MPI_Datatype ty[2] = { MPI_INT, MPI_DOUBLE };

    MPI_Type_vector(3, 2, 5, MPI_INT, &ft);
    MPI_Type_commit(&ft);
    rc = MPI_File_set_view(fh, 16, MPI_INT, ft, "native", MPI_INFO_NULL);
    rout(c, "set=%s", cls(rc));
    rc = MPI_File_get_view(fh, &disp, &et, &gft, rep);
    MPI_Type_size_x(gft, &sz1);
    MPI_Type_size_x(ft, &sz2);
    MPI_Type_get_extent(gft, &lb1, &ex1);
    MPI_Type_get_extent(ft, &lb2, &ex2);
    rout(c, " get=%s disp=%lld etype=%d size=%d extent=%d rep=%s", cls(rc), (long long)disp,
         et == MPI_INT, sz1 == sz2, lb1 == lb2 && ex1 == ex2, rep);
    if (gft != MPI_DATATYPE_NULL)
        MPI_Type_free(&gft);
    MPI_Type_create_struct(2, bl, dp, ty, &st);
    MPI_Type_commit(&st);
    rc = MPI_File_get_type_extent(fh, st, &ext);
    rout(c, " type_extent=%s,%ld", cls(rc), (long)ext);
    MPI_Type_free(&st);
    MPI_Type_free(&ft);
    MPI_File_close(&fh);
}

void row_byte_offset(struct rctx *c)
{
    MPI_File fh = ropen(c);
    MPI_Datatype v, ft;
    MPI_Offset b;

    MPI_Type_vector(2, 1, 3, MPI_INT, &v);
    MPI_Type_create_resized(v, 0, 12 * sizeof(int), &ft);
    MPI_Type_commit(&ft);
    MPI_File_set_view(fh, 8, MPI_INT, ft, "native", MPI_INFO_NULL);
    for (int i = 0; i < 6; i++) {
        int rc = MPI_File_get_byte_offset(fh, i, &b);

        rout(c, "%s%s,%lld", i ? " " : "", cls(rc), (long long)b);
    }
    MPI_Type_free(&v);
    MPI_Type_free(&ft);
    MPI_File_close(&fh);
}

/*
 * Views that hold no data (a filetype of count 0, as a rank whose darray or subarray
 * piece is empty has). First rank 0's view is empty and each other rank's holds E ints
 * of every (nr - 1) * E: the others' data round-trips through write_all/read_at_all
 * with rank 0 taking part, and rank 0's positions are those of a view of no bytes (the
 * end of the file is etype 0, etype 1 lies at disp). Then every rank's view is empty (a
 * shared pointer needs one view on every rank): seek_shared to the end gives 0, and
 * data through the view moves nothing and succeeds. Through cnio, the seeks crashed
 * (SIGSEGV) and the rest returned MPI_ERR_ARG. Open MPI's seeks to the end ignore the
 * view's holes, its read_all through an empty view counts what it did not read, and on
 * 4 ranks its write_at_all of data through one crashes (ompi_io_ompio_generate_current_
 * file_view): those are checked on cnio alone, not printed.
 */
enum { E = 64 };

void row_empty_view(struct rctx *c)
{
    MPI_File fh = ropen(c);
    MPI_Datatype ft, none, blk;
    MPI_Offset pos = -1, sh = -1, b = -1, size = -1;
    MPI_Status st;
    int out[2 * E], in[2 * E], n = rk ? 2 * E : 0, rc;

    MPI_Type_contiguous(0, MPI_INT, &none);
    MPI_Type_commit(&none);
    if (rk == 0) {
        MPI_Type_dup(none, &ft);
    } else {
        int len = E, disp = (rk - 1) * E;

        MPI_Type_indexed(1, &len, &disp, MPI_INT, &blk);
        MPI_Type_create_resized(blk, 0, (MPI_Aint)(nr - 1) * E * (MPI_Aint)sizeof(int), &ft);
        MPI_Type_free(&blk);
    }
    MPI_Type_commit(&ft);
    rc = MPI_File_set_view(fh, 0, MPI_INT, ft, "native", MPI_INFO_NULL);
    rout(c, "set=%s", cls(rc));
    fill_ints(out, n, rk);
    memset(in, 0, sizeof(in));
    rc = MPI_File_write_all(fh, out, n, MPI_INT, &st);
    MPI_File_get_position(fh, &pos);
    rout(c, " write_all=%s,%d pos=%lld", cls(rc), count_of(&st, MPI_INT), (long long)pos);
    rsync(fh);
    rc = MPI_File_read_at_all(fh, 0, in, n, MPI_INT, &st);
    rout(c, " read_all=%s,%d,%d", cls(rc), count_of(&st, MPI_INT),
         !memcmp(in, out, (size_t)n * sizeof(int)));
    rc = MPI_File_seek(fh, 0, MPI_SEEK_END);
    MPI_File_get_position(fh, &pos);
    rout(c, " seek_end=%s", cls(rc));
    if (rk == 0)
        rout(c, ",%lld", (long long)pos);
    else
        rcheck(c, !is_cnio || pos == 2 * E, "seek to the end: past the rank's 2 * E ints");
    rc = MPI_File_get_byte_offset(fh, 1, &b);
    rout(c, " byte_offset=%s,%lld", cls(rc), (long long)b);

    rc = MPI_File_set_view(fh, 0, MPI_INT, none, "native", MPI_INFO_NULL);
    rout(c, " all_empty=%s", cls(rc));
    rc = MPI_File_seek_shared(fh, 0, MPI_SEEK_END);
    MPI_File_get_position_shared(fh, &sh);
    rout(c, " seek_shared_end=%s", cls(rc));
    rcheck(c, !is_cnio || sh == 0, "seek_shared to the end of an empty view: not 0");
    rc = MPI_File_read_at(fh, 0, in, 1, MPI_INT, &st);
    rout(c, " read_at=%s,%d", cls(rc), count_of(&st, MPI_INT));
    if (is_cnio) {
        rc = MPI_File_write_at_all(fh, 0, out, 1, MPI_INT, &st);
        rcheck(c, rc == MPI_SUCCESS && count_of(&st, MPI_INT) == 0,
               "write_at_all through an empty view: an error or a count not 0");
        rc = MPI_File_read_all(fh, in, 1, MPI_INT, &st);
        MPI_File_get_position(fh, &pos);
        rcheck(c, rc == MPI_SUCCESS && count_of(&st, MPI_INT) == 0 && pos == 0,
               "read_all through an empty view: an error, or a count or a position not 0");
    }
    rsync(fh);
    MPI_File_get_size(fh, &size);
    rout(c, " size=%lld", (long long)size);
    MPI_Type_free(&ft);
    MPI_Type_free(&none);
    MPI_File_close(&fh);
}

void row_individual(struct rctx *c)
{
    MPI_File fh = ropen(c);
    int out[40], in[40], rc;
    MPI_Offset p[5];
    MPI_Status st;

    fill_ints(out, 40, rk);
    MPI_File_set_view(fh, (MPI_Offset)rk * 4000, MPI_INT, MPI_INT, "native", MPI_INFO_NULL);
    rc = MPI_File_write(fh, out, 10, MPI_INT, &st);
    rout(c, "write=%s,%d", cls(rc), count_of(&st, MPI_INT));
    rc = MPI_File_write_all(fh, out + 10, 10, MPI_INT, &st);
    MPI_File_get_position(fh, &p[0]);
    rout(c, " write_all=%s,%d pos=%lld", cls(rc), count_of(&st, MPI_INT), (long long)p[0]);
    MPI_File_seek(fh, 5, MPI_SEEK_SET);
    MPI_File_get_position(fh, &p[1]);
    MPI_File_seek(fh, -2, MPI_SEEK_CUR);
    MPI_File_get_position(fh, &p[2]);
    rc = MPI_File_seek(fh, -100, MPI_SEEK_CUR);
    rout(c, " seek=%lld,%lld negative_fails=%d", (long long)p[1], (long long)p[2],
         rc != MPI_SUCCESS);
    rsync(fh);
    MPI_File_seek(fh, 0, MPI_SEEK_END);
    MPI_File_get_position(fh, &p[3]);
    rout(c, " end=%lld", (long long)p[3]);
    MPI_File_seek(fh, 0, MPI_SEEK_SET);
    rc = MPI_File_read(fh, in, 10, MPI_INT, &st);
    rout(c, " read=%s,%d", cls(rc), count_of(&st, MPI_INT));
    rc = MPI_File_read_all(fh, in + 10, 10, MPI_INT, &st);
    MPI_File_get_position(fh, &p[4]);
    rout(c, " read_all=%s,%d,%d pos=%lld", cls(rc), count_of(&st, MPI_INT),
         !memcmp(in, out, 20 * sizeof(int)), (long long)p[4]);
    MPI_File_close(&fh);
}

/* Every rank's record appears once, wherever the shared pointer put it. */
static int records_once(const int *all, int nrec, int len)
{
    int *seen = calloc((size_t)nr, sizeof(int)), ok = 1;

    for (int i = 0; i < nrec; i++) {
        int r = all[i * len] / 100000;

        ok &= r >= 0 && r < nr && all[i * len + len - 1] == r * 100000 + len - 1;
        if (r >= 0 && r < nr)
            seen[r]++;
    }
    for (int r = 0; r < nr; r++)
        ok &= seen[r] == 1;
    free(seen);
    return ok;
}

void row_shared(struct rctx *c)
{
    MPI_File fh = ropen(c);
    int out[8], in[8], *all = malloc(sizeof(int) * 8 * (size_t)nr), rc;
    MPI_Offset p = -1;
    MPI_Status st;

    fill_ints(out, 8, rk);
    MPI_File_set_view(fh, 0, MPI_INT, MPI_INT, "native", MPI_INFO_NULL);
    rc = MPI_File_write_shared(fh, out, 8, MPI_INT, &st);
    rout(c, "write=%s,%d", cls(rc), count_of(&st, MPI_INT));
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_File_get_position_shared(fh, &p);
    rout(c, " pos=%lld", (long long)p);
    rsync(fh);
    rc = MPI_File_seek_shared(fh, 0, MPI_SEEK_SET);
    rout(c, " seek=%s", cls(rc));
    rc = MPI_File_read_shared(fh, in, 8, MPI_INT, &st);
    MPI_Allgather(in, 8, MPI_INT, all, 8, MPI_INT, MPI_COMM_WORLD);
    rout(c, " read=%s,%d once=%d", cls(rc), count_of(&st, MPI_INT), records_once(all, nr, 8));
    MPI_File_seek_shared(fh, -8, MPI_SEEK_END);
    MPI_File_get_position_shared(fh, &p);
    rout(c, " end=%lld", (long long)p);
    free(all);
    MPI_File_close(&fh);
}

void row_ordered(struct rctx *c)
{
    MPI_File fh = ropen(c);
    int out[16], in[16], rc, ok = 1;
    MPI_Offset p = -1;
    MPI_Status st;

    fill_ints(out, rk + 1, rk);
    MPI_File_set_view(fh, 0, MPI_INT, MPI_INT, "native", MPI_INFO_NULL);
    rc = MPI_File_write_ordered(fh, out, rk + 1, MPI_INT, &st);
    MPI_File_get_position_shared(fh, &p);
    rout(c, "write=%s,%d pos=%lld", cls(rc), count_of(&st, MPI_INT), (long long)p);
    rsync(fh);
    MPI_File_seek_shared(fh, 0, MPI_SEEK_SET);
    rc = MPI_File_read_ordered(fh, in, rk + 1, MPI_INT, &st);
    ok = !memcmp(in, out, (size_t)(rk + 1) * sizeof(int));
    MPI_File_get_position_shared(fh, &p);
    rout(c, " read=%s,%d,%d pos=%lld", cls(rc), count_of(&st, MPI_INT), ok, (long long)p);
    MPI_File_close(&fh);
}

void row_split(struct rctx *c)
{
    MPI_File fh = ropen(c);
    int out[64], in[64], rc1, rc2;
    MPI_Status st;

    fill_ints(out, 64, rk);
    MPI_File_set_view(fh, (MPI_Offset)rk * 64 * sizeof(int), MPI_INT, MPI_INT, "native",
                      MPI_INFO_NULL);
    rc1 = MPI_File_write_at_all_begin(fh, 0, out, 16, MPI_INT);
    rc2 = MPI_File_write_at_all_end(fh, out, &st);
    rout(c, "wat=%s,%s,%d", cls(rc1), cls(rc2), count_of(&st, MPI_INT));
    rc1 = MPI_File_read_at_all_begin(fh, 0, in, 16, MPI_INT);
    rc2 = MPI_File_read_at_all_end(fh, in, &st);
    rout(c, " rat=%s,%s,%d,%d", cls(rc1), cls(rc2), count_of(&st, MPI_INT),
         !memcmp(in, out, 16 * sizeof(int)));
    MPI_File_seek(fh, 16, MPI_SEEK_SET);
    rc1 = MPI_File_write_all_begin(fh, out + 16, 16, MPI_INT);
    rc2 = MPI_File_write_all_end(fh, out + 16, &st);
    rout(c, " wall=%s,%s,%d", cls(rc1), cls(rc2), count_of(&st, MPI_INT));
    MPI_File_seek(fh, 0, MPI_SEEK_SET);
    rc1 = MPI_File_read_all_begin(fh, in, 32, MPI_INT);
    rc2 = MPI_File_read_all_end(fh, in, &st);
    rout(c, " rall=%s,%s,%d,%d", cls(rc1), cls(rc2), count_of(&st, MPI_INT),
         !memcmp(in, out, 32 * sizeof(int)));
    MPI_File_set_view(fh, 0, MPI_INT, MPI_INT, "native", MPI_INFO_NULL);
    rc1 = MPI_File_write_ordered_begin(fh, out, 4, MPI_INT);
    rc2 = MPI_File_write_ordered_end(fh, out, &st);
    rout(c, " word=%s,%s,%d", cls(rc1), cls(rc2), count_of(&st, MPI_INT));
    MPI_File_seek_shared(fh, 0, MPI_SEEK_SET);
    rc1 = MPI_File_read_ordered_begin(fh, in, 4, MPI_INT);
    rc2 = MPI_File_read_ordered_end(fh, in, &st);
    rout(c, " rord=%s,%s,%d,%d", cls(rc1), cls(rc2), count_of(&st, MPI_INT),
         !memcmp(in, out, 4 * sizeof(int)));
    MPI_File_close(&fh);
}

static int wait_count(MPI_Request *req, int test, int *rc)
{
    MPI_Status st;
    int done = 0;

    if (!test) {
        *rc = MPI_Wait(req, &st);
        return count_of(&st, MPI_INT);
    }
    /* Until done, however long a loaded machine takes (a bound on the number of tests
     * left requests pending into the next sync, where Open MPI's ranks parted ways and
     * hung); past 60 s the row says so and the request is waited for. */
    for (double t0 = MPI_Wtime(); !done && MPI_Wtime() - t0 < 60;)
        *rc = MPI_Test(req, &done, &st);
    if (!done) {
        *rc = MPI_Wait(req, &st);
        return -2;
    }
    return count_of(&st, MPI_INT);
}

void row_nonblocking(struct rctx *c)
{
    MPI_File fh = ropen(c);
    int out[64], in[64], rc = 0, n;
    MPI_Offset mine = (MPI_Offset)rk * 64;
    MPI_Request r;

    fill_ints(out, 64, rk);
    MPI_File_set_view(fh, 0, MPI_INT, MPI_INT, "native", MPI_INFO_NULL);
    MPI_File_iwrite_at(fh, mine, out, 8, MPI_INT, &r);
    n = wait_count(&r, 0, &rc);
    rout(c, "iwrite_at=%s,%d", cls(rc), n);
    {
        MPI_Status st;
        int cancelled = -1;

        MPI_File_write_at(fh, mine, out, 8, MPI_INT, &st);
        MPI_Test_cancelled(&st, &cancelled);
        /* Open MPI's own status here says garbage: checked on cnio only. */
        if (is_cnio)
            rcheck(c, cancelled == 0, "a write's status says cancelled");
    }
    MPI_File_iwrite_at_all(fh, mine + 8, out + 8, 8, MPI_INT, &r);
    n = wait_count(&r, 1, &rc);
    rout(c, " iwrite_at_all=%s,%d", cls(rc), n);
    MPI_File_seek(fh, mine + 16, MPI_SEEK_SET);
    MPI_File_iwrite(fh, out + 16, 8, MPI_INT, &r);
    n = wait_count(&r, 0, &rc);
    rout(c, " iwrite=%s,%d", cls(rc), n);
    MPI_File_iwrite_all(fh, out + 24, 8, MPI_INT, &r);
    n = wait_count(&r, 1, &rc);
    rout(c, " iwrite_all=%s,%d", cls(rc), n);
    rsync(fh);
    MPI_File_iread_at(fh, mine, in, 8, MPI_INT, &r);
    n = wait_count(&r, 1, &rc);
    rout(c, " iread_at=%s,%d", cls(rc), n);
    MPI_File_iread_at_all(fh, mine + 8, in + 8, 8, MPI_INT, &r);
    n = wait_count(&r, 0, &rc);
    rout(c, " iread_at_all=%s,%d", cls(rc), n);
    MPI_File_seek(fh, mine + 16, MPI_SEEK_SET);
    MPI_File_iread(fh, in + 16, 8, MPI_INT, &r);
    n = wait_count(&r, 1, &rc);
    rout(c, " iread=%s,%d", cls(rc), n);
    MPI_File_iread_all(fh, in + 24, 8, MPI_INT, &r);
    n = wait_count(&r, 0, &rc);
    rout(c, " iread_all=%s,%d,%d", cls(rc), n, !memcmp(in, out, 32 * sizeof(int)));
    MPI_File_seek_shared(fh, (MPI_Offset)nr * 64, MPI_SEEK_SET);
    MPI_File_iwrite_shared(fh, out, 8, MPI_INT, &r);
    n = wait_count(&r, 0, &rc);
    rout(c, " iwrite_shared=%s,%d", cls(rc), n);
    rsync(fh);
    MPI_File_seek_shared(fh, (MPI_Offset)nr * 64, MPI_SEEK_SET);
    MPI_File_iread_shared(fh, in, 8, MPI_INT, &r);
    n = wait_count(&r, 1, &rc);
    rout(c, " iread_shared=%s,%d,%d", cls(rc), n, in[0] / 100000 < nr && in[7] % 100000 == 7);
    MPI_File_close(&fh);
}

/* Atomic mode: overlapping writes from every rank land whole, one rank's each. Checked
 * on cnio only: Open MPI's own MPI-IO does not pass this on a local file here. */
void row_atomicity(struct rctx *c)
{
    enum { L = 64 << 10 };
    MPI_File fh;
    MPI_Info info;
    char *out = malloc(L), *in = malloc(L);
    int flag = -1, rc, whole = 1;

    /* Small stripes: one access is many requests to both servers, which interleave
     * with another rank's unless atomic mode serializes them. */
    MPI_Info_create(&info);
    MPI_Info_set(info, "striping_unit", "4096");
    fh = ropen_info(c, info);
    MPI_Info_free(&info);

    MPI_File_get_atomicity(fh, &flag);
    rout(c, "default=%d", flag);
    rc = MPI_File_set_atomicity(fh, 1);
    MPI_File_get_atomicity(fh, &flag);
    rout(c, " set=%s,%d", cls(rc), flag);
    memset(out, 'A' + rk, L);
    for (int it = 0; it < 20; it++) {
        MPI_File_write_at(fh, 0, out, L, MPI_BYTE, MPI_STATUS_IGNORE);
        MPI_File_read_at(fh, 0, in, L, MPI_BYTE, MPI_STATUS_IGNORE);
        for (int i = 1; i < L; i++)
            whole &= in[i] == in[0];
    }
    rc = MPI_File_write_at_all(fh, 0, out, L, MPI_BYTE, MPI_STATUS_IGNORE);
    MPI_File_read_at_all(fh, 0, in, L, MPI_BYTE, MPI_STATUS_IGNORE);
    for (int i = 1; i < L; i++)
        whole &= in[i] == in[0];
    rout(c, " all=%s", cls(rc));
    if (is_cnio)
        rcheck(c, whole, "atomic mode: a read saw parts of two ranks' writes");
    rc = MPI_File_set_atomicity(fh, 0);
    MPI_File_get_atomicity(fh, &flag);
    rout(c, " unset=%s,%d", cls(rc), flag);
    free(out);
    free(in);
    MPI_File_close(&fh);
}
