/*
 * mpiio_data.c - the blocking read/write families: explicit offsets, individual file
 * pointer, shared file pointer, each independent and collective, and the ordered forms.
 *
 * Every access ends in the collective layer's own calls, on the caller's buffer and
 * datatype: cnio_file_write_at / read_at (direct, this rank's extents straight to the
 * servers) and cnio_file_write_at_all / read_at_all (two-phase or direct, as the native
 * API chooses). The file pointers only choose the offset: the individual one is a number
 * in the handle, the shared one a fetch-and-add on rank 0's window, and an ordered
 * access is one exclusive scan of the ranks' sizes plus one collective access.
 *
 * Atomic mode: an independent access holds the window's exclusive lock (mpiio__lock); a
 * collective one first waits for every rank (so no independent access of a rank of the
 * file runs beside it) and writes through aggregation, so that bytes two ranks both
 * write are written once, from one of them, as if the ranks had written in turn.
 */
#include "mpiio.h"

#include <string.h>

int mpiio__etypes(struct mpiio_file *m, int count, MPI_Datatype datatype, int64_t *out)
{
    MPI_Count size;

    *out = 0;
    if (count < 0)
        return -CNIO_ERR_INVAL;
    if (datatype == MPI_DATATYPE_NULL || MPI_Type_size_x(datatype, &size) != MPI_SUCCESS)
        return -CNIO_ERR_INVAL;
    if (size * count % m->fh->view.etype_size)
        return -CNIO_ERR_INVAL;
    /* The pointers move past the data moved: none through a view that holds none. */
    if (m->fh->view.ft->size > 0)
        *out = size * count / m->fh->view.etype_size;
    return 0;
}

static int mpiio_coll(struct mpiio_file *m, MPI_Offset off, void *buf, int count,
                      MPI_Datatype datatype, MPI_Status *status, int write)
{
    cnio_file_t *fh = m->fh;
    int saved = fh->hints.romio_cb_write, rc;

    if (!m->atomic)
        return write ? cnio_file_write_at_all(fh, off, buf, count, datatype, status)
                     : cnio_file_read_at_all(fh, off, buf, count, datatype, status);
    if (MPI_Barrier(fh->comm) != MPI_SUCCESS)
        return -CNIO_ERR_MPI;
    if (!write)
        return cnio_file_read_at_all(fh, off, buf, count, datatype, status);
    fh->hints.romio_cb_write = CNIO_CB_ENABLE;
    rc = cnio_file_write_at_all(fh, off, buf, count, datatype, status);
    fh->hints.romio_cb_write = saved;
    return rc;
}

static int mpiio_indep(struct mpiio_file *m, MPI_Offset off, void *buf, int count,
                       MPI_Datatype datatype, MPI_Status *status, int write)
{
    int rc = mpiio__lock(m);

    if (rc)
        return rc;
    rc = write ? cnio_file_write_at(m->fh, off, buf, count, datatype, status)
               : cnio_file_read_at(m->fh, off, buf, count, datatype, status);
    mpiio__unlock(m);
    return rc;
}

/* Ordered: rank r's data follows ranks 0..r-1's; the shared pointer moves past all. */
static int mpiio_ordered_offset(struct mpiio_file *m, int64_t n, int lrc, int64_t *off)
{
    MPI_Comm comm = m->fh->comm;
    int64_t pre = 0, tot = 0, base[2] = { 0, 0 };
    int rc = 0;

    if (lrc)
        n = 0;
    if (MPI_Exscan(&n, &pre, 1, MPI_INT64_T, MPI_SUM, comm) != MPI_SUCCESS ||
        MPI_Allreduce(&n, &tot, 1, MPI_INT64_T, MPI_SUM, comm) != MPI_SUCCESS)
        rc = -CNIO_ERR_MPI;
    rc = cnio__coll_agree(comm, rc ? rc : lrc);
    if (rc)
        return rc;
    if (m->fh->rank == 0) {
        pre = 0;
        base[1] = mpiio__shared_add(m, tot, &base[0]);
    }
    if (MPI_Bcast(base, 2, MPI_INT64_T, 0, comm) != MPI_SUCCESS)
        return -CNIO_ERR_MPI;
    *off = base[0] + pre;
    return (int)base[1];
}

static int mpiio_access(struct mpiio_file *m, enum mpiio_pos pos, int coll, MPI_Offset offset,
                        void *buf, int count, MPI_Datatype datatype, MPI_Status *status,
                        int write)
{
    MPI_Status st;
    int64_t n = 0, got;
    int64_t off = offset;
    int rc, lrc;

    /* A status with nothing but the count: not cancelled, no source or tag. */
    memset(&st, 0, sizeof(st));
    MPI_Status_set_cancelled(&st, 0);
    st.MPI_SOURCE = MPI_ANY_SOURCE;
    st.MPI_TAG = MPI_ANY_TAG;
    st.MPI_ERROR = MPI_SUCCESS;
    if ((m->amode & MPI_MODE_SEQUENTIAL) && (pos == MPIIO_AT || pos == MPIIO_IND))
        return -CNIO_ERR_NOTSUP;
    /* Before the shared pointer moves; the amode is the same on every rank. */
    if (write && (m->amode & MPI_MODE_RDONLY))
        return MPIIO_ERR_READ_ONLY;
    if (!write && (m->amode & MPI_MODE_WRONLY))
        return -CNIO_ERR_ACCESS;
    lrc = mpiio__etypes(m, count, datatype, &n);
    if (pos == MPIIO_IND)
        off = m->ptr;
    if (pos == MPIIO_ORDERED) {
        rc = mpiio_ordered_offset(m, n, lrc, &off);
        if (rc)
            return rc;
    } else if (pos == MPIIO_SHARED) {
        if (lrc)
            return lrc;
        rc = mpiio__shared_add(m, n, &off);
        if (rc)
            return rc;
    } else if (lrc && !coll) {
        return lrc;
    }
    /* A collective call goes on even after a local error: the layer agrees on it. */
    rc = coll ? mpiio_coll(m, off, buf, count, datatype, &st, write)
              : mpiio_indep(m, off, buf, count, datatype, &st, write);
    if (rc == 0 && pos == MPIIO_IND) {
        got = n;
        if (!write) {
            MPI_Count bytes = 0;

            MPI_Get_elements_x(&st, MPI_BYTE, &bytes);
            got = (bytes + m->fh->view.etype_size - 1) / m->fh->view.etype_size;
        }
        m->ptr = off + got;
    }
    if (rc == 0 && status != MPI_STATUS_IGNORE)
        *status = st;
    /* Reading a write-only file (or the reverse) is MPI_ERR_ACCESS, as in ROMIO. */
    return rc == -CNIO_ERR_AMODE ? -CNIO_ERR_ACCESS : rc;
}

int mpiio__access(struct mpiio_file *m, enum mpiio_pos pos, int coll, MPI_Offset offset,
                  void *buf, int count, MPI_Datatype datatype, MPI_Status *status, int write)
{
    int rc;

    if (pos != MPIIO_IND)
        return mpiio_access(m, pos, coll, offset, buf, count, datatype, status, write);
    /* the individual pointer is read, used and moved by one thread at a time */
    cnio__file_lock(m->fh);
    rc = mpiio_access(m, pos, coll, offset, buf, count, datatype, status, write);
    cnio__file_unlock(m->fh);
    return rc;
}

int mpiio__access_err(struct mpiio_file *m, int rc, int count, MPI_Datatype datatype)
{
    if (rc && count < 0)
        return mpiio__raise(m, MPI_ERR_COUNT);
    if (rc && datatype == MPI_DATATYPE_NULL)
        return mpiio__raise(m, MPI_ERR_TYPE);
    return mpiio__err(m, rc);
}

static int mpiio_rw(struct mpiio_file *m, enum mpiio_pos pos, int coll, MPI_Offset off,
                    void *buf, int count, MPI_Datatype datatype, MPI_Status *status, int write)
{
    if (!m->fh)
        return mpiio__raise(m, MPI_ERR_FILE);
    return mpiio__access_err(m, mpiio__access(m, pos, coll, off, buf, count, datatype, status,
                                              write), count, datatype);
}

MPIIO_API int MPI_File_read_at(MPI_File f, MPI_Offset off, void *buf, int count,
                               MPI_Datatype dt, MPI_Status *st)
{
    struct mpiio_file *m = mpiio__lookup(f);

    if (!m)
        return PMPI_File_read_at(f, off, buf, count, dt, st);
    return mpiio_rw(m, MPIIO_AT, 0, off, buf, count, dt, st, 0);
}

MPIIO_API int MPI_File_write_at(MPI_File f, MPI_Offset off, const void *buf, int count,
                                MPI_Datatype dt, MPI_Status *st)
{
    struct mpiio_file *m = mpiio__lookup(f);

    if (!m)
        return PMPI_File_write_at(f, off, buf, count, dt, st);
    return mpiio_rw(m, MPIIO_AT, 0, off, (void *)buf, count, dt, st, 1);
}

MPIIO_API int MPI_File_read_at_all(MPI_File f, MPI_Offset off, void *buf, int count,
                                   MPI_Datatype dt, MPI_Status *st)
{
    struct mpiio_file *m = mpiio__lookup(f);

    if (!m)
        return PMPI_File_read_at_all(f, off, buf, count, dt, st);
    return mpiio_rw(m, MPIIO_AT, 1, off, buf, count, dt, st, 0);
}

MPIIO_API int MPI_File_write_at_all(MPI_File f, MPI_Offset off, const void *buf, int count,
                                    MPI_Datatype dt, MPI_Status *st)
{
    struct mpiio_file *m = mpiio__lookup(f);

    if (!m)
        return PMPI_File_write_at_all(f, off, buf, count, dt, st);
    return mpiio_rw(m, MPIIO_AT, 1, off, (void *)buf, count, dt, st, 1);
}

MPIIO_API int MPI_File_read(MPI_File f, void *buf, int count, MPI_Datatype dt, MPI_Status *st)
{
    struct mpiio_file *m = mpiio__lookup(f);

    if (!m)
        return PMPI_File_read(f, buf, count, dt, st);
    return mpiio_rw(m, MPIIO_IND, 0, 0, buf, count, dt, st, 0);
}

MPIIO_API int MPI_File_write(MPI_File f, const void *buf, int count, MPI_Datatype dt,
                             MPI_Status *st)
{
    struct mpiio_file *m = mpiio__lookup(f);

    if (!m)
        return PMPI_File_write(f, buf, count, dt, st);
    return mpiio_rw(m, MPIIO_IND, 0, 0, (void *)buf, count, dt, st, 1);
}

MPIIO_API int MPI_File_read_all(MPI_File f, void *buf, int count, MPI_Datatype dt,
                                MPI_Status *st)
{
    struct mpiio_file *m = mpiio__lookup(f);

    if (!m)
        return PMPI_File_read_all(f, buf, count, dt, st);
    return mpiio_rw(m, MPIIO_IND, 1, 0, buf, count, dt, st, 0);
}

MPIIO_API int MPI_File_write_all(MPI_File f, const void *buf, int count, MPI_Datatype dt,
                                 MPI_Status *st)
{
    struct mpiio_file *m = mpiio__lookup(f);

    if (!m)
        return PMPI_File_write_all(f, buf, count, dt, st);
    return mpiio_rw(m, MPIIO_IND, 1, 0, (void *)buf, count, dt, st, 1);
}

MPIIO_API int MPI_File_read_shared(MPI_File f, void *buf, int count, MPI_Datatype dt,
                                   MPI_Status *st)
{
    struct mpiio_file *m = mpiio__lookup(f);

    if (!m)
        return PMPI_File_read_shared(f, buf, count, dt, st);
    return mpiio_rw(m, MPIIO_SHARED, 0, 0, buf, count, dt, st, 0);
}

MPIIO_API int MPI_File_write_shared(MPI_File f, const void *buf, int count, MPI_Datatype dt,
                                    MPI_Status *st)
{
    struct mpiio_file *m = mpiio__lookup(f);

    if (!m)
        return PMPI_File_write_shared(f, buf, count, dt, st);
    return mpiio_rw(m, MPIIO_SHARED, 0, 0, (void *)buf, count, dt, st, 1);
}

MPIIO_API int MPI_File_read_ordered(MPI_File f, void *buf, int count, MPI_Datatype dt,
                                    MPI_Status *st)
{
    struct mpiio_file *m = mpiio__lookup(f);

    if (!m)
        return PMPI_File_read_ordered(f, buf, count, dt, st);
    return mpiio_rw(m, MPIIO_ORDERED, 1, 0, buf, count, dt, st, 0);
}

MPIIO_API int MPI_File_write_ordered(MPI_File f, const void *buf, int count, MPI_Datatype dt,
                                     MPI_Status *st)
{
    struct mpiio_file *m = mpiio__lookup(f);

    if (!m)
        return PMPI_File_write_ordered(f, buf, count, dt, st);
    return mpiio_rw(m, MPIIO_ORDERED, 1, 0, (void *)buf, count, dt, st, 1);
}
