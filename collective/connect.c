/*
 * connect.c - connections at cluster scale (doc/scale.md): the route a job's collective
 * traffic takes under the per-server connection budget, and on-demand connection set-up
 * paced per server without global barriers.
 *
 * On demand: at open only rank 0 (the proxy) connects; every other rank attaches with its
 * tokens and no connection. A collective data call first works out which servers each
 * rank's part of the call touches (its own extents when it goes direct, its file domain
 * when it aggregates); the ranks that lack one of those connections then set them up,
 * paced per server by token passing:
 *
 *   For server j, the ranks that need it, in rank order, are r_0, r_1, ... r_m. With a
 *   window of W (hint cnio_connect_window), r_0..r_{W-1} start at once; r_i (i >= W)
 *   starts when r_{i-W} has finished its set-up (ready or failed) and sent it a token
 *   (one int, MPI point-to-point, tag CONN_TAG + j). So at most W set-ups are in flight
 *   on a server at any time, the servers proceed independently of each other, and a
 *   rank waits only for its own predecessor on each server it needs, never for the
 *   slowest rank of a wave. Open time grows with ranks / (W x servers) per server a rank
 *   touches, and a failed set-up still hands its token on, so nothing waits forever:
 *   every set-up is bounded by cnio_timeout_ms.
 *
 * The phase ends with an agreement (one MPI_Allreduce, only in calls that set up
 * connections): no rank moves data before every set-up is over, and a failed set-up
 * gives every rank the same code before anything is written.
 */
#include "coll.h"
#include "client.h"
#include "log.h"
#include "stack.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONN_TAG 0x4300         /* + server column: MPI tags stay below 32767 */

/* One server this rank connects to in this call. */
struct conn_srv {
    int j;
    int pred, succ;             /* ranks to wait for / hand the token to, or -1 */
    int state;                  /* CONN_WAIT, CONN_BUSY, CONN_DONE */
    int counted;                /* its end was counted */
    int tok_in, tok_out;
    MPI_Request rreq, sreq;
};

enum { CONN_WAIT, CONN_BUSY, CONN_DONE };

/* Connections the job's rank 0 holds to each server for the life of the file: its lanes,
 * and over a fabric transport its TCP control connection beside them (doc/scale.md). */
static uint64_t conn_rank0(const struct cnio_hints *h)
{
    return CNIO_MAX(h->lanes, 1u) + (strcmp(h->transport, "tcp") != 0);
}

int cnio__coll_budget_check(const cnio_file_t *fh)
{
    const struct cnio_hints *h = &fh->hints;
    uint64_t lanes = CNIO_MAX(h->lanes, 1u), least = conn_rank0(h) + lanes;

    if (fh->size < 2 || h->connect_mode == CNIO_CONNECT_EAGER || h->route == CNIO_ROUTE_DIRECT ||
        h->max_conns_per_server >= least)
        return 0;
    if (fh->rank == 0)
        cnio__err("cnio_max_conns_per_server %u is too small: rank 0 holds %llu connection(s) "
                  "to each server for the life of the file, and an independent call of any "
                  "other rank needs %llu more (cnio_lanes %llu), so every such call would be "
                  "refused; the least value that works is %llu (or cnio_route=direct, which "
                  "ignores the budget)", h->max_conns_per_server,
                  (unsigned long long)conn_rank0(h), (unsigned long long)lanes,
                  (unsigned long long)lanes, (unsigned long long)least);
    return -CNIO_ERR_HINT;
}

void cnio__coll_route(cnio_file_t *fh)
{
    const struct cnio_hints *h = &fh->hints;
    uint64_t C = cnio__obj_layout(fh->obj)->count, lanes = CNIO_MAX(h->lanes, 1u);
    uint64_t budget = h->max_conns_per_server, ctl = conn_rank0(h) - lanes, per, nagg, sets;

    fh->route_nagg = 0;
    if (h->connect_mode == CNIO_CONNECT_EAGER || h->route == CNIO_ROUTE_DIRECT)
        return;
    /* over a fabric, rank 0's control connection beside its lanes counts too */
    if (h->route == CNIO_ROUTE_AUTOMATIC && (uint64_t)fh->size * lanes + ctl <= budget)
        return;
    sets = (budget - CNIO_MIN(budget, ctl)) / lanes;
    /*
     * Aggregators per server: the budget's lane sets but rank 0's (the proxy holds lanes to
     * every server) and one more, kept free for the transient connections of the other
     * ranks' independent calls (doc/scale.md). Aggregators hold their connections across
     * collective calls, transient ones only for one call, so a rank waiting for a slot
     * waits for a call that waits on nothing but the server. Under 3 lane sets rank 0
     * aggregates alone, on its own connections; fewer than 2 the open refused
     * (cnio__coll_budget_check).
     */
    per = sets >= 3 ? sets - 2 : 0;
    nagg = per ? CNIO_MIN((uint64_t)fh->size, C * per) : 1;
    if (h->cb_nodes)
        nagg = CNIO_MIN(nagg, (uint64_t)h->cb_nodes);
    fh->route_nagg = (int)CNIO_MAX(nagg, 1u);
}

/* Finds, for every server this rank needs, its predecessor and successor in the chain. */
static int conn_chains(cnio_file_t *fh, const uint8_t *masks, int nb, int C, int w,
                       struct conn_srv *srv)
{
    const uint8_t *mine = masks + (size_t)fh->rank * (size_t)nb;
    int n = 0;

    for (int j = 0; j < C; j++) {
        int pos = 0, k = 0;

        if (!(mine[j / 8] & (1u << (j % 8))))
            continue;
        srv[n] = (struct conn_srv){ .j = j, .pred = -1, .succ = -1, .state = CONN_WAIT,
                                    .rreq = MPI_REQUEST_NULL, .sreq = MPI_REQUEST_NULL };
        for (int r = 0; r < fh->rank; r++)
            pos += (masks[(size_t)r * (size_t)nb + (size_t)(j / 8)] >> (j % 8)) & 1;
        if (pos >= w)   /* the w-th needer before this rank */
            for (int r = fh->rank - 1; r >= 0; r--)
                if (((masks[(size_t)r * (size_t)nb + (size_t)(j / 8)] >> (j % 8)) & 1) &&
                    ++k == w) {
                    srv[n].pred = r;
                    break;
                }
        k = 0;
        for (int r = fh->rank + 1; r < fh->size; r++)
            if (((masks[(size_t)r * (size_t)nb + (size_t)(j / 8)] >> (j % 8)) & 1) && ++k == w) {
                srv[n].succ = r;
                break;
            }
        n++;
    }
    return n;
}

/* Set-up of s over (ready or failed): hands the token on; returns the set-up's code. */
static int conn_finish(cnio_file_t *fh, struct conn_srv *s, int rc)
{
    s->state = CONN_DONE;
    s->tok_out = rc;
    if (s->succ >= 0 && MPI_Isend(&s->tok_out, 1, MPI_INT, s->succ, CONN_TAG + s->j, fh->comm,
                                  &s->sreq) != MPI_SUCCESS)
        return rc ? rc : -CNIO_ERR_MPI;
    return rc;
}

static int conn_start(cnio_file_t *fh, struct conn_srv *s)
{
    int rc = cnio__obj_connect_start(fh->obj, s->j);

    if (rc)
        return conn_finish(fh, s, rc);
    s->state = CONN_BUSY;
    return 0;
}

/* One pass over this rank's servers: tokens in, set-ups started and finished. */
static int conn_step(cnio_file_t *fh, struct conn_srv *srv, int n, int *left, int *busy)
{
    int rc = 0;

    *busy = 0;
    for (int i = 0; i < n; i++) {
        struct conn_srv *s = &srv[i];
        int flag = 0, r = 0;

        if (s->state == CONN_WAIT && s->rreq != MPI_REQUEST_NULL) {
            if (MPI_Test(&s->rreq, &flag, MPI_STATUS_IGNORE) != MPI_SUCCESS)
                r = conn_finish(fh, s, -CNIO_ERR_MPI);
            else if (flag)
                r = conn_start(fh, s);
        }
        if (s->state == CONN_BUSY) {
            int p = cnio__obj_connect_poll(fh->obj, s->j);

            if (p <= 0)
                r = conn_finish(fh, s, p);
            else
                *busy = 1;
        }
        if (s->state == CONN_DONE && !s->counted) {
            s->counted = 1;
            (*left)--;
        }
        rc = rc ? rc : r;
    }
    return rc;
}

/* Runs this rank's part of the token passing until each of its set-ups is over. */
static int conn_run(cnio_file_t *fh, struct conn_srv *srv, int n)
{
    struct cnio_stack *st = cnio__obj_stack(fh->obj);
    struct timespec pause = { 0, 0 };
    int rc = 0, left = n, busy;

    for (int i = 0; i < n; i++) {
        int r = 0;

        if (srv[i].pred < 0)
            r = conn_start(fh, &srv[i]);
        else if (MPI_Irecv(&srv[i].tok_in, 1, MPI_INT, srv[i].pred, CONN_TAG + srv[i].j,
                           fh->comm, &srv[i].rreq) != MPI_SUCCESS)
            r = conn_finish(fh, &srv[i], -CNIO_ERR_MPI);
        rc = rc ? rc : r;
    }
    while (left > 0) {
        int r = conn_step(fh, srv, n, &left, &busy);

        rc = rc ? rc : r;
        if (left == 0)
            break;
        if (busy) {
            /* every endpoint's timeout bounds the set-ups in flight */
            if (cnio__stack_progress(st, 1))
                rc = rc ? rc : -CNIO_ERR_IO;
            pause.tv_nsec = 0;
            continue;
        }
        pause.tv_nsec = CNIO_MIN(2000000, CNIO_MAX(10000, 2 * pause.tv_nsec));
        nanosleep(&pause, NULL);   /* waiting for a token from a predecessor */
    }
    for (int i = 0; i < n; i++)
        if (srv[i].sreq != MPI_REQUEST_NULL && MPI_Wait(&srv[i].sreq, MPI_STATUS_IGNORE))
            rc = rc ? rc : -CNIO_ERR_MPI;
    return rc;
}

int cnio__coll_connect(cnio_file_t *fh, const uint8_t *need)
{
    int C = cnio__obj_nhosts(fh->obj), nb = (C + 7) / 8, local = 0, all = 0, rc = 0;
    uint8_t mine[(CNIO_MAX_HOSTS + 7) / 8] = { 0 }, *masks;
    struct conn_srv *srv;

    for (int j = 0; need && j < C; j++)
        if (need[j] && !cnio__obj_connected(fh->obj, j)) {
            mine[j / 8] |= (uint8_t)(1u << (j % 8));
            local = 1;
        }
    masks = malloc((size_t)fh->size * (size_t)nb);
    srv = malloc((size_t)C * sizeof(*srv));
    if (!masks || !srv)
        local = 2;              /* every rank learns it: nobody starts the exchange */
    if (MPI_Allreduce(&local, &all, 1, MPI_INT, MPI_MAX, fh->comm) != MPI_SUCCESS)
        rc = -CNIO_ERR_MPI;
    else if (all == 2)
        rc = -CNIO_ERR_NOMEM;
    else if (all == 1 && MPI_Allgather(mine, nb, MPI_BYTE, masks, nb, MPI_BYTE,
                                       fh->comm) != MPI_SUCCESS)
        rc = -CNIO_ERR_MPI;
    else if (all == 1)
        rc = conn_run(fh, srv, conn_chains(fh, masks, nb, C,
                                           CNIO_MAX(fh->hints.connect_window, 1), srv));
    free(srv);
    free(masks);
    /* Set-ups done everywhere before any data moves: a handshake must not queue behind
     * another rank's bulk data on a saturated server link (measured: SYNs dropped there
     * until the set-up timed out), and a failed set-up stops every rank before it
     * writes anything. */
    return all == 1 ? cnio__coll_agree(fh->comm, rc) : rc;
}
