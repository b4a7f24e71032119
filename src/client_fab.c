/*
 * client_fab.c - the opener's side of the fabric transports ("ofi", "udp"): the proxy's
 * "routing and ARP" for them, done once at open on the TCP control connections.
 *
 * Rank 0 (or a lone process) opens the object over TCP as always, then asks every host
 * for the address of its fabric endpoint with the provider wanted (FABRIC). The TCP
 * connection stays for control (OPEN, COMMIT, CLOSE need the key); the data lanes are
 * connected over the fabric and authenticate with this process's own token, as every
 * other rank's do. The provider and the addresses travel to the other ranks at the end
 * of their session descriptions.
 */
#include "common.h"
#include "client_int.h"
#include "fabric.h"
#include "log.h"
#include "transport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAB_REPLY_MAX (4 + CNIO_WIRE_MAX_PROV + CNIO_WIRE_MAX_FABADDR)

int cnio__cl_fabric(const struct cnio_hints *h)
{
    const struct cnio_transport_ops *o = cnio__transport_find(h->transport);

    return o && o->framed;
}

/* A server bound to every address answers 0.0.0.0: reach it where its control port is. */
static void fab_fix_any(struct cnio__cl_host *host)
{
    struct sockaddr_in *f = (struct sockaddr_in *)(void *)&host->fab.ss;
    const struct sockaddr_in *c = (const struct sockaddr_in *)(const void *)&host->addr.ss;

    if (host->fab.len == sizeof(*f) && f->sin_family == AF_INET &&
        f->sin_addr.s_addr == htonl(INADDR_ANY) && c->sin_family == AF_INET)
        f->sin_addr = c->sin_addr;
}

/* Fills hosts' fabric addresses from the FABRIC replies; all must name one provider. */
static int fab_take(struct cnio_obj *obj, struct cnio_call *c, uint8_t (*rb)[FAB_REPLY_MAX])
{
    for (int j = 0; j < obj->nhosts; j++) {
        struct cnio__cl_host *host = &obj->hosts[j];
        struct cnio_wire_fabric f;

        if (cnio__wire_fabric_parse(rb[j], c[j].rlen, &f) || f.addr_len > sizeof(host->fab.ss))
            return -CNIO_ERR_PROTO;
        if (j == 0) {
            memcpy(obj->h.ofi_provider, f.prov, f.prov_len);
            obj->h.ofi_provider[f.prov_len] = '\0';
        } else if (strlen(obj->h.ofi_provider) != f.prov_len ||
                   memcmp(obj->h.ofi_provider, f.prov, f.prov_len)) {
            cnio__err("%s: host %s offers libfabric provider %.*s, host %s %s", obj->path,
                      host->name, (int)f.prov_len, f.prov, obj->hosts[0].name,
                      obj->h.ofi_provider);
            return -CNIO_ERR_NOTSUP;
        }
        memset(&host->fab, 0, sizeof(host->fab));
        memcpy(&host->fab.ss, f.addr, f.addr_len);
        host->fab.len = (socklen_t)f.addr_len;
        fab_fix_any(host);
    }
    return 0;
}

static int fab_query(struct cnio_obj *obj)
{
    const char *want = cnio__fab_provider(obj->h.transport, obj->h.ofi_provider);
    struct cnio_call *c = calloc((size_t)obj->nhosts, sizeof(*c));
    uint8_t (*rb)[FAB_REPLY_MAX] = calloc((size_t)obj->nhosts, FAB_REPLY_MAX);
    int ret = c && rb ? 0 : -CNIO_ERR_NOMEM;

    for (int j = 0; !ret && j < obj->nhosts; j++)
        c[j] = (struct cnio_call){ .ep = cnio__cl_ctl_ep(&obj->hosts[j]), .what = obj->path,
                                   .type = CNIO_WIRE_FABRIC, .payload = want,
                                   .plen = (uint32_t)strlen(want), .rbuf = rb[j],
                                   .rcap = FAB_REPLY_MAX };
    if (!ret)
        ret = cnio__stack_calls(obj->st, c, obj->nhosts);
    if (ret == -CNIO_ERR_NOTSUP)
        cnio__err("%s: a host has no %s endpoint with provider %s (start cnio-server with "
                  "--transport tcp,%s)", obj->path, obj->h.transport, *want ? want : "(any)",
                  obj->h.transport);
    if (!ret)
        ret = fab_take(obj, c, rb);
    free(c);
    free(rb);
    return ret;
}

/* The tokens live in each host's token, as an attached rank's do (client_export.c):
 * cnio__cl_connect keeps auth[j] in host->auth to reconnect with (client_revive.c), so
 * what auth[j].k points at must live as long as the host. */
int cnio__cl_fabric_lanes(struct cnio_obj *obj)
{
    struct cnio_ep_auth *auth = calloc((size_t)obj->nhosts, sizeof(*auth));
    int ret = auth ? fab_query(obj) : -CNIO_ERR_NOMEM;

    for (int j = 0; !ret && j < obj->nhosts; j++) {
        struct cnio__cl_host *host = &obj->hosts[j];

        host->ctl = host->lanes[0];
        for (int l = 1; l < host->nlanes; l++)
            cnio__ep_close(host->lanes[l]);
        memset(host->lanes, 0, sizeof(host->lanes));
        host->nlanes = 0;
        ret = cnio__auth_token(&obj->key, host->handle, 0, host->token);
        auth[j] = (struct cnio_ep_auth){ .mode = CNIO_WIRE_AUTH_TOKEN, .rank = 0,
                                         .object = host->handle, .k = host->token,
                                         .klen = CNIO_WIRE_MAC };
    }
    if (!ret)
        ret = cnio__cl_connect(obj->st, &obj->h, obj->hosts, obj->nhosts, (int)obj->h.lanes,
                               auth, &obj->stats);
    free(auth);
    return ret;
}

size_t cnio__cl_fab_export_size(const struct cnio_obj *obj)
{
    size_t n;

    if (!cnio__cl_fabric(&obj->h))
        return 0;
    n = 1 + strlen(obj->h.ofi_provider);
    for (int j = 0; j < obj->nhosts; j++)
        n += 2 + obj->hosts[j].fab.len;
    return n;
}

size_t cnio__cl_fab_export(const struct cnio_obj *obj, uint8_t *p)
{
    size_t pos, pl;

    if (!cnio__cl_fabric(&obj->h))
        return 0;
    pl = strlen(obj->h.ofi_provider);
    p[0] = (uint8_t)pl;
    memcpy(p + 1, obj->h.ofi_provider, pl);
    pos = 1 + pl;
    for (int j = 0; j < obj->nhosts; j++) {
        cnio__put_le16(p + pos, (uint16_t)obj->hosts[j].fab.len);
        memcpy(p + pos + 2, &obj->hosts[j].fab.ss, obj->hosts[j].fab.len);
        pos += 2 + obj->hosts[j].fab.len;
    }
    return pos;
}

int cnio__cl_fab_import(struct cnio_obj *obj, const uint8_t *p, size_t len, size_t *used)
{
    size_t pos, pl;

    if (len < 1 || (pl = p[0]) >= sizeof(obj->h.ofi_provider) || len < 1 + pl)
        return -CNIO_ERR_PROTO;
    memcpy(obj->h.ofi_provider, p + 1, pl);
    obj->h.ofi_provider[pl] = '\0';
    if (memchr(obj->h.ofi_provider, '\0', pl))
        return -CNIO_ERR_PROTO;
    pos = 1 + pl;
    for (int j = 0; j < obj->nhosts; j++) {
        struct cnio__cl_host *host = &obj->hosts[j];
        size_t al;

        if (len - pos < 2)
            return -CNIO_ERR_PROTO;
        al = cnio__get_le16(p + pos);
        if (al == 0 || al > sizeof(host->fab.ss) || len - pos - 2 < al)
            return -CNIO_ERR_PROTO;
        memset(&host->fab, 0, sizeof(host->fab));
        memcpy(&host->fab.ss, p + pos + 2, al);
        host->fab.len = (socklen_t)al;
        pos += 2 + al;
    }
    *used = pos;
    return 0;
}
