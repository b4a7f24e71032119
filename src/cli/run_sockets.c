/*
 * run_sockets.c - the environment of `cnio run --sockets`: the job's proxy (found, or
 * started by the first process of the job to take its lock; sockets/skenv.h) and
 * libcnio_sockets.so in LD_PRELOAD. The paths come from $CNIO_PROXY_BIN and
 * $CNIO_SOCKETS_LIB, else the install directories.
 */
#include "cli.h"
#include "skenv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_run_sockets(void)
{
    const char *lib = getenv("CNIO_SOCKETS_LIB"), *bin = getenv("CNIO_PROXY_BIN");
    const char *pre = getenv("LD_PRELOAD");
    char sock[512], *preload;
    size_t n;
    int rc = 0;

    if (!lib || !*lib)
        lib = CNIO_LIBDIR "/libcnio_sockets.so";
    if (!bin || !*bin)
        bin = CNIO_BINDIR "/cnio-proxy";
    if (!getenv("CNIO_SOCKETS_PROXY")) {
        rc = cnio__sk_proxy_ensure(bin, sock, sizeof(sock));
        if (rc == 0)
            setenv("CNIO_SOCKETS_PROXY", sock, 1);
        else
            fprintf(stderr, "cnio run: no socket proxy (%s): running without it\n",
                    strerror(-rc));
    }
    if (pre && strstr(pre, lib))
        return;
    n = strlen(lib) + (pre ? strlen(pre) : 0) + 2;
    preload = malloc(n);
    if (!preload)
        return;
    snprintf(preload, n, "%s%s%s", lib, pre && *pre ? ":" : "", pre && *pre ? pre : "");
    setenv("LD_PRELOAD", preload, 1);
    free(preload);
}
