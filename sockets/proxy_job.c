/*
 * proxy_job.c - one proxy for the whole job across nodes. Each node's proxy serves its
 * node's processes on its unix socket, as outside a multi-node job; the proxy of the
 * node where mpirun runs (the job's head node) is also the *job proxy*: it listens on
 * TCP, and the proxies of the other nodes relay their processes' name and admission
 * conversations to it, so that names, admission windows and failure knowledge are the
 * job's (doc/sockets.md, "One proxy per job").
 *
 * Rendezvous, from the launch environment alone (no PMIx call: see doc/sockets.md):
 *   - the job's secret: CNIO_SOCKETS_JOB_SECRET, else OMPI_MCA_orte_precondition_transports
 *     (128 random bits mpirun gives every rank of one job); the key is
 *     K = HMAC-SHA256(secret, "cnio-sockets job proxy " + job key);
 *   - the address: CNIO_SOCKETS_JOB_ADDR (IPv4), else the first tcp:// address of
 *     OMPI_MCA_orte_hnp_uri (mpirun's);
 *   - the port: the first of JOB_NPORTS candidates in [10000, 32000) derived from K that
 *     the job proxy could bind.
 * A proxy that can bind that address is on the head node: it becomes the job proxy.
 * Another connects to it (waiting CNIO_SOCKETS_JOB_WAIT_MS at most at its start) and
 * keeps one session connection open for its life.
 *
 * Authentication, mutual, per TCP connection: the job proxy sends a 32-byte nonce Ns; the
 * node proxy answers Nc and HMAC(K, "C" Ns Nc); the job proxy checks it and answers
 * HMAC(K, "S" Nc Ns), which the node proxy checks. Then the usual protocol (skproto.h).
 *
 * Relay: a process's GAI/GNI/ADMIT request arriving at a node proxy in job mode opens a
 * connection of its own to the job proxy, and from then on the bytes of that
 * conversation pass through both ways. When the job proxy cannot be reached, or does not
 * answer in time (a relay not opened within JOB_HS_MS, bytes it does not take within
 * JOB_HS_MS: a job proxy stopped or wedged, whose kernel still accepts connections), the
 * node proxy takes it for down: it closes its session with it, says so once and serves
 * its node itself (its own cache and windows), so one request at most waits on a job
 * proxy that does not answer, not every one. JOB_RETRY_MS later the loop dials the job
 * proxy again in the background (px_job_tick, px_job_redial_ready: a non-blocking
 * connect, the handshake and HELLO, driven by poll, given up after JOB_HS_MS), and the
 * node's requests are served here meanwhile, at once: a job proxy that stays stopped
 * makes no request wait again. When the job proxy goes away in the middle of a
 * conversation, or leaves it unanswered for two heartbeat periods, the request is
 * served here too, on the same connection (proxy_relay.c): the process keeps its proxy.
 */
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define JOB_NPORTS 4
#define JOB_RETRY_MS 5000
#define JOB_HS_MS 1000   /* connect and handshake to the job proxy */

/* The steps of a re-dial of the session (job_dial_port's, then job_session's HELLO). */
enum job_step { JOB_CONNECT, JOB_NONCE, JOB_PROOF, JOB_MAC, JOB_HELLO };

static struct {
    int on;                         /* a secret and an address were found */
    unsigned char key[32];
    struct sockaddr_in addr;
    uint16_t ports[JOB_NPORTS];
    int port;                       /* the job proxy's port, once known */
    int lfd;                        /* the job proxy's TCP listener, or -1 */
    int session;                    /* a node proxy's session with the job proxy, or -1 */
    int64_t retry_ms;               /* a node proxy alone: no re-dial before */
    int logged;
    uint64_t relayed, local, redials;
    struct {                        /* a node proxy's re-dial under way, driven by poll */
        int fd;                     /* -1: none */
        int next, ncand;            /* candidate ports: the next to try, how many */
        enum job_step step;
        short events;               /* what fd waits for */
        int64_t deadline_ms;
        size_t off;                 /* bytes of the step done */
        int hello_len;
        unsigned char ns[32], pkt[64], mac[32], hello[CNIO__SKP_MAX];
    } rd;
} job = { .lfd = -1, .session = -1, .rd = { .fd = -1 } };

static void job_mac(const char *tag, const unsigned char *a, const unsigned char *b,
                    unsigned char *out)
{
    unsigned char msg[65];
    unsigned int len = 32;

    msg[0] = (unsigned char)tag[0];
    memcpy(msg + 1, a, 32);
    memcpy(msg + 33, b, 32);
    HMAC(EVP_sha256(), job.key, sizeof(job.key), msg, sizeof(msg), out, &len);
}

/* Reads the job's secret, address and ports from the environment; 0, or -1 (no job mode). */
static int job_config(void)
{
    const char *off = getenv("CNIO_SOCKETS_JOB"), *secret = getenv("CNIO_SOCKETS_JOB_SECRET");
    const char *addr = getenv("CNIO_SOCKETS_JOB_ADDR"), *uri;
    char ip[64] = "", jobkey[256], label[300];
    unsigned char h[32];
    unsigned int len = 32;
    size_t n;

    if (off && !strcmp(off, "off"))
        return -1;
    uri = getenv("OMPI_MCA_orte_num_nodes");
    if (uri && !strcmp(uri, "1") && !(addr && *addr))
        return -1;   /* a job on one node: its proxy serves it all */
    if (!secret || !*secret)
        secret = getenv("OMPI_MCA_orte_precondition_transports");
    uri = getenv("OMPI_MCA_orte_hnp_uri");
    if (addr && *addr)
        snprintf(ip, sizeof(ip), "%s", addr);
    else if (uri && (uri = strstr(uri, "tcp://"))) {
        uri += 6;
        n = strcspn(uri, ",:;");
        if (n < sizeof(ip))
            memcpy(ip, uri, n), ip[n] = 0;
    }
    if (!secret || !*secret || !*ip || cnio__sk_job_key(jobkey, sizeof(jobkey)) < 0)
        return -1;
    job.addr.sin_family = AF_INET;
    if (inet_pton(AF_INET, ip, &job.addr.sin_addr) != 1)
        return -1;
    snprintf(label, sizeof(label), "cnio-sockets job proxy %s", jobkey);
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)label,
         strlen(label), job.key, &len);
    HMAC(EVP_sha256(), job.key, sizeof(job.key), (const unsigned char *)"port", 4, h, &len);
    for (int i = 0; i < JOB_NPORTS; i++)
        job.ports[i] = (uint16_t)(10000 + ((h[2 * i] << 8 | h[2 * i + 1]) % 22000));
    return 0;
}

static int job_dial_port(int port, int64_t deadline);

/*
 * Binds and listens on the job address: 1 job proxy; 0 not the job proxy (the address is
 * not this node's, or a port is held by the job proxy already: another proxy of this
 * job on the head node, with a run directory of its own); -1 error. A port held by
 * something that does not prove the job's key is passed over.
 */
static int job_listen(void)
{
    for (int i = 0; i < JOB_NPORTS; i++) {
        struct sockaddr_in a = job.addr;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1, e;

        if (fd < 0)
            return -1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        a.sin_port = htons(job.ports[i]);
        if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(fd, 4096) == 0) {
            job.lfd = fd;
            job.port = job.ports[i];
            return 1;
        }
        e = errno;
        close(fd);
        if (e == EADDRNOTAVAIL)
            return 0;
        if (e != EADDRINUSE)
            return -1;
        fd = job_dial_port(job.ports[i], px_now_ms() + JOB_HS_MS);
        if (fd >= 0) {
            close(fd);
            job.port = job.ports[i];
            return 0;
        }
    }
    return 0;
}

/* Waits until fd is ready for events or deadline; 0 or -1. */
static int job_wait(int fd, short events, int64_t deadline)
{
    struct pollfd p = { .fd = fd, .events = events };
    int64_t left = deadline - px_now_ms();

    return left > 0 && poll(&p, 1, (int)left) == 1 ? 0 : -1;
}

/* Sends (out) or receives len bytes on fd by deadline: 0, -1 (the peer is gone, or an
 * error), or -2 (the deadline passed: the peer does not keep up). */
static int job_io(int fd, void *buf, size_t len, int out, int64_t deadline)
{
    size_t off = 0;

    while (off < len) {
        ssize_t k = out ? send(fd, (char *)buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT)
                        : recv(fd, (char *)buf + off, len - off, MSG_DONTWAIT);

        if (k > 0)
            off += (size_t)k;
        else if (k == 0 || (errno != EAGAIN && errno != EINTR))
            return -1;
        else if (job_wait(fd, out ? POLLOUT : POLLIN, deadline) < 0)
            return -2;
    }
    return 0;
}

/* Starts a non-blocking connect to the job proxy on port: the fd (connected, or
 * connecting), or -1. */
static int job_connect(int port)
{
    struct sockaddr_in a = job.addr;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;

    if (fd < 0)
        return -1;
    a.sin_port = htons((uint16_t)port);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The connect started on fd by job_connect: 1 connected, 0 still under way, -1 failed. */
static int job_connected(int fd)
{
    struct sockaddr_storage peer;
    int err = 0;
    socklen_t pl = sizeof(peer), el = sizeof(err);

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err)
        return -1;
    if (getpeername(fd, (struct sockaddr *)&peer, &pl) == 0)
        return 1;
    return errno == ENOTCONN ? 0 : -1;
}

/* The node proxy's answer to the job proxy's nonce ns: Nc and HMAC(K, "C" Ns Nc), into
 * the 64 bytes of pkt; 0 or -1. */
static int job_proof(const unsigned char *ns, unsigned char *pkt)
{
    if (getrandom(pkt, 32, 0) != 32)
        return -1;
    job_mac("C", ns, pkt, pkt + 32);
    return 0;
}

/* 1 when mac is the job proxy's proof for the nonces: HMAC(K, "S" Nc Ns). */
static int job_proved(const unsigned char *ns, const unsigned char *pkt,
                      const unsigned char *mac)
{
    unsigned char want[32];

    job_mac("S", pkt, ns, want);
    return !CRYPTO_memcmp(mac, want, 32);
}

/* Connects to the job proxy on port and authenticates both ways; the fd or -1. */
static int job_dial_port(int port, int64_t deadline)
{
    unsigned char ns[32], pkt[64], mac[32];
    int fd = job_connect(port);

    if (fd < 0)
        return -1;
    if (job_wait(fd, POLLOUT, deadline) < 0 || job_connected(fd) < 1)
        goto fail;
    if (job_io(fd, ns, 32, 0, deadline) < 0 || job_proof(ns, pkt) < 0)
        goto fail;
    if (job_io(fd, pkt, 64, 1, deadline) < 0 || job_io(fd, mac, 32, 0, deadline) < 0)
        goto fail;
    if (!job_proved(ns, pkt, mac))
        goto fail;
    return fd;
fail:
    close(fd);
    return -1;
}

/* A connection to the job proxy (its port found on first success); the fd or -1. */
static int job_dial(int64_t deadline)
{
    if (job.port)
        return job_dial_port(job.port, deadline);
    for (int i = 0; i < JOB_NPORTS && px_now_ms() < deadline; i++) {
        int fd = job_dial_port(job.ports[i], deadline);

        if (fd >= 0) {
            job.port = job.ports[i];
            return fd;
        }
    }
    return -1;
}

static void job_log_down(const char *what)
{
    if (job.logged++)
        return;
    fprintf(stderr, "cnio-proxy: the job proxy at %s is %s: this node's processes are "
            "served by this proxy alone\n", inet_ntoa(job.addr.sin_addr), what);
}

/*
 * The job proxy is down (gone, unreachable, or not answering in time: stopped, wedged,
 * while its kernel still accepts connections): the session with it is closed, that is
 * said once, and this node is served by this proxy alone until JOB_RETRY_MS from now.
 * Until then no request waits on the job proxy.
 */
static void job_down(const char *what)
{
    if (job.session >= 0)
        close(job.session);
    job.session = -1;
    job_log_down(what);
    job.retry_ms = px_now_ms() + JOB_RETRY_MS;
}

static void job_nap(void)
{
    struct timespec ts = { 0, 100 * 1000 * 1000 };

    nanosleep(&ts, NULL);
}

/* The HELLO that opens a node proxy's session, into buf: its length, or -1. */
static int job_hello(unsigned char *buf, size_t cap)
{
    struct cnio__skp_msg m = { .type = CNIO__SKP_HELLO };

    m.i[0] = (int32_t)getpid();
    m.i[1] = -1;
    return cnio__skp_encode(&m, buf, cap);
}

/* fd, authenticated and HELLO sent, becomes the session; said when it comes back after
 * an episode alone. */
static void job_session_up(int fd)
{
    job.session = fd;
    if (job.logged) {   /* back after an episode alone: a later loss is said again */
        fprintf(stderr, "cnio-proxy: the job proxy at %s answers again: relaying to it\n",
                inet_ntoa(job.addr.sin_addr));
        job.logged = 0;
    }
}

/* A node proxy's session with the job proxy: keeps the job proxy alive while this node
 * has processes. Tries until wait_ms has passed (once at least), blocking: for the start
 * only (later, px_job_tick dials without blocking); 0 or -1. */
static int job_session(int64_t wait_ms)
{
    int64_t end = px_now_ms() + wait_ms;
    unsigned char buf[CNIO__SKP_MAX];
    int fd = -1, n;

    for (;;) {   /* at least one attempt, with wait_ms 0 too */
        int64_t t = px_now_ms() + JOB_HS_MS;

        fd = job_dial(wait_ms && t > end ? end : t);
        if (fd >= 0 || px_now_ms() >= end)
            break;
        job_nap();
    }
    if (fd < 0)
        return -1;
    n = job_hello(buf, sizeof(buf));
    if (n < 0 || job_io(fd, buf, (size_t)n, 1, px_now_ms() + JOB_HS_MS) < 0) {
        close(fd);
        return -1;
    }
    job_session_up(fd);
    return 0;
}

/* Starts the connect of the re-dial to its next candidate port (job.port once known,
 * else the JOB_NPORTS candidates in turn): 0, or -1 when none is left. */
static int job_redial_next(void)
{
    while (job.rd.next < job.rd.ncand) {
        int i = job.rd.next++, fd = job_connect(job.port ? job.port : job.ports[i]);

        if (fd >= 0) {
            job.rd.fd = fd;
            job.rd.step = JOB_CONNECT;
            job.rd.events = POLLOUT;
            job.rd.off = 0;
            return 0;
        }
    }
    return -1;
}

/* Ends the re-dial: its fd becomes the session (ok), or is closed and the job proxy is
 * left alone for another back-off (said once already: job.logged). */
static void job_redial_end(int ok)
{
    int fd = job.rd.fd;

    job.rd.fd = -1;
    if (ok) {
        if (!job.port)
            job.port = job.ports[job.rd.next - 1];
        job_session_up(fd);
        return;
    }
    if (fd >= 0)
        close(fd);
    job_down("unreachable");
}

/* Moves the bytes of the re-dial's step (out: sends buf, else receives into it) as far
 * as its socket allows: 1 all done, 0 waiting (rd.events set), -1 the peer is gone. */
static int job_redial_io(void *buf, size_t len, int out)
{
    while (job.rd.off < len) {
        char *p = (char *)buf + job.rd.off;
        ssize_t k = out ? send(job.rd.fd, p, len - job.rd.off, MSG_NOSIGNAL | MSG_DONTWAIT)
                        : recv(job.rd.fd, p, len - job.rd.off, MSG_DONTWAIT);

        if (k > 0)
            job.rd.off += (size_t)k;
        else if (k == 0 || (errno != EAGAIN && errno != EINTR))
            return -1;
        else if (errno == EAGAIN) {
            job.rd.events = out ? POLLOUT : POLLIN;
            return 0;
        }
    }
    job.rd.off = 0;
    return 1;
}

/* Advances the re-dial on its current candidate as far as its socket allows, step after
 * step: 1 the session is ready, 0 waiting (rd.events), -1 this candidate failed. */
static int job_redial_step(void)
{
    int r = 1;

    while (r == 1) {
        switch (job.rd.step) {
        case JOB_CONNECT:
            r = job_connected(job.rd.fd);
            if (r == 0)
                job.rd.events = POLLOUT;
            break;
        case JOB_NONCE:
            r = job_redial_io(job.rd.ns, 32, 0);
            if (r == 1 && job_proof(job.rd.ns, job.rd.pkt) < 0)
                r = -1;
            break;
        case JOB_PROOF:
            r = job_redial_io(job.rd.pkt, 64, 1);
            break;
        case JOB_MAC:
            r = job_redial_io(job.rd.mac, 32, 0);
            if (r == 1 && !job_proved(job.rd.ns, job.rd.pkt, job.rd.mac))
                r = -1;
            break;
        case JOB_HELLO:
            return job_redial_io(job.rd.hello, (size_t)job.rd.hello_len, 1);
        }
        if (r == 1)
            job.rd.step++;
    }
    return r;
}

int px_job_redial_fd(short *events)
{
    *events = job.rd.events;
    return job.rd.fd;
}

void px_job_redial_ready(void)
{
    int r;

    if (job.rd.fd < 0)
        return;
    while ((r = job_redial_step()) < 0) {   /* this candidate failed: the next, if any */
        close(job.rd.fd);
        job.rd.fd = -1;
        if (job_redial_next() < 0)
            break;
    }
    if (r != 0)
        job_redial_end(r == 1);
}

int64_t px_job_tick(int64_t now)
{
    if (!job.on || job.lfd >= 0 || job.session >= 0)
        return JOB_RETRY_MS;
    if (job.rd.fd >= 0) {
        if (now < job.rd.deadline_ms)
            return job.rd.deadline_ms - now;
        job_redial_end(0);   /* the handshake did not come in time: stopped, wedged */
        return JOB_RETRY_MS;
    }
    if (now < job.retry_ms)
        return job.retry_ms - now;
    job.redials++;
    job.rd.deadline_ms = now + JOB_HS_MS;
    job.rd.next = 0;
    job.rd.ncand = job.port ? 1 : JOB_NPORTS;
    job.rd.hello_len = job_hello(job.rd.hello, sizeof(job.rd.hello));
    if (job.rd.hello_len < 0 || job_redial_next() < 0) {
        job_redial_end(0);
        return JOB_RETRY_MS;
    }
    return JOB_HS_MS;
}

int px_job_start(struct px *px)
{
    int r;

    if (job_config() < 0)
        return 0;
    job.on = 1;
    r = job_listen();
    if (r < 0)
        return -1;
    if (r == 1) {
        fprintf(stderr, "cnio-proxy: job proxy on %s:%d\n", inet_ntoa(job.addr.sin_addr),
                job.port);
        return 0;
    }
    if (job_session(px->conf.job_wait_ms) < 0) {
        job_log_down("unreachable");
        job.retry_ms = px_now_ms() + JOB_RETRY_MS;
    }
    return 0;
}

int px_job_listen_fd(void)
{
    return job.lfd;
}

int px_job_session_fd(void)
{
    return job.session;
}

void px_job_session_lost(void)
{
    job_down("gone");
}

void px_job_down(const char *what)
{
    job_down(what);
}

struct px_client *px_job_accept(void)
{
    int fd = accept4(job.lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), one = 1;
    struct px_client *c;

    if (fd < 0)
        return NULL;
    c = calloc(1, sizeof(*c));
    if (!c || getrandom(c->nonce, 32, 0) != 32
        || send(fd, c->nonce, 32, MSG_NOSIGNAL | MSG_DONTWAIT) != 32) {
        free(c);
        close(fd);
        return NULL;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->fd = fd;
    c->up = -1;
    c->rank = -1;
    c->auth = 1;
    c->relayed = 1;
    c->since_ms = px_now_ms();
    return c;
}

int px_job_auth(struct px_client *c)
{
    unsigned char want[32], mac[32];

    if (c->inlen < 64)
        return 0;
    job_mac("C", c->nonce, c->in, want);
    if (CRYPTO_memcmp(want, c->in + 32, 32))
        return -1;
    job_mac("S", c->in, c->nonce, mac);
    if (send(c->fd, mac, 32, MSG_NOSIGNAL | MSG_DONTWAIT) != 32)
        return -1;
    memmove(c->in, c->in + 64, c->inlen - 64);
    c->inlen -= 64;
    c->auth = 0;
    return 0;
}

/* The IPv4 address a (host order) is loopback or link-local. */
static int job_v4_scoped(uint32_t a)
{
    return (a >> 24) == 127 || (a >> 16) == 0xa9fe;
}

int px_job_node_local(const struct sockaddr_storage *sa)
{
    static struct sockaddr_storage own[64];
    static int nown;
    static int64_t looked;
    int64_t now = px_now_ms();
    struct sockaddr_in v4 = { .sin_family = AF_INET };
    const struct in6_addr *a6 = NULL;
    struct ifaddrs *ifs;

    if (!job.on)
        return 0;
    if (sa->ss_family == AF_INET) {
        v4.sin_addr = ((const struct sockaddr_in *)sa)->sin_addr;
    } else if (sa->ss_family == AF_INET6) {
        a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a6) || IN6_IS_ADDR_LINKLOCAL(a6))
            return 1;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            memcpy(&v4.sin_addr, a6->s6_addr + 12, 4);
            a6 = NULL;
        }
    } else {
        return 0;
    }
    if (!a6 && job_v4_scoped(ntohl(v4.sin_addr.s_addr)))
        return 1;
    if (!looked || now - looked > 1000 || now < looked) {   /* interfaces change: look again */
        looked = now;
        nown = 0;
        if (getifaddrs(&ifs) == 0) {
            for (struct ifaddrs *i = ifs; i && nown < 64; i = i->ifa_next)
                if (i->ifa_addr && (i->ifa_flags & IFF_LOOPBACK) &&
                    (i->ifa_addr->sa_family == AF_INET || i->ifa_addr->sa_family == AF_INET6))
                    memcpy(&own[nown++], i->ifa_addr, i->ifa_addr->sa_family == AF_INET
                           ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
            freeifaddrs(ifs);
        }
    }
    for (int k = 0; k < nown; k++) {
        if (!a6 && own[k].ss_family == AF_INET &&
            ((struct sockaddr_in *)&own[k])->sin_addr.s_addr == v4.sin_addr.s_addr)
            return 1;
        if (a6 && own[k].ss_family == AF_INET6 &&
            !memcmp(&((struct sockaddr_in6 *)&own[k])->sin6_addr, a6, sizeof(*a6)))
            return 1;
    }
    return 0;
}

int px_job_relay_open(struct px *px, struct px_client *c, const struct cnio__skp_msg *m)
{
    unsigned char buf[CNIO__SKP_MAX];
    int64_t deadline;
    int n, fd;

    n = cnio__skp_encode(m, buf, sizeof(buf));
    if (!job.on || job.lfd >= 0 || c->auth || n < 0)
        return 0;   /* not a node proxy in a job, or a relayed connection itself */
    if (job.session < 0) {   /* down: dialed again by the loop (px_job_tick), not here */
        job.local++;
        return 0;
    }
    deadline = px_now_ms() + JOB_HS_MS;
    fd = job_dial(deadline);
    if (fd < 0 || job_io(fd, buf, (size_t)n, 1, deadline) < 0) {
        if (fd >= 0)
            close(fd);
        job_down(fd < 0 ? "not answering" : "not taking requests");
        job.local++;
        return 0;
    }
    if (px_relay_start(c, m, px_now_ms()) < 0) {   /* (no memory to keep it: served here) */
        close(fd);   /* (what the job proxy gave it, it takes back as the connection ends) */
        job.local++;
        return 0;
    }
    c->up = fd;
    job.relayed++;
    return 1;
}

int px_job_pass(int from, int to, int to_job)
{
    unsigned char buf[CNIO__SKP_MAX];
    ssize_t n;
    int r;

    n = recv(from, buf, sizeof(buf), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        return -1;
    if (n < 0)
        return 0;
    /* A job proxy already taken for down gets no more waiting: only what its socket
     * takes at once (a conversation opened before it stopped answering). */
    r = job_io(to, buf, (size_t)n, 1,
               px_now_ms() + (to_job && job.session < 0 ? 0 : JOB_HS_MS));
    if (r == -2 && to_job)   /* the job proxy does not take what it is sent */
        job_down("not taking requests");
    return r < 0 ? (to_job ? -2 : -1) : 0;
}

void px_job_report(struct px_text *t)
{
    if (!job.on)
        return;
    if (job.lfd >= 0) {
        px_text_add(t, "job proxy %s:%d relayed %llu served_here %llu\n",
                    inet_ntoa(job.addr.sin_addr), job.port, (unsigned long long)job.relayed,
                    (unsigned long long)job.local);
        return;
    }
    px_text_add(t, "job %s %s:%d relayed %llu served_here %llu redials %llu\n",
                job.session >= 0 ? "node" : "node-alone", inet_ntoa(job.addr.sin_addr),
                job.port, (unsigned long long)job.relayed, (unsigned long long)job.local,
                (unsigned long long)job.redials);
}

void px_job_close(void)
{
    if (job.lfd >= 0)
        close(job.lfd);
    if (job.session >= 0)
        close(job.session);
    if (job.rd.fd >= 0)
        close(job.rd.fd);
    job.lfd = job.session = job.rd.fd = -1;
}
