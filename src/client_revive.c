/*
 * client_revive.c - reconnecting what a server closed while it was idle.
 *
 * A server closes an authenticated connection that has been idle for --idle-timeout
 * seconds (it keeps one that holds open objects), and a restarted server has closed
 * every one. An MPI program that opens a file, computes for hours and then writes would
 * find its connections gone. Before obj sends anything, each lane is looked at without
 * blocking: one that the peer closed while nothing was in flight on it is replaced by a
 * new connection that authenticates as the old one did (the key, or the rank's token).
 * When the replaced lane is the one that opened obj's handle on that host, the server
 * has released the handle with it (or left a read-only one to the job's other ranks,
 * doc/protocol.md), and the object is opened again there. A lane that
 * died with requests in flight is never revived: what it carried may or may not have
 * been done, and only the caller can tell whether to repeat it.
 *
 * A restarted server may not listen yet when the call comes (a service manager stops
 * and starts it): a reconnect authenticated with the key that is refused (or reset) is
 * tried again RV_TRIES times in all, RV_FIRST_MS apart and twice that each time, never
 * past RV_BOUND_MS nor the hint's timeout; the stack goes on moving bytes meanwhile.
 * Once that failed, later calls (the abort and close of the failed write among them) try
 * once each until a reconnect to that host succeeds: a server gone for good costs the
 * wait once, not at every call. A rank authenticated with the open's token is not
 * retried: a restarted server does not know the token, so waiting for it to listen
 * only delays the failure. The discard of a failed upload over new connections
 * (client_commit.c) reconnects through the same retries (cnio__cl_reconnect).
 */
#include "common.h"
#include "client_int.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

#define RV_TRIES 6
#define RV_FIRST_MS 100
/* A fabric lane's reconnect waits this long for its first HELLO before it asks the
 * host's TCP port whether the server still knows the open (rv_fab_lane). */
#define RV_FAB_FIRST_MS 2000
#define RV_BOUND_MS 3500

/* The flags that reopen obj on host j as it was opened: the staged instance resumed or
 * joined, an in-place writer or a reader again; never creating or truncating. */
static uint32_t rv_flags(const struct cnio_obj *obj, uint64_t *id)
{
    uint32_t w = obj->oflags & CNIO_WIRE_O_WRITE;

    *id = 0;
    if (obj->staged) {
        *id = obj->stage_id;
        return w | CNIO_WIRE_O_STAGE | CNIO_WIRE_O_RESUME;
    }
    if (obj->stage_id && (obj->hosts[0].info.flags & CNIO_WIRE_I_JOINED)) {
        *id = obj->stage_id;
        return w | CNIO_WIRE_O_JOIN;
    }
    return w;
}

/* Opens obj on host j again (its handle went with the lane that opened it). */
static int rv_reopen(struct cnio_obj *obj, int j)
{
    uint8_t pl[CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME], rb[CNIO_WIRE_INFO_SIZE];
    struct cnio__cl_host *host = &obj->hosts[j];
    struct cnio_wire_info info;
    struct cnio_call c;
    uint64_t id;
    uint32_t flags = rv_flags(obj, &id);
    int len = cnio__cl_open_payload(flags, &obj->layout, (uint32_t)j, obj->path, pl, sizeof(pl));
    int ret;
    char hp[CNIO_HOSTPORT_MAX];

    if (len < 0)
        return len;
    c = (struct cnio_call){ .ep = cnio__cl_ctl_ep(host), .what = obj->path,
                            .type = CNIO_WIRE_OPEN, .offset = id,
                            .payload = pl, .plen = (uint32_t)len, .rbuf = rb,
                            .rcap = sizeof(rb) };
    ret = cnio__stack_calls(obj->st, &c, 1);
    if (!ret && (cnio__wire_info_parse(rb, c.rlen, &info) || !c.robject))
        ret = -CNIO_ERR_PROTO;
    if (!ret && (info.stripe_unit != obj->layout.unit || info.stripe_count != obj->layout.count ||
                 info.stripe_index != (uint32_t)j))
        ret = -CNIO_ERR_LAYOUT;
    /* An object opened in place, or to read, and replaced meanwhile (an upload committed
     * over it while the server was restarting): the name now holds another object, whose
     * stripes beside the old one's on the other hosts would read as neither. */
    if (!ret && !(flags & (CNIO_WIRE_O_STAGE | CNIO_WIRE_O_JOIN)) && info.gen != host->info.gen) {
        cnio__cl_host_say(obj, j, CNIO__CL_LOST_GONE, -CNIO_ERR_STALE, "%s: host %s "
                          "restarted, and the object was replaced meanwhile (another "
                          "upload committed over it): this open is gone; %s", obj->path,
                          cnio__hostport(hp, sizeof(hp), host->name, host->port),
                          cnio__stack_gone_advice(obj->st));
        host->opened = 0;   /* its old handle went with the restart: nothing to close */
        return -CNIO_ERR_STALE;
    }
    /* A staged instance the host no longer holds: a restarted server discards one too
     * young to resume (or --stage-expire's sweep did). Not "no such object", of a file
     * the program has open (helper-83's F3): the open is gone there. */
    if (ret == -CNIO_ERR_NOENT && (flags & (CNIO_WIRE_O_STAGE | CNIO_WIRE_O_JOIN))) {
        cnio__cl_host_say(obj, j, CNIO__CL_LOST_GONE, -CNIO_ERR_STALE, "%s: host %s no "
                          "longer holds this upload (it restarted and discarded it, or it "
                          "expired): this open is gone; %s", obj->path,
                          cnio__hostport(hp, sizeof(hp), host->name, host->port),
                          cnio__stack_gone_advice(obj->st));
        host->opened = 0;   /* its old handle went with the restart: nothing to close */
        return -CNIO_ERR_STALE;
    }
    if (ret) {
        cnio__cl_host_say(obj, j, CNIO__CL_LOST_REOPEN, ret, "%s: opening it again on host "
                          "%s after reconnecting: %s", obj->path,
                          cnio__hostport(hp, sizeof(hp), host->name, host->port),
                          cnio_strerror(ret));
        return ret;
    }
    host->handle = c.robject;
    host->info = info;
    host->opened = 1;
    cnio__info("%s: opened again on host %s", obj->path,
               cnio__hostport(hp, sizeof(hp), host->name, host->port));
    return 0;
}

int cnio__cl_reconnect(struct cnio_stack *st, const struct cnio_hints *h,
                       const struct cnio__cl_host *host, const struct cnio_ep_auth *auth,
                       int retry, const char *what, struct cnio_ep **nep)
{
    int64_t end = cnio__now_ms() + (h->timeout_ms < RV_BOUND_MS ? h->timeout_ms : RV_BOUND_MS);
    int ret = 0, pause = RV_FIRST_MS;
    char hp[CNIO_HOSTPORT_MAX];

    for (int t = 0; t < RV_TRIES; t++, pause *= 2) {
        int64_t until = cnio__now_ms() + pause;

        *nep = NULL;
        ret = cnio__ep_open(st, h, host->fab.len ? &host->fab : &host->addr, host->name,
                            auth, nep);
        if (!ret)
            ret = cnio__ep_wait_ready(st, nep, 1);
        if (!cnio__err_conn(ret) || !retry || auth->mode != CNIO_WIRE_AUTH_KEY ||
            t + 1 == RV_TRIES || until > end)
            break;
        cnio__debug("%s: reconnecting to host %s: %s; again in %d ms (a server still "
                    "starting)", what, cnio__hostport(hp, sizeof(hp), host->name, host->port),
                    cnio_strerror(ret), pause);
        cnio__ep_close(*nep);
        *nep = NULL;
        for (int64_t now = cnio__now_ms(); now < until; now = cnio__now_ms()) {
            int r = cnio__stack_progress(st, (int)(until - now));

            if (r)
                return r;
        }
    }
    return ret;
}

/* A new connection to host j, authenticated as its lanes are, in *nep: as
 * cnio__cl_reconnect; after a failure said once, later calls try once each. */
static int rv_connect(struct cnio_obj *obj, int j, struct cnio_ep **nep)
{
    struct cnio__cl_host *host = &obj->hosts[j];

    return cnio__cl_reconnect(obj->st, &obj->h, host, &host->auth, !host->revive_said,
                              obj->path, nep);
}

/*
 * A fabric lane's reconnect with the open's token that failed (err) without a refusal:
 * a restarted server's fabric endpoint has a new address (its provider picks the port),
 * which only the opener's FABRIC request learns, so the HELLO went nowhere and failed
 * after cnio_timeout_ms. The host's TCP port is where it was: a connection there with
 * the same token tells whether the server still knows the open. Asked only after the
 * fabric failed, so that the lanes of every rank replaced after an idle hour cost the
 * server no second handshake each. Returns -CNIO_ERR_AUTH when it refuses the token
 * (the caller says -CNIO_ERR_STALE), else err as it was.
 */
static int rv_fab_probe(struct cnio_obj *obj, int j, int err)
{
    struct cnio__cl_host *host = &obj->hosts[j];
    struct cnio_hints tcp = obj->h;
    struct cnio_ep *ep = NULL;
    int ret;

    if (!err || err == -CNIO_ERR_AUTH || !host->fab.len ||
        host->auth.mode != CNIO_WIRE_AUTH_TOKEN)
        return err;
    snprintf(tcp.transport, sizeof(tcp.transport), "tcp");
    obj->stats.probes++;
    ret = cnio__ep_open(obj->st, &tcp, &host->addr, host->name, &host->auth, &ep);
    if (!ret)
        ret = cnio__ep_wait_ready(obj->st, &ep, 1);
    cnio__ep_close(ep);
    return ret == -CNIO_ERR_AUTH ? ret : err;
}

/*
 * rv_connect and rv_fab_probe for a lane of host j. A fabric lane of a token waits
 * RV_FAB_FIRST_MS for its HELLO, then asks the TCP port, and only when that does not
 * refuse the token waits all of cnio_timeout_ms: a restarted server's fabric endpoint
 * is at a new address, where the HELLO goes nowhere, and every rank of a job waited
 * the whole timeout (30 s by default) to learn that its open was gone. A live server
 * answers a HELLO within milliseconds; a slower one costs a TCP handshake more.
 */
static int rv_fab_lane(struct cnio_obj *obj, int j, struct cnio_ep **nep)
{
    struct cnio__cl_host *host = &obj->hosts[j];
    struct cnio_hints first = obj->h;
    int ret;

    if (!host->fab.len || host->auth.mode != CNIO_WIRE_AUTH_TOKEN ||
        obj->h.timeout_ms <= 2 * RV_FAB_FIRST_MS)
        return rv_fab_probe(obj, j, rv_connect(obj, j, nep));
    first.timeout_ms = RV_FAB_FIRST_MS;
    ret = cnio__cl_reconnect(obj->st, &first, host, &host->auth, 0, obj->path, nep);
    if (!ret) {
        cnio__ep_set_timeout(*nep, obj->h.timeout_ms);
        return 0;
    }
    cnio__ep_close(*nep);
    *nep = NULL;
    if (rv_fab_probe(obj, j, ret) == -CNIO_ERR_AUTH)
        return -CNIO_ERR_AUTH;
    return rv_fab_probe(obj, j, rv_connect(obj, j, nep));
}

/* Replaces lane l of host j, which the server closed while idle. */
static int rv_lane(struct cnio_obj *obj, int j, int l)
{
    struct cnio__cl_host *host = &obj->hosts[j];
    struct cnio_ep *nep = NULL;
    int ret = host->auth.k ? 0 : cnio__ep_error(host->lanes[l]);
    char hp[CNIO_HOSTPORT_MAX];

    if (!ret)
        ret = rv_fab_lane(obj, j, &nep);
    if (ret == -CNIO_ERR_AUTH && host->auth.mode == CNIO_WIRE_AUTH_TOKEN) {
        /* A token is good for one open on one server's run: a restarted server (or one
         * that released the open) refuses it. Not a wrong key: the open is gone there. */
        cnio__cl_host_say(obj, j, CNIO__CL_LOST_GONE, -CNIO_ERR_STALE, "%s: host %s no "
                          "longer knows this open (it restarted, or released it): its "
                          "handles there are gone; %s", obj->path,
                          cnio__hostport(hp, sizeof(hp), host->name, host->port),
                          cnio__stack_gone_advice(obj->st));
        cnio__ep_close(nep);
        return -CNIO_ERR_STALE;
    }
    if (ret) {
        /* a later call tries again (a restarted server comes back), but says the same
         * failure once: the abort and close of a failed write come here too */
        if (ret != host->revive_said)
            cnio__cl_host_failed(obj, j, CNIO__CL_LOST_IDLE, ret);
        host->revive_said = ret;
        cnio__ep_close(nep);
        return ret;
    }
    host->revive_said = 0;
    cnio__ep_close(host->lanes[l]);
    host->lanes[l] = nep;
    obj->stats.connects++;
    cnio__info("%s: reconnected to host %s (it closed a connection while nothing was in "
               "flight on it)", obj->path, cnio__hostport(hp, sizeof(hp), host->name, host->port));
    return 0;
}

int cnio__cl_revive(struct cnio_obj *obj)
{
    if (obj->borrowed)   /* a namespace session's endpoints: cp -r opens the session again */
        return 0;
    for (int j = 0; j < obj->nhosts; j++) {
        struct cnio__cl_host *host = &obj->hosts[j];
        int lost_handle = 0;

        for (int l = 0; l < host->nlanes; l++) {
            int ret;

            if (!cnio__ep_idle_closed(host->lanes[l]))
                continue;
            ret = rv_lane(obj, j, l);
            if (ret)
                return ret;
            /* lane 0 opened it (cl_open_hosts), unless a TCP control connection did
             * (the opener's, when the lanes are on a fabric: client_fab.c) */
            lost_handle |= l == 0 && host->opened && !host->ctl;
        }
        if (lost_handle) {
            int ret = rv_reopen(obj, j);

            if (ret)
                return ret;
        }
    }
    return 0;
}
