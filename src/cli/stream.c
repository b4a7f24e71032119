/*
 * stream.c - `cnio cp - URI` and `cnio cp URI -`: an object written from standard input
 * or read to standard output (`tar c dir | cnio cp - cnio://h/x.tar`, `cnio cp
 * cnio://h/x.tar - | tar x`). The upload is staged like every other one and commits
 * only when standard input ends; a failure discards it. One process does the work (rank
 * 0 under mpirun; a pipe has one reader); a reader thread fills the next chunk from
 * the pipe while the current one is on the wire, and the other way round for downloads.
 */
#include "cp.h"
#include "client.h"
#include "stack.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One chunk being filled from stdin (or drained to stdout) by the helper thread. */
struct st_pipe {
    pthread_t tid;
    int fd, write;
    char *buf;
    uint64_t cap, len;
    int err;
};

static void *st_io(void *arg)
{
    struct st_pipe *p = arg;

    p->err = 0;
    if (p->write) {
        for (uint64_t k = 0; k < p->len;) {
            ssize_t n = write(p->fd, p->buf + k, (size_t)(p->len - k));

            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                p->err = errno;
                break;
            }
            k += (uint64_t)n;
        }
        return NULL;
    }
    p->len = 0;
    while (p->len < p->cap) {
        ssize_t n = read(p->fd, p->buf + p->len, (size_t)(p->cap - p->len));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            p->err = errno;
        if (n <= 0)
            break;
        p->len += (uint64_t)n;
    }
    return NULL;
}

/* What st_upload and st_download return for a failure of standard input or output,
 * said there: not the servers' (no "remote host" message after it). */
#define ST_LOCAL 1

/* The stream's local end, as its errors name it. */
static const char *st_local_name(const struct cp_job *j)
{
    const char *name = j->src.remote ? j->dst.name : j->src.name;

    return strcmp(name, "-") ? name : j->src.remote ? "standard output" : "standard input";
}

static int st_upload(const struct cp_job *j, struct cnio_obj *obj, char *bufs[2],
                     uint64_t chunk, uint64_t *total)
{
    struct st_pipe p = { .fd = j->stream_fd, .cap = chunk, .buf = bufs[0] };
    uint64_t off = 0;
    int k = 0, ret = 0;

    st_io(&p);
    while (ret == 0 && p.err == 0 && p.len) {
        char *cur = p.buf;
        uint64_t len = p.len;
        int started;
        ssize_t n;

        k ^= 1;
        p.buf = bufs[k];
        started = pthread_create(&p.tid, NULL, st_io, &p) == 0;
        if (!started)
            st_io(&p);
        n = cnio__obj_pwrite(obj, cur, (size_t)len, off);
        if (started)
            pthread_join(p.tid, NULL);
        ret = n < 0 ? (int)n : 0;
        off += len;
    }
    if (ret == 0 && p.err) {
        cli_err("cnio cp: %s: %s\n", st_local_name(j), strerror(p.err));
        ret = ST_LOCAL;
    }
    *total = off;
    return ret == 0 ? cnio__obj_set_size(obj, off) : ret;
}

/*
 * After a download: whether a live writer had the object open in place at its start
 * (was: st_src_live's last look, before the first byte; 1 only with --live) or has it
 * now (one that opened once bytes had gone out), and whether it changed between with
 * none live at the end (an update in place that came and went while it was read). What
 * went to the stream cannot be taken back, and may hold old and new bytes mixed: either
 * is a failure (ST_LOCAL, said: exit status 1), as tar says "file changed as we read
 * it"; with --live a writer live at either end is warned of only (a read MPI-IO
 * allows). Servers that cannot say by handle (-CNIO_ERR_NOTSUP) go unchecked.
 */
static int st_src_check(const struct cp_job *j, int was, uint64_t mark0, struct cnio_obj *obj)
{
    uint64_t mark = 0;
    int now = was >= 0 ? cnio__obj_inplace(obj, &mark) : -1;

    if (now == -CNIO_ERR_INCOMPLETE) {
        cli_err("cnio cp: %s: " CLI_TORN ", and so may what went to %s: %s\n", j->src.name,
                st_local_name(j), CLI_TORN_ADVICE);
        return ST_LOCAL;
    }
    if ((was == 1 || now == 1) && j->o.live)
        cli_err("cnio cp: warning: %s was being updated in place by a live writer during the "
                "copy, so the copy may hold old and new bytes mixed (MPI consistency semantics "
                "allow a read to see both); copy it again once its writer has closed it for "
                "one version\n", j->src.name);
    else if (now == 1) {
        cli_err("cnio cp: %s: written in place by a live writer (a program has it open) as it "
                "was read, so what went to %s may hold old and new bytes mixed: %s\n",
                j->src.name, st_local_name(j), CLI_LIVE_ADVICE);
        return ST_LOCAL;
    }
    if (was == 0 && now == 0 && mark != mark0) {
        cli_err("cnio cp: %s: changed as it was read (updated in place during the copy), so "
                "what went to %s may hold old and new bytes mixed: copy it again once its "
                "writers are done\n", j->src.name, st_local_name(j));
        return ST_LOCAL;
    }
    return 0;
}

/*
 * Before a download, before a byte goes to the stream (which cannot take one back): a
 * live writer that has the object open in place would make what goes to the stream a
 * mix of old and new bytes, so it is waited for as a copy waits before a pass
 * (cli_live_wait_obj, CLI_LIVE_WAIT_MS at most; not with --live), and one still live
 * then refuses the download (ST_LOCAL, said) with nothing sent; so does an update in
 * place that was interrupted (its writer went without closing it, before or during the
 * wait). The last look's answer (1, 0, or a negative code: unchecked) in *was, its mark
 * in *mark0 (the version the download reads, that st_src_check compares). A writer
 * that opens once bytes have gone out cannot be waited for: st_src_check fails the
 * download at its end.
 */
static int st_src_live(const struct cp_job *j, struct cnio_obj *obj, int *was, uint64_t *mark0)
{
    *was = cnio__obj_inplace(obj, mark0);
    if (*was == 1 && !j->o.live)
        *was = cli_live_wait_obj(obj, mark0);
    if (*was == -CNIO_ERR_INCOMPLETE) {
        cli_err("cnio cp: %s: " CLI_TORN ": nothing was sent to %s; %s\n", j->src.name,
                st_local_name(j), CLI_TORN_ADVICE);
        return ST_LOCAL;
    }
    if (*was != 1 || j->o.live)
        return 0;
    cli_err("cnio cp: %s: being written in place by a live writer (a program has it open, "
            "still after " CLI_LIVE_WAIT_S " of waiting for it to close), and a stream cannot "
            "be copied again: nothing was sent to %s; %s\n", j->src.name, st_local_name(j),
            CLI_LIVE_ADVICE);
    return ST_LOCAL;
}

static int st_download(const struct cp_job *j, struct cnio_obj *obj, char *bufs[2],
                       uint64_t chunk, uint64_t *total)
{
    struct st_pipe p = { .fd = j->stream_fd, .write = 1 };
    uint64_t size = 0, off = 0, mark0 = 0;
    int k = 0, was, started = 0;
    int ret = st_src_live(j, obj, &was, &mark0);

    if (ret == 0)   /* (after the wait: the size the writer left) */
        ret = cnio__obj_size(obj, &size);
    while (ret == 0 && off < size) {
        ssize_t n = cnio__obj_pread(obj, bufs[k], (size_t)CNIO_MIN(chunk, size - off), off);

        if (started)
            pthread_join(p.tid, NULL);
        started = 0;
        if (p.err) {
            cli_err("cnio cp: %s: %s\n", st_local_name(j), strerror(p.err));
            return ST_LOCAL;
        }
        if (n <= 0)
            return n < 0 ? (int)n : -CNIO_ERR_IO;
        p.buf = bufs[k];
        p.len = (uint64_t)n;
        started = pthread_create(&p.tid, NULL, st_io, &p) == 0;
        if (!started)
            st_io(&p);
        off += (uint64_t)n;
        k ^= 1;
    }
    if (started)
        pthread_join(p.tid, NULL);
    if (ret == 0 && p.err) {
        cli_err("cnio cp: %s: %s\n", st_local_name(j), strerror(p.err));
        ret = ST_LOCAL;
    }
    if (ret == 0)
        ret = st_src_check(j, was, mark0, obj);
    *total = off;
    return ret;
}

/* What the user of a stream can do once a remote host no longer knows its open (it
 * restarted): the library's "open the file again" is a program's remedy, and --resume
 * takes no stream (cp_ui.c), so the whole pipeline goes again. */
static const char *st_gone_advice(const struct cp_job *j)
{
    return j->dst.remote ? "run the pipeline again (a stream is read once, and "
                           "`cnio cp --resume` takes none)"
                         : "run the pipeline again (what went to the stream so far is "
                           "incomplete)";
}

static int st_run(struct cp_job *j)
{
    const char *uri = j->src.remote ? j->src.name : j->dst.name;
    struct cnio_uri u = { 0 };
    struct cnio_hints h;
    struct cnio_stack *st = NULL;
    struct cnio_obj *obj = NULL;
    char *bufs[2] = { malloc(j->o.chunk), malloc(j->o.chunk) };
    uint32_t fl = j->dst.remote ? CNIO_WIRE_O_WRITE | CNIO_WIRE_O_CREATE | CNIO_WIRE_O_STAGE |
                                  CNIO_WIRE_O_TRUNC : 0;
    uint64_t total = 0;
    double t0 = MPI_Wtime();
    unsigned said = cnio__log_errors();
    int ret = bufs[0] && bufs[1] ? cnio__uri_parse(uri, &u) : -CNIO_ERR_NOMEM;

    if (ret == 0 && j->stream_fd <= 1 && (cli_std_closed & (1 << j->stream_fd))) {
        cli_err("cnio cp: standard %s is closed\n", j->dst.remote ? "input" : "output");
        ret = ST_LOCAL;
    }
    if (ret == 0)
        ret = cli_hints(&j->o, &u, &h);
    if (ret == 0)
        ret = cnio__stack_open(&st);
    if (ret == 0)
        cnio__stack_set_advice(st, st_gone_advice(j), "copying it again replaces it");
    if (ret == 0)
        ret = cnio__obj_open(st, &u, &h, fl, &obj);
    if (ret == 0)
        ret = j->dst.remote ? st_upload(j, obj, bufs, j->o.chunk, &total)
                            : st_download(j, obj, bufs, j->o.chunk, &total);
    if (obj && ret && j->dst.remote) {
        j->aborted = cnio__obj_abort(obj) == 0 ? 1 : -1;   /* kept whole if a host is out of reach */
        j->silent = ret == -CNIO_ERR_TIMEOUT;
        cp_discard(j);
    } else if (obj) {
        int r2 = cnio__obj_close(obj);   /* an upload commits here */

        ret = ret ? ret : r2;
    }
    if (ret < 0) {
        char dir[CNIO_WIRE_MAX_NAME + 1];
        int foreign;

        if (ret == -CNIO_ERR_NOENT && j->dst.remote && st &&
            cli_object_on_way(st, &h, &u, dir, sizeof(dir), &foreign))
            cli_err("cnio cp: %s: %s is an object%s, not a directory\n", uri, dir,
                    cli_foreign(foreign));
        else if (ret == -CNIO_ERR_STALE) {   /* not cnio_strerror's "open the file again" */
            if (!cnio__log_said_since(said, st_gone_advice(j)))
                cli_err("cnio cp: %s: a remote host no longer knows this %s (it restarted); "
                        "%s\n", uri, j->dst.remote ? "upload" : "download",
                        st_gone_advice(j));
        } else if ((cnio__err_conn(ret) || ret == -CNIO_ERR_TIMEOUT) && obj &&
                   !j->dst.remote) {
            /* a host lost part way through a download (a server restarted while it was
             * reconnected to, under load: tree-restart.test in ci-132): what the stream's
             * user can do, too (an upload's discard says what replaces it) */
            if (!cli_said(said, ret))
                cli_fail("cp", uri, ret);
            if (!cnio__log_said_since(said, st_gone_advice(j)))
                cli_err("cnio cp: %s: the download stopped part way; %s\n", uri,
                        st_gone_advice(j));
        } else if (!cli_said(said, ret)) {   /* else the library's line named the host and why */
            cli_fail("cp", uri, ret);
        }
    } else if (ret == 0 && !j->o.quiet) {   /* (as a file copy's summary says it) */
        double secs = MPI_Wtime() - t0;
        char a[32];

        cli_err("cnio cp: %s -> %s: %llu bytes (%s) in %.3f s, %.3f GB/s\n", j->src.name,
                j->dst.name, (unsigned long long)total, cli_bytes(total, a, sizeof(a)), secs,
                secs > 0 ? (double)total / secs / 1e9 : 0.0);
    }
    if (st)
        cnio__stack_close(st);
    cnio__uri_free(&u);
    free(bufs[0]);
    free(bufs[1]);
    return cli_status(ret);
}

int cli_stream_cp(struct cp_job *j)
{
    int rc = CLI_EXIT_OK;

    if (j->rank == 0)
        rc = st_run(j);
    MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return rc;
}
