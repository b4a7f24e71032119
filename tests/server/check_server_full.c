/*
 * check_server_full.c - commits against a full disk: one host of three, its root a small
 * tmpfs, filled up between the writes of an upload and its commit. A commit that one
 * host cannot make is made by none (the previous version stays, whole); one that every
 * host prepared lands even when the disk fills after the prepare.
 */
#include "committest.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define FULL_HOSTS 3
#define FULL_HOST 2                  /* the host whose disk fills */
#define FULL_SIZE (6 * UNIT + 1000)  /* two stripes and a bit on every host */

static char full_mnt[64];   /* the small tmpfs (made and removed by the parent process) */
static int full_mounted;

static void full_setup(void)
{
    strcpy(full_mnt, "/tmp/cnio-full-XXXXXX");
    if (!mkdtemp(full_mnt))
        return;
    full_mounted = mount("tmpfs", full_mnt, "tmpfs", 0, "size=2m") == 0;
    if (!full_mounted)
        fprintf(stderr, "check_server_full: cannot mount a tmpfs (%s): not checked\n",
                strerror(errno));
}

static void full_teardown(void)
{
    if (full_mounted)
        umount2(full_mnt, MNT_DETACH);
    rmdir(full_mnt);
}

/* Three servers, FULL_HOST's root on the tmpfs (emptied); *u and *stk for the client. */
static void full_start(struct cnio_stack **stk, struct cnio_uri *u, struct cnio_hints *h)
{
    char uri[1024], cmd[PATH_MAX + 16];

    fx_stop(&st_fx);
    ck_assert_int_eq(fx_start(&st_fx, FULL_HOSTS, NULL), 0);
    ck_assert_int_ge(fx_kill(&st_fx, FULL_HOST, SIGTERM), 0);
    snprintf(cmd, sizeof(cmd), "rm -rf %s/* %s/.cnio", full_mnt, full_mnt);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_lt(snprintf(cmd, sizeof(cmd), "rm -rf %s", st_fx.root[FULL_HOST]),
                     (int)sizeof(cmd));
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(symlink(full_mnt, st_fx.root[FULL_HOST]), 0);
    ck_assert_int_eq(fx_restart(&st_fx, FULL_HOST, NULL), 0);
    ck_assert_int_eq(cnio__stack_open(stk), 0);
    ck_assert_int_eq(cnio__uri_parse(fx_uri(&st_fx, "d/obj", NULL, uri, sizeof(uri)), u), 0);
    ck_assert_int_eq(cnio__hints_resolve(h, u), 0);
    h->striping_unit = UNIT;
    h->timeout_ms = 2000;   /* a torn object: a reader waits this long for its commit */
}

/* Writes to a file on the tmpfs until it is full (again): its path in path. */
static void full_fill(char *path, size_t cap)
{
    static char junk[4096];
    ssize_t n;
    int fd;

    snprintf(path, cap, "%s/filler", full_mnt);
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    ck_assert_int_ge(fd, 0);
    while ((n = write(fd, junk, sizeof(junk))) > 0)
        ;
    ck_assert_int_eq(errno, ENOSPC);
    close(fd);
}

static void full_upload(struct cnio_stack *stk, const struct cnio_uri *u,
                        const struct cnio_hints *h, uint64_t seed, struct cnio_obj **obj)
{
    static uint8_t data[FULL_SIZE];

    fx_fill(data, sizeof(data), seed);
    ck_assert_int_eq(cnio__obj_open(stk, u, h, STAGE | CNIO_WIRE_O_TRUNC, obj), 0);
    ck_assert_int_eq(cnio__obj_pwrite(*obj, data, sizeof(data), 0), (ssize_t)sizeof(data));
}

static void full_read_back(struct cnio_stack *stk, const struct cnio_uri *u,
                           const struct cnio_hints *h, uint64_t seed)
{
    static uint8_t want[FULL_SIZE], got[FULL_SIZE + 1];
    struct cnio_obj *obj;

    fx_fill(want, sizeof(want), seed);
    ck_assert_int_eq(cnio__obj_open(stk, u, h, 0, &obj), 0);
    ck_assert_int_eq(cnio__obj_pread(obj, got, sizeof(got), 0), (ssize_t)sizeof(want));
    ck_assert_mem_eq(got, want, sizeof(want));
    ck_assert_int_eq(cnio__obj_close(obj), 0);
}

/*
 * Version 2 of an object, written whole, cannot be committed on the third host, whose
 * disk filled before the close: the close fails with NOSPC, no host committed, and
 * version 1 reads back whole (it used to be torn: INCOMPLETE, version 1 gone).
 */
START_TEST(test_full_commit_keeps_old)
{
    struct cnio_hints h;
    struct cnio_stack *stk;
    struct cnio_uri u = { 0 };
    struct cnio_obj *obj;
    char filler[PATH_MAX];

    if (!full_mounted)
        return;
    full_start(&stk, &u, &h);
    full_upload(stk, &u, &h, 1, &obj);
    ck_assert_int_eq(cnio__obj_close(obj), 0);
    full_read_back(stk, &u, &h, 1);
    full_upload(stk, &u, &h, 2, &obj);
    full_fill(filler, sizeof(filler));
    ck_assert_int_eq(cnio__obj_close(obj), -CNIO_ERR_NOSPC);
    full_read_back(stk, &u, &h, 1);
    for (int j = 0; j < FULL_HOSTS; j++)   /* the upload was discarded everywhere */
        ck_assert_int_eq(staged_files_on(j), 0);
    /* with room again, the same upload lands */
    ck_assert_int_eq(unlink(filler), 0);
    full_upload(stk, &u, &h, 3, &obj);
    ck_assert_int_eq(cnio__obj_close(obj), 0);
    full_read_back(stk, &u, &h, 3);
    cnio__uri_free(&u);
    cnio__stack_close(stk);
    fx_stop(&st_fx);
}
END_TEST

/*
 * A commit its host prepared (PREPARE) only overwrites in place and renames: it lands
 * though the disk filled after the prepare, over an object and as a new name.
 */
START_TEST(test_prepared_commit_on_full_disk)
{
    static uint8_t v1[3 * UNIT], v2[3 * UNIT];
    struct cnio_hints h;
    struct cnio_stack *stk;
    struct cnio_uri u = { 0 };
    struct cnio_wire_info info;
    struct st_conn c;
    char filler[PATH_MAX];
    uint64_t h1, h2, h3;

    if (!full_mounted)
        return;
    full_start(&stk, &u, &h);
    fx_fill(v1, sizeof(v1), 11);
    fx_fill(v2, sizeof(v2), 12);
    st_session(&st_fx, FULL_HOST, &c);
    ck_assert(c.ch.caps & CNIO_WIRE_CAP_PREPARE);
    ck_assert_int_eq(open_at(&c, "p/o", STAGE, 0x501, &h1, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, h1, 0, v1, sizeof(v1)), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, h1, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h1, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(open_at(&c, "p/o", STAGE | CNIO_WIRE_O_TRUNC, 0x502, &h2, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, h2, 0, v2, sizeof(v2)), 0);
    ck_assert_int_eq(open_at(&c, "p/new/n", STAGE, 0x503, &h3, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, h3, 0, v2, sizeof(v2)), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_PREPARE, h2, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_PREPARE, h3, 0, NULL, 0, NULL, NULL, 0), 0);
    full_fill(filler, sizeof(filler));
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, h2, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, h3, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h2, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h3, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_stat(&c, "p/o", &info), 0);
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_INCOMPLETE, 0);
    ck_assert_uint_eq(info.gen, 0x502);
    read_back(&c, "p/o", v2, sizeof(v2));
    read_back(&c, "p/new/n", v2, sizeof(v2));
    ck_assert_int_eq(staged_files_on(FULL_HOST), 0);
    /* a PREPARE on the full disk fails, and the object stays as it was */
    ck_assert_int_eq(open_at(&c, "p/o", STAGE | CNIO_WIRE_O_TRUNC, 0x504, &h1, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&c, h1, 0, v1, UNIT), 0);
    full_fill(filler, sizeof(filler));   /* (v1's room came back at the commit) */
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_PREPARE, h1, 0, NULL, 0, NULL, NULL, 0),
                     -CNIO_ERR_NOSPC);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_ABORT, h1, 0, NULL, 0, NULL, NULL, 0), 0);
    read_back(&c, "p/o", v2, sizeof(v2));
    ck_assert_int_eq(staged_files_on(FULL_HOST), 0);
    st_close(&c);
    cnio__uri_free(&u);
    cnio__stack_close(stk);
    fx_stop(&st_fx);
}
END_TEST

/*
 * The same for small files uploaded in batches (`cnio cp -r`) over three columns
 * (striping_factor), the third host's disk full but for one page, which the batch's
 * OPENs take: an object that host cannot commit is committed by none (its error says
 * NOSPC) and its old version stays whole; one it can is committed whole. None is torn
 * (each used to be: INCOMPLETE).
 */
START_TEST(test_full_batch_keeps_old)
{
    static uint8_t v1[2][3000], v2[2][3000];
    static const char *const names[2] = { "b/one", "b/two" };
    struct cnio_ns_put p[2];
    struct cnio_hints h;
    struct cnio_stack *stk;
    struct cnio_uri u = { 0 };
    struct cnio_ns *ns;
    struct cnio_obj *obj;
    char filler[PATH_MAX], uri[1024];
    uint8_t got[3001];
    struct stat sb;

    if (!full_mounted)
        return;
    full_start(&stk, &u, &h);
    h.striping_factor = FULL_HOSTS;
    ck_assert_int_eq(cnio__ns_open(stk, &u, &h, &ns), 0);
    for (int i = 0; i < 2; i++) {
        fx_fill(v1[i], sizeof(v1[i]), 21 + (uint64_t)i);
        fx_fill(v2[i], sizeof(v2[i]), 31 + (uint64_t)i);
        p[i] = (struct cnio_ns_put){ .path = names[i], .data = v1[i], .size = sizeof(v1[i]) };
    }
    ck_assert_int_eq(cnio__ns_put_small(ns, p, 2), 0);
    ck_assert_int_eq(p[0].status, 0);
    ck_assert_int_eq(p[1].status, 0);
    full_fill(filler, sizeof(filler));
    ck_assert_int_eq(stat(filler, &sb), 0);
    ck_assert_int_eq(truncate(filler, sb.st_size - sb.st_size % 4096 - 4096), 0);
    for (int i = 0; i < 2; i++)
        p[i] = (struct cnio_ns_put){ .path = names[i], .data = v2[i], .size = sizeof(v2[i]) };
    cnio__ns_put_small(ns, p, 2);
    cnio__ns_close(ns);
    cnio__uri_free(&u);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(cnio__uri_parse(fx_uri(&st_fx, names[i], NULL, uri, sizeof(uri)), &u),
                         0);
        ck_assert_int_eq(cnio__obj_open(stk, &u, &h, 0, &obj), 0);
        ck_assert_int_eq(cnio__obj_pread(obj, got, sizeof(got), 0), (ssize_t)sizeof(v1[i]));
        ck_assert_msg(p[i].status == 0 || p[i].status == -CNIO_ERR_NOSPC, "status %d",
                      p[i].status);
        ck_assert_mem_eq(got, p[i].status ? v1[i] : v2[i], sizeof(v1[i]));
        ck_assert_int_eq(cnio__obj_close(obj), 0);
        cnio__uri_free(&u);
    }
    for (int j = 0; j < FULL_HOSTS; j++)
        ck_assert_int_eq(staged_files_on(j), 0);
    cnio__stack_close(stk);
    fx_stop(&st_fx);
}
END_TEST

static Suite *full_suite(void)
{
    Suite *s = suite_create("server_full");
    TCase *tc = tcase_create("full");

    tcase_add_unchecked_fixture(tc, full_setup, full_teardown);
    tcase_add_checked_fixture(tc, st_setup, st_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_full_commit_keeps_old);
    tcase_add_test(tc, test_prepared_commit_on_full_disk);
    tcase_add_test(tc, test_full_batch_keeps_old);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_run(full_suite());
}
