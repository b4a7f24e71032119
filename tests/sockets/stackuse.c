/*
 * stackuse.c - how much stack each socket call takes: every call runs on a thread of
 * its own whose stack is a painted buffer, and a connect runs in a signal handler on a
 * painted alternate signal stack; afterwards the lowest byte no longer painted tells
 * how deep the call went below its caller. Prints one line per call, "NAME BYTES", and
 * exits 1 when a call failed. shim-stack.test runs it under the shim (every connect
 * managed) and bounds each figure, so that programs connecting and resolving on small
 * thread stacks and in signal handlers on a sigaltstack run as natively. Last, "free
 * BYTES": the stack left below a new PTHREAD_STACK_MIN thread's first frame, which the
 * shim must not shrink (glibc carves static TLS out of each thread's stack).
 *
 *   stackuse PORT   (a listener of its own on 127.0.0.1:PORT; PORT+1 must be closed)
 *   stackuse --first PORT   only the handler's connect, the process's first to an
 *                   address (its connect already called once, on a unix socket, so
 *                   that the program's own lazy binding is not what is measured)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define STACK (64 * 1024)
#define PAINT 0xa5

static unsigned char *stack;
static uintptr_t base;         /* the caller's frame, just above the call measured */
static struct sockaddr_in to;  /* the listener */
static int failed;

static void paint(void)
{
    memset(stack, PAINT, STACK);
}

/* Bytes below base that the call wrote into. */
static size_t depth(void)
{
    size_t k = 0;

    while (k < STACK && stack[k] == PAINT)
        k++;
    return base - (uintptr_t)(stack + k);
}

static int call_connect(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0), rc = connect(s, (struct sockaddr *)&to, sizeof(to));

    close(s);
    return rc;
}

/* A non-blocking connect whose outcome the shim reports from getsockopt (SO_ERROR). */
static int call_connect_nb(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), err = -1;
    socklen_t el = sizeof(err);
    struct pollfd p = { .fd = s, .events = POLLOUT };

    if (connect(s, (struct sockaddr *)&to, sizeof(to)) < 0 && errno != EINPROGRESS)
        return -1;
    poll(&p, 1, 5000);
    getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el);
    close(s);
    return err;
}

/* A non-blocking connect refused, whose outcome the shim reports from close. */
static int call_close_refused(void)
{
    struct sockaddr_in closed = to;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct pollfd p = { .fd = s, .events = POLLOUT };

    closed.sin_port = htons(ntohs(to.sin_port) + 1);
    if (connect(s, (struct sockaddr *)&closed, sizeof(closed)) < 0 && errno != EINPROGRESS)
        return close(s), errno == ECONNREFUSED ? 0 : -1;
    poll(&p, 1, 5000);
    return close(s);
}

static int call_getaddrinfo(void)
{
    struct addrinfo *res;
    int rc = getaddrinfo("localhost", "80", NULL, &res);

    if (rc == 0)
        freeaddrinfo(res);
    return rc;
}

static int call_gethostbyname(void)
{
    return gethostbyname("localhost") ? 0 : -1;
}

static int call_gethostbyname_r(void)
{
    struct hostent he, *res = NULL;
    char buf[256];
    int herr;

    return gethostbyname_r("localhost", &he, buf, sizeof(buf), &res, &herr) || !res;
}

static int call_getnameinfo(void)
{
    char host[64];

    return getnameinfo((struct sockaddr *)&to, sizeof(to), host, sizeof(host), NULL, 0, 0);
}

static const struct {
    const char *name;
    int (*call)(void);
} calls[] = {
    { "connect", call_connect },
    { "connect-nonblocking+getsockopt", call_connect_nb },
    { "connect-refused+close", call_close_refused },
    { "getaddrinfo", call_getaddrinfo },
    { "gethostbyname", call_gethostbyname },
    { "gethostbyname_r", call_gethostbyname_r },
    { "getnameinfo", call_getnameinfo },
};

static void *on_thread(void *arg)
{
    int (*call)(void) = (int (*)(void))arg;
    volatile char here = 0;

    base = (uintptr_t)&here;
    return (void *)(intptr_t)(call() != 0);
}

static void on_usr1(int sig)
{
    volatile char here = 0;

    (void)sig;
    base = (uintptr_t)&here;
    failed |= call_connect() != 0;
}

/* A connect in a signal handler on the painted stack. */
static void in_handler(void)
{
    stack_t ss = { .ss_sp = stack, .ss_size = STACK };
    struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_ONSTACK };

    paint();
    sigaltstack(&ss, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    printf("connect-in-signal-handler %zu\n", depth());
}

static void *on_small_thread(void *arg)
{
    volatile char here = 0;
    pthread_attr_t at;
    void *lo;
    size_t size;

    (void)arg;
    if (pthread_getattr_np(pthread_self(), &at) != 0 || pthread_attr_getstack(&at, &lo, &size) != 0)
        return NULL;
    pthread_attr_destroy(&at);
    printf("free %ld\n", (long)((uintptr_t)&here - (uintptr_t)lo));
    return NULL;
}

/* The stack a PTHREAD_STACK_MIN thread has for its own calls. */
static void small_thread(void)
{
    pthread_attr_t at;
    pthread_t t;

    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, PTHREAD_STACK_MIN);
    if (pthread_create(&t, &at, on_small_thread, NULL) == 0)
        pthread_join(t, NULL);
    pthread_attr_destroy(&at);
}

/* connect called once, on a unix socket (not managed): the program's own PLT entry
 * for connect is bound, nothing of the shim's managed path has run. */
static void bind_connect(void)
{
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    int u = socket(AF_UNIX, SOCK_STREAM, 0);

    connect(u, (struct sockaddr *)&un, sizeof(un));
    close(u);
}

int main(int argc, char **argv)
{
    int l = socket(AF_INET, SOCK_STREAM, 0), one = 1, first = argc == 3 && !strcmp(argv[1], "--first");

    if (argc != 2 && !first)
        return 2;
    to = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(atoi(argv[argc - 1])),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    stack = mmap(NULL, STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (stack == MAP_FAILED || bind(l, (struct sockaddr *)&to, sizeof(to)) < 0 || listen(l, 64) < 0)
        return 2;
    if (first) {
        bind_connect();
        in_handler();
        return failed;
    }
    for (size_t k = 0; k < sizeof(calls) / sizeof(calls[0]); k++) {
        pthread_attr_t at;
        pthread_t t;
        void *rc = NULL;

        paint();
        pthread_attr_init(&at);
        pthread_attr_setstack(&at, stack, STACK);
        if (pthread_create(&t, &at, on_thread, (void *)calls[k].call) != 0)
            return 2;
        pthread_join(t, &rc);
        pthread_attr_destroy(&at);
        failed |= rc != NULL;
        printf("%s %zu%s\n", calls[k].name, depth(), rc ? " (failed)" : "");
    }
    in_handler();
    fflush(stdout);
    small_thread();
    return failed;
}
