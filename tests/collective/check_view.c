/*
 * check_view.c - tests of collective/view.c: every kind of datatype and nestings of them
 * flattened and compared with MPI_Pack as the oracle; the cache; views validated; and
 * cnio__view_map compared with a byte-by-byte walk. One process (singleton MPI_Init in
 * main), Check's fork mode off.
 */
#include "view.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GIB ((int64_t)1 << 30)

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fill(unsigned char *p, int64_t n)
{
    int64_t i;

    for (i = 0; i < n; i++)
        p[i] = (unsigned char)rng();
}

static const struct cnio_flat *flat_of(MPI_Datatype t)
{
    const struct cnio_flat *f = NULL;

    ck_assert_int_eq(cnio__flat_get(t, &f), 0);
    ck_assert_ptr_nonnull(f);
    return f;
}

/* The flat agrees with MPI's size and extent, has no empty block and is merged. */
static void flat_sane(MPI_Datatype t, const struct cnio_flat *f)
{
    MPI_Count size, lb, ext;
    int64_t j, sum = 0;

    MPI_Type_size_x(t, &size);
    MPI_Type_get_extent_x(t, &lb, &ext);
    ck_assert_int_eq(f->size, size);
    ck_assert_int_eq(f->lb, lb);
    ck_assert_int_eq(f->extent, ext);
    for (j = 0; j < f->n; j++) {
        ck_assert_int_gt(f->len[j], 0);
        if (j)
            ck_assert_int_ne(f->off[j - 1] + f->len[j - 1], f->off[j]);
        sum += f->len[j];
    }
    ck_assert_int_eq(sum, size);
}

/*
 * The oracle: MPI_Pack count instances of t from a buffer of random bytes and gather the
 * same instances through the flat list (instance i at i * extent); the bytes must be the
 * same. Four fills make a wrong position vanishingly unlikely to pass.
 */
static void oracle(MPI_Datatype t, int count)
{
    const struct cnio_flat *f = flat_of(t);
    MPI_Count tlb, text;
    int64_t lo, hi, i, j, q, round;
    unsigned char *buf, *base, *pk, *g;
    int psz, pos;

    flat_sane(t, f);
    MPI_Type_get_true_extent_x(t, &tlb, &text);
    lo = tlb + CNIO_MIN(0, (count - 1) * f->extent);
    hi = tlb + text + CNIO_MAX(0, (count - 1) * f->extent);
    buf = malloc(hi - lo + 1);
    MPI_Pack_size(count, t, MPI_COMM_SELF, &psz);
    pk = malloc(psz + 1);
    g = malloc(count * f->size + 1);
    ck_assert(buf && pk && g);
    base = buf - lo;
    for (round = 0; round < 4; round++) {
        fill(buf, hi - lo);
        pos = 0;
        ck_assert_int_eq(MPI_Pack(base, count, t, pk, psz, &pos, MPI_COMM_SELF), MPI_SUCCESS);
        ck_assert_int_eq(pos, count * f->size);
        for (i = 0, q = 0; i < count; i++)
            for (j = 0; j < f->n; j++, q += f->len[j - 1])
                memcpy(g + q, base + i * f->extent + f->off[j], f->len[j]);
        ck_assert_int_eq(q, pos);
        ck_assert_mem_eq(pk, g, pos);
    }
    free(g);
    free(pk);
    free(buf);
}

/* Commits t, runs the oracle on 1 and 3 instances, frees t. */
static void check_type(MPI_Datatype t)
{
    MPI_Type_commit(&t);
    oracle(t, 1);
    oracle(t, 3);
    MPI_Type_free(&t);
}

static void expect(MPI_Datatype t, int n, const int64_t *off, const int64_t *len)
{
    const struct cnio_flat *f = flat_of(t);
    int j;

    ck_assert_int_eq(f->n, n);
    for (j = 0; j < n; j++) {
        ck_assert_int_eq(f->off[j], off[j]);
        ck_assert_int_eq(f->len[j], len[j]);
    }
}

START_TEST(test_named)
{
    MPI_Datatype named[] = { MPI_BYTE, MPI_CHAR, MPI_INT, MPI_DOUBLE, MPI_LONG_DOUBLE,
                             MPI_2INT, MPI_SHORT_INT, MPI_DOUBLE_INT, MPI_LONG_INT,
                             MPI_FLOAT_INT, MPI_LONG_DOUBLE_INT, MPI_C_DOUBLE_COMPLEX };
    const int64_t so[] = { 0, 4 }, sl[] = { 2, 4 };
    size_t i;

    for (i = 0; i < CNIO_ARRAY_LEN(named); i++) {
        oracle(named[i], 1);
        oracle(named[i], 3);
    }
    expect(MPI_SHORT_INT, 2, so, sl);
}
END_TEST

START_TEST(test_contiguous_vector)
{
    MPI_Datatype t;
    const int64_t o1[] = { 0 }, l1[] = { 20 };
    const int64_t o2[] = { 0, 12, 24, 36 }, l2[] = { 8, 8, 8, 8 };

    MPI_Type_contiguous(5, MPI_INT, &t);
    expect(t, 1, o1, l1);
    check_type(t);
    MPI_Type_contiguous(0, MPI_INT, &t);
    ck_assert_int_eq(flat_of(t)->n, 0);
    MPI_Type_free(&t);
    MPI_Type_vector(4, 2, 3, MPI_INT, &t);
    expect(t, 4, o2, l2);
    check_type(t);
    MPI_Type_vector(5, 3, 3, MPI_INT, &t);     /* stride == blocklength: one block */
    ck_assert_int_eq(flat_of(t)->n, 1);
    check_type(t);
    MPI_Type_vector(3, 1, -2, MPI_DOUBLE, &t);
    check_type(t);
    MPI_Type_create_hvector(3, 2, 11, MPI_CHAR, &t);
    check_type(t);
    MPI_Type_create_hvector(4, 1, -8, MPI_INT, &t);
    check_type(t);
}
END_TEST

START_TEST(test_indexed)
{
    int bl[] = { 2, 0, 3, 1 }, disp[] = { 5, 0, 1, 9 }, hbl[] = { 3, 1, 4 };
    int bdisp[] = { 4, 0, 8 };
    MPI_Aint hdisp[] = { 0, 17, 40 }, hbdisp[] = { 100, 0, -50 };
    MPI_Datatype t;

    MPI_Type_indexed(4, bl, disp, MPI_INT, &t);
    check_type(t);
    MPI_Type_create_hindexed(3, hbl, hdisp, MPI_SHORT, &t);   /* holes between blocks */
    check_type(t);
    MPI_Type_create_indexed_block(3, 2, bdisp, MPI_INT, &t);
    check_type(t);
    MPI_Type_create_hindexed_block(3, 2, hbdisp, MPI_SHORT, &t);
    check_type(t);
}
END_TEST

/* struct { char; int; double } with its natural layout. */
static MPI_Datatype mk_struct(void)
{
    int bl[] = { 1, 1, 1 };
    MPI_Aint disp[] = { 0, 4, 8 };
    MPI_Datatype types[] = { MPI_CHAR, MPI_INT, MPI_DOUBLE }, t;

    MPI_Type_create_struct(3, bl, disp, types, &t);
    return t;
}

/* A struct with negative displacements, given an explicit lb (and extent) by resized. */
static MPI_Datatype mk_negstruct(void)
{
    int bl[] = { 1, 2, 3 };
    MPI_Aint disp[] = { -8, 16, -20 };
    MPI_Datatype types[] = { MPI_INT, MPI_DOUBLE, MPI_CHAR }, s, t;

    MPI_Type_create_struct(3, bl, disp, types, &s);
    MPI_Type_create_resized(s, -32, 64, &t);
    MPI_Type_free(&s);
    return t;
}

START_TEST(test_struct_resized_dup)
{
    const int64_t so[] = { 0, 4 }, sl[] = { 1, 12 };
    MPI_Datatype t, u, v;

    t = mk_struct();
    expect(t, 2, so, sl);
    check_type(t);
    t = mk_negstruct();
    ck_assert_int_eq(flat_of(t)->lb, -32);
    ck_assert_int_eq(flat_of(t)->off[0], -8);
    check_type(t);
    MPI_Type_vector(3, 1, 2, MPI_INT, &u);
    MPI_Type_create_resized(u, -4, 40, &t);
    MPI_Type_free(&u);
    check_type(t);
    u = mk_struct();
    MPI_Type_dup(u, &t);
    MPI_Type_dup(t, &v);
    MPI_Type_free(&u);
    MPI_Type_free(&t);
    expect(v, 2, so, sl);
    check_type(v);
}
END_TEST

START_TEST(test_nested)
{
    int hbl[] = { 2, 1 };
    MPI_Aint hdisp[] = { 200, -100 };
    int bl[] = { 1, 2, 1 };
    MPI_Aint disp[] = { 0, 1000, 3000 };
    int sizes[] = { 4, 5 }, sub[] = { 2, 3 }, starts[] = { 1, 1 };
    MPI_Datatype s, v, a, types[3], t;

    s = mk_struct();
    MPI_Type_vector(3, 2, 4, s, &t);               /* vector of struct */
    check_type(t);
    MPI_Type_contiguous(7, s, &t);                 /* contiguous of struct */
    check_type(t);
    MPI_Type_free(&s);
    s = mk_negstruct();
    MPI_Type_create_hindexed(2, hbl, hdisp, s, &t); /* hindexed of resized negative struct */
    check_type(t);
    MPI_Type_free(&s);
    MPI_Type_vector(2, 1, 3, MPI_INT, &v);
    MPI_Type_create_subarray(2, sizes, sub, starts, MPI_ORDER_C, MPI_DOUBLE, &a);
    types[0] = v;
    types[1] = a;
    types[2] = MPI_INT;
    MPI_Type_create_struct(3, bl, disp, types, &t); /* struct of vector, subarray, int */
    check_type(t);
    MPI_Type_free(&v);
    MPI_Type_free(&a);
}
END_TEST

START_TEST(test_subarray)
{
    int s2[] = { 6, 8 }, u2[] = { 3, 4 }, t2[] = { 1, 2 };
    int s3[] = { 4, 5, 6 }, u3[] = { 2, 3, 4 }, t3[] = { 1, 0, 2 };
    int sr[] = { 4, 5 }, ur[] = { 2, 3 }, tr[] = { 1, 1 };
    int orders[] = { MPI_ORDER_C, MPI_ORDER_FORTRAN };
    MPI_Datatype t, v, r;
    size_t i;

    for (i = 0; i < CNIO_ARRAY_LEN(orders); i++) {
        MPI_Type_create_subarray(2, s2, u2, t2, orders[i], MPI_INT, &t);
        check_type(t);
        MPI_Type_create_subarray(3, s3, u3, t3, orders[i], MPI_DOUBLE, &t);
        check_type(t);
        MPI_Type_vector(2, 1, 2, MPI_INT, &v);      /* subarray of a resized vector */
        MPI_Type_create_resized(v, 0, 20, &r);
        MPI_Type_create_subarray(2, sr, ur, tr, orders[i], r, &t);
        check_type(t);
        MPI_Type_free(&v);
        MPI_Type_free(&r);
    }
    MPI_Type_create_subarray(2, s2, s2, (int[]){ 0, 0 }, MPI_ORDER_C, MPI_INT, &t);
    ck_assert_int_eq(flat_of(t)->n, 1);             /* the whole array: one block */
    MPI_Type_free(&t);
}
END_TEST

struct darray_case {
    int size, nd, gs[3], dist[3], darg[3], ps[3];
};

/*
 * Every rank's darray, through the oracle; and the ranks' blocks together cover the
 * global array exactly once (the distribution is a partition, as MPI defines it).
 */
static void check_darray(const struct darray_case *c, int order, MPI_Datatype old)
{
    MPI_Count oldsize;
    int64_t total, j, b;
    unsigned char *seen;
    const struct cnio_flat *f;
    MPI_Datatype t;
    int r, k;

    MPI_Type_size_x(old, &oldsize);
    for (total = oldsize, k = 0; k < c->nd; k++)
        total *= c->gs[k];
    seen = calloc(total, 1);
    ck_assert_ptr_nonnull(seen);
    for (r = 0; r < c->size; r++) {
        ck_assert_int_eq(MPI_Type_create_darray(c->size, r, c->nd, c->gs, c->dist, c->darg,
                                                c->ps, order, old, &t), MPI_SUCCESS);
        MPI_Type_commit(&t);
        oracle(t, 1);
        f = flat_of(t);
        for (j = 0; j < f->n; j++)
            for (b = f->off[j]; b < f->off[j] + f->len[j]; b++) {
                ck_assert(b >= 0 && b < total);
                ck_assert_int_eq(seen[b]++, 0);
            }
        MPI_Type_free(&t);
    }
    for (j = 0; j < total; j++)
        ck_assert_int_eq(seen[j], 1);
    free(seen);
}

START_TEST(test_darray)
{
    const int B = MPI_DISTRIBUTE_BLOCK, C = MPI_DISTRIBUTE_CYCLIC, N = MPI_DISTRIBUTE_NONE;
    const int D = MPI_DISTRIBUTE_DFLT_DARG;
    const struct darray_case cases[] = {
        { 6, 2, { 7, 10 }, { B, B }, { D, D }, { 2, 3 } },
        { 6, 2, { 7, 10 }, { C, C }, { D, D }, { 2, 3 } },
        { 6, 2, { 7, 10 }, { C, C }, { 2, 3 }, { 2, 3 } },
        { 6, 2, { 9, 10 }, { B, C }, { 5, 2 }, { 2, 3 } },
        { 4, 2, { 6, 5 }, { N, C }, { D, 2 }, { 1, 4 } },
        { 8, 3, { 5, 6, 7 }, { B, B, B }, { D, D, D }, { 2, 2, 2 } },
        { 8, 3, { 5, 6, 7 }, { B, C, B }, { D, D, D }, { 2, 2, 2 } },
        { 8, 3, { 5, 6, 7 }, { C, C, C }, { 2, 2, 3 }, { 2, 2, 2 } },
        { 3, 1, { 10 }, { C }, { 3 }, { 3 } },
    };
    MPI_Datatype r;
    size_t i;

    for (i = 0; i < CNIO_ARRAY_LEN(cases); i++) {
        check_darray(&cases[i], MPI_ORDER_C, MPI_INT);
        check_darray(&cases[i], MPI_ORDER_FORTRAN, MPI_DOUBLE);
    }
    MPI_Type_create_resized(MPI_SHORT, 0, 2, &r);
    check_darray(&cases[2], MPI_ORDER_C, r);
    MPI_Type_free(&r);
}
END_TEST

START_TEST(test_cache)
{
    const struct cnio_flat *f, *g;
    MPI_Datatype t, d;
    int64_t n, off1;

    t = mk_struct();
    f = flat_of(t);
    ck_assert_ptr_eq(flat_of(t), f);               /* cached */
    MPI_Type_dup(t, &d);
    g = flat_of(d);
    ck_assert_ptr_eq(g, f);                        /* the dup shares the entry */
    n = f->n;
    off1 = f->off[1];
    MPI_Type_free(&t);
    ck_assert_int_eq(g->n, n);                     /* still alive through the dup */
    ck_assert_int_eq(g->off[1], off1);
    MPI_Type_free(&d);
    ck_assert_ptr_eq(flat_of(MPI_INT), flat_of(MPI_INT));
    ck_assert_int_eq(cnio__flat_get(MPI_DATATYPE_NULL, &f), -CNIO_ERR_INVAL);
}
END_TEST

START_TEST(test_cost)
{
    int bl[] = { 1, 1, 1 };
    MPI_Aint disp[] = { 0, 2, 4 };
    MPI_Datatype types[] = { MPI_CHAR, MPI_CHAR, MPI_CHAR }, t, s, r;

    MPI_Type_vector(1 << 20, 1, 2, MPI_INT, &t);
    ck_assert_int_eq(flat_of(t)->n, 1 << 20);
    MPI_Type_free(&t);
    MPI_Type_create_struct(3, bl, disp, types, &s);
    MPI_Type_create_resized(s, 0, 6, &r);
    MPI_Type_contiguous(1 << 20, r, &t);
    ck_assert_int_eq(flat_of(t)->n, 3 << 20);
    MPI_Type_free(&t);
    MPI_Type_contiguous(1 << 30, MPI_BYTE, &t);  /* a contiguous type costs one block */
    ck_assert_int_eq(flat_of(t)->n, 1);
    MPI_Type_free(&t);
    MPI_Type_free(&r);
    MPI_Type_free(&s);
}
END_TEST

START_TEST(test_big)
{
    const int64_t vo[] = { 0, 2 * GIB, 4 * GIB }, vl[] = { GIB, GIB, GIB };
    const int64_t ho[] = { 0, 5 * GIB }, hl[] = { 3 * GIB, 3 * GIB };
    const int64_t co[] = { 0 }, cl[] = { 3 * GIB };
    MPI_Datatype g, t;

    MPI_Type_contiguous(1 << 30, MPI_BYTE, &g);
    MPI_Type_vector(3, 1, 2, g, &t);
    expect(t, 3, vo, vl);
    flat_sane(t, flat_of(t));
    ck_assert_int_eq(flat_of(t)->size, 3 * GIB);
    ck_assert_int_eq(flat_of(t)->extent, 5 * GIB);
    MPI_Type_free(&t);
    MPI_Type_contiguous(3, g, &t);
    expect(t, 1, co, cl);
    MPI_Type_free(&t);
    MPI_Type_create_hvector(2, 3, 5 * GIB, g, &t);
    expect(t, 2, ho, hl);
    ck_assert_int_eq(flat_of(t)->size, 6 * GIB);
    MPI_Type_free(&t);
    MPI_Type_free(&g);
}
END_TEST

/* Where data byte p of view v is in the file, found by walking the blocks. */
static int64_t brute_off(const struct cnio_view *v, int64_t p)
{
    const struct cnio_flat *ft = v->ft;
    int64_t k = p / ft->size, r = p % ft->size, j;

    for (j = 0; r >= ft->len[j]; j++)
        r -= ft->len[j];
    return v->disp + k * ft->extent + ft->off[j] + r;
}

/* view_map against the byte-by-byte walk, merged the same way. */
static void check_map(const struct cnio_view *v, int64_t offset, int64_t nbytes)
{
    struct cnio_extent *e, *w = malloc(nbytes * sizeof(*w));
    int64_t n, i, p, fo, m = 0;

    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(cnio__view_map(v, offset, nbytes, &e, &n), 0);
    for (p = offset * v->etype_size; p < offset * v->etype_size + nbytes; p++) {
        fo = brute_off(v, p);
        if (m && w[m - 1].off + w[m - 1].len == fo) {
            w[m - 1].len++;
        } else {
            w[m].off = fo;
            w[m++].len = 1;
        }
    }
    ck_assert_int_eq(n, m);
    for (i = 0; i < m; i++) {
        ck_assert_int_eq(e[i].off, w[i].off);
        ck_assert_int_eq(e[i].len, w[i].len);
    }
    free(w);
    free(e);
}

static void check_view_random(MPI_Offset disp, MPI_Datatype etype, MPI_Datatype ft)
{
    struct cnio_view v;
    int64_t per, i, off, nb;

    ck_assert_int_eq(cnio__view_init(&v), 0);
    ck_assert_int_eq(cnio__view_set(&v, disp, etype, ft), 0);
    per = v.ft->size / v.etype_size;
    for (i = 0; i < 300; i++) {
        off = rng() % (5 * per + 1);
        nb = 1 + rng() % (4 * v.ft->size);
        check_map(&v, off, nb);
    }
    check_map(&v, 0, 1);
    check_map(&v, 0, v.ft->size);
    check_map(&v, per, v.ft->size);
    check_map(&v, per - 1, v.etype_size);
    cnio__view_free(&v);
}

START_TEST(test_view_map)
{
    int hbl[] = { 3, 6, 3 }, sbl[] = { 4, 2, 3 };
    MPI_Aint hd[] = { 0, 10, 30 }, sd[] = { -8, 0, 9 };
    MPI_Datatype st[] = { MPI_CHAR, MPI_CHAR, MPI_CHAR };
    int gs[] = { 8, 6 }, dist[] = { MPI_DISTRIBUTE_CYCLIC, MPI_DISTRIBUTE_BLOCK };
    int darg[] = { 2, MPI_DISTRIBUTE_DFLT_DARG }, ps[] = { 2, 2 };
    int sz[] = { 10, 12 }, sub[] = { 4, 5 }, start[] = { 3, 2 };
    MPI_Datatype e3, t, u;

    MPI_Type_vector(3, 2, 4, MPI_INT, &t);
    check_view_random(100, MPI_INT, t);
    MPI_Type_free(&t);
    MPI_Type_contiguous(3, MPI_BYTE, &e3);
    MPI_Type_create_hindexed(3, hbl, hd, MPI_BYTE, &u);
    MPI_Type_create_resized(u, 0, 40, &t);
    check_view_random(0, e3, t);
    MPI_Type_free(&t);
    MPI_Type_free(&u);
    MPI_Type_free(&e3);
    MPI_Type_create_struct(3, sbl, sd, st, &u);    /* explicit negative lb via resized */
    MPI_Type_create_resized(u, -16, 48, &t);
    check_view_random(64, MPI_BYTE, t);
    MPI_Type_free(&t);
    MPI_Type_free(&u);
    MPI_Type_create_darray(4, 1, 2, gs, dist, darg, ps, MPI_ORDER_C, MPI_DOUBLE, &t);
    check_view_random(8, MPI_DOUBLE, t);
    MPI_Type_free(&t);
    MPI_Type_create_subarray(2, sz, sub, start, MPI_ORDER_FORTRAN, MPI_INT, &t);
    check_view_random(0, MPI_INT, t);
    MPI_Type_free(&t);
    MPI_Type_contiguous(4, MPI_INT, &t);             /* contiguous tiling */
    check_view_random(5, MPI_INT, t);
    MPI_Type_free(&t);
    MPI_Type_create_resized(MPI_INT, 0, 12, &t);     /* one block with a hole after it */
    check_view_random(0, MPI_INT, t);
    MPI_Type_free(&t);
    check_view_random(7, MPI_BYTE, MPI_BYTE);
}
END_TEST

START_TEST(test_view_far)
{
    struct cnio_view v;
    struct cnio_extent *e;
    MPI_Datatype t;
    int64_t n;

    MPI_Type_vector(2, 1, 4, MPI_INT, &t);
    ck_assert_int_eq(cnio__view_init(&v), 0);
    ck_assert_int_eq(cnio__view_set(&v, 12, MPI_INT, t), 0);
    MPI_Type_free(&t);                               /* the view holds its own handle */
    /* 2^37 filetype instances in: walking there from the start would never end, so an
     * answer at all shows the position is computed (and it is the right one) */
    ck_assert_int_eq(cnio__view_map(&v, (MPI_Offset)1 << 40, 64, &e, &n), 0);
    ck_assert_int_eq(n, 9);            /* block 1 of each instance touches block 0 of the next */
    ck_assert_int_eq(e[0].off, 12 + ((int64_t)1 << 40) / 2 * 20);
    free(e);
    check_map(&v, ((MPI_Offset)1 << 40) + 1, 1 << 20);
    ck_assert_int_eq(cnio__view_map(&v, 3, (int64_t)1 << 26, &e, &n), 0);
    ck_assert_int_eq(n, ((int64_t)1 << 26) / 8);
    free(e);
    ck_assert_int_eq(cnio__view_map(&v, 5, 0, &e, &n), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(cnio__view_map(&v, -1, 4, &e, &n), -CNIO_ERR_INVAL);
    ck_assert_int_eq(cnio__view_map(&v, 0, -4, &e, &n), -CNIO_ERR_INVAL);
    ck_assert_int_eq(cnio__view_map(&v, INT64_MAX / 2, 4, &e, &n), -CNIO_ERR_OVERFLOW);
    ck_assert_int_eq(cnio__view_map(&v, INT64_MAX / 8, 4, &e, &n), -CNIO_ERR_OVERFLOW);
    cnio__view_free(&v);
    ck_assert_int_eq(cnio__view_init(&v), 0);
    ck_assert_int_eq(cnio__view_map(&v, INT64_MAX - 4, 8, &e, &n), -CNIO_ERR_OVERFLOW);
    ck_assert_int_eq(cnio__view_map(&v, 1000, (int64_t)1 << 40, &e, &n), 0);
    ck_assert_int_eq(n, 1);                          /* contiguous: one extent, no walk */
    ck_assert_int_eq(e[0].off, 1000);
    ck_assert_int_eq(e[0].len, (int64_t)1 << 40);
    free(e);
    cnio__view_free(&v);
}
END_TEST

static int try_view(struct cnio_view *v, MPI_Offset disp, MPI_Datatype etype,
                    MPI_Datatype ft)
{
    int ret = cnio__view_set(v, disp, etype, ft);

    if (ft != MPI_BYTE)
        MPI_Type_free(&ft);
    return ret;
}

START_TEST(test_view_invalid)
{
    struct cnio_view v;
    struct cnio_extent *e;
    int bl2[] = { 4, 4 }, one[] = { 1, 1, 1 };
    MPI_Aint dec[] = { 8, 0 }, ovl[] = { 0, 2 }, neg[] = { -4, 0, 8 };
    MPI_Datatype ints[] = { MPI_INT, MPI_INT, MPI_INT }, t;
    int64_t n;

    ck_assert_int_eq(cnio__view_init(&v), 0);
    MPI_Type_contiguous(6, MPI_BYTE, &t);
    ck_assert_int_eq(try_view(&v, 0, MPI_INT, t), -CNIO_ERR_INVAL);    /* 4 does not divide 6 */
    MPI_Type_create_hindexed(2, bl2, dec, MPI_BYTE, &t);
    ck_assert_int_eq(try_view(&v, 0, MPI_BYTE, t), -CNIO_ERR_INVAL);   /* decreasing */
    MPI_Type_create_hindexed(2, bl2, ovl, MPI_BYTE, &t);
    ck_assert_int_eq(try_view(&v, 0, MPI_BYTE, t), -CNIO_ERR_INVAL);   /* overlapping */
    MPI_Type_create_struct(3, one, neg, ints, &t);
    ck_assert_int_eq(try_view(&v, 0, MPI_INT, t), -CNIO_ERR_INVAL);    /* before byte 0 */
    MPI_Type_create_struct(3, one, neg, ints, &t);
    ck_assert_int_eq(try_view(&v, 4, MPI_INT, t), 0);                  /* disp makes it fine */
    ck_assert_int_eq(v.disp, 4);
    ck_assert_int_eq(try_view(&v, -1, MPI_BYTE, MPI_BYTE), -CNIO_ERR_INVAL);
    ck_assert_int_eq(cnio__view_set(&v, 0, MPI_DATATYPE_NULL, MPI_BYTE), -CNIO_ERR_INVAL);
    ck_assert_int_eq(v.disp, 4);                     /* failures left the view alone */
    ck_assert_int_eq(v.ft->n, 2);
    ck_assert_int_eq(cnio__view_map(&v, 0, 12, &e, &n), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(e[0].off, 0);
    ck_assert_int_eq(e[0].len, 8);
    ck_assert_int_eq(e[1].off, 12);
    free(e);
    /* a filetype with no data (a rank that owns nothing) is a valid view of no bytes */
    MPI_Type_contiguous(0, MPI_BYTE, &t);
    ck_assert_int_eq(try_view(&v, 0, MPI_BYTE, t), 0);
    ck_assert_int_eq(cnio__view_map(&v, 0, 0, &e, &n), 0);
    ck_assert_int_eq(n, 0);
    /* data through it moves nothing: no extents, no error */
    ck_assert_int_eq(cnio__view_map(&v, 3, 1, &e, &n), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_ptr_null(e);
    cnio__view_free(&v);
}
END_TEST

/*
 * A filetype whose data reaches past its extent, as HDF5's collective chunk I/O builds
 * it: a struct of per-chunk types where the later chunks are resized (sticky bounds),
 * so the struct's extent covers only part of its data. The first instance is usable
 * (HDF5 accesses nothing else); an access beyond it is refused, not mis-tiled.
 */
START_TEST(test_view_past_extent)
{
    int bl[] = { 1, 1, 1, 1 };
    MPI_Aint d[] = { 0, 16, 32, 48 };
    MPI_Datatype c, r, types[4], t;
    MPI_Aint lb, ext;
    struct cnio_view v;
    struct cnio_extent *e;
    int64_t n;

    MPI_Type_contiguous(16, MPI_BYTE, &c);
    MPI_Type_contiguous(8, MPI_BYTE, &t);
    MPI_Type_create_resized(t, 0, 16, &r);
    MPI_Type_free(&t);
    types[0] = types[1] = c;
    types[2] = types[3] = r;
    MPI_Type_create_struct(4, bl, d, types, &t);
    MPI_Type_get_extent(t, &lb, &ext);
    ck_assert_int_eq(lb, 32);                  /* the resized chunks' sticky bounds */
    ck_assert_int_eq(ext, 32);
    ck_assert_int_eq(cnio__view_init(&v), 0);
    ck_assert_int_eq(try_view(&v, 1000, MPI_BYTE, t), 0);
    ck_assert_int_eq(cnio__view_map(&v, 0, 48, &e, &n), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(e[0].off, 1000);
    ck_assert_int_eq(e[0].len, 40);
    ck_assert_int_eq(e[1].off, 1048);
    ck_assert_int_eq(e[1].len, 8);
    free(e);
    ck_assert_int_eq(cnio__view_map(&v, 40, 16, &e, &n), -CNIO_ERR_NOTSUP);
    cnio__view_free(&v);
    MPI_Type_free(&c);
    MPI_Type_free(&r);
}
END_TEST

static Suite *view_suite(void)
{
    Suite *s = suite_create("view");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_named);
    tcase_add_test(tc, test_contiguous_vector);
    tcase_add_test(tc, test_indexed);
    tcase_add_test(tc, test_struct_resized_dup);
    tcase_add_test(tc, test_nested);
    tcase_add_test(tc, test_subarray);
    tcase_add_test(tc, test_darray);
    tcase_add_test(tc, test_cache);
    tcase_add_test(tc, test_cost);
    tcase_add_test(tc, test_big);
    tcase_add_test(tc, test_view_map);
    tcase_add_test(tc, test_view_far);
    tcase_add_test(tc, test_view_invalid);
    tcase_add_test(tc, test_view_past_extent);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    SRunner *sr;
    int failed;

    alarm(300);     /* Check's timeouts do not apply in no-fork mode: bound the run here */
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
    MPI_Init(&argc, &argv);
    sr = srunner_create(view_suite());
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    MPI_Finalize();
    return failed ? 1 : 0;
}
