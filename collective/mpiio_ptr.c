/*
 * mpiio_ptr.c - views and file pointers: set_view/get_view, get_type_extent,
 * get_byte_offset, seek/get_position (individual) and seek_shared/get_position_shared.
 *
 * Pointers count etypes of the current view, as MPI-IO says; set_view resets both to 0.
 */
#include "mpiio.h"

#include <stdlib.h>
#include <string.h>

/* Data bytes of the view that lie before absolute byte e. Filetype instance k spans
 * [disp + k * extent + off[0], ... + extent) (view_check guarantees it), so the bytes
 * before e are those of k whole instances plus the blocks of instance k below e. A
 * filetype with no data has no blocks (and any extent, 0 too): none lie before e. */
static int64_t mpiio_view_bytes_before(const struct cnio_view *v, int64_t e)
{
    const struct cnio_flat *ft = v->ft;
    int64_t rel, k, base, n;

    if (ft->size == 0)
        return 0;
    rel = e - v->disp - ft->off[0];
    if (rel <= 0)
        return 0;
    k = rel / ft->extent;
    base = v->disp + k * ft->extent;
    n = k * ft->size;
    for (int64_t j = 0; j < ft->n; j++) {
        int64_t b = base + ft->off[j];

        if (e <= b)
            break;
        n += CNIO_MIN(ft->len[j], e - b);
    }
    return n;
}

int mpiio__eof_etypes(struct mpiio_file *m, int64_t *out)
{
    MPI_Offset size;
    int64_t es = m->fh->view.etype_size;
    int rc = cnio_file_get_size(m->fh, &size);

    if (rc == 0)
        *out = (mpiio_view_bytes_before(&m->fh->view, size) + es - 1) / es;
    return rc;
}

/* The absolute byte of etype offset `offset` in the view. */
static int mpiio_byte_offset(struct mpiio_file *m, MPI_Offset offset, MPI_Offset *disp)
{
    struct cnio_extent *e = NULL;
    int64_t n = 0;
    int rc = cnio__view_map(&m->fh->view, offset, m->fh->view.etype_size, &e, &n);

    if (rc == 0)
        *disp = n ? e[0].off : m->fh->view.disp;
    free(e);
    return rc;
}

/*
 * The class of a view refused with disp and datarep right, as ROMIO and OMPIO say:
 * MPI_ERR_TYPE for a type that is null or not committed, MPI_ERR_ARG for a filetype
 * whose size the etype's does not divide, else MPI_ERR_TYPE (blocks that decrease or
 * overlap).
 */
static int mpiio_view_class(MPI_Comm comm, MPI_Datatype etype, MPI_Datatype filetype)
{
    MPI_Count es, fs;

    if (cnio__view_committed(comm, etype) && cnio__view_committed(comm, filetype) &&
        MPI_Type_size_x(etype, &es) == MPI_SUCCESS &&
        MPI_Type_size_x(filetype, &fs) == MPI_SUCCESS && es > 0 && fs % es != 0)
        return MPI_ERR_ARG;
    return MPI_ERR_TYPE;
}

MPIIO_API int MPI_File_set_view(MPI_File f, MPI_Offset disp, MPI_Datatype etype,
                                MPI_Datatype filetype, const char *datarep, MPI_Info info)
{
    int64_t cur;
    int rc = 0, pre;

    MPIIO_ENTER(m, f, PMPI_File_set_view(f, disp, etype, filetype, datarep, info));
    if (disp == MPI_DISPLACEMENT_CURRENT) {
        /* Only in MPI_MODE_SEQUENTIAL: the shared pointer's position, in bytes. */
        disp = -1;
        if ((m->amode & MPI_MODE_SEQUENTIAL) && mpiio__shared_add(m, 0, &cur) == 0)
            rc = mpiio_byte_offset(m, cur, &disp);
    }
    if (datarep && strcmp(datarep, "native") != 0)
        rc = -CNIO_ERR_NOTSUP;
    rc = cnio__coll_agree(m->fh->comm, rc);
    if (rc == -CNIO_ERR_NOTSUP)
        return mpiio__raise(m, MPI_ERR_UNSUPPORTED_DATAREP);
    pre = rc;
    rc = cnio_file_set_view(m->fh, pre ? -1 : disp, etype, filetype, datarep, info);
    if (pre)
        return mpiio__err(m, pre);
    if (rc == 0) {
        m->ptr = 0;
        rc = mpiio__shared_set(m, 0);
    }
    if (rc == -CNIO_ERR_INVAL && disp >= 0 && datarep)
        return mpiio__raise(m, mpiio_view_class(m->fh->comm, etype, filetype));
    return mpiio__err(m, rc);
}

static int mpiio_type_out(MPI_Datatype t, MPI_Datatype *out)
{
    int ni, na, nd, combiner;

    if (MPI_Type_get_envelope(t, &ni, &na, &nd, &combiner) != MPI_SUCCESS)
        return -CNIO_ERR_MPI;
    if (combiner == MPI_COMBINER_NAMED) {
        *out = t;
        return 0;
    }
    return MPI_Type_dup(t, out) == MPI_SUCCESS ? 0 : -CNIO_ERR_MPI;
}

/* Derived etype/filetype come back as new duplicates (the caller frees them), predefined
 * ones as they are, as MPI_File_get_view says. */
MPIIO_API int MPI_File_get_view(MPI_File f, MPI_Offset *disp, MPI_Datatype *etype,
                                MPI_Datatype *filetype, char *datarep)
{
    const struct cnio_view *v;
    int rc;

    MPIIO_ENTER(m, f, PMPI_File_get_view(f, disp, etype, filetype, datarep));
    if (!disp || !etype || !filetype || !datarep)
        return mpiio__raise(m, MPI_ERR_ARG);
    v = &m->fh->view;
    rc = mpiio_type_out(v->etype, etype);
    if (rc == 0) {
        rc = mpiio_type_out(v->filetype, filetype);
        if (rc && *etype != v->etype)
            MPI_Type_free(etype);
    }
    if (rc == 0) {
        *disp = v->disp;
        strcpy(datarep, "native");
    }
    return mpiio__err(m, rc);
}

MPIIO_API int MPI_File_get_type_extent(MPI_File f, MPI_Datatype datatype, MPI_Aint *extent)
{
    MPI_Aint lb;

    MPIIO_ENTER(m, f, PMPI_File_get_type_extent(f, datatype, extent));
    if (!extent || datatype == MPI_DATATYPE_NULL)
        return mpiio__raise(m, MPI_ERR_ARG);
    /* "native": the extent in the file is the extent in memory. */
    if (MPI_Type_get_extent(datatype, &lb, extent) != MPI_SUCCESS)
        return mpiio__raise(m, MPI_ERR_TYPE);
    return MPI_SUCCESS;
}

MPIIO_API int MPI_File_get_byte_offset(MPI_File f, MPI_Offset offset, MPI_Offset *disp)
{
    MPIIO_ENTER(m, f, PMPI_File_get_byte_offset(f, offset, disp));
    if (!disp || offset < 0)
        return mpiio__raise(m, MPI_ERR_ARG);
    return mpiio__err(m, mpiio_byte_offset(m, offset, disp));
}

/* The pointer whence and offset give, from the current position cur. */
static int mpiio_seek_target(struct mpiio_file *m, MPI_Offset offset, int whence,
                             int64_t cur, int64_t *out)
{
    int64_t eof = 0;
    int rc = 0;

    if (whence == MPI_SEEK_SET)
        *out = offset;
    else if (whence == MPI_SEEK_CUR)
        *out = cur + offset;
    else if (whence == MPI_SEEK_END && (rc = mpiio__eof_etypes(m, &eof)) == 0)
        *out = eof + offset;
    else if (rc == 0)
        rc = -CNIO_ERR_INVAL;
    if (rc == 0 && *out < 0)
        rc = -CNIO_ERR_INVAL;
    return rc;
}

MPIIO_API int MPI_File_seek(MPI_File f, MPI_Offset offset, int whence)
{
    int64_t to;
    int rc;

    MPIIO_ENTER(m, f, PMPI_File_seek(f, offset, whence));
    if (m->amode & MPI_MODE_SEQUENTIAL)
        return mpiio__raise(m, MPI_ERR_UNSUPPORTED_OPERATION);
    rc = mpiio_seek_target(m, offset, whence, m->ptr, &to);
    if (rc == 0)
        m->ptr = to;
    return mpiio__err(m, rc);
}

MPIIO_API int MPI_File_get_position(MPI_File f, MPI_Offset *offset)
{
    MPIIO_ENTER(m, f, PMPI_File_get_position(f, offset));
    if (m->amode & MPI_MODE_SEQUENTIAL)
        return mpiio__raise(m, MPI_ERR_UNSUPPORTED_OPERATION);
    if (!offset)
        return mpiio__raise(m, MPI_ERR_ARG);
    *offset = m->ptr;
    return MPI_SUCCESS;
}

/* whence's name (MPI-3.1 13.4.2), for the message of one that differs between ranks. */
static const char *ptr_whence_name(int64_t w)
{
    return w == MPI_SEEK_SET ? "MPI_SEEK_SET" : w == MPI_SEEK_CUR ? "MPI_SEEK_CUR"
           : w == MPI_SEEK_END ? "MPI_SEEK_END" : "an invalid whence";
}

/* Collective; every rank passes the same offset and whence. */
MPIIO_API int MPI_File_seek_shared(MPI_File f, MPI_Offset offset, int whence)
{
    int64_t cur = 0, to = 0;
    int rc = 0;

    MPIIO_ENTER(m, f, PMPI_File_seek_shared(f, offset, whence));
    if (m->win == MPI_WIN_NULL)   /* (the same on every rank: the open made it or not) */
        rc = mpiio__nowin(m, "shared file pointers");
    if (rc == 0)
        rc = cnio__coll_same(m->fh->comm, offset, "MPI_File_seek_shared's offset");
    if (rc == 0)
        rc = cnio__coll_same_as(m->fh->comm, whence, "MPI_File_seek_shared's whence",
                                ptr_whence_name);
    /* Rank 0 computes the target once every rank's earlier accesses are done. */
    rc = cnio__coll_agree(m->fh->comm, rc);
    if (rc == 0 && m->fh->rank == 0) {
        rc = mpiio__shared_add(m, 0, &cur);
        if (rc == 0)
            rc = mpiio_seek_target(m, offset, whence, cur, &to);
    }
    rc = cnio__coll_agree(m->fh->comm, rc);
    if (rc == 0)
        rc = mpiio__shared_set(m, to);
    return mpiio__err(m, rc);
}

MPIIO_API int MPI_File_get_position_shared(MPI_File f, MPI_Offset *offset)
{
    int64_t cur = 0;
    int rc;

    MPIIO_ENTER(m, f, PMPI_File_get_position_shared(f, offset));
    if (!offset)
        return mpiio__raise(m, MPI_ERR_ARG);
    rc = mpiio__shared_add(m, 0, &cur);
    if (rc == 0)
        *offset = cur;
    return mpiio__err(m, rc);
}
