/*
 * shim_pending.c - the outcome of non-blocking connects. A managed non-blocking connect
 * that says EINPROGRESS has told the proxy so (its slot is held for the destination's
 * usual setup time) and remembers its admission's token in a table indexed by the
 * socket's fd. The shim learns the outcome where the application does:
 *   - getsockopt(SO_ERROR): an error is a refusal, time-out, unreachable...; no error on
 *     a socket that has a peer is a completed setup (prompt or slow, by the time since
 *     admission); no error and no peer is a setup still under way (nothing learnt);
 *   - connect() once more on the socket, as hiredis's redisCheckConnectDone and other
 *     event loops learn it: 0 or EISCONN is a completed setup, another error than
 *     EALREADY (under way) a failed one (such setups were never learnt before);
 *   - epoll_ctl() on the socket (ADD, MOD, DEL): an event loop that waited for EPOLLOUT
 *     and then changes what it waits for (Redis's ae: redis-benchmark writes its request
 *     and waits for EPOLLIN, with no SO_ERROR nor connect once more) has seen the setup
 *     end. A socket with a peer is a completed setup, a failure is seen as at close
 *     (below), without reading SO_ERROR; anything else is a setup still under way (an
 *     ADD right after the connect), learnt at the next call. Without this, such a
 *     program's setups were never learnt, and its window never grew past its first size;
 *   - close(): a setup that failed is reported (failure knowledge), seen without reading
 *     SO_ERROR: reading it would take the error from every other descriptor of the
 *     socket (a dup, a forked or exec'd child's copy, one passed over a unix socket),
 *     which would then see SO_ERROR 0 and POLLOUT without POLLERR. So the failure is
 *     seen as an error pending (POLLERR) on a socket that is closed and never had its
 *     SYN acknowledged (TCP_INFO), and its errno is inferred: ETIMEDOUT when SYNs were
 *     retransmitted SHIM_SYN_LOST times or more, else ECONNREFUSED (an ICMP unreachable
 *     is taken for a refusal: both put the destination on hold). A setup the program
 *     abandoned (connect AF_UNSPEC) is no failure: the disconnect zeroed the socket's
 *     count of segments sent, which a refused setup never has. A setup that
 *     completed, but whose completion the application never asked about, says nothing
 *     about its speed, so nothing is reported for it.
 * The report is an OUTCOME naming the token, sent on a connection of its own that is
 * closed once the proxy has acknowledged it (so the process's next connect finds the
 * destination as the outcome left it): nothing of the shim's stays open per setup in flight, so a program
 * with many setups in flight needs no more fds than natively (when no fd can be had
 * for the report, it is not sent). The table holds fds below SHIM_PEND_MAX; an entry
 * also records the socket's inode, so that an fd closed behind the shim's back
 * (close_range, dup2 onto it) and reused is not taken for the socket that connected.
 * Entries are claimed with one atomic exchange: threads and signal handlers report at
 * most once, and the proxy learns from a token once (a forked child may report it too).
 * Other getsockopt, epoll_ctl and close calls cost one load and a branch.
 */
#include "shim.h"

#include <errno.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SHIM_PEND_MAX 65536
#define SHIM_TCP_CLOSE 7   /* tcpi_state of a closed socket (the kernel's TCP_CLOSE) */
#define SHIM_SYN_LOST 3    /* a refusal after this many lost SYNs is not plausible */

struct shim_pend {
    uint64_t token;  /* the admission's token; 0: no setup pending (atomic) */
    int64_t t0;      /* admission time (shim_now_ms) */
    uint64_t ino;    /* the socket's inode */
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

void shim_pend_arm(int fd, uint64_t token, int64_t t0)
{
    struct stat st;

    if (fd < 0 || fd >= SHIM_PEND_MAX || !token || fstat(fd, &st) < 0)
        return;
    __atomic_store_n(&shim_pend[fd].token, 0, __ATOMIC_RELEASE);
    shim_pend[fd].t0 = t0;
    shim_pend[fd].ino = st.st_ino;
    __atomic_store_n(&shim_pend[fd].token, token, __ATOMIC_RELEASE);
}

/* Claims fd's entry when it is the socket that connected: its token, or 0. */
static uint64_t shim_pend_take(int fd, int64_t *t0)
{
    struct stat st;
    uint64_t token = __atomic_exchange_n(&shim_pend[fd].token, 0, __ATOMIC_ACQ_REL);

    if (!token)
        return 0;
    *t0 = shim_pend[fd].t0;
    if (fstat(fd, &st) == 0 && st.st_ino == shim_pend[fd].ino)
        return token;
    return 0;
}

/* Tells the proxy what the setup with token came to, on a connection of its own. */
static void shim_pend_report(uint64_t token, int64_t t0, int err)
{
    struct cnio__skp_small m = { .type = CNIO__SKP_OUTCOME };
    int64_t ms = shim_now_ms() - t0;
    int rpc = shim_rpc_open();

    if (rpc < 0)
        return;
    m.i[0] = shim_outcome(err ? -1 : 0, err, ms);
    m.i[1] = (int32_t)ms;
    m.i[2] = err;
    m.i[3] = (int32_t)(uint32_t)token;
    m.i[4] = (int32_t)(uint32_t)(token >> 32);
    /* The proxy's ack orders this outcome before the process's next request. */
    if (shim_rpc_send_small(rpc, &m) == 0 && shim_rpc_recv_small(rpc, &m) < 0)
        shim_proxy_failed("stopped answering");
    shim_real_close(rpc);
}

/* The setup on fd completed (err 0) or failed with err: its entry claimed, reported. */
static void shim_pend_learnt(int fd, int err)
{
    int64_t t0;
    uint64_t token = shim_pend_take(fd, &t0);

    if (token)
        shim_pend_report(token, t0, err);
}

/* 1 when fd has a peer: its setup completed (whatever the program has read since). */
static int shim_pend_connected(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    return getpeername(fd, (struct sockaddr *)&ss, &sl) == 0;
}

/* The application read SO_ERROR = err on fd. */
static void shim_pend_seen(int fd, int err)
{
    if (!err && !shim_pend_connected(fd))
        return;   /* still connecting */
    shim_pend_learnt(fd, err);
}

void shim_pend_connect_said(int fd, int rc, int err)
{
    if (fd < 0 || fd >= SHIM_PEND_MAX || !__atomic_load_n(&shim_pend[fd].token, __ATOMIC_RELAXED))
        return;
    if (rc == 0 || err == EISCONN)
        shim_pend_seen(fd, 0);
    else if (err != EALREADY && err != EINPROGRESS && err != EINTR)
        shim_pend_seen(fd, err);
    errno = err;
}

/* Whether the setup on fd failed, seen without reading SO_ERROR (above): 1 with *err the
 * errno inferred, or 0 (under way, completed, its error already read, or abandoned).
 * A setup the program abandoned (connect AF_UNSPEC, on this or any descriptor of the
 * socket) leaves an error pending too (ECONNRESET) on a closed socket, but the kernel's
 * disconnect zeroes the socket's segment counts, where a refused or timed-out setup has
 * sent its SYNs: no segment sent, no failure of the destination. */
static int shim_pend_failed(int fd, int *err)
{
    struct pollfd p = { .fd = fd, .events = 0 };
    struct tcp_info ti;
    socklen_t tl = sizeof(ti);

    if (poll(&p, 1, 0) != 1 || !(p.revents & POLLERR))
        return 0;
    memset(&ti, 0, sizeof(ti));
    if (shim_real_getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) < 0
        || ti.tcpi_state != SHIM_TCP_CLOSE || ti.tcpi_rtt || ti.tcpi_bytes_acked
        || (tl >= offsetof(struct tcp_info, tcpi_segs_out) + sizeof(ti.tcpi_segs_out)
            && !ti.tcpi_segs_out))
        return 0;
    *err = ti.tcpi_total_retrans >= SHIM_SYN_LOST ? ETIMEDOUT : ECONNREFUSED;
    return 1;
}

/* fd is being closed: a failed setup is reported, anything else only let go. */
static void shim_pend_closing(int fd)
{
    int64_t t0;
    uint64_t token = shim_pend_take(fd, &t0);
    int err;

    if (token && shim_pend_failed(fd, &err))
        shim_pend_report(token, t0, err);
}

SHIM_EXPORT int getsockopt(int fd, int level, int opt, void *val, socklen_t *len)
{
    int rc = shim_real_getsockopt(fd, level, opt, val, len), e = errno;

    if (rc == 0 && level == SOL_SOCKET && opt == SO_ERROR && fd >= 0 && fd < SHIM_PEND_MAX
        && __atomic_load_n(&shim_pend[fd].token, __ATOMIC_RELAXED) && val && len
        && *len >= sizeof(int)) {
        shim_pend_seen(fd, *(int *)val);
        errno = e;
    }
    return rc;
}

/* The application changes fd's place in an epoll set: the setup is learnt if it has
 * ended, without touching what the program will read (no SO_ERROR). */
static void shim_pend_polled(int fd)
{
    int err;

    if (shim_pend_connected(fd))
        shim_pend_learnt(fd, 0);
    else if (shim_pend_failed(fd, &err))
        shim_pend_learnt(fd, err);
}

SHIM_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    if (fd >= 0 && fd < SHIM_PEND_MAX && __atomic_load_n(&shim_pend[fd].token, __ATOMIC_RELAXED)) {
        int e = errno;

        shim_pend_polled(fd);
        errno = e;
    }
    return shim_real.epoll_ctl ? shim_real.epoll_ctl(epfd, op, fd, ev)
                               : (int)syscall(SYS_epoll_ctl, epfd, op, fd, ev);
}

SHIM_EXPORT int close(int fd)
{
    if (fd >= 0 && fd < SHIM_PEND_MAX && __atomic_load_n(&shim_pend[fd].token, __ATOMIC_RELAXED)) {
        int e = errno;

        shim_pend_closing(fd);
        errno = e;
    }
    return shim_real_close(fd);
}
