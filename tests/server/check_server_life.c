/*
 * check_server_life.c - cnio-server as a process: usage and startup errors, connections
 * spread evenly over the worker threads, shutdown on SIGTERM while a client streams
 * writes, backpressure, (when valgrind is installed) no leaks after a session, and an
 * idle fabric endpoint that does not wake thousands of times a second.
 */
#include "srvtest.h"
#include "fabric.h"
#include "net.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RW (CNIO_WIRE_O_CREATE | CNIO_WIRE_O_WRITE)
#define CHUNK (1u << 20)

/* The servers of the running test; the teardown stops them even when a test fails. */
static struct fx f;

static void setup(void)
{
    memset(&f, 0, sizeof(f));
}

static void teardown(void)
{
    fx_stop(&f);
}

static const char *server_bin(void)
{
    const char *bin = getenv("CNIO_SERVER_BIN");

    return bin && *bin ? bin : "cnio-server";
}

/*
 * Runs cnio-server with args (NULL-terminated, after argv[0]) to completion (bounded:
 * 10 s, then SIGKILL); returns its wait status and its stderr in err.
 */
static int run_server(const char *const *args, char *err, size_t cap)
{
    char tmpl[] = "/tmp/cnio-srv-err-XXXXXX";
    const char *argv[32];
    int fd = mkstemp(tmpl), status = -1, argc = 0;
    pid_t pid;
    ssize_t n;

    ck_assert_int_ge(fd, 0);
    argv[argc++] = server_bin();
    for (int i = 0; args[i] && argc < 31; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fd, STDERR_FILENO);
        dup2(fd, STDOUT_FILENO);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    for (int t = 0; t < 1000; t++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            break;
        if (t == 999) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
        }
        usleep(10000);
    }
    n = pread(fd, err, cap - 1, 0);
    err[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(tmpl);
    return status;
}

static int exit_code(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(test_usage)
{
    static const char *const none[] = { NULL };
    static const char *const help[] = { "--help", NULL };
    static const char *const version[] = { "--version", NULL };
    static const char *const threads[] = { "--root", "/tmp", "--threads", "0", NULL };
    static const char *const bogus[] = { "--root", "/tmp", "--bogus", NULL };
    static const char *const level[] = { "--root", "/tmp", "--log-level", "loud", NULL };
    static const char *const extra[] = { "--root", "/tmp", "stray", NULL };
    static const char *const send[] = { "--root", "/tmp", "--read-send", "splice", NULL };
    char err[4096];

    ck_assert_int_eq(exit_code(run_server(none, err, sizeof(err))), 2);
    ck_assert_ptr_nonnull(strstr(err, "--root"));
    ck_assert_int_eq(exit_code(run_server(help, err, sizeof(err))), 0);
    ck_assert_ptr_nonnull(strstr(err, "--max-inflight"));
    ck_assert_int_eq(exit_code(run_server(version, err, sizeof(err))), 0);
    ck_assert_ptr_nonnull(strstr(err, "cnio-server"));
    ck_assert_int_eq(exit_code(run_server(threads, err, sizeof(err))), 2);
    ck_assert_int_eq(exit_code(run_server(bogus, err, sizeof(err))), 2);
    ck_assert_int_eq(exit_code(run_server(level, err, sizeof(err))), 2);
    ck_assert_int_eq(exit_code(run_server(extra, err, sizeof(err))), 2);
    ck_assert_int_eq(exit_code(run_server(send, err, sizeof(err))), 2);
    ck_assert_ptr_nonnull(strstr(err, "--read-send"));
}
END_TEST

START_TEST(test_startup_failures)
{
    char err[4096], missing[PATH_MAX + 16], idle[PATH_MAX + 16], port[32];

    ck_assert_int_eq(fx_start(&f, 1, NULL), 0);
    {
        const char *const key_args[] = { "--root", f.root[0], "--key", f.key,
                                         "--listen", "127.0.0.1:0", NULL };

        ck_assert_int_eq(chmod(f.key, 0644), 0);
        ck_assert_int_eq(exit_code(run_server(key_args, err, sizeof(err))), 1);
        ck_assert_ptr_nonnull(strstr(err, f.key));
        ck_assert_int_eq(chmod(f.key, 0600), 0);
    }
    snprintf(missing, sizeof(missing), "%s/no-such-root", f.dir);
    {
        const char *const root_args[] = { "--root", missing, "--key", f.key,
                                          "--listen", "127.0.0.1:0", NULL };

        ck_assert_int_eq(exit_code(run_server(root_args, err, sizeof(err))), 1);
        ck_assert_ptr_nonnull(strstr(err, missing));
    }
    snprintf(port, sizeof(port), "127.0.0.1:%u", f.port[0]);
    snprintf(idle, sizeof(idle), "%s/idle-root", f.dir);
    ck_assert_int_eq(mkdir(idle, 0700), 0);
    {   /* the address is taken (by the fixture's server), the root is free */
        const char *const busy_args[] = { "--root", idle, "--key", f.key,
                                          "--listen", port, NULL };

        ck_assert_int_eq(exit_code(run_server(busy_args, err, sizeof(err))), 1);
        ck_assert_ptr_nonnull(strstr(err, "in use"));
    }
    {   /* the root is served already: one cnio-server per root */
        const char *const root_args[] = { "--root", f.root[0], "--key", f.key,
                                          "--listen", "127.0.0.1:0", NULL };

        ck_assert_int_eq(exit_code(run_server(root_args, err, sizeof(err))), 1);
        ck_assert_ptr_nonnull(strstr(err, "one cnio-server per root"));
    }
    {   /* roots may not nest: one inside the served root, one holding it */
        char inner[PATH_MAX + 16], made[PATH_MAX + 32];
        const char *const in_args[] = { "--root", inner, "--key", f.key,
                                        "--listen", "127.0.0.1:0", NULL };
        const char *const out_args[] = { "--root", f.dir, "--key", f.key,
                                         "--listen", "127.0.0.1:0", NULL };
        struct stat sb;

        snprintf(inner, sizeof(inner), "%s/sub", f.root[0]);
        ck_assert_int_eq(mkdir(inner, 0700), 0);
        ck_assert_int_eq(exit_code(run_server(in_args, err, sizeof(err))), 1);
        ck_assert_msg(strstr(err, "is inside") && strstr(err, "roots may not nest"), "%s", err);
        snprintf(made, sizeof(made), "%s/.cnio", inner);   /* nothing made in the other's tree */
        ck_assert_int_eq(stat(made, &sb), -1);
        ck_assert_int_eq(exit_code(run_server(out_args, err, sizeof(err))), 1);
        ck_assert_msg(strstr(err, "holds") && strstr(err, f.root[0]), "%s", err);
    }
    fx_stop(&f);
}
END_TEST

struct acked {
    uint64_t off;
    int seed;
};

/* Streams 1 MiB WRITEs (up to 16 in flight), sends the server sig after `after`
 * acknowledgements, keeps going until the connection ends; returns the acked count. */
static int stream_until_shutdown(struct st_conn *c, uint64_t h, struct acked *ack,
                                 int max, int after, int sig)
{
    static uint8_t buf[CHUNK];
    int sent = 0, nack = 0, inflight = 0, killed = 0, failed = 0;

    while (!failed || inflight) {
        struct cnio_wire_hdr hd;

        while (!failed && inflight < 16 && sent < max) {
            memset(&hd, 0, sizeof(hd));
            hd.type = CNIO_WIRE_WRITE;
            hd.reqid = (uint64_t)sent;
            hd.session = c->session;
            hd.object = h;
            hd.offset = (uint64_t)sent * CHUNK;
            fx_fill(buf, CHUNK, (uint64_t)sent + 1);
            if (st_send(c->fd, &hd, buf, CHUNK)) {
                failed = 1;
                break;
            }
            sent++;
            inflight++;
        }
        if (!inflight)
            break;
        if (st_recv(c->fd, &hd, buf, 0))
            break;
        inflight--;
        if (hd.status == 0) {
            ack[nack].off = hd.reqid * CHUNK;
            ack[nack++].seed = (int)hd.reqid + 1;
        }
        if (nack >= after && !killed) {
            kill(f.pid[0], sig);
            killed = 1;
        }
        if (sent >= max && !inflight)
            break;
    }
    ck_assert_int_eq(killed, 1);
    return nack;
}

/* SIGTERM, SIGINT and SIGHUP (a closed terminal) shut down cleanly: SIGHUP used to kill
 * the server at once (status 129), its writes in flight cut off. */
static const int shutdown_sigs[] = { SIGTERM, SIGINT, SIGHUP };

START_TEST(test_sigterm_while_streaming)
{
    static struct acked ack[4096];
    static uint8_t want[CHUNK], got[CHUNK];
    char path[PATH_MAX];
    struct st_conn c;
    uint64_t h;
    int n, status, fd;

    ck_assert_int_eq(fx_start(&f, 1, NULL), 0);
    st_session(&f, 0, &c);
    ck_assert_int_eq(st_open(&c, "stream", RW, 1, CHUNK, 0, &h, NULL), 0);
    n = stream_until_shutdown(&c, h, ack, 4096, 24, shutdown_sigs[_i]);
    ck_assert_int_ge(n, 24);
    status = fx_kill(&f, 0, shutdown_sigs[_i]);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "server status %d after %s",
                  status, strsignal(shutdown_sigs[_i]));
    st_close(&c);
    fd = open(fx_local_path(&f, 0, "stream", path, sizeof(path)), O_RDONLY);
    ck_assert_int_ge(fd, 0);
    for (int i = 0; i < n; i++) {
        fx_fill(want, CHUNK, (uint64_t)ack[i].seed);
        ck_assert_int_eq(pread(fd, got, CHUNK, (off_t)ack[i].off), CHUNK);
        ck_assert_msg(memcmp(want, got, CHUNK) == 0, "acked chunk at %llu differs",
                      (unsigned long long)ack[i].off);
    }
    close(fd);
    fx_stop(&f);
}
END_TEST

static int send_all(int fd, void *p, size_t len)
{
    struct iovec iov = { p, len };

    return cnio__net_sendv_all(fd, &iov, 1, cnio__now_ms() + 10000);
}

/* Appends frame h (payload p, len bytes) to the byte stream at *at. */
static void frame_put(uint8_t **at, struct cnio_wire_hdr *h, const void *p, uint32_t len)
{
    h->length = len;
    h->payload_crc = len ? cnio__crc32c(0, p, len) : 0;
    cnio__wire_hdr_encode(h, *at);
    if (len)
        memcpy(*at + CNIO_WIRE_HDR_SIZE, p, len);
    *at += CNIO_WIRE_HDR_SIZE + len;
}

/*
 * Frames sent together, in one write, are read ahead by the server: many small requests
 * in one recv, a payload larger than the read-ahead buffer split between it and a
 * direct recv, payloads of every size around that buffer's 16 KiB; every reply comes,
 * in order, and the bytes land where they were written.
 */
START_TEST(test_read_ahead)
{
    static const uint32_t sizes[] = { 1, 100, 4000, 16383, 16384, 16385, 20000, 65536, 7 };
    enum { NS = sizeof(sizes) / sizeof(sizes[0]), PINGS = 300 };
    static uint8_t stream[PINGS * (CNIO_WIRE_HDR_SIZE + 8) + NS * (CNIO_WIRE_HDR_SIZE + 65536)];
    static uint8_t data[NS][65536], buf[65536];
    struct st_conn c;
    uint8_t *at = stream;
    uint64_t h, off = 0, offs[NS], id = 0;

    ck_assert_int_eq(fx_start(&f, 1, NULL), 0);
    st_session(&f, 0, &c);
    ck_assert_int_eq(st_open(&c, "ra", RW, 1, 1 << 20, 0, &h, NULL), 0);
    for (int i = 0; i < PINGS + NS; i++) {
        struct cnio_wire_hdr hd;

        memset(&hd, 0, sizeof(hd));
        hd.reqid = id++;
        hd.session = c.session;
        if (i % 33 != 5 || i / 33 >= NS) {
            hd.type = CNIO_WIRE_PING;
            frame_put(&at, &hd, "pingping", 8);
            continue;
        }
        int k = i / 33;

        fx_fill(data[k], sizes[k], (uint64_t)k + 1);
        hd.type = CNIO_WIRE_WRITE;
        hd.object = h;
        hd.offset = offs[k] = off;
        off += sizes[k] + 13;   /* not aligned */
        frame_put(&at, &hd, data[k], sizes[k]);
    }
    ck_assert_int_eq(send_all(c.fd, stream, (size_t)(at - stream)), 0);
    for (uint64_t i = 0; i < id; i++) {
        struct cnio_wire_hdr hd;

        ck_assert_int_eq(st_recv(c.fd, &hd, buf, sizeof(buf)), 0);
        ck_assert_uint_eq(hd.reqid, i);
        ck_assert_int_eq(hd.status, 0);
    }
    for (int k = 0; k < NS; k++) {
        uint32_t got;

        ck_assert_int_eq(st_read(&c, h, offs[k], buf, sizes[k], &got), 0);
        ck_assert_uint_eq(got, sizes[k]);
        ck_assert_msg(memcmp(buf, data[k], sizes[k]) == 0, "write %d (%u bytes) differs", k,
                      sizes[k]);
    }
    st_close(&c);
    fx_stop(&f);
}
END_TEST

/* 1 when server 0's log has line text (bounded wait, 10 s). */
static int log_has(const char *text)
{
    char path[PATH_MAX], line[512];

    snprintf(path, sizeof(path), "%s/server0.log", f.dir);
    for (int t = 0; t < 1000; t++) {
        FILE *fp = fopen(path, "r");
        int found = 0;

        while (fp && !found && fgets(line, sizeof(line), fp))
            found = strstr(line, text) != NULL;
        if (fp)
            fclose(fp);
        if (found)
            return 1;
        usleep(10000);
    }
    return 0;
}

/*
 * A drain (SIGTERM) stops reading at the end of the frame under way, also when what the
 * server read ahead ended inside that frame: of the frames sent after the shutdown began
 * it finishes that one, and handles none of the rest.
 */
START_TEST(test_drain_read_ahead)
{
    static const char *const extra[] = { "--log-level", "info", NULL };
    enum { K = 10, LATER = 100, FRAME = CNIO_WIRE_HDR_SIZE + 8 };
    static uint8_t stream[(K + 1 + LATER) * FRAME], buf[64];
    uint8_t *at = stream;
    size_t split = K * FRAME + 20;   /* inside frame K's header */
    struct cnio_wire_hdr hd;
    struct st_conn c;
    int replies = 0;

    ck_assert_int_eq(fx_start(&f, 1, extra), 0);
    st_session(&f, 0, &c);
    for (int i = 0; i < K + 1 + LATER; i++) {
        memset(&hd, 0, sizeof(hd));
        hd.type = CNIO_WIRE_PING;
        hd.reqid = (uint64_t)i;
        hd.session = c.session;
        frame_put(&at, &hd, "pingping", 8);
    }
    ck_assert_int_eq(send_all(c.fd, stream, split), 0);
    for (int i = 0; i < K; i++) {
        ck_assert_int_eq(st_recv(c.fd, &hd, buf, sizeof(buf)), 0);
        ck_assert_uint_eq(hd.reqid, (uint64_t)i);
    }
    kill(f.pid[0], SIGTERM);
    ck_assert(log_has("shutting down"));
    usleep(300000);   /* the workers begin to drain */
    ck_assert_int_eq(send_all(c.fd, stream + split, (size_t)(at - stream) - split), 0);
    while (st_recv(c.fd, &hd, buf, sizeof(buf)) == 0) {
        ck_assert_uint_eq(hd.reqid, (uint64_t)(K + replies));
        replies++;
    }
    ck_assert_int_eq(replies, 1);
    st_close(&c);
    fx_stop(&f);
}
END_TEST

/* Replies over --max-inflight stop the reading; once the client reads them it goes on,
 * also with the requests already read ahead (sent in one write: the socket then holds
 * nothing that would wake the server). */
static void backpressure(int one_write)
{
    static const char *const extra[] = { "--max-inflight", "1M", "--threads", "1", NULL };
    static uint8_t data[8 * CHUNK], buf[CHUNK];
    static uint8_t stream[64 * (CNIO_WIRE_HDR_SIZE + 8)];
    uint8_t *at = stream;
    struct st_conn c, other;
    uint64_t h;
    uint8_t p[8];

    ck_assert_int_eq(fx_start(&f, 1, extra), 0);
    st_session(&f, 0, &c);
    st_session(&f, 0, &other);
    ck_assert_int_eq(st_open(&c, "bp", RW, 1, CHUNK, 0, &h, NULL), 0);
    fx_fill(data, sizeof(data), 5);
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(st_write(&c, h, (uint64_t)i * CHUNK, data + (size_t)i * CHUNK, CHUNK), 0);
    /* 64 READs of 1 MiB, replies left unread: far more than --max-inflight */
    for (int i = 0; i < 64; i++) {
        struct cnio_wire_hdr hd;

        memset(&hd, 0, sizeof(hd));
        hd.type = CNIO_WIRE_READ;
        hd.reqid = (uint64_t)i;
        hd.session = c.session;
        hd.object = h;
        hd.offset = (uint64_t)(i % 8) * CHUNK;
        cnio__put_le64(p, CHUNK);
        if (one_write)
            frame_put(&at, &hd, p, sizeof(p));
        else
            ck_assert_int_eq(st_send(c.fd, &hd, p, sizeof(p)), 0);
    }
    if (one_write)
        ck_assert_int_eq(send_all(c.fd, stream, (size_t)(at - stream)), 0);
    usleep(200000);
    ck_assert_int_eq(st_call(&other, CNIO_WIRE_PING, 0, 0, "hi", 2, NULL, buf, sizeof(buf)), 0);
    for (int i = 0; i < 64; i++) {
        struct cnio_wire_hdr hd;

        ck_assert_int_eq(st_recv(c.fd, &hd, buf, sizeof(buf)), 0);
        ck_assert_uint_eq(hd.reqid, (uint64_t)i);
        ck_assert_int_eq(hd.status, 0);
        ck_assert_uint_eq(hd.length, CHUNK);
        ck_assert_int_eq(memcmp(buf, data + (size_t)(i % 8) * CHUNK, CHUNK), 0);
    }
    st_close(&c);
    st_close(&other);
    fx_stop(&f);
}

START_TEST(test_backpressure)
{
    backpressure(0);
}
END_TEST

START_TEST(test_backpressure_read_ahead)
{
    backpressure(1);
}
END_TEST

/* valgrind cannot run a server built with AddressSanitizer (--enable-asan), which
 * checks for leaks itself (test_sigterm_while_streaming wants exit status 0). */
static int have_valgrind(void)
{
#ifdef __SANITIZE_ADDRESS__
    return 0;
#else
    return system("valgrind --version >/dev/null 2>&1") == 0;
#endif
}

/* A whole session: every request type, a handle left open at disconnect. */
static void leak_session(void)
{
    static uint8_t buf[CNIO_WIRE_MAX_CTRL];
    struct cnio_wire_info info;
    struct cnio_wire_hdr rh;
    struct st_conn c, bad;
    uint64_t h, h2;
    uint32_t got;

    st_session(&f, 0, &c);
    ck_assert_int_eq(st_open(&c, "vg/a", RW, 1, 4096, 0, &h, NULL), 0);
    ck_assert_int_eq(st_open(&c, "vg/b", RW, 1, 4096, 0, &h2, NULL), 0);
    ck_assert_int_eq(st_write(&c, h, 0, "valgrind", 8), 0);
    ck_assert_int_eq(st_read(&c, h, 0, buf, 64, &got), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_SETSIZE, h, 8, NULL, 0, NULL, buf, sizeof(buf)), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_SYNC, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_stat(&c, "vg/a", &info), 0);
    ck_assert_int_eq(st_list(&c, "vg", 0, &rh, buf, sizeof(buf)), 0);
    ck_assert_int_eq(st_call(&c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_unlink(&c, "vg/a"), 0);
    ck_assert_int_eq(st_connect(&f, 0, &bad), 0);
    ck_assert_int_eq(st_auth_key(&bad, (const uint8_t *)"0123456789abcdef", 16), -CNIO_ERR_AUTH);
    st_close(&bad);
    st_close(&c);
    st_session(&f, 0, &c);   /* open at shutdown */
    ck_assert_int_eq(st_open(&c, "vg/b", CNIO_WIRE_O_WRITE, 0, 0, 0, &h2, NULL), 0);
    ck_assert_int_eq(st_write(&c, h2, 0, "x", 1), 0);
}

/* The worker serving the connection from local port port, by server 0's debug log
 * ("127.0.0.1:PORT: connection served by worker W"); -1 when not there. */
static int worker_of(const struct fx *fx, unsigned port)
{
    char path[PATH_MAX + 16], line[512], want[64];
    FILE *log;
    int w = -1;

    snprintf(path, sizeof(path), "%s/server0.log", fx->dir);
    snprintf(want, sizeof(want), "127.0.0.1:%u: connection served by worker ", port);
    log = fopen(path, "r");
    ck_assert_ptr_nonnull(log);
    while (fgets(line, sizeof(line), log)) {
        const char *p = strstr(line, want);

        if (p)
            w = atoi(p + strlen(want));
    }
    fclose(log);
    return w;
}

/* A connection to server 0 that the server has started serving (CHALLENGE received),
 * and the worker serving it. */
static int served_conn(const struct fx *fx, int *worker)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    struct st_conn c;

    ck_assert_int_eq(st_connect(fx, 0, &c), 0);
    ck_assert_int_eq(getsockname(c.fd, (struct sockaddr *)&a, &len), 0);
    *worker = worker_of(fx, ntohs(a.sin_port));
    ck_assert_int_ge(*worker, 0);
    return c.fd;
}

/* Connections arriving together (as a collective open's do) are spread over the
 * workers, and a worker whose connections closed gets the next ones. Before, one worker
 * accepted a whole burst and served it alone. */
START_TEST(test_workers_balanced)
{
    static const char *const args[] = { "--threads", "3", "--log-level", "debug", NULL };
    int fds[6], worker[6], count[3] = { 0 }, w0 = -1, w, w2, both = 0;

    ck_assert_int_eq(fx_start(&f, 1, args), 0);
    for (int i = 0; i < 6; i++) {
        fds[i] = served_conn(&f, &worker[i]);
        ck_assert_int_lt(worker[i], 3);
        count[worker[i]]++;
    }
    for (int i = 0; i < 3; i++)
        ck_assert_msg(count[i] == 2, "worker %d serves %d of 6 connections", i, count[i]);
    for (int i = 0; i < 6; i++) {
        if (worker[i] == worker[0]) {
            w0 = worker[i];
            close(fds[i]);
            fds[i] = -1;
        }
    }
    /* Once the server has seen both closes (loads 0/2/2) the next two connections both
     * go to w0; until then, or if closing did not count, two go to different workers. */
    for (int tries = 0; tries < 500 && !both; tries++) {
        int a = served_conn(&f, &w), b = served_conn(&f, &w2);

        both = w == w0 && w2 == w0;
        close(a);
        close(b);
        usleep(10000);
    }
    ck_assert_msg(both, "closed connections still count against worker %d", w0);
    for (int i = 0; i < 6; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    ck_assert_int_eq(fx_kill(&f, 0, SIGTERM), 0);
}
END_TEST

START_TEST(test_valgrind_clean)
{
    if (getenv("CNIO_SANITIZER") && !strcmp(getenv("CNIO_SANITIZER"), "tsan")) {
        fprintf(stderr, "test_valgrind_clean: skipped (valgrind cannot run a TSan build)\n");
        return;
    }
    char wrapper[] = "/tmp/cnio-vg-XXXXXX", script[PATH_MAX + 32], log[PATH_MAX + 32];
    char cmd[3 * PATH_MAX];
    FILE *s;
    int status;

    if (!have_valgrind()) {
        fprintf(stderr, "valgrind not usable here: leak check skipped\n");
        return;
    }
    ck_assert_ptr_nonnull(mkdtemp(wrapper));
    snprintf(script, sizeof(script), "%s/server.sh", wrapper);
    snprintf(log, sizeof(log), "%s/vg.log", wrapper);
    s = fopen(script, "w");
    ck_assert_ptr_nonnull(s);
    fprintf(s, "#!/bin/sh\nexec valgrind -q --leak-check=full "
               "--errors-for-leak-kinds=definite,indirect --error-exitcode=99 "
               "--log-file=%s '%s' \"$@\"\n", log, server_bin());
    fclose(s);
    ck_assert_int_eq(chmod(script, 0755), 0);
    setenv("CNIO_SERVER_BIN", script, 1);
    ck_assert_int_eq(fx_start(&f, 1, NULL), 0);
    leak_session();
    status = fx_kill(&f, 0, SIGTERM);
    snprintf(cmd, sizeof(cmd), "cat %s >&2; rm -rf %s", log, wrapper);
    fx_stop(&f);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "server under valgrind: status %d (99: valgrind errors)", status);
}
END_TEST

/* Voluntary context switches (sleeps) of every thread of process pid so far, or -1. The
 * involuntary ones are preemptions, which load raises: not counted. */
static long long ctx_switches(pid_t pid)
{
    char path[64], line[128];
    long long total = 0, v;
    FILE *st;
    DIR *d;
    struct dirent *e;

    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    d = opendir(path);
    if (!d)
        return -1;
    while ((e = readdir(d))) {
        char file[PATH_MAX];

        if (e->d_name[0] == '.')
            continue;
        snprintf(file, sizeof(file), "%s/%s/status", path, e->d_name);
        st = fopen(file, "r");
        if (!st)
            continue;   /* a thread that just ended */
        while (fgets(line, sizeof(line), st))
            if (sscanf(line, "voluntary_ctxt_switches: %lld", &v) == 1)
                total += v;
        fclose(st);
    }
    closedir(d);
    return total;
}

static double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * A server with a fabric endpoint and no client: its threads sleep nearly all the time.
 * The endpoint's thread polls (libfabric's progress is manual) and naps between polls;
 * it napped 200 us, waking ~5000 times a second for ever, and such nappers beside
 * Open MPI ranks spinning in sched_yield starved the kernel's workers on the 2-core CI
 * host: writes and renames stalled for tens of seconds, and CLOSE and COMMIT went
 * unanswered past the clients' timeout. Naps now grow to 2 ms when nothing comes. The
 * bound holds on any machine: load only makes a sleeping thread wake less often.
 */
START_TEST(test_fabric_idle_naps)
{
    static const char *const args[] = { "--transport", "tcp,ofi", NULL };
    long long a, b;
    double t0, t1, rate;

    if (!cnio__fab_available()) {
        fprintf(stderr, "test_fabric_idle_naps: skipped (built without libfabric)\n");
        return;
    }
    ck_assert_int_eq(fx_start(&f, 1, args), 0);
    usleep(300000);   /* let it settle: the naps have grown within milliseconds */
    a = ctx_switches(f.pid[0]);
    t0 = mono_s();
    usleep(1000000);
    b = ctx_switches(f.pid[0]);
    t1 = mono_s();
    ck_assert_int_ge(a, 0);
    ck_assert_int_ge(b, a);
    rate = (double)(b - a) / (t1 - t0);
    printf("idle server with a fabric endpoint: %.0f sleeps a second\n", rate);
    ck_assert_msg(rate < 1500, "an idle server wakes %.0f times a second", rate);
    ck_assert_int_eq(fx_kill(&f, 0, SIGTERM), 0);
}
END_TEST

/* Whether process pid has libfabric mapped: 1, 0, or -1 when its maps cannot be read. */
static int maps_libfabric(pid_t pid)
{
    char path[64], line[512];
    int found = 0;
    FILE *m;

    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    m = fopen(path, "r");
    if (!m)
        return -1;
    while (fgets(line, sizeof(line), m))
        found |= strstr(line, "/libfabric.so") != NULL;
    fclose(m);
    return found;
}

/*
 * libfabric is loaded when a fabric endpoint is opened, not at start: linked, its
 * dependencies' constructors (libpsm2, libpsm_infinipath: a clock calibrated with a loop
 * of short sleeps) added about 0.25 s to the start of every cnio process, TCP-only ones
 * too. A TCP server never maps it; a server with --transport tcp,ofi does.
 */
START_TEST(test_fabric_loaded_on_use)
{
    static const char *const args[] = { "--transport", "tcp,ofi", NULL };

    ck_assert_int_eq(fx_start(&f, 1, NULL), 0);
    ck_assert_int_eq(maps_libfabric(f.pid[0]), 0);
    fx_stop(&f);
    if (!cnio__fab_available()) {
        fprintf(stderr, "test_fabric_loaded_on_use: no fabric half (built without libfabric)\n");
        return;
    }
    memset(&f, 0, sizeof(f));
    ck_assert_int_eq(fx_start(&f, 1, args), 0);
    ck_assert_int_eq(maps_libfabric(f.pid[0]), 1);
}
END_TEST

static Suite *server_life_suite(void)
{
    Suite *s = suite_create("server_life");
    TCase *tc = tcase_create("process");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_usage);
    tcase_add_test(tc, test_startup_failures);
    tcase_add_test(tc, test_workers_balanced);
    tcase_add_loop_test(tc, test_sigterm_while_streaming, 0, CNIO_ARRAY_LEN(shutdown_sigs));
    tcase_add_test(tc, test_backpressure);
    tcase_add_test(tc, test_backpressure_read_ahead);
    tcase_add_test(tc, test_read_ahead);
    tcase_add_test(tc, test_drain_read_ahead);
    tcase_add_test(tc, test_valgrind_clean);
    tcase_add_test(tc, test_fabric_idle_naps);
    tcase_add_test(tc, test_fabric_loaded_on_use);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_run(server_life_suite());
}
