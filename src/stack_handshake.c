/*
 * stack_handshake.c - an endpoint's set-up: its connect, under way in the progress
 * engine with every other endpoint's set-up; the server's CHALLENGE answered with AUTH,
 * the AUTH reply checked (doc/protocol.md, "Authentication"); and, over TCP, a
 * connection on which the server never speaks made again.
 */
#include "common.h"
#include "auth.h"
#include "log.h"
#include "stack.h"
#include "stack_int.h"
#include "transport.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

/* ---- connecting --------------------------------------------------------------------- */

/*
 * A connect that waited held every endpoint of the process: the handshakes under way
 * went unanswered until it returned, and a server that a host's lost SYNs kept waiting
 * dropped another host's connection (no AUTH within its 10 s). So a TCP connect starts
 * here (connect_start) and finishes in the progress engine (cnio__ep_connect_step),
 * bounded by the endpoint's timeout, while the others connect and authenticate. A
 * transport without connect_start (libfabric's) still connects by waiting.
 */

/* Names ep "host (address)" after ep->host and ep->addr. */
static void ep_rename(struct cnio_ep *ep)
{
    char buf[72];

    snprintf(ep->name, sizeof(ep->name), "%.*s (%s)", (int)strlen(ep->host), ep->host,
             cnio__net_ntop(&ep->addr, buf, sizeof(buf)));   /* (cut to fit) */
}

/* ep's connection went through: its handshake starts (the server speaks first). */
static void ep_through(struct cnio_ep *ep)
{
    const struct cnio_transport_ops *ops = ep_ops(ep);
    int64_t now = cnio__now_ms();

    if (ops->framed)
        snprintf(ep->carrier, sizeof(ep->carrier), "%s (%s)", ops->name,
                 ops->provider(ep->conn->tp));
    else
        snprintf(ep->carrier, sizeof(ep->carrier), "%s", ops->name);
    ep->state = EP_CHALLENGE;
    cnio__ep_set_events(ep, EPOLLIN);
    ep->greet_at = now;
    if (!ep->connected) {   /* the handshake gets a timeout of its own (a new one does not) */
        ep->connected = 1;
        ep->nalt = 0;
        ep->last_ms = now;
        ep->greet_ms = CNIO_EP_GREET_MS;
    }
}

/* cnio__ep_connect to ep->addr alone. */
static int ep_connect_one(struct cnio_ep *ep, struct cnio_tp *tp)
{
    struct cnio_peer peer = { .addr = ep->addr, .host = ep->host, .timeout_ms = ep->timeout_ms };
    uint32_t events = EPOLLOUT;
    int64_t t0 = cnio__now_ms();
    struct cnio_conn *conn;
    int ret = tp->ops->connect_start(tp, &peer, &conn);

    if (ret == -CNIO_ERR_NOTSUP) {
        if (ep->connected)   /* again: within the set-up's time */
            peer.connect_ms = (int)CNIO_MAX(ep->last_ms + ep->timeout_ms - t0, 1);
        ret = tp->ops->connect(tp, &peer, &conn);
        if (cnio__now_ms() - t0 >= 1000)   /* (cnio__stack_stall_note) */
            cnio__stack_stalled(ep->st, ep, ep->host, t0);
        events = EPOLLIN;
    }
    if (ret) {
        cnio__debug("connect to %s: %s", ep->name, cnio_strerror(ret));
        return ret;
    }
    ep->conn = conn;
    ep->fd = tp->ops->fd(conn);
    if (cnio__ep_watch(ep, events)) {
        tp->ops->close(conn);
        ep->conn = NULL;
        ep->fd = -1;
        return -CNIO_ERR_IO;
    }
    if (events == EPOLLIN) {
        ep_through(ep);
    } else {
        ep->state = EP_CONNECTING;
        if (!ep->connected)   /* each address has the whole timeout */
            ep->last_ms = t0;
    }
    return 0;
}

int cnio__ep_connect(struct cnio_ep *ep, struct cnio_tp *tp)
{
    int ret;

    for (;;) {
        ep_rename(ep);
        ret = ep_connect_one(ep, tp);
        if (!ret || ep->connected || !ep->nalt)
            return ret;
        ep->addr = ep->alt[0];
        memmove(ep->alt, ep->alt + 1, (size_t)--ep->nalt * sizeof(ep->alt[0]));
    }
}

void cnio__ep_connect_failed(struct cnio_ep *ep, int err)
{
    struct cnio_tp *tp = ep->conn->tp;
    int ret;

    if (ep->connected || !ep->nalt) {
        cnio__ep_kill(ep, err);
        return;
    }
    cnio__debug("connect to %s: %s; trying its next address", ep->name, cnio_strerror(err));
    cnio__ep_drop_conn(ep);
    ep->addr = ep->alt[0];
    memmove(ep->alt, ep->alt + 1, (size_t)--ep->nalt * sizeof(ep->alt[0]));
    ret = cnio__ep_connect(ep, tp);
    if (ret)
        cnio__ep_kill(ep, ret);
}

void cnio__ep_connect_step(struct cnio_ep *ep)
{
    int ret = ep_ops(ep)->connect_poll(ep->conn);

    if (ret < 0)
        cnio__ep_connect_failed(ep, ret);
    else if (ret == 0)
        ep_through(ep);
}

int cnio__ep_connected(const struct cnio_ep *ep)
{
    return ep->connected;
}

const struct cnio_addr *cnio__ep_addr(const struct cnio_ep *ep)
{
    return &ep->addr;
}

/* ---- the handshake ------------------------------------------------------------------ */

static void ep_auth_done(struct cnio_req *r)
{
    struct cnio_ep *ep = r->arg;
    int ret = r->status;

    if (ep->state != EP_AUTH)
        return;
    if (!ret && r->rlen != CNIO_WIRE_MAC)
        ret = -CNIO_ERR_PROTO;
    if (!ret)
        ret = cnio__auth_check_server(ep->auth.k, ep->auth.klen, &ep->resp, &ep->chal, r->inl);
    if (ret) {
        cnio__ep_kill(ep, ret);
        return;
    }
    ep->session = r->rsession;
    ep->server_id = (ep->chal.caps & CNIO_WIRE_CAP_ID) ? r->robject : 0;
    ep->credits = CNIO_MIN(ep->chal.credits, (uint32_t)CNIO_EP_MAX_INFLIGHT);
    ep->max_payload = CNIO_MIN(ep->chal.max_payload, CNIO_WIRE_MAX_PAYLOAD);
    ep->state = EP_READY;
    cnio__ep_wipe_key(ep);
    cnio__debug("connected to %s: session %llx, %u credits, max payload %u", ep->name,
                (unsigned long long)ep->session, ep->credits, ep->max_payload);
}

void cnio__ep_challenge(struct cnio_ep *ep)
{
    struct cnio_req *r;
    int ret = cnio__wire_challenge_parse(ep->chbuf, sizeof(ep->chbuf), &ep->chal);

    if (!ret && (ep->chal.credits == 0 || ep->chal.max_payload == 0))
        ret = -CNIO_ERR_PROTO;
    /* ep->h is the CHALLENGE's header (cnio__ep_rx_finish); an absurd timeout is none */
    if (!ret && (ep->chal.caps & CNIO_WIRE_CAP_IDLE) && ep->h.offset <= UINT32_MAX)
        ep->idle_ms = (int64_t)ep->h.offset * 1000;
    if (!ret)
        ret = cnio__auth_respond(ep->auth.k, ep->auth.klen, &ep->chal, ep->auth.mode,
                                 ep->auth.rank, ep->auth.object, &ep->resp);
    if (ret) {
        cnio__ep_kill(ep, ret);
        return;
    }
    r = cnio__req_get(ep->st);
    if (!r) {
        cnio__ep_kill(ep, -CNIO_ERR_NOMEM);
        return;
    }
    ret = cnio__wire_auth_encode(&ep->resp, r->inl, sizeof(r->inl));
    if (ret < 0) {
        cnio__req_put(ep->st, r);
        cnio__ep_kill(ep, ret);
        return;
    }
    r->type = CNIO_WIRE_AUTH;
    /* Reasons only on byte streams: over a fabric a reply lands whole in the buffer posted
     * for it (ep_tx_msg), which has no room for a text that may come instead. */
    r->flags = (ep->chal.caps & CNIO_WIRE_CAP_REASON) && !ep_ops(ep)->framed
                   ? CNIO_WIRE_F_REASON : 0;
    r->payload = r->inl;
    r->plen = (uint32_t)ret;
    r->rbuf = r->inl;
    r->rcap = CNIO_WIRE_MAC;
    r->done = ep_auth_done;
    r->arg = ep;
    ep->state = EP_AUTH;
    ret = cnio__ep_enqueue(ep, r);
    if (ret) {
        cnio__req_put(ep->st, r);
        cnio__ep_kill(ep, ret);
    }
}

/*
 * A TCP connection on which the server's CHALLENGE has not begun to arrive within
 * greet_ms is replaced by a new one, while the set-up's cnio_timeout_ms leaves at least
 * CNIO_EP_GREET_MS; each wait is twice the last. The server speaks first, so a client whose
 * last packet of the TCP handshake was lost, to a server that has since dropped its half
 * (its SYN-ACK retransmission failed; or a SYN cookie, whose ACK is all there is), holds
 * a connection nobody will ever write to, and would wait out the whole timeout. At 5%
 * packet loss each way (an ACK, then the SYN-ACK sent again: 1 set-up in 400) one run in
 * 5 to 10 of tests/collective/netns-loss.test failed so.
 * Lowers *wait to the time left of the current wait.
 */
void cnio__ep_greet(struct cnio_ep *ep, int64_t now, int *wait)
{
    struct cnio_tp *tp;
    int64_t left;
    int ret;

    if (ep->state != EP_CHALLENGE || ep->fd < 0 || ep->rxgot || ep_ops(ep)->framed)
        return;
    left = ep->greet_at + ep->greet_ms - now;
    if (left > 0 || ep->last_ms + ep->timeout_ms - now < CNIO_EP_GREET_MS) {
        if (left > 0)
            *wait = (int)CNIO_MIN((int64_t)*wait, left);
        return;
    }
    cnio__ep_rx(ep);   /* what came while this process did not run is an answer */
    if (ep->state != EP_CHALLENGE || ep->rxgot)
        return;
    cnio__info("connection to %s: no word from the server in %d ms; connecting again",
               ep->name, ep->greet_ms);
    tp = ep->conn->tp;
    cnio__ep_drop_conn(ep);
    ep->greet_ms = (int)CNIO_MIN(2LL * ep->greet_ms, (long long)INT_MAX / 2);
    ret = cnio__ep_connect(ep, tp);   /* within the set-up's time (ep->last_ms) */
    if (ret) {
        cnio__ep_kill(ep, ret);
        return;
    }
    *wait = CNIO_MIN(*wait, ep->greet_ms);
}
