/*
 * cp.c - `cnio cp SRC DST`: copies between a local file and a cnio:// object (or two
 * objects) through the public API. Under `mpirun -n N` each rank moves its own share
 * (a contiguous, stripe-aligned range) straight between its local file and the servers;
 * as a singleton the one process moves everything.
 */
#include "cli.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One side of the copy: a local file descriptor or an open object. */
struct cp_end {
    const char *name;
    int remote;
    int fd;
    cnio_file_t *fh;
};

struct cp_job {
    struct cli_opts o;
    struct cp_end src, dst;
    MPI_Info info;
    int rank, size;
    uint64_t total;              /* bytes to copy */
    uint64_t lo, hi;             /* this rank's range */
    uint64_t iters;              /* chunks per rank: the same count on every rank */
    uint64_t done;               /* bytes this rank copied */
    double t0, last_print;
    int nhosts, lanes;           /* of the remote side, for the summary */
    int tty;
};

static const char cp_help[] =
    "usage: cnio cp [--verify] [--chunk SIZE] [-q] [--key FILE] [-o NAME=VALUE] SRC DST\n"
    "       mpirun -n N cnio cp ... SRC DST\n"
    "\n"
    "Copies SRC to DST; either may be a local path or a cnio:// URI. DST is created or\n"
    "overwritten. Under mpirun the transfer is split over the ranks, each moving its own\n"
    "share directly to or from the servers; rank 0 shows progress and a summary.\n"
    "\n"
    "  --verify       afterwards, compare CRC32C checksums of both ends\n"
    "  --chunk SIZE   bytes per request per rank (default 16M)\n"
    "  -o NAME=VALUE  hint for the cnio:// side(s), e.g. -o striping_unit=4M -o cnio_lanes=2\n"
    "  --key FILE     shared key file\n"
    "  -q             no progress bar and no summary\n";

static int cp_parse(struct cp_job *j, int argc, char **argv, char **pos)
{
    int npos = 0;

    j->o.chunk = 16u << 20;
    for (int i = 1; i < argc; i++) {
        int r;

        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return -2;
        if (!strcmp(argv[i], "--verify")) {
            j->o.verify = 1;
            continue;
        }
        if (!strcmp(argv[i], "--chunk")) {
            if (i + 1 >= argc || cnio__parse_size(argv[i + 1], &j->o.chunk) || !j->o.chunk ||
                j->o.chunk > (1u << 30)) {
                fprintf(stderr, "cnio cp: --chunk takes a size up to 1G (e.g. 16M)\n");
                return -1;
            }
            i++;
            continue;
        }
        r = cli_common_opt(&j->o, argc, argv, &i);
        if (r < 0)
            return -1;
        if (r > 0)
            continue;
        if ((argv[i][0] == '-' && argv[i][1]) || npos == 2) {
            fprintf(stderr, "cnio cp: %s: unknown option or extra argument\n", argv[i]);
            return -1;
        }
        pos[npos++] = argv[i];
    }
    if (npos != 2) {
        fprintf(stderr, "cnio cp: needs SRC and DST\n");
        return -1;
    }
    return 0;
}

/* All ranks: the same rc everywhere. */
static int cp_agree(int rc)
{
    int out;

    MPI_Allreduce(&rc, &out, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return out;
}

static int cp_errno(void)
{
    return cnio__err_from_errno(errno);
}

/* Opens the source and learns its size (the same on every rank). */
static int cp_open_src(struct cp_job *j)
{
    struct stat sb;
    MPI_Offset sz = 0;
    int rc = 0;

    if (j->src.remote) {
        rc = cnio_file_open(MPI_COMM_WORLD, j->src.name, MPI_MODE_RDONLY, j->info, &j->src.fh);
        if (rc == 0)
            rc = cnio_file_get_size(j->src.fh, &sz);
        j->total = (uint64_t)sz;
        return cp_agree(rc);
    }
    j->src.fd = open(j->src.name, O_RDONLY | O_CLOEXEC);
    if (j->src.fd < 0 || fstat(j->src.fd, &sb) < 0)
        rc = cp_errno();
    else if (!S_ISREG(sb.st_mode))
        rc = S_ISDIR(sb.st_mode) ? -CNIO_ERR_ISDIR : -CNIO_ERR_INVAL;
    else
        j->total = (uint64_t)sb.st_size;
    rc = cp_agree(rc);
    if (rc == 0)
        MPI_Bcast(&j->total, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    return rc;
}

/* Creates or truncates the destination to the source's size. */
static int cp_open_dst(struct cp_job *j)
{
    int rc = 0;

    if (j->dst.remote) {
        rc = cnio_file_open(MPI_COMM_WORLD, j->dst.name, MPI_MODE_WRONLY | MPI_MODE_CREATE,
                            j->info, &j->dst.fh);
        if (rc == 0)
            rc = cnio_file_set_size(j->dst.fh, (MPI_Offset)j->total);
        return rc;
    }
    if (j->rank == 0) {
        j->dst.fd = open(j->dst.name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (j->dst.fd < 0 || ftruncate(j->dst.fd, (off_t)j->total) < 0)
            rc = cp_errno();
    }
    rc = cp_agree(rc);
    if (rc == 0 && j->rank != 0) {
        j->dst.fd = open(j->dst.name, O_WRONLY | O_CLOEXEC);
        if (j->dst.fd < 0)
            rc = cp_errno();
    }
    return cp_agree(rc);
}

/*
 * Remote sides use the collective calls, so every rank calls them the same number of
 * times (cp_iters), with len 0 when it has nothing (left) to move; their codes are
 * agreed, so all ranks see a remote failure at once. Local I/O is the rank's own.
 */
static int cp_read(struct cp_end *e, void *buf, uint64_t len, uint64_t off)
{
    if (e->remote) {
        MPI_Status st;
        int rc = cnio_file_read_at_all(e->fh, (MPI_Offset)off, buf, (int)len, MPI_BYTE, &st);
        int got = 0;

        if (rc == 0)
            MPI_Get_count(&st, MPI_BYTE, &got);
        return rc ? rc : ((uint64_t)got == len ? 0 : -CNIO_ERR_IO);
    }
    for (uint64_t n = 0; n < len;) {
        ssize_t r = pread(e->fd, (char *)buf + n, len - n, (off_t)(off + n));
        if (r <= 0)
            return r < 0 ? cp_errno() : -CNIO_ERR_IO;
        n += (uint64_t)r;
    }
    return 0;
}

static int cp_write(struct cp_end *e, const void *buf, uint64_t len, uint64_t off)
{
    if (e->remote)
        return cnio_file_write_at_all(e->fh, (MPI_Offset)off, buf, (int)len, MPI_BYTE,
                                      MPI_STATUS_IGNORE);
    for (uint64_t n = 0; n < len;) {
        ssize_t r = pwrite(e->fd, (const char *)buf + n, len - n, (off_t)(off + n));
        if (r < 0)
            return cp_errno();
        n += (uint64_t)r;
    }
    return 0;
}

static void cp_progress(struct cp_job *j, int final)
{
    char a[32], b[32];
    double now = MPI_Wtime(), el = now - j->t0;
    uint64_t est = CNIO_MIN(j->total, j->done * (uint64_t)j->size);

    if (j->rank != 0 || !j->tty || j->o.quiet || (!final && now - j->last_print < 0.25))
        return;
    j->last_print = now;
    if (final)
        est = j->total;
    fprintf(stderr, "\r  %s / %s  %3d%%  %.1f MB/s   ", cli_bytes(est, a, sizeof(a)),
            cli_bytes(j->total, b, sizeof(b)), j->total ? (int)(100.0 * est / j->total) : 100,
            el > 0 ? est / el / 1e6 : 0.0);
    if (final)
        fputc('\n', stderr);
}

/* This rank's range: contiguous shares cut at chunk multiples. */
static void cp_range(struct cp_job *j)
{
    uint64_t unit = j->o.chunk, chunks = (j->total + unit - 1) / unit;

    j->lo = CNIO_MIN(j->total, chunks * (uint64_t)j->rank / (uint64_t)j->size * unit);
    j->hi = CNIO_MIN(j->total, chunks * (uint64_t)(j->rank + 1) / (uint64_t)j->size * unit);
    j->iters = (chunks + (uint64_t)j->size - 1) / (uint64_t)j->size;
}

/*
 * One pass over this rank's range in chunks: read each chunk from `from`, and either
 * write it to `to` (copy) or compare it with the same chunk of `to` (verify, by CRC32C).
 * A remote failure is agreed and stops every rank; a local one stops this rank's own
 * I/O while it keeps taking part (with empty chunks) in the collective calls.
 */
static void cp_note(const struct cp_end *e, int r, int *local_rc, int *remote_rc)
{
    if (r && e->remote)
        *remote_rc = r;
    else if (r && !*local_rc)
        *local_rc = r;
}

static int cp_pass(struct cp_job *j, char *buf, char *buf2, int verify)
{
    uint32_t a = 0, b = 0;
    int lrc = 0, rrc = 0;

    for (uint64_t k = 0; k < j->iters && rrc == 0; k++) {
        uint64_t off = j->lo + k * j->o.chunk;
        uint64_t len = lrc || off >= j->hi ? 0 : CNIO_MIN(j->o.chunk, j->hi - off);

        cp_note(&j->src, cp_read(&j->src, buf, len, off), &lrc, &rrc);
        if (lrc)
            len = 0;
        if (rrc == 0)
            cp_note(&j->dst, verify ? cp_read(&j->dst, buf2, len, off)
                                    : cp_write(&j->dst, buf, len, off), &lrc, &rrc);
        if (lrc || rrc)
            continue;
        if (verify) {
            a = cnio__crc32c(a, buf, len);
            b = cnio__crc32c(b, buf2, len);
        } else {
            j->done += len;
        }
        cp_progress(j, 0);
    }
    if (lrc == 0 && rrc == 0 && a != b)
        lrc = -CNIO_ERR_CHECKSUM;
    return cp_agree(rrc ? rrc : lrc);
}

static int cp_close(struct cp_end *e)
{
    int rc = 0;

    if (e->remote && e->fh)
        rc = cnio_file_close(&e->fh);
    if (!e->remote && e->fd >= 0 && close(e->fd) < 0)
        rc = cp_errno();
    e->fd = -1;
    return rc;
}

static int cp_reopen_dst_for_verify(struct cp_job *j)
{
    if (j->dst.remote)
        return cnio_file_open(MPI_COMM_WORLD, j->dst.name, MPI_MODE_RDONLY, j->info, &j->dst.fh);
    j->dst.fd = open(j->dst.name, O_RDONLY | O_CLOEXEC);
    return cp_agree(j->dst.fd < 0 ? cp_errno() : 0);
}

/* Servers and lanes of the remote side, for the summary. */
static void cp_remote_shape(struct cp_job *j)
{
    struct cp_end *e = j->dst.remote ? &j->dst : &j->src;
    struct cnio_uri u = { 0 };
    char val[MPI_MAX_INFO_VAL + 1];
    MPI_Info info;
    int flag = 0;

    if (cnio__uri_parse(e->name, &u) == 0)
        j->nhosts = u.nhosts;
    cnio__uri_free(&u);
    j->lanes = 1;
    if (e->fh && cnio_file_get_info(e->fh, &info) == 0) {
        MPI_Info_get(info, "cnio_lanes", MPI_MAX_INFO_VAL, val, &flag);
        if (flag)
            j->lanes = atoi(val);
        MPI_Info_free(&info);
    }
}

static void cp_summary(struct cp_job *j, double secs)
{
    char a[32];

    if (j->rank != 0 || j->o.quiet)
        return;
    printf("cnio cp: %s -> %s: %llu bytes (%s) in %.3f s, %.3f GB/s; %d rank%s, %d server%s, "
           "%d lane%s\n", j->src.name, j->dst.name, (unsigned long long)j->total,
           cli_bytes(j->total, a, sizeof(a)), secs, secs > 0 ? j->total / secs / 1e9 : 0.0,
           j->size, j->size > 1 ? "s" : "", j->nhosts, j->nhosts > 1 ? "s" : "", j->lanes,
           j->lanes > 1 ? "s" : "");
}

static int cp_run(struct cp_job *j)
{
    char *buf = NULL, *buf2 = NULL;
    int rc;

    rc = cp_open_src(j);
    if (rc)
        return cli_fail("cp", j->src.name, rc);
    rc = cp_open_dst(j);
    if (rc) {
        cp_close(&j->src);
        return cli_fail("cp", j->dst.name, rc);
    }
    cp_range(j);
    cp_remote_shape(j);
    buf = malloc(j->o.chunk);
    buf2 = j->o.verify ? malloc(j->o.chunk) : NULL;
    rc = (buf && (buf2 || !j->o.verify)) ? 0 : -CNIO_ERR_NOMEM;
    MPI_Barrier(MPI_COMM_WORLD);
    j->t0 = MPI_Wtime();
    if (rc == 0)
        rc = cp_pass(j, buf, NULL, 0);
    rc = cp_agree(rc);
    {
        int rc2 = cp_close(&j->dst);
        rc = rc ? rc : cp_agree(rc2);
    }
    cp_progress(j, rc == 0);
    if (rc == 0)
        cp_summary(j, MPI_Wtime() - j->t0);
    if (rc == 0 && j->o.verify) {
        rc = cp_reopen_dst_for_verify(j);
        if (rc == 0)
            rc = cp_pass(j, buf, buf2, 1);
        cp_close(&j->dst);
        if (rc == 0 && j->rank == 0 && !j->o.quiet)
            printf("cnio cp: verify: both ends have the same CRC32C\n");
    }
    cp_close(&j->src);
    free(buf);
    free(buf2);
    return rc ? cli_fail("cp", rc == -CNIO_ERR_CHECKSUM ? "verify" : "copy", rc) : CLI_EXIT_OK;
}

int cli_cp(int argc, char **argv)
{
    struct cp_job j = { .src = { .fd = -1 }, .dst = { .fd = -1 }, .info = MPI_INFO_NULL };
    char *pos[2];
    int rc = cp_parse(&j, argc, argv, pos);

    if (rc == -2) {
        fputs(cp_help, stdout);
        return CLI_EXIT_OK;
    }
    if (rc < 0) {
        fputs(cp_help, stderr);
        return CLI_EXIT_USAGE;
    }
    j.src.name = pos[0];
    j.dst.name = pos[1];
    j.src.remote = cnio__uri_is_cnio(pos[0]);
    j.dst.remote = cnio__uri_is_cnio(pos[1]);
    if (!j.src.remote && !j.dst.remote) {
        fprintf(stderr, "cnio cp: one of SRC and DST must be a cnio:// URI\n");
        return CLI_EXIT_USAGE;
    }
    cli_mpi_init();
    MPI_Comm_rank(MPI_COMM_WORLD, &j.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &j.size);
    j.tty = isatty(STDERR_FILENO);
    rc = cli_info(&j.o, &j.info);
    rc = rc ? cli_fail("cp", "hints", rc) : cp_run(&j);
    MPI_Info_free(&j.info);
    MPI_Finalize();
    return rc;
}
