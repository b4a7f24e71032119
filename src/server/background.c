/*
 * background.c - the server's housekeeping threads: the background scrub (scrub.c) and
 * the expiry of staged instances that no writer came back for (--stage-expire). Each
 * sleeps on an eventfd that shutdown makes readable, so that it stops at once.
 */
#include "server.h"
#include "log.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* The longest an expiry pass waits for the next: a few passes per --stage-expire, at
 * least one an hour. */
#define EXPIRE_PASS_MAX_MS (3600 * 1000)

int cnio__srv_bg_start(struct cnio_srv_bg *b, void *(*fn)(void *), void *arg)
{
    b->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (b->stop_fd < 0)
        return -CNIO_ERR_NOMEM;
    if (pthread_create(&b->tid, NULL, fn, arg)) {
        close(b->stop_fd);
        return -CNIO_ERR_NOMEM;
    }
    b->running = 1;
    return 0;
}

int cnio__srv_bg_wait(const struct cnio_srv_bg *b, int ms)
{
    struct pollfd p = { .fd = b->stop_fd, .events = POLLIN };

    return poll(&p, 1, ms) > 0;
}

void cnio__srv_bg_stop(struct cnio_srv_bg *b, const char *what)
{
    uint64_t one = 1;

    if (!b->running)
        return;
    if (write(b->stop_fd, &one, sizeof(one)) < 0)
        cnio__warn("%s: cannot stop: %s", what, strerror(errno));
    pthread_join(b->tid, NULL);
    close(b->stop_fd);
    b->running = 0;
}

static void *expire_main(void *arg)
{
    struct cnio_srv *srv = arg;
    uint64_t age_ms = (uint64_t)srv->opts.stage_expire_s * 1000;
    int pause_ms = (int)CNIO_MAX(CNIO_MIN(age_ms / 4, EXPIRE_PASS_MAX_MS), 1000);

    do {
        uint64_t bytes = 0;
        int n = cnio__srv_stage_expire(&srv->store, srv->opts.stage_expire_s,
                                       cnio__srv_handles_held, &srv->handles, &bytes);

        if (n > 0)
            cnio__info("removed %d interrupted upload%s (%llu bytes) that nobody resumed "
                       "within %u s (--stage-expire)", n, n == 1 ? "" : "s",
                       (unsigned long long)bytes, srv->opts.stage_expire_s);
        else if (n < 0)
            cnio__warn("--stage-expire: a pass over the staged instances failed: %s",
                       cnio__srv_strerror(n));
    } while (!cnio__srv_bg_wait(&srv->expire_bg, pause_ms));
    return NULL;
}

int cnio__srv_expire_start(struct cnio_srv *srv)
{
    if (!srv->opts.stage_expire_s)
        return 0;
    return cnio__srv_bg_start(&srv->expire_bg, expire_main, srv);
}
