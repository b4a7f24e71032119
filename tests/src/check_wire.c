/*
 * check_wire.c - the wire protocol: round trips of every header and payload, and a
 * table of frames that must be rejected.
 */
#include "common.h"
#include "wire.h"

#include "fixture.h"
#include <check.h>
#include <stdlib.h>
#include <string.h>

#define R CNIO_WIRE_REPLY
#define CTRL CNIO_WIRE_MAX_CTRL
#define MAXP CNIO_WIRE_MAX_PAYLOAD
#define PROTO (-CNIO_ERR_PROTO)
#define CSUM (-CNIO_ERR_CHECKSUM)

/* Encodes a header with the given fields and decodes it again. */
static int hdr_try(uint16_t type, uint32_t flags, int32_t status, uint32_t length, uint32_t pcrc)
{
    struct cnio_wire_hdr h = {
        .version = CNIO_WIRE_VERSION, .type = type, .flags = flags, .status = status,
        .reqid = 7, .session = 8, .object = 9, .offset = 10, .length = length,
        .payload_crc = pcrc,
    };
    struct cnio_wire_hdr out;
    uint8_t buf[CNIO_WIRE_HDR_SIZE];

    cnio__wire_hdr_encode(&h, buf);
    return cnio__wire_hdr_decode(buf, &out);
}

struct hdr_case {
    uint16_t type;
    uint32_t flags;
    int32_t status;
    uint32_t length;
    int expect;
};

static const struct hdr_case hdr_cases[] = {
    /* accepted */
    { CNIO_WIRE_CHALLENGE, 0, 0, 48, 0 },
    { CNIO_WIRE_CHALLENGE, 0, -CNIO_ERR_LIMIT, 0, 0 },
    { CNIO_WIRE_AUTH, 0, 0, 80, 0 },
    { CNIO_WIRE_AUTH | R, 0, 0, 32, 0 },
    { CNIO_WIRE_AUTH | R, 0, -CNIO_ERR_AUTH, 0, 0 },
    { CNIO_WIRE_PING, 0, 0, 0, 0 },
    { CNIO_WIRE_PING, 0, 0, 100, 0 },
    { CNIO_WIRE_PING | R, 0, 0, CTRL, 0 },
    { CNIO_WIRE_OPEN, 0, 0, 24, 0 },
    { CNIO_WIRE_OPEN, 0, 0, 24 + CNIO_WIRE_MAX_NAME, 0 },
    { CNIO_WIRE_OPEN | R, 0, 0, 48, 0 },
    { CNIO_WIRE_OPEN | R, 0, -CNIO_ERR_NOENT, 0, 0 },
    { CNIO_WIRE_STAT, 0, 0, 30, 0 },
    { CNIO_WIRE_STAT | R, 0, 0, 48, 0 },
    { CNIO_WIRE_SETSIZE, 0, 0, 0, 0 },
    { CNIO_WIRE_SETSIZE | R, 0, 0, 48, 0 },
    { CNIO_WIRE_SYNC, 0, 0, 0, 0 },
    { CNIO_WIRE_SYNC | R, 0, 0, 0, 0 },
    { CNIO_WIRE_SYNC | R, 0, -CNIO_ERR_IO, 0, 0 },
    { CNIO_WIRE_CLOSE, 0, 0, 0, 0 },
    { CNIO_WIRE_CLOSE | R, 0, 0, 0, 0 },
    { CNIO_WIRE_UNLINK, 0, 0, 25, 0 },
    { CNIO_WIRE_UNLINK | R, 0, 0, 0, 0 },
    { CNIO_WIRE_LIST, 0, 0, 24, 0 },
    { CNIO_WIRE_LIST | R, CNIO_WIRE_F_MORE, 0, 1000, 0 },
    { CNIO_WIRE_LIST | R, 0, 0, 0, 0 },
    { CNIO_WIRE_WRITE, 0, 0, 0, 0 },
    { CNIO_WIRE_WRITE, 0, 0, MAXP, 0 },
    { CNIO_WIRE_WRITE | R, 0, 0, 0, 0 },
    { CNIO_WIRE_WRITE | R, 0, -CNIO_ERR_NOSPC, 0, 0 },
    { CNIO_WIRE_READ, 0, 0, 8, 0 },
    { CNIO_WIRE_READ | R, 0, 0, MAXP, 0 },
    { CNIO_WIRE_READ | R, 0, 0, 0, 0 },
    /* wrong sizes */
    { CNIO_WIRE_CHALLENGE, 0, 0, 47, PROTO },
    { CNIO_WIRE_CHALLENGE, 0, 0, 49, PROTO },
    { CNIO_WIRE_CHALLENGE, 0, -CNIO_ERR_LIMIT, 48, PROTO },
    { CNIO_WIRE_AUTH, 0, 0, 79, PROTO },
    { CNIO_WIRE_AUTH, 0, 0, 81, PROTO },
    { CNIO_WIRE_AUTH | R, 0, 0, 31, PROTO },
    { CNIO_WIRE_AUTH | R, 0, -CNIO_ERR_AUTH, 32, PROTO },
    { CNIO_WIRE_PING, 0, 0, CTRL + 1, PROTO },
    { CNIO_WIRE_OPEN, 0, 0, 23, PROTO },
    { CNIO_WIRE_OPEN, 0, 0, CTRL + 1, PROTO },
    { CNIO_WIRE_OPEN | R, 0, 0, 47, PROTO },
    { CNIO_WIRE_OPEN | R, 0, 0, 0, PROTO },
    { CNIO_WIRE_STAT, 0, 0, 0, PROTO },
    { CNIO_WIRE_STAT | R, 0, 0, 49, PROTO },
    { CNIO_WIRE_SETSIZE, 0, 0, 8, PROTO },
    { CNIO_WIRE_SETSIZE | R, 0, 0, 0, PROTO },
    { CNIO_WIRE_SYNC, 0, 0, 1, PROTO },
    { CNIO_WIRE_SYNC | R, 0, 0, 48, PROTO },
    { CNIO_WIRE_CLOSE, 0, 0, 1, PROTO },
    { CNIO_WIRE_CLOSE | R, 0, 0, 1, PROTO },
    { CNIO_WIRE_UNLINK, 0, 0, 10, PROTO },
    { CNIO_WIRE_UNLINK | R, 0, 0, 1, PROTO },
    { CNIO_WIRE_LIST, 0, 0, 0, PROTO },
    { CNIO_WIRE_LIST | R, 0, 0, CTRL + 1, PROTO },
    { CNIO_WIRE_WRITE, 0, 0, MAXP + 1, PROTO },
    { CNIO_WIRE_WRITE, 0, 0, 0xffffffffu, PROTO },
    { CNIO_WIRE_WRITE | R, 0, 0, 1, PROTO },
    { CNIO_WIRE_READ, 0, 0, 0, PROTO },
    { CNIO_WIRE_READ, 0, 0, 16, PROTO },
    { CNIO_WIRE_READ | R, 0, 0, MAXP + 1, PROTO },
    { CNIO_WIRE_READ | R, 0, -CNIO_ERR_IO, 10, PROTO },
    /* unknown types */
    { 0, 0, 0, 0, PROTO },
    { 4, 0, 0, 0, PROTO },
    { 15, 0, 0, 0, PROTO },
    { 36, 0, 0, 0, PROTO },
    /* BUDGET: no payload either way */
    { CNIO_WIRE_BUDGET, 0, 0, 0, 0 },
    { CNIO_WIRE_BUDGET, 0, 0, 8, PROTO },
    { CNIO_WIRE_BUDGET | R, 0, 0, 0, 0 },
    { CNIO_WIRE_BUDGET | R, 0, 0, 1, PROTO },
    /* FABRIC: a provider name (or none) asked, at least its 4-byte head answered */
    { CNIO_WIRE_FABRIC, 0, 0, 0, 0 },
    { CNIO_WIRE_FABRIC, 0, 0, 11, 0 },
    { CNIO_WIRE_FABRIC | R, 0, 0, 20, 0 },
    { CNIO_WIRE_FABRIC | R, 0, 0, 5, PROTO },
    /* commit semantics: sizes */
    { CNIO_WIRE_COMMIT, 0, 0, 0, 0 },
    { CNIO_WIRE_COMMIT, 0, 0, 1, PROTO },
    { CNIO_WIRE_ABORT, 0, 0, 0, 0 },
    { CNIO_WIRE_ABORT | R, 0, 0, 8, PROTO },
    { CNIO_WIRE_PREPARE, 0, 0, 0, 0 },
    { CNIO_WIRE_PREPARE, 0, 0, 1, PROTO },
    { CNIO_WIRE_PREPARE, CNIO_WIRE_F_GONE, 0, 0, PROTO },
    { CNIO_WIRE_PREPARE | R, 0, 0, 0, 0 },
    { CNIO_WIRE_PREPARE | R, 0, 0, 8, PROTO },
    /* FINISH: a name (an OPEN block) asked, nothing answered */
    { CNIO_WIRE_FINISH, 0, 0, CNIO_WIRE_OPEN_FIXED + 1, 0 },
    { CNIO_WIRE_FINISH, 0, 0, CNIO_WIRE_OPEN_FIXED - 1, PROTO },
    { CNIO_WIRE_FINISH, CNIO_WIRE_F_LIVE, 0, CNIO_WIRE_OPEN_FIXED + 1, PROTO },
    /* F_INPLACE: on STAT and LIST requests alone */
    { CNIO_WIRE_STAT, CNIO_WIRE_F_INPLACE, 0, CNIO_WIRE_OPEN_FIXED + 1, 0 },
    { CNIO_WIRE_STAT, CNIO_WIRE_F_INPLACE | CNIO_WIRE_F_LIVE, 0, CNIO_WIRE_OPEN_FIXED + 1, 0 },
    { CNIO_WIRE_LIST, CNIO_WIRE_F_INPLACE, 0, CNIO_WIRE_OPEN_FIXED, 0 },
    { CNIO_WIRE_LIST, CNIO_WIRE_F_LIVE, 0, CNIO_WIRE_OPEN_FIXED, PROTO },
    { CNIO_WIRE_OPEN, CNIO_WIRE_F_INPLACE, 0, CNIO_WIRE_OPEN_FIXED + 1, PROTO },
    { CNIO_WIRE_STAT | R, CNIO_WIRE_F_INPLACE, 0, CNIO_WIRE_INFO_SIZE, PROTO },
    { CNIO_WIRE_LIST | R, CNIO_WIRE_F_INPLACE, 0, 0, PROTO },
    { CNIO_WIRE_FINISH | R, 0, 0, 0, 0 },
    { CNIO_WIRE_FINISH | R, 0, 0, 8, PROTO },
    { CNIO_WIRE_CRC, 0, 0, 8, 0 },
    { CNIO_WIRE_CRC, 0, 0, 16, PROTO },
    { CNIO_WIRE_CRC | R, 0, 0, CNIO_WIRE_CRC_SIZE, 0 },
    { CNIO_WIRE_CRC | R, 0, 0, 8, PROTO },
    { CNIO_WIRE_CRC | R, 0, -CNIO_ERR_IO, 0, 0 },
    { 0x7fff, 0, 0, 0, PROTO },
    { R, 0, 0, 0, PROTO },
    { 0x4000 | CNIO_WIRE_PING, 0, 0, 0, PROTO },
    { 0xffff, 0, 0, 0, PROTO },
    /* unknown flags */
    { CNIO_WIRE_PING, 1, 0, 0, PROTO },
    { CNIO_WIRE_LIST, CNIO_WIRE_F_MORE, 0, 24, PROTO },
    { CNIO_WIRE_LIST | R, 2, 0, 0, PROTO },
    { CNIO_WIRE_WRITE, 0x80000000u, 0, 0, PROTO },
    /* reasons: an AUTH asks for them; an error reply carries one (1..256 bytes) */
    { CNIO_WIRE_AUTH, CNIO_WIRE_F_REASON, 0, CNIO_WIRE_AUTH_SIZE, 0 },
    { CNIO_WIRE_PING, CNIO_WIRE_F_REASON, 0, 0, PROTO },
    { CNIO_WIRE_OPEN | R, CNIO_WIRE_F_REASON, -CNIO_ERR_ACCESS, 40, 0 },
    { CNIO_WIRE_WRITE | R, CNIO_WIRE_F_REASON, -CNIO_ERR_ACCESS, CNIO_WIRE_MAX_REASON, 0 },
    { CNIO_WIRE_OPEN | R, CNIO_WIRE_F_REASON, -CNIO_ERR_ACCESS, 0, PROTO },
    { CNIO_WIRE_OPEN | R, CNIO_WIRE_F_REASON, -CNIO_ERR_ACCESS, CNIO_WIRE_MAX_REASON + 1, PROTO },
    { CNIO_WIRE_OPEN | R, 0, -CNIO_ERR_ACCESS, 40, PROTO },
    { CNIO_WIRE_OPEN | R, CNIO_WIRE_F_REASON, 0, CNIO_WIRE_INFO_SIZE, PROTO },
    { CNIO_WIRE_LIST | R, CNIO_WIRE_F_MORE, -CNIO_ERR_IO, 0, PROTO },
    /* status on requests, and out of range */
    { CNIO_WIRE_PING, 0, -CNIO_ERR_IO, 0, PROTO },
    { CNIO_WIRE_WRITE, 0, -CNIO_ERR_IO, 0, PROTO },
    { CNIO_WIRE_PING | R, 0, 1, 0, PROTO },
    { CNIO_WIRE_PING | R, 0, -CNIO_ERR_MAX_, 0, PROTO },
    { CNIO_WIRE_PING | R, 0, INT32_MIN, 0, PROTO },
};

START_TEST(test_hdr_table)
{
    const struct hdr_case *c = &hdr_cases[_i];
    uint32_t pcrc = c->length ? 0xdeadbeefu : 0;

    ck_assert_msg(hdr_try(c->type, c->flags, c->status, c->length, pcrc) == c->expect,
                  "case %d: type %#x flags %#x status %d length %u: expected %d", _i,
                  c->type, c->flags, c->status, c->length, c->expect);
}
END_TEST

START_TEST(test_hdr_round_trip)
{
    struct cnio_wire_hdr h = {
        .type = CNIO_WIRE_LIST | R, .flags = CNIO_WIRE_F_MORE, .status = 0,
        .reqid = 0x0102030405060708ull, .session = 0xfffffffffffffffeull,
        .object = 0x8000000000000001ull, .offset = 0x1122334455667788ull,
        .length = 4000, .payload_crc = 0xcafef00du,
    };
    struct cnio_wire_hdr out;
    uint8_t buf[CNIO_WIRE_HDR_SIZE];

    cnio__wire_hdr_encode(&h, buf);
    ck_assert_int_eq(cnio__get_le32(buf), CNIO_WIRE_MAGIC);
    ck_assert_int_eq(memcmp(buf, "CNIO", 4), 0);
    ck_assert_int_eq(cnio__get_le32(buf + 60), cnio__crc32c(0, buf, 60));
    ck_assert_int_eq(cnio__wire_hdr_decode(buf, &out), 0);
    ck_assert_uint_eq(out.version, CNIO_WIRE_VERSION);
    ck_assert_uint_eq(out.type, h.type);
    ck_assert_uint_eq(out.flags, h.flags);
    ck_assert_int_eq(out.status, h.status);
    ck_assert_uint_eq(out.reqid, h.reqid);
    ck_assert_uint_eq(out.session, h.session);
    ck_assert_uint_eq(out.object, h.object);
    ck_assert_uint_eq(out.offset, h.offset);
    ck_assert_uint_eq(out.length, h.length);
    ck_assert_uint_eq(out.payload_crc, h.payload_crc);

    h.type = CNIO_WIRE_OPEN | R;
    h.flags = 0;
    h.status = -CNIO_ERR_EXIST;
    h.length = 0;
    h.payload_crc = 0;
    cnio__wire_hdr_encode(&h, buf);
    ck_assert_int_eq(cnio__wire_hdr_decode(buf, &out), 0);
    ck_assert_int_eq(out.status, -CNIO_ERR_EXIST);
}
END_TEST

/* A valid encoded PING header with a payload of 5 bytes. */
static void hdr_valid(uint8_t buf[CNIO_WIRE_HDR_SIZE])
{
    struct cnio_wire_hdr h = {
        .version = CNIO_WIRE_VERSION, .type = CNIO_WIRE_PING, .reqid = 1, .length = 5,
        .payload_crc = cnio__crc32c(0, "hello", 5),
    };

    cnio__wire_hdr_encode(&h, buf);
}

static void hdr_recrc(uint8_t buf[CNIO_WIRE_HDR_SIZE])
{
    cnio__put_le32(buf + 60, cnio__crc32c(0, buf, 60));
}

START_TEST(test_hdr_bytes)
{
    uint8_t buf[CNIO_WIRE_HDR_SIZE];
    struct cnio_wire_hdr h;

    hdr_valid(buf);
    ck_assert_int_eq(cnio__wire_hdr_decode(buf, &h), 0);
    buf[0] = 'X';                                 /* bad magic */
    hdr_recrc(buf);
    ck_assert_int_eq(cnio__wire_hdr_decode(buf, &h), PROTO);
    hdr_valid(buf);
    cnio__put_le16(buf + 4, CNIO_WIRE_VERSION + 1); /* bad version */
    hdr_recrc(buf);
    ck_assert_int_eq(cnio__wire_hdr_decode(buf, &h), PROTO);
    hdr_valid(buf);
    cnio__put_le16(buf + 4, 0);
    hdr_recrc(buf);
    ck_assert_int_eq(cnio__wire_hdr_decode(buf, &h), PROTO);
    hdr_valid(buf);
    buf[57] = 1;                                  /* nonzero reserved */
    hdr_recrc(buf);
    ck_assert_int_eq(cnio__wire_hdr_decode(buf, &h), PROTO);
    hdr_valid(buf);
    buf[63] ^= 0x80;                              /* bad header crc */
    ck_assert_int_eq(cnio__wire_hdr_decode(buf, &h), CSUM);
    ck_assert_int_eq(hdr_try(CNIO_WIRE_PING, 0, 0, 0, 1), PROTO); /* crc without payload */
    ck_assert_int_eq(hdr_try(CNIO_WIRE_SYNC | R, 0, -CNIO_ERR_IO, 0, 1), PROTO);
}
END_TEST

/* Every single-bit error in a header is caught, by the CRC or by a field check. */
START_TEST(test_hdr_bit_flips)
{
    uint8_t buf[CNIO_WIRE_HDR_SIZE];
    struct cnio_wire_hdr h;

    for (int bit = 0; bit < CNIO_WIRE_HDR_SIZE * 8; bit++) {
        hdr_valid(buf);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        ck_assert_msg(cnio__wire_hdr_decode(buf, &h) < 0, "bit %d flip accepted", bit);
    }
}
END_TEST

START_TEST(test_payload_check)
{
    uint8_t data[1000];
    struct cnio_wire_hdr h = { .type = CNIO_WIRE_WRITE, .length = sizeof(data) };

    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7);
    h.payload_crc = cnio__crc32c(0, data, sizeof(data));
    ck_assert_int_eq(cnio__wire_payload_check(&h, data), 0);
    data[500] ^= 4;
    ck_assert_int_eq(cnio__wire_payload_check(&h, data), CSUM);
    h.length = 0;
    h.payload_crc = 0;
    ck_assert_int_eq(cnio__wire_payload_check(&h, NULL), 0);
    h.payload_crc = 5;
    ck_assert_int_eq(cnio__wire_payload_check(&h, NULL), CSUM);
}
END_TEST

START_TEST(test_challenge_auth_round_trip)
{
    struct cnio_wire_challenge c = { .caps = 3, .max_payload = 1u << 20, .credits = 32 }, c2;
    struct cnio_wire_auth a = { .mode = CNIO_WIRE_AUTH_TOKEN, .rank = 3, .object = 1ull << 60 }, a2;
    uint8_t buf[128];

    for (int i = 0; i < CNIO_WIRE_NONCE; i++)
        c.nonce[i] = a.nonce[i] = (uint8_t)(i + 1);
    for (int i = 0; i < CNIO_WIRE_MAC; i++)
        a.mac[i] = (uint8_t)(0xff - i);
    ck_assert_int_eq(cnio__wire_challenge_encode(&c, buf, sizeof(buf)), CNIO_WIRE_CHALLENGE_SIZE);
    ck_assert_int_eq(cnio__wire_challenge_parse(buf, CNIO_WIRE_CHALLENGE_SIZE, &c2), 0);
    ck_assert_uint_eq(c2.caps, 3);
    ck_assert_uint_eq(c2.max_payload, 1u << 20);
    ck_assert_uint_eq(c2.credits, 32);
    ck_assert_int_eq(memcmp(c2.nonce, c.nonce, CNIO_WIRE_NONCE), 0);
    ck_assert_int_eq(cnio__wire_challenge_encode(&c, buf, 47), -CNIO_ERR_INVAL);
    c.credits = 0;
    ck_assert_int_eq(cnio__wire_challenge_encode(&c, buf, sizeof(buf)), -CNIO_ERR_INVAL);

    ck_assert_int_eq(cnio__wire_auth_encode(&a, buf, sizeof(buf)), CNIO_WIRE_AUTH_SIZE);
    ck_assert_int_eq(cnio__wire_auth_parse(buf, CNIO_WIRE_AUTH_SIZE, &a2), 0);
    ck_assert_uint_eq(a2.mode, a.mode);
    ck_assert_uint_eq(a2.rank, 3);
    ck_assert_uint_eq(a2.object, 1ull << 60);
    ck_assert_int_eq(memcmp(a2.nonce, a.nonce, CNIO_WIRE_NONCE), 0);
    ck_assert_int_eq(memcmp(a2.mac, a.mac, CNIO_WIRE_MAC), 0);
    ck_assert_int_eq(cnio__wire_auth_encode(&a, buf, 79), -CNIO_ERR_INVAL);
    a.mode = 7;
    ck_assert_int_eq(cnio__wire_auth_encode(&a, buf, sizeof(buf)), -CNIO_ERR_INVAL);
}
END_TEST

/* CRC replies: round trip, and every malformed form refused. */
START_TEST(test_fabric_round_trip)
{
    static const uint8_t addr[16] = { 2, 0, 0x1d, 0x1f, 127, 0, 0, 1 };
    struct cnio_wire_fabric f = { .prov_len = 11, .prov = "tcp;ofi_rxm", .addr_len = 16,
                                  .addr = addr }, g;
    uint8_t buf[4 + CNIO_WIRE_MAX_PROV + CNIO_WIRE_MAX_FABADDR + 1];
    int n = cnio__wire_fabric_encode(&f, buf, sizeof(buf));

    ck_assert_int_eq(n, 4 + 11 + 16);
    ck_assert_int_eq(cnio__wire_fabric_parse(buf, (size_t)n, &g), 0);
    ck_assert_uint_eq(g.prov_len, 11);
    ck_assert_int_eq(memcmp(g.prov, "tcp;ofi_rxm", 11), 0);
    ck_assert_uint_eq(g.addr_len, 16);
    ck_assert_int_eq(memcmp(g.addr, addr, 16), 0);
    /* every shorter or longer buffer, a control byte in the name, zero lengths */
    for (int len = 0; len < n; len++)
        ck_assert_int_eq(cnio__wire_fabric_parse(buf, (size_t)len, &g), -CNIO_ERR_PROTO);
    ck_assert_int_eq(cnio__wire_fabric_parse(buf, (size_t)n + 1, &g), -CNIO_ERR_PROTO);
    buf[6] = '\n';
    ck_assert_int_eq(cnio__wire_fabric_parse(buf, (size_t)n, &g), -CNIO_ERR_PROTO);
    buf[6] = 'p';
    cnio__put_le16(buf, 0);
    ck_assert_int_eq(cnio__wire_fabric_parse(buf, (size_t)n, &g), -CNIO_ERR_PROTO);
    cnio__put_le16(buf, 11);
    cnio__put_le16(buf + 2, CNIO_WIRE_MAX_FABADDR + 1);
    ck_assert_int_eq(cnio__wire_fabric_parse(buf, (size_t)n, &g), -CNIO_ERR_PROTO);
    /* the encoder refuses what the parser would */
    f.addr_len = CNIO_WIRE_MAX_FABADDR + 1;
    ck_assert_int_eq(cnio__wire_fabric_encode(&f, buf, sizeof(buf)), -CNIO_ERR_INVAL);
    f.addr_len = 16;
    ck_assert_int_eq(cnio__wire_fabric_encode(&f, buf, 20), -CNIO_ERR_INVAL);
}
END_TEST

START_TEST(test_crc_round_trip)
{
    struct cnio_wire_crc c = { 12345, 0xdeadbeefu }, c2;
    uint8_t buf[CNIO_WIRE_CRC_SIZE + 1];

    ck_assert_int_eq(cnio__wire_crc_encode(&c, buf, sizeof(buf)), CNIO_WIRE_CRC_SIZE);
    ck_assert_int_eq(cnio__wire_crc_parse(buf, CNIO_WIRE_CRC_SIZE, &c2), 0);
    ck_assert_uint_eq(c2.covered, 12345);
    ck_assert_uint_eq(c2.crc, 0xdeadbeefu);
    ck_assert_int_eq(cnio__wire_crc_parse(buf, CNIO_WIRE_CRC_SIZE - 1, &c2), PROTO);
    ck_assert_int_eq(cnio__wire_crc_parse(buf, CNIO_WIRE_CRC_SIZE + 1, &c2), PROTO);
    ck_assert_int_eq(cnio__wire_crc_parse(NULL, CNIO_WIRE_CRC_SIZE, &c2), PROTO);
    buf[12] = 1;   /* reserved */
    ck_assert_int_eq(cnio__wire_crc_parse(buf, CNIO_WIRE_CRC_SIZE, &c2), PROTO);
    buf[12] = 0;
    cnio__put_le64(buf, (uint64_t)CNIO_WIRE_MAX_PAYLOAD + 1);   /* more than one READ */
    ck_assert_int_eq(cnio__wire_crc_parse(buf, CNIO_WIRE_CRC_SIZE, &c2), PROTO);
    c.covered = (uint64_t)CNIO_WIRE_MAX_PAYLOAD + 1;
    ck_assert_int_eq(cnio__wire_crc_encode(&c, buf, sizeof(buf)), -CNIO_ERR_INVAL);
    ck_assert_int_eq(cnio__wire_crc_encode(&c2, buf, CNIO_WIRE_CRC_SIZE - 1), -CNIO_ERR_INVAL);
}
END_TEST

START_TEST(test_open_round_trip)
{
    static char longname[CNIO_WIRE_MAX_NAME];
    struct cnio_wire_open o = {
        .flags = CNIO_WIRE_O_CREATE | CNIO_WIRE_O_WRITE, .stripe_count = 4,
        .stripe_unit = 1u << 20, .stripe_index = 3, .name_len = 11, .name = "run7/out.h5",
    }, o2;
    uint8_t buf[CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME];
    int n;

    n = cnio__wire_open_encode(&o, buf, sizeof(buf));
    ck_assert_int_eq(n, CNIO_WIRE_OPEN_FIXED + 11);
    ck_assert_int_eq(cnio__wire_open_parse(buf, (size_t)n, 0, &o2), 0);
    ck_assert_uint_eq(o2.flags, o.flags);
    ck_assert_uint_eq(o2.stripe_count, 4);
    ck_assert_uint_eq(o2.stripe_unit, 1u << 20);
    ck_assert_uint_eq(o2.stripe_index, 3);
    ck_assert_uint_eq(o2.name_len, 11);
    ck_assert_int_eq(memcmp(o2.name, "run7/out.h5", 11), 0);
    ck_assert_ptr_eq(o2.name, (const char *)buf + CNIO_WIRE_OPEN_FIXED);

    memset(longname, 'a', sizeof(longname));
    o.name = longname;
    o.name_len = CNIO_WIRE_MAX_NAME;
    n = cnio__wire_open_encode(&o, buf, sizeof(buf));
    ck_assert_int_eq(n, (int)sizeof(buf));
    ck_assert_int_eq(cnio__wire_open_parse(buf, (size_t)n, 0, &o2), 0);
    ck_assert_int_eq(cnio__wire_open_encode(&o, buf, sizeof(buf) - 1), -CNIO_ERR_INVAL);
    o.name_len = CNIO_WIRE_MAX_NAME + 1;
    ck_assert_int_eq(cnio__wire_open_encode(&o, buf, sizeof(buf)), -CNIO_ERR_INVAL);

    o = (struct cnio_wire_open){ .name_len = 0, .name = NULL };
    n = cnio__wire_open_encode(&o, buf, sizeof(buf));
    ck_assert_int_eq(n, CNIO_WIRE_OPEN_FIXED);
    ck_assert_int_eq(cnio__wire_open_parse(buf, (size_t)n, 1, &o2), 0);
    ck_assert_uint_eq(o2.name_len, 0);
    ck_assert_int_eq(cnio__wire_open_parse(buf, (size_t)n, 0, &o2), PROTO);
    o = (struct cnio_wire_open){ .name_len = 3, .name = "a\0b" };
    ck_assert_int_eq(cnio__wire_open_encode(&o, buf, sizeof(buf)), -CNIO_ERR_INVAL);
    o = (struct cnio_wire_open){ .flags = 0x80, .name_len = 1, .name = "a" };
    ck_assert_int_eq(cnio__wire_open_encode(&o, buf, sizeof(buf)), -CNIO_ERR_INVAL);
}
END_TEST

START_TEST(test_open_too_long_name)
{
    uint8_t buf[CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME + 1];
    struct cnio_wire_open o;

    memset(buf, 0, CNIO_WIRE_OPEN_FIXED);
    memset(buf + CNIO_WIRE_OPEN_FIXED, 'x', CNIO_WIRE_MAX_NAME + 1);
    cnio__put_le32(buf + 20, CNIO_WIRE_MAX_NAME + 1);
    ck_assert_int_eq(cnio__wire_open_parse(buf, sizeof(buf), 0, &o), PROTO);
    ck_assert_int_eq(cnio__wire_open_parse(buf, sizeof(buf), 1, &o), PROTO);
    cnio__put_le32(buf + 20, CNIO_WIRE_MAX_NAME);
    ck_assert_int_eq(cnio__wire_open_parse(buf, sizeof(buf) - 1, 0, &o), 0);
}
END_TEST

static const struct cnio_wire_info info_sample = {
    .stripe_unit = 4u << 20, .stripe_count = 3, .stripe_index = 2, .size = 1ull << 40,
    .local_size = 12345, .flags = CNIO_WIRE_I_CREATED, .mtime_ns = 1700000000123456789ull,
};

static void info_assert_eq(const struct cnio_wire_info *a, const struct cnio_wire_info *b)
{
    ck_assert_uint_eq(a->stripe_unit, b->stripe_unit);
    ck_assert_uint_eq(a->stripe_count, b->stripe_count);
    ck_assert_uint_eq(a->stripe_index, b->stripe_index);
    ck_assert_uint_eq(a->size, b->size);
    ck_assert_uint_eq(a->local_size, b->local_size);
    ck_assert_uint_eq(a->flags, b->flags);
    ck_assert_int_eq(a->mtime_ns, b->mtime_ns);
}

START_TEST(test_info_u64_round_trip)
{
    struct cnio_wire_info i2, bad = info_sample;
    uint8_t buf[64];
    uint64_t v;

    ck_assert_int_eq(cnio__wire_info_encode(&info_sample, buf, sizeof(buf)), CNIO_WIRE_INFO_SIZE);
    ck_assert_int_eq(cnio__wire_info_parse(buf, CNIO_WIRE_INFO_SIZE, &i2), 0);
    info_assert_eq(&i2, &info_sample);
    ck_assert_int_eq(cnio__wire_info_encode(&info_sample, buf, 47), -CNIO_ERR_INVAL);
    bad.stripe_index = 3;
    ck_assert_int_eq(cnio__wire_info_encode(&bad, buf, sizeof(buf)), -CNIO_ERR_INVAL);

    ck_assert_int_eq(cnio__wire_u64_encode(0xfedcba9876543210ull, buf, sizeof(buf)), 8);
    ck_assert_int_eq(cnio__wire_u64_parse(buf, 8, &v), 0);
    ck_assert_uint_eq(v, 0xfedcba9876543210ull);
    ck_assert_int_eq(cnio__wire_u64_encode(1, buf, 7), -CNIO_ERR_INVAL);
}
END_TEST

/* A block's update count, told back from its gen and the object's generation: what a
 * reader names hosts apart by updates in place with. */
START_TEST(test_gen_updates)
{
    static const uint64_t gens[] = { 1, 0x9e3779b9ull, 0x123456789abcdefull, ~0ull };
    uint32_t u;

    for (size_t k = 0; k < sizeof(gens) / sizeof(gens[0]); k++)
        for (uint32_t n = 0; n <= 0xffffu; n += n < 4 ? 1 : 4099) {
            u = 0xdead;
            ck_assert_int_eq(cnio__wire_gen_updates(cnio__wire_gen(gens[k], n), gens[k], &u), 0);
            ck_assert_uint_eq(u, n);
        }
    ck_assert_int_eq(cnio__wire_gen_updates(cnio__wire_gen(7, 3), 0, &u), -1);
    ck_assert_int_eq(cnio__wire_gen_updates(cnio__wire_gen(7, 3), 8, &u), -1);
    ck_assert_int_eq(cnio__wire_gen_updates(0, 7, &u), -1);
}
END_TEST

/* An mtime before 1970 is negative ns, two's complement on the wire, and comes back as
 * the timespec utimensat wants (tv_nsec in [0, 1e9)). */
START_TEST(test_info_mtime_before_1970)
{
    struct cnio_wire_info i = info_sample, i2;
    struct timespec ts = { .tv_sec = -302443200, .tv_nsec = 123456789 }, back;
    uint8_t buf[CNIO_WIRE_INFO_SIZE];

    i.mtime_ns = cnio__ns_of_ts(&ts);
    ck_assert_int_eq(i.mtime_ns, -302443199876543211ll);
    ck_assert_int_eq(cnio__wire_info_encode(&i, buf, sizeof(buf)), CNIO_WIRE_INFO_SIZE);
    ck_assert_uint_eq(cnio__get_le64(buf + 40), (uint64_t)-302443199876543211ll);
    ck_assert_int_eq(cnio__wire_info_parse(buf, sizeof(buf), &i2), 0);
    info_assert_eq(&i2, &i);
    back = cnio__ts_of_ns(i2.mtime_ns);
    ck_assert_int_eq(back.tv_sec, ts.tv_sec);
    ck_assert_int_eq(back.tv_nsec, ts.tv_nsec);
    back = cnio__ts_of_ns(-1);
    ck_assert_int_eq(back.tv_sec, -1);
    ck_assert_int_eq(back.tv_nsec, 999999999);
    back = cnio__ts_of_ns(-1000000000);
    ck_assert_int_eq(back.tv_sec, -1);
    ck_assert_int_eq(back.tv_nsec, 0);
    ts.tv_sec = (time_t)1 << 40;
    ck_assert_int_eq(cnio__ns_of_ts(&ts), INT64_MAX);
    ts.tv_sec = -ts.tv_sec;
    ck_assert_int_eq(cnio__ns_of_ts(&ts), INT64_MIN);
}
END_TEST

START_TEST(test_entries_round_trip)
{
    static const char *const names[] = { "a", "dir", "run7/out.h5", "x y z" };
    static char longname[CNIO_WIRE_MAX_NAME];
    uint8_t buf[4096];
    struct cnio_wire_entry e = { .info = info_sample };
    size_t len = 0, pos = 0;
    int n;

    for (size_t k = 0; k < CNIO_ARRAY_LEN(names); k++) {
        e.name = names[k];
        e.name_len = (uint32_t)strlen(names[k]);
        e.info.local_size = k;
        n = cnio__wire_entry_encode(&e, buf + len, sizeof(buf) - len);
        ck_assert_int_eq(n, CNIO_WIRE_ENTRY_FIXED + (int)e.name_len);
        len += (size_t)n;
    }
    memset(longname, 'q', sizeof(longname));
    e.name = longname;
    e.name_len = CNIO_WIRE_MAX_NAME;
    e.info.flags = CNIO_WIRE_I_DIR;
    n = cnio__wire_entry_encode(&e, buf + len, sizeof(buf) - len);
    ck_assert_int_eq(n, CNIO_WIRE_ENTRY_FIXED + CNIO_WIRE_MAX_NAME);
    len += (size_t)n;

    for (size_t k = 0; k < CNIO_ARRAY_LEN(names); k++) {
        ck_assert_int_eq(cnio__wire_entry_next(buf, len, &pos, &e), 1);
        ck_assert_uint_eq(e.name_len, strlen(names[k]));
        ck_assert_int_eq(memcmp(e.name, names[k], e.name_len), 0);
        ck_assert_uint_eq(e.info.local_size, k);
        ck_assert_uint_eq(e.info.stripe_unit, info_sample.stripe_unit);
    }
    ck_assert_int_eq(cnio__wire_entry_next(buf, len, &pos, &e), 1);
    ck_assert_uint_eq(e.name_len, CNIO_WIRE_MAX_NAME);
    ck_assert_uint_eq(e.info.flags, CNIO_WIRE_I_DIR);
    ck_assert_int_eq(cnio__wire_entry_next(buf, len, &pos, &e), 0);
    ck_assert_uint_eq(pos, len);
    pos = 0;
    ck_assert_int_eq(cnio__wire_entry_next(buf, 0, &pos, &e), 0);

    e.name = "";
    e.name_len = 0;
    ck_assert_int_eq(cnio__wire_entry_encode(&e, buf, sizeof(buf)), -CNIO_ERR_INVAL);
    e.name = "abc";
    e.name_len = 3;
    ck_assert_int_eq(cnio__wire_entry_encode(&e, buf, CNIO_WIRE_ENTRY_FIXED + 2), -CNIO_ERR_INVAL);
}
END_TEST

/*
 * Malformed payloads: a valid sample of the kind is encoded, then cut by `cut` bytes
 * (negative: extended by zero bytes) and, when width != 0, a little-endian field of
 * `width` bytes at `off` is overwritten with val.
 */
enum { PK_CHALLENGE, PK_AUTH, PK_OPEN, PK_LIST, PK_INFO, PK_ENTRIES, PK_U64 };

struct pcase {
    const char *what;
    int kind;
    int cut;
    size_t off;
    int width;
    uint64_t val;
};

/* The OPEN sample is "dir/obj" with stripe_count 4; entries are "one", "two". */
static const struct pcase payload_cases[] = {
    { "challenge truncated", PK_CHALLENGE, 1, 0, 0, 0 },
    { "challenge too long", PK_CHALLENGE, -1, 0, 0, 0 },
    { "challenge empty", PK_CHALLENGE, 48, 0, 0, 0 },
    { "challenge reserved", PK_CHALLENGE, 0, 12, 4, 1 },
    { "challenge no credits", PK_CHALLENGE, 0, 8, 4, 0 },
    { "challenge max_payload 0", PK_CHALLENGE, 0, 4, 4, 0 },
    { "challenge max_payload too big", PK_CHALLENGE, 0, 4, 4, MAXP + 1 },
    { "auth truncated", PK_AUTH, 1, 0, 0, 0 },
    { "auth too long", PK_AUTH, -1, 0, 0, 0 },
    { "auth mode 0", PK_AUTH, 0, 0, 4, 0 },
    { "auth mode 3", PK_AUTH, 0, 0, 4, 3 },
    { "open fixed part truncated", PK_OPEN, 8, 0, 0, 0 },
    { "open name truncated", PK_OPEN, 1, 0, 0, 0 },
    { "open trailing bytes", PK_OPEN, -1, 0, 0, 0 },
    { "open name_len past buffer", PK_OPEN, 0, 20, 4, 1000 },
    { "open name_len huge", PK_OPEN, 0, 20, 4, 0xffffffffu },
    { "open name_len short", PK_OPEN, 0, 20, 4, 6 },
    { "open name with NUL", PK_OPEN, 0, 27, 1, 0 },
    { "open name ends with NUL", PK_OPEN, 0, 30, 1, 0 },
    { "open empty name", PK_OPEN, 7, 20, 4, 0 },
    { "open unknown flags", PK_OPEN, 0, 0, 4, 0x80 },
    { "open high flag", PK_OPEN, 0, 0, 4, 0x80000000u },
    { "open stripe_index == count", PK_OPEN, 0, 16, 4, 4 },
    { "open stripe_index > count", PK_OPEN, 0, 16, 4, 0xffffffffu },
    { "list name with NUL", PK_LIST, 0, 24, 1, 0 },
    { "list truncated", PK_LIST, 1, 0, 0, 0 },
    { "list fixed part truncated", PK_LIST, 10, 0, 0, 0 },
    { "info truncated", PK_INFO, 1, 0, 0, 0 },
    { "info too long", PK_INFO, -1, 0, 0, 0 },
    { "info unknown flags", PK_INFO, 0, 32, 4, 0x400 },
    { "info stripe_index >= count", PK_INFO, 0, 12, 4, 3 },
    { "entries: last name truncated", PK_ENTRIES, 1, 0, 0, 0 },
    { "entries: last fixed part truncated", PK_ENTRIES, 4, 0, 0, 0 },
    { "entries: partial second entry", PK_ENTRIES, 59 - 10, 0, 0, 0 },
    { "entries: trailing byte", PK_ENTRIES, -1, 0, 0, 0 },
    { "entries: name_len 0", PK_ENTRIES, 0, 48, 4, 0 },
    { "entries: name_len past buffer", PK_ENTRIES, 0, 59 + 48, 4, 4 },
    { "entries: name_len huge", PK_ENTRIES, 0, 48, 4, 0xfffffff0u },
    { "entries: name_len too long", PK_ENTRIES, 0, 48, 4, CNIO_WIRE_MAX_NAME + 1 },
    { "entries: reserved", PK_ENTRIES, 0, 52, 4, 1 },
    { "entries: NUL in name", PK_ENTRIES, 0, 57, 1, 0 },
    { "entries: info stripe_index", PK_ENTRIES, 0, 12, 4, 7 },
    { "u64 truncated", PK_U64, 1, 0, 0, 0 },
    { "u64 too long", PK_U64, -1, 0, 0, 0 },
};

static size_t sample_encode(int kind, uint8_t *buf, size_t cap)
{
    struct cnio_wire_challenge c = { .max_payload = 1u << 20, .credits = 8 };
    struct cnio_wire_auth a = { .mode = CNIO_WIRE_AUTH_KEY };
    struct cnio_wire_open o = { .stripe_count = 4, .stripe_index = 1, .name_len = 7,
                                .name = "dir/obj" };
    struct cnio_wire_entry e = { .info = info_sample, .name_len = 3, .name = "one" };
    int n = -1, m;

    switch (kind) {
    case PK_CHALLENGE: n = cnio__wire_challenge_encode(&c, buf, cap); break;
    case PK_AUTH: n = cnio__wire_auth_encode(&a, buf, cap); break;
    case PK_OPEN: n = cnio__wire_open_encode(&o, buf, cap); break;
    case PK_LIST: o.name_len = 1; o.name = "d"; n = cnio__wire_open_encode(&o, buf, cap); break;
    case PK_INFO: n = cnio__wire_info_encode(&info_sample, buf, cap); break;
    case PK_U64: n = cnio__wire_u64_encode(42, buf, cap); break;
    case PK_ENTRIES:
        n = cnio__wire_entry_encode(&e, buf, cap);
        ck_assert_int_eq(n, 59);
        e.name = "two";
        m = cnio__wire_entry_encode(&e, buf + n, cap - (size_t)n);
        ck_assert_int_eq(m, 59);
        n += m;
        break;
    }
    ck_assert_int_gt(n, 0);
    return (size_t)n;
}

/* Runs the parser of kind over in[len]: 0 when accepted, else the (negative) error. */
static int sample_parse(int kind, const uint8_t *in, size_t len)
{
    struct cnio_wire_challenge c;
    struct cnio_wire_auth a;
    struct cnio_wire_open o;
    struct cnio_wire_info i;
    struct cnio_wire_entry e;
    uint64_t v;
    size_t pos = 0;
    int ret;

    switch (kind) {
    case PK_CHALLENGE: return cnio__wire_challenge_parse(in, len, &c);
    case PK_AUTH: return cnio__wire_auth_parse(in, len, &a);
    case PK_OPEN: return cnio__wire_open_parse(in, len, 0, &o);
    case PK_LIST: return cnio__wire_open_parse(in, len, 1, &o);
    case PK_INFO: return cnio__wire_info_parse(in, len, &i);
    case PK_U64: return cnio__wire_u64_parse(in, len, &v);
    default:
        while ((ret = cnio__wire_entry_next(in, len, &pos, &e)) == 1)
            ck_assert_uint_le(pos, len);
        return ret;
    }
}

START_TEST(test_payload_samples_valid)
{
    uint8_t buf[512];

    for (int kind = PK_CHALLENGE; kind <= PK_U64; kind++) {
        size_t n = sample_encode(kind, buf, sizeof(buf));

        ck_assert_msg(sample_parse(kind, buf, n) == 0, "sample of kind %d rejected", kind);
    }
}
END_TEST

START_TEST(test_payload_table)
{
    const struct pcase *c = &payload_cases[_i];
    uint8_t buf[512];
    uint8_t *copy;
    size_t n;
    int ret;

    memset(buf, 0, sizeof(buf));
    n = sample_encode(c->kind, buf, sizeof(buf));
    n = (size_t)((long)n - c->cut);
    for (int b = 0; b < c->width; b++)
        buf[c->off + (size_t)b] = (uint8_t)(c->val >> (8 * b));
    /* An exact-size heap copy, so that a read past the end shows under valgrind/ASan. */
    copy = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, buf, n);
    ret = sample_parse(c->kind, copy, n);
    free(copy);
    ck_assert_msg(ret == PROTO, "%s: accepted or wrong error (%d)", c->what, ret);
}
END_TEST

START_TEST(test_entry_bad_pos)
{
    uint8_t buf[128];
    struct cnio_wire_entry e;
    size_t n = sample_encode(PK_ENTRIES, buf, sizeof(buf));
    size_t pos = n + 1;

    ck_assert_int_eq(cnio__wire_entry_next(buf, n, &pos, &e), PROTO);
    pos = n;
    ck_assert_int_eq(cnio__wire_entry_next(buf, n, &pos, &e), 0);
    ck_assert_uint_eq(pos, n);
}
END_TEST

/* RENAME: two OPEN blocks back to back; every cut and a first name_len that runs past
 * the buffer are malformed; the INFO flags carry a mode in bits 16..31. */
START_TEST(test_rename_and_mode)
{
    struct cnio_wire_open a = { .name = "dir/old", .name_len = 7 };
    struct cnio_wire_open b = { .name = "new", .name_len = 3 }, x, y;
    struct cnio_wire_info i = { .stripe_unit = 1, .stripe_count = 1,
                                .flags = CNIO_WIRE_I_DIR | (040755u << CNIO_WIRE_I_MODE_SHIFT) };
    uint8_t buf[128];
    int n = cnio__wire_rename_encode(&a, &b, buf, sizeof(buf));

    ck_assert_int_eq(n, 2 * CNIO_WIRE_OPEN_FIXED + 10);
    ck_assert_int_eq(cnio__wire_rename_parse(buf, (size_t)n, &x, &y), 0);
    ck_assert_int_eq(x.name_len, 7);
    ck_assert(!memcmp(x.name, "dir/old", 7));
    ck_assert_int_eq(y.name_len, 3);
    ck_assert(!memcmp(y.name, "new", 3));
    for (int k = 0; k < n; k++)
        ck_assert_int_eq(cnio__wire_rename_parse(buf, (size_t)k, &x, &y), PROTO);
    cnio__put_le32(buf + 20, 0xfffffff0u);
    ck_assert_int_eq(cnio__wire_rename_parse(buf, (size_t)n, &x, &y), PROTO);
    b.name_len = 0;
    ck_assert_int_lt(cnio__wire_rename_encode(&a, &b, buf, sizeof(buf)), 0);
    ck_assert_int_eq(cnio__wire_info_encode(&i, buf, sizeof(buf)), CNIO_WIRE_INFO_SIZE);
    memset(&i, 0, sizeof(i));
    ck_assert_int_eq(cnio__wire_info_parse(buf, CNIO_WIRE_INFO_SIZE, &i), 0);
    ck_assert_uint_eq(i.flags >> CNIO_WIRE_I_MODE_SHIFT, 040755u);
}
END_TEST

static Suite *wire_suite(void)
{
    Suite *s = suite_create("wire");
    TCase *tc = tcase_create("header");
    TCase *tp = tcase_create("payload");

    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_hdr_table, 0, (int)CNIO_ARRAY_LEN(hdr_cases));
    tcase_add_test(tc, test_hdr_round_trip);
    tcase_add_test(tc, test_hdr_bytes);
    tcase_add_test(tc, test_hdr_bit_flips);
    tcase_add_test(tc, test_payload_check);
    suite_add_tcase(s, tc);

    tcase_set_timeout(tp, 30);
    tcase_add_test(tp, test_challenge_auth_round_trip);
    tcase_add_test(tp, test_open_round_trip);
    tcase_add_test(tp, test_crc_round_trip);
    tcase_add_test(tp, test_fabric_round_trip);
    tcase_add_test(tp, test_open_too_long_name);
    tcase_add_test(tp, test_info_u64_round_trip);
    tcase_add_test(tp, test_info_mtime_before_1970);
    tcase_add_test(tp, test_gen_updates);
    tcase_add_test(tp, test_entries_round_trip);
    tcase_add_test(tp, test_payload_samples_valid);
    tcase_add_loop_test(tp, test_payload_table, 0, (int)CNIO_ARRAY_LEN(payload_cases));
    tcase_add_test(tp, test_entry_bad_pos);
    tcase_add_test(tp, test_rename_and_mode);
    suite_add_tcase(s, tp);
    return s;
}

int main(void)
{
    return fx_run(wire_suite());
}
