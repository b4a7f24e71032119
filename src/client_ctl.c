/*
 * client_ctl.c - control operations without an open object (stat, unlink, list); the
 * export / attach pair that lets other processes join an open object is in
 * client_export.c.
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

/* STAT of name on hosts [from, to) into their info, folding into *live whether a live
 * writer holds an upload of it (cnio__cl_stat_live). With missing, a host that has none
 * of it (NOENT: it lost an upload it had not kept, or a column that column 0's layout
 * has) is not an error: *missing is set, and its info is column 0's with its own
 * column index and nothing stored. */
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
        if (!ret)
            c->hosts[from + i].info = s[i].info;
    }
    cnio__cl_stat_live(s, n, live);
    free(s);
    return ret;
}

static int ctl_stat_once(struct cnio_stack *st, const struct cnio_uri *u,
                         const struct cnio_hints *h, struct cnio_obj_stat *out)
{
    struct cnio_layout l;
    struct cnio_ns c;
    uint32_t live = CNIO_OBJ_LIVE_KNOWN;
    int ret, missing = 0;

    if (!out || !u || !u->path || !u->path[0])
        return -CNIO_ERR_INVAL;
    ret = cnio__ns_begin(&c, st, u, h, 1);
    if (ret)
        return ret;
    ret = ctl_stat_hosts(&c, u->path, 0, 1, &live, NULL);
    if (ret)
        goto end;
    memset(out, 0, sizeof(*out));
    out->mtime_ns = c.hosts[0].info.mtime_ns;
    out->mode = c.hosts[0].info.flags >> CNIO_WIRE_I_MODE_SHIFT;
    if (c.hosts[0].info.flags & CNIO_WIRE_I_DIR) {
        out->is_dir = 1;
        goto end;
    }
    l.unit = c.hosts[0].info.stripe_unit;
    l.count = c.hosts[0].info.stripe_count;
    ret = -CNIO_ERR_LAYOUT;
    if (cnio__layout_check(&l) || l.count > (uint32_t)c.n || c.hosts[0].info.stripe_index) {
        cnio__err("%s: host %s:%u holds column %u of a %llu x %u layout, which %d hosts "
                  "cannot hold as column 0", u->path, c.hosts[0].name, c.hosts[0].port,
                  c.hosts[0].info.stripe_index, (unsigned long long)l.unit, l.count, c.n);
        goto end;
    }
    ret = cnio__cl_connect(st, &c.h, c.hosts + 1, (int)l.count - 1, 1, c.auth + 1, NULL);
    if (!ret)
        ret = ctl_stat_hosts(&c, u->path, 1, (int)l.count, &live, &missing);
    for (uint32_t j = 1; !ret && j < l.count; j++) {
        const struct cnio_wire_info *i = &c.hosts[j].info;

        if (i->stripe_unit != l.unit || i->stripe_count != l.count || i->stripe_index != j) {
            cnio__err("%s: host %s:%u holds column %u of a %llu x %u layout, expected column "
                      "%u of %llu x %u", u->path, c.hosts[j].name, c.hosts[j].port,
                      i->stripe_index, (unsigned long long)i->stripe_unit, i->stripe_count, j,
                      (unsigned long long)l.unit, l.count);
            ret = -CNIO_ERR_LAYOUT;
        }
        out->mtime_ns = CNIO_MAX(out->mtime_ns, i->mtime_ns);
    }
    for (uint32_t j = 0; !ret && j < l.count; j++)
        cnio__cl_state(&out->state, &c.hosts[j].info, c.hosts[0].info.gen);
    if (missing)   /* a column column 0's layout has is missing */
        out->state |= CNIO_OBJ_TORN | CNIO_OBJ_MISSING;
    if (!ret && (out->state & (CNIO_OBJ_STAGED | CNIO_OBJ_TORN | CNIO_OBJ_PENDING)))
        out->state |= live;
    out->layout = l;
    out->size = cnio__cl_size(&l, c.hosts[0].info.size, c.hosts, (int)l.count);
    if (!ret)
        ctl_carrier(&c, out->transport, sizeof(out->transport));
end:
    cnio__ns_end(&c);
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
 * commit that stopped or outlasted the timeout.
 */
int cnio__obj_stat(struct cnio_stack *st, const struct cnio_uri *u, const struct cnio_hints *h,
                   struct cnio_obj_stat *out)
{
    int64_t give_up = cnio__now_ms() + CNIO_MAX(h ? h->timeout_ms : 0, 1);
    long nap_ms = 1;
    int ret;

    while (!(ret = ctl_stat_once(st, u, h, out)) && ctl_stat_settling(out) &&
           cnio__now_ms() < give_up) {
        struct timespec ts = { 0, nap_ms * 1000000L };

        cnio__debug("%s: a commit of it has not reached every host while its writer is "
                    "live: asking again", u->path);
        nanosleep(&ts, NULL);
        nap_ms = CNIO_MIN(nap_ms * 2, 50);
    }
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
    struct cnio_call *calls;
    struct cnio_ns c;
    int len, ret;

    if (remains)
        *remains = 0;
    if (!u || !u->path || !u->path[0])
        return -CNIO_ERR_INVAL;
    len = cnio__cl_open_payload(0, NULL, 0, u->path, pl, sizeof(pl));
    if (len < 0)
        return len;
    ret = cnio__ns_begin(&c, st, u, h, u->nhosts);
    if (ret)
        return ret;
    calls = calloc((size_t)c.n, sizeof(*calls));
    if (!calls) {
        cnio__ns_end(&c);
        return -CNIO_ERR_NOMEM;
    }
    for (int i = 0; i < c.n; i++)
        calls[i] = (struct cnio_call){ .ep = c.hosts[i].lanes[0], .what = u->path,
                                       .type = CNIO_WIRE_UNLINK,
                                       .payload = pl, .plen = (uint32_t)len };
    cnio__stack_calls(st, calls, c.n);
    cnio__cl_name_failures(u->path, "remove", c.hosts, calls, c.n, 2);   /* ISDIR: cnio rm's */
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
    for (int i = 0; i < c.n && !ret; i++)
        if (calls[i].status && calls[i].status != -CNIO_ERR_NOENT)
            ret = calls[i].status;
    if (!ret)
        ret = calls[0].status;
    for (int i = 1; remains && ret == -CNIO_ERR_NOENT && i < c.n; i++)
        *remains |= calls[i].status == 0;
    free(calls);
    cnio__ns_end(&c);
    return ret;
}

/* ---- list ------------------------------------------------------------------------------ */

struct ctl_entry {
    char *name;
    struct cnio_wire_info info;
    int host;                   /* the URI's host it came from */
};

struct ctl_list {
    struct ctl_entry *e;
    size_t n, cap;
};

static int ctl_list_add(struct ctl_list *l, const struct cnio_wire_entry *we, int host)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        struct ctl_entry *e = realloc(l->e, cap * sizeof(*e));

        if (!e)
            return -CNIO_ERR_NOMEM;
        l->e = e;
        l->cap = cap;
    }
    l->e[l->n].name = malloc(we->name_len + 1);
    if (!l->e[l->n].name)
        return -CNIO_ERR_NOMEM;
    memcpy(l->e[l->n].name, we->name, we->name_len);
    l->e[l->n].name[we->name_len] = '\0';
    l->e[l->n].info = we->info;
    l->e[l->n].host = host;
    l->n++;
    return 0;
}

/* Every entry of host's reply of one LIST round, into l. */
static int ctl_list_parse(struct ctl_list *l, const uint8_t *buf, size_t len, int host)
{
    struct cnio_wire_entry we;
    size_t pos = 0;
    int ret;

    while ((ret = cnio__wire_entry_next(buf, len, &pos, &we)) == 1) {
        ret = ctl_list_add(l, &we, host);
        if (ret)
            return ret;
    }
    return ret;
}

/* Entries one LIST may gather, over every host and round: a server that never says the
 * end (a broken or hostile one) does not grow the client without bound. */
#define CTL_LIST_MAX (1u << 20)

/* A LIST reply that cannot be right: said, -CNIO_ERR_PROTO. */
static int ctl_list_bad(const char *name, const struct cnio__cl_host *host, const char *why)
{
    cnio__err("%s: list on host %s:%u: %s", name, host->name, host->port, why);
    return -CNIO_ERR_PROTO;
}

/*
 * The first LIST round found no such directory on some hosts: a directory exists where
 * any host has it (a commit makes an object's parents on the hosts of its columns only:
 * `cnio cp f cnio://h1,h2/d/f?stripe_count=1` makes d on h1), so the hosts without it
 * are left out; only when none has it is it missing. The round's result after that.
 */
static int ctl_list_where_it_is(struct cnio_call *calls, int n)
{
    int asked = 0, absent = 0, ret = 0;

    for (int i = 0; i < n; i++)
        if (calls[i].ep) {
            asked++;
            absent += calls[i].status == -CNIO_ERR_NOENT;
        }
    if (absent == asked)
        return -CNIO_ERR_NOENT;
    for (int i = 0; i < n; i++) {
        if (calls[i].ep && calls[i].status == -CNIO_ERR_NOENT) {
            calls[i].ep = NULL;
            calls[i].status = 0;
        }
        if (calls[i].ep && calls[i].status && !ret)
            ret = calls[i].status;
    }
    return ret;
}

/* LIST on every host, following each host's cursor until it has no more (and until it
 * stops moving: a reply with F_MORE holds entries and a cursor past the one asked for). */
static int ctl_list_collect(struct cnio_ns *c, const char *name, const uint8_t *pl, uint32_t plen,
                            struct ctl_list *l)
{
    struct cnio_call *calls = calloc((size_t)c->n, sizeof(*calls));
    uint8_t *bufs = malloc((size_t)c->n * CNIO_WIRE_MAX_CTRL);
    int ret = calls && bufs ? 0 : -CNIO_ERR_NOMEM;

    for (int i = 0; !ret && i < c->n; i++)
        calls[i] = (struct cnio_call){ .ep = c->hosts[i].lanes[0], .what = name,
                                       .type = CNIO_WIRE_LIST,
                                       .payload = pl, .plen = plen,
                                       .rbuf = bufs + (size_t)i * CNIO_WIRE_MAX_CTRL,
                                       .rcap = CNIO_WIRE_MAX_CTRL };
    for (int round = 0; !ret; round++) {
        int more = 0;

        ret = cnio__stack_calls(c->st, calls, c->n);
        if (round == 0 && ret == -CNIO_ERR_NOENT)
            ret = ctl_list_where_it_is(calls, c->n);
        cnio__cl_name_failures(name, "list", c->hosts, calls, c->n, 1);
        for (int i = 0; i < c->n && !ret; i++) {
            size_t had = l->n;

            if (!calls[i].ep)
                continue;
            ret = ctl_list_parse(l, calls[i].rbuf, calls[i].rlen, i);
            if (!ret && l->n > CTL_LIST_MAX)
                ret = ctl_list_bad(name, &c->hosts[i], "more than 1,048,576 entries");
            if (ret || !(calls[i].rflags & CNIO_WIRE_F_MORE)) {
                calls[i].ep = NULL;
                continue;
            }
            /* more to come: the cursor must move on, past what this reply held */
            if (l->n == had || calls[i].roffset <= calls[i].offset)
                ret = ctl_list_bad(name, &c->hosts[i], "a reply that says more follows "
                                   "neither held an entry nor moved its cursor on");
            calls[i].offset = calls[i].roffset;
            more = 1;
        }
        if (!more)
            break;
    }
    free(calls);
    free(bufs);
    return ret;
}

static int ctl_entry_cmp(const void *a, const void *b)
{
    const struct ctl_entry *x = a, *y = b;
    int r = strcmp(x->name, y->name);

    if (r)
        return r;
    return (x->info.stripe_index > y->info.stripe_index) -
           (x->info.stripe_index < y->info.stripe_index);
}

/* 1 when entry x is of this URI's object: a directory, or column j on the URI's host j.
 * Another (column 0 of a name on host 1) is what a write through another order of the
 * same hosts left there: stat and cp through this URI do not see it either. */
static int ctl_ours(const struct ctl_entry *x)
{
    return (x->info.flags & CNIO_WIRE_I_DIR) || x->info.stripe_index == (uint32_t)x->host;
}

/* Combines the entries of one name e[0..n) (by column) from nhosts hosts into s, those
 * of this URI's object only (ctl_ours). A column that the layout column 0 holds does not
 * have (kept by an earlier version of more columns, or by an upload of more that did not
 * commit) is not part of the object; one that it has and that its host lacks (a host
 * that lost an upload it had not committed yet, after host 0 committed) leaves the object
 * torn, as does a name whose column 0 is not on host 0. */
static void ctl_combine(const struct ctl_entry *e, size_t n, int nhosts, struct cnio_obj_stat *s)
{
    const struct ctl_entry *z = e;   /* the first of this URI's, else e[0] */
    uint32_t seen = 0, prev = 0;
    int mine = 0, dirs = 0, objs = 0, clash;

    for (size_t i = 0; i < n; i++)
        if (e[i].info.flags & CNIO_WIRE_I_DIR)
            dirs++;
        else
            objs++;
    /* An object (of this URI's order or of another) here and a directory of its name
     * on another host (one that holds nothing of it made it, through another order of
     * the hosts, or alone): the object, torn and shadowed, so that it is neither hidden
     * behind the directory nor copied down as one, and rm -r removes both. */
    clash = dirs && objs;
    for (size_t i = 0; i < n && !mine; i++)
        if (ctl_ours(&e[i]) && !(clash && (e[i].info.flags & CNIO_WIRE_I_DIR))) {
            z = &e[i];
            mine = 1;
        }
    for (size_t i = 0; i < n && clash && !mine && (z->info.flags & CNIO_WIRE_I_DIR); i++)
        z = &e[i];   /* another order's object: the first of its columns */
    memset(s, 0, sizeof(*s));
    s->layout.unit = z->info.stripe_unit;
    s->layout.count = z->info.stripe_count;
    s->mode = z->info.flags >> CNIO_WIRE_I_MODE_SHIFT;
    s->size = mine && z->info.stripe_index == 0 ? z->info.size : 0;
    if (!(z->info.flags & CNIO_WIRE_I_DIR)) {
        if (!mine || z->info.stripe_index != 0)
            s->state |= CNIO_OBJ_TORN;   /* column 0 is not on host 0 */
        if (!mine)
            s->state |= CNIO_OBJ_FOREIGN;
    }
    for (size_t i = 0; i < n; i++) {
        const struct cnio_wire_info *info = &e[i].info;

        if (!ctl_ours(&e[i]) || (clash && (info->flags & CNIO_WIRE_I_DIR)))
            continue;
        if (&e[i] != z && z->info.stripe_index == 0 && !(z->info.flags & CNIO_WIRE_I_DIR) &&
            info->stripe_index >= s->layout.count)
            continue;
        cnio__cl_state(&s->state, info, z->info.gen);
        seen += (&e[i] == z || info->stripe_index != prev);
        prev = info->stripe_index;
        s->is_dir |= (info->flags & CNIO_WIRE_I_DIR) != 0;
        s->mtime_ns = &e[i] != z ? CNIO_MAX(s->mtime_ns, info->mtime_ns) : info->mtime_ns;
        if (!cnio__layout_check(&s->layout) && info->stripe_unit == s->layout.unit &&
            info->stripe_count == s->layout.count && info->stripe_index < s->layout.count)
            s->size = CNIO_MAX(s->size, cnio__layout_logical_end(&s->layout, info->stripe_index,
                                                                 info->local_size));
    }
    if (mine && z->info.stripe_index == 0 && seen < CNIO_MIN(s->layout.count, (uint32_t)nhosts))
        s->state |= CNIO_OBJ_TORN | CNIO_OBJ_MISSING;   /* a column column 0's layout has */
    if (clash)
        s->state |= CNIO_OBJ_TORN | CNIO_OBJ_SHADOWED;
    if (!mine)
        s->mtime_ns = z->info.mtime_ns;
    if (s->is_dir) {
        memset(&s->layout, 0, sizeof(s->layout));
        s->size = 0;
        s->state = 0;
    }
}

int cnio__ns_list(struct cnio_ns *ns, const char *path,
                  int (*fn)(const char *name, const struct cnio_obj_stat *s, void *arg),
                  void *arg)
{
    uint8_t pl[CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME];
    struct ctl_list l = { 0 };
    int len, ret;

    if (!ns || !path || !fn)
        return -CNIO_ERR_INVAL;
    for (int j = 0; j < ns->n; j++)
        if (!ns->hosts[j].nlanes || cnio__ep_error(ns->hosts[j].lanes[0]))
            return -CNIO_ERR_CONN;   /* a broken session: the caller opens a new one */
    len = cnio__cl_open_payload(0, NULL, 0, path, pl, sizeof(pl));
    if (len < 0)
        return len;
    ret = ctl_list_collect(ns, path, pl, (uint32_t)len, &l);
    if (!ret && l.n)
        qsort(l.e, l.n, sizeof(*l.e), ctl_entry_cmp);
    for (size_t i = 0; !ret && i < l.n; ) {
        struct cnio_obj_stat s;
        size_t k = i + 1;

        while (k < l.n && strcmp(l.e[k].name, l.e[i].name) == 0)
            k++;
        ctl_combine(&l.e[i], k - i, ns->n, &s);
        ret = fn(l.e[i].name, &s, arg);
        i = k;
    }
    for (size_t i = 0; i < l.n; i++)
        free(l.e[i].name);
    free(l.e);
    return ret;
}

int cnio__obj_list(struct cnio_stack *st, const struct cnio_uri *u, const struct cnio_hints *h,
                   int (*fn)(const char *name, const struct cnio_obj_stat *s, void *arg),
                   void *arg)
{
    struct cnio_ns c;
    int ret;

    if (!u || !u->path || !fn)
        return -CNIO_ERR_INVAL;
    if (strlen(u->path) > CNIO_WIRE_MAX_NAME)
        return -CNIO_ERR_INVAL;
    ret = cnio__ns_begin(&c, st, u, h, u->nhosts);
    if (ret)
        return ret;
    ret = cnio__ns_list(&c, u->path, fn, arg);
    cnio__ns_end(&c);
    return ret;
}
