/*
 * check_scale.c - connections at cluster scale (doc/scale.md), under mpirun -n 16 against
 * 4 real cnio-servers: on-demand connections (a rank whose access touches one server
 * opens one connection; the eager scheme, kept behind cnio_connect_mode=eager, opens one
 * to every server), the per-server connection budget (cnio_max_conns_per_server=8: no
 * server ever accepts more than 8 connections from the job, and the data round-trip
 * byte for byte through the aggregators chosen), and a server that refuses connections
 * part way through a collective (every rank returns the same error, nothing hangs).
 *
 * The servers' own statistics count connections: started with --log-level debug, a
 * server logs one "connection served by worker" line per connection it accepts.
 */
#include "cnio.h"
#include "fixture.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSRV 4
#define UNIT (64 * 1024)

static int rank, nranks;
static struct fx fx;
static char hosts[512];

/* Rank 0 starts NSRV servers with extra arguments; every rank learns their hosts. */
static void servers_start(const char *const *extra)
{
    char key[PATH_MAX] = "";
    int ok = 1;

    if (rank == 0) {
        ok = fx_start(&fx, NSRV, extra) == 0;
        snprintf(hosts, sizeof(hosts), "%s", ok ? fx.hosts : "");
        snprintf(key, sizeof(key), "%s", ok ? fx.key : "");
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    ck_assert_msg(ok, "servers did not start");
    MPI_Bcast(hosts, sizeof(hosts), MPI_CHAR, 0, MPI_COMM_WORLD);
    MPI_Bcast(key, sizeof(key), MPI_CHAR, 0, MPI_COMM_WORLD);
    setenv("CNIO_KEY_FILE", key, 1);
}

static void servers_stop(void)
{
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0)
        fx_stop(&fx);
}

/* Rank 0: connections server i has accepted so far, from its log. */
static int accepted(int i)
{
    char path[PATH_MAX + 32], line[512];
    FILE *f;
    int n = 0;

    snprintf(path, sizeof(path), "%s/server%d.log", fx.dir, i);
    f = fopen(path, "r");
    ck_assert_msg(f != NULL, "no log %s", path);
    while (fgets(line, sizeof(line), f))
        n += strstr(line, "connection served by worker") != NULL;
    fclose(f);
    return n;
}

static MPI_Info info_of(const char *const *kv)
{
    MPI_Info info;

    MPI_Info_create(&info);
    for (int i = 0; kv && kv[i]; i += 2)
        MPI_Info_set(info, kv[i], kv[i + 1]);
    return info;
}

/* Every rank writes len bytes at off collectively, reads them back, compares: 0 or the
 * first error. */
static int round_trip(cnio_file_t *fh, MPI_Offset off, int len, uint64_t seed)
{
    char *w = malloc((size_t)len), *r = calloc(1, (size_t)len);
    int rc;

    ck_assert(w && r);
    fx_fill(w, (size_t)len, seed);
    rc = cnio_file_write_at_all(fh, off, w, len, MPI_BYTE, MPI_STATUS_IGNORE);
    if (rc == 0)
        rc = cnio_file_read_at_all(fh, off, r, len, MPI_BYTE, MPI_STATUS_IGNORE);
    if (rc == 0)
        ck_assert_msg(memcmp(w, r, (size_t)len) == 0, "rank %d: bytes differ", rank);
    free(w);
    free(r);
    return rc;
}

/* One stripe per rank, on column rank % NSRV: each rank's access touches one server. */
static void one_server_each(const char *mode, int per_server_other)
{
    const char *kv[] = { "striping_unit", "65536", "cnio_connect_mode", mode, NULL };
    int before[NSRV], after[NSRV];
    char uri[700];
    cnio_file_t *fh;
    MPI_Info info = info_of(kv);

    snprintf(uri, sizeof(uri), "cnio://%s/scale/one-%s", hosts, mode);
    for (int i = 0; rank == 0 && i < NSRV; i++)
        before[i] = accepted(i);
    ck_assert_int_eq(cnio_file_open(MPI_COMM_WORLD, uri, MPI_MODE_CREATE | MPI_MODE_RDWR,
                                    info, &fh), 0);
    ck_assert_int_eq(round_trip(fh, (MPI_Offset)rank * UNIT, UNIT, 100 + (uint64_t)rank), 0);
    ck_assert_int_eq(round_trip(fh, (MPI_Offset)rank * UNIT, UNIT, 200 + (uint64_t)rank), 0);
    MPI_Barrier(MPI_COMM_WORLD);
    for (int i = 0; rank == 0 && i < NSRV; i++) {
        int others = 0;

        after[i] = accepted(i);
        for (int r = 1; r < nranks; r++)
            others += per_server_other ? 1 : r % NSRV == i;
        /* rank 0's lane (the proxy), then one per other rank that touches server i */
        ck_assert_msg(after[i] - before[i] == 1 + others,
                      "%s: server %d accepted %d connections, expected %d", mode, i,
                      after[i] - before[i], 1 + others);
    }
    ck_assert_int_eq(cnio_file_close(&fh), 0);
    MPI_Info_free(&info);
}

START_TEST(on_demand_one_connection)
{
    const char *const extra[] = { "--log-level", "debug", NULL };

    servers_start(extra);
    one_server_each("on_demand", 0);
    one_server_each("eager", 1);   /* the old scheme: every rank to every server */
    servers_stop();
}
END_TEST

START_TEST(budget_holds)
{
    const char *const extra[] = { "--log-level", "debug", NULL };
    const char *kv[] = { "striping_unit", "65536", "cnio_lanes", "2",
                         "cnio_max_conns_per_server", "8", NULL };
    int len = 3 * UNIT + 1000, flag;
    char uri[700], val[MPI_MAX_INFO_VAL + 1];
    cnio_file_t *fh;
    MPI_Info info = info_of(kv), used;

    servers_start(extra);
    snprintf(uri, sizeof(uri), "cnio://%s/scale/budget", hosts);
    ck_assert_int_eq(cnio_file_open(MPI_COMM_WORLD, uri, MPI_MODE_CREATE | MPI_MODE_RDWR,
                                    info, &fh), 0);
    ck_assert_int_eq(cnio_file_get_info(fh, &used), 0);
    MPI_Info_get(used, "cnio_route", MPI_MAX_INFO_VAL, val, &flag);
    ck_assert(flag);
    ck_assert_str_eq(val, "aggregate");
    MPI_Info_get(used, "cb_nodes", MPI_MAX_INFO_VAL, val, &flag);
    ck_assert(flag);
    ck_assert_str_eq(val, "12");  /* 4 servers x (8 / 2 lanes - rank 0's) */
    MPI_Info_free(&used);
    /* every rank touches every server; strided pieces too */
    ck_assert_int_eq(round_trip(fh, (MPI_Offset)rank * len, len, 300 + (uint64_t)rank), 0);
    ck_assert_int_eq(round_trip(fh, (MPI_Offset)rank * 5000, 5000, 400 + (uint64_t)rank), 0);
    MPI_Barrier(MPI_COMM_WORLD);
    for (int i = 0; rank == 0 && i < NSRV; i++)
        ck_assert_msg(accepted(i) <= 8, "server %d accepted %d connections", i, accepted(i));
    ck_assert_int_eq(cnio_file_close(&fh), 0);
    /* and the bytes are the ones written, read back by a plain direct open */
    {
        const char *kv2[] = { "cnio_route", "direct", NULL };
        MPI_Info i2 = info_of(kv2);
        char *w = malloc(5000), *r = malloc(5000);

        ck_assert_int_eq(cnio_file_open(MPI_COMM_WORLD, uri, MPI_MODE_RDONLY, i2, &fh), 0);
        fx_fill(w, 5000, 400 + (uint64_t)rank);
        ck_assert_int_eq(cnio_file_read_at_all(fh, (MPI_Offset)rank * 5000, r, 5000, MPI_BYTE,
                                               MPI_STATUS_IGNORE), 0);
        ck_assert(memcmp(w, r, 5000) == 0);
        ck_assert_int_eq(cnio_file_close(&fh), 0);
        free(w);
        free(r);
        MPI_Info_free(&i2);
    }
    MPI_Info_free(&info);
    servers_stop();
}
END_TEST

START_TEST(refused_midway)
{
    /* server 2 takes rank 0's lane and 3 more, then refuses */
    const char *const extra[] = { "--max-conns", "4", NULL };
    const char *kv[] = { "striping_unit", "65536", "cnio_connect_window", "1",
                         "romio_cb_write", "disable", NULL };
    int len = NSRV * UNIT, rc, *all;
    char uri[700], *buf = malloc((size_t)len);
    cnio_file_t *fh;
    MPI_Info info = info_of(kv);

    ck_assert(buf);
    servers_start(extra);
    snprintf(uri, sizeof(uri), "cnio://%s/scale/refused", hosts);
    ck_assert_int_eq(cnio_file_open(MPI_COMM_WORLD, uri, MPI_MODE_CREATE | MPI_MODE_RDWR,
                                    info, &fh), 0);
    fx_fill(buf, (size_t)len, 7);
    rc = cnio_file_write_at_all(fh, (MPI_Offset)rank * len, buf, len, MPI_BYTE,
                                MPI_STATUS_IGNORE);
    all = malloc((size_t)nranks * sizeof(int));
    MPI_Allgather(&rc, 1, MPI_INT, all, 1, MPI_INT, MPI_COMM_WORLD);
    for (int r = 0; r < nranks; r++)
        ck_assert_msg(all[r] == -CNIO_ERR_LIMIT, "rank %d returned %d (%s)", r, all[r],
                      cnio_strerror(all[r]));
    ck_assert_int_eq(cnio_file_close(&fh), 0);
    free(all);
    free(buf);
    MPI_Info_free(&info);
    servers_stop();
}
END_TEST

static Suite *scale_suite(void)
{
    Suite *s = suite_create("scale");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, on_demand_one_connection);
    tcase_add_test(tc, budget_holds);
    tcase_add_test(tc, refused_midway);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    SRunner *sr;
    int failed, any;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    sr = srunner_create(scale_suite());
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, rank == 0 ? CK_NORMAL : CK_SILENT);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return any ? 1 : 0;
}
