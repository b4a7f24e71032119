/*
 * shim_down.c - SOCKET.down, the mark that a job was told its proxy is lost: the line is
 * said once per job, not by each of its processes (a script's every command loads the
 * shim and would say it again, into the stderr the script may be capturing).
 *
 * A job, here, is the tree of processes under its top process: the program `cnio run`
 * execs, or else the first process that loads the shim with no top process named in its
 * environment. The top process names itself in CNIO_SOCKETS_TOP=PID:START (START: its
 * start time, from /proc/PID/stat, so that a reused pid is not taken for it), which its
 * children inherit. The mark holds the top process of the job that made it ("PID START").
 * It is honoured while that process lives; once it is gone the mark is stale, and the
 * next process to lose the proxy replaces it and says the line (another job is told).
 * The top process removes a mark that names it when it exits, so a job that ends
 * normally leaves none (in the run directory, or beside a socket path given by hand); a
 * proxy listening on SOCKET again removes it too, and a proxy's sweep a dead job's.
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

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* The marks' paths fit this (a longer run directory: no mark there). */
#define DOWN_MAX 256

/* The top process of this process's job (shim_down_init). */
static long down_top_pid;
static unsigned long long down_top_start;
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

/* The start time of process pid (field 22 of /proc/PID/stat, read after the last ')',
 * since the command name may hold any character): 0 when it cannot be read (no such
 * process). */
static unsigned long long down_start(long pid)
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
                if (field++ == 22)
                    goto done;
            } else if (field == 22 && buf[i] >= '0' && buf[i] <= '9') {
                v = v * 10 + (unsigned long long)(buf[i] - '0');
            }
        }
    }
    v = field == 22 ? v : 0;
done:
    shim_real.close(fd);
    return v;
}

/* The mark's path (SOCKET.down) into path, with suffix sfx after it. */
static void down_path(char *path, size_t cap, const char *sock, const char *sfx)
{
    size_t n = 0;

    down_cat(path, cap, &n, sock);
    down_cat(path, cap, &n, ".down");
    down_cat(path, cap, &n, sfx);
}

void shim_down_init(const char *sock)
{
    const char *top = getenv("CNIO_SOCKETS_TOP");
    char val[48], *slash;
    size_t n = 0;

    down_path(down_mark[0], sizeof(down_mark[0]), sock, "");
    if (cnio__sk_down_alt(down_mark[1], sizeof(down_mark[1]), sock) == 0 &&
        (slash = strrchr(down_mark[1], '/')) != NULL && slash != down_mark[1]) {
        memcpy(down_dir, down_mark[1], (size_t)(slash - down_mark[1]));
        down_dir[slash - down_mark[1]] = '\0';
    } else {
        down_mark[1][0] = '\0';
    }
    if (top && down_parse(top, ':', &down_top_pid, &down_top_start) == 0)
        return;
    down_top_pid = (long)getpid();
    down_top_start = down_start(down_top_pid);
    if (!down_top_start)
        return;
    down_cat_num(val, sizeof(val), &n, (unsigned long long)down_top_pid);
    down_cat(val, sizeof(val), &n, ":");
    down_cat_num(val, sizeof(val), &n, down_top_start);
    setenv("CNIO_SOCKETS_TOP", val, 1);
}

/* Reads the mark at path: 0 with the process it names, or -1 (none, or not a mark). */
static int down_read(const char *path, long *pid, unsigned long long *start)
{
    char buf[64];
    ssize_t k;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

    if (fd < 0)
        return -1;
    k = read(fd, buf, sizeof(buf) - 1);
    shim_real.close(fd);
    if (k <= 0)
        return -1;
    buf[k] = '\0';
    return down_parse(buf, ' ', pid, start);
}

/* Writes "PID START\n" of the job's top process (itself when the top process is gone)
 * into tmp, a name of this process's own: 0, or -1. */
static int down_write_tmp(const char *tmp)
{
    long pid = down_top_pid;
    unsigned long long start = down_top_start;
    char line[48];
    size_t n = 0;
    int fd;

    if (pid != (long)getpid() && (!start || down_start(pid) != start)) {
        pid = (long)getpid();
        start = down_start(pid);
    }
    down_cat_num(line, sizeof(line), &n, (unsigned long long)pid);
    down_cat(line, sizeof(line), &n, " ");
    down_cat_num(line, sizeof(line), &n, start);
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

/* Makes the mark at path, unless one of this job's (or of another job that still runs)
 * is there: 1 made (this process is the first: it says so), 0 there already (told), -1
 * none can be made here (no such directory, not writable, no hard links). */
static int down_make(const char *path)
{
    char tmp[DOWN_MAX + 24];
    size_t n = 0;
    int first = 1;

    down_cat(tmp, sizeof(tmp), &n, path);
    down_cat(tmp, sizeof(tmp), &n, ".");
    down_cat_num(tmp, sizeof(tmp), &n, (unsigned long long)getpid());
    if (down_write_tmp(tmp) < 0)
        return -1;
    for (int tries = 0; tries < 2; tries++) {
        long pid;
        unsigned long long start;

        if (link(tmp, path) == 0)
            break;
        if (errno != EEXIST) {
            first = -1;
            break;
        }
        if (down_read(path, &pid, &start) == 0 && start && down_start(pid) == start) {
            first = 0;   /* the job that made it still runs: told already */
            break;
        }
        unlink(path);   /* stale: that job has ended; this one is told anew */
        first = tries == 0;
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
    int r = down_mark[0][0] ? down_make(down_mark[0]) : -1;

    if (r < 0 && down_mark[1][0] && down_dir_ok() == 0)
        r = down_make(down_mark[1]);
    return r < 0 ? 2 : r;
}

int shim_down_told(void)
{
    unsigned long long start;
    long pid;

    if (!down_top_start)
        return 0;
    for (int i = 0; i < 2; i++)
        if (down_mark[i][0] && down_read(down_mark[i], &pid, &start) == 0 &&
            pid == down_top_pid && start == down_top_start && down_start(pid) == start)
            return 1;
    return 0;
}

void shim_down_exit(void)
{
    unsigned long long start;
    long pid;

    if (down_top_pid != (long)getpid())
        return;
    for (int i = 0; i < 2; i++)
        if (down_mark[i][0] && down_read(down_mark[i], &pid, &start) == 0 &&
            pid == down_top_pid && start == down_top_start)
            unlink(down_mark[i]);
}
