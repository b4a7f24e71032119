/*
 * hold.c - an LD_PRELOAD library for tests: holds a process between two of its writes to
 * (or reads of) a file, so that something else can happen there, without timing anything.
 * The HOLD_AT'th pwrite() (default 1; a list "2,5" holds at each, the Kth entry as K) to a
 * file whose path ends in $HOLD_SUFFIX creates $HOLD_DIR/held.K and waits until
 * $HOLD_DIR/go.K exists (at most 120 s), then writes. With $HOLD_FROM (bytes) instead, the
 * one call that covers that byte of the file holds, as K 1. $HOLD_CALL=pread holds pread()
 * calls of such a file instead of pwrite() ones. $HOLD_CALL=usleep holds usleep() calls
 * instead, those of $HOLD_USEC microseconds alone when it is set (the first pause of
 * `cnio cp`'s wait for a live writer to close is 100000). With $HOLD_COUNT=FILE, the
 * bytes of the pwrite() calls of such a file (pread() ones with $HOLD_CALL=pread), held
 * or not, are totalled in FILE (a decimal number, rewritten at each), and no pwrite or
 * pread holds unless $HOLD_AT or $HOLD_FROM says so. With $HOLD_ARMED (a path), calls
 * count only once that file exists, so that a test holds a call of a request it sends
 * later, whatever calls came before. Every other call goes straight through.
 * tests/cli/changed.test holds a download with it after its first chunk, while an update
 * in place comes and goes; tests/cli/tree-restart.test holds copies part way while a
 * server restarts.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOLD_EXPORT __attribute__((visibility("default")))

static int hold_count, hold_from_done;
static unsigned long long hold_bytes;
static pthread_mutex_t hold_bytes_lock = PTHREAD_MUTEX_INITIALIZER;

/* Adds n to the bytes counted, and writes the total to $HOLD_COUNT. */
static void hold_tally(size_t n)
{
    const char *path = getenv("HOLD_COUNT");
    char line[32];
    int fd, len;

    pthread_mutex_lock(&hold_bytes_lock);
    hold_bytes += n;
    len = snprintf(line, sizeof(line), "%llu\n", hold_bytes);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        ssize_t w = write(fd, line, (size_t)len);   /* (a short count fails its test) */

        close(fd);
        (void)w;
    }
    pthread_mutex_unlock(&hold_bytes_lock);
}

/* The C library's usleep (this one's is a hold point). */
static int hold_usleep(useconds_t us)
{
    int (*next)(useconds_t) = (int (*)(useconds_t))dlsym(RTLD_NEXT, "usleep");

    return next(us);
}

/* Whether fd's path ends in $HOLD_SUFFIX. */
static int hold_match(int fd)
{
    const char *suffix = getenv("HOLD_SUFFIX");
    char link[64], path[PATH_MAX];
    ssize_t len;
    size_t sl;

    if (!suffix || !getenv("HOLD_DIR"))
        return 0;
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    len = readlink(link, path, sizeof(path) - 1);
    if (len < 0)
        return 0;
    path[len] = 0;
    sl = strlen(suffix);
    return (size_t)len >= sl && strcmp(path + len - (ssize_t)sl, suffix) == 0;
}

/* Which entry of $HOLD_AT count is (1, 2, ...), or 0. */
static int hold_which_count(int count)
{
    const char *at = getenv("HOLD_AT");
    char *end;
    int k = 1;

    if (!at)
        return count == 1 && !getenv("HOLD_COUNT");
    for (; *at; k++) {
        if (strtol(at, &end, 10) == count)
            return k;
        if (end == at || (*end && *end != ','))
            return 0;
        at = *end ? end + 1 : end;
    }
    return 0;
}

/* Which hold a call of n bytes at off is (1, 2, ...), or 0: by $HOLD_FROM, or by its count
 * among the file's calls and $HOLD_AT. */
static int hold_which(size_t n, off_t off)
{
    const char *from = getenv("HOLD_FROM"), *armed = getenv("HOLD_ARMED");

    if (armed && access(armed, F_OK) != 0)
        return 0;
    if (from) {
        long long x = strtoll(from, NULL, 10);

        if (off > x || (long long)off + (long long)n <= x)
            return 0;
        return __atomic_exchange_n(&hold_from_done, 1, __ATOMIC_SEQ_CST) ? 0 : 1;
    }
    return hold_which_count(__atomic_add_fetch(&hold_count, 1, __ATOMIC_SEQ_CST));
}

/* Holds as hold K: creates $HOLD_DIR/held.K, waits until $HOLD_DIR/go.K exists. */
static void hold_wait(int k)
{
    const char *dir = getenv("HOLD_DIR");
    char held[PATH_MAX], go[PATH_MAX];
    int fd2;

    snprintf(held, sizeof(held), "%s/held.%d", dir, k);
    snprintf(go, sizeof(go), "%s/go.%d", dir, k);
    fd2 = open(held, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd2 >= 0)
        close(fd2);
    for (int i = 0; i < 12000 && access(go, F_OK) != 0; i++)
        hold_usleep(10000);
}

/* Holds here if this call (pwrite or pread, as $HOLD_CALL says) of n bytes at off of fd is
 * one to hold at; counts it with $HOLD_COUNT. */
static void hold_here(const char *call, int fd, size_t n, off_t off)
{
    const char *want = getenv("HOLD_CALL");
    int k;

    if (!hold_match(fd))
        return;
    if (getenv("HOLD_COUNT") && strcmp(want && !strcmp(want, "pread") ? "pread" : "pwrite",
                                       call) == 0)
        hold_tally(n);
    if (strcmp(want ? want : "pwrite", call) != 0)
        return;
    k = hold_which(n, off);
    if (k)
        hold_wait(k);
}

HOLD_EXPORT int usleep(useconds_t us)
{
    const char *want = getenv("HOLD_CALL"), *usec = getenv("HOLD_USEC");
    const char *dir = getenv("HOLD_DIR");
    int k;

    if (dir && want && strcmp(want, "usleep") == 0 &&
        (!usec || strtoull(usec, NULL, 10) == (unsigned long long)us)) {
        int count = __atomic_add_fetch(&hold_count, 1, __ATOMIC_SEQ_CST);

        k = getenv("HOLD_AT") ? hold_which_count(count) : count == 1;
        if (k)
            hold_wait(k);
    }
    return hold_usleep(us);
}

HOLD_EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    ssize_t (*next)(int, const void *, size_t, off_t) =
        (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");

    hold_here("pwrite", fd, n, off);
    return next(fd, buf, n, off);
}

HOLD_EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
    ssize_t (*next)(int, const void *, size_t, off64_t) =
        (ssize_t (*)(int, const void *, size_t, off64_t))dlsym(RTLD_NEXT, "pwrite64");

    hold_here("pwrite", fd, n, (off_t)off);
    return next(fd, buf, n, off);
}

HOLD_EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
    ssize_t (*next)(int, void *, size_t, off_t) =
        (ssize_t (*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, "pread");

    hold_here("pread", fd, n, off);
    return next(fd, buf, n, off);
}

HOLD_EXPORT ssize_t pread64(int fd, void *buf, size_t n, off64_t off)
{
    ssize_t (*next)(int, void *, size_t, off64_t) =
        (ssize_t (*)(int, void *, size_t, off64_t))dlsym(RTLD_NEXT, "pread64");

    hold_here("pread", fd, n, (off_t)off);
    return next(fd, buf, n, off);
}
