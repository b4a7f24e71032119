/*
 * check_stack_connect.c - an endpoint's TCP connect under way in the progress engine
 * (src/stack_handshake.c), over a real cnio-server and a listener of the test's own
 * whose accept queue is full, so that the kernel drops the SYNs sent to it: the
 * silent peer of a host whose SYNs are lost.
 *
 * cnio__ep_open waited for its connect (within cnio_timeout_ms), and nothing answered
 * the handshakes already under way meanwhile: a silent host held every other host's
 * set-up, whose servers drop a connection not authenticated within 10 s. Now the
 * connect returns at once and finishes in cnio__stack_progress with the others.
 */
#include "common.h"
#include "auth.h"
#include "config.h"
#include "fixture.h"
#include "net.h"
#include "stack.h"
#include "wire.h"

#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static struct fx fx;
static struct cnio_stack *st;
static struct cnio_key key;
static struct cnio_ep_auth auth;
static int lfd = -1, filler = -1;   /* the silent listener, and what fills its queue */
static struct cnio_addr srv, silent, refused;

/* 127.0.0.1:port. */
static struct cnio_addr loopback(uint16_t port)
{
    struct cnio_addr a;
    int n = 0;

    ck_assert_int_eq(cnio__net_resolve("127.0.0.1", port, &a, 1, &n), 0);
    return a;
}

static void setup(void)
{
    uint16_t port = 0;
    int fd;

    ck_assert_msg(fx_start(&fx, 1, NULL) == 0, "cannot start servers");
    ck_assert_int_eq(cnio__stack_open(&st), 0);
    ck_assert_int_eq(cnio__key_load(fx.key, &key), 0);
    auth = (struct cnio_ep_auth){ .mode = CNIO_WIRE_AUTH_KEY, .k = key.bytes, .klen = key.len };
    srv = loopback(fx.port[0]);
    /* a backlog of 0 queues one connection (filler's), never accepted: the SYNs of
     * any other are dropped */
    ck_assert_int_eq(cnio__net_listen("127.0.0.1:0", 0, &lfd, &port), 0);
    silent = loopback(port);
    ck_assert_int_eq(cnio__net_connect(&silent, 5000, &filler), 0);
    /* a port nothing listens on: a bound socket's, closed */
    ck_assert_int_eq(cnio__net_listen("127.0.0.1:0", 1, &fd, &port), 0);
    close(fd);
    refused = loopback(port);
}

static void teardown(void)
{
    cnio__stack_close(st);
    st = NULL;
    close(filler);
    close(lfd);
    filler = lfd = -1;
    fx_stop(&fx);
}

static void tcp_hints(struct cnio_hints *h, int timeout_ms)
{
    cnio__hints_default(h);
    snprintf(h->transport, sizeof(h->transport), "tcp");
    h->timeout_ms = timeout_ms;
}

/* A connect whose SYNs go unanswered holds no other endpoint's set-up: the server's
 * endpoint, opened after it, is ready while it still connects; it then fails with
 * -CNIO_ERR_TIMEOUT, not connected. */
START_TEST(silent_holds_nothing)
{
    struct cnio_hints h;
    struct cnio_ep *quiet = NULL, *ep = NULL;

    tcp_hints(&h, 30000);
    ck_assert_int_eq(cnio__ep_open(st, &h, &silent, "silent", &auth, &quiet), 0);
    ck_assert_int_eq(cnio__ep_open(st, &h, &srv, "server", &auth, &ep), 0);
    ck_assert_int_eq(cnio__ep_wait_ready(st, &ep, 1), 0);
    ck_assert_int_eq(cnio__ep_error(quiet), 0);
    ck_assert_int_eq(cnio__ep_connected(quiet), 0);
    cnio__ep_set_timeout(quiet, 200);
    ck_assert_int_eq(cnio__ep_wait_ready(st, &quiet, 1), -CNIO_ERR_TIMEOUT);
    ck_assert_int_eq(cnio__ep_connected(quiet), 0);
    ck_assert_int_eq(cnio__ep_ready(ep), 1);
    cnio__ep_close(quiet);
    cnio__ep_close(ep);
}
END_TEST

/* Several addresses of a name: the next only once the connect to one failed, refused or
 * silent for its whole timeout; the endpoint says which answered. All failing: the last
 * one's error. */
START_TEST(addresses_in_turn)
{
    struct cnio_addr a[3] = { refused, silent, srv }, dead[2] = { silent, refused };
    struct cnio_hints h;
    struct cnio_ep *ep = NULL;

    tcp_hints(&h, 1500);   /* each silent address costs it; the handshake has it too */
    ck_assert_int_eq(cnio__ep_open_addrs(st, &h, a, 3, "name", &auth, &ep), 0);
    ck_assert_int_eq(cnio__ep_wait_ready(st, &ep, 1), 0);
    ck_assert_int_eq(cnio__ep_connected(ep), 1);
    ck_assert(cnio__addr_same(cnio__ep_addr(ep), &srv));
    cnio__ep_close(ep);
    ep = NULL;
    ck_assert_int_eq(cnio__ep_open_addrs(st, &h, dead, 2, "name", &auth, &ep), 0);
    ck_assert_int_eq(cnio__ep_wait_ready(st, &ep, 1), -CNIO_ERR_REFUSED);
    ck_assert_int_eq(cnio__ep_connected(ep), 0);
    cnio__ep_close(ep);
    ck_assert_int_eq(cnio__ep_open_addrs(st, &h, a, 0, "name", &auth, &ep), -CNIO_ERR_INVAL);
    ck_assert_int_eq(cnio__ep_open_addrs(st, &h, a, CNIO_EP_ADDRS + 1, "name", &auth, &ep),
                     -CNIO_ERR_INVAL);
}
END_TEST

static Suite *connect_suite(void)
{
    Suite *s = suite_create("stack_connect");
    TCase *tc = tcase_create("connect");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, silent_holds_nothing);
    tcase_add_test(tc, addresses_in_turn);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_run(connect_suite());
}
