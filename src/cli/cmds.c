/*
 * cmds.c - the namespace subcommands: `cnio mkdir [-p]`, `cnio mv` (a rename on the
 * servers: no data moves), `cnio du`, and `cnio sum` (the CRC32C of every byte of an
 * object or a local file, the one `cp --verify` compares), plus what the others share of
 * them (a session to a URI's servers, the JSON printing `ls --json` and `stat --json`
 * use). `cnio rm` lives in rm.c.
 */
#include "cli.h"
#include "client.h"
#include "cp.h"
#include "log.h"
#include "stack.h"
#include "tree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void cli_json_str(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int n = cnio__utf8_len(p, SIZE_MAX);

        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            printf("\\u%04x", *p);
        else if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0)   /* a C1 control, not raw */
            printf("\\u%04x", p[1]);
        else if (n == 0)   /* not UTF-8: the byte as Python's surrogateescape (PEP 383) */
            printf("\\u%04x", 0xdc00 | *p);
        else
            fwrite(p, 1, (size_t)n, stdout);
        p += n ? n : 1;
    }
    putchar('"');
}

/* Parses each URI argument (all before anything is done): 0, or CLI_EXIT_USAGE. */
static int cmd_check_all(const char *cmd, char **pos, int n)
{
    int bad = 0;

    for (int i = 0; i < n; i++) {
        if (!cnio__uri_is_cnio(pos[i])) {
            cli_err("cnio %s: %s is not a cnio:// URI\n", cmd, pos[i]);
            bad = 1;
        } else if (cli_check_uri(cmd, pos[i])) {
            bad = 1;
        }
    }
    return bad ? CLI_EXIT_USAGE : 0;
}

/* Opens a stack and a namespace session to uri's servers; prints why on failure (cmd
 * NULL: says nothing). */
int cli_session(const char *cmd, const struct cli_opts *o, const char *uri,
                struct cnio_uri *u, struct cnio_hints *h, struct cnio_stack **st,
                struct cnio_ns **ns)
{
    int rc = cnio__uri_parse(uri, u);

    *st = NULL;
    if (ns)
        *ns = NULL;
    if (rc == 0)
        rc = cli_hints(o, u, h);
    if (rc == 0)
        rc = cnio__stack_open(st);
    if (rc == 0 && ns != NULL) {
        rc = cnio__ns_open(*st, u, h, ns);
        if (rc == -CNIO_ERR_URI)   /* (said, naming the two hosts of one server) */
            return rc;
    }
    if (rc && cmd)
        cli_fail(cmd, uri, rc);
    return rc;
}

void cli_session_end(struct cnio_uri *u, struct cnio_stack *st, struct cnio_ns *ns)
{
    cnio__ns_close(ns);
    if (st)
        cnio__stack_close(st);
    cnio__uri_free(u);
}

int cli_rmdir_quiet(const struct cli_opts *o, const char *uri)
{
    struct cnio_uri u = { 0 };
    struct cnio_hints h;
    struct cnio_stack *st;
    struct cnio_ns *ns;
    int rc = cli_session(NULL, o, uri, &u, &h, &st, &ns);

    if (rc == 0)
        rc = cnio__ns_rmdir(ns, u.path);
    cli_session_end(&u, st, ns);
    return rc;
}

int cli_obj_stat(const char *cmd, const struct cli_opts *o, const char *uri,
                 struct cnio_obj_stat *s)
{
    struct cnio_uri u = { 0 };
    struct cnio_hints h;
    struct cnio_stack *st;
    int rc = cli_session(cmd, o, uri, &u, &h, &st, NULL);

    if (rc == 0) {
        rc = cnio__obj_stat(st, &u, &h, s);
        if (rc && cmd)
            cli_fail(cmd, uri, rc);
    }
    cli_session_end(&u, st, NULL);
    return rc;
}

int cli_obj_getattr(const struct cli_opts *o, const char *uri, uint32_t *mode,
                    int64_t *mtime_ns)
{
    struct cnio_obj_stat s;
    int rc = cli_obj_stat("cp", o, uri, &s);

    *mode = rc ? 0 : s.mode;
    *mtime_ns = rc ? 0 : s.mtime_ns;
    return rc;
}

int cli_obj_setattr(const struct cli_opts *o, const char *uri, uint32_t mode,
                    int64_t mtime_ns)
{
    struct cnio_uri u = { 0 };
    struct cnio_hints h;
    struct cnio_stack *st;
    struct cnio_ns *ns;
    int rc = cli_session("cp", o, uri, &u, &h, &st, &ns);

    if (rc == 0 && (rc = cnio__ns_setattr(ns, u.path, mode, mtime_ns)) != 0)
        cli_fail("cp", uri, rc);
    cli_session_end(&u, st, ns);
    return rc;
}

int cli_object_on_path(struct cnio_stack *st, const struct cnio_hints *h,
                       const struct cnio_uri *u, char *dir, size_t cap)
{
    for (const char *s = strchr(u->path, '/'); s; s = strchr(s + 1, '/')) {
        struct cnio_uri p = *u;
        struct cnio_obj_stat sb;

        snprintf(dir, cap, "%.*s", (int)(s - u->path), u->path);
        p.path = dir;
        p.dir_slash = 0;   /* (a URI's trailing '/' is of its last name, not of dir) */
        if (cnio__obj_stat(st, &p, h, &sb) == 0 && !sb.is_dir)
            return 1;
    }
    return 0;
}

const char *cli_foreign(int foreign)
{
    return foreign ? " (written through another order of these hosts)" : "";
}

int cli_object_on_way(struct cnio_stack *st, const struct cnio_hints *h,
                      const struct cnio_uri *u, char *dir, size_t cap, int *foreign)
{
    const char *slash = strrchr(u->path, '/');
    char parent[CNIO_WIRE_MAX_NAME + 1];
    struct cnio_ns *ns;
    int found;

    *foreign = 0;
    if (u->nhosts < 2 || !slash || cnio__ns_open(st, u, h, &ns))
        return cli_object_on_path(st, h, u, dir, cap);
    snprintf(parent, sizeof(parent), "%.*s", (int)(slash - u->path), u->path);
    found = cnio__ns_unshadow(ns, parent, dir, cap, foreign) == 1;
    cnio__ns_close(ns);
    return found;
}

static int cmd_mkdir(const struct cli_opts *o, char **pos, int n)
{
    int ret = CLI_EXIT_OK;

    if (cmd_check_all("mkdir", pos, n))
        return CLI_EXIT_USAGE;
    for (int i = 0; i < n; i++) {
        struct cnio_uri u = { 0 };
        struct cnio_hints h;
        struct cnio_stack *st;
        struct cnio_ns *ns;
        int rc = cli_session("mkdir", o, pos[i], &u, &h, &st, &ns);

        if (rc == 0 && !u.path[0])
            rc = o->parents ? 0 : -CNIO_ERR_EXIST;   /* the root */
        else if (rc == 0)
            rc = cnio__ns_mkdir(ns, u.path, o->parents);
        if (rc) {
            char dir[CNIO_WIRE_MAX_NAME + 1];
            int foreign = 0;

            if (rc == -CNIO_ERR_EXIST && ns &&
                cnio__ns_object_on_way(ns, u.path, 0, dir, sizeof(dir), &foreign))
                cli_err("cnio mkdir: %s: %s is an object%s, not a directory\n", pos[i], dir,
                        cli_foreign(foreign));
            else if (rc == -CNIO_ERR_EXIST)
                cli_err("cnio mkdir: %s: exists\n", pos[i]);
            else if (rc == -CNIO_ERR_NOENT)
                cli_err("cnio mkdir: %s: the parent directory does not exist (-p makes "
                        "it)\n", pos[i]);
            else if (ns)   /* (a session that failed said why) */
                cli_fail("mkdir", pos[i], rc);
            ret = cli_worse(ret, cli_status(rc));
        }
        cli_session_end(&u, st, ns);
    }
    return ret;
}

/* -CNIO_ERR_LAYOUT, said ("cnio CMD: URI/REL: ...; name all of them to ACTION"), when
 * listing l (of uri) holds an object of more columns than uri names hosts (TREE_WIDE):
 * moved or removed through uri, its other columns would be left behind, the object
 * broken; else 0. */
int cli_tree_wide(const struct tree_list *l, const char *cmd, const char *uri,
                  const char *action)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->e[i].incomplete == TREE_WIDE) {
            cli_err("cnio %s: %s/%s: it has more columns than this URI names hosts (written "
                    "through a URI of more): name all of them to %s\n", cmd, uri,
                    l->e[i].rel, action);
            return -CNIO_ERR_LAYOUT;
        }
    return 0;
}

static int cmd_same_hosts(const struct cnio_uri *a, const struct cnio_uri *b)
{
    if (a->nhosts != b->nhosts)
        return 0;
    for (int i = 0; i < a->nhosts; i++)
        if (strcmp(a->hosts[i].name, b->hosts[i].name) || a->hosts[i].port != b->hosts[i].port)
            return 0;
    return 1;
}

/*
 * Says why a RENAME of u to v (pos[0] to pos[1]) failed with rc, naming the operand at
 * fault: the servers' codes alone cannot (renaming a directory onto an object comes back
 * as "no such object" or "object exists", an object onto a directory as "is a
 * directory"), so both names are looked up, the new one on every host: an object of it
 * that another order of the hosts wrote is on a host that this URI's STAT does not ask.
 */
static void cmd_mv_why(struct cnio_ns *ns, struct cnio_stack *st, const struct cnio_hints *h,
                       const struct cnio_uri *u, const struct cnio_uri *v, char **pos, int rc)
{
    struct cnio_obj_stat a;
    struct cnio_ns_kinds b;
    int ra = cnio__obj_stat(st, u, h, &a), rb = cnio__ns_kinds(ns, v->path, &b), foreign = 0;
    char dir[CNIO_WIRE_MAX_NAME + 1];

    if (ra == -CNIO_ERR_NOENT)
        cli_fail("mv", pos[0], ra);
    else if (rc == -CNIO_ERR_EXIST && rb == 0 && !b.dirs && b.obj < 0 &&
             cnio__ns_object_on_way(ns, v->path, 0, dir, sizeof(dir), &foreign))
        cli_err("cnio mv: %s: %s is an object%s, not a directory; nothing moved\n", pos[1],
                dir, cli_foreign(foreign));
    else if (ra == 0 && rb == 0 && a.is_dir && b.obj >= 0)
        cli_err("cnio mv: %s: an object%s, which a directory (%s) cannot replace; "
                "nothing moved\n", pos[1], cli_foreign(b.foreign), pos[0]);
    else if (ra == 0 && rb == 0 && !a.is_dir && b.dirs)
        cli_err("cnio mv: %s: a directory, which an object (%s) cannot replace; "
                "nothing moved (%s/, with the '/', moves it into the directory)\n", pos[1],
                pos[0], pos[1]);
    else if (rc == -CNIO_ERR_EXIST)
        cli_err("cnio mv: %s: a directory that is not empty; nothing moved\n", pos[1]);
    else if (rc == -CNIO_ERR_INVAL)
        cli_err("cnio mv: %s: cannot move a directory into itself\n", pos[1]);
    else
        cli_fail("mv", pos[0], rc);
}

/* mv of directory u (uri as given): -CNIO_ERR_LAYOUT, said, when an object beneath it has
 * more columns than u names hosts (renamed through u, the other hosts' columns would stay
 * under the old name, the object broken under both); 0 when none has, or when u is no
 * directory (cnio__ns_rename checks an object itself). */
static int cmd_mv_fits(struct cnio_stack *st, struct cnio_ns *ns, const char *uri,
                       const struct cnio_uri *u, const struct cnio_hints *h)
{
    struct tree_end e = { .name = uri, .remote = 1, .dirfd = -1, .u = *u, .h = *h };
    struct tree_list l = { 0 };
    struct cnio_ns_kinds k;
    int rc = cnio__ns_kinds(ns, u->path, &k) == 0 && k.dirs && k.obj < 0;

    e.top_is_dir = rc;
    rc = rc ? tree_walk_remote(st, &e, 1, &l) : 0;
    if (rc == 0)
        rc = cli_tree_wide(&l, "mv", uri, "move its directory; nothing moved");
    tree_list_free(&l);
    return rc;
}

static int cmd_mv(const struct cli_opts *o, char **pos)
{
    struct cnio_uri u = { 0 }, v = { 0 };
    struct cnio_hints h;
    struct cnio_stack *st;
    struct cnio_ns *ns;
    char *into = NULL, *given = pos[1];
    int rc;

    if (cmd_check_all("mv", pos, 2))
        return CLI_EXIT_USAGE;
    rc = cnio__uri_parse(pos[0], &u) || cnio__uri_parse(pos[1], &v) ? CLI_EXIT_USAGE : 0;
    /* a DST ending in '/', or the root, is a directory to move SRC into, as cp takes it */
    if (rc == 0 && (into = cp_into_dir(pos[0], pos[1], 1, 1, !v.path[0]))) {
        pos[1] = into;
        cnio__uri_free(&v);
        rc = cnio__uri_parse(into, &v) ? CLI_EXIT_USAGE : 0;
    }
    if (rc == 0 && !cmd_same_hosts(&u, &v)) {
        cli_err("cnio mv: %s and %s name different servers: use cnio cp, then cnio "
                "rm\n", pos[0], pos[1]);
        rc = CLI_EXIT_USAGE;
    } else if (rc == 0 && (!u.path[0] || !v.path[0])) {
        cli_err("cnio mv: the root cannot be renamed, nor anything renamed to it\n");
        rc = CLI_EXIT_USAGE;
    }
    cnio__uri_free(&u);
    if (rc) {
        cnio__uri_free(&v);
        pos[1] = given;
        free(into);
        return rc;
    }
    rc = cli_session("mv", o, pos[0], &u, &h, &st, &ns);
    if (rc == 0 && (rc = cmd_mv_fits(st, ns, pos[0], &u, &h)) != 0) {
        if (rc != -CNIO_ERR_LAYOUT)
            cli_fail("mv", pos[0], rc);
    } else if (rc == 0) {
        rc = cnio__ns_rename(ns, u.path, v.path);
        if (rc == -CNIO_ERR_LAYOUT)   /* (said) */
            ;
        else if (rc)
            cmd_mv_why(ns, st, &h, &u, &v, pos, rc);
    }
    pos[1] = given;
    free(into);
    cnio__uri_free(&v);
    cli_session_end(&u, st, ns);
    return cli_status(rc);
}

static int cmd_du(const struct cli_opts *o, char **pos, int n)
{
    int ret = CLI_EXIT_OK;

    if (cmd_check_all("du", pos, n))
        return CLI_EXIT_USAGE;
    for (int i = 0; i < n; i++) {
        struct tree_end e = { .name = pos[i], .remote = 1, .dirfd = -1 };
        struct tree_list l = { 0 };
        struct cnio_stack *st;
        struct cnio_ns *ns;
        uint64_t bytes = 0, files = 0, dirs = 0;
        char b[32];
        int rc = cli_session("du", o, pos[i], &e.u, &e.h, &st, NULL);

        ns = NULL;
        if (rc == 0) {
            rc = tree_walk_remote(st, &e, 0, &l);
            /* another order's object: said, as stat says it (it said "no such object",
             * while ls -l listed it) */
            if (rc == -CNIO_ERR_NOENT && e.u.nhosts > 1 &&
                cnio__ns_open(st, &e.u, &e.h, &ns) == 0) {
                struct cnio_ns_kinds k;
                int other = rc;

                if (cnio__ns_other_order(ns, e.u.path, &k, &other) == 0)
                    rc = other;
            }
            if (rc == -CNIO_ERR_NOTSUP) {   /* one object */
                struct cnio_obj_stat s;

                rc = cnio__obj_stat(st, &e.u, &e.h, &s);
                bytes = s.size;
                files = rc == 0;
            }
            if (rc)
                cli_fail("du", pos[i], rc);
        }
        for (size_t k = 0; k < l.n; k++) {
            bytes += l.e[k].size;
            files += l.e[k].type != TREE_DIR;
            dirs += l.e[k].type == TREE_DIR;
        }
        if (rc == 0 && o->json) {
            printf("{\"uri\": ");
            cli_json_str(pos[i]);
            printf(", \"bytes\": %llu, \"objects\": %llu, \"directories\": %llu}\n",
                   (unsigned long long)bytes, (unsigned long long)files,
                   (unsigned long long)dirs);
        } else if (rc == 0) {
            printf("%llu\t%s\t%llu object%s, %llu director%s\t%s\n", (unsigned long long)bytes,
                   cli_bytes(bytes, b, sizeof(b)), (unsigned long long)files,
                   files == 1 ? "" : "s", (unsigned long long)dirs, dirs == 1 ? "y" : "ies",
                   pos[i]);
        }
        ret = cli_worse(ret, cli_status(rc));
        tree_list_free(&l);
        cli_session_end(&e.u, st, ns);
    }
    return ret;
}

/* Links followed in a row before cnio sum gives up, as the kernel's ELOOP does. */
#define SUM_MAX_LINKS 40

/*
 * Where a link object at path (a name on the servers) leads: its target, relative to the
 * link's directory as a symbolic link's is, made a name on the same servers into out
 * (cap bytes): 0, or -1 when it leads outside what they hold (absolute, or climbing
 * above their root): nothing of it is there.
 */
static int sum_link_name(const char *path, const char *target, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;

    if (target[0] == '/' || n >= cap)
        return -1;
    memcpy(out, path, n);
    out[n] = '\0';
    for (const char *t = target; *t;) {
        size_t len = strcspn(t, "/");

        if (len == 2 && !strncmp(t, "..", 2)) {
            char *up = strrchr(out, '/');

            if (!n)
                return -1;
            n = up ? (size_t)(up - out) : 0;
            out[n] = '\0';
        } else if (len && !(len == 1 && t[0] == '.')) {
            if (n + !!n + len >= cap)
                return -1;
            if (n)
                out[n++] = '/';
            memcpy(out + n, t, len);
            out[n += len] = '\0';
        }
        t += len + (t[len] == '/');
    }
    return n ? 0 : -1;
}

/*
 * Opens the object u names for cnio sum, following link objects (`cnio cp -r` keeps
 * symbolic links so) as md5sum(1) follows a local symlink: their CRC32C is of what they
 * lead to, so that a tree and its copy compare by hand (before, the link's own text was
 * summed). 0 with *obj open, or a negative code, said here when a link was followed
 * (*said 1) and left to the caller to say otherwise.
 */
static int sum_open(struct cnio_stack *st, struct cnio_uri *u, const struct cnio_hints *h,
                    const char *name, struct cnio_obj **obj, int *said)
{
    char target[TF_LINK_MAX], next[TF_LINK_MAX];
    uint64_t size;
    int64_t mtime;
    int rc, links;

    *said = 0;
    for (links = 0;; links++) {
        rc = cnio__obj_open(st, u, h, 0, obj);
        if (rc || !S_ISLNK(cnio__obj_mode(*obj)))
            break;
        cnio__obj_opened(*obj, &size, &mtime);
        rc = tf_read_link(*obj, size, target);
        cnio__obj_close(*obj);
        if (rc)
            break;
        if (links == SUM_MAX_LINKS) {
            *said = 1;
            cli_err("cnio sum: %s: more than %d symbolic links in a row\n", name,
                    SUM_MAX_LINKS);
            return -CNIO_ERR_INVAL;
        }
        if (sum_link_name(u->path, target, next, sizeof(next))) {
            *said = 1;
            cli_err("cnio sum: %s: a symbolic link to %s, which leads outside what the "
                    "servers hold: nothing there to sum\n", name, target);
            return -CNIO_ERR_NOENT;
        }
        free(u->path);
        if (!(u->path = strdup(next)))
            return -CNIO_ERR_NOMEM;
    }
    if (rc && links)
        cli_err("cnio sum: %s: its symbolic link leads to %s: %s\n", name, u->path,
                cnio_strerror(rc));
    *said = rc && links;
    return rc;
}

static int cmd_sum_one(const struct cli_opts *o, const char *name, char *buf, uint64_t cap)
{
    uint32_t crc = 0;
    uint64_t size = 0;
    int rc;

    if (cnio__uri_is_cnio(name)) {
        struct cnio_uri u = { 0 };
        struct cnio_hints h;
        struct cnio_stack *st;
        struct cnio_obj *obj;
        struct cnio_ns *ns = NULL;

        rc = cli_session("sum", o, name, &u, &h, &st, NULL);
        if (rc == 0 && (u.dir_slash || !u.path[0])) {
            cli_err("cnio sum: %s: a name ending in '/' names a directory, not an object\n",
                    name);
            rc = -CNIO_ERR_ISDIR;
        } else if (rc == 0) {
            int said;

            rc = sum_open(st, &u, &h, name, &obj, &said);
            if (rc == 0) {
                rc = tree_crc_obj(obj, buf, cap, &crc, &size);
                cnio__obj_close(obj);
            }
            if (rc && !said)
                cli_fail("sum", name, rc);
        }
        cli_session_end(&u, st, ns);
    } else if (strcmp(name, "-") == 0) {
        rc = tree_crc_stream(STDIN_FILENO, buf, cap, &crc, &size);
        if (rc)
            cli_err("cnio sum: standard input: %s\n", strerror(errno));
    } else {
        int fd = open(name, O_RDONLY | O_CLOEXEC);

        rc = fd < 0 ? -1 : tree_crc_local(fd, buf, cap, &crc, &size);
        if (rc)
            cli_err("cnio sum: %s: %s\n", name, strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    if (rc == 0)
        printf("%08x  %llu  %s\n", crc, (unsigned long long)size, name);
    return cli_status(rc);
}

static int cmd_sum(const struct cli_opts *o, char **pos, int n)
{
    uint64_t cap = 16u << 20;
    char *buf;
    int ret = CLI_EXIT_OK;

    for (int i = 0; i < n; i++)
        if (cnio__uri_is_cnio(pos[i]) && cli_check_uri("sum", pos[i]))
            return CLI_EXIT_USAGE;
    buf = malloc(cap);
    if (!buf)
        return cli_fail("sum", "buffer", -CNIO_ERR_NOMEM);
    for (int i = 0; i < n; i++)
        ret = cli_worse(ret, cmd_sum_one(o, pos[i], buf, cap));
    free(buf);
    return ret;
}

/* The start of a subcommand taking between min and max arguments: parsed into o and
 * pos; -1 to go on, else the exit status to return. */
static int cmd_args(const char *help, int argc, char **argv, struct cli_opts *o, char **pos,
                    int min, int max, int *n)
{
    *n = cli_parse(help, argc, argv, o, pos, max);
    if (*n == -2)
        return CLI_EXIT_OK;
    if (*n < min) {
        cli_usage(help);
        return CLI_EXIT_USAGE;
    }
    return -1;
}

int cli_mkdir(int argc, char **argv)
{
    static const char help[] =
        "usage: cnio mkdir [-p] [--key FILE] [-o NAME=VALUE] URI...\n\n"
        "Makes each directory on all the servers of its URI. -p: make missing parents too,\n"
        "and a directory that exists is no error.\n";
    struct cli_opts o = { 0 };
    char *pos[256];
    int n, rc = cmd_args(help, argc, argv, &o, pos, 1, 256, &n);

    return rc >= 0 ? rc : cmd_mkdir(&o, pos, n);
}

int cli_mv(int argc, char **argv)
{
    static const char help[] =
        "usage: cnio mv [--key FILE] [-o NAME=VALUE] SRC-URI DST-URI\n\n"
        "Renames an object or a directory on its servers (no data moves; both URIs name\n"
        "the same servers). An object of the new name is replaced; missing parents are made.\n"
        "A DST-URI ending in '/' is a directory to move SRC into, under its own name.\n"
        "A directory moves on the URI's servers alone: name every server it was made\n"
        "through (one it was made through that the URI leaves out keeps the old name).\n";
    struct cli_opts o = { 0 };
    char *pos[2];
    int n, rc = cmd_args(help, argc, argv, &o, pos, 2, 2, &n);

    return rc >= 0 ? rc : cmd_mv(&o, pos);
}

int cli_du(int argc, char **argv)
{
    static const char help[] =
        "usage: cnio du [--json] [--key FILE] [-o NAME=VALUE] URI...\n\n"
        "Prints the bytes of the objects beneath each URI (or of one object), with the\n"
        "number of objects and directories: BYTES, the same in KiB/MiB/GiB, counts, URI.\n";
    struct cli_opts o = { 0 };
    char *pos[256];
    int n, rc = cmd_args(help, argc, argv, &o, pos, 1, 256, &n);

    return rc >= 0 ? rc : cmd_du(&o, pos, n);
}

int cli_sum(int argc, char **argv)
{
    static const char help[] =
        "usage: cnio sum [--key FILE] [-o NAME=VALUE] URI|FILE...\n\n"
        "Prints the CRC32C (Castagnoli, as iSCSI) of every byte of each object or local file,\n"
        "its size and its name: the checksum `cnio cp --verify` compares, so that the two\n"
        "ends of a copy can be compared by hand. FILE - is standard input. A symbolic link,\n"
        "local or an object `cnio cp -r` kept, is followed (on the same servers).\n";
    struct cli_opts o = { 0 };
    char *pos[256];
    int n, rc = cmd_args(help, argc, argv, &o, pos, 1, 256, &n);

    return rc >= 0 ? rc : cmd_sum(&o, pos, n);
}
