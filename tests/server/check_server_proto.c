/*
 * check_server_proto.c - cnio-server's conversation: handshake, authentication, what
 * closes a connection (and only that connection), limits on connections.
 */
#include "srvtest.h"
#include "net.h"

#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


static void send_raw(int fd, const void *buf, size_t len)
{
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

    ck_assert_int_eq(cnio__net_sendv_all(fd, &iov, 1, cnio__now_ms() + ST_TIMEOUT_MS), 0);
}

/* A header of type with the given fields, CRCs right. */
static void raw_hdr(uint8_t out[CNIO_WIRE_HDR_SIZE], uint16_t type, uint64_t session,
                    uint32_t length, uint32_t pcrc)
{
    struct cnio_wire_hdr h;

    memset(&h, 0, sizeof(h));
    h.type = type;
    h.session = session;
    h.length = length;
    h.payload_crc = pcrc;
    cnio__wire_hdr_encode(&h, out);
}

static void fix_hdr_crc(uint8_t *hdr)
{
    cnio__put_le32(hdr + 60, cnio__crc32c(0, hdr, 60));
}

static void ping_ok(struct st_conn *c)
{
    uint8_t buf[16];
    struct cnio_wire_hdr rh;

    ck_assert_int_eq(st_call(c, CNIO_WIRE_PING, 0, 7, "still here", 10, &rh, buf, sizeof(buf)), 0);
    ck_assert_uint_eq(rh.length, 10);
    ck_assert_int_eq(memcmp(buf, "still here", 10), 0);
}

START_TEST(test_handshake_ping)
{
    struct st_conn c;
    struct cnio_wire_hdr rh;
    uint8_t big[CNIO_WIRE_MAX_CTRL], back[CNIO_WIRE_MAX_CTRL];

    st_session(&st_fx, 0, &c);
    ck_assert_uint_eq(c.ch.max_payload, CNIO_WIRE_MAX_PAYLOAD);
    ck_assert_uint_eq(c.ch.credits, 16);
    ck_assert_uint_eq(c.ch.caps, CNIO_WIRE_CAP_REASON | CNIO_WIRE_CAP_ORDER | CNIO_WIRE_CAP_BUDGET |
                                     CNIO_WIRE_CAP_GONE | CNIO_WIRE_CAP_MTIME |
                                     CNIO_WIRE_CAP_PREPARE | CNIO_WIRE_CAP_LIVE |
                                     CNIO_WIRE_CAP_SETATTR_STAGED | CNIO_WIRE_CAP_IDLE |
                                     CNIO_WIRE_CAP_FINISH | CNIO_WIRE_CAP_INPLACE |
                                     CNIO_WIRE_CAP_FINISH_ORDER | CNIO_WIRE_CAP_FINISH_EXCL |
                                     CNIO_WIRE_CAP_ALLOCATE | CNIO_WIRE_CAP_INPLACE_HANDLE |
                                     CNIO_WIRE_CAP_RECORD | CNIO_WIRE_CAP_PRIOR |
                                     CNIO_WIRE_CAP_UPDATES | CNIO_WIRE_CAP_ID |
                                     CNIO_WIRE_CAP_OTHERS);
    ping_ok(&c);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_PING, 0, 0, NULL, 0, &rh, NULL, 0), 0);
    ck_assert_uint_eq(rh.length, 0);
    ck_assert_uint_eq(rh.session, c.session);
    fx_fill(big, sizeof(big), 3);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_PING, 0, 0, big, sizeof(big), &rh, back, sizeof(back)),
                     0);
    ck_assert_int_eq(memcmp(big, back, sizeof(big)), 0);
    st_close(&c);
}
END_TEST

/* Every AUTH reply carries the server's id (CNIO_WIRE_CAP_ID): nonzero, the same on each
 * connection, whatever address it came to; its session ids differ. */
START_TEST(test_server_id)
{
    struct st_conn a, b;

    st_session(&st_fx, 0, &a);
    st_session(&st_fx, 0, &b);
    ck_assert_uint_ne(a.server_id, 0);
    ck_assert_uint_eq(a.server_id, b.server_id);
    ck_assert_uint_ne(a.session, b.session);
    st_close(&a);
    st_close(&b);
}
END_TEST

START_TEST(test_wrong_key)
{
    struct st_conn bad, good;
    uint8_t wrong[32];

    fx_fill(wrong, sizeof(wrong), 99);
    ck_assert_int_eq(st_connect(&st_fx, 0, &bad), 0);
    ck_assert_int_eq(st_auth_key(&bad, wrong, sizeof(wrong)), -CNIO_ERR_AUTH);
    ck_assert_int_eq(st_closed(bad.fd, 5000), 1);
    st_close(&bad);
    st_session(&st_fx, 0, &good);
    ping_ok(&good);
    st_close(&good);
}
END_TEST

START_TEST(test_token_for_unknown_handle)
{
    struct st_conn c;
    struct cnio_key k;

    st_key(&st_fx, &k);
    ck_assert_int_eq(st_connect(&st_fx, 0, &c), 0);
    ck_assert_int_eq(st_auth_token(&c, &k, 0x1234, 0), -CNIO_ERR_AUTH);
    ck_assert_int_eq(st_closed(c.fd, 5000), 1);
    st_close(&c);
}
END_TEST

START_TEST(test_request_before_auth)
{
    struct st_conn c, good;
    struct cnio_wire_hdr h;

    ck_assert_int_eq(st_connect(&st_fx, 0, &c), 0);
    memset(&h, 0, sizeof(h));
    h.type = CNIO_WIRE_PING;
    ck_assert_int_eq(st_send(c.fd, &h, "x", 1), 0);
    ck_assert_int_eq(st_closed(c.fd, 5000), 1);
    st_close(&c);
    st_session(&st_fx, 0, &good);
    ping_ok(&good);
    st_close(&good);
}
END_TEST

/* Sends bad bytes on a fresh connection (authenticated or not) and checks it is closed
 * while `good` keeps working. */
static void garbage_case(struct st_conn *good, int auth, int which)
{
    struct st_conn c;
    uint8_t buf[CNIO_WIRE_HDR_SIZE + 16];

    if (auth)
        st_session(&st_fx, 0, &c);
    else
        ck_assert_int_eq(st_connect(&st_fx, 0, &c), 0);
    switch (which) {
    case 0:   /* random bytes */
        fx_fill(buf, sizeof(buf), 42);
        break;
    case 1:   /* bad magic */
        raw_hdr(buf, CNIO_WIRE_PING, c.session, 0, 0);
        buf[0] = 'X';
        fix_hdr_crc(buf);
        break;
    case 2:   /* bad header CRC */
        raw_hdr(buf, CNIO_WIRE_PING, c.session, 0, 0);
        buf[60] ^= 0xff;
        break;
    case 3:   /* a WRITE header claiming 1 GiB */
        raw_hdr(buf, CNIO_WIRE_WRITE, c.session, 16, 0);
        cnio__put_le32(buf + 48, 1u << 30);
        fix_hdr_crc(buf);
        break;
    default:  /* a PING whose payload does not match its CRC */
        raw_hdr(buf, CNIO_WIRE_PING, c.session, 16, 0x12345678);
        memset(buf + CNIO_WIRE_HDR_SIZE, 'a', 16);
        break;
    }
    send_raw(c.fd, buf, sizeof(buf));
    ck_assert_int_eq(st_closed(c.fd, 5000), 1);
    st_close(&c);
    ping_ok(good);
}

START_TEST(test_garbage_closes_only_that_connection)
{
    struct st_conn good;

    st_session(&st_fx, 0, &good);
    for (int auth = 0; auth < 2; auth++)
        for (int which = 0; which < 5; which++)
            garbage_case(&good, auth, which);
    st_close(&good);
}
END_TEST

START_TEST(test_malformed_payload_closes)
{
    struct st_conn c, good;
    uint8_t p[CNIO_WIRE_OPEN_FIXED + 4];
    struct cnio_wire_hdr h;

    st_session(&st_fx, 0, &good);
    st_session(&st_fx, 0, &c);
    memset(p, 0, sizeof(p));
    cnio__put_le32(p + 20, 100);   /* name_len past the payload */
    memset(&h, 0, sizeof(h));
    h.type = CNIO_WIRE_OPEN;
    h.session = c.session;
    ck_assert_int_eq(st_send(c.fd, &h, p, sizeof(p)), 0);
    ck_assert_int_eq(st_closed(c.fd, 5000), 1);
    st_close(&c);

    st_session(&st_fx, 0, &c);
    cnio__put_le64(p, (uint64_t)CNIO_WIRE_MAX_PAYLOAD + 1);   /* READ over 16 MiB */
    memset(&h, 0, sizeof(h));
    h.type = CNIO_WIRE_READ;
    h.session = c.session;
    ck_assert_int_eq(st_send(c.fd, &h, p, 8), 0);
    ck_assert_int_eq(st_closed(c.fd, 5000), 1);
    st_close(&c);
    ping_ok(&good);
    st_close(&good);
}
END_TEST

START_TEST(test_wrong_session)
{
    struct st_conn c;

    st_session(&st_fx, 0, &c);
    c.session++;
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_PING, 0, 0, "x", 1, NULL, NULL, 0), -CNIO_ERR_PROTO);
    ck_assert_int_eq(st_closed(c.fd, 5000), 1);
    st_close(&c);
}
END_TEST

START_TEST(test_wrong_state_frames)
{
    struct st_conn c;
    struct cnio_wire_hdr h, rh;
    uint8_t p[CNIO_WIRE_AUTH_SIZE], rbuf[64];

    st_session(&st_fx, 0, &c);
    memset(p, 0, sizeof(p));
    cnio__put_le32(p, CNIO_WIRE_AUTH_KEY);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_AUTH, 0, 0, p, sizeof(p), NULL, NULL, 0),
                     -CNIO_ERR_PROTO);
    ping_ok(&c);
    memset(&h, 0, sizeof(h));
    h.type = CNIO_WIRE_PING | CNIO_WIRE_REPLY;
    h.session = c.session;
    h.reqid = 77;
    ck_assert_int_eq(st_send(c.fd, &h, NULL, 0), 0);
    ck_assert_int_eq(st_recv(c.fd, &rh, rbuf, sizeof(rbuf)), 0);
    ck_assert_int_eq(rh.status, -CNIO_ERR_PROTO);
    ck_assert_uint_eq(rh.reqid, 77);
    ping_ok(&c);
    st_close(&c);
}
END_TEST

START_TEST(test_max_conns)
{
    static const char *const extra[] = { "--max-conns", "2", NULL };
    struct st_conn a, b, c;
    int ret = -1;

    fx_stop(&st_fx);
    ck_assert_int_eq(fx_start(&st_fx, 1, extra), 0);
    st_session(&st_fx, 0, &a);
    st_session(&st_fx, 0, &b);
    ck_assert_int_eq(st_connect(&st_fx, 0, &c), -CNIO_ERR_LIMIT);
    ck_assert_int_eq(st_closed(c.fd, 5000), 1);
    st_close(&c);
    ping_ok(&a);
    st_close(&b);
    for (int t = 0; t < 100 && ret; t++) {   /* the server notices b's close soon */
        ret = st_connect(&st_fx, 0, &c);
        if (ret) {
            st_close(&c);
            usleep(20000);
        }
    }
    ck_assert_int_eq(ret, 0);
    st_close(&c);
    st_close(&a);
}
END_TEST

/* The server holds names to the rules itself (a client may not check): refused, and
 * the rule in the server's log. */
START_TEST(test_bad_names_refused)
{
    static const char *const bad[] = { "a\nb", "x/\x1b[2J", "../up", "a/.b", "a//b", "/abs" };
    struct st_conn c;

    st_session(&st_fx, 0, &c);
    for (size_t i = 0; i < CNIO_ARRAY_LEN(bad); i++) {
        ck_assert_int_eq(st_open(&c, bad[i], CNIO_WIRE_O_CREATE | CNIO_WIRE_O_WRITE, 1, 1 << 20,
                                 0, NULL, NULL), -CNIO_ERR_ACCESS);
        ck_assert_int_eq(st_stat(&c, bad[i], NULL), -CNIO_ERR_ACCESS);
    }
    ck_assert_int_eq(st_open(&c, "fine", CNIO_WIRE_O_CREATE | CNIO_WIRE_O_WRITE, 1, 1 << 20, 0,
                             NULL, NULL), 0);
    st_close(&c);
}
END_TEST

START_TEST(test_unknown_type_and_handle)
{
    struct st_conn c;
    struct cnio_wire_hdr rh;

    st_session(&st_fx, 0, &c);
    ck_assert_int_eq(st_write(&c, 0x5555, 0, "abc", 3), -CNIO_ERR_NOENT);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_SYNC, 0x5555, 0, NULL, 0, &rh, NULL, 0),
                     -CNIO_ERR_NOENT);
    ck_assert_uint_eq(rh.length, 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, 0x5555, 0, NULL, 0, NULL, NULL, 0),
                     -CNIO_ERR_NOENT);
    ping_ok(&c);
    st_close(&c);
}
END_TEST

START_TEST(test_auth_timeout)
{
    struct st_conn c;
    int64_t t0 = cnio__now_ms();

    ck_assert_int_eq(st_connect(&st_fx, 0, &c), 0);
    ck_assert_int_eq(st_closed(c.fd, 15000), 1);
    ck_assert_int_ge(cnio__now_ms() - t0, 9000);
    st_close(&c);
}
END_TEST

static Suite *server_proto_suite(void)
{
    Suite *s = suite_create("server_proto");
    TCase *tc = tcase_create("conversation");
    TCase *slow = tcase_create("timeouts");

    tcase_add_checked_fixture(tc, st_setup, st_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_handshake_ping);
    tcase_add_test(tc, test_server_id);
    tcase_add_test(tc, test_wrong_key);
    tcase_add_test(tc, test_token_for_unknown_handle);
    tcase_add_test(tc, test_request_before_auth);
    tcase_add_test(tc, test_garbage_closes_only_that_connection);
    tcase_add_test(tc, test_malformed_payload_closes);
    tcase_add_test(tc, test_wrong_session);
    tcase_add_test(tc, test_wrong_state_frames);
    tcase_add_test(tc, test_max_conns);
    tcase_add_test(tc, test_unknown_type_and_handle);
    tcase_add_test(tc, test_bad_names_refused);
    suite_add_tcase(s, tc);
    tcase_add_checked_fixture(slow, st_setup, st_teardown);
    tcase_set_timeout(slow, 60);
    tcase_add_test(slow, test_auth_timeout);
    suite_add_tcase(s, slow);
    return s;
}

int main(void)
{
    return fx_run(server_proto_suite());
}
