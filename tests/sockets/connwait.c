/*
 * connwait.c - one plain blocking connect, the way legacy code makes it, to ADDR PORT;
 * prints what the program sees (result, errno), nothing that depends on timing, so the
 * output under the shim can be compared with the output natively.
 *   connwait once ADDR PORT      the connect alone
 *   connwait restart ADDR PORT   a periodic SIGALRM (handler with SA_RESTART) during the
 *                                connect, and a SIGTERM handler without SA_RESTART
 *                                installed but never raised: the kernel restarts the
 *                                connect after each SIGALRM
 *   connwait intr ADDR PORT      the same, and a SIGUSR1 (handler without SA_RESTART)
 *                                sent once after 300 ms: connect fails with EINTR
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t ticks, usr1;

static void on_alrm(int s)
{
    (void)s;
    ticks++;
}

static void on_usr1(int s)
{
    (void)s;
    usr1++;
}

static void on_term(int s)
{
    (void)s;
}

static void handle(int sig, void (*fn)(int), int flags)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigaction(sig, &sa, NULL);
}

int main(int argc, char **argv)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    struct itimerval it = { { 0, 50000 }, { 0, 50000 } };
    int fd, rc, e, restart, intr;
    pid_t kid = -1;

    if (argc != 4 || inet_pton(AF_INET, argv[2], &a.sin_addr) != 1) {
        fprintf(stderr, "usage: connwait once|restart|intr ADDR PORT\n");
        return 2;
    }
    a.sin_port = htons((unsigned short)atoi(argv[3]));
    restart = strcmp(argv[1], "once") != 0;
    intr = strcmp(argv[1], "intr") == 0;
    if (restart) {
        handle(SIGTERM, on_term, 0);
        handle(SIGALRM, on_alrm, SA_RESTART);
        setitimer(ITIMER_REAL, &it, NULL);
    }
    if (intr) {
        handle(SIGUSR1, on_usr1, 0);
        kid = fork();
        if (kid == 0) {
            usleep(300000);
            kill(getppid(), SIGUSR1);
            _exit(0);
        }
    }
    fd = socket(AF_INET, SOCK_STREAM, 0);
    rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
    e = errno;
    if (restart) {
        memset(&it, 0, sizeof(it));
        setitimer(ITIMER_REAL, &it, NULL);
    }
    if (kid > 0)
        waitpid(kid, NULL, 0);
    printf("connect: %s\n", rc == 0 ? "ok" : strerrorname_np(e));
    if (restart)
        printf("SIGALRM during connect: %s\n", ticks > 0 ? "yes" : "no");
    if (intr)
        printf("SIGUSR1: %d\n", (int)usr1);
    return 0;
}
