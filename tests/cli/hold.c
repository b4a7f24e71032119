/*
 * hold.c - an LD_PRELOAD library for tests: holds a process between two of its writes to
 * a file, so that something else can happen there, without timing anything. The
 * HOLD_AT'th pwrite() (default 1; a list "2,5" holds at each, the Kth entry as K) to a
 * file whose path ends in $HOLD_SUFFIX creates $HOLD_DIR/held.K and waits until
 * $HOLD_DIR/go.K exists (at most 120 s), then writes. Every
 * other call goes straight through. tests/cli/changed.test holds a download with it after
 * its first chunk, while an update in place comes and goes.
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

static int hold_count;

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
static int hold_which(int count)
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

static void hold_here(int fd)
{
    const char *dir = getenv("HOLD_DIR");
    char held[PATH_MAX], go[PATH_MAX];
    int k, fd2;

    if (!hold_match(fd))
        return;
    k = hold_which(__atomic_add_fetch(&hold_count, 1, __ATOMIC_SEQ_CST));
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

    hold_here(fd);
    return next(fd, buf, n, off);
}

HOLD_EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
    ssize_t (*next)(int, const void *, size_t, off64_t) =
        (ssize_t (*)(int, const void *, size_t, off64_t))dlsym(RTLD_NEXT, "pwrite64");

    hold_here(fd);
    return next(fd, buf, n, off);
}
