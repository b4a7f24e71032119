/*
 * fixture.h - test helpers: start cnio-servers on free loopback ports with fresh roots
 * and a fresh key, and stop them. The server binary is $CNIO_SERVER_BIN (set by the
 * test harness), else "cnio-server" on PATH. Every wait is bounded.
 */
#ifndef CNIO_TEST_FIXTURE_H
#define CNIO_TEST_FIXTURE_H

#include <check.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FX_MAX_SERVERS 8

struct fx {
    int n;
    pid_t pid[FX_MAX_SERVERS];
    uint16_t port[FX_MAX_SERVERS];
    char root[FX_MAX_SERVERS][PATH_MAX];   /* each server's --root */
    char dir[128];                         /* temp dir holding roots, key, logs */
    char key[PATH_MAX];                    /* key file (mode 0600) */
    char hosts[512];                       /* "127.0.0.1:p1,127.0.0.1:p2" */
};

/*
 * Creates a temp dir with a fresh key and n roots, starts n servers
 * (cnio-server --root R --listen 127.0.0.1:0 --port-file F --key K extra...),
 * waits (bounded, 30 s) until each has written its port, and sets CNIO_KEY_FILE to the
 * key so the library finds it. extra: NULL-terminated extra arguments, or NULL.
 * Returns 0, or -1 after cleaning up (and printing why).
 */
int fx_start(struct fx *f, int n, const char *const *extra);
/* Stops server i with sig (SIGTERM/SIGKILL) and waits for it (bounded); returns its
 * wait status, or -1. */
int fx_kill(struct fx *f, int i, int sig);
/* Starts server i again on its root (it must have stopped: fx_kill), on a new port
 * (hosts is rewritten): 0, or -1. */
int fx_restart(struct fx *f, int i, const char *const *extra);
/* Starts server i again (it must have stopped: fx_kill) on its root and its own port,
 * delay_ms from now: returns at once, while nothing listens there yet (a server still
 * starting after a restart); 0, or -1. */
int fx_restart_late(struct fx *f, int i, int delay_ms, const char *const *extra);
/* Sends server i SIGSTOP and waits (bounded, 5 s) until every one of its threads is
 * stopped, so that nothing it has not done yet happens after the call: 0, or -1. */
int fx_sigstop(struct fx *f, int i);
/* Stops every server still running (SIGTERM, then SIGKILL after 10 s) and removes dir. */
void fx_stop(struct fx *f);
/* Writes "cnio://HOSTS/path[?query]" into buf; returns buf. */
char *fx_uri(const struct fx *f, const char *path, const char *query, char *buf, size_t cap);
/* Path of the local stripe file of object `name` on server i, into buf. */
char *fx_local_path(const struct fx *f, int i, const char *name, char *buf, size_t cap);
/* Fills buf with deterministic pseudo-random bytes from seed. */
void fx_fill(void *buf, size_t len, uint64_t seed);
/* Seconds on the monotonic clock: how long a call took is the difference of two. */
double fx_now_s(void);
/* A TCP connection to server i (blocking, 5 s send/recv timeouts), or -1. */
int fx_connect(const struct fx *f, int i);

/* Runs suite s (Check's default fork mode, SIGPIPE ignored) and frees it: the
 * process's exit status, EXIT_FAILURE when any test failed. */
int fx_run(Suite *s);

#endif /* CNIO_TEST_FIXTURE_H */
