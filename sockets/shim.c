/*
 * shim.c - libcnio_sockets.so: set-up, the conversation with the job proxy, and the
 * per-process counters. The interposed calls are in shim_connect.c (connect),
 * shim_names.c (name lookups) and shim_pending.c (getsockopt, epoll_ctl and close, for
 * the outcome of non-blocking connects); everything else (socket, send, recv, read,
 * write, poll, epoll_wait...) is libc's.
 *
 * Each process holds one "session" connection to the proxy (opened at load, kept on a
 * high fd, close-on-exec) so the proxy knows the job is alive; every request uses a
 * connection of its own, so threads, forked children and signal handlers never share
 * one. If the proxy is absent, stops answering within the proxy time-out, or dies, the
 * library says so once on stderr and passes everything to libc from then on.
 */
#include "shim.h"
#include "env.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct shim_real shim_real;
struct cnio__sk_conf shim_conf;
struct shim_counters shim_count;

static pthread_once_t shim_once = PTHREAD_ONCE_INIT;
static struct sockaddr_un shim_addr;
static int shim_on;          /* atomic: 1 proxy usable */
static int shim_logged;      /* atomic */

int64_t shim_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The proxy's socket path, made absolute against the directory the process starts in
 * (this runs from the library's constructor): a relative CNIO_SOCKETS_PROXY, preloaded by
 * hand, would otherwise name another file once the program changes directory. 0, or -1
 * when it does not fit a unix socket's path.
 */
static int shim_proxy_path(const char *path, char *out, size_t cap)
{
    size_t n;

    if (path[0] == '/') {
        n = strlen(path);
        if (n >= cap)
            return -1;
        memcpy(out, path, n + 1);
        return 0;
    }
    if (!getcwd(out, cap))
        return -1;
    n = strlen(out);
    if (n + 1 + strlen(path) >= cap)
        return -1;
    out[n] = '/';
    memcpy(out + n + 1, path, strlen(path) + 1);
    return 0;
}

static void shim_do_init(void)
{
    const char *path = getenv("CNIO_SOCKETS_PROXY");

    shim_real.connect = dlsym(RTLD_NEXT, "connect");
    shim_real.getaddrinfo = dlsym(RTLD_NEXT, "getaddrinfo");
    shim_real.freeaddrinfo = dlsym(RTLD_NEXT, "freeaddrinfo");
    shim_real.gethostbyname = dlsym(RTLD_NEXT, "gethostbyname");
    shim_real.gethostbyname2 = dlsym(RTLD_NEXT, "gethostbyname2");
    shim_real.getnameinfo = dlsym(RTLD_NEXT, "getnameinfo");
    shim_real.gethostbyname_r = dlsym(RTLD_NEXT, "gethostbyname_r");
    shim_real.gethostbyname2_r = dlsym(RTLD_NEXT, "gethostbyname2_r");
    shim_real.getsockopt = dlsym(RTLD_NEXT, "getsockopt");
    shim_real.close = dlsym(RTLD_NEXT, "close");
    shim_real.epoll_ctl = dlsym(RTLD_NEXT, "epoll_ctl");
    cnio__sk_conf_load(&shim_conf);
    shim_addr.sun_family = AF_UNIX;
    if (path && *path && shim_proxy_path(path, shim_addr.sun_path,
                                         sizeof(shim_addr.sun_path)) == 0)
        __atomic_store_n(&shim_on, 1, __ATOMIC_RELEASE);
}

void shim_init(void)
{
    pthread_once(&shim_once, shim_do_init);
}

int shim_proxy_on(void)
{
    return __atomic_load_n(&shim_on, __ATOMIC_ACQUIRE);
}

/* Appends s to msg (cap bytes, kept NUL-terminated) at *len. */
static void shim_cat(char *msg, size_t cap, size_t *len, const char *s)
{
    while (*s && *len + 1 < cap)
        msg[(*len)++] = *s++;
    msg[*len] = '\0';
}

/* Appends n >= 0 in decimal. */
static void shim_cat_num(char *msg, size_t cap, size_t *len, long n)
{
    char d[24];
    size_t k = sizeof(d) - 1;

    d[k] = '\0';
    do
        d[--k] = (char)('0' + n % 10);
    while ((n /= 10) > 0 && k > 0);
    shim_cat(msg, cap, len, d + k);
}

/* What fd 2 was when the library was loaded (valid: it was open). */
static struct {
    dev_t dev;
    ino_t ino;
    int valid;
} shim_stderr;

static void shim_stderr_note(void)
{
    struct stat sb;

    if (fstat(2, &sb) == 0)
        shim_stderr.dev = sb.st_dev, shim_stderr.ino = sb.st_ino, shim_stderr.valid = 1;
}

/*
 * 1 when the shim's own lines may go to fd 2: it is still the file it was at load, and
 * not a network connection. A program that closed its fds at start (as daemons do) and
 * then connected may hold a TCP connection on fd 2 (or, run by inetd, be given one
 * there), and a line went into that stream: a redis client read "-ERR unknown command
 * 'cnio-sockets[...]'" as the reply to its next GET, and exited 0. Async-signal-safe
 * (fstat, getsockname).
 */
static int shim_can_say(void)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    struct stat sb;

    if (!shim_stderr.valid || fstat(2, &sb) != 0 || sb.st_dev != shim_stderr.dev ||
        sb.st_ino != shim_stderr.ino)
        return 0;
    return !S_ISSOCK(sb.st_mode) ||
           (getsockname(2, (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family != AF_INET &&
            ss.ss_family != AF_INET6);
}

/* Appends ": no directory DIR" when the directory of the proxy's socket path does not
 * exist (a typo in a path given by hand): the line then says what to fix. */
static __attribute__((noinline)) void shim_cat_nodir(char *msg, size_t cap, size_t *len)
{
    char dir[sizeof(shim_addr.sun_path)];
    const char *slash = strrchr(shim_addr.sun_path, '/');
    size_t k = slash ? (size_t)(slash - shim_addr.sun_path) : 0;
    struct stat sb;

    if (!k)
        return;
    memcpy(dir, shim_addr.sun_path, k);
    dir[k] = '\0';
    if (stat(dir, &sb) < 0 && (errno == ENOENT || errno == ENOTDIR)) {
        shim_cat(msg, cap, len, ": no directory ");
        shim_cat(msg, cap, len, dir);
    }
}

/* The line that the proxy is lost (what: why, e: errno), once for the job (first 1) or
 * by each process (first 2: no mark could be made). Kept out of shim_proxy_failed's
 * frame, so that its buffers and shim_down_first's are not on the stack together. */
static __attribute__((noinline)) void shim_say_lost(const char *what, int e, int first)
{
    const char *desc = strerrordesc_np(e);   /* untranslated: no locale, no malloc */
    char msg[384];
    size_t n = 0;

    shim_cat(msg, sizeof(msg), &n, "cnio-sockets[");
    shim_cat_num(msg, sizeof(msg), &n, (long)getpid());
    shim_cat(msg, sizeof(msg), &n, "]: proxy ");
    shim_cat(msg, sizeof(msg), &n, what);
    shim_cat(msg, sizeof(msg), &n, " (");
    if (desc)
        shim_cat(msg, sizeof(msg), &n, desc);
    else
        shim_cat_num(msg, sizeof(msg), &n, e);
    if (e == ENOENT)
        shim_cat_nodir(msg, sizeof(msg), &n);
    shim_cat(msg, sizeof(msg), &n, "); passing everything to libc, the connect deadline kept ");
    shim_cat(msg, sizeof(msg), &n, first == 1
             ? "(said once for the job: its other processes say nothing)\n"
             : "(said by each process of the job: no mark that it was told can be made "
               "beside the socket nor in the run directory)\n");
    (void)!cnio__sk_write_quiet(2, msg, n);
}

/* Said without stdio or strerror (neither async-signal-safe, and vfprintf alone takes
 * 1.7 KiB of stack): a connect in a signal handler may be where the proxy is lost. Said
 * at most once per job where a mark can be made (shim_down_first), else by each process
 * of the job, and so said; without SIGPIPE (cnio__sk_write_quiet). */
void shim_proxy_failed(const char *what)
{
    int e = errno, first;

    __atomic_store_n(&shim_on, 0, __ATOMIC_RELEASE);
    SHIM_ADD(fallbacks, 1);
    /* (one that cannot say it leaves the job's one line to another process) */
    if (!__atomic_exchange_n(&shim_logged, 1, __ATOMIC_ACQ_REL) && shim_can_say() &&
        (first = shim_down_first()) != 0)
        shim_say_lost(what, e, first);
    errno = e;
}

void shim_rpc_close(int fd)
{
    int e = errno;

    close(fd);
    errno = e;
}

/* Waits (bounded, through EINTR) until fd is ready for events; 0, or -1. */
static int shim_wait(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd p = { .fd = fd, .events = events };
        int64_t left = deadline - shim_now_ms();
        int r;

        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        r = poll(&p, 1, (int)left);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

int shim_rpc_open(void)
{
    int fd;

    if (!shim_proxy_on())
        return -1;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;   /* out of fds: fall back for this call only */
    if (shim_real.connect(fd, (struct sockaddr *)&shim_addr, sizeof(shim_addr)) < 0) {
        if (errno == EAGAIN) {   /* the proxy's backlog is full: this call goes to libc */
            shim_rpc_close(fd);
            return -1;
        }
        shim_proxy_failed("unreachable");
        shim_rpc_close(fd);
        return -1;
    }
    return fd;
}

int shim_rpc_send(int fd, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    int64_t deadline = shim_now_ms() + shim_conf.proxy_timeout_ms;
    size_t off = 0;

    while (off < n) {
        ssize_t k = send(fd, p + off, n - off, MSG_NOSIGNAL);

        if (k > 0)
            off += (size_t)k;
        else if (k < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        else if (k < 0 && errno == EAGAIN && shim_wait(fd, POLLOUT, deadline) < 0)
            return -1;
    }
    return 0;
}

int shim_rpc_recv(int fd, void *buf, size_t cap)
{
    unsigned char *p = buf;
    int64_t deadline = shim_now_ms() + shim_conf.proxy_timeout_ms;
    size_t len = 0, want = CNIO__SKP_HDR;

    /* One message at a time: the header, then exactly the payload it announces. */
    while (len < want) {
        ssize_t r = recv(fd, p + len, want - len, 0);

        if (r == 0) {
            errno = ECONNRESET;
            return -1;
        }
        if (r < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        if (r < 0 && errno == EAGAIN && shim_wait(fd, POLLIN, deadline) < 0)
            return -1;
        if (r > 0 && (len += (size_t)r) == CNIO__SKP_HDR) {
            uint32_t plen;

            memcpy(&plen, p + 4, 4);
            if (plen > cap - CNIO__SKP_HDR) {
                errno = EPROTO;
                return -1;
            }
            want += plen;
        }
    }
    return (int)len;
}

int shim_rpc_send_small(int fd, const struct cnio__skp_small *m)
{
    unsigned char buf[CNIO__SKP_SMALL_MAX];
    int n = cnio__skp_encode_small(m, buf, sizeof(buf));

    if (n < 0) {
        errno = EINVAL;
        return -1;
    }
    return shim_rpc_send(fd, buf, (size_t)n);
}

int shim_rpc_recv_small(int fd, struct cnio__skp_small *m)
{
    unsigned char buf[CNIO__SKP_SMALL_MAX];
    int n = shim_rpc_recv(fd, buf, sizeof(buf));

    if (n < 0)
        return -1;
    if (cnio__skp_parse_small(buf, (size_t)n, m) != n) {
        errno = EPROTO;
        return -1;
    }
    return 0;
}

/* Opens the session connection and moves it out of the application's way. */
static void shim_session(void)
{
    struct cnio__skp_small m = { .type = CNIO__SKP_HELLO };
    const char *rank = getenv("OMPI_COMM_WORLD_RANK");
    struct rlimit rl;
    int fd = shim_rpc_open(), hi = -1;

    if (fd < 0)
        return;
    if (!rank)
        rank = getenv("PMIX_RANK");
    m.i[0] = (int32_t)getpid();
    m.i[1] = rank ? atoi(rank) : -1;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 64)
        hi = fcntl(fd, F_DUPFD_CLOEXEC, (int)(rl.rlim_cur > 1024 ? 1024 : rl.rlim_cur) - 32);
    if (hi >= 0) {
        close(fd);
        fd = hi;
    }
    if (shim_rpc_send_small(fd, &m) < 0) {
        shim_proxy_failed("not answering");
        close(fd);
    }
    /* fd stays open for the life of the process (and its forked children). */
}

/*
 * Says the CNIO_* names of the environment that no part of cnio reads (a misspelled
 * CNIO_SOCKETS_MANAGE was ignored silently), once per job: by its top process (none
 * named in CNIO_SOCKETS_TOP yet, shim_down.c) and, under a launcher, by rank 0 alone;
 * and not again by the programs it starts, which are told in CNIO_SOCKETS_ENV_SAID (the
 * names said): with no proxy no top process is named, and each program a job's shell
 * ran said them again. A program started with other unknown names says them.
 */
static __attribute__((noinline)) void shim_env_say(void)
{
    const char *said;
    char names[512], msg[768];
    size_t n = 0;
    int k;

    if (!cnio__env_rank0() || getenv("CNIO_SOCKETS_TOP") || !shim_can_say() ||
        !cnio__env_first())
        return;
    k = cnio__env_unknown(environ, names, sizeof(names));
    said = getenv("CNIO_SOCKETS_ENV_SAID");
    if (!k || (said && !strcmp(said, names)))
        return;
    setenv("CNIO_SOCKETS_ENV_SAID", names, 1);
    shim_cat(msg, sizeof(msg), &n, k > 1 ? "cnio-sockets: ignoring unknown environment "
                                           "variables " : "cnio-sockets: ignoring unknown "
                                           "environment variable ");
    shim_cat(msg, sizeof(msg), &n, names);
    shim_cat(msg, sizeof(msg), &n, k > 1 ? ": no part of cnio reads them" : ": no part of "
                                           "cnio reads it");
    shim_cat(msg, sizeof(msg), &n, " (cnio's variables: cnio(1), doc/sockets.md)\n");
    (void)!cnio__sk_write_quiet(2, msg, n);
}

__attribute__((constructor)) static void shim_load(void)
{
    shim_stderr_note();
    shim_init();
    shim_env_say();   /* before this process names itself the job's top (shim_down_init) */
    if (shim_proxy_on()) {
        shim_down_init(shim_addr.sun_path);
        /* a job told its proxy is lost goes on without it in each process it starts
         * later too, at once: not each waiting CNIO_SOCKETS_PROXY_TIMEOUT_MS for a proxy
         * that stopped answering (helper-110's 6: 3 s per process). A proxy that
         * listens on the socket again removes the mark. */
        if (shim_down_told()) {
            __atomic_store_n(&shim_on, 0, __ATOMIC_RELEASE);
            __atomic_store_n(&shim_logged, 1, __ATOMIC_RELEASE);
            SHIM_ADD(fallbacks, 1);
        }
    }
    shim_session();
}

__attribute__((destructor)) static void shim_unload(void)
{
    char msg[512];
    const char *rank = getenv("OMPI_COMM_WORLD_RANK");
    int n;

    shim_down_exit();
    if (!shim_conf.stats || !shim_can_say())
        return;
    n = snprintf(msg, sizeof(msg),
                 "cnio-sockets: rank %s pid %ld: connects %llu managed %llu failed_fast %llu "
                 "admission_wait_ms %llu unpaced %llu names %llu (from proxy %llu) "
                 "fallbacks %llu\n",
                 rank ? rank : "-", (long)getpid(), (unsigned long long)shim_count.connects,
                 (unsigned long long)shim_count.managed, (unsigned long long)shim_count.failed_fast,
                 (unsigned long long)shim_count.admit_wait_ms,
                 (unsigned long long)shim_count.unpaced, (unsigned long long)shim_count.names,
                 (unsigned long long)shim_count.names_proxy,
                 (unsigned long long)shim_count.fallbacks);
    (void)!cnio__sk_write_quiet(2, msg, n > 0 && (size_t)n < sizeof(msg) ? (size_t)n : 0);
}
