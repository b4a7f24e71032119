/*
 * stage_commit.c - COMMIT of a staged instance (stage.c): it becomes the object.
 *
 * COMMIT on one host, under the store lock (its header offset is the commit order T: 0
 * asks this host to pick it, which the client does on column 0's host, the commit point,
 * and then sends the T it got to every other host; a client without that capability
 * sends its own clock). Before step 0, an instance that UNLINK removed (`cnio rm` of
 * the name while it was written) fails the commit with -CNIO_ERR_NOENT:
 *   0. when the object's stored (order, generation) is not below (T, ID) and not left
 *      COMMITTING by a crash, a later commit won already: the instance is discarded and nothing changes (so that concurrent
 *      writers end with the same winner on every host, whatever order their commits
 *      reach the hosts in)
 *   1. the object's metadata := { layout, size, generation ID, order T, COMMITTING }
 *      (written into stage/ID.commit, fsynced, renamed into place)
 *   2. rename ID.sums -> .cnio/sums/NAME (sums.c), then ID -> ROOT/NAME (the old data
 *      file, if any, is replaced atomically)
 *   3. the object's metadata := { layout, size, generation ID } (through stage/ID.final)
 *   4. unlink ID.meta
 * A crash after 1 and before 3 leaves COMMITTING in the metadata, which STAT reports as
 * incomplete (I_COMMITTING) and a read-only OPEN refuses. When ROOT/NAME does not exist,
 * step 1 writes the metadata of step 3 and step 3 is left out: a crash before the
 * rename leaves the name without a data file, read as the staged instance (I_STAGED),
 * and such metadata never wins step 0, as COMMITTING does not. The client commits on
 * column 0's host first (the commit point; last, with servers that do not pick orders)
 * and takes an object as complete only when every host's generation equals column 0's
 * (see doc/protocol.md).
 *
 * COMMITs that arrive together on one connection (a batch of small files sends up to 16
 * at once: client_batch.c) are committed as a group (cnio__srv_stage_commit_group): each
 * step above is taken for every commit of the group before the next step begins for
 * any, so that one fsync barrier serves them all - on a journalling file system about
 * three journal commits a group instead of three a file - while each commit keeps the
 * order of its own steps and its own outcome. A directory the group renames into is
 * opened once for all its commits (gc_dirs). One COMMIT alone is a group of one.
 *
 * PREPARE, sent to every host before any COMMIT, does beforehand what can fail for lack
 * of space or a name in the way: the checks before step 0's order, the directories of
 * the data file, its metadata and its block sums, and ID.commit and ID.final written at
 * their final size (the same 64 bytes as the metadata: T is not known yet). The commit
 * then writes those files again in place and renames, so that a commit one host cannot
 * make is refused by its PREPARE, before any host committed. A COMMIT without a PREPARE
 * makes the files itself.
 */
#include "server.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The metadata files a commit renames into place, reserved in ROOT/.cnio/stage: ID.commit
 * (step 1's) and ID.final (step 3's). */
#define STAGE_PREP_COMMIT 1
#define STAGE_PREP_FINAL 3

static void stage_prep_file(char *buf, size_t cap, uint64_t id, int step)
{
    snprintf(buf, cap, "%016llx%s", (unsigned long long)id,
             step == STAGE_PREP_COMMIT ? ".commit" : ".final");
}

int cnio__srv_stage_prep_id(const char *file, uint64_t *id)
{
    char want[40];
    size_t n = strlen(file);

    if (n < 17 || (strcmp(file + 16, ".commit") && strcmp(file + 16, ".final")) ||
        strspn(file, "0123456789abcdef") != 16)
        return 0;
    *id = strtoull(file, NULL, 16);
    stage_prep_file(want, sizeof(want), *id, file[17] == 'c' ? STAGE_PREP_COMMIT
                                                                : STAGE_PREP_FINAL);
    return *id != 0 && !strcmp(want, file);
}

void cnio__srv_stage_unprepare(struct cnio_srv_store *st, uint64_t id)
{
    char file[40];

    stage_prep_file(file, sizeof(file), id, STAGE_PREP_COMMIT);
    unlinkat(st->stagefd, file, 0);
    stage_prep_file(file, sizeof(file), id, STAGE_PREP_FINAL);
    unlinkat(st->stagefd, file, 0);
}

/*
 * Starts the write-back of the n files fds (-1: none), so that on a journalling file
 * system the first fsync after commits the others' block allocations too, and the later
 * ones find little left to wait for (one journal commit, not one a file).
 */
static void stage_sync_start(const int *fds, int n)
{
#ifdef SYNC_FILE_RANGE_WRITE
    for (int i = 0; i < n; i++)   /* a hint: an error is the fsync's to report */
        if (fds[i] >= 0)
            sync_file_range(fds[i], 0, 0, SYNC_FILE_RANGE_WRITE);
#else
    (void)fds;
    (void)n;
#endif
}

/* fsyncs the n files fds (-1: none): 0 or the first error. */
static int stage_sync_wait(const int *fds, int n)
{
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0 && fsync(fds[i]) < 0)
            return cnio__srv_why_errno(errno);
    return 0;
}

/*
 * Opens instance id's reserved metadata file of step and writes m into it (not synced):
 * a file a prepare made is overwritten in place (the same 64 bytes: nothing to
 * allocate), a missing one (no PREPARE came) is made now. The fd, or a code.
 */
static int stage_prep_open(struct cnio_srv_store *st, uint64_t id, int step,
                           const struct cnio_srv_meta *m)
{
    uint8_t buf[CNIO_SRV_META_SIZE];
    char file[40];
    int fd, ret;

    cnio__srv_meta_encode(m, buf);
    stage_prep_file(file, sizeof(file), id, step);
    fd = openat(st->stagefd, file, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return cnio__srv_why_errno(errno);
    errno = 0;
    if (pwrite(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf))
        return fd;
    ret = errno ? cnio__srv_why_errno(errno) : -CNIO_ERR_NOSPC;
    close(fd);
    return ret;
}

/* Writes m into instance id's reserved metadata file of step, and fsyncs it. */
static int stage_prep_write(struct cnio_srv_store *st, uint64_t id, int step,
                            const struct cnio_srv_meta *m)
{
    int fd = stage_prep_open(st, id, step, m), ret;

    if (fd < 0)
        return fd;
    ret = fsync(fd) < 0 ? cnio__srv_why_errno(errno) : 0;
    if (close(fd) < 0 && !ret)
        ret = cnio__srv_why_errno(errno);
    return ret;
}

/*
 * The commit order this server picks (store lock held): its clock in ns since the epoch,
 * above the order recorded for the name (a clock set back, a commit from a client's
 * clock ahead) and above every order it picked before, so that a commit that reaches it
 * later always wins here.
 */
static uint64_t stage_pick_order(struct cnio_srv_store *st, int have, const struct cnio_srv_meta *cur)
{
    struct timespec ts;
    uint64_t t;

    clock_gettime(CLOCK_REALTIME, &ts);
    t = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    if (have && t <= cur->seq)
        t = cur->seq + 1;
    if (t <= st->last_order)
        t = st->last_order + 1;
    st->last_order = t;
    return t;
}

/* The trees of the parent directories a commit renames into (gc_dir). */
enum { GC_DATA, GC_META, GC_SUMS };

/*
 * The parent directories a commit group (or a prepare) opened, each once however many
 * of its commits rename into it, found again by tree and path: the group runs under the
 * store lock, which RENAME, RMDIR and UNLINK take too, so a path reaches the same
 * directory throughout. Its device and inode are read at its first fsync (gc_sync_dir).
 */
struct gc_dirs {
    int n;
    struct gc_dir {
        int tree;
        const char *path;       /* the directory: the first len bytes of a name */
        size_t len;
        int fd;
        int statted, have;      /* fstat tried, and succeeded: dev and ino */
        dev_t dev;
        ino_t ino;
    } d[3 * CNIO_SRV_COMMIT_GROUP];
};

/*
 * The directory of tree that holds name's last component (*base), made and opened as
 * cnio__srv_store_mkparents_at (the data file's) or cnio__srv_side_parent (the metadata's,
 * the block sums') make and open it, the first time the group asks for it: its fd, which
 * the group keeps (gc_dirs_close), or a code. A failure is not kept: each commit meets
 * it again, with its own reason.
 */
static int gc_dir(struct cnio_srv_store *st, struct gc_dirs *dirs, int tree, const char *name,
                  const char **base)
{
    const char *slash = strrchr(name, '/');
    size_t len = slash ? (size_t)(slash - name) : 0;
    struct gc_dir *d;
    int fd;

    for (int k = 0; k < dirs->n; k++) {
        d = &dirs->d[k];
        if (d->tree == tree && d->len == len && !memcmp(d->path, name, len)) {
            *base = slash ? slash + 1 : name;
            return d->fd;
        }
    }
    if (tree == GC_DATA)
        fd = cnio__srv_store_mkparents_at(st->rootfd, name, base);
    else
        fd = cnio__srv_side_parent(st, tree == GC_META ? st->metafd : st->sumsfd, name, base);
    if (fd < 0)
        return fd;
    if (dirs->n == (int)(sizeof(dirs->d) / sizeof(dirs->d[0]))) {   /* never: three a commit */
        close(fd);
        return -CNIO_ERR_NOMEM;
    }
    dirs->d[dirs->n++] = (struct gc_dir){ .tree = tree, .path = name, .len = len, .fd = fd };
    return fd;
}

/* Closes the directories of dirs. */
static void gc_dirs_close(struct gc_dirs *dirs)
{
    for (int k = 0; k < dirs->n; k++)
        close(dirs->d[k].fd);
    dirs->n = 0;
}

/*
 * What a commit and a prepare check first (store lock held): the instance is there
 * (else CNIO_SRV_STAGE_GONE), nobody writes the object in place; then the directories of
 * name's data file (*dpfd, entry *base) and of its metadata (*mpfd, *mbase) are made
 * and opened, or found open in dirs, which keeps them. 0, or a code.
 */
static int stage_commit_open(struct cnio_srv_store *st, struct gc_dirs *dirs, const char *name,
                             uint64_t id, int *dpfd, const char **base, int *mpfd,
                             const char **mbase)
{
    char file[32];
    struct stat sb;

    cnio__srv_stage_file(file, sizeof(file), id, 0);
    if (fstatat(st->stagefd, file, &sb, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? CNIO_SRV_STAGE_GONE : cnio__srv_why_errno(errno);
    /* An object some job has open for writing in place keeps its writes: replaced, they
     * would go on, with success, into a file no name reaches any more. */
    if (cnio__srv_store_writing(st, name, 0))
        return cnio__srv_why(-CNIO_ERR_ACCESS, "the object it replaces is open for "
                             "writing in place; close it first");
    *dpfd = gc_dir(st, dirs, GC_DATA, name, base);
    if (*dpfd < 0)
        return *dpfd;
    *mpfd = gc_dir(st, dirs, GC_META, name, mbase);
    return *mpfd < 0 ? *mpfd : 0;
}

/*
 * Commit g of a group fails with ret (its reason kept). From step 1 on (step
 * STAGE_PREP_COMMIT) until its data file is renamed, a new name's metadata goes again:
 * the name reads as the staged instance it still is. An object that was replaced keeps
 * the COMMITTING of step 1, and reads as incomplete until rewritten or removed.
 */
static void gc_fail(struct cnio_srv_commit *g, int ret, int step)
{
    g->ret = ret;
    cnio__srv_why_save(&g->why);
    if (step == STAGE_PREP_COMMIT && g->fresh)
        unlinkat(g->mpfd, g->mbase, 0);
}

/*
 * Step 0 of commit g (store lock held): the directories of its data file (dpfd, entry
 * base) and metadata (mpfd, mbase) made and opened, what is in the way checked, its
 * order picked. 1 when a later commit won already (g->m: the object's metadata), a
 * code, or 0 with g->c the metadata step 1 writes.
 */
static int gc_begin(struct cnio_srv_store *st, struct gc_dirs *dirs, struct cnio_srv_commit *g)
{
    struct cnio_srv_meta cur;
    int have, ret = stage_commit_open(st, dirs, g->name, g->id, &g->dpfd, &g->base, &g->mpfd,
                                      &g->mbase);

    if (ret)
        return ret;
    ret = cnio__srv_stage_check_at(st, g->dpfd, g->base, g->name, g->excl);
    if (ret < 0)
        return ret;
    g->fresh = ret == 1;
    have = cnio__srv_store_meta_read_at(g->mpfd, g->mbase, g->name, &cur) == 0;
    if (g->seq == 0)
        g->seq = stage_pick_order(st, have, &cur);
    if (have && !g->fresh && !(cur.flags & CNIO_SRV_META_COMMITTING) &&  /* a crashed commit never wins */
        (cur.seq > g->seq || (cur.seq == g->seq && cur.gen >= g->id))) {
        g->m = cur;
        return 1;   /* superseded */
    }
    g->c = g->m;
    g->c.gen = g->id;
    g->c.seq = g->seq;
    g->c.flags = g->fresh ? g->final_flags : CNIO_SRV_META_COMMITTING;
    return 0;
}

/* Whether commit g takes part in step (store lock held): it has not failed, and step 3
 * only for an object it replaces. */
static int gc_in(const struct cnio_srv_commit *g, int step)
{
    return g->ret == 0 && (step == STAGE_PREP_COMMIT || !g->fresh);
}

/* The directories one step of a group has fsynced, by device and inode: commits that
 * renamed into one directory share its fsync, made after all of their renames (each
 * fsync of a directory is a device cache flush on most file systems, even when the
 * journal holds nothing new of it). Only successes are kept: a failure is met again
 * by each commit, with its own reason. */
struct gc_synced {
    int n;
    struct { dev_t dev; ino_t ino; } d[2 * CNIO_SRV_COMMIT_GROUP];
};

/* fsyncs directory fd of dirs unless done holds it: 0 or a code. Its device and inode
 * are read once a group: two paths may reach one directory (a symlink beneath the
 * root), and share its fsync as well. */
static int gc_sync_dir(struct gc_synced *done, struct gc_dirs *dirs, int fd)
{
    struct gc_dir *d = NULL;
    int ret;

    for (int k = 0; k < dirs->n && !d; k++)
        if (dirs->d[k].fd == fd)
            d = &dirs->d[k];
    if (d && !d->statted) {
        struct stat sb;

        d->statted = 1;
        d->have = fstat(fd, &sb) == 0;
        d->dev = sb.st_dev;
        d->ino = sb.st_ino;
    }
    for (int k = 0; d && d->have && k < done->n; k++)
        if (done->d[k].dev == d->dev && done->d[k].ino == d->ino)
            return 0;
    ret = cnio__srv_store_sync_dir(fd);
    if (!ret && d && d->have && done->n < (int)(sizeof(done->d) / sizeof(done->d[0]))) {
        done->d[done->n].dev = d->dev;
        done->d[done->n++].ino = d->ino;
    }
    return ret;
}

/*
 * Step 1 or 3 of the commits g[0..n) (store lock held): each one's metadata g->c written
 * into its reserved file; all of them made durable at once (with step 1 each instance's
 * data and block sums, g->inst), which on a journalling file system is one journal
 * commit for the group, not one a commit; each renamed into place; and their
 * directories fsynced (again one journal commit).
 */
static void gc_place(struct cnio_srv_store *st, struct gc_dirs *dirs, struct cnio_srv_commit *g,
                     int n, int step)
{
    int fds[CNIO_SRV_COMMIT_GROUP][3];
    struct gc_synced done = { 0 };
    char file[40];

    for (int i = 0; i < n; i++) {
        int fd;

        fds[i][0] = fds[i][1] = fds[i][2] = -1;
        if (!gc_in(&g[i], step))
            continue;
        cnio__srv_why_reset();
        fd = stage_prep_open(st, g[i].id, step, &g[i].c);
        if (fd < 0) {
            gc_fail(&g[i], fd, step);
            continue;
        }
        fds[i][0] = fd;
        if (step == STAGE_PREP_COMMIT) {
            fds[i][1] = g[i].inst[0];
            fds[i][2] = g[i].inst[1];
        }
        stage_sync_start(fds[i], 3);
    }
    for (int i = 0; i < n; i++) {
        int ret;

        if (fds[i][0] < 0)
            continue;
        cnio__srv_why_reset();
        ret = stage_sync_wait(fds[i], 3);
        if (close(fds[i][0]) < 0 && !ret)
            ret = cnio__srv_why_errno(errno);
        if (ret)
            gc_fail(&g[i], ret, step);
    }
    for (int i = 0; i < n; i++) {
        int ret = 0;

        if (!gc_in(&g[i], step))
            continue;
        cnio__srv_why_reset();
        stage_prep_file(file, sizeof(file), g[i].id, step);
        if (renameat(st->stagefd, file, g[i].mpfd, g[i].mbase) < 0) {
            ret = cnio__srv_why_errno(errno);
            if (ret == -CNIO_ERR_ISDIR && cnio__srv_side_clear(st->metafd, g[i].name) == 0)
                ret = renameat(st->stagefd, file, g[i].mpfd, g[i].mbase) < 0   /* a leftover dir */
                          ? cnio__srv_why_errno(errno) : 0;
        }
        if (ret) {
            cnio__warn("metadata of %s: %s", g[i].name, cnio__srv_strerror(ret));
            gc_fail(&g[i], ret, step);
        }
    }
    for (int i = 0; i < n; i++) {
        int ret;

        if (!gc_in(&g[i], step))
            continue;
        cnio__srv_why_reset();
        ret = gc_sync_dir(&done, dirs, g[i].mpfd);
        if (ret) {
            cnio__warn("metadata of %s: %s", g[i].name, cnio__srv_strerror(ret));
            gc_fail(&g[i], ret, step);
        }
    }
}

/* Step 2 of commit g (store lock held): its block sums, then its data file, renamed into
 * place (the old data file, if any, replaced atomically). */
static void gc_swap(struct cnio_srv_store *st, struct gc_dirs *dirs, struct cnio_srv_commit *g)
{
    const char *sbase;
    char file[32];
    int ret;

    cnio__srv_why_reset();
    ret = gc_dir(st, dirs, GC_SUMS, g->name, &sbase);
    if (ret >= 0) {
        g->sfd = ret;
        ret = cnio__srv_sums_commit(st, g->name, g->id, g->sfd, sbase);
    }
    if (ret) {
        gc_fail(g, ret, STAGE_PREP_COMMIT);
        return;
    }
    cnio__srv_stage_file(file, sizeof(file), g->id, 0);
    if (renameat2(st->stagefd, file, g->dpfd, g->base, g->excl ? RENAME_NOREPLACE : 0) < 0) {
        ret = cnio__srv_why_errno(errno);
        cnio__warn("commit of %s: rename: %s", g->name, cnio__srv_strerror(ret));
        gc_fail(g, ret, STAGE_PREP_COMMIT);
        /* a new name: the block sums just placed belong to no object, and go, on disk
         * (a replaced object keeps COMMITTING, incomplete, until copied again or
         * removed) */
        if (g->fresh && ((ret = cnio__srv_sums_unlink(st, g->name)) ||
                         (ret = cnio__srv_store_sync_dir(g->sfd))))
            cnio__warn("commit of %s: its block sums stay: %s", g->name,
                       cnio__srv_strerror(ret));
    }
}

/*
 * Steps 0-3 of the commits g[0..n) (store lock held), step by step over all of them: each
 * step of every commit is on disk before any commit's next step begins, so each barrier
 * (an fsync: one journal commit on most file systems) serves the whole group, and each
 * commit keeps the order of its own steps (the host may lose power between any two):
 * step 1's metadata is fsynced, then its directory, before the data file is renamed
 * (else a host could come back with the new data under the old, complete metadata, or a
 * data file without its metadata: read as another layout); the data file's directory
 * and the block sums' after it (new sums without their data fail the old data's reads,
 * never pass wrong bytes). When name has no data file (the usual upload of a new name),
 * step 1 writes the metadata without COMMITTING and step 3 is left out: until the rename
 * the name reads as the staged instance it still is (I_STAGED, incomplete), and
 * metadata without its data file is taken for a commit that crashed there, as
 * COMMITTING is. The caller fsynced the data and sums of instances not in g->inst.
 */
static void gc_steps(struct cnio_srv_store *st, struct gc_dirs *dirs, struct cnio_srv_commit *g,
                     int n)
{
    struct gc_synced done = { 0 };

    for (int i = 0; i < n; i++) {
        int ret;

        cnio__srv_why_reset();
        ret = gc_begin(st, dirs, &g[i]);
        if (ret)
            gc_fail(&g[i], ret, 0);
    }
    gc_place(st, dirs, g, n, STAGE_PREP_COMMIT);
    for (int i = 0; i < n; i++)
        if (gc_in(&g[i], STAGE_PREP_COMMIT))
            gc_swap(st, dirs, &g[i]);
    for (int i = 0; i < n; i++) {
        int ret;

        if (g[i].ret)
            continue;
        cnio__srv_why_reset();
        g[i].c.flags = g[i].final_flags;
        ret = gc_sync_dir(&done, dirs, g[i].dpfd);
        if (!ret)   /* one journal commit for both renames on most file systems */
            ret = gc_sync_dir(&done, dirs, g[i].sfd);
        if (ret)
            gc_fail(&g[i], ret, 0);
    }
    gc_place(st, dirs, g, n, STAGE_PREP_FINAL);
}

/*
 * The prepare (store lock held): what a commit checks and makes first (gc_begin), the block
 * sums' directory, leftover directories cleared where the metadata and the sums go, and
 * the metadata files of steps 1 and 3 written at their size (their order is not known
 * yet: the commit writes them again, in place).
 */
static int stage_prepare_locked(struct cnio_srv_store *st, const char *name, uint64_t id,
                                int excl, const struct cnio_srv_meta *m)
{
    struct cnio_srv_meta c = *m;
    struct gc_dirs dirs = { 0 };
    const char *base, *mbase, *sbase;
    int dpfd, mpfd, spfd, ret = stage_commit_open(st, &dirs, name, id, &dpfd, &base, &mpfd,
                                                  &mbase);

    if (ret) {
        gc_dirs_close(&dirs);
        return ret;
    }
    cnio__srv_stage_idx_prepared(st, id);   /* before its files (the commit removes them) */
    ret = cnio__srv_stage_check_at(st, dpfd, base, name, excl);
    gc_dirs_close(&dirs);
    if (ret >= 0)
        ret = cnio__srv_side_clear(st->metafd, name);
    if (!ret) {
        spfd = cnio__srv_side_parent(st, st->sumsfd, name, &sbase);
        ret = spfd < 0 ? spfd : cnio__srv_side_clear(st->sumsfd, name);
        if (spfd >= 0)
            close(spfd);
    }
    c.gen = id;
    c.seq = 0;
    c.flags = CNIO_SRV_META_COMMITTING;
    if (!ret)
        ret = stage_prep_write(st, id, STAGE_PREP_COMMIT, &c);
    c.flags = 0;
    if (!ret)
        ret = stage_prep_write(st, id, STAGE_PREP_FINAL, &c);
    return ret;
}

int cnio__srv_stage_prepare(struct cnio_srv_store *st, const char *name, uint64_t id, int excl,
                            const struct cnio_srv_meta *m)
{
    int ret;

    pthread_mutex_lock(&st->lock);
    ret = stage_prepare_locked(st, name, id, excl, m);
    pthread_mutex_unlock(&st->lock);
    if (ret < 0)
        cnio__info("prepare of the commit of %s (%016llx): %s", name, (unsigned long long)id,
                   cnio__srv_strerror(ret));
    return ret;
}

int cnio__srv_stage_prepared(struct cnio_srv_store *st, uint64_t id, struct cnio_srv_meta *m)
{
    uint8_t buf[CNIO_SRV_META_SIZE];
    char file[40];
    ssize_t n;
    int fd;

    stage_prep_file(file, sizeof(file), id, STAGE_PREP_FINAL);
    fd = openat(st->stagefd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return errno == ENOENT ? 1 : cnio__srv_why_errno(errno);
    n = pread(fd, buf, sizeof(buf), 0);
    close(fd);
    if (n != (ssize_t)sizeof(buf) || cnio__srv_meta_decode(buf, sizeof(buf), m) || m->gen != id)
        return cnio__srv_why(-CNIO_ERR_IO, "the metadata its PREPARE reserved does not read "
                             "back");
    return 0;
}

void cnio__srv_stage_commit_group(struct cnio_srv_store *st, struct cnio_srv_commit *g, int n)
{
    struct gc_dirs dirs = { 0 };
    char file[40];

    for (int i = 0; i < n; i++) {
        g[i].ret = 0;
        g[i].why.code = 0;
        g[i].why.text[0] = '\0';   /* loaded whatever the outcome (conn.c) */
        g[i].dpfd = g[i].mpfd = g[i].sfd = -1;
        g[i].fresh = 0;
        g[i].writer = 0;
    }
    pthread_mutex_lock(&st->lock);
    gc_steps(st, &dirs, g, n);
    gc_dirs_close(&dirs);
    for (int i = 0; i < n; i++) {
        struct cnio_srv_commit *x = &g[i];
        int knew;

        if (x->ret)
            continue;
        x->m = x->c;
        /* made DIRTY for writers that go on in place (its joiners): counted as one before
         * any other request sees the object, so that no clear comes before theirs */
        if (x->final_flags & CNIO_SRV_META_DIRTY)
            x->writer = cnio__srv_store_writer_locked(st, x->name, 1) > 0;
        knew = cnio__srv_stage_idx_del(st, x->id);
        if (!(knew & CNIO_SRV_IDX_NEVER)) {
            cnio__srv_stage_file(file, sizeof(file), x->id, 1);
            unlinkat(st->stagefd, file, 0);
        }
        /* Step 1 renamed ID.commit, and step 3, for a name that existed, ID.final: a new
         * name's ID.final is left only when a PREPARE made it (or the index forgot). */
        if (x->fresh && (knew & CNIO_SRV_IDX_PREPARED || !(knew & CNIO_SRV_IDX_FOUND))) {
            stage_prep_file(file, sizeof(file), x->id, STAGE_PREP_FINAL);
            unlinkat(st->stagefd, file, 0);
        }
    }
    pthread_mutex_unlock(&st->lock);
    for (int i = 0; i < n; i++) {
        if (g[i].ret == 1)
            cnio__debug("commit of %s (%016llx) superseded by a later one", g[i].name,
                        (unsigned long long)g[i].id);
        if (g[i].ret == 1 || g[i].ret == CNIO_SRV_STAGE_GONE)
            cnio__srv_stage_discard(st, g[i].id);
        if (g[i].ret == 1)
            g[i].ret = 0;
    }
}
