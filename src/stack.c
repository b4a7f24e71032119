/*
 * stack.c - the per-process protocol stack: endpoints, request pool, progress engine.
 *
 * The engine is level-triggered epoll over every endpoint's connection. Each endpoint
 * has a send queue (frames not yet fully written: a 64-byte header from the request
 * slot, then the payload straight from the caller's memory, gathered into one sendmsg
 * for many frames) and a receive state machine (header into the endpoint's buffer,
 * then the payload straight into the request's reply buffer, together with the next
 * header in the same readv). A request completes when it is fully sent and its reply
 * fully received, so no caller memory is touched after its done callback.
 */
#include "common.h"
#include "auth.h"
#include "log.h"
#include "net.h"
#include "stack.h"
#include "stack_int.h"
#include "transport.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define STK_SLAB 64          /* request slots per pool allocation */
#define STK_MAX_TPS 8        /* transports one stack may use */
#define STK_IOV 64           /* iovecs per sendmsg */
#define STK_EVENTS 64        /* epoll events per wait */
#define STK_POLL_MS 2        /* longest wake-up interval for endpoints without an fd */
#define STK_POLL_US 100      /* ... the shortest: fabrics progress when polled (stk_nap) */
#define STK_POLL_MAX_US 2000

struct stk_slab {
    struct stk_slab *next;
    struct cnio_req reqs[STK_SLAB];
};

struct cnio_stack {
    int epfd;
    struct cnio_tp *tps[STK_MAX_TPS];
    int ntps;
    struct cnio_ep *eps;        /* every endpoint, open or dead */
    int nofd;                   /* endpoints polled without an fd */
    int polling;                /* one of them has work outstanding */
    int moved;                  /* one of them reported a completion since the last wait */
    long nap_us;                /* how long the next wait for them lasts (stk_nap) */
    int corked;                 /* cnio__stack_cork */
    struct cnio_req *free_reqs;
    struct stk_slab *slabs;
    const char *gone_advice;    /* cnio__stack_set_advice; NULL: the defaults */
    const char *finish_advice;
    cnio_stack_keep_fn *keep;   /* cnio__stack_hush */
    void *keep_arg;
    char stall_name[80];        /* the last connect that held the process 1 s or more: */
    char stall_hp[CNIO_HOSTPORT_MAX];   /* its endpoint's name, its host:port, and when */
    int64_t stall_from, stall_to;   /* (cnio__now_ms; cnio__stack_stall_note) */
};

/* ---- stack and pool ---------------------------------------------------------------- */

int cnio__stack_open(struct cnio_stack **out)
{
    struct cnio_stack *st = calloc(1, sizeof(*st));

    if (!st)
        return -CNIO_ERR_NOMEM;
    st->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (st->epfd < 0) {
        free(st);
        return -CNIO_ERR_IO;
    }
    *out = st;
    return 0;
}

void cnio__stack_set_advice(struct cnio_stack *st, const char *gone, const char *finish)
{
    st->gone_advice = gone;
    st->finish_advice = finish;
}

const char *cnio__stack_gone_advice(const struct cnio_stack *st)
{
    return st->gone_advice ? st->gone_advice : "open the file again";
}

const char *cnio__stack_finish_advice(const struct cnio_stack *st)
{
    return st->finish_advice ? st->finish_advice : "`cnio cp --resume` finishes it";
}

const char *cnio__stack_stall_note(const struct cnio_stack *st, int64_t since_ms,
                                   const char *hostport, char *buf, size_t cap)
{
    if (cap)
        buf[0] = '\0';
    if (cap && st->stall_to >= since_ms && st->stall_name[0] &&
        strcmp(st->stall_hp, hostport ? hostport : ""))
        snprintf(buf, cap, ": meanwhile this process waited %.1f s for its connection to %s "
                 "to be answered, and answered no handshake (a server drops a connection "
                 "that has not authenticated within 10 s): that host, or the way to it, "
                 "was silent", (double)(st->stall_to - st->stall_from) / 1000.0,
                 st->stall_name);
    return buf;
}

void cnio__stack_hush(struct cnio_stack *st, cnio_stack_keep_fn *keep, void *arg)
{
    st->keep = keep;
    st->keep_arg = arg;
}

void cnio__stack_say_reason(struct cnio_stack *st, const struct cnio_ep *ep, int err,
                            const char *line)
{
    if (st->keep)
        st->keep(st->keep_arg, ep, err, line);
    else
        cnio__err("%s", line);
}

void cnio__stack_close(struct cnio_stack *st)
{
    if (!st)
        return;
    while (st->eps)
        cnio__ep_close(st->eps);
    for (int i = 0; i < st->ntps; i++)
        st->tps[i]->ops->fini(st->tps[i]);
    while (st->slabs) {
        struct stk_slab *s = st->slabs;

        st->slabs = s->next;
        free(s);
    }
    close(st->epfd);
    free(st);
}

struct cnio_req *cnio__req_get(struct cnio_stack *st)
{
    struct cnio_req *r;

    if (!st->free_reqs) {
        struct stk_slab *s = malloc(sizeof(*s));

        if (!s)
            return NULL;
        s->next = st->slabs;
        st->slabs = s;
        for (int i = 0; i < STK_SLAB; i++) {
            s->reqs[i].next = st->free_reqs;
            st->free_reqs = &s->reqs[i];
        }
    }
    r = st->free_reqs;
    st->free_reqs = r->next;
    memset(r, 0, offsetof(struct cnio_req, hdr));
    return r;
}

void cnio__req_put(struct cnio_stack *st, struct cnio_req *r)
{
    r->next = st->free_reqs;
    st->free_reqs = r;
}

static int stk_tp(struct cnio_stack *st, const struct cnio_hints *h, struct cnio_tp **out)
{
    int ret;

    for (int i = 0; i < st->ntps; i++)
        if (strcmp(st->tps[i]->ops->name, h->transport) == 0) {
            *out = st->tps[i];
            return 0;
        }
    if (st->ntps == STK_MAX_TPS)
        return -CNIO_ERR_NOTSUP;
    ret = cnio__transport_open(st, h->transport, h, &st->tps[st->ntps]);
    if (ret)
        return ret;
    *out = st->tps[st->ntps++];
    return 0;
}

/* ---- endpoint life ------------------------------------------------------------------ */

void cnio__ep_set_events(struct cnio_ep *ep, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = ep };

    if (ep->fd < 0 || ep->events == events)
        return;
    if (epoll_ctl(ep->st->epfd, EPOLL_CTL_MOD, ep->fd, &ev) == 0)
        ep->events = events;
}

int cnio__ep_watch(struct cnio_ep *ep, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = ep };

    if (ep->fd < 0) {
        ep->fd = -1;
        ep->st->nofd++;
    } else if (epoll_ctl(ep->st->epfd, EPOLL_CTL_ADD, ep->fd, &ev) < 0) {
        return -CNIO_ERR_IO;
    }
    ep->events = events;
    return 0;
}

void cnio__ep_drop_conn(struct cnio_ep *ep)
{
    if (ep->fd >= 0)
        epoll_ctl(ep->st->epfd, EPOLL_CTL_DEL, ep->fd, NULL);
    else if (ep->conn)
        ep->st->nofd--;
    if (ep->conn)   /* (none: a connect to the next address failed at once) */
        ep_ops(ep)->close(ep->conn);
    ep->conn = NULL;
    ep->fd = -1;
}

void cnio__ep_wipe_key(struct cnio_ep *ep)
{
    explicit_bzero(ep->key, sizeof(ep->key));
    ep->auth.k = NULL;
    ep->auth.klen = 0;
}

/* Completes r: leaves the in-flight table, runs done, returns to the pool. */
void cnio__ep_complete(struct cnio_ep *ep, struct cnio_req *r)
{
    unsigned idx = (unsigned)(r->reqid & 0xff);

    ep->inflight[idx] = NULL;
    ep->ninflight--;
    if (r->done)
        r->done(r);
    cnio__req_put(ep->st, r);
}

/* The endpoint dies with err: its connection closes, its requests fail with err. why
 * says what happened, when err alone would not. */
static void ep_kill_why(struct cnio_ep *ep, int err, const char *why)
{
    if (ep->state == EP_DEAD)
        return;
    if (why)
        cnio__warn("connection to %s closed: %s", ep->name, why);
    else if (ep->state == EP_CONNECTING && !ep->connected)   /* its owner says it */
        cnio__debug("connect to %s: %s", ep->name, cnio_strerror(err));
    else if (err == -CNIO_ERR_LIMIT && ep->state == EP_AUTH &&
             (ep->chal.caps & CNIO_WIRE_CAP_BUDGET))   /* the job's budget: tried again */
        cnio__debug("connection to %s: %s (the job's budget)", ep->name, cnio_strerror(err));
    else if (err == -CNIO_ERR_CONN && ep->ninflight && ep->state == EP_READY && !ep->chal.caps)
        /* every cnio-server since 2026-11-30 announces capabilities; one that announces
         * none and drops a request is older than this client's protocol */
        cnio__warn("connection to %s closed under a request by a server that announces no "
                   "capabilities: a cnio-server older than this client, which cannot take "
                   "its requests; upgrade it to this version", ep->name);
    else if (err == -CNIO_ERR_AUTH && ep->state == EP_AUTH &&
             ep->auth.mode == CNIO_WIRE_AUTH_TOKEN)
        /* the key is not in question; the caller says it, naming the object
         * (client_conn.c, client_revive.c) */
        cnio__debug("connection to %s: the server refused this open's token: it does not "
                    "know the open (it restarted, or the open was closed)", ep->name);
    /* (a wrong key is said by the connect that waits for the handshake: client.c) */
    else if ((err != -CNIO_ERR_CONN || ep->ninflight) && !ep->quiet && !ep->st->keep &&
             !(err == -CNIO_ERR_AUTH && ep->state == EP_AUTH))
        cnio__warn("connection to %s: %s", ep->name, cnio_strerror(err));
    ep->died_idle = ep->state == EP_READY && !ep->ninflight && !ep->sq_head &&
                    err == -CNIO_ERR_CONN;
    ep->state = EP_DEAD;
    ep->err = err;
    cnio__ep_drop_conn(ep);
    ep->sq_head = ep->sq_tail = NULL;
    ep->rx_payload = 0;
    ep->ra_len = 0;
    cnio__ep_wipe_key(ep);
    for (int i = 0; i < CNIO_EP_MAX_INFLIGHT; i++) {
        struct cnio_req *r = ep->inflight[i];

        if (r) {
            r->status = err;
            cnio__ep_complete(ep, r);
        }
    }
}

void cnio__ep_kill(struct cnio_ep *ep, int err)
{
    ep_kill_why(ep, err, NULL);
}

/* cnio__ep_open_addrs over tp, a transport instance of st. */
static int stk_ep_open(struct cnio_stack *st, struct cnio_tp *tp, int timeout_ms,
                       const struct cnio_addr *addrs, int n, const char *host,
                       const struct cnio_ep_auth *auth, struct cnio_ep **out)
{
    struct cnio_ep *ep;
    int ret;

    if (!auth->k || auth->klen == 0 || auth->klen > CNIO_KEY_MAX || timeout_ms <= 0 ||
        n < 1 || n > CNIO_EP_ADDRS)
        return -CNIO_ERR_INVAL;
    ep = calloc(1, sizeof(*ep));
    if (!ep)
        return -CNIO_ERR_NOMEM;
    ep->st = st;
    ep->timeout_ms = timeout_ms;
    ep->fd = -1;
    ep->addr = addrs[0];
    ep->nalt = n - 1;
    memcpy(ep->alt, addrs + 1, (size_t)ep->nalt * sizeof(*addrs));
    snprintf(ep->host, sizeof(ep->host), "%s", host ? host : "?");
    ret = cnio__ep_connect(ep, tp);
    if (ret) {
        free(ep);
        return ret;
    }
    ep->auth = *auth;
    memcpy(ep->key, auth->k, auth->klen);
    ep->auth.k = ep->key;
    ep->next = st->eps;
    if (st->eps)
        st->eps->prev = ep;
    st->eps = ep;
    *out = ep;
    return 0;
}

int cnio__ep_open_addrs(struct cnio_stack *st, const struct cnio_hints *h,
                        const struct cnio_addr *addrs, int n, const char *host,
                        const struct cnio_ep_auth *auth, struct cnio_ep **out)
{
    struct cnio_tp *tp;
    int ret;

    if (!auth->k || auth->klen == 0 || auth->klen > CNIO_KEY_MAX || h->timeout_ms <= 0)
        return -CNIO_ERR_INVAL;
    ret = stk_tp(st, h, &tp);
    if (ret)
        return ret;
    return stk_ep_open(st, tp, h->timeout_ms, addrs, n, host, auth, out);
}

int cnio__ep_open(struct cnio_stack *st, const struct cnio_hints *h,
                  const struct cnio_addr *addr, const char *host,
                  const struct cnio_ep_auth *auth, struct cnio_ep **out)
{
    return cnio__ep_open_addrs(st, h, addr, 1, host, auth, out);
}

int cnio__ep_open_tp(struct cnio_stack *st, struct cnio_tp *tp, int timeout_ms,
                     const struct cnio_addr *addr, const char *host,
                     const struct cnio_ep_auth *auth, struct cnio_ep **out)
{
    return stk_ep_open(st, tp, timeout_ms, addr, 1, host, auth, out);
}

void cnio__stack_stalled(struct cnio_stack *st, const struct cnio_ep *ep, const char *host,
                         int64_t from_ms)
{
    snprintf(st->stall_name, sizeof(st->stall_name), "%s", ep->name);
    cnio__hostport(st->stall_hp, sizeof(st->stall_hp), host, cnio__net_port(&ep->addr));
    st->stall_from = from_ms;
    st->stall_to = cnio__now_ms();
}

void cnio__ep_close(struct cnio_ep *ep)
{
    struct cnio_stack *st;

    if (!ep)
        return;
    st = ep->st;
    ep->quiet = ep->state == EP_CONNECTING || ep->state == EP_CHALLENGE || ep->state == EP_AUTH;
    cnio__ep_kill(ep, -CNIO_ERR_CONN);
    if (ep->prev)
        ep->prev->next = ep->next;
    else
        st->eps = ep->next;
    if (ep->next)
        ep->next->prev = ep->prev;
    free(ep);
}

void cnio__ep_fail(struct cnio_ep *ep, int err)
{
    if (ep)
        cnio__ep_kill(ep, err);
}

int cnio__ep_error(const struct cnio_ep *ep)
{
    return ep->state == EP_DEAD ? ep->err : 0;
}

int cnio__ep_ready(const struct cnio_ep *ep)
{
    return ep->state == EP_READY;
}

int cnio__ep_free_credits(const struct cnio_ep *ep)
{
    return ep->state == EP_READY ? (int)(ep->credits - ep->ninflight) : 0;
}

uint32_t cnio__ep_max_payload(const struct cnio_ep *ep)
{
    return ep->max_payload;
}

const char *cnio__ep_name(const struct cnio_ep *ep)
{
    return ep->name;
}

/*
 * A fabric connection idle for nearly the server's --idle-timeout is closed here, as if
 * the server had closed it, so that the caller replaces it before it sends (client_revive.c).
 * Over a fabric nothing tells the client that the server closed its end: a request sent
 * there is dropped by a server that no longer knows the connection, and times out. The
 * server's idle clock starts when our last request arrived, after we queued it (req_ms;
 * before the first, the handshake's end), not when its reply reached us: a server closes
 * a connection whose reply our provider left unacknowledged for the timeout (we did not
 * call it), and the reply may come in later. Replacing it EP_IDLE_MARGIN_MS (or half the
 * timeout, when that is shorter) early leaves that long for the next request's way there.
 * A request in flight, or queued, keeps it: the server does not close a busy connection.
 */
#define EP_IDLE_MARGIN_MS 10000

/* When ep's idle time began: its last request queued (or, before any, last_ms). */
static int64_t ep_idle_since(const struct cnio_ep *ep)
{
    return ep->req_ms ? CNIO_MIN(ep->req_ms, ep->last_ms) : ep->last_ms;
}

static int ep_idle_expired(const struct cnio_ep *ep)
{
    int64_t early = CNIO_MIN(ep->idle_ms / 2, (int64_t)EP_IDLE_MARGIN_MS);

    return ep->idle_ms && ep->fd < 0 && ep_ops(ep)->framed &&
           cnio__now_ms() - ep_idle_since(ep) >= ep->idle_ms - early;
}

void cnio__ep_set_timeout(struct cnio_ep *ep, int timeout_ms)
{
    if (ep && timeout_ms > 0)
        ep->timeout_ms = timeout_ms;
}

int cnio__ep_idle_closed(struct cnio_ep *ep)
{
    char b;
    ssize_t n;

    if (ep->state == EP_READY && !ep->ninflight && !ep->sq_head && ep->fd >= 0) {
        n = recv(ep->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            cnio__ep_kill(ep, -CNIO_ERR_CONN);   /* the peer closed it: nothing was lost */
    } else if (ep->state == EP_READY && !ep->ninflight && !ep->sq_head && ep_idle_expired(ep)) {
        cnio__debug("connection to %s: idle for %lld ms, the server closes it after %lld: "
                    "closed, to connect again", ep->name,
                    (long long)(cnio__now_ms() - ep_idle_since(ep)), (long long)ep->idle_ms);
        cnio__ep_kill(ep, -CNIO_ERR_CONN);   /* as the server would: nothing in flight */
    }
    return ep->state == EP_DEAD && ep->died_idle;
}

uint32_t cnio__ep_caps(const struct cnio_ep *ep)
{
    return ep->chal.caps;
}

uint64_t cnio__ep_server_id(const struct cnio_ep *ep)
{
    return ep->state == EP_READY ? ep->server_id : 0;
}

const char *cnio__ep_transport(const struct cnio_ep *ep)
{
    return ep->carrier;
}

/* ---- sending ------------------------------------------------------------------------ */


/* Writes as much of the send queue as the connection takes. */
static void ep_tx(struct cnio_ep *ep)
{
    if (ep_ops(ep)->framed) {
        cnio__ep_tx_msg(ep);
        return;
    }
    while (ep->sq_head) {
        struct iovec iov[STK_IOV];
        int n = 0;
        ssize_t w;

        for (struct cnio_req *r = ep->sq_head; r && n + 2 <= STK_IOV; r = r->next) {
            size_t off = r->sent;

            if (off < CNIO_WIRE_HDR_SIZE) {
                iov[n].iov_base = r->hdr + off;
                iov[n++].iov_len = CNIO_WIRE_HDR_SIZE - off;
                off = 0;
            } else {
                off -= CNIO_WIRE_HDR_SIZE;
            }
            if (off < r->plen) {
                iov[n].iov_base = (uint8_t *)r->payload + off;
                iov[n++].iov_len = r->plen - off;
            }
        }
        w = ep_ops(ep)->sendv(ep->conn, iov, n);
        if (w == -CNIO_ERR_INVAL) {
            /* A payload became unreadable after it was checksummed (EFAULT): the frame
             * cannot be finished, so the stream is lost, through no fault of the peer. */
            ep_kill_why(ep, (int)w, "the data of a request could not be read from memory "
                        "while it was sent (unmapped, or a file mapped under it shrank)");
            return;
        }
        if (w < 0) {
            cnio__ep_kill(ep, (int)w);
            return;
        }
        if (w == 0) {
            cnio__ep_set_events(ep, EPOLLIN | EPOLLOUT);
            return;
        }
        ep->last_ms = cnio__now_ms();
        while (w > 0) {
            struct cnio_req *r = ep->sq_head;
            size_t left = CNIO_WIRE_HDR_SIZE + r->plen - r->sent;
            size_t take = CNIO_MIN((size_t)w, left);

            r->sent += take;
            w -= (ssize_t)take;
            if (take < left)
                break;
            ep->sq_head = r->next;
            if (!ep->sq_head)
                ep->sq_tail = NULL;
            r->progress |= REQ_SENT;
            if (r->progress & REQ_REPLIED)
                cnio__ep_complete(ep, r);
        }
    }
    cnio__ep_set_events(ep, EPOLLIN);
}

int cnio__ep_enqueue(struct cnio_ep *ep, struct cnio_req *r)
{
    struct cnio_wire_hdr h = { 0 };
    unsigned idx = 0;

    while (idx < CNIO_EP_MAX_INFLIGHT && ep->inflight[idx])
        idx++;
    if (idx == CNIO_EP_MAX_INFLIGHT)
        return -CNIO_ERR_LIMIT;
    r->reqid = (++ep->seq << 8) | idx;
    r->ep = ep;
    r->sent = 0;
    r->progress = 0;
    r->next = NULL;
    h.version = CNIO_WIRE_VERSION;
    h.type = r->type;
    h.flags = r->flags;
    h.reqid = r->reqid;
    h.session = ep->session;
    h.object = r->object;
    h.offset = r->offset;
    h.length = r->plen;
    h.payload_crc = r->plen ? cnio__crc32c(0, r->payload, r->plen) : 0;
    cnio__wire_hdr_encode(&h, r->hdr);
    ep->req_ms = cnio__now_ms();
    if (ep->ninflight == 0)
        ep->last_ms = ep->req_ms;
    ep->inflight[idx] = r;
    ep->ninflight++;
    if (ep->sq_tail)
        ep->sq_tail->next = r;
    else
        ep->sq_head = r;
    ep->sq_tail = r;
    if (!ep->st->corked)
        ep_tx(ep);
    return 0;
}

void cnio__stack_cork(struct cnio_stack *st, int on)
{
    st->corked = on;
    for (struct cnio_ep *ep = st->eps; !on && ep; ep = ep->next)
        if (ep->sq_head && ep->state == EP_READY)
            ep_tx(ep);
}

/*
 * What request r asks of a server that announces no capabilities, which predates it: a
 * cnio-server before 2026-11-30 took PING, OPEN with flags up to O_WRITE, STAT, SETSIZE,
 * SYNC, CLOSE, UNLINK, LIST, WRITE and READ, and closed the connection at anything else.
 * NULL when that server takes r.
 */
static const char *ep_legacy_lacks(const struct cnio_ep *ep, const struct cnio_req *r)
{
    if (ep->chal.caps)
        return NULL;
    switch (r->type) {
    case CNIO_WIRE_OPEN:
        return r->plen >= 4 && (cnio__get_le32(r->payload) & ~CNIO_WIRE_O_LEGACY)
                   ? "staged uploads" : NULL;
    case CNIO_WIRE_COMMIT:
    case CNIO_WIRE_ABORT:
    case CNIO_WIRE_PREPARE:
    case CNIO_WIRE_FINISH:
        return "staged uploads";
    case CNIO_WIRE_MKDIR:
    case CNIO_WIRE_RMDIR:
        return "directories of their own (mkdir, rm -r)";
    case CNIO_WIRE_RENAME:
        return "renames";
    case CNIO_WIRE_SETATTR:
        return "modes and times (cp -p)";
    case CNIO_WIRE_FABRIC:
        return "libfabric transports";
    case CNIO_WIRE_BUDGET:
        return "connection budgets";
    case CNIO_WIRE_CRC:
        return "checksums of stored bytes (--verify)";
    default:
        return NULL;
    }
}

int cnio__ep_submit(struct cnio_ep *ep, struct cnio_req *r)
{
    const char *lacks;
    int ret = 0;

    if (ep->state == EP_DEAD)
        ret = ep->err;
    else if (ep->state != EP_READY)
        ret = -CNIO_ERR_INVAL;
    else if ((lacks = ep_legacy_lacks(ep, r))) {
        cnio__err("%s runs a cnio-server older than this client (it announces no "
                  "capabilities), which has no %s: upgrade it to this version", ep->name,
                  lacks);
        ret = -CNIO_ERR_NOTSUP;
    }
    else if (ep->ninflight >= ep->credits)
        ret = -CNIO_ERR_LIMIT;
    else if (r->plen > ep->max_payload && r->type == CNIO_WIRE_WRITE)
        ret = -CNIO_ERR_INVAL;
    if (!ret)
        ret = cnio__ep_enqueue(ep, r);
    if (ret)
        cnio__req_put(ep->st, r);
    return ret;
}

/* ---- progress ----------------------------------------------------------------------- */

static int ep_busy(const struct cnio_ep *ep)
{
    return ep->state == EP_CONNECTING || ep->state == EP_CHALLENGE || ep->state == EP_AUTH ||
           (ep->state == EP_READY && ep->ninflight);
}

/* Kills timed-out endpoints, polls fd-less ones; returns how long epoll may wait:
 * not at all when no endpoint has work outstanding (nothing could ever wake it). */
static int stk_timers(struct cnio_stack *st, int wait)
{
    int64_t now = cnio__now_ms();
    int busy = 0;

    st->polling = 0;
    for (struct cnio_ep *ep = st->eps; ep; ep = ep->next) {
        int64_t left;

        if (!ep_busy(ep))
            continue;
        busy++;
        cnio__ep_greet(ep, now, &wait);
        if (ep->state == EP_DEAD) {
            wait = 0;
            continue;
        }
        left = ep->last_ms + ep->timeout_ms - now;
        if (left <= 0 && ep->fd >= 0) {
            /* What arrived (or what the peer made room for) while this process did not
             * run (stopped, descheduled) is no silence: move it before judging. */
            if (ep->state == EP_CONNECTING)
                cnio__ep_connect_step(ep);
            else
                cnio__ep_rx(ep);
            if (ep->state != EP_DEAD && ep->state != EP_CONNECTING && ep->sq_head)
                ep_tx(ep);
            if (!ep_busy(ep))
                continue;
            left = ep->last_ms + ep->timeout_ms - now;
        }
        if (left <= 0) {
            if (ep->state == EP_CONNECTING)   /* the next address, if any, has its turn */
                cnio__ep_connect_failed(ep, -CNIO_ERR_TIMEOUT);
            else
                cnio__ep_kill(ep, -CNIO_ERR_TIMEOUT);
            wait = 0;
            continue;
        }
        wait = (int)CNIO_MIN((int64_t)wait, left);
        if (ep->fd < 0) {
            ep_ops(ep)->progress(ep->conn->tp, 0);
            cnio__ep_rx(ep);
            if (ep->state != EP_DEAD)
                ep_tx(ep);
            wait = CNIO_MIN(wait, STK_POLL_MS);
            st->polling |= ep->state != EP_DEAD;
        }
    }
    return busy ? wait : 0;
}

void cnio__stack_moved(struct cnio_stack *st)
{
    st->moved = 1;
}

/*
 * How long to wait for fabric endpoints with work outstanding (they have no fd to wake
 * us): STK_POLL_US after a completion, doubling while none comes, up to STK_POLL_MAX_US.
 * A stream of replies keeps the interval short; a reply that takes long is seen at most
 * 2 ms late. Never shorter for long: on a few cores, processes waking thousands of times
 * a second beside processes spinning in sched_yield (Open MPI's ranks waiting in a
 * collective, oversubscribed) starve the kernel's workers, and every write and rename of
 * the host then stalls for tens of seconds (see server/fabric.c).
 */
static long stk_nap(struct cnio_stack *st, int wait_ms)
{
    if (st->moved || st->nap_us < STK_POLL_US)
        st->nap_us = STK_POLL_US;
    else
        st->nap_us = CNIO_MIN(2 * st->nap_us, (long)STK_POLL_MAX_US);
    st->moved = 0;
    return CNIO_MIN(st->nap_us, (long)wait_ms * 1000L);
}

int cnio__stack_progress(struct cnio_stack *st, int max_wait_ms)
{
    struct epoll_event evs[STK_EVENTS];
    int wait = stk_timers(st, max_wait_ms < 0 ? INT_MAX : max_wait_ms);
    struct timespec poll = { 0, 0 };
    int n;

    if (st->polling && wait > 0) {
        poll.tv_nsec = stk_nap(st, wait) * 1000L;
        n = epoll_pwait2(st->epfd, evs, STK_EVENTS, &poll, NULL);
    } else {
        n = epoll_wait(st->epfd, evs, STK_EVENTS, wait);
    }

    if (n < 0)
        return errno == EINTR ? 0 : -CNIO_ERR_IO;
    for (int i = 0; i < n; i++) {
        struct cnio_ep *ep = evs[i].data.ptr;

        if (ep->state == EP_CONNECTING) {
            cnio__ep_connect_step(ep);
            continue;
        }
        if (ep->state != EP_DEAD && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
            cnio__ep_rx(ep);
        if (ep->state != EP_DEAD && (evs[i].events & EPOLLOUT))
            ep_tx(ep);
    }
    return 0;
}

int cnio__ep_wait_ready(struct cnio_stack *st, struct cnio_ep *const *eps, int n)
{
    for (;;) {
        int pending = 0, ret;

        for (int i = 0; i < n; i++)
            pending += eps[i]->state == EP_CONNECTING || eps[i]->state == EP_CHALLENGE ||
                       eps[i]->state == EP_AUTH;
        if (!pending)
            break;
        ret = cnio__stack_progress(st, -1);
        if (ret)
            return ret;
    }
    for (int i = 0; i < n; i++)
        if (eps[i]->state == EP_DEAD)
            return eps[i]->err;
    return 0;
}
