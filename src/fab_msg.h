/*
 * fab_msg.h - the messages a peer sends over a fabric endpoint (src/fabric.h has the
 * tags), checked before any of their bytes is used: by the client (a server's replies
 * and CHALLENGE, transport_ofi.c and stack_msg.c) and by cnio-server (a client's HELLO
 * and frames, server/fabric.c). Pure functions of the bytes: no libfabric, no state.
 */
#ifndef CNIO_FAB_MSG_H
#define CNIO_FAB_MSG_H

#include "common.h"
#include "fabric.h"
#include "net.h"
#include "wire.h"

#include <stddef.h>
#include <stdint.h>

/*
 * A frame that arrived as one message of len bytes (header and payload), its header at
 * hdr, its payload where the receive put it, with room for cap bytes there. Decodes the
 * header into *h (cnio__wire_hdr_decode: magic, version, CRC, the rules of its type) and
 * checks it against the message: at least a header, exactly h->length bytes of payload,
 * and those within cap. Reads CNIO_WIRE_HDR_SIZE bytes at hdr only when len has them.
 * 0, -CNIO_ERR_PROTO or -CNIO_ERR_CHECKSUM.
 */
int cnio__fab_msg_decode(const uint8_t *hdr, size_t len, size_t cap, struct cnio_wire_hdr *h);

/*
 * What a client receives into the buffers it posted for request id (0: the CHALLENGE,
 * posted for the connection): cnio__fab_msg_decode, then for id 0 a CHALLENGE (which may
 * be a refusal: a status), for any other id a reply whose request id is id, without a
 * reason (a client never asks for one over a fabric: the buffer posted for a reply has
 * no room for a text that may come instead). 0 or a negative code, as that.
 */
int cnio__fab_reply_decode(const uint8_t *hdr, size_t len, size_t cap, uint64_t id,
                           struct cnio_wire_hdr *h);

/*
 * The CHALLENGE message of len bytes at msg (cnio__fab_reply_decode with id 0 and room
 * for a CHALLENGE payload): *sid is the server's id for the connection, its header's
 * object, at most 32 bits and not 0; or 0 for a refusal (a status, no id). 0, or a
 * negative code (*sid then 0).
 */
int cnio__fab_chal_parse(const uint8_t *msg, size_t len, uint32_t *sid);

/* A client's HELLO (its payload is the client's fabric address), as cnio-server takes
 * it: the address, and where the provider's addresses are IPv4 ones, it as such. */
struct cnio_fab_hello {
    const uint8_t *addr;        /* the address: len bytes of the message */
    size_t len;
    struct cnio_addr ip;        /* an IPv4 address (ip.len > 0), for log lines and
                                 * --max-unauth's count per source; else ip.len 0 */
};

/* Parses the HELLO message of len bytes at msg into *out: 0, or -CNIO_ERR_PROTO (no
 * address, or one longer than CNIO_FAB_ADDR_MAX). */
int cnio__fab_hello_parse(const uint8_t *msg, size_t len, struct cnio_fab_hello *out);

/*
 * The nonce of the CHALLENGE message of len bytes at msg, one cnio__fab_chal_parse takes
 * with an id (not a refusal) and whose payload cnio__wire_challenge_parse takes: what a
 * client's BYE carries before it has a session. 0, or -CNIO_ERR_PROTO (nonce zeroed).
 */
int cnio__fab_chal_nonce(const uint8_t *msg, size_t len, uint8_t nonce[CNIO_WIRE_NONCE]);

/*
 * A BYE's payload (src/fabric.h) proves to a server that cannot see who sent it that
 * it comes from the connection's own client: once the connection has authenticated, its
 * 64-bit session id (little-endian, CNIO_FAB_BYE_SESSION bytes); before that, the nonce
 * of its CHALLENGE (CNIO_WIRE_NONCE bytes), sent to the client's address alone; nothing
 * from a client that has neither, or that predates them.
 *
 * cnio__fab_bye_encode writes the one for session (if not 0), else for nonce (if not
 * NULL), into out: its length (0: an empty BYE). cnio__fab_bye_parse reads the BYE
 * message of len bytes at msg: *out says what it carries (all 0 / NULL for nothing).
 * 0, or -CNIO_ERR_PROTO for any other length (*out then carries nothing).
 */
#define CNIO_FAB_BYE_SESSION 8
#define CNIO_FAB_BYE_MAX CNIO_WIRE_NONCE
struct cnio_fab_bye {
    uint64_t session;           /* the session id it carries, or 0 */
    const uint8_t *nonce;       /* the CHALLENGE nonce it carries (CNIO_WIRE_NONCE bytes
                                 * of the message), or NULL */
};
size_t cnio__fab_bye_encode(uint64_t session, const uint8_t *nonce,
                            uint8_t out[CNIO_FAB_BYE_MAX]);
int cnio__fab_bye_parse(const uint8_t *msg, size_t len, struct cnio_fab_bye *out);

#endif /* CNIO_FAB_MSG_H */
