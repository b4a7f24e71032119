/*
 * wire.c - encoding and parsing of cnio frames (layout in wire.h, semantics in
 * doc/protocol.md).
 *
 * Every parser takes a buffer and its length, checks every length before it reads,
 * and never reads past the end. A header is accepted only when its length fits its
 * type, so a receiver can size its buffer from a decoded header before it reads the
 * payload.
 */
#include "common.h"
#include "wire.h"

#include <string.h>

#define WIRE_OFF_MAGIC 0
#define WIRE_OFF_VERSION 4
#define WIRE_OFF_TYPE 6
#define WIRE_OFF_FLAGS 8
#define WIRE_OFF_STATUS 12
#define WIRE_OFF_REQID 16
#define WIRE_OFF_SESSION 24
#define WIRE_OFF_OBJECT 32
#define WIRE_OFF_OFFSET 40
#define WIRE_OFF_LENGTH 48
#define WIRE_OFF_PCRC 52
#define WIRE_OFF_RESERVED 56
#define WIRE_OFF_HCRC 60

/* Payload size rules of one frame type (request or reply). */
enum {
    WIRE_ANY_CTRL,     /* 0..CNIO_WIRE_MAX_CTRL */
    WIRE_ANY_DATA,     /* 0..CNIO_WIRE_MAX_PAYLOAD */
    WIRE_EXACT,        /* exactly `size` (when status is 0) */
    WIRE_AT_LEAST,     /* size..CNIO_WIRE_MAX_CTRL */
};

struct wire_rule {
    uint16_t type;     /* base type, without CNIO_WIRE_REPLY */
    uint8_t req_kind;
    uint8_t rep_kind;
    uint32_t req_size;
    uint32_t rep_size;
    uint32_t req_flags; /* header flag bits allowed on requests */
    uint32_t rep_flags; /* ... and on replies */
};

static const struct wire_rule wire_rules[] = {
    { CNIO_WIRE_CHALLENGE, WIRE_EXACT, WIRE_EXACT, CNIO_WIRE_CHALLENGE_SIZE,
      CNIO_WIRE_CHALLENGE_SIZE, 0, 0 },
    { CNIO_WIRE_AUTH, WIRE_EXACT, WIRE_EXACT, CNIO_WIRE_AUTH_SIZE, CNIO_WIRE_MAC,
      CNIO_WIRE_F_REASON, 0 },
    { CNIO_WIRE_PING, WIRE_ANY_CTRL, WIRE_ANY_CTRL, 0, 0, 0, 0 },
    { CNIO_WIRE_OPEN, WIRE_AT_LEAST, WIRE_EXACT, CNIO_WIRE_OPEN_FIXED, CNIO_WIRE_INFO_SIZE,
      CNIO_WIRE_F_PRIOR | CNIO_WIRE_F_UPDATES, 0 },
    { CNIO_WIRE_STAT, WIRE_AT_LEAST, WIRE_EXACT, CNIO_WIRE_OPEN_FIXED, CNIO_WIRE_INFO_SIZE,
      CNIO_WIRE_F_LIVE | CNIO_WIRE_F_INPLACE | CNIO_WIRE_F_OTHERS, 0 },
    { CNIO_WIRE_SETSIZE, WIRE_EXACT, WIRE_EXACT, 0, CNIO_WIRE_INFO_SIZE,
      CNIO_WIRE_F_ALLOCATE | CNIO_WIRE_F_RECORD, 0 },
    { CNIO_WIRE_SYNC, WIRE_EXACT, WIRE_EXACT, 0, 0, 0, 0 },
    { CNIO_WIRE_CLOSE, WIRE_EXACT, WIRE_EXACT, 0, 0, CNIO_WIRE_F_GONE | CNIO_WIRE_F_UPDATES,
      CNIO_WIRE_F_GONE },
    { CNIO_WIRE_UNLINK, WIRE_AT_LEAST, WIRE_EXACT, CNIO_WIRE_OPEN_FIXED, 0, 0, 0 },
    { CNIO_WIRE_LIST, WIRE_AT_LEAST, WIRE_ANY_CTRL, CNIO_WIRE_OPEN_FIXED, 0, CNIO_WIRE_F_INPLACE,
      CNIO_WIRE_F_MORE },
    { CNIO_WIRE_WRITE, WIRE_ANY_DATA, WIRE_EXACT, 0, 0, 0, 0 },
    { CNIO_WIRE_READ, WIRE_EXACT, WIRE_ANY_DATA, 8, 0, 0, 0 },
    { CNIO_WIRE_COMMIT, WIRE_EXACT, WIRE_EXACT, 0, 0, CNIO_WIRE_F_GONE, CNIO_WIRE_F_GONE },
    { CNIO_WIRE_ABORT, WIRE_EXACT, WIRE_EXACT, 0, 0, 0, 0 },
    { CNIO_WIRE_CRC, WIRE_EXACT, WIRE_EXACT, 8, CNIO_WIRE_CRC_SIZE, 0, 0 },
    { CNIO_WIRE_MKDIR, WIRE_AT_LEAST, WIRE_EXACT, CNIO_WIRE_OPEN_FIXED, 0, 0, 0 },
    { CNIO_WIRE_RMDIR, WIRE_AT_LEAST, WIRE_EXACT, CNIO_WIRE_OPEN_FIXED, 0, 0, 0 },
    { CNIO_WIRE_RENAME, WIRE_AT_LEAST, WIRE_EXACT, 2 * CNIO_WIRE_OPEN_FIXED, 0, 0, 0 },
    { CNIO_WIRE_SETATTR, WIRE_AT_LEAST, WIRE_EXACT, CNIO_WIRE_OPEN_FIXED, 0, CNIO_WIRE_F_MTIME,
      0 },
    { CNIO_WIRE_FABRIC, WIRE_ANY_CTRL, WIRE_AT_LEAST, 0, 6, 0, 0 },
    { CNIO_WIRE_BUDGET, WIRE_EXACT, WIRE_EXACT, 0, 0, 0, 0 },
    { CNIO_WIRE_PREPARE, WIRE_EXACT, WIRE_EXACT, 0, 0, 0, 0 },
    { CNIO_WIRE_FINISH, WIRE_AT_LEAST, WIRE_EXACT, CNIO_WIRE_OPEN_FIXED, 0, 0, 0 },
};

static const struct wire_rule *wire_rule_find(uint16_t type)
{
    for (size_t i = 0; i < CNIO_ARRAY_LEN(wire_rules); i++)
        if (wire_rules[i].type == type)
            return &wire_rules[i];
    return NULL;
}

static int wire_length_ok(int kind, uint32_t size, uint32_t length)
{
    switch (kind) {
    case WIRE_ANY_CTRL:
        return length <= CNIO_WIRE_MAX_CTRL;
    case WIRE_ANY_DATA:
        return length <= CNIO_WIRE_MAX_PAYLOAD;
    case WIRE_EXACT:
        return length == size;
    case WIRE_AT_LEAST:
        return length >= size && length <= CNIO_WIRE_MAX_CTRL;
    default:
        return 0;
    }
}

void cnio__wire_hdr_encode(const struct cnio_wire_hdr *h, uint8_t out[CNIO_WIRE_HDR_SIZE])
{
    cnio__put_le32(out + WIRE_OFF_MAGIC, CNIO_WIRE_MAGIC);
    cnio__put_le16(out + WIRE_OFF_VERSION, h->version ? h->version : CNIO_WIRE_VERSION);
    cnio__put_le16(out + WIRE_OFF_TYPE, h->type);
    cnio__put_le32(out + WIRE_OFF_FLAGS, h->flags);
    cnio__put_le32(out + WIRE_OFF_STATUS, (uint32_t)h->status);
    cnio__put_le64(out + WIRE_OFF_REQID, h->reqid);
    cnio__put_le64(out + WIRE_OFF_SESSION, h->session);
    cnio__put_le64(out + WIRE_OFF_OBJECT, h->object);
    cnio__put_le64(out + WIRE_OFF_OFFSET, h->offset);
    cnio__put_le32(out + WIRE_OFF_LENGTH, h->length);
    cnio__put_le32(out + WIRE_OFF_PCRC, h->payload_crc);
    cnio__put_le32(out + WIRE_OFF_RESERVED, 0);
    cnio__put_le32(out + WIRE_OFF_HCRC, cnio__crc32c(0, out, WIRE_OFF_HCRC));
}

/* Checks the fields of a decoded header against the rules of its type. */
static int wire_hdr_check(const struct cnio_wire_hdr *h)
{
    int reply = (h->type & CNIO_WIRE_REPLY) != 0;
    const struct wire_rule *r = wire_rule_find(h->type & (uint16_t)~CNIO_WIRE_REPLY);
    uint32_t allowed;

    if (!r)
        return -CNIO_ERR_PROTO;
    allowed = reply ? r->rep_flags : r->req_flags;
    if (reply && h->status != 0)
        allowed = CNIO_WIRE_F_REASON;   /* an error reply may carry a reason, nothing else */
    if (h->flags & ~allowed)
        return -CNIO_ERR_PROTO;
    if (h->status > 0 || h->status <= -CNIO_ERR_MAX_)
        return -CNIO_ERR_PROTO;
    if (h->length == 0 && h->payload_crc != 0)
        return -CNIO_ERR_PROTO;
    if (h->status != 0) {
        if (!reply && r->type != CNIO_WIRE_CHALLENGE)
            return -CNIO_ERR_PROTO;
        if (h->flags & CNIO_WIRE_F_REASON)
            return h->length >= 1 && h->length <= CNIO_WIRE_MAX_REASON ? 0 : -CNIO_ERR_PROTO;
        return h->length == 0 ? 0 : -CNIO_ERR_PROTO;
    }
    if (reply)
        return wire_length_ok(r->rep_kind, r->rep_size, h->length) ? 0 : -CNIO_ERR_PROTO;
    return wire_length_ok(r->req_kind, r->req_size, h->length) ? 0 : -CNIO_ERR_PROTO;
}

int cnio__wire_hdr_decode(const uint8_t in[CNIO_WIRE_HDR_SIZE], struct cnio_wire_hdr *h)
{
    if (cnio__get_le32(in + WIRE_OFF_MAGIC) != CNIO_WIRE_MAGIC)
        return -CNIO_ERR_PROTO;
    if (cnio__get_le16(in + WIRE_OFF_VERSION) != CNIO_WIRE_VERSION)
        return -CNIO_ERR_PROTO;
    if (cnio__get_le32(in + WIRE_OFF_HCRC) != cnio__crc32c(0, in, WIRE_OFF_HCRC))
        return -CNIO_ERR_CHECKSUM;
    if (cnio__get_le32(in + WIRE_OFF_RESERVED) != 0)
        return -CNIO_ERR_PROTO;
    memset(h, 0, sizeof(*h));
    h->version = CNIO_WIRE_VERSION;
    h->type = cnio__get_le16(in + WIRE_OFF_TYPE);
    h->flags = cnio__get_le32(in + WIRE_OFF_FLAGS);
    h->status = (int32_t)cnio__get_le32(in + WIRE_OFF_STATUS);
    h->reqid = cnio__get_le64(in + WIRE_OFF_REQID);
    h->session = cnio__get_le64(in + WIRE_OFF_SESSION);
    h->object = cnio__get_le64(in + WIRE_OFF_OBJECT);
    h->offset = cnio__get_le64(in + WIRE_OFF_OFFSET);
    h->length = cnio__get_le32(in + WIRE_OFF_LENGTH);
    h->payload_crc = cnio__get_le32(in + WIRE_OFF_PCRC);
    return wire_hdr_check(h);
}

int cnio__wire_payload_check(const struct cnio_wire_hdr *h, const void *payload)
{
    if (h->length == 0)
        return h->payload_crc == 0 ? 0 : -CNIO_ERR_CHECKSUM;
    return cnio__crc32c(0, payload, h->length) == h->payload_crc ? 0 : -CNIO_ERR_CHECKSUM;
}

int cnio__wire_challenge_encode(const struct cnio_wire_challenge *c, uint8_t *out, size_t cap)
{
    if (!out || cap < CNIO_WIRE_CHALLENGE_SIZE)
        return -CNIO_ERR_INVAL;
    if (c->max_payload == 0 || c->max_payload > CNIO_WIRE_MAX_PAYLOAD || c->credits == 0)
        return -CNIO_ERR_INVAL;
    cnio__put_le32(out, c->caps);
    cnio__put_le32(out + 4, c->max_payload);
    cnio__put_le32(out + 8, c->credits);
    cnio__put_le32(out + 12, 0);
    memcpy(out + 16, c->nonce, CNIO_WIRE_NONCE);
    return CNIO_WIRE_CHALLENGE_SIZE;
}

int cnio__wire_challenge_parse(const uint8_t *in, size_t len, struct cnio_wire_challenge *c)
{
    if (!in || len != CNIO_WIRE_CHALLENGE_SIZE)
        return -CNIO_ERR_PROTO;
    c->caps = cnio__get_le32(in);
    c->max_payload = cnio__get_le32(in + 4);
    c->credits = cnio__get_le32(in + 8);
    c->reserved = cnio__get_le32(in + 12);
    memcpy(c->nonce, in + 16, CNIO_WIRE_NONCE);
    if (c->reserved != 0 || c->max_payload == 0 || c->max_payload > CNIO_WIRE_MAX_PAYLOAD ||
        c->credits == 0)
        return -CNIO_ERR_PROTO;
    return 0;
}

static int wire_auth_mode_ok(uint32_t mode)
{
    return mode == CNIO_WIRE_AUTH_KEY || mode == CNIO_WIRE_AUTH_TOKEN;
}

int cnio__wire_auth_encode(const struct cnio_wire_auth *a, uint8_t *out, size_t cap)
{
    if (!out || cap < CNIO_WIRE_AUTH_SIZE || !wire_auth_mode_ok(a->mode))
        return -CNIO_ERR_INVAL;
    cnio__put_le32(out, a->mode);
    cnio__put_le32(out + 4, a->rank);
    cnio__put_le64(out + 8, a->object);
    memcpy(out + 16, a->nonce, CNIO_WIRE_NONCE);
    memcpy(out + 16 + CNIO_WIRE_NONCE, a->mac, CNIO_WIRE_MAC);
    return CNIO_WIRE_AUTH_SIZE;
}

int cnio__wire_auth_parse(const uint8_t *in, size_t len, struct cnio_wire_auth *a)
{
    if (!in || len != CNIO_WIRE_AUTH_SIZE)
        return -CNIO_ERR_PROTO;
    a->mode = cnio__get_le32(in);
    a->rank = cnio__get_le32(in + 4);
    a->object = cnio__get_le64(in + 8);
    memcpy(a->nonce, in + 16, CNIO_WIRE_NONCE);
    memcpy(a->mac, in + 16 + CNIO_WIRE_NONCE, CNIO_WIRE_MAC);
    return wire_auth_mode_ok(a->mode) ? 0 : -CNIO_ERR_PROTO;
}

/* The checks shared by the OPEN encoder and parser (1 when the fields are valid). */
static int wire_open_ok(const struct cnio_wire_open *o, int allow_empty)
{
    if (o->flags & ~CNIO_WIRE_O_ALL)
        return 0;
    if (o->stripe_count != 0 && o->stripe_index >= o->stripe_count)
        return 0;
    if (o->name_len > CNIO_WIRE_MAX_NAME || (o->name_len == 0 && !allow_empty))
        return 0;
    if (o->name_len && (!o->name || memchr(o->name, '\0', o->name_len)))
        return 0;
    return 1;
}

int cnio__wire_open_encode(const struct cnio_wire_open *o, uint8_t *out, size_t cap)
{
    if (!out || !wire_open_ok(o, 1) || cap < CNIO_WIRE_OPEN_FIXED + (size_t)o->name_len)
        return -CNIO_ERR_INVAL;
    cnio__put_le32(out, o->flags);
    cnio__put_le32(out + 4, o->stripe_count);
    cnio__put_le64(out + 8, o->stripe_unit);
    cnio__put_le32(out + 16, o->stripe_index);
    cnio__put_le32(out + 20, o->name_len);
    if (o->name_len)
        memcpy(out + CNIO_WIRE_OPEN_FIXED, o->name, o->name_len);
    return CNIO_WIRE_OPEN_FIXED + (int)o->name_len;
}

int cnio__wire_open_parse(const uint8_t *in, size_t len, int allow_empty,
                          struct cnio_wire_open *o)
{
    if (!in || len < CNIO_WIRE_OPEN_FIXED)
        return -CNIO_ERR_PROTO;
    o->flags = cnio__get_le32(in);
    o->stripe_count = cnio__get_le32(in + 4);
    o->stripe_unit = cnio__get_le64(in + 8);
    o->stripe_index = cnio__get_le32(in + 16);
    o->name_len = cnio__get_le32(in + 20);
    o->name = (const char *)in + CNIO_WIRE_OPEN_FIXED;
    if (o->name_len != len - CNIO_WIRE_OPEN_FIXED)
        return -CNIO_ERR_PROTO;
    return wire_open_ok(o, allow_empty) ? 0 : -CNIO_ERR_PROTO;
}

int cnio__wire_rename_encode(const struct cnio_wire_open *from, const struct cnio_wire_open *to,
                             uint8_t *out, size_t cap)
{
    int a, b;

    if (!from->name_len || !to->name_len)
        return -CNIO_ERR_INVAL;
    a = cnio__wire_open_encode(from, out, cap);
    if (a < 0)
        return a;
    b = cnio__wire_open_encode(to, out + a, cap - (size_t)a);
    return b < 0 ? b : a + b;
}

int cnio__wire_rename_parse(const uint8_t *in, size_t len, struct cnio_wire_open *from,
                            struct cnio_wire_open *to)
{
    size_t first;

    if (!in || len < 2 * CNIO_WIRE_OPEN_FIXED)
        return -CNIO_ERR_PROTO;
    first = CNIO_WIRE_OPEN_FIXED + (size_t)cnio__get_le32(in + 20);
    if (first > len - CNIO_WIRE_OPEN_FIXED)
        return -CNIO_ERR_PROTO;
    if (cnio__wire_open_parse(in, first, 0, from) ||
        cnio__wire_open_parse(in + first, len - first, 0, to))
        return -CNIO_ERR_PROTO;
    return 0;
}

static int wire_info_ok(const struct cnio_wire_info *i)
{
    if (i->flags & ~(CNIO_WIRE_I_ALL | CNIO_WIRE_I_MODE_MASK))
        return 0;
    return i->stripe_count == 0 || i->stripe_index < i->stripe_count;
}

static void wire_info_put(const struct cnio_wire_info *i, uint8_t *out)
{
    cnio__put_le64(out, i->stripe_unit);
    cnio__put_le32(out + 8, i->stripe_count);
    cnio__put_le32(out + 12, i->stripe_index);
    cnio__put_le64(out + 16, i->size);
    cnio__put_le64(out + 24, i->local_size);
    cnio__put_le32(out + 32, i->flags);
    cnio__put_le32(out + 36, i->gen);
    cnio__put_le64(out + 40, (uint64_t)i->mtime_ns);
}

void cnio__wire_info_legacy(uint8_t *buf, size_t len, int entries)
{
    size_t pos = 0;

    while (pos + CNIO_WIRE_INFO_SIZE <= len) {
        uint32_t flags = cnio__get_le32(buf + pos + 32);

        cnio__put_le32(buf + pos + 32, flags & (CNIO_WIRE_I_CREATED | CNIO_WIRE_I_DIR));
        cnio__put_le32(buf + pos + 36, 0);
        if (!entries || pos + CNIO_WIRE_ENTRY_FIXED > len)
            break;
        pos += CNIO_WIRE_ENTRY_FIXED + (size_t)cnio__get_le32(buf + pos + CNIO_WIRE_INFO_SIZE);
    }
}

/* Reads an info block from 48 bytes at in: 0 or -CNIO_ERR_PROTO. */
static int wire_info_get(const uint8_t *in, struct cnio_wire_info *i)
{
    i->stripe_unit = cnio__get_le64(in);
    i->stripe_count = cnio__get_le32(in + 8);
    i->stripe_index = cnio__get_le32(in + 12);
    i->size = cnio__get_le64(in + 16);
    i->local_size = cnio__get_le64(in + 24);
    i->flags = cnio__get_le32(in + 32);
    i->gen = cnio__get_le32(in + 36);
    i->mtime_ns = (int64_t)cnio__get_le64(in + 40);
    return wire_info_ok(i) ? 0 : -CNIO_ERR_PROTO;
}

#define WIRE_UPDATES_MIX 0x9e3779b9u   /* odd: a count below 2^32 never mixes to 0 */

uint32_t cnio__wire_gen(uint64_t gen, uint32_t updates)
{
    uint32_t g = (uint32_t)gen + (updates & 0xffffu) * WIRE_UPDATES_MIX;

    return !gen || !(updates & 0xffffu) ? (uint32_t)gen : g ? g : 1;
}

uint32_t cnio__wire_gen_base(uint32_t wire_gen, uint32_t updates)
{
    return wire_gen ? wire_gen - (updates & 0xffffu) * WIRE_UPDATES_MIX : 0;
}

#define WIRE_UPDATES_UNMIX 0x144cbc89u   /* WIRE_UPDATES_MIX's inverse mod 2^32 */

int cnio__wire_gen_updates(uint32_t wire_gen, uint64_t gen, uint32_t *updates)
{
    uint32_t u = (wire_gen - (uint32_t)gen) * WIRE_UPDATES_UNMIX;

    if (!gen || u > 0xffffu || cnio__wire_gen(gen, u) != wire_gen)
        return -1;
    *updates = u;
    return 0;
}

int cnio__wire_info_encode(const struct cnio_wire_info *i, uint8_t *out, size_t cap)
{
    if (!out || cap < CNIO_WIRE_INFO_SIZE || !wire_info_ok(i))
        return -CNIO_ERR_INVAL;
    wire_info_put(i, out);
    return CNIO_WIRE_INFO_SIZE;
}

int cnio__wire_info_parse(const uint8_t *in, size_t len, struct cnio_wire_info *i)
{
    if (!in || len != CNIO_WIRE_INFO_SIZE)
        return -CNIO_ERR_PROTO;
    return wire_info_get(in, i);
}

int cnio__wire_entry_encode(const struct cnio_wire_entry *e, uint8_t *out, size_t cap)
{
    if (!out || !wire_info_ok(&e->info))
        return -CNIO_ERR_INVAL;
    if (e->name_len == 0 || e->name_len > CNIO_WIRE_MAX_NAME || !e->name ||
        memchr(e->name, '\0', e->name_len))
        return -CNIO_ERR_INVAL;
    if (cap < CNIO_WIRE_ENTRY_FIXED + (size_t)e->name_len)
        return -CNIO_ERR_INVAL;
    wire_info_put(&e->info, out);
    cnio__put_le32(out + CNIO_WIRE_INFO_SIZE, e->name_len);
    cnio__put_le32(out + CNIO_WIRE_INFO_SIZE + 4, 0);
    memcpy(out + CNIO_WIRE_ENTRY_FIXED, e->name, e->name_len);
    return CNIO_WIRE_ENTRY_FIXED + (int)e->name_len;
}

int cnio__wire_entry_next(const uint8_t *in, size_t len, size_t *pos, struct cnio_wire_entry *e)
{
    const uint8_t *p;
    size_t left;

    if (*pos == len)
        return 0;
    if (!in || *pos > len || len - *pos < CNIO_WIRE_ENTRY_FIXED)
        return -CNIO_ERR_PROTO;
    p = in + *pos;
    left = len - *pos - CNIO_WIRE_ENTRY_FIXED;
    if (wire_info_get(p, &e->info))
        return -CNIO_ERR_PROTO;
    e->name_len = cnio__get_le32(p + CNIO_WIRE_INFO_SIZE);
    if (cnio__get_le32(p + CNIO_WIRE_INFO_SIZE + 4) != 0)
        return -CNIO_ERR_PROTO;
    if (e->name_len == 0 || e->name_len > CNIO_WIRE_MAX_NAME || e->name_len > left)
        return -CNIO_ERR_PROTO;
    e->name = (const char *)p + CNIO_WIRE_ENTRY_FIXED;
    if (memchr(e->name, '\0', e->name_len))
        return -CNIO_ERR_PROTO;
    *pos += CNIO_WIRE_ENTRY_FIXED + e->name_len;
    return 1;
}

int cnio__wire_crc_encode(const struct cnio_wire_crc *c, uint8_t *out, size_t cap)
{
    if (!out || cap < CNIO_WIRE_CRC_SIZE || c->covered > CNIO_WIRE_MAX_PAYLOAD)
        return -CNIO_ERR_INVAL;
    cnio__put_le64(out, c->covered);
    cnio__put_le32(out + 8, c->crc);
    cnio__put_le32(out + 12, 0);
    return CNIO_WIRE_CRC_SIZE;
}

int cnio__wire_crc_parse(const uint8_t *in, size_t len, struct cnio_wire_crc *c)
{
    if (!in || len != CNIO_WIRE_CRC_SIZE)
        return -CNIO_ERR_PROTO;
    c->covered = cnio__get_le64(in);
    c->crc = cnio__get_le32(in + 8);
    if (c->covered > CNIO_WIRE_MAX_PAYLOAD || cnio__get_le32(in + 12) != 0)
        return -CNIO_ERR_PROTO;
    return 0;
}

int cnio__wire_u64_encode(uint64_t v, uint8_t *out, size_t cap)
{
    if (!out || cap < 8)
        return -CNIO_ERR_INVAL;
    cnio__put_le64(out, v);
    return 8;
}

int cnio__wire_u64_parse(const uint8_t *in, size_t len, uint64_t *v)
{
    if (!in || len != 8)
        return -CNIO_ERR_PROTO;
    *v = cnio__get_le64(in);
    return 0;
}

void cnio__wire_reason_text(const uint8_t *in, size_t len, char *out, size_t cap)
{
    size_t n = CNIO_MIN(len, cap - 1);

    for (size_t i = 0; i < n; i++)
        out[i] = in[i] < 0x20 || in[i] == 0x7f ? '?' : (char)in[i];
    out[n] = '\0';
}

int cnio__wire_fabric_encode(const struct cnio_wire_fabric *f, uint8_t *out, size_t cap)
{
    size_t n = 4 + (size_t)f->prov_len + f->addr_len;

    if (f->prov_len == 0 || f->prov_len > CNIO_WIRE_MAX_PROV || f->addr_len == 0 ||
        f->addr_len > CNIO_WIRE_MAX_FABADDR || cap < n)
        return -CNIO_ERR_INVAL;
    cnio__put_le16(out, (uint16_t)f->prov_len);
    cnio__put_le16(out + 2, (uint16_t)f->addr_len);
    memcpy(out + 4, f->prov, f->prov_len);
    memcpy(out + 4 + f->prov_len, f->addr, f->addr_len);
    return (int)n;
}

int cnio__wire_fabric_parse(const uint8_t *in, size_t len, struct cnio_wire_fabric *f)
{
    if (len < 4)
        return -CNIO_ERR_PROTO;
    f->prov_len = cnio__get_le16(in);
    f->addr_len = cnio__get_le16(in + 2);
    if (f->prov_len == 0 || f->prov_len > CNIO_WIRE_MAX_PROV || f->addr_len == 0 ||
        f->addr_len > CNIO_WIRE_MAX_FABADDR || len != 4 + (size_t)f->prov_len + f->addr_len)
        return -CNIO_ERR_PROTO;
    for (uint32_t i = 0; i < f->prov_len; i++)
        if (in[4 + i] < 0x21 || in[4 + i] > 0x7e)
            return -CNIO_ERR_PROTO;
    f->prov = (const char *)in + 4;
    f->addr = in + 4 + f->prov_len;
    return 0;
}
