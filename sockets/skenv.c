/*
 * skenv.c - knobs and the rendezvous with the job's proxy (see skenv.h).
 */
#include "skenv.h"
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long a starter waits for the proxy to listen, beyond the wait for the job proxy
 * that the proxy does first (CNIO_SOCKETS_JOB_WAIT_MS); a starter waits as long for
 * the job's lock, which another one holds meanwhile. */
#define SKENV_START_MS 10000

/* Adds "NAME=VALUE (WHAT)" to c->bad. */
static void skenv_bad(struct cnio__sk_conf *c, const char *name, const char *val,
                      const char *what)
{
    size_t n = strlen(c->bad);

    snprintf(c->bad + n, sizeof(c->bad) - n, "%s%s=%s (%s)", n ? "; " : "", name, val, what);
}

static int64_t skenv_num(struct cnio__sk_conf *c, const char *name, int64_t def, int64_t lo,
                         int64_t hi)
{
    const char *s = getenv(name);
    char what[96];
    char *end;
    long long v;

    if (!s || !*s)
        return def;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) {
        int64_t used = errno || *end || end == s ? def : v < lo ? lo : hi;

        snprintf(what, sizeof(what), "not a whole number in [%lld, %lld]: %lld used",
                 (long long)lo, (long long)hi, (long long)used);
        skenv_bad(c, name, s, what);
        return used;
    }
    return v;
}

void cnio__sk_conf_load(struct cnio__sk_conf *c)
{
    const char *m = getenv("CNIO_SOCKETS_MANAGE");

    c->bad[0] = '\0';
    c->manage = CNIO__SK_MANAGE_REMOTE;
    if (m && !strcmp(m, "all"))
        c->manage = CNIO__SK_MANAGE_ALL;
    else if (m && !strcmp(m, "none"))
        c->manage = CNIO__SK_MANAGE_NONE;
    else if (m && *m && strcmp(m, "remote"))
        skenv_bad(c, "CNIO_SOCKETS_MANAGE", m, "not remote, all or none: remote used");
    m = getenv("CNIO_SOCKETS_JOB");
    if (m && *m && strcmp(m, "auto") && strcmp(m, "off"))
        skenv_bad(c, "CNIO_SOCKETS_JOB", m, "not auto or off: auto used");
    c->names = (int)skenv_num(c, "CNIO_SOCKETS_NAMES", 1, 0, 1);
    c->window_max = (int)skenv_num(c, "CNIO_SOCKETS_WINDOW_MAX", 64, 1, 1 << 20);
    c->window_init = (int)skenv_num(c, "CNIO_SOCKETS_WINDOW_INIT", 4, 1, 1 << 20);
    c->connect_timeout_ms = skenv_num(c, "CNIO_SOCKETS_CONNECT_TIMEOUT_MS", 30000, 1, 3600000);
    c->slow_ms = skenv_num(c, "CNIO_SOCKETS_SLOW_MS", 500, 1, 3600000);
    c->settle_ms = skenv_num(c, "CNIO_SOCKETS_SETTLE_MS", 2, 0, 60000);
    c->holddown_ms = skenv_num(c, "CNIO_SOCKETS_HOLDDOWN_MS", 5000, 0, 3600000);
    c->name_ttl_ms = skenv_num(c, "CNIO_SOCKETS_NAME_TTL_MS", 30000, 0, 300000);
    c->proxy_timeout_ms = skenv_num(c, "CNIO_SOCKETS_PROXY_TIMEOUT_MS", 3000, 10, 600000);
    c->proxy_idle_ms = skenv_num(c, "CNIO_SOCKETS_PROXY_IDLE_MS", 2000, 0, 3600000);
    c->job_wait_ms = skenv_num(c, "CNIO_SOCKETS_JOB_WAIT_MS", 3000, 0, 600000);
    c->nonblock_wait_ms = skenv_num(c, "CNIO_SOCKETS_NONBLOCK_WAIT_MS", 50, 0, 3600000);
    c->stats = (int)skenv_num(c, "CNIO_STATS", 0, 0, 1);
}

/* getenv, as a cnio__sk_job_key_of lookup. */
static const char *skenv_get(void *ctx, const char *name)
{
    (void)ctx;
    return getenv(name);
}

int cnio__sk_job_key(char *buf, size_t cap)
{
    return cnio__sk_job_key_of(skenv_get, NULL, (long)getpid(), buf, cap);
}

int cnio__sk_job_key_of(const char *(*get)(void *ctx, const char *name), void *ctx, long pid,
                        char *buf, size_t cap)
{
    const char *k = get(ctx, "PMIX_NAMESPACE"), *hnp = get(ctx, "OMPI_MCA_orte_hnp_uri");
    const char *own = get(ctx, "CNIO_SOCKETS_JOB_KEY"), *slurm = get(ctx, "SLURM_JOB_ID");
    const char *step = get(ctx, "SLURM_STEP_ID"), *pbs = get(ctx, "PBS_JOBID");
    uint32_t h = cnio__fnv1a32(CNIO_FNV32_BASIS, hnp ? hnp : "", hnp ? strlen(hnp) : 0);
    int n;

    if (!k || !*k)
        k = get(ctx, "OMPI_MCA_orte_ess_jobid");
    if (own && *own)
        n = snprintf(buf, cap, "key-%s", own);
    else if (k && *k && hnp && *hnp)
        n = snprintf(buf, cap, "%s-%08x", k, (unsigned)h);
    else if (k && *k)
        n = snprintf(buf, cap, "%s", k);
    else if (slurm && *slurm)   /* srun without PMIx: the job and its step */
        n = snprintf(buf, cap, "slurm-%s.%s", slurm, step && *step ? step : "0");
    else if (pbs && *pbs)
        n = snprintf(buf, cap, "pbs-%s", pbs);
    else
        n = snprintf(buf, cap, "local-%ld", pid);
    if (n < 0 || (size_t)n >= cap)
        return -ENAMETOOLONG;
    for (char *p = buf; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
              || *p == '.' || *p == '-' || *p == '_'))
            *p = '_';
    return 0;
}

ssize_t cnio__sk_write_quiet(int fd, const void *msg, size_t len)
{
    static const struct timespec now = { 0, 0 };
    sigset_t pipe_set, old, pending;
    int had, e;
    ssize_t n;

    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    if (pthread_sigmask(SIG_BLOCK, &pipe_set, &old) != 0)
        return write(fd, msg, len);
    had = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
    n = write(fd, msg, len);
    e = errno;
    if (n < 0 && e == EPIPE && !had)
        while (sigtimedwait(&pipe_set, NULL, &now) < 0 && errno == EINTR)
            ;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return n;
}

int cnio__sk_rundir_path(char *buf, size_t cap)
{
    const char *base = getenv("CNIO_SOCKETS_RUNDIR");
    struct stat st;
    int n;

    if (base && *base)
        n = snprintf(buf, cap, "%s", base);
    else {
        base = getenv("XDG_RUNTIME_DIR");
        /* set but not there (a compute node without the login session that made it) */
        if (base && *base && (stat(base, &st) < 0 || !S_ISDIR(st.st_mode)))
            base = NULL;
        n = snprintf(buf, cap, "%s/cnio-sockets-%ld", base && *base ? base : "/tmp",
                     (long)geteuid());
    }
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int cnio__sk_down_alt(char *buf, size_t cap, const char *sock)
{
    static const char hex[] = "0123456789abcdef";
    char dir[PATH_MAX], name[32];
    uint64_t h = cnio__fnv1a64(CNIO_FNV64_BASIS, sock, strlen(sock));
    int rc = cnio__sk_rundir_path(dir, sizeof(dir)), n;

    if (rc)
        return rc;
    if (dir[0] != '/' || sock[0] != '/')
        return -EINVAL;
    memcpy(name, "lost-", 5);
    for (int i = 0; i < 16; i++)
        name[5 + i] = hex[(h >> (60 - 4 * i)) & 15];
    name[21] = '\0';
    n = snprintf(buf, cap, "%s/%s.down", dir, name);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int cnio__sk_rundir(char *buf, size_t cap)
{
    struct stat st;
    int rc = cnio__sk_rundir_path(buf, cap);

    if (rc)
        return rc;
    if (mkdir(buf, 0700) < 0 && errno != EEXIST)
        return -errno;
    if (lstat(buf, &st) < 0)
        return -errno;
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
        return -EPERM;
    if (buf[0] != '/') {   /* the proxy works from / : make the path absolute */
        char abs[PATH_MAX];

        if (!realpath(buf, abs))
            return -errno;
        if (strlen(abs) >= cap)
            return -ENAMETOOLONG;
        strcpy(buf, abs);
    }
    return 0;
}

int cnio__sk_proxy_alive(const char *path, int64_t timeout_ms)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    struct pollfd p;
    int fd, err = 0;
    socklen_t el = sizeof(err);

    if (strlen(path) >= sizeof(a.sun_path))
        return -ENAMETOOLONG;
    strcpy(a.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        err = errno;
        if (err == EINPROGRESS || err == EAGAIN) {
            p = (struct pollfd){ .fd = fd, .events = POLLOUT };
            err = poll(&p, 1, (int)timeout_ms) == 1 ? 0 : ETIMEDOUT;
            if (!err && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
                err = errno;
        }
    }
    close(fd);
    return -err;
}

/* In the detached grandchild: becomes the proxy. Never returns. */
static void skenv_exec_proxy(const char *bin, const char *sock, const char *lock,
                             const char *log, int keep_log, int ready)
{
    char fdarg[16];
    int nul = open("/dev/null", O_RDONLY);

    /* stdout and stderr stay the starter's until the proxy makes them its log (at once:
     * it creates the log itself, so as to remove it at exit only if it did). */
    if (nul >= 0)
        dup2(nul, 0);
    /* Nothing else of the starting process's: its other fds (a launcher's pipes among
     * them) stay open for the proxy's life otherwise. */
    if (ready > 3)
        close_range(3, (unsigned)ready - 1, 0);
    close_range((unsigned)ready + 1, ~0u, 0);
    unsetenv("LD_PRELOAD");
    snprintf(fdarg, sizeof(fdarg), "%d", ready);
    execl(bin, "cnio-proxy", "--socket", sock, "--ready-fd", fdarg, "--lock", lock,
          keep_log ? "--keep-log" : "--log", log, (char *)NULL);
    fprintf(stderr, "cnio-proxy: cannot run %s: %s\n", bin, strerror(errno));
    _exit(127);
}

/* Starts the proxy detached and waits (wait_ms at most) until it reports it listens; 0 or
 * -errno. */
static int skenv_spawn(const char *bin, const char *sock, const char *lock, const char *log,
                       int keep_log, int64_t wait_ms)
{
    int pfd[2], st, rc = -ETIMEDOUT;
    struct pollfd p;
    pid_t pid;
    char c;

    if (access(bin, X_OK) < 0 || pipe2(pfd, O_CLOEXEC) < 0)
        return -errno;
    pid = fork();
    if (pid == 0) {
        setsid();
        if (fork() == 0) {
            fcntl(pfd[1], F_SETFD, 0);
            close(pfd[0]);
            skenv_exec_proxy(bin, sock, lock, log, keep_log, pfd[1]);
        }
        _exit(0);
    }
    close(pfd[1]);
    if (pid < 0) {
        close(pfd[0]);
        return -errno;
    }
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    p = (struct pollfd){ .fd = pfd[0], .events = POLLIN };
    if (poll(&p, 1, (int)wait_ms) == 1)
        rc = read(pfd[0], &c, 1) == 1 ? 0 : -ECHILD;
    close(pfd[0]);
    return rc;
}

int cnio__sk_lock_file(const char *path, int create, int64_t timeout_ms)
{
    int64_t tries = timeout_ms / 10 + 1;

    for (int64_t i = 0; i < tries; i++) {
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        struct stat a, b;
        int fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);

        if (fd < 0)
            return -errno;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            /* The proxy removes the lock file as it exits: a file we locked after
             * that is no longer the one at path, so start over. */
            if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino
                && a.st_dev == b.st_dev)
                return fd;
        } else if (errno != EWOULDBLOCK && errno != EINTR) {
            int e = errno;

            close(fd);
            return -e;
        }
        close(fd);
        nanosleep(&ts, NULL);
    }
    return -ETIMEDOUT;
}

/* A failed start's log this long at most (what the proxy wrote in it) is said in the
 * failure message itself. */
#define SKENV_SAY_MAX 512

/* What the proxy wrote into its log at path from offset off, when that is SKENV_SAY_MAX
 * bytes at most, into out (cap bytes), its lines joined by " / ", other control bytes
 * as '?': 1, or 0 (nothing, unreadable, or too long to say: pointed at instead). */
static int skenv_log_say(const char *path, off_t off, char *out, size_t cap)
{
    char buf[SKENV_SAY_MAX + 1];
    size_t n = 0, len = 0;
    ssize_t k;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

    if (fd < 0)
        return 0;
    while (n < sizeof(buf) && (k = pread(fd, buf + n, sizeof(buf) - n, off + (off_t)n)) > 0)
        n += (size_t)k;
    close(fd);
    while (n > 0 && n <= SKENV_SAY_MAX && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    if (n == 0 || n > SKENV_SAY_MAX || cap == 0)
        return 0;
    for (size_t i = 0; i < n && len + 4 < cap; i++) {
        if (buf[i] == '\n') {
            memcpy(out + len, " / ", 3);
            len += 3;
        } else {
            out[len++] = (unsigned char)buf[i] < 0x20 || buf[i] == 0x7f ? '?' : buf[i];
        }
    }
    out[len] = '\0';
    return 1;
}

/*
 * After a start that failed (the job's lock held): what to do with the lock and the log,
 * and why, said. had: the log's size before the start (-1: there was none); user: the
 * log is CNIO_SOCKETS_PROXY_LOG's, never removed, else it is RUNDIR/KEY.log.
 *
 * What the proxy wrote is said in the message when it exited (rc -ECHILD: its log is
 * whole) and it is short. In the run directory, a log this start made is removed when it
 * is empty, or said whole and its proxy gone; any other (too long to say; a proxy that did
 * not say it listens in time, which may still be running and writing; a dead proxy's
 * lines from before) is left with the lock beside it, the mark by which a later proxy's
 * sweep removes both once old (proxy_sweep.c): a log there without its lock is never
 * swept. The lock goes only with the log (or when the log is the user's).
 */
static void skenv_spawn_failed(int rc, const char *bin, const char *lock, const char *log,
                               int user, off_t had, int64_t wait_ms, char *why, size_t whycap)
{
    char said[SKENV_SAY_MAX + 64] = "", where[1024] = "";
    struct stat st;
    off_t size = stat(log, &st) == 0 ? st.st_size : -1;
    int say = rc == -ECHILD && size > (had > 0 ? had : 0) &&
              skenv_log_say(log, had > 0 ? had : 0, said, sizeof(said));
    int drop = !user && had < 0 && (size == 0 || (say && size <= SKENV_SAY_MAX));

    if (user || drop || size < 0)
        unlink(lock);
    if (drop)
        unlink(log);
    else if (size > 0)
        snprintf(where, sizeof(where), "; see %s%s", log, user ? ""
                 : " (kept with its lock beside it, for a later proxy's sweep to remove both "
                   "7 days after its last line)");
    if (rc == -ECHILD)
        snprintf(why, whycap, "%s exited before it listened%s%s%s", bin,
                 say ? ", saying: " : "", said, where);
    else if (rc == -ETIMEDOUT)
        snprintf(why, whycap, "%s did not say it listens within %lld s%s", bin,
                 (long long)(wait_ms / 1000), where);
    else
        snprintf(why, whycap, "%s: %s (set CNIO_PROXY_BIN to cnio-proxy's path)", bin,
                 strerror(-rc));
}

int cnio__sk_proxy_ensure(const char *proxy_bin, char *sock, size_t cap, char *why,
                          size_t whycap)
{
    char dir[512], key[256], lock[800], log[800];
    const char *keep = getenv("CNIO_SOCKETS_PROXY_LOG");
    struct cnio__sk_conf conf;
    int64_t wait_ms;
    int rc, fd, n;

    snprintf(why, whycap, "%s", "");
    cnio__sk_conf_load(&conf);
    wait_ms = SKENV_START_MS + conf.job_wait_ms;
    dir[0] = '\0';
    rc = cnio__sk_rundir(dir, sizeof(dir));
    if (rc) {
        snprintf(why, whycap, "run directory %s: %s",
                 dir[0] ? dir : "(CNIO_SOCKETS_RUNDIR, else $XDG_RUNTIME_DIR or /tmp, "
                                "cnio-sockets-UID)", rc == -EPERM
                 ? "not a directory of this user's with no access for others (mode 0700)"
                 : strerror(-rc));
        return rc;
    }
    rc = cnio__sk_job_key(key, sizeof(key));
    if (rc) {
        snprintf(why, whycap, "the job's key (CNIO_SOCKETS_JOB_KEY, PMIX_NAMESPACE, "
                 "SLURM_JOB_ID, PBS_JOBID): %s", strerror(-rc));
        return rc;
    }
    n = snprintf(sock, cap, "%s/%s.sock", dir, key);
    if (n < 0 || (size_t)n >= cap || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        snprintf(why, whycap, "the socket path %s/%s.sock is too long for a unix socket "
                 "(%zu bytes at most): give CNIO_SOCKETS_RUNDIR a shorter directory", dir, key,
                 sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
        return -ENAMETOOLONG;
    }
    snprintf(lock, sizeof(lock), "%s/%s.lock", dir, key);
    snprintf(log, sizeof(log), "%s/%s.log", dir, key);
    if (keep && *keep && (size_t)snprintf(log, sizeof(log), "%s", keep) >= sizeof(log)) {
        snprintf(why, whycap, "CNIO_SOCKETS_PROXY_LOG=%.40s...: %s (%zu bytes at most)", keep,
                 strerror(ENAMETOOLONG), sizeof(log) - 1);
        return -ENAMETOOLONG;
    }
    fd = cnio__sk_lock_file(lock, 1, wait_ms);   /* another starter may wait that long */
    if (fd < 0) {
        snprintf(why, whycap, "lock %s: %s", lock, strerror(-fd));
        return fd;
    }
    rc = 0;
    if (cnio__sk_proxy_alive(sock, 1000) != 0) {   /* the proxy removes a stale socket */
        struct stat st;
        off_t had = stat(log, &st) == 0 ? st.st_size : -1;

        rc = skenv_spawn(proxy_bin, sock, lock, log, keep && *keep, wait_ms);
        if (rc)
            skenv_spawn_failed(rc, proxy_bin, lock, log, keep && *keep, had, wait_ms, why,
                               whycap);
    }
    close(fd);
    return rc;
}
