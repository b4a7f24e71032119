/*
 * client_conn.c - connections made when first needed (doc/scale.md).
 *
 * A process attached on demand (cnio__obj_attach_on_demand) keeps each host's token and
 * holds no connection until a transfer or a control call needs that host. The collective
 * layer drives the set-ups itself (start, then poll while it progresses the stack), so it
 * can pace them per server across ranks; a call that finds a host it needs still without
 * lanes connects it at once (cnio__cl_ensure).
 */
#include "common.h"
#include "client_int.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Host j's credentials: the key for the process that opened, else its token. */
static void conn_auth(const struct cnio_obj *obj, int j, struct cnio_ep_auth *a)
{
    if (obj->has_key || !obj->tokens)
        *a = (struct cnio_ep_auth){ .mode = CNIO_WIRE_AUTH_KEY, .k = obj->key.bytes,
                                    .klen = obj->key.len };
    else
        *a = (struct cnio_ep_auth){ .mode = CNIO_WIRE_AUTH_TOKEN, .rank = obj->rank,
                                    .object = obj->hosts[j].handle, .k = obj->tokens[j],
                                    .klen = CNIO_WIRE_MAC };
}

static void conn_drop(struct cnio__cl_host *host)
{
    for (int l = 0; l < host->nlanes; l++) {
        cnio__ep_close(host->lanes[l]);
        host->lanes[l] = NULL;
    }
    host->nlanes = 0;
    host->connecting = 0;
    host->retry_at = 0;
    host->transient = 0;
}

/* 1 when lane ep was refused by the server's budget for the job (an AUTH refused with
 * -CNIO_ERR_LIMIT by a server that keeps budgets), not by its --max-conns (refused before
 * the CHALLENGE, whose capabilities are then unknown). */
static int conn_budget_refused(const struct cnio_ep *ep)
{
    return cnio__ep_error(ep) == -CNIO_ERR_LIMIT && (cnio__ep_caps(ep) & CNIO_WIRE_CAP_BUDGET);
}

int cnio__obj_connected(const struct cnio_obj *obj, int j)
{
    return obj && j >= 0 && j < obj->nhosts && obj->hosts[j].nlanes > 0 &&
           !obj->hosts[j].connecting;
}

int cnio__obj_host_lanes(const struct cnio_obj *obj, int j)
{
    return obj && j >= 0 && j < obj->nhosts ? obj->hosts[j].nlanes : 0;
}

struct cnio_stack *cnio__obj_stack(const struct cnio_obj *obj)
{
    return obj ? obj->st : NULL;
}

void cnio__obj_set_transient(struct cnio_obj *obj, int on)
{
    if (obj)
        obj->transient = on != 0;
}

void cnio__obj_set_timeout(struct cnio_obj *obj, int timeout_ms)
{
    if (!obj || timeout_ms <= 0)
        return;
    obj->h.timeout_ms = timeout_ms;
    for (int j = 0; j < obj->nhosts; j++) {
        cnio__ep_set_timeout(obj->hosts[j].ctl, timeout_ms);
        for (int l = 0; l < obj->hosts[j].nlanes; l++)
            cnio__ep_set_timeout(obj->hosts[j].lanes[l], timeout_ms);
    }
}

/* Opens every lane of host j (the connects and handshakes go on in the progress engine). */
static int conn_open_lanes(struct cnio_obj *obj, int j)
{
    struct cnio__cl_host *host = &obj->hosts[j];
    int lanes = (int)CNIO_MIN(CNIO_MAX(obj->h.lanes, 1u), (uint32_t)CNIO_MAX_LANES);

    host->connecting = 1;
    for (int l = 0; l < lanes; l++) {
        int ret = cnio__ep_open(obj->st, &obj->h, host->fab.len ? &host->fab : &host->addr,
                                host->name, &host->auth, &host->lanes[l]);

        if (ret) {
            cnio__cl_host_failed(obj, j, CNIO__CL_LOST_CONNECT, ret);
            conn_drop(host);
            return ret;
        }
        host->nlanes = l + 1;
    }
    return 0;
}

int cnio__obj_connect_start(struct cnio_obj *obj, int j)
{
    struct cnio__cl_host *host;

    if (!obj || j < 0 || j >= obj->nhosts)
        return -CNIO_ERR_INVAL;
    host = &obj->hosts[j];
    if (host->nlanes > 0 || host->retry_at)
        return 0;
    if (!host->resolved)
        return -CNIO_ERR_INVAL;   /* only an attached object's hosts come resolved */
    conn_auth(obj, j, &host->auth);   /* kept to authenticate again (client_revive.c) */
    host->connect_t0 = cnio__now_ns();
    host->give_up = cnio__now_ms() + CNIO_MAX(obj->h.timeout_ms, 1);
    host->backoff_ms = 1;
    return conn_open_lanes(obj, j);
}

/*
 * The server's budget for the job is full (err -CNIO_ERR_LIMIT), or a lane was reset
 * before it authenticated (err -CNIO_ERR_CONN: a server over --max-unauth-per-addr drops
 * its oldest connection still authenticating, which is how 64 ranks on one host lost
 * set-ups): close the lanes (a lane admitted must not be held while its siblings wait)
 * and try again after a pause that doubles up to 100 ms, with jitter so that refused
 * ranks do not come back in step. 1 (waiting), or err once cnio_timeout_ms has passed
 * since the set-up started.
 */
static int conn_backoff(struct cnio_obj *obj, int j, int err)
{
    struct cnio__cl_host *host = &obj->hosts[j];
    int64_t now = cnio__now_ms();
    uint32_t jitter = 0;
    char hp[CNIO_HOSTPORT_MAX];

    for (int l = 0; l < host->nlanes; l++) {
        cnio__ep_close(host->lanes[l]);
        host->lanes[l] = NULL;
    }
    host->nlanes = 0;
    if (now >= host->give_up) {
        cnio__hostport(hp, sizeof(hp), host->name, host->port);
        if (err == -CNIO_ERR_LIMIT)
            cnio__cl_host_say(obj, j, CNIO__CL_LOST_BACKOFF, err, "connecting to %s: the "
                              "job's connection budget there (cnio_max_conns_per_server) "
                              "stayed full for %d ms", hp, obj->h.timeout_ms);
        else {   /* (a stall of this process's own, when that is why: cnio__stack_stall_note) */
            char why[256];

            cnio__cl_host_say(obj, j, CNIO__CL_LOST_BACKOFF, err, "connecting to %s: %s "
                              "before authenticating, again for %d ms%s", hp,
                              cnio_strerror(err), obj->h.timeout_ms,
                              cnio__stack_stall_note(obj->st, host->connect_t0 / 1000000, hp,
                                                     why, sizeof(why)));
        }
        conn_drop(host);
        return err;
    }
    if (err != -CNIO_ERR_LIMIT)
        cnio__info("connecting to %s: %s before authenticating; trying again",
                   cnio__hostport(hp, sizeof(hp), host->name, host->port), cnio_strerror(err));
    cnio__random(&jitter, sizeof(jitter));
    host->retry_at = CNIO_MIN(now + host->backoff_ms / 2 + 1 +
                              (int64_t)(jitter % (uint32_t)host->backoff_ms), host->give_up);
    host->backoff_ms = CNIO_MIN(host->backoff_ms * 2, 100);
    return 1;
}

int cnio__obj_connect_poll(struct cnio_obj *obj, int j)
{
    struct cnio__cl_host *host;
    int busy = 0, ret;
    char hp[CNIO_HOSTPORT_MAX];

    if (!obj || j < 0 || j >= obj->nhosts ||
        (obj->hosts[j].nlanes == 0 && !obj->hosts[j].retry_at))
        return -CNIO_ERR_INVAL;
    host = &obj->hosts[j];
    if (host->retry_at) {
        if (cnio__now_ms() < host->retry_at)
            return 1;
        host->retry_at = 0;
        ret = conn_open_lanes(obj, j);
        return ret ? ret : 1;
    }
    if (!host->connecting)
        return 0;
    for (int l = 0; l < host->nlanes; l++) {
        int err = cnio__ep_error(host->lanes[l]);

        /* (a connect that failed is not tried again: refused, unreachable, no answer) */
        if (err && cnio__ep_connected(host->lanes[l]) &&
            (conn_budget_refused(host->lanes[l]) || err == -CNIO_ERR_CONN))
            return conn_backoff(obj, j, err);
        if (err == -CNIO_ERR_AUTH && host->auth.mode == CNIO_WIRE_AUTH_TOKEN) {
            /* a token is good for one open on one server's run (client_revive.c) */
            cnio__cl_host_say(obj, j, CNIO__CL_LOST_GONE, -CNIO_ERR_STALE, "%s: host %s does "
                              "not know this open (it restarted since the open, or "
                              "released it): %s", obj->path,
                              cnio__hostport(hp, sizeof(hp), host->name, host->port),
                              cnio__stack_gone_advice(obj->st));
            conn_drop(host);
            return -CNIO_ERR_STALE;
        }
        if (err) {
            cnio__cl_host_failed(obj, j, CNIO__CL_LOST_CONNECT, err);
            conn_drop(host);
            return err;
        }
        busy |= !cnio__ep_ready(host->lanes[l]);
    }
    if (busy)
        return 1;
    host->connecting = 0;
    obj->stats.connects += (uint64_t)host->nlanes;
    obj->stats.connect_ns += cnio__now_ns() - host->connect_t0;
    return 0;
}

/* How long cnio__cl_ensure may wait for the stack: until the earliest retry, <= 100 ms. */
static int conn_wait_ms(const struct cnio_obj *obj, int *lanes_busy)
{
    int64_t now = cnio__now_ms(), wait = 100;

    *lanes_busy = 0;
    for (int j = 0; j < obj->nhosts; j++) {
        if (obj->hosts[j].retry_at)
            wait = CNIO_MIN(wait, CNIO_MAX(obj->hosts[j].retry_at - now, 0));
        else if (obj->hosts[j].connecting)
            *lanes_busy = 1;
    }
    return (int)wait;
}

/*
 * One pass over the hosts this call connects (mine[j]), in column order. A host refused
 * by the budget waits to try again holding only the hosts before it: the hosts after it
 * that this call opened are closed, and hosts after it start only once it is through.
 * Every rank takes the servers' budgets in the same order, so no two wait for each
 * other (rank A holding server 1 and waiting for server 2 while rank B holds 2 and waits
 * for 1 is how unordered set-ups deadlocked). *busy: something still under way.
 */
static int conn_ensure_pass(struct cnio_obj *obj, uint8_t *mine, int64_t give_up, int *busy)
{
    int ret = 0, blocked = 0;

    *busy = 0;
    for (int j = 0; j < obj->nhosts; j++) {
        struct cnio__cl_host *host = &obj->hosts[j];
        int r;

        if (!mine[j])
            continue;
        if (blocked) {   /* after a waiting host, ready or not: taken again later */
            if (host->nlanes || host->retry_at)
                conn_drop(host);
            *busy = 1;
            continue;
        }
        if (host->nlanes == 0 && !host->retry_at) {
            r = cnio__obj_connect_start(obj, j);
            if (r) {
                mine[j] = 0;
                ret = ret ? ret : r;
                continue;
            }
            host->transient = obj->transient;
            host->give_up = CNIO_MIN(host->give_up, give_up);   /* one bound for the call */
        }
        if (cnio__obj_connected(obj, j))
            continue;
        r = cnio__obj_connect_poll(obj, j);
        if (r < 0) {
            mine[j] = 0;
            ret = ret ? ret : r;
        } else if (r > 0) {
            *busy = 1;
            blocked = host->retry_at != 0;
        }
    }
    return ret;
}

int cnio__cl_ensure(struct cnio_obj *obj, const uint8_t *need)
{
    uint8_t mine[CNIO_MAX_HOSTS] = { 0 };
    int64_t give_up = cnio__now_ms() + CNIO_MAX(obj->h.timeout_ms, 1);
    int ret = 0, busy;

    for (int j = 0; j < obj->nhosts; j++)
        mine[j] = (!need || need[j]) && (obj->hosts[j].nlanes == 0 ||
                                          obj->hosts[j].connecting);
    for (;;) {
        int lanes_busy, wait, r = conn_ensure_pass(obj, mine, give_up, &busy);

        ret = ret ? ret : r;
        if (ret) {   /* stop what is still under way; the caller sees the first error */
            for (int j = 0; j < obj->nhosts; j++)
                if (mine[j] && !cnio__obj_connected(obj, j))
                    conn_drop(&obj->hosts[j]);
            return ret;
        }
        if (!busy)
            return 0;
        wait = conn_wait_ms(obj, &lanes_busy);
        if (!lanes_busy) {   /* only pauses before a retry: nothing for the stack to do */
            struct timespec ts = { 0, (long)wait * 1000000L };

            nanosleep(&ts, NULL);
        } else if (cnio__stack_progress(obj->st, wait) != 0) {
            /* every endpoint's timeout bounds this wait */
            for (int j = 0; j < obj->nhosts; j++)
                if (obj->hosts[j].connecting)
                    for (int l = 0; l < obj->hosts[j].nlanes; l++)
                        cnio__ep_fail(obj->hosts[j].lanes[l], -CNIO_ERR_IO);
        }
    }
}

void cnio__cl_release(struct cnio_obj *obj)
{
    for (int j = 0; obj && j < obj->nhosts; j++)
        if (obj->hosts[j].transient)
            conn_drop(&obj->hosts[j]);
}

int cnio__obj_budget(struct cnio_obj *obj, uint32_t budget)
{
    int n = 0, ret;
    struct cnio_call *c;

    if (!obj || !obj->has_key)
        return -CNIO_ERR_INVAL;
    c = calloc((size_t)obj->nhosts * (CNIO_MAX_LANES + 1), sizeof(*c));
    if (!c)
        return -CNIO_ERR_NOMEM;
    for (int j = 0; j < obj->nhosts; j++) {
        struct cnio__cl_host *host = &obj->hosts[j];

        for (int l = -1; l < host->nlanes; l++) {
            struct cnio_ep *ep = l < 0 ? host->ctl : host->lanes[l];

            /* key connections only: over a fabric the lanes authenticate with rank 0's
             * tokens (client_fab.c) and the server counts them as it counts any token */
            if (l >= 0 && host->auth.mode != CNIO_WIRE_AUTH_KEY)
                continue;
            if (ep && !cnio__ep_error(ep) && (cnio__ep_caps(ep) & CNIO_WIRE_CAP_BUDGET))
                c[n++] = (struct cnio_call){ .ep = ep, .type = CNIO_WIRE_BUDGET,
                                             .object = host->handle, .offset = budget };
        }
    }
    ret = n ? cnio__stack_calls(obj->st, c, n) : 0;
    for (int i = 0; ret && i < n; i++)
        if (c[i].status && !c[i].reasoned)
            cnio__err("%s: budget on host %s: %s", obj->path, cnio__ep_name(c[i].ep),
                      cnio_strerror(c[i].status));
    free(c);
    return ret;
}

void cnio__cl_columns(const struct cnio_obj *obj, const struct cnio_xfer *x, size_t n,
                      uint8_t *need)
{
    uint64_t S = obj->layout.unit, C = obj->layout.count;

    for (size_t i = 0; i < n; i++) {
        uint64_t first, last;

        if (x[i].len == 0)
            continue;
        first = x[i].off / S;
        last = (x[i].off + x[i].len - 1) / S;
        if (last - first + 1 >= C) {
            memset(need, 1, (size_t)C);
            return;
        }
        for (uint64_t s = first; s <= last; s++)
            need[s % C] = 1;
    }
}
