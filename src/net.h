/*
 * net.h - socket helpers shared by the TCP transport, cnio-server and the tools.
 * Every wait has a deadline (absolute, cnio__now_ms() clock); nothing blocks forever.
 */
#ifndef CNIO_NET_H
#define CNIO_NET_H

#include "common.h"
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

struct cnio_addr {
    struct sockaddr_storage ss;
    socklen_t len;
};

/* a's port (0 when a is not an IPv4 or IPv6 address: a fabric's). */
unsigned cnio__net_port(const struct cnio_addr *a);
/* 1 when a and b are one IPv4 or IPv6 address and port, else 0. */
int cnio__addr_same(const struct cnio_addr *a, const struct cnio_addr *b);

/* Resolves host (name, IPv4, IPv6 without brackets) and port: 0 or -CNIO_ERR_RESOLVE.
 * Fills up to max addresses in out (several addresses of a host make rails) and
 * returns their number through *n. */
int cnio__net_resolve(const char *host, uint16_t port, struct cnio_addr *out, int max, int *n);
/* Parses "ADDR:PORT", "[V6]:PORT" or ":PORT" / "PORT" (all addresses) and listens
 * (SO_REUSEADDR, non-blocking, close-on-exec). *port_out receives the bound port (useful
 * with port 0). 0 or a negative CNIO_ERR_*. */
int cnio__net_listen(const char *addr_port, int backlog, int *fd_out, uint16_t *port_out);
/* 0 when addr_port has a form cnio__net_listen takes (its address is not looked up),
 * else -CNIO_ERR_INVAL. */
int cnio__net_listen_form(const char *addr_port);
/* Connects (non-blocking underneath) within timeout_ms; the returned fd is non-blocking,
 * close-on-exec, and tuned as by cnio__net_tune. 0, -CNIO_ERR_REFUSED, -CNIO_ERR_UNREACH,
 * -CNIO_ERR_TIMEOUT (as the kernel said), -CNIO_ERR_CONN (another failure). */
int cnio__net_connect(const struct cnio_addr *a, int timeout_ms, int *fd_out);
/*
 * A TCP connect to a (IPv4 or IPv6) started without waiting: the tcp transport's
 * connect_start, and a probe to learn what the kernel says of that address when another
 * layer (libfabric's tcp provider) keeps it to itself. cnio__net_probe_start: 0 and
 * *fd_out (the caller closes it), or the connect's error at once (-CNIO_ERR_REFUSED,
 * -CNIO_ERR_UNREACH, -CNIO_ERR_CONN; -CNIO_ERR_INVAL for another family).
 * cnio__net_probe_poll, never waiting: 1 while the connect is under way, 0 once
 * connected (something listens there), or its error as cnio__net_connect says it.
 */
int cnio__net_probe_start(const struct cnio_addr *a, int *fd_out);
int cnio__net_probe_poll(int fd);
/* TCP_NODELAY, TCP_USER_TIMEOUT (user_timeout_ms, if > 0), non-blocking, close-on-exec. */
int cnio__net_tune(int fd, int user_timeout_ms);
/*
 * TCP keepalive on fd (socket(7), tcp(7): SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL,
 * TCP_KEEPCNT): once its peer has sent nothing for secs seconds, 3 probes secs / 3
 * apart (at least 1 s); when none is answered the socket fails with ETIMEDOUT, about
 * 2 x secs after the peer's last packet. secs 0: nothing set. 0, or -CNIO_ERR_IO
 * (not a TCP socket: 0, nothing set).
 */
int cnio__net_keepalive(int fd, unsigned secs);
/* 1 when the peer of connected socket fd is on this host: a Unix socket, a loopback
 * address, or the socket's own address (the kernel routes it over loopback); else 0
 * (also when fd is no connected socket). */
int cnio__net_peer_here(int fd);
/* Waits until fd is ready for events (POLLIN / POLLOUT) or the deadline passes:
 * 0, -CNIO_ERR_TIMEOUT, -CNIO_ERR_CONN (POLLERR/POLLHUP without POLLIN). */
int cnio__net_wait(int fd, short events, int64_t deadline_ms);
/* Sends / receives exactly the iovec's bytes on a non-blocking fd before the deadline.
 * Returns 0, -CNIO_ERR_TIMEOUT, -CNIO_ERR_CONN (reset, or EOF while receiving). */
int cnio__net_sendv_all(int fd, struct iovec *iov, int n, int64_t deadline_ms);
int cnio__net_recv_all(int fd, void *buf, size_t len, int64_t deadline_ms);
/* "host:port" for logs. */
const char *cnio__net_ntop(const struct cnio_addr *a, char *buf, size_t cap);

/* Room for any cnio__hostport of a URI's host: "[", 255 bytes, "]:65535" and NUL. */
#define CNIO_HOSTPORT_MAX 264

/* Writes host and port as a message shows them, "[host]:port" when host has a ':'
 * (an IPv6 address, with or without a zone: "[fe80::1%eth0]:7000", as RFC 3986 and
 * cnio's URIs write one) and "host:port" otherwise, into buf (cap bytes, truncated to
 * fit). Returns buf ("" when buf is NULL or cap 0), to be used inside a printf. */
const char *cnio__hostport(char *buf, size_t cap, const char *host, unsigned port);

#endif /* CNIO_NET_H */
