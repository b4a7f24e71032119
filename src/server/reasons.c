/*
 * reasons.c - the words a refusal comes with (cnio__srv_why, server.h): kept per thread
 * while one request is handled, logged, and sent to a client that asked for reasons as
 * the error reply's payload (CNIO_WIRE_F_REASON). Moved out of conn.c.
 */
#include "server.h"
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static __thread int conn_why_code;
static __thread char conn_why_text[CNIO_WIRE_MAX_REASON + 1];

const char *cnio__srv_strerror(int err)
{
    switch (err < 0 ? -err : err) {
    case CNIO_ERR_IO:
        return "I/O error on this server's storage";
    case CNIO_ERR_NOSPC:
        return "no space left on this server's file system";
    default:
        return cnio_strerror(err);
    }
}

int cnio__srv_why(int code, const char *fmt, ...)
{
    va_list ap;

    conn_why_code = code;
    va_start(ap, fmt);
    vsnprintf(conn_why_text, sizeof(conn_why_text), fmt, ap);
    va_end(ap);
    return code;
}

int cnio__srv_why_errno(int e)
{
    int code = cnio__err_from_errno(e);

    switch (e) {
    case EXDEV:
        return cnio__srv_why(code, "the name leads out of the server's root (through a "
                             "symbolic link or '..'), or into its own .cnio");
    case ELOOP:
        return cnio__srv_why(code, "the name goes through a symbolic link the server does not "
                             "follow (it would leave the root, or openat2 is not available)");
    case EACCES: case EPERM:
        return cnio__srv_why(code, "the server's file system denies permission");
    case EROFS:
        return cnio__srv_why(code, "the server's storage is read-only");
    case ENAMETOOLONG:
        return cnio__srv_why(code, "the name is too long for the server's file system");
    default:
        return code;
    }
}

void cnio__srv_why_reset(void)
{
    conn_why_code = 0;
    conn_why_text[0] = '\0';
}

void cnio__srv_why_save(struct cnio_srv_why *w)
{
    w->code = conn_why_code;
    memcpy(w->text, conn_why_text, sizeof(w->text));
}

void cnio__srv_why_load(const struct cnio_srv_why *w)
{
    conn_why_code = w->code;
    memcpy(conn_why_text, w->text, sizeof(conn_why_text));
}

/*
 * A request refused because the root's file system is full concerns the admin, who reads
 * this server's log, not only the client that is told: said as a warning (the refusals'
 * own lines are at info level), at most once a minute, whatever the number of writers
 * meeting it. The first is said at once.
 */
#define WHY_NOSPC_EVERY_MS 60000
static void why_nospc_warn(const struct cnio_srv_conn *c)
{
    static _Atomic int64_t next_ms = INT64_MIN;
    int64_t now = cnio__now_ms(), due = atomic_load_explicit(&next_ms, memory_order_relaxed);

    if (now < due || !atomic_compare_exchange_strong_explicit(&next_ms, &due,
                                                              now + WHY_NOSPC_EVERY_MS,
                                                              memory_order_relaxed,
                                                              memory_order_relaxed))
        return;   /* said less than a minute ago, or by another thread just now */
    cnio__warn("%s: no space left on the file system of the root %s: writes are refused "
               "until room is made (said at most once a minute)", c->peer,
               c->srv->opts.root);
}

void cnio__srv_why_reply(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, int status,
                         struct cnio_srv_reply *r)
{
    size_t n = strlen(conn_why_text);
    uint8_t *buf;

    if (status == -CNIO_ERR_NOSPC)
        why_nospc_warn(c);
    if (status >= 0 || conn_why_code != status || !n)
        return;
    cnio__info("%s: request %u refused (%s): %s", c->peer, h->type, cnio__srv_strerror(status),
               conn_why_text);
    if (!c->reasons || !(buf = cnio__srv_reply_buf(c, r, n)))
        return;
    memcpy(buf, conn_why_text, n);
    r->len = (uint32_t)n;
    r->flags = CNIO_WIRE_F_REASON;
    r->crc_set = 0;
}
