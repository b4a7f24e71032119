/*
 * view.c - file views (collective/view.h): a displacement, an etype and a filetype
 * flattened by flatten.c, checked against MPI-IO's rules, and the mapping of a range of
 * a view's data bytes to the file's byte ranges.
 */
#include "view.h"

#include <stdlib.h>
#include <string.h>

/* Takes a reference to t for a view: predefined types as they are, others duplicated. */
static int view_hold(MPI_Datatype t, MPI_Datatype *out)
{
    if (cnio__type_is_named(t)) {
        *out = t;
        return 0;
    }
    return MPI_Type_dup(t, out) == MPI_SUCCESS ? 0 : -CNIO_ERR_MPI;
}

static void view_drop(MPI_Datatype *t)
{
    if (*t != MPI_DATATYPE_NULL && !cnio__type_is_named(*t))
        MPI_Type_free(t);
    *t = MPI_DATATYPE_NULL;
}

/*
 * The rules MPI-IO sets for a filetype, checked on its flat form. A filetype may hold
 * no data at all (a darray or subarray piece of a rank that owns no element, a count of
 * zero): that rank's view is empty, it takes part in collectives with zero bytes, and
 * any access through it moves nothing (cnio__view_map). A filetype whose data
 * reaches past its extent is valid (HDF5's collective chunk I/O builds one: a struct of
 * resized chunk types, whose sticky bounds give an extent shorter than the data), but
 * its tiled instances would overlap: *overlap is set and cnio__view_map refuses an
 * access beyond the first instance.
 */
static int view_check(const struct cnio_flat *ft, MPI_Offset disp, int64_t esize, int *overlap)
{
    int64_t j, end;

    if (disp < 0 || esize <= 0 || ft->size < 0 || ft->size % esize)
        return -CNIO_ERR_INVAL;
    if (ft->size == 0)
        return 0;
    if (ft->extent <= 0)
        return -CNIO_ERR_INVAL;
    for (j = 1; j < ft->n; j++)
        if (ft->off[j] < ft->off[j - 1] + ft->len[j - 1])
            return -CNIO_ERR_INVAL;
    end = ft->off[ft->n - 1] + ft->len[ft->n - 1];
    if (disp + ft->off[0] < 0)
        return -CNIO_ERR_INVAL;
    *overlap = ft->off[0] + ft->extent < end;
    return 0;
}

static int view_positions(struct cnio_view *v)
{
    int64_t j;

    v->pos = malloc(((size_t)v->ft->n + 1) * sizeof(*v->pos));
    if (!v->pos)
        return -CNIO_ERR_NOMEM;
    v->pos[0] = 0;
    for (j = 0; j < v->ft->n; j++)
        v->pos[j + 1] = v->pos[j] + v->ft->len[j];
    return 0;
}

int cnio__view_init(struct cnio_view *v)
{
    memset(v, 0, sizeof(*v));
    v->etype = v->filetype = MPI_DATATYPE_NULL;
    return cnio__view_set(v, 0, MPI_BYTE, MPI_BYTE);
}

int cnio__view_set(struct cnio_view *v, MPI_Offset disp, MPI_Datatype etype,
                   MPI_Datatype filetype)
{
    struct cnio_view nv = { .disp = disp, .etype = MPI_DATATYPE_NULL,
                            .filetype = MPI_DATATYPE_NULL };
    MPI_Count esize;
    int ret;

    if (etype == MPI_DATATYPE_NULL || filetype == MPI_DATATYPE_NULL)
        return -CNIO_ERR_INVAL;
    if (MPI_Type_size_x(etype, &esize) != MPI_SUCCESS)
        return -CNIO_ERR_MPI;
    nv.etype_size = esize;
    ret = view_hold(etype, &nv.etype);
    if (ret)
        return ret;
    ret = view_hold(filetype, &nv.filetype);
    if (ret)
        goto free_view;
    ret = cnio__flat_get(nv.filetype, &nv.ft);
    if (ret)
        goto free_view;
    ret = view_check(nv.ft, disp, nv.etype_size, &nv.overlap);
    if (ret)
        goto free_view;
    ret = view_positions(&nv);
    if (ret)
        goto free_view;
    cnio__view_free(v);
    *v = nv;
    return 0;
free_view:
    cnio__view_free(&nv);
    return ret;
}

int cnio__view_committed(MPI_Comm comm, MPI_Datatype t)
{
    MPI_Errhandler old;
    int pos = 0, rc, cls = MPI_SUCCESS;
    char b[1];

    if (t == MPI_DATATYPE_NULL)
        return 0;
    if (cnio__type_is_named(t))
        return 1;
    /* MPI has no "is committed" query; packing nothing of an uncommitted type is
     * MPI_ERR_TYPE in Open MPI and MPICH alike. */
    if (MPI_Comm_get_errhandler(comm, &old) != MPI_SUCCESS)
        return 1;
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    rc = MPI_Pack(b, 0, t, b, (int)sizeof(b), &pos, comm);
    MPI_Comm_set_errhandler(comm, old);
    MPI_Errhandler_free(&old);
    if (rc != MPI_SUCCESS)
        MPI_Error_class(rc, &cls);
    return cls != MPI_ERR_TYPE;
}

void cnio__view_free(struct cnio_view *v)
{
    view_drop(&v->etype);
    view_drop(&v->filetype);
    free(v->pos);
    v->pos = NULL;
    v->ft = NULL;
}

/* The block of the filetype holding data byte r (0 <= r < size): pos[j] <= r < pos[j+1]. */
static int64_t view_block(const struct cnio_view *v, int64_t r)
{
    int64_t lo = 0, hi = v->ft->n - 1, mid;

    while (lo < hi) {
        mid = lo + (hi - lo + 1) / 2;
        if (v->pos[mid] <= r)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* Writes the extents of nbytes from block j (skip bytes in) of instance k; returns how many. */
static int64_t view_walk(const struct cnio_view *v, int64_t k, int64_t j, int64_t skip,
                         int64_t nbytes, struct cnio_extent *e)
{
    const struct cnio_flat *ft = v->ft;
    int64_t base = v->disp + k * ft->extent, m = 0, fo, l;

    while (nbytes > 0) {
        fo = base + ft->off[j] + skip;
        l = CNIO_MIN(ft->len[j] - skip, nbytes);
        if (m && e[m - 1].off + e[m - 1].len == fo) {
            e[m - 1].len += l;
        } else {
            e[m].off = fo;
            e[m++].len = l;
        }
        nbytes -= l;
        skip = 0;
        if (++j == ft->n) {
            j = 0;
            base += ft->extent;
        }
    }
    return m;
}

/*
 * Data byte p of the view lives in filetype instance k = p / size (at disp + k * extent),
 * in block j where pos[j] <= p % size < pos[j + 1]. The first and last bytes are located
 * arithmetically (a binary search in pos), which also gives the exact number of block
 * pieces the access touches, so the output is allocated once and only those are walked.
 */
int cnio__view_map(const struct cnio_view *v, MPI_Offset offset, int64_t nbytes,
                   struct cnio_extent **out, int64_t *n)
{
    const struct cnio_flat *ft = v->ft;
    int64_t p0, pl, k, kl, j, jl, end, cnt, m;
    int contig = ft->n == 1 && ft->len[0] == ft->extent;
    struct cnio_extent *e, *shrunk;

    *out = NULL;
    *n = 0;
    if (offset < 0 || nbytes < 0)
        return -CNIO_ERR_INVAL;
    if (nbytes == 0)
        return 0;
    if (ft->size == 0)
        return 0;   /* a view that holds no data: an access through it moves nothing */
    if (__builtin_mul_overflow((int64_t)offset, v->etype_size, &p0) ||
        __builtin_add_overflow(p0, nbytes - 1, &pl))
        return -CNIO_ERR_OVERFLOW;
    k = p0 / ft->size;
    kl = pl / ft->size;
    if (v->overlap && kl > 0)
        return -CNIO_ERR_NOTSUP;
    j = view_block(v, p0 % ft->size);
    jl = view_block(v, pl % ft->size);
    if (__builtin_mul_overflow(kl, ft->extent, &end) ||
        __builtin_add_overflow(end, v->disp + ft->off[jl] + ft->len[jl], &end))
        return -CNIO_ERR_OVERFLOW;
    if (contig)
        cnt = 1;
    else if (__builtin_mul_overflow(kl - k, ft->n, &cnt) ||
             __builtin_add_overflow(cnt, jl - j + 1, &cnt) ||
             cnt > INT64_MAX / (int64_t)sizeof(*e))
        return -CNIO_ERR_NOMEM;
    e = malloc((size_t)cnt * sizeof(*e));
    if (!e)
        return -CNIO_ERR_NOMEM;
    if (contig) {
        e->off = v->disp + ft->off[0] + p0;
        e->len = nbytes;
        m = 1;
    } else {
        m = view_walk(v, k, j, p0 % ft->size - v->pos[j], nbytes, e);
    }
    if (m < cnt / 2 && (shrunk = realloc(e, (size_t)m * sizeof(*e))))
        e = shrunk;
    *out = e;
    *n = m;
    return 0;
}
