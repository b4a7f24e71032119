/*
 * wire.h - the cnio wire protocol: the one place where frames are encoded and parsed.
 *
 * Every frame is a fixed 64-byte little-endian header followed by `length` payload bytes.
 * doc/protocol.md describes the frames, their payloads and the conversation.
 *
 *   off size field
 *    0   4   magic           CNIO_WIRE_MAGIC ("CNIO" read as bytes 'C','N','I','O')
 *    4   2   version         CNIO_WIRE_VERSION
 *    6   2   type            enum cnio_wire_type; replies set CNIO_WIRE_REPLY
 *    8   4   flags           per type (CNIO_WIRE_F_*)
 *   12   4   status          replies: 0 or a negative CNIO_ERR_* code; requests: 0
 *   16   8   request id      chosen by the requester, echoed in the reply
 *   24   8   session         the connection's session id (assigned in AUTH_OK)
 *   32   8   object          object handle (from OPEN) or 0
 *   40   8   offset          byte offset in the host's local stripe file, or per type
 *   48   4   length          payload bytes that follow the header
 *   52   4   payload crc     CRC32C of the payload (0 when length is 0)
 *   56   4   reserved        must be 0
 *   60   4   header crc      CRC32C of bytes 0..59
 *
 * Nothing here allocates or does I/O: parsers take a buffer and its length and
 * return 0 or -CNIO_ERR_PROTO (or -CNIO_ERR_CHECKSUM) without reading past it.
 */
#ifndef CNIO_WIRE_H
#define CNIO_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define CNIO_WIRE_MAGIC 0x4f494e43u /* "CNIO" little-endian */
#define CNIO_WIRE_VERSION 1
#define CNIO_WIRE_HDR_SIZE 64

/* Largest payload of any frame (a WRITE request, a READ reply). */
#define CNIO_WIRE_MAX_PAYLOAD (16u << 20)
/* Largest payload of a control frame (anything but WRITE requests and READ replies). */
#define CNIO_WIRE_MAX_CTRL (64u << 10)
/* Longest object name, in bytes, without a terminator. */
#define CNIO_WIRE_MAX_NAME 1024
#define CNIO_WIRE_NONCE 32
#define CNIO_WIRE_MAC 32

#define CNIO_WIRE_REPLY 0x8000u

enum cnio_wire_type {
    CNIO_WIRE_CHALLENGE = 1, /* server -> client, first frame on a connection */
    CNIO_WIRE_AUTH = 2,      /* client -> server; reply carries the server's proof */
    CNIO_WIRE_PING = 3,      /* no-op round trip */
    CNIO_WIRE_OPEN = 16,     /* payload: struct cnio_wire_open; reply: struct cnio_wire_info */
    CNIO_WIRE_STAT = 17,     /* payload: struct cnio_wire_open (flags 0); reply: info */
    CNIO_WIRE_SETSIZE = 18,  /* object; offset = new logical size; reply: info */
    CNIO_WIRE_SYNC = 19,     /* object; reply empty */
    CNIO_WIRE_CLOSE = 20,    /* object; reply empty */
    CNIO_WIRE_UNLINK = 21,   /* payload: struct cnio_wire_open (flags 0); reply empty */
    CNIO_WIRE_LIST = 22,     /* payload: struct cnio_wire_open (directory name, may be
                                empty); offset = cursor; reply: entries, offset = next
                                cursor, flags CNIO_WIRE_F_MORE while more remain */
    CNIO_WIRE_COMMIT = 23,   /* object (a staged instance); makes it the object; reply empty */
    CNIO_WIRE_ABORT = 24,    /* object (a staged instance); discards it, closes; reply empty */
    CNIO_WIRE_PREPARE = 31,  /* to a server announcing CNIO_WIRE_CAP_PREPARE; object (a
                                staged instance); does now what its COMMIT could fail at
                                for lack of space or a name in the way, so that the COMMIT
                                that follows only overwrites in place and renames; reply
                                empty */
    CNIO_WIRE_FINISH = 35,   /* key connections only, to a server announcing
                                CNIO_WIRE_CAP_FINISH; payload: struct cnio_wire_open (flags
                                0); object = a generation (the full 64-bit id of a staged
                                instance of the name), offset = its commit order: commits
                                that instance with that order when a PREPARE made it ready
                                and no live handle holds it (a commit that reached column
                                0's host and not this one), or with offset 0 (a server
                                announcing CNIO_WIRE_CAP_FINISH_ORDER) column 0's own, the
                                order picked there; reply empty, its offset the order */
    CNIO_WIRE_WRITE = 32,    /* object, offset; payload = data; reply empty */
    CNIO_WIRE_READ = 33,     /* object, offset; payload = u64 length wanted (<=
                                CNIO_WIRE_MAX_PAYLOAD); reply payload = data, shorter
                                at the end of the local file */
    CNIO_WIRE_CRC = 34,      /* object, offset; payload = u64 length (<=
                                CNIO_WIRE_MAX_PAYLOAD); reply: struct cnio_wire_crc */
    CNIO_WIRE_MKDIR = 25,    /* payload: struct cnio_wire_open (flags 0, or O_CREATE: make
                                missing parents, and an existing directory is no error);
                                reply empty */
    CNIO_WIRE_RMDIR = 26,    /* payload: struct cnio_wire_open (flags 0): removes an empty
                                directory; reply empty */
    CNIO_WIRE_RENAME = 27,   /* payload: two struct cnio_wire_open back to back (flags 0),
                                the old name then the new; reply empty */
    CNIO_WIRE_SETATTR = 28,  /* payload: struct cnio_wire_open (flags 0, stripe_count 0,
                                stripe_index 0) whose stripe_unit carries the mode (st_mode
                                bits, <= 0xffff); offset = mtime in signed ns since
                                the epoch, two's complement (0: unchanged, unless
                                flag F_MTIME); reply empty */
    CNIO_WIRE_FABRIC = 29,   /* key connections only; payload = the libfabric provider
                                wanted (may be empty: the server's first); reply: struct
                                cnio_wire_fabric, the provider and the server's address */
    CNIO_WIRE_BUDGET = 30,   /* key connections only, to a server announcing
                                CNIO_WIRE_CAP_BUDGET; object = an open handle; offset =
                                the most connections the job may hold at once for that
                                open (0: no bound); counts the sending connection among
                                them (the proxy sends it on each of its lanes); token
                                AUTHs for the handle past the bound are refused with
                                -CNIO_ERR_LIMIT; reply empty */
};

/* OPEN flags (struct cnio_wire_open.flags). */
#define CNIO_WIRE_O_CREATE 0x1u
#define CNIO_WIRE_O_EXCL 0x2u
#define CNIO_WIRE_O_TRUNC 0x4u
#define CNIO_WIRE_O_WRITE 0x8u   /* the handle may write / set size */
#define CNIO_WIRE_O_STAGE 0x10u  /* with WRITE: write a fresh staged instance (header offset =
                                    its nonzero id) when the object does not exist or TRUNC
                                    is given; it replaces the object at COMMIT */
#define CNIO_WIRE_O_RESUME 0x20u /* with STAGE: reopen the staged instance of the header's
                                    offset (0: the newest of the name) */
#define CNIO_WIRE_O_JOIN 0x40u   /* open staged instance `offset` (the same id column 0 chose)
                                    as a writer that does not own it: no COMMIT */
#define CNIO_WIRE_O_ALL 0x7fu

/* Header flags. */
#define CNIO_WIRE_F_MORE 0x1u    /* LIST reply: more entries follow at the next cursor */
#define CNIO_WIRE_F_REASON 0x2u  /* AUTH request: the client reads reasons in error replies
                                    (only to a server announcing CNIO_WIRE_CAP_REASON);
                                    error reply: the payload is the reason, text */
#define CNIO_WIRE_F_GONE 0x4u    /* COMMIT and CLOSE requests (only to a server announcing
                                    CNIO_WIRE_CAP_GONE): a staged instance, or an object
                                    written in place, that an UNLINK of its name removed
                                    while it was open commits nothing and closes, with
                                    success and this flag on the reply (without it: the
                                    error NOENT) */
#define CNIO_WIRE_F_MTIME 0x8u   /* SETATTR request (only to a server announcing
                                    CNIO_WIRE_CAP_MTIME): offset is the mtime to set, 0
                                    (the epoch) included; without it 0 leaves the mtime */
#define CNIO_WIRE_F_LIVE 0x10u   /* STAT request by name (only to a server announcing
                                    CNIO_WIRE_CAP_LIVE): the reply's info says I_LIVE */
#define CNIO_WIRE_F_INPLACE 0x20u /* STAT request, by name or by handle, and LIST request
                                    (only to a server announcing CNIO_WIRE_CAP_INPLACE):
                                    the reply's info blocks say I_INPLACE (to a STAT by
                                    handle only with CAP_INPLACE_HANDLE) */
#define CNIO_WIRE_F_ALLOCATE 0x40u /* SETSIZE request (only to a server announcing
                                    CNIO_WIRE_CAP_ALLOCATE): grows the object to offset
                                    bytes if it is smaller (never shrinks it), and
                                    allocates storage for this host's part of its first
                                    offset bytes (MPI_File_preallocate); -CNIO_ERR_NOSPC
                                    when the host cannot */
#define CNIO_WIRE_F_RECORD 0x80u /* SETSIZE request (only to a server announcing
                                    CNIO_WIRE_CAP_RECORD): records offset as the object's
                                    size if it is larger than the recorded one (never
                                    smaller), and grows this host's data file to its part
                                    of it if it is shorter, allocating nothing (the size
                                    an MPI-IO close computed, recorded for checks at rest;
                                    doc/protocol.md) */
#define CNIO_WIRE_F_PRIOR 0x100u /* OPEN request (only to a server announcing
                                    CNIO_WIRE_CAP_PRIOR): a writer in place's reply says
                                    I_INTERRUPTED when it applies */
#define CNIO_WIRE_F_UPDATES 0x200u /* (only to a server announcing CNIO_WIRE_CAP_UPDATES)
                                    OPEN request: a reply of an object opened for writing
                                    in place (not I_STAGED, not I_JOINED) has the object's
                                    update count (0..65535, this host's) in its header
                                    offset, instead of its generation. CLOSE request of
                                    such a handle: offset is the update count the last
                                    writer's clean close records (0..65535; without the
                                    flag it records one more than it had) */
#define CNIO_WIRE_F_OTHERS 0x400u /* STAT request by handle, with F_INPLACE (only to a server
                                    announcing CNIO_WIRE_CAP_OTHERS): of a writer in place's
                                    own handle, I_INPLACE says writers in place other than
                                    it: one live, or one whose clean close on this host
                                    was not the last, its update to be counted by the last
                                    one's close (to other handles, as F_INPLACE alone) */
/* A reason: 1..CNIO_WIRE_MAX_REASON bytes of text, the rule a refusal applied. */
#define CNIO_WIRE_MAX_REASON 256

/* CHALLENGE capability bits. */
#define CNIO_WIRE_CAP_REASON 0x1u /* sends reasons to a client whose AUTH has F_REASON */
#define CNIO_WIRE_CAP_ORDER 0x2u  /* COMMIT with offset 0: the server picks the commit order */
#define CNIO_WIRE_CAP_BUDGET 0x4u /* takes BUDGET: a per-open bound on the job's connections */
#define CNIO_WIRE_CAP_GONE 0x8u   /* takes COMMIT and CLOSE with CNIO_WIRE_F_GONE */
#define CNIO_WIRE_CAP_MTIME 0x10u /* takes SETATTR with CNIO_WIRE_F_MTIME */
#define CNIO_WIRE_CAP_PREPARE 0x20u /* takes PREPARE */
#define CNIO_WIRE_CAP_LIVE 0x40u  /* takes STAT with CNIO_WIRE_F_LIVE */
#define CNIO_WIRE_CAP_SETATTR_STAGED 0x80u /* takes SETATTR with object = a staged handle
                                    of the connection (its name the payload's): the mode
                                    and mtime are the instance's, and its commit makes
                                    them the object's with its bytes, at once */
#define CNIO_WIRE_CAP_FINISH 0x200u /* takes FINISH; a STAT by name of a committed object
                                    replies with the header's object = its generation
                                    (all 64 bits) and offset = its commit order */
#define CNIO_WIRE_CAP_FINISH_ORDER 0x800u /* takes FINISH with offset 0: the server picks
                                    the commit order, as for column 0's COMMIT (what a
                                    writer whose connection to column 0's host broke before
                                    that COMMIT's reply sends); a FINISH's success reply
                                    says in its offset the order the object was committed
                                    with (also when it was committed already) */
#define CNIO_WIRE_CAP_IDLE 0x100u /* the CHALLENGE header's offset is the server's
                                    --idle-timeout in seconds (0: none); a client replaces
                                    a fabric connection idle for that long before it uses
                                    it (the server closes it, and cannot say so) */
#define CNIO_WIRE_CAP_INPLACE 0x400u /* takes STAT by name and LIST with F_INPLACE */
#define CNIO_WIRE_CAP_FINISH_EXCL 0x1000u /* takes FINISH whose OPEN block says O_CREATE |
                                    O_EXCL: it commits only where nothing else holds the
                                    name (-CNIO_ERR_EXIST), as the COMMIT of an exclusive
                                    create's handle would (MPI_MODE_EXCL) */
#define CNIO_WIRE_CAP_ALLOCATE 0x2000u /* takes SETSIZE with CNIO_WIRE_F_ALLOCATE */
#define CNIO_WIRE_CAP_INPLACE_HANDLE 0x4000u /* says I_INPLACE to a STAT by handle with
                                    F_INPLACE too (with CAP_INPLACE alone: by name only) */
#define CNIO_WIRE_CAP_RECORD 0x8000u /* takes SETSIZE with CNIO_WIRE_F_RECORD */
#define CNIO_WIRE_CAP_PRIOR 0x10000u /* takes OPEN with CNIO_WIRE_F_PRIOR */
#define CNIO_WIRE_CAP_UPDATES 0x20000u /* counts the clean closes of writers in place of
                                    each object and mixes the count into the gen of its
                                    info blocks (cnio__wire_gen); takes OPEN and CLOSE with
                                    CNIO_WIRE_F_UPDATES */
#define CNIO_WIRE_CAP_ID 0x40000u /* the AUTH reply header's object is the server's id:
                                    random, nonzero, drawn at its start, the same on
                                    every connection to it (TCP or fabric), so a client
                                    tells two addresses of one server in a URI apart */
#define CNIO_WIRE_CAP_OTHERS 0x80000u /* takes STAT by handle with CNIO_WIRE_F_OTHERS */

/* AUTH modes. */
#define CNIO_WIRE_AUTH_KEY 1     /* proves knowledge of the shared key */
#define CNIO_WIRE_AUTH_TOKEN 2   /* proves a per-rank token for one open object */

struct cnio_wire_hdr {
    uint16_t version;
    uint16_t type;
    uint32_t flags;
    int32_t status;
    uint64_t reqid;
    uint64_t session;
    uint64_t object;
    uint64_t offset;
    uint32_t length;
    uint32_t payload_crc;
};

/* CHALLENGE payload (48 bytes). */
struct cnio_wire_challenge {
    uint32_t caps;           /* capability bits, 0 for now */
    uint32_t max_payload;    /* largest payload the server accepts */
    uint32_t credits;        /* requests a client may have in flight per connection */
    uint32_t reserved;
    uint8_t nonce[CNIO_WIRE_NONCE];
};
#define CNIO_WIRE_CHALLENGE_SIZE 48

/* AUTH payload (80 bytes). */
struct cnio_wire_auth {
    uint32_t mode;           /* CNIO_WIRE_AUTH_KEY or CNIO_WIRE_AUTH_TOKEN */
    uint32_t rank;           /* token mode: the rank the token was made for */
    uint64_t object;         /* token mode: the object handle the token is for */
    uint8_t nonce[CNIO_WIRE_NONCE]; /* client nonce */
    uint8_t mac[CNIO_WIRE_MAC];
};
#define CNIO_WIRE_AUTH_SIZE 80

/* AUTH reply payload (32 bytes): the server's proof, struct-less: uint8_t mac[32]. */

/* OPEN / STAT / UNLINK / LIST request payload (24 + name_len bytes). */
struct cnio_wire_open {
    uint32_t flags;          /* CNIO_WIRE_O_* */
    uint32_t stripe_count;   /* layout to create with (OPEN with CREATE) */
    uint64_t stripe_unit;
    uint32_t stripe_index;   /* which stripe column this host holds, < stripe_count */
    uint32_t name_len;       /* 0 < name_len <= CNIO_WIRE_MAX_NAME (LIST: may be 0) */
    const char *name;        /* points into the parsed buffer; not NUL-terminated */
};
#define CNIO_WIRE_OPEN_FIXED 24

/* OPEN / STAT / SETSIZE reply payload (48 bytes): what the host holds of an object. */
struct cnio_wire_info {
    uint64_t stripe_unit;
    uint32_t stripe_count;
    uint32_t stripe_index;
    uint64_t size;           /* logical size recorded by SETSIZE (metadata) */
    uint64_t local_size;     /* bytes in this host's local stripe file */
    uint32_t flags;          /* CNIO_WIRE_I_* */
    uint32_t gen;            /* low 32 bits of the generation (the id of the staged
                                instance last committed; 0 for objects never staged),
                                with the object's update count mixed in
                                (cnio__wire_gen) */
    int64_t mtime_ns;        /* signed ns since the epoch (two's complement on the wire) */
};
#define CNIO_WIRE_INFO_SIZE 48
#define CNIO_WIRE_I_CREATED 0x1u
#define CNIO_WIRE_I_DIR 0x2u     /* LIST entries: a directory */
#define CNIO_WIRE_I_STAGED 0x4u  /* a staged instance, never committed: incomplete */
#define CNIO_WIRE_I_DIRTY 0x8u   /* opened for writing in place and not closed (no writer
                                    holds it now): incomplete since a crash */
#define CNIO_WIRE_I_COMMITTING 0x10u /* a commit was interrupted on this host: incomplete */
#define CNIO_WIRE_I_PENDING 0x20u /* a staged instance of this name exists beside it */
#define CNIO_WIRE_I_JOINED 0x40u /* OPEN: joined a staged instance a live writer holds */
#define CNIO_WIRE_I_LIVE 0x80u   /* STAT with CNIO_WIRE_F_LIVE, with I_STAGED or I_PENDING:
                                    a live handle writes a staged instance of the name
                                    (without it, no writer holds one: it was interrupted) */
#define CNIO_WIRE_I_INPLACE 0x100u /* STAT or LIST with CNIO_WIRE_F_INPLACE, of an object
                                    (not I_STAGED): a live handle writes it in place (an
                                    update under way, so I_DIRTY is not said; a reader may
                                    see old and new bytes mixed); OPEN in place with
                                    CNIO_WIRE_F_UPDATES: other live handles did when it
                                    opened. Only ever sent to a client that asked: older
                                    ones refuse unknown bits */
#define CNIO_WIRE_I_INTERRUPTED 0x200u /* OPEN with CNIO_WIRE_F_PRIOR of a writer in place:
                                    the object was marked as an interrupted update (I_DIRTY,
                                    no live writer) when it opened it, so its clean close
                                    takes the object as it is, that update's bytes too */
#define CNIO_WIRE_I_ALL 0x3ffu
/* Bits 16..31 of an INFO block's flags: the mode (st_mode bits: type and permissions)
 * SETATTR recorded for an object, or a directory's own; 0 when none was recorded. */
#define CNIO_WIRE_I_MODE_SHIFT 16
#define CNIO_WIRE_I_MODE_MASK 0xffff0000u
/* What makes an object incomplete. */
#define CNIO_WIRE_I_INCOMPLETE (CNIO_WIRE_I_STAGED | CNIO_WIRE_I_DIRTY | CNIO_WIRE_I_COMMITTING)

/* CRC reply: the CRC32C of the bytes [offset, offset + covered) of the local file
 * (covered < the length asked at its end). */
struct cnio_wire_crc {
    uint64_t covered;
    uint32_t crc;
};
#define CNIO_WIRE_CRC_SIZE 16

/* LIST reply entry: struct cnio_wire_info (48 bytes), u32 name_len, u32 reserved, name. */
struct cnio_wire_entry {
    struct cnio_wire_info info;
    uint32_t name_len;
    const char *name;        /* points into the parsed buffer */
};
#define CNIO_WIRE_ENTRY_FIXED 56

/* FABRIC reply payload: u16 prov_len, u16 addr_len, provider name, address bytes. */
struct cnio_wire_fabric {
    uint32_t prov_len;       /* 1..CNIO_WIRE_MAX_PROV */
    const char *prov;        /* not NUL-terminated */
    uint32_t addr_len;       /* 1..CNIO_WIRE_MAX_FABADDR */
    const uint8_t *addr;
};
#define CNIO_WIRE_MAX_PROV 47
#define CNIO_WIRE_MAX_FABADDR 256

/* CRC32C (Castagnoli), hardware-accelerated where the CPU has it. crc starts at 0. */
uint32_t cnio__crc32c(uint32_t crc, const void *buf, size_t len);
/* The implementations behind cnio__crc32c, for tests and benchmarks: portable
 * slicing-by-8, SSE4.2 (which falls back to software where the CPU lacks it), and
 * ISA-L's (which is the SSE4.2 one when the build has no ISA-L). */
uint32_t cnio__crc32c_sw(uint32_t crc, const void *buf, size_t len);
uint32_t cnio__crc32c_hw(uint32_t crc, const void *buf, size_t len);
uint32_t cnio__crc32c_isal(uint32_t crc, const void *buf, size_t len);
/* 1 when the CPU has the SSE4.2 crc32 instruction, else 0. */
int cnio__crc32c_have_hw(void);
/* Which implementation cnio__crc32c uses: "isa-l", "sse4.2" or "software". */
const char *cnio__crc32c_impl(void);
/*
 * The CRC32C of A || B from crc1 = CRC of A, crc2 = CRC of B and len2 = |B| bytes, with
 * no pass over the data (zlib's crc32_combine, for the Castagnoli polynomial).
 * cnio__crc32c_shift_op(len2) is the operator for one len2, for combining many pieces of
 * the same length: cnio__crc32c_combine_op(crc1, crc2, op) equals the combine.
 * cnio__crc32c_zeros(len): the CRC32C of len zero bytes.
 */
uint32_t cnio__crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t len2);
uint32_t cnio__crc32c_shift_op(uint64_t len2);
uint32_t cnio__crc32c_combine_op(uint32_t crc1, uint32_t crc2, uint32_t op);
uint32_t cnio__crc32c_zeros(uint64_t len);

/* Header: encode into out[CNIO_WIRE_HDR_SIZE] (fills magic and header crc; a version of
 * 0 is written as CNIO_WIRE_VERSION; payload_crc is the caller's). */
void cnio__wire_hdr_encode(const struct cnio_wire_hdr *h, uint8_t out[CNIO_WIRE_HDR_SIZE]);
/*
 * Parse a header: checks magic, version, header CRC, reserved bytes, and that length
 * fits the type (CNIO_WIRE_MAX_PAYLOAD for WRITE requests and READ replies,
 * CNIO_WIRE_MAX_CTRL otherwise, the exact size for fixed-size payloads).
 * Returns 0, -CNIO_ERR_PROTO or -CNIO_ERR_CHECKSUM (header CRC).
 */
int cnio__wire_hdr_decode(const uint8_t in[CNIO_WIRE_HDR_SIZE], struct cnio_wire_hdr *h);
/* Checks a received payload against h->payload_crc: 0 or -CNIO_ERR_CHECKSUM. */
int cnio__wire_payload_check(const struct cnio_wire_hdr *h, const void *payload);

/* Payload encoders return the bytes written, or -CNIO_ERR_INVAL when cap is too small
 * or a field is out of range. Parsers return 0 or -CNIO_ERR_PROTO. */
int cnio__wire_challenge_encode(const struct cnio_wire_challenge *c, uint8_t *out, size_t cap);
int cnio__wire_challenge_parse(const uint8_t *in, size_t len, struct cnio_wire_challenge *c);
int cnio__wire_auth_encode(const struct cnio_wire_auth *a, uint8_t *out, size_t cap);
int cnio__wire_auth_parse(const uint8_t *in, size_t len, struct cnio_wire_auth *a);
int cnio__wire_open_encode(const struct cnio_wire_open *o, uint8_t *out, size_t cap);
/* Also rejects names that are empty (except for LIST), too long, or contain NUL. */
int cnio__wire_open_parse(const uint8_t *in, size_t len, int allow_empty,
                          struct cnio_wire_open *o);
/* RENAME payload: the OPEN blocks of the old and the new name, back to back. Encode
 * returns the bytes written or -CNIO_ERR_INVAL; parse 0 or -CNIO_ERR_PROTO (names point
 * into in). */
int cnio__wire_rename_encode(const struct cnio_wire_open *from, const struct cnio_wire_open *to,
                             uint8_t *out, size_t cap);
int cnio__wire_rename_parse(const uint8_t *in, size_t len, struct cnio_wire_open *from,
                            struct cnio_wire_open *to);
/*
 * The gen of an info block (CNIO_WIRE_CAP_UPDATES): the low 32 bits of generation gen
 * plus updates times 0x9e3779b9 (mod 2^32; never 0 unless gen is), updates being the
 * clean closes of writers in place since gen was committed (mod 2^16). Columns of one
 * object agree on it; a column restored from a backup older than an update in place of
 * the others does not (doc/protocol.md, "Updates in place"). cnio__wire_gen_base undoes
 * it: the low 32 bits of the generation of a block whose update count is known.
 */
uint32_t cnio__wire_gen(uint64_t gen, uint32_t updates);
uint32_t cnio__wire_gen_base(uint32_t wire_gen, uint32_t updates);
/* The update count mixed into wire_gen, a block of the object of generation gen (an OPEN
 * reply's or a STAT reply's header says it): 0 with it in *updates, or -1 where it
 * cannot be the mix of gen with any count (another generation; gen 0, unknown). A
 * server that does not count mixes nothing: its blocks say 0. */
int cnio__wire_gen_updates(uint32_t wire_gen, uint64_t gen, uint32_t *updates);
int cnio__wire_info_encode(const struct cnio_wire_info *i, uint8_t *out, size_t cap);
int cnio__wire_info_parse(const uint8_t *in, size_t len, struct cnio_wire_info *i);
int cnio__wire_entry_encode(const struct cnio_wire_entry *e, uint8_t *out, size_t cap);
/*
 * Rewrites encoded INFO blocks (a server's own, len bytes at buf: one block, or with
 * entries a LIST reply's entries) in the form a client from before 2026-11-30 (c220220
 * and earlier) parses: it reads the generation field as reserved, which must be 0, and
 * refuses flags other than I_CREATED and I_DIR, so those are cleared (states, modes).
 */
void cnio__wire_info_legacy(uint8_t *buf, size_t len, int entries);
/* Such a client knows the status codes -1 .. -(CNIO_WIRE_LEGACY_ERR_MAX - 1) and drops
 * the connection at any other: a server sends it -CNIO_ERR_IO in their place. */
#define CNIO_WIRE_LEGACY_ERR_MAX 24
/* The OPEN flags such a client sends, and a server announcing no capabilities takes. */
#define CNIO_WIRE_O_LEGACY (CNIO_WIRE_O_CREATE | CNIO_WIRE_O_EXCL | CNIO_WIRE_O_TRUNC | \
                            CNIO_WIRE_O_WRITE)
/* Parses the entry at in[*pos]; advances *pos. Returns 1 when an entry was parsed,
 * 0 at the end of the buffer, -CNIO_ERR_PROTO on a malformed entry. */
int cnio__wire_entry_next(const uint8_t *in, size_t len, size_t *pos, struct cnio_wire_entry *e);
int cnio__wire_crc_encode(const struct cnio_wire_crc *c, uint8_t *out, size_t cap);
int cnio__wire_crc_parse(const uint8_t *in, size_t len, struct cnio_wire_crc *c);
int cnio__wire_fabric_encode(const struct cnio_wire_fabric *f, uint8_t *out, size_t cap);
/* Also rejects a provider name with NUL or control characters. */
int cnio__wire_fabric_parse(const uint8_t *in, size_t len, struct cnio_wire_fabric *f);
int cnio__wire_u64_encode(uint64_t v, uint8_t *out, size_t cap);
int cnio__wire_u64_parse(const uint8_t *in, size_t len, uint64_t *v);
/* A reason payload (len <= CNIO_WIRE_MAX_REASON bytes) as a printable string in out
 * (cap > len): control bytes and NULs become '?'. */
void cnio__wire_reason_text(const uint8_t *in, size_t len, char *out, size_t cap);

/* Little-endian helpers, usable by anyone building frames through this module. */
static inline void cnio__put_le16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void cnio__put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void cnio__put_le64(uint8_t *p, uint64_t v)
{
    cnio__put_le32(p, (uint32_t)v);
    cnio__put_le32(p + 4, (uint32_t)(v >> 32));
}
static inline uint16_t cnio__get_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t cnio__get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t cnio__get_le64(const uint8_t *p)
{
    return (uint64_t)cnio__get_le32(p) | ((uint64_t)cnio__get_le32(p + 4) << 32);
}

#endif /* CNIO_WIRE_H */
