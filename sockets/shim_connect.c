/*
 * shim_connect.c - connect() for managed destinations: TCP to a remote address (or any
 * address with CNIO_SOCKETS_MANAGE=all). The proxy admits the setup (or fails it at once
 * when the destination is known to be down), the process connects directly, and
 * reports how it went. Unmanaged connects go straight to libc. While the proxy is off
 * (absent, silent past its time-out, dead), a connect to a managed destination skips
 * admission but keeps its deadline, counted from the moment the shim stopped waiting
 * for the proxy: losing the proxy never turns a bounded connect into the kernel's
 * ~127 s of SYN retries.
 *
 * Blocking sockets: the kernel's connect runs with O_NONBLOCK set for the call, and the
 * shim waits for it with poll until the connect deadline (CNIO_SOCKETS_CONNECT_TIMEOUT_MS,
 * admission wait included, or the socket's SO_SNDTIMEO if shorter, as the kernel does);
 * past the deadline the attempt is aborted (connect AF_UNSPEC) and connect fails with
 * ETIMEDOUT. A signal during the wait: if its handler has SA_RESTART (and no SO_SNDTIMEO
 * is set), the wait goes on as the kernel's restarted connect would; else connect fails
 * with EINTR and the setup goes on in the background, as POSIX says (which signal it was
 * is known in a process of one thread; in others, any handler without SA_RESTART makes
 * it EINTR: shim_poll_as_connect). A wake-up while the setup is still under way (a soft
 * error: an ICMP unreachable answering a SYN the kernel sends again) is waited through, as
 * the kernel's blocking connect waits through it. A
 * blocking connect retried on a socket whose setup is still under way (after EINTR or
 * SO_SNDTIMEO) waits for that setup as Linux does, where the kernel's non-blocking
 * connect says EALREADY.
 *
 * Non-blocking sockets: admission is taken before the kernel's connect, which then
 * returns at once; EINPROGRESS is reported as such (the proxy keeps the slot for the
 * destination's usual setup time), and the outcome follows, under the admission's
 * token, when the application learns it (getsockopt SO_ERROR, close: shim_pending.c),
 * so the window adapts to non-blocking setups too, and their failures put the
 * destination on hold. A non-blocking connect to a destination on hold is not failed
 * at once, though: the kernel never fails a non-blocking TCP connect with
 * ECONNREFUSED or ETIMEDOUT at once (it says EINPROGRESS and leaves the error pending,
 * for poll's POLLERR and SO_ERROR), and an event loop that judges the outcome by those
 * alone would take an unconnected socket with no error pending for a connected one. So
 * it gets the kernel's connect to the destination, unadmitted: the network's own
 * answer, exactly as without the shim (a refusing destination refuses at once, a
 * silent one leaves the setup to the program's own timer). The shim has no readiness
 * calls to answer in the kernel's place, and a socket's pending error can be set by
 * the network only. The conversation with the proxy is closed at once in every case:
 * no fd of the shim's stays open per setup in flight.
 *
 * The program's own limits come before admission: a queued non-blocking connect waits at
 * most CNIO_SOCKETS_NONBLOCK_WAIT_MS, a blocking one at most its SO_SNDTIMEO, and a
 * signal it would return for ends the wait; the setup then starts at once without
 * admission (shim_connect_unpaced) and connect says what the kernel says when its own
 * wait ends so: EINPROGRESS, or EINTR, with the setup under way.
 */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static int shim_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

        return IN6_IS_ADDR_LOOPBACK(a)
               || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
}

/* Copies len bytes at sa into out through a pipe of the call's own: the kernel reads
 * them for write, EFAULT where it cannot. 0, or -1 (unreadable, or no fds to be had). */
static int shim_copy_in_pipe(const struct sockaddr *sa, socklen_t len, struct sockaddr_storage *out)
{
    int p[2], rc = -1;

    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
        return -1;
    if (write(p[1], sa, len) == (ssize_t)len && read(p[0], out, len) == (ssize_t)len)
        rc = 0;
    close(p[0]);
    close(p[1]);
    return rc;
}

/*
 * Copies the caller's address in as the kernel's connect does, all len bytes, before
 * anything of it is read: 0, or -1 when the kernel would refuse the address itself
 * (longer than a sockaddr_storage: EINVAL; not all readable: EFAULT), which the caller
 * then leaves to the kernel, so that the application gets the kernel's own answer
 * instead of a crash in the shim, or the shim's verdict on a destination. The copy is
 * made by process_vm_readv on this process (one call, no fd), which reports unreadable
 * memory as EFAULT instead of faulting; where a seccomp filter forbids it, through a
 * pipe (then -1 too when no fds can be had: the connect goes to libc unmanaged).
 */
static int shim_copy_in(const struct sockaddr *sa, socklen_t len, struct sockaddr_storage *out)
{
    struct iovec local = { .iov_base = out, .iov_len = len };
    struct iovec remote = { .iov_base = (void *)sa, .iov_len = len };
    ssize_t n;

    memset(out, 0, sizeof(*out));
    if (len > sizeof(*out))
        return -1;
    if (len == 0)
        return 0;
    n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    if (n < 0 && errno != EFAULT)
        return shim_copy_in_pipe(sa, len, out);
    return n == (ssize_t)len ? 0 : -1;
}

/*
 * The destination as the proxy takes it, from ss, the caller's address copied in with
 * its len: ss cut to the exact size of an IPv4 or IPv6 address (returned; 0 for any
 * other family). The kernel accepts a longer addrlen (sizeof(struct sockaddr_storage)
 * is a common idiom) and, for IPv6, RFC 2133's 24 bytes without sin6_scope_id.
 */
static socklen_t shim_dest(struct sockaddr_storage *ss, socklen_t len)
{
    if (len < sizeof(sa_family_t))
        return 0;
    if (ss->ss_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        memset((char *)ss + sizeof(struct sockaddr_in), 0, sizeof(*ss) - sizeof(struct sockaddr_in));
        return sizeof(struct sockaddr_in);
    }
    if (ss->ss_family == AF_INET6 && len >= 24) {
        memset((char *)ss + sizeof(struct sockaddr_in6), 0, sizeof(*ss) - sizeof(struct sockaddr_in6));
        return sizeof(struct sockaddr_in6);
    }
    return 0;
}

/* 1 when connect(fd, sa) is to a managed destination (the proxy may be off). */
static int shim_managed(int fd, const struct sockaddr *sa, socklen_t len)
{
    int type = 0;
    socklen_t tl = sizeof(type);

    if (shim_conf.manage == CNIO__SK_MANAGE_NONE || !len || !cnio__skp_inet_ok(sa, len))
        return 0;
    if (shim_conf.manage == CNIO__SK_MANAGE_REMOTE && shim_is_loopback(sa))
        return 0;
    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_STREAM;
}

/*
 * The signals a blocking connect fails with EINTR for, as the kernel decides when one
 * interrupts it: those with a handler installed without SA_RESTART (after one with
 * SA_RESTART the kernel restarts the connect; default actions and ignored signals never
 * interrupt it), less those the thread blocks (its mask into *mask). Into *set; 1 when
 * there is any.
 */
static int shim_eintr_set(sigset_t *set, sigset_t *mask)
{
    int any = 0;

    sigemptyset(set);
    if (pthread_sigmask(SIG_SETMASK, NULL, mask) != 0)
        sigemptyset(mask);
    for (int s = 1; s <= SIGRTMAX; s++) {
        struct sigaction sa;

        if (s == SIGKILL || s == SIGSTOP || sigismember(mask, s) == 1
            || sigaction(s, NULL, &sa) < 0)
            continue;
        if (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN && !(sa.sa_flags & SA_RESTART)) {
            sigaddset(set, s);
            any = 1;
        }
    }
    return any;
}

int shim_outcome(int rc, int err, int64_t ms)
{
    if (rc == 0)
        return ms > shim_conf.slow_ms ? CNIO__SKW_SLOW : CNIO__SKW_PROMPT;
    switch (err) {
    case ECONNREFUSED:
        return CNIO__SKW_REFUSED;
    case ETIMEDOUT:
        return CNIO__SKW_TIMEDOUT;
    case EHOSTUNREACH:
    case ENETUNREACH:
        return CNIO__SKW_UNREACH;
    default:
        return CNIO__SKW_UNKNOWN;
    }
}

enum { SHIM_GAVE_UP = -3, SHIM_SIGNALLED = -4 };

/* 1 when the process has one thread (/proc/self/task holds ".", ".." and it). */
static int shim_one_thread(void)
{
    struct stat st;

    return stat("/proc/self/task", &st) == 0 && st.st_nlink == 3;
}

/*
 * Polls fd for events until deadline (INT64_MAX: none), as a connect waits: 1 when fd
 * is ready, 0 at the deadline, SHIM_SIGNALLED for a signal the program's connect would
 * return for, -1 with errno for a failed poll. Other signals are waited through.
 * With app_timeo (the program's own SO_SNDTIMEO) every handled signal ends the wait, as
 * the kernel's. Else only those of shim_eintr_set: poll cannot say which signal
 * interrupted it, so those are blocked for the wait and watched through a signalfd
 * instead; when one arrives, the signalfd is closed, the thread's own mask comes back
 * and the signal's handler runs at once, as natively, and the wait ends. Signals with
 * SA_RESTART handlers interrupt poll and run as usual; the wait goes on. Only in a
 * process of one thread: elsewhere blocking them would send a signal sent to the process
 * to another thread, which the kernel would have given this one. There (and without an
 * fd for the signalfd) any signal interrupting the wait ends it when there is such a
 * handler.
 */
static int shim_poll_as_connect(int fd, short events, int64_t deadline, int app_timeo)
{
    sigset_t eintr, mask;
    int sfd = -1, any = 0, r;

    if (!app_timeo && (any = shim_eintr_set(&eintr, &mask)) && shim_one_thread()
        && (sfd = signalfd(-1, &eintr, SFD_CLOEXEC | SFD_NONBLOCK)) >= 0)
        pthread_sigmask(SIG_BLOCK, &eintr, &mask);
    for (;;) {
        struct pollfd p[2] = { { .fd = fd, .events = events }, { .fd = sfd, .events = POLLIN } };
        int64_t left = deadline - shim_now_ms();

        r = left > 0 ? poll(p, 2, left > INT_MAX ? INT_MAX : (int)left) : 0;
        if (r > 0) {
            r = p[1].revents ? SHIM_SIGNALLED : 1;
            break;
        }
        if (r < 0 && errno == EINTR) {
            if (!app_timeo && (!any || sfd >= 0))
                continue;
            r = SHIM_SIGNALLED;
            break;
        }
        if (r < 0 || deadline <= shim_now_ms())
            break;
    }
    if (sfd >= 0) {
        shim_rpc_close(sfd);
        pthread_sigmask(SIG_SETMASK, &mask, NULL);   /* a pending one's handler runs now */
    }
    return r;
}

/* How long a blocking connect pauses before it looks again at a setup that woke it while
 * still under way (see shim_wait_connected). */
#define SHIM_SOFT_ERR_PAUSE_MS 10

/* The end of a blocking connect's wait at deadline (r == 0 from the poll): -1/errno. */
static int shim_wait_expired(int fd, int app_timeo, int timeo_errno)
{
    struct sockaddr unspec = { .sa_family = AF_UNSPEC };
    int err = 0;
    socklen_t el = sizeof(err);

    if (app_timeo) {   /* the application's own SO_SNDTIMEO: as the kernel */
        errno = timeo_errno;
        return -1;
    }
    /* Aborted; the disconnect leaves ECONNRESET pending, which the kernel's own time-out
     * would not: taken off. */
    shim_real.connect(fd, &unspec, sizeof(unspec));
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
    errno = ETIMEDOUT;
    return -1;
}

/*
 * Waits for the in-progress setup on fd (to sa, len) until deadline; -1/errno as connect
 * would. Past the application's own SO_SNDTIMEO the errno is timeo_errno: EINPROGRESS
 * for the connect that started the setup, EALREADY for a retry, as the kernel says.
 * The socket is left as the kernel's blocking connect leaves it: connected; or, after a
 * failure, unconnected with no error pending, so that the program's next connect on it
 * starts a new setup (not ECONNABORTED) and its writes say EPIPE.
 * A wake-up is not the end of the setup: the kernel's blocking connect waits for the
 * socket to leave SYN-SENT, through soft errors (an ICMP unreachable answering a SYN that
 * is then sent again) that make poll say POLLERR meanwhile. So the kernel's connect is
 * asked once more at each wake-up: EALREADY means the setup is still under way, and the
 * wait goes on (the error stays pending, as natively, and poll would report it at once:
 * the next look comes after a pause of SHIM_SOFT_ERR_PAUSE_MS).
 */
static int shim_wait_connected(int fd, const struct sockaddr *sa, socklen_t len,
                               int64_t deadline, int app_timeo, int timeo_errno)
{
    int r = shim_poll_as_connect(fd, POLLOUT, deadline, app_timeo);
    int64_t pause;

    for (;;) {
        if (r == SHIM_SIGNALLED) {
            errno = EINTR;
            return -1;
        }
        if (r < 0)
            return -1;
        if (r == 0)
            return shim_wait_expired(fd, app_timeo, timeo_errno);
        /* The kernel's connect once more: it takes the pending error (ECONNREFUSED, ...)
         * and unconnects the socket, or moves it to the connected state (a later
         * connect() then says EISCONN), or says EALREADY while the setup goes on. */
        if (shim_real.connect(fd, sa, len) == 0 || errno == EISCONN)
            return 0;
        if (errno != EALREADY)
            return -1;
        pause = shim_now_ms() + SHIM_SOFT_ERR_PAUSE_MS;
        r = shim_poll_as_connect(-1, 0, pause < deadline ? pause : deadline, app_timeo);
        if (r == 0)
            r = shim_poll_as_connect(fd, POLLOUT, deadline, app_timeo);
    }
}

/* The socket's SO_SNDTIMEO in ms (at least 1), or 0 when it has none. */
static int64_t shim_app_timeo_ms(int fd)
{
    struct timeval tv = { 0, 0 };
    socklen_t tl = sizeof(tv);

    if (getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &tl) < 0 || (!tv.tv_sec && !tv.tv_usec))
        return 0;
    return (int64_t)tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
}

/* The kernel's connect on a blocking socket, bounded by deadline (the shim's) and by
 * app_deadline (the application's SO_SNDTIMEO, counted from when its connect began;
 * 0: none). */
static int shim_connect_blocking(int fd, const struct sockaddr *sa, socklen_t len, int flags,
                                 int64_t deadline, int64_t app_deadline)
{
    int app_timeo = app_deadline && app_deadline < deadline;
    int rc, e;

    if (app_timeo)
        deadline = app_deadline;
    if (fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return shim_real.connect(fd, sa, len);
    rc = shim_real.connect(fd, sa, len);
    /* EALREADY: a setup started by an earlier connect (interrupted by a signal, or past
     * SO_SNDTIMEO) is still under way; a blocking connect waits for it, as Linux's does. */
    if (rc < 0 && (errno == EINPROGRESS || errno == EALREADY))
        rc = shim_wait_connected(fd, sa, len, deadline, app_timeo, errno);
    e = errno;
    fcntl(fd, F_SETFL, flags);
    errno = e;
    return rc;
}

/* The kernel's connect started without admission, because the program's own limit came
 * first: on a blocking socket it is started with O_NONBLOCK set for the call, and connect
 * then says why (EINPROGRESS past SO_SNDTIMEO, EINTR for a signal) while the setup goes
 * on, as the kernel's blocking connect does in both cases; a non-blocking socket gets
 * the kernel's own answer. */
static int shim_connect_unpaced(int fd, const struct sockaddr *sa, socklen_t len, int flags,
                                int why)
{
    int rc, e;

    SHIM_ADD(unpaced, 1);
    if ((flags & O_NONBLOCK) || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return shim_real.connect(fd, sa, len);
    rc = shim_real.connect(fd, sa, len);
    e = rc < 0 && errno == EINPROGRESS ? why : errno;
    fcntl(fd, F_SETFL, flags);
    errno = e;
    return rc;
}

/* Waits for the proxy's next message on rpc: 0 when one is there; SHIM_GAVE_UP past
 * give_up, or SHIM_SIGNALLED for a signal the program's connect would return for (see
 * shim_poll_as_connect); -2 when the proxy is silent past its time-out (its heartbeats
 * stopped: errno ETIMEDOUT, which the line that the proxy is lost says) or poll fails. */
static int shim_admit_wait(int rpc, int64_t give_up, int app_timeo)
{
    int64_t silent = shim_now_ms() + shim_conf.proxy_timeout_ms;
    int r = shim_poll_as_connect(rpc, POLLIN, give_up < silent ? give_up : silent, app_timeo);

    if (r > 0)
        return 0;
    if (r == SHIM_SIGNALLED)
        return r;
    if (r == 0 && give_up <= silent)
        return SHIM_GAVE_UP;
    if (r == 0)   /* (errno was whatever came before: "Invalid argument", say) */
        errno = ETIMEDOUT;
    return -2;
}

/* Asks for admission: 0 go (*token: the admission's, for a later OUTCOME), -1 with
 * errno (the destination failed: fail fast), -2 (the proxy failed us: fall back to
 * libc), or, while queued, SHIM_GAVE_UP past give_up (the program's own limit) or
 * SHIM_SIGNALLED (a signal the program's connect returns for). The first answer is
 * always awaited (a go, a verdict, or "queued": one round trip to the proxy). */
static int shim_admit(int rpc, const struct sockaddr *sa, socklen_t len, int nonblock,
                      int64_t deadline, int64_t give_up, int app_timeo, uint64_t *token)
{
    struct cnio__skp_small m = { .type = CNIO__SKP_ADMIT_REQ };
    int first = 1, r;

    m.salen = len;
    memcpy(&m.sa, sa, len);
    m.i[0] = (int32_t)(deadline - shim_now_ms());
    m.i[1] = nonblock;
    if (shim_rpc_send_small(rpc, &m) < 0)
        return -2;
    for (;;) {
        r = shim_admit_wait(rpc, first ? INT64_MAX : give_up, app_timeo);
        if (r < 0)
            return r;
        if (shim_rpc_recv_small(rpc, &m) < 0 || m.type != CNIO__SKP_ADMIT_REP)
            return -2;
        first = 0;
        if (m.i[0] == CNIO__SKP_GO) {
            *token = (uint64_t)(uint32_t)m.i[4] << 32 | (uint32_t)m.i[3];
            return 0;
        }
        if (m.i[0] == CNIO__SKP_FAIL) {
            errno = m.i[1] > 0 ? m.i[1] : ECONNABORTED;
            return -1;
        }
        if (shim_now_ms() >= give_up)   /* queued, and the program's limit has come */
            return SHIM_GAVE_UP;
    }
}

static void shim_report(int rpc, int rc, int err, int64_t start)
{
    struct cnio__skp_small m = { .type = CNIO__SKP_DONE };
    int64_t ms = shim_now_ms() - start;

    m.i[0] = shim_outcome(rc, err, ms);
    if (rc < 0 && err == EINPROGRESS)
        m.i[0] = CNIO__SKW_INPROGRESS;
    m.i[1] = (int32_t)ms;
    m.i[2] = err;
    shim_rpc_send_small(rpc, &m);
}

/* Without the proxy: the kernel's connect, still bounded by a full deadline from now. */
static int shim_connect_alone(int fd, const struct sockaddr *sa, socklen_t len, int flags)
{
    int64_t now = shim_now_ms(), app_ms;

    if (flags & O_NONBLOCK)
        return shim_real.connect(fd, sa, len);
    app_ms = shim_app_timeo_ms(fd);
    return shim_connect_blocking(fd, sa, len, flags, now + shim_conf.connect_timeout_ms,
                                 app_ms ? now + app_ms : 0);
}

/* sa, len: the caller's, for the kernel; dest, dlen: the same address for the proxy. */
static int shim_connect_managed(int fd, const struct sockaddr *sa, socklen_t len,
                                const struct sockaddr *dest, socklen_t dlen, int flags)
{
    int64_t t0 = shim_now_ms(), deadline = t0 + shim_conf.connect_timeout_ms, t1;
    int64_t app_ms = (flags & O_NONBLOCK) ? 0 : shim_app_timeo_ms(fd);
    int64_t app_deadline = app_ms ? t0 + app_ms : 0, give_up = deadline;
    int nonblock = !!(flags & O_NONBLOCK), rpc = shim_rpc_open(), rc, e;
    uint64_t token = 0;

    if (rpc < 0)
        return shim_connect_alone(fd, sa, len, flags);
    /* How long the program lets connect wait: a non-blocking socket not at all (what
     * CNIO_SOCKETS_NONBLOCK_WAIT_MS allows), a blocking one its SO_SNDTIMEO. */
    if (nonblock)
        give_up = t0 + shim_conf.nonblock_wait_ms;
    else if (app_deadline && app_deadline < deadline)
        give_up = app_deadline;
    rc = shim_admit(rpc, dest, dlen, nonblock, deadline, give_up, app_ms > 0, &token);
    t1 = shim_now_ms();
    SHIM_ADD(admit_wait_ms, (uint64_t)(t1 - t0));
    if (rc == SHIM_GAVE_UP && !nonblock && give_up >= deadline) {   /* the shim's deadline */
        shim_rpc_close(rpc);
        errno = ETIMEDOUT;
        return -1;
    }
    if (rc == SHIM_GAVE_UP || rc == SHIM_SIGNALLED) {
        /* Leaving the queue (the proxy drops a request whose connection closes), the
         * setup starts now, unpaced, as the program's connect would have it. */
        shim_rpc_close(rpc);
        return shim_connect_unpaced(fd, sa, len, flags, rc == SHIM_SIGNALLED ? EINTR
                                                                             : EINPROGRESS);
    }
    if (rc == -2) {
        shim_proxy_failed("stopped answering");
        shim_rpc_close(rpc);
        return shim_connect_alone(fd, sa, len, flags);
    }
    if (rc == -1) {
        shim_rpc_close(rpc);
        if (nonblock)   /* never failed at once: the kernel's connect (see above) */
            return shim_real.connect(fd, sa, len);
        SHIM_ADD(failed_fast, 1);
        return -1;
    }
    SHIM_ADD(managed, 1);
    if (nonblock)
        rc = shim_real.connect(fd, sa, len);
    else
        rc = shim_connect_blocking(fd, sa, len, flags, deadline, app_deadline);
    e = rc < 0 ? errno : 0;
    shim_report(rpc, rc, e, t1);
    shim_rpc_close(rpc);
    if (rc < 0 && e == EINPROGRESS)
        shim_pend_arm(fd, token, t1);
    if (rc < 0)
        errno = e;
    return rc;
}

/* The socket's TCP state (TCP_CLOSE for a fresh one), or -1 when it has none to say. */
static int shim_tcp_state(int fd)
{
    struct tcp_info ti;
    socklen_t tl = sizeof(ti);

    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) < 0 || tl < 1)
        return -1;
    return ti.tcpi_state;
}

SHIM_EXPORT int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    struct sockaddr_storage dest;
    socklen_t dlen;
    int flags, saved = errno, rc, state;

    shim_init();
    SHIM_ADD(connects, 1);
    dlen = shim_copy_in(sa, len, &dest) == 0 ? shim_dest(&dest, len) : 0;
    if (!shim_managed(fd, (struct sockaddr *)&dest, dlen) || (flags = fcntl(fd, F_GETFL)) < 0) {
        errno = saved;
        return shim_real.connect(fd, sa, len);
    }
    /* Only a socket with no connection yet asks for admission. One whose setup is under
     * way (a retry after EINTR or SO_SNDTIMEO) had its admission: a blocking retry waits
     * for it within a deadline. A connected one (or one whose non-blocking setup has just
     * completed) gets the kernel's own answer: EISCONN, or 0 once. */
    state = shim_tcp_state(fd);
    if (state > 0 && state != TCP_CLOSE && (state != TCP_SYN_SENT || (flags & O_NONBLOCK))) {
        errno = saved;
        rc = shim_real.connect(fd, sa, len);
        shim_pend_connect_said(fd, rc, rc == 0 ? saved : errno);   /* its outcome, learnt */
        return rc;
    }
    rc = state == TCP_SYN_SENT
             ? shim_connect_alone(fd, sa, len, flags)
             : shim_connect_managed(fd, sa, len, (struct sockaddr *)&dest, dlen, flags);
    if (rc == 0)
        errno = saved;
    return rc;
}
