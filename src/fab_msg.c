/*
 * fab_msg.c - the messages a peer sends over a fabric endpoint, checked before use (see
 * fab_msg.h). Whatever a provider reports received (a length, the bytes in a posted
 * buffer) comes from the peer: these are the only readers of those bytes until they are
 * checked, and tests/fuzz/fuzz_fabmsg.c feeds them arbitrary ones.
 */
#include "fab_msg.h"

#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

int cnio__fab_msg_decode(const uint8_t *hdr, size_t len, size_t cap, struct cnio_wire_hdr *h)
{
    int ret;

    if (len < CNIO_WIRE_HDR_SIZE)
        return -CNIO_ERR_PROTO;
    ret = cnio__wire_hdr_decode(hdr, h);
    if (ret)
        return ret;
    if (h->length != len - CNIO_WIRE_HDR_SIZE || h->length > cap)
        return -CNIO_ERR_PROTO;
    return 0;
}

int cnio__fab_reply_decode(const uint8_t *hdr, size_t len, size_t cap, uint64_t id,
                           struct cnio_wire_hdr *h)
{
    int ret = cnio__fab_msg_decode(hdr, len, cap, h);

    if (ret)
        return ret;
    if (!id)
        return h->type == CNIO_WIRE_CHALLENGE ? 0 : -CNIO_ERR_PROTO;
    if (!(h->type & CNIO_WIRE_REPLY) || h->reqid != id || (h->flags & CNIO_WIRE_F_REASON))
        return -CNIO_ERR_PROTO;
    return 0;
}

int cnio__fab_chal_parse(const uint8_t *msg, size_t len, uint32_t *sid)
{
    struct cnio_wire_hdr h;
    int ret = cnio__fab_reply_decode(msg, len, CNIO_WIRE_CHALLENGE_SIZE, 0, &h);

    *sid = 0;
    if (ret)
        return ret;
    if (h.status)
        return 0;
    if (h.object == 0 || h.object > UINT32_MAX)
        return -CNIO_ERR_PROTO;
    *sid = (uint32_t)h.object;
    return 0;
}

/* An address of the provider's is an IPv4 one when it is a whole sockaddr_in (the
 * family is read only then: a HELLO may be a single byte). */
int cnio__fab_hello_parse(const uint8_t *msg, size_t len, struct cnio_fab_hello *out)
{
    sa_family_t family;

    memset(out, 0, sizeof(*out));
    if (len == 0 || len > CNIO_FAB_ADDR_MAX)
        return -CNIO_ERR_PROTO;
    out->addr = msg;
    out->len = len;
    if (len < sizeof(struct sockaddr_in) || len > sizeof(out->ip.ss))
        return 0;
    memcpy(&family, msg + offsetof(struct sockaddr, sa_family), sizeof(family));
    if (family == AF_INET) {
        out->ip.len = (socklen_t)len;
        memcpy(&out->ip.ss, msg, len);
    }
    return 0;
}

int cnio__fab_chal_nonce(const uint8_t *msg, size_t len, uint8_t nonce[CNIO_WIRE_NONCE])
{
    struct cnio_wire_challenge ch;
    uint32_t sid;

    memset(nonce, 0, CNIO_WIRE_NONCE);
    if (cnio__fab_chal_parse(msg, len, &sid) || !sid ||
        cnio__wire_challenge_parse(msg + CNIO_WIRE_HDR_SIZE, len - CNIO_WIRE_HDR_SIZE, &ch))
        return -CNIO_ERR_PROTO;
    memcpy(nonce, ch.nonce, CNIO_WIRE_NONCE);
    return 0;
}

size_t cnio__fab_bye_encode(uint64_t session, const uint8_t *nonce,
                            uint8_t out[CNIO_FAB_BYE_MAX])
{
    if (session) {
        cnio__put_le64(out, session);
        return CNIO_FAB_BYE_SESSION;
    }
    if (nonce) {
        memcpy(out, nonce, CNIO_WIRE_NONCE);
        return CNIO_WIRE_NONCE;
    }
    return 0;
}

int cnio__fab_bye_parse(const uint8_t *msg, size_t len, struct cnio_fab_bye *out)
{
    memset(out, 0, sizeof(*out));
    if (len == CNIO_FAB_BYE_SESSION)
        out->session = cnio__get_le64(msg);
    else if (len == CNIO_WIRE_NONCE)
        out->nonce = msg;
    else if (len != 0)
        return -CNIO_ERR_PROTO;
    return 0;
}
