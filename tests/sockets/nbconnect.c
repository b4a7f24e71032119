/*
 * nbconnect.c - non-blocking connects whose outcomes the socket shim must learn after
 * connect has returned EINPROGRESS (sockets/shim_pending.c). Prints the ports it used
 * and one line per case; shim-nbconnect.test checks what the proxy learnt.
 *
 *   1. 20 non-blocking connects to a listener of its own: poll, getsockopt(SO_ERROR) 0;
 *   2. a closed port A: non-blocking connect, poll, SO_ERROR ECONNREFUSED; then a
 *      blocking connect to A (a probe: refused by the kernel); then a non-blocking one:
 *      EINPROGRESS, POLLERR, SO_ERROR ECONNREFUSED once, getpeername ENOTCONN;
 *   3. a closed port B: non-blocking connect, poll, close without asking SO_ERROR; then
 *      a blocking connect to B;
 *   4. a closed port C: non-blocking connect, poll, dup, close the first descriptor: the
 *      dup still sees POLLERR and SO_ERROR ECONNREFUSED (the close must not consume it);
 *   5. a closed port D: the same with a forked child closing its inherited copy;
 *   6. under a soft limit of 128 fds, 100 non-blocking connects to a listener of its own
 *      left in flight (EINPROGRESS, never asked about): no EMFILE, and a file opens.
 *   7. a listener E whose accept queue is full (SYNs dropped): a non-blocking connect
 *      abandoned after 300 ms (connect AF_UNSPEC, close); once E accepts again, a
 *      blocking connect to E succeeds (the abandoned setup was no refusal).
 *   8. 10 non-blocking connects to another listener of its own, each judged as hiredis
 *      (redis-benchmark) judges it: poll, then connect() once more, EISCONN.
 *   9. 10 non-blocking connects to a third listener, each judged by epoll alone, as
 *      Redis's ae loop does: epoll_ctl ADD EPOLLOUT, epoll_wait, DEL, ADD EPOLLIN;
 *      then a closed port F the same way, its SO_ERROR read on a dup (ECONNREFUSED:
 *      the shim's look at epoll_ctl must not consume it), the socket never closed.
 * Exit 0 when every call behaved as POSIX says (the refusals being refusals).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static struct sockaddr_in nb_addr(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    return a;
}

/* A port with nothing listening (bound then closed), or a listener when backlog > 0. */
static int nb_port(int backlog, int *lfd)
{
    struct sockaddr_in a = nb_addr(0);
    socklen_t al = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0
        || getsockname(fd, (struct sockaddr *)&a, &al) < 0 || (backlog && listen(fd, backlog) < 0))
        return -1;
    if (backlog)
        *lfd = fd;
    else
        close(fd);
    return ntohs(a.sin_port);
}

/* Starts a non-blocking connect to port and waits until it is decided; the fd or -1. */
static int nb_start(int port)
{
    struct sockaddr_in a = nb_addr(port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct pollfd p = { .fd = fd, .events = POLLOUT };

    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS) {
        printf("  connect to %d: %s at once\n", port, strerrorname_np(errno));
        close(fd);
        return -1;
    }
    if (poll(&p, 1, 10000) != 1)
        printf("  poll for %d: not decided in 10 s\n", port);
    return fd;
}

static int nb_so_error(int fd)
{
    int err = -1;
    socklen_t el = sizeof(err);

    return getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 ? -1 : err;
}

static int nb_blocking(int port)
{
    struct sockaddr_in a = nb_addr(port);
    int fd = socket(AF_INET, SOCK_STREAM, 0), rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
    int e = errno;

    close(fd);
    return rc < 0 ? e : 0;
}

/* A non-blocking connect to a port that refuses, judged the event loop's way; 0 when it
 * looks as the kernel makes it look: EINPROGRESS, then POLLERR|POLLHUP, SO_ERROR
 * ECONNREFUSED once (then 0) and no peer. */
static int nb_refused_again(int port)
{
    struct sockaddr_in a = nb_addr(port), peer;
    socklen_t pl = sizeof(peer);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int rc = connect(fd, (struct sockaddr *)&a, sizeof(a)), e = errno, r, err, err2, pr;
    struct pollfd p = { .fd = fd, .events = POLLOUT };

    r = poll(&p, 1, 10000);
    err = nb_so_error(fd);
    err2 = nb_so_error(fd);
    pr = getpeername(fd, (struct sockaddr *)&peer, &pl) < 0 ? errno : 0;
    close(fd);
    printf("  then a non-blocking connect: %s, poll%s%s%s, SO_ERROR %s then %s, getpeername %s\n",
           rc < 0 ? strerrorname_np(e) : "ok", r == 1 && (p.revents & POLLOUT) ? " OUT" : "",
           r == 1 && (p.revents & POLLERR) ? " ERR" : "", r == 1 && (p.revents & POLLHUP) ? " HUP" : "",
           err > 0 ? strerrorname_np(err) : "none", err2 > 0 ? strerrorname_np(err2) : "none",
           pr ? strerrorname_np(pr) : "ok");
    return !(rc < 0 && e == EINPROGRESS && r == 1 && (p.revents & POLLERR) && err == ECONNREFUSED
             && err2 == 0 && pr == ENOTCONN);
}

/* What the surviving descriptor sees: 0 when POLLERR and SO_ERROR ECONNREFUSED. */
static int nb_survivor(const char *how, int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLOUT };
    int r = poll(&p, 1, 10000), err = nb_so_error(fd);

    printf("closed port, another descriptor closed (%s): poll %s, SO_ERROR %s\n", how,
           r == 1 && (p.revents & POLLERR) ? "POLLERR" : "no POLLERR",
           err > 0 ? strerrorname_np(err) : "none");
    return !(r == 1 && (p.revents & POLLERR) && err == ECONNREFUSED);
}

/* Cases 4 and 5: the pending error survives the close of one of the socket's fds. */
static int nb_shared(int port_c, int port_d)
{
    int fd = nb_start(port_c), d, fail;
    pid_t pid;

    if (fd < 0 || (d = dup(fd)) < 0)
        return 1;
    close(fd);
    fail = nb_survivor("dup", d);
    close(d);
    if ((fd = nb_start(port_d)) < 0 || (pid = fork()) < 0)
        return 1;
    if (pid == 0) {
        close(fd);
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    fail |= nb_survivor("fork", fd);
    close(fd);
    return fail;
}

/* Case 6: 100 setups in flight need 100 fds, not more. */
static int nb_many(void)
{
    struct rlimit old, rl;
    int lfd = -1, port = nb_port(128, &lfd), fds[100], n = 0, e = 0, f;

    if (port < 0 || getrlimit(RLIMIT_NOFILE, &old) < 0)
        return 1;
    rl = old;
    rl.rlim_cur = 128;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 1;
    for (; n < 100; n++) {
        struct sockaddr_in a = nb_addr(port);

        fds[n] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (fds[n] < 0 || (connect(fds[n], (struct sockaddr *)&a, sizeof(a)) < 0
                           && errno != EINPROGRESS)) {
            e = errno;
            if (fds[n] >= 0)
                close(fds[n]);
            break;
        }
    }
    f = open("/dev/null", O_RDONLY);
    printf("100 non-blocking connects in flight under 128 fds: %d made, %s; a file: %s\n", n,
           e ? strerrorname_np(e) : "no error", f >= 0 ? "opens" : strerrorname_np(errno));
    if (f >= 0)
        close(f);
    while (n > 0)
        close(fds[--n]);
    close(lfd);
    setrlimit(RLIMIT_NOFILE, &old);
    return e != 0 || f < 0;
}

/* Case 7: a setup the program gives up on is not a failure of the destination. */
static int nb_abandoned(void)
{
    struct sockaddr_in a = nb_addr(0), u = { .sin_family = AF_UNSPEC };
    socklen_t al = sizeof(a);
    int lfd = socket(AF_INET, SOCK_STREAM, 0), first = socket(AF_INET, SOCK_STREAM, 0), fd, r, err;

    if (lfd < 0 || first < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 0) < 0
        || getsockname(lfd, (struct sockaddr *)&a, &al) < 0
        || connect(first, (struct sockaddr *)&a, sizeof(a)) < 0)
        return 1;
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    r = connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ? errno : 0;
    poll(&(struct pollfd){ .fd = fd, .events = POLLOUT }, 1, 300);
    connect(fd, (struct sockaddr *)&u, sizeof(u));
    close(fd);
    close(accept(lfd, NULL, NULL));
    err = nb_blocking(ntohs(a.sin_port));
    printf("full listener E: non-blocking connect %s, abandoned; then a blocking connect: %s\n",
           r ? strerrorname_np(r) : "ok", err ? strerrorname_np(err) : "ok");
    close(first);
    close(lfd);
    return r != EINPROGRESS || err != 0;
}

/* Case 8: n connects to the listener on port, each asked about with connect() again;
 * how many said EISCONN (or 0). */
static int nb_connect_again(int port, int lfd, int n)
{
    struct sockaddr_in a = nb_addr(port);
    int ok = 0;

    for (int i = 0; i < n; i++) {
        int fd = nb_start(port), c;

        if (fd < 0)
            continue;
        ok += connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 || errno == EISCONN;
        close(fd);
        if ((c = accept(lfd, NULL, NULL)) >= 0)
            close(c);
    }
    return ok;
}

/* A non-blocking connect to port, added to ep for EPOLLOUT, waited for and deleted;
 * the fd (*events: what epoll_wait said, 0 for nothing in 10 s), or -1. */
static int nb_epoll_one(int ep, int port, unsigned *events)
{
    struct sockaddr_in a = nb_addr(port);
    struct epoll_event ev = { .events = EPOLLOUT }, got = { 0 };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

    if (fd < 0)
        return -1;
    ev.data.fd = fd;
    if ((connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS)
        || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        printf("  connect to %d: %s\n", port, strerrorname_np(errno));
        close(fd);
        return -1;
    }
    *events = epoll_wait(ep, &got, 1, 10000) == 1 ? got.events : 0;
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    return fd;
}

/* Case 9: n connects to the listener on port judged by epoll alone, then one to the
 * closed port f; 0 when they behaved as the kernel makes them. */
static int nb_epoll(int port, int lfd, int n, int f)
{
    struct epoll_event ev = { .events = EPOLLIN };
    int ep = epoll_create1(EPOLL_CLOEXEC), ok = 0, fd, c, err;
    unsigned events = 0;

    for (int i = 0; i < n; i++) {
        if ((fd = nb_epoll_one(ep, port, &events)) < 0)
            continue;
        ev.data.fd = fd;
        ok += (events & EPOLLOUT) && !(events & EPOLLERR)
              && epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0;
        close(fd);
        if ((c = accept(lfd, NULL, NULL)) >= 0)
            close(c);
    }
    fd = nb_epoll_one(ep, f, &events);
    err = fd >= 0 ? nb_so_error(dup(fd)) : -1;   /* fd and its dup stay open */
    printf("judged by epoll alone: %d/%d EPOLLOUT; closed port F: events 0x%x, SO_ERROR "
           "on a dup %s\n", ok, n, events, err > 0 ? strerrorname_np(err) : "none");
    return ok != n || err != ECONNREFUSED || !(events & EPOLLERR);
}

int main(void)
{
    int lfd = -1, open_port = nb_port(64, &lfd), a = nb_port(0, NULL), b = nb_port(0, NULL);
    int lfd2 = -1, again_port = nb_port(64, &lfd2), lfd3 = -1, epoll_port = nb_port(64, &lfd3);
    int f = nb_port(0, NULL), ok = 0, fail = 0, fd, err, again;

    if (open_port < 0 || a < 0 || b < 0 || again_port < 0 || epoll_port < 0 || f < 0)
        return 2;
    printf("ports open %d closed_a %d closed_b %d again %d epoll %d closed_f %d\n", open_port,
           a, b, again_port, epoll_port, f);
    for (int i = 0; i < 20; i++) {
        fd = nb_start(open_port);
        if (fd >= 0 && nb_so_error(fd) == 0)
            ok++;
        if (fd >= 0)
            close(fd);
        while ((fd = accept(lfd, NULL, NULL)) >= 0) {
            close(fd);
            break;
        }
    }
    printf("non-blocking connects to a listener: %d/20 ok\n", ok);
    fail |= ok != 20;
    fd = nb_start(a);
    err = fd >= 0 ? nb_so_error(fd) : -1;
    if (fd >= 0)
        close(fd);
    again = nb_blocking(a);
    printf("closed port A: SO_ERROR %s, then a blocking connect: %s\n",
           err > 0 ? strerrorname_np(err) : "none", strerrorname_np(again));
    fail |= err != ECONNREFUSED || again != ECONNREFUSED;
    fail |= nb_refused_again(a);
    fd = nb_start(b);
    if (fd >= 0)
        close(fd);
    err = nb_blocking(b);
    printf("closed port B: closed unasked, then a blocking connect: %s\n", strerrorname_np(err));
    fail |= err != ECONNREFUSED;
    fail |= nb_shared(nb_port(0, NULL), nb_port(0, NULL));
    fail |= nb_many();
    fail |= nb_abandoned();
    ok = nb_connect_again(again_port, lfd2, 10);
    printf("non-blocking connects asked about with connect again: %d/10 EISCONN\n", ok);
    fail |= ok != 10;
    fail |= nb_epoll(epoll_port, lfd3, 10, f);
    close(lfd3);
    close(lfd2);
    close(lfd);
    return fail;
}
