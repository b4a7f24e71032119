/*
 * mpiio_posix.c - cnio names and the fds opened on them, for the POSIX calls that
 * MPI-IO clients make beside MPI-IO (see mpiio_posix.h for the rules).
 *
 * Every path call opens its own stack, does one control operation (stat, unlink) or
 * one open/set-size/close, and closes the stack: each bounded by the hints' timeout.
 * An fd opened here keeps its own stack and open object until its last close.
 *
 * The fd table is an array indexed by fd, read without a lock: a call on an fd that
 * was not opened here costs one atomic load. Entries are added and removed under
 * px_lock. An entry also records the memfd's inode, and every served call checks it,
 * so that an fd closed behind our back (fclose of an fdopen'ed stream, close_range)
 * and then reused for something else is never served from a stale entry.
 */
#include "common.h"
#include "client.h"
#include "config.h"
#include "env.h"
#include "log.h"
#include "stack.h"
#include "mpiio_posix.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define PX_MAX_FD 65536

struct px_file {
    pthread_mutex_t mu;         /* serialises the object's calls */
    int refs;                   /* fds naming it (under px_lock) */
    dev_t dev;                  /* the memfd's inode */
    ino_t ino;
    ino_t name_ino;             /* the name's, as stat() reports it */
    blksize_t blksize;
    struct cnio_stack *st;
    struct cnio_obj *obj;
};

static _Atomic(struct px_file *) px_fds[PX_MAX_FD];
static atomic_int px_nfds;
static pthread_mutex_t px_lock = PTHREAD_MUTEX_INITIALIZER;

static int px_fail(int rc)
{
    errno = cnio__errno_from_err(rc);
    return -1;
}

/* ---- what a failure says ---------------------------------------------------------- */

/*
 * The first error line of the last call here that failed, until a call succeeds. A tool
 * that tries a name through each of its drivers (h5ls, h5dump: up to 11 opens and stats)
 * meets one failure many times in a row: its lines are written once.
 *
 * px_said_any is 1 while px_said holds a line (both changed under px_said_lock), so that
 * a call that failed with no line or succeeded, with nothing remembered, takes no lock:
 * it would only forget what is not there. Its load is relaxed, for it guards no data
 * read after it: a call ordered after a failure (by the caller's own synchronisation)
 * sees the 1 by coherence, and one racing with it is ordered before it.
 */
static char px_said[1024];
static atomic_int px_said_any;
static pthread_mutex_t px_said_lock = PTHREAD_MUTEX_INITIALIZER;

/* Holds back this thread's log lines for px_say; returns the mark to give it. */
static unsigned px_hold(void)
{
    cnio__log_hold();
    return cnio__log_errors();
}

/* Ends px_hold for a call that returned rc: writes the lines held, but those of a
 * failure whose first error line is the last failure's (dropped); a success forgets
 * the last failure. Returns rc. */
static int px_say(unsigned mark, int rc)
{
    const char *first = rc < 0 ? cnio__log_first_since(mark) : NULL;
    int again = 0;

    if (first || atomic_load_explicit(&px_said_any, memory_order_relaxed)) {
        pthread_mutex_lock(&px_said_lock);
        again = first && !strcmp(first, px_said);
        snprintf(px_said, sizeof(px_said), "%s", first ? first : "");
        atomic_store_explicit(&px_said_any, first != NULL, memory_order_relaxed);
        pthread_mutex_unlock(&px_said_lock);
    }
    cnio__log_release(!again);
    return rc;
}

/* ---- names ------------------------------------------------------------------------- */

/* 1 when nothing named path exists locally (asked of the kernel directly). */
static int px_absent(const char *path)
{
    int saved = errno;
    long r = syscall(SYS_faccessat, AT_FDCWD, path, F_OK);
    int absent = r < 0 && errno == ENOENT;

    errno = saved;
    return absent;
}

/* A host list: holds a ',' or a ':' followed by a digit. */
static int px_hostlist(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] == ',' || (s[i] == ':' && i + 1 < len && s[i + 1] >= '0' && s[i + 1] <= '9'))
            return 1;
    return 0;
}

int cnio__px_name(const char *path, char *uri, size_t cap)
{
    char first[CNIO_HOSTNAME_MAX + 8];
    const char *slash;
    size_t len;

    if (!path)
        return 0;
    if (!strncasecmp(path, "cnio://", 7)) {   /* (the scheme is case-insensitive) */
        char dir[6];

        memcpy(dir, path, 5);   /* "cnio:", as written: the directory it would be */
        dir[5] = '\0';
        if (!px_absent(dir) || strlen(path) >= cap)
            return 0;
        strcpy(uri, path);
        return 1;
    }
    if (path[0] != '/' || path[1] != '/' || path[2] == '/' || !path[2])
        return 0;
    slash = strchr(path + 2, '/');
    len = slash ? (size_t)(slash - (path + 2)) : strlen(path + 2);
    if (!len || len + 2 >= sizeof(first) || !px_hostlist(path + 2, len))
        return 0;
    memcpy(first, path + 1, len + 1);
    first[len + 1] = '\0';
    if (!px_absent(first) || strlen(path) + 5 >= cap)
        return 0;
    snprintf(uri, cap, "cnio:%s", path);
    return 1;
}

/* Parses uri, resolves its hints and opens a stack. */
static int px_begin(const char *uri, struct cnio_uri *u, struct cnio_hints *h,
                    struct cnio_stack **st)
{
    int rc = cnio__uri_parse(uri, u);

    if (rc)
        return rc;
    /* rank 0 says what is amiss (known from the environment: this file stays clear of
     * MPI, whose calls may not be made yet) */
    rc = cnio__hints_resolve_say(h, u, cnio__env_rank0());
    if (!rc)
        rc = cnio__stack_open(st);
    if (rc)
        cnio__uri_free(u);
    return rc;
}

static void px_end(struct cnio_uri *u, struct cnio_stack *st)
{
    cnio__stack_close(st);
    cnio__uri_free(u);
}

/* ---- path calls ---------------------------------------------------------------------- */

/* The st_dev of every cnio name (a major number no block device has). */
#define PX_DEV makedev(0, 0xc1)

static ino_t px_ino(const char *uri)
{
    uint64_t x = cnio__fnv1a64(CNIO_FNV64_BASIS, uri, strcspn(uri, "?"));

    return (ino_t)(x ? x : 1);
}

/*
 * cnio__obj_stat of u into *s. Where the URI's first host holds nothing of the name but
 * another holds a column of an object of it, written through another order of these
 * hosts, rank 0 says whose it is and what to do, as MPI_File_open of it and `cnio stat`
 * say (cnio__ns_stat, as `cnio stat` asks: one session, a STAT of every host in one
 * round), and the answer stays -CNIO_ERR_NOENT (stat() said ENOENT without a word).
 */
static int px_obj_stat(struct cnio_stack *st, const struct cnio_uri *u,
                       const struct cnio_hints *h, struct cnio_obj_stat *s)
{
    struct cnio_ns_kinds k;
    struct cnio_ns *ns;
    int rc, other;

    if (u->nhosts < 2 || !u->path || !u->path[0] || !cnio__env_rank0())
        return cnio__obj_stat(st, u, h, s);
    rc = cnio__ns_open(st, u, h, &ns);
    if (rc)
        return rc;
    rc = cnio__ns_stat(ns, u->path, s, &k, &other);
    cnio__ns_close(ns);
    return rc;
}

int cnio__px_stat(const char *uri, struct stat *sb)
{
    struct cnio_obj_stat s;
    struct cnio_stack *st;
    struct cnio_hints h;
    struct cnio_uri u;
    unsigned mark = px_hold();
    int saved = errno, rc;

    rc = px_begin(uri, &u, &h, &st);
    if (rc)
        return px_fail(px_say(mark, rc));
    rc = px_say(mark, px_obj_stat(st, &u, &h, &s));
    px_end(&u, st);
    if (rc)
        return px_fail(rc);
    memset(sb, 0, sizeof(*sb));
    sb->st_dev = PX_DEV;
    sb->st_ino = px_ino(uri);
    sb->st_mode = s.is_dir ? S_IFDIR | 0755 : S_IFREG | 0644;
    sb->st_nlink = 1;
    sb->st_uid = geteuid();
    sb->st_gid = getegid();
    sb->st_size = (off_t)s.size;
    sb->st_blksize = s.is_dir || !s.layout.unit ? 4096 : (blksize_t)s.layout.unit;
    sb->st_blocks = (blkcnt_t)((s.size + 511) / 512);
    sb->st_mtim = cnio__ts_of_ns(s.mtime_ns);
    sb->st_atim = sb->st_mtim;
    sb->st_ctim = sb->st_mtim;
    errno = saved;
    return 0;
}

int cnio__px_access(const char *uri, int mode)
{
    struct stat sb;

    if (mode & ~(R_OK | W_OK | X_OK)) {
        errno = EINVAL;
        return -1;
    }
    if (cnio__px_stat(uri, &sb))
        return -1;
    if ((mode & X_OK) && !S_ISDIR(sb.st_mode)) {
        errno = EACCES;
        return -1;
    }
    return 0;
}

/*
 * 1 when u names an interrupted upload and nothing else: no version was ever committed,
 * and every host says no live writer holds it (one that does is creating it now).
 */
static int px_interrupted(struct cnio_stack *st, const struct cnio_uri *u,
                          const struct cnio_hints *h)
{
    struct cnio_obj_stat s;

    if (cnio__obj_stat(st, u, h, &s))
        return 0;
    return (s.state & CNIO_OBJ_INCOMPLETE) == CNIO_OBJ_STAGED &&
           (s.state & (CNIO_OBJ_LIVE | CNIO_OBJ_LIVE_KNOWN)) == CNIO_OBJ_LIVE_KNOWN;
}

/*
 * Truncation to 0 needs none of the bytes an object held. So that of an interrupted
 * upload, whose bytes nobody may read, does not fail as its opening for writing does: a
 * fresh staged instance, committed at the close, makes the name a complete, empty
 * object, as a new MPI_File_open with MPI_MODE_CREATE writes it afresh. PnetCDF's
 * ncmpi_create (NC_CLOBBER) truncates the name on rank 0 before that open: a job run
 * again on the name of one that was killed must not fail there.
 */
int cnio__px_truncate(const char *uri, off_t len)
{
    const uint32_t fresh = CNIO_WIRE_O_WRITE | CNIO_WIRE_O_CREATE | CNIO_WIRE_O_STAGE |
                           CNIO_WIRE_O_TRUNC;
    struct cnio_stack *st;
    struct cnio_obj *obj;
    struct cnio_hints h;
    struct cnio_uri u;
    int saved = errno, rc;
    unsigned mark;

    if (len < 0) {
        errno = EINVAL;
        return -1;
    }
    mark = px_hold();
    rc = px_begin(uri, &u, &h, &st);
    if (rc)
        return px_fail(px_say(mark, rc));
    rc = cnio__obj_open(st, &u, &h, CNIO_WIRE_O_WRITE, &obj);
    if (rc == -CNIO_ERR_INCOMPLETE && len == 0 && px_interrupted(st, &u, &h)) {
        cnio__log_release(0);   /* (what the refused open said is not the outcome) */
        mark = px_hold();
        rc = cnio__obj_open(st, &u, &h, fresh, &obj);
    }
    if (!rc) {
        rc = cnio__obj_set_size(obj, (uint64_t)len);
        int rc2 = cnio__obj_close(obj);

        rc = rc ? rc : rc2;
    }
    px_say(mark, rc);
    px_end(&u, st);
    if (rc)
        return px_fail(rc);
    errno = saved;
    return 0;
}

int cnio__px_unlink(const char *uri)
{
    struct cnio_stack *st;
    struct cnio_hints h;
    struct cnio_uri u;
    unsigned mark = px_hold();
    int saved = errno, rc;

    rc = px_begin(uri, &u, &h, &st);
    if (rc)
        return px_fail(px_say(mark, rc));
    rc = px_say(mark, cnio__obj_unlink(st, &u, &h));
    px_end(&u, st);
    if (rc)
        return px_fail(rc);
    errno = saved;
    return 0;
}

/* ---- fds ------------------------------------------------------------------------------- */

/*
 * A write-only fd on a sealed memfd of `size` bytes (no memory: the memfd stays a
 * hole). Write-only so that a read the interposition does not see fails with EBADF;
 * when /proc is not mounted, the memfd itself (such a read then sees zeros).
 */
static int px_memfd(uint64_t size, int cloexec)
{
    const struct cnio_px_real *r = cnio__px_real();
    char proc[64];
    int mfd, fd;

    mfd = memfd_create("cnio", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (mfd < 0)
        return -1;
    if (ftruncate(mfd, (off_t)size) < 0) {
        r->close(mfd);
        return -1;
    }
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", mfd);
    fd = r->openat(AT_FDCWD, proc, O_WRONLY | (cloexec ? O_CLOEXEC : 0));
    fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    if (fd >= 0) {
        r->close(mfd);
        return fd;
    }
    if (!cloexec)
        fcntl(mfd, F_SETFD, 0);
    return mfd;
}

static void px_file_free(struct px_file *f)
{
    cnio__obj_close(f->obj);
    cnio__stack_close(f->st);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* Drops one reference (under px_lock): f when it was the last, for px_free. */
static struct px_file *px_unref_locked(struct px_file *f)
{
    return f && --f->refs == 0 ? f : NULL;
}

static void px_free(struct px_file *f)
{
    if (f)
        px_file_free(f);
}

/* Puts f at fd (taking a reference for it); returns what must be freed. */
static struct px_file *px_set_locked(int fd, struct px_file *f)
{
    struct px_file *old;

    if (f)
        f->refs++;
    old = atomic_exchange(&px_fds[fd], f);
    atomic_fetch_add(&px_nfds, (f ? 1 : 0) - (old ? 1 : 0));
    return px_unref_locked(old);
}

static void px_set(int fd, struct px_file *f)
{
    struct px_file *dead;

    pthread_mutex_lock(&px_lock);
    dead = px_set_locked(fd, f);
    pthread_mutex_unlock(&px_lock);
    px_free(dead);
}

/* Releases a reference taken by px_get. */
static void px_rel(struct px_file *f)
{
    struct px_file *dead;

    pthread_mutex_lock(&px_lock);
    dead = px_unref_locked(f);
    pthread_mutex_unlock(&px_lock);
    px_free(dead);
}

static int px_open_obj(const char *uri, struct px_file *f, uint64_t *size)
{
    struct cnio_hints h;
    struct cnio_uri u;
    unsigned mark = px_hold();
    int rc = px_begin(uri, &u, &h, &f->st);

    if (rc)
        return px_say(mark, rc);
    rc = cnio__obj_open(f->st, &u, &h, 0, &f->obj);
    if (!rc) {
        rc = cnio__obj_size(f->obj, size);
        if (rc)
            cnio__obj_close(f->obj);
    }
    px_say(mark, rc);
    cnio__uri_free(&u);
    if (rc)
        cnio__stack_close(f->st);
    return rc;
}

int cnio__px_open(const char *uri, int flags)
{
    struct px_file *f;
    struct stat sb;
    uint64_t size;
    int saved = errno, rc, fd;

    if ((flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC | O_APPEND)) ||
        (flags & O_TMPFILE) == O_TMPFILE) {
        errno = EOPNOTSUPP;
        return -1;
    }
    if (flags & O_DIRECTORY) {
        errno = ENOTDIR;
        return -1;
    }
    f = calloc(1, sizeof(*f));
    if (!f)
        return px_fail(-CNIO_ERR_NOMEM);
    pthread_mutex_init(&f->mu, NULL);
    rc = px_open_obj(uri, f, &size);
    if (rc) {
        pthread_mutex_destroy(&f->mu);
        free(f);
        return px_fail(rc);
    }
    fd = px_memfd(size, flags & O_CLOEXEC);
    if (fd >= 0 && (fd >= PX_MAX_FD || cnio__px_real()->fstat(fd, &sb) < 0)) {
        cnio__px_real()->close(fd);
        fd = -1;
        errno = EMFILE;
    }
    if (fd < 0) {
        saved = errno;
        px_file_free(f);
        errno = saved;
        return -1;
    }
    f->dev = sb.st_dev;
    f->ino = sb.st_ino;
    f->name_ino = px_ino(uri);
    f->blksize = (blksize_t)cnio__obj_layout(f->obj)->unit;
    px_set(fd, f);
    errno = saved;
    return fd;
}

/*
 * The entry of fd, with a reference (px_rel), when fd is still the memfd it was
 * opened as; a stale entry (fd closed behind our back and reused) is dropped.
 */
static struct px_file *px_get(int fd)
{
    struct px_file *f;
    struct stat sb;
    int saved = errno, same;

    if (fd < 0 || fd >= PX_MAX_FD || !atomic_load(&px_fds[fd]))
        return NULL;
    pthread_mutex_lock(&px_lock);
    f = atomic_load(&px_fds[fd]);
    if (f)
        f->refs++;
    pthread_mutex_unlock(&px_lock);
    if (!f)
        return NULL;
    same = cnio__px_real()->fstat(fd, &sb) == 0 && sb.st_dev == f->dev && sb.st_ino == f->ino;
    errno = saved;
    if (same)
        return f;
    pthread_mutex_lock(&px_lock);
    if (atomic_load(&px_fds[fd]) == f)
        px_set_locked(fd, NULL);   /* never the last reference: we hold one */
    pthread_mutex_unlock(&px_lock);
    px_rel(f);
    return NULL;
}

int cnio__px_fd(int fd)
{
    if (!atomic_load_explicit(&px_nfds, memory_order_relaxed))
        return 0;
    struct px_file *f = px_get(fd);

    if (!f)
        return 0;
    px_rel(f);
    return 1;
}

int cnio__px_fstat_fix(int fd, struct stat *sb)
{
    struct px_file *f;

    if (!atomic_load_explicit(&px_nfds, memory_order_relaxed) || !(f = px_get(fd)))
        return 0;
    sb->st_dev = PX_DEV;
    sb->st_ino = f->name_ino;
    sb->st_mode = S_IFREG | 0644;
    sb->st_nlink = 1;
    sb->st_blksize = f->blksize;
    sb->st_blocks = (blkcnt_t)((sb->st_size + 511) / 512);
    px_rel(f);
    return 1;
}

int cnio__px_lseek(int fd, off_t off, int whence, off_t *out)
{
    const struct cnio_px_real *r = cnio__px_real();
    struct px_file *f;
    struct stat sb;

    if ((whence != SEEK_DATA && whence != SEEK_HOLE) ||
        !atomic_load_explicit(&px_nfds, memory_order_relaxed) || !(f = px_get(fd)))
        return 0;
    px_rel(f);
    *out = -1;
    if (r->fstat(fd, &sb) < 0)
        return 1;
    if (off < 0 || off >= sb.st_size) {
        errno = ENXIO;
        return 1;
    }
    *out = r->lseek(fd, whence == SEEK_DATA ? off : sb.st_size, SEEK_SET);
    return 1;
}

/* Reads from the object under f->mu: bytes read (0 at the end) or -1 and errno. */
static ssize_t px_pread_locked(struct px_file *f, void *buf, size_t len, off_t off)
{
    unsigned mark;
    ssize_t n;

    if (off < 0) {
        errno = EINVAL;
        return -1;
    }
    if (len > SSIZE_MAX)
        len = SSIZE_MAX;
    if (!len)
        return 0;
    mark = px_hold();
    n = cnio__obj_pread(f->obj, buf, len, (uint64_t)off);
    px_say(mark, n < 0 ? (int)n : 0);
    return n < 0 ? px_fail((int)n) : n;
}

ssize_t cnio__px_pread(int fd, void *buf, size_t len, off_t off)
{
    struct px_file *f = px_get(fd);
    ssize_t n;

    if (!f) {
        errno = EBADF;
        return -1;
    }
    pthread_mutex_lock(&f->mu);
    n = px_pread_locked(f, buf, len, off);
    pthread_mutex_unlock(&f->mu);
    px_rel(f);
    return n;
}

ssize_t cnio__px_preadv(int fd, const struct iovec *iov, int n, off_t off)
{
    struct px_file *f = px_get(fd);
    ssize_t total = 0, got = 0;

    if (!f) {
        errno = EBADF;
        return -1;
    }
    if (n < 0 || n > IOV_MAX) {
        px_rel(f);
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&f->mu);
    for (int i = 0; i < n; i++) {
        got = px_pread_locked(f, iov[i].iov_base, iov[i].iov_len, off + total);
        if (got <= 0)
            break;
        total += got;
        if ((size_t)got < iov[i].iov_len)
            break;
    }
    pthread_mutex_unlock(&f->mu);
    px_rel(f);
    return got < 0 && !total ? -1 : total;
}

/* Reads at fd's kernel file position and advances it. */
static ssize_t px_at_pos(int fd, const struct iovec *iov, int n)
{
    const struct cnio_px_real *r = cnio__px_real();
    off_t pos = r->lseek(fd, 0, SEEK_CUR);
    ssize_t got;

    if (pos < 0)
        return -1;
    got = cnio__px_preadv(fd, iov, n, pos);
    if (got > 0 && r->lseek(fd, pos + got, SEEK_SET) < 0)
        return -1;
    return got;
}

ssize_t cnio__px_read(int fd, void *buf, size_t len)
{
    struct iovec iov = { .iov_base = buf, .iov_len = len };

    return px_at_pos(fd, &iov, 1);
}

ssize_t cnio__px_readv(int fd, const struct iovec *iov, int n)
{
    return px_at_pos(fd, iov, n);
}

int cnio__px_close(int fd)
{
    if (fd >= 0 && fd < PX_MAX_FD && atomic_load(&px_fds[fd]))
        px_set(fd, NULL);
    return cnio__px_real()->close(fd);
}

void cnio__px_dup(int oldfd, int newfd)
{
    struct px_file *f = NULL, *dead;

    if (newfd < 0 || newfd >= PX_MAX_FD || oldfd == newfd || !atomic_load(&px_nfds))
        return;
    if (oldfd >= 0 && oldfd < PX_MAX_FD)
        f = px_get(oldfd);
    pthread_mutex_lock(&px_lock);
    dead = px_set_locked(newfd, f);
    pthread_mutex_unlock(&px_lock);
    px_free(dead);
    if (f)
        px_rel(f);
}
