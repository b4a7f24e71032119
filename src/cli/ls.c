/*
 * ls.c - `cnio ls` and `cnio stat`: what a directory holds and what an object is, as
 * text for people and as JSON for scripts.
 */
#include "cnio_config.h"
#include "cli.h"
#include "client.h"
#include "log.h"
#include "stack.h"
#include "tree.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * Prints a name as it came from a server, one name always one line, and nothing in it
 * that a terminal takes as a control: C0 and C1 control characters, DEL, and bytes that
 * are not UTF-8 (a terminal in an 8-bit locale takes 0x9b as CSI). A listed name (uri
 * 1) is as a cnio:// URI names it, whose path is percent-decoded: '%', '?', '\\' and
 * those percent-encoded, byte by byte (%25, %3F, %5C, %0A, %C2%9B, %FF...), so that a
 * name pasted from ls into a URI is that object (`cnio rm URI/a%20b` of a listed
 * "a%20b" must not remove "a b"). A link's target (uri 0), text: backslashes and those
 * escaped (\n, \t, \\, \xHH).
 */
static void cli_print_name(const char *name, int uri)
{
    for (const unsigned char *p = (const unsigned char *)name; *p;) {
        int n = cnio__utf8_len(p, SIZE_MAX), ctl = cnio__utf8_ctl(p, n);

        if (!n)
            n = 1;
        for (int i = 0; i < n; i++, p++) {
            if (uri && (ctl || *p == '%' || *p == '?' || *p == '\\'))
                printf("%%%02X", *p);
            else if (*p == '\n')
                fputs("\\n", stdout);
            else if (*p == '\t')
                fputs("\\t", stdout);
            else if (*p == '\\')
                fputs("\\\\", stdout);
            else if (ctl)
                printf("\\x%02x", *p);
            else
                putchar(*p);
        }
    }
}

/* What stat and ls --json say of an object's state (client.h, CNIO_OBJ_*), in buf (cap
 * bytes) where it names hosts (CNIO_APART_*). */
static const char *cli_state(const struct cnio_obj_stat *s, char *buf, size_t cap)
{
    uint32_t state = s->state;
    int live = (state & CNIO_OBJ_LIVE) != 0;
    int dead = (state & (CNIO_OBJ_LIVE | CNIO_OBJ_LIVE_KNOWN)) == CNIO_OBJ_LIVE_KNOWN;

    /* one generation on every host, apart by updates in place: no commit stopped */
    if (s->apart == CNIO_APART_DIRTY) {
        snprintf(buf, cap, "incomplete since a crash: %s; a program that opens it for "
                 "writing and closes it cleanly takes it as it is, copying it again "
                 "replaces it", s->apart_why);
        return buf;
    }
    if (s->apart == CNIO_APART_ODD || s->apart == CNIO_APART_UNSURE) {
        snprintf(buf, cap, "incomplete: %s: %s (restoring every host from one backup, or "
                 "copying it again, repairs it)", s->apart_why,
                 s->apart == CNIO_APART_ODD ? "restored from a backup taken before an "
                                              "update of the others in place"
                 : "a column restored from a backup of another time, which one the "
                   "hosts cannot tell");
        return buf;
    }
    /* a host of it holds no staged part: a server that crashed and restarted removed one
     * that had no metadata yet (stage.c); --resume found nothing to resume and copied it
     * all, after stat had said it would finish it */
    if ((state & CNIO_OBJ_STAGED) && (state & CNIO_OBJ_MISSING))
        return "incomplete: an upload was interrupted before it committed, and a host of "
               "this URI holds nothing of it any more (its server restarted since, and "
               "removed the part it held): it cannot be resumed, and must start over (cnio "
               "cp of its source, with --resume or without, copies all of it again; cnio rm "
               "removes it)";
    if (state & CNIO_OBJ_STAGED)
        return live ? "incomplete: an upload is in progress"
               : dead ? "incomplete: an upload was interrupted before it committed (cnio cp "
                        "--resume of its source finishes it when the source was a file; an "
                        "upload from a stream (cnio cp -) cannot be resumed: running it again "
                        "replaces it; a program run again writes it afresh, or with hint "
                        "cnio_resume=true goes on with it and commits what it holds at close; "
                        "cnio rm removes it)"
               : "incomplete: an upload is in progress, or was interrupted before it committed";
    if (state & CNIO_OBJ_SHADOWED)
        return "incomplete: a host holds a directory of this name as well (cnio rm -r of "
               "the name removes both)";
    if (state & CNIO_OBJ_FOREIGN)
        return "incomplete: not an object of this URI: a write through another order of "
               "these hosts left it (read it through that order; cnio rm removes it)";
    if (state & CNIO_OBJ_WIDE)
        return "incomplete through this URI: it has more columns than this URI names hosts "
               "(written through a URI of more): read, move or remove it through a URI "
               "naming all of them";
    if (state & CNIO_OBJ_MISSING)
        return "incomplete: a host of this URI holds nothing of one of its columns: written "
               "through other hosts (read it through the URI that wrote it), or that host "
               "lost its column (copying it again through this URI replaces the object; "
               "cnio rm removes it)";
    if (state & CNIO_OBJ_TORN)
        return live ? "incomplete: a commit has not reached every host (a writer of it is "
                      "live: under way)"
               : dead ? "incomplete: a commit was interrupted before it reached every host, "
                        "or a host's column was restored from a backup taken before an "
                        "update of the others (copying it again repairs it)"
               : "incomplete: a commit has not reached every host (under way, or "
                 "interrupted), or a host's column was restored from an older backup";
    if (state & CNIO_OBJ_DIRTY)
        return "incomplete since a crash: an update in place was interrupted (a program "
               "that opens it for writing and closes it cleanly takes it as it is; copying "
               "it again replaces it)";
    if (state & CNIO_OBJ_INPLACE)
        return "complete, being updated in place by a live writer (a read now may see old "
               "and new bytes mixed)";
    if (state & CNIO_OBJ_PENDING)
        return live ? "complete (an upload of this name is in progress)"
               : dead ? "complete (an interrupted upload of this name is staged: cnio cp "
                        "--resume of its source finishes it, replacing this version, when the "
                        "source was a file; one from a stream (cnio cp -) cannot be resumed, "
                        "and the next upload of the name removes it)"
               : "complete (an upload of this name, in progress or interrupted, is staged)";
    return "complete";
}

/* stat of a directory of whose name a host holds an object's column as well. */
static const char cli_dir_shadowed[] = "incomplete: a host holds an object of this name as "
                                       "well (cnio rm -r of the name removes both)";

/* What an entry is: directory, symlink (an object holding a link's target, cp -r) or
 * object; ls --json, stat and stat --json say the same. */
static const char *cli_type(const struct cnio_obj_stat *s)
{
    return s->is_dir ? "directory" : (s->mode & 0170000) == 0120000 ? "symlink" : "object";
}

/* One object or directory as a JSON object (ls --json, stat --json). An object uploaded
 * without -p has no mode recorded: its "mode" is null, not 0 (which reads as "no
 * permission for anyone"). */
static void cli_json_stat(const char *name, const struct cnio_obj_stat *s)
{
    char why[CNIO_APART_MAX + 256];

    printf("{\"name\": ");
    cli_json_str(name);
    printf(", \"type\": \"%s\", \"size\": ", cli_type(s));
    if (s->state & CNIO_OBJ_NOSIZE)   /* another order's object, its column 0 not here */
        printf("null");
    else
        printf("%llu", (unsigned long long)s->size);
    if (s->mtime_ns == INT64_MIN)   /* unknown: stat of a directory its first host lacks */
        printf(", \"mtime_ns\": null");
    else
        printf(", \"mtime_ns\": %lld", (long long)s->mtime_ns);
    if (s->mode)
        printf(", \"mode\": %u", s->mode & 07777);
    else
        printf(", \"mode\": null");
    if (!s->is_dir) {   /* (updating_in_place false also where a server is too old to say) */
        printf(", \"stripe_unit\": %llu, \"stripe_count\": %u, \"complete\": %s, "
               "\"state\": ", (unsigned long long)s->layout.unit, s->layout.count,
               s->state & CNIO_OBJ_INCOMPLETE ? "false" : "true");
        cli_json_str(cli_state(s, why, sizeof(why)));   /* (it may name hosts) */
        printf(", \"updating_in_place\": %s", s->state & CNIO_OBJ_INPLACE ? "true" : "false");
    }
    else if (s->state & CNIO_OBJ_SHADOWED)   /* (stat: an object's column on another host) */
        printf(", \"complete\": false, \"state\": \"%s\"", cli_dir_shadowed);
    putchar('}');
}

/* What ls prints with: its options, and what it lists (to STAT an entry). */
struct ls_ctx {
    struct cli_opts *o;
    struct cnio_stack *st;
    const struct cnio_uri *u;
    const struct cnio_hints *h;
    int one;   /* u names the one object listed (after its STAT): nothing more to ask */
};

/* A LIST entry says an upload or commit of it is incomplete, but not whether a live
 * writer holds it (LIST cannot ask: doc/protocol.md); a STAT of the entry can, where
 * the servers announce CAP_LIVE, and waits for a commit under way (cnio__obj_stat).
 * Its answer, newer than the LIST's, replaces *s; on any failure *s is kept (its state
 * then says "in progress, or interrupted"). */
static void ls_ask_live(const struct ls_ctx *x, const char *name, struct cnio_obj_stat *s)
{
    struct cnio_uri e = *x->u;
    struct cnio_obj_stat t;
    char *path;

    /* (another order's: its STAT would only find no such object, and complain of the
     * layout on a host that holds a column of it; shadowed: its STAT asks only the
     * object's hosts, which do not see the directory; wide: its STAT refuses the
     * layout) */
    if (x->one || s->is_dir ||
        (s->state & (CNIO_OBJ_FOREIGN | CNIO_OBJ_SHADOWED | CNIO_OBJ_WIDE)) ||
        !(s->state & (CNIO_OBJ_STAGED | CNIO_OBJ_TORN | CNIO_OBJ_PENDING)) ||
        !(path = tree_join(x->u->path, name)))
        return;
    e.path = path;
    e.dir_slash = 0;
    if (cnio__obj_stat(x->st, &e, x->h, &t) == 0 && !t.is_dir)
        *s = t;
    free(path);
}

/* ls -l of a symlink (an object recorded as one by cp -r): " -> TARGET", as ls(1) says,
 * or " -> ?" when its target cannot be read. */
static void ls_link_target(const struct ls_ctx *x, const char *name, const struct cnio_obj_stat *s)
{
    struct cnio_uri e = *x->u;
    struct cnio_obj *obj;
    char target[TF_LINK_MAX];
    int ret = -CNIO_ERR_NOMEM;

    e.path = x->one ? x->u->path : tree_join(x->u->path, name);
    e.dir_slash = 0;
    if (e.path && (s->state & CNIO_OBJ_INCOMPLETE) == 0 &&
        (ret = cnio__obj_open(x->st, &e, x->h, 0, &obj)) == 0) {
        ret = tf_read_link(obj, s->size, target);
        cnio__obj_close(obj);
    }
    if (!x->one)
        free(e.path);
    fputs(" -> ", stdout);
    if (ret == 0)
        cli_print_name(target, 0);
    else
        putchar('?');
}

/* mtime_ns in local time as fmt (strftime) says, in buf (cap bytes); "-" when unknown
 * (INT64_MIN: a directory its first host lacks). Returns buf. */
static const char *cli_when(int64_t mtime_ns, const char *fmt, char *buf, size_t cap)
{
    time_t t = cnio__ts_of_ns(mtime_ns).tv_sec;
    struct tm tm;

    if (mtime_ns == INT64_MIN || !localtime_r(&t, &tm) || !strftime(buf, cap, fmt, &tm))
        snprintf(buf, cap, "-");
    return buf;
}

static int ls_print(const char *name, const struct cnio_obj_stat *ls, void *arg)
{
    const struct ls_ctx *x = arg;
    struct cli_opts *o = x->o;
    struct cnio_obj_stat t = *ls;
    const struct cnio_obj_stat *s = &t;
    char when[64];

    if (o->json) {
        ls_ask_live(x, name, &t);
        fputs(o->json++ > 1 ? ",\n " : "[", stdout);
        cli_json_stat(name, &t);
        return 0;
    }
    /* a commit that has not reached every host may be under way: its STAT waits for it */
    if (o->long_list && (t.state & CNIO_OBJ_TORN))
        ls_ask_live(x, name, &t);
    if (o->long_list && !s->is_dir && (s->state & CNIO_OBJ_NOSIZE))
        printf("%14s  %8llu x %-3u  ", "-", (unsigned long long)s->layout.unit,
               s->layout.count);
    else if (o->long_list && !s->is_dir)
        printf("%14llu  %8llu x %-3u  ", (unsigned long long)s->size,
               (unsigned long long)s->layout.unit, s->layout.count);
    else if (o->long_list)
        printf("%14s  %14s  ", "-", "-");
    if (o->long_list)
        printf("%-16s  ", cli_when(s->mtime_ns, "%Y-%m-%d %H:%M", when, sizeof(when)));
    cli_print_name(name, 1);
    if (o->long_list && !strcmp(cli_type(s), "symlink"))
        ls_link_target(x, name, s);
    if (o->long_list && !s->is_dir && (s->state & CNIO_OBJ_SHADOWED))
        fputs("  (incomplete: a host holds a directory of this name as well)", stdout);
    else if (o->long_list && !s->is_dir && (s->state & CNIO_OBJ_FOREIGN))
        fputs("  (incomplete: another order of these hosts wrote it)", stdout);
    else if (o->long_list && !s->is_dir && (s->state & CNIO_OBJ_WIDE))
        printf("  (incomplete: its %u columns are on more hosts than this URI names)",
               s->layout.count);
    else if (o->long_list && !s->is_dir && (s->state & CNIO_OBJ_MISSING))
        fputs("  (incomplete: a column is on no host of this URI)", stdout);
    else if (o->long_list && !s->is_dir && (s->state & CNIO_OBJ_INCOMPLETE))
        fputs("  (incomplete)", stdout);
    else if (o->long_list && !s->is_dir && (s->state & CNIO_OBJ_INPLACE))
        fputs("  (being updated in place by a live writer)", stdout);
    fputs(s->is_dir ? "/\n" : "\n", stdout);
    return 0;
}

/*
 * The start of a subcommand taking one URI: parses argv, the URI and its hints, opens a
 * stack. Returns -1 when the caller should go on, else the exit status to return (after
 * --help, or a usage error). On -1 the caller owns *u and *st.
 */
static int cli_one_uri(const char *cmd, const char *help, int argc, char **argv,
                       struct cli_opts *o, char **uri, struct cnio_uri *u,
                       struct cnio_hints *h, struct cnio_stack **st)
{
    int n = cli_parse(help, argc, argv, o, uri, 1), rc;

    if (n == -2)
        return CLI_EXIT_OK;
    if (n != 1) {
        cli_usage(help);
        return CLI_EXIT_USAGE;
    }
    if (cli_target(cmd, o, uri[0], u, h)) {
        cnio__uri_free(u);
        return CLI_EXIT_USAGE;
    }
    rc = cnio__stack_open(st);
    if (rc) {
        cnio__uri_free(u);
        return cli_fail(cmd, "stack", rc);
    }
    return -1;
}

int cli_ls(int argc, char **argv)
{
    static const char help[] =
        "usage: cnio ls [-l] [--json] [--key FILE] [-o NAME=VALUE] URI\n\n"
        "Lists the directory named by URI (cnio://hosts/ for the root), sorted by name, or\n"
        "the object it names;\n"
        "-l adds each object's size in bytes and its layout (stripe unit x count), the\n"
        "time it was last modified (local time, YYYY-MM-DD HH:MM; as --json's mtime_ns), a\n"
        "symlink's target (NAME -> TARGET, as cp -r keeps links), and marks objects that\n"
        "are incomplete (being written, or an upload, update or commit was interrupted)\n"
        "or being updated in place by a live writer (a read may see old and new bytes).\n"
        "--json: a JSON\n"
        "array of objects with name, type, size, mtime_ns, mode (null when none was recorded:\n"
        "uploaded without -p), stripe_unit, stripe_count, complete, state and\n"
        "updating_in_place.\n";
    struct cli_opts o = { 0 };
    struct cnio_uri u = { 0 };
    struct cnio_hints h;
    struct cnio_stack *st = NULL;
    char *pos[1];
    int rc = cli_one_uri("ls", help, argc, argv, &o, pos, &u, &h, &st);
    struct ls_ctx x = { .o = &o, .u = &u, .h = &h };
    int not_dir = 0;

    if (rc >= 0)
        return rc;
    x.st = st;
    rc = cnio__obj_list(st, &u, &h, ls_print, &x);
    if (rc == -CNIO_ERR_NOENT && u.path[0]) {   /* an object, not a directory: as ls FILE */
        struct cnio_obj_stat s;

        x.one = 1;
        if (cnio__obj_stat(st, &u, &h, &s) == 0 && !s.is_dir) {
            if (u.dir_slash)   /* ("obj/": as ls(1) says of "file/") */
                not_dir = 1;
            else
                rc = ls_print(u.path, &s, &x);
        }
    }
    if (rc == 0 && o.json)
        fputs(o.json > 1 ? "]\n" : "[]\n", stdout);
    cnio__stack_close(st);
    cnio__uri_free(&u);
    return not_dir ? cli_not_dir("ls", pos[0]) : rc ? cli_fail("ls", pos[0], rc) : CLI_EXIT_OK;
}

static int cli_stat_nothing(const char *name, const struct cnio_obj_stat *s, void *arg)
{
    (void)name, (void)s, (void)arg;
    return 0;
}

/*
 * STAT of u's name into *s, with what it alone would not see: a host that holds a
 * directory of an object's name, or a column of an object of a directory's name, as
 * well (what a mkdir through another order of the hosts, or through one host alone, can
 * leave, and which ls -l marks from its listing); or, when the first host has no such
 * name, a directory of it on another (an OPEN makes its parents on the object's hosts
 * alone), or else a column of an object another order of the hosts wrote (said, naming
 * the fix: -CNIO_ERR_LAYOUT; it said "no such object" while ls -l listed the name). One
 * session, and one STAT of the name on every host, in one round (cnio__ns_stat: it
 * opened two sessions and STATed the first host twice). Returns the answer, or the
 * error (said) of a host that could not be asked: the URI's hosts one server, one down
 * (before, stat printed that error and then the object, exit 0).
 */
static int cli_stat_others(struct cnio_stack *st, const struct cnio_uri *u,
                           const struct cnio_hints *h, struct cnio_obj_stat *s)
{
    struct cnio_ns_kinds k = { 0 };
    struct cnio_ns *ns;
    int rc, other = -CNIO_ERR_NOENT;

    if (u->nhosts < 2)
        return cnio__obj_stat(st, u, h, s);
    rc = cnio__ns_open(st, u, h, &ns);
    if (rc)
        return rc;
    rc = cnio__ns_stat(ns, u->path, s, &k, &other);
    if (rc == -CNIO_ERR_NOENT && k.dirs > 0) {
        memset(s, 0, sizeof(*s));
        s->is_dir = 1;
        s->mtime_ns = INT64_MIN;   /* unknown (0 is the epoch): shown as "-" */
        rc = 0;
    }
    if (rc == 0 && (s->is_dir ? k.obj >= 0 : k.dirs > 0))
        s->state |= CNIO_OBJ_SHADOWED;
    else if (rc == -CNIO_ERR_NOENT)   /* another order's object alone, said */
        rc = other;
    cnio__ns_close(ns);
    return rc;
}

int cli_stat(int argc, char **argv)
{
    static const char help[] =
        "usage: cnio stat [--json] [--key FILE] [-o NAME=VALUE] URI\n\nShows an object's size, layout, hosts "
        "and state:\ncomplete, or incomplete (an upload, update or commit was interrupted), and\n"
        "whether a live writer is updating it in place (a read may see old and new bytes);\n"
        "and the transport that would carry its data under the hints (-o cnio_transport=udp:\n"
        "udp (udp;ofi_rxd), the provider the first host's endpoint has).\n"
        "--json: one JSON object (the fields of ls --json; mode null when none was recorded).\n";
    struct cli_opts o = { 0 };
    struct cnio_uri u = { 0 };
    struct cnio_hints h;
    struct cnio_stack *st = NULL;
    struct cnio_obj_stat s;
    char *pos[1], when[64] = "-", sz[32], why[CNIO_APART_MAX + 256];
    int rc = cli_one_uri("stat", help, argc, argv, &o, pos, &u, &h, &st);

    if (rc >= 0)
        return rc;
    if (u.path[0]) {
        rc = cli_stat_others(st, &u, &h, &s);
    } else {   /* the root: a directory, there when its servers list it */
        memset(&s, 0, sizeof(s));
        s.is_dir = 1;
        s.mtime_ns = INT64_MIN;   /* unknown (0 is the epoch): "-", and null in --json */
        rc = cnio__obj_list(st, &u, &h, cli_stat_nothing, NULL);
    }
    if (rc == 0 && u.dir_slash && !s.is_dir) {   /* ("obj/": as stat(1) says of "file/") */
        cnio__stack_close(st);
        cnio__uri_free(&u);
        return cli_not_dir("stat", pos[0]);
    }
    if (rc == 0 && o.json) {
        cli_json_stat(u.path[0] ? u.path : "/", &s);
        putchar('\n');
    } else if (rc == 0) {
        char hp[CNIO_HOSTPORT_MAX];

        /* (none for the root, nor for a directory its first host lacks) */
        if (u.path[0])
            cli_when(s.mtime_ns, "%Y-%m-%d %H:%M:%S %z", when, sizeof(when));
        printf("%-14s", s.is_dir ? "directory:" : "object:");
        if (u.path[0])   /* (decoded: as ls lists it, no control reaches the terminal) */
            cli_print_name(u.path, 1);
        else
            fputs("/ (the root)", stdout);
        putchar('\n');
        printf("type:         %s\n", cli_type(&s));
        if (!s.is_dir) {
            printf("size:         %llu (%s)\n", (unsigned long long)s.size,
                   cli_bytes(s.size, sz, sizeof(sz)));
            printf("stripe unit:  %llu\n", (unsigned long long)s.layout.unit);
            printf("stripe count: %u\n", s.layout.count);
            printf("state:        %s\n", cli_state(&s, why, sizeof(why)));
            printf("transport:    %s\n", s.transport);
        } else if (s.state & CNIO_OBJ_SHADOWED) {
            printf("state:        %s\n", cli_dir_shadowed);
        }
        printf("hosts:        ");
        for (int i = 0; i < u.nhosts; i++)
            printf("%s%s", i ? "," : "",   /* an IPv6 address as URIs write it */
                   cnio__hostport(hp, sizeof(hp), u.hosts[i].name, u.hosts[i].port));
        printf("\nmodified:     %s\n", when);
    }
    cnio__stack_close(st);
    cnio__uri_free(&u);
    return rc ? cli_fail("stat", pos[0], rc) : CLI_EXIT_OK;
}
