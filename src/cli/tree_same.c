/*
 * tree_same.c - whether a tree entry is already at the destination, by content: the
 * CRC32C of every byte of a local file or of an object (`cnio sum`, and `cnio cp -r
 * --checksum`, which skips a file whose CRC32C matches, and a link whose target does).
 */
#include "tree.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* CRC32C of fd's bytes: from offset 0 with pread, or (stream) from its position with read. */
static int tree_crc_fd(int fd, int stream, char *buf, uint64_t cap, uint32_t *crc,
                       uint64_t *size)
{
    uint32_t v = 0;
    uint64_t off = 0;

    for (;;) {
        ssize_t n = stream ? read(fd, buf, (size_t)cap) : pread(fd, buf, (size_t)cap, (off_t)off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return cnio__err_from_errno(errno);
        if (n == 0)
            break;
        v = cnio__crc32c(v, buf, (size_t)n);
        off += (uint64_t)n;
    }
    *crc = v;
    *size = off;
    return 0;
}

int tree_crc_local(int fd, char *buf, uint64_t cap, uint32_t *crc, uint64_t *size)
{
    return tree_crc_fd(fd, 0, buf, cap, crc, size);
}

int tree_crc_stream(int fd, char *buf, uint64_t cap, uint32_t *crc, uint64_t *size)
{
    return tree_crc_fd(fd, 1, buf, cap, crc, size);
}

int tree_crc_obj(struct cnio_obj *obj, char *buf, uint64_t cap, uint32_t *crc, uint64_t *size)
{
    uint64_t total, off = 0;
    uint32_t v = 0;
    int ret = cnio__obj_size(obj, &total);

    while (ret == 0 && off < total) {
        ssize_t n = cnio__obj_pread(obj, buf, (size_t)CNIO_MIN(cap, total - off), off);

        if (n <= 0)
            return n < 0 ? (int)n : -CNIO_ERR_IO;
        v = cnio__crc32c(v, buf, (size_t)n);
        off += (uint64_t)n;
    }
    *crc = v;
    *size = off;
    return ret;
}

/* Local fd against object obj, both e->size bytes, chunk by chunk: each host computes the
 * CRC32C of its pieces (cli_resume_same), so no object byte moves. 1 when all match. */
static int tree_same_local_obj(struct tree_ctx *c, const struct tree_ent *e, int fd,
                               struct cnio_obj *obj)
{
    uint64_t total;

    if (cnio__obj_size(obj, &total) || total != e->size)
        return 0;
    for (uint64_t off = 0; off < e->size;) {
        uint64_t n = CNIO_MIN(c->chunk, e->size - off), got = 0;
        int same = 0;

        while (got < n) {
            ssize_t k = pread(fd, c->buf + got, (size_t)(n - got), (off_t)(off + got));

            if (k <= 0)
                return 0;
            got += (uint64_t)k;
        }
        if (cli_resume_same(obj, c->buf, off, n, &same) || !same)
            return 0;
        off += n;
    }
    return 1;
}

/* One end local, the other remote: 1 when the local file is e->size bytes and the object
 * holds the same bytes (tree_same_local_obj). */
static int tree_same_one_remote(struct tree_ctx *c, const struct tree_ent *e)
{
    struct tree_end *remote = c->src->remote ? c->src : c->dst;
    struct tree_end *local = c->src->remote ? c->dst : c->src;
    int fd = tf_open(local->dirfd, e->rel, O_RDONLY, 0), same = 0;
    struct cnio_obj *obj;
    struct stat sb;

    if (fd < 0)
        return 0;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && (uint64_t)sb.st_size == e->size &&
        tf_obj(c, remote, e->rel, 0, &obj) == 0) {
        same = tree_same_local_obj(c, e, fd, obj);
        cnio__obj_close(obj);
    }
    close(fd);
    return same;
}

/* --checksum, and a file the plan marked TREE_COMPARE: 1 when the destination holds a file
 * with the source's bytes (their CRC32C, computed where the bytes are). */
int tree_same_crc(struct tree_ctx *c, const struct tree_ent *e)
{
    uint32_t crc[2] = { 1, 2 };
    uint64_t sz[2] = { 0, 1 };

    if (c->src->remote != c->dst->remote)
        return tree_same_one_remote(c, e);

    for (int k = 0; k < 2; k++) {
        struct tree_end *end = k ? c->dst : c->src;
        struct cnio_obj *obj;
        int ret = -1;

        if (end->remote && tf_obj(c, end, e->rel, 0, &obj) == 0) {
            ret = tree_crc_obj(obj, c->buf, c->chunk, &crc[k], &sz[k]);
            cnio__obj_close(obj);
        } else if (!end->remote) {
            int fd = tf_open(end->dirfd, e->rel, O_RDONLY, 0);

            if (fd >= 0) {
                ret = tree_crc_local(fd, c->buf, c->chunk, &crc[k], &sz[k]);
                close(fd);
            }
        }
        if (ret)
            return 0;
    }
    return crc[0] == crc[1] && sz[0] == sz[1];
}

/* --checksum: the target of link e at end into buf (TF_LINK_MAX bytes): a local symlink's,
 * or an object's recorded as a link (mode S_IFLNK). 0, or -1 when there is no such link. */
static int tf_link_at(struct tree_ctx *c, struct tree_end *end, const struct tree_ent *e,
                      char *buf)
{
    struct cnio_obj_stat sb;
    struct cnio_uri u = end->u;
    struct cnio_obj *obj;
    const char *base;
    ssize_t n;
    int pfd, ret;

    if (!end->remote && end == c->src && e->link) {
        snprintf(buf, TF_LINK_MAX, "%s", e->link);
        return 0;
    }
    if (!end->remote) {
        pfd = tf_parent(end->dirfd, e->rel, &base);
        if (pfd < 0)
            return -1;
        n = readlinkat(pfd, base, buf, TF_LINK_MAX - 1);
        close(pfd);
        if (n < 0)
            return -1;
        buf[n] = '\0';
        return 0;
    }
    u.path = tree_obj_name(end, e->rel);
    ret = u.path ? cnio__obj_stat(c->st, &u, &end->h, &sb) : -1;
    free(u.path);
    if (ret || sb.is_dir || (sb.mode & S_IFMT) != S_IFLNK || (sb.state & CNIO_OBJ_INCOMPLETE))
        return -1;
    if (tf_obj(c, end, e->rel, 0, &obj))
        return -1;
    ret = tf_read_link(obj, sb.size, buf);
    cnio__obj_close(obj);
    return ret ? -1 : 0;
}

/* --checksum, --sync, --resume: 1 when the destination holds link e with the same
 * target. */
int tree_same_link(struct tree_ctx *c, const struct tree_ent *e)
{
    char a[TF_LINK_MAX], b[TF_LINK_MAX];

    return tf_link_at(c, c->src, e, a) == 0 && tf_link_at(c, c->dst, e, b) == 0 &&
           strcmp(a, b) == 0;
}
