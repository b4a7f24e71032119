/*
 * transport.h - the transport ops table: how a stack moves bytes to a server.
 *
 * A transport ("tcp", and with libfabric "ofi" and "udp") is an ops table found by name in a
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
 *
 * Message transports (`framed` = 1: ofi and udp, over libfabric) move whole frames
 * instead: a byte stream does not fit a fabric, whose unit is a message that completes
 * (or fails) as one, and whose receives are posted before the data arrives, into the
 * memory where it is to land. msend posts one frame together with the receive of its
 * reply; mpoll reports what completed. Their stream slots (sendv, recvv) are "not
 * supported", and a stream transport's message slots are.
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
    int connect_ms;            /* when > 0, the bound on connecting instead */
};

/* One frame for msend: its header and payload, and where its reply is to land. */
struct cnio_tp_frame {
    uint64_t id;               /* the request id (its reply carries it back) */
    const void *hdr;           /* CNIO_WIRE_HDR_SIZE bytes */
    const void *payload;
    size_t plen;
    void *rhdr;                /* the reply's header: CNIO_WIRE_HDR_SIZE bytes */
    void *rbuf;                /* the reply's payload: at most rcap bytes */
    size_t rcap;
    uint64_t session;          /* the connection's session id (0 before AUTH): a fabric
                                * connection's BYE carries it (src/fabric.h) */
};

enum cnio_tp_event_kind { CNIO_TP_SENT = 1, CNIO_TP_RECEIVED = 2 };

/* What mpoll reports: a frame sent, or a message received. */
struct cnio_tp_event {
    int kind;                  /* enum cnio_tp_event_kind */
    uint64_t id;               /* the frame's id; RECEIVED: 0 for the server's CHALLENGE */
    const uint8_t *hdr;        /* RECEIVED: the header (the frame's rhdr, or the transport's
                                  buffer for the CHALLENGE, valid until the next mpoll) */
    const uint8_t *payload;    /* RECEIVED: where the payload landed */
    size_t len;                /* RECEIVED: bytes of header and payload */
};

struct cnio_transport_ops {
    size_t size;               /* sizeof(struct cnio_transport_ops) */
    const char *name;
    /* Opens an instance for stack st with hints h: 0 or a negative code. */
    int (*open)(struct cnio_stack *st, const struct cnio_hints *h, struct cnio_tp **out);
    /* Connects to peer within peer->timeout_ms; *out owned by the caller (close it).
     * 0, -CNIO_ERR_CONN, -CNIO_ERR_TIMEOUT, ... */
    int (*connect)(struct cnio_tp *tp, const struct cnio_peer *peer, struct cnio_conn **out);
    /* Starts connecting to peer without waiting, so that a stack's connects to many
     * servers are under way together: 0 and *out (owned by the caller), a connection
     * whose fd turns writable once the connect is through or failed (connect_poll then
     * says which; no sendv / recvv before it said 0); or the connect's error at once.
     * The caller bounds the wait. -CNIO_ERR_NOTSUP: this transport connects only with
     * `connect`, which waits. */
    int (*connect_start)(struct cnio_tp *tp, const struct cnio_peer *peer,
                         struct cnio_conn **out);
    /* Never waiting, how c's connect_start is going: 1 under way, 0 connected (c is as
     * `connect` returns one), or its error (-CNIO_ERR_REFUSED, -CNIO_ERR_UNREACH,
     * -CNIO_ERR_TIMEOUT, -CNIO_ERR_CONN, ...), after which the caller closes c. */
    int (*connect_poll)(struct cnio_conn *c);
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
    /* 1: a message transport (msend / mpoll); 0: a byte stream (sendv / recvv). */
    int framed;
    /* Posts the receive of f's reply, then sends f as one message; the memory f points
     * to stays the caller's until mpoll reports both. 1 posted, 0 no room now (try
     * again after progress), or a negative code (the connection is dead). */
    int (*msend)(struct cnio_conn *c, const struct cnio_tp_frame *f);
    /* Reports up to max completions of c into ev: how many (0: none now), or a negative
     * code when the connection died (-CNIO_ERR_CONN, -CNIO_ERR_PROTO for a reply longer
     * than its buffer, ...). */
    int (*mpoll)(struct cnio_conn *c, struct cnio_tp_event *ev, int max);
    /* The provider that carries the data ("tcp" for kernel TCP), for statistics. */
    const char *(*provider)(struct cnio_tp *tp);
};

/* The transport called name: its ops, or NULL. */
const struct cnio_transport_ops *cnio__transport_find(const char *name);
/* Opens transport `name` for st: 0, -CNIO_ERR_NOTSUP (unknown name), or open's error. */
int cnio__transport_open(struct cnio_stack *st, const char *name, const struct cnio_hints *h,
                         struct cnio_tp **out);

/* "Not supported" slot fillers for providers that lack an operation. */
int cnio__tp_notsup_connect(struct cnio_tp *tp, const struct cnio_peer *peer,
                            struct cnio_conn **out);
int cnio__tp_notsup_connect_poll(struct cnio_conn *c);
ssize_t cnio__tp_notsup_xfer(struct cnio_conn *c, const struct iovec *iov, int n);
int cnio__tp_notsup_progress(struct cnio_tp *tp, int timeout_ms);
int cnio__tp_notsup_fd(struct cnio_conn *c);
int cnio__tp_notsup_msend(struct cnio_conn *c, const struct cnio_tp_frame *f);
int cnio__tp_notsup_mpoll(struct cnio_conn *c, struct cnio_tp_event *ev, int max);
/* A provider slot that names the transport itself. */
const char *cnio__tp_provider_name(struct cnio_tp *tp);
/* A progress slot for transports whose kernel does the work: returns 0. */
int cnio__tp_progress_none(struct cnio_tp *tp, int timeout_ms);

/* The providers (transport_*.c). */
extern const struct cnio_transport_ops cnio__tcp_ops;
extern const struct cnio_transport_ops cnio__ofi_ops;   /* libfabric builds only */
extern const struct cnio_transport_ops cnio__udp_ops;

#endif /* CNIO_TRANSPORT_H */
