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
 * A connection's life, its handshake (a HELLO sent again from a new endpoint), its BYE
 * and its close, is in transport_ofi_conn.c; what both files share is in
 * transport_ofi_int.h.
 *
 * Completions come from the endpoints' completion queues: whoever polls first sorts
 * them into the done lists of their connections. Every operation has a slot in its
 * connection (a frame's send and receive by the request's slot index), so nothing is
 * allocated per frame. Progress is manual: the stack polls these connections (no fd)
 * every 0.1 to 2 ms.
 */
#include "cnio_config.h"
#include "common.h"
#include "fab_msg.h"
#include "fabric.h"
#include "log.h"
#include "stack.h"
#include "transport.h"
#include "transport_ofi_int.h"
#include "wire.h"

#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_tagged.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Endpoints kept for the process's life. ofi_rxd (libfabric 1.17) must not see a UDP
 * address bound twice: a packet for the earlier endpoint (the ACK of its BYE, late)
 * that reaches the later one can crash it, and the server's rxd, which knows a peer by
 * its address alone, drops the later one's HELLO (the retry from another port costs
 * OFI_PROBE_MS). So an rxd endpoint bound to a port of CNIO_OFI_SOURCE's is not closed
 * with its transport but kept here, and the next transport that asks for the same
 * provider and source takes it over instead of binding the port again: both sides'
 * rxd states stay in step. An endpoint is kept only when nothing of the old transport
 * is left in it: no operation posted, no completion queued, no connection that still
 * refers to it; the address vector keeps its entries (fabric.c counts them again from
 * 0; fi_av_insert of an address rxd has already gives back the same fi_addr). Stacks
 * live on several threads: the list is under a mutex, and an endpoint is used by one
 * transport at a time. The list is never freed: the kernel releases the sockets at
 * exit, and closing endpoints from an exit handler could run while another thread
 * still uses libfabric, or after libfabric's own destructor (it is dlopened).
 */
struct ofi_kept {
    struct cnio_fab *f;
    char prov[CNIO_FAB_PROV_MAX];     /* its provider ("udp;ofi_rxd"), as the next one asks */
    char source[OFI_SOURCE_MAX];
    uint16_t next_id;                 /* the next transport's ids follow the last one's */
    struct ofi_kept *next;
};

static pthread_mutex_t ofi_kept_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ofi_kept *ofi_kept_list;

/* The endpoint kept for provider prov and source, taken off the list, or NULL. */
static struct cnio_fab *ofi_kept_take(const char *prov, const char *source, uint16_t *next_id)
{
    struct ofi_kept **pk, *k;
    struct cnio_fab *f = NULL;

    pthread_mutex_lock(&ofi_kept_lock);
    for (pk = &ofi_kept_list; (k = *pk) != NULL; pk = &k->next)
        if (!strcmp(k->prov, prov) && !strcmp(k->source, source))
            break;
    if (k) {
        *pk = k->next;
        f = k->f;
        *next_id = k->next_id;
        free(k);
    }
    pthread_mutex_unlock(&ofi_kept_lock);
    return f;
}

/* Keeps f for the next transport of prov at source: 0, or -CNIO_ERR_NOMEM (f is then
 * still the caller's). */
static int ofi_kept_put(const char *prov, const char *source, struct cnio_fab *f,
                        uint16_t next_id)
{
    struct ofi_kept *k = calloc(1, sizeof(*k));

    if (!k)
        return -CNIO_ERR_NOMEM;
    k->f = f;
    snprintf(k->prov, sizeof(k->prov), "%s", prov);
    snprintf(k->source, sizeof(k->source), "%s", source);
    k->next_id = next_id;
    pthread_mutex_lock(&ofi_kept_lock);
    k->next = ofi_kept_list;
    ofi_kept_list = k;
    pthread_mutex_unlock(&ofi_kept_lock);
    return 0;
}

/* 1 when a connection refers to endpoint i. */
static int ofi_fep_used(const struct ofi_tp *tp, int i)
{
    for (int id = 1; id < OFI_MAX_CONNS; id++) {
        const struct ofi_conn *c = tp->conns[id];

        if (c && c->fab == tp->feps[i])
            return 1;
        for (int t = 0; c && t < OFI_HELLO_TRIES; t++)
            if (c->fepi[t] == i)
                return 1;
    }
    return 0;
}

/* 1 when endpoint i was closed by ofi_retire and no connection refers to it any more. */
static int ofi_fep_free(const struct ofi_tp *tp, int i)
{
    return !tp->feps[i]->ep && tp->feps[i]->dead && !ofi_fep_used(tp, i);
}

/* 1 when source (CNIO_OFI_SOURCE) names a port, HOST:PORT (not an IPv6 [HOST]): the
 * endpoint is then bound where an earlier one may have been. */
static int ofi_source_port(const char *source)
{
    const char *colon = source ? strrchr(source, ':') : NULL;

    return colon && source[0] != '[' && strchr(source, ':') == colon && atoi(colon + 1) > 0;
}

/* Opens one more endpoint of tp's provider, in the slot of a closed one if there is
 * such: its index, or a negative code. source binds it (CNIO_OFI_SOURCE: HOST or
 * HOST:PORT) or is NULL (a port of the kernel's). */
int cnio__ofi_fep_add(struct ofi_tp *tp, const char *source)
{
    struct cnio_fab *f;
    int i, ret;

    for (i = 0; i < tp->nfeps && !ofi_fep_free(tp, i); i++)
        ;
    if (i == OFI_MAX_FEPS)
        return -CNIO_ERR_LIMIT;
    f = i < tp->nfeps ? tp->feps[i] : calloc(1, sizeof(*f));
    if (!f)
        return -CNIO_ERR_NOMEM;
    memset(f, 0, sizeof(*f));
    ret = cnio__fab_open(tp->nfeps ? tp->prov_used : tp->prov, source, f);
    if (!ret && (ret = cnio__fab_guard(f, tp->timeout_ms)) != 0)
        cnio__fab_close(f);
    if (ret) {
        if (i < tp->nfeps)
            f->dead = -CNIO_ERR_CONN;   /* still closed: the slot stays free */
        else
            free(f);
        return ret;
    }
    if (!tp->nfeps)
        snprintf(tp->prov_used, sizeof(tp->prov_used), "%s", f->prov);
    tp->pinned[i] = ofi_source_port(source);
    if (i == tp->nfeps)
        tp->feps[tp->nfeps++] = f;
    return i;
}

static int ofi_open_prov(struct cnio_stack *st, const struct cnio_transport_ops *ops,
                         const char *prov, const struct cnio_hints *h, struct cnio_tp **out)
{
    struct ofi_tp *tp = calloc(1, sizeof(*tp));
    struct cnio_fab *f;
    const char *source;
    int ret;

    if (!tp)
        return -CNIO_ERR_NOMEM;
    tp->prov = prov;
    tp->timeout_ms = h->timeout_ms;
    source = getenv("CNIO_OFI_SOURCE");
    if (ofi_source_port(source) && strlen(source) < sizeof(tp->source))
        snprintf(tp->source, sizeof(tp->source), "%s", source);
    if (*tp->source && (f = ofi_kept_take(prov, tp->source, &tp->next_id)) != NULL) {
        snprintf(tp->prov_used, sizeof(tp->prov_used), "%s", f->prov);
        tp->feps[0] = f;
        tp->pinned[0] = 1;
        tp->nfeps = 1;
        ret = 0;
    } else {
        ret = cnio__ofi_fep_add(tp, source);
    }
    if (ret < 0) {
        cnio__err("cannot open libfabric provider %s: %s", *prov ? prov : "(best)",
                  cnio_strerror(ret));
        free(tp);
        return ret;
    }
    tp->fab = tp->feps[0];
    cnio__debug("transport %s: libfabric provider %s", ops->name, tp->fab->prov);
    tp->base.ops = ops;
    tp->base.st = st;
    *out = &tp->base;
    return 0;
}

static int ofi_open(struct cnio_stack *st, const struct cnio_hints *h, struct cnio_tp **out)
{
    return ofi_open_prov(st, &cnio__ofi_ops, cnio__fab_provider("ofi", h->ofi_provider), h,
                         out);
}

static int udp_open(struct cnio_stack *st, const struct cnio_hints *h, struct cnio_tp **out)
{
    return ofi_open_prov(st, &cnio__udp_ops, cnio__fab_provider("udp", NULL), h, out);
}

/* ---- completions ------------------------------------------------------------------ */

static void ofi_done(struct ofi_op *op, int status, size_t len)
{
    struct ofi_conn *c = op->c;

    op->posted = 0;
    op->status = status;
    op->len = len;
    c->moved_ms = cnio__now_ms();
    if (op->kind == OFI_BYE)
        return;   /* nobody reads it: the connection is closing (ofi_quiesce) */
    op->next = NULL;
    op->queued = 1;
    if (c->done_tail)
        c->done_tail->next = op;
    else
        c->done_head = op;
    c->done_tail = op;
}

/* Reads one endpoint's completion queue, sorting what completed to its connections. An
 * shm endpoint with a dead peer is not read (its connections fail in ofi_mpoll): reading
 * progresses it, which may spin on the dead peer's lock (fab_live.c). */
static int ofi_cq_drain_one(struct cnio_fab *f)
{
    struct fi_cq_tagged_entry e[OFI_CQ_BATCH];

    if (cnio__fab_live(f))
        return 0;
    for (;;) {
        ssize_t n;

        cnio__fab_enter(f);
        n = fi_cq_read(f->cq, e, OFI_CQ_BATCH);
        cnio__fab_leave(f);
        if (n == -FI_EAGAIN)
            return 0;
        if (n == -FI_EAVAIL) {
            struct fi_cq_err_entry err = { 0 };
            ssize_t got;

            cnio__fab_enter(f);
            got = fi_cq_readerr(f->cq, &err, 0);
            cnio__fab_leave(f);
            if (got != 1)
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

int cnio__ofi_cq_drain(struct ofi_tp *tp)
{
    int ret = 0;

    for (int i = 0; i < tp->nfeps && !ret; i++)
        ret = ofi_cq_drain_one(tp->feps[i]);
    return ret;
}

static int ofi_progress(struct cnio_tp *tp, int timeout_ms)
{
    return cnio__ofi_cq_drain(ofi_tp_of(tp));
}

/* ---- frames ------------------------------------------------------------------------ */

static int ofi_msend(struct cnio_conn *conn, const struct cnio_tp_frame *f)
{
    struct ofi_conn *c = (struct ofi_conn *)conn;
    struct fid_ep *ep = c->fab->ep;
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
    if (f->session)
        c->session = f->session;
    if ((r->posted || r->queued) && r->id != f->id)
        return 0;
    /* a send takes the server's region lock (fab_live.c) */
    if ((ret = cnio__fab_live(c->fab)) != 0)
        return c->dead = (int)ret;
    if (!cnio__ofi_holds_frames(c))
        c->moved_ms = cnio__now_ms();
    if (!(r->posted || r->queued)) {
        cnio__fab_enter(c->fab);
        ret = fi_trecvv(ep, riov, NULL, f->rcap ? 2 : 1, c->peer,
                        cnio__fab_reply_tag(c->id, f->id), 0, &r->ctx);
        cnio__fab_leave(c->fab);
        if (ret == -FI_EAGAIN)
            return cnio__ofi_cq_drain(c->tp) ? -CNIO_ERR_CONN : 0;
        if (ret)
            return cnio__fab_err((int)ret);
        r->id = f->id;
        r->hdr = f->rhdr;
        r->payload = f->rbuf;
        r->posted = 1;
    }
    cnio__fab_enter(c->fab);
    ret = fi_tsendv(ep, siov, NULL, f->plen ? 2 : 1, c->peer, c->sid, &s->ctx);
    cnio__fab_leave(c->fab);
    if (ret == -FI_EAGAIN)
        return cnio__ofi_cq_drain(c->tp) ? -CNIO_ERR_CONN : 0;
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
        if (op->try != c->try)
            return 0;
        if (!op->status)
            c->delivered_ms = cnio__now_ms();
        return op->status;
    case OFI_CHAL: {
        uint32_t sid;
        int ret = op->status ? op->status : cnio__fab_chal_parse(c->chalbuf[op->try], op->len,
                                                                 &sid);

        if (op->try != c->try) {
            /* an earlier HELLO's, late: that connection is not wanted */
            if (!ret && sid)
                cnio__ofi_bye(c, op->try, sid);
            return 0;
        }
        if (ret)
            return ret;
        c->sid = sid;
        *ev = (struct cnio_tp_event){ .kind = CNIO_TP_RECEIVED, .id = 0,
                                      .hdr = c->chalbuf[c->try],
                                      .payload = c->chalbuf[c->try] + CNIO_WIRE_HDR_SIZE,
                                      .len = op->len };
        /* a refusal (status set: -LIMIT) has no id (sid 0); the stack reports its status */
        return 1;
    }
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
    case OFI_BYE:
        return 0;   /* never queued (ofi_done) */
    }
    return -CNIO_ERR_PROTO;
}

static int ofi_mpoll(struct cnio_conn *conn, struct cnio_tp_event *ev, int max)
{
    struct ofi_conn *c = (struct ofi_conn *)conn;
    int n = 0, ret = cnio__ofi_cq_drain(c->tp);

    if (ret)
        return ret;
    if (c->dead)
        return c->dead;
    if (c->fab->dead)
        return c->dead = c->fab->dead;   /* its endpoint has a dead peer (ofi_cq_drain_one) */
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
    if (!n && (ret = cnio__ofi_watch(c)) != 0) {
        c->dead = ret;
        return ret;
    }
    if (!n && !c->sid && c->delivered_ms && c->try + 1 < OFI_HELLO_TRIES &&
        cnio__now_ms() - c->delivered_ms >= OFI_PROBE_MS) {
        ret = cnio__ofi_hello_again(c);
        if (ret) {
            c->dead = ret;
            return ret;
        }
    }
    return n;
}

/* 1 when endpoint i can be kept for the next transport (ofi_kept_list): ofi_rxd, bound
 * to CNIO_OFI_SOURCE's port, alive, and with nothing left of tp in it. */
static int ofi_keepable(const struct ofi_tp *tp, int i)
{
    struct cnio_fab *f = tp->feps[i];
    struct fi_cq_tagged_entry e;
    ssize_t n;

    if (!tp->pinned[i] || !*tp->source || !f->ep || f->dead || !strstr(f->prov, "ofi_rxd") ||
        ofi_fep_used(tp, i))
        return 0;
    n = fi_cq_read(f->cq, &e, 1);
    return n == -FI_EAGAIN;
}

static void ofi_fini(struct cnio_tp *tpb)
{
    struct ofi_tp *tp = ofi_tp_of(tpb);

    for (int i = 0; i < tp->nfeps; i++) {
        struct cnio_fab *f = tp->feps[i];

        if (ofi_keepable(tp, i)) {
            for (int p = 0; p < f->npeers; p++)
                f->peers[p].refs = 0;
            if (ofi_kept_put(f->prov, tp->source, f, tp->next_id) == 0)
                continue;
        }
        cnio__fab_close(f);
        free(f);
    }
    for (int i = 0; i < OFI_MAX_CONNS; i++)
        free(tp->conns[i]);   /* only those left behind by cnio__ofi_close */
    free(tp);
}

static const char *ofi_provider(struct cnio_tp *tp)
{
    return ofi_tp_of(tp)->prov_used;
}

const struct cnio_transport_ops cnio__ofi_ops = {
    .size = sizeof(cnio__ofi_ops),
    .name = "ofi",
    .open = ofi_open,
    .connect = cnio__ofi_connect,
    .connect_start = cnio__tp_notsup_connect,
    .connect_poll = cnio__tp_notsup_connect_poll,
    .sendv = cnio__tp_notsup_xfer,
    .recvv = cnio__tp_notsup_xfer,
    .progress = ofi_progress,
    .close = cnio__ofi_close,
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
    .connect = cnio__ofi_connect,
    .connect_start = cnio__tp_notsup_connect,
    .connect_poll = cnio__tp_notsup_connect_poll,
    .sendv = cnio__tp_notsup_xfer,
    .recvv = cnio__tp_notsup_xfer,
    .progress = ofi_progress,
    .close = cnio__ofi_close,
    .fd = cnio__tp_notsup_fd,
    .fini = ofi_fini,
    .framed = 1,
    .msend = ofi_msend,
    .mpoll = ofi_mpoll,
    .provider = ofi_provider,
};
