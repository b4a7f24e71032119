/*
 * shim.h - internals of libcnio_sockets.so shared by shim.c (set-up, the conversation
 * with the proxy, counters), shim_connect.c (connect), shim_names.c (name lookups),
 * shim_pending.c (outcomes of non-blocking connects) and shim_down.c (the mark that the
 * job was told its proxy is lost).
 * Nothing here is exported: the library exports only the libc names it interposes.
 */
#ifndef CNIO_SHIM_H
#define CNIO_SHIM_H

#include "skenv.h"
#include "skproto.h"
#include "skwindow.h"

#include <netdb.h>
#include <stdint.h>
#include <sys/socket.h>

#define SHIM_EXPORT __attribute__((visibility("default")))

struct epoll_event;

/* The libc functions underneath (dlsym RTLD_NEXT), resolved by shim_init. */
struct shim_real {
    int (*connect)(int, const struct sockaddr *, socklen_t);
    int (*getaddrinfo)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
    void (*freeaddrinfo)(struct addrinfo *);
    struct hostent *(*gethostbyname)(const char *);
    struct hostent *(*gethostbyname2)(const char *, int);
    int (*gethostbyname_r)(const char *, struct hostent *, char *, size_t, struct hostent **,
                           int *);
    int (*gethostbyname2_r)(const char *, int, struct hostent *, char *, size_t,
                            struct hostent **, int *);
    int (*getsockopt)(int, int, int, void *, socklen_t *);
    int (*close)(int);
    int (*epoll_ctl)(int, int, int, struct epoll_event *);
    int (*getnameinfo)(const struct sockaddr *, socklen_t, char *, socklen_t, char *,
                       socklen_t, int);
};

extern struct shim_real shim_real;
extern struct cnio__sk_conf shim_conf;

/* Counters printed at exit with CNIO_STATS=1 (updated atomically). */
struct shim_counters {
    uint64_t connects, managed, failed_fast, fallbacks, admit_wait_ms, names, names_proxy;
    uint64_t unpaced;   /* managed connects the program's own limit sent on before admission */
};
extern struct shim_counters shim_count;

/* Resolves the real functions and reads the knobs, once; safe from any thread. */
void shim_init(void);

/* 1 while a proxy is configured and has not failed us. */
int shim_proxy_on(void);

/* Notes that the proxy failed (what: why), logs once, and turns the proxy off for the
 * rest of this process: everything then goes to libc. */
void shim_proxy_failed(const char *what);

/* The mark that the job was told its proxy is lost (shim_down.c). shim_down_init, at
 * load: the mark's places for the proxy at sock (beside it, else in the run directory),
 * and this process's top process, from CNIO_SOCKETS_TOP, else itself (then named there
 * for its children). shim_down_first (async-signal-safe): 1 when this process is the
 * first of its job to find the proxy lost, and is to say so, once for the job; 0 when
 * the job was told; 2 when no mark can be made in either place, so that each process
 * of the job says so (the process that makes a mark leaves a detached watcher that
 * removes it once the top process it names has ended, however that ends). shim_down_exit,
 * at exit: the top process removes a mark that names it. */
void shim_down_init(const char *sock);
/* 1 when a mark names this process's job, whose top process still runs: the job was
 * told its proxy is lost (a process that starts later goes on without it). */
int shim_down_told(void);
int shim_down_first(void);
void shim_down_exit(void);

/*
 * One conversation with the proxy: a fresh connection (non-blocking, close-on-exec).
 * Returns the fd, or -1 (the proxy is unreachable: the caller falls back to libc).
 */
int shim_rpc_open(void);
/* Sends the n bytes of one encoded message; 0, or -1. Bounded by the proxy time-out. */
int shim_rpc_send(int fd, const void *buf, size_t n);
/* Receives the next message's bytes into buf (cap bytes, at least the header), waiting
 * at most the proxy time-out: its length, or -1 (EPROTO: longer than cap). */
int shim_rpc_recv(int fd, void *buf, size_t cap);
/* The same for a small message, encoded and decoded on the caller's stack (a few hundred
 * bytes in all: connect, its outcome reports and the session run on signal handlers'
 * and small threads' stacks). 0, or -1 (EPROTO: not a small message). */
int shim_rpc_send_small(int fd, const struct cnio__skp_small *m);
int shim_rpc_recv_small(int fd, struct cnio__skp_small *m);
/* Closes fd keeping errno. */
void shim_rpc_close(int fd);

int64_t shim_now_ms(void);

/* How a setup ended (enum cnio__skw_outcome) from connect's result, errno and duration. */
int shim_outcome(int rc, int err, int64_t ms);

/* A non-blocking setup on fd said EINPROGRESS (shim_pending.c): remembers its admission's
 * token until getsockopt(SO_ERROR), connect once more, epoll_ctl or close tells how it
 * ended (then reported on a connection of its own). Nothing is kept for an fd beyond the
 * table's range. */
void shim_pend_arm(int fd, uint64_t token, int64_t t0);
/* The application's connect() again on fd, whose setup may be pending, returned rc with
 * errno err (shim_pending.c): 0 or EISCONN is a completed setup, EALREADY, EINPROGRESS
 * or EINTR one still under way, another errno its failure. Keeps errno. */
void shim_pend_connect_said(int fd, int rc, int err);

#define SHIM_ADD(field, v) __atomic_add_fetch(&shim_count.field, (v), __ATOMIC_RELAXED)

#endif /* CNIO_SHIM_H */
