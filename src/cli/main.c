/*
 * main.c - the cnio command: dispatch, common options and hints, and what every
 * subcommand says (errors, exit statuses). `cnio cp` lives in cp.c, ls and stat in ls.c,
 * rm in rm.c, keygen in keygen.c, mkdir, mv, du and sum in cmds.c; MPI_Init's defaults
 * in mpi_init.c.
 */
#include "cnio_config.h"
#include "cli.h"
#include "auth.h"
#include "client.h"
#include "log.h"
#include "skenv.h"
#include "../../collective/coll.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
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
            /* a misspelled CNIO_* name, said by rank 0 (the program `cnio run` starts
             * says it instead: its library or the socket shim) */
            if (cmds[i].fn != cli_run && !cli_extra_rank())
                cnio__env_say();
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
