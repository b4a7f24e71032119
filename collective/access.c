/*
 * access.c - building one rank's access: view mapping, the one pack (or unpack) of
 * non-contiguous memory, and the direct path that sends the extents straight to the
 * servers.
 */
#include "access.h"
#include "client.h"

#include <stdlib.h>
#include <string.h>

/* Copies between the memory layout (count instances of mem at user) and the first lim
 * bytes of the stream. */
static void access_copy(const struct cnio_flat *mem, int count, char *user, char *stream,
                        int to_stream, int64_t lim)
{
    int64_t pos = 0;

    for (int i = 0; i < count && pos < lim; i++) {
        char *base = user + (int64_t)i * mem->extent;

        for (int64_t b = 0; b < mem->n && pos < lim; b++) {
            size_t len = (size_t)CNIO_MIN(mem->len[b], lim - pos);

            if (to_stream)
                memcpy(stream + pos, base + mem->off[b], len);
            else
                memcpy(base + mem->off[b], stream + pos, len);
            pos += mem->len[b];
        }
    }
}

static int access_contiguous(const struct cnio_flat *mem, int count)
{
    return mem->n == 0 || (mem->n == 1 && mem->off[0] == 0 &&
                           (count <= 1 || mem->extent == mem->len[0]));
}

/*
 * A NULL buffer is MPI_BOTTOM (NULL in Open MPI and MPICH): legal with a datatype whose
 * displacements are absolute addresses (MPI_Get_address), MPI-3.1 section 4.1.12. One
 * whose lowest byte would lie in the first page, which is never mapped, is a caller's
 * mistake (a NULL buffer with an ordinary datatype): 0, refused; else 1.
 */
static int access_bottom_ok(const void *buf, const struct cnio_flat *mem, int count)
{
    int64_t lo = INT64_MAX;

    if (buf)
        return 1;
    for (int64_t i = 0; i < mem->n; i++)
        lo = CNIO_MIN(lo, mem->off[i]);
    if (mem->extent < 0 && count > 1) {
        if (-mem->extent > (lo - 4096) / (count - 1))
            return 0;
        lo += (int64_t)(count - 1) * mem->extent;
    }
    return lo >= 4096;
}

int cnio__access_init(cnio_file_t *fh, MPI_Offset offset, const void *buf, int count,
                      MPI_Datatype datatype, int write, struct coll_access *a)
{
    int rc;

    memset(a, 0, sizeof(*a));
    a->write = write;
    a->user = (void *)buf;
    a->count = count;
    if (offset < 0 || count < 0)
        return -CNIO_ERR_INVAL;
    if ((write && (fh->amode & MPI_MODE_RDONLY)) || (!write && (fh->amode & MPI_MODE_WRONLY)))
        return -CNIO_ERR_AMODE;
    rc = cnio__flat_get(datatype, &a->mem);
    if (rc)
        return rc;
    if (a->mem->size > 0 && count > INT64_MAX / a->mem->size)
        return -CNIO_ERR_OVERFLOW;
    a->nbytes = a->mem->size * count;
    if (a->nbytes == 0)
        return 0;
    if (!access_bottom_ok(buf, a->mem, count))
        return -CNIO_ERR_INVAL;
    if (a->nbytes % fh->view.etype_size)
        return -CNIO_ERR_INVAL;
    /* A view that holds no data: the access moves nothing (a count of 0 in the status),
     * and a collective one takes part with zero bytes, as a rank with count 0 does. */
    if (fh->view.ft->size == 0) {
        a->nbytes = 0;
        return 0;
    }
    rc = cnio__view_map(&fh->view, offset, a->nbytes, &a->ext, &a->next);
    if (rc)
        return rc;
    if (access_contiguous(a->mem, count)) {
        a->stream = (char *)buf + (a->mem->n ? a->mem->off[0] : 0);
        return 0;
    }
    a->packed = malloc((size_t)a->nbytes);
    if (!a->packed) {
        cnio__access_free(a);
        return -CNIO_ERR_NOMEM;
    }
    a->stream = a->packed;
    if (write)
        access_copy(a->mem, count, a->user, a->packed, 1, a->nbytes);
    return 0;
}

void cnio__access_unpack(struct coll_access *a, int64_t nread)
{
    if (a->packed && !a->write)
        access_copy(a->mem, a->count, a->user, a->packed, 0, CNIO_MIN(nread, a->nbytes));
}

void cnio__access_free(struct coll_access *a)
{
    free(a->ext);
    free(a->packed);
    a->ext = NULL;
    a->packed = NULL;
}

/* Data sieving (ROMIO's name): in automatic mode, pieces closer than this are read as
 * one span. A READ request costs some microseconds on both ends, a byte read for
 * nothing about a nanosecond: the break-even gap is a few KiB. */
#define ACCESS_SIEVE_GAP (16 << 10)

/* A span of pieces [first, last) read whole into the sieve buffer at sieve_off; the
 * pieces start at stream position pos. */
struct sieve_win {
    int64_t first, last, pos;
    uint64_t start, sieve_off;
};

/*
 * An independent read of many small pieces, one READ per piece, spent its time in
 * requests (an h5py column read: 200,000 pieces of 8 bytes, 30 times slower than a
 * local file): pieces whose gaps are at most gap_max are read as one span of at most
 * cap bytes into a sieve buffer, and copied out; a piece alone in its span is read
 * straight into the stream. Spans are read cap bytes of sieve at a time, each batch one
 * vectored read. Each piece's bytes are copied up to the end the batch's read found, so
 * the stream past the end keeps what it held, as without sieving.
 */
static int access_sieve_read(cnio_file_t *fh, struct coll_access *a, int64_t gap_max,
                             uint64_t *end_out)
{
    const uint64_t cap = fh->hints.ind_rd_buffer_size;
    const struct cnio_extent *e = a->ext;
    struct cnio_xfer *x = malloc((size_t)a->next * sizeof(*x));
    struct sieve_win *w = malloc((size_t)a->next * sizeof(*w));
    char *sieve = NULL;   /* cap bytes, once a span needs it */
    int64_t i = 0, pos = 0;
    int rc = x && w ? 0 : -CNIO_ERR_NOMEM;

    *end_out = 0;
    while (rc == 0 && i < a->next) {
        uint64_t used = 0, eof = 0;
        size_t nx = 0, nw = 0;

        while (i < a->next) {   /* one batch: spans until the sieve is full */
            uint64_t start = (uint64_t)e[i].off, end = start + (uint64_t)e[i].len;
            int64_t j = i + 1, p = pos + e[i].len;

            while (j < a->next && (uint64_t)e[j].off >= end &&
                   (uint64_t)e[j].off - end <= (uint64_t)gap_max &&
                   (uint64_t)(e[j].off + e[j].len) - start <= cap) {
                end = (uint64_t)(e[j].off + e[j].len);
                p += e[j++].len;
            }
            if (j - i == 1) {
                x[nx++] = (struct cnio_xfer){ .off = start, .len = end - start,
                                              .buf = a->stream + pos };
            } else {
                if (used + (end - start) > cap)
                    break;   /* the next batch's */
                if (!sieve && !(sieve = malloc(cap))) {
                    rc = -CNIO_ERR_NOMEM;
                    break;
                }
                w[nw++] = (struct sieve_win){ i, j, pos, start, used };
                x[nx++] = (struct cnio_xfer){ .off = start, .len = end - start,
                                              .buf = sieve + used };
                used += end - start;
            }
            pos = p;
            i = j;
        }
        if (rc == 0)
            rc = cnio__obj_readx_eof(fh->obj, x, nx, &eof);
        for (size_t k = 0; rc == 0 && k < nw; k++) {
            int64_t q = w[k].pos;

            for (int64_t j = w[k].first; j < w[k].last; q += e[j++].len)
                if ((uint64_t)e[j].off < eof)
                    memcpy(a->stream + q, sieve + w[k].sieve_off + ((uint64_t)e[j].off -
                                                                    w[k].start),
                           (size_t)CNIO_MIN((uint64_t)e[j].len, eof - (uint64_t)e[j].off));
        }
        *end_out = CNIO_MAX(*end_out, eof);
    }
    free(x);
    free(w);
    free(sieve);
    return rc;
}

int cnio__access_direct(cnio_file_t *fh, struct coll_access *a, uint64_t *end_out)
{
    struct cnio_xfer *x;
    uint64_t eof;
    int64_t pos = 0;
    int rc;

    if (end_out)
        *end_out = 0;
    if (a->next == 0)
        return 0;
    if (!a->write && a->next > 1 && fh->hints.romio_ds_read != CNIO_CB_DISABLE)
        return access_sieve_read(fh, a,
                                 fh->hints.romio_ds_read == CNIO_CB_ENABLE
                                     ? (int64_t)fh->hints.ind_rd_buffer_size
                                     : ACCESS_SIEVE_GAP,
                                 end_out ? end_out : &eof);
    x = malloc((size_t)a->next * sizeof(*x));
    if (!x)
        return -CNIO_ERR_NOMEM;
    for (int64_t i = 0; i < a->next; i++) {
        x[i].off = (uint64_t)a->ext[i].off;
        x[i].len = (uint64_t)a->ext[i].len;
        x[i].buf = a->stream + pos;
        pos += a->ext[i].len;
    }
    rc = a->write ? cnio__obj_writex(fh->obj, x, (size_t)a->next)
                  : cnio__obj_readx_eof(fh->obj, x, (size_t)a->next, end_out ? end_out : &eof);
    free(x);
    return rc;
}
