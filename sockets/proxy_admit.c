/*
 * proxy_admit.c - admission of connection setups per destination (ip:port): a FIFO of
 * waiting clients in front of each destination's window (skwindow.h), and the
 * destination's failure knowledge shared with everyone queued or arriving: a failure
 * fails the queue at once; after a time-out or no route new requests fail at once for
 * the hold-down, after a refusal they are admitted one at a time as probes.
 *
 * A setup that completed keeps its slot for the settle time more (skwindow.h: it
 * starts at CNIO_SOCKETS_SETTLE_MS and adapts): the client's connect
 * returns when the SYN-ACK arrives, but the connection then waits in the listener's
 * accept queue, which the client cannot see; the settle time is the listener's chance
 * to accept it before the next setups of the window arrive. A non-blocking setup
 * (EINPROGRESS: its outcome is not reported) keeps its slot for the destination's
 * smoothed setup time plus settle_ms, so a storm of non-blocking connects is paced too;
 * its outcome, when the shim learns it later (getsockopt SO_ERROR, close), comes as an
 * OUTCOME and adapts the window as a blocking setup's does. The shim does not keep its
 * connection open for that (it would cost the application one fd per setup in flight):
 * GO carries a token, the proxy remembers the setup under it (struct px_late, for
 * ADMIT_LATE_MS at most, ADMIT_MAX_LATE of them), and the OUTCOME names it, on a
 * connection of its own. A token is learnt from once: a forked child sharing the socket
 * may report it too.
 */
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define ADMIT_MAX_DESTS 4096
#define ADMIT_MAX_LATE 65536
#define ADMIT_LATE_MS 150000   /* longer than the kernel's SYN retries (~127 s) */

/* A copy of sa with the fields that do not name the destination zeroed; an IPv4 address
 * in its v4-mapped IPv6 form (::ffff:a.b.c.d, a dual-stack program's AF_INET6 socket) as
 * the IPv4 address it is: one destination, one window, however it is asked for. */
static socklen_t admit_key(const struct sockaddr_storage *sa, socklen_t len,
                           struct sockaddr_storage *key)
{
    memset(key, 0, sizeof(*key));
    if (sa->ss_family == AF_INET6 && len >= sizeof(struct sockaddr_in6) &&
        IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)sa)->sin6_addr)) {
        const struct sockaddr_in6 *s = (const void *)sa;
        struct sockaddr_in *k = (void *)key;

        k->sin_family = AF_INET;
        k->sin_port = s->sin6_port;
        memcpy(&k->sin_addr, s->sin6_addr.s6_addr + 12, 4);
        return sizeof(*k);
    }
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const void *)sa;
        struct sockaddr_in *k = (void *)key;

        k->sin_family = AF_INET;
        k->sin_port = s->sin_port;
        k->sin_addr = s->sin_addr;
        return sizeof(*k);
    }
    {
        const struct sockaddr_in6 *s = (const void *)sa;
        struct sockaddr_in6 *k = (void *)key;

        k->sin6_family = AF_INET6;
        k->sin6_port = s->sin6_port;
        k->sin6_addr = s->sin6_addr;
        k->sin6_scope_id = s->sin6_scope_id;
        return len < sizeof(*k) ? len : sizeof(*k);
    }
}

static void admit_label(struct px_dest *d)
{
    char ip[INET6_ADDRSTRLEN] = "?";

    if (d->sa.ss_family == AF_INET) {
        const struct sockaddr_in *s = (const void *)&d->sa;

        inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
        snprintf(d->label, sizeof(d->label), "%s:%u", ip, ntohs(s->sin_port));
    } else {
        const struct sockaddr_in6 *s = (const void *)&d->sa;

        inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
        snprintf(d->label, sizeof(d->label), "[%s]:%u", ip, ntohs(s->sin6_port));
    }
}

/* Forgets the least recently used destination that nobody waits for or holds. */
static void admit_evict(struct px *px)
{
    struct px_dest **victim = NULL, *d;

    for (struct px_dest **pp = &px->dests; *pp; pp = &(*pp)->next)
        if (!(*pp)->qhead && !(*pp)->w.inflight && (!victim || (*pp)->last_ms < (*victim)->last_ms))
            victim = pp;
    if (!victim)
        return;
    d = *victim;
    *victim = d->next;
    free(d);
    px->ndests--;
}

/* The destination sa (node_local: an address of this node asked from this node, kept apart
 * from the same address asked from other nodes), made when new. */
static struct px_dest *admit_find(struct px *px, const struct sockaddr_storage *sa, socklen_t len,
                                  int node_local)
{
    struct sockaddr_storage key;
    socklen_t klen = admit_key(sa, len, &key);
    struct px_dest *d;

    for (d = px->dests; d; d = d->next)
        if (d->salen == klen && d->node_local == node_local && !memcmp(&d->sa, &key, klen))
            return d;
    if (px->ndests >= ADMIT_MAX_DESTS)
        admit_evict(px);
    d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->sa = key;
    d->salen = klen;
    d->node_local = node_local;
    admit_label(d);
    cnio__skw_init(&d->w, px->conf.window_init, px->conf.window_max, px->conf.holddown_ms,
                   px->conf.settle_ms);
    d->next = px->dests;
    px->dests = d;
    px->ndests++;
    return d;
}

static void admit_reply(struct px_client *c, int verdict, int err)
{
    struct cnio__skp_msg m = { .type = CNIO__SKP_ADMIT_REP };

    m.i[0] = verdict;
    m.i[1] = err;
    if (px_send(c, &m) < 0)
        c->dead = 1;
}

/* A fresh token: a random high half per proxy (a token of another proxy, such as the
 * job proxy's reaching a node proxy serving alone, is not taken for one of ours), a
 * counter below; never 0. */
static uint64_t admit_token(void)
{
    static uint64_t next;

    if (!next) {
        uint32_t hi = 0;

        if (getrandom(&hi, sizeof(hi), 0) != sizeof(hi))
            hi = (uint32_t)px_now_ms() ^ ((uint32_t)getpid() << 16);
        next = ((uint64_t)(hi | 1) << 32) | 1;
    }
    return next++;
}

static void admit_go(struct px_client *c, struct px_dest *d, int64_t now)
{
    struct cnio__skp_msg m = { .type = CNIO__SKP_ADMIT_REP };

    c->seq = cnio__skw_admit(&d->w);
    c->token = admit_token();
    c->state = PX_HOLDING;
    c->dest = d;
    c->since_ms = now;
    m.i[0] = CNIO__SKP_GO;
    m.i[3] = (int32_t)(uint32_t)c->token;
    m.i[4] = (int32_t)(uint32_t)(c->token >> 32);
    if (px_send(c, &m) < 0)
        c->dead = 1;
}

static struct px_late **late_bucket(struct px *px, uint64_t token)
{
    return &px->late_hash[(token ^ (token >> 32)) % PX_LATE_HASH];
}

/* Forgets k (unlinks it from the age list and its bucket, frees it). */
static void late_forget(struct px *px, struct px_late *k)
{
    struct px_late **pp = late_bucket(px, k->token);

    while (*pp != k)
        pp = &(*pp)->hnext;
    *pp = k->hnext;
    if (k->prev)
        k->prev->next = k->next;
    else
        px->late_head = k->next;
    if (k->next)
        k->next->prev = k->prev;
    else
        px->late_tail = k->prev;
    px->nlate--;
    free(k);
}

/* Remembers c's setup, which goes on in the background, under its token. */
static void late_remember(struct px *px, struct px_client *c, struct px_dest *d, int64_t now)
{
    struct px_late *k, **b;

    if (px->nlate >= ADMIT_MAX_LATE)
        late_forget(px, px->late_head);
    if (!(k = calloc(1, sizeof(*k))))
        return;
    k->token = c->token;
    k->seq = c->seq;
    k->sa = d->sa;
    k->salen = d->salen;
    k->node_local = d->node_local;
    k->expires_ms = now + ADMIT_LATE_MS;
    b = late_bucket(px, k->token);
    k->hnext = *b;
    *b = k;
    k->prev = px->late_tail;
    if (px->late_tail)
        px->late_tail->next = k;
    else
        px->late_head = k;
    px->late_tail = k;
    px->nlate++;
}

static struct px_late *late_find(struct px *px, uint64_t token)
{
    struct px_late *k = *late_bucket(px, token);

    while (k && k->token != token)
        k = k->hnext;
    return k;
}

static void admit_fail(struct px_client *c, int err)
{
    c->state = PX_IDLE;
    c->dest = NULL;
    c->qnext = NULL;
    admit_reply(c, CNIO__SKP_FAIL, err);
}

/* Admits queued clients, oldest first, while the window has room. */
static void admit_pump(struct px_dest *d, int64_t now)
{
    while (d->qhead && cnio__skw_can_admit(&d->w)) {
        struct px_client *c = d->qhead;

        d->qhead = c->qnext;
        if (!d->qhead)
            d->qtail = NULL;
        d->nqueued--;
        c->qnext = NULL;
        d->wait_ms_total += (uint64_t)(now - c->since_ms);
        admit_go(c, d, now);
    }
}

/* Gives back the slots whose settle time is over. */
static void admit_cool(struct px_dest *d, int64_t now)
{
    while (d->cool_head && d->cool_head->at <= now) {
        struct px_cool *k = d->cool_head;

        d->cool_head = k->next;
        free(k);
        if (d->w.inflight)
            d->w.inflight--;
    }
}

/* Keeps one slot of d busy for hold_ms more (no-op when that is 0 or no memory). The
 * list stays sorted by release time. */
static void admit_settle(struct px_dest *d, int64_t now, int64_t hold_ms)
{
    struct px_cool *k, **pp;

    if (hold_ms <= 0 || !(k = calloc(1, sizeof(*k))))
        return;
    k->at = now + hold_ms;
    d->w.inflight++;
    for (pp = &d->cool_head; *pp && (*pp)->at <= k->at; pp = &(*pp)->next)
        ;
    k->next = *pp;
    *pp = k;
}

static void admit_fail_queue(struct px_dest *d, int err)
{
    while (d->qhead) {
        struct px_client *c = d->qhead;

        d->qhead = c->qnext;
        d->nqueued--;
        d->queued_fail++;
        admit_fail(c, err);
    }
    d->qtail = NULL;
}

static void admit_unqueue(struct px_dest *d, struct px_client *c)
{
    struct px_client *prev = NULL;

    for (struct px_client *q = d->qhead; q; prev = q, q = q->qnext) {
        if (q != c)
            continue;
        if (prev)
            prev->qnext = q->qnext;
        else
            d->qhead = q->qnext;
        if (d->qtail == q)
            d->qtail = prev;
        d->nqueued--;
        break;
    }
    c->qnext = NULL;
}

int px_admit_request(struct px *px, struct px_client *c, const struct cnio__skp_msg *m,
                     int64_t now)
{
    struct px_dest *d;
    int err;

    if (c->state != PX_IDLE || !m->salen)
        return -1;
    d = admit_find(px, &m->sa, m->salen, !c->relayed && px_job_node_local(&m->sa));
    if (!d) {
        admit_fail(c, ENOMEM);
        return 0;
    }
    d->last_ms = now;
    err = cnio__skw_held(&d->w, now);
    if (err) {
        admit_fail(c, err);
        return 0;
    }
    c->deadline_ms = now + (m->i[0] < 1 ? 1 : m->i[0] > 3600000 ? 3600000 : m->i[0]);
    if (!d->qhead && cnio__skw_can_admit(&d->w)) {
        admit_go(c, d, now);
        return 0;
    }
    c->state = PX_QUEUED;
    c->dest = d;
    c->since_ms = c->beat_ms = now;
    if (d->qtail)
        d->qtail->qnext = c;
    else
        d->qhead = c;
    d->qtail = c;
    d->nqueued++;
    admit_reply(c, CNIO__SKP_QUEUED, 0);
    return 0;
}

int px_admit_done(struct px *px, struct px_client *c, const struct cnio__skp_msg *m, int64_t now)
{
    struct px_dest *d = c->dest;
    int o = m->i[0], err;

    if (c->state != PX_HOLDING)
        return c->state == PX_IDLE ? 0 : -1;  /* a slot the proxy already took back */
    if (o < 0 || o >= CNIO__SKW_OUTCOME_END)
        o = CNIO__SKW_UNKNOWN;
    if (o == CNIO__SKW_PROMPT)
        cnio__skw_sample(&d->w, m->i[1]);
    err = cnio__skw_done(&d->w, c->seq, (enum cnio__skw_outcome)o, m->i[2], now);
    if (o == CNIO__SKW_PROMPT || o == CNIO__SKW_SLOW)
        admit_settle(d, now, cnio__skw_settle_ms(&d->w));
    else if (o == CNIO__SKW_INPROGRESS) {
        admit_settle(d, now, cnio__skw_inprogress_hold_ms(&d->w));
        late_remember(px, c, d, now);
    }
    c->state = PX_IDLE;
    c->dest = NULL;
    d->last_ms = now;
    if (err)
        admit_fail_queue(d, err);
    admit_pump(d, now);
    return 0;
}

static int admit_outcome(struct px *px, const struct cnio__skp_msg *m, int64_t now)
{
    uint64_t token = (uint64_t)(uint32_t)m->i[4] << 32 | (uint32_t)m->i[3];
    struct px_late *k;
    struct px_dest *d;
    uint64_t seq;
    int o = m->i[0], err;

    k = late_find(px, token);
    if (!k)   /* unknown, expired, or a forked child told us first */
        return 0;
    seq = k->seq;
    d = admit_find(px, &k->sa, k->salen, k->node_local);
    late_forget(px, k);
    if (!d || o < 0 || o >= CNIO__SKW_OUTCOME_END || o == CNIO__SKW_INPROGRESS)
        return 0;
    if (o == CNIO__SKW_PROMPT)
        cnio__skw_sample(&d->w, m->i[1]);
    err = cnio__skw_learn(&d->w, seq, (enum cnio__skw_outcome)o, m->i[2], now);
    d->late++;
    d->last_ms = now;
    if (err)
        admit_fail_queue(d, err);
    admit_pump(d, now);
    return 0;
}

int px_admit_knows(struct px *px, const struct cnio__skp_msg *m)
{
    return late_find(px, (uint64_t)(uint32_t)m->i[4] << 32 | (uint32_t)m->i[3]) != NULL;
}

int px_admit_outcome(struct px *px, struct px_client *c, const struct cnio__skp_msg *m,
                     int64_t now)
{
    struct cnio__skp_msg ack = { .type = CNIO__SKP_OUTCOME_ACK };

    admit_outcome(px, m, now);
    if (px_send(c, &ack) < 0)
        c->dead = 1;
    return 0;
}

void px_admit_drop(struct px *px, struct px_client *c, int64_t now)
{
    struct px_dest *d = c->dest;

    if (c->state == PX_QUEUED)
        admit_unqueue(d, c);
    else if (c->state == PX_HOLDING) {
        cnio__skw_done(&d->w, c->seq, CNIO__SKW_UNKNOWN, 0, now);
        admit_pump(d, now);
    }
    c->state = PX_IDLE;
    c->dest = NULL;
}

int64_t px_admit_tick(struct px *px, int64_t now)
{
    int64_t next = px->beat_ms;

    while (px->late_head && px->late_head->expires_ms <= now)
        late_forget(px, px->late_head);

    for (struct px_dest *d = px->dests; d; d = d->next) {
        struct px_client *c, *nx;

        admit_cool(d, now);
        admit_pump(d, now);
        if (d->cool_head && d->cool_head->at - now < next)
            next = d->cool_head->at - now;
        for (c = d->qhead; c; c = nx) {
            nx = c->qnext;
            if (now >= c->deadline_ms) {
                admit_unqueue(d, c);
                d->queued_fail++;
                admit_fail(c, ETIMEDOUT);
                continue;
            }
            if (now - c->beat_ms >= px->beat_ms) {
                c->beat_ms = now;
                admit_reply(c, CNIO__SKP_QUEUED, 0);
            }
            if (c->deadline_ms - now < next)
                next = c->deadline_ms - now;
            if (c->beat_ms + px->beat_ms - now < next)
                next = c->beat_ms + px->beat_ms - now;
        }
    }
    return next < 1 ? 1 : next;
}

void px_admit_report(struct px *px, struct px_text *t)
{
    for (struct px_dest *d = px->dests; d; d = d->next) {
        const struct cnio__skw *w = &d->w;

        px_text_add(t, "dest %s window %d inflight %u queued %u admitted %llu prompt %llu "
                    "slow %llu refused %llu timedout %llu failed_fast %llu queued_failed %llu "
                    "wait_ms %llu settle_ms %lld late %llu%s\n",
                    d->label, cnio__skw_window(w), w->inflight, d->nqueued,
                    (unsigned long long)w->admitted, (unsigned long long)w->prompt,
                    (unsigned long long)w->slow, (unsigned long long)w->refused,
                    (unsigned long long)w->timedout, (unsigned long long)w->failed_fast,
                    (unsigned long long)d->queued_fail, (unsigned long long)d->wait_ms_total,
                    (long long)cnio__skw_settle_ms(w), (unsigned long long)d->late,
                    d->node_local ? " scope node" : "");   /* apart from other nodes' */
    }
}
