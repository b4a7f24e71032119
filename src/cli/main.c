/*
 * main.c - the cnio command: dispatch, common options, MPI_Init's defaults, and the
 * small subcommands keygen and rm. `cnio cp` lives in cp.c, ls and stat in ls.c.
 */
#include "cnio_config.h"
#include "cli.h"
#include "auth.h"
#include "client.h"
#include "log.h"
#include "stack.h"
#include "tree.h"
#include "skenv.h"
#include "../../collective/coll.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The key file the command's connections use: from cli_hints (every source of the
 * cnio_key_file hint), else from cli_info (--key, -o, the environment, the default). */
static char cli_key_used[PATH_MAX];

static const char usage_text[] =
    "usage: cnio COMMAND [OPTIONS] ARGS\n"
    "\n"
    "Collective network I/O: copy data between local files and objects striped over\n"
    "cnio-server hosts, named by URIs cnio://host[:port][,host[:port]...]/path[?hints].\n"
    "\n"
    "commands:\n"
    "  cp SRC DST      copy (either side a local path or a cnio:// URI); under\n"
    "                  mpirun -n N the transfer is split over the N ranks\n"
    "  ls URI          list the objects in a directory\n"
    "  stat URI        show an object's size and layout\n"
    "  rm URI...       remove objects (-r: directories and what they hold)\n"
    "  mkdir URI...    make directories (-p: and their parents)\n"
    "  mv SRC DST      rename an object or directory on its servers (no data moves)\n"
    "  du URI...       bytes, objects and directories beneath a URI\n"
    "  sum URI|FILE... CRC32C of every byte (what cp --verify compares)\n"
    "  keygen FILE     write a fresh shared key (mode 0600)\n"
    "  bench           measure collective write/read throughput (doc/performance.md)\n"
    "  run PROGRAM     run an unmodified MPI-IO program (or mpi4py, parallel HDF5,\n"
    "                  PnetCDF) with cnio:// names served by cnio: preloads\n"
    "                  libcnio_mpiio.so (doc/mpiio.md); run --sockets PROGRAM: legacy\n"
    "                  per-rank socket code under the socket shim (doc/sockets.md)\n"
    "\n"
    "common options (every command but keygen and run):\n"
    "  --key FILE      shared key file (default $CNIO_KEY_FILE, then ~/.cnio/key)\n"
    "  -o NAME=VALUE   set a hint (striping_unit, striping_factor, cnio_lanes,\n"
    "                  cnio_timeout_ms, ...); repeatable\n"
    "  -q, --quiet     no progress bar, no summary\n"
    "  -h, --help      this help (cnio help); `cnio COMMAND --help` (cnio help\n"
    "                  COMMAND) for one command\n"
    "  --version       print the version (cnio --version)\n"
    "\n"
    "exit status: 0 success, 1 the operation failed, 2 bad usage.\n";

/* Splits "-o NAME=VALUE" i into name (NUL-terminated) and its value. */
static const char *cli_hint_split(const struct cli_opts *o, int i, char *name, size_t cap);

int cli_hint_ok(const char *cmd, const char *arg, const char *name, const char *val)
{
    struct cnio_hints h;
    char takes[160];
    int rc, level;

    cnio__hints_default(&h);
    level = cnio__log_get_level();
    cnio__log_set_level(CNIO_LOG_ERROR);   /* its warning of a bad value: said below */
    rc = cnio__hints_set(&h, name, val);
    cnio__log_set_level(level);
    if (rc > 0)
        cli_err("%s: %s: unknown hint '%s'\n", cmd, arg, name);
    else if (rc < 0)
        cli_err("%s: %s: bad value '%s' for hint %s: it takes %s\n", cmd, arg, val, name,
                cnio__hints_takes(name, takes, sizeof(takes)));
    return rc ? -1 : 0;
}

/* A -o hint cnio knows, with a value it takes: 0, else -1 (said why). Unlike MPI_Info
 * keys, which MPI says to ignore when unknown, a hint typed on the command line that
 * does nothing is a mistake worth stopping for. */
static int cli_hint_check(const struct cli_opts *o, int i)
{
    char name[MPI_MAX_INFO_KEY], arg[600];
    const char *val = cli_hint_split(o, i, name, sizeof(name));

    if (!val) {
        cli_err("cnio: -o %s: hint name too long\n", o->hints[i]);
        return -1;
    }
    snprintf(arg, sizeof(arg), "-o %s", o->hints[i]);
    return cli_hint_ok("cnio", arg, name, val);
}

int cli_common_opt(struct cli_opts *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i];

    if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
        o->quiet = 1;
        return 1;
    }
    if (!strcmp(a, "--version")) {   /* as `cnio --version` (cnio(1): every command) */
        printf("cnio %s\n", PACKAGE_VERSION);
        exit(CLI_EXIT_OK);
    }
    if (!strcmp(a, "--key") || !strcmp(a, "-o")) {
        if (*i + 1 >= argc) {
            cli_err("cnio: %s needs a value\n", a);
            return -1;
        }
        (*i)++;
        if (a[1] == 'o') {
            if (!strchr(argv[*i], '=') || o->nhints == (int)CNIO_ARRAY_LEN(o->hints)) {
                cli_err("cnio: -o takes NAME=VALUE\n");
                return -1;
            }
            o->hints[o->nhints++] = argv[*i];
            return cli_hint_check(o, o->nhints - 1) ? -1 : 1;
        } else {
            o->key_file = argv[*i];
        }
        return 1;
    }
    return 0;
}

static const char *cli_hint_split(const struct cli_opts *o, int i, char *name, size_t cap)
{
    const char *eq = strchr(o->hints[i], '=');
    size_t n = (size_t)(eq - o->hints[i]);

    if (n >= cap)
        return NULL;
    memcpy(name, o->hints[i], n);
    name[n] = '\0';
    return eq + 1;
}

int cli_hints(const struct cli_opts *o, const struct cnio_uri *u, struct cnio_hints *h)
{
    int rc = cnio__hints_resolve_say(h, u, cnio__coll_world_rank() == 0);

    for (int i = 0; rc == 0 && i < o->nhints; i++) {
        char name[MPI_MAX_INFO_KEY];
        const char *val = cli_hint_split(o, i, name, sizeof(name));

        if (!val || cnio__hints_set(h, name, val) < 0)
            rc = -CNIO_ERR_HINT;
    }
    if (rc == 0 && o->key_file)
        rc = cnio__hints_set(h, "cnio_key_file", o->key_file) < 0 ? -CNIO_ERR_HINT : 0;
    if (rc == 0 && cnio__key_path(h->key_file, cli_key_used, sizeof(cli_key_used)) < 0)
        cli_key_used[0] = '\0';
    return rc;
}

/* The striping_unit and striping_factor asked for uri by the environment, its query or
 * -o, in the order the library applies them, in h; 0 each when none asks one. */
static void cli_layout_asked(const struct cli_opts *o, const char *uri, struct cnio_hints *h)
{
    struct cnio_uri u;

    cnio__hints_default(h);
    h->striping_unit = 0;
    h->striping_factor = 0;
    if (cnio__hints_from_env(h) || cnio__uri_parse(uri, &u)) {
        h->striping_unit = h->striping_factor = 0;
        return;
    }
    if (cnio__hints_from_query(h, u.query))
        h->striping_unit = h->striping_factor = 0;
    cnio__uri_free(&u);
    for (int i = 0; i < o->nhints; i++) {
        char name[MPI_MAX_INFO_KEY];
        const char *val = cli_hint_split(o, i, name, sizeof(name));

        if (val)
            cnio__hints_set(h, name, val);
    }
}

void cli_resume_layout(const struct cli_opts *o, const char *uri, const struct cnio_obj *obj)
{
    const struct cnio_layout *l = obj ? cnio__obj_layout(obj) : NULL;
    struct cnio_hints h;
    char kept[128] = "", asked[64] = "";
    int unit, factor;

    if (!l)
        return;
    cli_layout_asked(o, uri, &h);
    unit = h.striping_unit && h.striping_unit != l->unit;
    factor = h.striping_factor && h.striping_factor != l->count;
    if (!unit && !factor)
        return;
    if (unit) {
        snprintf(kept, sizeof(kept), "striping_unit %llu bytes", (unsigned long long)l->unit);
        snprintf(asked, sizeof(asked), "%llu", (unsigned long long)h.striping_unit);
    }
    if (factor) {
        size_t k = strlen(kept), a = strlen(asked);

        snprintf(kept + k, sizeof(kept) - k, "%sstriping_factor %u (hosts)", unit ? " and " : "",
                 l->count);
        snprintf(asked + a, sizeof(asked) - a, "%s%u", unit ? " and " : "", h.striping_factor);
    }
    cli_err("cnio cp: warning: %s: resumed with the staged copy's %s, not the %s asked (an "
            "upload keeps the layout it began with); for %s, copy without --resume (it starts "
            "over), or remove the staged copy first (cnio rm)\n", uri, kept, asked, asked);
}

int cli_info(const struct cli_opts *o, MPI_Info *info)
{
    MPI_Info_create(info);
    for (int i = 0; i < o->nhints; i++) {
        char name[MPI_MAX_INFO_KEY];
        const char *val = cli_hint_split(o, i, name, sizeof(name));

        if (!val)
            return -CNIO_ERR_HINT;
        MPI_Info_set(*info, name, val);
    }
    if (o->key_file)
        MPI_Info_set(*info, "cnio_key_file", o->key_file);
    if (!cli_key_used[0]) {   /* the key file as cli_hints finds it, without a URI */
        struct cnio_hints h;

        cli_hints(o, NULL, &h);
    }
    return 0;
}

void cli_usage(const char *help)
{
    const char *end = strstr(help, "\n\n"), *cmd = strncmp(help, "usage: ", 7) ? NULL : help + 7;
    int n = cmd ? (int)strcspn(cmd, " \n") : 0;

    if (cmd && cmd[n] == ' ')   /* "cnio cp": the command and its subcommand */
        n += 1 + (int)strcspn(cmd + n + 1, " \n");
    fprintf(stderr, "%.*s\n", end ? (int)(end - help) : (int)strlen(help), help);
    if (cmd)
        fprintf(stderr, "(%.*s --help says more)\n", n, cmd);
}

void cli_err(const char *fmt, ...)
{
    char msg[4096], out[4096 * 4 + 2];
    va_list ap;
    size_t n;
    int m, nl;

    va_start(ap, fmt);
    m = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (m <= 0)
        return;
    n = CNIO_MIN((size_t)m, sizeof(msg) - 1);
    /* the newline that ends the message is kept; one cut at 4 KiB still ends its line */
    nl = msg[n - 1] == '\n' || (size_t)m > n;
    if (msg[n - 1] == '\n')
        n--;
    n = cnio__escape_ctl(out, sizeof(out) - 1, msg, n);
    if (nl)
        out[n++] = '\n';
    /* (without SIGPIPE: `cnio run`'s line must not kill the job it starts when its
     * stderr's reader is gone, helper-110; the other commands go on as they would) */
    fflush(stderr);
    (void)!cnio__sk_write_quiet(STDERR_FILENO, out, n);
}

int cli_said(unsigned mark, int rc)
{
    return rc != -CNIO_ERR_AUTH && (cnio__log_said_err_since(mark, rc) ||
                                    cnio__log_said_since(mark, cnio_strerror(rc)));
}

int cli_said_of(unsigned mark, int rc, const char *name)
{
    char path[1024];
    const char *p = name;
    size_t n;

    if (cnio__uri_is_cnio(p)) {
        p = strchr(p + 7, '/');
        p = p ? p + 1 : "";
    }
    n = strcspn(p, "?");
    if (!n || n >= sizeof(path))
        return 0;
    memcpy(path, p, n);
    path[n] = '\0';
    return cli_said(mark, rc) && cnio__log_said_since(mark, path);
}

/* This thread's error lines when the command began (cli_run_one). */
static unsigned cli_begun;

int cli_status(int rc)
{
    return !rc ? CLI_EXIT_OK
           : rc == -CNIO_ERR_URI || rc == -CNIO_ERR_HINT ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
}

int cli_worse(int a, int b)
{
    return a > b ? a : b;
}

int cli_fail(const char *cmd, const char *what, int rc)
{
    if (rc == -CNIO_ERR_URI && cnio__log_said_err_since(cli_begun, rc))
        return CLI_EXIT_USAGE;   /* the library's line named the two hosts of one server */
    if (rc == -CNIO_ERR_AUTH && cli_key_used[0])   /* which key, when it was the wrong one */
        cli_err("cnio %s: %s: %s: the key was read from %s, and the servers must hold the "
                "same one (--key FILE reads another)\n", cmd, what, cnio_strerror(rc),
                cli_key_used);
    else
        cli_err("cnio %s: %s: %s\n", cmd, what, cnio_strerror(rc));
    return cli_status(rc);
}

int cli_not_dir(const char *cmd, const char *uri)
{
    cli_err("cnio %s: %s: not a directory: an object (a name ending in '/' names a "
            "directory)\n", cmd, uri);
    return CLI_EXIT_FAIL;
}

/* 1 when this host has an RDMA device (InfiniBand, Omni-Path, EFA, RoCE: anything under
 * /sys/class/infiniband), 0 when it has none. */
static int cli_host_has_rdma(void)
{
    DIR *d = opendir("/sys/class/infiniband");
    struct dirent *e;
    int found = 0;

    if (!d)
        return 0;
    while (!found && (e = readdir(d)))
        found = e->d_name[0] != '.';
    closedir(d);
    return found;
}

/* The private session directory base of a singleton (cli_mpi_init), removed at exit;
 * and what MPI_Init made in it, deepest first, for a removal a signal handler may make. */
static char cli_mpi_tmp[128];
static char cli_mpi_paths[16][256];
static int cli_mpi_npaths;

static int cli_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb, (void)flag, (void)f;
    remove(path);
    return 0;
}

static int cli_note_one(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb, (void)f;
    if (cli_mpi_npaths < (int)CNIO_ARRAY_LEN(cli_mpi_paths) && strlen(path) < 255 &&
        (flag == FTW_DP || flag == FTW_F)) {
        cli_mpi_paths[cli_mpi_npaths][0] = flag == FTW_DP ? 'd' : 'f';
        strcpy(cli_mpi_paths[cli_mpi_npaths++] + 1, path);
    }
    return 0;
}

/*
 * Removes from directory base the session directory bases (cnio-mpi-PID-XXXXXX) that
 * singletons of this user left when they could not remove their own (SIGKILL, a crash):
 * those whose process is gone. One whose PID a live process has again stays (as does
 * one of another user); a later start sweeps it.
 */
static void cli_mpi_sweep(const char *base)
{
    DIR *d = opendir(base);
    struct dirent *e;

    while (d && (e = readdir(d))) {
        char path[sizeof(cli_mpi_tmp)], rest[16];
        struct stat sb;
        int pid, n = 0;

        if (sscanf(e->d_name, "cnio-mpi-%d-%15s%n", &pid, rest, &n) != 2 ||
            n != (int)strlen(e->d_name) || strlen(rest) != 6 || pid <= 0 ||
            (size_t)snprintf(path, sizeof(path), "%s/%s", base, e->d_name) >= sizeof(path) ||
            lstat(path, &sb) < 0 || !S_ISDIR(sb.st_mode) || sb.st_uid != getuid() ||
            kill(pid, 0) == 0 || errno != ESRCH)
            continue;
        nftw(path, cli_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    }
    if (d)
        closedir(d);
}

static void cli_mpi_tmp_remove(void)
{
    if (cli_mpi_tmp[0])
        nftw(cli_mpi_tmp, cli_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void cli_mpi_tmp_remove_now(void)
{
    /* unlink and rmdir only: signal-safe. Each is tried: MPI_Finalize may have removed
     * some already. */
    for (int i = 0; i < cli_mpi_npaths; i++)
        (void)(cli_mpi_paths[i][0] == 'd' ? rmdir(cli_mpi_paths[i] + 1)
                                          : unlink(cli_mpi_paths[i] + 1));
}

/* The signals that end a cnio command without its atexit handlers: a singleton's
 * session directory is removed on them too (a pipe closed under `cnio cp URI -`, a
 * Ctrl-C), then the signal ends the process as it would have. */
static const int cli_end_sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };

static void cli_end_handler(int sig)
{
    cli_mpi_tmp_remove_now();
    signal(sig, SIG_DFL);
    raise(sig);   /* delivered when the handler returns */
}

/* Catches cli_end_sigs (where not ignored: nohup's SIGHUP stays so). */
static void cli_end_catch(void)
{
    struct sigaction sa = { .sa_handler = cli_end_handler }, old;

    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < CNIO_ARRAY_LEN(cli_end_sigs); i++)
        if (sigaction(cli_end_sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
            sigaction(cli_end_sigs[i], &sa, NULL);
}

/*
 * hwloc without its I/O discovery, each variable only when the user has not set it. Open
 * MPI loads the host's topology in every rank; hwloc's PCI component reads each device's
 * configuration space (in a virtual machine a trap to the hypervisor a read), and its GL
 * plugin loads libX11 and tries X displays :0 to :9, over TCP to 127.0.0.1:6000-6009
 * among others. Where I/O devices sit only places fabric components near them, and
 * those are either skipped (no RDMA device) or not used by cnio's data.
 */
static void cli_hwloc_no_io(void)
{
    setenv("HWLOC_PLUGINS_BLACKLIST",
           "hwloc_pci,hwloc_gl,hwloc_opencl,hwloc_cuda,hwloc_nvml,hwloc_rsmi,hwloc_levelzero", 0);
    setenv("HWLOC_COMPONENTS", "-pci,-linuxio,-gl,-opencl,-cuda,-nvml,-rsmi,-levelzero", 0);
}

/*
 * MPI_Init, with Open MPI defaults for what the cnio command needs of MPI (a few small
 * collectives; its data goes over cnio's own connections), each only when the user has
 * not set that parameter (environment, or mpirun --mca, which reaches the ranks as the
 * same variables):
 * - run as one process (no launcher): an isolated singleton with ob1 and the self BTL;
 * - launched, on a host with no RDMA device: none of the fabric components (MTLs psm,
 *   psm2, ofi; BTLs ofi, openib, uct), which would find nothing to use there but load
 *   libfabric or the psm libraries, whose constructors calibrate a clock with short
 *   sleeps: 0.2 s of every rank's start (src/fabric_dl.h);
 * - in both cases, hwloc without its I/O discovery (cli_hwloc_no_io).
 */
void cli_mpi_init(void)
{
    static const char *const launched[] = { "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK" };
    int singleton = 1;
    sigset_t ends, mask;

    for (size_t i = 0; i < CNIO_ARRAY_LEN(launched); i++)
        if (getenv(launched[i]))
            singleton = 0;
    /* A singleton's signals that end it wait until what MPI_Init makes in its session
     * directory is noted for the handler (its MPI_Init takes some 20 ms, and needs no
     * network); launched ranks' MPI_Init is left as it is. */
    sigemptyset(&ends);
    for (size_t i = 0; singleton && i < CNIO_ARRAY_LEN(cli_end_sigs); i++)
        sigaddset(&ends, cli_end_sigs[i]);
    sigprocmask(SIG_BLOCK, &ends, &mask);
    if (singleton && !getenv("OMPI_MCA_orte_tmpdir_base")) {
        /* Open MPI's singletons share one session directory (TMPDIR/ompi.HOST.UID/jf.0),
         * and one that exits removes it while another is making its own there: MPI_Init
         * then fails ("A call to mkdir was unable to create the desired directory"), about
         * once in 180 starts of two cnio commands at a time. Each gets a base of its own. */
        const char *t = getenv("TMPDIR");

        t = t && *t && strlen(t) < sizeof(cli_mpi_tmp) - 40 ? t : "/tmp";
        cli_mpi_sweep(t);
        snprintf(cli_mpi_tmp, sizeof(cli_mpi_tmp), "%s/cnio-mpi-%d-XXXXXX", t, (int)getpid());
        if (mkdtemp(cli_mpi_tmp) && atexit(cli_mpi_tmp_remove) == 0)
            setenv("OMPI_MCA_orte_tmpdir_base", cli_mpi_tmp, 1);
        else
            cli_mpi_tmp[0] = '\0';
    }
    if (singleton) {
        setenv("OMPI_MCA_ess_singleton_isolated", "1", 0);
        setenv("OMPI_MCA_pml", "ob1", 0);
        setenv("OMPI_MCA_btl", "self", 0);
        cli_hwloc_no_io();
    } else if (!cli_host_has_rdma()) {
        setenv("OMPI_MCA_mtl", "^psm,psm2,ofi", 0);
        setenv("OMPI_MCA_btl", "^ofi,openib,uct", 0);
        cli_hwloc_no_io();
    }
    MPI_Init(NULL, NULL);
    if (cli_mpi_tmp[0]) {
        nftw(cli_mpi_tmp, cli_note_one, 16, FTW_DEPTH | FTW_PHYS);
        cli_end_catch();
    }
    sigprocmask(SIG_SETMASK, &mask, NULL);
}

const char *cli_bytes(uint64_t n, char *buf, size_t cap)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double v = (double)n;
    int u = 0;

    while (v >= 1024 && u < 4)
        v /= 1024, u++;
    snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

void cli_progress_rate(double rate, uint64_t left, int final)
{
    fprintf(stderr, "  %.1f MB/s", rate / 1e6);
    if (final)
        fprintf(stderr, "%20s\n", "");   /* over a longer line's ETA */
    else if (rate > 0)
        fprintf(stderr, "  ETA %.0f s   ", (double)left / rate);
    else
        fputs("  ETA ? s   ", stderr);
}

/* 1 when the usage line (help's first line) names option opt, as "[opt]" or "[opt ". */
static int cli_takes(const char *help, const char *opt)
{
    size_t n = strcspn(help, "\n"), k = strlen(opt);

    for (const char *p = strstr(help, opt); p && (size_t)(p - help) < n; p = strstr(p + 1, opt))
        if (p > help && p[-1] == '[' && (p[k] == ']' || p[k] == ' '))
            return 1;
    return 0;
}

int cli_parse(const char *help, int argc, char **argv, struct cli_opts *o, char **pos,
              int maxpos)
{
    int npos = 0;

    for (int i = 1; i < argc; i++) {
        int r;

        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(help, stdout);
            return -2;
        }
        if (!strcmp(argv[i], "--")) {   /* the rest are names, "-dashfile" too (POSIX) */
            for (i++; i < argc; i++) {
                if (npos == maxpos) {
                    cli_err("cnio: too many arguments\n");
                    return -1;
                }
                pos[npos++] = argv[i];
            }
            break;
        }
        if (!strcmp(argv[i], "-l")) {
            o->long_list = 1;
            continue;
        }
        if (cli_takes(help, argv[i]) && !strcmp(argv[i], "--no-preserve-root")) {
            o->no_preserve_root = 1;
            continue;
        }
        if (cli_takes(help, argv[i]) && (!strcmp(argv[i], "-p") || !strcmp(argv[i], "-r") ||
                                         !strcmp(argv[i], "--json"))) {
            o->parents |= argv[i][1] == 'p';
            o->recursive |= argv[i][1] == 'r';
            o->json |= argv[i][1] == '-';
            continue;
        }
        r = cli_common_opt(o, argc, argv, &i);
        if (r < 0)
            return -1;
        if (r > 0)
            continue;
        if (argv[i][0] == '-' && argv[i][1]) {
            cli_err("cnio: unknown option %s\n", argv[i]);
            return -1;
        }
        if (npos == maxpos) {
            cli_err("cnio: too many arguments\n");
            return -1;
        }
        pos[npos++] = argv[i];
    }
    return npos;
}

int cli_target(const char *cmd, const struct cli_opts *o, const char *uri,
               struct cnio_uri *u, struct cnio_hints *h)
{
    int rc;

    if (!cnio__uri_is_cnio(uri)) {
        cli_err("cnio %s: %s is not a cnio:// URI\n", cmd, uri);
        return -CNIO_ERR_URI;
    }
    rc = cnio__uri_parse(uri, u);
    if (rc == -CNIO_ERR_URI) {
        cli_err("cnio %s: %s: %s: %s\n", cmd, uri, cnio_strerror(rc), cnio__uri_why());
        return rc;
    }
    if (rc == 0)
        rc = cli_hints(o, u, h);
    if (rc)
        cli_fail(cmd, uri, rc);
    return rc;
}

int cli_check_uri(const char *cmd, const char *uri)
{
    struct cnio_uri u;
    int rc = cnio__uri_parse(uri, &u);

    if (rc == -CNIO_ERR_URI)
        cli_err("cnio %s: %s: %s: %s\n", cmd, uri, cnio_strerror(rc), cnio__uri_why());
    else if (rc)
        cli_fail(cmd, uri, rc);
    if (rc)
        return rc;
    /* Its query too: the hints in it are read only when the command acts on the URI,
     * and a malformed one then failed that argument alone, after the others had been
     * acted on (rm removed, mv renamed). Unknown names are warned of then, not here. */
    if (u.query) {
        struct cnio_hints h;
        int level = cnio__log_get_level();

        cnio__hints_default(&h);
        cnio__log_set_level(CNIO_LOG_ERROR);
        rc = cnio__hints_from_query(&h, u.query);
        cnio__log_set_level(level);
        if (rc)
            cli_err("cnio %s: %s: %s in its query \"?%s\" (name=value pairs joined by '&'; "
                    "the names and values: cnio-hints(7))\n", cmd, uri, cnio_strerror(rc),
                    u.query);
    }
    cnio__uri_free(&u);
    return rc;
}

/*
 * Refuses, before anything is written, a key FILE that exists or whose directory does
 * not (as ssh-keygen does): only ~/.cnio, the directory of the key clients read by
 * default, is made when missing (by cnio__key_generate). 0, or CLI_EXIT_FAIL (said).
 */
static int cli_keygen_check(const char *arg)
{
    char file[4096], dflt[4096];
    struct stat sb;
    char *slash;

    if (cnio__key_path(arg, file, sizeof(file)))
        return 0;   /* cnio__key_generate says why */
    if (lstat(file, &sb) == 0) {
        cli_err("cnio keygen: %s exists (remove it first to replace it)\n", arg);
        return CLI_EXIT_FAIL;
    }
    slash = strrchr(file, '/');
    if (!slash || slash == file)
        return 0;
    *slash = '\0';
    if (stat(file, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
        cli_err("cnio keygen: %s: not a directory\n", file);
        return CLI_EXIT_FAIL;
    }
    if (stat(file, &sb) == 0 || errno != ENOENT)
        return 0;
    if (cnio__key_path("~/.cnio/key", dflt, sizeof(dflt)) == 0 && strrchr(dflt, '/') &&
        strlen(file) == (size_t)(strrchr(dflt, '/') - dflt) && strncmp(file, dflt, strlen(file)) == 0)
        return 0;
    cli_err("cnio keygen: %s: no such directory (make it first; only ~/.cnio is made "
            "when missing)\n", file);
    return CLI_EXIT_FAIL;
}

int cli_keygen(int argc, char **argv)
{
    static const char help[] =
        "usage: cnio keygen [-q] FILE\n\nWrites a fresh random shared key to FILE (mode 0600). FILE must not exist,\n"
        "and its directory must (but ~/.cnio, which is made, mode 0700). Copy it to every\n"
        "cnio-server host (--key) and every client ($CNIO_KEY_FILE or ~/.cnio/key).\n"
        "FILE - writes it to standard output (for a pipe: keep it out of logs).\n"
        "  -q  say nothing on success\n";
    struct cli_opts o = { 0 };
    char *pos[1];
    int n = cli_parse(help, argc, argv, &o, pos, 1), rc;

    if (n == -2)
        return CLI_EXIT_OK;
    if (n == 1 && (o.key_file || o.nhints)) {   /* it reads no key and connects nowhere */
        cli_err("cnio keygen: --key and -o do not go with keygen (FILE is the key it "
                "writes)\n");
        n = -1;
    }
    if (n != 1) {
        cli_usage(help);
        return CLI_EXIT_USAGE;
    }
    rc = strcmp(pos[0], "-") ? cli_keygen_check(pos[0]) : 0;
    if (rc)
        return rc;
    rc = cnio__key_generate(pos[0]);
    if (rc)
        return cli_fail("keygen", pos[0], rc);
    if (!o.quiet && strcmp(pos[0], "-"))   /* (standard output holds the key alone) */
        printf("wrote a new key to %s (mode 0600)\n", pos[0]);
    return CLI_EXIT_OK;
}

/* 1 when uri (parsed already) names the store's root: cnio://h, cnio://h/, cnio://h//. */
static int cli_names_root(const char *uri)
{
    struct cnio_uri u;
    int root = 0;

    if (cnio__uri_parse(uri, &u) == 0) {
        root = !u.path[0];
        cnio__uri_free(&u);
    }
    return root;
}

int cli_rm(int argc, char **argv)
{
    static const char help[] =
        "usage: cnio rm [-r] [--no-preserve-root] [--key FILE] [-o NAME=VALUE] URI...\n\n"
        "Removes each object from all its hosts.\n"
        "-r: a directory too, with every object and directory beneath it.\n"
        "The root of the store (cnio://hosts/) is refused unless -r --no-preserve-root.\n";
    struct cli_opts o = { 0 };
    struct cnio_stack *st = NULL;
    char *pos[256];
    int n = cli_parse(help, argc, argv, &o, pos, 256), rc, ret = CLI_EXIT_OK;

    if (n == -2)
        return CLI_EXIT_OK;
    if (n < 1) {
        cli_usage(help);
        return CLI_EXIT_USAGE;
    }
    for (int i = 0; i < n; i++)   /* nothing is removed when one argument is malformed */
        if (cli_check_uri("rm", pos[i])) {
            ret = CLI_EXIT_USAGE;
        } else if (cli_names_root(pos[i]) && !(o.recursive && o.no_preserve_root)) {
            cli_err("cnio rm: %s: refusing to remove the root of the store (every "
                    "object on every server); -r --no-preserve-root removes it all\n", pos[i]);
            ret = CLI_EXIT_USAGE;
        }
    if (ret == CLI_EXIT_USAGE) {
        cli_err("cnio rm: nothing removed\n");
        return ret;
    }
    rc = cnio__stack_open(&st);
    if (rc)
        return cli_fail("rm", "stack", rc);
    for (int i = 0; i < n; i++) {
        struct cnio_uri u = { 0 };
        struct cnio_hints h;

        if (o.recursive) {
            ret = cli_worse(ret, cli_rm_tree(&o, pos[i]));
            continue;
        }
        if (cli_target("rm", &o, pos[i], &u, &h) == 0) {
            ret = cli_worse(ret, cli_status(cli_rm_object(st, pos[i], &u, &h)));
        } else {
            ret = CLI_EXIT_USAGE;
        }
        cnio__uri_free(&u);
    }
    cnio__stack_close(st);
    return ret;
}

int cli_std_closed;

/* Standard input, output and error closed at start (`cnio cp - URI <&-`) get /dev/null,
 * so that no descriptor MPI or cnio opens later takes their number and is read or
 * written as one of them; cli_std_closed says which were (bit 0, 1, 2). */
static void cli_std_guard(void)
{
    for (int fd = 0; fd <= 2; fd++)
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            int n = open("/dev/null", fd ? O_WRONLY : O_RDONLY);

            cli_std_closed |= 1 << fd;
            if (n >= 0 && n != fd) {   /* (the lowest free number: fd itself) */
                dup2(n, fd);
                close(n);
            }
        }
}

/*
 * 1 when this process is a rank other than 0 that mpirun (or its daemon) started itself:
 * the rank in the environment, and a launcher as the parent. A command that does not
 * share its work over ranks then leaves it to rank 0: `mpirun -n 2 cnio rm URI` removed
 * on both, and the second said "no such object", exit 1; ls and stat printed twice. A
 * rank of an MPI program that runs cnio (its environment inherited, its parent the
 * program) is not one, and acts.
 */
static int cli_extra_rank(void)
{
    static const char *const vars[] = { "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK" };
    static const char *const launchers[] = { "mpirun", "mpiexec", "orterun", "orted",
                                             "prterun", "prted", "prte", "hydra_pmi_proxy" };
    const char *r = NULL;
    char path[64], comm[32] = "";
    FILE *f;

    for (size_t i = 0; !r && i < CNIO_ARRAY_LEN(vars); i++)
        r = getenv(vars[i]);
    if (!r || !strcmp(r, "0") || !*r)
        return 0;
    snprintf(path, sizeof(path), "/proc/%ld/comm", (long)getppid());
    f = fopen(path, "r");
    if (!f)
        return 0;
    if (!fgets(comm, sizeof(comm), f))
        comm[0] = '\0';
    fclose(f);
    comm[strcspn(comm, "\n")] = '\0';
    for (size_t i = 0; i < CNIO_ARRAY_LEN(launchers); i++)
        if (!strcmp(comm, launchers[i]))
            return 1;
    return 0;
}

/*
 * rc, or CLI_EXIT_FAIL when what the command wrote to standard output was lost (a full
 * disk, a closed pipe: `cnio ls -l URI > list`), said, as coreutils' close_stdout does:
 * stdio's buffer is written at exit, unchecked, and an error there was exit 0. A
 * standard output closed before the command (EBADF with nothing written) is no error.
 */
static int cli_stdout_done(int rc)
{
    int pending = __fpending(stdout) != 0, failed = ferror(stdout) != 0, closed;

    errno = 0;
    closed = fclose(stdout) == 0;
    if (!closed && (pending || errno != EBADF))
        failed = 1;
    if (!failed)
        return rc;
    /* (an earlier write failed and the close did not: errno no longer says why) */
    cli_err("cnio: standard output: %s\n", !closed && errno ? strerror(errno) : "write error");
    return rc == CLI_EXIT_OK ? CLI_EXIT_FAIL : rc;
}

/*
 * argv[1..argc) of a command with grouped flags split, as getopt takes them: "-rp" as
 * "-r" "-p" (`cnio cp -rp`, `ls -lq`), for the flags that take no value (r R p L l q);
 * not after "--", nor as the value of -o, --key or --chunk. A group with any other
 * letter stays as it is (an unknown option, or a name). *n is the new count; the array
 * is malloc'ed (free it; its strings are argv's or static), NULL when out of memory.
 * run and bench are not given here: run's arguments are its program's.
 */
static char **cli_split_flags(int argc, char **argv, int *n)
{
    static const char flags[] = "rRpLlq";
    static char one[sizeof(flags) - 1][3] = { "-r", "-R", "-p", "-L", "-l", "-q" };
    char **out = calloc((size_t)argc * (sizeof(flags) - 1) + 1, sizeof(*out));
    int k = 0, done = 0;

    if (!out)
        return NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        size_t len = strlen(a);

        if (i > 0 && !done && a[0] == '-' && len > 2 && a[1] != '-' &&
            len - 1 <= sizeof(flags) - 1 && strspn(a + 1, flags) == len - 1 &&
            strcmp(argv[i - 1], "-o") && strcmp(argv[i - 1], "--key") &&
            strcmp(argv[i - 1], "--chunk")) {
            for (size_t j = 1; j < len; j++)
                out[k++] = one[strchr(flags, a[j]) - flags];
            continue;
        }
        done |= i > 0 && !strcmp(a, "--");
        out[k++] = argv[i];
    }
    *n = k;
    return out;
}

/*
 * fn(argc, argv), a command's status; but a failure when it would be 0 and the library
 * wrote an error line meanwhile (a step whose failure the command went past: stat printed
 * a host's error, then the object, exit 0). A command that shares its work over ranks
 * (cp, bench, run) weighs its library's errors itself (cp_run's lib_errors: a try
 * that failed and was taken again).
 */
static int cli_run_one(int (*fn)(int, char **), int ranks, int argc, char **argv)
{
    unsigned said = cnio__log_errors_said();
    int rc;

    cli_begun = cnio__log_errors();
    rc = fn(argc, argv);

    return rc == CLI_EXIT_OK && !ranks && cnio__log_errors_said() != said ? CLI_EXIT_FAIL
                                                                           : rc;
}

static int cli_main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int, char **);
        int ranks;              /* shares its work over mpirun's ranks (else: rank 0's) */
    } cmds[] = {
        { "cp", cli_cp, 1 }, { "ls", cli_ls, 0 }, { "stat", cli_stat, 0 },
        { "rm", cli_rm, 0 }, { "keygen", cli_keygen, 0 }, { "bench", cli_bench, 1 },
        { "run", cli_run, 1 }, { "mkdir", cli_mkdir, 0 }, { "mv", cli_mv, 0 },
        { "du", cli_du, 0 }, { "sum", cli_sum, 0 },
    };

    cli_std_guard();
    cnio__cl_say_once(1);   /* a host down is said once per command (per rank) */
    /* `cnio help [COMMAND]`, as git and others take it: this usage, or COMMAND --help */
    if ((argc == 2 || argc == 3) && !strcmp(argv[1], "help")) {
        static char help_flag[] = "--help";
        char *hv[] = { argv[0], argc == 3 ? argv[2] : help_flag, help_flag, NULL };

        return cli_main(argc == 3 ? 3 : 2, hv);
    }
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("cnio %s\n", PACKAGE_VERSION);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < CNIO_ARRAY_LEN(cmds); i++)
        if (!strcmp(argv[1], cmds[i].name)) {
            int n = argc - 1, rc;
            char **args = cmds[i].fn == cli_run || cmds[i].fn == cli_bench
                          ? argv + 1 : cli_split_flags(argc - 1, argv + 1, &n);

            if (!args) {
                cli_err("cnio: out of memory\n");
                return CLI_EXIT_FAIL;
            }
            rc = !cmds[i].ranks && cli_extra_rank() ? CLI_EXIT_OK : cli_run_one(cmds[i].fn,
                                                                               cmds[i].ranks,
                                                                               n, args);
            if (args != argv + 1)
                free(args);
            return rc;
        }
    cli_err("cnio: unknown command '%s'\n", argv[1]);
    fprintf(stderr, "\n%s", usage_text);
    return CLI_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    return cli_stdout_done(cli_main(argc, argv));
}
