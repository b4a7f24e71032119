/*
 * scrub.c - checking every block of every object against its stored CRC32C (sums.c):
 * once, by `cnio-server --root DIR --scrub` (damage named on stderr, exit status 1), or
 * continuously in a running server at --scrub-rate bytes a second (damage logged).
 *
 * A block whose write never finished (its entry still marked pending: the server
 * stopped between the data and its checksum) cannot be checked: the offline scrub
 * reports it as unverified, which counts as damage; the background scrub skips objects
 * that a live handle writes in place, and pending blocks of the others are logged.
 * Staged instances (uploads not committed) are not scrubbed: they are not objects yet.
 * A damaged entry (its check word does not match, sums_int.h) is reported as damage of
 * its block, never as pending; a damaged header as damage of the whole object.
 */
#include "server.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SCRUB_PATH_MAX (CNIO_WIRE_MAX_NAME + NAME_MAX + 2)
#define SCRUB_PASS_PAUSE_MS 1000

struct scrub_ctx {
    struct cnio_srv_store *st;
    struct cnio_srv *srv;       /* background: the server (NULL for --scrub) */
    uint8_t *buf;
    long bad;                   /* damaged or unverified blocks, objects without sums */
    uint64_t bytes;             /* checked so far (rate limit) */
    int64_t start_ms;
    int stop;
};

/* Names a problem of object name (at offset off of this host's file, unless SCRUB_NO_OFF). */
#define SCRUB_NO_OFF UINT64_MAX
static void scrub_report(struct scrub_ctx *x, const char *name, uint64_t off, const char *what)
{
    char at[48] = "", shown[4 * PATH_MAX];

    if (off != SCRUB_NO_OFF)
        snprintf(at, sizeof(at), " block at offset %llu:", (unsigned long long)off);
    if (x->srv) {
        cnio__warn("scrub: object %s:%s %s", name, at, what);
    } else {   /* a name found on disk may hold control characters: escaped as the log does */
        cnio__escape_ctl(shown, sizeof(shown), name, strlen(name));
        fprintf(stderr, "cnio-server: scrub: object %s:%s %s\n", shown, at, what);
    }
}

/* At the end of object name's file fd: whether it was truncated behind the server's back
 * (its block sums say it held more than zeros past its end). */
static void scrub_end(struct scrub_ctx *x, const char *name, const struct cnio_srv_sums *s,
                      int fd)
{
    uint64_t at = 0;
    char what[96];

    if (cnio__srv_sums_past_end(s, fd, NULL, UINT64_MAX, &at) != -CNIO_ERR_CHECKSUM)
        return;
    snprintf(what, sizeof(what), "truncated: its block checksums say it held data past its "
             "end (%llu bytes)", (unsigned long long)at);
    scrub_report(x, name, SCRUB_NO_OFF, what);
    x->bad++;
}

/* Whether object name's file fd has the length its metadata m vouches for
 * (store_info.c). */
static void scrub_length(struct scrub_ctx *x, const char *name, const struct cnio_srv_meta *m,
                         int fd)
{
    struct stat sb;
    uint64_t want;
    char what[160];

    if (fstat(fd, &sb) < 0 || !cnio__srv_store_length_bad(x->st, name, m, &sb, &want))
        return;
    snprintf(what, sizeof(what), "%s to %llu bytes where its recorded size gives %llu "
             "(changed outside cnio-server): reads of it are refused",
             (uint64_t)sb.st_size > want ? "grown" : "truncated",
             (unsigned long long)sb.st_size, (unsigned long long)want);
    scrub_report(x, name, SCRUB_NO_OFF, what);
    x->bad++;
}

/* Waits as long as the rate limit asks (background only): 1 when the server stops. */
static int scrub_pace(struct scrub_ctx *x)
{
    int64_t due, now;

    if (!x->srv)
        return 0;
    due = x->start_ms + (int64_t)(x->bytes * 1000 / x->srv->opts.scrub_rate);
    now = cnio__now_ms();
    if (cnio__srv_bg_wait(&x->srv->scrub_bg, due > now ? (int)CNIO_MIN(due - now, 1000) : 0))
        x->stop = 1;
    return x->stop;
}

static void scrub_object(struct scrub_ctx *x, const char *name)
{
    struct cnio_srv_sums s;
    struct cnio_srv_meta m;
    uint64_t pos = 0;
    uint32_t checked = 0;
    pthread_mutex_t *lk;
    int fd, ret, meta, pending;

    if (x->srv && cnio__srv_store_written(x->st, name))
        return;   /* being written in place: checked on a later pass */
    /* the data, metadata and sums of one version: a commit of the name replaces them one
     * after the other, holding its open lock throughout (a background scrub paired one
     * version's with another's, and reported damage that was not there) */
    lk = cnio__srv_open_lock(x->st, name);
    pthread_mutex_lock(lk);
    fd = cnio__srv_store_at(x->st->rootfd, name, O_RDONLY | O_NONBLOCK, 0);
    meta = fd < 0 ? 1 : cnio__srv_store_meta_get(x->st, name, &m);
    ret = fd < 0 ? 1
                 : cnio__srv_sums_open(x->st, name, 0, meta == 0 ? &m : NULL, fd, NULL, 0, &s);
    pthread_mutex_unlock(lk);
    if (fd < 0)
        return;   /* removed meanwhile */
    if (ret) {
        scrub_report(x, name, SCRUB_NO_OFF,
                     ret == 1 ? "no block checksums (not written through cnio-server since "
                                "they are kept): nothing to check it against"
                     : ret == -CNIO_ERR_CHECKSUM
                         ? "its block checksums file is damaged (its header), missing "
                           "(its upload made it) or another object's: reads of it are "
                           "refused"
                         : "its block checksums cannot be read");
        x->bad += ret != 1;
        close(fd);
        return;
    }
    if (meta == 1) {   /* written through cnio-server */
        scrub_report(x, name, SCRUB_NO_OFF, "its metadata is missing (it held the layout): "
                     "reads of it are refused");
        x->bad++;
    } else if (meta == 0) {
        scrub_length(x, name, &m, fd);
    }
    while (!x->stop) {
        uint64_t at = pos;

        ret = cnio__srv_sums_check(&s, fd, &pos, x->buf, &pending, &checked);
        if (ret == 1) {
            scrub_end(x, name, &s, fd);
            break;
        }
        if (ret == -CNIO_ERR_CHECKSUM && pending == 2) {
            scrub_report(x, name, at, "damaged (its stored CRC32C is: the block cannot be "
                                      "verified)");
            x->bad++;
        } else if (ret == -CNIO_ERR_CHECKSUM) {
            scrub_report(x, name, at, "damaged (does not match its CRC32C)");
            x->bad++;
        } else if (ret < 0) {
            scrub_report(x, name, at, "cannot be read");
            x->bad++;
            break;
        } else if (pending) {
            scrub_report(x, name, at, "unverified (a write to it did not finish)");
            x->bad++;
        }
        x->bytes += checked;
        if (pos == at || scrub_pace(x))
            break;
    }
    cnio__srv_sums_close(&s);
    close(fd);
}

/* Every object beneath directory dir ("" = root), depth first. */
static void scrub_dir(struct scrub_ctx *x, const char *dir)
{
    char path[SCRUB_PATH_MAX];
    struct dirent *de;
    DIR *d;
    int fd = cnio__srv_store_at(x->st->rootfd, dir[0] ? dir : ".", O_RDONLY | O_DIRECTORY, 0);

    if (fd < 0)
        return;
    d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    while (!x->stop && (de = readdir(d))) {
        struct stat sb;

        if (de->d_name[0] == '.' ||
            (size_t)snprintf(path, sizeof(path), "%s%s%s", dir, dir[0] ? "/" : "", de->d_name) >=
                sizeof(path) ||
            fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (S_ISDIR(sb.st_mode))
            scrub_dir(x, path);
        else if (S_ISREG(sb.st_mode) && strlen(path) <= CNIO_WIRE_MAX_NAME)
            scrub_object(x, path);
    }
    closedir(d);
}

long cnio__srv_scrub_all(struct cnio_srv_store *st, uint64_t *bytes)
{
    struct scrub_ctx x;

    memset(&x, 0, sizeof(x));
    *bytes = 0;
    x.st = st;
    x.buf = malloc(CNIO_SRV_BLOCK);
    if (!x.buf)
        return -1;
    scrub_dir(&x, "");
    free(x.buf);
    *bytes = x.bytes;
    return x.bad;
}

static void *scrub_main(void *arg)
{
    struct cnio_srv *srv = arg;
    struct scrub_ctx x;

    memset(&x, 0, sizeof(x));
    x.st = &srv->store;
    x.srv = srv;
    x.buf = malloc(CNIO_SRV_BLOCK);
    while (x.buf && !x.stop) {
        x.bytes = 0;
        x.bad = 0;
        x.start_ms = cnio__now_ms();
        scrub_dir(&x, "");
        if (!x.stop)
            cnio__debug("scrub: pass done, %llu bytes checked, %ld problems",
                        (unsigned long long)x.bytes, x.bad);
        if (!x.stop && cnio__srv_bg_wait(&srv->scrub_bg, SCRUB_PASS_PAUSE_MS))
            x.stop = 1;
    }
    free(x.buf);
    return NULL;
}

int cnio__srv_scrub_start(struct cnio_srv *srv)
{
    int ret;

    if (!srv->opts.scrub_rate)
        return 0;
    ret = cnio__srv_bg_start(&srv->scrub_bg, scrub_main, srv);
    if (!ret)
        cnio__info("scrubbing every object in the background at %llu bytes/s",
                   (unsigned long long)srv->opts.scrub_rate);
    return ret;
}
