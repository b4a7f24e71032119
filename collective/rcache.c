/*
 * rcache.c - the read cache of a read-only handle: one block of the object, kept between
 * small independent reads.
 *
 * A program that reads a dataset in many small calls (HDF5's independent hyperslab reads
 * make one MPI_File_read_at per contiguous run: an h5py column read of a 200,000-row
 * dataset is 200,000 reads of 8 bytes) paid a network round trip per call, about 35 us
 * here against 1 us for a local file in the page cache. A read of at most
 * RCACHE_SMALL bytes on a handle opened MPI_MODE_RDONLY is served from a cached block
 * of 4 to 64 KiB, fetched whole on a miss. MPI-IO's consistency rules allow it
 * (MPI-3.1, 13.6.1): what another process writes need only be seen after a sync (or
 * close and open), so MPI_File_sync drops the block, and atomic mode turns the cache
 * off. romio_ds_read=disable turns it off too.
 */
#include "access.h"
#include "client.h"

#include <stdlib.h>
#include <string.h>

/* A miss reads a block, as the kernel's readahead does: 4 KiB after a miss elsewhere
 * (about a round trip's worth at 1 Gbit/s, so scattered small reads lose little), twice
 * the last block's size when the miss follows it, up to 64 KiB (sequential runs of small
 * reads then make one request per 64 KiB). */
#define RCACHE_MIN (4u << 10)
#define RCACHE_BLOCK (64u << 10)
#define RCACHE_SMALL (16u << 10)

void cnio__rcache_drop(cnio_file_t *fh)
{
    fh->rcache.valid = 0;
}

void cnio__rcache_free(cnio_file_t *fh)
{
    free(fh->rcache.buf);
    fh->rcache.buf = NULL;
    fh->rcache.valid = 0;
}

/* A block holding byte o, fetched unless the cached one holds it. 0 or a negative code. */
static int rcache_fetch(cnio_file_t *fh, uint64_t o)
{
    struct coll_rcache *c = &fh->rcache;
    uint64_t len = RCACHE_MIN, start, eof = 0;
    struct cnio_xfer x;
    int rc;

    if (c->valid && o >= c->off && o < c->off + c->len)
        return 0;
    if (c->valid && o >= c->off + c->len && o < c->off + 2 * c->len + RCACHE_MIN)
        len = CNIO_MIN(2 * c->len, RCACHE_BLOCK);   /* it follows the last block */
    start = o - o % RCACHE_MIN;
    if (!c->buf && !(c->buf = malloc(RCACHE_BLOCK)))
        return -CNIO_ERR_NOMEM;
    c->valid = 0;
    x = (struct cnio_xfer){ .off = start, .len = len, .buf = c->buf };
    rc = cnio__obj_readx_eof(fh->obj, &x, 1, &eof);
    if (rc)
        return rc;
    c->off = start;
    c->len = len;
    c->eof = eof;   /* >= the block's end when it came back whole, else the object's size */
    c->valid = 1;
    return 0;
}

int cnio__rcache_read(cnio_file_t *fh, struct coll_access *a, uint64_t *end_out)
{
    struct coll_rcache *c = &fh->rcache;
    int64_t pos = 0;

    if (!(fh->amode & MPI_MODE_RDONLY) || fh->rcache.disabled || a->write || a->next == 0 ||
        a->nbytes > (int64_t)RCACHE_SMALL || fh->hints.romio_ds_read == CNIO_CB_DISABLE)
        return 1;
    *end_out = 0;
    for (int64_t i = 0; i < a->next; pos += a->ext[i++].len) {
        uint64_t off = (uint64_t)a->ext[i].off, len = (uint64_t)a->ext[i].len;

        for (uint64_t done = 0; done < len;) {
            uint64_t o = off + done, take;
            int rc = rcache_fetch(fh, o);

            if (rc)
                return rc;
            take = CNIO_MIN(len - done, c->off + c->len - o);
            if (o < c->eof)
                memcpy(a->stream + pos + (int64_t)done, c->buf + (o - c->off),
                       (size_t)CNIO_MIN(take, c->eof - o));
            *end_out = CNIO_MAX(*end_out, c->eof);
            if (c->eof < c->off + c->len && o + take >= c->eof)
                return 0;   /* the object ends in this block: the rest lies past it */
            done += take;
        }
    }
    return 0;
}
