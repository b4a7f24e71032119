/*
 * stack_rx.c - the receive side of a stream endpoint (stack.c's engine): the state
 * machine that reads a reply's header into the endpoint's buffer, routes it to the
 * request it answers, and reads its payload straight into the request's reply buffer,
 * together with the next header in the same readv; and the finish of a reply, shared
 * with the message transports (stack_msg.c). Moved out of stack.c.
 */
#include "common.h"
#include "log.h"
#include "stack.h"
#include "stack_int.h"
#include "transport.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

#define STK_RX_ROUNDS 64     /* receive calls per endpoint and wake-up */

/* A status a server may send: 0 or a known negative code. */
static int ep_status_ok(int32_t s)
{
    return s <= 0 && s > -CNIO_ERR_MAX_;
}

/* Says why r failed, as the server's reason gives it, naming the host (and the object). */
static void ep_say_reason(struct cnio_ep *ep, const struct cnio_req *r, const char *why)
{
    char line[CNIO_STACK_LINE_MAX];

    if (r->what)
        snprintf(line, sizeof(line), "%s: %s: %s: %s", r->what[0] ? r->what : "/", ep->name,
                 cnio_strerror(r->status), why);
    else
        snprintf(line, sizeof(line), "%s: %s: %s", ep->name, cnio_strerror(r->status), why);
    cnio__stack_say_reason(ep->st, ep, r->status, line);
}

/* The payload of the current frame is in: check it and deliver it. 0 or -1 (dead). */
int cnio__ep_rx_finish(struct cnio_ep *ep)
{
    struct cnio_req *r = ep->rxreq;
    int garbled = 0;

    ep->rx_payload = 0;
    if (ep->h.length && cnio__wire_payload_check(&ep->h, ep->rxdst)) {
        /* A READ's data that fails its CRC, in a frame read whole under a sound header:
         * the stream is still in step, so that request alone fails, and its submitter may
         * ask again. A writer in place can change bytes between the server's CRC (from
         * its stored block sums) and its send from the page cache; damage at rest fails
         * every time. Any other frame's payload kills the connection. */
        if (!r || r->type != CNIO_WIRE_READ || ep->h.status ||
            (ep->h.flags & CNIO_WIRE_F_REASON)) {
            cnio__ep_kill(ep, -CNIO_ERR_CHECKSUM);
            return -1;
        }
        garbled = 1;
    }
    if (!r) {
        cnio__ep_challenge(ep);
        return ep->state == EP_DEAD ? -1 : 0;
    }
    ep->rxreq = NULL;
    r->status = garbled ? -CNIO_ERR_CHECKSUM : ep->h.status;
    r->garbled = garbled;
    r->rlen = garbled ? 0 : ep->h.length;
    if (ep->h.flags & CNIO_WIRE_F_REASON) {
        char why[CNIO_WIRE_MAX_REASON + 1];

        /* The server says which rule it applied: the user learns it, and which host. */
        cnio__wire_reason_text(ep->rsn, ep->h.length, why, sizeof(why));
        if ((r->type == CNIO_WIRE_AUTH && r->status == -CNIO_ERR_LIMIT) ||   /* tried again */
            (r->hush && r->status == -CNIO_ERR_INCOMPLETE))
            cnio__debug("%s: %s: %s", ep->name, cnio_strerror(r->status), why);
        else
            ep_say_reason(ep, r, why);
        r->rlen = 0;
        r->reasoned = !(r->hush && r->status == -CNIO_ERR_INCOMPLETE);
    }
    r->rflags = ep->h.flags;
    r->robject = ep->h.object;
    r->roffset = ep->h.offset;
    r->rsession = ep->h.session;
    r->progress |= REQ_REPLIED;
    if (r->progress & REQ_SENT)
        cnio__ep_complete(ep, r);
    return ep->state == EP_DEAD ? -1 : 0;
}

/* Where the frame whose header is in ep->h goes: 0, or a negative code. */
int cnio__ep_rx_route(struct cnio_ep *ep)
{
    const struct cnio_wire_hdr *h = &ep->h;
    struct cnio_req *r;

    if (!ep_status_ok(h->status))
        return -CNIO_ERR_PROTO;
    if (ep->state == EP_CHALLENGE) {
        if (h->type != CNIO_WIRE_CHALLENGE)
            return -CNIO_ERR_PROTO;
        if (h->status)
            return h->status;
        if (h->length != CNIO_WIRE_CHALLENGE_SIZE)
            return -CNIO_ERR_PROTO;
        ep->rxreq = NULL;
        ep->rxdst = ep->chbuf;
        return 0;
    }
    if (!(h->type & CNIO_WIRE_REPLY))
        return -CNIO_ERR_PROTO;
    r = ep->inflight[h->reqid & 0xff & (CNIO_EP_MAX_INFLIGHT - 1)];
    if (!r || r->reqid != h->reqid || (r->progress & REQ_REPLIED) ||
        (h->type & ~CNIO_WIRE_REPLY) != r->type)
        return -CNIO_ERR_PROTO;
    ep->rxreq = r;
    if (h->flags & CNIO_WIRE_F_REASON) {   /* an error's reason (decode checked its size) */
        if (!(ep->chal.caps & CNIO_WIRE_CAP_REASON))
            return -CNIO_ERR_PROTO;         /* never asked for */
        ep->rxdst = ep->rsn;
        return 0;
    }
    if (h->length > r->rcap)
        return -CNIO_ERR_PROTO;
    ep->rxdst = r->rbuf;
    return 0;
}

/* A whole header is in rxhdr. 0 or -1 (dead). */
static int ep_rx_header(struct cnio_ep *ep)
{
    int ret = cnio__wire_hdr_decode(ep->rxhdr, &ep->h);

    ep->rxgot = 0;
    if (!ret)
        ret = cnio__ep_rx_route(ep);
    if (ret) {
        cnio__ep_kill(ep, ret);
        return -1;
    }
    ep->rxlen = ep->h.length;
    ep->rxpgot = 0;
    if (ep->rxlen == 0)
        return cnio__ep_rx_finish(ep);
    ep->rx_payload = 1;
    return 0;
}

/* Takes the bytes read ahead: into the payload being read, or the next header, frame by
 * frame. 0, or -1 (dead). */
static int ep_rx_ahead(struct cnio_ep *ep)
{
    while (ep->ra_len && ep->state != EP_DEAD) {
        const uint8_t *p = ep->ra + ep->ra_off;
        size_t take;

        if (ep->rx_payload) {
            take = CNIO_MIN(ep->ra_len, ep->rxlen - ep->rxpgot);
            memcpy(ep->rxdst + ep->rxpgot, p, take);
            ep->rxpgot += take;
        } else {
            take = CNIO_MIN(ep->ra_len, CNIO_WIRE_HDR_SIZE - ep->rxgot);
            memcpy(ep->rxhdr + ep->rxgot, p, take);
            ep->rxgot += take;
        }
        ep->ra_off += take;
        ep->ra_len -= take;
        if (ep->rx_payload && ep->rxpgot == ep->rxlen && cnio__ep_rx_finish(ep))
            return -1;
        if (!ep->rx_payload && ep->rxgot == CNIO_WIRE_HDR_SIZE && ep_rx_header(ep))
            return -1;
    }
    return ep->state == EP_DEAD ? -1 : 0;   /* (a kill emptied the read-ahead) */
}

/*
 * Reads what the connection has: the rest of the payload being read straight into its
 * reply buffer, the rest of the next header, and up to CNIO_EP_READ_AHEAD bytes beyond,
 * in one readv, so that a burst of small replies (a batch's, 16 in flight: 112 bytes
 * each) costs one call rather than one each; the bytes read ahead are copied to where
 * they belong before the next call, and before it returns.
 */
void cnio__ep_rx(struct cnio_ep *ep)
{
    if (ep->state != EP_DEAD && ep_ops(ep)->framed) {
        cnio__ep_rx_msg(ep);
        return;
    }
    for (int round = 0; round < STK_RX_ROUNDS && ep->state != EP_DEAD; round++) {
        struct iovec iov[3];
        int n = 0;
        ssize_t got;
        size_t take;

        if (ep_rx_ahead(ep))
            return;
        if (ep->rx_payload) {
            iov[n].iov_base = ep->rxdst + ep->rxpgot;
            iov[n++].iov_len = ep->rxlen - ep->rxpgot;
        }
        iov[n].iov_base = ep->rxhdr + ep->rxgot;
        iov[n++].iov_len = CNIO_WIRE_HDR_SIZE - ep->rxgot;
        iov[n].iov_base = ep->ra;
        iov[n++].iov_len = sizeof(ep->ra);
        got = ep_ops(ep)->recvv(ep->conn, iov, n);
        if (got < 0) {
            cnio__ep_kill(ep, (int)got);
            return;
        }
        if (got == 0)
            return;
        ep->last_ms = cnio__now_ms();
        if (ep->rx_payload) {
            take = CNIO_MIN((size_t)got, ep->rxlen - ep->rxpgot);
            ep->rxpgot += take;
            got -= (ssize_t)take;
            if (ep->rxpgot < ep->rxlen)
                continue;
            if (cnio__ep_rx_finish(ep))
                return;
        }
        take = CNIO_MIN((size_t)got, CNIO_WIRE_HDR_SIZE - ep->rxgot);
        ep->rxgot += take;
        ep->ra_off = 0;
        ep->ra_len = (size_t)got - take;
        if (ep->rxgot == CNIO_WIRE_HDR_SIZE && ep_rx_header(ep))
            return;
    }
    ep_rx_ahead(ep);
}
