/*
 * client_commit.c - the client's side of commit semantics (doc/protocol.md, "Commit and
 * staging"): committing a staged instance on every host with column 0 last, discarding
 * it, telling a complete object from an incomplete one, and the CRC32C of ranges that
 * resuming compares. A commit whose connection broke is finished in client_finish.c.
 */
#include "common.h"
#include "client_int.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void cnio__cl_state(uint32_t *state, const struct cnio_wire_info *info, uint32_t gen0)
{
    if (info->flags & CNIO_WIRE_I_STAGED)
        *state |= CNIO_OBJ_STAGED;
    if (info->flags & CNIO_WIRE_I_DIRTY)
        *state |= CNIO_OBJ_DIRTY;
    if ((info->flags & CNIO_WIRE_I_COMMITTING) || info->gen != gen0)
        *state |= CNIO_OBJ_TORN;
    if (info->flags & CNIO_WIRE_I_PENDING)
        *state |= CNIO_OBJ_PENDING;
    if (info->flags & CNIO_WIRE_I_INPLACE)
        *state |= CNIO_OBJ_INPLACE;
}

/* A writer that opened the object in place, not a staged instance of its own or one it
 * joined: it writes into every host's column as it is. */
static int cc_in_place(const struct cnio_obj *obj)
{
    return (obj->oflags & CNIO_WIRE_O_WRITE) && !obj->staged &&
           !(obj->hosts[0].info.flags & CNIO_WIRE_I_JOINED);
}

/* Host j's info as a writer in place compares it: its generation without its update
 * count mixed in (cnio__wire_gen), where the host said the count. Hosts whose counts
 * differ, an update interrupted on some, are one generation: cc_updates checks them. */
static struct cnio_wire_info cc_info(const struct cnio_obj *obj, int j)
{
    struct cnio_wire_info i = obj->hosts[j].info;

    if (cc_in_place(obj) && obj->hosts[j].updates_known)
        i.gen = cnio__wire_gen_base(i.gen, obj->hosts[j].updates);
    return i;
}

/* a - b as a distance of update counts mod 2^16: its sign says which came after */
static int cc_updates_after(uint32_t a, uint32_t b)
{
    return (int16_t)(uint16_t)(a - b) > 0;
}

/* A writer in place whose clean hosts had different counts (cc_updates): which host is
 * odd where the counts and a majority of the others tell (cnio__cl_apart), else every
 * one, none blamed (compared with column 0 alone, host 1 was named for host 0's restore). */
static void cc_warn_apart(const struct cnio_obj *obj)
{
    uint32_t *upd = calloc((size_t)obj->nhosts, sizeof(*upd));
    uint8_t *role = calloc((size_t)obj->nhosts, 1);
    char why[CNIO_APART_MAX];
    int kind = 0;

    for (int j = 0; upd && role && j < obj->nhosts; j++) {
        const struct cnio__cl_host *h = &obj->hosts[j];

        upd[j] = h->updates;
        role[j] = !h->updates_known ? CNIO__APART_SKIP
                  : (h->info.flags & CNIO_WIRE_I_INTERRUPTED) ? CNIO__APART_DIRTY
                  : CNIO__APART_CLEAN;
    }
    if (upd && role)
        kind = cnio__cl_apart(obj->hosts, obj->nhosts, upd, role, why, sizeof(why));
    if (kind == CNIO_APART_ODD || kind == CNIO_APART_UNSURE)
        cnio__warn("%s: %s: %s (then what is not written now stays a mix of the two: "
                   "restore every host from one backup, or copy it again), or another "
                   "writer's update closed on %s first", obj->path, why,
                   kind == CNIO_APART_ODD ? "restored from a backup taken before an update "
                                            "of the others in place"
                   : "restored from a backup of another time",
                   kind == CNIO_APART_ODD ? "the others" : "one of them");
    free(upd);
    free(role);
}

/*
 * A writer in place: the count its clean close records on every host, one more than the
 * latest of the hosts' (mod 2^16), so that they agree again whatever each had. Hosts
 * whose last update closed cleanly (not I_INTERRUPTED) should have had as many: one
 * that had another count holds its column as of another update, restored from a backup
 * of another time, or another writer's update closed on it and not yet on the others
 * (two writers in place at once, one still open there). It is said, not refused: a
 * writer may not tell the two apart, and the close makes the hosts agree either way;
 * nor said when a host had other writers in place at its open (I_INPLACE), nor when
 * asked after the open, one has them or had one's update close there (cnio__cl_others).
 */
static void cc_updates(struct cnio_obj *obj)
{
    int clean = -1, last = -1, said = 0, apart = 0;
    char hp[CNIO_HOSTPORT_MAX], hp2[CNIO_HOSTPORT_MAX];

    /* other writers in place held a host when it opened: counts apart are theirs */
    for (int j = 0; j < obj->nhosts; j++)
        said |= (obj->hosts[j].info.flags & CNIO_WIRE_I_INPLACE) != 0;
    for (int j = 0; j < obj->nhosts; j++) {
        const struct cnio__cl_host *h = &obj->hosts[j];

        if (!h->updates_known)
            continue;
        if (last < 0 || cc_updates_after(h->updates, obj->hosts[last].updates))
            last = j;
        if (h->info.flags & CNIO_WIRE_I_INTERRUPTED)
            continue;
        apart |= clean >= 0 && h->updates != obj->hosts[clean].updates;
        clean = clean < 0 ? j : clean;
    }
    /* ... or joined it since: the hosts are opened column 0 first, so another writer's
     * whole update could close on a host opened later while it was yet to open on one
     * opened before (each host said no other writer at its moment: about 1 writer's open
     * in 100 beside another writer in place looping was warned so). Asked of the hosts
     * now, before the warning; old servers are not asked */
    if (apart && !said && cnio__cl_others(obj) == 1) {
        cnio__debug("%s: its hosts' update counts differ, and another writer in place "
                    "holds it or closed on one of them since it opened: not said",
                    obj->path);
        said = 1;
    }
    if (apart && !said++)
        cc_warn_apart(obj);
    /* a host whose update was interrupted has missed that update's count, or the last
     * few when their writers died mid-close; one ahead of the clean hosts, or more than
     * one behind, more likely holds a column of another time */
    for (int j = 0; clean >= 0 && j < obj->nhosts; j++) {
        const struct cnio__cl_host *h = &obj->hosts[j];
        uint32_t c = obj->hosts[clean].updates;

        if (h->updates_known && (h->info.flags & CNIO_WIRE_I_INTERRUPTED) &&
            h->updates != c && h->updates != ((c - 1) & 0xffffu) && !said++)
            cnio__warn("%s: host %s, whose last update in place was interrupted, holds "
                       "its column as of update %u, and host %s as of update %u: "
                       "restored from a backup of another time? (then what is not written "
                       "now stays a mix of the two: restore every host from one backup, or "
                       "copy it again)", obj->path,
                       cnio__hostport(hp, sizeof(hp), h->name, h->port), h->updates,
                       cnio__hostport(hp2, sizeof(hp2), obj->hosts[clean].name,
                                      obj->hosts[clean].port), c);
    }
    if (last >= 0) {
        obj->updates_next = (obj->hosts[last].updates + 1) & 0xffffu;
        obj->updates_ready = 1;
    }
}

/*
 * A reader's refusal of host j, whose generation differs from column 0's. Where every
 * host holds one generation (their OPEN replies say it), they are apart by updates in
 * place alone, and their counts, or a majority of them, may single out the host
 * restored from a backup (cnio__cl_apart_gens); compared with column 0 alone, host 1
 * was blamed for host 0's restore. Otherwise what else it may be is said.
 */
static void cc_say_apart(const struct cnio_obj *obj, int j)
{
    char why[CNIO_APART_MAX];
    int kind = cc_in_place(obj) ? 0 : cnio__cl_apart_gens(obj->hosts, obj->nhosts, why,
                                                          sizeof(why));
    char hp[CNIO_HOSTPORT_MAX], hp2[CNIO_HOSTPORT_MAX];

    if (kind == CNIO_APART_ODD)
        cnio__err("%s: %s: restored from a backup taken before an update of the others in "
                  "place (restore every host from one backup, or copy it again)", obj->path,
                  why);
    else if (kind == CNIO_APART_UNSURE)
        cnio__err("%s: %s: a column restored from a backup of another time, which one the "
                  "hosts cannot tell (restore every host from one backup, or copy it again)",
                  obj->path, why);
    else if (kind == CNIO_APART_DIRTY)
        cnio__err("%s: incomplete: %s", obj->path, why);
    else
        cnio__err("%s: host %s holds another generation of it than host %s: another "
                  "object of this name (written through other hosts), a commit that has "
                  "not reached every host (under way, or interrupted), or a column "
                  "restored from a backup taken before an update of the others in place", obj->path,
                  cnio__hostport(hp, sizeof(hp), obj->hosts[j].name, obj->hosts[j].port),
                  cnio__hostport(hp2, sizeof(hp2), obj->hosts[0].name, obj->hosts[0].port));
}

int cnio__cl_check_complete(struct cnio_obj *obj)
{
    uint32_t gen0 = cc_info(obj, 0).gen;
    /* A writer in place may mend an update in place that was interrupted (DIRTY), but
     * never writes across generations: columns of two objects (named through hosts of
     * both), or of a commit that did not reach every host, would become one object that
     * is neither, both hosts' objects changed and said complete. */
    uint32_t refuse = cc_in_place(obj) ? CNIO_OBJ_TORN : CNIO_OBJ_INCOMPLETE;
    char hp[CNIO_HOSTPORT_MAX];

    if (obj->torn_inplace)   /* (cnio__cl_commit_under_way: apart by a live update) */
        refuse &= ~CNIO_OBJ_TORN;
    if ((obj->oflags & CNIO_WIRE_O_WRITE) && !cc_in_place(obj))
        return 0;
    for (int j = 0; j < obj->nhosts; j++) {
        struct cnio_wire_info info = cc_info(obj, j);
        uint32_t state = 0;

        cnio__cl_state(&state, &info, gen0);
        if ((state & refuse) && !(state & (CNIO_OBJ_STAGED | CNIO_OBJ_DIRTY)) &&
            !(obj->hosts[j].info.flags & CNIO_WIRE_I_COMMITTING)) {
            cc_say_apart(obj, j);
            return -CNIO_ERR_INCOMPLETE;
        }
        if (state & refuse) {
            cnio__err("%s: incomplete on host %s (%s)", obj->path,
                      cnio__hostport(hp, sizeof(hp), obj->hosts[j].name, obj->hosts[j].port),
                      (state & CNIO_OBJ_STAGED) ? "an upload is in progress or was interrupted"
                      : (state & CNIO_OBJ_DIRTY) ? "an update in place was interrupted"
                      : "a commit has not reached every host: under way, or interrupted");
            return -CNIO_ERR_INCOMPLETE;
        }
    }
    if (cc_in_place(obj))
        cc_updates(obj);
    return 0;
}

int cnio__cl_commit_under_way(struct cnio_obj *obj)
{
    uint32_t gen0 = cc_info(obj, 0).gen, state = 0, live = CNIO_OBJ_LIVE_KNOWN;
    int n = obj->nhosts, ret, moved = 0;
    struct cnio__cl_stat *s;

    obj->torn_inplace = 0;
    if ((obj->oflags & CNIO_WIRE_O_WRITE) && !cc_in_place(obj))
        return 0;
    for (int j = 0; j < n; j++) {
        struct cnio_wire_info info = cc_info(obj, j);

        if (info.flags & CNIO_WIRE_I_INCOMPLETE)
            return 0;
        cnio__cl_state(&state, &info, gen0);
    }
    if (!(state & CNIO_OBJ_TORN))
        return 0;
    /* OPEN's reply does not say I_PENDING (STAT's does): ask every host, and whether a
     * live writer holds the instance (I_LIVE), where every server can say: an instance
     * that none holds is a commit that stopped, not one under way */
    s = calloc((size_t)CNIO_MAX(n, 1), sizeof(*s));
    for (int j = 0; s && j < n; j++)
        s[j].ep = cnio__cl_ctl_ep(&obj->hosts[j]);
    ret = s && !cnio__cl_stat_each(obj->st, s, n, obj->path, obj->path, NULL, 0);
    state = 0;
    for (int j = 0; ret && j < n; j++) {
        if (s[j].status)
            ret = 0;
        else   /* against column 0's generation now: the object may have moved on */
            cnio__cl_state(&state, &s[j].info, s[0].info.gen);
        moved |= ret && s[j].info.gen != obj->hosts[j].info.gen;
    }
    /* A host whose generation changed since the open: the object is moving, and the two
     * looks at it (the open's replies, then these STATs, each host answering at its own
     * moment) are not of one moment. A commit stopped only where both agree. (It took
     * STATs answered on either side of a writer's next commit for one that stopped, and
     * the open failed "incomplete".) */
    if (moved) {
        free(s);
        return 1;
    }
    /* A reader whose hosts' generations are one (its OPEN replies' offsets: the whole
     * generation) but whose INFO gens are apart, beside a live writer in place, nothing
     * interrupted or staged: that update's count, closed on some hosts and not yet on
     * the others (two writers at once, one still open there; doc/protocol.md, "Update
     * counts"). The read is one MPI-IO allows beside a writer, old and new bytes mixed.
     * Never for a writer (its own handles say I_INPLACE), nor for columns of two
     * objects (generations apart), nor for objects never staged (generation 0). */
    obj->torn_inplace = ret && !(obj->oflags & CNIO_WIRE_O_WRITE) && obj->hosts[0].gen &&
                        (state & CNIO_OBJ_INPLACE) &&
                        !(state & (CNIO_OBJ_STAGED | CNIO_OBJ_DIRTY | CNIO_OBJ_PENDING));
    for (int j = 1; obj->torn_inplace && j < n; j++)
        obj->torn_inplace = obj->hosts[j].gen == obj->hosts[0].gen;
    if (obj->torn_inplace) {
        free(s);
        return 0;
    }
    /* apart by counts alone, with no writer: a last writer's close caught between two
     * hosts asks again, and opens again once they moved (1 in about 1000 opens beside
     * two writers in place looping was refused "... as of different updates in place") */
    if (ret && cnio__cl_apart_alone(obj, s, state) && cnio__cl_apart_again(obj, s)) {
        free(s);
        return 1;
    }
    if (ret)
        cnio__cl_stat_live(s, n, &live);
    /* a commit that stopped between two hosts, finished where it can be: open again */
    if (ret && (state & CNIO_OBJ_INCOMPLETE) && !cnio__cl_settling(state | live) &&
        cnio__cl_finish(obj->st, obj->path, s, n) > 0) {
        free(s);
        return 1;
    }
    free(s);
    return ret && cnio__cl_settling(state | live);   /* under way */
}

int cnio__cl_settling(uint32_t state)
{
    return (state & CNIO_OBJ_PENDING) &&
           ((state & CNIO_OBJ_LIVE) || !(state & CNIO_OBJ_LIVE_KNOWN));
}

/* One request of type (header offset, payload pl of plen bytes) on each host in
 * [from, to) holding obj's handle; a SETATTR's offset is its mtime (or
 * CNIO_MTIME_NONE). */
static int cc_each_pl(struct cnio_obj *obj, uint16_t type, uint64_t offset, const void *pl,
                      uint32_t plen, int from, int to, int *refused)
{
    struct cnio_call *c = calloc((size_t)CNIO_MAX(to - from, 1), sizeof(*c));
    int ret;
    char hp[CNIO_HOSTPORT_MAX];

    if (!c)
        return -CNIO_ERR_NOMEM;
    for (int j = from; j < to; j++)
        if (obj->hosts[j].opened && obj->hosts[j].nlanes) {
            c[j - from] = (struct cnio_call){ .ep = cnio__cl_ctl_ep(&obj->hosts[j]),
                                              .what = obj->path, .type = type, .offset = offset,
                                              .object = obj->hosts[j].handle,
                                              .payload = pl, .plen = plen };
            if (type == CNIO_WIRE_SETATTR)
                cnio__cl_setattr_mtime(&c[j - from], (int64_t)offset);
        }
    ret = cnio__stack_calls(obj->st, c, to - from);
    for (int j = from; refused && j < to; j++)   /* answered with an error */
        *refused += c[j - from].status && !cnio__ep_error(c[j - from].ep);
    for (int j = from; j < to; j++)
        if (c[j - from].status && !c[j - from].reasoned &&   /* a reason's line said it */
            !(type == CNIO_WIRE_COMMIT && from > 0 && cnio__ep_error(c[j - from].ep)))
            cnio__cl_host_say(obj, j, CNIO__CL_LOST_XFER, c[j - from].status,
                              "%s: %s on host %s: %s", obj->path,
                              type == CNIO_WIRE_COMMIT ? "commit" : type == CNIO_WIRE_PREPARE
                              ? "preparing the commit" : type == CNIO_WIRE_SETATTR
                              ? "setting its mode and mtime" : "discard",
                              cnio__hostport(hp, sizeof(hp), obj->hosts[j].name,
                                             obj->hosts[j].port),
                              cnio_strerror(c[j - from].status));
    free(c);
    return ret;
}

static int cc_each(struct cnio_obj *obj, uint16_t type, uint64_t offset, int from, int to)
{
    return cc_each_pl(obj, type, offset, NULL, 0, from, to, NULL);
}

/* 1 when every host announces capability cap (CNIO_WIRE_CAP_ORDER: picks commit orders
 * on request; CNIO_WIRE_CAP_PREPARE: takes PREPARE). */
static int cc_servers_can(const struct cnio_obj *obj, uint32_t cap)
{
    for (int j = 0; j < obj->nhosts; j++)
        if (!obj->hosts[j].nlanes || !(cnio__ep_caps(cnio__cl_ctl_ep(&obj->hosts[j])) & cap))
            return 0;
    return 1;
}

static int cc_discard(struct cnio_obj *obj);
static int cc_unlink_past(struct cnio_obj *obj);

int cnio__obj_setattr_staged(struct cnio_obj *obj, uint32_t mode, int64_t mtime_ns)
{
    uint8_t pl[CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME];
    struct cnio_wire_open o = { .stripe_unit = mode, .name = obj->path };
    int len;

    if (!obj->staged || !cc_servers_can(obj, CNIO_WIRE_CAP_SETATTR_STAGED))
        return 1;
    if (mode > 0xffffu || strlen(obj->path) > CNIO_WIRE_MAX_NAME)
        return -CNIO_ERR_INVAL;
    o.name_len = (uint32_t)strlen(obj->path);
    len = cnio__wire_open_encode(&o, pl, sizeof(pl));
    return len < 0 ? len : cc_each_pl(obj, CNIO_WIRE_SETATTR, (uint64_t)mtime_ns, pl,
                                      (uint32_t)len, 0, obj->nhosts, NULL);
}

/*
 * PREPARE on every host, before any COMMIT: each does what its commit could fail at for
 * lack of space or a name in the way (directories, the metadata files the commit renames
 * into place), so that a commit one host cannot make is made by none. A refusal commits
 * nothing anywhere: the instance is discarded on every host, as after a failed write
 * (kept whole when a host is out of reach, to be resumed or removed).
 */
static int cc_prepare(struct cnio_obj *obj)
{
    int ret = cc_each(obj, CNIO_WIRE_PREPARE, 0, 0, obj->nhosts);

    if (!ret)
        return 0;
    if (cc_discard(obj) == 0) {
        cnio__err("%s: nothing committed; the upload was discarded on every host", obj->path);
        obj->staged = 0;
    } else {
        cnio__err("%s: nothing committed; the upload is kept (%s, " CNIO_RM_ADVICE ")",
                  obj->path, cnio__stack_finish_advice(obj->st));
    }
    return ret;
}

/*
 * COMMIT on column 0's host with order 0: it picks the order (*order), and its answer
 * decides. A refusal (the instance removed by `cnio rm`, the name created meanwhile under
 * MPI_MODE_EXCL, ...) commits nothing anywhere: the instance is discarded on every host.
 * Under cnio__obj_set_gone_ok an instance removed by an UNLINK of its name is no refusal:
 * 1, nothing committed (column 0's handle stays for its CLOSE).
 */
static int cc_commit_first(struct cnio_obj *obj, uint64_t *order)
{
    struct cnio__cl_host *h0 = &obj->hosts[0];
    struct cnio_call c = { .ep = cnio__cl_ctl_ep(h0), .type = CNIO_WIRE_COMMIT,
                           .object = h0->handle, .what = obj->path };
    int ret;
    char hp[CNIO_HOSTPORT_MAX];

    if (obj->gone_ok && (cnio__ep_caps(c.ep) & CNIO_WIRE_CAP_GONE))
        c.flags = CNIO_WIRE_F_GONE;
    ret = cnio__stack_calls(obj->st, &c, 1);
    if (!ret) {
        *order = c.roffset;
        return (c.rflags & CNIO_WIRE_F_GONE) ? 1 : 0;
    }
    if (cnio__ep_error(c.ep) && !c.reasoned)   /* unanswered: made, or not, over a new one */
        return cnio__cl_first_again(obj, ret, order);
    if (!c.reasoned)   /* else its line named the object, the host and why */
        cnio__err("%s: commit on host %s: %s", obj->path,
                  cnio__hostport(hp, sizeof(hp), h0->name, h0->port), cnio_strerror(ret));
    if (!cnio__ep_error(c.ep)) {   /* the host answered: nothing was committed */
        cc_each(obj, CNIO_WIRE_ABORT, 0, 0, obj->nhosts);
        for (int j = 0; j < obj->nhosts; j++)
            obj->hosts[j].opened = 0;   /* ABORT released the handles */
        obj->staged = 0;
    }
    return ret;
}

int cnio__cl_commit(struct cnio_obj *obj)
{
    struct timespec ts;
    uint64_t order = 0;
    int ret;

    /* One host commits alone: its commit prepares itself. */
    if (obj->nhosts > 1 && cc_servers_can(obj, CNIO_WIRE_CAP_PREPARE)) {
        ret = cc_prepare(obj);
        if (ret)
            return ret;
    }
    ret = cc_unlink_past(obj);
    if (ret)
        return ret;
    if (cc_servers_can(obj, CNIO_WIRE_CAP_ORDER)) {
        /* Column 0's host is the commit point: it orders the commits of the name (the
         * last to reach it wins), then every other host gets the same order, and keeps
         * the commit with the largest (order, instance), whatever order they arrive in. */
        ret = cc_commit_first(obj, &order);
        if (ret == 1) {   /* deleted while open: the other hosts' instances went with it */
            cnio__debug("%s: removed while open: nothing committed", obj->path);
            cc_each(obj, CNIO_WIRE_ABORT, 0, 1, obj->nhosts);
            for (int j = 1; j < obj->nhosts; j++)
                obj->hosts[j].opened = 0;
            obj->staged = 0;
            return 0;
        }
        if (!ret) {
            int refused = 0;

            ret = cc_each_pl(obj, CNIO_WIRE_COMMIT, order, NULL, 0, 1, obj->nhosts, &refused);
            if (ret && !refused)   /* only connections lost */
                ret = cnio__cl_finish_lost(obj, order, ret);
        }
        if (!ret)
            obj->staged = 0;
        return ret;
    }
    /* Servers that do not pick orders: the client's clock orders the commits. */
    clock_gettime(CLOCK_REALTIME, &ts);
    order = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    ret = cc_each(obj, CNIO_WIRE_COMMIT, order, 1, obj->nhosts);
    /* Column 0 last: until it commits, its generation differs from the others' and
     * readers see the object as incomplete, never as a mix. */
    if (!ret)
        ret = cc_each(obj, CNIO_WIRE_COMMIT, order, 0, 1);
    if (!ret)
        obj->staged = 0;
    return ret;
}

/*
 * Discards the staged instance over fresh connections (UNLINK with the instance id, with
 * the key), when the object's own connections to some host broke: on all the hosts it
 * was asked of (cnio__cl_host.asked) or none. A host never asked holds none of it (an
 * open that failed connecting to it): it is not connected to again. A host that refuses
 * the connection (a server restarted, not listening yet) is tried again as a revive
 * is (cnio__cl_reconnect: about 3 s), so that a server back meanwhile is cleaned up.
 */
static int cc_discard_fresh(struct cnio_obj *obj)
{
    uint8_t pl[CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME];
    int n = 0, len, ret;
    struct cnio__cl_host *hosts = calloc((size_t)obj->nhosts, sizeof(*hosts));
    struct cnio_call *c = calloc((size_t)obj->nhosts, sizeof(*c));

    len = cnio__cl_open_payload(0, NULL, 0, obj->path, pl, sizeof(pl));
    ret = !hosts || !c ? -CNIO_ERR_NOMEM : len < 0 ? len : 0;
    if (!ret && !obj->has_key)
        ret = -CNIO_ERR_CONN;
    for (int k = 0; !ret && k < obj->nhosts; k++) {
        if (!obj->hosts[k].asked)
            continue;
        /* (a host a revive waited for in vain is tried once: that wait is paid once) */
        ret = cnio__cl_fresh_conn(obj, k, !obj->hosts[k].revive_said, &hosts[n]);
        c[n] = (struct cnio_call){ .ep = hosts[n].lanes[0], .what = obj->path,
                                   .type = CNIO_WIRE_UNLINK, .offset = obj->stage_id,
                                   .payload = pl, .plen = (uint32_t)len };
        n++;
    }
    if (!ret) {
        cnio__stack_calls(obj->st, c, n);
        for (int j = 0; j < n; j++)   /* NOENT: gone already */
            if (!ret && c[j].status && c[j].status != -CNIO_ERR_NOENT)
                ret = c[j].status;
    }
    if (hosts)
        cnio__cl_disconnect(hosts, n);
    free(hosts);
    free(c);
    return ret;
}

int cnio__obj_staged(const struct cnio_obj *obj)
{
    return obj && obj->staged;
}

int cnio__obj_werr(const struct cnio_obj *obj)
{
    return obj ? obj->werr : 0;
}

/* 1 when every connection of obj to host j is broken (or it has none). */
int cnio__cl_host_lost(const struct cnio_obj *obj, int j)
{
    return !obj->hosts[j].nlanes || cnio__ep_error(cnio__cl_ctl_ep(&obj->hosts[j])) != 0;
}

/*
 * Discards obj's staged instance: ABORT on every host over obj's own connections, or,
 * when one of them broke (before or underway), UNLINK of the instance over new ones.
 * 0 when it is gone from every host.
 */
static int cc_discard(struct cnio_obj *obj)
{
    int ret = 0, broken = 0, silent = 0;

    /* All or nothing: with a host out of reach that may hold a piece of the instance,
     * discarding it on the others would leave a piece that neither resumes nor reads;
     * keep it whole instead (STAT shows it incomplete, `cnio cp --resume` finishes it,
     * UNLINK removes it). A host it was never asked of holds no piece. */
    for (int j = 0; j < obj->nhosts; j++) {
        broken |= obj->hosts[j].asked && cnio__cl_host_lost(obj, j);
        silent |= obj->hosts[j].asked && obj->hosts[j].nlanes &&
                  cnio__ep_error(cnio__cl_ctl_ep(&obj->hosts[j])) == -CNIO_ERR_TIMEOUT;
    }
    /* A host that stopped answering (its connection timed out, not closed) is out of
     * reach: a new connection would wait as long again, to keep the instance whole. */
    if (silent) {
        for (int j = 0; j < obj->nhosts; j++)
            if (cnio__cl_host_lost(obj, j))
                obj->hosts[j].opened = 0;
        return -CNIO_ERR_TIMEOUT;
    }
    if (!broken) {
        ret = cc_each(obj, CNIO_WIRE_ABORT, 0, 0, obj->nhosts);
        for (int j = 0; j < obj->nhosts; j++)
            obj->hosts[j].opened = 0;   /* ABORT released the handles */
    }
    /* A broken connection to a host that still answers is not out of reach: new
     * connections discard the instance everywhere (or, failing one, nowhere). Where
     * ABORT went through already, UNLINK finds nothing (NOENT: gone). */
    if (broken || ret)
        ret = cc_discard_fresh(obj);
    /* A server releases the handles of a connection that goes (a read-only one only
     * once the job's other ranks attached to it have gone too): a host whose
     * connections broke holds none of obj's for this process to close. */
    for (int j = 0; j < obj->nhosts; j++)
        if (cnio__cl_host_lost(obj, j))
            obj->hosts[j].opened = 0;
    return ret;
}

int cnio__obj_abort(struct cnio_obj *obj)
{
    int ret = 0, ret2, discarded = 0;

    if (!obj)
        return -CNIO_ERR_INVAL;
    if (obj->staged && obj->hosts[0].opened) {
        ret = cc_discard(obj);
        discarded = ret == 0;
        obj->discarded = discarded;
    }
    /* never committed from here: after a failed write cnio__obj_close commits nothing
     * and says "not committed" (it said "left marked as an interrupted update", the
     * in-place writer's words, beside the caller's "discarded"); otherwise it must not
     * see the instance as its own */
    if (!obj->werr)
        obj->staged = 0;
    ret2 = cnio__obj_close(obj);
    /* Once the instance is gone everywhere, what becomes of the handles left on live
     * connections (released here, or when the connections close) changes nothing. */
    return discarded ? 0 : ret ? ret : ret2;
}

int cnio__obj_crcx(struct cnio_obj *obj, const uint64_t *off, const uint64_t *len, size_t n,
                   uint32_t *crc, uint64_t *covered)
{
    struct cnio_call *c = calloc(CNIO_MAX(n, 1), sizeof(*c));
    uint8_t (*pl)[8] = calloc(CNIO_MAX(n, 1), 8);
    uint8_t (*rb)[CNIO_WIRE_CRC_SIZE] = calloc(CNIO_MAX(n, 1), CNIO_WIRE_CRC_SIZE);
    int ret = c && pl && rb ? cnio__cl_revive(obj) : -CNIO_ERR_NOMEM;

    if (!ret)
        ret = cnio__cl_ensure(obj, NULL);   /* attached on demand: hosts not met yet */
    for (size_t i = 0; !ret && i < n; i++) {
        struct cnio_piece p;

        if (len[i] == 0 || len[i] > CNIO_WIRE_MAX_PAYLOAD) {
            ret = -CNIO_ERR_INVAL;
            break;
        }
        p = cnio__layout_piece(&obj->layout, off[i], len[i]);
        if (p.len != len[i] || p.column >= (uint32_t)obj->nhosts) {
            ret = -CNIO_ERR_INVAL;
            break;
        }
        cnio__wire_u64_encode(len[i], pl[i], 8);
        c[i] = (struct cnio_call){ .ep = cnio__cl_ctl_ep(&obj->hosts[p.column]),
                                   .what = obj->path, .type = CNIO_WIRE_CRC,
                                   .object = obj->hosts[p.column].handle,
                                   .offset = p.local_off, .payload = pl[i], .plen = 8,
                                   .rbuf = rb[i], .rcap = CNIO_WIRE_CRC_SIZE };
    }
    if (!ret)
        ret = cnio__stack_calls(obj->st, c, (int)n);
    for (size_t i = 0; !ret && i < n; i++) {
        struct cnio_wire_crc cr;

        if (cnio__wire_crc_parse(rb[i], c[i].rlen, &cr) || cr.covered > len[i]) {
            ret = -CNIO_ERR_PROTO;
            break;
        }
        crc[i] = cr.crc;
        covered[i] = cr.covered;
    }
    cnio__cl_release(obj);
    free(c);
    free(pl);
    free(rb);
    return ret;
}

void cnio__obj_set_gone_ok(struct cnio_obj *obj, int on)
{
    if (obj)
        obj->gone_ok = on != 0;
}

/*
 * Column j lives on the URI's host j, so an object of fewer columns than the URI has
 * hosts (striping_factor) is on the first ones only, and what a write of the name
 * through another order of the same hosts left on the others (cnio://B,A/x with one
 * column puts x on B, cnio://A,B/x then on A) was read back through that order, whole
 * and stale, with exit 0. So before its COMMITs (after PREPARE) a writer removes the
 * name from each host past its columns (UNLINK; NOENT when there is nothing), as a
 * tree's batches do (client_batch.c, bt_release). One it cannot reach, or that cannot
 * remove it (a directory of that name), refuses the commit: committed beside it, the
 * old copy would be read back through that order once the host answers (helper-64).
 * The upload is kept, to be resumed. 0, or the first host's error.
 */
static int cc_unlink_past(struct cnio_obj *obj)
{
    uint8_t pl[CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME];
    int from = obj->nhosts, n = obj->nuri - obj->nhosts, len, ret = 0, cret = 0;
    struct cnio__cl_host *hosts = obj->hosts + from;
    struct cnio_ep_auth *auth;
    struct cnio_call *c;
    char hp[CNIO_HOSTPORT_MAX];

    if (n <= 0)
        return 0;
    len = cnio__cl_open_payload(0, NULL, 0, obj->path, pl, sizeof(pl));
    if (len < 0)
        return len;
    auth = calloc((size_t)n, sizeof(*auth));
    c = calloc((size_t)n, sizeof(*c));
    if (!auth || !c) {
        free(auth);
        free(c);
        return -CNIO_ERR_NOMEM;
    }
    for (int j = 0; j < n; j++)
        auth[j] = (struct cnio_ep_auth){ .mode = CNIO_WIRE_AUTH_KEY, .k = obj->key.bytes,
                                         .klen = obj->key.len };
    if (!obj->borrowed)   /* (its hosts, resolved at open, fail without a word) */
        cret = cnio__cl_connect(obj->st, &obj->h, hosts, n, 1, auth, &obj->stats);
    for (int j = 0; j < n; j++)
        if (hosts[j].nlanes && !cnio__ep_error(hosts[j].lanes[0]))
            c[j] = (struct cnio_call){ .ep = hosts[j].lanes[0], .what = obj->path,
                                       .type = CNIO_WIRE_UNLINK, .payload = pl,
                                       .plen = (uint32_t)len };
    cnio__stack_calls(obj->st, c, n);
    for (int j = 0; j < n && !ret; j++) {
        /* not reached: why, as the connect found it (a lane that broke, or the first
         * error of them all, or a connection lost) */
        int lost = !hosts[j].nlanes ? cret : cnio__ep_error(hosts[j].lanes[0]);
        int err = c[j].ep ? (c[j].status == -CNIO_ERR_NOENT ? 0 : c[j].status)
                          : lost ? lost : -CNIO_ERR_CONN;

        if (!err)
            continue;
        cnio__hostport(hp, sizeof(hp), hosts[j].name, hosts[j].port);
        /* said once: a STAT of the name after this (cnio cp's) meets the host down again */
        if (!c[j].ep)
            cnio__cl_connect_said(hosts[j].name, hosts[j].port, err);
        cnio__log_err(err, 0, "%s: not committed: host %s, past its %d column(s), %s%s, and "
                      "a read through a URI that names it first would find what an earlier "
                      "write of the name left there; the upload is kept (%s once that host "
                      "answers, " CNIO_RM_ADVICE ")", obj->path, hp, from,
                      !c[j].ep ? "could not be reached: " : "could not remove the name: ",
                      cnio_strerror(err), cnio__stack_finish_advice(obj->st));
        ret = err;
    }
    if (!obj->borrowed)
        cnio__cl_disconnect(hosts, n);
    free(c);
    free(auth);
    return ret;
}
