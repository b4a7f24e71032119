/*
 * sums.c - a CRC32C for every 64 KiB block of every object's local file, kept beside
 * the object as HDFS keeps its block checksums in .meta files:
 *
 *   ROOT/.cnio/sums/NAME       the committed object NAME's block sums
 *   ROOT/.cnio/stage/ID.sums   those of staged instance ID (renamed to the above by commit)
 *
 * The file's format is in sums_int.h; its life (made, opened, committed, removed) in
 * sums_file.c.
 *
 * WRITE: the payload's CRC is computed once, in pieces cut at block boundaries, and the
 * pieces are both combined into the payload CRC the request is checked against and
 * stored as the blocks' CRCs. A piece that covers part of a block only is combined with
 * what the old entry says (an append right after the covered bytes, a block that was
 * all zeros) or, failing that, the block is read back from the file.
 *
 * READ: the reply's CRC is combined from the stored entries of the blocks the range
 * covers whole (cnio__crc32c_combine: no pass over the data), and only the blocks at
 * its edges are read in user space: whole, so that they are checked against their
 * entries, and the part inside the range is taken out with the same algebra. The data
 * itself goes from the page cache to the socket with sendfile (conn.c). A block that
 * does not match is -CNIO_ERR_CHECKSUM, logged with the object and offset; so is one
 * whose entry fails its check word (sums_int.h): a damaged entry is never taken for a
 * pending one, nor recomputed from the data (only a WRITE of the whole block replaces
 * it). The check costs one CRC32C of 20 bytes per entry read or written.
 *
 * Writers of one file serialize per 4 MiB group of blocks (a striped table of mutexes
 * keyed by the file's inode), so that the data and the entry of a block always come
 * from the same WRITE; a reader or the scrub that finds a mismatch checks again under
 * the same lock before calling it damage.
 */
#include "server.h"
#include "log.h"
#include "sums_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SUMS_GROUP_SHIFT 22   /* writers serialize per 4 MiB of a file */
#define SUMS_NLOCKS 256
#define SUMS_END_TRIES 8   /* looks at a file's end while its length moves */

static pthread_mutex_t sums_locks[SUMS_NLOCKS] = {
    [0 ... SUMS_NLOCKS - 1] = PTHREAD_MUTEX_INITIALIZER
};

/*
 * Scratch blocks (CNIO_SRV_BLOCK bytes) for a READ or WRITE that covers part of a block
 * (every small file's), reused: the server maps each buffer of 32 KiB or more afresh
 * (main.c), and one map and unmap per request cost a TLB shootdown across its threads.
 * At most SUMS_SCRATCH_KEEP wait here between uses.
 */
#define SUMS_SCRATCH_KEEP 4
static pthread_mutex_t sums_scratch_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *sums_scratch[SUMS_SCRATCH_KEEP];
static int sums_nscratch;

static uint8_t *sums_scratch_get(void)
{
    uint8_t *p = NULL;

    pthread_mutex_lock(&sums_scratch_lock);
    if (sums_nscratch)
        p = sums_scratch[--sums_nscratch];
    pthread_mutex_unlock(&sums_scratch_lock);
    return p ? p : malloc(CNIO_SRV_BLOCK);
}

static void sums_scratch_put(uint8_t *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&sums_scratch_lock);
    if (sums_nscratch < SUMS_SCRATCH_KEEP) {
        sums_scratch[sums_nscratch++] = p;
        p = NULL;
    }
    pthread_mutex_unlock(&sums_scratch_lock);
    free(p);
}

static size_t sums_lock_index(uint64_t key, uint64_t group)
{
    uint64_t h = key ^ (group * 0x9e3779b97f4a7c15ull);

    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return (size_t)(h % SUMS_NLOCKS);
}

/* Locks (or unlocks) the groups of blocks [b0, b1] of the file, in index order. */
static void sums_lock_range(const struct cnio_srv_sums *s, uint64_t b0, uint64_t b1, int lock)
{
    uint8_t want[SUMS_NLOCKS];
    uint64_t g0 = (b0 * CNIO_SRV_BLOCK) >> SUMS_GROUP_SHIFT;
    uint64_t g1 = (b1 * CNIO_SRV_BLOCK) >> SUMS_GROUP_SHIFT;

    memset(want, 0, sizeof(want));
    for (uint64_t g = g0; g <= g1; g++)
        want[sums_lock_index(s->key, g)] = 1;
    for (size_t i = 0; i < SUMS_NLOCKS; i++) {
        size_t k = lock ? i : SUMS_NLOCKS - 1 - i;

        if (want[k]) {
            if (lock)
                pthread_mutex_lock(&sums_locks[k]);
            else
                pthread_mutex_unlock(&sums_locks[k]);
        }
    }
}

/* pread of exactly len bytes unless the file ends first: bytes read, or -1 (errno). */
ssize_t cnio__srv_sums_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = pread(fd, (uint8_t *)buf + got, len - got, (off_t)(off + got));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

int cnio__srv_sums_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = pwrite(fd, (const uint8_t *)buf + done, len - done, (off_t)(off + done));

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? cnio__srv_why_errno(errno) : -CNIO_ERR_IO;
        done += (size_t)n;
    }
    return 0;
}

static uint64_t sums_hdr(const struct cnio_srv_sums *s)
{
    return s->v1 ? SUMS_V1_HDR : SUMS_HDR;
}

static size_t sums_ent(const struct cnio_srv_sums *s)
{
    return s->v1 ? SUMS_V1_ENT : SUMS_ENT;
}

static uint32_t sums_ent_check(uint64_t b, const uint8_t *raw)
{
    uint8_t idx[8];

    cnio__put_le64(idx, b);
    return cnio__crc32c(cnio__crc32c(0, idx, sizeof(idx)), raw, SUMS_ENT - 4);
}

void cnio__srv_sums_ent_encode(uint64_t b, const struct sums_ent *e, uint8_t *raw)
{
    cnio__put_le32(raw, e->crc);
    cnio__put_le32(raw + 4, e->covered);
    cnio__put_le32(raw + 8, 0);
    cnio__put_le32(raw + 12, sums_ent_check(b, raw));
}

struct sums_ent cnio__srv_sums_ent_decode(uint64_t b, const uint8_t *raw)
{
    static const uint8_t zero[SUMS_ENT];
    struct sums_ent e = { 0, SUMS_BAD };

    if (!memcmp(raw, zero, SUMS_ENT))   /* a hole in the sums file: a block of zeros */
        return (struct sums_ent){ 0, 0 };
    if (cnio__get_le32(raw + 8) == 0 && cnio__get_le32(raw + 12) == sums_ent_check(b, raw)) {
        e.crc = cnio__get_le32(raw);
        e.covered = cnio__get_le32(raw + 4);
    }
    return e;
}

/* Entries of blocks [b0, b0 + n) into e (those past the file's end: {0, 0}; damaged
 * ones: {0, SUMS_BAD}). A version-1 entry marked pending cannot be told from one with a
 * flipped bit: damaged too, but for heal (the one reader that recomputes it). */
static int sums_get_v(const struct cnio_srv_sums *s, uint64_t b0, size_t n, struct sums_ent *e,
                      int v1_pending)
{
    uint8_t raw[SUMS_MAX_BLOCKS * SUMS_ENT];
    size_t ent = sums_ent(s);
    ssize_t got;

    if (n > SUMS_MAX_BLOCKS)
        return -CNIO_ERR_INVAL;
    got = cnio__srv_sums_pread_full(s->fd, raw, n * ent, sums_hdr(s) + b0 * ent);
    if (got < 0)
        return cnio__srv_why_errno(errno);
    memset(raw + got, 0, n * ent - (size_t)got);
    for (size_t i = 0; i < n; i++) {
        if (!s->v1) {
            e[i] = cnio__srv_sums_ent_decode(b0 + i, raw + i * ent);
            continue;
        }
        e[i].crc = cnio__get_le32(raw + i * ent);
        e[i].covered = cnio__get_le32(raw + i * ent + 4);
        if ((e[i].covered & SUMS_PENDING) && !v1_pending)
            e[i] = (struct sums_ent){ 0, SUMS_BAD };
    }
    return 0;
}

static int sums_get(const struct cnio_srv_sums *s, uint64_t b0, size_t n, struct sums_ent *e)
{
    return sums_get_v(s, b0, n, e, 0);
}

int cnio__srv_sums_put(const struct cnio_srv_sums *s, uint64_t b0, size_t n,
                    const struct sums_ent *e)
{
    uint8_t raw[SUMS_MAX_BLOCKS * SUMS_ENT];
    size_t ent = sums_ent(s);

    if (n > SUMS_MAX_BLOCKS)
        return -CNIO_ERR_INVAL;
    for (size_t i = 0; i < n; i++) {
        if (!s->v1) {
            cnio__srv_sums_ent_encode(b0 + i, &e[i], raw + i * ent);
            continue;
        }
        cnio__put_le32(raw + i * ent, e[i].crc);
        cnio__put_le32(raw + i * ent + 4, e[i].covered);
    }
    return cnio__srv_sums_pwrite_full(s->fd, raw, n * ent, sums_hdr(s) + b0 * ent);
}

/* The CRC of a block of len bytes (its length in the file) that e describes: 0, or -1
 * when e cannot describe it (pending, or covering more than the block has). */
static int sums_block_crc(const struct sums_ent *e, uint32_t len, uint32_t *crc)
{
    if ((e->covered & SUMS_PENDING) || e->covered > len)
        return -1;
    *crc = e->covered == len ? e->crc
                             : cnio__crc32c_combine(e->crc, cnio__crc32c_zeros(len - e->covered),
                                                    len - e->covered);
    return 0;
}

/* The entry of a block from its bytes (len of them; trailing zeros need no cover). */
struct sums_ent cnio__srv_sums_from_data(const uint8_t *p, uint32_t len)
{
    struct sums_ent e;

    while (len && !p[len - 1])
        len--;
    e.crc = cnio__crc32c(0, p, len);
    e.covered = len;
    return e;
}

/* Reads up to blen bytes of block b of dfd into buf: the length read, or a negative
 * code. blen CNIO_SRV_BLOCK reads the block whole; a READ passes the length the file had
 * a moment ago, so that a short last block takes one pread, not a second one to find the
 * end (a file that grew since fails the block's CRC check, which reads it whole). */
static ssize_t sums_read_block_len(int dfd, uint64_t b, uint32_t blen, uint8_t *buf)
{
    ssize_t n = cnio__srv_sums_pread_full(dfd, buf, blen, b * CNIO_SRV_BLOCK);

    return n < 0 ? cnio__srv_why_errno(errno) : n;
}

static ssize_t sums_read_block(int dfd, uint64_t b, uint8_t *buf)
{
    return sums_read_block_len(dfd, b, CNIO_SRV_BLOCK, buf);
}

/*
 * The new entry of block b after a WRITE of piece [a, z) of it (block-relative) whose CRC
 * is pcrc: from the old entry when it allows, else from the file, read into *buf (a
 * scratch block, taken here the first time one is needed: a small file's only WRITE
 * never needs it).
 */
static int sums_edge(const struct cnio_srv_sums *s, int dfd, uint64_t b, uint32_t a, uint32_t z,
                     uint32_t pcrc, const struct sums_ent *old, uint8_t **buf,
                     struct sums_ent *e)
{
    ssize_t n;

    if (!(old->covered & SUMS_PENDING)) {
        if (a == 0 && old->covered <= z) {
            e->crc = pcrc;
            e->covered = z;
            return 0;
        }
        if (old->covered <= a) {   /* zeros between what was covered and the piece */
            e->crc = cnio__crc32c_combine(cnio__crc32c_combine(old->crc,
                                                               cnio__crc32c_zeros(a - old->covered),
                                                               a - old->covered),
                                          pcrc, z - a);
            e->covered = z;
            return 0;
        }
    }
    (void)s;
    if (!*buf && !(*buf = sums_scratch_get()))
        return -CNIO_ERR_NOMEM;
    n = sums_read_block(dfd, b, *buf);
    if (n < 0)
        return (int)n;
    *e = cnio__srv_sums_from_data(*buf, (uint32_t)n);
    return 0;
}

/* CRCs of the pieces of payload p (len bytes at off) cut at block boundaries. */
static uint32_t sums_pieces(uint64_t off, const uint8_t *p, size_t len, uint32_t *pc,
                            size_t *np)
{
    uint32_t total = 0, op = 0;
    size_t i = 0, done = 0;

    while (done < len) {
        uint64_t o = off + done;
        size_t n = (size_t)CNIO_MIN(len - done, CNIO_SRV_BLOCK - o % CNIO_SRV_BLOCK);

        pc[i] = cnio__crc32c(0, p + done, n);
        if (n == CNIO_SRV_BLOCK) {
            if (!op)
                op = cnio__crc32c_shift_op(CNIO_SRV_BLOCK);
            total = cnio__crc32c_combine_op(total, pc[i], op);
        } else {
            total = cnio__crc32c_combine(total, pc[i], n);
        }
        done += n;
        i++;
    }
    *np = i;
    return total;
}

/*
 * A block whose entry is damaged gets a new one only from a WRITE of all of it: the rest
 * of its bytes could be vouched for by nothing but themselves, and recomputing the entry
 * from them would make damage there look verified. 0, or -CNIO_ERR_IO (nothing written,
 * the reason said) when [off, off + len) covers part of such a block; a block it covers
 * whole is marked pending from a clean slate.
 */
static int sums_write_bad(struct sums_ent *e, size_t np, uint64_t off, size_t len)
{
    uint64_t b0 = off / CNIO_SRV_BLOCK;

    for (size_t i = 0; i < np; i++) {
        uint64_t bs = (b0 + i) * CNIO_SRV_BLOCK;

        if (e[i].covered != SUMS_BAD)
            continue;
        if (off > bs || off + len < bs + CNIO_SRV_BLOCK)   /* not a checksum error: that
                                                             * drops a WRITE's connection */
            return cnio__srv_why(-CNIO_ERR_IO, "the stored checksum of the block at "
                                 "offset %llu of this host's file is damaged: only a write "
                                 "of the whole block, or of the object afresh, replaces it",
                                 (unsigned long long)bs);
        e[i] = (struct sums_ent){ 0, 0 };
    }
    return 0;
}

/* Writes the data and then the entries (the groups locked). */
static int sums_write_locked(const struct cnio_srv_sums *s, int dfd, uint64_t off,
                             const uint8_t *p, size_t len, const uint32_t *pc, size_t np)
{
    struct sums_ent e[SUMS_MAX_BLOCKS], mark[SUMS_MAX_BLOCKS];
    uint64_t b0 = off / CNIO_SRV_BLOCK;
    uint8_t *buf = NULL;
    int ret = sums_get(s, b0, np, e);

    if (!ret)
        ret = sums_write_bad(e, np, off, len);
    for (size_t i = 0; !ret && i < np; i++) {
        mark[i].crc = e[i].crc;
        mark[i].covered = e[i].covered | SUMS_PENDING;
    }
    if (!ret)
        ret = cnio__srv_sums_put(s, b0, np, mark);
    if (!ret)
        ret = cnio__srv_sums_pwrite_full(dfd, p, len, off);
    for (size_t i = 0; !ret && i < np; i++) {
        uint64_t bs = (b0 + i) * CNIO_SRV_BLOCK;
        uint32_t a = (uint32_t)(CNIO_MAX(bs, off) - bs);
        uint32_t z = (uint32_t)(CNIO_MIN(bs + CNIO_SRV_BLOCK, off + len) - bs);

        if (a == 0 && z == CNIO_SRV_BLOCK) {
            e[i].crc = pc[i];
            e[i].covered = z;
            continue;
        }
        ret = sums_edge(s, dfd, b0 + i, a, z, pc[i], &e[i], &buf, &e[i]);
    }
    sums_scratch_put(buf);
    if (!ret)
        ret = cnio__srv_sums_put(s, b0, np, e);
    return ret;
}

int cnio__srv_sums_write(const struct cnio_srv_sums *s, int dfd, uint64_t off, const uint8_t *p,
                         size_t len, uint32_t want_crc)
{
    uint32_t pc[SUMS_MAX_BLOCKS];
    size_t np;
    int ret;

    if (len > CNIO_WIRE_MAX_PAYLOAD)
        return -CNIO_ERR_INVAL;
    if (sums_pieces(off, p, len, pc, &np) != want_crc)
        return -CNIO_ERR_CHECKSUM;
    if (!len)
        return 0;
    if (s->fd < 0)
        return cnio__srv_sums_pwrite_full(dfd, p, len, off);
    sums_lock_range(s, off / CNIO_SRV_BLOCK, (off + len - 1) / CNIO_SRV_BLOCK, 1);
    ret = sums_write_locked(s, dfd, off, p, len, pc, np);
    sums_lock_range(s, off / CNIO_SRV_BLOCK, (off + len - 1) / CNIO_SRV_BLOCK, 0);
    return ret;
}

int cnio__srv_sums_truncate(const struct cnio_srv_sums *s, int dfd, uint64_t size, int data)
{
    uint64_t nb = (size + CNIO_SRV_BLOCK - 1) / CNIO_SRV_BLOCK;
    uint32_t tail = (uint32_t)(size % CNIO_SRV_BLOCK);
    uint64_t was = nb, lo, hi;
    struct sums_ent e = { 0, 0 };
    struct stat sb;
    uint8_t *buf;
    int ret = 0;

    if (s->fd < 0)
        return data && ftruncate(dfd, (off_t)size) < 0 ? cnio__srv_why_errno(errno) : 0;
    /* The locks of the blocks from the old end to the new one are held across the data's
     * truncation and the entries' update, so that a READ checking one of them
     * (sums_verify, which looks again under its lock) finds both or neither. */
    if (data && fstat(dfd, &sb) == 0)
        was = ((uint64_t)sb.st_size + CNIO_SRV_BLOCK - 1) / CNIO_SRV_BLOCK;
    lo = CNIO_MIN(nb, was);
    hi = CNIO_MAX(nb, was);
    if (hi)
        sums_lock_range(s, lo ? lo - 1 : 0, hi - 1, 1);
    if (data && ftruncate(dfd, (off_t)size) < 0)
        ret = cnio__srv_why_errno(errno);
    if (!ret && ftruncate(s->fd, (off_t)(sums_hdr(s) + nb * sums_ent(s))) < 0)
        ret = cnio__srv_why_errno(errno);
    if (!ret && tail)
        ret = sums_get(s, nb - 1, 1, &e);
    /* a damaged entry stays so: recomputed from the bytes, it would vouch for them */
    if (!ret && tail && e.covered != SUMS_BAD &&
        ((e.covered & SUMS_PENDING) || e.covered > tail)) {
        buf = sums_scratch_get();
        ssize_t n = buf ? sums_read_block(dfd, nb - 1, buf) : -CNIO_ERR_NOMEM;

        if (n < 0)
            ret = (int)n;
        if (!ret) {
            e = cnio__srv_sums_from_data(buf, (uint32_t)n);
            ret = cnio__srv_sums_put(s, nb - 1, 1, &e);
        }
        sums_scratch_put(buf);
    }
    if (hi)
        sums_lock_range(s, lo ? lo - 1 : 0, hi - 1, 0);
    return ret;
}

/*
 * Checks block b (len bytes long in the file, read into buf) against entry e; on a
 * mismatch, reads both again under the block's lock (a WRITE may have been between
 * them). 0 when it matches, 1 when the entry is pending (nothing to check against),
 * -CNIO_ERR_CHECKSUM when the block or its entry is damaged, or another negative code.
 */
static int sums_verify(const struct cnio_srv_sums *s, int dfd, uint64_t b, uint8_t *buf,
                       uint32_t *len, struct sums_ent *e)
{
    uint32_t want;
    ssize_t n;
    int ret;

    if (!(e->covered & SUMS_PENDING) && !sums_block_crc(e, *len, &want) &&
        cnio__crc32c(0, buf, *len) == want)
        return 0;
    sums_lock_range(s, b, b, 1);
    ret = sums_get(s, b, 1, e);
    n = ret ? ret : sums_read_block(dfd, b, buf);
    sums_lock_range(s, b, b, 0);
    if (n < 0)
        return (int)n;
    *len = (uint32_t)n;
    if (e->covered == SUMS_BAD)
        return -CNIO_ERR_CHECKSUM;
    if (e->covered & SUMS_PENDING)
        return 1;
    if (sums_block_crc(e, *len, &want) || cnio__crc32c(0, buf, *len) != want)
        return -CNIO_ERR_CHECKSUM;
    return 0;
}

/*
 * One edge block of a READ: read whole, checked, and the CRC of its part [a, z) taken
 * out (copied to out when not NULL). 2 when the file ended before z (it shrank).
 */
static int sums_read_edge(const struct cnio_srv_sums *s, int dfd, const char *name, uint64_t b,
                          uint32_t blen, struct sums_ent *e, uint32_t a, uint32_t z,
                          uint8_t *buf, uint8_t *out, uint32_t *crc)
{
    ssize_t n = sums_read_block_len(dfd, b, blen, buf);
    uint32_t len;
    int ret;

    if (n < 0)
        return (int)n;
    len = (uint32_t)n;
    ret = sums_verify(s, dfd, b, buf, &len, e);
    if (ret < 0) {
        if (ret == -CNIO_ERR_CHECKSUM && e->covered == SUMS_BAD)
            cnio__warn("object %s: the stored CRC32C of the block at offset %llu of this "
                       "host's file is damaged: the block cannot be verified", name,
                       (unsigned long long)(b * CNIO_SRV_BLOCK));
        else if (ret == -CNIO_ERR_CHECKSUM)
            cnio__warn("object %s: the block at offset %llu of this host's file does not "
                       "match its stored CRC32C: damaged", name,
                       (unsigned long long)(b * CNIO_SRV_BLOCK));
        return ret;
    }
    if (ret == 1)
        cnio__debug("object %s: block at %llu is being written (or was, when the server "
                    "stopped): sent unchecked", name, (unsigned long long)(b * CNIO_SRV_BLOCK));
    if (len < z)
        return 2;
    *crc = cnio__crc32c(0, buf + a, z - a);
    if (out)
        memcpy(out, buf + a, z - a);
    return 0;
}

int cnio__srv_sums_read(const struct cnio_srv_sums *s, int dfd, const char *name, uint64_t off,
                        uint64_t len, uint64_t fsize, uint8_t *out, uint32_t *crc_out)
{
    struct sums_ent e[SUMS_MAX_BLOCKS];
    uint64_t b0 = off / CNIO_SRV_BLOCK, b1;
    uint32_t total = 0, op = cnio__crc32c_shift_op(CNIO_SRV_BLOCK);
    uint8_t *buf = NULL;
    size_t nb;
    int ret;

    if (!len) {
        *crc_out = 0;
        return 0;
    }
    b1 = (off + len - 1) / CNIO_SRV_BLOCK;
    nb = (size_t)(b1 - b0 + 1);
    ret = sums_get(s, b0, nb, e);
    for (size_t i = 0; !ret && i < nb; i++) {
        uint64_t bs = (b0 + i) * CNIO_SRV_BLOCK;
        uint32_t a = (uint32_t)(CNIO_MAX(bs, off) - bs);
        uint32_t z = (uint32_t)(CNIO_MIN(bs + CNIO_SRV_BLOCK, off + len) - bs);
        uint32_t blen = (uint32_t)CNIO_MIN(CNIO_SRV_BLOCK, fsize - bs), pcrc;

        if (!out && a == 0 && z == blen && !sums_block_crc(&e[i], blen, &pcrc)) {
            total = z == CNIO_SRV_BLOCK ? cnio__crc32c_combine_op(total, pcrc, op)
                                        : cnio__crc32c_combine(total, pcrc, z);
            continue;
        }
        if (!buf && !(buf = sums_scratch_get())) {
            ret = -CNIO_ERR_NOMEM;
            break;
        }
        ret = sums_read_edge(s, dfd, name, b0 + i, blen, &e[i], a, z, buf,
                             out ? out + (bs + a - off) : NULL, &pcrc);
        if (ret == 0)
            total = cnio__crc32c_combine(total, pcrc, z - a);
    }
    sums_scratch_put(buf);
    *crc_out = total;
    return ret;
}

/* Where the blocks that a sums file of size bytes has entries for end, in the data. */
static uint64_t sums_ends(const struct cnio_srv_sums *s, uint64_t size)
{
    return size <= sums_hdr(s) ? 0 : (size - sums_hdr(s)) / sums_ent(s) * CNIO_SRV_BLOCK;
}

/* cnio__srv_sums_past_end's look at the entries of the blocks from fsize's to end's (the
 * locks of those blocks held, fsize read under them). */
static int sums_past_end_locked(const struct cnio_srv_sums *s, const char *name, uint64_t fsize,
                                uint64_t end, uint64_t *at)
{
    struct sums_ent e[SUMS_MAX_BLOCKS];
    uint64_t b = fsize / CNIO_SRV_BLOCK;

    while (b * CNIO_SRV_BLOCK < end) {
        size_t n = (size_t)CNIO_MIN(SUMS_MAX_BLOCKS, (end - 1) / CNIO_SRV_BLOCK + 1 - b);
        int ret = sums_get(s, b, n, e);

        for (size_t i = 0; !ret && i < n; i++) {
            uint64_t bs = (b + i) * CNIO_SRV_BLOCK;

            /* a damaged entry says nothing either way: it cannot vouch for a hole */
            if (e[i].covered != SUMS_BAD &&
                ((e[i].covered & SUMS_PENDING) || bs + e[i].covered <= fsize))
                continue;
            *at = CNIO_MAX(bs, fsize);
            if (name && e[i].covered == SUMS_BAD)
                cnio__warn("object %s: the stored CRC32C of the block at offset %llu of this "
                           "host's file, past its end (%llu), is damaged", name,
                           (unsigned long long)bs, (unsigned long long)fsize);
            else if (name)
                cnio__warn("object %s: this host's file ends at %llu, but its block "
                           "checksums say it held data there: it was truncated behind "
                           "the server's back (damaged)", name, (unsigned long long)fsize);
            return -CNIO_ERR_CHECKSUM;
        }
        if (ret)
            return ret;
        b += n;
    }
    return 0;
}

/*
 * The file's size is read under the locks of the blocks from its end to the last one the
 * sums have an entry for, so that a SETSIZE beside (cnio__srv_sums_truncate, which
 * truncates the data and then the entries under the locks of the blocks between the two
 * ends) is seen whole or not at all: a look between its two truncations took the entries
 * it was about to cut for data the file had lost. A file whose length moved between the
 * look and the locks is looked at again.
 */
int cnio__srv_sums_past_end(const struct cnio_srv_sums *s, int dfd, const char *name,
                            uint64_t end, uint64_t *at)
{
    struct stat sb, ss;

    if (s->fd < 0)
        return 0;
    for (int tries = 0; tries < SUMS_END_TRIES; tries++) {
        uint64_t fsize, last;
        int ret;

        if (fstat(dfd, &sb) < 0 || fstat(s->fd, &ss) < 0)
            return cnio__srv_why_errno(errno);
        fsize = (uint64_t)sb.st_size;
        if (end <= fsize || sums_ends(s, (uint64_t)ss.st_size) <= fsize)
            return 0;   /* no entry past the end */
        last = (CNIO_MIN(end, sums_ends(s, (uint64_t)ss.st_size)) - 1) / CNIO_SRV_BLOCK;
        sums_lock_range(s, fsize / CNIO_SRV_BLOCK, last, 1);
        ret = fstat(dfd, &sb) < 0 || fstat(s->fd, &ss) < 0 ? cnio__srv_why_errno(errno) : 1;
        if (ret == 1 && (uint64_t)sb.st_size == fsize)   /* (the entries as they are now) */
            ret = sums_past_end_locked(s, name, fsize,
                                       CNIO_MIN(CNIO_MIN(end, (last + 1) * CNIO_SRV_BLOCK),
                                                sums_ends(s, (uint64_t)ss.st_size)), at);
        sums_lock_range(s, fsize / CNIO_SRV_BLOCK, last, 0);
        if (ret != 1)
            return ret;
    }
    return cnio__srv_why(-CNIO_ERR_IO, "its length kept changing while it was checked");
}

int cnio__srv_sums_check(const struct cnio_srv_sums *s, int dfd, uint64_t *pos,
                         uint8_t *buf, int *pending, uint32_t *checked)
{
    struct sums_ent e;
    uint32_t len;
    ssize_t n;
    int ret;

    *pending = 0;
    n = sums_read_block(dfd, *pos / CNIO_SRV_BLOCK, buf);
    if (n <= 0)
        return n < 0 ? (int)n : 1;
    len = (uint32_t)n;
    ret = sums_get(s, *pos / CNIO_SRV_BLOCK, 1, &e);
    if (!ret)
        ret = sums_verify(s, dfd, *pos / CNIO_SRV_BLOCK, buf, &len, &e);
    if (ret == 1) {
        *pending = 1;
        ret = 0;
    } else if (ret == -CNIO_ERR_CHECKSUM && e.covered == SUMS_BAD) {
        *pending = 2;
    }
    /* The next block: after a short last one, its end (the next call finds no block). It
     * used to be pos + len, so a short last block of len bytes was read again and again,
     * 64 KiB / len times, and a grown one reported at every such offset. */
    *pos = (*pos / CNIO_SRV_BLOCK) * CNIO_SRV_BLOCK + (len < CNIO_SRV_BLOCK ? CNIO_SRV_BLOCK : len);
    *checked = len;
    return ret;
}

/* Block b's entry from its bytes, if it is still pending (its lock taken): 1 when
 * recomputed, 0 when not pending any more, or a negative code. */
static int sums_heal_block(const struct cnio_srv_sums *s, int dfd, uint64_t b, uint8_t *buf)
{
    struct sums_ent e;
    ssize_t got;
    int ret;

    sums_lock_range(s, b, b, 1);
    ret = sums_get_v(s, b, 1, &e, 1);
    if (!ret && e.covered != SUMS_BAD && (e.covered & SUMS_PENDING)) {
        got = sums_read_block(dfd, b, buf);
        if (got < 0) {
            ret = (int)got;
        } else {
            e = cnio__srv_sums_from_data(buf, (uint32_t)got);
            ret = cnio__srv_sums_put(s, b, 1, &e);
            ret = ret ? ret : 1;
        }
    }
    sums_lock_range(s, b, b, 0);
    return ret;
}

long cnio__srv_sums_heal(const struct cnio_srv_sums *s, int dfd)
{
    struct sums_ent e[SUMS_MAX_BLOCKS];
    uint8_t *buf = NULL;
    struct stat sb;
    uint64_t nb;
    long n = 0;

    if (s->fd < 0)
        return 0;
    if (fstat(s->fd, &sb) < 0)
        return cnio__srv_why_errno(errno);
    nb = (uint64_t)sb.st_size > sums_hdr(s) ? ((uint64_t)sb.st_size - sums_hdr(s)) / sums_ent(s)
                                            : 0;
    for (uint64_t b0 = 0; b0 < nb && n >= 0; b0 += SUMS_MAX_BLOCKS) {
        size_t cnt = (size_t)CNIO_MIN(SUMS_MAX_BLOCKS, nb - b0);
        int ret = sums_get_v(s, b0, cnt, e, 1);

        for (size_t i = 0; !ret && i < cnt; i++) {
            if (e[i].covered == SUMS_BAD || !(e[i].covered & SUMS_PENDING))
                continue;
            if (!buf && !(buf = malloc(CNIO_SRV_BLOCK))) {
                ret = -CNIO_ERR_NOMEM;
                break;
            }
            ret = sums_heal_block(s, dfd, b0 + i, buf);
            n += ret > 0;
            ret = ret > 0 ? 0 : ret;
        }
        if (ret)
            n = ret;
    }
    free(buf);
    return n;
}
