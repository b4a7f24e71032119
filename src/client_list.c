/*
 * client_list.c - LIST of a directory over every host of a URI (cnio ls, the walk of
 * cnio cp -r): each host's replies gathered, following its cursor, and the entries of
 * one name from several hosts merged into one (a directory, or this URI's object and
 * its state). Moved out of client_ctl.c; the merge (cnio__cl_list_take,
 * cnio__cl_list_each) takes the replies' bytes alone, so that it is fuzzed without a
 * server (tests/fuzz/fuzz_list.c).
 */
#include "common.h"
#include "client_int.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

static int list_add(struct cnio__cl_list *l, const struct cnio_wire_entry *we, int host)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        struct cnio__cl_lent *e = realloc(l->e, cap * sizeof(*e));

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

/*
 * 1 for an entry's name that no cnio-server lists: more than one component (a '/'), one
 * the store never holds (a leading '.': ".", "..", its own ".cnio"), or longer than a
 * component may be. Handed on, such a name leaves the directory listed: cnio cp -r
 * joins it to its destination's path ("../x", "a/../../x"), and only the kernel's
 * RESOLVE_BENEATH stood between a hostile server and files outside the tree.
 */
static int list_name_bad(const char *name, size_t len)
{
    return len > CNIO_NAME_COMPONENT_MAX || name[0] == '.' || memchr(name, '/', len) != NULL;
}

int cnio__cl_list_take(struct cnio__cl_list *l, const uint8_t *buf, size_t len, int host)
{
    struct cnio_wire_entry we;
    size_t pos = 0;
    int ret;

    while ((ret = cnio__wire_entry_next(buf, len, &pos, &we)) == 1) {
        if (list_name_bad(we.name, we.name_len))
            return -CNIO_ERR_PROTO;
        ret = list_add(l, &we, host);
        if (ret)
            return ret;
    }
    return ret;
}

/* Entries one LIST may gather, over every host and round: a server that never says the
 * end (a broken or hostile one) does not grow the client without bound. */
#define LIST_MAX (1u << 20)

/* A LIST reply that cannot be right: said, -CNIO_ERR_PROTO. */
static int list_bad(const char *name, const struct cnio__cl_host *host, const char *why)
{
    char hp[CNIO_HOSTPORT_MAX];

    cnio__err("%s: list on host %s: %s", name,
              cnio__hostport(hp, sizeof(hp), host->name, host->port), why);
    return -CNIO_ERR_PROTO;
}

/*
 * The first LIST round found no such directory on some hosts: a directory exists where
 * any host has it (a commit makes an object's parents on the hosts of its columns only:
 * `cnio cp f cnio://h1,h2/d/f?stripe_count=1` makes d on h1), so the hosts without it
 * are left out; only when none has it is it missing. The round's result after that.
 */
static int list_where_it_is(struct cnio_call *calls, int n)
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
static int list_collect(struct cnio_ns *c, const char *name, const uint8_t *pl, uint32_t plen,
                        struct cnio__cl_list *l)
{
    struct cnio_call *calls = calloc((size_t)c->n, sizeof(*calls));
    uint8_t *bufs = malloc((size_t)c->n * CNIO_WIRE_MAX_CTRL);
    int ret = calls && bufs ? 0 : -CNIO_ERR_NOMEM;

    for (int i = 0; !ret && i < c->n; i++)
        calls[i] = (struct cnio_call){ .ep = c->hosts[i].lanes[0], .what = name,
                                       .type = CNIO_WIRE_LIST,
                                       .flags = cnio__ep_caps(c->hosts[i].lanes[0]) &
                                                CNIO_WIRE_CAP_INPLACE ? CNIO_WIRE_F_INPLACE : 0,
                                       .payload = pl, .plen = plen,
                                       .rbuf = bufs + (size_t)i * CNIO_WIRE_MAX_CTRL,
                                       .rcap = CNIO_WIRE_MAX_CTRL };
    for (int round = 0; !ret; round++) {
        int more = 0;

        ret = cnio__stack_calls(c->st, calls, c->n);
        if (round == 0 && ret == -CNIO_ERR_NOENT)
            ret = list_where_it_is(calls, c->n);
        cnio__cl_name_failures(name, "list", c->hosts, calls, c->n, 1);
        for (int i = 0; i < c->n && !ret; i++) {
            size_t had = l->n;

            if (!calls[i].ep)
                continue;
            ret = cnio__cl_list_take(l, calls[i].rbuf, calls[i].rlen, i);
            if (ret == -CNIO_ERR_PROTO)
                ret = list_bad(name, &c->hosts[i], "an entry that is malformed, or whose "
                               "name is not one component (a '/' in it, or a leading '.')");
            if (!ret && l->n > LIST_MAX)
                ret = list_bad(name, &c->hosts[i], "more than 1,048,576 entries");
            if (ret || !(calls[i].rflags & CNIO_WIRE_F_MORE)) {
                calls[i].ep = NULL;
                continue;
            }
            /* more to come: the cursor must move on, past what this reply held */
            if (l->n == had || calls[i].roffset <= calls[i].offset)
                ret = list_bad(name, &c->hosts[i], "a reply that says more follows "
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

static int list_cmp(const void *a, const void *b)
{
    const struct cnio__cl_lent *x = a, *y = b;
    int r = strcmp(x->name, y->name);

    if (r)
        return r;
    return (x->info.stripe_index > y->info.stripe_index) -
           (x->info.stripe_index < y->info.stripe_index);
}

/* 1 when entry x is of this URI's object: a directory, or column j on the URI's host j.
 * Another (column 0 of a name on host 1) is what a write through another order of the
 * same hosts left there: stat and cp through this URI do not see it either. */
static int list_ours(const struct cnio__cl_lent *x)
{
    return (x->info.flags & CNIO_WIRE_I_DIR) || x->info.stripe_index == (uint32_t)x->host;
}

/* The size of another order's object, of which z (not a directory) is the first column
 * among the entries e[0..n) of its name: column 0's recorded size, and each of its
 * columns' (same layout and generation) logical end, as this URI's own object is sized;
 * unknown (CNIO_OBJ_NOSIZE) when no host here holds its column 0, or two hold one. */
static void list_foreign_size(const struct cnio__cl_lent *e, size_t n,
                              const struct cnio__cl_lent *z, struct cnio_obj_stat *s)
{
    const struct cnio_wire_info *c0 = &z->info;
    int zeros = 0;

    for (size_t i = 0; i < n; i++)
        zeros += !(e[i].info.flags & CNIO_WIRE_I_DIR) && e[i].info.stripe_index == 0;
    if (c0->stripe_index != 0 || zeros != 1 || cnio__layout_check(&s->layout)) {
        s->size = 0;
        s->state |= CNIO_OBJ_NOSIZE;
        return;
    }
    s->size = c0->size;
    for (size_t i = 0; i < n; i++) {
        const struct cnio_wire_info *info = &e[i].info;

        if (!(info->flags & CNIO_WIRE_I_DIR) && info->stripe_unit == c0->stripe_unit &&
            info->stripe_count == c0->stripe_count && info->gen == c0->gen &&
            info->stripe_index < c0->stripe_count)
            s->size = CNIO_MAX(s->size, cnio__layout_logical_end(&s->layout, info->stripe_index,
                                                                 info->local_size));
    }
}

/* Combines the entries of one name e[0..n) (by column) from nhosts hosts into s, those
 * of this URI's object only (list_ours). A column that the layout column 0 holds does not
 * have (kept by an earlier version of more columns, or by an upload of more that did not
 * commit) is not part of the object; one that it has and that its host lacks (a host
 * that lost an upload it had not committed yet, after host 0 committed) leaves the object
 * torn, as does a name whose column 0 is not on host 0. */
static void list_combine(const struct cnio__cl_lent *e, size_t n, int nhosts,
                         struct cnio_obj_stat *s)
{
    const struct cnio__cl_lent *z = e;   /* the first of this URI's, else e[0] */
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
        if (list_ours(&e[i]) && !(clash && (e[i].info.flags & CNIO_WIRE_I_DIR))) {
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

        if (!list_ours(&e[i]) || (clash && (info->flags & CNIO_WIRE_I_DIR)))
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
    if (mine && z->info.stripe_index == 0 && s->layout.count > (uint32_t)nhosts)
        s->state |= CNIO_OBJ_TORN | CNIO_OBJ_MISSING | CNIO_OBJ_WIDE;   /* on hosts not named */
    if (clash)
        s->state |= CNIO_OBJ_TORN | CNIO_OBJ_SHADOWED;
    if (!mine)
        s->mtime_ns = z->info.mtime_ns;
    if (!mine && !(z->info.flags & CNIO_WIRE_I_DIR))
        list_foreign_size(e, n, z, s);
    if (s->is_dir) {
        memset(&s->layout, 0, sizeof(s->layout));
        s->size = 0;
        s->state = 0;
    }
}

int cnio__cl_list_each(struct cnio__cl_list *l, int nhosts,
                       int (*fn)(const char *name, const struct cnio_obj_stat *s, void *arg),
                       void *arg)
{
    int ret = 0;

    if (l->n)
        qsort(l->e, l->n, sizeof(*l->e), list_cmp);
    for (size_t i = 0; !ret && i < l->n; ) {
        struct cnio_obj_stat s;
        size_t k = i + 1;

        while (k < l->n && strcmp(l->e[k].name, l->e[i].name) == 0)
            k++;
        list_combine(&l->e[i], k - i, nhosts, &s);
        ret = fn(l->e[i].name, &s, arg);
        i = k;
    }
    return ret;
}

void cnio__cl_list_free(struct cnio__cl_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->e[i].name);
    free(l->e);
    memset(l, 0, sizeof(*l));
}

int cnio__ns_list(struct cnio_ns *ns, const char *path,
                  int (*fn)(const char *name, const struct cnio_obj_stat *s, void *arg),
                  void *arg)
{
    uint8_t pl[CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME];
    struct cnio__cl_list l = { 0 };
    int len, ret;

    if (!ns || !path || !fn)
        return -CNIO_ERR_INVAL;
    for (int j = 0; j < ns->n; j++)
        if (!ns->hosts[j].nlanes || cnio__ep_error(ns->hosts[j].lanes[0]))
            return -CNIO_ERR_CONN;   /* a broken session: the caller opens a new one */
    len = cnio__cl_open_payload(0, NULL, 0, path, pl, sizeof(pl));
    if (len < 0)
        return len;
    ret = list_collect(ns, path, pl, (uint32_t)len, &l);
    if (!ret)
        ret = cnio__cl_list_each(&l, ns->n, fn, arg);
    cnio__cl_list_free(&l);
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
    ret = cnio__ns_begin(&c, st, u, h);
    if (ret)
        return ret;
    ret = cnio__ns_list(&c, u->path, fn, arg);
    cnio__ns_end(&c);
    return ret;
}
