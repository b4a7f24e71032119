/*
 * coll.h - the collective layer's private header: the file handle and helpers shared by
 * the files of collective/ (the only part of libcnio, with the cnio command, that uses MPI).
 */
#ifndef CNIO_COLL_H
#define CNIO_COLL_H

#include "cnio.h"
#include "client.h"
#include "common.h"
#include "config.h"
#include "view.h"

#include <pthread.h>

struct cnio_stack;
struct cnio_obj;

struct cnio_file {
    /* Held (recursive) through every call on the handle: under MPI_THREAD_MULTIPLE the
     * threads of a process may share it (MPI-3.1, 12.4), and its stack, object and
     * view are one thread's at a time (cnio__file_lock). */
    pthread_mutex_t lock;
    MPI_Comm comm;            /* a duplicate of the caller's communicator */
    int rank, size;
    int amode;
    struct cnio_hints hints;  /* in effect for this handle */
    struct cnio_stack *st;    /* this rank's protocol stack */
    struct cnio_obj *obj;     /* this rank's view of the remote object */
    char *uri;
    int64_t *summary;         /* 5 int64 per rank: scratch for the collectives' allgather */
    struct cnio_view view;    /* set by cnio_file_set_view; default: bytes */
    /* rcache.c: one cached block of the object for small independent reads of a
     * read-only handle; disabled in atomic mode */
    struct coll_rcache {
        char *buf;
        uint64_t off, len, eof;
        int valid, disabled;
    } rcache;
    int route_nagg;           /* > 0: collective traffic goes through this many aggregators
                                 so that the connection budget holds (connect.c); 0: direct */
    struct coll_stats {
        uint64_t bytes_written, bytes_read;   /* this rank's user bytes */
        uint64_t calls;                       /* collective data calls */
        int64_t exch_ns, net_ns;              /* time in MPI exchange / network I/O */
        int64_t open_ns;                      /* time this rank spent in open */
        int64_t opened_at;                    /* cnio__now_ns() when open returned */
    } stats;
    /* This process's open files, for cnio_file_delete (file.c): */
    char *ident;              /* "HOST:PORT/PATH" of the URI's first host */
    int deleted;              /* cnio_file_delete of it here while it was open */
    int sized;                /* cnio_file_set_size set its size (every rank), when this
                                 rank's obj had made sized_writes writes (cnio__obj_writes):
                                 a close after no other needs not record it again */
    uint64_t sized_writes;
    cnio_file_t *next_open;
    /* A host lost under a collective call is said once for the job (cnio__coll_quiet): */
    struct cnio_kept kept;    /* this rank's failure kept during the call */
    uint8_t lost_said[(CNIO_MAX_HOSTS + 7) / 8];   /* hosts said lost by a call of fh
                                                      (the same on every rank) */
};

/* Closes fh without committing: a staged instance written through it is discarded on
 * every host (the previous version, if any, stays). Collective; always frees. */
int cnio__file_abort(cnio_file_t **fhp);
/* Takes and releases fh's lock (recursive): what every cnio_file_* call on fh does, and
 * what a caller does around several calls that must not interleave with another
 * thread's (an individual file pointer read, used and moved). */
void cnio__file_lock(cnio_file_t *fh);
void cnio__file_unlock(cnio_file_t *fh);
/* The URI fh was opened with. */
const char *cnio__file_uri(const cnio_file_t *fh);
/* rcache.c: drops the cached block (MPI_File_sync: other processes' writes are to be
 * seen); frees it (close). */
void cnio__rcache_drop(cnio_file_t *fh);
void cnio__rcache_free(cnio_file_t *fh);
/* This rank's object (for cnio__obj_crcx). */
struct cnio_obj *cnio__file_obj(cnio_file_t *fh);
/* Every rank's rc in, the minimum (the most negative: an error wins) out on every rank. */
int cnio__coll_agree(MPI_Comm comm, int rc);
/* The minimum over the ranks of each of in[0..n) into out, waited for as
 * cnio__coll_agree waits (polling, then naps): 0 or -CNIO_ERR_MPI. */
int cnio__coll_min(MPI_Comm comm, const int64_t *in, int64_t *out, int n);
/*
 * Collective: 0 when every rank of comm passed the same v, else -CNIO_ERR_NOT_SAME on every
 * rank, rank 0 saying "what: the ranks passed different values (from MIN to MAX), which
 * MPI-3.1 requires to be the same" (MPI_File_set_size, MPI_File_preallocate: 13.2.4, 13.2.5).
 * -CNIO_ERR_MPI when the reduction fails.
 */
int cnio__coll_same(MPI_Comm comm, int64_t v, const char *what);
/* cnio__coll_same, the values said by name(v) (a constant's name, never NULL). */
int cnio__coll_same_as(MPI_Comm comm, int64_t v, const char *what,
                       const char *(*name)(int64_t v));
/*
 * Makes fh's object quiet (cnio__obj_set_quiet) for a collective call of it: a host
 * lost is lost to every rank, and each would say it. Its failures to reach a host are
 * kept in fh->kept, and cnio__coll_say_lost says one for the job. For a close, those of
 * hosts that a call of fh said already are dropped (it would say the same loss again),
 * and rank 0's own part, after the others', says what it finds at once; the close of a
 * communicator of one process is not quiet: it says what it says.
 */
void cnio__coll_quiet(cnio_file_t *fh, int close);
/* Ends cnio__coll_quiet (a close ends it as it frees the object). */
void cnio__coll_unquiet(cnio_file_t *fh);
/*
 * Collective, after a call that failed on every rank (its rc agreed) under
 * cnio__coll_quiet: each rank kept the failure of the lowest host it failed to reach,
 * unsaid; the ranks agree on the lowest (one reduction), whose rank sends its line to
 * rank 0, and rank 0 says it, once for the job, in the words one process says it with
 * ("c.dat: host H:P: connection reset or lost"). Nothing when no rank kept one.
 */
void cnio__coll_say_lost(cnio_file_t *fh);
/* This process's rank in MPI_COMM_WORLD, 0 when MPI is not running. */
int cnio__coll_world_rank(void);
/* Hints: defaults, then CNIO_* environment, then the URI's query, then info. A bad value
 * or an unknown name in the query is said on stderr only when say (a collective open:
 * its rank 0, so that a job says it once and a file of MPI_COMM_SELF on any rank too). */
int cnio__coll_hints(const struct cnio_uri *u, MPI_Info info, struct cnio_hints *h, int say);
/*
 * Collective, after every rank resolved its hints h: every rank takes rank 0's values of
 * the hints that must be the same on every rank (MPI-3.1 13.2.8; ROMIO takes rank 0's
 * too): the layout's, the two-phase plan's (cb_nodes, cb_buffer_size, romio_cb_*, ...)
 * and the connections' (lanes, route, budget, ...). Rank 0 warns, naming what (the
 * file) and the values taken, when some rank's differed. 0 or -CNIO_ERR_MPI.
 */
int cnio__coll_hints_same(MPI_Comm comm, struct cnio_hints *h, const char *what);
/* With CNIO_STATS set: gathers and prints the statistics summary (collective). */
int cnio__coll_stats(cnio_file_t *fh, double secs);
/* Before the open: -CNIO_ERR_HINT (rank 0 says why, and the least value that works) when
 * the connection budget cannot hold rank 0's connections to a server beside one lane set
 * of another rank's independent call, with more than one rank and the budget in force;
 * else 0. The same on every rank (connect.c; doc/scale.md). */
int cnio__coll_budget_check(const cnio_file_t *fh);
/* Decides fh->route_nagg from the hints, the ranks and the layout: the same on every
 * rank (connect.c; doc/scale.md). */
void cnio__coll_route(cnio_file_t *fh);
/*
 * Collective (every rank calls, need may be NULL): each rank connects to every server
 * column j with need[j] it is not connected to yet, paced per server by token passing
 * (cnio_connect_window set-ups in flight per server). Returns 0, or a set-up's error
 * (-CNIO_ERR_LIMIT, -CNIO_ERR_CONN, -CNIO_ERR_TIMEOUT, ...), the same on every rank
 * when any set-up was made (else -CNIO_ERR_NOMEM / -CNIO_ERR_MPI of this rank).
 */
int cnio__coll_connect(cnio_file_t *fh, const uint8_t *need);
/* Sets status (if not MPI_STATUS_IGNORE) to nbytes transferred: MPI_Get_count with the
 * call's datatype then gives the items. */
void cnio__coll_set_status(MPI_Status *status, int64_t nbytes);

#endif /* CNIO_COLL_H */
