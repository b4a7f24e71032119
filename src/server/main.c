/*
 * main.c - cnio-server: options, signals, start and orderly shutdown.
 *
 * Exit status: 0 after a clean shutdown (SIGTERM, SIGINT or SIGHUP), 1 when startup
 * fails (the cause goes to stderr in one line), 2 on bad usage.
 */
#include "cnio_config.h"
#include "server.h"
#include "config.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAIN_DEFAULT_THREADS 2
#define MAIN_DEFAULT_MAX_CONNS 1024
#define MAIN_DEFAULT_MAX_OPEN 4096
#define MAIN_DEFAULT_MAX_INFLIGHT (64ull << 20)
#define MAIN_DEFAULT_MAX_UNAUTH 256
#define MAIN_DEFAULT_MAX_UNAUTH_PER_ADDR 128
#define MAIN_DEFAULT_IDLE_TIMEOUT 3600
#define MAIN_DEFAULT_FRAME_TIMEOUT 60
#define MAIN_DEFAULT_KEEPALIVE 60
#define MAIN_DEFAULT_STAGE_EXPIRE (7 * 24 * 3600)
#define MAIN_DEFAULT_MAX_MEMORY (1ull << 30)
/* --max-memory must hold at least this many largest frames */
#define MAIN_MIN_MEMORY (2ull * CNIO_WIRE_MAX_PAYLOAD)
/* buffers this large are mmap'd, so that freeing them returns the memory */
#define MAIN_MMAP_THRESHOLD (32 * 1024)
/* file descriptors the server needs besides its connections */
#define MAIN_SPARE_FDS 64
#define MAIN_MAX_THREADS 256
#define MAIN_BACKLOG 1024
#define MAIN_EXIT_USAGE 2

static const char main_usage[] =
    "Usage: cnio-server --root DIR [options]\n"
    "Serves the objects beneath DIR to cnio clients that prove knowledge of the key.\n"
    "\n"
    "  --root DIR             directory holding the objects (required)\n"
    "  --listen ADDR:PORT     address to listen on (default 0.0.0.0:%d;\n"
    "                         [V6]:PORT for IPv6, :PORT for every address)\n"
    "  --key FILE             shared key file, mode 0600 (default $CNIO_KEY_FILE,\n"
    "                         else ~/.cnio/key; /etc/cnio/key when HOME is unset)\n"
    "  --threads N            worker threads (default %d)\n"
    "  --max-conns N          connections at once (default %d)\n"
    "  --max-unauth N         connections still authenticating, in total (default %d,\n"
    "                         at most half of --max-conns); when full, the oldest of\n"
    "                         them is dropped for a new one\n"
    "  --max-unauth-per-addr N  the same, from one source address (default %d)\n"
    "  --idle-timeout SECS    close an authenticated connection idle that long\n"
    "                         (no request, no reply pending, no object it opened\n"
    "                         still open; default %d, 0 = never)\n"
    "  --keepalive SECS       probe a TCP connection whose client has sent nothing for\n"
    "                         SECS, and close it when 3 probes SECS/3 apart go\n"
    "                         unanswered: a client host that vanished (power, a\n"
    "                         partition) then releases its uploads to be resumed\n"
    "                         (default %d, 0 = off)\n"
    "  --frame-timeout SECS   close a connection whose request frame is started but\n"
    "                         not complete, or whose replies go unread, that long\n"
    "                         (default %d; time the server holds reading back is free)\n"
    "  --max-memory BYTES     connection buffers server-wide; over it the server stops\n"
    "                         reading new requests until memory is returned\n"
    "                         (default 1G, at least 32M; K, M, G suffixes)\n"
    "  --max-open N           open object handles, server-wide (default %d)\n"
    "  --max-inflight BYTES   queued reply bytes per connection before it stops\n"
    "                         reading (default 64M; K, M, G suffixes)\n"
    "  --log-level L          error, warn, info or debug (default info)\n"
    "  --log-time WHEN        begin each log line with the time (UTC, ISO 8601): always,\n"
    "                         never, or auto: when stderr is neither a terminal nor\n"
    "                         systemd's journal (default)\n"
    "  --port-file FILE       write the bound port there once the server is up\n"
    "  --transport LIST       tcp (always: the control connection), and ofi and udp for\n"
    "                         libfabric endpoints beside it (default tcp)\n"
    "  --ofi-provider LIST    the libfabric providers of ofi, comma-separated\n"
    "                         (\"tcp;ofi_rxm,shm\"; default the best available)\n"
    "  --scrub                check every block of every object beneath DIR against its\n"
    "                         stored CRC32C and exit (status 1 when one does not match,\n"
    "                         each named on stderr); needs no key and listens nowhere;\n"
    "                         refused while a server serves DIR (one process per root)\n"
    "  --scrub-rate BYTES     while serving, check every object in the background at\n"
    "                         this many bytes a second (K, M, G suffixes; default 0: off)\n"
    "  --stage-expire SECS    remove an interrupted upload (a staged instance no writer\n"
    "                         holds) left unchanged that long: `cnio cp --resume` can\n"
    "                         no longer finish it (default %d: 7 days; 0 = keep it\n"
    "                         until a copy to its name commits, or `cnio rm` of it)\n"
    "  --read-send MODE       how READ replies of 64 KiB or more leave over TCP: sendfile\n"
    "                         (no copy here; the client's receive copies from the page\n"
    "                         cache), copy (sendmsg from a mapping of the object), or\n"
    "                         auto: copy to clients on this host, sendfile to others\n"
    "                         (default)\n"
    "  --help, --version\n";

static const struct option main_longopts[] = {
    { "root", required_argument, NULL, 'r' },
    { "listen", required_argument, NULL, 'l' },
    { "key", required_argument, NULL, 'k' },
    { "threads", required_argument, NULL, 't' },
    { "max-conns", required_argument, NULL, 'c' },
    { "max-open", required_argument, NULL, 'o' },
    { "max-inflight", required_argument, NULL, 'i' },
    { "max-unauth", required_argument, NULL, 'u' },
    { "max-unauth-per-addr", required_argument, NULL, 'a' },
    { "idle-timeout", required_argument, NULL, 'I' },
    { "keepalive", required_argument, NULL, 'K' },
    { "frame-timeout", required_argument, NULL, 'F' },
    { "max-memory", required_argument, NULL, 'm' },
    { "log-level", required_argument, NULL, 'L' },
    { "log-time", required_argument, NULL, 'D' },
    { "port-file", required_argument, NULL, 'p' },
    { "transport", required_argument, NULL, 'T' },
    { "ofi-provider", required_argument, NULL, 'P' },
    { "scrub", no_argument, NULL, 'S' },
    { "scrub-rate", required_argument, NULL, 'R' },
    { "read-send", required_argument, NULL, 'Z' },
    { "stage-expire", required_argument, NULL, 'E' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
};

static int main_usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "cnio-server: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'cnio-server --help'.\n");
    return -1;
}

/* A decimal in [lo, hi]: 0 or -1. */
static int main_number(const char *s, unsigned long lo, unsigned long hi, uint32_t *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (!*s || *end || errno || *s == '-' || v < lo || v > hi)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* --transport LIST: tcp, ofi, udp, comma-separated. */
static int main_transports(struct cnio_srv_opts *o, const char *arg)
{
    for (const char *s = arg; *s;) {
        size_t n = strcspn(s, ",");

        if (n == 3 && !strncmp(s, "tcp", 3))
            ;
        else if (n == 3 && !strncmp(s, "ofi", 3))
            o->fab_ofi = 1;
        else if (n == 3 && !strncmp(s, "udp", 3))
            o->fab_udp = 1;
        else
            return main_usage_error("--transport wants tcp, ofi, udp (comma-separated), "
                                    "not '%s'", arg);
        s += n + (s[n] == ',');
    }
    return 0;
}

static int main_limit_option(struct cnio_srv_opts *o, int opt, const char *arg);

static int main_option(struct cnio_srv_opts *o, int opt, const char *arg)
{
    uint32_t v;

    switch (opt) {
    case 'r': o->root = arg; return 0;
    case 'l':
        o->listen = arg;
        return cnio__net_listen_form(arg) ? main_usage_error("--listen wants ADDR:PORT, "
                                                             "[V6]:PORT or :PORT, not '%s'",
                                                             arg) : 0;
    case 'k': o->key_file = arg; return 0;
    case 'p': o->port_file = arg; return 0;
    case 't':
        if (main_number(arg, 1, MAIN_MAX_THREADS, &v))
            return main_usage_error("--threads wants 1..256, not '%s'", arg);
        o->threads = (int)v;
        return 0;
    case 'c':
        return main_number(arg, 1, INT_MAX, &o->max_conns)
                   ? main_usage_error("--max-conns wants a positive number, not '%s'", arg) : 0;
    case 'o':
        return main_number(arg, 1, INT_MAX, &o->max_open)
                   ? main_usage_error("--max-open wants a positive number, not '%s'", arg) : 0;
    case 'i':
        if (cnio__parse_size(arg, &o->max_inflight) || o->max_inflight == 0)
            return main_usage_error("--max-inflight wants a size such as 64M, not '%s'", arg);
        return 0;
    default:
        return main_limit_option(o, opt, arg);
    }
}

/* The options of the server-wide limits (limits.c). */
static int main_limit_option(struct cnio_srv_opts *o, int opt, const char *arg)
{
    switch (opt) {
    case 'u':
        return main_number(arg, 1, INT_MAX, &o->max_unauth)
                   ? main_usage_error("--max-unauth wants a positive number, not '%s'", arg) : 0;
    case 'a':
        return main_number(arg, 1, INT_MAX, &o->max_unauth_per_addr)
                   ? main_usage_error("--max-unauth-per-addr wants a positive number, not '%s'",
                                      arg) : 0;
    case 'I':
        return main_number(arg, 0, INT_MAX / 1000, &o->idle_timeout_s)
                   ? main_usage_error("--idle-timeout wants seconds (0 = never), not '%s'", arg)
                   : 0;
    case 'K':
        return main_number(arg, 0, 32767, &o->keepalive_s)
                   ? main_usage_error("--keepalive wants seconds up to 32767 (0 = off), not '%s'",
                                      arg) : 0;
    case 'F':
        return main_number(arg, 1, INT_MAX / 1000, &o->frame_timeout_s)
                   ? main_usage_error("--frame-timeout wants seconds (1 or more), not '%s'", arg)
                   : 0;
    case 'm':
        if (cnio__parse_size(arg, &o->max_memory) || o->max_memory < MAIN_MIN_MEMORY)
            return main_usage_error("--max-memory wants a size of at least 32M, not '%s'", arg);
        return 0;
    case 'T':
        return main_transports(o, arg);
    case 'P':
        o->ofi_providers = arg;
        o->fab_ofi = 1;
        return 0;
    case 'S': o->scrub = 1; return 0;
    case 'R':
        if (cnio__parse_size(arg, &o->scrub_rate))
            return main_usage_error("--scrub-rate wants bytes a second such as 64M, not '%s'",
                                    arg);
        return 0;
    case 'E':
        return main_number(arg, 0, INT_MAX, &o->stage_expire_s)
                   ? main_usage_error("--stage-expire wants seconds (0 = never), not '%s'", arg)
                   : 0;
    case 'Z':
        if (!strcmp(arg, "auto"))
            o->read_send = CNIO_SRV_READ_AUTO;
        else if (!strcmp(arg, "copy"))
            o->read_send = CNIO_SRV_READ_COPY;
        else if (!strcmp(arg, "sendfile"))
            o->read_send = CNIO_SRV_READ_SENDFILE;
        else
            return main_usage_error("--read-send wants auto, copy or sendfile, not '%s'", arg);
        return 0;
    case 'L':
        o->log_level = cnio__log_parse_level(arg);
        return o->log_level < 0 ? main_usage_error("unknown log level '%s'", arg) : 0;
    case 'D':
        o->log_time = !strcmp(arg, "always") ? 1 : !strcmp(arg, "never") ? 0
                      : !strcmp(arg, "auto") ? -1 : -2;
        return o->log_time == -2
                   ? main_usage_error("--log-time wants always, never or auto, not '%s'", arg)
                   : 0;
    default:
        return main_usage_error("%s", "unknown option or missing argument");
    }
}

/* 0 to run, 1 after --help / --version, -1 on bad usage (reported). */
static int main_parse(int argc, char **argv, struct cnio_srv_opts *o)
{
    int opt;

    o->listen = "0.0.0.0:7447";
    o->threads = MAIN_DEFAULT_THREADS;
    o->max_conns = MAIN_DEFAULT_MAX_CONNS;
    o->max_open = MAIN_DEFAULT_MAX_OPEN;
    o->max_inflight = MAIN_DEFAULT_MAX_INFLIGHT;
    o->max_unauth = MAIN_DEFAULT_MAX_UNAUTH;
    o->max_unauth_per_addr = MAIN_DEFAULT_MAX_UNAUTH_PER_ADDR;
    o->idle_timeout_s = MAIN_DEFAULT_IDLE_TIMEOUT;
    o->frame_timeout_s = MAIN_DEFAULT_FRAME_TIMEOUT;
    o->keepalive_s = MAIN_DEFAULT_KEEPALIVE;
    o->stage_expire_s = MAIN_DEFAULT_STAGE_EXPIRE;
    o->max_memory = MAIN_DEFAULT_MAX_MEMORY;
    o->log_level = CNIO_LOG_INFO;
    o->log_time = -1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":", main_longopts, NULL)) != -1) {
        if (opt == 'h') {
            printf(main_usage, CNIO_DEFAULT_PORT, MAIN_DEFAULT_THREADS, MAIN_DEFAULT_MAX_CONNS,
                   MAIN_DEFAULT_MAX_UNAUTH, MAIN_DEFAULT_MAX_UNAUTH_PER_ADDR,
                   MAIN_DEFAULT_IDLE_TIMEOUT, MAIN_DEFAULT_KEEPALIVE,
                   MAIN_DEFAULT_FRAME_TIMEOUT, MAIN_DEFAULT_MAX_OPEN,
                   MAIN_DEFAULT_STAGE_EXPIRE);
            return 1;
        }
        if (opt == 'V') {
            printf("cnio-server %s (wire protocol %d)\n", PACKAGE_VERSION, CNIO_WIRE_VERSION);
            return 1;
        }
        if (opt == '?' || opt == ':')
            return main_usage_error("bad option '%s'", argv[optind - 1]);
        if (main_option(o, opt, optarg))
            return -1;
    }
    if (optind < argc)
        return main_usage_error("unexpected argument '%s'", argv[optind]);
    /* connections that never authenticate must not be able to fill --max-conns */
    o->max_unauth = CNIO_MIN(o->max_unauth, CNIO_MAX(1u, o->max_conns / 2));
    o->max_unauth_per_addr = CNIO_MIN(o->max_unauth_per_addr, o->max_unauth);
    if (!o->root)
        return main_usage_error("%s", "--root DIR is required");
    return 0;
}

/* Writes the port to path through a temporary file and a rename. */
static int main_port_file(const char *path, uint16_t port)
{
    char tmp[PATH_MAX];
    FILE *f;
    int ok;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
        return -1;
    f = fopen(tmp, "w");
    if (!f)
        return -1;
    ok = fprintf(f, "%u\n", (unsigned)port) > 0;
    ok &= fclose(f) == 0;
    if (ok && rename(tmp, path) == 0)
        return 0;
    unlink(tmp);
    return -1;
}

static int main_listen(struct cnio_srv *srv)
{
    struct cnio_addr a;
    char where[80];
    uint16_t port;
    int ret = cnio__net_listen(srv->opts.listen, MAIN_BACKLOG, &srv->listen_fd, &port);

    if (ret) {
        cnio__err("cannot listen on %s: %s", srv->opts.listen,
                  ret == -CNIO_ERR_INVAL ? "not ADDR:PORT"
                  : ret == -CNIO_ERR_RESOLVE ? "unknown address" : strerror(errno));
        return ret;
    }
    a.len = sizeof(a.ss);
    if (getsockname(srv->listen_fd, (struct sockaddr *)&a.ss, &a.len) < 0)
        snprintf(where, sizeof(where), "%s", srv->opts.listen);
    else
        cnio__net_ntop(&a, where, sizeof(where));
    /* The fabric endpoints before the workers: a worker answers a client's FABRIC
     * request from them, and one that came in the moment a restarted server listened
     * would otherwise be told the transport is not served. Connections wait in the
     * backlog meanwhile. */
    ret = cnio__srv_fab_start(srv);
    if (ret)
        return ret;
    ret = cnio__srv_loop_start(srv);
    if (ret) {
        cnio__err("cannot start the worker threads: %s", cnio__srv_strerror(ret));
        return ret;
    }
    /* The housekeeping threads too before the port file: a script (or a test counting
     * the server's descriptors) takes the port file to mean the server is whole. */
    ret = cnio__srv_scrub_start(srv);
    if (!ret)
        ret = cnio__srv_expire_start(srv);
    if (ret) {
        cnio__err("cannot start the housekeeping threads: %s", cnio__srv_strerror(ret));
        return ret;
    }
    if (srv->opts.port_file && main_port_file(srv->opts.port_file, port)) {
        cnio__err("cannot write the port file %s: %s", srv->opts.port_file, strerror(errno));
        return -CNIO_ERR_IO;
    }
    cnio__info("listening on %s", where);
    return 0;
}

/*
 * Large buffers straight from mmap (glibc would otherwise raise its threshold after the
 * first free and keep freed 16 MiB frames in the heap), and file descriptors for every
 * connection the limits allow: the soft limit raised as far as the hard one lets.
 */
static void main_resources(const struct cnio_srv_opts *o)
{
    uint64_t need = (uint64_t)o->max_conns + o->max_unauth + MAIN_SPARE_FDS;
    struct rlimit rl;

#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, MAIN_MMAP_THRESHOLD);
#endif
    if (getrlimit(RLIMIT_NOFILE, &rl))
        return;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
        cnio__warn("only %llu file descriptors (ulimit -n) for --max-conns %u plus "
                   "--max-unauth %u: connections past that wait in the backlog",
                   (unsigned long long)rl.rlim_cur, o->max_conns, o->max_unauth);
}

/* Key, root, handle table, listening socket, workers: 0 or a negative code (logged). */
static int main_start(struct cnio_srv *srv)
{
    char path[PATH_MAX];
    int ret;

    main_resources(&srv->opts);
    cnio__srv_limits_init(srv);
    ret = cnio__key_load(srv->opts.key_file, &srv->key);

    if (ret) {
        if (cnio__key_path(srv->opts.key_file, path, sizeof(path)))
            snprintf(path, sizeof(path), "%s", srv->opts.key_file ? srv->opts.key_file : "?");
        cnio__err("cannot use key file %s: %s", path, cnio__srv_strerror(ret));
        return ret;
    }
    if (cnio__srv_root_check(srv->opts.root))
        return -CNIO_ERR_ACCESS;
    ret = cnio__srv_store_open(&srv->store, srv->opts.root);
    if (ret)
        return ret;
    /* The lock first: recovery removes what no other process may be using, and the
     * root may be another server's (a second server, or --scrub, is then refused). */
    srv->lock_fd = cnio__srv_root_lock(&srv->store, srv->opts.root, 1);
    if (srv->lock_fd < 0)
        return -CNIO_ERR_ACCESS;
    do {
        if (cnio__random(&srv->id, sizeof(srv->id))) {
            cnio__err("cannot draw the server's id: no random bytes");
            return -CNIO_ERR_IO;
        }
    } while (srv->id == 0);
    ret = cnio__srv_store_recover(&srv->store, srv->opts.root);
    if (ret)
        return ret;
    ret = cnio__srv_handles_init(&srv->handles, srv->opts.max_open);
    if (ret) {
        cnio__err("cannot allocate the handle table: %s", cnio__srv_strerror(ret));
        return ret;
    }
    srv->handles_ready = 1;
    return main_listen(srv);
}

/* Stops the workers (they finish and flush), fsyncs what is open, frees everything. */
static void main_stop(struct cnio_srv *srv)
{
    cnio__srv_bg_stop(&srv->scrub_bg, "scrub");
    cnio__srv_bg_stop(&srv->expire_bg, "--stage-expire");
    if (srv->handles_ready)
        atomic_store(&srv->handles.sync_on_close, 1);
    cnio__srv_fab_stop(srv);
    cnio__srv_loop_stop(srv);
    if (srv->handles_ready)
        cnio__srv_handles_fini(&srv->handles);
    if (srv->listen_fd >= 0)
        close(srv->listen_fd);
    cnio__srv_store_close(&srv->store);
    if (srv->lock_fd >= 0)
        close(srv->lock_fd);
    cnio__srv_limits_fini(srv);
    cnio__key_wipe(&srv->key);
}


/* --scrub: 0 when every block matched, 1 otherwise. */
static int main_scrub(const struct cnio_srv_opts *o)
{
    struct cnio_srv_store st;
    uint64_t bytes;
    long bad;
    int lock;

    if (cnio__srv_store_open(&st, o->root))
        return 1;
    lock = cnio__srv_root_lock(&st, o->root, 0);
    if (lock < 0) {
        cnio__srv_store_close(&st);
        return 1;
    }
    bad = cnio__srv_scrub_all(&st, &bytes);
    close(lock);
    cnio__srv_store_close(&st);
    if (bad < 0) {
        fprintf(stderr, "cnio-server: scrub: out of memory\n");
        return 1;
    }
    if (bad)
        fprintf(stderr, "cnio-server: scrub of %s: %ld problems (%llu bytes checked)\n",
                o->root, bad, (unsigned long long)bytes);
    else   /* (it said nothing: a user could not tell a scrub from one that did no work) */
        printf("cnio-server: scrub of %s: %llu bytes checked, every block matches its "
               "CRC32C\n", o->root, (unsigned long long)bytes);
    return bad ? 1 : 0;
}

/* Blocks SIGTERM, SIGINT and SIGHUP (for every thread) and returns a signalfd for them:
 * each shuts the server down cleanly (a hangup, a closed terminal, used to kill it with
 * its writes in flight). */
static int main_signals(void)
{
    sigset_t set;

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL))
        return -1;
    return signalfd(-1, &set, SFD_CLOEXEC);
}

static int main_wait_signal(int sfd)
{
    struct signalfd_siginfo si;

    for (;;) {
        ssize_t n = read(sfd, &si, sizeof(si));

        if (n == (ssize_t)sizeof(si))
            return (int)si.ssi_signo;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

int main(int argc, char **argv)
{
    struct cnio_srv srv;
    int sfd, sig, ret;

    memset(&srv, 0, sizeof(srv));
    srv.listen_fd = srv.stop_fd = srv.lock_fd = srv.store.rootfd = srv.store.metafd = -1;
    cnio__log_set_ident("cnio-server");
    ret = main_parse(argc, argv, &srv.opts);
    if (ret)
        return ret > 0 ? 0 : MAIN_EXIT_USAGE;
    cnio__log_set_level(srv.opts.log_level);
    /* (systemd's journal stamps each line itself, and says so in JOURNAL_STREAM) */
    cnio__log_set_stamp(srv.opts.log_time >= 0 ? srv.opts.log_time
                        : !isatty(STDERR_FILENO) && !getenv("JOURNAL_STREAM"));
    cnio__env_say();   /* a misspelled CNIO_* name (CNIO_KEY_FLE) */
    sfd = main_signals();
    if (sfd < 0) {
        cnio__err("cannot set up signal handling: %s", strerror(errno));
        return 1;
    }
    if (srv.opts.scrub) {
        close(sfd);
        return main_scrub(&srv.opts);
    }
    ret = main_start(&srv);
    if (!ret) {
        sig = main_wait_signal(sfd);
        if (sig == SIGHUP)   /* not asked for by name, perhaps: said at the default level */
            cnio__warn("%s (SIGHUP): shutting down cleanly, as on SIGTERM", strsignal(sig));
        else
            cnio__info("%s: shutting down", sig > 0 ? strsignal(sig) : "signal wait failed");
    }
    main_stop(&srv);
    close(sfd);
    if (ret)
        return 1;
    cnio__info("shutdown");
    return 0;
}
