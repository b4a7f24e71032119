/*
 * stack_int.h - the endpoint's private state, shared by the stack's files: stack.c (the
 * stack, endpoints over byte streams, progress) and stack_msg.c (endpoints over message
 * transports). Not for use outside the stack.
 */
#ifndef CNIO_STACK_INT_H
#define CNIO_STACK_INT_H

#include "common.h"
#include "auth.h"
#include "stack.h"
#include "transport.h"

/* Request progress bits. */
#define REQ_SENT 0x1u
#define REQ_REPLIED 0x2u

/* EP_CONNECTING: its TCP connect is under way (stack_handshake.c); then the server's
 * CHALLENGE is awaited, AUTH's reply, and it is ready; or dead. */
enum ep_state { EP_CONNECTING, EP_CHALLENGE, EP_AUTH, EP_READY, EP_DEAD };

/* Bytes an endpoint reads beyond the header it waits for (stack_rx.c): 36 small
 * replies (a header and an INFO block, 112 bytes). */
#define CNIO_EP_READ_AHEAD 4096

struct cnio_ep {
    struct cnio_stack *st;
    struct cnio_ep *prev, *next;
    struct cnio_conn *conn;
    int fd;                     /* -1: none (polled) or closed */
    uint32_t events;            /* registered with epoll */
    char name[80];              /* "host (address)" */
    char host[CNIO_HOSTNAME_MAX + 1];   /* the name it connects to, as its caller gave it */
    char carrier[64];           /* cnio__ep_transport */
    enum ep_state state;
    int err;
    int died_idle;              /* it died with nothing in flight (see cnio__ep_idle_closed) */
    int quiet;                  /* closed by its owner mid-handshake: nothing to warn of */
    int timeout_ms;
    int64_t last_ms;            /* last time a byte moved, or work started */
    int64_t req_ms;             /* when the last request was queued (0: none yet) */
    int64_t idle_ms;            /* the server closes it idle this long (CNIO_WIRE_CAP_IDLE;
                                 * 0: never, or not said) */
    uint32_t credits;
    uint32_t max_payload;
    uint64_t session;
    uint64_t server_id;         /* the AUTH reply's (CNIO_WIRE_CAP_ID), else 0 */
    uint64_t seq;
    /* in flight: indexed by the low byte of reqid */
    struct cnio_req *inflight[CNIO_EP_MAX_INFLIGHT];
    uint32_t ninflight;
    struct cnio_req *sq_head, *sq_tail;
    /* receive state */
    uint8_t rxhdr[CNIO_WIRE_HDR_SIZE];
    size_t rxgot;
    struct cnio_wire_hdr h;
    int rx_payload;
    uint8_t *rxdst;
    size_t rxlen, rxpgot;
    struct cnio_req *rxreq;
    /* read ahead of the header by the same readv: a burst of small replies in one call
     * (stack_rx.c); always emptied before cnio__ep_rx returns */
    uint8_t ra[CNIO_EP_READ_AHEAD];
    size_t ra_off, ra_len;
    /* handshake */
    struct cnio_addr addr;      /* the peer, to connect again (cnio__ep_greet) */
    struct cnio_addr alt[CNIO_EP_ADDRS - 1];   /* while connecting: the addresses to try */
    int nalt;                   /* next, in order, when the connect to addr fails */
    int connected;              /* a connect of it went through (cnio__ep_connected) */
    int64_t greet_at;           /* when this connection to it was made */
    int greet_ms;               /* how long it waits there for the CHALLENGE to begin */
    struct cnio_ep_auth auth;
    uint8_t key[CNIO_KEY_MAX];
    uint8_t chbuf[CNIO_WIRE_CHALLENGE_SIZE];
    struct cnio_wire_challenge chal;
    struct cnio_wire_auth resp;
    /* the reason text of an error reply (CNIO_WIRE_F_REASON) */
    uint8_t rsn[CNIO_WIRE_MAX_REASON];
};

static inline const struct cnio_transport_ops *ep_ops(const struct cnio_ep *ep)
{
    return ep->conn->tp->ops;
}

/* stack.c */
/* Takes r out of ep's flight and calls its done callback. */
void cnio__ep_complete(struct cnio_ep *ep, struct cnio_req *r);
/* Marks ep dead with err (negative), failing every request it holds. */
void cnio__ep_kill(struct cnio_ep *ep, int err);
/* The reply in ep->h and its payload are whole: completes its request, or handles the
 * CHALLENGE. 0, or -1 when ep died. */
int cnio__ep_rx_finish(struct cnio_ep *ep);
/* Finds where the reply whose header is ep->h goes (its request, or the CHALLENGE's
 * buffer): 0, or a negative code (an unknown request id, a payload too long). */
int cnio__ep_rx_route(struct cnio_ep *ep);
/* A fabric endpoint of st completed something: its next wait starts short again. */
void cnio__stack_moved(struct cnio_stack *st);
/* Clears ep's copy of the key. */
void cnio__ep_wipe_key(struct cnio_ep *ep);
/* Gives r a request id and an in-flight slot, queues it and starts sending: 0, or
 * -CNIO_ERR_LIMIT when every slot is taken. */
int cnio__ep_enqueue(struct cnio_ep *ep, struct cnio_req *r);
/* Receives what ep's connection has (the endpoint may die of it). */
void cnio__ep_rx(struct cnio_ep *ep);
/* A connect of ep (named after host, "name:port") held the process since from_ms, 1 s
 * or more: what cnio__stack_stall_note says. */
void cnio__stack_stalled(struct cnio_stack *st, const struct cnio_ep *ep, const char *host,
                         int64_t from_ms);
/* Says line, the reason a request of ep that failed with err came with: on stderr, or
 * to the keep of cnio__stack_hush. */
void cnio__stack_say_reason(struct cnio_stack *st, const struct cnio_ep *ep, int err,
                            const char *line);
/* Sets the events epoll reports of ep's fd (none: nothing). */
void cnio__ep_set_events(struct cnio_ep *ep, uint32_t events);
/* Has the progress engine watch ep's new connection: its fd for events, or, without
 * one (ep->fd < 0), by polling. 0, or -CNIO_ERR_IO (the caller closes it). */
int cnio__ep_watch(struct cnio_ep *ep, uint32_t events);
/* Stops watching ep's connection and closes it (none: nothing). */
void cnio__ep_drop_conn(struct cnio_ep *ep);
/* stack_handshake.c */
#define CNIO_EP_GREET_MS 3000   /* the first wait for a TCP server's CHALLENGE */
/* Starts ep's connect to ep->addr (then its other addresses, ep->alt) over tp, as the
 * transport can: under way (EP_CONNECTING, finished by cnio__ep_connect_step), or made
 * here by waiting (EP_CHALLENGE). 0, or the connect's error at once (no conn). */
int cnio__ep_connect(struct cnio_ep *ep, struct cnio_tp *tp);
/* ep is EP_CONNECTING and its fd said something (or its time is up): goes on with the
 * handshake once the connect is through, tries the next address after a failure, or
 * kills ep with the connect's error. */
void cnio__ep_connect_step(struct cnio_ep *ep);
/* ep's connect failed with err (-CNIO_ERR_TIMEOUT: its time is up): the next address,
 * or ep dies with err. */
void cnio__ep_connect_failed(struct cnio_ep *ep, int err);
/* The CHALLENGE has arrived in ep->chbuf: answers it with AUTH (or kills ep). */
void cnio__ep_challenge(struct cnio_ep *ep);
/* A TCP set-up not greeted within ep->greet_ms connects again (see the source); lowers
 * *wait (ms) to when the current wait ends. now: cnio__now_ms(). */
void cnio__ep_greet(struct cnio_ep *ep, int64_t now, int *wait);
/* stack_msg.c */
/* Hands ep's queued frames to its message transport, each with its reply's receive. */
void cnio__ep_tx_msg(struct cnio_ep *ep);
/* Takes what ep's message transport completed: replies, the CHALLENGE, sends done. */
void cnio__ep_rx_msg(struct cnio_ep *ep);

#endif /* CNIO_STACK_INT_H */
