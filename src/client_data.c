/*
 * client_data.c - the data path of an object (src/client.h): vectored writes and reads
 * over every lane of every host, and their contiguous forms.
 *
 * Every transfer is split into pieces of at most 1 MiB that never cross a stripe, and
 * every lane of every host is kept busy: each host column has a cursor over the caller's
 * pieces (it skips the stripes other columns hold), and whenever a lane has a credit free
 * it takes that column's next piece. The stack's progress engine then moves all lanes at
 * once. WRITE payloads go out of, and READ replies land in, the caller's memory directly.
 * On an error nothing new is issued, what is in flight drains (bounded by the endpoints'
 * timeouts), and the first error is returned.
 *
 * A READ whose data arrives but fails its CRC32C (stack_rx.c) is asked again, up to
 * CL_READ_AGAIN times, before its checksum error counts: a server sends a large READ
 * from the page cache under a CRC combined from its stored block sums, and a writer in
 * place that opens and writes between the two changes the bytes under that CRC (MPI-IO
 * lets the read see old and new bytes, not fail). The server cannot know at the READ
 * that a writer will come. Damage at rest, or on every way through, fails each time.
 */
#include "common.h"
#include "client_int.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

#define CL_READ_AGAIN 3

/* The unfilled end of a short READ reply: bytes a host did not hold. */
struct cl_tail {
    uint8_t *buf;
    uint64_t off;               /* its logical offset */
    uint64_t len;
};

struct cl_run {
    struct cnio_obj *obj;
    const struct cnio_xfer *x;
    size_t n;
    int write;
    size_t pending;
    int err;
    int sent;                   /* a request went out: a failed write may have torn obj */
    uint64_t end;               /* reads: largest logical end returned */
    struct cl_tail *tails;      /* reads: zeroed below the object's end once it is known */
    size_t ntails, cap_tails;
    struct cl_again *again;     /* reads: pieces whose data failed its CRC, to ask again */
    size_t nagain, cap_again;
};

/* A READ piece to ask again: its host column, where, and how often it was asked. */
struct cl_again {
    uint32_t j;
    uint64_t local_off, logical;
    uint32_t len;
    uint8_t *buf;
    uint32_t asked;
};

/* Keeps a short reply's unfilled end for cl_fill_tails; without memory for it, zeroes it
 * now (a hole must read as zeros; past the end, leaving it is only a nicety). */
static void cl_add_tail(struct cl_run *run, uint8_t *buf, uint64_t off, uint64_t len)
{
    if (run->ntails == run->cap_tails) {
        size_t cap = run->cap_tails ? 2 * run->cap_tails : 8;
        struct cl_tail *t = realloc(run->tails, cap * sizeof(*t));

        if (!t) {
            memset(buf, 0, len);
            return;
        }
        run->tails = t;
        run->cap_tails = cap;
    }
    run->tails[run->ntails++] = (struct cl_tail){ buf, off, len };
}

/* Zeroes what the hosts did not return below eof (holes); what lies past it is left as the
 * caller had it, as read(2) leaves a buffer past its count. */
static void cl_fill_tails(struct cl_run *run, uint64_t eof)
{
    for (size_t i = 0; i < run->ntails; i++) {
        const struct cl_tail *t = &run->tails[i];

        if (t->off < eof)
            memset(t->buf, 0, (size_t)CNIO_MIN(t->len, eof - t->off));
    }
    free(run->tails);
    run->tails = NULL;
    run->ntails = run->cap_tails = 0;
}

/* Keeps r's piece to ask again: 1, or 0 without memory for it. */
static int cl_add_again(struct cl_run *run, const struct cnio_req *r)
{
    if (run->nagain == run->cap_again) {
        size_t cap = run->cap_again ? 2 * run->cap_again : 4;
        struct cl_again *a = realloc(run->again, cap * sizeof(*a));

        if (!a)
            return 0;
        run->again = a;
        run->cap_again = cap;
    }
    run->again[run->nagain++] = (struct cl_again){
        .j = r->u32 & 0xffffu, .local_off = r->offset, .logical = r->u64, .len = r->rcap,
        .buf = r->rbuf, .asked = (r->u32 >> 16) + 1,
    };
    return 1;
}

static void cl_piece_done(struct cnio_req *r)
{
    struct cl_run *run = r->arg;
    struct cnio__cl_host *host = &run->obj->hosts[r->u32 & 0xffffu];
    uint64_t moved = run->write ? r->plen : r->rlen;
    char hp[CNIO_HOSTPORT_MAX];

    run->pending--;
    if (r->garbled && r->u32 >> 16 < CL_READ_AGAIN && !run->err &&
        cl_add_again(run, r)) {
        cnio__info("%s: host %s: the data of a READ failed its CRC32C; asking again (a "
                   "writer in place may have changed it during the send)", run->obj->path,
                   cnio__hostport(hp, sizeof(hp), host->name, host->port));
        return;
    }
    if (r->status) {
        /* the first failure names its host, the caller's error cannot (a reason's line
         * named both already) */
        if (!run->err && !r->reasoned)
            cnio__cl_host_failed(run->obj, (int)(r->u32 & 0xffffu), CNIO__CL_LOST_XFER,
                                 r->status);
        if (!run->err)
            run->err = r->status;
        return;
    }
    if (!run->write) {
        if (r->rlen < r->rcap)
            cl_add_tail(run, (uint8_t *)r->rbuf + r->rlen, r->u64 + r->rlen, r->rcap - r->rlen);
        if (r->rlen)
            run->end = CNIO_MAX(run->end, r->u64 + r->rlen);
        run->obj->stats.bytes_read += moved;
    } else {
        run->obj->stats.bytes_written += moved;
    }
    host->bytes += moved;
}

/* The next piece of column j, at most cap bytes: 1 (filled), 0 when column j has
 * nothing left. */
static int cl_next_piece(struct cl_run *run, uint32_t j, uint64_t cap, struct cnio_piece *p,
                         uint64_t *logical, uint8_t **buf)
{
    const struct cnio_layout *l = &run->obj->layout;
    struct cnio__cl_host *host = &run->obj->hosts[j];

    while (host->xi < run->n) {
        const struct cnio_xfer *x = &run->x[host->xi];
        uint64_t off = x->off + host->pos, stripe = off / l->unit;
        uint32_t col = (uint32_t)(stripe % l->count);

        if (host->pos >= x->len) {
            host->xi++;
            host->pos = 0;
            continue;
        }
        if (col != j) {
            uint64_t next = (stripe + (j + l->count - col) % l->count) * l->unit;

            if (next >= x->off + x->len) {
                host->xi++;
                host->pos = 0;
            } else {
                host->pos = next - x->off;
            }
            continue;
        }
        *p = cnio__layout_piece(l, off, x->len - host->pos);
        p->len = CNIO_MIN(p->len, cap);
        *logical = off;
        *buf = (uint8_t *)x->buf + host->pos;
        host->pos += p->len;
        return 1;
    }
    return 0;
}

/* Submits the piece a on ep: 1 submitted, -1 error. r->u32 carries the host column,
 * and in its high 16 bits how often a READ of the piece was asked before. */
static int cl_submit(struct cl_run *run, struct cnio_ep *ep, const struct cl_again *a)
{
    struct cnio_obj *obj = run->obj;
    struct cnio_req *r;
    int ret;

    r = cnio__req_get(obj->st);
    if (!r) {
        run->err = -CNIO_ERR_NOMEM;
        return -1;
    }
    r->type = run->write ? CNIO_WIRE_WRITE : CNIO_WIRE_READ;
    r->what = obj->path;
    r->object = obj->hosts[a->j].handle;
    r->offset = a->local_off;
    if (run->write) {
        r->payload = a->buf;
        r->plen = a->len;
    } else {
        cnio__wire_u64_encode(a->len, r->inl, sizeof(r->inl));
        r->payload = r->inl;
        r->plen = 8;
        r->rbuf = a->buf;
        r->rcap = a->len;
    }
    r->done = cl_piece_done;
    r->arg = run;
    r->u32 = a->j | a->asked << 16;
    r->u64 = a->logical;
    run->pending++;
    obj->stats.requests++;
    ret = cnio__ep_submit(ep, r);
    if (ret) {
        run->pending--;
        run->err = ret;
        return -1;
    }
    run->sent = 1;
    return 1;
}

/* Submits on ep column j's next piece to ask again, else its next new one: 1 submitted,
 * 0 nothing left, -1 error. */
static int cl_submit_piece(struct cl_run *run, uint32_t j, struct cnio_ep *ep)
{
    uint64_t cap = CNIO_MIN((uint64_t)CNIO__CL_PIECE, (uint64_t)cnio__ep_max_payload(ep));
    struct cl_again a = { .j = j };
    struct cnio_piece p;

    for (size_t i = 0; i < run->nagain; i++)
        if (run->again[i].j == j) {
            a = run->again[i];
            run->again[i] = run->again[--run->nagain];
            return cl_submit(run, ep, &a);
        }
    if (!cl_next_piece(run, j, cap, &p, &a.logical, &a.buf))
        return 0;
    a.local_off = p.local_off;
    a.len = (uint32_t)p.len;
    return cl_submit(run, ep, &a);
}

static int cl_again_for(const struct cl_run *run, uint32_t j)
{
    for (size_t i = 0; i < run->nagain; i++)
        if (run->again[i].j == j)
            return 1;
    return 0;
}

/* Hands column j's pieces to its lanes while they have credits. */
static void cl_feed_host(struct cl_run *run, uint32_t j)
{
    struct cnio__cl_host *host = &run->obj->hosts[j];
    int idle = 0;

    while (!run->err && (host->xi < run->n || cl_again_for(run, j)) && idle < host->nlanes) {
        struct cnio_ep *ep = host->lanes[host->next_lane];
        int err = cnio__ep_error(ep);

        if (err) {
            run->err = err;
            return;
        }
        host->next_lane = (host->next_lane + 1) % host->nlanes;
        if (cnio__ep_free_credits(ep) == 0) {
            idle++;
            continue;
        }
        idle = 0;
        if (cl_submit_piece(run, j, ep) <= 0)
            return;
    }
}

static int cl_exhausted(const struct cl_run *run)
{
    if (run->nagain)
        return 0;
    for (int j = 0; j < run->obj->nhosts; j++)
        if (run->obj->hosts[j].xi < run->n)
            return 0;
    return 1;
}

static int cl_validate(const struct cnio_xfer *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (x[i].len == 0)
            continue;
        if (!x[i].buf)
            return -CNIO_ERR_INVAL;
        if (x[i].off > (uint64_t)INT64_MAX || x[i].len > (uint64_t)INT64_MAX - x[i].off)
            return -CNIO_ERR_OVERFLOW;
    }
    return 0;
}

/* Moves every piece of x over every host; drains what is in flight on error. */
static int cl_transfer(struct cl_run *run)
{
    struct cnio_obj *obj = run->obj;
    int64_t t0 = cnio__now_ns();
    int ret = cl_validate(run->x, run->n);
    uint8_t need[CNIO_MAX_HOSTS] = { 0 };

    if (ret)
        return ret;   /* refused before anything: the object is as it was */
    ret = cnio__cl_revive(obj);
    if (!ret) {
        cnio__cl_columns(obj, run->x, run->n, need);
        ret = cnio__cl_ensure(obj, need);   /* hosts not connected yet (attached on demand) */
        if (ret)
            cnio__cl_release(obj);
    }
    if (ret) {
        /* A write that reached no host leaves the update torn all the same: what this
         * handle wrote before is there, this is not. Untainted, the close vouched for
         * the object: a job whose ranks' first connection to a restarted server failed
         * closed with success, and the object read back as a mix of versions, complete
         * (helper-63); a new file committed with a hole. */
        if (run->write && (obj->oflags & CNIO_WIRE_O_WRITE))
            cnio__obj_taint(obj, ret);
        return ret;
    }
    for (int j = 0; j < obj->nhosts; j++) {
        obj->hosts[j].xi = need[j] ? 0 : run->n;   /* untouched: nothing to feed */
        obj->hosts[j].pos = 0;
    }
    for (;;) {
        for (int j = 0; j < obj->nhosts && !run->err; j++)
            cl_feed_host(run, (uint32_t)j);
        if (run->pending == 0 && (run->err || cl_exhausted(run)))
            break;
        ret = cnio__stack_progress(obj->st, -1);
        if (ret) {
            for (int j = 0; j < obj->nhosts; j++)
                for (int l = 0; l < obj->hosts[j].nlanes; l++)
                    cnio__ep_fail(obj->hosts[j].lanes[l], ret);
        }
    }
    free(run->again);
    run->again = NULL;
    run->nagain = run->cap_again = 0;
    obj->stats.net_ns += cnio__now_ns() - t0;
    cnio__cl_release(obj);   /* connections opened for this call alone (transient) */
    if (run->write && run->err && run->sent && (obj->oflags & CNIO_WIRE_O_WRITE))
        cnio__obj_taint(obj, run->err);   /* a read-only handle's writes change nothing */
    return run->err;
}

int cnio__obj_writex(struct cnio_obj *obj, const struct cnio_xfer *x, size_t n)
{
    struct cl_run run = { .obj = obj, .x = x, .n = n, .write = 1 };

    if (!obj || (n && !x))
        return -CNIO_ERR_INVAL;
    if (n)
        __atomic_add_fetch(&obj->writes, 1, __ATOMIC_RELAXED);
    return cl_transfer(&run);
}

int cnio__obj_readx(struct cnio_obj *obj, const struct cnio_xfer *x, size_t n,
                    uint64_t *end_out)
{
    struct cl_run run = { .obj = obj, .x = x, .n = n, .write = 0 };
    int ret;

    if (!obj || (n && !x))
        return -CNIO_ERR_INVAL;
    ret = cl_transfer(&run);
    cl_fill_tails(&run, UINT64_MAX);
    if (!ret && end_out)
        *end_out = run.end;
    return ret;
}

int cnio__obj_readx_eof(struct cnio_obj *obj, const struct cnio_xfer *x, size_t n,
                        uint64_t *eof)
{
    struct cl_run run = { .obj = obj, .x = x, .n = n, .write = 0 };
    uint64_t size = 0;
    int ret;

    if (!obj || (n && !x) || !eof)
        return -CNIO_ERR_INVAL;
    ret = cl_transfer(&run);
    if (!ret && run.ntails)   /* a host held less than asked: where does the object end? */
        ret = cnio__obj_size(obj, &size);
    cl_fill_tails(&run, ret ? 0 : CNIO_MAX(run.end, size));
    *eof = CNIO_MAX(run.end, size);
    return ret;
}

ssize_t cnio__obj_pwrite(struct cnio_obj *obj, const void *buf, size_t len, uint64_t off)
{
    struct cnio_xfer x = { off, len, (void *)buf };
    int ret;

    if (len > (size_t)SSIZE_MAX)
        return -CNIO_ERR_INVAL;
    ret = cnio__obj_writex(obj, &x, 1);
    return ret ? ret : (ssize_t)len;
}

ssize_t cnio__obj_pread(struct cnio_obj *obj, void *buf, size_t len, uint64_t off)
{
    struct cnio_xfer x = { off, len, buf };
    struct cl_run run = { .obj = obj, .x = &x, .n = 1, .write = 0 };
    uint64_t end;
    int ret;

    if (!obj || len > (size_t)SSIZE_MAX)
        return -CNIO_ERR_INVAL;
    ret = cl_transfer(&run);
    end = CNIO_MAX(run.end, obj->recorded);
    cl_fill_tails(&run, ret ? 0 : end);
    if (ret)
        return ret;
    if (end <= off)
        return 0;
    return (ssize_t)CNIO_MIN((uint64_t)len, end - off);
}
