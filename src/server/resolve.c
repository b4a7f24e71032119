/*
 * resolve.c - how a name becomes a file descriptor beneath the server's root (or beneath
 * one of the trees of .cnio): cnio__srv_store_at.
 *
 * Every path is opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
 * RESOLVE_NO_SYMLINKS) relative to a directory fd: one system call when no symlink is on
 * the path, the common case. A symlink made in the root by hand is followed as
 * RESOLVE_BENEATH would follow it (resolved here, store_canon, then opened without a
 * symlink), except that one leading to a name starting with '.' - the server's own
 * .cnio, where its metadata, staged uploads and block sums live - is refused as one
 * leading out of the root: EXDEV, which a request answers with -CNIO_ERR_ACCESS and
 * the reason. Without openat2 (kernels before 5.6, valgrind) every symlink is refused.
 */
#include "server.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static atomic_int store_no_openat2;

/* openat of one component without following a symlink (which fails with ELOOP). */
static int store_walk_step(int cur, const char *comp, int flags, mode_t mode)
{
    struct stat sb;
    int fd;

    if (!strcmp(comp, "..")) {
        errno = EXDEV;
        return -1;
    }
    fd = openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0 && errno == ENOTDIR && fstatat(cur, comp, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISLNK(sb.st_mode))
        errno = ELOOP;
    return fd;
}

/*
 * Without openat2 (kernels before 5.6, valgrind): walk the components with O_NOFOLLOW,
 * refusing every symlink (stricter than openat2, which follows those that stay beneath).
 */
static int store_walk(int dirfd, const char *path, int flags, mode_t mode)
{
    char buf[CNIO_SRV_PATH_MAX];
    char *comp = buf, *slash;
    int cur = dirfd, fd, e;

    if (strlen(path) >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(buf, path);
    while ((slash = strchr(comp, '/'))) {
        int next;

        *slash = '\0';
        next = store_walk_step(cur, comp, O_PATH | O_DIRECTORY, 0);
        e = errno;
        if (cur != dirfd)
            close(cur);
        if (next < 0) {
            errno = e;
            return -1;
        }
        cur = next;
        comp = slash + 1;
    }
    fd = store_walk_step(cur, comp, flags, mode);
    e = errno;
    if (cur != dirfd)
        close(cur);
    errno = e;
    return fd;
}

/* Drops the last component of the resolved path r (*rl bytes). */
static void store_canon_pop(char *r, size_t *rl)
{
    char *up = strrchr(r, '/');

    *rl = up ? (size_t)(up - r) : 0;
    r[*rl] = '\0';
}

/* Appends component c (n bytes) to the resolved path r (*rl bytes, cap) with a '/'. */
static int store_canon_push(char *r, size_t *rl, size_t cap, const char *c, size_t n)
{
    if (*rl + n + 2 > cap) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (*rl)
        r[(*rl)++] = '/';
    memcpy(r + *rl, c, n);
    *rl += n;
    r[*rl] = '\0';
    return 0;
}

/*
 * path beneath dirfd with every symlink on it resolved as RESOLVE_BENEATH resolves them
 * (the last component's too unless nofollow), into out (cap bytes): 0, or -1 with errno
 * (EXDEV: it leaves dirfd's tree, or a link leads to a name starting with '.' there, as
 * the server's own .cnio; ELOOP: more than 40 links; ENAMETOOLONG). Components that do
 * not exist are taken as they are. What it resolved may change before it is opened: the
 * caller opens out with RESOLVE_NO_SYMLINKS, which fails (ELOOP) if a symlink appeared
 * meanwhile.
 */
static int store_canon(int dirfd, const char *path, int nofollow, char *out, size_t cap)
{
    char left[PATH_MAX + 1], link[PATH_MAX + 1];   /* left: what is still to resolve */
    size_t rl = 0;
    int links = 0;

    if (strlen(path) >= sizeof(left)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(left, path);
    out[0] = '\0';
    for (char *p = left; *p;) {
        char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        char *rest = slash ? slash + 1 : p + n;
        struct stat sb;
        ssize_t ll;

        if (n == 0 || (n == 1 && p[0] == '.')) {
            p = rest;
            continue;
        }
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (!rl) {
                errno = EXDEV;
                return -1;
            }
            store_canon_pop(out, &rl);
            p = rest;
            continue;
        }
        if (p[0] == '.' && links) {   /* .cnio, or any name kept out of clients' reach */
            errno = EXDEV;
            return -1;
        }
        if (store_canon_push(out, &rl, cap, p, n) < 0)
            return -1;
        if ((nofollow && !*rest) || fstatat(dirfd, out, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISLNK(sb.st_mode)) {
            p = rest;
            continue;
        }
        ll = readlinkat(dirfd, out, link, sizeof(link));
        if (ll < 0)
            return -1;
        if (ll == 0 || link[0] == '/') {
            errno = EXDEV;
            return -1;
        }
        if (++links > 40) {
            errno = ELOOP;
            return -1;
        }
        if ((size_t)ll + 1 + strlen(rest) >= sizeof(left)) {
            errno = ENAMETOOLONG;
            return -1;
        }
        /* left becomes the link's target, then the rest, resolved from the link's
         * directory */
        memmove(left + ll + 1, rest, strlen(rest) + 1);
        memcpy(left, link, (size_t)ll);
        left[ll] = '/';
        p = left;
        store_canon_pop(out, &rl);
    }
    return 0;
}

/* Opens path beneath dirfd (openat2 RESOLVE_BENEATH): the fd, or -1 with errno. Without
 * a symlink on the path, one openat2; with one, store_canon resolves it first. */
static int store_openat2_raw(int dirfd, const char *path, int flags, mode_t mode)
{
    char canon[PATH_MAX + 1];
    struct open_how how;

    if (atomic_load(&store_no_openat2))
        return store_walk(dirfd, path, flags, mode);
    memset(&how, 0, sizeof(how));
    how.flags = (uint64_t)(unsigned)(flags | O_CLOEXEC);
    how.mode = (flags & O_CREAT) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS;
    for (int tries = 0, relinks = 0;; tries++) {
        const char *p = relinks ? (canon[0] ? canon : ".") : path;
        long fd = syscall(SYS_openat2, dirfd, p, &how, sizeof(how));

        if (fd >= 0)
            return (int)fd;
        if (errno == ENOSYS) {
            if (!atomic_exchange(&store_no_openat2, 1))
                cnio__warn("openat2 is not available: every symlink beneath the root is refused");
            return store_walk(dirfd, path, flags, mode);
        }
        /* a symlink on the path (or one made there since it was resolved): resolved
         * here, and opened without one */
        if (errno == ELOOP && relinks < 8) {
            if (store_canon(dirfd, path, (flags & O_NOFOLLOW) != 0, canon, sizeof(canon)) < 0)
                return -1;
            relinks++;
            continue;
        }
        if ((errno != EINTR && errno != EAGAIN) || tries >= 16)
            return -1;
    }
}

/* store_openat2_raw, and the rule a refusal applied, should the request fail with it. */
int cnio__srv_store_at(int dirfd, const char *path, int flags, mode_t mode)
{
    int fd = store_openat2_raw(dirfd, path, flags, mode), e;

    if (fd < 0) {
        e = errno;
        cnio__srv_why_errno(e);
        errno = e;
    }
    return fd;
}

