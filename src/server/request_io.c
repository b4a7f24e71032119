/*
 * request_io.c - cnio-server's data requests, WRITE and READ, and the block sums they
 * keep and check (the other requests: request.c).
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

/* READs of at least this many bytes are sent from the page cache with sendfile, unless
 * the handle writes (see below). */
#define REQ_FILE_MIN (64u << 10)

/*
 * READ replies straight from the page cache (issue 13): the reply's CRC is combined from
 * the object's stored block CRCs (sums.c), only the partial blocks at the range's edges
 * are read (and checked) in user space, and the payload goes from the file to the
 * socket with sendfile (conn.c), from a descriptor of the file that each queued reply
 * holds a reference to. Small READs are read whole into the reply buffer, every block
 * they touch checked. An object without block sums (a file put beneath the root by
 * hand, not yet written through cnio) is read with pread, its CRC computed from the
 * bytes read.
 *
 * A file that shrinks under the server (SETSIZE from another connection, or another
 * process truncating it) between the CRC and the send ends the sendfile early: the
 * frame cannot be completed and that connection is dropped (the client reports it);
 * bytes overwritten between the two would go out under a CRC that does not match them,
 * and the client would report a checksum error, the sign of damage at rest, where pread
 * gives it some mix of old and new bytes (which MPI-IO without atomic mode allows). So
 * a reader's handle (not itself writing in place) of an object that a live handle has
 * open for writing in place is read as the writers' own reads are: not with sendfile
 * (the ranks of a job share a writing handle, and one rank may read while another
 * writes other bytes of the same block, as MPI-IO allows, so the bytes sendfile sends
 * later need not be those the stored CRC was taken of), but into the reply buffer, each
 * block checked against its stored CRC under its lock (sums.c: a WRITE puts a block's
 * data and entry under that lock), the CRC that of the bytes sent. Such a reader's
 * handle used to read the object as one without block sums, with pread and the CRC of
 * the bytes read: while any writer held the object open in place (an MPI job that
 * opened it for writing, however idle), a byte changed on the server's disk behind its
 * back reached every other reader as good, with success. A block check that fails
 * while the file's length changed under the READ (a writer's SETSIZE, an open in place
 * that truncates) is the READ's to make again with the new length, not damage. The
 * check of a file cut short behind the server's back (cnio__srv_sums_past_end) is made
 * beside a live writer too: it reads the file's length under the locks of the blocks it
 * looks at, which a writer's SETSIZE holds across both its truncations (of the data and
 * of its sums). It was left out there, and a column cut short behind the server's back
 * while a job had the object open for writing read short, as a hole, with success.
 *
 * The check is made once, at the READ: a writer that opens and writes after it, before
 * a queued reply's bytes leave (or, with sendfile, before the socket has sent them from
 * the page), changes them under their CRC all the same. The server cannot know that a
 * writer will come; the client asks such a READ again (src/client_data.c).
 */

/* Opens hd's block sums the first time (create: building them if missing; hd->lock held):
 * the sums, or NULL when the object has none. */
const struct cnio_srv_sums *cnio__srv_req_sums(struct cnio_srv_conn *c, struct cnio_srv_handle *hd,
                                               int create, int *err)
{
    int ret;

    *err = 0;
    if (hd->sums_state == 1)
        return &hd->sums;
    if (hd->sums_state == -2) {   /* damaged: every READ fails as the first one did */
        *err = cnio__srv_sums_refused(-CNIO_ERR_CHECKSUM, hd->name, 0);
        return NULL;
    }
    if (hd->sums_state < 0 && !create)
        return NULL;
    ret = cnio__srv_sums_open(&c->srv->store, hd->name, atomic_load(&hd->stage), &hd->meta,
                              hd->fd, NULL, create, &hd->sums);
    if (ret == 0) {
        hd->sums_state = 1;
        return &hd->sums;
    }
    if (ret == 1) {
        hd->sums_state = -1;
        return NULL;
    }
    /* A damaged sums file is not ignored (its object would read unchecked): said once per
     * handle, and its reads fail as damaged data does. */
    if (ret == -CNIO_ERR_CHECKSUM) {
        cnio__warn("object %s: its block sums file on this host is damaged (its header does "
                   "not match its CRC32C), missing or another object's: its reads are "
                   "refused; write the object afresh (cnio cp) or remove it", hd->name);
        if (!create)
            hd->sums_state = -2;
        ret = cnio__srv_sums_refused(ret, hd->name, 0);
    }
    *err = ret;
    return NULL;
}

int cnio__srv_req_committed(const struct cnio_srv_handle *hd)
{
    if (!hd->committed)
        return 0;
    return cnio__srv_why(-CNIO_ERR_ACCESS, "the upload this handle wrote was committed: it "
                         "writes nothing after its COMMIT (open the object again to update it "
                         "in place)");
}

int cnio__srv_req_write(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, const uint8_t *p,
                        struct cnio_srv_reply *r)
{
    struct cnio_srv_sums none = { -1, 0, 0 }, s;
    const struct cnio_srv_sums *sp;
    struct cnio_srv_handle *hd;
    int ret;

    (void)r;
    /* conn.c left the payload CRC to this pass, which computes the block CRCs too */
    ret = cnio__srv_req_handle(c, h, 1, &hd);
    if (ret)
        return cnio__wire_payload_check(h, p) ? -CNIO_ERR_CHECKSUM : ret;
    ret = cnio__srv_req_range(h->offset, h->length);
    pthread_mutex_lock(&hd->lock);
    if (!ret)
        ret = cnio__srv_req_committed(hd);
    sp = ret ? NULL : cnio__srv_req_sums(c, hd, 1, &ret);
    s = sp ? *sp : none;
    if (!ret)   /* (a COMMIT of the handle waits for it: commit.c, commit_item) */
        atomic_fetch_add(&hd->writes, 1);
    pthread_mutex_unlock(&hd->lock);
    if (ret && cnio__wire_payload_check(h, p))
        ret = -CNIO_ERR_CHECKSUM;
    if (!ret) {
        ret = cnio__srv_sums_write(&s, hd->fd, h->offset, p, h->length, h->payload_crc);
        atomic_fetch_sub(&hd->writes, 1);
    }
    if (!ret && hd->stage && h->offset + h->length > CNIO_SRV_STAGE_LAZY) {
        /* a long upload: from here on a server crash leaves it resumable */
        int save;

        pthread_mutex_lock(&hd->lock);
        save = hd->stage && !hd->stage_saved;
        hd->stage_saved = 1;
        if (save)
            ret = cnio__srv_stage_meta_save(&c->srv->store, hd->stage);
        pthread_mutex_unlock(&hd->lock);
    }
    cnio__srv_handles_put(&c->srv->handles, hd);
    return ret;
}

/* A counted reference to a descriptor of hd's file for sendfile, or NULL. */
static struct cnio_srv_file *req_file_get(struct cnio_srv_handle *hd)
{
    struct cnio_srv_file *f;

    pthread_mutex_lock(&hd->lock);
    if (!hd->file && (f = malloc(sizeof(*f)))) {
        f->fd = fcntl(hd->fd, F_DUPFD_CLOEXEC, 0);
        atomic_init(&f->refs, 1);
        if (f->fd >= 0)
            hd->file = f;
        else
            free(f);
    }
    f = hd->file;
    if (f)
        atomic_fetch_add(&f->refs, 1);
    pthread_mutex_unlock(&hd->lock);
    return f;
}

/* READ of an object without block sums: pread into the reply buffer. */
static int req_read_plain(struct cnio_srv_conn *c, struct cnio_srv_handle *hd, uint64_t off,
                          uint64_t want, struct cnio_srv_reply *r)
{
    uint8_t *buf = cnio__srv_reply_buf(c, r, (size_t)want);
    size_t got = 0;
    int ret = buf ? 0 : -CNIO_ERR_NOMEM;

    while (!ret && got < want) {
        ssize_t n = pread(hd->fd, buf + got, (size_t)want - got, (off_t)(off + got));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            ret = cnio__srv_why_errno(errno);
        else if (n == 0)
            break;
        else
            got += (size_t)n;
    }
    r->len = (uint32_t)got;
    return ret;
}

int cnio__srv_req_check_end(struct cnio_srv_conn *c, struct cnio_srv_handle *hd, uint64_t end)
{
    struct cnio_srv_sums none = { -1, 0, 0 }, s;
    const struct cnio_srv_sums *sp;
    uint64_t at;
    int ret = 0;

    pthread_mutex_lock(&hd->lock);
    sp = cnio__srv_req_sums(c, hd, 0, &ret);
    s = sp ? *sp : none;
    pthread_mutex_unlock(&hd->lock);
    return ret ? ret : cnio__srv_sums_past_end(&s, hd->fd, hd->name, end, &at);
}

/* Whether hd's file is no longer size bytes long (a WRITE or SETSIZE came meanwhile). */
static int req_resized(const struct cnio_srv_handle *hd, uint64_t size)
{
    struct stat sb;

    return fstat(hd->fd, &sb) == 0 && (uint64_t)sb.st_size != size;
}

/* READ with block sums (live: beside a live writer in place, see above): 0 (r filled), 2
 * when the file's length changed meanwhile, or an error. */
static int req_read_sums(struct cnio_srv_conn *c, struct cnio_srv_handle *hd,
                         const struct cnio_srv_sums *s, uint64_t off, uint64_t want, int live,
                         struct cnio_srv_reply *r)
{
    struct cnio_srv_file *f = NULL;
    struct stat sb;
    uint8_t *buf = NULL;
    uint64_t len, at;
    uint32_t crc;
    int ret;

    ret = cnio__srv_sums_past_end(s, hd->fd, hd->name, off + want, &at);
    if (ret)
        return ret;
    if (fstat(hd->fd, &sb) < 0)
        return cnio__srv_why_errno(errno);
    len = (uint64_t)sb.st_size > off ? CNIO_MIN(want, (uint64_t)sb.st_size - off) : 0;
    if (len == 0) {
        r->len = 0;
        return 0;
    }
    if (len >= REQ_FILE_MIN && !live && !hd->writer && !hd->stage)
        f = req_file_get(hd);
    if (!f && !(buf = cnio__srv_reply_buf(c, r, (size_t)len)))
        return -CNIO_ERR_NOMEM;
    ret = cnio__srv_sums_read(s, hd->fd, hd->name, off, len, (uint64_t)sb.st_size, buf, &crc);
    if (ret == -CNIO_ERR_CHECKSUM && req_resized(hd, (uint64_t)sb.st_size))
        ret = 2;
    if (ret) {
        if (f)
            cnio__srv_file_put(f);
        return ret;
    }
    if (f)
        return cnio__srv_reply_file(c, r, f, off, (uint32_t)len, crc);
    r->len = (uint32_t)len;
    r->crc = crc;
    r->crc_set = 1;
    return 0;
}

int cnio__srv_req_read(struct cnio_srv_conn *c, const struct cnio_wire_hdr *h, const uint8_t *p,
                       struct cnio_srv_reply *r)
{
    struct cnio_srv_sums none = { -1, 0, 0 }, s;
    const struct cnio_srv_sums *sp;
    struct cnio_srv_handle *hd;
    uint64_t want;
    int ret, live;

    if (cnio__wire_u64_parse(p, h->length, &want) || want > CNIO_WIRE_MAX_PAYLOAD)
        return -CNIO_ERR_PROTO;
    ret = cnio__srv_req_handle(c, h, 0, &hd);
    if (ret)
        return ret;
    ret = cnio__srv_req_range(h->offset, want);
    pthread_mutex_lock(&hd->lock);
    sp = ret ? NULL : cnio__srv_req_sums(c, hd, 0, &ret);
    s = sp ? *sp : none;
    pthread_mutex_unlock(&hd->lock);
    live = !hd->stage && !hd->writer && cnio__srv_store_written(&c->srv->store, hd->name);
    if (!ret && s.fd < 0)
        ret = req_read_plain(c, hd, h->offset, want, r);
    else if (!ret)
        for (int tries = 0; (ret = req_read_sums(c, hd, &s, h->offset, want, live, r)) == 2;
             tries++)
            if (tries == 3) {
                ret = -CNIO_ERR_IO;
                break;
            }
    cnio__srv_handles_put(&c->srv->handles, hd);
    return ret;
}
