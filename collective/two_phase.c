/*
 * two_phase.c - collective data access: cnio_file_write_at_all / cnio_file_read_at_all.
 *
 * The algorithm (ROMIO's two-phase I/O, with file domains cut along stripes):
 *
 *  1. Every rank maps its access through its view to file extents (access.c) and the
 *     ranks allgather (lo, hi, bytes, extents, rc). If every rank's extents average at
 *     least cnio_cb_direct_min bytes (16 KiB), romio_cb_* = automatic goes direct: each
 *     rank moves its own extents straight to the servers, pipelined over its endpoints.
 *     Aggregation pays for itself only on smaller pieces: it costs an MPI exchange (a
 *     copy or two of every byte) to save requests, and a server request costs about as
 *     much as 8 KiB of payload. Measured (4 ranks x 4 servers on loopback, 2 cores):
 *     IOR-style 1 MiB segments, write/read 1.39/1.45 GB/s aggregated against 2.85/3.32
 *     direct; 2-D subarray rows of 46 KiB 1.15/0.95 against 2.36/1.88; of 16 KiB 0.62
 *     against 1.91 (write); of 8 KiB 0.69 against 0.99; of 4 KiB 0.57 against 0.53.
 *  2. Otherwise A aggregators (hint cb_nodes; default one per stripe column, at most
 *     one per rank) own the file's stripes cyclically so that each aggregator talks to
 *     as few servers as possible: with A <= C (stripe count), aggregator a owns every
 *     stripe on the columns j with j mod A == a; with A > C, the aggregators of column j
 *     take turns by stripe row.
 *  3. The accessed range is cut into rounds of whole stripe rows, sized so that each
 *     aggregator holds about cb_buffer_size bytes per round. In each round every rank
 *     sends each aggregator the (offset, length) pieces it has in that aggregator's
 *     stripes (MPI_Alltoall of counts, MPI_Alltoallv of descriptors and data); the
 *     aggregator places them into a buffer of its stripes, merges them into runs, and
 *     writes the runs over its own endpoints. Reads run the same plan backwards: the
 *     aggregator reads the runs, then returns each rank its pieces.
 *  4. Each round starts with an agreement (MPI_Allreduce, MIN) on every rank's status, so
 *     a failed server or allocation stops every rank at the same round; the call ends
 *     with one more agreement, and all ranks return the same code. The same reduction
 *     finds the next round that holds any rank's data, and the rounds between, which
 *     hold none, are skipped: accesses far apart (a rank at 0, another at 1 TiB) cost
 *     what their bytes cost, not a round per cb_buffer_size of the span between them.
 */
#include "access.h"
#include "client.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct tp_plan {
    int nagg, my_agg;
    int *agg_rank;              /* aggregator index -> rank */
    int *agg_of_rank;           /* rank -> aggregator index or -1 */
    uint64_t S, C;
    uint64_t glo, ghi;          /* accessed range over all ranks */
    uint64_t rows;              /* stripe rows per round */
    int64_t nrounds;
};

/* One piece of this rank's access in one round: file range, stream position, owner. */
struct tp_piece {
    int64_t off, len, pos;
    int agg;
};

/* Per-round buffers, reused across rounds. */
struct tp_bufs {
    struct tp_piece *pc;
    int64_t npc, cappc;
    int *scount, *sdispl, *rcount, *rdispl;  /* per rank, in units of the exchange */
    int *cnt;                                /* Alltoall counts: [npieces, nbytes] per rank */
    int *rcnt;
    int64_t *sdesc, *rdesc;
    size_t cap_sdesc, cap_rdesc;
    char *sdata, *rdata, *dom;
    size_t cap_sdata, cap_rdata, cap_dom;
    int64_t *slot;              /* stripe (relative to the round's first) -> slot or -1 */
    size_t cap_slot;
    struct cnio_xfer *x;
    size_t cap_x;
    int64_t np_in;              /* pieces this aggregator received this round */
    uint64_t rlo;               /* the round's first byte */
};

static int tp_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    void *q;

    if (need <= *cap)
        return 0;
    need = CNIO_MAX(need, *cap * 2);
    q = realloc(*p, need * elem);
    if (!q)
        return -CNIO_ERR_NOMEM;
    *p = q;
    *cap = need;
    return 0;
}

static int tp_owner(const struct tp_plan *p, uint64_t stripe)
{
    uint64_t j = stripe % p->C, k = stripe / p->C, m;

    if ((uint64_t)p->nagg <= p->C)
        return (int)(j % (uint64_t)p->nagg);
    m = ((uint64_t)p->nagg - 1 - j) / p->C + 1;
    return (int)(j + p->C * (k % m));
}

/* What every rank tells every other before the plan: its range, bytes and status. */
struct tp_summary {
    int64_t lo, hi, nbytes, next, rc;
};

/*
 * 1 when the access can skip aggregation (romio_cb_* = automatic): every rank's extents
 * average at least min_avg bytes, so the requests it sends number at most its bytes over
 * min_avg (plus one per stripe boundary), whatever the sizes of the single pieces.
 */
static int tp_direct_ok(const struct tp_summary *all, int n, uint64_t min_avg)
{
    for (int r = 0; r < n; r++)
        if (all[r].nbytes > 0 &&
            (all[r].next <= 0 || (uint64_t)(all[r].nbytes / all[r].next) < min_avg))
            return 0;
    return 1;
}

static int tp_plan_make(cnio_file_t *fh, const struct tp_summary *all, struct tp_plan *p)
{
    const struct cnio_layout *l = cnio__obj_layout(fh->obj);
    uint64_t per_agg_row;

    memset(p, 0, sizeof(*p));
    p->S = l->unit;
    p->C = l->count;
    p->glo = UINT64_MAX;
    for (int r = 0; r < fh->size; r++)
        if (all[r].nbytes) {
            p->glo = CNIO_MIN(p->glo, (uint64_t)all[r].lo);
            p->ghi = CNIO_MAX(p->ghi, (uint64_t)all[r].hi);
        }
    p->nagg = fh->hints.cb_nodes ? (int)fh->hints.cb_nodes : (int)p->C;
    if (fh->route_nagg)
        p->nagg = fh->route_nagg;   /* chosen so the connection budget holds */
    p->nagg = CNIO_MAX(1, CNIO_MIN(p->nagg, fh->size));
    p->agg_rank = malloc((size_t)p->nagg * sizeof(int));
    p->agg_of_rank = malloc((size_t)fh->size * sizeof(int));
    if (!p->agg_rank || !p->agg_of_rank)
        return -CNIO_ERR_NOMEM;
    for (int r = 0; r < fh->size; r++)
        p->agg_of_rank[r] = -1;
    for (int a = 0; a < p->nagg; a++) {
        p->agg_rank[a] = (int)((int64_t)a * fh->size / p->nagg);
        p->agg_of_rank[p->agg_rank[a]] = a;
    }
    p->my_agg = p->agg_of_rank[fh->rank];
    /* Bytes one aggregator owns per stripe row, rounded up. */
    per_agg_row = (p->C + (uint64_t)p->nagg - 1) / (uint64_t)p->nagg * p->S;
    if ((uint64_t)p->nagg > p->C)
        per_agg_row = p->S;
    p->rows = CNIO_MAX(1, fh->hints.cb_buffer_size / per_agg_row);
    if ((uint64_t)p->nagg > p->C)
        p->rows *= ((uint64_t)p->nagg + p->C - 1) / p->C;
    if (p->ghi > p->glo) {
        uint64_t row = p->S * p->C, k0 = p->glo / row, k1 = (p->ghi + row - 1) / row;
        p->nrounds = (int64_t)((k1 - k0 + p->rows - 1) / p->rows);
    }
    return 0;
}

static void tp_plan_free(struct tp_plan *p)
{
    free(p->agg_rank);
    free(p->agg_of_rank);
}

/*
 * Connects this rank (collectively, paced: connect.c) to the servers its file domain
 * touches when it aggregates: the columns of the stripes it owns in [glo, ghi). The
 * owners repeat every C x (nagg / C + 2) stripes at most, so that many are looked at.
 */
static int tp_connect(cnio_file_t *fh, const struct tp_plan *p, int rc)
{
    uint8_t need[CNIO_MAX_HOSTS] = { 0 };

    if (rc == 0 && p->my_agg >= 0 && p->ghi > p->glo) {
        uint64_t s0 = p->glo / p->S, s1 = (p->ghi - 1) / p->S;
        uint64_t span = p->C * ((uint64_t)p->nagg / p->C + 2);

        for (uint64_t s = s0; s <= s1 && s - s0 < span; s++)
            if (tp_owner(p, s) == p->my_agg)
                need[s % p->C] = 1;
    }
    return cnio__coll_connect(fh, need);
}

/* The file range of round r. */
static void tp_round_range(const struct tp_plan *p, int64_t r, uint64_t *lo, uint64_t *hi)
{
    uint64_t row = p->S * p->C, k0 = p->glo / row;

    *lo = CNIO_MAX(p->glo, (k0 + (uint64_t)r * p->rows) * row);
    *hi = CNIO_MIN(p->ghi, (k0 + (uint64_t)(r + 1) * p->rows) * row);
}

struct tp_cursor {
    int64_t i, done, pos;       /* extent index, bytes of it done, stream position */
};

static int tp_cmp_agg(const void *a, const void *b)
{
    const struct tp_piece *x = a, *y = b;

    if (x->agg != y->agg)
        return x->agg < y->agg ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* This rank's pieces in [rlo, rhi), cut at stripes, grouped by aggregator. */
static int tp_collect(const struct tp_plan *p, const struct coll_access *a, struct tp_cursor *c,
                      uint64_t rhi, struct tp_bufs *b)
{
    b->npc = 0;
    while (c->i < a->next) {
        const struct cnio_extent *e = &a->ext[c->i];
        uint64_t start = (uint64_t)(e->off + c->done), end;
        int agg;

        if (start >= rhi)
            break;
        end = CNIO_MIN((uint64_t)(e->off + e->len), rhi);
        end = CNIO_MIN(end, (start / p->S + 1) * p->S);
        agg = tp_owner(p, start / p->S);
        if (b->npc && b->pc[b->npc - 1].agg == agg &&
            b->pc[b->npc - 1].off + b->pc[b->npc - 1].len == (int64_t)start &&
            b->pc[b->npc - 1].pos + b->pc[b->npc - 1].len == c->pos) {
            b->pc[b->npc - 1].len += (int64_t)(end - start);
        } else {
            size_t cap = (size_t)b->cappc;
            if (tp_grow((void **)&b->pc, &cap, (size_t)b->npc + 1, sizeof(*b->pc)))
                return -CNIO_ERR_NOMEM;
            b->cappc = (int64_t)cap;
            b->pc[b->npc++] = (struct tp_piece){ (int64_t)start, (int64_t)(end - start), c->pos, agg };
        }
        c->pos += (int64_t)(end - start);
        c->done += (int64_t)(end - start);
        if (c->done == e->len)
            c->i++, c->done = 0;
    }
    if (b->npc > 1)   /* (b->pc may be NULL: no piece yet) */
        qsort(b->pc, (size_t)b->npc, sizeof(*b->pc), tp_cmp_agg);
    return 0;
}

/* Counts per destination rank: cnt[2r] pieces, cnt[2r+1] bytes. */
static int tp_counts(const struct tp_plan *p, int nranks, struct tp_bufs *b)
{
    memset(b->cnt, 0, 2 * (size_t)nranks * sizeof(int));
    for (int64_t k = 0; k < b->npc; k++) {
        int r = p->agg_rank[b->pc[k].agg];
        if (b->cnt[2 * r] > INT32_MAX / 2 - 1 || b->pc[k].len > INT32_MAX - b->cnt[2 * r + 1])
            return -CNIO_ERR_OVERFLOW;
        b->cnt[2 * r]++;
        b->cnt[2 * r + 1] += (int)b->pc[k].len;
    }
    return 0;
}

/* Displacements from counts[stride*r + which] * mult; returns the total. */
static int64_t tp_displs(const int *counts, int stride, int which, int mult, int n, int *cnt,
                         int *displ)
{
    int64_t total = 0;

    for (int r = 0; r < n; r++) {
        cnt[r] = counts[stride * r + which] * mult;
        displ[r] = (int)total;
        total += cnt[r];
    }
    return total;
}

static int tp_mpi(int err)
{
    return err == MPI_SUCCESS ? 0 : -CNIO_ERR_MPI;
}

/* Slots of the aggregator's stripes in [rlo, rhi); returns their number or < 0. */
static int64_t tp_slots(const struct tp_plan *p, uint64_t rlo, uint64_t rhi, struct tp_bufs *b)
{
    uint64_t s0 = rlo / p->S, s1 = (rhi - 1) / p->S;
    int64_t n = 0;

    if (tp_grow((void **)&b->slot, &b->cap_slot, (size_t)(s1 - s0 + 1), sizeof(int64_t)))
        return -CNIO_ERR_NOMEM;
    for (uint64_t s = s0; s <= s1; s++)
        b->slot[s - s0] = tp_owner(p, s) == p->my_agg ? n++ : -1;
    if (tp_grow((void **)&b->dom, &b->cap_dom, (size_t)n * p->S, 1))
        return -CNIO_ERR_NOMEM;
    return n;
}

static char *tp_dom_at(const struct tp_plan *p, const struct tp_bufs *b, uint64_t rlo, int64_t off)
{
    uint64_t s = (uint64_t)off / p->S;

    return b->dom + b->slot[s - rlo / p->S] * (int64_t)p->S + (int64_t)((uint64_t)off % p->S);
}

static int tp_cmp_desc(const void *a, const void *b)
{
    const int64_t *x = a, *y = b;

    return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* The aggregator's runs: received pieces sorted, merged, cut at stripes, as transfers. */
static int tp_runs(const struct tp_plan *p, struct tp_bufs *b, int64_t npieces, uint64_t rlo,
                   size_t *nx)
{
    int64_t *d;
    size_t n = 0;

    d = malloc((size_t)CNIO_MAX(npieces, 1) * 2 * sizeof(int64_t));
    if (!d)
        return -CNIO_ERR_NOMEM;
    memcpy(d, b->rdesc, (size_t)npieces * 2 * sizeof(int64_t));
    qsort(d, (size_t)npieces, 2 * sizeof(int64_t), tp_cmp_desc);
    for (int64_t k = 0; k < npieces;) {
        int64_t lo = d[2 * k], hi = lo + d[2 * k + 1];

        for (k++; k < npieces && d[2 * k] <= hi; k++)
            hi = CNIO_MAX(hi, d[2 * k] + d[2 * k + 1]);
        for (int64_t off = lo; off < hi;) {
            int64_t end = CNIO_MIN(hi, (int64_t)(((uint64_t)off / p->S + 1) * p->S));
            if (tp_grow((void **)&b->x, &b->cap_x, n + 1, sizeof(*b->x))) {
                free(d);
                return -CNIO_ERR_NOMEM;
            }
            b->x[n++] = (struct cnio_xfer){ (uint64_t)off, (uint64_t)(end - off),
                                            tp_dom_at(p, b, rlo, off) };
            off = end;
        }
    }
    free(d);
    *nx = n;
    return 0;
}

/* Sender side: descriptors (and, for writes, data) grouped by aggregator. */
static int tp_pack_send(const struct coll_access *a, struct tp_bufs *b, int64_t nbytes)
{
    if (tp_grow((void **)&b->sdesc, &b->cap_sdesc, (size_t)b->npc * 2 + 1, sizeof(int64_t)) ||
        (a->write && tp_grow((void **)&b->sdata, &b->cap_sdata, (size_t)nbytes + 1, 1)))
        return -CNIO_ERR_NOMEM;
    for (int64_t k = 0, pos = 0; k < b->npc; k++) {
        b->sdesc[2 * k] = b->pc[k].off;
        b->sdesc[2 * k + 1] = b->pc[k].len;
        if (a->write)
            memcpy(b->sdata + pos, a->stream + b->pc[k].pos, (size_t)b->pc[k].len);
        pos += b->pc[k].len;
    }
    return 0;
}

/* Aggregator, write: place every received piece, then write the merged runs. */
static int tp_agg_write(cnio_file_t *fh, const struct tp_plan *p, struct tp_bufs *b,
                        int64_t npieces, uint64_t rlo)
{
    size_t nx = 0;
    int64_t pos = 0;
    int rc;

    for (int64_t k = 0; k < npieces; k++) {
        memcpy(tp_dom_at(p, b, rlo, b->rdesc[2 * k]), b->rdata + pos, (size_t)b->rdesc[2 * k + 1]);
        pos += b->rdesc[2 * k + 1];
    }
    rc = tp_runs(p, b, npieces, rlo, &nx);
    if (rc == 0 && nx)
        rc = cnio__obj_writex(fh->obj, b->x, nx);
    return rc;
}

/* Aggregator, read: read the merged runs, then lay out every rank's pieces to send back. */
/* b->sdata, which gets the pieces, was sized by tp_round before the agreement. */
static int tp_agg_read(cnio_file_t *fh, const struct tp_plan *p, struct tp_bufs *b,
                       int64_t npieces, uint64_t rlo, uint64_t *end)
{
    size_t nx = 0;
    uint64_t e = 0;
    int64_t pos = 0;
    int rc;

    rc = tp_runs(p, b, npieces, rlo, &nx);
    if (rc == 0 && nx)
        rc = cnio__obj_readx(fh->obj, b->x, nx, &e);
    *end = CNIO_MAX(*end, e);
    for (int64_t k = 0; k < npieces && rc == 0; k++) {
        memcpy(b->sdata + pos, tp_dom_at(p, b, rlo, b->rdesc[2 * k]), (size_t)b->rdesc[2 * k + 1]);
        pos += b->rdesc[2 * k + 1];
    }
    return rc;
}

/* Rank side, read: the returned data, in piece order per aggregator, into the stream. */
static void tp_scatter(struct coll_access *a, struct tp_bufs *b)
{
    int64_t pos = 0;

    for (int64_t k = 0; k < b->npc; k++) {
        memcpy(a->stream + b->pc[k].pos, b->rdata + pos, (size_t)b->pc[k].len);
        pos += b->pc[k].len;
    }
}

/* The round holding this rank's next byte not yet collected, or INT64_MAX (none). */
static int64_t tp_next_round(const struct tp_plan *p, const struct coll_access *a,
                             const struct tp_cursor *c)
{
    uint64_t row = p->S * p->C, at;

    if (c->i >= a->next)
        return INT64_MAX;
    at = (uint64_t)(a->ext[c->i].off + c->done);
    return (int64_t)((at / row - p->glo / row) / p->rows);
}

/*
 * One round of the plan (see the top of this file) up to its network I/O, which the
 * caller runs overlapped with a neighbouring round's exchange: pieces, counts, the
 * agreement on rc (this rank's status so far) and on *next (the next round any rank has
 * data in), descriptors and, for writes, data. Returns the agreed (or an MPI) status.
 */
static int tp_round(cnio_file_t *fh, const struct tp_plan *p, struct coll_access *a,
                    struct tp_cursor *c, int64_t r, struct tp_bufs *b, int rc, int64_t *next)
{
    int64_t agree[2], got[2];
    uint64_t rlo, rhi;
    int64_t np_in = 0, nb_in = 0, nb_out = 0;
    int64_t t0 = cnio__now_ns();
    int n = fh->size;

    tp_round_range(p, r, &rlo, &rhi);
    if (rc == 0)
        rc = tp_collect(p, a, c, rhi, b);
    if (rc == 0)
        rc = tp_counts(p, n, b);
    if (rc)
        b->npc = 0, memset(b->cnt, 0, 2 * (size_t)n * sizeof(int));
    if (MPI_Alltoall(b->cnt, 2, MPI_INT, b->rcnt, 2, MPI_INT, fh->comm) != MPI_SUCCESS)
        rc = -CNIO_ERR_MPI;
    for (int k = 0; k < n; k++)
        np_in += b->rcnt[2 * k], nb_in += b->rcnt[2 * k + 1], nb_out += b->cnt[2 * k + 1];
    if (rc == 0)
        rc = tp_pack_send(a, b, nb_out);
    if (rc == 0 && (tp_grow((void **)&b->rdesc, &b->cap_rdesc, (size_t)np_in * 2 + 1, 8) ||
                    tp_grow((void **)&b->rdata, &b->cap_rdata,
                            (size_t)(a->write ? nb_in : nb_out) + 1, 1)))
        rc = -CNIO_ERR_NOMEM;
    if (rc == 0 && p->my_agg >= 0 && np_in && tp_slots(p, rlo, rhi, b) < 0)
        rc = -CNIO_ERR_NOMEM;
    if (rc == 0 && !a->write && tp_grow((void **)&b->sdata, &b->cap_sdata, (size_t)nb_in + 1, 1))
        rc = -CNIO_ERR_NOMEM;
    /* the status, and the next round that holds any rank's data: rounds holding none are
     * skipped, so that the cost follows the data, not the span between the offsets */
    agree[0] = rc;
    agree[1] = tp_next_round(p, a, c);
    if (cnio__coll_min(fh->comm, agree, got, 2))
        return -CNIO_ERR_MPI;
    rc = (int)got[0];
    *next = got[1];
    if (rc)
        return rc;
    tp_displs(b->cnt, 2, 0, 2, n, b->scount, b->sdispl);
    tp_displs(b->rcnt, 2, 0, 2, n, b->rcount, b->rdispl);
    rc = tp_mpi(MPI_Alltoallv(b->sdesc, b->scount, b->sdispl, MPI_INT64_T, b->rdesc, b->rcount,
                              b->rdispl, MPI_INT64_T, fh->comm));
    if (rc == 0 && a->write) {
        tp_displs(b->cnt, 2, 1, 1, n, b->scount, b->sdispl);
        tp_displs(b->rcnt, 2, 1, 1, n, b->rcount, b->rdispl);
        rc = tp_mpi(MPI_Alltoallv(b->sdata, b->scount, b->sdispl, MPI_BYTE, b->rdata, b->rcount,
                                  b->rdispl, MPI_BYTE, fh->comm));
    }
    fh->stats.exch_ns += cnio__now_ns() - t0;
    b->np_in = rc == 0 && p->my_agg >= 0 ? np_in : 0;
    b->rlo = rlo;
    return rc;
}

/*
 * Reads: the aggregators' data back to the ranks, and into each rank's stream. Every
 * rank takes part even after a failed read (lrc, this rank's own), so nobody waits;
 * the status is agreed at the next round or at the end.
 */
static int tp_return(cnio_file_t *fh, struct coll_access *a, struct tp_bufs *b, int lrc)
{
    int64_t t0 = cnio__now_ns();
    int rc, n = fh->size;

    tp_displs(b->rcnt, 2, 1, 1, n, b->scount, b->sdispl);
    tp_displs(b->cnt, 2, 1, 1, n, b->rcount, b->rdispl);
    rc = tp_mpi(MPI_Alltoallv(b->sdata, b->scount, b->sdispl, MPI_BYTE, b->rdata, b->rcount,
                              b->rdispl, MPI_BYTE, fh->comm));
    if (rc == 0 && lrc == 0)
        tp_scatter(a, b);
    fh->stats.exch_ns += cnio__now_ns() - t0;
    return rc;
}

/*
 * An aggregator's network I/O for one round, on a thread of its own, so that an MPI
 * exchange of another round (on the calling thread) overlaps it. The stack is still
 * used by one thread at a time: only this thread touches it until joined.
 */
struct tp_net {
    pthread_t thread;
    int running, threaded, rc, write;
    cnio_file_t *fh;
    const struct tp_plan *p;
    struct tp_bufs *b;
    int64_t ns;
    uint64_t end;               /* reads: the largest end a host returned */
};

static void *tp_net_main(void *arg)
{
    struct tp_net *n = arg;
    int64_t t0 = cnio__now_ns();

    n->rc = n->write ? tp_agg_write(n->fh, n->p, n->b, n->b->np_in, n->b->rlo)
                     : tp_agg_read(n->fh, n->p, n->b, n->b->np_in, n->b->rlo, &n->end);
    n->ns = cnio__now_ns() - t0;
    return NULL;
}

static void tp_net_start(cnio_file_t *fh, const struct tp_plan *p, struct tp_bufs *b,
                         int write, struct tp_net *n)
{
    if (!b->np_in)
        return;
    *n = (struct tp_net){ .fh = fh, .p = p, .b = b, .write = write };
    n->running = 1;
    n->threaded = pthread_create(&n->thread, NULL, tp_net_main, n) == 0;
    if (!n->threaded)
        tp_net_main(n);         /* no thread: done now, the join collects the result */
}

static int tp_net_join(cnio_file_t *fh, struct tp_net *n, uint64_t *end)
{
    if (!n->running)
        return 0;
    if (n->threaded)
        pthread_join(n->thread, NULL);
    n->running = 0;
    fh->stats.net_ns += n->ns;
    *end = CNIO_MAX(*end, n->end);
    return n->rc;
}

static int tp_bufs_init(struct tp_bufs *b, int n)
{
    memset(b, 0, sizeof(*b));
    b->scount = malloc((size_t)n * sizeof(int));
    b->sdispl = malloc((size_t)n * sizeof(int));
    b->rcount = malloc((size_t)n * sizeof(int));
    b->rdispl = malloc((size_t)n * sizeof(int));
    b->cnt = malloc(2 * (size_t)n * sizeof(int));
    b->rcnt = malloc(2 * (size_t)n * sizeof(int));
    if (!b->scount || !b->sdispl || !b->rcount || !b->rdispl || !b->cnt || !b->rcnt)
        return -CNIO_ERR_NOMEM;
    return 0;
}

static void tp_bufs_free(struct tp_bufs *b)
{
    free(b->pc);
    free(b->scount);
    free(b->sdispl);
    free(b->rcount);
    free(b->rdispl);
    free(b->cnt);
    free(b->rcnt);
    free(b->sdesc);
    free(b->rdesc);
    free(b->sdata);
    free(b->rdata);
    free(b->dom);
    free(b->slot);
    free(b->x);
}

/*
 * Two-phase over all rounds, with two sets of buffers so that an aggregator's network
 * I/O (on a thread) overlaps an MPI exchange of a neighbouring round:
 *   write, round r:  exchange r  | write r-1     then start write r
 *   read,  round r:  exchange r, start read r | return r-1 to the ranks
 * A local error (a failed write or read at an aggregator) enters the next round's
 * agreement, so every rank leaves the loop at the same round. Returns this rank's
 * status (agreed by the caller).
 */
static int tp_two_phase(cnio_file_t *fh, const struct tp_summary *all, struct coll_access *a,
                        uint64_t *end)
{
    struct tp_plan p;
    struct tp_bufs b[2];
    struct tp_cursor c = { 0, 0, 0 };
    struct tp_net net = { .running = 0 };
    int rc, local = 0, r2, prev_local = 0;
    int64_t r = 0, next = 0, k = 0;   /* round, the next with data, rounds run */

    memset(b, 0, sizeof(b));
    rc = tp_plan_make(fh, all, &p);
    if (rc == 0)
        rc = tp_bufs_init(&b[0], fh->size);
    if (rc == 0)
        rc = tp_bufs_init(&b[1], fh->size);
    r2 = tp_connect(fh, &p, rc);
    rc = cnio__coll_agree(fh->comm, rc ? rc : r2);
    for (; r < p.nrounds && rc == 0; r = next, k++) {
        struct tp_bufs *cur = &b[k & 1], *prev = &b[(k + 1) & 1];

        rc = tp_round(fh, &p, a, &c, r, cur, local, &next);
        next = CNIO_MAX(next, r + 1);
        if (a->write) {
            r2 = tp_net_join(fh, &net, end);
            local = local ? local : r2;
            if (rc == 0 && local == 0)
                tp_net_start(fh, &p, cur, 1, &net);
            continue;
        }
        if (rc == 0)
            tp_net_start(fh, &p, cur, 0, &net);
        if (rc == 0 && k > 0)
            rc = tp_return(fh, a, prev, prev_local);
        prev_local = tp_net_join(fh, &net, end);
        local = local ? local : prev_local;
    }
    r2 = tp_net_join(fh, &net, end);
    local = local ? local : r2;
    if (rc == 0 && !a->write && k > 0)
        rc = tp_return(fh, a, &b[(k - 1) & 1], prev_local);
    tp_bufs_free(&b[0]);
    tp_bufs_free(&b[1]);
    tp_plan_free(&p);
    return rc ? rc : local;
}

static int tp_use_aggregation(cnio_file_t *fh, const struct tp_summary *all, int write)
{
    int mode = write ? fh->hints.romio_cb_write : fh->hints.romio_cb_read;

    if (mode == CNIO_CB_ENABLE || fh->route_nagg)
        return 1;
    if (mode == CNIO_CB_DISABLE)
        return 0;
    return !tp_direct_ok(all, fh->size, fh->hints.cb_direct_min);
}

/* A read's element count: the bytes before the object's end, agreed over the ranks. */
static int tp_read_count(cnio_file_t *fh, const struct coll_access *a, uint64_t end,
                         int64_t *count)
{
    uint64_t gend = 0, want, eof = 0;
    int need, any, rc = 0;

    if (MPI_Allreduce(&end, &gend, 1, MPI_UINT64_T, MPI_MAX, fh->comm) != MPI_SUCCESS)
        return -CNIO_ERR_MPI;
    want = a->next ? (uint64_t)(a->ext[a->next - 1].off + a->ext[a->next - 1].len) : 0;
    need = want > gend;
    if (MPI_Allreduce(&need, &any, 1, MPI_INT, MPI_MAX, fh->comm) != MPI_SUCCESS)
        return -CNIO_ERR_MPI;
    eof = gend;
    if (any) {
        if (fh->rank == 0)
            rc = cnio__obj_size(fh->obj, &eof);
        rc = cnio__coll_agree(fh->comm, rc);
        if (rc == 0 && MPI_Bcast(&eof, 1, MPI_UINT64_T, 0, fh->comm) != MPI_SUCCESS)
            rc = -CNIO_ERR_MPI;
        eof = CNIO_MAX(eof, gend);
    }
    *count = cnio__access_bytes_before(a, eof);
    return rc;
}

/* Direct: connects this rank (collectively, paced) to the servers its extents touch. */
static int tp_connect_direct(cnio_file_t *fh, const struct coll_access *a)
{
    const struct cnio_layout *l = cnio__obj_layout(fh->obj);
    uint8_t need[CNIO_MAX_HOSTS] = { 0 };

    for (int64_t i = 0; i < a->next; i++) {
        uint64_t first = (uint64_t)a->ext[i].off / l->unit;
        uint64_t last = (uint64_t)(a->ext[i].off + a->ext[i].len - 1) / l->unit;

        if (a->ext[i].len <= 0)
            continue;
        if (last - first + 1 >= l->count) {
            memset(need, 1, l->count);
            break;
        }
        for (uint64_t s = first; s <= last; s++)
            need[s % l->count] = 1;
    }
    return cnio__coll_connect(fh, need);
}

static int tp_access_all(cnio_file_t *fh, MPI_Offset offset, const void *buf, int count,
                         MPI_Datatype datatype, MPI_Status *status, int write)
{
    struct tp_summary mine = { 0 }, *all = NULL;
    struct coll_access a;
    uint64_t end = 0;
    int64_t nread = 0;
    int rc, agg, refused;

    if (!fh)
        return -CNIO_ERR_INVAL;
    /* A server lost is lost to every rank: rank 0 says it once, after the agreement
     * (each rank says nothing of it meanwhile; nor, at its close, the failed write) */
    cnio__coll_quiet(fh, 0);
    rc = cnio__access_init(fh, offset, buf, count, datatype, write, &a);
    if (rc == 0 && a.next) {
        mine.lo = a.ext[0].off;
        mine.hi = a.ext[a.next - 1].off + a.ext[a.next - 1].len;
        mine.nbytes = a.nbytes;
        mine.next = a.next;
    }
    mine.rc = rc;
    all = (struct tp_summary *)fh->summary;
    if (MPI_Allgather(&mine, 5, MPI_INT64_T, all, 5, MPI_INT64_T, fh->comm) != MPI_SUCCESS)
        rc = -CNIO_ERR_MPI;
    for (int r = 0; r < fh->size; r++)
        rc = (int)CNIO_MIN(rc, all[r].rc);
    fh->stats.calls++;
    refused = rc;   /* every rank's checks, before any I/O: the file is as it was */
    agg = rc == 0 && tp_use_aggregation(fh, all, write);
    if (agg) {
        rc = tp_two_phase(fh, all, &a, &end);
    } else if (rc == 0) {
        int64_t t0 = cnio__now_ns();

        rc = tp_connect_direct(fh, &a);
        if (rc == 0)   /* a read's end is this rank's to find (cnio__obj_readx_eof) */
            rc = cnio__access_direct(fh, &a, write ? NULL : &end);
        nread = cnio__access_bytes_before(&a, end);
        fh->stats.net_ns += cnio__now_ns() - t0;
    }
    rc = cnio__coll_agree(fh->comm, rc);
    /* A collective write that failed after the checks leaves the file torn, whatever
     * stage failed: what the job wrote before is there, this is not. The connect phase
     * (cnio__coll_connect, agreed before any data moves) failed without the taint that
     * a transfer's failure gives (cnio__obj_writex), and the close vouched for the file:
     * a rank's first connection to a stopped or restarted server, inside a
     * Write_at_all, and a new file committed empty, or an update in place complete as
     * a mix of two versions, read back with exit 0 (helper-83's F1). */
    if (rc && !refused && write && !(fh->amode & MPI_MODE_RDONLY))
        cnio__obj_taint(fh->obj, rc);
    if (rc == 0 && !write && agg)
        rc = cnio__coll_agree(fh->comm, tp_read_count(fh, &a, end, &nread));
    if (rc == 0) {
        cnio__access_unpack(&a, nread);
        cnio__coll_set_status(status, write ? a.nbytes : nread);
        if (write)
            fh->stats.bytes_written += (uint64_t)a.nbytes;
        else
            fh->stats.bytes_read += (uint64_t)a.nbytes;
    }
    if (rc && !refused)
        cnio__coll_say_lost(fh);
    cnio__coll_unquiet(fh);
    cnio__access_free(&a);
    return rc;
}

/* Both under fh's lock, as every call on a handle. */
static int tp_locked(cnio_file_t *fh, MPI_Offset offset, const void *buf, int count,
                     MPI_Datatype datatype, MPI_Status *status, int write)
{
    int rc;

    if (!fh)
        return -CNIO_ERR_INVAL;
    cnio__file_lock(fh);
    rc = tp_access_all(fh, offset, buf, count, datatype, status, write);
    cnio__file_unlock(fh);
    return rc;
}

CNIO_API int cnio_file_write_at_all(cnio_file_t *fh, MPI_Offset offset, const void *buf,
                                    int count, MPI_Datatype datatype, MPI_Status *status)
{
    return tp_locked(fh, offset, buf, count, datatype, status, 1);
}

CNIO_API int cnio_file_read_at_all(cnio_file_t *fh, MPI_Offset offset, void *buf, int count,
                                   MPI_Datatype datatype, MPI_Status *status)
{
    return tp_locked(fh, offset, buf, count, datatype, status, 0);
}
