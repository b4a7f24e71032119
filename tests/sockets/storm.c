/*
 * storm.c - legacy per-rank socket code, as found in the wild: each rank (under mpirun,
 * with no MPI call) resolves a host name, connects to one listener and sends its data.
 * All ranks start at the same wall-clock instant so that their SYNs arrive together.
 *
 *   storm HOST PORT START_MS [BYTES [any]]
 * START_MS: CLOCK_REALTIME in ms at which to connect. Sends a 4-byte rank then BYTES
 * (default 65536) bytes of a pattern derived from the rank, then waits for the listener
 * to close. Prints "rank R ok connect_ms T" or "rank R connect ERRNAME after T ms";
 * exit 0 on success, 1 on any failure ("any" as the 5th argument: 0 either way, for
 * runs where failures are expected or measured and mpirun must not abort the job).
 * STORM_NONBLOCK=1 in the environment: a non-blocking connect, then poll and SO_ERROR,
 * as event-loop clients do.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* connect(), or with STORM_NONBLOCK=1 the event-loop way; -1 with errno on failure. */
static int storm_connect(int fd, const struct addrinfo *ai)
{
    const char *nb = getenv("STORM_NONBLOCK");
    struct pollfd p = { .fd = fd, .events = POLLOUT };
    int err = 0, fl = fcntl(fd, F_GETFL);
    socklen_t el = sizeof(err);

    if (!nb || strcmp(nb, "1"))
        return connect(fd, ai->ai_addr, ai->ai_addrlen);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        if (errno != EINPROGRESS)
            return -1;
        if (poll(&p, 1, 200000) != 1)
            return errno = ETIMEDOUT, -1;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err)
            return errno = err, -1;
    }
    fcntl(fd, F_SETFL, fl);
    return 0;
}

static long now_ms(clockid_t c)
{
    struct timespec ts;

    clock_gettime(c, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    const char *r = getenv("OMPI_COMM_WORLD_RANK");
    int rank = r ? atoi(r) : 0, fd, rc;
    size_t bytes = argc > 4 ? strtoul(argv[4], NULL, 10) : 65536, off = 0;
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai;
    long start, t0, t1;
    int fail_status;
    struct timespec at;
    unsigned char *buf;
    char c;

    if (argc < 4)
        return 2;
    fail_status = argc > 5 && !strcmp(argv[5], "any") ? 0 : 1;
    start = atol(argv[3]);
    rc = getaddrinfo(argv[1], argv[2], &hints, &ai);
    if (rc) {
        printf("rank %d getaddrinfo %s\n", rank, gai_strerror(rc));
        return fail_status;
    }
    buf = malloc(bytes + 4);
    memcpy(buf, &rank, 4);
    for (size_t i = 0; i < bytes; i++)
        buf[4 + i] = (unsigned char)(rank * 31 + i);
    at.tv_sec = start / 1000;
    at.tv_nsec = (start % 1000) * 1000000;
    while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &at, NULL) == EINTR)
        ;
    fd = socket(AF_INET, SOCK_STREAM, 0);
    t0 = now_ms(CLOCK_MONOTONIC);
    rc = storm_connect(fd, ai);
    t1 = now_ms(CLOCK_MONOTONIC);
    if (rc < 0) {
        printf("rank %d connect %s after %ld ms\n", rank, strerrorname_np(errno), t1 - t0);
        return fail_status;
    }
    while (off < bytes + 4) {
        ssize_t n = write(fd, buf + off, bytes + 4 - off);

        if (n <= 0) {
            printf("rank %d write %s\n", rank, strerrorname_np(errno));
            return fail_status;
        }
        off += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    if (read(fd, &c, 1) != 0) {
        printf("rank %d: listener did not close cleanly\n", rank);
        return fail_status;
    }
    printf("rank %d ok connect_ms %ld\n", rank, t1 - t0);
    close(fd);
    freeaddrinfo(ai);
    free(buf);
    return 0;
}
