/*
 * store.h - the store of cnio-server (src/server/): the object files beneath the root,
 * the metadata and block sums trees beside them, the writers in place, staged instances
 * and their commit, block checksums, and the scrub that checks them. Included by
 * server.h, which has the server, its connections and the requests that use the store.
 */
#ifndef CNIO_SERVER_STORE_H
#define CNIO_SERVER_STORE_H

#include "common.h"
#include "layout.h"
#include "wire.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* ---- store.c, store_info.c: object files beneath the root ----------------------- */

/* What the metadata file of an object holds. */
struct cnio_srv_meta {
    struct cnio_layout layout;
    uint32_t index;     /* stripe column this host holds */
    uint32_t flags;     /* CNIO_SRV_META_* */
    uint64_t size;      /* logical size recorded by SETSIZE */
    uint64_t gen;       /* id of the staged instance last committed (0: never staged) */
    uint64_t seq;       /* its commit order (the committing client's clock, ns) */
    uint32_t mode;      /* st_mode bits SETATTR recorded (0: none) */
    uint32_t updates;   /* clean closes of writers in place since gen committed, mod 2^16
                           (CNIO_WIRE_CAP_UPDATES; the mode word's high 16 bits) */
};
#define CNIO_SRV_META_DIRTY 0x1u        /* opened for writing in place, not closed since */
#define CNIO_SRV_META_COMMITTING 0x2u   /* a commit began and did not finish */
/* The data file's length was its column's extent of size when its instance committed
 * with its block sums, and no writer in place has opened it since: a file of another
 * length, or without block sums, was changed behind the server's back
 * (cnio__srv_store_length_check, cnio__srv_sums_open) */
#define CNIO_SRV_META_SIZED 0x4u
#define CNIO_SRV_META_SIZE 64

/* A name that handles opened for writing in place hold (their count). */
struct cnio_srv_writer {
    struct cnio_srv_writer *next;
    int count;
    int lost;       /* one went without a clean CLOSE while others wrote: the update may
                       be torn, and the last one's clean close leaves DIRTY */
    int updated;    /* one closed cleanly while others still wrote: the last one's clean
                       close counts an update whatever it asks (cnio__srv_store_mark) */
    int closing;    /* of count, those whose CLOSE has begun (cnio__srv_store_writer_closing):
                       the others are live, and the last to begin is the last writer */
    unsigned closes;    /* CLOSEs begun since the record was made, each one's ticket: the
                           latest one's fsync is the one that follows every writer's bytes */
    int owed;       /* the mark is a live writer's to clear: a clean close stepped aside
                       for it (found not the last, or the last that found it live; its
                       update counted, w->updated); a counted open that fails clears it in
                       its place (cnio__srv_open_undo) */
    int due;        /* of closing, those found the last (or an open's undoing that clears
                       in a close's place) whose clear is still to come: neither made nor
                       stepped aside from (cnio__srv_store_mark), nor given up
                       (cnio__srv_store_clear_none); while one is, the mark is its */
    int fresh;      /* an open found the object clean and marked it: a lone writer whose
                       open fails then clears its own mark */
    char name[];
};

#define CNIO_SRV_OPEN_LOCKS 16

struct cnio_srv_store {
    int rootfd;         /* the root directory (O_PATH) */
    int metafd;         /* ROOT/.cnio/meta (O_PATH) */
    int stagefd;        /* ROOT/.cnio/stage (O_PATH) */
    int sumsfd;         /* ROOT/.cnio/sums (O_PATH) */
    pthread_mutex_t lock;   /* commits, metadata read-modify-writes, writers, unlinks */
    struct cnio_srv_writer *writers;
    atomic_int nwriters;    /* the writers' counts summed: 0 lets a READ skip the lock */
    uint64_t last_order;    /* the last commit order this server picked (lock held) */
    pthread_mutex_t stage_lock; /* staged (taken alone, never around another lock) */
    struct cnio_srv_staged *staged; /* the staged instances (stage_idx.c) */
    /* An OPEN that may stage or join an instance holds the one its name hashes to from
     * the look for a live instance to join until its handle is live, and a COMMIT holds
     * it too: two such opens of one new name each made an instance of their own, and the
     * later commit replaced the earlier whole; an open that joined while the instance
     * was committed wrote block sums the object never got (cnio__srv_open_lock). */
    pthread_mutex_t open_lock[CNIO_SRV_OPEN_LOCKS];
};

/* A staged instance as the store knows it (stage_idx.c). */
struct cnio_srv_staged {
    struct cnio_srv_staged *next;
    uint64_t id;
    struct cnio_srv_meta m;     /* its metadata; with unsaved, newer than its ID.meta */
    int unsaved;
    int on_disk;                /* its ID.meta was written (or found at startup) */
    int prepared;               /* a PREPARE of its commit began (or it was found at startup) */
    int torn;                   /* a handle that joined it went without a clean CLOSE: what
                                   it wrote may be torn, and its commit is refused */
    char name[];
};

/* Opens root and creates ROOT/.cnio/meta, stage and sums; changes nothing else, so that
 * it may run before the root's lock is taken. 0 or -CNIO_ERR_NOENT/-CNIO_ERR_IO (logged). */
int cnio__srv_store_open(struct cnio_srv_store *st, const char *root);
/* What a serving server does to an opened root once it holds the root's lock, before it
 * serves: finishes a RENAME a crash interrupted, loads the staged instances and removes
 * the data files a crash left without metadata. 0 or a negative code (logged); the
 * caller then closes the store. */
int cnio__srv_store_recover(struct cnio_srv_store *st, const char *root);
void cnio__srv_store_close(struct cnio_srv_store *st);
/*
 * Copies a wire name (len bytes, not terminated) into buf[CNIO_WIRE_MAX_NAME + 1]
 * after checking it against cnio__name_problem (relative, no empty component, none
 * starting with '.' or longer than 255 bytes, no control character). 0, or
 * -CNIO_ERR_ACCESS with the rule logged.
 */
int cnio__srv_store_name(const char *name, size_t len, char *buf);
/*
 * Opens (creating, truncating) object name per o->flags (CNIO_WIRE_O_*); want is the
 * layout to create with. On success *fd_out is the data file (read-write with
 * CNIO_WIRE_O_WRITE), *m its metadata and *created 1 when this call created it.
 */
int cnio__srv_store_open_obj(struct cnio_srv_store *st, const char *name, uint32_t oflags,
                             const struct cnio_srv_meta *want, int *fd_out,
                             struct cnio_srv_meta *m, int *created);
/* A full entry path: directory, '/', entry name. */
#define CNIO_SRV_PATH_MAX (CNIO_WIRE_MAX_NAME + NAME_MAX + 2)
/* Creates the directories leading to name beneath basefd. 0 or a negative code. */
int cnio__srv_store_mkparents(int basefd, const char *name);
/* O_PATH fd of the directory holding name beneath basefd (*base: the last component). */
int cnio__srv_store_parent(int basefd, const char *name, const char **base);
/* Read-only fd (fsync works on it) of the directory holding name beneath basefd (*base: the last component),
 * made first (as cnio__srv_store_mkparents) when missing: the fd or a negative code. */
int cnio__srv_store_mkparents_at(int basefd, const char *name, const char **base);
/* fsync of directory fd, so that the renames into it survive a crash of the host (a file
 * system that cannot sync a directory, EINVAL or EROFS, counts as done). 0 or a negative
 * code. */
int cnio__srv_store_sync_dir(int fd);
/* The same for a directory opened O_PATH (reopened for reading). */
int cnio__srv_store_sync_path(int pfd);
/* Fills i from metadata m and the data file's stat (flags plus what m's flags mean). */
void cnio__srv_store_fill(const struct cnio_srv_meta *m, const struct stat *sb, uint32_t flags,
                          struct cnio_wire_info *i);
/* Whether name is marked by an update in place that no live handle writes (one that was
 * interrupted), the mark read again with the writers in one hold of the store lock: 1,
 * or 0 (also when a writer holds it, or the name has no metadata now); 1 when the
 * metadata cannot be read. */
int cnio__srv_store_interrupted(struct cnio_srv_store *st, const char *name);
/* Clears I_DIRTY in i unless name's update in place was interrupted (a live handle
 * writes it, or its writer closed it since i was read): cnio__srv_store_interrupted. */
void cnio__srv_store_adjust(struct cnio_srv_store *st, const char *name,
                            struct cnio_wire_info *i);
/*
 * Sets I_INPLACE in i, an object's (not a directory's, nor a staged instance's), when
 * written: what STAT and LIST say when asked (F_INPLACE). written is
 * cnio__srv_store_written of its name asked BEFORE i (its update count) was read, so that
 * a reply is never "the count before an update, and no writer": a writer's clean close
 * records its update's count (cnio__srv_store_mark) before it leaves the writers
 * (cnio__srv_store_writer_gone; an open that failed, cnio__srv_open_undo, too), each in a
 * hold of the store lock. Found live, the writer is said, whatever the count; found gone,
 * it went before the look, its count was recorded before that, and the count read after
 * is that one or a later one. Looked at after the count (as before), a last writer's close
 * that ended between the two left the count before it with no writer said, and a reader
 * whose other hosts had the count was refused "hosts ... hold their columns as of
 * different updates in place" (1 read-only open in 1000 beside two writers in place).
 */
void cnio__srv_store_inplace(int written, struct cnio_wire_info *i);
/* The metadata of name, whose data file (size bytes) has none (store_info.c): 0 with *m
 * one stripe column holding everything (a file put in the root by hand), or
 * -CNIO_ERR_IO with its reason when it has block sums (its lost metadata held a layout
 * a default would get wrong). */
int cnio__srv_store_meta_none(struct cnio_srv_store *st, const char *name, uint64_t size,
                              struct cnio_srv_meta *m);
/* 1 when the root directory was removed while the server ran (said once, as an error). */
int cnio__srv_store_root_gone(struct cnio_srv_store *st);
/*
 * Whether name's data file (the one stat sb describes) has the length its metadata m
 * vouches for: with CNIO_SRV_META_SIZED, its column's extent of m->size. 0 when it does
 * or m does not vouch; -CNIO_ERR_IO, with the reason said, when the file was grown,
 * truncated or replaced behind the server's back. A mismatch is looked at again first:
 * a writer in place or a commit that came between the reads of m and sb is no damage.
 */
int cnio__srv_store_length_check(struct cnio_srv_store *st, const char *name,
                                 const struct cnio_srv_meta *m, const struct stat *sb);
/* The test of cnio__srv_store_length_check, silent: 1 (*want the length m vouches for)
 * when the file is damaged so, else 0. */
int cnio__srv_store_length_bad(struct cnio_srv_store *st, const char *name,
                               const struct cnio_srv_meta *m, const struct stat *sb,
                               uint64_t *want);
/* Fills info from an open data file and its metadata. */
int cnio__srv_store_info(int fd, const struct cnio_srv_meta *m, uint32_t flags,
                         struct cnio_wire_info *i);
/* fsync of the data file, its metadata and both parent directories. */
int cnio__srv_store_sync(struct cnio_srv_store *st, const char *name, int fd);
/*
 * Info of name (STAT): the committed object, else its newest staged instance
 * (I_STAGED). A commit of name under way on this server is waited for (its open lock),
 * so the info is of the object before it or after it; _locked: the caller holds name's
 * open lock already, under which no commit of it is under way.
 */
int cnio__srv_store_stat(struct cnio_srv_store *st, const char *name, struct cnio_wire_info *i);
int cnio__srv_store_stat_locked(struct cnio_srv_store *st, const char *name,
                                struct cnio_wire_info *i);
/* UNLINK of name: its data, metadata, block sums and staged instances removed. 0, or
 * -CNIO_ERR_NOENT when there was none of them. The caller holds the store lock, which
 * commits take: an UNLINK comes wholly before or after a commit of the name, never between
 * its data and its metadata. */
int cnio__srv_store_unlink_locked(struct cnio_srv_store *st, const char *name);
/*
 * Packs the entries of directory dir ("" = root) from index *cursor into out (cap
 * bytes): *len the bytes used, *cursor the next index, *more 1 when entries remain.
 * An entry being committed is waited for, as by cnio__srv_store_stat. inplace: an
 * object a live handle writes in place says I_INPLACE (LIST with F_INPLACE).
 */
int cnio__srv_store_list(struct cnio_srv_store *st, const char *dir, uint64_t *cursor,
                         int inplace, uint8_t *out, size_t cap, size_t *len, int *more);

/* ---- meta.c: an object's metadata file, read and replaced whole ------------------ */

/* The metadata block of m (its format: store.c). */
void cnio__srv_meta_encode(const struct cnio_srv_meta *m, uint8_t out[CNIO_SRV_META_SIZE]);
/* 0, or -CNIO_ERR_IO when in (len bytes) is not a valid metadata block. */
int cnio__srv_meta_decode(const uint8_t *in, size_t len, struct cnio_srv_meta *m);
/* Reads name's metadata: 0, 1 when it has none, or a negative code. */
int cnio__srv_store_meta_get(struct cnio_srv_store *st, const char *name, struct cnio_srv_meta *m);
/* A name for a temporary file, prefix then 16 hex digits, unique in this process. */
void cnio__srv_store_tmp_name(char *buf, size_t cap, const char *prefix);
/* Name's metadata read from directory pfd of the metadata tree (base: the name's last
 * component): 0, 1 when it has none, or a negative code. */
int cnio__srv_store_meta_read_at(int pfd, const char *base, const char *name,
                                 struct cnio_srv_meta *m);
/* Name's metadata written in directory pfd of the metadata tree; with durable, its bytes
 * are on disk (fsync) before the rename makes them the name's. 0 or a negative code. */
int cnio__srv_store_meta_write_at(int pfd, const char *base, const char *name,
                                  const struct cnio_srv_meta *m, int durable);
/* Writes len bytes to a fresh temporary file in directory pfd and renames it to base; with
 * durable, fsyncs the temporary file first. 0 or a negative code. */
int cnio__srv_store_replace(int pfd, const char *base, const uint8_t *buf, size_t len,
                            int durable);
/* Writes the metadata of name (tmp file + rename). */
int cnio__srv_store_meta_write(struct cnio_srv_store *st, const char *name,
                               const struct cnio_srv_meta *m);
/* As cnio__srv_store_meta_write, durably: the new metadata and its rename are on disk
 * (the file and its directory fsynced) when it returns. */
int cnio__srv_store_meta_write_sync(struct cnio_srv_store *st, const char *name,
                                    const struct cnio_srv_meta *m);

/* ---- resolve.c: a name's file beneath the root ----------------------------------- */

/* Opens path beneath dirfd: openat2 RESOLVE_BENEATH, a symlink followed
 * while it stays beneath and leads to no name starting with '.' (.cnio). The fd, or -1
 * with errno (EXDEV: out of dirfd's tree or into .cnio), the refusal's reason set. */
int cnio__srv_store_at(int dirfd, const char *path, int flags, mode_t mode);

/* ---- rename.c: RENAME on this host ----------------------------------------------- */

/* RENAME of from to to on this host (store lock held): the data, metadata and block
 * checksums move together, and a crash or a failed step never leaves a name that reads
 * wrong. 0, -CNIO_ERR_NOENT when from is not there, -CNIO_ERR_EXIST when to is
 * a directory that is not empty, -CNIO_ERR_IO while an earlier rename waits for a
 * restart to finish it, or another negative code. */
int cnio__srv_rename(struct cnio_srv_store *st, const char *from, const char *to);
/* Finishes the rename a crash interrupted, if ROOT/.cnio/rename records one (startup,
 * root lock held): 0 or a negative code (logged). */
int cnio__srv_rename_recover(struct cnio_srv_store *st);

/* ---- rootlock.c: which process owns a root ---------------------------------------- */

/*
 * Takes the root's lock, ROOT/.cnio/lock: exclusive for a serving server
 * (its pid written inside), shared for an offline --scrub. A second server on the root,
 * a --scrub of a root being served, and (exclusive) a root inside another serving
 * server's root or holding one are refused. Returns the lock's fd, or -1 after logging
 * why.
 */
int cnio__srv_root_lock(const struct cnio_srv_store *st, const char *root, int exclusive);
/* 0, or -1 (logged) when root lies inside another serving server's root or holds one:
 * checked before the store is opened, so that nothing is made there, and again by
 * cnio__srv_root_lock once the lock is held. */
int cnio__srv_root_check(const char *root);

/* ---- inplace.c: objects written in place ---------------------------------------- */

/* What the last writer in place's clean close vouches for (cnio__srv_store_mark): with
 * sized, the data file of generation gen is length bytes long, and block sums that name
 * gen (cnio__srv_sums_names) cover it; and the update it ends. */
struct cnio_srv_vouch {
    uint64_t gen;
    uint64_t length;
    int sized;          /* length and sums were checked: the object may be SIZED again */
    int64_t updates;    /* the update count to record (CLOSE with F_UPDATES), -1: one
                           more than recorded, -2: as recorded */
    unsigned ticket;    /* the clearing close's (cnio__srv_store_writer_closing), 0: none */
};
/* Sets (dirty 1) or clears the dirty mark in name's metadata (read, changed, written
 * durably under the store lock: a crash after it returns finds the mark); *m the
 * metadata after. Set before an in-place writer's first write is taken, cleared after
 * the last one's data is on disk (req_close_clean), an object a power cut interrupted
 * reads as incomplete, never as complete with some hosts' columns old. Setting it clears
 * CNIO_SRV_META_SIZED; clearing it with v (else NULL) sets CNIO_SRV_META_SIZED again when
 * the metadata is still of v->gen and v->length is its column's extent of the size it
 * records (a size the MPI-IO close recorded, CNIO_WIRE_F_RECORD), and records v's update
 * count (CNIO_SRV_META updates). A clear while a writer is live (one that opened after
 * the closing one was found the last), or after another CLOSE began since v->ticket's
 * (its writer opened and wrote during this close's fsync), leaves the mark to that
 * writer's close, which counts this update too (when that close cleared it already,
 * its update held this one: nothing is written); one after a writer went without a
 * clean CLOSE during the update (cnio__srv_store_writer_lost) leaves it for good, said:
 * 0, m as it is. */
int cnio__srv_store_mark(struct cnio_srv_store *st, const char *name, int dirty,
                         const struct cnio_srv_vouch *v, struct cnio_srv_meta *m);
/*
 * Records size (grow: at least size, never less than recorded) as the size of object
 * name, whose data file a handle has open as fd (SETSIZE), m that handle's copy of its
 * metadata: read, changed and written in one hold of the store lock, as the mark is
 * (cnio__srv_store_mark), so that the size alone changes and the dirty mark, counts,
 * generation, commit order and mode are those recorded now. A handle's copy may predate
 * them (a joiner adopted at a commit that made the object DIRTY, a mode set since): written
 * whole, it cleared another writer's mark, and a power cut then left its bytes torn under
 * a clean one. *m the metadata after (0), or, when name's data file is no longer fd's (the
 * object was removed, and perhaps made again, since the handle opened it), m with the new
 * size and nothing written (1): another object's metadata is not this handle's. Or a
 * negative code.
 */
int cnio__srv_store_size(struct cnio_srv_store *st, const char *name, int fd, uint64_t size,
                         int grow, struct cnio_srv_meta *m);
/* Adds delta to the live in-place writers of name; returns their count after. */
int cnio__srv_store_writer(struct cnio_srv_store *st, const char *name, int delta);
/* cnio__srv_store_writer with the store lock held (a commit's, stage_commit.c). */
int cnio__srv_store_writer_locked(struct cnio_srv_store *st, const char *name, int delta);
/* One in-place writer of name begins its CLOSE: 1 when no other is live (none that has
 * not begun its own), so that it is the last writer of this update, and its clear is due
 * (cnio__srv_store_mark, or cnio__srv_store_clear_none), else 0: it steps aside for the
 * live ones (the mark is theirs to clear, owed); *ticket this close's number (for
 * cnio__srv_store_mark's v->ticket). Each writer asks once; two closing at once cannot
 * both find the other live (both did, neither cleared the mark, and a clean update read
 * as interrupted). */
int cnio__srv_store_writer_closing(struct cnio_srv_store *st, const char *name,
                                   unsigned *ticket);
/* A close of name found the last (cnio__srv_store_writer_closing) that makes no clear:
 * its data or sums could not be made durable (torn: taken as a writer lost while others
 * write, cnio__srv_store_writer_lost, so the mark stays), or its object was removed
 * meanwhile (nothing to clear). The mark is then no longer due from it. */
void cnio__srv_store_clear_none(struct cnio_srv_store *st, const char *name, int torn);
/* One in-place writer of name goes (its handle freed), closing when it had begun its
 * CLOSE: clean, after a CLOSE that succeeded; otherwise (its connection lost, a CLOSE
 * that failed) while others still write, the update is taken as torn:
 * cnio__srv_store_writer_lost says so until the last of them goes. */
void cnio__srv_store_writer_gone(struct cnio_srv_store *st, const char *name, int clean,
                                 int closing);
/* 1 when a writer of name went without a clean CLOSE while the live ones wrote. */
int cnio__srv_store_writer_lost(struct cnio_srv_store *st, const char *name);
/* A writer in place of name closed cleanly, not the last: its update is counted by the
 * last one's clean close (cnio__srv_store_mark), even one that would count nothing. */
void cnio__srv_store_writer_updated(struct cnio_srv_store *st, const char *name);
/* 1 when name has live in-place writers besides one that asks (a live one itself), or
 * one whose clean close was not the last (its update counted by the last one's close,
 * cnio__srv_store_writer_updated): a STAT with F_OTHERS. */
int cnio__srv_store_others(struct cnio_srv_store *st, const char *name);
/* 1 when name (beneath: or a name beneath it, name/...) has live in-place writers, else 0
 * (store lock held). */
int cnio__srv_store_writing(const struct cnio_srv_store *st, const char *name, int beneath);
/* 1 when name has live in-place writers, without waiting for the store lock while no
 * handle at all writes in place (a READ's question). */
int cnio__srv_store_written(struct cnio_srv_store *st, const char *name);

/* ---- sidecar.c: .cnio/meta and .cnio/sums in step with the root ------------------ */

/*
 * Clears what sidefd (st->metafd or st->sumsfd) holds at name when it is a directory
 * (of a directory removed from the root): removed, with the directories beneath it,
 * when none of them holds a file. 0 when nothing is left there but a file, if anything;
 * -CNIO_ERR_ISDIR (logged) when a directory holding files stays; or a negative code.
 */
int cnio__srv_side_clear(int sidefd, const char *name);
/*
 * cnio__srv_store_mkparents_at in sidefd for an object's metadata or block sums, making
 * way for them: files at leading components the root holds as directories (what an
 * object removed before left) are removed. The directory's fd (*base: name's last
 * component) or a negative code. A directory left at name itself is its callers' to
 * clear (cnio__srv_side_clear) when their rename or create there fails with EISDIR:
 * looking for it first cost every commit two system calls.
 */
int cnio__srv_side_parent(const struct cnio_srv_store *st, int sidefd, const char *name,
                          const char **base);
/* MKDIR's directory name in the metadata tree, once the root holds name as a directory:
 * files in the way (of objects removed before) are removed. 0 or a negative code. */
int cnio__srv_side_mkdir(const struct cnio_srv_store *st, const char *name);

/* ---- stage.c: staged instances --------------------------------------------------- */

/*
 * Creates staged instance id (nonzero) of name with layout want: *fd_out its data file
 * (read-write), *m its metadata. excl: -CNIO_ERR_EXIST when name exists committed.
 * -CNIO_ERR_ISDIR when name is a directory, -CNIO_ERR_EXIST when id is taken.
 */
int cnio__srv_stage_create(struct cnio_srv_store *st, const char *name, uint64_t id, int excl,
                           const struct cnio_srv_meta *want, int *fd_out,
                           struct cnio_srv_meta *m);
/* Reopens staged instance *id of name (*id 0: the newest of name that live(arg, id) does
 * not say a writer holds, stored in *id; live NULL: the newest). 0 or -CNIO_ERR_NOENT. */
int cnio__srv_stage_resume(struct cnio_srv_store *st, const char *name, uint64_t *id,
                           int (*live)(void *arg, uint64_t id), void *arg, int *fd_out,
                           struct cnio_srv_meta *m);
/* A staged instance of name that live(arg, id) says a writer holds: 0 (*id) or
 * -CNIO_ERR_NOENT. */
int cnio__srv_stage_find_live(struct cnio_srv_store *st, const char *name,
                              int (*live)(void *arg, uint64_t id), void *arg, uint64_t *id);
/* The newest staged instance of name: 0 (fills what is not NULL) or -CNIO_ERR_NOENT. */
int cnio__srv_stage_find(struct cnio_srv_store *st, const char *name, uint64_t *id,
                         struct cnio_srv_meta *m, struct stat *sb);
/* Info of the newest staged instance of name (flags I_STAGED): 0 or -CNIO_ERR_NOENT. */
int cnio__srv_stage_info(struct cnio_srv_store *st, const char *name, struct cnio_wire_info *i);
/* A staged instance's ID.meta (stage.c): the metadata block with the name's length and
 * CRC32C at 48 and 52, then the name. Encode: its length (0 when the name is empty or
 * too long). Decode: 0, or -CNIO_ERR_IO when in (len bytes) is not instance id's. */
#define CNIO_SRV_STAGE_META_MAX (CNIO_SRV_META_SIZE + CNIO_WIRE_MAX_NAME)
size_t cnio__srv_stage_meta_encode(const char *name, const struct cnio_srv_meta *m,
                                   uint8_t out[CNIO_SRV_STAGE_META_MAX]);
int cnio__srv_stage_meta_decode(const uint8_t *in, size_t len, uint64_t id,
                                struct cnio_srv_meta *m, char name[CNIO_WIRE_MAX_NAME + 1]);
/* Records m as the metadata of staged instance id of name. */
int cnio__srv_stage_meta_write(struct cnio_srv_store *st, uint64_t id, const char *name,
                               const struct cnio_srv_meta *m);
/* Writes the size a SETSIZE left in the stage index to instance id's metadata file, if
 * one did (when its writer releases it uncommitted, or asks for SYNC): 0, or the error
 * of the write (an instance gone meanwhile is not one). */
int cnio__srv_stage_meta_save(struct cnio_srv_store *st, uint64_t id);
/* cnio__srv_stage_meta_save, and then instance id's ID.meta and the stage directory
 * (the files a PREPARE reserved) on disk: a prepared instance survives the loss of
 * power, as a participant in a commit that others may have made must. 0 or a code. */
int cnio__srv_stage_meta_keep(struct cnio_srv_store *st, uint64_t id);
/* fsync of staged instance id's data (fd), metadata and directory. */
int cnio__srv_stage_sync(struct cnio_srv_store *st, uint64_t id, int fd);
/* The words a refusal comes with (server.h, cnio__srv_why), kept for a request handled
 * together with others (cnio__srv_why_save). */
struct cnio_srv_why {
    int code;
    char text[CNIO_WIRE_MAX_REASON + 1];
};

/* The most commits one group takes (cnio__srv_stage_commit_group). */
#define CNIO_SRV_COMMIT_GROUP 16

/* One commit of a group: staged instance id (metadata m) of name to become the object. */
struct cnio_srv_commit {
    const char *name;
    uint64_t id;
    int excl;                   /* fail with -CNIO_ERR_EXIST when name exists */
    int inst[2];                /* the instance's data and block sums files, or -1 */
    uint32_t final_flags;       /* its final metadata's: CNIO_SRV_META_SIZED,
                                   CNIO_SRV_META_DIRTY (handles that joined the instance
                                   write on: see writer) or 0 */
    uint64_t seq;               /* the commit order; 0: this server picks it */
    struct cnio_srv_meta m;     /* the instance's metadata; after, the object's */
    int ret;                    /* after: 0, CNIO_SRV_STAGE_GONE or a negative code */
    struct cnio_srv_why why;    /* after: the reason of ret, when there is one */
    int writer;                 /* after: committed with final_flags DIRTY, and counted as
                                   a writer in place of name in the same hold of the store
                                   lock (the adoption of its joiners, which the caller
                                   ends: cnio__srv_handles_adopt) */
    /* the commit's own while it runs (the directories: the group's, stage_commit.c) */
    int dpfd, mpfd, sfd, fresh;
    const char *base, *mbase;
    struct cnio_srv_meta c;
};

/*
 * Makes each staged instance g[i].id (metadata m) the object g[i].name: see
 * stage_commit.c; the n (at most CNIO_SRV_COMMIT_GROUP) commits share each step's fsync.
 * Their names must differ, and none may lie beneath another. Each gets its own result,
 * as if committed alone: seq is the commit order (0 asks this server to pick one: its
 * clock, above every order it recorded for the name or picked before), which it then
 * holds. ret is CNIO_SRV_STAGE_GONE (positive) when the instance was removed (an UNLINK
 * of its name) meanwhile: nothing is committed, and what was left of it (its index entry,
 * its block sums) is gone too; else 0 (m->gen = id, or, when a later commit of the name
 * had won, m that commit's metadata and the instance discarded) or a negative code with
 * the reason in why. inst: the instance's data file and block sums file as the writer has
 * them open (-1: none, already durable), made durable together with the metadata of step
 * 1, in one sync, before it is renamed into place.
 */
#define CNIO_SRV_STAGE_GONE 2
void cnio__srv_stage_commit_group(struct cnio_srv_store *st, struct cnio_srv_commit *g, int n);
/*
 * PREPARE of the commit of staged instance id (metadata m) of name: does beforehand what
 * a commit could fail at for lack of space or a name in the way (the
 * directories of its data file, metadata and block sums, leftover directories cleared,
 * its metadata files written at their size in ROOT/.cnio/stage as ID.commit and
 * ID.final), so that the commit only overwrites them in place and renames. 0,
 * CNIO_SRV_STAGE_GONE, or the error the commit would have failed with, nothing
 * changed for the object. A commit without a prepare does the same itself.
 */
int cnio__srv_stage_prepare(struct cnio_srv_store *st, const char *name, uint64_t id, int excl,
                            const struct cnio_srv_meta *m);
/* Whether staged instance id was prepared (its ID.final, which holds the metadata its
 * commit makes, order 0): 0 and *m, 1 when it was not, or a negative code. */
int cnio__srv_stage_prepared(struct cnio_srv_store *st, uint64_t id, struct cnio_srv_meta *m);
/* Removes the metadata files a prepare reserved for instance id (with the instance). */
void cnio__srv_stage_unprepare(struct cnio_srv_store *st, uint64_t id);
/* 1 (and *id) when file is the name of such a reserved file, else 0. */
int cnio__srv_stage_prep_id(const char *file, uint64_t *id);
/* The name of staged instance id's data file (meta: of its ID.meta) in ROOT/.cnio/stage. */
void cnio__srv_stage_file(char *buf, size_t cap, uint64_t id, int meta);
/* What entry base of directory pfd (name's parent beneath the root) is in the way of a
 * staged instance of name: -CNIO_ERR_ISDIR (a directory), -CNIO_ERR_EXIST (an object,
 * when excl), 1 when name does not exist, else 0. */
int cnio__srv_stage_check_at(struct cnio_srv_store *st, int pfd, const char *base,
                             const char *name, int excl);
/* Removes staged instance id. */
void cnio__srv_stage_discard(struct cnio_srv_store *st, uint64_t id);
/* Removes staged instance id of name (store lock held: not in the middle of its
 * commit): 0, or -CNIO_ERR_NOENT. */
int cnio__srv_stage_unlink_id_locked(struct cnio_srv_store *st, const char *name, uint64_t id);
/* Removes every staged instance of name (but keep, and those keep_fn(arg, id) keeps):
 * how many, or a negative code. */
int cnio__srv_stage_unlink_name(struct cnio_srv_store *st, const char *name);
int cnio__srv_stage_prune(struct cnio_srv_store *st, const char *name, uint64_t keep,
                          int (*keep_fn)(void *arg, uint64_t id), void *arg);
/* Appends (strdup) to (*names)[*n..] the last components of staged objects in directory
 * dir ("" = root), growing *names (capacity *cap): 0 or -CNIO_ERR_NOMEM. */
int cnio__srv_stage_names(struct cnio_srv_store *st, const char *dir, char ***names,
                          size_t *n, size_t *cap);
/* Finds the staged instances in ROOT/.cnio/stage (at startup): records them in the
 * store's index and logs those left by interrupted uploads. 0 or -CNIO_ERR_NOMEM. */
int cnio__srv_stage_load(struct cnio_srv_store *st);

/* ---- stage_idx.c: the staged instances in memory ---------------------------------------- */

/* A staged instance gets its ID.meta once a WRITE ends past this offset of its data
 * file, if nothing wrote it before. */
#define CNIO_SRV_STAGE_LAZY (1u << 20)
/* Records staged instance id of name with metadata m, which its ID.meta does not hold
 * yet when unsaved: 0 or -CNIO_ERR_NOMEM. */
int cnio__srv_stage_idx_add(struct cnio_srv_store *st, uint64_t id, const char *name,
                            const struct cnio_srv_meta *m, int unsaved);
/* Forgets staged instance id (nothing when it is not recorded). Returns what it knew of
 * it: CNIO_SRV_IDX_FOUND when it was recorded, with CNIO_SRV_IDX_NEVER when its ID.meta
 * was never written and CNIO_SRV_IDX_PREPARED when a PREPARE of its commit began; 0
 * when it was not recorded. */
#define CNIO_SRV_IDX_FOUND 1
#define CNIO_SRV_IDX_NEVER 2
#define CNIO_SRV_IDX_PREPARED 4
int cnio__srv_stage_idx_del(struct cnio_srv_store *st, uint64_t id);
/* Notes that a PREPARE of instance id's commit begins (it may leave ID.commit and
 * ID.final in the stage directory for the commit to rename or remove). */
void cnio__srv_stage_idx_prepared(struct cnio_srv_store *st, uint64_t id);
/* set 1: notes that a handle that joined instance id went without a clean CLOSE (what
 * it wrote may be torn). Returns 1 when that was noted of id (set 0: asks), else 0. */
int cnio__srv_stage_idx_torn(struct cnio_srv_store *st, uint64_t id, int set);
/* 1 when an instance of name, or of a name beneath it (name/...), is one that live(arg,
 * id) says a live handle writes; else 0. */
int cnio__srv_stage_idx_live_under(struct cnio_srv_store *st, const char *name,
                                   int (*live)(void *arg, uint64_t id), void *arg);
/* The ids of name's recorded instances (name NULL: of all), in *ids (the caller frees)
 * and *n: 0 or -CNIO_ERR_NOMEM. */
int cnio__srv_stage_idx_ids(struct cnio_srv_store *st, const char *name, uint64_t **ids,
                            size_t *n);
/* Forgets every instance (when the store closes). */
void cnio__srv_stage_idx_free(struct cnio_srv_store *st);
/* Records *size (grow: at least *size, never less than recorded) as instance id's
 * logical size, not yet written to its ID.meta (SETSIZE of a staged instance), and *size
 * := the size recorded: 0, or -CNIO_ERR_NOENT when id is not recorded. */
int cnio__srv_stage_idx_set_size(struct cnio_srv_store *st, uint64_t id, uint64_t *size,
                                 int grow);
/* *size := instance id's logical size, the last SETSIZE of any handle of it (unchanged
 * when id is not recorded). */
void cnio__srv_stage_idx_size(struct cnio_srv_store *st, uint64_t id, uint64_t *size);
/* 1, with its metadata in *m and its name in name (when not NULL), when instance id has
 * metadata not yet in its ID.meta; else 0. */
int cnio__srv_stage_idx_unsaved(struct cnio_srv_store *st, uint64_t id, struct cnio_srv_meta *m,
                                char name[CNIO_WIRE_MAX_NAME + 1]);
/* Marks instance id's size as written to its ID.meta, if it still is size: 1, or 0
 * when id is no longer recorded (discarded). */
int cnio__srv_stage_idx_saved(struct cnio_srv_store *st, uint64_t id, uint64_t size);

/* ---- sums.c, sums_file.c: block checksums ---------------------------------------- */

#define CNIO_SRV_BLOCK (64u << 10)

/* An open block sums file (fd -1: the object has none), its data file's lock key, and
 * whether it is a version-1 file (sums_int.h: read and written as such). */
struct cnio_srv_sums {
    int fd;
    uint64_t key;
    int v1;
};

/*
 * Opens the block sums of object name (stage: of that staged instance instead) whose data
 * file is dfd, of stat dsb when the caller has it (NULL: fstat'ed here); m is the
 * object's metadata (NULL: not known). create: build them from the data when there are
 * none. 0 (s->fd set), 1 when there are none and !create, or a negative code:
 * -CNIO_ERR_CHECKSUM when the sums file is damaged (its header), another generation's
 * than m's, or missing or naming no generation where m says its upload made them
 * (CNIO_SRV_META_SIZED; each logged), which nothing rebuilds from the data unless the data file is empty, with
 * create or without (a writer too is refused: see sums_file.c).
 */
int cnio__srv_sums_open(struct cnio_srv_store *st, const char *name, uint64_t stage,
                        const struct cnio_srv_meta *m, int dfd, const struct stat *dsb,
                        int create, struct cnio_srv_sums *s);
/* Whether open sums s have a header naming generation gen (version 3): 1 or 0. */
int cnio__srv_sums_names(const struct cnio_srv_sums *s, uint64_t gen);
/* The refusal (code, with its reason said) of object name whose block sums
 * cnio__srv_sums_open refused (-CNIO_ERR_CHECKSUM), to a reader or a writer. */
int cnio__srv_sums_refused(int code, const char *name, int writing);
void cnio__srv_sums_close(struct cnio_srv_sums *s);
/*
 * WRITE of p (len bytes) at off into dfd, checked against want_crc (the payload's CRC,
 * computed in the same pass as the block CRCs): 0, -CNIO_ERR_CHECKSUM when the payload
 * does not match (nothing written), or another negative code. s->fd < 0: no sums kept.
 */
int cnio__srv_sums_write(const struct cnio_srv_sums *s, int dfd, uint64_t off, const uint8_t *p,
                         size_t len, uint32_t want_crc);
/* The sums follow data file dfd to size: after it was extended to size (data 0), or
 * truncating it to size first (data 1, under the lock of its new last block). */
int cnio__srv_sums_truncate(const struct cnio_srv_sums *s, int dfd, uint64_t size, int data);
/*
 * *crc = the CRC32C of dfd's [off, off + len) (len > 0 within fsize, dfd's size; at most
 * CNIO_WIRE_MAX_PAYLOAD), combined from the stored block CRCs; only partial blocks are
 * read, and checked. out: when not NULL, every block is read and checked and the bytes
 * are copied there. 0, 2 when the file shrank meanwhile (try again), -CNIO_ERR_CHECKSUM
 * when a block read does not match its CRC (logged with name and offset), or another
 * negative code.
 */
int cnio__srv_sums_read(const struct cnio_srv_sums *s, int dfd, const char *name, uint64_t off,
                        uint64_t len, uint64_t fsize, uint8_t *out, uint32_t *crc_out);
/*
 * Whether object name's sums record data past the end of its file dfd, before end:
 * -CNIO_ERR_CHECKSUM (*at: where the file ends; logged unless name is NULL) when a block
 * past the file's end, or the end of its last one, held bytes other than zeros when they
 * were written (the file was truncated behind the server's back: what is gone must not
 * read as a hole), else 0 or another negative code (-CNIO_ERR_IO when the file's length
 * kept changing while it was looked at). Blocks whose write did not finish say nothing.
 * Safe beside a writer's WRITE and SETSIZE (the file's size is read under the locks of
 * the blocks looked at). s->fd < 0: 0.
 */
int cnio__srv_sums_past_end(const struct cnio_srv_sums *s, int dfd, const char *name,
                            uint64_t end, uint64_t *at);
/*
 * Checks the block at *pos (a multiple of CNIO_SRV_BLOCK) of dfd, buf: CNIO_SRV_BLOCK
 * bytes of scratch. 0 with *pos at the next block and *checked the block's length
 * (*pending 1: the block's write never finished, so it could not be checked), 1 at the
 * end of the file, -CNIO_ERR_CHECKSUM when damaged (*pending 2: its stored CRC32C is).
 */
int cnio__srv_sums_check(const struct cnio_srv_sums *s, int dfd, uint64_t *pos,
                         uint8_t *buf, int *pending, uint32_t *checked);
/* The committed object's sums: emptied (its data was truncated to 0 or created afresh),
 * removed, or replaced by those of staged instance id (none: removed). A commit renames
 * them to base in pfd, the directory of name's sums that the caller made and opened
 * (cnio__srv_side_parent), and fsyncs and closes. */
int cnio__srv_sums_reset(struct cnio_srv_store *st, const char *name);
int cnio__srv_sums_unlink(struct cnio_srv_store *st, const char *name);
int cnio__srv_sums_commit(struct cnio_srv_store *st, const char *name, uint64_t id, int pfd,
                          const char *base);
/*
 * Recomputes from the data the entries of blocks whose write never finished (a server
 * killed between data and checksum): when a writer vouches for the data again (an
 * upload resumed, whose client compares CRCs; the clean close of an update in place).
 * How many, or a negative code.
 */
long cnio__srv_sums_heal(const struct cnio_srv_sums *s, int dfd);
/* fsync of the sums file (SYNC, COMMIT, shutdown: after the data's). 0 or a code. */
int cnio__srv_sums_sync(const struct cnio_srv_sums *s);
/* Removes staged instance id's sums. */
void cnio__srv_sums_discard(struct cnio_srv_store *st, uint64_t id);

/* Removes the staged instances that no writer holds (live(arg, id) is 0) and whose data
 * file has not changed for max_age_s seconds: interrupted uploads nobody resumed. Each
 * goes under its name's open lock (no resume can be taking it) and is logged; their
 * bytes are added to *bytes. The number removed, or a negative code. */
int cnio__srv_stage_expire(struct cnio_srv_store *st, uint32_t max_age_s,
                           int (*live)(void *arg, uint64_t id), void *arg, uint64_t *bytes);

/* ---- scrub.c: checking the store --------------------------------------------------- */

struct cnio_srv;
/* Checks every block of every object beneath the root once (the --scrub mode): the number
 * of damaged or unverifiable blocks and objects, each named on stderr, or -1 without
 * memory; *bytes the bytes checked. */
long cnio__srv_scrub_all(struct cnio_srv_store *st, uint64_t *bytes);
/* The background scrub at opts.scrub_rate bytes/s, until cnio__srv_bg_stop of the
 * server's scrub_bg (nothing when scrub_rate is 0): 0 or -CNIO_ERR_NOMEM. */
int cnio__srv_scrub_start(struct cnio_srv *srv);

#endif
