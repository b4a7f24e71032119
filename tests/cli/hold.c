/*
 * hold.c - an LD_PRELOAD library for tests: holds a process between two of its writes to
 * (or reads of) a file, so that something else can happen there, without timing anything.
 * The HOLD_AT'th pwrite() (default 1; a list "2,5" holds at each, the Kth entry as K) to a
 * file whose path ends in $HOLD_SUFFIX creates $HOLD_DIR/held.K and waits until
 * $HOLD_DIR/go.K exists (at most 120 s), then writes. With $HOLD_FROM (bytes) instead, the
 * one call that covers that byte of the file holds, as K 1. $HOLD_CALL=pread holds pread()
 * calls of such a file instead of pwrite() ones. Every other call goes straight through.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOLD_EXPORT __attribute__((visibility("default")))

static int hold_count, hold_from_done;

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
        return count == 1;
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
    const char *from = getenv("HOLD_FROM");

    if (from) {
        long long x = strtoll(from, NULL, 10);

        if (off > x || (long long)off + (long long)n <= x)
            return 0;
        return __atomic_exchange_n(&hold_from_done, 1, __ATOMIC_SEQ_CST) ? 0 : 1;
    }
    return hold_which_count(__atomic_add_fetch(&hold_count, 1, __ATOMIC_SEQ_CST));
}

/* Holds here if this call (pwrite or pread, as $HOLD_CALL says) of n bytes at off of fd is
 * one to hold at. */
static void hold_here(const char *call, int fd, size_t n, off_t off)
{
    const char *want = getenv("HOLD_CALL");
    const char *dir = getenv("HOLD_DIR");
    char held[PATH_MAX], go[PATH_MAX];
    int k, fd2;

    if (strcmp(want ? want : "pwrite", call) != 0 || !hold_match(fd))
        return;
    k = hold_which(n, off);
    if (!k)
        return;
    snprintf(held, sizeof(held), "%s/held.%d", dir, k);
    snprintf(go, sizeof(go), "%s/go.%d", dir, k);
    fd2 = open(held, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd2 >= 0)
        close(fd2);
    for (int i = 0; i < 12000 && access(go, F_OK) != 0; i++)
        usleep(10000);
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
