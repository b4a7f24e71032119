/*
 * transport_tcp.c - the "tcp" transport: kernel TCP sockets, non-blocking, with
 * TCP_NODELAY and TCP_USER_TIMEOUT = the hints' timeout; gather / scatter I/O with
 * sendmsg / readv. The stack multiplexes the sockets.
 *
 * Socket buffers are left to the kernel: setting SO_SNDBUF / SO_RCVBUF turns Linux's
 * buffer autotuning off and, capped by net.core.[rw]mem_max (208 KiB on a stock kernel),
 * could make them smaller than autotuning grows them.
 */
#include "common.h"
#include "log.h"
#include "net.h"
#include "transport.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* Linux's UIO_MAXIOV: the most iovecs one call takes. */
#define TCP_IOV_MAX 1024

struct tcp_tp {
    struct cnio_tp base;
};

struct tcp_conn {
    struct cnio_conn base;
    int fd;
    int user_timeout_ms;       /* TCP_USER_TIMEOUT, set once a connect_start is through */
};

static int tcp_open(struct cnio_stack *st, const struct cnio_hints *h, struct cnio_tp **out)
{
    struct tcp_tp *tp = calloc(1, sizeof(*tp));

    if (!tp)
        return -CNIO_ERR_NOMEM;
    tp->base.ops = &cnio__tcp_ops;
    tp->base.st = st;
    *out = &tp->base;
    return 0;
}

static int tcp_connect(struct cnio_tp *tp, const struct cnio_peer *peer, struct cnio_conn **out)
{
    struct tcp_conn *c = calloc(1, sizeof(*c));
    int ret;

    if (!c)
        return -CNIO_ERR_NOMEM;
    ret = cnio__net_connect(&peer->addr, peer->connect_ms > 0 ? peer->connect_ms
                                                              : peer->timeout_ms, &c->fd);
    if (ret)
        goto free_conn;
    ret = cnio__net_tune(c->fd, peer->timeout_ms);
    if (ret)
        goto close_fd;
    c->base.tp = tp;
    *out = &c->base;
    return 0;
close_fd:
    close(c->fd);
free_conn:
    free(c);
    return ret;
}

/* The connect goes on in the kernel; the stack waits for its fd with the others'. */
static int tcp_connect_start(struct cnio_tp *tp, const struct cnio_peer *peer,
                             struct cnio_conn **out)
{
    struct tcp_conn *c = calloc(1, sizeof(*c));
    int ret;

    if (!c)
        return -CNIO_ERR_NOMEM;
    ret = cnio__net_probe_start(&peer->addr, &c->fd);
    if (ret == -CNIO_ERR_INVAL)   /* not IPv4 or IPv6: connected the waiting way */
        ret = -CNIO_ERR_NOTSUP;
    if (ret) {
        free(c);
        return ret;
    }
    c->user_timeout_ms = peer->timeout_ms;
    c->base.tp = tp;
    *out = &c->base;
    return 0;
}

static int tcp_connect_poll(struct cnio_conn *conn)
{
    struct tcp_conn *c = (struct tcp_conn *)conn;
    int ret = cnio__net_probe_poll(c->fd);

    return ret ? ret : cnio__net_tune(c->fd, c->user_timeout_ms);
}

static ssize_t tcp_err(int err)
{
    switch (err) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EINTR:
        return 0;
    case ETIMEDOUT:
        return -CNIO_ERR_TIMEOUT;
    case ENOMEM:
    case ENOBUFS:
        return -CNIO_ERR_NOMEM;
    case EFAULT:   /* the caller's memory (a buffer unmapped, a mapped file shrunk) */
        return -CNIO_ERR_INVAL;
    default:
        return -CNIO_ERR_CONN;
    }
}

static ssize_t tcp_sendv(struct cnio_conn *conn, const struct iovec *iov, int n)
{
    struct tcp_conn *c = (struct tcp_conn *)conn;
    struct msghdr msg = { 0 };
    ssize_t r;

    msg.msg_iov = (struct iovec *)iov;
    msg.msg_iovlen = (size_t)CNIO_MIN(n, TCP_IOV_MAX);
    r = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    return r >= 0 ? r : tcp_err(errno);
}

static ssize_t tcp_recvv(struct cnio_conn *conn, const struct iovec *iov, int n)
{
    struct tcp_conn *c = (struct tcp_conn *)conn;
    ssize_t r = readv(c->fd, iov, CNIO_MIN(n, TCP_IOV_MAX));

    if (r > 0)
        return r;
    if (r == 0)
        return -CNIO_ERR_CONN;
    return tcp_err(errno);
}

static void tcp_close(struct cnio_conn *conn)
{
    struct tcp_conn *c = (struct tcp_conn *)conn;

    if (!c)
        return;
    close(c->fd);
    free(c);
}

static int tcp_fd(struct cnio_conn *conn)
{
    return ((struct tcp_conn *)conn)->fd;
}

static void tcp_fini(struct cnio_tp *tp)
{
    free(tp);
}

const struct cnio_transport_ops cnio__tcp_ops = {
    .size = sizeof(cnio__tcp_ops),
    .name = "tcp",
    .open = tcp_open,
    .connect = tcp_connect,
    .connect_start = tcp_connect_start,
    .connect_poll = tcp_connect_poll,
    .sendv = tcp_sendv,
    .recvv = tcp_recvv,
    .progress = cnio__tp_progress_none,
    .close = tcp_close,
    .fd = tcp_fd,
    .fini = tcp_fini,
    .framed = 0,
    .msend = cnio__tp_notsup_msend,
    .mpoll = cnio__tp_notsup_mpoll,
    .provider = cnio__tp_provider_name,
};
