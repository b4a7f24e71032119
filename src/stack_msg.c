/*
 * stack_msg.c - endpoints over message transports (ofi, udp): each frame goes to the
 * transport whole, with the receive of its reply posted into the request's buffers, and
 * whole messages come back (see transport.h's msend and mpoll).
 */
#include "common.h"
#include "fab_msg.h"
#include "stack.h"
#include "stack_int.h"
#include "transport.h"

#include <string.h>

/* Hands the queued frames to the transport, each with the receive of its reply. */
void cnio__ep_tx_msg(struct cnio_ep *ep)
{
    while (ep->sq_head) {
        struct cnio_req *r = ep->sq_head;
        struct cnio_tp_frame f = { .id = r->reqid, .hdr = r->hdr, .payload = r->payload,
                                   .plen = r->plen, .rhdr = r->rhdr, .rbuf = r->rbuf,
                                   .rcap = r->rcap, .session = ep->session };
        int ret = ep_ops(ep)->msend(ep->conn, &f);

        if (ret < 0) {
            cnio__ep_kill(ep, ret);
            return;
        }
        if (ret == 0)
            return;
        r->sent = CNIO_WIRE_HDR_SIZE + r->plen;
        ep->sq_head = r->next;
        if (!ep->sq_head)
            ep->sq_tail = NULL;
    }
}

/* A whole message arrived: a reply in its request's buffers, or the CHALLENGE. It is
 * checked (cnio__fab_reply_decode) against the buffers it landed in before a byte of it
 * is used. */
static void ep_rx_msg_one(struct cnio_ep *ep, const struct cnio_tp_event *ev)
{
    const struct cnio_req *r = ep->inflight[ev->id & 0xff & (CNIO_EP_MAX_INFLIGHT - 1)];
    size_t cap = !ev->id ? CNIO_WIRE_CHALLENGE_SIZE : r && r->reqid == ev->id ? r->rcap : 0;
    int ret = cnio__fab_reply_decode(ev->hdr, ev->len, cap, ev->id, &ep->h);

    if (!ret)
        ret = cnio__ep_rx_route(ep);
    if (!ret && (ev->id ? ep->rxreq != r : ep->rxreq != NULL))
        ret = -CNIO_ERR_PROTO;
    if (ret) {
        cnio__ep_kill(ep, ret);
        return;
    }
    if (!ep->rxreq && ep->h.length)
        memcpy(ep->rxdst, ev->payload, ep->h.length);
    ep->rxlen = ep->rxpgot = ep->h.length;
    cnio__ep_rx_finish(ep);
}

void cnio__ep_rx_msg(struct cnio_ep *ep)
{
    struct cnio_tp_event ev[16];
    int n;

    while (ep->state != EP_DEAD && (n = ep_ops(ep)->mpoll(ep->conn, ev, 16)) != 0) {
        if (n < 0) {
            cnio__ep_kill(ep, n);
            return;
        }
        ep->last_ms = cnio__now_ms();
        cnio__stack_moved(ep->st);
        for (int i = 0; i < n && ep->state != EP_DEAD; i++) {
            struct cnio_req *r = ep->inflight[ev[i].id & 0xff & (CNIO_EP_MAX_INFLIGHT - 1)];

            if (ev[i].kind == CNIO_TP_RECEIVED) {
                ep_rx_msg_one(ep, &ev[i]);
            } else if (r && r->reqid == ev[i].id && !(r->progress & REQ_SENT)) {
                r->progress |= REQ_SENT;
                if (r->progress & REQ_REPLIED)
                    cnio__ep_complete(ep, r);
            }
        }
        if (ep->state != EP_DEAD && ep->sq_head)
            cnio__ep_tx_msg(ep);
    }
}
