/*
 * request.c - cnio-server's request handlers, one per request type.
 *
 * Each handler gets a header that decoded and a payload whose CRC matched; it parses
 * the payload with src/wire.c (a malformed one returns -CNIO_ERR_PROTO, and the
 * connection is dropped), does the work, and fills the reply. A negative CNIO_ERR_*
 * becomes an error reply with no payload.
 */
#include "server.h"
#include "log.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Offsets and sizes stay below 2^62. */
#define REQ_MAX_OFF (1ull << 62)
/* READs of at least this many bytes are answered from a mapping of the file, */
#define REQ_MAP_MIN (64u << 10)
/* which covers the file from offset 0, in multiples of this. */
#define REQ_MAP_STEP (64ull << 20)

/*
 * READ replies straight from the page cache: each handle keeps one read-only shared
 * mapping of its whole file (made at the first large READ, replaced by a larger one
 * when a READ reaches past it); a large READ computes the CRC32C over the mapping
 * and queues a pointer into it as the reply's payload, holding a reference to the
 * mapping until the reply is written. This saves the copy into a reply buffer and its second pass
 * (pread, CRC, sendmsg touched every byte three times; now CRC and sendmsg read the
 * page cache once each), and a persistent mapping saves the page-table set-up and
 * teardown a mapping per request costs.
 *
 * A file that shrinks under the mapping (SETSIZE from another connection, or another
 * process truncating it) must not kill the server: the range is clipped to the size
 * seen by fstat, the CRC pass runs under a SIGBUS guard (a fault jumps back and the
 * READ falls back to pread, which sees the new size), and a fault inside sendmsg is
 * an EFAULT from the kernel, which drops that connection only. Anything unusual
 * (mmap failing, small or empty reads) takes the pread path.
 *
 * The price: bytes overwritten between the CRC pass and the send (a WRITE of the same
 * range racing the READ, or a file truncated and regrown) go out under a CRC that
 * does not match them, and the client reports a checksum error where pread gave it
 * some mix of old and new bytes; only accesses that race anyway see this.
 */
static __thread sigjmp_buf *req_bus_env;
static pthread_once_t req_bus_once = PTHREAD_ONCE_INIT;
static int req_bus_ok;

static void req_bus_handler(int sig)
{
    struct sigaction dfl;

    if (req_bus_env)
        siglongjmp(*req_bus_env, 1);
    memset(&dfl, 0, sizeof(dfl));   /* not ours: the faulting access repeats and kills */
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL);
}

static void req_bus_install(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = req_bus_handler;
    sa.sa_flags = SA_NODEFER;   /* siglongjmp without restoring a mask */
    sigemptyset(&sa.sa_mask);
    req_bus_ok = sigaction(SIGBUS, &sa, NULL) == 0;
}

/* *crc = CRC32C of the len bytes at p, in a file mapping: 0, or -1 on SIGBUS. */
static int req_crc_guarded(const uint8_t *p, size_t len, uint32_t *crc)
{
    sigjmp_buf env;

    if (sigsetjmp(env, 0)) {
        req_bus_env = NULL;
        return -1;
    }
    req_bus_env = &env;
    *crc = cnio__crc32c(0, p, len);
    req_bus_env = NULL;
    return 0;
}

/* What a token-authenticated connection may send. */
static int req_token_allows(uint16_t type)
{
    return type == CNIO_WIRE_WRITE || type == CNIO_WIRE_READ || type == CNIO_WIRE_SYNC ||
           type == CNIO_WIRE_SETSIZE || type == CNIO_WIRE_PING || type == CNIO_WIRE_STAT ||
           type == CNIO_WIRE_CRC;
}

int cnio__srv_req_handle(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, int need_write,
                      struct cnio_srv_handle **out)
{
    struct cnio_srv_handle *hd;

    if (c->auth_mode == CNIO_WIRE_AUTH_TOKEN && h->object != c->token_object) {
        cnio__srv_why(-CNIO_ERR_ACCESS, "a token connection may use only the object its "
                      "token was made for");
        return -CNIO_ERR_ACCESS;
    }
    hd = cnio__srv_handles_get(&c->srv->handles, h->object);
    if (!hd)
        return -CNIO_ERR_NOENT;
    if (need_write && !(hd->oflags & CNIO_WIRE_O_WRITE)) {
        cnio__srv_handles_put(&c->srv->handles, hd);
        cnio__srv_why(-CNIO_ERR_ACCESS, "the object was opened read-only");
        return -CNIO_ERR_ACCESS;
    }
    *out = hd;
    return 0;
}

/* 0 when off + len < 2^62, else -CNIO_ERR_OVERFLOW. */
static int req_range(uint64_t off, uint64_t len)
{
    return off >= REQ_MAX_OFF || len >= REQ_MAX_OFF - off ? -CNIO_ERR_OVERFLOW : 0;
}

static int req_info_reply(struct cnio_srv_conn *c, struct cnio_srv_reply *r,
                          const struct cnio_wire_info *i)
{
    uint8_t *buf = cnio__srv_reply_buf(c, r, CNIO_WIRE_INFO_SIZE);
    int n;

    if (!buf)
        return -CNIO_ERR_NOMEM;
    n = cnio__wire_info_encode(i, buf, CNIO_WIRE_INFO_SIZE);
    if (n < 0)
        return -CNIO_ERR_IO;
    r->len = (uint32_t)n;
    return 0;
}

static int req_auth(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, const uint8_t *p,
                    struct cnio_srv_reply *r)
{
    struct cnio_wire_auth a;
    struct cnio_srv_handle *hd;
    uint8_t *mac;
    int ret;

    if (cnio__wire_auth_parse(p, h->length, &a))
        return -CNIO_ERR_PROTO;
    c->closing = 1;   /* until it succeeds */
    mac = cnio__srv_reply_buf(c, r, CNIO_WIRE_MAC);
    if (!mac)
        return -CNIO_ERR_NOMEM;
    ret = cnio__auth_verify(&c->srv->key, c->nonce, &a, mac);
    if (!ret && a.mode == CNIO_WIRE_AUTH_TOKEN) {
        hd = cnio__srv_handles_get(&c->srv->handles, a.object);
        if (hd)
            cnio__srv_handles_put(&c->srv->handles, hd);
        else
            ret = -CNIO_ERR_AUTH;
    }
    if (ret) {
        cnio__warn("%s: authentication failed (%s)", c->peer,
                   a.mode == CNIO_WIRE_AUTH_TOKEN ? "token" : "key");
        return -CNIO_ERR_AUTH;
    }
    do {
        if (cnio__random(&c->session, sizeof(c->session)))
            return -CNIO_ERR_IO;
    } while (c->session == 0);
    c->state = CNIO_SRV_C_READY;
    c->closing = 0;
    c->auth_mode = a.mode;
    c->reasons = (h->flags & CNIO_WIRE_F_REASON) != 0;
    c->token_object = a.mode == CNIO_WIRE_AUTH_TOKEN ? a.object : 0;
    r->session = c->session;
    r->len = CNIO_WIRE_MAC;
    cnio__debug("%s: authenticated (%s)", c->peer,
                a.mode == CNIO_WIRE_AUTH_TOKEN ? "token" : "key");
    return 0;
}

static int req_ping(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, const uint8_t *p,
                    struct cnio_srv_reply *r)
{
    uint8_t *buf;

    if (!h->length)
        return 0;
    buf = cnio__srv_reply_buf(c, r, h->length);
    if (!buf)
        return -CNIO_ERR_NOMEM;
    memcpy(buf, p, h->length);
    r->len = h->length;
    return 0;
}

/* Registers an open data file as a handle owned by c and fills the reply. */
static int req_open_finish(struct cnio_srv_conn *c, int fd, const char *name, uint32_t oflags,
                           uint64_t stage, int writer, const struct cnio_srv_meta *m,
                           const struct cnio_wire_info *info, struct cnio_srv_reply *r)
{
    struct cnio_srv_handles *t = &c->srv->handles;
    char *copy = strdup(name);
    uint64_t id;
    int ret;

    if (!copy) {
        if (writer)
            cnio__srv_store_writer(&c->srv->store, name, -1);
        close(fd);
        cnio__srv_handles_unreserve(t);
        return -CNIO_ERR_NOMEM;
    }
    ret = cnio__srv_handles_add(t, fd, copy, oflags, stage,
                                writer ? &c->srv->store : NULL, m, c, &id);
    if (ret)
        return ret;
    ret = cnio__srv_conn_own(c, id);
    if (!ret)
        ret = req_info_reply(c, r, info);
    if (ret) {
        cnio__srv_conn_disown(c, id);
        cnio__srv_handles_remove(t, id, NULL);
        return ret;
    }
    r->object = id;
    r->offset = stage ? stage : m->gen;
    return 0;
}

static int req_open(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, const uint8_t *p,
                    struct cnio_srv_reply *r)
{
    struct cnio_wire_open o;
    struct cnio_wire_info info;
    struct cnio_srv_meta want, m;
    char name[CNIO_WIRE_MAX_NAME + 1];
    uint64_t stage = 0, joined = 0;
    int fd, created, writer = 0, ret;

    if (cnio__wire_open_parse(p, h->length, 0, &o))
        return -CNIO_ERR_PROTO;
    ret = cnio__srv_store_name(o.name, o.name_len, name);
    if (ret)
        return ret;
    memset(&want, 0, sizeof(want));
    want.layout.unit = o.stripe_unit;
    want.layout.count = o.stripe_count;
    want.index = o.stripe_index;
    ret = cnio__srv_handles_reserve(&c->srv->handles);
    if (ret)
        return ret;
    if (o.flags & (CNIO_WIRE_O_STAGE | CNIO_WIRE_O_JOIN))
        ret = cnio__srv_open_stage(c, name, &o, h->offset, &want, &fd, &m, &stage, &created,
                                   &joined);
    else
        ret = cnio__srv_store_open_obj(&c->srv->store, name, o.flags, &want, &fd, &m, &created);
    if (!ret && !stage && !joined && (o.flags & CNIO_WIRE_O_WRITE)) {
        ret = cnio__srv_open_dirty(c, name, &m);
        writer = !ret;
        if (ret)
            close(fd);
    }
    if (!ret) {
        ret = cnio__srv_store_info(fd, &m, (created ? CNIO_WIRE_I_CREATED : 0) |
                                   (stage ? CNIO_WIRE_I_STAGED : 0) |
                                   (joined ? CNIO_WIRE_I_JOINED : 0), &info);
        if (!ret && !(o.flags & CNIO_WIRE_O_WRITE)) {
            cnio__srv_store_adjust(&c->srv->store, name, &info);
            if (info.flags & (CNIO_WIRE_I_DIRTY | CNIO_WIRE_I_COMMITTING))
                ret = -CNIO_ERR_INCOMPLETE;   /* a reader would get a torn object */
        } else {
            info.flags &= ~CNIO_WIRE_I_DIRTY;   /* this writer's own mark */
        }
        if (ret) {
            if (writer)
                cnio__srv_store_writer(&c->srv->store, name, -1);
            close(fd);
        }
    }
    if (ret) {
        if (stage && !(o.flags & CNIO_WIRE_O_RESUME))
            cnio__srv_stage_discard(&c->srv->store, stage);
        cnio__srv_handles_unreserve(&c->srv->handles);
        return ret;
    }
    if (created)
        cnio__debug("%s: created %s", c->peer, name);
    ret = req_open_finish(c, fd, name, o.flags, stage, writer, &m, &info, r);
    if (ret && stage && !(o.flags & CNIO_WIRE_O_RESUME))
        cnio__srv_stage_discard(&c->srv->store, stage);
    if (!ret && joined)
        r->offset = joined;
    return ret;
}

/* Parses a name-carrying payload (STAT, UNLINK, LIST) into name. */
static int req_name(const struct cnio_wire_hdr *h, const uint8_t *p, int allow_empty,
                    char name[CNIO_WIRE_MAX_NAME + 1])
{
    struct cnio_wire_open o;

    if (cnio__wire_open_parse(p, h->length, allow_empty, &o))
        return -CNIO_ERR_PROTO;
    if (o.name_len == 0) {
        name[0] = '\0';
        return 0;
    }
    return cnio__srv_store_name(o.name, o.name_len, name);
}

static int req_stat(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, const uint8_t *p,
                    struct cnio_srv_reply *r)
{
    char name[CNIO_WIRE_MAX_NAME + 1];
    struct cnio_wire_info info;
    int ret = req_name(h, p, 0, name);

    if (ret)
        return ret;
    if (h->object) {
        /* Stat by handle: what a token connection may do for its own object. */
        struct cnio_srv_handle *hd;

        ret = cnio__srv_req_handle(c, h, 0, &hd);
        if (ret)
            return ret;
        pthread_mutex_lock(&hd->lock);
        ret = strcmp(name, hd->name) ? cnio__srv_why(-CNIO_ERR_ACCESS, "the name is not "
                                                     "the open object's")
                                     : cnio__srv_store_info(hd->fd, &hd->meta,
                                                            hd->stage ? CNIO_WIRE_I_STAGED : 0,
                                                            &info);
        info.flags &= ~CNIO_WIRE_I_DIRTY;   /* a live handle: in progress */
        pthread_mutex_unlock(&hd->lock);
        cnio__srv_handles_put(&c->srv->handles, hd);
    } else if (c->auth_mode == CNIO_WIRE_AUTH_TOKEN) {
        ret = cnio__srv_why(-CNIO_ERR_ACCESS, "a token connection may stat only its own "
                            "object");
    } else {
        ret = cnio__srv_store_stat(&c->srv->store, name, &info);
    }
    return ret ? ret : req_info_reply(c, r, &info);
}

static int req_unlink(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, const uint8_t *p,
                      struct cnio_srv_reply *r)
{
    char name[CNIO_WIRE_MAX_NAME + 1];
    int ret = req_name(h, p, 0, name);

    if (ret)
        return ret;
    if (h->offset)   /* one staged instance of the name (a writer discarding its own) */
        return cnio__srv_stage_unlink_id(&c->srv->store, name, h->offset);
    return cnio__srv_store_unlink(&c->srv->store, name);
}

static int req_list(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, const uint8_t *p,
                    struct cnio_srv_reply *r)
{
    char name[CNIO_WIRE_MAX_NAME + 1];
    uint64_t cursor = h->offset;
    size_t len;
    uint8_t *buf;
    int more, ret = req_name(h, p, 1, name);

    if (ret)
        return ret;
    buf = cnio__srv_reply_buf(c, r, CNIO_WIRE_MAX_CTRL);
    if (!buf)
        return -CNIO_ERR_NOMEM;
    ret = cnio__srv_store_list(&c->srv->store, name, &cursor, buf, CNIO_WIRE_MAX_CTRL, &len, &more);
    if (ret)
        return ret;
    r->offset = cursor;
    r->flags = more ? CNIO_WIRE_F_MORE : 0;
    r->len = (uint32_t)len;
    return 0;
}

static int req_write(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, const uint8_t *p,
                     struct cnio_srv_reply *r)
{
    struct cnio_srv_handle *hd;
    size_t done = 0;
    int ret = cnio__srv_req_handle(c, h, 1, &hd);

    if (ret)
        return ret;
    ret = req_range(h->offset, h->length);
    while (!ret && done < h->length) {
        ssize_t n = pwrite(hd->fd, p + done, h->length - done, (off_t)(h->offset + done));

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            ret = n < 0 ? cnio__err_from_errno(errno) : -CNIO_ERR_IO;
        else
            done += (size_t)n;
    }
    cnio__srv_handles_put(&c->srv->handles, hd);
    return ret;
}

/* A mapping of fd's first len bytes (rounded up to REQ_MAP_STEP), or NULL. */
static struct cnio_srv_map *req_map_new(int fd, uint64_t len)
{
    struct cnio_srv_map *m;

    if (len > REQ_MAX_OFF || len > SIZE_MAX - REQ_MAP_STEP)
        return NULL;
    m = malloc(sizeof(*m));
    if (!m)
        return NULL;
    m->len = (size_t)((len + REQ_MAP_STEP - 1) & ~(uint64_t)(REQ_MAP_STEP - 1));
    m->base = mmap(NULL, m->len, PROT_READ, MAP_SHARED, fd, 0);
    if (m->base == MAP_FAILED) {
        free(m);
        return NULL;
    }
    atomic_init(&m->refs, 1);
    return m;
}

/*
 * A counted reference to a mapping of hd's file covering [0, end), or NULL; a new
 * mapping covers the whole file (size bytes), so a sequential reader maps it once.
 */
static struct cnio_srv_map *req_map_get(struct cnio_srv_handle *hd, uint64_t end,
                                        uint64_t size)
{
    struct cnio_srv_map *m;

    pthread_mutex_lock(&hd->lock);
    if (!hd->map || hd->map->len < end) {
        m = req_map_new(hd->fd, CNIO_MAX(end, size));
        if (m) {
            if (hd->map)
                cnio__srv_map_put(hd->map);   /* replies still queued keep it */
            hd->map = m;
        }
    }
    m = hd->map && hd->map->len >= end ? hd->map : NULL;
    if (m)
        atomic_fetch_add(&m->refs, 1);
    pthread_mutex_unlock(&hd->lock);
    return m;
}

/*
 * Answers READ (off, want) from the handle's mapping: 0 done (r filled), 1 to use
 * pread instead, or a negative code.
 */
static int req_read_map(struct cnio_srv_conn *c, struct cnio_srv_handle *hd, uint64_t off,
                        uint64_t want, struct cnio_srv_reply *r)
{
    struct cnio_srv_map *m;
    struct stat sb;
    const uint8_t *data;
    uint64_t len;
    uint32_t crc;

    pthread_once(&req_bus_once, req_bus_install);
    if (!req_bus_ok || fstat(hd->fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
        (uint64_t)sb.st_size <= off)
        return 1;
    len = CNIO_MIN(want, (uint64_t)sb.st_size - off);
    if (len < REQ_MAP_MIN || !(m = req_map_get(hd, off + len, (uint64_t)sb.st_size)))
        return 1;
    data = (const uint8_t *)m->base + off;
    if (req_crc_guarded(data, (size_t)len, &crc)) {
        cnio__srv_map_put(m);
        return 1;
    }
    return cnio__srv_reply_map(c, r, m, data, (uint32_t)len, crc);
}

static int req_read(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, const uint8_t *p,
                    struct cnio_srv_reply *r)
{
    struct cnio_srv_handle *hd;
    uint64_t want;
    size_t got = 0;
    uint8_t *buf;
    int ret;

    if (cnio__wire_u64_parse(p, h->length, &want) || want > CNIO_WIRE_MAX_PAYLOAD)
        return -CNIO_ERR_PROTO;
    ret = cnio__srv_req_handle(c, h, 0, &hd);
    if (ret)
        return ret;
    ret = req_range(h->offset, want);
    if (!ret && want >= REQ_MAP_MIN) {
        ret = req_read_map(c, hd, h->offset, want, r);
        if (ret <= 0) {
            cnio__srv_handles_put(&c->srv->handles, hd);
            return ret;
        }
        ret = 0;
    }
    buf = ret ? NULL : cnio__srv_reply_buf(c, r, (size_t)want);
    if (!ret && !buf)
        ret = -CNIO_ERR_NOMEM;
    while (!ret && got < want) {
        ssize_t n = pread(hd->fd, buf + got, (size_t)want - got, (off_t)(h->offset + got));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            ret = cnio__err_from_errno(errno);
        else if (n == 0)
            break;
        else
            got += (size_t)n;
    }
    cnio__srv_handles_put(&c->srv->handles, hd);
    r->len = (uint32_t)got;
    return ret;
}

static int req_setsize(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, const uint8_t *p,
                       struct cnio_srv_reply *r)
{
    struct cnio_wire_info info;
    struct cnio_srv_handle *hd;
    struct cnio_srv_meta m;
    int ret = cnio__srv_req_handle(c, h, 1, &hd);

    if (ret)
        return ret;
    ret = req_range(h->offset, 0);
    pthread_mutex_lock(&hd->lock);
    m = hd->meta;
    m.size = h->offset;
    if (!ret && ftruncate(hd->fd, (off_t)cnio__layout_local_size(&m.layout, m.index, m.size)) < 0)
        ret = cnio__err_from_errno(errno);
    if (!ret)
        ret = hd->stage ? cnio__srv_stage_meta_write(&c->srv->store, hd->stage, hd->name, &m)
                        : cnio__srv_store_meta_write(&c->srv->store, hd->name, &m);
    if (!ret) {
        hd->meta = m;
        ret = cnio__srv_store_info(hd->fd, &m, hd->stage ? CNIO_WIRE_I_STAGED : 0, &info);
        info.flags &= ~CNIO_WIRE_I_DIRTY;
    }
    pthread_mutex_unlock(&hd->lock);
    cnio__srv_handles_put(&c->srv->handles, hd);
    return ret ? ret : req_info_reply(c, r, &info);
}

static int req_sync(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, const uint8_t *p,
                    struct cnio_srv_reply *r)
{
    struct cnio_srv_handle *hd;
    int ret = cnio__srv_req_handle(c, h, 0, &hd);

    if (ret)
        return ret;
    pthread_mutex_lock(&hd->lock);
    ret = hd->stage ? cnio__srv_stage_sync(&c->srv->store, hd->stage, hd->fd)
                    : cnio__srv_store_sync(&c->srv->store, hd->name, hd->fd);
    pthread_mutex_unlock(&hd->lock);
    cnio__srv_handles_put(&c->srv->handles, hd);
    return ret;
}

/* A clean close of an in-place writer: the last one clears the object's dirty mark. */
static int req_close_clean(struct cnio_srv_conn *c, uint64_t object)
{
    struct cnio_srv_handle *hd = cnio__srv_handles_get(&c->srv->handles, object);
    struct cnio_srv_meta m;
    int ret = 0;

    if (!hd)
        return 0;
    pthread_mutex_lock(&hd->lock);
    if (hd->writer_of && cnio__srv_store_writer(&c->srv->store, hd->name, 0) == 1) {
        ret = cnio__srv_store_mark(&c->srv->store, hd->name, 0, &m);
        if (!ret)
            hd->meta = m;
    }
    pthread_mutex_unlock(&hd->lock);
    cnio__srv_handles_put(&c->srv->handles, hd);
    return ret;
}

static int req_close(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, const uint8_t *p,
                     struct cnio_srv_reply *r)
{
    int ret = req_close_clean(c, h->object);

    if (ret)
        return ret;
    ret = cnio__srv_handles_remove(&c->srv->handles, h->object, NULL);

    if (!ret)
        cnio__srv_conn_disown(c, h->object);
    return ret;
}

/* FABRIC: the address of this server's fabric endpoint for the provider asked for. */
static int req_fabric(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, const uint8_t *p,
                      struct cnio_srv_reply *r)
{
    char want[CNIO_WIRE_MAX_PROV + 1];
    struct cnio_wire_fabric f;
    const char *name;
    const uint8_t *addr;
    size_t alen;
    uint8_t *buf;
    int n;

    if (h->length > CNIO_WIRE_MAX_PROV || (h->length && memchr(p, '\0', h->length)))
        return -CNIO_ERR_INVAL;
    if (h->length)
        memcpy(want, p, h->length);
    want[h->length] = '\0';
    if (cnio__srv_fab_lookup(c->srv, want, &name, &addr, &alen))
        return -CNIO_ERR_NOTSUP;
    f = (struct cnio_wire_fabric){ .prov_len = (uint32_t)strlen(name), .prov = name,
                                   .addr_len = (uint32_t)alen, .addr = addr };
    buf = cnio__srv_reply_buf(c, r, 4 + CNIO_WIRE_MAX_PROV + CNIO_WIRE_MAX_FABADDR);
    if (!buf)
        return -CNIO_ERR_NOMEM;
    n = cnio__wire_fabric_encode(&f, buf, 4 + CNIO_WIRE_MAX_PROV + CNIO_WIRE_MAX_FABADDR);
    if (n < 0)
        return -CNIO_ERR_IO;
    r->len = (uint32_t)n;
    return 0;
}

typedef int (*req_fn)(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, const uint8_t *p,
                      struct cnio_srv_reply *r);

static req_fn req_lookup(uint16_t type)
{
    switch (type) {
    case CNIO_WIRE_PING: return req_ping;
    case CNIO_WIRE_OPEN: return req_open;
    case CNIO_WIRE_STAT: return req_stat;
    case CNIO_WIRE_SETSIZE: return req_setsize;
    case CNIO_WIRE_SYNC: return req_sync;
    case CNIO_WIRE_CLOSE: return req_close;
    case CNIO_WIRE_UNLINK: return req_unlink;
    case CNIO_WIRE_LIST: return req_list;
    case CNIO_WIRE_WRITE: return req_write;
    case CNIO_WIRE_READ: return req_read;
    case CNIO_WIRE_COMMIT: return cnio__srv_req_commit;
    case CNIO_WIRE_ABORT: return cnio__srv_req_abort;
    case CNIO_WIRE_CRC: return cnio__srv_req_crc;
    case CNIO_WIRE_MKDIR: case CNIO_WIRE_RMDIR: case CNIO_WIRE_RENAME:
    case CNIO_WIRE_SETATTR: return cnio__srv_req_names;
    case CNIO_WIRE_FABRIC: return req_fabric;
    default: return NULL;
    }
}

int cnio__srv_request(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, const uint8_t *p,
                      struct cnio_srv_reply *r)
{
    req_fn fn;

    if (c->state == CNIO_SRV_C_AUTH)
        return req_auth(c, h, p, r);
    fn = req_lookup(h->type);
    if (!fn)
        return -CNIO_ERR_NOTSUP;
    if (c->auth_mode == CNIO_WIRE_AUTH_TOKEN && !req_token_allows(h->type))
        return cnio__srv_why(-CNIO_ERR_ACCESS, "a token connection may only write, read, "
                             "sync, set the size of and stat its own object");
    return fn(c, h, p, r);
}
