/*
 * request_open.c - the OPEN request: a handle on an object's data file or on a staged
 * instance of it (made, resumed or joined), with what the reply tells the client of
 * it, and a reader refused an object it would find incomplete. As every request
 * handler's, described in request.c.
 */
#include "server.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

/* Handle id's writer in place, whose open failed after it was counted, goes as a close
 * would (cnio__srv_open_undo), not as a writer lost mid-update (handles.c). */
static void req_open_undo(struct cnio_srv_conn *c, uint64_t id)
{
    struct cnio_srv_handle *hd = cnio__srv_handles_get(&c->srv->handles, id);

    if (!hd)
        return;
    pthread_mutex_lock(&hd->lock);
    if (hd->writer && !hd->closing) {
        cnio__srv_open_undo(&c->srv->store, hd->name, hd->fd,
                            hd->sums_state == 1 ? &hd->sums : NULL);
        hd->writer = 0;
    }
    pthread_mutex_unlock(&hd->lock);
    cnio__srv_handles_put(&c->srv->handles, hd);
}

/* Registers an open data file as a handle owned by c and fills the reply. */
static int req_open_finish(struct cnio_srv_conn *c, int fd, const char *name, uint32_t oflags,
                           uint64_t stage, int writer, const struct cnio_srv_meta *m,
                           const struct cnio_wire_info *info, struct cnio_srv_reply *r)
{
    struct cnio_srv_handles *t = &c->srv->handles;
    char *copy = strdup(name);
    uint64_t id;
    int ret;

    if (!copy) {
        if (writer)
            cnio__srv_open_undo(&c->srv->store, name, fd, NULL);
        close(fd);
        cnio__srv_handles_unreserve(t);
        return -CNIO_ERR_NOMEM;
    }
    ret = cnio__srv_handles_add(t, fd, copy, oflags, stage, &c->srv->store, writer, m, c,
                                &id);
    if (ret)
        return ret;
    ret = cnio__srv_conn_own(c, id);
    if (!ret)
        ret = cnio__srv_req_info_reply(c, r, info);
    if (ret) {
        req_open_undo(c, id);
        cnio__srv_conn_disown(c, id);
        cnio__srv_handles_remove(t, id, NULL);
        return ret;
    }
    r->object = id;
    r->offset = stage ? stage : m->gen;
    return 0;
}

/*
 * A write handle's block sums are opened (built when missing) with it, from the instance
 * it writes (instance: the staged one, or 0 for the object in place), so that they follow
 * the file through a commit. dsb: the stat of its data file, when known (else NULL). On
 * failure the handle goes.
 */
static int req_open_sums(struct cnio_srv_conn *c, uint64_t id, uint64_t instance, int resume,
                         const struct stat *dsb)
{
    struct cnio_srv_handle *hd = cnio__srv_handles_get(&c->srv->handles, id);
    long healed = 0;
    int ret;

    if (!hd)
        return -CNIO_ERR_NOENT;
    pthread_mutex_lock(&hd->lock);
    ret = cnio__srv_sums_open(&c->srv->store, hd->name, instance, &hd->meta, hd->fd, dsb, 1,
                              &hd->sums);
    hd->sums_state = ret ? 0 : 1;
    if (!ret && resume)   /* the resuming client compares every chunk's CRC with these bytes */
        healed = cnio__srv_sums_heal(&hd->sums, hd->fd);
    if (healed > 0)
        cnio__warn("%s: %s: %ld blocks whose write was interrupted get checksums of their "
                   "bytes (the resumed upload checks them)", c->peer, hd->name, healed);
    if (ret)
        cnio__warn("%s: block sums of %s: %s", c->peer, hd->name, cnio__srv_strerror(ret));
    if (ret == -CNIO_ERR_CHECKSUM)   /* not rebuilt from the data: see sums_file.c */
        ret = cnio__srv_sums_refused(ret, hd->name, 1);
    if (ret && hd->writer && !hd->closing) {   /* (as req_open_undo) */
        cnio__srv_open_undo(&c->srv->store, hd->name, hd->fd, NULL);
        hd->writer = 0;
    }
    pthread_mutex_unlock(&hd->lock);
    cnio__srv_handles_put(&c->srv->handles, hd);
    if (ret) {
        cnio__srv_conn_disown(c, id);
        cnio__srv_handles_remove(&c->srv->handles, id, NULL);
    }
    return ret;
}

static int req_open_named(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h,
                          const struct cnio_wire_open *op, const char *name,
                          struct cnio_srv_reply *r);

/*
 * A writer in place of an object whose block sums file is damaged is refused (sums_file.c
 * says why nothing rebuilds it), and before the object is marked as being written: a
 * writer refused after the mark left it, and readers were then refused the object as
 * incomplete. 0 when the sums are sound, or missing where no upload made them (an object
 * with no generation, or empty: the writer's open builds them).
 */
static int req_sums_probe(struct cnio_srv_conn *c, const char *name,
                          const struct cnio_srv_meta *m, int fd)
{
    struct cnio_srv_sums s;
    int ret = cnio__srv_sums_open(&c->srv->store, name, 0, m, fd, NULL, 0, &s);

    if (ret == 0)
        cnio__srv_sums_close(&s);
    if (ret != -CNIO_ERR_CHECKSUM)
        return 0;
    cnio__warn("%s: %s: its block sums file on this host is damaged, missing or another "
               "object's: not opened for writing in place", c->peer, name);
    return cnio__srv_sums_refused(ret, name, 1);
}

/*
 * A reader's block sums are opened with its data, at OPEN (under the name's open lock),
 * not by name at its first READ: a commit of a new version in between put the new
 * version's sums beside the old data the reader holds, and its reads failed their
 * checksums. A failure here leaves them to the first READ, as before.
 */
static void req_open_sums_ro(struct cnio_srv_conn *c, uint64_t id)
{
    struct cnio_srv_handle *hd = cnio__srv_handles_get(&c->srv->handles, id);
    int err;

    if (!hd)
        return;
    pthread_mutex_lock(&hd->lock);
    cnio__srv_req_sums(c, hd, 0, &err);
    pthread_mutex_unlock(&hd->lock);
    cnio__srv_handles_put(&c->srv->handles, hd);
}

int cnio__srv_req_open(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, const uint8_t *p,
                       struct cnio_srv_reply *r)
{
    struct cnio_srv_opening opening;
    struct cnio_wire_open o;
    char name[CNIO_WIRE_MAX_NAME + 1];
    pthread_mutex_t *lk = NULL;
    int ret;

    if (cnio__wire_open_parse(p, h->length, 0, &o))
        return -CNIO_ERR_PROTO;
    ret = cnio__srv_store_name(o.name, o.name_len, name);
    if (ret)
        return ret;
    /* One at a time with the commits of the name: a staging open that may join what
     * another open stages, and any open that takes the object's data, metadata and
     * block sums, which a commit replaces one after the other. A fresh TRUNC instance
     * touches nothing another open could see; it is this open's from before it exists,
     * so that what prunes the name's unheld instances leaves it alone. Not a TRUNC
     * without O_STAGE (or with O_JOIN or O_RESUME): it empties the object itself, which
     * a commit or a writer in place's open must not find halfway (it ran unlocked, and
     * wrote fresh metadata over the mark of live writers). */
    if (!(o.flags & CNIO_WIRE_O_TRUNC) || !(o.flags & CNIO_WIRE_O_STAGE) ||
        (o.flags & (CNIO_WIRE_O_JOIN | CNIO_WIRE_O_RESUME)))
        lk = cnio__srv_open_lock(&c->srv->store, name);
    else
        cnio__srv_handles_opening(&c->srv->handles, &opening, h->offset);
    if (lk)
        pthread_mutex_lock(lk);
    ret = req_open_named(c, h, &o, name, r);
    if (lk)
        pthread_mutex_unlock(lk);
    else
        cnio__srv_handles_opened(&c->srv->handles, &opening);
    return ret;
}

/*
 * The refusal of a read-only OPEN of name that a reader would find incomplete, with what
 * this server knows of why: flags are the object's (I_DIRTY, I_COMMITTING), 0 for a name
 * that has only staged instances. The open lock of the name is held, which a commit
 * holds throughout, so I_COMMITTING here is a commit that stopped; I_DIRTY is reported
 * only while no live handle writes in place (cnio__srv_store_adjust). A staged instance
 * that a live handle writes is an object being created, which is not interrupted.
 */
static int req_incomplete(struct cnio_srv_conn *c, const char *name, uint32_t flags)
{
    uint64_t id;

    if (flags & CNIO_WIRE_I_COMMITTING)
        return cnio__srv_why(-CNIO_ERR_INCOMPLETE, "a commit of it on this server was "
                             "interrupted; copying it again or removing it repairs it");
    if (flags & CNIO_WIRE_I_DIRTY)
        return cnio__srv_why(-CNIO_ERR_INCOMPLETE, "an update in place was interrupted (its "
                             "writer stopped, or this server did, before it was closed); a "
                             "program that opens it for writing and closes it cleanly takes "
                             "it as it is, copying it again replaces it");
    if (cnio__srv_stage_find_live(&c->srv->store, name, cnio__srv_handles_live,
                                  &c->srv->handles, &id) == 0)
        return cnio__srv_why(-CNIO_ERR_INCOMPLETE, "it is being created, and appears when "
                             "its writer closes it (the writer's job reads it before then "
                             "through a handle opened for writing: MPI_MODE_RDWR)");
    /* (a reason holds 256 bytes: CNIO_WIRE_MAX_REASON) */
    return cnio__srv_why(-CNIO_ERR_INCOMPLETE, "an upload of it was interrupted before it "
                         "committed (cnio cp --resume of a file source finishes it, not a "
                         "stream's; a program run again writes it afresh, or with hint "
                         "cnio_resume=true goes on with it and commits what it holds at "
                         "close; cnio rm removes it)");
}

/* What an OPEN of a name (req_open_named) has found and taken, step by step. */
struct req_opened {
    int fd;                      /* the data file opened */
    int created;                 /* made by this open */
    uint64_t stage, joined;      /* the staged instance opened, or the one joined (else 0) */
    int writer;                  /* a writer in place, its mark made (cnio__srv_open_dirty) */
    int interrupted;             /* an update in place before it was interrupted */
    int others;                  /* other writers in place hold the object */
    struct cnio_srv_meta m;      /* its metadata */
    struct stat sb;              /* its data file's, as last looked at */
    struct cnio_wire_info info;  /* what the reply says of it */
};

/*
 * Opens name's data file for OPEN o (h: its header) into x: a staged instance (O_STAGE,
 * made, resumed or joined: O_JOIN) or the object itself. A refusal says why when this
 * server knows: an incomplete object, or a column of which this host holds nothing.
 * 0, or a negative code.
 */
static int req_open_take(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h,
                         const struct cnio_wire_open *o, const char *name,
                         struct req_opened *x)
{
    struct cnio_srv_meta want;
    int ret;

    memset(&want, 0, sizeof(want));
    want.layout.unit = o->stripe_unit;
    want.layout.count = o->stripe_count;
    want.index = o->stripe_index;
    if (o->flags & (CNIO_WIRE_O_STAGE | CNIO_WIRE_O_JOIN))
        ret = cnio__srv_open_stage(c, name, o, h->offset, &want, &x->fd, &x->m, &x->stage,
                                   &x->created, &x->joined);
    else
        ret = cnio__srv_store_open_obj(&c->srv->store, name, o->flags, &want, &x->fd, &x->m,
                                       &x->created);
    if (ret == -CNIO_ERR_INCOMPLETE)
        ret = req_incomplete(c, name, 0);
    /* Columns 1.. of an object whose column 0 its first host opened: nothing here is an
     * object written through other hosts (cnio stat says the same). A JOIN's NOENT is
     * asked again and a RESUME's copies afresh: the client says those. */
    if (ret == -CNIO_ERR_NOENT && o->stripe_index > 0 &&
        !(o->flags & (CNIO_WIRE_O_JOIN | CNIO_WIRE_O_RESUME)))
        ret = cnio__srv_why(ret, "this host holds nothing of column %u of it: written "
                            "through other hosts (open it through the URI that wrote it), or "
                            "this host lost its column (copying it again through this URI "
                            "replaces it; cnio rm removes it)", o->stripe_index);
    return ret;
}

/*
 * The object itself opened by x (not a staged instance): one taken as it is has its
 * length checked against its metadata, before a writer in place's mark (which vouches
 * no longer); a writer in place is refused when its block sums are damaged, else marks
 * it (x->writer), having learnt whether an update before it was interrupted and whether
 * other writers hold it. 0, or a negative code (x->fd closed).
 */
static int req_open_in_place(struct cnio_srv_conn *c, const struct cnio_wire_open *o,
                             const char *name, struct req_opened *x)
{
    int ret;

    if (x->stage || x->joined)
        return 0;
    if (!x->created && !(o->flags & CNIO_WIRE_O_TRUNC)) {
        ret = fstat(x->fd, &x->sb) < 0
                  ? cnio__srv_why_errno(errno)
                  : cnio__srv_store_length_check(&c->srv->store, name, &x->m, &x->sb);
        if (ret) {
            close(x->fd);
            return ret;
        }
    }
    if (!(o->flags & CNIO_WIRE_O_WRITE))
        return 0;
    /* marked by an update no live writer holds: one that was interrupted */
    x->others = cnio__srv_store_written(&c->srv->store, name);
    x->interrupted = (x->m.flags & CNIO_SRV_META_DIRTY) && !x->others &&
                     cnio__srv_store_interrupted(&c->srv->store, name);
    ret = req_sums_probe(c, name, &x->m, x->fd);
    if (!ret)
        ret = cnio__srv_open_dirty(c, name, &x->m);
    x->writer = !ret;
    if (ret)
        close(x->fd);
    return ret;
}

/*
 * What the reply to OPEN o (h: its header) says of x (x->info, from its data file's
 * stat): a reader is refused an object it would find torn (an update in place or a
 * commit interrupted); a writer is told of an interrupted update before it (F_PRIOR)
 * and of other writers in place (F_UPDATES). 0, or a negative code (x->fd closed, a
 * writer's mark undone).
 */
static int req_open_info(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h,
                         const struct cnio_wire_open *o, const char *name,
                         struct req_opened *x)
{
    int ret = fstat(x->fd, &x->sb) < 0 ? cnio__srv_why_errno(errno) : 0;

    if (!ret)
        cnio__srv_store_fill(&x->m, &x->sb, (x->created ? CNIO_WIRE_I_CREATED : 0) |
                             (x->stage ? CNIO_WIRE_I_STAGED : 0) |
                             (x->joined ? CNIO_WIRE_I_JOINED : 0), &x->info);
    if (!ret && !(o->flags & CNIO_WIRE_O_WRITE)) {
        cnio__srv_store_adjust(&c->srv->store, name, &x->info);
        /* a reader would get a torn object */
        if (x->info.flags & (CNIO_WIRE_I_DIRTY | CNIO_WIRE_I_COMMITTING))
            ret = req_incomplete(c, name, x->info.flags);
    } else {
        x->info.flags &= ~CNIO_WIRE_I_DIRTY;   /* this writer's own mark */
        if (x->interrupted && (h->flags & CNIO_WIRE_F_PRIOR))
            x->info.flags |= CNIO_WIRE_I_INTERRUPTED;
        /* other writers in place hold it: this host's update count may lag */
        if (x->others && x->writer && (h->flags & CNIO_WIRE_F_UPDATES))
            x->info.flags |= CNIO_WIRE_I_INPLACE;
    }
    if (ret) {
        if (x->writer)
            cnio__srv_open_undo(&c->srv->store, name, x->fd, NULL);
        close(x->fd);
    }
    return ret;
}

/*
 * Makes x a handle of c and fills reply r: a writer's block sums opened with it (a fresh
 * staged instance's from its stat as opened), a reader's too, and a handle of a joined
 * instance joined to the others. 0, or a negative code (a staged instance this open
 * made or took discarded, unless O_RESUME).
 */
static int req_open_reply(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h,
                          const struct cnio_wire_open *o, const char *name,
                          const struct req_opened *x, struct cnio_srv_reply *r)
{
    int ret = req_open_finish(c, x->fd, name, o->flags, x->stage, x->writer, &x->m, &x->info,
                              r);

    if (!ret && x->writer && (h->flags & CNIO_WIRE_F_UPDATES))
        r->offset = x->m.updates;   /* what the client reconciles its hosts' counts from */
    if (!ret && (o->flags & CNIO_WIRE_O_WRITE))
        ret = req_open_sums(c, r->object, x->stage ? x->stage : x->joined,
                            (o->flags & CNIO_WIRE_O_RESUME) != 0,
                            x->created && x->stage ? &x->sb : NULL);   /* a fresh instance */
    else if (!ret)
        req_open_sums_ro(c, r->object);
    if (ret && x->stage && !(o->flags & CNIO_WIRE_O_RESUME))
        cnio__srv_stage_discard(&c->srv->store, x->stage);
    if (!ret && x->joined) {
        struct cnio_srv_handle *hd = cnio__srv_handles_get(&c->srv->handles, r->object);

        if (hd) {
            cnio__srv_handles_join(&c->srv->handles, hd, x->joined);
            cnio__srv_handles_put(&c->srv->handles, hd);
        }
        r->offset = x->joined;
    }
    return ret;
}

/*
 * OPEN of name (op, parsed from h's payload; in the order cnio__srv_req_open sets with
 * the name's commits): a handle slot reserved, the data file opened (req_open_take),
 * the object in place checked and a writer's mark made (req_open_in_place), what the
 * reply says of it decided (req_open_info), and the handle made (req_open_reply). A
 * failure before the handle gives the slot back and discards a staged instance made
 * here (unless O_RESUME).
 */
static int req_open_named(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h,
                          const struct cnio_wire_open *op, const char *name,
                          struct cnio_srv_reply *r)
{
    const struct cnio_wire_open o = *op;
    struct req_opened x;
    int ret;

    memset(&x, 0, sizeof(x));
    ret = cnio__srv_handles_reserve(&c->srv->handles);
    if (ret)
        return ret;
    ret = req_open_take(c, h, &o, name, &x);
    if (!ret)
        ret = req_open_in_place(c, &o, name, &x);
    if (!ret)
        ret = req_open_info(c, h, &o, name, &x);
    if (ret) {
        if (x.stage && !(o.flags & CNIO_WIRE_O_RESUME))
            cnio__srv_stage_discard(&c->srv->store, x.stage);
        cnio__srv_handles_unreserve(&c->srv->handles);
        return ret;
    }
    if (x.created)
        cnio__debug("%s: created %s", c->peer, name);
    return req_open_reply(c, h, &o, name, &x, r);
}
