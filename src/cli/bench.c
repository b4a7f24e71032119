/*
 * bench.c - `cnio bench`: measures collective writes and reads (or many small independent
 * ones, or connection setup) against cnio-servers, through the public API.
 *
 * Every repetition opens the object, runs a write phase then a read phase, each between
 * barriers and timed as the slowest rank saw it, checks the data read back (every 8-byte
 * word holds a function of its object offset and of the repetition), and closes. GB/s is
 * the bytes of all ranks over that time; CPU seconds per GB sums user + system time of
 * every rank (not of the servers) over the phase. Patterns:
 *   contiguous  one block of SIZE bytes per rank, at rank * SIZE (one write_at_all)
 *   strided     IOR-style segments: 1 MiB blocks interleaved by rank (a vector view)
 *   subarray    a 2-D global array of doubles over an MPI_Dims_create grid (subarray view)
 *   small       SIZE independent 4 KiB write_at then read_at per rank, each op timed
 *   open        open + one write_at_all (8 bytes to every server per rank, or SIZE
 *               contiguous with --size) + close, cnio_connect_mode=eager against on_demand
 *               (doc/scale.md), and the connections on the busiest server
 */
#include "cnio.h" /* first: the full API, with MPI */
#include "cli.h"
#include "client.h"
#include "../../collective/coll.h"
#include "bench.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>


static const char bench_help[] =
    "usage: cnio bench [--pattern P] [--size SIZE] [--reps R] [--hosts H1:P1,H2:P2 |\n"
    "                  --uri cnio://HOSTS/PATH] [--lanes L] [--transport T]\n"
    "                  [--stripe-unit S] [-o NAME=VALUE]... [--key FILE] [--fsync] [--json]\n"
    "                  [--keep]\n"
    "       mpirun -n N cnio bench ...\n"
    "\n"
    "Measures collective I/O to cnio-servers. Each repetition writes, then reads back and\n"
    "checks, timing each phase between barriers (the slowest rank's time); the object is\n"
    "removed at the end unless --keep. Exit status 1 when any data read back differ.\n"
    "\n"
    "  --pattern P      contiguous (default): one block per rank, one write_at_all;\n"
    "                   strided: 1 MiB segments interleaved by rank (vector view);\n"
    "                   subarray: 2-D array of doubles over a process grid;\n"
    "                   small: many 4 KiB independent write_at / read_at, p50/p99 latency;\n"
    "                   open: open + a write of 8 B per server and rank (or --size)\n"
    "                   + close, connections eager (old) versus on demand (new)\n"
    "  --size SIZE      bytes per rank (default 256M, up to 2047M); for small, the number\n"
    "                   of 4 KiB operations per rank (default 2000)\n"
    "  --reps R         repetitions (default 3); the summary gives the median\n"
    "  --hosts LIST     servers, host:port,...: object cnio://LIST/cnio-bench/PATTERN.PID\n"
    "                   (default: $CNIO_HOSTS, as scripts/servers.sh sets it)\n"
    "  --uri URI        the object to use instead; one that exists is refused (bench\n"
    "                   writes its own data there and removes it)\n"
    "  --lanes L, --transport T, --stripe-unit S\n"
    "                   the hints cnio_lanes, cnio_transport, striping_unit\n"
    "  -o NAME=VALUE    any other hint; repeatable\n"
    "  --fsync          make the write phase end with cnio_file_sync\n"
    "  --json           one JSON object per run on stdout instead of the table\n"
    "  --keep           do not remove the object\n"
    "\n"
    "GB/s is 10^9 bytes of all ranks per second; CPU s/GB is user+system time of all ranks\n"
    "per 10^9 bytes (the cnio-servers' CPU is not included).\n";

/* Parses a numeric option's value at argv[*i + 1]. */
static int bench_value(int argc, char **argv, int *i, const char **out)
{
    if (*i + 1 >= argc) {
        cli_err("cnio bench: %s needs a value\n", argv[*i]);
        return -1;
    }
    *out = argv[++*i];
    return 0;
}

static int bench_pattern(struct bench *b, const char *name)
{
    for (size_t k = 0; k < CNIO_ARRAY_LEN(bench_pat_names); k++)
        if (!strcmp(name, bench_pat_names[k])) {
            b->pat = (enum bench_pat)k;
            return 0;
        }
    cli_err("cnio bench: unknown pattern %s\n", name);
    return -1;
}

/* One option at argv[*i]: 1 when it took it, 0 when it is not one of bench's, -1 bad. */
static int bench_opt(struct bench *b, int argc, char **argv, int *i)
{
    static const char *const flags[] = { "--json", "--keep", "--fsync" };
    static const char *const strs[] = { "--hosts", "--uri", "--lanes", "--transport",
                                        "--stripe-unit" };
    int *const fl[] = { &b->json, &b->keep, &b->fsync };
    const char **const st[] = { &b->hosts, &b->uri_arg, &b->lanes, &b->transport, &b->stripe };
    const char *a = argv[*i], *v = NULL;

    for (size_t k = 0; k < CNIO_ARRAY_LEN(flags); k++)
        if (!strcmp(a, flags[k]))
            return *fl[k] = 1;
    for (size_t k = 0; k < CNIO_ARRAY_LEN(strs); k++)
        if (!strcmp(a, strs[k]))
            return bench_value(argc, argv, i, st[k]) ? -1 : 1;
    if (!strcmp(a, "--pattern"))
        return bench_value(argc, argv, i, &v) || bench_pattern(b, v) ? -1 : 1;
    if (!strcmp(a, "--size")) {
        b->size_set = 1;
        if (bench_value(argc, argv, i, &v))
            return -1;
        if (cnio__parse_size(v, &b->size) == 0 && b->size >= 1 && b->size <= INT_MAX)
            return 1;
        cli_err("cnio bench: --size takes 1 to 2047M\n");
        return -1;
    }
    if (!strcmp(a, "--reps")) {
        if (bench_value(argc, argv, i, &v))
            return -1;
        b->reps = atoi(v);
        if (b->reps >= 1 && b->reps <= BENCH_MAX_REPS)
            return 1;
        cli_err("cnio bench: --reps takes 1 to %d\n", BENCH_MAX_REPS);
        return -1;
    }
    return 0;
}

/* The value of option opt, for hint name, as cnio takes it: 0, else -1 (said why). */
static int bench_hint_ok(const char *opt, const char *name, const char *val)
{
    char arg[300];

    if (!val)
        return 0;
    snprintf(arg, sizeof(arg), "%s %s", opt, val);
    return cli_hint_ok("cnio bench", arg, name, val);
}

/* The URI of --uri, or the one --hosts makes (its directory, cnio-bench/), checked as
 * every command checks its URI arguments (cli_check_uri): 0, or -1 (said why). A bad
 * one failed the open, exit 1, after MPI started. */
static int bench_check_uri(const struct bench *b)
{
    char uri[sizeof(b->uri)];
    int n = b->uri_arg ? snprintf(uri, sizeof(uri), "%s", b->uri_arg)
                       : snprintf(uri, sizeof(uri), "cnio://%s/cnio-bench/", b->hosts);

    if (n < 0 || (size_t)n >= sizeof(uri)) {
        cli_err("cnio bench: %s: too long\n", b->uri_arg ? "--uri" : "--hosts");
        return -1;
    }
    if (b->uri_arg && !cnio__uri_is_cnio(uri)) {
        cli_err("cnio bench: --uri %s is not a cnio:// URI\n", uri);
        return -1;
    }
    return cli_check_uri("bench", uri) ? -1 : 0;
}

/* Returns 0, -1 on bad usage (message printed), -2 for --help. */
static int bench_parse(struct bench *b, int argc, char **argv)
{
    b->reps = 3;
    for (int i = 1; i < argc; i++) {
        int r;

        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return -2;
        r = bench_opt(b, argc, argv, &i);
        if (r == 0)
            r = cli_common_opt(&b->o, argc, argv, &i);
        if (r < 0)
            return -1;
        if (r == 0) {
            cli_err("cnio bench: unknown option or argument %s\n", argv[i]);
            return -1;
        }
    }
    if (bench_hint_ok("--lanes", "cnio_lanes", b->lanes) ||
        bench_hint_ok("--transport", "cnio_transport", b->transport) ||
        bench_hint_ok("--stripe-unit", "striping_unit", b->stripe))
        return -1;
    if (!b->size_set)
        b->size = b->pat == PAT_SMALL ? 2000 : 256u << 20;
    if (b->pat == PAT_SMALL && b->size > INT_MAX / BENCH_SMALL_OP) {
        cli_err("cnio bench: --size with --pattern small is the number of 4 KiB operations "
                "per rank: at most %u\n", INT_MAX / BENCH_SMALL_OP);
        return -1;
    }
    if (b->pat != PAT_SMALL && b->pat != PAT_OPEN && b->size < 8) {
        cli_err("cnio bench: --size must be at least 8 bytes\n");
        return -1;
    }
    if (!b->hosts && !b->uri_arg)
        b->hosts = getenv("CNIO_HOSTS");
    if ((!b->hosts || !*b->hosts) && !b->uri_arg) {
        cli_err("cnio bench: needs --hosts, --uri or $CNIO_HOSTS\n");
        return -1;
    }
    return bench_check_uri(b);
}

/* The MPI_Info with every hint given, and the URI (rank 0 names the object). */
static int bench_setup(struct bench *b)
{
    struct cnio_uri u = { 0 };
    long pid = (long)getpid();
    int rc;

    rc = cli_info(&b->o, &b->info);
    if (rc)
        return rc;
    if (b->lanes)
        MPI_Info_set(b->info, "cnio_lanes", b->lanes);
    if (b->transport)
        MPI_Info_set(b->info, "cnio_transport", b->transport);
    if (b->stripe)
        MPI_Info_set(b->info, "striping_unit", b->stripe);
    MPI_Bcast(&pid, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    if (b->uri_arg)
        rc = snprintf(b->uri, sizeof(b->uri), "%s", b->uri_arg);
    else
        rc = snprintf(b->uri, sizeof(b->uri), "cnio://%s/cnio-bench/%s.%ld", b->hosts,
                      bench_pat_names[b->pat], pid);
    if (rc < 0 || (size_t)rc >= sizeof(b->uri))
        return -CNIO_ERR_URI;
    rc = cnio__uri_parse(b->uri, &u);
    b->nhosts = u.nhosts;
    cnio__uri_free(&u);
    return rc;
}

/*
 * What each rank moves in a phase, and the file view that places it. Strided and small
 * interleave blocks by rank: the k-th block of rank r is at (k * nranks + r) * block.
 */
static int bench_shape(struct bench *b)
{
    int dims[2] = { 0, 0 }, coords[2];
    uint64_t elems, side;

    b->ft = MPI_DATATYPE_NULL;
    switch (b->pat) {
    case PAT_CONTIG:
        b->bytes = b->size & ~7ull;
        return 0;
    case PAT_SMALL:
        b->block = BENCH_SMALL_OP;
        b->bytes = b->size * BENCH_SMALL_OP;
        return 0;
    case PAT_STRIDED:
        b->block = CNIO_MIN(BENCH_SEGMENT, b->size & ~7ull);
        b->bytes = b->size / b->block * b->block;
        MPI_Type_vector((int)(b->bytes / b->block), (int)b->block, (int)b->block * b->nranks,
                        MPI_BYTE, &b->ft);
        break;
    case PAT_SUBARRAY:
        MPI_Dims_create(b->nranks, 2, dims);
        coords[0] = b->rank / dims[1];
        coords[1] = b->rank % dims[1];
        elems = b->size / sizeof(double);
        for (side = 1; (side + 1) * (side + 1) <= elems; side++)
            ;
        b->lsz[1] = (int)side;
        b->lsz[0] = (int)(elems / side);
        for (int d = 0; d < 2; d++) {
            if ((int64_t)b->lsz[d] * dims[d] > INT_MAX)
                return -CNIO_ERR_OVERFLOW;
            b->gsz[d] = b->lsz[d] * dims[d];
            b->start[d] = b->lsz[d] * coords[d];
        }
        b->bytes = (uint64_t)b->lsz[0] * (uint64_t)b->lsz[1] * sizeof(double);
        MPI_Type_create_subarray(2, b->gsz, b->lsz, b->start, MPI_ORDER_C, MPI_DOUBLE, &b->ft);
        break;
    case PAT_OPEN:
        b->bytes = b->size_set ? b->size : 8 * (uint64_t)b->nhosts;
        return b->bytes > INT_MAX ? -CNIO_ERR_OVERFLOW : 0;
    }
    MPI_Type_commit(&b->ft);
    return 0;
}

/* The object offset of byte i of this rank's buffer. */
static uint64_t bench_off(const struct bench *b, uint64_t i)
{
    uint64_t k, e;

    switch (b->pat) {
    case PAT_STRIDED:
    case PAT_SMALL:
        k = i / b->block;
        return (k * (uint64_t)b->nranks + (uint64_t)b->rank) * b->block + i % b->block;
    case PAT_SUBARRAY:
        e = i / sizeof(double);
        return (((uint64_t)b->start[0] + e / (uint64_t)b->lsz[1]) * (uint64_t)b->gsz[1] +
                (uint64_t)b->start[1] + e % (uint64_t)b->lsz[1]) * sizeof(double) +
               i % sizeof(double);
    default:
        return (uint64_t)b->rank * b->bytes + i;
    }
}

/* The 8-byte word that belongs at object offset off (a multiple of 8) in repetition seed. */
static uint64_t bench_word(uint64_t off, uint64_t seed)
{
    return ((off >> 3) + 1) * 0x9e3779b97f4a7c15ull ^ seed;
}

static void bench_fill(struct bench *b, uint64_t seed)
{
    uint64_t *w = (uint64_t *)b->buf;

    for (uint64_t i = 0; i < b->bytes; i += 8)
        w[i >> 3] = bench_word(bench_off(b, i), seed);
}

/* Checks the buffer after a read; every rank returns the same code. */
static int bench_verify(struct bench *b, uint64_t seed)
{
    const uint64_t *w = (const uint64_t *)b->buf;
    unsigned long long bad = 0, allbad = 0, first = 0, got = 0, want = 0;

    for (uint64_t i = 0; i < b->bytes; i += 8) {
        uint64_t x = bench_word(bench_off(b, i), seed);

        if (w[i >> 3] != x && bad++ == 0)
            first = bench_off(b, i), got = w[i >> 3], want = x;
    }
    if (bad)
        cli_err("cnio bench: rank %d: DATA MISMATCH: %llu of %llu words differ; first "
                "at object offset %llu: read 0x%016llx, wrote 0x%016llx\n", b->rank, bad,
                (unsigned long long)(b->bytes / 8), first, got, want);
    MPI_Allreduce(&bad, &allbad, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    return allbad ? -CNIO_ERR_CHECKSUM : 0;
}

static int bench_agree(int rc)
{
    int out;

    MPI_Allreduce(&rc, &out, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return out;
}

static double bench_cpu(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru))
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* One collective write or read of this rank's whole share. */
static int bench_collective(struct bench *b, cnio_file_t *fh, int wr)
{
    MPI_Datatype dt = b->pat == PAT_SUBARRAY ? MPI_DOUBLE : MPI_BYTE;
    int count = (int)(b->pat == PAT_SUBARRAY ? b->bytes / sizeof(double) : b->bytes), got = 0;
    MPI_Offset off = b->pat == PAT_CONTIG ? (MPI_Offset)bench_off(b, 0) : 0;
    MPI_Status st;
    int rc;

    if (wr)
        return cnio_file_write_at_all(fh, off, b->buf, count, dt, MPI_STATUS_IGNORE);
    rc = cnio_file_read_at_all(fh, off, b->buf, count, dt, &st);
    if (rc == 0)
        MPI_Get_count(&st, dt, &got);
    return rc ? rc : got == count ? 0 : -CNIO_ERR_IO;
}

/* Independent 4 KiB operations, each timed into b->lat. */
static int bench_small_ops(struct bench *b, cnio_file_t *fh, int wr)
{
    int n = (int)b->size;

    for (int k = 0; k < n; k++) {
        char *p = b->buf + (size_t)k * BENCH_SMALL_OP;
        MPI_Offset off = (MPI_Offset)bench_off(b, (uint64_t)k * BENCH_SMALL_OP);
        MPI_Status st;
        double t0 = MPI_Wtime();
        int rc, got = 0;

        if (wr) {
            rc = cnio_file_write_at(fh, off, p, BENCH_SMALL_OP, MPI_BYTE, MPI_STATUS_IGNORE);
        } else {
            rc = cnio_file_read_at(fh, off, p, BENCH_SMALL_OP, MPI_BYTE, &st);
            if (rc == 0)
                MPI_Get_count(&st, MPI_BYTE, &got);
            if (rc == 0 && got != BENCH_SMALL_OP)
                rc = -CNIO_ERR_IO;
        }
        b->lat[k] = MPI_Wtime() - t0;
        if (rc)
            return rc;
    }
    return 0;
}

/* Gathers every rank's op latencies on rank 0: p50 and p99 in microseconds. */
static void bench_latency(struct bench *b, double *p50, double *p99)
{
    size_t n = (size_t)b->size * (size_t)b->nranks;
    double *all = b->rank == 0 ? malloc(n * sizeof(double)) : NULL;
    int ok = b->rank != 0 || all;

    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    *p50 = *p99 = -1;
    if (!ok)
        return;
    MPI_Gather(b->lat, (int)b->size, MPI_DOUBLE, all, (int)b->size, MPI_DOUBLE, 0,
               MPI_COMM_WORLD);
    if (b->rank == 0) {
        qsort(all, n, sizeof(double), bench_cmp_double);
        *p50 = all[(n - 1) / 2] * 1e6;
        *p99 = all[(size_t)((double)n * 0.99 + 0.999999) - 1] * 1e6;
    }
    free(all);
}

/*
 * One timed phase: a barrier, then this rank's I/O; the phase lasts as long as the slowest
 * rank took (max), its CPU time is the sum over ranks. Waiting in the barriers is not
 * charged (Open MPI polls there).
 */
static int bench_phase(struct bench *b, cnio_file_t *fh, int wr, struct bench_res *r)
{
    int k = wr ? 0 : 1, rc;
    double t, c;

    MPI_Barrier(MPI_COMM_WORLD);
    c = bench_cpu();
    t = MPI_Wtime();
    rc = b->pat == PAT_SMALL ? bench_small_ops(b, fh, wr) : bench_collective(b, fh, wr);
    if (wr && b->fsync)
        rc = bench_agree(rc) ? rc : cnio_file_sync(fh);
    t = MPI_Wtime() - t;
    c = bench_cpu() - c;
    rc = bench_agree(rc);
    MPI_Reduce(&t, &r->secs[k], 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Reduce(&c, &r->cpu[k], 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rc == 0 && b->pat == PAT_SMALL)
        bench_latency(b, &r->p50[k], &r->p99[k]);
    return rc;
}

/* The hints in effect, for the report. */
static void bench_used(struct bench *b, cnio_file_t *fh)
{
    static const char *const keys[] = { "cnio_lanes", "cnio_transport", "striping_unit" };
    char *const vals[] = { b->lanes_used, b->transport_used, b->unit_used };
    char v[MPI_MAX_INFO_VAL + 1];
    MPI_Info info;
    int flag;

    if (cnio_file_get_info(fh, &info))
        return;
    for (size_t k = 0; k < CNIO_ARRAY_LEN(keys); k++) {
        flag = 0;
        MPI_Info_get(info, keys[k], MPI_MAX_INFO_VAL, v, &flag);
        if (flag)
            snprintf(vals[k], sizeof(b->lanes_used), "%.31s", v);
    }
    MPI_Info_free(&info);
}

static int bench_fail(const struct bench *b, const char *what, int rc)
{
    if (b->rank == 0 && !(rc == -CNIO_ERR_EXIST && b->uri_arg && !b->made))
        cli_fail("bench", what, rc);   /* (a --uri that exists: bench_open said why) */
    return rc;
}

/*
 * Opens the object for a repetition: the first open of a --uri creates it exclusively,
 * so that an object the user already has is refused rather than overwritten and then
 * removed; b->made notes that bench created it (and may remove it). 0 or a code.
 */
static int bench_open(struct bench *b, MPI_Info info, cnio_file_t **fh)
{
    int excl = b->uri_arg && !b->made,
        rc = cnio_file_open(MPI_COMM_WORLD, b->uri,
                            MPI_MODE_CREATE | MPI_MODE_RDWR | (excl ? MPI_MODE_EXCL : 0), info,
                            fh);

    if (rc == -CNIO_ERR_EXIST && excl && b->rank == 0)
        cli_err("cnio bench: %s exists: bench writes its own data there and removes it at "
                "the end, so it takes only a name that does not exist\n", b->uri);
    if (rc == 0)
        b->made = 1;
    return rc;
}

/* One repetition of an I/O pattern: open, write, read back, check, close. */
static int bench_rep(struct bench *b, int rep, struct bench_res *r)
{
    uint64_t seed = 0x6a09e667f3bcc909ull * (uint64_t)(rep + 1);
    cnio_file_t *fh = NULL;
    int rc, rc2;

    bench_fill(b, seed);
    rc = bench_open(b, b->info, &fh);
    if (rc)
        return bench_fail(b, "open", rc);
    if (rep == 0)
        bench_used(b, fh);
    if (b->ft != MPI_DATATYPE_NULL)
        rc = cnio_file_set_view(fh, b->pat == PAT_STRIDED ? (MPI_Offset)bench_off(b, 0) : 0,
                                b->pat == PAT_SUBARRAY ? MPI_DOUBLE : MPI_BYTE, b->ft,
                                "native", MPI_INFO_NULL);
    if (rc)
        bench_fail(b, "set_view", rc);
    if (rc == 0 && (rc = bench_phase(b, fh, 1, r)) != 0)
        bench_fail(b, "write", rc);
    if (rc == 0) {
        memset(b->buf, 0, b->bytes);
        if ((rc = bench_phase(b, fh, 0, r)) != 0)
            bench_fail(b, "read", rc);
    }
    if (rc == 0 && (rc = bench_verify(b, seed)) != 0)
        bench_fail(b, "the data read back differ from those written", rc);
    rc2 = cnio_file_close(&fh);
    if (rc == 0 && rc2)
        rc = bench_fail(b, "close", rc2);
    return rc;
}

/* The open pattern's write: 8 bytes per server (a vector view), or b->size contiguous. */
static int bench_open_write(struct bench *b, cnio_file_t *fh)
{
    uint64_t unit = 0;
    MPI_Datatype ft;
    int rc;

    if (b->size_set)
        return cnio_file_write_at_all(fh, (MPI_Offset)b->rank * (MPI_Offset)b->bytes, b->buf,
                                      (int)b->bytes, MPI_BYTE, MPI_STATUS_IGNORE);
    cnio__parse_size(b->unit_used, &unit);
    if ((uint64_t)b->rank * 8 + 8 > unit)
        return -CNIO_ERR_INVAL;
    MPI_Type_vector(b->nhosts, 8, (int)unit, MPI_BYTE, &ft);
    MPI_Type_commit(&ft);
    rc = cnio_file_set_view(fh, (MPI_Offset)b->rank * 8, MPI_BYTE, ft, "native",
                            MPI_INFO_NULL);
    MPI_Type_free(&ft);
    if (rc == 0)
        rc = cnio_file_write_at_all(fh, 0, b->buf, (int)b->bytes, MPI_BYTE, MPI_STATUS_IGNORE);
    return rc;
}

/* Connections the job holds on its busiest server (rank 0 gets the figure). */
static double bench_open_conns(struct bench *b, cnio_file_t *fh)
{
    struct cnio_obj *obj = cnio__file_obj(fh);
    int mine[CNIO_MAX_HOSTS] = { 0 }, sum[CNIO_MAX_HOSTS] = { 0 }, most = 0;

    for (int j = 0; j < cnio__obj_nhosts(obj); j++)
        mine[j] = cnio__obj_host_lanes(obj, j);
    MPI_Reduce(mine, sum, cnio__obj_nhosts(obj), MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
    for (int j = 0; b->rank == 0 && j < cnio__obj_nhosts(obj); j++)
        most = CNIO_MAX(most, sum[j]);
    return most;
}

/*
 * One repetition of the open pattern: eager and on demand, in turn first (rep 0 starts
 * with an untimed run of each, so that neither pays for MPI's and the servers' first
 * connections and the object's creation).
 */
static int bench_open_rep(struct bench *b, int rep, struct bench_res *r)
{
    static const char *const mode[2] = { "eager", "on_demand" };

    for (int i = rep == 0 ? -2 : 0; i < 2; i++) {
        int k = i < 0 ? i + 2 : (i + rep) % 2;
        cnio_file_t *fh = NULL;
        MPI_Info info;
        double t, t_open, conns = 0;
        int rc;

        MPI_Info_dup(b->info, &info);
        MPI_Info_set(info, "cnio_connect_mode", mode[k]);
        if (!b->size_set)
            MPI_Info_set(info, "romio_cb_write", "disable");
        MPI_Barrier(MPI_COMM_WORLD);
        t = MPI_Wtime();
        rc = bench_open(b, info, &fh);
        t_open = MPI_Wtime() - t;
        if (rc == 0 && rep == 0 && i == -2)
            bench_used(b, fh);
        if (rc == 0)
            rc = bench_open_write(b, fh);
        if (fh)
            conns = bench_open_conns(b, fh);
        if (fh) {
            int rc2 = cnio_file_close(&fh);

            rc = rc ? rc : rc2;
        }
        t = MPI_Wtime() - t;
        MPI_Info_free(&info);
        rc = bench_agree(rc);
        if (rc)
            return bench_fail(b, mode[k], rc);
        MPI_Reduce(&t, &r->secs[k], 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
        MPI_Reduce(&t_open, &r->open_s[k], 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
        r->conns[k] = conns;   /* a warm-up's figures are overwritten by the timed run */
    }
    return 0;
}

static int bench_alloc(struct bench *b)
{
    b->res = calloc((size_t)b->reps, sizeof(*b->res));
    b->buf = b->bytes ? malloc(b->bytes) : NULL;
    b->lat = b->pat == PAT_SMALL ? calloc((size_t)b->size, sizeof(double)) : NULL;
    if (!b->res || (b->bytes && !b->buf) || (b->pat == PAT_SMALL && !b->lat))
        return -CNIO_ERR_NOMEM;
    snprintf(b->lanes_used, sizeof(b->lanes_used), "1");
    snprintf(b->transport_used, sizeof(b->transport_used), "tcp");
    snprintf(b->unit_used, sizeof(b->unit_used), "1048576");
    return 0;
}

static int bench_run(struct bench *b)
{
    int rc = bench_setup(b);

    if (rc)
        return bench_fail(b, b->uri[0] ? b->uri : "hints", rc);
    rc = bench_shape(b);
    rc = bench_agree(rc ? rc : bench_alloc(b));
    if (rc)
        return bench_fail(b, "setup", rc);
    for (int i = 0; i < b->reps && rc == 0; i++)
        rc = b->pat == PAT_OPEN ? bench_open_rep(b, i, &b->res[i])
                                : bench_rep(b, i, &b->res[i]);
    if (rc == 0 && b->rank == 0 && (b->json || !b->o.quiet)) {   /* -q: no table */
        if (b->json)
            bench_json(b);
        else
            bench_table(b);
        fflush(stdout);
    }
    if (!b->keep && b->made && b->rank == 0) {   /* only what it created */
        int rc2 = cnio_file_delete(b->uri, b->info);

        if (rc2 && rc2 != -CNIO_ERR_NOENT)
            cli_fail("bench", "removing the object", rc2);
        if (!rc2 && !b->uri_arg) {   /* and cnio-bench/, unless other runs' objects are in it */
            char dir[sizeof(b->uri)];

            snprintf(dir, sizeof(dir), "cnio://%s/cnio-bench/", b->hosts);
            cli_rmdir_quiet(&b->o, dir);
        }
    }
    return rc;
}

int cli_bench(int argc, char **argv)
{
    struct bench b = { .info = MPI_INFO_NULL, .ft = MPI_DATATYPE_NULL };
    int rc = bench_parse(&b, argc, argv);

    if (rc == -2) {
        fputs(bench_help, stdout);
        return CLI_EXIT_OK;
    }
    if (rc < 0) {
        cli_err("usage: cnio bench [OPTIONS]; see cnio bench --help\n");
        return CLI_EXIT_USAGE;
    }
    cli_mpi_init();
    MPI_Comm_rank(MPI_COMM_WORLD, &b.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &b.nranks);
    rc = bench_run(&b);
    if (b.ft != MPI_DATATYPE_NULL)
        MPI_Type_free(&b.ft);
    if (b.info != MPI_INFO_NULL)
        MPI_Info_free(&b.info);
    free(b.buf);
    free(b.lat);
    free(b.res);
    MPI_Finalize();
    return cli_status(rc);
}
