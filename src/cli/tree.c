/*
 * tree.c - `cnio cp -r SRC DST` under `mpirun -n N`: copies a tree of files between a
 * local directory and objects beneath a cnio:// name, or between two cnio:// names.
 *
 * All ranks list the source (and, for --sync and --resume, the destination) together,
 * one directory each at a time (tree_pwalk.c); rank 0 decides what is to be copied and
 * broadcasts the list, and the ranks make the directories, each its share (all of that
 * in tree_plan.c). Files then go
 * to the ranks as they ask for them: a counter in an MPI window on rank 0 is the work
 * queue, and each rank takes the next few files with MPI_Fetch_and_op whenever it is
 * done with its last ones (largest files first, so that the last files handed out are
 * small and every rank finishes at nearly the same time). Each rank copies the files it
 * took with TREE_WORKERS threads, each with its own stack and one connection per server
 * (opened once; every object it copies borrows it), so that many files are in flight
 * at once: a small file costs a few round trips (open, write, commit, which syncs it to
 * disk on the servers, close) and little bandwidth, and one at a time a rank would
 * mostly wait. Files of at least 4 chunks (64 MiB by default; not sparse ones) are
 * copied afterwards, one at a time, by all ranks together as a single-file `cnio
 * cp` does: each rank moves its own stripe-aligned share. Last, with -p, rank 0 sets
 * the directories' modes and mtimes, deepest first.
 */
#include "tree_int.h"
#include "log.h"
#include "stack.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int tree_end_init(struct tree_run *r, struct tree_end *e, const char *name, int remote)
{
    memset(e, 0, sizeof(*e));
    e->name = name;
    e->remote = remote;
    e->dirfd = -1;
    if (!remote)
        return 0;
    if (cnio__uri_parse(name, &e->u))
        return -CNIO_ERR_URI;
    return cli_hints(&r->j->o, &e->u, &e->h);
}

/* Adds to rank 0's counts files and bytes done, of which moved bytes went over the
 * network (the rest found there already). */
static void tree_done(struct tree_run *r, uint64_t files, uint64_t bytes, uint64_t moved)
{
    uint64_t v[3] = { bytes, files, moved }, old[3];

    MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, r->win);
    MPI_Fetch_and_op(&v[0], &old[0], MPI_UINT64_T, 0, 1, MPI_SUM, r->win);
    MPI_Fetch_and_op(&v[1], &old[1], MPI_UINT64_T, 0, 2, MPI_SUM, r->win);
    MPI_Fetch_and_op(&v[2], &old[2], MPI_UINT64_T, 0, 4, MPI_SUM, r->win);
    MPI_Win_unlock(0, r->win);
}

/* Closes and opens again the sessions of c (a worker's, or rank 0's own), which may hold
 * the connection that broke: 0, or the first open's error (that session is then NULL). */
static int tree_reopen(struct tree_ctx *c)
{
    int ret = 0;

    for (int k = 0; k < 2; k++) {
        struct cnio_ns **ns = k ? &c->src_ns : &c->ns;
        struct tree_end *end = k ? c->src : c->dst;
        int r;

        if (!*ns)
            continue;
        cnio__ns_close(*ns);
        r = cnio__ns_open(c->st, &end->u, &end->h, ns);
        if (r)
            *ns = NULL;
        ret = ret ? ret : r;
    }
    return ret;
}

/* 1 when one of c's sessions broke because its host stopped answering for
 * cnio_timeout_ms (cnio__ns_broken), with that host's "name:port" in host (cap bytes;
 * NULL: not wanted). */
static int tree_silent_host(const struct tree_ctx *c, char *host, size_t cap)
{
    return cnio__ns_broken(c->ns, host, cap) == -CNIO_ERR_TIMEOUT ||
           cnio__ns_broken(c->src_ns, host, cap) == -CNIO_ERR_TIMEOUT;
}

/* ret of a try or batch over c's sessions, with a broken session's -CNIO_ERR_CONN told
 * as -CNIO_ERR_TIMEOUT when its host had stopped answering. */
static int tree_why_conn(const struct tree_ctx *c, int ret)
{
    return ret == -CNIO_ERR_CONN && tree_silent_host(c, NULL, 0) ? -CNIO_ERR_TIMEOUT : ret;
}

/* Says that file e of a batch that met a host not answering in time is not copied, for
 * err (the batch's error, or e's own), naming the host where a session knows it. */
static void tree_say_timed_out(const struct tree_ctx *c, const struct tree_ent *e, int err)
{
    char host[300];

    if (err == -CNIO_ERR_TIMEOUT && tree_silent_host(c, host, sizeof(host)))
        cli_err("cnio cp: %s: not copied: host %s did not answer within cnio_timeout_ms\n",
                e->rel, host);
    else
        cli_err("cnio cp: %s: not copied: %s\n", e->rel, cnio_strerror(err));
}

/* Holds back this thread's log lines, unless the user asked for more than warnings (they
 * are then written as they come): a try's words are for its user only if it is the last. */
static void tree_hold(void)
{
    if (cnio__log_get_level() < CNIO_LOG_INFO)
        cnio__log_hold();
}

/* Says, in one line, that file e is tried again after error ret, by the first error line
 * of the try (since mark: its cause, where the lines after it say what followed), named
 * by the file when that line does not name it; drops the try's lines. */
static void tree_say_retry(const struct tree_ent *e, unsigned mark, int ret)
{
    const char *first = cnio__log_first_since(mark);

    cnio__log_release(0);
    if (first && strstr(first, e->rel))
        cli_err("cnio cp: %s; trying it again\n", first);
    else if (first)
        cli_err("cnio cp: %s: %s; trying it again\n", e->rel, first);
    else
        cli_err("cnio cp: %s: %s; trying it again\n", e->rel, cnio_strerror(ret));
}

/* --verify, of file or link e just copied: 0 when both ends hold the same bytes (their
 * CRC32C, computed where the bytes are: tree_same_crc) or link target; else said, and
 * -CNIO_ERR_CHECKSUM. */
static int tree_verify_one(struct tree_worker *w, const struct tree_ent *e)
{
    if (e->type == TREE_LINK ? tree_same_link(&w->ctx, e) : tree_same_crc(&w->ctx, e)) {
        w->verified++;
        return 0;
    }
    cli_err("cnio cp: %s: verify: the two ends differ (their CRC32C), or one could not be "
            "read again\n", e->rel);
    return -CNIO_ERR_CHECKSUM;
}

/* Stops the copy (r->lost) when ret says that the files after this one would fail the
 * same way: a server out of reach, or no space left. */
static void tree_stop_for(struct tree_run *r, int ret)
{
    int why = cnio__err_conn(ret) || ret == -CNIO_ERR_TIMEOUT ? TREE_STOP_LOST
              : ret == -CNIO_ERR_NOSPC ? TREE_STOP_FULL : 0;

    if (why)
        __atomic_fetch_or(&r->lost, why, __ATOMIC_RELAXED);
}

/*
 * Copies one queued file; a failure is said (by this rank) and counted. A connection
 * that could not be made or was lost is tried again, twice, after 0.2 and 0.6 s: a
 * tree of small files opens many connections, and a loaded host refuses one now and
 * then (seen here as "connection refused" from a listening server at a load average
 * of 90, with thousands of sockets in TIME_WAIT). A file whose server stayed out of
 * reach through all three stops the copy (r->lost): every object of a striped tree has
 * a part on every server, so the files after it would each fail the same way, 0.8 s
 * apiece (a 1,000-file upload whose server was killed took 26 s to fail). Files not
 * attempted are not counted as done; --resume copies them once the server is back.
 * A file whose open a restarted server no longer knows (CNIO_ERR_STALE: the open is
 * gone, or the object it read was replaced meanwhile) is opened again the same way. A
 * server that did not answer within cnio_timeout_ms (CNIO_ERR_TIMEOUT: stopped, hung,
 * or cut off) is not asked again: each try would wait as long (a 300-file upload whose
 * server was stopped took 123 s to fail, not 30), and the copy stops as for one lost.
 * A file system with no space left (this host's, or a server's) stops the copy too: each
 * file after it failed the same way, said (a 300-file download to a full disk printed
 * 258 lines of "No space left on device").
 * The words of a try that is followed by another are one line that says so, not the
 * library's error lines: those ("nothing committed", "open the file again") are true of
 * the try, and read as the file's fate. The last try's lines are written as they were.
 */
static void tree_one(struct tree_worker *w, const struct tree_ent *e)
{
    unsigned said;
    int ret, tries;

    if (__atomic_load_n(&w->r->lost, __ATOMIC_RELAXED))
        return;
    for (tries = 0;; tries++) {
        if (tries) {   /* its words are the file's, when the file then fails */
            tree_hold();
            tree_reopen(&w->ctx);
            cnio__log_release(0);
        }
        said = cnio__log_errors();   /* the last try's own words count */
        tree_hold();
        w->ctx.why[0] = '\0';
        ret = tree_why_conn(&w->ctx, tree_copy_one(&w->ctx, e));
        if ((!cnio__err_conn(ret) && ret != -CNIO_ERR_STALE) || tries == 2)
            break;
        tree_say_retry(e, said, ret);
        usleep(tries ? 600000 : 200000);
    }
    cnio__log_release(1);
    tree_stop_for(w->r, ret);
    if (ret == 1) {   /* identical (--checksum): compared already */
        w->crc_skipped++;
        w->verified += w->ctx.o->verify != 0;
        ret = 0;
    } else if (ret == 0 && w->ctx.o->verify && tree_verify_one(w, e)) {
        w->failed++;
    }
    if (ret == 0 && tries)
        w->retried++;
    if (ret < 0) {
        if (tree_dir_in_the_way(&w->ctx, e, ret) || w->ctx.why[0])
            cli_err("cnio cp: %s\n", w->ctx.why);
        else if (!cli_said_of(said, ret, e->rel))   /* each failed file named once */
            cli_err("cnio cp: %s: %s\n", e->rel, cnio_strerror(ret));
        w->failed++;
    }
    w->files++;
    w->bytes += e->size;
}

/* 1 when status st of file e of a batch (whose call returned ret) sends it again alone. */
static int tree_batch_again(const struct tree_worker *w, int ret, int st)
{
    /* a broken session, or (up) a file that changed since the walk: again, alone, with
     * its retries, as it is now */
    return ret || cnio__err_conn(st) || st == -CNIO_ERR_TIMEOUT || st == -CNIO_ERR_STALE ||
           st == -CNIO_ERR_OVERFLOW || (st && w->ctx.src->remote);
}

/* Copies small files e[0..n) as one batch (up or down); those it could not copy go one
 * by one (a download that failed in the batch, whatever the error, goes again alone: the
 * object read alone reports its own error, as it would have without batches). The
 * batch's log lines are written only when a file fails in it for good: a file sent
 * again alone says its own. */
static void tree_batch(struct tree_worker *w, const struct tree_ent *const *e, int n)
{
    int status[TREE_PIPE] = { 0 }, ret, final = 0, timed_out;

    w->ctx.why[0] = '\0';
    tree_hold();
    ret = tree_why_conn(&w->ctx, w->ctx.src->remote ? tree_get_small(&w->ctx, e, n, status)
                                                    : tree_put_small(&w->ctx, e, n, status));
    timed_out = ret == -CNIO_ERR_TIMEOUT;
    for (int i = 0; i < n; i++) {
        final |= !tree_batch_again(w, ret, status[i]) && status[i] < 0;
        timed_out |= !ret && status[i] == -CNIO_ERR_TIMEOUT;
        if (!ret && status[i] == -CNIO_ERR_NOSPC)   /* a server's disk full: the copy stops */
            tree_stop_for(w->r, status[i]);
    }
    /* a server that did not answer in time: its words stand, and the files it did not
     * take are not sent again (tree_one: the copy stops, as for a server lost) */
    if (timed_out)
        tree_stop_for(w->r, -CNIO_ERR_TIMEOUT);
    cnio__log_release(final || timed_out);
    for (int i = 0; i < n; i++) {
        if (timed_out && (ret || status[i] < 0)) {
            tree_say_timed_out(&w->ctx, e[i], ret ? ret : status[i]);
            w->failed++;
            w->files++;
            w->bytes += e[i]->size;
            continue;
        }
        if (tree_batch_again(w, ret, status[i])) {
            tree_one(w, e[i]);
            continue;
        }
        if ((status[i] == -CNIO_ERR_NOENT && tree_in_the_way(&w->ctx, e[i]->rel)) ||
            tree_dir_in_the_way(&w->ctx, e[i], status[i])) {
            cli_err("cnio cp: %s\n", w->ctx.why);
            w->failed++;
        } else if (status[i] < 0) {
            cli_err("cnio cp: %s: %s\n", e[i]->rel, cnio_strerror(status[i]));
            w->failed++;
        } else if (w->ctx.o->verify && tree_verify_one(w, e[i])) {
            w->failed++;
        }
        w->files++;
        w->bytes += e[i]->size;
    }
}

/* Says why rel, beneath directory dir that could not be made, is not copied: by what
 * stands in its way when something does. */
static void tree_say_beneath(struct tree_ctx *c, const char *rel, const char *dir)
{
    if (tree_in_the_way(c, rel))
        cli_err("cnio cp: %s\n", c->why);
    else
        cli_err("cnio cp: %s: not copied: its directory %s could not be made\n", rel, dir);
}

/* Of e[0..n), those beneath a directory that could not be made are not tried: each is
 * said (tree_say_beneath) and counted as failed. The others stay in e, in order: how
 * many. */
static int tree_beneath_failed(struct tree_worker *w, const struct tree_ent **e, int n)
{
    int kept = 0;

    for (int i = 0; i < n; i++) {
        const char *dir = tree_failed_above(w->r, e[i]->rel);

        if (!dir) {
            e[kept++] = e[i];
            continue;
        }
        tree_say_beneath(&w->ctx, e[i]->rel, dir);
        w->failed++;
        w->files++;
        w->bytes += e[i]->size;
    }
    return kept;
}

/* A worker's own sessions, opened when it is first given files rather than at setup:
 * each is a connection to every server, authenticated, and a rank whose share of the
 * tree is small (or nothing) need not make them all, nor make them one after another.
 * One that cannot be opened stays NULL: the worker's files then open their objects each
 * on their own connections, with tree_one's retries. */
static void tree_worker_sessions(struct tree_worker *w)
{
    struct tree_run *r = w->r;

    w->sessions = 1;
    if (r->dst.remote && cnio__ns_open(w->ctx.st, &r->dst.u, &r->dst.h, &w->ctx.ns))
        w->ctx.ns = NULL;
    if (r->src.remote && cnio__ns_open(w->ctx.st, &r->src.u, &r->src.h, &w->ctx.src_ns))
        w->ctx.src_ns = NULL;
}

static void *tree_worker_main(void *arg)
{
    struct tree_worker *w = arg;
    struct tree_run *r = w->r;

    if (!w->sessions)
        tree_worker_sessions(w);
    for (;;) {
        const struct tree_ent *b[TREE_PIPE];
        uint64_t bytes = 0;
        int n = 0;

        if (__atomic_load_n(&r->lost, __ATOMIC_RELAXED))
            return NULL;
        pthread_mutex_lock(&r->lock);
        while (r->next < r->end && n < TREE_PIPE) {
            const struct tree_ent *e = &r->files.e[r->next];
            int small = r->pipe && tree_small(&w->ctx, e);

            if (n && (!small || bytes + e->size > TREE_PIPE_BYTES))
                break;
            bytes += e->size;
            b[n++] = e;
            r->next++;
            if (!small)
                break;
        }
        pthread_mutex_unlock(&r->lock);
        if (n == 0)
            return NULL;
        n = tree_beneath_failed(w, b, n);
        if (n == 0)
            continue;
        if (n == 1 && !(r->pipe && tree_small(&w->ctx, b[0])))
            tree_one(w, b[0]);
        else
            tree_batch(w, b, n);
    }
}

/* Every rank: takes files from the queue until it is empty or a rank has lost a
 * server, TREE_BATCH at a time, and copies each batch with its workers. */
static void tree_queue(struct tree_run *r)
{
    for (;;) {
        uint64_t take = r->pipe ? (uint64_t)r->nw * TREE_PIPE : TREE_BATCH, at = 0, files = 0,
                 bytes = 0, one = 1, stop = 0, moved = 0;
        int started[TREE_WORKERS] = { 0 }, lost = __atomic_load_n(&r->lost, __ATOMIC_RELAXED);

        MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, r->win);
        MPI_Fetch_and_op(&one, &stop, MPI_UINT64_T, 0, 3, lost ? MPI_REPLACE : MPI_NO_OP,
                         r->win);
        MPI_Win_flush(0, r->win);
        if (!stop && !lost)
            MPI_Fetch_and_op(&take, &at, MPI_UINT64_T, 0, 0, MPI_SUM, r->win);
        MPI_Win_unlock(0, r->win);
        if (stop || lost) {
            r->lost |= lost ? 0 : TREE_STOP_PEER;   /* (why: that rank's bits, at the end) */
            break;
        }
        if (at >= r->nsmall)
            break;
        r->next = at;
        r->end = CNIO_MIN(at + take, r->nsmall);
        for (int k = 0; k < r->nw; k++) {
            r->w[k].files = r->w[k].bytes = 0;
            moved -= r->w[k].ctx.moved;   /* (a worker's count runs over the batches) */
            started[k] = pthread_create(&r->w[k].tid, NULL, tree_worker_main, &r->w[k]) == 0;
        }
        if (r->nw == 0 || !started[0])
            tree_worker_main(&r->w[0]);   /* no thread: this one */
        for (int k = 0; k < r->nw; k++) {
            if (started[k])
                pthread_join(r->w[k].tid, NULL);
            files += r->w[k].files;
            bytes += r->w[k].bytes;
            moved += r->w[k].ctx.moved;
        }
        tree_done(r, files, bytes, moved);
        tree_progress(r, 0);
    }
}

/* Every rank, --checksum: 1 when large file e is at the destination already, by its
 * CRC32C (rank 0's, computed where the bytes are). Before, it was copied again whole,
 * identical or not. (--resume compares it chunk by chunk as it copies: cp_run.) */
static int tree_large_same(struct tree_run *r, const struct tree_ent *e)
{
    int same = 0;

    if (e->type != TREE_FILE || !r->j->o.checksum)
        return 0;
    if (r->j->rank == 0)
        same = tree_same_crc(&r->ctx, e);
    MPI_Bcast(&same, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (same && r->j->rank == 0) {
        r->crc_skipped++;
        r->verified += r->j->o.verify != 0;
        r->ctx.skipped += e->size;
        tree_done(r, 1, e->size, 0);
        tree_progress(r, 0);
    }
    return same;
}

/* Every rank: the large files, one at a time, each split over all ranks (none once a
 * server is lost: the ranks agreed on r->lost); --verify compares each as a single
 * file's copy does. */
static void tree_large(struct tree_run *r)
{
    for (size_t i = r->nsmall; i < r->files.n && !r->lost; i++) {
        const struct tree_ent *e = &r->files.e[i];
        struct cp_job j = { .src = { .fd = -1 }, .dst = { .fd = -1 }, .stream_fd = -1 };
        const char *dir = tree_failed_above(r, e->rel);
        uint64_t moved = 0;
        char *names[2];
        int ok;

        if (dir) {   /* every rank knows it, and skips it */
            if (r->j->rank == 0) {
                tree_say_beneath(&r->ctx, e->rel, dir);
                r->files_failed++;
                tree_done(r, 1, e->size, 0);
            }
            continue;
        }
        if (tree_large_same(r, e))
            continue;
        for (int k = 0; k < 2; k++) {
            struct tree_end *end = k ? &r->dst : &r->src;
            size_t n = strlen(end->name) + strlen(e->rel) + 2;

            names[k] = end->remote ? tree_uri_string(end, e->rel) : malloc(n);
            if (!end->remote && names[k])   /* "dir/x" from "dir/" too: it is said */
                snprintf(names[k], n, "%s%s%s", end->name,
                         end->name[0] && end->name[strlen(end->name) - 1] == '/' ? "" : "/",
                         e->rel);
        }
        ok = tree_agree(names[0] && names[1] ? 0 : -CNIO_ERR_NOMEM) == 0;
        if (ok) {
            j.o = r->j->o;
            j.o.quiet = 1;
            j.src.name = names[0];
            j.dst.name = names[1];
            j.src.remote = r->src.remote;
            j.dst.remote = r->dst.remote;
            j.info = r->j->info;
            j.rank = r->j->rank;
            j.size = r->j->size;
            ok = cp_run(&j) == CLI_EXIT_OK;
        }
        /* what was moved, not the file's size: --resume moves only what differs */
        MPI_Reduce(&j.moved, &moved, 1, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
        if (ok && r->j->rank == 0 && !r->dst.remote && tree_punch_zeros(&r->ctx, e->rel))
            ok = 0;
        if (ok && r->j->rank == 0 && r->j->o.preserve && tree_setattr(&r->ctx, e))
            ok = 0;
        if (!ok && r->j->rank == 0)
            r->files_failed++;
        else if (r->j->rank == 0)
            r->verified += r->j->o.verify != 0;
        /* a file there whole, of its size, every chunk compared the same: found there, as
         * a small one is (it was said copied, and not among those already there) */
        if (ok && r->j->rank == 0 && e->incomplete == TREE_COMPARE && moved == 0)
            r->crc_skipped++;
        /* the bytes that moved count in the summary as in the progress line, the file's
         * failure or not: they went over the network (dropped, the summary of a large
         * file that failed part way said less moved than its progress line had shown) */
        if (r->j->rank == 0) {
            r->ctx.moved += moved;
            tree_done(r, 1, e->size, moved);
            tree_progress(r, 0);
        }
        free(names[0]);
        free(names[1]);
    }
}

/*
 * Rank 0's attributes of entry e (-p, at the end) over its own session, which a server
 * restarted during the copy has closed (the workers reopen theirs as they meet that):
 * opened again, once in the copy, for a connection lost. A remote failure is said by
 * name (it was counted only: "1 entry could not be copied").
 */
static int tree_setattr_end(struct tree_run *r, const struct tree_ent *e, int *reopen)
{
    int ret = tree_setattr(&r->ctx, e);

    if (!r->dst.remote || !ret)
        return ret;
    if (*reopen && (cnio__err_conn(ret) || ret == -CNIO_ERR_TIMEOUT ||
                    ret == -CNIO_ERR_STALE || ret == -CNIO_ERR_PROTO)) {
        *reopen = 0;   /* once per copy: a server gone for good costs the wait once */
        ret = tree_reopen(&r->ctx);
        if (!ret)
            ret = tree_setattr(&r->ctx, e);
    }
    if (ret)
        cli_err("cnio cp: %s%s%s: its mode and mtime were not set: %s\n", r->dst.name,
                e->rel[0] ? "/" : "", e->rel, cnio_strerror(ret));
    return ret;
}

/* rank 0, -p: the modes of files that were there but for them, the directories' modes
 * and mtimes, deepest first (those made), DST's own last, and local links'. */
static int tree_dir_attrs(struct tree_run *r)
{
    int ret = 0, reopen = 1;

    for (size_t i = 0; i < r->attrs.n; i++)
        if (tree_setattr_end(r, &r->attrs.e[i], &reopen))
            ret = -CNIO_ERR_IO;
        else
            r->attrs_set++;

    for (size_t i = 0; i < r->files.n; i++)
        if (r->files.e[i].type == TREE_LINK && !r->dst.remote && tree_setattr(&r->ctx, &r->files.e[i]))
            ret = -CNIO_ERR_IO;
    for (size_t i = r->dirs.n; i-- > 0;)
        if (!r->dir_failed[i] && tree_setattr_end(r, &r->dirs.e[i], &reopen))
            ret = -CNIO_ERR_IO;
    if (r->top_attrs) {
        char none[1] = "";
        struct tree_ent top = { .rel = none, .type = TREE_DIR, .mode = r->top_mode,
                                .mtime_ns = r->top_mtime_ns };

        if (tree_setattr_end(r, &top, &reopen))
            ret = -CNIO_ERR_IO;
    }
    if (ret && r->ctx.why[0])
        cli_err("cnio cp: %s\n", r->ctx.why);
    return ret;
}

/* Opens rank 0's sessions (r->ctx's) with the servers of the remote ends: 0, or the
 * error, with *what the end whose servers failed. */
static int tree_open_sessions(struct tree_run *r, const char **what)
{
    int ret = 0;

    if (r->dst.remote && (ret = cnio__ns_open(r->ctx.st, &r->dst.u, &r->dst.h, &r->ctx.ns)))
        *what = r->dst.name;
    if (ret == 0 && r->src.remote &&
        (ret = cnio__ns_open(r->ctx.st, &r->src.u, &r->src.h, &r->ctx.src_ns)))
        *what = r->src.name;   /* (a download's servers: it said "setup") */
    return ret;
}

/* Every rank (ret: its set-up so far): opens the sessions of r->ctx, rank 0 first. A
 * server rank 0 cannot reach is said by rank 0 alone (*said on the others), not once per
 * rank; only when rank 0's opened do the others open theirs. */
static int tree_open_first(struct tree_run *r, int ret, const char **what, int *said)
{
    int first = ret;

    if (r->j->rank == 0 && ret == 0)
        first = ret = tree_open_sessions(r, what);
    MPI_Bcast(&first, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (r->j->rank != 0 && first) {
        *said = 1;
        return first;
    }
    if (r->j->rank != 0 && ret == 0)
        ret = tree_open_sessions(r, what);
    return ret;
}

static int tree_setup(struct tree_run *r)
{
    int ret = tree_end_init(r, &r->src, r->j->src.name, r->j->src.remote);
    const char *what = NULL;   /* which end's servers failed */
    int said = 0;

    if (ret == 0)
        ret = tree_end_init(r, &r->dst, r->j->dst.name, r->j->dst.remote);
    if (ret == 0)
        ret = cnio__stack_open(&r->ctx.st);
    r->ctx.o = &r->j->o;
    r->ctx.src = &r->src;
    r->ctx.dst = &r->dst;
    r->ctx.buf = malloc(r->j->o.chunk);
    r->ctx.buf2 = malloc(r->j->o.chunk);
    if (ret == 0 && (!r->ctx.buf || !r->ctx.buf2))
        ret = -CNIO_ERR_NOMEM;
    r->ctx.chunk = r->j->o.chunk;
    ret = tree_open_first(r, ret, &what, &said);
    pthread_mutex_init(&r->lock, NULL);
    r->want = TREE_WORKERS;
    if (getenv("CNIO_CP_THREADS"))
        r->want = (int)CNIO_MIN(CNIO_MAX(strtol(getenv("CNIO_CP_THREADS"), NULL, 10), 1),
                                TREE_WORKERS);
    r->pipe = !getenv("CNIO_CP_PIPELINE") || strcmp(getenv("CNIO_CP_PIPELINE"), "0") != 0;
    for (int k = 0; ret == 0 && k < r->want; k++) {
        struct tree_ctx *c = &r->w[k].ctx;

        r->w[k].r = r;
        *c = (struct tree_ctx){ .o = r->ctx.o, .src = &r->src, .dst = &r->dst,
                                .chunk = CNIO_MIN(r->j->o.chunk, TREE_WORKER_CHUNK) };
        r->nw++;
        c->buf = malloc(c->chunk);
        c->buf2 = malloc(c->chunk);
        ret = c->buf && c->buf2 ? cnio__stack_open(&c->st) : -CNIO_ERR_NOMEM;
    }
    if (ret && !said)
        cli_fail("cp", what ? what : r->dst.remote ? r->dst.name : "setup", ret);
    return ret;
}

static void tree_teardown(struct tree_run *r)
{
    for (int k = 0; k < r->nw; k++) {
        cnio__ns_close(r->w[k].ctx.ns);
        cnio__ns_close(r->w[k].ctx.src_ns);
        if (r->w[k].ctx.st)
            cnio__stack_close(r->w[k].ctx.st);
        free(r->w[k].ctx.buf);
        free(r->w[k].ctx.buf2);
        free(r->w[k].ctx.batch);
    }
    if (r->nw)
        pthread_mutex_destroy(&r->lock);
    cnio__ns_close(r->ctx.ns);
    cnio__ns_close(r->ctx.src_ns);
    if (r->ctx.st)
        cnio__stack_close(r->ctx.st);
    free(r->ctx.buf);
    free(r->ctx.buf2);
    free(r->ctx.batch);
    for (int k = 0; k < 2; k++) {
        struct tree_end *e = k ? &r->dst : &r->src;

        if (e->remote)
            cnio__uri_free(&e->u);
        if (e->dirfd >= 0)
            close(e->dirfd);
    }
    tree_list_free(&r->dirs);
    tree_list_free(&r->files);
    tree_list_free(&r->attrs);
    free(r->dir_failed);
    free(r->bad);
}

/* Every rank: opens the local tops beneath which it reads and writes. */
static int tree_open_tops(struct tree_run *r)
{
    int ret = 0;

    if (!r->src.remote) {
        r->src.dirfd = open(r->src.name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (r->src.dirfd < 0)
            ret = cnio__err_from_errno(errno);
    }
    if (!r->dst.remote && r->dst.dirfd < 0) {
        r->dst.dirfd = open(r->dst.name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (r->dst.dirfd < 0)
            ret = cnio__err_from_errno(errno);
    }
    return ret;
}

/* Rank 0 says to every rank whether SRC is a local file that is no directory (followed:
 * a FIFO or device too, which the copy of one file refuses, saying why) or an object: not
 * a tree. What is neither (missing, unreadable) is left to the walk, which says why. */
static int tree_src_is_file(struct tree_run *r)
{
    struct cnio_obj_stat s;
    struct stat sb;
    int file = 0;

    if (r->j->rank == 0 && !r->src.remote) {
        file = stat(r->src.name, &sb) == 0 && !S_ISDIR(sb.st_mode);
    } else if (r->j->rank == 0 && cnio__obj_stat(r->ctx.st, &r->src.u, &r->src.h, &s) == 0) {
        file = !s.is_dir;
        r->src.top_is_dir = s.is_dir;   /* the walk need not ask again */
    }
    MPI_Bcast(&file, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return file;
}

int cli_tree_cp(struct cp_job *j)
{
    struct tree_run r = { .j = j, .win = MPI_WIN_NULL };
    int rc;

    if (j->o.sync)
        j->o.preserve = 1;   /* an mtime compared next time must be the source's */
    rc = tree_agree(tree_setup(&r));
    if (rc == 0 && tree_src_is_file(&r)) {
        tree_teardown(&r);
        return CLI_TREE_FILE;
    }
    r.t0 = MPI_Wtime();
    if (rc == 0)
        rc = tree_walk_plan(&r);
    rc = tree_bcast(&r, rc);
    if (rc == 0)
        rc = tree_agree(tree_open_tops(&r));
    if (rc == 0)
        rc = tree_agree(tree_make_subdirs(&r));
    r.walk = MPI_Wtime() - r.t0;
    if (rc) {
        tree_teardown(&r);
        return cli_status(rc);
    }
    MPI_Win_allocate(j->rank == 0 ? 5 * sizeof(uint64_t) : 0, sizeof(uint64_t), MPI_INFO_NULL,
                     MPI_COMM_WORLD, &r.q, &r.win);
    if (j->rank == 0)
        memset(r.q, 0, 5 * sizeof(uint64_t));
    MPI_Barrier(MPI_COMM_WORLD);
    r.t_copy = MPI_Wtime();
    r.last = r.t_copy - 1;   /* the first batch's line at once (MPI_Wtime counts from
                              * MPI_Init: a copy of a quarter second had none but the last) */
    cp_sig_catch(j, 1);   /* rank 0 says what an interruption leaves */
    tree_queue(&r);
    MPI_Allreduce(MPI_IN_PLACE, &r.lost, 1, MPI_INT, MPI_BOR, MPI_COMM_WORLD);
    tree_large(&r);
    if (j->rank == 0 && j->o.preserve && !r.lost && tree_dir_attrs(&r))
        r.failed++;
    /* Downloaded files are renamed into place unsynced (an fsync each would cost a
     * journal commit a file on a disk); one syncfs per rank puts them all on disk before
     * the exit status says they are there, as a single file's fsync does. */
    if (!r.dst.remote && syncfs(r.dst.dirfd) < 0) {
        cli_err("cnio cp: %s: syncing the copied files to disk: %s\n", r.dst.name,
                strerror(errno));
        r.failed++;
    }
    cp_sig_catch(j, 0);
    tree_progress(&r, 1);
    tree_summary(&r, MPI_Wtime() - r.t0);
    MPI_Win_free(&r.win);
    rc = r.failed;
    MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (rc && j->rank == 0)
        cli_err("cnio cp: %d entr%s could not be copied\n", rc, rc == 1 ? "y" : "ies");
    if ((r.lost & TREE_STOP_FULL) && j->rank == 0)
        cli_err("cnio cp: stopped: a disk filled (above), and %llu files were not tried; "
                "once there is room, the same command with --resume copies what is "
                "missing\n", (unsigned long long)r.not_tried);
    else if (r.lost && j->rank == 0)
        cli_err("cnio cp: stopped: a server stayed out of reach (above), and %llu "
                "files were not tried; once it is back, the same command with --resume "
                "copies what is missing\n", (unsigned long long)r.not_tried);
    tree_teardown(&r);
    return rc || r.lost ? CLI_EXIT_FAIL : CLI_EXIT_OK;   /* (lost: files not tried) */
}
