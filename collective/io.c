/*
 * io.c - independent data access (cnio_file_write_at / cnio_file_read_at) and the
 * element count of a read that meets the end of the object.
 */
#include "access.h"
#include "client.h"

/* Bytes of the stream that lie before file offset eof. */
int64_t cnio__access_bytes_before(const struct coll_access *a, uint64_t eof)
{
    int64_t n = 0;

    for (int64_t i = 0; i < a->next; i++) {
        uint64_t off = (uint64_t)a->ext[i].off, len = (uint64_t)a->ext[i].len;

        if (off >= eof)
            break;
        n += (int64_t)CNIO_MIN(len, eof - off);
    }
    return n;
}

static int file_write_at(cnio_file_t *fh, MPI_Offset offset, const void *buf, int count,
                         MPI_Datatype datatype, MPI_Status *status)
{
    struct coll_access a;
    int rc;

    if (!fh)
        return -CNIO_ERR_INVAL;
    rc = cnio__access_init(fh, offset, buf, count, datatype, 1, &a);
    if (rc == 0)
        rc = cnio__access_direct(fh, &a, NULL);
    if (rc == 0)
        cnio__coll_set_status(status, a.nbytes);
    fh->stats.bytes_written += rc == 0 ? (uint64_t)a.nbytes : 0;
    cnio__access_free(&a);
    return rc;
}

CNIO_API int cnio_file_write_at(cnio_file_t *fh, MPI_Offset offset, const void *buf, int count,
                                MPI_Datatype datatype, MPI_Status *status)
{
    int rc;

    if (!fh)
        return -CNIO_ERR_INVAL;
    cnio__file_lock(fh);
    rc = file_write_at(fh, offset, buf, count, datatype, status);
    cnio__file_unlock(fh);
    return rc;
}

static int file_read_at(cnio_file_t *fh, MPI_Offset offset, void *buf, int count,
                        MPI_Datatype datatype, MPI_Status *status)
{
    struct coll_access a;
    uint64_t eof = 0;
    int64_t nread;
    int rc;

    if (!fh)
        return -CNIO_ERR_INVAL;
    rc = cnio__access_init(fh, offset, buf, count, datatype, 0, &a);
    if (rc == 0 && (rc = cnio__rcache_read(fh, &a, &eof)) == 1)
        rc = cnio__access_direct(fh, &a, &eof);
    if (rc == 0) {
        nread = cnio__access_bytes_before(&a, eof);
        cnio__access_unpack(&a, nread);
        cnio__coll_set_status(status, nread);
        fh->stats.bytes_read += (uint64_t)a.nbytes;
    }
    cnio__access_free(&a);
    return rc;
}

CNIO_API int cnio_file_read_at(cnio_file_t *fh, MPI_Offset offset, void *buf, int count,
                               MPI_Datatype datatype, MPI_Status *status)
{
    int rc;

    if (!fh)
        return -CNIO_ERR_INVAL;
    cnio__file_lock(fh);
    rc = file_read_at(fh, offset, buf, count, datatype, status);
    cnio__file_unlock(fh);
    return rc;
}
