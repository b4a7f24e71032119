/*
 * fuzz_meta.c - fuzz target for what cnio-server reads back from its own disk at startup
 * and at open (src/server/): a file a crash tore, a disk damaged or an administrator
 * edited must be refused, never crash the server, and never be taken as metadata or
 * checksums that let wrong bytes read back with success.
 *
 * One target, three formats, picked by the input's first byte (bits 0-1; bit 7: make the
 * checksums the format carries right first, so that mutations reach the field rules).
 * One target rather than three: the formats share one encoder (a staged instance's file
 * is the metadata block and a name), one build of the server's sources and one corpus,
 * and every run spends its time on all three.
 *
 *   0  ROOT/.cnio/meta/NAME (cnio__srv_meta_decode, meta.c): 64 bytes, CRC32C at 60.
 *      What decodes is sane (a layout cnio__layout_check takes, index < count, size
 *      < 2^62, mode <= 0xffff) and encodes back (cnio__srv_meta_encode) to the same
 *      bytes; only the 16 bits of the mode word that decode ignores may differ, and the
 *      new bytes decode to the same fields.
 *   1  ROOT/.cnio/stage/ID.meta (cnio__srv_stage_meta_decode, stage.c): the block, then
 *      the name; bit 6 of the first byte asks for another instance id than the block's
 *      generation (refused). What decodes has a name the store's rules take, the id as
 *      generation and seq 0, and encodes back (cnio__srv_stage_meta_encode) the same.
 *   2  ROOT/.cnio/sums/NAME and a data file (sums.c, sums_file.c), as memfds: the data
 *      W comes from a few input bytes (1 to 4 blocks of 64 KiB, zero tails and zero
 *      blocks); with bit 7, its sums are built as a WRITE leaves them (version 3, whose
 *      header names a generation, decoded back), then
 *      damaged as the records that follow say: a burst of up to 32 bits in a data block
 *      (at most one per block), 4 bytes of the sums file overwritten (at most once per
 *      entry: a burst), the sums file cut short, or a block's entry rewritten as a
 *      writer would, with a valid check word (crc and covered from the record: what a
 *      WRITE or a crash can leave, a pending mark included); without, the rest of the
 *      input is the sums file as it is, version 3, 2 or 1. A file whose header
 *      cnio__srv_sums_header_ok refuses goes no further (the server refuses the reads of
 *      its object, sums_file.c). Properties, through the server's own READ
 *      (cnio__srv_sums_read, with and without a copy, of each block, of a part of it and
 *      of the whole file), scrub (cnio__srv_sums_check) and cnio__srv_sums_past_end:
 *        - a READ that succeeds with a copy copies the file's bytes, and its CRC is
 *          theirs; the scrub steps block by block to the end;
 *        - a damaged data block whose entry was not rewritten as a writer would never
 *          reads back with success (with a copy: an error; without: a CRC the client
 *          refuses), and the scrub calls it damaged: whether its entry is intact (a
 *          burst of 32 bits or fewer: CRC32C catches all), damaged (its check word
 *          catches a burst as well; pending included: bit 31 of covered is one more
 *          bit under the check), or cut off (an entry of zeros: a block of zeros);
 *        - a block whose entry alone was damaged never reads back with success, and
 *          the scrub says its entry is;
 *        - where neither the data nor the entry was damaged, the READ succeeds with the
 *          right CRC and the scrub finds the block good (no false alarm); where nothing
 *          was, neither does cnio__srv_sums_past_end.
 *      A header damaged into a version-1 one (which has no check words) is read as the
 *      server reads it, and only the first property is asserted then.
 * No leak (ASan), no read outside the input (replay.c and libFuzzer hand each input in a
 * buffer of its exact size).
 *
 * `fuzz_meta --corpus DIR` writes the seeds: metadata blocks and staged instances' files
 * as the real encoders make them, and sums cases of every size, undamaged and with one
 * damage of each kind.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* memfd_create */
#endif
#include "server.h"
#include "log.h"
#include "sums_int.h"
#include "fuzz_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int cnio_fuzz_corpus(const char *dir);

#define FZ_FIX 0x80u        /* first byte: make the checksums right */
#define FZ_OTHER_ID 0x40u   /* first byte, format 1: another instance id */
#define FZ_SUMS_PRE 9       /* format 2: the bytes before the damage records */
#define FZ_REC 9            /* a damage record: kind u8, at u32, value u32 */
#define FZ_MAX_BLOCKS 4

static int fz_meta_same(const struct cnio_srv_meta *a, const struct cnio_srv_meta *b)
{
    return a->layout.unit == b->layout.unit && a->layout.count == b->layout.count &&
           a->index == b->index && a->flags == b->flags && a->size == b->size &&
           a->gen == b->gen && a->seq == b->seq && a->mode == b->mode &&
           a->updates == b->updates;
}

static void fz_meta_sane(const struct cnio_srv_meta *m)
{
    FZ_CHECK(!cnio__layout_check(&m->layout) && m->index < m->layout.count);
    FZ_CHECK(m->size < (1ull << 62) && m->mode <= 0xffffu && m->updates <= 0xffffu);
}

/* The input d (n bytes) against the encoding e of what it decoded to: equal (the mode
 * word's high half is the update count, kept). */
static void fz_same_bytes(const uint8_t *d, const uint8_t *e, size_t n)
{
    FZ_CHECK(!memcmp(d, e, n));
}

static void fz_meta(const uint8_t *d, size_t n)
{
    struct cnio_srv_meta m, back;
    uint8_t out[CNIO_SRV_META_SIZE];

    if (cnio__srv_meta_decode(d, n, &m))
        return;
    fz_meta_sane(&m);
    cnio__srv_meta_encode(&m, out);
    fz_same_bytes(d, out, n);
    FZ_CHECK(cnio__srv_meta_decode(out, sizeof(out), &back) == 0 && fz_meta_same(&m, &back));
}

static void fz_stage(const uint8_t *d, size_t n, int other)
{
    uint64_t id = n >= 48 ? cnio__get_le64(d + 40) + (other ? 1 : 0) : 0;
    char name[CNIO_WIRE_MAX_NAME + 1];
    uint8_t out[CNIO_SRV_STAGE_META_MAX];
    struct cnio_srv_meta m, back;
    size_t len;

    if (cnio__srv_stage_meta_decode(d, n, id, &m, name))
        return;
    FZ_CHECK(!other);
    fz_meta_sane(&m);
    FZ_CHECK(m.gen == id && m.seq == 0 && !cnio__name_problem(name, strlen(name)));
    len = cnio__srv_stage_meta_encode(name, &m, out);
    FZ_CHECK(len == n);
    fz_same_bytes(d, out, n);
    FZ_CHECK(cnio__srv_stage_meta_decode(out, len, id, &back, name) == 0 &&
             fz_meta_same(&m, &back));
}

/* Format 1 with FZ_FIX: the name's length and CRC, then the block's CRC, made right. */
static void fz_stage_fix(uint8_t *d, size_t n)
{
    if (n < CNIO_SRV_META_SIZE)
        return;
    cnio__put_le32(d + 48, (uint32_t)(n - CNIO_SRV_META_SIZE));
    cnio__put_le32(d + 52, cnio__crc32c(0, d + CNIO_SRV_META_SIZE, n - CNIO_SRV_META_SIZE));
    cnio__put_le32(d + 60, cnio__crc32c(0, d, 60));
}

/* ---- format 2: block sums ------------------------------------------------------------ */

struct fz_sums {
    uint8_t *w, *dd;            /* the data written, and as the disk has it */
    uint64_t len;
    uint8_t *s;                 /* the sums file (built, then damaged) */
    size_t slen;
    struct sums_ent built[FZ_MAX_BLOCKS];
    uint64_t nb;
    int hit[FZ_MAX_BLOCKS];     /* a data damage landed in the block */
    int ent_hit[FZ_MAX_BLOCKS]; /* 4 bytes of the sums file landed in its entry */
    int forged[FZ_MAX_BLOCKS];  /* its entry was rewritten with a valid check word */
    int v1;                     /* the header reads as version 1's */
};

static uint32_t fz_next(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* The data: p[0] & 3 + 1 blocks, the last one p[1..2] bytes shorter; bits of p[3] make
 * a block zeros, the rest pseudo-random from p[4..7] with a zero tail of p[8] * 256. */
static int fz_data(struct fz_sums *z, const uint8_t *p)
{
    uint32_t x = cnio__get_le32(p + 4) | 1;

    /* Made once: an allocation of more than 128 KiB is an mmap and a munmap under ASan,
     * which cost more than the rest of an input. The server reads them through memfds. */
    static uint8_t w[FZ_MAX_BLOCKS * CNIO_SRV_BLOCK], dd[FZ_MAX_BLOCKS * CNIO_SRV_BLOCK];

    z->nb = (uint64_t)(p[0] & 3) + 1;
    z->len = z->nb * CNIO_SRV_BLOCK - (uint64_t)(p[1] | p[2] << 8) % CNIO_SRV_BLOCK;
    z->w = w;
    z->dd = dd;
    memset(w, 0, (size_t)z->len);
    for (uint64_t b = 0; b < z->nb; b++) {
        uint64_t bs = b * CNIO_SRV_BLOCK, end = CNIO_MIN(bs + CNIO_SRV_BLOCK, z->len);
        uint64_t tail = (uint64_t)p[8] * 256;

        if (p[3] >> b & 1)
            continue;
        for (uint64_t i = bs; i + tail < end; i += 4) {
            uint32_t v = fz_next(&x);

            memcpy(z->w + i, &v, (size_t)CNIO_MIN(4, end - tail - i));
        }
    }
    memcpy(z->dd, z->w, (size_t)z->len);
    return 0;
}

#define FZ_GEN 0x0123456789abcdefull   /* the generation fz_build's header names */

/* The sums file a WRITE of the whole data leaves: the header, one entry per block. */
static int fz_build(struct fz_sums *z)
{
    uint64_t gen;

    z->slen = SUMS_HDR + z->nb * SUMS_ENT;
    z->s = calloc(1, z->slen);
    if (!z->s)
        return -1;
    memcpy(z->s, SUMS_MAGIC, 8);
    cnio__put_le32(z->s + 8, SUMS_VERSION);
    cnio__put_le32(z->s + 12, CNIO_SRV_BLOCK);
    cnio__put_le64(z->s + 16, FZ_GEN);
    cnio__put_le32(z->s + SUMS_HDR - 4, cnio__crc32c(0, z->s, SUMS_HDR - 4));
    FZ_CHECK(cnio__srv_sums_header_ok(z->s, SUMS_HDR, &gen) == SUMS_VERSION && gen == FZ_GEN);
    for (uint64_t b = 0; b < z->nb; b++) {
        uint64_t bs = b * CNIO_SRV_BLOCK;

        z->built[b] = cnio__srv_sums_from_data(z->w + bs,
                                               (uint32_t)CNIO_MIN(CNIO_SRV_BLOCK, z->len - bs));
        cnio__srv_sums_ent_encode(b, &z->built[b], z->s + SUMS_HDR + b * SUMS_ENT);
    }
    return 0;
}

/* 4 bytes of the sums file at o: 0, or 1 when they would make a second burst in an entry
 * (two bursts can forge a check word; a damage model of one burst per entry, as per
 * data block, is what a CRC is sure to catch). */
static int fz_sums_burst(struct fz_sums *z, size_t o, uint32_t v)
{
    int e0 = -1, e1 = -1;

    if (o + 4 > SUMS_HDR) {
        e0 = o < SUMS_HDR ? 0 : (int)((o - SUMS_HDR) / SUMS_ENT);
        e1 = (int)((o + 3 - SUMS_HDR) / SUMS_ENT);
    }
    for (int e = CNIO_MAX(e0, 0); e >= 0 && e <= e1 && e < FZ_MAX_BLOCKS; e++)
        if (z->ent_hit[e])
            return 1;
    for (int e = CNIO_MAX(e0, 0); e >= 0 && e <= e1 && e < FZ_MAX_BLOCKS; e++)
        z->ent_hit[e] = 1;
    for (size_t k = 0; k < 4 && o + k < z->slen; k++)
        z->s[o + k] = (uint8_t)(v >> (8 * k));
    return 0;
}

/* One damage record: a burst in the data (one per block), 4 bytes of the sums file, the
 * sums file cut short, or an entry rewritten as a writer would (at: the block, and bit
 * 31 of at the pending mark; v: the CRC; covered from the block's built one, less the
 * record's kind byte's upper bits). */
static void fz_damage(struct fz_sums *z, const uint8_t *r)
{
    uint32_t at = cnio__get_le32(r + 1), v = cnio__get_le32(r + 5);

    if (r[0] % 4 == 3) {
        uint64_t b = (at & ~SUMS_PENDING) % z->nb;
        uint32_t less = (uint32_t)(r[0] >> 2), c = z->built[b].covered;
        struct sums_ent e = { v, (c > less ? c - less : 0) | (at & SUMS_PENDING) };

        if (SUMS_HDR + (b + 1) * SUMS_ENT <= z->slen) {
            cnio__srv_sums_ent_encode(b, &e, z->s + SUMS_HDR + b * SUMS_ENT);
            z->forged[b] = 1;
        }
        return;
    }
    switch (r[0] % 4) {
    case 0: {
        uint64_t o = at % z->len, b = o / CNIO_SRV_BLOCK;

        if (!v || z->hit[b])
            return;
        z->hit[b] = 1;
        for (int k = 0; k < 4 && o + (uint64_t)k < CNIO_MIN((b + 1) * CNIO_SRV_BLOCK, z->len); k++)
            z->dd[o + (uint64_t)k] ^= (uint8_t)(v >> (8 * k));
        return;
    }
    case 1:
        fz_sums_burst(z, at % (z->slen + 1), v);
        return;
    case 2:
        z->slen = at % (z->slen + 1);
        return;
    }
}

/* The entry of block b as the server reads the damaged sums file (past its end: {0, 0};
 * a damaged one: {0, SUMS_BAD}). */
static struct sums_ent fz_ent(const struct fz_sums *z, uint64_t b)
{
    uint8_t raw[SUMS_ENT] = { 0 };
    size_t ent = z->v1 ? SUMS_V1_ENT : SUMS_ENT;
    size_t at = (z->v1 ? SUMS_V1_HDR : SUMS_HDR) + (size_t)b * ent;
    struct sums_ent e;

    for (size_t k = 0; k < ent && at + k < z->slen; k++)
        raw[k] = z->s[at + k];
    if (!z->v1)
        return cnio__srv_sums_ent_decode(b, raw);
    e = (struct sums_ent){ cnio__get_le32(raw), cnio__get_le32(raw + 4) };
    return e.covered & SUMS_PENDING ? (struct sums_ent){ 0, SUMS_BAD } : e;
}

/* 1 when a READ of block b must not succeed with bytes other than those written: its
 * entry, intact or damaged by one burst, was not rewritten with a valid check word, and
 * the file is read as version 2 or 3 (a damaged header read as version 1's has no check
 * words to catch a second burst). An entry cut off reads as a block of zeros (as one
 * past the end of a file grown by a hole does): data damaged into zeros there is not
 * caught, so cut-off entries are left out. */
static int fz_must_catch(const struct fz_sums *z, uint64_t b)
{
    return !z->v1 && !z->forged[b] && SUMS_HDR + (b + 1) * SUMS_ENT <= z->slen;
}

/* A file holding p (n bytes): one of two memfds made once and reused (k: which). */
static int fz_file(int k, const uint8_t *p, size_t n)
{
    static int fds[2] = { -1, -1 };

    if (fds[k] < 0)
        fds[k] = memfd_create(k ? "fuzz_meta.data" : "fuzz_meta.sums", MFD_CLOEXEC);
    FZ_CHECK(fds[k] >= 0 && ftruncate(fds[k], 0) == 0);
    FZ_CHECK(!n || cnio__srv_sums_pwrite_full(fds[k], p, n, 0) == 0);
    return fds[k];
}

/* What block b's state says a READ of [off, off + len) within it must give. */
static void fz_read_one(const struct fz_sums *z, const struct cnio_srv_sums *s, int dfd,
                        uint64_t off, uint64_t len)
{
    uint8_t *out = malloc((size_t)len);   /* of its exact size, so ASan sees an overrun */
    uint64_t b = off / CNIO_SRV_BLOCK;
    struct sums_ent e = fz_ent(z, b);
    int intact = e.crc == z->built[b].crc && e.covered == z->built[b].covered;
    uint32_t crc = 0, want = cnio__crc32c(0, z->dd + off, (size_t)len);
    int dmg = memcmp(z->w + off, z->dd + off, (size_t)len) != 0;
    int r1;

    FZ_CHECK(out);
    r1 = cnio__srv_sums_read(s, dfd, "fz", off, len, z->len, out, &crc);

    FZ_CHECK(r1 == 0 || r1 == -CNIO_ERR_CHECKSUM);
    FZ_CHECK(r1 != 0 || (!memcmp(out, z->dd + off, (size_t)len) && crc == want));
    if (intact && !z->hit[b])
        FZ_CHECK(r1 == 0);
    if ((intact || fz_must_catch(z, b)) && dmg)
        FZ_CHECK(r1 == -CNIO_ERR_CHECKSUM);
    if (e.covered == SUMS_BAD)
        FZ_CHECK(r1 == -CNIO_ERR_CHECKSUM);
    r1 = cnio__srv_sums_read(s, dfd, "fz", off, len, z->len, NULL, &crc);
    FZ_CHECK(r1 == 0 || r1 == -CNIO_ERR_CHECKSUM);
    if (intact && !z->hit[b])
        FZ_CHECK(r1 == 0 && crc == want);
    if ((intact || fz_must_catch(z, b)) && dmg)
        FZ_CHECK(r1 != 0 || crc != want);
    if (e.covered == SUMS_BAD)
        FZ_CHECK(r1 == -CNIO_ERR_CHECKSUM);
    free(out);
}

/* 1 when every block's entry is the one built and its data the one written. */
static int fz_all_good(const struct fz_sums *z)
{
    for (uint64_t b = 0; b < z->nb; b++) {
        struct sums_ent e = fz_ent(z, b);

        if (z->hit[b] || e.crc != z->built[b].crc || e.covered != z->built[b].covered)
            return 0;
    }
    return 1;
}

/* READs of each block whole and of a part of it the input picks, and the scrub. */
static void fz_sums_reads(const struct fz_sums *z, int sfd, int dfd, uint32_t pick)
{
    struct cnio_srv_sums s = { sfd, 1, z->v1 };
    uint8_t *buf = malloc(CNIO_SRV_BLOCK);
    uint64_t pos = 0, at = 0;
    int r;

    FZ_CHECK(buf);
    for (uint64_t b = 0; b < z->nb; b++) {
        uint64_t bs = b * CNIO_SRV_BLOCK, blen = CNIO_MIN(CNIO_SRV_BLOCK, z->len - bs);
        uint64_t a = pick % blen, l = 1 + (pick >> 16) % (blen - a);
        struct sums_ent e = fz_ent(z, b);
        int intact = e.crc == z->built[b].crc && e.covered == z->built[b].covered;
        int pending;
        uint32_t checked;

        fz_read_one(z, &s, dfd, bs, blen);
        fz_read_one(z, &s, dfd, bs + a, l);
        r = cnio__srv_sums_check(&s, dfd, &pos, buf, &pending, &checked);
        FZ_CHECK((r == 0 || r == -CNIO_ERR_CHECKSUM) && pos == bs + CNIO_SRV_BLOCK);
        if (intact && !z->hit[b])
            FZ_CHECK(r == 0 && !pending && checked == blen);
        if ((intact || fz_must_catch(z, b)) && memcmp(z->w + bs, z->dd + bs, (size_t)blen))
            FZ_CHECK(r == -CNIO_ERR_CHECKSUM);
        if (e.covered == SUMS_BAD)
            FZ_CHECK(r == -CNIO_ERR_CHECKSUM && pending == 2);
    }
    FZ_CHECK(cnio__srv_sums_check(&s, dfd, &pos, buf, &(int){ 0 }, &(uint32_t){ 0 }) == 1);
    r = cnio__srv_sums_past_end(&s, dfd, NULL, z->len + 2 * CNIO_SRV_BLOCK, &at);
    FZ_CHECK(r == 0 || r == -CNIO_ERR_CHECKSUM);
    FZ_CHECK(!fz_all_good(z) || r == 0);
    free(buf);
}

/* A READ of the whole file, across its blocks: with a copy, the file's bytes and their
 * CRC, or an error; without, the same CRC when all is as written (built: fix). */
static void fz_sums_whole(const struct fz_sums *z, int sfd, int dfd, int fix)
{
    static uint8_t out[FZ_MAX_BLOCKS * CNIO_SRV_BLOCK];
    struct cnio_srv_sums s = { sfd, 1, z->v1 };
    uint32_t crc, want = cnio__crc32c(0, z->dd, (size_t)z->len);
    int good = fix && fz_all_good(z), r;

    r = cnio__srv_sums_read(&s, dfd, "fz", 0, z->len, z->len, out, &crc);
    FZ_CHECK(r == 0 || r == -CNIO_ERR_CHECKSUM);
    FZ_CHECK(r != 0 || (!memcmp(out, z->dd, (size_t)z->len) && crc == want));
    FZ_CHECK(!good || r == 0);
    r = cnio__srv_sums_read(&s, dfd, "fz", 0, z->len, z->len, NULL, &crc);
    FZ_CHECK(r == 0 || r == -CNIO_ERR_CHECKSUM);
    FZ_CHECK(!good || (r == 0 && crc == want));
}

static void fz_sums(const uint8_t *d, size_t n, int fix)
{
    struct fz_sums z = { 0 };
    uint64_t gen;
    int sfd, dfd, v;

    if (n < FZ_SUMS_PRE || fz_data(&z, d))
        goto out;
    if (fix) {
        if (fz_build(&z))
            goto out;
        for (size_t at = FZ_SUMS_PRE; at + FZ_REC <= n; at += FZ_REC)
            fz_damage(&z, d + at);
    } else if (n > FZ_SUMS_PRE && (z.s = malloc(n - FZ_SUMS_PRE))) {
        z.slen = n - FZ_SUMS_PRE;
        memcpy(z.s, d + FZ_SUMS_PRE, z.slen);
    }
    v = cnio__srv_sums_header_ok(z.s, CNIO_MIN(z.slen, SUMS_HDR), &gen);
    if (!v)
        goto out;   /* damaged: the server refuses the object's reads and writes */
    z.v1 = v == 1;
    sfd = fz_file(0, z.s, z.slen);
    dfd = fz_file(1, z.dd, (size_t)z.len);
    if (fix)
        fz_sums_reads(&z, sfd, dfd, cnio__get_le32(d + 4) ^ cnio__get_le32(d + 1));
    fz_sums_whole(&z, sfd, dfd, fix);
out:
    free(z.s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    uint8_t *d;
    size_t n;

    if (!quiet) {
        cnio__log_set_level(CNIO_LOG_ERROR);
        quiet = 1;
    }
    if (size < 1 || !(d = malloc(size - 1 ? size - 1 : 1)))
        return 0;
    n = size - 1;
    memcpy(d, data + 1, n);
    switch (data[0] & 3) {
    case 0:
        if ((data[0] & FZ_FIX) && n == CNIO_SRV_META_SIZE)
            cnio__put_le32(d + 60, cnio__crc32c(0, d, 60));
        fz_meta(d, n);
        break;
    case 1:
        if (data[0] & FZ_FIX)
            fz_stage_fix(d, n);
        fz_stage(d, n, (data[0] & FZ_OTHER_ID) != 0);
        break;
    default:
        fz_sums(d, n, (data[0] & FZ_FIX) != 0);
        break;
    }
    free(d);
    return 0;
}

/* ---- the seed corpus ----------------------------------------------------------------- */

static int fz_write(const char *dir, const char *name, uint8_t sel, const uint8_t *p, size_t n)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f || fputc(sel, f) == EOF || (n && fwrite(p, 1, n, f) != n) || fclose(f)) {
        fprintf(stderr, "fuzz_meta: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

static const struct cnio_srv_meta fz_metas[] = {
    { { 1u << 20, 1 }, 0, 0, 0, 0, 0, 0, 0 },
    { { 1u << 20, 4 }, 3, CNIO_SRV_META_DIRTY, 12345678, 0, 0, 0100644, 0 },
    { { 64u << 10, 8 }, 5, CNIO_SRV_META_COMMITTING, 1ull << 40, 0x1234567890abcdefull,
      1700000000123456789ull, 0100600, 7 },
    { { 1ull << 40, 256 }, 255, 3, (1ull << 62) - 1, UINT64_MAX, UINT64_MAX, 0xffff, 0xffff },
};

static const char *const fz_names[] = {
    "a", "run7/out.dat", "deep/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/file.nc",
    "with space/and-ütf8 ñame.h5",
};

static int fz_corpus_meta(const char *dir)
{
    uint8_t b[CNIO_SRV_STAGE_META_MAX];
    char name[64];
    int bad = 0;

    for (size_t i = 0; i < CNIO_ARRAY_LEN(fz_metas); i++) {
        struct cnio_srv_meta m = fz_metas[i];
        size_t n;

        cnio__srv_meta_encode(&m, b);
        snprintf(name, sizeof(name), "meta-%02zu", i);
        bad |= fz_write(dir, name, 0, b, CNIO_SRV_META_SIZE);
        snprintf(name, sizeof(name), "meta-%02zu-fix", i);
        bad |= fz_write(dir, name, FZ_FIX, b, CNIO_SRV_META_SIZE);
        m.seq = 0;
        m.gen = m.gen ? m.gen : 0x100 + i;
        n = cnio__srv_stage_meta_encode(fz_names[i], &m, b);
        snprintf(name, sizeof(name), "stage-%02zu", i);
        bad |= !n || fz_write(dir, name, 1, b, n);
        snprintf(name, sizeof(name), "stage-%02zu-fix", i);
        bad |= !n || fz_write(dir, name, 1 | FZ_FIX, b, n);
    }
    return bad;
}

/* Sums seeds: the 9 bytes of fz_data, then damage records. */
struct fz_sums_seed {
    const char *name;
    uint8_t pre[FZ_SUMS_PRE];
    int nrec;
    uint8_t rec[2][FZ_REC];
};

static const struct fz_sums_seed fz_sums_seeds[] = {
    { "sums-1-small", { 0, 0xf0, 0xff, 0, 1, 2, 3, 4, 0 }, 0, { { 0 } } },
    { "sums-2-tail", { 1, 0x10, 0x27, 0, 9, 8, 7, 6, 0x40 }, 0, { { 0 } } },
    { "sums-3-zero-block", { 2, 0, 0, 2, 5, 5, 5, 5, 0 }, 0, { { 0 } } },
    { "sums-4-whole", { 3, 0, 0, 0, 7, 0, 0, 1, 0x10 }, 0, { { 0 } } },
    { "sums-data-burst", { 3, 0, 1, 0, 3, 1, 4, 1, 0 },
      1, { { 0, 0x10, 0x00, 0x01, 0x00, 0xff, 0x00, 0x00, 0x01 } } },
    { "sums-zero-tail-burst", { 0, 0, 0, 0, 3, 1, 4, 1, 0x80 },
      1, { { 0, 0x00, 0xf0, 0x00, 0x00, 0x01, 0, 0, 0 } } },
    { "sums-entry-crc", { 1, 0, 0, 0, 2, 7, 1, 8, 0 },
      1, { { 1, SUMS_HDR + SUMS_ENT, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef } } },
    { "sums-entry-pending", { 1, 0, 0, 0, 2, 7, 1, 8, 0 },
      2, { { 1, SUMS_HDR + 4, 0, 0, 0, 0x00, 0x00, 0x01, 0x80 },
           { 0, 0x20, 0x00, 0x00, 0x00, 0x55, 0, 0, 0 } } },
    { "sums-torn", { 2, 0, 0, 0, 1, 1, 1, 1, 0 },
      1, { { 2, SUMS_HDR + SUMS_ENT + 3, 0, 0, 0, 0, 0, 0, 0 } } },
    { "sums-entry-check", { 1, 0, 0, 0, 2, 7, 1, 8, 0 },
      2, { { 1, SUMS_HDR + SUMS_ENT + 12, 0, 0, 0, 1, 2, 3, 4 },
           { 0, 0x20, 0x00, 0x01, 0x00, 0x55, 0, 0, 0 } } },
    { "sums-entry-forged-pending", { 1, 0, 0, 0, 2, 7, 1, 8, 0 },
      2, { { 3, 1, 0, 0, 0x80, 0x12, 0x34, 0x56, 0x78 },
           { 0, 0x20, 0x00, 0x01, 0x00, 0x55, 0, 0, 0 } } },
    { "sums-header", { 1, 0, 0, 0, 2, 7, 1, 8, 0 },
      2, { { 1, 0, 0, 0, 0, 0x43, 0x4e, 0x49, 0x50 },
           { 0, 0x20, 0x00, 0x01, 0x00, 0x55, 0, 0, 0 } } },
    { "sums-header-version-1", { 1, 0, 0, 0, 2, 7, 1, 8, 0 },
      1, { { 1, 8, 0, 0, 0, 1, 0, 0, 0 } } },
};

/* A version-1 sums file (16-byte header, 8-byte entries), as servers before version 2
 * wrote them, raw: read as such. */
static int fz_corpus_v1(const char *dir)
{
    static const uint8_t pre[FZ_SUMS_PRE] = { 2, 0x10, 0x27, 4, 9, 8, 7, 6, 0x40 };
    uint8_t f[FZ_SUMS_PRE + SUMS_V1_HDR + FZ_MAX_BLOCKS * SUMS_V1_ENT];
    struct fz_sums z = { 0 };
    int bad;

    fz_data(&z, pre);
    memcpy(f, pre, FZ_SUMS_PRE);
    memcpy(f + FZ_SUMS_PRE, SUMS_MAGIC, 8);
    cnio__put_le32(f + FZ_SUMS_PRE + 8, 1);
    cnio__put_le32(f + FZ_SUMS_PRE + 12, CNIO_SRV_BLOCK);
    for (uint64_t b = 0; b < z.nb; b++) {
        uint64_t bs = b * CNIO_SRV_BLOCK;
        struct sums_ent e = cnio__srv_sums_from_data(z.w + bs, (uint32_t)CNIO_MIN(CNIO_SRV_BLOCK,
                                                                                  z.len - bs));
        uint8_t *p = f + FZ_SUMS_PRE + SUMS_V1_HDR + b * SUMS_V1_ENT;

        cnio__put_le32(p, e.crc);
        cnio__put_le32(p + 4, e.covered);
    }
    bad = fz_write(dir, "sums-v1-raw", 2, f, FZ_SUMS_PRE + SUMS_V1_HDR + z.nb * SUMS_V1_ENT);
    f[FZ_SUMS_PRE + SUMS_V1_HDR + SUMS_V1_ENT + 7] |= 0x80;   /* block 1 pending */
    return bad | fz_write(dir, "sums-v1-pending-raw", 2, f,
                          FZ_SUMS_PRE + SUMS_V1_HDR + z.nb * SUMS_V1_ENT);
}

static int fz_corpus_sums(const char *dir)
{
    uint8_t b[FZ_SUMS_PRE + 2 * FZ_REC];
    int bad = 0;

    for (size_t i = 0; i < CNIO_ARRAY_LEN(fz_sums_seeds); i++) {
        const struct fz_sums_seed *s = &fz_sums_seeds[i];
        size_t n = FZ_SUMS_PRE + (size_t)s->nrec * FZ_REC;
        struct fz_sums z = { 0 };

        memcpy(b, s->pre, FZ_SUMS_PRE);
        memcpy(b + FZ_SUMS_PRE, s->rec, (size_t)s->nrec * FZ_REC);
        bad |= fz_write(dir, s->name, 2 | FZ_FIX, b, n);
        if (i >= 4 || fz_data(&z, s->pre) || fz_build(&z)) {   /* raw: the real file */
            bad |= i < 4;
        } else {
            uint8_t *raw = malloc(FZ_SUMS_PRE + z.slen);
            char name[64];

            snprintf(name, sizeof(name), "%s-raw", s->name);
            bad |= !raw;
            if (raw) {
                memcpy(raw, s->pre, FZ_SUMS_PRE);
                memcpy(raw + FZ_SUMS_PRE, z.s, z.slen);
                bad |= fz_write(dir, name, 2, raw, FZ_SUMS_PRE + z.slen);
            }
            free(raw);
        }
        free(z.s);
    }
    return bad;
}

int cnio_fuzz_corpus(const char *dir)
{
    if (fz_corpus_meta(dir) || fz_corpus_sums(dir) || fz_corpus_v1(dir))
        return 1;
    printf("fuzz_meta: seeds in %s\n", dir);
    return 0;
}
