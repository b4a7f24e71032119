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
 * A HELLO whose CHALLENGE does not come (OFI_PROBE_MS after the provider reported it
 * delivered) is sent again from a fresh endpoint (a new local address), at most
 * OFI_HELLO_TRIES times: ofi_rxd (libfabric 1.17 and later) knows a peer by its UDP
 * address alone and keeps its sequence numbers for as long as its own endpoint lives.
 * A client endpoint that the kernel gives a port an earlier, gone endpoint had used
 * towards the same server is taken for that one: the server's rxd expects the old
 * sequence number, acknowledges everything below it (so the HELLO counts as delivered
 * and is never resent) and drops it. Every later message from that address meets the
 * same fate, so only a new address helps. The stack's other connections stay where they
 * are; endpoints opened so are kept until the stack closes. An ofi_rxd endpoint bound to
 * a port of CNIO_OFI_SOURCE's outlives its stack instead (ofi_kept_list): within a
 * process that port is never bound twice.
 *
 * Completions come from the endpoints' completion queues: whoever polls first sorts
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

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OFI_MAX_CONNS 4096
#define OFI_SLOTS CNIO_EP_MAX_INFLIGHT
#define OFI_CQ_BATCH 32
#define OFI_CLOSE_MS 2000
#define OFI_CHAL_LEN (CNIO_WIRE_HDR_SIZE + CNIO_WIRE_CHALLENGE_SIZE)
#define OFI_HELLO_TRIES 3     /* endpoints a connection's HELLO is sent from, at most */
#define OFI_MAX_FEPS 8        /* endpoints per transport instance */
#define OFI_PROBE_MS 1000     /* a delivered HELLO's CHALLENGE is this late: a new address */
#define OFI_BYE_MS 200        /* a pinned endpoint's BYE is acknowledged within this, at most */
#define OFI_SOURCE_MAX 256

enum ofi_kind { OFI_SEND, OFI_RECV, OFI_HELLO, OFI_CHAL, OFI_BYE };

struct ofi_conn;

struct ofi_op {
    struct fi_context2 ctx;     /* first: libfabric's per-operation context */
    struct ofi_conn *c;
    enum ofi_kind kind;
    int try;                    /* OFI_HELLO, OFI_CHAL: which HELLO */
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
    struct cnio_fab *fab;                    /* where connections start (feps[start]) */
    struct cnio_fab *feps[OFI_MAX_FEPS];     /* more: opened for HELLOs sent again, or in
                                              * place of a closed one (ofi_retire) */
    int nfeps, start;
    int pinned[OFI_MAX_FEPS];                /* bound to a port of CNIO_OFI_SOURCE's */
    char source[OFI_SOURCE_MAX];             /* ... that one, or "" */
    const char *prov;                        /* what the first endpoint was opened with */
    char prov_used[CNIO_FAB_PROV_MAX];       /* ... and what it got: the others' */
    int timeout_ms;                          /* the watchdog's bound on shm (fab_live.c) */
    struct ofi_conn *conns[OFI_MAX_CONNS];   /* by our id; 0 unused */
    uint16_t next_id;
};

struct ofi_conn {
    struct cnio_conn base;
    struct ofi_tp *tp;
    struct cnio_fab *fab;       /* the endpoint of the current try */
    fi_addr_t peer;             /* the server in fab's address vector */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    uint16_t id;
    uint32_t sid;               /* the server's id for us, from the CHALLENGE */
    int dead;                   /* a send failed: the error */
    int try, fepi[OFI_HELLO_TRIES];        /* the current try; each try's endpoint */
    fi_addr_t tpeer[OFI_HELLO_TRIES];      /* each try's server address */
    int64_t delivered_ms;       /* when the current HELLO was reported delivered */
    struct ofi_op send[OFI_SLOTS], recv[OFI_SLOTS];
    struct ofi_op hello[OFI_HELLO_TRIES], chal[OFI_HELLO_TRIES];
    struct ofi_op bye[OFI_HELLO_TRIES];    /* each try's BYE, from a pinned endpoint */
    struct ofi_op *done_head, *done_tail;
    uint8_t chalbuf[OFI_HELLO_TRIES][OFI_CHAL_LEN];
};

static struct ofi_tp *ofi_tp_of(struct cnio_tp *tp)
{
    return (struct ofi_tp *)tp;
}

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
static int ofi_fep_add(struct ofi_tp *tp, const char *source)
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
        ret = ofi_fep_add(tp, source);
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

static int ofi_cq_drain(struct ofi_tp *tp)
{
    int ret = 0;

    for (int i = 0; i < tp->nfeps && !ret; i++)
        ret = ofi_cq_drain_one(tp->feps[i]);
    return ret;
}

static int ofi_progress(struct cnio_tp *tp, int timeout_ms)
{
    return ofi_cq_drain(ofi_tp_of(tp));
}

/* ---- connections ------------------------------------------------------------------ */

/* Posts the receive of the current try's CHALLENGE. */
static int ofi_post_chal(struct ofi_conn *c)
{
    struct ofi_op *op = &c->chal[c->try];
    ssize_t r = cnio__fab_live(c->fab);

    if (r)
        return (int)r;
    cnio__fab_enter(c->fab);
    r = fi_trecv(c->fab->ep, c->chalbuf[c->try], OFI_CHAL_LEN, NULL, c->peer,
                 cnio__fab_reply_tag(c->id, 0), 0, &op->ctx);
    cnio__fab_leave(c->fab);
    if (r)
        return cnio__fab_err((int)r);
    op->posted = 1;
    return 0;
}

static int ofi_post_hello(struct ofi_conn *c, int64_t deadline)
{
    struct ofi_op *op = &c->hello[c->try];
    ssize_t r;

    for (;;) {
        if ((r = cnio__fab_live(c->fab)) != 0)
            return (int)r;
        cnio__fab_enter(c->fab);
        r = fi_tsend(c->fab->ep, c->fab->name, c->fab->namelen, NULL, c->peer,
                     CNIO_FAB_TAG_HELLO | c->id, &op->ctx);
        cnio__fab_leave(c->fab);
        if (r != -FI_EAGAIN)
            break;
        if (cnio__now_ms() >= deadline)
            return -CNIO_ERR_TIMEOUT;
        ofi_cq_drain(c->tp);
    }
    if (r)
        return cnio__fab_err((int)r);
    op->posted = 1;
    return 0;
}

static void ofi_init_ops(struct ofi_conn *c)
{
    for (int i = 0; i < OFI_SLOTS; i++) {
        c->send[i].c = c->recv[i].c = c;
        c->send[i].kind = OFI_SEND;
        c->recv[i].kind = OFI_RECV;
    }
    for (int t = 0; t < OFI_HELLO_TRIES; t++) {
        c->hello[t].c = c->chal[t].c = c->bye[t].c = c;
        c->hello[t].kind = OFI_HELLO;
        c->chal[t].kind = OFI_CHAL;
        c->bye[t].kind = OFI_BYE;
        c->hello[t].try = c->chal[t].try = t;
        c->tpeer[t] = FI_ADDR_UNSPEC;
        c->fepi[t] = -1;
    }
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

/* Starts try c->try from endpoint fepi: the server's address in its vector, the
 * CHALLENGE's receive, the HELLO. */
static int ofi_hello_from(struct ofi_conn *c, int fepi, int64_t deadline)
{
    struct ofi_tp *tp = c->tp;
    int ret;

    c->fab = tp->feps[fepi];
    c->fepi[c->try] = fepi;
    c->delivered_ms = 0;
    if (cnio__fab_av_get(c->fab, &c->addr, c->addrlen, &c->peer)) {
        c->peer = FI_ADDR_UNSPEC;
        return -CNIO_ERR_CONN;
    }
    c->tpeer[c->try] = c->peer;
    ret = ofi_post_chal(c);
    return ret ? ret : ofi_post_hello(c, deadline);
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
    if (peer->addr.len > sizeof(c->addr)) {
        ret = -CNIO_ERR_CONN;
    } else {
        memcpy(&c->addr, &peer->addr.ss, peer->addr.len);
        c->addrlen = peer->addr.len;
        ret = ofi_hello_from(c, tp->start, cnio__now_ms() + peer->timeout_ms);
    }
    if (ret == -CNIO_ERR_CONN && c->peer == FI_ADDR_UNSPEC)
        cnio__debug("%s: fabric address not usable with %s", peer->host ? peer->host : "?",
                    tp->prov_used);
    if (ret) {
        ofi_close(&c->base);
        return ret;
    }
    *out = &c->base;
    return 0;
}

/* The current HELLO was delivered OFI_PROBE_MS ago and no CHALLENGE came: sends it again
 * from the next endpoint (opened now if need be). 0, or a negative code. */
static int ofi_hello_again(struct ofi_conn *c)
{
    struct ofi_tp *tp = c->tp;
    int next = c->fepi[c->try] + 1, ret;

    c->delivered_ms = 0;
    while (next < tp->nfeps && tp->feps[next]->dead)
        next++;
    if (next >= tp->nfeps && (next = ofi_fep_add(tp, NULL)) < 0)
        return 0;   /* no more endpoints: wait for the first CHALLENGE until the deadline */
    cnio__debug("libfabric %s: no CHALLENGE %d ms after the HELLO was delivered: again from "
                "another address (the server's provider may know this one from an earlier "
                "endpoint)", tp->prov_used, OFI_PROBE_MS);
    c->try++;
    ret = ofi_hello_from(c, next, cnio__now_ms() + OFI_PROBE_MS);
    return ret;
}

/* The endpoint of try t, if it is alive (a dead peer's is never entered again). */
static struct cnio_fab *ofi_try_fab(const struct ofi_conn *c, int t)
{
    struct cnio_fab *f = c->fepi[t] >= 0 ? c->tp->feps[c->fepi[t]] : NULL;

    return f && !f->dead ? f : NULL;
}

/* Operations the provider holds for c: all of them, or (alive_only) those on endpoints
 * still alive (a dead peer's endpoint is never progressed, so its operations never end). */
static int ofi_held(const struct ofi_conn *c, int alive_only)
{
    int n = 0;

    for (int t = 0; t < OFI_HELLO_TRIES; t++)
        if (!alive_only || ofi_try_fab(c, t))
            n += c->hello[t].posted + c->chal[t].posted + c->bye[t].posted;
    if (!alive_only || !c->fab->dead)
        for (int i = 0; i < OFI_SLOTS; i++)
            n += c->send[i].posted + c->recv[i].posted;
    return n;
}

/* How long a closing connection waits for its BYEs' acknowledgements. */
static int ofi_bye_ms(const struct ofi_tp *tp)
{
    return tp->timeout_ms > 0 && tp->timeout_ms < OFI_BYE_MS ? tp->timeout_ms : OFI_BYE_MS;
}

/* BYEs of c still with the provider, on endpoints alive. */
static int ofi_byes_held(const struct ofi_conn *c)
{
    int n = 0;

    for (int t = 0; t < OFI_HELLO_TRIES; t++)
        if (ofi_try_fab(c, t))
            n += c->bye[t].posted;
    return n;
}

/*
 * Tells the server of try t that its connection sid is closed. From a pinned endpoint
 * (bound to CNIO_OFI_SOURCE's port) the BYE is a send with a completion, which ofi_rxd
 * reports once the server has acknowledged it; ofi_quiesce waits for that, at most
 * ofi_bye_ms. An endpoint closed while that ACK is on its way leaves it to whatever binds
 * the port next, and ofi_rxd (libfabric 1.17) crashes there: the ACK frees the new
 * endpoint's first packet to that server (doc/transports.md). A port the kernel chose is
 * not handed out again at once, so there the BYE goes out with fi_tinject and costs no wait.
 */
static void ofi_bye(struct ofi_conn *c, int t, uint32_t sid)
{
    struct cnio_fab *f = ofi_try_fab(c, t);
    struct ofi_op *op = &c->bye[t];
    int64_t deadline = cnio__now_ms() + ofi_bye_ms(c->tp);
    ssize_t r;

    if (!f || op->posted || c->tpeer[t] == FI_ADDR_UNSPEC || cnio__fab_live_now(f))
        return;
    if (!c->tp->pinned[c->fepi[t]]) {
        cnio__fab_enter(f);
        fi_tinject(f->ep, NULL, 0, c->tpeer[t], CNIO_FAB_TAG_BYE | sid);
        cnio__fab_leave(f);
        return;
    }
    for (;;) {
        cnio__fab_enter(f);
        r = fi_tsend(f->ep, NULL, 0, NULL, c->tpeer[t], CNIO_FAB_TAG_BYE | sid, &op->ctx);
        cnio__fab_leave(f);
        if (r != -FI_EAGAIN || cnio__now_ms() >= deadline)
            break;
        ofi_cq_drain(c->tp);
    }
    op->posted = r == 0;
}

/* Cancels the receives still posted and waits until the provider holds no buffer of
 * c; returns 0, or -1 when it still does at the deadline (c must then not be freed).
 * BYEs are waited for ofi_bye_ms at most. */
static int ofi_quiesce(struct ofi_conn *c)
{
    struct ofi_tp *tp = c->tp;
    int64_t deadline = cnio__now_ms() + OFI_CLOSE_MS;
    int64_t bye_by = cnio__now_ms() + ofi_bye_ms(tp);
    int n;

    for (int t = 0; t <= c->try && t < OFI_HELLO_TRIES; t++) {
        struct cnio_fab *f = ofi_try_fab(c, t);

        if (c->chal[t].posted && f) {
            cnio__fab_enter(f);
            fi_cancel(&f->ep->fid, &c->chal[t].ctx);
            cnio__fab_leave(f);
        }
    }
    for (int i = 0; i < OFI_SLOTS; i++)
        if (c->recv[i].posted && !c->fab->dead) {
            cnio__fab_enter(c->fab);
            fi_cancel(&c->fab->ep->fid, &c->recv[i].ctx);
            cnio__fab_leave(c->fab);
        }
    while ((n = ofi_held(c, 1)) != 0) {
        if (n == ofi_byes_held(c) && cnio__now_ms() >= bye_by)
            return -1;
        if (ofi_cq_drain(tp) || cnio__now_ms() >= deadline)
            return -1;
    }
    return 0;
}

/*
 * Closes endpoint f now, while every buffer its provider was given is still the
 * caller's: at fi_close libfabric lets go of all of them (sent as far as the socket
 * takes them, or cancelled). Without this, a send the peer never took (a stopped
 * server) stays with the provider after its call returned, and goes out from the
 * caller's freed memory when the endpoint is next progressed or closed. Every
 * connection loses its operations on f, and those whose endpoint f is fail with
 * -CNIO_ERR_CONN (the stack's ep is killed at its next poll). If connections started
 * on f, a fresh endpoint takes its place; f's slot is reused once no connection refers
 * to it.
 */
static void ofi_retire(struct ofi_tp *tp, struct cnio_fab *f)
{
    int fi, lost = 0;

    for (fi = 0; tp->feps[fi] != f; fi++)
        ;
    for (int id = 1; id < OFI_MAX_CONNS; id++) {
        struct ofi_conn *c = tp->conns[id];

        if (!c)
            continue;
        for (int t = 0; t < OFI_HELLO_TRIES; t++)
            if (c->fepi[t] == fi)
                c->hello[t].posted = c->chal[t].posted = c->bye[t].posted = 0;
        if (c->fab != f)
            continue;
        for (int i = 0; i < OFI_SLOTS; i++)
            c->send[i].posted = c->recv[i].posted = 0;
        if (!c->dead)
            c->dead = -CNIO_ERR_CONN;
        lost++;
    }
    cnio__warn("libfabric %s: closing an endpoint whose provider kept a peer's operations "
               "past %d ms (%d connection%s on it fail)", tp->prov_used, OFI_CLOSE_MS, lost,
               lost == 1 ? "" : "s");
    cnio__fab_close(f);
    f->dead = -CNIO_ERR_CONN;
    if (f == tp->fab) {
        int n = ofi_fep_add(tp, getenv("CNIO_OFI_SOURCE"));

        if (n >= 0) {
            tp->start = n;
            tp->fab = tp->feps[n];
        }
    }
}

/* 1 when the provider holds a send or receive of c (the caller's buffers) on its
 * current endpoint, alive. */
static int ofi_holds_frames(const struct ofi_conn *c)
{
    if (c->fab->dead)
        return 0;
    for (int i = 0; i < OFI_SLOTS; i++)
        if (c->send[i].posted || c->recv[i].posted)
            return 1;
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
        ofi_bye(c, c->try, c->sid);
    if (c->fab->dead && ofi_held(c, 0)) {
        /* Its endpoint has a dead peer and is never progressed again: the provider keeps
         * what it was given until the endpoint closes; so does c (freed with it). */
        return;
    }
    if (ofi_quiesce(c) && ofi_holds_frames(c))
        ofi_retire(tp, c->fab);
    if (ofi_held(c, 0)) {
        /* A HELLO or CHALLENGE of an earlier try, on another endpoint, into c's own
         * memory, or a BYE the server has not acknowledged: leave c (and its id) to that
         * endpoint. */
        if (ofi_held(c, 0) == ofi_byes_held(c))
            cnio__info("libfabric %s: a BYE not acknowledged within %d ms", tp->prov_used,
                       ofi_bye_ms(tp));
        else
            cnio__warn("libfabric %s: a connection's handshake did not finish within %d ms",
                       tp->prov_used, OFI_CLOSE_MS);
        return;
    }
    for (int t = 0; t < OFI_HELLO_TRIES; t++)
        if (c->tpeer[t] != FI_ADDR_UNSPEC)
            cnio__fab_av_put(tp->feps[c->fepi[t]], c->tpeer[t]);
    tp->conns[c->id] = NULL;
    free(c);
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
    if ((r->posted || r->queued) && r->id != f->id)
        return 0;
    /* a send takes the server's region lock (fab_live.c) */
    if ((ret = cnio__fab_live(c->fab)) != 0)
        return c->dead = (int)ret;
    if (!(r->posted || r->queued)) {
        cnio__fab_enter(c->fab);
        ret = fi_trecvv(ep, riov, NULL, f->rcap ? 2 : 1, c->peer,
                        cnio__fab_reply_tag(c->id, f->id), 0, &r->ctx);
        cnio__fab_leave(c->fab);
        if (ret == -FI_EAGAIN)
            return ofi_cq_drain(c->tp) ? -CNIO_ERR_CONN : 0;
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
        if (op->try != c->try)
            return 0;
        if (!op->status)
            c->delivered_ms = cnio__now_ms();
        return op->status;
    case OFI_CHAL:
        if (op->try != c->try) {
            /* an earlier HELLO's, late: that connection is not wanted */
            const uint8_t *b = c->chalbuf[op->try];
            uint32_t sid = op->len >= CNIO_WIRE_HDR_SIZE ? (uint32_t)cnio__get_le64(b + 32) : 0;

            if (!op->status && sid)
                ofi_bye(c, op->try, sid);
            return 0;
        }
        if (op->status)
            return op->status;
        if (op->len < CNIO_WIRE_HDR_SIZE)
            return -CNIO_ERR_PROTO;
        c->sid = (uint32_t)cnio__get_le64(c->chalbuf[c->try] + 32);
        *ev = (struct cnio_tp_event){ .kind = CNIO_TP_RECEIVED, .id = 0,
                                      .hdr = c->chalbuf[c->try],
                                      .payload = c->chalbuf[c->try] + CNIO_WIRE_HDR_SIZE,
                                      .len = op->len };
        /* a refusal (status set: -LIMIT) has no id; the stack reports its status */
        return c->sid || cnio__get_le32(c->chalbuf[c->try] + 12) ? 1 : -CNIO_ERR_PROTO;
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
    int n = 0, ret = ofi_cq_drain(c->tp);

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
    if (!n && !c->sid && c->delivered_ms && c->try + 1 < OFI_HELLO_TRIES &&
        cnio__now_ms() - c->delivered_ms >= OFI_PROBE_MS) {
        ret = ofi_hello_again(c);
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
        free(tp->conns[i]);   /* only those left behind by ofi_close */
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
