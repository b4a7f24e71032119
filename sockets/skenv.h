/*
 * skenv.h - the socket shim's knobs (environment, read by the shim in each process and
 * by the proxy, which inherits the launcher's environment) and the rendezvous: where the
 * job's proxy listens, and how the first process of a job starts it (cnio run --sockets).
 *
 * Knobs (defaults in brackets):
 *   CNIO_SOCKETS_PROXY            the proxy's socket path; set by `cnio run --sockets`
 *   CNIO_SOCKETS_MANAGE           remote | all | none [remote]: which TCP connects go
 *                                 through admission (all = loopback too)
 *   CNIO_SOCKETS_NAMES            1 | 0 [1]: answer name lookups from the proxy's cache
 *   CNIO_SOCKETS_WINDOW_INIT      first window of setups in flight per destination [4]
 *   CNIO_SOCKETS_WINDOW_MAX       cap of that window (e.g. the listener's backlog) [64]
 *   CNIO_SOCKETS_CONNECT_TIMEOUT_MS  deadline of a managed connect, admission wait
 *                                 included, replacing the kernel's ~127 s [30000]
 *   CNIO_SOCKETS_SLOW_MS          a setup slower than this shrinks the window [500]
 *   CNIO_SOCKETS_SETTLE_MS        a completed setup keeps its slot this long, the
 *                                 listener's time to accept it [2]
 *   CNIO_SOCKETS_HOLDDOWN_MS      after a refusal/time-out, new connects to the
 *                                 destination fail at once for this long [5000]
 *   CNIO_SOCKETS_NAME_TTL_MS      life of a cached name answer (capped at 300000) [30000]
 *   CNIO_SOCKETS_PROXY_TIMEOUT_MS longest silence the shim accepts from the proxy before
 *                                 falling back to libc [3000]
 *   CNIO_SOCKETS_PROXY_IDLE_MS    the proxy exits this long after its last process [2000]
 *   CNIO_SOCKETS_RUNDIR           directory for the proxy's socket, lock and log
 *                                 [$XDG_RUNTIME_DIR or /tmp, then /cnio-sockets-UID]
 *   CNIO_SOCKETS_PROXY_LOG        the proxy's log (its stderr and final report), kept
 *                                 after it exits [RUNDIR/KEY.log, removed at a clean exit]
 *   CNIO_SOCKETS_JOB              auto | off [auto]: one proxy for the whole job across
 *                                 nodes (sockets/proxy_job.c), or one per node
 *   CNIO_SOCKETS_JOB_WAIT_MS      a node's proxy waits this long at its start for the job
 *                                 proxy [3000]
 *   CNIO_SOCKETS_JOB_ADDR, CNIO_SOCKETS_JOB_SECRET  the job proxy's IPv4 address and the
 *                                 job's secret [mpirun's address and per-job secret]
 *   CNIO_STATS                    1: each process prints its shim counters at exit
 */
#ifndef CNIO_SKENV_H
#define CNIO_SKENV_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

enum cnio__sk_manage { CNIO__SK_MANAGE_NONE, CNIO__SK_MANAGE_REMOTE, CNIO__SK_MANAGE_ALL };

struct cnio__sk_conf {
    int manage;
    int names;
    int window_init, window_max;
    int64_t connect_timeout_ms, slow_ms, settle_ms, holddown_ms, name_ttl_ms;
    int64_t proxy_timeout_ms, proxy_idle_ms, job_wait_ms;
    int64_t nonblock_wait_ms;   /* a non-blocking connect's wait for admission */
    int stats;
    char bad[512];   /* the settings not taken as given, and what was used: "" when none */
};

/* Fills c from the environment; a malformed value keeps its default, one out of range is
 * brought to its bound, and c->bad says which (cnio run --sockets and the proxy's log
 * tell; each process of the program does not). */
void cnio__sk_conf_load(struct cnio__sk_conf *c);

/*
 * Writes the job's key into buf: "key-" and CNIO_SOCKETS_JOB_KEY when the user set it;
 * else PMIX_NAMESPACE, else OMPI_MCA_orte_ess_jobid, followed, when
 * OMPI_MCA_orte_hnp_uri is set, by "-" and 8 hex digits of its FNV-1a hash; else
 * "slurm-" SLURM_JOB_ID "." SLURM_STEP_ID (srun without PMIx); else "pbs-" PBS_JOBID;
 * else "local-PID" (pid = this process). Every character outside [A-Za-z0-9._-] is
 * replaced by '_'. Open MPI 4 derives the namespace from mpirun's host and pid, so two jobs in a
 * row can share it; mpirun's URI (its listening ports), the same for every rank of a job
 * on every node, tells them apart. Returns 0, or -ENAMETOOLONG.
 */
int cnio__sk_job_key(char *buf, size_t cap);
/* The same, for the environment that get(ctx, NAME) reads (NULL: not set) of process pid
 * (another process's, read from /proc/PID/environ: sockets/shim_down.c). */
int cnio__sk_job_key_of(const char *(*get)(void *ctx, const char *name), void *ctx, long pid,
                        char *buf, size_t cap);

/*
 * Writes len bytes at msg to fd (standard error: a line of the shim's or of `cnio run`)
 * in one write(2) without SIGPIPE: the signal is blocked in this thread for the write,
 * and one the write raised is taken back, unless one was pending already. A program
 * whose stderr is a pipe its reader left (`mpirun ... 2>&1 | tee`, tee gone) is not
 * killed by a line it never wrote itself (helper-110: exit 141). Async-signal-safe.
 * Returns what write(2) returned (-1 and errno, EPIPE among them).
 */
ssize_t cnio__sk_write_quiet(int fd, const void *msg, size_t len);

/* The run directory's path (CNIO_SOCKETS_RUNDIR, else ${XDG_RUNTIME_DIR:-/tmp}, the
 * former when it is a directory, then /cnio-sockets-UID) into buf, neither made nor
 * checked, as given (maybe relative): 0, or -ENAMETOOLONG. */
int cnio__sk_rundir_path(char *buf, size_t cap);

/*
 * Where the shims' mark that the proxy at sock was lost (SOCK.down, sockets/shim_down.c)
 * goes when none can be made beside sock (its directory does not exist, or cannot be
 * written): RUNDIR/lost-HASH.down, HASH the 16 hex digits of the FNV-1a hash (64 bits) of
 * sock, into buf. Every process of the job computes the same from its environment. 0,
 * -EINVAL when sock or the run directory's path is relative (processes in different
 * directories would name different places), or -ENAMETOOLONG.
 */
int cnio__sk_down_alt(char *buf, size_t cap, const char *sock);
/*
 * Parses a shims' mark (what sockets/shim_down.c writes, in either place): "PID START\n",
 * or "PID START KEY\n" where the job's top process is its launcher's (KEY: the job's key,
 * cnio__sk_job_key: any bytes but space, newline and NUL); the final newline may be
 * missing. PID 1..2^31-1 and START (its start time, /proc/PID/stat field 22) decimal, at
 * most 19 digits each. 0 with *pid, *start and key (key_cap bytes; "" when none), or -1
 * (not a mark; a KEY that does not fit). The one parser of the mark: the shim that
 * judges one and the proxy's sweep that removes those of ended jobs both read it here.
 */
#define CNIO__SK_MARK_KEY_MAX 128   /* the longest KEY a mark holds, with its NUL */
/* (Inline: the shim reads the mark on its path for a lost proxy, whose depth below an
 * intercepted call is held under 2048 bytes of stack: tests/sockets/shim-stack.test.) */
static inline int cnio__sk_digits(const char **s, unsigned long long *v)
{
    int n = 0;

    for (*v = 0; **s >= '0' && **s <= '9' && n < 19; (*s)++, n++)
        *v = *v * 10 + (unsigned long long)(**s - '0');
    return n ? 0 : -1;
}

static inline int cnio__sk_mark_parse(const char *buf, long *pid, unsigned long long *start,
                                      char *key, size_t key_cap)
{
    unsigned long long p;
    size_t n = 0;

    if (!key_cap || cnio__sk_digits(&buf, &p) || p == 0 || p > 0x7fffffff || *buf++ != ' ' ||
        cnio__sk_digits(&buf, start))
        return -1;
    key[0] = '\0';
    if (*buf == ' ') {
        n = strcspn(++buf, " \n");
        if (!n || n >= key_cap)
            return -1;
        memcpy(key, buf, n);
        key[n] = '\0';
        buf += n;
    }
    if (*buf && strcmp(buf, "\n"))
        return -1;
    *pid = (long)p;
    return 0;
}

/*
 * Creates (mode 0700) or checks the run directory and writes its absolute path into buf. Fails
 * with -EPERM when it exists but is not a directory owned by this uid with no group or
 * other access, else -errno. Returns 0.
 */
int cnio__sk_rundir(char *buf, size_t cap);

/*
 * Opens (creating it when create is set, mode 0600) and locks (flock LOCK_EX) the file at
 * path, retrying every 10 ms for timeout_ms at most; a file that was removed from path
 * while we waited for it (the proxy removes its lock as it exits) is let go and the one
 * now at path taken instead. Returns the locked fd (close it to unlock), or -errno
 * (-ETIMEDOUT when the lock stayed busy, -ENOENT without create and no file).
 */
int cnio__sk_lock_file(const char *path, int create, int64_t timeout_ms);

/* 0 when a proxy accepts connections on path (bounded by timeout_ms), else -errno. */
int cnio__sk_proxy_alive(const char *path, int64_t timeout_ms);

/*
 * Makes sure this job's proxy runs: takes the job's lock (LOCK_EX on RUNDIR/KEY.lock,
 * waiting at most 10 s + CNIO_SOCKETS_JOB_WAIT_MS), and unless a proxy answers on
 * RUNDIR/KEY.sock, starts
 * proxy_bin --socket PATH --ready-fd N --lock LOCK --log|--keep-log LOG detached (setsid,
 * double fork, LD_PRELOAD removed; the proxy writes to LOG: RUNDIR/KEY.log, removed at its
 * exit if it created it, or CNIO_SOCKETS_PROXY_LOG, kept) and waits until it listens:
 * 10 s at most beyond CNIO_SOCKETS_JOB_WAIT_MS, the wait for the job proxy that the
 * proxy does before it listens. Writes the socket
 * path into sock. Returns 0, or -errno (the caller then runs without the shim's proxy)
 * with why (whycap bytes) saying which step failed and on what path. A proxy that did
 * not start leaves neither its lock nor an empty log behind; its log, when it exited and
 * the log is short (512 bytes at most), is said in why and removed, unless it is
 * CNIO_SOCKETS_PROXY_LOG or held lines before the start; a log left in the run
 * directory is pointed at in why and keeps the lock beside it, for a later proxy's
 * sweep to remove both once old.
 */
int cnio__sk_proxy_ensure(const char *proxy_bin, char *sock, size_t cap, char *why,
                          size_t whycap);

#endif /* CNIO_SKENV_H */
