/*
 * tree_batch.c - the small files of `cnio cp -r` (tree_small), copied many at once
 * within one rank: a batch of uploads read whole into one buffer and sent over the
 * destination's session with several requests in flight (tree_put_small), or a batch
 * of downloads fetched so and written each to its part file (tree_get_small). A file
 * that cannot go in its batch is copied alone by tree_file.c, which says why by name.
 */
#include "tree.h"
#include "wire.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

int tree_small(const struct tree_ctx *c, const struct tree_ent *e)
{
    if (((c->o->resume || c->o->checksum) && e->incomplete != TREE_ABSENT) ||
        e->type != TREE_FILE || e->size > TREE_SMALL || e->incomplete == TREE_COMPARE)
        return 0;
    if (!c->src->remote && c->dst->remote && c->ns)
        return e->size <= c->dst->h.striping_unit;
    return c->src->remote && !c->dst->remote && c->src_ns;
}

/*
 * Reads local file e (tree_small) into buf: 0, or a negative code (said);
 * -CNIO_ERR_OVERFLOW (not said) when its size or mtime is no longer the walk's, when it
 * changed while read, or when it holds less or more than its size says, for the caller
 * to copy it alone, as it is now (alone, a file that fails says why by name; in the
 * batch, its status was said as a remote host's I/O error).
 */
static int tf_slurp(struct tree_ctx *c, const struct tree_ent *e, char *buf)
{
    int fd = tf_open_src(c, e->rel);
    struct cli_snap snap;
    struct tree_ent now;
    uint64_t k = 0;
    int err;

    if (fd < 0)
        return fd;
    if ((err = cli_snap(fd, &snap)) != 0) {
        close(fd);
        return tf_fail(c, e->rel, err);
    }
    now = tf_now(e, &snap);
    if (now.size != e->size || now.mtime_ns != e->mtime_ns) {
        close(fd);
        return -CNIO_ERR_OVERFLOW;
    }
    if (cli_longer_than(fd, e->size)) {   /* (alone, it says so by name) */
        close(fd);
        return -CNIO_ERR_OVERFLOW;
    }
    while (k < e->size) {
        ssize_t n = pread(fd, buf + k, (size_t)(e->size - k), (off_t)k);

        if (n <= 0) {
            err = errno;
            close(fd);
            return n < 0 ? tf_fail(c, e->rel, err) : -CNIO_ERR_OVERFLOW;   /* shorter */
        }
        k += (uint64_t)n;
    }
    err = cli_snap_changed(fd, &snap);
    close(fd);
    return err ? -CNIO_ERR_OVERFLOW : 0;   /* (alone, as it is now; said by name if again) */
}

/* For a batch of e[0..n): each entry's object name beneath end in *names (n of them) and
 * one buffer for all their bytes (e[i]->size each, in order): ctx's, grown when a batch
 * needs more and kept for the next, so that its pages are faulted in once per worker
 * rather than once per batch (a fresh buffer of a few MiB is a fresh mapping each time:
 * 7,000 page faults for a 34 MiB tree). 0, or -CNIO_ERR_NOMEM; tf_batch_free releases
 * the names either way. */
static int tf_batch_alloc(struct tree_ctx *c, const struct tree_end *end,
                          const struct tree_ent *const *e, int n, char ***names, char **buf)
{
    size_t total = 1;

    for (int i = 0; i < n; i++)
        total += (size_t)e[i]->size;
    *names = calloc((size_t)CNIO_MAX(n, 1), sizeof(**names));
    if (total > c->batch_cap) {
        free(c->batch);
        c->batch_cap = 0;
        if ((c->batch = malloc(total)) != NULL)
            c->batch_cap = total;
    }
    *buf = c->batch;
    if (!*names || !*buf)
        return -CNIO_ERR_NOMEM;
    for (int i = 0; i < n; i++)
        if (!((*names)[i] = tree_obj_name(end, e[i]->rel)))
            return -CNIO_ERR_NOMEM;
    return 0;
}

static void tf_batch_free(char **names, int n)
{
    for (int i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

int tree_put_small(struct tree_ctx *c, const struct tree_ent *const *e, int n, int *status)
{
    struct cnio_ns_put *p = calloc((size_t)CNIO_MAX(n, 1), sizeof(*p));
    char **names, *buf;
    uint64_t total = 0;
    int k = 0, ret = tf_batch_alloc(c, c->dst, e, n, &names, &buf);

    if (!p)
        ret = -CNIO_ERR_NOMEM;
    for (int i = 0; !ret && i < n; i++) {
        status[i] = tf_slurp(c, e[i], buf + total);
        p[i] = (struct cnio_ns_put){ .path = names[i], .data = buf + total,
                                     .size = e[i]->size, .mode = c->o->preserve ? e[i]->mode : 0,
                                     .mtime_ns = c->o->preserve ? e[i]->mtime_ns
                                                                : CNIO_MTIME_NONE };
        total += e[i]->size;
    }
    /* the files that could not be read are left out (their status says why) */
    for (int i = 0; !ret && i < n; i++)
        if (status[i] == 0)
            p[k++] = p[i];
    if (!ret) {
        ret = cnio__ns_put_small(c->ns, p, k);
        for (int i = 0, x = 0; !ret && i < n; i++)
            if (status[i] == 0)
                status[i] = p[x++].status;
        /* what reached the servers, committed or not (a batch whose commit failed added
         * nothing; a large file's chunks count so, tree_large) */
        for (int x = 0; x < k; x++)
            c->moved += p[x].sent;
    }
    tf_batch_free(names, n);
    free(p);
    return ret;
}

int tree_get_small(struct tree_ctx *c, const struct tree_ent *const *e, int n, int *status)
{
    struct cnio_ns_get *g = calloc((size_t)CNIO_MAX(n, 1), sizeof(*g));
    char **names, *buf, part[CNIO_WIRE_MAX_NAME + 1];
    uint64_t total = 0;
    int ret = tf_batch_alloc(c, c->src, e, n, &names, &buf);

    if (!g)
        ret = -CNIO_ERR_NOMEM;
    for (int i = 0; !ret && i < n; i++) {
        g[i] = (struct cnio_ns_get){ .path = names[i], .buf = buf + total, .cap = e[i]->size };
        total += e[i]->size;
    }
    if (!ret)
        ret = cnio__ns_get_small(c->src_ns, g, n);
    for (int i = 0; !ret && i < n; i++) {
        int fd, ref, lock;

        status[i] = g[i].status;
        if (status[i])
            continue;
        status[i] = tf_part_open(c, e[i]->rel, 0, part, &fd, &ref, &lock);
        if (status[i])
            continue;
        status[i] = tf_put_runs(c, e[i]->rel, NULL, fd, g[i].buf, g[i].size, 0);
        status[i] = tf_local_finish(c, e[i], fd, g[i].size, status[i]);
        status[i] = tf_part_done(c, e[i]->rel, part, status[i], lock);
    }
    tf_batch_free(names, n);
    free(g);
    return ret;
}
