/*
 * tree_plan.c - what `cnio cp -r` copies: all ranks walk SRC (and, for --sync and
 * --resume, DST) together; rank 0 checks each entry, leaves out what DST already holds,
 * orders the files (the queue's largest first, the files split over all ranks apart)
 * and broadcasts the plan; then every rank makes its share of the directories.
 */
#include "tree_int.h"
#include "stack.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* rank 0: a failure of one entry, said and counted; the copy goes on. */
static void tree_entry_fail(struct tree_run *r, const char *rel, const char *why)
{
    cli_err("cnio cp: %s%s%s: %s\n", r->src.name,
            r->src.name[strlen(r->src.name) - 1] == '/' ? "" : "/", rel, why);
    r->failed++;
}

/*
 * rank 0: 1 when the destination already holds e (--sync, --resume), 0 when e is to be
 * copied, TREE_COMPARE when the destination holds a complete file of its size whose
 * bytes decide. With -p the destination's mtimes are the sources' own, so a file of the
 * same size and mtime is taken as it is (rsync's quick check). Without -p they are
 * when the destination was written, which says nothing of its bytes (a source given an
 * older mtime by tar or cp -p is newer all the same): a file of the same size was
 * taken as it was, and a tree copied again with new bytes of the same sizes, then
 * resumed, kept the old ones with exit 0 (helper-88's finding 1).
 */
static int tree_same(const struct tree_run *r, const struct tree_list *have,
                     const struct tree_ent *e)
{
    const struct tree_ent *d = tree_list_find(have, e->rel);

    if (!d || d->type != e->type || d->incomplete || d->size != e->size)
        return 0;
    if (r->j->o.checksum || e->type == TREE_LINK)
        return 0;   /* decided as it is copied: by a file's CRC32C, a link's target */
    if (!r->j->o.preserve)
        return TREE_COMPARE;
    return d->mtime_ns == e->mtime_ns;
}

/* rank 0, of a file tree_same found there: 1 when only its permission bits differ (-p;
 * chmod leaves the mtime as it was), so its attributes alone are to be set, as rsync
 * does. An object with no mode recorded keeps a downloaded file's. */
static int tree_mode_differs(const struct tree_run *r, const struct tree_list *have,
                             const struct tree_ent *e)
{
    const struct tree_ent *d = tree_list_find(have, e->rel);

    return r->j->o.preserve && d && e->type == TREE_FILE && e->mode &&
           (d->mode & 07777) != (e->mode & 07777);
}

/* rank 0, a download: 1 when e's name is the part file of another file of the tree (x
 * and x.cnio-part both there), which is written under that name while it is copied. */
static int tree_part_clash(const struct tree_list *src, const struct tree_ent *e)
{
    size_t n = strlen(e->rel), k = sizeof(CLI_PART) - 1;
    char part[CNIO_WIRE_MAX_NAME + 1];
    const struct tree_ent *x;
    char *base;
    int clash;

    if (n <= k || strcmp(e->rel + n - k, CLI_PART) || !(base = strndup(e->rel, n - k)))
        return 0;
    x = tree_list_find(src, base);
    clash = x && x->type == TREE_FILE && cli_part_name(base, part, sizeof(part)) >= 0 &&
            !strcmp(part, e->rel);
    free(base);
    return clash;
}

/* rank 0: whether entry e of the source can be copied at all (clash: tree_part_clash). */
static int tree_entry_ok(struct tree_run *r, const struct tree_ent *e, int clash)
{
    if (r->dst.remote && !r->src.remote) {
        char *name = tree_obj_name(&r->dst, e->rel);
        const char *why = name ? cnio__name_problem(name, strlen(name)) : "out of memory";

        if (why) {
            char msg[300];

            snprintf(msg, sizeof(msg), "cannot be an object name (%s): not copied", why);
            tree_entry_fail(r, e->rel, msg);
        }
        free(name);
        if (why)
            return 0;
    }
    if (clash) {
        char msg[CNIO_WIRE_MAX_NAME + 160];
        const char *base = strrchr(e->rel, '/') ? strrchr(e->rel, '/') + 1 : e->rel;

        snprintf(msg, sizeof(msg), "not copied: %.*s, copied with it, is written under this "
                 "name first (its part file); copy this one on its own",
                 (int)(strlen(base) - (sizeof(CLI_PART) - 1)), base);
        tree_entry_fail(r, e->rel, msg);
        return 0;
    }
    if (r->src.remote && e->incomplete == TREE_INCOMPLETE) {
        tree_entry_fail(r, e->rel, "incomplete (an upload or update did not finish): not copied");
        return 0;
    }
    if (r->src.remote && (e->incomplete == TREE_SHADOWED ||
                          e->incomplete == TREE_SHADOWED_FOREIGN)) {
        tree_entry_fail(r, e->rel, e->incomplete == TREE_SHADOWED ?
                        "a host holds a directory of this name as well as the object: not "
                        "copied (cnio rm -r of the name removes both; cnio cp copies the "
                        "object alone)" :
                        "a host holds a directory of this name as well as an object that "
                        "another order of these hosts wrote: not copied (cnio rm -r of the "
                        "name removes both; cnio cp through that order copies the object "
                        "alone)");
        return 0;
    }
    if (r->src.remote && e->incomplete == TREE_WIDE) {
        tree_entry_fail(r, e->rel, "it has more columns than this URI names hosts (written "
                        "through a URI of more): copy it through a URI naming all of them; "
                        "not copied");
        return 0;
    }
    if (r->src.remote && e->incomplete == TREE_MISSING) {
        tree_entry_fail(r, e->rel, "a host of this URI holds nothing of one of its columns: "
                        "written through other hosts (copy it through the URI that wrote "
                        "it), or that host lost its column; not copied");
        return 0;
    }
    if (r->src.remote && e->incomplete == TREE_FOREIGN) {
        tree_entry_fail(r, e->rel, "not an object of this URI: a write through another order "
                        "of these hosts left it; not copied (copy it through that order)");
        return 0;
    }
    if (e->type == TREE_LINK && !e->link && !r->src.remote)
        return 0;
    return 1;
}

static int tree_by_size(const void *a, const void *b)
{
    const struct tree_ent *x = a, *y = b;

    return (x->size < y->size) - (x->size > y->size);
}

/* rank 0: decides what of the walked SRC (and DST, when it matters) goes where. */
static int tree_plan(struct tree_run *r, struct tree_list *srcl, struct tree_list *have)
{
    struct tree_list src = *srcl;
    int need_dst = r->j->o.sync || r->j->o.resume, ret = 0, same;
    uint64_t big = CNIO_MAX(4 * r->j->o.chunk, 4ull << 20);
    uint8_t *clash = calloc(src.n + 1, 1);   /* tree_part_clash of each entry */

    memset(srcl, 0, sizeof(*srcl));
    if (!clash) {
        tree_list_free(&src);
        return -CNIO_ERR_NOMEM;
    }
    tree_list_sort(have);
    tree_list_sort(&src);   /* (the entries are moved out below) */
    for (size_t i = 0; !r->dst.remote && i < src.n; i++)
        clash[i] = src.e[i].type == TREE_FILE && tree_part_clash(&src, &src.e[i]);
    for (size_t i = 0; ret == 0 && i < src.n; i++) {
        struct tree_ent *e = &src.e[i];
        struct tree_list *to = e->type == TREE_DIR ? &r->dirs : &r->files;

        if (!tree_entry_ok(r, e, clash[i]))
            continue;
        if (e->type == TREE_DIR && need_dst) {   /* made again all the same (a no-op) */
            const struct tree_ent *d = tree_list_find(have, e->rel);

            r->dirs_found += d && d->type == TREE_DIR;
        }
        same = e->type != TREE_DIR && need_dst ? tree_same(r, have, e) : 0;
        if (same == TREE_COMPARE) {
            e->incomplete = TREE_COMPARE;   /* compared by its CRC32C as it is copied */
        } else if (need_dst && r->dst.remote && !r->src.remote && e->type == TREE_FILE &&
                   !tree_list_find(have, e->rel)) {
            e->incomplete = TREE_ABSENT;    /* nothing to resume or compare: a fresh copy */
        } else if (same) {
            r->skipped_files++;
            r->skipped_bytes += e->size;
            if (tree_mode_differs(r, have, e) && (ret = tree_list_add(&r->attrs, e)) == 0)
                e->rel = e->link = NULL;   /* moved */
            continue;
        }
        ret = tree_list_add(to, e);
        if (ret == 0)
            e->rel = e->link = NULL;   /* moved */
        if (e->type != TREE_DIR)
            r->total_bytes += e->size;
    }
    free(clash);
    tree_list_free(&src);
    tree_list_free(have);
    tree_list_sort(&r->dirs);
    if (r->files.n)
        qsort(r->files.e, r->files.n, sizeof(*r->files.e), tree_by_size);
    r->nsmall = 0;
    for (size_t i = 0; i < r->files.n; i++) {
        const struct tree_ent *e = &r->files.e[i];
        int sparse = !r->src.remote && (uint64_t)e->alloc_kib * 1024 < e->size / 2;

        if (e->type == TREE_FILE && e->size >= big && !sparse)
            continue;   /* split over all ranks */
        /* the largest the queue takes come first; those split over all ranks go last */
        {
            struct tree_ent t = r->files.e[r->nsmall];

            r->files.e[r->nsmall] = r->files.e[i];
            r->files.e[i] = t;
        }
        r->nsmall++;
    }
    if (r->nsmall)
        qsort(r->files.e, r->nsmall, sizeof(*r->files.e), tree_by_size);
    return ret;
}

#define TREE_BCAST_PIECE (1ull << 30)

int tree_bcast(struct tree_run *r, int rc)
{
    uint8_t *b[2] = { NULL, NULL };
    uint64_t hdr[7] = { (uint64_t)(int64_t)rc };
    struct tree_list *l[2] = { &r->dirs, &r->files };

    if (r->j->rank == 0 && rc == 0) {
        for (int k = 0; k < 2 && hdr[0] == 0; k++)
            hdr[0] = (uint64_t)(int64_t)tree_list_pack(l[k], &b[k], &hdr[1 + k]);
        hdr[3] = r->nsmall;
        hdr[4] = r->total_bytes;
        hdr[5] = r->skipped_files;
        hdr[6] = r->skipped_bytes;
    }
    MPI_Bcast(hdr, 7, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    rc = (int)(int64_t)hdr[0];
    for (int k = 0; k < 2 && rc == 0; k++) {
        if (r->j->rank != 0)
            b[k] = malloc(hdr[1 + k] ? hdr[1 + k] : 1);
        rc = tree_agree(b[k] ? 0 : -CNIO_ERR_NOMEM);
        /* in pieces: MPI counts are ints, and a list of millions of entries can pass
         * INT_MAX bytes */
        for (uint64_t off = 0, n; rc == 0 && off < hdr[1 + k]; off += n) {
            n = CNIO_MIN(hdr[1 + k] - off, TREE_BCAST_PIECE);
            MPI_Bcast(b[k] + off, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD);
        }
        if (rc == 0 && r->j->rank != 0)
            rc = tree_agree(tree_list_unpack(b[k], hdr[1 + k], l[k]));
        else if (rc == 0)
            rc = tree_agree(0);
    }
    free(b[0]);
    free(b[1]);
    r->nsmall = (size_t)hdr[3];
    r->total_bytes = hdr[4];
    r->skipped_files = hdr[5];
    r->skipped_bytes = hdr[6];
    return rc;
}

/* rank 0: makes DST's top. */
static int tree_make_dirs(struct tree_run *r)
{
    int ret = 0;

    if (!r->dst.remote) {
        char path[4096];

        snprintf(path, sizeof(path), "%s", r->dst.name);
        for (char *s = path + 1;; s++) {
            if (*s == '/' || *s == '\0') {
                char keep = *s;

                *s = '\0';
                if (mkdir(path, 0755) < 0 && errno != EEXIST) {
                    cli_err("cnio cp: %s: %s\n", path, strerror(errno));
                    return cnio__err_from_errno(errno);
                }
                *s = keep;
                if (!keep)
                    break;
            }
        }
        r->dst.dirfd = open(r->dst.name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (r->dst.dirfd < 0) {
            cli_err("cnio cp: %s: %s\n", r->dst.name, strerror(errno));
            return cnio__err_from_errno(errno);
        }
    } else {
        ret = tree_mkdir(&r->ctx, "");
    }
    if (ret && r->ctx.why[0])
        cli_err("cnio cp: %s\n", r->ctx.why);
    else if (ret)
        cli_fail("cp", r->dst.name, ret);
    return ret;
}

static int tree_rel_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* r->bad: the rels of the directories that no rank could make, sorted (every rank). */
static int tree_failed_dirs(struct tree_run *r)
{
    for (size_t i = 0; i < r->dirs.n; i++) {
        if (!r->dir_failed[i])
            continue;
        if (!r->bad && !(r->bad = calloc(r->dirs.n, sizeof(*r->bad))))
            return -1;
        r->bad[r->nbad++] = r->dirs.e[i].rel;
    }
    if (r->nbad > 1)
        qsort(r->bad, r->nbad, sizeof(*r->bad), tree_rel_cmp);
    return 0;
}

const char *tree_failed_above(const struct tree_run *r, const char *rel)
{
    char path[CNIO_WIRE_MAX_NAME + 1];
    size_t n = strlen(rel);

    if (!r->nbad || n >= sizeof(path))
        return NULL;
    for (size_t k = 1; k < n; k++) {   /* each directory of rel, shallowest first */
        const char *key = path, **hit;

        if (rel[k] != '/')
            continue;
        memcpy(path, rel, k);
        path[k] = '\0';
        hit = bsearch(&key, r->bad, r->nbad, sizeof(*r->bad), tree_rel_cmp);
        if (hit)
            return *hit;
    }
    return NULL;
}

/* Each directory is made with its parents, so that the order in which the ranks get to
 * them does not matter. A file or an object where a directory goes, or a server that
 * refuses to make it (access refused: its file system's permissions, read-only storage),
 * fails that directory alone, as cp -r and rsync go on: said, counted, and it gets no
 * mode or mtime (-p). Every rank learns which failed on every rank, and what goes
 * beneath them is not tried (tree_failed_above): written through another order of the
 * hosts than an object in the way, a file of fewer columns than hosts would reach only
 * hosts that hold nothing of that object, and its OPEN would make a directory there
 * that shadows it. Any other error (a lost server) stops the copy. */
int tree_make_subdirs(struct tree_run *r)
{
    int ret = tree_agree((r->dir_failed = calloc(r->dirs.n + 1, 1)) ? 0 : -CNIO_ERR_NOMEM);
    int all = ret == 0;   /* every rank has dir_failed */

    for (size_t i = (size_t)r->j->rank; ret == 0 && i < r->dirs.n; i += (size_t)r->j->size) {
        r->ctx.why[0] = '\0';
        ret = tree_mkdir(&r->ctx, r->dirs.e[i].rel);
        if ((ret == -CNIO_ERR_EXIST && r->ctx.why[0]) || ret == -CNIO_ERR_ACCESS) {
            if (r->ctx.why[0])
                cli_err("cnio cp: %s\n", r->ctx.why);
            else
                cli_err("cnio cp: %s: %s: not made\n", r->dirs.e[i].rel, cnio_strerror(ret));
            r->dirs_failed++;
            r->dir_failed[i] = 1;
            ret = 0;
        }
    }
    for (size_t i = 0; all && i < r->dirs.n; i += 1u << 30) {
        int n = (int)CNIO_MIN(r->dirs.n - i, 1u << 30);

        MPI_Allreduce(MPI_IN_PLACE, r->dir_failed + i, n, MPI_UNSIGNED_CHAR, MPI_MAX,
                      MPI_COMM_WORLD);
    }
    if (ret == 0 && tree_failed_dirs(r))
        ret = -CNIO_ERR_NOMEM;
    if (ret && r->ctx.why[0])
        cli_err("cnio cp: %s\n", r->ctx.why);
    else if (ret)
        cli_fail("cp", r->dst.name, ret);
    return ret;
}

/* rank 0, -p: SRC's own mode and mtime, which DST's top gets last (as cp -rp and rsync
 * -a SRC/ DST/ keep them); none for a store's root. 0, or a negative code (said). */
static int tree_top_attrs(struct tree_run *r)
{
    struct cnio_obj_stat s;
    struct stat sb;
    int ret;

    if (!r->j->o.preserve || (r->src.remote && !r->src.u.path[0]))
        return 0;
    if (!r->src.remote) {
        if (stat(r->src.name, &sb) < 0) {
            cli_err("cnio cp: %s: %s\n", r->src.name, strerror(errno));
            return cnio__err_from_errno(errno);
        }
        r->top_mode = (uint32_t)sb.st_mode & 0xffffu;
        r->top_mtime_ns = cnio__ns_of_ts(&sb.st_mtim);
    } else {
        ret = cnio__obj_stat(r->ctx.st, &r->src.u, &r->src.h, &s);
        if (ret) {
            cli_fail("cp", r->src.name, ret);
            return ret;
        }
        r->top_mode = s.mode;
        r->top_mtime_ns = s.mtime_ns;
    }
    r->top_attrs = 1;
    return 0;
}

int tree_walk_plan(struct tree_run *r)
{
    struct tree_list src = { 0 }, have = { 0 };
    int left_out = 0, rc;

    rc = tree_walk(r->ctx.st, &r->src, r->ctx.src_ns, r->j->o.follow, 0, &src, &left_out);
    if (rc == 0 && (r->j->o.sync || r->j->o.resume))
        rc = tree_walk(r->ctx.st, &r->dst, r->ctx.ns, 0, 1, &have, &left_out);
    r->failed += left_out;
    if (rc == 0 && r->j->rank == 0)
        rc = tree_top_attrs(r);
    if (rc == 0 && r->j->rank == 0)
        rc = tree_plan(r, &src, &have);
    if (rc == 0 && r->j->rank == 0)
        rc = tree_make_dirs(r);
    tree_list_free(&src);
    tree_list_free(&have);
    return rc;
}
