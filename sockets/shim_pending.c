/*
 * shim_pending.c - the outcome of non-blocking connects. A managed non-blocking connect
 * that says EINPROGRESS has told the proxy so (its slot is held for the destination's
 * usual setup time) and keeps its conversation with the proxy open, in a table indexed
 * by the socket's fd. The shim learns the outcome where the application does:
 *   - getsockopt(SO_ERROR): an error is a refusal, time-out, unreachable...; no error on
 *     a socket that has a peer is a completed setup (prompt or slow, by the time since
 *     admission); no error and no peer is a setup still under way (nothing learnt);
 *   - close(): an error pending on the socket is reported (failure knowledge); a setup
 *     that completed but whose completion the application never asked about says
 *     nothing about its speed, so nothing is reported for it.
 * Either sends OUTCOME on the kept connection and closes it. The table holds fds below
 * SHIM_PEND_MAX; an entry also records the socket's inode, so that an fd closed behind
 * the shim's back (close_range, dup2 onto it) and reused is not taken for the socket
 * that connected. Entries are claimed with one atomic exchange: threads, signal handlers
 * and forked children (which share the connection; the proxy takes the first OUTCOME)
 * report at most once. Other getsockopt calls and closes cost one load and a branch.
 */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SHIM_PEND_MAX 65536

struct shim_pend {
    int rpc1;       /* the proxy connection's fd + 1; 0: no setup pending (atomic) */
    int64_t t0;     /* admission time (shim_now_ms) */
    uint64_t ino;   /* the socket's inode */
};

static struct shim_pend shim_pend[SHIM_PEND_MAX];

static int shim_real_close(int fd)
{
    return shim_real.close ? shim_real.close(fd) : (int)syscall(SYS_close, fd);
}

static int shim_real_getsockopt(int fd, int level, int opt, void *val, socklen_t *len)
{
    return shim_real.getsockopt ? shim_real.getsockopt(fd, level, opt, val, len)
                                : (int)syscall(SYS_getsockopt, fd, level, opt, val, len);
}

/* Moves the kept proxy connection above the application's usual fds; the fd to keep. */
static int shim_pend_high(int rpc)
{
    struct rlimit rl;
    int base, hi;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < 256)
        return rpc;
    base = rl.rlim_cur > 65536 ? 32768 : (int)rl.rlim_cur / 2;
    hi = fcntl(rpc, F_DUPFD_CLOEXEC, base);
    if (hi < 0)
        return rpc;
    shim_real_close(rpc);
    return hi;
}

int shim_pend_arm(int fd, int rpc, int64_t t0)
{
    struct stat st;
    int old;

    if (fd < 0 || fd >= SHIM_PEND_MAX || fstat(fd, &st) < 0)
        return -1;
    rpc = shim_pend_high(rpc);
    old = __atomic_exchange_n(&shim_pend[fd].rpc1, 0, __ATOMIC_ACQ_REL);
    if (old)   /* a socket closed behind our back had this fd */
        shim_real_close(old - 1);
    shim_pend[fd].t0 = t0;
    shim_pend[fd].ino = st.st_ino;
    __atomic_store_n(&shim_pend[fd].rpc1, rpc + 1, __ATOMIC_RELEASE);
    return 0;
}

/* Claims fd's entry when it is the socket that connected: the kept fd, or -1. */
static int shim_pend_take(int fd, int64_t *t0)
{
    struct stat st;
    int rpc1 = __atomic_exchange_n(&shim_pend[fd].rpc1, 0, __ATOMIC_ACQ_REL);

    if (!rpc1)
        return -1;
    *t0 = shim_pend[fd].t0;
    if (fstat(fd, &st) == 0 && st.st_ino == shim_pend[fd].ino)
        return rpc1 - 1;
    shim_real_close(rpc1 - 1);
    return -1;
}

static void shim_pend_report(int rpc, int outcome, int64_t ms, int err)
{
    struct cnio__skp_msg m = { .type = CNIO__SKP_OUTCOME };

    m.i[0] = outcome;
    m.i[1] = (int32_t)ms;
    m.i[2] = err;
    shim_rpc_send(rpc, &m);
    shim_real_close(rpc);
}

/* The application read SO_ERROR = err on fd. */
static void shim_pend_seen(int fd, int err)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int64_t t0, ms;
    int rpc;

    if (!err && getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
        return;   /* still connecting */
    rpc = shim_pend_take(fd, &t0);
    if (rpc < 0)
        return;
    ms = shim_now_ms() - t0;
    shim_pend_report(rpc, shim_outcome(err ? -1 : 0, err, ms), ms, err);
}

/* fd is being closed: a pending error is reported, anything else only let go. */
static void shim_pend_closing(int fd)
{
    int64_t t0;
    int rpc = shim_pend_take(fd, &t0), err = 0;
    socklen_t el = sizeof(err);

    if (rpc < 0)
        return;
    if (shim_real_getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err) {
        shim_pend_report(rpc, shim_outcome(-1, err, shim_now_ms() - t0), shim_now_ms() - t0,
                         err);
        return;
    }
    shim_real_close(rpc);
}

SHIM_EXPORT int getsockopt(int fd, int level, int opt, void *val, socklen_t *len)
{
    int rc = shim_real_getsockopt(fd, level, opt, val, len), e = errno;

    if (rc == 0 && level == SOL_SOCKET && opt == SO_ERROR && fd >= 0 && fd < SHIM_PEND_MAX
        && __atomic_load_n(&shim_pend[fd].rpc1, __ATOMIC_RELAXED) && val && len
        && *len >= sizeof(int)) {
        shim_pend_seen(fd, *(int *)val);
        errno = e;
    }
    return rc;
}

SHIM_EXPORT int close(int fd)
{
    if (fd >= 0 && fd < SHIM_PEND_MAX && __atomic_load_n(&shim_pend[fd].rpc1, __ATOMIC_RELAXED)) {
        int e = errno;

        shim_pend_closing(fd);
        errno = e;
    }
    return shim_real_close(fd);
}
