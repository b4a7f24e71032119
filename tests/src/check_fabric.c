/*
 * check_fabric.c - the ofi transport's connection errors: libfabric's errors as cnio's
 * codes (cnio__fab_err, src/fabric.c), told apart as over TCP (refused, unreachable,
 * timed out, reset or lost), and the probe that learns them when the tcp provider keeps
 * them to itself (cnio__net_probe_start / _poll, src/net.c; transport_ofi_conn.c).
 */
#include "cnio_config.h"
#include "common.h"
#include "fabric.h"
#include "net.h"

#include <arpa/inet.h>
#include "fixture.h"
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#ifdef HAVE_LIBFABRIC
#include <rdma/fi_errno.h>
#endif

#ifdef HAVE_LIBFABRIC
/* Each errno the tcp provider's connect and transfers report, positive (fi_eq_readerr's
 * err, a completion's err) or negative (a call's return), as the TCP transport's code. */
START_TEST(fab_err_codes)
{
    static const struct { int fi, cnio; } map[] = {
        { 0, 0 },
        { FI_ECONNREFUSED, -CNIO_ERR_REFUSED },
        { FI_EHOSTUNREACH, -CNIO_ERR_UNREACH },
        { FI_ENETUNREACH, -CNIO_ERR_UNREACH },
        { FI_EHOSTDOWN, -CNIO_ERR_UNREACH },
        { FI_ENETDOWN, -CNIO_ERR_UNREACH },
        { FI_ETIMEDOUT, -CNIO_ERR_TIMEOUT },
        { FI_ECONNRESET, -CNIO_ERR_CONN },
        { FI_ECONNABORTED, -CNIO_ERR_CONN },
        { FI_ENOTCONN, -CNIO_ERR_CONN },
        { FI_ECANCELED, -CNIO_ERR_CONN },
        { FI_ENOMEM, -CNIO_ERR_NOMEM },
        { FI_ETRUNC, -CNIO_ERR_PROTO },
        { FI_EOPNOTSUPP, -CNIO_ERR_NOTSUP },
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        ck_assert_msg(cnio__fab_err(map[i].fi) == map[i].cnio, "fi error %d: %d, wanted %d",
                      map[i].fi, cnio__fab_err(map[i].fi), map[i].cnio);
        ck_assert_msg(cnio__fab_err(-map[i].fi) == map[i].cnio, "fi error -%d: %d, wanted %d",
                      map[i].fi, cnio__fab_err(-map[i].fi), map[i].cnio);
    }
}
END_TEST
#endif

/* A loopback address whose port nothing listens on (bound, never listening), or (listen)
 * a listening one; *fd holds the socket. */
static struct cnio_addr loop_port(int listening, int *fd)
{
    struct cnio_addr a = { .len = sizeof(struct sockaddr_in) };
    struct sockaddr_in *in = (struct sockaddr_in *)(void *)&a.ss;

    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(*fd, 0);
    ck_assert_int_eq(bind(*fd, (struct sockaddr *)in, sizeof(*in)), 0);
    ck_assert_int_eq(getsockname(*fd, (struct sockaddr *)in, &a.len), 0);
    if (listening)
        ck_assert_int_eq(listen(*fd, 4), 0);
    return a;
}

/* Polls probe fd until it answers (bounded by the test's timeout). */
static int probe_outcome(int fd)
{
    int ret;

    while ((ret = cnio__net_probe_poll(fd)) == 1) {
        struct pollfd p = { .fd = fd, .events = POLLOUT };

        poll(&p, 1, 100);
    }
    return ret;
}

/* A port nothing listens on: refused (at once, or once the probe is polled). */
START_TEST(probe_refused)
{
    int s, fd = -1, ret;
    struct cnio_addr a = loop_port(0, &s);

    ret = cnio__net_probe_start(&a, &fd);
    if (!ret) {
        ret = probe_outcome(fd);
        close(fd);
    }
    ck_assert_int_eq(ret, -CNIO_ERR_REFUSED);
    close(s);
}
END_TEST

/* A listening port: connected (0); an address of another family is not probed. */
START_TEST(probe_listening)
{
    int s, fd = -1;
    struct cnio_addr a = loop_port(1, &s), un = { .len = sizeof(sa_family_t) };

    ck_assert_int_eq(cnio__net_probe_start(&a, &fd), 0);
    ck_assert_int_eq(probe_outcome(fd), 0);
    close(fd);
    close(s);
    un.ss.ss_family = AF_UNIX;
    ck_assert_int_eq(cnio__net_probe_start(&un, &fd), -CNIO_ERR_INVAL);
}
END_TEST

static Suite *fabric_suite(void)
{
    Suite *s = suite_create("fabric");
    TCase *tc = tcase_create("errors");

#ifdef HAVE_LIBFABRIC
    tcase_add_test(tc, fab_err_codes);
#endif
    tcase_add_test(tc, probe_refused);
    tcase_add_test(tc, probe_listening);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_run(fabric_suite());
}
