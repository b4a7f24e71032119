/*
 * client_int.h - what the files of the client share: client.c (open, close, size),
 * client_data.c (the data path), client_ctl.c (control operations), client_export.c
 * (export / attach), client_conn.c (connections made on demand) and the others. Not
 * installed.
 */
#ifndef CNIO_CLIENT_INT_H
#define CNIO_CLIENT_INT_H

#include "common.h"
#include "auth.h"
#include "client.h"
#include "config.h"
#include "layout.h"
#include "net.h"
#include "stack.h"
#include "wire.h"

/* The end of a line that finds a host holding another column than its place in the URI
 * gives it (written through another order of the same hosts, or other hosts). */
#define CNIO_ORDER_HINT ": name all the hosts of the object in its URI, in the order it was " \
                        "written through"

/* Largest piece one request carries. */
#define CNIO__CL_PIECE (1u << 20)

/* One host (column) of an object, or of a control operation. */
struct cnio__cl_host {
    char name[CNIO_HOSTNAME_MAX + 1];
    uint16_t port;
    struct cnio_addr addr;          /* the address that answered */
    int resolved;
    uint64_t handle;                /* object handle on this host, 0 if none */
    uint64_t gen;                   /* OPEN reply: the staged instance, or the generation;
                                       a namespace STAT's: the generation (CAP_FINISH) */
    uint32_t updates;               /* OPEN in place with F_UPDATES: the host's update count */
    int updates_known;              /* ... it said it (CNIO_WIRE_CAP_UPDATES) */
    uint64_t order;                 /* a namespace STAT's: the commit order (CAP_FINISH) */
    int refused;                    /* its last OPEN's error status (0: none) */
    int opened;                     /* this process opened it: CLOSE at close */
    int asked;                      /* an OPEN of it was sent here: the host may hold its
                                       staged instance (none was, when this stays 0) */
    struct cnio_wire_info info;     /* from OPEN / STAT */
    struct cnio_ep *lanes[CNIO_MAX_LANES];
    int nlanes;
    int connecting;                 /* lanes opened on demand, handshakes under way */
    int64_t connect_t0;             /* when they were opened */
    int64_t retry_at;               /* refused by the server's budget: the lanes are closed
                                       and open again then (ms; 0: not waiting) */
    int64_t give_up;                /* ... until this time (ms), then -CNIO_ERR_LIMIT */
    int backoff_ms;                 /* the next wait after a refusal */
    int transient;                  /* opened for one call: closed when it returns */
    struct cnio_ep_auth auth;       /* how its lanes authenticate (again, to reconnect) */
    int revive_said;                /* the error of its last failed reconnect, said once
                                       (client_revive.c); 0 after one succeeds */
    uint8_t token[CNIO_WIRE_MAC];   /* attached, or the opener's fabric lanes: the token
                                       auth.k points at */
    struct cnio_addr fab;           /* the server's fabric address (raw bytes in ss, len);
                                       len 0: none, the lanes are TCP */
    struct cnio_ep *ctl;            /* the TCP control connection when the lanes are on a
                                       fabric (the opener's), else NULL */
    uint64_t bytes;                 /* moved to / from this host */
    /* transfer cursor (client.c) */
    size_t xi;
    uint64_t pos;
    int next_lane;
};

/* SETATTR call c (its ep set) records mtime_ns (CNIO_MTIME_NONE: leaves the mtime): the
 * header offset, and flag F_MTIME to a server that takes it (client_names.c). */
struct cnio_call;
void cnio__cl_setattr_mtime(struct cnio_call *c, int64_t mtime_ns);

struct cnio_obj {
    struct cnio_stack *st;
    struct cnio_hints h;
    struct cnio_layout layout;
    int nhosts;                     /* = layout.count */
    int nuri;                       /* hosts of the URI: hosts[] has this many, the
                                       first nhosts of them connected */
    struct cnio__cl_host *hosts;
    char *path;
    uint32_t oflags;
    int staged;                     /* writes a staged instance, committed at close */
    uint64_t stage_id;              /* its id (the same on every host) */
    int has_key;                    /* opened with the key (may export) */
    struct cnio_key key;
    uint64_t recorded;              /* logical size recorded on column 0, as last seen */
    struct cnio_obj_stats stats;
    uint8_t (*tokens)[CNIO_WIRE_MAC];   /* attached on demand: per-host tokens, else NULL */
    uint32_t rank;                  /* the tokens' rank */
    int borrowed;                   /* the endpoints are a namespace session's
                                       (cnio__ns_obj_open): not closed with obj */
    int gone_ok;                    /* removed (UNLINK) while open is no error at its
                                       commit or close (cnio__obj_set_gone_ok) */
    int transient;                  /* connections calls open are closed when they return
                                       (cnio__obj_set_transient) */
    int werr;                       /* the first error of a write that sent bytes (or
                                       cnio__obj_taint's): obj may be torn, and its close
                                       vouches for nothing (no COMMIT, no clean CLOSE) */
    int finish_said;                /* cl_finish_torn found nothing to finish: the OPENs
                                       it sends again say why (not hushed) */
    int discarded;                  /* its staged instance is gone from every host
                                       (cnio__obj_abort): its close says nothing of werr */
    uint32_t updates_next;          /* a writer in place: the update count its clean
                                       close records on every host (CNIO_WIRE_F_UPDATES),
                                       once updates_ready (its open checked: until then a
                                       close records each host's count as it was) */
    int updates_ready;
    int torn_inplace;               /* its hosts' generations were apart, beside a live
                                       writer in place: a reader reads (the STATs of
                                       cnio__cl_commit_under_way said so) */
    int interrupted_said;           /* a host said I_INTERRUPTED at its open: warned */
    uint64_t writes;                /* cnio__obj_writex calls with ranges (atomic) */
    struct cnio_kept *kept;         /* cnio__obj_set_quiet: non-NULL while quiet */
    int werr_hushed;                /* werr came while quiet: the owner says it for the job,
                                       an attached obj's close does not */
};

/*
 * How host j failed, the least first where a quiet object keeps one (cnio__cl_host_say):
 * a request that its server refused with a reason (its words); the open gone there (a
 * restart: its server refused the token, or no longer holds the upload, or the object
 * was replaced; reopening it failed); a request on it (a transfer); a reconnect after it
 * closed an idle connection; a connection set up on demand, which failed, or was
 * refused until cnio_timeout_ms passed. cnio__cl_host_failed has the words of XFER,
 * IDLE and CONNECT.
 */
enum {
    CNIO__CL_LOST_REASON, CNIO__CL_LOST_GONE, CNIO__CL_LOST_REOPEN, CNIO__CL_LOST_XFER,
    CNIO__CL_LOST_IDLE, CNIO__CL_LOST_CONNECT, CNIO__CL_LOST_BACKOFF
};
/* Says the line fmt makes, of host j of obj that failed with err (how: as above); while
 * obj is quiet (cnio__obj_set_quiet), keeps it instead, if it is the least. */
void cnio__cl_host_say(struct cnio_obj *obj, int j, int how, int err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* cnio__cl_host_say in the words of how (XFER, IDLE or CONNECT). */
void cnio__cl_host_failed(struct cnio_obj *obj, int j, int how, int err);

/*
 * A control session (client_names.c): the key, and one authenticated endpoint per host
 * of a URI. The namespace session of cnio__ns_open, and the one-shot sessions of
 * client_ctl.c (stat, unlink) and client_list.c (list) that live on the stack.
 */
struct cnio_ns {
    struct cnio_stack *st;
    struct cnio_hints h;
    struct cnio_key key;
    struct cnio__cl_host *hosts;
    struct cnio_ep_auth *auth;
    int n;                          /* hosts of the URI */
};

/*
 * Fills ns (caller's memory) for u's hosts, loads the key of h->key_file and connects
 * one lane to each host, before any request: 0, or the error (ns then holds nothing to
 * release): a host that cannot be reached (said), -CNIO_ERR_URI when two of them are one
 * server (cnio__cl_hosts_distinct).
 */
int cnio__ns_begin(struct cnio_ns *ns, struct cnio_stack *st, const struct cnio_uri *u,
                   const struct cnio_hints *h);
/* Closes ns's endpoints and releases what it holds (not ns itself). */
void cnio__ns_end(struct cnio_ns *ns);

/* Fills hosts[0..n) from the URI's hosts. */
void cnio__cl_hosts_from_uri(struct cnio__cl_host *hosts, const struct cnio_uri *u, int n);
/* hosts[0..n), connected where they were, are n servers: not one address twice, nor two
 * that answered with one server id. 0, or -CNIO_ERR_URI, said (naming both and path). */
int cnio__cl_hosts_distinct(const struct cnio__cl_host *hosts, int n, const char *path);
/*
 * Connects `lanes` endpoints to each of hosts[0..n) (at most connect_window at a time
 * per host, every host's at once) and waits for their connects and handshakes, which
 * go on together. auth[i] is host i's credentials. Counts connects in stats (may be
 * NULL). 0 or the first error; on error the endpoints opened so far stay in hosts[]
 * for cnio__cl_disconnect.
 */
int cnio__cl_connect(struct cnio_stack *st, const struct cnio_hints *h,
                     struct cnio__cl_host *hosts, int n, int lanes,
                     const struct cnio_ep_auth *auth, struct cnio_obj_stats *stats);
/*
 * The opener's part of a fabric transport (client_fab.c): asks each host, on its TCP
 * connection, for its fabric address (FABRIC), keeps that connection for control, and
 * connects the data lanes over the fabric with this process's own tokens (rank 0).
 */
int cnio__cl_fabric_lanes(struct cnio_obj *obj);
/* Session description extension (client_fab.c): the provider and the hosts' fabric
 * addresses, appended after the hosts. size: the bytes; put writes them at p; take
 * reads them (0 or -CNIO_ERR_PROTO). */
size_t cnio__cl_fab_export_size(const struct cnio_obj *obj);
size_t cnio__cl_fab_export(const struct cnio_obj *obj, uint8_t *p);
int cnio__cl_fab_import(struct cnio_obj *obj, const uint8_t *p, size_t len, size_t *used);
/* 1 when h's transport moves frames as messages over a fabric (not kernel TCP). */
int cnio__cl_fabric(const struct cnio_hints *h);

/* Records that this process said that connecting to name:port failed with err: 1 when
 * it said that already (the same host, the same error, and no connection to it succeeded
 * since), so that the caller keeps its line unwritten (cnio__log_err), else 0. Always 0,
 * recording nothing, unless cnio__cl_say_once(1) was called. */
int cnio__cl_connect_said(const char *name, uint16_t port, int err);
/* Closes every endpoint of hosts[0..n). */
void cnio__cl_disconnect(struct cnio__cl_host *hosts, int n);
/* What a key refused by a server (-CNIO_ERR_AUTH in key mode) says after the error, in
 * buf[cap]: which file this process read its key from, and why that one (CNIO_KEY_FILE,
 * the hint cnio_key_file, the default), and that the server's --key must be a copy of
 * it. No key material. Returns buf. */
const char *cnio__cl_key_advice(const struct cnio_hints *h, char *buf, size_t cap);
/* Endpoint of host that takes control requests: the first live lane, else lane 0. */
struct cnio_ep *cnio__cl_ctl_ep(const struct cnio__cl_host *host);
/* Encodes an OPEN / STAT / UNLINK / LIST payload into buf (CNIO_WIRE_OPEN_FIXED +
 * CNIO_WIRE_MAX_NAME bytes): its length, or a negative code. */
int cnio__cl_open_payload(uint32_t flags, const struct cnio_layout *l, uint32_t index,
                          const char *name, uint8_t *buf, size_t cap);
/* One host's STAT for cnio__cl_stat_each: ep and flags in, info and status out. */
struct cnio__cl_stat {
    struct cnio_ep *ep;             /* where the STAT goes */
    uint32_t flags;                 /* set by cnio__cl_stat_each: CNIO_WIRE_F_LIVE (ask
                                       whether a live writer holds an upload) where ep's
                                       server announces CNIO_WIRE_CAP_LIVE, and
                                       CNIO_WIRE_F_INPLACE (whether one writes it in
                                       place) where it announces CNIO_WIRE_CAP_INPLACE */
    struct cnio_wire_info info;     /* the reply, when status is 0 */
    int status;                     /* 0, the STAT's error, or -CNIO_ERR_PROTO: the reply
                                       does not parse (or never came) */
    uint64_t gen, order;            /* a committed object's generation and commit order,
                                       where ep's server announces CNIO_WIRE_CAP_FINISH;
                                       else 0 */
};
/*
 * STATs n hosts in parallel, each on s[i].ep: host 0 (s[0]) for name0, the others for
 * name (name0 == name: one name for all). Fills every s[i].status, and s[i].info where
 * it is 0. log: NULL, nothing logged; else the hosts s[0..n) stand for, whose failed
 * STATs are logged under name as cnio__cl_name_failures(name, "stat", log, ..., quiet)
 * does. Returns 0 when every STAT came back 0 (a reply may still not parse: see each
 * status); the first failed STAT's status, or the progress engine's error, as
 * cnio__stack_calls; or, with nothing sent and every status set to it, -CNIO_ERR_NOMEM
 * or the payload's error (-CNIO_ERR_INVAL: a name longer than CNIO_WIRE_MAX_NAME).
 */
int cnio__cl_stat_each(struct cnio_stack *st, struct cnio__cl_stat *s, int n,
                       const char *name0, const char *name, const struct cnio__cl_host *log,
                       int quiet);
/*
 * Host 0 (hosts[0], its info filled by an OPEN or a STAT) holds path as a file without
 * metadata (generation 0), which it serves as one column: a file put in its root by
 * hand, or an object whose metadata and block sums were lost (a root copied without its
 * dot-entries). When another of the n hosts holds a column of a striped object of that
 * name, host 0's file is that object's first column alone, and read as the object it
 * gave the stripes end to end, exit 0. Connects hosts 1.. that have no connection (one
 * lane; the caller disconnects them) and STATs them; a host that cannot be asked is
 * passed over. 0, -CNIO_ERR_NOMEM, or -CNIO_ERR_LAYOUT (said).
 */
int cnio__cl_striped_elsewhere(struct cnio_stack *st, const struct cnio_hints *h,
                               struct cnio__cl_host *hosts, int n,
                               const struct cnio_ep_auth *auth, const char *path);
/*
 * Host 0 of hosts[0..n) said it holds nothing of path (-CNIO_ERR_NOENT): STATs hosts
 * 1.. (each connected already) for a column of a committed object of that name, which a
 * write through another order of these hosts (or through other hosts) put there, and
 * which ls -l lists as "another order of these hosts wrote it". Such an object is said,
 * naming the host and its column, with CNIO_ORDER_HINT, and -CNIO_ERR_LAYOUT returned;
 * else (nothing there, a directory of the name on a host, an upload never committed, a
 * host that cannot be asked) -CNIO_ERR_NOENT, nothing said. -CNIO_ERR_NOMEM.
 */
int cnio__cl_other_order(struct cnio_stack *st, const struct cnio__cl_host *hosts, int n,
                         const char *path);
/* The verdict of cnio__cl_other_order from STATs of path already made: s[j - 1] is host
 * j's (1 <= j < n), as cnio__cl_stat_each leaves it. Said the same; the same returns but
 * -CNIO_ERR_NOMEM. */
int cnio__cl_other_order_of(const struct cnio__cl_host *hosts, int n, const char *path,
                            const struct cnio__cl_stat *s);
/* What STATs of one name already made on hosts 0..n-1 (s[i]: host i's, as
 * cnio__cl_stat_each leaves them) say it is there, into *k: as cnio__ns_kinds returns. */
int cnio__ns_kinds_fold(const struct cnio__cl_stat *s, int n, struct cnio_ns_kinds *k);
/* Folds n STATs of cnio__cl_stat_each into *live, which starts as CNIO_OBJ_LIVE_KNOWN:
 * clears CNIO_OBJ_LIVE_KNOWN where a host could not be asked, sets CNIO_OBJ_LIVE where
 * one says a live writer holds an upload (CNIO_WIRE_I_LIVE). */
void cnio__cl_stat_live(const struct cnio__cl_stat *s, int n, uint32_t *live);
/* Logical size from column 0's recorded size and each column's local size. */
uint64_t cnio__cl_size(const struct cnio_layout *l, uint64_t recorded,
                       const struct cnio__cl_host *hosts, int n);
/* Read-only opens: -CNIO_ERR_INCOMPLETE (logged, naming the host) unless every host holds
 * a complete object of column 0's generation. Opens for writing in place: the same
 * unless every host holds column 0's generation with no commit interrupted (an update
 * in place that was interrupted may be written again); then sets the count its close
 * records (updates_next), warning when hosts not marked so have had different counts of
 * updates in place (a column restored from a backup of another time, or a concurrent
 * writer's update closed on some). Staged and joined writers: 0. */
int cnio__cl_check_complete(struct cnio_obj *obj);
/* 1 when a read-only open (or one for writing in place) met a commit under way: the
 * hosts hold different generations, none marks an interrupted upload, update or commit,
 * and either a STAT of every host after the open finds some host's generation changed
 * since (the object is moving), or one holds an uncommitted instance of the name beside
 * the object (I_PENDING, which OPEN's reply does not say), which may be the one
 * committing: where every server announces CNIO_WIRE_CAP_LIVE, only one that a live
 * writer holds (I_LIVE). Also 1 when it finished a commit that stopped (open again).
 * 0 otherwise, or when a STAT fails; 0 with obj->torn_inplace set when a host says a live
 * writer in place holds it and none marks an interrupted or staged version (the counts
 * of a live update in place, apart: cnio__cl_check_complete then lets a reader read). */
int cnio__cl_commit_under_way(struct cnio_obj *obj);
/*
 * Finishes a commit that reached column 0's host and stopped before it reached others
 * (doc/protocol.md, "Finishing a commit"): s[0..n) are the STATs of name on the object's
 * hosts in column order (cnio__cl_stat_each). On each host j that holds an upload of
 * the name no live writer holds, beside or instead of column 0's generation, sends
 * FINISH with column 0's generation and commit order; the host commits its instance
 * of that generation if a PREPARE made it ready, as the COMMIT the writer did not send
 * would have. Only where every server involved can say (CNIO_WIRE_CAP_FINISH and
 * CNIO_WIRE_CAP_LIVE). How many hosts finished (0: none could; open or STAT again
 * after 1 or more); a host's refusal is logged with its reason.
 */
int cnio__cl_finish(struct cnio_stack *st, const char *name, const struct cnio__cl_stat *s,
                    int n);
/* A new control connection to host j of obj, one lane over TCP (a fabric's control goes
 * over TCP), authenticated with the object's key, into *fresh: what the commit and the
 * abort use once the handle's own connection broke. retry: tried for about 3 s, as a
 * server restarts (cnio__cl_reconnect), else once. 0, -CNIO_ERR_CONN without a key, or
 * cnio__cl_reconnect's error; release with cnio__cl_disconnect(fresh, 1) either way
 * (client_finish.c). */
int cnio__cl_fresh_conn(struct cnio_obj *obj, int j, int retry, struct cnio__cl_host *fresh);
/* Column 0's COMMIT failed with ret because its connection broke: the commit made on
 * that host over a new connection, unless the first one had made it (a STAT says), with
 * the order the host picks (CNIO_WIRE_CAP_FINISH_ORDER). 0 with *order, or ret, what
 * became of the upload said (client_finish.c). */
int cnio__cl_first_again(struct cnio_obj *obj, int ret, uint64_t *order);
/* COMMIT with order on columns 1.. failed with ret, after column 0's host committed:
 * FINISH over a new connection on each host whose connection broke. 0 when every such
 * host finished and no other failed; else ret, each host that could not named
 * (client_finish.c). */
int cnio__cl_finish_lost(struct cnio_obj *obj, uint64_t order, int ret);
/* 1 when every connection of obj to host j is broken (or it has none). */
int cnio__cl_host_lost(const struct cnio_obj *obj, int j);
/* Of an object some of whose hosts hold another generation than column 0's: 1 when
 * state (CNIO_OBJ_* bits, with LIVE and LIVE_KNOWN as STAT with F_LIVE gives them) says
 * a commit may be under way: an upload of the name is staged beside the object, and a
 * live writer holds it, or the servers cannot say whether one does. */
int cnio__cl_settling(uint32_t state);
/* PREPARE on every host; UNLINK of the name on the URI's hosts past obj's columns (one
 * that fails refuses the commit, the upload kept); then COMMIT of the staged instance,
 * column 0's host first where the servers order commits (client_commit.c). */
int cnio__cl_commit(struct cnio_obj *obj);
/* How cnio__cl_apart counts host j: not at all (its count unknown), or as one whose last
 * update in place closed cleanly, or was interrupted (I_DIRTY, I_INTERRUPTED). */
#define CNIO__APART_SKIP 0
#define CNIO__APART_CLEAN 1
#define CNIO__APART_DIRTY 2
/*
 * What hosts[0..n) of one object, of one generation, tell by their update counts upd[j]
 * (doc/protocol.md, "Update counts"), each counted as role[j] says: CNIO_APART_DIRTY when
 * the clean hosts agree and the marked ones are one update behind them or level (an
 * update interrupted there); CNIO_APART_ODD when more than half the clean hosts agree
 * and the others are behind them (columns restored from a backup); CNIO_APART_UNSURE
 * when they disagree otherwise (two hosts: either may be the odd one); 0 when they agree
 * and none is marked. Writes into buf (cap bytes) the clause naming the host(s)
 * concerned, as "an update in place was interrupted on host H (...)", "host H holds its
 * column as of an earlier update in place (update U) than the other hosts (update V)",
 * "hosts H (update U) and K (update V) hold their columns as of different updates in
 * place"; "" for 0.
 */
int cnio__cl_apart(const struct cnio__cl_host *hosts, int n, const uint32_t *upd,
                   const uint8_t *role, char *buf, size_t cap);
/* cnio__cl_apart of hosts whose whole generations (their .gen: an OPEN reply's or a STAT
 * reply's header) agree, each count told from its INFO gen (cnio__wire_gen_updates), a
 * host whose info says I_DIRTY marked: 0 where a generation differs or is unknown, a
 * count cannot be told, or a host holds an upload, a commit or a live writer in place. */
int cnio__cl_apart_gens(const struct cnio__cl_host *hosts, int n, char *buf, size_t cap);
/* 1 when a reader's hosts hold one generation (their OPEN replies' headers) and its STATs
 * s[0..obj->nhosts), state (CNIO_OBJ_*) being what they say, find them apart by their
 * update counts alone: every STAT answered, each count told, nothing staged, marked,
 * pending or committing, and no writer in place live on any host. */
int cnio__cl_apart_alone(const struct cnio_obj *obj, const struct cnio__cl_stat *s,
                         uint32_t state);
/* A writer in place's STAT by handle of every host (F_INPLACE | F_OTHERS): 1 when one
 * says writers other than this one hold the object there, or one's update closed there
 * to be counted by the last close; 0 when none does; -CNIO_ERR_NOTSUP when a host's
 * server does not take the question (before CNIO_WIRE_CAP_OTHERS); or the STAT's error.
 * The hosts' infos stay what the open said. */
int cnio__cl_others(struct cnio_obj *obj);
/*
 * A reader whose hosts are apart by their update counts alone (cnio__cl_apart_alone):
 * either a column of another update in place (restored from a backup), or a writer's
 * close caught between two hosts, its count recorded on some and, as the reader's OPEN
 * and STAT found them, not yet on the others. A server now answers a STAT with its
 * writers and its count as of one moment (cnio__srv_store_inplace), so against such
 * servers this takes a whole update of another writer closing on one host between two
 * hosts' answers (each host answers at its own moment); a server before that read the
 * count first and looked for writers after, and a last close ending between the two
 * left it behind with no writer said. STATs the hosts again into s, 1 ms after
 * these doubling, at most 7 times (about 130 ms) and never longer than cnio_timeout_ms:
 * 1 as soon as one says anything the open's replies did not (open again, and judge what
 * the hosts hold then); 0 when none did, or a STAT failed: the hosts are apart at rest.
 */
int cnio__cl_apart_again(struct cnio_obj *obj, struct cnio__cl_stat *s);
/* Adds to *state (CNIO_OBJ_*) what info says, gen0 being column 0's generation. */
void cnio__cl_state(uint32_t *state, const struct cnio_wire_info *info, uint32_t gen0);
/*
 * Connects (all lanes, waiting for the handshakes) every host j with need[j] (need NULL:
 * every host) that has no lanes yet: what a transfer or control call on a process
 * attached on demand does first (client_conn.c). A set-up the server's budget refuses is
 * tried again after a growing pause, until cnio_timeout_ms has passed. When obj is
 * transient, the hosts connected here are marked to close at cnio__cl_release. 0 or the
 * first error; a host that failed is left without lanes.
 */
int cnio__cl_ensure(struct cnio_obj *obj, const uint8_t *need);
/* At the end of a call: closes the lanes cnio__cl_ensure opened for it alone (transient
 * objects), so that the server's count of the job's connections drops. */
void cnio__cl_release(struct cnio_obj *obj);
/* Marks in need[0..nhosts) (not cleared first) the columns the pieces x[0..n) touch. */
void cnio__cl_columns(const struct cnio_obj *obj, const struct cnio_xfer *x, size_t n,
                      uint8_t *need);
/*
 * Before obj sends anything: replaces every lane the server closed while it was idle
 * (--idle-timeout, a restart) with a new, authenticated connection, and where that lane
 * held obj's handle (the server released it), opens the object again on that host
 * (staged instance resumed, joined instance joined, in place or read-only as before).
 * Never replays a request: a lane that died with requests in flight is left dead.
 * 0, or the error that stopped it (logged, naming the host): -CNIO_ERR_STALE when the
 * host no longer knows the open (a rank's token refused; or, opened again, the object
 * was replaced there meanwhile), -CNIO_ERR_CONN when it cannot be reached, ...
 */
int cnio__cl_revive(struct cnio_obj *obj);
/*
 * A new endpoint to host (at host->addr: a host connected before), authenticated with
 * auth, in *nep (the caller's to close, dead or not): 0, or the error of the last try.
 * With retry and the key, a connection refused or reset (a restarted server not
 * listening yet) is tried again, 6 tries in all, 100 ms apart and twice that each time,
 * never past about 3.5 s nor h->timeout_ms; the stack is progressed meanwhile. A token
 * is tried once (a restarted server does not know it). what names the object in the
 * debug lines. The one retry of reconnects (client_revive.c); nothing is logged at
 * error level: the caller says what failed.
 */
int cnio__cl_reconnect(struct cnio_stack *st, const struct cnio_hints *h,
                       const struct cnio__cl_host *host, const struct cnio_ep_auth *auth,
                       int retry, const char *what, struct cnio_ep **nep);
/* Logs, naming its host, each of calls c[0..n) (to hosts[0..n)) that failed with a status
 * neither the server explained (its reason is logged already) nor a dead connection
 * did; quiet 1: not -CNIO_ERR_NOENT nor -CNIO_ERR_EXIST, which the caller reports itself
 * (an object missing, or there under MPI_MODE_EXCL, is no fault of a host); quiet 2:
 * nor -CNIO_ERR_ISDIR (an open of a directory's name: cp copies into it); quiet 3: only
 * not -CNIO_ERR_INCOMPLETE (columns 1.. of an object, which may be a commit to finish). */
void cnio__cl_name_failures(const char *path, const char *op, const struct cnio__cl_host *hosts,
                            const struct cnio_call *c, int n, int quiet);
/* Frees obj and everything it holds (endpoints closed, no CLOSE sent). */
void cnio__cl_free(struct cnio_obj *obj);
/*
 * The one parser of an object description (cnio__obj_export's bytes, client_export.c),
 * which another process hands over and which is therefore untrusted: every length is
 * checked before use. On success *out is a new object holding no stack and no
 * connections: layout, hints, path, each host's name, port, address, handle and fabric
 * address, and the tokens (obj->tokens, one per host) for the rank the description was
 * made for (obj->rank). cnio__obj_attach and cnio__obj_attach_on_demand parse with it;
 * the fuzz target tests/fuzz/fuzz_attach.c calls it alone. 0; -CNIO_ERR_PROTO for bytes
 * that are not a description (CRC, lengths, a value out of range, bytes left over);
 * -CNIO_ERR_INVAL, -CNIO_ERR_NOMEM. Free with cnio__cl_free.
 */
int cnio__obj_desc_parse(const void *desc, size_t len, struct cnio_obj **out);

/* ---- the LIST merge (client_list.c) ---------------------------------------------------- */

/* One entry of a LIST reply, from the URI's host `host`. */
struct cnio__cl_lent {
    char *name;
    struct cnio_wire_info info;
    int host;
};

/* The entries of one directory gathered from its hosts' LIST replies. */
struct cnio__cl_list {
    struct cnio__cl_lent *e;
    size_t n, cap;
};

/*
 * The entries of one LIST reply payload of host (buf, len bytes from a server: untrusted,
 * every length checked before use) appended to l: 0, -CNIO_ERR_PROTO (a malformed entry,
 * or one whose name is not one component a store holds: a '/' in it, a leading '.', more
 * than CNIO_NAME_COMPONENT_MAX bytes), -CNIO_ERR_NOMEM. The entries before such an entry
 * stay in l.
 */
int cnio__cl_list_take(struct cnio__cl_list *l, const uint8_t *buf, size_t len, int host);
/*
 * Sorts l by name and calls fn once per name, in strcmp order, with the entries of that
 * name from the URI's nhosts hosts merged: a directory, or this URI's object (column j
 * on host j) and its state (CNIO_OBJ_*). 0, or fn's first nonzero return (no call after
 * it). l stays the caller's.
 */
int cnio__cl_list_each(struct cnio__cl_list *l, int nhosts,
                       int (*fn)(const char *name, const struct cnio_obj_stat *s, void *arg),
                       void *arg);
/* Frees what l holds and empties it. */
void cnio__cl_list_free(struct cnio__cl_list *l);

#endif /* CNIO_CLIENT_INT_H */
