/*
 * tcpsink.c - the receiving end of bench/gather0 and bench/tcpsource: accepts one TCP
 * connection, reads it to the end in 1 MiB receives, discarding the bytes or writing them
 * to a file (pwrite at the stream's offset), then prints how many bytes came in, how long
 * that took (from accept to end of stream) and the CPU seconds it spent, and exits.
 *
 *   tcpsink [--listen ADDR:PORT] [--port-file FILE] [--out FILE] [--crc] [--timeout SECONDS]
 *
 * --crc computes the CRC32C of each receive (cnio's, ISA-L where built with it) and prints
 * the stream's: with --out, the bare recv + CRC32C + pwrite loop that a cnio-server's
 * WRITE path is measured against (bench/floor.sh).
 * --listen defaults to 127.0.0.1:0 (a free port; --port-file receives the port once
 * listening). Every wait is bounded by --timeout (default 60 s): no peer, or a peer that
 * stalls that long, ends the sink with exit status 1.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1   /* accept4 */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wire.h"   /* cnio__crc32c */

#define SINK_BUF (1u << 20)

struct sink {
    const char *listen, *port_file, *out;
    int timeout_ms, crc;
    int lfd, cfd, ofd;
    uint32_t sum;
};

/* User + system CPU seconds of this process so far. */
static double sink_cpu(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double sink_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int sink_usage(void)
{
    fprintf(stderr, "usage: tcpsink [--listen ADDR:PORT] [--port-file FILE] [--out FILE] "
            "[--crc] [--timeout SECONDS]\n");
    return -1;
}

static int sink_parse(struct sink *s, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (!strcmp(a, "--crc")) {
            s->crc = 1;
            continue;
        }
        if (i + 1 >= argc)
            return sink_usage();
        if (!strcmp(a, "--listen"))
            s->listen = argv[++i];
        else if (!strcmp(a, "--port-file"))
            s->port_file = argv[++i];
        else if (!strcmp(a, "--out"))
            s->out = argv[++i];
        else if (!strcmp(a, "--timeout"))
            s->timeout_ms = atoi(argv[++i]) * 1000;
        else
            return sink_usage();
    }
    return s->timeout_ms > 0 ? 0 : sink_usage();
}

/* Binds and listens on s->listen; writes the port to s->port_file. */
static int sink_listen(struct sink *s)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t len = sizeof(sa);
    char host[64];
    const char *colon = strrchr(s->listen, ':');
    int one = 1;
    FILE *f;

    if (!colon || (size_t)(colon - s->listen) >= sizeof(host))
        return -1;
    memcpy(host, s->listen, (size_t)(colon - s->listen));
    host[colon - s->listen] = '\0';
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -1;
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->lfd < 0 || setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s->lfd, 1) < 0 ||
        getsockname(s->lfd, (struct sockaddr *)&sa, &len) < 0)
        return -1;
    if (s->port_file) {
        char tmp[4096];

        snprintf(tmp, sizeof(tmp), "%s.tmp", s->port_file);
        f = fopen(tmp, "w");
        if (!f || fprintf(f, "%u\n", ntohs(sa.sin_port)) < 0 || fclose(f) != 0 ||
            rename(tmp, s->port_file) < 0)
            return -1;
    }
    return 0;
}

static int sink_wait(int fd, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int r;

    do
        r = poll(&p, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    return r > 0 ? 0 : -1;
}

/* Reads the connection to its end; returns the bytes, or -1. */
static long long sink_drain(struct sink *s, char *buf)
{
    long long total = 0;

    for (;;) {
        ssize_t n = recv(s->cfd, buf, SINK_BUF, 0);

        if (n == 0)
            return total;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (sink_wait(s->cfd, s->timeout_ms)) {
                fprintf(stderr, "tcpsink: no data for %d s\n", s->timeout_ms / 1000);
                return -1;
            }
            continue;
        }
        if (n < 0) {
            perror("tcpsink: recv");
            return -1;
        }
        if (s->crc)
            s->sum = cnio__crc32c(s->sum, buf, (size_t)n);
        for (ssize_t w = 0; s->ofd >= 0 && w < n;) {
            ssize_t r = pwrite(s->ofd, buf + w, (size_t)(n - w), total + w);

            if (r < 0) {
                perror("tcpsink: pwrite");
                return -1;
            }
            w += r;
        }
        total += n;
    }
}

int main(int argc, char **argv)
{
    struct sink s = { .listen = "127.0.0.1:0", .timeout_ms = 60000, .lfd = -1, .cfd = -1,
                      .ofd = -1 };
    char *buf = malloc(SINK_BUF);
    long long n = -1;
    double t = 0;

    if (!buf || sink_parse(&s, argc, argv))
        return 2;
    if (sink_listen(&s)) {
        fprintf(stderr, "tcpsink: cannot listen on %s: %s\n", s.listen, strerror(errno));
        return 1;
    }
    if (s.out && (s.ofd = open(s.out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
        perror("tcpsink: open");
        return 1;
    }
    if (sink_wait(s.lfd, s.timeout_ms) == 0)
        s.cfd = accept4(s.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (s.cfd < 0) {
        fprintf(stderr, "tcpsink: no connection within %d s\n", s.timeout_ms / 1000);
    } else {
        t = sink_now();
        n = sink_drain(&s, buf);
        t = sink_now() - t;
    }
    if (n >= 0 && s.ofd >= 0 && close(s.ofd) < 0)
        n = -1;
    if (n >= 0) {
        printf("tcpsink: %lld bytes in %.6f s, %.3f GB/s, cpu %.3f s", n, t,
               t > 0 ? n / t / 1e9 : 0.0, sink_cpu());
        if (s.crc)
            printf(", crc32c %08x", s.sum);
        printf("\n");
    }
    if (s.cfd >= 0)
        close(s.cfd);
    close(s.lfd);
    free(buf);
    return n >= 0 ? 0 : 1;
}
