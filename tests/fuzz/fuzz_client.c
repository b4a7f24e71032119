/*
 * fuzz_client.c - fuzz target for a client endpoint's receive path and handshake: the
 * bytes a server sends, as src/stack_rx.c turns them into frames and matches each reply
 * to the request in flight it answers, and as src/stack_handshake.c takes the CHALLENGE
 * (credits, largest payload, capabilities; CAP_IDLE's timeout in the header's offset)
 * and the AUTH reply. The endpoint is a real one (cnio__ep_open_tp) on a real stack
 * driven by cnio__stack_progress, over a transport of this file's whose peer is the
 * input: recvv hands the stream out in pieces of a size the input picks (so that reads
 * end anywhere in a header or payload, and the read-ahead is split anywhere), sendv
 * keeps what the client sends for the fake server to read.
 *
 * Input: a mode byte, then
 *   bit 0 of the mode: a scripted handshake: a CHALLENGE whose caps, credits, largest
 *          payload, idle timeout and status come from the input, and the AUTH answered
 *          with the server's real proof, a wrong one, or a refusal (with or without a
 *          reason); then up to 16 requests (PING, STAT, LIST, READ, WRITE, ...) with reply
 *          buffers of sizes from the input. Else the handshake is the stream's too.
 *   bit 1: the rest of the input is the stream, raw; else it is read as frames: each
 *          answers a frame the client sent (its request id and type) or takes them from
 *          the input, with a status, flags, object, offset, length and payload from the
 *          input, and its CRCs made right unless a bit says otherwise.
 *   bits 4..7: the most bytes one recvv gives: 1 << (n - 1), or no bound for 0.
 *
 * Properties (abort on violation):
 *   - every frame the client sends is well-formed (its header and payload CRC);
 *   - each submitted request's done runs exactly once, with status 0 or a known negative
 *     code; a reply with status 0 fits the request's buffer (each is malloc'd to its exact
 *     size, so ASan sees a write past it); one that carried a reason has no length;
 *   - frames: a request done with status 0 got the payload, flags, object and offset of
 *     the first frame sent with its request id, which had its type and status 0;
 *   - a scripted handshake gets the endpoint ready iff the CHALLENGE and the proof were
 *     right, and then it took the CHALLENGE's credits (at most CNIO_EP_MAX_INFLIGHT),
 *     largest payload and caps, the AUTH reply's session, and the idle timeout in
 *     seconds from the offset under CAP_IDLE (none when it exceeds UINT32_MAX);
 *   - no hang: once the stream ends (EOF), every request completes and the endpoint is
 *     dead within a few progress calls; its connection is closed;
 *   - no leak (ASan), no read outside the input.
 *
 * With -DCNIO_LIBFUZZER it is a libFuzzer target; otherwise replay.c's main replays files,
 * and `fuzz_client --corpus DIR` writes the seed corpus: conversations whose CHALLENGE,
 * AUTH reply and replies (INFO blocks, LIST entries, CRC and FABRIC replies, reasons)
 * are made by the real encoders, as frames and the same bytes raw.
 */
#include "common.h"
#include "auth.h"
#include "log.h"
#include "stack.h"
#include "stack_int.h"
#include "transport.h"
#include "wire.h"
#include "fuzz_input.h"
#include "fuzz_check.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int cnio_fuzz_corpus(const char *dir);

#define FZ_SCRIPTED 0x1u
#define FZ_RAW 0x2u
#define FZ_MAX_REQS 16
#define FZ_MAX_SENT 64
#define FZ_MAX_FRAMES 1024
#define FZ_ROUNDS 20000
#define FZ_AUTH_REQID 0x100u   /* the first request of an endpoint: seq 1, slot 0 */

static const struct cnio_key fz_key = { 32, "fuzz-client-key-0123456789abcdef" };
static const uint8_t fz_nonce[CNIO_WIRE_NONCE] = { 0xa5, 0x5a, 1, 2, 3, 4, 5, 6, 7, 8 };
static const uint8_t fz_zeros[512];

/* A frame the client sent; a frame the fake server sent (frames mode). */
struct fz_sent {
    uint64_t reqid;
    uint16_t type;
};

struct fz_frame {
    struct cnio_wire_hdr h;
    size_t at;                  /* where its payload is in the stream */
};

/* One request of the client's, and what its done callback saw. */
struct fz_req {
    uint16_t type;
    uint32_t rcap;
    uint8_t *rbuf;
    int submitted, done, status, reasoned;
    uint64_t reqid, robject, roffset;
    uint32_t rlen, rflags;
};

/* The peer: the stream it sends and how far the client read it, what the client sent. */
static struct fz_peer {
    uint8_t *in;
    size_t len, cap, off;
    size_t piece;               /* most bytes one recvv gives (0: no bound) */
    int eof;
    uint8_t *out;
    size_t olen, ocap, oparsed;
    struct fz_sent sent[FZ_MAX_SENT];
    int nsent;
    struct cnio_wire_auth auth;
    uint64_t auth_reqid;
    int have_auth;
    struct fz_frame frames[FZ_MAX_FRAMES];
    int nframes;
    int conns;
} fz;

static void fz_grow(uint8_t **b, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    *cap = CNIO_MAX(need, 2 * *cap);
    *b = realloc(*b, *cap);
    FZ_CHECK(*b);
}

/* Appends n bytes to the stream: where they start. */
static size_t fz_put(const void *b, size_t n)
{
    size_t at = fz.len;

    fz_grow(&fz.in, &fz.cap, fz.len + n + 1);
    if (n)
        memcpy(fz.in + fz.len, b, n);
    fz.len += n;
    return at;
}

/* ---- the transport under the endpoint ----------------------------------------------- */

struct fz_conn {
    struct cnio_conn base;
    int fd;
};

static int fz_tp_open(struct cnio_stack *st, const struct cnio_hints *h, struct cnio_tp **out)
{
    return -CNIO_ERR_NOTSUP;   /* never found by name: cnio__ep_open_tp is given it */
}

static int fz_connect(struct cnio_tp *tp, const struct cnio_peer *peer, struct cnio_conn **out)
{
    struct fz_conn *c = calloc(1, sizeof(*c));

    if (!c)
        return -CNIO_ERR_NOMEM;
    /* always readable and writable: each progress call asks recvv and sendv */
    c->fd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->fd < 0) {
        free(c);
        return -CNIO_ERR_IO;
    }
    c->base.tp = tp;
    fz.conns++;
    *out = &c->base;
    return 0;
}

static ssize_t fz_sendv(struct cnio_conn *c, const struct iovec *iov, int n)
{
    size_t total = 0;

    for (int i = 0; i < n; i++)
        total += iov[i].iov_len;
    fz_grow(&fz.out, &fz.ocap, fz.olen + total);
    for (int i = 0; i < n; i++)
        if (iov[i].iov_len) {
            memcpy(fz.out + fz.olen, iov[i].iov_base, iov[i].iov_len);
            fz.olen += iov[i].iov_len;
        }
    return (ssize_t)total;
}

static ssize_t fz_recvv(struct cnio_conn *c, const struct iovec *iov, int n)
{
    size_t left = fz.len - fz.off, moved = 0;

    if (fz.piece && left > fz.piece)
        left = fz.piece;
    if (!left)
        return fz.eof ? -CNIO_ERR_CONN : 0;
    for (int i = 0; i < n && left; i++) {
        size_t k = CNIO_MIN(left, iov[i].iov_len);

        memcpy(iov[i].iov_base, fz.in + fz.off, k);
        fz.off += k;
        left -= k;
        moved += k;
    }
    return (ssize_t)moved;
}

static void fz_close(struct cnio_conn *conn)
{
    struct fz_conn *c = (struct fz_conn *)conn;

    close(c->fd);
    free(c);
    fz.conns--;
}

static int fz_fd(struct cnio_conn *c)
{
    return ((struct fz_conn *)c)->fd;
}

static void fz_fini(struct cnio_tp *tp)
{
}

static const struct cnio_transport_ops fz_ops = {
    .size = sizeof(fz_ops), .name = "fuzz", .open = fz_tp_open, .connect = fz_connect,
    .connect_start = cnio__tp_notsup_connect, .connect_poll = cnio__tp_notsup_connect_poll,
    .sendv = fz_sendv, .recvv = fz_recvv, .progress = cnio__tp_progress_none,
    .close = fz_close, .fd = fz_fd, .fini = fz_fini, .framed = 0,
    .msend = cnio__tp_notsup_msend, .mpoll = cnio__tp_notsup_mpoll,
    .provider = cnio__tp_provider_name,
};

/* ---- the fake server ----------------------------------------------------------------- */

/* Reads the frames the client sent: each must be well-formed. Keeps their ids and the
 * AUTH. */
static void fz_read_client(void)
{
    while (fz.olen - fz.oparsed >= CNIO_WIRE_HDR_SIZE) {
        const uint8_t *p = fz.out + fz.oparsed;
        struct cnio_wire_hdr h;

        FZ_CHECK(cnio__wire_hdr_decode(p, &h) == 0);
        if (fz.olen - fz.oparsed < CNIO_WIRE_HDR_SIZE + (size_t)h.length)
            return;
        FZ_CHECK(cnio__wire_payload_check(&h, p + CNIO_WIRE_HDR_SIZE) == 0);
        if (fz.nsent < FZ_MAX_SENT)
            fz.sent[fz.nsent++] = (struct fz_sent){ h.reqid, h.type };
        if (h.type == CNIO_WIRE_AUTH && !fz.have_auth) {
            FZ_CHECK(cnio__wire_auth_parse(p + CNIO_WIRE_HDR_SIZE, h.length, &fz.auth) == 0);
            fz.auth_reqid = h.reqid;
            fz.have_auth = 1;
        }
        fz.oparsed += CNIO_WIRE_HDR_SIZE + h.length;
    }
}

/* Appends a frame; bad: 1 breaks its header CRC, 2 its payload CRC. Where its payload is. */
static size_t fz_frame(struct cnio_wire_hdr h, const uint8_t *pl, int bad)
{
    uint8_t hb[CNIO_WIRE_HDR_SIZE];

    h.payload_crc = h.length ? cnio__crc32c(0, pl, h.length) : 0;
    if (bad & 2)
        h.payload_crc ^= 1;
    cnio__wire_hdr_encode(&h, hb);
    if (bad & 1)
        hb[CNIO_WIRE_HDR_SIZE - 1] ^= 1;
    fz_put(hb, sizeof(hb));
    return fz_put(pl, h.length);
}

/* Progress until nothing moves (or the rounds run out); reads what the client sent. */
static void fz_run(struct cnio_stack *st, int rounds)
{
    int still = 0;

    for (int i = 0; i < rounds && still < 2; i++) {
        size_t off = fz.off, olen = fz.olen;

        FZ_CHECK(cnio__stack_progress(st, 0) == 0);
        fz_read_client();
        still = fz.off == off && fz.olen == olen ? still + 1 : 0;
    }
}

/* The scripted handshake's fields. how: 1 the CHALLENGE says an error, 2 the proof is
 * wrong, 4 the AUTH is refused, 8 with a reason, 16 the CHALLENGE's reserved word is
 * not 0. */
struct fz_hs {
    uint32_t caps, credits, max_payload;
    uint64_t idle, session;
    uint8_t how;
};

static void fz_hs_read(struct fz_in *in, struct fz_hs *hs)
{
    static const uint32_t mps[] = { 1, 64, 4096, 1u << 20, CNIO_WIRE_MAX_PAYLOAD, 0,
                                    CNIO_WIRE_MAX_PAYLOAD + 1 };
    static const uint64_t idles[] = { 0, 1, 600, UINT32_MAX, (uint64_t)UINT32_MAX + 1,
                                      UINT64_MAX };

    hs->caps = (uint32_t)fz_take(in, 2);
    hs->credits = (uint32_t)fz_take(in, 1);
    hs->max_payload = mps[fz_take(in, 1) % CNIO_ARRAY_LEN(mps)];
    hs->idle = idles[fz_take(in, 1) % CNIO_ARRAY_LEN(idles)];
    hs->how = (uint8_t)fz_take(in, 1);
    hs->session = fz_take(in, 8);
}

static void fz_challenge(const struct fz_hs *hs)
{
    struct cnio_wire_hdr h = { .type = CNIO_WIRE_CHALLENGE, .offset = hs->idle };
    uint8_t pl[CNIO_WIRE_CHALLENGE_SIZE];

    cnio__put_le32(pl, hs->caps);
    cnio__put_le32(pl + 4, hs->max_payload);
    cnio__put_le32(pl + 8, hs->credits);
    cnio__put_le32(pl + 12, hs->how & 16 ? 1 : 0);
    memcpy(pl + 16, fz_nonce, CNIO_WIRE_NONCE);
    h.status = hs->how & 1 ? -CNIO_ERR_LIMIT : 0;
    h.length = h.status ? 0 : CNIO_WIRE_CHALLENGE_SIZE;
    fz_frame(h, pl, 0);
}

static void fz_auth_reply(const struct fz_hs *hs)
{
    static const char why[] = "the fuzzer's server refuses";
    struct cnio_wire_hdr h = { .type = CNIO_WIRE_AUTH | CNIO_WIRE_REPLY,
                               .reqid = fz.auth_reqid, .session = hs->session };
    uint8_t mac[CNIO_WIRE_MAC];

    FZ_CHECK(cnio__auth_verify(&fz_key, fz_nonce, &fz.auth, mac) == 0);   /* the key's */
    if (hs->how & 2)
        mac[hs->how % CNIO_WIRE_MAC] ^= 0x80;
    if (hs->how & 4) {
        h.status = -CNIO_ERR_AUTH;
        h.flags = hs->how & 8 ? CNIO_WIRE_F_REASON : 0;
        h.length = hs->how & 8 ? sizeof(why) - 1 : 0;
        fz_frame(h, (const uint8_t *)why, 0);
        return;
    }
    h.length = CNIO_WIRE_MAC;
    fz_frame(h, mac, 0);
}

/* What the endpoint must have made of a scripted handshake. */
static void fz_hs_check(const struct cnio_ep *ep, const struct fz_hs *hs)
{
    int good = !(hs->how & 0x17) && hs->credits && hs->max_payload &&
               hs->max_payload <= CNIO_WIRE_MAX_PAYLOAD;

    FZ_CHECK(cnio__ep_ready(ep) == good);
    if (!good) {
        FZ_CHECK(cnio__ep_error(ep) < 0);
        return;
    }
    FZ_CHECK(ep->credits == CNIO_MIN(hs->credits, (uint32_t)CNIO_EP_MAX_INFLIGHT));
    FZ_CHECK(ep->max_payload == hs->max_payload && cnio__ep_caps(ep) == hs->caps);
    FZ_CHECK(ep->session == hs->session);
    if ((hs->caps & CNIO_WIRE_CAP_IDLE) && hs->idle <= UINT32_MAX)
        FZ_CHECK(ep->idle_ms == (int64_t)hs->idle * 1000);
    else
        FZ_CHECK(ep->idle_ms == 0);
}

/* ---- the client's requests ---------------------------------------------------------- */

static void fz_done(struct cnio_req *r)
{
    struct fz_req *q = r->arg;

    FZ_CHECK(++q->done == 1);
    FZ_CHECK(r->status <= 0 && r->status > -CNIO_ERR_MAX_);
    FZ_CHECK(!r->reasoned || (r->status && r->rlen == 0));
    if (!r->status)
        FZ_CHECK(r->rlen <= q->rcap);
    q->status = r->status;
    q->reasoned = r->reasoned;
    q->reqid = r->reqid;
    q->rlen = r->rlen;
    q->rflags = r->rflags;
    q->robject = r->robject;
    q->roffset = r->roffset;
}

/* Submits one request of a kind the input picks. */
static void fz_submit(struct cnio_stack *st, struct cnio_ep *ep, struct fz_in *in,
                      struct fz_req *q)
{
    static const struct { uint16_t type; uint32_t plen, rcap; } kinds[] = {
        { CNIO_WIRE_PING, 0, 0 }, { CNIO_WIRE_STAT, 25, CNIO_WIRE_INFO_SIZE },
        { CNIO_WIRE_OPEN, 25, CNIO_WIRE_INFO_SIZE }, { CNIO_WIRE_LIST, 24, 64 },
        { CNIO_WIRE_READ, 8, 1 }, { CNIO_WIRE_CRC, 8, CNIO_WIRE_CRC_SIZE },
        { CNIO_WIRE_FABRIC, 0, 4 + CNIO_WIRE_MAX_PROV + CNIO_WIRE_MAX_FABADDR },
        { CNIO_WIRE_CLOSE, 0, 0 }, { CNIO_WIRE_SYNC, 0, 0 }, { CNIO_WIRE_WRITE, 1, 0 },
        { CNIO_WIRE_SETSIZE, 0, CNIO_WIRE_INFO_SIZE }, { CNIO_WIRE_UNLINK, 25, 0 },
        { CNIO_WIRE_COMMIT, 0, 0 },
    };
    size_t k = (size_t)fz_take(in, 1) % CNIO_ARRAY_LEN(kinds);
    uint32_t extra = (uint32_t)fz_take(in, 2);
    struct cnio_req *r = cnio__req_get(st);

    FZ_CHECK(r);
    q->type = kinds[k].type;
    q->rcap = kinds[k].rcap;
    if (q->type == CNIO_WIRE_PING || q->type == CNIO_WIRE_LIST || q->type == CNIO_WIRE_READ)
        q->rcap += extra % 8192;   /* (what a caller asks for) */
    q->rbuf = q->rcap ? malloc(q->rcap) : NULL;
    FZ_CHECK(!q->rcap || q->rbuf);
    r->type = q->type;
    r->payload = fz_zeros;
    r->plen = q->type == CNIO_WIRE_WRITE ? 1 + extra % 256 : kinds[k].plen;
    r->rbuf = q->rbuf;
    r->rcap = q->rcap;
    r->what = extra & 1 ? "fuzz/object" : NULL;   /* named in a reason's line */
    r->done = fz_done;
    r->arg = q;
    q->submitted = cnio__ep_submit(ep, r) == 0;
}

/* ---- the stream as frames ----------------------------------------------------------- */

/* One frame from the input (see the top of the file); 0 when the input is used up. */
static int fz_one_frame(struct fz_in *in, uint64_t session)
{
    static const uint16_t types[] = {
        CNIO_WIRE_CHALLENGE, CNIO_WIRE_AUTH | CNIO_WIRE_REPLY, CNIO_WIRE_PING | CNIO_WIRE_REPLY,
        CNIO_WIRE_OPEN | CNIO_WIRE_REPLY, CNIO_WIRE_STAT | CNIO_WIRE_REPLY,
        CNIO_WIRE_LIST | CNIO_WIRE_REPLY, CNIO_WIRE_READ | CNIO_WIRE_REPLY,
        CNIO_WIRE_CRC | CNIO_WIRE_REPLY, CNIO_WIRE_FABRIC | CNIO_WIRE_REPLY,
        CNIO_WIRE_CLOSE | CNIO_WIRE_REPLY, CNIO_WIRE_PING, 99 | CNIO_WIRE_REPLY,
        CNIO_WIRE_CHALLENGE | CNIO_WIRE_REPLY,
    };
    static const int32_t statuses[] = { 0, -CNIO_ERR_NOENT, -CNIO_ERR_LIMIT, -CNIO_ERR_IO,
                                        -(CNIO_ERR_MAX_ - 1), -CNIO_ERR_MAX_, 1 };
    struct cnio_wire_hdr h = { .session = session };
    const struct fz_sent *s;
    uint8_t sel, bits, *pl;
    size_t k;

    if (!in->n)
        return 0;
    sel = (uint8_t)fz_take(in, 1);
    bits = (uint8_t)fz_take(in, 1);
    s = fz.nsent ? &fz.sent[sel % fz.nsent] : NULL;
    h.reqid = (bits & 1) || !s ? fz_take(in, 2) : s->reqid;
    h.type = (bits & 2) || !s ? types[fz_take(in, 1) % CNIO_ARRAY_LEN(types)]
                            : (uint16_t)(s->type | CNIO_WIRE_REPLY);
    h.status = bits & 4 ? statuses[fz_take(in, 1) % CNIO_ARRAY_LEN(statuses)] : 0;
    h.flags = bits & 8 ? (uint32_t)fz_take(in, 1) & 0x1f : 0;
    h.object = fz_take(in, bits & 16 ? 8 : 1);
    h.offset = fz_take(in, bits & 16 ? 8 : 1);
    if (bits & 32)
        h.length = (uint32_t)fz_take(in, 2);
    else if (h.status)
        h.length = h.flags & CNIO_WIRE_F_REASON ? 1 + (uint32_t)fz_take(in, 1) : 0;
    else if ((h.type & ~CNIO_WIRE_REPLY) == CNIO_WIRE_CHALLENGE)
        h.length = CNIO_WIRE_CHALLENGE_SIZE;
    else if (h.type == (CNIO_WIRE_AUTH | CNIO_WIRE_REPLY))
        h.length = CNIO_WIRE_MAC;
    else if (h.type == (CNIO_WIRE_STAT | CNIO_WIRE_REPLY) ||
             h.type == (CNIO_WIRE_OPEN | CNIO_WIRE_REPLY))
        h.length = CNIO_WIRE_INFO_SIZE;
    else if (h.type == (CNIO_WIRE_CRC | CNIO_WIRE_REPLY))
        h.length = CNIO_WIRE_CRC_SIZE;
    else
        h.length = (uint32_t)fz_take(in, 1) * 8;
    k = CNIO_MIN(in->n, (size_t)h.length);
    pl = calloc(1, (size_t)h.length + 1);   /* past the input's end: zeros */
    FZ_CHECK(pl);
    memcpy(pl, in->p, k);
    in->p += k;
    in->n -= k;
    fz.frames[fz.nframes++] = (struct fz_frame){ h, fz.len + CNIO_WIRE_HDR_SIZE };
    fz_frame(h, pl, bits >> 6);
    free(pl);
    return 1;
}

/* A request done with status 0 got what the first frame with its id carried. */
static void fz_check_reply(const struct fz_req *q)
{
    const struct fz_frame *f = NULL;

    for (int i = 0; i < fz.nframes && !f; i++)
        if (fz.frames[i].h.reqid == q->reqid)
            f = &fz.frames[i];
    FZ_CHECK(f && f->h.status == 0 && f->h.type == (q->type | CNIO_WIRE_REPLY));
    FZ_CHECK(f->h.length == q->rlen && f->h.flags == q->rflags);
    FZ_CHECK(f->h.object == q->robject && f->h.offset == q->roffset);
    FZ_CHECK(!q->rlen || !memcmp(q->rbuf, fz.in + f->at, q->rlen));
}

/* ---- one input ---------------------------------------------------------------------- */

static void fz_reset(void)
{
    free(fz.in);
    free(fz.out);
    memset(&fz, 0, sizeof(fz));
}

/*
 * Runs one input; when stream is not NULL, leaves in it a copy of the bytes sent after
 * the handshake and the requests (*slen bytes), and in *head how many input bytes came
 * before them (for the raw twin of a frames seed).
 */
static void fz_one(const uint8_t *data, size_t size, uint8_t **stream, size_t *slen,
                   size_t *head)
{
    struct fz_in in = { data, size };
    uint8_t mode = (uint8_t)fz_take(&in, 1);
    struct cnio_ep_auth auth = { .mode = CNIO_WIRE_AUTH_KEY, .k = fz_key.bytes,
                                 .klen = fz_key.len };
    struct cnio_tp tp = { .ops = &fz_ops };
    struct fz_req reqs[FZ_MAX_REQS] = { 0 };
    struct cnio_addr addr = { .len = sizeof(struct sockaddr_in) };
    struct cnio_stack *st;
    struct cnio_ep *ep;
    struct fz_hs hs = { 0 };
    size_t from;
    int nreq = 0;

    fz_reset();
    fz.piece = mode >> 4 ? (size_t)1 << ((mode >> 4) - 1) : 0;
    addr.ss.ss_family = AF_INET;
    FZ_CHECK(cnio__stack_open(&st) == 0);
    tp.st = st;
    FZ_CHECK(cnio__ep_open_tp(st, &tp, 60000, &addr, "fuzz", &auth, &ep) == 0);
    if (mode & FZ_SCRIPTED) {
        fz_hs_read(&in, &hs);
        fz_challenge(&hs);
        fz_run(st, FZ_ROUNDS);
        if (fz.have_auth) {
            fz_auth_reply(&hs);
            fz_run(st, FZ_ROUNDS);
        }
        fz_hs_check(ep, &hs);
        nreq = (int)(fz_take(&in, 1) % (FZ_MAX_REQS + 1));
        for (int i = 0; i < nreq; i++)
            fz_submit(st, ep, &in, &reqs[i]);
        fz_run(st, FZ_ROUNDS);
    } else {
        fz.sent[fz.nsent++] = (struct fz_sent){ FZ_AUTH_REQID, CNIO_WIRE_AUTH };
    }
    from = fz.len;
    if (head)
        *head = size - in.n;
    if (mode & FZ_RAW)
        fz_put(in.p, in.n);
    else
        while (fz.nframes < FZ_MAX_FRAMES && fz_one_frame(&in, hs.session))
            ;
    if (stream) {
        *slen = fz.len - from;
        *stream = malloc(*slen + 1);
        FZ_CHECK(*stream);
        memcpy(*stream, fz.in + from, *slen);
    }
    fz_run(st, FZ_ROUNDS);
    fz.eof = 1;   /* the server closes: everything ends now */
    fz_run(st, 8);
    FZ_CHECK(cnio__ep_error(ep) < 0 && fz.conns == 0);
    for (int i = 0; i < nreq; i++) {
        FZ_CHECK(reqs[i].done == reqs[i].submitted);
        if (reqs[i].submitted && !reqs[i].status && !(mode & FZ_RAW))
            fz_check_reply(&reqs[i]);
        free(reqs[i].rbuf);
    }
    cnio__ep_close(ep);
    cnio__stack_close(st);
    fz_reset();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;

    if (!quiet) {
        cnio__log_set_level(CNIO_LOG_ERROR);
        quiet = 1;
    }
    fz_one(data, size, NULL, NULL, NULL);
    return 0;
}

/* ---- the seed corpus ----------------------------------------------------------------- */

struct fz_w {
    uint8_t b[16384];
    size_t n;
};

static void fz_w_u(struct fz_w *w, uint64_t v, size_t bytes)
{
    for (size_t i = 0; i < bytes && w->n < sizeof(w->b); i++)
        w->b[w->n++] = (uint8_t)(v >> (8 * i));
}

static void fz_w_bytes(struct fz_w *w, const void *p, size_t n)
{
    n = CNIO_MIN(n, sizeof(w->b) - w->n);
    if (n)
        memcpy(w->b + w->n, p, n);
    w->n += n;
}

/* A frame spec answering the client's sent[sent] (0: the AUTH), with an explicit length. */
static void fz_w_frame(struct fz_w *w, int sent, int status_idx, uint32_t flags,
                       const void *pl, size_t len)
{
    uint8_t bits = 32 | (status_idx ? 4 : 0) | (flags ? 8 : 0);

    fz_w_u(w, (uint64_t)sent, 1);
    fz_w_u(w, bits, 1);
    if (status_idx)
        fz_w_u(w, (uint64_t)status_idx, 1);
    if (flags)
        fz_w_u(w, flags, 1);
    fz_w_u(w, 7, 1);                          /* object */
    fz_w_u(w, 3, 1);                          /* offset */
    fz_w_u(w, len, 2);
    fz_w_bytes(w, pl, len);
}

/* The scripted handshake's fields: caps, credits, max payload, idle, how, session. */
static void fz_w_hs(struct fz_w *w, uint8_t mode, uint32_t caps, uint8_t credits, int mp,
                    int idle, uint8_t how)
{
    fz_w_u(w, mode | FZ_SCRIPTED, 1);
    fz_w_u(w, caps, 2);
    fz_w_u(w, credits, 1);
    fz_w_u(w, (uint64_t)mp, 1);
    fz_w_u(w, (uint64_t)idle, 1);
    fz_w_u(w, how, 1);
    fz_w_u(w, 0x5e5510aull, 8);
}

/* Replies to requests of kinds PING, STAT, LIST, READ, CRC, FABRIC, CLOSE, WRITE. */
static void fz_w_replies(struct fz_w *w)
{
    struct cnio_wire_info info = { .stripe_unit = 1u << 20, .stripe_count = 2, .size = 4096,
                                   .local_size = 4096, .flags = CNIO_WIRE_I_CREATED,
                                   .gen = 7, .mtime_ns = 1700000000000000000ll };
    struct cnio_wire_entry e = { .info = info, .name = "run7", .name_len = 4 };
    struct cnio_wire_crc crc = { .covered = 100, .crc = 0x12345678 };
    struct cnio_wire_fabric f = { .prov = "tcp;ofi_rxm", .prov_len = 11,
                                  .addr = fz_nonce, .addr_len = 16 };
    uint8_t b[512];
    int n;

    fz_w_u(w, 8, 1);   /* eight requests */
    for (int k = 0; k < 8; k++) {
        static const uint8_t kinds[] = { 0, 1, 3, 4, 5, 6, 7, 9 };

        fz_w_u(w, kinds[k], 1);
        fz_w_u(w, 200, 2);
    }
    fz_w_frame(w, 1, 0, 0, "pong", 4);
    FZ_CHECK(cnio__wire_info_encode(&info, b, sizeof(b)) == CNIO_WIRE_INFO_SIZE);
    fz_w_frame(w, 2, 0, 0, b, CNIO_WIRE_INFO_SIZE);
    n = cnio__wire_entry_encode(&e, b, sizeof(b));
    e.info.flags = CNIO_WIRE_I_DIR | (040755u << CNIO_WIRE_I_MODE_SHIFT);
    e.info.stripe_count = 0;
    e.name = "dir";
    e.name_len = 3;
    n += cnio__wire_entry_encode(&e, b + n, sizeof(b) - (size_t)n);
    fz_w_frame(w, 3, 0, CNIO_WIRE_F_MORE, b, (size_t)n);
    fz_w_frame(w, 4, 0, 0, fz_zeros, 100);
    FZ_CHECK(cnio__wire_crc_encode(&crc, b, sizeof(b)) == CNIO_WIRE_CRC_SIZE);
    fz_w_frame(w, 5, 0, 0, b, CNIO_WIRE_CRC_SIZE);
    n = cnio__wire_fabric_encode(&f, b, sizeof(b));
    fz_w_frame(w, 6, 0, 0, b, (size_t)n);
    fz_w_frame(w, 7, 0, 0, NULL, 0);
    fz_w_frame(w, 8, 0, 0, NULL, 0);
}

/* A conversation without a scripted handshake: the CHALLENGE and an AUTH reply. */
static void fz_w_bare(struct fz_w *w, uint32_t caps)
{
    struct cnio_wire_challenge c = { .caps = caps, .max_payload = 1u << 20, .credits = 16 };
    uint8_t b[CNIO_WIRE_CHALLENGE_SIZE];

    memcpy(c.nonce, fz_nonce, sizeof(c.nonce));
    FZ_CHECK(cnio__wire_challenge_encode(&c, b, sizeof(b)) == CNIO_WIRE_CHALLENGE_SIZE);
    fz_w_u(w, 0, 1);
    fz_w_u(w, 32 | 2, 1);                     /* type from the table: CHALLENGE */
    fz_w_u(w, 0, 1);
    fz_w_u(w, 0, 1);
    fz_w_u(w, 60, 1);                         /* offset: the idle timeout */
    fz_w_u(w, sizeof(b), 2);
    fz_w_bytes(w, b, sizeof(b));
    fz_w_frame(w, 0, 0, 0, fz_nonce, CNIO_WIRE_MAC);
}

static int fz_write(const char *dir, const char *name, const uint8_t *b, size_t n)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n || fclose(f)) {
        fprintf(stderr, "fuzz_client: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

/* Writes seed w as name, and its raw twin (the same stream, sent as bytes) as name-raw. */
static int fz_seed(const char *dir, const char *name, const struct fz_w *w)
{
    char raw[256];
    uint8_t *s = NULL, *b;
    size_t slen = 0, head = 0;
    int ret;

    fz_one(w->b, w->n, &s, &slen, &head);
    b = malloc(head + slen + 1);
    FZ_CHECK(b);
    memcpy(b, w->b, head);
    b[0] |= FZ_RAW;
    memcpy(b + head, s, slen);
    snprintf(raw, sizeof(raw), "%s-raw", name);
    ret = fz_write(dir, name, w->b, w->n) || fz_write(dir, raw, b, head + slen);
    free(b);
    free(s);
    return ret;
}

int cnio_fuzz_corpus(const char *dir)
{
    static const char why[] = "no such object";
    static const uint8_t hows[] = { 2, 4 | 8, 1, 16 };
    struct fz_w w;
    int ret = 0;

    cnio__log_set_level(CNIO_LOG_ERROR);
    /* every capability, 16 credits, 1 MiB, idle 600 s; reads in pieces of 16 bytes */
    w.n = 0;
    fz_w_hs(&w, 5 << 4, 0x1ff, 16, 3, 2, 0);
    fz_w_replies(&w);
    ret |= fz_seed(dir, "seed-replies", &w);
    /* the same, from a server that announces nothing (FABRIC is refused before it goes) */
    w.n = 0;
    fz_w_hs(&w, 0, 0, 16, 3, 0, 0);
    fz_w_replies(&w);
    ret |= fz_seed(dir, "seed-legacy", &w);
    /* a refusal with its reason, then a reply; byte by byte */
    w.n = 0;
    fz_w_hs(&w, 1 << 4, CNIO_WIRE_CAP_REASON | CNIO_WIRE_CAP_IDLE, 64, 4, 4, 0);
    fz_w_u(&w, 2, 1);
    fz_w_u(&w, 1, 1);                       /* STAT, its name in the reason's line */
    fz_w_u(&w, 1, 2);
    fz_w_u(&w, 2, 1);                       /* OPEN */
    fz_w_u(&w, 0, 2);
    fz_w_frame(&w, 1, 1, CNIO_WIRE_F_REASON, why, sizeof(why) - 1);
    fz_w_frame(&w, 2, 0, 0, fz_zeros, CNIO_WIRE_INFO_SIZE);
    ret |= fz_seed(dir, "seed-reason", &w);
    /* handshakes that fail: a wrong proof, a refusal with a reason, a CHALLENGE error,
     * a CHALLENGE's reserved word set */
    for (size_t i = 0; i < CNIO_ARRAY_LEN(hows); i++) {
        char name[64];

        w.n = 0;
        fz_w_hs(&w, 0, CNIO_WIRE_CAP_REASON, 8, 3, 5, hows[i]);
        fz_w_u(&w, 0, 1);
        snprintf(name, sizeof(name), "seed-handshake-%u", hows[i]);
        ret |= fz_seed(dir, name, &w);
    }
    /* the handshake from the stream itself: a CHALLENGE and an AUTH reply (which cannot
     * hold the proof of the client's fresh nonce) */
    w.n = 0;
    fz_w_bare(&w, CNIO_WIRE_CAP_IDLE);
    ret |= fz_seed(dir, "seed-bare", &w);
    if (!ret)
        printf("fuzz_client: seeds in %s\n", dir);
    return ret;
}
