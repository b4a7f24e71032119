/*
 * fuzz_fabmsg.c - fuzz target for what a peer sends over a fabric endpoint (the "ofi"
 * and "udp" transports), as src/fab_msg.c checks it before any byte is used: a reply or
 * CHALLENGE that a server's message left in the buffers a client posted
 * (cnio__fab_msg_decode, cnio__fab_reply_decode: src/stack_msg.c; cnio__fab_chal_parse:
 * src/transport_ofi.c; cnio__fab_chal_nonce: src/transport_ofi_conn.c), a client's frame,
 * HELLO and BYE as cnio-server takes them (cnio__fab_msg_decode, cnio__fab_hello_parse,
 * cnio__fab_bye_parse: src/server/fabric.c). Every parser runs on every input.
 *
 * Input: a byte of fixes, 3 bytes of cap (the payload room where the message landed),
 * 2 bytes of id (the request whose buffers it landed in; 0: the CHALLENGE's), then the
 * message, copied to a buffer of its exact size (so ASan sees a read past it). Fixes,
 * for a message of a whole header, so that mutations reach the rules past each check:
 *   bit 0: the header's magic, version and reserved word made right;
 *   bit 1: its length field made the payload's length;
 *   bit 2: its request id made id;
 *   bit 3: its CRC made right (after the others);
 *   bit 5: its payload CRC made right (before the header CRC).
 *
 * Bit 4 of the first byte selects the endpoint mode instead: a real client endpoint
 * (cnio__ep_open_tp, src/stack_msg.c's receive path) over a message transport of this
 * file's that behaves as transport_ofi.c does (a CHALLENGE's buffer, a reply's header
 * and payload landing in the buffers msend posted, a message longer than them an error,
 * the CHALLENGE taken with cnio__fab_chal_parse). Bit 6: a scripted handshake (a right
 * CHALLENGE and AUTH reply; then up to 16 requests, their kinds and reply buffers from
 * the input); else the handshake is the input's. Then the input is a list of
 * completions: a byte (low 2 bits: a send done, a reply, the CHALLENGE, nothing; the
 * rest: the request slot), and for a reply or CHALLENGE a byte of fixes (as above, the
 * id being the slot's request), a 2-byte length and the message. The input's end is
 * the connection's.
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
 *     as the address; it says IPv4 exactly of an AF_INET sockaddr_in, whole;
 *   - cnio__fab_chal_nonce takes exactly the CHALLENGEs cnio__fab_chal_parse takes with
 *     an id whose payload is a CHALLENGE payload, and gives its nonce (else zeros);
 *   - cnio__fab_bye_parse takes exactly the BYEs of 0, 8 (a session id) and 32 (a
 *     CHALLENGE nonce) bytes, as that; what it takes encodes back to the same bytes;
 *   - no read outside the message, no leak (ASan);
 *   - endpoint: every frame the client sends is well-formed; each request's done runs
 *     once, with 0 or a known negative code; one done with 0 got the payload length,
 *     object and offset of the message that landed in its buffers, which carried its
 *     request id, the reply type of its request and no reason; a scripted handshake
 *     makes the endpoint ready; once the input ends the endpoint is dead, every request
 *     done, its connection closed.
 *
 * With -DCNIO_LIBFUZZER it is a libFuzzer target; otherwise replay.c's main replays files,
 * and `fuzz_fabmsg --corpus DIR` writes the seed corpus: messages the real encoders make
 * as servers and clients send them over a fabric.
 */
#include "common.h"
#include "auth.h"
#include "fab_msg.h"
#include "log.h"
#include "stack.h"
#include "stack_int.h"
#include "transport.h"
#include "wire.h"
#include "fuzz_input.h"
#include "fuzz_check.h"

#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int cnio_fuzz_corpus(const char *dir);

#define FZ_FIX_MAGIC 0x1u
#define FZ_FIX_LEN 0x2u
#define FZ_FIX_ID 0x4u
#define FZ_FIX_CRC 0x8u
#define FZ_ENDPOINT 0x10u
#define FZ_FIX_PCRC 0x20u
#define FZ_SCRIPTED 0x40u
#define FZ_PARAMS 6         /* fixes, cap, id */
#define FZ_SLOTS CNIO_EP_MAX_INFLIGHT
#define FZ_MAX_REQS 16
#define FZ_MAX_MSG 4096
#define FZ_CHAL_LEN (CNIO_WIRE_HDR_SIZE + CNIO_WIRE_CHALLENGE_SIZE)
#define FZ_SID 0x30001u

/* The header's fields at their offsets (src/wire.c's layout). */
#define FZ_OFF_VERSION 4
#define FZ_OFF_REQID 16
#define FZ_OFF_LENGTH 48
#define FZ_OFF_PCRC 52
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
    if (fix & FZ_FIX_PCRC)
        cnio__put_le32(m + FZ_OFF_PCRC, len > CNIO_WIRE_HDR_SIZE
                                            ? cnio__crc32c(0, m + CNIO_WIRE_HDR_SIZE,
                                                           len - CNIO_WIRE_HDR_SIZE)
                                            : 0);
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
    if (len >= sizeof(struct sockaddr_in) && len <= sizeof(hello.ip.ss)) {
        sa_family_t family;

        memcpy(&family, m + offsetof(struct sockaddr, sa_family), sizeof(family));
        FZ_CHECK((hello.ip.len != 0) == (family == AF_INET));
    }
    if (hello.ip.len) {
        FZ_CHECK(hello.ip.ss.ss_family == AF_INET);
        FZ_CHECK(hello.ip.len >= sizeof(struct sockaddr_in) && hello.ip.len <= len);
        FZ_CHECK(!memcmp(&hello.ip.ss, m, hello.ip.len));
    }
}

/* cnio__fab_chal_nonce: the nonce of exactly the CHALLENGEs cnio__fab_chal_parse takes
 * with an id whose payload is a CHALLENGE payload. */
static void fz_chal_nonce(const uint8_t *m, size_t len)
{
    static const uint8_t zeros[CNIO_WIRE_NONCE];
    struct cnio_wire_challenge ch;
    uint8_t nonce[CNIO_WIRE_NONCE];
    uint32_t sid;
    int ret = cnio__fab_chal_nonce(m, len, nonce);
    int want = cnio__fab_chal_parse(m, len, &sid) == 0 && sid != 0 &&
               cnio__wire_challenge_parse(m + CNIO_WIRE_HDR_SIZE, len - CNIO_WIRE_HDR_SIZE,
                                          &ch) == 0;

    FZ_CHECK(ret == 0 || ret == -CNIO_ERR_PROTO);
    FZ_CHECK((ret == 0) == want);
    if (ret)
        FZ_CHECK(!memcmp(nonce, zeros, sizeof(nonce)));
    else
        FZ_CHECK(!memcmp(nonce, ch.nonce, sizeof(nonce)));
}

/* cnio__fab_bye_parse: a BYE of 0, CNIO_FAB_BYE_SESSION or CNIO_WIRE_NONCE bytes, taken
 * as nothing, a session id or a nonce; what it takes encodes back to the same bytes. */
static void fz_bye(const uint8_t *m, size_t len)
{
    struct cnio_fab_bye bye;
    uint8_t out[CNIO_FAB_BYE_MAX];
    int ret = cnio__fab_bye_parse(m, len, &bye);

    FZ_CHECK((ret == 0) == (len == 0 || len == CNIO_FAB_BYE_SESSION || len == CNIO_WIRE_NONCE));
    if (ret) {
        FZ_CHECK(ret == -CNIO_ERR_PROTO && bye.session == 0 && bye.nonce == NULL);
        return;
    }
    if (len == CNIO_FAB_BYE_SESSION) {
        FZ_CHECK(bye.nonce == NULL && bye.session == cnio__get_le64(m));
        if (bye.session)
            FZ_CHECK(cnio__fab_bye_encode(bye.session, NULL, out) == len && !memcmp(out, m, len));
    } else if (len == CNIO_WIRE_NONCE) {
        FZ_CHECK(bye.session == 0 && bye.nonce == m);
        FZ_CHECK(cnio__fab_bye_encode(0, bye.nonce, out) == len && !memcmp(out, m, len));
    } else {
        FZ_CHECK(bye.session == 0 && bye.nonce == NULL);
        FZ_CHECK(cnio__fab_bye_encode(0, NULL, out) == 0);
    }
}

/* ---- the endpoint mode --------------------------------------------------------------- */

static const struct cnio_key fz_key = { 32, "fuzz-fabmsg-key-0123456789abcdef" };
static const uint8_t fz_zeros[512];

/* A frame's slot, as transport_ofi.c keeps them: the receive of its reply, its send. */
struct fz_slot {
    uint64_t id;
    uint8_t *rhdr, *rbuf;
    size_t rcap, got;           /* got: the length of the message that landed */
    int recv_posted, send_posted;
};

/* One request of the client's. */
struct fz_req {
    uint16_t type;
    uint32_t rcap;
    uint8_t *rbuf;
    int submitted, done;
};

/* The peer: the completions still to come, the slots, the CHALLENGE's buffer. */
static struct fz_fab {
    struct fz_in in;
    struct fz_slot slot[FZ_SLOTS];
    uint8_t *chal;              /* FZ_CHAL_LEN bytes, as transport_ofi.c's chalbuf */
    int chal_posted, conns, dead;
    uint32_t sid;
    int script;                 /* scripted handshake: 1 CHALLENGE next, 2 AUTH reply,
                                 * 3 done (nothing completes until the input's turn) */
    uint32_t caps, credits;
    struct cnio_wire_auth auth;
    uint64_t auth_id;
    int have_auth;
    uint8_t msg[FZ_MAX_MSG];
} fb;

static int fz_tp_open(struct cnio_stack *st, const struct cnio_hints *h, struct cnio_tp **out)
{
    return -CNIO_ERR_NOTSUP;   /* never found by name: cnio__ep_open_tp is given it */
}

static int fz_connect(struct cnio_tp *tp, const struct cnio_peer *peer, struct cnio_conn **out)
{
    struct cnio_conn *c = calloc(1, sizeof(*c));

    if (!c)
        return -CNIO_ERR_NOMEM;
    c->tp = tp;
    fb.conns++;
    fb.chal_posted = 1;
    *out = c;
    return 0;
}

static void fz_close(struct cnio_conn *c)
{
    free(c);
    fb.conns--;
}

static void fz_fini(struct cnio_tp *tp)
{
}

/* Posts f's reply receive and sends it, as ofi_msend: 1, 0 (no room now) or dead. */
static int fz_msend(struct cnio_conn *c, const struct cnio_tp_frame *f)
{
    struct fz_slot *s = &fb.slot[(f->id & 0xff) % FZ_SLOTS];
    struct cnio_wire_hdr h;

    if (fb.dead)
        return fb.dead;
    if (!fb.sid || s->send_posted || (s->recv_posted && s->id != f->id))
        return 0;
    FZ_CHECK(cnio__wire_hdr_decode(f->hdr, &h) == 0);
    FZ_CHECK(h.reqid == f->id);
    FZ_CHECK(h.length == f->plen && cnio__wire_payload_check(&h, f->payload) == 0);
    if (h.type == CNIO_WIRE_AUTH && !fb.have_auth) {
        FZ_CHECK(cnio__wire_auth_parse(f->payload, f->plen, &fb.auth) == 0);
        fb.auth_id = f->id;
        fb.have_auth = 1;
    }
    *s = (struct fz_slot){ .id = f->id, .rhdr = f->rhdr, .rbuf = f->rbuf, .rcap = f->rcap,
                           .recv_posted = 1, .send_posted = 1 };
    return 1;
}

/* The next message of the input, its fixes made for request id: its length. */
static size_t fz_message(uint64_t id)
{
    unsigned fix = (unsigned)fz_take(&fb.in, 1);
    size_t len = (size_t)fz_take(&fb.in, 2) % (FZ_MAX_MSG + 1);

    len = CNIO_MIN(len, fb.in.n);
    memcpy(fb.msg, fb.in.p, len);
    fb.in.p += len;
    fb.in.n -= len;
    fz_fix(fb.msg, len, fix, id);
    return len;
}

/* The CHALLENGE of len bytes (in fb.msg) lands in its buffer, as ofi_event takes it. */
static int fz_land_chal(size_t len, struct cnio_tp_event *ev)
{
    uint32_t sid;
    int ret;

    if (!fb.chal_posted)
        return 0;
    if (len > FZ_CHAL_LEN)
        return fb.dead = -CNIO_ERR_PROTO;   /* FI_ETRUNC */
    memcpy(fb.chal, fb.msg, len);
    fb.chal_posted = 0;
    ret = cnio__fab_chal_parse(fb.chal, len, &sid);
    if (ret)
        return fb.dead = ret;
    fb.sid = sid;
    *ev = (struct cnio_tp_event){ .kind = CNIO_TP_RECEIVED, .id = 0, .hdr = fb.chal,
                                  .payload = fb.chal + CNIO_WIRE_HDR_SIZE, .len = len };
    return 1;
}

/* A reply of len bytes (in fb.msg) lands in slot s's buffers, as a provider puts it. */
static int fz_land_reply(struct fz_slot *s, size_t len, struct cnio_tp_event *ev)
{
    if (!s->recv_posted)
        return 0;
    if (len > CNIO_WIRE_HDR_SIZE + s->rcap)
        return fb.dead = -CNIO_ERR_PROTO;   /* FI_ETRUNC */
    memcpy(s->rhdr, fb.msg, CNIO_MIN(len, (size_t)CNIO_WIRE_HDR_SIZE));
    if (len > CNIO_WIRE_HDR_SIZE)
        memcpy(s->rbuf, fb.msg + CNIO_WIRE_HDR_SIZE, len - CNIO_WIRE_HDR_SIZE);
    s->recv_posted = 0;
    s->got = len;
    *ev = (struct cnio_tp_event){ .kind = CNIO_TP_RECEIVED, .id = s->id, .hdr = s->rhdr,
                                  .payload = s->rbuf, .len = len };
    return 1;
}

/* A frame made here (header h, len bytes of payload) into fb.msg: its length. */
static size_t fz_make(struct cnio_wire_hdr h, const void *pl, uint32_t len)
{
    h.length = len;
    h.payload_crc = len ? cnio__crc32c(0, pl, len) : 0;
    cnio__wire_hdr_encode(&h, fb.msg);
    if (len)
        memcpy(fb.msg + CNIO_WIRE_HDR_SIZE, pl, len);
    return CNIO_WIRE_HDR_SIZE + len;
}

/* The scripted handshake's CHALLENGE, then its AUTH reply with the key's proof. */
static int fz_script(struct cnio_tp_event *ev)
{
    struct cnio_wire_challenge ch = { .caps = fb.caps, .max_payload = 1u << 20,
                                      .credits = fb.credits };
    struct cnio_wire_hdr h = { .type = CNIO_WIRE_CHALLENGE, .object = FZ_SID, .offset = 600 };
    struct fz_slot *s = &fb.slot[(fb.auth_id & 0xff) % FZ_SLOTS];
    uint8_t pl[CNIO_WIRE_CHALLENGE_SIZE];

    if (fb.script == 1) {
        fb.script = 2;
        memset(ch.nonce, 0xa5, sizeof(ch.nonce));
        FZ_CHECK(cnio__wire_challenge_encode(&ch, pl, sizeof(pl)) == CNIO_WIRE_CHALLENGE_SIZE);
        return fz_land_chal(fz_make(h, pl, CNIO_WIRE_CHALLENGE_SIZE), ev);
    }
    if (fb.script == 3)
        return 0;
    fb.script = 3;
    if (!fb.have_auth || !s->send_posted)
        return 0;
    memset(ch.nonce, 0xa5, sizeof(ch.nonce));
    FZ_CHECK(cnio__auth_verify(&fz_key, ch.nonce, &fb.auth, pl) == 0);
    h = (struct cnio_wire_hdr){ .type = CNIO_WIRE_AUTH | CNIO_WIRE_REPLY, .reqid = fb.auth_id,
                                .session = 0x5e5510a };
    s->send_posted = 0;
    ev[0] = (struct cnio_tp_event){ .kind = CNIO_TP_SENT, .id = fb.auth_id };
    return 1 + fz_land_reply(s, fz_make(h, pl, CNIO_WIRE_MAC), ev + 1);
}

/* What completed: one completion of the input (or of the script) at a time. */
static int fz_mpoll(struct cnio_conn *c, struct cnio_tp_event *ev, int max)
{
    uint8_t op;
    struct fz_slot *s;
    size_t len;

    if (fb.dead)
        return fb.dead;
    if (fb.script)
        return fz_script(ev);
    if (!fb.in.n)
        return fb.dead = -CNIO_ERR_CONN;   /* the server's end */
    op = (uint8_t)fz_take(&fb.in, 1);
    s = &fb.slot[(op >> 2) % FZ_SLOTS];
    switch (op & 3) {
    case 0:
        if (!s->send_posted)
            return 0;
        s->send_posted = 0;
        *ev = (struct cnio_tp_event){ .kind = CNIO_TP_SENT, .id = s->id };
        return 1;
    case 1:
        len = fz_message(s->id);
        return fz_land_reply(s, len, ev);
    case 2:
        len = fz_message(0);
        return fz_land_chal(len, ev);
    default:
        return 0;
    }
}

static const struct cnio_transport_ops fz_ops = {
    .size = sizeof(fz_ops), .name = "fuzz", .open = fz_tp_open, .connect = fz_connect,
    .connect_start = cnio__tp_notsup_connect, .connect_poll = cnio__tp_notsup_connect_poll,
    .sendv = cnio__tp_notsup_xfer, .recvv = cnio__tp_notsup_xfer,
    .progress = cnio__tp_progress_none, .close = fz_close, .fd = cnio__tp_notsup_fd,
    .fini = fz_fini, .framed = 1, .msend = fz_msend, .mpoll = fz_mpoll,
    .provider = cnio__tp_provider_name,
};

/* A request done: once, with a known status; with 0, what landed in its buffers. */
static void fz_done(struct cnio_req *r)
{
    struct fz_req *q = r->arg;
    const struct fz_slot *s = &fb.slot[(r->reqid & 0xff) % FZ_SLOTS];
    struct cnio_wire_hdr h;

    FZ_CHECK(++q->done == 1);
    FZ_CHECK(r->status <= 0 && r->status > -CNIO_ERR_MAX_);
    FZ_CHECK(!r->reasoned);
    if (r->status)
        return;
    FZ_CHECK(s->id == r->reqid && s->got >= CNIO_WIRE_HDR_SIZE);
    FZ_CHECK(cnio__wire_hdr_decode(r->rhdr, &h) == 0);
    FZ_CHECK(h.reqid == r->reqid && h.type == (q->type | CNIO_WIRE_REPLY));
    FZ_CHECK(!(h.flags & CNIO_WIRE_F_REASON) && h.length == s->got - CNIO_WIRE_HDR_SIZE);
    FZ_CHECK(r->rlen == h.length && r->rlen <= q->rcap);
    FZ_CHECK(r->robject == h.object && r->roffset == h.offset);
}

/* Submits one request of a kind the input picks, with a reply buffer of its exact size. */
static void fz_submit(struct cnio_stack *st, struct cnio_ep *ep, struct fz_in *in,
                      struct fz_req *q)
{
    static const struct { uint16_t type; uint32_t plen, rcap; } kinds[] = {
        { CNIO_WIRE_PING, 0, 0 }, { CNIO_WIRE_STAT, 25, CNIO_WIRE_INFO_SIZE },
        { CNIO_WIRE_LIST, 24, 64 }, { CNIO_WIRE_READ, 8, 1 },
        { CNIO_WIRE_CRC, 8, CNIO_WIRE_CRC_SIZE }, { CNIO_WIRE_CLOSE, 0, 0 },
        { CNIO_WIRE_WRITE, 1, 0 },
    };
    size_t k = (size_t)fz_take(in, 1) % CNIO_ARRAY_LEN(kinds);
    uint32_t extra = (uint32_t)fz_take(in, 2);
    struct cnio_req *r = cnio__req_get(st);

    FZ_CHECK(r);
    q->type = kinds[k].type;
    q->rcap = kinds[k].rcap;
    if (q->type == CNIO_WIRE_LIST || q->type == CNIO_WIRE_READ)
        q->rcap += extra % 4096;
    q->rbuf = q->rcap ? malloc(q->rcap) : NULL;
    FZ_CHECK(!q->rcap || q->rbuf);
    r->type = q->type;
    r->payload = fz_zeros;
    r->plen = q->type == CNIO_WIRE_WRITE ? 1 + extra % 256 : kinds[k].plen;
    r->rbuf = q->rbuf;
    r->rcap = q->rcap;
    r->done = fz_done;
    r->arg = q;
    q->submitted = cnio__ep_submit(ep, r) == 0;
}

/* Receives until the endpoint dies (the input's end kills it), or (script_only) until
 * the scripted handshake is over. */
static void fz_pump(struct cnio_ep *ep, int script_only)
{
    while (ep->state != EP_DEAD && (!script_only || fb.script < 3))
        cnio__ep_rx(ep);
}

static void fz_endpoint(struct fz_in *in, unsigned mode)
{
    struct cnio_ep_auth auth = { .mode = CNIO_WIRE_AUTH_KEY, .k = fz_key.bytes,
                                 .klen = fz_key.len };
    struct cnio_tp tp = { .ops = &fz_ops };
    struct cnio_addr addr = { .len = sizeof(struct sockaddr_in) };
    struct fz_req reqs[FZ_MAX_REQS] = { 0 };
    struct cnio_stack *st;
    struct cnio_ep *ep;
    int nreq = 0;

    memset(&fb, 0, sizeof(fb));
    fb.chal = malloc(FZ_CHAL_LEN);
    FZ_CHECK(fb.chal);
    addr.ss.ss_family = AF_INET;
    FZ_CHECK(cnio__stack_open(&st) == 0);
    tp.st = st;
    FZ_CHECK(cnio__ep_open_tp(st, &tp, 60000, &addr, "fuzz", &auth, &ep) == 0);
    if (mode & FZ_SCRIPTED) {
        fb.caps = (uint32_t)fz_take(in, 2);
        fb.credits = 1 + (uint32_t)fz_take(in, 1) % 64;
        fb.script = 1;
        fz_pump(ep, 1);
        FZ_CHECK(cnio__ep_ready(ep));
        nreq = (int)(fz_take(in, 1) % (FZ_MAX_REQS + 1));
        for (int i = 0; i < nreq; i++)
            fz_submit(st, ep, in, &reqs[i]);
    }
    fb.in = *in;
    fb.script = 0;
    fz_pump(ep, 0);
    FZ_CHECK(cnio__ep_error(ep) < 0);
    for (int i = 0; i < nreq; i++) {
        FZ_CHECK(reqs[i].done == reqs[i].submitted);
        free(reqs[i].rbuf);
    }
    cnio__ep_close(ep);
    cnio__stack_close(st);
    FZ_CHECK(fb.conns == 0);
    free(fb.chal);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    struct fz_in in = { data, size };
    unsigned fix = (unsigned)fz_take(&in, 1);
    size_t cap;
    uint64_t id;
    struct cnio_wire_hdr h;
    uint8_t *m;
    int ok;

    if (!quiet) {
        cnio__log_set_level(CNIO_LOG_ERROR);
        quiet = 1;
    }
    if (fix & FZ_ENDPOINT) {
        fz_endpoint(&in, fix);
        return 0;
    }
    cap = (size_t)fz_take(&in, 3);
    id = fz_take(&in, 2);
    m = malloc(in.n ? in.n : 1);
    FZ_CHECK(m);
    if (in.n)
        memcpy(m, in.p, in.n);
    fz_fix(m, in.n, fix, id);
    ok = fz_msg(m, in.n, cap, &h);
    fz_reply(m, in.n, cap, id, ok, &h);
    fz_chal(m, in.n);
    fz_hello(m, in.n);
    fz_chal_nonce(m, in.n);
    fz_bye(m, in.n);
    free(m);
    return 0;
}

/* ---- the seed corpus ----------------------------------------------------------------- */

static int fz_write_raw(const char *dir, const char *name, const uint8_t *b, size_t n)
{
    char path[4096];
    FILE *f;
    int bad;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "fuzz_fabmsg: cannot write %s\n", path);
        return 1;
    }
    bad = n && fwrite(b, 1, n, f) != n;
    if (fclose(f) || bad) {
        fprintf(stderr, "fuzz_fabmsg: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

/* A seed of the parsers' mode: fixes, cap, id, then the message. */
static int fz_write(const char *dir, const char *name, unsigned fix, uint32_t cap,
                    uint16_t id, const uint8_t *msg, size_t len)
{
    uint8_t b[FZ_PARAMS + CNIO_WIRE_HDR_SIZE + 256] = { (uint8_t)fix, (uint8_t)cap,
                                                       (uint8_t)(cap >> 8), (uint8_t)(cap >> 16),
                                                       (uint8_t)id, (uint8_t)(id >> 8) };

    FZ_CHECK(len <= sizeof(b) - FZ_PARAMS);
    if (len)
        memcpy(b + FZ_PARAMS, msg, len);
    return fz_write_raw(dir, name, b, FZ_PARAMS + len);
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
    uint8_t pl[CNIO_WIRE_CHALLENGE_SIZE + CNIO_WIRE_INFO_SIZE] = { 0 };
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
    n = cnio__fab_bye_encode(0x5e5510a, NULL, b);
    ret |= fz_write(dir, "seed-bye-session", 0, 0, 0, b, n);
    n = cnio__fab_bye_encode(0, a.nonce, b);
    ret |= fz_write(dir, "seed-bye-nonce", 0, 0, 0, b, n);
    ret |= fz_write(dir, "seed-bye-odd", 0, 0, 0, b, 9);
    return ret;
}

/* A seed of the endpoint mode, as it is built. */
struct fz_w {
    uint8_t b[4096];
    size_t n;
};

static void fz_w_u(struct fz_w *w, uint64_t v, size_t bytes)
{
    for (size_t i = 0; i < bytes; i++) {
        FZ_CHECK(w->n < sizeof(w->b));
        w->b[w->n++] = (uint8_t)(v >> (8 * i));
    }
}

/* A completion with a message: op (its kind and slot), frame h with len bytes of pl,
 * its request id and CRC made right by the fixes. */
static void fz_w_msg(struct fz_w *w, uint8_t op, struct cnio_wire_hdr h, const void *pl,
                     uint32_t len)
{
    uint8_t m[CNIO_WIRE_HDR_SIZE + 256];
    size_t n = fz_frame(m, h, pl, len);

    fz_w_u(w, op, 1);
    fz_w_u(w, FZ_FIX_ID | FZ_FIX_CRC, 1);
    fz_w_u(w, n, 2);
    FZ_CHECK(w->n + n <= sizeof(w->b));
    memcpy(w->b + w->n, m, n);
    w->n += n;
}

/* A scripted handshake and n requests of kinds 0 .. n - 1 (fz_submit's), with 64 more
 * bytes of reply room where a kind takes more. */
static void fz_w_script(struct fz_w *w, uint32_t caps, int n)
{
    w->n = 0;
    fz_w_u(w, FZ_ENDPOINT | FZ_SCRIPTED, 1);
    fz_w_u(w, caps, 2);
    fz_w_u(w, 15, 1);                       /* 16 credits */
    fz_w_u(w, (uint64_t)n, 1);
    for (int i = 0; i < n; i++) {
        fz_w_u(w, (uint64_t)i, 1);
        fz_w_u(w, 64, 2);
    }
}

/* Replies to requests of every kind (PING, STAT, LIST, READ, CRC, CLOSE, WRITE), each
 * after its send's completion; then an error, a reason, a reply too long. */
static int fz_seeds_endpoint(const char *dir)
{
    static const uint16_t types[] = { CNIO_WIRE_PING, CNIO_WIRE_STAT, CNIO_WIRE_LIST,
                                      CNIO_WIRE_READ, CNIO_WIRE_CRC, CNIO_WIRE_CLOSE,
                                      CNIO_WIRE_WRITE };
    static const uint32_t lens[] = { 0, CNIO_WIRE_INFO_SIZE, 0, 65, CNIO_WIRE_CRC_SIZE, 0, 0 };
    static const char why[] = "no such object";
    struct cnio_wire_challenge ch = { .caps = 0x1ff, .max_payload = 1u << 20, .credits = 16 };
    uint8_t pl[128] = { 0 };
    struct fz_w w;
    int ret = 0;

    fz_w_script(&w, 0x1ff, 7);
    for (int i = 0; i < 7; i++) {
        struct cnio_wire_hdr h = { .type = types[i] | CNIO_WIRE_REPLY, .object = 7,
                                   .offset = 4096 };

        fz_w_u(&w, (uint64_t)i << 2, 1);
        fz_w_msg(&w, (uint8_t)(i << 2 | 1), h, pl, lens[i]);
    }
    ret |= fz_write_raw(dir, "seed-ep-replies", w.b, w.n);
    fz_w_script(&w, 0x1ff, 3);
    fz_w_msg(&w, 0 << 2 | 1, (struct cnio_wire_hdr){ .type = CNIO_WIRE_PING | CNIO_WIRE_REPLY,
                                                      .status = -CNIO_ERR_NOENT }, pl, 0);
    fz_w_msg(&w, 2 << 2 | 1, (struct cnio_wire_hdr){ .type = CNIO_WIRE_LIST | CNIO_WIRE_REPLY },
             pl, 128);
    fz_w_msg(&w, 1 << 2 | 1, (struct cnio_wire_hdr){ .type = CNIO_WIRE_STAT | CNIO_WIRE_REPLY,
                                                      .status = -CNIO_ERR_NOENT,
                                                      .flags = CNIO_WIRE_F_REASON },
             why, sizeof(why) - 1);
    ret |= fz_write_raw(dir, "seed-ep-errors", w.b, w.n);
    /* the handshake from the input: a CHALLENGE, the AUTH sent, a reply with a wrong
     * proof (the client's nonce is its own); and a refusal */
    w.n = 0;
    fz_w_u(&w, FZ_ENDPOINT, 1);
    FZ_CHECK(cnio__wire_challenge_encode(&ch, pl, sizeof(pl)) == CNIO_WIRE_CHALLENGE_SIZE);
    fz_w_msg(&w, 2, (struct cnio_wire_hdr){ .type = CNIO_WIRE_CHALLENGE, .object = FZ_SID },
             pl, CNIO_WIRE_CHALLENGE_SIZE);
    fz_w_u(&w, 0, 1);
    fz_w_msg(&w, 1, (struct cnio_wire_hdr){ .type = CNIO_WIRE_AUTH | CNIO_WIRE_REPLY }, pl,
             CNIO_WIRE_MAC);
    ret |= fz_write_raw(dir, "seed-ep-handshake", w.b, w.n);
    w.n = 0;
    fz_w_u(&w, FZ_ENDPOINT, 1);
    fz_w_msg(&w, 2, (struct cnio_wire_hdr){ .type = CNIO_WIRE_CHALLENGE,
                                            .status = -CNIO_ERR_LIMIT }, pl, 0);
    ret |= fz_write_raw(dir, "seed-ep-refused", w.b, w.n);
    return ret;
}

int cnio_fuzz_corpus(const char *dir)
{
    uint8_t b[CNIO_WIRE_HDR_SIZE + 256];

    cnio__log_set_level(CNIO_LOG_ERROR);
    return fz_seeds_server(dir, b) | fz_seeds_client(dir, b) | fz_seeds_endpoint(dir);
}
