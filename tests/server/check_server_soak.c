/*
 * check_server_soak.c - 512 concurrent clients against one cnio-server on loopback for
 * CNIO_SOAK_SECONDS (default 60): authenticated sessions that PING, create, write,
 * read back and close objects, reconnect now and then, and connections that never
 * authenticate coming and going. Every request must succeed with the right bytes; once
 * the clients are gone the server's file descriptors are back to where they started
 * and its resident memory within a few MiB of it (bounded waits, no timed assertion:
 * the duration only sets how much work is done).
 */
#include "srvtest.h"
#include "net.h"

#include <check.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define SOAK_THREADS 16
#define SOAK_PER_THREAD 32      /* 512 connections */
#define SOAK_OBJ_BYTES (64 * 1024)
#define MIB (1024ull * 1024)

struct soak_worker {
    int index;
    int64_t until;
    struct cnio_key key;
    long requests, reconnects, strangers;
    char failure[256];          /* the first failure, or "" */
    pthread_t tid;
};

static int soak_session(struct soak_worker *w, struct st_conn *c)
{
    int ret = st_connect(&st_fx, 0, c);

    if (ret == 0)
        ret = st_auth_key(c, w->key.bytes, w->key.len);
    if (ret)
        snprintf(w->failure, sizeof(w->failure), "session: %s", cnio_strerror(ret));
    return ret;
}

/* One round on connection c: a PING, and every 8th time an object's life. */
static int soak_round(struct soak_worker *w, struct st_conn *c, int slot, long round,
                      uint8_t *wbuf, uint8_t *rbuf)
{
    char name[64];
    uint64_t h;
    uint32_t got = 0;
    int ret = st_call(c, CNIO_WIRE_PING, 0, 0, wbuf, 1024, NULL, rbuf, 1024);

    if (ret || memcmp(wbuf, rbuf, 1024)) {
        snprintf(w->failure, sizeof(w->failure), "PING: %s", ret ? cnio_strerror(ret) : "echo");
        return -1;
    }
    w->requests++;
    if (round % 8)
        return 0;
    snprintf(name, sizeof(name), "soak-%d-%d", w->index, slot);
    fx_fill(wbuf, SOAK_OBJ_BYTES, (uint64_t)round * 4096 + (uint64_t)slot);
    ret = st_open(c, name, CNIO_WIRE_O_CREATE | CNIO_WIRE_O_TRUNC | CNIO_WIRE_O_WRITE, 1, 1 << 20,
                  0, &h, NULL);
    if (!ret)
        ret = st_write(c, h, 0, wbuf, SOAK_OBJ_BYTES);
    if (!ret)
        ret = st_read(c, h, 0, rbuf, SOAK_OBJ_BYTES, &got);
    if (!ret && (got != SOAK_OBJ_BYTES || memcmp(wbuf, rbuf, SOAK_OBJ_BYTES)))
        ret = -CNIO_ERR_CHECKSUM;
    if (!ret)
        ret = st_call(c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0);
    if (ret) {
        snprintf(w->failure, sizeof(w->failure), "object %s: %s", name, cnio_strerror(ret));
        return -1;
    }
    w->requests += 4;
    return 0;
}

static void *soak_main(void *arg)
{
    struct soak_worker *w = arg;
    struct st_conn c[SOAK_PER_THREAD];
    uint8_t *wbuf = malloc(SOAK_OBJ_BYTES), *rbuf = malloc(SOAK_OBJ_BYTES);
    long round = 0;
    int n = 0;

    for (; n < SOAK_PER_THREAD && !w->failure[0]; n++)
        if (soak_session(w, &c[n]))
            break;
    while (!w->failure[0] && cnio__now_ms() < w->until) {
        for (int s = 0; s < n && !w->failure[0]; s++)
            soak_round(w, &c[s], s, round, wbuf, rbuf);
        if (++round % 16 == 0 && !w->failure[0]) {   /* churn: one reconnects, one stranger */
            int s = (int)(round / 16) % n;
            int fd = fx_connect(&st_fx, 0);

            if (fd >= 0)
                close(fd);
            w->strangers++;
            st_close(&c[s]);
            if (soak_session(w, &c[s]) == 0)
                w->reconnects++;
        }
    }
    for (int s = 0; s < n; s++)
        st_close(&c[s]);
    free(wbuf);
    free(rbuf);
    return NULL;
}

START_TEST(test_soak)
{
    static struct soak_worker w[SOAK_THREADS];
    const char *env = getenv("CNIO_SOAK_SECONDS");
    int seconds = env ? atoi(env) : 60, fds0, fds = -1;
    long requests = 0, reconnects = 0, strangers = 0;
    struct rlimit rl;
    uint64_t rss0, rss = 0, peak = 0;
    int64_t deadline;

    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < 4096 && rl.rlim_max >= 4096) {
        rl.rlim_cur = 4096;
        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    fds0 = st_server_fds();
    rss0 = st_server_rss();
    for (int i = 0; i < SOAK_THREADS; i++) {
        w[i].index = i;
        w[i].until = cnio__now_ms() + (int64_t)seconds * 1000;
        st_key(&st_fx, &w[i].key);
        ck_assert_int_eq(pthread_create(&w[i].tid, NULL, soak_main, &w[i]), 0);
    }
    while (cnio__now_ms() < w[0].until) {
        peak = CNIO_MAX(peak, st_server_rss());
        usleep(500000);
    }
    for (int i = 0; i < SOAK_THREADS; i++) {
        pthread_join(w[i].tid, NULL);
        ck_assert_msg(!w[i].failure[0], "client thread %d: %s", i, w[i].failure);
        requests += w[i].requests;
        reconnects += w[i].reconnects;
        strangers += w[i].strangers;
    }
    deadline = cnio__now_ms() + 30000;   /* the server notices every close soon */
    while (cnio__now_ms() < deadline &&
           ((fds = st_server_fds()) != fds0 ||
            ((rss = st_server_rss()) > rss0 + 8 * MIB && !getenv("CNIO_SANITIZER"))))
        usleep(100000);
    fprintf(stderr, "soak: %d clients, %d s: %ld requests, %ld reconnects, %ld unauthenticated "
            "connections; server fds %d -> %d, RSS %llu MiB -> peak %llu MiB -> %llu MiB\n",
            SOAK_THREADS * SOAK_PER_THREAD, seconds, requests, reconnects, strangers, fds0, fds,
            (unsigned long long)(rss0 / MIB), (unsigned long long)(peak / MIB),
            (unsigned long long)(st_server_rss() / MIB));
    ck_assert_int_eq(fds, fds0);
    if (!getenv("CNIO_SANITIZER"))   /* a sanitizer's allocator and shadow keep memory */
        ck_assert_uint_le(st_server_rss(), rss0 + 8 * MIB);
    ck_assert_int_gt(requests, 0);
    for (int i = 0; i < SOAK_THREADS; i++)
        cnio__key_wipe(&w[i].key);
}
END_TEST

static Suite *soak_suite(void)
{
    Suite *s = suite_create("server_soak");
    TCase *tc = tcase_create("soak");
    const char *env = getenv("CNIO_SOAK_SECONDS");

    tcase_add_checked_fixture(tc, st_setup, st_teardown);
    tcase_set_timeout(tc, (env ? atoi(env) : 60) + 300);
    tcase_add_test(tc, test_soak);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_run(soak_suite());
}
