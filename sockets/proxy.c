/*
 * proxy.c - cnio-proxy, the job proxy of the socket shim: one process per job and node
 * (in a multi-node job, the head node's serves the whole job: proxy_job.c), started by the first `cnio run --sockets` of the job. It
 * listens on a unix socket in a 0700 directory, admits peers of its own uid only, and
 * serves name lookups (proxy_names.c) and connection admission (proxy_admit.c) in one
 * poll loop. It exits proxy_idle_ms after the last application process has gone.
 *
 * File descriptors: the proxy raises its soft RLIMIT_NOFILE to the hard limit and keeps
 * its clients within it: PROXY_FD_RESERVE fds stay free for itself (listeners, the
 * resolver threads' sockets, the lock), sessions (one per process, for its whole life)
 * may take all but a quarter of the rest, so requests always find room. A connection
 * beyond that is accepted and closed at once (the shim then uses libc), a session beyond
 * its share is dropped at its hello, each said once in the log per episode; the poll set
 * holds only open fds. A poll that fails is logged once and retried after a pause, never
 * in a busy loop, and the proxy exits when it keeps failing for PROXY_POLL_FAIL_MS.
 *
 *   cnio-proxy --socket PATH [--ready-fd N] [--lock FILE] [--log FILE | --keep-log FILE]
 *                                             serve (N: written one byte once listening)
 *   cnio-proxy stats PATH                     print a running proxy's counters
 *
 * Files (proxy_files.c): PATH is bound only where there is nothing, or a stale socket
 * (refused connections) that is then replaced; the log is opened by the proxy itself,
 * and only a --log it created is removed at exit; the socket likewise, only while it is
 * the one the proxy bound. With --lock, what dead proxies of other jobs left beside it
 * is swept once the proxy listens (proxy_sweep.c).
 */
#include "proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PROXY_MAX_CLIENTS 8192
#define PROXY_SLOT_GRACE_MS 5000
#define PROXY_AUTH_MS 5000   /* a TCP peer proves the job's key within this */
#define PROXY_FD_RESERVE 16   /* fds kept free for the proxy's own use */
#define PROXY_POLL_FAIL_MS 5000
/* Bytes of report a stats reply holds at most: some 17 messages, well within what a unix
 * socket takes without blocking (the proxy's sends do not wait). */
#define PROXY_STATS_MAX 65536

/* The fd budget of the clients (proxy_fd_init) and what was turned away. */
static int proxy_fd_budget = PROXY_MAX_CLIENTS, proxy_session_budget = PROXY_MAX_CLIENTS;
static int proxy_spare_fd = -1;   /* given up to accept a connection at EMFILE, to close it */
static int proxy_refusing, proxy_sessions_refusing;
static uint64_t proxy_refused, proxy_sessions_refused;

static volatile sig_atomic_t proxy_stop;
static const char *proxy_sock_path, *proxy_lock_path;
static struct px_client *proxy_clients[PROXY_MAX_CLIENTS];
static int proxy_nclients;

int64_t px_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int px_send(struct px_client *c, const struct cnio__skp_msg *m)
{
    unsigned char buf[CNIO__SKP_MAX];
    int n = cnio__skp_encode(m, buf, sizeof(buf));

    if (n < 0 || c->dead)
        return -1;
    /* Replies are small and the shim reads each one: a full socket buffer means a
     * client that does not follow the protocol. */
    if (send(c->fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n)
        return -1;
    return 0;
}

static void proxy_on_signal(int sig)
{
    proxy_stop = sig;
}

/* Raises the soft fd limit to the hard one and sets the clients' budgets from it. */
static void proxy_fd_init(void)
{
    struct rlimit rl;
    rlim_t lim;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    lim = rl.rlim_cur;
    proxy_fd_budget = lim > (rlim_t)PROXY_MAX_CLIENTS + PROXY_FD_RESERVE ? PROXY_MAX_CLIENTS
                      : lim > 2 * PROXY_FD_RESERVE ? (int)lim - PROXY_FD_RESERVE : (int)lim / 2;
    proxy_session_budget = proxy_fd_budget - (proxy_fd_budget / 4 > 4 ? proxy_fd_budget / 4 : 4);
    if (proxy_session_budget < 1)
        proxy_session_budget = 1;
    proxy_spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* fds the clients hold: their own and their relays to the job proxy. */
static int proxy_fds_used(void)
{
    int n = proxy_nclients;

    for (int i = 0; i < proxy_nclients; i++)
        n += proxy_clients[i]->up >= 0;
    return n;
}

/* Turns one waiting connection on lfd away: accepted and closed, with the spare fd
 * given up for it when the process is out of fds. Logs the first of an episode. */
static int proxy_shed(int lfd, int err)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

    if (fd < 0 && (errno == EMFILE || errno == ENFILE) && proxy_spare_fd >= 0) {
        close(proxy_spare_fd);
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        proxy_spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0)
        return -1;
    close(fd);
    proxy_refused++;
    if (!proxy_refusing)
        fprintf(stderr, "cnio-proxy: refusing connections: %s (%d clients, fd limit %d); "
                "their processes use libc\n", err == EMFILE ? "out of file descriptors"
                : "client limit reached", proxy_nclients, proxy_fd_budget + PROXY_FD_RESERVE);
    proxy_refusing = 1;
    return 0;
}

static void proxy_accept(int lfd)
{
    int used = proxy_fds_used();

    for (;;) {
        int fd = -1;
        struct ucred cr;
        socklen_t cl = sizeof(cr);
        struct px_client *c;

        if (used < proxy_fd_budget)
            fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        else
            errno = EUSERS;
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == EUSERS)
                while (proxy_shed(lfd, errno == EUSERS ? EUSERS : EMFILE) == 0)
                    ;
            return;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 || cr.uid != geteuid()
            || !(c = calloc(1, sizeof(*c)))) {
            close(fd);
            continue;
        }
        proxy_refusing = 0;
        used++;
        c->fd = fd;
        c->up = -1;
        c->rank = -1;
        proxy_clients[proxy_nclients++] = c;
    }
}

/* The job proxy's TCP peers: node proxies, authenticated by their first bytes. */
static void proxy_accept_job(void)
{
    struct px_client *c;

    while (proxy_fds_used() < proxy_fd_budget && (c = px_job_accept()))
        proxy_clients[proxy_nclients++] = c;
    if (proxy_fds_used() >= proxy_fd_budget || errno == EMFILE || errno == ENFILE)
        proxy_shed(px_job_listen_fd(), proxy_fds_used() >= proxy_fd_budget ? EUSERS : EMFILE);
}

/* A process's session, beyond the sessions' share of the fds: dropped (-1), said once
 * per episode. The process goes on; the proxy only does not count it as alive. */
static int proxy_session_room(void)
{
    int live = 0;

    for (int i = 0; i < proxy_nclients; i++)
        live += proxy_clients[i]->session;
    if (live < proxy_session_budget) {
        proxy_sessions_refusing = 0;
        return 0;
    }
    proxy_sessions_refused++;
    if (!proxy_sessions_refusing)
        fprintf(stderr, "cnio-proxy: %d sessions, as many as the fd limit (%d) allows: "
                "dropping the sessions of new processes (they are served, not counted)\n",
                live, proxy_fd_budget + PROXY_FD_RESERVE);
    proxy_sessions_refusing = 1;
    return -1;
}

/* The proxy's report, whole, into t (free t->buf): sessions, job, names, destinations. */
static void proxy_report(struct px *px, struct px_text *t)
{
    int live = 0;

    for (int i = 0; i < proxy_nclients; i++)
        live += proxy_clients[i]->session;
    px_text_add(t, "proxy pid %ld\nsessions live %d total %llu\n"
                "refused connections %llu sessions %llu fd_limit %d\n", (long)getpid(), live,
                (unsigned long long)px->sessions_total, (unsigned long long)proxy_refused,
                (unsigned long long)proxy_sessions_refused, proxy_fd_budget + PROXY_FD_RESERVE);
    px_job_report(t);
    px_names_report(t);
    px_admit_report(px, t);
}

/* A stats reply: the report in as many STATS_REP messages as it takes, each of whole
 * lines (a line longer than a message is split), all but the last with i0 = 1. */
static void proxy_stats(struct px *px, struct px_client *c)
{
    struct px_text t = { 0 };
    size_t off = 0;

    proxy_report(px, &t);
    px_text_fit(&t, PROXY_STATS_MAX);
    do {
        struct cnio__skp_msg m = { .type = CNIO__SKP_STATS_REP };
        size_t n = t.len - off;

        if (n > CNIO__SKP_NAME_MAX) {
            n = CNIO__SKP_NAME_MAX;
            while (n > 0 && t.buf[off + n - 1] != '\n')
                n--;
            if (!n)
                n = CNIO__SKP_NAME_MAX;
        }
        if (n)
            memcpy(m.name, t.buf + off, n);
        off += n;
        m.i[0] = off < t.len;
        if (px_send(c, &m) < 0)
            c->dead = 1;
    } while (off < t.len && !c->dead);
    free(t.buf);
}

/* Acts on one message from c; -1 drops the client. */
static int proxy_handle(struct px *px, struct px_client *c, const struct cnio__skp_msg *m)
{
    int64_t now = px_now_ms();

    switch (m->type) {
    case CNIO__SKP_HELLO:
        if (c->session || proxy_session_room() < 0)
            return -1;
        c->session = 1;
        c->pid = m->i[0];
        c->rank = m->i[1];
        px->sessions_total++;
        return 0;
    case CNIO__SKP_GAI_REQ:
    case CNIO__SKP_GNI_REQ:
        if (px_job_relay_open(px, c, m))
            return 0;
        return px_names_request(px, c, m, now);
    case CNIO__SKP_ADMIT_REQ:
        if (!px_job_node_local(&m->sa) && px_job_relay_open(px, c, m))
            return 0;
        return px_admit_request(px, c, m, now);
    case CNIO__SKP_DONE:
        return px_admit_done(px, c, m, now);
    case CNIO__SKP_OUTCOME:
        if (!px_admit_knows(px, m) && px_job_relay_open(px, c, m))   /* the job proxy's token */
            return 0;
        return px_admit_outcome(px, c, m, now);
    case CNIO__SKP_STATS_REQ:
        proxy_stats(px, c);
        return 0;
    default:
        return -1;   /* replies are not requests */
    }
}

/* The job proxy failed c's relayed conversation (what: how): the request it had not
 * answered is served here, on the same connection (proxy_relay.c). -1 drops c. */
static int proxy_relay_lost(struct px *px, struct px_client *c, const char *what)
{
    static struct cnio__skp_msg req;

    return px_relay_lost(c, what, &req) ? proxy_handle(px, c, &req) : 0;
}

/* Reads what c sent and handles every whole message; -1 when c must go. */
static int proxy_read(struct px *px, struct px_client *c)
{
    ssize_t n;
    size_t off = 0;

    if (c->up >= 0) {   /* a conversation relayed to the job proxy */
        int r = px_job_pass(c->fd, c->up, 1);

        return r == -2 ? proxy_relay_lost(px, c, "not taking requests") : r;
    }
    n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        return -1;
    if (n > 0)
        c->inlen += (size_t)n;
    if (c->auth && (px_job_auth(c) < 0 || c->auth))
        return c->auth && c->inlen >= 64 ? -1 : 0;
    while (c->up < 0) {
        struct cnio__skp_msg m;
        int k = cnio__skp_parse(c->in + off, c->inlen - off, &m);

        if (k < 0)
            return -1;
        if (k == 0)
            break;
        off += (size_t)k;
        if (proxy_handle(px, c, &m) < 0 || c->dead)
            return -1;
    }
    if (c->up >= 0 && off < c->inlen) {   /* relayed from now on: pass the rest on */
        if (send(c->up, c->in + off, c->inlen - off, MSG_NOSIGNAL | MSG_DONTWAIT)
            != (ssize_t)(c->inlen - off))
            return -1;
        off = c->inlen;
    }
    memmove(c->in, c->in + off, c->inlen - off);
    c->inlen -= off;
    return 0;
}

/* Lets client c go: its slot and lookups given back, its fds closed, c freed (the
 * caller takes it out of proxy_clients). */
static void proxy_release(struct px *px, struct px_client *c)
{
    px_admit_drop(px, c, px_now_ms());
    px_names_drop(c);
    close(c->fd);
    if (c->up >= 0)
        close(c->up);
    px_relay_free(c);
    free(c);
}

/* Lets the dead clients go, in one pass; the rest keep their order, the order they
 * were accepted in. (A client that a release kills is let go on the next pass.) */
static void proxy_reap(struct px *px)
{
    int kept = 0;

    for (int i = 0; i < proxy_nclients; i++) {
        struct px_client *c = proxy_clients[i];

        if (c->dead)
            proxy_release(px, c);
        else
            proxy_clients[kept++] = c;
    }
    proxy_nclients = kept;
}

/* Takes back slots held far past their deadline by processes that stopped talking,
 * drops TCP peers that did not authenticate in time, and serves here the relayed
 * requests the job proxy leaves unanswered (px_relay_silent). The ms until the next of
 * those, at most wait. */
static int64_t proxy_expire(struct px *px, int64_t now, int64_t wait)
{
    for (int i = 0; i < proxy_nclients; i++) {
        struct px_client *c = proxy_clients[i];

        if (c->state == PX_HOLDING && now > c->deadline_ms + PROXY_SLOT_GRACE_MS)
            px_admit_drop(px, c, now);
        if (c->auth && now > c->since_ms + PROXY_AUTH_MS)   /* no proof of the job's key */
            c->dead = 1;
        if (!c->dead && px_relay_silent(px, c, now, &wait)
            && proxy_relay_lost(px, c, "not answering") < 0)
            c->dead = 1;
    }
    return wait;
}

/*
 * The proxy is idle: 1 when it may exit, with its socket and lock file removed (the
 * lock stays beside a dead proxy's log it kept, px_log_kept). It takes
 * the job's lock first (without waiting), so that no `cnio run` is between finding this
 * proxy alive and its program's first connection: a starter holding the lock, or a
 * connection waiting to be accepted, keeps the proxy serving (0). With force (a signal
 * stops the proxy), it waits for the lock up to 1 s and exits whatever happens.
 */
static int proxy_retire(int lfd, int force)
{
    struct pollfd p = { .fd = lfd, .events = POLLIN };
    int fd;

    if (!proxy_lock_path) {
        px_sock_unlink(proxy_sock_path);
        return 1;
    }
    fd = cnio__sk_lock_file(proxy_lock_path, 0, force ? 1000 : 0);
    if (fd == -ETIMEDOUT && !force)
        return 0;
    if (fd >= 0 && !force && poll(&p, 1, 0) > 0) {
        close(fd);
        return 0;
    }
    px_sock_unlink(proxy_sock_path);
    if (fd >= 0) {
        if (!px_log_kept())   /* else the mark a sweep goes by to remove that log */
            unlink(proxy_lock_path);
        close(fd);
    }
    return 1;
}

/* Poll set: the unix listener, the resolver's pipe, the job proxy's TCP listener, the
 * node proxy's session with it and its re-dial of that session, then each client's fd
 * and its relay to the job proxy; only open fds are in it (poll refuses more entries
 * than RLIMIT_NOFILE), and pfd_who says whose each is: -1 - k for the fixed slot k, 2 i
 * (+1 for the relay) for client i. */
static struct pollfd pfd[2 * PROXY_MAX_CLIENTS + 5];
static int pfd_who[2 * PROXY_MAX_CLIENTS + 5];
static int pfd_n;

static void proxy_pfd_add(int fd, int who, short events)
{
    if (fd < 0)
        return;
    pfd[pfd_n] = (struct pollfd){ .fd = fd, .events = events };
    pfd_who[pfd_n++] = who;
}

/* poll() over the set: 1 when something is ready, 0 on time-out or EINTR, -1 when it
 * failed (errno). */
static int proxy_poll(int lfd, int64_t wait)
{
    short redial_events = 0;
    int r, redial_fd = px_job_redial_fd(&redial_events);

    pfd_n = 0;
    proxy_pfd_add(lfd, -1, POLLIN);
    proxy_pfd_add(px_names_fd(), -2, POLLIN);
    proxy_pfd_add(px_job_listen_fd(), -3, POLLIN);
    proxy_pfd_add(px_job_session_fd(), -4, POLLIN);
    proxy_pfd_add(redial_fd, -5, redial_events);
    for (int i = 0; i < proxy_nclients; i++) {
        proxy_pfd_add(proxy_clients[i]->fd, 2 * i, POLLIN);
        proxy_pfd_add(proxy_clients[i]->up, 2 * i + 1, POLLIN);
    }
    r = poll(pfd, (nfds_t)pfd_n, (int)wait);
    if (r < 0 && errno == EINTR)
        return 0;
    return r < 0 ? -1 : r > 0;
}

/* What client i has ready: bit 0 its own fd, bit 1 its relay (from pfd_rev). */
static unsigned char pfd_rev[PROXY_MAX_CLIENTS];

/* What the job proxy sent on c's relay, passed on to c; a relay that ends before its
 * answer is served here. -1 drops c. */
static int proxy_relay_back(struct px *px, struct px_client *c)
{
    int r = px_relay_back(c, px_now_ms());

    return r == -2 ? proxy_relay_lost(px, c, "gone") : r;
}

/* Serves what proxy_poll found ready. */
static void proxy_serve(struct px *px, int lfd)
{
    int listen_ready = 0, job_ready = 0;

    memset(pfd_rev, 0, (size_t)proxy_nclients);
    for (int k = 0; k < pfd_n; k++) {
        if (!pfd[k].revents)
            continue;
        if (pfd_who[k] >= 0)
            pfd_rev[pfd_who[k] / 2] |= (unsigned char)(1 << (pfd_who[k] % 2));
        else if (pfd_who[k] == -1)
            listen_ready = 1;
        else if (pfd_who[k] == -2)
            px_names_ready(px, px_now_ms());
        else if (pfd_who[k] == -3)
            job_ready = 1;
        else if (pfd_who[k] == -5)
            px_job_redial_ready();
        else {
            char sink[64];

            if (recv(px_job_session_fd(), sink, sizeof(sink), MSG_DONTWAIT) <= 0)
                px_job_session_lost();
        }
    }
    /* Oldest first: what a client sent before another connected is acted on before
     * what that one asks (a program's last DONE, then `cnio-proxy stats`). */
    for (int i = 0; i < proxy_nclients; i++) {
        struct px_client *c = proxy_clients[i];

        if (!c->dead
            && (((pfd_rev[i] & 1) && proxy_read(px, c) < 0)
                || ((pfd_rev[i] & 2) && c->up >= 0 && proxy_relay_back(px, c) < 0)))
            c->dead = 1;
    }
    proxy_reap(px);
    if (listen_ready)
        proxy_accept(lfd);
    if (job_ready)
        proxy_accept_job();
}

/* A failed poll: said once, then retried after a pause (never a busy loop); 1 when it
 * has kept failing for PROXY_POLL_FAIL_MS and the proxy must exit. */
static int proxy_poll_failed(int64_t *since, int64_t now)
{
    struct timespec pause = { 0, 100 * 1000000 };

    if (!*since) {
        fprintf(stderr, "cnio-proxy: poll over %d fds: %s; retrying\n", pfd_n, strerror(errno));
        *since = now;
    }
    if (now - *since >= PROXY_POLL_FAIL_MS) {
        fprintf(stderr, "cnio-proxy: poll kept failing for %d ms: exiting\n", PROXY_POLL_FAIL_MS);
        return 1;
    }
    nanosleep(&pause, NULL);
    return 0;
}

static void proxy_loop(struct px *px, int lfd)
{
    int64_t idle_since = px_now_ms(), failing_since = 0;
    int r;

    while (!proxy_stop) {
        int64_t now = px_now_ms(), wait = px_admit_tick(px, now), nwait = px_names_tick(px, now);
        int64_t jwait = px_job_tick(now);   /* the re-dial's start and deadline */
        int live = 0;

        wait = proxy_expire(px, now, wait);
        proxy_reap(px);
        for (int i = 0; i < proxy_nclients; i++)
            live += proxy_clients[i]->session;
        if (live || proxy_nclients)
            idle_since = now;
        else if (now - idle_since >= px->conf.proxy_idle_ms) {
            if (proxy_retire(lfd, 0))
                break;
            idle_since = now - px->conf.proxy_idle_ms + 20;   /* busy: again in 20 ms */
        }
        if (nwait < wait)
            wait = nwait;
        if (jwait < wait)
            wait = jwait;
        if (!live && !proxy_nclients && px->conf.proxy_idle_ms < wait)
            wait = px->conf.proxy_idle_ms + 1;
        r = proxy_poll(lfd, wait);
        if (r > 0)
            proxy_serve(px, lfd);
        if (r < 0 && proxy_poll_failed(&failing_since, now)) {
            proxy_stop = -1;   /* retired as after a signal */
            break;
        }
        if (r >= 0)
            failing_since = 0;
    }
}

static const char proxy_usage[] =
    "usage: cnio-proxy --socket PATH [--ready-fd N] [--lock FILE] [--log FILE | --keep-log FILE]\n"
    "       cnio-proxy stats PATH\n\n"
    "The job proxy of the socket shim, started by `cnio run --sockets` (not by hand):\n"
    "serves name lookups and connection admission to the job's processes on a unix\n"
    "socket, and exits when the last of them has gone. `stats PATH` prints a running\n"
    "proxy's counters.\n"
    "  --socket PATH    the unix socket to listen on\n"
    "  --ready-fd N     write one byte to fd N once listening\n"
    "  --lock FILE      the job's lock file, removed at exit\n"
    "  --log FILE       the proxy's log (its stdout and stderr, appended to); removed\n"
    "                   after a clean exit if the proxy created it or found it empty\n"
    "                   (one with lines in it is kept, and its --lock FILE with it)\n"
    "  --keep-log FILE  the same, kept\n"
    "  -h, --help       this text\n"
    "Each option at most once; --log and --keep-log not together.\n";

/* Takes val for option opt into *slot: 0, or -1 (said) when opt was given already or
 * val is empty. */
static int proxy_opt(const char *opt, const char *val, const char **slot)
{
    if (*slot) {
        fprintf(stderr, "cnio-proxy: %s given twice\n", opt);
        return -1;
    }
    if (!*val) {
        fprintf(stderr, "cnio-proxy: %s given an empty value\n", opt);
        return -1;
    }
    *slot = val;
    return 0;
}

/* --ready-fd's value: the number of an open file descriptor, into *fd; 0, or -1 (said). */
static int proxy_ready_fd(const char *val, int *fd)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(val, &end, 10);
    if (val[0] < '0' || val[0] > '9' || errno || *end || v > INT_MAX) {
        fprintf(stderr, "cnio-proxy: --ready-fd %s: not a file descriptor's number\n", val);
        return -1;
    }
    if (fcntl((int)v, F_GETFD) < 0) {
        fprintf(stderr, "cnio-proxy: --ready-fd %s: %s\n", val, strerror(errno));
        return -1;
    }
    *fd = (int)v;
    return 0;
}

/* The options of a proxy that serves: 0, or 2 after what is wrong and the usage (an
 * option it does not know, one without its value, given twice or empty, --ready-fd not
 * an open fd's number, both --log and --keep-log, no --socket). */
static int proxy_args(int argc, char **argv, const char **path, int *ready, const char **log,
                      int *removable)
{
    const char *ready_s = NULL, *lock = NULL, *rm_log = NULL, *keep_log = NULL;
    int i, bad = 0;

    for (i = 1; i + 1 < argc && !bad; i += 2) {
        const char *opt = argv[i];
        const char **slot = !strcmp(opt, "--socket") ? path
                            : !strcmp(opt, "--ready-fd") ? &ready_s
                            : !strcmp(opt, "--lock") ? &lock
                            : !strcmp(opt, "--log") ? &rm_log
                            : !strcmp(opt, "--keep-log") ? &keep_log : NULL;

        if (!slot)
            break;
        bad = proxy_opt(opt, argv[i + 1], slot) < 0;
    }
    if (bad)
        goto usage;
    if (i < argc)
        fprintf(stderr, "cnio-proxy: %s: %s\n", argv[i], i + 1 < argc || argv[i][0] != '-'
                ? "not an option of cnio-proxy" : "no value given");
    else if (!*path)
        fprintf(stderr, "cnio-proxy: no --socket PATH given\n");
    else if (rm_log && keep_log)
        fprintf(stderr, "cnio-proxy: --log and --keep-log: give one of them (the log "
                "removed at a clean exit, or kept)\n");
    else if (!ready_s || proxy_ready_fd(ready_s, ready) == 0) {
        proxy_lock_path = lock;
        *log = rm_log ? rm_log : keep_log;
        *removable = rm_log != NULL;
        return 0;
    }
usage:
    fputs(proxy_usage, stderr);
    return 2;
}

/* The proxy runs on any CPU the process may use, not the one rank it was started from
 * was bound to (mpirun --bind-to core): its resolver threads and admissions would take
 * that rank's core. The kernel keeps it within its cpuset (a batch system's); a
 * failure leaves the binding as it was. */
static void proxy_unbind(void)
{
    long n = sysconf(_SC_NPROCESSORS_CONF);
    cpu_set_t all;

    CPU_ZERO(&all);
    for (long i = 0; i < n && i < CPU_SETSIZE; i++)
        CPU_SET((int)i, &all);
    (void)sched_setaffinity(0, sizeof(all), &all);
}

int main(int argc, char **argv)
{
    static struct px px;
    static char abs_sock[PATH_MAX], abs_log[PATH_MAX], abs_lock[PATH_MAX];
    struct px_text report = { 0 };
    const char *path = NULL, *log = NULL;
    int ready = -1, removable = 0, lfd;

    if (argc >= 2 && !strcmp(argv[1], "stats")) {
        if (argc == 3)
            return px_stats_print(argv[2]);
        fprintf(stderr, "cnio-proxy: stats takes one PATH, the socket of a proxy\n");
        fputs(proxy_usage, stderr);
        return 2;
    }
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(proxy_usage, stdout);
        return 0;
    }
    if (proxy_args(argc, argv, &path, &ready, &log, &removable))
        return 2;
    if (!(path = px_abs_path(path, abs_sock, sizeof(abs_sock)))
        || (log && !(log = px_abs_path(log, abs_log, sizeof(abs_log))))
        || (proxy_lock_path && !(proxy_lock_path = px_abs_path(proxy_lock_path, abs_lock,
                                                             sizeof(abs_lock)))))
        return 1;
    if (log && px_log_open(log, removable) < 0)
        return 1;
    proxy_sock_path = path;
    cnio__sk_conf_load(&px.conf);
    if (px.conf.bad[0])
        fprintf(stderr, "cnio-proxy: settings not taken as given: %s\n", px.conf.bad);
    px.beat_ms = px.conf.proxy_timeout_ms / 3 < 1000 ? px.conf.proxy_timeout_ms / 3 : 1000;
    proxy_fd_init();
    proxy_unbind();
    if (chdir("/") < 0)   /* hold no directory of the job busy */
        return 1;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, proxy_on_signal);
    signal(SIGINT, proxy_on_signal);
    lfd = px_sock_listen(path);
    if (lfd < 0)
        return 1;
    if (px_job_start(&px) < 0)
        fprintf(stderr, "cnio-proxy: no job proxy (%s): serving this node alone\n",
                strerror(errno));
    if (px_names_start() < 0) {
        fprintf(stderr, "cnio-proxy: cannot start the resolver threads: %s%s\n",
                strerror(errno), errno == EMFILE ? " (raise the fd limit: ulimit -n)" : "");
        px_sock_unlink(path);
        return 1;
    }
    if (ready >= 0) {
        (void)!write(ready, "r", 1);
        close(ready);
    }
    if (proxy_lock_path)   /* started by `cnio run`: other jobs' leftovers in its run directory */
        px_sweep(proxy_lock_path);
    proxy_loop(&px, lfd);
    if (proxy_stop)   /* a signal, or poll kept failing: not retired by the loop */
        proxy_retire(lfd, 1);
    proxy_report(&px, &report);
    fprintf(stderr, "cnio-proxy: exiting; final report:\n%.*s", (int)report.len,
            report.buf ? report.buf : "");
    if (report.lost)
        fprintf(stderr, "... %lu more lines not shown (no memory)\n", report.lost);
    free(report.buf);
    if (log)   /* a log the proxy created for --log: nothing in it to keep after a clean exit */
        px_log_remove(log);
    close(lfd);
    px_job_close();
    while (proxy_nclients)
        proxy_release(&px, proxy_clients[--proxy_nclients]);
    px_names_free();
    return 0;
}
