/*
 * limits.c - cnio-server's server-wide budgets, the ones no single connection owns.
 *
 * Connections still authenticating: they cost a file descriptor and a little memory
 * but prove nothing, so they get a small budget of their own (--max-unauth in total,
 * --max-unauth-per-addr from one source address). They wait in one list, oldest first;
 * when a new connection passes either budget, the oldest one of the same kind is
 * evicted (marked, and its worker woken to close it). Whoever holds the key therefore
 * gets in: an idle flood can only push out the flood's own older members, and a
 * legitimate client authenticates within a round trip (one at the flood's own address
 * can lose that race to connections the flood left in the listen queue, accepted after
 * it, and gets in at its next try). As --max-unauth is kept below
 * --max-conns (main.c), the flood cannot fill --max-conns either.
 *
 * Buffered bytes: every connection buffer (request payloads, reply payloads, spares)
 * is counted against --max-memory. A request whose payload does not fit waits, with
 * its header read and the connection no longer read from (conn.c), until memory is
 * returned; while the total is over the bound no connection reads a new frame. Large
 * buffers are mmap'd (main.c fixes malloc's mmap threshold), so they go back to the
 * system when freed; the rest is returned by malloc_trim once enough was freed.
 *
 * Every limit logs when it is hit, at most once a second per kind, with a count.
 */
#include "server.h"
#include "log.h"

#include <string.h>
#include <netinet/in.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#define LIMITS_LOG_EVERY_MS 1000
#define LIMITS_TRIM_BYTES (4u << 20)

void cnio__srv_limits_init(struct cnio_srv *srv)
{
    srv->unauth_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
    srv->unauth_head = srv->unauth_tail = NULL;
    srv->nunauth = 0;
    srv->unauth_dropped = 0;
    srv->unauth_logged_ms = 0;
    atomic_init(&srv->mem_used, 0);
    atomic_init(&srv->mem_freed, 0);
    atomic_init(&srv->mem_logged_ms, 0);
}

void cnio__srv_limits_fini(struct cnio_srv *srv)
{
    pthread_mutex_destroy(&srv->unauth_lock);
}

/* The same source address (port ignored). */
static int limits_same_addr(const struct cnio_addr *a, const struct cnio_addr *b)
{
    if (a->ss.ss_family != b->ss.ss_family)
        return 0;
    if (a->ss.ss_family == AF_INET)
        return ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)&b->ss)->sin_addr.s_addr;
    if (a->ss.ss_family == AF_INET6)
        return !memcmp(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr,
                       &((const struct sockaddr_in6 *)&b->ss)->sin6_addr,
                       sizeof(struct in6_addr));
    return 1;
}

static void limits_unlink(struct cnio_srv *srv, struct cnio_srv_conn *c)
{
    if (c->ua_prev)
        c->ua_prev->ua_next = c->ua_next;
    else
        srv->unauth_head = c->ua_next;
    if (c->ua_next)
        c->ua_next->ua_prev = c->ua_prev;
    else
        srv->unauth_tail = c->ua_prev;
    c->ua_prev = c->ua_next = NULL;
    c->ua_linked = 0;
    srv->nunauth--;
}

/* Unlinks victim and has its worker close it (unauth_lock held). */
static void limits_evict(struct cnio_srv *srv, struct cnio_srv_conn *victim, const char *why)
{
    int64_t now = cnio__now_ms();

    limits_unlink(srv, victim);
    atomic_store(&victim->evicted, 1);
    if (victim->worker)
        cnio__srv_loop_kick(victim->worker);   /* a fabric peer's thread looks on its tick */
    srv->unauth_dropped++;
    if (now - srv->unauth_logged_ms >= LIMITS_LOG_EVERY_MS) {
        cnio__info("%s: %s reached, dropped the oldest connection still authenticating "
                   "(%llu dropped since the last such line)", victim->peer, why,
                   (unsigned long long)srv->unauth_dropped);
        srv->unauth_dropped = 0;
        srv->unauth_logged_ms = now;
    }
}

void cnio__srv_unauth_add(struct cnio_srv_conn *c)
{
    struct cnio_srv *srv = c->srv;
    struct cnio_srv_conn *after = NULL, *oldest_here = NULL;
    uint32_t here = 0;

    pthread_mutex_lock(&srv->unauth_lock);
    /* in order of acceptance: workers may serve what they were handed a little late */
    for (after = srv->unauth_tail; after && after->seq > c->seq; after = after->ua_prev)
        ;
    c->ua_prev = after;
    c->ua_next = after ? after->ua_next : srv->unauth_head;
    if (c->ua_next)
        c->ua_next->ua_prev = c;
    else
        srv->unauth_tail = c;
    if (after)
        after->ua_next = c;
    else
        srv->unauth_head = c;
    c->ua_linked = 1;
    srv->nunauth++;
    for (struct cnio_srv_conn *o = srv->unauth_head; o; o = o->ua_next) {
        if (limits_same_addr(&o->addr, &c->addr) && here++ == 0)
            oldest_here = o;
    }
    if (here > srv->opts.max_unauth_per_addr)
        limits_evict(srv, oldest_here, "--max-unauth-per-addr");
    if (srv->nunauth > srv->opts.max_unauth)
        limits_evict(srv, srv->unauth_head, "--max-unauth");
    pthread_mutex_unlock(&srv->unauth_lock);
}

void cnio__srv_unauth_remove(struct cnio_srv_conn *c)
{
    pthread_mutex_lock(&c->srv->unauth_lock);
    if (c->ua_linked)
        limits_unlink(c->srv, c);
    pthread_mutex_unlock(&c->srv->unauth_lock);
}

/* Logs that --max-memory holds reads back (at most once a second). */
static void limits_mem_log(struct cnio_srv *srv, unsigned long long used)
{
    long long now = cnio__now_ms(), last = atomic_load(&srv->mem_logged_ms);

    if (now - last >= LIMITS_LOG_EVERY_MS &&
        atomic_compare_exchange_strong(&srv->mem_logged_ms, &last, now))
        cnio__info("--max-memory reached (%llu of %llu bytes buffered): not reading new "
                   "requests until replies drain or connections go", used,
                   (unsigned long long)srv->opts.max_memory);
}

int cnio__srv_mem_take(struct cnio_srv *srv, uint64_t n)
{
    unsigned long long used = atomic_load(&srv->mem_used);

    do {
        if (used + n > srv->opts.max_memory) {
            limits_mem_log(srv, used);
            return -1;
        }
    } while (!atomic_compare_exchange_weak(&srv->mem_used, &used, used + n));
    return 0;
}

void cnio__srv_mem_force(struct cnio_srv *srv, uint64_t n)
{
    atomic_fetch_add(&srv->mem_used, n);
}

void cnio__srv_mem_give(struct cnio_srv *srv, uint64_t n)
{
    atomic_fetch_sub(&srv->mem_used, n);
    atomic_fetch_add(&srv->mem_freed, n);
}

int cnio__srv_mem_over(struct cnio_srv *srv)
{
    unsigned long long used = atomic_load(&srv->mem_used);

    if (used < srv->opts.max_memory)
        return 0;
    limits_mem_log(srv, used);
    return 1;
}

int cnio__srv_mem_tight(struct cnio_srv *srv)
{
    return atomic_load(&srv->mem_used) + CNIO_WIRE_MAX_PAYLOAD > srv->opts.max_memory;
}

void cnio__srv_mem_trim(struct cnio_srv *srv)
{
    if (atomic_load(&srv->mem_freed) < LIMITS_TRIM_BYTES)
        return;
    atomic_store(&srv->mem_freed, 0);
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}
