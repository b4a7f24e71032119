/*
 * cp.c - `cnio cp SRC DST`: copies between a local file and a cnio:// object (or two
 * objects) through the public API. Under `mpirun -n N` each rank moves its own share
 * (a contiguous, stripe-aligned range) straight between its local file and the servers;
 * as a singleton the one process moves everything.
 *
 * Uploads read the rank's range of the source ahead into a small ring of reused buffers
 * (localio.c: a reader thread preads the next chunk while this one is sent), so no page
 * of the source is faulted in and memory stays bounded whatever the file's size;
 * downloads hand each chunk to a writer thread, which pwrites it while the next chunk
 * arrives. Every chunk buffer is populated when allocated (cli_buf_alloc).
 */
#include "cp.h"
#include "log.h"
#include "client.h"
#include "stack.h"
#include "tree.h"
#include "wire.h"
#include "../../collective/coll.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mpi.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

int cp_agree(int rc)
{
    int out;

    MPI_Allreduce(&rc, &out, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return out;
}

/*
 * The first local failure of this process: the file and errno (or a message). It is
 * reported instead of the CNIO_ERR_* wording, which speaks of remote hosts ("no space
 * left on a remote host" for a full local disk was what a download said before).
 */
static struct {
    int err;
    const char *name;
    const char *msg;
} cp_lerr;

int cp_local_fail(const struct cp_end *e, int err, const char *msg)
{
    if (!cp_lerr.err) {
        cp_lerr.err = err;
        cp_lerr.name = e->name;
        cp_lerr.msg = msg;
    }
    return cnio__err_from_errno(err);
}

/*
 * Rank 0, after the open of a remote DST failed with "no such object": a server says so
 * when an object stands where a directory of DST's name must be ("cnio cp f
 * cnio://h/obj/" with obj an object means obj/f). Looks each directory of the name up
 * (one STAT each, on this failure only) and, when one is an object, says so by its name:
 * 1, or 0 when none is (the caller then says "no such object").
 */
static int cp_dst_under_object(const struct cp_job *j)
{
    char dir[CNIO_WIRE_MAX_NAME + 1];
    struct cnio_stack *st = NULL;
    struct cnio_hints h;
    struct cnio_uri u;
    int found = 0, foreign;

    if (cnio__uri_parse(j->dst.name, &u))
        return 0;
    if (cli_hints(&j->o, &u, &h) == 0 && cnio__stack_open(&st) == 0) {
        found = cli_object_on_way(st, &h, &u, dir, sizeof(dir), &foreign);
        if (found)
            cli_err("cnio cp: %s: %s is an object%s, not a directory\n", j->dst.name, dir,
                    cli_foreign(foreign));
        cnio__stack_close(st);
    }
    cnio__uri_free(&u);
    return found;
}

/*
 * What the user of a copy can do once a remote host no longer knows its open (it
 * restarted: CNIO_ERR_STALE), in the library's lines (cnio__stack_set_advice) and
 * cp_report's: the library's "open the file again" is a program's remedy. A failed
 * upload is discarded and a failed download's part file removed, so the copy goes
 * again; with --resume a download keeps its part file to go on from (cp_discard), and a
 * tree's --resume copies the files that are not there yet.
 */
static const char *cp_gone_advice(const struct cp_job *j)
{
    if (j->o.recursive)
        return "run the same command with --resume (it copies the rest)";
    if (!j->dst.remote && j->o.resume)
        return "run the copy again (with --resume it goes on from the partial download)";
    return "run the copy again";
}

/* Gives the stack of e's open (each open has its own) the copy's words for its user. */
static void cp_advise(const struct cp_job *j, struct cp_end *e)
{
    struct cnio_obj *obj = e->remote ? cnio__file_obj(e->fh) : NULL;

    if (obj)
        cnio__stack_set_advice(cnio__obj_stack(obj), cp_gone_advice(j), NULL);
}

int cp_report(const struct cp_job *j, const char *what, int rc)
{
    int mine = cp_lerr.err != 0, any = 0, me = mine ? j->rank : INT_MAX, low = INT_MAX;
    char line[1024] = "", first[1024] = "";

    MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (any) {
        MPI_Allreduce(&me, &low, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
        if (mine)
            snprintf(line, sizeof(line), "cnio cp: %s: %s\n", cp_lerr.name,
                     cp_lerr.msg ? cp_lerr.msg : strerror(cp_lerr.err));
        if (j->rank == low)
            memcpy(first, line, sizeof(first));
        MPI_Bcast(first, sizeof(first), MPI_CHAR, low, MPI_COMM_WORLD);
        if (mine && (j->rank == low || strcmp(line, first)))
            cli_err("%s", line);
    } else if (j->rank == 0) {
        /* (asked even when the library said "no such object" for a host: the OPEN's
         * leftovers go, and the object in the way is named) */
        int under = rc == -CNIO_ERR_NOENT && j->dst.remote && what == j->dst.name &&
                    cp_dst_under_object(j);

        if (under || cli_said_of(j->lib_errors, rc, j->dst.remote ? j->dst.name : j->src.name))
            return cli_status(rc);   /* said */
        if (rc != -CNIO_ERR_STALE)
            cli_fail("cp", what, rc);
        else if (!cnio__log_said_since(j->lib_errors, cp_gone_advice(j)))   /* (not strerror's) */
            cli_err("cnio cp: %s: a remote host no longer knows this copy's open (it "
                    "restarted, or released it); %s\n", what, cp_gone_advice(j));
    }
    return any ? CLI_EXIT_FAIL : cli_status(rc);
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
    j->src.fd = open(j->src.name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (j->src.fd < 0)
        rc = cp_local_fail(&j->src, errno, NULL);
    else if ((rc = cli_regular(j->src.fd)) != 0)
        rc = cp_local_fail(&j->src, rc, rc == ENODEV ? CLI_NOT_REGULAR_WHY : NULL);
    else if (fstat(j->src.fd, &sb) < 0)
        rc = cp_local_fail(&j->src, errno, NULL);
    else if ((rc = cli_snap(j->src.fd, &j->src_snap)) != 0)
        rc = cp_local_fail(&j->src, rc, NULL);
    else if (cli_longer_than(j->src.fd, (uint64_t)sb.st_size))
        rc = cp_local_fail(&j->src, EIO, CLI_LONGER_WHY);
    else
        j->total = (uint64_t)sb.st_size;
    j->src_mode = rc == 0 ? (uint32_t)sb.st_mode : 0;
    rc = cp_agree(rc);
    if (rc == 0)
        MPI_Bcast(&j->total, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    return rc;
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
            return cp_local_fail(e, r < 0 ? errno : EIO,
                                 r < 0 ? NULL : "shorter than when the copy began");
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
            return cp_local_fail(e, errno, NULL);
        n += (uint64_t)r;
    }
    return 0;
}

/* Rank 0's progress line on a terminal: bytes done (this rank's times the ranks), the
 * rate of the bytes that moved (not those a --resume, a hole or a repeated pass found
 * there already, which cost no transfer) and the time left at that rate. */
static void cp_progress(struct cp_job *j, int final)
{
    char a[32], b[32];
    double now = MPI_Wtime(), el = now - j->t0, rate;
    uint64_t est = CNIO_MIN(j->total, j->done * (uint64_t)j->size);

    if (j->rank != 0 || !j->tty || j->o.quiet || (!final && now - j->last_print < 0.25))
        return;
    j->last_print = now;
    if (final)
        est = j->total;
    rate = el > 0 ? (double)j->moved * j->size / el : 0.0;
    fprintf(stderr, "\r  %s / %s  %3d%%", cli_bytes(est, a, sizeof(a)),
            cli_bytes(j->total, b, sizeof(b)), j->total ? (int)(100.0 * est / j->total) : 100);
    cli_progress_rate(rate, j->total - est, final);
}

void cp_range(struct cp_job *j)
{
    uint64_t unit = j->o.chunk, chunks = (j->total + unit - 1) / unit;

    j->lo = CNIO_MIN(j->total, chunks * (uint64_t)j->rank / (uint64_t)j->size * unit);
    j->hi = CNIO_MIN(j->total, chunks * (uint64_t)(j->rank + 1) / (uint64_t)j->size * unit);
    j->iters = (chunks + (uint64_t)j->size - 1) / (uint64_t)j->size;
}

static void cp_note(const struct cp_end *e, int r, int *local_rc, int *remote_rc)
{
    if (r && e->remote)
        *remote_rc = r;
    else if (r && !*local_rc)
        *local_rc = r;
}

/* Fetches chunk [off, off + len) of the source: from the read-ahead ring when there is
 * one (*data points into it), else read into buf. */
static int cp_fetch(struct cp_end *src, struct cli_reader *rd, char *buf, uint64_t len,
                    uint64_t off, const char **data)
{
    int e;

    *data = buf;
    if (!rd || !len)
        return cp_read(src, buf, len, off);
    e = cli_reader_get(rd, off, len, data);
    if (e)
        return cp_local_fail(src, e < 0 ? EIO : e,
                             e < 0 ? "shorter than when the copy began" : NULL);
    return 0;
}

/*
 * --resume: 1 when the chunk [off, off + len) is already at the destination (it is then
 * not moved), else 0. Uploads compare data (the source's bytes) with the staged object;
 * downloads read the partial local file into buf first and compare it with the object.
 * A failure to compare is this rank's own (*lrc), as the collective calls go on.
 */
static int cp_resume_skip(struct cp_job *j, char *buf, const char *data, uint64_t off,
                          uint64_t len, int *lrc)
{
    struct cp_end *remote = j->dst.remote ? &j->dst : &j->src;
    int same = 0, rc;

    if (buf) {
        uint64_t n = 0;

        while (n < len) {
            ssize_t r = pread(j->ref_fd >= 0 ? j->ref_fd : j->dst.fd, buf + n, len - n,
                              (off_t)(off + n));

            if (r <= 0)
                return 0;   /* shorter: not there yet */
            n += (uint64_t)r;
        }
    }
    rc = cli_resume_same(cnio__file_obj(remote->fh), data, off, len, &same);
    if (rc && !*lrc)
        *lrc = rc;
    return rc == 0 && same;
}

static int cp_zero(const char *p, uint64_t n)
{
    return n == 0 || (p[0] == 0 && memcmp(p, p + 1, (size_t)n - 1) == 0);
}

/* An upload whose source changed while this rank read it (its size, or a write: mtime,
 * ctime) fails, and with it the upload, which is then discarded, not committed as a mix
 * of two versions (the local rc returned). */
static int cp_upload_size(struct cp_job *j, int lrc, int rrc)
{
    struct stat sb;

    if (lrc || fstat(j->src.fd, &sb) < 0)
        return lrc;
    if (rrc == 0 &&
        ((uint64_t)sb.st_size != j->total || cli_snap_changed(j->src.fd, &j->src_snap)))
        return cp_local_fail(&j->src, EIO, "changed during the copy (written to meanwhile)");
    if (rrc && j->rank == 0 && (uint64_t)sb.st_size < j->total)
        return cp_local_fail(&j->src, EIO, "shrank during the copy");
    return lrc;
}

/*
 * One pass over this rank's range in chunks: read each chunk from the source, and either
 * write it to the destination (copy) or compare it with the same chunk there (verify, by
 * CRC32C). Downloads use both buffers in turn (one arriving, one being written).
 * A remote failure is agreed and stops every rank; a local one stops this rank's own
 * I/O while it keeps taking part (with empty chunks) in the collective calls.
 */
/* Hands the download's writer len bytes of buf for offset off (len 0: waits for the
 * writes before), a failure of the writes before said as a local one. */
static int cp_put(struct cp_job *j, struct cli_writer *w, const char *buf, uint64_t len,
                  uint64_t off)
{
    int e = cli_writer_put(w, buf, len, off);

    return e ? cp_local_fail(&j->dst, e, NULL) : 0;
}

static int cp_pass(struct cp_job *j, char *bufs[2], char *buf2, int verify)
{
    int upload = !verify && !j->src.remote && j->dst.remote;
    int download = !verify && j->src.remote && !j->dst.remote;
    /* a chunk of zeros is not written to a fresh destination (its size is set at open: a
     * new instance, a download's part file made anew), so that a sparse file or object
     * stays sparse (and an upload does not send it) */
    int hole = !verify && (j->src.remote || j->dst.remote) && !j->resumed && !j->again;
    struct cli_reader *rd = NULL;
    struct cli_writer *w = NULL;
    uint32_t a = 0, b = 0;
    int lrc = 0, rrc = 0;

    if (download)
        lrc = cli_writer_open(j->dst.fd, &w);
    if (upload && j->hi > j->lo)
        lrc = cli_reader_open(j->src.fd, j->lo, j->hi, j->o.chunk, &rd);
    for (uint64_t k = 0; k < j->iters && rrc == 0; k++) {
        char *buf = bufs[download ? k & 1 : 0];
        uint64_t off = j->lo + k * j->o.chunk;
        uint64_t len = lrc || off >= j->hi ? 0 : CNIO_MIN(j->o.chunk, j->hi - off), skip = 0;
        const char *data;

        if (download && j->resumed && len && cp_resume_skip(j, buf, buf, off, len, &lrc)) {
            if (j->ref_fd >= 0)   /* the bytes DST has are the part's too */
                cp_note(&j->dst, cp_put(j, w, buf, len, off), &lrc, &rrc);
            skip = len, len = 0;
        }
        cp_note(&j->src, cp_fetch(&j->src, rd, buf, len, off, &data), &lrc, &rrc);
        if (lrc)
            len = 0;
        if (upload && j->resumed && len && cp_resume_skip(j, NULL, data, off, len, &lrc))
            skip = len, len = 0;
        if (lrc)
            len = 0;
        if (hole && len && cp_zero(data, len))
            skip = len, len = 0;   /* the destination reads zeros there already */
        if (rrc == 0)
            cp_note(&j->dst, verify ? cp_read(&j->dst, buf2, len, off)
                             : download ? cp_put(j, w, data, len, off)
                             : cp_write(&j->dst, data, len, off), &lrc, &rrc);
        if (verify && !lrc && !rrc) {
            a = cnio__crc32c(a, data, len);
            b = cnio__crc32c(b, buf2, len);
        }
        if (lrc || rrc)
            continue;
        if (!verify) {
            j->done += len + skip;
            j->moved += len;
        }
        cp_progress(j, 0);
    }
    if (download)
        cp_note(&j->dst, cp_put(j, w, NULL, 0, 0), &lrc, &rrc);
    cli_writer_close(w);
    if (upload)
        lrc = cp_upload_size(j, lrc, rrc);
    cli_reader_close(rd);
    if (lrc == 0 && rrc == 0 && a != b)
        lrc = -CNIO_ERR_CHECKSUM;
    return cp_agree(rrc ? rrc : lrc);
}

/* Notes the transport (and provider) that carried e's data, for the summary. */
static void cp_note_carrier(struct cp_end *e)
{
    if (e->remote && e->fh && e->fh->obj)
        snprintf(e->carrier, sizeof(e->carrier), "%s", cnio__obj_carrier(e->fh->obj));
}

static int cp_close(struct cp_end *e)
{
    int rc = 0;

    cp_note_carrier(e);
    if (e->remote && e->fh)
        rc = cnio_file_close(&e->fh);
    if (!e->remote && e->fd >= 0 && close(e->fd) < 0)
        rc = cp_local_fail(e, errno, NULL);
    e->fd = -1;
    return rc;
}

/*
 * Rank 0, -p, once the copy is complete under DST's name: gives DST the mode and mtime
 * of SRC: a local file's (followed, as this copy opened it), or those the object recorded (one
 * uploaded without -p has no mode: DST keeps its own). 0, or a negative code (said: the
 * copy's bytes stay where they are, and the exit status is 1).
 */
static int cp_preserve(struct cp_job *j)
{
    struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { 0 } };
    uint32_t mode = 0;
    int64_t mtime = 0;
    int rc = 0;

    if (j->src.remote) {
        rc = cli_obj_getattr(&j->o, j->src.name, &mode, &mtime);
    } else {
        /* the version copied, as opened (its pass found it unchanged), not the file at
         * SRC's name now: one renamed over it since gave the old bytes its mtime, and a
         * later --sync took them for it */
        struct timespec t = { .tv_sec = (time_t)j->src_snap.mtime_s,
                              .tv_nsec = (long)j->src_snap.mtime_ns };

        mode = j->src_mode;
        mtime = cnio__ns_of_ts(&t);
    }
    if (rc || (j->dst.remote && !mode))
        return rc;
    if (j->dst.remote)
        return cli_obj_setattr(&j->o, j->dst.name, mode, mtime);
    ts[1] = cnio__ts_of_ns(mtime);
    if ((mode && chmod(j->final, (mode_t)(mode & 07777)) < 0) ||
        utimensat(AT_FDCWD, j->final, ts, 0) < 0) {
        rc = cnio__err_from_errno(errno);
        cli_err("cnio cp: -p: %s: %s\n", j->final, strerror(errno));
    }
    return rc;
}

static int cp_reopen_dst_for_verify(struct cp_job *j)
{
    if (j->dst.remote) {
        int rc = cnio_file_open(MPI_COMM_WORLD, j->dst.name, MPI_MODE_RDONLY, j->info,
                                &j->dst.fh);

        if (rc == 0)
            cp_advise(j, &j->dst);
        return rc;
    }
    j->dst.fd = open(j->part, O_RDONLY | O_CLOEXEC);
    return cp_agree(j->dst.fd < 0 ? cp_local_fail(&j->dst, errno, NULL) : 0);
}

/*
 * The copy itself, both ends open: the pass over the data (made again, up to CLI_PASSES
 * in all, while a remote SRC changes under it or a live writer has it open in place:
 * cp_src_changed; none begun while a live writer still has it open: cp_src_gate), the
 * upload's commit or abort, the summaries, --verify's second pass
 * and the download's rename. 0 or a negative code (the same on every rank); *copied:
 * the first pass and the commit succeeded. Collective.
 */
static int cp_transfer(struct cp_job *j, int *copied)
{
    char *bufs[2] = { NULL, NULL }, *buf2 = NULL;
    int two = j->src.remote && !j->dst.remote;   /* a download: one arriving, one written */
    int rc, need0, inplace, pass = 1, why = CLI_PASS_SAME;
    struct cp_look before = { 0 }, after = { 0 };

    cp_range(j);
    cp_remote_shape(j);
    /* an upload's copy pass reads into the reader's ring: bufs[0] only for --verify */
    need0 = j->src.remote || !j->dst.remote || j->o.verify;
    bufs[0] = need0 ? cli_buf_alloc(j->o.chunk) : NULL;
    bufs[1] = two ? cli_buf_alloc(j->o.chunk) : bufs[0];
    buf2 = j->o.verify ? cli_buf_alloc(j->o.chunk) : NULL;
    rc = ((bufs[0] || !need0) && (bufs[1] || !two) && (buf2 || !j->o.verify)) ? 0
                                                                             : -CNIO_ERR_NOMEM;
    cp_src_look(j, &before);
    MPI_Barrier(MPI_COMM_WORLD);
    j->t0 = MPI_Wtime();
    j->last_print = j->t0 - 1;   /* the first chunk's line at once */
    for (;;) {
        rc = cp_src_gate(j, &before, rc);
        if (rc == 0 && why && j->rank == 0)
            cp_say_again(j, why, pass);
        if (rc == 0)
            rc = cp_pass(j, bufs, NULL, 0);
        rc = cp_agree(rc);
        if (rc || !(why = cp_src_changed(j, pass, &before, &after, &rc)))
            break;
        before = after;
        j->done = 0;
        j->again = 1;
        pass++;
    }
    inplace = rc == 0 && (before.inplace || after.inplace);
    if (rc && j->dst.remote) {
        /* Nothing of a failed upload becomes visible: its staged instance goes. */
        j->aborted = cnio__file_abort(&j->dst.fh) == 0 ? 1 : -1;
    } else {
        int rc2 = 0;

        if (rc == 0 && !j->dst.remote && fsync(j->dst.fd) < 0)
            rc2 = cp_local_fail(&j->dst, errno, NULL);   /* the bytes before the name */
        rc2 = rc2 ? rc2 : cp_close(&j->dst);   /* an upload commits here */
        rc = rc ? rc : cp_agree(rc2);
    }
    *copied = rc == 0;
    cp_progress(j, *copied);
    cp_note_carrier(&j->src);
    if (rc == 0)
        cp_summary(j, MPI_Wtime() - j->t0);
    else if (j->rank == 0 && j->tty && !j->o.quiet)
        fputc('\n', stderr);   /* end the progress line */
    if (inplace)   /* (--live; rank 0's alone; said even with -q: not one version) */
        cli_err("cnio cp: warning: %s was being updated in place by a live writer during the "
                "copy, so the copy may hold old and new bytes mixed (MPI consistency semantics "
                "allow a read to see both); copy it again once its writer has closed it for "
                "one version\n", j->src.name);
    if (rc == 0 && j->o.verify) {
        rc = cp_reopen_dst_for_verify(j);
        if (rc == 0)
            rc = cp_pass(j, bufs, buf2, 1);
        cp_close(&j->dst);
        if (rc == 0 && j->rank == 0 && !j->o.quiet)
            printf("cnio cp: verify: both ends have the same CRC32C\n");
    }
    if (rc == 0 && !j->dst.remote)
        rc = cp_agree(j->rank == 0 ? cp_sig_commit(j) : 0);
    cp_sig_catch(j, 0);
    if (bufs[1] != bufs[0])
        cli_buf_free(bufs[1], j->o.chunk);
    cli_buf_free(bufs[0], j->o.chunk);
    cli_buf_free(buf2, j->o.chunk);
    return rc;
}

/* Rank 0's answer, agreed: the mode of a remote SRC that `cnio cp -r` recorded as a
 * symbolic link (S_IFLNK), else 0. */
static uint32_t cp_src_link(const struct cp_job *j)
{
    uint32_t mode = j->src.remote && j->rank == 0 ? cnio__obj_mode(cnio__file_obj(j->src.fh))
                                                  : 0;

    MPI_Bcast(&mode, 1, MPI_UINT32_T, 0, MPI_COMM_WORLD);
    return S_ISLNK(mode) ? mode : 0;
}

/*
 * SRC a link object to a local DST: a symbolic link with its target is made in DST's
 * place, as `cnio cp -r` makes it (and cp -P); before, DST was a regular file holding the
 * target's text, exit 0 (helper-108's 2). Rank 0; 0 or a negative code (said).
 */
static int cp_link_down(struct cp_job *j)
{
    char target[TF_LINK_MAX], tmp[PATH_MAX + 32];
    int rc = tf_read_link(cnio__file_obj(j->src.fh), j->total, target);

    if (rc) {
        cli_fail("cp", j->src.name, rc);
        return rc;
    }
    /* beside DST, then over it: DST is never missing, nor half made */
    snprintf(tmp, sizeof(tmp), "%s.cnio-link.%ld", j->dst.name, (long)getpid());
    if (symlink(target, tmp) < 0 || rename(tmp, j->dst.name) < 0) {
        rc = cp_local_fail(&j->dst, errno, NULL);
        unlink(tmp);
        return rc;
    }
    if (!j->o.quiet)
        printf("cnio cp: %s -> %s: a symbolic link (-> %s), made as one\n", j->src.name,
               j->dst.name, target);
    return 0;
}

int cp_run(struct cp_job *j)
{
    int rc, copied = 0;

    j->ref_fd = j->part_lock = -1;
    j->lib_errors = cnio__log_errors();
    rc = cp_open_src(j);
    if (rc)
        return cp_report(j, j->src.name, rc);
    j->link_mode = cp_src_link(j);
    if (j->link_mode && !j->dst.remote && j->stream_fd < 0) {
        rc = cp_agree(j->rank == 0 ? cp_link_down(j) : 0);
        cp_close(&j->src);
        return rc ? CLI_EXIT_FAIL : CLI_EXIT_OK;
    }
    cp_advise(j, &j->src);
    rc = cp_open_dst(j);
    if (rc) {
        if (j->dst.fh)
            cnio__file_abort(&j->dst.fh);
        cp_close(&j->src);
        cp_close(&j->dst);
        cp_report(j, j->dst.name, rc);
        if (j->rank == 0 && j->part_open)
            cp_discard(j);
        goto free_names;
    }
    cp_advise(j, &j->dst);
    if (j->there) {
        if (j->rank == 0 && !j->o.quiet)
            printf("cnio cp: %s -> %s: already there and identical (%llu bytes compared); "
                   "nothing moved\n", j->src.name, j->dst.name, (unsigned long long)j->total);
        cp_close(&j->src);
        goto preserve;
    }
    cp_sig_catch(j, 1);
    rc = cp_transfer(j, &copied);
    cp_close(&j->src);
    if (j->ref_fd >= 0)
        close(j->ref_fd);
    if (rc == 0)
        goto preserve;
    cp_report(j, rc == -CNIO_ERR_CHECKSUM && j->o.verify ? "verify"
                 : j->dst.remote ? j->dst.name : j->src.name, rc);
    j->silent = rc == -CNIO_ERR_TIMEOUT;
    if ((!copied || !j->dst.remote) && j->rank == 0)
        cp_discard(j);
    goto free_names;
preserve:   /* the bytes are in place, under DST's name */
    if (j->o.preserve)
        rc = cp_agree(j->rank == 0 ? cp_preserve(j) : 0);
    else if (j->link_mode && j->dst.remote)   /* a link object's copy is one too */
        rc = cp_agree(j->rank == 0 ? cli_obj_setattr(&j->o, j->dst.name, j->link_mode,
                                                     CNIO_MTIME_NONE) : 0);
free_names:
    if (j->part_lock >= 0)
        close(j->part_lock);   /* after the rename, or the discard */
    j->part_lock = -1;
    free(j->final);
    free(j->part);
    j->final = j->part = NULL;
    return cli_status(rc);
}
