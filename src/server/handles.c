/*
 * handles.c - the server-wide table of open object handles.
 *
 * A handle is shared by every worker thread: a connection that opened it owns it, and
 * other connections (other lanes, token-authenticated ranks) may use it. A CLOSE ends
 * it for all of them. An owner that goes away without one takes a writing handle with
 * it, and leaves a read-only one an orphan, which lives on while connections are bound
 * to it (the job's ranks, budget.c) and goes with the last of them. The table is a
 * mutex-protected hash; entries are reference-counted so that a CLOSE (or the last user
 * going away) while another thread is in a pwrite on the same handle is safe: the file
 * is closed when the last reference goes.
 */
#include "server.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void cnio__srv_file_put(struct cnio_srv_file *f)
{
    if (atomic_fetch_sub(&f->refs, 1) == 1) {
        close(f->fd);
        free(f);
    }
}

static size_t handles_bucket(const struct cnio_srv_handles *t, uint64_t id)
{
    id ^= id >> 33;
    id *= 0xff51afd7ed558ccdull;
    id ^= id >> 33;
    return (size_t)(id & (t->nbuckets - 1));
}

int cnio__srv_handles_init(struct cnio_srv_handles *t, uint32_t max_open)
{
    size_t n = 64;

    while (n < max_open && n < (1u << 20))
        n <<= 1;
    t->buckets = calloc(n, sizeof(*t->buckets));
    if (!t->buckets)
        return -CNIO_ERR_NOMEM;
    if (pthread_mutex_init(&t->lock, NULL)) {
        free(t->buckets);
        return -CNIO_ERR_NOMEM;
    }
    t->nbuckets = n;
    t->opening = NULL;
    t->count = 0;
    t->max = max_open;
    atomic_init(&t->sync_on_close, 0);
    atomic_init(&t->njoined, 0);
    return 0;
}

static void handles_free(struct cnio_srv_handles *t, struct cnio_srv_handle *h)
{
    if ((h->oflags & CNIO_WIRE_O_WRITE) && atomic_load(&t->sync_on_close) &&
        fsync(h->fd) < 0)
        cnio__warn("fsync of %s at shutdown: %s", h->name,
                   cnio__srv_strerror(cnio__srv_why_errno(errno)));
    if ((h->oflags & CNIO_WIRE_O_WRITE) && atomic_load(&t->sync_on_close) &&
        cnio__srv_sums_sync(&h->sums))
        cnio__warn("fsync of the block sums of %s at shutdown failed", h->name);
    if (h->conns_peak > 1 || h->budget || h->refused)
        cnio__info("%s: closed; the job held at most %u connection%s at once for this open "
                   "(budget %u%s), %llu refused by the budget", h->name, h->conns_peak,
                   h->conns_peak == 1 ? "" : "s", h->budget, h->budget ? "" : ": none",
                   (unsigned long long)h->refused);
    if (h->stage && h->store)   /* released uncommitted: its metadata goes to ID.meta */
        cnio__srv_stage_meta_save(h->store, h->stage);
    if (h->file)
        cnio__srv_file_put(h->file);
    cnio__srv_sums_close(&h->sums);
    /* a writer gone without a clean CLOSE may have written part of an update: the other
     * writers' close leaves the object marked, and an instance it joined is not committed */
    if (h->writer)
        cnio__srv_store_writer_gone(h->store, h->name, h->closed, h->closing);
    if (h->joined && !h->closed && h->store &&
        cnio__srv_stage_idx_torn(h->store, h->joined, 1))
        cnio__warn("%s: a writer that joined its upload went without closing it: what it "
                   "wrote may be torn, and the upload will not be committed", h->name);
    if (h->joined)
        atomic_fetch_sub(&t->njoined, 1);
    close(h->fd);
    pthread_mutex_destroy(&h->lock);
    free(h->name);
    free(h);
}

void cnio__srv_handles_fini(struct cnio_srv_handles *t)
{
    for (size_t b = 0; b < t->nbuckets; b++) {
        struct cnio_srv_handle *h = t->buckets[b];

        while (h) {
            struct cnio_srv_handle *next = h->next;

            handles_free(t, h);
            h = next;
        }
    }
    free(t->buckets);
    t->buckets = NULL;
    pthread_mutex_destroy(&t->lock);
}

int cnio__srv_handles_reserve(struct cnio_srv_handles *t)
{
    int ret = 0;

    pthread_mutex_lock(&t->lock);
    if (t->count >= t->max)
        ret = -CNIO_ERR_LIMIT;
    else
        t->count++;
    pthread_mutex_unlock(&t->lock);
    if (ret)
        cnio__srv_why(ret, "too many objects open on this server (--max-open %u)",
                      (unsigned)t->max);
    return ret;
}

void cnio__srv_handles_unreserve(struct cnio_srv_handles *t)
{
    pthread_mutex_lock(&t->lock);
    t->count--;
    pthread_mutex_unlock(&t->lock);
}

static struct cnio_srv_handle *handles_find(struct cnio_srv_handles *t, uint64_t id)
{
    struct cnio_srv_handle *h = t->buckets[handles_bucket(t, id)];

    while (h && h->id != id)
        h = h->next;
    return h;
}

/* Links h under a fresh random id (table lock held by the caller). */
static int handles_link(struct cnio_srv_handles *t, struct cnio_srv_handle *h)
{
    size_t b;

    do {
        if (cnio__random(&h->id, sizeof(h->id)))
            return -CNIO_ERR_IO;
    } while (h->id == 0 || handles_find(t, h->id));
    b = handles_bucket(t, h->id);
    h->next = t->buckets[b];
    t->buckets[b] = h;
    h->linked = 1;
    h->refs = 1;
    return 0;
}

int cnio__srv_handles_add(struct cnio_srv_handles *t, int fd, char *name, uint32_t oflags,
                          uint64_t stage, struct cnio_srv_store *st, int writer,
                          const struct cnio_srv_meta *m, const void *owner, uint64_t *id_out)
{
    struct cnio_srv_handle *h = calloc(1, sizeof(*h));
    int ret = -CNIO_ERR_NOMEM;

    if (!h)
        goto close_fd;
    if (pthread_mutex_init(&h->lock, NULL))
        goto free_h;
    h->fd = fd;
    h->sums.fd = -1;
    h->name = name;
    h->oflags = oflags;
    h->stage = stage;
    h->store = st;
    h->writer = writer;
    h->owner = owner;
    h->meta = *m;
    pthread_mutex_lock(&t->lock);
    ret = handles_link(t, h);
    if (!ret)
        *id_out = h->id;
    pthread_mutex_unlock(&t->lock);
    if (!ret)
        return 0;
    pthread_mutex_destroy(&h->lock);
free_h:
    free(h);
close_fd:
    if (writer)
        cnio__srv_open_undo(st, name, fd, NULL);
    close(fd);
    free(name);
    cnio__srv_handles_unreserve(t);
    return ret;
}

struct cnio_srv_handle *cnio__srv_handles_get(struct cnio_srv_handles *t, uint64_t id)
{
    struct cnio_srv_handle *h;

    if (id == 0)
        return NULL;
    pthread_mutex_lock(&t->lock);
    h = handles_find(t, id);
    if (h)
        h->refs++;
    pthread_mutex_unlock(&t->lock);
    return h;
}

void cnio__srv_handles_put(struct cnio_srv_handles *t, struct cnio_srv_handle *h)
{
    int last;

    pthread_mutex_lock(&t->lock);
    last = --h->refs == 0;
    if (last)
        t->count--;
    pthread_mutex_unlock(&t->lock);
    if (last)
        handles_free(t, h);
}

void cnio__srv_handles_opening(struct cnio_srv_handles *t, struct cnio_srv_opening *o,
                               uint64_t stage)
{
    o->stage = stage;
    pthread_mutex_lock(&t->lock);
    o->next = t->opening;
    t->opening = o;
    pthread_mutex_unlock(&t->lock);
}

void cnio__srv_handles_opened(struct cnio_srv_handles *t, struct cnio_srv_opening *o)
{
    pthread_mutex_lock(&t->lock);
    for (struct cnio_srv_opening **p = &t->opening; *p; p = &(*p)->next)
        if (*p == o) {
            *p = o->next;
            break;
        }
    pthread_mutex_unlock(&t->lock);
}

static int handles_writing(struct cnio_srv_handles *t, uint64_t stage, int joined)
{
    int found = 0;

    pthread_mutex_lock(&t->lock);
    for (const struct cnio_srv_opening *o = t->opening; o && !found; o = o->next)
        found = o->stage == stage;
    for (size_t b = 0; b < t->nbuckets && !found; b++)
        for (struct cnio_srv_handle *h = t->buckets[b]; h && !found; h = h->next)
            /* read racily: set at open, cleared at commit (joined: at the adoption) */
            found = h->stage == stage || (joined && h->joined == stage);
    pthread_mutex_unlock(&t->lock);
    return found;
}

int cnio__srv_handles_live(void *t, uint64_t stage)
{
    return handles_writing(t, stage, 0);
}

int cnio__srv_handles_held(void *t, uint64_t stage)
{
    return handles_writing(t, stage, 1);
}

int cnio__srv_handles_joined(struct cnio_srv_handles *t, uint64_t instance)
{
    int found = 0;

    if (!instance || atomic_load(&t->njoined) == 0)
        return 0;
    pthread_mutex_lock(&t->lock);
    for (size_t b = 0; b < t->nbuckets && !found; b++)
        for (struct cnio_srv_handle *h = t->buckets[b]; h && !found; h = h->next)
            found = h->joined == instance;
    pthread_mutex_unlock(&t->lock);
    return found;
}

void cnio__srv_handles_join(struct cnio_srv_handles *t, struct cnio_srv_handle *h,
                            uint64_t instance)
{
    pthread_mutex_lock(&t->lock);
    atomic_fetch_add(&t->njoined, (instance != 0) - (h->joined != 0));
    h->joined = instance;
    pthread_mutex_unlock(&t->lock);
}

void cnio__srv_handles_gone(struct cnio_srv_handles *t, const char *name, uint64_t instance,
                            int why)
{
    if (atomic_load(&t->njoined) == 0)
        return;
    pthread_mutex_lock(&t->lock);
    for (size_t b = 0; b < t->nbuckets; b++)
        for (struct cnio_srv_handle *h = t->buckets[b]; h; h = h->next)
            if (h->joined && !h->gone &&   /* (the first: an ABORT after the UNLINK) */
                (instance ? h->joined == instance : !strcmp(h->name, name)))
                h->gone = why;
    pthread_mutex_unlock(&t->lock);
}

int cnio__srv_handles_gone_why(struct cnio_srv_handles *t, const struct cnio_srv_handle *h)
{
    int why;

    pthread_mutex_lock(&t->lock);
    why = h->gone;
    pthread_mutex_unlock(&t->lock);
    return why;
}

/* A counted reference to a linked handle that joined instance of name, or NULL. */
static struct cnio_srv_handle *handles_joiner(struct cnio_srv_handles *t, const char *name,
                                              uint64_t instance)
{
    struct cnio_srv_handle *h = NULL;

    pthread_mutex_lock(&t->lock);
    for (size_t b = 0; b < t->nbuckets && !h; b++)
        for (h = t->buckets[b]; h; h = h->next)
            if (h->joined == instance && !strcmp(h->name, name))
                break;
    if (h)
        h->refs++;
    pthread_mutex_unlock(&t->lock);
    return h;
}

/*
 * The adoption of joiners of name, counted as a writer in place while it ran, closes as
 * one (cnio__srv_handles_adopt): the last, it clears the mark, after an fsync of the
 * object's data (fd) and block sums (cnio__srv_store_complete). A joiner that closed
 * after the commit's fsync, with bytes written since, was found by the adoption, which
 * marked the object, and not adopted: before, this clear came with no fsync and no
 * ticket, and a power cut left its bytes torn under a clean mark. As a close, it cannot
 * race a writer's (its ticket).
 */
static void handles_adopted(struct cnio_srv_store *st, const char *name, int fd,
                            const struct cnio_srv_sums *sums)
{
    struct cnio_srv_vouch v = { .updates = -2 };   /* (counts no update of its own) */
    struct stat sb;
    int ret = 0, last = cnio__srv_store_writer_closing(st, name, &v.ticket);

    /* (not of an object removed meanwhile: there is no mark of it to clear) */
    if (last && fstat(fd, &sb) == 0 && sb.st_nlink == 0)
        cnio__srv_store_clear_none(st, name, 0);
    else if (last)
        ret = cnio__srv_store_complete(st, name, fd, sums, NULL, &v,
                                       "its joiners closed as its upload committed");
    cnio__srv_store_writer_gone(st, name, !ret, 1);
}

int cnio__srv_handles_adopt(struct cnio_srv_handles *t, struct cnio_srv_store *st,
                            const char *name, uint64_t instance, int fd,
                            const struct cnio_srv_sums *sums, int counted)
{
    struct cnio_srv_handle *h;
    struct cnio_srv_meta m;
    int n = 0, marked = counted, ret;

    if (!instance || (!counted && atomic_load(&t->njoined) == 0))
        return 0;
    while ((h = handles_joiner(t, name, instance))) {
        /* the adoption a writer in place until it ends (handles_adopted); counted, the
         * commit made the object marked already */
        if (!marked++ && cnio__srv_store_writer(st, name, 1) > 0 &&
            (ret = cnio__srv_store_mark(st, name, 1, NULL, &m)))
            cnio__warn("%s: a writer that joined its upload writes it in place now, but its "
                       "mark as being written could not be recorded: %s", name,
                       cnio__srv_strerror(ret));
        /* h->lock, so that its CLOSE comes wholly before (no longer joined: skipped) or
         * after (a writer in place) */
        pthread_mutex_lock(&h->lock);
        if (h->joined == instance) {
            cnio__srv_store_writer(st, name, 1);
            cnio__srv_handles_join(t, h, 0);
            h->writer = 1;
            h->adopted = 1;
            n++;
        }
        pthread_mutex_unlock(&h->lock);
        cnio__srv_handles_put(t, h);
    }
    if (marked)
        handles_adopted(st, name, fd, sums);
    return n;
}

int cnio__srv_handles_remove(struct cnio_srv_handles *t, uint64_t id, const void *owner)
{
    struct cnio_srv_handle **pp, *h;

    if (id == 0)
        return -CNIO_ERR_NOENT;
    pthread_mutex_lock(&t->lock);
    pp = &t->buckets[handles_bucket(t, id)];
    while (*pp && (*pp)->id != id)
        pp = &(*pp)->next;
    h = *pp;
    if (!h || (owner && h->owner != owner)) {
        pthread_mutex_unlock(&t->lock);
        return -CNIO_ERR_NOENT;
    }
    *pp = h->next;
    h->linked = 0;
    pthread_mutex_unlock(&t->lock);
    cnio__srv_handles_put(t, h);
    return 0;
}

void cnio__srv_handles_orphan(struct cnio_srv_handles *t, uint64_t id, const void *owner)
{
    struct cnio_srv_handle *h = cnio__srv_handles_get(t, id);
    int unused;

    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    unused = h->owner == owner && (h->conns == 0 || (h->oflags & CNIO_WIRE_O_WRITE));
    if (h->owner == owner)
        h->orphan = 1;
    pthread_mutex_unlock(&h->lock);
    if (unused)
        cnio__srv_handles_remove(t, id, owner);
    cnio__srv_handles_put(t, h);
}
