/*
 * client_batch.c - many small objects written over one namespace session, several
 * requests in flight on each connection (cnio__ns_put_small).
 *
 * The wire protocol lets a client keep up to `credits` requests in flight on a
 * connection and answers them in order (doc/protocol.md, "Flow control"). One object is
 * a chain of dependent requests - OPEN (the handle comes in its reply), WRITE, SETSIZE,
 * COMMIT, CLOSE - so one object alone pays a round trip for each. A batch instead goes
 * step by step over all its objects at once: every object's OPEN of column 0, then every
 * OPEN of the other columns, every WRITE, every SETSIZE, every COMMIT (column 0 first,
 * as client_commit.c does), every CLOSE, every SETATTR; each step is one
 * cnio__stack_calls, which keeps each connection's credits full. A batch of n objects
 * thus costs about seven round trips instead of 7n. An object that fails at a step is
 * left out of the later ones and its staged instance is discarded (ABORT); nothing of it
 * becomes visible.
 *
 * An object of at most one stripe has all its bytes in column 0, so a batch's objects
 * get one column (on the URI's first host) unless the striping_factor hint asks for more:
 * columns on the other hosts would be empty files, each with its staged instance,
 * metadata, block sums and commit, and four more requests per host and object.
 */
#include "common.h"
#include "client_int.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct bt_obj {
    uint64_t stage;
    uint64_t handle[CNIO_MAX_HOSTS];
    uint8_t opened[CNIO_MAX_HOSTS];
};

struct bt {
    struct cnio_ns *ns;
    struct cnio_ns_put *p;
    struct bt_obj *o;
    int n, cols;
    struct cnio_layout l;
    struct cnio_call *c;        /* n * cols */
    int *who, *col;             /* object and column of each call */
    uint8_t *pl;                /* n * cols OPEN payloads */
    uint8_t (*rb)[CNIO_WIRE_INFO_SIZE];
};

enum { BT_PL = CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME };

/* Runs the k calls built in b->c, and fails each object whose call failed. */
static int bt_run(struct bt *b, int k)
{
    int ret = cnio__stack_calls(b->ns->st, b->c, k);

    for (int i = 0; i < k; i++)
        if (b->c[i].ep && b->c[i].status && !b->p[b->who[i]].status)
            b->p[b->who[i]].status = b->c[i].status;
    return ret == -CNIO_ERR_IO ? ret : 0;   /* the progress engine itself failed */
}

static void bt_call(struct bt *b, int *k, int i, int col, uint16_t type, uint64_t object,
                    uint64_t offset, const void *pl, uint32_t plen, int want_info)
{
    b->who[*k] = i;
    b->col[*k] = col;
    b->c[*k] = (struct cnio_call){ .ep = cnio__cl_ctl_ep(&b->ns->hosts[col]), .type = type,
                                   .what = b->p[i].path,
                                   .object = object, .offset = offset, .payload = pl,
                                   .plen = plen, .rbuf = want_info ? b->rb[*k] : NULL,
                                   .rcap = want_info ? CNIO_WIRE_INFO_SIZE : 0 };
    (*k)++;
}

/* OPEN of columns [from, to) of every live object. */
static int bt_open(struct bt *b, int from, int to)
{
    const uint32_t f = CNIO_WIRE_O_WRITE | CNIO_WIRE_O_CREATE | CNIO_WIRE_O_STAGE |
                       CNIO_WIRE_O_TRUNC;
    int k = 0, ret;

    for (int i = 0; i < b->n; i++)
        for (int j = from; j < to && !b->p[i].status; j++) {
            uint8_t *pl = b->pl + (size_t)k * BT_PL;
            int len = cnio__cl_open_payload(f, &b->l, (uint32_t)j, b->p[i].path, pl, BT_PL);

            if (len < 0) {
                b->p[i].status = len;
                break;
            }
            bt_call(b, &k, i, j, CNIO_WIRE_OPEN, 0, b->o[i].stage, pl, (uint32_t)len, 1);
        }
    ret = bt_run(b, k);
    for (int x = 0; x < k; x++) {
        struct bt_obj *o = &b->o[b->who[x]];
        int j = b->col[x];
        struct cnio_wire_info info;

        if (b->c[x].status)
            continue;
        o->opened[j] = 1;
        o->handle[j] = b->c[x].robject;
        if (cnio__wire_info_parse(b->rb[x], b->c[x].rlen, &info) || !o->handle[j])
            b->p[b->who[x]].status = -CNIO_ERR_PROTO;
        else if (!(info.flags & CNIO_WIRE_I_STAGED) || info.stripe_unit != b->l.unit ||
                 info.stripe_count != b->l.count || info.stripe_index != (uint32_t)j)
            b->p[b->who[x]].status = -CNIO_ERR_LAYOUT;
        else if (j == 0)
            o->stage = b->c[x].roffset;   /* the staged instance's id, for the others */
    }
    return ret;
}

/* One request of type on each column [from, to) of every live object. */
static int bt_each(struct bt *b, uint16_t type, int from, int to, const uint64_t *offset)
{
    int k = 0;

    for (int i = 0; i < b->n; i++)
        for (int j = from; j < to && !b->p[i].status; j++)
            bt_call(b, &k, i, j, type, b->o[i].handle[j], offset ? offset[i] : 0, NULL, 0,
                    type == CNIO_WIRE_SETSIZE);
    return bt_run(b, k);
}

/* WRITE of each live object's bytes to column 0 (they fit its first stripe); those its
 * host answered are sent (p[i].sent), whatever comes of the object after. */
static int bt_write(struct bt *b)
{
    int k = 0, ret;

    for (int i = 0; i < b->n; i++)
        if (!b->p[i].status && b->p[i].size) {
            b->who[k] = i;
            b->col[k] = 0;
            b->c[k] = (struct cnio_call){ .ep = cnio__cl_ctl_ep(&b->ns->hosts[0]),
                                          .type = CNIO_WIRE_WRITE, .what = b->p[i].path,
                                          .object = b->o[i].handle[0],
                                          .payload = b->p[i].data,
                                          .plen = (uint32_t)b->p[i].size };
            k++;
        }
    ret = bt_run(b, k);
    for (int x = 0; x < k; x++)
        if (b->c[x].status == 0)
            b->p[b->who[x]].sent = b->p[b->who[x]].size;
    return ret;
}

/* 1 when the host of every column announces capability cap. */
static int bt_can(const struct bt *b, uint32_t cap)
{
    for (int j = 0; j < b->cols; j++)
        if (!(cnio__ep_caps(cnio__cl_ctl_ep(&b->ns->hosts[j])) & cap))
            return 0;
    return 1;
}

/* PREPARE of every column first, when there are several (as cnio__cl_commit): an object
 * that one host cannot commit fails there, commits nowhere and is discarded; then
 * COMMIT, column 0 first when the servers pick the order. */
static int bt_commit(struct bt *b)
{
    uint64_t *order = calloc((size_t)b->n, sizeof(*order));
    int ret = 0;
    struct timespec ts;

    if (!order)
        return -CNIO_ERR_NOMEM;
    if (b->cols > 1 && bt_can(b, CNIO_WIRE_CAP_PREPARE))
        ret = bt_each(b, CNIO_WIRE_PREPARE, 0, b->cols, NULL);
    if (ret) {
        free(order);
        return ret;
    }
    if (bt_can(b, CNIO_WIRE_CAP_ORDER)) {
        int k = 0;

        for (int i = 0; i < b->n; i++)
            if (!b->p[i].status)
                bt_call(b, &k, i, 0, CNIO_WIRE_COMMIT, b->o[i].handle[0], 0, NULL, 0, 0);
        ret = bt_run(b, k);
        for (int x = 0; x < k; x++)
            order[b->who[x]] = b->c[x].roffset;
        if (!ret)
            ret = bt_each(b, CNIO_WIRE_COMMIT, 1, b->cols, order);
    } else {
        clock_gettime(CLOCK_REALTIME, &ts);
        for (int i = 0; i < b->n; i++)
            order[i] = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        ret = bt_each(b, CNIO_WIRE_COMMIT, 1, b->cols, order);
        if (!ret)
            ret = bt_each(b, CNIO_WIRE_COMMIT, 0, 1, order);
    }
    free(order);
    return ret;
}

/*
 * CLOSE of every live object's handles; ABORT of every failed one's (released then).
 * In the same round, UNLINK of every committed object's name on the session's hosts
 * past its columns, which must hold nothing of it now: what a write of the name through
 * another order of the same hosts left there (cnio://B,A/x puts a one-column x on B,
 * cnio://A,B/x then on A). Left there, it was read back through the other order, whole
 * and stale, with exit 0, and a tree's listing through either took both for one torn
 * object. A host that holds nothing there answers NOENT; whatever it answers, the
 * committed object stands.
 */
static int bt_release(struct bt *b)
{
    int k = 0;

    for (int i = 0; i < b->n; i++) {
        for (int j = 0; j < b->cols; j++)
            if (b->o[i].opened[j])
                bt_call(b, &k, i, j, b->p[i].status ? CNIO_WIRE_ABORT : CNIO_WIRE_CLOSE,
                        b->o[i].handle[j], 0, NULL, 0, 0);
        for (int j = b->cols; j < b->ns->n && !b->p[i].status; j++) {
            uint8_t *pl = b->pl + (size_t)k * BT_PL;
            int len = cnio__cl_open_payload(0, NULL, 0, b->p[i].path, pl, BT_PL);

            if (len < 0)
                break;
            bt_call(b, &k, i, j, CNIO_WIRE_UNLINK, 0, 0, pl, (uint32_t)len, 0);
        }
    }
    for (int x = 0; x < k; x++)   /* the status of a close does not undo a commit */
        b->c[x].status = 0;
    cnio__stack_calls(b->ns->st, b->c, k);
    return 0;
}

/* SETATTR of every committed object that asks for it, on each host of its columns (the
 * others do not have it). */
static int bt_setattr(struct bt *b)
{
    int k = 0;

    for (int i = 0; i < b->n; i++)
        for (int j = 0; j < b->cols && !b->p[i].status && b->p[i].mode; j++) {
            struct cnio_wire_open o = { .stripe_unit = b->p[i].mode, .name = b->p[i].path,
                                        .name_len = (uint32_t)strlen(b->p[i].path) };
            uint8_t *pl = b->pl + (size_t)k * BT_PL;
            int len = cnio__wire_open_encode(&o, pl, BT_PL);

            if (len < 0) {
                b->p[i].status = len;
                break;
            }
            bt_call(b, &k, i, j, CNIO_WIRE_SETATTR, 0, 0, pl, (uint32_t)len, 0);
            cnio__cl_setattr_mtime(&b->c[k - 1], b->p[i].mtime_ns);
        }
    return bt_run(b, k);
}

static int bt_steps(struct bt *b)
{
    int ret = bt_open(b, 0, 1);

    if (!ret && b->cols > 1)
        ret = bt_open(b, 1, b->cols);
    if (!ret)
        ret = bt_write(b);
    if (!ret) {
        uint64_t *size = calloc((size_t)b->n, sizeof(*size));

        for (int i = 0; size && i < b->n; i++)
            size[i] = b->p[i].size;
        ret = size ? bt_each(b, CNIO_WIRE_SETSIZE, 0, b->cols, size) : -CNIO_ERR_NOMEM;
        free(size);
    }
    if (!ret)
        ret = bt_commit(b);
    for (int i = 0; ret && i < b->n; i++)
        if (!b->p[i].status)
            b->p[i].status = ret;
    bt_release(b);
    return bt_setattr(b);
}

int cnio__ns_put_small(struct cnio_ns *ns, struct cnio_ns_put *p, int n)
{
    struct bt b = { .ns = ns, .p = p, .n = n };
    uint32_t want;
    int ret;

    if (!ns || (n && !p) || n < 0)
        return -CNIO_ERR_INVAL;
    /* All of an object of one stripe is in column 0: one column, unless the hints ask. */
    want = ns->h.striping_factor ? ns->h.striping_factor : 1;
    b.l = (struct cnio_layout){ ns->h.striping_unit, CNIO_MIN(want, (uint32_t)ns->n) };
    b.cols = (int)b.l.count;
    if (cnio__layout_check(&b.l))
        return -CNIO_ERR_LAYOUT;
    for (int j = 0; j < ns->n; j++)
        if (!ns->hosts[j].nlanes || cnio__ep_error(ns->hosts[j].lanes[0]))
            return -CNIO_ERR_CONN;   /* a broken session: the caller opens a new one */
    for (int i = 0; i < n; i++) {
        p[i].status = 0;
        p[i].sent = 0;
        if (!p[i].path || !p[i].path[0] || p[i].size > b.l.unit || (p[i].size && !p[i].data) ||
            p[i].size > cnio__ep_max_payload(cnio__cl_ctl_ep(&ns->hosts[0])) ||
            p[i].mode > 0xffffu)
            return -CNIO_ERR_INVAL;
    }
    if (n == 0)
        return 0;
    b.o = calloc((size_t)n, sizeof(*b.o));
    b.c = calloc((size_t)n * (size_t)ns->n, sizeof(*b.c));
    b.who = calloc((size_t)n * (size_t)ns->n, sizeof(*b.who));
    b.col = calloc((size_t)n * (size_t)ns->n, sizeof(*b.col));
    b.pl = malloc((size_t)n * (size_t)ns->n * BT_PL);
    b.rb = calloc((size_t)n * (size_t)ns->n, CNIO_WIRE_INFO_SIZE);
    ret = b.o && b.c && b.who && b.col && b.pl && b.rb ? 0 : -CNIO_ERR_NOMEM;
    for (int i = 0; !ret && i < n; i++)
        while (!ret && !b.o[i].stage)
            ret = cnio__random(&b.o[i].stage, sizeof(b.o[i].stage)) ? -CNIO_ERR_IO : 0;
    if (!ret)
        ret = bt_steps(&b);
    free(b.o);
    free(b.c);
    free(b.who);
    free(b.col);
    free(b.pl);
    free(b.rb);
    return ret;
}
