/*
 * conn_out.c - the replies of a cnio-server connection (conn.c reads its requests).
 *
 * Replies (header + payload) wait in a queue written with one sendmsg of many
 * iovecs; a partial write leaves the rest for EPOLLOUT. Reply buffers go back to a
 * small per-connection spare list, so a steady stream of READs allocates nothing;
 * large READ replies carry no buffer at all but a range of the object's file
 * (request.c), holding a reference to a descriptor of it until they are written: the
 * headers before it go out with sendmsg (MSG_MORE), the range with sendfile, straight
 * from the page cache. To a client on this host (--read-send auto, the default) the
 * range goes instead with sendmsg from a populated mapping of it, unmapped once written:
 * over loopback the socket then hands the client fresh buffers to copy from, where
 * with sendfile its receive copies from the page cache's pages, cold (4 ranks reading
 * from 2 servers on 2 cores: ranks' CPU 0.8-0.95 s/GB with sendfile, 0.3-0.37 copied,
 * at 0.2 s/GB more in the servers; doc/performance.md).
 */
#include "server.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define CONN_IOV 64
#define CONN_SPARES 4
#define CONN_SPARE_BYTES (2 * (size_t)CNIO_WIRE_MAX_PAYLOAD)

/* Frees a reply buffer and its storage, returning the bytes to the budget. */
static void conn_out_free(struct cnio_srv *srv, struct cnio_srv_out *o)
{
    if (o->map)
        munmap(o->map, o->maplen);
    if (o->file) {
        cnio__srv_file_put(o->file);
        o->file = NULL;
    }
    if (o->cap)
        cnio__srv_mem_give(srv, o->cap);
    free(o->buf);
    free(o);
}

static struct cnio_srv_out *conn_out_get(struct cnio_srv_conn *c, size_t need)
{
    struct cnio_srv_out **pp = &c->spare, *o;

    while (*pp && (*pp)->cap < need)
        pp = &(*pp)->next;
    if (!*pp && c->spare)
        pp = &c->spare;
    o = *pp;
    if (o) {
        *pp = o->next;
        c->nspare--;
    } else if (!(o = calloc(1, sizeof(*o)))) {
        return NULL;
    }
    o->next = NULL;
    if (o->cap < need) {
        size_t cap = CNIO_MAX(need, CNIO_SRV_CONN_MIN_BUF);

        if (o->cap)
            cnio__srv_mem_give(c->srv, o->cap);
        free(o->buf);
        o->buf = malloc(cap);
        o->cap = o->buf ? cap : 0;
        if (!o->buf) {
            free(o);
            return NULL;
        }
        cnio__srv_mem_force(c->srv, cap);
    }
    o->data = o->buf;
    return o;
}

/* Drops the object file (or its mapping) a sent or abandoned reply was to send from. */
static void conn_out_unmap(struct cnio_srv_out *o)
{
    if (o->map) {
        munmap(o->map, o->maplen);
        o->map = NULL;
    }
    if (o->file) {
        cnio__srv_file_put(o->file);
        o->file = NULL;
    }
    o->data = o->buf;
}

static size_t conn_spare_bytes(const struct cnio_srv_conn *c)
{
    size_t n = 0;

    for (const struct cnio_srv_out *o = c->spare; o; o = o->next)
        n += o->cap;
    return n;
}

void cnio__srv_out_put(struct cnio_srv_conn *c, struct cnio_srv_out *o)
{
    conn_out_unmap(o);
    if (c->nspare < CONN_SPARES && conn_spare_bytes(c) + o->cap <= CONN_SPARE_BYTES) {
        o->next = c->spare;
        c->spare = o;
        c->nspare++;
        return;
    }
    conn_out_free(c->srv, o);
}

void cnio__srv_out_list_free(struct cnio_srv *srv, struct cnio_srv_out *o)
{
    while (o) {
        struct cnio_srv_out *next = o->next;

        conn_out_free(srv, o);
        o = next;
    }
}

uint8_t *cnio__srv_reply_buf(struct cnio_srv_conn *c, struct cnio_srv_reply *r, size_t cap)
{
    if (r->out && (r->out->cap < cap || r->out->file || r->out->map)) {
        cnio__srv_out_put(c, r->out);
        r->out = NULL;
    }
    if (!r->out)
        r->out = conn_out_get(c, cap);
    return r->out ? r->out->buf : NULL;
}

/* A fabric connection's reply goes as one message from memory: read the range now. */
static int conn_reply_read(struct cnio_srv_conn *c, struct cnio_srv_reply *r,
                           struct cnio_srv_file *f, uint64_t off, uint32_t len, uint32_t crc)
{
    uint8_t *buf = cnio__srv_reply_buf(c, r, len);
    size_t got = 0;
    int ret = buf ? 0 : -CNIO_ERR_NOMEM;

    while (!ret && got < len) {
        ssize_t n = pread(f->fd, buf + got, len - got, (off_t)(off + got));

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            ret = -CNIO_ERR_IO;   /* an error, or the file shorter than its checksums say */
        else
            got += (size_t)n;
    }
    cnio__srv_file_put(f);
    if (ret)
        return ret;
    r->len = len;
    r->crc = crc;
    r->crc_set = 1;
    return 0;
}

/* Maps f's [off, off + len) into o, its pages populated (no fault per page when the
 * socket copies them): 0, or -1 (o untouched). A sparse file is not mapped: a read
 * fault in a hole of a tmpfs file allocates a page there, and reading a sparse object
 * must not fill it. Whether the file has a hole is told by its allocated blocks
 * against its size (SEEK_HOLE would walk the page cache to the end of the file, at
 * every reply). A file that shrinks under the mapping makes the sendmsg fail (EFAULT),
 * which drops the connection as sendfile's short send does. */
static int conn_out_map(struct cnio_srv_out *o, const struct cnio_srv_file *f, uint64_t off,
                        uint32_t len)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), start = off - off % page;
    size_t maplen = (size_t)(off - start) + len;
    struct stat sb;
    void *m;

    if (fstat(f->fd, &sb) < 0 ||
        (uint64_t)sb.st_blocks * 512 < ((uint64_t)sb.st_size + page - 1) / page * page)
        return -1;
    m = mmap(NULL, maplen, PROT_READ, MAP_SHARED | MAP_POPULATE, f->fd, (off_t)start);
    if (m == MAP_FAILED)
        return -1;
    o->map = m;
    o->maplen = maplen;
    o->data = (const uint8_t *)m + (off - start);
    return 0;
}

int cnio__srv_reply_file(struct cnio_srv_conn *c, struct cnio_srv_reply *r,
                         struct cnio_srv_file *f, uint64_t off, uint32_t len, uint32_t crc)
{
    if (c->fd < 0)
        return conn_reply_read(c, r, f, off, len, crc);
    if (r->out)
        conn_out_unmap(r->out);
    else
        r->out = conn_out_get(c, 0);
    if (!r->out) {
        cnio__srv_file_put(f);
        return -CNIO_ERR_NOMEM;
    }
    r->len = len;
    r->crc = crc;
    r->crc_set = 1;
    if (c->read_copy && conn_out_map(r->out, f, off, len) == 0) {
        cnio__srv_file_put(f);
        return 0;
    }
    r->out->file = f;
    r->out->file_off = off;
    return 0;
}

/* Queues a frame of type with status and r's fields and payload (none when status,
 * unless r carries a reason: flag CNIO_WIRE_F_REASON). */
int cnio__srv_conn_queue(struct cnio_srv_conn *c, uint16_t type, uint64_t reqid, int32_t status,
                      struct cnio_srv_reply *r)
{
    struct cnio_wire_hdr h;
    struct cnio_srv_out *o = r->out;

    if (!o && !(o = conn_out_get(c, 0)))
        return -CNIO_ERR_NOMEM;
    r->out = NULL;
    memset(&h, 0, sizeof(h));
    h.type = type;
    if (c->legacy && status <= -CNIO_WIRE_LEGACY_ERR_MAX)
        status = -CNIO_ERR_IO;   /* a code a client before 2026-11-30 does not know */
    h.status = status;
    h.flags = status ? (r->flags & CNIO_WIRE_F_REASON) : r->flags;
    h.reqid = reqid;
    h.session = r->session;
    h.object = r->object;
    h.offset = r->offset;
    h.length = status && !(h.flags & CNIO_WIRE_F_REASON) ? 0 : r->len;
    if (status && (o->file || o->map))
        conn_out_unmap(o);
    if (!h.length)
        h.payload_crc = 0;
    else
        h.payload_crc = r->crc_set ? r->crc : cnio__crc32c(0, o->data, h.length);
    cnio__wire_hdr_encode(&h, o->hdr);
    o->len = h.length;
    o->sent = 0;
    if (!c->oq_head)
        c->out_progress = cnio__now_ms();
    if (c->oq_tail)
        c->oq_tail->next = o;
    else
        c->oq_head = o;
    c->oq_tail = o;
    c->oq_bytes += CNIO_WIRE_HDR_SIZE + o->len;
    return 0;
}

/* Takes w written bytes off the front of the queue. */
static void conn_sent(struct cnio_srv_conn *c, size_t w)
{
    c->oq_bytes -= w;
    if (w)
        c->out_progress = cnio__now_ms();
    while (w) {
        struct cnio_srv_out *o = c->oq_head;
        size_t left = CNIO_WIRE_HDR_SIZE + o->len - o->sent;

        if (w < left) {
            o->sent += w;
            return;
        }
        w -= left;
        c->oq_head = o->next;
        if (!c->oq_head)
            c->oq_tail = NULL;
        cnio__srv_out_put(c, o);
    }
}

/* Sends from the file of the reply at the head of the queue, whose header is out:
 * 1 when the socket is full, 0 to go on, -CNIO_ERR_CONN to drop the connection. */
static int conn_flush_file(struct cnio_srv_conn *c, struct cnio_srv_out *o)
{
    size_t done = o->sent - CNIO_WIRE_HDR_SIZE;
    off_t off = (off_t)(o->file_off + done);
    ssize_t w = sendfile(c->fd, o->file->fd, &off, o->len - done);

    if (w < 0 && errno == EINTR)
        return 0;
    if (w < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -CNIO_ERR_CONN;
    if (w == 0) {   /* the file shrank since the reply's CRC: the frame cannot be finished */
        cnio__info("%s: object file shrank under a READ reply, closing", c->peer);
        return -CNIO_ERR_CONN;
    }
    conn_sent(c, (size_t)w);
    return 0;
}

/* Writes as much of the queue as the socket takes: 0, or -CNIO_ERR_CONN. */
int cnio__srv_conn_flush(struct cnio_srv_conn *c)
{
    while (c->oq_head) {
        struct iovec iov[CONN_IOV];
        struct msghdr mh;
        size_t n = 0;
        int more = 0;
        ssize_t w;

        if (c->oq_head->file && c->oq_head->sent >= CNIO_WIRE_HDR_SIZE &&
            c->oq_head->len) {
            int r = conn_flush_file(c, c->oq_head);

            if (r)
                return r < 0 ? r : 0;
            continue;
        }
        for (struct cnio_srv_out *o = c->oq_head; o && n + 2 <= CONN_IOV; o = o->next) {
            size_t s = o->sent;

            if (s < CNIO_WIRE_HDR_SIZE) {
                iov[n].iov_base = o->hdr + s;
                iov[n++].iov_len = CNIO_WIRE_HDR_SIZE - s;
                s = CNIO_WIRE_HDR_SIZE;
            }
            if (o->file && o->len) {
                more = 1;   /* its payload follows with sendfile */
                break;
            }
            if (s - CNIO_WIRE_HDR_SIZE < o->len) {
                iov[n].iov_base = (void *)(o->data + (s - CNIO_WIRE_HDR_SIZE));
                iov[n++].iov_len = o->len - (s - CNIO_WIRE_HDR_SIZE);
            }
        }
        memset(&mh, 0, sizeof(mh));
        mh.msg_iov = iov;
        mh.msg_iovlen = n;
        w = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL | (more ? MSG_MORE : 0));
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -CNIO_ERR_CONN;
        conn_sent(c, (size_t)w);
    }
    return 0;
}

struct cnio_srv_out *cnio__srv_conn_take(struct cnio_srv_conn *c)
{
    struct cnio_srv_out *o = c->oq_head;

    if (!o)
        return NULL;
    c->oq_head = o->next;
    if (!c->oq_head)
        c->oq_tail = NULL;
    c->oq_bytes -= CNIO_WIRE_HDR_SIZE + o->len;
    o->next = NULL;
    return o;
}

void cnio__srv_conn_sent(struct cnio_srv_conn *c, struct cnio_srv_out *o)
{
    cnio__srv_out_put(c, o);
}

void cnio__srv_out_drop(struct cnio_srv *srv, struct cnio_srv_out *o)
{
    conn_out_free(srv, o);
}
