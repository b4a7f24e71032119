/*
 * gather0.c - the common hand-rolled practice that cnio replaces, as a baseline: every
 * rank hands its block to rank 0 (MPI_Gatherv), and rank 0 alone sends everything over
 * one TCP stream to a sink (bench/tcpsink). The data moves in rounds of --chunk bytes per
 * rank so that rank 0's buffer stays at ranks x chunk.
 *
 *   mpirun -n N gather0 [--size SIZE] [--chunk SIZE] [--json] HOST:PORT
 *
 * SIZE is the bytes per rank, as in `cnio bench --pattern contiguous` (default 256M).
 * Rank 0 connects before the clock starts (as cnio's open is outside its timing); the
 * clock stops when the sink has closed the connection after the last byte. CPU s/GB is
 * user+sys of all ranks (not of the sink).
 */
#include <mpi.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define G0_TIMEOUT_MS 60000

struct g0 {
    unsigned long long size, chunk;
    int json;
    const char *sink;
    int rank, nranks, fd;
};

static int g0_size(const char *s, unsigned long long *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    int shift = *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0;

    if (end == s || (shift && end[1]) || (!shift && *end) || v == 0)
        return -1;
    *out = v << shift;
    return 0;
}

static int g0_parse(struct g0 *g, int argc, char **argv)
{
    g->size = 256ull << 20;
    g->chunk = 64ull << 20;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            g->json = 1;
        } else if ((!strcmp(argv[i], "--size") || !strcmp(argv[i], "--chunk")) &&
                   i + 1 < argc) {
            if (g0_size(argv[i + 1], argv[i][2] == 's' ? &g->size : &g->chunk))
                return -1;
            i++;
        } else if (argv[i][0] != '-' && !g->sink) {
            g->sink = argv[i];
        } else {
            return -1;
        }
    }
    g->chunk = g->chunk < g->size ? g->chunk : g->size;
    return g->sink && g->chunk * (unsigned long long)g->nranks <= INT_MAX ? 0 : -1;
}

/* Rank 0: a blocking TCP connection to HOST:PORT (an IPv4 address). */
static int g0_connect(struct g0 *g)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    const char *colon = strrchr(g->sink, ':');
    char host[64];

    if (!colon || (size_t)(colon - g->sink) >= sizeof(host))
        return -1;
    memcpy(host, g->sink, (size_t)(colon - g->sink));
    host[colon - g->sink] = '\0';
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -1;
    g->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (g->fd < 0 || connect(g->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return -1;
    return 0;
}

static int g0_send(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Rank 0, after the last byte: half-close, then wait (bounded) for the sink to close. */
static int g0_finish(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    char c;

    if (shutdown(fd, SHUT_WR) < 0 || poll(&p, 1, G0_TIMEOUT_MS) != 1)
        return -1;
    return recv(fd, &c, 1, 0) == 0 ? 0 : -1;
}

static double g0_cpu(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru))
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Gathers and sends every round; returns 0 or -1 (rank 0's send failed). */
static int g0_rounds(struct g0 *g, const char *mine, char *all, int *counts, int *displs)
{
    int rc = 0;

    for (unsigned long long off = 0; off < g->size; off += g->chunk) {
        int n = (int)(g->size - off < g->chunk ? g->size - off : g->chunk);

        for (int r = 0; r < g->nranks; r++)
            counts[r] = n, displs[r] = r * n;
        MPI_Gatherv(mine + off, n, MPI_BYTE, all, counts, displs, MPI_BYTE, 0,
                    MPI_COMM_WORLD);
        if (g->rank == 0 && rc == 0)
            rc = g0_send(g->fd, all, (size_t)n * (size_t)g->nranks);
    }
    if (g->rank == 0 && rc == 0)
        rc = g0_finish(g->fd);
    return rc;
}

static void g0_report(const struct g0 *g, double secs, double cpu)
{
    double total = (double)g->size * g->nranks;

    if (g->json)
        printf("{\"tool\":\"gather0\",\"ranks\":%d,\"streams\":1,\"bytes_per_rank\":%llu,"
               "\"total_bytes\":%.0f,\"write_s\":%.6f,\"write_gbps\":%.4f,"
               "\"write_cpu_s_per_gb\":%.4f}\n", g->nranks, g->size, total, secs,
               total / secs / 1e9, cpu / (total / 1e9));
    else
        printf("gather0: %d ranks x %llu bytes gathered to rank 0 and sent over one TCP "
               "stream: %.3f s, %.3f GB/s, %.3f CPU s/GB (ranks only)\n", g->nranks, g->size,
               secs, total / secs / 1e9, cpu / (total / 1e9));
}

static int g0_run(struct g0 *g)
{
    char *mine = malloc(g->size), *all = NULL;
    int *counts = calloc((size_t)g->nranks, sizeof(int));
    int *displs = calloc((size_t)g->nranks, sizeof(int));
    int ok = mine && counts && displs, allok = 0;
    double t = 0, c = 0, tmax = 0, csum = 0;

    if (g->rank == 0) {
        all = malloc(g->chunk * (size_t)g->nranks);
        ok = ok && all && g0_connect(g) == 0;
    }
    if (mine)
        memset(mine, 'a' + g->rank % 26, g->size);
    MPI_Allreduce(&ok, &allok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (allok) {
        MPI_Barrier(MPI_COMM_WORLD);
        c = g0_cpu();
        t = MPI_Wtime();
        ok = g0_rounds(g, mine, all, counts, displs) == 0;
        t = MPI_Wtime() - t;
        c = g0_cpu() - c;
        MPI_Allreduce(&ok, &allok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
        MPI_Reduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
        MPI_Reduce(&c, &csum, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    }
    if (!allok && g->rank == 0)
        fprintf(stderr, "gather0: failed (memory, or the sink %s: %s)\n", g->sink,
                strerror(errno));
    if (allok && g->rank == 0)
        g0_report(g, tmax, csum);
    if (g->rank == 0 && g->fd >= 0)
        close(g->fd);
    free(mine);
    free(all);
    free(counts);
    free(displs);
    return allok ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct g0 g = { .fd = -1 };
    int rc;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &g.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g.nranks);
    if (g0_parse(&g, argc, argv)) {
        if (g.rank == 0)
            fprintf(stderr, "usage: mpirun -n N gather0 [--size SIZE] [--chunk SIZE] [--json] "
                    "HOST:PORT\n(ranks x chunk must stay under 2 GiB)\n");
        MPI_Finalize();
        return 2;
    }
    rc = g0_run(&g);
    MPI_Finalize();
    return rc;
}
