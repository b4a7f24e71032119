/*
 * proxy.h - the job proxy's internals, shared by proxy.c (event loop, clients),
 * proxy_admit.c (admission per destination), proxy_names.c (name cache),
 * proxy_job.c (one proxy per job), proxy_relay.c (a conversation relayed to the job
 * proxy), proxy_files.c (socket file, log), proxy_sweep.c (dead proxies' leftovers) and
 * proxy_stats.c (the report's text, the `stats` command).
 */
#ifndef CNIO_PROXY_H
#define CNIO_PROXY_H

#include "skenv.h"
#include "skproto.h"
#include "skwindow.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum px_state { PX_IDLE, PX_QUEUED, PX_HOLDING };

struct px_dest;
struct px_relay;
struct px_text;

struct px_client {
    int fd;
    int session;              /* sent HELLO: a live application process */
    int pid, rank;
    enum px_state state;
    struct px_dest *dest;     /* when QUEUED or HOLDING */
    struct px_client *qnext;  /* FIFO of the destination's queue */
    int64_t since_ms;         /* when queued / admitted */
    int64_t deadline_ms;      /* the shim's connect deadline */
    int64_t beat_ms;          /* last heartbeat sent while queued */
    uint64_t seq;             /* its admission's sequence number (skwindow.h) */
    uint64_t token;           /* its admission's token, sent with GO (px_late) */
    int dead;                 /* a send failed: the loop drops it */
    void *name_wait;          /* the name lookup it waits for (proxy_names.c) */
    struct px_client *wnext;  /* the other waiters of that lookup */
    int up;                   /* a node proxy: its connection to the job proxy, or -1 */
    struct px_relay *relay;   /* and that conversation's state (proxy_relay.c), or NULL */
    int auth;                 /* the job proxy: a TCP peer that has not proved the key */
    int relayed;              /* the job proxy: a TCP peer (another node's conversation) */
    unsigned char nonce[32];  /* the nonce it was sent */
    size_t inlen;
    unsigned char in[CNIO__SKP_MAX];
};

/* A completed setup still holding its slot for the settle time (see proxy_admit.c). */
struct px_cool {
    int64_t at;
    struct px_cool *next;
};

struct px_dest {
    struct sockaddr_storage sa;
    socklen_t salen;
    int node_local;              /* an address of this node, asked from this node: apart */
    char label[64];
    struct cnio__skw w;
    struct px_client *qhead, *qtail;
    struct px_cool *cool_head;   /* slots still held after their setup, soonest first */
    unsigned nqueued;
    uint64_t wait_ms_total, queued_fail, late;
    int64_t last_ms;
    struct px_dest *next;
};

/* A non-blocking setup that went on in the background (INPROGRESS): its OUTCOME may
 * come later, on any connection, naming its token (proxy_admit.c). */
struct px_late {
    uint64_t token, seq;
    struct sockaddr_storage sa;   /* the destination's key */
    socklen_t salen;
    int node_local;
    int64_t expires_ms;
    struct px_late *next, *prev;  /* oldest first */
    struct px_late *hnext;        /* same hash bucket */
};

#define PX_LATE_HASH 4096

struct px {
    struct cnio__sk_conf conf;
    int64_t beat_ms;          /* heartbeat period: a third of the shim's proxy time-out */
    struct px_dest *dests;
    unsigned ndests;
    uint64_t sessions_total;
    struct px_late *late_head, *late_tail, *late_hash[PX_LATE_HASH];
    unsigned nlate;
    uint64_t token_next;      /* random high half, counter low half */
};

/* Sends m to c (non-blocking; a client that cannot take a small reply is dropped by
 * the caller): 0 or -1. */
int px_send(struct px_client *c, const struct cnio__skp_msg *m);

/* Admission: handles ADMIT_REQ and DONE from c. 0, or -1 when c must be dropped. */
int px_admit_request(struct px *px, struct px_client *c, const struct cnio__skp_msg *m,
                     int64_t now);
int px_admit_done(struct px *px, struct px_client *c, const struct cnio__skp_msg *m,
                  int64_t now);
/* 1 when the OUTCOME m names a setup this proxy admitted (its token is known here). */
int px_admit_knows(struct px *px, const struct cnio__skp_msg *m);
/* OUTCOME (from any connection): what the non-blocking setup with its token came to,
 * learnt by the window, once per token (a forked child may tell too). 0. */
int px_admit_outcome(struct px *px, struct px_client *c, const struct cnio__skp_msg *m,
                     int64_t now);
/* c goes away: leaves its queue, or gives its slot back (outcome unknown). */
void px_admit_drop(struct px *px, struct px_client *c, int64_t now);
/* Deadlines and heartbeats of queued clients, expiry of abandoned slots and of
 * outcomes never reported (PX_LATE_MS); returns the
 * ms until the next timer (or 1000). Clients that fail a send are marked fd = -1. */
int64_t px_admit_tick(struct px *px, int64_t now);
/* Appends the destinations' counters to t, a line each ("dest ..."). */
void px_admit_report(struct px *px, struct px_text *t);

/* Names: starts the resolver threads; 0 or -1. */
int px_names_start(void);
/* The fd the loop polls for finished lookups, and what it calls when it is readable. */
int px_names_fd(void);
void px_names_ready(struct px *px, int64_t now);
/* Answers a GAI_REQ or GNI_REQ from c: at once from the cache, or once the lookup it
 * joins or starts is done. 0, or -1 (drop c: it asked twice at once, or no memory). */
int px_names_request(struct px *px, struct px_client *c, const struct cnio__skp_msg *req,
                     int64_t now);
/* c goes away: it no longer waits for its lookup. */
void px_names_drop(struct px_client *c);
/* Heartbeats to processes waiting for lookups; ms until the next one. */
int64_t px_names_tick(struct px *px, int64_t now);
/* Appends the names' counters to t ("names ...", then a "name ..." line each). */
void px_names_report(struct px_text *t);
void px_names_free(void);

int64_t px_now_ms(void);

/* `cnio-proxy stats PATH` (proxy_stats.c): prints the report of the proxy listening on
 * PATH; 0, or 1 with what is wrong said (PATH absent, not a socket, too long, no proxy
 * listening on it, no whole answer). */
int px_stats_print(const char *path);

/* The proxy's files (proxy_files.c). px_sock_listen: a listening unix socket at path
 * (mode 0600, backlog 4096), bound where there is nothing or a stale socket: the fd,
 * or -1 (said on stderr: path too long, not a socket, another proxy listens there, a
 * bind error). px_sock_unlink: removes path if it is still the socket px_sock_listen
 * bound. px_log_open: makes path the proxy's stdout and stderr, appended to; with
 * removable, a file it creates, or finds empty, is removed by px_log_remove (if it is
 * still that file); one it finds with something in it is a dead proxy's log, kept, and
 * px_log_kept then says 1: the proxy leaves its lock file beside it at exit, the mark
 * by which a later sweep removes both once old (proxy_sweep.c); 0 or -1 (said).
 * px_abs_path: path, or the working directory and path in buf (cap
 * bytes); NULL (said) when there is no working directory or it does not fit. */
int px_sock_listen(const char *path);
void px_sock_unlink(const char *path);
int px_log_open(const char *path, int removable);
void px_log_remove(const char *path);
int px_log_kept(void);
const char *px_abs_path(const char *path, char *buf, size_t cap);

/* What dead proxies of other jobs left in the run directory of lock_path (the proxy's
 * --lock, RUNDIR/KEY.lock): each other key's lock taken without waiting, a key whose
 * socket no process accepts on has its socket, mark and lock removed, and its log when
 * it is empty or a week old (else the log and its lock are kept); anything held, live,
 * or not of cnio's own names and types is left. Bounded (proxy_sweep.c); each key
 * swept is said on stderr. The number of keys swept. */
int px_sweep(const char *lock_path);

/* The proxy's report as it is built: text of any length, whole lines. A line that finds
 * no memory is left out and counted. */
struct px_text {
    char *buf;
    size_t len, cap;
    unsigned long lost;
};

/* Appends printf-formatted text to t. */
void px_text_add(struct px_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Cuts t to max bytes at most (max > 256) after a whole line, the lines left out said
 * in their place ("... N more destinations not shown", names, lines; lines lost for
 * want of memory too). */
void px_text_fit(struct px_text *t, size_t max);

/* One proxy per job (proxy_job.c). Sets up job mode from the environment: listens on TCP
 * on the head node, else opens a session with the job proxy (waiting conf.job_wait_ms at
 * most); 0 (also when there is no job mode or the job proxy is unreachable), or -1. */
int px_job_start(struct px *px);
/* The job proxy's TCP listener, the node proxy's session with it: fds, or -1. */
int px_job_listen_fd(void);
int px_job_session_fd(void);
/* The session with the job proxy ended: logs once, serves locally for a while (the same
 * happens when a relay cannot be opened in time: proxy_job.c). */
void px_job_session_lost(void);
/* A node proxy whose job proxy is down dials it again once the back-off is over, without
 * blocking: px_job_tick starts that re-dial and gives it up at its deadline (JOB_HS_MS),
 * and returns the ms until its next timer; the loop polls px_job_redial_fd (-1: none
 * under way; *events: what it waits for) and calls px_job_redial_ready when it is
 * ready, which carries the handshake on and makes it the session when it is done. */
int64_t px_job_tick(int64_t now);
int px_job_redial_fd(short *events);
void px_job_redial_ready(void);
/* Accepts a TCP peer and sends it its nonce: a new client (auth pending), or NULL. */
struct px_client *px_job_accept(void);
/* A TCP peer's proof of the key, once 64 bytes are in c->in: 0 (proved, or more bytes
 * needed: c->auth tells), or -1 (drop c). */
int px_job_auth(struct px_client *c);
/* A node proxy in job mode relays the request m of c to the job proxy: 1 when relayed
 * (c->up set: the bytes of c then pass through px_job_pass), 0 when it must be served
 * here. */
int px_job_relay_open(struct px *px, struct px_client *c, const struct cnio__skp_msg *m);
/* In job mode, 1 when sa is an address that names this node whatever other nodes have:
 * loopback, link-local, or an address on a loopback interface (a node-local service, an
 * anycast address); on another node the same address is another machine, or none, so
 * what a setup to it teaches stays on this node. A node's other addresses (its network
 * interfaces') are the job's: other nodes reach the same listener there. 0 outside job
 * mode. */
int px_job_node_local(const struct sockaddr_storage *sa);
/* Moves what fd from has to read to fd to (to_job: to is a relay to the job proxy); 0,
 * -1 (from is gone, or, from the job proxy, to does not take the bytes within a second),
 * or -2 (the job proxy does not take them within a second, taken for the job proxy down
 * as px_job_session_lost, or its connection is gone). */
int px_job_pass(int from, int to, int to_job);
/* The job proxy is down (what: "gone", "not answering"...): its session closed, said
 * once, this node served here alone until the next re-dial (as px_job_session_lost). */
void px_job_down(const char *what);

/* A conversation relayed to the job proxy (proxy_relay.c). px_relay_start, once it is
 * relayed: keeps req, the request, until the job proxy answers it; 0, or -1 (no memory:
 * px_job_relay_open then closes the relay, and the request is served here).
 * px_relay_back, when c->up is readable: passes what the job proxy sent on to the
 * process in whole messages; 0, -1 (the process must go), or -2 (the job proxy's side
 * ended or sent what is not a message: px_relay_lost). px_relay_silent: 1 when the job
 * proxy has not answered c and sent nothing for two heartbeat periods (px->beat_ms);
 * else 0, with *next lowered to the ms until that. px_relay_lost: the job proxy failed
 * c's conversation (what: how, for px_job_down when it had not answered yet): c->up
 * closed, the state freed; 1 with *req the request to serve here, as if asked now, 0
 * when it was answered (the conversation goes on here). px_relay_free: at c's end. */
int px_relay_start(struct px_client *c, const struct cnio__skp_msg *req, int64_t now);
int px_relay_back(struct px_client *c, int64_t now);
int px_relay_silent(const struct px *px, const struct px_client *c, int64_t now, int64_t *next);
int px_relay_lost(struct px_client *c, const char *what, struct cnio__skp_msg *req);
void px_relay_free(struct px_client *c);
/* Appends the job line to t ("job ..."), in job mode. */
void px_job_report(struct px_text *t);
void px_job_close(void);

#endif /* CNIO_PROXY_H */
