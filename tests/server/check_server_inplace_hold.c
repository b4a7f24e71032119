/*
 * check_server_inplace_hold.c - requests held inside cnio-server at one call by
 * tests/cli/hold.c (LD_PRELOAD), so that another comes in between in a chosen order: a
 * STAT across the last writer's close (tcase "hold"), a writer's failed open undone
 * beside another's close (tcase "undo"). Part of check_server_inplace (its suite is
 * check_server_inplace.c's).
 */
#include "inplacetest.h"

#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

/* The server of tcase "hold" runs under tests/cli/hold.c (LD_PRELOAD): the HOLD_AT'th read
 * of the metadata file of "sl" once hold_dir/armed exists waits for hold_dir/go.1. */
static char hold_dir[] = "/tmp/cnio-hold-XXXXXX";

static void hold_path(char *buf, size_t cap, const char *what)
{
    snprintf(buf, cap, "%s/%s", hold_dir, what);
}

/* The server started under hold.c: the preads of the file whose path ends in suffix
 * counted from hold_dir/armed, those at (HOLD_AT) held; extra: its further arguments. */
static void hold_start(const char *suffix, const char *at, const char *const *extra)
{
    char lib[PATH_MAX];
    const char *top = getenv("CNIO_TOP_BUILDDIR");

    ck_assert_ptr_nonnull(top);
    ck_assert_ptr_nonnull(mkdtemp(hold_dir));
    snprintf(lib, sizeof(lib), "%s/tests/cli/.libs/libhold.so", top);
    ck_assert_msg(access(lib, R_OK) == 0, "%s is not built", lib);
    setenv("LD_PRELOAD", lib, 1);
    setenv("HOLD_DIR", hold_dir, 1);
    setenv("HOLD_SUFFIX", suffix, 1);
    setenv("HOLD_CALL", "pread", 1);
    setenv("HOLD_AT", at, 1);
    hold_path(lib, sizeof(lib), "armed");
    setenv("HOLD_ARMED", lib, 1);
    ck_assert_int_eq(fx_start(&st_fx, 1, extra), 0);
    unsetenv("LD_PRELOAD");
}

static void hold_setup(void)
{
    hold_start(".cnio/meta/sl", "2", NULL);
}

/* For test_inplace_undo_beside_close: the first pread of the block sums of "uo" once
 * armed (a READ's) and the third (a writer's OPEN, as it opens them after its check of
 * them), on a server with a worker for each of the three connections held or asking. */
static void hold_setup_undo(void)
{
    static const char *const threads[] = { "--threads", "4", NULL };

    hold_start(".cnio/sums/uo", "1,3", threads);
}

static void hold_teardown(void)
{
    static const char *const files[] = { "armed", "held.1", "go.1", "held.2", "go.2" };
    char path[PATH_MAX];

    st_teardown();
    for (size_t k = 0; k < CNIO_ARRAY_LEN(files); k++) {
        hold_path(path, sizeof(path), files[k]);
        unlink(path);
    }
    rmdir(hold_dir);
}

static void hold_touch(const char *what)
{
    char path[PATH_MAX];
    int fd;

    hold_path(path, sizeof(path), what);
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    close(fd);
}

/* 1 once hold_dir/what exists, 0 when it does not within 30 s. */
static int hold_seen(const char *what)
{
    char path[PATH_MAX];

    hold_path(path, sizeof(path), what);
    for (int i = 0; i < 3000; i++) {
        if (access(path, F_OK) == 0)
            return 1;
        usleep(10000);
    }
    return 0;
}

/* A STAT of "sl" with F_INPLACE on its own connection, as a reader's. */
struct stat_caller {
    struct st_conn *c;
    struct cnio_wire_info info;
    int ret;
};

static void *stat_it(void *arg)
{
    struct stat_caller *x = arg;

    x->c->flags = CNIO_WIRE_F_INPLACE;
    x->ret = st_stat(x->c, "sl", &x->info);
    return NULL;
}

/*
 * A STAT answered across the last writer in place's clean close says the writer, or the
 * update that close counted: never the count before it with no writer live, which a
 * reader whose other hosts had the count refused ("hosts ... hold their columns as of
 * different updates in place", 1 read-only open in 1000 beside two writers in place).
 * The STAT is held between its two reads of the metadata (hold.c) while the writer
 * closes. Before, it looked for writers only after both, found none, and said the count
 * before the close.
 */
START_TEST(test_stat_across_last_close)
{
    static uint8_t data[UNIT];
    struct cnio_wire_info was, now;
    struct stat_caller x = { 0 };
    struct st_conn a, b;
    pthread_t tid;
    uint64_t h;

    fx_fill(data, sizeof(data), 59);
    st_session(&st_fx, 0, &a);
    committed(&a, "sl", 97, data, sizeof(data));
    ck_assert_int_eq(st_stat(&a, "sl", &was), 0);
    ck_assert_int_eq(open_at(&a, "sl", W, 0, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&a, h, 0, data, 4096), 0);
    st_session(&st_fx, 0, &b);   /* (on the other worker thread: the fewer connections) */
    x.c = &b;
    hold_touch("armed");
    ck_assert_int_eq(pthread_create(&tid, NULL, stat_it, &x), 0);
    ck_assert_msg(hold_seen("held.1"), "the STAT did not read the metadata twice");
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    hold_touch("go.1");
    ck_assert_int_eq(pthread_join(tid, NULL), 0);
    ck_assert_int_eq(x.ret, 0);
    ck_assert_int_eq(st_stat(&a, "sl", &now), 0);
    ck_assert_msg(now.gen != was.gen, "the clean close counted no update");
    ck_assert_msg((x.info.flags & CNIO_WIRE_I_INPLACE) || x.info.gen == now.gen,
                  "a STAT answered across the last writer's close said the update before "
                  "it (generation %#x, now %#x) and no writer live", x.info.gen, now.gen);
    st_close(&b);
    ck_assert_int_eq(st_unlink(&a, "sl"), 0);
    st_close(&a);
}
END_TEST

/* A READ of len bytes at 0 by handle h on its own connection. */
struct reader {
    struct st_conn *c;
    uint64_t h;
    int ret;
};

static void *read_it(void *arg)
{
    static uint8_t buf[4096];
    struct reader *x = arg;
    uint32_t got;

    x->ret = st_read(x->c, x->h, 0, buf, sizeof(buf), &got);
    return NULL;
}

/* An OPEN for writing in place of "uo" on its own connection. */
struct opener {
    struct st_conn *c;
    int ret;
};

static void *open_it(void *arg)
{
    struct opener *x = arg;
    uint64_t h;

    x->ret = open_at(x->c, "uo", W, 0, &h, NULL, NULL);
    return NULL;
}

/* The magic of the block sums of "uo" on server 0 damaged (was: the bytes it had), or
 * put back. */
static void sums_magic(uint8_t was[8], int damage)
{
    static const uint8_t junk[8] = { 0 };
    char path[PATH_MAX + 16];
    int fd;

    snprintf(path, sizeof(path), "%s/.cnio/sums/uo", st_fx.root[0]);
    fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    if (damage)
        ck_assert_int_eq(pread(fd, was, 8, 0), 8);
    ck_assert_int_eq(pwrite(fd, damage ? junk : was, 8, 0), 8);
    close(fd);
}

/*
 * A writer in place whose OPEN is counted and then fails (its block sums found damaged
 * as it opens them, after its check of them), beside another writer's clean CLOSE, which
 * found it live and so was not the last: whichever of the undoing of that open and the
 * going of the closed handle comes first (_i & 1: the handle first), and whether the
 * object was clean before or marked by an interrupted update (_i & 2), once both went
 * the object is complete and a reader opens it. The order is made, not timed: the open
 * is held as it reads the sums, and the closed handle kept by a READ held there too
 * (hold.c). Before, an undoing that came first left the mark to that close, which had
 * left it to the open, and one that came after cleared only a mark its own open had
 * made: the object stayed marked, and readers were refused "incomplete" until the next
 * clean update.
 */
START_TEST(test_inplace_undo_beside_close)
{
    static uint8_t data[4 * UNIT];
    const int handle_first = _i & 1, interrupted = (_i & 2) != 0;
    struct reader rd = { 0 };
    struct opener op = { 0 };
    struct st_conn a, b, r;
    pthread_t tr, to;
    uint8_t magic[8];
    uint64_t h;

    fx_fill(data, sizeof(data), 67);
    st_session(&st_fx, 0, &a);
    committed(&a, "uo", 99, data, sizeof(data));
    if (interrupted) {   /* a writer gone without closing it */
        st_session(&st_fx, 0, &b);
        ck_assert_int_eq(open_at(&b, "uo", W, 0, &h, NULL, NULL), 0);
        ck_assert_int_eq(st_write(&b, h, 0, data, 4096), 0);
        st_close(&b);
        wait_released(&a, h);
        writers_left(&a, "uo", 0);
        ck_assert_int_eq(marked("uo", NULL), 1);
    }
    st_session(&st_fx, 0, &b);
    st_session(&st_fx, 0, &r);
    ck_assert_int_eq(open_at(&a, "uo", W, 0, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&a, h, 0, data, UNIT), 0);
    hold_touch("armed");
    rd = (struct reader){ .c = &r, .h = h };
    ck_assert_int_eq(pthread_create(&tr, NULL, read_it, &rd), 0);
    ck_assert_msg(hold_seen("held.1"), "the READ did not read the block sums");
    op.c = &b;
    ck_assert_int_eq(pthread_create(&to, NULL, open_it, &op), 0);
    ck_assert_msg(hold_seen("held.2"), "the OPEN did not read the block sums twice");
    sums_magic(magic, 1);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    for (int k = 0; k < 2; k++) {
        if (k == !handle_first) {   /* the READ's end lets the closed handle go */
            hold_touch("go.1");
            ck_assert_int_eq(pthread_join(tr, NULL), 0);
            ck_assert_int_eq(rd.ret, 0);
        } else {
            hold_touch("go.2");
            ck_assert_int_eq(pthread_join(to, NULL), 0);
            ck_assert_int_eq(op.ret, -CNIO_ERR_CHECKSUM);
        }
    }
    sums_magic(magic, 0);
    ck_assert_msg(!marked("uo", NULL), "the object stayed marked once every writer went "
                  "(%s, the object %s before)", handle_first ? "the closed handle went "
                  "before the undoing" : "the failed open was undone before the closed "
                  "handle went", interrupted ? "marked by an interrupted update" : "clean");
    ck_assert_int_eq(open_at(&r, "uo", 0, 0, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_call(&r, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_unlink(&a, "uo"), 0);
    st_close(&a);
    st_close(&b);
    st_close(&r);
}
END_TEST

void inplace_add_hold(Suite *s)
{
    TCase *tc;

    /* a request held inside the server at one call (CK_RUN_CASE=hold); not in a
     * sanitizer build (CNIO_SANITIZER): its server refuses a library preloaded before
     * the sanitizer's runtime ("ASan runtime does not come first"), and fails to start */
    if (getenv("CNIO_SANITIZER"))
        return;
    tc = tcase_create("hold");
    tcase_add_checked_fixture(tc, hold_setup, hold_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_stat_across_last_close);
    suite_add_tcase(s, tc);
    /* a writer's failed open undone beside another's close, in each order
     * (CK_RUN_CASE=undo) */
    tc = tcase_create("undo");
    tcase_add_checked_fixture(tc, hold_setup_undo, hold_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_inplace_undo_beside_close, 0, 4);
    suite_add_tcase(s, tc);
}
