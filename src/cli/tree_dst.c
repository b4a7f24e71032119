/*
 * tree_dst.c - the destination's directories for `cnio cp -r`: making them (and their
 * parents), giving them and the copied entries their modes and mtimes (-p), and, when
 * a copy fails, saying which file, symlink or object stands beneath DST where a
 * directory of the entry's path must be.
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

/* DST's name joined with rel (a path beneath it, as the user would write it). */
static char *tf_dst_path(const struct tree_ctx *c, const char *rel)
{
    size_t n = strlen(c->dst->name), cap = n + strlen(rel) + 2;
    char *p = malloc(cap);

    if (p)
        snprintf(p, cap, "%s%s%s", c->dst->name, n && c->dst->name[n - 1] == '/' ? "" : "/", rel);
    return p;
}

/*
 * When a local path beneath DST that rel's copy needs as a directory is something else
 * (a file, a symlink), says so in c->why, by rel and by the path in the way ("sub/x: not
 * copied: DST/sub is a file, not a directory"): 1, or 0 when none is (or rel is too long).
 * With self, rel itself must be a directory too (a directory of the tree).
 */
int tf_in_the_way(struct tree_ctx *c, const char *rel, int self)
{
    char path[CNIO_WIRE_MAX_NAME + 1], *full;
    struct stat sb;

    if (strlen(rel) >= sizeof(path))
        return 0;
    strcpy(path, rel);
    for (char *s = path;; s++) {
        char keep = *s;

        if (keep != '/' && (keep != '\0' || !self))
            goto next;
        *s = '\0';
        if (fstatat(c->dst->dirfd, path, &sb, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(sb.st_mode)) {
            full = tf_dst_path(c, path);
            snprintf(c->why, sizeof(c->why), "%s: not copied: %s is %s, not a directory", rel,
                     full ? full : path, S_ISLNK(sb.st_mode) ? "a symlink" :
                     S_ISREG(sb.st_mode) ? "a file" : "something else");
            free(full);
            return 1;
        }
        *s = keep;
next:
        if (!keep)
            return 0;
    }
}

/*
 * The remote twin of tf_in_the_way: when an object stands where a directory of rel's
 * path must be beneath DST (rel itself too, with self), on any host and whatever order
 * of the hosts wrote it (cnio__ns_object_on_way), says so in c->why by rel and by that
 * object's name: 1, or 0. One STAT per host and directory; this is for explaining a
 * failure, once per entry that failed.
 */
int tf_obj_in_the_way(struct tree_ctx *c, const char *rel, int self)
{
    char dir[CNIO_WIRE_MAX_NAME + 1], *name = tree_obj_name(c->dst, rel), *full = NULL;
    size_t top = strlen(c->dst->u.path);
    int foreign = 0, found;

    found = name && c->ns && cnio__ns_object_on_way(c->ns, name, self, dir, sizeof(dir),
                                                    &foreign);
    free(name);
    if (!found)
        return 0;
    if (strlen(dir) > top && (!top || (!strncmp(dir, c->dst->u.path, top) && dir[top] == '/')))
        full = tf_dst_path(c, dir + top + (top > 0));   /* beneath DST, as the user wrote it */
    snprintf(c->why, sizeof(c->why), "%s: not copied: %s is an object%s, not a directory",
             rel, full ? full : dir, cli_foreign(foreign));
    free(full);
    return 1;
}

int tree_dir_in_the_way(struct tree_ctx *c, const struct tree_ent *e, int err)
{
    struct stat sb;
    char *full;

    if (e->type == TREE_DIR || err >= 0)
        return 0;
    if (c->dst->remote ? err != -CNIO_ERR_ISDIR
                       : fstatat(c->dst->dirfd, e->rel, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
                             !S_ISDIR(sb.st_mode))
        return 0;
    full = tf_dst_path(c, e->rel);
    snprintf(c->why, sizeof(c->why), "%s: not copied: %s is a directory, which a %s cannot "
             "replace", e->rel, full ? full : e->rel, e->type == TREE_LINK ? "symlink" : "file");
    free(full);
    return 1;
}

int tree_in_the_way(struct tree_ctx *c, const char *rel)
{
    c->why[0] = '\0';
    return c->dst->remote ? tf_obj_in_the_way(c, rel, 0) : tf_in_the_way(c, rel, 0);
}

int tree_mkdir(struct tree_ctx *c, const char *rel)
{
    char path[CNIO_WIRE_MAX_NAME + 1];
    int ret, foreign = 0;
    char *name;

    if (c->dst->remote) {
        name = tree_obj_name(c->dst, rel);
        if (!name)
            return -CNIO_ERR_NOMEM;
        ret = name[0] ? cnio__ns_mkdir(c->ns, name, 1) : 0;
        free(name);
        if (ret == -CNIO_ERR_EXIST && rel[0]) {
            tf_obj_in_the_way(c, rel, 1);
        } else if (ret == -CNIO_ERR_EXIST && c->ns &&   /* DST itself, or beneath, an object */
                   cnio__ns_object_on_way(c->ns, c->dst->u.path, 1, path, sizeof(path),
                                          &foreign)) {
            snprintf(c->why, sizeof(c->why), "%s: %s is an object%s, not a directory%s",
                     c->dst->name, path, cli_foreign(foreign),
                     strcmp(path, c->dst->u.path) ? ""
                     : " (cp -r copies a tree into a directory: name another, or remove the "
                       "object first)");
        }
        return ret;
    }
    if (tf_in_the_way(c, rel, 1))
        return -CNIO_ERR_EXIST;
    if (strlen(rel) >= sizeof(path))
        return tf_fail(c, rel, ENAMETOOLONG);
    strcpy(path, rel);
    for (char *s = path;; s++) {
        if (*s == '/' || *s == '\0') {
            char keep = *s;
            const char *base;
            int pfd;

            *s = '\0';
            pfd = tf_parent(c->dst->dirfd, path, &base);
            if (pfd < 0)
                return tf_fail(c, path, errno);
            if (mkdirat(pfd, base, 0755) < 0 && errno != EEXIST) {
                int err = errno;

                close(pfd);
                return tf_fail(c, path, err);
            }
            close(pfd);
            *s = keep;
            if (!keep)
                break;
        }
    }
    return 0;
}

/* 1 when base beneath pfd is of e's type (not followed), 0 when it is something else,
 * or -errno. */
static int tf_is_type(int pfd, const char *base, const struct tree_ent *e)
{
    struct stat sb;

    if (fstatat(pfd, base, &sb, AT_SYMLINK_NOFOLLOW) < 0)
        return -errno;
    return e->type == TREE_DIR ? S_ISDIR(sb.st_mode) != 0 :
           e->type == TREE_LINK ? S_ISLNK(sb.st_mode) != 0 : S_ISREG(sb.st_mode) != 0;
}

int tree_setattr(struct tree_ctx *c, const struct tree_ent *e)
{
    struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, cnio__ts_of_ns(e->mtime_ns) };
    const char *base;
    int pfd, r = 0, k;

    if (c->dst->remote) {
        char *name = tree_obj_name(c->dst, e->rel);
        int ret = name && name[0] ? cnio__ns_setattr(c->ns, name, e->mode, e->mtime_ns) : 0;

        free(name);
        return name ? ret : -CNIO_ERR_NOMEM;
    }
    if (!e->rel[0]) {
        r = (e->mode && fchmod(c->dst->dirfd, e->mode & 07777) < 0) ||
            futimens(c->dst->dirfd, ts) < 0;
        return r ? tf_fail(c, c->dst->name, errno) : 0;
    }
    pfd = tf_parent(c->dst->dirfd, e->rel, &base);
    if (pfd < 0)
        return tf_fail(c, e->rel, errno);
    k = tf_is_type(pfd, base, e);
    if (k < 0)
        r = -k;
    else if (k && e->type != TREE_LINK && e->mode && fchmodat(pfd, base, e->mode & 07777, 0) < 0)
        r = errno;
    if (!r && k > 0 && utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
        r = errno;
    close(pfd);
    return r ? tf_fail(c, e->rel, r) : 0;
}
