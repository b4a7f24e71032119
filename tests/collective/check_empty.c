/*
 * check_empty.c - views that leave a rank with no data, under mpirun -n 3. Each case
 * writes with write_at_all through cnio (to real servers) and through Open MPI's own
 * MPI-IO (a local file in /tmp), reads back with read_at_all through both, and compares:
 * the object's bytes with the local file's, and each rank's data with what it wrote.
 */
#include "cnio.h"
#include "fixture.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct fx fx;
static int rank, nranks;
static char hosts[512], refdir[256];

/* A case: this rank's filetype over etype (committed by the caller). */
struct empty_case {
    const char *name;
    MPI_Datatype (*etype)(void);
    MPI_Datatype (*filetype)(int r);
};

static MPI_Datatype et_double(void) { return MPI_DOUBLE; }
static MPI_Datatype et_int(void) { return MPI_INT; }

/* The darray of issue 9: 5x5 doubles, cyclic(3) over 3x1 processes; rank 2 owns none. */
static MPI_Datatype ft_darray_cyclic(int r)
{
    int gs[2] = { 5, 5 }, dist[2] = { MPI_DISTRIBUTE_CYCLIC, MPI_DISTRIBUTE_CYCLIC };
    int darg[2] = { 3, 3 }, ps[2] = { 3, 1 };
    MPI_Datatype t;

    MPI_Type_create_darray(3, r, 2, gs, dist, darg, ps, MPI_ORDER_C, MPI_DOUBLE, &t);
    return t;
}

/* Block(2) of 4 rows of 7 ints over 3 processes, Fortran order: rank 2 owns none. */
static MPI_Datatype ft_darray_block(int r)
{
    int gs[2] = { 7, 4 }, dist[2] = { MPI_DISTRIBUTE_NONE, MPI_DISTRIBUTE_BLOCK };
    int darg[2] = { MPI_DISTRIBUTE_DFLT_DARG, 2 }, ps[2] = { 1, 3 };
    MPI_Datatype t;

    MPI_Type_create_darray(3, r, 2, gs, dist, darg, ps, MPI_ORDER_FORTRAN, MPI_INT, &t);
    return t;
}

/* 100 ints at rank * 100 of every 100 * ranks, except the last rank: contiguous(0). */
static MPI_Datatype ft_contig_zero(int r)
{
    int len = 100, disp = r * 100;
    MPI_Datatype ix, t;

    if (r == nranks - 1) {
        MPI_Type_contiguous(0, MPI_INT, &t);
        return t;
    }
    MPI_Type_indexed(1, &len, &disp, MPI_INT, &ix);
    MPI_Type_create_resized(ix, 0, (MPI_Aint)(nranks * 100 * sizeof(int)), &t);
    MPI_Type_free(&ix);
    return t;
}

/* 8 blocks of 3 ints, the ranks' blocks interleaved; rank 1: a vector of count 0. */
static MPI_Datatype ft_vector_zero(int r)
{
    MPI_Aint disp = (MPI_Aint)(r * 3 * sizeof(int));
    int one = 1;
    MPI_Datatype v, t;

    MPI_Type_vector(r == 1 ? 0 : 8, 3, 3 * nranks, MPI_INT, &v);
    if (r == 1)
        return v;
    MPI_Type_create_hindexed(1, &one, &disp, v, &t);
    MPI_Type_free(&v);
    return t;
}

/* A 2-D subarray per rank of a 6x6 int array: rows [2r, 2r+2) for ranks 0, 1; the last
 * rank's piece is an empty hindexed (no blocks). */
static MPI_Datatype ft_subarray_zero(int r)
{
    int sizes[2] = { 6, 6 }, sub[2] = { 2, 6 }, start[2] = { 2 * r, 0 };
    MPI_Datatype t;

    if (r == nranks - 1) {
        MPI_Type_create_hindexed(0, NULL, NULL, MPI_INT, &t);
        return t;
    }
    MPI_Type_create_subarray(2, sizes, sub, start, MPI_ORDER_C, MPI_INT, &t);
    return t;
}

static const struct empty_case cases[] = {
    { "darray-cyclic", et_double, ft_darray_cyclic },
    { "darray-block", et_int, ft_darray_block },
    { "contig-zero", et_int, ft_contig_zero },
    { "vector-zero", et_int, ft_vector_zero },
    { "subarray-zero", et_int, ft_subarray_zero },
};

/* Writes and reads the view through Open MPI's MPI-IO on path; fills back. */
static void ompi_io(const char *path, MPI_Datatype et, MPI_Datatype ft, const char *data,
                    char *back, int count)
{
    MPI_File f;
    MPI_Status st;

    ck_assert_int_eq(MPI_File_open(MPI_COMM_WORLD, path, MPI_MODE_CREATE | MPI_MODE_RDWR,
                                   MPI_INFO_NULL, &f), MPI_SUCCESS);
    ck_assert_int_eq(MPI_File_set_view(f, 0, et, ft, "native", MPI_INFO_NULL), MPI_SUCCESS);
    ck_assert_int_eq(MPI_File_write_at_all(f, 0, data, count, et, &st), MPI_SUCCESS);
    ck_assert_int_eq(MPI_File_read_at_all(f, 0, back, count, et, &st), MPI_SUCCESS);
    ck_assert_int_eq(MPI_File_close(&f), MPI_SUCCESS);
}

/* The same through cnio on uri. */
static void cnio_io(const char *uri, MPI_Datatype et, MPI_Datatype ft, const char *data,
                    char *back, int count)
{
    cnio_file_t *fh;
    MPI_Status st;
    int rc, cnt = -1;

    rc = cnio_file_open(MPI_COMM_WORLD, uri, MPI_MODE_CREATE | MPI_MODE_RDWR, MPI_INFO_NULL,
                        &fh);
    ck_assert_msg(rc == 0, "open: %s", cnio_strerror(rc));
    rc = cnio_file_set_view(fh, 0, et, ft, "native", MPI_INFO_NULL);
    ck_assert_msg(rc == 0, "set_view: %s", cnio_strerror(rc));
    rc = cnio_file_write_at_all(fh, 0, data, count, et, &st);
    ck_assert_msg(rc == 0, "write_at_all: %s", cnio_strerror(rc));
    MPI_Get_count(&st, et, &cnt);
    ck_assert_int_eq(cnt, count);
    rc = cnio_file_read_at_all(fh, 0, back, count, et, &st);
    ck_assert_msg(rc == 0, "read_at_all: %s", cnio_strerror(rc));
    ck_assert_int_eq(cnio_file_close(&fh), 0);
}

/*
 * Which of the first len file bytes some rank's view covers (one filetype instance each),
 * worked out by MPI itself: each rank unpacks ones through its filetype, and the masks
 * are OR-ed. Open MPI's MPI-IO writes whatever its aggregation buffer held into the holes
 * between the ranks' data (seen: bytes of a pointer); only covered bytes are compared.
 */
static unsigned char *coverage(MPI_Datatype ft, MPI_Offset len)
{
    unsigned char *mine = calloc(1, (size_t)len + 1), *all = calloc(1, (size_t)len + 1);
    int size, pos = 0;
    MPI_Aint lb, ext;
    char *ones;

    MPI_Type_size(ft, &size);
    MPI_Type_get_true_extent(ft, &lb, &ext);
    ones = malloc((size_t)size + 1);
    memset(ones, 1, (size_t)size + 1);
    if (size > 0) {
        ck_assert_int_le(lb + ext, len);
        MPI_Unpack(ones, size, &pos, mine, 1, ft, MPI_COMM_SELF);
    }
    MPI_Allreduce(mine, all, (int)len, MPI_UNSIGNED_CHAR, MPI_BOR, MPI_COMM_WORLD);
    free(ones);
    free(mine);
    return all;
}

/* The object's bytes equal the local file's where a view covers them, and are zero in
 * the holes (a new object). */
static void compare_files(const char *uri, const char *path, MPI_Datatype ft)
{
    cnio_file_t *fh;
    MPI_Offset size = -1;
    unsigned char *cover;
    int ok = 1;

    ck_assert_int_eq(cnio_file_open(MPI_COMM_WORLD, uri, MPI_MODE_RDONLY, MPI_INFO_NULL, &fh),
                     0);
    ck_assert_int_eq(cnio_file_get_size(fh, &size), 0);
    cover = coverage(ft, size);
    if (rank == 0) {
        FILE *f = fopen(path, "rb");
        char *want = calloc(1, (size_t)size + 1), *got = calloc(1, (size_t)size + 1);
        MPI_Status st;

        ck_assert_ptr_nonnull(f);
        fseek(f, 0, SEEK_END);
        ok = ftell(f) == size;
        rewind(f);
        ok = ok && fread(want, 1, (size_t)size, f) == (size_t)size;
        fclose(f);
        ok = ok && cnio_file_read_at(fh, 0, got, (int)size, MPI_BYTE, &st) == 0;
        for (MPI_Offset k = 0; ok && k < size; k++)
            ok = got[k] == (cover[k] ? want[k] : 0);
        free(want);
        free(got);
    }
    free(cover);
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    ck_assert_int_eq(cnio_file_close(&fh), 0);
    ck_assert_msg(ok, "object differs from Open MPI's file");
}

START_TEST(test_empty_views)
{
    const struct empty_case *c = &cases[_i];
    MPI_Datatype et = c->etype(), ft = c->filetype(rank);
    char uri[768], path[512];
    int size, esize, count, empty, any_empty;
    char *data, *back_c, *back_m;

    MPI_Type_commit(&ft);
    MPI_Type_size(ft, &size);
    MPI_Type_size(et, &esize);
    count = size / esize;
    empty = size == 0;
    MPI_Allreduce(&empty, &any_empty, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    ck_assert_msg(any_empty, "%s: no rank is empty: the case tests nothing", c->name);
    data = malloc((size_t)size + 1);
    back_c = calloc(1, (size_t)size + 1);
    back_m = calloc(1, (size_t)size + 1);
    fx_fill(data, (size_t)size, (uint64_t)rank * 7919 + (uint64_t)_i + 1);
    snprintf(uri, sizeof(uri), "cnio://%s/empty/%s?stripe_unit=64", hosts, c->name);
    snprintf(path, sizeof(path), "%s/%s", refdir, c->name);

    ompi_io(path, et, ft, data, back_m, count);
    cnio_io(uri, et, ft, data, back_c, count);
    ck_assert_msg(memcmp(data, back_m, (size_t)size) == 0, "%s: Open MPI read back", c->name);
    ck_assert_msg(memcmp(data, back_c, (size_t)size) == 0, "%s: cnio read back", c->name);
    MPI_Barrier(MPI_COMM_WORLD);
    compare_files(uri, path, ft);
    if (rank == 0)
        ck_assert_int_eq(cnio_file_delete(uri, MPI_INFO_NULL), 0);
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Type_free(&ft);
    free(data);
    free(back_c);
    free(back_m);
}
END_TEST

/* Data through a view that holds none moves nothing and succeeds (a count of 0), the
 * other ranks' collective going on beside it, as Open MPI's MPI-IO does; it was refused
 * (-CNIO_ERR_INVAL) on every rank. */
START_TEST(test_data_through_empty_view)
{
    MPI_Datatype ft = ft_darray_cyclic(rank);
    double d[16] = { 0 };
    char uri[768];
    cnio_file_t *fh;
    MPI_Status st;
    int rc, cnt = -1;

    MPI_Type_commit(&ft);
    snprintf(uri, sizeof(uri), "cnio://%s/empty/too-much", hosts);
    ck_assert_int_eq(cnio_file_open(MPI_COMM_WORLD, uri, MPI_MODE_CREATE | MPI_MODE_RDWR,
                                    MPI_INFO_NULL, &fh), 0);
    ck_assert_int_eq(cnio_file_set_view(fh, 0, MPI_DOUBLE, ft, "native", MPI_INFO_NULL), 0);
    rc = cnio_file_write_at_all(fh, 0, d, rank == 2 ? 1 : 0, MPI_DOUBLE, &st);
    ck_assert_msg(rc == 0, "write_at_all: %s", cnio_strerror(rc));
    MPI_Get_count(&st, MPI_DOUBLE, &cnt);
    ck_assert_int_eq(cnt, 0);
    ck_assert_int_eq(cnio_file_close(&fh), 0);
    if (rank == 0)
        cnio_file_delete(uri, MPI_INFO_NULL);
    MPI_Type_free(&ft);
}
END_TEST

/* cb_nodes=0 in an MPI_Info is ignored, as ROMIO ignores it (it was refused, which
 * failed an unmodified program's open): the number used is the default, reported (2
 * servers, 3 ranks: 2), never 0. A cnio_* hint's bad value is still refused. */
START_TEST(test_cb_nodes_zero)
{
    char uri[768], val[MPI_MAX_INFO_VAL + 1];
    MPI_Info info, used;
    cnio_file_t *fh;
    int flag = 0;

    snprintf(uri, sizeof(uri), "cnio://%s/empty/cb0", hosts);
    MPI_Info_create(&info);
    MPI_Info_set(info, "cb_nodes", "0");
    ck_assert_int_eq(cnio_file_open(MPI_COMM_WORLD, uri, MPI_MODE_CREATE | MPI_MODE_RDWR, info,
                                    &fh), 0);
    MPI_Info_free(&info);
    ck_assert_int_eq(cnio_file_get_info(fh, &used), 0);
    MPI_Info_get(used, "cb_nodes", MPI_MAX_INFO_VAL, val, &flag);
    ck_assert(flag);
    ck_assert_str_eq(val, "2");
    MPI_Info_free(&used);
    ck_assert_int_eq(cnio_file_close(&fh), 0);
    MPI_Info_create(&info);
    MPI_Info_set(info, "cnio_lanes", "0");
    ck_assert_int_eq(cnio_file_open(MPI_COMM_WORLD, uri, MPI_MODE_RDWR, info, &fh),
                     -CNIO_ERR_HINT);
    MPI_Info_free(&info);
    /* an MPI_Info key cnio does not know is ignored, as MPI says */
    MPI_Info_create(&info);
    MPI_Info_set(info, "some_other_library_hint", "42");
    ck_assert_int_eq(cnio_file_open(MPI_COMM_WORLD, uri, MPI_MODE_CREATE | MPI_MODE_RDWR, info,
                                    &fh), 0);
    MPI_Info_free(&info);
    ck_assert_int_eq(cnio_file_get_info(fh, &used), 0);
    MPI_Info_get(used, "cb_nodes", MPI_MAX_INFO_VAL, val, &flag);
    ck_assert(flag);
    ck_assert_str_eq(val, "2");
    MPI_Info_free(&used);
    ck_assert_int_eq(cnio_file_close(&fh), 0);
    if (rank == 0)
        cnio_file_delete(uri, MPI_INFO_NULL);
    MPI_Barrier(MPI_COMM_WORLD);
}
END_TEST

static Suite *empty_suite(void)
{
    Suite *s = suite_create("empty_views");
    TCase *tc = tcase_create("mpi");

    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_empty_views, 0, (int)(sizeof(cases) / sizeof(cases[0])));
    tcase_add_test(tc, test_data_through_empty_view);
    tcase_add_test(tc, test_cb_nodes_zero);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    char key[PATH_MAX];
    SRunner *sr;
    int failed, any;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    if (nranks != 3) {
        if (rank == 0)
            fprintf(stderr, "check_empty wants 3 ranks\n");
        MPI_Finalize();
        return 1;
    }
    if (rank == 0) {
        char tmpl[] = "/tmp/cnio-empty-XXXXXX";

        if (fx_start(&fx, 2, NULL) != 0 || !mkdtemp(tmpl))
            MPI_Abort(MPI_COMM_WORLD, 99);
        snprintf(hosts, sizeof(hosts), "%s", fx.hosts);
        snprintf(key, sizeof(key), "%s", fx.key);
        snprintf(refdir, sizeof(refdir), "%s", tmpl);
    }
    MPI_Bcast(hosts, sizeof(hosts), MPI_CHAR, 0, MPI_COMM_WORLD);
    MPI_Bcast(key, sizeof(key), MPI_CHAR, 0, MPI_COMM_WORLD);
    MPI_Bcast(refdir, sizeof(refdir), MPI_CHAR, 0, MPI_COMM_WORLD);
    setenv("CNIO_KEY_FILE", key, 1);

    sr = srunner_create(empty_suite());
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, rank == 0 ? CK_NORMAL : CK_SILENT);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
        char cmd[300];

        fx_stop(&fx);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", refdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", refdir);
    }
    MPI_Finalize();
    return any ? 1 : 0;
}
