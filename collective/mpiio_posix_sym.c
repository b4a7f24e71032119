/*
 * mpiio_posix_sym.c - the libc names libcnio_mpiio.so defines so that the POSIX calls
 * MPI-IO clients make on cnio names are served (mpiio_posix.h). Each one asks whether
 * its path is a cnio name (or its fd was opened on one) and otherwise calls the next
 * definition, libc's, found with dlsym(RTLD_NEXT) (dlvsym for the pre-2.33 __xstat
 * family, which glibc 2.36 keeps for old binaries only).
 *
 * The names are those glibc 2.36 programs and libraries actually call: open/open64 and
 * their _FORTIFY_SOURCE forms, openat*, stat/lstat/fstatat (and the 64 forms, the old
 * __xstat family, statx), getxattr/lgetxattr/listxattr/llistxattr, access/faccessat,
 * truncate, unlink/unlinkat/remove, and on
 * fds read/pread/readv/preadv, close and dup/dup2/dup3/fcntl(F_DUPFD*), and fstat (with
 * __fxstat and fstatat/statx's AT_EMPTY_PATH), which gives the name's identity, and lseek
 * for SEEK_DATA/SEEK_HOLE alone: otherwise the fd is a real memfd as long as the object.
 */
#include "mpiio_posix.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define PX_API __attribute__((visibility("default")))
#define PX_URI_MAX (PATH_MAX + 8)

/* The names glibc 2.36's headers no longer declare (or declare only when fortified). */
PX_API int __open_2(const char *path, int flags);
PX_API int __open64_2(const char *path, int flags);
PX_API int __openat_2(int dirfd, const char *path, int flags);
PX_API int __openat64_2(int dirfd, const char *path, int flags);
PX_API int __xstat(int ver, const char *path, struct stat *sb);
PX_API int __xstat64(int ver, const char *path, struct stat64 *sb);
PX_API int __lxstat(int ver, const char *path, struct stat *sb);
PX_API int __lxstat64(int ver, const char *path, struct stat64 *sb);
PX_API int __fxstat(int ver, int fd, struct stat *sb);
PX_API int __fxstat64(int ver, int fd, struct stat64 *sb);
PX_API int __fxstatat(int ver, int dirfd, const char *path, struct stat *sb, int flags);
PX_API int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *sb, int flags);

_Static_assert(sizeof(struct stat) == sizeof(struct stat64), "stat64 is stat on LP64");

typedef int (*px_open_fn)(const char *, int, ...);
typedef int (*px_open2_fn)(const char *, int);
typedef int (*px_openat2_fn)(int, const char *, int);
typedef int (*px_stat_fn)(const char *, struct stat *);
typedef int (*px_fstatat_fn)(int, const char *, struct stat *, int);
typedef int (*px_xstat_fn)(int, const char *, struct stat *);
typedef int (*px_fxstatat_fn)(int, int, const char *, struct stat *, int);
typedef int (*px_fstat_fn)(int, struct stat *);
typedef int (*px_fxstat_fn)(int, int, struct stat *);
typedef ssize_t (*px_pread_fn)(int, void *, size_t, off_t);
typedef ssize_t (*px_readv_fn)(int, const struct iovec *, int);
typedef ssize_t (*px_preadv_fn)(int, const struct iovec *, int, off_t);

static struct {
    struct cnio_px_real pub;
    px_open_fn open, open64;
    px_open2_fn open_2, open64_2;
    int (*openat64)(int, const char *, int, ...);
    px_openat2_fn openat_2, openat64_2;
    px_stat_fn stat, stat64, lstat, lstat64;
    px_fstatat_fn fstatat, fstatat64;
    px_xstat_fn xstat, xstat64, lxstat, lxstat64;
    px_fxstatat_fn fxstatat, fxstatat64;
    px_fstat_fn fstat64;
    off_t (*lseek64)(int, off_t, int);
    ssize_t (*getxattr)(const char *, const char *, void *, size_t);
    ssize_t (*lgetxattr)(const char *, const char *, void *, size_t);
    ssize_t (*listxattr)(const char *, char *, size_t);
    ssize_t (*llistxattr)(const char *, char *, size_t);
    px_fxstat_fn fxstat, fxstat64;
    int (*statx)(int, const char *, int, unsigned int, struct statx *);
    int (*access)(const char *, int);
    int (*faccessat)(int, const char *, int, int);
    int (*truncate)(const char *, off_t);
    int (*truncate64)(const char *, off_t);
    int (*unlink)(const char *);
    int (*unlinkat)(int, const char *, int);
    int (*remove)(const char *);
    px_pread_fn pread, pread64;
    px_readv_fn readv;
    px_preadv_fn preadv, preadv64;
    int (*fcntl)(int, int, ...);
    int (*fcntl64)(int, int, ...);
} px;

static pthread_once_t px_once = PTHREAD_ONCE_INIT;

#define PX_SYM(field, name) (*(void **)&px.field = dlsym(RTLD_NEXT, name))
#define PX_OLD(field, name) (*(void **)&px.field = dlvsym(RTLD_NEXT, name, "GLIBC_2.2.5"))

static void px_resolve(void)
{
    PX_SYM(pub.openat, "openat"); PX_SYM(pub.close, "close"); PX_SYM(pub.read, "read");
    PX_SYM(pub.lseek, "lseek"); PX_SYM(pub.dup, "dup"); PX_SYM(pub.dup2, "dup2");
    PX_SYM(pub.dup3, "dup3"); PX_SYM(pub.fstat, "fstat"); PX_SYM(fstat64, "fstat64");
    PX_OLD(fxstat, "__fxstat"); PX_OLD(fxstat64, "__fxstat64"); PX_SYM(lseek64, "lseek64");
    PX_SYM(getxattr, "getxattr"); PX_SYM(lgetxattr, "lgetxattr");
    PX_SYM(listxattr, "listxattr"); PX_SYM(llistxattr, "llistxattr");
    PX_SYM(open, "open"); PX_SYM(open64, "open64"); PX_SYM(open_2, "__open_2");
    PX_SYM(open64_2, "__open64_2"); PX_SYM(openat64, "openat64");
    PX_SYM(openat_2, "__openat_2"); PX_SYM(openat64_2, "__openat64_2");
    PX_SYM(stat, "stat"); PX_SYM(stat64, "stat64"); PX_SYM(lstat, "lstat");
    PX_SYM(lstat64, "lstat64"); PX_SYM(fstatat, "fstatat"); PX_SYM(fstatat64, "fstatat64");
    PX_OLD(xstat, "__xstat"); PX_OLD(xstat64, "__xstat64"); PX_OLD(lxstat, "__lxstat");
    PX_OLD(lxstat64, "__lxstat64"); PX_OLD(fxstatat, "__fxstatat");
    PX_OLD(fxstatat64, "__fxstatat64");
    PX_SYM(statx, "statx"); PX_SYM(access, "access"); PX_SYM(faccessat, "faccessat");
    PX_SYM(truncate, "truncate"); PX_SYM(truncate64, "truncate64");
    PX_SYM(unlink, "unlink"); PX_SYM(unlinkat, "unlinkat"); PX_SYM(remove, "remove");
    PX_SYM(pread, "pread"); PX_SYM(pread64, "pread64"); PX_SYM(readv, "readv");
    PX_SYM(preadv, "preadv"); PX_SYM(preadv64, "preadv64");
    PX_SYM(fcntl, "fcntl"); PX_SYM(fcntl64, "fcntl64");
}

__attribute__((constructor)) static void px_init(void)
{
    pthread_once(&px_once, px_resolve);
}

const struct cnio_px_real *cnio__px_real(void)
{
    pthread_once(&px_once, px_resolve);
    return &px.pub;
}

/* A missing libc symbol (it cannot happen with glibc, but fail cleanly). */
static int px_nosys(void)
{
    errno = ENOSYS;
    return -1;
}

#define PX_CALL(field, ...) (cnio__px_real(), px.field ? px.field(__VA_ARGS__) : px_nosys())

/* The cnio URI of path as seen from dirfd (only absolute names and names relative to
 * the working directory can be cnio names). */
static int px_at_name(int dirfd, const char *path, char *uri)
{
    if (!path || (dirfd != AT_FDCWD && path[0] != '/'))
        return 0;
    return cnio__px_name(path, uri, PX_URI_MAX);
}

static mode_t px_mode(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, mode_t) : 0;
}

/* ---- open ------------------------------------------------------------------------------ */

#define PX_OPEN(name, field)                                                         \
    PX_API int name(const char *path, int flags, ...)                               \
    {                                                                                \
        char uri[PX_URI_MAX];                                                        \
        mode_t mode;                                                                 \
        va_list ap;                                                                  \
                                                                                     \
        if (cnio__px_name(path, uri, sizeof(uri)))                                   \
            return cnio__px_open(uri, flags);                                        \
        va_start(ap, flags);                                                         \
        mode = px_mode(flags, ap);                                                   \
        va_end(ap);                                                                  \
        return PX_CALL(field, path, flags, mode);                                    \
    }
PX_OPEN(open, open)
PX_OPEN(open64, open64)

#define PX_OPENAT(name, field)                                                       \
    PX_API int name(int dirfd, const char *path, int flags, ...)                    \
    {                                                                                \
        char uri[PX_URI_MAX];                                                        \
        mode_t mode;                                                                 \
        va_list ap;                                                                  \
                                                                                     \
        if (px_at_name(dirfd, path, uri))                                            \
            return cnio__px_open(uri, flags);                                        \
        va_start(ap, flags);                                                         \
        mode = px_mode(flags, ap);                                                   \
        va_end(ap);                                                                  \
        return PX_CALL(field, dirfd, path, flags, mode);                             \
    }
PX_OPENAT(openat, pub.openat)
PX_OPENAT(openat64, openat64)

PX_API int __open_2(const char *path, int flags)
{
    char uri[PX_URI_MAX];

    return cnio__px_name(path, uri, sizeof(uri)) ? cnio__px_open(uri, flags)
                                                 : PX_CALL(open_2, path, flags);
}

PX_API int __open64_2(const char *path, int flags)
{
    char uri[PX_URI_MAX];

    return cnio__px_name(path, uri, sizeof(uri)) ? cnio__px_open(uri, flags)
                                                 : PX_CALL(open64_2, path, flags);
}

PX_API int __openat_2(int dirfd, const char *path, int flags)
{
    char uri[PX_URI_MAX];

    return px_at_name(dirfd, path, uri) ? cnio__px_open(uri, flags)
                                        : PX_CALL(openat_2, dirfd, path, flags);
}

PX_API int __openat64_2(int dirfd, const char *path, int flags)
{
    char uri[PX_URI_MAX];

    return px_at_name(dirfd, path, uri) ? cnio__px_open(uri, flags)
                                        : PX_CALL(openat64_2, dirfd, path, flags);
}

/* ---- stat -------------------------------------------------------------------------------- */

#define PX_STAT(name, type, field)                                                   \
    PX_API int name(const char *path, type *sb)                                     \
    {                                                                                \
        char uri[PX_URI_MAX];                                                        \
                                                                                     \
        if (cnio__px_name(path, uri, sizeof(uri)))                                   \
            return cnio__px_stat(uri, (struct stat *)sb);                            \
        return PX_CALL(field, path, (struct stat *)sb);                              \
    }
PX_STAT(stat, struct stat, stat)
PX_STAT(stat64, struct stat64, stat64)
PX_STAT(lstat, struct stat, lstat)
PX_STAT(lstat64, struct stat64, lstat64)

#define PX_FSTATAT(name, type, field)                                                \
    PX_API int name(int dirfd, const char *path, type *sb, int flags)               \
    {                                                                                \
        char uri[PX_URI_MAX];                                                        \
        int rc_;                                                                     \
                                                                                     \
        if (px_at_name(dirfd, path, uri))                                            \
            return cnio__px_stat(uri, (struct stat *)sb);                            \
        rc_ = PX_CALL(field, dirfd, path, (struct stat *)sb, flags);                 \
        if (rc_ == 0 && (flags & AT_EMPTY_PATH) && !*path)                           \
            cnio__px_fstat_fix(dirfd, (struct stat *)sb);                            \
        return rc_;                                                                  \
    }
PX_FSTATAT(fstatat, struct stat, fstatat)
PX_FSTATAT(fstatat64, struct stat64, fstatat64)

#define PX_XSTAT(name, type, field)                                                  \
    PX_API int name(int ver, const char *path, type *sb)                            \
    {                                                                                \
        char uri[PX_URI_MAX];                                                        \
                                                                                     \
        if (cnio__px_name(path, uri, sizeof(uri)))                                   \
            return cnio__px_stat(uri, (struct stat *)sb);                            \
        return PX_CALL(field, ver, path, (struct stat *)sb);                         \
    }
PX_XSTAT(__xstat, struct stat, xstat)
PX_XSTAT(__xstat64, struct stat64, xstat64)
PX_XSTAT(__lxstat, struct stat, lxstat)
PX_XSTAT(__lxstat64, struct stat64, lxstat64)

#define PX_FXSTATAT(name, type, field)                                               \
    PX_API int name(int ver, int dirfd, const char *path, type *sb, int flags)      \
    {                                                                                \
        char uri[PX_URI_MAX];                                                        \
        int rc_;                                                                     \
                                                                                     \
        if (px_at_name(dirfd, path, uri))                                            \
            return cnio__px_stat(uri, (struct stat *)sb);                            \
        rc_ = PX_CALL(field, ver, dirfd, path, (struct stat *)sb, flags);            \
        if (rc_ == 0 && (flags & AT_EMPTY_PATH) && !*path)                           \
            cnio__px_fstat_fix(dirfd, (struct stat *)sb);                            \
        return rc_;                                                                  \
    }
PX_FXSTATAT(__fxstatat, struct stat, fxstatat)
PX_FXSTATAT(__fxstatat64, struct stat64, fxstatat64)

/* fstat and its forms on an fd opened on a cnio name: what stat() of the name says
 * (cp, for one, checks that the file it opened is the one it stat'ed). */
#define PX_FSTAT(name, type, field)                                                  \
    PX_API int name(int fd, type *sb)                                                \
    {                                                                                \
        int rc_ = PX_CALL(field, fd, (struct stat *)sb);                             \
                                                                                     \
        if (rc_ == 0)                                                                \
            cnio__px_fstat_fix(fd, (struct stat *)sb);                               \
        return rc_;                                                                  \
    }
PX_FSTAT(fstat, struct stat, pub.fstat)
PX_FSTAT(fstat64, struct stat64, fstat64)

#define PX_FXSTAT(name, type, field)                                                 \
    PX_API int name(int ver, int fd, type *sb)                                       \
    {                                                                                \
        int rc_ = PX_CALL(field, ver, fd, (struct stat *)sb);                        \
                                                                                     \
        if (rc_ == 0)                                                                \
            cnio__px_fstat_fix(fd, (struct stat *)sb);                               \
        return rc_;                                                                  \
    }
PX_FXSTAT(__fxstat, struct stat, fxstat)
PX_FXSTAT(__fxstat64, struct stat64, fxstat64)

/* lseek: SEEK_DATA and SEEK_HOLE on an fd opened on a cnio name see the object as all
 * data; everything else is the kernel's. */
PX_API off_t lseek(int fd, off_t off, int whence)
{
    off_t out;

    if (cnio__px_lseek(fd, off, whence, &out))
        return out;
    return PX_CALL(pub.lseek, fd, off, whence);
}

PX_API off_t lseek64(int fd, off_t off, int whence)
{
    off_t out;

    if (cnio__px_lseek(fd, off, whence, &out))
        return out;
    return PX_CALL(lseek64, fd, off, whence);
}

/* statx of an fd opened on a cnio name (AT_EMPTY_PATH): the name's identity. */
static void px_statx_fix(int fd, struct statx *sx)
{
    struct stat sb;

    if (!cnio__px_fstat_fix(fd, &sb))
        return;
    sx->stx_dev_major = major(sb.st_dev);
    sx->stx_dev_minor = minor(sb.st_dev);
    sx->stx_ino = sb.st_ino;
    sx->stx_mode = (uint16_t)sb.st_mode;
    sx->stx_nlink = (uint32_t)sb.st_nlink;
    sx->stx_blksize = (uint32_t)sb.st_blksize;
}

PX_API int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *sx)
{
    char uri[PX_URI_MAX];
    struct stat sb;
    int rc;

    if (!px_at_name(dirfd, path, uri)) {
        rc = PX_CALL(statx, dirfd, path, flags, mask, sx);
        if (rc == 0 && (flags & AT_EMPTY_PATH) && !*path)
            px_statx_fix(dirfd, sx);
        return rc;
    }
    if (cnio__px_stat(uri, &sb))
        return -1;
    memset(sx, 0, sizeof(*sx));
    sx->stx_mask = STATX_BASIC_STATS;
    sx->stx_blksize = (uint32_t)sb.st_blksize;
    sx->stx_nlink = (uint32_t)sb.st_nlink;
    sx->stx_uid = sb.st_uid;
    sx->stx_gid = sb.st_gid;
    sx->stx_mode = (uint16_t)sb.st_mode;
    sx->stx_ino = sb.st_ino;
    sx->stx_size = (uint64_t)sb.st_size;
    sx->stx_blocks = (uint64_t)sb.st_blocks;
    sx->stx_atime = (struct statx_timestamp){ .tv_sec = sb.st_atim.tv_sec,
                                               .tv_nsec = (uint32_t)sb.st_atim.tv_nsec };
    sx->stx_mtime = (struct statx_timestamp){ .tv_sec = sb.st_mtim.tv_sec,
                                               .tv_nsec = (uint32_t)sb.st_mtim.tv_nsec };
    sx->stx_ctime = sx->stx_mtime;
    sx->stx_dev_minor = minor(sb.st_dev);
    return 0;
}

/* ---- extended attributes ------------------------------------------------------------- */

/* A cnio object has none: ENODATA for one, an empty list, as on a local file without
 * any (ls -l asks for security.selinux, and called the name missing when libc said
 * ENOENT). A missing object is ENOENT, as stat says. */
static ssize_t px_noxattr(const char *uri, int list)
{
    struct stat sb;

    if (cnio__px_stat(uri, &sb))
        return -1;
    if (list)
        return 0;
    errno = ENODATA;
    return -1;
}

#define PX_GETXATTR(name)                                                            \
    PX_API ssize_t name(const char *path, const char *key, void *value, size_t size) \
    {                                                                                \
        char uri[PX_URI_MAX];                                                        \
                                                                                     \
        if (cnio__px_name(path, uri, sizeof(uri)))                                   \
            return px_noxattr(uri, 0);                                               \
        return PX_CALL(name, path, key, value, size);                                \
    }
PX_GETXATTR(getxattr)
PX_GETXATTR(lgetxattr)

#define PX_LISTXATTR(name)                                                           \
    PX_API ssize_t name(const char *path, char *list, size_t size)                   \
    {                                                                                \
        char uri[PX_URI_MAX];                                                        \
                                                                                     \
        if (cnio__px_name(path, uri, sizeof(uri)))                                   \
            return px_noxattr(uri, 1);                                               \
        return PX_CALL(name, path, list, size);                                      \
    }
PX_LISTXATTR(listxattr)
PX_LISTXATTR(llistxattr)

/* ---- access, truncate, unlink ---------------------------------------------------------- */

PX_API int access(const char *path, int mode)
{
    char uri[PX_URI_MAX];

    return cnio__px_name(path, uri, sizeof(uri)) ? cnio__px_access(uri, mode)
                                                 : PX_CALL(access, path, mode);
}

PX_API int faccessat(int dirfd, const char *path, int mode, int flags)
{
    char uri[PX_URI_MAX];

    return px_at_name(dirfd, path, uri) ? cnio__px_access(uri, mode)
                                        : PX_CALL(faccessat, dirfd, path, mode, flags);
}

PX_API int truncate(const char *path, off_t len)
{
    char uri[PX_URI_MAX];

    return cnio__px_name(path, uri, sizeof(uri)) ? cnio__px_truncate(uri, len)
                                                 : PX_CALL(truncate, path, len);
}

PX_API int truncate64(const char *path, off64_t len)
{
    char uri[PX_URI_MAX];

    return cnio__px_name(path, uri, sizeof(uri)) ? cnio__px_truncate(uri, len)
                                                 : PX_CALL(truncate64, path, len);
}

PX_API int unlink(const char *path)
{
    char uri[PX_URI_MAX];

    return cnio__px_name(path, uri, sizeof(uri)) ? cnio__px_unlink(uri) : PX_CALL(unlink, path);
}

PX_API int unlinkat(int dirfd, const char *path, int flags)
{
    char uri[PX_URI_MAX];

    if (!px_at_name(dirfd, path, uri))
        return PX_CALL(unlinkat, dirfd, path, flags);
    if (flags & AT_REMOVEDIR) {
        errno = EOPNOTSUPP;
        return -1;
    }
    return cnio__px_unlink(uri);
}

PX_API int remove(const char *path)
{
    char uri[PX_URI_MAX];

    return cnio__px_name(path, uri, sizeof(uri)) ? cnio__px_unlink(uri) : PX_CALL(remove, path);
}

/* ---- fds -------------------------------------------------------------------------------- */

PX_API ssize_t read(int fd, void *buf, size_t len)
{
    if (cnio__px_fd(fd))
        return cnio__px_read(fd, buf, len);
    return PX_CALL(pub.read, fd, buf, len);
}

PX_API ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
    return cnio__px_fd(fd) ? cnio__px_pread(fd, buf, len, off) : PX_CALL(pread, fd, buf, len, off);
}

PX_API ssize_t pread64(int fd, void *buf, size_t len, off64_t off)
{
    return cnio__px_fd(fd) ? cnio__px_pread(fd, buf, len, off)
                           : PX_CALL(pread64, fd, buf, len, off);
}

PX_API ssize_t readv(int fd, const struct iovec *iov, int n)
{
    return cnio__px_fd(fd) ? cnio__px_readv(fd, iov, n) : PX_CALL(readv, fd, iov, n);
}

PX_API ssize_t preadv(int fd, const struct iovec *iov, int n, off_t off)
{
    return cnio__px_fd(fd) ? cnio__px_preadv(fd, iov, n, off) : PX_CALL(preadv, fd, iov, n, off);
}

PX_API ssize_t preadv64(int fd, const struct iovec *iov, int n, off64_t off)
{
    return cnio__px_fd(fd) ? cnio__px_preadv(fd, iov, n, off)
                           : PX_CALL(preadv64, fd, iov, n, off);
}

PX_API int close(int fd)
{
    return cnio__px_close(fd);
}

PX_API int dup(int fd)
{
    int nfd = PX_CALL(pub.dup, fd);

    if (nfd >= 0)
        cnio__px_dup(fd, nfd);
    return nfd;
}

PX_API int dup2(int fd, int fd2)
{
    int r = PX_CALL(pub.dup2, fd, fd2);

    if (r >= 0)
        cnio__px_dup(fd, r);
    return r;
}

PX_API int dup3(int fd, int fd2, int flags)
{
    int r = PX_CALL(pub.dup3, fd, fd2, flags);

    if (r >= 0)
        cnio__px_dup(fd, r);
    return r;
}

/* F_DUPFD and F_DUPFD_CLOEXEC duplicate too (Python's os.dup is one). The argument is
 * taken as glibc's own fcntl takes it: one pointer-sized value, whatever cmd is. */
#define PX_FCNTL(name, field)                                                        \
    PX_API int name(int fd, int cmd, ...)                                            \
    {                                                                                \
        va_list ap;                                                                  \
        void *arg;                                                                   \
        int r;                                                                       \
                                                                                     \
        va_start(ap, cmd);                                                           \
        arg = va_arg(ap, void *);                                                    \
        va_end(ap);                                                                  \
        r = PX_CALL(field, fd, cmd, arg);                                            \
        if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))                    \
            cnio__px_dup(fd, r);                                                     \
        return r;                                                                    \
    }
PX_FCNTL(fcntl, fcntl)
PX_FCNTL(fcntl64, fcntl64)
