/*
 * transport_ofi.c - the "ofi" and "udp" transports: one libfabric RDM endpoint per
 * stack (fabric.h), shared by all of the stack's connections; "udp" is "ofi" with the
 * provider udp;ofi_rxd, libfabric's reliable datagrams in user space.
 *
 * A connection is a peer address in the endpoint's address vector and a pair of ids:
 * ours (16 bits, in the tags of the server's messages to us) and the server's (in the
 * tags of ours, learnt from its CHALLENGE, whose header's object field carries it).
 * Frames are tagged messages (see fabric.h): msend posts the receive of the reply into
 * the request's reply header and the caller's buffer, then sends header and payload
 * from where they are, as one message; large ones move by the provider's rendezvous.
 *
 * Completions come from the endpoint's one completion queue: whoever polls first sorts
 * them into the done lists of their connections. Every operation has a slot in its
 * connection (a frame's send and receive by the request's slot index), so nothing is
 * allocated per frame. Closing a connection cancels its posted receives and waits (at
 * most OFI_CLOSE_MS) until the provider has let go of every buffer it was given.
 * Progress is manual: the stack polls these connections (no fd) every 0.1 to 2 ms.
 */
#include "cnio_config.h"
#include "common.h"
#include "fabric.h"
#include "log.h"
#include "stack.h"
#include "transport.h"
#include "wire.h"

#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_tagged.h>

#include <stdlib.h>
#include <string.h>

#define OFI_MAX_CONNS 4096
#define OFI_SLOTS CNIO_EP_MAX_INFLIGHT
#define OFI_CQ_BATCH 32
#define OFI_CLOSE_MS 2000
#define OFI_CHAL_LEN (CNIO_WIRE_HDR_SIZE + CNIO_WIRE_CHALLENGE_SIZE)

enum ofi_kind { OFI_SEND, OFI_RECV, OFI_HELLO, OFI_CHAL };

struct ofi_conn;

struct ofi_op {
    struct fi_context2 ctx;     /* first: libfabric's per-operation context */
    struct ofi_conn *c;
    enum ofi_kind kind;
    uint64_t id;
    int posted;                 /* the provider holds it */
    int queued;                 /* on the done list */
    int status;                 /* 0 or a negative code */
    size_t len;
    const uint8_t *hdr, *payload;
    struct ofi_op *next;
};

struct ofi_tp {
    struct cnio_tp base;
    struct cnio_fab fab;
    struct ofi_conn *conns[OFI_MAX_CONNS];   /* by our id; 0 unused */
    uint16_t next_id;
};

struct ofi_conn {
    struct cnio_conn base;
    struct ofi_tp *tp;
    fi_addr_t peer;
    uint16_t id;
    uint32_t sid;               /* the server's id for us, from the CHALLENGE */
    int dead;                   /* a send failed: the error */
    struct ofi_op send[OFI_SLOTS], recv[OFI_SLOTS], hello, chal;
    struct ofi_op *done_head, *done_tail;
    uint8_t chalbuf[OFI_CHAL_LEN];
};

static struct ofi_tp *ofi_tp_of(struct cnio_tp *tp)
{
    return (struct ofi_tp *)tp;
}

static int ofi_open_prov(struct cnio_stack *st, const struct cnio_transport_ops *ops,
                         const char *prov, struct cnio_tp **out)
{
    struct ofi_tp *tp = calloc(1, sizeof(*tp));
    int ret;

    if (!tp)
        return -CNIO_ERR_NOMEM;
    ret = cnio__fab_open(prov, NULL, &tp->fab);
    if (ret) {
        cnio__err("cannot open libfabric provider %s: %s", *prov ? prov : "(best)",
                  cnio_strerror(ret));
        free(tp);
        return ret;
    }
    cnio__debug("transport %s: libfabric provider %s", ops->name, tp->fab.prov);
    tp->base.ops = ops;
    tp->base.st = st;
    *out = &tp->base;
    return 0;
}

static int ofi_open(struct cnio_stack *st, const struct cnio_hints *h, struct cnio_tp **out)
{
    return ofi_open_prov(st, &cnio__ofi_ops, cnio__fab_provider("ofi", h->ofi_provider), out);
}

static int udp_open(struct cnio_stack *st, const struct cnio_hints *h, struct cnio_tp **out)
{
    return ofi_open_prov(st, &cnio__udp_ops, cnio__fab_provider("udp", NULL), out);
}

/* ---- completions ------------------------------------------------------------------ */

static void ofi_done(struct ofi_op *op, int status, size_t len)
{
    struct ofi_conn *c = op->c;

    op->posted = 0;
    op->status = status;
    op->len = len;
    op->next = NULL;
    op->queued = 1;
    if (c->done_tail)
        c->done_tail->next = op;
    else
        c->done_head = op;
    c->done_tail = op;
}

/* Reads the completion queue, sorting what completed to its connections. */
static int ofi_cq_drain(struct ofi_tp *tp)
{
    struct fi_cq_tagged_entry e[OFI_CQ_BATCH];

    for (;;) {
        ssize_t n = fi_cq_read(tp->fab.cq, e, OFI_CQ_BATCH);

        if (n == -FI_EAGAIN)
            return 0;
        if (n == -FI_EAVAIL) {
            struct fi_cq_err_entry err = { 0 };

            if (fi_cq_readerr(tp->fab.cq, &err, 0) != 1)
                return 0;   /* not there yet: the next poll reads it */
            if (err.op_context) {
                struct ofi_op *op = err.op_context;

                ofi_done(op, err.err == FI_ECANCELED ? -CNIO_ERR_CONN : cnio__fab_err(err.err),
                         0);
            }
            continue;
        }
        if (n < 0)
            return cnio__fab_err((int)n);
        for (ssize_t i = 0; i < n; i++)
            ofi_done(e[i].op_context, 0, e[i].len);
        if (n < OFI_CQ_BATCH)
            return 0;
    }
}

static int ofi_progress(struct cnio_tp *tp, int timeout_ms)
{
    return ofi_cq_drain(ofi_tp_of(tp));
}

/* ---- connections ------------------------------------------------------------------ */

static int ofi_post_chal(struct ofi_conn *c)
{
    struct ofi_op *op = &c->chal;
    ssize_t r = fi_trecv(c->tp->fab.ep, c->chalbuf, sizeof(c->chalbuf), NULL, c->peer,
                         cnio__fab_reply_tag(c->id, 0), 0, &op->ctx);

    if (r)
        return cnio__fab_err((int)r);
    op->posted = 1;
    return 0;
}

static int ofi_post_hello(struct ofi_conn *c, int64_t deadline)
{
    struct ofi_tp *tp = c->tp;
    ssize_t r;

    for (;;) {
        r = fi_tsend(tp->fab.ep, tp->fab.name, tp->fab.namelen, NULL, c->peer,
                     CNIO_FAB_TAG_HELLO | c->id, &c->hello.ctx);
        if (r != -FI_EAGAIN)
            break;
        if (cnio__now_ms() >= deadline)
            return -CNIO_ERR_TIMEOUT;
        ofi_cq_drain(tp);
    }
    if (r)
        return cnio__fab_err((int)r);
    c->hello.posted = 1;
    return 0;
}

static void ofi_init_ops(struct ofi_conn *c)
{
    for (int i = 0; i < OFI_SLOTS; i++) {
        c->send[i].c = c->recv[i].c = c;
        c->send[i].kind = OFI_SEND;
        c->recv[i].kind = OFI_RECV;
    }
    c->hello.c = c->chal.c = c;
    c->hello.kind = OFI_HELLO;
    c->chal.kind = OFI_CHAL;
}

static int ofi_take_id(struct ofi_tp *tp, struct ofi_conn *c)
{
    for (int tries = 0; tries < OFI_MAX_CONNS; tries++) {
        uint16_t id = (uint16_t)(++tp->next_id % OFI_MAX_CONNS);

        if (id && !tp->conns[id]) {
            tp->conns[id] = c;
            c->id = id;
            return 0;
        }
    }
    return -CNIO_ERR_LIMIT;
}

static void ofi_close(struct cnio_conn *conn);

static int ofi_connect(struct cnio_tp *tpb, const struct cnio_peer *peer, struct cnio_conn **out)
{
    struct ofi_tp *tp = ofi_tp_of(tpb);
    struct ofi_conn *c = calloc(1, sizeof(*c));
    int ret;

    if (!c)
        return -CNIO_ERR_NOMEM;
    c->base.tp = tpb;
    c->tp = tp;
    c->peer = FI_ADDR_UNSPEC;
    ofi_init_ops(c);
    ret = ofi_take_id(tp, c);
    if (ret) {
        free(c);
        return ret;
    }
    if (cnio__fab_av_get(&tp->fab, &peer->addr.ss, peer->addr.len, &c->peer)) {
        cnio__debug("%s: fabric address not usable with %s", peer->host ? peer->host : "?",
                    tp->fab.prov);
        c->peer = FI_ADDR_UNSPEC;
        ret = -CNIO_ERR_CONN;
    }
    if (!ret)
        ret = ofi_post_chal(c);
    if (!ret)
        ret = ofi_post_hello(c, cnio__now_ms() + peer->timeout_ms);
    if (ret) {
        ofi_close(&c->base);
        return ret;
    }
    *out = &c->base;
    return 0;
}

static int ofi_busy(const struct ofi_conn *c)
{
    int n = c->hello.posted + c->chal.posted;

    for (int i = 0; i < OFI_SLOTS; i++)
        n += c->send[i].posted + c->recv[i].posted;
    return n;
}

/* Cancels the receives still posted and waits until the provider holds no buffer of
 * c; returns 0, or -1 when it still does at the deadline (c must then not be freed). */
static int ofi_quiesce(struct ofi_conn *c)
{
    struct fid_ep *ep = c->tp->fab.ep;
    int64_t deadline = cnio__now_ms() + OFI_CLOSE_MS;

    if (c->chal.posted)
        fi_cancel(&ep->fid, &c->chal.ctx);
    for (int i = 0; i < OFI_SLOTS; i++)
        if (c->recv[i].posted)
            fi_cancel(&ep->fid, &c->recv[i].ctx);
    while (ofi_busy(c)) {
        if (ofi_cq_drain(c->tp) || cnio__now_ms() >= deadline)
            return -1;
    }
    return 0;
}

static void ofi_close(struct cnio_conn *conn)
{
    struct ofi_conn *c = (struct ofi_conn *)conn;
    struct ofi_tp *tp;

    if (!c)
        return;
    tp = c->tp;
    if (c->sid && c->peer != FI_ADDR_UNSPEC)
        fi_tinject(tp->fab.ep, NULL, 0, c->peer, CNIO_FAB_TAG_BYE | c->sid);
    if (ofi_quiesce(c)) {
        /* The provider may still write into c: leave it (and its id) to the endpoint. */
        cnio__warn("libfabric %s: a connection's operations did not finish within %d ms",
                   tp->fab.prov, OFI_CLOSE_MS);
        return;
    }
    if (c->peer != FI_ADDR_UNSPEC)
        cnio__fab_av_put(&tp->fab, c->peer);
    tp->conns[c->id] = NULL;
    free(c);
}

/* ---- frames ------------------------------------------------------------------------ */

static int ofi_msend(struct cnio_conn *conn, const struct cnio_tp_frame *f)
{
    struct ofi_conn *c = (struct ofi_conn *)conn;
    struct fid_ep *ep = c->tp->fab.ep;
    unsigned idx = (unsigned)(f->id & 0xff) % OFI_SLOTS;
    struct ofi_op *s = &c->send[idx], *r = &c->recv[idx];
    struct iovec riov[2] = { { f->rhdr, CNIO_WIRE_HDR_SIZE }, { f->rbuf, f->rcap } };
    struct iovec siov[2] = { { (void *)f->hdr, CNIO_WIRE_HDR_SIZE },
                             { (void *)f->payload, f->plen } };
    ssize_t ret;

    if (c->dead)
        return c->dead;
    if (!c->sid || s->posted || s->queued)
        return 0;
    if (!(r->posted || r->queued) || r->id != f->id) {
        if (r->posted || r->queued)
            return 0;
        ret = fi_trecvv(ep, riov, NULL, f->rcap ? 2 : 1, c->peer,
                        cnio__fab_reply_tag(c->id, f->id), 0, &r->ctx);
        if (ret == -FI_EAGAIN)
            return ofi_cq_drain(c->tp) ? -CNIO_ERR_CONN : 0;
        if (ret)
            return cnio__fab_err((int)ret);
        r->id = f->id;
        r->hdr = f->rhdr;
        r->payload = f->rbuf;
        r->posted = 1;
    }
    ret = fi_tsendv(ep, siov, NULL, f->plen ? 2 : 1, c->peer, c->sid, &s->ctx);
    if (ret == -FI_EAGAIN)
        return ofi_cq_drain(c->tp) ? -CNIO_ERR_CONN : 0;
    if (ret)
        return cnio__fab_err((int)ret);
    s->id = f->id;
    s->posted = 1;
    return 1;
}

/* One completed operation as an event: 1 reported, 0 nothing to report, < 0 dead. */
static int ofi_event(struct ofi_conn *c, struct ofi_op *op, struct cnio_tp_event *ev)
{
    op->queued = 0;
    switch (op->kind) {
    case OFI_HELLO:
        return op->status;
    case OFI_CHAL:
        if (op->status)
            return op->status;
        if (op->len < CNIO_WIRE_HDR_SIZE)
            return -CNIO_ERR_PROTO;
        c->sid = (uint32_t)cnio__get_le64(c->chalbuf + 32);
        *ev = (struct cnio_tp_event){ .kind = CNIO_TP_RECEIVED, .id = 0, .hdr = c->chalbuf,
                                      .payload = c->chalbuf + CNIO_WIRE_HDR_SIZE,
                                      .len = op->len };
        /* a refusal (status set: -LIMIT) has no id; the stack reports its status */
        return c->sid || cnio__get_le32(c->chalbuf + 12) ? 1 : -CNIO_ERR_PROTO;
    case OFI_SEND:
        if (op->status)
            return op->status;
        *ev = (struct cnio_tp_event){ .kind = CNIO_TP_SENT, .id = op->id };
        return 1;
    case OFI_RECV:
        if (op->status)
            return op->status;
        *ev = (struct cnio_tp_event){ .kind = CNIO_TP_RECEIVED, .id = op->id, .hdr = op->hdr,
                                      .payload = op->payload, .len = op->len };
        return 1;
    }
    return -CNIO_ERR_PROTO;
}

static int ofi_mpoll(struct cnio_conn *conn, struct cnio_tp_event *ev, int max)
{
    struct ofi_conn *c = (struct ofi_conn *)conn;
    int n = 0, ret = ofi_cq_drain(c->tp);

    if (ret)
        return ret;
    while (c->done_head && n < max) {
        struct ofi_op *op = c->done_head;

        c->done_head = op->next;
        if (!c->done_head)
            c->done_tail = NULL;
        ret = ofi_event(c, op, &ev[n]);
        if (ret < 0) {
            c->dead = ret;
            return ret;
        }
        n += ret;
    }
    return n;
}

static void ofi_fini(struct cnio_tp *tpb)
{
    struct ofi_tp *tp = ofi_tp_of(tpb);

    cnio__fab_close(&tp->fab);
    for (int i = 0; i < OFI_MAX_CONNS; i++)
        free(tp->conns[i]);   /* only those left behind by ofi_close */
    free(tp);
}

static const char *ofi_provider(struct cnio_tp *tp)
{
    return ofi_tp_of(tp)->fab.prov;
}

const struct cnio_transport_ops cnio__ofi_ops = {
    .size = sizeof(cnio__ofi_ops),
    .name = "ofi",
    .open = ofi_open,
    .connect = ofi_connect,
    .sendv = cnio__tp_notsup_xfer,
    .recvv = cnio__tp_notsup_xfer,
    .progress = ofi_progress,
    .close = ofi_close,
    .fd = cnio__tp_notsup_fd,
    .fini = ofi_fini,
    .framed = 1,
    .msend = ofi_msend,
    .mpoll = ofi_mpoll,
    .provider = ofi_provider,
};

const struct cnio_transport_ops cnio__udp_ops = {
    .size = sizeof(cnio__udp_ops),
    .name = "udp",
    .open = udp_open,
    .connect = ofi_connect,
    .sendv = cnio__tp_notsup_xfer,
    .recvv = cnio__tp_notsup_xfer,
    .progress = ofi_progress,
    .close = ofi_close,
    .fd = cnio__tp_notsup_fd,
    .fini = ofi_fini,
    .framed = 1,
    .msend = ofi_msend,
    .mpoll = ofi_mpoll,
    .provider = ofi_provider,
};
