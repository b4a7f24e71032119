/*
 * cli.h - the cnio command's shared pieces.
 */
#ifndef CNIO_CLI_H
#define CNIO_CLI_H

#include "cnio.h" /* first: the full API, with MPI (the command is an MPI program) */
#include "common.h"
#include "config.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

/* Options every subcommand takes. */
struct cli_opts {
    const char *key_file;       /* --key FILE */
    const char *hints[32];      /* -o name=value */
    int nhints;
    int quiet;                  /* -q: no progress, no summary */
    int verify;                 /* cp --verify */
    int resume;                 /* cp --resume */
    int long_list;              /* ls -l */
    uint64_t chunk;             /* cp --chunk SIZE */
    int recursive;              /* cp -r */
    int follow;                 /* cp -L: follow symlinks (to files and directories) */
    int preserve;               /* cp -p: modes and mtimes */
    int sync;                   /* cp --sync: only new or changed files */
    int checksum;               /* cp --checksum: changed means a different CRC32C */
    int live;                   /* cp --live: a source a live writer updates in place is
                                   copied as it reads (old and new bytes may mix), warned */
    int json;                   /* ls / stat / du --json */
    int parents;                /* mkdir -p */
    int no_preserve_root;       /* rm --no-preserve-root: -r may empty the store */
};

/* Parses one common option at argv[*i] (advancing *i past its value). Returns 1 when it
 * was one, 0 when not, -1 on a bad value (message printed). */
int cli_common_opt(struct cli_opts *o, int argc, char **argv, int *i);
/* Hints for a URI without MPI_Info: defaults, env, query (none when u is NULL), then -o
 * and --key. */
int cli_hints(const struct cli_opts *o, const struct cnio_uri *u, struct cnio_hints *h);
/*
 * cp --resume that found a staged copy (obj, opened): an upload keeps the layout it began
 * with, so a striping_unit or striping_factor asked now (environment, uri's query, -o)
 * that differs from the staged copy's is not applied. Says so (a warning naming both, and
 * the ways to the layout asked); nothing when none was asked or it is the same. Said,
 * not refused: --resume asks to keep what was moved, and a striping hint is a hint
 * (MPI-3.1 13.2.8; ROMIO ignores those of a file that exists).
 */
struct cnio_obj;
void cli_resume_layout(const struct cli_opts *o, const char *uri, const struct cnio_obj *obj);
/* An MPI_Info (free it) with the -o hints and --key: 0 or -CNIO_ERR_HINT. */
int cli_info(const struct cli_opts *o, MPI_Info *info);
/* Parses uri only to check it: 0, or a negative code after printing why (for a
 * malformed URI: which rule it breaks). */
int cli_check_uri(const char *cmd, const char *uri);
/* Parses uri (which must be a cnio:// URI) into *u and its hints into *h; prints why on
 * failure (cnio CMD: ...) and returns the error. */
int cli_target(const char *cmd, const struct cli_opts *o, const char *uri, struct cnio_uri *u,
               struct cnio_hints *h);
/* The exit status of a command whose outcome was rc (0 or a negative CNIO_ERR_* code):
 * CLI_EXIT_OK for 0; CLI_EXIT_USAGE for -CNIO_ERR_URI (a malformed URI, or one naming
 * one server twice, which the library finds once connected) and -CNIO_ERR_HINT (a bad
 * hint, of -o, the URI's query or the environment); else CLI_EXIT_FAIL. */
int cli_status(int rc);
/* The worse of two exit statuses (CLI_EXIT_USAGE, then CLI_EXIT_FAIL, then CLI_EXIT_OK):
 * what a command that acted on several arguments exits with. */
int cli_worse(int a, int b);
/* Prints "cnio CMD: what: strerror(rc)" to stderr (nothing for -CNIO_ERR_URI when the
 * library has said which two hosts are one server); returns cli_status(rc). */
int cli_fail(const char *cmd, const char *what, int rc);
/* Says that uri, whose name ends in '/' (a directory), names an object, as ls(1) and
 * stat(1) say of "file/" (ENOTDIR): CLI_EXIT_FAIL. */
int cli_not_dir(const char *cmd, const char *uri);
/* 1 when this thread's library calls since cnio__log_errors() returned mark said error
 * rc (a line of theirs said it: cnio__log_err; or an error line of theirs holds its
 * text), so that the command need not say it again;
 * never for -CNIO_ERR_AUTH, whose words from cli_fail name the key file. */
int cli_said(unsigned mark, int rc);
/* cli_said, and the line that said it named `name` too: an object's path (for a
 * cnio:// URI, its path, without the query). A line such as "cannot connect to HOST"
 * names no object, and the caller then names it. */
int cli_said_of(unsigned mark, int rc, const char *name);
/* After a usage error (said already): help's synopsis, up to its first blank line, and
 * where the rest is ("cnio cp --help"), on stderr. */
void cli_usage(const char *help);
/* Prints a one-line message to stderr as fprintf would, with control characters in it
 * (from a file or object name, say) escaped as cnio__log does; a newline that ends fmt's
 * output is kept. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Which of standard input, output and error were closed when cnio started (bit 0, 1, 2:
 * /dev/null stands in for them). */
extern int cli_std_closed;
/*
 * MPI_Init for a subcommand. Started without a launcher (a singleton), one process needs
 * neither a daemon nor a network for MPI itself, so Open MPI is told so unless the user
 * set the same variables (OMPI_MCA_ess_singleton_isolated=1, OMPI_MCA_pml=ob1,
 * OMPI_MCA_btl=self): its singleton MPI_Init took 0.32 s here, 0.27 of it probing UCX and
 * starting a daemon, and now takes 0.02 s. Launched on a host with no RDMA device, the
 * ranks skip Open MPI's fabric components (OMPI_MCA_mtl=^psm,psm2,ofi,
 * OMPI_MCA_btl=^ofi,openib,uct, again unless set): they find nothing there but load the
 * psm libraries, 0.2 s of every rank's start (mpi_init.c).
 */
void cli_mpi_init(void);
/* From a signal handler about to end the process: removes what cli_mpi_init made for a
 * singleton (atexit does it otherwise). Async-signal-safe. */
void cli_mpi_tmp_remove_now(void);
/* Formats a byte count as "12.3 MiB". */
const char *cli_bytes(uint64_t n, char *buf, size_t cap);
/* Ends a progress line on stderr after its bytes: the rate of the bytes that moved
 * (bytes/s) and the time left at that rate for left more bytes ("ETA ? s" while nothing
 * moved); with final set, no time left, blanks over a longer line's and a newline. */
void cli_progress_rate(double rate, uint64_t left, int final);

struct cnio_obj;
/* cnio cp --resume: *same = 1 when the object already holds data[0..len) at logical off
 * (CRC32C of each stripe-unit piece, asked of the servers). 0 or a negative code. */
int cli_resume_same(struct cnio_obj *obj, const char *data, uint64_t off, uint64_t len,
                    int *same);

int cli_cp(int argc, char **argv);
/*
 * Parses argv[1..] of a subcommand into o and its positional arguments (at most maxpos).
 * An option other than the common ones is taken only when the first line of help names
 * it (-l, -p, -r, --json). Returns the number of positionals, -1 on bad usage (said
 * why), -2 after printing help.
 */
int cli_parse(const char *help, int argc, char **argv, struct cli_opts *o, char **pos,
              int maxpos);
/* Prints s as a JSON string (quoted, escaped). */
void cli_json_str(const char *s);
int cli_mkdir(int argc, char **argv);
int cli_mv(int argc, char **argv);
int cli_du(int argc, char **argv);
int cli_sum(int argc, char **argv);
/* Removes the directory uri names if it is empty (RMDIR), saying nothing: 0, or a
 * negative CNIO_ERR_* code (-CNIO_ERR_EXIST: it is not empty; cnio__ns_rmdir). */
int cli_rmdir_quiet(const struct cli_opts *o, const char *uri);
/* The first directory of u's name that is an object instead, into dir (cap bytes): 1, or
 * 0 when there is none. A MKDIR or RENAME through one fails with -CNIO_ERR_EXIST, an
 * OPEN with -CNIO_ERR_NOENT; this says which. One STAT a directory, on that failure. */
struct cnio_stack;
struct cnio_hints;
struct cnio_uri;
/* cli_object_on_path for a write of u's name that failed with "no such object", asked of
 * every host (an object of another order of the hosts may be on one that this URI's
 * STAT does not ask): 1 with the object's name in dir and *foreign set when it is
 * another order's; the empty directories that the write's OPEN made on the way to it are
 * removed again (cnio__ns_unshadow). 0 when none is. */
int cli_object_on_way(struct cnio_stack *st, const struct cnio_hints *h,
                      const struct cnio_uri *u, char *dir, size_t cap, int *foreign);
/* " (written through another order of these hosts)" when foreign, else "". */
const char *cli_foreign(int foreign);
int cli_object_on_path(struct cnio_stack *st, const struct cnio_hints *h,
                       const struct cnio_uri *u, char *dir, size_t cap);
/* Whether hint name takes val (arg: the command-line words that gave it, for the message,
 * which cmd begins): 0, else -1, said on stderr (an unknown hint, or a bad value). */
int cli_hint_ok(const char *cmd, const char *arg, const char *name, const char *val);
/* What the object or directory uri is (cnio stat's answer): 0, or a negative code,
 * printed as "cnio CMD: URI: why" unless cmd is NULL. */
struct cnio_obj_stat;
int cli_obj_stat(const char *cmd, const struct cli_opts *o, const char *uri,
                 struct cnio_obj_stat *s);
/* The mode (st_mode bits; 0 when none was recorded) and mtime (signed ns since the epoch)
 * the object or directory uri records: 0, or a negative code (printed as "cnio cp: URI:
 * why"). */
int cli_obj_getattr(const struct cli_opts *o, const char *uri, uint32_t *mode,
                    int64_t *mtime_ns);
/* Records mode (st_mode bits) and mtime_ns (0: not set) on the object uri, as cnio cp -r
 * -p does: 0, or a negative code (printed). */
int cli_obj_setattr(const struct cli_opts *o, const char *uri, uint32_t mode,
                    int64_t mtime_ns);
/* Opens a stack (*st) and, when ns is not NULL, a namespace session (*ns) to the servers
 * of uri (parsed into *u, its hints into *h): 0, or the error, said as "cnio CMD: URI:
 * why" unless cmd is NULL. Whatever it opened, cli_session_end closes (cmds.c). */
struct cnio_ns;
int cli_session(const char *cmd, const struct cli_opts *o, const char *uri,
                struct cnio_uri *u, struct cnio_hints *h, struct cnio_stack **st,
                struct cnio_ns **ns);
void cli_session_end(struct cnio_uri *u, struct cnio_stack *st, struct cnio_ns *ns);
/* -CNIO_ERR_LAYOUT, said ("cnio CMD: URI/REL: ...; name all of them to ACTION"), when
 * listing l (of uri) holds an object of more columns than uri names hosts (TREE_WIDE),
 * which mv or rm through uri would break; else 0 (cmds.c). */
struct tree_list;
int cli_tree_wide(const struct tree_list *l, const char *cmd, const char *uri,
                  const char *action);
/* What `cnio rm` learnt of an argument before it removed anything (rm.c's rm_check: one
 * STAT of its first host, cnio__ns_check), which its removal does not ask again. */
struct cli_rm_seen {
    int rc;       /* cnio__ns_check's answer: 0 (the first host holds it, and it fits the
                     URI's hosts), -CNIO_ERR_NOENT (the first host holds none of it), or
                     what failed */
    int is_dir;   /* with rc 0: the first host holds it as a directory */
};
/* `cnio rm -r URI` (rm.c): the objects beneath URI, its directories, URI, with what
 * rm_check learnt of URI in *seen. The exit status. */
int cli_rm_tree(const struct cli_opts *o, const char *uri, const struct cli_rm_seen *seen);
/* `cnio rm URI` of one object (u, h: uri parsed; seen: what rm_check learnt of it): 0
 * when it removed the object, or the remains of one whose first host no longer had it
 * (a removal that stopped halfway; said on standard error); else the error, said ("no
 * such object": no host had any of it). */
struct cnio_stack;
int cli_rm_object(struct cnio_stack *st, const char *uri, const struct cnio_uri *u,
                  const struct cnio_hints *h, const struct cli_rm_seen *seen);
/* `cnio cp -r` (tree.c): called by cli_cp with MPI initialised; returns the exit status,
 * or CLI_TREE_FILE (every rank, nothing done) when SRC is a file or an object, which
 * cli_cp then copies as without -r, as cp -r does. */
struct cp_job;
#define CLI_TREE_FILE (-1)
int cli_tree_cp(struct cp_job *j);
/* `cnio cp - URI`, `cnio cp URI -` (stream.c): the same. */
int cli_stream_cp(struct cp_job *j);

/* ---- localio.c: the local file side of cp ------------------------------------------ */

/*
 * A download (cp, and each file of cp -r) writes DST.cnio-part beside DST and renames it
 * to DST only when all of it is there (every rank's share written and flushed, and
 * --verify agreed): DST is never seen partial, and a previous DST stays as it was until
 * then. A killed download leaves DST.cnio-part, which --resume continues. A name too long
 * for the suffix (a file name has 255 bytes at most) gets .cnio-part-HASH instead: 16 hex
 * digits of its FNV-1a hash, the same in every run.
 */
#define CLI_PART ".cnio-part"
/* The part file of path into out (cap bytes): the length, or -1 when it does not fit. */
int cli_part_name(const char *path, char *out, size_t cap);

/*
 * What says whether a local source file changed while it was read: its size, mtime and
 * ctime (a write moves both times; tar's "file changed as we read it"). cli_snap takes
 * it of open fd (0, or an errno); cli_snap_changed is 1 when fd's differs from *was now
 * (or cannot be read), else 0. Times tick at the kernel's clock granularity: a write in
 * the same tick as the previous one may not move them.
 */
struct cli_snap {
    uint64_t size;
    int64_t mtime_s, mtime_ns, ctime_s, ctime_ns;
};
int cli_snap(int fd, struct cli_snap *s);
int cli_snap_changed(int fd, const struct cli_snap *was);
/* 1 when regular file fd has a byte at offset size (its st_size, say), else 0 (one
 * pread). Files of /proc and /sys say 0 or 4096 whatever they hold: a copy planned by
 * st_size would take their first st_size bytes for the whole, and exit 0. */
int cli_longer_than(int fd, uint64_t size);
#define CLI_LONGER_WHY "holds more bytes than its size says (a file of /proc or /sys, " \
    "say): not copied; `cat FILE | cnio cp - URI` copies what it reads"

/*
 * A local source file is opened O_NONBLOCK, so that the open of a FIFO no one writes (or
 * of a device) returns instead of waiting for ever; cli_regular then takes the fd on:
 * 0 once it is a regular file (O_NONBLOCK cleared), EISDIR for a directory, ENODEV for
 * anything else (said with CLI_NOT_REGULAR_WHY), or an errno of fstat or fcntl.
 */
int cli_regular(int fd);
#define CLI_NOT_REGULAR_WHY "not a regular file (a FIFO, socket or device, which an object " \
    "cannot be): not copied; `cnio cp - URI < FILE` copies what it reads"

/*
 * A copy whose source object a live writer had open in place copies it again (cp.c,
 * tree_file.c); before any pass (the first too), while a writer is live, it waits for it
 * to close, looking again after the pause this gives (k: the looks made so far since
 * the pass, from 0): 100 ms, doubled each time up to 1 s; 0 once CLI_LIVE_WAIT_MS have
 * passed in all: a writer still live then fails the copy before the pass moves a byte
 * (unless --live: no wait).
 */
#define CLI_LIVE_WAIT_MS 2500u
#define CLI_LIVE_WAIT_S "2.5 s"
unsigned cli_live_pause_ms(int k);
/*
 * Waits for a live writer that a look has just found with a source object open in place
 * to close it: look(arg) is asked again after each pause of cli_live_pause_ms, until it
 * says anything but 1 (1: a writer is live; 0: none is; a negative code: it cannot say)
 * or CLI_LIVE_WAIT_MS have passed. Its last answer (1: still live after the wait). The
 * look is the caller's (where it asks, and what it keeps of the answer, is arg's).
 */
int cli_live_wait(int (*look)(void *arg), void *arg);
/* cli_live_wait, each look a cnio__obj_inplace through obj (an open of the source
 * object, as one process reads it: tree_file.c, stream.c), its mark into *mark. The
 * last answer: 1 (still live after the wait), 0, or a negative code
 * (-CNIO_ERR_INCOMPLETE: the writer went without closing it). */
int cli_live_wait_obj(struct cnio_obj *obj, uint64_t *mark);
/* How many passes a copy makes at most over a source object that changes as it is read
 * (cp_transfer over one file, tf_fetch_whole over a file of a tree). */
#define CLI_PASSES 3
#define CLI_PASSES_S "3"
/*
 * What a pass over a source object saw, from whether a live writer had it open in place
 * before and after the pass and whether its hosts' mark moved between: CLI_PASS_LIVE
 * when a writer was live at either end (unless live_ok, --live: a read beside a writer,
 * as MPI-IO lets it be, is taken), CLI_PASS_MOVED when the mark moved with no writer
 * live at the end (an update that came and went), else CLI_PASS_SAME.
 */
enum { CLI_PASS_SAME, CLI_PASS_MOVED, CLI_PASS_LIVE,
       CLI_PASS_TORN /* (the caller's own: its look said -CNIO_ERR_INCOMPLETE) */ };
int cli_pass_verdict(int live_ok, int live_before, int live_after, int moved);
/* What a copy that failed beside a live writer tells its user to do: wait, or --live. */
#define CLI_LIVE_WAIT "wait until the program writing it has closed it"
#define CLI_LIVE_OPT "copy with --live to accept a copy that may hold old and new bytes " \
    "mixed (what MPI-IO lets a reader beside a writer see)"
#define CLI_LIVE_ADVICE CLI_LIVE_WAIT ", or " CLI_LIVE_OPT
/* What a copy says of a source object whose update in place was interrupted while it was
 * copied (cnio__obj_inplace: -CNIO_ERR_INCOMPLETE, a writer went without closing it),
 * which --live does not take: its bytes may be torn, as a new open of it is told. */
#define CLI_TORN "an update of it in place was interrupted (its writer went without " \
    "closing it) while it was copied, so its bytes may be torn"
#define CLI_TORN_ADVICE "cnio stat says which hosts; a program that opens it for writing " \
    "and closes it cleanly takes it as it is"

/* len bytes of buffer, populated up front (no page faults on first use), or NULL;
 * cli_buf_free(p, len) releases it (p may be NULL). */
void *cli_buf_alloc(size_t len);
void cli_buf_free(void *p, size_t len);
/*
 * Reads [lo, hi) of local file fd ahead, in chunks of chunk bytes cut from lo, into a
 * small ring of reused buffers (a thread of its own). 0 or -CNIO_ERR_NOMEM.
 */
struct cli_reader;
int cli_reader_open(int fd, uint64_t lo, uint64_t hi, uint64_t chunk, struct cli_reader **out);
/*
 * The chunk at off (len bytes: the whole chunk, or what is left of the range), asked for
 * in order: *data points at it until the next call. Returns 0, an errno, EINVAL when off
 * or len is not the next chunk, or -1 when the file ended before the chunk did.
 */
int cli_reader_get(struct cli_reader *r, uint64_t off, uint64_t len, const char **data);
/* Stops the thread and frees the buffers (r may be NULL). */
void cli_reader_close(struct cli_reader *r);
/*
 * Writes a download's chunks to local file fd behind it (a thread of its own, which
 * pwrites one chunk while the next arrives; without a thread, each is written at once).
 * 0 or -CNIO_ERR_NOMEM.
 */
struct cli_writer;
int cli_writer_open(int fd, struct cli_writer **out);
/* Waits until the chunk handed over before is written, then hands over buf (len bytes
 * for offset off; it must stay untouched until the next call); len 0 only waits. 0, or
 * the errno of the first write that failed (ENOMEM for a NULL w). */
int cli_writer_put(struct cli_writer *w, const char *buf, uint64_t len, uint64_t off);
/* Waits for the last chunk, stops the thread and frees w (which may be NULL). */
void cli_writer_close(struct cli_writer *w);
int cli_ls(int argc, char **argv);
int cli_stat(int argc, char **argv);
int cli_rm(int argc, char **argv);
int cli_keygen(int argc, char **argv);
int cli_bench(int argc, char **argv);
/* `cnio run [--sockets] [--mpiio] PROGRAM [ARGS]`: execs PROGRAM; returns only on failure. */
int cli_run(int argc, char **argv);
/* The absolute path of library name into out (PATH_MAX bytes): $env when set (it must
 * be readable), else found beside this command (beside[]: directories relative to it)
 * or in the libdir. 0, or -1 after a message on stderr. */
int cli_run_find_lib(const char *name, const char *env, const char *const *beside,
                     size_t nbeside, char *out);
/* Sets up the environment of `cnio run --sockets` (proxy, LD_PRELOAD). -1 after a
 * message when libcnio_sockets.so is not found (cnio run then exits 1); 0 otherwise,
 * also when no proxy could be had (said on stderr: the program runs without it). */
int cli_run_sockets(void);

#endif /* CNIO_CLI_H */
