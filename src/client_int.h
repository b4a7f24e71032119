/*
 * client_int.h - what client.c (open, data path) and client_ctl.c (control operations,
 * export / attach) share. Not installed, not used outside these two files.
 */
#ifndef CNIO_CLIENT_INT_H
#define CNIO_CLIENT_INT_H

#include "common.h"
#include "auth.h"
#include "client.h"
#include "config.h"
#include "layout.h"
#include "net.h"
#include "stack.h"
#include "wire.h"

/* Largest piece one request carries. */
#define CNIO__CL_PIECE (1u << 20)

/* One host (column) of an object, or of a control operation. */
struct cnio__cl_host {
    char name[CNIO_HOSTNAME_MAX + 1];
    uint16_t port;
    struct cnio_addr addr;          /* the address that answered */
    int resolved;
    uint64_t handle;                /* object handle on this host, 0 if none */
    uint64_t gen;                   /* OPEN reply: the staged instance, or the generation */
    int opened;                     /* this process opened it: CLOSE at close */
    struct cnio_wire_info info;     /* from OPEN / STAT */
    struct cnio_ep *lanes[CNIO_MAX_LANES];
    int nlanes;
    struct cnio_addr fab;           /* the server's fabric address (raw bytes in ss, len);
                                       len 0: none, the lanes are TCP */
    struct cnio_ep *ctl;            /* the TCP control connection when the lanes are on a
                                       fabric (the opener's), else NULL */
    uint64_t bytes;                 /* moved to / from this host */
    /* transfer cursor (client.c) */
    size_t xi;
    uint64_t pos;
    int next_lane;
};

struct cnio_obj {
    struct cnio_stack *st;
    struct cnio_hints h;
    struct cnio_layout layout;
    int nhosts;                     /* = layout.count */
    struct cnio__cl_host *hosts;
    char *path;
    uint32_t oflags;
    int staged;                     /* writes a staged instance, committed at close */
    uint64_t stage_id;              /* its id (the same on every host) */
    int has_key;                    /* opened with the key (may export) */
    struct cnio_key key;
    uint64_t recorded;              /* logical size recorded on column 0, as last seen */
    struct cnio_obj_stats stats;
};

/* Fills hosts[0..n) from the URI's hosts. */
void cnio__cl_hosts_from_uri(struct cnio__cl_host *hosts, const struct cnio_uri *u, int n);
/*
 * Connects `lanes` endpoints to each of hosts[0..n) (at most connect_window at a time
 * per host) and waits for their handshakes. auth[i] is host i's credentials. Counts
 * connects in stats (may be NULL). 0 or the first error; on error the endpoints
 * opened so far stay in hosts[] for cnio__cl_disconnect.
 */
int cnio__cl_connect(struct cnio_stack *st, const struct cnio_hints *h,
                     struct cnio__cl_host *hosts, int n, int lanes,
                     const struct cnio_ep_auth *auth, struct cnio_obj_stats *stats);
/*
 * The opener's part of a fabric transport (client_fab.c): asks each host, on its TCP
 * connection, for its fabric address (FABRIC), keeps that connection for control, and
 * connects the data lanes over the fabric with this process's own tokens (rank 0).
 */
int cnio__cl_fabric_lanes(struct cnio_obj *obj);
/* Session description extension (client_fab.c): the provider and the hosts' fabric
 * addresses, appended after the hosts. size: the bytes; put writes them at p; take
 * reads them (0 or -CNIO_ERR_PROTO). */
size_t cnio__cl_fab_export_size(const struct cnio_obj *obj);
size_t cnio__cl_fab_export(const struct cnio_obj *obj, uint8_t *p);
int cnio__cl_fab_import(struct cnio_obj *obj, const uint8_t *p, size_t len, size_t *used);
/* 1 when h's transport moves frames as messages over a fabric (not kernel TCP). */
int cnio__cl_fabric(const struct cnio_hints *h);

/* Closes every endpoint of hosts[0..n). */
void cnio__cl_disconnect(struct cnio__cl_host *hosts, int n);
/* Endpoint of host that takes control requests: the first live lane, else lane 0. */
struct cnio_ep *cnio__cl_ctl_ep(const struct cnio__cl_host *host);
/* Encodes an OPEN / STAT / UNLINK / LIST payload into buf (CNIO_WIRE_OPEN_FIXED +
 * CNIO_WIRE_MAX_NAME bytes): its length, or a negative code. */
int cnio__cl_open_payload(uint32_t flags, const struct cnio_layout *l, uint32_t index,
                          const char *name, uint8_t *buf, size_t cap);
/* Logical size from column 0's recorded size and each column's local size. */
uint64_t cnio__cl_size(const struct cnio_layout *l, uint64_t recorded,
                       const struct cnio__cl_host *hosts, int n);
/* Read-only opens: -CNIO_ERR_INCOMPLETE (logged, naming the host) unless every host holds
 * a complete object of column 0's generation. */
int cnio__cl_check_complete(const struct cnio_obj *obj);
/* COMMIT of the staged instance on every host but column 0's, then on column 0's. */
int cnio__cl_commit(struct cnio_obj *obj);
/* Adds to *state (CNIO_OBJ_*) what info says, gen0 being column 0's generation. */
void cnio__cl_state(uint32_t *state, const struct cnio_wire_info *info, uint32_t gen0);
/* Frees obj and everything it holds (endpoints closed, no CLOSE sent). */
void cnio__cl_free(struct cnio_obj *obj);

#endif /* CNIO_CLIENT_INT_H */
