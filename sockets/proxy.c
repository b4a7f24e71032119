/*
 * proxy.c - cnio-proxy, the job proxy of the socket shim: one process per job and node
 * (in a multi-node job, the head node's serves the whole job: proxy_job.c), started by the first `cnio run --sockets` of the job. It
 * listens on a unix socket in a 0700 directory, admits peers of its own uid only, and
 * serves name lookups (proxy_names.c) and connection admission (proxy_admit.c) in one
 * poll loop. It exits proxy_idle_ms after the last application process has gone.
 *
 *   cnio-proxy --socket PATH [--ready-fd N]   serve (N: written one byte once listening)
 *   cnio-proxy stats PATH                     print a running proxy's counters
 */
#include "proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PROXY_MAX_CLIENTS 8192
#define PROXY_SLOT_GRACE_MS 5000
#define PROXY_AUTH_MS 5000   /* a TCP peer proves the job's key within this */

static volatile sig_atomic_t proxy_stop;
static const char *proxy_sock_path, *proxy_lock_path;
static struct stat proxy_sock_st;   /* our socket file, to remove only ours at exit */
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

static int proxy_listen(const char *path)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    int fd;

    if (strlen(path) >= sizeof(a.sun_path)) {
        fprintf(stderr, "cnio-proxy: socket path too long: %s\n", path);
        return -1;
    }
    strcpy(a.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    unlink(path);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || chmod(path, 0600) < 0
        || stat(path, &proxy_sock_st) < 0 || listen(fd, 4096) < 0) {
        fprintf(stderr, "cnio-proxy: %s: %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static void proxy_accept(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        struct ucred cr;
        socklen_t cl = sizeof(cr);
        struct px_client *c;

        if (fd < 0)
            return;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 || cr.uid != geteuid()
            || proxy_nclients == PROXY_MAX_CLIENTS || !(c = calloc(1, sizeof(*c)))) {
            close(fd);
            continue;
        }
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

    while (proxy_nclients < PROXY_MAX_CLIENTS && (c = px_job_accept()))
        proxy_clients[proxy_nclients++] = c;
}

/* The proxy's report (text, cap bytes at most): sessions, names, destinations. */
static void proxy_report(struct px *px, char *buf, size_t cap)
{
    int live = 0;

    for (int i = 0; i < proxy_nclients; i++)
        live += proxy_clients[i]->session;
    snprintf(buf, cap, "proxy pid %ld\nsessions live %d total %llu\n", (long)getpid(), live,
             (unsigned long long)px->sessions_total);
    px_job_report(buf, cap);
    px_names_report(buf, cap);
    px_admit_report(px, buf, cap);
}

static void proxy_stats(struct px *px, struct px_client *c)
{
    struct cnio__skp_msg m = { .type = CNIO__SKP_STATS_REP };

    proxy_report(px, m.name, sizeof(m.name));
    if (px_send(c, &m) < 0)
        c->dead = 1;
}

/* Acts on one message from c; -1 drops the client. */
static int proxy_handle(struct px *px, struct px_client *c, const struct cnio__skp_msg *m)
{
    int64_t now = px_now_ms();

    switch (m->type) {
    case CNIO__SKP_HELLO:
        if (c->session)
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
        if (px_job_relay_open(px, c, m))
            return 0;
        return px_admit_request(px, c, m, now);
    case CNIO__SKP_DONE:
        return px_admit_done(px, c, m, now);
    case CNIO__SKP_OUTCOME:
        return px_admit_outcome(px, c, m, now);
    case CNIO__SKP_STATS_REQ:
        proxy_stats(px, c);
        return 0;
    default:
        return -1;   /* replies are not requests */
    }
}

/* Reads what c sent and handles every whole message; -1 when c must go. */
static int proxy_read(struct px *px, struct px_client *c)
{
    ssize_t n;
    size_t off = 0;

    if (c->up >= 0)   /* a conversation relayed to the job proxy */
        return px_job_pass(c->fd, c->up);
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

static void proxy_drop(struct px *px, int i)
{
    struct px_client *c = proxy_clients[i];

    px_admit_drop(px, c, px_now_ms());
    px_names_drop(c);
    close(c->fd);
    if (c->up >= 0)
        close(c->up);
    free(c);
    proxy_clients[i] = proxy_clients[--proxy_nclients];
}

/* Takes back slots held far past their deadline by processes that stopped talking, and
 * drops TCP peers that did not authenticate in time. */
static void proxy_expire(struct px *px, int64_t now)
{
    for (int i = 0; i < proxy_nclients; i++) {
        struct px_client *c = proxy_clients[i];

        if (c->state == PX_HOLDING && now > c->deadline_ms + PROXY_SLOT_GRACE_MS)
            px_admit_drop(px, c, now);
        if (c->auth && now > c->since_ms + PROXY_AUTH_MS)   /* no proof of the job's key */
            c->dead = 1;
    }
}

/* Removes the socket file if it is still ours (a proxy started after we decided to exit
 * may have replaced it). */
static void proxy_unlink(const char *path)
{
    struct stat st;

    if (stat(path, &st) == 0 && st.st_ino == proxy_sock_st.st_ino
        && st.st_dev == proxy_sock_st.st_dev)
        unlink(path);
}

/*
 * The proxy is idle: 1 when it may exit, with its socket and lock file removed. It takes
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
        proxy_unlink(proxy_sock_path);
        return 1;
    }
    fd = cnio__sk_lock_file(proxy_lock_path, 0, force ? 1000 : 0);
    if (fd == -ETIMEDOUT && !force)
        return 0;
    if (fd >= 0 && !force && poll(&p, 1, 0) > 0) {
        close(fd);
        return 0;
    }
    proxy_unlink(proxy_sock_path);
    if (fd >= 0) {
        unlink(proxy_lock_path);
        close(fd);
    }
    return 1;
}

/* Poll slots: the unix listener, the resolver's pipe, the job proxy's TCP listener and
 * the node proxy's session with it (-1 when absent), then two per client: its own fd
 * and its relay to the job proxy (-1 when none). */
#define PROXY_FIXED 4

static struct pollfd pfd[2 * PROXY_MAX_CLIENTS + PROXY_FIXED];

static int proxy_poll(int lfd, int64_t wait)
{
    pfd[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
    pfd[1] = (struct pollfd){ .fd = px_names_fd(), .events = POLLIN };
    pfd[2] = (struct pollfd){ .fd = px_job_listen_fd(), .events = POLLIN };
    pfd[3] = (struct pollfd){ .fd = px_job_session_fd(), .events = POLLIN };
    for (int i = 0; i < proxy_nclients; i++) {
        pfd[PROXY_FIXED + 2 * i] = (struct pollfd){ .fd = proxy_clients[i]->fd, .events = POLLIN };
        pfd[PROXY_FIXED + 2 * i + 1] = (struct pollfd){ .fd = proxy_clients[i]->up,
                                                         .events = POLLIN };
    }
    return poll(pfd, (nfds_t)(PROXY_FIXED + 2 * proxy_nclients), (int)wait) > 0;
}

/* Serves what proxy_poll found ready. */
static void proxy_serve(struct px *px, int lfd)
{
    if (pfd[1].revents)
        px_names_ready(px, px_now_ms());
    if (pfd[3].revents) {
        char sink[64];

        if (recv(px_job_session_fd(), sink, sizeof(sink), MSG_DONTWAIT) <= 0)
            px_job_session_lost();
    }
    for (int i = proxy_nclients - 1; i >= 0; i--) {
        struct px_client *c = proxy_clients[i];

        if ((pfd[PROXY_FIXED + 2 * i].revents && proxy_read(px, c) < 0)
            || (pfd[PROXY_FIXED + 2 * i + 1].revents && c->up >= 0 && px_job_pass(c->up, c->fd) < 0))
            proxy_drop(px, i);
    }
    if (pfd[0].revents)
        proxy_accept(lfd);
    if (pfd[2].revents)
        proxy_accept_job();
}

static void proxy_loop(struct px *px, int lfd)
{
    int64_t idle_since = px_now_ms();

    while (!proxy_stop) {
        int64_t now = px_now_ms(), wait = px_admit_tick(px, now), nwait = px_names_tick(px, now);
        int live = 0;

        proxy_expire(px, now);
        for (int i = proxy_nclients - 1; i >= 0; i--)
            if (proxy_clients[i]->dead)
                proxy_drop(px, i);
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
        if (!live && !proxy_nclients && px->conf.proxy_idle_ms < wait)
            wait = px->conf.proxy_idle_ms + 1;
        if (proxy_poll(lfd, wait))
            proxy_serve(px, lfd);
    }
}

/* `cnio-proxy stats PATH`: prints a running proxy's report. */
static int proxy_print_stats(const char *path)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    struct cnio__skp_msg m = { .type = CNIO__SKP_STATS_REQ };
    unsigned char buf[CNIO__SKP_MAX];
    size_t len = 0;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), n;
    struct timeval tv = { 5, 0 };

    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    n = cnio__skp_encode(&m, buf, sizeof(buf));
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0
        || write(fd, buf, (size_t)n) != n) {
        fprintf(stderr, "cnio-proxy: %s: %s\n", path, strerror(errno));
        return 1;
    }
    while ((n = cnio__skp_parse(buf, len, &m)) == 0) {
        ssize_t k = read(fd, buf + len, sizeof(buf) - len);

        if (k <= 0)
            break;
        len += (size_t)k;
    }
    close(fd);
    if (n <= 0 || m.type != CNIO__SKP_STATS_REP) {
        fprintf(stderr, "cnio-proxy: %s: no answer\n", path);
        return 1;
    }
    fputs(m.name, stdout);
    return 0;
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
    "  --log FILE       the proxy's log (its stderr), removed after a clean exit\n"
    "  --keep-log FILE  a log that is kept\n"
    "  -h, --help       this text\n";

int main(int argc, char **argv)
{
    static struct px px;
    static char report[CNIO__SKP_NAME_MAX + 1];
    const char *path = NULL, *log = NULL;
    int ready = -1, lfd;
    struct rlimit rl;

    if (argc == 3 && !strcmp(argv[1], "stats"))
        return proxy_print_stats(argv[2]);
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(proxy_usage, stdout);
        return 0;
    }
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--socket"))
            path = argv[i + 1];
        else if (!strcmp(argv[i], "--ready-fd"))
            ready = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--lock"))
            proxy_lock_path = argv[i + 1];
        else if (!strcmp(argv[i], "--log"))
            log = argv[i + 1];
    }
    if (!path) {
        fputs(proxy_usage, stderr);
        return 2;
    }
    proxy_sock_path = path;
    cnio__sk_conf_load(&px.conf);
    px.beat_ms = px.conf.proxy_timeout_ms / 3 < 1000 ? px.conf.proxy_timeout_ms / 3 : 1000;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (chdir("/") < 0)   /* hold no directory of the job busy */
        return 1;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, proxy_on_signal);
    signal(SIGINT, proxy_on_signal);
    lfd = proxy_listen(path);
    if (lfd < 0)
        return 1;
    if (px_job_start(&px) < 0)
        fprintf(stderr, "cnio-proxy: no job proxy (%s): serving this node alone\n",
                strerror(errno));
    if (px_names_start() < 0) {
        fprintf(stderr, "cnio-proxy: cannot start the resolver threads\n");
        unlink(path);
        return 1;
    }
    if (ready >= 0) {
        (void)!write(ready, "r", 1);
        close(ready);
    }
    proxy_loop(&px, lfd);
    if (proxy_stop)   /* a signal: not retired by the loop */
        proxy_retire(lfd, 1);
    proxy_report(&px, report, sizeof(report));
    fprintf(stderr, "cnio-proxy: exiting; final report:\n%s", report);
    if (log)   /* the run directory's own log: nothing in it to keep after a clean exit */
        unlink(log);
    close(lfd);
    px_job_close();
    while (proxy_nclients)
        proxy_drop(&px, proxy_nclients - 1);
    px_names_free();
    return 0;
}
