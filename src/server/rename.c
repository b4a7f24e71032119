/*
 * rename.c - RENAME of a name (an object or a directory) on one cnio-server, so that
 * neither a crash nor a failed step leaves a name that reads wrong.
 *
 * A name lives in three trees beneath the root: its data (ROOT/NAME), its metadata
 * (.cnio/meta/NAME: layout, size, generation) and its block checksums (.cnio/sums/NAME).
 * Renaming the three is three renameat calls, and a data file found without its
 * metadata is served as a plain one-column file: a striped object's first column
 * alone, wrong bytes read back with success. So a RENAME first writes its intent,
 * .cnio/rename { which trees hold FROM, FROM, TO }, fsynced, then:
 *
 *   1. removes what TO holds in a tree that FROM has nothing in (an old target's
 *      metadata or checksums would otherwise describe FROM's bytes);
 *   2. moves the data, then the metadata, then the checksums (each directory fsynced);
 *   3. removes the intent (fsynced: a stale one would be replayed).
 *
 * A step of 2 that fails puts back what 2 moved. A server that crashes in between finds
 * the intent at startup (cnio__srv_rename_recover, root lock held, before it serves)
 * and finishes the rename: every tree that still holds FROM moves it to TO. While an
 * intent that could not be finished is left, further RENAMEs are refused until a
 * restart finishes it. The checksums move with the object, so a moved object's damaged
 * blocks are still found by reads and scrubs.
 */
#include "server.h"
#include "common.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RN_FILE "rename"              /* in ROOT/.cnio */
#define RN_MAGIC 0x4e524e43u          /* "CNRN" */
#define RN_HDR 20                     /* magic, version, flags, from_len, to_len */
#define RN_MAX (RN_HDR + 2 * CNIO_WIRE_MAX_NAME + 4)
#define RN_META 1u                    /* FROM has metadata */
#define RN_SUMS 2u                    /* FROM has block checksums */

/* The intent's bytes: header, FROM, TO, CRC32C of all before it. Returns the length. */
static size_t rn_encode(uint8_t *buf, uint32_t flags, const char *from, const char *to)
{
    size_t nf = strlen(from), nt = strlen(to);

    cnio__put_le32(buf, RN_MAGIC);
    cnio__put_le32(buf + 4, 1);
    cnio__put_le32(buf + 8, flags);
    cnio__put_le32(buf + 12, (uint32_t)nf);
    cnio__put_le32(buf + 16, (uint32_t)nt);
    memcpy(buf + RN_HDR, from, nf);
    memcpy(buf + RN_HDR + nf, to, nt);
    cnio__put_le32(buf + RN_HDR + nf + nt, cnio__crc32c(0, buf, RN_HDR + nf + nt));
    return RN_HDR + nf + nt + 4;
}

/* Parses the bytes of ROOT/.cnio/rename (len of them): 0, or -CNIO_ERR_IO when they are
 * not a whole, valid record. */
static int rn_decode(const uint8_t *buf, size_t len, uint32_t *flags,
                     char from[CNIO_WIRE_MAX_NAME + 1], char to[CNIO_WIRE_MAX_NAME + 1])
{
    uint32_t nf, nt;

    if (len < RN_HDR + 4 || cnio__get_le32(buf) != RN_MAGIC || cnio__get_le32(buf + 4) != 1)
        return -CNIO_ERR_IO;
    *flags = cnio__get_le32(buf + 8);
    nf = cnio__get_le32(buf + 12);
    nt = cnio__get_le32(buf + 16);
    if (nf > CNIO_WIRE_MAX_NAME || nt > CNIO_WIRE_MAX_NAME || len != RN_HDR + nf + nt + 4 ||
        (*flags & ~(RN_META | RN_SUMS)) ||
        cnio__get_le32(buf + RN_HDR + nf + nt) != cnio__crc32c(0, buf, RN_HDR + nf + nt))
        return -CNIO_ERR_IO;
    memcpy(from, buf + RN_HDR, nf);
    from[nf] = '\0';
    memcpy(to, buf + RN_HDR + nf, nt);
    to[nt] = '\0';
    if (cnio__name_problem(from, nf) || cnio__name_problem(to, nt))
        return -CNIO_ERR_IO;
    return 0;
}

/* 1 when name is there beneath basefd (a file, a directory, a link), 0 when not, or a
 * negative code. */
static int rn_exists(int basefd, const char *name)
{
    int fd = cnio__srv_store_at(basefd, name, O_PATH | O_NOFOLLOW, 0);

    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR ? 0 : cnio__srv_why_errno(errno);
    close(fd);
    return 1;
}

/* renameat of from to to beneath basefd, making to's parents, with to's directory
 * fsynced: 0, 1 when from was not there, or a negative code. */
static int rn_move(int basefd, const char *from, const char *to)
{
    const char *fb, *tb;
    int ret = cnio__srv_store_mkparents(basefd, to), fp, tp, r, e;

    if (ret)
        return ret;
    fp = cnio__srv_store_parent(basefd, from, &fb);
    if (fp < 0)
        return errno == ENOENT ? 1 : cnio__srv_why_errno(errno);
    tp = cnio__srv_store_mkparents_at(basefd, to, &tb);
    if (tp < 0) {
        close(fp);
        return tp;
    }
    r = renameat(fp, fb, tp, tb);
    e = errno;
    close(fp);
    ret = r == 0 ? cnio__srv_store_sync_dir(tp) : 0;
    close(tp);
    if (r == 0)
        return ret;
    if (e == ENOENT)
        return 1;
    return e == ENOTEMPTY ? -CNIO_ERR_EXIST : cnio__srv_why_errno(e);
}

/* Removes name beneath basefd (a file, or a directory of nothing but directories), its
 * directory fsynced: 0 (also when it was not there) or a negative code. */
static int rn_drop(int basefd, const char *name)
{
    const char *base;
    int pfd = cnio__srv_store_parent(basefd, name, &base), r, e, ret;

    if (pfd < 0)
        return errno == ENOENT || errno == ENOTDIR ? 0 : cnio__srv_why_errno(errno);
    r = unlinkat(pfd, base, 0);
    if (r < 0 && errno == EISDIR) {
        r = cnio__srv_side_clear(basefd, name);
        errno = r == -CNIO_ERR_ISDIR ? ENOTEMPTY : r ? EIO : 0;
        r = r ? -1 : 0;
    }
    e = errno;
    if (r < 0 && e == ENOENT)
        r = 0;
    if (r < 0) {
        close(pfd);
        return e == ENOTEMPTY ? -CNIO_ERR_EXIST : cnio__srv_why_errno(e);
    }
    ret = cnio__srv_store_sync_path(pfd);
    close(pfd);
    return ret;
}

/* ROOT/.cnio, for reading (fsync works on it): the fd or a negative code. */
static int rn_cnio_dir(const struct cnio_srv_store *st)
{
    int fd = cnio__srv_store_at(st->rootfd, ".cnio", O_RDONLY | O_DIRECTORY, 0);

    return fd >= 0 ? fd : cnio__srv_why_errno(errno);
}

static int rn_intent_drop(int cfd)
{
    if (unlinkat(cfd, RN_FILE, 0) < 0 && errno != ENOENT)
        return cnio__srv_why_errno(errno);
    return cnio__srv_store_sync_dir(cfd);
}

/* Step 2: the trees that hold from, in order; on a failure, what moved goes back. */
static int rn_forward(const struct cnio_srv_store *st, uint32_t flags, const char *from,
                      const char *to)
{
    int fds[3] = { st->rootfd, st->metafd, st->sumsfd };
    int has[3] = { 1, !!(flags & RN_META), !!(flags & RN_SUMS) };
    int i, ret = 0;

    for (i = 0; i < 3 && !ret; i++)
        if (has[i])
            ret = rn_move(fds[i], from, to);
    if (!ret)
        return 0;
    ret = ret == 1 ? -CNIO_ERR_NOENT : ret;
    for (i -= 2; i >= 0; i--) {   /* the one that failed did not move */
        int back = has[i] ? rn_move(fds[i], to, from) : 0;

        if (back) {
            cnio__err("rename %s to %s failed (%s) and could not be undone (%s); restart "
                      "cnio-server to finish it", from, to, cnio__srv_strerror(ret),
                      cnio__srv_strerror(back < 0 ? back : -CNIO_ERR_NOENT));
            return 1;
        }
    }
    return ret;
}

int cnio__srv_rename(struct cnio_srv_store *st, const char *from, const char *to)
{
    uint8_t buf[RN_MAX];
    uint32_t flags = 0;
    int cfd, ret, m, s;

    ret = rn_exists(st->rootfd, from);
    if (ret <= 0)
        return ret ? ret : -CNIO_ERR_NOENT;
    m = rn_exists(st->metafd, from);
    s = rn_exists(st->sumsfd, from);
    if (m < 0 || s < 0)
        return m < 0 ? m : s;
    flags = (m ? RN_META : 0) | (s ? RN_SUMS : 0);
    cfd = rn_cnio_dir(st);
    if (cfd < 0)
        return cfd;
    if (faccessat(cfd, RN_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
        close(cfd);
        return cnio__srv_why(-CNIO_ERR_IO, "a rename that failed halfway waits for "
                             "cnio-server's restart to finish it");
    }
    ret = cnio__srv_store_replace(cfd, RN_FILE, buf, rn_encode(buf, flags, from, to), 1);
    if (!ret)
        ret = cnio__srv_store_sync_dir(cfd);
    /* what a name removed before left at TO, in the way of what FROM moves there */
    if (!ret)
        ret = m ? cnio__srv_side_clear(st->metafd, to) : rn_drop(st->metafd, to);
    if (!ret)
        ret = s ? cnio__srv_side_clear(st->sumsfd, to) : rn_drop(st->sumsfd, to);
    ret = ret == -CNIO_ERR_ISDIR ? -CNIO_ERR_EXIST : ret;
    if (!ret)
        ret = rn_forward(st, flags, from, to);
    if (ret != 1) {
        int d = rn_intent_drop(cfd);

        ret = ret ? ret : d;
    } else {
        ret = -CNIO_ERR_IO;   /* the intent stays for the restart */
    }
    close(cfd);
    return ret;
}

int cnio__srv_rename_recover(struct cnio_srv_store *st)
{
    char from[CNIO_WIRE_MAX_NAME + 1], to[CNIO_WIRE_MAX_NAME + 1];
    uint8_t buf[RN_MAX + 1];
    uint32_t flags = 0;
    int cfd = rn_cnio_dir(st), fd, ret;
    ssize_t n;

    if (cfd < 0)
        return cfd;
    fd = openat(cfd, RN_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        ret = errno == ENOENT ? 0 : cnio__srv_why_errno(errno);
        close(cfd);
        return ret;
    }
    n = pread(fd, buf, sizeof(buf), 0);
    close(fd);
    ret = n < 0 ? cnio__srv_why_errno(errno)
                : rn_decode(buf, (size_t)n, &flags, from, to);
    if (ret) {
        cnio__warn(".cnio/" RN_FILE " is damaged (%s): a rename a crash interrupted is left "
                   "as it was", cnio__srv_strerror(ret));
    } else {
        int fds[3] = { st->rootfd, st->metafd, st->sumsfd };
        uint32_t has[3] = { 1, flags & RN_META, flags & RN_SUMS };

        for (int i = 0; i < 3 && !ret; i++) {
            int r = rn_move(fds[i], from, to);   /* 1: moved already, or nothing to move */

            ret = r < 0 ? r : 0;
            if (!ret && r == 1 && !has[i])
                ret = rn_drop(fds[i], to);
        }
        if (ret) {
            cnio__err("cannot finish the rename of %s to %s that a crash interrupted: %s",
                      from, to, cnio__srv_strerror(ret));
            close(cfd);
            return ret;
        }
        cnio__info("finished the rename of %s to %s that a crash interrupted", from, to);
    }
    ret = rn_intent_drop(cfd);
    close(cfd);
    return ret;
}
