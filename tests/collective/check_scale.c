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
#include <unistd.h>

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

/* Rank 0: lines of server i's log so far that contain what. */
static int log_count(int i, const char *what)
{
    char path[PATH_MAX + 32], line[512];
    FILE *f;
    int n = 0;

    snprintf(path, sizeof(path), "%s/server%d.log", fx.dir, i);
    f = fopen(path, "r");
    ck_assert_msg(f != NULL, "no log %s", path);
    while (fgets(line, sizeof(line), f))
        n += strstr(line, what) != NULL;
    fclose(f);
    return n;
}

/* Rank 0: connections server i has accepted, and closed, so far. */
static int accepted(int i)
{
    return log_count(i, "connection served by worker");
}

static int closed_conns(int i)
{
    return log_count(i, ": connection closed");
}

/* Rank 0: the most connections server i held at once for the last open of name, as it
 * logged when the handle went (-1: no such line). */
static int peak_conns(int i, const char *name)
{
    char path[PATH_MAX + 32], line[512], want[256];
    FILE *f;
    int peak = -1;

    snprintf(path, sizeof(path), "%s/server%d.log", fx.dir, i);
    snprintf(want, sizeof(want), "%s: closed; the job held at most ", name);
    f = fopen(path, "r");
    ck_assert_msg(f != NULL, "no log %s", path);
    while (fgets(line, sizeof(line), f)) {
        const char *p = strstr(line, want);

        if (p)
            peak = atoi(p + strlen(want));
    }
    fclose(f);
    return peak;
}

/* Rank 0: waits (bounded, 20 s) until server i has closed every connection it accepted. */
static int open_conns_settle(int i)
{
    for (int tries = 0; tries < 200; tries++) {
        if (accepted(i) == closed_conns(i))
            return 0;
        usleep(100000);
    }
    return accepted(i) - closed_conns(i);
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
    ck_assert_str_eq(val, "8");  /* 4 servers x (8 / 2 lanes - rank 0's - transients') */
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

/*
 * The budget holds for independent calls too: with 8 connections per server, 2 lanes and
 * 16 ranks, every rank writes and reads its own block with cnio_file_write_at /
 * read_at (the ranks that do not aggregate connect for the call and close after it, and
 * wait their turn when the server's budget is full), then all do a collective. No
 * server ever held more than 8 of the job's connections at once (its own peak counter,
 * logged when the open's handle goes), the bytes round-trip, and once every rank has
 * closed the file every server has closed every connection it accepted.
 */
START_TEST(budget_independent)
{
    const char *const extra[] = { "--log-level", "debug", NULL };
    const char *kv[] = { "striping_unit", "65536", "cnio_lanes", "2",
                         "cnio_max_conns_per_server", "8", "cnio_timeout_ms", "60000", NULL };
    int len = 3 * UNIT + 1000, rc;
    char uri[700], *w = malloc((size_t)len), *r = calloc(1, (size_t)len);
    cnio_file_t *fh;
    MPI_Info info = info_of(kv);

    ck_assert(w && r);
    servers_start(extra);
    snprintf(uri, sizeof(uri), "cnio://%s/scale/indep", hosts);
    ck_assert_int_eq(cnio_file_open(MPI_COMM_WORLD, uri, MPI_MODE_CREATE | MPI_MODE_RDWR,
                                    info, &fh), 0);
    fx_fill(w, (size_t)len, 500 + (uint64_t)rank);
    for (int pass = 0; pass < 2; pass++) {
        rc = cnio_file_write_at(fh, (MPI_Offset)rank * len, w, len, MPI_BYTE,
                                MPI_STATUS_IGNORE);
        ck_assert_msg(rc == 0, "rank %d: write_at: %s", rank, cnio_strerror(rc));
        rc = cnio_file_read_at(fh, (MPI_Offset)rank * len, r, len, MPI_BYTE, MPI_STATUS_IGNORE);
        ck_assert_msg(rc == 0, "rank %d: read_at: %s", rank, cnio_strerror(rc));
        ck_assert_msg(memcmp(w, r, (size_t)len) == 0, "rank %d: bytes differ", rank);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    ck_assert_int_eq(round_trip(fh, (MPI_Offset)rank * len, len, 600 + (uint64_t)rank), 0);
    /* independent again, after the aggregators hold their connections */
    memset(r, 0, (size_t)len);
    fx_fill(w, (size_t)len, 600 + (uint64_t)rank);
    rc = cnio_file_read_at(fh, (MPI_Offset)rank * len, r, len, MPI_BYTE, MPI_STATUS_IGNORE);
    ck_assert_msg(rc == 0, "rank %d: read_at: %s", rank, cnio_strerror(rc));
    ck_assert_msg(memcmp(w, r, (size_t)len) == 0, "rank %d: bytes differ", rank);
    ck_assert_int_eq(cnio_file_close(&fh), 0);
    for (int i = 0; rank == 0 && i < NSRV; i++) {
        int peak = peak_conns(i, "scale/indep"), left = open_conns_settle(i);

        printf("budget 8, independent + collective: server %d held at most %d connections "
               "at once, accepted %d\n", i, peak, accepted(i));
        ck_assert_msg(peak > 0, "server %d logged no peak for scale/indep", i);
        ck_assert_msg(peak <= 8, "server %d held %d connections at once", i, peak);
        ck_assert_msg(left == 0, "server %d: %d connections still open after close", i, left);
    }
    free(w);
    free(r);
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
    /* The write failed: the new file is not committed, and its close says so, on every
     * rank (a new file whose collective write failed while connecting was committed,
     * empty; its upload is kept for a resume) */
    rc = cnio_file_close(&fh);
    ck_assert_msg(rc == -CNIO_ERR_LIMIT, "close returned %d (%s)", rc, cnio_strerror(rc));
    free(all);
    free(buf);
    MPI_Info_free(&info);
    servers_stop();
}
END_TEST

/*
 * A budget that cannot hold rank 0's lanes beside one lane set of another rank is refused
 * at open, on every rank, before anything is opened: with 2 lanes, 3 connections. It used
 * to be accepted, and then every independent call of every rank but 0 waited
 * cnio_timeout_ms and failed "server limit reached". The least value, 4, works: every
 * rank's own write_at and read_at round-trip through the one lane set left free.
 */
START_TEST(budget_too_small)
{
    const char *kv3[] = { "striping_unit", "65536", "cnio_lanes", "2",
                          "cnio_max_conns_per_server", "3", "cnio_timeout_ms", "5000", NULL };
    const char *kv4[] = { "striping_unit", "65536", "cnio_lanes", "2",
                          "cnio_max_conns_per_server", "4", "cnio_timeout_ms", "60000", NULL };
    MPI_Info info3 = info_of(kv3), info4 = info_of(kv4);
    char uri[700], w[1000], r[1000];
    cnio_file_t *fh;
    int rc, wrc = 0, lo, hi;

    fx_fill(w, sizeof(w), 700 + (uint64_t)rank);
    servers_start(NULL);
    snprintf(uri, sizeof(uri), "cnio://%s/scale/small", hosts);
    rc = cnio_file_open(MPI_COMM_WORLD, uri, MPI_MODE_CREATE | MPI_MODE_RDWR, info3, &fh);
    if (rc == 0) {
        wrc = cnio_file_write_at(fh, (MPI_Offset)rank * UNIT, w, 1, MPI_BYTE, MPI_STATUS_IGNORE);
        cnio_file_close(&fh);
    }
    MPI_Allreduce(&rc, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&rc, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &wrc, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (lo != -CNIO_ERR_HINT || hi != -CNIO_ERR_HINT)
        servers_stop();
    ck_assert_msg(lo == -CNIO_ERR_HINT && hi == -CNIO_ERR_HINT, "budget 3, 2 lanes: open "
                  "returned %d..%d over the ranks, then the worst write_at: %s", lo, hi,
                  cnio_strerror(wrc));
    ck_assert_int_eq(cnio_file_open(MPI_COMM_WORLD, uri, MPI_MODE_CREATE | MPI_MODE_RDWR,
                                    info4, &fh), 0);
    rc = cnio_file_write_at(fh, (MPI_Offset)rank * UNIT, w, sizeof(w), MPI_BYTE,
                            MPI_STATUS_IGNORE);
    ck_assert_msg(rc == 0, "rank %d: write_at: %s", rank, cnio_strerror(rc));
    rc = cnio_file_read_at(fh, (MPI_Offset)rank * UNIT, r, sizeof(r), MPI_BYTE,
                           MPI_STATUS_IGNORE);
    ck_assert_msg(rc == 0, "rank %d: read_at: %s", rank, cnio_strerror(rc));
    ck_assert_msg(memcmp(w, r, sizeof(w)) == 0, "rank %d: bytes differ", rank);
    ck_assert_int_eq(cnio_file_close(&fh), 0);
    MPI_Info_free(&info3);
    MPI_Info_free(&info4);
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
    tc = tcase_create("budget");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, budget_independent);
    tcase_add_test(tc, budget_too_small);
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
