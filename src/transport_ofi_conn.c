/*
 * transport_ofi_conn.c - the life of a connection of the "ofi" and "udp" transports
 * (transport_ofi.c): its handshake (HELLO, CHALLENGE, and the HELLO sent again), its
 * BYE, and its close.
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
 * a port of CNIO_OFI_SOURCE's outlives its stack instead (ofi_kept_list in
 * transport_ofi.c): within a process that port is never bound twice.
 *
 * Closing a connection cancels its posted receives and waits (at most OFI_CLOSE_MS)
 * until the provider has let go of every buffer it was given.
 */
#include "cnio_config.h"
#include "common.h"
#include "fab_msg.h"
#include "fabric.h"
#include "log.h"
#include "net.h"
#include "transport.h"
#include "transport_ofi_int.h"
#include "wire.h"

#include <rdma/fabric.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_tagged.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*
 * Sleeps *nap_us and doubles it, up to OFI_NAP_MAX_US: the pause of a wait that polls
 * the provider (which progresses only when called) until something moves. Without it a
 * HELLO to a server's old fabric address (one restarted: its provider picked a new
 * port) spun a core for all of cnio_timeout_ms: tcp;ofi_rxm refuses the send with
 * FI_EAGAIN while it connects, and its connect was refused at once, about 1,200 times a
 * second. As the stack's own naps (stk_nap in stack.c), never shorter for long.
 */
static void ofi_nap(long *nap_us)
{
    struct timespec ts = { 0, *nap_us * 1000L };

    nanosleep(&ts, NULL);
    *nap_us = CNIO_MIN(*nap_us * 2, OFI_NAP_MAX_US);
}

int cnio__ofi_watch(struct ofi_conn *c)
{
    int ret;

    if (c->probe_fd < 0 && (!c->sid || !cnio__ofi_holds_frames(c) ||
                            cnio__now_ms() - c->moved_ms < OFI_LOST_PROBE_MS))
        return 0;
    ret = cnio__ofi_probe(c, &c->probe_fd);
    if (ret == 1)
        return 0;
    c->moved_ms = cnio__now_ms();
    if (ret)
        cnio__debug("libfabric %s: no completion for %d ms, and its endpoint's port says: %s",
                    c->tp->prov_used, OFI_LOST_PROBE_MS, cnio_strerror(ret));
    return ret ? -CNIO_ERR_CONN : 0;
}

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

/* 1 when c's provider connects over kernel TCP sockets to c's address (tcp;ofi_rxm, tcp):
 * a TCP connect there meets what the provider's own connect meets. */
static int ofi_probeable(const struct ofi_conn *c)
{
    return strncmp(c->tp->prov_used, "tcp", 3) == 0 && c->addrlen <= sizeof(c->addr) &&
           (c->addr.ss_family == AF_INET || c->addr.ss_family == AF_INET6);
}

/*
 * One step of a TCP connect of our own to c's address (*fd: -1 before it starts, closed
 * and -1 again once it has answered): 1 while it is under way, 0 once connected
 * (something listens there) or when c's provider is not probeable, else what the kernel
 * said: -CNIO_ERR_REFUSED, -CNIO_ERR_UNREACH, ... tcp;ofi_rxm (libfabric 1.17) reads its
 * own connect's failure (ECONNREFUSED, EHOSTUNREACH, ENETUNREACH: fi_eq_readerr) on an
 * event queue of its own, drops the connection and connects again at the next send, and
 * tells its caller nothing but FI_EAGAIN; a peer lost mid-transfer leaves the sends it
 * was given without a completion. The probe asks the kernel what the provider was told.
 */
int cnio__ofi_probe(const struct ofi_conn *c, int *fd)
{
    struct cnio_addr a;
    int ret;

    if (*fd < 0) {
        if (!ofi_probeable(c))
            return 0;
        memcpy(&a.ss, &c->addr, c->addrlen);
        a.len = c->addrlen;
        ret = cnio__net_probe_start(&a, fd);
        if (ret)
            return ret == -CNIO_ERR_INVAL ? 0 : ret;
    }
    ret = cnio__net_probe_poll(*fd);
    if (ret == 1)
        return 1;
    close(*fd);
    *fd = -1;
    return ret;
}

static int ofi_post_hello(struct ofi_conn *c, int64_t deadline)
{
    struct ofi_op *op = &c->hello[c->try];
    long nap_us = OFI_NAP_US;
    int64_t since = cnio__now_ms();
    int probe = -1, probed = 0;
    ssize_t r;

    for (;;) {
        if ((r = cnio__fab_live(c->fab)) != 0)
            break;
        cnio__fab_enter(c->fab);
        r = fi_tsend(c->fab->ep, c->fab->name, c->fab->namelen, NULL, c->peer,
                     CNIO_FAB_TAG_HELLO | c->id, &op->ctx);
        cnio__fab_leave(c->fab);
        if (r != -FI_EAGAIN) {
            r = r ? cnio__fab_err((int)r) : 0;
            break;
        }
        /* HELLOs refused OFI_CONNECT_PROBE_MS: what refused them (cnio__ofi_probe) */
        if (!probed && cnio__now_ms() - since >= OFI_CONNECT_PROBE_MS &&
            (r = cnio__ofi_probe(c, &probe)) != 1) {
            probed = 1;   /* connected: the provider gets there, or the deadline comes */
            if (r)
                break;
        }
        if (cnio__now_ms() >= deadline) {
            r = -CNIO_ERR_TIMEOUT;
            break;
        }
        cnio__ofi_cq_drain(c->tp);
        ofi_nap(&nap_us);
    }
    if (probe >= 0)
        close(probe);
    if (r)
        return (int)r;
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
    c->probe_fd = -1;
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


int cnio__ofi_connect(struct cnio_tp *tpb, const struct cnio_peer *peer, struct cnio_conn **out)
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
        cnio__ofi_close(&c->base);
        return ret;
    }
    *out = &c->base;
    return 0;
}

/* The current HELLO was delivered OFI_PROBE_MS ago and no CHALLENGE came: sends it again
 * from the next endpoint (opened now if need be). 0, or a negative code. */
int cnio__ofi_hello_again(struct ofi_conn *c)
{
    struct ofi_tp *tp = c->tp;
    int next = c->fepi[c->try] + 1, ret;

    c->delivered_ms = 0;
    while (next < tp->nfeps && tp->feps[next]->dead)
        next++;
    if (next >= tp->nfeps && (next = cnio__ofi_fep_add(tp, NULL)) < 0)
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
void cnio__ofi_bye(struct ofi_conn *c, int t, uint32_t sid)
{
    struct cnio_fab *f = ofi_try_fab(c, t);
    struct ofi_op *op = &c->bye[t];
    int64_t deadline = cnio__now_ms() + ofi_bye_ms(c->tp);
    long nap_us = OFI_NAP_US;
    uint8_t nonce[CNIO_WIRE_NONCE];
    size_t len;
    ssize_t r;

    if (!f || op->posted || c->tpeer[t] == FI_ADDR_UNSPEC || cnio__fab_live_now(f))
        return;
    /* What proves the BYE ours to a server that cannot see its sender (fabric.h): the
     * session, which only the current try's connection can have, else the nonce of the
     * try's CHALLENGE. */
    len = cnio__fab_bye_encode(t == c->try ? c->session : 0,
                               cnio__fab_chal_nonce(c->chalbuf[t], c->chal[t].len, nonce)
                                   ? NULL : nonce,
                               c->byebuf[t]);
    if (!c->tp->pinned[c->fepi[t]]) {
        cnio__fab_enter(f);
        fi_tinject(f->ep, c->byebuf[t], len, c->tpeer[t], CNIO_FAB_TAG_BYE | sid);
        cnio__fab_leave(f);
        return;
    }
    for (;;) {
        cnio__fab_enter(f);
        r = fi_tsend(f->ep, c->byebuf[t], len, NULL, c->tpeer[t], CNIO_FAB_TAG_BYE | sid,
                     &op->ctx);
        cnio__fab_leave(f);
        if (r != -FI_EAGAIN || cnio__now_ms() >= deadline)
            break;
        cnio__ofi_cq_drain(c->tp);
        ofi_nap(&nap_us);
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
    long nap_us = OFI_NAP_US;
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
        /* A pass that completed nothing naps (ofi_nap), from OFI_NAP_US again after one
         * that did. A close that waits for an acknowledgement neither spins a core for up
         * to OFI_CLOSE_MS nor wakes thousands of times a second (check_client's
         * waiting_sleeps: such wake-ups starved kernel workers). */
        if (n == ofi_byes_held(c) && cnio__now_ms() >= bye_by)
            return -1;
        if (cnio__ofi_cq_drain(tp) || cnio__now_ms() >= deadline)
            return -1;
        if (ofi_held(c, 1) == n)
            ofi_nap(&nap_us);
        else
            nap_us = OFI_NAP_US;
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
        int n = cnio__ofi_fep_add(tp, getenv("CNIO_OFI_SOURCE"));

        if (n >= 0) {
            tp->start = n;
            tp->fab = tp->feps[n];
        }
    }
}

int cnio__ofi_holds_frames(const struct ofi_conn *c)
{
    if (c->fab->dead)
        return 0;
    for (int i = 0; i < OFI_SLOTS; i++)
        if (c->send[i].posted || c->recv[i].posted)
            return 1;
    return 0;
}

void cnio__ofi_close(struct cnio_conn *conn)
{
    struct ofi_conn *c = (struct ofi_conn *)conn;
    struct ofi_tp *tp;

    if (!c)
        return;
    tp = c->tp;
    if (c->probe_fd >= 0) {
        close(c->probe_fd);
        c->probe_fd = -1;
    }
    if (c->sid && c->peer != FI_ADDR_UNSPEC)
        cnio__ofi_bye(c, c->try, c->sid);
    if (c->fab->dead && ofi_held(c, 0)) {
        /* Its endpoint has a dead peer and is never progressed again: the provider keeps
         * what it was given until the endpoint closes; so does c (freed with it). */
        return;
    }
    if (ofi_quiesce(c) && cnio__ofi_holds_frames(c))
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
