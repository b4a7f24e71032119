/*
 * proxy_files.c - cnio-proxy's files: its unix socket (bound only where there is
 * nothing, or a stale socket that no one accepts on; removed at exit only while it is
 * still the one the proxy bound), its log (the proxy's stdout and stderr; a --log it
 * created is removed after a clean exit), and paths made absolute, since the proxy
 * works from /.
 */
#include "proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static struct stat files_sock_st;   /* our socket file, to remove only ours at exit */
static struct stat files_log_st;    /* our log, likewise */
static int files_log_created;       /* --log FILE that the proxy created: removed at exit */
static int files_log_kept;          /* --log FILE with a dead proxy's lines in it: kept */

/* Clears the way for the socket at path (a): nothing there, or a stale socket (no one
 * accepts on it: a proxy that died), removed. Anything else is left as it is and refused:
 * -1, said. */
static int files_clear_path(const char *path, const struct sockaddr_un *a)
{
    struct stat st;
    int fd, r, e;

    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        fprintf(stderr, "cnio-proxy: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        fprintf(stderr, "cnio-proxy: %s exists and is not a socket: left as it is; "
                "give --socket a path of its own\n", path);
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    r = connect(fd, (const struct sockaddr *)a, sizeof(*a));
    e = errno;
    close(fd);
    if (r == 0 || e == EAGAIN) {
        fprintf(stderr, "cnio-proxy: %s: a process listens on it already: left as it is\n",
                path);
        return -1;
    }
    if (e != ECONNREFUSED) {
        fprintf(stderr, "cnio-proxy: %s: %s\n", path, strerror(e));
        return -1;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        fprintf(stderr, "cnio-proxy: stale socket %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Removes PATH.down, the shims' mark that the proxy at path was lost (sockets/shim_down.c),
 * and its stand-in in the run directory (cnio__sk_down_alt): a proxy serving there again,
 * or gone for good, leaves none behind. */
static void files_down_clear(const char *path)
{
    char down[PATH_MAX];

    if (snprintf(down, sizeof(down), "%s.down", path) < (int)sizeof(down))
        unlink(down);
    if (cnio__sk_down_alt(down, sizeof(down), path) == 0)
        unlink(down);
}

int px_sock_listen(const char *path)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    int fd;

    if (strlen(path) >= sizeof(a.sun_path)) {
        fprintf(stderr, "cnio-proxy: socket path too long: %s\n", path);
        return -1;
    }
    strcpy(a.sun_path, path);
    if (files_clear_path(path, &a) < 0)
        return -1;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || chmod(path, 0600) < 0
        || stat(path, &files_sock_st) < 0 || listen(fd, 4096) < 0) {
        fprintf(stderr, "cnio-proxy: %s: %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    files_down_clear(path);
    return fd;
}

/* Makes path the proxy's log: its stdout and stderr from now on, appended to. With
 * removable (--log), a file the proxy creates here, or finds empty, is removed at its
 * exit (px_log_remove); one with something in it is a dead proxy's log (a killed proxy
 * of the same key left it: `cnio run` gives --log RUNDIR/KEY.log), kept, as is a
 * --keep-log. 0, or -1 (said on the stderr the proxy was given). */
int px_log_open(const char *path, int removable)
{
    int fd = -1;

    if (removable) {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        files_log_created = fd >= 0;
    }
    if (fd < 0)
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || fstat(fd, &files_log_st) < 0) {
        fprintf(stderr, "cnio-proxy: log %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (removable && !files_log_created) {
        files_log_created = files_log_st.st_size == 0;
        files_log_kept = !files_log_created;
    }
    fflush(stdout);
    fflush(stderr);
    if (dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
        fprintf(stderr, "cnio-proxy: log %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fd > 2)
        close(fd);
    if (files_log_kept)
        fprintf(stderr, "cnio-proxy: %s holds an earlier proxy's lines: appended to and "
                "kept; with --lock, its lock file stays beside it, for a later sweep to "
                "remove both once old\n", path);
    return 0;
}

int px_log_kept(void)
{
    return files_log_kept;
}

/* Removes the log if the proxy created it and it is still the same file. */
void px_log_remove(const char *path)
{
    struct stat st;

    if (files_log_created && stat(path, &st) == 0 && st.st_ino == files_log_st.st_ino
        && st.st_dev == files_log_st.st_dev)
        unlink(path);
}

/* Removes the socket file if it is still ours (a proxy started after we decided to exit
 * may have replaced it). */
void px_sock_unlink(const char *path)
{
    struct stat st;

    if (stat(path, &st) == 0 && st.st_ino == files_sock_st.st_ino
        && st.st_dev == files_sock_st.st_dev) {
        unlink(path);
        files_down_clear(path);
    }
}

/* path made absolute, since the proxy works from /: path itself, or the working
 * directory and path in buf; NULL (said) when that cannot be had. */
const char *px_abs_path(const char *path, char *buf, size_t cap)
{
    char cwd[PATH_MAX];
    int n;

    if (path[0] == '/')
        return path;
    if (!getcwd(cwd, sizeof(cwd))) {
        fprintf(stderr, "cnio-proxy: %s: the working directory: %s\n", path, strerror(errno));
        return NULL;
    }
    n = snprintf(buf, cap, "%s/%s", cwd, path);
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "cnio-proxy: %s/%s: %s\n", cwd, path, strerror(ENAMETOOLONG));
        return NULL;
    }
    return buf;
}
