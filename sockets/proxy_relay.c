/*
 * proxy_relay.c - a node proxy's conversation relayed to the job proxy (proxy_job.c opens
 * it), from the job proxy's side: what the job proxy sends is passed on to the process
 * in whole messages, and until its answer has come (anything but a QUEUED heartbeat: a
 * GO or FAIL, a name's answer, an outcome's ack) the request is kept. If the job proxy
 * fails before it answers (its connection ends, it sends what is not a message, or it
 * stays silent for two of its heartbeat periods: stopped, wedged, its node cut off), the
 * node proxy takes it for down and serves the kept request itself, as it serves every
 * request while alone: the process gets its answer on the same connection, and never
 * learns that the job proxy went away. (The process lost its proxy instead: its
 * connection was closed under it, or its wait ran out, and it passed everything to libc
 * for the rest of its life, with the node's mark that the proxy was lost, so that every
 * later process of the job on the node did too, while the node proxy was serving.)
 * After the answer, the conversation has nothing left that needs the job proxy (a DONE
 * whose slot the job proxy gives back itself when the connection ends): it goes on
 * here, and what it sends is taken as usual (a DONE for a slot this proxy did not give
 * is ignored).
 */
#include "proxy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct px_relay {
    struct cnio__skp_msg req;       /* the request, until the job proxy has answered it */
    int answered;
    int64_t heard_ms;               /* when the job proxy last sent something */
    size_t len;                     /* bytes of its next message in buf so far */
    unsigned char buf[CNIO__SKP_MAX];
};

int px_relay_start(struct px_client *c, const struct cnio__skp_msg *req, int64_t now)
{
    struct px_relay *r = malloc(sizeof(*r));

    if (!r)
        return -1;
    r->req = *req;
    r->answered = 0;
    r->heard_ms = now;
    r->len = 0;
    c->relay = r;
    return 0;
}

void px_relay_free(struct px_client *c)
{
    free(c->relay);
    c->relay = NULL;
}

/* Sends the n bytes at p to the process whole (a message it waits for; a process that
 * cannot take it at once does not follow the protocol); 0 or -1. */
static int relay_to_client(struct px_client *c, const unsigned char *p, size_t n)
{
    return send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)n ? 0 : -1;
}

int px_relay_back(struct px_client *c, int64_t now)
{
    struct px_relay *r = c->relay;
    struct cnio__skp_msg m;
    size_t off = 0;
    ssize_t n;

    n = recv(c->up, r->buf + r->len, sizeof(r->buf) - r->len, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        return -2;
    if (n < 0)
        return 0;
    r->len += (size_t)n;
    r->heard_ms = now;
    for (;;) {
        int k = cnio__skp_parse(r->buf + off, r->len - off, &m);

        if (k < 0)
            return -2;
        if (k == 0)
            break;
        if (relay_to_client(c, r->buf + off, (size_t)k) < 0)
            return -1;
        if (m.type != CNIO__SKP_ADMIT_REP || m.i[0] != CNIO__SKP_QUEUED)
            r->answered = 1;
        off += (size_t)k;
    }
    memmove(r->buf, r->buf + off, r->len - off);
    r->len -= off;
    return 0;
}

int px_relay_silent(const struct px *px, const struct px_client *c, int64_t now, int64_t *next)
{
    const struct px_relay *r = c->relay;
    int64_t due;

    if (!r || c->up < 0 || r->answered)
        return 0;
    due = r->heard_ms + 2 * px->beat_ms;
    if (now >= due)
        return 1;
    if (due - now < *next)
        *next = due - now;
    return 0;
}

int px_relay_lost(struct px_client *c, const char *what, struct cnio__skp_msg *req)
{
    int unanswered = c->relay && !c->relay->answered;

    close(c->up);
    c->up = -1;
    if (unanswered) {
        px_job_down(what);
        *req = c->relay->req;
    }
    px_relay_free(c);
    return unanswered;
}
