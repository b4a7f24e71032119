/*
 * fab_live.c - shm peers' liveness learnt outside libfabric, and the watchdog that rescues
 * (fab_rescue.c) or, as a last resort, ends a process whose call into libfabric waits for
 * a dead peer (fabric.h).
 *
 * libfabric 1.17's shm provider guards each process's shared region with a process-shared
 * spinlock that the peers take to send to it and to progress; a process killed with
 * SIGKILL while it held its own lock (or ours) leaves it held, and the next call of ours
 * that takes it never returns. So on a guarded endpoint the client checks, before every
 * call that can take a peer's lock (sends, completion reads), that the peers' processes
 * are alive (from /proc, every CNIO_FAB_LIVE_MS at most), and once one is dead never
 * enters that endpoint again. What the check cannot see (a call already spinning on the
 * lock when its holder dies, or the peer dying just after the check) is the watchdog's:
 * a call stuck CNIO_FAB_RESCUE_MS while a peer is dead gets the lock the dead peer left
 * held released (fab_rescue.c), and one still stuck after the endpoint's bound ends the
 * process with a line saying why.
 *
 * A peer's pid comes from its address (cnio's servers name their regions
 * "fi_shm://cnio-PID-RANDOM"); it is checked against /proc when the peer is first met,
 * and a pid with no /proc entry then (a server in another pid namespace sharing
 * /dev/shm) is not checked later. Its start time is kept, so a pid reused by another
 * process counts as dead.
 */
#include "cnio_config.h"
#include "common.h"
#include "fabric.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LIVE_WAKE_MS 1000     /* the watchdog's period */
#define LIVE_PREFIX "fi_shm://cnio-"
/* /proc/PID/stat (proc(5)): fields 3..31 are read: 9 flags, 22 starttime, 31 signal (the
 * pending signals of the main thread) */
#define LIVE_FIELDS 32
#define LIVE_PF_EXITING 0x4ull
#define LIVE_SIGKILL_BIT (1ull << (SIGKILL - 1))

int cnio__proc_state(int pid, unsigned long long *start)
{
    char path[64], buf[1024];
    const char *p;
    unsigned long long st, f[LIVE_FIELDS] = { 0 };
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || errno == ESRCH ? -1 : 1;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return n < 0 && errno == ESRCH ? -1 : 1;
    buf[n] = '\0';
    /* "pid (comm) S ppid ... starttime(22nd)": comm may hold spaces and parentheses */
    p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return 1;
    p += 2;
    if (*p == 'Z' || *p == 'X' || *p == 'x')
        return 0;
    for (int field = 4; field < LIVE_FIELDS && p; field++) {
        p = strchr(p, ' ');
        if (p)
            f[field] = strtoull(++p, NULL, 10);
    }
    if (!p)
        return 1;
    /* killed (SIGKILL pending: set by kill() itself) or exiting: it runs no more of its
     * own code, so a lock it holds stays held; the same as dead */
    if ((f[31] & LIVE_SIGKILL_BIT) || (f[9] & LIVE_PF_EXITING))
        return 0;
    st = f[22];
    if (start && *start && *start != st)
        return 0;
    if (start && !*start)
        *start = st;
    return 1;
}

int cnio__fab_shm_pid(const void *addr, size_t len)
{
    const char *a = addr;
    size_t i = sizeof(LIVE_PREFIX) - 1;
    long pid = 0;

    if (len <= i || memcmp(a, LIVE_PREFIX, i))
        return 0;
    for (; i < len && a[i] >= '0' && a[i] <= '9' && pid < 100000000; i++)
        pid = pid * 10 + (a[i] - '0');
    return i < len && a[i] == '-' ? (int)pid : 0;
}

unsigned long long cnio__fab_shm_pidns(const void *addr, size_t len)
{
    const char *a = addr;
    size_t i = sizeof(LIVE_PREFIX) - 1, start;
    unsigned long long ns = 0;

    if (!cnio__fab_shm_pid(addr, len))
        return 0;
    while (a[i] != '-')   /* past the pid: cnio__fab_shm_pid found its '-' */
        i++;
    for (start = ++i; i < len && i - start < 16 && isxdigit((unsigned char)a[i]); i++)
        ns = ns * 16 + (unsigned long long)(isdigit((unsigned char)a[i])
                                            ? a[i] - '0' : (a[i] | 0x20) - 'a' + 10);
    return i > start && i < len && a[i] == '-' ? ns : 0;
}

unsigned long long cnio__fab_own_pidns(void)
{
    struct stat st;

    return stat("/proc/self/ns/pid", &st) == 0 ? (unsigned long long)st.st_ino : 0;
}

/* ---- the registry of guarded endpoints and the watchdog ---------------------------- */

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cnio_fab *live_watched;   /* guarded endpoints, under live_lock */
static int live_started;                /* the watchdog runs (under live_lock) */

void cnio__fab_guard_lock(struct cnio_fab *f)
{
    if (f->shm)
        pthread_mutex_lock(&live_lock);
}

void cnio__fab_guard_unlock(struct cnio_fab *f)
{
    if (f->shm)
        pthread_mutex_unlock(&live_lock);
}

/* A dead peer of f (under live_lock; those no connection uses any more count too): its
 * pid, or 0. */
static int live_dead_peer(const struct cnio_fab *f)
{
    for (int i = 0; i < f->npeers; i++) {
        const struct cnio_fab_peer *p = &f->peers[i];
        unsigned long long start = p->start;

        if (p->pid && cnio__proc_state(p->pid, &start) <= 0)
            return p->pid;
    }
    return 0;
}

static void live_bark(const struct cnio_fab *f, int64_t secs, int pid)
{
    char line[320];
    int n = snprintf(line, sizeof(line),
                     "cnio: libfabric %s: a call into libfabric has not returned for %lld s "
                     "and server %d is gone; it holds the shared region's lock (libfabric "
                     "1.17 smr); exiting so the job does not hang\n",
                     f->prov, (long long)secs, pid);

    if (n > 0 && write(STDERR_FILENO, line, CNIO_MIN((size_t)n, sizeof(line) - 1)) < 0)
        n = 0;
    _exit(CNIO_FAB_WATCHDOG_EXIT);
}

static void *live_watchdog(void *arg)
{
    struct timespec nap = { LIVE_WAKE_MS / 1000, (LIVE_WAKE_MS % 1000) * 1000000L };

    for (;;) {
        nanosleep(&nap, NULL);
        pthread_mutex_lock(&live_lock);
        for (struct cnio_fab *f = live_watched; f; f = f->watch_next) {
            int64_t t = atomic_load_explicit(&f->in_call, memory_order_relaxed);
            int64_t now = cnio__now_ms();
            int pid;

            if (!t || now - t < CNIO_MIN(CNIO_FAB_RESCUE_MS, f->watch_ms) ||
                (pid = live_dead_peer(f)) == 0)
                continue;
            if (now - t > f->watch_ms)
                live_bark(f, (now - t) / 1000, pid);
            cnio__fab_rescue(f, t, pid);
        }
        pthread_mutex_unlock(&live_lock);
    }
    return arg;
}

/* Starts the watchdog (under live_lock): a detached thread with every signal blocked. */
static void live_start(void)
{
    pthread_attr_t attr;
    sigset_t all, old;
    pthread_t t;

    if (live_started || pthread_attr_init(&attr))
        return;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    if (pthread_create(&t, &attr, live_watchdog, NULL) == 0)
        live_started = 1;
    else
        cnio__warn("libfabric shm: cannot start the watchdog thread");
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
}

int cnio__fab_guard_ms(struct cnio_fab *f, int watch_ms)
{
    if (strcmp(f->prov, "shm") != 0 || f->shm)
        return 0;
    pthread_mutex_lock(&live_lock);
    f->shm = 1;
    f->watch_ms = watch_ms;
    f->watch_next = live_watched;
    live_watched = f;
    live_start();
    pthread_mutex_unlock(&live_lock);
    return 0;
}

int cnio__fab_guard(struct cnio_fab *f, int timeout_ms)
{
    return cnio__fab_guard_ms(f, CNIO_MAX(timeout_ms, CNIO_FAB_WATCH_MIN_MS));
}

void cnio__fab_unguard(struct cnio_fab *f)
{
    if (!f->shm)
        return;
    pthread_mutex_lock(&live_lock);
    for (struct cnio_fab **pp = &live_watched; *pp; pp = &(*pp)->watch_next)
        if (*pp == f) {
            *pp = f->watch_next;
            break;
        }
    pthread_mutex_unlock(&live_lock);
    f->shm = 0;
}

/* ---- checks by the endpoint's own thread ------------------------------------------- */

int cnio__fab_guard_peer(struct cnio_fab *f, struct cnio_fab_peer *p)
{
    int st;

    p->pid = cnio__fab_shm_pid(p->addr, p->len);
    p->start = 0;
    if (!p->pid)
        return 0;
    st = cnio__proc_state(p->pid, &p->start);
    if (st < 0) {
        unsigned long long ns = cnio__fab_shm_pidns(p->addr, p->len);

        /* Not in this /proc: gone, when its address says it lived in this pid namespace
         * (libfabric would send into the region it left, and wait for ever); else in
         * another, where its liveness cannot be learnt. */
        if (ns && ns == cnio__fab_own_pidns()) {
            cnio__debug("libfabric shm: peer process %d is gone", p->pid);
            return -CNIO_ERR_CONN;
        }
        cnio__debug("libfabric shm: peer process %d not in this /proc (another pid "
                    "namespace?): its liveness is not checked", p->pid);
        p->pid = 0;
    }
    return st == 0 ? -CNIO_ERR_CONN : 0;
}

int cnio__fab_live_check(struct cnio_fab *f, int fresh)
{
    int64_t now;

    if (f->dead)
        return f->dead;
    now = cnio__now_ms();
    if (!fresh && now - f->live_ms < CNIO_FAB_LIVE_MS)
        return 0;
    f->live_ms = now;
    for (int i = 0; i < f->npeers; i++) {
        struct cnio_fab_peer *p = &f->peers[i];

        if (p->refs && p->pid && cnio__proc_state(p->pid, &p->start) <= 0) {
            f->dead = -CNIO_ERR_CONN;
            f->dead_pid = p->pid;
            cnio__warn("libfabric %s: server process %d is gone: the endpoint's lanes fail "
                       "(libfabric is not entered again on it)", f->prov, p->pid);
            return f->dead;
        }
    }
    return 0;
}
