/*
 * client_batch_get.c - many small objects read over one namespace session, several
 * requests in flight on each connection (cnio__ns_get_small); the reading twin of
 * client_batch.c.
 *
 * Reading one object alone is a chain of round trips: OPEN of column 0 (which tells the
 * stored layout), OPEN of the other columns, READ, CLOSE. A batch goes step by step over
 * all its objects at once, each step one cnio__stack_calls: four round trips for the
 * batch instead of four per object. Every object passes the checks cnio__obj_open makes
 * of a read-only open (the stored layout held by every host, no interrupted upload,
 * update or commit on any column: cnio__cl_state) before its bytes count, and is found
 * unchanged after the READ, no writer in place holding it (a STAT sent with the CLOSE:
 * gt_close); an object that fails a step keeps its error and is left out of the later
 * ones.
 */
#include "common.h"
#include "client_int.h"
#include "layout.h"

#include <stdlib.h>
#include <string.h>

enum { GT_PL = CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME };

struct gt_obj {
    struct cnio_layout l;                   /* the stored layout (column 0's reply) */
    struct cnio_wire_info info[CNIO_MAX_HOSTS];
    uint64_t handle[CNIO_MAX_HOSTS];
    uint8_t opened[CNIO_MAX_HOSTS];
};

struct gt {
    struct cnio_ns *ns;
    struct cnio_ns_get *g;
    struct gt_obj *o;
    int n;
    struct cnio_call *c;                    /* n * ns->n */
    int *who, *col;                         /* object and column of each call */
    uint8_t *pl;                            /* n * ns->n OPEN payloads */
    uint8_t (*rb)[CNIO_WIRE_INFO_SIZE];
};

/* Runs the k calls built in t->c; each object whose call failed takes its error. */
static int gt_run(struct gt *t, int k)
{
    int ret = cnio__stack_calls(t->ns->st, t->c, k);

    for (int x = 0; x < k; x++)
        if (t->c[x].ep && t->c[x].status && !t->g[t->who[x]].status)
            t->g[t->who[x]].status = t->c[x].status;
    return ret == -CNIO_ERR_IO ? ret : 0;   /* the progress engine itself failed */
}

static struct cnio_call *gt_call(struct gt *t, int *k, int i, int j, uint16_t type,
                                 uint64_t object)
{
    struct cnio_call *c = &t->c[*k];

    t->who[*k] = i;
    t->col[*k] = j;
    *c = (struct cnio_call){ .ep = cnio__cl_ctl_ep(&t->ns->hosts[j]), .type = type,
                             .object = object, .what = t->g[i].path };
    (*k)++;
    return c;
}

/* Column 0's reply told the stored layout: it must fit the session's hosts. */
static int gt_layout(struct gt *t, int i)
{
    const struct cnio_wire_info *f = &t->o[i].info[0];

    t->o[i].l = (struct cnio_layout){ f->stripe_unit, f->stripe_count };
    if (cnio__layout_check(&t->o[i].l) || f->stripe_count > (uint32_t)t->ns->n ||
        f->stripe_index != 0)
        return -CNIO_ERR_LAYOUT;
    for (uint32_t j = 0; j < f->stripe_count; j++)
        if (!t->ns->hosts[j].nlanes || cnio__ep_error(t->ns->hosts[j].lanes[0]))
            return -CNIO_ERR_CONN;
    return 0;
}

/* Read-only OPEN of columns [from, to) of every live object (from > 0: up to its stored
 * count), as cnio__obj_open sends them. */
static int gt_open(struct gt *t, int from, int to)
{
    uint32_t want = t->ns->h.striping_factor ? t->ns->h.striping_factor : (uint32_t)t->ns->n;
    struct cnio_layout hint = { t->ns->h.striping_unit, CNIO_MIN(want, (uint32_t)t->ns->n) };
    int k = 0, ret;

    for (int i = 0; i < t->n; i++) {
        int end = from ? (int)t->o[i].l.count : to;

        for (int j = from; j < end && !t->g[i].status; j++) {
            uint8_t *pl = t->pl + (size_t)k * GT_PL;
            int len = cnio__cl_open_payload(0, j ? &t->o[i].l : &hint, (uint32_t)j,
                                            t->g[i].path, pl, GT_PL);
            struct cnio_call *c;

            if (len < 0) {
                t->g[i].status = len;
                break;
            }
            c = gt_call(t, &k, i, j, CNIO_WIRE_OPEN, 0);
            c->payload = pl;
            c->plen = (uint32_t)len;
            c->rbuf = t->rb[k - 1];
            c->rcap = CNIO_WIRE_INFO_SIZE;
        }
    }
    ret = gt_run(t, k);
    for (int x = 0; x < k; x++) {
        struct gt_obj *o = &t->o[t->who[x]];
        int i = t->who[x], j = t->col[x];

        if (t->c[x].status || !t->c[x].done)
            continue;
        o->opened[j] = 1;
        o->handle[j] = t->c[x].robject;
        if (cnio__wire_info_parse(t->rb[x], t->c[x].rlen, &o->info[j]) || !o->handle[j])
            t->g[i].status = t->g[i].status ? t->g[i].status : -CNIO_ERR_PROTO;
        else if (j == 0 && !t->g[i].status)
            t->g[i].status = gt_layout(t, i);
    }
    return ret;
}

/*
 * Every column holds the stored layout, and none is incomplete (as cnio__obj_open
 * checks); then the object's size, which must fit g->cap and column 0's first stripe.
 */
static int gt_check(struct gt *t, int i)
{
    struct gt_obj *o = &t->o[i];
    uint64_t size = o->info[0].size;

    for (uint32_t j = 0; j < o->l.count; j++) {
        const struct cnio_wire_info *f = &o->info[j];
        uint32_t state = 0;

        if (f->stripe_unit != o->l.unit || f->stripe_count != o->l.count ||
            f->stripe_index != j)
            return -CNIO_ERR_LAYOUT;
        cnio__cl_state(&state, f, o->info[0].gen);
        if (state & CNIO_OBJ_INCOMPLETE)
            return -CNIO_ERR_INCOMPLETE;
        size = CNIO_MAX(size, cnio__layout_logical_end(&o->l, j, f->local_size));
    }
    t->g[i].size = size;
    return size > t->g[i].cap || size > o->l.unit ? -CNIO_ERR_OVERFLOW : 0;
}

/* READ of each live object's bytes from column 0 (they lie in its first stripe). */
static int gt_read(struct gt *t, uint8_t (*want)[8])
{
    int k = 0, ret;

    for (int i = 0; i < t->n; i++)
        if (!t->g[i].status && t->g[i].size) {
            struct cnio_call *c = gt_call(t, &k, i, 0, CNIO_WIRE_READ, t->o[i].handle[0]);

            cnio__wire_u64_encode(t->g[i].size, want[i], sizeof(want[i]));
            c->payload = want[i];
            c->plen = 8;
            c->rbuf = t->g[i].buf;
            c->rcap = (uint32_t)t->g[i].size;
        }
    ret = gt_run(t, k);
    for (int x = 0; x < k; x++) {   /* a column shorter than the size: holes, read as 0 */
        struct cnio_ns_get *g = &t->g[t->who[x]];

        if (!t->c[x].status && t->c[x].rlen < g->size)
            memset((uint8_t *)g->buf + t->c[x].rlen, 0, g->size - t->c[x].rlen);
    }
    return ret;
}

/* Whether what a host said of its column (a, b) differs in what a write of it changes:
 * its generation with its update count mixed in, its size, local size or mtime (as
 * cnio__obj_inplace's mark). */
static int gt_moved(const struct cnio_wire_info *a, const struct cnio_wire_info *b)
{
    return a->gen != b->gen || a->size != b->size || a->local_size != b->local_size ||
           a->mtime_ns != b->mtime_ns;
}

/* STAT by handle (with F_INPLACE where its server takes it) of column j of object i,
 * into t->c[*k]; 0, or the error of its payload. */
static int gt_stat_call(struct gt *t, int *k, int i, int j)
{
    uint8_t *pl = t->pl + (size_t)*k * GT_PL;
    int len = cnio__cl_open_payload(0, NULL, 0, t->g[i].path, pl, GT_PL);
    struct cnio_call *c;

    if (len < 0)
        return len;
    c = gt_call(t, k, i, j, CNIO_WIRE_STAT, t->o[i].handle[j]);
    c->flags = cnio__ep_caps(c->ep) & CNIO_WIRE_CAP_INPLACE ? CNIO_WIRE_F_INPLACE : 0;
    c->payload = pl;
    c->plen = (uint32_t)len;
    c->rbuf = t->rb[*k - 1];
    c->rcap = CNIO_WIRE_INFO_SIZE;
    return 0;
}

/*
 * CLOSE of every handle opened; first, when stat is set (the READ succeeded), a STAT
 * by handle of every column of each object read, in the same round trip: a server
 * takes a connection's requests in order, so each STAT comes after the READ's bytes
 * left and before its handle's CLOSE. An object that a live writer has open in place
 * then, or whose columns changed since the OPEN (a writer that came, or came and went:
 * its clean close counts an update on every host), may have been read as a mix of old
 * and new bytes, and gets -CNIO_ERR_OVERFLOW: read it alone, where a copy looks before
 * and after each pass and makes it again. So does one whose STAT failed, and one whose
 * update in place was interrupted (I_DIRTY: its writer went without closing it), which
 * its own open then refuses.
 */
static void gt_close(struct gt *t, int stat)
{
    int k = 0, nstat;

    for (int i = 0; stat && i < t->n; i++)
        for (uint32_t j = 0; j < t->o[i].l.count && !t->g[i].status; j++)
            t->g[i].status = gt_stat_call(t, &k, i, (int)j);
    nstat = k;
    for (int i = 0; i < t->n; i++)
        for (int j = 0; j < t->ns->n; j++)
            if (t->o[i].opened[j])
                gt_call(t, &k, i, j, CNIO_WIRE_CLOSE, t->o[i].handle[j]);
    cnio__stack_calls(t->ns->st, t->c, k);   /* a read-only close changes nothing */
    for (int x = 0; x < nstat; x++) {
        struct cnio_ns_get *g = &t->g[t->who[x]];
        const struct cnio_wire_info *was = &t->o[t->who[x]].info[t->col[x]];
        struct cnio_wire_info now;

        if (g->status)
            continue;
        if (t->c[x].status || !t->c[x].done ||
            cnio__wire_info_parse(t->rb[x], t->c[x].rlen, &now) ||
            (now.flags & (CNIO_WIRE_I_INPLACE | CNIO_WIRE_I_DIRTY)) || gt_moved(&now, was))
            g->status = -CNIO_ERR_OVERFLOW;
    }
}

static int gt_steps(struct gt *t)
{
    uint8_t (*want)[8] = calloc((size_t)t->n, sizeof(*want));
    int ret = want ? gt_open(t, 0, 1) : -CNIO_ERR_NOMEM;

    if (!ret)
        ret = gt_open(t, 1, 0);
    for (int i = 0; !ret && i < t->n; i++)
        if (!t->g[i].status)
            t->g[i].status = gt_check(t, i);
    if (!ret)
        ret = gt_read(t, want);
    for (int i = 0; ret && i < t->n; i++)
        if (!t->g[i].status)
            t->g[i].status = ret;
    gt_close(t, !ret);
    free(want);
    return ret == -CNIO_ERR_NOMEM ? ret : 0;
}

int cnio__ns_get_small(struct cnio_ns *ns, struct cnio_ns_get *g, int n)
{
    struct gt t = { .ns = ns, .g = g, .n = n };
    size_t calls;
    int ret;

    if (!ns || (n && !g) || n < 0)
        return -CNIO_ERR_INVAL;
    for (int i = 0; i < n; i++) {
        g[i].status = 0;
        g[i].size = 0;
        if (!g[i].path || !g[i].path[0] || (g[i].cap && !g[i].buf) ||
            g[i].cap > cnio__ep_max_payload(cnio__cl_ctl_ep(&ns->hosts[0])))
            return -CNIO_ERR_INVAL;
    }
    if (n == 0)
        return 0;
    if (!ns->hosts[0].nlanes || cnio__ep_error(ns->hosts[0].lanes[0]))
        return -CNIO_ERR_CONN;   /* a broken session: the caller opens a new one */
    calls = (size_t)n * (size_t)ns->n;
    t.o = calloc((size_t)n, sizeof(*t.o));
    t.c = calloc(2 * calls, sizeof(*t.c));   /* (the last step: STATs and CLOSEs) */
    t.who = calloc(2 * calls, sizeof(*t.who));
    t.col = calloc(2 * calls, sizeof(*t.col));
    t.pl = malloc(calls * GT_PL);
    t.rb = calloc(calls, CNIO_WIRE_INFO_SIZE);
    ret = t.o && t.c && t.who && t.col && t.pl && t.rb ? gt_steps(&t) : -CNIO_ERR_NOMEM;
    free(t.o);
    free(t.c);
    free(t.who);
    free(t.col);
    free(t.pl);
    free(t.rb);
    return ret;
}
