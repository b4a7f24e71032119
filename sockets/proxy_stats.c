/*
 * proxy_stats.c - the proxy's report as text (px_text_add, px_text_fit), and
 * `cnio-proxy stats PATH`: asks the proxy listening on the unix socket PATH for its
 * report and prints it. What is wrong with PATH is said as such: nothing there, not a
 * socket, too long for a unix socket, a socket no proxy listens on.
 */
#include "proxy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

void px_text_add(struct px_text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (t->len + (size_t)n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        char *b;

        while (cap < t->len + (size_t)n + 1)
            cap *= 2;
        b = realloc(t->buf, cap);
        if (!b) {
            t->lost++;
            return;
        }
        t->buf = b;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

/*
 * Brings the report within max bytes (a stats reply): cut after a whole line, with
 * lines that say what was left out ("... N more destinations not shown") in place of
 * the rest. Lines lost for want of memory are said too.
 */
void px_text_fit(struct px_text *t, size_t max)
{
    static const char *const what[] = { "destinations", "names", "lines" };
    unsigned long more[3] = { 0, 0, 0 };
    size_t keep = t->len;
    char mark[256];
    int n = 0;

    if (t->len > max) {
        keep = max - sizeof(mark);
        while (keep > 0 && t->buf[keep - 1] != '\n')
            keep--;
        for (const char *l = t->buf + keep; l < t->buf + t->len; l = strchr(l, '\n') + 1)
            more[!strncmp(l, "dest ", 5) ? 0 : !strncmp(l, "name ", 5) ? 1 : 2]++;
    }
    more[2] += t->lost;
    for (int k = 0; k < 3; k++)
        if (more[k])
            n += snprintf(mark + n, sizeof(mark) - (size_t)n, "... %lu more %s not shown%s\n",
                          more[k], what[k], k == 2 && t->lost ? " (no memory)" : "");
    if (!n)
        return;
    t->len = keep;
    px_text_add(t, "%s", mark);
}

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
