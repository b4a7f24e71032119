/*
 * check_client_batch.c - small objects written and read in batches over one namespace
 * session (cnio__ns_put_small, cnio__ns_get_small; src/client_batch*.c), over two real
 * servers: the bytes round-trip; an object larger than its first stripe or than the
 * caller's buffer is left to a read of its own (-CNIO_ERR_OVERFLOW); a missing one is
 * -CNIO_ERR_NOENT; one whose columns disagree (a commit that did not reach every
 * host) is -CNIO_ERR_INCOMPLETE, as cnio__obj_open reports it, never its bytes; and a
 * batch's objects have one column, on the first host, unless striping_factor asks for
 * more, and hide what an earlier version kept on the other hosts; one that a live
 * writer has open in place (its bytes may be a mix of two versions) is left to a read of
 * its own (-CNIO_ERR_OVERFLOW), and read in a batch again once the writer has closed it.
 */
#include "common.h"
#include "client.h"
#include "config.h"
#include "fixture.h"
#include "stack.h"

#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RW (CNIO_WIRE_O_CREATE | CNIO_WIRE_O_WRITE)

static struct fx fx;
static struct cnio_stack *st;
static struct cnio_ns *ns;

static void parse_hints(const char *path, const char *hints, struct cnio_uri *u,
                        struct cnio_hints *h)
{
    char buf[1024];

    ck_assert_int_eq(cnio__uri_parse(fx_uri(&fx, path, hints, buf, sizeof(buf)), u), 0);
    ck_assert_int_eq(cnio__hints_resolve(h, u), 0);
}

static void parse(const char *path, struct cnio_uri *u, struct cnio_hints *h)
{
    parse_hints(path, "stripe_unit=1M", u, h);
}

/* A namespace session with these hints (the fixture's is stripe_unit=1M alone). */
static struct cnio_ns *ns_with(const char *hints)
{
    struct cnio_uri u;
    struct cnio_hints h;
    struct cnio_ns *n;

    parse_hints("", hints, &u, &h);
    ck_assert_int_eq(cnio__ns_open(st, &u, &h, &n), 0);
    cnio__uri_free(&u);
    return n;
}

/* Whether server i stores anything of name: its data file or its metadata. */
static int host_has(int i, const char *name)
{
    char a[PATH_MAX + 64], b[PATH_MAX + 64];
    struct stat sb;

    snprintf(a, sizeof(a), "%s/%s", fx.root[i], name);
    snprintf(b, sizeof(b), "%s/.cnio/meta/%s", fx.root[i], name);
    return lstat(a, &sb) == 0 || lstat(b, &sb) == 0;
}

static struct cnio_obj_stat stat_of(const char *name)
{
    struct cnio_uri u;
    struct cnio_hints h;
    struct cnio_obj_stat s;

    parse(name, &u, &h);
    ck_assert_int_eq(cnio__obj_stat(st, &u, &h, &s), 0);
    cnio__uri_free(&u);
    return s;
}

static void setup(void)
{
    struct cnio_uri u;
    struct cnio_hints h;

    ck_assert_msg(fx_start(&fx, 2, NULL) == 0, "cannot start servers");
    ck_assert_int_eq(cnio__stack_open(&st), 0);
    parse("", &u, &h);
    ck_assert_int_eq(cnio__ns_open(st, &u, &h, &ns), 0);
    cnio__uri_free(&u);
}

static void teardown(void)
{
    cnio__ns_close(ns);
    cnio__stack_close(st);
    fx_stop(&fx);
}

/* Writes name (len bytes of seed) as one object of its own, striped 1 MiB. */
static void put_alone(const char *name, const uint8_t *data, size_t len)
{
    struct cnio_uri u;
    struct cnio_hints h;
    struct cnio_obj *o;

    parse(name, &u, &h);
    ck_assert_int_eq(cnio__obj_open(st, &u, &h, RW, &o), 0);
    ck_assert_int_eq(cnio__obj_pwrite(o, data, len, 0), (ssize_t)len);
    ck_assert_int_eq(cnio__obj_close(o), 0);
    cnio__uri_free(&u);
}

static int open_alone(const char *name)
{
    struct cnio_uri u;
    struct cnio_hints h;
    struct cnio_obj *o;
    int ret;

    parse(name, &u, &h);
    ret = cnio__obj_open(st, &u, &h, 0, &o);
    if (ret == 0)
        cnio__obj_close(o);
    cnio__uri_free(&u);
    return ret;
}

START_TEST(round_trip)
{
    static const char *const names[] = { "b/empty", "b/one", "b/kib", "b/stripe" };
    const size_t sizes[] = { 0, 1, 70001, 1u << 20 };
    enum { N = 4 };
    struct cnio_ns_put p[N];
    struct cnio_ns_get g[N + 3];
    uint8_t *w = malloc(3u << 20), *r[N + 3];

    ck_assert_ptr_nonnull(w);
    fx_fill(w, 3u << 20, 21);
    for (int i = 0; i < N; i++)
        p[i] = (struct cnio_ns_put){ .path = names[i], .data = w, .size = sizes[i] };
    ck_assert_int_eq(cnio__ns_put_small(ns, p, N), 0);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(p[i].status, 0);
    put_alone("b/big", w, 3u << 20);   /* three stripes: not for a batch */
    for (int i = 0; i < N + 3; i++) {
        r[i] = malloc(1u << 20);
        ck_assert_ptr_nonnull(r[i]);
        memset(r[i], 0xee, 1u << 20);
        g[i] = (struct cnio_ns_get){ .path = i < N ? names[i] : i == N ? "b/big"
                                                             : i == N + 1 ? "b/missing"
                                                                          : "b/kib",
                                     .buf = r[i], .cap = 1u << 20 };
    }
    g[N + 2].cap = 70000;   /* one byte short */
    ck_assert_int_eq(cnio__ns_get_small(ns, g, N + 3), 0);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(g[i].status, 0);
        ck_assert_uint_eq(g[i].size, sizes[i]);
        ck_assert(memcmp(r[i], w, sizes[i]) == 0);
    }
    ck_assert_int_eq(g[N].status, -CNIO_ERR_OVERFLOW);
    ck_assert_uint_eq(g[N].size, 3u << 20);
    ck_assert_int_eq(g[N + 1].status, -CNIO_ERR_NOENT);
    ck_assert_int_eq(g[N + 2].status, -CNIO_ERR_OVERFLOW);
    ck_assert_uint_eq(g[N + 2].size, 70001);
    for (int i = 0; i < N + 3; i++)
        free(r[i]);
    free(w);
}
END_TEST

/* Copies file `from` over `to` (beneath server i's root). */
static void copy_file(int i, const char *from, const char *to)
{
    char a[PATH_MAX + 64], b[PATH_MAX + 64], buf[4096];
    int in, out;
    ssize_t n;

    snprintf(a, sizeof(a), "%s/%s", fx.root[i], from);
    snprintf(b, sizeof(b), "%s/%s", fx.root[i], to);
    in = open(a, O_RDONLY);
    ck_assert_msg(in >= 0, "cannot open %s", a);
    out = open(b, O_WRONLY | O_TRUNC);
    ck_assert_msg(out >= 0, "cannot open %s", b);
    while ((n = read(in, buf, sizeof(buf))) > 0)
        ck_assert_int_eq(write(out, buf, (size_t)n), n);
    close(in);
    close(out);
}

/* Host 1 holds y's metadata under x's name, as if x's last commit had not reached it:
 * x's columns disagree, and nobody may read x's bytes as complete. (Two columns, as the
 * hint asks: by default a batch's objects have one.) */
START_TEST(torn)
{
    struct cnio_ns *ns2 = ns_with("stripe_unit=1M&striping_factor=2");
    uint8_t w[100], r[100];
    struct cnio_ns_put p[2] = { { .path = "x", .data = w, .size = sizeof(w) },
                                { .path = "y", .data = w, .size = sizeof(w) } };
    struct cnio_ns_get g = { .path = "x", .buf = r, .cap = sizeof(r) };

    fx_fill(w, sizeof(w), 22);
    ck_assert_int_eq(cnio__ns_put_small(ns2, p, 2), 0);
    ck_assert_int_eq(p[0].status, 0);
    ck_assert_int_eq(p[1].status, 0);
    ck_assert_uint_eq(stat_of("x").layout.count, 2);
    ck_assert_int_eq(cnio__ns_get_small(ns, &g, 1), 0);
    ck_assert_int_eq(g.status, 0);
    copy_file(1, ".cnio/meta/y", ".cnio/meta/x");
    ck_assert_int_eq(open_alone("x"), -CNIO_ERR_INCOMPLETE);
    ck_assert_int_eq(cnio__ns_get_small(ns, &g, 1), 0);
    ck_assert_int_eq(g.status, -CNIO_ERR_INCOMPLETE);
    cnio__ns_close(ns2);
}
END_TEST

struct seen {
    int n;
    struct cnio_obj_stat s[4];
};

static int list_fn(const char *name, const struct cnio_obj_stat *s, void *arg)
{
    struct seen *v = arg;

    (void)name;
    ck_assert_int_lt(v->n, 4);
    v->s[v->n++] = *s;
    return 0;
}

/* Objects of one stripe are written on the first host only; one that replaces an object
 * of two columns hides the column the old one left on host 1 (STAT, LIST and reads see
 * the new object, complete), and removing the name removes that column too. */
START_TEST(one_column)
{
    uint8_t *w = malloc(2u << 20), r[100];
    struct cnio_ns_put p[2] = { { .path = "c/new", .size = 100, .mode = 0100640,
                                  .mtime_ns = 1500000000123456789ull },
                                { .path = "c/old", .size = 100 } };
    struct cnio_ns_get g = { .path = "c/old", .buf = r, .cap = sizeof(r) };
    struct seen v = { 0 };
    struct cnio_uri u;
    struct cnio_hints h;

    ck_assert_ptr_nonnull(w);
    fx_fill(w, 2u << 20, 23);
    p[0].data = w;
    p[1].data = w + 1;
    put_alone("c/old", w, 2u << 20);   /* a stripe on each host */
    ck_assert(host_has(1, "c/old"));
    ck_assert_int_eq(cnio__ns_put_small(ns, p, 2), 0);
    ck_assert_int_eq(p[0].status, 0);
    ck_assert_int_eq(p[1].status, 0);
    ck_assert(host_has(0, "c/new"));
    ck_assert(!host_has(1, "c/new"));
    for (int i = 0; i < 2; i++) {
        struct cnio_obj_stat s = stat_of(p[i].path);

        ck_assert_uint_eq(s.layout.count, 1);
        ck_assert_uint_eq(s.size, 100);
        ck_assert_uint_eq(s.state, 0);
        if (i == 0) {   /* SETATTR went to its one host */
            ck_assert_uint_eq(s.mode & 07777, 0640);
            ck_assert_uint_eq(s.mtime_ns, 1500000000123456789ull);
        }
    }
    ck_assert_int_eq(cnio__ns_list(ns, "c", list_fn, &v), 0);
    ck_assert_int_eq(v.n, 2);
    for (int i = 0; i < 2; i++) {
        ck_assert_uint_eq(v.s[i].layout.count, 1);
        ck_assert_uint_eq(v.s[i].size, 100);
        ck_assert_uint_eq(v.s[i].state, 0);
    }
    ck_assert_int_eq(cnio__ns_get_small(ns, &g, 1), 0);
    ck_assert_int_eq(g.status, 0);
    ck_assert_uint_eq(g.size, 100);
    ck_assert(memcmp(r, w + 1, 100) == 0);
    ck_assert_int_eq(open_alone("c/old"), 0);
    parse("c/old", &u, &h);
    ck_assert_int_eq(cnio__obj_unlink(st, &u, &h), 0);
    cnio__uri_free(&u);
    ck_assert(!host_has(0, "c/old"));
    ck_assert(!host_has(1, "c/old"));
    free(w);
}
END_TEST

/* A writer in place holds w/obj open: a batch leaves it to a read of its own (where a
 * copy looks for the writer before and after and copies again), never returns bytes
 * that may be a mix; once the writer closed it, the batch reads its version. Before,
 * the batch returned the bytes with status 0. */
START_TEST(in_place)
{
    uint8_t w[3000], r[3000];
    struct cnio_ns_get g = { .path = "w/obj", .buf = r, .cap = sizeof(r) };
    struct cnio_uri u;
    struct cnio_hints h;
    struct cnio_obj *o;

    fx_fill(w, sizeof(w), 24);
    put_alone("w/obj", w, sizeof(w));
    ck_assert_int_eq(cnio__ns_get_small(ns, &g, 1), 0);
    ck_assert_int_eq(g.status, 0);
    parse("w/obj", &u, &h);
    ck_assert_int_eq(cnio__obj_open(st, &u, &h, CNIO_WIRE_O_WRITE, &o), 0);
    memset(w, 0x5a, 1000);
    ck_assert_int_eq(cnio__obj_pwrite(o, w, 1000, 0), 1000);
    ck_assert_int_eq(cnio__ns_get_small(ns, &g, 1), 0);
    ck_assert_int_eq(g.status, -CNIO_ERR_OVERFLOW);
    ck_assert_int_eq(cnio__obj_close(o), 0);
    cnio__uri_free(&u);
    memset(r, 0, sizeof(r));
    ck_assert_int_eq(cnio__ns_get_small(ns, &g, 1), 0);
    ck_assert_int_eq(g.status, 0);
    ck_assert_uint_eq(g.size, sizeof(w));
    ck_assert(memcmp(r, w, sizeof(w)) == 0);
}
END_TEST

static Suite *batch_suite(void)
{
    Suite *s = suite_create("client_batch");
    TCase *tc = tcase_create("batch");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, torn);
    tcase_add_test(tc, one_column);
    tcase_add_test(tc, in_place);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_run(batch_suite());
}
