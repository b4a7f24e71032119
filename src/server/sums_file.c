/*
 * sums_file.c - the life of the block sums files (the format: sums_int.h): made with a
 * staged instance, opened (built from the data when missing; refused when damaged),
 * emptied, committed beside their object, removed; and fsynced.
 *
 * A sums file whose header is damaged is refused, to readers and writers alike
 * (-CNIO_ERR_CHECKSUM): a reader's READs fail as they do for damaged data, and a writer's
 * open fails, rather than rebuild the sums from the data, which would make whatever the
 * data holds now look verified; a writer cannot rebuild "only what it rewrites" either,
 * since the entries of the blocks it does not rewrite are gone with the header's word
 * for them. The object is then rewritten afresh (cnio cp: a new staged instance and new
 * sums) or removed. One exception: a file shorter than a header beside an empty data file
 * is what a crash between a sums file's creation and its header leaves (sums_new_at,
 * cnio__srv_sums_reset), and there are no bytes to vouch for: a writer rebuilds it, a
 * reader reads without sums.
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

int cnio__srv_sums_header_write(int fd, uint64_t gen)
{
    uint8_t h[SUMS_HDR];

    memset(h, 0, sizeof(h));
    memcpy(h, SUMS_MAGIC, 8);
    cnio__put_le32(h + 8, SUMS_VERSION);
    cnio__put_le32(h + 12, CNIO_SRV_BLOCK);
    cnio__put_le64(h + 16, gen);
    cnio__put_le32(h + SUMS_HDR - 4, cnio__crc32c(0, h, SUMS_HDR - 4));
    return cnio__srv_sums_pwrite_full(fd, h, sizeof(h), 0);
}

/* Whether h (SUMS_HDR bytes) is a sound header of version v (2 or 3) once its version
 * word reads v: its zeros (version 3 holds the generation in the first 8 of them) and
 * its CRC. */
static int sums_header_as(const uint8_t *h, uint32_t v)
{
    static const uint8_t zero[SUMS_HDR - 20];
    uint8_t as[SUMS_HDR - 4];
    size_t z = v == SUMS_VERSION ? 24 : 16;

    memcpy(as, h, sizeof(as));
    cnio__put_le32(as + 8, v);
    return !memcmp(h + z, zero, SUMS_HDR - 4 - z) &&
           cnio__get_le32(h + SUMS_HDR - 4) == cnio__crc32c(0, as, sizeof(as));
}

int cnio__srv_sums_header_ok(const uint8_t *h, size_t len, uint64_t *gen)
{
    uint32_t v;

    *gen = 0;
    if (len < SUMS_V1_HDR || memcmp(h, SUMS_MAGIC, 8) || cnio__get_le32(h + 12) != CNIO_SRV_BLOCK)
        return 0;
    v = cnio__get_le32(h + 8);
    /* A version-2 or 3 header whose version word was damaged into 1 (two bits) would read
     * its entries as version 1's, unchecked: it still has its zeros and its CRC, which
     * no version-1 file has there (its first entries). */
    if (v == 1)
        return len >= SUMS_HDR && (sums_header_as(h, SUMS_V2) || sums_header_as(h, SUMS_VERSION))
                   ? 0
                   : 1;
    if ((v != SUMS_V2 && v != SUMS_VERSION) || len < SUMS_HDR || !sums_header_as(h, v))
        return 0;
    if (v == SUMS_VERSION)
        *gen = cnio__get_le64(h + 16);
    return (int)v;
}

#define SUMS_HDR_TORN 100   /* a crash's leftover: shorter than a header, its data empty */

/* The version of fd's header (3, 2 or 1; *gen the generation a version 3 names), 0 when
 * it is damaged, SUMS_HDR_TORN (see above), or a negative code when it cannot be read. */
static int sums_header_check(int fd, int empty, uint64_t *gen)
{
    uint8_t h[SUMS_HDR];
    ssize_t n = cnio__srv_sums_pread_full(fd, h, sizeof(h), 0);
    int v;

    *gen = 0;
    if (n < 0)
        return cnio__srv_why_errno(errno);
    v = cnio__srv_sums_header_ok(h, (size_t)n, gen);
    return v == 0 && n < SUMS_HDR && empty ? SUMS_HDR_TORN : v;
}

/* Writes the entries of every block of data file dfd into sums file fd, of generation gen. */
static int sums_build(int fd, int dfd, uint64_t gen)
{
    uint8_t *buf = malloc(CNIO_SRV_BLOCK);
    uint64_t b = 0;
    int ret = buf ? cnio__srv_sums_header_write(fd, gen) : -CNIO_ERR_NOMEM;

    while (!ret) {
        ssize_t n = cnio__srv_sums_pread_full(dfd, buf, CNIO_SRV_BLOCK, b * CNIO_SRV_BLOCK);
        struct sums_ent e;

        if (n < 0)
            ret = cnio__srv_why_errno(errno);
        if (n <= 0)
            break;
        e = cnio__srv_sums_from_data(buf, (uint32_t)n);
        ret = cnio__srv_sums_put(&(struct cnio_srv_sums){ .fd = fd }, b, 1, &e);
        b++;
    }
    free(buf);
    return ret;
}

/* Whether sums of header version v naming generation have (0: none) may be those of an
 * object or instance of generation gen (0: any): else they are another's, and name's
 * file was replaced. strict: its upload made them (CNIO_SRV_META_SIZED), naming gen. */
static int sums_gen_ok(const char *name, int v, uint64_t have, uint64_t gen, int strict)
{
    if (v <= 0 || (strict ? v == SUMS_VERSION && have == gen
                          : v != SUMS_VERSION || !have || !gen || have == gen))
        return 1;
    cnio__warn("object %s: its block sums file on this host belongs to another object "
               "(made for generation %016llx, its metadata says %016llx): its data and "
               "block sums were replaced behind the server's back", name,
               (unsigned long long)have, (unsigned long long)gen);
    return 0;
}

/* Opens (create: creating, built from the data) the sums file rel beneath dirfd of
 * object name of generation gen (0: not known; strict: see sums_gen_ok), whose data file
 * dfd is empty or not; *v1: a version-1 file. */
static int sums_open_at(int dirfd, const char *rel, const char *name, uint64_t gen, int strict,
                        int dfd, int create, int empty, int *out, int *v1)
{
    char tmp[64];
    const char *base;
    uint64_t have;
    int pfd, fd, ret, tries = 0;

    *v1 = 0;
    fd = cnio__srv_store_at(dirfd, rel, O_RDWR | O_NONBLOCK, 0);
    if (fd < 0 && errno == EROFS && !create)   /* storage turned read-only: still read */
        fd = cnio__srv_store_at(dirfd, rel, O_RDONLY | O_NONBLOCK, 0);
    if (fd >= 0) {
        int v = sums_header_check(fd, empty, &have);

        if (!sums_gen_ok(name, v, have, gen, strict))
            v = 0;   /* another object's: as damaged (nothing rebuilds them) */
        if (v == 1 || v == SUMS_V2 || v == SUMS_VERSION) {
            *out = fd;
            *v1 = v == 1;
            return 0;
        }
        close(fd);
        if (v <= 0)
            return v < 0 ? v : -CNIO_ERR_CHECKSUM;
        if (!create)
            return 1;
    } else if (errno != ENOENT || !create) {
        return errno == ENOENT ? 1 : cnio__srv_why_errno(errno);
    }
    ret = cnio__srv_store_mkparents(dirfd, rel);
    if (ret)
        return ret;
    pfd = cnio__srv_store_parent(dirfd, rel, &base);
    if (pfd < 0)
        return cnio__srv_why_errno(errno);
    do {
        cnio__srv_store_tmp_name(tmp, sizeof(tmp), ".sums.");
        fd = openat(pfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    } while (fd < 0 && errno == EEXIST && ++tries < 8);
    ret = fd < 0 ? cnio__srv_why_errno(errno) : sums_build(fd, dfd, gen);
    if (!ret && renameat(pfd, tmp, pfd, base) < 0)
        ret = cnio__srv_why_errno(errno);
    if (ret) {
        unlinkat(pfd, tmp, 0);
        if (fd >= 0)
            close(fd);
    } else {
        *out = fd;
    }
    close(pfd);
    return ret;
}

/*
 * The sums of an empty data file (a fresh staged instance) are the header alone: made
 * in place, with no temporary file and rename, when name does not exist. 0 (*out), 1
 * when it exists (the caller opens it), or a negative code. A crash between the create
 * and the header leaves a file shorter than a header beside an empty data file, which
 * the opening with create rebuilds, and a reader takes for none.
 */
static int sums_new_at(int dirfd, const char *file, uint64_t gen, int *out)
{
    int fd = openat(dirfd, file, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);

    if (fd < 0)
        return errno == EEXIST ? 1 : cnio__srv_why_errno(errno);
    if (cnio__srv_sums_header_write(fd, gen)) {
        unlinkat(dirfd, file, 0);
        close(fd);
        return -CNIO_ERR_IO;
    }
    *out = fd;
    return 0;
}

/* sums_open_at of an object's sums after making way for them (cnio__srv_side_parent):
 * what a name removed before left in .cnio/sums, a directory or a file, was in the way. */
static int sums_open_side(struct cnio_srv_store *st, const char *name, uint64_t gen, int dfd,
                          int empty, int *out, int *v1)
{
    const char *base;
    int pfd = cnio__srv_side_parent(st, st->sumsfd, name, &base), ret;

    if (pfd < 0)
        return pfd;
    close(pfd);
    ret = cnio__srv_side_clear(st->sumsfd, name);
    return ret ? ret : sums_open_at(st->sumsfd, name, name, gen, 0, dfd, 1, empty, out, v1);
}

int cnio__srv_sums_open(struct cnio_srv_store *st, const char *name, uint64_t stage,
                        const struct cnio_srv_meta *m, int dfd, const struct stat *dsb,
                        int create, struct cnio_srv_sums *s)
{
    const int sized = !stage && m && (m->flags & CNIO_SRV_META_SIZED);
    const uint64_t gen = m ? m->gen : 0;
    char file[40];
    struct stat sb;
    int fd = -1, ret, v1 = 0;

    s->fd = -1;
    if (dsb)
        sb = *dsb;
    else if (fstat(dfd, &sb) < 0)
        return cnio__srv_why_errno(errno);
    if (stage) {
        snprintf(file, sizeof(file), "%016llx.sums", (unsigned long long)stage);
        ret = create && sb.st_size == 0 ? sums_new_at(st->stagefd, file, stage, &fd) : 1;
        if (ret)
            ret = sums_open_at(st->stagefd, file, name, stage, 0, dfd, create,
                               sb.st_size == 0, &fd, &v1);
    } else {
        /* An upload's sums went with its commit: none now is a loss, and sums built from
         * the data would vouch for whatever it holds. That is so of every object that has
         * a generation (a staged instance committed: each is made with its sums), not
         * only of one whose metadata vouches for its length (CNIO_SRV_META_SIZED), which a
         * writer in place clears while it has it open: sums deleted then, its readers
         * read it unchecked, and the next writer's open rebuilt them from the data,
         * damaged or not, for its close to vouch for. An empty one has nothing to check. */
        const int kept = sized || (gen && sb.st_size > 0);

        create = create && !kept;
        ret = sums_open_at(st->sumsfd, name, name, gen, sized, dfd, create, sb.st_size == 0,
                           &fd, &v1);
        if (create && (ret == -CNIO_ERR_ISDIR || ret == -CNIO_ERR_NOENT))
            ret = sums_open_side(st, name, gen, dfd, sb.st_size == 0, &fd, &v1);
        if (kept && (ret == 1 || ret == -CNIO_ERR_ISDIR || ret == -CNIO_ERR_NOENT)) {
            cnio__warn("object %s: its block sums file on this host is missing, which its "
                       "upload made", name);
            ret = -CNIO_ERR_CHECKSUM;
        }
    }
    if (ret)
        return ret;
    s->fd = fd;
    s->v1 = v1;
    s->key = (uint64_t)sb.st_dev * 0x100000001b3ull ^ (uint64_t)sb.st_ino;
    return 0;
}

int cnio__srv_sums_names(const struct cnio_srv_sums *s, uint64_t gen)
{
    uint8_t h[SUMS_HDR];
    uint64_t have;
    ssize_t n = s->fd < 0 ? -1 : cnio__srv_sums_pread_full(s->fd, h, sizeof(h), 0);

    return n == SUMS_HDR && cnio__srv_sums_header_ok(h, (size_t)n, &have) == SUMS_VERSION &&
           have == gen;
}

int cnio__srv_sums_refused(int code, const char *name, int writing)
{
    return cnio__srv_why(code, "the block checksums of %s on this host are damaged, "
                         "missing or another object's, so %s; write it afresh (cnio cp) or "
                         "remove it",
                         name, writing ? "it cannot be written in place"
                                       : "none of it can be verified");
}

void cnio__srv_sums_close(struct cnio_srv_sums *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

int cnio__srv_sums_reset(struct cnio_srv_store *st, const char *name)
{
    int fd = cnio__srv_store_at(st->sumsfd, name, O_WRONLY | O_NONBLOCK, 0), ret = 0;

    if (fd < 0 && errno == EISDIR)   /* of a directory of that name, removed */
        return cnio__srv_side_clear(st->sumsfd, name);
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR ? 0 : cnio__srv_why_errno(errno);
    if (ftruncate(fd, 0) < 0 || cnio__srv_sums_header_write(fd, 0))
        ret = -CNIO_ERR_IO;
    close(fd);
    return ret;
}

int cnio__srv_sums_unlink(struct cnio_srv_store *st, const char *name)
{
    const char *base;
    int pfd = cnio__srv_store_parent(st->sumsfd, name, &base), r = 0;

    if (pfd < 0)
        return errno == ENOENT || errno == ENOTDIR ? 0 : cnio__srv_why_errno(errno);
    if (unlinkat(pfd, base, 0) < 0 && errno != ENOENT)
        r = errno == EISDIR ? cnio__srv_side_clear(st->sumsfd, name)
                            : cnio__srv_why_errno(errno);
    close(pfd);
    return r;
}

int cnio__srv_sums_commit(struct cnio_srv_store *st, const char *name, uint64_t id, int pfd,
                          const char *base)
{
    char file[40];
    int ret = 0;

    snprintf(file, sizeof(file), "%016llx.sums", (unsigned long long)id);
    for (int again = 1; ret == 0; again = 0) {
        if (renameat(st->stagefd, file, pfd, base) < 0) {
            ret = errno == ENOENT ? 0 : cnio__srv_why_errno(errno);
            if (!ret && unlinkat(pfd, base, 0) < 0 && errno != ENOENT)
                ret = cnio__srv_why_errno(errno);
        }
        /* a directory a removed name left where the sums go: cleared, and once again */
        if (ret != -CNIO_ERR_ISDIR || !again || cnio__srv_side_clear(st->sumsfd, name))
            break;
        ret = 0;
    }
    return ret;
}

void cnio__srv_sums_discard(struct cnio_srv_store *st, uint64_t id)
{
    char file[40];

    snprintf(file, sizeof(file), "%016llx.sums", (unsigned long long)id);
    unlinkat(st->stagefd, file, 0);
}

int cnio__srv_sums_sync(const struct cnio_srv_sums *s)
{
    if (s->fd < 0 || fsync(s->fd) == 0)
        return 0;
    return cnio__srv_why_errno(errno);
}
