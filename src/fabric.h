/*
 * fabric.h - what the client's ofi transport (transport_ofi.c) and cnio-server's fabric
 * endpoints (server/fabric.c) share: opening one libfabric RDM endpoint with tagged
 * messages, and the tag layout of the conversation over it.
 *
 * One frame (64-byte header + payload, as on TCP) is one tagged message. Large messages
 * move by the provider's rendezvous (ofi_rxm, ofi_rxd and shm read the payload straight
 * from the sender's registered buffer, registering through their own caches), so
 * neither side copies a payload.
 *
 * Tags:
 *   client -> server  FAB_TAG_HELLO | client connection id (16 bits): payload = the
 *                     client's fabric address; the server answers with a CHALLENGE
 *                     tagged (client id, request id 0)
 *                     FAB_TAG_BYE | server connection id: the client closed it
 *                     server connection id (32 bits): a frame
 *   server -> client  client connection id << 48 | low 48 bits of the request id
 * The server's connection id is not a secret: every frame of an authenticated connection
 * carries its 64-bit random session id, checked by the server as on TCP.
 */
#ifndef CNIO_FABRIC_H
#define CNIO_FABRIC_H

#include "common.h"

#include <stddef.h>
#include <stdint.h>

#define CNIO_FAB_ADDR_MAX 256
#define CNIO_FAB_PROV_MAX 48
#define CNIO_FAB_TAG_HELLO (1ull << 63)
#define CNIO_FAB_TAG_BYE (1ull << 62)
#define CNIO_FAB_TAG_ID 0xffffffffull
/* Largest payload of a frame over a fabric (a stripe piece is 1 MiB). */
#define CNIO_FAB_MAX_PAYLOAD (1u << 20)

static inline uint64_t cnio__fab_reply_tag(uint16_t client_id, uint64_t reqid)
{
    return ((uint64_t)client_id << 48) | (reqid & 0xffffffffffffull);
}

struct fi_info;
struct fid_fabric;
struct fid_domain;
struct fid_av;
struct fid_cq;
struct fid_ep;

/* One peer address in the address vector, counted (shm maps one region per peer: two
 * entries of one peer must not be removed separately). */
struct cnio_fab_peer {
    uint8_t addr[CNIO_FAB_ADDR_MAX];
    size_t len;
    uint64_t fi_addr;
    int refs;
};

struct cnio_fab {
    struct fi_info *info;
    struct fid_fabric *fabric;
    struct fid_domain *domain;
    struct fid_av *av;
    struct fid_cq *cq;
    struct fid_ep *ep;
    uint8_t name[CNIO_FAB_ADDR_MAX];   /* this endpoint's address */
    size_t namelen;
    char prov[CNIO_FAB_PROV_MAX];       /* "tcp;ofi_rxm", "udp;ofi_rxd", "shm", ... */
    size_t iov_limit;
    struct cnio_fab_peer *peers;
    int npeers, peers_cap;
};

/*
 * Opens an RDM endpoint with tagged messages from provider prov ("tcp;ofi_rxm", "shm",
 * "udp;ofi_rxd", ... NULL or "": the best available, which is libfabric's first choice
 * that is neither shm (one host only) nor a datagram emulation; FI_PROVIDER narrows the
 * choice). node: the local address to bind (HOST, or HOST:PORT for IPv4 and names), or NULL.
 * 0, -CNIO_ERR_NOTSUP (no such provider, or built without libfabric), -CNIO_ERR_IO.
 */
int cnio__fab_open(const char *prov, const char *node, struct cnio_fab *f);
/* The address vector entry of addr (len bytes), inserted on first use and counted:
 * 0 (*fi_addr set) or -CNIO_ERR_CONN (not an address of this provider) / NOMEM.
 * cnio__fab_av_put drops one use. Not thread-safe: one thread per endpoint. */
int cnio__fab_av_get(struct cnio_fab *f, const void *addr, size_t len, uint64_t *fi_addr);
void cnio__fab_av_put(struct cnio_fab *f, uint64_t fi_addr);
/* Closes what cnio__fab_open opened (f zeroed). */
void cnio__fab_close(struct cnio_fab *f);
/* A libfabric error (negative FI_E* / errno) as a negative CNIO_ERR_* code. */
int cnio__fab_err(int fi_err);
/* The provider name the transport name and provider hint stand for: "udp" is
 * "udp;ofi_rxd"; "ofi" is hint (may be "": the best). */
const char *cnio__fab_provider(const char *transport, const char *hint);
/* 1 when this build has libfabric. */
int cnio__fab_available(void);

#endif /* CNIO_FABRIC_H */
