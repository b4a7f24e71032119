/*
 * rm.c - `cnio rm`: each object from all its hosts, with what a removal that stopped
 * halfway left of one (cnio__ns_unlink_remains); with -r a tree, objects first, then
 * directories deepest first, then its top.
 */
#include "cli.h"
#include "client.h"
#include "stack.h"
#include "tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cnio__ns_unlink_remains of u over ns (NULL: a session of its own), after the STAT of
 * its first host that cnio__ns_fits makes, unless seen says rm_check made it already:
 * with remains removed counted as success and said (an object whose first host no longer
 * had it is gone to stat and open: this is what a removal that stopped halfway leaves,
 * and rm finishing it did remove something). *only_dir (may be NULL): 1 with
 * -CNIO_ERR_ISDIR when no host held an object of the name, only directories. */
static int cmd_unlink(struct cnio_stack *st, struct cnio_ns *ns, const char *uri,
                      const struct cnio_uri *u, const struct cnio_hints *h,
                      const struct cli_rm_seen *seen, int *only_dir)
{
    struct cnio_ns *own = NULL;
    int remains = 0, rc = ns ? 0 : cnio__ns_open(st, u, h, &own);

    if (!ns)
        ns = own;
    /* (host 0 holds it and it fits, or holds none of it: what cnio__ns_fits would find) */
    if (rc == 0 && !(seen && (seen->rc == 0 || seen->rc == -CNIO_ERR_NOENT)))
        rc = cnio__ns_fits(ns, u->path, "remove");
    if (rc == 0)
        rc = cnio__ns_unlink_remains(ns, u->path, &remains);
    cnio__ns_close(own);
    if (only_dir)
        *only_dir = rc == -CNIO_ERR_ISDIR && !remains;
    if (rc != -CNIO_ERR_NOENT || !remains)
        return rc;
    cli_err("cnio rm: %s: removed what the other servers held of it (its first server had "
            "none: the remains of a partly deleted object, or an object written through "
            "another order of these hosts)\n", uri);
    return 0;
}

/* What rm without -r says of a uri that names a directory by its trailing '/', or of
 * one that is a directory (and no object) on its hosts. */
static void rm_say_slash(const char *uri)
{
    cli_err("cnio rm: %s: a name ending in '/' names a directory: nothing removed (cnio "
            "rm -r removes a directory and what it holds)\n", uri);
}

static void rm_say_dir(const char *uri)
{
    cli_err("cnio rm: %s: is a directory (cnio rm -r removes it with what it holds)\n", uri);
}

int cli_rm_object(struct cnio_stack *st, const char *uri, const struct cnio_uri *u,
                  const struct cnio_hints *h, const struct cli_rm_seen *seen)
{
    int rc, only_dir;

    if (u->dir_slash) {   /* ("obj/" removed obj: rm(1) of "file/" removes nothing) */
        rm_say_slash(uri);
        return -CNIO_ERR_ISDIR;
    }
    rc = cmd_unlink(st, NULL, uri, u, h, seen, &only_dir);
    if (rc == -CNIO_ERR_ISDIR && only_dir)   /* (it said "the object is removed" of none) */
        rm_say_dir(uri);
    else if (rc == -CNIO_ERR_ISDIR)
        cli_err("cnio rm: %s: a host holds a directory of this name as well: the object is "
                "removed, the directory is not (cnio rm -r removes it)\n", uri);
    else if (rc)
        cli_fail("rm", uri, rc);
    return rc;
}

/* Objects cli_rm_tree removes at a time (cnio__ns_unlink_many): many UNLINKs in flight on
 * each connection. */
#define CMD_RM_BATCH 256

/* What rm -r says of entry rel of uri removed with r (NOENT: gone already, no error);
 * *bad set when it says something. One failure does not stop the others. */
static void cmd_rm_said(const char *uri, const char *rel, int r, int *bad)
{
    if (r && r != -CNIO_ERR_NOENT) {
        cli_err("cnio rm: %s/%s: %s\n", uri, rel, cnio_strerror(r));
        *bad = 1;
    }
}

/* What RMDIR of directory rel of uri ("" for uri itself) returned, r, after rm -r
 * removed what its listing held: a directory that still holds something (the server's
 * EXIST: ENOTEMPTY on its host) is said as such, not as "object exists". */
static void cmd_rmdir_said(const char *uri, const char *rel, int r, int *bad)
{
    if (r == -CNIO_ERR_EXIST) {
        cli_err("cnio rm: %s%s%s: directory not empty: it holds what rm -r did not list (made "
                "there meanwhile, or a file on the server that is no object)\n", uri,
                rel[0] ? "/" : "", rel);
        *bad = 1;
    } else {
        cmd_rm_said(uri, rel, r, bad);
    }
}

static int cmd_rm_walk(struct cnio_stack *st, struct cnio_ns *ns, const struct tree_end *e,
                       const char *uri, int *bad);

/* What rm -r does of entry rel of e, an object in its listing, whose removal a host
 * refused with -CNIO_ERR_ISDIR, after the others removed their columns: that host holds
 * a directory of the name, which shadowed the object (made through another order of the
 * hosts, or through that host alone); it is removed as a tree. 0, or what went wrong. */
static int cmd_rm_shadow(struct cnio_stack *st, struct cnio_ns *ns, const struct tree_end *e,
                         const char *rel, char *path)
{
    struct tree_end c = *e;
    char *curi = tree_uri_string(e, rel);
    int rc, bad = 0;

    if (!curi)
        return -CNIO_ERR_NOMEM;
    c.name = curi;
    c.u.path = path;
    c.top_is_dir = 1;
    rc = cmd_rm_walk(st, ns, &c, curi, &bad);
    free(curi);
    if (rc == -CNIO_ERR_NOENT)   /* (its RMDIR: host 0 had none, as is usual here) */
        rc = 0;
    return rc ? rc : bad ? -CNIO_ERR_EXIST : 0;
}

/* Removes the n objects at ent (of tree e) together: 0, or -CNIO_ERR_NOMEM. */
static int cmd_rm_objects(struct cnio_stack *st, struct cnio_ns *ns, const struct tree_end *e,
                          const char *uri, const struct tree_ent *ent, size_t n, int *bad)
{
    char *paths[CMD_RM_BATCH];
    int status[CMD_RM_BATCH], rc = 0;
    size_t k;

    for (k = 0; k < n && rc == 0; k++)
        rc = (paths[k] = tree_obj_name(e, ent[k].rel)) ? 0 : -CNIO_ERR_NOMEM;
    if (rc == 0)
        rc = cnio__ns_unlink_many(ns, (const char *const *)paths, (int)n, status);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int r = status[i];

        if (r == -CNIO_ERR_ISDIR)
            r = cmd_rm_shadow(st, ns, e, ent[i].rel, paths[i]);
        if (r != -CNIO_ERR_EXIST)   /* (a directory not empty: said already) */
            cmd_rm_said(uri, ent[i].rel, r, bad);
        else
            *bad = 1;
    }
    while (k-- > 0)
        free(paths[k]);
    return rc;
}

/* Removes what e's listing holds, objects first, then directories deepest first, then
 * e's top unless it is the root (uri: e's, for messages). 0, or an error not yet said
 * (*bad set when one was said). */
static int cmd_rm_walk(struct cnio_stack *st, struct cnio_ns *ns, const struct tree_end *e,
                       const char *uri, int *bad)
{
    struct tree_list l = { 0 };
    int rc = tree_walk_remote(st, e, 0, &l);

    if (rc == 0)
        tree_list_sort(&l);
    /* (rm of one object refuses the same: cnio__ns_fits) */
    if (rc == 0 && (rc = cli_tree_wide(&l, "rm", uri, "remove it; nothing removed")) != 0)
        *bad = 1;
    for (size_t k = l.n; rc == 0 && k > 0;) {   /* reverse order: a/b/c before a/b */
        size_t from = k;

        while (from > 0 && l.e[from - 1].type != TREE_DIR && k - from < CMD_RM_BATCH)
            from--;
        if (from == k) {   /* a directory: after everything beneath it */
            char *path = tree_obj_name(e, l.e[--k].rel);

            if (path)
                cmd_rmdir_said(uri, l.e[k].rel, cnio__ns_rmdir(ns, path), bad);
            else
                rc = -CNIO_ERR_NOMEM;
            free(path);
        } else {
            rc = cmd_rm_objects(st, ns, e, uri, l.e + from, k - from, bad);
            k = from;
        }
    }
    if (rc == 0 && !*bad && e->u.path[0]) {
        rc = cnio__ns_rmdir(ns, e->u.path);
        if (rc == -CNIO_ERR_INVAL) {   /* a host holds an object of the name: it goes too */
            const char *p = e->u.path;
            int r;

            rc = cnio__ns_unlink_many(ns, &p, 1, &r);
            rc = rc ? rc : r == -CNIO_ERR_NOENT ? 0 : r;
        }
        if (rc == -CNIO_ERR_EXIST) {
            cmd_rmdir_said(uri, "", rc, bad);
            rc = 0;
        }
    }
    tree_list_free(&l);
    return rc;
}

/* Removes the tree beneath u: objects first, then directories deepest first, then u.
 * What u is, rm_check asked already (seen): the removal does not ask again. */
int cli_rm_tree(const struct cli_opts *o, const char *uri, const struct cli_rm_seen *seen)
{
    struct tree_end e = { .name = uri, .remote = 1, .dirfd = -1 };
    struct cnio_stack *st;
    struct cnio_ns *ns;
    int rc = cli_session("rm", o, uri, &e.u, &e.h, &st, &ns), bad = 0, shadow = 0;

    if (rc) {   /* (said) */
        cli_session_end(&e.u, st, ns);
        return cli_status(rc);
    }
    if (e.u.path[0]) {
        rc = seen->rc;
        e.top_is_dir = rc == 0 && seen->is_dir;   /* the walk need not ask again */
        if (rc == 0 && !seen->is_dir && e.u.dir_slash) {   /* (rm -r of "file/": nothing) */
            cli_session_end(&e.u, st, ns);
            return cli_not_dir("rm", uri);
        }
        if (rc == 0 && !seen->is_dir) {
            rc = cmd_unlink(st, ns, uri, &e.u, &e.h, seen, NULL);
            if (rc == -CNIO_ERR_ISDIR)   /* and a host's directory of its name */
                rc = cmd_rm_shadow(st, ns, &e, "", e.u.path);
            if (rc && rc != -CNIO_ERR_EXIST)   /* (not empty: said) */
                cli_fail("rm", uri, rc);
            cli_session_end(&e.u, st, ns);
            return rc ? CLI_EXIT_FAIL : CLI_EXIT_OK;
        }
        if (rc == -CNIO_ERR_NOENT) {
            int r = cmd_unlink(st, ns, uri, &e.u, &e.h, seen, NULL);

            if (r == 0) {
                cli_session_end(&e.u, st, ns);   /* no column 0, but the remains of a removal */
                return CLI_EXIT_OK;
            }
            if (r == -CNIO_ERR_ISDIR)   /* and a directory of the name on a host */
                rc = 0, e.top_is_dir = shadow = 1;
        }
        if (rc)
            cli_fail("rm", uri, rc);
        bad = rc != 0;
    }
    if (rc == 0)
        rc = cmd_rm_walk(st, ns, &e, uri, &bad);
    if (rc == -CNIO_ERR_NOENT && shadow)   /* (its RMDIR: host 0 had none) */
        rc = 0;
    if (rc && !bad)
        cli_fail("rm", uri, rc);
    cli_session_end(&e.u, st, ns);
    return rc || bad ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

/* 1 when uri (parsed already) names the store's root: cnio://h, cnio://h/, cnio://h//. */
static int cli_names_root(const char *uri)
{
    struct cnio_uri u;
    int root = 0;

    if (cnio__uri_parse(uri, &u) == 0) {
        root = !u.path[0];
        cnio__uri_free(&u);
    }
    return root;
}

/* 1 when no host of u holds an object of its name, only directories (one STAT a host,
 * over ns; 0 when they cannot all be asked: the removal then says what is wrong). */
static int rm_only_dir(struct cnio_ns *ns, const struct cnio_uri *u)
{
    struct cnio_ns_kinds k = { 0 };

    if (u->nhosts < 2)   /* (one host holds a directory or an object of a name, not both) */
        return 1;
    return cnio__ns_kinds(ns, u->path, &k) == 0 && k.dirs > 0 && k.obj < 0;
}

/* 1 when rc, what rm_check met of an argument, stops its removal (cli_rm says it): a
 * session that could not be opened (a server out of reach, two addresses of one server,
 * a key refused), or a STAT whose server did not answer. */
static int rm_check_stops(int rc)
{
    return cnio__err_conn(rc) || rc == -CNIO_ERR_TIMEOUT || rc == -CNIO_ERR_URI ||
           rc == -CNIO_ERR_AUTH;
}

/*
 * Before anything is removed: whether rm (-r or not, o) refuses uri for what it names:
 * without -r, a name ending in '/' or a directory (with no object of its name on any
 * host); with -r, an object named with a '/'; either way, an object of more columns
 * than the URI names hosts (cnio__ns_check: it was refused only by its removal, after
 * the arguments before it were gone). Said, and *refused set. One STAT of its first
 * host (cnio__ns_check), whose answer (*seen) the removal uses rather than asking
 * again; 0 or the session's error, which stops that argument's removal (*stop set):
 * its library's lines said it, once, and cli_rm names the argument. The STAT's other
 * answers (no such name, the remains of a removal) are left to the removal.
 */
static int rm_check(struct cnio_stack *st, const struct cli_opts *o, const char *uri,
                    struct cli_rm_seen *seen, int *stop, int *refused)
{
    struct cnio_uri u = { 0 };
    struct cnio_hints h;
    struct cnio_ns *ns = NULL;
    int rc = cnio__uri_parse(uri, &u);

    *seen = (struct cli_rm_seen){ 0 };
    *refused = *stop = 0;
    if (rc == 0)
        rc = cli_hints(o, &u, &h);
    if (rc == 0 && !o->recursive && u.dir_slash) {
        rm_say_slash(uri);
        *refused = 1;
    } else if (rc == 0 && u.path[0]) {
        rc = cnio__ns_open(st, &u, &h, &ns);
        *stop = rc != 0;
        seen->rc = rc ? rc : cnio__ns_check(ns, u.path, "remove", &seen->is_dir);
        *stop |= rm_check_stops(seen->rc);
        if (seen->rc == -CNIO_ERR_LAYOUT) {   /* (said, "nothing done") */
            *refused = 1;
        } else if (seen->rc == 0 && !o->recursive && seen->is_dir && rm_only_dir(ns, &u)) {
            rm_say_dir(uri);
            *refused = 1;
        } else if (seen->rc == 0 && o->recursive && !seen->is_dir && u.dir_slash) {
            *refused = cli_not_dir("rm", uri) != CLI_EXIT_OK;
        }
        cnio__ns_close(ns);
    }
    cnio__uri_free(&u);
    return rc;
}

/* rm_check of each of pos[0..n) into seen[] and stop[] (its session's error, or 0 to
 * go on): CLI_EXIT_OK, or the exit status when one is refused (said, with "nothing
 * removed": before, the arguments ahead of it went). */
static int rm_check_all(struct cnio_stack *st, const struct cli_opts *o, char **pos, int n,
                        struct cli_rm_seen *seen, int *stop)
{
    int ret = CLI_EXIT_OK;

    for (int i = 0; i < n; i++) {
        int refused, stops;
        int rc = rm_check(st, o, pos[i], &seen[i], &stops, &refused);

        stop[i] = stops ? (rc ? rc : seen[i].rc) : 0;
        if (refused || stop[i] == -CNIO_ERR_URI)
            ret = cli_worse(ret, refused ? CLI_EXIT_FAIL : CLI_EXIT_USAGE);
    }
    if (ret == CLI_EXIT_OK)
        return ret;
    for (int i = 0; i < n; i++)
        if (stop[i] == -CNIO_ERR_URI)
            cli_fail("rm", pos[i], stop[i]);
    cli_err("cnio rm: nothing removed\n");
    return ret;
}

int cli_rm(int argc, char **argv)
{
    static const char help[] =
        "usage: cnio rm [-r] [--no-preserve-root] [--key FILE] [-o NAME=VALUE] URI...\n\n"
        "Removes each object from all its hosts.\n"
        "-r: a directory too, with every object and directory beneath it.\n"
        "The root of the store (cnio://hosts/) is refused unless -r --no-preserve-root.\n";
    struct cli_opts o = { 0 };
    struct cnio_stack *st = NULL;
    char *pos[256];
    struct cli_rm_seen seen[256];
    int n = cli_parse(help, argc, argv, &o, pos, 256), rc, ret = CLI_EXIT_OK, stop[256];

    if (n == -2)
        return CLI_EXIT_OK;
    if (n < 1) {
        cli_usage(help);
        return CLI_EXIT_USAGE;
    }
    for (int i = 0; i < n; i++)   /* nothing is removed when one argument is malformed */
        if (cli_check_uri("rm", pos[i])) {
            ret = CLI_EXIT_USAGE;
        } else if (cli_names_root(pos[i]) && !(o.recursive && o.no_preserve_root)) {
            cli_err("cnio rm: %s: refusing to remove the root of the store (every "
                    "object on every server); -r --no-preserve-root removes it all\n", pos[i]);
            ret = CLI_EXIT_USAGE;
        }
    if (ret == CLI_EXIT_USAGE) {
        cli_err("cnio rm: nothing removed\n");
        return ret;
    }
    rc = cnio__stack_open(&st);
    if (rc)
        return cli_fail("rm", "stack", rc);
    ret = rm_check_all(st, &o, pos, n, seen, stop);
    if (ret != CLI_EXIT_OK) {
        cnio__stack_close(st);
        return ret;
    }
    for (int i = 0; i < n; i++) {
        struct cnio_uri u = { 0 };
        struct cnio_hints h;

        if (stop[i]) {
            ret = cli_worse(ret, cli_fail("rm", pos[i], stop[i]));
            continue;
        }
        if (o.recursive) {
            ret = cli_worse(ret, cli_rm_tree(&o, pos[i], &seen[i]));
            continue;
        }
        if (cli_target("rm", &o, pos[i], &u, &h) == 0) {
            ret = cli_worse(ret, cli_status(cli_rm_object(st, pos[i], &u, &h, &seen[i])));
        } else {
            ret = CLI_EXIT_USAGE;
        }
        cnio__uri_free(&u);
    }
    cnio__stack_close(st);
    return ret;
}
