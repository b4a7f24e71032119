/*
 * stack.h - the per-process protocol stack: one instance per process (per MPI rank).
 *
 * It owns this process's endpoints (connections to servers, over a transport chosen
 * by name), the buffer pool and the progress engine (epoll). Nothing on the data
 * path is shared between stacks: no locks, no globals but the transport registry.
 * A stack is used by one thread at a time.
 *
 * An endpoint is one connection (a lane) to one server. It connects and authenticates
 * by itself (CHALLENGE, AUTH, the server's proof) and then carries pipelined requests: at most
 * `credits` in flight, each a frame whose payload is sent straight from the caller's
 * memory and whose reply payload is received straight into the caller's memory.
 * Everything moves inside cnio__stack_progress, which drives every endpoint of the
 * stack at once. An endpoint with work outstanding that moves no byte for its
 * timeout_ms (bytes that arrived while the process did not run are moved first) dies
 * with -CNIO_ERR_TIMEOUT; a reset or closed one with -CNIO_ERR_CONN; a
 * malformed frame kills it with -CNIO_ERR_PROTO or -CNIO_ERR_CHECKSUM; a payload that
 * stops being readable while its frame is sent (EFAULT: its memory unmapped, a file
 * mapped under it truncated) with -CNIO_ERR_INVAL, as the frame cannot be finished.
 * A dead endpoint keeps its error: later submissions fail at once with the same code.
 * An error reply that carries the server's reason (doc/protocol.md, "Error replies") is
 * logged as an error naming the peer; the request completes with the status alone.
 */
#ifndef CNIO_STACK_H
#define CNIO_STACK_H

#include "common.h"
#include "config.h"
#include "net.h"
#include "wire.h"

struct cnio_stack;
struct cnio_ep;
struct cnio_tp;

/* Creates a stack: 0, -CNIO_ERR_NOMEM, -CNIO_ERR_IO (epoll). */
int cnio__stack_open(struct cnio_stack **out);
/* Closes every endpoint still open and frees the stack. */
void cnio__stack_close(struct cnio_stack *st);
/*
 * What the library's error lines tell their user to do, for a caller to whom the defaults
 * are not true (cnio cp of a stream, which is read once, and whose --resume is refused):
 * gone, of an open that a remote host no longer knows (CNIO_ERR_STALE; default "open the
 * file again"); finish, of an upload kept incomplete (default "`cnio cp --resume`
 * finishes it"). Static strings; NULL keeps a default. The getters return the words.
 */
void cnio__stack_set_advice(struct cnio_stack *st, const char *gone, const char *finish);
const char *cnio__stack_gone_advice(const struct cnio_stack *st);
const char *cnio__stack_finish_advice(const struct cnio_stack *st);
/*
 * A connection set up on st waits for its handshake in the progress engine, and so does
 * a TCP connect; but a transport that connects only by waiting (libfabric's) holds the
 * process (within cnio_timeout_ms), and meanwhile nothing answers the handshakes
 * already under way: a host silent for 10 s made another host's server drop its
 * connection, which had not authenticated within that server's 10 s, and the error
 * named that other, healthy host. When such a connect since since_ms (cnio__now_ms) to
 * another host than hostport ("name:port", as cnio__hostport writes it) held this
 * process 1 s or more, writes into buf[cap] what an error line of hostport's connection,
 * lost before it authenticated, adds: the host it waited for and how long; else "".
 * Returns buf.
 */
const char *cnio__stack_stall_note(const struct cnio_stack *st, int64_t since_ms,
                                   const char *hostport, char *buf, size_t cap);
/*
 * keep non-NULL: a connection that dies says nothing of it ("connection to H: connection
 * reset or lost": its requests fail, and their owner says the failure), and the line an
 * error reply's reason would say (CNIO_WIRE_F_REASON: "what: H: error: why") goes to
 * keep(arg, ep, err, line) instead, ep the endpoint it came on, err the request's
 * status: for an owner that says one failure for many processes (a quiet object,
 * cnio__obj_set_quiet). NULL, the default: both are said.
 */
#define CNIO_STACK_LINE_MAX 1024   /* such a line's bytes, with its NUL, at most */
typedef void cnio_stack_keep_fn(void *arg, const struct cnio_ep *ep, int err, const char *line);
void cnio__stack_hush(struct cnio_stack *st, cnio_stack_keep_fn *keep, void *arg);

/* ---- endpoints ------------------------------------------------------------------- */

/* Requests one endpoint may have in flight, whatever the server grants. */
#define CNIO_EP_MAX_INFLIGHT 64

/* How an endpoint proves itself (src/auth.h). */
struct cnio_ep_auth {
    uint32_t mode;             /* CNIO_WIRE_AUTH_KEY or CNIO_WIRE_AUTH_TOKEN */
    uint32_t rank;             /* token mode: the token's rank */
    uint64_t object;           /* token mode: the token's object handle */
    const uint8_t *k;          /* the key bytes or the token; copied */
    size_t klen;               /* 1..CNIO_KEY_MAX */
};

/*
 * Opens an endpoint to addr over transport h->transport: its connect and then its
 * handshake complete inside cnio__stack_progress (see cnio__ep_wait_ready), each within
 * h->timeout_ms, so that the set-ups of many endpoints overlap. (A transport that
 * connects only by waiting, libfabric's, connects here, within h->timeout_ms.) host
 * names the peer in log lines. *out belongs to the caller (cnio__ep_close). 0, or what
 * failed at once: -CNIO_ERR_NOTSUP (unknown transport), -CNIO_ERR_REFUSED,
 * -CNIO_ERR_UNREACH, -CNIO_ERR_CONN, -CNIO_ERR_TIMEOUT, ...; a connect that fails later
 * kills the endpoint with those codes (cnio__ep_connected then says 0).
 */
int cnio__ep_open(struct cnio_stack *st, const struct cnio_hints *h,
                  const struct cnio_addr *addr, const char *host,
                  const struct cnio_ep_auth *auth, struct cnio_ep **out);
/* The addresses cnio__ep_open_addrs tries, at most. */
#define CNIO_EP_ADDRS 4
/*
 * cnio__ep_open to the first of addrs[0..n) (1 <= n <= CNIO_EP_ADDRS) that takes the
 * connection, in order: the next is tried only once the connect to one failed (at once
 * or in the progress engine; each within h->timeout_ms). The endpoint dies with the
 * last one's error; cnio__ep_addr says which answered.
 */
int cnio__ep_open_addrs(struct cnio_stack *st, const struct cnio_hints *h,
                        const struct cnio_addr *addrs, int n, const char *host,
                        const struct cnio_ep_auth *auth, struct cnio_ep **out);
/*
 * cnio__ep_open over tp, a transport instance the caller opened for st and keeps until
 * every endpoint on it is closed (the stack neither finds nor frees it): the seam through
 * which a test puts a transport of its own under an endpoint (tests/fuzz/fuzz_client.c
 * feeds one a server's bytes). timeout_ms as the hints' timeout_ms.
 */
int cnio__ep_open_tp(struct cnio_stack *st, struct cnio_tp *tp, int timeout_ms,
                     const struct cnio_addr *addr, const char *host,
                     const struct cnio_ep_auth *auth, struct cnio_ep **out);
/* Progresses until each of eps[0..n) is ready or dead: 0, or the first endpoint's
 * error in array order (-CNIO_ERR_AUTH, -CNIO_ERR_LIMIT, -CNIO_ERR_TIMEOUT, a connect's
 * -CNIO_ERR_REFUSED, ...). */
int cnio__ep_wait_ready(struct cnio_stack *st, struct cnio_ep *const *eps, int n);
/* Sets how long ep's requests (and a handshake still under way) may wait without a
 * byte from the peer, in milliseconds (> 0): what cnio__ep_open took from
 * h->timeout_ms. */
void cnio__ep_set_timeout(struct cnio_ep *ep, int timeout_ms);
/* Closes the connection (failing anything still in flight with -CNIO_ERR_CONN) and
 * frees ep. NULL is a no-op. */
void cnio__ep_close(struct cnio_ep *ep);
/* Kills ep with err now (if still alive): its requests complete with err. */
void cnio__ep_fail(struct cnio_ep *ep, int err);
/* 0 while the endpoint is usable, else its error (sticky). */
int cnio__ep_error(const struct cnio_ep *ep);
/* 1 once the handshake has completed and the endpoint is alive. */
int cnio__ep_ready(const struct cnio_ep *ep);
/* 1 once ep's connect went through (whatever became of it since): an endpoint that died
 * with 0 here failed to connect (refused, unreachable, no answer within its timeout). */
int cnio__ep_connected(const struct cnio_ep *ep);
/* The address ep connects to: of cnio__ep_open_addrs's, the one that answered, once
 * cnio__ep_connected. */
const struct cnio_addr *cnio__ep_addr(const struct cnio_ep *ep);
/* Requests that may be submitted now (credits left); 0 unless ready. */
int cnio__ep_free_credits(const struct cnio_ep *ep);
/* The largest payload the server accepts (from its CHALLENGE). */
uint32_t cnio__ep_max_payload(const struct cnio_ep *ep);
/* "host:port" of the peer, for log lines. */
const char *cnio__ep_name(const struct cnio_ep *ep);
/* 1 when the peer closed ep while nothing was in flight on it (a server's --idle-timeout,
 * or a restart): no request was lost, and a new connection may replace it. Looks at the
 * connection without blocking (an idle one whose peer closed it dies here). */
int cnio__ep_idle_closed(struct cnio_ep *ep);
/* The capability bits of the server's CHALLENGE (CNIO_WIRE_CAP_*); 0 before it came. */
uint32_t cnio__ep_caps(const struct cnio_ep *ep);
/* The id of the server ep reached (CNIO_WIRE_CAP_ID: the same on each connection to one
 * server, whatever address reached it); 0 before authentication, or when it says none. */
uint64_t cnio__ep_server_id(const struct cnio_ep *ep);
/* What carries ep's data: "tcp", or "ofi (tcp;ofi_rxm)", "udp (udp;ofi_rxd)", ...;
 * "" once the endpoint is dead. */
const char *cnio__ep_transport(const struct cnio_ep *ep);

/* ---- requests -------------------------------------------------------------------- */

#define CNIO_REQ_INLINE 96

/* One request and, once done, its reply. Slots come from the stack's pool. */
struct cnio_req {
    /* set by the submitter */
    uint16_t type;             /* enum cnio_wire_type */
    uint32_t flags;
    uint64_t object;
    uint64_t offset;
    const void *payload;       /* plen bytes sent from here, not copied: must stay */
    uint32_t plen;             /* valid until done runs */
    void *rbuf;                /* the reply payload lands here (at most rcap bytes; */
    uint32_t rcap;             /* a longer reply kills the endpoint: PROTO) */
    void (*done)(struct cnio_req *r);  /* runs once; must not close endpoints */
    void *arg;                 /* for done */
    uint64_t u64;
    uint32_t u32;
    const char *what;          /* the object or name it is about, named in a reason's line
                                  (NULL: none; "" is the root); must stay until done runs */
    int hush;                  /* a reason with -CNIO_ERR_INCOMPLETE is logged at debug
                                  level only, and reasoned stays 0: the caller may yet
                                  mend what it reports (cnio__cl_finish), else says it */
    /* the reply, valid in done: status is 0, the server's negative code, or the
     * endpoint's error when it died */
    int status;
    uint32_t rlen;
    uint32_t rflags;
    uint64_t robject;
    uint64_t roffset;
    uint64_t rsession;
    int reasoned;              /* the error reply carried a reason (logged, naming the host) */
    int garbled;               /* status -CNIO_ERR_CHECKSUM: a READ reply's data arrived but
                                  failed its CRC32C (the connection lives on) */
    /* small payloads and replies may live here */
    uint8_t inl[CNIO_REQ_INLINE];
    /* private to the stack */
    struct cnio_req *next;
    struct cnio_ep *ep;
    uint64_t reqid;
    size_t sent;
    unsigned int progress;
    uint8_t hdr[CNIO_WIRE_HDR_SIZE];
    uint8_t rhdr[CNIO_WIRE_HDR_SIZE];   /* message transports: the reply's header */
};

/* A request slot (fields zeroed), or NULL when out of memory. */
struct cnio_req *cnio__req_get(struct cnio_stack *st);
/* Returns an unsubmitted slot to the pool. */
void cnio__req_put(struct cnio_stack *st, struct cnio_req *r);
/*
 * Queues r on ep and starts sending it. 0: r is in flight and r->done will run exactly
 * once (possibly before this returns); the stack then recycles r. Negative: r was not
 * taken (and is back in the pool): the endpoint's sticky error, -CNIO_ERR_LIMIT (no
 * credit left) or -CNIO_ERR_INVAL (not ready).
 */
int cnio__ep_submit(struct cnio_ep *ep, struct cnio_req *r);
/*
 * Corked (on = 1), a submitted frame waits in its endpoint's send queue instead of
 * going out at once; uncorking (on = 0) writes every queue, so that frames submitted
 * together leave in one sendmsg per connection (as TCP_CORK does for one socket).
 * Uncork before waiting: cnio__stack_progress does not write a queue left corked.
 */
void cnio__stack_cork(struct cnio_stack *st, int on);
/*
 * Moves bytes on every endpoint: waits (epoll) at most max_wait_ms, and less when an
 * endpoint's timeout comes first; runs the done callbacks of what completed; kills
 * timed-out endpoints. Returns 0, or -CNIO_ERR_IO when epoll itself fails.
 */
int cnio__stack_progress(struct cnio_stack *st, int max_wait_ms);

/* ---- synchronous control calls ----------------------------------------------------- */

/* One control request and its reply, for cnio__stack_calls. */
struct cnio_call {
    struct cnio_ep *ep;
    uint16_t type;
    uint32_t flags;
    uint64_t object;
    uint64_t offset;
    const void *payload;
    uint32_t plen;
    void *rbuf;
    uint32_t rcap;
    const char *what;          /* as in cnio_req: the object or name, for a reason's line */
    int hush;                  /* as in cnio_req */
    /* results */
    int status;                /* 0, the server's code, or the endpoint's error */
    uint32_t rlen;
    uint32_t rflags;
    uint64_t robject;
    uint64_t roffset;
    int reasoned;              /* as in cnio_req */
    int done;
    int started;               /* private */
};

/* Runs calls c[0..n) in parallel (ep NULL: skipped, status 0) until every one has
 * completed. Returns 0 when all statuses are 0, else the first nonzero one. */
int cnio__stack_calls(struct cnio_stack *st, struct cnio_call *c, int n);

#endif /* CNIO_STACK_H */
