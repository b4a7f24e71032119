/*
 * server.h - cnio-server internals, shared by the files of src/server/.
 *
 *   main.c     options, signals, start and shutdown
 *   loop.c     worker threads: one epoll each, accept, timers, draining on shutdown
 *   conn.c     one connection: framing, the reply queue and its flow control, auth state
 *   request.c  one function per request type
 *   store.c    names, confinement beneath the root, data and metadata files
 *   store_info.c  what a name reads as: STAT's info, LIST's entries
 *   stage.c    staged instances of objects being written whole
 *   stage_commit.c  their commit
 *   commit.c   the requests of commit semantics: COMMIT, ABORT, CRC
 *   inplace.c  objects written in place: their live writers, dirty mark and size
 *   names.c    MKDIR, RMDIR, SETATTR; rename.c: RENAME, finished after a crash
 *   sidecar.c  the metadata and block sums trees kept in step with the root's names
 *   handles.c  the server-wide table of open object handles
 *   sums.c     a CRC32C per 64 KiB block of every object file, beside it, on the data
 *              path; sums_file.c: the sums files made, opened, committed, removed
 *   scrub.c    checking every block of every object (--scrub, --scrub-rate)
 *   background.c  the threads of housekeeping: the scrub's, and the expiry of
 *              interrupted uploads nobody resumed (--stage-expire)
 *   limits.c   server-wide budgets: connections still authenticating, buffered bytes
 *   budget.c   a job's connections per open object (BUDGET)
 *   reasons.c  the words a refusal comes with (cnio__srv_why)
 *
 * The store's declarations (store.c, store_info.c, inplace.c, sidecar.c, stage*.c,
 * sums*.c, scrub.c) are in store.h, included here.
 */
#ifndef CNIO_SERVER_H
#define CNIO_SERVER_H

#include "common.h"
#include "auth.h"
#include "layout.h"
#include "net.h"
#include "wire.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/types.h>

/* How long a new connection has to authenticate, and how long shutdown may flush. */
#define CNIO_SRV_AUTH_TIMEOUT_MS 10000
#define CNIO_SRV_DRAIN_TIMEOUT_MS 10000
/* Requests a client may have in flight (announced in CHALLENGE). */
#define CNIO_SRV_CREDITS 16

/* A thread of the server's own housekeeping (background.c), stopped at shutdown. */
struct cnio_srv_bg {
    pthread_t tid;
    int running;
    int stop_fd;                    /* eventfd: readable once it must stop */
};

struct cnio_srv_opts {
    const char *root;
    const char *listen;
    const char *key_file;
    const char *port_file;
    int threads;
    uint32_t max_conns;
    uint32_t max_open;
    uint64_t max_inflight;
    uint32_t max_unauth;            /* connections not yet authenticated, in total */
    uint32_t max_unauth_per_addr;   /* ... and from one source address */
    uint32_t idle_timeout_s;        /* authenticated and idle: closed after it (0 = never) */
    uint32_t keepalive_s;           /* TCP keepalive of accepted connections
                                       (cnio__net_keepalive; 0 = none) */
    uint32_t frame_timeout_s;       /* a started frame (or an unread reply) may stall this long */
    uint64_t max_memory;            /* buffered bytes, server-wide */
    uint64_t scrub_rate;            /* background scrub, bytes/s (0 = none) */
    uint32_t stage_expire_s;        /* staged instances no writer holds, unchanged that
                                     * long, are removed (0 = never) */
    int scrub;                      /* --scrub: check the store and exit */
    int log_level;
    int log_time;              /* --log-time: 1 always, 0 never, -1 auto (stderr neither a
                                  terminal nor the journal's) */
    int fab_ofi, fab_udp;           /* --transport: also ofi / udp endpoints */
    const char *ofi_providers;      /* --ofi-provider LIST (comma-separated), or NULL */
    int read_send;                  /* --read-send: CNIO_SRV_READ_* */
};

/* How READ replies of 64 KiB or more leave over TCP (--read-send). */
enum {
    CNIO_SRV_READ_AUTO,     /* COPY to a client on this host, SENDFILE to others */
    CNIO_SRV_READ_COPY,     /* sendmsg from a populated mapping of the object file */
    CNIO_SRV_READ_SENDFILE, /* sendfile: the socket's buffers hold the page cache's pages */
};

#include "store.h"

/* ---- handles.c: open object handles ---------------------------------------------- */

/*
 * An object's data file (its own fd, a dup of the handle's) from which READ replies are
 * sent with sendfile. Counted: the handle holds one reference, each queued reply one;
 * the last cnio__srv_file_put closes it.
 */
struct cnio_srv_file {
    atomic_int refs;
    int fd;
};

void cnio__srv_file_put(struct cnio_srv_file *f);

struct cnio_srv_handle {
    uint64_t id;
    int fd;
    uint32_t oflags;            /* CNIO_WIRE_O_* it was opened with */
    _Atomic uint64_t stage;     /* the staged instance it writes (changed under lock), or 0 */
    struct cnio_srv_store *store;       /* its object's (and staged instance's) store */
    int writer;                 /* counted as an in-place writer of name in store */
    int adopted;                /* a writer since the commit of the instance it joined
                                   (cnio__srv_handles_adopt): its close counts no update */
    int closed;                 /* its CLOSE succeeded: its going is no crash (lock) */
    int closing;                /* a writer whose CLOSE began (cnio__srv_store_writer_closing) */
    uint64_t joined;            /* the staged instance it joined (another handle commits
                                   it), or 0 (table lock) */
    int gone;                   /* while joined, what became of that instance instead of
                                   its adoption: CNIO_SRV_GONE_* or 0 (table lock) */
    int stage_saved;            /* its instance's ID.meta was written for its size (lock) */
    int committed;              /* its instance was committed (lock): it writes no more */
    atomic_int writes;          /* WRITEs past their check of committed, not yet written */
    char *name;
    const void *owner;          /* the connection that opened it */
    int orphan;                 /* that connection closed without a CLOSE (lock): a
                                   read-only handle kept while connections are bound */
    pthread_mutex_t lock;       /* guards meta, file and sums */
    struct cnio_srv_meta meta;
    struct cnio_srv_file *file; /* for READ replies, or NULL */
    struct cnio_srv_sums sums;  /* block sums (opened at the first WRITE or READ) */
    int sums_state;             /* 0 not tried, 1 open, -1 none (a read-only handle), -2
                                 * damaged (its READs fail) */
    int refs;                   /* table lock */
    int linked;                 /* in the table (table lock) */
    /* budget.c, under lock: the job's connections bound to this open */
    uint32_t budget;            /* at most this many at once (0: no bound) */
    uint32_t conns, conns_peak; /* bound now, and the most at once */
    uint64_t refused;           /* token AUTHs refused by the budget */
    struct cnio_srv_handle *next;    /* hash chain */
};

/* A staging OPEN in progress (cnio__srv_handles_opening), on its caller's stack. */
struct cnio_srv_opening {
    uint64_t stage;
    struct cnio_srv_opening *next;
};

struct cnio_srv_handles {
    pthread_mutex_t lock;
    struct cnio_srv_handle **buckets;
    size_t nbuckets;
    struct cnio_srv_opening *opening;   /* staging OPENs not yet handles */
    uint32_t count;             /* entries plus reservations */
    uint32_t max;
    atomic_int sync_on_close;   /* shutdown: fsync write handles as they are released */
    atomic_int njoined;         /* handles with joined set */
};

int cnio__srv_handles_init(struct cnio_srv_handles *t, uint32_t max_open);
/* Frees every remaining handle (fsync'ing those opened for writing). */
void cnio__srv_handles_fini(struct cnio_srv_handles *t);
/* Reserves room for one handle: 0 or -CNIO_ERR_LIMIT (--max-open). */
int cnio__srv_handles_reserve(struct cnio_srv_handles *t);
void cnio__srv_handles_unreserve(struct cnio_srv_handles *t);
/*
 * Makes a handle of fd/name (both taken over, also on failure) using a reservation;
 * assigns it a fresh random nonzero id. stage: the staged instance of store st it
 * writes, or 0 (a size its SETSIZE left unsaved is written when the handle goes);
 * writer: the caller counted it as an in-place writer of name in st (the count is taken
 * over: dropped when the handle goes). 0, -CNIO_ERR_NOMEM or -CNIO_ERR_IO.
 */
int cnio__srv_handles_add(struct cnio_srv_handles *t, int fd, char *name, uint32_t oflags,
                          uint64_t stage, struct cnio_srv_store *st, int writer,
                          const struct cnio_srv_meta *m, const void *owner, uint64_t *id_out);
/* A counted reference to handle id, or NULL; release with cnio__srv_handles_put. */
struct cnio_srv_handle *cnio__srv_handles_get(struct cnio_srv_handles *t, uint64_t id);
void cnio__srv_handles_put(struct cnio_srv_handles *t, struct cnio_srv_handle *h);
/*
 * An OPEN that makes staged instance stage without the name's open lock (O_TRUNC: a fresh
 * instance) counts as its writer from before the instance exists until its handle holds
 * it or the open failed (cnio__srv_handles_opened): a commit, FINISH or expiry of the
 * name's other instances in between took the new one as interrupted, removed it, and the
 * writer's COMMIT failed. o: the caller's, linked into t until then.
 */
void cnio__srv_handles_opening(struct cnio_srv_handles *t, struct cnio_srv_opening *o,
                               uint64_t stage);
void cnio__srv_handles_opened(struct cnio_srv_handles *t, struct cnio_srv_opening *o);
/* 1 when an open handle of t (a struct cnio_srv_handles *, as the "live" callback the
 * stage functions take, store.h) created staged instance stage and writes it, or an OPEN
 * is making it (cnio__srv_handles_opening), else 0. */
int cnio__srv_handles_live(void *t, uint64_t stage);
/* cnio__srv_handles_live, counting the writers that joined the instance as well: an
 * instance they write is not to be expired, pruned, resumed or moved, even once its
 * creator went (their CLOSE then says their bytes did not commit). */
int cnio__srv_handles_held(void *t, uint64_t stage);
/* 1 when a handle of t that joined staged instance instance is open (its writes may
 * still come), else 0. */
int cnio__srv_handles_joined(struct cnio_srv_handles *t, uint64_t instance);
/* What became of an upload handles joined, when no commit adopts them as writers in
 * place: removed (UNLINK of its name, before its commit or between the commit and the
 * adoption), or discarded by the writer that created it (ABORT, UNLINK of the instance). */
#define CNIO_SRV_GONE_REMOVED 1
#define CNIO_SRV_GONE_DISCARDED 2
/* Records why (CNIO_SRV_GONE_*) in each handle still joined to instance (0: to any
 * instance of name), for its CLOSE (cnio__srv_handles_gone_why): called in the same hold
 * of the store lock as the removal (UNLINK), or of the creator's handle lock (ABORT), so
 * that a joiner's CLOSE comes wholly before it (its bytes in the upload) or after. */
void cnio__srv_handles_gone(struct cnio_srv_handles *t, const char *name, uint64_t instance,
                            int why);
/* h's CNIO_SRV_GONE_* (0: none). */
int cnio__srv_handles_gone_why(struct cnio_srv_handles *t, const struct cnio_srv_handle *h);
/* Records that h joined staged instance instance (its open, under the open lock), or
 * with 0 that it no longer did (its CLOSE, h->lock held). */
void cnio__srv_handles_join(struct cnio_srv_handles *t, struct cnio_srv_handle *h,
                            uint64_t instance);
/*
 * After staged instance instance of name was committed (the open lock of name held, no
 * handle lock): the handles that joined it write the object in place from now on. The
 * object is marked dirty first, and each of them is counted as an in-place writer of name
 * in st, so that the last one's clean CLOSE clears the mark, and one that dies leaves it,
 * as any writer in place does. The adoption itself counts as one such writer while it
 * runs, and closes as one: when it is the last (each joiner it found closed meanwhile),
 * it clears the mark as that close would (cnio__srv_store_complete of fd, the object's
 * data through its committer's handle, and sums, its block sums). With counted, the
 * commit made the object marked and counted that writer already (cnio_srv_commit's
 * writer: handles joined it as it committed), and the adoption closes it even when it
 * finds no joiner left. Returns how many there were.
 */
int cnio__srv_handles_adopt(struct cnio_srv_handles *t, struct cnio_srv_store *st,
                            const char *name, uint64_t instance, int fd,
                            const struct cnio_srv_sums *sums, int counted);
/* Unlinks handle id (only when owned by owner, unless owner is NULL): 0 or -NOENT. */
int cnio__srv_handles_remove(struct cnio_srv_handles *t, uint64_t id, const void *owner);
/*
 * owner, the connection that opened handle id, closed without its CLOSE. A handle that
 * writes is unlinked at once (its writer is interrupted: the object's dirty mark stays,
 * a staged instance is not committed), and so is a read-only one no connection is bound
 * to (budget.c); else the read-only handle goes when the last bound one closes: the
 * job's other ranks, attached with their tokens, read on meanwhile. (Not the writers:
 * over a message fabric a server learns of a client's end only when its endpoint times
 * out, and readers would meanwhile take a torn object for one with a live writer.)
 */
void cnio__srv_handles_orphan(struct cnio_srv_handles *t, uint64_t id, const void *owner);

/* ---- the server and its workers (loop.c) ------------------------------------------ */

struct cnio_srv_worker;
struct cnio_srv_conn;

struct cnio_srv {
    struct cnio_srv_opts opts;
    struct cnio_key key;
    struct cnio_srv_store store;
    struct cnio_srv_handles handles;
    int handles_ready;
    int listen_fd;
    int stop_fd;                /* eventfd, readable once shutdown starts */
    int lock_fd;                /* ROOT/.cnio/lock, flock()ed exclusively while serving */
    uint64_t id;                /* random, nonzero, for this run: in every AUTH reply
                                   (CNIO_WIRE_CAP_ID) */
    atomic_uint nconns;
    atomic_ullong accepted;         /* connections accepted so far (their order) */
    struct cnio_srv_worker *workers;
    /* limits.c: connections still authenticating, oldest first (unauth_lock) */
    pthread_mutex_t unauth_lock;
    struct cnio_srv_conn *unauth_head, *unauth_tail;
    uint32_t nunauth;
    uint64_t unauth_dropped;        /* since the last log line (unauth_lock) */
    int64_t unauth_logged_ms;
    /* limits.c: bytes of connection buffers allocated, against opts.max_memory */
    atomic_ullong mem_used;
    atomic_ullong mem_freed;        /* freed since the last malloc_trim */
    atomic_llong mem_logged_ms;
    /* fabric.c: fabric endpoints (--transport ...,ofi / udp) */
    struct cnio_srv_fab *fabs;
    int nfabs;
    /* background.c: the background scrub (scrub.c) and the expiry of staged instances
     * nobody resumed (--stage-expire) */
    struct cnio_srv_bg scrub_bg, expire_bg;
};

/* ---- background.c: housekeeping threads ----------------------------------------------- */

/* Starts fn(arg) as b's thread: 0 or -CNIO_ERR_NOMEM. */
int cnio__srv_bg_start(struct cnio_srv_bg *b, void *(*fn)(void *), void *arg);
/* Sleeps up to ms in b's thread: 1 once it must stop (cnio__srv_bg_stop), else 0. */
int cnio__srv_bg_wait(const struct cnio_srv_bg *b, int ms);
/* Tells b's thread to stop and joins it (nothing when it was not started); what names it
 * in a warning. */
void cnio__srv_bg_stop(struct cnio_srv_bg *b, const char *what);
/* The expiry of interrupted uploads (cnio__srv_stage_expire) every few
 * opts.stage_expire_s, at most an hour apart, until cnio__srv_bg_stop of expire_bg;
 * nothing when stage_expire_s is 0. 0 or -CNIO_ERR_NOMEM. */
int cnio__srv_expire_start(struct cnio_srv *srv);

/* ---- fabric.c: libfabric endpoints ---------------------------------------------------- */

/* Opens the fabric endpoints opts asks for and starts their threads: 0 or a negative
 * code (logged). */
int cnio__srv_fab_start(struct cnio_srv *srv);
/* Stops the threads, frees their connections, closes the endpoints. */
void cnio__srv_fab_stop(struct cnio_srv *srv);
/* The provider name and address of the endpoint of provider prov ("": the first one):
 * 0, or -CNIO_ERR_NOTSUP when the server has none. */
int cnio__srv_fab_lookup(struct cnio_srv *srv, const char *prov, const char **name,
                         const uint8_t **addr, size_t *addrlen);
/* How long (microseconds) an endpoint's thread naps after `idle` empty polls in a row:
 * 0 while it spins, then growing to at most 2000 (fabric.c says why it is bounded below). */
unsigned cnio__srv_fab_nap_us(unsigned idle);

/* Starts opts.threads workers on srv->listen_fd: 0 or a negative CNIO_ERR_*. */
int cnio__srv_loop_start(struct cnio_srv *srv);
/* Asks every worker to drain and stop, waits for them, frees them. */
void cnio__srv_loop_stop(struct cnio_srv *srv);
/* Wakes worker w to close the connections marked evicted (any thread). */
void cnio__srv_loop_kick(struct cnio_srv_worker *w);

/* ---- limits.c: server-wide budgets ----------------------------------------------- */

void cnio__srv_limits_init(struct cnio_srv *srv);
void cnio__srv_limits_fini(struct cnio_srv *srv);
/*
 * Enters c (not yet authenticated) in the list of connections still authenticating.
 * When that passes --max-unauth, or --max-unauth-per-addr for c's address, the oldest
 * such connection (of that address) is marked evicted and its worker kicked: it is
 * closed there, so that whoever holds the key always gets in.
 */
void cnio__srv_unauth_add(struct cnio_srv_conn *c);
/* Takes c out of that list (it authenticated, or is closing); no-op when not in it. */
void cnio__srv_unauth_remove(struct cnio_srv_conn *c);
/* Counts n bytes of buffers against --max-memory: 0, or -1 (nothing counted) when
 * they do not fit. cnio__srv_mem_force counts them regardless (replies). */
int cnio__srv_mem_take(struct cnio_srv *srv, uint64_t n);
void cnio__srv_mem_force(struct cnio_srv *srv, uint64_t n);
void cnio__srv_mem_give(struct cnio_srv *srv, uint64_t n);
/* 1 while the buffered bytes are at or over --max-memory (logged, at most once a second). */
int cnio__srv_mem_over(struct cnio_srv *srv);
/* 1 when a largest payload would not fit now (a connection should let its buffer go). */
int cnio__srv_mem_tight(struct cnio_srv *srv);
/* Returns freed heap memory to the system once enough was freed (any worker, any time). */
void cnio__srv_mem_trim(struct cnio_srv *srv);

/* ---- conn.c: connections ----------------------------------------------------------- */

/* A connection's smallest buffer: reply buffers are at least this large, and a request
 * buffer beyond it is freed when memory is tight (conn.c, conn_out.c). */
#define CNIO_SRV_CONN_MIN_BUF 256

struct cnio_srv_out {
    struct cnio_srv_out *next;
    uint8_t hdr[CNIO_WIRE_HDR_SIZE];
    uint8_t *buf;               /* payload storage */
    size_t cap;
    size_t len;                 /* payload bytes */
    size_t sent;                /* bytes of header + payload written */
    const uint8_t *data;        /* the payload: buf (unless file) */
    struct cnio_srv_file *file; /* the payload is file's [file_off, + len) (a reference) */
    uint64_t file_off;
    void *map;                  /* or a mapping of the file that data points into */
    size_t maplen;
};

enum cnio_srv_conn_state { CNIO_SRV_C_AUTH, CNIO_SRV_C_READY };

struct cnio_srv_conn {
    struct cnio_srv *srv;
    struct cnio_srv_worker *worker;     /* the worker serving it */
    int fd;
    int epfd;
    uint32_t ev;                /* epoll events registered */
    struct cnio_srv_conn *prev, *next;
    char peer[64];
    struct cnio_addr addr;
    /* limits.c: in the list of connections still authenticating (srv->unauth_lock) */
    struct cnio_srv_conn *ua_prev, *ua_next;
    int ua_linked;
    uint64_t seq;               /* order of acceptance: the list is kept in it */
    atomic_int evicted;         /* dropped for a newer one: its worker closes it */
    enum cnio_srv_conn_state state;
    int closing;                /* close once the reply queue is written */
    int draining;               /* shutdown: stop reading at the next frame boundary */
    int64_t auth_deadline;
    int64_t last_active;        /* last frame received (idle timeout, buffer trimming) */
    int64_t frame_deadline;     /* the frame being received must be complete by then */
    int64_t out_progress;       /* last time the reply queue moved (or was empty) */
    int mem_wait;               /* header read, payload buffer waits for --max-memory */
    uint8_t nonce[CNIO_WIRE_NONCE];
    uint64_t session;
    uint32_t auth_mode;
    uint64_t token_object;
    uint64_t bound_object;      /* budget.c: the handle whose connections count it, or 0 */
    int reasons;                /* the client reads reasons in error replies (AUTH flag) */
    int legacy;                 /* a client from before 2026-11-30 (over TCP, no F_REASON
                                   at AUTH, which every later client sends): its INFO
                                   blocks in the form it parses (cnio__wire_info_legacy) */
    int read_copy;              /* large READ replies copied from a mapping, not sendfile */
    /* input: header, then the payload into a buffer reused between frames */
    uint8_t hdr[CNIO_WIRE_HDR_SIZE];
    size_t hdr_got;
    struct cnio_wire_hdr h;
    int in_payload;
    uint8_t *in;
    size_t in_cap, in_got;
    /* bytes read ahead of the frame being received (CONN_RA of them at most, once
     * authenticated): [ra_off, ra_len) of ra are the next bytes of the stream */
    uint8_t *ra;
    size_t ra_off, ra_len;
    int ra_bulk;                /* the last frame's payload was CONN_RA or more */
    /* output: replies queued in order, and spare ones for reuse */
    struct cnio_srv_out *oq_head, *oq_tail, *spare;
    int nspare;
    size_t oq_bytes;
    /* handles this connection opened */
    uint64_t *owned;
    size_t nowned, owned_cap;
    /* over a fabric endpoint (fd -1): its id there (sent in the CHALLENGE's object
     * field), the largest payload and the credits it announces (0: the TCP ones) */
    uint64_t fab_id;
    uint32_t max_payload;
    uint32_t credits;
};

/*
 * Reasons: a handler (or the store beneath it) that refuses a request with code says in
 * words which rule it applied: "names may not start with '.'", "the name leads out of
 * the server's root", ... The reason is kept per thread until the next request starts;
 * when the request fails with that same code, the server logs it and, to a client that
 * asked (CNIO_WIRE_F_REASON at AUTH), sends it as the error reply's payload. Returns code.
 */
int cnio__srv_why(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* cnio_strerror(err) as the server's own log says it: its storage is not "a remote
 * host's" there (I/O error, no space). */
const char *cnio__srv_strerror(int err);
/* Forgets the thread's reason (a request starts). */
void cnio__srv_why_reset(void);
/* The thread's reason now, into w; and w's made the thread's again (a request handled in a
 * group with others: its reason is the one given while it was at work). */
void cnio__srv_why_save(struct cnio_srv_why *w);
void cnio__srv_why_load(const struct cnio_srv_why *w);
/* Fills r with the reason of status, when there is one and the client reads reasons
 * (logged either way). */
struct cnio_srv_reply;
void cnio__srv_why_reply(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, int status,
                         struct cnio_srv_reply *r);
/* The reason store functions give a failed system call's errno e (refusals only:
 * EACCES, EPERM, ELOOP, EXDEV, EROFS, ENAMETOOLONG; other errors get none); returns
 * cnio__err_from_errno(e). */
int cnio__srv_why_errno(int e);

/* A new connection on fd (taken over) registered with epfd: 0 or a negative code. */
int cnio__srv_conn_new(struct cnio_srv *srv, int epfd, int fd, const struct cnio_addr *peer,
                       struct cnio_srv_conn **out);
/* Handles readiness events; returns 1 when the connection is finished (to be freed). */
int cnio__srv_conn_event(struct cnio_srv_conn *c, uint32_t events);
/* Starts draining (shutdown): 1 when the connection is finished. */
int cnio__srv_conn_drain(struct cnio_srv_conn *c);
/* Timer tick: 1 when the connection must close (AUTH not received in time, idle past
 * --idle-timeout, a frame or its replies stalled past --frame-timeout); frees the
 * buffers of a connection idle for a while and resumes reading paused for memory. */
int cnio__srv_conn_tick(struct cnio_srv_conn *c, int64_t now_ms);
void cnio__srv_conn_free(struct cnio_srv_conn *c);
/*
 * Connections over a fabric endpoint (fabric.c): no fd; frames arrive whole and replies
 * leave as messages. new_msg makes one in the AUTH state with its CHALLENGE queued;
 * conn_msg handles one frame (checked as on TCP: AUTH first, the session id, the
 * payload CRC) and queues its reply: 0, or -1 to drop the connection. conn_take takes
 * the next queued reply (owned by the caller until conn_sent returns it to c, or
 * out_drop frees it when c is gone). Free with cnio__srv_conn_free.
 */
int cnio__srv_conn_new_msg(struct cnio_srv *srv, const char *peer, uint64_t fab_id,
                           uint32_t max_payload, uint32_t credits, struct cnio_srv_conn **out);
int cnio__srv_conn_msg(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, const uint8_t *p);
struct cnio_srv_out *cnio__srv_conn_take(struct cnio_srv_conn *c);
void cnio__srv_conn_sent(struct cnio_srv_conn *c, struct cnio_srv_out *o);
void cnio__srv_out_drop(struct cnio_srv *srv, struct cnio_srv_out *o);

/* conn_out.c, for conn.c: queues the reply (type, reqid, status, r) of one request;
 * writes what the queue holds as far as the socket takes it (0, or a negative code when
 * the connection is broken); returns a reply buffer to c's spares; frees a list of them. */
int cnio__srv_conn_queue(struct cnio_srv_conn *c, uint16_t type, uint64_t reqid, int32_t status,
                         struct cnio_srv_reply *r);
int cnio__srv_conn_flush(struct cnio_srv_conn *c);
void cnio__srv_out_put(struct cnio_srv_conn *c, struct cnio_srv_out *o);
void cnio__srv_out_list_free(struct cnio_srv *srv, struct cnio_srv_out *o);

/* Records a handle c opened, to close with c; cnio__srv_conn_disown forgets it (CLOSE). */
int cnio__srv_conn_own(struct cnio_srv_conn *c, uint64_t id);
void cnio__srv_conn_disown(struct cnio_srv_conn *c, uint64_t id);

/* ---- budget.c: a job's connections per open object (BUDGET) ------------------------ */

/* A token connection for handle object authenticates: bound to it (counted), or
 * -CNIO_ERR_LIMIT with a reason when the handle's budget is full (-CNIO_ERR_NOENT: gone). */
int cnio__srv_budget_auth(struct cnio_srv_conn *c, uint64_t object);
/* c closes (or binds elsewhere): leaves its handle's count. No-op when unbound. */
void cnio__srv_budget_leave(struct cnio_srv_conn *c);
/* BUDGET: sets the handle's budget and binds the (key) connection sending it. */
struct cnio_srv_reply;
int cnio__srv_req_budget(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h,
                         const uint8_t *p, struct cnio_srv_reply *r);

/* ---- commit.c: PREPARE, COMMIT, ABORT, CRC, and the staging side of OPEN ------------- */

struct cnio_srv_reply;
int cnio__srv_req_prepare(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h,
                          const uint8_t *p, struct cnio_srv_reply *r);
/*
 * FINISH (doc/protocol.md, "Finishing a commit"): commits staged instance id of name with
 * order *seq when a PREPARE made it ready and no live handle holds it, as the COMMIT its
 * writer did not get here would have; with *seq 0 this host picks the order, as for
 * column 0's COMMIT (CNIO_WIRE_CAP_FINISH_ORDER). excl: only where nothing else holds
 * the name, as the commit of an exclusive create (CNIO_WIRE_CAP_FINISH_EXCL). 0, *seq
 * the order the instance was committed with (also when the object is that generation
 * already: the order recorded), -CNIO_ERR_INVAL (id 0), -CNIO_ERR_NOENT (no such instance
 * of the name), -CNIO_ERR_INCOMPLETE (held by its live writer, or never prepared),
 * -CNIO_ERR_EXIST (excl, and the name is another's), or what the commit failed with;
 * each with its reason.
 */
int cnio__srv_finish(struct cnio_srv_conn *c, const char *name, uint64_t id, int excl,
                     uint64_t *seq);
int cnio__srv_req_commit(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h,
                         const uint8_t *p, struct cnio_srv_reply *r);
/*
 * COMMITs h[0..n) of connection c, read together (a batch of small files sends them so:
 * client_batch.c), handled as one group whose steps share each fsync (stage_commit.c).
 * Returns how many of them it took, 1..min(n, CNIO_SRV_COMMIT_GROUP): the group ends
 * before a COMMIT of a handle, or of a name, that an earlier one has, or whose name lies
 * beneath an earlier one's or above it. Each taken COMMIT i gets what it would alone:
 * its status in ret[i] (as cnio__srv_req_commit returns it), its reply r[i] (made ready
 * by the caller as for any request) and the reason of a refusal in why[i].
 */
int cnio__srv_req_commit_group(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, int n,
                               struct cnio_srv_reply *r, int *ret, struct cnio_srv_why *why);
int cnio__srv_req_abort(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h,
                        const uint8_t *p, struct cnio_srv_reply *r);
int cnio__srv_req_crc(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h,
                      const uint8_t *p, struct cnio_srv_reply *r);
/* The open lock of name (cnio_srv_store's open_lock): taken by an OPEN that may stage
 * or join, and by a COMMIT, before any other lock. */
pthread_mutex_t *cnio__srv_open_lock(struct cnio_srv_store *st, const char *name);
/* names.c: MKDIR, RMDIR, RENAME and SETATTR (h->type says which). */
int cnio__srv_req_names(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h,
                        const uint8_t *p, struct cnio_srv_reply *r);
/*
 * The st_mode a directory reports: the permission bits SETATTR recorded (the directory
 * itself keeps rwx for the server's user, which must still create entries in a
 * directory recorded 0555), else sb's. pathfd: the directory, O_PATH is enough.
 */
uint32_t cnio__srv_dir_mode(int pathfd, const struct stat *sb);
/*
 * The data file an OPEN with CNIO_WIRE_O_STAGE or O_JOIN gets (o: the request, id: the
 * header's offset): a fresh or resumed staged instance (*stage its id); or, when the
 * object exists and neither TRUNC nor RESUME is asked, the object itself in place
 * (*stage = 0); or, when a live writer holds a staged instance of a name that does not
 * exist yet (or O_JOIN names one), that instance without owning it (*joined its id).
 */
int cnio__srv_open_stage(struct cnio_srv_conn *c, const char *name, const struct cnio_wire_open *o,
                         uint64_t id, const struct cnio_srv_meta *want, int *fd,
                         struct cnio_srv_meta *m, uint64_t *stage, int *created,
                         uint64_t *joined);
/* inplace.c: marks an in-place write handle's object dirty (metadata flag) and counts
 * the writer. */
int cnio__srv_open_dirty(struct cnio_srv_conn *c, const char *name, struct cnio_srv_meta *m);
/* An in-place write open of name counted by cnio__srv_open_dirty that then failed (its
 * handle not made, or not answered): the writer goes uncounted, and when the mark had been
 * left to it (owed: a close stepped aside for it, found the last or not) and no other
 * writer is live, nor a close found the last still to clear it (due), it clears the mark
 * as a close would (cnio__srv_store_complete of fd, the object's data, and sums); else
 * the mark stays for the others. */
void cnio__srv_open_undo(struct cnio_srv_store *st, const char *name, int fd,
                         const struct cnio_srv_sums *sums);
/*
 * What the last writer in place of name does for the writers whose closes left the mark
 * to it (a counted open that failed, cnio__srv_open_undo; the adoption of an upload's
 * joiners, cnio__srv_handles_adopt), as the last clean CLOSE would: an fsync of fd (the
 * object's data file), then of its block sums (sums; NULL: the object's, opened here
 * against metadata m, NULL when not known, since the other writers' sums are in them),
 * then the mark cleared with v (cnio__srv_store_mark). 0, or the code of the step that
 * failed, said as "NAME: why, but it could not be made durable and marked complete":
 * the object then stays marked as an interrupted update.
 */
int cnio__srv_store_complete(struct cnio_srv_store *st, const char *name, int fd,
                             const struct cnio_srv_sums *sums, const struct cnio_srv_meta *m,
                             const struct cnio_srv_vouch *v, const char *why);
/* 0 when off + len < 2^62, else -CNIO_ERR_OVERFLOW (request.c). */
int cnio__srv_req_range(uint64_t off, uint64_t len);
/* Opens hd's block sums the first time (create: building them if missing; hd->lock held):
 * the sums, or NULL when the object has none (*err: 0) or on an error (*err). */
const struct cnio_srv_sums *cnio__srv_req_sums(struct cnio_srv_conn *c, struct cnio_srv_handle *hd,
                                               int create, int *err);
/* What a WRITE or SETSIZE by hd gets once its upload was committed (hd->lock held):
 * -CNIO_ERR_ACCESS with its reason; else 0. Its bytes would land in the committed object
 * with no writer in place counted, no mark and nothing to sync them (request_io.c). */
int cnio__srv_req_committed(const struct cnio_srv_handle *hd);
/* The WRITE and READ handlers (request_io.c): as every request's, in request.c. */
int cnio__srv_req_write(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, const uint8_t *p,
                        struct cnio_srv_reply *r);
int cnio__srv_req_read(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, const uint8_t *p,
                       struct cnio_srv_reply *r);
/* For a CRC request ending at end that found hd's file shorter: what
 * cnio__srv_sums_past_end says of it (0 when hd has no sums to tell). */
int cnio__srv_req_check_end(struct cnio_srv_conn *c, struct cnio_srv_handle *hd, uint64_t end);
/* A counted reference to the request's handle, checked against the connection's rights. */
int cnio__srv_req_handle(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, int need_write,
                         struct cnio_srv_handle **out);

/* ---- request.c: request handlers ---------------------------------------------------- */

/* The reply a handler builds: header fields and payload (from cnio__srv_reply_buf). */
struct cnio_srv_reply {
    uint32_t flags;
    uint64_t object;
    uint64_t offset;
    uint64_t session;
    struct cnio_srv_out *out;
    uint32_t len;
    int crc_set;                /* crc is the payload's CRC32C already */
    uint32_t crc;
};

/* Payload space of at least cap bytes for reply r, or NULL (out of memory). */
uint8_t *cnio__srv_reply_buf(struct cnio_srv_conn *c, struct cnio_srv_reply *r, size_t cap);
/*
 * Makes reply r's payload the len bytes of file f at off, whose CRC32C is crc, sent
 * with sendfile: the reference to f is taken over (also on failure) and put once the
 * reply is written. 0 or -CNIO_ERR_NOMEM.
 */
int cnio__srv_reply_file(struct cnio_srv_conn *c, struct cnio_srv_reply *r,
                         struct cnio_srv_file *f, uint64_t off, uint32_t len, uint32_t crc);
/*
 * Handles one request (header h, payload p, already CRC-checked) of an authenticated
 * connection, or the AUTH frame of a new one. Returns 0 (reply r), a negative
 * CNIO_ERR_* (error reply with that status), or -CNIO_ERR_PROTO when the payload is
 * malformed: the connection is then closed without a reply. A handler may set
 * c->closing to close once the reply is written.
 */
int cnio__srv_request(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, const uint8_t *p,
                      struct cnio_srv_reply *r);
/* Fills r's payload with info block i (a client of the legacy protocol gets what it
 * knows of it): 0, -CNIO_ERR_NOMEM or -CNIO_ERR_IO. */
int cnio__srv_req_info_reply(struct cnio_srv_conn *c, struct cnio_srv_reply *r,
                             const struct cnio_wire_info *i);
/* The metadata a STAT of handle hd reports (its lock held): its own, or what its name
 * records now while the name still holds its file (request.c). */
struct cnio_srv_meta cnio__srv_req_stat_meta(struct cnio_srv_store *st,
                                             struct cnio_srv_handle *hd);
/* The OPEN handler (request_open.c): as every request's. */
int cnio__srv_req_open(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, const uint8_t *p,
                       struct cnio_srv_reply *r);
/* The SETSIZE, SYNC and CLOSE handlers (request_close.c): as every request's. */
int cnio__srv_req_setsize(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h,
                          const uint8_t *p, struct cnio_srv_reply *r);
int cnio__srv_req_sync(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, const uint8_t *p,
                       struct cnio_srv_reply *r);
int cnio__srv_req_close(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h,
                        const uint8_t *p, struct cnio_srv_reply *r);
/* A request's status ret as the client gets it: -CNIO_ERR_NOENT becomes -CNIO_ERR_IO, with
 * its reason, once the server's root directory was removed (every name is gone with it). */
int cnio__srv_req_root_gone(struct cnio_srv_conn *c, int ret);

#endif /* CNIO_SERVER_H */
