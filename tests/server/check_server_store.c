/*
 * check_server_store.c - cnio-server's requests on objects: confinement beneath the
 * root, OPEN / WRITE / READ / SETSIZE / STAT / LIST / UNLINK semantics, handle
 * lifetime (shared with a job's token connections too), --max-open, token-authenticated
 * connections.
 */
#include "srvtest.h"
#include "layout.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RW (CNIO_WIRE_O_CREATE | CNIO_WIRE_O_WRITE)
#define UNIT 65536


static char *root_path(const char *name, char *buf, size_t cap)
{
    return fx_local_path(&st_fx, 0, name, buf, cap);
}

/* Entries beneath directory path, its subdirectories' included (not . and ..), or -1. */
static int count_entries(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            char sub[PATH_MAX];

            snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
            n += 1 + (e->d_type == DT_DIR ? count_entries(sub) : 0);
        }
    closedir(d);
    return n;
}

START_TEST(test_traversal_refused)
{
    static const char *const bad[] = {
        "../x", "/etc/passwd", "a/../../x", ".cnio/meta/x", "a//b", "a/", ".hidden",
        "a/./b", "..", ".", "x/.cnio",
    };
    char path[PATH_MAX + 16], target[PATH_MAX];
    struct cnio_wire_info info;
    struct st_conn c;
    uint64_t h;

    st_session(&st_fx, 0, &c);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(st_open(&c, bad[i], RW, 1, UNIT, 0, NULL, NULL) == -CNIO_ERR_ACCESS,
                      "%s", bad[i]);
        ck_assert_int_eq(st_stat(&c, bad[i], &info), -CNIO_ERR_ACCESS);
        ck_assert_int_eq(st_unlink(&c, bad[i]), -CNIO_ERR_ACCESS);
    }
    /* symlinks inside the root that lead outside it */
    snprintf(target, sizeof(target), "%s/outside", st_fx.dir);
    ck_assert_int_eq(mkdir(target, 0755), 0);
    ck_assert_int_eq(symlink(target, root_path("out", path, sizeof(path))), 0);
    ck_assert_int_eq(symlink("..", root_path("up", path, sizeof(path))), 0);
    ck_assert_int_eq(symlink("/etc/passwd", root_path("passwd", path, sizeof(path))), 0);
    ck_assert_int_eq(st_open(&c, "out/x", RW, 1, UNIT, 0, NULL, NULL), -CNIO_ERR_ACCESS);
    ck_assert_int_eq(st_open(&c, "out/sub/x", RW, 1, UNIT, 0, NULL, NULL), -CNIO_ERR_ACCESS);
    ck_assert_int_eq(st_open(&c, "up/key", 0, 0, 0, 0, NULL, NULL), -CNIO_ERR_ACCESS);
    ck_assert_int_eq(st_open(&c, "passwd", 0, 0, 0, 0, NULL, NULL), -CNIO_ERR_ACCESS);
    ck_assert_int_eq(st_stat(&c, "passwd", &info), -CNIO_ERR_ACCESS);
    ck_assert_int_eq(st_stat(&c, "up/key", &info), -CNIO_ERR_ACCESS);
    snprintf(path, sizeof(path), "%s/x", target);
    ck_assert_int_ne(access(path, F_OK), 0);
    snprintf(path, sizeof(path), "%s/sub", target);
    ck_assert_int_ne(access(path, F_OK), 0);
    /* a symlink that stays inside the root is followed */
    ck_assert_int_eq(mkdir(root_path("real", path, sizeof(path)), 0755), 0);
    ck_assert_int_eq(symlink("real", root_path("alias", path, sizeof(path))), 0);
    ck_assert_int_eq(st_open(&c, "alias/f", RW, 1, UNIT, 0, &h, NULL), 0);
    ck_assert_int_eq(access(root_path("real/f", path, sizeof(path)), F_OK), 0);
    /* ... through a chain, a '..' and to a file */
    ck_assert_int_eq(symlink("alias", root_path("alias2", path, sizeof(path))), 0);
    ck_assert_int_eq(mkdir(root_path("real/sub", path, sizeof(path)), 0755), 0);
    ck_assert_int_eq(symlink("..", root_path("real/sub/back", path, sizeof(path))), 0);
    ck_assert_int_eq(symlink("real/f", root_path("flink", path, sizeof(path))), 0);
    ck_assert_int_eq(st_stat(&c, "alias2/f", &info), 0);
    ck_assert_int_eq(st_stat(&c, "real/sub/back/f", &info), 0);
    ck_assert_int_eq(st_open(&c, "flink", 0, 0, 0, 0, NULL, NULL), 0);
    ck_assert_int_eq(st_open(&c, "alias2/g", RW, 1, UNIT, 0, NULL, NULL), 0);
    ck_assert_int_eq(access(root_path("real/g", path, sizeof(path)), F_OK), 0);
    /* symlinks inside the root that lead into the server's own .cnio: refused, nothing
     * read or made there (they followed as any other link that stays beneath) */
    {
        static const char *const into[][2] = {
            { "metalink", ".cnio/meta" }, { "stagelink", ".cnio/stage" },
            { "dotlink", ".cnio" }, { "real/sub/deep", "../../.cnio/sums" },
            { "sneak", "real/../.cnio/meta" }, { "metafile", ".cnio/meta/real/f" },
        };
        static const char *const via[] = {
            "metalink/real/f", "metalink/new", "stagelink/x", "dotlink/lock", "dotlink/meta/real/f",
            "real/sub/deep/real/f", "alias/sub/deep/x", "sneak/real/f", "metafile",
        };
        int before = count_entries(root_path(".cnio", path, sizeof(path)));

        for (size_t i = 0; i < sizeof(into) / sizeof(into[0]); i++)
            ck_assert_int_eq(symlink(into[i][1], root_path(into[i][0], path, sizeof(path))), 0);
        for (size_t i = 0; i < sizeof(via) / sizeof(via[0]); i++) {
            ck_assert_msg(st_open(&c, via[i], RW, 1, UNIT, 0, NULL, NULL) == -CNIO_ERR_ACCESS,
                          "open %s", via[i]);
            ck_assert_msg(st_open(&c, via[i], 0, 0, 0, 0, NULL, NULL) == -CNIO_ERR_ACCESS,
                          "read-only open %s", via[i]);
            ck_assert_msg(st_stat(&c, via[i], &info) == -CNIO_ERR_ACCESS, "stat %s", via[i]);
            /* an UNLINK of the link itself removes the link, not what it points to */
            ck_assert_msg(st_unlink(&c, via[i]) == (strcmp(via[i], "metafile") ? -CNIO_ERR_ACCESS
                                                                                : 0),
                          "unlink %s", via[i]);
        }
        ck_assert_int_eq(count_entries(root_path(".cnio", path, sizeof(path))), before);
    }
    st_close(&c);
}
END_TEST

/* The reason of a refusal, sent to a client that asked for reasons: status, and why. */
static int refusal(struct st_conn *c, uint16_t type, const char *name, uint32_t flags,
                   char *why, size_t cap)
{
    struct cnio_wire_hdr rh;
    uint8_t buf[CNIO_WIRE_MAX_REASON + CNIO_WIRE_INFO_SIZE];
    int ret = st_named(c, type, name, flags, flags ? 1 : 0, flags ? UNIT : 0, 0, 0, &rh, buf,
                       sizeof(buf));

    why[0] = '\0';
    if (ret && rh.length) {
        ck_assert_uint_eq(rh.flags, CNIO_WIRE_F_REASON);
        cnio__wire_reason_text(buf, rh.length, why, cap);
    }
    return ret;
}

/* Every refusal says which rule it applied, to a client that asks (and only to one). */
START_TEST(test_refusal_reasons)
{
    char path[PATH_MAX + 16], target[PATH_MAX], why[CNIO_WIRE_MAX_REASON + 1], name[300];
    struct cnio_key k;
    struct cnio_wire_hdr rh;
    uint8_t buf[CNIO_WIRE_MAX_REASON];
    struct st_conn old, c;

    st_key(&st_fx, &k);
    ck_assert_int_eq(st_connect(&st_fx, 0, &c), 0);
    ck_assert_uint_eq(c.ch.caps & CNIO_WIRE_CAP_REASON, CNIO_WIRE_CAP_REASON);
    ck_assert_int_eq(st_auth_key(&c, k.bytes, k.len), 0);
    ck_assert_int_eq(st_connect(&st_fx, 0, &old), 0);
    old.legacy = 1;   /* a client that does not ask: no payload, as before */
    ck_assert_int_eq(st_auth_key(&old, k.bytes, k.len), 0);
    ck_assert_int_eq(st_named(&old, CNIO_WIRE_STAT, "../x", 0, 0, 0, 0, 0, &rh, buf,
                              sizeof(buf)), -CNIO_ERR_ACCESS);
    ck_assert_uint_eq(rh.length, 0);
    ck_assert_uint_eq(rh.flags, 0);

    ck_assert_int_eq(refusal(&c, CNIO_WIRE_STAT, "../x", 0, why, sizeof(why)), -CNIO_ERR_ACCESS);
    ck_assert_msg(strstr(why, "may not start with '.'"), "%s", why);
    ck_assert_int_eq(refusal(&c, CNIO_WIRE_UNLINK, "a/\nb", 0, why, sizeof(why)),
                     -CNIO_ERR_ACCESS);
    ck_assert_msg(strstr(why, "control character"), "%s", why);
    memset(name, 'c', 256);
    name[256] = '\0';
    ck_assert_int_eq(refusal(&c, CNIO_WIRE_OPEN, name, RW, why, sizeof(why)), -CNIO_ERR_ACCESS);
    ck_assert_msg(strstr(why, "component longer than 255 bytes"), "%s", why);

    snprintf(target, sizeof(target), "%s/outside", st_fx.dir);
    ck_assert_int_eq(mkdir(target, 0755), 0);
    ck_assert_int_eq(symlink(target, root_path("out", path, sizeof(path))), 0);
    ck_assert_int_eq(refusal(&c, CNIO_WIRE_OPEN, "out/x", RW, why, sizeof(why)),
                     -CNIO_ERR_ACCESS);
    ck_assert_msg(strstr(why, "out of the server's root") || strstr(why, "symbolic link"),
                  "%s", why);
    ck_assert_int_eq(mkfifo(root_path("fifo", path, sizeof(path)), 0644), 0);
    ck_assert_int_eq(refusal(&c, CNIO_WIRE_STAT, "fifo", 0, why, sizeof(why)), -CNIO_ERR_ACCESS);
    ck_assert_msg(strstr(why, "not a regular file"), "%s", why);
    ck_assert_int_eq(refusal(&c, CNIO_WIRE_OPEN, "fifo", 0, why, sizeof(why)), -CNIO_ERR_ACCESS);
    ck_assert_msg(strstr(why, "not a regular file"), "%s", why);
    /* a plain miss is no refusal: no reason */
    ck_assert_int_eq(refusal(&c, CNIO_WIRE_STAT, "missing", 0, why, sizeof(why)),
                     -CNIO_ERR_NOENT);
    ck_assert_str_eq(why, "");
    /* the connection goes on serving */
    ck_assert_int_eq(st_open(&c, "fine", RW, 1, UNIT, 0, NULL, NULL), 0);
    st_close(&old);
    st_close(&c);
    cnio__key_wipe(&k);
}
END_TEST

START_TEST(test_open_semantics)
{
    struct cnio_wire_info info;
    struct st_conn c;
    struct stat sb;
    char path[PATH_MAX];
    uint64_t h, h2, ro;

    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(st_open(&c, "d1/d2/obj", CNIO_WIRE_O_WRITE, 0, 0, 0, NULL, NULL),
                     -CNIO_ERR_NOENT);
    ck_assert_int_eq(st_open(&c, "d1/d2/obj", RW, 4, UNIT, 2, &h, &info), 0);
    ck_assert_uint_eq(info.flags, CNIO_WIRE_I_CREATED);
    ck_assert_uint_eq(info.stripe_count, 4);
    ck_assert_uint_eq(info.stripe_unit, UNIT);
    ck_assert_uint_eq(info.stripe_index, 2);
    ck_assert_uint_eq(info.size, 0);
    ck_assert_uint_eq(info.local_size, 0);
    ck_assert_uint_ne(info.mtime_ns, 0);
    ck_assert_int_eq(stat(root_path("d1/d2/obj", path, sizeof(path)), &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 0777, 0644);
    ck_assert_int_eq(stat(root_path(".cnio/meta/d1/d2/obj", path, sizeof(path)), &sb), 0);
    ck_assert_int_eq(sb.st_size, 64);

    ck_assert_int_eq(st_open(&c, "d1/d2/obj", RW | CNIO_WIRE_O_EXCL, 4, UNIT, 2, NULL, NULL),
                     -CNIO_ERR_EXIST);
    ck_assert_int_eq(st_open(&c, "d1/d2/obj", RW, 2, 4096, 1, &h2, &info), 0);
    ck_assert_uint_eq(info.flags, 0);
    ck_assert_uint_eq(info.stripe_count, 4);     /* the stored layout wins */
    ck_assert_uint_eq(info.stripe_index, 2);
    ck_assert_uint_eq(info.stripe_unit, UNIT);

    ck_assert_int_eq(st_open(&c, "d1/d2/obj", 0, 0, 0, 0, &ro, NULL), 0);
    ck_assert_int_eq(st_write(&c, ro, 0, "abc", 3), -CNIO_ERR_ACCESS);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_SETSIZE, ro, 10, NULL, 0, NULL, NULL, 0),
                     -CNIO_ERR_ACCESS);
    ck_assert_int_eq(st_write(&c, h, 0, "abc", 3), 0);

    ck_assert_int_eq(st_open(&c, "d1/d2/obj", CNIO_WIRE_O_TRUNC, 1, UNIT, 0, NULL, NULL),
                     -CNIO_ERR_AMODE);
    ck_assert_int_eq(st_open(&c, "new", RW, 0, UNIT, 0, NULL, NULL), -CNIO_ERR_LAYOUT);
    ck_assert_int_eq(st_open(&c, "new", RW, 1, 0, 0, NULL, NULL), -CNIO_ERR_LAYOUT);
    ck_assert_int_eq(st_open(&c, "d1", 0, 0, 0, 0, NULL, NULL), -CNIO_ERR_ISDIR);
    ck_assert_int_eq(st_open(&c, "d1", RW, 1, UNIT, 0, NULL, NULL), -CNIO_ERR_ISDIR);

    /* TRUNC without STAGE empties the object: not under its writers h and h2 (their mark,
     * count and bytes; 9b1270a), and once they closed, at once */
    ck_assert_int_eq(st_open(&c, "d1/d2/obj", CNIO_WIRE_O_WRITE | CNIO_WIRE_O_TRUNC, 1, 4096, 0,
                             NULL, &info), -CNIO_ERR_ACCESS);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h2, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_open(&c, "d1/d2/obj", CNIO_WIRE_O_WRITE | CNIO_WIRE_O_TRUNC, 1, 4096, 0,
                             NULL, &info), 0);
    ck_assert_uint_eq(info.local_size, 0);
    ck_assert_uint_eq(info.stripe_count, 1);
    ck_assert_uint_eq(info.stripe_unit, 4096);
    st_close(&c);
}
END_TEST

START_TEST(test_write_read)
{
    static uint8_t big[CNIO_WIRE_MAX_PAYLOAD], back[CNIO_WIRE_MAX_PAYLOAD];
    char path[PATH_MAX];
    struct st_conn c;
    uint32_t got;
    uint64_t h;
    int fd;

    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(st_open(&c, "data", RW, 1, UNIT, 0, &h, NULL), 0);
    fx_fill(big, sizeof(big), 7);
    ck_assert_int_eq(st_write(&c, h, 0, big, sizeof(big)), 0);
    ck_assert_int_eq(st_write(&c, h, 100, "hello", 5), 0);
    memcpy(big + 100, "hello", 5);
    ck_assert_int_eq(st_read(&c, h, 0, back, sizeof(back), &got), 0);
    ck_assert_uint_eq(got, sizeof(back));
    ck_assert_int_eq(memcmp(big, back, sizeof(big)), 0);
    ck_assert_int_eq(st_read(&c, h, sizeof(big) - 10, back, 4096, &got), 0);
    ck_assert_uint_eq(got, 10);
    ck_assert_int_eq(st_read(&c, h, sizeof(big) + 5, back, 4096, &got), 0);
    ck_assert_uint_eq(got, 0);
    /* a hole reads as zeros */
    ck_assert_int_eq(st_write(&c, h, sizeof(big) + 8192, "z", 1), 0);
    ck_assert_int_eq(st_read(&c, h, sizeof(big), back, 8193, &got), 0);
    ck_assert_uint_eq(got, 8193);
    for (int i = 0; i < 8192; i++)
        ck_assert_uint_eq(back[i], 0);
    ck_assert_uint_eq(back[8192], 'z');
    ck_assert_int_eq(st_write(&c, h, (1ull << 62) - 2, "abc", 3), -CNIO_ERR_OVERFLOW);
    ck_assert_int_eq(st_write(&c, h, UINT64_MAX - 1, "abc", 3), -CNIO_ERR_OVERFLOW);
    ck_assert_int_eq(st_read(&c, h, 1ull << 62, back, 16, &got), -CNIO_ERR_OVERFLOW);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_SYNC, h, 0, NULL, 0, NULL, NULL, 0), 0);
    /* the bytes are in the local file */
    fd = open(root_path("data", path, sizeof(path)), O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, back, sizeof(big), 0), (ssize_t)sizeof(big));
    ck_assert_int_eq(memcmp(big, back, sizeof(big)), 0);
    close(fd);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_write(&c, h, 0, "x", 1), -CNIO_ERR_NOENT);
    st_close(&c);
}
END_TEST

START_TEST(test_setsize_stat)
{
    struct cnio_layout l = { .unit = 4096, .count = 2 };
    struct cnio_wire_info info;
    struct cnio_wire_hdr rh;
    uint8_t buf[CNIO_WIRE_INFO_SIZE];
    char path[PATH_MAX];
    struct st_conn c;
    uint64_t h;
    int fd;

    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(st_open(&c, "sz/obj", RW, 2, 4096, 1, &h, NULL), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_SETSIZE, h, 20000, NULL, 0, &rh, buf, sizeof(buf)), 0);
    ck_assert_int_eq(cnio__wire_info_parse(buf, rh.length, &info), 0);
    ck_assert_uint_eq(info.size, 20000);
    ck_assert_uint_eq(info.local_size, cnio__layout_local_size(&l, 1, 20000));
    ck_assert_int_eq(st_stat(&c, "sz/obj", &info), 0);
    ck_assert_uint_eq(info.size, 20000);
    ck_assert_uint_eq(info.local_size, cnio__layout_local_size(&l, 1, 20000));
    ck_assert_uint_eq(info.stripe_count, 2);
    ck_assert_uint_eq(info.stripe_index, 1);
    ck_assert_uint_eq(info.stripe_unit, 4096);
    ck_assert_uint_eq(info.flags, 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_SETSIZE, h, 100, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_stat(&c, "sz/obj", &info), 0);
    ck_assert_uint_eq(info.size, 100);
    ck_assert_uint_eq(info.local_size, 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_SETSIZE, h, 1ull << 62, NULL, 0, NULL, NULL, 0),
                     -CNIO_ERR_OVERFLOW);
    ck_assert_int_eq(st_stat(&c, "sz", &info), 0);
    /* a directory; bits 16..31 carry its mode (doc/protocol.md, SETATTR) */
    ck_assert_uint_eq(info.flags & ~CNIO_WIRE_I_MODE_MASK, CNIO_WIRE_I_DIR);
    ck_assert(S_ISDIR(info.flags >> CNIO_WIRE_I_MODE_SHIFT));
    ck_assert_int_eq(st_stat(&c, "nothing", &info), -CNIO_ERR_NOENT);
    /* corrupt metadata is reported, not trusted */
    fd = open(root_path(".cnio/meta/sz/obj", path, sizeof(path)), O_WRONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, "X", 1, 20), 1);
    close(fd);
    ck_assert_int_eq(st_stat(&c, "sz/obj", &info), -CNIO_ERR_IO);
    ck_assert_int_eq(st_open(&c, "sz/obj", 0, 0, 0, 0, NULL, NULL), -CNIO_ERR_IO);
    st_close(&c);
}
END_TEST

/* Lists dir completely, checking order; returns the number of entries. */
static int list_all(struct st_conn *c, const char *dir, char names[][256], int max,
                    uint32_t *flags, int *pages)
{
    static uint8_t buf[CNIO_WIRE_MAX_CTRL];
    struct cnio_wire_hdr rh;
    uint64_t cursor = 0;
    int n = 0;

    *pages = 0;
    do {
        struct cnio_wire_entry e;
        size_t pos = 0;
        int r;

        ck_assert_int_eq(st_list(c, dir, cursor, &rh, buf, sizeof(buf)), 0);
        (*pages)++;
        while ((r = cnio__wire_entry_next(buf, rh.length, &pos, &e)) == 1) {
            ck_assert_int_lt(n, max);
            ck_assert_uint_lt(e.name_len, 256);
            memcpy(names[n], e.name, e.name_len);
            names[n][e.name_len] = '\0';
            flags[n] = e.info.flags;
            if (n)
                ck_assert_int_lt(strcmp(names[n - 1], names[n]), 0);
            n++;
        }
        ck_assert_int_eq(r, 0);
        ck_assert_uint_eq(rh.offset, (uint64_t)n);
        cursor = rh.offset;
    } while (rh.flags & CNIO_WIRE_F_MORE);
    return n;
}

START_TEST(test_list)
{
    static char names[1600][256];
    static uint32_t flags[1600];
    char path[PATH_MAX], name[300];
    struct cnio_wire_hdr rh;
    uint8_t buf[256];
    struct st_conn c;
    int n, pages;

    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(st_open(&c, "dir/b", RW, 1, UNIT, 0, NULL, NULL), 0);
    ck_assert_int_eq(st_open(&c, "dir/a", RW, 1, UNIT, 0, NULL, NULL), 0);
    ck_assert_int_eq(st_open(&c, "dir/sub/c", RW, 1, UNIT, 0, NULL, NULL), 0);
    ck_assert_int_eq(mkdir(root_path("dir/.hidden", path, sizeof(path)), 0755), 0);
    n = list_all(&c, "dir", names, 1600, flags, &pages);
    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(names[0], "a");
    ck_assert_str_eq(names[1], "b");
    ck_assert_str_eq(names[2], "sub");
    ck_assert_uint_eq(flags[0], 0);
    ck_assert_uint_eq(flags[2] & ~CNIO_WIRE_I_MODE_MASK, CNIO_WIRE_I_DIR);
    n = list_all(&c, "", names, 1600, flags, &pages);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(names[0], "dir");
    ck_assert_int_eq(st_list(&c, "missing", 0, &rh, buf, sizeof(buf)), -CNIO_ERR_NOENT);
    ck_assert_int_eq(st_list(&c, "../", 0, &rh, buf, sizeof(buf)), -CNIO_ERR_ACCESS);
    /* a directory too big for one reply comes in pages */
    ck_assert_int_eq(mkdir(root_path("many", path, sizeof(path)), 0755), 0);
    for (int i = 0; i < 1500; i++) {
        int fd;

        snprintf(name, sizeof(name), "many/%04d-%0200d", i, 0);
        fd = open(root_path(name, path, sizeof(path)), O_CREAT | O_WRONLY, 0644);
        ck_assert_int_ge(fd, 0);
        close(fd);
    }
    n = list_all(&c, "many", names, 1600, flags, &pages);
    ck_assert_int_eq(n, 1500);
    ck_assert_int_ge(pages, 5);
    ck_assert_int_eq(strncmp(names[1499], "1499-", 5), 0);
    st_close(&c);
}
END_TEST

/* The flags LIST of dir gives entry name, asking F_INPLACE when inplace (one page). */
static uint32_t list_flags(struct st_conn *c, const char *dir, const char *name, int inplace)
{
    static uint8_t buf[CNIO_WIRE_MAX_CTRL];
    struct cnio_wire_hdr rh;
    struct cnio_wire_entry e;
    size_t pos = 0;

    c->flags = inplace ? CNIO_WIRE_F_INPLACE : 0;
    ck_assert_int_eq(st_list(c, dir, 0, &rh, buf, sizeof(buf)), 0);
    while (cnio__wire_entry_next(buf, rh.length, &pos, &e) == 1)
        if (e.name_len == strlen(name) && !memcmp(e.name, name, e.name_len))
            return e.info.flags & ~CNIO_WIRE_I_MODE_MASK;
    ck_abort_msg("%s not listed in %s", name, dir);
    return 0;
}

/* The flags STAT of name gives, asking F_INPLACE when inplace. */
static uint32_t stat_flags(struct st_conn *c, const char *name, int inplace)
{
    struct cnio_wire_info info;

    c->flags = inplace ? CNIO_WIRE_F_INPLACE : 0;
    ck_assert_int_eq(st_stat(c, name, &info), 0);
    return info.flags & ~CNIO_WIRE_I_MODE_MASK;
}

/* An object a live handle writes in place (an MPI writer's update: readers may see old
 * and new bytes mixed): STAT by name and LIST say I_INPLACE where asked (F_INPLACE),
 * never I_DIRTY; not where not asked (older clients refuse bits they do not know); and
 * not once the writer has closed it. A directory above it says nothing of it. */
START_TEST(test_inplace_said)
{
    static const uint8_t data[100] = { 1, 2, 3 };
    struct st_conn c, c2;
    uint64_t h;

    st_session(&st_fx, 0, &c);
    st_session(&st_fx, 0, &c2);
    ck_assert_uint_ne(c2.ch.caps & CNIO_WIRE_CAP_INPLACE, 0);
    ck_assert_int_eq(st_open(&c, "ip/obj", RW, 1, UNIT, 0, &h, NULL), 0);
    ck_assert_int_eq(st_write(&c, h, 0, data, sizeof(data)), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_uint_eq(stat_flags(&c2, "ip/obj", 1), 0);
    ck_assert_uint_eq(list_flags(&c2, "ip", "obj", 1), 0);
    /* updated in place: opened for writing again, no CREATE */
    ck_assert_int_eq(st_open(&c, "ip/obj", CNIO_WIRE_O_WRITE, 1, UNIT, 0, &h, NULL), 0);
    ck_assert_int_eq(st_write(&c, h, 10, data, sizeof(data)), 0);
    ck_assert_uint_eq(stat_flags(&c2, "ip/obj", 1), CNIO_WIRE_I_INPLACE);
    ck_assert_uint_eq(list_flags(&c2, "ip", "obj", 1), CNIO_WIRE_I_INPLACE);
    ck_assert_uint_eq(stat_flags(&c2, "ip/obj", 0), 0);
    ck_assert_uint_eq(list_flags(&c2, "ip", "obj", 0), 0);
    ck_assert_uint_eq(stat_flags(&c2, "ip", 1), CNIO_WIRE_I_DIR);
    ck_assert_uint_eq(list_flags(&c2, "", "ip", 1), CNIO_WIRE_I_DIR);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_uint_eq(stat_flags(&c2, "ip/obj", 1), 0);
    ck_assert_uint_eq(list_flags(&c2, "ip", "obj", 1), 0);
    st_close(&c);
    st_close(&c2);
}
END_TEST

START_TEST(test_unlink)
{
    struct cnio_wire_info info;
    char path[PATH_MAX];
    struct st_conn c;

    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(st_open(&c, "u/obj", RW, 1, UNIT, 0, NULL, NULL), 0);
    ck_assert_int_eq(st_unlink(&c, "u/obj"), 0);
    ck_assert_int_eq(st_stat(&c, "u/obj", &info), -CNIO_ERR_NOENT);
    ck_assert_int_ne(access(root_path("u/obj", path, sizeof(path)), F_OK), 0);
    ck_assert_int_ne(access(root_path(".cnio/meta/u/obj", path, sizeof(path)), F_OK), 0);
    ck_assert_int_eq(st_unlink(&c, "u/obj"), -CNIO_ERR_NOENT);
    ck_assert_int_eq(st_unlink(&c, "nope/obj"), -CNIO_ERR_NOENT);
    ck_assert_int_eq(st_unlink(&c, "u"), -CNIO_ERR_ISDIR);
    st_close(&c);
}
END_TEST

START_TEST(test_handle_lifetime)
{
    struct st_conn a, b;
    uint64_t h;
    int ret = 0;

    st_session(&st_fx, 0, &a);
    st_session(&st_fx, 0, &b);
    ck_assert_int_eq(st_open(&a, "life", RW, 1, UNIT, 0, &h, NULL), 0);
    ck_assert_int_eq(st_write(&b, h, 0, "from b", 6), 0);
    st_close(&a);
    for (int t = 0; t < 1000 && ret == 0; t++) {   /* up to 10 s, as test_max_open */
        ret = st_write(&b, h, 0, "again", 5);
        if (!ret)
            usleep(10000);
    }
    ck_assert_int_eq(ret, -CNIO_ERR_NOENT);
    st_close(&b);
}
END_TEST

/* Waits (bounded, as test_handle_lifetime) until a READ by c of handle h is refused: the
 * server has released h. Its status. */
static int wait_gone(struct st_conn *c, uint64_t h)
{
    uint8_t buf[4];
    uint32_t got;
    int ret = 0;

    for (int t = 0; t < 1000 && ret == 0; t++) {
        ret = st_read(c, h, 0, buf, sizeof(buf), &got);
        if (!ret)
            usleep(10000);
    }
    return ret;
}

/*
 * A read-only handle that the job's ranks share (rank 0's key connection opened it, rank
 * 1 attached with its token) outlives rank 0's connection closing without a CLOSE: rank
 * 1 reads on, and the handle goes with rank 1's connection; no token attaches after
 * that. (The server used to release it with the connection that opened it: rank 1's
 * READ got -CNIO_ERR_NOENT.) A handle that writes still goes with its opener at once,
 * and its writer is interrupted: the object in place reads as incomplete, a staged one
 * is not committed.
 */
START_TEST(test_handle_orphan)
{
    struct st_conn a, b, tok;
    struct cnio_wire_hdr rh;
    struct cnio_key k;
    uint8_t buf[CNIO_WIRE_INFO_SIZE];
    uint64_t h, h2, hs;
    uint32_t got;

    st_key(&st_fx, &k);
    st_session(&st_fx, 0, &b);
    ck_assert_int_eq(st_open(&b, "orph", RW, 1, UNIT, 0, &h, NULL), 0);
    ck_assert_int_eq(st_write(&b, h, 0, "0123456789", 10), 0);
    ck_assert_int_eq(st_call(&b, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);

    /* read-only: rank 1 reads on after rank 0's connection went */
    st_session(&st_fx, 0, &a);
    ck_assert_int_eq(st_open(&a, "orph", 0, 1, UNIT, 0, &h, NULL), 0);
    ck_assert_int_eq(st_open(&a, "orph", 0, 1, UNIT, 0, &h2, NULL), 0);
    ck_assert_int_eq(st_connect(&st_fx, 0, &tok), 0);
    ck_assert_int_eq(st_auth_token(&tok, &k, h, 1), 0);
    st_close(&a);
    ck_assert_int_eq(wait_gone(&b, h2), -CNIO_ERR_NOENT);   /* no one else used h2 */
    ck_assert_int_eq(st_read(&tok, h, 0, buf, 10, &got), 0);
    ck_assert_uint_eq(got, 10);
    ck_assert_int_eq(memcmp(buf, "0123456789", 10), 0);
    st_close(&tok);
    ck_assert_int_eq(wait_gone(&b, h), -CNIO_ERR_NOENT);
    ck_assert_int_eq(st_connect(&st_fx, 0, &tok), 0);   /* nothing to attach to */
    ck_assert_int_eq(st_auth_token(&tok, &k, h, 2), -CNIO_ERR_AUTH);
    st_close(&tok);

    /* in place: the handle goes with its opener, and its writer is interrupted */
    st_session(&st_fx, 0, &a);
    ck_assert_int_eq(st_open(&a, "orph", CNIO_WIRE_O_WRITE, 1, UNIT, 0, &h, NULL), 0);
    ck_assert_int_eq(st_connect(&st_fx, 0, &tok), 0);
    ck_assert_int_eq(st_auth_token(&tok, &k, h, 1), 0);
    ck_assert_int_eq(st_write(&tok, h, 0, "ab", 2), 0);
    st_close(&a);
    ck_assert_int_eq(wait_gone(&tok, h), -CNIO_ERR_NOENT);
    ck_assert_int_eq(st_write(&tok, h, 2, "cd", 2), -CNIO_ERR_NOENT);
    st_close(&tok);
    ck_assert_int_eq(st_open(&b, "orph", 0, 1, UNIT, 0, NULL, NULL), -CNIO_ERR_INCOMPLETE);

    /* staged: not committed */
    st_session(&st_fx, 0, &a);
    ck_assert_int_eq(st_named(&a, CNIO_WIRE_OPEN, "orph-new", RW | CNIO_WIRE_O_STAGE |
                              CNIO_WIRE_O_TRUNC, 1, UNIT, 0, 0x0e1, &rh, buf, sizeof(buf)), 0);
    hs = rh.object;
    ck_assert_int_eq(st_connect(&st_fx, 0, &tok), 0);
    ck_assert_int_eq(st_auth_token(&tok, &k, hs, 1), 0);
    ck_assert_int_eq(st_write(&tok, hs, 0, "staged", 6), 0);
    st_close(&a);
    ck_assert_int_eq(wait_gone(&tok, hs), -CNIO_ERR_NOENT);
    ck_assert_int_eq(st_call(&b, CNIO_WIRE_COMMIT, hs, 1, NULL, 0, NULL, NULL, 0),
                     -CNIO_ERR_NOENT);
    st_close(&tok);
    ck_assert_int_eq(st_open(&b, "orph-new", 0, 1, UNIT, 0, NULL, NULL), -CNIO_ERR_INCOMPLETE);
    cnio__key_wipe(&k);
    st_close(&b);
}
END_TEST

START_TEST(test_max_open)
{
    static const char *const extra[] = { "--max-open", "3", NULL };
    struct st_conn a, b;
    uint64_t h[3];
    int ret = -1;

    fx_stop(&st_fx);
    ck_assert_int_eq(fx_start(&st_fx, 1, extra), 0);
    st_session(&st_fx, 0, &a);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(st_open(&a, "lim", RW, 1, UNIT, 0, &h[i], NULL), 0);
    ck_assert_int_eq(st_open(&a, "lim", RW, 1, UNIT, 0, NULL, NULL), -CNIO_ERR_LIMIT);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, h[0], 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_open(&a, "lim", RW, 1, UNIT, 0, &h[0], NULL), 0);
    st_close(&a);   /* its handles go with it (leaving the object marked dirty: */
    st_session(&st_fx, 0, &b);   /* readers are refused, writers may open it) */
    /* once the server has seen the connection close: up to 10 s (a TSan build beside a
     * loaded machine took more than 2) */
    for (int t = 0; t < 1000 && ret; t++) {
        ret = st_open(&b, "lim", CNIO_WIRE_O_WRITE, 0, 0, 0, NULL, NULL);
        if (ret)
            usleep(10000);
    }
    ck_assert_int_eq(ret, 0);
    ck_assert_int_eq(st_open(&b, "lim", CNIO_WIRE_O_WRITE, 0, 0, 0, NULL, NULL), 0);
    ck_assert_int_eq(st_open(&b, "lim", CNIO_WIRE_O_WRITE, 0, 0, 0, NULL, NULL), 0);
    ck_assert_int_eq(st_open(&b, "lim", CNIO_WIRE_O_WRITE, 0, 0, 0, NULL, NULL), -CNIO_ERR_LIMIT);
    st_close(&b);
}
END_TEST

START_TEST(test_token_auth)
{
    struct cnio_wire_info info;
    struct st_conn owner, tok;
    struct cnio_key k;
    uint8_t buf[CNIO_WIRE_INFO_SIZE], token[CNIO_WIRE_MAC];
    uint32_t got;
    uint64_t h1, h2;

    st_key(&st_fx, &k);
    st_session(&st_fx, 0, &owner);
    ck_assert_int_eq(st_open(&owner, "tok1", RW, 1, UNIT, 0, &h1, NULL), 0);
    ck_assert_int_eq(st_open(&owner, "tok2", RW, 1, UNIT, 0, &h2, NULL), 0);
    ck_assert_int_eq(st_connect(&st_fx, 0, &tok), 0);
    ck_assert_int_eq(st_auth_token(&tok, &k, h1, 5), 0);
    ck_assert_int_eq(st_write(&tok, h1, 0, "token data", 10), 0);
    ck_assert_int_eq(st_read(&tok, h1, 0, buf, sizeof(buf), &got), 0);
    ck_assert_uint_eq(got, 10);
    ck_assert_int_eq(memcmp(buf, "token data", 10), 0);
    ck_assert_int_eq(st_call(&tok, CNIO_WIRE_SYNC, h1, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&tok, CNIO_WIRE_SETSIZE, h1, 10, NULL, 0, NULL, buf, sizeof(buf)), 0);
    ck_assert_int_eq(st_call(&tok, CNIO_WIRE_PING, 0, 0, "p", 1, NULL, buf, sizeof(buf)), 0);
    /* anything else, or another handle: refused, and the connection stays */
    ck_assert_int_eq(st_open(&tok, "tok1", RW, 1, UNIT, 0, NULL, NULL), -CNIO_ERR_ACCESS);
    ck_assert_int_eq(st_stat(&tok, "tok1", &info), -CNIO_ERR_ACCESS);
    ck_assert_int_eq(st_unlink(&tok, "tok1"), -CNIO_ERR_ACCESS);
    ck_assert_int_eq(st_call(&tok, CNIO_WIRE_CLOSE, h1, 0, NULL, 0, NULL, NULL, 0),
                     -CNIO_ERR_ACCESS);
    ck_assert_int_eq(st_write(&tok, h2, 0, "x", 1), -CNIO_ERR_ACCESS);
    ck_assert_int_eq(st_read(&tok, h2, 0, buf, sizeof(buf), &got), -CNIO_ERR_ACCESS);
    ck_assert_int_eq(st_write(&tok, h1, 10, "!", 1), 0);
    /* STAT of its own handle (how an attached rank learns the size), by handle only */
    {
        uint8_t pl[CNIO_WIRE_OPEN_FIXED + 8];
        struct cnio_wire_open o = { .name = "tok1", .name_len = 4 };
        int n = cnio__wire_open_encode(&o, pl, sizeof(pl));

        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(st_call(&tok, CNIO_WIRE_STAT, h1, 0, pl, (uint32_t)n, NULL, buf,
                                 sizeof(buf)), 0);
        ck_assert_int_eq(cnio__wire_info_parse(buf, sizeof(buf), &info), 0);
        ck_assert_uint_eq(info.size, 10);
        ck_assert_uint_eq(info.local_size, 11);
        ck_assert_int_eq(st_call(&tok, CNIO_WIRE_STAT, h2, 0, pl, (uint32_t)n, NULL, buf,
                                 sizeof(buf)), -CNIO_ERR_ACCESS);
        o.name = "tok2";
        n = cnio__wire_open_encode(&o, pl, sizeof(pl));
        ck_assert_int_eq(st_call(&tok, CNIO_WIRE_STAT, h1, 0, pl, (uint32_t)n, NULL, buf,
                                 sizeof(buf)), -CNIO_ERR_ACCESS);
    }
    st_close(&tok);
    /* rank 5's token does not authenticate rank 6, nor another handle */
    ck_assert_int_eq(cnio__auth_token(&k, h1, 5, token), 0);
    ck_assert_int_eq(st_connect(&st_fx, 0, &tok), 0);
    ck_assert_int_eq(st_auth_raw(&tok, token, sizeof(token), CNIO_WIRE_AUTH_TOKEN, 6, h1),
                     -CNIO_ERR_AUTH);
    st_close(&tok);
    ck_assert_int_eq(st_connect(&st_fx, 0, &tok), 0);
    ck_assert_int_eq(st_auth_raw(&tok, token, sizeof(token), CNIO_WIRE_AUTH_TOKEN, 5, h2),
                     -CNIO_ERR_AUTH);
    st_close(&tok);
    cnio__key_wipe(&k);
    st_close(&owner);
}
END_TEST

static Suite *server_store_suite(void)
{
    Suite *s = suite_create("server_store");
    TCase *tc = tcase_create("objects");

    tcase_add_checked_fixture(tc, st_setup, st_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_traversal_refused);
    tcase_add_test(tc, test_refusal_reasons);
    tcase_add_test(tc, test_open_semantics);
    tcase_add_test(tc, test_write_read);
    tcase_add_test(tc, test_setsize_stat);
    tcase_add_test(tc, test_list);
    tcase_add_test(tc, test_inplace_said);
    tcase_add_test(tc, test_unlink);
    tcase_add_test(tc, test_handle_lifetime);
    tcase_add_test(tc, test_handle_orphan);
    tcase_add_test(tc, test_max_open);
    tcase_add_test(tc, test_token_auth);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_run(server_store_suite());
}
