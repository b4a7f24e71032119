/*
 * fixture.c - start and stop real cnio-servers for tests (see fixture.h).
 */
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void fx_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

static int fx_write_key(const char *path)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[32];
    char text[65];
    int fd, ok;

    fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, raw, sizeof(raw)) != (ssize_t)sizeof(raw)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    for (int i = 0; i < 32; i++) {
        text[2 * i] = hex[raw[i] >> 4];
        text[2 * i + 1] = hex[raw[i] & 15];
    }
    text[64] = '\n';
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    ok = write(fd, text, sizeof(text)) == (ssize_t)sizeof(text);
    close(fd);
    return ok ? 0 : -1;
}

static int fx_read_port(const char *path, uint16_t *port)
{
    char buf[32];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    long v;

    if (fd < 0)
        return -1;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    v = strtol(buf, NULL, 10);
    if (v <= 0 || v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

/* Starts server i (its log, its port file); the child waits delay_ms before it runs the
 * server. */
static pid_t fx_spawn_after(struct fx *f, int i, const char *const *extra, int delay_ms)
{
    char portfile[PATH_MAX + 16], logfile[PATH_MAX + 16];
    const char *bin = getenv("CNIO_SERVER_BIN");
    const char *argv[64];
    int argc = 0;
    pid_t pid;

    if (!bin || !*bin)
        bin = "cnio-server";
    snprintf(portfile, sizeof(portfile), "%s/port%d", f->dir, i);
    snprintf(logfile, sizeof(logfile), "%s/server%d.log", f->dir, i);
    argv[argc++] = bin;
    argv[argc++] = "--root";
    argv[argc++] = f->root[i];
    argv[argc++] = "--listen";
    argv[argc++] = "127.0.0.1:0";
    argv[argc++] = "--port-file";
    argv[argc++] = portfile;
    argv[argc++] = "--key";
    argv[argc++] = f->key;
    /* The transport matrix (tests/collective/transport.sh): fabric endpoints too. */
    if (getenv("CNIO_TEST_SERVER_TRANSPORT") && *getenv("CNIO_TEST_SERVER_TRANSPORT")) {
        argv[argc++] = "--transport";
        argv[argc++] = getenv("CNIO_TEST_SERVER_TRANSPORT");
    }
    if (getenv("CNIO_TEST_SERVER_OFI_PROVIDER") && *getenv("CNIO_TEST_SERVER_OFI_PROVIDER")) {
        argv[argc++] = "--ofi-provider";
        argv[argc++] = getenv("CNIO_TEST_SERVER_OFI_PROVIDER");
    }
    for (int k = 0; extra && extra[k] && argc < 62; k++)
        argv[argc++] = extra[k];
    argv[argc] = NULL;
    pid = fork();
    if (pid == 0) {
        int fd = open(logfile, O_WRONLY | O_CREAT | O_APPEND, 0644);

        /* A test killed by its timeout must not leave its servers running. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (fd >= 0 && getenv("CNIO_FX_VERBOSE") == NULL) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        if (fd > STDERR_FILENO)   /* not one descriptor more in the server than it has */
            close(fd);
        if (delay_ms > 0)
            fx_sleep_ms(delay_ms);
        execvp(bin, (char *const *)argv);
        fprintf(stderr, "fixture: cannot run %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    return pid;
}

static pid_t fx_spawn(struct fx *f, int i, const char *const *extra)
{
    return fx_spawn_after(f, i, extra, 0);
}

/* What server i is doing when it has not listened in time: its log and the wait channel
 * and state of each of its threads, so that a failure on a loaded CI machine says where
 * the server was stuck. */
static void fx_report_stuck(const struct fx *f, int i)
{
    char path[PATH_MAX + 64], line[512];
    struct dirent *d;
    DIR *dir;
    FILE *fp;

    snprintf(path, sizeof(path), "%s/server%d.log", f->dir, i);
    if ((fp = fopen(path, "r")) != NULL) {
        while (fgets(line, sizeof(line), fp))
            fprintf(stderr, "fixture: server %d log: %s", i, line);
        fclose(fp);
    }
    snprintf(path, sizeof(path), "/proc/%d/task", (int)f->pid[i]);
    if ((dir = opendir(path)) == NULL)
        return;
    while ((d = readdir(dir))) {
        char wchan[128] = "?", stat[512] = "?", *paren;
        size_t n;

        if (d->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/%d/task/%s/wchan", (int)f->pid[i], d->d_name);
        if ((fp = fopen(path, "r")) != NULL) {
            n = fread(wchan, 1, sizeof(wchan) - 1, fp);
            wchan[n] = '\0';
            fclose(fp);
        }
        snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", (int)f->pid[i], d->d_name);
        if ((fp = fopen(path, "r")) != NULL) {
            if (!fgets(stat, sizeof(stat), fp))
                snprintf(stat, sizeof(stat), "?");
            fclose(fp);
        }
        paren = strrchr(stat, ')');
        fprintf(stderr, "fixture: server %d thread %s: state %c, wchan %s\n", i, d->d_name,
                paren && paren[1] ? paren[2] : '?', wchan);
    }
    closedir(dir);
}

static int fx_wait_port(struct fx *f, int i)
{
    char portfile[PATH_MAX + 16];
    int status;

    snprintf(portfile, sizeof(portfile), "%s/port%d", f->dir, i);
    /* A server listens in about 0.35 s with fabric endpoints (libfabric's providers
     * load), in 20 ms without; the bound is for a machine loaded by the other tests. */
    for (int t = 0; t < 3000; t++) {
        if (fx_read_port(portfile, &f->port[i]) == 0)
            return 0;
        if (waitpid(f->pid[i], &status, WNOHANG) == f->pid[i]) {
            fprintf(stderr, "fixture: server %d exited before listening (status %d); log %s/server%d.log\n",
                    i, status, f->dir, i);
            f->pid[i] = 0;
            return -1;
        }
        fx_sleep_ms(10);
    }
    fprintf(stderr, "fixture: server %d did not listen within 30 s\n", i);
    fx_report_stuck(f, i);
    return -1;
}

/* f->hosts from the ports of servers 0..f->n-1. */
static void fx_hosts(struct fx *f)
{
    size_t len = 0;

    for (int k = 0; k < f->n; k++)
        len += (size_t)snprintf(f->hosts + len, sizeof(f->hosts) - len, "%s127.0.0.1:%u",
                                k ? "," : "", f->port[k]);
}

/*
 * The run's own directory, made by fx_run before any test forks: every fixture's
 * directory is made inside it, and fx_run removes it when the suite is done, so that a
 * test that fails (its child exits at the failed assertion, before its teardown) or is
 * killed by its timeout leaves nothing in /tmp.
 */
static char fx_base[64];

int fx_start(struct fx *f, int n, const char *const *extra)
{
    char tmpl[128];

    memset(f, 0, sizeof(*f));
    if (fx_base[0])
        snprintf(tmpl, sizeof(tmpl), "%s/t-XXXXXX", fx_base);
    else   /* (a program that does not go through fx_run) */
        snprintf(tmpl, sizeof(tmpl), "/tmp/cnio-fx-XXXXXX");
    if (n < 1 || n > FX_MAX_SERVERS || !mkdtemp(tmpl))
        return -1;
    snprintf(f->dir, sizeof(f->dir), "%s", tmpl);
    snprintf(f->key, sizeof(f->key), "%s/key", f->dir);
    if (fx_write_key(f->key) < 0)
        goto fail;
    setenv("CNIO_KEY_FILE", f->key, 1);
    for (int i = 0; i < n; i++) {
        snprintf(f->root[i], sizeof(f->root[i]), "%s/root%d", f->dir, i);
        if (mkdir(f->root[i], 0755) < 0)
            goto fail;
    }
    for (int i = 0; i < n; i++) {
        f->pid[i] = fx_spawn(f, i, extra);
        f->n = i + 1;
        if (f->pid[i] < 0 || fx_wait_port(f, i) < 0)
            goto fail;
    }
    fx_hosts(f);
    return 0;
fail:
    fx_stop(f);
    return -1;
}

int fx_restart(struct fx *f, int i, const char *const *extra)
{
    char portfile[PATH_MAX + 16];

    if (i < 0 || i >= f->n || f->pid[i] > 0)
        return -1;
    snprintf(portfile, sizeof(portfile), "%s/port%d", f->dir, i);
    unlink(portfile);
    f->pid[i] = fx_spawn(f, i, extra);
    if (f->pid[i] < 0 || fx_wait_port(f, i) < 0) {
        f->pid[i] = 0;
        return -1;
    }
    fx_hosts(f);
    return 0;
}

int fx_restart_late(struct fx *f, int i, int delay_ms, const char *const *extra)
{
    char portfile[PATH_MAX + 16], listen[32];
    const char *argv[64] = { "--listen", listen };
    int argc = 2;

    if (i < 0 || i >= f->n || f->pid[i] > 0 || delay_ms < 0)
        return -1;
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", f->port[i]);   /* the last --listen counts */
    for (int k = 0; extra && extra[k] && argc < 62; k++)
        argv[argc++] = extra[k];
    argv[argc] = NULL;
    snprintf(portfile, sizeof(portfile), "%s/port%d", f->dir, i);
    unlink(portfile);
    f->pid[i] = fx_spawn_after(f, i, argv, delay_ms);
    if (f->pid[i] < 0) {
        f->pid[i] = 0;
        return -1;
    }
    return 0;
}

/* Removes the shm regions of server process pid, now reaped: libfabric's shm provider
 * removes its region at a normal exit, but a server killed by SIGKILL leaves its 16 MiB
 * in /dev/shm (cnio names them fi_shm://cnio-PID-RANDOM), and the shm test rows kill
 * servers on purpose. */
static void fx_shm_sweep(pid_t pid)
{
    char prefix[32];
    struct dirent *d;
    size_t n;
    DIR *dir = opendir("/dev/shm");

    if (!dir)
        return;
    n = (size_t)snprintf(prefix, sizeof(prefix), "cnio-%d-", (int)pid);
    while ((d = readdir(dir)))
        if (!strncmp(d->d_name, prefix, n))
            unlinkat(dirfd(dir), d->d_name, 0);
    closedir(dir);
}

int fx_kill(struct fx *f, int i, int sig)
{
    int status;

    if (i < 0 || i >= f->n || f->pid[i] <= 0)
        return -1;
    kill(f->pid[i], sig);
    for (int t = 0; t < 1000; t++) {
        pid_t r = waitpid(f->pid[i], &status, WNOHANG);
        if (r == f->pid[i]) {
            fx_shm_sweep(f->pid[i]);
            f->pid[i] = 0;
            return status;
        }
        if (r < 0)
            break;
        fx_sleep_ms(10);
    }
    kill(f->pid[i], SIGKILL);
    waitpid(f->pid[i], &status, 0);
    fx_shm_sweep(f->pid[i]);
    f->pid[i] = 0;
    return -1;
}

/* 1 when every thread of pid is stopped ('T' in /proc/PID/task/TID/stat), else 0. */
static int fx_all_stopped(pid_t pid)
{
    char path[300], buf[512];
    struct dirent *d;
    int stopped = 1;
    DIR *dir;

    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    dir = opendir(path);
    if (!dir)
        return 0;
    while (stopped && (d = readdir(dir))) {
        char *paren;
        FILE *fp;

        if (d->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", (int)pid, d->d_name);
        fp = fopen(path, "r");
        if (!fp || !fgets(buf, sizeof(buf), fp) || !(paren = strrchr(buf, ')')) ||
            paren[1] != ' ' || paren[2] != 'T')
            stopped = 0;
        if (fp)
            fclose(fp);
    }
    closedir(dir);
    return stopped;
}

int fx_sigstop(struct fx *f, int i)
{
    if (i < 0 || i >= f->n || f->pid[i] <= 0 || kill(f->pid[i], SIGSTOP) < 0)
        return -1;
    for (int t = 0; t < 500; t++) {
        if (fx_all_stopped(f->pid[i]))
            return 0;
        fx_sleep_ms(10);
    }
    return -1;
}

static int fx_rm_rf(const char *dir)
{
    pid_t pid;
    int status;

    if (!dir[0] || strncmp(dir, "/tmp/cnio-fx-", 13) != 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", dir, (char *)NULL);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return -1;
    return 0;
}

void fx_stop(struct fx *f)
{
    for (int i = 0; i < f->n; i++)
        if (f->pid[i] > 0) {
            kill(f->pid[i], SIGCONT);
            fx_kill(f, i, SIGTERM);
        }
    if (getenv("CNIO_FX_KEEP") == NULL)
        fx_rm_rf(f->dir);
    f->n = 0;
}

char *fx_uri(const struct fx *f, const char *path, const char *query, char *buf, size_t cap)
{
    snprintf(buf, cap, "cnio://%s/%s%s%s", f->hosts, path, query && *query ? "?" : "",
             query ? query : "");
    return buf;
}

char *fx_local_path(const struct fx *f, int i, const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", f->root[i], name);
    return buf;
}

double fx_now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void fx_fill(void *buf, size_t len, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    unsigned char *p = buf;
    size_t i = 0;

    for (; i + 8 <= len; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(p + i, &x, 8);
    }
    for (; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)x;
    }
}

int fx_connect(const struct fx *f, int i)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    struct timeval tv = { 5, 0 };
    int fd;

    if (i < 0 || i >= f->n)
        return -1;
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    sa.sin_port = htons(f->port[i]);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int fx_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;

    signal(SIGPIPE, SIG_IGN);
    snprintf(fx_base, sizeof(fx_base), "/tmp/cnio-fx-XXXXXX");
    if (!mkdtemp(fx_base))
        fx_base[0] = '\0';
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (fx_base[0] && getenv("CNIO_FX_KEEP") == NULL)
        fx_rm_rf(fx_base);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
