/*
 * client_export.c - the export / attach pair that lets other processes join an open
 * object; the control operations without one are in client_ctl.c (stat, unlink) and
 * client_list.c (list).
 *
 * The export description is a little-endian byte string:
 *
 *   u32 magic "CNIX"   u16 version (1)   u16 hosts C
 *   u32 rank           u32 open flags    u64 stripe unit     u32 stripe count (= C)
 *   u32 lanes          i32 timeout_ms    u32 connect_window  u64 recorded size
 *   char transport[16] (NUL-padded)      u16 path length, path bytes
 *   C times: u16 name length, name bytes, u16 port, u8 family (4 or 6), u8 0,
 *            address (4 or 16 bytes), u64 object handle, token[32]
 *   with a fabric transport (client_fab.c): u8 provider length, provider bytes, then
 *            C times: u16 address length (1..128), the fabric address bytes
 *   u32 CRC32C of everything before it
 *
 * Attach treats it as untrusted: every length is checked before use, and anything out
 * of range is -CNIO_ERR_PROTO.
 */
#include "common.h"
#include "client_int.h"
#include "fabric.h"
#include "log.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CTL_MAGIC 0x58494e43u /* "CNIX" */
#define CTL_VERSION 1
#define CTL_FIXED 66

/* Address bytes and family code (4 / 6) of a; 0 when neither. */
static int ctl_addr_bytes(const struct cnio_addr *a, const uint8_t **bytes)
{
    if (a->ss.ss_family == AF_INET) {
        *bytes = (const uint8_t *)&((const struct sockaddr_in *)(const void *)&a->ss)->sin_addr;
        return 4;
    }
    if (a->ss.ss_family == AF_INET6) {
        *bytes = (const uint8_t *)&((const struct sockaddr_in6 *)(const void *)&a->ss)->sin6_addr;
        return 16;
    }
    return 0;
}

static size_t ctl_export_size(const struct cnio_obj *obj)
{
    size_t n = CTL_FIXED + strlen(obj->path) + 4;

    for (int j = 0; j < obj->nhosts; j++) {
        const uint8_t *b;

        n += 2 + strlen(obj->hosts[j].name) + 4 + (size_t)ctl_addr_bytes(&obj->hosts[j].addr, &b) +
             8 + CNIO_WIRE_MAC;
    }
    return n + cnio__cl_fab_export_size(obj);
}

/* One host's record at p; returns the bytes written or a negative code. */
static int ctl_export_host(const struct cnio_obj *obj, int j, uint32_t rank, uint8_t *p)
{
    const struct cnio__cl_host *host = &obj->hosts[j];
    size_t nl = strlen(host->name), pos = 0;
    const uint8_t *ab;
    int alen = ctl_addr_bytes(&host->addr, &ab), ret;

    if (!alen)
        return -CNIO_ERR_INVAL;
    cnio__put_le16(p, (uint16_t)nl);
    memcpy(p + 2, host->name, nl);
    pos = 2 + nl;
    cnio__put_le16(p + pos, host->port);
    p[pos + 2] = (uint8_t)(alen == 4 ? 4 : 6);
    p[pos + 3] = 0;
    memcpy(p + pos + 4, ab, (size_t)alen);
    pos += 4 + (size_t)alen;
    cnio__put_le64(p + pos, host->handle);
    ret = cnio__auth_token(&obj->key, host->handle, rank, p + pos + 8);
    if (ret)
        return ret;
    return (int)(pos + 8 + CNIO_WIRE_MAC);
}

ssize_t cnio__obj_export(struct cnio_obj *obj, uint32_t rank, void *buf, size_t cap)
{
    size_t need, pos, plen;
    uint8_t *p = buf;

    if (!obj || !obj->has_key)
        return -CNIO_ERR_INVAL;
    need = ctl_export_size(obj);
    if (!buf || cap < need)
        return (ssize_t)need;
    plen = strlen(obj->path);
    memset(p, 0, CTL_FIXED);
    cnio__put_le32(p, CTL_MAGIC);
    cnio__put_le16(p + 4, CTL_VERSION);
    cnio__put_le16(p + 6, (uint16_t)obj->nhosts);
    cnio__put_le32(p + 8, rank);
    cnio__put_le32(p + 12, obj->oflags);
    cnio__put_le64(p + 16, obj->layout.unit);
    cnio__put_le32(p + 24, obj->layout.count);
    cnio__put_le32(p + 28, obj->h.lanes);
    cnio__put_le32(p + 32, (uint32_t)obj->h.timeout_ms);
    cnio__put_le32(p + 36, (uint32_t)obj->h.connect_window);
    cnio__put_le64(p + 40, obj->recorded);
    memcpy(p + 48, obj->h.transport, strnlen(obj->h.transport, 15));
    cnio__put_le16(p + 64, (uint16_t)plen);
    memcpy(p + CTL_FIXED, obj->path, plen);
    pos = CTL_FIXED + plen;
    for (int j = 0; j < obj->nhosts; j++) {
        int n = ctl_export_host(obj, j, rank, p + pos);

        if (n < 0)
            return n;
        pos += (size_t)n;
    }
    pos += cnio__cl_fab_export(obj, p + pos);
    cnio__put_le32(p + pos, cnio__crc32c(0, p, pos));
    return (ssize_t)(pos + 4);
}

/* A bounds-checked reader over the description. */
struct ctl_rd {
    const uint8_t *p;
    size_t len, pos;
};

static const uint8_t *ctl_take(struct ctl_rd *r, size_t n)
{
    const uint8_t *q;

    if (n > r->len - r->pos)
        return NULL;
    q = r->p + r->pos;
    r->pos += n;
    return q;
}

/* A string of 1..max bytes without NUL, preceded by its u16 length, into out. */
static int ctl_take_str(struct ctl_rd *r, size_t max, char *out)
{
    const uint8_t *q = ctl_take(r, 2), *s;
    size_t n;

    if (!q)
        return -CNIO_ERR_PROTO;
    n = cnio__get_le16(q);
    if (n == 0 || n > max || !(s = ctl_take(r, n)) || memchr(s, '\0', n))
        return -CNIO_ERR_PROTO;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

static int ctl_attach_host(struct ctl_rd *r, struct cnio__cl_host *host, uint8_t *token)
{
    const uint8_t *q;
    int alen;

    if (ctl_take_str(r, CNIO_HOSTNAME_MAX, host->name) || !cnio__host_name_ok(host->name) ||
        !(q = ctl_take(r, 4)))
        return -CNIO_ERR_PROTO;
    host->port = cnio__get_le16(q);
    alen = q[2] == 4 ? 4 : q[2] == 6 ? 16 : 0;
    if (!host->port || !alen || q[3])
        return -CNIO_ERR_PROTO;
    memset(&host->addr, 0, sizeof(host->addr));
    if (alen == 4) {
        struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&host->addr.ss;

        sin->sin_family = AF_INET;
        sin->sin_port = htons(host->port);
        q = ctl_take(r, 4);
        if (q)
            memcpy(&sin->sin_addr, q, 4);
        host->addr.len = sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)&host->addr.ss;

        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(host->port);
        q = ctl_take(r, 16);
        if (q)
            memcpy(&sin6->sin6_addr, q, 16);
        host->addr.len = sizeof(*sin6);
    }
    if (!q || !(q = ctl_take(r, 8 + CNIO_WIRE_MAC)))
        return -CNIO_ERR_PROTO;
    host->handle = cnio__get_le64(q);
    memcpy(token, q + 8, CNIO_WIRE_MAC);
    host->resolved = 1;
    return host->handle ? 0 : -CNIO_ERR_PROTO;
}

/* 1 when the n bytes at f are a name of 1..n-1 bytes padded with NULs, as export writes
 * it: only then does the description encode back to the same bytes. */
static int ctl_padded(const uint8_t *f, size_t n)
{
    size_t len = strnlen((const char *)f, n);

    if (len == 0 || len == n)
        return 0;
    while (len < n)
        if (f[len++])
            return 0;
    return 1;
}

/* The fixed part: layout, hints, path; fills obj and *rank. */
static int ctl_attach_head(struct ctl_rd *r, struct cnio_obj *obj, uint32_t *rank)
{
    const uint8_t *q = ctl_take(r, CTL_FIXED - 2);
    char path[CNIO_WIRE_MAX_NAME + 1];

    if (!q || cnio__get_le32(q) != CTL_MAGIC || cnio__get_le16(q + 4) != CTL_VERSION)
        return -CNIO_ERR_PROTO;
    obj->nhosts = cnio__get_le16(q + 6);
    *rank = cnio__get_le32(q + 8);
    obj->oflags = cnio__get_le32(q + 12);
    obj->layout.unit = cnio__get_le64(q + 16);
    obj->layout.count = cnio__get_le32(q + 24);
    cnio__hints_default(&obj->h);
    obj->h.lanes = cnio__get_le32(q + 28);
    obj->h.timeout_ms = (int)cnio__get_le32(q + 32);
    obj->h.connect_window = (int)cnio__get_le32(q + 36);
    obj->recorded = cnio__get_le64(q + 40);
    if (obj->nhosts < 1 || obj->nhosts > CNIO_MAX_HOSTS ||
        obj->layout.count != (uint32_t)obj->nhosts || cnio__layout_check(&obj->layout) ||
        (obj->oflags & ~CNIO_WIRE_O_ALL) || obj->h.lanes < 1 || obj->h.lanes > CNIO_MAX_LANES ||
        obj->h.timeout_ms <= 0 || obj->h.connect_window <= 0 || !ctl_padded(q + 48, 16))
        return -CNIO_ERR_PROTO;
    memcpy(obj->h.transport, q + 48, 16);
    obj->h.striping_unit = obj->layout.unit;
    obj->h.striping_factor = obj->layout.count;
    /* the name rules too: this name goes into messages and into requests */
    if (ctl_take_str(r, CNIO_WIRE_MAX_NAME, path) || cnio__name_problem(path, strlen(path)))
        return -CNIO_ERR_PROTO;
    obj->path = strdup(path);
    return obj->path ? 0 : -CNIO_ERR_NOMEM;
}

static int ctl_attach_parse(const void *desc, size_t len, struct cnio_obj *obj)
{
    struct ctl_rd r = { desc, len, 0 };
    int ret;

    if (len < CTL_FIXED + 4 || cnio__crc32c(0, desc, len - 4) != cnio__get_le32(r.p + len - 4))
        return -CNIO_ERR_PROTO;
    r.len = len - 4;
    ret = ctl_attach_head(&r, obj, &obj->rank);
    if (ret)
        return ret;
    obj->hosts = calloc((size_t)obj->nhosts, sizeof(*obj->hosts));
    obj->tokens = calloc((size_t)obj->nhosts, CNIO_WIRE_MAC);
    if (!obj->hosts || !obj->tokens)
        return -CNIO_ERR_NOMEM;
    for (int j = 0; j < obj->nhosts; j++) {
        ret = ctl_attach_host(&r, &obj->hosts[j], obj->tokens[j]);
        if (ret)
            return ret;
    }
    if (cnio__cl_fabric(&obj->h)) {
        size_t used = 0;

        ret = cnio__cl_fab_import(obj, r.p + r.pos, r.len - r.pos, &used);
        if (ret)
            return ret;
        r.pos += used;
    }
    return r.pos == r.len ? 0 : -CNIO_ERR_PROTO;
}

int cnio__obj_desc_parse(const void *desc, size_t len, struct cnio_obj **out)
{
    struct cnio_obj *obj;
    int ret;

    if (!desc || !out)
        return -CNIO_ERR_INVAL;
    obj = calloc(1, sizeof(*obj));
    if (!obj)
        return -CNIO_ERR_NOMEM;
    ret = ctl_attach_parse(desc, len, obj);
    if (ret) {
        cnio__cl_free(obj);
        return ret;
    }
    *out = obj;
    return 0;
}

/* Connects every lane of every host of a parsed obj with its tokens, which then move
 * from obj->tokens (freed) to each host's token, for reconnects (client_revive.c). */
static int ctl_connect_all(struct cnio_obj *obj)
{
    struct cnio_ep_auth *auth = calloc((size_t)obj->nhosts, sizeof(*auth));
    int ret;

    if (!auth)
        return -CNIO_ERR_NOMEM;
    for (int j = 0; j < obj->nhosts; j++)
        auth[j] = (struct cnio_ep_auth){ .mode = CNIO_WIRE_AUTH_TOKEN, .rank = obj->rank,
                                         .object = obj->hosts[j].handle, .k = obj->tokens[j],
                                         .klen = CNIO_WIRE_MAC };
    ret = cnio__cl_connect(obj->st, &obj->h, obj->hosts, obj->nhosts, (int)obj->h.lanes, auth,
                           &obj->stats);
    if (ret == -CNIO_ERR_AUTH)
        ret = -CNIO_ERR_STALE;   /* a token refused (said above): the open is gone there */
    for (int j = 0; !ret && j < obj->nhosts; j++) {
        memcpy(obj->hosts[j].token, obj->tokens[j], CNIO_WIRE_MAC);
        obj->hosts[j].auth.k = obj->hosts[j].token;
    }
    if (!ret) {
        explicit_bzero(obj->tokens, (size_t)obj->nhosts * CNIO_WIRE_MAC);
        free(obj->tokens);
        obj->tokens = NULL;
    }
    free(auth);
    return ret;
}

/* Attaches; connects to every host now unless on_demand (then the tokens are kept, and
 * cnio__obj_connect_start sets each host's auth from them). */
static int ctl_attach(struct cnio_stack *st, const void *desc, size_t len, int on_demand,
                      struct cnio_obj **out)
{
    struct cnio_obj *obj;
    int ret;

    if (!st || !desc || !out)
        return -CNIO_ERR_INVAL;
    ret = cnio__obj_desc_parse(desc, len, &obj);
    if (ret == -CNIO_ERR_PROTO)
        cnio__debug("attach: malformed object description");
    if (ret)
        return ret;
    obj->st = st;
    if (!on_demand) {
        ret = ctl_connect_all(obj);
        if (ret) {
            cnio__cl_free(obj);
            return ret;
        }
    }
    *out = obj;
    return 0;
}

int cnio__obj_attach(struct cnio_stack *st, const void *desc, size_t len, struct cnio_obj **out)
{
    return ctl_attach(st, desc, len, 0, out);
}

int cnio__obj_attach_on_demand(struct cnio_stack *st, const void *desc, size_t len,
                               struct cnio_obj **out)
{
    return ctl_attach(st, desc, len, 1, out);
}
