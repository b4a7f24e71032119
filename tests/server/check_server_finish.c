/*
 * check_server_finish.c - commits that a server crash cut short, over raw frames: what a
 * kill after PREPARE leaves and the startup scan keeps, FINISH of such an instance
 * (refused when it cannot be made, the order it picks, exclusive creates), a kill
 * between a commit's steps 1 and 2 (stage_commit.c) with and without the upload's
 * metadata, and a late column's JOIN onto a commit left COMMITTING.
 */
#include "committest.h"

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* 1 when server 0's stage directory holds file, else 0. */
static int stage_has(const char *file)
{
    char path[PATH_MAX + 64];

    snprintf(path, sizeof(path), "%s/.cnio/stage/%s", st_fx.root[0], file);
    return access(path, F_OK) == 0;
}

/* FINISH of staged instance id of name with commit order seq on c, its OPEN block's
 * flags oflags: the reply's status; *order (may be NULL) the reply's offset, the order
 * it was committed with. */
static int finish_oflags(struct st_conn *c, const char *name, uint32_t oflags, uint64_t id,
                         uint64_t seq, uint64_t *order)
{
    uint8_t p[CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME];
    struct cnio_wire_open o = { .flags = oflags, .name = name,
                                .name_len = (uint32_t)strlen(name) };
    struct cnio_wire_hdr rh;
    int n = cnio__wire_open_encode(&o, p, sizeof(p)), ret;

    ck_assert_int_gt(n, 0);
    ret = st_call(c, CNIO_WIRE_FINISH, id, seq, p, (uint32_t)n, &rh, NULL, 0);
    if (order)
        *order = rh.offset;
    return ret;
}

static int finish_at(struct st_conn *c, const char *name, uint64_t id, uint64_t seq,
                     uint64_t *order)
{
    return finish_oflags(c, name, 0, id, seq, order);
}

static int finish_req(struct st_conn *c, const char *name, uint64_t id, uint64_t seq)
{
    return finish_at(c, name, id, seq, NULL);
}

/*
 * The metadata files a PREPARE reserved (ID.commit, ID.final) go with their instance: a
 * server killed after PREPAREs keeps every prepared instance (a PREPARE writes its
 * metadata, even for one never SYNCed: another host may have committed already), whose
 * commit then lands, by COMMIT over a resumed handle or by FINISH; it removes at startup
 * the reserved files left with no instance.
 */
START_TEST(test_prepare_crash)
{
    static uint8_t data[10000];
    uint8_t rb[CNIO_WIRE_INFO_SIZE];
    struct cnio_wire_hdr rh;
    struct st_conn c;
    char path[PATH_MAX + 64];
    uint64_t h1, h2;
    int fd;

    fx_fill(data, sizeof(data), 14);
    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(open_at(&c, "pc/kept", STAGE, 0x71, &h1, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, h1, 0, data, sizeof(data)), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_SETSIZE, h1, sizeof(data), NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_SYNC, h1, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_PREPARE, h1, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(open_at(&c, "pc/gone", STAGE, 0x72, &h2, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, h2, 0, data, 10), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_PREPARE, h2, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert(stage_has("0000000000000071.commit") && stage_has("0000000000000071.final"));
    ck_assert(stage_has("0000000000000072.commit") && stage_has("0000000000000072.final"));
    snprintf(path, sizeof(path), "%s/.cnio/stage/0000000000000073.final", st_fx.root[0]);
    fd = open(path, O_WRONLY | O_CREAT, 0644);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_ne(fx_kill(&st_fx, 0, SIGKILL), -1);
    st_close(&c);
    ck_assert_int_eq(fx_restart(&st_fx, 0, NULL), 0);
    ck_assert(stage_has("0000000000000071.commit") && stage_has("0000000000000071.final"));
    ck_assert(stage_has("0000000000000072.commit") && stage_has("0000000000000072.final"));
    ck_assert(!stage_has("0000000000000073.final"));
    st_session(&st_fx, 0, &c);
    /* FINISH: what a client sends a host that another host's commit got ahead of */
    ck_assert_int_eq(finish_req(&c, "pc/gone", 0, 1000), -CNIO_ERR_INVAL);
    ck_assert_int_eq(finish_req(&c, "pc/gone", 0x74, 1000), -CNIO_ERR_NOENT);
    ck_assert_int_eq(finish_req(&c, "pc/kept", 0x72, 1000), -CNIO_ERR_NOENT);
    ck_assert_int_eq(finish_req(&c, "pc/gone", 0x72, 1000), 0);
    ck_assert_int_eq(finish_req(&c, "pc/gone", 0x72, 1000), 0);   /* finished already */
    read_back(&c, "pc/gone", data, 10);
    /* STAT by name says the generation and commit order, which a client FINISHes with */
    ck_assert_int_eq(st_named(&c, CNIO_WIRE_STAT, "pc/gone", 0, 0, 0, 0, 0, &rh, rb,
                              sizeof(rb)), 0);
    ck_assert_uint_eq(rh.object, 0x72);
    ck_assert_uint_eq(rh.offset, 1000);
    ck_assert(!stage_has("0000000000000072.commit") && !stage_has("0000000000000072.final"));
    ck_assert_int_eq(open_at(&c, "pc/kept", STAGE | CNIO_WIRE_O_RESUME, 0x71, &h1, NULL, NULL),
                     0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, h1, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h1, 0, NULL, 0, NULL, NULL, 0), 0);
    read_back(&c, "pc/kept", data, sizeof(data));
    ck_assert_int_eq(staged_files(), 0);
    st_close(&c);
}
END_TEST

/*
 * FINISH refuses an instance its live writer holds (that writer commits it) and one never
 * prepared (its writer never asked for the commit), and leaves them as they were; a host
 * that holds only such an upload answers an open in place of the name (columns 1.. of an
 * object column 0's host holds) INCOMPLETE, not "invalid argument".
 */
START_TEST(test_finish_refused)
{
    static uint8_t data[5000];
    struct cnio_wire_info info;
    struct st_conn c, d;
    uint64_t h;

    fx_fill(data, sizeof(data), 15);
    st_session(&st_fx, 0, &c);
    st_session(&st_fx, 0, &d);
    ck_assert_int_eq(open_at(&c, "fr/a", STAGE, 0x81, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, h, 0, data, sizeof(data)), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_PREPARE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(finish_req(&d, "fr/a", 0x81, 1000), -CNIO_ERR_INCOMPLETE);   /* held */
    st_close(&c);   /* its writer gone: the handle released */
    ck_assert_int_eq(open_at(&d, "fr/b", STAGE, 0x82, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&d, h, 0, data, 10), 0);
    ck_assert_int_eq(st_call(&d, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(finish_req(&d, "fr/b", 0x82, 1000), -CNIO_ERR_INCOMPLETE);   /* unprepared */
    ck_assert_int_eq(st_stat(&d, "fr/b", &info), 0);
    ck_assert(info.flags & CNIO_WIRE_I_STAGED);
    ck_assert_int_eq(open_at(&d, "fr/b", STAGE, 0, NULL, NULL, NULL), -CNIO_ERR_INCOMPLETE);
    /* the released, prepared one is finished once its handle is gone (bounded wait) */
    for (int k = 0; k < 500 && finish_req(&d, "fr/a", 0x81, 1000) != 0; k++)
        usleep(10000);
    read_back(&d, "fr/a", data, sizeof(data));
    st_close(&d);
}
END_TEST

/*
 * FINISH with order 0 is column 0's COMMIT sent again by a writer whose connection broke
 * before its reply (the server restarted between PREPARE and COMMIT): this host picks the
 * order, above the one recorded for the name, and says it in the reply; asked again (the
 * commit had happened, its reply lost), it commits nothing twice and says the same order.
 */
/* On c (server 0): instance id of name opened with flags, data written and prepared;
 * then server 0 killed before the COMMIT and started again, c closed. */
static void prepared_then_lost(struct st_conn *c, const char *name, uint32_t flags, uint64_t id,
                               const void *data, uint32_t len)
{
    uint64_t h;

    ck_assert_int_eq(open_at(c, name, flags, id, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_write(c, h, 0, data, len), 0);
    ck_assert_int_eq(st_call(c, CNIO_WIRE_SETSIZE, h, len, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(c, CNIO_WIRE_PREPARE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_ne(fx_kill(&st_fx, 0, SIGKILL), -1);
    st_close(c);
    ck_assert_int_eq(fx_restart(&st_fx, 0, NULL), 0);
}

START_TEST(test_finish_picks_order)
{
    static uint8_t data[7000];
    uint8_t rb[CNIO_WIRE_INFO_SIZE];
    struct cnio_wire_hdr rh;
    struct st_conn c;
    uint64_t h, order = 0, again = 0;
    const uint64_t big = 1ull << 61;   /* an order recorded ahead of this host's clock */

    fx_fill(data, sizeof(data), 16);
    st_session(&st_fx, 0, &c);
    ck_assert(c.ch.caps & CNIO_WIRE_CAP_FINISH_ORDER);
    ck_assert_int_eq(open_at(&c, "fo/a", STAGE, 0x91, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, h, 0, data, 10), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, h, big, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    prepared_then_lost(&c, "fo/a", STAGE | CNIO_WIRE_O_TRUNC, 0x92, data, sizeof(data));
    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(finish_at(&c, "fo/a", 0x92, 0, &order), 0);
    ck_assert_uint_eq(order, big + 1);
    read_back(&c, "fo/a", data, sizeof(data));
    ck_assert_int_eq(finish_at(&c, "fo/a", 0x92, 0, &again), 0);   /* committed already */
    ck_assert_uint_eq(again, order);
    ck_assert_int_eq(st_named(&c, CNIO_WIRE_STAT, "fo/a", 0, 0, 0, 0, 0, &rh, rb, sizeof(rb)),
                     0);
    ck_assert_uint_eq(rh.object, 0x92);
    ck_assert_uint_eq(rh.offset, order);
    read_back(&c, "fo/a", data, sizeof(data));
    ck_assert_int_eq(staged_files(), 0);
    ck_assert_int_eq(st_unlink(&c, "fo/a"), 0);
    st_close(&c);
}
END_TEST

/*
 * An exclusive create (MPI_MODE_EXCL) whose writer lost column 0's connection between
 * PREPARE and COMMIT, and FINISHes there with order 0 over a new one, after another
 * writer created the name meanwhile: the FINISH that says O_CREATE | O_EXCL refuses
 * (-CNIO_ERR_EXIST) and the other writer's object stays, as the COMMIT of an exclusive
 * handle would have refused; without them, it commits over it (what any other writer
 * asks). The FINISH committed over it before CNIO_WIRE_CAP_FINISH_EXCL.
 */
START_TEST(test_finish_excl)
{
    static uint8_t mine[5000], theirs[3000];
    const uint32_t excl = CNIO_WIRE_O_CREATE | CNIO_WIRE_O_EXCL;
    struct st_conn c, d;
    uint64_t hd, order = 0;

    fx_fill(mine, sizeof(mine), 21);
    fx_fill(theirs, sizeof(theirs), 22);
    st_session(&st_fx, 0, &c);
    ck_assert(c.ch.caps & CNIO_WIRE_CAP_FINISH_EXCL);
    prepared_then_lost(&c, "fe/a", STAGE | CNIO_WIRE_O_EXCL, 0xa1, mine, sizeof(mine));
    /* another writer's object takes the name meanwhile (a commit of the name itself would
     * have removed the prepared upload, which no handle holds now: FINISH then finds
     * nothing to commit) */
    st_session(&st_fx, 0, &d);
    ck_assert_int_eq(open_at(&d, "fe/b", STAGE, 0xa2, &hd, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&d, hd, 0, theirs, sizeof(theirs)), 0);
    ck_assert_int_eq(st_call(&d, CNIO_WIRE_COMMIT, hd, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&d, CNIO_WIRE_CLOSE, hd, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(rename_req(&d, "fe/b", "fe/a"), 0);
    st_close(&d);
    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(finish_oflags(&c, "fe/a", excl, 0xa1, 0, &order), -CNIO_ERR_EXIST);
    read_back(&c, "fe/a", theirs, sizeof(theirs));
    ck_assert_int_eq(finish_oflags(&c, "fe/a", 0, 0xa1, 0, &order), 0);
    read_back(&c, "fe/a", mine, sizeof(mine));
    ck_assert_int_eq(staged_files(), 0);
    ck_assert_int_eq(st_unlink(&c, "fe/a"), 0);
    st_close(&c);
}
END_TEST

/* Unlinks server 0's stage/ID<suffix>. */
static void unlink_stage0(uint64_t id, const char *suffix)
{
    char p[PATH_MAX + 64];

    snprintf(p, sizeof(p), "%s/.cnio/stage/%016llx%s", st_fx.root[0], (unsigned long long)id,
             suffix);
    ck_assert_msg(unlink(p) == 0, "unlink %s", p);
}

/*
 * On server 0, down: step 1 of the commit of prepared instance id of new name dir/base,
 * as stage_commit.c takes it: the name's metadata (for a new name the final one: ID.final's
 * bytes, this generation, not COMMITTING) renamed from ID.commit into .cnio/meta.
 */
static void step1_of_new_name(uint64_t id, const char *name)
{
    char from[PATH_MAX + 64], to[PATH_MAX + 64];
    uint8_t meta[64];   /* CNIO_SRV_META_SIZE (src/server/store.h) */
    const char *slash = strrchr(name, '/');
    int fd;

    snprintf(from, sizeof(from), "%s/.cnio/stage/%016llx.final", st_fx.root[0],
             (unsigned long long)id);
    fd = open(from, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(read(fd, meta, sizeof(meta)), (ssize_t)sizeof(meta));
    close(fd);
    snprintf(to, sizeof(to), "%s/.cnio/meta/%.*s", st_fx.root[0],
             slash ? (int)(slash - name) : 0, name);
    mkdir(to, 0755);
    snprintf(to, sizeof(to), "%s/.cnio/meta/%s", st_fx.root[0], name);
    fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, meta, sizeof(meta)), (ssize_t)sizeof(meta));
    close(fd);
    unlink_stage0(id, ".commit");   /* (step 1 renamed it) */
}

/*
 * A server killed in the COMMIT of a new name between its step 1 (the name's metadata,
 * of this generation: a new name's is final at once) and step 2 (the data file renamed
 * into place), as stage_commit.c orders them. What it leaves is made here on disk from a
 * real PREPARE, as the kill would have left it: the metadata renamed from ID.commit into
 * .cnio/meta (as step 1 does, with ID.final's bytes: gen ID, not COMMITTING), the data
 * still staged. The client whose COMMIT was cut short FINISHes over a new connection:
 * the commit must land, the object read back, nothing staged stay. FINISH answered
 * success without committing ("finished already", from the metadata alone), the name
 * read as incomplete for good on that host, and `cnio cp -r` exited 0 without that
 * file whole (seen once in 200 two-rank rounds of uploads across a server restart).
 */
START_TEST(test_finish_after_step1_crash)
{
    static uint8_t data[9000];
    uint8_t rb[CNIO_WIRE_INFO_SIZE];
    struct cnio_wire_info info;
    struct cnio_wire_hdr rh;
    struct st_conn c;
    uint64_t order = 0;

    fx_fill(data, sizeof(data), 23);
    st_session(&st_fx, 0, &c);
    prepared_then_lost(&c, "s1/new", STAGE, 0xb1, data, sizeof(data));
    ck_assert_int_ne(fx_kill(&st_fx, 0, SIGKILL), -1);
    step1_of_new_name(0xb1, "s1/new");
    ck_assert_int_eq(fx_restart(&st_fx, 0, NULL), 0);
    st_session(&st_fx, 0, &c);
    /* what a writer asks first over its new connection to column 0's host (cf_first_on):
     * never "this generation, committed" */
    ck_assert_int_eq(st_named(&c, CNIO_WIRE_STAT, "s1/new", 0, 0, 0, 0, 0, &rh, rb,
                              sizeof(rb)), 0);
    ck_assert_int_eq(cnio__wire_info_parse(rb, rh.length, &info), 0);
    ck_assert_msg((info.flags & CNIO_WIRE_I_STAGED) && rh.object != 0xb1,
                  "STAT says generation %llx, flags %x", (unsigned long long)rh.object,
                  info.flags);
    ck_assert_int_eq(finish_at(&c, "s1/new", 0xb1, 0, &order), 0);
    read_back(&c, "s1/new", data, sizeof(data));
    ck_assert_uint_ne(order, 0);   /* picked by this commit (the metadata left said 0) */
    ck_assert_int_eq(staged_files(), 0);
    ck_assert_int_eq(st_unlink(&c, "s1/new"), 0);
    st_close(&c);
}
END_TEST

/*
 * The same cut (a new name, between steps 1 and 2) after an upload that no SYNC nor
 * PREPARE gave its ID.meta yet (one host's commit prepares nothing): at restart the
 * startup scan removes the staged data file, which nothing describes, and what is left
 * is the name's metadata of that generation, no data anywhere. FINISH must not say
 * "finished already" (helper-96 found the writer then exited 0 and the object did not
 * exist): -CNIO_ERR_NOENT, and the name is still nothing to read.
 */
START_TEST(test_finish_after_step1_crash_unsynced)
{
    static uint8_t data[6000];
    struct st_conn c;
    uint64_t h, order = 0;

    fx_fill(data, sizeof(data), 26);
    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(open_at(&c, "s1/unsynced", STAGE, 0xb2, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, h, 0, data, sizeof(data)), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_PREPARE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_ne(fx_kill(&st_fx, 0, SIGKILL), -1);
    st_close(&c);
    /* step 1, and none of what PREPARE made (a commit without one makes no ID.meta) */
    step1_of_new_name(0xb2, "s1/unsynced");
    unlink_stage0(0xb2, ".final");
    unlink_stage0(0xb2, ".meta");
    ck_assert_int_eq(fx_restart(&st_fx, 0, NULL), 0);
    ck_assert(!stage_has("00000000000000b2"));   /* the scan removed it */
    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(finish_at(&c, "s1/unsynced", 0xb2, 0, &order), -CNIO_ERR_NOENT);
    ck_assert_int_eq(open_at(&c, "s1/unsynced", 0, 0, &h, NULL, NULL), -CNIO_ERR_NOENT);
    st_close(&c);
}
END_TEST

/*
 * A replace of a name cut by a crash after its step 1 (the metadata says generation ID,
 * COMMITTING) whose upload the restarted server no longer holds (the scan removed it: no
 * ID.meta), the data file still the old object's. A column that JOINs instance ID late
 * must not take that for the object ID's commit made and write into it in place (the
 * fallback of cnio__srv_open_stage for a writer that committed before the column came):
 * nothing of ID is here. It opened the old object in place, and the column's bytes went
 * into it.
 */
START_TEST(test_join_after_crashed_commit)
{
    static uint8_t old[5000];
    char path[PATH_MAX + 64];
    uint8_t meta[64], back[sizeof(old)];   /* CNIO_SRV_META_SIZE (src/server/store.h) */
    struct st_conn c;
    uint64_t h;
    int fd;

    fx_fill(old, sizeof(old), 31);
    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(open_at(&c, "jc/a", STAGE, 0x61, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, h, 0, old, sizeof(old)), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, h, 5, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_ne(fx_kill(&st_fx, 0, SIGKILL), -1);
    st_close(&c);
    /* step 1 of instance 0x62's commit: its generation, COMMITTING (the format of
     * src/server/meta.c, kept in step by hand) */
    snprintf(path, sizeof(path), "%s/.cnio/meta/jc/a", st_fx.root[0]);
    fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, meta, sizeof(meta), 0), (ssize_t)sizeof(meta));
    ck_assert_uint_eq(cnio__get_le64(meta + 40), 0x61);
    cnio__put_le64(meta + 40, 0x62);
    cnio__put_le32(meta + 28, cnio__get_le32(meta + 28) | 0x2);   /* COMMITTING */
    cnio__put_le32(meta + 60, cnio__crc32c(0, meta, 60));
    ck_assert_int_eq(pwrite(fd, meta, sizeof(meta), 0), (ssize_t)sizeof(meta));
    close(fd);
    ck_assert_int_eq(fx_restart(&st_fx, 0, NULL), 0);
    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(open_at(&c, "jc/a", W | CNIO_WIRE_O_JOIN, 0x62, &h, NULL, NULL),
                     -CNIO_ERR_NOENT);
    ck_assert_int_eq(open_at(&c, "jc/a", 0, 0, NULL, NULL, NULL), -CNIO_ERR_INCOMPLETE);
    snprintf(path, sizeof(path), "%s/jc/a", st_fx.root[0]);   /* the old bytes, untouched */
    fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, back, sizeof(back), 0), (ssize_t)sizeof(back));
    close(fd);
    ck_assert(memcmp(back, old, sizeof(old)) == 0);
    ck_assert_int_eq(st_unlink(&c, "jc/a"), 0);
    st_close(&c);
}
END_TEST

static Suite *finish_suite(void)
{
    Suite *s = suite_create("server_finish");
    TCase *tc = tcase_create("finish");

    tcase_add_checked_fixture(tc, st_setup, st_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_prepare_crash);
    tcase_add_test(tc, test_finish_refused);
    tcase_add_test(tc, test_finish_picks_order);
    tcase_add_test(tc, test_finish_excl);
    tcase_add_test(tc, test_finish_after_step1_crash);
    tcase_add_test(tc, test_finish_after_step1_crash_unsynced);
    tcase_add_test(tc, test_join_after_crashed_commit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_run(finish_suite());
}
