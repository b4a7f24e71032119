/*
 * store.c - where objects live on a server host.
 *
 * Object NAME is the file ROOT/NAME (this host's dense stripe file) and its metadata
 * is ROOT/.cnio/meta/NAME. Every path is opened beneath a directory fd of the root (or
 * of the metadata tree) by cnio__srv_store_at (resolve.c), so no name, ".." or symlink
 * can reach outside or into .cnio; directories are created one component at a time the
 * same way. Names are checked first: relative, no empty component, no component
 * starting with '.' (which keeps .cnio out of reach).
 *
 * Metadata file (64 bytes, little-endian):
 *   0 magic "CNIOMETA" | 8 version u32 | 12 stripe_count u32 | 16 stripe_unit u64 |
 *  24 stripe_index u32 | 28 flags u32 | 32 size u64 | 40 generation u64 | 48 commit order u64 |
 *  56 mode u32 (st_mode bits SETATTR recorded, 0: none) |
 *  60 CRC32C of 0..59
 * flags: CNIO_SRV_META_DIRTY (opened for writing in place, not yet closed cleanly),
 * CNIO_SRV_META_COMMITTING (a commit is under way, see stage.c), CNIO_SRV_META_SIZED
 * (the data file is exactly its column's extent of size: set by a commit that found it
 * so, cleared for good by the first open for writing in place; a data file of another
 * length is refused as damaged, cnio__srv_store_length_check). The generation is the
 * id of the staged instance last committed (0 for objects never staged). It is replaced
 * by writing a temporary file and renaming it over. Staged instances (stage.c) live in
 * ROOT/.cnio/stage and are listed and described here beside the committed objects.
 * Block checksums (sums.c) live in ROOT/.cnio/sums/NAME and follow the object here:
 * emptied when it is created or truncated to nothing, removed with it.
 */
#include "server.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int store_errno(void)
{
    return cnio__srv_why_errno(errno);
}

int cnio__srv_store_name(const char *name, size_t len, char *buf)
{
    const char *why = cnio__name_problem(name, len);

    if (why) {   /* the client checks the same rules first and tells its user */
        return cnio__srv_why(-CNIO_ERR_ACCESS, "%s", why);
    }
    memcpy(buf, name, len);
    buf[len] = '\0';
    return 0;
}

/* Opens the directory holding name's last component; *base points at that component. */
static int store_parent(int basefd, const char *name, int flags, const char **base)
{
    const char *slash = strrchr(name, '/');
    char dir[CNIO_WIRE_MAX_NAME + 1];
    size_t n;

    if (!slash) {
        *base = name;
        return cnio__srv_store_at(basefd, ".", flags | O_DIRECTORY, 0);
    }
    n = (size_t)(slash - name);
    if (n >= sizeof(dir)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(dir, name, n);
    dir[n] = '\0';
    *base = slash + 1;
    return cnio__srv_store_at(basefd, dir, flags | O_DIRECTORY, 0);
}

/* Creates the directories leading to name beneath basefd, one component at a time. The
 * parent is tried first: it is almost always there already (every file of a tree copied
 * into one directory), and one open is cheaper than a mkdirat and an open per component. */
static int store_mkparents(int basefd, const char *name)
{
    char path[CNIO_WIRE_MAX_NAME + 1];
    const char *leaf;
    char *s;
    int fd;

    if (strlen(name) >= sizeof(path))
        return -CNIO_ERR_INVAL;
    if (!strchr(name, '/'))
        return 0;
    fd = store_parent(basefd, name, O_PATH, &leaf);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    strcpy(path, name);
    for (s = strchr(path, '/'); s; s = strchr(s + 1, '/')) {
        const char *base;
        int pfd, r, e, synced;

        *s = '\0';
        pfd = store_parent(basefd, path, O_RDONLY, &base);
        if (pfd < 0)
            return store_errno();
        r = mkdirat(pfd, base, 0755);
        e = errno;
        synced = r == 0 ? cnio__srv_store_sync_dir(pfd) : 0;   /* a commit beneath the new
                                                            * directory needs its entry */
        close(pfd);
        if (r < 0 && e != EEXIST)
            return cnio__srv_why_errno(e);
        if (synced)
            return synced;
        *s = '/';
    }
    return 0;
}

int cnio__srv_store_mkparents(int basefd, const char *name)
{
    return store_mkparents(basefd, name);
}

int cnio__srv_store_mkparents_at(int basefd, const char *name, const char **base)
{
    int fd = store_parent(basefd, name, O_RDONLY, base), ret;   /* not O_PATH: fsync needs it */

    if (fd >= 0)
        return fd;
    if (errno != ENOENT)
        return store_errno();
    ret = store_mkparents(basefd, name);
    if (ret)
        return ret;
    fd = store_parent(basefd, name, O_RDONLY, base);
    return fd >= 0 ? fd : store_errno();
}

int cnio__srv_store_parent(int basefd, const char *name, const char **base)
{
    return store_parent(basefd, name, O_PATH, base);
}

int cnio__srv_store_open(struct cnio_srv_store *st, const char *root)
{
    int r;

    st->metafd = st->stagefd = st->sumsfd = -1;
    st->writers = NULL;
    atomic_init(&st->nwriters, 0);
    st->staged = NULL;
    pthread_mutex_init(&st->lock, NULL);
    pthread_mutex_init(&st->stage_lock, NULL);
    for (int i = 0; i < CNIO_SRV_OPEN_LOCKS; i++)
        pthread_mutex_init(&st->open_lock[i], NULL);
    st->rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (st->rootfd < 0) {
        int e = errno;

        r = store_errno();
        cnio__err("cannot serve root %s: %s%s", root, strerror(e),
                  e == ENOENT ? " (make that directory first, or give --root an existing one)"
                  : e == ENOTDIR ? " (--root names a directory, the one to keep objects in)"
                  : e == EACCES ? " (this user may not enter it: run the server as its owner, "
                                  "or give --root another directory)"
                  : "");
        return r;
    }
    r = store_mkparents(st->rootfd, ".cnio/meta/x");
    if (!r) {
        st->metafd = cnio__srv_store_at(st->rootfd, ".cnio/meta", O_PATH | O_DIRECTORY, 0);
        r = st->metafd < 0 ? store_errno() : 0;
    }
    if (!r)
        r = store_mkparents(st->rootfd, ".cnio/stage/x");
    if (!r) {
        st->stagefd = cnio__srv_store_at(st->rootfd, ".cnio/stage", O_PATH | O_DIRECTORY, 0);
        r = st->stagefd < 0 ? store_errno() : 0;
    }
    if (!r)
        r = store_mkparents(st->rootfd, ".cnio/sums/x");
    if (!r) {
        st->sumsfd = cnio__srv_store_at(st->rootfd, ".cnio/sums", O_PATH | O_DIRECTORY, 0);
        r = st->sumsfd < 0 ? store_errno() : 0;
    }
    if (r) {
        cnio__err("root %s: cannot create %s/.cnio/meta, stage and sums: %s", root, root,
                  cnio__srv_strerror(r));
        cnio__srv_store_close(st);
        return r;
    }
    return 0;
}

int cnio__srv_store_recover(struct cnio_srv_store *st, const char *root)
{
    int r = cnio__srv_rename_recover(st);

    if (r)
        return r;
    r = cnio__srv_stage_load(st);
    if (r)
        cnio__err("root %s: staged instances: %s", root, cnio__srv_strerror(r));
    return r;
}

void cnio__srv_store_close(struct cnio_srv_store *st)
{
    if (st->stagefd >= 0)
        close(st->stagefd);
    if (st->sumsfd >= 0)
        close(st->sumsfd);
    if (st->metafd >= 0)
        close(st->metafd);
    if (st->rootfd >= 0)
        close(st->rootfd);
    st->metafd = st->rootfd = st->stagefd = st->sumsfd = -1;
    while (st->writers) {
        struct cnio_srv_writer *w = st->writers;

        st->writers = w->next;
        free(w);
    }
    atomic_store(&st->nwriters, 0);
    cnio__srv_stage_idx_free(st);
}

int cnio__srv_store_root_gone(struct cnio_srv_store *st)
{
    static atomic_int said;
    struct stat sb;

    if (fstat(st->rootfd, &sb) < 0 || sb.st_nlink > 0)
        return 0;
    if (!atomic_exchange(&said, 1))
        cnio__err("the root directory was removed while the server ran: every request "
                  "fails; restart the server on a root that exists");
    return 1;
}


/* 0 for a regular file, -CNIO_ERR_ISDIR for a directory, -CNIO_ERR_ACCESS otherwise. */
static int store_check_regular(int fd, struct stat *sb)
{
    if (fstat(fd, sb) < 0)
        return store_errno();
    if (S_ISDIR(sb->st_mode))
        return -CNIO_ERR_ISDIR;
    return S_ISREG(sb->st_mode) ? 0 : cnio__srv_why(-CNIO_ERR_ACCESS, "not a regular file (a "
                                                    "FIFO, device or socket on the server)");
}

/* Removes name beneath basefd: 0, 1 when it was not there, or a negative code. */
static int store_unlink_at(int basefd, const char *name)
{
    const char *base;
    int pfd = store_parent(basefd, name, O_PATH, &base), r, e;

    if (pfd < 0)
        return errno == ENOENT || errno == ENOTDIR ? 1 : store_errno();
    r = unlinkat(pfd, base, 0);
    e = errno;
    close(pfd);
    if (r == 0)
        return 0;
    return e == ENOENT ? 1 : cnio__srv_why_errno(e);
}

/* Opens the data file: creates it (*created) when asked and missing. */
static int store_open_data(struct cnio_srv_store *st, const char *name, uint32_t oflags,
                           int *created)
{
    int acc = ((oflags & CNIO_WIRE_O_WRITE) ? O_RDWR : O_RDONLY) | O_NONBLOCK;
    int fd, ret;

    *created = 0;
    if (oflags & CNIO_WIRE_O_CREATE) {
        ret = store_mkparents(st->rootfd, name);
        if (ret)
            return ret;
        fd = cnio__srv_store_at(st->rootfd, name, acc | O_CREAT | O_EXCL, 0644);
        if (fd >= 0) {
            *created = 1;
            return fd;
        }
        if (errno != EEXIST || (oflags & CNIO_WIRE_O_EXCL))
            return store_errno();
    }
    fd = cnio__srv_store_at(st->rootfd, name, acc, 0);
    if (fd < 0 && errno == ENOENT && cnio__srv_stage_find(st, name, NULL, NULL, NULL) == 0)
        return -CNIO_ERR_INCOMPLETE;   /* an upload that never committed */
    return fd >= 0 ? fd : store_errno();
}

/* Metadata for an object that existed: read, or written / made up when missing. */
static int store_existing_meta(struct cnio_srv_store *st, const char *name, int fd,
                               uint32_t oflags, const struct cnio_srv_meta *want,
                               const struct stat *sb, struct cnio_srv_meta *m)
{
    int ret, busy;

    if (oflags & CNIO_WIRE_O_TRUNC) {
        /* not under a live writer in place (its mark, count and bytes: a power cut, or
         * its close, would bless what is left); none can come meanwhile, as the caller
         * holds the name's open lock (req_open) */
        pthread_mutex_lock(&st->lock);
        busy = cnio__srv_store_writing(st, name, 0);
        pthread_mutex_unlock(&st->lock);
        if (busy)
            return cnio__srv_why(-CNIO_ERR_ACCESS, "it is open for writing in place; close "
                                 "it first (an open that truncates it empties the object "
                                 "under that writer)");
        if (ftruncate(fd, 0) < 0)
            return store_errno();
        ret = cnio__srv_sums_reset(st, name);
        if (ret)
            return ret;
        *m = *want;
        m->size = 0;
        return cnio__srv_store_meta_write(st, name, m);
    }
    ret = cnio__srv_store_meta_get(st, name, m);
    if (ret != 1)
        return ret;
    ret = cnio__srv_store_meta_none(st, name, (uint64_t)sb->st_size, m);
    if (ret || !(oflags & CNIO_WIRE_O_CREATE))
        return ret;
    *m = *want;
    m->size = 0;
    return cnio__srv_store_meta_write(st, name, m);
}

int cnio__srv_store_open_obj(struct cnio_srv_store *st, const char *name, uint32_t oflags,
                             const struct cnio_srv_meta *want, int *fd_out,
                             struct cnio_srv_meta *m, int *created)
{
    struct stat sb;
    int fd, ret;

    if ((oflags & CNIO_WIRE_O_TRUNC) && !(oflags & CNIO_WIRE_O_WRITE))
        return -CNIO_ERR_AMODE;
    if ((oflags & (CNIO_WIRE_O_CREATE | CNIO_WIRE_O_TRUNC)) &&
        (cnio__layout_check(&want->layout) || want->index >= want->layout.count))
        return -CNIO_ERR_LAYOUT;
    fd = store_open_data(st, name, oflags, created);
    if (fd < 0)
        return fd;
    ret = store_check_regular(fd, &sb);
    if (ret)
        goto close_fd;
    if (*created) {
        *m = *want;
        m->size = 0;
        ret = cnio__srv_sums_reset(st, name);   /* left by a file removed behind our back */
        if (!ret)
            ret = cnio__srv_store_meta_write(st, name, m);
    } else {
        ret = store_existing_meta(st, name, fd, oflags, want, &sb, m);
    }
    if (ret)
        goto close_fd;
    *fd_out = fd;
    return 0;
close_fd:
    if (*created)
        store_unlink_at(st->rootfd, name);
    close(fd);
    return ret;
}

int cnio__srv_store_sync_dir(int fd)
{
    return fsync(fd) < 0 && errno != EINVAL && errno != EROFS ? store_errno() : 0;
}

int cnio__srv_store_sync_path(int pfd)
{
    int fd = cnio__srv_store_at(pfd, ".", O_RDONLY | O_DIRECTORY, 0), r;

    if (fd < 0)
        return store_errno();
    r = cnio__srv_store_sync_dir(fd);
    close(fd);
    return r;
}

/* fsync of the directory holding name beneath basefd. */
static int store_sync_parent(int basefd, const char *name)
{
    const char *base;
    int pfd = store_parent(basefd, name, O_RDONLY, &base), r;

    if (pfd < 0)
        return errno == ENOENT ? 0 : store_errno();
    r = cnio__srv_store_sync_dir(pfd);
    close(pfd);
    return r;
}

int cnio__srv_store_sync(struct cnio_srv_store *st, const char *name, int fd)
{
    int mfd, ret = 0;

    if (fsync(fd) < 0)
        return store_errno();
    mfd = cnio__srv_store_at(st->metafd, name, O_RDONLY | O_NONBLOCK, 0);
    if (mfd >= 0) {
        if (fsync(mfd) < 0)
            ret = store_errno();
        close(mfd);
    }
    if (!ret)
        ret = store_sync_parent(st->metafd, name);
    if (!ret)
        ret = store_sync_parent(st->rootfd, name);
    return ret;
}


int cnio__srv_store_unlink_locked(struct cnio_srv_store *st, const char *name)
{
    int data = store_unlink_at(st->rootfd, name), meta, staged;

    if (data < 0)
        return data;
    meta = store_unlink_at(st->metafd, name);
    if (meta == -CNIO_ERR_ISDIR)   /* of a directory of that name, removed */
        meta = cnio__srv_side_clear(st->metafd, name) ? meta : 1;
    if (meta < 0)
        return meta;
    if (cnio__srv_sums_unlink(st, name))
        cnio__warn("block sums of %s: not removed", name);
    staged = cnio__srv_stage_unlink_name(st, name);
    if (staged < 0)
        return staged;
    return data == 1 && meta == 1 && staged == 0 ? -CNIO_ERR_NOENT : 0;
}
