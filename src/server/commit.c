/*
 * commit.c - the requests of commit semantics (doc/protocol.md, "Commit and staging"):
 * the staging side of OPEN, PREPARE, COMMIT, ABORT, and CRC, which lets a client compare
 * what a host holds with its own bytes before resuming. (The writers in place and their
 * dirty mark: inplace.c.)
 */
#include "server.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bytes a CRC request reads from the file at a time, into the worker's stack: a buffer
 * malloc'd for each request was a fresh mapping (above malloc's mmap threshold) whose
 * every page faulted as pread filled it, 256 faults a MiB; on a machine where a fault
 * costs microseconds that was most of the request (cp --resume compared a GiB in 3.6 s,
 * 1.9 s of it each server's CPU, against a 1.3 s upload). */
#define COMMIT_CRC_BUF (64u << 10)
/* Instances up to this size are made durable under the store lock, together with their
 * metadata (cnio__srv_stage_commit's inst); larger ones before it. */
#define COMMIT_SYNC_WITH_META (1u << 20)

pthread_mutex_t *cnio__srv_open_lock(struct cnio_srv_store *st, const char *name)
{
    uint32_t x = cnio__fnv1a32(CNIO_FNV32_BASIS, name, strlen(name));

    return &st->open_lock[x % CNIO_SRV_OPEN_LOCKS];
}

/*
 * Joins staged instance id (0: one a live writer holds) of name: what a second open of a
 * name being created gets (PnetCDF's per-rank independent handle, a program opening its
 * new file twice), so that both write the same instance, as they would one file.
 */
static int open_join(struct cnio_srv_conn *c, const char *name, uint64_t id, int *fd,
                     struct cnio_srv_meta *m, uint64_t *joined)
{
    int ret = 0;

    if (!id)
        ret = cnio__srv_stage_find_live(&c->srv->store, name, cnio__srv_handles_live,
                                        &c->srv->handles, &id);
    if (!ret)
        ret = cnio__srv_stage_resume(&c->srv->store, name, &id, NULL, NULL, fd, m);
    if (!ret) {
        *joined = id;
        cnio__debug("%s: joined %s (%016llx)", c->peer, name, (unsigned long long)id);
    }
    return ret;
}

/* OPEN with O_JOIN (cnio__srv_open_stage): staged instance id of name, or the object its
 * writer committed it as already, in place. */
static int open_stage_join(struct cnio_srv_conn *c, const char *name,
                           const struct cnio_wire_open *o, uint64_t id,
                           const struct cnio_srv_meta *want, int *fd, struct cnio_srv_meta *m,
                           int *created, uint64_t *joined)
{
    struct cnio_srv_store *st = &c->srv->store;
    struct cnio_srv_meta cm;
    int ret;

    if (!id)
        return -CNIO_ERR_INVAL;
    ret = open_join(c, name, id, fd, m, joined);
    if (ret != -CNIO_ERR_NOENT)
        return ret;
    /* The instance's writer may have committed it already (a column joined late on
     * this host, while the writer wrote a little and closed): the object that commit
     * made is the one to write, in place. (Commits and joins of a name take turns:
     * cnio__srv_open_lock.) Not when the metadata still says COMMITTING: with the
     * open lock held, that is a commit a crash cut short, whose data file may be the
     * old object's (before step 2, stage_commit.c); the instance is gone as far as a
     * joiner goes, as when no commit of it began. */
    pthread_mutex_lock(&st->lock);
    ret = cnio__srv_store_meta_get(st, name, &cm);
    pthread_mutex_unlock(&st->lock);
    if (ret != 0 || cm.gen != id || (cm.flags & CNIO_SRV_META_COMMITTING))
        return -CNIO_ERR_NOENT;
    return cnio__srv_store_open_obj(st, name, o->flags & ~(CNIO_WIRE_O_JOIN |
                                    CNIO_WIRE_O_STAGE | CNIO_WIRE_O_CREATE), want, fd, m,
                                    created);
}

/* OPEN without O_TRUNC (cnio__srv_open_stage): an existing object opened in place, or the
 * instance a live writer is creating joined, or a refusal; 1 when none of these, and a
 * new instance is to be staged. */
static int open_stage_existing(struct cnio_srv_conn *c, const char *name,
                               const struct cnio_wire_open *o, uint64_t id,
                               const struct cnio_srv_meta *want, int *fd,
                               struct cnio_srv_meta *m, int *created, uint64_t *joined)
{
    struct cnio_srv_store *st = &c->srv->store;
    struct cnio_wire_info info;
    int ret;

    /* Stage only a new object: an existing one is opened in place (MPI semantics). */
    ret = cnio__srv_store_stat_locked(st, name, &info);
    if (ret == 0 && !(info.flags & CNIO_WIRE_I_STAGED)) {
        if ((o->flags & CNIO_WIRE_O_CREATE) && (o->flags & CNIO_WIRE_O_EXCL))
            return -CNIO_ERR_EXIST;
        return cnio__srv_store_open_obj(st, name, o->flags & ~CNIO_WIRE_O_STAGE, want, fd,
                                        m, created);
    }
    if (ret && ret != -CNIO_ERR_NOENT)
        return ret;
    if (!(o->flags & CNIO_WIRE_O_EXCL) &&
        open_join(c, name, 0, fd, m, joined) == 0)
        return 0;   /* being created by a live writer: the same instance */
    if (!(o->flags & CNIO_WIRE_O_CREATE))
        return -CNIO_ERR_NOENT;
    if (id == 0)
        /* columns 1.. of an object column 0's host opened in place, where this host
         * holds only an upload of the name no live writer holds: a commit that did not
         * reach it, which the client may finish (FINISH); or nothing of it, which
         * req_open says (it was INVAL, "invalid argument", which told nothing). Column
         * 0 staging without an instance id is a client's fault. */
        return ret == 0 ? -CNIO_ERR_INCOMPLETE : want->index > 0 ? -CNIO_ERR_NOENT
                                                                  : -CNIO_ERR_INVAL;
    return 1;
}

int cnio__srv_open_stage(struct cnio_srv_conn *c, const char *name, const struct cnio_wire_open *o,
                         uint64_t id, const struct cnio_srv_meta *want, int *fd,
                         struct cnio_srv_meta *m, uint64_t *stage, int *created,
                         uint64_t *joined)
{
    struct cnio_srv_store *st = &c->srv->store;
    int ret;

    *stage = 0;
    *created = 0;
    *joined = 0;
    if (!(o->flags & CNIO_WIRE_O_WRITE))
        return -CNIO_ERR_AMODE;
    if (o->flags & CNIO_WIRE_O_JOIN)
        return open_stage_join(c, name, o, id, want, fd, m, created, joined);
    if (o->flags & CNIO_WIRE_O_RESUME) {
        /* An upload to resume is one whose writer went: the instance a live writer holds
         * (another `cp` of the name still running, the ranks of a job whose mpirun was
         * killed) is that writer's to commit. Shared, each writer's bytes would land in
         * the other's object, and the second commit would find the instance gone. With
         * the name's open lock held (req_open), two resumes cannot both take one. An
         * explicit id (columns 1.., a writer reviving its own instance) is the caller's. */
        ret = cnio__srv_stage_resume(st, name, &id, id ? NULL : cnio__srv_handles_held,
                                     &c->srv->handles, fd, m);
        if (!ret)
            *stage = id;
        return ret;
    }
    if ((o->flags & CNIO_WIRE_O_CREATE) && (o->flags & CNIO_WIRE_O_EXCL)) {
        uint64_t live;

        /* A name a live writer is creating exists from that writer's open on, as a file
         * does after open(2) with O_CREAT: a second exclusive create fails now, not at
         * its commit, which would leave one of the two writers' bytes discarded at close.
         * (The same instance's id is this open's own: another column, or a retry.) */
        if (cnio__srv_stage_find_live(st, name, cnio__srv_handles_live, &c->srv->handles,
                                      &live) == 0 && live != id)
            return -CNIO_ERR_EXIST;
    }
    if (!(o->flags & CNIO_WIRE_O_TRUNC)) {
        ret = open_stage_existing(c, name, o, id, want, fd, m, created, joined);
        if (ret != 1)
            return ret;
    }
    if (id == 0)
        return -CNIO_ERR_INVAL;
    if (cnio__layout_check(&want->layout) || want->index >= want->layout.count)
        return -CNIO_ERR_LAYOUT;
    ret = cnio__srv_stage_create(st, name, id, (o->flags & CNIO_WIRE_O_CREATE) &&
                                 (o->flags & CNIO_WIRE_O_EXCL), want, fd, m);
    if (!ret) {
        *stage = id;
        *created = 1;
        cnio__debug("%s: staged %s as %016llx", c->peer, name, (unsigned long long)id);
    }
    return ret;
}

/* The staged handle a COMMIT, PREPARE or ABORT names (a reference), or an error. */
static int commit_staged(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h,
                         struct cnio_srv_handle **out)
{
    int ret = cnio__srv_req_handle(c, h, 1, out);

    if (ret)
        return ret;
    pthread_mutex_lock(&(*out)->lock);
    ret = (*out)->stage ? 0 : -CNIO_ERR_INVAL;
    pthread_mutex_unlock(&(*out)->lock);
    if (ret)
        cnio__srv_handles_put(&c->srv->handles, *out);
    return ret;
}

/* Makes a staged handle's data and block sums durable (hd->lock held). */
static int commit_sync(struct cnio_srv_handle *hd)
{
    int ret = fsync(hd->fd) < 0 ? cnio__srv_why_errno(errno) : 0;

    if (!ret && hd->sums_state == 1)
        ret = cnio__srv_sums_sync(&hd->sums);
    return ret;
}

/* 1 when the handle's commit must fail where the name exists (MPI_MODE_EXCL). */
static int commit_excl(const struct cnio_srv_handle *hd)
{
    return (hd->oflags & CNIO_WIRE_O_CREATE) && (hd->oflags & CNIO_WIRE_O_EXCL);
}

/* 0, or -CNIO_ERR_INCOMPLETE with its reason when a handle that joined hd's instance
 * went without a clean CLOSE (cnio__srv_stage_idx_torn): what it wrote may be torn, so
 * the instance is not committed (helper-109's F2: it was, and read back mixed, exit 0). */
static int commit_torn(struct cnio_srv_handle *hd)
{
    if (!cnio__srv_stage_idx_torn(hd->store, hd->stage, 0))
        return 0;
    return cnio__srv_why(-CNIO_ERR_INCOMPLETE, "a writer that joined this upload (another "
                         "open of the name while it was created) went without closing it, so "
                         "what it wrote may be torn: nothing committed, the previous version "
                         "stays; write it again");
}

/* The metadata staged handle hd commits (hd->lock held): its own, with the size of
 * its instance, which a handle that joined it may have set last. */
static const struct cnio_srv_meta *commit_meta(struct cnio_srv_handle *hd)
{
    cnio__srv_stage_idx_size(hd->store, hd->stage, &hd->meta.size);
    return &hd->meta;
}

int cnio__srv_req_prepare(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h,
                          const uint8_t *p, struct cnio_srv_reply *r)
{
    struct cnio_srv_handle *hd;
    int ret = commit_staged(c, h, &hd);

    (void)p;
    (void)r;
    if (ret)
        return ret;
    pthread_mutex_lock(&hd->lock);
    if (hd->stage) {
        ret = commit_torn(hd);
        if (!ret)
            ret = commit_sync(hd);
        if (!ret)
            ret = cnio__srv_stage_prepare(&c->srv->store, hd->name, hd->stage, commit_excl(hd),
                                          commit_meta(hd));
        /* A prepared instance outlives this server's crash and a loss of power (ID.meta,
         * which a small or young one lacks yet, on disk): once another host committed,
         * a client finishes its commit here (FINISH); lost, the object would stay torn
         * for good. */
        if (!ret)
            ret = cnio__srv_stage_meta_keep(&c->srv->store, hd->stage);
    }
    pthread_mutex_unlock(&hd->lock);
    cnio__srv_handles_put(&c->srv->handles, hd);
    return ret == CNIO_SRV_STAGE_GONE ? 0 : ret;   /* its COMMIT says what became of it */
}

/* 1 when name a is name b or lies beneath it, or b beneath a: two commits one group may
 * not take (their steps would not see each other's). */
static int commit_overlap(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);

    if (n > m)
        return commit_overlap(b, a);
    return !strncmp(a, b, n) && (b[n] == '\0' || b[n] == '/');
}

static int commit_ptr_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;

    return (x > y) - (x < y);
}

/* Sorts the n pointers p by address and leaves each once: how many are left. */
static int commit_ptr_set(void **p, int n)
{
    int k = 0;

    qsort(p, (size_t)n, sizeof(*p), commit_ptr_cmp);
    for (int i = 0; i < n; i++)
        if (!k || p[k - 1] != p[i])
            p[k++] = p[i];
    return k;
}

/*
 * The handles of COMMITs h[0..n), into hd (NULL where one fails, its status in ret and its
 * reason in why): how many the group takes, which ends before a handle or a name that an
 * earlier one has (commit_overlap).
 */
static int commit_gather(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, int n,
                         struct cnio_srv_handle **hd, int *ret, struct cnio_srv_why *why)
{
    for (int i = 0; i < n; i++) {
        why[i].code = 0;
        why[i].text[0] = '\0';
        cnio__srv_why_reset();
        ret[i] = commit_staged(c, &h[i], &hd[i]);
        if (ret[i]) {
            hd[i] = NULL;
            cnio__srv_why_save(&why[i]);
            continue;
        }
        for (int j = 0; j < i; j++)
            if (hd[j] && (hd[j] == hd[i] || commit_overlap(hd[j]->name, hd[i]->name))) {
                cnio__srv_handles_put(&c->srv->handles, hd[i]);
                return i;
            }
    }
    return n;
}

/*
 * What COMMIT i of a group does with its handle before the commit (hd->lock held): an
 * instance still staged goes into *g and 1 is returned, after its data and block sums
 * were made durable when it is large (a small one is synced with its metadata, in
 * stage_commit.c: one journal commit for the three files; a large one here, before the
 * store lock, so that the other commits do not wait for its data to reach the disk).
 * 0 when there is nothing to commit, or a code.
 */
static int commit_item(struct cnio_srv_handles *t, struct cnio_srv_handle *hd,
                       const struct cnio_wire_hdr *h, struct cnio_srv_commit *g)
{
    const struct cnio_srv_meta *m;
    struct stat sb;
    int have, small, joiners, ret;

    if (!hd->stage)
        return 0;
    if ((ret = commit_torn(hd)) != 0)
        return ret;
    /* WRITEs of this handle that passed their check before this COMMIT took hd->lock
     * (another connection's, racing it) land before the commit's fsync; later ones are
     * refused (cnio__srv_req_committed). A pwrite's wait, bounded by the disk. */
    while (atomic_load(&hd->writes) > 0)
        usleep(100);
    /* (asked before the fstat: a joiner that closes after it wrote all it will write) */
    joiners = cnio__srv_handles_joined(t, hd->stage);
    have = fstat(hd->fd, &sb) == 0;
    small = have && sb.st_size <= COMMIT_SYNC_WITH_META;
    ret = small ? 0 : commit_sync(hd);
    if (ret)
        return ret;
    m = commit_meta(hd);
    *g = (struct cnio_srv_commit){ .name = hd->name, .id = hd->stage, .excl = commit_excl(hd),
                                   .inst = { small ? hd->fd : -1,
                                             small && hd->sums_state == 1 ? hd->sums.fd : -1 },
                                   .seq = h->offset, .m = *m };
    /* SIZED: its data file is exactly its column's extent of its size (an upload that set
     * its size last), with block sums that name it, so that a file grown or truncated
     * later behind the server's back, or whose block sums went, is told apart. Not while
     * a handle that joined the instance is open: its writes may land after the fstat
     * (opencreate.test's two ranks creating one name: read as damaged, its bytes whole) */
    if (have && (uint64_t)sb.st_size == cnio__layout_local_size(&m->layout, m->index, m->size) &&
        hd->sums_state == 1 && cnio__srv_sums_names(&hd->sums, hd->stage) && !joiners)
        g->final_flags = CNIO_SRV_META_SIZED;
    /* Such a handle writes on, in place, past this commit's fsync: the object is made
     * marked DIRTY, and counted as written in place from then on (g->writer), until the
     * adoption of its joiners ends as a writer's clean close (cnio__srv_handles_adopt).
     * Before, it was made clean and marked only by the adoption, after the commit: a
     * power cut between the two left the joiner's bytes torn under a clean mark. (No
     * joiner can come meanwhile: the name's open lock is held until the adoption.) */
    else if (joiners)
        g->final_flags = CNIO_SRV_META_DIRTY;
    return 1;
}

/* What the commit g of handle hd ended in (hd->lock held): its status, hd and r updated. */
static int commit_done(struct cnio_srv_conn *c, struct cnio_srv_handle *hd,
                       const struct cnio_wire_hdr *h, struct cnio_srv_commit *g,
                       struct cnio_srv_reply *r)
{
    int ret = g->ret;

    r->offset = g->seq;
    hd->meta = g->m;
    hd->meta.flags &= ~CNIO_SRV_META_DIRTY;   /* (its joiners' mark, not this handle's) */
    if (ret == CNIO_SRV_STAGE_GONE && (h->flags & CNIO_WIRE_F_GONE)) {
        /* removed by an UNLINK of its name, and the writer takes that as a deletion
         * while open (MPI_File_delete, as POSIX's unlink): success, nothing committed;
         * the handle stays for its CLOSE */
        cnio__debug("%s: %s (%016llx) was removed before its commit", c->peer, hd->name,
                    (unsigned long long)hd->stage);
        hd->stage = 0;
        r->flags |= CNIO_WIRE_F_GONE;
        return 0;
    }
    if (ret == CNIO_SRV_STAGE_GONE) {   /* the writer ABORTs it */
        ret = cnio__srv_why(-CNIO_ERR_NOENT, "the upload was removed (cnio rm of its name) "
                            "before it committed");
        cnio__srv_why_save(&g->why);
        return ret;
    }
    if (ret)
        return ret;
    cnio__debug("%s: committed %s (%016llx)", c->peer, hd->name, (unsigned long long)hd->stage);
    hd->stage = 0;
    hd->committed = 1;   /* its WRITEs and SETSIZEs are refused from now on */
    /* Instances of the name that no writer holds (interrupted uploads) are superseded by
     * this commit: they go, and the object reads as complete. */
    cnio__srv_stage_prune(&c->srv->store, hd->name, 0, cnio__srv_handles_held,
                          &c->srv->handles);
    return 0;
}

/*
 * Takes the locks of the group's handles hd[0..n) (NULL: none): not while an open of a
 * name joins its instance: it would find the instance gone halfway, and open block sums
 * of its own that the object never gets. Locks in address order: open locks (lk, *nl),
 * then handles' (hl, *nh) (cnio__srv_open_lock).
 */
static void commit_lock(struct cnio_srv_conn *c, struct cnio_srv_handle **hd, int n,
                        void **lk, int *nl, void **hl, int *nh)
{
    *nl = *nh = 0;
    for (int i = 0; i < n; i++)
        if (hd[i]) {
            lk[(*nl)++] = cnio__srv_open_lock(&c->srv->store, hd[i]->name);
            hl[(*nh)++] = hd[i];
        }
    *nl = commit_ptr_set(lk, *nl);
    *nh = commit_ptr_set(hl, *nh);
    for (int i = 0; i < *nl; i++)
        pthread_mutex_lock(lk[i]);
    for (int i = 0; i < *nh; i++)
        pthread_mutex_lock(&((struct cnio_srv_handle *)hl[i])->lock);
}

/*
 * After the group's commits (the open locks held, not the handles'): the writers that
 * joined an instance go on writing the object, in place (unless a later commit had won,
 * and the instance went); when no handle joined any instance, as in a `cnio cp`, there is
 * none to look for (the first test of cnio__srv_handles_adopt, made before the fstat). A
 * commit made with its joiners counted as a writer in place (g.writer) ends as one: by
 * the adoption, or, when the object was removed meanwhile, here. hd, ret, gi (the
 * index in g, -1: none) and instance: each COMMIT's.
 */
static void commit_adopt(struct cnio_srv_conn *c, struct cnio_srv_handle **hd, int n,
                         const int *ret, const int *gi, const struct cnio_srv_commit *g,
                         const uint64_t *instance)
{
    struct stat sb;

    for (int i = 0; i < n; i++) {
        int counted = gi[i] >= 0 && g[gi[i]].writer;

        if (hd[i] && !ret[i] && instance[i] && !hd[i]->stage &&
            (counted || atomic_load(&c->srv->handles.njoined) > 0) &&
            fstat(hd[i]->fd, &sb) == 0 && sb.st_nlink > 0)
            cnio__srv_handles_adopt(&c->srv->handles, &c->srv->store, hd[i]->name, instance[i],
                                    hd[i]->fd, hd[i]->sums_state == 1 ? &hd[i]->sums : NULL,
                                    counted);
        else if (counted)
            cnio__srv_store_writer(&c->srv->store, hd[i]->name, -1);
    }
}

int cnio__srv_req_commit_group(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, int n,
                               struct cnio_srv_reply *r, int *ret, struct cnio_srv_why *why)
{
    struct cnio_srv_handle *hd[CNIO_SRV_COMMIT_GROUP];
    struct cnio_srv_commit g[CNIO_SRV_COMMIT_GROUP];
    void *lk[CNIO_SRV_COMMIT_GROUP], *hl[CNIO_SRV_COMMIT_GROUP];
    uint64_t instance[CNIO_SRV_COMMIT_GROUP];
    int gi[CNIO_SRV_COMMIT_GROUP], nl, nh, ng = 0;

    n = commit_gather(c, h, CNIO_MIN(n, CNIO_SRV_COMMIT_GROUP), hd, ret, why);
    commit_lock(c, hd, n, lk, &nl, hl, &nh);
    for (int i = 0; i < n; i++) {
        gi[i] = -1;
        if (!hd[i])
            continue;
        instance[i] = hd[i]->stage;
        cnio__srv_why_reset();
        ret[i] = commit_item(&c->srv->handles, hd[i], &h[i], &g[ng]);
        if (ret[i] == 1) {
            gi[i] = ng++;
            ret[i] = 0;
        } else if (ret[i]) {
            cnio__srv_why_save(&why[i]);
        }
    }
    if (ng)
        cnio__srv_stage_commit_group(&c->srv->store, g, ng);
    for (int i = 0; i < n; i++)
        if (gi[i] >= 0) {
            ret[i] = commit_done(c, hd[i], &h[i], &g[gi[i]], &r[i]);
            why[i] = g[gi[i]].why;
        }
    for (int i = nh - 1; i >= 0; i--)
        pthread_mutex_unlock(&((struct cnio_srv_handle *)hl[i])->lock);
    commit_adopt(c, hd, n, ret, gi, g, instance);
    for (int i = nl - 1; i >= 0; i--)
        pthread_mutex_unlock(lk[i]);
    for (int i = 0; i < n; i++)
        if (hd[i])
            cnio__srv_handles_put(&c->srv->handles, hd[i]);
    return n;
}

int cnio__srv_req_commit(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h,
                         const uint8_t *p, struct cnio_srv_reply *r)
{
    struct cnio_srv_why why = { 0, "" };
    int ret;

    (void)p;
    cnio__srv_req_commit_group(c, h, 1, r, &ret, &why);
    cnio__srv_why_load(&why);
    return ret;
}

/* Whether the commit of instance id of name finished here already (the name's open lock
 * held): 1 (*seq the order it was committed with, whoever asked), 0 when it did not
 * (*staged: 0 while the instance is still staged, else why it is not), or a code. */
static int finish_done(struct cnio_srv_store *st, const char *name, uint64_t id, uint64_t *seq,
                       int *staged)
{
    struct cnio_srv_meta m, have;
    struct stat sb;
    uint64_t want = id;
    int fd, ret;

    /* The instance still staged: its commit did not reach step 2's rename
     * (stage_commit.c), whatever the name's metadata says. A new name's step 1 writes
     * the final metadata before that rename, so a server killed between the two came
     * back with the name's metadata of this generation and no data file: taken for
     * "finished already", FINISH answered success, and the writer's close (or a
     * reader's open) took the object as committed on this host, which read as
     * incomplete for good (a `cnio cp -r` that exited 0 without one file whole). When
     * the instance is not staged, the commit finished only if the name's data file is
     * there too: the startup scan removes a staged data file that has no ID.meta yet (a
     * small upload never SYNCed nor PREPAREd, as one host's commit is), and such a
     * commit cut short left the metadata alone, nothing to read (helper-96). */
    *staged = cnio__srv_stage_resume(st, name, &want, NULL, NULL, &fd, &m);
    if (*staged == 0)
        close(fd);
    pthread_mutex_lock(&st->lock);
    ret = cnio__srv_store_meta_get(st, name, &have);
    pthread_mutex_unlock(&st->lock);
    if (*staged != -CNIO_ERR_NOENT || ret != 0 || have.gen != id ||
        (have.flags & CNIO_SRV_META_COMMITTING))
        return 0;
    if (fstatat(st->rootfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? cnio__srv_why(-CNIO_ERR_NOENT, "its commit here was cut "
                                               "short (the server stopped), and its upload "
                                               "is gone: nothing of it is here")
                               : cnio__srv_why_errno(errno);
    *seq = have.seq;   /* the order it was committed with, whoever asked */
    return 1;   /* finished already (another reader's FINISH, or the COMMIT whose reply its
                 * writer lost) */
}

/* FINISH's checks and commit (the name's open lock held): see cnio__srv_finish. */
static int finish_locked(struct cnio_srv_conn *c, const char *name, uint64_t id, int excl,
                         uint64_t *seq)
{
    struct cnio_srv_store *st = &c->srv->store;
    struct cnio_srv_commit g;
    struct cnio_srv_meta m;
    int ret, staged;

    ret = finish_done(st, name, id, seq, &staged);
    if (ret)
        return ret < 0 ? ret : 0;
    if (cnio__srv_handles_held(&c->srv->handles, id))
        return cnio__srv_why(-CNIO_ERR_INCOMPLETE, "its writer still holds the upload and "
                             "commits it itself");
    if (staged)
        return cnio__srv_why(staged, "this host holds no upload of that generation");
    ret = cnio__srv_stage_prepared(st, id, &m);
    if (ret == 1)
        return cnio__srv_why(-CNIO_ERR_INCOMPLETE, "its upload here was never prepared for "
                             "its commit");
    if (ret)
        return ret;
    /* (order 0: picked here, as for column 0's COMMIT; g.seq then holds it) */
    g = (struct cnio_srv_commit){ .name = name, .id = id, .excl = excl, .inst = { -1, -1 },
                                  .seq = *seq, .m = m };
    cnio__srv_stage_commit_group(st, &g, 1);
    if (g.ret == CNIO_SRV_STAGE_GONE)
        return cnio__srv_why(-CNIO_ERR_NOENT, "the upload was removed meanwhile");
    if (g.ret) {
        cnio__srv_why_load(&g.why);
        return g.ret;
    }
    *seq = g.seq;
    cnio__info("%s: finished the commit of %s (%016llx) %s", c->peer, name,
               (unsigned long long)id, *seq == g.m.seq && g.m.gen == id
               ? "whose COMMIT did not arrive" : "(a later commit had won)");
    cnio__srv_stage_prune(st, name, 0, cnio__srv_handles_held, &c->srv->handles);
    return 0;
}

int cnio__srv_finish(struct cnio_srv_conn *c, const char *name, uint64_t id, int excl,
                     uint64_t *seq)
{
    pthread_mutex_t *lk;
    int ret;

    if (!id)
        return -CNIO_ERR_INVAL;
    lk = cnio__srv_open_lock(&c->srv->store, name);
    pthread_mutex_lock(lk);
    ret = finish_locked(c, name, id, excl, seq);
    pthread_mutex_unlock(lk);
    return ret;
}

int cnio__srv_req_abort(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h,
                        const uint8_t *p, struct cnio_srv_reply *r)
{
    struct cnio_srv_handle *hd;
    int ret = commit_staged(c, h, &hd);

    (void)p;
    (void)r;
    if (ret)
        return ret;
    pthread_mutex_lock(&hd->lock);
    if (hd->stage) {   /* its joiners told first: a CLOSE after is refused */
        cnio__srv_handles_gone(&c->srv->handles, hd->name, hd->stage, CNIO_SRV_GONE_DISCARDED);
        cnio__srv_stage_discard(&c->srv->store, hd->stage);
    }
    pthread_mutex_unlock(&hd->lock);
    cnio__srv_handles_put(&c->srv->handles, hd);
    ret = cnio__srv_handles_remove(&c->srv->handles, h->object, NULL);
    if (!ret)
        cnio__srv_conn_disown(c, h->object);
    return ret;
}

int cnio__srv_req_crc(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h,
                      const uint8_t *p, struct cnio_srv_reply *r)
{
    struct cnio_wire_crc cr = { 0, 0 };
    struct cnio_srv_handle *hd;
    uint64_t want;
    uint8_t buf[COMMIT_CRC_BUF], *out;
    int ret;

    if (cnio__wire_u64_parse(p, h->length, &want) || want > CNIO_WIRE_MAX_PAYLOAD)
        return -CNIO_ERR_PROTO;
    if (h->offset >= (1ull << 62) || want >= (1ull << 62) - h->offset)
        return -CNIO_ERR_OVERFLOW;
    ret = cnio__srv_req_handle(c, h, 0, &hd);
    if (ret)
        return ret;
    while (!ret && cr.covered < want) {
        size_t n = (size_t)CNIO_MIN(want - cr.covered, COMMIT_CRC_BUF);
        ssize_t got = pread(hd->fd, buf, n, (off_t)(h->offset + cr.covered));

        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            ret = cnio__srv_why_errno(errno);
        if (got <= 0)
            break;
        cr.crc = cnio__crc32c(cr.crc, buf, (size_t)got);
        cr.covered += (uint64_t)got;
    }
    if (!ret && cr.covered < want)   /* the file ends short: truncated behind our back? */
        ret = cnio__srv_req_check_end(c, hd, h->offset + want);
    cnio__srv_handles_put(&c->srv->handles, hd);
    if (ret)
        return ret;
    out = cnio__srv_reply_buf(c, r, CNIO_WIRE_CRC_SIZE);
    if (!out)
        return -CNIO_ERR_NOMEM;
    r->len = (uint32_t)cnio__wire_crc_encode(&cr, out, CNIO_WIRE_CRC_SIZE);
    return 0;
}
