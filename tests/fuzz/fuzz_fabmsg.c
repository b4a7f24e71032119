/*
 * fuzz_fabmsg.c - fuzz target for what a peer sends over a fabric endpoint (the "ofi"
 * and "udp" transports), as src/fab_msg.c checks it before any byte is used: a reply or
 * CHALLENGE that a server's message left in the buffers a client posted
 * (cnio__fab_msg_decode, cnio__fab_reply_decode: src/stack_msg.c; cnio__fab_chal_parse:
 * src/transport_ofi.c), a client's frame and HELLO as cnio-server takes them
 * (cnio__fab_msg_decode, cnio__fab_hello_parse: src/server/fabric.c). Every parser runs
 * on every input.
 *
 * Input: a byte of fixes, 3 bytes of cap (the payload room where the message landed),
 * 2 bytes of id (the request whose buffers it landed in; 0: the CHALLENGE's), then the
 * message, copied to a buffer of its exact size (so ASan sees a read past it). Fixes,
 * for a message of a whole header, so that mutations reach the rules past each check:
 *   bit 0: the header's magic, version and reserved word made right;
 *   bit 1: its length field made the payload's length;
 *   bit 2: its request id made id;
 *   bit 3: its CRC made right (after the others).
 *
 * Properties (abort on violation):
 *   - cnio__fab_msg_decode fails with -CNIO_ERR_PROTO or -CNIO_ERR_CHECKSUM, or takes
 *     exactly the messages that hold a header the wire decoder takes and then h->length
 *     bytes, at most cap; what it takes encodes back to the same header bytes;
 *   - cnio__fab_reply_decode takes exactly those of them that are, for id 0, a CHALLENGE,
 *     for another id, a reply to that request id without a reason;
 *   - cnio__fab_chal_parse takes exactly the CHALLENGEs that fit a CHALLENGE's buffer,
 *     and says their object (1 .. 2^32 - 1) as the server's id, or 0 for a refusal
 *     (a status); a CHALLENGE it refuses gives no id;
 *   - cnio__fab_hello_parse takes exactly the messages of 1 to CNIO_FAB_ADDR_MAX bytes,
 *     as the address; an IPv4 address it says is one is an AF_INET sockaddr_in, whole;
 *   - no read outside the message, no leak (ASan).
 *
 * With -DCNIO_LIBFUZZER it is a libFuzzer target; otherwise replay.c's main replays files,
 * and `fuzz_fabmsg --corpus DIR` writes the seed corpus: messages the real encoders make
 * as servers and clients send them over a fabric.
 */
#include "common.h"
#include "fab_msg.h"
#include "wire.h"
#include "fuzz_input.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int cnio_fuzz_corpus(const char *dir);

#define FZ_CHECK(c)                                                                           \
    do {                                                                                      \
        if (!(c)) {                                                                           \
            fprintf(stderr, "fuzz_fabmsg: %s:%d: %s\n", __FILE__, __LINE__, #c);              \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

#define FZ_FIX_MAGIC 0x1u
#define FZ_FIX_LEN 0x2u
#define FZ_FIX_ID 0x4u
#define FZ_FIX_CRC 0x8u
#define FZ_PARAMS 6         /* fixes, cap, id */

/* The header's fields at their offsets (src/wire.c's layout). */
#define FZ_OFF_VERSION 4
#define FZ_OFF_REQID 16
#define FZ_OFF_LENGTH 48
#define FZ_OFF_RESERVED 56
#define FZ_OFF_HCRC 60

static void fz_fix(uint8_t *m, size_t len, unsigned fix, uint64_t id)
{
    if (len < CNIO_WIRE_HDR_SIZE)
        return;
    if (fix & FZ_FIX_MAGIC) {
        cnio__put_le32(m, CNIO_WIRE_MAGIC);
        cnio__put_le16(m + FZ_OFF_VERSION, CNIO_WIRE_VERSION);
        cnio__put_le32(m + FZ_OFF_RESERVED, 0);
    }
    if (fix & FZ_FIX_LEN)
        cnio__put_le32(m + FZ_OFF_LENGTH, (uint32_t)(len - CNIO_WIRE_HDR_SIZE));
    if (fix & FZ_FIX_ID)
        cnio__put_le64(m + FZ_OFF_REQID, id);
    if (fix & FZ_FIX_CRC)
        cnio__put_le32(m + FZ_OFF_HCRC, cnio__crc32c(0, m, FZ_OFF_HCRC));
}

/* cnio__fab_msg_decode: 1 when it took the message. */
static int fz_msg(const uint8_t *m, size_t len, size_t cap, struct cnio_wire_hdr *h)
{
    struct cnio_wire_hdr w;
    uint8_t again[CNIO_WIRE_HDR_SIZE];
    int ret = cnio__fab_msg_decode(m, len, cap, h);
    int wire_ok = len >= CNIO_WIRE_HDR_SIZE && cnio__wire_hdr_decode(m, &w) == 0;

    FZ_CHECK(ret == 0 || ret == -CNIO_ERR_PROTO || ret == -CNIO_ERR_CHECKSUM);
    FZ_CHECK((ret == 0) == (wire_ok && w.length == len - CNIO_WIRE_HDR_SIZE && w.length <= cap));
    if (ret)
        return 0;
    FZ_CHECK(!memcmp(h, &w, sizeof(w)));
    cnio__wire_hdr_encode(h, again);
    FZ_CHECK(!memcmp(again, m, CNIO_WIRE_HDR_SIZE));
    return 1;
}

/* cnio__fab_reply_decode, against what cnio__fab_msg_decode took (ok, h). */
static void fz_reply(const uint8_t *m, size_t len, size_t cap, uint64_t id, int ok,
                     const struct cnio_wire_hdr *h)
{
    struct cnio_wire_hdr r;
    int ret = cnio__fab_reply_decode(m, len, cap, id, &r);
    int want = ok && (id ? (h->type & CNIO_WIRE_REPLY) && h->reqid == id &&
                               !(h->flags & CNIO_WIRE_F_REASON)
                         : h->type == CNIO_WIRE_CHALLENGE);

    FZ_CHECK((ret == 0) == want);
    FZ_CHECK(ret <= 0);
    if (want)
        FZ_CHECK(!memcmp(&r, h, sizeof(r)));
}

/* cnio__fab_chal_parse. */
static void fz_chal(const uint8_t *m, size_t len)
{
    struct cnio_wire_hdr h;
    uint32_t sid = 1;
    int ret = cnio__fab_chal_parse(m, len, &sid);
    int took = cnio__fab_reply_decode(m, len, CNIO_WIRE_CHALLENGE_SIZE, 0, &h) == 0;

    FZ_CHECK(ret <= 0);
    if (ret) {
        FZ_CHECK(sid == 0);
        FZ_CHECK(!took || (!h.status && (h.object == 0 || h.object > UINT32_MAX)));
        return;
    }
    FZ_CHECK(took);
    if (h.status)
        FZ_CHECK(sid == 0);
    else
        FZ_CHECK(sid != 0 && sid == h.object);
}

/* cnio__fab_hello_parse. */
static void fz_hello(const uint8_t *m, size_t len)
{
    struct cnio_fab_hello hello;
    int ret = cnio__fab_hello_parse(m, len, &hello);

    FZ_CHECK((ret == 0) == (len >= 1 && len <= CNIO_FAB_ADDR_MAX));
    if (ret) {
        FZ_CHECK(ret == -CNIO_ERR_PROTO);
        return;
    }
    FZ_CHECK(hello.addr == m && hello.len == len);
    if (hello.ip.len) {
        FZ_CHECK(hello.ip.ss.ss_family == AF_INET);
        FZ_CHECK(hello.ip.len >= sizeof(struct sockaddr_in) && hello.ip.len <= len);
        FZ_CHECK(!memcmp(&hello.ip.ss, m, hello.ip.len));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_in in = { data, size };
    unsigned fix = (unsigned)fz_take(&in, 1);
    size_t cap = (size_t)fz_take(&in, 3);
    uint64_t id = fz_take(&in, 2);
    struct cnio_wire_hdr h;
    uint8_t *m = malloc(in.n ? in.n : 1);
    int ok;

    FZ_CHECK(m);
    if (in.n)
        memcpy(m, in.p, in.n);
    fz_fix(m, in.n, fix, id);
    ok = fz_msg(m, in.n, cap, &h);
    fz_reply(m, in.n, cap, id, ok, &h);
    fz_chal(m, in.n);
    fz_hello(m, in.n);
    free(m);
    return 0;
}

/* ---- the seed corpus ----------------------------------------------------------------- */

static int fz_write(const char *dir, const char *name, unsigned fix, uint32_t cap,
                    uint16_t id, const uint8_t *msg, size_t len)
{
    uint8_t params[FZ_PARAMS] = { (uint8_t)fix, (uint8_t)cap, (uint8_t)(cap >> 8),
                                  (uint8_t)(cap >> 16), (uint8_t)id, (uint8_t)(id >> 8) };
    char path[4096];
    FILE *f;
    int bad;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "fuzz_fabmsg: cannot write %s\n", path);
        return 1;
    }
    bad = fwrite(params, 1, sizeof(params), f) != sizeof(params) ||
          (len && fwrite(msg, 1, len, f) != len);
    if (fclose(f) || bad) {
        fprintf(stderr, "fuzz_fabmsg: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

/* A frame as a peer sends it: header h (its CRCs made here) and len bytes of payload;
 * the message's length. */
static size_t fz_frame(uint8_t *out, struct cnio_wire_hdr h, const void *pl, uint32_t len)
{
    h.length = len;
    h.payload_crc = len ? cnio__crc32c(0, pl, len) : 0;
    cnio__wire_hdr_encode(&h, out);
    if (len)
        memcpy(out + CNIO_WIRE_HDR_SIZE, pl, len);
    return CNIO_WIRE_HDR_SIZE + len;
}

/* What a server sends a client: CHALLENGEs and replies (ids 0x101..). */
static int fz_seeds_server(const char *dir, uint8_t *b)
{
    struct cnio_wire_challenge ch = { .caps = 0x1ff, .max_payload = 1u << 20, .credits = 16 };
    struct cnio_wire_info info = { .stripe_unit = 1u << 20, .stripe_count = 4, .size = 4096 };
    struct cnio_wire_hdr h = { .type = CNIO_WIRE_CHALLENGE, .object = 0x30001, .offset = 600 };
    static const char why[] = "no such object";
    uint8_t pl[CNIO_WIRE_CHALLENGE_SIZE + CNIO_WIRE_INFO_SIZE];
    int ret = 0;
    size_t n;

    memset(ch.nonce, 0xa5, sizeof(ch.nonce));
    FZ_CHECK(cnio__wire_challenge_encode(&ch, pl, sizeof(pl)) == CNIO_WIRE_CHALLENGE_SIZE);
    n = fz_frame(b, h, pl, CNIO_WIRE_CHALLENGE_SIZE);
    ret |= fz_write(dir, "seed-challenge", 0, CNIO_WIRE_CHALLENGE_SIZE, 0, b, n);
    ret |= fz_write(dir, "seed-challenge-short", 0, CNIO_WIRE_CHALLENGE_SIZE, 0, b, n - 1);
    h.object = (uint64_t)UINT32_MAX + 1;
    n = fz_frame(b, h, pl, CNIO_WIRE_CHALLENGE_SIZE);
    ret |= fz_write(dir, "seed-challenge-wide-id", 0, CNIO_WIRE_CHALLENGE_SIZE, 0, b, n);
    h = (struct cnio_wire_hdr){ .type = CNIO_WIRE_CHALLENGE, .status = -CNIO_ERR_LIMIT };
    n = fz_frame(b, h, NULL, 0);
    ret |= fz_write(dir, "seed-challenge-refused", 0, CNIO_WIRE_CHALLENGE_SIZE, 0, b, n);
    h = (struct cnio_wire_hdr){ .type = CNIO_WIRE_AUTH | CNIO_WIRE_REPLY, .reqid = 0x101,
                                .session = 0x5e5510a };
    n = fz_frame(b, h, ch.nonce, CNIO_WIRE_MAC);
    ret |= fz_write(dir, "seed-auth-reply", 0, CNIO_WIRE_MAC, 0x101, b, n);
    ret |= fz_write(dir, "seed-auth-reply-other-id", 0, CNIO_WIRE_MAC, 0x102, b, n);
    h = (struct cnio_wire_hdr){ .type = CNIO_WIRE_STAT | CNIO_WIRE_REPLY, .reqid = 0x202 };
    FZ_CHECK(cnio__wire_info_encode(&info, pl, sizeof(pl)) == CNIO_WIRE_INFO_SIZE);
    n = fz_frame(b, h, pl, CNIO_WIRE_INFO_SIZE);
    ret |= fz_write(dir, "seed-stat-reply", 0, CNIO_WIRE_INFO_SIZE, 0x202, b, n);
    ret |= fz_write(dir, "seed-stat-reply-no-room", 0, CNIO_WIRE_INFO_SIZE - 1, 0x202, b, n);
    h = (struct cnio_wire_hdr){ .type = CNIO_WIRE_READ | CNIO_WIRE_REPLY, .reqid = 0x303,
                                .object = 7, .offset = 1u << 20 };
    n = fz_frame(b, h, pl, sizeof(pl));
    ret |= fz_write(dir, "seed-read-reply", 0, 4096, 0x303, b, n);
    h = (struct cnio_wire_hdr){ .type = CNIO_WIRE_PING | CNIO_WIRE_REPLY, .reqid = 0x404 };
    n = fz_frame(b, h, NULL, 0);
    ret |= fz_write(dir, "seed-ping-reply", 0, 0, 0x404, b, n);
    h = (struct cnio_wire_hdr){ .type = CNIO_WIRE_STAT | CNIO_WIRE_REPLY, .reqid = 0x505,
                                .status = -CNIO_ERR_NOENT, .flags = CNIO_WIRE_F_REASON };
    n = fz_frame(b, h, why, sizeof(why) - 1);
    ret |= fz_write(dir, "seed-reason-reply", 0, CNIO_WIRE_INFO_SIZE, 0x505, b, n);
    h.flags = 0;
    n = fz_frame(b, h, NULL, 0);
    ret |= fz_write(dir, "seed-error-reply", 0, CNIO_WIRE_INFO_SIZE, 0x505, b, n);
    return ret;
}

/* What a client sends a server: HELLOs (addresses), frames. */
static int fz_seeds_client(const char *dir, uint8_t *b)
{
    static const char shm[] = "fi_shm://cnio-4242-4026531836-0123456789abcdef";
    struct sockaddr_in v4 = { .sin_family = AF_INET, .sin_port = htons(40000),
                              .sin_addr.s_addr = htonl(0x7f000001) };
    struct sockaddr_in6 v6 = { .sin6_family = AF_INET6, .sin6_port = htons(40000) };
    struct cnio_wire_auth a = { .mode = CNIO_WIRE_AUTH_KEY };
    struct cnio_wire_hdr h = { .type = CNIO_WIRE_AUTH, .reqid = 0x100 };
    uint8_t pl[CNIO_WIRE_AUTH_SIZE];
    int ret = 0;
    size_t n;

    v6.sin6_addr.s6_addr[15] = 1;
    ret |= fz_write(dir, "seed-hello-ipv4", 0, 0, 0, (const uint8_t *)&v4, sizeof(v4));
    ret |= fz_write(dir, "seed-hello-ipv6", 0, 0, 0, (const uint8_t *)&v6, sizeof(v6));
    ret |= fz_write(dir, "seed-hello-shm", 0, 0, 0, (const uint8_t *)shm, sizeof(shm));
    ret |= fz_write(dir, "seed-empty", 0, 0, 0, NULL, 0);
    memset(a.nonce, 0x11, sizeof(a.nonce));
    memset(a.mac, 0x22, sizeof(a.mac));
    FZ_CHECK(cnio__wire_auth_encode(&a, pl, sizeof(pl)) == CNIO_WIRE_AUTH_SIZE);
    n = fz_frame(b, h, pl, CNIO_WIRE_AUTH_SIZE);
    ret |= fz_write(dir, "seed-auth", 0, 1u << 20, 0, b, n);
    h = (struct cnio_wire_hdr){ .type = CNIO_WIRE_WRITE, .reqid = 0x101, .session = 9,
                                .object = 7, .offset = 4096 };
    n = fz_frame(b, h, pl, sizeof(pl));
    ret |= fz_write(dir, "seed-write", 0, 1u << 20, 0, b, n);
    ret |= fz_write(dir, "seed-write-fixes", FZ_FIX_MAGIC | FZ_FIX_LEN | FZ_FIX_ID | FZ_FIX_CRC,
                    1u << 20, 0x101, b, n - 8);
    return ret;
}

int cnio_fuzz_corpus(const char *dir)
{
    uint8_t b[CNIO_WIRE_HDR_SIZE + 256];

    return fz_seeds_server(dir, b) | fz_seeds_client(dir, b);
}
