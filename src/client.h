/*
 * client.h - one process's view of an object striped over the hosts of a URI.
 *
 * This is what the public calls (collective/) and the cnio command stand on. It is
 * MPI-free: the object is opened over this process's own stack (src/stack.h), with
 * `lanes` connections per host, and data moves with many requests in flight over all
 * hosts at once. Every network wait is bounded by the hints' timeout_ms.
 *
 * Two ways to get an object:
 *  - cnio__obj_open: authenticates with the shared key and opens (or creates) the object
 *    on every host: what a singleton process, or rank 0's proxy, does.
 *  - cnio__obj_attach: joins an object that a proxy opened, from the description the
 *    proxy exported (cnio__obj_export) and a per-rank token: what the other ranks do.
 *    No key needed.
 */
#ifndef CNIO_CLIENT_H
#define CNIO_CLIENT_H

#include "common.h"
#include "config.h"
#include "layout.h"
#include <sys/types.h>

struct cnio_stack;
struct cnio_obj;

/* Open flags: CNIO_WIRE_O_CREATE, CNIO_WIRE_O_EXCL, CNIO_WIRE_O_TRUNC, CNIO_WIRE_O_WRITE,
 * CNIO_WIRE_O_STAGE, CNIO_WIRE_O_RESUME (src/wire.h). With STAGE the object is written
 * as a staged instance when it does not exist (or always, with TRUNC), which
 * cnio__obj_close commits on every host (column 0 last) and cnio__obj_abort discards;
 * with STAGE | RESUME the newest staged instance of the name is reopened. A STAGE open
 * of a name that another live open is creating joins that open's instance (its writes
 * land there; that open commits). */

/* One contiguous piece of a vectored transfer: logical object offset, bytes, memory. */
struct cnio_xfer {
    uint64_t off;
    uint64_t len;
    void *buf;
};

/*
 * Connects to every host of u (lanes per host), authenticates with the key of
 * h->key_file, opens the object u->path with oflags on each host (creating it with
 * layout striping_unit / striping_factor when it does not exist; an existing object
 * keeps its layout, read from the host of column 0 and checked against the others).
 * On success *out owns the connections and the open handles.
 * Errors: -CNIO_ERR_KEY, -CNIO_ERR_RESOLVE, -CNIO_ERR_REFUSED, -CNIO_ERR_UNREACH,
 * -CNIO_ERR_CONN, -CNIO_ERR_TIMEOUT,
 * -CNIO_ERR_AUTH, -CNIO_ERR_NOENT, -CNIO_ERR_EXIST, -CNIO_ERR_ACCESS, -CNIO_ERR_LAYOUT, ...
 */
int cnio__obj_open(struct cnio_stack *st, const struct cnio_uri *u, const struct cnio_hints *h,
                   uint32_t oflags, struct cnio_obj **out);
/* 1 when obj writes a staged instance (this process opened it, or attached to it). */
int cnio__obj_staged(const struct cnio_obj *obj);
/* The first error of a write of obj that sent bytes, or that cnio__obj_taint gave it; 0
 * when none. */
int cnio__obj_werr(const struct cnio_obj *obj);
/* Discards obj's staged instance on every host (nothing is committed; the previous
 * version, if any, stays) and frees obj. Only the opener discards; an attached process
 * just lets go. When a connection of obj broke, new connections discard it; when a host
 * cannot be reached, the instance stays whole everywhere. Returns 0 when the instance is
 * gone from every host (a handle that then fails to close does not change that), else
 * the first error met (-CNIO_ERR_CONN, -CNIO_ERR_TIMEOUT, -CNIO_ERR_AUTH, ...; without a
 * staged instance, the CLOSE's); always frees. */
int cnio__obj_abort(struct cnio_obj *obj);
/*
 * CRC32C of n logical ranges [off[i], off[i] + len[i]), each within one stripe unit,
 * as the host that holds it has them: crc[i] over the covered[i] bytes it holds (fewer
 * than len[i] at the end of its local file). All requests go out at once.
 */
int cnio__obj_crcx(struct cnio_obj *obj, const uint64_t *off, const uint64_t *len, size_t n,
                   uint32_t *crc, uint64_t *covered);

/*
 * Serialises what another process needs to attach to obj as rank `rank`: hosts,
 * layout, per-host object handles, the tokens for that rank (HMAC of the key), the
 * hints in effect. Returns the bytes written, or the bytes needed when cap is too
 * small (buf may be NULL), or a negative CNIO_ERR_*. Only an object opened with
 * cnio__obj_open (which holds the key) can export.
 */
ssize_t cnio__obj_export(struct cnio_obj *obj, uint32_t rank, void *buf, size_t cap);
/* Attaches to an exported object: connects, authenticates with the token, no key.
 * 0, or -CNIO_ERR_PROTO (a malformed description), -CNIO_ERR_STALE (a server refused the
 * token: it restarted since the open, or released it), -CNIO_ERR_CONN, ... */
int cnio__obj_attach(struct cnio_stack *st, const void *desc, size_t len, struct cnio_obj **out);

/*
 * Attaches without connecting: the tokens are kept, and each host is connected the first
 * time a transfer or control call needs it (or when the caller says, below). Same errors
 * as cnio__obj_attach but for the connection ones.
 */
int cnio__obj_attach_on_demand(struct cnio_stack *st, const void *desc, size_t len,
                               struct cnio_obj **out);
/* 1 when host column j has its lanes open and ready, else 0. */
int cnio__obj_connected(const struct cnio_obj *obj, int j);
/* Lanes open (or opening) to host column j: the connections this process holds there. */
int cnio__obj_host_lanes(const struct cnio_obj *obj, int j);
/*
 * Starts connecting host column j (every lane; the connects and handshakes go on inside
 * cnio__stack_progress): 0, or a negative code (nothing is left open). A host already
 * connected or connecting: 0.
 */
int cnio__obj_connect_start(struct cnio_obj *obj, int j);
/* After cnio__obj_connect_start: 1 while set-ups are under way (or, refused by the
 * server's budget for the job, while waiting to try again: at most cnio_timeout_ms from
 * the start), 0 once every lane is ready, or the first lane's error (-CNIO_ERR_AUTH,
 * -CNIO_ERR_LIMIT, -CNIO_ERR_CONN, -CNIO_ERR_TIMEOUT, ...; -CNIO_ERR_STALE for the open's
 * token refused: the server restarted since the open, or released it). The lanes are
 * then closed, so a later call may try again. */
int cnio__obj_connect_poll(struct cnio_obj *obj, int j);
/* The stack obj moves its data on (to progress connections started above). */
struct cnio_stack *cnio__obj_stack(const struct cnio_obj *obj);
/*
 * The job's connection budget (doc/scale.md): tells every host of obj (opened with the
 * key) that the job may hold at most budget connections at once for this open, this
 * process's own lanes counted; a host that does not announce CNIO_WIRE_CAP_BUDGET is
 * skipped (it does not enforce). 0, or the first error (-CNIO_ERR_CONN, ...).
 */
int cnio__obj_budget(struct cnio_obj *obj, uint32_t budget);
/*
 * on 1: every connection a call of obj opens (a transfer, a control call) is closed when
 * that call returns, so that this process holds none between calls (a rank that is not
 * an aggregator under the budget); connections made with cnio__obj_connect_start stay.
 */
void cnio__obj_set_transient(struct cnio_obj *obj, int on);
/*
 * The bound of every wait of obj from now on: timeout_ms (> 0, milliseconds; others
 * ignored) becomes obj's cnio_timeout_ms and that of each connection it holds, the
 * control and the data lanes, and of those it opens later, as if obj had been opened
 * with it (MPI_File_set_info's cnio_timeout_ms; MPI-3.1 13.2.8 lets hints change on an
 * open file). Not while another call on obj waits (a connection's wait reads it as it
 * goes on).
 */
void cnio__obj_set_timeout(struct cnio_obj *obj, int timeout_ms);
/*
 * on 1: the object was deleted on purpose while obj had it open (cnio_file_delete by the
 * job that writes it): a staged instance that the UNLINK of its name removed commits
 * nothing at close, an object written in place closes, and the close succeeds, as a
 * POSIX file unlinked while open closes (MPI_File_delete of an open file, MPI-3.1
 * 13.2.3, leaves what follows to the implementation). Off (the default): the close of a
 * writer whose object was removed fails with -CNIO_ERR_NOENT (someone else's `cnio rm`:
 * what it wrote is not there). Servers that do not announce CNIO_WIRE_CAP_GONE fail it
 * either way.
 */
void cnio__obj_set_gone_ok(struct cnio_obj *obj, int on);

/* Vectored transfer of n pieces (any order, any sizes; overlapping writes undefined):
 * all pieces go out pipelined over every host and lane. Returns 0 or a negative code;
 * on error some pieces may have been transferred. */
int cnio__obj_writex(struct cnio_obj *obj, const struct cnio_xfer *x, size_t n);
/* Reads n pieces; bytes a host does not hold (holes, past its local end) read as zeros.
 * *end_out (may be NULL) receives the largest logical end of any byte a host returned. */
int cnio__obj_readx(struct cnio_obj *obj, const struct cnio_xfer *x, size_t n,
                    uint64_t *end_out);
/* Reads n pieces as read(2) does: bytes below the object's end that no host holds
 * (holes) read as zeros; the caller's bytes past the end are left as they were. *eof
 * receives the end as far as this read needs it: the largest logical end a host
 * returned when every piece came back whole, else the object's size (a STAT: recorded
 * and local sizes combined), at least that end. 0 or a negative code. */
int cnio__obj_readx_eof(struct cnio_obj *obj, const struct cnio_xfer *x, size_t n,
                        uint64_t *eof);
/* Contiguous forms. pread returns the bytes read before the object's end (as known
 * from the hosts' replies and the recorded size), and leaves buf past them as it was;
 * both return a negative code on error. */
ssize_t cnio__obj_pwrite(struct cnio_obj *obj, const void *buf, size_t len, uint64_t off);
ssize_t cnio__obj_pread(struct cnio_obj *obj, void *buf, size_t len, uint64_t off);

/* Logical size: the recorded size and every host's local size, combined. */
int cnio__obj_size(struct cnio_obj *obj, uint64_t *size);
/* Whether a live handle (another's) writes the open object in place now: a STAT by
 * handle on every host, over the open's own connections, asking CNIO_WIRE_F_INPLACE of
 * those whose server says CNIO_WIRE_CAP_INPLACE. 1 when a host says I_INPLACE, 0 when
 * none does (or none can say), -CNIO_ERR_NOTSUP when a host would say it to a STAT by
 * name alone (CAP_INPLACE without CAP_INPLACE_HANDLE: ask by name), or a negative code
 * of the STAT. What the open's replies said of the object (cnio__obj_opened) is left as
 * it was. On success *mark (when not NULL) gets a digest of what every host said of its
 * column: its generation with its update count mixed in, its size, local size and
 * modification time. Two marks that differ mean the object was written between the two
 * calls: an update in place that came and went between them (its clean close counted
 * one on every host; a writer killed part way changed the bytes and mtime), which the
 * I_INPLACE of either call cannot see. -CNIO_ERR_INCOMPLETE when a host says I_DIRTY: an
 * update in place was interrupted there (its writer went without closing it, and none
 * has it open now), so the object's bytes may be torn, as a new open would be told. */
int cnio__obj_inplace(struct cnio_obj *obj, uint64_t *mark);
/* The same as the open's replies gave it, without a round trip, and the object's mtime
 * (ns since the epoch) then: for a read-only open, the version this handle reads,
 * whatever replaced the name since. */
void cnio__obj_opened(const struct cnio_obj *obj, uint64_t *size, int64_t *mtime_ns);
/* How many writes (cnio__obj_writex calls with ranges) this handle has made: the
 * collective close asks whether any came after the size was last set. */
uint64_t cnio__obj_writes(struct cnio_obj *obj);
/* The st_mode bits recorded of the object its open found on host 0 (SETATTR; 0: none):
 * S_IFLNK for a symbolic link `cnio cp -r` kept. */
uint32_t cnio__obj_mode(const struct cnio_obj *obj);
/* MPI_File_preallocate: grows the object to size bytes if it is smaller, never shrinks
 * it, and has every host allocate storage for its part of the first size bytes
 * (CNIO_WIRE_F_ALLOCATE). 0; 1 when a host's server cannot (CNIO_WIRE_CAP_ALLOCATE: the
 * caller sets the size alone); -CNIO_ERR_NOSPC when a host has no room; or another
 * negative code. */
int cnio__obj_preallocate(struct cnio_obj *obj, uint64_t size);
/* Truncates or extends to size on every host and records it. */
int cnio__obj_set_size(struct cnio_obj *obj, uint64_t size);
/* At the close of an object opened for writing, by the last handle (rank 0's): records
 * the size its hosts hold now (a STAT of each) on every host whose recorded size or file
 * length differs from it, grow only (SETSIZE with CNIO_WIRE_F_RECORD), so that each
 * host's metadata vouches for its file's length (a file grown or truncated behind the
 * server's back is then refused, as an upload's is). Nothing where a server is older
 * (CNIO_WIRE_CAP_RECORD), the object failed a write (cnio__obj_taint) or is read-only.
 * 0, or the STAT's or SETSIZE's negative code (each host's failure said). */
int cnio__obj_record_size(struct cnio_obj *obj);
/* The mode (st_mode bits, at most 0xffff) and mtime (ns since the epoch, or
 * CNIO_MTIME_NONE) of obj's staged instance, on every host (SETATTR of its handles), so
 * that its commit at close gives the object its bytes and these at once. 0; 1 when obj
 * writes no staged instance or a server cannot take this (CNIO_WIRE_CAP_SETATTR_STAGED:
 * the caller sets them by name after the commit); or a negative code (said). */
int cnio__obj_setattr_staged(struct cnio_obj *obj, uint32_t mode, int64_t mtime_ns);
/* fsync on every host. */
int cnio__obj_sync(struct cnio_obj *obj);
/* Closes the handles (CLOSE on each host when opened here) and the connections; frees obj.
 * Returns the first error met, but always frees. A tainted obj (cnio__obj_taint: a write
 * failed after sending bytes) vouches for nothing: its staged instance is not committed
 * (it stays for `cnio cp --resume`, the previous version stays the object), an in-place
 * writer's handles are not closed cleanly (the hosts keep the object marked as an
 * interrupted update: readers get -CNIO_ERR_INCOMPLETE), and the taint's error is
 * returned. */
int cnio__obj_close(struct cnio_obj *obj);
/* Marks obj as possibly torn with err (a negative CNIO_ERR_*; the first one stays): a
 * write of it failed after some of its bytes went out, here or in another rank of the
 * same collective open. The data path does this itself for its own failed writes. */
void cnio__obj_taint(struct cnio_obj *obj, int err);
/*
 * Where a quiet object's failures to reach a host go (cnio__obj_set_quiet): the least
 * one's key and the line that said it. A key orders by host (column), then by how it
 * failed, then by the error, so that the least over processes is a failure of the
 * lowest host; its low CNIO_KEPT_FREE_BITS bits are 0, free for the caller (a rank).
 */
#define CNIO_KEPT_NONE INT64_MAX
#define CNIO_KEPT_FREE_BITS 31
#define CNIO_KEPT_LINE_MAX 1024
struct cnio_kept {
    int64_t key;                           /* CNIO_KEPT_NONE: none kept */
    char line[CNIO_KEPT_LINE_MAX];         /* its words, without the "cnio: error: " */
    uint8_t skip[(CNIO_MAX_HOSTS + 7) / 8];   /* hosts (bit j) whose failures are dropped:
                                              said already */
    int say;                               /* 1: the others are said at once, not kept (a
                                              process alone in its part of the call) */
};
/* The host (column) of kept key k (with or without the caller's bits). */
int cnio__kept_host(int64_t k);
/*
 * kept non-NULL: obj's failures to reach a host (a transfer that failed there, or whose
 * server gave a reason; a reconnect; a connection set up on demand, or refused until
 * cnio_timeout_ms; a host that no longer knows the open) are not said, nor its stack's
 * warnings of connections lost (cnio__stack_hush); the least is kept in *kept (whose
 * key the caller sets to CNIO_KEPT_NONE), one of a host in kept->skip dropped, and a
 * taint taken meanwhile is not said by the close of an attached obj. For a caller that
 * says the failure once for many processes: the collective layer around a collective
 * call, whose rank 0 says it after the ranks agreed. kept stays the caller's, and must
 * outlive obj's quiet (cnio__obj_close ends it). NULL, the default: said as ever.
 */
void cnio__obj_set_quiet(struct cnio_obj *obj, struct cnio_kept *kept);

const struct cnio_layout *cnio__obj_layout(const struct cnio_obj *obj);
int cnio__obj_nhosts(const struct cnio_obj *obj);
const struct cnio_hints *cnio__obj_hints(const struct cnio_obj *obj);

/* Per-object counters for statistics: bytes and requests sent to each host, connects. */
struct cnio_obj_stats {
    uint64_t bytes_written, bytes_read, requests, connects;
    uint64_t probes;            /* TCP connections that asked a fabric host, after its
                                   lane's HELLO failed, whether it still knows the open */
    int64_t connect_ns;         /* time spent connecting and authenticating */
    int64_t net_ns;             /* time inside writex/readx */
};
void cnio__obj_stats(const struct cnio_obj *obj, struct cnio_obj_stats *s);
/* What carried the data: "tcp", "ofi (tcp;ofi_rxm)", "udp (udp;ofi_rxd)", ... */
const char *cnio__obj_carrier(const struct cnio_obj *obj);
/* Bytes moved to / from host column j so far. */
uint64_t cnio__obj_host_bytes(const struct cnio_obj *obj, int j);

/* Control operations without an open object (each connects, authenticates, closes). */
/* What the hosts of an object tell that hold one generation and disagree by their
 * updates in place alone (doc/protocol.md, "Update counts"; cnio__cl_apart): */
#define CNIO_APART_DIRTY 1   /* an update in place was interrupted on the hosts named; the
                                others closed it */
#define CNIO_APART_ODD 2     /* the hosts named hold their columns as of earlier updates
                                than the others, which agree (restored from a backup) */
#define CNIO_APART_UNSURE 3  /* they disagree, and which is odd cannot be told (two hosts;
                                no majority): every one named */
#define CNIO_APART_MAX 1024  /* the clause's room, its terminator included */
struct cnio_obj_stat {
    struct cnio_layout layout;
    uint64_t size;              /* logical size */
    int64_t mtime_ns;           /* signed ns since the epoch (before 1970: negative) */
    int is_dir;
    uint32_t state;             /* 0: complete; else CNIO_OBJ_* bits */
    uint32_t mode;              /* st_mode bits recorded by SETATTR (0: none); of a
                                   directory, its own */
    char transport[128];        /* what would carry its data under the hints: "tcp",
                                   "udp (udp;ofi_rxd)", "ofi (not offered by host H)" */
    int apart;                  /* incomplete, every host of one generation, apart by
                                   updates in place alone: CNIO_APART_*; else 0 */
    char apart_why[CNIO_APART_MAX];   /* ... the clause naming the host(s) concerned */
};
#define CNIO_OBJ_STAGED 0x1      /* an upload that never committed: no complete version */
#define CNIO_OBJ_DIRTY 0x2       /* an update in place was interrupted (writer crashed) */
#define CNIO_OBJ_TORN 0x4        /* a commit did not finish on every host */
#define CNIO_OBJ_PENDING 0x8     /* complete; an uncommitted upload of the name also exists */
/* With STAGED, TORN or PENDING, from servers that can say (CNIO_WIRE_CAP_LIVE): */
#define CNIO_OBJ_LIVE 0x10       /* a live writer holds an upload of the name: in progress */
#define CNIO_OBJ_LIVE_KNOWN 0x20 /* every host said whether one does: without LIVE, the
                                    upload or commit was interrupted */
#define CNIO_OBJ_INCOMPLETE (CNIO_OBJ_STAGED | CNIO_OBJ_DIRTY | CNIO_OBJ_TORN)
/* Listings only, with TORN: no column of the name is this URI's (column j on host j),
 * what a write through another order of the same hosts left (a STAT says NOENT). */
#define CNIO_OBJ_FOREIGN 0x40
/* Listings only, with TORN: a host holds a directory of the name of an object (this
 * URI's, or, with FOREIGN, another order's), which hid it (made through another order
 * of the same hosts, or through that host alone); the object's own columns may be
 * whole. `cnio rm -r` of the name removes both. */
#define CNIO_OBJ_SHADOWED 0x80
/* With TORN: a host of the URI holds nothing of a column that column 0's layout has (no
 * column, no upload of it): the object was written through other hosts than the URI's
 * (column 0's host is in both), or that host lost its column. Copying it again through
 * this URI would replace the object on column 0's host, so nothing says to. */
#define CNIO_OBJ_MISSING 0x100
/* Listings only, with TORN and MISSING: column 0's layout has more columns than this URI
 * names hosts (it was written through a URI of more): it is read, moved and removed
 * only through a URI naming all of them. */
#define CNIO_OBJ_WIDE 0x400
/* Listings only, with FOREIGN: no host of this URI holds the object's column 0, which
 * records its size (or two hold a column 0 of the name, of two objects): its size is not
 * known from these hosts (size is 0; ls -l shows "-", --json null). Where one host holds
 * column 0, size is the object's, as through the order that wrote it. */
#define CNIO_OBJ_NOSIZE 0x800
/* Complete, and a live writer has it open in place now (an update under way, which MPI
 * consistency semantics let a reader see mixed): said by servers that can tell
 * (CNIO_WIRE_CAP_INPLACE); never set from older ones. */
#define CNIO_OBJ_INPLACE 0x200
/* STAT of the object u names on every host it has a column on. A commit under way (it
 * reached some hosts, its writer is live) is waited for, up to h->timeout_ms, so that
 * out describes the object before it or after it (client_ctl.c). */
int cnio__obj_stat(struct cnio_stack *st, const struct cnio_uri *u, const struct cnio_hints *h,
                   struct cnio_obj_stat *out);
/* Removes the object from every host. 0 when this call removed its column 0 (host 0's
 * part, the commit point); -CNIO_ERR_NOENT when host 0 had none of it, even if other
 * hosts held remains that this call removed: of callers racing to remove one object,
 * exactly one gets 0. Another failure of any host is returned as it is. */
int cnio__obj_unlink(struct cnio_stack *st, const struct cnio_uri *u, const struct cnio_hints *h);
/* cnio__obj_unlink that also tells, in *remains (when not NULL), whether it removed what
 * hosts other than host 0 held of an object whose column 0 was gone (-CNIO_ERR_NOENT
 * returned): 1 then, the remains of a removal that stopped halfway or of one still under
 * way, else 0. What `cnio rm` needs to tell "no such object" from "remains removed".
 * With -CNIO_ERR_ISDIR returned (a host holds a directory of the name), *remains is 1
 * when some host removed a part of an object of the name, 0 when none held one. */
int cnio__obj_unlink_remains(struct cnio_stack *st, const struct cnio_uri *u,
                             const struct cnio_hints *h, int *remains);
/* Lists the directory u->path ("" = root): calls fn once per entry, names sorted, with
 * sizes combined over all hosts. */
int cnio__obj_list(struct cnio_stack *st, const struct cnio_uri *u, const struct cnio_hints *h,
                   int (*fn)(const char *name, const struct cnio_obj_stat *s, void *arg),
                   void *arg);

/*
 * Namespace requests over one control session (client_names.c): a connection to every
 * host of a URI, authenticated once with the key of h->key_file, reused for every
 * request until cnio__ns_close. Each request goes to every host; the result is the
 * first error other than -CNIO_ERR_NOENT, else -CNIO_ERR_NOENT when no host had the
 * name, else 0. Paths are object names beneath the servers' roots (no leading '/').
 * Errors of open: those of cnio__obj_open's connection phase (-CNIO_ERR_KEY, _RESOLVE,
 * _CONN, _TIMEOUT, _AUTH).
 */
struct cnio_ns;
int cnio__ns_open(struct cnio_stack *st, const struct cnio_uri *u, const struct cnio_hints *h,
                  struct cnio_ns **out);
void cnio__ns_close(struct cnio_ns *ns);
/* Why a request over ns failed with -CNIO_ERR_CONN as "a broken session": 0 when every
 * connection of ns (NULL: none) is up, else the error the first broken one died of
 * (-CNIO_ERR_TIMEOUT: its host stopped answering for cnio_timeout_ms, which a new
 * session would wait out again; -CNIO_ERR_CONN: reset or lost), with that
 * host's "name:port" in host, as cnio__hostport writes it (cap bytes; NULL: not wanted). */
int cnio__ns_broken(const struct cnio_ns *ns, char *host, size_t cap);
/* Creates directory path on every host; parents: create missing parents, and an
 * existing directory is no error. -CNIO_ERR_EXIST: it exists (without parents), or an
 * object has that name or a name on its way. An object of another order of the hosts
 * may be on a host that host 0's MKDIR came before: the directories that the hosts which
 * made them hold from path up to that object's name are then removed again (while
 * empty). -CNIO_ERR_NOENT: a parent is missing (without parents). */
int cnio__ns_mkdir(struct cnio_ns *ns, const char *path, int parents);
/* The first of path's directories (and path itself, with self), shallowest first, that
 * a host holds as an object, whatever order of the hosts wrote it (cnio__ns_kinds of
 * each): 1 with its name in dir (cap bytes) and *foreign set when the object is not of
 * this URI's order; 0 when none is. */
int cnio__ns_object_on_way(struct cnio_ns *ns, const char *path, int self, char *dir,
                           size_t cap, int *foreign);
/* After a write of path failed because a name on its way is an object on some host (an
 * OPEN makes the parents of its name, and a host that holds nothing of an object of
 * another order of the hosts made them before the object's host refused): finds that
 * object as cnio__ns_object_on_way(path, self) does, into obj and *foreign, and removes
 * the empty directories from path up to its name, on every host. 1 when such an object
 * was found, 0 when none was; -CNIO_ERR_INVAL. */
int cnio__ns_unshadow(struct cnio_ns *ns, const char *path, char *obj, size_t cap,
                      int *foreign);
/* What the hosts hold of one name, whatever order of them wrote it (cnio__ns_kinds). */
struct cnio_ns_kinds {
    int dirs;                   /* how many hold it as a directory */
    int obj;                    /* the first host (URI order) holding a column of an
                                   object of the name, -1: none */
    int foreign;                /* that column is not column obj: the object is not of
                                   this URI's order of the hosts */
};
/* STATs path on every host at once into *k: 0, or the first failure other than
 * -CNIO_ERR_NOENT (k then describes the hosts that answered); -CNIO_ERR_INVAL. */
int cnio__ns_kinds(struct cnio_ns *ns, const char *path, struct cnio_ns_kinds *k);
/* cnio__ns_kinds of path into *k, and, with other (NULL: not wanted), from the same
 * STATs, what cnio__cl_other_order says when host 0 holds nothing of path: whether
 * another host holds a column of a committed object of that name, another order's
 * (no host holding a directory of it): *other = -CNIO_ERR_LAYOUT, said, naming the fix;
 * else -CNIO_ERR_NOENT, nothing said (host 0 holds path, a STAT failed, one host). One
 * STAT of path on each host. Returns as cnio__ns_kinds. */
int cnio__ns_other_order(struct cnio_ns *ns, const char *path, struct cnio_ns_kinds *k,
                         int *other);
/* cnio__obj_stat of path over ns's connections (no connect), and, from its first STAT of
 * path on every host of ns at once (one a host, in one round: it replaces cnio__obj_stat's
 * of host 0 and of the object's other columns), what cnio__ns_other_order says: *k, and
 * *other (NULL: not wanted) as it sets it. Where a host's STAT failed (but for
 * -CNIO_ERR_NOENT), *k says nothing is there (dirs 0, obj -1) and *other is
 * -CNIO_ERR_NOENT. Returns as cnio__obj_stat; *out as it fills it. */
int cnio__ns_stat(struct cnio_ns *ns, const char *path, struct cnio_obj_stat *out,
                  struct cnio_ns_kinds *k, int *other);
/* Whether ns's hosts hold all of what path names (a STAT of host 0): 0 when it is no
 * object there (a directory, nothing, or a STAT that failed, which the request after it
 * says), or an object of at most ns->n columns; -CNIO_ERR_LAYOUT, said under op ("move",
 * "remove"), when it has more (written through a URI of more hosts: moved or removed
 * through this one, its other columns would be left behind, the object broken). */
int cnio__ns_fits(struct cnio_ns *ns, const char *path, const char *op);
/* cnio__ns_fits that tells what its one STAT of host 0 found: 0 when host 0 holds path,
 * an object of at most ns->n columns (*is_dir 0) or a directory (*is_dir 1; is_dir may
 * be NULL); -CNIO_ERR_LAYOUT, said as cnio__ns_fits says it; else the STAT's failure,
 * not said (-CNIO_ERR_NOENT: host 0 holds nothing of it; a connection's error). What a
 * caller that checks names before acting on any (cnio rm) asks, so that its removal
 * need not STAT again (cnio__ns_unlink_remains). -CNIO_ERR_INVAL. */
int cnio__ns_check(struct cnio_ns *ns, const char *path, const char *op, int *is_dir);
/* Removes the empty directory path: -CNIO_ERR_EXIST when it is not empty,
 * -CNIO_ERR_INVAL when path is an object, -CNIO_ERR_NOENT when host 0 does not have it
 * (what other hosts hold of it is removed all the same; of callers racing to remove it,
 * exactly one gets 0). */
int cnio__ns_rmdir(struct cnio_ns *ns, const char *path);
/* Removes the objects paths[0..n) from every host, as cnio__obj_unlink each (status[k]:
 * 0 when host 0's column 0 was removed, -CNIO_ERR_NOENT when host 0 had none, else the
 * first other failure, logged, but for -CNIO_ERR_ISDIR: a host holds that name as a
 * directory, which `cnio rm -r` removes), over ns's connections with many UNLINKs in flight on
 * each instead of new connections and a round trip per object. 0, or -CNIO_ERR_NOMEM or
 * -CNIO_ERR_INVAL with no status filled. */
int cnio__ns_unlink_many(struct cnio_ns *ns, const char *const *paths, int n, int *status);
/* cnio__obj_unlink_remains of path over ns's connections, without its STAT of host 0
 * (cnio__ns_fits): for a caller whose cnio__ns_check of path found it fits ns's hosts,
 * or found nothing on host 0. Returns and sets *remains (may be NULL) as
 * cnio__obj_unlink_remains; -CNIO_ERR_INVAL, -CNIO_ERR_NOMEM. */
int cnio__ns_unlink_remains(struct cnio_ns *ns, const char *path, int *remains);
/* Renames an object or a directory (no data moves; the new name's parents are made; an
 * object of the new name is replaced): -CNIO_ERR_NOENT when host 0 has no from (unless
 * host 0 already holds to as the object the other hosts hold as from: then this finishes
 * a rename that stopped halfway), -CNIO_ERR_EXIST onto a directory that is not empty,
 * -CNIO_ERR_INVAL into itself. With more than one host, nothing is renamed when a host
 * holds a directory on the way to to as an object, or from is a directory and a host
 * holds to as an object (-CNIO_ERR_EXIST), or from is an object and a host holds to as
 * a directory (-CNIO_ERR_ISDIR), whatever order of the hosts
 * wrote them (cnio__ns_kinds): host 0 alone cannot see an object of another order. Of
 * callers racing to rename one object to different names, one succeeds and the others
 * get -CNIO_ERR_NOENT, having moved nothing. */
int cnio__ns_rename(struct cnio_ns *ns, const char *from, const char *to);
/* cnio__obj_open over the session's connections (no connect, no authentication: what
 * makes a tree of small files cheap): the object borrows them, and cnio__obj_close or
 * _abort leaves them open for the next. -CNIO_ERR_CONN when a connection of ns broke
 * (close it and open another); otherwise the errors of cnio__obj_open. */
int cnio__ns_obj_open(struct cnio_ns *ns, const char *path, uint32_t oflags,
                      struct cnio_obj **out);
/* cnio__obj_list of directory path over the session's connections (no connect): fn is
 * called once per entry, names sorted. -CNIO_ERR_CONN when a connection of ns broke;
 * otherwise the errors of cnio__obj_list, or fn's first nonzero return. */
int cnio__ns_list(struct cnio_ns *ns, const char *path,
                  int (*fn)(const char *name, const struct cnio_obj_stat *s, void *arg),
                  void *arg);
/* One small object for cnio__ns_put_small. */
struct cnio_ns_put {
    const char *path;          /* object name */
    const void *data;          /* size bytes, at most the stripe unit and the servers'
                                  largest WRITE payload */
    uint64_t size;
    uint32_t mode;             /* nonzero: SETATTR mode (<= 0xffff) and mtime_ns (signed
                                  ns since the epoch; CNIO_MTIME_NONE: not set) once
                                  committed */
    int64_t mtime_ns;
    int status;                /* out: 0 (committed), or the error that stopped it */
    uint64_t sent;             /* out: size when its WRITE reached column 0's host (it
                                  answered), whether or not the object then committed;
                                  else 0 */
};
/*
 * Writes each of p[0..n) as a fresh object over the session's connections (replacing one
 * of the same name at commit, as a staged cnio__obj_open does), with the session's
 * striping_unit, on one host (column 0's) unless its striping_factor asks for more: an
 * object of at most one stripe keeps every byte in column 0, and columns on the other
 * hosts would only be empty files with their metadata. Several requests are in flight
 * on each connection (client_batch.c): a batch costs about seven round trips, not
 * seven per object. Each object commits or not on
 * its own (p[i].status); one that failed left nothing visible. Returns 0 (see the
 * statuses), -CNIO_ERR_INVAL (an object too large, an empty name), -CNIO_ERR_CONN (a
 * broken session: open another), -CNIO_ERR_NOMEM, -CNIO_ERR_LAYOUT (bad hints).
 */
int cnio__ns_put_small(struct cnio_ns *ns, struct cnio_ns_put *p, int n);
/* One small object for cnio__ns_get_small. */
struct cnio_ns_get {
    const char *path;          /* object name */
    void *buf;                 /* where its bytes go: cap bytes */
    uint64_t cap;              /* at most the servers' largest READ payload */
    uint64_t size;             /* out: the object's size (when known) */
    int status;                /* out: 0 (size bytes in buf), -CNIO_ERR_OVERFLOW (larger
                                  than cap or than its first stripe, or written in place
                                  as it was read: read it alone), or the error
                                  (-CNIO_ERR_NOENT, -CNIO_ERR_INCOMPLETE, ...) */
};
/*
 * Reads each of g[0..n) whole over the session's connections, with several requests in
 * flight on each connection (client_batch_get.c): a batch costs four round trips (OPEN
 * of column 0, OPEN of the others, READ, STAT with CLOSE), not four per object. Each object
 * passes the checks of a read-only cnio__obj_open (stored layout, nothing interrupted on
 * any column) or gets its error in g[i].status; one that a live writer has open in place
 * after the READ, or whose hosts' update counts, sizes or mtimes moved since its OPEN
 * (an update in place as it was read: its bytes may mix two versions), gets
 * -CNIO_ERR_OVERFLOW. Returns 0 (see the statuses),
 * -CNIO_ERR_INVAL (a cap too large, an empty name), -CNIO_ERR_CONN (a broken session:
 * open another), -CNIO_ERR_NOMEM.
 */
int cnio__ns_get_small(struct cnio_ns *ns, struct cnio_ns_get *g, int n);
/* mtime_ns of cnio__ns_setattr and struct cnio_ns_put: leave the mtime as it is. */
#define CNIO_MTIME_NONE INT64_MIN
/* Records mode (st_mode bits, <= 0xffff: file type and permissions) and, unless mtime_ns
 * is CNIO_MTIME_NONE, the modification time of path (an object, or a directory) in signed
 * ns since the epoch (0, the epoch itself, too; a server that does not announce
 * CNIO_WIRE_CAP_MTIME leaves the mtime then). */
int cnio__ns_setattr(struct cnio_ns *ns, const char *path, uint32_t mode, int64_t mtime_ns);

/*
 * With on 1, this process says a host's connect failure once: a second one of the same
 * host with the same error is not written (cnio__log_err, said before) until a
 * connection to that host succeeds. For a command, whose STATs and files meet one host
 * down again and again; off (0) by default, for a program that lives long, whose later
 * failures are news (the MPI-IO library's POSIX calls keep their own once, mpiio_posix.c).
 */
void cnio__cl_say_once(int on);

#endif /* CNIO_CLIENT_H */
