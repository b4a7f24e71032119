/*
 * client_finish.c - finishing a commit whose connection broke (doc/protocol.md,
 * "Finishing a commit"): a reader's FINISH on the hosts that missed a commit column 0's
 * host made; a writer's commit on column 0's host made again over a new connection; a
 * writer's FINISH on the later hosts whose connections broke after column 0 committed.
 */
#include "common.h"
#include "client_int.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Host j's STAT (of n): an upload no live writer holds, beside or instead of column 0's
 * generation, on a server that takes FINISH. */
static int cf_finishable(const struct cnio__cl_stat *s, int j)
{
    uint32_t f = s[j].info.flags;

    return !s[j].status && (s[j].flags & CNIO_WIRE_F_LIVE) && !(f & CNIO_WIRE_I_LIVE) &&
           (cnio__ep_caps(s[j].ep) & CNIO_WIRE_CAP_FINISH) &&
           ((f & CNIO_WIRE_I_STAGED) ||
            ((f & CNIO_WIRE_I_PENDING) && s[j].info.gen != s[0].info.gen));
}

int cnio__cl_finish(struct cnio_stack *st, const char *name, const struct cnio__cl_stat *s,
                    int n)
{
    uint8_t pl[CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME];
    const uint32_t not_done = CNIO_WIRE_I_STAGED | CNIO_WIRE_I_DIRTY | CNIO_WIRE_I_COMMITTING |
                              CNIO_WIRE_I_DIR;
    struct cnio_call *c;
    int len, done = 0, any = 0;

    if (n < 2 || s[0].status || !s[0].gen || !s[0].order || (s[0].info.flags & not_done))
        return 0;
    len = cnio__cl_open_payload(0, NULL, 0, name, pl, sizeof(pl));
    c = calloc((size_t)n, sizeof(*c));
    if (len < 0 || !c) {
        free(c);
        return 0;
    }
    for (int j = 1; j < n; j++)
        if (cf_finishable(s, j)) {
            c[j] = (struct cnio_call){ .ep = s[j].ep, .what = name, .type = CNIO_WIRE_FINISH,
                                       .object = s[0].gen, .offset = s[0].order,
                                       .payload = pl, .plen = (uint32_t)len };
            any = 1;
        }
    if (any)
        cnio__stack_calls(st, c, n);
    for (int j = 1; any && j < n; j++)
        if (c[j].ep && !c[j].status) {
            cnio__info("%s: finished on host %d the commit that reached column 0's host and "
                       "not it", name[0] ? name : "/", j);
            done++;
        } else if (c[j].ep && !c[j].reasoned) {
            cnio__err("%s: finishing its commit on host %d: %s", name[0] ? name : "/", j,
                      cnio_strerror(c[j].status));
        }
    free(c);
    return done;
}

/* (client_int.h) The object's key and hints; a fabric's control goes over TCP. */
int cnio__cl_fresh_conn(struct cnio_obj *obj, int j, int retry, struct cnio__cl_host *fresh)
{
    struct cnio_ep_auth auth = { .mode = CNIO_WIRE_AUTH_KEY, .k = obj->key.bytes,
                                 .klen = obj->key.len };   /* (the endpoint copies the key) */
    struct cnio_hints h = obj->h;

    *fresh = (struct cnio__cl_host){ .port = obj->hosts[j].port, .addr = obj->hosts[j].addr,
                                     .nlanes = 1 };
    memcpy(fresh->name, obj->hosts[j].name, sizeof(fresh->name));
    if (!obj->has_key)
        return -CNIO_ERR_CONN;
    if (cnio__cl_fabric(&h))
        snprintf(h.transport, sizeof(h.transport), "tcp");
    return cnio__cl_reconnect(obj->st, &h, fresh, &auth, retry, obj->path, &fresh->lanes[0]);
}

/* What a writer whose commit on column 0's host is not known to have happened says of
 * its upload (after the host's name and what failed; %s: cnio__stack_finish_advice). */
#define CC_FIRST_UNKNOWN "nothing was committed, unless that COMMIT reached it before " \
    "the connection broke (`cnio stat` says which once it answers): the previous " \
    "version, if any, stays, and the upload is kept on every host (%s, " CNIO_RM_ADVICE ")"

/*
 * Commits on column 0's host over ep, a new connection, what the COMMIT over the broken
 * one may or may not have committed: a STAT by name first, since that COMMIT may have
 * arrived and only its reply been lost (the object is then this upload's generation,
 * and the STAT says its order: nothing is committed twice); else FINISH with order 0,
 * which that host picks, as for a COMMIT (CNIO_WIRE_CAP_FINISH_ORDER), and, for an
 * exclusive create, only where nothing else took the name meanwhile, as its COMMIT
 * would have (CNIO_WIRE_CAP_FINISH_EXCL). 0 with *order; 1 when the server cannot (one
 * before 2026-12-05); or the STAT's or FINISH's error (-CNIO_ERR_EXIST: the name is
 * another's).
 */
static int cf_first_on(struct cnio_obj *obj, struct cnio_ep *ep, uint64_t *order)
{
    uint8_t pl[CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME];
    const uint32_t not_done = CNIO_WIRE_I_STAGED | CNIO_WIRE_I_DIRTY | CNIO_WIRE_I_COMMITTING;
    const uint32_t excl = CNIO_WIRE_O_CREATE | CNIO_WIRE_O_EXCL;
    const int exclusive = (obj->oflags & excl) == excl;
    struct cnio__cl_stat s = { .ep = ep };
    struct cnio_call c = { .ep = ep, .what = obj->path, .type = CNIO_WIRE_FINISH,
                           .object = obj->stage_id, .payload = pl };
    int len = cnio__cl_open_payload(exclusive ? excl : 0, NULL, 0, obj->path, pl, sizeof(pl));
    int ret;

    if (!(cnio__ep_caps(ep) & CNIO_WIRE_CAP_FINISH))
        return 1;
    ret = len < 0 ? len : cnio__cl_stat_each(obj->st, &s, 1, obj->path, obj->path, NULL, 1);
    if (!ret && !s.status && s.gen == obj->stage_id && s.order && !(s.info.flags & not_done)) {
        cnio__debug("%s: its COMMIT on column 0's host had happened", obj->path);
        *order = s.order;
        return 0;
    }
    if (ret && ret != -CNIO_ERR_NOENT)   /* (NOENT: a new name, its upload not there) */
        return ret;
    if (!(cnio__ep_caps(ep) & CNIO_WIRE_CAP_FINISH_ORDER) ||
        (exclusive && !(cnio__ep_caps(ep) & CNIO_WIRE_CAP_FINISH_EXCL)))
        return 1;
    c.plen = (uint32_t)len;
    ret = cnio__stack_calls(obj->st, &c, 1);
    if (!ret && !c.roffset)
        ret = -CNIO_ERR_PROTO;
    if (!ret)
        *order = c.roffset;
    return ret ? ret : 0;
}

/*
 * Column 0's COMMIT failed with ret because its connection broke (its server restarted
 * between PREPARE and COMMIT, the network): no other host has committed, and column 0's
 * holds the instance its PREPARE made durable. It is reached again over a new
 * connection (cnio__cl_reconnect: about 3 s, as cnio__cl_finish_lost does for the other
 * columns) and the commit made there (cf_first_on), with the order that host picks. A
 * host that stopped answering (a timeout) is not waited for again. 0 with *order, or
 * ret (-CNIO_ERR_EXIST: an exclusive create's name taken meanwhile), what became of the
 * upload said.
 */
int cnio__cl_first_again(struct cnio_obj *obj, int ret, uint64_t *order)
{
    struct cnio__cl_host *h0 = &obj->hosts[0], fresh;
    int r = cnio__ep_error(cnio__cl_ctl_ep(h0));
    char hp[CNIO_HOSTPORT_MAX];

    if (r == -CNIO_ERR_TIMEOUT || !obj->has_key) {
        cnio__err("%s: commit on host %s (column 0's, which decides it): %s; "
                  CC_FIRST_UNKNOWN, obj->path, cnio__hostport(hp, sizeof(hp), h0->name, h0->port),
                  cnio_strerror(r ? r : ret), cnio__stack_finish_advice(obj->st));
        return ret;
    }
    r = cnio__cl_fresh_conn(obj, 0, 1, &fresh);
    if (!r)
        r = cf_first_on(obj, fresh.lanes[0], order);
    cnio__cl_disconnect(&fresh, 1);
    if (!r) {
        cnio__info("%s: commit on host %s made over a new connection (the first one "
                   "broke before its reply)", obj->path,
                   cnio__hostport(hp, sizeof(hp), h0->name, h0->port));
        h0->opened = 0;   /* its handle went with the old connection */
        return 0;
    }
    if (r == -CNIO_ERR_EXIST)   /* (only for an exclusive create: its reason said so) */
        cnio__err("%s: commit on host %s (column 0's, which decides it): %s, and over a "
                  "new connection the name was found created meanwhile by another writer, "
                  "while this open was exclusive (MPI_MODE_EXCL): nothing was committed, and "
                  "that object stays", obj->path,
                  cnio__hostport(hp, sizeof(hp), h0->name, h0->port), cnio_strerror(ret));
    else if (r == -CNIO_ERR_NOENT)   /* (the host's reason said which) */
        cnio__err("%s: commit on host %s (column 0's, which decides it): %s, and over a "
                  "new connection that host no longer holds the upload (it restarted and "
                  "discarded it, or it expired): nothing of it was committed; write it again "
                  "(`cnio stat` says what the name holds meanwhile: a replace cut short there "
                  "reads as incomplete)", obj->path,
                  cnio__hostport(hp, sizeof(hp), h0->name, h0->port), cnio_strerror(ret));
    else if (r == 1)
        cnio__err("%s: commit on host %s (column 0's, which decides it): %s, and its "
                  "cnio-server, back, is too old to commit it over a new connection "
                  "(update it); " CC_FIRST_UNKNOWN, obj->path,
                  cnio__hostport(hp, sizeof(hp), h0->name, h0->port), cnio_strerror(ret),
                  cnio__stack_finish_advice(obj->st));
    else
        cnio__err("%s: commit on host %s (column 0's, which decides it): %s, and again "
                  "over a new connection: %s; " CC_FIRST_UNKNOWN, obj->path,
                  cnio__hostport(hp, sizeof(hp), h0->name, h0->port), cnio_strerror(ret),
                  cnio_strerror(r), cnio__stack_finish_advice(obj->st));
    return r == -CNIO_ERR_EXIST ? r : ret;   /* (as that COMMIT would have refused) */
}

/* What a writer says of its object when a host after column 0's missed the commit
 * (after what failed there; %s: when that host can take it). True because column 0's
 * metadata is the commit point, and every host's PREPARE made its instance durable. */
#define CC_DECIDED "the object IS committed, with what was written (column 0's host, " \
    "which decides it, committed it): it cannot be read until %s, then reads complete " \
    "once the next open or `cnio stat` of it has finished the commit there"

/*
 * COMMIT with order on columns 1.. failed with ret after column 0's host committed: the
 * object's generation is decided. Each host whose connection broke meanwhile (a server
 * restarted, the network) is reached again over a new connection (cnio__cl_reconnect:
 * about 3 s) and asked to FINISH the instance, which its PREPARE kept; the commit is
 * then whole, as though the COMMIT had arrived. A host that did not answer in time is
 * not asked again (one wait for a server that hangs: a reader finishes it later). 0
 * when every such host finished and no other failed; else ret, each host that could
 * not finish named.
 */
int cnio__cl_finish_lost(struct cnio_obj *obj, uint64_t order, int ret)
{
    uint8_t pl[CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME];
    int len = cnio__cl_open_payload(0, NULL, 0, obj->path, pl, sizeof(pl)), lost = 0;
    char hp[CNIO_HOSTPORT_MAX];

    for (int j = 1; j < obj->nhosts; j++) {
        struct cnio__cl_host fresh;
        struct cnio_call c = { .what = obj->path, .type = CNIO_WIRE_FINISH,
                               .object = obj->stage_id, .offset = order, .payload = pl,
                               .plen = (uint32_t)CNIO_MAX(len, 0) };
        int r, reached = 0;

        if (!cnio__cl_host_lost(obj, j))
            continue;
        lost++;
        r = cnio__ep_error(cnio__cl_ctl_ep(&obj->hosts[j]));
        if (r == -CNIO_ERR_TIMEOUT) {   /* a host that stopped answering is waited for once */
            cnio__err("%s: commit on host %s: %s (not waited for again); " CC_DECIDED, obj->path,
                      cnio__hostport(hp, sizeof(hp), obj->hosts[j].name, obj->hosts[j].port),
                      cnio_strerror(r), "that host answers again");
            continue;
        }
        r = len < 0 ? len : cnio__cl_fresh_conn(obj, j, 1, &fresh);
        reached = !r;
        if (!r && !(cnio__ep_caps(fresh.lanes[0]) & CNIO_WIRE_CAP_FINISH))
            r = -CNIO_ERR_NOTSUP;   /* a server before 2026-12-05 */
        if (!r) {
            c.ep = fresh.lanes[0];
            r = cnio__stack_calls(obj->st, &c, 1);
        }
        cnio__cl_disconnect(&fresh, 1);
        if (!r) {
            cnio__info("%s: commit on host %s finished over a new connection", obj->path,
                       cnio__hostport(hp, sizeof(hp), obj->hosts[j].name, obj->hosts[j].port));
            obj->hosts[j].opened = 0;   /* its handle went with the old connection */
            lost--;
        } else if (!reached) {   /* down: its server killed, or not listening yet */
            cnio__err("%s: commit on host %s: %s, and it could not be reached again "
                      "(%s); " CC_DECIDED, obj->path,
                      cnio__hostport(hp, sizeof(hp), obj->hosts[j].name, obj->hosts[j].port),
                      cnio_strerror(ret), cnio_strerror(r), "its cnio-server is back");
        } else {   /* (a refusal's reason was said on its own line) */
            cnio__err("%s: commit on host %s: %s, and finishing it over a new connection "
                      "failed (%s); " CC_DECIDED, obj->path,
                      cnio__hostport(hp, sizeof(hp), obj->hosts[j].name, obj->hosts[j].port),
                      cnio_strerror(ret), cnio_strerror(r),
                      r == -CNIO_ERR_NOTSUP ? "that host's cnio-server is one from "
                      "2026-12-05 or later (it is older, and cannot finish a commit)"
                      : "that host can finish it");
        }
    }
    return lost ? ret : 0;
}
