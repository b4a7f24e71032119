/*
 * tcpsource.c - the sending end of bench/tcpsink: connects to ADDR:PORT and sends a file
 * with sendfile(2) from the page cache, or SIZE bytes from one reused 1 MiB buffer, then
 * prints the bytes sent, the time that took and the CPU seconds it spent, and exits.
 *
 *   tcpsource --connect ADDR:PORT (--sendfile FILE | --size BYTES) [--timeout SECONDS]
 *
 * `--sendfile` is the bare page cache -> socket loop a cnio-server's READ path is measured
 * against (bench/floor.sh); `--size` feeds tcpsink from memory. Every wait is bounded by
 * --timeout (default 60 s): a peer that takes nothing that long ends it with exit 1.
 * Exit 0 when everything was sent, 1 on a failure, 2 on a usage error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SOURCE_BUF (1u << 20)

struct source {
    const char *connect, *file;
    long long size;
    int timeout_ms;
    int fd, in;
};

static double source_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double source_cpu(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int source_usage(void)
{
    fprintf(stderr, "usage: tcpsource --connect ADDR:PORT (--sendfile FILE | --size BYTES) "
            "[--timeout SECONDS]\n");
    return -1;
}

static int source_parse(struct source *s, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (i + 1 >= argc)
            return source_usage();
        if (!strcmp(a, "--connect"))
            s->connect = argv[++i];
        else if (!strcmp(a, "--sendfile"))
            s->file = argv[++i];
        else if (!strcmp(a, "--size"))
            s->size = atoll(argv[++i]);
        else if (!strcmp(a, "--timeout"))
            s->timeout_ms = atoi(argv[++i]) * 1000;
        else
            return source_usage();
    }
    if (!s->connect || !s->file == !(s->size > 0) || s->timeout_ms <= 0)
        return source_usage();
    return 0;
}

static int source_connect(struct source *s)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    const char *colon = strrchr(s->connect, ':');
    char host[64];

    if (!colon || (size_t)(colon - s->connect) >= sizeof(host))
        return -1;
    memcpy(host, s->connect, (size_t)(colon - s->connect));
    host[colon - s->connect] = '\0';
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -1;
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->fd < 0 || connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return -1;
    return 0;
}

/* Waits until the socket takes more; 0, or -1 after the timeout. */
static int source_wait(const struct source *s)
{
    struct pollfd p = { .fd = s->fd, .events = POLLOUT };
    int r;

    do
        r = poll(&p, 1, s->timeout_ms);
    while (r < 0 && errno == EINTR);
    return r > 0 ? 0 : -1;
}

/* Sends everything; returns the bytes sent, or -1. */
static long long source_send(struct source *s, const char *buf)
{
    long long sent = 0;

    while (sent < s->size) {
        long long left = s->size - sent;
        ssize_t n;

        if (s->in >= 0)
            n = sendfile(s->fd, s->in, NULL, (size_t)(left < (1LL << 30) ? left : 1LL << 30));
        else
            n = send(s->fd, buf, (size_t)(left < SOURCE_BUF ? left : SOURCE_BUF), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (source_wait(s)) {
                fprintf(stderr, "tcpsource: peer took nothing for %d s\n", s->timeout_ms / 1000);
                return -1;
            }
            continue;
        }
        if (n <= 0) {
            fprintf(stderr, "tcpsource: send: %s\n", n < 0 ? strerror(errno) : "nothing sent");
            return -1;
        }
        sent += n;
    }
    return sent;
}

int main(int argc, char **argv)
{
    struct source s = { .timeout_ms = 60000, .fd = -1, .in = -1 };
    char *buf = NULL;
    long long n;
    struct stat st;
    double t;

    if (source_parse(&s, argc, argv))
        return 2;
    if (s.file) {
        s.in = open(s.file, O_RDONLY | O_CLOEXEC);
        if (s.in < 0 || fstat(s.in, &st) < 0) {
            fprintf(stderr, "tcpsource: %s: %s\n", s.file, strerror(errno));
            return 1;
        }
        s.size = st.st_size;
    } else {
        buf = malloc(SOURCE_BUF);
        if (!buf)
            return 1;
        memset(buf, 0x5a, SOURCE_BUF);
    }
    if (source_connect(&s)) {
        fprintf(stderr, "tcpsource: cannot connect to %s: %s\n", s.connect, strerror(errno));
        return 1;
    }
    /* Non-blocking from here, so that every wait goes through source_wait's bound. */
    fcntl(s.fd, F_SETFL, fcntl(s.fd, F_GETFL) | O_NONBLOCK);
    t = source_now();
    n = source_send(&s, buf);
    t = source_now() - t;
    if (n >= 0)
        printf("tcpsource: %lld bytes in %.6f s, %.3f GB/s, cpu %.3f s\n", n, t,
               t > 0 ? n / t / 1e9 : 0.0, source_cpu());
    close(s.fd);
    if (s.in >= 0)
        close(s.in);
    free(buf);
    return n >= 0 ? 0 : 1;
}
