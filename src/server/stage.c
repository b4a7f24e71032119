/*
 * stage.c - staged instances: an object being written whole (`cnio cp`, an MPI open
 * that creates the object) is written beside the object, invisible under its name,
 * until its writer commits it.
 *
 *   ROOT/.cnio/stage/ID        this host's stripe file of the instance (ID: 16 hex digits,
 *                              the id the client chose for the instance on every host)
 *   ROOT/.cnio/stage/ID.meta   the metadata block of store.c (generation = ID) and then
 *                              the object's name: bytes 48 name_len u32, 52 CRC32C of
 *                              the name, covered by the block's CRC; the name follows.
 *                              Written only once it matters (SYNC, a release without a
 *                              commit, a WRITE past CNIO_SRV_STAGE_LAZY); until then the
 *                              stage index holds it (stage_idx.c), and a data file left
 *                              without it by a crash is removed at startup.
 *
 * Each writer's open gets its own instance, so concurrent writers of one name never mix:
 * each commit replaces the whole object (the last commit wins). A writer that dies leaves
 * its instance behind; STAT and LIST report it (I_STAGED: incomplete), `cnio cp --resume`
 * reopens it, UNLINK removes it, and the server names the ones it finds at startup.
 *
 * COMMIT makes an instance the object: stage_commit.c.
 */
#include "server.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STAGE_ID_CHARS 16
#define STAGE_META_SUFFIX ".meta"

void cnio__srv_stage_file(char *buf, size_t cap, uint64_t id, int meta)
{
    snprintf(buf, cap, "%016llx%s", (unsigned long long)id, meta ? STAGE_META_SUFFIX : "");
}

size_t cnio__srv_stage_meta_encode(const char *name, const struct cnio_srv_meta *m,
                                   uint8_t out[CNIO_SRV_STAGE_META_MAX])
{
    size_t n = strlen(name);

    if (n == 0 || n > CNIO_WIRE_MAX_NAME)
        return 0;
    cnio__srv_meta_encode(m, out);
    cnio__put_le32(out + 48, (uint32_t)n);
    cnio__put_le32(out + 52, cnio__crc32c(0, name, n));
    cnio__put_le32(out + 60, cnio__crc32c(0, out, 60));
    memcpy(out + CNIO_SRV_META_SIZE, name, n);
    return CNIO_SRV_META_SIZE + n;
}

int cnio__srv_stage_meta_decode(const uint8_t *in, size_t len, uint64_t id,
                                struct cnio_srv_meta *m, char name[CNIO_WIRE_MAX_NAME + 1])
{
    uint32_t nl;

    if (len < CNIO_SRV_META_SIZE || cnio__srv_meta_decode(in, CNIO_SRV_META_SIZE, m))
        return -CNIO_ERR_IO;
    nl = cnio__get_le32(in + 48);
    if (nl == 0 || nl > CNIO_WIRE_MAX_NAME || len != CNIO_SRV_META_SIZE + nl ||
        cnio__crc32c(0, in + CNIO_SRV_META_SIZE, nl) != cnio__get_le32(in + 52) ||
        m->gen != id || cnio__name_problem((const char *)in + CNIO_SRV_META_SIZE, nl))
        return -CNIO_ERR_IO;
    memcpy(name, in + CNIO_SRV_META_SIZE, nl);
    name[nl] = '\0';
    m->seq = 0;   /* bytes 48..55 hold the name's length and CRC here */
    return 0;
}

int cnio__srv_stage_meta_write(struct cnio_srv_store *st, uint64_t id, const char *name,
                               const struct cnio_srv_meta *m)
{
    uint8_t buf[CNIO_SRV_STAGE_META_MAX];
    size_t n = cnio__srv_stage_meta_encode(name, m, buf);
    char file[32];

    if (!n)
        return -CNIO_ERR_INVAL;
    cnio__srv_stage_file(file, sizeof(file), id, 1);
    return cnio__srv_store_replace(st->stagefd, file, buf, n, 0);
}

/* Reads instance id's metadata and name (from the stage index while it holds what
 * ID.meta does not yet): 0, or -CNIO_ERR_NOENT / -CNIO_ERR_IO. */
static int stage_meta_read(struct cnio_srv_store *st, uint64_t id, struct cnio_srv_meta *m,
                           char name[CNIO_WIRE_MAX_NAME + 1])
{
    uint8_t buf[CNIO_SRV_STAGE_META_MAX + 1];
    char file[32];
    ssize_t n;
    int fd;

    if (cnio__srv_stage_idx_unsaved(st, id, m, name)) {
        m->seq = 0;
        return 0;
    }
    cnio__srv_stage_file(file, sizeof(file), id, 1);
    fd = openat(st->stagefd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return errno == ENOENT ? -CNIO_ERR_NOENT : cnio__srv_why_errno(errno);
    n = pread(fd, buf, sizeof(buf), 0);
    close(fd);
    return n < 0 ? -CNIO_ERR_IO : cnio__srv_stage_meta_decode(buf, (size_t)n, id, m, name);
}

int cnio__srv_stage_meta_save(struct cnio_srv_store *st, uint64_t id)
{
    char name[CNIO_WIRE_MAX_NAME + 1], file[32];
    struct cnio_srv_meta m;
    int ret = 0;

    /* Under the store lock, which a commit holds until it has removed ID.meta and the
     * index entry, so that this never writes ID.meta again after a commit; a discard
     * removes the entry first, and one that did meanwhile has the file removed again. */
    pthread_mutex_lock(&st->lock);
    if (cnio__srv_stage_idx_unsaved(st, id, &m, name)) {
        cnio__srv_stage_file(file, sizeof(file), id, 0);
        if (faccessat(st->stagefd, file, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
            ret = errno == ENOENT ? 0 : cnio__srv_why_errno(errno);   /* discarded */
        else
            ret = cnio__srv_stage_meta_write(st, id, name, &m);
        if (!ret && !cnio__srv_stage_idx_saved(st, id, m.size)) {
            cnio__srv_stage_file(file, sizeof(file), id, 1);
            unlinkat(st->stagefd, file, 0);
        }
    }
    pthread_mutex_unlock(&st->lock);
    return ret;
}

int cnio__srv_stage_meta_keep(struct cnio_srv_store *st, uint64_t id)
{
    char file[32];
    int fd, ret = cnio__srv_stage_meta_save(st, id);

    if (ret)
        return ret;
    cnio__srv_stage_file(file, sizeof(file), id, 1);
    fd = openat(st->stagefd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)   /* discarded meanwhile: nothing to keep */
        return errno == ENOENT ? 0 : cnio__srv_why_errno(errno);
    ret = fsync(fd) < 0 ? cnio__srv_why_errno(errno) : 0;
    close(fd);
    /* the stage directory: ID.meta's entry, and the reserved files a PREPARE made */
    return ret ? ret : cnio__srv_store_sync_path(st->stagefd);
}

/* One staged instance as stage_each finds it. */
struct stage_ent {
    uint64_t id;
    struct cnio_srv_meta m;
    struct stat sb;             /* of its data file */
    char name[CNIO_WIRE_MAX_NAME + 1];
};

typedef int (*stage_fn)(struct cnio_srv_store *st, const struct stage_ent *e, void *arg);

/* Reads instance e->id's metadata, name and data file's stat into e: 0, -CNIO_ERR_NOENT
 * when its files are gone, or another code when they are not valid. */
static int stage_ent_read(struct cnio_srv_store *st, struct stage_ent *e)
{
    char file[32];
    int ret = stage_meta_read(st, e->id, &e->m, e->name);

    if (ret)
        return ret;
    cnio__srv_stage_file(file, sizeof(file), e->id, 0);
    if (fstatat(st->stagefd, file, &e->sb, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? -CNIO_ERR_NOENT : cnio__srv_why_errno(errno);
    return S_ISREG(e->sb.st_mode) ? 0 : -CNIO_ERR_IO;
}

/* The instance id of directory entry name when it is ID followed by suffix: 1, else 0. */
static int stage_name_id(const char *name, const char *suffix, uint64_t *id)
{
    char hex[STAGE_ID_CHARS + 1], *end;

    if (strlen(name) != STAGE_ID_CHARS + strlen(suffix) || strcmp(name + STAGE_ID_CHARS, suffix))
        return 0;
    memcpy(hex, name, STAGE_ID_CHARS);
    hex[STAGE_ID_CHARS] = '\0';
    *id = strtoull(hex, &end, 16);
    return !*end && *id != 0;
}

/*
 * At startup, one pass over ROOT/.cnio/stage: calls fn for every staged instance with
 * valid metadata and a data file, until fn returns nonzero (which is returned), and
 * removes the data files (with their block sums and the metadata files a PREPARE
 * reserved) that have no ID.meta, counted in *orphans: the uploads a crash cut short
 * before their metadata was written (stage_idx.c: small or young ones), which no client
 * can resume or see; and reserved metadata files whose instance has no data file. A
 * negative code when the directory cannot be read.
 */
static int stage_scan(struct cnio_srv_store *st, stage_fn fn, void *arg, int *orphans)
{
    struct stage_ent *e = malloc(sizeof(*e));
    struct dirent *de;
    DIR *d;
    int fd = openat(st->stagefd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = 0;

    if (fd < 0 || !e) {
        if (fd >= 0)
            close(fd);
        free(e);
        return fd < 0 ? cnio__srv_why_errno(errno) : -CNIO_ERR_NOMEM;
    }
    d = fdopendir(fd);
    if (!d) {
        close(fd);
        free(e);
        return -CNIO_ERR_NOMEM;
    }
    while (!ret && (de = readdir(d))) {
        char meta[32];
        uint64_t id;

        if (cnio__srv_stage_prep_id(de->d_name, &id)) {   /* a prepare's, left by a crash */
            cnio__srv_stage_file(meta, sizeof(meta), id, 0);
            if (faccessat(st->stagefd, meta, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
                unlinkat(st->stagefd, de->d_name, 0);
            continue;
        }
        if (stage_name_id(de->d_name, "", &id)) {
            cnio__srv_stage_file(meta, sizeof(meta), id, 1);
            if (faccessat(st->stagefd, meta, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT) {
                *orphans += unlinkat(st->stagefd, de->d_name, 0) == 0;
                cnio__srv_sums_discard(st, id);
                cnio__srv_stage_unprepare(st, id);
            }
            continue;
        }
        if (!stage_name_id(de->d_name, STAGE_META_SUFFIX, &e->id) || stage_ent_read(st, e))
            continue;
        ret = fn(st, e, arg);
    }
    closedir(d);
    free(e);
    return ret;
}

/* Calls fn for every staged instance of name (NULL: of every name) that the index holds
 * and whose files are valid, until fn returns nonzero (which is returned); instances
 * whose files went are dropped from the index. A negative code when out of memory. */
static int stage_each(struct cnio_srv_store *st, const char *name, stage_fn fn, void *arg)
{
    struct stage_ent *e;
    uint64_t *ids;
    size_t n;
    int ret = cnio__srv_stage_idx_ids(st, name, &ids, &n);

    if (ret || n == 0) {
        if (!ret)
            free(ids);
        return ret;
    }
    e = malloc(sizeof(*e));
    ret = e ? 0 : -CNIO_ERR_NOMEM;
    for (size_t i = 0; !ret && i < n; i++) {
        int r;

        e->id = ids[i];
        r = stage_ent_read(st, e);
        if (r == -CNIO_ERR_NOENT)
            cnio__srv_stage_idx_del(st, e->id);
        if (r || (name && strcmp(e->name, name)))
            continue;
        ret = fn(st, e, arg);
    }
    free(e);
    free(ids);
    return ret;
}

struct stage_newest {
    const char *name;
    int (*live)(void *arg, uint64_t id);   /* NULL, or instances it names are skipped */
    void *arg;
    int found;
    struct stage_ent best;
};

static int stage_newest_fn(struct cnio_srv_store *st, const struct stage_ent *e, void *arg)
{
    struct stage_newest *s = arg;

    (void)st;
    if (strcmp(e->name, s->name) || (s->live && s->live(s->arg, e->id)))
        return 0;
    if (!s->found || e->sb.st_mtim.tv_sec > s->best.sb.st_mtim.tv_sec ||
        (e->sb.st_mtim.tv_sec == s->best.sb.st_mtim.tv_sec &&
         e->sb.st_mtim.tv_nsec > s->best.sb.st_mtim.tv_nsec))
        s->best = *e;
    s->found = 1;
    return 0;
}

/* The newest staged instance of name that live(arg, id) does not name (live NULL: any). */
static int stage_newest(struct cnio_srv_store *st, const char *name,
                        int (*live)(void *arg, uint64_t id), void *arg, uint64_t *id,
                        struct cnio_srv_meta *m, struct stat *sb)
{
    struct stage_newest *s = calloc(1, sizeof(*s));
    int ret;

    if (!s)
        return -CNIO_ERR_NOMEM;
    s->name = name;
    s->live = live;
    s->arg = arg;
    ret = stage_each(st, name, stage_newest_fn, s);
    if (!ret && !s->found)
        ret = -CNIO_ERR_NOENT;
    if (!ret) {
        if (id)
            *id = s->best.id;
        if (m)
            *m = s->best.m;
        if (sb)
            *sb = s->best.sb;
    }
    free(s);
    return ret;
}

int cnio__srv_stage_find(struct cnio_srv_store *st, const char *name, uint64_t *id,
                         struct cnio_srv_meta *m, struct stat *sb)
{
    return stage_newest(st, name, NULL, NULL, id, m, sb);
}

/* When instance e was last changed: its data file's mtime, or ctime (a truncation). */
static time_t stage_changed(const struct stage_ent *e)
{
    return CNIO_MAX(e->sb.st_mtim.tv_sec, e->sb.st_ctim.tv_sec);
}

struct stage_old {
    time_t before;
    int (*live)(void *arg, uint64_t id);
    void *arg;
    struct stage_old_one {
        uint64_t id;
        char *name;
    } *v;
    size_t n, cap;
};

/* Collects e when nobody holds it and it has not changed since o->before. */
static int stage_old_fn(struct cnio_srv_store *st, const struct stage_ent *e, void *arg)
{
    struct stage_old *o = arg;

    (void)st;
    if (stage_changed(e) >= o->before || o->live(o->arg, e->id))
        return 0;
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 16;
        struct stage_old_one *v = realloc(o->v, cap * sizeof(*v));

        if (!v)
            return -CNIO_ERR_NOMEM;
        o->v = v;
        o->cap = cap;
    }
    o->v[o->n].id = e->id;
    o->v[o->n].name = strdup(e->name);
    if (!o->v[o->n].name)
        return -CNIO_ERR_NOMEM;
    o->n++;
    return 0;
}

int cnio__srv_stage_expire(struct cnio_srv_store *st, uint32_t max_age_s,
                           int (*live)(void *arg, uint64_t id), void *arg, uint64_t *bytes)
{
    struct stage_old o = { time(NULL) - (time_t)max_age_s, live, arg, NULL, 0, 0 };
    struct stage_ent *e = malloc(sizeof(*e));
    int ret = e ? stage_each(st, NULL, stage_old_fn, &o) : -CNIO_ERR_NOMEM, n = 0;

    for (size_t i = 0; i < o.n; i++) {
        pthread_mutex_t *lk = cnio__srv_open_lock(st, o.v[i].name);

        /* again under the name's open lock, which a resume holds from its search to its
         * handle and a commit throughout: still there, still nobody's, still old */
        pthread_mutex_lock(lk);
        e->id = o.v[i].id;
        if (stage_ent_read(st, e) == 0 && !strcmp(e->name, o.v[i].name) &&
            stage_changed(e) < o.before && !live(arg, e->id)) {
            pthread_mutex_lock(&st->lock);
            cnio__srv_stage_discard(st, e->id);
            pthread_mutex_unlock(&st->lock);
            cnio__info("removed an interrupted upload of %s (instance %016llx, %llu bytes), "
                       "unchanged for more than %u s (--stage-expire)", e->name,
                       (unsigned long long)e->id, (unsigned long long)e->sb.st_size, max_age_s);
            *bytes += (uint64_t)e->sb.st_size;
            n++;
        }
        pthread_mutex_unlock(lk);
    }
    for (size_t i = 0; i < o.n; i++)
        free(o.v[i].name);
    free(o.v);
    free(e);
    return ret < 0 ? ret : n;
}

struct stage_live {
    const char *name;
    int (*live)(void *arg, uint64_t id);
    void *arg;
    uint64_t id;
};

static int stage_live_fn(struct cnio_srv_store *st, const struct stage_ent *e, void *arg)
{
    struct stage_live *s = arg;

    (void)st;
    if (strcmp(e->name, s->name) || !s->live(s->arg, e->id))
        return 0;
    s->id = e->id;
    return 1;
}

int cnio__srv_stage_find_live(struct cnio_srv_store *st, const char *name,
                              int (*live)(void *arg, uint64_t id), void *arg, uint64_t *id)
{
    struct stage_live s = { name, live, arg, 0 };
    int ret = stage_each(st, name, stage_live_fn, &s);

    if (ret < 0)
        return ret;
    if (!s.id)
        return -CNIO_ERR_NOENT;
    *id = s.id;
    return 0;
}

int cnio__srv_stage_info(struct cnio_srv_store *st, const char *name, struct cnio_wire_info *i)
{
    struct cnio_srv_meta m;
    struct stat sb;
    int ret = cnio__srv_stage_find(st, name, NULL, &m, &sb);

    if (ret)
        return ret;
    cnio__srv_store_fill(&m, &sb, CNIO_WIRE_I_STAGED, i);
    return 0;
}

/* -CNIO_ERR_ISDIR when name is a directory, -CNIO_ERR_EXIST when it exists and excl. */
static int stage_check_name(struct cnio_srv_store *st, const char *name, int excl)
{
    struct stat sb;
    int fd = cnio__srv_store_at(st->rootfd, name, O_PATH, 0), ret = 0;

    if (fd < 0)
        return errno == ENOENT ? 0 : cnio__srv_why_errno(errno);
    if (fstat(fd, &sb) < 0)
        ret = cnio__srv_why_errno(errno);
    else if (S_ISDIR(sb.st_mode))
        ret = -CNIO_ERR_ISDIR;
    else if (excl)
        ret = -CNIO_ERR_EXIST;
    close(fd);
    return ret;
}

int cnio__srv_stage_check_at(struct cnio_srv_store *st, int pfd, const char *base,
                          const char *name, int excl)
{
    struct stat sb;

    if (fstatat(pfd, base, &sb, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 1 : cnio__srv_why_errno(errno);
    if (S_ISLNK(sb.st_mode))   /* resolved beneath the root, as elsewhere */
        return stage_check_name(st, name, excl);
    if (S_ISDIR(sb.st_mode))
        return -CNIO_ERR_ISDIR;
    return excl ? -CNIO_ERR_EXIST : 0;
}

int cnio__srv_stage_create(struct cnio_srv_store *st, const char *name, uint64_t id, int excl,
                           const struct cnio_srv_meta *want, int *fd_out,
                           struct cnio_srv_meta *m)
{
    const char *base;
    char file[32];
    /* the directories first, so that LIST shows the staged object where it will be */
    int fd, ret = cnio__srv_store_mkparents_at(st->rootfd, name, &base);

    if (ret < 0)
        return ret;
    fd = ret;
    ret = cnio__srv_stage_check_at(st, fd, base, name, excl);
    close(fd);
    if (ret < 0)
        return ret;
    *m = *want;
    m->size = 0;
    m->flags = 0;
    m->gen = id;
    cnio__srv_stage_file(file, sizeof(file), id, 0);
    fd = openat(st->stagefd, file, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
                0644);
    if (fd < 0)
        return cnio__srv_why_errno(errno);
    ret = cnio__srv_stage_idx_add(st, id, name, m, 1);   /* ID.meta: when it matters */
    if (ret) {
        unlinkat(st->stagefd, file, 0);
        close(fd);
        return ret;
    }
    *fd_out = fd;
    return 0;
}

int cnio__srv_stage_resume(struct cnio_srv_store *st, const char *name, uint64_t *id,
                           int (*live)(void *arg, uint64_t id), void *arg, int *fd_out,
                           struct cnio_srv_meta *m)
{
    char stored[CNIO_WIRE_MAX_NAME + 1], file[32];
    int fd, ret;

    if (*id == 0) {
        ret = stage_newest(st, name, live, arg, id, m, NULL);
    } else {
        ret = stage_meta_read(st, *id, m, stored);
        if (!ret && strcmp(stored, name))
            ret = -CNIO_ERR_NOENT;
    }
    if (ret)
        return ret == -CNIO_ERR_IO ? -CNIO_ERR_NOENT : ret;
    cnio__srv_stage_file(file, sizeof(file), *id, 0);
    fd = openat(st->stagefd, file, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return errno == ENOENT ? -CNIO_ERR_NOENT : cnio__srv_why_errno(errno);
    *fd_out = fd;
    return 0;
}

int cnio__srv_stage_sync(struct cnio_srv_store *st, uint64_t id, int fd)
{
    char file[32];
    int mfd, dfd, ret = 0;

    if (fsync(fd) < 0)
        return cnio__srv_why_errno(errno);
    cnio__srv_stage_file(file, sizeof(file), id, 1);
    mfd = openat(st->stagefd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (mfd >= 0) {
        if (fsync(mfd) < 0)
            ret = cnio__srv_why_errno(errno);
        close(mfd);
    }
    dfd = openat(st->stagefd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (!ret)
            ret = cnio__srv_store_sync_dir(dfd);
        close(dfd);
    }
    return ret;
}

void cnio__srv_stage_discard(struct cnio_srv_store *st, uint64_t id)
{
    char file[32];

    cnio__srv_stage_idx_del(st, id);   /* first: a size save after it writes nothing */
    cnio__srv_stage_file(file, sizeof(file), id, 0);
    unlinkat(st->stagefd, file, 0);
    cnio__srv_stage_file(file, sizeof(file), id, 1);
    unlinkat(st->stagefd, file, 0);
    cnio__srv_sums_discard(st, id);
    cnio__srv_stage_unprepare(st, id);
}

int cnio__srv_stage_unlink_id_locked(struct cnio_srv_store *st, const char *name, uint64_t id)
{
    char stored[CNIO_WIRE_MAX_NAME + 1];
    struct cnio_srv_meta m;

    if (stage_meta_read(st, id, &m, stored) || strcmp(stored, name))
        return -CNIO_ERR_NOENT;
    cnio__srv_stage_discard(st, id);
    return 0;
}

struct stage_unlink {
    const char *name;
    uint64_t keep;
    int (*keep_fn)(void *arg, uint64_t id);
    void *arg;
    int n;
};

static int stage_unlink_fn(struct cnio_srv_store *st, const struct stage_ent *e, void *arg)
{
    struct stage_unlink *u = arg;

    if (!strcmp(e->name, u->name) && e->id != u->keep && !(u->keep_fn && u->keep_fn(u->arg, e->id))) {
        cnio__srv_stage_discard(st, e->id);
        u->n++;
    }
    return 0;
}

int cnio__srv_stage_prune(struct cnio_srv_store *st, const char *name, uint64_t keep,
                          int (*keep_fn)(void *arg, uint64_t id), void *arg)
{
    struct stage_unlink u = { name, keep, keep_fn, arg, 0 };
    int ret = stage_each(st, name, stage_unlink_fn, &u);

    return ret < 0 ? ret : u.n;
}

int cnio__srv_stage_unlink_name(struct cnio_srv_store *st, const char *name)
{
    return cnio__srv_stage_prune(st, name, 0, NULL, NULL);
}

struct stage_names {
    const char *dir;
    size_t dlen;
    char ***names;
    size_t *n, *cap;
};

static int stage_names_fn(struct cnio_srv_store *st, const struct stage_ent *e, void *arg)
{
    struct stage_names *s = arg;
    const char *base = e->name;
    char *copy;

    (void)st;
    if (s->dlen) {
        if (strncmp(e->name, s->dir, s->dlen) || e->name[s->dlen] != '/')
            return 0;
        base = e->name + s->dlen + 1;
    }
    if (strchr(base, '/'))
        return 0;   /* deeper: its directory is listed already */
    if (*s->n == *s->cap) {
        size_t nc = *s->cap ? *s->cap * 2 : 64;
        char **nn = realloc(*s->names, nc * sizeof(**s->names));

        if (!nn)
            return -CNIO_ERR_NOMEM;
        *s->names = nn;
        *s->cap = nc;
    }
    if (!(copy = strdup(base)))
        return -CNIO_ERR_NOMEM;
    (*s->names)[(*s->n)++] = copy;
    return 0;
}

int cnio__srv_stage_names(struct cnio_srv_store *st, const char *dir, char ***names,
                          size_t *n, size_t *cap)
{
    struct stage_names s = { dir, strlen(dir), names, n, cap };
    int ret = stage_each(st, NULL, stage_names_fn, &s);

    return ret == -CNIO_ERR_NOMEM ? ret : 0;
}

static int stage_load_fn(struct cnio_srv_store *st, const struct stage_ent *e, void *arg)
{
    struct cnio_srv_meta pm;
    int *n = arg;

    if (cnio__srv_stage_idx_add(st, e->id, e->name, &e->m, 0))
        return -CNIO_ERR_NOMEM;
    if (++*n > 20)
        return 0;
    if (cnio__srv_stage_prepared(st, e->id, &pm) == 0)   /* its writer asked for the commit */
        cnio__warn("staged object %s (instance %016llx, %lld bytes here) was prepared for its "
                   "commit and not committed here: if another host committed it, the next "
                   "open or `cnio stat` of it finishes the commit here; else `cnio cp "
                   "--resume` finishes it, " CNIO_RM_ADVICE, e->name,
                   (unsigned long long)e->id, (long long)e->sb.st_size);
    else
        cnio__warn("staged object %s (instance %016llx, %lld bytes here) was never committed: "
                   "`cnio stat` shows it incomplete; `cnio cp --resume` finishes it, "
                   CNIO_RM_ADVICE, e->name, (unsigned long long)e->id,
                   (long long)e->sb.st_size);
    return 0;
}

int cnio__srv_stage_load(struct cnio_srv_store *st)
{
    int n = 0, orphans = 0, ret = stage_scan(st, stage_load_fn, &n, &orphans);

    if (orphans)
        cnio__info("removed %d staged data file%s that a crash left without metadata (uploads "
                   "cut short before they could be resumed)", orphans, orphans == 1 ? "" : "s");
    if (n > 20)
        cnio__warn("%d staged objects in all were never committed", n);
    return ret == -CNIO_ERR_NOMEM ? ret : 0;
}
