/*
 * store_info.c - what a name on a server host reads as: the info of STAT and of each
 * entry of LIST, from the data file's stat and the object's metadata (store.c), checked
 * against each other (a data file of another length than its metadata vouches for is
 * refused as damaged), with a commit of the name under way waited for.
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
#include <sys/stat.h>
#include <unistd.h>

#define STORE_DEFAULT_UNIT (1ull << 20)

static int store_errno(void)
{
    return cnio__srv_why_errno(errno);
}

/* The metadata of a file that has none: one stripe column holding everything. */
static void store_meta_default(struct cnio_srv_meta *m, uint64_t size)
{
    memset(m, 0, sizeof(*m));
    m->layout.unit = STORE_DEFAULT_UNIT;
    m->layout.count = 1;
    m->size = size;
}

/* name has no metadata: a file put in the root by hand is one stripe column holding
 * everything (0, *m filled); one that has block sums was written through cnio-server,
 * and its lost metadata held its layout, which a default would get wrong (another
 * host's stripes read as missing, the object as this host's part alone). */
int cnio__srv_store_meta_none(struct cnio_srv_store *st, const char *name, uint64_t size,
                              struct cnio_srv_meta *m)
{
    struct stat sb;

    if (fstatat(st->sumsfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode)) {
        cnio__warn("object %s: its metadata (.cnio/meta/%s) is missing", name, name);
        return cnio__srv_why(-CNIO_ERR_IO, "its metadata on this server is missing (it held "
                             "the layout): restore .cnio/meta of the root, or remove the "
                             "object");
    }
    store_meta_default(m, size);
    return 0;
}

static int64_t store_mtime_ns(const struct stat *sb)
{
    return cnio__ns_of_ts(&sb->st_mtim);
}

void cnio__srv_store_fill(const struct cnio_srv_meta *m, const struct stat *sb, uint32_t flags,
                          struct cnio_wire_info *i)
{
    memset(i, 0, sizeof(*i));
    i->stripe_unit = m->layout.unit;
    i->stripe_count = m->layout.count;
    i->stripe_index = m->index;
    i->size = m->size;
    i->local_size = (uint64_t)sb->st_size;
    i->flags = flags;
    if (m->flags & CNIO_SRV_META_DIRTY)
        i->flags |= CNIO_WIRE_I_DIRTY;
    if (m->flags & CNIO_SRV_META_COMMITTING)
        i->flags |= CNIO_WIRE_I_COMMITTING;
    i->gen = cnio__wire_gen(m->gen, m->updates);
    i->flags |= (m->mode & 0xffffu) << CNIO_WIRE_I_MODE_SHIFT;
    i->mtime_ns = store_mtime_ns(sb);
}

/* Whether the name now holds the file sb describes, with metadata m still: a mismatch
 * of the two is then damage, not a writer or a commit that came between their reads. */
static int store_length_settled(struct cnio_srv_store *st, const char *name,
                                const struct cnio_srv_meta *m, const struct stat *sb,
                                uint64_t want)
{
    uint8_t was[CNIO_SRV_META_SIZE], is[CNIO_SRV_META_SIZE];
    struct cnio_srv_meta now;
    struct stat nsb;
    int fd = cnio__srv_store_at(st->rootfd, name, O_PATH, 0), same;

    if (fd < 0)
        return 0;
    same = fstat(fd, &nsb) == 0 && nsb.st_dev == sb->st_dev && nsb.st_ino == sb->st_ino &&
           (uint64_t)nsb.st_size != want && cnio__srv_store_meta_get(st, name, &now) == 0;
    if (same) {   /* the same metadata: compared as the file holds it */
        cnio__srv_meta_encode(m, was);
        cnio__srv_meta_encode(&now, is);
        same = !memcmp(was, is, sizeof(was));
    }
    close(fd);
    return same;
}

int cnio__srv_store_length_bad(struct cnio_srv_store *st, const char *name,
                               const struct cnio_srv_meta *m, const struct stat *sb,
                               uint64_t *want)
{
    if (!(m->flags & CNIO_SRV_META_SIZED))
        return 0;
    *want = cnio__layout_local_size(&m->layout, m->index, m->size);
    return (uint64_t)sb->st_size != *want && store_length_settled(st, name, m, sb, *want);
}

int cnio__srv_store_length_check(struct cnio_srv_store *st, const char *name,
                                 const struct cnio_srv_meta *m, const struct stat *sb)
{
    uint64_t want, have = (uint64_t)sb->st_size;

    if (!cnio__srv_store_length_bad(st, name, m, sb, &want))
        return 0;
    cnio__warn("object %s: its data file was %s behind the server's back: %llu bytes where "
               "its size (%llu) gives %llu", name, have > want ? "grown" : "truncated",
               (unsigned long long)have, (unsigned long long)m->size,
               (unsigned long long)want);
    return cnio__srv_why(-CNIO_ERR_IO, "the data of %s on this host is damaged: %s to %llu "
                         "bytes where its recorded size gives %llu (changed outside "
                         "cnio-server); restore it from a backup, or remove the object "
                         "(cnio rm) and copy it again", name,
                         have > want ? "grown" : "truncated", (unsigned long long)have,
                         (unsigned long long)want);
}

int cnio__srv_store_info(int fd, const struct cnio_srv_meta *m, uint32_t flags,
                         struct cnio_wire_info *i)
{
    struct stat sb;

    if (fstat(fd, &sb) < 0)
        return store_errno();
    cnio__srv_store_fill(m, &sb, flags, i);
    return 0;
}
/* Info of name, whose data file has stat sb; its metadata read beneath the metadata
 * tree's directory mfd as base when mfd >= 0 (a listing's), else by name. lenient: bad
 * metadata reads as none. pathfd: the data file (of a directory, where its recorded
 * mode is), or -1. */
static int store_info_sb(struct cnio_srv_store *st, const char *name, const struct stat *sb,
                         int mfd, const char *base, int lenient, int pathfd,
                         struct cnio_wire_info *i)
{
    struct cnio_srv_meta m;
    int ret;

    if (S_ISDIR(sb->st_mode)) {
        memset(i, 0, sizeof(*i));
        i->flags = CNIO_WIRE_I_DIR | (cnio__srv_dir_mode(pathfd, sb) << CNIO_WIRE_I_MODE_SHIFT);
        i->mtime_ns = store_mtime_ns(sb);
        return 0;
    }
    if (!S_ISREG(sb->st_mode))
        return cnio__srv_why(-CNIO_ERR_ACCESS, "not a regular file (a FIFO, device or socket "
                             "on the server)");
    ret = mfd >= 0 ? cnio__srv_store_meta_read_at(mfd, base, name, &m)
                   : cnio__srv_store_meta_get(st, name, &m);
    if (ret == 1 && !lenient &&
        (ret = cnio__srv_store_meta_none(st, name, (uint64_t)sb->st_size, &m)))
        return ret;
    if (ret == 1 || (ret < 0 && lenient))
        store_meta_default(&m, (uint64_t)sb->st_size);
    else if (ret < 0)
        return ret;
    if (!lenient && (ret = cnio__srv_store_length_check(st, name, &m, sb)))
        return ret;
    cnio__srv_store_fill(&m, sb, 0, i);
    cnio__srv_store_adjust(st, name, i);
    if (cnio__srv_stage_find(st, name, NULL, NULL, NULL) == 0)
        i->flags |= CNIO_WIRE_I_PENDING;
    return 0;
}

int cnio__srv_store_interrupted(struct cnio_srv_store *st, const char *name)
{
    struct cnio_srv_meta m;
    int ret;

    /* The mark and the writers as of one moment: a writer registers before it marks
     * (cnio__srv_open_dirty), and its clean close clears the mark (cnio__srv_store_mark)
     * before it leaves the writers (cnio__srv_req_close), each under the store lock. A
     * mark read before such a close, and the writers looked at after it, told a reader
     * "an update in place was interrupted" about 1 download in 50 beside a writer that
     * opened and closed in a loop. */
    pthread_mutex_lock(&st->lock);
    ret = cnio__srv_store_writing(st, name, 0) ? 1 : cnio__srv_store_meta_get(st, name, &m);
    pthread_mutex_unlock(&st->lock);
    if (ret == 1)   /* a writer holds it; or no metadata now: removed, or replaced */
        return 0;
    return ret < 0 || (m.flags & CNIO_SRV_META_DIRTY);
}

void cnio__srv_store_adjust(struct cnio_srv_store *st, const char *name,
                            struct cnio_wire_info *i)
{
    if ((i->flags & CNIO_WIRE_I_DIRTY) && !cnio__srv_store_interrupted(st, name))
        i->flags &= ~CNIO_WIRE_I_DIRTY;   /* a writer has it open (in progress), or closed it */
}

void cnio__srv_store_inplace(int written, struct cnio_wire_info *i)
{
    if (written && !(i->flags & (CNIO_WIRE_I_DIR | CNIO_WIRE_I_STAGED)))
        i->flags |= CNIO_WIRE_I_INPLACE;
}

/* Info of name: the committed object, else its newest staged instance (I_STAGED). */
static int store_info_name(struct cnio_srv_store *st, const char *name, int lenient,
                           struct cnio_wire_info *i)
{
    int fd = cnio__srv_store_at(st->rootfd, name, O_PATH, 0), ret;
    struct stat sb;

    if (fd < 0) {
        ret = store_errno();
        if (ret == -CNIO_ERR_NOENT && cnio__srv_stage_info(st, name, i) == 0)
            return 0;
        return ret;
    }
    ret = fstat(fd, &sb) < 0 ? store_errno()
                             : store_info_sb(st, name, &sb, -1, NULL, lenient, fd, i);
    close(fd);
    return ret;
}

/*
 * Info of name as a reader finds it: a commit under way of it on this server (its
 * metadata says COMMITTING between the commit's steps 1 and 3, stage_commit.c, and its
 * data file may be either version) is waited for, so that a reader sees the object
 * before the commit or after it, never between. A commit holds the name's open lock
 * throughout (cnio__srv_open_lock), so the info is read again under that lock, held
 * alone: COMMITTING then is a commit that stopped (a crash), reported as it is.
 */
static int store_info_settled(struct cnio_srv_store *st, const char *name, int lenient,
                              struct cnio_wire_info *i)
{
    pthread_mutex_t *lk;
    int ret = store_info_name(st, name, lenient, i);

    if (ret || !(i->flags & CNIO_WIRE_I_COMMITTING))
        return ret;
    lk = cnio__srv_open_lock(st, name);
    pthread_mutex_lock(lk);
    ret = store_info_name(st, name, lenient, i);
    pthread_mutex_unlock(lk);
    return ret;
}

int cnio__srv_store_stat(struct cnio_srv_store *st, const char *name, struct cnio_wire_info *i)
{
    return store_info_settled(st, name, 0, i);
}

int cnio__srv_store_stat_locked(struct cnio_srv_store *st, const char *name,
                                struct cnio_wire_info *i)
{
    return store_info_name(st, name, 0, i);
}
static int store_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void store_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Drops repeated names from the sorted names[0..n): the count left. */
static size_t store_dedup(char **names, size_t n)
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        if (k && !strcmp(names[k - 1], names[i]))
            free(names[i]);
        else
            names[k++] = names[i];
    }
    return k;
}

/* The sorted names of directory dir ("" = root), those starting with '.' left out, and
 * the names of staged objects in it; *dirfd: the directory, for its entries (or -1). */
static int store_names(struct cnio_srv_store *st, const char *dir, char ***out, size_t *nout,
                       int *dirfd)
{
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    DIR *d;
    int fd = cnio__srv_store_at(st->rootfd, dir[0] ? dir : ".", O_RDONLY | O_DIRECTORY, 0);

    *dirfd = -1;
    if (fd < 0)
        return store_errno();
    *dirfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -CNIO_ERR_NOMEM;
    }
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **nn = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*names));

            if (!nn)
                goto nomem;
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name)))
            goto nomem;
        n++;
    }
    closedir(d);
    if (cnio__srv_stage_names(st, dir, &names, &n, &cap))
        goto nomem_names;
    if (n)
        qsort(names, n, sizeof(*names), store_cmp);
    n = store_dedup(names, n);
    *out = names;
    *nout = n;
    return 0;
nomem_names:
    store_names_free(names, n);
    if (*dirfd >= 0)
        close(*dirfd);
    *dirfd = -1;
    return -CNIO_ERR_NOMEM;
nomem:
    closedir(d);
    store_names_free(names, n);
    if (*dirfd >= 0)
        close(*dirfd);
    *dirfd = -1;
    return -CNIO_ERR_NOMEM;
}

/*
 * Encodes the entry of dir/name into out: bytes used, 0 to skip it, -1 when full. dfd
 * and mfd are dir beneath the root and beneath the metadata tree (or -1): a name in
 * them is one component, so it is looked up there without a path walk; a symlink, or
 * a name only staged, goes the long way.
 */
static int store_entry(struct cnio_srv_store *st, const char *dir, const char *name, int dfd,
                       int mfd, int inplace, uint8_t *out, size_t cap)
{
    char path[CNIO_SRV_PATH_MAX];
    struct cnio_wire_entry e;
    struct stat sb;
    int ret, written;

    snprintf(path, sizeof(path), "%s%s%s", dir, dir[0] ? "/" : "", name);
    written = inplace && cnio__srv_store_written(st, path);   /* before the count */
    if (dfd >= 0 && !strchr(name, '/') && fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
        !S_ISLNK(sb.st_mode)) {
        int pfd = S_ISDIR(sb.st_mode) ? openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC) : -1;

        ret = store_info_sb(st, path, &sb, mfd, name, 1, pfd, &e.info);
        if (pfd >= 0)
            close(pfd);
        if (!ret && (e.info.flags & CNIO_WIRE_I_COMMITTING))
            ret = store_info_settled(st, path, 1, &e.info);
    } else
        ret = store_info_settled(st, path, 1, &e.info);
    if (ret)
        return 0;   /* vanished, or a symlink leading outside: not listed */
    cnio__srv_store_inplace(written, &e.info);
    e.name = name;
    e.name_len = (uint32_t)strlen(name);
    ret = cnio__wire_entry_encode(&e, out, cap);
    return ret < 0 ? -1 : ret;
}

int cnio__srv_store_list(struct cnio_srv_store *st, const char *dir, uint64_t *cursor,
                         int inplace, uint8_t *out, size_t cap, size_t *len, int *more)
{
    char **names = NULL;
    size_t n = 0, pos = 0, i;
    int dfd, mfd, ret = store_names(st, dir, &names, &n, &dfd);

    if (ret)
        return ret;
    mfd = cnio__srv_store_at(st->metafd, dir[0] ? dir : ".", O_PATH | O_DIRECTORY, 0);
    for (i = *cursor < n ? (size_t)*cursor : n; i < n; i++) {
        int w = store_entry(st, dir, names[i], dfd, mfd, inplace, out + pos, cap - pos);

        if (w < 0)
            break;
        pos += (size_t)w;
    }
    *cursor = i;
    *more = i < n;
    *len = pos;
    store_names_free(names, n);
    if (mfd >= 0)
        close(mfd);
    if (dfd >= 0)
        close(dfd);
    return 0;
}
