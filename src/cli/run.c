/*
 * run.c - `cnio run [--sockets] [--] PROGRAM [ARGS]`: runs PROGRAM (with execvp, so
 * under mpirun every rank becomes its program) with cnio's interposition libraries.
 * --sockets: the socket shim for legacy per-rank code (run_sockets.c, doc/sockets.md).
 * cnio run does not initialise MPI: the program it becomes may.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int cli_run(int argc, char **argv)
{
    static const char help[] =
        "usage: cnio run [--sockets] [--] PROGRAM [ARGS...]\n\n"
        "Runs PROGRAM (under mpirun: every rank) with cnio's interposition libraries.\n"
        "  --sockets  legacy socket code: libcnio_sockets.so is preloaded and the job's\n"
        "             proxy started or found, so that name lookups happen once per job,\n"
        "             connection setups are admitted per destination, and connects to a\n"
        "             failed destination fail fast (doc/sockets.md; CNIO_SOCKETS_* knobs)\n";
    int i = 1, sockets = 0;

    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--")) {
            i++;
            break;
        }
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(help, stdout);
            return CLI_EXIT_OK;
        }
        if (!strcmp(argv[i], "--sockets")) {
            sockets = 1;
            continue;
        }
        fprintf(stderr, "cnio run: unknown option %s\n", argv[i]);
        return CLI_EXIT_USAGE;
    }
    if (i >= argc) {
        fputs(help, stderr);
        return CLI_EXIT_USAGE;
    }
    if (sockets)
        cli_run_sockets();
    execvp(argv[i], argv + i);
    fprintf(stderr, "cnio run: %s: %s\n", argv[i], strerror(errno));
    return errno == ENOENT ? 127 : 126;
}
