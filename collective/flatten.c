/*
 * flatten.c - MPI datatypes flattened into block lists (collective/view.h); view.c
 * builds file views on them.
 *
 * Flattening walks a datatype's construction with MPI_Type_get_envelope and
 * MPI_Type_get_contents, depth first. Every constructor is "count instances of a child
 * type at these displacements", so one primitive does the work: fb_rep appends `count`
 * copies of the child's block list at base, base + stride, ... and merges a block into
 * the previous one when they touch. A child that is one block exactly as long as its
 * extent repeats into a single block, so contiguous runs of any length cost O(1) and a
 * vector of N blocks costs O(N). Subarray and darray are computed, not rebuilt: each
 * dimension becomes a list of runs of owned indices (in type-map order, slowest dimension
 * first, with the process grid row-major as MPI defines it) and the runs of the fastest
 * dimension repeat the element's blocks. The sum of the block lengths is checked against
 * MPI_Type_size_x, so a layout computed differently from the MPI library's is refused.
 *
 * The result is cached on the datatype under one MPI keyval; MPI_Type_dup shares the
 * entry (reference counted) and MPI_Type_free releases it. Predefined types are never
 * freed, so those entries are released by a delete callback on MPI_COMM_SELF, which MPI
 * runs first thing in MPI_Finalize. The keyval is the one piece of process-wide state:
 * an MPI keyval is process-wide by nature.
 */
#include "view.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct view_fb {                /* a growing block list */
    int64_t n, cap;
    int64_t *off, *len;
};

struct view_contents {          /* what MPI_Type_get_contents returns */
    int comb, ni, na, nd;
    int *ints;
    MPI_Aint *addrs;
    MPI_Datatype *types;
};

/* One dimension of a subarray or darray: its owned index runs and the byte step. */
struct view_dim {
    int64_t size, stride, nruns;
    int64_t *start, *len;
    int64_t one_start, one_len;     /* storage when there is a single run */
};

/* A cache entry, shared by a type and its duplicates. */
struct view_cache {
    int refs;
    struct cnio_flat flat;
};

static pthread_mutex_t view_lock = PTHREAD_MUTEX_INITIALIZER;
static int view_keyval = MPI_KEYVAL_INVALID;
static int view_self_keyval = MPI_KEYVAL_INVALID;
static MPI_Datatype *view_named;        /* predefined types holding an entry */
static int view_nnamed, view_capnamed;

static int flat_build(MPI_Datatype t, struct cnio_flat *out);

static int fb_reserve(struct view_fb *b, int64_t more)
{
    int64_t need, cap = b->cap ? b->cap : 16;
    int64_t *p;

    if (__builtin_add_overflow(b->n, more, &need) || need > INT64_MAX / 16)
        return -CNIO_ERR_NOMEM;
    if (need <= b->cap)
        return 0;
    while (cap < need)
        cap *= 2;
    p = realloc(b->off, (size_t)cap * sizeof(*p));
    if (!p)
        return -CNIO_ERR_NOMEM;
    b->off = p;
    p = realloc(b->len, (size_t)cap * sizeof(*p));
    if (!p)
        return -CNIO_ERR_NOMEM;
    b->len = p;
    b->cap = cap;
    return 0;
}

static int fb_push(struct view_fb *b, int64_t off, int64_t len)
{
    if (len <= 0)
        return 0;
    if (b->n && b->off[b->n - 1] + b->len[b->n - 1] == off) {
        b->len[b->n - 1] += len;
        return 0;
    }
    if (b->n == b->cap && fb_reserve(b, 1))
        return -CNIO_ERR_NOMEM;
    b->off[b->n] = off;
    b->len[b->n++] = len;
    return 0;
}

/* Appends count instances of f at base, base + stride, ... */
static int fb_rep(struct view_fb *b, const struct cnio_flat *f, int64_t base, int64_t count,
                  int64_t stride)
{
    int64_t i, j, tot, at;
    int ret;

    if (count <= 0 || f->n == 0)
        return 0;
    if (f->n == 1 && f->len[0] == stride) {
        if (__builtin_mul_overflow(count, stride, &tot))
            return -CNIO_ERR_OVERFLOW;
        return fb_push(b, base + f->off[0], tot);
    }
    if (__builtin_mul_overflow(count, f->n, &tot) ||
        __builtin_mul_overflow(count - 1, stride, &at) || __builtin_add_overflow(at, base, &at))
        return -CNIO_ERR_OVERFLOW;
    ret = fb_reserve(b, tot);
    if (ret)
        return ret;
    for (i = 0, at = base; i < count; i++, at += stride)
        for (j = 0; j < f->n; j++)
            fb_push(b, at + f->off[j], f->len[j]);
    return 0;
}

static void flat_release(struct cnio_flat *f)
{
    free(f->off);
    free(f->len);
    memset(f, 0, sizeof(*f));
}

int cnio__type_is_named(MPI_Datatype t)
{
    int ni, na, nd, comb;

    if (MPI_Type_get_envelope(t, &ni, &na, &nd, &comb) != MPI_SUCCESS)
        return 1;
    return comb == MPI_COMBINER_NAMED;
}

static void contents_free(struct view_contents *c)
{
    int i;

    for (i = 0; c->types && i < c->nd; i++)
        if (c->types[i] != MPI_DATATYPE_NULL && !cnio__type_is_named(c->types[i]))
            MPI_Type_free(&c->types[i]);
    free(c->ints);
    free(c->addrs);
    free(c->types);
}

static int contents_get(MPI_Datatype t, struct view_contents *c)
{
    int i;

    memset(c, 0, sizeof(*c));
    if (MPI_Type_get_envelope(t, &c->ni, &c->na, &c->nd, &c->comb) != MPI_SUCCESS)
        return -CNIO_ERR_MPI;
    if (c->comb == MPI_COMBINER_NAMED)
        return 0;
    c->ints = malloc(((size_t)c->ni + 1) * sizeof(*c->ints));
    c->addrs = malloc(((size_t)c->na + 1) * sizeof(*c->addrs));
    c->types = malloc(((size_t)c->nd + 1) * sizeof(*c->types));
    if (!c->ints || !c->addrs || !c->types) {
        c->nd = 0;
        contents_free(c);
        return -CNIO_ERR_NOMEM;
    }
    for (i = 0; i < c->nd; i++)
        c->types[i] = MPI_DATATYPE_NULL;
    if (MPI_Type_get_contents(t, c->ni, c->na, c->nd, c->ints, c->addrs, c->types) !=
        MPI_SUCCESS) {
        contents_free(c);
        return -CNIO_ERR_MPI;
    }
    return 0;
}

static const struct cnio_flat *flat_cached(MPI_Datatype t)
{
    struct view_cache *c;
    int flag = 0;

    if (view_keyval == MPI_KEYVAL_INVALID ||
        MPI_Type_get_attr(t, view_keyval, &c, &flag) != MPI_SUCCESS || !flag)
        return NULL;
    return &c->flat;
}

/* The flat of a constituent type: its cache entry if it has one, else built into tmp. */
static int flat_child(MPI_Datatype t, struct cnio_flat *tmp, const struct cnio_flat **f)
{
    memset(tmp, 0, sizeof(*tmp));
    *f = flat_cached(t);
    if (*f)
        return 0;
    *f = tmp;
    return flat_build(t, tmp);
}

/* A predefined type with holes (MPI_SHORT_INT, ...) spans a few bytes: pack one instance
 * of a buffer whose bytes hold their own positions. */
static int flat_probe(MPI_Datatype t, int64_t size, struct view_fb *b)
{
    unsigned char src[256], dst[256];
    MPI_Count tlb, text;
    int64_t i;
    int pos = 0;

    if (MPI_Type_get_true_extent_x(t, &tlb, &text) != MPI_SUCCESS)
        return -CNIO_ERR_MPI;
    if (tlb < 0 || tlb + text > (MPI_Count)sizeof(src) || size > (int64_t)sizeof(dst))
        return -CNIO_ERR_NOTSUP;
    for (i = 0; i < (int64_t)sizeof(src); i++)
        src[i] = (unsigned char)i;
    if (MPI_Pack(src, 1, t, dst, sizeof(dst), &pos, MPI_COMM_SELF) != MPI_SUCCESS)
        return -CNIO_ERR_MPI;
    for (i = 0; i < pos; i++)
        if (fb_push(b, dst[i], 1))
            return -CNIO_ERR_NOMEM;
    return 0;
}

/* vector, hvector and the four indexed kinds: blocks of child instances. */
static int flat_blocks(const struct view_contents *c, const struct cnio_flat *f,
                       struct view_fb *b)
{
    int64_t i, count = c->ints[0], bl, disp = 0, ext = f->extent;
    int same = c->comb == MPI_COMBINER_VECTOR || c->comb == MPI_COMBINER_HVECTOR ||
               c->comb == MPI_COMBINER_INDEXED_BLOCK || c->comb == MPI_COMBINER_HINDEXED_BLOCK;
    int ret = 0;

    for (i = 0; i < count && !ret; i++) {
        bl = same ? c->ints[1] : c->ints[1 + i];
        if (c->comb == MPI_COMBINER_VECTOR)
            ret = __builtin_mul_overflow(i * (int64_t)c->ints[2], ext, &disp);
        else if (c->comb == MPI_COMBINER_HVECTOR)
            ret = __builtin_mul_overflow(i, (int64_t)c->addrs[0], &disp);
        else if (c->comb == MPI_COMBINER_INDEXED)
            ret = __builtin_mul_overflow((int64_t)c->ints[1 + count + i], ext, &disp);
        else if (c->comb == MPI_COMBINER_INDEXED_BLOCK)
            ret = __builtin_mul_overflow((int64_t)c->ints[2 + i], ext, &disp);
        else
            disp = c->addrs[i];
        ret = ret ? -CNIO_ERR_OVERFLOW : fb_rep(b, f, disp, bl, ext);
    }
    return ret;
}

static int flat_struct(const struct view_contents *c, struct view_fb *b)
{
    const struct cnio_flat *f;
    struct cnio_flat tmp;
    int i, ret = 0;

    for (i = 0; i < c->ints[0] && !ret; i++) {
        ret = flat_child(c->types[i], &tmp, &f);
        if (ret)
            break;
        ret = fb_rep(b, f, c->addrs[i], c->ints[1 + i], f->extent);
        flat_release(&tmp);
    }
    return ret;
}

/* Emits the grid of dimensions d[0..nd) (slowest first) of element f from base. */
static int grid_emit(struct view_fb *b, const struct cnio_flat *f, const struct view_dim *d,
                     int nd, int64_t base)
{
    int64_t r, i;
    int ret = 0;

    for (r = 0; r < d->nruns && !ret; r++) {
        if (nd == 1) {
            ret = fb_rep(b, f, base + d->start[r] * d->stride, d->len[r], d->stride);
            continue;
        }
        for (i = d->start[r]; i < d->start[r] + d->len[r] && !ret; i++)
            ret = grid_emit(b, f, d + 1, nd - 1, base + i * d->stride);
    }
    return ret;
}

/* Sets the byte strides (row-major over d[], element extent ext) and emits the grid. */
static int grid_run(struct view_fb *b, const struct cnio_flat *f, struct view_dim *d, int nd)
{
    int64_t stride = f->extent;
    int k;

    for (k = nd - 1; k >= 0; k--) {
        d[k].stride = stride;
        if (__builtin_mul_overflow(stride, d[k].size, &stride))
            return -CNIO_ERR_OVERFLOW;
    }
    return nd > 0 ? grid_emit(b, f, d, nd, 0) : 0;
}

static void dims_free(struct view_dim *d, int nd)
{
    int k;

    for (k = 0; d && k < nd; k++)
        if (d[k].start != &d[k].one_start) {
            free(d[k].start);
            free(d[k].len);
        }
    free(d);
}

static void dim_one(struct view_dim *d, int64_t size, int64_t start, int64_t len)
{
    d->size = size;
    d->start = &d->one_start;
    d->len = &d->one_len;
    d->one_start = start;
    d->one_len = len;
    d->nruns = len > 0;
}

/* ints: ndims, sizes[], subsizes[], starts[], order. */
static int flat_subarray(const struct view_contents *c, const struct cnio_flat *f,
                         struct view_fb *b)
{
    int nd = c->ints[0], order = c->ints[1 + 3 * nd], k, src;
    const int *sizes = c->ints + 1, *sub = sizes + nd, *starts = sub + nd;
    struct view_dim *d = calloc((size_t)nd + 1, sizeof(*d));
    int ret;

    if (!d)
        return -CNIO_ERR_NOMEM;
    for (k = 0; k < nd; k++) {
        src = order == MPI_ORDER_FORTRAN ? nd - 1 - k : k;   /* slowest dimension first */
        dim_one(&d[k], sizes[src], starts[src], sub[src]);
    }
    ret = grid_run(b, f, d, nd);
    dims_free(d, nd);
    return ret;
}

/* The indices of dimension (g elements, p processes) that process coordinate cc owns. */
static int darray_dim(struct view_dim *d, int64_t g, int dist, int darg, int64_t p,
                      int64_t cc)
{
    int64_t bs, first, j;

    if (dist == MPI_DISTRIBUTE_NONE) {
        dim_one(d, g, 0, g);
        return 0;
    }
    if (dist == MPI_DISTRIBUTE_BLOCK) {
        bs = darg == MPI_DISTRIBUTE_DFLT_DARG ? (g + p - 1) / p : darg;
        dim_one(d, g, cc * bs, CNIO_MAX(0, CNIO_MIN(bs, g - cc * bs)));
        return 0;
    }
    if (dist != MPI_DISTRIBUTE_CYCLIC)
        return -CNIO_ERR_NOTSUP;
    bs = darg == MPI_DISTRIBUTE_DFLT_DARG ? 1 : darg;
    if (bs <= 0)
        return -CNIO_ERR_NOTSUP;
    d->size = g;
    first = cc * bs;
    d->nruns = first < g ? (g - first - 1) / (p * bs) + 1 : 0;
    d->start = malloc(((size_t)d->nruns + 1) * sizeof(*d->start));
    d->len = malloc(((size_t)d->nruns + 1) * sizeof(*d->len));
    if (!d->start || !d->len)
        return -CNIO_ERR_NOMEM;
    for (j = 0; j < d->nruns; j++) {
        d->start[j] = first + j * p * bs;
        d->len[j] = CNIO_MIN(bs, g - d->start[j]);
    }
    return 0;
}

/* ints: size, rank, ndims, gsizes[], distribs[], dargs[], psizes[], order. */
static int flat_darray(const struct view_contents *c, const struct cnio_flat *f,
                       struct view_fb *b)
{
    int rank = c->ints[1], nd = c->ints[2], k, i, src;
    const int *gs = c->ints + 3, *dist = gs + nd, *darg = dist + nd, *ps = darg + nd;
    int order = ps[nd];
    struct view_dim *d = calloc((size_t)nd + 1, sizeof(*d));
    int64_t inner;
    int ret = 0;

    if (!d)
        return -CNIO_ERR_NOMEM;
    for (k = 0; k < nd && !ret; k++) {
        src = order == MPI_ORDER_FORTRAN ? nd - 1 - k : k;
        for (inner = 1, i = src + 1; i < nd; i++)
            inner *= ps[i];
        ret = darray_dim(&d[k], gs[src], dist[src], darg[src], ps[src],
                         (rank / inner) % ps[src]);
    }
    if (!ret)
        ret = grid_run(b, f, d, nd);
    dims_free(d, nd);
    return ret;
}

static int flat_derived(const struct view_contents *c, struct view_fb *b)
{
    const struct cnio_flat *f;
    struct cnio_flat tmp;
    int ret;

    if (c->comb == MPI_COMBINER_STRUCT)
        return flat_struct(c, b);
    if (c->nd != 1)
        return -CNIO_ERR_NOTSUP;
    ret = flat_child(c->types[0], &tmp, &f);
    if (ret)
        return ret;
    switch (c->comb) {
    case MPI_COMBINER_DUP:
    case MPI_COMBINER_RESIZED:
        ret = fb_rep(b, f, 0, 1, f->extent);
        break;
    case MPI_COMBINER_CONTIGUOUS:
        ret = fb_rep(b, f, 0, c->ints[0], f->extent);
        break;
    case MPI_COMBINER_VECTOR:
    case MPI_COMBINER_HVECTOR:
    case MPI_COMBINER_INDEXED:
    case MPI_COMBINER_HINDEXED:
    case MPI_COMBINER_INDEXED_BLOCK:
    case MPI_COMBINER_HINDEXED_BLOCK:
        ret = flat_blocks(c, f, b);
        break;
    case MPI_COMBINER_SUBARRAY:
        ret = flat_subarray(c, f, b);
        break;
    case MPI_COMBINER_DARRAY:
        ret = flat_darray(c, f, b);
        break;
    default:
        ret = -CNIO_ERR_NOTSUP;
    }
    flat_release(&tmp);
    return ret;
}

/* Moves the list into out after checking it against MPI's size; trims the arrays. */
static int fb_finish(struct view_fb *b, struct cnio_flat *out)
{
    int64_t i, sum = 0, *p;

    for (i = 0; i < b->n; i++)
        sum += b->len[i];
    if (sum != out->size)
        return -CNIO_ERR_NOTSUP;
    if (b->n && b->n < b->cap && (p = realloc(b->off, (size_t)b->n * sizeof(*p))))
        b->off = p;
    if (b->n && b->n < b->cap && (p = realloc(b->len, (size_t)b->n * sizeof(*p))))
        b->len = p;
    out->n = b->n;
    out->off = b->off;
    out->len = b->len;
    return 0;
}

static int flat_build(MPI_Datatype t, struct cnio_flat *out)
{
    struct view_contents c;
    struct view_fb b = { 0 };
    MPI_Count size, lb, extent;
    int ret;

    memset(out, 0, sizeof(*out));
    if (MPI_Type_size_x(t, &size) != MPI_SUCCESS ||
        MPI_Type_get_extent_x(t, &lb, &extent) != MPI_SUCCESS)
        return -CNIO_ERR_MPI;
    out->size = size;
    out->lb = lb;
    out->extent = extent;
    ret = contents_get(t, &c);
    if (ret)
        return ret;
    if (c.comb == MPI_COMBINER_NAMED || c.comb == MPI_COMBINER_F90_REAL ||
        c.comb == MPI_COMBINER_F90_COMPLEX || c.comb == MPI_COMBINER_F90_INTEGER)
        ret = lb == 0 && size == extent ? fb_push(&b, 0, size) : flat_probe(t, size, &b);
    else
        ret = flat_derived(&c, &b);
    contents_free(&c);
    if (!ret)
        ret = fb_finish(&b, out);
    if (ret) {
        free(b.off);
        free(b.len);
    }
    return ret;
}

static int view_copy_attr(MPI_Datatype t, int keyval, void *extra, void *in, void *out,
                          int *flag)
{
    struct view_cache *c = in;

    __atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
    *(void **)out = c;
    *flag = 1;
    return MPI_SUCCESS;
}

static int view_delete_attr(MPI_Datatype t, int keyval, void *val, void *extra)
{
    struct view_cache *c = val;

    if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        flat_release(&c->flat);
        free(c);
    }
    return MPI_SUCCESS;
}

/* Runs at the start of MPI_Finalize: releases the entries on predefined types. */
static int view_finalize(MPI_Comm comm, int keyval, void *val, void *extra)
{
    int i;

    pthread_mutex_lock(&view_lock);
    for (i = 0; i < view_nnamed; i++)
        MPI_Type_delete_attr(view_named[i], view_keyval);
    free(view_named);
    view_named = NULL;
    view_nnamed = view_capnamed = 0;
    MPI_Type_free_keyval(&view_keyval);             /* both reset to MPI_KEYVAL_INVALID */
    MPI_Comm_free_keyval(&view_self_keyval);
    pthread_mutex_unlock(&view_lock);
    return MPI_SUCCESS;
}

static int view_keyval_init(void)
{
    if (view_keyval != MPI_KEYVAL_INVALID)
        return 0;
    if (MPI_Type_create_keyval(view_copy_attr, view_delete_attr, &view_keyval, NULL) !=
        MPI_SUCCESS)
        return -CNIO_ERR_MPI;
    if (MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, view_finalize, &view_self_keyval,
                               NULL) != MPI_SUCCESS)
        goto free_type_keyval;
    if (MPI_Comm_set_attr(MPI_COMM_SELF, view_self_keyval, NULL) != MPI_SUCCESS)
        goto free_self_keyval;
    return 0;
free_self_keyval:
    MPI_Comm_free_keyval(&view_self_keyval);
free_type_keyval:
    MPI_Type_free_keyval(&view_keyval);
    view_keyval = view_self_keyval = MPI_KEYVAL_INVALID;
    return -CNIO_ERR_MPI;
}

/* Attaches c to t; predefined types are remembered for view_finalize. */
static int view_attach(MPI_Datatype t, struct view_cache *c)
{
    int named = cnio__type_is_named(t);
    MPI_Datatype *p;

    if (named && view_nnamed == view_capnamed) {
        p = realloc(view_named, ((size_t)view_capnamed * 2 + 8) * sizeof(*p));
        if (!p)
            return -CNIO_ERR_NOMEM;
        view_named = p;
        view_capnamed = view_capnamed * 2 + 8;
    }
    if (MPI_Type_set_attr(t, view_keyval, c) != MPI_SUCCESS)
        return -CNIO_ERR_MPI;
    if (named)
        view_named[view_nnamed++] = t;
    return 0;
}

int cnio__flat_get(MPI_Datatype datatype, const struct cnio_flat **out)
{
    const struct cnio_flat *f;
    struct view_cache *c;
    int ret;

    if (datatype == MPI_DATATYPE_NULL)
        return -CNIO_ERR_INVAL;
    pthread_mutex_lock(&view_lock);
    ret = view_keyval_init();
    if (ret)
        goto unlock;
    f = flat_cached(datatype);
    if (f) {
        *out = f;
        goto unlock;
    }
    c = calloc(1, sizeof(*c));
    ret = c ? flat_build(datatype, &c->flat) : -CNIO_ERR_NOMEM;
    if (ret)
        goto free_cache;
    c->refs = 1;
    ret = view_attach(datatype, c);
    if (ret)
        goto release_flat;
    *out = &c->flat;
    goto unlock;
release_flat:
    flat_release(&c->flat);
free_cache:
    free(c);
unlock:
    pthread_mutex_unlock(&view_lock);
    return ret;
}
