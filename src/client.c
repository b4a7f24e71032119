/*
 * client.c - one process's view of an object striped over the hosts of a URI
 * (src/client.h): connecting, STATs of each host, size and sync. Opening and closing
 * are in client_open.c, the data path in client_data.c.
 */
#include "common.h"
#include "client_int.h"
#include "log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- hosts and connections ----------------------------------------------------------- */

void cnio__cl_hosts_from_uri(struct cnio__cl_host *hosts, const struct cnio_uri *u, int n)
{
    for (int i = 0; i < n; i++) {
        memset(&hosts[i], 0, sizeof(hosts[i]));
        memcpy(hosts[i].name, u->hosts[i].name, sizeof(hosts[i].name));
        hosts[i].port = u->hosts[i].port;
    }
}

/* One server named twice in the URI, under two names ("127.0.0.1:P,localhost:P"): the
 * parser refuses a name listed twice, but only the connections tell these apart. Its
 * second column's open met the first's instance and failed as "object exists". Two
 * addresses of one server ("127.0.0.1:P,127.0.0.2:P" of one listening on every address)
 * are told apart by the id its AUTH replies carry (CNIO_WIRE_CAP_ID); a server too old
 * to say one is not checked so. (Declared in client_int.h.) */
int cnio__cl_hosts_distinct(const struct cnio__cl_host *hosts, int n, const char *path)
{
    char hp[CNIO_HOSTPORT_MAX], hp2[CNIO_HOSTPORT_MAX];

    for (int j = 1; j < n; j++)
        for (int i = 0; i < j; i++) {
            const struct cnio__cl_host *a = &hosts[i], *b = &hosts[j];
            struct cnio_ep *ea = cnio__cl_ctl_ep(a), *eb = cnio__cl_ctl_ep(b);
            uint64_t ida = ea ? cnio__ep_server_id(ea) : 0;
            uint64_t idb = eb ? cnio__ep_server_id(eb) : 0;

            if (a->resolved && b->resolved && cnio__addr_same(&a->addr, &b->addr)) {
                cnio__log_err(-CNIO_ERR_URI, 0, "%s: %s: hosts %s and %s of the URI are "
                              "one server (one address and port): list each server once",
                              path, cnio_strerror(-CNIO_ERR_URI),
                              cnio__hostport(hp, sizeof(hp), a->name, a->port),
                              cnio__hostport(hp2, sizeof(hp2), b->name, b->port));
                return -CNIO_ERR_URI;
            }
            if (ida && ida == idb) {
                cnio__log_err(-CNIO_ERR_URI, 0, "%s: %s: hosts %s and %s of the URI reach "
                              "one server (the same cnio-server answers at both addresses): "
                              "list each server once", path, cnio_strerror(-CNIO_ERR_URI),
                              cnio__hostport(hp, sizeof(hp), a->name, a->port),
                              cnio__hostport(hp2, sizeof(hp2), b->name, b->port));
                return -CNIO_ERR_URI;
            }
        }
    return 0;
}

/*
 * The hosts whose connection failed, and how, said by this process when cl_said_on
 * (cnio__cl_say_once): a command meets the same host down again (a STAT after the copy
 * that lost it, each file of a tree) and says it once. A connection that succeeds
 * forgets its host. CL_SAID_MAX at most: the oldest goes first.
 */
#define CL_SAID_MAX 16
static struct { char name[CNIO_HOSTNAME_MAX + 1]; uint16_t port; int err; } cl_said[CL_SAID_MAX];
static unsigned cl_nsaid;
static pthread_mutex_t cl_said_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int cl_said_on;

void cnio__cl_say_once(int on)
{
    atomic_store_explicit(&cl_said_on, on != 0, memory_order_relaxed);
}

/* The slot of name:port in cl_said, or -1 (cl_said_lock held). */
static int cl_said_find(const char *name, uint16_t port)
{
    for (unsigned i = 0; i < CNIO_MIN(cl_nsaid, CL_SAID_MAX); i++)
        if (cl_said[i].port == port && cl_said[i].err && !strcmp(cl_said[i].name, name))
            return (int)i;
    return -1;
}

int cnio__cl_connect_said(const char *name, uint16_t port, int err)
{
    int i, said;

    if (!atomic_load_explicit(&cl_said_on, memory_order_relaxed))
        return 0;
    pthread_mutex_lock(&cl_said_lock);
    i = cl_said_find(name, port);
    said = i >= 0 && cl_said[i].err == err;
    if (i < 0)
        i = (int)(cl_nsaid++ % CL_SAID_MAX);
    snprintf(cl_said[i].name, sizeof(cl_said[i].name), "%s", name);
    cl_said[i].port = port;
    cl_said[i].err = err;
    pthread_mutex_unlock(&cl_said_lock);
    return said;
}

/* host answered: a failure of it said before is said again when it comes back. */
static void cl_said_forget(const struct cnio__cl_host *host)
{
    int i;

    pthread_mutex_lock(&cl_said_lock);
    i = cl_said_find(host->name, host->port);
    if (i >= 0)
        cl_said[i].err = 0;
    pthread_mutex_unlock(&cl_said_lock);
}

/* What to look at, in words after the error, when a host's first connection failed with
 * ret (refused, unreachable, taken and dropped before the handshake ended, or no
 * handshake within cnio_timeout_ms), else "". A timeout while connecting (connecting:
 * the TCP connect itself, no answer to its SYN) is a host down or a firewall dropping
 * the port, not a program that took the connection and said nothing. */
static const char *cl_connect_hint(int ret, int connecting)
{
    return ret == -CNIO_ERR_REFUSED ? " (is a cnio-server listening there?)"
           : ret == -CNIO_ERR_UNREACH ? " (is that host reachable from here?)"
           : ret == -CNIO_ERR_CONN ? " (something there took the connection and dropped it "
                                     "before the handshake ended: is it a cnio-server?)"
           : ret == -CNIO_ERR_TIMEOUT && connecting
               ? " (nothing answered the connection within cnio_timeout_ms: is that host "
                 "up, and does a firewall on the way let its port through?)"
           : ret == -CNIO_ERR_TIMEOUT ? " (no handshake within cnio_timeout_ms: is a "
                                        "cnio-server running there? another program on that "
                                        "port, or a stopped server, answers nothing)"
           : "";
}

/* Says why host's first lane over its libfabric endpoint failed with ret. The host's
 * control port answered moment ago, over TCP: a refusal of the endpoint's own port is a
 * firewall rule for that port, or a server that restarted since (a new endpoint). */
static void cl_fab_connect_err(const struct cnio__cl_host *host, const struct cnio_hints *h,
                               int ret)
{
    char hp[CNIO_HOSTPORT_MAX], fa[CNIO_HOSTPORT_MAX];
    int ip = host->fab.ss.ss_family == AF_INET || host->fab.ss.ss_family == AF_INET6;

    cnio__err("cannot connect to %s over libfabric %s%s%s%s: %s%s",
              cnio__hostport(hp, sizeof(hp), host->name, host->port),
              *h->ofi_provider ? h->ofi_provider : h->transport,
              ip ? " (its endpoint " : "", ip ? cnio__net_ntop(&host->fab, fa, sizeof(fa)) : "",
              ip ? ")" : "", cnio_strerror(ret),
              ret == -CNIO_ERR_REFUSED ? " (its control port answered: does a firewall on the "
                                         "way reject the endpoint's port, or did the server "
                                         "restart?)"
                                       : cl_connect_hint(ret, 1));
}

const char *cnio__cl_key_advice(const struct cnio_hints *h, char *buf, size_t cap)
{
    const char *env = getenv("CNIO_KEY_FILE"), *from;
    char file[PATH_MAX];

    if (h->key_file[0])
        from = env && !strcmp(env, h->key_file) ? "CNIO_KEY_FILE" : "the hint cnio_key_file";
    else
        from = env && *env ? "CNIO_KEY_FILE" : "the default: neither CNIO_KEY_FILE nor the "
                                               "hint cnio_key_file is set";
    if (cnio__key_path(h->key_file, file, sizeof(file)))
        snprintf(file, sizeof(file), "%s", h->key_file);
    snprintf(buf, cap, ": the server holds another key than this process's, read from %s "
             "(%s); the server's --key must be a copy of that file (compare the two "
             "files' sha256sum)", file, from);
    return buf;
}

/* Says that no address of host's name took its first lane's connection (err). */
static void cl_connect_err(const struct cnio__cl_host *host, int err)
{
    char hp[CNIO_HOSTPORT_MAX];

    cnio__log_err(err, cnio__cl_connect_said(host->name, host->port, err),
                  "cannot connect to %s: %s%s", cnio__hostport(hp, sizeof(hp), host->name,
                                                             host->port),
                  cnio_strerror(err), cl_connect_hint(err, 1));
}

/*
 * Starts lanes [from, to) of host: over its libfabric endpoint (whose connect waits),
 * else TCP connects left under way (cnio__ep_open_addrs), each to the addresses of the
 * host's name in turn while it is not resolved, the next only when one fails. A lane
 * that fails at once fails the round (the first lane said, as when it fails later).
 */
static int cl_lanes_start(struct cnio_stack *st, const struct cnio_hints *h,
                          struct cnio__cl_host *host, int from, int to,
                          const struct cnio_ep_auth *auth)
{
    struct cnio_addr addrs[CNIO_EP_ADDRS];
    int n = 1, ret = 0;

    if (!host->fab.len && !host->resolved) {
        ret = cnio__net_resolve(host->name, host->port, addrs, (int)CNIO_ARRAY_LEN(addrs), &n);
        if (ret) {
            cnio__err("cannot resolve host %s", host->name);
            return ret;
        }
    } else {
        addrs[0] = host->fab.len ? host->fab : host->addr;
    }
    for (int l = from; l < to && !ret; l++) {
        ret = cnio__ep_open_addrs(st, h, addrs, n, host->name, auth, &host->lanes[l]);
        if (!ret)
            host->nlanes = l + 1;
    }
    if (ret && host->nlanes == 0 && host->fab.len)
        cl_fab_connect_err(host, h, ret);
    else if (ret && host->nlanes == 0 && !host->resolved)
        cl_connect_err(host, ret);
    return ret;
}

/*
 * Opens lanes [from, to) of every host, then waits for them: every connect of the round
 * is under way at once, and the handshake of a lane whose connect is through goes on
 * while the others still connect, so a round costs about one set-up, not one a lane, and
 * a host whose SYNs go unanswered holds no other host's handshake (whose server gives it
 * 10 s). The first lane of a host whose name was not yet resolved tells its address.
 */
static int cl_connect_round(struct cnio_stack *st, const struct cnio_hints *h,
                            struct cnio__cl_host *hosts, int n, int from, int to,
                            const struct cnio_ep_auth *auth)
{
    char hp[CNIO_HOSTPORT_MAX], why[PATH_MAX + 256];
    int64_t t0 = cnio__now_ms();

    for (int i = 0; i < n; i++) {
        int ret = cl_lanes_start(st, h, &hosts[i], from, to, &auth[i]);

        if (ret)
            return ret;
    }
    for (int i = 0; i < n; i++) {
        int ret = cnio__ep_wait_ready(st, hosts[i].lanes + from, to - from), l = from;

        while (ret && l < to && !cnio__ep_error(hosts[i].lanes[l]))
            l++;   /* the lane whose error it is */
        if (!hosts[i].resolved && !hosts[i].fab.len && cnio__ep_connected(hosts[i].lanes[0])) {
            hosts[i].addr = *cnio__ep_addr(hosts[i].lanes[0]);
            hosts[i].resolved = 1;
        }
        if (ret && l < to && !cnio__ep_connected(hosts[i].lanes[l])) {   /* no connection */
            if (l == 0 && !hosts[i].resolved && !hosts[i].fab.len)
                cl_connect_err(&hosts[i], ret);
            return ret;
        }
        if (ret == -CNIO_ERR_AUTH && auth[i].mode == CNIO_WIRE_AUTH_TOKEN)
            cnio__err("connecting to %s: the server refused this open's token: it no "
                      "longer knows the open (it restarted since, or released it)",
                      cnio__hostport(hp, sizeof(hp), hosts[i].name,
                                     hosts[i].port));   /* not a wrong key (client_revive.c) */
        else if (ret == -CNIO_ERR_AUTH)
            cnio__log_err(ret, cnio__cl_connect_said(hosts[i].name, hosts[i].port, ret),
                          "connecting to %s: %s%s",
                          cnio__hostport(hp, sizeof(hp), hosts[i].name, hosts[i].port),
                          cnio_strerror(ret), cnio__cl_key_advice(h, why, sizeof(why)));
        else if (ret == -CNIO_ERR_CONN &&
                 *cnio__stack_stall_note(st, t0, cnio__hostport(hp, sizeof(hp), hosts[i].name,
                                                                hosts[i].port),
                                         why, sizeof(why)))
            /* not this host's doing: its server gave up on a handshake left unanswered */
            cnio__log_err(ret, cnio__cl_connect_said(hosts[i].name, hosts[i].port, ret),
                          "connecting to %s: %s before authenticating%s",
                          cnio__hostport(hp, sizeof(hp), hosts[i].name, hosts[i].port),
                          cnio_strerror(ret), why);
        else if (ret)
            cnio__log_err(ret, cnio__cl_connect_said(hosts[i].name, hosts[i].port, ret),
                          "connecting to %s: %s%s",
                          cnio__hostport(hp, sizeof(hp), hosts[i].name, hosts[i].port),
                          cnio_strerror(ret), from == 0 ? cl_connect_hint(ret, 0) : "");
        if (ret)
            return ret;
        if (from == 0)
            cl_said_forget(&hosts[i]);
    }
    return 0;
}

int cnio__cl_connect(struct cnio_stack *st, const struct cnio_hints *h,
                     struct cnio__cl_host *hosts, int n, int lanes,
                     const struct cnio_ep_auth *auth, struct cnio_obj_stats *stats)
{
    int64_t t0 = cnio__now_ns();
    int window = CNIO_MAX(h->connect_window, 1), ret = 0;
    struct cnio_hints tcp;

    if (n > 0 && !hosts[0].fab.len && cnio__cl_fabric(h)) {
        tcp = *h;   /* no fabric address yet: control, over TCP */
        snprintf(tcp.transport, sizeof(tcp.transport), "tcp");
        h = &tcp;
    }

    lanes = CNIO_MIN(CNIO_MAX(lanes, 1), CNIO_MAX_LANES);
    for (int i = 0; i < n; i++)
        hosts[i].auth = auth[i];   /* to authenticate again (client_revive.c) */
    for (int from = 0; from < lanes && !ret; from += window)
        ret = cl_connect_round(st, h, hosts, n, from, CNIO_MIN(from + window, lanes), auth);
    if (stats) {
        for (int i = 0; i < n; i++)
            stats->connects += (uint64_t)hosts[i].nlanes;
        stats->connect_ns += cnio__now_ns() - t0;
    }
    return ret;
}

void cnio__cl_disconnect(struct cnio__cl_host *hosts, int n)
{
    for (int i = 0; hosts && i < n; i++) {
        cnio__ep_close(hosts[i].ctl);
        hosts[i].ctl = NULL;
        for (int l = 0; l < hosts[i].nlanes; l++) {
            cnio__ep_close(hosts[i].lanes[l]);
            hosts[i].lanes[l] = NULL;
        }
        hosts[i].nlanes = 0;
    }
}

struct cnio_ep *cnio__cl_ctl_ep(const struct cnio__cl_host *host)
{
    if (host->ctl)
        return host->ctl;
    for (int l = 0; l < host->nlanes; l++)
        if (!cnio__ep_error(host->lanes[l]))
            return host->lanes[l];
    return host->lanes[0];
}

int cnio__cl_open_payload(uint32_t flags, const struct cnio_layout *l, uint32_t index,
                          const char *name, uint8_t *buf, size_t cap)
{
    struct cnio_wire_open o = { 0 };
    size_t len = strlen(name);

    if (len > CNIO_WIRE_MAX_NAME)
        return -CNIO_ERR_INVAL;
    o.flags = flags;
    o.stripe_count = l ? l->count : 0;
    o.stripe_unit = l ? l->unit : 0;
    o.stripe_index = index;
    o.name_len = (uint32_t)len;
    o.name = name;
    return cnio__wire_open_encode(&o, buf, cap);
}

uint64_t cnio__cl_size(const struct cnio_layout *l, uint64_t recorded,
                       const struct cnio__cl_host *hosts, int n)
{
    uint64_t size = recorded;

    for (int j = 0; j < n; j++)
        size = CNIO_MAX(size, cnio__layout_logical_end(l, (uint32_t)j, hosts[j].info.local_size));
    return size;
}

void cnio__cl_name_failures(const char *path, const char *op, const struct cnio__cl_host *hosts,
                            const struct cnio_call *c, int n, int quiet)
{
    char hp[CNIO_HOSTPORT_MAX];

    for (int i = 0; i < n; i++)
        if (c[i].ep && c[i].status && !c[i].reasoned && !cnio__ep_error(c[i].ep) &&
            !((quiet == 1 || quiet == 2) &&
              (c[i].status == -CNIO_ERR_NOENT || c[i].status == -CNIO_ERR_EXIST)) &&
            !(quiet == 2 && c[i].status == -CNIO_ERR_ISDIR) &&
            !(quiet == 3 && c[i].status == -CNIO_ERR_INCOMPLETE))
            cnio__err("%s: %s on host %s: %s", path[0] ? path : "/", op,
                      cnio__hostport(hp, sizeof(hp), hosts[i].name, hosts[i].port),
                      cnio_strerror(c[i].status));
}

int cnio__cl_stat_each(struct cnio_stack *st, struct cnio__cl_stat *s, int n,
                       const char *name0, const char *name, const struct cnio__cl_host *log,
                       int quiet)
{
    uint8_t pl0[CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME], pl[sizeof(pl0)];
    int len0 = cnio__cl_open_payload(0, NULL, 0, name0, pl0, sizeof(pl0));
    int len = cnio__cl_open_payload(0, NULL, 0, name, pl, sizeof(pl)), ret;
    struct cnio_call *c = calloc((size_t)CNIO_MAX(n, 1), sizeof(*c));
    uint8_t (*rb)[CNIO_WIRE_INFO_SIZE] = calloc((size_t)CNIO_MAX(n, 1), CNIO_WIRE_INFO_SIZE);

    ret = !c || !rb ? -CNIO_ERR_NOMEM : len < 0 ? len : len0 < 0 ? len0 : 0;
    if (ret) {
        for (int i = 0; i < n; i++)
            s[i].status = ret;
        goto free_calls;
    }
    for (int i = 0; i < n; i++) {
        s[i].flags = (cnio__ep_caps(s[i].ep) & CNIO_WIRE_CAP_LIVE ? CNIO_WIRE_F_LIVE : 0) |
                     (cnio__ep_caps(s[i].ep) & CNIO_WIRE_CAP_INPLACE ? CNIO_WIRE_F_INPLACE : 0);
        c[i] = (struct cnio_call){ .ep = s[i].ep, .what = i ? name : name0,
                                   .type = CNIO_WIRE_STAT, .flags = s[i].flags,
                                   .payload = i ? pl : pl0,
                                   .plen = (uint32_t)(i ? len : len0),
                                   .rbuf = rb[i], .rcap = CNIO_WIRE_INFO_SIZE };
    }
    ret = cnio__stack_calls(st, c, n);
    if (log)
        cnio__cl_name_failures(name, "stat", log, c, n, quiet);
    for (int i = 0; i < n; i++) {
        s[i].status = c[i].status;
        if (!s[i].status && cnio__wire_info_parse(rb[i], c[i].rlen, &s[i].info))
            s[i].status = -CNIO_ERR_PROTO;
        s[i].gen = s[i].order = 0;
        if (!s[i].status && (cnio__ep_caps(s[i].ep) & CNIO_WIRE_CAP_FINISH)) {
            s[i].gen = c[i].robject;
            s[i].order = c[i].roffset;
        }
    }
free_calls:
    free(c);
    free(rb);
    return ret;
}

void cnio__cl_stat_live(const struct cnio__cl_stat *s, int n, uint32_t *live)
{
    for (int i = 0; i < n; i++) {
        if (!(s[i].flags & CNIO_WIRE_F_LIVE))
            *live &= ~CNIO_OBJ_LIVE_KNOWN;
        if (!s[i].status && (s[i].info.flags & CNIO_WIRE_I_LIVE))
            *live |= CNIO_OBJ_LIVE;
    }
}

void cnio__cl_free(struct cnio_obj *obj)
{
    if (!obj)
        return;
    if (obj->hosts) {
        if (!obj->borrowed)
            cnio__cl_disconnect(obj->hosts, obj->nhosts);
        explicit_bzero(obj->hosts, (size_t)obj->nhosts * sizeof(*obj->hosts));   /* tokens */
    }
    if (obj->kept)   /* its stack's keep is obj's (cnio__obj_set_quiet) */
        cnio__stack_hush(obj->st, NULL, NULL);
    free(obj->hosts);
    free(obj->path);
    cnio__key_wipe(&obj->key);
    if (obj->tokens)
        explicit_bzero(obj->tokens, (size_t)obj->nhosts * CNIO_WIRE_MAC);
    free(obj->tokens);
    free(obj);
}

/* ---- size, sync, accessors ------------------------------------------------------------ */

/* The capabilities host h's server announced (none while h has no connection). */
static uint32_t cl_host_caps(const struct cnio__cl_host *h)
{
    const struct cnio_ep *ep = h->nlanes || h->ctl ? cnio__cl_ctl_ep(h) : NULL;

    return ep ? cnio__ep_caps(ep) : 0;
}

/* Of request flags, those host h takes: F_INPLACE only where its server says CAP_INPLACE. */
static uint16_t cl_host_flags(const struct cnio__cl_host *h, uint16_t flags)
{
    if (!(cl_host_caps(h) & CNIO_WIRE_CAP_INPLACE))
        flags &= (uint16_t)~CNIO_WIRE_F_INPLACE;
    return flags;
}

/* The failures of a call made of each of obj's hosts (op, its name), as
 * cnio__cl_name_failures says them, through cnio__cl_host_say: a quiet object keeps
 * them, or drops those of a host said already (a collective call's, said once). */
static void cl_each_failed(struct cnio_obj *obj, const char *op, const struct cnio_call *c)
{
    char hp[CNIO_HOSTPORT_MAX];

    for (int j = 0; j < obj->nhosts; j++)
        if (c[j].ep && c[j].status && !c[j].reasoned && !cnio__ep_error(c[j].ep))
            cnio__cl_host_say(obj, j, CNIO__CL_LOST_XFER, c[j].status, "%s: %s on host %s: %s",
                              obj->path[0] ? obj->path : "/", op,
                              cnio__hostport(hp, sizeof(hp), obj->hosts[j].name,
                                             obj->hosts[j].port),
                              cnio_strerror(c[j].status));
}

/* One control request per host, all at once, with per-host info replies; flags: the
 * request's (cl_host_flags). */
static int cl_each_host(struct cnio_obj *obj, uint16_t type, uint64_t offset,
                        const void *payload, uint32_t plen, int want_info, uint16_t flags)
{
    struct cnio_call *c = calloc((size_t)obj->nhosts, sizeof(*c));
    uint8_t (*rb)[CNIO_WIRE_INFO_SIZE] = calloc((size_t)obj->nhosts, CNIO_WIRE_INFO_SIZE);
    int ret = c && rb ? cnio__cl_revive(obj) : -CNIO_ERR_NOMEM;

    if (!ret)
        ret = cnio__cl_ensure(obj, NULL);
    for (int j = 0; !ret && j < obj->nhosts; j++)
        c[j] = (struct cnio_call){ .ep = cnio__cl_ctl_ep(&obj->hosts[j]), .what = obj->path,
                                   .type = type, .flags = cl_host_flags(&obj->hosts[j], flags),
                                   .object = obj->hosts[j].handle, .offset = offset,
                                   .payload = payload, .plen = plen, .rbuf = rb[j],
                                   .rcap = want_info ? CNIO_WIRE_INFO_SIZE : 0 };
    if (!ret) {
        ret = cnio__stack_calls(obj->st, c, obj->nhosts);
        cl_each_failed(obj, type == CNIO_WIRE_SETSIZE
                       ? (flags & CNIO_WIRE_F_ALLOCATE ? "preallocate" : "set size")
                       : type == CNIO_WIRE_SYNC ? "sync" : "stat", c);
    }
    for (int j = 0; !ret && want_info && j < obj->nhosts; j++)
        if (cnio__wire_info_parse(rb[j], c[j].rlen, &obj->hosts[j].info))
            ret = -CNIO_ERR_PROTO;
    cnio__cl_release(obj);
    free(c);
    free(rb);
    return ret;
}

/* A STAT of the open object on every host, by handle: obj->hosts[j].info. */
static int cl_stat_handles(struct cnio_obj *obj, uint16_t flags)
{
    uint8_t pl[CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME];
    int len = cnio__cl_open_payload(0, NULL, 0, obj->path, pl, sizeof(pl));

    return len < 0 ? len : cl_each_host(obj, CNIO_WIRE_STAT, 0, pl, (uint32_t)len, 1, flags);
}

/* A digest of what a host said of its column that any write of it changes. */
static uint64_t cl_mark(uint64_t h, const struct cnio_wire_info *i)
{
    h = cnio__fnv1a64(h, &i->gen, sizeof(i->gen));
    h = cnio__fnv1a64(h, &i->size, sizeof(i->size));
    h = cnio__fnv1a64(h, &i->local_size, sizeof(i->local_size));
    return cnio__fnv1a64(h, &i->mtime_ns, sizeof(i->mtime_ns));
}

/* A STAT by handle of every host asking flags, what the open's replies said of each host
 * left as it was (cnio__obj_opened): 0 with *seen the hosts' info flags ORed and *mark
 * (when not NULL) the digest of what each said of its column (cl_mark); or the STAT's
 * negative code. cnio__obj_inplace's look and cnio__cl_others'. */
static int cl_look(struct cnio_obj *obj, uint16_t flags, uint32_t *seen, uint64_t *mark)
{
    struct cnio_wire_info *was = calloc((size_t)obj->nhosts, sizeof(*was));
    uint64_t h = CNIO_FNV64_BASIS;
    int ret;

    if (!was)
        return -CNIO_ERR_NOMEM;
    for (int j = 0; j < obj->nhosts; j++)
        was[j] = obj->hosts[j].info;
    ret = cl_stat_handles(obj, flags);
    *seen = 0;
    for (int j = 0; j < obj->nhosts; j++) {   /* (a STAT that failed part way too) */
        *seen |= ret ? 0 : obj->hosts[j].info.flags;
        h = ret ? h : cl_mark(h, &obj->hosts[j].info);
        obj->hosts[j].info = was[j];
    }
    free(was);
    if (!ret && mark)
        *mark = h;
    return ret;
}

int cnio__cl_others(struct cnio_obj *obj)
{
    uint32_t seen = 0;
    int ret = 0;

    for (int j = 0; !ret && j < obj->nhosts; j++)
        if (!(cl_host_caps(&obj->hosts[j]) & CNIO_WIRE_CAP_OTHERS))
            ret = -CNIO_ERR_NOTSUP;
    if (!ret)
        ret = cl_look(obj, CNIO_WIRE_F_INPLACE | CNIO_WIRE_F_OTHERS, &seen, NULL);
    return ret ? ret : !!(seen & CNIO_WIRE_I_INPLACE);
}

int cnio__obj_inplace(struct cnio_obj *obj, uint64_t *mark)
{
    uint32_t seen = 0;
    int ret = obj ? 0 : -CNIO_ERR_INVAL;

    for (int j = 0; !ret && j < obj->nhosts; j++) {
        uint32_t caps = cl_host_caps(&obj->hosts[j]);

        if ((caps & CNIO_WIRE_CAP_INPLACE) && !(caps & CNIO_WIRE_CAP_INPLACE_HANDLE))
            ret = -CNIO_ERR_NOTSUP;   /* it would say so by name alone */
    }
    if (!ret)
        ret = cl_look(obj, CNIO_WIRE_F_INPLACE, &seen, mark);
    return ret ? ret : (seen & CNIO_WIRE_I_DIRTY) ? -CNIO_ERR_INCOMPLETE
                                                 : !!(seen & CNIO_WIRE_I_INPLACE);
}

int cnio__obj_size(struct cnio_obj *obj, uint64_t *size)
{
    int ret;

    if (!obj || !size)
        return -CNIO_ERR_INVAL;
    ret = cl_stat_handles(obj, 0);
    if (ret)
        return ret;
    obj->recorded = obj->hosts[0].info.size;
    *size = cnio__cl_size(&obj->layout, obj->recorded, obj->hosts, obj->nhosts);
    return 0;
}

void cnio__obj_opened(const struct cnio_obj *obj, uint64_t *size, int64_t *mtime_ns)
{
    *size = cnio__cl_size(&obj->layout, obj->recorded, obj->hosts, obj->nhosts);
    *mtime_ns = obj->hosts[0].info.mtime_ns;
}

uint64_t cnio__obj_writes(struct cnio_obj *obj)
{
    return obj ? __atomic_load_n(&obj->writes, __ATOMIC_RELAXED) : 0;
}

uint32_t cnio__obj_mode(const struct cnio_obj *obj)
{
    return obj && obj->nhosts > 0 ? obj->hosts[0].info.flags >> CNIO_WIRE_I_MODE_SHIFT : 0;
}

/* SETSIZE on every host; flags CNIO_WIRE_F_ALLOCATE: grow only, and allocate. A set
 * size that failed may hold on some hosts and not others: torn, as a failed write. A
 * preallocation that failed changed no byte, and a host that grew only adds zeros past
 * the others' end, which the size read from every host covers (MPI-3.1 13.2.5: written
 * regions are unaffected): the object is as good as before, and its close commits it. */
static int cl_set_size(struct cnio_obj *obj, uint64_t size, uint16_t flags)
{
    const int alloc = (flags & CNIO_WIRE_F_ALLOCATE) != 0;
    int ret;

    if (size > (uint64_t)INT64_MAX)
        return -CNIO_ERR_OVERFLOW;
    ret = cl_each_host(obj, CNIO_WIRE_SETSIZE, size, NULL, 0, 1, flags);
    if (!ret)
        obj->recorded = alloc ? CNIO_MAX(obj->recorded, size) : size;
    else if (!alloc && (obj->oflags & CNIO_WIRE_O_WRITE))
        cnio__obj_taint(obj, ret);
    return ret;
}

int cnio__obj_set_size(struct cnio_obj *obj, uint64_t size)
{
    return obj ? cl_set_size(obj, size, 0) : -CNIO_ERR_INVAL;
}

int cnio__obj_record_size(struct cnio_obj *obj)
{
    struct cnio_wire_info *was = obj ? calloc((size_t)obj->nhosts, sizeof(*was)) : NULL;
    int ret = !obj ? -CNIO_ERR_INVAL : !was ? -CNIO_ERR_NOMEM : 0, older = 0, differs = 0;
    uint64_t size = 0;

    if (ret || obj->werr || !(obj->oflags & CNIO_WIRE_O_WRITE)) {
        free(was);
        return ret;
    }
    for (int j = 0; j < obj->nhosts; j++)
        was[j] = obj->hosts[j].info;
    ret = cnio__obj_size(obj, &size);
    for (int j = 0; !ret && j < obj->nhosts; j++) {
        const struct cnio_wire_info *i = &obj->hosts[j].info;

        older |= !(cl_host_caps(&obj->hosts[j]) & CNIO_WIRE_CAP_RECORD);
        differs |= i->size != size ||
                   i->local_size != cnio__layout_local_size(&obj->layout, (uint32_t)j, size);
    }
    if (!ret && differs && !older)   /* (a server before it refuses F_RECORD) */
        ret = cl_each_host(obj, CNIO_WIRE_SETSIZE, size, NULL, 0, 1, CNIO_WIRE_F_RECORD);
    for (int j = 0; j < obj->nhosts; j++)   /* what the open said stays (cnio__obj_opened) */
        obj->hosts[j].info = was[j];
    free(was);
    return ret;
}

int cnio__obj_preallocate(struct cnio_obj *obj, uint64_t size)
{
    int ret = obj ? cnio__cl_revive(obj) : -CNIO_ERR_INVAL;   /* (the caps: its own) */

    for (int j = 0; !ret && j < obj->nhosts; j++)
        if (!(cl_host_caps(&obj->hosts[j]) & CNIO_WIRE_CAP_ALLOCATE))
            return 1;
    return ret ? ret : cl_set_size(obj, size, CNIO_WIRE_F_ALLOCATE);
}

int cnio__obj_sync(struct cnio_obj *obj)
{
    if (!obj)
        return -CNIO_ERR_INVAL;
    return cl_each_host(obj, CNIO_WIRE_SYNC, 0, NULL, 0, 0, 0);
}

const struct cnio_layout *cnio__obj_layout(const struct cnio_obj *obj)
{
    return &obj->layout;
}

int cnio__obj_nhosts(const struct cnio_obj *obj)
{
    return obj->nhosts;
}

const struct cnio_hints *cnio__obj_hints(const struct cnio_obj *obj)
{
    return &obj->h;
}

void cnio__obj_stats(const struct cnio_obj *obj, struct cnio_obj_stats *s)
{
    *s = obj->stats;
}

const char *cnio__obj_carrier(const struct cnio_obj *obj)
{
    for (int j = 0; j < obj->nhosts; j++)
        for (int l = 0; l < obj->hosts[j].nlanes; l++)
            if (obj->hosts[j].lanes[l])
                return cnio__ep_transport(obj->hosts[j].lanes[l]);
    return obj->h.transport;
}

uint64_t cnio__obj_host_bytes(const struct cnio_obj *obj, int j)
{
    return j >= 0 && j < obj->nhosts ? obj->hosts[j].bytes : 0;
}
