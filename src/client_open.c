/*
 * client_open.c - opening an object striped over the hosts of a URI (src/client.h):
 * column 0 first, which creates the object or tells its layout, then the others; a
 * commit under way waited out, one that stopped short of a host finished there; and
 * the close, which commits a staged instance. Connections and STATs are in client.c.
 */
#include "common.h"
#include "client_int.h"
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- open ------------------------------------------------------------------------------ */

/* 1 when the OPENs of columns from.. open an object column 0's host holds (read-only,
 * or in place): a host that answers INCOMPLETE may hold a commit of it that stopped
 * before reaching it, which cl_finish_torn finishes; that answer is the caller's to say. */
static int cl_may_finish(const struct cnio_obj *obj, int from)
{
    return from > 0 && !obj->staged && !(obj->hosts[0].info.flags & CNIO_WIRE_I_JOINED) &&
           !obj->finish_said;
}

/* Runs one OPEN per host j in [from, to) with layout l; fills handles and infos. */
static int cl_open_hosts(struct cnio_obj *obj, int from, int to, uint32_t flags,
                         const struct cnio_layout *l, uint64_t stage)
{
    enum { PL = CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME };
    int n = to - from, ret;
    struct cnio_call *c = calloc((size_t)n, sizeof(*c));
    uint8_t (*pl)[PL] = calloc((size_t)n, PL);
    uint8_t (*rb)[CNIO_WIRE_INFO_SIZE] = calloc((size_t)n, CNIO_WIRE_INFO_SIZE);

    ret = c && pl && rb ? 0 : -CNIO_ERR_NOMEM;
    for (int i = 0; !ret && i < n; i++) {
        int len = cnio__cl_open_payload(flags, l, (uint32_t)(from + i), obj->path, pl[i], PL);

        ret = len < 0 ? len : 0;
        c[i] = (struct cnio_call){ .ep = cnio__cl_ctl_ep(&obj->hosts[from + i]),
                                   .what = obj->path, .type = CNIO_WIRE_OPEN, .offset = stage,
                                   .payload = pl[i],
                                   .plen = (uint32_t)len, .rbuf = rb[i],
                                   .rcap = CNIO_WIRE_INFO_SIZE, .hush = cl_may_finish(obj, from) };
        /* a writer in place is told of an update that was interrupted before it */
        if ((flags & CNIO_WIRE_O_WRITE) && (cnio__ep_caps(c[i].ep) & CNIO_WIRE_CAP_PRIOR))
            c[i].flags = CNIO_WIRE_F_PRIOR;
        /* ... and says how many updates in place its column has had (cc_updates) */
        if ((flags & CNIO_WIRE_O_WRITE) && (cnio__ep_caps(c[i].ep) & CNIO_WIRE_CAP_UPDATES))
            c[i].flags |= CNIO_WIRE_F_UPDATES;
    }
    for (int i = 0; !ret && i < n; i++)
        obj->hosts[from + i].asked = 1;
    if (!ret) {
        ret = cnio__stack_calls(obj->st, c, n);
        /* column 0's NOENT, EXIST and ISDIR are the caller's to say (cp copies into a
         * directory as cp(1) does: d is d/NAME); a JOIN's NOENT is tried
         * again (cl_open_joined); a RESUME's NOENT on any column, an upload with nothing
         * left there to resume (a server dropped an instance it had not kept), is the
         * caller's too: it copies afresh and says so */
        cnio__cl_name_failures(obj->path, "open", obj->hosts + from, c, n,
                               from == 0 ? 2 : cl_may_finish(obj, from) ? 3
                                         : (flags & (CNIO_WIRE_O_JOIN | CNIO_WIRE_O_RESUME)) != 0);
    }
    for (int i = 0; c && rb && i < n; i++) {
        struct cnio__cl_host *host = &obj->hosts[from + i];

        host->refused = c[i].status;
        if (c[i].status || !c[i].done)
            continue;
        host->handle = c[i].robject;
        host->opened = 1;
        host->gen = c[i].roffset;
        host->updates_known = 0;
        if (!ret && (cnio__wire_info_parse(rb[i], c[i].rlen, &host->info) || !host->handle))
            ret = -CNIO_ERR_PROTO;
        if (!ret && (c[i].flags & CNIO_WIRE_F_UPDATES) &&
            !(host->info.flags & (CNIO_WIRE_I_STAGED | CNIO_WIRE_I_JOINED))) {
            host->updates = (uint32_t)c[i].roffset;   /* in place: its count, not its gen */
            host->updates_known = 1;
            if (c[i].roffset > 0xffffu)
                ret = -CNIO_ERR_PROTO;
        }
        if (!ret && (host->info.flags & CNIO_WIRE_I_INTERRUPTED) && !obj->interrupted_said++)
            cnio__warn("%s: an earlier update of it in place was interrupted (its writer "
                       "stopped before it closed it), and it is now open for writing in "
                       "place: a clean close takes it as it is, that update's bytes "
                       "included (copy it again instead, or remove it, if they should not "
                       "stand)", obj->path);
    }
    free(c);
    free(pl);
    free(rb);
    return ret;
}

/* Checks that every host j holds column j of layout l. */
static int cl_check_layout(const struct cnio_obj *obj)
{
    char hp[CNIO_HOSTPORT_MAX];

    for (int j = 0; j < obj->nhosts; j++) {
        const struct cnio_wire_info *i = &obj->hosts[j].info;

        if (i->stripe_unit != obj->layout.unit || i->stripe_count != obj->layout.count ||
            i->stripe_index != (uint32_t)j) {
            cnio__err("%s: host %s holds column %u of a %llu x %u layout, expected "
                      "column %d of %llu x %u" CNIO_ORDER_HINT, obj->path,
                      cnio__hostport(hp, sizeof(hp), obj->hosts[j].name, obj->hosts[j].port),
                      i->stripe_index, (unsigned long long)i->stripe_unit, i->stripe_count, j,
                      (unsigned long long)obj->layout.unit, obj->layout.count);
            return -CNIO_ERR_LAYOUT;
        }
    }
    return 0;
}

/*
 * The flags and staged instance for columns 1.. once column 0 answered: the same staged
 * instance when column 0 staged (a fresh one forced with TRUNC, or the one resumed) or
 * joined one a live writer holds, else an open in place.
 */
static uint32_t cl_rest_flags(struct cnio_obj *obj)
{
    uint32_t f = obj->oflags & ~CNIO_WIRE_O_EXCL;

    obj->staged = (obj->hosts[0].info.flags & CNIO_WIRE_I_STAGED) != 0;
    if (obj->hosts[0].info.flags & CNIO_WIRE_I_JOINED) {
        obj->stage_id = obj->hosts[0].gen;   /* that writer commits it, not this one */
        return (f & ~(CNIO_WIRE_O_STAGE | CNIO_WIRE_O_RESUME | CNIO_WIRE_O_TRUNC)) |
               CNIO_WIRE_O_JOIN;
    }
    if (!(f & CNIO_WIRE_O_STAGE))
        return f;
    /* Column 0 is the object in place. STAGE stays (without TRUNC or RESUME), so that on
     * a host the creator's commit has not reached yet this open waits for that commit
     * (a server commits and joins one at a time per name) or joins the instance, and
     * then opens the object in place as column 0 did. Opened in place at once, such a
     * host had no object yet: the open failed as "incomplete (a commit did not reach
     * every host)", although nothing had been interrupted. */
    if (!obj->staged)
        return f & ~(CNIO_WIRE_O_RESUME | CNIO_WIRE_O_TRUNC);
    obj->stage_id = obj->hosts[0].gen;
    return (f & CNIO_WIRE_O_RESUME) ? f : f | CNIO_WIRE_O_TRUNC;
}

/*
 * Columns 1.. of an instance this open joined on column 0 (JOIN): the writer that staged
 * it opens them itself right after column 0, so a host that does not have it yet (NOENT)
 * is asked again, after 1 ms doubling to 50 ms, until cnio_timeout_ms has passed since
 * the first try. (Should that writer have committed the instance there meanwhile, the
 * host opens the object that commit made, in place: commit.c.)
 */
static int cl_open_joined(struct cnio_obj *obj, uint32_t flags)
{
    int64_t give_up = cnio__now_ms() + CNIO_MAX(obj->h.timeout_ms, 1);
    long nap_ms = 1;
    int ret = cl_open_hosts(obj, 1, obj->nhosts, flags, &obj->layout, obj->stage_id);

    while (ret == -CNIO_ERR_NOENT && cnio__now_ms() < give_up) {
        struct timespec ts = { 0, nap_ms * 1000000L };

        nanosleep(&ts, NULL);
        nap_ms = CNIO_MIN(nap_ms * 2, 50);
        ret = 0;
        for (int j = 1; j < obj->nhosts && (!ret || ret == -CNIO_ERR_NOENT); j++)
            if (!obj->hosts[j].opened) {
                int r = cl_open_hosts(obj, j, j + 1, flags, &obj->layout, obj->stage_id);

                ret = ret ? ret : r;
            }
    }
    if (ret == -CNIO_ERR_NOENT)
        cnio__err("%s: the instance another open is creating did not appear on every host "
                  "within %d ms", obj->path, obj->h.timeout_ms);
    return ret;
}

/*
 * A server that announces no capabilities predates staged instances (cnio-server before
 * 2026-11-30, which took OPEN flags up to O_WRITE only and closed the connection at any
 * other): a write to it opens the object in place, as that server's own clients did,
 * so an interrupted write leaves the object partly written. -CNIO_ERR_NOTSUP for
 * cnio_resume, which needs a staged instance.
 */
static int cl_legacy_flags(struct cnio_obj *obj)
{
    const struct cnio__cl_host *h0 = &obj->hosts[0];
    char hp[CNIO_HOSTPORT_MAX];

    if (cnio__ep_caps(cnio__cl_ctl_ep(h0)) ||
        !(obj->oflags & (CNIO_WIRE_O_STAGE | CNIO_WIRE_O_RESUME | CNIO_WIRE_O_JOIN)))
        return 0;
    if (obj->oflags & CNIO_WIRE_O_RESUME) {
        cnio__err("%s: host %s runs a cnio-server older than this client (it announces "
                  "no capabilities), which keeps no uploads to resume; upgrade it, or copy "
                  "without resuming", obj->path,
                  cnio__hostport(hp, sizeof(hp), h0->name, h0->port));
        return -CNIO_ERR_NOTSUP;
    }
    cnio__debug("%s: host %s runs a cnio-server older than this client: writing in place",
                obj->path, cnio__hostport(hp, sizeof(hp), h0->name, h0->port));
    obj->oflags &= ~(CNIO_WIRE_O_STAGE | CNIO_WIRE_O_JOIN);
    return 0;
}

/*
 * Column 0 made a fresh instance for an open that creates only what does not exist
 * (MPI_MODE_CREATE without truncation, the object's own layout): yet the other hosts may
 * hold an object of this name, written through another order of them, or through other
 * hosts, that left host 0 without a column of it. Staged over with TRUNC, that object
 * was replaced at close: an existing file emptied, exit 0 (h5py's 'a' saw no datasets).
 * Such an object cannot be opened in place through this URI either (its columns are not
 * where this URI puts them). 0, or -CNIO_ERR_EXIST (EXCL) / -CNIO_ERR_LAYOUT, said.
 */
static int cl_exists_elsewhere(struct cnio_obj *obj)
{
    struct cnio__cl_stat *s;
    int n = obj->nhosts - 1, ret = 0;
    char hp[CNIO_HOSTPORT_MAX], hp2[CNIO_HOSTPORT_MAX];

    if (n < 1 || !obj->staged || !(obj->hosts[0].info.flags & CNIO_WIRE_I_CREATED) ||
        (obj->oflags & (CNIO_WIRE_O_TRUNC | CNIO_WIRE_O_RESUME)))
        return 0;
    s = calloc((size_t)n, sizeof(*s));
    if (!s)
        return -CNIO_ERR_NOMEM;
    for (int j = 0; j < n; j++)
        s[j].ep = cnio__cl_ctl_ep(&obj->hosts[1 + j]);
    cnio__cl_stat_each(obj->st, s, n, obj->path, obj->path, NULL, 1);
    for (int j = 0; j < n && !ret; j++) {
        const struct cnio__cl_host *h = &obj->hosts[1 + j], *h0 = &obj->hosts[0];

        /* a directory, or an upload never committed, is no object to lose */
        if (s[j].status || (s[j].info.flags & (CNIO_WIRE_I_DIR | CNIO_WIRE_I_STAGED)))
            continue;
        ret = (obj->oflags & CNIO_WIRE_O_EXCL) ? -CNIO_ERR_EXIST : -CNIO_ERR_LAYOUT;
        cnio__err("%s: host %s holds an object of this name, of which host %s, first "
                  "in this URI, holds nothing: written through another order of these "
                  "hosts, or through other hosts; it is neither created anew nor opened "
                  "through this URI (open it through the URI that wrote it)", obj->path,
                  cnio__hostport(hp, sizeof(hp), h->name, h->port),
                  cnio__hostport(hp2, sizeof(hp2), h0->name, h0->port));
    }
    free(s);
    return ret;
}

/*
 * Columns 1.. refused an open (flags rest) of the object column 0's host holds as
 * INCOMPLETE: a commit that stopped before it reached every host is finished where it
 * can be (cnio__cl_finish), and 1 returned (open again); else the hosts that refused are
 * asked again, their answers said (a server's reason names what is incomplete there):
 * 0 when they all open now, else the error.
 */
static int cl_finish_torn(struct cnio_obj *obj, uint32_t rest)
{
    struct cnio__cl_stat *s = calloc((size_t)obj->nhosts, sizeof(*s));
    int done = 0, ret = 0;

    for (int j = 0; s && j < obj->nhosts; j++)
        s[j].ep = cnio__cl_ctl_ep(&obj->hosts[j]);
    if (s && !cnio__cl_stat_each(obj->st, s, obj->nhosts, obj->path, obj->path, NULL, 0))
        done = cnio__cl_finish(obj->st, obj->path, s, obj->nhosts);
    free(s);
    if (done > 0)
        return 1;
    obj->finish_said = 1;
    for (int j = 1; j < obj->nhosts; j++)
        if (obj->hosts[j].refused == -CNIO_ERR_INCOMPLETE) {
            int r = cl_open_hosts(obj, j, j + 1, rest, &obj->layout, obj->stage_id);

            ret = ret ? ret : r;
        }
    obj->finish_said = 0;
    return ret;
}

static atomic_int cl_said_factor, cl_said_unit;

/* Below this stripe unit each request carries pieces so small that a copy crawls (a
 * 5 MB download took 101 s at striping_unit=1, helper-108); said, not refused (a
 * hint, MPI-3.1 13.2.8). */
#define CL_UNIT_SMALL 4096

/* Column 0 first: it creates the object or tells its stored layout; then the others. */
static int cl_open_all(struct cnio_obj *obj, int nuri, const struct cnio_ep_auth *auth)
{
    uint32_t want = obj->h.striping_factor ? obj->h.striping_factor : (uint32_t)nuri;
    struct cnio_layout l = { obj->h.striping_unit, CNIO_MIN(want, (uint32_t)nuri) };
    uint64_t stage = 0;
    uint32_t rest;
    int ret;

    /* (said once per process: a tree's files each open with the same hints) */
    if (want > (uint32_t)nuri && (obj->oflags & CNIO_WIRE_O_CREATE) &&
        !atomic_exchange(&cl_said_factor, 1))
        cnio__warn("%s: striping_factor %u, but the URI names %d host%s: a new object gets "
                   "%d column%s", obj->path, want, nuri, nuri == 1 ? "" : "s", nuri,
                   nuri == 1 ? "" : "s");
    /* Every host of the URI, before any OPEN: one that cannot be reached, or two that
     * are one server, fail the open with nothing made or staged anywhere (a read of an
     * object of one column asked its first host alone, and went past both). Those the
     * layout does not use are let go once it is known. */
    obj->nhosts = nuri;
    ret = obj->borrowed ? 0 : cnio__cl_connect(obj->st, &obj->h, obj->hosts, nuri,
                                               (int)obj->h.lanes, auth, &obj->stats);
    if (!ret)
        ret = cnio__cl_hosts_distinct(obj->hosts, nuri, obj->path);
    if (!ret)
        ret = cl_legacy_flags(obj);
    if (!ret && (obj->oflags & CNIO_WIRE_O_STAGE) && !(obj->oflags & CNIO_WIRE_O_RESUME))
        while (!stage)
            if (cnio__random(&stage, sizeof(stage)))
                return -CNIO_ERR_IO;
    if (!ret)
        ret = cl_open_hosts(obj, 0, 1, obj->oflags, &l, stage);
    /* a read of an object another order of these hosts wrote: said "no such object" */
    if (ret == -CNIO_ERR_NOENT && !(obj->oflags & CNIO_WIRE_O_CREATE))
        ret = cnio__cl_other_order(obj->st, obj->hosts, nuri, obj->path);
    if (ret)
        return ret;
    rest = cl_rest_flags(obj);
    if ((obj->hosts[0].info.flags & (CNIO_WIRE_I_CREATED | CNIO_WIRE_I_STAGED)) &&
        obj->hosts[0].info.stripe_count > 1 && obj->hosts[0].info.stripe_unit < CL_UNIT_SMALL &&
        !atomic_exchange(&cl_said_unit, 1))
        cnio__warn("%s: striping_unit %llu bytes: each request moves pieces that small, so "
                   "transfers of it are slow (64 KiB or more is usual, 1 MiB the default)",
                   obj->path, (unsigned long long)obj->hosts[0].info.stripe_unit);
    obj->layout.unit = obj->hosts[0].info.stripe_unit;
    obj->layout.count = obj->hosts[0].info.stripe_count;
    obj->recorded = obj->hosts[0].info.size;
    if (cnio__layout_check(&obj->layout) || obj->layout.count > (uint32_t)nuri) {
        cnio__err("%s: stored layout %llu x %u does not fit %d hosts: name all %u "
                  "hosts of the object in its URI, in the order it was written through", obj->path,
                  (unsigned long long)obj->layout.unit, obj->layout.count, nuri,
                  obj->layout.count);
        return -CNIO_ERR_LAYOUT;
    }
    ret = cnio__cl_striped_elsewhere(obj->st, &obj->h, obj->hosts, nuri, auth, obj->path);
    if (!obj->borrowed)   /* the hosts beyond the object's columns */
        cnio__cl_disconnect(obj->hosts + obj->layout.count, nuri - (int)obj->layout.count);
    obj->nhosts = (int)obj->layout.count;
    if (!ret)
        ret = cl_exists_elsewhere(obj);
    if (!ret)
        ret = (rest & CNIO_WIRE_O_JOIN) ? cl_open_joined(obj, rest)
                                        : cl_open_hosts(obj, 1, obj->nhosts, rest, &obj->layout,
                                                        obj->stage_id);
    if (ret == -CNIO_ERR_INCOMPLETE && cl_may_finish(obj, 1))
        ret = cl_finish_torn(obj, rest);
    return ret ? ret : cl_check_layout(obj);
}

/* CLOSE on every host where this process opened the object. */
static int cl_close_handles(struct cnio_obj *obj)
{
    struct cnio_call *c = calloc((size_t)obj->nhosts, sizeof(*c));
    int ret;

    if (!c)
        return -CNIO_ERR_NOMEM;
    for (int j = 0; j < obj->nhosts; j++)
        if (obj->hosts[j].opened && obj->hosts[j].nlanes) {
            c[j] = (struct cnio_call){ .ep = cnio__cl_ctl_ep(&obj->hosts[j]), .what = obj->path,
                                       .type = CNIO_WIRE_CLOSE,
                                       .object = obj->hosts[j].handle };
            /* an object written in place and deleted while open closes as deleted */
            if (obj->gone_ok && (cnio__ep_caps(c[j].ep) & CNIO_WIRE_CAP_GONE))
                c[j].flags = CNIO_WIRE_F_GONE;
            /* a writer in place: every host records one count for this update */
            if (obj->hosts[j].updates_known) {
                c[j].flags |= CNIO_WIRE_F_UPDATES;
                c[j].offset = obj->updates_ready ? obj->updates_next : obj->hosts[j].updates;
            }
        }
    ret = cnio__stack_calls(obj->st, c, obj->nhosts);
    cnio__cl_name_failures(obj->path, "close", obj->hosts, c, obj->nhosts, 0);
    for (int j = 0; j < obj->nhosts; j++)
        obj->hosts[j].opened = obj->hosts[j].updates_known = 0;
    obj->updates_ready = 0;
    free(c);
    return ret;
}

/*
 * cl_open_all, and for a read-only open (or one for writing in place) the check that
 * every host holds a complete object of one generation (cnio__cl_check_complete). A reader that opened some hosts before a writer's commit
 * reached them and some after (cnio__cl_commit_under_way) closes its handles and opens
 * again, after 1 ms doubling to 50 ms, until cnio_timeout_ms has passed since the first
 * try: the writer's COMMIT calls are bounded by the same timeout, so by then the commit
 * has landed or will not. Then it reads one version whole, never a mix and never
 * "incomplete" for a commit that was merely in flight.
 */
static int cl_open_settled(struct cnio_obj *obj, int nuri, const struct cnio_ep_auth *auth)
{
    int64_t give_up = cnio__now_ms() + CNIO_MAX(obj->h.timeout_ms, 1);
    long nap_ms = 1;
    int ret;

    while (((ret = cl_open_all(obj, nuri, auth)) == 1 ||
            (!ret && cnio__cl_commit_under_way(obj))) && cnio__now_ms() < give_up) {
        struct timespec ts = { 0, nap_ms * 1000000L };

        cnio__debug("%s: the hosts hold different generations while a commit may be under "
                    "way: opening again", obj->path);
        cl_close_handles(obj);
        if (!obj->borrowed)
            cnio__cl_disconnect(obj->hosts, obj->nhosts);
        nanosleep(&ts, NULL);
        nap_ms = CNIO_MIN(nap_ms * 2, 50);
    }
    if (ret == 1) {   /* finished a commit, and still torn at the timeout */
        cnio__err("%s: still incomplete after cnio_timeout_ms, though a commit of it that "
                  "had not reached every host was finished", obj->path);
        ret = -CNIO_ERR_INCOMPLETE;
    }
    return ret ? ret : cnio__cl_check_complete(obj);
}

int cnio__obj_open(struct cnio_stack *st, const struct cnio_uri *u, const struct cnio_hints *h,
                   uint32_t oflags, struct cnio_obj **out)
{
    struct cnio_ep_auth *auth = NULL;
    struct cnio_obj *obj;
    int ret;

    if (!st || !u || !h || !out || u->nhosts < 1 || !u->path || !u->path[0] ||
        (oflags & ~CNIO_WIRE_O_ALL))
        return -CNIO_ERR_INVAL;
    obj = calloc(1, sizeof(*obj));
    if (!obj)
        return -CNIO_ERR_NOMEM;
    obj->st = st;
    obj->h = *h;
    obj->oflags = oflags;
    obj->path = strdup(u->path);
    obj->hosts = calloc((size_t)u->nhosts, sizeof(*obj->hosts));
    obj->nuri = u->nhosts;
    auth = calloc((size_t)u->nhosts, sizeof(*auth));
    ret = -CNIO_ERR_NOMEM;
    if (!obj->path || !obj->hosts || !auth)
        goto fail;
    ret = cnio__key_load(h->key_file, &obj->key);
    if (ret)
        goto fail;
    obj->has_key = 1;
    cnio__cl_hosts_from_uri(obj->hosts, u, u->nhosts);
    for (int i = 0; i < u->nhosts; i++)
        auth[i] = (struct cnio_ep_auth){ .mode = CNIO_WIRE_AUTH_KEY, .k = obj->key.bytes,
                                         .klen = obj->key.len };
    ret = cl_open_settled(obj, u->nhosts, auth);
    if (!ret && cnio__cl_fabric(&obj->h))
        ret = cnio__cl_fabric_lanes(obj);
    if (ret)
        goto close_handles;
    free(auth);
    *out = obj;
    return 0;
close_handles:
    if (obj->staged && !(oflags & CNIO_WIRE_O_RESUME)) {
        cnio__obj_abort(obj);   /* a fresh instance nobody will resume */
        free(auth);
        return ret;
    }
    cl_close_handles(obj);
fail:
    free(auth);
    cnio__cl_free(obj);
    return ret;
}

int cnio__ns_obj_open(struct cnio_ns *ns, const char *path, uint32_t oflags,
                      struct cnio_obj **out)
{
    struct cnio_obj *obj;
    int ret;

    if (!ns || !path || !path[0] || !out || (oflags & ~CNIO_WIRE_O_ALL))
        return -CNIO_ERR_INVAL;
    for (int j = 0; j < ns->n; j++)
        if (!ns->hosts[j].nlanes || cnio__ep_error(ns->hosts[j].lanes[0]))
            return -CNIO_ERR_CONN;   /* a broken session: the caller opens a new one */
    obj = calloc(1, sizeof(*obj));
    if (!obj)
        return -CNIO_ERR_NOMEM;
    obj->st = ns->st;
    obj->h = ns->h;
    obj->oflags = oflags;
    obj->borrowed = 1;
    obj->path = strdup(path);
    obj->hosts = calloc((size_t)ns->n, sizeof(*obj->hosts));
    obj->nuri = ns->n;
    if (!obj->path || !obj->hosts) {
        cnio__cl_free(obj);
        return -CNIO_ERR_NOMEM;
    }
    obj->key = ns->key;
    obj->has_key = 1;
    for (int j = 0; j < ns->n; j++) {
        struct cnio__cl_host *d = &obj->hosts[j];
        const struct cnio__cl_host *s = &ns->hosts[j];

        memcpy(d->name, s->name, sizeof(d->name));
        d->port = s->port;
        d->addr = s->addr;
        d->resolved = s->resolved;
        d->lanes[0] = s->lanes[0];
        d->nlanes = 1;
    }
    ret = cl_open_settled(obj, ns->n, ns->auth);
    if (ret == 0) {
        *out = obj;
        return 0;
    }
    if (obj->staged && !(oflags & CNIO_WIRE_O_RESUME))
        return cnio__obj_abort(obj), ret;   /* a fresh instance nobody will resume */
    cl_close_handles(obj);
    cnio__cl_free(obj);
    return ret;
}

void cnio__obj_taint(struct cnio_obj *obj, int err)
{
    if (obj && err && !obj->werr) {
        obj->werr = err;
        obj->werr_hushed = obj->kept != NULL;
    }
}

/* Host j of obj, whose endpoint ep is (a lane, or the control connection), or -1. */
static int cl_host_of(const struct cnio_obj *obj, const struct cnio_ep *ep)
{
    for (int j = 0; j < obj->nhosts; j++) {
        const struct cnio__cl_host *host = &obj->hosts[j];

        if (host->ctl == ep)
            return j;
        for (int l = 0; l < host->nlanes; l++)
            if (host->lanes[l] == ep)
                return j;
    }
    return -1;
}

/* The stack's keep (cnio__stack_hush): a reason's line, kept as host j's failure. */
static void cl_keep_reason(void *arg, const struct cnio_ep *ep, int err, const char *line)
{
    struct cnio_obj *obj = arg;
    int j = ep ? cl_host_of(obj, ep) : -1;

    if (j < 0)
        cnio__err("%s", line);
    else
        cnio__cl_host_say(obj, j, CNIO__CL_LOST_REASON, err, "%s", line);
}

void cnio__obj_set_quiet(struct cnio_obj *obj, struct cnio_kept *kept)
{
    if (!obj)
        return;
    obj->kept = kept;
    cnio__stack_hush(obj->st, kept ? cl_keep_reason : NULL, kept ? obj : NULL);
}

/* bits 62..55 the host, 54..47 how, 46..31 the error; 30..0 the caller's */
static int64_t cl_kept_key(int j, int how, int err)
{
    uint32_t e = (uint32_t)(err < 0 ? -err : err);

    return ((int64_t)(j & 0xff) << 55) | ((int64_t)(how & 0xff) << 47) |
           ((int64_t)CNIO_MIN(e, 0xffffu) << CNIO_KEPT_FREE_BITS);
}

int cnio__kept_host(int64_t k)
{
    return (int)((k >> 55) & 0xff);
}

void cnio__cl_host_say(struct cnio_obj *obj, int j, int how, int err, const char *fmt, ...)
{
    struct cnio_kept *k = obj->kept;
    int64_t key = cl_kept_key(j, how, err);
    char line[CNIO_KEPT_LINE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (!k)
        cnio__err("%s", line);
    else if (j >= 0 && j < CNIO_MAX_HOSTS && ((k->skip[j / 8] >> (j % 8)) & 1))
        ;   /* said already, for every process */
    else if (k->say)
        cnio__err("%s", line);
    else if (key < k->key) {
        k->key = key;
        memcpy(k->line, line, sizeof(line));
    }
}

void cnio__cl_host_failed(struct cnio_obj *obj, int j, int how, int err)
{
    const struct cnio__cl_host *host = &obj->hosts[j];
    char hp[CNIO_HOSTPORT_MAX];

    cnio__hostport(hp, sizeof(hp), host->name, host->port);
    if (how == CNIO__CL_LOST_IDLE)
        cnio__cl_host_say(obj, j, how, err, "%s: host %s closed a connection while nothing "
                          "was in flight on it (a restart, or its --idle-timeout), and "
                          "reconnecting failed: %s", obj->path, hp, cnio_strerror(err));
    else if (how == CNIO__CL_LOST_CONNECT && err == -CNIO_ERR_AUTH &&
             host->auth.mode == CNIO_WIRE_AUTH_KEY) {
        char why[PATH_MAX + 256];

        cnio__cl_host_say(obj, j, how, err, "connecting to %s: %s%s", hp, cnio_strerror(err),
                          cnio__cl_key_advice(&obj->h, why, sizeof(why)));
    } else if (how == CNIO__CL_LOST_CONNECT)
        cnio__cl_host_say(obj, j, how, err, "connecting to %s: %s", hp, cnio_strerror(err));
    else
        cnio__cl_host_say(obj, j, how, err, "%s: host %s: %s", obj->path, hp,
                          cnio_strerror(err));
}

int cnio__obj_close(struct cnio_obj *obj)
{
    int ret = 0, ret2 = 0;

    if (!obj)
        return -CNIO_ERR_INVAL;
    if (obj->werr) {
        /* A staged instance stays uncommitted (its handles close: it can be resumed); an
         * in-place writer's handles go with its connections, without the CLOSE that
         * would clear the hosts' mark of an interrupted update. */
        /* a rank that attached does not know which: the opener's words say; an
         * instance discarded is the caller's to say (cnio__obj_abort), a failure taken
         * while quiet its owner's (the collective layer says it once for the job) */
        if (obj->discarded || (!obj->has_key && obj->werr_hushed))
            ;
        else if (!obj->has_key)
            cnio__err("%s: a write failed (%s)", obj->path, cnio_strerror(obj->werr));
        else
            cnio__err("%s: %s after a write failed (%s)", obj->path,
                      obj->staged ? "not committed" : "left marked as an interrupted update",
                      cnio_strerror(obj->werr));
        if (obj->staged)
            cl_close_handles(obj);
        ret = obj->werr;
        cnio__cl_free(obj);
        return ret;
    }
    ret = cnio__cl_revive(obj);   /* the CLOSEs (and an in-place writer's clean mark) */
    if (!ret && obj->staged && obj->hosts[0].opened)
        ret = cnio__cl_commit(obj);
    ret2 = cl_close_handles(obj);
    cnio__cl_free(obj);
    return ret ? ret : ret2;
}
