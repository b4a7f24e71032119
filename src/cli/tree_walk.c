/*
 * tree_walk.c - listing one directory of a tree for `cnio cp -r` (tree_pwalk.c spreads
 * the directories over the ranks): a local directory beneath an fd of its top, through
 * no symlink (or, -L, through any), or the objects beneath a cnio:// name (LIST over a
 * session). The lists of entries, and their packing between ranks: tree_list.c.
 */
#include "tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

char *tree_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);

    if (p)
        snprintf(p, a + b + 2, "%s%s%s", dir, a ? "/" : "", name);
    return p;
}

/* One entry of a local directory (dfd), its rel path already made. follow: a symlink
 * to a file or a directory is taken as what it points to, and one that leads nowhere
 * (ENOENT, ELOOP) is WALK_DANGLING. */
#define WALK_DANGLING 1
static int walk_entry(int dfd, const char *name, char *rel, int follow, struct tree_ent *e)
{
    struct stat sb, tb;

    memset(e, 0, sizeof(*e));
    e->rel = rel;
    if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
        return -errno;
    if (S_ISLNK(sb.st_mode) && follow) {
        if (fstatat(dfd, name, &tb, 0) < 0) {
            if (errno == ENOENT || errno == ELOOP)
                return WALK_DANGLING;
        } else if (S_ISREG(tb.st_mode) || S_ISDIR(tb.st_mode)) {
            sb = tb;
        }
    }
    e->mode = (uint32_t)sb.st_mode & 0xffffu;
    e->mtime_ns = cnio__ns_of_ts(&sb.st_mtim);
    if (S_ISDIR(sb.st_mode)) {
        e->type = TREE_DIR;
        e->dev = (uint64_t)sb.st_dev;
        e->ino = (uint64_t)sb.st_ino;
    } else if (S_ISREG(sb.st_mode)) {
        e->type = TREE_FILE;
        e->size = (uint64_t)sb.st_size;
        e->alloc_kib = (uint32_t)CNIO_MIN((uint64_t)sb.st_blocks / 2, 0xffffffffull);
    } else if (S_ISLNK(sb.st_mode)) {
        char t[4097];
        ssize_t n = readlinkat(dfd, name, t, sizeof(t) - 1);

        if (n < 0)
            return -errno;
        t[n] = '\0';
        e->type = TREE_LINK;
        e->size = (uint64_t)n;
        e->link = strdup(t);
        if (!e->link)
            return -ENOMEM;
    } else {
        return -EOPNOTSUPP;   /* a device, fifo or socket: not copied */
    }
    return 0;
}

/* Opens directory rel beneath topfd: through no symlink at all, or (follow) through any. */
static int walk_open_dir(int topfd, const char *rel, int follow)
{
    struct open_how how = { .flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
                            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS };
    const char *p = rel[0] ? rel : ".";
    long fd;

    if (follow)
        return openat(topfd, p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    fd = syscall(SYS_openat2, topfd, p, &how, sizeof(how));
    if (fd < 0 && errno == ENOSYS)
        fd = openat(topfd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return (int)fd;
}

int tree_walk_local_dir(int topfd, const char *rel, int follow, uint32_t from,
                        struct tree_list *l, uint64_t *dev, uint64_t *ino, char *bad,
                        size_t badcap, int *left_out)
{
    int dfd = walk_open_dir(topfd, rel, follow), ret = 0;
    struct dirent *de;
    struct stat sb;
    DIR *d;

    snprintf(bad, badcap, "%s", rel);
    if (dfd < 0)
        return -errno;
    if (fstat(dfd, &sb) < 0 || !(d = fdopendir(dfd))) {
        ret = -errno;
        close(dfd);
        return ret;
    }
    *dev = (uint64_t)sb.st_dev;
    *ino = (uint64_t)sb.st_ino;
    while (ret == 0 && (de = readdir(d))) {
        struct tree_ent e;
        char *r;

        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        r = tree_join(rel, de->d_name);
        if (!r) {
            ret = -ENOMEM;
            break;
        }
        ret = walk_entry(dirfd(d), de->d_name, r, follow, &e);
        if (ret == WALK_DANGLING) {   /* as cp -rL and rsync -L: said, counted, the rest goes */
            cli_err("cnio cp: %s: a symbolic link that leads nowhere (-L follows links): "
                    "not copied\n", r);
            (*left_out)++;
            free(r);
            ret = 0;
            continue;
        }
        if (ret == -EOPNOTSUPP) {   /* said and counted, as a dangling link: exit 1 */
            cli_err("cnio cp: %s: not a file, directory or symlink (a FIFO, socket or "
                    "device, which an object cannot be): not copied\n", r);
            (*left_out)++;
            free(r);
            ret = 0;
            continue;
        }
        e.from = from;
        if (ret == 0)
            ret = tree_list_add(l, &e) ? -ENOMEM : 0;
        if (ret) {
            snprintf(bad, badcap, "%s", r);
            free(e.link);
            free(r);
        }
    }
    closedir(d);
    return ret;
}

struct walk_remote {
    struct tree_list *l;
    const char *rel;
    uint32_t from;
};

static int walk_remote_add(const char *name, const struct cnio_obj_stat *s, void *arg)
{
    struct walk_remote *w = arg;
    struct tree_ent e = { 0 };

    e.rel = tree_join(w->rel, name);
    if (!e.rel)
        return -CNIO_ERR_NOMEM;
    e.mtime_ns = s->mtime_ns;
    e.mode = s->mode;
    e.size = s->size;
    e.from = w->from;
    if (s->state & CNIO_OBJ_SHADOWED)
        e.incomplete = s->state & CNIO_OBJ_FOREIGN ? TREE_SHADOWED_FOREIGN : TREE_SHADOWED;
    else if (s->state & CNIO_OBJ_FOREIGN)
        e.incomplete = TREE_FOREIGN;
    else if (s->state & CNIO_OBJ_WIDE)
        e.incomplete = TREE_WIDE;
    else if (s->state & CNIO_OBJ_MISSING)
        e.incomplete = TREE_MISSING;
    else if ((s->state & CNIO_OBJ_INCOMPLETE) == CNIO_OBJ_TORN && (s->state & CNIO_OBJ_PENDING))
        e.incomplete = TREE_SETTLING;
    else if (s->state & CNIO_OBJ_INCOMPLETE)
        e.incomplete = TREE_INCOMPLETE;
    e.type = s->is_dir ? TREE_DIR : S_ISLNK(s->mode) ? TREE_LINK : TREE_FILE;
    if (s->is_dir)
        e.size = 0;
    if (tree_list_add(w->l, &e)) {
        free(e.rel);
        return -CNIO_ERR_NOMEM;
    }
    return 0;
}

/* 1 when a host other than the first holds path as a directory: the parents that an
 * OPEN makes are made on the object's hosts alone, and an object of fewer columns than
 * hosts written through another order of them leaves its directories where the first
 * host of this order has none (which its STAT says). */
static int tree_dir_elsewhere(struct cnio_ns *ns, const char *path)
{
    struct cnio_ns_kinds k;

    return ns && cnio__ns_kinds(ns, path, &k) == 0 && k.dirs > 0;
}

int tree_walk_remote_dir(struct cnio_stack *st, const struct tree_end *e, struct cnio_ns *ns,
                         const char *rel, uint32_t from, int missing_ok, struct tree_list *l)
{
    struct walk_remote w = { .l = l, .rel = rel, .from = from };
    char *path;
    int ret;

    if (!rel[0] && e->u.path[0] && !e->top_is_dir) {
        struct cnio_obj_stat s;

        ret = cnio__obj_stat(st, &e->u, &e->h, &s);
        if (ret == -CNIO_ERR_NOENT && tree_dir_elsewhere(ns, e->u.path))
            ret = 0, s.is_dir = 1;
        if (ret == -CNIO_ERR_NOENT && missing_ok)
            return 0;
        if (ret == 0 && !s.is_dir)
            ret = -CNIO_ERR_NOTSUP;   /* an object, not a tree */
        if (ret)
            return ret;
    }
    path = tree_obj_name(e, rel);
    if (!path)
        return -CNIO_ERR_NOMEM;
    ret = cnio__ns_list(ns, path, walk_remote_add, &w);
    free(path);
    return ret;
}

int tree_walk_remote(struct cnio_stack *st, const struct tree_end *e, int missing_ok,
                     struct tree_list *l)
{
    struct cnio_ns *ns = NULL;
    size_t from = l->n;
    int ret = cnio__ns_open(st, &e->u, &e->h, &ns);

    /* Breadth first: each directory's entries are appended, then its subdirectories. */
    for (ssize_t i = -1; ret == 0 && (i < 0 || (size_t)i < l->n); i++) {
        if (i >= 0 && ((size_t)i < from || l->e[i].type != TREE_DIR))
            continue;
        ret = tree_walk_remote_dir(st, e, ns, i < 0 ? "" : l->e[i].rel, 0, missing_ok, l);
    }
    cnio__ns_close(ns);
    return ret;
}

char *tree_obj_name(const struct tree_end *e, const char *rel)
{
    return rel[0] ? tree_join(e->u.path, rel) : strdup(e->u.path);
}

char *tree_uri_string(const struct tree_end *e, const char *rel)
{
    const char *q = strchr(e->name, '?');
    size_t base = q ? (size_t)(q - e->name) : strlen(e->name), n = 0;
    char *out = malloc(base + 3 * strlen(rel) + (q ? strlen(q) : 0) + 2);

    if (!out)
        return NULL;
    memcpy(out, e->name, base);
    n = base;
    /* the root spelt "cnio://h//": one '/' before rel, since "cnio://h//rel" is refused */
    while (rel[0] && n >= 2 && out[n - 1] == '/' && out[n - 2] == '/')
        n--;
    if (rel[0] && n && out[n - 1] != '/')
        out[n++] = '/';
    for (const unsigned char *p = (const unsigned char *)rel; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("/-_.~", *p))
            out[n++] = (char)*p;
        else
            n += (size_t)sprintf(out + n, "%%%02X", *p);
    }
    if (q)
        n += (size_t)sprintf(out + n, "%s", q);
    out[n] = '\0';
    return out;
}
