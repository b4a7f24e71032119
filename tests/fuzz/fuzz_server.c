/*
 * fuzz_server.c - fuzz target for cnio-server's request handling: conn.c (framing, the
 * reply queue, the limits), request.c (every handler), store.c, store_info.c and
 * handles.c, driven through a socketpair exactly as the worker loop drives a connection
 * (cnio__srv_conn_new, then cnio__srv_conn_event on readiness), against a real store in
 * /dev/shm.
 *
 * The first input byte picks the mode:
 *   bit 0  authenticate first (a real AUTH with the key), else stay unauthenticated
 *   bit 1  send the rest raw, byte for byte; else as structured frames: each takes a
 *          few input bytes for the header fields (type, flags, object, offset, length,
 *          reqid), the CRCs made right (unless a bit says otherwise) and, for the name
 *          requests, often a well-formed OPEN block with a name from a small alphabet
 *          (letters, '/', '.', a newline) so that mutations reach the store.
 * The object handle of the last OPEN reply is remembered, so that WRITE, READ, SETSIZE,
 * SYNC and CLOSE reach real handles.
 *
 * The server must never crash, leak (ASan) or hang (each input is bounded); its replies
 * are read and checked to be well-formed frames.
 *
 * With -DCNIO_LIBFUZZER and -fsanitize=fuzzer this is a libFuzzer target (tests/fuzz/
 * README.md); otherwise replay.c's main runs it over the files named on its command line
 * (the seed corpus, in `make check`).
 */
#include "server.h"
#include "auth.h"
#include "log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_STEPS 4096
/* The store starts afresh every so many inputs: objects pile up otherwise (20,000 files
 * after half a million inputs), and every LIST and create gets slower. */
#define FZ_FRESH_STORE 512

static struct cnio_srv fz_srv;
static int fz_epfd = -1;
static char fz_root[64];

/* A client end: what it sent, what it got back. */
struct fz_client {
    int fd;
    uint8_t in[CNIO_WIRE_HDR_SIZE + 256];
    size_t got;
    uint64_t session;
    uint64_t handle;
    struct cnio_wire_challenge ch;
    int have_ch;
    int auth_done;
};

static void fz_cleanup(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", fz_root);
    if (fz_root[0] && system(cmd) != 0)
        fprintf(stderr, "fuzz_server: could not remove %s\n", fz_root);
}

/* Empties the store (no handle is open between inputs). */
static void fz_fresh_store(void)
{
    char cmd[2 * sizeof(fz_root) + 32];

    cnio__srv_store_close(&fz_srv.store);
    snprintf(cmd, sizeof(cmd), "rm -rf %s/* %s/.cnio", fz_root, fz_root);
    if (system(cmd) != 0 || cnio__srv_store_open(&fz_srv.store, fz_root) ||
        cnio__srv_store_recover(&fz_srv.store, fz_root))
        abort();
}

static void fz_init(void)
{
    struct cnio_srv_opts *o = &fz_srv.opts;

    signal(SIGPIPE, SIG_IGN);
    cnio__log_set_level(CNIO_LOG_ERROR);
    snprintf(fz_root, sizeof(fz_root), "/dev/shm/cnio-fuzz-server-XXXXXX");
    if (!mkdtemp(fz_root)) {
        snprintf(fz_root, sizeof(fz_root), "/tmp/cnio-fuzz-server-XXXXXX");
        if (!mkdtemp(fz_root))
            abort();
    }
    atexit(fz_cleanup);
    memset(&fz_srv, 0, sizeof(fz_srv));
    fz_srv.listen_fd = fz_srv.stop_fd = -1;
    o->root = fz_root;
    o->threads = 1;
    o->max_conns = 16;
    o->max_open = 64;
    o->max_inflight = 1u << 20;
    o->max_unauth = 8;
    o->max_unauth_per_addr = 8;
    o->idle_timeout_s = 60;
    o->frame_timeout_s = 60;
    o->max_memory = 64u << 20;
    fz_srv.key.len = 32;
    for (size_t i = 0; i < fz_srv.key.len; i++)
        fz_srv.key.bytes[i] = (uint8_t)(i * 7 + 1);
    cnio__srv_limits_init(&fz_srv);
    if (cnio__srv_store_open(&fz_srv.store, fz_root) ||
        cnio__srv_store_recover(&fz_srv.store, fz_root) ||
        cnio__srv_handles_init(&fz_srv.handles, o->max_open))
        abort();
    fz_epfd = epoll_create1(EPOLL_CLOEXEC);
    if (fz_epfd < 0)
        abort();
}

/* Reads the server's replies; each must be a well-formed frame. Remembers the CHALLENGE,
 * the AUTH reply's session and OPEN replies' handles. */
static void fz_drain(struct fz_client *cl)
{
    for (;;) {
        struct cnio_wire_hdr h;
        ssize_t r;
        size_t need = CNIO_WIRE_HDR_SIZE;

        if (cl->got >= CNIO_WIRE_HDR_SIZE) {
            if (cnio__wire_hdr_decode(cl->in, &h))
                abort();   /* the server sent a frame its own parser refuses */
            need += h.length;
        }
        if (cl->got >= need && need <= sizeof(cl->in)) {
            if (h.type == CNIO_WIRE_CHALLENGE && !h.status &&
                cnio__wire_challenge_parse(cl->in + CNIO_WIRE_HDR_SIZE, h.length, &cl->ch) == 0)
                cl->have_ch = 1;
            if (h.type == (CNIO_WIRE_AUTH | CNIO_WIRE_REPLY) && !h.status)
                cl->session = h.session;
            if (h.type == (CNIO_WIRE_OPEN | CNIO_WIRE_REPLY) && !h.status && h.object)
                cl->handle = h.object;
            memmove(cl->in, cl->in + need, cl->got - need);
            cl->got -= need;
            continue;
        }
        if (cl->got >= CNIO_WIRE_HDR_SIZE && need > sizeof(cl->in)) {
            /* a large reply (READ): skip its payload as it comes */
            uint8_t sink[65536];
            size_t left = need - cl->got;

            r = recv(cl->fd, sink, CNIO_MIN(left, sizeof(sink)), MSG_DONTWAIT);
            if (r <= 0)
                return;
            cl->got += (size_t)r;
            if (cl->got == need)
                cl->got = 0;
            continue;
        }
        r = recv(cl->fd, cl->in + cl->got, sizeof(cl->in) - cl->got, MSG_DONTWAIT);
        if (r <= 0)
            return;
        cl->got += (size_t)r;
    }
}

/* Sends out[len] to the server while it reads, answering for it: 1 when the server is
 * done with the connection (it closed it), else 0. */
static int fz_pump(struct cnio_srv_conn *c, struct fz_client *cl, const uint8_t *out, size_t len)
{
    size_t sent = 0;

    for (int step = 0; step < FZ_STEPS; step++) {
        int progress = 0;

        if (sent < len) {
            ssize_t w = send(cl->fd, out + sent, len - sent, MSG_DONTWAIT | MSG_NOSIGNAL);

            if (w > 0) {
                sent += (size_t)w;
                progress = 1;
            }
        }
        if (cnio__srv_conn_event(c, EPOLLIN | EPOLLOUT))
            return 1;
        fz_drain(cl);
        if (sent == len && !progress && !c->oq_head)
            return 0;
    }
    return 0;
}

static uint64_t fz_take(const uint8_t **p, size_t *n, size_t bytes)
{
    uint64_t v = 0;

    for (size_t i = 0; i < bytes && *n; i++, (*p)++, (*n)--)
        v |= (uint64_t)**p << (8 * i);
    return v;
}

/* A well-formed OPEN block from the input: flags, layout, a short name. */
static size_t fz_open_block(const uint8_t **p, size_t *n, uint8_t *buf, size_t cap)
{
    static const char alphabet[] = "abcxyz/./\n";
    char name[24];
    struct cnio_wire_open o;
    size_t len = 1 + fz_take(p, n, 1) % 16;
    int w;

    memset(&o, 0, sizeof(o));
    o.flags = (uint32_t)fz_take(p, n, 1) & 0x1f;   /* up to O_STAGE: PREPARE, COMMIT, ABORT */
    o.stripe_count = (uint32_t)fz_take(p, n, 1) % 4;
    o.stripe_unit = 1ull << (fz_take(p, n, 1) % 24);
    o.stripe_index = o.stripe_count ? (uint32_t)fz_take(p, n, 1) % o.stripe_count : 0;
    for (size_t i = 0; i < len; i++)
        name[i] = alphabet[fz_take(p, n, 1) % (sizeof(alphabet) - 1)];
    o.name = name;
    o.name_len = (uint32_t)len;
    w = cnio__wire_open_encode(&o, buf, cap);
    return w > 0 ? (size_t)w : 0;
}

/* Turns the input into frames with their CRCs right: the bytes to send, in *len. */
static uint8_t *fz_frames(struct fz_client *cl, const uint8_t *p, size_t n, size_t *len)
{
    static const uint16_t types[] = {
        CNIO_WIRE_PING, CNIO_WIRE_OPEN, CNIO_WIRE_STAT, CNIO_WIRE_SETSIZE, CNIO_WIRE_SYNC,
        CNIO_WIRE_CLOSE, CNIO_WIRE_UNLINK, CNIO_WIRE_LIST, CNIO_WIRE_WRITE, CNIO_WIRE_READ,
        CNIO_WIRE_AUTH, CNIO_WIRE_CHALLENGE, CNIO_WIRE_PING | CNIO_WIRE_REPLY, 99,
        CNIO_WIRE_MKDIR, CNIO_WIRE_RMDIR, CNIO_WIRE_RENAME, CNIO_WIRE_SETATTR,
        CNIO_WIRE_PREPARE, CNIO_WIRE_COMMIT, CNIO_WIRE_ABORT,
    };
    size_t cap = 2 * n + 4096, used = 0;
    uint8_t *out = malloc(cap);

    if (!out)
        abort();
    while (n >= 4 && used + CNIO_WIRE_HDR_SIZE + 2048 <= cap) {
        struct cnio_wire_hdr h;
        uint8_t sel = (uint8_t)fz_take(&p, &n, 1), bits = (uint8_t)fz_take(&p, &n, 1);
        uint8_t *pl = out + used + CNIO_WIRE_HDR_SIZE;
        size_t plen;

        memset(&h, 0, sizeof(h));
        h.type = types[sel % CNIO_ARRAY_LEN(types)];
        h.reqid = fz_take(&p, &n, 1);
        h.session = bits & 1 ? fz_take(&p, &n, 8) : cl->session;
        h.object = bits & 2 ? fz_take(&p, &n, 8) : cl->handle;
        h.offset = bits & 4 ? fz_take(&p, &n, 8) : fz_take(&p, &n, 2) * 4093;
        h.flags = bits & 8 ? (uint32_t)fz_take(&p, &n, 1) : 0;
        if (h.type == CNIO_WIRE_SETSIZE && (h.flags & CNIO_WIRE_F_ALLOCATE))
            h.offset %= 1u << 20;   /* real storage, in /dev/shm: at most 1 MiB a file */
        if ((h.type == CNIO_WIRE_OPEN || h.type == CNIO_WIRE_STAT || h.type == CNIO_WIRE_UNLINK ||
             h.type == CNIO_WIRE_LIST) && !(bits & 16)) {
            plen = fz_open_block(&p, &n, pl, 2048);
            if (h.type != CNIO_WIRE_OPEN && plen)
                memset(pl, 0, 4);   /* flags 0 for the others */
        } else if ((h.type == CNIO_WIRE_MKDIR || h.type == CNIO_WIRE_RMDIR ||
                    h.type == CNIO_WIRE_SETATTR) && !(bits & 16)) {
            plen = fz_open_block(&p, &n, pl, 2048);
            if (plen && h.type != CNIO_WIRE_MKDIR)
                memset(pl, 0, 4);   /* flags 0 (MKDIR may ask for parents) */
            if (plen && h.type == CNIO_WIRE_SETATTR) {
                memset(pl + 4, 0, 4);                          /* stripe_count 0 */
                cnio__put_le64(pl + 8, fz_take(&p, &n, 2));    /* the mode */
                memset(pl + 16, 0, 4);                         /* stripe_index 0 */
            }
        } else if (h.type == CNIO_WIRE_RENAME && !(bits & 16)) {
            plen = fz_open_block(&p, &n, pl, 1024);
            if (plen)
                plen += fz_open_block(&p, &n, pl + plen, 1024);
            if (plen)
                memset(pl, 0, 4);
        } else if (h.type == CNIO_WIRE_READ && !(bits & 16)) {
            plen = (size_t)cnio__wire_u64_encode(fz_take(&p, &n, 2) * 7, pl, 2048);
        } else {
            size_t want = (size_t)fz_take(&p, &n, 2) % 2048;

            plen = CNIO_MIN(n, want);
            memcpy(pl, p, plen);
            p += plen;
            n -= plen;
        }
        h.length = (uint32_t)plen;
        h.payload_crc = plen ? cnio__crc32c(0, pl, plen) : 0;
        if (bits & 32)
            h.payload_crc ^= 1;
        cnio__wire_hdr_encode(&h, out + used);
        used += CNIO_WIRE_HDR_SIZE + plen;
    }
    *len = used;
    return out;
}

/* A real AUTH with the key (mode KEY). */
static int fz_auth(struct cnio_srv_conn *c, struct fz_client *cl)
{
    uint8_t frame[CNIO_WIRE_HDR_SIZE + CNIO_WIRE_AUTH_SIZE];
    struct cnio_wire_auth a;
    struct cnio_wire_hdr h;

    if (!cl->have_ch || cnio__auth_respond(fz_srv.key.bytes, fz_srv.key.len, &cl->ch,
                                           CNIO_WIRE_AUTH_KEY, 0, 0, &a))
        abort();
    if (cnio__wire_auth_encode(&a, frame + CNIO_WIRE_HDR_SIZE, CNIO_WIRE_AUTH_SIZE) !=
        CNIO_WIRE_AUTH_SIZE)
        abort();
    memset(&h, 0, sizeof(h));
    h.type = CNIO_WIRE_AUTH;
    h.reqid = 1;
    h.length = CNIO_WIRE_AUTH_SIZE;
    h.payload_crc = cnio__crc32c(0, frame + CNIO_WIRE_HDR_SIZE, CNIO_WIRE_AUTH_SIZE);
    cnio__wire_hdr_encode(&h, frame);
    if (fz_pump(c, cl, frame, sizeof(frame)))
        return -1;
    if (!cl->session || c->state != CNIO_SRV_C_READY)
        abort();   /* the right key must get in */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    struct fz_client cl;
    struct cnio_srv_conn *c;
    struct cnio_addr a;
    uint8_t mode = size ? data[0] : 0;
    uint8_t *frames = NULL;
    size_t flen = 0;
    int sv[2], done = 0;

    if (!ready) {
        fz_init();
        ready = 1;
    }
    if (++ready % FZ_FRESH_STORE == 0)
        fz_fresh_store();
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
        abort();
    memset(&cl, 0, sizeof(cl));
    cl.fd = sv[1];
    memset(&a, 0, sizeof(a));
    a.ss.ss_family = AF_UNIX;
    a.len = sizeof(sa_family_t);
    atomic_fetch_add(&fz_srv.nconns, 1);
    if (cnio__srv_conn_new(&fz_srv, fz_epfd, sv[0], &a, &c))
        abort();
    fz_drain(&cl);
    if (mode & 1)
        done = fz_auth(c, &cl) != 0;
    if (!done && size > 1) {
        if (mode & 2) {
            done = fz_pump(c, &cl, data + 1, size - 1);
        } else {
            frames = fz_frames(&cl, data + 1, size - 1, &flen);
            done = fz_pump(c, &cl, frames, flen);
        }
    }
    if (!done) {   /* the client goes away; the server sees EOF */
        shutdown(cl.fd, SHUT_WR);
        fz_pump(c, &cl, NULL, 0);
    }
    cnio__srv_conn_free(c);
    close(cl.fd);
    free(frames);
    return 0;
}
