/*
 * inplace.c - objects written in place (opened for writing without staging, as MPI-IO
 * updates an existing file): the live writers of each name (their count, and the closes
 * they began), the dirty mark in the metadata that the first one's open sets and the last
 * one's clean close clears, the size a writer records (SETSIZE), and the undoing of an
 * in-place open that failed. Staged writes and their commit: commit.c, stage*.c.
 */
#include "server.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The live in-place writers of name (store lock held). */
static struct cnio_srv_writer **store_writer_find(struct cnio_srv_store *st, const char *name)
{
    struct cnio_srv_writer **pp = &st->writers;

    while (*pp && strcmp((*pp)->name, name))
        pp = &(*pp)->next;
    return pp;
}

/* Adds delta to the live in-place writers of name, one of which, with lost, went without
 * a clean CLOSE while others still wrote, and with closing, had begun its CLOSE
 * (cnio__srv_store_writer_gone): their count after (store lock held). */
static int store_writer_add_locked(struct cnio_srv_store *st, const char *name, int delta,
                                   int lost, int closing)
{
    struct cnio_srv_writer **pp, *w;
    int n = 0;

    pp = store_writer_find(st, name);
    w = *pp;
    if (!w && delta > 0 && (w = calloc(1, sizeof(*w) + strlen(name) + 1))) {
        strcpy(w->name, name);
        *pp = w;
    }
    if (w) {
        int was = w->count;

        w->lost |= lost && was > 1;
        w->count += delta;
        w->closing -= closing;
        n = w->count;
        if (n <= 0) {
            *pp = w->next;
            free(w);
            n = 0;
        }
        atomic_fetch_add(&st->nwriters, n - was);
    }
    return n;
}

/* store_writer_add_locked in one hold of the store lock. */
static int store_writer_add(struct cnio_srv_store *st, const char *name, int delta, int lost,
                            int closing)
{
    int n;

    pthread_mutex_lock(&st->lock);
    n = store_writer_add_locked(st, name, delta, lost, closing);
    pthread_mutex_unlock(&st->lock);
    return n;
}

int cnio__srv_store_writer(struct cnio_srv_store *st, const char *name, int delta)
{
    return store_writer_add(st, name, delta, 0, 0);
}

int cnio__srv_store_writer_locked(struct cnio_srv_store *st, const char *name, int delta)
{
    return store_writer_add_locked(st, name, delta, 0, 0);
}

int cnio__srv_store_writer_closing(struct cnio_srv_store *st, const char *name,
                                   unsigned *ticket)
{
    struct cnio_srv_writer *w;
    int last = 0;

    *ticket = 0;
    pthread_mutex_lock(&st->lock);
    w = *store_writer_find(st, name);
    if (w) {
        w->closing++;
        last = w->closing >= w->count;
        *ticket = ++w->closes ? w->closes : ++w->closes;   /* (never 0) */
        /* not the last, it steps aside for the live writers as a last close that found
         * one live does (store_mark_aside): the mark is theirs, and a counted open of
         * theirs that fails clears it in their place (cnio__srv_open_undo). Before, it
         * left no word of it: an open undone while this handle was still counted left
         * the mark to this close, and no one cleared it */
        if (last)
            w->due++;
        else
            w->owed = 1;
    }
    pthread_mutex_unlock(&st->lock);
    return last;
}

void cnio__srv_store_clear_none(struct cnio_srv_store *st, const char *name, int torn)
{
    struct cnio_srv_writer *w;

    pthread_mutex_lock(&st->lock);
    w = *store_writer_find(st, name);
    if (w) {
        w->due -= w->due > 0;
        w->lost |= torn && w->count > 1;   /* (as cnio__srv_store_writer_gone's, now) */
    }
    pthread_mutex_unlock(&st->lock);
}

void cnio__srv_store_writer_gone(struct cnio_srv_store *st, const char *name, int clean,
                                 int closing)
{
    store_writer_add(st, name, -1, !clean, closing);
}

int cnio__srv_store_writer_lost(struct cnio_srv_store *st, const char *name)
{
    struct cnio_srv_writer *w;
    int lost;

    pthread_mutex_lock(&st->lock);
    w = *store_writer_find(st, name);
    lost = w && w->lost;
    pthread_mutex_unlock(&st->lock);
    return lost;
}

void cnio__srv_store_writer_updated(struct cnio_srv_store *st, const char *name)
{
    struct cnio_srv_writer *w;

    pthread_mutex_lock(&st->lock);
    w = *store_writer_find(st, name);
    if (w)
        w->updated = 1;
    pthread_mutex_unlock(&st->lock);
}

int cnio__srv_store_others(struct cnio_srv_store *st, const char *name)
{
    struct cnio_srv_writer *w;
    int others;

    pthread_mutex_lock(&st->lock);
    w = *store_writer_find(st, name);
    others = w && (w->count > 1 || w->updated);
    pthread_mutex_unlock(&st->lock);
    return others;
}

int cnio__srv_store_writing(const struct cnio_srv_store *st, const char *name, int beneath)
{
    size_t n = strlen(name);

    for (const struct cnio_srv_writer *w = st->writers; w; w = w->next)
        if (w->count > 0 && !strncmp(w->name, name, n) &&
            (!w->name[n] || (beneath && w->name[n] == '/')))
            return 1;
    return 0;
}

int cnio__srv_store_written(struct cnio_srv_store *st, const char *name)
{
    int r;

    if (atomic_load(&st->nwriters) == 0)
        return 0;
    pthread_mutex_lock(&st->lock);
    r = cnio__srv_store_writing(st, name, 0);
    pthread_mutex_unlock(&st->lock);
    return r;
}

/* Whether a clear of name's mark is another's to make (store lock held; w: name's
 * writers, NULL: none; v and m as cnio__srv_store_mark's): 2 when the mark stays for
 * good, 1 when a later close clears it, 0 when this one does. */
static int store_mark_aside(struct cnio_srv_writer *w, const struct cnio_srv_vouch *v,
                            const struct cnio_srv_meta *m)
{
    int later;

    if (!w)
        return 0;
    /* a writer that opened after this clear's was found the last: the mark is its
     * update's now, and its close counts this one too (as a close not the last does,
     * cnio__srv_req_close: not an adopted joiner's, nor one naming the count as it was)
     * ... or one that opened during this close went without closing it (killed, its
     * connection lost) before this clear: it may have written part of an update, so
     * the mark stays, as when it went before the close (cnio__srv_req_close): its
     * torn bytes read as complete, exit 0 (helper-114's F1) */
    if (w->lost)
        return 2;
    /* ... or another CLOSE began after this one's: its writer opened while this close
     * synced, and wrote bytes this fsync may not hold. This close cannot tell a later
     * close still syncing from one that failed, so the mark is that close's to clear,
     * after its own fsync (of the whole file: this writer's bytes too); before, this
     * clear came first, and a power cut during that fsync left its torn bytes under a
     * clean mark. When that close cleared it already, its update held this one (as
     * when it clears it after), and there is nothing left to count */
    later = v && v->ticket && w->closes != v->ticket;
    if (w->count > w->closing || later) {
        w->updated |= (!later || (m->flags & CNIO_SRV_META_DIRTY)) && v && v->updates != -2 &&
                      (v->updates < 0 || (uint32_t)v->updates != m->updates);
        w->owed |= !later;
        return 1;
    }
    return 0;
}

/* The flags (*want) and update count (*updates) that name's metadata m gets from a
 * mark (dirty) or a clear with v (store lock held), w being the writers' record of
 * whether other updates closed meanwhile (reset by a clear). */
static void store_mark_flags(struct cnio_srv_store *st, const char *name, int dirty,
                             const struct cnio_srv_vouch *v, const struct cnio_srv_meta *m,
                             uint32_t *want, uint32_t *updates)
{
    struct cnio_srv_writer *w = dirty ? NULL : *store_writer_find(st, name);

    /* a writer in place may change the data file's length: its metadata no longer
     * vouches for it (CNIO_SRV_META_SIZED) until the last one's clean close can */
    *want = dirty ? (m->flags | CNIO_SRV_META_DIRTY) & ~CNIO_SRV_META_SIZED
                  : m->flags & ~CNIO_SRV_META_DIRTY;
    if (!dirty && v && v->sized && m->gen == v->gen &&
        v->length == cnio__layout_local_size(&m->layout, m->index, m->size))
        *want |= CNIO_SRV_META_SIZED;
    /* the update counted: a column restored from a backup taken before it is told from
     * the others by its count (cnio__wire_gen) */
    *updates = dirty || !v || v->updates == -2 ? m->updates
               : v->updates < 0 ? (m->updates + 1) & 0xffffu : (uint32_t)v->updates & 0xffffu;
    /* another writer's update closed during this one (not the last there): counted even
     * by a close that counts nothing (adopted, or an open that failed part-way), which
     * left this host behind the hosts where that writer's close was the last */
    if (v && w && w->updated) {
        if (*updates == m->updates)
            *updates = (m->updates + 1) & 0xffffu;
        w->updated = 0;
    }
    if (w)
        w->owed = w->fresh = 0;
}

/* cnio__srv_store_mark; none (when not NULL): the metadata a name that has none gets,
 * marked, in the same hold of the store lock. */
static int store_mark(struct cnio_srv_store *st, const char *name, int dirty,
                      const struct cnio_srv_vouch *v, struct cnio_srv_meta *m,
                      const struct cnio_srv_meta *none)
{
    struct cnio_srv_writer *w;
    uint32_t want, updates;
    int ret, aside, made = 0;

    pthread_mutex_lock(&st->lock);
    ret = cnio__srv_store_meta_get(st, name, m);
    if (ret == 1 && none) {
        *m = *none;
        made = 1;
        ret = 0;
    }
    if (ret == 1)
        ret = -CNIO_ERR_NOENT;
    w = *store_writer_find(st, name);
    if (!ret && dirty && w && !(m->flags & CNIO_SRV_META_DIRTY))
        w->fresh = 1;   /* (this open's own mark) */
    if (!dirty && v && v->ticket && w)   /* a due clear, made or stepped aside from here */
        w->due -= w->due > 0;
    aside = !ret && !dirty ? store_mark_aside(w, v, m) : 0;
    if (aside) {
        pthread_mutex_unlock(&st->lock);
        if (aside == 2 && v)
            cnio__warn("%s: a writer of it went without closing it during this update: it "
                       "stays marked as an interrupted update", name);
        return 0;
    }
    if (!ret) {
        store_mark_flags(st, name, dirty, v, m, &want, &updates);
        if (made || m->flags != want || m->updates != updates) {
            m->flags = want;
            m->updates = updates;
            ret = cnio__srv_store_meta_write_sync(st, name, m);
        }
    }
    pthread_mutex_unlock(&st->lock);
    return ret;
}

int cnio__srv_store_mark(struct cnio_srv_store *st, const char *name, int dirty,
                         const struct cnio_srv_vouch *v, struct cnio_srv_meta *m)
{
    return store_mark(st, name, dirty, v, m, NULL);
}

/* 1 when name's data file is the file fd has open (store lock held), else 0. */
static int store_same_file(struct cnio_srv_store *st, const char *name, int fd)
{
    struct stat a, b;
    int nfd = cnio__srv_store_at(st->rootfd, name, O_PATH, 0), same;

    if (nfd < 0)
        return 0;
    same = fstat(nfd, &a) == 0 && fstat(fd, &b) == 0 && a.st_ino == b.st_ino &&
           a.st_dev == b.st_dev;
    close(nfd);
    return same;
}

int cnio__srv_store_size(struct cnio_srv_store *st, const char *name, int fd, uint64_t size,
                         int grow, struct cnio_srv_meta *m)
{
    struct cnio_srv_meta now;
    int ret = 1;

    pthread_mutex_lock(&st->lock);
    if (store_same_file(st, name, fd)) {
        ret = cnio__srv_store_meta_get(st, name, &now);
        if (ret == 1)   /* none recorded (a file put in the root by hand): the handle's */
            now = *m;
        if (ret <= 1) {
            now.size = grow ? CNIO_MAX(now.size, size) : size;
            *m = now;
            ret = cnio__srv_store_meta_write(st, name, &now);
        }
    } else {
        m->size = grow ? CNIO_MAX(m->size, size) : size;
    }
    pthread_mutex_unlock(&st->lock);
    return ret;
}

int cnio__srv_open_dirty(struct cnio_srv_conn *c, const char *name, struct cnio_srv_meta *m)
{
    struct cnio_srv_store *st = &c->srv->store;
    struct cnio_srv_meta now;
    int ret;

    cnio__srv_store_writer(st, name, 1);
    /* a file without metadata records what it has, marked, in the same hold of the store
     * lock: written after it, a SETATTR between the two (which makes metadata for such a
     * file) lost its mode, or wrote its copy without the mark over this one's */
    ret = store_mark(st, name, 1, NULL, &now, m);
    if (ret) {
        cnio__srv_store_writer(st, name, -1);
        return ret;
    }
    *m = now;
    return 0;
}

/* fsync of name's block sums, opened by name (the object's, of metadata m; NULL: not
 * known): 0 when done, or when none opens (none there, or not the object's: nothing a
 * power cut could leave of the writers' sums under that name), else the fsync's code. */
static int store_sums_sync_named(struct cnio_srv_store *st, const char *name, int fd,
                                 const struct cnio_srv_meta *m)
{
    struct cnio_srv_sums s;
    int ret;

    if (cnio__srv_sums_open(st, name, 0, m, fd, NULL, 0, &s))
        return 0;
    ret = cnio__srv_sums_sync(&s);
    cnio__srv_sums_close(&s);
    return ret;
}

int cnio__srv_store_complete(struct cnio_srv_store *st, const char *name, int fd,
                             const struct cnio_srv_sums *sums, const struct cnio_srv_meta *m,
                             const struct cnio_srv_vouch *v, const char *why)
{
    struct cnio_srv_meta after;
    int ret = fsync(fd) < 0 ? cnio__srv_why_errno(errno) : 0;

    if (!ret)
        ret = sums ? cnio__srv_sums_sync(sums) : store_sums_sync_named(st, name, fd, m);
    if (ret)
        cnio__srv_store_clear_none(st, name, 1);
    else
        ret = cnio__srv_store_mark(st, name, 0, v, &after);
    if (ret)
        cnio__warn("%s: %s, but it could not be made durable and marked complete: %s; it "
                   "stays marked as an interrupted update", name, why, cnio__srv_strerror(ret));
    return ret;
}

void cnio__srv_open_undo(struct cnio_srv_store *st, const char *name, int fd,
                         const struct cnio_srv_sums *sums)
{
    struct cnio_srv_vouch v = { .updates = -2 };   /* (counts no update of its own) */
    struct cnio_srv_writer *w;
    struct cnio_srv_meta m;
    int clear = 0, ret = 0;

    /* Owed the clear and the last (or the lone writer, its own mark): it closes as the
     * latest CLOSE would (its ticket, so that no earlier close clears under its fsync).
     * Owed, by a close that stepped aside for it: one found the last that found it live,
     * or one not the last, whichever of this undoing and that close's handle going
     * comes first. Otherwise it only goes, and the mark is a close's still to come (one
     * that began before it is found the last then), and so while a close found the last
     * has its clear due (that one clears, or finds this clear done and counts its
     * update nowhere). Before, an earlier close that stepped aside for it left the mark
     * to a close that never came, and readers were refused "incomplete" until the next
     * clean update. */
    pthread_mutex_lock(&st->lock);
    w = *store_writer_find(st, name);
    if (w && !w->due &&
        ((w->owed && w->closing >= w->count - 1) ||
         (w->fresh && w->count == 1 && !w->closing)) &&
        cnio__srv_store_meta_get(st, name, &m) == 0) {
        w->closing++;
        w->due++;
        v.ticket = ++w->closes ? w->closes : ++w->closes;   /* (never 0) */
        clear = 1;
    }
    pthread_mutex_unlock(&st->lock);
    if (clear)
        ret = cnio__srv_store_complete(st, name, fd, sums, &m, &v, "an open for writing in "
                                       "place failed, the last of its writers");
    store_writer_add(st, name, -1, ret != 0, clear);
}
