/*
 * cp_ui.c - what a user of `cnio cp` types and reads: the usage text, the arguments
 * and what they name (cli_cp: a file, a tree, a stream), the summary of a finished
 * copy, what a failed copy says it left behind, and what an interrupted download says
 * before it ends. The copy itself is cp.c's.
 */
#include "cp.h"
#include "client.h"
#include "log.h"
#include "tree.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char cp_help[] =
    "usage: cnio cp [--verify] [--resume] [--live] [--chunk SIZE] [-q] [--key FILE]\n"
    "               [-o NAME=VALUE] SRC DST\n"
    "       cnio cp -r [-L] [-p] [--sync | --checksum] [--resume] ... SRC DST\n"
    "       mpirun -n N cnio cp ... SRC DST\n"
    "\n"
    "Copies SRC to DST; either may be a local path or a cnio:// URI. An upload is staged\n"
    "and replaces DST whole only when it completes (until then readers see the previous\n"
    "version, or nothing); a failed upload is discarded. A download is written to\n"
    "DST.cnio-part and renamed to DST when complete (DST is never partial; a failed one\n"
    "removes DST.cnio-part, an interrupted or killed one leaves it for --resume). Under\n"
    "mpirun the transfer is split over the ranks, each moving its own share directly to\n"
    "or from the servers; rank 0 shows progress and a summary.\n"
    "\n"
    "  --verify       afterwards, compare CRC32C checksums of both ends\n"
    "  --resume       continue an interrupted copy: an upload's staged DST (left by a\n"
    "                 killed client or server), or a download's DST.cnio-part; chunks whose\n"
    "                 CRC32C already match are not moved again; an upload that is\n"
    "                 already complete and identical moves nothing\n"
    "  --live         take a source object that a live writer (a program) has open in\n"
    "                 place as it reads, old and new bytes perhaps mixed (warned); without\n"
    "                 it such a copy is made again, up to 3 passes, then fails (exit 1)\n"
    "  --chunk SIZE   bytes per request per rank (default 16M; 4K to 1G)\n"
    "  -r, -R, --recursive\n"
    "                 copy the tree SRC to DST (SRC's entries become DST's; DST is made\n"
    "                 when missing): files are spread over the ranks as they finish,\n"
    "                 large files split over all ranks; empty directories, empty and\n"
    "                 sparse files and symlinks (as links) are kept; a SRC that is a\n"
    "                 file or an object is copied as without -r\n"
    "  -L             with -r: follow symlinks, to files and to directories (not in cycles)\n"
    "  -p             keep modes and mtimes\n"
    "  --sync         with -r: copy only files that are new or differ in size or mtime\n"
    "                 (implies -p)\n"
    "  --checksum     with -r: as --sync, but a file differs when its CRC32C does\n"
    "  -              as SRC: read standard input; as DST: write standard output\n"
    "  -o NAME=VALUE  hint for the cnio:// side(s), e.g. -o striping_unit=4M -o cnio_lanes=2\n"
    "  --key FILE     shared key file\n"
    "  -q             no progress bar and no summary\n";

int cp_parse(struct cp_job *j, int argc, char **argv, char **pos)
{
    int npos = 0;

    j->o.chunk = 16u << 20;
    for (int i = 1; i < argc; i++) {
        int r;

        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return -2;
        if (!strcmp(argv[i], "--")) {   /* the rest are names, "-dashfile" too (POSIX) */
            for (i++; i < argc && npos < 2; i++)
                pos[npos++] = argv[i];
            if (i < argc) {
                cli_err("cnio cp: %s: extra argument\n", argv[i]);
                return -1;
            }
            break;
        }
        if (!strcmp(argv[i], "--verify")) {
            j->o.verify = 1;
            continue;
        }
        if (!strcmp(argv[i], "--resume")) {
            j->o.resume = 1;
            continue;
        }
        if (!strcmp(argv[i], "--live")) {
            j->o.live = 1;
            continue;
        }
        if (!strcmp(argv[i], "-r") || !strcmp(argv[i], "-R") || !strcmp(argv[i], "--recursive")) {
            j->o.recursive = 1;
            continue;
        }
        if (!strcmp(argv[i], "-L")) {
            j->o.follow = 1;
            continue;
        }
        if (!strcmp(argv[i], "-p")) {
            j->o.preserve = 1;
            continue;
        }
        if (!strcmp(argv[i], "--sync") || !strcmp(argv[i], "--checksum")) {
            j->o.sync = 1;
            j->o.checksum |= argv[i][2] == 'c';
            continue;
        }
        if (!strcmp(argv[i], "--chunk")) {
            /* at least 4K: a 7 MB upload with --chunk 1 was still running after 120 s */
            if (i + 1 >= argc || cnio__parse_size(argv[i + 1], &j->o.chunk) ||
                j->o.chunk < 4096 || j->o.chunk > (1u << 30)) {
                cli_err("cnio cp: --chunk takes a size from 4K to 1G (e.g. 16M)\n");
                return -1;
            }
            i++;
            continue;
        }
        r = cli_common_opt(&j->o, argc, argv, &i);
        if (r < 0)
            return -1;
        if (r > 0)
            continue;
        if ((argv[i][0] == '-' && argv[i][1]) || npos == 2) {
            cli_err("cnio cp: %s: unknown option or extra argument\n", argv[i]);
            return -1;
        }
        pos[npos++] = argv[i];
    }
    if (npos != 2) {
        cli_err("cnio cp: needs SRC and DST\n");
        return -1;
    }
    if ((j->o.follow || j->o.sync) && !j->o.recursive) {
        cli_err("cnio cp: -L, --sync and --checksum go with -r\n");
        return -1;
    }
    return 0;
}

/* Servers and lanes of the remote side, for the summary. */
void cp_remote_shape(struct cp_job *j)
{
    struct cp_end *e = j->dst.remote ? &j->dst : &j->src;
    struct cnio_uri u = { 0 };
    char val[MPI_MAX_INFO_VAL + 1];
    MPI_Info info;
    int flag = 0;

    if (cnio__uri_parse(e->name, &u) == 0)
        j->nhosts = u.nhosts;
    cnio__uri_free(&u);
    j->lanes = 1;
    if (e->fh && cnio_file_get_info(e->fh, &info) == 0) {
        MPI_Info_get(info, "cnio_lanes", MPI_MAX_INFO_VAL, val, &flag);
        if (flag)
            j->lanes = atoi(val);
        MPI_Info_free(&info);
    }
}

void cp_summary(struct cp_job *j, double secs)
{
    const char *carrier = j->dst.remote ? j->dst.carrier : j->src.carrier;
    unsigned long long moved = 0, mine = j->moved, n = j->total;
    char a[32], what[160];

    if (j->resumed)   /* summed over the ranks: the rate is of what moved */
        MPI_Reduce(&mine, &moved, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
    if (j->rank != 0 || j->o.quiet)
        return;
    if (j->resumed) {
        snprintf(what, sizeof(what), "resumed: moved %llu of %llu bytes (%llu were there "
                 "already; %s moved)", moved, n, n - moved, cli_bytes(moved, a, sizeof(a)));
        n = moved;
    } else
        snprintf(what, sizeof(what), "%llu bytes (%s)", n, cli_bytes(n, a, sizeof(a)));
    printf("cnio cp: %s -> %s: %s in %.3f s, %.3f GB/s; %d rank%s, %d server%s, %d lane%s, "
           "transport %s\n", j->src.name, j->dst.name, what, secs, secs > 0 ? n / secs / 1e9 : 0.0,
           j->size, j->size > 1 ? "s" : "", j->nhosts, j->nhosts > 1 ? "s" : "", j->lanes,
           j->lanes > 1 ? "s" : "", *carrier ? carrier : "tcp");
    fflush(stdout);   /* out now: a signal after a download's rename ends the process */
}

/* After an upload failed: what DST is now. 0 no object there, 1 complete (the upload
 * left no part of itself anywhere: the previous version, when there was one), 2
 * incomplete, -1 unknown (it cannot be asked). Its STAT's lines are dropped: the failure
 * was said, and cp_discard says what this finds (a STAT connects to every host first,
 * and would say "cannot connect" again of the host the copy lost: the library says a
 * host's failure once per process, but under mpirun another rank may have said it). */
static int cp_dst_state(const struct cp_job *j)
{
    struct cnio_obj_stat s;
    int rc;

    cnio__log_hold();
    rc = cli_obj_stat(NULL, &j->o, j->dst.name, &s);
    cnio__log_release(0);

    if (rc == -CNIO_ERR_NOENT)
        return 0;
    if (rc || s.is_dir)
        return -1;
    return s.state & CNIO_OBJ_INCOMPLETE ? 2 : 1;
}

/*
 * A failed upload's staged instance was discarded (or could not be); a failed download
 * leaves DST as it was, and its part file is removed (kept with --resume).
 */
void cp_discard(const struct cp_job *j)
{
    /* --resume takes no stream: what the servers kept of one is copied again (the
     * library's lines say the same: stream.c) */
    const char *finish = j->stream_fd >= 0 ? "copying it again replaces it"
                                          : "`cnio cp --resume` finishes it";
    const char *why = NULL;

    if (j->dst.remote) {
        /* a host that stopped answering would keep a STAT waiting as long again */
        int state = j->aborted > 0 ? 1 : j->silent ? -1 : cp_dst_state(j);

        /* what the servers hold now, not what the failed steps suggest: a discard that
         * failed may have found the instance gone already, a failed commit may have
         * reached no host */
        if (j->aborted > 0)
            cli_err("cnio cp: discarded the incomplete upload to %s (the previous "
                    "version, if any, is unchanged)\n", j->dst.name);
        else if (state == 0)
            cli_err("cnio cp: the upload to %s was not committed; there is no object "
                    "there\n", j->dst.name);
        else if (state == 1)
            cli_err("cnio cp: the upload to %s was not committed; the object there is "
                    "unchanged\n", j->dst.name);
        else if (j->aborted < 0)   /* the data failed: no COMMIT was sent */
            cli_err("cnio cp: could not discard the incomplete upload to %s: `cnio "
                    "stat` shows it incomplete%s, %s, " CNIO_RM_ADVICE "\n", j->dst.name,
                    j->silent ? " once every host answers" : "", finish);
        else if (j->silent)   /* the commit's step met a host that did not answer */
            cli_err("cnio cp: the upload to %s may not have committed on every host: one did "
                    "not answer in time (above); what they hold of it is kept, and `cnio stat` "
                    "says what it is once they answer (if incomplete, %s, " CNIO_RM_ADVICE
                    ")\n", j->dst.name, finish);
        else if (state < 0)   /* the library said why, and what it kept */
            cli_err("cnio cp: the upload to %s is not committed on every host (above); a "
                    "host cannot be asked what it holds of it now: `cnio stat` says once "
                    "every host answers\n", j->dst.name);
        else
            cli_err("cnio cp: the upload to %s did not commit on every host: it is "
                    "incomplete (`cnio stat`); %s, " CNIO_RM_ADVICE "\n", j->dst.name,
                    finish);
        return;
    }
    if (!j->part_open)
        return;   /* nothing was written */
    if (j->o.resume) {
        cli_err("cnio cp: %s is unchanged; kept the partial download in %s for "
                "`cnio cp --resume`\n", j->dst.name, j->part);
        return;
    }
    if (unlink(j->part) < 0)
        why = strerror(errno);
    if (why)
        cli_err("cnio cp: could not remove the incomplete download %s: %s\n", j->part,
                why);
    else
        cli_err("cnio cp: removed the incomplete download %s (%s is unchanged)\n",
                j->part, j->dst.name);
}

/*
 * A download interrupted by SIGINT, SIGTERM or SIGHUP (mpirun passes them on to the
 * ranks) has nothing to undo: DST is untouched until the rename. Rank 0 says where the
 * partial download is, and the signal then ends the process as it would have.
 */
static char cp_sig_msg[1024];
static volatile sig_atomic_t cp_sig_renamed;   /* DST is the download now: nothing to say */
static int cp_sig_depth;   /* a tree copy's large files are copied by cp_run, inside it */
static const int cp_sigs[] = { SIGINT, SIGTERM, SIGHUP };
static struct sigaction cp_sig_old[CNIO_ARRAY_LEN(cp_sigs)];

static void cp_sig_handler(int sig)
{
    if (!cp_sig_renamed) {
        ssize_t r = write(STDERR_FILENO, cp_sig_msg, strlen(cp_sig_msg));

        (void)r;
    }
    cli_mpi_tmp_remove_now();   /* atexit handlers do not run: the signal ends it */
    signal(sig, SIG_DFL);
    raise(sig);
}

void cp_sig_catch(const struct cp_job *j, int on)
{
    struct sigaction sa = { .sa_handler = cp_sig_handler };

    if (j->rank != 0 || (on ? cp_sig_depth++ : --cp_sig_depth) > 0)
        return;
    cp_sig_renamed = 0;
    if (j->o.recursive)
        snprintf(cp_sig_msg, sizeof(cp_sig_msg), "\ncnio cp: interrupted: the files copied "
                 "so far stay; the same command with --resume copies the rest\n");
    else if (j->dst.remote)
        snprintf(cp_sig_msg, sizeof(cp_sig_msg), "\ncnio cp: interrupted before the upload "
                 "to %s committed (`cnio stat` shows its state; `cnio cp --resume` continues "
                 "it)\n", j->dst.name);
    else
        snprintf(cp_sig_msg, sizeof(cp_sig_msg), "\ncnio cp: interrupted: %s is unchanged; the "
                 "partial download is in %s (`cnio cp --resume` continues it)\n", j->dst.name,
                 j->part);
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < CNIO_ARRAY_LEN(cp_sigs); i++) {
        if (!on)
            sigaction(cp_sigs[i], &cp_sig_old[i], NULL);
        else if (sigaction(cp_sigs[i], NULL, &cp_sig_old[i]) == 0 &&
                 cp_sig_old[i].sa_handler != SIG_IGN)   /* nohup's SIGHUP stays ignored */
            sigaction(cp_sigs[i], &sa, NULL);
    }
}

/*
 * The handlers still in place, so that a signal before the rename says where the partial
 * download is (they used to be put back first: one between the two ended the copy
 * without a word, DST unchanged). The signals are held in this thread across the rename
 * and the flag, so that one arriving meanwhile does not call a renamed DST unchanged.
 */
int cp_sig_commit(struct cp_job *j)
{
    sigset_t hold, old;
    int rc;

    sigemptyset(&hold);
    for (size_t i = 0; i < CNIO_ARRAY_LEN(cp_sigs); i++)
        sigaddset(&hold, cp_sigs[i]);
    pthread_sigmask(SIG_BLOCK, &hold, &old);
    rc = cp_commit_part(j);
    if (rc == 0 && cp_sig_depth == 1)   /* (a tree's message stays true) */
        cp_sig_renamed = 1;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/*
 * `cnio cp SRC DIR/`: a DST whose path ends in '/' (or a local DST that is a directory)
 * names a directory, and the copy goes into it under SRC's last name component, as
 * cp(1) does: the new DST (malloc'd), or NULL to keep DST. (It used to write an object
 * named DIR, the '/' dropped.)
 */
char *cp_into_dir(const char *src, const char *dst, int src_remote, int dst_remote, int is_dir)
{
    const char *q = dst_remote ? strchr(dst, '?') : NULL, *base;
    size_t dlen = q ? (size_t)(q - dst) : strlen(dst);
    struct cnio_uri u = { 0 };
    struct stat sb;
    char *name = NULL, *out = NULL;

    if (dlen == 0 || (dst[dlen - 1] != '/' && !is_dir &&
                      (dst_remote || stat(dst, &sb) != 0 || !S_ISDIR(sb.st_mode))))
        return NULL;
    if (src_remote) {
        if (cnio__uri_parse(src, &u) == 0)
            name = strdup(u.path);
        cnio__uri_free(&u);
    } else {
        name = strdup(src);
        while (name && strlen(name) > 1 && name[strlen(name) - 1] == '/')
            name[strlen(name) - 1] = '\0';
    }
    base = name ? strrchr(name, '/') : NULL;
    base = base ? base + 1 : name;
    if (base && base[0] && strcmp(base, ".") && strcmp(base, "..")) {
        if (dst_remote) {
            struct tree_end e = { .name = dst };

            out = tree_uri_string(&e, base);
        } else if ((out = malloc(dlen + strlen(base) + 2))) {
            sprintf(out, "%.*s%s%s", (int)dlen, dst, dst[dlen - 1] == '/' ? "" : "/", base);
        }
    }
    free(name);
    return out;
}

/*
 * A copy of one file needs an object at each remote end, and uri (parsed already) names
 * none when nothing follows its hosts: says why and returns 1, else 0. "cnio://h1,h2"
 * (no '/' after the hosts) is malformed for cp; "cnio://h1,h2/" names the root, a
 * directory (a DST ending in '/' was made ROOT/NAME by cp_into_dir before this).
 */
static int cp_names_no_object(const char *uri)
{
    const char *hosts = uri + strlen("cnio://");
    struct cnio_uri u;
    int none;

    if (cnio__uri_parse(uri, &u))
        return 0;
    none = !u.path[0];
    cnio__uri_free(&u);
    if (none && hosts[strcspn(hosts, "/?")] != '/')
        cli_err("cnio cp: %s: names no object: a URI needs a '/' after the hosts, then the "
                "object's name (cnio://hosts/NAME); cnio://hosts/ names the root\n", uri);
    else if (none)
        cli_err("cnio cp: %s: names the root of the store, a directory, not an object "
                "(cnio cp -r copies a tree)\n", uri);
    return none;
}

/* Whether URIs a and b name one object: the same hosts, as written, in the same order,
 * and the same name (their hints aside). cp(1) refuses to copy a file onto itself; a
 * copy of an object onto itself read it and wrote it whole again, exit 0. */
static int cp_same_object(const char *a, const char *b)
{
    struct cnio_uri ua, ub;
    int same = 0;

    if (cnio__uri_parse(a, &ua))
        return 0;
    if (cnio__uri_parse(b, &ub) == 0) {
        same = ua.nhosts == ub.nhosts && !strcmp(ua.path, ub.path);
        for (int i = 0; same && i < ua.nhosts; i++)
            same = !strcmp(ua.hosts[i].name, ub.hosts[i].name) &&
                   ua.hosts[i].port == ub.hosts[i].port;
        cnio__uri_free(&ub);
    }
    cnio__uri_free(&ua);
    return same;
}

/* `cnio cp -r FILE DST` (cli_tree_cp found SRC a file or an object): copies it as without
 * -r, as cp -r does; -p, --resume and --verify apply, --sync and --checksum (which
 * compare trees) are refused. *into: as in cli_cp. */
static int cp_r_file(struct cp_job *j, char **pos, char **into)
{
    if (j->o.sync || j->o.checksum) {
        if (j->rank == 0)
            cli_err("cnio cp: %s: a file, not a tree: --sync and --checksum compare trees "
                    "(copy it without them)\n", pos[0]);
        return CLI_EXIT_USAGE;
    }
    j->o.recursive = 0;
    if ((*into = cp_into_dir(pos[0], pos[1], j->src.remote, j->dst.remote, 0)))
        j->dst.name = pos[1] = *into;
    j->into_ok = j->dst.remote && !j->src.remote && !*into;
    if (j->dst.remote && cp_names_no_object(pos[1]))
        return CLI_EXIT_USAGE;
    return cp_run(j);
}

/*
 * The descriptor of this process a local SRC or DST names as a stream: "-" (standard
 * input as SRC, output as DST), /dev/stdin, /dev/stdout, /dev/stderr, /dev/fd/N and
 * /proc/self/fd/N (also /proc/thread-self/fd/N and /proc/PID/fd/N of this PID), when it
 * is open; else -1. Such a name is a link to whatever the descriptor holds (a pipe, a
 * terminal, a file the shell opened, perhaps for appending): a download writes into it
 * as into standard output. Copied like a file, into a part file renamed over the link's
 * target at the end, it replaced the file the shell had open, and what the shell wrote
 * to it afterwards went to the replaced one: "(echo a; cnio cp URI /dev/stdout) >> log"
 * lost log's contents, with exit 0.
 */
static int cp_stream_fd(const char *name, int is_src)
{
    static const char *const std[] = { "/dev/stdin", "/dev/stdout", "/dev/stderr" };
    static const char *const dirs[] = { "/dev/fd/", "/proc/self/fd/", "/proc/thread-self/fd/" };
    char mine[40];
    const char *p = NULL;
    char *end;
    long fd;

    if (!strcmp(name, "-"))
        return is_src ? STDIN_FILENO : STDOUT_FILENO;
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, std[i]))
            return fcntl(i, F_GETFD) < 0 ? -1 : i;
    snprintf(mine, sizeof(mine), "/proc/%ld/fd/", (long)getpid());
    for (int i = 0; i < 3 && !p; i++)
        if (!strncmp(name, dirs[i], strlen(dirs[i])))
            p = name + strlen(dirs[i]);
    if (!p && !strncmp(name, mine, strlen(mine)))
        p = name + strlen(mine);
    if (!p || *p < '0' || *p > '9')
        return -1;
    errno = 0;
    fd = strtol(p, &end, 10);
    if (*end || errno || fd > INT_MAX || fcntl((int)fd, F_GETFD) < 0)
        return -1;
    return (int)fd;
}

int cli_cp(int argc, char **argv)
{
    struct cp_job j = { .src = { .fd = -1 }, .dst = { .fd = -1 }, .info = MPI_INFO_NULL };
    char *pos[2], *into = NULL;
    int rc = cp_parse(&j, argc, argv, pos);

    if (rc == -2) {
        fputs(cp_help, stdout);
        return CLI_EXIT_OK;
    }
    if (rc < 0) {
        cli_usage(cp_help);
        return CLI_EXIT_USAGE;
    }
    j.src.name = pos[0];
    j.dst.name = pos[1];
    j.src.remote = cnio__uri_is_cnio(pos[0]);
    j.dst.remote = cnio__uri_is_cnio(pos[1]);
    j.stream_fd = j.src.remote == j.dst.remote ? -1
                  : j.src.remote ? cp_stream_fd(pos[1], 0) : cp_stream_fd(pos[0], 1);
    if (!j.src.remote && !j.dst.remote) {   /* (cnio cp - - too) */
        cli_err("cnio cp: one of SRC and DST must be a cnio:// URI\n");
        return CLI_EXIT_USAGE;
    }
    if ((j.stream_fd >= 0 || !strcmp(pos[0], "-") || !strcmp(pos[1], "-")) &&
        (j.o.recursive || j.o.resume || j.o.verify)) {
        cli_err("cnio cp: -r, --resume and --verify do not go with a stream (-, /dev/stdout, "
                "/dev/fd/N)\n");
        return CLI_EXIT_USAGE;
    }
    if ((j.src.remote && cli_check_uri("cp", pos[0])) ||
        (j.dst.remote && cli_check_uri("cp", pos[1])))
        return CLI_EXIT_USAGE;   /* malformed on the command line, like stat and ls */
    if (!j.o.recursive && j.stream_fd < 0 &&
        (into = cp_into_dir(pos[0], pos[1], j.src.remote, j.dst.remote, 0)))
        j.dst.name = pos[1] = into;
    j.into_ok = !j.o.recursive && j.stream_fd < 0 && j.dst.remote && !j.src.remote && !into;
    if (!j.o.recursive && j.src.remote && j.dst.remote && cp_same_object(pos[0], pos[1])) {
        cli_err("cnio cp: %s and %s are the same object (nothing copied)\n", j.src.name,
                pos[1]);
        free(into);
        return CLI_EXIT_FAIL;
    }
    if (!j.o.recursive && ((j.src.remote && cp_names_no_object(pos[0])) ||
                           (j.dst.remote && cp_names_no_object(pos[1])))) {
        free(into);
        return CLI_EXIT_USAGE;
    }
    cli_mpi_init();
    MPI_Comm_rank(MPI_COMM_WORLD, &j.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &j.size);
    j.tty = isatty(STDERR_FILENO);
    rc = cli_info(&j.o, &j.info);
    rc = rc ? cp_report(&j, "hints", rc)
            : j.o.recursive ? cli_tree_cp(&j)
            : j.stream_fd >= 0 ? cli_stream_cp(&j) : cp_run(&j);
    if (rc == CLI_TREE_FILE)
        rc = cp_r_file(&j, pos, &into);
    MPI_Info_free(&j.info);
    fflush(stdout);   /* (the lines said after the summary) before MPI_Finalize: a signal
                         there ends the process, and stdout's buffer with it */
    MPI_Finalize();
    free(into);
    free(j.into);
    return rc;
}
