/*
 * proxy_admit.c - admission of connection setups per destination (ip:port): a FIFO of
 * waiting clients in front of each destination's window (skwindow.h), and the
 * destination's failure knowledge shared with everyone queued or arriving.
 *
 * A setup that completed keeps its slot for the settle time more (skwindow.h: it
 * starts at CNIO_SOCKETS_SETTLE_MS and adapts): the client's connect
 * returns when the SYN-ACK arrives, but the connection then waits in the listener's
 * accept queue, which the client cannot see; the settle time is the listener's chance
 * to accept it before the next setups of the window arrive. A non-blocking setup
 * (EINPROGRESS: its outcome is not reported) keeps its slot for the destination's
 * smoothed setup time plus settle_ms, so a storm of non-blocking connects is paced too;
 * its outcome, when the shim learns it later (getsockopt SO_ERROR, close), comes as an
 * OUTCOME on the same connection and adapts the window as a blocking setup's does.
 */
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADMIT_MAX_DESTS 4096

/* A copy of sa with the fields that do not name the destination zeroed. */
static socklen_t admit_key(const struct sockaddr_storage *sa, socklen_t len,
                           struct sockaddr_storage *key)
{
    memset(key, 0, sizeof(*key));
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

static struct px_dest *admit_find(struct px *px, const struct sockaddr_storage *sa, socklen_t len)
{
    struct sockaddr_storage key;
    socklen_t klen = admit_key(sa, len, &key);
    struct px_dest *d;

    for (d = px->dests; d; d = d->next)
        if (d->salen == klen && !memcmp(&d->sa, &key, klen))
            return d;
    if (px->ndests >= ADMIT_MAX_DESTS)
        admit_evict(px);
    d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->sa = key;
    d->salen = klen;
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

static void admit_go(struct px_client *c, struct px_dest *d, int64_t now)
{
    c->seq = cnio__skw_admit(&d->w);
    c->state = PX_HOLDING;
    c->dest = d;
    c->since_ms = now;
    admit_reply(c, CNIO__SKP_GO, 0);
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
    d = admit_find(px, &m->sa, m->salen);
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
        c->late = 1;
        c->late_sa = d->sa;
        c->late_salen = d->salen;
    }
    c->state = PX_IDLE;
    c->dest = NULL;
    d->last_ms = now;
    if (err)
        admit_fail_queue(d, err);
    admit_pump(d, now);
    return 0;
}

int px_admit_outcome(struct px *px, struct px_client *c, const struct cnio__skp_msg *m,
                     int64_t now)
{
    struct px_dest *d;
    int o = m->i[0], err;

    if (!c->late)   /* nothing in the background (or a forked child told us first) */
        return 0;
    c->late = 0;
    d = admit_find(px, &c->late_sa, c->late_salen);
    if (!d || o < 0 || o >= CNIO__SKW_OUTCOME_END || o == CNIO__SKW_INPROGRESS)
        return 0;
    if (o == CNIO__SKW_PROMPT)
        cnio__skw_sample(&d->w, m->i[1]);
    err = cnio__skw_learn(&d->w, c->seq, (enum cnio__skw_outcome)o, m->i[2], now);
    d->late++;
    d->last_ms = now;
    if (err)
        admit_fail_queue(d, err);
    admit_pump(d, now);
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

void px_admit_report(struct px *px, char *buf, size_t cap)
{
    for (struct px_dest *d = px->dests; d; d = d->next) {
        size_t used = strlen(buf);
        const struct cnio__skw *w = &d->w;

        snprintf(buf + used, cap - used,
                 "dest %s window %d inflight %u queued %u admitted %llu prompt %llu slow %llu "
                 "refused %llu timedout %llu failed_fast %llu queued_failed %llu wait_ms %llu "
                 "settle_ms %lld late %llu\n",
                 d->label, cnio__skw_window(w), w->inflight, d->nqueued,
                 (unsigned long long)w->admitted, (unsigned long long)w->prompt,
                 (unsigned long long)w->slow, (unsigned long long)w->refused,
                 (unsigned long long)w->timedout, (unsigned long long)w->failed_fast,
                 (unsigned long long)d->queued_fail, (unsigned long long)d->wait_ms_total,
                 (long long)cnio__skw_settle_ms(w), (unsigned long long)d->late);
    }
}
