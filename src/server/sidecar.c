/*
 * sidecar.c - the trees beside the root that follow its names: .cnio/meta (an object's
 * metadata file; a directory for each directory) and .cnio/sums (an object's block
 * checksums, and the directories leading to them).
 *
 * Removing a name from the root (UNLINK, RMDIR, the old name of a RENAME) removes what
 * these trees hold for it too, but a crash between the steps, or a server of an earlier
 * version (whose RMDIR left .cnio/sums alone), leaves some of it behind. Such an entry is
 * in the way of a later name: a directory where an object's metadata or block sums go
 * (its commit failed with "is a directory"), a file where a new directory's metadata or
 * the directories beneath it go. What the root says of the name decides that the entry
 * is stale, and it is cleared when it is in the way, under the store lock where the
 * caller holds it:
 *
 * - a directory at an object's name is removed with the directories beneath it when
 *   none of them holds anything else (metadata and sums are only ever made, lazily, by
 *   the writes of the objects beneath; an empty directory means nothing);
 * - a file at a name the root holds as a directory is removed (no object has that name:
 *   it is the metadata or the sums of one removed before).
 *
 * Files beneath a stale directory are left, with a warning: they could be a live
 * object's, written by an in-place open that does not take the store lock.
 */
#include "server.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Deeper stale trees than this are left (each level holds a directory open). */
#define SIDE_MAX_DEPTH 32

/*
 * Removes directory base beneath pfd and the directories beneath it, bottom up, when
 * nothing but directories is there: 0 when it is gone (or was not there), 1 when a file
 * (or a symbolic link) is there or beneath, which stays, or a negative code.
 */
static int side_prune(int pfd, const char *base, int depth)
{
    struct dirent *de;
    int fd, kept = 0, ret = 0;
    DIR *d;

    if (unlinkat(pfd, base, AT_REMOVEDIR) == 0 || errno == ENOENT)
        return 0;
    if (errno == ENOTDIR)
        return 1;
    if ((errno != ENOTEMPTY && errno != EEXIST) || depth >= SIDE_MAX_DEPTH)
        return errno == ENOTEMPTY || errno == EEXIST ? 1 : cnio__srv_why_errno(errno);
    fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return cnio__srv_why_errno(errno);
    d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -CNIO_ERR_NOMEM;
    }
    while (!ret && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        ret = side_prune(dirfd(d), de->d_name, depth + 1);
        kept |= ret == 1;
        ret = ret < 0 ? ret : 0;
    }
    closedir(d);
    if (ret || kept)
        return ret ? ret : 1;
    if (unlinkat(pfd, base, AT_REMOVEDIR) == 0 || errno == ENOENT)
        return 0;
    return errno == ENOTEMPTY || errno == EEXIST ? 1 : cnio__srv_why_errno(errno);
}

/* 1 when name beneath basefd is a directory (symbolic links not followed), else 0. */
static int side_is_dir(int basefd, const char *name)
{
    struct stat sb;
    int fd = cnio__srv_store_at(basefd, name, O_PATH | O_NOFOLLOW, 0), r;

    if (fd < 0)
        return 0;
    r = fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode);
    close(fd);
    return r;
}

int cnio__srv_side_clear(int sidefd, const char *name)
{
    const char *base;
    int pfd = cnio__srv_store_parent(sidefd, name, &base), r;

    if (pfd < 0)
        return errno == ENOENT || errno == ENOTDIR ? 0 : cnio__srv_why_errno(errno);
    r = side_prune(pfd, base, 0);
    close(pfd);
    if (r == 1 && side_is_dir(sidefd, name)) {
        cnio__warn("%s: a directory of files is left in the metadata or block sums tree "
                   "(.cnio/meta or .cnio/sums) under this name", name);
        return -CNIO_ERR_ISDIR;
    }
    return r < 0 ? r : 0;
}

/*
 * Removes the files in sidefd at name's leading components (with full, at name too)
 * that the root holds as directories. 1 when one went, 0 when none did, or a negative
 * code.
 */
static int side_unblock(const struct cnio_srv_store *st, int sidefd, const char *name,
                        int full)
{
    char path[CNIO_WIRE_MAX_NAME + 1];
    size_t n = strlen(name);
    int gone = 0;

    if (n >= sizeof(path))
        return -CNIO_ERR_INVAL;
    memcpy(path, name, n + 1);
    for (char *s = path;; s++) {
        const char *base;
        int pfd, r;

        s = strchr(s, '/');
        if (!s && !full)
            break;
        if (s)
            *s = '\0';
        if (!side_is_dir(sidefd, path) && side_is_dir(st->rootfd, path)) {
            pfd = cnio__srv_store_parent(sidefd, path, &base);
            r = pfd < 0 ? -1 : unlinkat(pfd, base, 0);
            if (pfd >= 0)
                close(pfd);
            if (r == 0) {
                cnio__info("%s: removed the metadata or block sums of an object of that "
                           "name that was removed before, which were in the way", path);
                gone = 1;
            }
        }
        if (!s)
            break;
        *s = '/';
    }
    return gone;
}

int cnio__srv_side_parent(const struct cnio_srv_store *st, int sidefd, const char *name,
                          const char **base)
{
    int pfd = cnio__srv_store_mkparents_at(sidefd, name, base);

    if (pfd == -CNIO_ERR_NOENT && side_unblock(st, sidefd, name, 0) > 0)
        pfd = cnio__srv_store_mkparents_at(sidefd, name, base);
    return pfd;
}

int cnio__srv_side_mkdir(const struct cnio_srv_store *st, const char *name)
{
    const char *base;
    int pfd = cnio__srv_store_mkparents_at(st->metafd, name, &base), r, e;

    if (pfd == -CNIO_ERR_NOENT && side_unblock(st, st->metafd, name, 0) > 0)
        pfd = cnio__srv_store_mkparents_at(st->metafd, name, &base);
    if (pfd < 0)
        return pfd;
    r = mkdirat(pfd, base, 0755);
    if (r < 0 && errno == EEXIST && !side_is_dir(st->metafd, name) &&
        side_unblock(st, st->metafd, name, 1) > 0)
        r = mkdirat(pfd, base, 0755);
    e = errno;
    r = r == 0 ? cnio__srv_store_sync_dir(pfd) : e == EEXIST ? 0 : cnio__srv_why_errno(e);
    close(pfd);
    return r;
}
