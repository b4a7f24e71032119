/*
 * check_server_sums.c - cnio-server's block sums files (src/server/sums.c, sums_file.c;
 * the format in sums_int.h) damaged on disk by hand, as a user sees it through READ:
 * damage to a sums file must never turn the check of the data off. A pending bit
 * flipped in a block's entry, a damaged entry alone, a damaged header, each with or
 * without damaged data; a block left pending by a crash (a valid pending entry), healed
 * by a writer; a version-1 sums file, as servers before version 2 left them; and
 * damaged data, a missing sums file and a data file cut short, while a writer holds the
 * object open in place.
 */
#include "srvtest.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define RW (CNIO_WIRE_O_CREATE | CNIO_WIRE_O_WRITE)
#define UNIT 65536
#define NB 4

static uint8_t data[NB * UNIT], back[NB * UNIT];

/* The path of object name's data file (sums 0) or block sums file (sums 1) on server 0. */
static void obj_path(const char *name, int sums, char *out, size_t cap)
{
    char path[PATH_MAX];

    ck_assert_ptr_nonnull(fx_local_path(&st_fx, 0, name, path, sizeof(path)));
    if (!sums) {
        snprintf(out, cap, "%s", path);
        return;
    }
    path[strlen(path) - strlen(name)] = '\0';
    snprintf(out, cap, "%s.cnio/sums/%s", path, name);
}

/* XORs byte off of object name's data file (sums 0) or sums file (sums 1) with x. */
static void obj_xor(const char *name, int sums, off_t off, uint8_t x)
{
    char path[PATH_MAX + 32];
    uint8_t v;
    int fd;

    obj_path(name, sums, path, sizeof(path));
    fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, &v, 1, off), 1);
    v ^= x;
    ck_assert_int_eq(pwrite(fd, &v, 1, off), 1);
    close(fd);
}

/* Byte off of object name's sums file. */
static uint8_t sums_byte(const char *name, off_t off)
{
    char path[PATH_MAX + 32];
    uint8_t v;
    int fd;

    obj_path(name, 1, path, sizeof(path));
    fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, &v, 1, off), 1);
    close(fd);
    return v;
}

/* Where byte k of block b's entry is in name's sums file, in the layout of the file's
 * version (byte 8 of its header): so that these tests mean the same against a server
 * that writes version 1, the one whose holes they show. */
static off_t ent_at(const char *name, uint64_t b, int k)
{
    if (sums_byte(name, 8) == 1)
        return (off_t)(16 + b * 8 + (uint64_t)k);
    return (off_t)(32 + b * 16 + (uint64_t)k);
}

/* Writes block b's version-2 entry {crc, covered} into name's sums file, with its check
 * word computed here from the format (sums_int.h), not by the server's encoder. */
static void ent_put_v2(const char *name, uint64_t b, uint32_t crc, uint32_t covered)
{
    char path[PATH_MAX + 32];
    uint8_t raw[16], idx[8];
    int fd;

    cnio__put_le32(raw, crc);
    cnio__put_le32(raw + 4, covered);
    cnio__put_le32(raw + 8, 0);
    cnio__put_le64(idx, b);
    cnio__put_le32(raw + 12, cnio__crc32c(cnio__crc32c(0, idx, 8), raw, 12));
    obj_path(name, 1, path, sizeof(path));
    fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, raw, sizeof(raw), (off_t)(32 + b * 16)), (ssize_t)sizeof(raw));
    close(fd);
}

/* Object name: NB blocks of data written through the server and closed. */
static void obj_make(const char *name, int seed)
{
    struct st_conn c;
    uint64_t h;

    fx_fill(data, sizeof(data), seed);
    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(st_open(&c, name, RW, 1, UNIT, 0, &h, NULL), 0);
    ck_assert_int_eq(st_write(&c, h, 0, data, sizeof(data)), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    st_close(&c);
}

/* READ of [off, off + len) of name through a fresh read-only handle: its status; with 0,
 * the bytes must be the ones written. */
static int obj_read(const char *name, uint64_t off, uint32_t len)
{
    struct st_conn c;
    uint32_t got = 0;
    uint64_t h;
    int ret;

    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(st_open(&c, name, 0, 0, 0, 0, &h, NULL), 0);
    ret = st_read(&c, h, off, back, len, &got);
    if (ret == 0) {
        ck_assert_uint_eq(got, len);
        ck_assert_int_eq(memcmp(back, data + off, len), 0);
    }
    st_close(&c);
    return ret;
}

/* Hole 1: bit 31 of an entry (pending) and a byte of its block's data, both damaged. The
 * block was served unchecked, the damaged byte with success: now a checksum error, by
 * a small READ, a READ of the block whole and one of the whole object. */
START_TEST(test_sums_pending_bit_and_data)
{
    obj_make("p1", 21);
    obj_xor("p1", 1, ent_at("p1", 2, 7), 0x80);
    obj_xor("p1", 0, 2 * UNIT + 100, 0x01);
    ck_assert_int_eq(obj_read("p1", 2 * UNIT + 50, 100), -CNIO_ERR_CHECKSUM);
    ck_assert_int_eq(obj_read("p1", 2 * UNIT, UNIT), -CNIO_ERR_CHECKSUM);
    ck_assert_int_eq(obj_read("p1", 0, NB * UNIT), -CNIO_ERR_CHECKSUM);
}
END_TEST

/* A damaged entry alone (the data intact): that block's READs fail, as damaged data's
 * do; the other blocks read as written. A WRITE of part of the block is refused (an I/O
 * error: its other bytes would be vouched for by nothing), one of all of it gives the
 * block a new entry. */
START_TEST(test_sums_entry_damaged)
{
    struct st_conn c;
    uint64_t h;

    obj_make("e1", 22);
    obj_xor("e1", 1, ent_at("e1", 1, 7), 0x80);
    ck_assert_int_eq(obj_read("e1", UNIT + 7, 1000), -CNIO_ERR_CHECKSUM);
    ck_assert_int_eq(obj_read("e1", UNIT, UNIT), -CNIO_ERR_CHECKSUM);
    ck_assert_int_eq(obj_read("e1", 0, UNIT), 0);
    ck_assert_int_eq(obj_read("e1", 2 * UNIT, 2 * UNIT), 0);
    ck_assert_int_eq(obj_read("e1", UNIT - 10, 10), 0);
    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(st_open(&c, "e1", CNIO_WIRE_O_WRITE, 0, 0, 0, &h, NULL), 0);
    ck_assert_int_eq(st_write(&c, h, UNIT + 10, data + UNIT + 10, 100), -CNIO_ERR_IO);
    ck_assert_int_eq(st_write(&c, h, UNIT, data + UNIT, UNIT), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    st_close(&c);
    ck_assert_int_eq(obj_read("e1", 0, NB * UNIT), 0);
}
END_TEST

/* Hole 2: the header of the sums file and a byte of the data, both damaged. READ ignored
 * the sums file (a warning) and served the damaged byte with success, and a writer's
 * open rebuilt the sums from the damaged data: now every READ of the object fails with a
 * checksum error, a writer's open in place is refused, and the header stays as found. */
START_TEST(test_sums_header_and_data)
{
    struct st_conn c;
    uint64_t h;
    uint8_t x = 0x20;

    obj_make("h1", 23);
    obj_xor("h1", 1, 0, x);
    obj_xor("h1", 0, 3 * UNIT + 5, 0x01);
    ck_assert_int_eq(obj_read("h1", 3 * UNIT, 100), -CNIO_ERR_CHECKSUM);
    ck_assert_int_eq(obj_read("h1", 0, NB * UNIT), -CNIO_ERR_CHECKSUM);
    ck_assert_int_eq(obj_read("h1", 0, 100), -CNIO_ERR_CHECKSUM);   /* nothing verifies */
    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(st_open(&c, "h1", CNIO_WIRE_O_WRITE, 0, 0, 0, &h, NULL),
                     -CNIO_ERR_CHECKSUM);
    st_close(&c);
    ck_assert_int_eq(sums_byte("h1", 0), 'C' ^ x);   /* not rebuilt from the data */
    ck_assert_int_eq(obj_read("h1", 3 * UNIT, 100), -CNIO_ERR_CHECKSUM);
    obj_xor("h1", 1, 0, x);   /* the header as it was: the damaged byte is found again */
    ck_assert_int_eq(obj_read("h1", 3 * UNIT, 100), -CNIO_ERR_CHECKSUM);
    ck_assert_int_eq(obj_read("h1", 0, 3 * UNIT), 0);
}
END_TEST

/* A block left pending (a valid entry marked pending: the server killed between its data
 * and its checksum) is served from its bytes, and gets a checksum again when the next
 * writer in place closes. */
START_TEST(test_sums_pending_healed)
{
    struct st_conn c;
    uint64_t h;

    obj_make("p2", 24);
    ent_put_v2("p2", 2, cnio__crc32c(0, data + 2 * UNIT, UNIT), UNIT | 0x80000000u);
    ck_assert_int_eq(obj_read("p2", 2 * UNIT + 5, 100), 0);
    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(st_open(&c, "p2", CNIO_WIRE_O_WRITE, 0, 0, 0, &h, NULL), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    st_close(&c);
    ck_assert_int_eq(sums_byte("p2", ent_at("p2", 2, 7)) & 0x80, 0);
    ck_assert_int_eq(obj_read("p2", 0, NB * UNIT), 0);
}
END_TEST

/* name's sums file replaced by the version-1 one a server before version 2 wrote for
 * the same data (16-byte header, 8-byte entries crc | covered, no check words). */
static void sums_write_v1(const char *name)
{
    char path[PATH_MAX + 32];
    uint8_t f[16 + NB * 8];
    int fd;

    memcpy(f, "CNIOSUMS", 8);
    cnio__put_le32(f + 8, 1);
    cnio__put_le32(f + 12, UNIT);
    for (int b = 0; b < NB; b++) {
        cnio__put_le32(f + 16 + b * 8, cnio__crc32c(0, data + b * UNIT, UNIT));
        cnio__put_le32(f + 16 + b * 8 + 4, UNIT);
    }
    obj_path(name, 1, path, sizeof(path));
    fd = open(path, O_WRONLY | O_TRUNC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, f, sizeof(f)), (ssize_t)sizeof(f));
    close(fd);
}

/* A version-1 sums file still reads, and still catches damaged data; a WRITE in place
 * keeps it version 1 and readable. A pending mark in it cannot be told from a flipped
 * bit: its block's READs fail until a writer's clean close heals it. */
START_TEST(test_sums_version1)
{
    struct st_conn c;
    uint64_t h;

    obj_make("v1", 25);
    sums_write_v1("v1");
    ck_assert_int_eq(obj_read("v1", 0, NB * UNIT), 0);
    ck_assert_int_eq(obj_read("v1", UNIT + 3, 5000), 0);
    obj_xor("v1", 0, 2 * UNIT + 9, 0x04);
    ck_assert_int_eq(obj_read("v1", 2 * UNIT, 100), -CNIO_ERR_CHECKSUM);
    obj_xor("v1", 0, 2 * UNIT + 9, 0x04);
    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(st_open(&c, "v1", CNIO_WIRE_O_WRITE, 0, 0, 0, &h, NULL), 0);
    memset(data + UNIT + 100, 0x5a, 3000);
    ck_assert_int_eq(st_write(&c, h, UNIT + 100, data + UNIT + 100, 3000), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    st_close(&c);
    ck_assert_int_eq(ent_at("v1", 0, 0), 16);
    ck_assert_int_eq(obj_read("v1", 0, NB * UNIT), 0);
    obj_xor("v1", 1, ent_at("v1", 3, 7), 0x80);
    ck_assert_int_eq(obj_read("v1", 3 * UNIT, 10), -CNIO_ERR_CHECKSUM);
    ck_assert_int_eq(obj_read("v1", 0, 3 * UNIT), 0);
    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(st_open(&c, "v1", CNIO_WIRE_O_WRITE, 0, 0, 0, &h, NULL), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    st_close(&c);
    ck_assert_int_eq(obj_read("v1", 0, NB * UNIT), 0);
}
END_TEST

/* A byte of the data damaged while a writer holds the object open in place (an MPI job
 * that opened it for writing, idle: it writes nothing here). Every other handle's READ
 * was served unchecked then (pread, and the CRC of the bytes read): the damaged byte
 * reached a reader with success. Now a reader's READ of that block fails with a
 * checksum error, small or large, and the other blocks read as written, beside the
 * writer and after its close. */
START_TEST(test_sums_live_writer)
{
    struct st_conn w;
    uint64_t hw;

    obj_make("lw", 26);
    st_session(&st_fx, 0, &w);
    ck_assert_int_eq(st_open(&w, "lw", CNIO_WIRE_O_WRITE, 0, 0, 0, &hw, NULL), 0);
    obj_xor("lw", 0, 2 * UNIT + 77, 0x08);
    ck_assert_int_eq(obj_read("lw", 2 * UNIT + 50, 100), -CNIO_ERR_CHECKSUM);
    ck_assert_int_eq(obj_read("lw", 2 * UNIT, UNIT), -CNIO_ERR_CHECKSUM);
    ck_assert_int_eq(obj_read("lw", 0, NB * UNIT), -CNIO_ERR_CHECKSUM);
    ck_assert_int_eq(obj_read("lw", 0, 2 * UNIT), 0);
    ck_assert_int_eq(obj_read("lw", 3 * UNIT + 1, UNIT - 1), 0);
    ck_assert_int_eq(st_call(&w, CNIO_WIRE_CLOSE, hw, 0, NULL, 0, NULL, NULL, 0), 0);
    st_close(&w);
    ck_assert_int_eq(obj_read("lw", 2 * UNIT + 50, 100), -CNIO_ERR_CHECKSUM);
    ck_assert_int_eq(obj_read("lw", 0, 2 * UNIT), 0);
}
END_TEST

/* A column's data file cut short behind the server's back while a writer holds the
 * object open in place (idle). The check of a file truncated so was left out beside a
 * live writer: a reader's READ past the cut got what was left, short, with success (a
 * client fills a short reply with zeros: the object read back with a hole). Now it
 * fails with a checksum error, as without the writer; what the file still holds reads
 * as written. */
START_TEST(test_sums_truncated_beside_writer)
{
    char path[PATH_MAX + 32];
    struct st_conn w;
    uint64_t hw;

    obj_make("tw", 28);
    st_session(&st_fx, 0, &w);
    ck_assert_int_eq(st_open(&w, "tw", CNIO_WIRE_O_WRITE, 0, 0, 0, &hw, NULL), 0);
    obj_path("tw", 0, path, sizeof(path));
    ck_assert_int_eq(truncate(path, 2 * UNIT + 10), 0);
    ck_assert_int_eq(obj_read("tw", 0, NB * UNIT), -CNIO_ERR_CHECKSUM);
    ck_assert_int_eq(obj_read("tw", 2 * UNIT + 5, 100), -CNIO_ERR_CHECKSUM);
    ck_assert_int_eq(obj_read("tw", 3 * UNIT, 100), -CNIO_ERR_CHECKSUM);
    ck_assert_int_eq(obj_read("tw", 0, 2 * UNIT), 0);
    ck_assert_int_eq(st_call(&w, CNIO_WIRE_CLOSE, hw, 0, NULL, 0, NULL, NULL, 0), 0);
    st_close(&w);
    ck_assert_int_eq(obj_read("tw", 3 * UNIT, 100), -CNIO_ERR_CHECKSUM);
}
END_TEST

/* Object name committed from staged instance id: NB blocks, as an upload leaves one. */
static void obj_upload(const char *name, uint64_t id, int seed)
{
    uint8_t buf[CNIO_WIRE_INFO_SIZE];
    struct cnio_wire_hdr rh;
    struct st_conn c;

    fx_fill(data, sizeof(data), seed);
    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(st_named(&c, CNIO_WIRE_OPEN, name,
                              RW | CNIO_WIRE_O_STAGE | CNIO_WIRE_O_TRUNC, 1, UNIT, 0, id, &rh,
                              buf, sizeof(buf)), 0);
    ck_assert_int_eq(st_write(&c, rh.object, 0, data, sizeof(data)), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_COMMIT, rh.object, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, rh.object, 0, NULL, 0, NULL, NULL, 0), 0);
    st_close(&c);
}

/* An uploaded object's sums file removed, and a byte of its data damaged, while a writer
 * holds it open in place (which clears the mark that vouches for its length, so that
 * a missing sums file was no longer taken for damage). Readers read it unchecked, the
 * damaged byte with success, and a second writer's open rebuilt the sums from the data,
 * damaged byte included, for the last close to vouch for. Now the reads fail with a
 * checksum error and the second writer is refused, as without the first writer. */
START_TEST(test_sums_missing_beside_writer)
{
    char path[PATH_MAX + 32];
    struct st_conn w, w2;
    uint64_t hw, h2;

    obj_upload("mw", 0x1d, 27);
    st_session(&st_fx, 0, &w);
    ck_assert_int_eq(st_open(&w, "mw", CNIO_WIRE_O_WRITE, 0, 0, 0, &hw, NULL), 0);
    obj_path("mw", 1, path, sizeof(path));
    ck_assert_int_eq(unlink(path), 0);
    obj_xor("mw", 0, UNIT + 300, 0x02);
    ck_assert_int_eq(obj_read("mw", UNIT, 1000), -CNIO_ERR_CHECKSUM);
    ck_assert_int_eq(obj_read("mw", 0, NB * UNIT), -CNIO_ERR_CHECKSUM);
    st_session(&st_fx, 0, &w2);
    ck_assert_int_eq(st_open(&w2, "mw", CNIO_WIRE_O_WRITE, 0, 0, 0, &h2, NULL),
                     -CNIO_ERR_CHECKSUM);
    st_close(&w2);
    ck_assert_int_eq(st_call(&w, CNIO_WIRE_CLOSE, hw, 0, NULL, 0, NULL, NULL, 0), 0);
    st_close(&w);
    ck_assert_int_eq(obj_read("mw", UNIT, 1000), -CNIO_ERR_CHECKSUM);
}
END_TEST

static void setup_sendfile(void)
{
    static const char *const extra[] = { "--read-send", "sendfile", NULL };

    ck_assert_int_eq(fx_start(&st_fx, 1, extra), 0);
}

static Suite *server_sums_suite(void)
{
    Suite *s = suite_create("server_sums");
    TCase *tc = tcase_create("sums");
    TCase *sf = tcase_create("sums_sendfile");

    tcase_add_checked_fixture(tc, st_setup, st_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_sums_pending_bit_and_data);
    tcase_add_test(tc, test_sums_entry_damaged);
    tcase_add_test(tc, test_sums_header_and_data);
    tcase_add_test(tc, test_sums_pending_healed);
    tcase_add_test(tc, test_sums_version1);
    tcase_add_test(tc, test_sums_live_writer);
    tcase_add_test(tc, test_sums_missing_beside_writer);
    tcase_add_test(tc, test_sums_truncated_beside_writer);
    suite_add_tcase(s, tc);
    tcase_add_checked_fixture(sf, setup_sendfile, st_teardown);
    tcase_set_timeout(sf, 60);
    tcase_add_test(sf, test_sums_pending_bit_and_data);
    tcase_add_test(sf, test_sums_entry_damaged);
    tcase_add_test(sf, test_sums_header_and_data);
    tcase_add_test(sf, test_sums_live_writer);
    suite_add_tcase(s, sf);
    return s;
}

int main(void)
{
    return fx_run(server_sums_suite());
}
