/*
 * posix_table.c - a table of socket calls and edge cases whose results (return values,
 * errno, readiness, flags, data) are printed one per line, without anything that
 * changes from run to run (ports, pids). shim-posix.test runs it without and with the
 * socket shim (every TCP connect managed, loopback included) and compares the output.
 *
 *   posix_table             the table
 *   posix_table --exec-child   what the table execs: one connect and one lookup
 *   posix_table --deadline  (under the shim, CNIO_SOCKETS_CONNECT_TIMEOUT_MS small)
 *                           a connect whose SYN is dropped: prints its errno, seconds,
 *                           and then POLLERR, SO_ERROR and a send's errno
 *   posix_table --storage   one connect whose addrlen is sizeof(struct sockaddr_storage)
 *   posix_table --seccomp   under a seccomp filter that forbids process_vm_readv: one
 *                           connect to a listener, one with an unmapped address
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROW(...) (printf(__VA_ARGS__), putchar('\n'), fflush(stdout))

static const char *self;

static const char *ename(int rc, int e)
{
    static char buf[32];

    if (rc >= 0)
        return "ok";
    snprintf(buf, sizeof(buf), "-1 %s", strerrorname_np(e) ? strerrorname_np(e) : "?");
    return buf;
}

/* A listener on 127.0.0.1 (ephemeral port) with the given backlog; fills *a. */
static int listener(int backlog, struct sockaddr_in *a)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    socklen_t l = sizeof(*a);

    *a = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)a, sizeof(*a)) < 0 || listen(fd, backlog) < 0
        || getsockname(fd, (struct sockaddr *)a, &l) < 0) {
        perror("listener");
        exit(2);
    }
    return fd;
}

/* A loopback port with nothing listening. */
static struct sockaddr_in closed_port(void)
{
    struct sockaddr_in a;
    int fd = listener(1, &a);

    close(fd);
    return a;
}

static int tcp(int flags)
{
    return socket(AF_INET, SOCK_STREAM | flags, 0);
}

/*
 * Addresses the kernel refuses before it looks at them (EFAULT, EINVAL), to the
 * destination *a: a pointer to nothing, a page that cannot be read, an address whose
 * addrlen reaches into such a page, one longer than a sockaddr_storage. what: the row.
 */
static void rows_bad_address(const struct sockaddr_in *a, const char *what)
{
    long pg = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct sockaddr_storage big[2];
    char *end = m + pg - sizeof(*a);
    int fd = tcp(0), rc;

    memcpy(end, a, sizeof(*a));
    memset(big, 0, sizeof(big));
    memcpy(big, a, sizeof(*a));
    mprotect(m + pg, pg, PROT_NONE);
    rc = connect(fd, (struct sockaddr *)8, sizeof(*a));
    ROW("%s: unmapped address: %s", what, ename(rc, errno));
    rc = connect(fd, (struct sockaddr *)(m + pg), sizeof(*a));
    ROW("%s: unreadable address: %s", what, ename(rc, errno));
    rc = connect(fd, (struct sockaddr *)end, sizeof(struct sockaddr_storage));
    ROW("%s: addrlen into an unreadable page: %s", what, ename(rc, errno));
    rc = connect(fd, (struct sockaddr *)big, sizeof(big[0]) + 1);
    ROW("%s: addrlen beyond a sockaddr_storage: %s", what, ename(rc, errno));
    close(fd);
    munmap(m, 2 * pg);
}

static void rows_connect(int lfd, struct sockaddr_in *a)
{
    struct sockaddr_in dead = closed_port();
    int fd = tcp(0), rc, e, fl;

    errno = 4242;
    rc = connect(fd, (struct sockaddr *)a, sizeof(*a));
    e = errno;
    ROW("connect blocking: %s, errno kept %s", ename(rc, e), rc == 0 && e == 4242 ? "yes" : "no");
    fl = fcntl(fd, F_GETFL);
    ROW("after connect: O_NONBLOCK %d", !!(fl & O_NONBLOCK));
    rc = connect(fd, (struct sockaddr *)a, sizeof(*a));
    ROW("connect again: %s", ename(rc, errno));
    ROW("shutdown: %s", ename(shutdown(fd, SHUT_WR), errno));
    close(fd);
    fd = tcp(0);
    rc = connect(fd, (struct sockaddr *)&dead, sizeof(dead));
    ROW("connect refused: %s", ename(rc, errno));
    for (int i = 1; i <= 2; i++) {   /* the same socket: each retry a new setup */
        rc = connect(fd, (struct sockaddr *)&dead, sizeof(dead));
        ROW("connect refused, retry %d on the same socket: %s", i, ename(rc, errno));
    }
    close(fd);
    rc = connect(-1, (struct sockaddr *)a, sizeof(*a));
    ROW("connect bad fd: %s", ename(rc, errno));
    fd = open("/dev/null", O_RDONLY);
    rc = connect(fd, (struct sockaddr *)a, sizeof(*a));
    ROW("connect not a socket: %s", ename(rc, errno));
    close(fd);
    fd = tcp(0);
    rc = connect(fd, (struct sockaddr *)a, 4);
    ROW("connect short addrlen: %s", ename(rc, errno));
    rc = connect(fd, NULL, sizeof(*a));
    ROW("connect NULL address: %s", ename(rc, errno));
    close(fd);
    rows_bad_address(a, "connect");
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    ROW("connect udp: %s", ename(connect(fd, (struct sockaddr *)a, sizeof(*a)), errno));
    close(fd);
    while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0)
        close(fd);
}

static void rows_nonblocking(int lfd, struct sockaddr_in *a)
{
    struct sockaddr_in dead = closed_port();
    int fd = tcp(SOCK_NONBLOCK | SOCK_CLOEXEC), rc, e, err = -1, ep;
    socklen_t el = sizeof(err);
    struct pollfd p = { .events = POLLOUT };
    struct epoll_event ev = { .events = EPOLLOUT }, got;

    rc = connect(fd, (struct sockaddr *)a, sizeof(*a));
    e = errno;
    ROW("nonblocking connect: %s", rc == 0 || e == EINPROGRESS ? "ok or EINPROGRESS" : ename(rc, e));
    ep = epoll_create1(EPOLL_CLOEXEC);
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    got.events = 0;
    rc = epoll_wait(ep, &got, 1, 5000);
    ROW("  epoll: %d events 0x%x", rc, got.events);
    close(ep);
    {
        fd_set w;
        struct timeval tv = { 5, 0 };

        FD_ZERO(&w);
        FD_SET(fd, &w);
        rc = select(fd + 1, NULL, &w, NULL, &tv);
        ROW("  select: %d writable %d", rc, FD_ISSET(fd, &w) ? 1 : 0);
    }
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
    ROW("  SO_ERROR %d, O_NONBLOCK %d, FD_CLOEXEC %d", err, !!(fcntl(fd, F_GETFL) & O_NONBLOCK),
        !!(fcntl(fd, F_GETFD) & FD_CLOEXEC));
    close(fd);
    fd = tcp(SOCK_NONBLOCK);
    rc = connect(fd, (struct sockaddr *)&dead, sizeof(dead));
    e = errno;
    ROW("nonblocking refused: %s", rc < 0 && (e == EINPROGRESS || e == ECONNREFUSED)
                                       ? "EINPROGRESS or ECONNREFUSED" : ename(rc, e));
    p.fd = fd;
    poll(&p, 1, 5000);
    err = 0;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
    ROW("  poll revents has POLLOUT %d POLLERR|POLLHUP %d, SO_ERROR %s", !!(p.revents & POLLOUT),
        !!(p.revents & (POLLERR | POLLHUP)), e == ECONNREFUSED ? "ECONNREFUSED" : ename(-1, err));
    close(fd);
    while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0)
        close(fd);
}

/* Connects a fresh socket to a, sends msg through fd2 = how(fd), checks the server
 * gets it. */
static void row_dup(int lfd, struct sockaddr_in *a, const char *name, int (*how)(int))
{
    int fd = tcp(0), d, s;
    char buf[32] = "";
    ssize_t n;

    connect(fd, (struct sockaddr *)a, sizeof(*a));
    d = how(fd);
    close(fd);
    n = write(d, name, strlen(name));
    close(d);
    s = accept(lfd, NULL, NULL);
    n = s >= 0 ? read(s, buf, sizeof(buf) - 1) : -1;
    ROW("%s: wrote and server read %s", name, n > 0 && !strcmp(buf, name) ? "same bytes" : "WRONG");
    close(s);
}

static int how_dup(int fd) { return dup(fd); }
static int how_dup2(int fd) { return dup2(fd, 200); }
static int how_dup3(int fd) { return dup3(fd, 201, O_CLOEXEC); }
static int how_dupfd(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 300); }

static void rows_fork_exec(int lfd, struct sockaddr_in *a)
{
    pid_t pid = fork();
    int st = -1, s;
    char buf[16] = "", port[16];

    if (pid == 0) {
        int fd = tcp(0);
        int rc = connect(fd, (struct sockaddr *)a, sizeof(*a));

        _exit(rc == 0 && write(fd, "child", 5) == 5 ? 0 : 1);
    }
    waitpid(pid, &st, 0);
    s = accept(lfd, NULL, NULL);
    ROW("fork: child exit %d, server read %s", WEXITSTATUS(st),
        read(s, buf, sizeof(buf) - 1) == 5 && !strcmp(buf, "child") ? "child" : "WRONG");
    close(s);
    snprintf(port, sizeof(port), "%u", ntohs(a->sin_port));
    pid = fork();
    if (pid == 0) {
        execl(self, self, "--exec-child", port, (char *)NULL);
        _exit(127);
    }
    waitpid(pid, &st, 0);
    ROW("exec: child exit %d", WEXITSTATUS(st));
    pid = vfork();
    if (pid == 0) {
        execl(self, self, "--exec-child", port, (char *)NULL);
        _exit(127);
    }
    waitpid(pid, &st, 0);
    ROW("vfork + exec: child exit %d", WEXITSTATUS(st));
    while ((s = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0)
        close(s);
}

/* daemon(): the grandchild, detached, connects and sends "daemon". */
static void row_daemon(int lfd, struct sockaddr_in *a)
{
    pid_t pid = fork();
    int st = -1, s;
    char buf[16] = "";

    if (pid == 0) {
        int fd;

        if (daemon(1, 1) < 0)
            _exit(1);
        fd = tcp(0);
        _exit(connect(fd, (struct sockaddr *)a, sizeof(*a)) == 0 && write(fd, "daemon", 6) == 6 ? 0 : 1);
    }
    waitpid(pid, &st, 0);
    s = accept(lfd, NULL, NULL);
    ROW("daemon: server read %s", read(s, buf, sizeof(buf) - 1) == 6 && !strcmp(buf, "daemon")
                                      ? "daemon" : "WRONG");
    close(s);
}

/* The same over IPv6 loopback (when the host has it). */
static void row_ipv6(void)
{
    struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    socklen_t l = sizeof(a);
    int lfd = socket(AF_INET6, SOCK_STREAM, 0), fd, rc;

    if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 8) < 0
        || getsockname(lfd, (struct sockaddr *)&a, &l) < 0) {
        ROW("ipv6: no ::1 here");
        close(lfd);
        return;
    }
    fd = socket(AF_INET6, SOCK_STREAM, 0);
    rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
    ROW("ipv6 connect [::1]: %s", ename(rc, errno));
    close(fd);
    close(lfd);
}

static int exec_child(const char *port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    struct addrinfo *res = NULL;
    int fd = tcp(0);

    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        return 3;
    if (getaddrinfo("localhost", port, NULL, &res) != 0)
        return 4;
    freeaddrinfo(res);
    return 0;
}

static struct sockaddr_in thr_addr;

static void *thr_main(void *arg)
{
    long bad = 0;

    for (int k = 0; k < 16; k++) {
        int fd = tcp(0);

        bad += connect(fd, (struct sockaddr *)&thr_addr, sizeof(thr_addr)) != 0;
        close(fd);
    }
    (void)arg;
    return (void *)bad;
}

static void row_threads(int lfd, struct sockaddr_in *a)
{
    pthread_t t[8];
    long bad = 0;
    int done = 0;

    thr_addr = *a;
    for (int k = 0; k < 8; k++)
        pthread_create(&t[k], NULL, thr_main, NULL);
    while (done < 8 * 16) {
        struct pollfd p = { .fd = lfd, .events = POLLIN };
        int s;

        if (poll(&p, 1, 10000) <= 0)
            break;
        s = accept(lfd, NULL, NULL);
        close(s);
        done++;
    }
    for (int k = 0; k < 8; k++) {
        void *r;

        pthread_join(t[k], &r);
        bad += (long)r;
    }
    ROW("threads: 8 x 16 connects, failed %ld, accepted %d", bad, done);
}

static volatile sig_atomic_t sig_rc = 99;
static struct sockaddr_in sig_addr;

static void on_usr1(int sig)
{
    int fd = tcp(0), e = errno;

    sig_rc = connect(fd, (struct sockaddr *)&sig_addr, sizeof(sig_addr));
    close(fd);
    errno = e;
    (void)sig;
}

static void on_alarm(int sig)
{
    (void)sig;
}

/*
 * A connect that was interrupted (f2: EINTR, its setup still under way, its SYN dropped
 * by the full listener), retried as programs do: `while (connect() < 0 && errno ==
 * EINTR)` under a periodic SIGALRM. The queue is freed, so the SYN's retransmission
 * gets in: Linux's retried blocking connect waits for the setup under way and succeeds.
 * Then the same after an SO_SNDTIMEO time-out: EINPROGRESS, a retry says EALREADY once
 * the time-out passes again, and retries end connected.
 */
static void rows_retry(int full, int f2, struct sockaddr_in *fa)
{
    struct itimerval tick = { { 0, 100000 }, { 0, 100000 } }, off = { 0 };
    struct timeval tv = { 0, 200000 };
    int rc, e, n = 0, f3 = tcp(0);

    close(accept(full, NULL, NULL));   /* f1 out of the queue: f2's next SYN fits */
    setitimer(ITIMER_REAL, &tick, NULL);
    while ((rc = connect(f2, (struct sockaddr *)fa, sizeof(*fa))) < 0 && errno == EINTR && n < 200)
        n++;
    e = errno;
    setitimer(ITIMER_REAL, &off, NULL);
    ROW("blocking connect retried after EINTR: %s", ename(rc, e));
    setsockopt(f3, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    rc = connect(f3, (struct sockaddr *)fa, sizeof(*fa));   /* f2 fills the queue now */
    ROW("blocking connect past SO_SNDTIMEO: %s", ename(rc, errno));
    rc = connect(f3, (struct sockaddr *)fa, sizeof(*fa));
    ROW("retried past SO_SNDTIMEO again: %s", ename(rc, errno));
    close(accept(full, NULL, NULL));
    for (n = 0; (rc = connect(f3, (struct sockaddr *)fa, sizeof(*fa))) < 0 && errno == EALREADY
                && n < 100; n++)
        ;
    ROW("retried until connected: %s", ename(rc, errno));
    close(f3);
}

static void rows_signals(int lfd, struct sockaddr_in *a)
{
    struct sigaction sa = { .sa_handler = on_usr1 };
    struct itimerval it = { .it_value = { 0, 300000 } };
    struct sockaddr_in fa;
    int full = listener(0, &fa), f1 = tcp(0), f2 = tcp(0), rc, s;

    sig_addr = *a;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    ROW("connect inside a signal handler: %s", sig_rc == 0 ? "ok" : "failed");
    s = accept(lfd, NULL, NULL);
    close(s);
    /* A listener whose accept queue is full drops the next SYN: connect blocks until
     * the (SA_RESTART-less) SIGALRM handler interrupts it. */
    connect(f1, (struct sockaddr *)&fa, sizeof(fa));
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    setitimer(ITIMER_REAL, &it, NULL);
    rc = connect(f2, (struct sockaddr *)&fa, sizeof(fa));
    ROW("blocking connect interrupted by a signal: %s", ename(rc, errno));
    rows_retry(full, f2, &fa);
    signal(SIGALRM, SIG_DFL);
    signal(SIGUSR1, SIG_DFL);
    close(f2);
    close(f1);
    close(full);
}

static void rows_unix(void)
{
    struct sockaddr_un u = { .sun_family = AF_UNIX };
    int l = socket(AF_UNIX, SOCK_STREAM, 0), c = socket(AF_UNIX, SOCK_STREAM, 0), s, e;

    snprintf(u.sun_path, sizeof(u.sun_path), "/tmp/posix-table-%ld.sock", (long)getpid());
    bind(l, (struct sockaddr *)&u, sizeof(u));
    listen(l, 4);
    ROW("connect AF_UNIX: %s", ename(connect(c, (struct sockaddr *)&u, sizeof(u)), errno));
    s = accept4(l, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    e = errno;
    ROW("accept4 flags: %s, O_NONBLOCK %d FD_CLOEXEC %d", ename(s, e),
        !!(fcntl(s, F_GETFL) & O_NONBLOCK), !!(fcntl(s, F_GETFD) & FD_CLOEXEC));
    close(s);
    close(c);
    close(l);
    unlink(u.sun_path);
}

/* One gethostbyname_r (af 0) or gethostbyname2_r call into buflen bytes of a buffer
 * that starts one byte off alignment. */
static void row_host_r(const char *name, int af, size_t buflen)
{
    static char space[8192];
    char *buf = space + 1, ip[64];
    struct hostent he, *res = &he;
    int herr = -1, rc;

    errno = 0;
    rc = af ? gethostbyname2_r(name, af, &he, buf, buflen, &res, &herr)
            : gethostbyname_r(name, &he, buf, buflen, &res, &herr);
    /* h_errno means something only when the name was not found (glibc leaves other
     * values in it on success). */
    ROW("gethostbyname%s_r %s af %d buf %zu: rc %s result %s h_errno %d errno %s", af ? "2" : "",
        name, af, buflen, rc ? strerrorname_np(rc) : "0", res ? res->h_name : "NULL",
        !rc && !res ? herr : -1, errno == ERANGE ? "ERANGE" : "-");
    if (!res)
        return;
    ROW("  type %d len %d first %s, name and addresses inside the buffer: %s", res->h_addrtype,
        res->h_length, inet_ntop(res->h_addrtype, res->h_addr_list[0], ip, sizeof(ip)),
        res->h_name >= buf && res->h_name < buf + buflen && res->h_addr_list[0] >= buf
        && res->h_addr_list[0] < buf + buflen ? "yes" : "no");
}

/* getaddrinfo_a is not interposed (doc/sockets.md): libc's, with and without the shim. */
static void row_gai_a(void)
{
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
    struct gaicb cb = { .ar_name = "localhost", .ar_service = "80", .ar_request = &hints };
    struct gaicb *list[1] = { &cb };
    char ip[64] = "-";
    int rc = getaddrinfo_a(GAI_WAIT, list, 1, NULL), err = gai_error(&cb);

    if (err == 0)
        inet_ntop(AF_INET, &((struct sockaddr_in *)cb.ar_result->ai_addr)->sin_addr, ip, sizeof(ip));
    ROW("getaddrinfo_a localhost GAI_WAIT: %d, gai_error %d, first %s", rc, err, ip);
    if (err == 0)
        freeaddrinfo(cb.ar_result);
}

/* The reentrant calls ask for LOCALHOST (/etc/hosts matches names without regard to
 * case), a question of their own in the proxy's counters. */
static void rows_names_r(void)
{
    row_host_r("LOCALHOST", 0, 4096);
    row_host_r("LOCALHOST", 0, 8);
    row_host_r("LOCALHOST", 0, 0);
    row_host_r("no-such-host.invalid", 0, 4096);
    row_host_r("LOCALHOST", AF_INET, 4096);
    row_host_r("LOCALHOST", AF_INET, 16);
    row_host_r("127.0.0.1", 0, 4096);
    row_gai_a();
}

/*
 * freeaddrinfo frees any sublist of an answer (POSIX), a list the program relinked, an
 * answer whose canonical name the program freed itself, and libc's own freeaddrinfo
 * (taken from libc.so.6, past any preload) frees the shim's answers as its own.
 */
static void rows_free_sublists(void)
{
    void (*libc_free)(struct addrinfo *) =
        (void (*)(struct addrinfo *))dlsym(dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD), "freeaddrinfo");
    struct addrinfo hints = { .ai_flags = AI_CANONNAME }, *res, *prev, *last;
    int n = 0;

    if (getaddrinfo("localhost", NULL, NULL, &res) != 0 || !res->ai_next || !libc_free) {
        ROW("freeaddrinfo of sublists: no answer of two entries");
        return;
    }
    for (last = res; last; last = last->ai_next)
        n++;
    freeaddrinfo(res->ai_next);   /* the sublist after the first entry, then the first */
    res->ai_next = NULL;
    freeaddrinfo(res);
    getaddrinfo("localhost", NULL, NULL, &res);
    for (prev = NULL, last = res; last->ai_next; prev = last, last = last->ai_next)
        ;
    prev->ai_next = NULL;   /* the last entry moved to the front */
    last->ai_next = res;
    freeaddrinfo(last);
    getaddrinfo("localhost", NULL, NULL, &res);
    libc_free(res->ai_next);   /* libc's freeaddrinfo on a sublist, ours on the head */
    res->ai_next = NULL;
    freeaddrinfo(res);
    getaddrinfo("localhost", NULL, &hints, &res);
    free(res->ai_canonname);
    res->ai_canonname = NULL;
    freeaddrinfo(res);
    ROW("freeaddrinfo of a sublist, a reordered list, libc's on a sublist, after freeing "
        "ai_canonname: %d entries, done", n);
}

static void rows_names(void)
{
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_CANONNAME }, *res = NULL;
    struct sockaddr_in lo = { .sin_family = AF_INET, .sin_port = htons(80),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    char host[NI_MAXHOST], serv[NI_MAXSERV], ip[64];
    struct hostent *h;
    int rc;

    rc = getaddrinfo("localhost", "80", &hints, &res);
    ROW("getaddrinfo localhost: %d, canon %s", rc, rc == 0 && res->ai_canonname ? res->ai_canonname : "-");
    for (struct addrinfo *a = rc == 0 ? res : NULL; a; a = a->ai_next)
        ROW("  %s port %u type %d proto %d", inet_ntop(AF_INET, &((struct sockaddr_in *)a->ai_addr)->sin_addr, ip, sizeof(ip)),
            ntohs(((struct sockaddr_in *)a->ai_addr)->sin_port), a->ai_socktype, a->ai_protocol);
    if (rc == 0)
        freeaddrinfo(res);
    rc = getaddrinfo("localhost", NULL, NULL, &res);
    ROW("getaddrinfo localhost, no hints: %d", rc);
    if (rc == 0)
        freeaddrinfo(res);
    ROW("getaddrinfo no-such-host.invalid: %s", gai_strerror(getaddrinfo("no-such-host.invalid", "80", &hints, &res)));
    rc = getaddrinfo("127.0.0.1", "http", &hints, &res);
    ROW("getaddrinfo numeric: %d", rc);
    if (rc == 0)
        freeaddrinfo(res);
    h = gethostbyname("localhost");
    ROW("gethostbyname localhost: %s type %d len %d first %s", h ? h->h_name : "NULL",
        h ? h->h_addrtype : -1, h ? h->h_length : -1,
        h ? inet_ntop(AF_INET, h->h_addr_list[0], ip, sizeof(ip)) : "-");
    h = gethostbyname("no-such-host.invalid");
    ROW("gethostbyname no-such-host.invalid: %s h_errno %d", h ? "found" : "NULL", h_errno);
    h = gethostbyname2("localhost", AF_INET);
    ROW("gethostbyname2 localhost AF_INET: %s", h ? inet_ntop(AF_INET, h->h_addr_list[0], ip, sizeof(ip)) : "NULL");
    rc = getnameinfo((struct sockaddr *)&lo, sizeof(lo), host, sizeof(host), serv, sizeof(serv), 0);
    ROW("getnameinfo 127.0.0.1:80: %d %s %s", rc, rc ? "-" : host, rc ? "-" : serv);
    rc = getnameinfo((struct sockaddr *)&lo, sizeof(lo), host, 3, NULL, 0, NI_NAMEREQD);
    ROW("getnameinfo into 3 bytes: %d%s", rc, rc == EAI_OVERFLOW ? " EAI_OVERFLOW" : "");
    rc = getnameinfo((struct sockaddr *)&lo, sizeof(lo), host, sizeof(host), NULL, 0, NI_NUMERICHOST);
    ROW("getnameinfo numeric: %d %s", rc, host);
    rows_free_sublists();
    rows_names_r();
}

/*
 * Sockets asked to connect again once connected: one blocking, one whose non-blocking
 * setup has completed (the usual completion check), while their destination has just
 * refused a third socket (under the shim, the proxy then fails new setups to it at
 * once). The kernel's answers: EISCONN, and 0 once for the non-blocking one.
 */
static void rows_connected_again(void)
{
    struct sockaddr_in a;
    struct pollfd p;
    int lfd = listener(8, &a), c = tcp(0), n = tcp(SOCK_NONBLOCK), b = tcp(0), rc, acc[2];

    rc = connect(c, (struct sockaddr *)&a, sizeof(a));
    ROW("connected again: first connect: %s", ename(rc, errno));
    rc = connect(n, (struct sockaddr *)&a, sizeof(a));
    ROW("connected again: non-blocking connect: %s", ename(rc, errno));
    p = (struct pollfd){ .fd = n, .events = POLLOUT };
    ROW("connected again: non-blocking ready: %d", poll(&p, 1, 5000));
    acc[0] = accept(lfd, NULL, NULL);
    acc[1] = accept(lfd, NULL, NULL);
    close(lfd);
    rc = connect(b, (struct sockaddr *)&a, sizeof(a));
    ROW("connected again: a third socket, refused: %s", ename(rc, errno));
    rows_bad_address(&a, "connected again: to the refusing destination");
    rc = connect(c, (struct sockaddr *)&a, sizeof(a));
    ROW("connected again: the blocking one: %s", ename(rc, errno));
    rc = connect(n, (struct sockaddr *)&a, sizeof(a));
    ROW("connected again: the non-blocking one: %s", ename(rc, errno));
    rc = connect(n, (struct sockaddr *)&a, sizeof(a));
    ROW("connected again: the non-blocking one, twice: %s", ename(rc, errno));
    close(acc[0]);
    close(acc[1]);
    close(b);
    close(n);
    close(c);
}

/* One connect with the address in a struct sockaddr_storage and addrlen its size, as
 * the kernel accepts (the shim must manage it like any other). */
static int storage(void)
{
    struct sockaddr_storage ss;
    struct sockaddr_in a;
    int lfd = listener(8, &a), fd = tcp(0), rc;

    memset(&ss, 0, sizeof(ss));
    memcpy(&ss, &a, sizeof(a));
    rc = connect(fd, (struct sockaddr *)&ss, sizeof(ss));
    printf("connect, addrlen %zu: %s\n", sizeof(ss), ename(rc, errno));
    close(fd);
    close(lfd);
    return rc == 0 ? 0 : 1;
}

/* A connect and a bad address where process_vm_readv fails with EPERM, as under a
 * container's seccomp profile that forbids it (the shim copies addresses in with it). */
static int no_vm_readv(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_process_vm_readv, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };
    struct sockaddr_in a;
    int lfd = listener(8, &a), fd = tcp(0), rc, rc2;

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
        perror("seccomp");
        return 2;
    }
    rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
    printf("no process_vm_readv: connect %s, ", ename(rc, errno));
    close(fd);
    fd = tcp(0);
    rc2 = connect(fd, (struct sockaddr *)8, sizeof(a));
    printf("unmapped address %s\n", ename(rc2, errno));
    close(fd);
    close(lfd);
    return rc == 0 && rc2 < 0 ? 0 : 1;
}

/* Under the shim with a short connect deadline: a SYN that is dropped. */
static int deadline(void)
{
    struct sockaddr_in fa;
    struct timespec t0, t1;
    int full = listener(0, &fa), f1 = tcp(0), f2 = tcp(0), rc, e;

    connect(f1, (struct sockaddr *)&fa, sizeof(fa));
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = connect(f2, (struct sockaddr *)&fa, sizeof(fa));
    e = errno;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%s %ld", ename(rc, e), (long)(t1.tv_sec - t0.tv_sec));
    /* Left as the kernel's own time-out leaves it: no error pending, a send says EPIPE. */
    {
        struct pollfd p = { .fd = f2, .events = POLLIN | POLLOUT };
        int err = -1;
        socklen_t el = sizeof(err);

        poll(&p, 1, 0);
        getsockopt(f2, SOL_SOCKET, SO_ERROR, &err, &el);
        rc = (int)send(f2, "x", 1, MSG_NOSIGNAL);
        printf(" pollerr %d so_error %d send %s\n", !!(p.revents & POLLERR), err,
               ename(rc, errno));
    }
    close(f2);
    close(f1);
    close(full);
    return 0;
}

int main(int argc, char **argv)
{
    struct sockaddr_in a;
    int lfd;

    self = argv[0];
    if (argc == 3 && !strcmp(argv[1], "--exec-child"))
        return exec_child(argv[2]);
    if (argc == 2 && !strcmp(argv[1], "--deadline"))
        return deadline();
    if (argc == 2 && !strcmp(argv[1], "--storage"))
        return storage();
    if (argc == 2 && !strcmp(argv[1], "--seccomp"))
        return no_vm_readv();
    signal(SIGPIPE, SIG_IGN);
    lfd = listener(128, &a);
    fcntl(lfd, F_SETFL, O_NONBLOCK);
    rows_connect(lfd, &a);
    rows_nonblocking(lfd, &a);
    rows_connected_again();
    fcntl(lfd, F_SETFL, 0);
    row_dup(lfd, &a, "dup", how_dup);
    row_dup(lfd, &a, "dup2", how_dup2);
    row_dup(lfd, &a, "dup3", how_dup3);
    row_dup(lfd, &a, "F_DUPFD_CLOEXEC", how_dupfd);
    fcntl(lfd, F_SETFL, O_NONBLOCK);
    rows_fork_exec(lfd, &a);
    fcntl(lfd, F_SETFL, 0);
    row_daemon(lfd, &a);
    row_threads(lfd, &a);
    rows_signals(lfd, &a);
    rows_unix();
    row_ipv6();
    rows_names();
    close(lfd);
    return 0;
}
