/*
 * run_sockets.c - the environment of `cnio run --sockets`: the job's proxy (found, or
 * started by the first process of the job to take its lock; sockets/skenv.h) and
 * libcnio_sockets.so in LD_PRELOAD. The library is $CNIO_SOCKETS_LIB, else found beside
 * this command (the build tree's sockets/.libs, PREFIX/lib), else in the libdir; a
 * library that is not there is an error (ld.so would only say "ignored" and run the
 * program without the shim). The proxy is $CNIO_PROXY_BIN, else found beside this command
 * (the build tree's sockets/, the install's bindir), else the install directory's.
 */
#include "cli.h"
#include "env.h"
#include "skenv.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cnio-proxy beside this command (the build tree: src/cli/ or src/cli/.libs/ beside
 * sockets/; an install: the same bindir) into out (PATH_MAX bytes), else the install
 * directory's. */
static void run_proxy_bin(char *out)
{
    static const char *const beside[] = { "../../sockets/", "../../../sockets/", "" };
    char exe[PATH_MAX], *slash;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    if (n > 0) {
        exe[n] = '\0';
        slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        for (size_t i = 0; i < CNIO_ARRAY_LEN(beside); i++) {
            if (snprintf(out, PATH_MAX, "%s/%scnio-proxy", exe, beside[i]) < PATH_MAX &&
                access(out, X_OK) == 0)
                return;
        }
    }
    snprintf(out, PATH_MAX, "%s", CNIO_BINDIR "/cnio-proxy");
}

/*
 * Sets CNIO_SOCKETS_PROXY for the program: the one it inherited when a proxy answers
 * there (a nested run), else the job's proxy, found or started (an inherited path of a
 * proxy that died, or an empty one, is not trusted); unset when there is none, said.
 * Unless nested, the program is the top process of a job of its own: an inherited
 * CNIO_SOCKETS_TOP (sockets/shim_down.c) is dropped, and the shim names the program.
 */
static void run_sockets_proxy(const char *bin)
{
    const char *had = getenv("CNIO_SOCKETS_PROXY");
    char sock[512], why[1024];
    int rc;

    if (had && *had) {
        rc = cnio__sk_proxy_alive(had, 1000);
        if (rc == 0)
            return;
        cli_err("cnio run: no socket proxy answers at CNIO_SOCKETS_PROXY=%s (%s): finding "
                "or starting the job's own proxy instead\n", had, strerror(-rc));
    }
    unsetenv("CNIO_SOCKETS_TOP");
    rc = cnio__sk_proxy_ensure(bin, sock, sizeof(sock), why, sizeof(why));
    if (rc == 0) {
        setenv("CNIO_SOCKETS_PROXY", sock, 1);
        return;
    }
    unsetenv("CNIO_SOCKETS_PROXY");
    cli_err("cnio run: no socket proxy: %s: the program runs without it (its lookups go "
            "straight to libc, its connects too, within CNIO_SOCKETS_CONNECT_TIMEOUT_MS)\n",
            why);
}

int cli_run_sockets(void)
{
    static const char *const beside[] = { "../../sockets/.libs/", "../../../sockets/.libs/",
                                          ".libs/", "../lib/" };
    const char *bin = getenv("CNIO_PROXY_BIN"), *pre = getenv("LD_PRELOAD");
    char lib[PATH_MAX], found[PATH_MAX], *preload;
    struct cnio__sk_conf conf;
    size_t n;
    int rc;

    if (cli_run_find_lib("libcnio_sockets.so", "CNIO_SOCKETS_LIB", beside,
                         CNIO_ARRAY_LEN(beside), lib) != 0)
        return -1;
    if (!bin || !*bin) {
        run_proxy_bin(found);
        bin = found;
    }
    /* said once per job: by rank 0 (every rank's environment holds them alike: `mpirun
     * -n 5 cnio run --sockets` said them 5 times), not by the processes the program
     * starts */
    cnio__sk_conf_load(&conf);
    if (conf.bad[0] && cnio__env_rank0())
        cli_err("cnio run: settings not taken as given: %s\n", conf.bad);
    run_sockets_proxy(bin);
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
