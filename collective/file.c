/*
 * file.c - collective open, close, size, sync and delete.
 *
 * Open is the proxy's moment (DESIGN.md, "Control plane"): rank 0 alone holds the key,
 * resolves the hosts, authenticates and opens the object on every host; it then hands
 * each rank a description of the open object with that rank's own tokens, and every rank
 * attaches directly to the servers. No data ever passes through rank 0. Every call ends
 * with an agreement so that all ranks return the same code (agree.c).
 */
#include "coll.h"
#include "client.h"
#include "fabric.h"
#include "log.h"
#include "stack.h"
#include "wire.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Commit semantics (doc/protocol.md): an open with MPI_MODE_CREATE writes a staged
 * instance when the object does not exist yet (or always, with hint cnio_replace), which
 * becomes the object at close; an existing object is updated in place, as MPI-IO does.
 * Hint cnio_resume reopens an interrupted upload's staged instance.
 */
static int file_oflags(int amode, const struct cnio_hints *h, uint32_t *oflags)
{
    int acc = amode & (MPI_MODE_RDONLY | MPI_MODE_WRONLY | MPI_MODE_RDWR);

    if (acc != MPI_MODE_RDONLY && acc != MPI_MODE_WRONLY && acc != MPI_MODE_RDWR)
        return -CNIO_ERR_AMODE;
    if (acc == MPI_MODE_RDONLY && (amode & (MPI_MODE_CREATE | MPI_MODE_EXCL)))
        return -CNIO_ERR_AMODE;
    if (amode & MPI_MODE_SEQUENTIAL)
        return -CNIO_ERR_NOTSUP;
    *oflags = 0;
    if (acc != MPI_MODE_RDONLY)
        *oflags |= CNIO_WIRE_O_WRITE;
    if (amode & MPI_MODE_CREATE)
        *oflags |= CNIO_WIRE_O_CREATE;
    if (amode & MPI_MODE_EXCL)
        *oflags |= CNIO_WIRE_O_EXCL;
    /* A write open stages a new object (an existing one is opened in place, and one that
     * a live writer is creating is joined, so a second handle sees its bytes). */
    if (acc != MPI_MODE_RDONLY && !(amode & MPI_MODE_DELETE_ON_CLOSE))
        *oflags |= CNIO_WIRE_O_STAGE;
    if ((amode & MPI_MODE_CREATE) && h->replace)
        *oflags |= CNIO_WIRE_O_STAGE | CNIO_WIRE_O_TRUNC;
    if (acc != MPI_MODE_RDONLY && h->resume)
        *oflags |= CNIO_WIRE_O_STAGE | CNIO_WIRE_O_RESUME;
    return 0;
}

/*
 * Rank 0 exports one description per rank and scatters them; every other rank attaches
 * with its own. Rank 0's rc travels with the lengths so a failed open reaches everyone.
 */
static int file_share(cnio_file_t *fh, int rc)
{
    int *lens = NULL, *displs = NULL, mylen = 0, total = 0;
    char *all = NULL, *mine = NULL;

    if (fh->rank == 0 && rc == 0) {
        lens = calloc((size_t)fh->size, sizeof(int));
        displs = calloc((size_t)fh->size, sizeof(int));
        rc = (lens && displs) ? 0 : -CNIO_ERR_NOMEM;
        for (int r = 0; r < fh->size && rc == 0; r++) {
            ssize_t n = cnio__obj_export(fh->obj, (uint32_t)r, NULL, 0);
            if (n < 0 || n > INT32_MAX / fh->size)
                rc = n < 0 ? (int)n : -CNIO_ERR_OVERFLOW;
            else
                lens[r] = (int)n, displs[r] = total, total += (int)n;
        }
        if (rc == 0 && !(all = malloc((size_t)total)))
            rc = -CNIO_ERR_NOMEM;
        for (int r = 0; r < fh->size && rc == 0; r++) {
            ssize_t n = cnio__obj_export(fh->obj, (uint32_t)r, all + displs[r], (size_t)lens[r]);
            if (n != lens[r])
                rc = n < 0 ? (int)n : -CNIO_ERR_PROTO;
        }
        for (int r = 0; r < fh->size && lens; r++)
            if (rc)
                lens[r] = rc;
    }
    if (MPI_Scatter(lens, 1, MPI_INT, &mylen, 1, MPI_INT, 0, fh->comm) != MPI_SUCCESS)
        mylen = -CNIO_ERR_MPI;
    if (mylen < 0) {
        rc = mylen;
        goto out;
    }
    mine = malloc(mylen ? (size_t)mylen : 1);
    if (MPI_Scatterv(all, lens, displs, MPI_BYTE, mine, mylen, MPI_BYTE, 0, fh->comm) != MPI_SUCCESS)
        rc = -CNIO_ERR_MPI;
    else
        rc = mine ? 0 : -CNIO_ERR_NOMEM;
    /* On demand (the default), a rank attaches with its tokens and connects to a server
     * when a call first needs it (connect.c). Eager (cnio_connect_mode=eager, the old
     * scheme): every rank connects to every server now, in waves of cnio_connect_window
     * ranks separated by barriers. */
    if (fh->hints.connect_mode != CNIO_CONNECT_EAGER) {
        if (rc == 0 && fh->rank != 0)
            rc = cnio__obj_attach_on_demand(fh->st, mine, (size_t)mylen, &fh->obj);
        goto out;
    }
    for (int wave = 0, w = fh->hints.connect_window; wave * w < fh->size - 1; wave++) {
        if (rc == 0 && fh->rank != 0 && (fh->rank - 1) / w == wave)
            rc = cnio__obj_attach(fh->st, mine, (size_t)mylen, &fh->obj);
        if (MPI_Barrier(fh->comm) != MPI_SUCCESS)
            rc = -CNIO_ERR_MPI;
    }
out:
    free(mine);
    free(all);
    free(displs);
    free(lens);
    return rc;
}

/*
 * The files this process has open. cnio_file_delete marks those it deletes, and their
 * close takes the deletion as the job's own (cnio__obj_set_gone_ok): no error, as a POSIX
 * file unlinked while open. Someone else's deletion (another job, `cnio rm`, a URI that
 * names the first host otherwise) still fails the writers' close: what they wrote is
 * not there.
 */
static pthread_mutex_t file_open_lock = PTHREAD_MUTEX_INITIALIZER;
static cnio_file_t *file_open_list;

/* "HOST:PORT/PATH" of u's first host (malloc'd), or NULL. */
static char *file_ident(const struct cnio_uri *u)
{
    size_t n = strlen(u->hosts[0].name) + strlen(u->path) + 8;
    char *s = malloc(n);

    if (s)
        snprintf(s, n, "%s:%u/%s", u->hosts[0].name, (unsigned)u->hosts[0].port, u->path);
    return s;
}

static int file_finalize_key = MPI_KEYVAL_INVALID;

/*
 * MPI_Finalize deletes MPI_COMM_SELF's attributes first (MPI-3.1, 8.7.1), while MPI still
 * works: a handle still open then is closed (collectively, as its program would have, the
 * newest first), as Open MPI's own MPI-IO closes files left open. It used to stay open:
 * a new object never committed, an object updated in place left "incomplete since a
 * crash", and the job exited 0 without a word.
 */
static int file_at_finalize(MPI_Comm comm, int key, void *val, void *extra)
{
    (void)comm;
    (void)key;
    (void)val;
    (void)extra;
    for (;;) {
        cnio_file_t *fh;
        int rc;

        pthread_mutex_lock(&file_open_lock);
        fh = file_open_list;
        pthread_mutex_unlock(&file_open_lock);
        if (!fh)
            break;
        if (fh->rank == 0)
            cnio__warn("%s: still open at MPI_Finalize: closing it", fh->uri);
        rc = cnio_file_close(&fh);
        if (rc)
            cnio__err("closing a file left open at MPI_Finalize: %s", cnio_strerror(rc));
    }
    return MPI_SUCCESS;
}

static void file_list_add(cnio_file_t *fh)
{
    pthread_mutex_lock(&file_open_lock);
    if (file_finalize_key == MPI_KEYVAL_INVALID &&
        MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, file_at_finalize, &file_finalize_key,
                               NULL) == MPI_SUCCESS &&
        MPI_Comm_set_attr(MPI_COMM_SELF, file_finalize_key, NULL) != MPI_SUCCESS)
        cnio__warn("files left open will not be closed at MPI_Finalize (MPI_Comm_set_attr "
                   "failed)");
    fh->next_open = file_open_list;
    file_open_list = fh;
    pthread_mutex_unlock(&file_open_lock);
}

static void file_list_del(cnio_file_t *fh)
{
    pthread_mutex_lock(&file_open_lock);
    for (cnio_file_t **pp = &file_open_list; *pp; pp = &(*pp)->next_open)
        if (*pp == fh) {
            *pp = fh->next_open;
            break;
        }
    pthread_mutex_unlock(&file_open_lock);
}

/* Marks this process's open files of u's object as deleted. */
static void file_list_deleted(const struct cnio_uri *u)
{
    char *ident = file_ident(u);

    pthread_mutex_lock(&file_open_lock);
    for (cnio_file_t *f = file_open_list; ident && f; f = f->next_open)
        if (f->ident && !strcmp(f->ident, ident))
            f->deleted = 1;
    pthread_mutex_unlock(&file_open_lock);
    free(ident);
}

/* Removes u's object as the job's own deletion (MPI_File_delete, DELETE_ON_CLOSE): this
 * process's handles of it then close without error (cnio_file_close). */
static int file_unlink(struct cnio_stack *st, const struct cnio_uri *u,
                       const struct cnio_hints *h)
{
    int rc = cnio__obj_unlink(st, u, h);

    if (rc == 0)
        file_list_deleted(u);
    return rc;
}

void cnio__file_lock(cnio_file_t *fh)
{
    pthread_mutex_lock(&fh->lock);
}

void cnio__file_unlock(cnio_file_t *fh)
{
    pthread_mutex_unlock(&fh->lock);
}

static void file_free(cnio_file_t *fh)
{
    file_list_del(fh);
    free(fh->ident);
    if (fh->obj)
        cnio__obj_close(fh->obj);
    if (fh->st)
        cnio__stack_close(fh->st);
    if (fh->comm != MPI_COMM_NULL)
        MPI_Comm_free(&fh->comm);
    if (fh->view.ft)
        cnio__view_free(&fh->view);
    free(fh->summary);
    free(fh->uri);
    cnio__rcache_free(fh);
    pthread_mutex_destroy(&fh->lock);
    free(fh);
}

/* A recursive mutex in *m: 0 or -CNIO_ERR_NOMEM. */
static int file_lock_init(pthread_mutex_t *m)
{
    pthread_mutexattr_t a;
    int ret = pthread_mutexattr_init(&a);

    if (ret == 0) {
        ret = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
        if (ret == 0)
            ret = pthread_mutex_init(m, &a);
        pthread_mutexattr_destroy(&a);
    }
    return ret ? -CNIO_ERR_NOMEM : 0;
}

/* Parses uri, which must name a file (not the root, not "x/": a directory); says why
 * when it does not, if say. 0, -CNIO_ERR_URI, -CNIO_ERR_ISDIR or -CNIO_ERR_NOMEM. */
static int file_uri(const char *uri, struct cnio_uri *u, int say)
{
    int rc = cnio__uri_parse(uri, u);

    if (rc == -CNIO_ERR_URI && say)
        cnio__err("%s: %s", uri, cnio__uri_why());
    if (rc == 0 && !u->path[0]) {
        if (say)
            cnio__err("%s: names no file: a '/' and the file's name must follow the hosts",
                      uri);
        rc = -CNIO_ERR_URI;
    }
    if (rc == 0 && u->dir_slash) {   /* "cnio://h/x/": a directory, as open(2) says of "x/" */
        if (say)
            cnio__err("%s: a name ending in '/' is a directory, not a file", uri);
        rc = -CNIO_ERR_ISDIR;
    }
    return rc;
}

/*
 * Whether every rank named the same object (hosts and path, not the hints) with the same
 * amode, as a collective open needs (MPI-3.1, 13.2.1), in the same allreduce that agrees
 * on rc: the worst rank's rc, or -CNIO_ERR_NOT_SAME (rank 0 says which differs). A name that differed was opened on
 * rank 0 for every rank: one rank's data went to another's file, and no rank was told.
 */
static int file_same(cnio_file_t *fh, const struct cnio_uri *u, int amode, int rc)
{
    uint64_t h = 0xcbf29ce484222325ull;   /* FNV-1a */
    int64_t v[5], r[5];

    for (int i = 0; rc == 0 && i <= u->nhosts; i++) {
        char part[300];
        int n = i < u->nhosts ? snprintf(part, sizeof(part), "%s:%u,", u->hosts[i].name,
                                         (unsigned)u->hosts[i].port)
                              : snprintf(part, sizeof(part), "/");

        for (int k = 0; k < n && k < (int)sizeof(part); k++)
            h = (h ^ (unsigned char)part[k]) * 0x100000001b3ull;
    }
    for (const char *p = rc == 0 ? u->path : ""; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    /* one MPI_MIN over every rank: the worst rc, and (as ~ reverses the order) the least
     * and the greatest hash and amode, equal when every rank gave the same */
    v[0] = rc;
    v[1] = (int64_t)h;
    v[2] = ~(int64_t)h;
    v[3] = amode;
    v[4] = ~(int64_t)amode;
    if (MPI_Allreduce(v, r, 5, MPI_INT64_T, MPI_MIN, fh->comm) != MPI_SUCCESS)
        return -CNIO_ERR_MPI;
    if (r[0])
        return (int)r[0];
    if (r[1] == ~r[2] && r[3] == ~r[4])
        return 0;
    if (fh->rank == 0)
        cnio__err("%s: the ranks of a collective open passed different %s; every rank must "
                  "name the same object with the same access mode", u->path,
                  r[1] != ~r[2] ? (r[3] != ~r[4] ? "objects and access modes" : "objects")
                                : "access modes");
    return -CNIO_ERR_NOT_SAME;
}

/* A handle of an open with amode over a duplicate of comm, its rank and size known:
 * *out, or a negative code (nothing kept). */
static int file_new(MPI_Comm comm, int amode, cnio_file_t **out)
{
    cnio_file_t *fh = calloc(1, sizeof(*fh));
    int rc;

    if (!fh)
        return -CNIO_ERR_NOMEM;
    if (file_lock_init(&fh->lock)) {
        rc = -CNIO_ERR_NOMEM;
        goto free_fh;
    }
    fh->comm = MPI_COMM_NULL;
    if (MPI_Comm_dup(comm, &fh->comm) != MPI_SUCCESS) {
        rc = -CNIO_ERR_MPI;
        goto destroy_lock;
    }
    MPI_Comm_rank(fh->comm, &fh->rank);
    MPI_Comm_size(fh->comm, &fh->size);
    fh->amode = amode;
    *out = fh;
    return 0;
destroy_lock:
    pthread_mutex_destroy(&fh->lock);
free_fh:
    free(fh);
    return rc;
}

CNIO_API int cnio_file_open(MPI_Comm comm, const char *uri, int amode, MPI_Info info,
                            cnio_file_t **fhp)
{
    struct cnio_uri u = { 0 };
    cnio_file_t *fh;
    uint32_t oflags = 0;
    int64_t t0 = cnio__now_ns();
    int rc, inter = 1;

    /* an intercommunicator (MPI-3.1 13.2.1 takes intracommunicators only) hung in the
     * open's first broadcast */
    if (!fhp || !uri || comm == MPI_COMM_NULL ||
        MPI_Comm_test_inter(comm, &inter) != MPI_SUCCESS || inter)
        return -CNIO_ERR_INVAL;
    *fhp = NULL;
    rc = file_new(comm, amode, &fh);
    if (rc)
        return rc;
    rc = cnio__view_init(&fh->view);
    if (rc == 0)
        rc = (fh->summary = malloc(5 * sizeof(int64_t) * (size_t)fh->size)) ? 0 : -CNIO_ERR_NOMEM;
    if (rc == 0)
        rc = file_uri(uri, &u, fh->rank == 0);
    if (rc == 0)
        rc = cnio__coll_hints(&u, info, &fh->hints, fh->rank == 0);
    if (rc == 0)
        rc = file_oflags(amode, &fh->hints, &oflags);
    if (rc == 0)
        rc = (fh->uri = strdup(uri)) && (fh->ident = file_ident(&u)) ? 0 : -CNIO_ERR_NOMEM;
    rc = file_same(fh, &u, amode, rc);
    /* Each rank resolved its own hints (its info, environment and URI query); from here
     * on every rank holds rank 0's of those a collective plan or the layout depends on
     * (each rank planned from its own cb_nodes or cb_buffer_size, and the exchanges of
     * a collective write overran their buffers). */
    if (rc == 0)
        rc = cnio__coll_hints_same(fh->comm, &fh->hints, uri);
    if (rc == 0)
        rc = cnio__coll_budget_check(fh);
    /* A fabric transport: libfabric loads (0.3 s, once) while rank 0 opens the object,
     * not in the first data call, where each rank connects (cnio__fab_warm). */
    if (rc == 0 && strcmp(fh->hints.transport, "tcp") != 0)
        cnio__fab_warm();
    if (rc == 0)
        rc = cnio__stack_open(&fh->st);
    if (rc == 0 && fh->rank == 0)
        rc = cnio__obj_open(fh->st, &u, &fh->hints, oflags, &fh->obj);
    /* The servers hold the job to its connection budget (doc/scale.md), unless the
     * hints ask to ignore it. */
    if (rc == 0 && fh->rank == 0 && fh->hints.connect_mode != CNIO_CONNECT_EAGER &&
        fh->hints.route != CNIO_ROUTE_DIRECT)
        rc = cnio__obj_budget(fh->obj, fh->hints.max_conns_per_server);
    rc = cnio__coll_agree(fh->comm, rc);
    if (rc == 0 && fh->size > 1)
        rc = cnio__coll_agree(fh->comm, file_share(fh, rc));
    if (rc == 0)
        cnio__coll_route(fh);
    /* Under the budget a rank that does not aggregate holds no connection between calls:
     * its independent calls connect, and close when done (connect.c). */
    if (rc == 0 && fh->route_nagg && fh->rank != 0)
        cnio__obj_set_transient(fh->obj, 1);
    cnio__fab_warm_wait();
    cnio__uri_free(&u);
    if (rc) {
        file_free(fh);
        return rc;
    }
    fh->stats.opened_at = cnio__now_ns();
    fh->stats.open_ns = fh->stats.opened_at - t0;
    file_list_add(fh);
    *fhp = fh;
    return 0;
}

/* Rank 0's part of a close, after the others' (quiet, cnio__coll_quiet): it is alone,
 * and says a host it finds lost as it finds it, unless a call or the others' close said
 * that host. */
static void file_say_own(cnio_file_t *fh)
{
    memcpy(fh->kept.skip, fh->lost_said, sizeof(fh->kept.skip));
    fh->kept.say = 1;
}

/* Rank 0's part of an abort, which it alone makes of the hosts: quiet as file_say_own,
 * so that a host a call of fh said lost is not said again (ended as the object goes). */
static void file_own_quiet(cnio_file_t *fh)
{
    fh->kept.key = CNIO_KEPT_NONE;
    fh->kept.line[0] = '\0';
    file_say_own(fh);
    cnio__obj_set_quiet(fh->obj, &fh->kept);
}

CNIO_API int cnio_file_close(cnio_file_t **fhp)
{
    cnio_file_t *fh;
    struct cnio_uri u = { 0 };
    int rc = 0, rc2, deleted, v[2];

    if (!fhp || !*fhp)
        return -CNIO_ERR_INVAL;
    fh = *fhp;
    *fhp = NULL;
    cnio__file_lock(fh);   /* held until it is freed (a call racing the close is erroneous) */
    cnio__coll_stats(fh, (cnio__now_ns() - fh->stats.opened_at) / 1e9);
    /* deleted by any rank of the job while open: every rank's close takes it as such */
    pthread_mutex_lock(&file_open_lock);
    v[0] = fh->deleted;
    pthread_mutex_unlock(&file_open_lock);
    /* and whether a rank wrote since the size was last set (then it is recorded below) */
    v[1] = !fh->sized || cnio__obj_writes(fh->obj) != fh->sized_writes;
    if (MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_INT, MPI_LOR, fh->comm) != MPI_SUCCESS)
        v[0] = 0, v[1] = 1;
    deleted = v[0];
    cnio__obj_set_gone_ok(fh->obj, deleted);
    /* collective too: a host found lost is said once, after the agreement (and not when
     * a call of fh said it already) */
    cnio__coll_quiet(fh, 1);
    /* Every rank's writes are acknowledged; rank 0 closes the handles last. */
    if (fh->rank != 0) {
        rc = cnio__obj_close(fh->obj);
        fh->obj = NULL;
    }
    rc = cnio__coll_agree(fh->comm, rc);
    if (rc)   /* (before rank 0's close says what followed from it) */
        cnio__coll_say_lost(fh);
    if (fh->rank == 0) {
        file_say_own(fh);
        /* a rank whose write failed (its close says so) may have torn the file: rank 0
         * then commits nothing and leaves in-place updates marked interrupted (a file
         * opened read-only has neither: its close would say it was left marked) */
        if (rc && !(fh->amode & MPI_MODE_RDONLY))
            cnio__obj_taint(fh->obj, rc);
        /* an upload that filled a host's disk: kept for a resume, it would hold that
         * space until --stage-expire (a week); discarded, the host has it back and the
         * previous version, if any, stays */
        if (cnio__obj_werr(fh->obj) == -CNIO_ERR_NOSPC && cnio__obj_staged(fh->obj)) {
            rc2 = cnio__obj_abort(fh->obj);
            cnio__err("%s: %s the incomplete upload: a host's disk was full", fh->uri,
                      rc2 == 0 ? "discarded" : "could not discard");
            rc2 = -CNIO_ERR_NOSPC;   /* the write failed, discarded or not */
        } else {
            /* the size every rank's writes made, recorded where the hosts' metadata
             * says another: each host then vouches for its file's length (a column
             * grown or cut short behind its server's back is refused, not read) */
            if (rc == 0 && !deleted && v[1] &&
                !(fh->amode & (MPI_MODE_RDONLY | MPI_MODE_DELETE_ON_CLOSE)))
                cnio__obj_record_size(fh->obj);
            rc2 = cnio__obj_close(fh->obj);
        }
        fh->obj = NULL;
        /* MPI_MODE_DELETE_ON_CLOSE deletes it as MPI_File_delete does: the job's other
         * handles of it close without error (they failed "removed while open"); and a
         * file the job deleted already (MPI_File_delete, another handle's close) is no
         * error, as in ROMIO and OMPIO */
        if (rc2 == 0 && (fh->amode & MPI_MODE_DELETE_ON_CLOSE)) {
            rc2 = cnio__uri_parse(fh->uri, &u);
            if (rc2 == 0)
                rc2 = file_unlink(fh->st, &u, &fh->hints);
            cnio__uri_free(&u);
            if (rc2 == -CNIO_ERR_NOENT && deleted)
                rc2 = 0;
        }
        if (rc == 0)
            rc = rc2;
    }
    rc = cnio__coll_agree(fh->comm, rc);
    cnio__file_unlock(fh);
    file_free(fh);
    return rc;
}

int cnio__file_abort(cnio_file_t **fhp)
{
    cnio_file_t *fh;
    int rc = 0;

    if (!fhp || !*fhp)
        return -CNIO_ERR_INVAL;
    fh = *fhp;
    *fhp = NULL;
    cnio__file_lock(fh);
    /* collective as a close: a host found lost is said once, and not again after a
     * call of fh said it (the failed write that an abort follows) */
    cnio__coll_quiet(fh, 1);
    if (fh->rank != 0) {
        rc = cnio__obj_close(fh->obj);
        fh->obj = NULL;
    }
    rc = cnio__coll_agree(fh->comm, rc);
    if (rc)
        cnio__coll_say_lost(fh);
    if (fh->rank == 0) {
        int rc2;

        file_own_quiet(fh);   /* (a job of one process too) */
        rc2 = cnio__obj_staged(fh->obj) ? cnio__obj_abort(fh->obj) : cnio__obj_close(fh->obj);
        fh->obj = NULL;
        if (rc == 0)
            rc = rc2;
    }
    rc = cnio__coll_agree(fh->comm, rc);
    cnio__file_unlock(fh);
    file_free(fh);
    return rc;
}

const char *cnio__file_uri(const cnio_file_t *fh)
{
    return fh->uri;
}

struct cnio_obj *cnio__file_obj(cnio_file_t *fh)
{
    return fh ? fh->obj : NULL;
}

static int file_get_size(cnio_file_t *fh, MPI_Offset *size)
{
    uint64_t s = 0;
    int rc;

    if (!fh || !size)
        return -CNIO_ERR_INVAL;
    rc = cnio__obj_size(fh->obj, &s);
    if (rc == 0 && s > (uint64_t)INT64_MAX)
        rc = -CNIO_ERR_OVERFLOW;
    if (rc == 0)
        *size = (MPI_Offset)s;
    return rc;
}

CNIO_API int cnio_file_get_size(cnio_file_t *fh, MPI_Offset *size)
{
    int rc;

    if (!fh)
        return -CNIO_ERR_INVAL;
    cnio__file_lock(fh);
    rc = file_get_size(fh, size);
    cnio__file_unlock(fh);
    return rc;
}

static int file_set_size(cnio_file_t *fh, MPI_Offset size)
{
    int rc = 0;

    if (!fh)
        return -CNIO_ERR_INVAL;
    if (size < 0)
        rc = -CNIO_ERR_INVAL;
    else if ((fh->amode & MPI_MODE_RDONLY))
        rc = -CNIO_ERR_AMODE;
    rc = cnio__coll_agree(fh->comm, rc);
    /* MPI-3.1 13.2.4: one size (MPI_ERR_NOT_SAME, as ROMIO's MPI_ERR_ARG says "notsame") */
    if (rc == 0)
        rc = cnio__coll_same(fh->comm, (int64_t)size,
                             "the size (cnio_file_set_size, MPI_File_set_size)");
    if (rc == 0 && fh->rank == 0)
        rc = cnio__obj_set_size(fh->obj, (uint64_t)size);
    rc = cnio__coll_agree(fh->comm, rc);
    fh->sized = rc == 0;   /* (every rank's writes before it are done: collective) */
    fh->sized_writes = cnio__obj_writes(fh->obj);
    return rc;
}

CNIO_API int cnio_file_set_size(cnio_file_t *fh, MPI_Offset size)
{
    int rc;

    if (!fh)
        return -CNIO_ERR_INVAL;
    cnio__file_lock(fh);
    rc = file_set_size(fh, size);
    cnio__file_unlock(fh);
    return rc;
}

static int file_sync(cnio_file_t *fh)
{
    int rc;

    if (!fh)
        return -CNIO_ERR_INVAL;
    /* After the first agreement every rank's acknowledged writes are in the servers'
     * files; one fsync per host then covers them all. Reads after it see them: the
     * cached block goes. */
    cnio__rcache_drop(fh);
    rc = cnio__coll_agree(fh->comm, 0);
    if (rc == 0 && fh->rank == 0)
        rc = cnio__obj_sync(fh->obj);
    return cnio__coll_agree(fh->comm, rc);
}

CNIO_API int cnio_file_sync(cnio_file_t *fh)
{
    int rc;

    if (!fh)
        return -CNIO_ERR_INVAL;
    cnio__file_lock(fh);
    rc = file_sync(fh);
    cnio__file_unlock(fh);
    return rc;
}

CNIO_API int cnio_file_delete(const char *uri, MPI_Info info)
{
    struct cnio_uri u = { 0 };
    struct cnio_hints h;
    struct cnio_stack *st = NULL;
    int rc;

    if (!uri)
        return -CNIO_ERR_INVAL;
    rc = file_uri(uri, &u, 1);   /* "x/" is no file, as unlink(2) says */
    if (rc == 0)
        rc = cnio__coll_hints(&u, info, &h, 1);
    if (rc == 0)
        rc = cnio__stack_open(&st);
    if (rc == 0)
        rc = file_unlink(st, &u, &h);
    if (st)
        cnio__stack_close(st);
    cnio__uri_free(&u);
    return rc;
}
