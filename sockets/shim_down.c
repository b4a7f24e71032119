/*
 * shim_down.c - SOCKET.down, the mark that a job was told its proxy is lost: the line is
 * said once per job, not by each of its processes (a script's every command loads the
 * shim and would say it again, into the stderr the script may be capturing).
 *
 * A job, here, is the tree of processes under its top process: the program `cnio run`
 * execs, or else the first process that loads the shim with no top process named in its
 * environment; but under a launcher (a job key not "local-"), the launcher's process of
 * the node that every rank there descends from (down_launcher), with the job's key. The
 * top process is named in CNIO_SOCKETS_TOP=PID:START[:KEY] (START: its start time, from
 * /proc/PID/stat, so that a reused pid is not taken for it), which children inherit. The
 * mark holds the top process of the job that made it ("PID START[ KEY]"); where that is
 * the launcher's, the node's last rank removes it as it exits (shim_down_exit).
 * It is honoured while that process lives; once it is gone the mark is stale, and the
 * next process to lose the proxy replaces it and says the line (another job is told).
 * The top process removes a mark that names it when it exits, so a job that ends
 * normally leaves none (in the run directory, or beside a socket path given by hand); a
 * proxy listening on SOCKET again removes it too, and a proxy's sweep a dead job's.
 * A top process may end with no exit handler run (dash exits through _exit, a signal
 * kills, an exec'd program replaces it), so the process that makes the mark also leaves
 * a watcher behind (down_watch): detached, all fds closed, it waits on a pidfd for the
 * top process the mark names to end, then removes the mark if it still names it (unless
 * a subreaper of the job adopted it, which might wait for it: down_watcher).
 *
 * Where no mark can be made beside SOCKET (a path given by hand in a directory that does
 * not exist, or that cannot be written), it goes into the run directory instead, as
 * RUNDIR/lost-HASH.down (cnio__sk_down_alt: a name every process of the job computes from
 * SOCKET and its environment), the directory made as `cnio run` makes it. Where neither
 * can be made, each process that loses the proxy says so (shim_down_first: 2), and its
 * line says that it is repeated, rather than claim once.
 *
 * All that runs when the proxy is lost (shim_down_first) is async-signal-safe: a connect
 * in a signal handler may be where it is lost. A mark is written whole under a name of
 * this process's own and then linked into place, so no process reads half of one.
 */
#include "shim.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* The marks' paths fit this (a longer run directory: no mark there). */
#define DOWN_MAX 256

/* The longest job key a mark holds (a longer one: the job is told as one outside a
 * launcher, the top process being the first to load the shim). */
#define DOWN_KEY_MAX CNIO__SK_MARK_KEY_MAX

/* The top process of this process's job (shim_down_init), and when it is the launcher's
 * process of the node (down_launched), the job's key: "" when the top process is one
 * that loaded the shim. */
static long down_top_pid;
static unsigned long long down_top_start;
static char down_key[DOWN_KEY_MAX];
static int down_launched;
/* The mark's two places, SOCKET.down and RUNDIR/lost-HASH.down ("": none), and the run
 * directory, made when the second is used. */
static char down_mark[2][DOWN_MAX];
static char down_dir[DOWN_MAX];

/* Appends n in decimal to s (cap bytes, kept NUL-terminated) at *len. */
static void down_cat_num(char *s, size_t cap, size_t *len, unsigned long long n)
{
    char d[24];
    size_t k = sizeof(d);

    do
        d[--k] = (char)('0' + n % 10);
    while ((n /= 10) > 0 && k > 0);
    while (k < sizeof(d) && *len + 1 < cap)
        s[(*len)++] = d[k++];
    s[*len] = '\0';
}

static void down_cat(char *s, size_t cap, size_t *len, const char *t)
{
    while (*t && *len + 1 < cap)
        s[(*len)++] = *t++;
    s[*len] = '\0';
}

/* Parses "A<sep>B" (two decimal numbers, then nothing but a newline): 0, or -1. */
static int down_parse(const char *s, char sep, long *a, unsigned long long *b)
{
    unsigned long long x = 0, y = 0;
    int nx = 0, ny = 0;

    for (; *s >= '0' && *s <= '9' && nx < 19; s++, nx++)
        x = x * 10 + (unsigned long long)(*s - '0');
    if (!nx || *s++ != sep)
        return -1;
    for (; *s >= '0' && *s <= '9' && ny < 19; s++, ny++)
        y = y * 10 + (unsigned long long)(*s - '0');
    if (!ny || (*s && strcmp(s, "\n")) || x == 0 || x > 0x7fffffff)
        return -1;
    *a = (long)x;
    *b = y;
    return 0;
}

/* Field want (4: the parent's pid, 22: the start time) of /proc/PID/stat, read after the
 * last ')' since the command name may hold any character, and the state (field 3) into
 * *state when state is not NULL: 0 when it cannot be read (no such process). */
static unsigned long long down_stat(long pid, int want, char *state)
{
    char path[40], buf[64];
    unsigned long long v = 0;
    size_t n = 0;
    int field = 0, fd;
    ssize_t k;

    down_cat(path, sizeof(path), &n, "/proc/");
    down_cat_num(path, sizeof(path), &n, (unsigned long long)pid);
    down_cat(path, sizeof(path), &n, "/stat");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    while ((k = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < k; i++) {
            if (buf[i] == ')') {
                field = 2, v = 0;
            } else if (field >= 2 && buf[i] == ' ') {
                if (field++ == want)
                    goto done;
            } else if (field == 3 && state) {
                *state = buf[i];
            } else if (field == want && buf[i] >= '0' && buf[i] <= '9') {
                v = v * 10 + (unsigned long long)(buf[i] - '0');
            }
        }
    }
    v = field == want ? v : 0;
done:
    shim_real.close(fd);
    return v;
}

/* The start time of process pid: 0 when there is no such process. */
static unsigned long long down_start(long pid)
{
    return down_stat(pid, 22, NULL);
}

/* The mark's path (SOCKET.down) into path, with suffix sfx after it. */
static void down_path(char *path, size_t cap, const char *sock, const char *sfx)
{
    size_t n = 0;

    down_cat(path, cap, &n, sock);
    down_cat(path, cap, &n, ".down");
    down_cat(path, cap, &n, sfx);
}

/* Another process's environment (/proc/PID/environ, NUL-separated), for the job key. */
struct down_env {
    char *buf;
    size_t len;
};

/* Looks NAME up in e (a cnio__sk_job_key_of lookup). */
static const char *down_env_get(void *ctx, const char *name)
{
    const struct down_env *e = ctx;
    size_t n = strlen(name);

    for (size_t i = 0; i < e->len; i += strlen(e->buf + i) + 1)
        if (!strncmp(e->buf + i, name, n) && e->buf[i + n] == '=')
            return e->buf + i + n + 1;
    return NULL;
}

/* The job key of process pid, from the environment it started with, into key: 0, or -1
 * (not readable: another uid's, gone, larger than 1 MiB). Runs at load only (malloc). */
static int down_key_of(long pid, char *key, size_t cap)
{
    char path[40];
    struct down_env e = { NULL, 0 };
    size_t n = 0, cap_buf = 0;
    ssize_t k;
    int fd, rc = -1;

    down_cat(path, sizeof(path), &n, "/proc/");
    down_cat_num(path, sizeof(path), &n, (unsigned long long)pid);
    down_cat(path, sizeof(path), &n, "/environ");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    for (;;) {
        if (e.len + 1 >= cap_buf) {
            char *b = cap_buf >= (1u << 20) ? NULL : realloc(e.buf, cap_buf ? 2 * cap_buf : 8192);

            if (!b)
                goto close_fd;
            e.buf = b;
            cap_buf = cap_buf ? 2 * cap_buf : 8192;
        }
        k = read(fd, e.buf + e.len, cap_buf - 1 - e.len);
        if (k < 0)
            goto close_fd;
        if (k == 0)
            break;
        e.len += (size_t)k;
    }
    e.buf[e.len] = '\0';
    rc = cnio__sk_job_key_of(down_env_get, &e, pid, key, cap) == 0 ? 0 : -1;
close_fd:
    shim_real.close(fd);
    free(e.buf);
    return rc;
}

/*
 * The launcher's process of this node for a job whose key (from a launcher's
 * environment: not "local-") is key: above this process, the first ancestor whose
 * environment gives another key or cannot be read (mpirun, orted, prted, slurmstepd),
 * passing over those that give the same one (a rank's `sh -c`, `env`, `cnio run`). It
 * lives as long as the job's processes on the node, and is the same for all of them, so
 * every rank names the same top process. 0 (none: the job's top process is this one) when
 * that would be init, or the walk goes on for 64 levels.
 */
static long down_launcher(const char *key)
{
    char k[DOWN_KEY_MAX];
    long p = (long)getppid();

    for (int depth = 0; depth < 64 && p > 1; depth++) {
        if (down_key_of(p, k, sizeof(k)) < 0 || strcmp(k, key))
            return p;
        p = (long)down_stat(p, 4, NULL);
    }
    return 0;
}

/* Names the job's top process in CNIO_SOCKETS_TOP ("PID:START", with ":KEY" when it is
 * the launcher's process) for the processes this one starts. */
static void down_name_top(void)
{
    char val[48 + DOWN_KEY_MAX];
    size_t n = 0;

    down_cat_num(val, sizeof(val), &n, (unsigned long long)down_top_pid);
    down_cat(val, sizeof(val), &n, ":");
    down_cat_num(val, sizeof(val), &n, down_top_start);
    if (down_launched) {
        down_cat(val, sizeof(val), &n, ":");
        down_cat(val, sizeof(val), &n, down_key);
    }
    setenv("CNIO_SOCKETS_TOP", val, 1);
}

/* Takes CNIO_SOCKETS_TOP as inherited ("PID:START[:KEY]"): 0, or -1 (not set, or not a
 * top process's name). */
static int down_top_inherited(void)
{
    const char *top = getenv("CNIO_SOCKETS_TOP"), *key;
    char head[48];
    size_t n;

    if (!top)
        return -1;
    key = strchr(top, ':');
    key = key ? strchr(key + 1, ':') : NULL;
    n = key ? (size_t)(key - top) : strlen(top);
    if (n >= sizeof(head) || (key && (!key[1] || strlen(key + 1) >= sizeof(down_key))))
        return -1;
    memcpy(head, top, n);
    head[n] = '\0';
    if (down_parse(head, ':', &down_top_pid, &down_top_start) < 0)
        return -1;
    down_launched = key != NULL;
    if (key)
        memcpy(down_key, key + 1, strlen(key + 1) + 1);
    return 0;
}

void shim_down_init(const char *sock)
{
    char *slash;
    long launcher;

    down_path(down_mark[0], sizeof(down_mark[0]), sock, "");
    if (cnio__sk_down_alt(down_mark[1], sizeof(down_mark[1]), sock) == 0 &&
        (slash = strrchr(down_mark[1], '/')) != NULL && slash != down_mark[1]) {
        memcpy(down_dir, down_mark[1], (size_t)(slash - down_mark[1]));
        down_dir[slash - down_mark[1]] = '\0';
    } else {
        down_mark[1][0] = '\0';
    }
    if (down_top_inherited() == 0)
        return;
    /* The first process of its job to load the shim. Under a launcher (mpirun: each rank
     * is such a process, and so was its job's top process, so that each rank whose
     * job's mark was removed as another rank exited said the line again), the top process
     * is the launcher's of the node, and the mark holds the job's key. */
    if (cnio__sk_job_key(down_key, sizeof(down_key)) == 0 && strncmp(down_key, "local-", 6) &&
        (launcher = down_launcher(down_key)) > 0 && (down_top_start = down_start(launcher))) {
        down_top_pid = launcher;
        down_launched = 1;
    } else {
        down_key[0] = '\0';
        down_top_pid = (long)getpid();
        down_top_start = down_start(down_top_pid);
        if (!down_top_start)
            return;
    }
    down_name_top();
}

/* A mark read: the top process it names, and its job's key ("" in a mark of a job whose
 * top process loaded the shim). */
struct down_seen {
    long pid;
    unsigned long long start;
    char key[DOWN_KEY_MAX];
};

/* Reads the mark on fd: 0, or -1 (not a mark). */
static int down_read_fd(int fd, struct down_seen *m)
{
    char buf[64 + DOWN_KEY_MAX];
    ssize_t k = pread(fd, buf, sizeof(buf) - 1, 0);

    if (k <= 0)
        return -1;
    buf[k] = '\0';
    return cnio__sk_mark_parse(buf, &m->pid, &m->start, m->key, sizeof(m->key));
}

/* Reads the mark at path: 0, or -1 (none, or not a mark). */
static int down_read(const char *path, struct down_seen *m)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK), rc;

    if (fd < 0)
        return -1;
    rc = down_read_fd(fd, m);
    shim_real.close(fd);
    return rc;
}

/* 1 when mark m names this process's job (its top process, still running, and its key). */
static int down_ours(const struct down_seen *m)
{
    return m->pid == down_top_pid && m->start == down_top_start && !strcmp(m->key, down_key) &&
           down_start(m->pid) == m->start;
}

/* 1 when mark m holds for this process: its own job's, or another job's whose top process
 * still runs (two jobs given one socket path at once are told once between them); not one
 * of an earlier job of the same top process (a launcher that runs job after job). */
static int down_holds(const struct down_seen *m)
{
    if (!m->start || down_start(m->pid) != m->start)
        return 0;
    return down_ours(m) || m->pid != down_top_pid || m->start != down_top_start;
}

/* Writes the mark of this process's job, "PID START[ KEY]\n" of its top process (itself
 * when the top process is gone), into tmp, a name of this process's own: 0, or -1. */
static int down_write_tmp(const char *tmp)
{
    long pid = down_top_pid;
    unsigned long long start = down_top_start;
    char line[48 + DOWN_KEY_MAX];
    size_t n = 0;
    int fd;

    if (pid != (long)getpid() && (!start || down_start(pid) != start)) {
        pid = (long)getpid();
        start = down_start(pid);
    }
    down_cat_num(line, sizeof(line), &n, (unsigned long long)pid);
    down_cat(line, sizeof(line), &n, " ");
    down_cat_num(line, sizeof(line), &n, start);
    if (down_key[0] && pid == down_top_pid) {
        down_cat(line, sizeof(line), &n, " ");
        down_cat(line, sizeof(line), &n, down_key);
    }
    down_cat(line, sizeof(line), &n, "\n");
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -1;
    if (write(fd, line, n) != (ssize_t)n) {
        shim_real.close(fd);
        unlink(tmp);
        return -1;
    }
    shim_real.close(fd);
    return 0;
}

/* Takes fd's lock (flock, bounded: its holders hold it for a few system calls, and a
 * holder that dies lets it go): 0, or -1. */
static int down_lock(int fd)
{
    static const struct timespec ms = { 0, 1000000 };

    for (int i = 0; i < 2000; i++) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return 0;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        nanosleep(&ms, NULL);
    }
    return -1;
}

/*
 * The mark at path that link() found there, judged, and replaced by tmp when stale:
 * 1 replaced (this process is the first: it says so), 0 it holds (told), 2 it changed
 * meanwhile (judge again). The judgement and the replacement are made under the lock of
 * the file judged, and only while path is still that file: two processes that find one
 * stale mark at the same instant replace it once between them (each replaced it, the
 * second removing the first's new mark, and both said the line).
 */
static int down_judge(const char *path, const char *tmp)
{
    struct down_seen m;
    struct stat a, b;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK), r = 2;

    if (fd < 0)
        return 2;   /* removed meanwhile */
    if (down_lock(fd) < 0) {
        shim_real.close(fd);
        return 0;   /* held by a process that does not let go: take the job as told */
    }
    if (fstat(fd, &a) == 0 && lstat(path, &b) == 0 && a.st_dev == b.st_dev &&
        a.st_ino == b.st_ino) {
        if (down_read_fd(fd, &m) == 0 && down_holds(&m))
            r = 0;
        else if (unlink(path) == 0 && link(tmp, path) == 0)
            r = 1;   /* stale: its job has ended (or it is not a mark); this one is told */
    }
    shim_real.close(fd);
    return r;
}

/* Removes the mark at path if it is still the one m read (the same top process and key),
 * under its lock and only while path is the file locked: a stale mark that another job
 * replaced meanwhile (down_judge) is that job's, and stays. */
static void down_unmark(const char *path, const struct down_seen *m)
{
    struct down_seen now;
    struct stat a, b;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

    if (fd < 0)
        return;
    if (down_lock(fd) == 0 && fstat(fd, &a) == 0 && lstat(path, &b) == 0 &&
        a.st_dev == b.st_dev && a.st_ino == b.st_ino && down_read_fd(fd, &now) == 0 &&
        now.pid == m->pid && now.start == m->start && !strcmp(now.key, m->key))
        unlink(path);
    shim_real.close(fd);
}

/* Whether process p is process top or one of its descendants (a walk up its parents, 64
 * levels at most). */
static int down_within(long p, long top)
{
    for (int depth = 0; depth < 64 && p > 1; depth++) {
        if (p == top)
            return 1;
        p = (long)down_stat(p, 4, NULL);
    }
    return 0;
}

/* Waits, a second at most, for process mid, which forked this one, to end (the double
 * fork's middle process, which exits at once), so that getppid() then names the process
 * this one was handed to. */
static void down_orphaned(pid_t mid)
{
    struct pollfd p = { .fd = pidfd_open(mid, 0), .events = POLLIN };

    if (p.fd < 0)
        return;   /* gone already */
    while (poll(&p, 1, 1000) < 0 && errno == EINTR)
        ;
    shim_real.close(p.fd);
}

/* The watcher's life (a grandchild of the process that made the mark, in a session of
 * its own): waits for the top process that mark m at path names to end, however it ends,
 * then removes the mark; it holds no fd of the program's and no directory. Where it was
 * handed to a process of the job (a subreaper: the top process, or one under it, that
 * set PR_SET_CHILD_SUBREAPER), it does not wait: that process may wait for all its
 * children before it ends, and so for this one, which would wait for it in turn; the
 * mark then goes when the top process's exit handlers run, or at a proxy's sweep. */
static __attribute__((noreturn)) void down_watcher(const char *path, const struct down_seen *m,
                                                  pid_t mid)
{
    struct pollfd p = { .fd = -1, .events = POLLIN };

    close_range(0, ~0u, 0);
    (void)!chdir("/");
    down_orphaned(mid);
    if (down_within((long)getppid(), m->pid))
        _exit(0);
    p.fd = pidfd_open((pid_t)m->pid, 0);
    if (p.fd >= 0 && down_start(m->pid) == m->start)
        while (poll(&p, 1, -1) < 0 && errno == EINTR)
            ;
    down_unmark(path, m);
    _exit(0);
}

/* Leaves a watcher behind for the mark just made at path (down_watcher), detached by a
 * double fork so that it is no child of this program's to wait for. Async-signal-safe
 * (_Fork runs no atfork handlers); the program sees one child come and go at once (its
 * SIGCHLD). Nothing is said when it cannot be started: the mark then stays until a
 * proxy's sweep finds its job ended. Called once down_make has returned, and never
 * inlined into it: its frame and down_make's are not on the stack at once (a connect
 * that finds the proxy lost stays within the 2 KiB tests/sockets/shim-stack.test allows). */
static __attribute__((noinline)) void down_watch(const char *path)
{
    struct down_seen m;
    pid_t c;

    if (down_read(path, &m) < 0 || !m.start)
        return;
    c = _Fork();
    if (c == 0) {
        pid_t mid = getpid();

        if (setsid() >= 0 && _Fork() == 0)
            down_watcher(path, &m, mid);
        _exit(0);
    }
    if (c > 0)
        while (waitpid(c, NULL, 0) < 0 && errno == EINTR)
            ;
}

/* Makes the mark at path, unless one that holds is there: 1 made (this process is the
 * first: it says so; its caller leaves a watcher to remove it, down_watch), 0 there
 * already (told), -1 none can be made here (no such directory, not writable, no hard
 * links). */
static __attribute__((noinline)) int down_make(const char *path)
{
    char tmp[DOWN_MAX + 24];
    size_t n = 0;
    int first = 0;

    down_cat(tmp, sizeof(tmp), &n, path);
    down_cat(tmp, sizeof(tmp), &n, ".");
    down_cat_num(tmp, sizeof(tmp), &n, (unsigned long long)getpid());
    if (down_write_tmp(tmp) < 0)
        return -1;
    for (int tries = 0; tries < 8; tries++) {
        if (link(tmp, path) == 0) {
            first = 1;
            break;
        }
        if (errno != EEXIST) {
            first = -1;
            break;
        }
        if ((first = down_judge(path, tmp)) != 2)
            break;
        first = 0;
    }
    unlink(tmp);
    return first;
}

/* The run directory for the second place, made (mode 0700) when missing, as `cnio run`
 * makes it: 0 when it is a directory of this uid with no access for others, else -1. */
static int down_dir_ok(void)
{
    struct stat st;

    if (mkdir(down_dir, 0700) < 0 && errno != EEXIST)
        return -1;
    if (lstat(down_dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 077))
        return -1;
    return 0;
}

int shim_down_first(void)
{
    const char *made = down_mark[0];
    int r = down_mark[0][0] ? down_make(made) : -1;

    if (r < 0 && down_mark[1][0] && down_dir_ok() == 0)
        r = down_make(made = down_mark[1]);
    if (r == 1)
        down_watch(made);   /* (a watcher removes it when its top process ends) */
    return r < 0 ? 2 : r;
}

int shim_down_told(void)
{
    struct down_seen m;

    if (!down_top_start)
        return 0;
    for (int i = 0; i < 2; i++)
        if (down_mark[i][0] && down_read(down_mark[i], &m) == 0 && down_ours(&m))
            return 1;
    return 0;
}

/* 1 when no child of the launcher's process top but this one is alive (zombies aside):
 * this process is the last rank of its job on the node. */
static int down_last_rank(void)
{
    char path[64], buf[512];
    size_t n = 0;
    DIR *d;
    struct dirent *e;
    int last = 1;

    down_cat(path, sizeof(path), &n, "/proc/");
    down_cat_num(path, sizeof(path), &n, (unsigned long long)down_top_pid);
    down_cat(path, sizeof(path), &n, "/task");
    d = opendir(path);
    if (!d)
        return 0;
    while (last && (e = readdir(d)) != NULL) {
        char file[128];
        ssize_t k;
        int fd;

        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        n = 0;
        down_cat(file, sizeof(file), &n, path);
        down_cat(file, sizeof(file), &n, "/");
        down_cat(file, sizeof(file), &n, e->d_name);
        down_cat(file, sizeof(file), &n, "/children");
        fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            last = 0;   /* cannot tell: leave the mark (stale once the launcher is gone) */
            break;
        }
        k = read(fd, buf, sizeof(buf) - 1);
        shim_real.close(fd);
        if (k < 0 || k == (ssize_t)sizeof(buf) - 1) {
            last = 0;
            break;
        }
        buf[k] = '\0';
        for (char *p = buf; last && *p;) {
            char state = 0;
            long pid = strtol(p, &p, 10);

            while (*p == ' ')
                p++;
            if (pid > 0 && pid != (long)getpid() && down_stat(pid, 22, &state) && state != 'Z')
                last = 0;
        }
    }
    closedir(d);
    return last;
}

void shim_down_exit(void)
{
    struct down_seen m;

    /* The job's top process removes its mark as it exits; where that is the launcher's
     * process, the last rank of the node does, as it exits. */
    if (down_launched ? (long)getppid() != down_top_pid || !down_last_rank()
                      : down_top_pid != (long)getpid())
        return;
    for (int i = 0; i < 2; i++)
        if (down_mark[i][0] && down_read(down_mark[i], &m) == 0 && m.pid == down_top_pid &&
            m.start == down_top_start && !strcmp(m.key, down_key))
            unlink(down_mark[i]);
}
