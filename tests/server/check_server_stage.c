/*
 * check_server_stage.c - the life of cnio-server's staged instances over raw frames:
 * their size and metadata (kept in memory until they matter), a server crash with
 * uploads staged, resume and CRC, UNLINK of one instance, stale instances pruned by a
 * commit, a second open joining a live instance, resumes that leave live ones alone, the
 * expiry of interrupted uploads, an abort over a broken connection, and
 * RENAME of committed objects (checksums with them; finished after a crash).
 */
#include "committest.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The size recorded in staged instance id's metadata file on server 0, or UINT64_MAX
 * while there is no such file (it is written only once it matters). */
static uint64_t staged_meta_size(uint64_t id)
{
    char path[PATH_MAX + 64];
    uint8_t meta[64];
    int fd;

    snprintf(path, sizeof(path), "%s/.cnio/stage/%016llx.meta", st_fx.root[0],
             (unsigned long long)id);
    fd = open(path, O_RDONLY);
    if (fd < 0 && errno == ENOENT)
        return UINT64_MAX;
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, meta, sizeof(meta), 0), (ssize_t)sizeof(meta));
    close(fd);
    return cnio__get_le64(meta + 32);
}

/* A writer on a session of its own stages name as instance id, writes len bytes of data
 * and goes without committing; *c is then a new session, opened once the server has
 * released that writer's handle (until then the writer counts as live). */
static void interrupted_upload(struct st_conn *c, const char *name, uint64_t id,
                               const void *data, uint32_t len)
{
    uint64_t h;

    st_session(&st_fx, 0, c);
    ck_assert_int_eq(open_at(c, name, STAGE, id, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_write(c, h, 0, data, len), 0);
    st_close(c);
    st_session(&st_fx, 0, c);
    wait_released(c, h);
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
    ck_assert_uint_eq(staged_meta_size(0x51), UINT64_MAX);   /* not written yet */
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

/* 1 when path (beneath server 0's root) exists. */
static int on_root0(const char *path)
{
    char p[PATH_MAX + 64];
    struct stat sb;

    snprintf(p, sizeof(p), "%s/%s", st_fx.root[0], path);
    return lstat(p, &sb) == 0;
}

/* Writes server 0's .cnio/rename as src/server/rename.c lays it out (kept in step by
 * hand: a change of the format must change this too). */
static void write_intent(uint32_t flags, const char *from, const char *to, int damage)
{
    uint8_t b[64 + 2 * CNIO_WIRE_MAX_NAME];
    size_t nf = strlen(from), nt = strlen(to), n = 20 + nf + nt;
    char p[PATH_MAX + 64];
    int fd;

    cnio__put_le32(b, 0x4e524e43u);
    cnio__put_le32(b + 4, 1);
    cnio__put_le32(b + 8, flags);
    cnio__put_le32(b + 12, (uint32_t)nf);
    cnio__put_le32(b + 16, (uint32_t)nt);
    memcpy(b + 20, from, nf);
    memcpy(b + 20 + nf, to, nt);
    cnio__put_le32(b + n, cnio__crc32c(0, b, n) ^ (damage ? 1u : 0u));
    snprintf(p, sizeof(p), "%s/.cnio/rename", st_fx.root[0]);
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, b, n + 4), (ssize_t)(n + 4));
    close(fd);
}

static void commit_obj(struct st_conn *c, const char *name, uint64_t id, const uint8_t *d,
                       uint32_t len)
{
    uint64_t h;

    ck_assert_int_eq(open_at(c, name, STAGE, id, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_write(c, h, 0, d, len), 0);
    ck_assert_int_eq(st_call(c, CNIO_WIRE_SETSIZE, h, len, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(c, CNIO_WIRE_COMMIT, h, 1, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
}

/*
 * RENAME moves an object's data, metadata and block checksums, over an object of the
 * new name too; a server killed between the data's rename and the metadata's (the state
 * made by hand, with the intent rename.c writes first) finishes it when it starts again,
 * so the object reads back whole under its new name; a damaged intent is dropped.
 */
START_TEST(test_rename_moves_all_and_recovers)
{
    static uint8_t data[70000], other[3000];
    struct cnio_wire_info info;
    struct st_conn c;
    char a[PATH_MAX + 64], b[PATH_MAX + 64];

    fx_fill(data, sizeof(data), 21);
    fx_fill(other, sizeof(other), 22);
    st_session(&st_fx, 0, &c);
    commit_obj(&c, "rn/a", 0x71, data, sizeof(data));
    commit_obj(&c, "rn/old", 0x72, other, sizeof(other));
    ck_assert_int_eq(rename_req(&c, "rn/a", "rn/x/b"), 0);
    ck_assert(on_root0("rn/x/b") && on_root0(".cnio/meta/rn/x/b") && on_root0(".cnio/sums/rn/x/b"));
    ck_assert(!on_root0("rn/a") && !on_root0(".cnio/meta/rn/a") && !on_root0(".cnio/sums/rn/a"));
    ck_assert(!on_root0(".cnio/rename"));
    read_back(&c, "rn/x/b", data, sizeof(data));
    ck_assert_int_eq(rename_req(&c, "rn/x/b", "rn/old"), 0);   /* over an object */
    read_back(&c, "rn/old", data, sizeof(data));
    ck_assert_int_eq(rename_req(&c, "rn/nothing", "rn/y"), -CNIO_ERR_NOENT);

    /* killed with the data moved and the metadata and checksums not */
    ck_assert_int_ne(fx_kill(&st_fx, 0, SIGKILL), -1);
    st_close(&c);
    write_intent(3, "rn/old", "rn/new", 0);
    snprintf(a, sizeof(a), "%s/rn/old", st_fx.root[0]);
    snprintf(b, sizeof(b), "%s/rn/new", st_fx.root[0]);
    ck_assert_int_eq(rename(a, b), 0);
    ck_assert_int_eq(fx_restart(&st_fx, 0, NULL), 0);
    st_session(&st_fx, 0, &c);
    ck_assert(!on_root0(".cnio/rename"));
    ck_assert(on_root0(".cnio/meta/rn/new") && on_root0(".cnio/sums/rn/new"));
    ck_assert_int_eq(st_stat(&c, "rn/old", &info), -CNIO_ERR_NOENT);
    ck_assert_int_eq(st_stat(&c, "rn/new", &info), 0);
    ck_assert_uint_eq(info.size, sizeof(data));
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_INCOMPLETE, 0);
    read_back(&c, "rn/new", data, sizeof(data));

    /* a damaged intent: dropped, nothing moved */
    ck_assert_int_ne(fx_kill(&st_fx, 0, SIGKILL), -1);
    st_close(&c);
    write_intent(3, "rn/new", "rn/z", 1);
    ck_assert_int_eq(fx_restart(&st_fx, 0, NULL), 0);
    st_session(&st_fx, 0, &c);
    ck_assert(!on_root0(".cnio/rename"));
    read_back(&c, "rn/new", data, sizeof(data));
    ck_assert_int_eq(st_stat(&c, "rn/z", &info), -CNIO_ERR_NOENT);
    st_close(&c);
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
    interrupted_upload(&c, "r/x", 0xabc, data, sizeof(data));   /* live until released */
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

/* A commit removes the instances of its name that no writer holds any more. */
START_TEST(test_commit_prunes_stale)
{
    static uint8_t data[1000];
    struct cnio_wire_info info;
    struct st_conn c;
    uint64_t h;

    fx_fill(data, sizeof(data), 8);
    interrupted_upload(&c, "p", 21, data, 10);   /* (while live, its instance stays) */
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

/*
 * RESUME (no instance named) takes the newest instance whose writer went, never one a
 * live writer holds: another `cnio cp` of the name still running, or the ranks of a job
 * whose mpirun was killed. It took the live one: both wrote it, the first commit made
 * the object of both writers' bytes with success, and the second found the instance
 * gone ("the upload was removed (cnio rm of its name)").
 */
START_TEST(test_resume_skips_live)
{
    static uint8_t data[3000];
    struct cnio_wire_info info;
    struct st_conn a, b;
    uint64_t ha, hb, roff;

    fx_fill(data, sizeof(data), 13);
    interrupted_upload(&a, "rl/x", 0x60, data, 100);
    usleep(20000);   /* the live one is the newer */
    ck_assert_int_eq(open_at(&a, "rl/x", STAGE | CNIO_WIRE_O_TRUNC, 0x61, &ha, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&a, ha, 0, data, 2000), 0);
    st_session(&st_fx, 0, &b);
    ck_assert_int_eq(open_at(&b, "rl/x", STAGE | CNIO_WIRE_O_RESUME, 0, &hb, &info, &roff), 0);
    ck_assert_uint_eq(roff, 0x60);   /* the interrupted one */
    ck_assert_uint_eq(info.local_size, 100);
    /* a second resume finds none left: neither is interrupted any more */
    ck_assert_int_eq(open_at(&a, "rl/x", STAGE | CNIO_WIRE_O_RESUME, 0, NULL, NULL, NULL),
                     -CNIO_ERR_NOENT);
    /* each commits its own bytes, whole; the last commit is the object */
    ck_assert_int_eq(st_write(&b, hb, 0, data, sizeof(data)), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_COMMIT, ha, 1, NULL, 0, NULL, NULL, 0), 0);
    read_back(&a, "rl/x", data, 2000);
    ck_assert_int_eq(st_call(&b, CNIO_WIRE_COMMIT, hb, 2, NULL, 0, NULL, NULL, 0), 0);
    read_back(&b, "rl/x", data, sizeof(data));
    ck_assert_int_eq(staged_files(), 0);
    /* once its writer went, the instance is resumed */
    ck_assert_int_eq(open_at(&a, "rl/y", STAGE, 0x62, &ha, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&a, ha, 0, data, 500), 0);
    ck_assert_int_eq(open_at(&b, "rl/y", STAGE | CNIO_WIRE_O_RESUME, 0, NULL, NULL, NULL),
                     -CNIO_ERR_NOENT);
    st_close(&a);
    wait_released(&b, ha);
    ck_assert_int_eq(open_at(&b, "rl/y", STAGE | CNIO_WIRE_O_RESUME, 0, &hb, &info, &roff), 0);
    ck_assert_uint_eq(roff, 0x62);
    ck_assert_uint_eq(info.local_size, 500);
    ck_assert_int_eq(st_call(&b, CNIO_WIRE_ABORT, hb, 0, NULL, 0, NULL, NULL, 0), 0);
    st_close(&b);
}
END_TEST

/* 1 when server 0's log holds text. */
static int log_has(const char *text)
{
    char path[PATH_MAX + 64], line[1024];
    int found = 0;
    FILE *fp;

    snprintf(path, sizeof(path), "%s/server0.log", st_fx.dir);
    fp = fopen(path, "r");
    while (fp && !found && fgets(line, sizeof(line), fp))
        found = strstr(line, text) != NULL;
    if (fp)
        fclose(fp);
    return found;
}

/*
 * --stage-expire: an interrupted upload left unchanged that long is removed (and
 * logged); one a live writer holds stays, however long it is left unchanged, and
 * commits whole. Before the option, interrupted uploads stayed until a commit of their
 * name or `cnio rm` of it: a server's stage grew with every killed upload.
 */
START_TEST(test_stage_expire)
{
    static const char *const extra[] = { "--stage-expire", "1", "--log-level", "info", NULL };
    static uint8_t data[4000];
    struct cnio_wire_info info;
    struct st_conn a, b, c, j;
    uint64_t hb, hc, hj;
    int gone = 0;

    fx_fill(data, sizeof(data), 14);
    ck_assert_int_ne(fx_kill(&st_fx, 0, SIGTERM), -1);
    ck_assert_int_eq(fx_restart(&st_fx, 0, extra), 0);
    st_session(&st_fx, 0, &b);
    ck_assert_int_eq(open_at(&b, "ex/live", STAGE, 0x72, &hb, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&b, hb, 0, data, sizeof(data)), 0);
    /* an instance whose creator went while a writer that joined it still holds it (it
     * was expired: only the creator's handle counted as live) */
    st_session(&st_fx, 0, &c);
    st_session(&st_fx, 0, &j);
    ck_assert_int_eq(open_at(&c, "ex/joined", STAGE, 0x73, &hc, NULL, NULL), 0);
    ck_assert_int_eq(open_at(&j, "ex/joined", STAGE, 0x74, &hj, &info, NULL), 0);
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_JOINED, CNIO_WIRE_I_JOINED);
    ck_assert_int_eq(st_write(&j, hj, 0, data, 100), 0);
    st_close(&c);
    interrupted_upload(&a, "ex/old", 0x71, data, 100);
    wait_released(&a, hc);
    for (int i = 0; i < 200 && !gone; i++) {   /* within a pass or two: 1-3 s */
        gone = st_stat(&a, "ex/old", &info) == -CNIO_ERR_NOENT;
        if (!gone)
            usleep(50000);
    }
    ck_assert_msg(gone, "the interrupted upload was still there after 10 s");
    ck_assert_int_eq(open_at(&a, "ex/old", STAGE | CNIO_WIRE_O_RESUME, 0, NULL, NULL, NULL),
                     -CNIO_ERR_NOENT);
    ck_assert(log_has("removed an interrupted upload of ex/old"));
    sleep(3);   /* the live one, unchanged all that time, stays */
    ck_assert_int_eq(st_stat(&a, "ex/live", &info), 0);
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_STAGED, CNIO_WIRE_I_STAGED);
    ck_assert_int_eq(st_stat(&a, "ex/joined", &info), 0);   /* held by the joiner */
    ck_assert_int_eq(staged_files(), 2);
    ck_assert_int_eq(st_call(&b, CNIO_WIRE_COMMIT, hb, 1, NULL, 0, NULL, NULL, 0), 0);
    read_back(&a, "ex/live", data, sizeof(data));
    ck_assert(!log_has("ex/live"));
    /* its CLOSE says that what it wrote did not commit (it said nothing: its bytes were
     * lost with exit 0 when the writer that created the object died first) */
    ck_assert_int_eq(st_call(&j, CNIO_WIRE_CLOSE, hj, 0, NULL, 0, NULL, NULL, 0),
                     -CNIO_ERR_INCOMPLETE);
    ck_assert(log_has("the writer that created it went without committing it"));
    st_close(&j);   /* nobody holds it now: it goes */
    gone = 0;
    for (int i = 0; i < 200 && !gone; i++) {
        gone = st_stat(&a, "ex/joined", &info) == -CNIO_ERR_NOENT;
        if (!gone)
            usleep(50000);
        ck_assert_msg(gone || i < 199, "the joined upload outlived its last writer by 10 s");
    }
    st_close(&a);
    st_close(&b);
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

/* Sessions a and b on server 0: a stages name as instance id (handle *ha), and b's
 * own staging open of it joins that instance (handle *hb), as PnetCDF's second handle
 * does. */
static void stage_and_join(const char *name, uint64_t id, struct st_conn *a,
                           struct st_conn *b, uint64_t *ha, uint64_t *hb)
{
    struct cnio_wire_info info;

    st_session(&st_fx, 0, a);
    st_session(&st_fx, 0, b);
    ck_assert_int_eq(open_at(a, name, STAGE, id, ha, NULL, NULL), 0);
    ck_assert_int_eq(open_at(b, name, STAGE, id + 1, hb, &info, NULL), 0);
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_JOINED, CNIO_WIRE_I_JOINED);
}

/* The size a handle that joined an instance sets last is the object's (PnetCDF's second
 * handle, with MPI_MODE_CREATE): the commit took its creator's own (3000 bytes, 1000 of
 * them data and the rest zeros, exit 0), and the joiner's SETSIZE wrote metadata for
 * the name, which has no object yet. */
START_TEST(test_join_sets_size)
{
    static uint8_t data[3000];
    struct cnio_wire_info info;
    struct st_conn a, b;
    uint64_t ha, hb;

    fx_fill(data, sizeof(data), 12);
    stage_and_join("js", 61, &a, &b, &ha, &hb);
    ck_assert_int_eq(st_write(&a, ha, 0, data, sizeof(data)), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_SETSIZE, ha, 3000, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&b, CNIO_WIRE_SETSIZE, hb, 1000, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(on_root0(".cnio/meta/js"), 0);   /* nothing for an object not there */
    ck_assert_int_eq(st_call(&b, CNIO_WIRE_CLOSE, hb, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_COMMIT, ha, 6, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_stat(&a, "js", &info), 0);
    ck_assert_uint_eq(info.size, 1000);
    read_back(&a, "js", data, 1000);
    st_close(&a);
    st_close(&b);
}
END_TEST

/*
 * A writer that joined an instance and went without closing it (killed: its connection
 * lost mid-update) may have written part of what it meant to: the instance is not
 * committed, PREPARE and COMMIT both refuse it, saying why. Before, the creator's commit
 * took the torn bytes, and they read back as complete (helper-109's F2). A joiner that
 * closed cleanly is no such writer (test_join_sets_size).
 */
START_TEST(test_join_lost_refused)
{
    static uint8_t data[3000];
    struct cnio_wire_info info;
    struct st_conn a, b;
    uint64_t ha, hb;

    fx_fill(data, sizeof(data), 14);
    stage_and_join("jl", 71, &a, &b, &ha, &hb);
    ck_assert_int_eq(st_write(&a, ha, 0, data, sizeof(data)), 0);
    ck_assert_int_eq(st_write(&b, hb, 1000, data, 500), 0);
    st_close(&b);   /* its connection lost, no CLOSE */
    wait_released(&a, hb);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_PREPARE, ha, 0, NULL, 0, NULL, NULL, 0),
                     -CNIO_ERR_INCOMPLETE);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_COMMIT, ha, 0, NULL, 0, NULL, NULL, 0),
                     -CNIO_ERR_INCOMPLETE);
    ck_assert_int_eq(st_stat(&a, "jl", &info), 0);   /* still an upload, not an object */
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_STAGED, CNIO_WIRE_I_STAGED);
    ck_assert_int_eq(open_at(&a, "jl", 0, 0, NULL, NULL, NULL), -CNIO_ERR_INCOMPLETE);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_ABORT, ha, 0, NULL, 0, NULL, NULL, 0), 0);
    st_close(&a);
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
    /* A column that joins after its writer committed (it reached this host late) opens
     * the object that commit made, in place; it used to get NOENT, and its client waited
     * for an instance that was gone. Another instance's id still finds nothing. */
    ck_assert_int_eq(open_at(&b, "j", W | CNIO_WIRE_O_JOIN, 51, &hb, &info, NULL), 0);
    ck_assert_uint_eq(info.flags & (CNIO_WIRE_I_STAGED | CNIO_WIRE_I_JOINED), 0);
    ck_assert_int_eq(st_write(&b, hb, 1000, data + 1000, 1000), 0);
    ck_assert_int_eq(st_call(&b, CNIO_WIRE_CLOSE, hb, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(open_at(&b, "j", W | CNIO_WIRE_O_JOIN, 99, NULL, NULL, NULL),
                     -CNIO_ERR_NOENT);
    read_back(&a, "j", data, sizeof(data));   /* complete again: no dirty mark left */
    st_close(&a);
    st_close(&b);
}
END_TEST

/* A joiner still open at its instance's commit becomes a writer in place there; its
 * close counts no update in place (CNIO_WIRE_CAP_UPDATES): on each host it may come
 * before the commit or after, and the hosts' counts would differ for an object written
 * whole, which readers then refused as two generations. */
START_TEST(test_join_adopted_counts_nothing)
{
    static uint8_t data[2000];
    struct cnio_wire_info info;
    struct st_conn a, b;
    uint64_t ha, hb;

    fx_fill(data, sizeof(data), 12);
    stage_and_join("ad", 61, &a, &b, &ha, &hb);
    ck_assert_int_eq(st_write(&a, ha, 0, data, 1000), 0);
    ck_assert_int_eq(st_write(&b, hb, 1000, data + 1000, 1000), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_COMMIT, ha, 5, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, ha, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&b, CNIO_WIRE_CLOSE, hb, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_stat(&a, "ad", &info), 0);
    ck_assert_uint_eq(info.gen, 61);   /* no update counted */
    ck_assert_uint_eq(info.flags & CNIO_WIRE_I_DIRTY, 0);
    read_back(&a, "ad", data, sizeof(data));
    /* a writer that opened it in place afterwards counts one */
    ck_assert_int_eq(open_at(&b, "ad", W, 0, &hb, NULL, NULL), 0);
    ck_assert_int_eq(st_call(&b, CNIO_WIRE_CLOSE, hb, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_stat(&a, "ad", &info), 0);
    ck_assert_uint_eq(info.gen, cnio__wire_gen(61, 1));
    st_close(&a);
    st_close(&b);
}
END_TEST

/*
 * A reader that opened an object before a new version of it committed reads the version
 * it opened, whole and checked: its block sums are opened with its data at OPEN, not by
 * name at its first READ, which found the new version's sums beside the old data and
 * failed "checksum mismatch" (a trial's readers, during repeated uploads, 1 in 10).
 */
START_TEST(test_reader_keeps_its_version)
{
    static uint8_t v1[3000], v2[3000];
    struct st_conn r, w;
    uint8_t buf[3001];
    uint32_t got = 0;
    uint64_t hr, hw;

    fx_fill(v1, sizeof(v1), 21);
    fx_fill(v2, sizeof(v2), 22);
    st_session(&st_fx, 0, &r);
    st_session(&st_fx, 0, &w);
    commit_obj(&w, "v", 61, v1, sizeof(v1));
    ck_assert_int_eq(open_at(&r, "v", 0, 0, &hr, NULL, NULL), 0);
    /* a new version replaces it while r has it open (a later commit order) */
    ck_assert_int_eq(open_at(&w, "v", STAGE | CNIO_WIRE_O_TRUNC, 62, &hw, NULL, NULL), 0);
    ck_assert_int_eq(st_write(&w, hw, 0, v2, sizeof(v2)), 0);
    ck_assert_int_eq(st_call(&w, CNIO_WIRE_SETSIZE, hw, sizeof(v2), NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&w, CNIO_WIRE_COMMIT, hw, 2, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&w, CNIO_WIRE_CLOSE, hw, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_read(&r, hr, 0, buf, sizeof(buf), &got), 0);
    ck_assert_uint_eq(got, sizeof(v1));
    ck_assert_int_eq(memcmp(buf, v1, sizeof(v1)), 0);
    ck_assert_int_eq(st_call(&r, CNIO_WIRE_CLOSE, hr, 0, NULL, 0, NULL, NULL, 0), 0);
    read_back(&r, "v", v2, sizeof(v2));
    st_close(&r);
    st_close(&w);
}
END_TEST

/* RENAME of an object open for writing in place, of a directory above one, or of
 * another object onto it, is refused until the writer closes: its CLOSE looked the
 * object up by its old name, failed, and left the moved object marked as an
 * interrupted update. */
START_TEST(test_rename_refused_while_written)
{
    static uint8_t data[5000];
    struct st_conn a, b;
    uint64_t h;

    fx_fill(data, sizeof(data), 23);
    st_session(&st_fx, 0, &a);
    st_session(&st_fx, 0, &b);
    commit_obj(&a, "wd/o", 71, data, sizeof(data));
    ck_assert_int_eq(open_at(&a, "wd/o", W, 0, &h, NULL, NULL), 0);
    ck_assert_int_eq(rename_req(&b, "wd/o", "wd/p"), -CNIO_ERR_ACCESS);
    ck_assert_int_eq(rename_req(&b, "wd", "we"), -CNIO_ERR_ACCESS);
    /* onto it: as a commit that would replace it (the writer's close then said the
     * object had been removed by cnio rm, and its writes went nowhere) */
    commit_obj(&b, "wd/q", 72, data, 100);
    ck_assert_int_eq(rename_req(&b, "wd/q", "wd/o"), -CNIO_ERR_ACCESS);
    read_back(&b, "wd/q", data, 100);
    ck_assert_int_eq(st_write(&a, h, 0, data, 1000), 0);
    ck_assert_int_eq(st_call(&a, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(rename_req(&b, "wd/o", "wd/p"), 0);
    read_back(&b, "wd/p", data, sizeof(data));   /* complete: no mark left */
    st_close(&a);
    st_close(&b);
}
END_TEST

static Suite *stage_suite(void)
{
    Suite *s = suite_create("server_stage");
    TCase *tc = tcase_create("stage");

    tcase_add_checked_fixture(tc, st_setup, st_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_stage_size_kept);
    tcase_add_test(tc, test_stage_crash_small_and_long);
    tcase_add_test(tc, test_resume_and_crc);
    tcase_add_test(tc, test_stage_errors_and_unlink);
    tcase_add_test(tc, test_commit_prunes_stale);
    tcase_add_test(tc, test_join_live_instance);
    tcase_add_test(tc, test_join_adopted_counts_nothing);
    tcase_add_test(tc, test_join_sets_size);
    tcase_add_test(tc, test_join_lost_refused);
    tcase_add_test(tc, test_resume_skips_live);
    tcase_add_test(tc, test_stage_expire);
    tcase_add_test(tc, test_reader_keeps_its_version);
    tcase_add_test(tc, test_rename_refused_while_written);
    tcase_add_test(tc, test_abort_broken_connection);
    tcase_add_test(tc, test_rename_moves_all_and_recovers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_run(stage_suite());
}
