/*
 * sockets_connect_lat.c - the cost of one blocking connect() on loopback: N connects
 * to a listener of its own, each timed; prints p50, p99 and max in microseconds. Run it
 * natively and under `cnio run --sockets` with CNIO_SOCKETS_MANAGE=all (bench/sockets.sh).
 *
 *   sockets_connect_lat [N]     (default 2000)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000, lfd;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t l = sizeof(a);
    double *us = calloc((size_t)n, sizeof(*us));

    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (n < 1 || !us || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 4096) < 0
        || getsockname(lfd, (struct sockaddr *)&a, &l) < 0) {
        perror("sockets_connect_lat");
        return 1;
    }
    for (int i = 0; i < n; i++) {
        struct timespec t0, t1;
        int fd = socket(AF_INET, SOCK_STREAM, 0), s;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
            perror("connect");
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        us[i] = (t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) / 1e3;
        s = accept(lfd, NULL, NULL);
        close(s);
        close(fd);
    }
    qsort(us, (size_t)n, sizeof(*us), cmp);
    printf("connects %d p50 %.1f us p99 %.1f us max %.1f us\n", n, us[n / 2],
           us[(int)(n * 0.99)], us[n - 1]);
    free(us);
    return 0;
}
