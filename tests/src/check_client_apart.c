/*
 * check_client_apart.c - a reader whose hosts are apart by their updates in place alone
 * (src/client_apart.c, cnio__cl_apart_again), over two real cnio-servers, host 0 seen
 * through a small TCP proxy of the test's own that can act between two requests.
 *
 * Beside two writers updating an object in place in a loop, about 1 read-only open in
 * 1000 was refused "hosts H0 (update U) and H1 (update U+1) hold their columns as of
 * different updates in place": the last writer's close was caught between the hosts,
 * its count recorded on one and, as the reader's OPEN and STAT found them, not yet on
 * the other (a server before 2026-12-07 read the count for a STAT before it looked for
 * writers, and the close ended between the two; today's servers answer as of one
 * moment, but another writer's whole update may still close on one host between two
 * hosts' answers), and the STAT said no writer was live. Here that moment
 * is made and held: host 0's column is put back as of the update before (a backup of it
 * taken then), and the proxy puts the column as of the last update back before it
 * passes on the reader's next STAT. The reader asks again, finds the hosts moved, opens
 * again and reads the update. A column left as of the update before is still refused.
 */
#include "common.h"
#include "client.h"
#include "config.h"
#include "fixture.h"
#include "stack.h"
#include "wire.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <check.h>

#define STAGE (CNIO_WIRE_O_CREATE | CNIO_WIRE_O_WRITE | CNIO_WIRE_O_STAGE | CNIO_WIRE_O_TRUNC)
#define LEN 100000            /* 25 stripes of 4 KiB: both columns hold some */
#define PX_CONNS 32

/* A TCP proxy to one server: requests parsed frame by frame, replies passed on as bytes. */
struct px {
    int lfd;
    uint16_t port, to;
    pthread_t accepter;
    atomic_int stop;
    pthread_mutex_t lock;
    int nconn, fds[2 * PX_CONNS];
    pthread_t tids[2 * PX_CONNS];
    atomic_int stats;             /* STAT requests passed on since armed */
    atomic_int fire_at;           /* hook runs before that STAT is passed on (0: never) */
    void (*hook)(void);
    atomic_int fired;
};

struct px_pipe {
    struct px *p;
    int from, to, framed;
};

static struct fx fx;
static struct cnio_stack *st;
static struct px px;

static int px_full(int fd, uint8_t *b, size_t n, int out)
{
    for (size_t k = 0; k < n;) {
        ssize_t r = out ? send(fd, b + k, n - k, MSG_NOSIGNAL) : recv(fd, b + k, n - k, 0);

        if (r <= 0)
            return -1;
        k += (size_t)r;
    }
    return 0;
}

/* Passes bytes from one socket to the other; framed: one request at a time, the hook
 * run before the STAT it was armed for. Either side's end ends both. */
static void *px_pass(void *arg)
{
    struct px_pipe *pp = arg;
    uint8_t *buf = malloc(CNIO_WIRE_HDR_SIZE + CNIO_WIRE_MAX_PAYLOAD);

    while (buf) {
        struct cnio_wire_hdr h;
        ssize_t r;

        if (!pp->framed) {
            r = recv(pp->from, buf, 65536, 0);
            if (r <= 0 || px_full(pp->to, buf, (size_t)r, 1))
                break;
            continue;
        }
        if (px_full(pp->from, buf, CNIO_WIRE_HDR_SIZE, 0) ||
            cnio__wire_hdr_decode(buf, &h) ||
            px_full(pp->from, buf + CNIO_WIRE_HDR_SIZE, h.length, 0))
            break;
        if (h.type == CNIO_WIRE_STAT &&
            atomic_fetch_add(&pp->p->stats, 1) + 1 == atomic_load(&pp->p->fire_at)) {
            pp->p->hook();
            atomic_store(&pp->p->fired, 1);
        }
        if (px_full(pp->to, buf, CNIO_WIRE_HDR_SIZE + h.length, 1))
            break;
    }
    shutdown(pp->from, SHUT_RDWR);
    shutdown(pp->to, SHUT_RDWR);
    free(buf);
    free(pp);
    return NULL;
}

/* A thread passing from's bytes on to to: 0, or -1 (nothing started). */
static int px_spawn(struct px *p, int from, int to, int framed)
{
    struct px_pipe *pp = calloc(1, sizeof(*pp));

    if (!pp)
        return -1;
    *pp = (struct px_pipe){ .p = p, .from = from, .to = to, .framed = framed };
    if (pthread_create(&p->tids[p->nconn], NULL, px_pass, pp)) {
        free(pp);
        return -1;
    }
    p->fds[p->nconn++] = from;
    return 0;
}

static void *px_accept(void *arg)
{
    struct px *p = arg;

    while (!atomic_load(&p->stop)) {
        struct pollfd pf = { .fd = p->lfd, .events = POLLIN };
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(p->to),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int c, s;

        if (poll(&pf, 1, 50) <= 0)
            continue;
        c = accept(p->lfd, NULL, NULL);
        if (c < 0)
            continue;
        s = socket(AF_INET, SOCK_STREAM, 0);
        pthread_mutex_lock(&p->lock);
        if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            p->nconn + 2 > 2 * PX_CONNS) {
            close(c);
            if (s >= 0)
                close(s);
        } else if (px_spawn(p, c, s, 1)) {
            close(c);
            close(s);
        } else if (px_spawn(p, s, c, 0)) {
            shutdown(c, SHUT_RDWR);   /* the pipe started ends (px_stop closes c) */
        }
        pthread_mutex_unlock(&p->lock);
    }
    return NULL;
}

static void px_start(struct px *p, uint16_t to)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(sa);

    memset(p, 0, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
    p->to = to;
    p->lfd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(p->lfd, 0);
    ck_assert_int_eq(bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(p->lfd, 16), 0);
    ck_assert_int_eq(getsockname(p->lfd, (struct sockaddr *)&sa, &len), 0);
    p->port = ntohs(sa.sin_port);
    ck_assert_int_eq(pthread_create(&p->accepter, NULL, px_accept, p), 0);
}

static void px_stop(struct px *p)
{
    atomic_store(&p->stop, 1);
    pthread_join(p->accepter, NULL);
    close(p->lfd);
    for (int i = 0; i < p->nconn; i++)
        shutdown(p->fds[i], SHUT_RDWR);
    for (int i = 0; i < p->nconn; i++) {
        pthread_join(p->tids[i], NULL);
        close(p->fds[i]);
    }
    pthread_mutex_destroy(&p->lock);
}

static void setup(void)
{
    ck_assert_msg(fx_start(&fx, 2, NULL) == 0, "cannot start servers");
    ck_assert_int_eq(cnio__stack_open(&st), 0);
    px_start(&px, fx.port[0]);
}

static void teardown(void)
{
    cnio__stack_close(st);
    st = NULL;
    px_stop(&px);
    fx_stop(&fx);
}

/* Opens name through host 0 (through the proxy: via) and host 1 with oflags. */
static int open_a(const char *name, int via, uint32_t oflags, struct cnio_obj **o)
{
    char buf[256];
    struct cnio_hints h;
    struct cnio_uri u;
    int ret;

    snprintf(buf, sizeof(buf), "cnio://127.0.0.1:%u,127.0.0.1:%u/%s?stripe_unit=4K",
             via ? px.port : fx.port[0], fx.port[1], name);
    ck_assert_int_eq(cnio__uri_parse(buf, &u), 0);
    ck_assert_int_eq(cnio__hints_resolve(&h, &u), 0);
    ret = cnio__obj_open(st, &u, &h, oflags, o);
    cnio__uri_free(&u);
    return ret;
}

/* Copies file from to file to (whole, replaced). */
static void copy_file(const char *from, const char *to)
{
    static char b[1 << 20];
    int in = open(from, O_RDONLY), out;
    ssize_t n;

    ck_assert_msg(in >= 0, "cannot open %s", from);
    out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_msg(out >= 0, "cannot open %s", to);
    while ((n = read(in, b, sizeof(b))) > 0)
        ck_assert_int_eq(write(out, b, (size_t)n), n);
    ck_assert_int_eq(n, 0);
    close(in);
    close(out);
}

/* Host 0's files of object name (data, metadata, block sums) copied to the test's dir
 * under tag (back: from there), as a backup of that host's root is taken and restored. */
static void host0_files(const char *name, const char *tag, int back)
{
    static const char *const where[] = { "", ".cnio/meta/", ".cnio/sums/" };

    for (size_t k = 0; k < CNIO_ARRAY_LEN(where); k++) {
        char live[PATH_MAX + 64], kept[PATH_MAX + 64];

        snprintf(live, sizeof(live), "%s/%s%s", fx.root[0], where[k], name);
        snprintf(kept, sizeof(kept), "%s/%s.%zu", fx.dir, tag, k);
        copy_file(back ? kept : live, back ? live : kept);
    }
}

/* The proxy's hook: host 0's column as of the last update again. */
static void put_last(void)
{
    host0_files("a", "last", 1);
}

/* Reads name through host 0 (via the proxy or not) and host 1: whole, as want. */
static void reads_as(const char *name, int via, const uint8_t *want)
{
    uint8_t *got = malloc(LEN);
    struct cnio_obj *o;

    ck_assert_ptr_nonnull(got);
    ck_assert_int_eq(open_a(name, via, 0, &o), 0);
    ck_assert_int_eq(cnio__obj_pread(o, got, LEN, 0), LEN);
    ck_assert_msg(memcmp(want, got, LEN) == 0, "%s read back other bytes", name);
    ck_assert_int_eq(cnio__obj_close(o), 0);
    free(got);
}

START_TEST(apart_for_a_moment)
{
    uint8_t *v = malloc(LEN);
    struct cnio_obj *o = NULL;
    int ret;

    ck_assert_ptr_nonnull(v);
    fx_fill(v, LEN, 5);
    ck_assert_int_eq(open_a("a", 0, STAGE, &o), 0);
    ck_assert_int_eq(cnio__obj_pwrite(o, v, LEN, 0), LEN);
    ck_assert_int_eq(cnio__obj_close(o), 0);
    host0_files("a", "before", 0);
    /* one update in place of both columns (bytes 0..8191: 4 KiB on each host) */
    memset(v, 0x5a, 8192);
    ck_assert_int_eq(open_a("a", 0, CNIO_WIRE_O_WRITE, &o), 0);
    ck_assert_int_eq(cnio__obj_pwrite(o, v, 8192, 0), 8192);
    ck_assert_int_eq(cnio__obj_close(o), 0);
    host0_files("a", "last", 0);
    reads_as("a", 0, v);

    /* host 0 as of the update before, and left so: refused, through the proxy too */
    host0_files("a", "before", 1);
    ret = open_a("a", 0, 0, &o);
    ck_assert_msg(ret == -CNIO_ERR_INCOMPLETE, "host 0 a column behind: %s",
                  ret ? cnio_strerror(ret) : "opened");
    ret = open_a("a", 1, 0, &o);
    ck_assert_msg(ret == -CNIO_ERR_INCOMPLETE, "host 0 a column behind, via the proxy: %s",
                  ret ? cnio_strerror(ret) : "opened");

    /* ... and as of the last update again once the reader's OPEN and STAT found it behind:
     * the open reads the update */
    px.hook = put_last;
    atomic_store(&px.stats, 0);
    atomic_store(&px.fire_at, 2);
    ret = open_a("a", 1, 0, &o);
    ck_assert_msg(atomic_load(&px.fired), "the reader did not STAT host 0 again (%s)",
                  ret ? cnio_strerror(ret) : "opened");
    ck_assert_msg(ret == 0, "hosts apart for a moment: %s", cnio_strerror(ret));
    ck_assert_int_eq(cnio__obj_close(o), 0);
    atomic_store(&px.fire_at, 0);
    reads_as("a", 1, v);
    reads_as("a", 0, v);
    free(v);
}
END_TEST

static Suite *apart_suite(void)
{
    Suite *s = suite_create("client_apart");
    TCase *tc = tcase_create("apart");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, apart_for_a_moment);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_run(apart_suite());
}
