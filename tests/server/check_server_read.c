/*
 * check_server_read.c - cnio-server's READ replies from a mapping of the object file:
 * unaligned ranges, short replies at the end of the file, a file shrunk behind the
 * server's back, and a file truncated and regrown while large READs are in flight
 * (the server must neither crash nor send bytes its CRC does not cover).
 */
#include "srvtest.h"

#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RW (CNIO_WIRE_O_CREATE | CNIO_WIRE_O_WRITE)
#define UNIT 65536
#define BIG (4u << 20)


START_TEST(test_read_ranges)
{
    static uint8_t data[BIG], back[BIG];
    char path[PATH_MAX];
    struct st_conn c;
    uint32_t got;
    uint64_t h;
    int fd;

    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(st_open(&c, "r", RW, 1, UNIT, 0, &h, NULL), 0);
    fx_fill(data, sizeof(data), 11);
    ck_assert_int_eq(st_write(&c, h, 0, data, sizeof(data)), 0);
    /* unaligned start and end */
    ck_assert_int_eq(st_read(&c, h, 4097, back, 300001, &got), 0);
    ck_assert_uint_eq(got, 300001);
    ck_assert_int_eq(memcmp(back, data + 4097, got), 0);
    /* a large READ that runs past the end is short */
    ck_assert_int_eq(st_read(&c, h, BIG - 200000 - 3, back, 1u << 20, &got), 0);
    ck_assert_uint_eq(got, 200003);
    ck_assert_int_eq(memcmp(back, data + BIG - 200003, got), 0);
    /* the file shrinks behind the server's back: replies follow the new size */
    ck_assert_ptr_nonnull(fx_local_path(&st_fx, 0, "r", path, sizeof(path)));
    fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, 1 << 20), 0);
    ck_assert_int_eq(st_read(&c, h, 65536 + 1, back, 2u << 20, &got), 0);
    ck_assert_uint_eq(got, (1u << 20) - 65537);
    ck_assert_int_eq(memcmp(back, data + 65537, got), 0);
    ck_assert_int_eq(st_read(&c, h, 2u << 20, back, 1u << 20, &got), 0);
    ck_assert_uint_eq(got, 0);
    close(fd);
    st_close(&c);
}
END_TEST

struct shrinker {
    int fd;
    atomic_int stop;
};

static void *shrink_loop(void *arg)
{
    struct shrinker *s = arg;

    while (!atomic_load(&s->stop)) {
        ck_assert_int_eq(ftruncate(s->fd, 4096), 0);
        ck_assert_int_eq(ftruncate(s->fd, BIG), 0);
    }
    return NULL;
}

/* One READ of the whole file: 1 when the reply is intact, 0 when the connection went. */
static int race_read(struct st_conn *c, uint64_t h, uint8_t *back)
{
    uint32_t got;
    int ret = st_read(c, h, 0, back, BIG, &got);

    /* A file regrown between the server's CRC pass and its send reads as zeros there:
     * the client sees the mismatch (as with any write racing a read of the same bytes
     * from the page cache) and drops the connection. */
    if (ret < 0 && ret != -CNIO_ERR_CONN && ret != -CNIO_ERR_PROTO &&
        ret != -CNIO_ERR_CHECKSUM)
        ck_abort_msg("READ: %s", cnio_strerror(ret));
    if (ret)
        return 0;
    ck_assert_uint_le(got, BIG);
    return 1;
}

START_TEST(test_read_while_truncated)
{
    static uint8_t data[BIG], back[BIG];
    char path[PATH_MAX];
    struct shrinker s;
    struct st_conn c;
    pthread_t tid;
    uint64_t h;
    int intact = 0;

    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(st_open(&c, "t", RW, 1, UNIT, 0, &h, NULL), 0);
    fx_fill(data, sizeof(data), 12);
    ck_assert_int_eq(st_write(&c, h, 0, data, sizeof(data)), 0);
    ck_assert_ptr_nonnull(fx_local_path(&st_fx, 0, "t", path, sizeof(path)));
    s.fd = open(path, O_RDWR);
    ck_assert_int_ge(s.fd, 0);
    atomic_init(&s.stop, 0);
    ck_assert_int_eq(pthread_create(&tid, NULL, shrink_loop, &s), 0);
    for (int i = 0; i < 200; i++) {
        if (race_read(&c, h, back)) {
            intact++;
            continue;
        }
        st_close(&c);   /* the server dropped this connection: the others go on */
        st_session(&st_fx, 0, &c);
        ck_assert_int_eq(st_open(&c, "t", CNIO_WIRE_O_WRITE, 0, 0, 0, &h, NULL), 0);
    }
    atomic_store(&s.stop, 1);
    pthread_join(tid, NULL);
    close(s.fd);
    ck_assert_int_gt(intact, 0);
    /* the server is alive and serves the regrown file */
    ck_assert_int_eq(st_write(&c, h, 0, data, sizeof(data)), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_PING, 0, 0, "x", 1, NULL, back, 1), 0);
    ck_assert_int_eq(race_read(&c, h, back), 1);
    ck_assert_int_eq(memcmp(back, data, BIG), 0);
    st_close(&c);
}
END_TEST

static Suite *server_read_suite(void)
{
    Suite *s = suite_create("server_read");
    TCase *tc = tcase_create("read");

    tcase_add_checked_fixture(tc, st_setup, st_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_read_ranges);
    tcase_add_test(tc, test_read_while_truncated);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_run(server_read_suite());
}
