/*
 * check_proxy.c - the job proxy's admission and name services, driven over its own
 * protocol by several connections standing for several processes: FIFO order behind a
 * full window, slots given back by a report or by a process that goes away, failure
 * knowledge (queued requests fail at once; after a refusal new ones are probes, one at a
 * time; after a time-out they fail fast during the hold-down, then one probe), the queue
 * deadline, one lookup for many askers, and malformed input.
 * Starts a real cnio-proxy ($CNIO_TOP_BUILDDIR/sockets/cnio-proxy) per test.
 */
#include "skproto.h"
#include "skwindow.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[64], sock[128], logpath[128];
static pid_t proxy;

static void proxy_start(void)
{
    char bin[512];
    int pfd[2];
    char c;

    snprintf(bin, sizeof(bin), "%s/sockets/cnio-proxy", getenv("CNIO_TOP_BUILDDIR"));
    strcpy(dir, "/tmp/check_proxy.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(sock, sizeof(sock), "%s/p.sock", dir);
    snprintf(logpath, sizeof(logpath), "%s/p.log", dir);
    setenv("CNIO_SOCKETS_WINDOW_INIT", "2", 1);
    setenv("CNIO_SOCKETS_WINDOW_MAX", "2", 1);
    setenv("CNIO_SOCKETS_SETTLE_MS", "0", 1);
    setenv("CNIO_SOCKETS_HOLDDOWN_MS", "300", 1);
    setenv("CNIO_SOCKETS_PROXY_IDLE_MS", "60000", 1);
    ck_assert_int_eq(pipe(pfd), 0);
    proxy = fork();
    if (proxy == 0) {
        char fd[16];

        close(pfd[0]);
        snprintf(fd, sizeof(fd), "%d", pfd[1]);
        execl(bin, "cnio-proxy", "--socket", sock, "--ready-fd", fd, "--keep-log", logpath,
              (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    ck_assert_int_eq(read(pfd[0], &c, 1), 1);
    close(pfd[0]);
}

/* Stops the proxy (SIGTERM: it writes its final report to its log and exits). */
static void proxy_end(void)
{
    if (proxy > 0) {
        kill(proxy, SIGTERM);
        waitpid(proxy, NULL, 0);
    }
    proxy = -1;
}

static void proxy_stop(void)
{
    proxy_end();
    unlink(logpath);
    rmdir(dir);
}

static int peer(void)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    strcpy(a.sun_path, sock);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static void put(int fd, const struct cnio__skp_msg *m)
{
    unsigned char buf[CNIO__SKP_MAX];
    int n = cnio__skp_encode(m, buf, sizeof(buf));

    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(write(fd, buf, (size_t)n), n);
}

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* The next message (heartbeats too when beats) within ms in all: 1 with *m, 0 none,
 * -1 EOF. */
static int get_any(int fd, struct cnio__skp_msg *m, int ms, int beats)
{
    static unsigned char buf[64][CNIO__SKP_MAX];
    static size_t len[64];
    long end = now_ms() + ms;

    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int k = cnio__skp_parse(buf[fd], len[fd], m);
        long left = end - now_ms();
        ssize_t r;

        ck_assert_int_ge(k, 0);
        if (k > 0) {
            memmove(buf[fd], buf[fd] + k, len[fd] - (size_t)k);
            len[fd] -= (size_t)k;
            if (!beats && m->type == CNIO__SKP_ADMIT_REP && m->i[0] == CNIO__SKP_QUEUED)
                continue;
            return 1;
        }
        if (left <= 0 || poll(&p, 1, (int)left) != 1)
            return 0;
        r = read(fd, buf[fd] + len[fd], sizeof(buf[fd]) - len[fd]);
        if (r <= 0)
            return -1;
        len[fd] += (size_t)r;
    }
}

/* The next message other than a heartbeat. */
static int get(int fd, struct cnio__skp_msg *m, int ms)
{
    return get_any(fd, m, ms, 0);
}

static void admit_port(int fd, int deadline_ms, int port)
{
    struct cnio__skp_msg m = { .type = CNIO__SKP_ADMIT_REQ };
    struct sockaddr_in *a = (struct sockaddr_in *)&m.sa;

    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "192.0.2.9", &a->sin_addr);
    m.salen = sizeof(*a);
    m.i[0] = deadline_ms;
    put(fd, &m);
}

static void admit(int fd, int deadline_ms)
{
    admit_port(fd, deadline_ms, 7000);
}

/* The same destination as admit's, asked as an AF_INET6 socket connects to it:
 * [::ffff:192.0.2.9]:7000 (v4-mapped). */
static void admit_mapped(int fd, int deadline_ms)
{
    struct cnio__skp_msg m = { .type = CNIO__SKP_ADMIT_REQ };
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&m.sa;

    a->sin6_family = AF_INET6;
    a->sin6_port = htons(7000);
    inet_pton(AF_INET6, "::ffff:192.0.2.9", &a->sin6_addr);
    m.salen = sizeof(*a);
    m.i[0] = deadline_ms;
    put(fd, &m);
}

static void done(int fd, int outcome, int err)
{
    struct cnio__skp_msg m = { .type = CNIO__SKP_DONE };

    m.i[0] = outcome;
    m.i[2] = err;
    put(fd, &m);
}

/* Expects verdict (GO, or FAIL with err) on fd within 5 s. */
#define expect(fd, verdict, err) expect_at(__LINE__, fd, verdict, err)
static void expect_at(int line, int fd, int verdict, int err)
{
    struct cnio__skp_msg m;

    ck_assert_msg(get(fd, &m, 5000) == 1, "line %d: no answer", line);
    ck_assert_int_eq(m.type, CNIO__SKP_ADMIT_REP);
    ck_assert_msg(m.i[0] == verdict && (verdict != CNIO__SKP_FAIL || m.i[1] == err),
                  "line %d: verdict %d errno %d, expected %d %d", line, m.i[0], m.i[1],
                  verdict, err);
}

/* Asks for admission and waits for the proxy to queue the request (its first
 * heartbeat), so that the order of the requests is the order of the calls. */
static void admit_queued(int fd, int deadline_ms)
{
    struct cnio__skp_msg m;

    admit(fd, deadline_ms);
    ck_assert_int_eq(get_any(fd, &m, 5000, 1), 1);
    ck_assert_int_eq(m.type, CNIO__SKP_ADMIT_REP);
    ck_assert_int_eq(m.i[0], CNIO__SKP_QUEUED);
}

static void expect_nothing(int fd)
{
    struct cnio__skp_msg m;

    ck_assert_int_eq(get(fd, &m, 200), 0);
}

START_TEST(fifo_behind_full_window_and_failure_knowledge)
{
    int c[7];

    for (int k = 0; k < 5; k++)
        c[k] = peer();
    admit(c[0], 30000);
    expect(c[0], CNIO__SKP_GO, 0);
    admit(c[1], 30000);
    expect(c[1], CNIO__SKP_GO, 0);
    for (int k = 2; k < 5; k++)
        admit_queued(c[k], 30000);
    expect_nothing(c[2]);
    done(c[1], CNIO__SKW_PROMPT, 0);
    expect(c[2], CNIO__SKP_GO, 0);      /* first come, first served */
    expect_nothing(c[3]);
    expect_nothing(c[4]);
    done(c[0], CNIO__SKW_REFUSED, ECONNREFUSED);
    expect(c[3], CNIO__SKP_FAIL, ECONNREFUSED);   /* the queue fails at once */
    expect(c[4], CNIO__SKP_FAIL, ECONNREFUSED);
    c[5] = peer();
    admit_queued(c[5], 30000);                    /* window 1: c[2] is still in flight */
    done(c[2], CNIO__SKW_UNKNOWN, 0);
    expect(c[5], CNIO__SKP_GO, 0);                /* a probe */
    for (int k = 0; k < 6; k++)
        close(c[k]);
}
END_TEST

/* The proxy's report (`cnio-proxy stats`), read anew (static storage). */
static const char *stats_text(void);

/*
 * An IPv4 destination asked through its v4-mapped IPv6 form (a dual-stack program's
 * AF_INET6 socket) is the same destination as asked plainly: one window, one queue, one
 * failure knowledge. They were two, each with a window of its own, so such a program
 * could put twice the window's setups in flight at one listener.
 */
START_TEST(v4_mapped_is_the_same_destination)
{
    int c[4];

    for (int k = 0; k < 4; k++)
        c[k] = peer();
    admit(c[0], 30000);
    expect(c[0], CNIO__SKP_GO, 0);
    admit_mapped(c[1], 30000);
    expect(c[1], CNIO__SKP_GO, 0);
    admit_mapped(c[2], 30000);   /* the window (2) is full, whichever form asked */
    expect_nothing(c[2]);
    done(c[0], CNIO__SKW_PROMPT, 0);
    expect(c[2], CNIO__SKP_GO, 0);
    done(c[1], CNIO__SKW_REFUSED, ECONNREFUSED);
    admit_mapped(c[3], 30000);   /* the refusal is known to both forms: window 1, c[2] */
    expect_nothing(c[3]);        /* still in flight */
    done(c[2], CNIO__SKW_UNKNOWN, 0);
    expect(c[3], CNIO__SKP_GO, 0);
    ck_assert_ptr_null(strstr(stats_text(), "::ffff:"));   /* one line, as IPv4 */
    for (int k = 0; k < 4; k++)
        close(c[k]);
}
END_TEST

/* The dest line of the report for port 7000 (static storage), read once. */
static const char *dest_line(void);

/*
 * After a refusal, new requests are probes, one at a time, each getting the network's
 * answer (a program retrying until its server is up sees it at once); after a time-out
 * they fail at once during the hold-down (300 ms here), then one probe.
 */
START_TEST(refusal_then_probes_timeout_then_hold_down)
{
    int p[8];
    const char *l;

    for (int k = 0; k < 8; k++)
        p[k] = peer();
    admit(p[0], 30000);
    expect(p[0], CNIO__SKP_GO, 0);
    done(p[0], CNIO__SKW_REFUSED, ECONNREFUSED);
    l = dest_line();                              /* p[0]'s report is in */
    ck_assert_msg(strstr(l, " refused 1 "), "%s", l);
    admit(p[1], 30000);
    expect(p[1], CNIO__SKP_GO, 0);                /* a probe, not a failure */
    admit_queued(p[2], 30000);                    /* the next waits for its outcome */
    expect_nothing(p[2]);
    done(p[1], CNIO__SKW_REFUSED, ECONNREFUSED);
    expect(p[2], CNIO__SKP_FAIL, ECONNREFUSED);   /* queued when the refusal came */
    admit(p[3], 30000);
    expect(p[3], CNIO__SKP_GO, 0);                /* the next probe */
    admit_queued(p[4], 30000);
    expect_nothing(p[4]);
    done(p[3], CNIO__SKW_PROMPT, 0);              /* the server is up: the hold is over */
    expect(p[4], CNIO__SKP_GO, 0);
    admit(p[5], 30000);
    expect(p[5], CNIO__SKP_GO, 0);                /* window 2 again: no queue */
    done(p[5], CNIO__SKW_PROMPT, 0);
    l = dest_line();                              /* p[5]'s report is in */
    ck_assert_msg(strstr(l, " refused 2 ") && strstr(l, " prompt 2 ") &&
                  strstr(l, " failed_fast 0 "), "%s", l);
    done(p[4], CNIO__SKW_TIMEDOUT, ETIMEDOUT);
    l = dest_line();                              /* p[4]'s report is in */
    ck_assert_msg(strstr(l, " timedout 1 "), "%s", l);
    admit(p[6], 30000);
    expect(p[6], CNIO__SKP_FAIL, ETIMEDOUT);      /* a time-out: fail fast */
    usleep(400 * 1000);
    admit(p[7], 30000);
    expect(p[7], CNIO__SKP_GO, 0);                /* after the hold-down: a probe */
    for (int k = 0; k < 8; k++)
        close(p[k]);
}
END_TEST

/*
 * A report shows every message sent before it was asked for, on whatever connection:
 * a program's last DONE, then `cnio-proxy stats`. The proxy is stopped while a's
 * ADMIT and 300 other connections wait, so that it accepts the stats connection in the
 * same pass as those (after it answered a) and next reads a's DONE and the request
 * together.
 */
START_TEST(a_report_follows_what_came_before_it)
{
    int a = peer();

    admit(a, 30000);                      /* a is accepted (and its first setup done) */
    expect(a, CNIO__SKP_GO, 0);
    done(a, CNIO__SKW_PROMPT, 0);
    for (int round = 2; round <= 6; round++) {
        char want[32];
        const char *l;

        ck_assert_int_eq(kill(proxy, SIGSTOP), 0);
        admit(a, 30000);
        for (int k = 0; k < 300; k++)
            close(peer());   /* waits in the accept queue; the proxy later sees EOF */
        ck_assert_int_eq(kill(proxy, SIGCONT), 0);
        expect(a, CNIO__SKP_GO, 0);
        done(a, CNIO__SKW_PROMPT, 0);
        l = dest_line();
        snprintf(want, sizeof(want), " prompt %d ", round);
        ck_assert_msg(strstr(l, want), "setup %d: %s", round, l);
    }
    close(a);
}
END_TEST

START_TEST(a_process_that_goes_away_gives_its_slot_back)
{
    int a = peer(), b = peer(), q = peer();

    admit(a, 30000);
    expect(a, CNIO__SKP_GO, 0);
    admit(b, 30000);
    expect(b, CNIO__SKP_GO, 0);
    admit_queued(q, 30000);
    close(a);
    expect(q, CNIO__SKP_GO, 0);
    close(b);
    close(q);
}
END_TEST

START_TEST(queued_past_its_deadline_times_out)
{
    int a = peer(), b = peer(), q = peer();

    admit(a, 30000);
    expect(a, CNIO__SKP_GO, 0);
    admit(b, 30000);
    expect(b, CNIO__SKP_GO, 0);
    admit_queued(q, 300);
    expect(q, CNIO__SKP_FAIL, ETIMEDOUT);
    close(a);
    close(b);
    close(q);
}
END_TEST

START_TEST(one_lookup_for_many_askers)
{
    struct cnio__skp_msg m;
    int fds[4];

    for (int k = 0; k < 4; k++) {
        struct cnio__skp_msg q = { .type = CNIO__SKP_GAI_REQ };

        strcpy(q.name, "localhost");
        q.i[1] = AF_INET;
        q.i[2] = SOCK_STREAM;
        fds[k] = peer();
        put(fds[k], &q);
    }
    for (int k = 0; k < 4; k++) {
        ck_assert_int_eq(get(fds[k], &m, 5000), 1);
        ck_assert_int_eq(m.type, CNIO__SKP_GAI_REP);
        ck_assert_int_eq(m.i[0], 0);
        ck_assert_uint_ge(m.nai, 1);
        close(fds[k]);
    }
    fds[0] = peer();
    m = (struct cnio__skp_msg){ .type = CNIO__SKP_STATS_REQ };
    put(fds[0], &m);
    ck_assert_int_eq(get(fds[0], &m, 5000), 1);
    ck_assert_ptr_nonnull(strstr(m.name, "name localhost lookups 1 requests 4\n"));
    close(fds[0]);
}
END_TEST

START_TEST(malformed_input_drops_only_that_peer)
{
    struct cnio__skp_msg m;
    int bad = peer(), good = peer();

    ck_assert_int_eq(write(bad, "GET / HTTP/1.0\r\n\r\n", 18), 18);
    ck_assert_int_eq(get(bad, &m, 5000), -1);     /* closed on us */
    admit(good, 30000);
    expect(good, CNIO__SKP_GO, 0);
    close(bad);
    close(good);
}
END_TEST

/* Admissions to n destinations (ports 7000 + k), each completed promptly. */
static void admit_many(int n)
{
    for (int k = 0; k < n; k++) {
        int fd = peer();

        admit_port(fd, 30000, 7000 + k);
        expect(fd, CNIO__SKP_GO, 0);
        done(fd, CNIO__SKW_PROMPT, 0);
        close(fd);
    }
}

/* The proxy's stats reply, its messages' texts joined (static storage); each message
 * must hold whole lines. */
static const char *stats_text(void)
{
    static char text[1 << 17];
    struct cnio__skp_msg m = { .type = CNIO__SKP_STATS_REQ };
    size_t len = 0;
    int fd = peer();

    put(fd, &m);
    do {
        size_t n;

        ck_assert_int_eq(get(fd, &m, 5000), 1);
        ck_assert_int_eq(m.type, CNIO__SKP_STATS_REP);
        n = strlen(m.name);
        ck_assert_uint_lt(len + n, sizeof(text));
        ck_assert_msg(n && m.name[n - 1] == '\n', "a message ends mid-line: ...%s",
                      m.name + (n > 40 ? n - 40 : 0));
        memcpy(text + len, m.name, n + 1);
        len += n;
    } while (m.i[0]);
    close(fd);
    return text;
}

/* Lines of text that start with prefix; each must be whole (a "dest" line ends with
 * its last field, "late N"). */
static int lines(const char *text, const char *prefix)
{
    int n = 0;

    for (const char *l = text; *l; l = strchr(l, '\n') + 1) {
        ck_assert_msg(strchr(l, '\n'), "a line cut short: %s", l);
        if (strncmp(l, prefix, strlen(prefix)))
            continue;
        n++;
        ck_assert_msg(strcmp(prefix, "dest ") || strstr(l, " late "), "a line cut short: %.60s",
                      l);
    }
    return n;
}

/* What a file (the log) or a command's output holds, in static storage. */
static const char *slurp(FILE *f)
{
    static char text[1 << 18];
    size_t n;

    ck_assert_ptr_nonnull(f);
    n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    return text;
}

START_TEST(report_of_60_destinations_is_whole)
{
    char cmd[1024];
    const char *text;
    FILE *f;

    admit_many(60);
    text = stats_text();
    ck_assert_msg(lines(text, "dest ") == 60, "stats: %d dest lines of 60, %zu bytes",
                  lines(text, "dest "), strlen(text));
    snprintf(cmd, sizeof(cmd), "%s/sockets/cnio-proxy stats %s", getenv("CNIO_TOP_BUILDDIR"),
             sock);
    f = popen(cmd, "r");
    text = slurp(f);
    ck_assert_int_eq(pclose(f), 0);
    ck_assert_msg(lines(text, "dest ") == 60, "cnio-proxy stats: %d dest lines of 60",
                  lines(text, "dest "));
}
END_TEST

START_TEST(report_beyond_its_bound_says_what_it_leaves_out)
{
    const char *text, *mark;
    unsigned long more = 0;
    FILE *f;

    admit_many(600);
    text = stats_text();
    mark = strstr(text, "\n... ");
    ck_assert_msg(mark && sscanf(mark, "\n... %lu more destinations not shown\n", &more) == 1,
                  "stats: %d dest lines of 600, %zu bytes, no mark of the rest",
                  lines(text, "dest "), strlen(text));
    ck_assert_int_eq(lines(text, "dest ") + (int)more, 600);
    ck_assert_uint_le(strlen(text), 65536);
    proxy_end();
    f = fopen(logpath, "r");
    text = slurp(f);
    fclose(f);
    ck_assert_msg(lines(text, "dest ") == 600, "final report: %d dest lines of 600",
                  lines(text, "dest "));
}
END_TEST

static const char *dest_line(void)
{
    static char line[1024];
    const char *text = stats_text(), *d = strstr(text, "dest 192.0.2.9:7000 ");
    size_t n;

    ck_assert_ptr_nonnull(d);
    n = strcspn(d, "\n");
    ck_assert_uint_lt(n, sizeof(line));
    memcpy(line, d, n);
    line[n] = '\0';
    return line;
}

int main(void)
{
    Suite *s = suite_create("proxy");
    TCase *t = tcase_create("proxy");
    SRunner *r;
    int failed;

    signal(SIGPIPE, SIG_IGN);
    tcase_add_checked_fixture(t, proxy_start, proxy_stop);
    tcase_set_timeout(t, 60);
    tcase_add_test(t, fifo_behind_full_window_and_failure_knowledge);
    tcase_add_test(t, v4_mapped_is_the_same_destination);
    tcase_add_test(t, refusal_then_probes_timeout_then_hold_down);
    tcase_add_test(t, a_report_follows_what_came_before_it);
    tcase_add_test(t, a_process_that_goes_away_gives_its_slot_back);
    tcase_add_test(t, queued_past_its_deadline_times_out);
    tcase_add_test(t, one_lookup_for_many_askers);
    tcase_add_test(t, malformed_input_drops_only_that_peer);
    tcase_add_test(t, report_of_60_destinations_is_whole);
    tcase_add_test(t, report_beyond_its_bound_says_what_it_leaves_out);
    suite_add_tcase(s, t);
    r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
