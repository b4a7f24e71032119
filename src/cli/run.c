/*
 * run.c - `cnio run [OPTIONS] [--] PROGRAM [ARGS]`: runs PROGRAM with the MPI-IO
 * interposition preloaded (LD_PRELOAD, prepended to what was there, so that the program
 * and every child it starts get it). No MPI here: the command only sets the environment
 * and execs, so `mpirun -n 64 cnio run ./app` starts 64 ranks of ./app. With --sockets,
 * the socket shim for legacy per-rank code instead (run_sockets.c, doc/sockets.md), or
 * both with --sockets --mpiio.
 *
 * The library is, in this order: $CNIO_MPIIO_LIB; in the build tree beside this binary
 * (libtool's .libs at the top of the build, or beside it); PREFIX/lib beside PREFIX/bin;
 * the libdir configure chose.
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RUN_MPIIO_LIB "libcnio_mpiio.so"

static const char run_usage[] =
    "usage: cnio run [OPTIONS] [--] PROGRAM [ARGS...]\n"
    "\n"
    "Runs PROGRAM with cnio's MPI-IO interposition preloaded (LD_PRELOAD, kept for its\n"
    "children): MPI_File_* calls on names cnio://... then go to cnio, all other files to\n"
    "the MPI library as before. Under a launcher: mpirun -n 64 cnio run ./app ARGS.\n"
    "\n"
    "options:\n"
    "  --sockets       legacy per-rank socket code: preload the socket shim instead\n"
    "                  (libcnio_sockets.so) and start or find the job's proxy: names\n"
    "                  resolved once per job, connection setups admitted per\n"
    "                  destination, failed destinations fail fast (doc/sockets.md)\n"
    "  --mpiio         with --sockets: preload the MPI-IO interposition too\n"
    "  -h, --help      this help\n"
    "\n"
    "environment:\n"
    "  CNIO_MPIIO_LIB  the library to preload (default: found beside this command or in\n"
    "                  " CNIO_LIBDIR ")\n"
    "  CNIO_SOCKETS_LIB  the same for --sockets (libcnio_sockets.so)\n"
    "  CNIO_PROXY_BIN  --sockets: the proxy to start (default: cnio-proxy found beside\n"
    "                  this command, else in " CNIO_BINDIR "); when it does not start,\n"
    "                  cnio run says why and runs PROGRAM without it\n"
    "\n"
    "exit status: PROGRAM's; 127 when PROGRAM is not found, 126 when it cannot be run,\n"
    "1 when the library is not found, 2 bad usage.\n";

/* What the options asked for. */
struct run_opts {
    int help;
    int sockets;
    int mpiio;
};

/* One option: its spellings and the flag it sets. Add a row for a new option. */
static const struct run_opt {
    const char *shrt, *lng;
    size_t field;
} run_table[] = {
    { "-h", "--help", offsetof(struct run_opts, help) },
    { "--sockets", "--sockets", offsetof(struct run_opts, sockets) },
    { "--mpiio", "--mpiio", offsetof(struct run_opts, mpiio) },
};

/* Parses the options; returns the index of PROGRAM in argv, or -1 on bad usage. */
static int run_parse(int argc, char **argv, struct run_opts *o)
{
    int i;

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        size_t k;

        if (!strcmp(argv[i], "--"))
            return i + 1;
        for (k = 0; k < CNIO_ARRAY_LEN(run_table); k++) {
            if (!strcmp(argv[i], run_table[k].shrt) || !strcmp(argv[i], run_table[k].lng)) {
                *(int *)((char *)o + run_table[k].field) = 1;
                break;
            }
        }
        if (k == CNIO_ARRAY_LEN(run_table)) {
            cli_err("cnio run: unknown option '%s'\n", argv[i]);
            return -1;
        }
    }
    return i;
}

static int run_try(const char *dir, const char *rel, const char *name, char *out)
{
    char path[PATH_MAX];

    if ((size_t)snprintf(path, sizeof(path), "%s/%s%s", dir, rel, name) >= sizeof(path))
        return 0;
    return access(path, R_OK) == 0 && realpath(path, out);
}

/*
 * The absolute path of the library name into out (PATH_MAX bytes): $env when set (it
 * must exist), else the first of beside[] (relative to this command's directory) that
 * holds it, else CNIO_LIBDIR. 0, or -1 with a message (the caller exits 1).
 */
int cli_run_find_lib(const char *name, const char *env, const char *const *beside,
                     size_t nbeside, char *out)
{
    const char *val = getenv(env);
    char exe[PATH_MAX], *slash;
    ssize_t n;

    if (val && *val) {
        if (access(val, R_OK) == 0 && realpath(val, out))
            return 0;
        cli_err("cnio run: %s=%s: %s\n", env, val, strerror(errno));
        return -1;
    }
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        for (size_t i = 0; i < nbeside; i++)
            if (run_try(exe, beside[i], name, out))
                return 0;
    }
    if (run_try(CNIO_LIBDIR, "", name, out))
        return 0;
    cli_err("cnio run: %s not found (looked beside %s and in %s); set "
            "%s to its path\n", name, n > 0 ? exe : "this command", CNIO_LIBDIR, env);
    return -1;
}

/* The MPI-IO library's absolute path into out (PATH_MAX bytes): 0, or -1. */
static int run_find_lib(char *out)
{
    static const char *const beside[] = { ".libs/", "../../.libs/", "../.libs/", "../lib/" };

    return cli_run_find_lib(RUN_MPIIO_LIB, "CNIO_MPIIO_LIB", beside, CNIO_ARRAY_LEN(beside),
                            out);
}

/* LD_PRELOAD = lib, then whatever was there (unless lib already is). */
static int run_preload(const char *lib)
{
    const char *old = getenv("LD_PRELOAD");
    char *v;
    int rc;

    if (old && strstr(old, lib))
        return 0;
    if (!old || !*old)
        return setenv("LD_PRELOAD", lib, 1);
    if (asprintf(&v, "%s:%s", lib, old) < 0)
        return -1;
    rc = setenv("LD_PRELOAD", v, 1);
    free(v);
    return rc;
}

int cli_run(int argc, char **argv)
{
    struct run_opts o = { 0 };
    char lib[PATH_MAX];
    int prog = run_parse(argc, argv, &o), err;

    if (o.help) {
        fputs(run_usage, stdout);
        return CLI_EXIT_OK;
    }
    if (prog < 0 || prog >= argc) {
        if (prog >= 0)
            fputs("cnio run: no PROGRAM given\n", stderr);
        cli_usage(run_usage);
        return CLI_EXIT_USAGE;
    }
    if (o.sockets && cli_run_sockets() != 0)
        return CLI_EXIT_FAIL;
    if (!o.sockets || o.mpiio) {
        if (run_find_lib(lib) != 0)
            return CLI_EXIT_FAIL;
        if (run_preload(lib) != 0) {
            cli_err("cnio run: cannot set LD_PRELOAD: %s\n", strerror(errno));
            return CLI_EXIT_FAIL;
        }
    }
    execvp(argv[prog], argv + prog);
    err = errno;
    cli_err("cnio run: %s: %s\n", argv[prog], strerror(err));
    return err == ENOENT ? 127 : 126;   /* as sh, env and timeout: found but not runnable */
}
