/*
 * fabric.c - cnio-server's libfabric endpoints (--transport tcp,ofi,udp).
 *
 * Each endpoint (one per provider) is one RDM endpoint served by a thread of its own,
 * beside the TCP workers. Clients reach it at the address rank 0's proxy learnt with a
 * FABRIC request on its TCP control connection. The conversation is the TCP one, frame
 * for frame (src/fabric.h has the tags): a HELLO makes a connection (struct
 * cnio_srv_conn without fd, conn.c) whose CHALLENGE goes back at once; it must then
 * AUTH with the key or a token exactly as on TCP before any other frame is handled,
 * and every later frame must carry the session id it was given. A BYE that proves
 * itself its client's, the authentication deadline or --idle-timeout ends it; until it
 * authenticates it counts in --max-unauth as a TCP connection does (limits.c), and may
 * be evicted so. A message that names a connection but is not its client's (fab_foreign)
 * is dropped and leaves it be.
 *
 * Requests arrive whole in receive buffers posted in advance (FAB_NRX of them, each a
 * header and CNIO_FAB_MAX_PAYLOAD, the largest payload the CHALLENGE announces, which
 * also grants the requests in flight per connection) and are
 * handled at once by the request handlers shared with TCP; a buffer is posted again as
 * soon as its frame is handled. Replies go out as one message each from where conn.c
 * put them (READ data from the object's mapping), returned to the connection when the
 * provider reports them sent.
 */
#include "cnio_config.h"
#include "server.h"
#include "fab_msg.h"
#include "fabric.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FAB_SPINS 200        /* empty polls before the thread starts sleeping */
#define FAB_SLEEP_US 200     /* its first nap; each further empty poll doubles it ... */
#define FAB_SLEEP_MAX_US 2000 /* ... up to this: see fab_thread */

/* The nap after `idle` empty polls in a row: none while spinning, then FAB_SLEEP_US
 * doubling up to FAB_SLEEP_MAX_US. */
unsigned cnio__srv_fab_nap_us(unsigned idle)
{
    unsigned us = FAB_SLEEP_US;

    if (idle <= FAB_SPINS)
        return 0;
    for (unsigned i = FAB_SPINS + 1; i < idle && us < FAB_SLEEP_MAX_US; i++)
        us *= 2;
    return us < FAB_SLEEP_MAX_US ? us : FAB_SLEEP_MAX_US;
}

#ifdef HAVE_LIBFABRIC

#include <rdma/fabric.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_tagged.h>

#include "fabric_dl.h"

/* Receive buffers posted, and the credits each connection gets. Over shm FAB_NRX /
 * FAB_CREDITS_SHM lanes can have every request in flight without one arriving before its
 * buffer, which shm's segmented copy in libfabric 1.17 does not always recover from;
 * the other providers queue such messages and get TCP's credits. */
#define FAB_NRX 48
#define FAB_CREDITS_SHM 4
#define FAB_MAX_PEERS 4096
#define FAB_BATCH 32
#define FAB_TICK_MS 200

struct fab_peer;

enum fab_op_kind { FAB_RX, FAB_TX };

struct fab_op {
    struct fi_context2 ctx;     /* first */
    enum fab_op_kind kind;
    struct fab_peer *p;         /* FAB_TX */
    struct cnio_srv_out *o;     /* FAB_TX */
    uint8_t *buf;               /* FAB_RX */
};

struct fab_peer {
    struct cnio_srv_conn *c;
    fi_addr_t addr;
    uint16_t cid;               /* the client's id for this connection */
    uint32_t id;                /* ours: slot | generation << 16 */
    int pending;                /* replies the provider holds */
    int64_t tx_ms;              /* when the provider last took or returned one of them */
    int closing;
    struct cnio_srv_out *wait_head, *wait_tail;   /* replies not yet posted */
};

struct cnio_srv_fab {
    struct cnio_srv *srv;
    struct cnio_fab fab;
    pthread_t thread;
    int started;
    atomic_int stop;
    struct fab_op rx[FAB_NRX];
    struct fab_peer *peers[FAB_MAX_PEERS];
    uint16_t gen;
    int nwaiting;               /* peers with replies not yet posted */
    uint64_t foreign;           /* BYEs and frames dropped as not their client's */
    int64_t foreign_ms;         /* when one was last logged */
};

/* ---- peers ------------------------------------------------------------------------ */

static void fab_peer_free(struct cnio_srv_fab *f, struct fab_peer *p)
{
    while (p->wait_head) {
        struct cnio_srv_out *o = p->wait_head;

        p->wait_head = o->next;
        cnio__srv_conn_sent(p->c, o);
    }
    cnio__srv_conn_free(p->c);
    cnio__fab_av_put(&f->fab, p->addr);
    f->peers[p->id & 0xffff] = NULL;
    free(p);
}

/* Ends p now, or once the provider has let go of its replies. */
static void fab_peer_close(struct cnio_srv_fab *f, struct fab_peer *p)
{
    p->closing = 1;
    if (!p->pending)
        fab_peer_free(f, p);
}

static struct fab_peer *fab_peer_find(struct cnio_srv_fab *f, uint64_t tag)
{
    uint32_t id = (uint32_t)(tag & CNIO_FAB_TAG_ID);
    struct fab_peer *p = f->peers[id & 0xffff];

    return p && p->id == id && !p->closing ? p : NULL;
}

/*
 * Who may speak for p (src/fabric.h). Its id is no secret: any peer of the endpoint
 * learns how ids are made by HELLOing itself. Nor can the endpoint say who sent a
 * message: of the providers that offer FI_SOURCE, udp;ofi_rxd (libfabric 1.17) reported
 * source 0 for every sender, and shm source 0 for a sender not yet in the address
 * vector, which is whichever peer came first (measured; tcp;ofi_rxm has no FI_SOURCE).
 * So what a message carries tells: a BYE naming p must carry p's session id, or before
 * AUTH the nonce of p's CHALLENGE (sent to p's address alone); a frame that does not
 * carry p's session (before AUTH: one that is not an AUTH, or is malformed) is dropped
 * instead of failing p. A message dropped so is counted and logged (at most once a
 * second: a flood must not flood the log), and p goes on as if it had never come.
 */
static void fab_foreign(struct cnio_srv_fab *f, struct fab_peer *p, const char *what)
{
    int64_t now = cnio__now_ms();

    f->foreign++;
    if (f->foreign > 1 && now - f->foreign_ms < 1000)
        return;
    f->foreign_ms = now;
    cnio__info("%s: a %s naming it without its session id (or CHALLENGE nonce), dropped "
               "(%llu so far)", p->c->peer, what, (unsigned long long)f->foreign);
}

/* 1 when the n bytes at a and b are equal, in a time that does not tell where they
 * differ. */
static int fab_same(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint8_t d = 0;

    for (size_t i = 0; i < n; i++)
        d |= a[i] ^ b[i];
    return d == 0;
}

/* A BYE naming p (msg, len: its payload): 1 when it proves itself p's client's, by p's
 * session (once p has one) or by the nonce of p's CHALLENGE (a client that closes right
 * after AUTH, before a frame told its transport the session, has only that). An old
 * client's empty BYE proves nothing: p then ends at its authentication deadline (or by
 * --max-unauth), or at --idle-timeout, as a TCP connection whose client went silent
 * would. */
static int fab_bye_ours(const struct fab_peer *p, const uint8_t *msg, size_t len)
{
    const struct cnio_srv_conn *c = p->c;
    struct cnio_fab_bye bye;

    if (cnio__fab_bye_parse(msg, len, &bye))
        return 0;
    if (bye.session)
        return c->state == CNIO_SRV_C_READY && bye.session == c->session;
    return bye.nonce && fab_same(bye.nonce, c->nonce, CNIO_WIRE_NONCE);
}

/* A frame naming p, decoded (ret: cnio__fab_msg_decode's) into h: 1 when p's own client
 * may have sent it, so that what is wrong with it is p's fault. */
static int fab_frame_ours(const struct fab_peer *p, int ret, const struct cnio_wire_hdr *h)
{
    if (ret)
        return 0;
    if (p->c->state == CNIO_SRV_C_READY)
        return h->session == p->c->session;
    return h->type == CNIO_WIRE_AUTH;
}

/* Posts p's queued replies: 0, or -1 when p failed. */
static int fab_flush(struct cnio_srv_fab *f, struct fab_peer *p)
{
    struct cnio_srv_out *o;

    while ((o = cnio__srv_conn_take(p->c))) {
        if (p->wait_tail)
            p->wait_tail->next = o;
        else
            p->wait_head = o;
        p->wait_tail = o;
    }
    while ((o = p->wait_head)) {
        struct iovec iov[2] = { { o->hdr, CNIO_WIRE_HDR_SIZE }, { (void *)o->data, o->len } };
        uint64_t tag = cnio__fab_reply_tag(p->cid, cnio__get_le64(o->hdr + 16));
        struct fab_op *op = calloc(1, sizeof(*op));
        ssize_t r;

        if (!op)
            return -1;
        op->kind = FAB_TX;
        op->p = p;
        op->o = o;
        r = fi_tsendv(f->fab.ep, iov, NULL, o->len ? 2 : 1, p->addr, tag, &op->ctx);
        if (r) {
            free(op);
            if (r == -FI_EAGAIN)
                return 0;
            cnio__info("%s: fabric send: %s", p->c->peer, fi_strerror((int)-r));
            return -1;
        }
        p->wait_head = o->next;
        if (!p->wait_head)
            p->wait_tail = NULL;
        o->next = NULL;
        p->pending++;
        p->tx_ms = cnio__now_ms();
    }
    return 0;
}

static void fab_after(struct cnio_srv_fab *f, struct fab_peer *p)
{
    if (fab_flush(f, p) || (p->c->closing && !p->wait_head && !p->c->oq_head))
        fab_peer_close(f, p);
}

/* Closes the peers --max-unauth evicted (marked by whichever thread admitted a newer
 * connection); this thread's own HELLOs reap at once, so a flood never holds more. */
static void fab_reap(struct cnio_srv_fab *f)
{
    for (int i = 1; i < FAB_MAX_PEERS; i++) {
        struct fab_peer *p = f->peers[i];

        if (p && !p->closing && p->c->state == CNIO_SRV_C_AUTH && atomic_load(&p->c->evicted)) {
            cnio__debug("%s: evicted (--max-unauth), closing", p->c->peer);
            fab_peer_close(f, p);
        }
    }
}

/* Tells a client whose HELLO is refused: a CHALLENGE with status -LIMIT, as over TCP. */
static void fab_refuse(struct cnio_srv_fab *f, uint64_t tag, const uint8_t *addr, size_t len)
{
    struct cnio_wire_hdr h = { .type = CNIO_WIRE_CHALLENGE, .status = -CNIO_ERR_LIMIT };
    uint8_t hdr[CNIO_WIRE_HDR_SIZE];
    uint64_t a;

    cnio__info("fabric %s: connection refused (--max-conns)", f->fab.prov);
    if (cnio__fab_av_get(&f->fab, addr, len, &a))
        return;
    cnio__wire_hdr_encode(&h, hdr);
    fi_tinject(f->fab.ep, hdr, sizeof(hdr), a, cnio__fab_reply_tag((uint16_t)(tag & 0xffff), 0));
    cnio__fab_av_put(&f->fab, a);
}

/* A HELLO: a new connection from the client at the address in msg (len bytes). */
static void fab_hello(struct cnio_srv_fab *f, uint64_t tag, const uint8_t *msg, size_t len)
{
    struct cnio_srv *srv = f->srv;
    struct cnio_fab_hello hello;
    struct fab_peer *p;
    char name[64];
    int slot = -1;

    if (cnio__fab_hello_parse(msg, len, &hello)) {
        cnio__info("fabric %s: a HELLO without a usable address", f->fab.prov);
        return;
    }
    for (int i = 1; i < FAB_MAX_PEERS && slot < 0; i++)
        if (!f->peers[i])
            slot = i;
    if (slot < 0 || atomic_load(&srv->nconns) >= srv->opts.max_conns) {
        fab_refuse(f, tag, hello.addr, hello.len);
        return;
    }
    p = calloc(1, sizeof(*p));
    if (!p)
        return;
    if (cnio__fab_av_get(&f->fab, hello.addr, hello.len, &p->addr)) {
        cnio__info("fabric %s: a HELLO with an unusable address", f->fab.prov);
        free(p);
        return;
    }
    p->cid = (uint16_t)(tag & 0xffff);
    p->id = (uint32_t)slot | ((uint32_t)++f->gen << 16);
    if (!p->id)
        p->id = (uint32_t)slot | (1u << 16);
    if (hello.ip.len) {
        char where[64];

        snprintf(name, sizeof(name), "%s %s", f->fab.prov,
                 cnio__net_ntop(&hello.ip, where, sizeof(where)));
    } else {
        snprintf(name, sizeof(name), "%s peer %u", f->fab.prov, p->id);
    }
    if (cnio__srv_conn_new_msg(srv, name, p->id, CNIO_FAB_MAX_PAYLOAD,
                               strstr(f->fab.prov, "shm") ? FAB_CREDITS_SHM : CNIO_SRV_CREDITS,
                               &p->c)) {
        cnio__fab_av_put(&f->fab, p->addr);
        free(p);
        return;
    }
    f->peers[slot] = p;
    /* Until it authenticates it holds what a TCP connection does: --max-unauth counts it
     * (non-IP peers, shm's, count as one source address). */
    p->c->addr = hello.ip;
    p->c->seq = atomic_fetch_add(&srv->accepted, 1);
    cnio__srv_unauth_add(p->c);
    fab_after(f, p);
    fab_reap(f);
}

/* A frame naming an existing connection: handled as p's only when it carries what
 * p's client alone knows (fab_frame_ours); a bad one of those fails p, as on TCP. */
static void fab_frame(struct cnio_srv_fab *f, struct fab_peer *p, const uint8_t *buf, size_t len)
{
    struct cnio_wire_hdr h;
    int ret = cnio__fab_msg_decode(buf, len, CNIO_FAB_MAX_PAYLOAD, &h);

    if (!fab_frame_ours(p, ret, &h)) {
        fab_foreign(f, p, "frame");
        return;
    }
    if (cnio__srv_conn_msg(p->c, &h, buf + CNIO_WIRE_HDR_SIZE)) {
        fab_peer_close(f, p);
        return;
    }
    fab_after(f, p);
}

/* ---- the thread ---------------------------------------------------------------------- */

static int fab_post_rx(struct cnio_srv_fab *f, struct fab_op *op)
{
    ssize_t r = -FI_EAGAIN;

    for (int tries = 0; r == -FI_EAGAIN && tries < 1000; tries++) {
        r = fi_trecv(f->fab.ep, op->buf, CNIO_WIRE_HDR_SIZE + CNIO_FAB_MAX_PAYLOAD, NULL,
                     FI_ADDR_UNSPEC, 0, ~0ull, &op->ctx);
        if (r == -FI_EAGAIN)
            fi_cq_read(f->fab.cq, NULL, 0);
    }
    return r ? -1 : 0;
}

static void fab_received(struct cnio_srv_fab *f, struct fab_op *op, uint64_t tag, size_t len)
{
    struct fab_peer *p;

    if (tag & CNIO_FAB_TAG_HELLO) {
        fab_hello(f, tag, op->buf, len);
    } else if (tag & CNIO_FAB_TAG_BYE) {
        if ((p = fab_peer_find(f, tag))) {
            if (fab_bye_ours(p, op->buf, len))
                fab_peer_close(f, p);
            else
                fab_foreign(f, p, "BYE");
        }
    } else if ((p = fab_peer_find(f, tag))) {
        fab_frame(f, p, op->buf, len);
    }
    if (fab_post_rx(f, op))
        cnio__warn("fabric %s: cannot post a receive buffer", f->fab.prov);
}

static void fab_sent(struct cnio_srv_fab *f, struct fab_op *op, int err)
{
    struct fab_peer *p = op->p;

    cnio__srv_conn_sent(p->c, op->o);
    free(op);
    p->pending--;
    p->tx_ms = cnio__now_ms();
    if (err && !p->closing) {
        cnio__info("%s: fabric send failed: %s", p->c->peer, fi_strerror(err));
        p->closing = 1;
    }
    if (p->closing && !p->pending)
        fab_peer_free(f, p);
}

/* Handles what completed: how many. */
static int fab_poll(struct cnio_srv_fab *f)
{
    struct fi_cq_tagged_entry e[FAB_BATCH];
    ssize_t n = fi_cq_read(f->fab.cq, e, FAB_BATCH);

    if (n == -FI_EAVAIL) {
        struct fi_cq_err_entry err = { 0 };
        struct fab_op *op;

        if (fi_cq_readerr(f->fab.cq, &err, 0) != 1 || !(op = err.op_context))
            return 0;
        if (op->kind == FAB_TX)
            fab_sent(f, op, err.err ? err.err : FI_EIO);
        else if (!atomic_load(&f->stop) && fab_post_rx(f, op))
            cnio__warn("fabric %s: cannot post a receive buffer", f->fab.prov);
        return 1;
    }
    if (n <= 0)
        return 0;
    for (ssize_t i = 0; i < n; i++) {
        struct fab_op *op = e[i].op_context;

        if (op->kind == FAB_TX)
            fab_sent(f, op, 0);
        else
            fab_received(f, op, e[i].tag, e[i].len);
    }
    return (int)n;
}

/*
 * 1 when p has been idle for --idle-timeout: no request for that long, and no reply
 * that the provider holds, or none that moved for that long. A reliable provider holds
 * a reply until the client's provider acknowledges it, which that does only while its
 * process calls it: udp;ofi_rxd's acknowledgement of a reply, lost on the way (a full
 * socket buffer, on loopback too), is sent again only when the client next calls, and
 * a client computing meanwhile held the connection, whatever the timeout (all of the 4
 * minutes watched: rxd's retries did not end it). Reply bytes in a TCP socket's buffer do
 * not keep a TCP connection either. Closing does not cancel the reply: p is freed once
 * the provider lets go of it (fab_sent), at the client's next call.
 */
static int fab_idle(const struct fab_peer *p, uint32_t idle, int64_t now)
{
    int64_t ms = (int64_t)idle * 1000;

    return p->c->state == CNIO_SRV_C_READY && idle && now - p->c->last_active >= ms &&
           (!p->pending || now - p->tx_ms >= ms);
}

/* Eviction (--max-unauth), authentication deadline, --idle-timeout, replies the provider
 * could not take yet. */
static void fab_tick(struct cnio_srv_fab *f, int64_t now)
{
    uint32_t idle = f->srv->opts.idle_timeout_s;

    fab_reap(f);
    for (int i = 1; i < FAB_MAX_PEERS; i++) {
        struct fab_peer *p = f->peers[i];
        struct cnio_srv_conn *c;

        if (!p || p->closing)
            continue;
        c = p->c;
        if (c->state == CNIO_SRV_C_AUTH && now >= c->auth_deadline) {
            cnio__info("%s: no AUTH within %d s, closing", c->peer,
                       CNIO_SRV_AUTH_TIMEOUT_MS / 1000);
            fab_peer_close(f, p);
        } else if (fab_idle(p, idle, now)) {
            if (p->pending)
                cnio__info("%s: idle for %u s (--idle-timeout), closing: %d %s not "
                           "acknowledged by the client for as long", c->peer, idle,
                           p->pending, p->pending == 1 ? "reply" : "replies");
            else
                cnio__info("%s: idle for %u s (--idle-timeout), closing", c->peer, idle);
            fab_peer_close(f, p);
        } else if (p->wait_head) {
            fab_after(f, p);
        }
    }
}

/*
 * Progress is manual, so the thread polls; while nothing arrives it naps, longer and
 * longer up to FAB_SLEEP_MAX_US, and a completion brings it back to spinning. An idle
 * endpoint must not wake thousands of times a second: on a few cores, threads that nap
 * for a fraction of a millisecond beside processes that spin in sched_yield (Open MPI's
 * ranks waiting in a collective, oversubscribed) starve the kernel's own workers, and
 * then every write, rename and fsync of the host stalls for tens of seconds (measured:
 * four 200 us nappers and four yielders on 2 cores, a 4 KiB write + fsync took 38 s;
 * with 2 ms naps, 0.05 s). A server whose metadata writes stall answers CLOSE and COMMIT
 * after its clients have given up.
 */
static void *fab_thread(void *arg)
{
    struct cnio_srv_fab *f = arg;
    int64_t next_tick = cnio__now_ms() + FAB_TICK_MS;
    unsigned idle = 0;

    while (!atomic_load(&f->stop)) {
        int64_t now;
        unsigned us;

        if (fab_poll(f)) {
            idle = 0;
        } else if ((us = cnio__srv_fab_nap_us(++idle)) > 0) {
            struct timespec ts = { 0, (long)us * 1000L };

            nanosleep(&ts, NULL);
        }
        now = cnio__now_ms();
        if (now >= next_tick) {
            fab_tick(f, now);
            next_tick = now + FAB_TICK_MS;
        }
    }
    return NULL;
}

/* ---- start and stop --------------------------------------------------------------------- */

/* The host part of --listen ADDR:PORT when it names one address, else NULL. */
static const char *fab_node(const char *listen, char *buf, size_t cap)
{
    const char *colon = strrchr(listen, ':');
    size_t n = colon ? (size_t)(colon - listen) : 0;

    if (n == 0 || n >= cap || listen[0] == '[')
        return NULL;
    memcpy(buf, listen, n);
    buf[n] = '\0';
    return strcmp(buf, "0.0.0.0") ? buf : NULL;
}

static int fab_open_one(struct cnio_srv *srv, const char *prov, struct cnio_srv_fab *f)
{
    char nodebuf[64];
    const char *node = strstr(prov, "shm") ? NULL : fab_node(srv->opts.listen, nodebuf,
                                                              sizeof(nodebuf));
    int ret;

    f->srv = srv;
    atomic_init(&f->stop, 0);
    ret = cnio__fab_open(prov, node, &f->fab);
    if (ret) {
        cnio__err("cannot open libfabric provider %s: %s", *prov ? prov : "(best)",
                  cnio__srv_strerror(ret));
        return ret;
    }
    for (int i = 0; i < FAB_NRX; i++) {
        f->rx[i].kind = FAB_RX;
        f->rx[i].buf = malloc(CNIO_WIRE_HDR_SIZE + CNIO_FAB_MAX_PAYLOAD);
        if (!f->rx[i].buf || fab_post_rx(f, &f->rx[i])) {
            cnio__err("fabric %s: cannot post the receive buffers", f->fab.prov);
            return -CNIO_ERR_NOMEM;
        }
    }
    if (pthread_create(&f->thread, NULL, fab_thread, f))
        return -CNIO_ERR_NOMEM;
    f->started = 1;
    cnio__info("fabric endpoint %s ready", f->fab.prov);
    return 0;
}

/* The providers asked for: --ofi-provider's list (or the best one) and udp's. */
static int fab_names(const struct cnio_srv_opts *o, char names[][CNIO_FAB_PROV_MAX], int max)
{
    int n = 0;

    if (o->fab_ofi && !o->ofi_providers)
        names[n++][0] = '\0';
    for (const char *s = o->fab_ofi ? o->ofi_providers : NULL; s && *s && n < max;) {
        size_t len = strcspn(s, ",");

        if (len && len < CNIO_FAB_PROV_MAX) {
            memcpy(names[n], s, len);
            names[n++][len] = '\0';
        }
        s += len + (s[len] == ',');
    }
    if (o->fab_udp && n < max)
        snprintf(names[n++], CNIO_FAB_PROV_MAX, "%s", cnio__fab_provider("udp", NULL));
    return n;
}

int cnio__srv_fab_start(struct cnio_srv *srv)
{
    char names[8][CNIO_FAB_PROV_MAX];
    int n = fab_names(&srv->opts, names, 8);

    if (!n)
        return 0;
    srv->fabs = calloc((size_t)n, sizeof(*srv->fabs));
    if (!srv->fabs)
        return -CNIO_ERR_NOMEM;
    for (int i = 0; i < n; i++) {
        int ret = fab_open_one(srv, names[i], &srv->fabs[i]);

        srv->nfabs = i + 1;
        if (ret)
            return ret;
    }
    return 0;
}

void cnio__srv_fab_stop(struct cnio_srv *srv)
{
    for (int i = 0; i < srv->nfabs; i++) {
        struct cnio_srv_fab *f = &srv->fabs[i];

        if (f->started) {
            atomic_store(&f->stop, 1);
            pthread_join(f->thread, NULL);
        }
        for (int j = 1; j < FAB_MAX_PEERS; j++)
            if (f->peers[j]) {
                f->peers[j]->pending = 0;
                fab_peer_free(f, f->peers[j]);
            }
        cnio__fab_close(&f->fab);
        for (int j = 0; j < FAB_NRX; j++)
            free(f->rx[j].buf);
    }
    free(srv->fabs);
    srv->fabs = NULL;
    srv->nfabs = 0;
}

int cnio__srv_fab_lookup(struct cnio_srv *srv, const char *prov, const char **name,
                         const uint8_t **addr, size_t *addrlen)
{
    for (int i = 0; i < srv->nfabs; i++) {
        struct cnio_srv_fab *f = &srv->fabs[i];

        if (*prov ? strcmp(prov, f->fab.prov) == 0 : !strstr(f->fab.prov, "ofi_rxd")) {
            *name = f->fab.prov;
            *addr = f->fab.name;
            *addrlen = f->fab.namelen;
            return 0;
        }
    }
    return -CNIO_ERR_NOTSUP;
}

#else /* !HAVE_LIBFABRIC */

int cnio__srv_fab_start(struct cnio_srv *srv)
{
    if (!srv->opts.fab_ofi && !srv->opts.fab_udp)
        return 0;
    cnio__err("this cnio-server was built without libfabric: no ofi or udp transport");
    return -CNIO_ERR_NOTSUP;
}

void cnio__srv_fab_stop(struct cnio_srv *srv)
{
}

int cnio__srv_fab_lookup(struct cnio_srv *srv, const char *prov, const char **name,
                         const uint8_t **addr, size_t *addrlen)
{
    return -CNIO_ERR_NOTSUP;
}

#endif
