/*
 * loop.c - cnio-server's worker threads.
 *
 * Each worker owns an epoll instance and the connections it serves; nothing on a
 * connection's path is shared with another worker except the handle table. The
 * listening socket sits in every worker's epoll with EPOLLEXCLUSIVE, so the kernel
 * wakes one worker per incoming connection. A timer tick (every LOOP_TICK_MS) closes
 * connections that did not authenticate in time and trims idle buffers.
 *
 * Balance: the worker that accepts a connection gives it to the worker with the fewest
 * connections (itself on a tie), through that worker's inbox (a locked list and an
 * eventfd in its epoll). Left to the kernel, one worker would accept a whole burst, and
 * the ranks of a collective open, which all connect at once, would share one thread
 * while the others idle: 2 ranks writing to one server got 1.5 GB/s with one worker
 * doing 80% of the work, where two workers share it.
 *
 * Limits (limits.c): a connection enters the list of those still authenticating when
 * it is served; another worker may evict it from there, marking it and kicking this
 * worker's inbox eventfd, and this worker closes it. --max-unauth is kept below
 * --max-conns (main.c), so that connections that never authenticate cannot fill it.
 *
 * Shutdown: the stop eventfd becomes readable in every epoll; each worker stops
 * accepting, lets its connections finish the frame they are reading and write out
 * the replies they owe, and closes them, all within CNIO_SRV_DRAIN_TIMEOUT_MS.
 */
#include "server.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define LOOP_TICK_MS 250
#define LOOP_EVENTS 64
#define LOOP_ACCEPTS 64
#define LOOP_ACCEPT_PAUSE_MS 100

/* A connection accepted by one worker for another. */
struct loop_handoff {
    struct loop_handoff *next;
    int fd;
    uint64_t seq;
    struct cnio_addr addr;
};

struct cnio_srv_worker {
    struct cnio_srv *srv;
    int index;
    pthread_t tid;
    int epfd;
    int started;
    atomic_int load;            /* connections served or handed to it, not yet closed */
    int inbox_fd;               /* eventfd: readable while the inbox has entries */
    atomic_int evict_pending;   /* some connection of this worker was marked evicted */
    pthread_mutex_t inbox_lock;
    struct loop_handoff *inbox;
    struct cnio_srv_conn *conns;
    int stop_seen;
    int draining;
    int listening;
    int64_t drain_deadline;
    int64_t accept_resume;
};

/* epoll tags for the two shared fds; connections use their own pointer. */
static char loop_listen_tag, loop_stop_tag;

static void loop_link(struct cnio_srv_worker *w, struct cnio_srv_conn *c)
{
    c->prev = NULL;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
}

static void loop_close(struct cnio_srv_worker *w, struct cnio_srv_conn *c)
{
    char peer[sizeof(c->peer)];

    memcpy(peer, c->peer, sizeof(peer));
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    cnio__srv_conn_free(c);
    atomic_fetch_sub(&w->load, 1);
    /* said once what it held (its handles) is released */
    cnio__debug("%s: connection closed", peer);
}

/* Starts serving an accepted connection fd, the seq-th accepted (counted in w->load
 * and srv->nconns). */
static void loop_serve(struct cnio_srv_worker *w, int fd, const struct cnio_addr *a, uint64_t seq)
{
    struct cnio_srv_conn *c;
    char peer[64];

    if (w->draining) {
        close(fd);
    } else {
        /* before the CHALLENGE goes out: a client that got it finds the line logged */
        cnio__debug("%s: connection served by worker %d", cnio__net_ntop(a, peer, sizeof(peer)),
                    w->index);
        if (cnio__srv_conn_new(w->srv, w->epfd, fd, a, &c) == 0) {
            c->worker = w;
            c->seq = seq;
            loop_link(w, c);
            cnio__srv_unauth_add(c);
            return;
        }
    }
    atomic_fetch_sub(&w->srv->nconns, 1);
    atomic_fetch_sub(&w->load, 1);
}

/* The worker with the fewest connections; w itself unless another has fewer. */
static struct cnio_srv_worker *loop_pick(struct cnio_srv_worker *w)
{
    struct cnio_srv *srv = w->srv;
    struct cnio_srv_worker *best = w;
    int least = atomic_load(&w->load);

    for (int i = 0; i < srv->opts.threads; i++) {
        int load = atomic_load(&srv->workers[i].load);

        if (load < least) {
            best = &srv->workers[i];
            least = load;
        }
    }
    return best;
}

/* Gives accepted fd to worker to, counting it in to's load; 0, or -1 (nothing was
 * done) when out of memory. */
static int loop_hand_over(struct cnio_srv_worker *to, int fd, const struct cnio_addr *a,
                          uint64_t seq)
{
    struct loop_handoff *h = malloc(sizeof(*h));
    uint64_t one = 1;

    if (!h)
        return -1;
    atomic_fetch_add(&to->load, 1);
    h->fd = fd;
    h->seq = seq;
    h->addr = *a;
    pthread_mutex_lock(&to->inbox_lock);
    h->next = to->inbox;
    to->inbox = h;
    pthread_mutex_unlock(&to->inbox_lock);
    if (write(to->inbox_fd, &one, sizeof(one)) < 0)   /* only fails on overflow: still set */
        cnio__debug("inbox eventfd: %s", strerror(errno));
    return 0;
}

void cnio__srv_loop_kick(struct cnio_srv_worker *w)
{
    uint64_t one = 1;

    atomic_store(&w->evict_pending, 1);
    if (write(w->inbox_fd, &one, sizeof(one)) < 0)   /* only fails on overflow: still set */
        cnio__debug("inbox eventfd: %s", strerror(errno));
}

/* Closes w's connections marked evicted that are still authenticating. Only between
 * two epoll_wait batches: a connection freed while a batch is handled may still have an
 * event later in that batch, whose data.ptr would then point at freed memory (a storm of
 * unauthenticated connections from one address crashed the server so). */
static void loop_evict(struct cnio_srv_worker *w)
{
    struct cnio_srv_conn *c = w->conns;

    if (!atomic_exchange(&w->evict_pending, 0))
        return;
    while (c) {
        struct cnio_srv_conn *next = c->next;

        if (atomic_load(&c->evicted) && c->state == CNIO_SRV_C_AUTH)
            loop_close(w, c);
        c = next;
    }
}

/* Serves the connections other workers handed to w (those evicted close after the
 * batch, loop_evict). */
static void loop_inbox(struct cnio_srv_worker *w)
{
    struct loop_handoff *h;
    uint64_t n;

    if (read(w->inbox_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        cnio__debug("inbox eventfd: %s", strerror(errno));
    pthread_mutex_lock(&w->inbox_lock);
    h = w->inbox;
    w->inbox = NULL;
    pthread_mutex_unlock(&w->inbox_lock);
    while (h) {
        struct loop_handoff *next = h->next;

        loop_serve(w, h->fd, &h->addr, h->seq);
        free(h);
        h = next;
    }
}

static int loop_listen_ctl(struct cnio_srv_worker *w, int op)
{
    struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &loop_listen_tag };

    if (epoll_ctl(w->epfd, op, w->srv->listen_fd, &ev) < 0)
        return -CNIO_ERR_IO;
    w->listening = op == EPOLL_CTL_ADD;
    return 0;
}

/* Over --max-conns: a CHALLENGE carrying -CNIO_ERR_LIMIT, then close. */
static void loop_refuse(int fd, const struct cnio_addr *a)
{
    struct cnio_wire_hdr h;
    uint8_t buf[CNIO_WIRE_HDR_SIZE];
    char peer[64];

    memset(&h, 0, sizeof(h));
    h.type = CNIO_WIRE_CHALLENGE;
    h.status = -CNIO_ERR_LIMIT;
    cnio__wire_hdr_encode(&h, buf);
    if (send(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)sizeof(buf))
        shutdown(fd, SHUT_WR);
    close(fd);
    cnio__info("%s: connection limit reached, refused", cnio__net_ntop(a, peer, sizeof(peer)));
}

/* Accept failed with errno: 1 to try again, 0 to stop for now. */
static int loop_accept_error(struct cnio_srv_worker *w)
{
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
    if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
        return 1;
    cnio__warn("accept: %s; pausing %d ms", strerror(errno), LOOP_ACCEPT_PAUSE_MS);
    if (w->listening && loop_listen_ctl(w, EPOLL_CTL_DEL) == 0)
        w->accept_resume = cnio__now_ms() + LOOP_ACCEPT_PAUSE_MS;
    return 0;
}

/* Counts a new connection in srv->nconns if it may be served: 1, else 0. */
static int loop_admit(struct cnio_srv *srv)
{
    if (atomic_fetch_add(&srv->nconns, 1) < srv->opts.max_conns)
        return 1;
    atomic_fetch_sub(&srv->nconns, 1);
    return 0;
}

static void loop_accept(struct cnio_srv_worker *w)
{
    struct cnio_srv *srv = w->srv;

    for (int i = 0; i < LOOP_ACCEPTS; i++) {
        struct cnio_srv_worker *to;
        struct cnio_addr a;
        uint64_t seq;
        int fd;

        a.len = sizeof(a.ss);
        fd = accept4(srv->listen_fd, (struct sockaddr *)&a.ss, &a.len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (loop_accept_error(w))
                continue;
            return;
        }
        if (!loop_admit(srv)) {
            loop_refuse(fd, &a);
            continue;
        }
        cnio__net_tune(fd, 0);
        /* a client host that went without a FIN (power, a partition) holds nothing
         * longer than this: its handles would keep its uploads live, neither
         * resumable nor expired (--idle-timeout spares connections with objects open) */
        cnio__net_keepalive(fd, srv->opts.keepalive_s);
        seq = atomic_fetch_add(&srv->accepted, 1);
        to = loop_pick(w);
        if (to == w || loop_hand_over(to, fd, &a, seq)) {
            atomic_fetch_add(&w->load, 1);
            loop_serve(w, fd, &a, seq);
        }
    }
}

static void loop_begin_drain(struct cnio_srv_worker *w)
{
    struct cnio_srv_conn *c = w->conns;

    w->draining = 1;
    w->drain_deadline = cnio__now_ms() + CNIO_SRV_DRAIN_TIMEOUT_MS;
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->srv->stop_fd, NULL);
    if (w->listening)
        loop_listen_ctl(w, EPOLL_CTL_DEL);
    while (c) {
        struct cnio_srv_conn *next = c->next;

        if (cnio__srv_conn_drain(c))
            loop_close(w, c);
        c = next;
    }
}

static void loop_tick(struct cnio_srv_worker *w, int64_t now)
{
    struct cnio_srv_conn *c = w->conns;
    int expired = w->draining && now >= w->drain_deadline;

    if (expired && c)
        cnio__warn("shutdown: closing connections that did not finish in %d s",
                   CNIO_SRV_DRAIN_TIMEOUT_MS / 1000);
    while (c) {
        struct cnio_srv_conn *next = c->next;

        if (expired || cnio__srv_conn_tick(c, now))
            loop_close(w, c);
        c = next;
    }
    if (!w->draining && !w->listening && now >= w->accept_resume)
        loop_listen_ctl(w, EPOLL_CTL_ADD);
    cnio__srv_mem_trim(w->srv);
}

static void loop_event(struct cnio_srv_worker *w, const struct epoll_event *ev)
{
    if (ev->data.ptr == &loop_listen_tag) {
        if (!w->draining && w->listening)
            loop_accept(w);
    } else if (ev->data.ptr == &loop_stop_tag) {
        w->stop_seen = 1;
    } else if (ev->data.ptr == w) {
        loop_inbox(w);
    } else {
        struct cnio_srv_conn *c = ev->data.ptr;

        if (cnio__srv_conn_event(c, ev->events))
            loop_close(w, c);
    }
}

static void *loop_worker(void *arg)
{
    struct cnio_srv_worker *w = arg;
    struct epoll_event evs[LOOP_EVENTS];
    int64_t next_tick = cnio__now_ms() + LOOP_TICK_MS;

    while (!w->draining || w->conns) {
        int64_t now;
        int n = epoll_wait(w->epfd, evs, LOOP_EVENTS, LOOP_TICK_MS);

        if (n < 0 && errno != EINTR) {
            cnio__err("epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++)
            loop_event(w, &evs[i]);
        loop_evict(w);   /* after the batch, which may hold events of those it closes */
        if (w->stop_seen && !w->draining)
            loop_begin_drain(w);
        now = cnio__now_ms();
        if (now >= next_tick) {
            loop_tick(w, now);
            next_tick = now + LOOP_TICK_MS;
        }
    }
    while (w->conns)
        loop_close(w, w->conns);
    return NULL;
}

static int loop_worker_init(struct cnio_srv *srv, struct cnio_srv_worker *w)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &loop_stop_tag };
    struct epoll_event inbox = { .events = EPOLLIN, .data.ptr = w };

    w->srv = srv;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->inbox_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (w->epfd < 0 || w->inbox_fd < 0 ||
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, srv->stop_fd, &ev) < 0 ||
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->inbox_fd, &inbox) < 0 ||
        loop_listen_ctl(w, EPOLL_CTL_ADD))
        return -CNIO_ERR_IO;
    return 0;
}

/* Closes what a stopped worker still holds: its fds and connections handed to it late. */
static void loop_worker_fini(struct cnio_srv_worker *w)
{
    struct loop_handoff *h = w->inbox;

    while (h) {
        struct loop_handoff *next = h->next;

        close(h->fd);
        atomic_fetch_sub(&w->srv->nconns, 1);
        free(h);
        h = next;
    }
    if (w->epfd >= 0)
        close(w->epfd);
    if (w->inbox_fd >= 0)
        close(w->inbox_fd);
    pthread_mutex_destroy(&w->inbox_lock);
}

int cnio__srv_loop_start(struct cnio_srv *srv)
{
    int n = srv->opts.threads, ret = 0;

    srv->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (srv->stop_fd < 0)
        return -CNIO_ERR_IO;
    srv->workers = calloc((size_t)n, sizeof(*srv->workers));
    if (!srv->workers) {
        close(srv->stop_fd);
        srv->stop_fd = -1;
        return -CNIO_ERR_NOMEM;
    }
    for (int i = 0; i < n; i++) {
        struct cnio_srv_worker *w = &srv->workers[i];

        w->index = i;
        w->epfd = w->inbox_fd = -1;
        atomic_init(&w->load, 0);
        atomic_init(&w->evict_pending, 0);
        w->inbox_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
    }
    for (int i = 0; i < n && !ret; i++)
        ret = loop_worker_init(srv, &srv->workers[i]);
    for (int i = 0; i < n && !ret; i++) {
        struct cnio_srv_worker *w = &srv->workers[i];

        if (pthread_create(&w->tid, NULL, loop_worker, w))
            ret = -CNIO_ERR_NOMEM;
        w->started = !ret;
    }
    if (ret)
        cnio__srv_loop_stop(srv);
    return ret;
}

void cnio__srv_loop_stop(struct cnio_srv *srv)
{
    uint64_t one = 1;

    if (!srv->workers)
        return;
    if (write(srv->stop_fd, &one, sizeof(one)) < 0)
        cnio__err("cannot signal the workers: %s", strerror(errno));
    for (int i = 0; i < srv->opts.threads; i++) {
        struct cnio_srv_worker *w = &srv->workers[i];

        if (w->started)
            pthread_join(w->tid, NULL);
    }
    for (int i = 0; i < srv->opts.threads; i++)
        loop_worker_fini(&srv->workers[i]);
    free(srv->workers);
    srv->workers = NULL;
    close(srv->stop_fd);
    srv->stop_fd = -1;
}
