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

int cnio__obj_connect_start(struct cnio_obj *obj, int j)
{
    struct cnio__cl_host *host;
    struct cnio_ep_auth auth;
    int lanes;

    if (!obj || j < 0 || j >= obj->nhosts)
        return -CNIO_ERR_INVAL;
    host = &obj->hosts[j];
    if (host->nlanes > 0)
        return 0;
    if (!host->resolved)
        return -CNIO_ERR_INVAL;   /* only an attached object's hosts come resolved */
    conn_auth(obj, j, &auth);
    host->auth = auth;   /* to authenticate again after an idle close (client_revive.c) */
    lanes = (int)CNIO_MIN(CNIO_MAX(obj->h.lanes, 1u), (uint32_t)CNIO_MAX_LANES);
    host->connect_t0 = cnio__now_ns();
    host->connecting = 1;
    for (int l = 0; l < lanes; l++) {
        int ret = cnio__ep_open(obj->st, &obj->h, host->fab.len ? &host->fab : &host->addr,
                                host->name, &auth, &host->lanes[l]);

        if (ret) {
            cnio__err("connecting to %s:%u: %s", host->name, host->port, cnio_strerror(ret));
            conn_drop(host);
            return ret;
        }
        host->nlanes = l + 1;
    }
    return 0;
}

int cnio__obj_connect_poll(struct cnio_obj *obj, int j)
{
    struct cnio__cl_host *host;
    int busy = 0;

    if (!obj || j < 0 || j >= obj->nhosts || obj->hosts[j].nlanes == 0)
        return -CNIO_ERR_INVAL;
    host = &obj->hosts[j];
    if (!host->connecting)
        return 0;
    for (int l = 0; l < host->nlanes; l++) {
        int err = cnio__ep_error(host->lanes[l]);

        if (err) {
            cnio__err("connecting to %s:%u: %s", host->name, host->port, cnio_strerror(err));
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

int cnio__cl_ensure(struct cnio_obj *obj, const uint8_t *need)
{
    int ret = 0, busy;

    for (int j = 0; j < obj->nhosts && !ret; j++)
        if ((!need || need[j]) && obj->hosts[j].nlanes == 0)
            ret = cnio__obj_connect_start(obj, j);
    do {
        busy = 0;
        for (int j = 0; j < obj->nhosts; j++) {
            int r;

            if (obj->hosts[j].nlanes == 0 || !obj->hosts[j].connecting)
                continue;
            r = cnio__obj_connect_poll(obj, j);
            if (r > 0)
                busy = 1;
            else if (r < 0 && !ret)
                ret = r;
        }
        /* every endpoint's timeout bounds this wait */
        if (busy && cnio__stack_progress(obj->st, 100) != 0)
            for (int j = 0; j < obj->nhosts; j++)
                if (obj->hosts[j].connecting)
                    for (int l = 0; l < obj->hosts[j].nlanes; l++)
                        cnio__ep_fail(obj->hosts[j].lanes[l], -CNIO_ERR_IO);
    } while (busy);
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
