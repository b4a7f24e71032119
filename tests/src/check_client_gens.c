/*
 * check_client_gens.c - opens of a URI whose hosts hold columns of different objects of
 * one name (src/client_commit.c, cnio__cl_check_complete), over four real cnio-servers
 * A, B, C, D: object z of two columns written through A,B and another z through C,D,
 * then named through A,D (a typo in one host). Both have the same layout, so only their
 * generations tell them apart. A read-only open was refused; an open for writing in
 * place was not: it read a mix of the two objects, and its writes changed both, which
 * then said complete (helper-75). Every such open is refused now, and both objects read
 * back as they were written.
 */
#include "common.h"
#include "client.h"
#include "config.h"
#include "fixture.h"
#include "net.h"
#include "stack.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STAGE (CNIO_WIRE_O_CREATE | CNIO_WIRE_O_WRITE | CNIO_WIRE_O_STAGE | CNIO_WIRE_O_TRUNC)
#define LEN 100000            /* 25 stripes of 4 KiB: both columns hold some */

static struct fx fx;
static struct cnio_stack *st;

static void setup(void)
{
    ck_assert_msg(fx_start(&fx, 4, NULL) == 0, "cannot start servers");
    ck_assert_int_eq(cnio__stack_open(&st), 0);
}

static void teardown(void)
{
    cnio__stack_close(st);
    st = NULL;
    fx_stop(&fx);
}

/* Opens z through hosts i and j (in that order) with oflags: 0 or a negative code. */
static int open_z(int i, int j, uint32_t oflags, struct cnio_obj **o)
{
    char buf[256];
    struct cnio_hints h;
    struct cnio_uri u;
    int ret;

    snprintf(buf, sizeof(buf), "cnio://127.0.0.1:%u,127.0.0.1:%u/z?stripe_unit=4K",
             fx.port[i], fx.port[j]);
    ck_assert_int_eq(cnio__uri_parse(buf, &u), 0);
    ck_assert_int_eq(cnio__hints_resolve(&h, &u), 0);
    ret = cnio__obj_open(st, &u, &h, oflags, o);
    cnio__uri_free(&u);
    return ret;
}

/* Writes LEN bytes of seed through hosts i, j as a fresh staged instance, committed. */
static void write_z(int i, int j, uint64_t seed)
{
    uint8_t *b = malloc(LEN);
    struct cnio_obj *o;

    ck_assert_ptr_nonnull(b);
    fx_fill(b, LEN, seed);
    ck_assert_int_eq(open_z(i, j, STAGE, &o), 0);
    ck_assert_int_eq(cnio__obj_pwrite(o, b, LEN, 0), LEN);
    ck_assert_int_eq(cnio__obj_close(o), 0);
    free(b);
}

/* z through hosts i, j reads back whole as seed wrote it. */
static void reads_back(int i, int j, uint64_t seed)
{
    uint8_t *want = malloc(LEN), *got = malloc(LEN);
    struct cnio_obj *o;

    ck_assert_ptr_nonnull(want);
    ck_assert_ptr_nonnull(got);
    fx_fill(want, LEN, seed);
    ck_assert_int_eq(open_z(i, j, 0, &o), 0);
    ck_assert_int_eq(cnio__obj_pread(o, got, LEN, 0), LEN);
    ck_assert_msg(memcmp(want, got, LEN) == 0, "z through hosts %d,%d changed", i, j);
    ck_assert_int_eq(cnio__obj_close(o), 0);
    free(want);
    free(got);
}

START_TEST(two_objects_one_uri)
{
    static const uint32_t how[] = {
        0,                                                   /* read-only */
        CNIO_WIRE_O_WRITE,                                   /* in place (MPI_MODE_RDWR) */
        CNIO_WIRE_O_WRITE | CNIO_WIRE_O_CREATE,              /* ... with MPI_MODE_CREATE */
        CNIO_WIRE_O_WRITE | CNIO_WIRE_O_CREATE | CNIO_WIRE_O_STAGE,   /* what MPI-IO sends */
    };
    struct cnio_obj *o = NULL;

    write_z(0, 1, 11);
    write_z(2, 3, 22);
    for (size_t k = 0; k < CNIO_ARRAY_LEN(how); k++) {
        int ret = open_z(0, 3, how[k], &o);

        if (ret == 0) {
            uint8_t b[16] = { 0 };

            cnio__obj_pwrite(o, b, sizeof(b), 0);   /* what the user would do next */
            cnio__obj_close(o);
        }
        ck_assert_msg(ret == -CNIO_ERR_INCOMPLETE, "open %zu (flags %#x) through A,D: %s", k,
                      how[k], ret ? cnio_strerror(ret) : "opened");
    }
    reads_back(0, 1, 11);
    reads_back(2, 3, 22);
    /* the same object's own hosts still open it for writing in place, and a write of it
     * reads back */
    ck_assert_int_eq(open_z(0, 1, CNIO_WIRE_O_WRITE, &o), 0);
    ck_assert_int_eq(cnio__obj_close(o), 0);
    write_z(0, 1, 33);
    reads_back(0, 1, 33);
}
END_TEST

/* Opens name through the n hosts idx[] (in that order) with oflags. */
static int open_on(const char *name, int n, const int *idx, uint32_t oflags,
                   struct cnio_obj **o)
{
    char buf[256];
    size_t k = (size_t)snprintf(buf, sizeof(buf), "cnio://");
    struct cnio_hints h;
    struct cnio_uri u;
    int ret;

    for (int i = 0; i < n; i++)
        k += (size_t)snprintf(buf + k, sizeof(buf) - k, "%s127.0.0.1:%u", i ? "," : "",
                              fx.port[idx[i]]);
    snprintf(buf + k, sizeof(buf) - k, "/%s?stripe_unit=4K", name);
    ck_assert_int_eq(cnio__uri_parse(buf, &u), 0);
    ck_assert_int_eq(cnio__hints_resolve(&h, &u), 0);
    ret = cnio__obj_open(st, &u, &h, oflags, o);
    cnio__uri_free(&u);
    return ret;
}

/* name written through the n hosts idx[] reads back as seed wrote LEN bytes of it. */
static void on_reads_back(const char *name, int n, const int *idx, uint64_t seed)
{
    uint8_t *want = malloc(LEN), *got = malloc(LEN);
    struct cnio_obj *o;

    ck_assert_ptr_nonnull(want);
    ck_assert_ptr_nonnull(got);
    fx_fill(want, LEN, seed);
    ck_assert_int_eq(open_on(name, n, idx, 0, &o), 0);
    ck_assert_int_eq(cnio__obj_pread(o, got, LEN, 0), LEN);
    ck_assert_msg(memcmp(want, got, LEN) == 0, "%s changed", name);
    ck_assert_int_eq(cnio__obj_close(o), 0);
    free(want);
    free(got);
}

/*
 * An open that creates only what does not exist (MPI_MODE_CREATE, as MPI-IO sends it,
 * with and without EXCL) through a URI whose first host holds nothing of an object that
 * the others hold: y written through B alone, opened through A,B; x written through
 * B,C, opened through A,B,C. Column 0 made a fresh instance, the others were staged over
 * with it, and the close replaced the object: a 5 MB file read as empty and ended as
 * the 10 bytes written (helper-80, mpi4py and h5py 'a'). Refused now; both objects read
 * back as written, and host A keeps nothing of the refused opens.
 */
START_TEST(create_over_another_order)
{
    static const int b[] = { 1 }, ab[] = { 0, 1 }, bc[] = { 1, 2 }, abc[] = { 0, 1, 2 },
                     a[] = { 0 };
    const uint32_t mpi = CNIO_WIRE_O_WRITE | CNIO_WIRE_O_CREATE | CNIO_WIRE_O_STAGE;
    uint8_t *data = malloc(LEN);
    struct cnio_obj *o = NULL;
    struct {
        const char *name;
        int n;
        const int *idx;
    } over[] = { { "y", 2, ab }, { "x", 3, abc } };

    ck_assert_ptr_nonnull(data);
    fx_fill(data, LEN, 44);
    ck_assert_int_eq(open_on("y", 1, b, STAGE, &o), 0);
    ck_assert_int_eq(cnio__obj_pwrite(o, data, LEN, 0), LEN);
    ck_assert_int_eq(cnio__obj_close(o), 0);
    fx_fill(data, LEN, 55);
    ck_assert_int_eq(open_on("x", 2, bc, STAGE, &o), 0);
    ck_assert_int_eq(cnio__obj_pwrite(o, data, LEN, 0), LEN);
    ck_assert_int_eq(cnio__obj_close(o), 0);
    for (size_t k = 0; k < CNIO_ARRAY_LEN(over); k++)
        for (int excl = 0; excl < 2; excl++) {
            int ret = open_on(over[k].name, over[k].n, over[k].idx,
                              mpi | (excl ? CNIO_WIRE_O_EXCL : 0), &o);

            if (ret == 0) {
                cnio__obj_pwrite(o, data, 10, 0);   /* what the program did next */
                cnio__obj_close(o);
            }
            ck_assert_msg(ret == (excl ? -CNIO_ERR_EXIST : -CNIO_ERR_LAYOUT),
                          "%s, excl %d: %s", over[k].name, excl,
                          ret ? cnio_strerror(ret) : "opened");
            /* the refused open's fresh instance on host A is gone */
            ck_assert_int_eq(open_on(over[k].name, 1, a, 0, &o), -CNIO_ERR_NOENT);
        }
    on_reads_back("y", 1, b, 44);
    on_reads_back("x", 2, bc, 55);
    free(data);
}
END_TEST

/* One server under two names in one URI: refused at open as listed twice (it failed
 * as "object exists": the second column's open met the first's instance), and nothing
 * is left of the open on it. */
START_TEST(one_server_two_names)
{
    const uint32_t mpi = CNIO_WIRE_O_WRITE | CNIO_WIRE_O_CREATE | CNIO_WIRE_O_STAGE;
    static const int a[] = { 0 };
    char buf[256];
    struct cnio_hints h;
    struct cnio_uri u;
    struct cnio_obj *o = NULL;
    struct cnio_addr addrs[4];
    int n = 0, local = 0;

    /* the precondition: localhost is 127.0.0.1 here (else there is nothing to test) */
    if (cnio__net_resolve("localhost", fx.port[0], addrs, 4, &n) == 0)
        for (int i = 0; i < n; i++)
            local |= addrs[i].ss.ss_family == AF_INET &&
                     ((const struct sockaddr_in *)(const void *)&addrs[i].ss)->sin_addr.s_addr ==
                         htonl(INADDR_LOOPBACK);
    if (!local) {
        fprintf(stderr, "check_client_gens: localhost is not 127.0.0.1 here: skipped\n");
        return;
    }
    for (int k = 0; k < 2; k++) {
        snprintf(buf, sizeof(buf), "cnio://127.0.0.1:%u,localhost:%u/w?stripe_unit=4K",
                 fx.port[0], fx.port[0]);
        ck_assert_int_eq(cnio__uri_parse(buf, &u), 0);
        ck_assert_int_eq(cnio__hints_resolve(&h, &u), 0);
        ck_assert_int_eq(cnio__obj_open(st, &u, &h, k ? mpi : STAGE, &o), -CNIO_ERR_URI);
        cnio__uri_free(&u);
        ck_assert_int_eq(open_on("w", 1, a, 0, &o), -CNIO_ERR_NOENT);
    }
}
END_TEST

static Suite *gens_suite(void)
{
    Suite *s = suite_create("client_gens");
    TCase *tc = tcase_create("generations");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, two_objects_one_uri);
    tcase_add_test(tc, create_over_another_order);
    tcase_add_test(tc, one_server_two_names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_run(gens_suite());
}
