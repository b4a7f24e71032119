/*
 * check_server_commit.c - cnio-server's commit semantics over raw frames: COMMIT of a
 * staged instance (OPEN with O_STAGE) and its order, ABORT, a commit that UNLINK
 * overtook, torn and interrupted commits, and how STAT / OPEN / UNLINK treat each. The
 * life of staged instances themselves (their size and metadata, resume, join, crashes)
 * is check_server_stage.c's; updates in place (the dirty mark, update counts) are
 * check_server_inplace.c's.
 */
#include "committest.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

START_TEST(test_stage_commit)
{
    static uint8_t data[100000];
    struct cnio_wire_info info;
    struct st_conn c;
    char path[PATH_MAX];
    uint64_t h, roff;

    fx_fill(data, sizeof(data), 1);
    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(open_at(&c, "s/o", STAGE, 0x1234, &h, &info, &roff), 0);
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_STAGED, CNIO_WIRE_I_STAGED);
    ck_assert_uint_eq(roff, 0x1234);
    ck_assert_int_ne(access(fx_local_path(&st_fx, 0, "s/o", path, sizeof(path)), F_OK), 0);
    ck_assert_int_eq(st_write(&c, h, 0, data, sizeof(data)), 0);
    /* not visible: STAT says staged, a reader is refused */
    ck_assert_int_eq(st_stat(&c, "s/o", &info), 0);
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_STAGED, CNIO_WIRE_I_STAGED);
    ck_assert_int_eq(open_at(&c, "s/o", 0, 0, NULL, NULL, NULL), -CNIO_ERR_INCOMPLETE);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_SETSIZE, h, sizeof(data), NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, h, 1, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_stat(&c, "s/o", &info), 0);
    ck_assert_uint_eq(info.flags, 0);
    ck_assert_uint_eq(info.gen, 0x1234);
    ck_assert_uint_eq(info.size, sizeof(data));
    read_back(&c, "s/o", data, sizeof(data));
    ck_assert_int_eq(staged_files(), 0);
    /* after a PREPARE (of a new name, then of one that exists): the metadata files it
     * reserved go with the commit, renamed or removed */
    for (uint64_t k = 0; k < 2; k++) {
        ck_assert_int_eq(open_at(&c, "s/p", STAGE | CNIO_WIRE_O_TRUNC, 0x1240 + k, &h, NULL,
                                 NULL), 0);
        ck_assert_int_eq(st_write(&c, h, 0, data + k, 100), 0);
        ck_assert_int_eq(st_call(&c, CNIO_WIRE_SETSIZE, h, 100, NULL, 0, NULL, NULL, 0), 0);
        ck_assert_int_eq(st_call(&c, CNIO_WIRE_PREPARE, h, 0, NULL, 0, NULL, NULL, 0), 0);
        ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, h, 0, NULL, 0, NULL, NULL, 0), 0);
        ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
        read_back(&c, "s/p", data + k, 100);
        ck_assert_int_eq(staged_files(), 0);
    }
    st_close(&c);
}
END_TEST

/* The fields a client from before 2026-11-30 parses (c220220's checks, by hand): reserved
 * (where the generation is now) 0, no flags but I_CREATED and I_DIR. */
static void old_form(const uint8_t *b)
{
    ck_assert_uint_eq(cnio__get_le32(b + 36), 0);
    ck_assert_uint_eq(cnio__get_le32(b + 32) & ~(CNIO_WIRE_I_CREATED | CNIO_WIRE_I_DIR), 0);
}

/*
 * A client that sends no F_REASON at AUTH (every one before 2026-11-30; every later one
 * sends it over TCP) gets OPEN, STAT and LIST answers in the form it parses: no
 * generation, state or mode, which it refused as a protocol error. Today's clients get
 * them whole.
 */
START_TEST(test_old_client_form)
{
    static uint8_t data[5000];
    uint8_t b[4096], rb[CNIO_WIRE_INFO_SIZE];
    struct cnio_wire_info info;
    struct cnio_wire_entry e;
    struct cnio_wire_hdr rh;
    struct st_conn c, old;
    struct cnio_key k;
    size_t pos = 0;
    int n = 0;
    uint64_t h, h2;

    fx_fill(data, sizeof(data), 4);
    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(open_at(&c, "of/o", STAGE, 0x777, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, h, 0, data, sizeof(data)), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_SETSIZE, h, sizeof(data), NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, h, 1, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(open_at(&c, "of/o", STAGE | CNIO_WIRE_O_TRUNC, 0x778, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_stat(&c, "of/o", &info), 0);   /* today's client: all of it */
    ck_assert_uint_eq(info.gen, 0x777);
    ck_assert_uint_eq(info.flags, CNIO_WIRE_I_PENDING);

    st_key(&st_fx, &k);
    ck_assert_int_eq(st_connect(&st_fx, 0, &old), 0);
    old.legacy = 1;
    ck_assert_int_eq(st_auth_key(&old, k.bytes, k.len), 0);
    cnio__key_wipe(&k);
    /* a status it does not know (INCOMPLETE: a name only staged) comes as IO */
    ck_assert_int_eq(open_at(&c, "of/new", STAGE, 0x779, &h2, NULL, NULL), 0);
    ck_assert_int_eq(open_at(&c, "of/new", 0, 0, NULL, NULL, NULL), -CNIO_ERR_INCOMPLETE);
    ck_assert_int_eq(st_named(&old, CNIO_WIRE_OPEN, "of/new", 0, 0, 0, 0, 0, &rh, rb,
                              sizeof(rb)), -CNIO_ERR_IO);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_ABORT, h2, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_named(&old, CNIO_WIRE_STAT, "of/o", 0, 0, 0, 0, 0, &rh, rb,
                              sizeof(rb)), 0);
    old_form(rb);
    ck_assert_int_eq(st_named(&old, CNIO_WIRE_OPEN, "of/o", 0, 0, 0, 0, 0, &rh, rb,
                              sizeof(rb)), 0);
    old_form(rb);
    ck_assert_int_eq(cnio__wire_info_parse(rb, rh.length, &info), 0);
    ck_assert_uint_eq(info.size, sizeof(data));
    ck_assert_int_eq(st_list(&old, "", 0, &rh, b, sizeof(b)), 0);   /* a directory */
    while (cnio__wire_entry_next(b, rh.length, &pos, &e) == 1) {
        old_form(b + pos - CNIO_WIRE_ENTRY_FIXED - e.name_len);
        n++;
    }
    ck_assert_int_ge(n, 1);
    pos = 0;
    n = 0;
    ck_assert_int_eq(st_list(&old, "of", 0, &rh, b, sizeof(b)), 0);   /* an object */
    while (cnio__wire_entry_next(b, rh.length, &pos, &e) == 1) {
        old_form(b + pos - CNIO_WIRE_ENTRY_FIXED - e.name_len);
        n++;
    }
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_ABORT, h, 0, NULL, 0, NULL, NULL, 0), 0);
    st_close(&old);
    st_close(&c);
}
END_TEST

START_TEST(test_stage_abort_keeps_old)
{
    static uint8_t v1[5000], v2[7000];
    struct cnio_wire_info info;
    struct st_conn c;
    uint64_t h;

    fx_fill(v1, sizeof(v1), 2);
    fx_fill(v2, sizeof(v2), 3);
    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(open_at(&c, "old", STAGE, 7, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, h, 0, v1, sizeof(v1)), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, h, 1, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    /* O_STAGE without TRUNC on an existing object: in place, not staged */
    ck_assert_int_eq(open_at(&c, "old", STAGE, 8, &h, &info, NULL), 0);
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_STAGED, 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, h, 1, NULL, 0, NULL, NULL, 0), -CNIO_ERR_INVAL);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    /* with TRUNC: a fresh instance; the old version stays readable until the commit */
    ck_assert_int_eq(open_at(&c, "old", STAGE | CNIO_WIRE_O_TRUNC, 9, &h, &info, NULL), 0);
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_STAGED, CNIO_WIRE_I_STAGED);
    ck_assert_int_eq(st_write(&c, h, 0, v2, sizeof(v2)), 0);
    ck_assert_int_eq(st_stat(&c, "old", &info), 0);
    ck_assert_uint_eq(info.flags, CNIO_WIRE_I_PENDING);
    read_back(&c, "old", v1, sizeof(v1));
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_ABORT, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), -CNIO_ERR_NOENT);
    ck_assert_int_eq(staged_files(), 0);
    read_back(&c, "old", v1, sizeof(v1));
    ck_assert_int_eq(st_stat(&c, "old", &info), 0);
    ck_assert_uint_eq(info.flags, 0);
    st_close(&c);
}
END_TEST

/* Two instances committed in either order: the larger commit order wins. */
START_TEST(test_commit_order)
{
    static uint8_t a[3000], b[4000];
    struct st_conn c;
    uint64_t ha, hb;

    fx_fill(a, sizeof(a), 4);
    fx_fill(b, sizeof(b), 5);
    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(open_at(&c, "both", STAGE | CNIO_WIRE_O_TRUNC, 11, &ha, NULL, NULL), 0);
    ck_assert_int_eq(open_at(&c, "both", STAGE | CNIO_WIRE_O_TRUNC, 12, &hb, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, ha, 0, a, sizeof(a)), 0);
    ck_assert_int_eq(st_write(&c, hb, 0, b, sizeof(b)), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, hb, 200, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, ha, 100, NULL, 0, NULL, NULL, 0), 0);
    read_back(&c, "both", b, sizeof(b));
    ck_assert_int_eq(staged_files(), 0);
    st_close(&c);
}
END_TEST

/* The server picks the order of a COMMIT with offset 0 (CAP_ORDER): the commit that
 * reaches it last wins, whatever the instance ids, and even over an order a client's
 * clock set far ahead. */
START_TEST(test_server_order)
{
    static uint8_t a[3000], b[4000], d[5000];
    struct cnio_wire_hdr rh;
    struct st_conn c;
    uint64_t ha, hb, hc, hd, ta, tb, tc;

    fx_fill(a, sizeof(a), 14);
    fx_fill(b, sizeof(b), 15);
    fx_fill(d, sizeof(d), 16);
    st_session(&st_fx, 0, &c);
    ck_assert_uint_eq(c.ch.caps & CNIO_WIRE_CAP_ORDER, CNIO_WIRE_CAP_ORDER);
    ck_assert_int_eq(open_at(&c, "srv", STAGE | CNIO_WIRE_O_TRUNC, 0x200, &ha, NULL, NULL), 0);
    ck_assert_int_eq(open_at(&c, "srv", STAGE | CNIO_WIRE_O_TRUNC, 0x100, &hb, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, ha, 0, a, sizeof(a)), 0);
    ck_assert_int_eq(st_write(&c, hb, 0, b, sizeof(b)), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, ha, 0, NULL, 0, &rh, NULL, 0), 0);
    ta = rh.offset;
    ck_assert_uint_ne(ta, 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, hb, 0, NULL, 0, &rh, NULL, 0), 0);
    tb = rh.offset;
    ck_assert_uint_gt(tb, ta);
    read_back(&c, "srv", b, sizeof(b));   /* the later commit, though its id is smaller */
    /* a client clock far ahead, then a server-picked order: still the later one wins */
    ck_assert_int_eq(open_at(&c, "srv", STAGE | CNIO_WIRE_O_TRUNC, 0x300, &hc, NULL, NULL), 0);
    ck_assert_int_eq(open_at(&c, "srv", STAGE | CNIO_WIRE_O_TRUNC, 0x50, &hd, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, hc, 0, a, sizeof(a)), 0);
    ck_assert_int_eq(st_write(&c, hd, 0, d, sizeof(d)), 0);
    tc = 1ull << 62;
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, hc, tc, NULL, 0, &rh, NULL, 0), 0);
    ck_assert_uint_eq(rh.offset, tc);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, hd, 0, NULL, 0, &rh, NULL, 0), 0);
    ck_assert_uint_gt(rh.offset, tc);
    read_back(&c, "srv", d, sizeof(d));
    ck_assert_int_eq(staged_files(), 0);
    st_close(&c);
}
END_TEST

/* `cnio rm` of a name whose instance a live writer still writes removes the instance;
 * the writer's commit then fails (NOENT, with the reason) and leaves nothing behind. A
 * writer that asks (F_GONE, under CAP_GONE) is told so with success instead, and its
 * handle stays for its CLOSE. */
START_TEST(test_commit_after_unlink)
{
    static uint8_t data[3000], old[1000];
    struct cnio_wire_info info;
    struct cnio_wire_hdr rh;
    uint8_t why[CNIO_WIRE_MAX_REASON + 1];
    struct st_conn c;
    uint64_t h;

    fx_fill(data, sizeof(data), 17);
    fx_fill(old, sizeof(old), 18);
    ck_assert_int_eq(st_connect(&st_fx, 0, &c), 0);
    {
        struct cnio_key k;

        st_key(&st_fx, &k);
        ck_assert_int_eq(st_auth_key(&c, k.bytes, k.len), 0);
        cnio__key_wipe(&k);
    }
    for (int round = 0; round < 2; round++) {   /* a new name, then one with a version */
        ck_assert_int_eq(open_at(&c, "rmw", STAGE | CNIO_WIRE_O_TRUNC, 0x77 + round, &h, NULL,
                                 NULL), 0);
        ck_assert_int_eq(st_write(&c, h, 0, data, sizeof(data)), 0);
        ck_assert_int_eq(st_unlink(&c, "rmw"), 0);
        ck_assert_int_eq(st_write(&c, h, 0, data, sizeof(data)), 0);   /* it writes on */
        ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, h, 0, NULL, 0, &rh, why, sizeof(why)),
                         -CNIO_ERR_NOENT);
        ck_assert_uint_eq(rh.flags, CNIO_WIRE_F_REASON);
        why[rh.length] = '\0';
        ck_assert_msg(strstr((char *)why, "removed"), "%s", (char *)why);
        ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
        ck_assert_int_eq(st_stat(&c, "rmw", &info), -CNIO_ERR_NOENT);   /* not incomplete */
        ck_assert_int_eq(staged_files(), 0);
        {   /* no metadata left marked COMMITTING either */
            char path[PATH_MAX + 16];

            snprintf(path, sizeof(path), "%s/.cnio/meta/rmw", st_fx.root[0]);
            ck_assert_int_ne(access(path, F_OK), 0);
        }
        /* the name is usable again */
        ck_assert_int_eq(open_at(&c, "rmw", STAGE, 0x90 + round, &h, NULL, NULL), 0);
        ck_assert_int_eq(st_write(&c, h, 0, old, sizeof(old)), 0);
        ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, h, 0, NULL, 0, NULL, NULL, 0), 0);
        ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
        read_back(&c, "rmw", old, sizeof(old));
        if (round == 0)
            ck_assert_int_eq(st_unlink(&c, "rmw"), 0);
    }
    ck_assert_uint_eq(c.ch.caps & CNIO_WIRE_CAP_GONE, CNIO_WIRE_CAP_GONE);
    for (int round = 0; round < 2; round++) {   /* F_GONE: a version, then a new name */
        ck_assert_int_eq(open_at(&c, "rmw", STAGE | CNIO_WIRE_O_TRUNC, 0xa0 + round, &h, NULL,
                                 NULL), 0);
        ck_assert_int_eq(st_write(&c, h, 0, data, sizeof(data)), 0);
        ck_assert_int_eq(st_unlink(&c, "rmw"), 0);
        c.flags = CNIO_WIRE_F_GONE;
        ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, h, 0, NULL, 0, &rh, why, sizeof(why)), 0);
        ck_assert_uint_eq(rh.flags, CNIO_WIRE_F_GONE);
        ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
        ck_assert_int_eq(st_stat(&c, "rmw", &info), -CNIO_ERR_NOENT);
        ck_assert_int_eq(staged_files(), 0);
        /* an instance that is there commits as ever under F_GONE, without the flag back */
        ck_assert_int_eq(open_at(&c, "rmw", STAGE, 0xb0 + round, &h, NULL, NULL), 0);
        ck_assert_int_eq(st_write(&c, h, 0, old, sizeof(old)), 0);
        c.flags = CNIO_WIRE_F_GONE;
        ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, h, 0, NULL, 0, &rh, NULL, 0), 0);
        ck_assert_uint_eq(rh.flags, 0);
        ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
        read_back(&c, "rmw", old, sizeof(old));
        if (round == 1)
            ck_assert_int_eq(st_unlink(&c, "rmw"), 0);
    }
    st_close(&c);
}
END_TEST

/* The same through the client on two hosts: the writer's close fails, nothing is left
 * on either host (column 0 refused the commit, the other host's instance is gone too).
 * Under cnio__obj_set_gone_ok (cnio_file_close's) the close succeeds, leaving nothing
 * either. */
START_TEST(test_client_commit_after_rm)
{
    static uint8_t data[3 * UNIT];
    struct cnio_wire_info info;
    struct cnio_hints hints;
    struct cnio_stack *stk;
    struct cnio_uri u = { 0 };
    struct cnio_obj *obj;
    struct st_conn c;

    fx_fill(data, sizeof(data), 19);
    for (int gone_ok = 0; gone_ok < 2; gone_ok++) {
        obj = staged_upload("rmc", data, sizeof(data), &stk, &u, &hints);
        cnio__obj_set_gone_ok(obj, gone_ok);
        ck_assert_int_eq(cnio__obj_unlink(stk, &u, &hints), 0);
        ck_assert_int_eq(cnio__obj_close(obj), gone_ok ? 0 : -CNIO_ERR_NOENT);
        for (int j = 0; j < 2; j++) {
            char path[PATH_MAX + 16];

            st_session(&st_fx, j, &c);
            ck_assert_int_eq(st_stat(&c, "rmc", &info), -CNIO_ERR_NOENT);
            st_close(&c);
            ck_assert_int_eq(staged_files_on(j), 0);
            snprintf(path, sizeof(path), "%s/.cnio/meta/rmc", st_fx.root[j]);
            ck_assert_msg(access(path, F_OK) != 0, "metadata left on host %d", j);
        }
        cnio__uri_free(&u);
        cnio__stack_close(stk);
    }
}
END_TEST

/* Writes and commits instance id of name on the servers in mask (bit j: column j), each
 * column UNIT bytes of fx_fill(id); column 0's handle of the instance. */
static uint64_t torn_commit_named(struct st_conn *c, const char *name, uint64_t id,
                                  unsigned mask, uint64_t order)
{
    static uint8_t data[UNIT];
    uint64_t h[2];

    fx_fill(data, sizeof(data), id);
    for (uint32_t j = 0; j < 2; j++) {
        ck_assert_int_eq(open_col(&c[j], name, STAGE | CNIO_WIRE_O_TRUNC, 2, j, id, &h[j],
                                  NULL, NULL), 0);
        ck_assert_int_eq(st_write(&c[j], h[j], 0, data, sizeof(data)), 0);
        ck_assert_int_eq(st_call(&c[j], CNIO_WIRE_SETSIZE, h[j], 2 * UNIT, NULL, 0, NULL, NULL,
                                 0), 0);
    }
    for (uint32_t j = 0; j < 2; j++)
        if (mask & (1u << j))
            ck_assert_int_eq(st_call(&c[j], CNIO_WIRE_COMMIT, h[j], order, NULL, 0, NULL, NULL,
                                     0), 0);
    return h[0];
}

static uint64_t torn_commit(struct st_conn *c, uint64_t id, unsigned mask, uint64_t order)
{
    return torn_commit_named(c, "torn", id, mask, order);
}

/*
 * A commit that reached one host but not column 0's (its writer died in between): every
 * host holds a complete-looking file, but of two generations. The client sees it as
 * incomplete, never as a mix.
 */
START_TEST(test_torn_commit)
{
    struct cnio_obj_stat os;
    int64_t t0;
    struct cnio_hints hints;
    struct cnio_stack *stk;
    struct cnio_uri u = { 0 };
    struct cnio_obj *obj;
    struct st_conn c[2];

    two_servers("torn", c, &stk, &u, &hints);
    torn_commit(c, 0x100, 3, 10);   /* a complete version on both */
    ck_assert_int_eq(cnio__obj_stat(stk, &u, &hints, &os), 0);
    ck_assert_uint_eq(os.state, 0);
    ck_assert_int_eq(cnio__obj_open(stk, &u, &hints, 0, &obj), 0);
    ck_assert_int_eq(cnio__obj_close(obj), 0);
    torn_commit(c, 0x200, 2, 20);   /* the next one reaches column 1 only */
    /* its instance still pending on column 0: a reader waits for that commit, until
     * cnio_timeout_ms */
    hints.timeout_ms = 300;
    t0 = cnio__now_ms();
    ck_assert_int_eq(cnio__obj_stat(stk, &u, &hints, &os), 0);
    ck_assert_uint_eq(os.state & CNIO_OBJ_TORN, CNIO_OBJ_TORN);
    ck_assert_int_ge(cnio__now_ms() - t0, 300);
    t0 = cnio__now_ms();
    ck_assert_int_eq(cnio__obj_open(stk, &u, &hints, 0, &obj), -CNIO_ERR_INCOMPLETE);
    ck_assert_int_ge(cnio__now_ms() - t0, 300);
    /* Its writer dies (the session holding column 0's instance closes): no commit is
     * under way any more, and a reader says so without waiting out cnio_timeout_ms. */
    st_close(&c[0]);
    st_session(&st_fx, 0, &c[0]);
    hints.timeout_ms = 30000;
    t0 = cnio__now_ms();
    ck_assert_int_eq(cnio__obj_open(stk, &u, &hints, 0, &obj), -CNIO_ERR_INCOMPLETE);
    ck_assert_int_lt(cnio__now_ms() - t0, 30000);
    t0 = cnio__now_ms();
    ck_assert_int_eq(cnio__obj_stat(stk, &u, &hints, &os), 0);
    ck_assert_uint_eq(os.state & (CNIO_OBJ_TORN | CNIO_OBJ_LIVE), CNIO_OBJ_TORN);
    ck_assert_int_lt(cnio__now_ms() - t0, 30000);
    torn_commit(c, 0x300, 3, 30);   /* copying it again repairs it, */
    ck_assert_int_eq(cnio__obj_stat(stk, &u, &hints, &os), 0);
    ck_assert_uint_eq(os.state, 0);   /* and removes 0x200, which no writer holds now */
    ck_assert_int_eq(cnio__obj_open(stk, &u, &hints, 0, &obj), 0);
    ck_assert_int_eq(cnio__obj_close(obj), 0);
    cnio__uri_free(&u);
    cnio__stack_close(stk);
    st_close(&c[0]);
    st_close(&c[1]);
}
END_TEST

struct late_commit {
    struct st_conn *c;
    uint64_t h;
    uint64_t order;     /* 0: 20 */
    int ms;             /* 0: 200 */
};

static void *commit_later(void *arg)
{
    struct late_commit *l = arg;

    usleep((useconds_t)(l->ms ? l->ms : 200) * 1000);
    ck_assert_int_eq(st_call(l->c, CNIO_WIRE_COMMIT, l->h, l->order ? l->order : 20, NULL, 0,
                             NULL, NULL, 0), 0);
    return NULL;
}

/*
 * A reader that opens while a commit is under way (it reached column 1, not yet column
 * 0) waits for it and reads the new version whole; it used to fail at once as
 * "incomplete (a commit did not reach every host)".
 */
START_TEST(test_commit_under_way)
{
    static uint8_t want[UNIT], got[2 * UNIT];
    struct late_commit l;
    struct cnio_hints hints;
    struct cnio_stack *stk;
    struct cnio_uri u = { 0 };
    struct cnio_obj *obj;
    struct st_conn c[2];
    pthread_t tid;

    two_servers("torn", c, &stk, &u, &hints);
    torn_commit(c, 0x100, 3, 10);
    l = (struct late_commit){ &c[0], torn_commit(c, 0x200, 2, 20), 20, 200 };
    ck_assert_int_eq(pthread_create(&tid, NULL, commit_later, &l), 0);
    ck_assert_int_eq(cnio__obj_open(stk, &u, &hints, 0, &obj), 0);
    ck_assert_int_eq(pthread_join(tid, NULL), 0);
    ck_assert_int_eq(cnio__obj_pread(obj, got, sizeof(got), 0), (ssize_t)sizeof(got));
    fx_fill(want, sizeof(want), 0x200);
    ck_assert_mem_eq(got, want, UNIT);
    ck_assert_mem_eq(got + UNIT, want, UNIT);
    ck_assert_int_eq(cnio__obj_close(obj), 0);
    cnio__uri_free(&u);
    cnio__stack_close(stk);
    st_close(&c[0]);
    st_close(&c[1]);
}
END_TEST

/*
 * The decision a reader's open makes when it met two generations: what the STATs after
 * it find is taken for a commit that stopped only when every host still holds the
 * generation it answered the open with. Here host 1's answer to the open (set by hand:
 * the moment cannot be caught otherwise) is a generation it no longer holds, and host 0
 * has moved on since, to a commit that reached it alone: the object moved between the
 * two looks, and the reader opens again (1), where it used to fail "incomplete" (0).
 * Opened again, the two looks agree, and it is incomplete.
 */
START_TEST(test_moved_between_looks)
{
    struct cnio_hints hints;
    struct cnio_stack *stk;
    struct cnio_uri u = { 0 };
    struct cnio_obj *obj;
    struct st_conn c[2];
    uint64_t h0;

    two_servers("torn", c, &stk, &u, &hints);
    torn_commit(c, 0x100, 3, 10);
    ck_assert_int_eq(cnio__obj_open(stk, &u, &hints, 0, &obj), 0);
    /* column 0 commits 0x200, of which column 1 has nothing */
    ck_assert_int_eq(open_col(&c[0], "torn", STAGE | CNIO_WIRE_O_TRUNC, 2, 0, 0x200, &h0,
                              NULL, NULL), 0);
    ck_assert_int_eq(st_call(&c[0], CNIO_WIRE_COMMIT, h0, 20, NULL, 0, NULL, NULL, 0), 0);
    obj->hosts[1].info.gen = 0x300;   /* what host 1 said at the open */
    ck_assert_int_eq(cnio__cl_commit_under_way(obj), 1);
    obj->hosts[1].info.gen = 0x100;   /* the two looks agree: a commit that stopped */
    obj->hosts[0].info.gen = 0x200;
    ck_assert_int_eq(cnio__cl_commit_under_way(obj), 0);
    ck_assert_int_eq(cnio__obj_close(obj), 0);
    hints.timeout_ms = 30000;
    ck_assert_int_eq(cnio__obj_open(stk, &u, &hints, 0, &obj), -CNIO_ERR_INCOMPLETE);
    cnio__uri_free(&u);
    cnio__stack_close(stk);
    st_close(&c[0]);
    st_close(&c[1]);
}
END_TEST

/* Runs `cnio ARGS` ($CNIO_BIN) with its output in st_fx.dir/out: its exit status. In
 * an AddressSanitizer build, without leak checking: cnio cp starts Open MPI, whose own
 * allocations LeakSanitizer reports at exit (the ASan list runs no test under mpirun
 * for that reason); the leaks looked for here are the server's. */
static int cli_run(const char *args)
{
    const char *bin = getenv("CNIO_BIN");
    char cmd[4096];
    int st;

    snprintf(cmd, sizeof(cmd), "ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0\" "
             "'%s' %s > '%s/out' 2>&1", bin ? bin : "cnio", args, st_fx.dir);
    st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *cli_out(void)
{
    static char buf[8192];
    char path[PATH_MAX];
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "%s/out", st_fx.dir);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/*
 * What describes or copies objects waits for a commit under way as a read-only open
 * does (test_commit_under_way): cnio__obj_stat, and so `cnio stat`; `cnio ls -l`; and
 * `cnio cp -r` down, which lists first. Each, started while a commit of d/torn had
 * reached column 1 and not yet column 0 (whose writer is live and commits 400 ms
 * later), used to say "incomplete" at once; cp -r refused the object and exited 1.
 */
START_TEST(test_readers_wait_for_commit)
{
    static uint8_t want[UNIT], got[2 * UNIT];
    struct late_commit l;
    struct cnio_obj_stat os;
    struct cnio_hints hints;
    struct cnio_stack *stk;
    struct cnio_uri u = { 0 };
    struct st_conn c[2];
    pthread_t tid;
    char uri[1024], args[2048], path[PATH_MAX];
    FILE *f;

    two_servers("d/torn", c, &stk, &u, &hints);
    torn_commit_named(c, "d/torn", 0x100, 3, 10);

    l = (struct late_commit){ &c[0], torn_commit_named(c, "d/torn", 0x200, 2, 20), 20, 400 };
    ck_assert_int_eq(pthread_create(&tid, NULL, commit_later, &l), 0);
    ck_assert_int_eq(cnio__obj_stat(stk, &u, &hints, &os), 0);
    ck_assert_uint_eq(os.state & CNIO_OBJ_INCOMPLETE, 0);
    ck_assert_uint_eq(os.size, 2 * UNIT);
    ck_assert_int_eq(pthread_join(tid, NULL), 0);

    l = (struct late_commit){ &c[0], torn_commit_named(c, "d/torn", 0x300, 2, 30), 30, 400 };
    ck_assert_int_eq(pthread_create(&tid, NULL, commit_later, &l), 0);
    snprintf(args, sizeof(args), "ls -l '%s'", fx_uri(&st_fx, "d/", NULL, uri, sizeof(uri)));
    ck_assert_int_eq(cli_run(args), 0);
    ck_assert_int_eq(pthread_join(tid, NULL), 0);
    ck_assert_msg(strstr(cli_out(), "torn") && !strstr(cli_out(), "incomplete"),
                  "cnio ls -l said: %s", cli_out());

    l = (struct late_commit){ &c[0], torn_commit_named(c, "d/torn", 0x400, 2, 40), 40, 400 };
    ck_assert_int_eq(pthread_create(&tid, NULL, commit_later, &l), 0);
    snprintf(args, sizeof(args), "cp -r -q '%s' '%s/down'",
             fx_uri(&st_fx, "d/", NULL, uri, sizeof(uri)), st_fx.dir);
    ck_assert_msg(cli_run(args) == 0, "cnio cp -r said: %s", cli_out());
    ck_assert_int_eq(pthread_join(tid, NULL), 0);
    snprintf(path, sizeof(path), "%s/down/torn", st_fx.dir);
    ck_assert_ptr_nonnull(f = fopen(path, "rb"));
    ck_assert_uint_eq(fread(got, 1, sizeof(got), f), sizeof(got));
    fclose(f);
    fx_fill(want, sizeof(want), 0x400);   /* the version committed while it waited */
    ck_assert_mem_eq(got, want, UNIT);
    ck_assert_mem_eq(got + UNIT, want, UNIT);

    cnio__uri_free(&u);
    cnio__stack_close(stk);
    st_close(&c[0]);
    st_close(&c[1]);
}
END_TEST

/*
 * A host that died between the steps of its commit (metadata says COMMITTING, the
 * rename may or may not have happened): incomplete until committed again. The state is
 * made by setting the flag in the metadata file the way step 1 leaves it.
 */
START_TEST(test_interrupted_commit)
{
    static uint8_t data[3000];
    struct cnio_wire_info info;
    char path[PATH_MAX + 32];
    struct st_conn c;
    uint8_t meta[64];
    uint64_t h;
    int fd;

    fx_fill(data, sizeof(data), 9);
    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(open_at(&c, "ic", STAGE, 31, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, h, 0, data, sizeof(data)), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, h, 1, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    snprintf(path, sizeof(path), "%s/.cnio/meta/ic", st_fx.root[0]);
    fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, meta, sizeof(meta), 0), (ssize_t)sizeof(meta));
    cnio__put_le32(meta + 28, cnio__get_le32(meta + 28) | 0x2);   /* COMMITTING */
    cnio__put_le32(meta + 60, cnio__crc32c(0, meta, 60));
    ck_assert_int_eq(pwrite(fd, meta, sizeof(meta), 0), (ssize_t)sizeof(meta));
    close(fd);
    ck_assert_int_eq(st_stat(&c, "ic", &info), 0);
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_COMMITTING, CNIO_WIRE_I_COMMITTING);
    ck_assert_int_eq(open_at(&c, "ic", 0, 0, NULL, NULL, NULL), -CNIO_ERR_INCOMPLETE);
    ck_assert_int_eq(open_at(&c, "ic", STAGE | CNIO_WIRE_O_TRUNC, 32, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, h, 0, data, sizeof(data)), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_stat(&c, "ic", &info), 0);   /* (an earlier order wins over it) */
    ck_assert_uint_eq(info.flags, 0);
    read_back(&c, "ic", data, sizeof(data));
    st_close(&c);
}
END_TEST

/*
 * A host that died in the commit of a new name after writing the object's metadata
 * (final, as step 1 writes it for a name with no data file) and before the rename: the
 * name still reads as the staged instance it is (incomplete), a read-only OPEN is
 * refused, and that metadata never wins over a later commit, even one with a lower
 * order (as a COMMITTING one). The state is made by hand: an instance its writer left,
 * and the metadata file step 1 writes, with an order above any the test uses.
 */
START_TEST(test_interrupted_new_commit)
{
    static uint8_t data[3000], later[2000];
    struct cnio_wire_info info;
    char path[PATH_MAX + 32];
    struct st_conn c;
    uint8_t meta[64] = "CNIOMETA";
    uint64_t h;
    int fd;

    fx_fill(data, sizeof(data), 21);
    fx_fill(later, sizeof(later), 22);
    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(open_at(&c, "inc", STAGE, 41, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, h, 0, data, sizeof(data)), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_SETSIZE, h, sizeof(data), NULL, 0, NULL, NULL, 0), 0);
    st_close(&c);   /* the instance stays: the host "died" before its rename */
    cnio__put_le32(meta + 8, 1);                 /* version */
    cnio__put_le32(meta + 12, 1);                /* stripe count */
    cnio__put_le64(meta + 16, UNIT);
    cnio__put_le64(meta + 32, sizeof(data));     /* size; index 0, flags 0 */
    cnio__put_le64(meta + 40, 41);               /* generation: the instance */
    cnio__put_le64(meta + 48, 1ull << 61);       /* its order */
    cnio__put_le32(meta + 60, cnio__crc32c(0, meta, 60));
    snprintf(path, sizeof(path), "%s/.cnio/meta/inc", st_fx.root[0]);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, meta, sizeof(meta), 0), (ssize_t)sizeof(meta));
    close(fd);
    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(st_stat(&c, "inc", &info), 0);
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_STAGED, CNIO_WIRE_I_STAGED);
    ck_assert_int_eq(open_at(&c, "inc", 0, 0, NULL, NULL, NULL), -CNIO_ERR_INCOMPLETE);
    /* a new upload with a lower order than that metadata's wins */
    ck_assert_int_eq(open_at(&c, "inc", STAGE | CNIO_WIRE_O_TRUNC, 42, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, h, 0, later, sizeof(later)), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_SETSIZE, h, sizeof(later), NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, h, 5, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_stat(&c, "inc", &info), 0);
    ck_assert_uint_eq(info.flags & 0xffffu, 0);   /* complete, the interrupted one gone */
    ck_assert_uint_eq(info.gen, 42);
    ck_assert_uint_eq(info.size, sizeof(later));
    read_back(&c, "inc", later, sizeof(later));
    ck_assert_int_eq(staged_files(), 0);
    st_close(&c);
}
END_TEST

/* STAT by handle (how a client's MPI_File_get_size and a read's end are found), the
 * size recorded now when another handle set it in place since (another job's
 * MPI_File_set_size): the size as at open read as zeros past the object's end. A handle
 * whose object was replaced by a commit keeps its own version's size. */
static int stat_handle(struct st_conn *c, uint64_t h, const char *name,
                       struct cnio_wire_info *info)
{
    uint8_t pl[CNIO_WIRE_OPEN_FIXED + 64], rb[CNIO_WIRE_INFO_SIZE];
    struct cnio_wire_open o = { .name = name, .name_len = (uint32_t)strlen(name) };
    struct cnio_wire_hdr rh;
    int len = cnio__wire_open_encode(&o, pl, sizeof(pl)), ret;

    ck_assert_int_gt(len, 0);
    ret = st_call(c, CNIO_WIRE_STAT, h, 0, pl, (uint32_t)len, &rh, rb, sizeof(rb));
    if (!ret)
        ck_assert_int_eq(cnio__wire_info_parse(rb, rh.length, info), 0);
    return ret;
}

/* SETATTR of handle h (header object) naming name: mode, mtime (ns). */
static int setattr_handle(struct st_conn *c, uint64_t h, const char *name, uint32_t mode,
                          int64_t mtime_ns)
{
    uint8_t p[CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME];
    struct cnio_wire_open o = { .stripe_unit = mode, .name_len = (uint32_t)strlen(name),
                                .name = name };
    int n = cnio__wire_open_encode(&o, p, sizeof(p)), ret;

    ck_assert_int_gt(n, 0);
    c->flags = CNIO_WIRE_F_MTIME;
    ret = st_call(c, CNIO_WIRE_SETATTR, h, (uint64_t)mtime_ns, p, (uint32_t)n, NULL, NULL, 0);
    c->flags = 0;
    return ret;
}

/*
 * SETATTR of a staged handle (CNIO_WIRE_CAP_SETATTR_STAGED): the mode and mtime are the
 * instance's, and its COMMIT makes them the object's with its bytes, at once. A tree
 * upload set a symlink's mode by name after the commit, and a reader in between took
 * the link for a plain object (a download made it a regular file holding the target).
 */
START_TEST(test_setattr_staged)
{
    const int64_t mtime = 1234567890123456789LL;
    struct cnio_wire_info info;
    struct st_conn c;
    uint64_t h, hr;

    st_session(&st_fx, 0, &c);
    ck_assert_uint_ne(c.ch.caps & CNIO_WIRE_CAP_SETATTR_STAGED, 0);
    ck_assert_int_eq(open_at(&c, "sa/link", STAGE | CNIO_WIRE_O_TRUNC, 0x6161, &h, NULL, NULL),
                     0);
    ck_assert_int_eq(st_write(&c, h, 0, "target", 6), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_SETSIZE, h, 6, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(setattr_handle(&c, h, "sa/other", 0120777, mtime), -CNIO_ERR_INVAL);
    ck_assert_int_eq(setattr_handle(&c, h, "sa/link", 0120777, mtime), 0);
    ck_assert_int_eq(st_stat(&c, "sa/link", &info), 0);   /* staged: not the object yet */
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_STAGED, CNIO_WIRE_I_STAGED);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_stat(&c, "sa/link", &info), 0);   /* the commit's own result */
    ck_assert_uint_eq(info.flags >> CNIO_WIRE_I_MODE_SHIFT, 0120777);
    ck_assert_int_eq(info.mtime_ns, mtime);
    ck_assert_uint_eq(info.size, 6);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    /* a handle that writes no staged instance is refused, and changes nothing */
    ck_assert_int_eq(open_at(&c, "sa/link", 0, 0, &hr, NULL, NULL), 0);
    ck_assert_int_eq(setattr_handle(&c, hr, "sa/link", 0100644, 0), -CNIO_ERR_ACCESS);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, hr, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(open_at(&c, "sa/link", W, 0, &hr, NULL, NULL), 0);
    ck_assert_int_eq(setattr_handle(&c, hr, "sa/link", 0100644, 0), -CNIO_ERR_INVAL);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, hr, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_stat(&c, "sa/link", &info), 0);
    ck_assert_uint_eq(info.flags >> CNIO_WIRE_I_MODE_SHIFT, 0120777);
    st_close(&c);
}
END_TEST

struct replacer2 {
    struct st_conn *c;
    int rounds;
    _Atomic int done;
};

/* Replaces "torn" over and over, column 0 then column 1 at once, as a writer does. */
static void *replace_both(void *arg)
{
    struct replacer2 *r = arg;

    static uint8_t data[UNIT];

    for (int i = 0; i < r->rounds; i++) {
        uint64_t id = 0x1000 + (uint64_t)i, h[2];

        fx_fill(data, sizeof(data), id);
        for (uint32_t j = 0; j < 2; j++) {
            ck_assert_int_eq(open_col(&r->c[j], "torn", STAGE | CNIO_WIRE_O_TRUNC, 2, j, id,
                                      &h[j], NULL, NULL), 0);
            ck_assert_int_eq(st_write(&r->c[j], h[j], 0, data, 4096), 0);
        }
        for (uint32_t j = 0; j < 2; j++)
            ck_assert_int_eq(st_call(&r->c[j], CNIO_WIRE_COMMIT, h[j], 100 + (uint64_t)i, NULL,
                                     0, NULL, NULL, 0), 0);
        for (uint32_t j = 0; j < 2; j++)
            ck_assert_int_eq(st_call(&r->c[j], CNIO_WIRE_CLOSE, h[j], 0, NULL, 0, NULL, NULL,
                                     0), 0);
    }
    atomic_store(&r->done, 1);
    return NULL;
}

/*
 * A reader beside a writer replacing the object over and over opens it, and stats it
 * complete, every time. Its open meets two generations at times, and the STATs that
 * look again may find the commit ended, or (each host answering at its own moment)
 * another two generations, on either side of the writer's next commit: it opens again.
 * It took the first, then the second, for a commit that stopped and failed
 * "incomplete"; a stat called the object torn the same way.
 */
START_TEST(test_reader_beside_replacements)
{
    struct cnio_obj_stat os;
    struct replacer2 r;
    struct cnio_hints hints;
    struct cnio_stack *stk;
    struct cnio_uri u = { 0 };
    struct cnio_obj *obj;
    struct st_conn c[2];
    pthread_t tid;
    int opens = 0;

    two_servers("torn", c, &stk, &u, &hints);
    torn_commit(c, 0x100, 3, 10);
    r = (struct replacer2){ c, 400, 0 };
    ck_assert_int_eq(pthread_create(&tid, NULL, replace_both, &r), 0);
    while (!atomic_load(&r.done)) {
        ck_assert_int_eq(cnio__obj_open(stk, &u, &hints, 0, &obj), 0);
        ck_assert_int_eq(cnio__obj_close(obj), 0);
        ck_assert_int_eq(cnio__obj_stat(stk, &u, &hints, &os), 0);
        ck_assert_uint_eq(os.state & CNIO_OBJ_INCOMPLETE, 0);
        opens++;
    }
    ck_assert_int_eq(pthread_join(tid, NULL), 0);
    fprintf(stderr, "reader: %d opens and stats beside 400 replacements\n", opens);
    cnio__uri_free(&u);
    cnio__stack_close(stk);
    st_close(&c[0]);
    st_close(&c[1]);
}
END_TEST

START_TEST(test_stat_handle_size)
{
    static uint8_t data[3000];
    struct cnio_wire_info info;
    struct st_conn c, c2;
    uint64_t hw, hr;

    fx_fill(data, sizeof(data), 23);
    st_session(&st_fx, 0, &c);
    st_session(&st_fx, 0, &c2);
    ck_assert_int_eq(open_at(&c, "shr", CNIO_WIRE_O_CREATE | W, 0, &hw, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, hw, 0, data, sizeof(data)), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_SETSIZE, hw, 3000, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, hw, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(open_at(&c2, "shr", 0, 0, &hr, &info, NULL), 0);   /* the reader */
    ck_assert_uint_eq(info.size, 3000);
    /* another writer shrinks it in place */
    ck_assert_int_eq(open_at(&c, "shr", W, 0, &hw, NULL, NULL), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_SETSIZE, hw, 1000, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, hw, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(stat_handle(&c2, hr, "shr", &info), 0);
    ck_assert_uint_eq(info.size, 1000);
    ck_assert_uint_eq(info.local_size, 1000);
    /* a new version replaces it: the reader's handle keeps its own */
    ck_assert_int_eq(open_at(&c, "shr", STAGE | CNIO_WIRE_O_TRUNC, 0x5151, &hw, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, hw, 0, data, 500), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_SETSIZE, hw, 500, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, hw, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, hw, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(stat_handle(&c2, hr, "shr", &info), 0);
    ck_assert_uint_eq(info.size, 1000);
    ck_assert_int_eq(st_call(&c2, CNIO_WIRE_CLOSE, hr, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_unlink(&c, "shr"), 0);
    st_close(&c);
    st_close(&c2);
}
END_TEST

/* Server 0's metadata flags of name (CNIO_SRV_META_*; store.h): SIZED is 0x4. */
static uint32_t meta_flags(const char *name)
{
    uint8_t meta[64];

    st_meta_head(name, meta, NULL);
    return cnio__get_le32(meta + 28);
}

/*
 * SETSIZE with F_RECORD (what an MPI-IO close sends, CAP_RECORD): it records the size if
 * it is larger, never shrinks, grows the data file without allocating; the commit then,
 * and the last clean close of writers in place, vouch for the file's length (SIZED), so a
 * file grown behind the server's back is refused. Before, an object MPI-IO made (its
 * size never set) or wrote in place carried no such mark, and read grown, exit 0.
 */
START_TEST(test_setsize_record)
{
    static uint8_t data[3500], got[5000];
    char path[PATH_MAX + 32];
    struct cnio_wire_info info;
    struct cnio_wire_hdr rh;
    uint8_t rb[CNIO_WIRE_INFO_SIZE];
    struct st_conn c;
    struct stat sb;
    uint64_t h;

    fx_fill(data, sizeof(data), 61);
    st_session(&st_fx, 0, &c);
    ck_assert_uint_ne(c.ch.caps & CNIO_WIRE_CAP_RECORD, 0);
    /* an upload whose size was never set: no mark */
    ck_assert_int_eq(open_at(&c, "rec0", STAGE, 50, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, h, 0, data, 3000), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_uint_eq(meta_flags("rec0") & 0x4, 0);
    /* one whose size the close recorded, grow only */
    ck_assert_int_eq(open_at(&c, "rec", STAGE, 51, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, h, 0, data, 3000), 0);
    c.flags = CNIO_WIRE_F_RECORD;
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_SETSIZE, h, 3000, NULL, 0, &rh, rb, sizeof(rb)), 0);
    ck_assert_int_eq(cnio__wire_info_parse(rb, rh.length, &info), 0);
    ck_assert_uint_eq(info.size, 3000);
    c.flags = CNIO_WIRE_F_RECORD;
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_SETSIZE, h, 1000, NULL, 0, &rh, rb, sizeof(rb)), 0);
    ck_assert_int_eq(cnio__wire_info_parse(rb, rh.length, &info), 0);
    ck_assert_uint_eq(info.size, 3000);
    ck_assert_uint_eq(info.local_size, 3000);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_uint_eq(meta_flags("rec") & 0x4, 0x4);
    /* written in place past its end: the mark goes, and the clean close cannot vouch */
    ck_assert_int_eq(open_at(&c, "rec", W, 0, &h, NULL, NULL), 0);
    ck_assert_uint_eq(meta_flags("rec") & 0x4, 0);
    ck_assert_int_eq(st_write(&c, h, 3000, data + 3000, 500), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_uint_eq(meta_flags("rec") & 0x4, 0);
    /* a writer in place whose close records a larger size: the file grows by a hole, no
     * storage allocated, and the clean close vouches for it again */
    ck_assert_int_eq(open_at(&c, "rec", W, 0, &h, NULL, NULL), 0);
    c.flags = CNIO_WIRE_F_RECORD;
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_SETSIZE, h, 5000, NULL, 0, NULL, NULL, 0), 0);
    snprintf(path, sizeof(path), "%s/rec", st_fx.root[0]);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_size, 5000);
    ck_assert_int_lt(sb.st_blocks * 512, 5000);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_uint_eq(meta_flags("rec") & 0x4, 0x4);
    memcpy(got, data, sizeof(data));
    memset(got + sizeof(data), 0, sizeof(got) - sizeof(data));
    read_back(&c, "rec", got, sizeof(got));
    /* grown behind the server's back: refused, where it read 5001 bytes before */
    ck_assert_int_eq(truncate(path, 5001), 0);
    ck_assert_int_eq(open_at(&c, "rec", 0, 0, &h, NULL, NULL), -CNIO_ERR_IO);
    ck_assert_int_eq(st_stat(&c, "rec", &info), -CNIO_ERR_IO);
    ck_assert_int_eq(st_unlink(&c, "rec"), 0);
    ck_assert_int_eq(st_unlink(&c, "rec0"), 0);
    st_close(&c);
}
END_TEST

static Suite *commit_suite(void)
{
    Suite *s = suite_create("server_commit");
    TCase *tc = tcase_create("commit");

    tcase_add_checked_fixture(tc, st_setup, st_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_stage_commit);
    tcase_add_test(tc, test_stage_abort_keeps_old);
    tcase_add_test(tc, test_commit_order);
    tcase_add_test(tc, test_server_order);
    tcase_add_test(tc, test_commit_after_unlink);
    tcase_add_test(tc, test_client_commit_after_rm);
    tcase_add_test(tc, test_interrupted_commit);
    tcase_add_test(tc, test_torn_commit);
    tcase_add_test(tc, test_old_client_form);
    tcase_add_test(tc, test_commit_under_way);
    tcase_add_test(tc, test_moved_between_looks);
    tcase_add_test(tc, test_readers_wait_for_commit);
    tcase_add_test(tc, test_interrupted_new_commit);
    tcase_add_test(tc, test_stat_handle_size);
    tcase_add_test(tc, test_setattr_staged);
    tcase_add_test(tc, test_reader_beside_replacements);
    tcase_add_test(tc, test_setsize_record);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_run(commit_suite());
}
