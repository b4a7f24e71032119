/*
 * proxy_stats.c - `cnio-proxy stats PATH`: asks the proxy listening on the unix socket
 * PATH for its report and prints it. What is wrong with PATH is said as such: nothing
 * there, not a socket, too long for a unix socket, a socket no proxy listens on.
 */
#include "proxy.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

/* Prints the STATS_REP messages read from fd until the last one (i0 = 0): 0 then, 1
 * when the answer was none or stopped short. */
static int stats_print_reply(int fd)
{
    struct cnio__skp_msg m;
    unsigned char buf[CNIO__SKP_MAX];
    size_t len = 0;
    int n;

    for (;;) {
        n = cnio__skp_parse(buf, len, &m);
        if (n == 0) {
            ssize_t k = read(fd, buf + len, sizeof(buf) - len);

            if (k <= 0)
                return 1;
            len += (size_t)k;
            continue;
        }
        if (n < 0 || m.type != CNIO__SKP_STATS_REP)
            return 1;
        fputs(m.name, stdout);
        if (!m.i[0])
            return 0;
        memmove(buf, buf + n, len - (size_t)n);
        len -= (size_t)n;
    }
}

/* What a file of type mode is, for a message. */
static const char *stats_kind(mode_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFDIR:
        return "a directory";
    case S_IFREG:
        return "a regular file";
    case S_IFLNK:
        return "a symbolic link";
    case S_IFIFO:
        return "a FIFO";
    default:
        return "a device";
    }
}

/* Whether path can be a proxy's socket (said when not): 0, or 1. */
static int stats_check_path(const char *path, struct sockaddr_un *a)
{
    struct stat st;

    if (strlen(path) >= sizeof(a->sun_path)) {
        fprintf(stderr, "cnio-proxy: %s: too long for a unix socket's path (%zu bytes at "
                "most)\n", path, sizeof(a->sun_path) - 1);
        return 1;
    }
    if (stat(path, &st) < 0) {
        fprintf(stderr, "cnio-proxy: %s: %s (no proxy's socket there)\n", path,
                strerror(errno));
        return 1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        fprintf(stderr, "cnio-proxy: %s is %s, not a socket: give the socket a proxy "
                "listens on (its CNIO_SOCKETS_PROXY)\n", path, stats_kind(st.st_mode));
        return 1;
    }
    strcpy(a->sun_path, path);
    return 0;
}

int px_stats_print(const char *path)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    struct cnio__skp_msg m = { .type = CNIO__SKP_STATS_REQ };
    unsigned char buf[CNIO__SKP_MAX];
    struct timeval tv = { 5, 0 };
    int fd, n, rc;

    if (stats_check_path(path, &a))
        return 1;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "cnio-proxy: %s: %s\n", path, strerror(errno));
        return 1;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    n = cnio__skp_encode(&m, buf, sizeof(buf));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        fprintf(stderr, "cnio-proxy: %s: %s%s\n", path, strerror(errno), errno == ECONNREFUSED
                ? ": no proxy listens on this socket (a proxy that died left it)" : "");
        close(fd);
        return 1;
    }
    if (n < 0 || write(fd, buf, (size_t)n) != n) {
        fprintf(stderr, "cnio-proxy: %s: %s\n", path, strerror(errno));
        close(fd);
        return 1;
    }
    rc = stats_print_reply(fd);
    close(fd);
    fflush(stdout);
    if (rc)
        fprintf(stderr, "cnio-proxy: %s: no answer, or one that stopped short\n", path);
    return rc;
}
