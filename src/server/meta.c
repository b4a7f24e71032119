/*
 * meta.c - an object's metadata file (the format is described in store.c), read and
 * replaced whole: written to a temporary file in the same directory and renamed over.
 */
#include "server.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define META_MAGIC "CNIOMETA"
#define META_VERSION 1
#define META_MAX_OFF (1ull << 62)

void cnio__srv_store_tmp_name(char *buf, size_t cap, const char *prefix)
{
    static _Atomic uint64_t next;
    uint64_t v = atomic_load(&next), rnd;

    /* A random start, so that names an earlier run left rarely collide (creators use
     * O_EXCL and take the next name when one does); then a count, which costs no call
     * into libcrypto (its fork check is a getpid per call). */
    if (v == 0 && cnio__random(&rnd, sizeof(rnd)) == 0)
        atomic_compare_exchange_strong(&next, &v, rnd | 1);
    v = atomic_fetch_add(&next, 1);
    snprintf(buf, cap, "%s%016llx", prefix, (unsigned long long)v);
}

void cnio__srv_meta_encode(const struct cnio_srv_meta *m, uint8_t out[CNIO_SRV_META_SIZE])
{
    memset(out, 0, CNIO_SRV_META_SIZE);
    memcpy(out, META_MAGIC, 8);
    cnio__put_le32(out + 8, META_VERSION);
    cnio__put_le32(out + 12, m->layout.count);
    cnio__put_le64(out + 16, m->layout.unit);
    cnio__put_le32(out + 24, m->index);
    cnio__put_le32(out + 28, m->flags);
    cnio__put_le64(out + 32, m->size);
    cnio__put_le64(out + 40, m->gen);
    cnio__put_le64(out + 48, m->seq);
    /* (a server before CAP_UPDATES reads the mode alone, and writes 0 above it) */
    cnio__put_le32(out + 56, (m->mode & 0xffffu) | (m->updates & 0xffffu) << 16);
    cnio__put_le32(out + 60, cnio__crc32c(0, out, 60));
}

int cnio__srv_meta_decode(const uint8_t *in, size_t len, struct cnio_srv_meta *m)
{
    if (len != CNIO_SRV_META_SIZE || memcmp(in, META_MAGIC, 8) ||
        cnio__get_le32(in + 8) != META_VERSION ||
        cnio__get_le32(in + 60) != cnio__crc32c(0, in, 60))
        return -CNIO_ERR_IO;
    m->layout.count = cnio__get_le32(in + 12);
    m->layout.unit = cnio__get_le64(in + 16);
    m->index = cnio__get_le32(in + 24);
    m->flags = cnio__get_le32(in + 28);
    m->size = cnio__get_le64(in + 32);
    m->gen = cnio__get_le64(in + 40);
    m->seq = cnio__get_le64(in + 48);
    m->mode = cnio__get_le32(in + 56) & 0xffffu;
    m->updates = cnio__get_le32(in + 56) >> 16;
    if (cnio__layout_check(&m->layout) || m->index >= m->layout.count ||
        m->size >= META_MAX_OFF)
        return -CNIO_ERR_IO;
    return 0;
}

/* Reads the metadata open as fd (closed here) of name: 0 or -CNIO_ERR_IO. */
static int store_meta_read_fd(int fd, const char *name, struct cnio_srv_meta *m)
{
    uint8_t buf[CNIO_SRV_META_SIZE + 1];
    ssize_t n = pread(fd, buf, sizeof(buf), 0);

    close(fd);
    if (n < 0 || cnio__srv_meta_decode(buf, (size_t)n, m)) {
        cnio__warn("corrupt metadata for object %s", name);
        /* (said to the client too: "I/O error" alone named neither cause nor remedy) */
        return cnio__srv_why(-CNIO_ERR_IO, "the metadata of %s on this host (.cnio/meta) "
                             "is damaged: its layout and version cannot be read; restore "
                             "it from a backup, or remove the object (cnio rm) and copy it "
                             "again", name);
    }
    return 0;
}

/* Reads name's metadata: 0, 1 when it has none, or a negative code. */
static int store_meta_read(struct cnio_srv_store *st, const char *name, struct cnio_srv_meta *m)
{
    int fd = cnio__srv_store_at(st->metafd, name, O_RDONLY | O_NONBLOCK, 0);

    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR ? 1 : cnio__srv_why_errno(errno);
    return store_meta_read_fd(fd, name, m);
}

int cnio__srv_store_meta_read_at(int pfd, const char *base, const char *name,
                                 struct cnio_srv_meta *m)
{
    int fd = openat(pfd, base, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0)
        return errno == ENOENT ? 1 : cnio__srv_why_errno(errno);
    return store_meta_read_fd(fd, name, m);
}

int cnio__srv_store_meta_get(struct cnio_srv_store *st, const char *name, struct cnio_srv_meta *m)
{
    return store_meta_read(st, name, m);
}

/* Writes len bytes to a fresh temporary file in pfd and renames it to base. */
int cnio__srv_store_replace(int pfd, const char *base, const uint8_t *buf, size_t len,
                            int durable)
{
    char tmp[64];
    int fd, ret = 0, tries = 0;

    do {
        cnio__srv_store_tmp_name(tmp, sizeof(tmp), ".tmp.");
        fd = openat(pfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    } while (fd < 0 && errno == EEXIST && ++tries < 8);
    if (fd < 0)
        return cnio__srv_why_errno(errno);
    errno = 0;
    if (pwrite(fd, buf, len, 0) != (ssize_t)len)
        ret = errno ? cnio__srv_why_errno(errno) : -CNIO_ERR_NOSPC;
    if (!ret && durable && fsync(fd) < 0)
        ret = cnio__srv_why_errno(errno);
    if (close(fd) < 0 && !ret)
        ret = cnio__srv_why_errno(errno);
    if (!ret && renameat(pfd, tmp, pfd, base) < 0)
        ret = cnio__srv_why_errno(errno);
    if (ret)
        unlinkat(pfd, tmp, 0);
    return ret;
}

int cnio__srv_store_meta_write_at(int pfd, const char *base, const char *name,
                                  const struct cnio_srv_meta *m, int durable)
{
    uint8_t buf[CNIO_SRV_META_SIZE];
    int ret;

    cnio__srv_meta_encode(m, buf);
    ret = cnio__srv_store_replace(pfd, base, buf, sizeof(buf), durable);
    if (ret)
        cnio__warn("metadata of %s: %s", name, cnio__srv_strerror(ret));
    return ret;
}

static int store_meta_write(struct cnio_srv_store *st, const char *name,
                            const struct cnio_srv_meta *m, int durable)
{
    const char *base;
    int pfd = cnio__srv_side_parent(st, st->metafd, name, &base), ret;

    if (pfd < 0)
        return pfd;
    ret = cnio__srv_store_meta_write_at(pfd, base, name, m, durable);
    if (ret == -CNIO_ERR_ISDIR && cnio__srv_side_clear(st->metafd, name) == 0)
        ret = cnio__srv_store_meta_write_at(pfd, base, name, m, durable);   /* a leftover dir */
    if (!ret && durable)   /* the rename, too */
        ret = cnio__srv_store_sync_dir(pfd);
    close(pfd);
    return ret;
}

int cnio__srv_store_meta_write(struct cnio_srv_store *st, const char *name,
                               const struct cnio_srv_meta *m)
{
    return store_meta_write(st, name, m, 0);
}

int cnio__srv_store_meta_write_sync(struct cnio_srv_store *st, const char *name,
                                    const struct cnio_srv_meta *m)
{
    return store_meta_write(st, name, m, 1);
}
