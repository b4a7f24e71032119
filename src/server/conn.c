/*
 * conn.c - one client connection of cnio-server: its input (frames read, checked and
 * handed to request.c), its timeouts and its life; the replies are conn_out.c's.
 *
 * Input: the 64-byte header is read and decoded first; only a header that passed
 * (magic, version, CRC, a length that fits its type, AUTH before anything else) makes
 * the connection size its payload buffer, which is kept and reused for the next frames.
 * The payload CRC is checked, the request handled (in order), and the reply queued.
 * Once authenticated, a connection reads ahead: a header, or a payload smaller than
 * CONN_RA, is read with one recv of up to CONN_RA bytes, so that the frames a client
 * sends together (a batch of small files: OPEN, WRITE, SETSIZE, COMMIT, CLOSE of each)
 * cost one system call between them, not two each; larger payloads go straight into
 * their buffer, and the header after one is read alone, as a stream of large WRITEs
 * needs (read ahead, each would copy up to CONN_RA of its payload once more). Bytes read
 * ahead raise no epoll event, so whatever lets the connection read again (its replies
 * drained, memory freed) handles them at once (conn_pump).
 *
 * A WRITE's payload CRC is checked by its handler (request.c, sums.c), in the same pass
 * that computes the CRCs of the blocks it writes.
 * Backpressure: while more than --max-inflight reply bytes are queued the connection
 * stops reading (EPOLLIN dropped) and resumes once the client has drained them.
 *
 * Every buffer is counted against the server-wide --max-memory (limits.c): a payload
 * buffer that does not fit waits (mem_wait, not reading) and is retried on the timer
 * tick; while the total is at the bound no connection starts reading a new frame.
 * Timeouts on the tick: --idle-timeout for an authenticated connection with nothing
 * going on (and no object it opened still open), --frame-timeout for a frame started and not finished (time the server
 * itself held reading back does not count) and for replies the client does not read.
 */
#include "server.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONN_FRAMES_PER_EVENT 16
#define CONN_IDLE_TRIM_MS 5000
/* read-ahead buffer: 16 KiB holds a batch step of about 170 small requests */
#define CONN_RA (16u << 10)

/* Frees the request payload buffer, returning its bytes to the budget. */
static void conn_in_free(struct cnio_srv_conn *c)
{
    if (c->in_cap)
        cnio__srv_mem_give(c->srv, c->in_cap);
    free(c->in);
    c->in = NULL;
    c->in_cap = 0;
}

static int conn_ra_pending(const struct cnio_srv_conn *c)
{
    return c->ra_off < c->ra_len;
}

/* Frees the read-ahead buffer, which must hold nothing pending. */
static void conn_ra_free(struct cnio_srv_conn *c)
{
    if (c->ra)
        cnio__srv_mem_give(c->srv, CONN_RA);
    free(c->ra);
    c->ra = NULL;
    c->ra_off = c->ra_len = 0;
}

static int conn_mid_frame(const struct cnio_srv_conn *c)
{
    return c->hdr_got > 0 || c->in_payload || c->mem_wait || conn_ra_pending(c);
}

/* Whether the server itself holds reading back (reply queue, --max-memory). */
static int conn_held_back(const struct cnio_srv_conn *c)
{
    if (c->mem_wait || c->oq_bytes > c->srv->opts.max_inflight)
        return 1;
    return !c->in_payload && cnio__srv_mem_over(c->srv);
}

static int conn_want_read(const struct cnio_srv_conn *c)
{
    if (c->closing || conn_held_back(c))
        return 0;
    return !c->draining || conn_mid_frame(c);
}

/* Brings the epoll registration in line with the state: 1 when the connection is done. */
static int conn_update(struct cnio_srv_conn *c)
{
    uint32_t want = 0;

    if (!c->oq_head && (c->closing || (c->draining && !conn_mid_frame(c))))
        return 1;
    if (conn_want_read(c))
        want |= EPOLLIN;
    if (c->oq_head)
        want |= EPOLLOUT;
    if (want != c->ev) {
        struct epoll_event ev = { .events = want, .data.ptr = c };

        if (epoll_ctl(c->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
            return 1;
        c->ev = want;
    }
    return 0;
}

static int conn_error(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, int status)
{
    struct cnio_srv_reply r;

    memset(&r, 0, sizeof(r));
    r.session = c->session;
    r.object = h->object;
    r.offset = h->offset;
    return cnio__srv_conn_queue(c, (uint16_t)(h->type | CNIO_WIRE_REPLY), h->reqid, status, &r);
}

/* Handles the complete frame h, payload in: 0, or -1 to drop the connection. */
static int conn_frame_at(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h,
                         const uint8_t *in)
{
    enum cnio_srv_conn_state was;
    struct cnio_srv_reply r;
    int ret;

    if ((h->type != CNIO_WIRE_WRITE || c->state != CNIO_SRV_C_READY) &&
        cnio__wire_payload_check(h, in)) {
        cnio__info("%s: bad payload checksum, closing", c->peer);
        return -1;
    }
    if (c->state == CNIO_SRV_C_READY && h->session != c->session) {
        cnio__info("%s: wrong session id, closing", c->peer);
        c->closing = 1;
        return conn_error(c, h, -CNIO_ERR_PROTO) ? -1 : 0;
    }
    if ((h->type & CNIO_WIRE_REPLY) || h->type == CNIO_WIRE_CHALLENGE ||
        (c->state == CNIO_SRV_C_READY && h->type == CNIO_WIRE_AUTH))
        return conn_error(c, h, -CNIO_ERR_PROTO) ? -1 : 0;
    memset(&r, 0, sizeof(r));
    r.session = c->session;
    r.object = h->object;
    r.offset = h->offset;
    was = c->state;
    cnio__srv_why_reset();
    ret = cnio__srv_request(c, h, in, &r);
    if (was == CNIO_SRV_C_AUTH && c->state == CNIO_SRV_C_READY)
        cnio__srv_unauth_remove(c);
    if (c->in_cap > CNIO_SRV_CONN_MIN_BUF && cnio__srv_mem_tight(c->srv))
        conn_in_free(c);   /* others may be waiting for the memory */
    if (ret == -CNIO_ERR_CHECKSUM && h->type == CNIO_WIRE_WRITE) {
        cnio__info("%s: bad payload checksum, closing", c->peer);
        if (r.out)
            cnio__srv_out_put(c, r.out);
        return -1;
    }
    if (ret == -CNIO_ERR_PROTO) {
        cnio__info("%s: malformed payload (type %u), closing", c->peer, h->type);
        if (r.out)
            cnio__srv_out_put(c, r.out);
        return -1;
    }
    cnio__srv_why_reply(c, h, ret, &r);
    return cnio__srv_conn_queue(c, (uint16_t)(h->type | CNIO_WIRE_REPLY), h->reqid, ret, &r) ? -1 : 0;
}

/*
 * A COMMIT (in c->h) with more COMMITs read ahead behind it, as a batch of small files
 * sends them (client_batch.c): up to CNIO_SRV_COMMIT_GROUP of them handled as one group
 * whose steps share each fsync (stage_commit.c), their replies queued in order, each
 * with its own status and reason, as if handled one by one. Frames the group does not
 * take stay read ahead, for conn_read. 0, or -1 to drop the connection.
 */
static int conn_commit_group(struct cnio_srv_conn *c)
{
    struct cnio_wire_hdr h[CNIO_SRV_COMMIT_GROUP];
    struct cnio_srv_reply r[CNIO_SRV_COMMIT_GROUP];
    struct cnio_srv_why why[CNIO_SRV_COMMIT_GROUP];
    size_t end[CNIO_SRV_COMMIT_GROUP], pos = c->ra_off;
    int ret[CNIO_SRV_COMMIT_GROUP], n = 1, k;

    h[0] = c->h;
    if (cnio__wire_payload_check(&h[0], c->in))
        return conn_frame_at(c, &c->h, c->in);   /* which closes the connection */
    while (n < CNIO_SRV_COMMIT_GROUP && c->ra_len - pos >= CNIO_WIRE_HDR_SIZE) {
        const uint8_t *f = c->ra + pos;

        if (cnio__wire_hdr_decode(f, &h[n]) || h[n].type != CNIO_WIRE_COMMIT ||
            h[n].session != c->session ||
            h[n].length > c->ra_len - pos - CNIO_WIRE_HDR_SIZE ||
            cnio__wire_payload_check(&h[n], f + CNIO_WIRE_HDR_SIZE))
            break;   /* conn_read handles it alone, and says what is wrong */
        pos += CNIO_WIRE_HDR_SIZE + h[n].length;
        end[n++] = pos;
    }
    if (n == 1)
        return conn_frame_at(c, &c->h, c->in);
    for (int i = 0; i < n; i++)
        r[i] = (struct cnio_srv_reply){ .session = c->session, .object = h[i].object,
                                        .offset = h[i].offset };
    k = cnio__srv_req_commit_group(c, h, n, r, ret, why);
    if (k > 1)
        c->ra_off = end[k - 1];
    for (int i = 0; i < k; i++) {
        cnio__srv_why_load(&why[i]);
        ret[i] = cnio__srv_req_root_gone(c, ret[i]);
        cnio__srv_why_reply(c, &h[i], ret[i], &r[i]);
        if (cnio__srv_conn_queue(c, (uint16_t)(CNIO_WIRE_COMMIT | CNIO_WIRE_REPLY), h[i].reqid,
                                 ret[i], &r[i]))
            return -1;
    }
    return 0;
}

/* Handles the complete frame in c->h / c->in: 0, or -1 to drop the connection. */
static int conn_frame(struct cnio_srv_conn *c)
{
    c->hdr_got = 0;
    c->in_payload = 0;
    c->ra_bulk = c->h.length >= CONN_RA;
    if (c->h.type == CNIO_WIRE_COMMIT && c->state == CNIO_SRV_C_READY &&
        c->auth_mode != CNIO_WIRE_AUTH_TOKEN && c->h.session == c->session &&
        conn_ra_pending(c))
        return conn_commit_group(c);
    return conn_frame_at(c, &c->h, c->in);
}

/* Populates a fresh payload buffer's pages now, so that receiving into it takes no page
 * fault per 4 KiB (the buffer is then reused frame after frame). */
static void conn_prefault(void *p, size_t len)
{
#ifdef MADV_POPULATE_WRITE
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)p + page - 1) & ~(page - 1), e = ((uintptr_t)p + len) & ~(page - 1);

    if (e > a)
        madvise((void *)a, e - a, MADV_POPULATE_WRITE);
#else
    (void)p;
    (void)len;
#endif
}

/* Sizes the payload buffer for the header in c->h within --max-memory: 1 when ready,
 * 0 when it must wait (mem_wait), -1 when out of memory. */
static int conn_in_ready(struct cnio_srv_conn *c)
{
    if (c->h.length > c->in_cap) {
        conn_in_free(c);
        if (cnio__srv_mem_take(c->srv, c->h.length)) {
            c->mem_wait = 1;
            return 0;
        }
        c->in = malloc(c->h.length);
        if (!c->in) {
            cnio__srv_mem_give(c->srv, c->h.length);
            cnio__warn("%s: out of memory for a %u-byte frame, closing", c->peer, c->h.length);
            return -1;
        }
        c->in_cap = c->h.length;
        conn_prefault(c->in, c->in_cap);
    }
    c->mem_wait = 0;
    c->in_got = 0;
    c->in_payload = c->h.length > 0;
    return 1;
}

/* A complete header is in c->hdr: decode, check, size the payload buffer. */
static int conn_header(struct cnio_srv_conn *c)
{
    int ret = cnio__wire_hdr_decode(c->hdr, &c->h);

    if (ret) {
        cnio__info("%s: bad frame header (%s), closing", c->peer, cnio__srv_strerror(ret));
        return -1;
    }
    if (c->state == CNIO_SRV_C_AUTH && c->h.type != CNIO_WIRE_AUTH) {
        cnio__info("%s: request before AUTH, closing", c->peer);
        return -1;
    }
    return conn_in_ready(c) < 0 ? -1 : 0;
}

/* Whether the connection may read ahead: authenticated, and a buffer (counted against
 * --max-memory; without one it reads frame by frame). */
static int conn_ra_get(struct cnio_srv_conn *c)
{
    if (c->ra)
        return 1;
    if (c->state != CNIO_SRV_C_READY || cnio__srv_mem_take(c->srv, CONN_RA))
        return 0;
    c->ra = malloc(CONN_RA);
    if (!c->ra)
        cnio__srv_mem_give(c->srv, CONN_RA);
    return c->ra != NULL;
}

/*
 * Up to want bytes of the stream into dst, as recv does (bytes, 0 at EOF, -1 with
 * errno): those read ahead first; then, with may_recv, one recv, into the read-ahead
 * buffer when want is smaller than it, else straight into dst. Without may_recv and
 * nothing read ahead: -1, EAGAIN.
 */
static ssize_t conn_recv(struct cnio_srv_conn *c, void *dst, size_t want, int may_recv)
{
    size_t n = c->ra_len - c->ra_off;
    ssize_t r;

    if (n == 0 && !may_recv) {
        errno = EAGAIN;
        return -1;
    }
    /* draining (shutdown): only what the frame under way still needs, not the next */
    if (n == 0 && (want >= CONN_RA || c->ra_bulk || c->draining || !conn_ra_get(c)))
        return recv(c->fd, dst, want, MSG_DONTWAIT);
    if (n == 0) {
        r = recv(c->fd, c->ra, CONN_RA, MSG_DONTWAIT);
        if (r <= 0)
            return r;
        c->ra_off = 0;
        c->ra_len = n = (size_t)r;
    }
    n = CNIO_MIN(n, want);
    memcpy(dst, c->ra + c->ra_off, n);
    c->ra_off += n;
    return (ssize_t)n;
}

/* One step into the header or the payload (a recv, with may_recv, or bytes read ahead):
 * 1 frame complete, 0 more to come, 2 nothing to read now, -1 to drop the connection. */
static int conn_recv_step(struct cnio_srv_conn *c, int may_recv)
{
    void *dst = c->in_payload ? (void *)(c->in + c->in_got) : (void *)(c->hdr + c->hdr_got);
    size_t want = c->in_payload ? c->h.length - c->in_got : CNIO_WIRE_HDR_SIZE - c->hdr_got;
    ssize_t r = conn_recv(c, dst, want, may_recv);

    if (r < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 2 : -1;
    if (r == 0) {
        if (conn_mid_frame(c))
            cnio__info("%s: connection closed mid-frame", c->peer);
        c->closing = 1;   /* the peer may still read the replies already queued */
        return 2;
    }
    if (c->in_payload) {
        c->in_got += (size_t)r;
        return c->in_got == c->h.length;
    }
    if (c->hdr_got == 0)
        c->frame_deadline = cnio__now_ms() + (int64_t)c->srv->opts.frame_timeout_s * 1000;
    c->hdr_got += (size_t)r;
    if (c->hdr_got < CNIO_WIRE_HDR_SIZE)
        return 0;
    if (conn_header(c))
        return -1;
    return c->mem_wait ? 2 : !c->in_payload;
}

/* Reads and handles frames while allowed: how many, or -1 to drop the connection. After
 * CONN_FRAMES_PER_EVENT frames (the other connections' turn) it only finishes what was
 * read ahead, which is bounded by CONN_RA. */
static int conn_read(struct cnio_srv_conn *c)
{
    int frames = 0;

    while (conn_want_read(c)) {
        int r = conn_recv_step(c, frames < CONN_FRAMES_PER_EVENT);

        if (r < 0)
            return -1;
        if (r == 2)
            break;
        if (r == 1) {
            frames++;
            c->last_active = cnio__now_ms();
            if (conn_frame(c))
                return -1;
        }
    }
    return frames;
}

/* Queues the CHALLENGE that opens every conversation. */
static int conn_challenge(struct cnio_srv_conn *c)
{
    struct cnio_wire_challenge ch;
    struct cnio_srv_reply r;
    uint8_t *buf;
    int n;

    memset(&r, 0, sizeof(r));
    memset(&ch, 0, sizeof(ch));
    if (cnio__random(c->nonce, sizeof(c->nonce)))
        return -CNIO_ERR_IO;
    ch.caps = CNIO_WIRE_CAP_REASON | CNIO_WIRE_CAP_ORDER | CNIO_WIRE_CAP_BUDGET |
              CNIO_WIRE_CAP_GONE | CNIO_WIRE_CAP_MTIME | CNIO_WIRE_CAP_PREPARE |
              CNIO_WIRE_CAP_LIVE | CNIO_WIRE_CAP_SETATTR_STAGED | CNIO_WIRE_CAP_IDLE |
              CNIO_WIRE_CAP_FINISH | CNIO_WIRE_CAP_INPLACE |
              CNIO_WIRE_CAP_FINISH_ORDER | CNIO_WIRE_CAP_FINISH_EXCL | CNIO_WIRE_CAP_ALLOCATE |
              CNIO_WIRE_CAP_INPLACE_HANDLE | CNIO_WIRE_CAP_RECORD |
              CNIO_WIRE_CAP_PRIOR | CNIO_WIRE_CAP_UPDATES | CNIO_WIRE_CAP_ID |
              CNIO_WIRE_CAP_OTHERS;
    ch.max_payload = c->max_payload ? c->max_payload : CNIO_WIRE_MAX_PAYLOAD;
    ch.credits = c->credits ? c->credits : CNIO_SRV_CREDITS;
    r.object = c->fab_id;
    r.offset = c->srv->opts.idle_timeout_s;   /* CNIO_WIRE_CAP_IDLE */
    memcpy(ch.nonce, c->nonce, sizeof(ch.nonce));
    buf = cnio__srv_reply_buf(c, &r, CNIO_WIRE_CHALLENGE_SIZE);
    if (!buf)
        return -CNIO_ERR_NOMEM;
    n = cnio__wire_challenge_encode(&ch, buf, CNIO_WIRE_CHALLENGE_SIZE);
    if (n < 0) {
        cnio__srv_out_put(c, r.out);
        return n;
    }
    r.len = (uint32_t)n;
    return cnio__srv_conn_queue(c, CNIO_WIRE_CHALLENGE, 0, 0, &r);
}

int cnio__srv_conn_new(struct cnio_srv *srv, int epfd, int fd, const struct cnio_addr *peer,
                       struct cnio_srv_conn **out)
{
    struct cnio_srv_conn *c = calloc(1, sizeof(*c));
    struct epoll_event ev;
    int ret = -CNIO_ERR_NOMEM;

    if (!c)
        goto close_fd;
    c->srv = srv;
    c->fd = fd;
    c->epfd = epfd;
    c->state = CNIO_SRV_C_AUTH;
    c->addr = *peer;
    atomic_init(&c->evicted, 0);
    c->last_active = c->out_progress = cnio__now_ms();
    c->auth_deadline = c->last_active + CNIO_SRV_AUTH_TIMEOUT_MS;
    cnio__net_ntop(peer, c->peer, sizeof(c->peer));
    c->read_copy = srv->opts.read_send == CNIO_SRV_READ_COPY ||
                   (srv->opts.read_send == CNIO_SRV_READ_AUTO && cnio__net_peer_here(fd));
    ret = conn_challenge(c);
    if (ret)
        goto free_conn;
    ret = cnio__srv_conn_flush(c);
    if (ret)
        goto free_conn;
    c->ev = EPOLLIN | (c->oq_head ? EPOLLOUT : 0);
    ev.events = c->ev;
    ev.data.ptr = c;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        ret = -CNIO_ERR_IO;
        goto free_conn;
    }
    *out = c;
    return 0;
free_conn:
    cnio__srv_out_list_free(srv, c->oq_head);
    cnio__srv_out_list_free(srv, c->spare);
    free(c);
close_fd:
    close(fd);
    return ret;
}

/*
 * Handles the frames read ahead while the connection may read (no epoll event will come
 * for them), writing replies as it goes; then brings the epoll registration in line:
 * 1 when the connection is done. Each round either empties the read-ahead buffer or
 * stops at something that raises an event (a full reply queue: EPOLLOUT; memory: the
 * tick).
 */
static int conn_pump(struct cnio_srv_conn *c)
{
    while (conn_ra_pending(c) && conn_want_read(c)) {
        size_t off = c->ra_off;
        int n = conn_read(c);

        if (n < 0 || cnio__srv_conn_flush(c))
            return 1;
        if (n == 0 && c->ra_off == off)
            break;   /* no progress: a partial frame waits for the socket */
    }
    return conn_update(c);
}

int cnio__srv_conn_event(struct cnio_srv_conn *c, uint32_t events)
{
    if (events & (EPOLLERR | EPOLLHUP)) {
        int err = 0;
        socklen_t len = sizeof(err);

        if (!getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) && err == ETIMEDOUT)
            cnio__info("%s: the client's host stopped answering (--keepalive), closing%s",
                       c->peer, c->nowned ? ": the objects it had open are released" : "");
        return 1;
    }
    if ((events & EPOLLIN) && conn_read(c) < 0)
        return 1;
    if (cnio__srv_conn_flush(c))
        return 1;
    return conn_pump(c);
}

int cnio__srv_conn_drain(struct cnio_srv_conn *c)
{
    c->draining = 1;
    if (c->state == CNIO_SRV_C_AUTH)
        return 1;
    return conn_pump(c);
}

/* The timeouts: 1 (logged) when c must close now. */
static int conn_expired(struct cnio_srv_conn *c, int64_t now_ms)
{
    const struct cnio_srv_opts *o = &c->srv->opts;
    int64_t frame_ms = (int64_t)o->frame_timeout_s * 1000;

    if (c->state == CNIO_SRV_C_AUTH && now_ms >= c->auth_deadline) {
        cnio__info("%s: no AUTH within %d s, closing", c->peer, CNIO_SRV_AUTH_TIMEOUT_MS / 1000);
        return 1;
    }
    if (c->state == CNIO_SRV_C_AUTH && atomic_load(&c->evicted))
        return 1;
    /* A connection holding open objects is an open file, not idle: closing it would
     * release the handles that other connections (the tokens of a job's ranks) use
     * (the writing ones at once: cnio__srv_handles_orphan). */
    if (c->state == CNIO_SRV_C_READY && o->idle_timeout_s && !c->oq_head && !c->nowned &&
        !conn_mid_frame(c) && now_ms - c->last_active >= (int64_t)o->idle_timeout_s * 1000) {
        cnio__info("%s: idle for %u s (--idle-timeout), closing", c->peer, o->idle_timeout_s);
        return 1;
    }
    if (conn_mid_frame(c) && !c->closing && conn_held_back(c))
        c->frame_deadline = CNIO_MAX(c->frame_deadline, now_ms + frame_ms);
    if (conn_mid_frame(c) && now_ms >= c->frame_deadline) {
        cnio__info("%s: frame not complete within %u s (--frame-timeout), closing", c->peer,
                   o->frame_timeout_s);
        return 1;
    }
    if (c->oq_head && now_ms - c->out_progress >= frame_ms) {
        cnio__info("%s: replies not read for %u s (--frame-timeout), closing", c->peer,
                   o->frame_timeout_s);
        return 1;
    }
    return 0;
}

int cnio__srv_conn_tick(struct cnio_srv_conn *c, int64_t now_ms)
{
    if (conn_expired(c, now_ms))
        return 1;
    if (c->mem_wait && conn_in_ready(c) < 0)
        return 1;
    if (now_ms - c->last_active >= CONN_IDLE_TRIM_MS && !c->oq_head && !conn_mid_frame(c)) {
        cnio__srv_out_list_free(c->srv, c->spare);
        c->spare = NULL;
        c->nspare = 0;
        conn_in_free(c);
        conn_ra_free(c);
    }
    return conn_pump(c);
}

int cnio__srv_conn_own(struct cnio_srv_conn *c, uint64_t id)
{
    if (c->nowned == c->owned_cap) {
        size_t cap = c->owned_cap ? c->owned_cap * 2 : 8;
        uint64_t *o = realloc(c->owned, cap * sizeof(*o));

        if (!o)
            return -CNIO_ERR_NOMEM;
        c->owned = o;
        c->owned_cap = cap;
    }
    c->owned[c->nowned++] = id;
    return 0;
}

void cnio__srv_conn_disown(struct cnio_srv_conn *c, uint64_t id)
{
    for (size_t i = c->nowned; i-- > 0;) {
        if (c->owned[i] == id) {
            c->owned[i] = c->owned[--c->nowned];
            return;
        }
    }
}

void cnio__srv_conn_free(struct cnio_srv_conn *c)
{
    cnio__srv_unauth_remove(c);
    cnio__srv_budget_leave(c);
    for (size_t i = 0; i < c->nowned; i++)
        cnio__srv_handles_orphan(&c->srv->handles, c->owned[i], c);
    if (c->fd >= 0)
        close(c->fd);
    cnio__srv_out_list_free(c->srv, c->oq_head);
    cnio__srv_out_list_free(c->srv, c->spare);
    free(c->owned);
    conn_in_free(c);
    conn_ra_free(c);
    atomic_fetch_sub(&c->srv->nconns, 1);
    free(c);
}

/* ---- connections over a fabric endpoint (fabric.c) ---------------------------------- */

int cnio__srv_conn_new_msg(struct cnio_srv *srv, const char *peer, uint64_t fab_id,
                           uint32_t max_payload, uint32_t credits, struct cnio_srv_conn **out)
{
    struct cnio_srv_conn *c = calloc(1, sizeof(*c));
    int ret;

    if (!c)
        return -CNIO_ERR_NOMEM;
    c->srv = srv;
    c->fd = c->epfd = -1;
    c->state = CNIO_SRV_C_AUTH;
    c->fab_id = fab_id;
    c->max_payload = max_payload;
    c->credits = credits;
    atomic_init(&c->evicted, 0);
    c->last_active = c->out_progress = cnio__now_ms();
    c->auth_deadline = c->last_active + CNIO_SRV_AUTH_TIMEOUT_MS;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    ret = conn_challenge(c);
    if (ret) {
        cnio__srv_out_list_free(srv, c->oq_head);
        free(c);
        return ret;
    }
    atomic_fetch_add(&srv->nconns, 1);
    *out = c;
    return 0;
}

int cnio__srv_conn_msg(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, const uint8_t *p)
{
    c->last_active = cnio__now_ms();
    return conn_frame_at(c, h, p);
}

