/*
 * check_fab_live.c - shm peers' liveness outside libfabric (src/fab_live.c): a process
 * alive, killed and left unreaped (a zombie), reaped; a pid reused; the pid in cnio's shm
 * addresses; a guarded endpoint failing for good once its peer died; and the watchdog
 * ending a process whose call waits on a spinlock that a SIGKILLed peer held.
 */
#include "cnio_config.h"
#include "common.h"
#include "fabric.h"

#include "fixture.h"
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_LIBFABRIC
#include <rdma/fabric.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_tagged.h>
#endif

/* A child that sleeps until killed. */
static pid_t sleeper(void)
{
    pid_t pid = fork();

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        for (;;)
            pause();
    }
    return pid;
}

/* Waits (bounded by the test's timeout) until pid is a zombie: its state in /proc is Z.
 * (cnio__proc_state says 0 as soon as SIGKILL is pending, but between the signal's
 * dequeue and PF_EXITING it may say 1 again, for milliseconds on a loaded machine:
 * proc_states asserts what a zombie gives.) */
static void until_zombie(pid_t pid)
{
    char path[64], buf[512];

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    for (;;) {
        FILE *f = fopen(path, "r");
        const char *p = f && fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;

        if (f)
            fclose(f);
        if (p && p[1] == ' ' && p[2] == 'Z')
            return;
        usleep(1000);
    }
}

START_TEST(proc_states)
{
    pid_t pid = sleeper();
    unsigned long long start = 0, other;
    int status;

    ck_assert_int_eq(cnio__proc_state(pid, &start), 1);
    ck_assert_uint_ne(start, 0);
    ck_assert_int_eq(cnio__proc_state(pid, &start), 1);
    other = start + 1;   /* another process that got the same pid */
    ck_assert_int_eq(cnio__proc_state(pid, &other), 0);
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    until_zombie(pid);
    ck_assert_int_eq(kill(pid, 0), 0);   /* what kill(pid, 0) would not tell */
    ck_assert_int_eq(cnio__proc_state(pid, &start), 0);
    ck_assert_int_eq(cnio__proc_state(pid, NULL), 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(cnio__proc_state(pid, &start), -1);
    ck_assert_int_eq(cnio__proc_state(getpid(), NULL), 1);
}
END_TEST

START_TEST(shm_addresses)
{
    static const char bin[] = { 2, 0, 0x1b, 0x58, 127, 0, 0, 1 };

    ck_assert_int_eq(cnio__fab_shm_pid("fi_shm://cnio-1234-00ab12:0:0", 30), 1234);
    ck_assert_int_eq(cnio__fab_shm_pid("fi_shm://cnio-1234-", 19), 1234);
    ck_assert_int_eq(cnio__fab_shm_pid("fi_shm://cnio-1234", 18), 0);
    ck_assert_int_eq(cnio__fab_shm_pid("fi_shm://cnio-12x4-00:0:0", 25), 0);
    ck_assert_int_eq(cnio__fab_shm_pid("fi_shm://1234:0:0", 17), 0);
    ck_assert_int_eq(cnio__fab_shm_pid("fi_shm://cnio-", 14), 0);
    ck_assert_int_eq(cnio__fab_shm_pid("fi_shm://cnio-99999999999999-0", 30), 0);
    ck_assert_int_eq(cnio__fab_shm_pid(bin, sizeof(bin)), 0);
    /* the pid namespace, where the name says one (PID-NS-RANDOM) */
    ck_assert_uint_eq(cnio__fab_shm_pidns("fi_shm://cnio-1234-effffffc-00ab12:0:0", 38),
                      0xeffffffcULL);
    ck_assert_uint_eq(cnio__fab_shm_pidns("fi_shm://cnio-1234-00ab12:0:0", 30), 0);
    ck_assert_uint_eq(cnio__fab_shm_pidns("fi_shm://cnio-1234-effffffc", 27), 0);
    ck_assert_uint_eq(cnio__fab_shm_pidns("fi_shm://cnio-1234--00ab12", 26), 0);
    ck_assert_uint_eq(cnio__fab_shm_pidns("fi_shm://cnio-12x4-ef-00", 24), 0);
    ck_assert_uint_eq(cnio__fab_shm_pidns(bin, sizeof(bin)), 0);
    ck_assert_uint_ne(cnio__fab_own_pidns(), 0);
}
END_TEST

/* A peer whose process is not in /proc: gone, when its address names this pid namespace
 * (it once was taken for one in another namespace, and never checked: a client then
 * sent into a killed server's region and waited out its time-out); unchecked when it
 * names another namespace, or none. */
START_TEST(gone_peer)
{
    struct cnio_fab f;
    struct cnio_fab_peer p = { 0 };
    pid_t pid = fork();
    int status;

    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);   /* reaped: no /proc/PID */
    memset(&f, 0, sizeof(f));
    snprintf(f.prov, sizeof(f.prov), "shm");
    p.len = (size_t)snprintf((char *)p.addr, CNIO_FAB_ADDR_MAX, "fi_shm://cnio-%d-%llx-0123:0:0",
                             (int)pid, cnio__fab_own_pidns()) + 1;
    ck_assert_int_eq(cnio__fab_guard_peer(&f, &p), -CNIO_ERR_CONN);
    p.len = (size_t)snprintf((char *)p.addr, CNIO_FAB_ADDR_MAX, "fi_shm://cnio-%d-%llx-0123:0:0",
                             (int)pid, cnio__fab_own_pidns() + 1) + 1;
    ck_assert_int_eq(cnio__fab_guard_peer(&f, &p), 0);
    ck_assert_int_eq(p.pid, 0);
    p.len = (size_t)snprintf((char *)p.addr, CNIO_FAB_ADDR_MAX, "fi_shm://cnio-%d-0123:0:0",
                             (int)pid) + 1;
    ck_assert_int_eq(cnio__fab_guard_peer(&f, &p), 0);
    ck_assert_int_eq(p.pid, 0);
}
END_TEST

/* An shm endpoint's bookkeeping without the provider: one peer, process pid. */
static void fake_fab(struct cnio_fab *f, pid_t pid, int watch_ms)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->prov, sizeof(f->prov), "shm");
    f->peers = calloc(4, sizeof(*f->peers));
    ck_assert_ptr_nonnull(f->peers);
    f->peers_cap = 4;
    f->peers[0].len = (size_t)snprintf((char *)f->peers[0].addr, CNIO_FAB_ADDR_MAX,
                                       "fi_shm://cnio-%d-0123abcd:0:0", (int)pid) + 1;
    f->peers[0].refs = 1;
    ck_assert_int_eq(cnio__fab_guard_ms(f, watch_ms), 0);
    ck_assert_int_eq(f->shm, 1);
    ck_assert_int_eq(cnio__fab_guard_peer(f, &f->peers[0]), 0);
    ck_assert_int_eq(f->peers[0].pid, pid);
    f->npeers = 1;
}

static void fake_fab_free(struct cnio_fab *f)
{
    cnio__fab_unguard(f);
    free(f->peers);
}

START_TEST(guarded_endpoint)
{
    pid_t pid = sleeper();
    struct cnio_fab f, tcp = { .prov = "tcp;ofi_rxm" };
    int status, ret;

    fake_fab(&f, pid, 60000);
    ck_assert_int_eq(cnio__fab_live(&f), 0);
    ck_assert_int_eq(cnio__fab_guard(&tcp, 3000), 0);
    ck_assert_int_eq(tcp.shm, 0);   /* other providers are not guarded: no check at all */
    ck_assert_int_eq(cnio__fab_live(&tcp), 0);
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    until_zombie(pid);
    /* seen within CNIO_FAB_LIVE_MS (the check is reused that long) */
    while ((ret = cnio__fab_live(&f)) == 0)
        usleep(1000);
    ck_assert_int_eq(ret, -CNIO_ERR_CONN);
    ck_assert_int_eq(f.dead_pid, pid);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(cnio__fab_live(&f), -CNIO_ERR_CONN);   /* for good */
    /* a peer met dead (zombie) is refused before libfabric would map its region */
    pid = sleeper();
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    until_zombie(pid);
    f.peers[1] = f.peers[0];
    f.peers[1].len = (size_t)snprintf((char *)f.peers[1].addr, CNIO_FAB_ADDR_MAX,
                                      "fi_shm://cnio-%d-0:0:0", (int)pid) + 1;
    ck_assert_int_eq(cnio__fab_guard_peer(&f, &f.peers[1]), -CNIO_ERR_CONN);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    /* a pid not in /proc at first sight (another pid namespace) is not checked */
    ck_assert_int_eq(cnio__fab_guard_peer(&f, &f.peers[1]), 0);
    ck_assert_int_eq(f.peers[1].pid, 0);
    fake_fab_free(&f);
}
END_TEST

/* The cost of the checks on the path of every send and completion read (printed). */
START_TEST(check_cost)
{
    struct cnio_fab f;
    pid_t pid = sleeper();
    const int n = 200000, m = 2000;
    int64_t t0;
    int status, bad = 0;

    fake_fab(&f, pid, 60000);
    t0 = cnio__now_ns();
    for (int i = 0; i < n; i++)
        bad |= cnio__fab_live(&f);
    ck_assert_int_eq(bad, 0);
    printf("fab_live: %.0f ns a call (reused result; a /proc read every %d ms)\n",
           (double)(cnio__now_ns() - t0) / n, CNIO_FAB_LIVE_MS);
    t0 = cnio__now_ns();
    for (int i = 0; i < m; i++) {
        f.live_ms = 0;
        bad |= cnio__fab_live(&f);
    }
    ck_assert_int_eq(bad, 0);
    printf("fab_live: %.1f us a /proc/PID/stat read\n", (double)(cnio__now_ns() - t0) / m / 1e3);
    fake_fab_free(&f);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
}
END_TEST

/* In its own process: a guarded endpoint whose call (a wait on the spinlock the peer
 * holds, as libfabric's shm waits on a region's lock) never returns. */
static void stuck_call(pthread_spinlock_t *lock, pid_t peer, int ready)
{
    struct cnio_fab f;

    fake_fab(&f, peer, 1000);
    if (cnio__fab_live(&f) != 0)
        _exit(3);
    if (write(ready, "e", 1) != 1)
        _exit(4);
    cnio__fab_enter(&f);
    pthread_spin_lock(lock);
    _exit(5);
}

static pid_t spawn_stuck(pthread_spinlock_t *lock, pid_t peer, int *err_fd)
{
    int ready[2], err[2];
    char b;
    pid_t pid;

    ck_assert_int_eq(pipe(ready), 0);
    ck_assert_int_eq(pipe(err), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(err[1], STDERR_FILENO);
        close(err[0]);
        close(ready[0]);
        stuck_call(lock, peer, ready[1]);
    }
    close(err[1]);
    close(ready[1]);
    ck_assert_int_eq(read(ready[0], &b, 1), 1);
    close(ready[0]);
    *err_fd = err[0];
    return pid;
}

START_TEST(watchdog_exits)
{
    void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pthread_spinlock_t *lock = page;
    int locked[2], err_fd, status;
    char b, msg[512], want[64];
    ssize_t n, got = 0;
    pid_t peer, stuck;

    ck_assert_ptr_ne(page, MAP_FAILED);
    ck_assert_int_eq(pthread_spin_init(lock, PTHREAD_PROCESS_SHARED), 0);
    ck_assert_int_eq(pipe(locked), 0);
    peer = fork();
    ck_assert_int_ge(peer, 0);
    if (peer == 0) {
        pthread_spin_lock(lock);
        if (write(locked[1], "l", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    ck_assert_int_eq(read(locked[0], &b, 1), 1);
    stuck = spawn_stuck(lock, peer, &err_fd);
    /* the peer alive: a long call is left alone (its bound is 1 s, the watchdog wakes
     * every second) */
    sleep(3);
    ck_assert_int_eq(waitpid(stuck, &status, WNOHANG), 0);
    ck_assert_int_eq(kill(peer, SIGKILL), 0);
    ck_assert_int_eq(waitpid(peer, &status, 0), peer);
    ck_assert_int_eq(waitpid(stuck, &status, 0), stuck);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == CNIO_FAB_WATCHDOG_EXIT,
                  "status %#x", status);
    while ((n = read(err_fd, msg + got, sizeof(msg) - 1 - (size_t)got)) > 0)
        got += n;
    msg[got] = '\0';
    snprintf(want, sizeof(want), "and server %d is gone", (int)peer);
    ck_assert_msg(strstr(msg, "cnio: libfabric shm: a call into libfabric has not returned") &&
                      strstr(msg, want) && strstr(msg, "exiting so the job does not hang"),
                  "stderr: %s", msg);
    close(err_fd);
    close(locked[0]);
    close(locked[1]);
    munmap(page, 4096);
}
END_TEST

#ifdef HAVE_LIBFABRIC
struct killer {
    pid_t pid;
    int after_ms;
};

static void *kill_later(void *arg)
{
    struct killer *k = arg;

    usleep((useconds_t)k->after_ms * 1000);
    kill(k->pid, SIGKILL);
    return NULL;
}

/* A child with an shm endpoint that takes its own region's lock and keeps it: its
 * address (in name) and pid. */
static pid_t locking_server(uint8_t *name, size_t *len)
{
    int p[2];
    pid_t pid;

    ck_assert_int_eq(pipe(p), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct cnio_fab fs;
        void *h;

        close(p[0]);
        if (cnio__fab_open("shm", NULL, &fs) ||
            !(h = cnio__fab_region_map(fs.name, fs.namelen, (int)getpid())))
            _exit(2);
        pthread_spin_lock(cnio__fab_region_lock(h));
        if (write(p[1], &fs.namelen, sizeof(fs.namelen)) < 0 ||
            write(p[1], fs.name, fs.namelen) < 0)
            _exit(3);
        for (;;)
            pause();
    }
    close(p[1]);
    ck_assert_int_eq(read(p[0], len, sizeof(*len)), sizeof(*len));
    ck_assert_int_eq(read(p[0], name, *len), (ssize_t)*len);
    close(p[0]);
    return pid;
}

/*
 * The real case, end to end: our call into libfabric (an inject to the server) already
 * spins on the server's region lock when the server is SIGKILLed holding it; the
 * watchdog releases the dead server's lock and the call returns; the endpoint is dead.
 */
START_TEST(rescue_stuck_call)
{
    uint8_t name[CNIO_FAB_ADDR_MAX];
    size_t len = 0;
    struct cnio_fab fc;
    struct killer k;
    pthread_t t;
    uint64_t a;
    char shm[CNIO_FAB_ADDR_MAX + 1];
    int status;

    k.pid = locking_server(name, &len);
    k.after_ms = 300;
    ck_assert_int_eq(cnio__fab_open("shm", NULL, &fc), 0);
    ck_assert_int_eq(cnio__fab_guard_ms(&fc, 60000), 0);
    ck_assert_int_eq(cnio__fab_av_get(&fc, name, len, &a), 0);
    ck_assert_int_eq(cnio__fab_live_now(&fc), 0);
    ck_assert_int_eq(pthread_create(&t, NULL, kill_later, &k), 0);
    cnio__fab_enter(&fc);
    fi_tinject(fc.ep, "x", 1, a, 1);
    cnio__fab_leave(&fc);
    pthread_join(t, NULL);
    ck_assert_int_eq(cnio__fab_live_now(&fc), -CNIO_ERR_CONN);
    cnio__fab_av_put(&fc, a);
    cnio__fab_close(&fc);
    ck_assert_int_eq(waitpid(k.pid, &status, 0), k.pid);
    snprintf(shm, sizeof(shm), "%.*s", (int)(len - 9), (const char *)name + 9);
    shm_unlink(shm);   /* what the killed server left in /dev/shm */
}
END_TEST

/* The environment libfabric reads is set before the warming thread starts: a setenv
 * while that thread's dlopen is in getenv once crashed it. (Each test is a fork.) */
START_TEST(env_before_warm)
{
    unsetenv("FI_SHM_DISABLE_CMA");
    cnio__fab_warm();
    ck_assert_ptr_nonnull(getenv("FI_SHM_DISABLE_CMA"));
    ck_assert_str_eq(getenv("FI_SHM_DISABLE_CMA"), "1");
    cnio__fab_warm_wait();
}
END_TEST
#endif

static Suite *fab_live_suite(void)
{
    Suite *s = suite_create("fab_live");
    TCase *tc = tcase_create("live");

    tcase_add_test(tc, proc_states);
    tcase_add_test(tc, shm_addresses);
    tcase_add_test(tc, gone_peer);
    tcase_add_test(tc, guarded_endpoint);
    tcase_add_test(tc, check_cost);
    tcase_add_test(tc, watchdog_exits);
#ifdef HAVE_LIBFABRIC
    tcase_add_test(tc, rescue_stuck_call);
    tcase_add_test(tc, env_before_warm);
#endif
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_run(fab_live_suite());
}
