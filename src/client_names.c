/*
 * client_names.c - a control session to every host of a URI, for the namespace
 * requests (MKDIR, RMDIR, RENAME, SETATTR) that `cnio mkdir`, `rm -r`, `mv` and the tree
 * copies of `cnio cp -r` send. One connection per host, authenticated once with the
 * key, carries any number of requests; each request goes to every host at once.
 */
#include "common.h"
#include "client_int.h"

#include <stdlib.h>
#include <string.h>

void cnio__ns_end(struct cnio_ns *ns)
{
    cnio__cl_disconnect(ns->hosts, ns->n);
    free(ns->hosts);
    free(ns->auth);
    cnio__key_wipe(&ns->key);
    memset(ns, 0, sizeof(*ns));
}

int cnio__ns_begin(struct cnio_ns *ns, struct cnio_stack *st, const struct cnio_uri *u,
                   const struct cnio_hints *h, int connect)
{
    int ret;

    memset(ns, 0, sizeof(*ns));
    if (!st || !u || !h || u->nhosts < 1 || connect < 0 || connect > u->nhosts)
        return -CNIO_ERR_INVAL;
    ns->st = st;
    ns->h = *h;
    ns->h.lanes = 1;
    ns->n = u->nhosts;
    ns->hosts = calloc((size_t)ns->n, sizeof(*ns->hosts));
    ns->auth = calloc((size_t)ns->n, sizeof(*ns->auth));
    ret = ns->hosts && ns->auth ? cnio__key_load(h->key_file, &ns->key) : -CNIO_ERR_NOMEM;
    if (ret)
        goto fail;
    cnio__cl_hosts_from_uri(ns->hosts, u, ns->n);
    for (int i = 0; i < ns->n; i++)
        ns->auth[i] = (struct cnio_ep_auth){ .mode = CNIO_WIRE_AUTH_KEY, .k = ns->key.bytes,
                                             .klen = ns->key.len };
    ret = cnio__cl_connect(st, &ns->h, ns->hosts, connect, 1, ns->auth, NULL);
    if (!ret)
        return 0;
fail:
    cnio__ns_end(ns);
    return ret;
}

void cnio__ns_close(struct cnio_ns *ns)
{
    if (!ns)
        return;
    cnio__ns_end(ns);
    free(ns);
}

int cnio__ns_open(struct cnio_stack *st, const struct cnio_uri *u, const struct cnio_hints *h,
                  struct cnio_ns **out)
{
    struct cnio_ns *ns;
    int ret;

    if (!u || !out)
        return -CNIO_ERR_INVAL;
    ns = malloc(sizeof(*ns));
    if (!ns)
        return -CNIO_ERR_NOMEM;
    ret = cnio__ns_begin(ns, st, u, h, u->nhosts);
    if (ret) {
        free(ns);
        return ret;
    }
    *out = ns;
    return 0;
}

/*
 * Sends one request to every host and combines the answers: the first error other than
 * -CNIO_ERR_NOENT, else -CNIO_ERR_NOENT when no host had the name, else 0 (an object
 * striped over fewer hosts than the URI names is not on the others). first0: host 0
 * answers first, and an error there (other than -CNIO_ERR_NOENT) is the answer, the
 * other hosts untouched. Every object has its column 0, and its metadata, on host 0,
 * and an object of one column (a small file of a tree copy) is there alone: a MKDIR or
 * a RENAME that host 0 refuses because an object holds the name would otherwise succeed
 * on the others, and leave the name an object on host 0 and a directory elsewhere.
 * An RMDIR is decided by host 0 alone, as an UNLINK is (cnio__obj_unlink): removed iff
 * host 0 removed it, else -CNIO_ERR_NOENT (remains on the others removed all the same),
 * so that of two callers racing to remove one directory exactly one is told it did.
 */
static int ns_all(struct cnio_ns *ns, uint16_t type, uint64_t offset, const uint8_t *pl,
                  int len, int first0)
{
    struct cnio_call *calls = calloc((size_t)ns->n, sizeof(*calls));
    int ret = 0, found = 0, from = 0;

    if (!calls)
        return -CNIO_ERR_NOMEM;
    for (int i = 0; i < ns->n; i++) {
        calls[i] = (struct cnio_call){ .ep = cnio__cl_ctl_ep(&ns->hosts[i]), .type = type,
                                       .offset = offset, .payload = pl,
                                       .plen = (uint32_t)len };
        if (type == CNIO_WIRE_SETATTR)   /* offset: the mtime, or CNIO_MTIME_NONE */
            cnio__cl_setattr_mtime(&calls[i], (int64_t)offset);
    }
    if (first0 && ns->n > 1) {
        cnio__stack_calls(ns->st, calls, 1);
        if (calls[0].status && calls[0].status != -CNIO_ERR_NOENT) {
            ret = calls[0].status;
            free(calls);
            return ret;
        }
        from = 1;
    }
    cnio__stack_calls(ns->st, calls + from, ns->n - from);
    for (int i = 0; i < ns->n; i++) {
        found |= calls[i].status == 0;
        if (!ret && calls[i].status && calls[i].status != -CNIO_ERR_NOENT)
            ret = calls[i].status;
    }
    if (!ret && type == CNIO_WIRE_RMDIR)
        ret = calls[0].status;
    free(calls);
    return ret ? ret : found ? 0 : -CNIO_ERR_NOENT;
}

static int ns_one(struct cnio_ns *ns, uint16_t type, uint32_t flags, uint64_t unit,
                  uint64_t offset, const char *path)
{
    uint8_t pl[CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME];
    struct cnio_wire_open o = { .flags = flags, .stripe_unit = unit, .name = path };
    int len;

    if (!ns || !path || !path[0] || strlen(path) > CNIO_WIRE_MAX_NAME)
        return -CNIO_ERR_INVAL;
    o.name_len = (uint32_t)strlen(path);
    len = cnio__wire_open_encode(&o, pl, sizeof(pl));
    return len < 0 ? len : ns_all(ns, type, offset, pl, len, type == CNIO_WIRE_MKDIR);
}

int cnio__ns_mkdir(struct cnio_ns *ns, const char *path, int parents)
{
    return ns_one(ns, CNIO_WIRE_MKDIR, parents ? CNIO_WIRE_O_CREATE : 0, 0, 0, path);
}

int cnio__ns_rmdir(struct cnio_ns *ns, const char *path)
{
    return ns_one(ns, CNIO_WIRE_RMDIR, 0, 0, 0, path);
}

void cnio__cl_setattr_mtime(struct cnio_call *c, int64_t mtime_ns)
{
    c->offset = mtime_ns == CNIO_MTIME_NONE ? 0 : (uint64_t)mtime_ns;
    if (mtime_ns != CNIO_MTIME_NONE && c->ep && (cnio__ep_caps(c->ep) & CNIO_WIRE_CAP_MTIME))
        c->flags |= CNIO_WIRE_F_MTIME;
}

int cnio__ns_setattr(struct cnio_ns *ns, const char *path, uint32_t mode, int64_t mtime_ns)
{
    if (mode > 0xffffu)
        return -CNIO_ERR_INVAL;
    return ns_one(ns, CNIO_WIRE_SETATTR, 0, mode, (uint64_t)mtime_ns, path);
}

int cnio__ns_rename(struct cnio_ns *ns, const char *from, const char *to)
{
    uint8_t pl[2 * (CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME)];
    struct cnio_wire_open a = { .name = from }, b = { .name = to };
    int len;

    if (!ns || !from || !to || strlen(from) > CNIO_WIRE_MAX_NAME ||
        strlen(to) > CNIO_WIRE_MAX_NAME)
        return -CNIO_ERR_INVAL;
    a.name_len = (uint32_t)strlen(from);
    b.name_len = (uint32_t)strlen(to);
    len = cnio__wire_rename_encode(&a, &b, pl, sizeof(pl));
    return len < 0 ? len : ns_all(ns, CNIO_WIRE_RENAME, 0, pl, len, 1);
}
