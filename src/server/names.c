/*
 * names.c - cnio-server's namespace requests: MKDIR, RMDIR, RENAME and SETATTR, what
 * `cnio mkdir`, `cnio rm -r`, `cnio mv` and the tree copies of `cnio cp -r` (empty
 * directories, modes, mtimes) stand on. Names are checked as every other request's
 * are, and every path is opened beneath the root (store.c), so nothing here reaches
 * outside it. Each directory exists twice, beneath the root and beneath .cnio/meta
 * (where the metadata of its objects lives); both are kept in step. RENAME itself,
 * which moves a name's data, metadata and checksums together, is rename.c's.
 */
#include "server.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static int names_errno(void)
{
    return cnio__srv_why_errno(errno);
}

/* Parses a one-name payload into name (flags beyond `allowed` are malformed). */
static int names_one(const struct cnio_wire_hdr *h, const uint8_t *p, uint32_t allowed,
                     struct cnio_wire_open *o, char name[CNIO_WIRE_MAX_NAME + 1])
{
    if (cnio__wire_open_parse(p, h->length, 0, o) || (o->flags & ~allowed))
        return -CNIO_ERR_PROTO;
    return cnio__srv_store_name(o->name, o->name_len, name);
}

/* mkdirat of name's last component beneath basefd, on disk before the reply as a commit
 * beneath it will be: 0, or a negative code (EEXIST too). */
static int names_mkdir_at(int basefd, const char *name, mode_t mode)
{
    const char *base;
    int pfd = cnio__srv_store_parent(basefd, name, &base), r, e;

    if (pfd < 0)
        return names_errno();
    r = mkdirat(pfd, base, mode);
    e = errno;
    r = r < 0 ? cnio__srv_why_errno(e) : cnio__srv_store_sync_path(pfd);
    close(pfd);
    return r;
}

/* A directory beneath basefd: 1 when name is one, 0 when not, or a negative code. */
static int names_is_dir(int basefd, const char *name)
{
    struct stat sb;
    int fd = cnio__srv_store_at(basefd, name, O_PATH, 0), r;

    if (fd < 0)
        return names_errno();
    r = fstat(fd, &sb) < 0 ? names_errno() : S_ISDIR(sb.st_mode) ? 1 : 0;
    close(fd);
    return r;
}

/*
 * After a MKDIR or RENAME beneath rootfd failed with -CNIO_ERR_NOENT (which is also how
 * ENOTDIR comes back): when a directory of name is an object here, -CNIO_ERR_EXIST with
 * the object named, else ret. A client takes NOENT for "not on this host" and goes on
 * with the other hosts, where an object of one column has no file: they made its name a
 * directory, which hid the object from LIST and `cnio cp -r`.
 */
static int names_through_object(int rootfd, const char *name, int ret)
{
    char dir[CNIO_WIRE_MAX_NAME + 1];

    if (ret != -CNIO_ERR_NOENT)
        return ret;
    for (const char *s = strchr(name, '/'); s; s = strchr(s + 1, '/')) {
        snprintf(dir, sizeof(dir), "%.*s", (int)(s - name), name);
        if (names_is_dir(rootfd, dir) == 0)
            return cnio__srv_why(-CNIO_ERR_EXIST, "%s is an object, not a directory", dir);
    }
    return ret;
}

static int names_mkdir(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h,
                       const uint8_t *p, struct cnio_srv_reply *r)
{
    struct cnio_srv_store *st = &c->srv->store;
    char name[CNIO_WIRE_MAX_NAME + 1];
    struct cnio_wire_open o;
    int parents, ret = names_one(h, p, CNIO_WIRE_O_CREATE, &o, name);

    (void)r;
    if (ret)
        return ret;
    parents = (o.flags & CNIO_WIRE_O_CREATE) != 0;
    if (parents)
        ret = cnio__srv_store_mkparents(st->rootfd, name);
    if (!ret)
        ret = names_mkdir_at(st->rootfd, name, 0755);
    if (ret == -CNIO_ERR_EXIST) {
        int d = names_is_dir(st->rootfd, name);

        if (d == 0)
            return -CNIO_ERR_EXIST;   /* an object of that name */
        if (d < 0)
            return d;
        if (!parents)
            return -CNIO_ERR_EXIST;
        ret = 0;
    }
    if (ret)
        return names_through_object(st->rootfd, name, ret);
    pthread_mutex_lock(&st->lock);
    ret = cnio__srv_side_mkdir(st, name);
    pthread_mutex_unlock(&st->lock);
    return ret;
}

/* rmdir of name beneath basefd: 0, 1 when it was not there, or a negative code. */
static int names_rmdir_at(int basefd, const char *name)
{
    const char *base;
    int pfd = cnio__srv_store_parent(basefd, name, &base), r, e;

    if (pfd < 0)
        return errno == ENOENT ? 1 : names_errno();
    r = unlinkat(pfd, base, AT_REMOVEDIR);
    e = errno;
    close(pfd);
    if (r == 0)
        return 0;
    if (e == ENOENT)
        return 1;
    return e == ENOTEMPTY || e == EEXIST ? -CNIO_ERR_EXIST : cnio__srv_why_errno(e);
}

static int names_rmdir(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h,
                       const uint8_t *p, struct cnio_srv_reply *r)
{
    struct cnio_srv_store *st = &c->srv->store;
    char name[CNIO_WIRE_MAX_NAME + 1];
    struct cnio_wire_open o;
    int ret = names_one(h, p, 0, &o, name), d;

    (void)r;
    if (ret)
        return ret;
    d = names_is_dir(st->rootfd, name);
    if (d <= 0)
        return d == 0 ? -CNIO_ERR_INVAL : d;
    pthread_mutex_lock(&st->lock);
    ret = names_rmdir_at(st->rootfd, name);
    if (ret == 0) {   /* the name may be an object's next: nothing of it may stay */
        int m = cnio__srv_side_clear(st->metafd, name);
        int s = cnio__srv_side_clear(st->sumsfd, name);

        if (m < 0 || s < 0)
            cnio__warn("rmdir %s: its %s directory stays: %s", name,
                       m < 0 ? "metadata" : "block sums", cnio__srv_strerror(m < 0 ? m : s));
    }
    pthread_mutex_unlock(&st->lock);
    return ret == 1 ? -CNIO_ERR_NOENT : ret;
}

/*
 * Why a RENAME of from to to is refused before anything moves (store lock held), or 0:
 * - live in-place writers of from or beneath it: their handles would follow the data,
 *   but their CLOSE clears the update's mark by name, found nothing there, failed, and
 *   left the moved object marked as interrupted (unreadable until opened for writing);
 * - live in-place writers of to, which a commit refuses to replace too: their writes
 *   went on, with success, into a file no name reached, and their close blamed cnio rm;
 * - live uploads (staged instances a handle writes) of from or beneath it;
 * - a directory over an object, or an object over a directory (rename(2)'s ENOTDIR and
 *   EISDIR). renameat's own ENOTDIR came back as -CNIO_ERR_NOENT, which the client
 *   takes for "not on this host": the other hosts then made the name a directory.
 */
static int names_rename_refused(struct cnio_srv_store *st, struct cnio_srv_handles *hs,
                                const char *from, const char *to)
{
    int f, t;

    if (cnio__srv_store_writing(st, from, 1))
        return cnio__srv_why(-CNIO_ERR_ACCESS, "it is open for writing in place; close it "
                             "first");
    if (cnio__srv_store_writing(st, to, 0))
        return cnio__srv_why(-CNIO_ERR_ACCESS, "the object it replaces is open for writing "
                             "in place; close it first");
    /* an upload still writing it, or beneath it, would commit under the old name after
     * the move, making it again */
    if (cnio__srv_stage_idx_live_under(st, from, cnio__srv_handles_held, hs))
        return cnio__srv_why(-CNIO_ERR_ACCESS, "an upload to it (or beneath it) is in "
                             "progress; move it once that has finished");
    f = names_is_dir(st->rootfd, from);
    t = names_is_dir(st->rootfd, to);
    if (f >= 0 && t >= 0 && f != t)
        return cnio__srv_why(-CNIO_ERR_EXIST, t ? "a directory has the new name"
                                                : "an object has the new name");
    return 0;   /* a missing from is cnio__srv_rename's to say */
}

static int names_rename(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h,
                        const uint8_t *p, struct cnio_srv_reply *r)
{
    struct cnio_srv_store *st = &c->srv->store;
    char from[CNIO_WIRE_MAX_NAME + 1], to[CNIO_WIRE_MAX_NAME + 1];
    struct cnio_wire_open a, b;
    size_t n;
    int ret;

    (void)r;
    if (cnio__wire_rename_parse(p, h->length, &a, &b) || a.flags || b.flags)
        return -CNIO_ERR_PROTO;
    ret = cnio__srv_store_name(a.name, a.name_len, from);
    if (!ret)
        ret = cnio__srv_store_name(b.name, b.name_len, to);
    if (ret)
        return ret;
    n = strlen(from);
    if (!strncmp(from, to, n) && (to[n] == '/' || to[n] == '\0'))
        return strcmp(from, to) ? -CNIO_ERR_INVAL : 0;   /* into itself, or onto itself */
    pthread_mutex_lock(&st->lock);
    ret = names_rename_refused(st, &c->srv->handles, from, to);
    if (!ret)
        ret = cnio__srv_rename(st, from, to);
    /* "not found" is "not on this host" when from is not here (an object of fewer
     * columns than hosts): only a from that is here failed for the way to it */
    if (ret == -CNIO_ERR_NOENT && names_is_dir(st->rootfd, from) >= 0)
        ret = names_through_object(st->rootfd, to, ret);
    pthread_mutex_unlock(&st->lock);
    return ret;
}

/* Sets the mtime of name beneath rootfd to SETATTR h's: its offset, signed ns since the
 * epoch (0 leaves the mtime as it is, unless flag F_MTIME). */
static int names_mtime(int rootfd, const char *name, const struct cnio_wire_hdr *h)
{
    int64_t mtime_ns = (int64_t)h->offset;
    struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, cnio__ts_of_ns(mtime_ns) };
    int fd, r = 0;

    if (!mtime_ns && !(h->flags & CNIO_WIRE_F_MTIME))
        return 0;
    fd = cnio__srv_store_at(rootfd, name, O_RDONLY | O_NONBLOCK, 0);
    if (fd < 0)
        return names_errno();
    if (futimens(fd, ts) < 0)
        r = names_errno();
    close(fd);
    return r;
}

/*
 * SETATTR: a directory gets the permission bits itself (the server keeps rwx for its
 * own user, which must go on creating entries in it); an object keeps its mode in its
 * metadata (its data file stays the server's), and both get the mtime.
 */
/* The recorded permission bits of a directory: 4 bytes, little-endian. A file system
 * without user extended attributes records none: its directories report rwx for the
 * server's user, as they did before. */
#define NAMES_XATTR_MODE "user.cnio.mode"

uint32_t cnio__srv_dir_mode(int pathfd, const struct stat *sb)
{
    char path[40];
    uint8_t v[4];

    snprintf(path, sizeof(path), "/proc/self/fd/%d", pathfd);
    if (pathfd >= 0 && getxattr(path, NAMES_XATTR_MODE, v, sizeof(v)) == (ssize_t)sizeof(v))
        return S_IFDIR | (cnio__get_le32(v) & 07777);
    return (uint32_t)sb->st_mode & 0xffffu;
}

/* SETATTR of directory fd: its mode, with rwx kept for the server's user, and the mode
 * asked for recorded beside it (NAMES_XATTR_MODE). 0 or a negative code. */
static int names_dir_mode(int fd, uint32_t mode)
{
    uint8_t v[4];

    if (fchmod(fd, (mode_t)((mode & 07777) | 0700)) < 0)
        return names_errno();
    cnio__put_le32(v, mode & 07777);
    if (fsetxattr(fd, NAMES_XATTR_MODE, v, sizeof(v), 0) < 0 && errno != ENOTSUP &&
        errno != EOPNOTSUPP)
        return names_errno();
    return 0;
}

/*
 * SETATTR of a staged instance (header object = its handle, CNIO_WIRE_CAP_SETATTR_STAGED):
 * the mode goes into the instance's metadata and the mtime onto its data file, which
 * its commit renames into place: readers see the new bytes with their attributes at
 * once (a symlink a tree upload makes was first a plain object, its mode set after
 * the commit, and a download in between made it a regular file).
 */
static int names_setattr_staged(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h,
                                const char *name, uint32_t mode)
{
    int64_t mtime_ns = (int64_t)h->offset;
    struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, cnio__ts_of_ns(mtime_ns) };
    struct cnio_srv_handle *hd;
    int ret = cnio__srv_req_handle(c, h, 1, &hd);

    if (ret)
        return ret;
    pthread_mutex_lock(&hd->lock);
    if (!hd->stage || strcmp(hd->name, name))
        ret = cnio__srv_why(-CNIO_ERR_INVAL, "SETATTR by handle is for a staged instance of "
                            "the name it gives");
    else if ((mtime_ns || (h->flags & CNIO_WIRE_F_MTIME)) && futimens(hd->fd, ts) < 0)
        ret = names_errno();
    else
        hd->meta.mode = mode;
    pthread_mutex_unlock(&hd->lock);
    cnio__srv_handles_put(&c->srv->handles, hd);
    return ret;
}

static int names_setattr(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h,
                         const uint8_t *p, struct cnio_srv_reply *r)
{
    struct cnio_srv_store *st = &c->srv->store;
    char name[CNIO_WIRE_MAX_NAME + 1];
    struct cnio_srv_meta m;
    struct cnio_wire_open o;
    int ret = names_one(h, p, 0, &o, name), d;

    (void)r;
    if (ret)
        return ret;
    if (o.stripe_count || o.stripe_index || o.stripe_unit > 0xffffu)
        return -CNIO_ERR_PROTO;
    if (h->object)
        return names_setattr_staged(c, h, name, (uint32_t)o.stripe_unit);
    d = names_is_dir(st->rootfd, name);
    if (d < 0)
        return d;
    if (d) {
        int fd = cnio__srv_store_at(st->rootfd, name, O_RDONLY | O_DIRECTORY, 0);

        if (fd < 0)
            return names_errno();
        ret = names_dir_mode(fd, (uint32_t)o.stripe_unit);
        close(fd);
        return ret ? ret : names_mtime(st->rootfd, name, h);
    }
    pthread_mutex_lock(&st->lock);
    ret = cnio__srv_store_meta_get(st, name, &m);
    if (ret == 1) {
        struct stat sb;
        int fd = cnio__srv_store_at(st->rootfd, name, O_PATH, 0);

        ret = fd < 0 || fstat(fd, &sb) < 0 ? names_errno() : 0;
        if (fd >= 0)
            close(fd);
        memset(&m, 0, sizeof(m));
        m.layout.unit = 1u << 20;
        m.layout.count = 1;
        m.size = ret ? 0 : (uint64_t)sb.st_size;
    }
    if (ret == 0) {
        m.mode = (uint32_t)o.stripe_unit;
        ret = cnio__srv_store_meta_write(st, name, &m);
    }
    if (ret == 0)
        ret = names_mtime(st->rootfd, name, h);
    pthread_mutex_unlock(&st->lock);
    return ret;
}

int cnio__srv_req_names(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h,
                        const uint8_t *p, struct cnio_srv_reply *r)
{
    switch (h->type) {
    case CNIO_WIRE_MKDIR: return names_mkdir(c, h, p, r);
    case CNIO_WIRE_RMDIR: return names_rmdir(c, h, p, r);
    case CNIO_WIRE_RENAME: return names_rename(c, h, p, r);
    case CNIO_WIRE_SETATTR: return names_setattr(c, h, p, r);
    default: return -CNIO_ERR_NOTSUP;
    }
}
