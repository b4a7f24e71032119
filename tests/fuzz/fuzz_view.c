/*
 * fuzz_view.c - fuzz target for the flattening of MPI datatypes (collective/view.c),
 * checked against a brute-force walk done by MPI itself.
 *
 * The input is a small program that builds a datatype, nested up to three deep: named
 * types, contiguous, vector, hvector, indexed, hindexed, struct, resized, subarray and
 * darray, with counts, strides and displacements (negative ones too) from the input.
 * The type is flattened with cnio__flat_get and then compared with what MPI_Unpack
 * does with it: a stream whose byte k carries bits 0-7, 8-15 or 16-23 of k (three passes)
 * is unpacked through the type into a buffer spanning its true extent, which tells for
 * every byte of memory which stream byte landed there. cnio's blocks, in order, must
 * visit exactly those bytes in stream order; size, lb and extent must be MPI's. (Types
 * whose typemap overlaps itself only get the size checks: unpacking them is undefined;
 * so do those with a negative vector or hvector stride anywhere: Open MPI gets their
 * bounds wrong, vector(4, 1, -1, MPI_BYTE) has true lb 0 there, not -3.)
 *
 * Built with mpicc. With -DCNIO_LIBFUZZER it is a libFuzzer target (scripts/fuzz.sh);
 * otherwise replay.c's main replays files (make check).
 */
#include "view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void cnio_fuzz_fini(void);

#define FV_MAX_SIZE (1 << 16)
#define FV_MAX_EXTENT (1 << 20)
#define FV_DEPTH 3
/* Types compared byte for byte with MPI_Unpack (reported by cnio_fuzz_fini). */
static long fv_compared;
/* Types not compared byte for byte because Open MPI is no oracle for them: a vector or
 * hvector with a negative stride somewhere (Open MPI reports vector(2, 1, -1) with lb 0,
 * not -1, and places its bytes accordingly), or a typemap leaving its true extent. */
static long fv_mpi_bounds;
#define FV_FAIL(...) (fprintf(stderr, "fuzz_view: " __VA_ARGS__), fputc('\n', stderr), abort())

struct fv_in {
    const uint8_t *p;
    size_t n;
    int negative_stride;    /* a vector or hvector with a negative stride was built */
};

static int fv_byte(struct fv_in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

/* A small signed number in [lo, hi]. */
static int fv_num(struct fv_in *in, int lo, int hi)
{
    return lo + fv_byte(in) % (hi - lo + 1);
}

static MPI_Datatype fv_build(struct fv_in *in, int depth);

static MPI_Datatype fv_named(struct fv_in *in)
{
    static const MPI_Datatype named[] = { MPI_BYTE, MPI_SHORT, MPI_INT, MPI_DOUBLE, MPI_CHAR };

    return named[fv_byte(in) % 5];
}

static void fv_free(MPI_Datatype *t)
{
    int ni, na, nd, comb;

    if (*t == MPI_DATATYPE_NULL)
        return;
    MPI_Type_get_envelope(*t, &ni, &na, &nd, &comb);
    if (comb != MPI_COMBINER_NAMED)
        MPI_Type_free(t);
    *t = MPI_DATATYPE_NULL;
}

/* subarray (op 0) or darray (op 1) of child c, 1 or 2 dimensions. */
static int fv_grid(struct fv_in *in, MPI_Datatype c, int op, MPI_Datatype *t)
{
    int nd = fv_num(in, 1, 2), order = fv_byte(in) & 1 ? MPI_ORDER_FORTRAN : MPI_ORDER_C;
    int sizes[2], sub[2], start[2], dist[2], darg[2], ps[2] = { 1, 1 }, np, rank;

    for (int d = 0; d < nd; d++) {
        sizes[d] = fv_num(in, 1, 6);
        sub[d] = fv_num(in, 1, sizes[d]);
        start[d] = fv_num(in, 0, sizes[d] - sub[d]);
        dist[d] = (int[]){ MPI_DISTRIBUTE_NONE, MPI_DISTRIBUTE_BLOCK,
                           MPI_DISTRIBUTE_CYCLIC }[fv_byte(in) % 3];
        darg[d] = fv_byte(in) & 1 ? MPI_DISTRIBUTE_DFLT_DARG : fv_num(in, 1, 3);
    }
    if (op == 0)
        return MPI_Type_create_subarray(nd, sizes, sub, start, order, c, t);
    np = fv_num(in, 1, 4);
    ps[0] = np;
    rank = fv_num(in, 0, np - 1);
    for (int d = 0; d < nd; d++) {
        if (dist[d] == MPI_DISTRIBUTE_NONE)
            darg[d] = MPI_DISTRIBUTE_DFLT_DARG;
        if (dist[d] == MPI_DISTRIBUTE_BLOCK && darg[d] != MPI_DISTRIBUTE_DFLT_DARG &&
            darg[d] * ps[d] < sizes[d])
            darg[d] = MPI_DISTRIBUTE_DFLT_DARG;
    }
    if (dist[0] == MPI_DISTRIBUTE_NONE)
        ps[0] = np = 1, rank = 0;
    return MPI_Type_create_darray(np, rank, nd, sizes, dist, darg, ps, order, c, t);
}

/* The derived constructors over child c (op 1..7). */
static int fv_derived(struct fv_in *in, MPI_Datatype c, int op, MPI_Datatype *t)
{
    int n = fv_num(in, 0, 4), bl[4], di[4];
    MPI_Aint ad[4];

    for (int i = 0; i < 4; i++) {
        bl[i] = fv_num(in, 0, 3);
        di[i] = fv_num(in, -3, 9);
        ad[i] = fv_num(in, -16, 64);
    }
    int stride = fv_num(in, -4, 6);

    in->negative_stride |= (op == 2 && stride < 0) || (op == 3 && ad[0] < 0);
    switch (op) {
    case 1: return MPI_Type_contiguous(n, c, t);
    case 2: return MPI_Type_vector(n, bl[0], stride, c, t);
    case 3: return MPI_Type_create_hvector(n, bl[0], ad[0], c, t);
    case 4: return MPI_Type_indexed(n, bl, di, c, t);
    case 5: return MPI_Type_create_hindexed(n, bl, ad, c, t);
    case 6: return MPI_Type_create_indexed_block(n, bl[0], di, c, t);
    default: return MPI_Type_create_resized(c, fv_num(in, -8, 8), fv_num(in, 0, 64), t);
    }
}

static MPI_Datatype fv_build(struct fv_in *in, int depth)
{
    int op = depth >= FV_DEPTH || !in->n ? 0 : fv_byte(in) % 11;
    MPI_Datatype c, t = MPI_DATATYPE_NULL;
    int rc;

    if (op == 0)
        return fv_named(in);
    if (op == 8) {   /* struct of up to three children */
        int n = fv_num(in, 1, 3), bl[3];
        MPI_Aint ad[3];
        MPI_Datatype ch[3];

        for (int i = 0; i < n; i++) {
            bl[i] = fv_num(in, 0, 2);
            ad[i] = fv_num(in, -16, 64);
            ch[i] = fv_build(in, depth + 1);
        }
        rc = MPI_Type_create_struct(n, bl, ad, ch, &t);
        for (int i = 0; i < n; i++)
            fv_free(&ch[i]);
        return rc == MPI_SUCCESS ? t : MPI_DATATYPE_NULL;
    }
    c = fv_build(in, depth + 1);
    if (c == MPI_DATATYPE_NULL)
        return c;
    rc = op >= 9 ? fv_grid(in, c, op - 9, &t) : fv_derived(in, c, op, &t);
    fv_free(&c);
    return rc == MPI_SUCCESS ? t : MPI_DATATYPE_NULL;
}

/* Where each memory byte of t's true extent got its stream byte from (MPI_Unpack),
 * -1 where none: idx[text]; 0, or -1 when the typemap overlaps itself. */
static int fv_brute(MPI_Datatype t, MPI_Count size, MPI_Aint tlb, MPI_Aint text, int32_t *idx)
{
    uint8_t *stream = malloc((size_t)size), *mem = malloc((size_t)text + 1);
    int32_t covered = 0;

    for (MPI_Aint i = 0; i < text; i++)
        idx[i] = 0;
    for (int pass = 0; pass < 4; pass++) {
        int pos = 0;

        for (MPI_Count k = 0; k < size; k++)
            stream[k] = pass == 3 ? 1 : (uint8_t)(k >> (8 * pass));
        memset(mem, 0, (size_t)text + 1);
        MPI_Unpack(stream, (int)size, &pos, mem - tlb, 1, t, MPI_COMM_SELF);
        for (MPI_Aint i = 0; i < text; i++)
            idx[i] |= pass == 3 ? (mem[i] ? 0 : INT32_MIN) : (int32_t)mem[i] << (8 * pass);
    }
    for (MPI_Aint i = 0; i < text; i++) {
        if (idx[i] == INT32_MIN || idx[i] < 0)
            idx[i] = -1;
        else
            covered++;
    }
    free(stream);
    free(mem);
    return covered == size ? 0 : -1;
}

static int fv_cmp(const void *a, const void *b)
{
    const int64_t *x = a, *y = b;

    return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* Whether cnio's blocks overlap one another (a typemap that overlaps itself: Open MPI's
 * own bounds and unpacking of those, negative hvector strides in particular, do not
 * follow the typemap, so only the sizes are compared then). */
static int fv_overlaps(const struct cnio_flat *f)
{
    int64_t *b = malloc((size_t)f->n * 2 * sizeof(*b) + 1);
    int over = 0;

    for (int64_t j = 0; j < f->n; j++) {
        b[2 * j] = f->off[j];
        b[2 * j + 1] = f->len[j];
    }
    qsort(b, (size_t)f->n, 2 * sizeof(*b), fv_cmp);
    for (int64_t j = 1; j < f->n && !over; j++)
        over = b[2 * j] < b[2 * j - 2] + b[2 * j - 1];
    free(b);
    return over;
}

static void fv_check(MPI_Datatype t, int negative_stride)
{
    const struct cnio_flat *f;
    MPI_Count size, lb, ext, tlb, text;
    int64_t k = 0, sum = 0;
    int32_t *idx;
    int ret = cnio__flat_get(t, &f);

    if (ret == -CNIO_ERR_NOTSUP || ret == -CNIO_ERR_NOMEM || ret == -CNIO_ERR_OVERFLOW)
        return;
    if (ret || MPI_Type_size_x(t, &size) || MPI_Type_get_extent_x(t, &lb, &ext) ||
        MPI_Type_get_true_extent_x(t, &tlb, &text))
        FV_FAIL("flattening failed: %s", cnio_strerror(ret));
    if (f->size != size || f->lb != lb || f->extent != ext)
        FV_FAIL("size/lb/extent %lld/%lld/%lld, MPI says %lld/%lld/%lld", (long long)f->size,
                (long long)f->lb, (long long)f->extent, (long long)size, (long long)lb,
                (long long)ext);
    for (int64_t j = 0; j < f->n; j++) {
        if (f->len[j] <= 0)
            FV_FAIL("block %lld of length %lld", (long long)j, (long long)f->len[j]);
        sum += f->len[j];
    }
    if (sum != size)
        FV_FAIL("blocks hold %lld bytes, the size is %lld", (long long)sum, (long long)size);
    if (size == 0 || size > FV_MAX_SIZE || text > FV_MAX_EXTENT || fv_overlaps(f))
        return;
    if (negative_stride) {
        fv_mpi_bounds++;
        return;
    }
    idx = malloc((size_t)text * sizeof(*idx));
    if (fv_brute(t, size, (MPI_Aint)tlb, (MPI_Aint)text, idx) == 0) {
        for (int64_t j = 0; j < f->n; j++) {
            if (f->off[j] < tlb || f->off[j] + f->len[j] > tlb + text) {
                fv_mpi_bounds++;   /* Open MPI: vector(4, 1, -1) has true lb 0, not -3 */
                free(idx);
                return;
            }
            for (int64_t i = 0; i < f->len[j]; i++, k++)
                if (idx[f->off[j] + i - tlb] != k)
                    FV_FAIL("stream byte %lld: cnio puts it at %lld, MPI_Unpack at another "
                            "place (block %lld of %lld)", (long long)k,
                            (long long)(f->off[j] + i), (long long)j, (long long)f->n);
        }
        fv_compared++;
    }
    free(idx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fv_in in = { data, size, 0 };
    MPI_Datatype t;
    int init;

    MPI_Initialized(&init);
    if (!init) {
        MPI_Init(NULL, NULL);
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN);
    }
    t = fv_build(&in, 0);
    if (t == MPI_DATATYPE_NULL)
        return 0;
    if (MPI_Type_commit(&t) == MPI_SUCCESS)
        fv_check(t, in.negative_stride);
    fv_free(&t);
    return 0;
}

/* replay.c calls it after the last input. */
void cnio_fuzz_fini(void)
{
    int init, fini;

    printf("fuzz_view: %ld types compared byte for byte with MPI_Unpack (%ld skipped: "
           "negative strides, where Open MPI is no oracle)\n", fv_compared, fv_mpi_bounds);
    MPI_Initialized(&init);
    MPI_Finalized(&fini);
    if (init && !fini)
        MPI_Finalize();
}
