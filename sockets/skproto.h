/*
 * skproto.h - the local protocol between the socket shim (libcnio_sockets.so, inside
 * each application process) and the job proxy (cnio-proxy), over a unix stream socket
 * in a 0700 directory; the proxy admits only peers of its own uid (SO_PEERCRED).
 *
 * A message is an 8-byte header (magic "SK" as u16, version u8, type u8, payload
 * length u32; host byte order, the two ends share a host) and a payload of at most
 * CNIO__SKP_MAX - 8 bytes: integers as i32, strings and addresses as u16 length + bytes.
 * cnio__skp_parse is the one place messages are decoded; it checks every length.
 *
 * Fields used per type (everything else is zero):
 *   HELLO      i0 pid, i1 rank (-1 outside MPI)             shim -> proxy, once per process
 *   GAI_REQ    i0 ai_flags, i1 family, i2 socktype, i3 protocol, i4 service given;
 *              name = node, serv = service
 *   GAI_REP    i0 EAI_* (0 ok), i1 errno for EAI_SYSTEM, i2 canonical name given,
 *              i3 1 when the answer had more than CNIO__SKP_MAX_AI addresses (the shim
 *              then asks libc: an answer is never cut short);
 *              name = canonical name, ai[0..nai) = the addresses
 *   GNI_REQ    i0 NI_* flags, i1 host wanted, i2 service wanted; sa = the address
 *   GNI_REP    i0 EAI_*, i1 errno; name = host, serv = service
 *   ADMIT_REQ  i0 deadline (ms from now), i1 non-blocking socket; sa = destination
 *   ADMIT_REP  i0 verdict (CNIO__SKP_GO, _QUEUED heartbeat, _FAIL), i1 errno on FAIL;
 *              on GO, i3 and i4 the admission's token (low, high 32 bits; never 0)
 *   DONE       i0 outcome (enum cnio__skw_outcome), i1 elapsed ms, i2 errno
 *   OUTCOME    i0 outcome, i1 elapsed ms, i2 errno, i3 i4 the token: after a DONE that
 *              said CNIO__SKW_INPROGRESS, what that setup came to, on a connection of
 *              its own (its first message)
 *   OUTCOME_ACK -: the OUTCOME was taken into account (so the shim's next request,
 *              on another connection, finds the destination as that outcome left it)
 *   STATS_REQ  -
 *   STATS_REP  name = report text, whole lines; i0 1 when more STATS_REP follow (a report
 *              longer than one message comes in several)
 */
#ifndef CNIO_SKPROTO_H
#define CNIO_SKPROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CNIO__SKP_MAGIC 0x4b53u /* "SK" */
#define CNIO__SKP_VERSION 1
#define CNIO__SKP_HDR 8
#define CNIO__SKP_MAX 8192      /* a whole message, header included */
#define CNIO__SKP_MAX_AI 16     /* addresses in one name answer */
#define CNIO__SKP_NAME_MAX 4000 /* bytes of name/text, NUL excluded */
#define CNIO__SKP_SERV_MAX 63
#define CNIO__SKP_NINT 6

enum cnio__skp_type {
    CNIO__SKP_HELLO = 1,
    CNIO__SKP_GAI_REQ,
    CNIO__SKP_GAI_REP,
    CNIO__SKP_GNI_REQ,
    CNIO__SKP_GNI_REP,
    CNIO__SKP_ADMIT_REQ,
    CNIO__SKP_ADMIT_REP,
    CNIO__SKP_DONE,
    CNIO__SKP_STATS_REQ,
    CNIO__SKP_STATS_REP,
    CNIO__SKP_OUTCOME,
    CNIO__SKP_OUTCOME_ACK,
    CNIO__SKP_TYPE_END
};

enum cnio__skp_verdict { CNIO__SKP_GO = 0, CNIO__SKP_QUEUED = 1, CNIO__SKP_FAIL = 2 };

struct cnio__skp_ai {
    int32_t family, socktype, protocol;
    uint32_t addrlen;
    struct sockaddr_storage addr;
};

struct cnio__skp_msg {
    uint8_t type;
    int32_t i[CNIO__SKP_NINT];
    char name[CNIO__SKP_NAME_MAX + 1];
    char serv[CNIO__SKP_SERV_MAX + 1];
    uint32_t salen;                      /* 0: no address */
    struct sockaddr_storage sa;
    uint32_t nai;
    struct cnio__skp_ai ai[CNIO__SKP_MAX_AI];
};

/*
 * A message that carries no name, service or address list: HELLO, ADMIT_REQ/REP, DONE,
 * OUTCOME, OUTCOME_ACK. What the shim's connect path, its outcome reports and its
 * session speak, on the caller's stack (a signal handler's, a small thread's): a few
 * hundred bytes, where a whole cnio__skp_msg is 6.5 KiB. The same encoder and parser
 * serve both kinds; a small parse refuses a message with a name, service or address.
 */
struct cnio__skp_small {
    uint8_t type;
    int32_t i[CNIO__SKP_NINT];
    uint32_t salen;                      /* 0: no address */
    struct sockaddr_storage sa;
};

/* The longest encoding of a cnio__skp_small. */
#define CNIO__SKP_SMALL_MAX \
    (CNIO__SKP_HDR + 4 * CNIO__SKP_NINT + 3 * 2 + sizeof(struct sockaddr_storage) + 4)

/*
 * Encodes m into buf (cap bytes). Returns the message's length, or -1 when m is invalid
 * (unknown type, a string or address too long, nai too large) or does not fit.
 */
int cnio__skp_encode(const struct cnio__skp_msg *m, void *buf, size_t cap);

/*
 * Decodes one message from the len bytes at buf into *m (which it clears first).
 * Returns the bytes consumed (> 0), 0 when buf holds only part of a message (read more),
 * or -1 when the bytes are not a valid message (bad magic, version, type or length; a
 * string with a NUL or too long; an address whose length does not match its family; too
 * many addresses; trailing bytes). Never reads outside buf[0..len).
 */
int cnio__skp_parse(const void *buf, size_t len, struct cnio__skp_msg *m);

/* The same for a small message; cnio__skp_parse_small also refuses (-1) a message with a
 * name, service or address list. */
int cnio__skp_encode_small(const struct cnio__skp_small *m, void *buf, size_t cap);
int cnio__skp_parse_small(const void *buf, size_t len, struct cnio__skp_small *m);

/* 1 when sa (salen bytes) is a well-formed AF_INET or AF_INET6 address, else 0. */
int cnio__skp_inet_ok(const struct sockaddr *sa, size_t salen);

#endif /* CNIO_SKPROTO_H */
