/*
 * client_names.c - a control session to every host of a URI, for the namespace
 * requests (MKDIR, RMDIR, RENAME, SETATTR) that `cnio mkdir`, `rm -r`, `mv` and the tree
 * copies of `cnio cp -r` send. One connection per host, authenticated once with the
 * key, carries any number of requests; each request goes to every host (to host 0
 * first where host 0 decides: MKDIR, RENAME).
 */
#include "common.h"
#include "client_int.h"
#include "log.h"

#include <stdio.h>
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
                   const struct cnio_hints *h)
{
    int ret;

    memset(ns, 0, sizeof(*ns));
    if (!st || !u || !h || u->nhosts < 1)
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
    ret = cnio__cl_connect(st, &ns->h, ns->hosts, ns->n, 1, ns->auth, NULL);
    /* two of the URI's hosts one server: its second mkdir failed "exists" (made), a
     * listing said each name twice; a stat asked the first host alone */
    if (!ret)
        ret = cnio__cl_hosts_distinct(ns->hosts, ns->n, u->path[0] ? u->path : "/");
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

int cnio__ns_broken(const struct cnio_ns *ns, char *host, size_t cap)
{
    for (int j = 0; ns && j < ns->n; j++) {
        int e = ns->hosts[j].nlanes ? cnio__ep_error(ns->hosts[j].lanes[0]) : -CNIO_ERR_CONN;

        if (e && host && cap)
            cnio__hostport(host, cap, ns->hosts[j].name, ns->hosts[j].port);
        if (e)
            return e;
    }
    return 0;
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
    ret = cnio__ns_begin(ns, st, u, h);
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
 * and an object of one column (a small file of a tree copy) is there alone: a MKDIR
 * that host 0 refuses because an object holds the name would otherwise succeed on the
 * others, and leave the name an object on host 0 and a directory elsewhere (RENAME,
 * which host 0 decides further still, is ns_rename's).
 * An RMDIR is decided by host 0 alone, as an UNLINK is (cnio__obj_unlink): removed iff
 * host 0 removed it, else -CNIO_ERR_NOENT (remains on the others removed all the same),
 * so that of two callers racing to remove one directory exactly one is told it did.
 * status: when not NULL, each host's answer is left in status[i] (what a caller set
 * stays where a host was not asked).
 */
static int ns_all(struct cnio_ns *ns, uint16_t type, uint64_t offset, const uint8_t *pl,
                  int len, int first0, int *status)
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
        if (status)
            status[i] = calls[i].status;
        found |= calls[i].status == 0;
        if (!ret && calls[i].status && calls[i].status != -CNIO_ERR_NOENT)
            ret = calls[i].status;
    }
    if (!ret && type == CNIO_WIRE_RMDIR)
        ret = calls[0].status;
    free(calls);
    return ret ? ret : found ? 0 : -CNIO_ERR_NOENT;
}

/* ns_all of one request of type on path; status: as ns_all's (NULL: not wanted). */
static int ns_one(struct cnio_ns *ns, uint16_t type, uint32_t flags, uint64_t unit,
                  uint64_t offset, const char *path, int *status)
{
    uint8_t pl[CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME];
    struct cnio_wire_open o = { .flags = flags, .stripe_unit = unit, .name = path };
    int len;

    if (!ns || !path || !path[0] || strlen(path) > CNIO_WIRE_MAX_NAME)
        return -CNIO_ERR_INVAL;
    o.name_len = (uint32_t)strlen(path);
    len = cnio__wire_open_encode(&o, pl, sizeof(pl));
    return len < 0 ? len : ns_all(ns, type, offset, pl, len, type == CNIO_WIRE_MKDIR, status);
}

int cnio__ns_kinds_fold(const struct cnio__cl_stat *s, int n, struct cnio_ns_kinds *k)
{
    int ret = 0;

    *k = (struct cnio_ns_kinds){ .obj = -1 };
    for (int i = 0; i < n; i++) {
        if (s[i].status) {
            if (!ret && s[i].status != -CNIO_ERR_NOENT)
                ret = s[i].status;
            continue;
        }
        if (s[i].info.flags & CNIO_WIRE_I_DIR) {
            k->dirs++;
        } else if (k->obj < 0) {
            k->obj = i;
            k->foreign = s[i].info.stripe_index != (uint32_t)i;
        }
    }
    return ret;
}

/* STATs path on every host into s[0..ns->n) and folds the answers into *k: as
 * cnio__ns_kinds, whose STATs these are. */
static int ns_kinds_of(struct cnio_ns *ns, const char *path, struct cnio__cl_stat *s,
                       struct cnio_ns_kinds *k)
{
    for (int i = 0; i < ns->n; i++)
        s[i].ep = cnio__cl_ctl_ep(&ns->hosts[i]);
    cnio__cl_stat_each(ns->st, s, ns->n, path, path, NULL, 0);
    return cnio__ns_kinds_fold(s, ns->n, k);
}

int cnio__ns_kinds(struct cnio_ns *ns, const char *path, struct cnio_ns_kinds *k)
{
    return cnio__ns_other_order(ns, path, k, NULL);
}

int cnio__ns_other_order(struct cnio_ns *ns, const char *path, struct cnio_ns_kinds *k,
                         int *other)
{
    struct cnio__cl_stat *s;
    int ret;

    if (other)
        *other = -CNIO_ERR_NOENT;
    if (!ns || !path || !k)
        return -CNIO_ERR_INVAL;
    s = calloc((size_t)ns->n, sizeof(*s));
    if (!s)
        return -CNIO_ERR_NOMEM;
    ret = ns_kinds_of(ns, path, s, k);
    if (!ret && other && ns->n > 1 && s[0].status == -CNIO_ERR_NOENT)
        *other = cnio__cl_other_order_of(ns->hosts, ns->n, path, s + 1);
    free(s);
    return ret;
}

int cnio__ns_check(struct cnio_ns *ns, const char *path, const char *op, int *is_dir)
{
    struct cnio__cl_stat s = { 0 };
    const struct cnio_wire_info *i = &s.info;
    char hp[CNIO_HOSTPORT_MAX];

    if (is_dir)
        *is_dir = 0;
    if (!ns || !path || !op || ns->n < 1)
        return -CNIO_ERR_INVAL;
    s.ep = cnio__cl_ctl_ep(&ns->hosts[0]);
    cnio__cl_stat_each(ns->st, &s, 1, path, path, NULL, 1);
    if (s.status)
        return s.status;
    if (is_dir)
        *is_dir = (i->flags & CNIO_WIRE_I_DIR) != 0;
    if ((i->flags & CNIO_WIRE_I_DIR) || i->stripe_count <= (uint32_t)ns->n)
        return 0;
    cnio__err("%s: host %s holds column %u of a %llu x %u object of this name, and this URI "
              "names %d host%s: its other columns would be left behind; name all %u of its "
              "hosts, in the order that wrote it, to %s it (nothing done)", path,
              cnio__hostport(hp, sizeof(hp), ns->hosts[0].name, ns->hosts[0].port), i->stripe_index,
              (unsigned long long)i->stripe_unit, i->stripe_count, ns->n, ns->n == 1 ? "" : "s",
              i->stripe_count, op);
    return -CNIO_ERR_LAYOUT;
}

int cnio__ns_fits(struct cnio_ns *ns, const char *path, const char *op)
{
    if (!ns || !path || !op || ns->n < 1)
        return -CNIO_ERR_INVAL;
    /* (a failed STAT is not said: the request after says it) */
    return cnio__ns_check(ns, path, op, NULL) == -CNIO_ERR_LAYOUT ? -CNIO_ERR_LAYOUT : 0;
}

int cnio__ns_object_on_way(struct cnio_ns *ns, const char *path, int self, char *dir,
                           size_t cap, int *foreign)
{
    size_t n = strlen(path);

    for (size_t k = 1; k <= n; k++) {   /* each directory of path, shallowest first */
        struct cnio_ns_kinds t;

        if (k < n ? path[k] != '/' : !self)
            continue;
        snprintf(dir, cap, "%.*s", (int)k, path);
        if (cnio__ns_kinds(ns, dir, &t) == 0 && t.obj >= 0) {
            *foreign = t.foreign;
            return 1;
        }
    }
    return 0;
}

/*
 * After a MKDIR that a host refused because an object has the name or one on its way
 * (written through another order of these hosts, that object may not be on host 0,
 * which made the directories first): the directories that the hosts whose MKDIR
 * answered 0 (status[i]; NULL: every host, cnio__ns_unshadow) hold from path up to that
 * object's name (into obj, cap bytes; *foreign as cnio__ns_object_on_way's) are removed
 * again, deepest first, each only while empty. A directory of an object's name on
 * another host is never wanted: it hid the object from listings. Best effort: the MKDIR
 * has failed anyway. 1 when that object was found, else 0.
 */
static int ns_mkdir_undo(struct cnio_ns *ns, const char *path, const int *status, char *obj,
                         size_t cap, int *foreign)
{
    uint8_t pl[CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME];
    char dir[CNIO_WIRE_MAX_NAME + 1], *end;
    struct cnio_call *c;
    int found = cnio__ns_object_on_way(ns, path, 1, obj, cap, foreign);

    c = found ? calloc((size_t)ns->n, sizeof(*c)) : NULL;
    snprintf(dir, sizeof(dir), "%s", path);
    while (c && strlen(dir) >= strlen(obj)) {   /* path, then up to the object's name */
        int len = cnio__cl_open_payload(0, NULL, 0, dir, pl, sizeof(pl)), bad = len < 0;

        for (int i = 0; !bad && i < ns->n; i++)   /* ep NULL: skipped */
            c[i] = (struct cnio_call){ .ep = status && status[i] ? NULL
                                                               : cnio__cl_ctl_ep(&ns->hosts[i]),
                                       .what = dir, .type = CNIO_WIRE_RMDIR, .payload = pl,
                                       .plen = (uint32_t)len };
        if (!bad)
            cnio__stack_calls(ns->st, c, ns->n);
        /* (every host asked: the object's answers as a non-directory, those with none
         * that it is not there; only one that holds something beneath stops the undo) */
        for (int i = 0; !bad && i < ns->n; i++)
            bad = c[i].ep && c[i].status && c[i].status != -CNIO_ERR_NOENT &&
                  (status || c[i].status == -CNIO_ERR_EXIST);
        if (bad || !(end = strrchr(dir, '/')))
            break;
        *end = '\0';
    }
    free(c);
    return found;
}

int cnio__ns_unshadow(struct cnio_ns *ns, const char *path, char *obj, size_t cap,
                      int *foreign)
{
    if (!ns || !path || !path[0] || strlen(path) > CNIO_WIRE_MAX_NAME || !obj || !foreign)
        return -CNIO_ERR_INVAL;
    return ns->n > 1 ? ns_mkdir_undo(ns, path, NULL, obj, cap, foreign) : 0;
}

int cnio__ns_mkdir(struct cnio_ns *ns, const char *path, int parents)
{
    int status[CNIO_MAX_HOSTS], ret, made = 0, foreign;
    char obj[CNIO_WIRE_MAX_NAME + 1];

    if (!ns || ns->n > CNIO_MAX_HOSTS)   /* (a URI names at most CNIO_MAX_HOSTS) */
        return -CNIO_ERR_INVAL;
    for (int i = 0; i < ns->n; i++)
        status[i] = 1;   /* not asked */
    ret = ns_one(ns, CNIO_WIRE_MKDIR, parents ? CNIO_WIRE_O_CREATE : 0, 0, 0, path, status);
    for (int i = 0; i < ns->n; i++)
        made |= status[i] == 0;
    if (ret == -CNIO_ERR_EXIST && ns->n > 1 && made)
        ns_mkdir_undo(ns, path, status, obj, sizeof(obj), &foreign);
    return ret;
}

int cnio__ns_rmdir(struct cnio_ns *ns, const char *path)
{
    return ns_one(ns, CNIO_WIRE_RMDIR, 0, 0, 0, path, NULL);
}

int cnio__ns_unlink_many(struct cnio_ns *ns, const char *const *paths, int n, int *status)
{
    enum { PL = CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME };
    struct cnio_call *c;
    uint8_t(*pl)[PL];
    int h;

    if (!ns || n < 0 || (n && (!paths || !status)))
        return -CNIO_ERR_INVAL;
    h = ns->n;
    c = calloc((size_t)CNIO_MAX(n, 1) * (size_t)h, sizeof(*c));
    pl = calloc((size_t)CNIO_MAX(n, 1), PL);
    if (!c || !pl) {
        free(c);
        free(pl);
        return -CNIO_ERR_NOMEM;
    }
    for (int k = 0; k < n; k++) {
        int len = paths[k] && paths[k][0] ? cnio__cl_open_payload(0, NULL, 0, paths[k], pl[k], PL)
                                          : -CNIO_ERR_INVAL;

        status[k] = len < 0 ? len : 0;
        for (int i = 0; len >= 0 && i < h; i++)   /* ep NULL (len < 0): skipped */
            c[k * h + i] = (struct cnio_call){ .ep = cnio__cl_ctl_ep(&ns->hosts[i]),
                                               .what = paths[k],
                                               .type = CNIO_WIRE_UNLINK, .payload = pl[k],
                                               .plen = (uint32_t)len };
    }
    cnio__stack_calls(ns->st, c, n * h);
    for (int k = 0; k < n; k++) {   /* host 0 decides, as in cnio__obj_unlink_remains */
        const struct cnio_call *ck = &c[k * h];

        if (status[k])
            continue;
        /* (quiet 2: an ISDIR is the caller's to deal with; client.h) */
        cnio__cl_name_failures(paths[k], "remove", ns->hosts, ck, h, 2);
        for (int i = 0; i < h && !status[k]; i++)
            if (ck[i].status && ck[i].status != -CNIO_ERR_NOENT)
                status[k] = ck[i].status;
        if (!status[k])
            status[k] = ck[0].status;
    }
    free(c);
    free(pl);
    return 0;
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
    return ns_one(ns, CNIO_WIRE_SETATTR, 0, mode, (uint64_t)mtime_ns, path, NULL);
}

/* Whether host i's STAT of a rename's source (si) and host 0's of its destination (s0)
 * describe the same object or directory: both directories, or column i and column 0 of
 * one layout and one committed generation (0, an object never staged, is no identity). */
static int ns_same(const struct cnio_wire_info *s0, const struct cnio_wire_info *si, int i)
{
    if ((s0->flags | si->flags) & CNIO_WIRE_I_DIR)
        return (s0->flags & si->flags & CNIO_WIRE_I_DIR) != 0;
    return s0->gen && si->gen == s0->gen && s0->stripe_index == 0 &&
           si->stripe_index == (uint32_t)i && si->stripe_count == s0->stripe_count &&
           si->stripe_unit == s0->stripe_unit &&
           !((s0->flags | si->flags) & CNIO_WIRE_I_STAGED);
}

/*
 * A RENAME of from to to whose host 0 had no from: a retry of a rename that renamed
 * host 0's part and stopped (a crash, a lost host), or the loser of a race. It is a
 * retry when host 0 holds to as the object (or directory) that the other hosts still
 * hold as from (ns_same): sets go[i] for each such host i, and returns 0.
 * -CNIO_ERR_NOENT when host 0 has no to (the loser of a race: nothing is moved), or the
 * failure of a host's STAT other than -CNIO_ERR_NOENT.
 */
static int ns_rename_retry(struct cnio_ns *ns, const char *from, const char *to, int *go)
{
    struct cnio__cl_stat *s = calloc((size_t)ns->n, sizeof(*s));
    int ret = s ? 0 : -CNIO_ERR_NOMEM;

    for (int i = 0; !ret && i < ns->n; i++)
        s[i].ep = cnio__cl_ctl_ep(&ns->hosts[i]);
    if (!ret)   /* a failure to send is in every status: host 0's is the answer */
        cnio__cl_stat_each(ns->st, s, ns->n, to, from, NULL, 0);
    for (int i = 0; !ret && i < ns->n; i++) {
        if (s[i].status && (i == 0 || s[i].status != -CNIO_ERR_NOENT))
            ret = s[i].status;
        else if (i)
            go[i] = !s[i].status && ns_same(&s[0].info, &s[i].info, i);
    }
    free(s);
    return ret;
}

/* Whether host i's STAT of a name (si) may describe a column of the object that host 0's
 * (s0) describes: one committed generation, whatever order of the hosts wrote it; for an
 * object never staged (generation 0: no identity), column i of this URI's order. */
static int ns_may_be_of(const struct cnio_wire_info *s0, const struct cnio_wire_info *si, int i)
{
    if (s0->gen)
        return si->gen == s0->gen;
    return (uint32_t)i < s0->stripe_count || ns_same(s0, si, i);
}

/*
 * After host 0 renamed from to to, on the hosts where from had no column (their RENAME
 * answered NOENT): what to names there, unless it is a column of the object now named to
 * (ns_may_be_of), is a column of the object the rename replaced, which its other columns
 * left behind (a one-column object moved over a two-column one kept the second on host
 * 1, taking space until removed). The hosts are not counted in this URI's order: an
 * object written through another order of them has its columns elsewhere (a
 * two-column one written through C,A,B and moved through A,B,C over one of three
 * columns left that one's column 1 on B). Removed, unless it looks like the new
 * object's own or like an upload under way (I_STAGED, I_PENDING). Best effort: the
 * rename is done whatever happens here.
 */
static void ns_rename_sweep(struct cnio_ns *ns, const char *to, const struct cnio_call *calls)
{
    struct cnio__cl_stat *s = calloc((size_t)ns->n, sizeof(*s));
    struct cnio_call *u = calloc((size_t)ns->n, sizeof(*u));
    uint8_t pl[CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME];
    int len = cnio__cl_open_payload(0, NULL, 0, to, pl, sizeof(pl)), any = 0;

    for (int i = 1; i < ns->n; i++)
        any |= calls[i].ep && calls[i].status == -CNIO_ERR_NOENT;
    if (!any || !s || !u || len < 0)
        goto out;
    for (int i = 0; i < ns->n; i++)
        s[i].ep = cnio__cl_ctl_ep(&ns->hosts[i]);
    cnio__cl_stat_each(ns->st, s, ns->n, to, to, NULL, 0);
    if (s[0].status || (s[0].info.flags & CNIO_WIRE_I_DIR))
        goto out;
    for (int i = 1; i < ns->n; i++) {
        const struct cnio_wire_info *si = &s[i].info;

        if (calls[i].ep && calls[i].status == -CNIO_ERR_NOENT && !s[i].status &&
            !ns_may_be_of(&s[0].info, si, i) &&
            !(si->flags & (CNIO_WIRE_I_DIR | CNIO_WIRE_I_STAGED | CNIO_WIRE_I_PENDING)))
            u[i] = (struct cnio_call){ .ep = s[i].ep, .what = to, .type = CNIO_WIRE_UNLINK,
                                       .payload = pl, .plen = (uint32_t)len };
    }
    cnio__stack_calls(ns->st, u, ns->n);   /* ep NULL: skipped */
out:
    free(s);
    free(u);
}

/* cnio__ns_list's callback that counts the entries of a directory, stopping at one. */
static int ns_count_entry(const char *name, const struct cnio_obj_stat *s, void *arg)
{
    (void)name;
    (void)s;
    ++*(int *)arg;
    return 1;   /* one is enough */
}

/*
 * What cnio__ns_rename refuses before any host renames (with more than one host): a
 * name beneath one that a host holds as an object, a directory onto a name a host holds
 * as an object, or onto a directory that is not empty on a host that holds both
 * (-CNIO_ERR_EXIST);
 * an object onto one a host holds as a directory (-CNIO_ERR_ISDIR). Each host refuses
 * these for what it holds itself; an object written through another order of the hosts
 * may be on a host that is asked after host 0 has renamed (one host moved a directory,
 * the other refused: the directory split between two names; beneath an object of one
 * column, the other host moved it there and made a directory of the object's name). A
 * STAT that fails leaves the RENAME to say so.
 */
static int ns_rename_check(struct cnio_ns *ns, const char *from, const char *to)
{
    char dir[CNIO_WIRE_MAX_NAME + 1];
    struct cnio__cl_stat *a, *b;
    struct cnio_ns_kinds f, t;
    int foreign, entries = 0, both = 0, ret = 0;

    if (ns->n == 1)
        return 0;
    a = calloc((size_t)ns->n, sizeof(*a));
    b = calloc((size_t)ns->n, sizeof(*b));
    if (!a || !b || ns_kinds_of(ns, from, a, &f) || ns_kinds_of(ns, to, b, &t))
        goto out;
    /* a host holding both as directories: its RENAME would move from onto to, which it
     * refuses when to is not empty (one holding only to holds the part of a rename that
     * stopped halfway, which its retry finishes) */
    for (int i = 0; i < ns->n; i++)
        both |= !a[i].status && !b[i].status && (a[i].info.flags & CNIO_WIRE_I_DIR) &&
                (b[i].info.flags & CNIO_WIRE_I_DIR);
    if (f.dirs && f.obj < 0 && t.obj >= 0)
        ret = -CNIO_ERR_EXIST;
    /* a directory onto one that is not empty there (the remnant of a mv a crash cut
     * short, or one made through a URI of fewer hosts): each host refuses that for
     * itself, but those asked before the one that held it had moved theirs, and the tree
     * read as incomplete under both names */
    else if (both && cnio__ns_list(ns, to, ns_count_entry, &entries) >= 0 && entries)
        ret = -CNIO_ERR_EXIST;
    else if (!f.dirs && f.obj >= 0 && t.dirs)
        ret = -CNIO_ERR_ISDIR;
    else if (cnio__ns_object_on_way(ns, to, 0, dir, sizeof(dir), &foreign))
        ret = -CNIO_ERR_EXIST;
out:
    free(a);
    free(b);
    return ret;
}

/*
 * RENAME: host 0, which holds every object's column 0 and metadata, decides. Its answer
 * comes first; an error there other than -CNIO_ERR_NOENT is the answer, the other hosts
 * untouched. When host 0 renamed it, the other hosts rename it too. When host 0 had no
 * from, the rename goes on to the other hosts only where it is the retry of one that
 * renamed host 0's part and stopped (ns_rename_retry): otherwise two renames of one
 * object racing to two names (`cnio mv a b` and `cnio mv a c`) could each win on one
 * host, and both succeed with the object split between the names. So the loser of such
 * a race gets -CNIO_ERR_NOENT and moves nothing; the retry (or a racer renaming to the
 * same name) finishes the rename and succeeds. The answer is as ns_all's: 0 when a host
 * renamed it and none failed otherwise.
 */
static int ns_rename(struct cnio_ns *ns, const char *from, const char *to, const uint8_t *pl,
                     int len)
{
    struct cnio_call *calls = calloc((size_t)ns->n, sizeof(*calls));
    int *go = calloc((size_t)ns->n, sizeof(*go));
    int ret = !calls || !go ? -CNIO_ERR_NOMEM : 0, found;

    for (int i = 0; !ret && i < ns->n; i++) {
        calls[i] = (struct cnio_call){ .ep = cnio__cl_ctl_ep(&ns->hosts[i]), .what = from,
                                       .type = CNIO_WIRE_RENAME, .payload = pl,
                                       .plen = (uint32_t)len };
        go[i] = 1;
    }
    if (!ret)
        ret = cnio__ns_fits(ns, from, "move");
    if (!ret)
        ret = cnio__ns_fits(ns, to, "replace");
    if (!ret)
        ret = ns_rename_check(ns, from, to);
    if (!ret) {
        cnio__stack_calls(ns->st, calls, 1);
        ret = calls[0].status;
    }
    if (ret == -CNIO_ERR_NOENT && ns->n > 1)
        ret = ns_rename_retry(ns, from, to, go);
    if (ret || ns->n == 1)
        goto out;
    for (int i = 1; i < ns->n; i++)
        if (!go[i])
            calls[i].ep = NULL;
    cnio__stack_calls(ns->st, calls + 1, ns->n - 1);
    found = calls[0].status == 0;
    for (int i = 1; i < ns->n; i++) {
        found |= go[i] && calls[i].status == 0;
        if (!ret && calls[i].status && calls[i].status != -CNIO_ERR_NOENT)
            ret = calls[i].status;
    }
    ret = ret ? ret : found ? 0 : -CNIO_ERR_NOENT;
    if (ret == 0 && calls[0].status == 0)
        ns_rename_sweep(ns, to, calls);
out:
    free(calls);
    free(go);
    return ret;
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
    return len < 0 ? len : ns_rename(ns, from, to, pl, len);
}
