/*
 * env.c - the CNIO_* environment variables cnio knows, and the unknown ones of an
 * environment, each with the known name nearest to it (see env.h).
 */
#include "env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Every CNIO_* variable read anywhere in cnio, and those of its tests and scripts (which
 * live in the same environment as the programs they run: a test's own name must not be
 * said to be a misspelling). tests/cli/env-unknown.test fails when a source, test or
 * script reads a CNIO_* name this table lacks.
 */
static const char *const env_names[] = {
    /* hints (src/config.c's table; README "Hints", cnio-hints(7)) */
    "CNIO_STRIPING_UNIT", "CNIO_STRIPE_UNIT", "CNIO_STRIPING_FACTOR", "CNIO_STRIPE_COUNT",
    "CNIO_CB_NODES", "CNIO_CB_BUFFER_SIZE", "CNIO_ROMIO_CB_WRITE", "CNIO_ROMIO_CB_READ",
    "CNIO_CB_DIRECT_MIN", "CNIO_ROMIO_DS_READ", "CNIO_IND_RD_BUFFER_SIZE", "CNIO_LANES",
    "CNIO_TIMEOUT_MS", "CNIO_CONNECT_WINDOW", "CNIO_TRANSPORT", "CNIO_KEY_FILE",
    "CNIO_RESUME", "CNIO_REPLACE", "CNIO_MAX_CONNS_PER_SERVER", "CNIO_CONNECT_MODE",
    "CNIO_ROUTE", "CNIO_OFI_PROVIDER", "CNIO_LOST_ABORT_MS",
    /* the library's others: counters at close, log level, libfabric's source address */
    "CNIO_STATS", "CNIO_LOG_LEVEL", "CNIO_OFI_SOURCE",
    /* the cnio command: bench's hosts, cp -r's threads and batches, what cnio run loads */
    "CNIO_HOSTS", "CNIO_CP_THREADS", "CNIO_CP_PIPELINE", "CNIO_MPIIO_LIB",
    "CNIO_SOCKETS_LIB", "CNIO_PROXY_BIN",
    /* the socket shim and its proxy (sockets/skenv.h) */
    "CNIO_SOCKETS_PROXY", "CNIO_SOCKETS_TOP", "CNIO_SOCKETS_RUNDIR", "CNIO_SOCKETS_PROXY_LOG",
    "CNIO_SOCKETS_MANAGE", "CNIO_SOCKETS_NAMES", "CNIO_SOCKETS_WINDOW_INIT",
    "CNIO_SOCKETS_WINDOW_MAX", "CNIO_SOCKETS_CONNECT_TIMEOUT_MS", "CNIO_SOCKETS_SLOW_MS",
    "CNIO_SOCKETS_SETTLE_MS", "CNIO_SOCKETS_HOLDDOWN_MS", "CNIO_SOCKETS_NAME_TTL_MS",
    "CNIO_SOCKETS_PROXY_TIMEOUT_MS", "CNIO_SOCKETS_PROXY_IDLE_MS", "CNIO_SOCKETS_JOB",
    "CNIO_SOCKETS_JOB_WAIT_MS", "CNIO_SOCKETS_JOB_ADDR", "CNIO_SOCKETS_JOB_SECRET",
    "CNIO_SOCKETS_JOB_KEY", "CNIO_SOCKETS_NONBLOCK_WAIT_MS", "CNIO_SOCKETS_ENV_SAID",
    /* the tests (tests/Makefile.inc, scripts/servers.sh, tests/bounded.sh, ...) */
    "CNIO_BIN", "CNIO_SERVER_BIN", "CNIO_TOP_SRCDIR", "CNIO_TOP_BUILDDIR", "CNIO_SERVER_PIDS",
    "CNIO_TEST_TIMEOUT", "CNIO_SANITIZER", "CNIO_MPI_TIMEOUT", "CNIO_TEST_BIG_MIB",
    "CNIO_TEST_SKIP_LARGE", "CNIO_TEST_SERVER_TRANSPORT", "CNIO_TEST_SERVER_OFI_PROVIDER",
    "CNIO_SOAK_SECONDS", "CNIO_FX_KEEP", "CNIO_FX_VERBOSE", "CNIO_NETNS_PREFIX",
    "CNIO_NETNS_RUNDIR", "CNIO_NETNS_SUBNET", "CNIO_FINISH_NETNS", "CNIO_KA_IN_NETNS",
    "CNIO_SK_IN_NETNS", "CNIO_STARVE_IN_NS", "CNIO_UNREACH_NETNS", "CNIO_STALL_IN_NETNS",
    /* the scripts (scripts/demo.sh, build.sh, fuzz.sh) */
    "CNIO_BUILD_DIR", "CNIO_DEMO_DIR", "CNIO_DEMO_MB", "CNIO_DEMO_N", "CNIO_FUZZ_DIR",
    "CNIO_FUZZ_SECONDS",
};

/* Longest name compared for nearness; a longer unknown name is said without a guess. */
#define ENV_NAME_MAX 64

int cnio__env_known(const char *name)
{
    for (size_t i = 0; i < sizeof(env_names) / sizeof(env_names[0]); i++)
        if (strcmp(env_names[i], name) == 0)
            return 1;
    return 0;
}

static char env_upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* The edit distance of a[0..n) and b[0..m) (n, m <= ENV_NAME_MAX), case aside: letters
 * inserted, removed, changed, or two neighbours swapped, one each. */
static int env_distance(const char *a, size_t n, const char *b, size_t m)
{
    int row[3][ENV_NAME_MAX + 1];

    for (size_t j = 0; j <= m; j++)
        row[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        int *cur = row[i % 3], *up = row[(i + 2) % 3], *up2 = row[(i + 1) % 3];

        cur[0] = (int)i;
        for (size_t j = 1; j <= m; j++) {
            int cost = env_upper(a[i - 1]) != env_upper(b[j - 1]);
            int d = up[j - 1] + cost;

            if (up[j] + 1 < d)
                d = up[j] + 1;
            if (cur[j - 1] + 1 < d)
                d = cur[j - 1] + 1;
            if (i > 1 && j > 1 && env_upper(a[i - 1]) == env_upper(b[j - 2]) &&
                env_upper(a[i - 2]) == env_upper(b[j - 1]) && up2[j - 2] + 1 < d)
                d = up2[j - 2] + 1;
            cur[j] = d;
        }
    }
    return row[n % 3][m];
}

/* 1 when the n bytes of a are the start of b, case aside, and b goes on with '_'
 * (CNIO_TIMEOUT for CNIO_TIMEOUT_MS). */
static int env_stem(const char *a, size_t n, const char *b)
{
    for (size_t i = 0; i < n; i++)
        if (!b[i] || env_upper(a[i]) != env_upper(b[i]))
            return 0;
    return b[n] == '_';
}

/* The known name nearest to name[0..n), or NULL when none is near: two edits at most
 * (fewer than the letters after CNIO_), or name a stem of it, or it a stem of name. */
static const char *env_nearest(const char *name, size_t n)
{
    const char *best = NULL;
    int best_d = 4;

    if (n > ENV_NAME_MAX)
        return NULL;
    for (size_t i = 0; i < sizeof(env_names) / sizeof(env_names[0]); i++) {
        const char *k = env_names[i];
        size_t m = strlen(k);
        int d = env_distance(name, n, k, m);

        if (d > 2 || d >= (int)n - 5)
            d = env_stem(name, n, k) || env_stem(k, m, name) ? 3 : 4;
        if (d < best_d) {
            best_d = d;
            best = k;
        }
    }
    return best;
}

int cnio__env_unknown(char *const *envp, char *out, size_t cap)
{
    static const char more[] = ", ...";
    size_t len = 0;
    int count = 0, cut = 0;

    if (cap)
        out[0] = '\0';
    for (size_t i = 0; envp && envp[i]; i++) {
        const char *e = envp[i], *eq = strchr(e, '=');
        size_t n = eq ? (size_t)(eq - e) : strlen(e);
        char name[ENV_NAME_MAX + 1];
        const char *near;
        int w;

        if (strncmp(e, "CNIO_", 5) != 0)
            continue;
        if (n <= ENV_NAME_MAX) {
            memcpy(name, e, n);
            name[n] = '\0';
            if (cnio__env_known(name))
                continue;
        }
        count++;
        if (cut || cap < sizeof(more))
            continue;
        near = env_nearest(e, n);
        /* (room kept for ", ..." after it) */
        w = snprintf(out + len, cap - len, "%s%.*s%s%s%s", len ? ", " : "",
                     (int)(n > ENV_NAME_MAX ? ENV_NAME_MAX : n), e,
                     near ? " (did you mean " : "", near ? near : "", near ? "?)" : "");
        if (w < 0 || (size_t)w >= cap - len - (sizeof(more) - 1)) {
            snprintf(out + len, cap - len, "%s", len ? more : more + 2);
            len = strlen(out);
            cut = 1;
            continue;
        }
        len += (size_t)w;
    }
    return count;
}

int cnio__env_first(void)
{
    static int said;

    return !__atomic_exchange_n(&said, 1, __ATOMIC_ACQ_REL);
}

int cnio__env_rank0(void)
{
    static const char *const vars[] = { "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK" };

    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const char *r = getenv(vars[i]);

        if (r && *r)
            return !strcmp(r, "0");
    }
    return 1;
}
