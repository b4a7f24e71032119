/*
 * transport.h - the transport ops table: how a stack moves bytes to a server.
 *
 * A transport ("tcp" now; "udp" and "ofi" later) is an ops table found by name in a
 * small registry (transport.c). A stack opens one instance (struct cnio_tp) per
 * transport it uses and asks it for connections (struct cnio_conn). Provider structs
 * start with these common heads, so the stack can find the ops from either.
 *
 * Data moves through sendv / recvv, which never block:
 *   > 0  bytes moved (possibly fewer than asked),
 *   0    would block: wait for the connection's fd (see `fd`) or call progress,
 *   < 0  -CNIO_ERR_CONN (reset, or end of stream on receive), -CNIO_ERR_TIMEOUT (the
 *        transport gave up: TCP_USER_TIMEOUT), -CNIO_ERR_INVAL (the caller's memory
 *        could not be read or written: EFAULT), or another -CNIO_ERR_* code.
 * After an error the connection is unusable; the caller closes it.
 */
#ifndef CNIO_TRANSPORT_H
#define CNIO_TRANSPORT_H

#include "common.h"
#include "config.h"
#include "net.h"

#include <sys/types.h>
#include <sys/uio.h>

struct cnio_stack;
struct cnio_transport_ops;

/* A transport instance inside one stack: the first member of a provider's struct. */
struct cnio_tp {
    const struct cnio_transport_ops *ops;
    struct cnio_stack *st;
};

/* One connection: the first member of a provider's connection struct. */
struct cnio_conn {
    struct cnio_tp *tp;
};

/* Where to connect, and how long connecting may take. */
struct cnio_peer {
    struct cnio_addr addr;
    const char *host;          /* for log lines */
    int timeout_ms;            /* bound on connecting; also the transport's I/O timeout */
};

struct cnio_transport_ops {
    size_t size;               /* sizeof(struct cnio_transport_ops) */
    const char *name;
    /* Opens an instance for stack st with hints h: 0 or a negative code. */
    int (*open)(struct cnio_stack *st, const struct cnio_hints *h, struct cnio_tp **out);
    /* Connects to peer within peer->timeout_ms; *out owned by the caller (close it).
     * 0, -CNIO_ERR_CONN, -CNIO_ERR_TIMEOUT, ... */
    int (*connect)(struct cnio_tp *tp, const struct cnio_peer *peer, struct cnio_conn **out);
    /* Non-blocking gather send / scatter receive, semantics above. */
    ssize_t (*sendv)(struct cnio_conn *c, const struct iovec *iov, int n);
    ssize_t (*recvv)(struct cnio_conn *c, const struct iovec *iov, int n);
    /* Drives transport-internal work (retransmission, completion queues) for up to
     * timeout_ms (0: do not wait). Kernel transports have nothing to do: return 0. */
    int (*progress)(struct cnio_tp *tp, int timeout_ms);
    /* Closes and frees a connection. */
    void (*close)(struct cnio_conn *c);
    /* A file descriptor that turns readable when recvv may move bytes and writable when
     * sendv may; the stack multiplexes it with epoll. -CNIO_ERR_NOTSUP when the
     * connection has none: the stack then polls progress() at short intervals. */
    int (*fd)(struct cnio_conn *c);
    /* Frees the instance (its connections are closed already). */
    void (*fini)(struct cnio_tp *tp);
};

/* The transport called name: its ops, or NULL. */
const struct cnio_transport_ops *cnio__transport_find(const char *name);
/* Opens transport `name` for st: 0, -CNIO_ERR_NOTSUP (unknown name), or open's error. */
int cnio__transport_open(struct cnio_stack *st, const char *name, const struct cnio_hints *h,
                         struct cnio_tp **out);

/* "Not supported" slot fillers for providers that lack an operation. */
int cnio__tp_notsup_connect(struct cnio_tp *tp, const struct cnio_peer *peer,
                            struct cnio_conn **out);
ssize_t cnio__tp_notsup_xfer(struct cnio_conn *c, const struct iovec *iov, int n);
int cnio__tp_notsup_progress(struct cnio_tp *tp, int timeout_ms);
int cnio__tp_notsup_fd(struct cnio_conn *c);
/* A progress slot for transports whose kernel does the work: returns 0. */
int cnio__tp_progress_none(struct cnio_tp *tp, int timeout_ms);

/* The providers (transport_*.c). */
extern const struct cnio_transport_ops cnio__tcp_ops;

#endif /* CNIO_TRANSPORT_H */
