/*
 * check_net.c - the socket helpers of src/net.c (which cnio-server and the TCP
 * transport share): resolve, listen, connect, bounded waits, whole-buffer I/O.
 */
#include "common.h"
#include "net.h"

#include <arpa/inet.h>
#include "fixture.h"
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

START_TEST(test_resolve)
{
    struct cnio_addr a[8];
    char buf[80];
    int n = 0;

    ck_assert_int_eq(cnio__net_resolve("127.0.0.1", 7447, a, 8, &n), 0);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(cnio__net_ntop(&a[0], buf, sizeof(buf)), "127.0.0.1:7447");
    ck_assert_int_eq(cnio__net_resolve("localhost", 80, a, 8, &n), 0);
    ck_assert_int_ge(n, 1);
    if (cnio__net_resolve("::1", 9, a, 8, &n) == 0)
        ck_assert_str_eq(cnio__net_ntop(&a[0], buf, sizeof(buf)), "[::1]:9");
    ck_assert_int_eq(cnio__net_resolve("no-such-host.invalid", 1, a, 8, &n), -CNIO_ERR_RESOLVE);
    ck_assert_int_eq(cnio__net_resolve("127.0.0.1", 1, a, 0, &n), -CNIO_ERR_INVAL);
}
END_TEST

/* Messages write an IPv6 host in brackets, as URIs do, and any other host bare. */
START_TEST(test_hostport)
{
    char buf[CNIO_HOSTPORT_MAX], small[8];
    char longest[256];

    ck_assert_str_eq(cnio__hostport(buf, sizeof(buf), "127.0.0.1", 7447), "127.0.0.1:7447");
    ck_assert_str_eq(cnio__hostport(buf, sizeof(buf), "node-7.example", 7000),
                     "node-7.example:7000");
    ck_assert_str_eq(cnio__hostport(buf, sizeof(buf), "::1", 1), "[::1]:1");
    ck_assert_str_eq(cnio__hostport(buf, sizeof(buf), "fe80::1%eth0", 65535),
                     "[fe80::1%eth0]:65535");
    ck_assert_str_eq(cnio__hostport(small, sizeof(small), "::1", 7000), "[::1]:7");
    ck_assert_str_eq(cnio__hostport(NULL, 0, "::1", 1), "");
    memset(longest, 'a', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0';
    longest[1] = ':';
    ck_assert_uint_eq(strlen(cnio__hostport(buf, sizeof(buf), longest, 65535)),
                      sizeof(buf) - 1);
    ck_assert_str_eq(buf + sizeof(buf) - 8, "]:65535");
}
END_TEST

START_TEST(test_listen_syntax)
{
    static const char *const bad[] = { "1.2.3.4", "127.0.0.1:", "127.0.0.1:99999", "::1:5",
                                       "[::1]5", "127.0.0.1:-1", "127.0.0.1:1x" };
    uint16_t port;
    int fd;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(cnio__net_listen(bad[i], 8, &fd, &port) == -CNIO_ERR_INVAL, "%s", bad[i]);
    ck_assert_int_eq(cnio__net_listen("127.0.0.1:0", 8, &fd, &port), 0);
    ck_assert_uint_ne(port, 0);
    ck_assert_int_ne(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
    close(fd);
    ck_assert_int_eq(cnio__net_listen(":0", 8, &fd, &port), 0);
    close(fd);
    ck_assert_int_eq(cnio__net_listen("0", 8, &fd, &port), 0);
    close(fd);
}
END_TEST

/* A connected pair over loopback: *cfd from cnio__net_connect, *sfd accepted. */
static void tcp_pair(int *cfd, int *sfd)
{
    struct cnio_addr a;
    uint16_t port;
    int lfd, n;

    ck_assert_int_eq(cnio__net_listen("127.0.0.1:0", 8, &lfd, &port), 0);
    ck_assert_int_eq(cnio__net_resolve("127.0.0.1", port, &a, 1, &n), 0);
    ck_assert_int_eq(cnio__net_connect(&a, 2000, cfd), 0);
    ck_assert_int_eq(cnio__net_wait(lfd, POLLIN, cnio__now_ms() + 2000), 0);
    *sfd = accept(lfd, NULL, NULL);
    ck_assert_int_ge(*sfd, 0);
    close(lfd);
}

START_TEST(test_send_recv)
{
    static char big[4 << 20], back[4 << 20];
    struct iovec iov[3];
    char hdr[10] = "0123456789";
    int c, s, status;
    pid_t pid;

    tcp_pair(&c, &s);
    ck_assert_int_eq(cnio__net_tune(s, 5000), 0);
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)(i * 7);
    iov[0].iov_base = hdr;
    iov[0].iov_len = sizeof(hdr);
    iov[1].iov_base = NULL;
    iov[1].iov_len = 0;
    iov[2].iov_base = big;
    iov[2].iov_len = sizeof(big);
    /* 4 MiB does not fit the socket buffers: sender and receiver take turns */
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int ok = cnio__net_sendv_all(c, iov, 3, cnio__now_ms() + 5000) == 0;

        _exit(ok ? 0 : 1);
    }
    ck_assert_int_eq(cnio__net_recv_all(s, back, sizeof(hdr), cnio__now_ms() + 5000), 0);
    ck_assert_int_eq(memcmp(back, hdr, sizeof(hdr)), 0);
    ck_assert_int_eq(cnio__net_recv_all(s, back, sizeof(big), cnio__now_ms() + 5000), 0);
    ck_assert_int_eq(memcmp(back, big, sizeof(big)), 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(status, 0);
    /* nothing more comes: the deadline holds; then EOF is a lost connection */
    ck_assert_int_eq(cnio__net_recv_all(s, back, 1, cnio__now_ms() + 100), -CNIO_ERR_TIMEOUT);
    ck_assert_int_eq(cnio__net_wait(s, POLLIN, cnio__now_ms() + 50), -CNIO_ERR_TIMEOUT);
    close(c);
    ck_assert_int_eq(cnio__net_recv_all(s, back, 1, cnio__now_ms() + 2000), -CNIO_ERR_CONN);
    close(s);
}
END_TEST

/* Which peers count as on this host (cnio-server copies READ replies to them). */
START_TEST(test_peer_here)
{
    int sp[2], pp[2], c, s;

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    ck_assert_int_eq(cnio__net_peer_here(sp[0]), 1);
    tcp_pair(&c, &s);
    ck_assert_int_eq(cnio__net_peer_here(c), 1);
    ck_assert_int_eq(cnio__net_peer_here(s), 1);
    ck_assert_int_eq(pipe(pp), 0);
    ck_assert_int_eq(cnio__net_peer_here(pp[0]), 0);   /* no socket */
    ck_assert_int_eq(cnio__net_peer_here(-1), 0);
    close(sp[0]);
    close(sp[1]);
    close(c);
    close(s);
    close(pp[0]);
    close(pp[1]);
}
END_TEST

START_TEST(test_connect_refused)
{
    struct cnio_addr a;
    uint16_t port;
    int lfd, fd, n;

    ck_assert_int_eq(cnio__net_listen("127.0.0.1:0", 8, &lfd, &port), 0);
    close(lfd);   /* nobody listens there now */
    ck_assert_int_eq(cnio__net_resolve("127.0.0.1", port, &a, 1, &n), 0);
    ck_assert_int_eq(cnio__net_connect(&a, 2000, &fd), -CNIO_ERR_REFUSED);
    /* what the MPI-IO interposition's POSIX calls set errno to (a reset was all before) */
    ck_assert_int_eq(cnio__errno_from_err(-CNIO_ERR_REFUSED), ECONNREFUSED);
    ck_assert_int_eq(cnio__errno_from_err(-CNIO_ERR_UNREACH), EHOSTUNREACH);
    ck_assert_int_eq(cnio__errno_from_err(-CNIO_ERR_CONN), ECONNRESET);
    ck_assert_int_eq(cnio__errno_from_err(-CNIO_ERR_TIMEOUT), ETIMEDOUT);
}
END_TEST

START_TEST(test_send_to_closed_peer)
{
    static char buf[1 << 20];
    struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
    int c, s, ret = 0;

    tcp_pair(&c, &s);
    close(s);
    for (int i = 0; i < 50 && !ret; i++) {
        iov.iov_base = buf;
        iov.iov_len = sizeof(buf);
        ret = cnio__net_sendv_all(c, &iov, 1, cnio__now_ms() + 2000);
    }
    ck_assert_int_eq(ret, -CNIO_ERR_CONN);
    close(c);
}
END_TEST

static Suite *net_suite(void)
{
    Suite *s = suite_create("net");
    TCase *tc = tcase_create("sockets");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_resolve);
    tcase_add_test(tc, test_hostport);
    tcase_add_test(tc, test_listen_syntax);
    tcase_add_test(tc, test_send_recv);
    tcase_add_test(tc, test_peer_here);
    tcase_add_test(tc, test_connect_refused);
    tcase_add_test(tc, test_send_to_closed_peer);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_run(net_suite());
}
