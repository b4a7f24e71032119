/*
 * check_server_inplace_meta.c - a writer's dirty mark beside requests other than its OPEN
 * and CLOSE: joiners of an upload that commits (tcase "inplace"), SETSIZE, writes after
 * a commit, a truncation, SETATTR, a joiner of a removed object (tcase "meta"). Part of
 * check_server_inplace (its suite is check_server_inplace.c's).
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

/* Pages of name's data file on server 0 written and not yet on disk (cachestat(2):
 * dirty or under writeback), or -1 where the kernel cannot say. */
static long unsynced(const char *name)
{
    struct { uint64_t off, len; } range = { 0, 0 };
    struct { uint64_t cache, dirty, writeback, evicted, recently_evicted; } cs;
    char path[PATH_MAX + 16];
    long r;
    int fd;

    snprintf(path, sizeof(path), "%s/%s", st_fx.root[0], name);
    fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    r = syscall(451 /* cachestat */, fd, &range, &cs, 0);
    close(fd);
    return r ? -1 : (long)(cs.dirty + cs.writeback);
}

/*
 * A writer that joined an upload (a second open of the name being created) writes and
 * closes while the upload commits, after the commit's fsync of the data: once both
 * returned, the object is marked complete and every byte is on disk. Before, its close
 * (not yet a writer in place: the adoption found it no longer joined) synced nothing, nor
 * did the adoption's clear of the mark it had set, and a power cut then left its bytes
 * torn under a clean mark (the pages are read with cachestat(2)). The order is the
 * server's timing: rounds where the joiner's close did not end during the commit prove
 * nothing, and are counted.
 */
START_TEST(test_inplace_joiner_closes_during_commit)
{
    static uint8_t data[4 << 20];
    struct st_conn a, j;
    int torn = 0, reached = 0, n = 12;

    fx_fill(data, sizeof(data), 59);
    st_session(&st_fx, 0, &a);
    st_session(&st_fx, 0, &j);
    for (int i = 0; i < n; i++) {
        struct caller x = { .c = &a, .type = CNIO_WIRE_COMMIT };
        char name[32];
        uint64_t hj;
        pthread_t tid;
        long left;

        snprintf(name, sizeof(name), "jc%d", i);
        data[0] = (uint8_t)i;
        upload_joined(&a, &j, name, 0x700 + (uint64_t)i, 0x800 + (uint64_t)i, &x.h, &hj, data,
                      sizeof(data));
        ck_assert_int_eq(pthread_create(&tid, NULL, call_it, &x), 0);
        usleep(2000 + (useconds_t)(i % 4) * 2000);
        ck_assert_int_eq(st_write(&j, hj, 16u << 20, data, 1 << 20), 0);
        ck_assert_int_eq(st_call(&j, CNIO_WIRE_CLOSE, hj, 0, NULL, 0, NULL, NULL, 0), 0);
        reached += !atomic_load(&x.done);
        ck_assert_int_eq(pthread_join(tid, NULL), 0);
        ck_assert_int_eq(x.ret, 0);
        ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, x.h, 0, NULL, 0, NULL, NULL, 0), 0);
        left = unsynced(name);
        if (left < 0) {   /* no cachestat(2) here (Linux < 6.5): nothing to see */
            fprintf(stderr, "test_inplace_joiner_closes_during_commit: no cachestat(2)\n");
            break;
        }
        torn += !marked(name, NULL) && left > 0;
        ck_assert_int_eq(st_unlink(&a, name), 0);
    }
    fprintf(stderr, "test_inplace_joiner_closes_during_commit: %d of %d rounds overlapped\n",
            reached, n);
    ck_assert_msg(torn == 0, "%d of %d rounds (%d with the joiner's close during the commit) "
                  "left bytes not on disk under a clean mark", torn, n, reached);
    st_close(&a);
    st_close(&j);
}
END_TEST

/* What a watcher of name's metadata file on server 0 saw while a COMMIT of generation
 * gen ran (watch_meta): reads that found that generation, and those of them without the
 * dirty mark (nor COMMITTING), which a joiner still open makes torn by a power cut. */
struct meta_watch {
    const char *name;
    uint64_t gen;
    atomic_int stop;
    int seen, clean;
};

/* Reads the metadata file (renamed into place whole: each read is one version) until
 * stop; no ck_assert here (another thread). */
static void *watch_meta(void *arg)
{
    struct meta_watch *w = arg;
    char path[PATH_MAX + 16];
    uint8_t meta[64];

    snprintf(path, sizeof(path), "%s/.cnio/meta/%s", st_fx.root[0], w->name);
    while (!atomic_load(&w->stop)) {
        int fd = open(path, O_RDONLY);
        ssize_t got = fd < 0 ? -1 : pread(fd, meta, sizeof(meta), 0);

        if (fd >= 0)
            close(fd);
        if (got != (ssize_t)sizeof(meta) || cnio__get_le64(meta + 40) != w->gen)
            continue;
        w->seen++;
        w->clean += (cnio__get_le32(meta + 28) & 0x3) == 0;   /* DIRTY | COMMITTING */
    }
    return NULL;
}

/*
 * A writer that joined an upload (a second open of the name being created) is still
 * open, and writing, while the upload commits: the object the commit makes is marked
 * dirty from the moment it appears (its metadata file read throughout), since the
 * joiner's bytes written after the commit's fsync are not on disk; its clean close
 * clears the mark. Before, the commit made the object clean and only the adoption of
 * its joiners marked it, after: a power cut between the two left the joiner's bytes
 * torn under a clean mark, read back as complete. Rounds where the watcher did not see
 * the committed metadata before the COMMIT's reply prove nothing, and are counted.
 */
START_TEST(test_inplace_joiner_open_at_commit)
{
    static uint8_t data[4 << 20];
    struct st_conn a, j;
    int clean = 0, reached = 0, n = 10;

    fx_fill(data, sizeof(data), 67);
    st_session(&st_fx, 0, &a);
    st_session(&st_fx, 0, &j);
    for (int i = 0; i < n; i++) {
        struct caller x = { .c = &a, .type = CNIO_WIRE_COMMIT };
        char name[32];
        struct meta_watch w = { name, 0x900 + (uint64_t)i, 0, 0, 0 };
        pthread_t tid, wid;
        uint64_t hj;

        snprintf(name, sizeof(name), "jo%d", i);
        data[0] = (uint8_t)i;
        upload_joined(&a, &j, name, w.gen, 0xa00 + (uint64_t)i, &x.h, &hj, data, sizeof(data));
        ck_assert_int_eq(pthread_create(&wid, NULL, watch_meta, &w), 0);
        ck_assert_int_eq(pthread_create(&tid, NULL, call_it, &x), 0);
        /* the joiner writes on through the commit (bounded: 64 writes of 64 KiB) */
        for (int k = 0; k < 64 && !atomic_load(&x.done); k++)
            ck_assert_int_eq(st_write(&j, hj, (16u << 20) + ((uint64_t)k << 16), data,
                                      1 << 16), 0);
        ck_assert_int_eq(pthread_join(tid, NULL), 0);
        atomic_store(&w.stop, 1);
        ck_assert_int_eq(pthread_join(wid, NULL), 0);
        ck_assert_int_eq(x.ret, 0);
        reached += w.seen > 0;
        clean += w.clean > 0;
        ck_assert_int_eq(marked(name, NULL), 1);   /* the joiner still open */
        ck_assert_int_eq(st_call(&j, CNIO_WIRE_CLOSE, hj, 0, NULL, 0, NULL, NULL, 0), 0);
        ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, x.h, 0, NULL, 0, NULL, NULL, 0), 0);
        ck_assert_int_eq(marked(name, NULL), 0);   /* every writer closed cleanly */
        ck_assert_int_eq(st_unlink(&a, name), 0);
    }
    fprintf(stderr, "test_inplace_joiner_open_at_commit: %d of %d rounds overlapped\n",
            reached, n);
    ck_assert_msg(clean == 0, "%d of %d rounds (%d with the committed metadata seen during "
                  "the commit) made the object with a clean mark while a joiner wrote it",
                  clean, n, reached);
    st_close(&a);
    st_close(&j);
}
END_TEST

/* The commit order recorded in name's metadata file on server 0. */
static uint64_t order_of(const char *name)
{
    uint8_t meta[64];

    st_meta_head(name, meta, NULL);
    return cnio__get_le64(meta + 48);
}

/* SETSIZE of handle h on c to size (flags: the header's, F_RECORD say): its status. */
static int set_size(struct st_conn *c, uint64_t h, uint64_t size, uint32_t flags)
{
    c->flags = flags;
    return st_call(c, CNIO_WIRE_SETSIZE, h, size, NULL, 0, NULL, NULL, 0);
}

/*
 * A SETSIZE changes an object's size and nothing else of what its metadata records:
 * - a joiner adopted at the commit of the upload it joined: the object stays marked
 *   DIRTY, with its commit order, while the joiner is open; before, it (and the upload's
 *   creator after that commit, refused now) wrote its own copy of the metadata, without
 *   the mark (and order 0), and a power cut then left the joiner's bytes torn under a
 *   clean mark;
 * - a writer in place after a SETATTR of the object: the mode stays; before, its copy
 *   from the open put the old one back;
 * - a writer in place whose object was removed and made again: the new object's size
 *   stays; before, the removed one's metadata was written over it;
 * - a joiner's F_RECORD (grow only) before the commit grows from the size the creator
 *   set, not from its own copy: before, it shrank the upload, and the object read back
 *   short.
 */
START_TEST(test_inplace_setsize_keeps_meta)
{
    static uint8_t data[2 * UNIT];
    struct cnio_wire_info info;
    struct st_conn a, j;
    uint64_t ha, hj, order;

    fx_fill(data, sizeof(data), 71);
    st_session(&st_fx, 0, &a);
    st_session(&st_fx, 0, &j);
    ck_assert_int_eq(open_at(&a, "sj", STAGE, 0x1100, &ha, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&a, ha, 0, data, UNIT), 0);
    ck_assert_int_eq(open_at(&j, "sj", STAGE, 0x1200, &hj, &info, NULL), 0);
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_JOINED, CNIO_WIRE_I_JOINED);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_COMMIT, ha, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(marked("sj", NULL), 1);   /* the joiner still open */
    order = order_of("sj");
    ck_assert_uint_ne(order, 0);
    ck_assert_int_eq(st_write(&j, hj, UNIT, data + UNIT, UNIT), 0);
    ck_assert_int_eq(set_size(&j, hj, 2 * UNIT, 0), 0);
    ck_assert_int_eq(marked("sj", NULL), 1);
    ck_assert_uint_eq(order_of("sj"), order);
    /* (the creator's, after its COMMIT: refused, test_inplace_write_after_commit) */
    ck_assert_int_eq(set_size(&a, ha, 2 * UNIT, 0), -CNIO_ERR_ACCESS);
    ck_assert_int_eq(marked("sj", NULL), 1);
    ck_assert_uint_eq(order_of("sj"), order);
    ck_assert_int_eq(st_call(&j, CNIO_WIRE_CLOSE, hj, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, ha, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(marked("sj", NULL), 0);
    read_back(&a, "sj", data, sizeof(data));

    /* a writer in place, the mode set meanwhile */
    ck_assert_int_eq(open_at(&j, "sj", W, 0, &hj, NULL, NULL), 0);
    ck_assert_int_eq(st_named(&a, CNIO_WIRE_SETATTR, "sj", 0, 0, 0600, 0, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(set_size(&j, hj, 2 * UNIT, 0), 0);
    ck_assert_int_eq(st_call(&j, CNIO_WIRE_CLOSE, hj, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_stat(&a, "sj", &info), 0);
    ck_assert_uint_eq(info.flags >> CNIO_WIRE_I_MODE_SHIFT, 0600);

    /* a writer in place of an object removed and made again */
    ck_assert_int_eq(open_at(&j, "sj", W, 0, &hj, NULL, NULL), 0);
    ck_assert_int_eq(st_unlink(&a, "sj"), 0);
    ck_assert_int_eq(open_at(&a, "sj", CNIO_WIRE_O_CREATE | W, 0, &ha, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&a, ha, 0, data, 10), 0);
    ck_assert_int_eq(set_size(&a, ha, 10, 0), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, ha, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(set_size(&j, hj, 5000, 0), 0);   /* its own (removed) file's */
    ck_assert_int_eq(st_call(&j, CNIO_WIRE_CLOSE, hj, 0, NULL, 0, NULL, NULL, 0),
                     -CNIO_ERR_NOENT);
    ck_assert_int_eq(st_stat(&a, "sj", &info), 0);
    ck_assert_uint_eq(info.size, 10);
    /* (left marked: the removed object's writer vouches for nothing made at the name) */
    ck_assert_int_eq(open_at(&a, "sj", W, 0, &ha, NULL, NULL), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, ha, 0, NULL, 0, NULL, NULL, 0), 0);
    read_back(&a, "sj", data, 10);
    ck_assert_int_eq(st_unlink(&a, "sj"), 0);

    /* a joiner's F_RECORD before the commit, below the size its creator set */
    ck_assert_int_eq(open_at(&a, "sg", STAGE, 0x1300, &ha, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&a, ha, 0, data, sizeof(data)), 0);
    ck_assert_int_eq(open_at(&j, "sg", STAGE, 0x1400, &hj, &info, NULL), 0);
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_JOINED, CNIO_WIRE_I_JOINED);
    ck_assert_int_eq(set_size(&a, ha, 2 * UNIT, 0), 0);
    ck_assert_int_eq(set_size(&j, hj, UNIT, CNIO_WIRE_F_RECORD), 0);
    ck_assert_int_eq(st_call(&j, CNIO_WIRE_CLOSE, hj, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_COMMIT, ha, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, ha, 0, NULL, 0, NULL, NULL, 0), 0);
    read_back(&a, "sg", data, sizeof(data));
    ck_assert_int_eq(st_unlink(&a, "sg"), 0);
    ck_assert_int_eq(staged_files(), 0);
    st_close(&a);
    st_close(&j);
}
END_TEST

/*
 * The creator's handle of an upload writes nothing after its COMMIT: a WRITE or SETSIZE
 * by it is refused (-CNIO_ERR_ACCESS, with a reason), and the object stays as committed,
 * clean and whole. Before, both succeeded: the bytes landed in the committed object with
 * no writer in place counted and no mark, not on disk (nothing syncs them: the handle's
 * CLOSE is no writer's), and a power cut left them torn under a clean mark, read back as
 * complete. (No client writes after its COMMIT: cnio__obj_close commits, then closes.)
 */
START_TEST(test_inplace_write_after_commit)
{
    static uint8_t data[2 * UNIT];
    struct cnio_wire_info info;
    struct st_conn a;
    uint64_t ha;

    fx_fill(data, sizeof(data), 79);
    st_session(&st_fx, 0, &a);
    ck_assert_int_eq(open_at(&a, "wc", STAGE, 0x1900, &ha, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&a, ha, 0, data, sizeof(data)), 0);
    ck_assert_int_eq(set_size(&a, ha, sizeof(data), 0), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_COMMIT, ha, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(marked("wc", NULL), 0);
    ck_assert_int_eq(st_write(&a, ha, UNIT, data, UNIT), -CNIO_ERR_ACCESS);
    ck_assert_int_eq(set_size(&a, ha, UNIT, 0), -CNIO_ERR_ACCESS);
    ck_assert_int_eq(set_size(&a, ha, 4 * UNIT, CNIO_WIRE_F_RECORD), -CNIO_ERR_ACCESS);
    ck_assert_int_eq(marked("wc", NULL), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_SYNC, ha, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, ha, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_stat(&a, "wc", &info), 0);
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_DIRTY, 0);
    ck_assert_uint_eq(info.size, sizeof(data));
    read_back(&a, "wc", data, sizeof(data));
    ck_assert_int_eq(st_unlink(&a, "wc"), 0);
    st_close(&a);
}
END_TEST

/*
 * An OPEN with O_TRUNC but without O_STAGE (only a raw protocol client, or one older
 * than staging, sends it) of an object a live handle writes in place is refused
 * (-CNIO_ERR_ACCESS, "open for writing in place"), and changes nothing: the writer's bytes
 * stay, its mark stays until its clean close, the mode and update count stay. Before, it
 * emptied the data file under the writer and wrote fresh metadata over the object's:
 * its mark cleared (until this open's own), its count and mode reset, and the writer's
 * bytes gone, its close then blessing what was left. With no live writer it empties the
 * object as before, and is its writer in place.
 */
START_TEST(test_inplace_trunc_beside_writer)
{
    static uint8_t data[2 * UNIT];
    struct cnio_wire_info info;
    struct st_conn a, b;
    uint64_t ha, hb;

    fx_fill(data, sizeof(data), 83);
    st_session(&st_fx, 0, &a);
    st_session(&st_fx, 0, &b);
    ck_assert_int_eq(open_at(&a, "tw", CNIO_WIRE_O_CREATE | W, 0, &ha, NULL, NULL), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, ha, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_named(&a, CNIO_WIRE_SETATTR, "tw", 0, 0, 0600, 0, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(open_at(&a, "tw", W, 0, &ha, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&a, ha, 0, data, sizeof(data)), 0);
    ck_assert_int_eq(set_size(&a, ha, sizeof(data), 0), 0);
    ck_assert_int_eq(marked("tw", NULL), 1);
    ck_assert_int_eq(open_at(&b, "tw", CNIO_WIRE_O_TRUNC | W, 0, &hb, NULL, NULL),
                     -CNIO_ERR_ACCESS);
    ck_assert_int_eq(open_at(&b, "tw", CNIO_WIRE_O_CREATE | CNIO_WIRE_O_TRUNC | W, 0, &hb,
                             NULL, NULL), -CNIO_ERR_ACCESS);
    ck_assert_int_eq(marked("tw", NULL), 1);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, ha, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(marked("tw", NULL), 0);
    ck_assert_int_eq(st_stat(&b, "tw", &info), 0);
    ck_assert_uint_eq(info.flags >> CNIO_WIRE_I_MODE_SHIFT, 0600);
    ck_assert_uint_eq(info.gen, cnio__wire_gen(0, 2));   /* (its create and this update) */
    read_back(&b, "tw", data, sizeof(data));
    /* no live writer: emptied, and its own writer in place */
    ck_assert_int_eq(open_at(&b, "tw", CNIO_WIRE_O_TRUNC | W, 0, &hb, &info, NULL), 0);
    ck_assert_uint_eq(info.size, 0);
    ck_assert_int_eq(marked("tw", NULL), 1);
    ck_assert_int_eq(st_call(&b, CNIO_WIRE_CLOSE, hb, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(marked("tw", NULL), 0);
    ck_assert_int_eq(st_stat(&b, "tw", &info), 0);
    ck_assert_uint_eq(info.size, 0);
    ck_assert_int_eq(st_unlink(&a, "tw"), 0);
    st_close(&a);
    st_close(&b);
}
END_TEST

/* A SETATTR of a name on its own connection, for a thread: its status. */
struct setattr_call {
    const char *name;
    atomic_int go;
    int ret;
};

static void *setattr_it(void *arg)
{
    struct setattr_call *x = arg;
    struct st_conn s;

    st_session(&st_fx, 0, &s);
    while (!atomic_load(&x->go))
        ;
    x->ret = st_named(&s, CNIO_WIRE_SETATTR, x->name, 0, 0, 0640, 0, 0, NULL, NULL, 0);
    st_close(&s);
    return NULL;
}

/*
 * A file put in the root by hand has no metadata: the first open for writing in place
 * records it, marked. A SETATTR at the same moment (which records metadata for such a
 * file too) is taken whole, before or after that: while the writer is open the object
 * is marked, and after its clean close it has the mode SETATTR set. Before, the open
 * wrote its metadata outside the store lock: a SETATTR between its look and its write
 * lost its mode, and one whose look came before the open's write and its write after
 * left the writer's update unmarked. The timing is the server's: rounds where SETATTR
 * came first, wholly, prove nothing.
 */
START_TEST(test_inplace_open_by_hand_beside_setattr)
{
    static uint8_t data[UNIT];
    struct cnio_wire_info info;
    struct st_conn a;
    int lost_mode = 0, lost_mark = 0, n = 40;

    fx_fill(data, sizeof(data), 89);
    st_session(&st_fx, 0, &a);
    for (int i = 0; i < n; i++) {
        struct setattr_call x = { .ret = -1 };
        char name[32], path[PATH_MAX + 40];
        pthread_t tid;
        uint64_t ha;
        int fd;

        snprintf(name, sizeof(name), "hand%d", i);
        snprintf(path, sizeof(path), "%s/%s", st_fx.root[0], name);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
        close(fd);
        x.name = name;
        ck_assert_int_eq(pthread_create(&tid, NULL, setattr_it, &x), 0);
        usleep(2000);   /* (its session up) */
        atomic_store(&x.go, 1);
        usleep((useconds_t)(i % 4) * 50);
        ck_assert_int_eq(open_at(&a, name, W, 0, &ha, NULL, NULL), 0);
        ck_assert_int_eq(pthread_join(tid, NULL), 0);
        ck_assert_int_eq(x.ret, 0);
        lost_mark += !marked(name, NULL);
        ck_assert_int_eq(st_write(&a, ha, 0, data, 100), 0);
        ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, ha, 0, NULL, 0, NULL, NULL, 0), 0);
        ck_assert_int_eq(marked(name, NULL), 0);
        ck_assert_int_eq(st_stat(&a, name, &info), 0);
        lost_mode += (info.flags >> CNIO_WIRE_I_MODE_SHIFT) != 0640;
        read_back(&a, name, data, sizeof(data));
        ck_assert_int_eq(st_unlink(&a, name), 0);
    }
    ck_assert_msg(lost_mode == 0 && lost_mark == 0, "%d of %d rounds lost the SETATTR's mode, "
                  "%d left the open writer's update unmarked", lost_mode, n, lost_mark);
    st_close(&a);
}
END_TEST

/* An upload of name staged over a (instance 0x1500 + k, handle *ha) with one UNIT of
 * data, and a second open of it over j that joins it (*hj). */
static void small_joined(struct st_conn *a, struct st_conn *j, const char *name, uint64_t k,
                         uint64_t *ha, uint64_t *hj, const uint8_t *data)
{
    struct cnio_wire_info info;

    ck_assert_int_eq(open_at(a, name, STAGE, 0x1500 + k, ha, NULL, NULL), 0);
    ck_assert_int_eq(st_write(a, *ha, 0, data, UNIT), 0);
    ck_assert_int_eq(open_at(j, name, STAGE, 0x1600 + k, hj, &info, NULL), 0);
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_JOINED, CNIO_WIRE_I_JOINED);
}

/*
 * A writer that joined an upload (a second open of the name being created) whose
 * object is removed (UNLINK, cnio rm) before the commit adopted the joiner as a writer in
 * place: its CLOSE fails as a writer in place's whose object was removed while it was
 * open (NOENT, or success with F_GONE when asked), whether the removal came before the
 * commit or between the commit and the adoption; one whose creator discarded the upload
 * (ABORT) is told INCOMPLETE. It marks nothing on an object made at the name since, and
 * leaves nothing in the stage directory. Before, each closed with success, its bytes in
 * no object (exit 0). Rounds where the UNLINK came during the COMMIT are counted.
 */
START_TEST(test_inplace_joiner_of_removed)
{
    static uint8_t data[4 << 20];
    struct cnio_wire_info info;
    struct cnio_wire_hdr rh;
    struct st_conn a, j;
    uint64_t ha, hj, hb;
    static const useconds_t wait_us[4] = { 1000, 10000, 40000, 150000 };
    int committed_first = 0, n = 8;

    fx_fill(data, sizeof(data), 73);
    st_session(&st_fx, 0, &a);
    st_session(&st_fx, 0, &j);
    /* removed before its commit: the COMMIT and the joiner's CLOSE fail alike */
    small_joined(&a, &j, "rj", 0, &ha, &hj, data);
    ck_assert_int_eq(st_unlink(&a, "rj"), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_COMMIT, ha, 0, NULL, 0, NULL, NULL, 0),
                     -CNIO_ERR_NOENT);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_ABORT, ha, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_write(&j, hj, UNIT, data, UNIT), 0);   /* it writes on */
    ck_assert_int_eq(set_size(&j, hj, 2 * UNIT, 0), 0);
    ck_assert_int_eq(st_call(&j, CNIO_WIRE_CLOSE, hj, 0, NULL, 0, NULL, NULL, 0),
                     -CNIO_ERR_NOENT);
    ck_assert_int_eq(st_stat(&a, "rj", &info), -CNIO_ERR_NOENT);
    /* ... each succeeding with F_GONE, as asked */
    small_joined(&a, &j, "rk", 1, &ha, &hj, data);
    ck_assert_int_eq(st_unlink(&a, "rk"), 0);
    a.flags = CNIO_WIRE_F_GONE;
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_COMMIT, ha, 0, NULL, 0, &rh, NULL, 0), 0);
    ck_assert_uint_eq(rh.flags & CNIO_WIRE_F_GONE, CNIO_WIRE_F_GONE);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, ha, 0, NULL, 0, NULL, NULL, 0), 0);
    j.flags = CNIO_WIRE_F_GONE;
    ck_assert_int_eq(st_call(&j, CNIO_WIRE_CLOSE, hj, 0, NULL, 0, &rh, NULL, 0), 0);
    ck_assert_uint_eq(rh.flags & CNIO_WIRE_F_GONE, CNIO_WIRE_F_GONE);
    /* an object made at the name meanwhile is left as its writer made it */
    small_joined(&a, &j, "rn", 2, &ha, &hj, data);
    ck_assert_int_eq(st_unlink(&a, "rn"), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_ABORT, ha, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(open_at(&a, "rn", STAGE, 0x1700, &hb, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&a, hb, 0, data + 1, UNIT), 0);
    ck_assert_int_eq(set_size(&a, hb, UNIT, 0), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_COMMIT, hb, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, hb, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_write(&j, hj, 0, data, 2 * UNIT), 0);
    ck_assert_int_eq(set_size(&j, hj, 5000, 0), 0);
    ck_assert_int_eq(st_call(&j, CNIO_WIRE_CLOSE, hj, 0, NULL, 0, NULL, NULL, 0),
                     -CNIO_ERR_NOENT);
    ck_assert_int_eq(st_stat(&a, "rn", &info), 0);
    ck_assert_uint_eq(info.flags, 0);
    ck_assert_uint_eq(info.size, UNIT);
    read_back(&a, "rn", data + 1, UNIT);
    ck_assert_int_eq(st_unlink(&a, "rn"), 0);
    /* discarded by its creator */
    small_joined(&a, &j, "ra", 3, &ha, &hj, data);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_ABORT, ha, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&j, CNIO_WIRE_CLOSE, hj, 0, NULL, 0, NULL, NULL, 0),
                     -CNIO_ERR_INCOMPLETE);
    /* removed while the upload commits: before the commit, between the commit and the
     * adoption, or after it (then a writer in place's close) */
    for (int i = 0; i < n; i++) {
        struct caller x = { .c = &a, .type = CNIO_WIRE_COMMIT };
        char name[32];
        pthread_t tid;

        snprintf(name, sizeof(name), "rr%d", i);
        upload_joined(&a, &j, name, 0x1800 + (uint64_t)i, 0x1900 + (uint64_t)i, &x.h, &hj,
                      data, sizeof(data));
        ck_assert_int_eq(pthread_create(&tid, NULL, call_it, &x), 0);
        usleep(wait_us[i % 4]);
        ck_assert_int_eq(st_unlink(&j, name), 0);
        ck_assert_int_eq(pthread_join(tid, NULL), 0);
        ck_assert(x.ret == 0 || x.ret == -CNIO_ERR_NOENT);
        committed_first += x.ret == 0;
        ck_assert_int_eq(st_call(&j, CNIO_WIRE_CLOSE, hj, 0, NULL, 0, NULL, NULL, 0),
                         -CNIO_ERR_NOENT);
        ck_assert_int_eq(st_call(&a, x.ret ? CNIO_WIRE_ABORT : CNIO_WIRE_CLOSE, x.h, 0, NULL,
                                 0, NULL, NULL, 0), 0);
        ck_assert_int_eq(st_stat(&a, name, &info), -CNIO_ERR_NOENT);
    }
    fprintf(stderr, "test_inplace_joiner_of_removed: %d of %d commits came before the "
            "removal\n", committed_first, n);
    ck_assert_int_eq(staged_files(), 0);
    st_close(&a);
    st_close(&j);
}
END_TEST

void inplace_add_joins(TCase *tc)
{
    tcase_add_test(tc, test_inplace_joiner_closes_during_commit);
    tcase_add_test(tc, test_inplace_joiner_open_at_commit);
}

void inplace_add_meta(Suite *s)
{
    /* what requests other than OPEN and CLOSE leave of a writer's mark (CK_RUN_CASE=meta) */
    TCase *tc = tcase_create("meta");

    tcase_add_checked_fixture(tc, st_setup, st_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_inplace_setsize_keeps_meta);
    tcase_add_test(tc, test_inplace_joiner_of_removed);
    tcase_add_test(tc, test_inplace_write_after_commit);
    tcase_add_test(tc, test_inplace_trunc_beside_writer);
    tcase_add_test(tc, test_inplace_open_by_hand_beside_setattr);
    suite_add_tcase(s, tc);
}
