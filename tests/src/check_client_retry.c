/*
 * check_client_retry.c - connection set-ups a server turns away for now are tried again
 * (src/client_conn.c): a set-up refused by the job's connection budget (BUDGET) waits
 * for a slot, up to cnio_timeout_ms, then returns -CNIO_ERR_LIMIT; a lane a server reset
 * before it authenticated (--max-unauth-per-addr dropping its oldest connection still
 * authenticating, as 64 ranks on one host met) connects again; and a transient object
 * closes the connections a call opened when the call returns; and a TCP connection on
 * which the server never speaks (its end of the handshake lost) is made again; and a
 * READ whose data arrives under a CRC it does not match (a writer in place changed it
 * during the server's send) is asked again, its connection kept, where data that fails
 * every time is still refused.
 */
#include "common.h"
#include "client.h"
#include "config.h"
#include "fixture.h"
#include "stack.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RW (CNIO_WIRE_O_CREATE | CNIO_WIRE_O_WRITE)

static struct fx fx;
static struct cnio_stack *st, *st2;

static void setup(void)
{
    static const char *const extra[] = { "--max-unauth-per-addr", "1", NULL };

    ck_assert_msg(fx_start(&fx, 1, extra) == 0, "cannot start the server");
    ck_assert_int_eq(cnio__stack_open(&st), 0);
    ck_assert_int_eq(cnio__stack_open(&st2), 0);
}

static void teardown(void)
{
    cnio__stack_close(st2);
    cnio__stack_close(st);
    fx_stop(&fx);
}

static void open_obj(const char *path, struct cnio_obj **o)
{
    struct cnio_uri u;
    struct cnio_hints h;
    char buf[1024];

    ck_assert_int_eq(cnio__uri_parse(fx_uri(&fx, path, "lanes=1&timeout_ms=2000", buf,
                                            sizeof(buf)), &u), 0);
    ck_assert_int_eq(cnio__hints_resolve(&h, &u), 0);
    ck_assert_int_eq(cnio__obj_open(st, &u, &h, RW, o), 0);
    cnio__uri_free(&u);
}

/* Rank `rank` of o, attached on demand on st2. */
static struct cnio_obj *attach(struct cnio_obj *o, uint32_t rank)
{
    uint8_t desc[4096];
    struct cnio_obj *a;
    ssize_t n = cnio__obj_export(o, rank, desc, sizeof(desc));

    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(cnio__obj_attach_on_demand(st2, desc, (size_t)n, &a), 0);
    return a;
}

/* Polls a's set-up of host 0 until it is over (cnio_timeout_ms bounds it): its result. */
static int settle(struct cnio_obj *a)
{
    int p;

    while ((p = cnio__obj_connect_poll(a, 0)) > 0)
        ck_assert_int_eq(cnio__stack_progress(st2, 10), 0);
    return p;
}

/* 1 when the server's log has text (waiting for it, at most 10 s). */
static int log_shows(const char *text)
{
    char path[PATH_MAX + 32], line[512];

    snprintf(path, sizeof(path), "%s/server0.log", fx.dir);
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(path, "r");
        int found = 0;

        while (f && !found && fgets(line, sizeof(line), f))
            found = strstr(line, text) != NULL;
        if (f)
            fclose(f);
        if (found)
            return 1;
        usleep(50000);
    }
    return 0;
}

START_TEST(budget_wait)
{
    struct cnio_obj *o, *a1, *a2, *a3;
    uint8_t w[4000], r[4000];

    fx_fill(w, sizeof(w), 3);
    open_obj("budget", &o);
    ck_assert_int_eq(cnio__obj_budget(o, 2), 0);   /* rank 0's lane and one more */
    a1 = attach(o, 1);
    a2 = attach(o, 2);
    ck_assert_int_eq(cnio__obj_pwrite(a1, w, sizeof(w), 0), (ssize_t)sizeof(w));
    ck_assert_int_eq(cnio__obj_host_lanes(a1, 0), 1);   /* not transient: it stays */
    /* a1 holds the slot for the whole of a2's timeout */
    ck_assert_int_eq(cnio__obj_connect_start(a2, 0), 0);
    ck_assert_int_eq(settle(a2), -CNIO_ERR_LIMIT);
    ck_assert_int_eq(cnio__obj_host_lanes(a2, 0), 0);
    /* a2 waits, a1 lets go, a2 gets in */
    ck_assert_int_eq(cnio__obj_connect_start(a2, 0), 0);
    for (int i = 0; i < 20; i++) {
        ck_assert_int_eq(cnio__obj_connect_poll(a2, 0), 1);
        ck_assert_int_eq(cnio__stack_progress(st2, 5), 0);
    }
    ck_assert_int_eq(cnio__obj_close(a1), 0);
    ck_assert_int_eq(settle(a2), 0);
    ck_assert_int_eq(cnio__obj_pread(a2, r, sizeof(r), 0), (ssize_t)sizeof(r));
    ck_assert_int_eq(memcmp(w, r, sizeof(r)), 0);
    /* transient: a3's calls wait their turn, and hold nothing once they return */
    a3 = attach(o, 3);
    cnio__obj_set_transient(a3, 1);
    ck_assert_int_eq(cnio__obj_pread(a3, r, sizeof(r), 0), -CNIO_ERR_LIMIT);
    ck_assert_int_eq(cnio__obj_close(a2), 0);
    memset(r, 0, sizeof(r));
    ck_assert_int_eq(cnio__obj_pread(a3, r, sizeof(r), 0), (ssize_t)sizeof(r));
    ck_assert_int_eq(memcmp(w, r, sizeof(r)), 0);
    ck_assert_int_eq(cnio__obj_host_lanes(a3, 0), 0);
    ck_assert_int_eq(cnio__obj_size(a3, &(uint64_t){ 0 }), 0);
    ck_assert_int_eq(cnio__obj_host_lanes(a3, 0), 0);
    ck_assert_int_eq(cnio__obj_close(a3), 0);
    ck_assert_int_eq(cnio__obj_close(o), 0);
    ck_assert(log_shows("budget: closed; the job held at most 2 connections at once for this "
                        "open (budget 2)"));
}
END_TEST

START_TEST(reset_before_auth)
{
    struct cnio_obj *o, *a;
    uint8_t w[4000], r[4000];
    int fd;

    fx_fill(w, sizeof(w), 4);
    open_obj("reset", &o);
    a = attach(o, 1);
    ck_assert_int_eq(cnio__obj_connect_start(a, 0), 0);
    /* a newer connection still authenticating from the same address: with
     * --max-unauth-per-addr 1 the server drops a's, which has not sent AUTH yet */
    fd = fx_connect(&fx, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert(log_shows("--max-unauth-per-addr reached"));
    ck_assert_int_eq(settle(a), 0);
    ck_assert_int_eq(cnio__obj_pwrite(a, w, sizeof(w), 0), (ssize_t)sizeof(w));
    ck_assert_int_eq(cnio__obj_pread(a, r, sizeof(r), 0), (ssize_t)sizeof(r));
    ck_assert_int_eq(memcmp(w, r, sizeof(r)), 0);
    close(fd);
    ck_assert_int_eq(cnio__obj_close(a), 0);
    ck_assert_int_eq(cnio__obj_close(o), 0);
}
END_TEST

/*
 * A stand-in for a server host whose kernel dropped its half of some TCP handshakes: a
 * listener on 127.0.0.1 that accepts every connection; those whose number (from 0) is
 * set in `mute` it holds without a word, the others it relays to server 0.
 */
#define RELAY_MAX 8

struct mute_relay {
    int lfd;
    uint16_t port;
    unsigned mute;
    int accepted;
    int held[RELAY_MAX], nheld;
    int pair[RELAY_MAX][2], npairs;
    int held_closed;     /* held connections the client closed */
    int garble;          /* bytes of READ data still to flip on the way to the client
                          * (-1: no end), one in each run of RELAY_RUN bytes RELAY_BYTE */
    unsigned run;
    volatile int stop;
    pthread_t th;
};

static void relay_accept(struct mute_relay *m)
{
    int fd = accept(m->lfd, NULL, NULL), to;

    if (fd < 0)
        return;
    if ((m->mute >> m->accepted++) & 1u && m->nheld < RELAY_MAX) {
        m->held[m->nheld++] = fd;
        return;
    }
    to = m->npairs < RELAY_MAX ? fx_connect(&fx, 0) : -1;
    if (to < 0) {
        close(fd);
        return;
    }
    m->pair[m->npairs][0] = fd;
    m->pair[m->npairs++][1] = to;
}

#define RELAY_BYTE 0x5a
#define RELAY_RUN 1024

/* Flips what m->garble asks of the bytes buf[0, n) going to the client: no frame header
 * or control reply holds a run of RELAY_RUN bytes RELAY_BYTE, the data read here does. */
static void relay_garble(struct mute_relay *m, uint8_t *buf, ssize_t n)
{
    for (ssize_t i = 0; i < n; i++) {
        int g = __atomic_load_n(&m->garble, __ATOMIC_ACQUIRE);

        m->run = buf[i] == RELAY_BYTE ? m->run + 1 : 0;
        if (m->run == RELAY_RUN && g != 0) {
            buf[i] ^= 0x01;
            m->run = 0;
            if (g > 0)
                __atomic_store_n(&m->garble, g - 1, __ATOMIC_RELEASE);
        }
    }
}

/* Moves what fd has to peer (to_client: garbled as m says); 0 once either is closed. */
static int relay_move(struct mute_relay *m, int fd, int peer, int to_client)
{
    uint8_t buf[65536];
    ssize_t r = read(fd, buf, sizeof(buf));

    if (r > 0 && to_client)
        relay_garble(m, buf, r);
    return r > 0 && write(peer, buf, (size_t)r) == r;
}

static void *relay_main(void *arg)
{
    struct mute_relay *m = arg;

    while (!m->stop) {
        struct pollfd p[1 + 3 * RELAY_MAX];
        int n = 0;

        p[n++] = (struct pollfd){ .fd = m->lfd, .events = POLLIN };
        for (int i = 0; i < m->nheld; i++)
            p[n++] = (struct pollfd){ .fd = m->held[i], .events = POLLIN };
        for (int i = 0; i < m->npairs; i++)
            for (int k = 0; k < 2; k++)
                p[n++] = (struct pollfd){ .fd = m->pair[i][k], .events = POLLIN };
        if (poll(p, (nfds_t)n, 100) <= 0)
            continue;
        for (int i = 0; i < m->nheld; i++)
            if (p[1 + i].revents) {   /* the client gave up on it (it never writes first) */
                close(m->held[i]);
                m->held[i] = -1;
                __atomic_add_fetch(&m->held_closed, 1, __ATOMIC_RELEASE);
            }
        for (int i = 0; i < m->npairs; i++)
            for (int k = 0; k < 2; k++)
                if (m->pair[i][k] >= 0 && p[1 + m->nheld + 2 * i + k].revents &&
                    !relay_move(m, m->pair[i][k], m->pair[i][1 - k], k == 1)) {
                    close(m->pair[i][0]);
                    close(m->pair[i][1]);
                    m->pair[i][0] = m->pair[i][1] = -1;
                }
        if (p[0].revents)
            relay_accept(m);
    }
    return NULL;
}

static void relay_start(struct mute_relay *m, unsigned mute)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);

    memset(m, 0, sizeof(*m));
    m->mute = mute;
    m->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(m->lfd, 0);
    ck_assert_int_eq(bind(m->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(m->lfd, 16), 0);
    ck_assert_int_eq(getsockname(m->lfd, (struct sockaddr *)&a, &len), 0);
    m->port = ntohs(a.sin_port);
    ck_assert_int_eq(pthread_create(&m->th, NULL, relay_main, m), 0);
}

static void relay_stop(struct mute_relay *m)
{
    m->stop = 1;
    pthread_join(m->th, NULL);
    close(m->lfd);
    for (int i = 0; i < m->nheld; i++)
        if (m->held[i] >= 0)
            close(m->held[i]);
    for (int i = 0; i < m->npairs; i++)
        for (int k = 0; k < 2; k++)
            if (m->pair[i][k] >= 0)
                close(m->pair[i][k]);
}

START_TEST(mute_handshake)
{
    struct mute_relay m;
    struct cnio_obj *o, *a;
    struct cnio_uri u;
    struct cnio_hints h;
    uint8_t w[4000], r[4000];
    char buf[256];

    fx_fill(w, sizeof(w), 5);
    /* the first connection (rank 0's) and the third (rank 1's first lane) hear nothing */
    relay_start(&m, 1u << 0 | 1u << 2);
    snprintf(buf, sizeof(buf), "cnio://127.0.0.1:%u/mute?lanes=1&timeout_ms=20000", m.port);
    ck_assert_int_eq(cnio__uri_parse(buf, &u), 0);
    ck_assert_int_eq(cnio__hints_resolve(&h, &u), 0);
    ck_assert_int_eq(cnio__obj_open(st, &u, &h, RW, &o), 0);
    cnio__uri_free(&u);
    a = attach(o, 1);
    ck_assert_int_eq(cnio__obj_pwrite(a, w, sizeof(w), 0), (ssize_t)sizeof(w));
    ck_assert_int_eq(cnio__obj_pread(a, r, sizeof(r), 0), (ssize_t)sizeof(r));
    ck_assert_int_eq(memcmp(w, r, sizeof(r)), 0);
    ck_assert_int_eq(cnio__obj_close(a), 0);
    ck_assert_int_eq(cnio__obj_close(o), 0);
    for (int i = 0; i < 100 && __atomic_load_n(&m.held_closed, __ATOMIC_ACQUIRE) < 2; i++)
        usleep(20000);
    relay_stop(&m);
    ck_assert_int_eq(m.nheld, 2);
    ck_assert_int_eq(m.held_closed, 2);   /* both given up, not leaked */
}
END_TEST

/* An object of n bytes RELAY_BYTE, opened through relay m. */
static struct cnio_obj *relay_obj(struct mute_relay *m, const char *name, size_t n)
{
    struct cnio_obj *o;
    struct cnio_uri u;
    struct cnio_hints h;
    uint8_t *w = malloc(n);
    char buf[256];

    ck_assert_ptr_nonnull(w);
    memset(w, RELAY_BYTE, n);
    snprintf(buf, sizeof(buf), "cnio://127.0.0.1:%u/%s?lanes=1&timeout_ms=20000", m->port,
             name);
    ck_assert_int_eq(cnio__uri_parse(buf, &u), 0);
    ck_assert_int_eq(cnio__hints_resolve(&h, &u), 0);
    ck_assert_int_eq(cnio__obj_open(st, &u, &h, RW, &o), 0);
    cnio__uri_free(&u);
    ck_assert_int_eq(cnio__obj_pwrite(o, w, n, 0), (ssize_t)n);
    free(w);
    return o;
}

/* A READ reply whose data fails its CRC once, as when a writer in place wrote between
 * the server's CRC and its send: the read used to fail, "checksum mismatch", its
 * connection closed. Now it is asked again, gets the bytes, and the connection stays. */
START_TEST(read_garbled_once)
{
    size_t n = 256 << 10;
    uint8_t *r = malloc(n), *want = malloc(n);
    struct mute_relay m;
    struct cnio_obj *o;

    ck_assert_ptr_nonnull(r);
    ck_assert_ptr_nonnull(want);
    memset(want, RELAY_BYTE, n);
    relay_start(&m, 0);
    o = relay_obj(&m, "garbled1", n);
    __atomic_store_n(&m.garble, 1, __ATOMIC_RELEASE);
    ck_assert_int_eq(cnio__obj_pread(o, r, n, 0), (ssize_t)n);
    ck_assert_int_eq(__atomic_load_n(&m.garble, __ATOMIC_ACQUIRE), 0);   /* it did flip */
    ck_assert_int_eq(memcmp(r, want, n), 0);
    memset(r, 0, n);
    ck_assert_int_eq(cnio__obj_pread(o, r, n, 0), (ssize_t)n);
    ck_assert_int_eq(memcmp(r, want, n), 0);
    ck_assert_int_eq(m.accepted, 1);   /* the one connection throughout */
    ck_assert_int_eq(cnio__obj_close(o), 0);
    relay_stop(&m);
    free(r);
    free(want);
}
END_TEST

/* Data that fails its CRC each time it is read (damaged at rest, or on every way
 * through) is still refused: -CNIO_ERR_CHECKSUM, after a bounded number of tries. */
START_TEST(read_garbled_always)
{
    size_t n = 256 << 10;
    uint8_t *r = malloc(n);
    struct mute_relay m;
    struct cnio_obj *o;

    ck_assert_ptr_nonnull(r);
    relay_start(&m, 0);
    o = relay_obj(&m, "garbled", n);
    __atomic_store_n(&m.garble, -1, __ATOMIC_RELEASE);
    ck_assert_int_eq(cnio__obj_pread(o, r, n, 0), -CNIO_ERR_CHECKSUM);
    __atomic_store_n(&m.garble, 0, __ATOMIC_RELEASE);
    cnio__obj_close(o);
    relay_stop(&m);
    free(r);
}
END_TEST

static Suite *retry_suite(void)
{
    Suite *s = suite_create("client_retry");
    TCase *tc = tcase_create("retry");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, budget_wait);
    tcase_add_test(tc, reset_before_auth);
    tcase_add_test(tc, mute_handshake);
    tcase_add_test(tc, read_garbled_once);
    tcase_add_test(tc, read_garbled_always);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_run(retry_suite());
}
