/*
 * storm_listener.c - the one listener of the connection storm: listens with a given
 * backlog on ADDR:PORT, accepts promptly in a poll loop (or, with PERIOD_MS, only once
 * every PERIOD_MS, as a busy single-threaded server would), reads each connection to its
 * end and checks it holds one rank's pattern (storm.c), until every rank 0..N-1 has
 * arrived or TIMEOUT seconds pass.
 *
 *   storm_listener ADDR PORT BACKLOG N TIMEOUT [BYTES [PERIOD_MS]]
 * Prints "listening" once ready, then "ranks ok K/N"; exit 0 when K == N.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

#define MAXC 1024

struct conn {
    int fd;
    size_t got;
    int rank, bad;
};

static int check(struct conn *c, const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++, c->got++) {
        if (c->got < 4) {
            c->rank |= b[i] << (8 * c->got);
            continue;
        }
        if (b[i] != (unsigned char)(c->rank * 31 + (c->got - 4)))
            c->bad = 1;
    }
    return 0;
}

/* Accepts everything waiting (the listening socket is non-blocking). */
static void accept_all(int lfd, struct conn *cs, int *nc)
{
    while (*nc < MAXC) {
        int fd = accept(lfd, NULL, NULL);

        if (fd < 0)
            return;
        cs[(*nc)++] = (struct conn){ .fd = fd };
    }
}

int main(int argc, char **argv)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    static struct conn cs[MAXC];
    static struct pollfd p[MAXC + 1];
    static char seen[MAXC];
    int lfd, one = 1, n, nc = 0, ok = 0;
    long period, next_accept = 0;
    size_t bytes;
    time_t end;

    if (argc < 6)
        return 2;
    n = atoi(argv[4]);
    end = time(NULL) + atoi(argv[5]);
    bytes = argc > 6 ? strtoul(argv[6], NULL, 10) : 65536;
    period = argc > 7 ? atol(argv[7]) : 0;
    inet_pton(AF_INET, argv[1], &a.sin_addr);
    a.sin_port = htons((uint16_t)atoi(argv[2]));
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (n > MAXC || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, atoi(argv[3])) < 0) {
        perror("storm_listener");
        return 2;
    }
    printf("listening\n");
    fflush(stdout);
    while (ok < n && time(NULL) < end) {
        long wait = 1000;

        if (period && now_ms() >= next_accept) {   /* the busy server's accept round */
            accept_all(lfd, cs, &nc);
            next_accept = now_ms() + period;
        }
        if (period)
            wait = next_accept - now_ms() < 1 ? 1 : next_accept - now_ms();
        p[0] = (struct pollfd){ .fd = period ? -1 : lfd, .events = POLLIN };
        for (int i = 0; i < nc; i++)
            p[i + 1] = (struct pollfd){ .fd = cs[i].fd, .events = POLLIN };
        if (poll(p, (nfds_t)nc + 1, (int)wait) <= 0)
            continue;
        if (!period)
            accept_all(lfd, cs, &nc);
        for (int i = nc - 1; i >= 0; i--) {
            unsigned char b[65536];
            ssize_t k;

            if (!p[i + 1].revents)
                continue;
            k = read(cs[i].fd, b, sizeof(b));
            if (!period)
                accept_all(lfd, cs, &nc);   /* a prompt listener: accepting comes first */
            if (k > 0) {
                check(&cs[i], b, (size_t)k);
                continue;
            }
            if (k == 0 && !cs[i].bad && cs[i].got == bytes + 4 && cs[i].rank >= 0
                && cs[i].rank < n && !seen[cs[i].rank]) {
                seen[cs[i].rank] = 1;
                ok++;
            }
            close(cs[i].fd);
            cs[i] = cs[--nc];
        }
    }
    printf("ranks ok %d/%d\n", ok, n);
    return ok == n ? 0 : 1;
}
