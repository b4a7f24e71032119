/*
 * tree_int.h - what the parts of `cnio cp -r` share: tree.c runs the copy (the queue,
 * the workers, the large files), tree_plan.c decides what it copies (the walk, the plan
 * rank 0 makes and broadcasts, the directories), and tree_summary.c says how it went
 * (the progress line and the summary).
 */
#ifndef CNIO_CLI_TREE_INT_H
#define CNIO_CLI_TREE_INT_H

#include "cp.h"
#include "tree.h"

#include <mpi.h>
#include <pthread.h>
#include <stdint.h>

/* Copying threads per rank (at most; CNIO_CP_THREADS lowers it), files a rank takes
 * from the queue at once, and small files a thread uploads or downloads in one batch
 * (several requests in flight on its connections; CNIO_CP_PIPELINE=0 turns batches off). Batches
 * are on by default since the server stopped scanning its staged instances at every
 * commit (which made a batch's commits cost the square of its size): 2.8-3 x the files
 * per second of one file at a time per thread (doc/trees.md). */
#define TREE_WORKERS 8
#define TREE_BATCH (2 * TREE_WORKERS)
#define TREE_PIPE 32
/* and at most this many bytes in a batch (but for its first file): each thread keeps a
 * buffer of its largest batch, whose pages are faulted in once (tree_batch.c) */
#define TREE_PIPE_BYTES (1u << 20)
/* Bytes per request of a worker (at most --chunk). */
#define TREE_WORKER_CHUNK (4ull << 20)

struct tree_run;

/* One of a rank's copying threads, with its own stack and connections. */
struct tree_worker {
    pthread_t tid;
    struct tree_run *r;
    struct tree_ctx ctx;
    int failed;
    int retried;    /* files copied at a second or third try (tree_one) */
    int sessions;   /* its sessions were opened (or tried): at its first files */
    uint64_t crc_skipped, files, bytes;
    uint64_t verified;   /* files --verify found the same at both ends */
};

/* Why a tree copy stops before its last file (bits of tree_run's lost): a server stayed
 * out of reach, or a file system the copy writes (the local one, or a server's) is full,
 * where every file after would fail the same way. */
enum { TREE_STOP_LOST = 1, TREE_STOP_FULL = 2, TREE_STOP_PEER = 4 /* another rank's */ };

struct tree_run {
    struct cp_job *j;
    struct tree_end src, dst;
    struct tree_ctx ctx;
    struct tree_list dirs, files;   /* to make / to copy (the same on every rank) */
    struct tree_list attrs;         /* rank 0: files there but for their mode (-p) */
    uint64_t attrs_set;             /* rank 0: of them, those whose mode tree_dir_attrs set */
    uint64_t dirs_found;            /* rank 0, --sync, --resume: of dirs, those DST held
                                     * already (made again: a no-op; counted apart) */
    int top_attrs;                  /* rank 0, -p: SRC's own mode and mtime, for DST's top */
    uint32_t top_mode;
    int64_t top_mtime_ns;
    size_t nsmall;                  /* files[0..nsmall) by the queue, the rest together */
    uint64_t total_bytes, skipped_files, skipped_bytes;
    uint64_t crc_skipped;           /* files --checksum found identical (this rank) */
    uint64_t verified;              /* large files --verify found the same (rank 0) */
    int failed;                     /* entries that could not be copied (this rank) */
    uint64_t not_tried;             /* rank 0: files left when a server was lost */
    int files_failed, dirs_failed;  /* of them, of files[] (large ones) and of dirs[] */
    uint8_t *dir_failed;            /* after tree_make_subdirs: 1 for each of dirs[]
                                     * that no rank could make (no attributes) */
    const char **bad;               /* their rels, sorted (tree_failed_above) */
    size_t nbad;
    struct tree_worker w[TREE_WORKERS];
    int nw;                         /* workers set up */
    pthread_mutex_t lock;           /* the batch cursor below, shared by the workers */
    uint64_t next, end;             /* the batch: files[next..end) */
    int want;                       /* workers to start */
    int pipe;                       /* small files go in batches */
    int lost;                       /* the copy stops (atomic): TREE_STOP_* bits */
    MPI_Win win;
    uint64_t *q;                    /* rank 0: [0] next, [1] bytes done, [2] files done,
                                     * [3] 1 once a rank has stopped: all stop, [4] of
                                     * the bytes done, those that moved (not found there) */
    double t0, last;                /* t0: before the walk */
    double t_copy;                  /* when the files began to go (the rate's start) */
    double walk;                    /* seconds walking, planning, making directories */
};

/* rc agreed over all ranks (the lowest). */
static inline int tree_agree(int rc)
{
    int out;

    MPI_Allreduce(&rc, &out, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return out;
}

/* Every rank: walks SRC (and DST for --sync and --resume) together; rank 0 plans. */
int tree_walk_plan(struct tree_run *r);
/* Rank 0's plan to every rank: rc agreed. */
int tree_bcast(struct tree_run *r, int rc);
/* Every rank: makes its share of the tree's directories (said why when it cannot), and
 * learns which no rank could make (r->dir_failed, r->bad). Collective. */
int tree_make_subdirs(struct tree_run *r);
/* The directory of rel's path (shallowest first) that tree_make_subdirs could not make,
 * or NULL. */
const char *tree_failed_above(const struct tree_run *r, const char *rel);

/* Rank 0's progress line of run r on a terminal (tree_summary.c): at most every quarter
 * second, and once more with final set, ending the line. */
void tree_progress(struct tree_run *r, int final);
/* Rank 0 prints the summary of run r, secs after its start (tree_summary.c: the time
 * said as r->walk's and the copy's, the rates of the copy's); every rank's counts are
 * summed there (collective). r->failed becomes the job's count. */
void tree_summary(struct tree_run *r, double secs);

#endif /* CNIO_CLI_TREE_INT_H */
