/*
 * nbconnect.c - non-blocking connects whose outcomes the socket shim must learn after
 * connect has returned EINPROGRESS (sockets/shim_pending.c). Prints the ports it used
 * and one line per case; shim-nbconnect.test checks what the proxy learnt.
 *
 *   1. 20 non-blocking connects to a listener of its own: poll, getsockopt(SO_ERROR) 0;
 *   2. a closed port A: non-blocking connect, poll, SO_ERROR ECONNREFUSED; then a
 *      blocking connect to A;
 *   3. a closed port B: non-blocking connect, poll, close without asking SO_ERROR; then
 *      a blocking connect to B.
 * Exit 0 when every call behaved as POSIX says (the refusals being refusals).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
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

int main(void)
{
    int lfd = -1, open_port = nb_port(64, &lfd), a = nb_port(0, NULL), b = nb_port(0, NULL);
    int ok = 0, fail = 0, fd, err, again;

    if (open_port < 0 || a < 0 || b < 0)
        return 2;
    printf("ports open %d closed_a %d closed_b %d\n", open_port, a, b);
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
    fd = nb_start(b);
    if (fd >= 0)
        close(fd);
    err = nb_blocking(b);
    printf("closed port B: closed unasked, then a blocking connect: %s\n", strerrorname_np(err));
    fail |= err != ECONNREFUSED;
    close(lfd);
    return fail;
}
