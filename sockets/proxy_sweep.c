/*
 * proxy_sweep.c - what dead proxies of other jobs left in the run directory, removed by
 * a proxy as it starts.
 *
 * A proxy killed with SIGKILL (a batch scheduler's at a job's walltime) leaves KEY.lock,
 * KEY.sock and KEY.log behind (and KEY.sock.down, the shims' mark that it was lost); a
 * later proxy of the same key replaces the socket, but nothing else removed other keys'.
 * A proxy started by `cnio run` (one given --lock KEY.lock in the run directory) looks
 * at the other keys there once, after it says it listens, and for each one judges it
 * with the job's own rule: holding KEY.lock (taken without waiting, as the exiting proxy
 * takes it), no `cnio run` of that key is between finding its proxy and starting one,
 * and then the proxy is alive exactly when a process accepts on KEY.sock (the kernel
 * closes a dead process's listener: connect is refused; a stopped or busy proxy still
 * accepts, into its backlog, or says EAGAIN). A lock someone holds, a socket accepted on,
 * anything of an unexpected type (a symlink, a directory) or owner: the key is left as
 * it is. A dead key's socket and mark are removed; its log too when it is empty (a
 * killed proxy writes nothing unless something went wrong) or older than
 * SWEEP_LOG_KEEP_S, else the log is kept with its lock file as the mark that it is a
 * dead proxy's, and a later sweep removes both once it is that old. Another proxy
 * sweeping at the same time finds the lock taken, or the files gone (ENOENT is not an
 * error here). The work is bounded: SWEEP_MAX_ENTRIES directory entries read and
 * SWEEP_MAX_JOBS keys judged per sweep; every call is non-blocking (no lock is waited
 * for, a unix connect never waits).
 *
 * The shims' marks made in the run directory for a socket path where none could be made
 * beside it (lost-HASH.down, sockets/shim_down.c) are swept by the shims' own rule: a
 * mark holds while the top process it names ("PID START", START its start time in
 * /proc/PID/stat) runs; one whose process is gone (killed: it could not remove it), or
 * that is not a mark, is removed; SWEEP_MAX_JOBS of them at most per sweep. (A shim that
 * replaces a stale mark at the same instant may see its new one go: its job's next
 * process that loses the proxy then says so once more.)
 */
#include "proxy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define SWEEP_MAX_ENTRIES 1024
#define SWEEP_MAX_JOBS 64
#define SWEEP_LOG_KEEP_S (7 * 24 * 3600)
#define SWEEP_KEY_MAX 108   /* KEY.sock must fit a unix socket's path */

struct sweep {
    int dfd;                  /* the run directory */
    const char *dir;          /* its path, for the connect */
    const char *self;         /* this proxy's key: never judged */
    time_t now;
    int judged, removed, kept, marks;
    char seen[SWEEP_MAX_JOBS][SWEEP_KEY_MAX];
};

/* The key of a name of cnio's own (KEY.lock, KEY.sock, KEY.sock.down) in key, or 0. */
static int sweep_key(const char *name, char *key)
{
    static const char *const sfx[] = { ".sock.down", ".lock", ".sock" };
    size_t n = strlen(name);

    for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
        size_t k = strlen(sfx[i]);

        if (n <= k || n - k >= SWEEP_KEY_MAX || strcmp(name + n - k, sfx[i]))
            continue;
        if (name[0] == '.')
            return 0;
        for (size_t j = 0; j < n - k; j++)
            if (!((name[j] >= 'a' && name[j] <= 'z') || (name[j] >= 'A' && name[j] <= 'Z')
                  || (name[j] >= '0' && name[j] <= '9') || name[j] == '.' || name[j] == '-'
                  || name[j] == '_'))
                return 0;
        memcpy(key, name, n - k);
        key[n - k] = '\0';
        return 1;
    }
    return 0;
}

/* lstat of KEY followed by sfx in the run directory: 1 there (in st), 0 absent, -1
 * neither (an error). */
static int sweep_stat(struct sweep *s, const char *key, const char *sfx, struct stat *st)
{
    char name[SWEEP_KEY_MAX + 16];

    snprintf(name, sizeof(name), "%s%s", key, sfx);
    if (fstatat(s->dfd, name, st, AT_SYMLINK_NOFOLLOW) == 0)
        return 1;
    return errno == ENOENT ? 0 : -1;
}

static void sweep_unlink(struct sweep *s, const char *key, const char *sfx)
{
    char name[SWEEP_KEY_MAX + 16];

    snprintf(name, sizeof(name), "%s%s", key, sfx);
    if (unlinkat(s->dfd, name, 0) < 0 && errno != ENOENT)
        fprintf(stderr, "cnio-proxy: sweeping %s/%s: %s\n", s->dir, name, strerror(errno));
}

/* Whether the log (st) is one to keep: not empty and younger than SWEEP_LOG_KEEP_S. */
static int sweep_log_kept(const struct sweep *s, const struct stat *st)
{
    return st->st_size > 0 && s->now - st->st_mtime < SWEEP_LOG_KEEP_S;
}

/* What the precheck found of a key's names. */
enum { SWEEP_LOCK = 1, SWEEP_SOCK = 2, SWEEP_DOWN = 4, SWEEP_LOG = 8, SWEEP_LOG_KEPT = 16 };

/* Which of the key's names are there (SWEEP_* bits), when each is absent or of its type
 * and ours; else -1: a key to leave alone. */
static int sweep_precheck(struct sweep *s, const char *key)
{
    static const struct { const char *sfx; mode_t type; int bit; } f[] = {
        { ".lock", S_IFREG, SWEEP_LOCK }, { ".sock", S_IFSOCK, SWEEP_SOCK },
        { ".sock.down", S_IFREG, SWEEP_DOWN }, { ".log", S_IFREG, SWEEP_LOG },
    };
    int m = 0;

    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        struct stat st;
        int r = sweep_stat(s, key, f[i].sfx, &st);

        if (r < 0 || (r && ((st.st_mode & S_IFMT) != f[i].type || st.st_uid != geteuid())))
            return -1;
        if (r)
            m |= f[i].bit | (f[i].bit == SWEEP_LOG && sweep_log_kept(s, &st) ? SWEEP_LOG_KEPT : 0);
    }
    return m;
}

/* Whether a dead proxy's files found (m) leave a sweep anything to do: a socket, a mark,
 * or a lock without a log to keep beside it (a log alone is never removed: it may be one
 * a user asked to keep, CNIO_SOCKETS_PROXY_LOG). */
static int sweep_work(int m)
{
    return (m & (SWEEP_SOCK | SWEEP_DOWN)) || ((m & SWEEP_LOCK) && !(m & SWEEP_LOG_KEPT));
}

/* Opens and locks KEY.lock without waiting (created, *created, when there is none): the
 * fd, or -1 (held by someone, removed or replaced meanwhile, or not a file of ours). */
static int sweep_lock(struct sweep *s, const char *key, int *created)
{
    char name[SWEEP_KEY_MAX + 16];
    struct stat a, b;
    int fd;

    snprintf(name, sizeof(name), "%s.lock", key);
    *created = 0;
    fd = openat(s->dfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT) {
        fd = openat(s->dfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_CREAT | O_EXCL, 0600);
        *created = fd >= 0;
    }
    if (fd < 0)
        return -1;
    /* Not ours to remove once locking failed, even when made here: a starter may have
     * opened and locked it since. The file at the path must still be the one locked (an
     * exiting proxy, or another sweep, removes it after locking it). */
    if (fstat(fd, &a) < 0 || !S_ISREG(a.st_mode) || a.st_uid != geteuid()
        || flock(fd, LOCK_EX | LOCK_NB) < 0
        || fstatat(s->dfd, name, &b, AT_SYMLINK_NOFOLLOW) < 0 || a.st_ino != b.st_ino
        || a.st_dev != b.st_dev) {
        close(fd);
        return -1;
    }
    return fd;
}

/* With KEY.lock held: 1 when no process accepts on KEY.sock (none there, or refused), 0
 * when one does or that cannot be told. */
static int sweep_dead(struct sweep *s, const char *key)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    struct stat st;
    int fd, r, e, n;

    r = sweep_stat(s, key, ".sock", &st);
    if (r <= 0)
        return r == 0;
    if (!S_ISSOCK(st.st_mode))
        return 0;
    n = snprintf(a.sun_path, sizeof(a.sun_path), "%s/%s.sock", s->dir, key);
    if (n < 0 || (size_t)n >= sizeof(a.sun_path))
        return 0;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return 0;
    r = connect(fd, (struct sockaddr *)&a, sizeof(a));
    e = errno;
    close(fd);
    return r < 0 && e == ECONNREFUSED;
}

/* Judges one key (not this proxy's, not judged yet in this sweep) and removes what a
 * dead proxy left. */
static void sweep_job(struct sweep *s, const char *key)
{
    int m, fd, created;

    m = sweep_precheck(s, key);
    if (!strcmp(key, s->self) || m < 0 || !sweep_work(m))
        return;
    for (int i = 0; i < s->judged; i++)
        if (!strcmp(s->seen[i], key))
            return;
    snprintf(s->seen[s->judged++], SWEEP_KEY_MAX, "%s", key);
    fd = sweep_lock(s, key, &created);
    if (fd < 0)
        return;
    /* Once more with the lock held (another sweep may have removed the files since); a
     * lock made here for the judgement is not the job's. */
    m = sweep_precheck(s, key);
    if (m >= 0 && created)
        m &= ~SWEEP_LOCK;
    if (m < 0 || !sweep_work(m) || !sweep_dead(s, key)) {
        if (created)   /* leave no trace beside a live proxy: its lock is its starter's */
            sweep_unlink(s, key, ".lock");
        close(fd);
        return;
    }
    sweep_unlink(s, key, ".sock");
    sweep_unlink(s, key, ".sock.down");
    /* A kept log keeps the lock file beside it as the mark of a dead proxy's log, which a
     * later sweep removes with it once it is old. */
    if ((m & SWEEP_LOCK) && (m & SWEEP_LOG) && !(m & SWEEP_LOG_KEPT))
        sweep_unlink(s, key, ".log");
    if (created || !(m & SWEEP_LOG_KEPT))
        sweep_unlink(s, key, ".lock");
    if ((m & SWEEP_LOCK) && (m & SWEEP_LOG_KEPT)) {
        fprintf(stderr, "cnio-proxy: dead proxy of job %s: its files removed from %s but "
                "its log, %s.log, kept for %d days after its last line\n", key, s->dir, key,
                SWEEP_LOG_KEEP_S / 86400);
        s->kept++;
    } else {
        fprintf(stderr, "cnio-proxy: dead proxy of job %s: its files removed from %s%s\n",
                key, s->dir, m & SWEEP_LOCK || !(m & SWEEP_LOG) ? ""
                : " but its log, without a lock file beside it: left as it is");
        s->removed++;
    }
    close(fd);
}

/* Whether name is a shims' mark of the run directory, lost- and 16 hex digits, .down. */
static int sweep_is_mark(const char *name)
{
    if (strlen(name) != 26 || strncmp(name, "lost-", 5) || strcmp(name + 21, ".down"))
        return 0;
    for (int i = 5; i < 21; i++)
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
            return 0;
    return 1;
}

/* The start time of process pid (field 22 of /proc/PID/stat, after the last ')'), or 0
 * when there is no such process. */
static unsigned long long sweep_proc_start(long pid)
{
    char path[40], buf[1024], *p;
    unsigned long long v = 0;
    ssize_t k;
    int fd;

    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    k = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (k <= 0)
        return 0;
    buf[k] = '\0';
    p = strrchr(buf, ')');
    /* after ") ": field 3 onwards; field 22 is the 20th */
    for (int f = 3; p && f <= 22; f++)
        p = strchr(p + 1, ' ');
    if (!p || sscanf(p, " %llu", &v) != 1)
        return 0;
    return v;
}

/* A shims' mark (name): removed when the job it names has ended, or it is not a mark. */
static void sweep_mark(struct sweep *s, const char *name)
{
    char buf[256], key[CNIO__SK_MARK_KEY_MAX];
    unsigned long long start;
    struct stat st;
    long pid;
    ssize_t k;
    int fd;

    s->marks++;
    fd = openat(s->dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
        close(fd);
        return;
    }
    k = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[k > 0 ? k : 0] = '\0';
    if (k > 0 && cnio__sk_mark_parse(buf, &pid, &start, key, sizeof(key)) == 0 && start &&
        sweep_proc_start(pid) == start)
        return;   /* its job's top process runs: the mark holds */
    if (unlinkat(s->dfd, name, 0) == 0) {
        fprintf(stderr, "cnio-proxy: a shims' mark of an ended job removed: %s/%s\n", s->dir,
                name);
        s->removed++;
    }
}

int px_sweep(const char *lock_path)
{
    static char dir[PATH_MAX], self[SWEEP_KEY_MAX];
    const char *slash = strrchr(lock_path, '/'), *base;
    struct sweep s = { .dir = dir, .self = self, .now = time(NULL) };
    struct stat st;
    struct dirent *e;
    size_t n;
    DIR *d;

    if (!slash || slash == lock_path || (size_t)(slash - lock_path) >= sizeof(dir))
        return 0;
    base = slash + 1;
    n = strlen(base);
    if (n <= 5 || n - 5 >= sizeof(self) || strcmp(base + n - 5, ".lock"))
        return 0;
    memcpy(dir, lock_path, (size_t)(slash - lock_path));
    dir[slash - lock_path] = '\0';
    memcpy(self, base, n - 5);
    self[n - 5] = '\0';
    s.dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (s.dfd < 0)
        return 0;
    /* The run directory as `cnio run` made it: ours, with no access for others. */
    if (fstat(s.dfd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 077)
        || !(d = fdopendir(s.dfd))) {
        close(s.dfd);
        return 0;
    }
    for (int i = 0; i < SWEEP_MAX_ENTRIES && s.judged < SWEEP_MAX_JOBS && (e = readdir(d)); i++) {
        char key[SWEEP_KEY_MAX];

        if (sweep_key(e->d_name, key))
            sweep_job(&s, key);
        else if (s.marks < SWEEP_MAX_JOBS && sweep_is_mark(e->d_name))
            sweep_mark(&s, e->d_name);
    }
    closedir(d);
    return s.removed + s.kept;
}
