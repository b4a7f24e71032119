/*
 * check_server_read.c - cnio-server's READ replies, sent from the object file under a
 * CRC combined from its stored block CRCs: unaligned ranges, short replies at the end
 * of the file, a file shrunk behind the server's back, a file truncated and regrown
 * while large READs are in flight (the server must neither crash nor send bytes as
 * good that its stored CRCs do not cover); the block CRCs through unaligned writes,
 * holes and SETSIZE; a flipped byte reported as a checksum error by either side; a
 * reader beside a writer in place that rewrites, shrinks and grows the file.
 * Each runs against a server that copies large replies from a mapping of the file (the
 * default to a client on this host, --read-send copy) and one that sends them with
 * sendfile (--read-send sendfile).
 */
#include "srvtest.h"

#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RW (CNIO_WIRE_O_CREATE | CNIO_WIRE_O_WRITE)
#define UNIT 65536
#define BIG (4u << 20)


START_TEST(test_read_ranges)
{
    static uint8_t data[BIG], back[BIG];
    char path[PATH_MAX];
    struct st_conn c;
    uint32_t got;
    uint64_t h;
    int fd;

    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(st_open(&c, "r", RW, 1, UNIT, 0, &h, NULL), 0);
    fx_fill(data, sizeof(data), 11);
    ck_assert_int_eq(st_write(&c, h, 0, data, sizeof(data)), 0);
    /* unaligned start and end */
    ck_assert_int_eq(st_read(&c, h, 4097, back, 300001, &got), 0);
    ck_assert_uint_eq(got, 300001);
    ck_assert_int_eq(memcmp(back, data + 4097, got), 0);
    /* a large READ that runs past the end is short */
    ck_assert_int_eq(st_read(&c, h, BIG - 200000 - 3, back, 1u << 20, &got), 0);
    ck_assert_uint_eq(got, 200003);
    ck_assert_int_eq(memcmp(back, data + BIG - 200003, got), 0);
    /* the file shrinks behind the server's back: what it still holds is served; what
     * was cut off is damage, not a hole (a short reply, which clients fill with zeros,
     * was the answer), and the server goes on serving */
    ck_assert_ptr_nonnull(fx_local_path(&st_fx, 0, "r", path, sizeof(path)));
    fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, 1 << 20), 0);
    ck_assert_int_eq(st_read(&c, h, 65536 + 1, back, 2u << 20, &got), -CNIO_ERR_CHECKSUM);
    ck_assert_int_eq(st_read(&c, h, 2u << 20, back, 1u << 20, &got), -CNIO_ERR_CHECKSUM);
    ck_assert_int_eq(st_read(&c, h, 65536 + 1, back, (1u << 20) - 65537, &got), 0);
    ck_assert_uint_eq(got, (1u << 20) - 65537);
    ck_assert_int_eq(memcmp(back, data + 65537, got), 0);
    close(fd);
    st_close(&c);
}
END_TEST

/* Writes two bytes of object "sp" (1 at 0 and at BIG - 1), reads it whole in 1 MiB
 * READs over f's server 0 (root: root) and checks its file is still sparse. */
static void sparse_read(struct fx *f, const char *root)
{
    static uint8_t back[BIG], zero[BIG];
    char path[PATH_MAX];
    struct st_conn c;
    struct stat sb;
    uint32_t got;
    uint64_t h;
    uint8_t one = 1;

    st_session(f, 0, &c);
    ck_assert_int_eq(st_open(&c, "sp", RW, 1, UNIT, 0, &h, NULL), 0);
    ck_assert_int_eq(st_write(&c, h, BIG - 1, &one, 1), 0);
    ck_assert_int_eq(st_write(&c, h, 0, &one, 1), 0);
    for (uint32_t off = 0; off < BIG; off += 1u << 20) {
        ck_assert_int_eq(st_read(&c, h, off, back, 1u << 20, &got), 0);
        ck_assert_uint_eq(got, 1u << 20);
        ck_assert_int_eq(memcmp(back + (off ? 0 : 1), zero, (1u << 20) - 1), 0);
    }
    snprintf(path, sizeof(path), "%s/sp", root);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_lt((long long)sb.st_blocks * 512, 1 << 20);   /* 2 pages, not 4 MiB */
    st_close(&c);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* READs of a sparse object leave it sparse, on the fixture's file system and on tmpfs,
 * where a read fault in a hole of a file mapping allocates a page there (the copy path
 * must not map a range with a hole). */
START_TEST(test_read_sparse)
{
    char shm[] = "/dev/shm/cnio-sparse-XXXXXX";
    const char *extra[] = { "--root", shm, NULL };
    struct fx f;

    sparse_read(&st_fx, st_fx.root[0]);
    if (!mkdtemp(shm))
        return;   /* no tmpfs here: the first half stands */
    ck_assert_int_eq(fx_start(&f, 1, extra), 0);   /* the last --root counts */
    sparse_read(&f, shm);
    fx_stop(&f);
    ck_assert_int_eq(nftw(shm, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}
END_TEST

struct shrinker {
    int fd;
    atomic_int stop;
};

static void *shrink_loop(void *arg)
{
    struct shrinker *s = arg;

    while (!atomic_load(&s->stop)) {
        ck_assert_int_eq(ftruncate(s->fd, 4096), 0);
        ck_assert_int_eq(ftruncate(s->fd, BIG), 0);
    }
    return NULL;
}

/* One READ of the whole file: 1 when the reply is intact, 0 when the connection went. */
static int race_read(struct st_conn *c, uint64_t h, uint8_t *back)
{
    uint32_t got;
    int ret = st_read(c, h, 0, back, BIG, &got);

    /* A file regrown between the server's CRC pass and its send reads as zeros there:
     * the client sees the mismatch (as with any write racing a read of the same bytes
     * from the page cache) and drops the connection. */
    if (ret < 0 && ret != -CNIO_ERR_CONN && ret != -CNIO_ERR_PROTO &&
        ret != -CNIO_ERR_CHECKSUM)
        ck_abort_msg("READ: %s", cnio_strerror(ret));
    if (ret)
        return 0;
    ck_assert_uint_le(got, BIG);
    return 1;
}

START_TEST(test_read_while_truncated)
{
    static uint8_t data[BIG], back[BIG];
    char path[PATH_MAX];
    struct shrinker s;
    struct st_conn c;
    pthread_t tid;
    uint64_t h;
    int intact = 0;

    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(st_open(&c, "t", RW, 1, UNIT, 0, &h, NULL), 0);
    fx_fill(data, sizeof(data), 12);
    ck_assert_int_eq(st_write(&c, h, 0, data, sizeof(data)), 0);
    ck_assert_ptr_nonnull(fx_local_path(&st_fx, 0, "t", path, sizeof(path)));
    s.fd = open(path, O_RDWR);
    ck_assert_int_ge(s.fd, 0);
    atomic_init(&s.stop, 0);
    ck_assert_int_eq(pthread_create(&tid, NULL, shrink_loop, &s), 0);
    for (int i = 0; i < 200; i++) {
        if (race_read(&c, h, back)) {
            intact++;
            continue;
        }
        st_close(&c);   /* the server dropped this connection: the others go on */
        st_session(&st_fx, 0, &c);
        ck_assert_int_eq(st_open(&c, "t", CNIO_WIRE_O_WRITE, 0, 0, 0, &h, NULL), 0);
    }
    atomic_store(&s.stop, 1);
    pthread_join(tid, NULL);
    close(s.fd);
    /* Replies that were not intact failed their checksum: the file changed behind the
     * server's back, and its stored block CRCs say so (none need be intact). */
    (void)intact;
    /* the server is alive and serves the regrown file */
    ck_assert_int_eq(st_write(&c, h, 0, data, sizeof(data)), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_PING, 0, 0, "x", 1, NULL, back, 1), 0);
    ck_assert_int_eq(race_read(&c, h, back), 1);
    ck_assert_int_eq(memcmp(back, data, BIG), 0);
    st_close(&c);
}
END_TEST

/* The reference copy of what the object holds. */
static void model_write(uint8_t *m, uint64_t *size, uint64_t off, const uint8_t *p, uint32_t len)
{
    memcpy(m + off, p, len);
    if (off + len > *size)
        *size = off + len;
}

static void check_reads(struct st_conn *c, uint64_t h, const uint8_t *m, uint64_t size,
                        uint8_t *back)
{
    static const uint64_t offs[] = { 0, 1, 65535, 65536, 65537, 131072 + 77, 200000 };
    static const uint32_t lens[] = { 1, 100, 65536, 65537, 200001, 1u << 20 };
    uint32_t got;

    for (size_t i = 0; i < CNIO_ARRAY_LEN(offs); i++)
        for (size_t j = 0; j < CNIO_ARRAY_LEN(lens); j++) {
            uint64_t want = offs[i] >= size ? 0 : CNIO_MIN(lens[j], size - offs[i]);

            ck_assert_int_eq(st_read(c, h, offs[i], back, lens[j], &got), 0);
            ck_assert_uint_eq(got, want);
            ck_assert_int_eq(memcmp(back, m + offs[i], got), 0);
        }
}

/* Writes in every shape a block can be touched: appends of odd sizes, a write into the
 * middle of a block, past a hole, a SETSIZE that cuts a block, a full-block rewrite. */
START_TEST(test_read_block_sums)
{
    static uint8_t data[BIG], m[BIG], back[BIG];
    struct st_conn c;
    uint64_t h, size = 0, off = 0;
    uint32_t step = 1;

    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(st_open(&c, "s", RW, 1, UNIT, 0, &h, NULL), 0);
    fx_fill(data, sizeof(data), 13);
    memset(m, 0, sizeof(m));
    while (off < 400000) {   /* appends: 1, 3, 7, ... bytes, crossing block edges */
        uint32_t n = (uint32_t)CNIO_MIN(step, 400000 - off);

        ck_assert_int_eq(st_write(&c, h, off, data + off, n), 0);
        model_write(m, &size, off, data + off, n);
        off += n;
        step = step * 3 + 1;
    }
    check_reads(&c, h, m, size, back);
    ck_assert_int_eq(st_write(&c, h, 70000, data + 1000, 5000), 0);   /* inside block 1 */
    model_write(m, &size, 70000, data + 1000, 5000);
    ck_assert_int_eq(st_write(&c, h, 1000000, data + 7, 30000), 0);   /* past a hole */
    model_write(m, &size, 1000000, data + 7, 30000);
    check_reads(&c, h, m, size, back);
    /* SETSIZE into the middle of a block, then the file grows again by a write */
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_SETSIZE, h, 300001, NULL, 0, NULL, back,
                             sizeof(back)), 0);
    memset(m + 300001, 0, sizeof(m) - 300001);
    size = 300001;
    ck_assert_int_eq(st_write(&c, h, 500000, data + 500000, 200000), 0);
    model_write(m, &size, 500000, data + 500000, 200000);
    ck_assert_int_eq(st_write(&c, h, 0, data + 3, 3 * UNIT), 0);   /* whole blocks */
    model_write(m, &size, 0, data + 3, 3 * UNIT);
    check_reads(&c, h, m, size, back);
    st_close(&c);
}
END_TEST

/* A byte changed in the stored file: a READ that reads its block in the server fails
 * there (CNIO_ERR_CHECKSUM status), one sent from the page cache fails at the client;
 * other blocks read as before. */
START_TEST(test_read_flipped_byte)
{
    static uint8_t data[BIG], back[BIG];
    char path[PATH_MAX];
    struct st_conn c;
    uint32_t got;
    uint64_t h;
    uint8_t b;
    int fd;

    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(st_open(&c, "f", RW, 1, UNIT, 0, &h, NULL), 0);
    fx_fill(data, sizeof(data), 14);
    ck_assert_int_eq(st_write(&c, h, 0, data, 1u << 20), 0);
    ck_assert_ptr_nonnull(fx_local_path(&st_fx, 0, "f", path, sizeof(path)));
    fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, &b, 1, 300000), 1);
    b ^= 0x10;
    ck_assert_int_eq(pwrite(fd, &b, 1, 300000), 1);
    /* a small READ of the block, and one whose edge is that block: the server says so */
    ck_assert_int_eq(st_read(&c, h, 299990, back, 100, &got), -CNIO_ERR_CHECKSUM);
    ck_assert_int_eq(st_read(&c, h, 290000, back, 300000, &got), -CNIO_ERR_CHECKSUM);
    /* the rest of the object reads as written */
    ck_assert_int_eq(st_read(&c, h, 0, back, 262144, &got), 0);
    ck_assert_uint_eq(got, 262144);
    ck_assert_int_eq(memcmp(back, data, got), 0);
    /* aligned whole blocks go out from the page cache: the client finds the mismatch */
    ck_assert_int_eq(st_read(&c, h, 262144, back, 262144, &got), -CNIO_ERR_CHECKSUM);
    st_close(&c);
    /* put back, it reads as good again */
    b ^= 0x10;
    ck_assert_int_eq(pwrite(fd, &b, 1, 300000), 1);
    close(fd);
    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(st_open(&c, "f", CNIO_WIRE_O_WRITE, 0, 0, 0, &h, NULL), 0);
    ck_assert_int_eq(st_read(&c, h, 0, back, 1u << 20, &got), 0);
    ck_assert_uint_eq(got, 1u << 20);
    ck_assert_int_eq(memcmp(back, data, got), 0);
    st_close(&c);
}
END_TEST

struct scribbler {
    uint64_t h;
    int seed;
    const uint8_t *data;
};

/* Writes the same 300 KiB as its twin, in pieces of other sizes, over one connection
 * each: both write into the same blocks at once (each piece ends mid-block). */
static void *scribble(void *arg)
{
    struct scribbler *s = arg;
    struct st_conn c;
    uint64_t h, off = 0;
    uint32_t step = (uint32_t)(4093 + s->seed * 1000);

    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(st_open(&c, "w", CNIO_WIRE_O_WRITE, 0, 0, 0, &h, NULL), 0);
    for (int round = 0; round < 3; round++)
        for (off = 0; off < 300 * 1024; off += step) {
            uint32_t n = (uint32_t)CNIO_MIN(step, 300 * 1024 - off);

            ck_assert_int_eq(st_write(&c, h, off, s->data + off, n), 0);
        }
    st_close(&c);
    return NULL;
}

/* Writers racing on the same blocks never leave a block whose stored CRC does not match
 * its bytes (the per-block lock orders data and checksum). */
START_TEST(test_block_sums_concurrent)
{
    static uint8_t data[BIG], back[BIG];
    struct scribbler a = { 0, 0, data }, b = { 0, 1, data };
    struct st_conn c;
    pthread_t ta, tb;
    uint32_t got;
    uint64_t h;

    fx_fill(data, sizeof(data), 15);
    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(st_open(&c, "w", RW, 1, UNIT, 0, &h, NULL), 0);
    ck_assert_int_eq(pthread_create(&ta, NULL, scribble, &a), 0);
    ck_assert_int_eq(pthread_create(&tb, NULL, scribble, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    for (uint32_t off = 0; off < 300 * 1024; off += 1000) {   /* every block, at its edges */
        ck_assert_int_eq(st_read(&c, h, off, back, 3000, &got), 0);
        ck_assert_int_eq(memcmp(back, data + off, got), 0);
    }
    ck_assert_int_eq(st_read(&c, h, 0, back, BIG, &got), 0);
    ck_assert_uint_eq(got, 300 * 1024);
    ck_assert_int_eq(memcmp(back, data, got), 0);
    st_close(&c);
}
END_TEST

#define SPAN (300u << 10)

struct rewriter {
    struct st_conn *c;
    uint64_t h;
    const uint8_t *data;
    atomic_int stop;
};

/* Writes the object's SPAN bytes, shrinks it to the middle of its second block and grows
 * it back with zeros (SETSIZE), over and over, through its writer's handle in place. */
static void *rewrite_loop(void *arg)
{
    struct rewriter *w = arg;

    while (!atomic_load(&w->stop)) {
        ck_assert_int_eq(st_write(w->c, w->h, 0, w->data, SPAN), 0);
        ck_assert_int_eq(st_call(w->c, CNIO_WIRE_SETSIZE, w->h, 100000, NULL, 0, NULL, NULL, 0),
                         0);
        ck_assert_int_eq(st_call(w->c, CNIO_WIRE_SETSIZE, w->h, SPAN, NULL, 0, NULL, NULL, 0),
                         0);
    }
    return NULL;
}

/* A reader beside a live writer in place: its READs are checked against the block sums
 * (damage: check_server_sums.c), and a writer's WRITEs and SETSIZEs that shrink and grow
 * the file under them are never taken for damage: every READ succeeds, each byte the
 * written one or a zero of the grown file. */
START_TEST(test_read_beside_writer)
{
    static uint8_t data[SPAN], back[SPAN];
    struct st_conn c, wc;
    struct rewriter w = { &wc, 0, data, 0 };
    pthread_t tid;
    uint32_t got;
    uint64_t h;

    fx_fill(data, sizeof(data), 16);
    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(st_open(&c, "b", RW, 1, UNIT, 0, &h, NULL), 0);
    ck_assert_int_eq(st_write(&c, h, 0, data, SPAN), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_open(&c, "b", 0, 0, 0, 0, &h, NULL), 0);
    st_session(&st_fx, 0, &wc);
    ck_assert_int_eq(st_open(&wc, "b", CNIO_WIRE_O_WRITE, 0, 0, 0, &w.h, NULL), 0);
    atomic_init(&w.stop, 0);
    ck_assert_int_eq(pthread_create(&tid, NULL, rewrite_loop, &w), 0);
    for (uint32_t i = 0; i < 400; i++) {
        uint32_t off = (i * 7919u) % (SPAN - 1000);

        ck_assert_int_eq(st_read(&c, h, off, back, SPAN - off, &got), 0);
        for (uint32_t k = 0; k < got; k++)
            if (back[k] != data[off + k] && back[k] != 0)
                ck_abort_msg("byte %u: %02x, written %02x", off + k, back[k], data[off + k]);
    }
    atomic_store(&w.stop, 1);
    pthread_join(tid, NULL);
    ck_assert_int_eq(st_write(&wc, w.h, 0, data, SPAN), 0);
    ck_assert_int_eq(st_call(&wc, CNIO_WIRE_CLOSE, w.h, 0, NULL, 0, NULL, NULL, 0), 0);
    st_close(&wc);
    ck_assert_int_eq(st_read(&c, h, 0, back, SPAN, &got), 0);
    ck_assert_uint_eq(got, SPAN);
    ck_assert_int_eq(memcmp(back, data, SPAN), 0);
    st_close(&c);
}
END_TEST

static void setup_sendfile(void)
{
    static const char *const extra[] = { "--read-send", "sendfile", NULL };

    ck_assert_int_eq(fx_start(&st_fx, 1, extra), 0);
}

static Suite *server_read_suite(void)
{
    Suite *s = suite_create("server_read");
    TCase *tc = tcase_create("read");
    TCase *sf = tcase_create("read_sendfile");

    tcase_add_checked_fixture(tc, st_setup, st_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_read_ranges);
    tcase_add_test(tc, test_read_sparse);
    tcase_add_test(tc, test_read_while_truncated);
    tcase_add_test(tc, test_read_block_sums);
    tcase_add_test(tc, test_read_flipped_byte);
    tcase_add_test(tc, test_block_sums_concurrent);
    tcase_add_test(tc, test_read_beside_writer);
    suite_add_tcase(s, tc);
    tcase_add_checked_fixture(sf, setup_sendfile, st_teardown);
    tcase_set_timeout(sf, 60);
    tcase_add_test(sf, test_read_ranges);
    tcase_add_test(sf, test_read_sparse);
    tcase_add_test(sf, test_read_while_truncated);
    tcase_add_test(sf, test_read_flipped_byte);
    tcase_add_test(sf, test_read_beside_writer);
    suite_add_tcase(s, sf);
    return s;
}

int main(void)
{
    return fx_run(server_read_suite());
}
