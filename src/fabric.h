/*
 * fabric.h - what the client's ofi transport (transport_ofi.c) and cnio-server's fabric
 * endpoints (server/fabric.c) share: opening one libfabric RDM endpoint with tagged
 * messages, and the tag layout of the conversation over it.
 *
 * One frame (64-byte header + payload, as on TCP) is one tagged message. Large messages
 * move by the provider's rendezvous (ofi_rxm, ofi_rxd and shm read the payload straight
 * from the sender's registered buffer, registering through their own caches), so
 * neither side copies a payload.
 *
 * Tags:
 *   client -> server  FAB_TAG_HELLO | client connection id (16 bits): payload = the
 *                     client's fabric address; the server answers with a CHALLENGE
 *                     tagged (client id, request id 0)
 *                     FAB_TAG_BYE | server connection id: the client closed it;
 *                     payload = the connection's 64-bit session id (8 bytes, LE), or
 *                     before it has one the nonce of its CHALLENGE (32 bytes)
 *                     server connection id (32 bits): a frame
 *   server -> client  client connection id << 48 | low 48 bits of the request id
 * The server's connection id is not a secret, and the server cannot tell who sent a
 * message (no provider cnio uses reports the sender reliably: server/fabric.c). So a
 * message proves itself its connection's client's by what it carries: a BYE its session
 * id or CHALLENGE nonce (fab_msg.h: cnio__fab_bye_parse), a frame its session id (before
 * AUTH: a well-formed AUTH). One that does not is dropped and leaves the connection be;
 * an empty BYE (a client older than this) closes nothing: the connection ends at the
 * authentication deadline or --idle-timeout. doc/protocol.md has the details.
 */
#ifndef CNIO_FABRIC_H
#define CNIO_FABRIC_H

#include "common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define CNIO_FAB_ADDR_MAX 256
#define CNIO_FAB_PROV_MAX 48
#define CNIO_FAB_TAG_HELLO (1ull << 63)
#define CNIO_FAB_TAG_BYE (1ull << 62)
#define CNIO_FAB_TAG_ID 0xffffffffull
/* Largest payload of a frame over a fabric (a stripe piece is 1 MiB). */
#define CNIO_FAB_MAX_PAYLOAD (1u << 20)

static inline uint64_t cnio__fab_reply_tag(uint16_t client_id, uint64_t reqid)
{
    return ((uint64_t)client_id << 48) | (reqid & 0xffffffffffffull);
}

struct fi_info;
struct fid_fabric;
struct fid_domain;
struct fid_av;
struct fid_cq;
struct fid_ep;

/* One peer address in the address vector, counted (shm maps one region per peer: two
 * entries of one peer must not be removed separately). */
struct cnio_fab_peer {
    uint8_t addr[CNIO_FAB_ADDR_MAX];
    size_t len;
    uint64_t fi_addr;
    int refs;
    int pid;                    /* shm, guarded: the peer's process (0: unknown) */
    unsigned long long start;   /* ... and when it started (/proc/PID/stat) */
};

struct cnio_fab {
    struct fi_info *info;
    struct fid_fabric *fabric;
    struct fid_domain *domain;
    struct fid_av *av;
    struct fid_cq *cq;
    struct fid_ep *ep;
    uint8_t name[CNIO_FAB_ADDR_MAX];   /* this endpoint's address */
    size_t namelen;
    char prov[CNIO_FAB_PROV_MAX];       /* "tcp;ofi_rxm", "udp;ofi_rxd", "shm", ... */
    size_t iov_limit;
    struct cnio_fab_peer *peers;
    int npeers, peers_cap;
    /* Guarded shm endpoints (cnio__fab_guard, fab_live.c): */
    int shm;                    /* 1: peers' processes are checked, calls are timed */
    int dead;                   /* 0, or -CNIO_ERR_CONN: a peer died, or the transport
                                 * closed it (transport_ofi_conn.c); never entered again */
    int dead_pid;
    int64_t live_ms;            /* when the peers were last checked */
    int watch_ms;               /* a call longer than this, with a peer dead: exit */
    _Atomic int64_t in_call;    /* when the running call into libfabric began, or 0 */
    int64_t own_held_call;      /* the watchdog saw our region's lock held in this call */
    struct cnio_fab *watch_next;
};

/*
 * Opens an RDM endpoint with tagged messages from provider prov ("tcp;ofi_rxm", "shm",
 * "udp;ofi_rxd", ... NULL or "": the best available, which is libfabric's first choice
 * that is neither shm (one host only) nor a datagram emulation; FI_PROVIDER narrows the
 * choice). node: the local address to bind (HOST, or HOST:PORT for IPv4 and names), or NULL.
 * 0, -CNIO_ERR_NOTSUP (no such provider, or built without libfabric), -CNIO_ERR_IO.
 */
int cnio__fab_open(const char *prov, const char *node, struct cnio_fab *f);
/* The address vector entry of addr (len bytes), inserted on first use and counted:
 * 0 (*fi_addr set) or -CNIO_ERR_CONN (not an address of this provider) / NOMEM.
 * cnio__fab_av_put drops one use. Not thread-safe: one thread per endpoint. */
int cnio__fab_av_get(struct cnio_fab *f, const void *addr, size_t len, uint64_t *fi_addr);
void cnio__fab_av_put(struct cnio_fab *f, uint64_t fi_addr);
/* Closes what cnio__fab_open opened (f zeroed). */
void cnio__fab_close(struct cnio_fab *f);
/* A libfabric error (negative FI_E* / errno) as a negative CNIO_ERR_* code. */
int cnio__fab_err(int fi_err);
/* The provider name the transport name and provider hint stand for: "udp" is
 * "udp;ofi_rxd"; "ofi" is hint (may be "": the best). */
const char *cnio__fab_provider(const char *transport, const char *hint);
/* 1 when this build has libfabric. */
int cnio__fab_available(void);
/*
 * Loading libfabric and initialising its providers (its first fi_getinfo) costs a process
 * about 0.3 s once, most of it asleep (fabric_dl.h): 0.20 s of dlopen and 0.09 s of the
 * first fi_getinfo on the 2-core development machine. cnio__fab_warm starts that on a
 * thread of its own (once per process; later calls, and a build without libfabric, do
 * nothing) so that it overlaps what the caller does next; cnio__fab_warm_wait returns
 * once it is over (at once when it never started). Either way, the first
 * cnio__fab_open waits for a load in progress rather than starting its own.
 */
void cnio__fab_warm(void);
void cnio__fab_warm_wait(void);

/*
 * Peer liveness outside libfabric, for shm endpoints (fab_live.c). libfabric 1.17's shm
 * provider spins (pthread_spin_lock, no bound) on a lock in a peer's shared region; a
 * peer killed while it held it traps every later send or progress call of ours forever.
 *
 * cnio__fab_guard(f, timeout_ms): on an shm endpoint (no-op on others), turns on the
 * checks: each peer's process is learnt from its address (cnio names regions
 * "fi_shm://cnio-PID-RANDOM"), and the process's watchdog thread (started with its first
 * guarded endpoint; it wakes every second) watches f's calls into libfabric: one that
 * has not returned after CNIO_FAB_RESCUE_MS while a peer is dead gets the lock the dead
 * peer left held released (cnio__fab_rescue); one that has not returned after
 * max(timeout_ms, 10 s) while a peer is dead prints one line to stderr and ends the
 * process with status CNIO_FAB_WATCHDOG_EXIT. 0 or -CNIO_ERR_NOMEM.
 * cnio__fab_close undoes it.
 */
#define CNIO_FAB_LIVE_MS 10           /* a peer check is reused this long */
#define CNIO_FAB_WATCH_MIN_MS 10000
#define CNIO_FAB_WATCHDOG_EXIT 70
int cnio__fab_guard(struct cnio_fab *f, int timeout_ms);
/* The same with the watchdog's bound exactly watch_ms (a test's shorter bound). */
int cnio__fab_guard_ms(struct cnio_fab *f, int watch_ms);
/* 0 while every peer of a guarded endpoint is alive, else -CNIO_ERR_CONN, for good: the
 * caller must not call into libfabric on f again (but cnio__fab_close). cnio__fab_live
 * reuses a check CNIO_FAB_LIVE_MS old (sends and completion reads); cnio__fab_live_now
 * does not (the rare BYE). Any endpoint whose dead is set: that at once; 0 at once for
 * other endpoints not guarded. */
int cnio__fab_live_check(struct cnio_fab *f, int fresh);
static inline int cnio__fab_live(struct cnio_fab *f)
{
    return f->dead ? f->dead : f->shm ? cnio__fab_live_check(f, 0) : 0;
}
static inline int cnio__fab_live_now(struct cnio_fab *f)
{
    return f->dead ? f->dead : f->shm ? cnio__fab_live_check(f, 1) : 0;
}
/* Around every call into libfabric on f: the watchdog's clock (guarded endpoints only). */
static inline void cnio__fab_enter(struct cnio_fab *f)
{
    if (f->shm)
        atomic_store_explicit(&f->in_call, cnio__now_ms(), memory_order_relaxed);
}
static inline void cnio__fab_leave(struct cnio_fab *f)
{
    if (f->shm)
        atomic_store_explicit(&f->in_call, 0, memory_order_relaxed);
}
/* The state of process pid: 1 running (or sleeping, stopped...), 0 dead (a zombie,
 * exiting, SIGKILL pending, or another process than the one that started at *start:
 * *start is set when 0), -1 gone (no /proc/PID). Unreadable for another reason: 1. */
int cnio__proc_state(int pid, unsigned long long *start);
/* The process id in an shm address cnio named ("fi_shm://cnio-PID-..."), or 0. */
int cnio__fab_shm_pid(const void *addr, size_t len);
/* The pid namespace in an shm address cnio named with one ("fi_shm://cnio-PID-NS-RANDOM",
 * NS the inode of the namer's /proc/self/ns/pid in hex), or 0 (none said). */
unsigned long long cnio__fab_shm_pidns(const void *addr, size_t len);
/* This process's pid namespace (the inode of /proc/self/ns/pid), or 0 when unknown. */
unsigned long long cnio__fab_own_pidns(void);
/* For fabric.c: the peers array of a guarded endpoint is moved, and entries counted in
 * or out, under this lock (the watchdog reads pids and start times); no-ops if f is not
 * guarded. */
void cnio__fab_guard_lock(struct cnio_fab *f);
void cnio__fab_guard_unlock(struct cnio_fab *f);
/* A new peer of a guarded endpoint: its pid and start. 0, or -CNIO_ERR_CONN (dead). */
int cnio__fab_guard_peer(struct cnio_fab *f, struct cnio_fab_peer *p);
void cnio__fab_unguard(struct cnio_fab *f);
/*
 * Releasing a lock a dead peer left held (fab_rescue.c; libfabric 1.17's shm region
 * layout, checked first): called by the watchdog, under its lock, for a guarded call that
 * began at call_began and has not returned for CNIO_FAB_RESCUE_MS while peer dead_pid is
 * dead. cnio__fab_region_map maps the header of the region of shm address addr if it is
 * 1.17's for process pid (else NULL); cnio__fab_region_lock is its lock.
 */
#define CNIO_FAB_RESCUE_MS 1000
void cnio__fab_rescue(struct cnio_fab *f, int64_t call_began, int dead_pid);
void *cnio__fab_region_map(const void *addr, size_t len, int pid);
void cnio__fab_region_unmap(void *hdr);
pthread_spinlock_t *cnio__fab_region_lock(void *hdr);

#endif /* CNIO_FABRIC_H */
