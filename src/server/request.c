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
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

/* Offsets and sizes stay below 2^62. */
#define REQ_MAX_OFF (1ull << 62)

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

int cnio__srv_req_range(uint64_t off, uint64_t len)
{
    return off >= REQ_MAX_OFF || len >= REQ_MAX_OFF - off ? -CNIO_ERR_OVERFLOW : 0;
}

int cnio__srv_req_info_reply(struct cnio_srv_conn *c, struct cnio_srv_reply *r,
                             const struct cnio_wire_info *i)
{
    uint8_t *buf = cnio__srv_reply_buf(c, r, CNIO_WIRE_INFO_SIZE);
    int n;

    if (!buf)
        return -CNIO_ERR_NOMEM;
    n = cnio__wire_info_encode(i, buf, CNIO_WIRE_INFO_SIZE);
    if (n < 0)
        return -CNIO_ERR_IO;
    if (c->legacy)
        cnio__wire_info_legacy(buf, (size_t)n, 0);
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
    if (!ret && a.mode == CNIO_WIRE_AUTH_TOKEN) {
        /* the job's budget for this open (budget.c): a proven peer, refused for now */
        c->reasons = (h->flags & CNIO_WIRE_F_REASON) != 0;
        ret = cnio__srv_budget_auth(c, a.object);
        if (ret == -CNIO_ERR_LIMIT)
            return ret;
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
    c->legacy = !c->reasons && c->fd >= 0;
    c->token_object = a.mode == CNIO_WIRE_AUTH_TOKEN ? a.object : 0;
    r->session = c->session;
    r->object = c->srv->id;   /* CNIO_WIRE_CAP_ID */
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

/* Parses a name-carrying payload (STAT, UNLINK, LIST, FINISH) into name, and *o. */
static int req_name_open(const struct cnio_wire_hdr *h, const uint8_t *p, int allow_empty,
                         char name[CNIO_WIRE_MAX_NAME + 1], struct cnio_wire_open *o)
{
    if (cnio__wire_open_parse(p, h->length, allow_empty, o))
        return -CNIO_ERR_PROTO;
    if (o->name_len == 0) {
        name[0] = '\0';
        return 0;
    }
    return cnio__srv_store_name(o->name, o->name_len, name);
}

/* The name alone. */
static int req_name(const struct cnio_wire_hdr *h, const uint8_t *p, int allow_empty,
                    char name[CNIO_WIRE_MAX_NAME + 1])
{
    struct cnio_wire_open o;

    return req_name_open(h, p, allow_empty, name, &o);
}

/*
 * The metadata a handle's STAT reports: the handle's own (the version it opened, as
 * last seen), brought up to date from what is recorded at its name while its file is
 * still the one there (and the same version): another handle may have set the size
 * since (an in-place SETSIZE by another job), and a size as at open would read as zeros
 * past the object's end. Handle lock held.
 */
struct cnio_srv_meta cnio__srv_req_stat_meta(struct cnio_srv_store *st,
                                             struct cnio_srv_handle *hd)
{
    struct cnio_srv_meta now;
    struct stat a, b;
    int fd, same;

    if (hd->stage)
        return hd->meta;
    fd = cnio__srv_store_at(st->rootfd, hd->name, O_PATH, 0);
    same = fd >= 0 && fstat(fd, &a) == 0 && fstat(hd->fd, &b) == 0 &&
           a.st_ino == b.st_ino && a.st_dev == b.st_dev;
    if (fd >= 0)
        close(fd);
    if (!same)
        return hd->meta;
    pthread_mutex_lock(&st->lock);
    same = cnio__srv_store_meta_get(st, hd->name, &now) == 0;
    pthread_mutex_unlock(&st->lock);
    /* the same version: not one whose commit is replacing the file under the name */
    same = same && now.gen == hd->meta.gen && !(now.flags & CNIO_SRV_META_COMMITTING);
    if (same)
        hd->meta = now;
    return hd->meta;
}

/* A committed object's generation and commit order, in the STAT reply's header
 * (CNIO_WIRE_CAP_FINISH): what a client passes to FINISH on a host its commit missed. */
static void req_stat_gen(struct cnio_srv_conn *c, const char *name,
                         const struct cnio_wire_info *info, struct cnio_srv_reply *r)
{
    struct cnio_srv_meta m;

    if (!(info->flags & (CNIO_WIRE_I_STAGED | CNIO_WIRE_I_DIR | CNIO_WIRE_I_COMMITTING)) &&
        cnio__srv_store_meta_get(&c->srv->store, name, &m) == 0) {
        r->object = m.gen;
        r->offset = m.seq;
    }
}

static int req_stat(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, const uint8_t *p,
                    struct cnio_srv_reply *r)
{
    char name[CNIO_WIRE_MAX_NAME + 1];
    struct cnio_wire_info info;
    int ret = req_name(h, p, 0, name), written;

    if (ret)
        return ret;
    /* the writers looked at before the count is read: cnio__srv_store_inplace says why */
    written = (h->flags & CNIO_WIRE_F_INPLACE) && cnio__srv_store_written(&c->srv->store, name);
    if (h->object) {
        /* Stat by handle: what a token connection may do for its own object. */
        struct cnio_srv_handle *hd;
        struct cnio_srv_meta m;

        ret = cnio__srv_req_handle(c, h, 0, &hd);
        if (ret)
            return ret;
        pthread_mutex_lock(&hd->lock);
        /* a writer in place asking of the others (its own handle aside), also before
         * the count: a host that writers left apart from the others while it opened */
        if (written && (h->flags & CNIO_WIRE_F_OTHERS) && hd->writer && !hd->closing)
            written = cnio__srv_store_others(&c->srv->store, hd->name);
        m = cnio__srv_req_stat_meta(&c->srv->store, hd);
        ret = strcmp(name, hd->name) ? cnio__srv_why(-CNIO_ERR_ACCESS, "the name is not "
                                                     "the open object's")
                                     : cnio__srv_store_info(hd->fd, &m,
                                                            hd->stage ? CNIO_WIRE_I_STAGED : 0,
                                                            &info);
        pthread_mutex_unlock(&hd->lock);
        cnio__srv_handles_put(&c->srv->handles, hd);
        /* A writer's own handle: its update is in progress, not interrupted. A reader's
         * look before and after a pass (F_INPLACE) learns of an update whose writer went
         * without closing meanwhile (the mark set, no writer): its bytes may be torn, as
         * a new OPEN would be told (req_incomplete); it was cleared for every handle,
         * and a copy that read through an earlier open kept the torn bytes, exit 0. */
        if (!ret && (h->flags & CNIO_WIRE_F_INPLACE))
            cnio__srv_store_adjust(&c->srv->store, name, &info);
        else
            info.flags &= ~CNIO_WIRE_I_DIRTY;
        if (!ret)   /* (asked with F_INPLACE: e.g. a reader's, before and after) */
            cnio__srv_store_inplace(written, &info);
    } else if (c->auth_mode == CNIO_WIRE_AUTH_TOKEN) {
        ret = cnio__srv_why(-CNIO_ERR_ACCESS, "a token connection may stat only its own "
                            "object");
    } else {
        uint64_t id;

        ret = cnio__srv_store_stat(&c->srv->store, name, &info);
        if (!ret)
            req_stat_gen(c, name, &info, r);
        if (!ret && (h->flags & CNIO_WIRE_F_LIVE) &&
            (info.flags & (CNIO_WIRE_I_STAGED | CNIO_WIRE_I_PENDING)) &&
            cnio__srv_stage_find_live(&c->srv->store, name, cnio__srv_handles_held,
                                      &c->srv->handles, &id) == 0)
            info.flags |= CNIO_WIRE_I_LIVE;
        if (!ret)
            cnio__srv_store_inplace(written, &info);
    }
    return ret ? ret : cnio__srv_req_info_reply(c, r, &info);
}

static int req_finish(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, const uint8_t *p,
                      struct cnio_srv_reply *r)
{
    char name[CNIO_WIRE_MAX_NAME + 1];
    uint64_t seq = h->offset;   /* 0: this host picks it (CNIO_WIRE_CAP_FINISH_ORDER) */
    const uint32_t excl = CNIO_WIRE_O_CREATE | CNIO_WIRE_O_EXCL;
    struct cnio_wire_open o;
    int ret = req_name_open(h, p, 0, name, &o);

    if (!ret)   /* CNIO_WIRE_CAP_FINISH_EXCL */
        ret = cnio__srv_finish(c, name, h->object, (o.flags & excl) == excl, &seq);
    if (!ret)
        r->offset = seq;
    return ret;
}

static int req_unlink(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, const uint8_t *p,
                      struct cnio_srv_reply *r)
{
    char name[CNIO_WIRE_MAX_NAME + 1];
    int ret = req_name(h, p, 0, name);

    if (ret)
        return ret;
    /* the handles that joined what goes are told in the same hold of the store lock: a
     * joiner's CLOSE before it had its bytes in the upload still, one after is refused
     * (request_close.c; it closed with success, its bytes in nothing) */
    pthread_mutex_lock(&c->srv->store.lock);
    if (h->offset)   /* one staged instance of the name (a writer discarding its own) */
        ret = cnio__srv_stage_unlink_id_locked(&c->srv->store, name, h->offset);
    else
        ret = cnio__srv_store_unlink_locked(&c->srv->store, name);
    if (!ret)
        cnio__srv_handles_gone(&c->srv->handles, name, h->offset,
                               h->offset ? CNIO_SRV_GONE_DISCARDED : CNIO_SRV_GONE_REMOVED);
    pthread_mutex_unlock(&c->srv->store.lock);
    return ret;
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
    ret = cnio__srv_store_list(&c->srv->store, name, &cursor,
                               (h->flags & CNIO_WIRE_F_INPLACE) != 0, buf, CNIO_WIRE_MAX_CTRL,
                               &len, &more);
    if (ret)
        return ret;
    if (c->legacy)
        cnio__wire_info_legacy(buf, len, 1);
    r->offset = cursor;
    r->flags = more ? CNIO_WIRE_F_MORE : 0;
    r->len = (uint32_t)len;
    return 0;
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
    case CNIO_WIRE_OPEN: return cnio__srv_req_open;
    case CNIO_WIRE_STAT: return req_stat;
    case CNIO_WIRE_SETSIZE: return cnio__srv_req_setsize;
    case CNIO_WIRE_SYNC: return cnio__srv_req_sync;
    case CNIO_WIRE_CLOSE: return cnio__srv_req_close;
    case CNIO_WIRE_UNLINK: return req_unlink;
    case CNIO_WIRE_LIST: return req_list;
    case CNIO_WIRE_WRITE: return cnio__srv_req_write;
    case CNIO_WIRE_READ: return cnio__srv_req_read;
    case CNIO_WIRE_COMMIT: return cnio__srv_req_commit;
    case CNIO_WIRE_PREPARE: return cnio__srv_req_prepare;
    case CNIO_WIRE_FINISH: return req_finish;
    case CNIO_WIRE_ABORT: return cnio__srv_req_abort;
    case CNIO_WIRE_CRC: return cnio__srv_req_crc;
    case CNIO_WIRE_MKDIR: case CNIO_WIRE_RMDIR: case CNIO_WIRE_RENAME:
    case CNIO_WIRE_SETATTR: return cnio__srv_req_names;
    case CNIO_WIRE_FABRIC: return req_fabric;
    case CNIO_WIRE_BUDGET: return cnio__srv_req_budget;
    default: return NULL;
    }
}

int cnio__srv_req_root_gone(struct cnio_srv_conn *c, int ret)
{
    if (ret == -CNIO_ERR_NOENT && cnio__srv_store_root_gone(&c->srv->store))
        return cnio__srv_why(-CNIO_ERR_IO, "this server's root directory was removed "
                             "(its objects with it): the server must be restarted");
    return ret;
}

int cnio__srv_request(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, const uint8_t *p,
                      struct cnio_srv_reply *r)
{
    req_fn fn;
    int ret;

    if (c->state == CNIO_SRV_C_AUTH)
        return req_auth(c, h, p, r);
    fn = req_lookup(h->type);
    if (!fn)
        return -CNIO_ERR_NOTSUP;
    if (c->auth_mode == CNIO_WIRE_AUTH_TOKEN && !req_token_allows(h->type))
        return cnio__srv_why(-CNIO_ERR_ACCESS, "a token connection may only write, read, "
                             "sync, set the size of and stat its own object");
    /* a listing of a removed root is empty, not NOENT: asked first */
    ret = h->type == CNIO_WIRE_LIST && cnio__srv_store_root_gone(&c->srv->store)
              ? -CNIO_ERR_NOENT : fn(c, h, p, r);
    return cnio__srv_req_root_gone(c, ret);
}
