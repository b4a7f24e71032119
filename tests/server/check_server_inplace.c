/*
 * check_server_inplace.c - cnio-server's updates in place over raw frames: the dirty
 * mark a writer in place leaves until its clean close (STAT I_DIRTY, a read-only OPEN
 * refused), writers that go without closing, the update counts mixed into an object's
 * generation (CNIO_WIRE_CAP_UPDATES), and what readers and writers beside a live update
 * are told; the suite of check_server_inplace_meta.c's and check_server_inplace_hold.c's
 * tests too (one program). Commits of staged instances are check_server_commit.c's.
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

START_TEST(test_dirty_in_place)
{
    static uint8_t data[2000];
    struct cnio_wire_info info;
    struct st_conn c, c2;
    uint64_t h;

    fx_fill(data, sizeof(data), 7);
    st_session(&st_fx, 0, &c);
    st_session(&st_fx, 0, &c2);
    ck_assert_int_eq(open_at(&c, "d", CNIO_WIRE_O_CREATE | W, 0, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, h, 0, data, sizeof(data)), 0);
    ck_assert_int_eq(st_stat(&c2, "d", &info), 0);
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_DIRTY, 0);   /* a live writer */
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_stat(&c2, "d", &info), 0);
    ck_assert_uint_eq(info.flags, 0);
    /* a writer that goes away without CLOSE leaves the mark */
    ck_assert_int_eq(open_at(&c, "d", W, 0, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, h, 0, data, 10), 0);
    st_close(&c);
    ck_assert_int_eq(st_call(&c2, CNIO_WIRE_PING, 0, 0, NULL, 0, NULL, NULL, 0), 0);
    for (int i = 0; i < 1000; i++) {   /* the server notices the close (bounded) */
        ck_assert_int_eq(st_stat(&c2, "d", &info), 0);
        if (info.flags & CNIO_WIRE_I_DIRTY)
            break;
        usleep(10000);
    }
    ck_assert_uint_eq(info.flags, CNIO_WIRE_I_DIRTY);
    ck_assert_int_eq(open_at(&c2, "d", 0, 0, NULL, NULL, NULL), -CNIO_ERR_INCOMPLETE);
    /* a clean open-for-write and close repairs it */
    ck_assert_int_eq(open_at(&c2, "d", W, 0, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_call(&c2, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_stat(&c2, "d", &info), 0);
    ck_assert_uint_eq(info.flags, 0);
    read_back(&c2, "d", data, sizeof(data));
    /* an object removed while a writer has it open in place: that writer's close says
     * so (NOENT), or succeeds when it asks (F_GONE); either way its handle goes, and it
     * does not vouch for another object made at the name meanwhile */
    for (int gone_ok = 0; gone_ok < 2; gone_ok++) {
        struct cnio_wire_hdr rh;
        uint64_t h2;

        ck_assert_int_eq(open_at(&c2, "d", W | CNIO_WIRE_O_CREATE, 0, &h, NULL, NULL), 0);
        ck_assert_int_eq(st_write(&c2, h, 0, data, 10), 0);
        ck_assert_int_eq(st_unlink(&c2, "d"), 0);
        st_session(&st_fx, 0, &c);
        ck_assert_int_eq(open_at(&c, "d", CNIO_WIRE_O_CREATE | W, 0, &h2, NULL, NULL), 0);
        st_close(&c);   /* gone without CLOSE: the new object stays marked */
        ck_assert_int_eq(st_write(&c2, h, 0, data, 10), 0);   /* it writes on */
        for (int i = 0; i < 1000; i++) {   /* the server notices the close (bounded) */
            ck_assert_int_eq(st_stat(&c2, "d", &info), 0);
            if (info.flags & CNIO_WIRE_I_DIRTY)
                break;
            usleep(10000);
        }
        c2.flags = gone_ok ? CNIO_WIRE_F_GONE : 0;
        ck_assert_int_eq(st_call(&c2, CNIO_WIRE_CLOSE, h, 0, NULL, 0, &rh, NULL, 0),
                         gone_ok ? 0 : -CNIO_ERR_NOENT);
        ck_assert_uint_eq(rh.flags & CNIO_WIRE_F_GONE, gone_ok ? CNIO_WIRE_F_GONE : 0);
        ck_assert_int_eq(st_write(&c2, h, 0, data, 10), -CNIO_ERR_NOENT);   /* no handle */
        ck_assert_int_eq(st_stat(&c2, "d", &info), 0);
        ck_assert_uint_eq(info.flags, CNIO_WIRE_I_DIRTY);
        ck_assert_int_eq(st_unlink(&c2, "d"), 0);
    }
    st_close(&c2);
}
END_TEST

/*
 * Two writers in place; one goes without closing it (killed mid-update: its connection
 * lost), then the other closes cleanly: the object stays marked as an interrupted update
 * (STAT I_DIRTY, a read-only OPEN refused), since the first may have written part of it.
 * Before, the clean close cleared the mark, and the torn bytes read back as complete
 * (helper-109's F1). A later writer's clean close takes it as it is, as documented.
 */
START_TEST(test_inplace_writer_lost)
{
    static uint8_t data[3000];
    struct cnio_wire_info info;
    struct st_conn a, b;
    uint64_t ha, hb;

    fx_fill(data, sizeof(data), 29);
    st_session(&st_fx, 0, &a);
    st_session(&st_fx, 0, &b);
    ck_assert_int_eq(open_at(&a, "wl", STAGE, 81, &ha, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&a, ha, 0, data, sizeof(data)), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_COMMIT, ha, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, ha, 0, NULL, 0, NULL, NULL, 0), 0);
    /* both close cleanly: clean */
    ck_assert_int_eq(open_at(&a, "wl", W, 0, &ha, NULL, NULL), 0);
    ck_assert_int_eq(open_at(&b, "wl", W, 0, &hb, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&b, hb, 0, data, 100), 0);
    ck_assert_int_eq(st_call(&b, CNIO_WIRE_CLOSE, hb, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, ha, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_stat(&a, "wl", &info), 0);
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_DIRTY, 0);
    /* b goes without a CLOSE while a writes: a's clean close leaves the mark */
    ck_assert_int_eq(open_at(&a, "wl", W, 0, &ha, NULL, NULL), 0);
    ck_assert_int_eq(open_at(&b, "wl", W, 0, &hb, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&b, hb, 1000, data, 700), 0);
    st_close(&b);
    st_session(&st_fx, 0, &b);
    wait_released(&a, hb);
    writers_left(&a, "wl", ha);
    ck_assert_int_eq(st_write(&a, ha, 0, data, 10), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, ha, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_stat(&a, "wl", &info), 0);
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_DIRTY, CNIO_WIRE_I_DIRTY);
    ck_assert_int_eq(open_at(&a, "wl", 0, 0, NULL, NULL, NULL), -CNIO_ERR_INCOMPLETE);
    /* the next update, whole, takes it as it is; its writer is told so when it asks
     * (F_PRIOR: I_INTERRUPTED), a second writer beside it is not (that mark is the
     * live update's) */
    a.flags = CNIO_WIRE_F_PRIOR;
    ck_assert_int_eq(open_at(&a, "wl", W, 0, &ha, &info, NULL), 0);
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_INTERRUPTED, CNIO_WIRE_I_INTERRUPTED);
    b.flags = CNIO_WIRE_F_PRIOR;
    ck_assert_int_eq(open_at(&b, "wl", W, 0, &hb, &info, NULL), 0);
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_INTERRUPTED, 0);
    ck_assert_int_eq(st_call(&b, CNIO_WIRE_CLOSE, hb, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, ha, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_stat(&a, "wl", &info), 0);
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_DIRTY, 0);
    ck_assert_int_eq(st_unlink(&a, "wl"), 0);
    st_close(&a);
    st_close(&b);
}
END_TEST

/* Each update in place counts on the host (CNIO_WIRE_CAP_UPDATES), and the count is
 * mixed into the gen of its info blocks: a column restored from a backup taken before
 * an update is told from the others (helper-105's F1). */
START_TEST(test_inplace_updates)
{
    static uint8_t data[3000];
    struct cnio_wire_info info, was;
    struct st_conn a, b;
    uint64_t ha, hb, roff, gen;

    fx_fill(data, sizeof(data), 31);
    st_session(&st_fx, 0, &a);
    st_session(&st_fx, 0, &b);
    ck_assert_uint_eq(a.ch.caps & CNIO_WIRE_CAP_UPDATES, CNIO_WIRE_CAP_UPDATES);
    ck_assert_int_eq(open_at(&a, "up", STAGE, 83, &ha, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&a, ha, 0, data, sizeof(data)), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_COMMIT, ha, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, ha, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_stat(&a, "up", &was), 0);
    ck_assert_uint_eq(was.gen, 83);   /* never updated: the generation as it was */
    /* a writer in place is told the count (0), and its clean close counts one */
    a.flags = CNIO_WIRE_F_UPDATES;
    ck_assert_int_eq(open_at(&a, "up", W, 0, &ha, &info, &roff), 0);
    ck_assert_uint_eq(roff, 0);
    ck_assert_uint_eq(info.gen, 83);
    ck_assert_int_eq(st_write(&a, ha, 0, data, 100), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, ha, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_stat(&a, "up", &info), 0);
    ck_assert_uint_eq(info.gen, cnio__wire_gen(83, 1));
    ck_assert_uint_ne(info.gen, was.gen);
    ck_assert_uint_eq(cnio__wire_gen_base(info.gen, 1), 83);
    /* the count a CLOSE with F_UPDATES names, at the last writer's clean close only */
    a.flags = CNIO_WIRE_F_UPDATES;
    ck_assert_int_eq(open_at(&a, "up", W, 0, &ha, NULL, &roff), 0);
    ck_assert_uint_eq(roff, 1);
    ck_assert_int_eq(open_at(&b, "up", W, 0, &hb, NULL, NULL), 0);
    a.flags = CNIO_WIRE_F_UPDATES;
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, ha, 9, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_stat(&a, "up", &info), 0);
    ck_assert_uint_eq(info.gen, cnio__wire_gen(83, 1));   /* b still writes */
    b.flags = CNIO_WIRE_F_UPDATES;
    ck_assert_int_eq(st_call(&b, CNIO_WIRE_CLOSE, hb, 7, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_stat(&a, "up", &info), 0);
    ck_assert_uint_eq(info.gen, cnio__wire_gen(83, 7));
    /* a count past 16 bits is refused, the handle kept and the object still marked */
    ck_assert_int_eq(open_at(&a, "up", W, 0, &ha, NULL, NULL), 0);
    a.flags = CNIO_WIRE_F_UPDATES;
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, ha, 0x10000, NULL, 0, NULL, NULL, 0),
                     -CNIO_ERR_INVAL);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, ha, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_stat(&a, "up", &info), 0);
    ck_assert_uint_eq(info.gen, cnio__wire_gen(83, 8));
    /* a reader is not a writer: its close counts nothing */
    ck_assert_int_eq(open_at(&a, "up", 0, 0, &ha, NULL, &gen), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, ha, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_stat(&a, "up", &info), 0);
    ck_assert_uint_eq(info.gen, cnio__wire_gen(83, 8));
    /* two writers at once: the second is told the first holds it (I_INPLACE); the
     * first's clean close, not the last, is counted by the last one's even when that
     * one names the count as it was (an open that failed part-way closes so) */
    a.flags = CNIO_WIRE_F_UPDATES;
    ck_assert_int_eq(open_at(&a, "up", W, 0, &ha, &info, &roff), 0);
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_INPLACE, 0);
    ck_assert_uint_eq(roff, 8);
    b.flags = CNIO_WIRE_F_UPDATES;
    ck_assert_int_eq(open_at(&b, "up", W, 0, &hb, &info, NULL), 0);
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_INPLACE, CNIO_WIRE_I_INPLACE);
    a.flags = CNIO_WIRE_F_UPDATES;
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, ha, 9, NULL, 0, NULL, NULL, 0), 0);
    b.flags = CNIO_WIRE_F_UPDATES;
    ck_assert_int_eq(st_call(&b, CNIO_WIRE_CLOSE, hb, 8, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_stat(&a, "up", &info), 0);
    ck_assert_uint_eq(info.gen, cnio__wire_gen(83, 9));
    /* ... and a close that names the count as it was, alone, counts nothing */
    a.flags = CNIO_WIRE_F_UPDATES;
    ck_assert_int_eq(open_at(&a, "up", W, 0, &ha, NULL, NULL), 0);
    a.flags = CNIO_WIRE_F_UPDATES;
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, ha, 9, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_stat(&a, "up", &info), 0);
    ck_assert_uint_eq(info.gen, cnio__wire_gen(83, 9));
    /* a fresh copy is a new generation, never updated */
    ck_assert_int_eq(open_at(&a, "up", STAGE | CNIO_WIRE_O_TRUNC, 85, &ha, NULL, NULL), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_COMMIT, ha, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, ha, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_stat(&a, "up", &info), 0);
    ck_assert_uint_eq(info.gen, 85);
    ck_assert_int_eq(st_unlink(&a, "up"), 0);
    st_close(&a);
    st_close(&b);
}
END_TEST

/* A writer in place that opens, writes and closes in a loop on its own connection. */
struct beside {
    atomic_int stop, cycles, failed;
};

static void *update_loop(void *arg)
{
    static const uint8_t data[512] = { 9 };
    struct beside *b = arg;
    struct st_conn w;
    uint64_t h;

    st_session(&st_fx, 0, &w);
    while (!atomic_load(&b->stop) && !atomic_load(&b->failed)) {
        w.flags = CNIO_WIRE_F_UPDATES;
        atomic_store(&b->failed, open_at(&w, "rc", W, 0, &h, NULL, NULL) ||
                                     st_write(&w, h, 0, data, 512) ||
                                     st_call(&w, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0));
        atomic_fetch_add(&b->cycles, 1);
    }
    st_close(&w);
    return NULL;
}

/*
 * Readers and writers beside a writer in place that opens and closes in a loop, each
 * close clearing the object's mark: none is told of an interrupted update (STAT
 * I_DIRTY, a read-only OPEN refused INCOMPLETE, a writer's OPEN with F_PRIOR
 * I_INTERRUPTED). Before, a mark read before such a close, with the writers looked at
 * after it, said so: about 1 download in 50 failed "an update in place was
 * interrupted" beside a loop of cnio_writer inplace-close (cnio__srv_store_interrupted).
 */
START_TEST(test_inplace_beside_closes)
{
    static uint8_t data[4096];
    struct beside b = { 0 };
    struct cnio_wire_info info;
    int stats = 0, dirty = 0, refused = 0, told = 0;
    int64_t until;
    struct st_conn c, r;
    pthread_t tid;
    uint64_t h;

    fx_fill(data, sizeof(data), 37);
    st_session(&st_fx, 0, &c);
    st_session(&st_fx, 0, &r);
    committed(&c, "rc", 87, data, sizeof(data));
    ck_assert_int_eq(pthread_create(&tid, NULL, update_loop, &b), 0);
    /* 4,000 looks or 4 s, whichever ends first (the old server failed within about 300) */
    until = cnio__now_ms() + 4000;
    for (int i = 0; i < 4000 && cnio__now_ms() < until && !atomic_load(&b.failed); i++) {
        int ret;

        switch (i % 4) {
        case 0:
        case 1:
            ck_assert_int_eq(st_stat(&r, "rc", &info), 0);
            dirty += (info.flags & CNIO_WIRE_I_DIRTY) != 0;
            stats++;
            break;
        case 2:
            ret = open_at(&r, "rc", 0, 0, &h, NULL, NULL);
            refused += ret == -CNIO_ERR_INCOMPLETE;
            if (!ret)
                ck_assert_int_eq(st_call(&r, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
            else
                ck_assert_int_eq(ret, -CNIO_ERR_INCOMPLETE);
            break;
        default:
            c.flags = CNIO_WIRE_F_PRIOR;
            ck_assert_int_eq(open_at(&c, "rc", W, 0, &h, &info, NULL), 0);
            told += (info.flags & CNIO_WIRE_I_INTERRUPTED) != 0;
            ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
        }
    }
    atomic_store(&b.stop, 1);
    ck_assert_int_eq(pthread_join(tid, NULL), 0);
    ck_assert_int_eq(atomic_load(&b.failed), 0);
    ck_assert_int_gt(atomic_load(&b.cycles), 10);   /* (the loop ran beside them) */
    if (dirty || refused || told)
        ck_abort_msg("beside %d updates in place: STAT said I_DIRTY %d times of %d, a "
                     "reader's OPEN was refused %d times, a writer was told I_INTERRUPTED %d "
                     "times", atomic_load(&b.cycles), dirty, stats, refused, told);
    ck_assert_int_eq(st_stat(&r, "rc", &info), 0);
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_DIRTY, 0);
    ck_assert_int_eq(st_unlink(&r, "rc"), 0);
    st_close(&c);
    st_close(&r);
}
END_TEST

/*
 * A writer that opens in place while the last one closes (its data's fsync under way),
 * then goes without closing (killed mid-update): the object stays marked as an
 * interrupted update, whichever came first. Before, the closing writer, found the last
 * before the other opened, cleared the mark the other had set, and the torn update read
 * back as complete.
 */
START_TEST(test_inplace_open_during_close)
{
    static uint8_t data[65536];
    struct cnio_wire_info info;
    struct st_conn a, m;
    int unmarked = 0;
    uint64_t h, hm;

    fx_fill(data, sizeof(data), 41);
    st_session(&st_fx, 0, &a);
    committed(&a, "oc", 89, data, sizeof(data));
    for (int i = 0; i < 20; i++) {
        struct caller x = { .c = &a, .type = CNIO_WIRE_CLOSE };
        pthread_t tid;

        ck_assert_int_eq(open_at(&a, "oc", W, 0, &x.h, NULL, NULL), 0);
        ck_assert_int_eq(st_write(&a, x.h, 0, data, sizeof(data)), 0);
        st_session(&st_fx, 0, &m);
        ck_assert_int_eq(pthread_create(&tid, NULL, call_it, &x), 0);
        ck_assert_int_eq(open_at(&m, "oc", W, 0, &hm, NULL, NULL), 0);
        ck_assert_int_eq(st_write(&m, hm, 0, data, 4096), 0);
        ck_assert_int_eq(pthread_join(tid, NULL), 0);
        ck_assert_int_eq(x.ret, 0);
        st_close(&m);   /* gone without CLOSE */
        wait_released(&a, hm);
        writers_left(&a, "oc", 0);
        ck_assert_int_eq(st_stat(&a, "oc", &info), 0);
        unmarked += !(info.flags & CNIO_WIRE_I_DIRTY);
        /* a clean update takes it as it is */
        ck_assert_int_eq(open_at(&a, "oc", W, 0, &h, NULL, NULL), 0);
        ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
        ck_assert_int_eq(st_stat(&a, "oc", &info), 0);
        ck_assert_uint_eq(info.flags & CNIO_WIRE_I_DIRTY, 0);
    }
    ck_assert_msg(unmarked == 0, "%d of 20 updates whose writer went without closing read "
                  "as complete", unmarked);
    ck_assert_int_eq(st_unlink(&a, "oc"), 0);
    st_close(&a);
}
END_TEST

/*
 * A writer that opens in place while the last one's CLOSE syncs its data, writes part of
 * an update and goes without closing before that close clears the mark: the object stays
 * marked. Before, the close, found the last, cleared it, and the torn update read back as
 * complete (helper-114's F1: 36-56 of 60 rounds).
 */
START_TEST(test_inplace_die_during_close)
{
    static uint8_t data[4 << 20];
    struct cnio_wire_info info;
    struct st_conn a, m;
    int unmarked = 0, n = 30;
    uint64_t h, hm;

    fx_fill(data, sizeof(data), 43);
    st_session(&st_fx, 0, &a);
    committed(&a, "dc", 91, data, sizeof(data));
    for (int i = 0; i < n; i++) {
        struct caller x = { .c = &a, .type = CNIO_WIRE_CLOSE };
        pthread_t tid;

        ck_assert_int_eq(open_at(&a, "dc", W, 0, &x.h, NULL, NULL), 0);
        data[0] = (uint8_t)i;
        ck_assert_int_eq(st_write(&a, x.h, 0, data, sizeof(data)), 0);
        st_session(&st_fx, 0, &m);
        ck_assert_int_eq(pthread_create(&tid, NULL, call_it, &x), 0);
        usleep((useconds_t)(i % 6) * 300);
        ck_assert_int_eq(open_at(&m, "dc", W, 0, &hm, NULL, NULL), 0);
        ck_assert_int_eq(st_write(&m, hm, 0, data, 4096), 0);
        st_close(&m);   /* gone without CLOSE, while the other's close may be syncing */
        ck_assert_int_eq(pthread_join(tid, NULL), 0);
        ck_assert_int_eq(x.ret, 0);
        wait_released(&a, hm);
        writers_left(&a, "dc", 0);
        ck_assert_int_eq(st_stat(&a, "dc", &info), 0);
        unmarked += !(info.flags & CNIO_WIRE_I_DIRTY);
        ck_assert_int_eq(open_at(&a, "dc", W, 0, &h, NULL, NULL), 0);
        ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    }
    ck_assert_msg(unmarked == 0, "%d of %d updates whose writer went without closing (during "
                  "the last one's close) read as complete", unmarked, n);
    ck_assert_int_eq(st_unlink(&a, "dc"), 0);
    st_close(&a);
}
END_TEST

/*
 * Two clean closes that overlap: a writer opens in place while the last one's CLOSE
 * syncs its data, writes and begins its own CLOSE before that one clears the mark. The
 * first close's fsync began before the second writer's bytes, so the mark stays until
 * the second close's own fsync is done: read after the first close returns, while the
 * second has not, it is set, or the second cleared it already (its reply still on the
 * way: then no write of the metadata follows); once both returned, it is clear. Before,
 * the first close found every writer closing and cleared it, and a power cut during the
 * second's fsync left its torn bytes under a clean mark (5 of 30 rounds). The order is
 * the server's timing (a 32 MiB fsync against a 1 MiB write): rounds where it did not
 * come so prove nothing, and are counted.
 */
START_TEST(test_inplace_close_during_close)
{
    static uint8_t data[4 << 20];
    struct st_conn a, m;
    int early = 0, reached = 0, n = 20;

    fx_fill(data, sizeof(data), 53);
    st_session(&st_fx, 0, &a);
    st_session(&st_fx, 0, &m);
    committed(&a, "cd", 93, data, sizeof(data));
    for (int i = 0; i < n; i++) {
        struct caller x = { .c = &a, .type = CNIO_WIRE_CLOSE };
        struct caller y = { .c = &m, .type = CNIO_WIRE_CLOSE };
        ino_t was = 0, now;
        int clean = 0;
        pthread_t ta, tb;

        ck_assert_int_eq(open_at(&a, "cd", W, 0, &x.h, NULL, NULL), 0);
        data[0] = (uint8_t)i;
        for (uint64_t off = 0; off < (32u << 20); off += sizeof(data))
            ck_assert_int_eq(st_write(&a, x.h, off, data, sizeof(data)), 0);
        ck_assert_int_eq(pthread_create(&ta, NULL, call_it, &x), 0);
        usleep(1000 + (useconds_t)(i % 3) * 500);
        ck_assert_int_eq(open_at(&m, "cd", W, 0, &y.h, NULL, NULL), 0);
        ck_assert_int_eq(st_write(&m, y.h, 0, data, 1 << 20), 0);
        ck_assert_int_eq(pthread_create(&tb, NULL, call_it, &y), 0);
        ck_assert_int_eq(pthread_join(ta, NULL), 0);
        ck_assert_int_eq(x.ret, 0);
        if (!atomic_load(&y.done)) {
            reached++;
            clean = !marked("cd", &was);
        }
        ck_assert_int_eq(pthread_join(tb, NULL), 0);
        ck_assert_int_eq(y.ret, 0);
        ck_assert_int_eq(marked("cd", &now), 0);   /* both closed cleanly */
        early += clean && now != was;   /* the second close wrote it after */
    }
    ck_assert_msg(early == 0, "%d of %d rounds (%d with the second close still under way as "
                  "the first returned) cleared the mark before the second close's fsync",
                  early, n, reached);
    fprintf(stderr, "test_inplace_close_during_close: %d of %d rounds overlapped\n", reached, n);
    ck_assert_int_eq(st_unlink(&a, "cd"), 0);
    st_close(&a);
    st_close(&m);
}
END_TEST

/* name's block sums on server 0 made a UNIX socket, the file kept aside (back: put
 * back), so that a writer's OPEN passes the check of its sums and fails as it opens
 * them, after it was counted. (Removed for good, they are an uploaded object's missing
 * sums, which the next writer's open is refused for.) */
static void sums_socket(const char *name, int on)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    char path[PATH_MAX + 16], aside[PATH_MAX + 32];
    int fd;

    snprintf(path, sizeof(path), "%s/.cnio/sums/%s", st_fx.root[0], name);
    snprintf(aside, sizeof(aside), "%s.aside", path);
    ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if (on) {
        ck_assert_int_eq(rename(path, aside), 0);
    } else {
        unlink(path);
        ck_assert_int_eq(rename(aside, path), 0);
        return;
    }
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
}

/*
 * A writer in place whose OPEN is counted and then fails, while the last writer's CLOSE
 * syncs its data: once both returned, the object is marked complete (its metadata file
 * read directly). Before, that close stepped aside for the writer it found live, whose
 * close never came, or took it for a writer lost mid-update: the mark stayed, and
 * readers were refused "incomplete" until the next clean update. Rounds where the open
 * did not end during the close are counted.
 */
START_TEST(test_inplace_open_fails_during_close)
{
    static uint8_t data[4 << 20];
    struct st_conn a, b;
    int dirty = 0, reached = 0, n = 10;

    fx_fill(data, sizeof(data), 61);
    st_session(&st_fx, 0, &a);
    st_session(&st_fx, 0, &b);
    committed(&a, "of", 95, data, sizeof(data));
    for (int i = 0; i < n; i++) {
        struct caller x = { .c = &a, .type = CNIO_WIRE_CLOSE };
        pthread_t tid;
        uint64_t hb;
        int ret;

        ck_assert_int_eq(open_at(&a, "of", W, 0, &x.h, NULL, NULL), 0);
        data[0] = (uint8_t)i;
        for (uint64_t off = 0; off < (32u << 20); off += sizeof(data))
            ck_assert_int_eq(st_write(&a, x.h, off, data, sizeof(data)), 0);
        sums_socket("of", 1);
        ck_assert_int_eq(pthread_create(&tid, NULL, call_it, &x), 0);
        usleep(1000 + (useconds_t)(i % 3) * 1000);
        ret = open_at(&b, "of", W, 0, &hb, NULL, NULL);
        ck_assert_int_ne(ret, 0);
        reached += !atomic_load(&x.done);
        ck_assert_int_eq(pthread_join(tid, NULL), 0);
        ck_assert_int_eq(x.ret, 0);
        sums_socket("of", 0);
        dirty += marked("of", NULL);
    }
    fprintf(stderr, "test_inplace_open_fails_during_close: %d of %d rounds overlapped\n",
            reached, n);
    ck_assert_msg(dirty == 0, "%d of %d rounds (%d with the open during the close) left the "
                  "object marked after every writer closed", dirty, n, reached);
    ck_assert_int_eq(st_unlink(&a, "of"), 0);
    st_close(&a);
    st_close(&b);
}
END_TEST

/*
 * Hosts apart only by the update counts of a live update in place: one update closed on
 * host 0, where its writer was the last, and not yet counted on host 1, where a second
 * writer still holds the object. cnio stat (and ls -l, which asks it) says it is being
 * updated in place, not incomplete, as a reader opening it reads it; once the second
 * writer closes, it is complete. Before, both said "incomplete" of the healthy object
 * beside its writers (helper-114's F2: 43 of 137 stats with two writer loops).
 */
START_TEST(test_stat_beside_live_update)
{
    static uint8_t data[UNIT];
    struct cnio_obj_stat os;
    struct cnio_hints hints;
    struct cnio_stack *stk;
    struct cnio_uri u = { 0 };
    struct st_conn c[2], w2;
    uint64_t h[2], h2;

    two_servers("lu", c, &stk, &u, &hints);
    fx_fill(data, sizeof(data), 47);
    for (uint32_t j = 0; j < 2; j++) {
        ck_assert_int_eq(open_col(&c[j], "lu", STAGE | CNIO_WIRE_O_TRUNC, 2, j, 0x100, &h[j],
                                  NULL, NULL), 0);
        ck_assert_int_eq(st_write(&c[j], h[j], 0, data, sizeof(data)), 0);
        ck_assert_int_eq(st_call(&c[j], CNIO_WIRE_SETSIZE, h[j], 2 * UNIT, NULL, 0, NULL, NULL,
                                 0), 0);
    }
    for (int j = 1; j >= 0; j--) {   /* column 0 last */
        ck_assert_int_eq(st_call(&c[j], CNIO_WIRE_COMMIT, h[j], 10, NULL, 0, NULL, NULL, 0), 0);
        ck_assert_int_eq(st_call(&c[j], CNIO_WIRE_CLOSE, h[j], 0, NULL, 0, NULL, NULL, 0), 0);
    }
    ck_assert_int_eq(cnio__obj_stat(stk, &u, &hints, &os), 0);
    ck_assert_uint_eq(os.state, 0);
    /* a writer in place on both hosts, a second on host 1 */
    for (uint32_t j = 0; j < 2; j++) {
        c[j].flags = CNIO_WIRE_F_UPDATES;
        ck_assert_int_eq(open_col(&c[j], "lu", W, 2, j, 0, &h[j], NULL, NULL), 0);
    }
    st_session(&st_fx, 1, &w2);
    w2.flags = CNIO_WIRE_F_UPDATES;
    ck_assert_int_eq(open_col(&w2, "lu", W, 2, 1, 0, &h2, NULL, NULL), 0);
    ck_assert_int_eq(cnio__obj_stat(stk, &u, &hints, &os), 0);
    ck_assert_uint_eq(os.state & CNIO_OBJ_INCOMPLETE, 0);
    /* the first closes: update 1 on host 0, still 0 on host 1 */
    for (uint32_t j = 0; j < 2; j++) {
        c[j].flags = CNIO_WIRE_F_UPDATES;
        ck_assert_int_eq(st_call(&c[j], CNIO_WIRE_CLOSE, h[j], 1, NULL, 0, NULL, NULL, 0), 0);
    }
    ck_assert_int_eq(cnio__obj_stat(stk, &u, &hints, &os), 0);
    ck_assert_uint_eq(os.state & CNIO_OBJ_INCOMPLETE, 0);
    ck_assert_uint_eq(os.state & CNIO_OBJ_INPLACE, CNIO_OBJ_INPLACE);
    /* the second closes: one update everywhere */
    w2.flags = CNIO_WIRE_F_UPDATES;
    ck_assert_int_eq(st_call(&w2, CNIO_WIRE_CLOSE, h2, 1, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(cnio__obj_stat(stk, &u, &hints, &os), 0);
    ck_assert_uint_eq(os.state, 0);
    st_close(&w2);
    st_close(&c[0]);
    st_close(&c[1]);
    cnio__uri_free(&u);
    cnio__stack_close(stk);
}
END_TEST

/*
 * A writer in place asks of the others (F_OTHERS, CAP_OTHERS): its own handle aside, a
 * STAT by handle says I_INPLACE while another writer holds the object, and after that
 * one's clean close, not the last, until the last one's close counts its update. A
 * writer whose hosts' counts differ with no other writer said at their opens (another's
 * whole update closed on a host it opened later, column 0 first) asks so before it warns
 * "hosts ... hold their columns as of different updates" (cnio__cl_others).
 */
START_TEST(test_inplace_others)
{
    static uint8_t data[8192];
    const uint32_t others = CNIO_WIRE_F_INPLACE | CNIO_WIRE_F_OTHERS;
    struct st_conn x, y;
    uint64_t hx, hy, upd;

    fx_fill(data, sizeof(data), 61);
    st_session(&st_fx, 0, &x);
    ck_assert_uint_eq(x.ch.caps & CNIO_WIRE_CAP_OTHERS, CNIO_WIRE_CAP_OTHERS);
    committed(&x, "ot", 101, data, sizeof(data));
    x.flags = CNIO_WIRE_F_UPDATES;
    ck_assert_int_eq(open_at(&x, "ot", W, 0, &hx, NULL, &upd), 0);
    ck_assert_uint_eq(handle_inplace(&x, hx, "ot", others), 0);   /* alone */
    ck_assert_uint_eq(handle_inplace(&x, hx, "ot", CNIO_WIRE_F_INPLACE), CNIO_WIRE_I_INPLACE);
    st_session(&st_fx, 0, &y);
    y.flags = CNIO_WIRE_F_UPDATES;
    ck_assert_int_eq(open_at(&y, "ot", W, 0, &hy, NULL, NULL), 0);
    ck_assert_uint_eq(handle_inplace(&x, hx, "ot", others), CNIO_WIRE_I_INPLACE);
    ck_assert_int_eq(st_write(&y, hy, 0, data, 4096), 0);
    y.flags = CNIO_WIRE_F_UPDATES;   /* an update counted, not the last close */
    ck_assert_int_eq(st_call(&y, CNIO_WIRE_CLOSE, hy, upd + 1, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_uint_eq(handle_inplace(&x, hx, "ot", others), CNIO_WIRE_I_INPLACE);
    x.flags = CNIO_WIRE_F_UPDATES;
    ck_assert_int_eq(st_call(&x, CNIO_WIRE_CLOSE, hx, upd + 1, NULL, 0, NULL, NULL, 0), 0);
    /* the last close counted it: a writer alone again hears of none */
    ck_assert_int_eq(open_at(&x, "ot", W, 0, &hx, NULL, NULL), 0);
    ck_assert_uint_eq(handle_inplace(&x, hx, "ot", others), 0);
    ck_assert_int_eq(st_call(&x, CNIO_WIRE_CLOSE, hx, 0, NULL, 0, NULL, NULL, 0), 0);
    st_close(&y);
    ck_assert_int_eq(st_unlink(&x, "ot"), 0);
    st_close(&x);
}
END_TEST

static Suite *inplace_suite(void)
{
    Suite *s = suite_create("server_inplace");
    TCase *tc = tcase_create("inplace");

    tcase_add_checked_fixture(tc, st_setup, st_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_dirty_in_place);
    tcase_add_test(tc, test_inplace_writer_lost);
    tcase_add_test(tc, test_inplace_updates);
    tcase_add_test(tc, test_inplace_beside_closes);
    tcase_add_test(tc, test_inplace_open_during_close);
    tcase_add_test(tc, test_inplace_die_during_close);
    tcase_add_test(tc, test_inplace_close_during_close);
    inplace_add_joins(tc);
    tcase_add_test(tc, test_inplace_open_fails_during_close);
    tcase_add_test(tc, test_stat_beside_live_update);
    tcase_add_test(tc, test_inplace_others);
    suite_add_tcase(s, tc);
    inplace_add_meta(s);
    inplace_add_hold(s);
    return s;
}

int main(void)
{
    return fx_run(inplace_suite());
}
