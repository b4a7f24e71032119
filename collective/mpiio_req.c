/*
 * mpiio_req.c - nonblocking (MPI_File_iread* / iwrite*, MPI-3.1's _all forms included)
 * and split-collective (_begin / _end) data access.
 *
 * Both do the whole access when it is started, through the same paths as the blocking
 * calls, which MPI allows: a nonblocking call returns a generalized request
 * (MPI_Grequest_start) that is already complete, so MPI_Wait / MPI_Test / MPI_Waitall
 * return at once with the access's status; a _begin stores the status in the file
 * handle and the matching _end returns it. An error is reported by the starting call
 * (and no request is made). The user's buffer is not touched after the starting call.
 */
#include "mpiio.h"

#include <stdlib.h>

static int mpiio_greq_query(void *extra, MPI_Status *status)
{
    MPI_Count bytes = 0;

    MPI_Get_elements_x((MPI_Status *)extra, MPI_BYTE, &bytes);
    MPI_Status_set_elements_x(status, MPI_BYTE, bytes);
    MPI_Status_set_cancelled(status, 0);
    status->MPI_SOURCE = MPI_UNDEFINED;
    status->MPI_TAG = MPI_UNDEFINED;
    return MPI_SUCCESS;
}

static int mpiio_greq_free(void *extra)
{
    free(extra);
    return MPI_SUCCESS;
}

/* Already complete: cancelling has no effect (MPI_Test_cancelled gives false). */
static int mpiio_greq_cancel(void *extra, int complete)
{
    (void)extra;
    (void)complete;
    return MPI_SUCCESS;
}

int mpiio__request(const MPI_Status *status, MPI_Request *req)
{
    MPI_Status *st = malloc(sizeof(*st));
    int rc;

    if (!st)
        return MPI_ERR_NO_MEM;
    *st = *status;
    rc = MPI_Grequest_start(mpiio_greq_query, mpiio_greq_free, mpiio_greq_cancel, st, req);
    if (rc != MPI_SUCCESS) {
        free(st);
        return rc;
    }
    return MPI_Grequest_complete(*req);
}

static int mpiio_start(struct mpiio_file *m, enum mpiio_pos pos, int coll, MPI_Offset off,
                       void *buf, int count, MPI_Datatype dt, MPI_Request *req, int write)
{
    MPI_Status st;
    int rc;

    if (!m->fh)
        return mpiio__raise(m, MPI_ERR_FILE);
    if (!req)
        return mpiio__raise(m, MPI_ERR_REQUEST);
    *req = MPI_REQUEST_NULL;
    rc = mpiio__access(m, pos, coll, off, buf, count, dt, &st, write);
    if (rc)
        return mpiio__access_err(m, rc, count, dt);
    rc = mpiio__request(&st, req);
    return rc == MPI_SUCCESS ? rc : mpiio__raise(m, rc);
}

MPIIO_API int MPI_File_iread_at(MPI_File f, MPI_Offset off, void *buf, int count,
                                MPI_Datatype dt, MPI_Request *req)
{
    struct mpiio_file *m = mpiio__lookup(f);

    if (!m)
        return PMPI_File_iread_at(f, off, buf, count, dt, req);
    return mpiio_start(m, MPIIO_AT, 0, off, buf, count, dt, req, 0);
}

MPIIO_API int MPI_File_iwrite_at(MPI_File f, MPI_Offset off, const void *buf, int count,
                                 MPI_Datatype dt, MPI_Request *req)
{
    struct mpiio_file *m = mpiio__lookup(f);

    if (!m)
        return PMPI_File_iwrite_at(f, off, buf, count, dt, req);
    return mpiio_start(m, MPIIO_AT, 0, off, (void *)buf, count, dt, req, 1);
}

MPIIO_API int MPI_File_iread_at_all(MPI_File f, MPI_Offset off, void *buf, int count,
                                    MPI_Datatype dt, MPI_Request *req)
{
    struct mpiio_file *m = mpiio__lookup(f);

    if (!m)
        return PMPI_File_iread_at_all(f, off, buf, count, dt, req);
    return mpiio_start(m, MPIIO_AT, 1, off, buf, count, dt, req, 0);
}

MPIIO_API int MPI_File_iwrite_at_all(MPI_File f, MPI_Offset off, const void *buf, int count,
                                     MPI_Datatype dt, MPI_Request *req)
{
    struct mpiio_file *m = mpiio__lookup(f);

    if (!m)
        return PMPI_File_iwrite_at_all(f, off, buf, count, dt, req);
    return mpiio_start(m, MPIIO_AT, 1, off, (void *)buf, count, dt, req, 1);
}

MPIIO_API int MPI_File_iread(MPI_File f, void *buf, int count, MPI_Datatype dt,
                             MPI_Request *req)
{
    struct mpiio_file *m = mpiio__lookup(f);

    if (!m)
        return PMPI_File_iread(f, buf, count, dt, req);
    return mpiio_start(m, MPIIO_IND, 0, 0, buf, count, dt, req, 0);
}

MPIIO_API int MPI_File_iwrite(MPI_File f, const void *buf, int count, MPI_Datatype dt,
                              MPI_Request *req)
{
    struct mpiio_file *m = mpiio__lookup(f);

    if (!m)
        return PMPI_File_iwrite(f, buf, count, dt, req);
    return mpiio_start(m, MPIIO_IND, 0, 0, (void *)buf, count, dt, req, 1);
}

MPIIO_API int MPI_File_iread_all(MPI_File f, void *buf, int count, MPI_Datatype dt,
                                 MPI_Request *req)
{
    struct mpiio_file *m = mpiio__lookup(f);

    if (!m)
        return PMPI_File_iread_all(f, buf, count, dt, req);
    return mpiio_start(m, MPIIO_IND, 1, 0, buf, count, dt, req, 0);
}

MPIIO_API int MPI_File_iwrite_all(MPI_File f, const void *buf, int count, MPI_Datatype dt,
                                  MPI_Request *req)
{
    struct mpiio_file *m = mpiio__lookup(f);

    if (!m)
        return PMPI_File_iwrite_all(f, buf, count, dt, req);
    return mpiio_start(m, MPIIO_IND, 1, 0, (void *)buf, count, dt, req, 1);
}

MPIIO_API int MPI_File_iread_shared(MPI_File f, void *buf, int count, MPI_Datatype dt,
                                    MPI_Request *req)
{
    struct mpiio_file *m = mpiio__lookup(f);

    if (!m)
        return PMPI_File_iread_shared(f, buf, count, dt, req);
    return mpiio_start(m, MPIIO_SHARED, 0, 0, buf, count, dt, req, 0);
}

MPIIO_API int MPI_File_iwrite_shared(MPI_File f, const void *buf, int count, MPI_Datatype dt,
                                     MPI_Request *req)
{
    struct mpiio_file *m = mpiio__lookup(f);

    if (!m)
        return PMPI_File_iwrite_shared(f, buf, count, dt, req);
    return mpiio_start(m, MPIIO_SHARED, 0, 0, (void *)buf, count, dt, req, 1);
}

/* ---- split collectives ---- */

static int mpiio_begin(struct mpiio_file *m, enum mpiio_pos pos, MPI_Offset off, void *buf,
                       int count, MPI_Datatype dt, int write)
{
    int rc;

    if (!m->fh)
        return mpiio__raise(m, MPI_ERR_FILE);
    /* One split collective at a time per file (MPI-3.1, 13.4.5). */
    if (m->split.active)
        return mpiio__raise(m, MPI_ERR_OTHER);
    rc = mpiio__access(m, pos, 1, off, buf, count, dt, &m->split.status, write);
    if (rc)
        MPI_Status_set_elements_x(&m->split.status, MPI_BYTE, 0);
    m->split.active = 1;
    return mpiio__access_err(m, rc, count, dt);
}

static int mpiio_end(struct mpiio_file *m, MPI_Status *st)
{
    if (!m->fh)
        return mpiio__raise(m, MPI_ERR_FILE);
    if (!m->split.active)
        return mpiio__raise(m, MPI_ERR_OTHER);
    m->split.active = 0;
    if (st != MPI_STATUS_IGNORE)
        *st = m->split.status;
    return MPI_SUCCESS;
}

MPIIO_API int MPI_File_read_at_all_begin(MPI_File f, MPI_Offset off, void *buf, int count,
                                         MPI_Datatype dt)
{
    struct mpiio_file *m = mpiio__lookup(f);

    if (!m)
        return PMPI_File_read_at_all_begin(f, off, buf, count, dt);
    return mpiio_begin(m, MPIIO_AT, off, buf, count, dt, 0);
}

MPIIO_API int MPI_File_read_at_all_end(MPI_File f, void *buf, MPI_Status *st)
{
    struct mpiio_file *m = mpiio__lookup(f);

    return m ? mpiio_end(m, st) : PMPI_File_read_at_all_end(f, buf, st);
}

MPIIO_API int MPI_File_write_at_all_begin(MPI_File f, MPI_Offset off, const void *buf,
                                          int count, MPI_Datatype dt)
{
    struct mpiio_file *m = mpiio__lookup(f);

    if (!m)
        return PMPI_File_write_at_all_begin(f, off, buf, count, dt);
    return mpiio_begin(m, MPIIO_AT, off, (void *)buf, count, dt, 1);
}

MPIIO_API int MPI_File_write_at_all_end(MPI_File f, const void *buf, MPI_Status *st)
{
    struct mpiio_file *m = mpiio__lookup(f);

    return m ? mpiio_end(m, st) : PMPI_File_write_at_all_end(f, buf, st);
}

MPIIO_API int MPI_File_read_all_begin(MPI_File f, void *buf, int count, MPI_Datatype dt)
{
    struct mpiio_file *m = mpiio__lookup(f);

    if (!m)
        return PMPI_File_read_all_begin(f, buf, count, dt);
    return mpiio_begin(m, MPIIO_IND, 0, buf, count, dt, 0);
}

MPIIO_API int MPI_File_read_all_end(MPI_File f, void *buf, MPI_Status *st)
{
    struct mpiio_file *m = mpiio__lookup(f);

    return m ? mpiio_end(m, st) : PMPI_File_read_all_end(f, buf, st);
}

MPIIO_API int MPI_File_write_all_begin(MPI_File f, const void *buf, int count, MPI_Datatype dt)
{
    struct mpiio_file *m = mpiio__lookup(f);

    if (!m)
        return PMPI_File_write_all_begin(f, buf, count, dt);
    return mpiio_begin(m, MPIIO_IND, 0, (void *)buf, count, dt, 1);
}

MPIIO_API int MPI_File_write_all_end(MPI_File f, const void *buf, MPI_Status *st)
{
    struct mpiio_file *m = mpiio__lookup(f);

    return m ? mpiio_end(m, st) : PMPI_File_write_all_end(f, buf, st);
}

MPIIO_API int MPI_File_read_ordered_begin(MPI_File f, void *buf, int count, MPI_Datatype dt)
{
    struct mpiio_file *m = mpiio__lookup(f);

    if (!m)
        return PMPI_File_read_ordered_begin(f, buf, count, dt);
    return mpiio_begin(m, MPIIO_ORDERED, 0, buf, count, dt, 0);
}

MPIIO_API int MPI_File_read_ordered_end(MPI_File f, void *buf, MPI_Status *st)
{
    struct mpiio_file *m = mpiio__lookup(f);

    return m ? mpiio_end(m, st) : PMPI_File_read_ordered_end(f, buf, st);
}

MPIIO_API int MPI_File_write_ordered_begin(MPI_File f, const void *buf, int count,
                                           MPI_Datatype dt)
{
    struct mpiio_file *m = mpiio__lookup(f);

    if (!m)
        return PMPI_File_write_ordered_begin(f, buf, count, dt);
    return mpiio_begin(m, MPIIO_ORDERED, 0, (void *)buf, count, dt, 1);
}

MPIIO_API int MPI_File_write_ordered_end(MPI_File f, const void *buf, MPI_Status *st)
{
    struct mpiio_file *m = mpiio__lookup(f);

    return m ? mpiio_end(m, st) : PMPI_File_write_ordered_end(f, buf, st);
}
