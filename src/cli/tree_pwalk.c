/*
 * tree_pwalk.c - walking a tree for `cnio cp -r` with every rank at once.
 *
 * The walk goes level by level (breadth first). The directories of a level are its work
 * items: a counter in an MPI window on rank 0 hands them out one at a time
 * (MPI_Fetch_and_op), so a rank that is done with its directory takes the next one, and a
 * rank held up by a large directory takes fewer. Each rank lists the directories it took
 * (opendir and fstatat beneath the local top, or LIST over its own session to the
 * servers); then the entries of the level go to every rank (MPI_Allgatherv, in rank
 * order), so that every rank holds the same list and builds the same next level from its
 * directories. The walk ends when a level holds no directory: as every rank sees the same
 * list, all stop at the same level. Nothing but collectives and one-sided atomics on
 * rank 0's window is used, so no rank ever waits for a message that may not come, and
 * every listing is bounded by the file system or by the connections' deadlines. A failure
 * is agreed on at the end of its level; a local directory beneath the top that the user
 * may not read (EACCES, EPERM) is said and counted instead, its contents left out.
 *
 * Two counters alternate between levels: rank 0 zeroes the one of the next level while
 * every rank still works on this one; nobody touches it again until every rank has
 * joined this level's exchange, which needs rank 0.
 *
 * Cycles (-L): each directory of a level carries the devices and inodes of itself and
 * its ancestors; a directory found whose device and inode are among its parent's is a
 * link back up the tree, and is said and left out instead of walked for ever.
 */
#include "tree.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A directory to list, and the devices and inodes of it and its ancestors. */
struct pw_dir {
    const char *rel;            /* the list's string (or "" for the top) */
    uint64_t (*chain)[2];
    uint32_t depth;             /* entries in chain */
};

struct pw {
    struct cnio_stack *st;
    const struct tree_end *e;
    struct cnio_ns *ns;
    int follow, missing_ok, topfd, rank, size;
    int left;                   /* entries this rank left out: directories it could
                                   not read, links that lead nowhere (-L) */
    MPI_Win win;
    uint64_t *ctr;              /* rank 0: the two counters */
};

static int pw_agree(int rc)
{
    int out;

    MPI_Allreduce(&rc, &out, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return out;
}

/* Lists one directory of the level into found; says a failure. */
static int pw_list(struct pw *w, const struct pw_dir *d, uint32_t i, struct tree_list *found)
{
    char bad[512] = "";
    uint64_t dev, ino;
    int ret;

    if (w->e->remote) {
        ret = tree_walk_remote_dir(w->st, w->e, w->ns, d->rel, i, w->missing_ok, found);
        if (ret)
            cli_fail("cp", w->e->name, ret);
        return ret;
    }
    if (w->topfd < 0)
        return 0;   /* a missing top, missing_ok */
    ret = tree_walk_local_dir(w->topfd, d->rel, w->follow, i, found, &dev, &ino, bad,
                              sizeof(bad), &w->left);
    if (!ret)
        return 0;
    if (d->rel[0] && !strcmp(bad, d->rel) && (ret == -EACCES || ret == -EPERM)) {
        /* a directory beneath the top that this user may not read: the rest is copied,
         * and the copy ends with exit status 1, as cp -r and rsync do */
        cli_err("cnio cp: %s/%s: %s: its contents are not copied\n", w->e->name, bad,
                strerror(-ret));
        w->left++;
        return 0;
    }
    cli_err("cnio cp: %s%s%s: %s\n", w->e->name, bad[0] ? "/" : "", bad,
            strerror(-ret));
    return cnio__err_from_errno(-ret);
}

/* This rank's share of a level: directories taken from counter slot until none is left. */
static int pw_level(struct pw *w, const struct pw_dir *front, size_t n, int slot,
                    struct tree_list *found)
{
    for (;;) {
        uint64_t one = 1, i = 0;
        int ret;

        MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, w->win);
        MPI_Fetch_and_op(&one, &i, MPI_UINT64_T, 0, slot, MPI_SUM, w->win);
        MPI_Win_unlock(0, w->win);
        if (i >= n)
            return 0;
        ret = pw_list(w, &front[i], (uint32_t)i, found);
        if (ret)
            return ret;
    }
}

/* Every rank's entries of the level, in rank order, into level (agreed). */
static int pw_exchange(const struct tree_list *found, struct tree_list *level)
{
    int size, cnt, *counts = NULL, *displs = NULL, ret;
    uint8_t *b = NULL, *all = NULL;
    uint64_t len = 0, total = 0;

    MPI_Comm_size(MPI_COMM_WORLD, &size);
    ret = tree_list_pack(found, &b, &len);
    if (!ret && len > INT_MAX)
        ret = -CNIO_ERR_OVERFLOW;
    counts = calloc((size_t)size, sizeof(int));
    displs = calloc((size_t)size, sizeof(int));
    if (!ret && (!counts || !displs))
        ret = -CNIO_ERR_NOMEM;
    ret = pw_agree(ret);
    cnt = (int)len;
    if (!ret)
        MPI_Allgather(&cnt, 1, MPI_INT, counts, 1, MPI_INT, MPI_COMM_WORLD);
    for (int k = 0; !ret && k < size; k++) {
        displs[k] = (int)total;
        total += (uint64_t)counts[k];
        if (total > INT_MAX)
            ret = -CNIO_ERR_OVERFLOW;   /* the same on every rank */
    }
    if (!ret)
        ret = pw_agree((all = malloc(total ? total : 1)) ? 0 : -CNIO_ERR_NOMEM);
    if (!ret)
        MPI_Allgatherv(b, cnt, MPI_BYTE, all, counts, displs, MPI_BYTE, MPI_COMM_WORLD);
    for (int k = 0; !ret && k < size; k++) {
        struct tree_list part;

        ret = tree_list_unpack(all + displs[k], (uint64_t)counts[k], &part);
        for (size_t i = 0; !ret && i < part.n; i++) {
            ret = tree_list_add(level, &part.e[i]);
            if (!ret)
                part.e[i].rel = part.e[i].link = NULL;   /* moved */
        }
        tree_list_free(&part);
    }
    free(b);
    free(all);
    free(counts);
    free(displs);
    return pw_agree(ret);
}

static void pw_front_free(struct pw_dir *front, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(front[i].chain);
    free(front);
}

/* 1 when (dev, ino) is among d's chain. */
static int pw_cycle(const struct pw_dir *d, uint64_t dev, uint64_t ino)
{
    for (uint32_t k = 0; k < d->depth; k++)
        if (d->chain[k][0] == dev && d->chain[k][1] == ino)
            return 1;
    return 0;
}

/*
 * Moves the level's entries to l, and its directories to the next front (*next, *nn).
 * A directory that is its own ancestor is said (rank 0), counted and dropped.
 */
static int pw_advance(struct pw *w, const struct pw_dir *front, size_t n,
                      struct tree_list *level, struct tree_list *l, struct pw_dir **next,
                      size_t *nn, int *left_out)
{
    struct pw_dir *nx = calloc(level->n ? level->n : 1, sizeof(*nx));
    size_t k = 0;
    int ret = nx ? 0 : -CNIO_ERR_NOMEM;

    for (size_t i = 0; !ret && i < level->n; i++) {
        struct tree_ent *e = &level->e[i];
        const struct pw_dir *p = e->from < n ? &front[e->from] : NULL;

        if (!p) {
            ret = -CNIO_ERR_PROTO;
            break;
        }
        if (e->type == TREE_DIR && !w->e->remote && pw_cycle(p, e->dev, e->ino)) {
            if (w->rank == 0)
                cli_err("cnio cp: %s/%s: a directory cycle (a link to a directory "
                        "above it): not followed\n", w->e->name, e->rel);
            *left_out += w->rank == 0;
            continue;   /* freed with level */
        }
        if (e->type == TREE_DIR) {
            nx[k].chain = malloc((p->depth + 1) * sizeof(*nx[k].chain));
            if (!nx[k].chain) {
                ret = -CNIO_ERR_NOMEM;
                break;
            }
            memcpy(nx[k].chain, p->chain, p->depth * sizeof(*p->chain));
            nx[k].chain[p->depth][0] = e->dev;
            nx[k].chain[p->depth][1] = e->ino;
            nx[k].depth = p->depth + 1;
            nx[k].rel = e->rel;
            k++;
        }
        ret = tree_list_add(l, e);
        if (!ret)
            e->rel = e->link = NULL;   /* moved: the string nx[].rel points at stays */
    }
    if (ret) {
        pw_front_free(nx, k);
        return ret;
    }
    *next = nx;
    *nn = k;
    return 0;
}

/* The top: opened by every rank (local), and the first front. */
static int pw_start(struct pw *w, struct pw_dir **front)
{
    struct stat sb = { 0 };
    int ret = 0;

    w->topfd = -1;
    if (!w->e->remote) {
        w->topfd = open(w->e->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (w->topfd < 0 && !(errno == ENOENT && w->missing_ok)) {
            cli_err("cnio cp: %s: %s\n", w->e->name, strerror(errno));
            ret = cnio__err_from_errno(errno);
        } else if (w->topfd >= 0 && fstat(w->topfd, &sb) < 0) {
            ret = cnio__err_from_errno(errno);
        }
    }
    *front = calloc(1, sizeof(**front));
    if (*front)
        (*front)->chain = malloc(sizeof(*(*front)->chain));
    if (!ret && (!*front || !(*front)->chain))
        ret = -CNIO_ERR_NOMEM;
    if (!ret) {
        (*front)->rel = "";
        (*front)->chain[0][0] = (uint64_t)sb.st_dev;
        (*front)->chain[0][1] = (uint64_t)sb.st_ino;
        (*front)->depth = 1;
    }
    return ret;
}

int tree_walk(struct cnio_stack *st, const struct tree_end *e, struct cnio_ns *ns, int follow,
              int missing_ok, struct tree_list *l, int *left_out)
{
    struct pw w = { .st = st, .e = e, .ns = ns, .follow = follow, .missing_ok = missing_ok,
                    .win = MPI_WIN_NULL };
    struct pw_dir *front = NULL;
    size_t n = 1;
    int rc;

    MPI_Comm_rank(MPI_COMM_WORLD, &w.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &w.size);
    rc = pw_agree(pw_start(&w, &front));
    MPI_Win_allocate(w.rank == 0 ? 2 * sizeof(uint64_t) : 0, sizeof(uint64_t), MPI_INFO_NULL,
                     MPI_COMM_WORLD, &w.ctr, &w.win);
    if (w.rank == 0)
        memset(w.ctr, 0, 2 * sizeof(uint64_t));
    MPI_Barrier(MPI_COMM_WORLD);
    for (int lvl = 0; rc == 0 && n > 0; lvl++) {
        struct tree_list found = { 0 }, level = { 0 };
        struct pw_dir *next = NULL;
        size_t nn = 0;

        if (w.rank == 0) {   /* the next level's counter: every rank is done with it */
            uint64_t zero = 0;

            MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, w.win);
            MPI_Accumulate(&zero, 1, MPI_UINT64_T, 0, (lvl + 1) % 2, 1, MPI_UINT64_T,
                           MPI_REPLACE, w.win);
            MPI_Win_unlock(0, w.win);
        }
        rc = pw_agree(pw_level(&w, front, n, lvl % 2, &found));
        if (rc == 0)
            rc = pw_exchange(&found, &level);
        tree_list_free(&found);
        if (rc == 0)
            rc = pw_agree(pw_advance(&w, front, n, &level, l, &next, &nn, left_out));
        tree_list_free(&level);
        pw_front_free(front, n);
        front = next;
        n = nn;
    }
    if (front)
        pw_front_free(front, n);
    MPI_Allreduce(MPI_IN_PLACE, &w.left, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    *left_out += w.rank == 0 ? w.left : 0;
    MPI_Win_free(&w.win);
    if (w.topfd >= 0)
        close(w.topfd);
    return rc;
}
