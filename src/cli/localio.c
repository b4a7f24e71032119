/*
 * localio.c - the local file side of `cnio cp`: buffers for chunks, an upload's source
 * read ahead into a small pool of them, and a download's chunks written behind.
 *
 * An upload used to map its whole range of the source and send from the mapping. That
 * takes a page fault per 4 KiB the first time the CRC pass touches each page, whose cost
 * depends on the machine (about 0.2 us where faults are cheap, 1.7 us on the CI's VMs:
 * 0.45 s a GiB there, a third of the copy's CPU), and it holds the whole range resident
 * (1.06 GB RSS for a 1 GiB file). Here a reader thread preads chunk k + 1 into the next
 * buffer of a ring of CLI_READ_BUFS while chunk k is sent from its own: one copy out of
 * the page cache (about 0.09 s a GiB, the same on every machine), no faults after the
 * buffers' first use, and memory bounded by the ring whatever the file's size. Mapping a
 * window per chunk with MAP_POPULATE saves the copy but pays the page-table set-up and
 * teardown per chunk instead (doc/performance.md has the figures measured both ways).
 *
 * Every buffer comes from cli_buf_alloc: an anonymous mapping populated up front, so
 * the data path never faults on it either.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define CLI_READ_BUFS 2

void *cli_buf_alloc(size_t len)
{
    void *p;

    if (!len)
        len = 1;
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
             -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void cli_buf_free(void *p, size_t len)
{
    if (p)
        munmap(p, len ? len : 1);
}

/*
 * Chunk k of the range goes to buffer k % CLI_READ_BUFS. The thread has read chunks
 * [0, next); the consumer has released [0, taken) and holds chunk taken while held; the
 * thread reads chunk k only once k < taken + CLI_READ_BUFS.
 */
struct cli_reader {
    int fd;
    uint64_t lo, hi, chunk;
    pthread_t tid;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t cv;
    char *buf[CLI_READ_BUFS];
    int err[CLI_READ_BUFS];     /* per buffer: 0, an errno, or -1 (the file ended early) */
    uint64_t next, taken;
    int held, quit;
};

/* Reads chunk k into its slot: 0, an errno, or -1 when the file ends before the chunk. */
static int reader_fill(struct cli_reader *r, uint64_t k)
{
    uint64_t off = r->lo + k * r->chunk, len = CNIO_MIN(r->chunk, r->hi - off);
    char *buf = r->buf[k % CLI_READ_BUFS];

    for (uint64_t n = 0; n < len;) {
        ssize_t got = pread(r->fd, buf + n, len - n, (off_t)(off + n));

        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return got < 0 ? errno : -1;
        n += (uint64_t)got;
    }
    return 0;
}

static uint64_t reader_count(const struct cli_reader *r)
{
    return (r->hi - r->lo + r->chunk - 1) / r->chunk;
}

static void *reader_main(void *arg)
{
    struct cli_reader *r = arg;

    pthread_mutex_lock(&r->lock);
    for (;;) {
        uint64_t k = r->next;
        int e;

        while (!r->quit && k < reader_count(r) && k >= r->taken + CLI_READ_BUFS)
            pthread_cond_wait(&r->cv, &r->lock);
        if (r->quit || k >= reader_count(r))
            break;
        pthread_mutex_unlock(&r->lock);
        e = reader_fill(r, k);
        pthread_mutex_lock(&r->lock);
        r->err[k % CLI_READ_BUFS] = e;
        r->next = k + 1;
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

int cli_reader_open(int fd, uint64_t lo, uint64_t hi, uint64_t chunk, struct cli_reader **out)
{
    struct cli_reader *r = calloc(1, sizeof(*r));
    int i;

    if (!r || !chunk)
        goto nomem;
    r->fd = fd;
    r->lo = lo;
    r->hi = CNIO_MAX(lo, hi);
    r->chunk = chunk;
    for (i = 0; i < CLI_READ_BUFS; i++)
        if (!(r->buf[i] = cli_buf_alloc(chunk)))
            goto free_bufs;
    if (pthread_mutex_init(&r->lock, NULL))
        goto free_bufs;
    if (pthread_cond_init(&r->cv, NULL)) {
        pthread_mutex_destroy(&r->lock);
        goto free_bufs;
    }
    r->started = pthread_create(&r->tid, NULL, reader_main, r) == 0;
    *out = r;
    return 0;
free_bufs:
    for (i = 0; i < CLI_READ_BUFS; i++)
        cli_buf_free(r->buf[i], chunk);
nomem:
    free(r);
    return -CNIO_ERR_NOMEM;
}

int cli_reader_get(struct cli_reader *r, uint64_t off, uint64_t len, const char **data)
{
    uint64_t k;
    int slot, e;

    if (off < r->lo || (off - r->lo) % r->chunk || len != CNIO_MIN(r->chunk, r->hi - off))
        return EINVAL;
    k = (off - r->lo) / r->chunk;
    slot = (int)(k % CLI_READ_BUFS);
    pthread_mutex_lock(&r->lock);
    if (r->held) {   /* the chunk handed out last is done with */
        r->taken++;
        r->held = 0;
    }
    if (k < r->taken) {
        pthread_mutex_unlock(&r->lock);
        return EINVAL;   /* chunks are handed out in order, once */
    }
    r->taken = k;   /* skipped chunks are released too */
    pthread_cond_broadcast(&r->cv);
    if (r->started) {
        while (r->next <= k)
            pthread_cond_wait(&r->cv, &r->lock);
        e = r->err[slot];
    } else {
        e = reader_fill(r, k);
    }
    r->held = 1;
    pthread_mutex_unlock(&r->lock);
    *data = r->buf[slot];
    return e;
}

void cli_reader_close(struct cli_reader *r)
{
    if (!r)
        return;
    if (r->started) {
        pthread_mutex_lock(&r->lock);
        r->quit = 1;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->lock);
        pthread_join(r->tid, NULL);
    }
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->lock);
    for (int i = 0; i < CLI_READ_BUFS; i++)
        cli_buf_free(r->buf[i], r->chunk);
    free(r);
}

/* The download's writer: pwrites one chunk at a time while the next one arrives. */
struct cli_writer {
    int fd;
    pthread_t tid;
    pthread_mutex_t lock;
    pthread_cond_t cv;
    const char *buf;
    uint64_t off, len;
    int busy, quit, err, started;
};

/* 0 or an errno. */
static int writer_write(int fd, const char *buf, uint64_t len, uint64_t off)
{
    for (uint64_t n = 0; n < len;) {
        ssize_t r = pwrite(fd, buf + n, len - n, (off_t)(off + n));

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errno;
        n += (uint64_t)r;
    }
    return 0;
}

static void *writer_main(void *arg)
{
    struct cli_writer *w = arg;

    pthread_mutex_lock(&w->lock);
    for (;;) {
        int e;

        while (!w->busy && !w->quit)
            pthread_cond_wait(&w->cv, &w->lock);
        if (!w->busy)
            break;
        pthread_mutex_unlock(&w->lock);
        e = writer_write(w->fd, w->buf, w->len, w->off);
        pthread_mutex_lock(&w->lock);
        if (e && !w->err)
            w->err = e;
        w->busy = 0;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int cli_writer_open(int fd, struct cli_writer **out)
{
    struct cli_writer *w = calloc(1, sizeof(*w));

    *out = NULL;
    if (!w)
        return -CNIO_ERR_NOMEM;
    w->fd = fd;
    if (pthread_mutex_init(&w->lock, NULL)) {
        free(w);
        return -CNIO_ERR_NOMEM;
    }
    if (pthread_cond_init(&w->cv, NULL)) {
        pthread_mutex_destroy(&w->lock);
        free(w);
        return -CNIO_ERR_NOMEM;
    }
    w->started = pthread_create(&w->tid, NULL, writer_main, w) == 0;
    *out = w;
    return 0;
}

int cli_writer_put(struct cli_writer *w, const char *buf, uint64_t len, uint64_t off)
{
    int e;

    if (!w)
        return ENOMEM;
    pthread_mutex_lock(&w->lock);
    while (w->busy)
        pthread_cond_wait(&w->cv, &w->lock);
    e = w->err;
    if (!e && len && w->started) {
        w->buf = buf;
        w->len = len;
        w->off = off;
        w->busy = 1;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->lock);
    if (!e && len && !w->started)
        e = w->err = writer_write(w->fd, buf, len, off);
    return e;
}

void cli_writer_close(struct cli_writer *w)
{
    if (!w)
        return;
    if (w->started) {
        pthread_mutex_lock(&w->lock);
        while (w->busy)
            pthread_cond_wait(&w->cv, &w->lock);
        w->quit = 1;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->tid, NULL);
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

int cli_part_name(const char *path, char *out, size_t cap)
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    size_t dir = (size_t)(base - path);
    uint64_t h;
    int n;

    if (strlen(base) + sizeof(CLI_PART) - 1 <= NAME_MAX)
        n = snprintf(out, cap, "%s%s", path, CLI_PART);
    else {
        h = cnio__fnv1a64(CNIO_FNV64_BASIS, base, strlen(base));
        n = snprintf(out, cap, "%.*s%s-%016llx", (int)dir, path, CLI_PART, (unsigned long long)h);
    }
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

int cli_snap(int fd, struct cli_snap *s)
{
    struct stat sb;

    if (fstat(fd, &sb) < 0)
        return errno;
    *s = (struct cli_snap){ .size = (uint64_t)sb.st_size,
                            .mtime_s = sb.st_mtim.tv_sec, .mtime_ns = sb.st_mtim.tv_nsec,
                            .ctime_s = sb.st_ctim.tv_sec, .ctime_ns = sb.st_ctim.tv_nsec };
    return 0;
}

int cli_regular(int fd)
{
    struct stat sb;
    int fl;

    if (fstat(fd, &sb) < 0)
        return errno;
    if (!S_ISREG(sb.st_mode))
        return S_ISDIR(sb.st_mode) ? EISDIR : ENODEV;
    fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
        return errno;
    return 0;
}

int cli_longer_than(int fd, uint64_t size)
{
    char c;
    ssize_t r;

    do
        r = pread(fd, &c, 1, (off_t)size);
    while (r < 0 && errno == EINTR);
    return r == 1;
}

int cli_snap_changed(int fd, const struct cli_snap *was)
{
    struct cli_snap now;

    return cli_snap(fd, &now) != 0 || memcmp(&now, was, sizeof(now)) != 0;
}
