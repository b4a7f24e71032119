/*
 * rootlock.c - which process owns a root: the lock a serving cnio-server (or an offline
 * --scrub) holds on ROOT/.cnio/lock, and the refusal of a root inside another server's
 * root, or holding one.
 */
#include "server.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define LOCK_TAIL "/.cnio/lock"

/* The root whose lock file is at path ("/x/y/.cnio/lock" -> "/x/y", "/.cnio/lock" ->
 * "/"): 0, or -1 when path is not a root's lock file. */
static int rootlock_root_of(const char *path, char *root, size_t cap)
{
    size_t n = strlen(path), k = strlen(LOCK_TAIL);

    if (n < k || strcmp(path + n - k, LOCK_TAIL) || n - k + 2 > cap)
        return -1;
    memcpy(root, path, n - k);
    root[n - k] = '\0';
    if (n == k)
        strcpy(root, "/");
    return 0;
}

/* 1 when directory a is b or lies below it (both absolute, canonical). */
static int rootlock_within(const char *a, const char *b)
{
    size_t n = strlen(b);

    if (!strcmp(b, "/"))
        return 1;
    return !strncmp(a, b, n) && (a[n] == '/' || a[n] == '\0');
}

/* The path of the file (dev, ino) that process pid has open: 0, or -1 when it has none
 * or its descriptors cannot be read (another user's process, gone meanwhile). */
static int rootlock_pid_path(pid_t pid, dev_t dev, ino_t ino, char *out, size_t cap)
{
    char dir[64];
    DIR *d;
    struct dirent *e;
    struct stat sb;
    ssize_t n = -1;

    snprintf(dir, sizeof(dir), "/proc/%ld/fd", (long)pid);
    d = opendir(dir);
    if (!d)
        return -1;
    while (n < 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.' || fstatat(dirfd(d), e->d_name, &sb, 0) ||
            sb.st_dev != dev || sb.st_ino != ino)
            continue;
        n = readlinkat(dirfd(d), e->d_name, out, cap - 1);
    }
    closedir(d);
    if (n <= 0 || (size_t)n >= cap - 1)
        return -1;
    out[n] = '\0';
    return 0;
}

/*
 * Two servers whose roots nest (one root a directory inside the other) would each take
 * the inner tree's files for its own: one server's commit renames over a file the
 * other keeps block sums and metadata for, and a recursive remove through the outer
 * one reaches into the inner one's store. Every other serving server's lock is in
 * /proc/locks (an exclusive flock), its path in its /proc/PID/fd: a root inside one of
 * theirs, or holding one, is refused, naming the other server. Two servers starting at
 * once each hold their own lock before they look, so at least one of them sees the
 * other. (Servers of other users, whose descriptors cannot be read, are not seen; nor
 * a root reached through another path by a bind mount.) mine is this root's canonical
 * path, shown the one the user gave. Returns 0, or -1 after saying why.
 */
static int rootlock_nested(const char *mine, const char *shown)
{
    char path[PATH_MAX], theirs[PATH_MAX], line[256], type[16], adv[16], rw[16];
    unsigned maj, min;
    unsigned long ino;
    long pid;
    FILE *f = fopen("/proc/locks", "re");
    int ret = 0;

    if (!f)
        return 0;   /* (no /proc: nothing to compare with) */
    while (!ret && fgets(line, sizeof(line), f)) {
        /* "3: FLOCK  ADVISORY  WRITE 1788 00:1b:12882763 0 EOF"; waiters have "->" */
        if (strstr(line, "->") ||
            sscanf(line, "%*d: %15s %15s %15s %ld %x:%x:%lu", type, adv, rw, &pid, &maj,
                   &min, &ino) != 7 ||
            strcmp(type, "FLOCK") || strcmp(rw, "WRITE") || pid == (long)getpid())
            continue;
        if (rootlock_pid_path((pid_t)pid, makedev(maj, min), (ino_t)ino, path, sizeof(path)) ||
            rootlock_root_of(path, theirs, sizeof(theirs)))
            continue;
        if (strcmp(mine, theirs) &&   /* (the same root: its lock says so, by pid) */
            (rootlock_within(mine, theirs) || rootlock_within(theirs, mine))) {
            cnio__err("root %s%s%s%s %s %s, which another cnio-server (pid %ld) serves; "
                      "roots may not nest", shown, strcmp(shown, mine) ? " (" : "",
                      strcmp(shown, mine) ? mine : "", strcmp(shown, mine) ? ")" : "",
                      rootlock_within(mine, theirs) ? "is inside" : "holds", theirs, pid);
            ret = -1;
        }
    }
    fclose(f);
    return ret;
}

int cnio__srv_root_check(const char *root)
{
    char mine[PATH_MAX];

    if (!realpath(root, mine))
        return 0;   /* (store_open says what is wrong with it) */
    return rootlock_nested(mine, root);
}

/*
 * One process at a time owns a root: a serving server holds ROOT/.cnio/lock with an
 * exclusive flock(2) (its pid written inside), an offline --scrub a shared one. A second
 * server on the same root, or a --scrub of a root being served, would see (or make) a
 * store in mid-change: both are refused, naming the process that holds it. The kernel
 * drops the lock when its holder exits, however it exits. On storage that has turned
 * read-only (EROFS) the lock is taken on the existing file without writing the pid, so
 * that the objects can still be read out. Returns the lock's fd, or -1 after logging why.
 */
int cnio__srv_root_lock(const struct cnio_srv_store *st, const char *root, int exclusive)
{
    char pid[32] = "";
    ssize_t n;
    int op = (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB, tries = exclusive ? 100 : 1, r;
    int fd = openat(st->rootfd, ".cnio/lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    int ro = fd < 0 && errno == EROFS;

    if (ro)   /* storage that turned read-only: its objects can still be read (flock too) */
        fd = openat(st->rootfd, ".cnio/lock", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        cnio__err("root %s: cannot open %s/.cnio/lock: %s", root, root, strerror(errno));
        return -1;
    }
    /* A server restarted right after a kill -9 of the last one can run before the old
     * process has finished exiting: it waits for the lock up to 5 s (100 x 50 ms). */
    while ((r = flock(fd, op)) && errno == EWOULDBLOCK && --tries > 0)
        usleep(50 * 1000);
    if (r == 0) {
        if (exclusive && ro) {
            cnio__warn("root %s: the storage is read-only: objects are served to readers, "
                       "and writes are refused", root);
        } else if (exclusive) {
            n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
            if (ftruncate(fd, 0) || pwrite(fd, pid, (size_t)n, 0) != n)
                cnio__warn("root %s: cannot record the pid in .cnio/lock: %s", root,
                           strerror(errno));
            /* again, now that this root's lock is there for another server to see */
            if (cnio__srv_root_check(root)) {
                close(fd);
                return -1;
            }
        }
        return fd;
    }
    if (errno == EWOULDBLOCK) {
        n = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        cnio__err("root %s is being %s by another process (pid %s)%s", root,
                  *pid ? "served" : "used", *pid ? pid : "unknown",
                  exclusive ? "; one cnio-server per root"
                            : "; a serving cnio-server checks its own store with --scrub-rate,"
                              " or stop it before --scrub");
    } else {
        cnio__err("root %s: cannot lock .cnio/lock: %s", root, strerror(errno));
    }
    close(fd);
    return -1;
}

