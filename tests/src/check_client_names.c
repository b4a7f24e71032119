/*
 * check_client_names.c - RENAME of an object or a directory striped over two real
 * cnio-servers (cnio__ns_rename, src/client_names.c): host 0 decides. A rename whose
 * source host 0 no longer has goes on to the other hosts only when host 0 already
 * holds the destination as the same object (the retry of a rename that stopped
 * halfway), so that two renames racing to give one object two names never leave each
 * name on one host: after any interleaving each name is a whole object that reads back
 * right, or absent, and exactly one of the two renames is told it succeeded.
 */
#include "common.h"
#include "client.h"
#include "config.h"
#include "fixture.h"
#include "stack.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STAGE (CNIO_WIRE_O_CREATE | CNIO_WIRE_O_WRITE | CNIO_WIRE_O_STAGE | CNIO_WIRE_O_TRUNC)
#define LEN 3000              /* three stripes of 1 KiB: columns 0 and 1 both hold some */

static struct fx fx;
static struct cnio_stack *st;

static void setup(void)
{
    ck_assert_msg(fx_start(&fx, 2, NULL) == 0, "cannot start servers");
    ck_assert_int_eq(cnio__stack_open(&st), 0);
}

static void teardown(void)
{
    cnio__stack_close(st);
    st = NULL;
    fx_stop(&fx);
}

/* Parses cnio://HOSTS/path (host0: cnio://HOST0/path, host 0 alone) and its hints. */
static void parse(const char *path, int host0, struct cnio_uri *u, struct cnio_hints *h)
{
    char buf[1024];

    if (host0)
        snprintf(buf, sizeof(buf), "cnio://127.0.0.1:%u/%s", fx.port[0], path);
    else
        fx_uri(&fx, path, "stripe_unit=1K", buf, sizeof(buf));
    ck_assert_int_eq(cnio__uri_parse(buf, u), 0);
    ck_assert_int_eq(cnio__hints_resolve(h, u), 0);
}

/* A namespace session with st to every host, or (host0) to host 0 alone. */
static struct cnio_ns *ns_to(struct cnio_stack *s, int host0)
{
    struct cnio_hints h;
    struct cnio_uri u;
    struct cnio_ns *ns;

    parse("", host0, &u, &h);
    ck_assert_int_eq(cnio__ns_open(s, &u, &h, &ns), 0);
    cnio__uri_free(&u);
    return ns;
}

/* Uploads LEN bytes of seed as name, two columns of 1 KiB stripes, and commits them. */
static void put(const char *name, uint64_t seed)
{
    uint8_t *w = malloc(LEN);
    struct cnio_hints h;
    struct cnio_uri u;
    struct cnio_obj *o;

    ck_assert_ptr_nonnull(w);
    fx_fill(w, LEN, seed);
    parse(name, 0, &u, &h);
    ck_assert_int_eq(cnio__obj_open(st, &u, &h, STAGE, &o), 0);
    ck_assert_int_eq(cnio__obj_pwrite(o, w, LEN, 0), LEN);
    ck_assert_int_eq(cnio__obj_close(o), 0);
    cnio__uri_free(&u);
    free(w);
}

/*
 * What a reader finds at name: 0 when it opens and reads back LEN bytes of seed, else
 * the open's error (-CNIO_ERR_NOENT: absent; -CNIO_ERR_INCOMPLETE: its columns
 * disagree). Wrong bytes read back with success fail the test.
 */
static int reads_back(const char *name, uint64_t seed)
{
    uint8_t *w = malloc(LEN), *r = malloc(LEN + 1);
    struct cnio_hints h;
    struct cnio_uri u;
    struct cnio_obj *o;
    uint64_t size = 0;
    int ret;

    ck_assert(w && r);
    fx_fill(w, LEN, seed);
    parse(name, 0, &u, &h);
    ret = cnio__obj_open(st, &u, &h, 0, &o);
    cnio__uri_free(&u);
    if (ret == 0) {
        ck_assert_int_eq(cnio__obj_size(o, &size), 0);
        ck_assert_msg(size == LEN, "%s opened whole, with %llu bytes, not %d", name,
                      (unsigned long long)size, LEN);
        ck_assert_int_eq(cnio__obj_pread(o, r, LEN, 0), LEN);
        ck_assert_msg(memcmp(w, r, LEN) == 0, "%s opened whole, and reads back wrong bytes",
                      name);
        ck_assert_int_eq(cnio__obj_close(o), 0);
    }
    free(w);
    free(r);
    return ret;
}

/* Host 0's column of object from renamed to to, as its RENAME does (data, metadata,
 * block sums): what a winner that stopped after host 0 leaves. */
static void rename_host0(const char *from, const char *to)
{
    static const char *const dirs[] = { "", ".cnio/meta/", ".cnio/sums/" };
    char a[PATH_MAX + 64], b[PATH_MAX + 64];

    for (size_t k = 0; k < 3; k++) {
        snprintf(a, sizeof(a), "%s/%s%s", fx.root[0], dirs[k], from);
        snprintf(b, sizeof(b), "%s/%s%s", fx.root[0], dirs[k], to);
        ck_assert_int_eq(rename(a, b), 0);
    }
}

/* The loser of a race, made exact: the winner renamed host 0's column and stopped
 * (through a URI of host 0 alone, a rename of an object of two columns is refused: the
 * test checks that, then renames host 0's files as its RENAME would). Then the winner's
 * retry finishes its rename. So for a directory. */
START_TEST(loser_stops_retry_finishes)
{
    struct cnio_ns *ns = ns_to(st, 0), *ns0 = ns_to(st, 1);

    put("m/a", 1);
    ck_assert_int_eq(cnio__ns_rename(ns0, "m/a", "m/b"), -CNIO_ERR_LAYOUT);
    rename_host0("m/a", "m/b");                                   /* the winner, halfway */
    ck_assert_int_eq(cnio__ns_rename(ns, "m/a", "m/c"), -CNIO_ERR_NOENT);   /* the loser */
    ck_assert_int_eq(reads_back("m/c", 1), -CNIO_ERR_NOENT);
    ck_assert_int_ne(reads_back("m/b", 1), 0);                    /* column 1 missing */
    ck_assert_int_eq(cnio__ns_rename(ns, "m/a", "m/b"), 0);       /* the winner's retry */
    ck_assert_int_eq(reads_back("m/b", 1), 0);
    ck_assert_int_eq(cnio__ns_rename(ns, "m/a", "m/b"), -CNIO_ERR_NOENT);   /* done */
    ck_assert_int_eq(reads_back("m/a", 1), -CNIO_ERR_NOENT);

    /* host 0 holds the destination, but another object: the source's remains stay */
    put("m/x", 2);
    put("m/y", 3);
    rename_host0("m/x", "m/z");
    ck_assert_int_eq(cnio__ns_rename(ns, "m/x", "m/y"), -CNIO_ERR_NOENT);
    ck_assert_int_eq(reads_back("m/y", 3), 0);

    /* a directory */
    put("d/o", 4);
    ck_assert_int_eq(cnio__ns_rename(ns0, "d", "e"), 0);
    ck_assert_int_eq(cnio__ns_rename(ns, "d", "f"), -CNIO_ERR_NOENT);
    ck_assert_int_eq(reads_back("f/o", 4), -CNIO_ERR_NOENT);
    ck_assert_int_eq(cnio__ns_rename(ns, "d", "e"), 0);
    ck_assert_int_eq(reads_back("e/o", 4), 0);
    cnio__ns_close(ns0);
    cnio__ns_close(ns);
}
END_TEST

struct racer {
    const char *from, *to;
    pthread_barrier_t *go;
    struct cnio_stack *st;
    struct cnio_ns *ns;
    int ret;
};

static void *racer_main(void *arg)
{
    struct racer *r = arg;

    pthread_barrier_wait(r->go);
    r->ret = cnio__ns_rename(r->ns, r->from, r->to);
    return NULL;
}

/* `cnio mv a b` racing `cnio mv a c`, many times: one of them renames the object, whole,
 * and the other is told there is no such object and touches nothing. */
START_TEST(racing_renames)
{
    for (int round = 0; round < 40; round++) {
        char a[32], b[32], c[32];
        struct racer r[2] = { { a, b, NULL, NULL, NULL, 0 }, { a, c, NULL, NULL, NULL, 0 } };
        pthread_barrier_t go;
        pthread_t t[2];
        int won = 0, rb, rc;

        snprintf(a, sizeof(a), "r%d/a", round);
        snprintf(b, sizeof(b), "r%d/b", round);
        snprintf(c, sizeof(c), "r%d/c", round);
        put(a, (uint64_t)round + 10);
        ck_assert_int_eq(pthread_barrier_init(&go, NULL, 2), 0);
        for (int i = 0; i < 2; i++) {
            r[i].go = &go;
            ck_assert_int_eq(cnio__stack_open(&r[i].st), 0);
            r[i].ns = ns_to(r[i].st, 0);
        }
        for (int i = 0; i < 2; i++)
            ck_assert_int_eq(pthread_create(&t[i], NULL, racer_main, &r[i]), 0);
        for (int i = 0; i < 2; i++) {
            pthread_join(t[i], NULL);
            ck_assert_msg(r[i].ret == 0 || r[i].ret == -CNIO_ERR_NOENT, "round %d: %s to %s: "
                          "%s", round, a, r[i].to, cnio_strerror(r[i].ret));
            won += r[i].ret == 0;
            cnio__ns_close(r[i].ns);
            cnio__stack_close(r[i].st);
        }
        pthread_barrier_destroy(&go);
        rb = reads_back(b, (uint64_t)round + 10);
        rc = reads_back(c, (uint64_t)round + 10);
        ck_assert_msg(won == 1 && (rb == 0) + (rc == 0) == 1, "round %d: %d of 2 racing "
                      "renames told they renamed it; reading %s: %s, %s: %s", round, won, b,
                      rb ? cnio_strerror(rb) : "whole", c, rc ? cnio_strerror(rc) : "whole");
        ck_assert_int_eq(r[0].ret == 0 ? rc : rb, -CNIO_ERR_NOENT);
        ck_assert_int_eq(reads_back(a, 0), -CNIO_ERR_NOENT);
    }
}
END_TEST

static Suite *names_suite(void)
{
    Suite *s = suite_create("client_names");
    TCase *tc = tcase_create("rename");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, loser_stops_retry_finishes);
    tcase_add_test(tc, racing_renames);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_run(names_suite());
}
