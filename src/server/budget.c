/*
 * budget.c - a job's connection budget per open object (BUDGET, doc/scale.md).
 *
 * The server is the authority over how many connections one job holds to it for one open
 * object: the proxy (rank 0, holding the key) sends BUDGET right after OPEN on each of its
 * lanes, which sets the handle's budget and binds those connections to the handle; every
 * connection that authenticates with a token for the handle is bound to it too, and the
 * AUTH of one that would pass the budget is refused with -CNIO_ERR_LIMIT and a reason
 * naming the budget (the client backs off and tries again within its timeout). A bound
 * connection leaves the count when it closes. A handle without a budget (a client that
 * never sent BUDGET) counts and never refuses. The handle keeps the most connections it
 * had at once and the refusals, logged when it goes (handles.c).
 *
 * The bound connections are also what keeps an orphan alive (a read-only handle whose
 * opener closed without a CLOSE, cnio__srv_handles_orphan): the last of them to leave
 * unlinks it, and none binds to it after that.
 */
#include "server.h"
#include "log.h"

#include <inttypes.h>

/* Binds c to handle object; refuse: may refuse it when the budget is full. */
static int budget_join(struct cnio_srv_conn *c, uint64_t object, int refuse)
{
    struct cnio_srv_handle *hd;
    uint32_t budget = 0;
    int full = 0;

    if (c->bound_object == object)
        return 0;
    cnio__srv_budget_leave(c);
    hd = cnio__srv_handles_get(&c->srv->handles, object);
    if (!hd)
        return -CNIO_ERR_NOENT;
    pthread_mutex_lock(&hd->lock);
    if (hd->orphan && hd->conns == 0) {   /* its last user left: being unlinked */
        pthread_mutex_unlock(&hd->lock);
        cnio__srv_handles_put(&c->srv->handles, hd);
        return -CNIO_ERR_NOENT;
    }
    budget = hd->budget;
    full = refuse && budget && hd->conns >= budget;
    if (full) {
        hd->refused++;
    } else {
        hd->conns++;
        hd->conns_peak = CNIO_MAX(hd->conns_peak, hd->conns);
    }
    pthread_mutex_unlock(&hd->lock);
    cnio__srv_handles_put(&c->srv->handles, hd);
    if (full)
        return cnio__srv_why(-CNIO_ERR_LIMIT, "the job's budget of %" PRIu32 " connections to "
                             "this server for this open object (cnio_max_conns_per_server) "
                             "is in use; try again when one closes", budget);
    c->bound_object = object;
    return 0;
}

int cnio__srv_budget_auth(struct cnio_srv_conn *c, uint64_t object)
{
    return budget_join(c, object, 1);
}

void cnio__srv_budget_leave(struct cnio_srv_conn *c)
{
    struct cnio_srv_handle *hd;
    uint64_t object = c->bound_object;
    int last;

    if (!object)
        return;
    hd = cnio__srv_handles_get(&c->srv->handles, object);
    c->bound_object = 0;
    if (!hd)
        return;   /* closed meanwhile: nothing left to count */
    pthread_mutex_lock(&hd->lock);
    if (hd->conns)
        hd->conns--;
    last = hd->orphan && hd->conns == 0;
    pthread_mutex_unlock(&hd->lock);
    if (last)   /* the last user of a handle whose opener is gone */
        cnio__srv_handles_remove(&c->srv->handles, object, NULL);
    cnio__srv_handles_put(&c->srv->handles, hd);
}

int cnio__srv_req_budget(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h,
                         const uint8_t *p, struct cnio_srv_reply *r)
{
    struct cnio_srv_handle *hd;
    int ret;

    (void)p;
    (void)r;
    if (c->auth_mode != CNIO_WIRE_AUTH_KEY)
        return cnio__srv_why(-CNIO_ERR_ACCESS, "only the key's holder sets a budget");
    hd = cnio__srv_handles_get(&c->srv->handles, h->object);
    if (!hd)
        return -CNIO_ERR_NOENT;
    pthread_mutex_lock(&hd->lock);
    hd->budget = (uint32_t)CNIO_MIN(h->offset, (uint64_t)UINT32_MAX);
    pthread_mutex_unlock(&hd->lock);
    cnio__srv_handles_put(&c->srv->handles, hd);
    ret = budget_join(c, h->object, 0);
    if (!ret)
        cnio__debug("%s: budget of %" PRIu64 " connections for handle %" PRIx64, c->peer,
                    h->offset, h->object);
    return ret;
}
