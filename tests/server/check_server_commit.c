/*
 * check_server_commit.c - cnio-server's commit semantics over raw frames: staged
 * instances (OPEN with O_STAGE), COMMIT and its order, ABORT, resume, CRC and its
 * bounds, the dirty mark of in-place writers, and how STAT / OPEN / UNLINK treat each.
 */
#include "srvtest.h"
#include "client.h"
#include "client_int.h"
#include "stack.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define W CNIO_WIRE_O_WRITE
#define STAGE (CNIO_WIRE_O_CREATE | CNIO_WIRE_O_WRITE | CNIO_WIRE_O_STAGE)
#define UNIT 65536

/* OPEN of column index of count with header offset off: status; *handle, *info and the
 * reply's offset. */
static int open_col(struct st_conn *c, const char *name, uint32_t flags, uint32_t count,
                    uint32_t index, uint64_t off, uint64_t *handle, struct cnio_wire_info *info,
                    uint64_t *roff)
{
    uint8_t p[CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME], buf[CNIO_WIRE_INFO_SIZE];
    struct cnio_wire_open o = { .flags = flags, .stripe_count = count, .stripe_unit = UNIT,
                                .stripe_index = index, .name_len = (uint32_t)strlen(name),
                                .name = name };
    struct cnio_wire_info tmp;
    struct cnio_wire_hdr rh;
    int n = cnio__wire_open_encode(&o, p, sizeof(p)), ret;

    ck_assert_int_gt(n, 0);
    ret = st_call(c, CNIO_WIRE_OPEN, 0, off, p, (uint32_t)n, &rh, buf, sizeof(buf));
    if (ret)
        return ret;
    ck_assert_int_eq(cnio__wire_info_parse(buf, rh.length, info ? info : &tmp), 0);
    if (handle)
        *handle = rh.object;
    if (roff)
        *roff = rh.offset;
    return 0;
}

static int open_at(struct st_conn *c, const char *name, uint32_t flags, uint64_t off,
                   uint64_t *handle, struct cnio_wire_info *info, uint64_t *roff)
{
    return open_col(c, name, flags, 1, 0, off, handle, info, roff);
}

static int crc_of(struct st_conn *c, uint64_t h, uint64_t off, uint64_t len,
                  struct cnio_wire_crc *cr)
{
    uint8_t p[8], buf[CNIO_WIRE_CRC_SIZE];
    struct cnio_wire_hdr rh;
    int ret;

    cnio__wire_u64_encode(len, p, sizeof(p));
    ret = st_call(c, CNIO_WIRE_CRC, h, off, p, 8, &rh, buf, sizeof(buf));
    if (ret)
        return ret;
    ck_assert_int_eq(cnio__wire_crc_parse(buf, rh.length, cr), 0);
    return 0;
}

static int unlink_id(struct st_conn *c, const char *name, uint64_t id)
{
    uint8_t p[CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME];
    struct cnio_wire_open o = { .name_len = (uint32_t)strlen(name), .name = name };
    int n = cnio__wire_open_encode(&o, p, sizeof(p));

    return st_call(c, CNIO_WIRE_UNLINK, 0, id, p, (uint32_t)n, NULL, NULL, 0);
}

/* Staged instances (data files) in server j's stage directory; the block sums and
 * metadata files there (an instance's ID.meta is written only when it matters, see
 * src/server/stage_idx.c) must each have their instance's data file. */
static int staged_files_on(int j)
{
    char path[PATH_MAX + 16];
    struct dirent *de;
    int n = 0;
    DIR *d;

    snprintf(path, sizeof(path), "%s/.cnio/stage", st_fx.root[j]);
    d = opendir(path);
    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);

        if ((len > 5 && !strcmp(de->d_name + len - 5, ".sums")) ||
            (len > 5 && !strcmp(de->d_name + len - 5, ".meta"))) {
            /* block sums and metadata go with their instance: never left behind by it */
            char data[PATH_MAX + 300];

            snprintf(data, sizeof(data), "%s/%.*s", path, (int)(len - 5), de->d_name);
            ck_assert_msg(access(data, F_OK) == 0, "%s left behind", de->d_name);
            continue;
        }
        n += de->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

static int staged_files(void)
{
    return staged_files_on(0);
}

/* Waits (bounded) until the server has released handle h, which a connection that
 * closed owned: a CRC by it is then -CNIO_ERR_NOENT. */
static void wait_released(struct st_conn *c, uint64_t h)
{
    struct cnio_wire_crc cr;
    int ret = 0;

    for (int i = 0; i < 1000; i++) {
        ret = crc_of(c, h, 0, 1, &cr);
        if (ret == -CNIO_ERR_NOENT)
            break;
        usleep(10000);
    }
    ck_assert_int_eq(ret, -CNIO_ERR_NOENT);
}

static void read_back(struct st_conn *c, const char *name, const void *want, uint32_t len)
{
    uint8_t *buf = malloc(len + 1);
    uint32_t got = 0;
    uint64_t h;

    ck_assert_int_eq(open_at(c, name, 0, 0, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_read(c, h, 0, buf, len + 1, &got), 0);
    ck_assert_uint_eq(got, len);
    ck_assert_int_eq(memcmp(buf, want, len), 0);
    ck_assert_int_eq(st_call(c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    free(buf);
}

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
    st_close(&c);
}
END_TEST

/* The size recorded in staged instance id's metadata file on server 0. */
static uint64_t staged_meta_size(uint64_t id)
{
    char path[PATH_MAX + 64];
    uint8_t meta[64];
    int fd;

    snprintf(path, sizeof(path), "%s/.cnio/stage/%016llx.meta", st_fx.root[0],
             (unsigned long long)id);
    fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, meta, sizeof(meta), 0), (ssize_t)sizeof(meta));
    close(fd);
    return cnio__get_le64(meta + 32);
}

/*
 * The size a SETSIZE gives a staged instance: STAT and a resuming OPEN see it at once;
 * it is in the instance's metadata file (what a restarted server reads) once its
 * writer asked for SYNC, and once the writer went without committing (a client that
 * died), whichever way the handle went.
 */
START_TEST(test_stage_size_kept)
{
    static uint8_t data[5000];
    struct cnio_wire_info info;
    struct st_conn c;
    uint64_t h, roff;

    fx_fill(data, sizeof(data), 4);
    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(open_at(&c, "sz/a", STAGE, 0x51, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, h, 0, data, sizeof(data)), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_SETSIZE, h, 4321, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_stat(&c, "sz/a", &info), 0);
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_STAGED, CNIO_WIRE_I_STAGED);
    ck_assert_uint_eq(info.size, 4321);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_SYNC, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_uint_eq(staged_meta_size(0x51), 4321);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_SETSIZE, h, 777, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_uint_eq(staged_meta_size(0x51), 777);   /* closed uncommitted */
    /* a handle released with its connection */
    ck_assert_int_eq(open_at(&c, "sz/b", STAGE, 0x52, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_SETSIZE, h, 99, NULL, 0, NULL, NULL, 0), 0);
    st_close(&c);
    st_session(&st_fx, 0, &c);
    for (int i = 0; i < 500 && staged_meta_size(0x52) != 99; i++)
        usleep(10000);   /* the server notices the close when it next polls */
    ck_assert_uint_eq(staged_meta_size(0x52), 99);
    ck_assert_int_eq(open_at(&c, "sz/b", STAGE | CNIO_WIRE_O_RESUME, 0, &h, &info, &roff), 0);
    ck_assert_uint_eq(roff, 0x52);
    ck_assert_uint_eq(info.size, 99);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_SETSIZE, h, 5, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, h, 1, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_stat(&c, "sz/b", &info), 0);
    ck_assert_uint_eq(info.flags, 0);
    ck_assert_uint_eq(info.size, 5);
    ck_assert_int_eq(st_unlink(&c, "sz/a"), 0);
    ck_assert_int_eq(staged_files(), 0);   /* the commit left no ID.meta behind */
    st_close(&c);
}
END_TEST

/*
 * A server killed (SIGKILL) while two uploads are staged and restarted on its root: the
 * one that wrote past 1 MiB (CNIO_SRV_STAGE_LAZY) has its metadata on disk and resumes,
 * byte for byte; the small one, whose metadata lived only in the server's memory, is
 * gone without a trace (no instance, no files), as if it had never started.
 */
START_TEST(test_stage_crash_small_and_long)
{
    enum { MIB = 1 << 20 };
    static uint8_t data[2 * MIB];
    struct cnio_wire_info info;
    struct cnio_wire_crc cr;
    struct st_conn c;
    uint64_t h, roff;

    fx_fill(data, sizeof(data), 13);
    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(open_at(&c, "lz/small", STAGE, 0x61, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, h, 0, data, 10), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_SETSIZE, h, 10, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_stat(&c, "lz/small", &info), 0);
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_STAGED, CNIO_WIRE_I_STAGED);
    ck_assert_uint_eq(info.size, 10);
    ck_assert_int_eq(open_at(&c, "lz/long", STAGE, 0x62, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, h, 0, data, MIB), 0);
    ck_assert_int_eq(st_write(&c, h, MIB, data + MIB, MIB), 0);
    ck_assert_int_eq(staged_files(), 2);
    ck_assert_int_ne(fx_kill(&st_fx, 0, SIGKILL), -1);
    st_close(&c);
    ck_assert_int_eq(fx_restart(&st_fx, 0, NULL), 0);
    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(st_stat(&c, "lz/small", &info), -CNIO_ERR_NOENT);
    ck_assert_int_eq(staged_files(), 1);
    ck_assert_int_eq(st_stat(&c, "lz/long", &info), 0);
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_STAGED, CNIO_WIRE_I_STAGED);
    ck_assert_int_eq(open_at(&c, "lz/long", STAGE | CNIO_WIRE_O_RESUME, 0, &h, NULL, &roff), 0);
    ck_assert_uint_eq(roff, 0x62);
    ck_assert_int_eq(crc_of(&c, h, 0, sizeof(data), &cr), 0);
    ck_assert_uint_eq(cr.covered, sizeof(data));
    ck_assert_uint_eq(cr.crc, cnio__crc32c(0, data, sizeof(data)));
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_SETSIZE, h, sizeof(data), NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, h, 1, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    read_back(&c, "lz/long", data, sizeof(data));
    ck_assert_int_eq(staged_files(), 0);
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
 * the writer's commit then fails (NOENT, with the reason) and leaves nothing behind. */
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
    c.reasons = 1;
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
    st_close(&c);
}
END_TEST

/*
 * On two fresh servers, opens NAME through the client for a staged (truncating) upload
 * with UNIT stripes and writes DATA from offset 0; the caller closes or aborts it, and
 * owns *stk and *u.
 */
static struct cnio_obj *staged_upload(const char *name, const uint8_t *data, size_t len,
                                      struct cnio_stack **stk, struct cnio_uri *u,
                                      struct cnio_hints *hints)
{
    struct cnio_obj *obj;
    char uri[1024];

    fx_stop(&st_fx);
    ck_assert_int_eq(fx_start(&st_fx, 2, NULL), 0);
    ck_assert_int_eq(cnio__stack_open(stk), 0);
    ck_assert_int_eq(cnio__uri_parse(fx_uri(&st_fx, name, NULL, uri, sizeof(uri)), u), 0);
    ck_assert_int_eq(cnio__hints_resolve(hints, u), 0);
    hints->striping_unit = UNIT;
    ck_assert_int_eq(cnio__obj_open(*stk, u, hints, STAGE | CNIO_WIRE_O_TRUNC, &obj), 0);
    ck_assert_int_eq(cnio__obj_pwrite(obj, data, len, 0), (ssize_t)len);
    return obj;
}

/* The same through the client on two hosts: the writer's close fails, nothing is left
 * on either host (column 0 refused the commit, the other host's instance is gone too). */
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
    obj = staged_upload("rmc", data, sizeof(data), &stk, &u, &hints);
    ck_assert_int_eq(cnio__obj_unlink(stk, &u, &hints), 0);
    ck_assert_int_eq(cnio__obj_close(obj), -CNIO_ERR_NOENT);
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
END_TEST

START_TEST(test_resume_and_crc)
{
    static uint8_t data[300000];
    struct cnio_wire_info info;
    struct cnio_wire_crc cr;
    struct st_conn c;
    uint64_t h, roff;
    uint8_t p[8];

    fx_fill(data, sizeof(data), 6);
    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(open_at(&c, "r/x", STAGE, 0xabc, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, h, 0, data, sizeof(data)), 0);
    st_close(&c);   /* the writer goes away without committing */
    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(st_stat(&c, "r/x", &info), 0);
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_STAGED, CNIO_WIRE_I_STAGED);
    ck_assert_int_eq(open_at(&c, "r/x", STAGE | CNIO_WIRE_O_RESUME, 0, &h, &info, &roff), 0);
    ck_assert_uint_eq(roff, 0xabc);
    ck_assert_uint_eq(info.local_size, sizeof(data));
    ck_assert_int_eq(crc_of(&c, h, 1000, 100000, &cr), 0);
    ck_assert_uint_eq(cr.covered, 100000);
    ck_assert_uint_eq(cr.crc, cnio__crc32c(0, data + 1000, 100000));
    ck_assert_int_eq(crc_of(&c, h, sizeof(data) - 10, 100, &cr), 0);   /* at the end */
    ck_assert_uint_eq(cr.covered, 10);
    ck_assert_uint_eq(cr.crc, cnio__crc32c(0, data + sizeof(data) - 10, 10));
    ck_assert_int_eq(crc_of(&c, h, 1ull << 62, 1, &cr), -CNIO_ERR_OVERFLOW);
    ck_assert_int_eq(crc_of(&c, h + 1, 0, 1, &cr), -CNIO_ERR_NOENT);
    ck_assert_int_eq(open_at(&c, "r/y", STAGE | CNIO_WIRE_O_RESUME, 0, NULL, NULL, NULL),
                     -CNIO_ERR_NOENT);
    ck_assert_int_eq(open_at(&c, "r/x", STAGE | CNIO_WIRE_O_RESUME, 0xabd, NULL, NULL, NULL),
                     -CNIO_ERR_NOENT);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, h, 1, NULL, 0, NULL, NULL, 0), 0);
    read_back(&c, "r/x", data, sizeof(data));
    /* a CRC of more than 16 MiB is malformed: the connection is closed */
    cnio__wire_u64_encode((uint64_t)CNIO_WIRE_MAX_PAYLOAD + 1, p, sizeof(p));
    {
        struct cnio_wire_hdr hd = { .type = CNIO_WIRE_CRC, .reqid = 99, .session = c.session,
                                    .object = h };

        ck_assert_int_eq(st_send(c.fd, &hd, p, 8), 0);
        ck_assert_int_eq(st_closed(c.fd, ST_TIMEOUT_MS), 1);
    }
    st_close(&c);
}
END_TEST

START_TEST(test_stage_errors_and_unlink)
{
    struct cnio_wire_info info;
    struct st_conn c;
    uint64_t h;

    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(open_at(&c, "e", CNIO_WIRE_O_CREATE | CNIO_WIRE_O_STAGE, 5, NULL, NULL,
                             NULL), -CNIO_ERR_AMODE);
    ck_assert_int_eq(open_at(&c, "e", STAGE, 0, NULL, NULL, NULL), -CNIO_ERR_INVAL);
    ck_assert_int_eq(open_at(&c, "e", STAGE, 5, &h, NULL, NULL), 0);
    ck_assert_int_eq(open_at(&c, "e", STAGE | CNIO_WIRE_O_TRUNC, 5, NULL, NULL, NULL),
                     -CNIO_ERR_EXIST);   /* instance ids are unique */
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_unlink(&c, "e"), 0);
    ck_assert_int_eq(st_stat(&c, "e", &info), -CNIO_ERR_NOENT);
    ck_assert_int_eq(staged_files(), 0);
    ck_assert_int_eq(st_unlink(&c, "e"), -CNIO_ERR_NOENT);
    /* UNLINK with an instance id: that instance only, and only under its own name */
    ck_assert_int_eq(open_at(&c, "e", STAGE, 41, &h, NULL, NULL), 0);
    ck_assert_int_eq(unlink_id(&c, "f", 41), -CNIO_ERR_NOENT);
    ck_assert_int_eq(unlink_id(&c, "e", 42), -CNIO_ERR_NOENT);
    ck_assert_int_eq(staged_files(), 1);
    ck_assert_int_eq(unlink_id(&c, "e", 41), 0);
    ck_assert_int_eq(staged_files(), 0);
    st_close(&c);
}
END_TEST

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
    st_close(&c2);
}
END_TEST

/* A commit removes the instances of its name that no writer holds any more. */
START_TEST(test_commit_prunes_stale)
{
    static uint8_t data[1000];
    struct cnio_wire_info info;
    struct st_conn c;
    uint64_t h;

    fx_fill(data, sizeof(data), 8);
    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(open_at(&c, "p", STAGE, 21, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, h, 0, data, 10), 0);
    st_close(&c);   /* an interrupted upload */
    st_session(&st_fx, 0, &c);
    wait_released(&c, h);   /* until then its writer counts as live: its instance stays */
    ck_assert_int_eq(open_at(&c, "p", STAGE | CNIO_WIRE_O_TRUNC, 22, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, h, 0, data, sizeof(data)), 0);
    ck_assert_int_eq(staged_files(), 2);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, h, 1, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(staged_files(), 0);
    ck_assert_int_eq(st_stat(&c, "p", &info), 0);
    ck_assert_uint_eq(info.flags, 0);
    read_back(&c, "p", data, sizeof(data));
    st_close(&c);
}
END_TEST

/* Writes and commits instance id of "torn" on the servers in mask (bit j: column j). */
static void torn_commit(struct st_conn *c, uint64_t id, unsigned mask, uint64_t order)
{
    static uint8_t data[UNIT];
    uint64_t h[2];

    fx_fill(data, sizeof(data), id);
    for (uint32_t j = 0; j < 2; j++) {
        ck_assert_int_eq(open_col(&c[j], "torn", STAGE | CNIO_WIRE_O_TRUNC, 2, j, id, &h[j],
                                  NULL, NULL), 0);
        ck_assert_int_eq(st_write(&c[j], h[j], 0, data, sizeof(data)), 0);
        ck_assert_int_eq(st_call(&c[j], CNIO_WIRE_SETSIZE, h[j], 2 * UNIT, NULL, 0, NULL, NULL,
                                 0), 0);
    }
    for (uint32_t j = 0; j < 2; j++)
        if (mask & (1u << j))
            ck_assert_int_eq(st_call(&c[j], CNIO_WIRE_COMMIT, h[j], order, NULL, 0, NULL, NULL,
                                     0), 0);
}

/*
 * A commit that reached one host but not column 0's (its writer died in between): every
 * host holds a complete-looking file, but of two generations. The client sees it as
 * incomplete, never as a mix.
 */
START_TEST(test_torn_commit)
{
    struct cnio_obj_stat os;
    struct cnio_hints hints;
    struct cnio_stack *stk;
    struct cnio_uri u = { 0 };
    struct cnio_obj *obj;
    struct st_conn c[2];
    char uri[1024];

    fx_stop(&st_fx);
    ck_assert_int_eq(fx_start(&st_fx, 2, NULL), 0);
    st_session(&st_fx, 0, &c[0]);
    st_session(&st_fx, 1, &c[1]);
    ck_assert_int_eq(cnio__stack_open(&stk), 0);
    ck_assert_int_eq(cnio__uri_parse(fx_uri(&st_fx, "torn", NULL, uri, sizeof(uri)), &u), 0);
    ck_assert_int_eq(cnio__hints_resolve(&hints, &u), 0);
    torn_commit(c, 0x100, 3, 10);   /* a complete version on both */
    ck_assert_int_eq(cnio__obj_stat(stk, &u, &hints, &os), 0);
    ck_assert_uint_eq(os.state, 0);
    ck_assert_int_eq(cnio__obj_open(stk, &u, &hints, 0, &obj), 0);
    ck_assert_int_eq(cnio__obj_close(obj), 0);
    torn_commit(c, 0x200, 2, 20);   /* the next one reaches column 1 only */
    ck_assert_int_eq(cnio__obj_stat(stk, &u, &hints, &os), 0);
    ck_assert_uint_eq(os.state & CNIO_OBJ_TORN, CNIO_OBJ_TORN);
    ck_assert_int_eq(cnio__obj_open(stk, &u, &hints, 0, &obj), -CNIO_ERR_INCOMPLETE);
    torn_commit(c, 0x300, 3, 30);   /* copying it again repairs it */
    ck_assert_int_eq(cnio__obj_stat(stk, &u, &hints, &os), 0);
    ck_assert_uint_eq(os.state, CNIO_OBJ_PENDING);   /* 0x200 on column 0: still held open */
    ck_assert_int_eq(cnio__obj_open(stk, &u, &hints, 0, &obj), 0);
    ck_assert_int_eq(cnio__obj_close(obj), 0);
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

/*
 * A writer whose connection to one host broke (a WRITE whose payload could not be sent
 * whole: a source that shrank under its mapping) discards its instance over new
 * connections; that is a discard, although the handle on the broken connection cannot
 * be closed. cnio__obj_abort said it failed (cnio cp: "could not discard").
 */
START_TEST(test_abort_broken_connection)
{
    static uint8_t data[2 * UNIT];
    struct cnio_wire_info info;
    struct cnio_hints hints;
    struct cnio_stack *stk;
    struct cnio_uri u = { 0 };
    struct cnio_obj *obj;
    struct st_conn c;

    fx_fill(data, sizeof(data), 12);
    obj = staged_upload("ab", data, sizeof(data), &stk, &u, &hints);
    ck_assert_int_eq(staged_files_on(0) + staged_files_on(1), 2);
    for (int l = 0; l < obj->hosts[1].nlanes; l++)
        cnio__ep_fail(obj->hosts[1].lanes[l], -CNIO_ERR_CONN);
    ck_assert_int_eq(cnio__obj_abort(obj), 0);
    ck_assert_int_eq(staged_files_on(0) + staged_files_on(1), 0);
    for (int j = 0; j < 2; j++) {
        st_session(&st_fx, j, &c);
        ck_assert_int_eq(st_stat(&c, "ab", &info), -CNIO_ERR_NOENT);
        st_close(&c);
    }
    cnio__uri_free(&u);
    cnio__stack_close(stk);
}
END_TEST

/* A second open of a name being created joins the live instance: one object, both
 * writers' bytes (PnetCDF opens its independent handle so, with MPI_MODE_CREATE). */
START_TEST(test_join_live_instance)
{
    static uint8_t data[2000];
    struct cnio_wire_info info;
    struct st_conn a, b;
    uint64_t ha, hb, roff;

    fx_fill(data, sizeof(data), 10);
    st_session(&st_fx, 0, &a);
    st_session(&st_fx, 0, &b);
    ck_assert_int_eq(open_at(&a, "j", STAGE, 51, &ha, &info, NULL), 0);
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_STAGED, CNIO_WIRE_I_STAGED);
    ck_assert_int_eq(open_at(&b, "j", STAGE, 52, &hb, &info, &roff), 0);
    ck_assert_uint_eq(info.flags & (CNIO_WIRE_I_STAGED | CNIO_WIRE_I_JOINED),
                      CNIO_WIRE_I_JOINED);
    ck_assert_uint_eq(roff, 51);
    ck_assert_int_eq(staged_files(), 1);   /* no second instance */
    ck_assert_int_eq(st_write(&a, ha, 0, data, 1000), 0);
    ck_assert_int_eq(st_write(&b, hb, 1000, data + 1000, 1000), 0);
    ck_assert_int_eq(st_call(&b, CNIO_WIRE_COMMIT, hb, 5, NULL, 0, NULL, NULL, 0),
                     -CNIO_ERR_INVAL);   /* not its to commit */
    ck_assert_int_eq(st_call(&b, CNIO_WIRE_CLOSE, hb, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(open_at(&b, "j", W | CNIO_WIRE_O_JOIN, 0, NULL, NULL, NULL),
                     -CNIO_ERR_INVAL);
    ck_assert_int_eq(open_at(&b, "j", W | CNIO_WIRE_O_JOIN, 99, NULL, NULL, NULL),
                     -CNIO_ERR_NOENT);
    ck_assert_int_eq(open_at(&b, "j", W | CNIO_WIRE_O_JOIN, 51, &hb, NULL, NULL), 0);
    ck_assert_int_eq(st_call(&b, CNIO_WIRE_CLOSE, hb, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_COMMIT, ha, 5, NULL, 0, NULL, NULL, 0), 0);
    read_back(&a, "j", data, sizeof(data));
    ck_assert_int_eq(staged_files(), 0);
    st_close(&a);
    st_close(&b);
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
    tcase_add_test(tc, test_stage_size_kept);
    tcase_add_test(tc, test_stage_crash_small_and_long);
    tcase_add_test(tc, test_commit_order);
    tcase_add_test(tc, test_server_order);
    tcase_add_test(tc, test_commit_after_unlink);
    tcase_add_test(tc, test_client_commit_after_rm);
    tcase_add_test(tc, test_resume_and_crc);
    tcase_add_test(tc, test_stage_errors_and_unlink);
    tcase_add_test(tc, test_dirty_in_place);
    tcase_add_test(tc, test_commit_prunes_stale);
    tcase_add_test(tc, test_interrupted_commit);
    tcase_add_test(tc, test_join_live_instance);
    tcase_add_test(tc, test_torn_commit);
    tcase_add_test(tc, test_abort_broken_connection);
    tcase_add_test(tc, test_interrupted_new_commit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_run(commit_suite());
}
