/*
 * stack_handshake.c - an endpoint's set-up (doc/protocol.md, "Authentication"): the
 * server's CHALLENGE answered with AUTH, the AUTH reply checked; and, over TCP, a
 * connection on which the server never speaks made again.
 */
#include "common.h"
#include "auth.h"
#include "log.h"
#include "stack.h"
#include "stack_int.h"
#include "transport.h"

#include <limits.h>

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
    const struct cnio_transport_ops *ops;
    struct cnio_peer peer = { .addr = ep->addr, .host = ep->name, .timeout_ms = ep->timeout_ms };
    struct cnio_conn *conn;
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
    ops = ep_ops(ep);
    peer.connect_ms = (int)(ep->last_ms + ep->timeout_ms - now);   /* within the set-up's */
    ret = ops->connect(ep->conn->tp, &peer, &conn);
    if (ret) {
        cnio__ep_kill(ep, ret);
        return;
    }
    if (cnio__ep_swap_conn(ep, conn))
        return;
    ep->greet_at = cnio__now_ms();
    ep->greet_ms = (int)CNIO_MIN(2LL * ep->greet_ms, (long long)INT_MAX / 2);
    *wait = CNIO_MIN(*wait, ep->greet_ms);
}
