/*
 * run_sockets.c - the environment of `cnio run --sockets`: the job's proxy (found, or
 * started by the first process of the job to take its lock; sockets/skenv.h) and
 * libcnio_sockets.so in LD_PRELOAD. The library is $CNIO_SOCKETS_LIB, else found beside
 * this command (the build tree's sockets/.libs, PREFIX/lib), else in the libdir; a
 * library that is not there is an error (ld.so would only say "ignored" and run the
 * program without the shim). The proxy is $CNIO_PROXY_BIN, else the install directory's.
 */
#include "cli.h"
#include "skenv.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_run_sockets(void)
{
    static const char *const beside[] = { "../../sockets/.libs/", "../../../sockets/.libs/",
                                          ".libs/", "../lib/" };
    const char *bin = getenv("CNIO_PROXY_BIN"), *pre = getenv("LD_PRELOAD");
    char lib[PATH_MAX], sock[512], *preload;
    size_t n;
    int rc;

    if (cli_run_find_lib("libcnio_sockets.so", "CNIO_SOCKETS_LIB", beside,
                         CNIO_ARRAY_LEN(beside), lib) != 0)
        return -1;
    if (!bin || !*bin)
        bin = CNIO_BINDIR "/cnio-proxy";
    if (!getenv("CNIO_SOCKETS_PROXY")) {
        rc = cnio__sk_proxy_ensure(bin, sock, sizeof(sock));
        if (rc == 0)
            setenv("CNIO_SOCKETS_PROXY", sock, 1);
        else
            cli_err("cnio run: no socket proxy (%s): running without it\n",
                    strerror(-rc));
    }
    if (pre && strstr(pre, lib))
        return 0;
    n = strlen(lib) + (pre ? strlen(pre) : 0) + 2;
    preload = malloc(n);
    if (!preload) {
        cli_err("cnio run: cannot set LD_PRELOAD: %s\n", strerror(ENOMEM));
        return -1;
    }
    snprintf(preload, n, "%s%s%s", lib, pre && *pre ? ":" : "", pre && *pre ? pre : "");
    rc = setenv("LD_PRELOAD", preload, 1);
    free(preload);
    if (rc != 0) {
        cli_err("cnio run: cannot set LD_PRELOAD: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}
