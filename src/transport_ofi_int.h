/*
 * transport_ofi_int.h - the state of the "ofi" and "udp" transports, shared by their
 * files: transport_ofi.c (endpoints, completions, frames, the ops tables) and
 * transport_ofi_conn.c (a connection's handshake, BYE and close). Not for use outside
 * the transport.
 */
#ifndef CNIO_TRANSPORT_OFI_INT_H
#define CNIO_TRANSPORT_OFI_INT_H

#include "common.h"
#include "fabric.h"
#include "stack.h"
#include "transport.h"
#include "wire.h"

#include <rdma/fabric.h>

#include <stdint.h>
#include <sys/socket.h>

#define OFI_MAX_CONNS 4096
#define OFI_SLOTS CNIO_EP_MAX_INFLIGHT
#define OFI_CQ_BATCH 32
#define OFI_CLOSE_MS 2000
/* The pause of a connection's own wait between tries that got nowhere (ofi_nap: a send
 * the provider refused with FI_EAGAIN, a close's poll that completed nothing): the
 * first, and the longest it doubles to. */
#define OFI_NAP_US 100
#define OFI_NAP_MAX_US 2000
#define OFI_CHAL_LEN (CNIO_WIRE_HDR_SIZE + CNIO_WIRE_CHALLENGE_SIZE)
#define OFI_HELLO_TRIES 3     /* endpoints a connection's HELLO is sent from, at most */
#define OFI_MAX_FEPS 8        /* endpoints per transport instance */
#define OFI_PROBE_MS 1000     /* a delivered HELLO's CHALLENGE is this late: a new address */
#define OFI_CONNECT_PROBE_MS 250  /* HELLOs the provider refuses this long: a TCP probe */
#define OFI_LOST_PROBE_MS 2000    /* frames held this long without a completion: a probe */
#define OFI_BYE_MS 200        /* a pinned endpoint's BYE is acknowledged within this, at most */
#define OFI_SOURCE_MAX 256

enum ofi_kind { OFI_SEND, OFI_RECV, OFI_HELLO, OFI_CHAL, OFI_BYE };

struct ofi_conn;

struct ofi_op {
    struct fi_context2 ctx;     /* first: libfabric's per-operation context */
    struct ofi_conn *c;
    enum ofi_kind kind;
    int try;                    /* OFI_HELLO, OFI_CHAL: which HELLO */
    uint64_t id;
    int posted;                 /* the provider holds it */
    int queued;                 /* on the done list */
    int status;                 /* 0 or a negative code */
    size_t len;
    const uint8_t *hdr, *payload;
    struct ofi_op *next;
};

struct ofi_tp {
    struct cnio_tp base;
    struct cnio_fab *fab;                    /* where connections start (feps[start]) */
    struct cnio_fab *feps[OFI_MAX_FEPS];     /* more: opened for HELLOs sent again, or in
                                              * place of a closed one (ofi_retire) */
    int nfeps, start;
    int pinned[OFI_MAX_FEPS];                /* bound to a port of CNIO_OFI_SOURCE's */
    char source[OFI_SOURCE_MAX];             /* ... that one, or "" */
    const char *prov;                        /* what the first endpoint was opened with */
    char prov_used[CNIO_FAB_PROV_MAX];       /* ... and what it got: the others' */
    int timeout_ms;                          /* the watchdog's bound on shm (fab_live.c) */
    struct ofi_conn *conns[OFI_MAX_CONNS];   /* by our id; 0 unused */
    uint16_t next_id;
};

struct ofi_conn {
    struct cnio_conn base;
    struct ofi_tp *tp;
    struct cnio_fab *fab;       /* the endpoint of the current try */
    fi_addr_t peer;             /* the server in fab's address vector */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    uint16_t id;
    uint32_t sid;               /* the server's id for us, from the CHALLENGE */
    uint64_t session;           /* the session of the frames sent, once there is one */
    int dead;                   /* a send failed: the error */
    int try, fepi[OFI_HELLO_TRIES];        /* the current try; each try's endpoint */
    fi_addr_t tpeer[OFI_HELLO_TRIES];      /* each try's server address */
    int64_t delivered_ms;       /* when the current HELLO was reported delivered */
    int64_t moved_ms;           /* the last completion, or the first frame posted after none */
    int probe_fd;               /* cnio__ofi_watch's probe under way, else -1 */
    struct ofi_op send[OFI_SLOTS], recv[OFI_SLOTS];
    struct ofi_op hello[OFI_HELLO_TRIES], chal[OFI_HELLO_TRIES];
    struct ofi_op bye[OFI_HELLO_TRIES];    /* each try's BYE, from a pinned endpoint */
    uint8_t byebuf[OFI_HELLO_TRIES][CNIO_WIRE_NONCE];    /* ... and its payload */
    struct ofi_op *done_head, *done_tail;
    uint8_t chalbuf[OFI_HELLO_TRIES][OFI_CHAL_LEN];
};

static inline struct ofi_tp *ofi_tp_of(struct cnio_tp *tp)
{
    return (struct ofi_tp *)tp;
}

/* transport_ofi.c */
/* Reads every endpoint's completion queue into its connections' done lists: 0, or a
 * negative code. */
int cnio__ofi_cq_drain(struct ofi_tp *tp);
/* Opens one more endpoint of tp's provider (source: CNIO_OFI_SOURCE, or NULL): its
 * index, or a negative code. */
int cnio__ofi_fep_add(struct ofi_tp *tp, const char *source);
/* transport_ofi_conn.c */
/* 1 when the provider holds a send or receive of c (the caller's buffers) on its
 * current endpoint, alive. */
int cnio__ofi_holds_frames(const struct ofi_conn *c);
/* A TCP probe of c's address, one step (*fd -1 when none is under way): 1 under way, 0
 * connected or not a TCP provider, else the kernel's error (-CNIO_ERR_REFUSED, ...). */
int cnio__ofi_probe(const struct ofi_conn *c, int *fd);
/* Frames of c held OFI_LOST_PROBE_MS without a completion: a probe of its address, and
 * -CNIO_ERR_CONN (c lost) when nothing listens there any more or it is out of reach;
 * else 0. */
int cnio__ofi_watch(struct ofi_conn *c);
/* The connect slot: a connection to peer, its HELLO sent; 0, or a negative code. */
int cnio__ofi_connect(struct cnio_tp *tpb, const struct cnio_peer *peer,
                      struct cnio_conn **out);
/* The close slot: BYE, then frees the connection once the provider holds none of it. */
void cnio__ofi_close(struct cnio_conn *conn);
/* No CHALLENGE OFI_PROBE_MS after the HELLO was delivered: sends it again from another
 * endpoint. 0, or a negative code. */
int cnio__ofi_hello_again(struct ofi_conn *c);
/* Tells the server of try t that its connection sid is closed. */
void cnio__ofi_bye(struct ofi_conn *c, int t, uint32_t sid);

#endif /* CNIO_TRANSPORT_OFI_INT_H */
