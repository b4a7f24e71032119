/*
 * tree_file.c - copying one entry of a tree within one rank, for `cnio cp -r`: a file
 * (in chunks of --chunk bytes, holes skipped: only a local file's data extents are
 * sent, and chunks of zeros are not written to a fresh local file, so sparse files stay
 * sparse) or a symlink (an object holding the target, recorded with mode S_IFLNK, and
 * made a link again on the way down). Local paths are opened beneath the tree's top
 * with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): nothing is read or written
 * through a symlink, so a copy never escapes its trees (-L alone follows the source's
 * links, to files and, in the walk, to directories).
 */
#include "tree.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Blocks of zeros a fresh destination does not get written (they stay holes). */
#define TF_BLOCK (64u << 10)

int tf_fail(struct tree_ctx *c, const char *rel, int err)
{
    if (!c->why[0])
        snprintf(c->why, sizeof(c->why), "%s: %s", rel, strerror(err));
    return cnio__err_from_errno(err);
}

/* Opens source file rel to read (through symlinks with -L, else beneath the top and
 * through none), refusing what is no longer a regular file without waiting on it (a FIFO
 * put in place of the file the walk saw): the fd, or a negative code (said). */
int tf_open_src(struct tree_ctx *c, const char *rel)
{
    int fd = c->o->follow ? openat(c->src->dirfd, rel, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
                          : tf_open(c->src->dirfd, rel, O_RDONLY | O_NONBLOCK, 0);
    int err = fd < 0 ? errno : cli_regular(fd);

    if (!err)
        return fd;
    if (fd >= 0)
        close(fd);
    if (err == ENODEV) {
        if (!c->why[0])
            snprintf(c->why, sizeof(c->why), "%s: %s", rel, CLI_NOT_REGULAR_WHY);
        return -CNIO_ERR_INVAL;
    }
    return tf_fail(c, rel, err);
}

/* A local failure at DST for rel: said by rel (not by its part file's name), and when a
 * non-directory stands where a directory of rel's path must be, by that path. */
static int tf_fail_dst(struct tree_ctx *c, const char *rel, int err)
{
    if (!c->why[0] && (err == ENOTDIR || err == ELOOP) && tf_in_the_way(c, rel, 0))
        return cnio__err_from_errno(ENOTDIR);
    return tf_fail(c, rel, err);
}

/* A local source file that changed while it was read (tar's "file changed as we read
 * it"): not copied, said by rel. */
static int tf_changed(struct tree_ctx *c, const char *rel)
{
    if (!c->why[0])
        snprintf(c->why, sizeof(c->why), "%s: changed while it was read (written to "
                 "meanwhile); not copied", rel);
    return -CNIO_ERR_IO;
}

/* A local source file with more bytes than its size says (cli_longer_than): not copied,
 * said by rel. */
static int tf_longer(struct tree_ctx *c, const char *rel)
{
    if (!c->why[0])
        snprintf(c->why, sizeof(c->why), "%s: " CLI_LONGER_WHY, rel);
    return -CNIO_ERR_IO;
}

/* One with fewer (its reads ended before its size): not copied, said by rel. */
static int tf_shorter(struct tree_ctx *c, const char *rel)
{
    if (!c->why[0])
        snprintf(c->why, sizeof(c->why), "%s: shorter than its size said when the copy "
                 "began (written to meanwhile, or a file of /sys); not copied", rel);
    return -CNIO_ERR_IO;
}

/* e as local file fd is now (snap): its size and mtime, which the copy and -p use. */
struct tree_ent tf_now(const struct tree_ent *e, const struct cli_snap *snap)
{
    struct tree_ent now = *e;
    struct timespec t = { .tv_sec = (time_t)snap->mtime_s, .tv_nsec = (long)snap->mtime_ns };

    now.size = snap->size;
    now.mtime_ns = cnio__ns_of_ts(&t);   /* as the walk has it */
    return now;
}

/* Opens rel beneath dirfd without following any symlink (-1 and errno on failure). */
int tf_open(int dirfd, const char *rel, int flags, mode_t mode)
{
    struct open_how how = { .flags = (uint64_t)(unsigned)(flags | O_CLOEXEC),
                            .mode = (flags & O_CREAT) ? mode : 0,
                            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS };
    long fd = syscall(SYS_openat2, dirfd, rel[0] ? rel : ".", &how, sizeof(how));

    if (fd < 0 && errno == ENOSYS)
        fd = openat(dirfd, rel[0] ? rel : ".", flags | O_NOFOLLOW | O_CLOEXEC, mode);
    return (int)fd;
}

/* The directory holding rel (an fd to close), and rel's last component in *base. */
int tf_parent(int dirfd, const char *rel, const char **base)
{
    const char *slash = strrchr(rel, '/');
    char dir[CNIO_WIRE_MAX_NAME + 1];

    *base = slash ? slash + 1 : rel;
    if (!slash)
        return tf_open(dirfd, "", O_PATH | O_DIRECTORY, 0);
    if ((size_t)(slash - rel) >= sizeof(dir)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(dir, rel, (size_t)(slash - rel));
    dir[slash - rel] = '\0';
    return tf_open(dirfd, dir, O_PATH | O_DIRECTORY, 0);
}

int tf_obj(struct tree_ctx *c, struct tree_end *e, const char *rel, uint32_t flags,
           struct cnio_obj **obj)
{
    struct cnio_ns *ns = e == c->dst ? c->ns : c->src_ns;
    struct cnio_uri u = e->u;
    int ret;

    u.path = tree_obj_name(e, rel);
    if (!u.path)
        return -CNIO_ERR_NOMEM;
    ret = ns ? cnio__ns_obj_open(ns, u.path, flags, obj)
             : cnio__obj_open(c->st, &u, &e->h, flags, obj);
    free(u.path);
    return ret;
}

/* Opens the destination object of rel: a fresh staged instance, or with resume the one
 * an interrupted copy left (*resumed) when there is one. */
static int tf_obj_dst(struct tree_ctx *c, const char *rel, struct cnio_obj **obj, int *resumed)
{
    const uint32_t w = CNIO_WIRE_O_WRITE | CNIO_WIRE_O_CREATE | CNIO_WIRE_O_STAGE;
    int ret = -CNIO_ERR_NOENT;

    *resumed = 0;
    if (c->o->resume) {
        ret = tf_obj(c, c->dst, rel, w | CNIO_WIRE_O_RESUME, obj);
        *resumed = ret == 0;
    }
    if (*resumed) {
        char *uri = tree_uri_string(c->dst, rel);

        if (uri)
            cli_resume_layout(c->o, uri, *obj);
        free(uri);
    }
    if (ret == -CNIO_ERR_NOENT)
        ret = tf_obj(c, c->dst, rel, w | CNIO_WIRE_O_TRUNC, obj);
    if (ret == -CNIO_ERR_NOENT && !c->why[0])
        tf_obj_in_the_way(c, rel, 0);
    return ret;
}

static int tf_zero(const char *p, uint64_t n)
{
    return n == 0 || (p[0] == 0 && memcmp(p, p + 1, (size_t)n - 1) == 0);
}

/* Writes len bytes of buf at off of local fd: 0, or a negative code (said). */
static int tf_pwrite(struct tree_ctx *c, const char *rel, int fd, const char *buf, uint64_t len,
                     uint64_t off)
{
    for (uint64_t k = 0; k < len;) {
        ssize_t n = pwrite(fd, buf + k, (size_t)(len - k), (off_t)(off + k));

        if (n < 0)
            return tf_fail(c, rel, errno);
        k += (uint64_t)n;
    }
    return 0;
}

/* Writes len bytes at off of the open destination (an object, or a local fd). */
static int tf_put(struct tree_ctx *c, const char *rel, struct cnio_obj *obj, int fd,
                  const char *buf, uint64_t len, uint64_t off, int resumed)
{
    int same = 0, ret;

    if (resumed) {
        ret = cli_resume_same(obj, buf, off, len, &same);
        if (ret == 0 && same) {
            c->skipped += len;
            return 0;
        }
    }
    if (obj) {
        ssize_t n = cnio__obj_pwrite(obj, buf, (size_t)len, off);

        if (n < 0)
            return (int)n;
    } else {
        ret = tf_pwrite(c, rel, fd, buf, len, off);
        if (ret)
            return ret;
    }
    c->moved += len;
    return 0;
}

/*
 * Writes to a fresh destination (an object, or a local fd) the TF_BLOCK blocks of buf
 * (len bytes at off) that are not all zeros: the rest reads as zeros already, and stays
 * a hole. An object's runs go in one call, several requests in flight.
 */
int tf_put_runs(struct tree_ctx *c, const char *rel, struct cnio_obj *obj, int fd,
                const char *buf, uint64_t len, uint64_t off)
{
    struct cnio_xfer x[32];
    uint64_t k = 0, bytes = 0;
    size_t n = 0;
    int ret = 0;

    while (ret == 0 && k < len) {
        uint64_t start, b = CNIO_MIN(TF_BLOCK - (off + k) % TF_BLOCK, len - k);

        if (tf_zero(buf + k, b)) {
            k += b;
            continue;
        }
        start = k;
        while (k < len && (k == start || !tf_zero(buf + k, b))) {
            k += b;
            b = CNIO_MIN(TF_BLOCK - (off + k) % TF_BLOCK, len - k);
        }
        if (!obj) {
            ret = tf_put(c, rel, NULL, fd, buf + start, k - start, off + start, 0);
            continue;
        }
        x[n++] = (struct cnio_xfer){ off + start, k - start, (void *)(buf + start) };
        bytes += k - start;
        if (n == CNIO_ARRAY_LEN(x) || k >= len) {
            ret = cnio__obj_writex(obj, x, n);
            c->moved += ret ? 0 : bytes;
            n = 0;
            bytes = 0;
        }
    }
    if (ret == 0 && n) {
        ret = cnio__obj_writex(obj, x, n);
        c->moved += ret ? 0 : bytes;
    }
    return ret;
}

/*
 * Sends local fd (size bytes) to obj, chunk by chunk: its data extents alone to a fresh
 * instance, which reads as zeros in the file's holes already; all of it to a resumed one
 * (resumed), whose bytes where the file now has a hole are the interrupted copy's (of an
 * earlier version of the file, or of another file of that name) and are compared too.
 */
static int tf_send_local(struct tree_ctx *c, const char *rel, int fd, uint64_t size,
                         struct cnio_obj *obj, int resumed)
{
    uint64_t off = 0;
    int ret = 0;

    while (ret == 0 && off < size) {
        off_t d = resumed ? (off_t)off : lseek(fd, (off_t)off, SEEK_DATA), h;
        uint64_t end;

        if (d < 0 && errno == ENXIO)
            break;   /* a hole to the end */
        if (d < 0)
            d = (off_t)off;   /* no SEEK_DATA here: all of it */
        h = resumed ? -1 : lseek(fd, d, SEEK_HOLE);
        end = h < 0 ? size : CNIO_MIN((uint64_t)h, size);
        for (off = (uint64_t)d; ret == 0 && off < end;) {
            uint64_t len = CNIO_MIN(c->chunk, end - off);
            ssize_t n = pread(fd, c->buf, (size_t)len, (off_t)off);

            if (n < 0)
                return tf_fail(c, rel, errno);
            if (n == 0)   /* (a change made it shorter, or a file of /sys) */
                return tf_shorter(c, rel);
            ret = tf_put(c, rel, obj, -1, c->buf, (uint64_t)n, off, resumed);
            off += (uint64_t)n;
        }
    }
    return ret;
}

static int tf_setattr_obj(struct tree_ctx *c, const char *rel, uint32_t mode, int64_t mtime)
{
    char *name = tree_obj_name(c->dst, rel);
    int ret;

    if (!name)
        return -CNIO_ERR_NOMEM;
    ret = cnio__ns_setattr(c->ns, name, mode, mtime);
    free(name);
    return ret;
}

/*
 * Finishes a written destination object: its size, its attributes, its commit. The
 * attributes go with the staged instance, so that its commit gives the object its bytes
 * and its mode at once: set after the commit, they left a moment in which a reader
 * found a symlink a plain object (a download made it a regular file holding the link's
 * target). Against servers that cannot take that, they are set after the commit.
 */
static int tf_finish_obj(struct tree_ctx *c, const struct tree_ent *e, struct cnio_obj *obj,
                         int ret)
{
    uint32_t mode = e->type == TREE_LINK ? (S_IFLNK | 0777) : e->mode;
    int64_t mtime = c->o->preserve ? e->mtime_ns : CNIO_MTIME_NONE;
    int attrs = c->o->preserve || e->type == TREE_LINK, late = attrs;

    if (ret == 0)
        ret = cnio__obj_set_size(obj, e->size);
    if (ret == 0 && attrs) {
        ret = cnio__obj_setattr_staged(obj, mode, mtime);
        late = ret == 1;
        ret = ret == 1 ? 0 : ret;
    }
    if (ret) {
        cnio__obj_abort(obj);
        return ret;
    }
    ret = cnio__obj_close(obj);
    if (ret == 0 && late)
        ret = tf_setattr_obj(c, e->rel, mode, mtime);
    return ret;
}

/*
 * Uploads e. A file goes as it is when opened (it may have changed since the walk:
 * its size and mtime then), and fails when it changes while it is read.
 */
static int tf_upload(struct tree_ctx *c, const struct tree_ent *e)
{
    struct tree_ent now = *e;
    struct cli_snap snap;
    struct cnio_obj *obj;
    int fd = -1, resumed, ret;

    if (e->type == TREE_FILE) {
        fd = tf_open_src(c, e->rel);
        if (fd < 0)
            return fd;
        ret = cli_snap(fd, &snap);
        if (ret || cli_longer_than(fd, snap.size)) {
            close(fd);
            return ret ? tf_fail(c, e->rel, ret) : tf_longer(c, e->rel);
        }
        now = tf_now(e, &snap);
    }
    ret = tf_obj_dst(c, e->rel, &obj, &resumed);
    if (ret) {
        if (fd >= 0)
            close(fd);
        return ret;
    }
    if (e->type == TREE_LINK)
        ret = tf_put(c, e->rel, obj, -1, e->link ? e->link : "", e->size, 0, resumed);
    else
        ret = tf_send_local(c, e->rel, fd, now.size, obj, resumed);
    if (ret == 0 && fd >= 0 && cli_snap_changed(fd, &snap))
        ret = tf_changed(c, e->rel);
    if (fd >= 0)
        close(fd);
    return tf_finish_obj(c, &now, obj, ret);
}

/* A symlink at the destination: whatever rel was there is replaced. */
static int tf_symlink_local(struct tree_ctx *c, const char *rel, const char *target)
{
    const char *base;
    int pfd = tf_parent(c->dst->dirfd, rel, &base), r;

    if (pfd < 0)
        return tf_fail_dst(c, rel, errno);
    unlinkat(pfd, base, 0);
    r = symlinkat(target, pfd, base);
    if (r < 0) {
        int e = errno;

        close(pfd);
        return tf_fail_dst(c, rel, e);
    }
    close(pfd);
    return 0;
}

/* Reads the whole object (a link's target, at most TF_LINK_MAX bytes) into buf. */
int tf_read_link(struct cnio_obj *obj, uint64_t size, char *buf)
{
    ssize_t n;

    if (size >= TF_LINK_MAX)
        return -CNIO_ERR_OVERFLOW;
    n = cnio__obj_pread(obj, buf, (size_t)size, 0);
    if (n < 0)
        return (int)n;
    buf[n] = '\0';
    return (uint64_t)n == size ? 0 : -CNIO_ERR_IO;
}

/*
 * Copies object obj (size bytes) to local fd or to object out. resumed, to a local fd:
 * chunks of ref (fd itself, a partial file; or the DST a part file replaces) whose
 * CRC32C the servers match are not fetched (copied from ref when it is not fd).
 */
static int tf_fetch(struct tree_ctx *c, const char *rel, struct cnio_obj *obj, int fd, int ref,
                    struct cnio_obj *out, uint64_t size, int resumed, int fresh)
{
    int ret = 0;

    for (uint64_t off = 0; ret == 0 && off < size;) {
        uint64_t len = CNIO_MIN(c->chunk, size - off);
        ssize_t n;

        if (resumed && ref >= 0) {
            int same = 0;

            n = pread(ref, c->buf2, (size_t)len, (off_t)off);
            if (n == (ssize_t)len && cli_resume_same(obj, c->buf2, off, len, &same) == 0 &&
                same) {
                if (ref != fd)
                    ret = tf_pwrite(c, rel, fd, c->buf2, len, off);
                c->skipped += len;
                off += len;
                continue;
            }
        }
        n = cnio__obj_pread(obj, c->buf, (size_t)len, off);
        if (n < 0)
            return (int)n;
        if ((uint64_t)n != len)
            return -CNIO_ERR_IO;   /* shorter than its size said */
        ret = fresh ? tf_put_runs(c, rel, out, fd, c->buf, len, off)
                    : tf_put(c, rel, out, fd, c->buf, len, off, out ? resumed : 0);
        off += len;
    }
    return ret;
}

/* Says in c->why that rel was not copied, a live writer having it open still after the
 * wait before a pass (tf_fetch_whole). */
static int tf_still_live(struct tree_ctx *c, const char *rel)
{
    if (!c->why[0])
        snprintf(c->why, sizeof(c->why), "%s: being written in place by a live writer (a "
                 "program has it open, still after " CLI_LIVE_WAIT_S " of waiting for it to "
                 "close); not copied: " CLI_LIVE_WAIT " (then --resume copies what is "
                 "missing), or " CLI_LIVE_OPT, rel);
    return -CNIO_ERR_IO;
}

/* Says in c->why that rel was not copied, its update in place having been interrupted
 * (cnio__obj_inplace: -CNIO_ERR_INCOMPLETE). */
static int tf_torn(struct tree_ctx *c, const char *rel)
{
    if (!c->why[0])
        snprintf(c->why, sizeof(c->why), "%s: " CLI_TORN "; not copied: " CLI_TORN_ADVICE, rel);
    return -CNIO_ERR_IO;
}

/* Says in c->why why rel was not copied after CLI_PASSES passes (why: cli_pass_verdict's). */
static int tf_not_copied(struct tree_ctx *c, const char *rel, int why)
{
    if (c->why[0])
        return -CNIO_ERR_IO;
    if (why == CLI_PASS_MOVED)
        snprintf(c->why, sizeof(c->why), "%s: changed as it was read (updated in place "
                 "during each of %d passes); not copied", rel, CLI_PASSES);
    else
        snprintf(c->why, sizeof(c->why), "%s: written in place by a live writer (a program "
                 "had it open) during the last of %d passes; not copied: " CLI_LIVE_WAIT
                 " (then --resume copies what is missing), or " CLI_LIVE_OPT, rel, CLI_PASSES);
    return -CNIO_ERR_IO;
}

/*
 * tf_fetch, made again from the start while obj changes under it: a live writer had it
 * open in place at either end of the pass (cnio__obj_inplace), or its hosts' mark
 * (update counts, sizes, mtimes) moved with no writer live at the end, an update in
 * place that came and went as it was read: either would leave the copy with bytes of
 * before an update beside bytes of after it. No pass is begun while a live writer has
 * it open (it would be refused): the writer is waited for a moment
 * (cli_live_wait_obj), and one still live then leaves rel not copied (said) before the
 * pass moves a byte. After CLI_PASSES passes that saw it change rel is not copied either
 * (said). With --live a writer live at either end is taken, and warned of (MPI-IO lets
 * a read see both).
 * Servers that cannot say by handle go unchecked.
 */
static int tf_fetch_whole(struct tree_ctx *c, const char *rel, struct cnio_obj *obj, int fd,
                          int ref, struct cnio_obj *out, uint64_t size, int resumed,
                          int fresh)
{
    uint64_t was = 0, now = 0;
    int before = cnio__obj_inplace(obj, &was), after, why, ret;

    for (int pass = 1;; pass++) {
        if (before == 1 && !c->o->live && (before = cli_live_wait_obj(obj, &was)) == 1)
            return tf_still_live(c, rel);
        if (before == -CNIO_ERR_INCOMPLETE)
            return tf_torn(c, rel);
        ret = tf_fetch(c, rel, obj, fd, ref, out, size, resumed, fresh);
        if (ret || before < 0)
            return ret;
        after = cnio__obj_inplace(obj, &now);
        if (after == -CNIO_ERR_INCOMPLETE)
            return tf_torn(c, rel);
        if (after < 0)
            return ret;
        why = cli_pass_verdict(c->o->live, before == 1, after == 1, was != now);
        if (why == CLI_PASS_SAME && (before == 1 || after == 1))   /* (--live) */
            cli_err("cnio cp: warning: %s was being updated in place by a live writer during "
                    "the copy, so the copy may hold old and new bytes mixed (--live)\n", rel);
        if (why == CLI_PASS_SAME)
            return 0;
        if (pass == CLI_PASSES)
            return tf_not_copied(c, rel, why);
        before = after;
        was = now;
        fresh = 0;   /* the destination holds the last pass's bytes */
    }
}

/* Opens local file rel for writing (truncated unless resuming; a symlink in its place
 * replaced): the fd, or -1 with errno. */
static int tf_local_open(struct tree_ctx *c, const char *rel, int resume)
{
    int fd = tf_open(c->dst->dirfd, rel, O_RDWR | O_CREAT | (resume ? 0 : O_TRUNC), 0644);

    if (fd < 0 && errno == ELOOP) {   /* a symlink where the file goes: replaced */
        const char *base;
        int pfd = tf_parent(c->dst->dirfd, rel, &base);

        if (pfd >= 0) {
            unlinkat(pfd, base, 0);
            close(pfd);
        }
        fd = tf_open(c->dst->dirfd, rel, O_RDWR | O_CREAT | O_TRUNC, 0644);
    }
    return fd;
}

/* Gives local fd (e's copy, ret so far) its size and, with -p, e's mode and mtime, and
 * closes it: ret, or the first failure. */
int tf_local_finish(struct tree_ctx *c, const struct tree_ent *e, int fd, uint64_t size,
                    int ret)
{
    if (ret == 0 && ftruncate(fd, (off_t)size) < 0)
        ret = tf_fail(c, e->rel, errno);
    if (ret == 0 && c->o->preserve && e->mode && fchmod(fd, e->mode & 07777) < 0)
        ret = tf_fail(c, e->rel, errno);
    if (ret == 0 && c->o->preserve) {
        struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, cnio__ts_of_ns(e->mtime_ns) };

        if (futimens(fd, ts) < 0)
            ret = tf_fail(c, e->rel, errno);
    }
    if (close(fd) < 0 && ret == 0)
        ret = tf_fail(c, e->rel, errno);
    return ret;
}

/* rel's part file is another cnio cp's (a second download into the same DST): not
 * copied, said by rel. */
static int tf_part_busy(struct tree_ctx *c, const char *rel)
{
    if (!c->why[0])
        snprintf(c->why, sizeof(c->why), "%s: another cnio cp is downloading to it (its "
                 ".cnio-part file is in use)", rel);
    return -CNIO_ERR_IO;
}

/*
 * Takes part file fd (named part beneath DST) for this copy alone until its rename: an
 * flock, held by *lock (a dup), on the file that still bears the part file's name, not
 * one another copy has just renamed into place. Two downloads into one DST would
 * otherwise both write one part file, and one of them rename a mix of the two into
 * place with exit 0. 0, -EWOULDBLOCK when another copy holds it, or -1 (errno).
 */
static int tf_part_lock(struct tree_ctx *c, const char *part, int fd, int *lock)
{
    struct stat a, b;

    if (flock(fd, LOCK_EX | LOCK_NB) < 0)
        return errno == EWOULDBLOCK ? -EWOULDBLOCK : -1;
    if (fstat(fd, &a) < 0)
        return -1;
    if (fstatat(c->dst->dirfd, part, &b, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? -EWOULDBLOCK : -1;
    if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
        return -EWOULDBLOCK;
    *lock = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    return *lock < 0 ? -1 : 0;
}

/*
 * Opens rel's part file (rel CLI_PART in part, a buffer of CNIO_WIRE_MAX_NAME + 1) into
 * *fd, locked (*lock, to close after tf_part_done): fresh, or with resume the one a
 * killed copy left; with resume and none there, *ref is rel opened to compare with (or
 * -1), else the part itself. 0, or a negative code (said).
 */
int tf_part_open(struct tree_ctx *c, const char *rel, int resume, char *part, int *fd,
                 int *ref, int *lock)
{
    int fresh = 0, ret;

    *fd = *ref = *lock = -1;
    if (cli_part_name(rel, part, CNIO_WIRE_MAX_NAME + 1) < 0)
        return tf_fail(c, rel, ENAMETOOLONG);
    if (resume) {
        *fd = tf_open(c->dst->dirfd, part, O_RDWR, 0);
        if (*fd < 0 && errno != ENOENT)
            return tf_fail_dst(c, rel, errno);
    }
    if (*fd < 0) {
        *fd = tf_local_open(c, part, 1);   /* truncated once locked */
        if (*fd < 0)
            return tf_fail_dst(c, rel, errno);
        fresh = 1;
    }
    ret = tf_part_lock(c, part, *fd, lock);
    if (ret == 0 && fresh && ftruncate(*fd, 0) < 0)
        ret = -1;
    if (ret) {
        int e = errno;

        close(*fd);
        if (*lock >= 0)
            close(*lock);
        *fd = *lock = -1;
        return ret == -EWOULDBLOCK ? tf_part_busy(c, rel) : tf_fail_dst(c, rel, e);
    }
    *ref = !fresh ? *fd : resume ? tf_open(c->dst->dirfd, rel, O_RDONLY, 0) : -1;
    return 0;
}

/* After rel's part file was written and closed (ret so far): renamed to rel when ret is
 * 0, else removed (kept for --resume). ret, or the rename's failure. */
int tf_part_done(struct tree_ctx *c, const char *rel, const char *part, int ret,
                 int lock)
{
    const char *base, *pbase;
    int pfd = tf_parent(c->dst->dirfd, part, &pbase);

    if (pfd < 0) {
        close(lock);
        return ret ? ret : tf_fail_dst(c, rel, errno);
    }
    base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
    if (ret == 0 && renameat(pfd, pbase, pfd, base) < 0)
        ret = tf_fail_dst(c, rel, errno);
    if (ret && !c->o->resume)
        unlinkat(pfd, pbase, 0);
    close(pfd);
    close(lock);   /* after the rename, or the removal */
    return ret;
}

/* e as object obj was when opened (it may have been replaced since the listing): the
 * version the copy reads, its size and mtime. */
static struct tree_ent tf_opened(const struct tree_ent *e, const struct cnio_obj *obj)
{
    struct tree_ent now = *e;
    uint64_t size;
    int64_t mtime;

    cnio__obj_opened(obj, &size, &mtime);
    now.size = size;
    now.mtime_ns = mtime;
    return now;
}

static int tf_download(struct tree_ctx *c, const struct tree_ent *listed)
{
    char link[TF_LINK_MAX], part[CNIO_WIRE_MAX_NAME + 1];
    struct cnio_obj *obj;
    struct tree_ent now;
    const struct tree_ent *e = &now;
    int fd, ref, lock, ret = tf_obj(c, c->src, listed->rel, 0, &obj);

    if (ret)
        return ret;
    now = tf_opened(listed, obj);
    if (e->type == TREE_LINK) {
        ret = tf_read_link(obj, e->size, link);
        cnio__obj_close(obj);
        if (!ret)
            ret = tf_symlink_local(c, e->rel, link);
        c->moved += ret ? 0 : e->size;   /* the target's bytes, as an upload counts them */
        return ret;
    }
    ret = tf_part_open(c, e->rel, c->o->resume, part, &fd, &ref, &lock);
    if (ret) {
        cnio__obj_close(obj);
        return ret;
    }
    /* a part file made here is fresh: blocks of zeros need not be written */
    ret = tf_fetch_whole(c, e->rel, obj, fd, ref, NULL, e->size, c->o->resume, ref != fd);
    if (ref >= 0 && ref != fd)
        close(ref);
    ret = tf_local_finish(c, e, fd, e->size, ret);
    cnio__obj_close(obj);
    return tf_part_done(c, e->rel, part, ret, lock);
}

static int tf_remote(struct tree_ctx *c, const struct tree_ent *listed)
{
    struct cnio_obj *in, *out;
    struct tree_ent now;
    const struct tree_ent *e = &now;
    int resumed, ret = tf_obj(c, c->src, listed->rel, 0, &in);

    if (ret)
        return ret;
    now = tf_opened(listed, in);
    ret = tf_obj_dst(c, e->rel, &out, &resumed);
    if (ret) {
        cnio__obj_close(in);
        return ret;
    }
    ret = tf_fetch_whole(c, e->rel, in, -1, -1, out, e->size, resumed, !resumed);
    cnio__obj_close(in);
    return tf_finish_obj(c, e, out, ret);
}

int tree_punch_zeros(struct tree_ctx *c, const char *rel)
{
    const uint64_t blk = 64u << 10;
    uint64_t off = 0;
    int fd = tf_open(c->dst->dirfd, rel, O_RDWR, 0), ret = 0;

    if (fd < 0)
        return tf_fail(c, rel, errno);
    for (;;) {
        ssize_t n = pread(fd, c->buf, (size_t)CNIO_MIN(blk, c->chunk), (off_t)off);

        if (n <= 0) {
            ret = n < 0 ? tf_fail(c, rel, errno) : 0;
            break;
        }
        if (n == (ssize_t)CNIO_MIN(blk, c->chunk) && tf_zero(c->buf, (uint64_t)n) &&
            fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)n) < 0)
            break;   /* a file system without holes: the zeros stay */
        off += (uint64_t)n;
    }
    close(fd);
    return ret;
}

int tree_copy_one(struct tree_ctx *c, const struct tree_ent *e)
{
    /* a link of --sync and --resume too: rank 0's plan compares no targets */
    if (((c->o->checksum || e->incomplete == TREE_COMPARE) && e->type == TREE_FILE &&
         tree_same_crc(c, e)) ||
        ((c->o->checksum || c->o->sync || c->o->resume) && e->type == TREE_LINK &&
         tree_same_link(c, e))) {
        c->skipped += e->size;
        return 1;
    }
    if (c->src->remote && c->dst->remote)
        return tf_remote(c, e);
    return c->src->remote ? tf_download(c, e) : tf_upload(c, e);
}
