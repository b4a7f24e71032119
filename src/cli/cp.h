/*
 * cp.h - what the files of `cnio cp` share: cp.c moves the bytes of one file (open,
 * chunked passes, close and commit), cp_src.c watches a remote source that may change
 * as it is read, cp_dst.c opens its destination and commits a download's, cp_ui.c holds
 * what the user types and reads (the usage, the arguments, the summaries, what a failed
 * copy says it left behind).
 */
#ifndef CNIO_CLI_CP_H
#define CNIO_CLI_CP_H

#include "cli.h"

#include <stdint.h>

/* One side of the copy: a local file descriptor or an open object. */
struct cp_end {
    const char *name;
    int remote;
    int fd;
    cnio_file_t *fh;
    char carrier[64];            /* what carried the data: "tcp", "ofi (tcp;ofi_rxm)", ... */
};

struct cp_job {
    struct cli_opts o;
    struct cp_end src, dst;
    MPI_Info info;
    int rank, size;
    uint64_t total;              /* bytes to copy */
    struct cli_snap src_snap;    /* a local SRC as this rank opened it */
    uint32_t src_mode;           /* ... and its st_mode then (what -p gives DST) */
    uint64_t lo, hi;             /* this rank's range */
    uint64_t iters;              /* chunks per rank: the same count on every rank */
    uint64_t done;               /* bytes this rank copied (or found already there) */
    uint64_t moved;              /* bytes this rank actually moved */
    int resumed;                 /* --resume found something to continue */
    int again;                   /* a pass after one whose SRC changed as it was read
                                    (cp_transfer): DST holds that pass's bytes */
    int there;                   /* --resume found DST already SRC: nothing to copy */
    uint32_t link_mode;          /* SRC is an object cnio cp -r kept as a symbolic link:
                                    its mode (S_IFLNK), else 0 */
    unsigned lib_errors;         /* cnio__log_errors() when cp_run began */
    int aborted;                 /* a failed upload's staged instance was discarded */
    int silent;                  /* it failed as a host stopped answering (TIMEOUT) */
    char *final;                 /* download: the file DST names (a symlink's target) */
    char *part;                  /* download: final + CLI_PART, written until complete */
    int part_open;               /* download: part was opened by this copy */
    int part_lock;               /* rank 0: part, flock()ed until the rename (or -1) */
    int ref_fd;                  /* download --resume without a part: final, compared */
    double t0, last_print;
    int nhosts, lanes;           /* of the remote side, for the summary */
    int tty;
    int into_ok;                 /* an upload whose DST may turn out a directory on the
                                    servers: then DST/NAME, as cp(1) (cp_dst.c) */
    char *into;                  /* that DST/NAME (the caller frees it) */
    int stream_fd;               /* a stream's local end: "-" (0 or 1), or the descriptor a
                                    name such as /dev/stdout or /dev/fd/N names (else -1) */
};

/* Copies one file (j's names, options, info, rank and size set) over all ranks of
 * MPI_COMM_WORLD: the exit status (CLI_EXIT_*), the same on every rank. Collective. */
int cp_run(struct cp_job *j);
/* DST/NAME, NAME the last part of SRC's path, when DST names a directory: ends in '/',
 * is a local directory, or (is_dir) is known to be one; else NULL (and on ENOMEM). */
char *cp_into_dir(const char *src, const char *dst, int src_remote, int dst_remote,
                  int is_dir);
/* All ranks: the same rc everywhere (the lowest). Collective. */
int cp_agree(int rc);
/* Keeps this process's first local failure (e's name, errno err, or msg instead of
 * strerror), which cp_report says; returns err as a -CNIO_ERR_* code. */
int cp_local_fail(const struct cp_end *e, int err, const char *msg);
/* This rank's range j->lo..j->hi of j->total, contiguous shares cut at chunk multiples,
 * and j->iters, the collective calls every rank makes. */
void cp_range(struct cp_job *j);
/* Opens DST (cp_dst.c): a remote one for writing (with --resume the interrupted upload,
 * or j->there set when DST already holds SRC), or a download's part file, locked, at the
 * source's size. 0 or a -CNIO_ERR_* code, the same on every rank. Collective. */
int cp_open_dst(struct cp_job *j);
/* Rank 0, a download that every rank finished: its part file becomes DST. */
int cp_commit_part(struct cp_job *j);
/* Reports a failed copy once: the local failures of the ranks, each said once (the
 * lowest rank with one says it; another rank only a different one: a missing SRC is
 * said once, not by every rank); otherwise rank 0 the (agreed) remote one. Collective;
 * returns CLI_EXIT_FAIL for a local failure, else cli_status(rc). */
int cp_report(const struct cp_job *j, const char *what, int rc);
/* The usage text of `cnio cp`. */
extern const char cp_help[];
/* Parses argv into j->o and the two positionals pos[0..1]: 0, -1 on bad usage (said
 * why), -2 for --help. */
int cp_parse(struct cp_job *j, int argc, char **argv, char **pos);
/* Servers and lanes of the remote side, for the summary. */
void cp_remote_shape(struct cp_job *j);
/* Rank 0: the one-line summary of a finished copy (not with -q); after --resume, how
 * much was moved and how much was there already (summed over the ranks), the rate
 * being of what moved. Collective. */
void cp_summary(struct cp_job *j, double secs);
/* Rank 0, after a failed copy: removes a download's DST.cnio-part (not with --resume)
 * and says what was left behind. */
void cp_discard(const struct cp_job *j);
/* On rank 0, installs (on) or puts back (off) the SIGINT, SIGTERM and SIGHUP handlers
 * that say what an interrupted copy leaves (a download's partial file, an upload's
 * staged instance, a tree's files copied so far) and how --resume goes on, before the
 * signal ends the process as it would have. Calls nest: the innermost pair does
 * nothing (a tree copy's large files). */
void cp_sig_catch(const struct cp_job *j, int on);
/* Rank 0: cp_commit_part with the handlers of cp_sig_catch still in place, a signal
 * from the rename on ending the process without saying DST is unchanged. */
int cp_sig_commit(struct cp_job *j);

/* What rank 0 found of a remote SRC at one time (cp_src_look). */
struct cp_look {
    int inplace;       /* a live writer had it open in place */
    int torn;          /* an update in place was interrupted (cnio__obj_inplace) */
    int known;         /* mark holds what the hosts said */
    uint64_t mark;     /* cnio__obj_inplace's digest: changes with every write */
};
/* A remote SRC that may change as it is copied (cp_src.c), for cp_transfer's passes. */
/* Rank 0: whether a live writer has a remote SRC open in place now, and a mark of what
 * its hosts hold, into *l (all 0 on the other ranks, or for a local SRC). */
void cp_src_look(const struct cp_job *j, struct cp_look *l);
/* Before a pass (rc: this rank's code so far): rank 0 waits a moment for a live writer
 * of *l to close, and fails the copy when one is still live, or when SRC's update in
 * place was interrupted. 0, or a negative code (agreed). Collective. */
int cp_src_gate(struct cp_job *j, struct cp_look *l, int rc);
/* Rank 0: says why pass `pass` (not the first) is made (why: cp_src_changed's; not with
 * -q). */
void cp_say_again(const struct cp_job *j, int why, int pass);
/* After pass `pass` succeeded: why it is to be made again (agreed; CLI_PASS_SAME, 0: it
 * is not), *after rank 0's look now; after CLI_PASSES passes a failure in *rc instead.
 * Collective. */
int cp_src_changed(struct cp_job *j, int pass, const struct cp_look *before,
                   struct cp_look *after, int *rc);

#endif /* CNIO_CLI_CP_H */
