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
 * fsyncs the n files fds (-1: none), after starting the write-back of all of them: on a
 * journalling file system the first fsync then commits the others' block allocations
 * too, and the later ones find little left to wait for (one journal commit, not one a
 * file). 0 or the first error.
 */
static int stage_sync_files(const int *fds, int n)
{
    int ret = 0;

#ifdef SYNC_FILE_RANGE_WRITE
    for (int i = 0; i < n; i++)   /* a hint: an error is the fsync's to report */
        if (fds[i] >= 0)
            sync_file_range(fds[i], 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
    for (int i = 0; i < n && !ret; i++)
        if (fds[i] >= 0 && fsync(fds[i]) < 0)
            ret = cnio__srv_why_errno(errno);
    return ret;
}

/*
 * Writes m into instance id's reserved metadata file of step, and fsyncs it, with the
 * instance's files inst when not NULL: a file a prepare made is overwritten in place
 * (the same 64 bytes: nothing to allocate), a missing one (no PREPARE came) is made now.
 */
static int stage_prep_write(struct cnio_srv_store *st, uint64_t id, int step,
                            const struct cnio_srv_meta *m, const int inst[2])
{
    uint8_t buf[CNIO_SRV_META_SIZE];
    char file[40];
    int fd, ret = 0;

    cnio__srv_meta_encode(m, buf);
    stage_prep_file(file, sizeof(file), id, step);
    fd = openat(st->stagefd, file, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return cnio__srv_why_errno(errno);
    errno = 0;
    if (pwrite(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
        ret = errno ? cnio__srv_why_errno(errno) : -CNIO_ERR_NOSPC;
    if (!ret)
        ret = stage_sync_files((const int[]){ inst ? inst[0] : -1, inst ? inst[1] : -1, fd }, 3);
    if (close(fd) < 0 && !ret)
        ret = cnio__srv_why_errno(errno);
    return ret;
}

/* Writes m as name's metadata (mbase in directory mpfd) through the reserved file of
 * step: written, fsynced (with inst: stage_prep_write), renamed into place, and its
 * directory fsynced. */
static int stage_prep_place(struct cnio_srv_store *st, uint64_t id, int step, const char *name,
                            const struct cnio_srv_meta *m, const int inst[2], int mpfd,
                            const char *mbase)
{
    char file[40];
    int ret = stage_prep_write(st, id, step, m, inst);

    stage_prep_file(file, sizeof(file), id, step);
    if (!ret && renameat(st->stagefd, file, mpfd, mbase) < 0) {
        ret = cnio__srv_why_errno(errno);
        if (ret == -CNIO_ERR_ISDIR && cnio__srv_side_clear(st->metafd, name) == 0)
            ret = renameat(st->stagefd, file, mpfd, mbase) < 0   /* a leftover dir */
                      ? cnio__srv_why_errno(errno) : 0;
    }
    if (!ret)
        ret = cnio__srv_store_sync_dir(mpfd);
    if (ret)
        cnio__warn("metadata of %s: %s", name, cnio__srv_strerror(ret));
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

/*
 * Steps 0-3 of a commit (store lock held), with dpfd the directory of name's data file
 * (its entry base) and mpfd that of its metadata (mbase). When name has no data file
 * (the usual upload of a new name), step 1 writes the metadata without COMMITTING and
 * step 3 is left out: until the rename the name reads as the staged instance it still
 * is (I_STAGED, incomplete), and metadata without its data file is taken for a commit
 * that crashed there, as COMMITTING is.
 *
 * Each step is on disk before the next begins (the host may lose power between any
 * two): step 1's metadata is fsynced, then its directory, before the data file is
 * renamed (else a host could come back with the new data under the old, complete
 * metadata, or a data file without its metadata: read as another layout); the data
 * file's directory and the block sums' after it (new sums without their data fail the
 * old data's reads, never pass wrong bytes). The caller fsynced the data and its sums.
 */
static int stage_commit_at(struct cnio_srv_store *st, const char *name, uint64_t id,
                           int excl, const int inst[2], uint64_t *seqp, struct cnio_srv_meta *m,
                           int dpfd, const char *base, int mpfd, const char *mbase)
{
    struct cnio_srv_meta c = *m, cur;
    char file[32];
    int r, have, fresh, sfd, ret = cnio__srv_stage_check_at(st, dpfd, base, name, excl);
    uint64_t seq;

    if (ret < 0)
        return ret;
    fresh = ret == 1;
    have = cnio__srv_store_meta_read_at(mpfd, mbase, name, &cur) == 0;
    if (*seqp == 0)
        *seqp = stage_pick_order(st, have, &cur);
    seq = *seqp;
    if (have && !fresh && !(cur.flags & CNIO_SRV_META_COMMITTING) &&  /* a crashed commit never wins */
        (cur.seq > seq || (cur.seq == seq && cur.gen >= id))) {
        *m = cur;
        return 1;   /* superseded */
    }
    c.gen = id;
    c.seq = seq;
    c.flags = fresh ? 0 : CNIO_SRV_META_COMMITTING;
    ret = stage_prep_place(st, id, STAGE_PREP_COMMIT, name, &c, inst, mpfd, mbase);
    if (!ret)
        ret = cnio__srv_sums_commit(st, name, id, &sfd);
    if (ret) {
        if (fresh)   /* else a new name's metadata is left with no data file */
            unlinkat(mpfd, mbase, 0);
        return ret;
    }
    cnio__srv_stage_file(file, sizeof(file), id, 0);
    r = renameat2(st->stagefd, file, dpfd, base, excl ? RENAME_NOREPLACE : 0);
    if (r < 0) {
        /* Nothing was replaced: the old object stays, but its metadata now says
         * COMMITTING, so it reads as incomplete until rewritten or removed; a new
         * name's metadata goes (the name reads as the staged instance it is). */
        ret = cnio__srv_why_errno(errno);
        close(sfd);
        cnio__warn("commit of %s: rename: %s", name, cnio__srv_strerror(ret));
        if (fresh)
            unlinkat(mpfd, mbase, 0);
        return ret;
    }
    c.flags = 0;
    ret = cnio__srv_store_sync_dir(dpfd);
    if (!ret)   /* one journal commit for both renames on most file systems */
        ret = cnio__srv_store_sync_dir(sfd);
    close(sfd);
    if (!ret && !fresh)
        ret = stage_prep_place(st, id, STAGE_PREP_FINAL, name, &c, NULL, mpfd, mbase);
    if (!ret)
        *m = c;
    return ret;
}

/*
 * What a commit and a prepare check first (store lock held): the instance is there
 * (else CNIO_SRV_STAGE_GONE), nobody writes the object in place; then the directories of
 * name's data file (*dpfd, entry *base) and of its metadata (*mpfd, *mbase) are made
 * and opened. 0, or a code (nothing open).
 */
static int stage_commit_open(struct cnio_srv_store *st, const char *name, uint64_t id,
                             int *dpfd, const char **base, int *mpfd, const char **mbase)
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
    *dpfd = cnio__srv_store_mkparents_at(st->rootfd, name, base);
    if (*dpfd < 0)
        return *dpfd;
    *mpfd = cnio__srv_side_parent(st, st->metafd, name, mbase);
    if (*mpfd >= 0)
        return 0;
    close(*dpfd);
    return *mpfd;
}

/* Steps 0-3 of a commit (store lock held). */
static int stage_commit_locked(struct cnio_srv_store *st, const char *name, uint64_t id,
                               int excl, const int inst[2], uint64_t *seqp,
                               struct cnio_srv_meta *m)
{
    const char *base, *mbase;
    int dpfd, mpfd, ret = stage_commit_open(st, name, id, &dpfd, &base, &mpfd, &mbase);

    if (ret)
        return ret;
    ret = stage_commit_at(st, name, id, excl, inst, seqp, m, dpfd, base, mpfd, mbase);
    close(mpfd);
    close(dpfd);
    return ret;
}

/*
 * The prepare (store lock held): what stage_commit_locked checks and makes, the block
 * sums' directory, leftover directories cleared where the metadata and the sums go, and
 * the metadata files of steps 1 and 3 written at their size (their order is not known
 * yet: the commit writes them again, in place).
 */
static int stage_prepare_locked(struct cnio_srv_store *st, const char *name, uint64_t id,
                                int excl, const struct cnio_srv_meta *m)
{
    struct cnio_srv_meta c = *m;
    const char *base, *mbase, *sbase;
    int dpfd, mpfd, spfd, ret = stage_commit_open(st, name, id, &dpfd, &base, &mpfd, &mbase);

    if (ret)
        return ret;
    ret = cnio__srv_stage_check_at(st, dpfd, base, name, excl);
    close(mpfd);
    close(dpfd);
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
        ret = stage_prep_write(st, id, STAGE_PREP_COMMIT, &c, NULL);
    c.flags = 0;
    if (!ret)
        ret = stage_prep_write(st, id, STAGE_PREP_FINAL, &c, NULL);
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

int cnio__srv_stage_commit(struct cnio_srv_store *st, const char *name, uint64_t id, int excl,
                           const int inst[2], uint64_t *seq, struct cnio_srv_meta *m)
{
    char file[32];
    int ret;

    pthread_mutex_lock(&st->lock);
    ret = stage_commit_locked(st, name, id, excl, inst, seq, m);
    if (!ret && !cnio__srv_stage_idx_del(st, id)) {
        cnio__srv_stage_file(file, sizeof(file), id, 1);
        unlinkat(st->stagefd, file, 0);
    }
    if (!ret)   /* a new name's step 3, which it has not */
        cnio__srv_stage_unprepare(st, id);
    pthread_mutex_unlock(&st->lock);
    if (ret == 1) {
        cnio__debug("commit of %s (%016llx) superseded by a later one", name,
                    (unsigned long long)id);
        cnio__srv_stage_discard(st, id);
        return 0;
    }
    if (ret == CNIO_SRV_STAGE_GONE)
        cnio__srv_stage_discard(st, id);
    return ret;
}
