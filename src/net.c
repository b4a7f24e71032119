/*
 * net.c - socket helpers: resolve, listen, connect, bounded waits, whole-buffer I/O.
 *
 * Every send and receive uses MSG_DONTWAIT (and MSG_NOSIGNAL), so the deadlines hold
 * even on a socket left in blocking mode, and a closed peer never raises SIGPIPE.
 */
#include "common.h"
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NET_IOV_MAX 64

static int net_set_flags(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -CNIO_ERR_IO;
    fl = fcntl(fd, F_GETFD);
    if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
        return -CNIO_ERR_IO;
    return 0;
}

int cnio__net_tune(int fd, int user_timeout_ms)
{
    int one = 1;
    int ret = net_set_flags(fd);

    if (ret)
        return ret;
    /* Not a TCP socket (a socketpair in tests, say): the TCP options do not apply. */
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
        return errno == EOPNOTSUPP || errno == ENOPROTOOPT ? 0 : -CNIO_ERR_IO;
    if (user_timeout_ms > 0) {
        unsigned int ut = (unsigned int)user_timeout_ms;

        if (setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof(ut)) < 0)
            return -CNIO_ERR_IO;
    }
    return 0;
}

int cnio__net_keepalive(int fd, unsigned secs)
{
    int one = 1, idle = (int)CNIO_MIN(secs, 32767u), intvl = CNIO_MAX(idle / 3, 1), cnt = 3;

    if (!secs)
        return 0;
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) < 0)
        return -CNIO_ERR_IO;
    if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) < 0)
        return errno == EOPNOTSUPP || errno == ENOPROTOOPT ? 0 : -CNIO_ERR_IO;
    if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl)) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt)) < 0)
        return -CNIO_ERR_IO;
    return 0;
}

int cnio__net_peer_here(int fd)
{
    struct sockaddr_storage me, it;
    socklen_t ml = sizeof(me), il = sizeof(it);

    if (getsockname(fd, (struct sockaddr *)&me, &ml) < 0 ||
        getpeername(fd, (struct sockaddr *)&it, &il) < 0 || me.ss_family != it.ss_family)
        return 0;
    if (me.ss_family == AF_UNIX)
        return 1;
    if (me.ss_family == AF_INET) {
        uint32_t a = ((struct sockaddr_in *)&me)->sin_addr.s_addr;
        uint32_t b = ((struct sockaddr_in *)&it)->sin_addr.s_addr;

        return a == b || ntohl(b) >> 24 == 127;
    }
    if (me.ss_family == AF_INET6) {
        const struct in6_addr *a = &((struct sockaddr_in6 *)&me)->sin6_addr;
        const struct in6_addr *b = &((struct sockaddr_in6 *)&it)->sin6_addr;

        return !memcmp(a, b, sizeof(*a)) || IN6_IS_ADDR_LOOPBACK(b) ||
               (IN6_IS_ADDR_V4MAPPED(b) && b->s6_addr[12] == 127);
    }
    return 0;
}

int cnio__net_resolve(const char *host, uint16_t port, struct cnio_addr *out, int max, int *n)
{
    struct addrinfo hints, *res, *ai;
    char serv[8];
    int count = 0;

    if (!host || !out || max <= 0 || !n)
        return -CNIO_ERR_INVAL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(serv, sizeof(serv), "%u", (unsigned)port);
    if (getaddrinfo(host, serv, &hints, &res) != 0)
        return -CNIO_ERR_RESOLVE;
    for (ai = res; ai && count < max; ai = ai->ai_next) {
        int dup = 0;

        if (ai->ai_addrlen > sizeof(out[0].ss))
            continue;
        for (int i = 0; i < count; i++)
            dup |= out[i].len == ai->ai_addrlen && !memcmp(&out[i].ss, ai->ai_addr, ai->ai_addrlen);
        if (dup)
            continue;
        memset(&out[count], 0, sizeof(out[count]));
        memcpy(&out[count].ss, ai->ai_addr, ai->ai_addrlen);
        out[count].len = ai->ai_addrlen;
        count++;
    }
    freeaddrinfo(res);
    *n = count;
    return count ? 0 : -CNIO_ERR_RESOLVE;
}

/* Splits "ADDR:PORT", "[V6]:PORT", ":PORT" or "PORT" into host (empty: any) and port. */
static int net_split(const char *s, char *host, size_t cap, uint16_t *port)
{
    const char *p, *colon;
    char *end;
    unsigned long v;
    size_t hl = 0;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');

        if (!close || close[1] != ':')
            return -CNIO_ERR_INVAL;
        hl = (size_t)(close - s - 1);
        s++;
        p = close + 2;
    } else if ((colon = strrchr(s, ':'))) {
        if (strchr(s, ':') != colon)
            return -CNIO_ERR_INVAL;   /* bare IPv6 needs brackets */
        hl = (size_t)(colon - s);
        p = colon + 1;
    } else {
        p = s;
    }
    if (hl >= cap)
        return -CNIO_ERR_INVAL;
    memcpy(host, s, hl);
    host[hl] = '\0';
    errno = 0;
    v = strtoul(p, &end, 10);
    if (!*p || *end || errno || v > 65535 || *p == '-' || *p == '+')
        return -CNIO_ERR_INVAL;
    *port = (uint16_t)v;
    return 0;
}

static int net_bind_one(const struct addrinfo *ai, int backlog, int *fd_out)
{
    int one = 1, zero = 0, err;
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);

    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ai->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
        err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    *fd_out = fd;
    return 0;
}

static uint16_t net_bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return 0;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int cnio__net_listen_form(const char *addr_port)
{
    char host[256];
    uint16_t port;

    return addr_port && !net_split(addr_port, host, sizeof(host), &port) ? 0
                                                                         : -CNIO_ERR_INVAL;
}

/*
 * On failure errno is left as bind/listen set it (EADDRINUSE, EACCES, ...) so a caller
 * can say why. Errors: -CNIO_ERR_INVAL (bad syntax), -CNIO_ERR_RESOLVE, -CNIO_ERR_CONN.
 */
int cnio__net_listen(const char *addr_port, int backlog, int *fd_out, uint16_t *port_out)
{
    struct addrinfo hints, *res, *ai;
    char host[256], serv[8];
    uint16_t port;
    int ret, err = EADDRNOTAVAIL;

    if (!addr_port || !fd_out || net_split(addr_port, host, sizeof(host), &port))
        return -CNIO_ERR_INVAL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = host[0] ? AF_UNSPEC : AF_INET6;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(serv, sizeof(serv), "%u", (unsigned)port);
    ret = getaddrinfo(host[0] ? host : NULL, serv, &hints, &res);
    if (ret && !host[0]) {
        hints.ai_family = AF_INET;
        ret = getaddrinfo(NULL, serv, &hints, &res);
    }
    if (ret)
        return -CNIO_ERR_RESOLVE;
    ret = -CNIO_ERR_CONN;
    for (ai = res; ai; ai = ai->ai_next) {
        if (net_bind_one(ai, backlog, fd_out) == 0) {
            ret = 0;
            break;
        }
        err = errno;
    }
    freeaddrinfo(res);
    if (ret) {
        errno = err;
        return ret;
    }
    if (port_out)
        *port_out = net_bound_port(*fd_out);
    return 0;
}

int cnio__net_wait(int fd, short events, int64_t deadline_ms)
{
    struct pollfd pfd = { .fd = fd, .events = events };

    for (;;) {
        int64_t left = deadline_ms - cnio__now_ms();
        int r;

        if (left < 0)
            left = 0;
        r = poll(&pfd, 1, (int)CNIO_MIN(left, (int64_t)INT_MAX));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -CNIO_ERR_CONN;
        if (r == 0)
            return -CNIO_ERR_TIMEOUT;
        if (pfd.revents & events)
            return 0;
        if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL))
            return -CNIO_ERR_CONN;
    }
}

/* The error of a connect that failed with errno e: refused and unreachable said as
 * such (they tell the user what to look at), the rest as a connection failed. */
static int net_connect_err(int e)
{
    switch (e) {
    case ECONNREFUSED: return -CNIO_ERR_REFUSED;
    case EHOSTUNREACH: case ENETUNREACH: case EHOSTDOWN: case ENETDOWN:
        return -CNIO_ERR_UNREACH;
    case ETIMEDOUT: return -CNIO_ERR_TIMEOUT;
    default: return -CNIO_ERR_CONN;
    }
}

int cnio__net_connect(const struct cnio_addr *a, int timeout_ms, int *fd_out)
{
    int64_t deadline = cnio__now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    int fd, ret, soerr = 0;
    socklen_t sl = sizeof(soerr);

    if (!a || !fd_out)
        return -CNIO_ERR_INVAL;
    fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -CNIO_ERR_CONN;
    if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
        if (errno != EINPROGRESS) {
            ret = net_connect_err(errno);
            goto close_fd;
        }
        ret = cnio__net_wait(fd, POLLOUT, deadline);
        if (ret == -CNIO_ERR_CONN)
            ret = 0;   /* the error is in SO_ERROR */
        if (ret)
            goto close_fd;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
            ret = net_connect_err(soerr);
            goto close_fd;
        }
    }
    ret = cnio__net_tune(fd, 0);
    if (ret)
        goto close_fd;
    *fd_out = fd;
    return 0;
close_fd:
    close(fd);
    return ret;
}

int cnio__net_probe_start(const struct cnio_addr *a, int *fd_out)
{
    int fd;

    if (!a || !fd_out || (a->ss.ss_family != AF_INET && a->ss.ss_family != AF_INET6))
        return -CNIO_ERR_INVAL;
    fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -CNIO_ERR_CONN;
    if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0 && errno != EINPROGRESS) {
        int ret = net_connect_err(errno);

        close(fd);
        return ret;
    }
    *fd_out = fd;
    return 0;
}

int cnio__net_probe_poll(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLOUT };
    int soerr = 0, r;
    socklen_t sl = sizeof(soerr);

    while ((r = poll(&pfd, 1, 0)) < 0 && errno == EINTR)
        ;
    if (r < 0)
        return -CNIO_ERR_CONN;
    if (r == 0)
        return 1;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
        return -CNIO_ERR_CONN;
    return soerr ? net_connect_err(soerr) : 0;
}

/* Drops n sent bytes from the front of iov; returns the new start index. */
static int net_iov_advance(struct iovec *iov, int cnt, int i, size_t n)
{
    while (i < cnt && n >= iov[i].iov_len) {
        n -= iov[i].iov_len;
        iov[i].iov_len = 0;
        i++;
    }
    if (i < cnt && n) {
        iov[i].iov_base = (char *)iov[i].iov_base + n;
        iov[i].iov_len -= n;
    }
    return i;
}

int cnio__net_sendv_all(int fd, struct iovec *iov, int n, int64_t deadline_ms)
{
    int i = net_iov_advance(iov, n, 0, 0);

    while (i < n) {
        struct msghdr mh = { .msg_iov = iov + i,
                             .msg_iovlen = (size_t)CNIO_MIN(n - i, NET_IOV_MAX) };
        ssize_t w = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);

        if (w < 0 && errno == ENOTSOCK)
            w = writev(fd, iov + i, (int)mh.msg_iovlen);
        if (w < 0) {
            int ret;

            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return -CNIO_ERR_CONN;
            ret = cnio__net_wait(fd, POLLOUT, deadline_ms);
            if (ret)
                return ret;
            continue;
        }
        i = net_iov_advance(iov, n, i, (size_t)w);
    }
    return 0;
}

int cnio__net_recv_all(int fd, void *buf, size_t len, int64_t deadline_ms)
{
    size_t got = 0;

    while (got < len) {
        ssize_t r = recv(fd, (char *)buf + got, len - got, MSG_DONTWAIT);

        if (r < 0 && errno == ENOTSOCK)
            r = read(fd, (char *)buf + got, len - got);
        if (r == 0)
            return -CNIO_ERR_CONN;
        if (r < 0) {
            int ret;

            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return -CNIO_ERR_CONN;
            ret = cnio__net_wait(fd, POLLIN, deadline_ms);
            if (ret)
                return ret;
            continue;
        }
        got += (size_t)r;
    }
    return 0;
}

unsigned cnio__net_port(const struct cnio_addr *a)
{
    if (a->ss.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)(const void *)&a->ss)->sin_port);
    if (a->ss.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)(const void *)&a->ss)->sin6_port);
    return 0;
}

const char *cnio__net_ntop(const struct cnio_addr *a, char *buf, size_t cap)
{
    char host[NI_MAXHOST], serv[NI_MAXSERV];

    if (!buf || !cap)
        return "";
    if (!a || getnameinfo((const struct sockaddr *)&a->ss, a->len, host, sizeof(host), serv,
                          sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(buf, cap, "?");
        return buf;
    }
    if (a->ss.ss_family == AF_INET6)
        snprintf(buf, cap, "[%s]:%s", host, serv);
    else
        snprintf(buf, cap, "%s:%s", host, serv);
    return buf;
}

const char *cnio__hostport(char *buf, size_t cap, const char *host, unsigned port)
{
    if (!buf || !cap)
        return "";
    if (!host)
        host = "?";
    snprintf(buf, cap, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
    return buf;
}

int cnio__addr_same(const struct cnio_addr *a, const struct cnio_addr *b)
{
    const struct sockaddr_in *a4 = (const void *)&a->ss, *b4 = (const void *)&b->ss;
    const struct sockaddr_in6 *a6 = (const void *)&a->ss, *b6 = (const void *)&b->ss;

    if (a->ss.ss_family != b->ss.ss_family)
        return 0;
    if (a->ss.ss_family == AF_INET)
        return a4->sin_port == b4->sin_port && a4->sin_addr.s_addr == b4->sin_addr.s_addr;
    return a->ss.ss_family == AF_INET6 && a6->sin6_port == b6->sin6_port &&
           !memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof(a6->sin6_addr));
}
