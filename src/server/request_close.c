/*
 * request_close.c - the requests that end what a handle wrote: SETSIZE (the object's
 * size, preallocation, the size an MPI-IO close records), SYNC, and CLOSE (a writer in
 * place's clean close, which marks the object complete again). As every request
 * handler's, described in request.c.
 */
#include "server.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/*
 * SETSIZE with F_ALLOCATE or F_RECORD: fd grown to *local bytes if it is smaller (*local
 * then what it holds: a grow-only request never truncates), and storage for its first
 * want bytes (F_RECORD: 0; want <= *local: its part of the object's first offset bytes),
 * its bytes unchanged
 * (fallocate(2), mode 0). A file system that cannot allocate so gets the size alone:
 * not posix_fallocate's emulation, which writes a zero where it read one, and so would
 * undo a concurrent writer's byte. More than the file system has free is refused before
 * anything is allocated (a failed fallocate may keep what it took). 0, -CNIO_ERR_NOSPC or
 * another error, each with its reason.
 */
static int req_allocate(int fd, uint64_t *local, uint64_t want)
{
    struct statvfs vfs;
    struct stat sb;
    uint64_t held;
    int e;

    if (fstat(fd, &sb) < 0 || fstatvfs(fd, &vfs) < 0)
        return cnio__srv_why_errno(errno);
    held = (uint64_t)sb.st_blocks * 512;
    if (want > held && want - held > (uint64_t)vfs.f_bavail * vfs.f_frsize)
        return cnio__srv_why(-CNIO_ERR_NOSPC, "this host has no room for its part of the "
                             "preallocation");
    if (*local > (uint64_t)sb.st_size && ftruncate(fd, (off_t)*local) < 0)
        return cnio__srv_why_errno(errno);
    *local = CNIO_MAX(*local, (uint64_t)sb.st_size);
    e = want && fallocate(fd, 0, 0, (off_t)CNIO_MIN(want, *local)) < 0 ? errno : 0;
    if (e == EOPNOTSUPP) {
        cnio__info("preallocation: the file system cannot allocate; the size alone is set");
        e = 0;
    }
    if (e == ENOSPC || e == EDQUOT || e == EFBIG)
        return cnio__srv_why(-CNIO_ERR_NOSPC, "this host has no room for its part of the "
                             "preallocation");
    return e ? cnio__srv_why_errno(e) : 0;
}

/*
 * SETSIZE's record of size (grow: at least size) for handle hd (hd->lock held), *m its
 * copy of the metadata with the size asked, and after, with the size recorded. A staged
 * instance's size waits in the stage index for its commit (stage_idx.c); a handle that
 * joined one sets the instance's size too (it wrote the metadata of the object the
 * instance would replace, and the commit took its creator's size); each grows from the
 * size recorded there, which another handle of the instance may have set. An instance
 * no longer staged was removed (UNLINK: its COMMIT says so; a joiner's CLOSE too), or,
 * joined, committed: the joiner's size then goes to the object, as a writer in place's,
 * changing nothing else of what is recorded (cnio__srv_store_size). Before, each wrote its
 * own copy whole: an ID.meta beside no instance, the object's metadata with the mark
 * another writer had set cleared, or another object's made at the name since.
 */
static int req_setsize_meta(struct cnio_srv_conn *c, struct cnio_srv_handle *hd,
                            uint64_t size, int grow, struct cnio_srv_meta *m)
{
    uint64_t inst = hd->stage ? hd->stage : hd->joined;
    int ret;

    if (inst && cnio__srv_stage_idx_set_size(&c->srv->store, inst, &m->size, grow) == 0)
        return 0;
    if (hd->stage)
        return 0;
    ret = cnio__srv_store_size(&c->srv->store, hd->name, hd->fd, size, grow, m);
    return ret == 1 ? 0 : ret;
}

int cnio__srv_req_setsize(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h,
                          const uint8_t *p, struct cnio_srv_reply *r)
{
    struct cnio_wire_info info;
    struct cnio_srv_handle *hd;
    struct cnio_srv_meta m;
    const int alloc = (h->flags & CNIO_WIRE_F_ALLOCATE) != 0,
              grow = alloc || (h->flags & CNIO_WIRE_F_RECORD);   /* (grow only) */
    uint64_t local;
    int ret = cnio__srv_req_handle(c, h, 1, &hd);

    if (ret)
        return ret;
    ret = cnio__srv_req_range(h->offset, 0);
    pthread_mutex_lock(&hd->lock);
    if (!ret)
        ret = cnio__srv_req_committed(hd);
    /* grow only: from the size recorded now (another handle may have set it since) */
    m = grow ? cnio__srv_req_stat_meta(&c->srv->store, hd) : hd->meta;
    m.size = grow ? CNIO_MAX(m.size, h->offset) : h->offset;
    local = cnio__layout_local_size(&m.layout, m.index, m.size);
    if (!ret && grow)   /* F_RECORD allocates nothing */
        ret = req_allocate(hd->fd, &local, alloc ? cnio__layout_local_size(&m.layout, m.index,
                                                                           h->offset)
                                                 : 0);
    if (!ret) {   /* (a shrink truncates the data file there, with its sums) */
        const struct cnio_srv_sums none = { -1, 0, 0 }, *sp = cnio__srv_req_sums(c, hd, 1, &ret);

        if (!ret)
            ret = cnio__srv_sums_truncate(sp ? sp : &none, hd->fd, local, !grow);
    }
    if (!ret)
        ret = req_setsize_meta(c, hd, h->offset, grow, &m);
    if (!ret) {
        hd->meta = m;
        ret = cnio__srv_store_info(hd->fd, &m, hd->stage ? CNIO_WIRE_I_STAGED : 0, &info);
        info.flags &= ~CNIO_WIRE_I_DIRTY;
    }
    pthread_mutex_unlock(&hd->lock);
    cnio__srv_handles_put(&c->srv->handles, hd);
    return ret ? ret : cnio__srv_req_info_reply(c, r, &info);
}

int cnio__srv_req_sync(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, const uint8_t *p,
                       struct cnio_srv_reply *r)
{
    struct cnio_srv_handle *hd;
    int ret = cnio__srv_req_handle(c, h, 0, &hd);

    if (ret)
        return ret;
    pthread_mutex_lock(&hd->lock);
    ret = hd->stage ? cnio__srv_stage_meta_save(&c->srv->store, hd->stage) : 0;
    if (!ret)
        ret = hd->stage ? cnio__srv_stage_sync(&c->srv->store, hd->stage, hd->fd)
                        : cnio__srv_store_sync(&c->srv->store, hd->name, hd->fd);
    if (!ret && hd->sums_state == 1)
        ret = cnio__srv_sums_sync(&hd->sums);
    pthread_mutex_unlock(&hd->lock);
    cnio__srv_handles_put(&c->srv->handles, hd);
    return ret;
}

/* 1 when the staged instance hd joined is still there and no handle stages it: its
 * creator went without committing it (once committed, it is no staged instance). */
static int req_orphaned(struct cnio_srv_conn *c, const struct cnio_srv_handle *hd)
{
    uint64_t *ids = NULL;
    size_t n = 0;
    int there = 0;

    if (cnio__srv_handles_live(&c->srv->handles, hd->joined) ||
        cnio__srv_stage_idx_ids(&c->srv->store, hd->name, &ids, &n))
        return 0;
    for (size_t i = 0; i < n; i++)
        there |= ids[i] == hd->joined;
    free(ids);
    return there;
}

/*
 * What became of the upload joiner hd joined (hd->lock held), for its CLOSE: 0 while it
 * is staged or committed with the object there, else the reason its CLOSE fails, said.
 * Read under the store lock, which an UNLINK holds while it removes the upload and
 * tells its joiners (cnio__srv_handles_gone). A joiner of an upload removed before the
 * commit adopted it (UNLINK between its commit and the adoption included) fails as a
 * writer in place whose object was removed while it was open: NOENT, or success with
 * F_GONE when it asked so; one whose creator discarded the upload (ABORT) is
 * INCOMPLETE. Before, each closed with success, its bytes in no object (exit 0).
 */
static int req_joined_gone(struct cnio_srv_conn *c, struct cnio_srv_handle *hd,
                           const struct cnio_wire_hdr *h, struct cnio_srv_reply *r)
{
    int why;

    pthread_mutex_lock(&c->srv->store.lock);
    why = cnio__srv_handles_gone_why(&c->srv->handles, hd);
    pthread_mutex_unlock(&c->srv->store.lock);
    if (why == CNIO_SRV_GONE_REMOVED && (h->flags & CNIO_WIRE_F_GONE)) {
        r->flags |= CNIO_WIRE_F_GONE;
        return 0;
    }
    if (why == CNIO_SRV_GONE_REMOVED)
        return cnio__srv_why(-CNIO_ERR_NOENT, "the object was removed (cnio rm of its name) "
                             "while it was open for writing: what this handle wrote is in no "
                             "object");
    if (why == CNIO_SRV_GONE_DISCARDED)
        return cnio__srv_why(-CNIO_ERR_INCOMPLETE, "the writer that created it discarded its "
                             "upload (its open or commit failed): what this handle wrote is "
                             "in no object; the job run again writes it afresh");
    return 0;
}

/* The CLOSE of hd, a handle that joined an upload, before the commit of what it joined
 * (hd->lock held): it no longer joins it. 0, or why it fails; *gone: the upload was
 * removed or discarded (req_joined_gone), *orphaned: its creator went without committing
 * it (req_orphaned). */
static int req_close_joined(struct cnio_srv_conn *c, struct cnio_srv_handle *hd,
                            const struct cnio_wire_hdr *h, struct cnio_srv_reply *r,
                            int *orphaned, int *gone)
{
    int ret;

    if ((ret = req_joined_gone(c, hd, h, r)) != 0 || (r->flags & CNIO_WIRE_F_GONE))
        *gone = 1;
    else if ((*orphaned = req_orphaned(c, hd)) != 0)
        ret = cnio__srv_why(-CNIO_ERR_INCOMPLETE, "the writer that created it went "
                            "without committing it: what this handle wrote is in that "
                            "interrupted upload, not in the object (cnio cp --resume of its "
                            "source finishes it; the job run again writes it afresh)");
    /* its bytes durable before it says so, as every writer's CLOSE: the commit may
     * have made the object already, after its fsync and before these bytes, and
     * nothing else syncs them (the adoption, cnio__srv_handles_adopt, finds this
     * handle no longer joined); a power cut then left them torn, with no mark */
    else if (fsync(hd->fd) < 0)
        ret = cnio__srv_why_errno(errno);
    else if (hd->sums_state == 1)
        ret = cnio__srv_sums_sync(&hd->sums);
    cnio__srv_handles_join(&c->srv->handles, hd, 0);
    return ret;
}

/* The clean close of hd, the last writer in place of its object (hd->lock held; h: its
 * CLOSE; v: its ticket): it vouches for the object again, blocks left pending by a crash
 * included, and clears the mark (cnio__srv_store_mark; *decided once that was asked).
 * 0, or why it failed. */
static int req_close_last(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h,
                          struct cnio_srv_handle *hd, struct cnio_srv_vouch *v, int *decided)
{
    long healed = hd->sums_state == 1 ? cnio__srv_sums_heal(&hd->sums, hd->fd) : 0;
    struct cnio_srv_meta m;
    struct stat sb;
    int ret, vouched;

    if (healed > 0)
        cnio__warn("%s: %ld blocks whose write was interrupted by a crash get checksums "
                   "of their bytes as its writer closes it", hd->name, healed);
    /* the data and its sums on disk before the clean mark (MPI-3.1 13.2.2: a close
     * first syncs the file): else a power cut after a successful close could leave
     * this column old under a mark that says complete */
    ret = fsync(hd->fd) < 0 ? cnio__srv_why_errno(errno) : 0;
    if (!ret && hd->sums_state == 1)
        ret = cnio__srv_sums_sync(&hd->sums);
    /* its length and block sums, which its metadata can vouch for again: a file
     * grown or truncated later behind the server's back is then told apart */
    v->gen = hd->meta.gen;
    vouched = !ret && hd->sums_state == 1 && v->gen && fstat(hd->fd, &sb) == 0 &&
              cnio__srv_sums_names(&hd->sums, v->gen);
    v->length = vouched ? (uint64_t)sb.st_size : 0;
    v->sized = vouched;
    /* the update counted, at the count the client reconciled its hosts to; not for a
     * joiner of an upload adopted at its commit: on each host its close may come
     * before the commit (not adopted there) or after, and the hosts' counts would
     * differ for an object written whole */
    v->updates = hd->adopted ? -2 : (h->flags & CNIO_WIRE_F_UPDATES) ? (int64_t)h->offset : -1;
    *decided = !ret;
    if (!ret)
        ret = cnio__srv_store_mark(&c->srv->store, hd->name, 0, v, &m);
    if (!ret)
        hd->meta = m;
    return ret;
}

/* A clean close of an in-place writer: the last one clears the object's dirty mark, and
 * vouches for its length again when it can (CNIO_SRV_META_SIZED). A writer whose object
 * was removed (UNLINK) while it was open has nothing to vouch for (a name made again
 * meanwhile is another object): its close fails with NOENT, or succeeds with F_GONE when
 * it asked so (as COMMIT, commit.c). */
static int req_close_clean(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h,
                           struct cnio_srv_reply *r)
{
    struct cnio_srv_handle *hd = cnio__srv_handles_get(&c->srv->handles, h->object);
    struct cnio_srv_vouch v = { 0 };
    struct cnio_srv_meta m;
    struct stat sb;
    int ret = 0, last, orphaned = 0, gone = 0, removed = 0, decided = 0;

    if (!hd)
        return 0;
    pthread_mutex_lock(&hd->lock);
    if (hd->joined)   /* closed before the commit of what it joined: not a writer in place */
        ret = req_close_joined(c, hd, h, r, &orphaned, &gone);
    /* the last writer of this update, found in one hold of the store lock with the
     * others' closes: two at once each found the other and neither cleared the mark */
    last = hd->writer && !hd->closing++ &&
           cnio__srv_store_writer_closing(&c->srv->store, hd->name, &v.ticket);
    if (hd->writer && fstat(hd->fd, &sb) == 0 && sb.st_nlink == 0) {
        removed = 1;
        if (h->flags & CNIO_WIRE_F_GONE)
            r->flags |= CNIO_WIRE_F_GONE;
        else
            ret = cnio__srv_why(-CNIO_ERR_NOENT, "the object was removed (cnio rm of its "
                                "name) while it was open for writing in place");
    } else if (last && cnio__srv_store_writer_lost(&c->srv->store, hd->name)) {
        /* another writer of this update went without closing it (killed, its
         * connection lost): it may have written part of it, so its blocks are not healed
         * and the mark stays, as when it was the last (helper-109's F1: this close
         * cleared it, and the torn bytes read back as complete, exit 0); the clear
         * (cnio__srv_store_mark) keeps it, and says so. This writer's own bytes are
         * durable. */
        ret = fsync(hd->fd) < 0 ? cnio__srv_why_errno(errno) : 0;
        decided = !ret;
        if (!ret)
            ret = cnio__srv_store_mark(&c->srv->store, hd->name, 0, &v, &m);
    } else if (last) {
        ret = req_close_last(c, h, hd, &v, &decided);
    } else if (hd->writer && !hd->adopted &&
               (!(h->flags & CNIO_WIRE_F_UPDATES) || h->offset != hd->meta.updates)) {
        /* a clean close that counts an update (not an open that failed part-way, which
         * names the count as it was), not the last: the last one's counts it */
        cnio__srv_store_writer_updated(&c->srv->store, hd->name);
    }
    /* found the last and no clear asked: its bytes are not durable (the mark stays), or
     * its object was removed; either way the mark is no longer due from it */
    if (last && !decided)
        cnio__srv_store_clear_none(&c->srv->store, hd->name, !removed);
    /* (a joiner told its creator went wrote all it meant to: the instance it leaves may
     * be resumed, cnio_resume) */
    hd->closed = ret == 0 || orphaned || gone;
    pthread_mutex_unlock(&hd->lock);
    cnio__srv_handles_put(&c->srv->handles, hd);
    return ret;
}

int cnio__srv_req_close(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h,
                        const uint8_t *p, struct cnio_srv_reply *r)
{
    /* the handle goes even when its clean mark could not be written: the object then
     * stays marked as an interrupted update, and the client is told */
    int ret, ret2;

    (void)p;
    if ((h->flags & CNIO_WIRE_F_UPDATES) && h->offset > 0xffffu)
        return -CNIO_ERR_INVAL;   /* (an update count is 16 bits) */
    ret = req_close_clean(c, h, r);
    ret2 = cnio__srv_handles_remove(&c->srv->handles, h->object, NULL);
    if (!ret2)
        cnio__srv_conn_disown(c, h->object);
    return ret ? ret : ret2;
}
