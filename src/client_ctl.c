/*
 * client_ctl.c - control operations without an open object (stat, unlink); LIST is in
 * client_list.c, and the export / attach pair that lets other processes join an open
 * object in client_export.c.
 */
#include "common.h"
#include "client_int.h"
#include "fabric.h"
#include "log.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* What would carry the data under c's hints, into out (cap bytes): the transport, and
 * for a fabric one the provider host 0's endpoint has (a FABRIC request). */
static void ctl_carrier(struct cnio_ns *c, char *out, size_t cap)
{
    const char *want = cnio__fab_provider(c->h.transport, c->h.ofi_provider);
    uint8_t rb[4 + CNIO_WIRE_MAX_PROV + CNIO_WIRE_MAX_FABADDR];
    struct cnio_call call = { .ep = c->hosts[0].lanes[0], .type = CNIO_WIRE_FABRIC,
                              .payload = want, .plen = (uint32_t)strlen(want), .rbuf = rb,
                              .rcap = sizeof(rb) };
    struct cnio_wire_fabric f;

    if (!cnio__cl_fabric(&c->h)) {
        snprintf(out, cap, "%s", c->h.transport);
        return;
    }
    if (cnio__stack_calls(c->st, &call, 1) || cnio__wire_fabric_parse(rb, call.rlen, &f))
        snprintf(out, cap, "%.15s (not offered by %.64s)", c->h.transport, c->hosts[0].name);
    else
        snprintf(out, cap, "%.15s (%.*s)", c->h.transport, (int)f.prov_len, f.prov);
}

/* What STATs s[0..n) of name on hosts [from, from + n) of c, made already (ret:
 * cnio__cl_stat_each's answer), say: their info into the hosts', folding into *live
 * whether a live writer holds an upload of it (cnio__cl_stat_live). With missing, a host
 * that has none of it (NOENT: it lost an upload it had not kept, or a column that column
 * 0's layout has) is not an error: *missing is set, and its info is column 0's with its
 * own column index and nothing stored. */
static int ctl_stat_fold(struct cnio_ns *c, struct cnio__cl_stat *s, int from, int n, int ret,
                         uint32_t *live, int *missing)
{
    for (int i = 0; i < n; i++)   /* each call's own status, where it has one */
        if (s[i].status)
            ret = 0;
    for (int i = 0; !ret && i < n; i++) {
        if (missing && s[i].status == -CNIO_ERR_NOENT) {
            *missing = 1;
            s[i].status = 0;
            s[i].info = c->hosts[0].info;
            s[i].info.stripe_index = (uint32_t)(from + i);
            s[i].info.local_size = 0;
        }
        ret = s[i].status;
        if (!ret) {
            c->hosts[from + i].info = s[i].info;
            c->hosts[from + i].gen = s[i].gen;
            c->hosts[from + i].order = s[i].order;
        }
    }
    cnio__cl_stat_live(s, n, live);
    return ret;
}

/* STAT of name on hosts [from, to) into their info: ctl_stat_fold of them. */
static int ctl_stat_hosts(struct cnio_ns *c, const char *name, int from, int to,
                          uint32_t *live, int *missing)
{
    int n = to - from, ret;
    struct cnio__cl_stat *s = calloc((size_t)CNIO_MAX(n, 1), sizeof(*s));

    if (!s)
        return -CNIO_ERR_NOMEM;
    for (int i = 0; i < n; i++)
        s[i].ep = c->hosts[from + i].lanes[0];
    ret = cnio__cl_stat_each(c->st, s, n, name, name, c->hosts + from, from == 0 || missing);
    ret = ctl_stat_fold(c, s, from, n, ret, live, missing);
    free(s);
    return ret;
}

/* Every host of name's n columns asked again, after their STATs said the hosts hold
 * different generations with no live writer's upload: 1 when any host's generation
 * changed since its first answer, or a live writer's upload of it is there now. The
 * object is then moving: the hosts answered at different moments, on either side of a
 * writer's commit, and their answers tell nothing of a commit that stopped. Column 0's
 * host alone was asked again, and a host that had answered before a commit whose
 * column 0 was done made a moving object look torn. (cnio__cl_commit_under_way asks the
 * same of an open.) */
static int ctl_moved(struct cnio_ns *c, const char *name, int n)
{
    struct cnio__cl_stat *s = calloc((size_t)n, sizeof(*s));
    uint32_t state = 0, live = CNIO_OBJ_LIVE_KNOWN;
    int moved = 0;

    for (int j = 0; s && j < n; j++)
        s[j].ep = c->hosts[j].lanes[0];
    if (!s || cnio__cl_stat_each(c->st, s, n, name, name, NULL, 1)) {
        free(s);
        return 0;
    }
    cnio__cl_stat_live(s, n, &live);
    for (int j = 0; j < n; j++) {
        if (s[j].status)
            continue;
        cnio__cl_state(&state, &s[j].info, s[j].info.gen);
        moved |= s[j].info.gen != c->hosts[j].info.gen;
    }
    free(s);
    return moved || cnio__cl_settling(state | live);
}

/* A commit of name that reached column 0's host and stopped before hosts 1..n of c:
 * finished where it can be (cnio__cl_finish). How many hosts finished it. */
static int ctl_finish(struct cnio_ns *c, const char *name, int n)
{
    struct cnio__cl_stat *s = calloc((size_t)n, sizeof(*s));
    int done = 0;

    for (int j = 0; s && j < n; j++)
        s[j] = (struct cnio__cl_stat){
            .ep = c->hosts[j].lanes[0], .info = c->hosts[j].info, .gen = c->hosts[j].gen,
            .order = c->hosts[j].order,
            .flags = cnio__ep_caps(c->hosts[j].lanes[0]) & CNIO_WIRE_CAP_LIVE
                         ? CNIO_WIRE_F_LIVE : 0 };
    if (s)
        done = cnio__cl_finish(c->st, name, s, n);
    free(s);
    return done;
}

int cnio__cl_striped_elsewhere(struct cnio_stack *st, const struct cnio_hints *h,
                               struct cnio__cl_host *hosts, int n,
                               const struct cnio_ep_auth *auth, const char *path)
{
    const struct cnio_wire_info *i0 = &hosts[0].info;
    struct cnio__cl_stat *s;
    int ret = 0;
    char hp[CNIO_HOSTPORT_MAX], hp2[CNIO_HOSTPORT_MAX];

    if (n < 2 || i0->gen || i0->stripe_count != 1 ||
        (i0->flags & (CNIO_WIRE_I_DIR | CNIO_WIRE_I_STAGED)))
        return 0;
    s = calloc((size_t)n - 1, sizeof(*s));
    if (!s)
        return -CNIO_ERR_NOMEM;
    for (int j = 1; j < n; j++) {
        /* a host that cannot be asked is passed over: the check is for one lost .cnio */
        if (!hosts[j].ctl && !hosts[j].nlanes)
            cnio__cl_connect(st, h, &hosts[j], 1, 1, &auth[j], NULL);
        s[j - 1].ep = hosts[j].ctl || hosts[j].nlanes ? cnio__cl_ctl_ep(&hosts[j]) : NULL;
    }
    for (int j = 1; j < n; j++)
        if (!s[j - 1].ep)
            s[j - 1].status = -CNIO_ERR_CONN;
    cnio__cl_stat_each(st, s, n - 1, path, path, NULL, 1);
    for (int j = 1; j < n && !ret; j++) {
        const struct cnio_wire_info *i = &s[j - 1].info;

        if (s[j - 1].status || (i->flags & (CNIO_WIRE_I_DIR | CNIO_WIRE_I_STAGED)) ||
            i->stripe_count < 2)
            continue;
        cnio__err("%s: host %s holds column %u of a %llu x %u object of this name, of which "
                  "host %s, first in the URI, holds a file without metadata: alone it would "
                  "read as that object's first column laid end to end. Its ROOT/.cnio was "
                  "lost (a root copied without its dot-entries?) or the file was put there "
                  "by hand: restore .cnio there, or remove the object's parts", path,
                  cnio__hostport(hp, sizeof(hp), hosts[j].name, hosts[j].port), i->stripe_index,
                  (unsigned long long)i->stripe_unit, i->stripe_count,
                  cnio__hostport(hp2, sizeof(hp2), hosts[0].name, hosts[0].port));
        ret = -CNIO_ERR_LAYOUT;
    }
    free(s);
    return ret;
}

int cnio__cl_other_order_of(const struct cnio__cl_host *hosts, int n, const char *path,
                            const struct cnio__cl_stat *s)
{
    int at = -1;
    char hp[CNIO_HOSTPORT_MAX], hp0[CNIO_HOSTPORT_MAX];

    for (int j = 1; j < n; j++) {
        const struct cnio_wire_info *i = &s[j - 1].info;

        if (s[j - 1].status)
            continue;
        if (i->flags & CNIO_WIRE_I_DIR)   /* shadowed: what stat and rm -r say */
            return -CNIO_ERR_NOENT;
        if (at < 0 && !(i->flags & CNIO_WIRE_I_STAGED))
            at = j;
    }
    if (at < 0)
        return -CNIO_ERR_NOENT;
    cnio__err("%s: host %s holds column %u of a %llu x %u object of this name, of which "
              "host %s, first in the URI, holds nothing: written through another order "
              "of these hosts, or through other hosts" CNIO_ORDER_HINT, path,
              cnio__hostport(hp, sizeof(hp), hosts[at].name, hosts[at].port),
              s[at - 1].info.stripe_index, (unsigned long long)s[at - 1].info.stripe_unit,
              s[at - 1].info.stripe_count,
              cnio__hostport(hp0, sizeof(hp0), hosts[0].name, hosts[0].port));
    return -CNIO_ERR_LAYOUT;
}

int cnio__cl_other_order(struct cnio_stack *st, const struct cnio__cl_host *hosts, int n,
                         const char *path)
{
    struct cnio__cl_stat *s;
    int ret;

    if (n < 2)
        return -CNIO_ERR_NOENT;
    s = calloc((size_t)n - 1, sizeof(*s));
    if (!s)
        return -CNIO_ERR_NOMEM;
    for (int j = 1; j < n; j++)
        s[j - 1].ep = hosts[j].ctl || hosts[j].nlanes ? cnio__cl_ctl_ep(&hosts[j]) : NULL;
    for (int j = 1; j < n; j++)
        if (!s[j - 1].ep)
            s[j - 1].status = -CNIO_ERR_CONN;
    cnio__cl_stat_each(st, s, n - 1, path, path, NULL, 1);
    ret = cnio__cl_other_order_of(hosts, n, path, s);
    free(s);
    return ret;
}

/* The n hosts of c hold one generation (their STAT replies' headers), apart only by the
 * update counts of a live update in place (state: TORN, and I_INPLACE, with nothing
 * staged, marked, pending or committing): that update, closed on some hosts and not yet
 * on the others, which a reader opening it reads (cnio__cl_commit_under_way). */
static int ctl_live_update(const struct cnio_ns *c, int n, uint32_t state)
{
    if ((state & (CNIO_OBJ_INCOMPLETE | CNIO_OBJ_PENDING)) != CNIO_OBJ_TORN ||
        !(state & CNIO_OBJ_INPLACE) || !c->hosts[0].gen)
        return 0;
    for (int j = 0; j < n; j++)
        if (c->hosts[j].gen != c->hosts[0].gen ||
            (c->hosts[j].info.flags & CNIO_WIRE_I_COMMITTING))
            return 0;
    return 1;
}

/* One STAT of path over c's connections into *out: 1 to ask again (a commit moving, or
 * one it finished), else as cnio__obj_stat returns. all (NULL: none): STATs of path on
 * every host of c made already, which stand for this call's own of host 0 and of the
 * object's other columns (their info may be rewritten). */
static int ctl_stat_once(struct cnio_ns *c, const char *path, struct cnio__cl_stat *all,
                         struct cnio_obj_stat *out)
{
    struct cnio_layout l;
    uint32_t live = CNIO_OBJ_LIVE_KNOWN;
    int ret, missing = 0;
    char hp[CNIO_HOSTPORT_MAX];

    ret = all ? ctl_stat_fold(c, all, 0, 1, 0, &live, NULL)
              : ctl_stat_hosts(c, path, 0, 1, &live, NULL);
    if (ret)
        return ret;
    memset(out, 0, sizeof(*out));
    out->mtime_ns = c->hosts[0].info.mtime_ns;
    out->mode = c->hosts[0].info.flags >> CNIO_WIRE_I_MODE_SHIFT;
    if (c->hosts[0].info.flags & CNIO_WIRE_I_DIR) {
        out->is_dir = 1;
        return 0;
    }
    l.unit = c->hosts[0].info.stripe_unit;
    l.count = c->hosts[0].info.stripe_count;
    ret = -CNIO_ERR_LAYOUT;
    if (cnio__layout_check(&l) || l.count > (uint32_t)c->n || c->hosts[0].info.stripe_index) {
        cnio__err("%s: host %s holds column %u of a %llu x %u layout, which %d hosts "
                  "cannot hold as column 0" CNIO_ORDER_HINT, path,
                  cnio__hostport(hp, sizeof(hp), c->hosts[0].name, c->hosts[0].port),
                  c->hosts[0].info.stripe_index, (unsigned long long)l.unit, l.count, c->n);
        return ret;
    }
    ret = cnio__cl_striped_elsewhere(c->st, &c->h, c->hosts, c->n, c->auth, path);
    if (!ret)
        ret = all ? ctl_stat_fold(c, all + 1, 1, (int)l.count - 1, 0, &live, &missing)
              : ctl_stat_hosts(c, path, 1, (int)l.count, &live, &missing);
    for (uint32_t j = 1; !ret && j < l.count; j++) {
        const struct cnio_wire_info *i = &c->hosts[j].info;

        if (i->stripe_unit != l.unit || i->stripe_count != l.count || i->stripe_index != j) {
            cnio__err("%s: host %s holds column %u of a %llu x %u layout, expected column "
                      "%u of %llu x %u" CNIO_ORDER_HINT, path,
                      cnio__hostport(hp, sizeof(hp), c->hosts[j].name, c->hosts[j].port),
                      i->stripe_index, (unsigned long long)i->stripe_unit, i->stripe_count, j,
                      (unsigned long long)l.unit, l.count);
            ret = -CNIO_ERR_LAYOUT;
        }
        out->mtime_ns = CNIO_MAX(out->mtime_ns, i->mtime_ns);
    }
    for (uint32_t j = 0; !ret && j < l.count; j++)
        cnio__cl_state(&out->state, &c->hosts[j].info, c->hosts[0].info.gen);
    /* not torn, but updated in place now (helper-114's F2: stat and ls -l said
     * "incomplete" of a healthy object beside its writers) */
    if (!ret && !missing && ctl_live_update(c, (int)l.count, out->state))
        out->state &= ~CNIO_OBJ_TORN;
    if (!ret && (out->state & CNIO_OBJ_INCOMPLETE) == CNIO_OBJ_TORN &&
        !cnio__cl_settling(out->state | live) && ctl_moved(c, path, (int)l.count)) {
        return 1;   /* stat it again */
    }
    if (!ret && !missing && (out->state & CNIO_OBJ_INCOMPLETE) &&
        !(live & CNIO_OBJ_LIVE) && ctl_finish(c, path, (int)l.count) > 0) {
        return 1;   /* stat it again */
    }
    if (missing)   /* a column column 0's layout has is missing */
        out->state |= CNIO_OBJ_TORN | CNIO_OBJ_MISSING;
    /* hosts of one generation, apart by updates in place: which one, and why */
    if (!ret && !missing && (out->state & CNIO_OBJ_TORN))
        out->apart = cnio__cl_apart_gens(c->hosts, (int)l.count, out->apart_why,
                                         sizeof(out->apart_why));
    if (!ret && (out->state & (CNIO_OBJ_STAGED | CNIO_OBJ_TORN | CNIO_OBJ_PENDING)))
        out->state |= live;
    out->layout = l;
    out->size = cnio__cl_size(&l, c->hosts[0].info.size, c->hosts, (int)l.count);
    if (!ret)
        ctl_carrier(c, out->transport, sizeof(out->transport));
    return ret;
}

/* A commit reached some hosts and not yet the others, and may be under way
 * (cnio__cl_settling, as a read-only open decides). */
static int ctl_stat_settling(const struct cnio_obj_stat *s)
{
    return (s->state & CNIO_OBJ_INCOMPLETE) == CNIO_OBJ_TORN && cnio__cl_settling(s->state);
}

/*
 * A STAT that finds a commit under way (ctl_stat_settling) asks again, after 1 ms
 * doubling to 50 ms, until cnio_timeout_ms has passed, as cl_open_settled opens again:
 * it reports the object before the commit or after it, and "incomplete" only for a
 * commit that stopped or outlasted the timeout. Over c's connections, all as
 * ctl_stat_once takes it (its first try's).
 */
static int ctl_stat_ns(struct cnio_ns *c, const char *path, struct cnio__cl_stat *all,
                       struct cnio_obj_stat *out)
{
    int64_t give_up = cnio__now_ms() + CNIO_MAX(c->h.timeout_ms, 1);
    long nap_ms = 1;
    int ret;

    while (((ret = ctl_stat_once(c, path, all, out)) == 1 ||
            (!ret && ctl_stat_settling(out))) && cnio__now_ms() < give_up) {
        struct timespec ts = { 0, nap_ms * 1000000L };

        all = NULL;   /* (asked again: their answers are past) */
        cnio__debug("%s: a commit of it has not reached every host while its writer is "
                    "live: asking again", path);
        nanosleep(&ts, NULL);
        nap_ms = CNIO_MIN(nap_ms * 2, 50);
    }
    if (ret == 1)   /* finished a commit at the timeout: as it is now */
        ret = ctl_stat_once(c, path, NULL, out);
    return ret == 1 ? -CNIO_ERR_INCOMPLETE : ret;
}

int cnio__obj_stat(struct cnio_stack *st, const struct cnio_uri *u, const struct cnio_hints *h,
                   struct cnio_obj_stat *out)
{
    struct cnio_ns c;
    int ret;

    if (!out || !u || !u->path || !u->path[0])
        return -CNIO_ERR_INVAL;
    ret = cnio__ns_begin(&c, st, u, h);
    if (ret)
        return ret;
    ret = ctl_stat_ns(&c, u->path, NULL, out);
    cnio__ns_end(&c);
    return ret;
}

int cnio__ns_stat(struct cnio_ns *ns, const char *path, struct cnio_obj_stat *out,
                  struct cnio_ns_kinds *k, int *other)
{
    struct cnio__cl_stat *s;
    int ret;

    if (other)
        *other = -CNIO_ERR_NOENT;
    if (!ns || !path || !path[0] || !out || !k)
        return -CNIO_ERR_INVAL;
    s = calloc((size_t)ns->n, sizeof(*s));
    if (!s)
        return -CNIO_ERR_NOMEM;
    for (int i = 0; i < ns->n; i++)
        s[i].ep = cnio__cl_ctl_ep(&ns->hosts[i]);
    /* (quiet 1: no such name is the caller's to say, as cnio__obj_stat's STATs leave it) */
    cnio__cl_stat_each(ns->st, s, ns->n, path, path, ns->hosts, 1);
    if (cnio__ns_kinds_fold(s, ns->n, k))
        *k = (struct cnio_ns_kinds){ .obj = -1 };
    else if (other && ns->n > 1 && s[0].status == -CNIO_ERR_NOENT)
        *other = cnio__cl_other_order_of(ns->hosts, ns->n, path, s + 1);
    ret = ctl_stat_ns(ns, path, s, out);
    free(s);
    return ret;
}

int cnio__obj_unlink(struct cnio_stack *st, const struct cnio_uri *u, const struct cnio_hints *h)
{
    return cnio__obj_unlink_remains(st, u, h, NULL);
}

int cnio__obj_unlink_remains(struct cnio_stack *st, const struct cnio_uri *u,
                             const struct cnio_hints *h, int *remains)
{
    uint8_t pl[CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME];
    struct cnio_ns c;
    int ret;

    if (remains)
        *remains = 0;
    if (!u || !u->path || !u->path[0])
        return -CNIO_ERR_INVAL;
    ret = cnio__cl_open_payload(0, NULL, 0, u->path, pl, sizeof(pl));   /* (before connecting) */
    if (ret < 0)
        return ret;
    ret = cnio__ns_begin(&c, st, u, h);
    if (ret)
        return ret;
    ret = cnio__ns_fits(&c, u->path, "remove");
    if (!ret)
        ret = cnio__ns_unlink_remains(&c, u->path, remains);
    cnio__ns_end(&c);
    return ret;
}

int cnio__ns_unlink_remains(struct cnio_ns *ns, const char *path, int *remains)
{
    uint8_t pl[CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME];
    struct cnio_call *calls;
    int len, ret;

    if (remains)
        *remains = 0;
    if (!ns || !path || !path[0])
        return -CNIO_ERR_INVAL;
    len = cnio__cl_open_payload(0, NULL, 0, path, pl, sizeof(pl));
    if (len < 0)
        return len;
    calls = calloc((size_t)ns->n, sizeof(*calls));
    if (!calls)
        return -CNIO_ERR_NOMEM;
    for (int i = 0; i < ns->n; i++)
        calls[i] = (struct cnio_call){ .ep = cnio__cl_ctl_ep(&ns->hosts[i]), .what = path,
                                       .type = CNIO_WIRE_UNLINK,
                                       .payload = pl, .plen = (uint32_t)len };
    cnio__stack_calls(ns->st, calls, ns->n);
    cnio__cl_name_failures(path, "remove", ns->hosts, calls, ns->n, 2);   /* ISDIR: cnio rm's */
    /* Host 0 holds column 0, the object's commit point, and decides: the object was
     * removed by this call iff host 0's UNLINK removed something. Two callers racing to
     * remove one object can each remove the part on a different host, but only one of
     * them removes column 0, so only one is told it succeeded; the other gets NOENT, as
     * from unlink(2). NOENT from the other hosts is no error (that part was gone already,
     * or the object has fewer columns than the URI has hosts). An object whose column 0
     * is gone but whose other columns remain (its remover crashed halfway) is already
     * gone to stat and open, which look at column 0: its remains are removed all the
     * same, and the call returns -CNIO_ERR_NOENT, because a caller racing a remover that
     * is halfway through sees the very same thing and must not be told it removed it.
     * Any other failure on any host (a directory there: ISDIR; a host that did not
     * answer) is returned, the first one first. */
    ret = 0;
    for (int i = 0; i < ns->n && !ret; i++)
        if (calls[i].status && calls[i].status != -CNIO_ERR_NOENT)
            ret = calls[i].status;
    if (!ret)
        ret = calls[0].status;
    for (int i = 1; remains && ret == -CNIO_ERR_NOENT && i < ns->n; i++)
        *remains |= calls[i].status == 0;
    for (int i = 0; remains && ret == -CNIO_ERR_ISDIR && i < ns->n; i++)
        *remains |= calls[i].status == 0;   /* a part of an object beside the directory */
    free(calls);
    return ret;
}
