/*
 * config.h - URIs and hints: parsing and precedence (uri.c: the URIs; config.c: the
 * hints).
 *
 * URI: cnio://host[:port][,host[:port]...]/path[?key=value[&key=value...]]
 *   host: a name, an IPv4 address or an IPv6 address in brackets; port defaults to
 *   CNIO_DEFAULT_PORT. path: the object name beneath each server's root, after the one
 *   '/' that ends the hosts; its components are separated by single '/' (a leading or
 *   doubled '/' is refused); one trailing '/' names a directory. It must be non-empty
 *   for objects (may be empty for `cnio ls`: the root).
 *   The query holds hints, with the short URI names or the full hint names:
 *   stripe_unit (= striping_unit), stripe_count (= striping_factor), lanes (= cnio_lanes),
 *   transport (= cnio_transport), timeout_ms (= cnio_timeout_ms), and any full hint name.
 * Sizes accept K, M, G suffixes (powers of 1024).
 *
 * Hints, by precedence: MPI_Info (applied by collective/), then the URI query, then
 * CNIO_* environment variables (CNIO_STRIPE_UNIT, CNIO_LANES, ... : the hint name
 * without a "cnio_" prefix, upper-cased: CNIO_STRIPING_UNIT, CNIO_CB_NODES,
 * CNIO_TIMEOUT_MS, CNIO_KEY_FILE, ...), then defaults.
 */
#ifndef CNIO_CONFIG_H
#define CNIO_CONFIG_H

#include "common.h"
#include <limits.h>

#define CNIO_MAX_HOSTS 256
#define CNIO_HOSTNAME_MAX 255
#define CNIO_MAX_LANES 16

struct cnio_host {
    char name[CNIO_HOSTNAME_MAX + 1];
    uint16_t port;
};

struct cnio_uri {
    int nhosts;
    struct cnio_host *hosts;   /* nhosts entries, owned */
    char *path;                /* object name, no leading '/', owned; may be "" */
    char *query;               /* raw query without '?', owned; may be "" */
    int dir_slash;             /* the path ended in one '/' (dropped from path): it names
                                  a directory, which a file open refuses */
};

enum cnio_cb_mode { CNIO_CB_AUTOMATIC = 0, CNIO_CB_ENABLE, CNIO_CB_DISABLE };
/* cnio_connect_mode: when ranks connect to the servers (doc/scale.md). */
enum cnio_connect_mode { CNIO_CONNECT_ON_DEMAND = 0, CNIO_CONNECT_EAGER };
/* cnio_route: how a job's collective traffic reaches a server (doc/scale.md). */
enum cnio_route { CNIO_ROUTE_AUTOMATIC = 0, CNIO_ROUTE_DIRECT, CNIO_ROUTE_AGGREGATE };

struct cnio_hints {
    uint64_t striping_unit;    /* striping_unit: stripe unit S in bytes (default 1 MiB) */
    uint32_t striping_factor;  /* striping_factor: stripe count C (0 = all hosts) */
    uint32_t cb_nodes;         /* cb_nodes: aggregators, 1..2^24 (0: unset, the stripe count) */
    uint64_t cb_buffer_size;   /* cb_buffer_size (default 16 MiB) */
    int romio_cb_write;        /* enum cnio_cb_mode */
    int romio_cb_read;
    uint64_t cb_direct_min;    /* cnio_cb_direct_min: automatic goes direct when every rank's
                                  pieces average at least this many bytes (16 KiB) */
    int romio_ds_read;         /* enum cnio_cb_mode: data sieving of independent reads
                                  (collective/access.c): automatic (gaps up to 16 KiB),
                                  enable (any gap within the buffer), disable */
    uint64_t ind_rd_buffer_size; /* ind_rd_buffer_size: the most one sieving read spans
                                  (default 4 MiB, as ROMIO's) */
    uint32_t lanes;            /* cnio_lanes: connections per rank and host (default 1) */
    int timeout_ms;            /* cnio_timeout_ms: bound on every network wait (30000) */
    int connect_window;        /* cnio_connect_window: concurrent connects per server (16) */
    char transport[16];        /* cnio_transport: "tcp" (default), "ofi", "udp" */
    char key_file[PATH_MAX];   /* cnio_key_file: "" = $CNIO_KEY_FILE, then default */
    int resume;                /* cnio_resume: an open for writing reopens the newest staged
                                  instance of the name (an interrupted upload) */
    int replace;               /* cnio_replace: an open with MPI_MODE_CREATE writes a fresh
                                  staged instance even when the object exists; the object
                                  is replaced whole at close */
    uint32_t max_conns_per_server; /* cnio_max_conns_per_server: connections one job may
                                  hold on one server (default 512, half of cnio-server's
                                  default --max-conns) */
    int connect_mode;          /* cnio_connect_mode: enum cnio_connect_mode: on_demand
                                  (default: a rank connects to a server when its access first
                                  touches it, paced per server) or eager (every rank to every
                                  server at open, in barrier-separated waves) */
    int route;                 /* cnio_route: enum cnio_route: automatic (default: through
                                  aggregators when ranks x lanes would exceed the budget),
                                  direct, aggregate */
    int lost_abort_ms;         /* cnio_lost_abort_ms: the MPI-IO interposition aborts the
                                  job when a file that lost a server is still open this
                                  long after (collective/mpiio_lost.c; 60000, 0: never) */
    char ofi_provider[48];     /* cnio_ofi_provider: the libfabric provider of transport
                                  "ofi" ("tcp;ofi_rxm", "shm", ...; "" = the best one
                                  available; FI_PROVIDER narrows the choice) */
};

/*
 * Parses uri into u (all fields owned by u): 0 or -CNIO_ERR_URI / -CNIO_ERR_NOMEM. The
 * path is percent-decoded (RFC 3986) and must then obey the name rules
 * (cnio__name_problem), so "%2e%2e" is refused as ".." is.
 */
int cnio__uri_parse(const char *uri, struct cnio_uri *u);
/* 1 when name (terminated) is a host name as a URI gives one, without the brackets of
 * an IPv6 address: 1..CNIO_HOSTNAME_MAX bytes of [A-Za-z0-9._-], or of [A-Za-z0-9.:%]
 * with a ':' (an IPv6 address). For names that arrive from elsewhere (an object
 * description a rank receives). */
int cnio__host_name_ok(const char *name);
/* Why the calling thread's last cnio__uri_parse returned -CNIO_ERR_URI, in words. */
const char *cnio__uri_why(void);
void cnio__uri_free(struct cnio_uri *u);
/* 1 when s starts with "cnio://", else 0. */
int cnio__uri_is_cnio(const char *s);

/* Fills h with the defaults. */
void cnio__hints_default(struct cnio_hints *h);
/*
 * Sets one hint by name (full hint name, or a URI short name) from its string value.
 * Returns 0, -CNIO_ERR_HINT for a bad value. Unknown names: 1 (ignored, as MPI-IO
 * ignores hints it does not know).
 */
int cnio__hints_set(struct cnio_hints *h, const char *name, const char *value);
/*
 * What hint name (full or URI short name) takes, in words for a message after a bad
 * value ("an integer from 1 to 2147483647", "true or false"), into buf[cap]. Returns
 * buf, or "" for a name cnio does not know.
 */
const char *cnio__hints_takes(const char *name, char *buf, size_t cap);
/*
 * cnio__hints_set for a hint an MPI_Info gives (MPI_File_open, MPI_File_set_info): a bad
 * value of a hint MPI or ROMIO names (striping_factor, cb_nodes, romio_cb_write, ...) is
 * ignored, as ROMIO ignores it and MPI-3.1 (13.2.8) lets an implementation ignore any
 * hint, and said once (when say) on standard error; striping_factor -1 (Lustre's "all")
 * is every host, the default. Job scripts pass such hints to every file system; refused,
 * the program's open failed. A cnio_* hint's bad value is the caller's to refuse, as
 * cnio__hints_set, and is said only when say. 0, 1 (unknown name) or -CNIO_ERR_HINT.
 */
int cnio__hints_set_mpi(struct cnio_hints *h, const char *name, const char *value, int say);
/* Applies CNIO_* environment variables: 0 or -CNIO_ERR_HINT naming the variable in the log. */
int cnio__hints_from_env(struct cnio_hints *h);
/* Applies a URI query string "k=v&k=v": 0 or -CNIO_ERR_HINT / -CNIO_ERR_URI. */
int cnio__hints_from_query(struct cnio_hints *h, const char *query);
/* Defaults, then environment, then the URI's query: what a caller without MPI_Info uses. */
int cnio__hints_resolve(struct cnio_hints *h, const struct cnio_uri *u);
/* As cnio__hints_resolve; an unknown name or a bad value in the query, and CNIO_*
 * variables no part of cnio reads (cnio__env_say), are said only when say (rank 0 of a
 * job says them, as cnio__hints_set_mpi's bad values, not every rank). */
int cnio__hints_resolve_say(struct cnio_hints *h, const struct cnio_uri *u, int say);
/* Warns, the first time it is called in this process (src/env.h), of the CNIO_* names
 * in the environment that no part of cnio reads, each with the known one nearest to it:
 * CNIO_TIMOUT_MS (did you mean CNIO_TIMEOUT_MS?). */
void cnio__env_say(void);
/*
 * Calls fn(name, value, arg) for every hint with its value in effect, formatted as
 * cnio__hints_set would parse it (for MPI_File_get_info / cnio_file_get_info).
 */
int cnio__hints_foreach(const struct cnio_hints *h,
                        int (*fn)(const char *name, const char *value, void *arg), void *arg);
/*
 * Gives hint name (full or URI name) in h the value it has in from: 1 when the two
 * differed, 0 when not, -CNIO_ERR_HINT for a name cnio does not know.
 */
int cnio__hints_adopt(struct cnio_hints *h, const struct cnio_hints *from, const char *name);
/* Formats hint name's value in h into buf[cap] as cnio__hints_set would parse it:
 * 0 or -CNIO_ERR_HINT (unknown name, or no room). */
int cnio__hints_get(const struct cnio_hints *h, const char *name, char *buf, size_t cap);
/* Parses "123", "4K", "16M", "1G" (powers of 1024): 0 or -CNIO_ERR_HINT. */
int cnio__parse_size(const char *s, uint64_t *out);

#endif /* CNIO_CONFIG_H */
