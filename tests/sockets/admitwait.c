/*
 * admitwait.c - a connect waiting for admission keeps the program's own limits
 * (shim-admitwait.test). Usage: admitwait native | admitwait shim PROXY_BIN PROXY_SOCKET
 *
 * A listener with a full accept queue drops every SYN. Under the shim (window 1, set by
 * the test) a thread's blocking connect to it takes the destination's only slot and waits
 * out its deadline; meanwhile the main thread connects to the same listener three ways,
 * each of which the kernel answers at once or within the program's own limit:
 *   a. a non-blocking connect: EINPROGRESS at once;
 *   b. a blocking connect with SO_SNDTIMEO 300 ms: EINPROGRESS after it;
 *   c. a blocking connect interrupted by SIGALRM (a handler without SA_RESTART): EINTR.
 * Each must return so while the thread still holds the slot (without the shim: at once),
 * its setup under way (TCP state SYN_SENT), as natively. Prints one line per case; the
 * test compares them with the native run's. Exit 0 when every case behaved.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static struct sockaddr_in aw_addr;
static atomic_int aw_holder_done;
static int aw_holder_err;

static void aw_alarm(int sig)
{
    (void)sig;
}

static int aw_state(int fd)
{
    struct tcp_info ti;
    socklen_t tl = sizeof(ti);

    return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0 ? ti.tcpi_state : -1;
}

/* The thread that takes the slot: a blocking connect whose SYNs the full queue drops. */
static void *aw_holder(void *arg)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    (void)arg;
    aw_holder_err = connect(fd, (struct sockaddr *)&aw_addr, sizeof(aw_addr)) < 0 ? errno : 0;
    atomic_store(&aw_holder_done, 1);
    close(fd);
    return NULL;
}

/* Waits (at most 10 s) until the proxy reports a setup in flight to the listener. */
static int aw_slot_taken(const char *proxy, const char *sock)
{
    char cmd[4096], line[1024], want[64];

    snprintf(want, sizeof(want), "dest 127.0.0.1:%d ", ntohs(aw_addr.sin_port));
    snprintf(cmd, sizeof(cmd), "env -u LD_PRELOAD '%s' stats '%s'", proxy, sock);
    for (int i = 0; i < 100; i++) {
        FILE *p = popen(cmd, "r");
        int found = 0;

        while (p && fgets(line, sizeof(line), p))
            found |= !strncmp(line, want, strlen(want)) && strstr(line, " inflight 1 ");
        if (p)
            pclose(p);
        if (found)
            return 1;
        usleep(100000);
    }
    return 0;
}

/* One case: prints its line; 1 when it did not behave. */
static int aw_case(const char *name, int rc, int err, int want, int fd, int shim)
{
    int held = shim ? !atomic_load(&aw_holder_done) : 1, state = aw_state(fd);

    printf("%s: %s, setup %s\n", name, rc == 0 ? "connected" : strerrorname_np(err),
           state == TCP_SYN_SENT ? "under way" : "not under way");
    if (!held)
        fprintf(stderr, "%s: returned only after the slot's holder finished\n", name);
    return rc == 0 || err != want || state != TCP_SYN_SENT || !held;
}

int main(int argc, char **argv)
{
    struct sigaction sa = { .sa_handler = aw_alarm };   /* no SA_RESTART */
    struct itimerval it = { .it_value = { 0, 300000 } };
    struct timeval tv = { 0, 300000 };
    socklen_t al = sizeof(aw_addr);
    int shim = argc == 4 && !strcmp(argv[1], "shim"), lfd, filler, fd, rc, e, fail = 0;
    pthread_t th;

    aw_addr.sin_family = AF_INET;
    aw_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    filler = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0 || filler < 0 || bind(lfd, (struct sockaddr *)&aw_addr, sizeof(aw_addr)) < 0
        || listen(lfd, 0) < 0 || getsockname(lfd, (struct sockaddr *)&aw_addr, &al) < 0
        || connect(filler, (struct sockaddr *)&aw_addr, sizeof(aw_addr)) < 0) {
        perror("admitwait: listener");
        return 2;
    }
    if (shim) {
        pthread_create(&th, NULL, aw_holder, NULL);
        if (!aw_slot_taken(argv[2], argv[3])) {
            fprintf(stderr, "admitwait: the holder's setup never showed in flight\n");
            return 2;
        }
    }

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    rc = connect(fd, (struct sockaddr *)&aw_addr, sizeof(aw_addr));
    e = errno;
    fail |= aw_case("a. non-blocking", rc, e, EINPROGRESS, fd, shim);
    close(fd);

    fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    rc = connect(fd, (struct sockaddr *)&aw_addr, sizeof(aw_addr));
    e = errno;
    fail |= aw_case("b. blocking, SO_SNDTIMEO 300 ms", rc, e, EINPROGRESS, fd, shim);
    close(fd);

    fd = socket(AF_INET, SOCK_STREAM, 0);
    sigaction(SIGALRM, &sa, NULL);
    setitimer(ITIMER_REAL, &it, NULL);
    rc = connect(fd, (struct sockaddr *)&aw_addr, sizeof(aw_addr));
    e = errno;
    fail |= aw_case("c. blocking, SIGALRM without SA_RESTART", rc, e, EINTR, fd, shim);
    close(fd);

    if (shim) {
        pthread_join(th, NULL);
        printf("holder: %s\n", aw_holder_err ? strerrorname_np(aw_holder_err) : "connected");
    }
    close(filler);
    close(lfd);
    return fail;
}
