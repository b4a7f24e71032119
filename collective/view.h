/*
 * view.h - MPI datatypes flattened into offset/length lists, and file views.
 *
 * A flattened datatype is the list of contiguous byte blocks one instance of it touches,
 * in type-map order (the order MPI_Pack would visit them), relative to the start of the
 * buffer (displacements may be negative; lb/extent as MPI reports them). Adjacent blocks
 * are merged. Flattening walks the type with MPI_Type_get_envelope/MPI_Type_get_contents
 * (contiguous, vector, hvector, indexed, hindexed, indexed_block, hindexed_block,
 * subarray, darray, struct, resized, dup, and nestings of them; named types are one
 * block) and is cached on the datatype (an MPI attribute), so a type is flattened once.
 */
#ifndef CNIO_VIEW_H
#define CNIO_VIEW_H

#include "cnio.h"
#include "common.h"

struct cnio_flat {
    int64_t n;            /* number of blocks */
    int64_t *off;         /* byte displacement of each block */
    int64_t *len;         /* bytes of each block (> 0) */
    int64_t size;         /* MPI_Type_size: sum of len */
    int64_t lb, extent;   /* MPI_Type_get_extent_x */
};

/*
 * The flattened form of datatype, cached: the returned pointer stays valid until the
 * datatype is freed (the cache entry is released with it) and must not be freed by the
 * caller. Returns 0, -CNIO_ERR_NOMEM, -CNIO_ERR_MPI, -CNIO_ERR_INVAL (MPI_DATATYPE_NULL),
 * -CNIO_ERR_OVERFLOW (displacements beyond int64), or -CNIO_ERR_NOTSUP for a combiner
 * it cannot walk.
 */
int cnio__flat_get(MPI_Datatype datatype, const struct cnio_flat **out);
/* 1 when t is a predefined (named) datatype, which is never freed; else 0. */
int cnio__type_is_named(MPI_Datatype t);

/* A file view: displacement, etype, filetype (flattened), as MPI_File_set_view sets them. */
struct cnio_view {
    MPI_Offset disp;
    MPI_Datatype etype, filetype;   /* duplicated handles, owned by the view */
    int64_t etype_size;
    const struct cnio_flat *ft;     /* flattened filetype */
    int64_t *pos;                   /* pos[j]: data bytes of ft before block j (ft->n + 1
                                     * entries), owned by the view */
    int overlap;                    /* ft's data reaches past its extent: tiled instances
                                     * would overlap, only the first may be accessed */
};

/* The default view: disp 0, etype = filetype = MPI_BYTE. v's previous contents are
 * ignored. 0, -CNIO_ERR_NOMEM, -CNIO_ERR_MPI. */
int cnio__view_init(struct cnio_view *v);
/* Validates and sets a view (etype size must divide the filetype's size; filetype blocks
 * must have non-decreasing, non-overlapping displacements and non-negative offsets after
 * disp, as MPI-IO requires; disp >= 0). A filetype of size 0 is a view that holds no
 * data, and its extent may then be anything. A filetype whose data reaches past its
 * extent is accepted, but then cnio__view_map refuses (-CNIO_ERR_NOTSUP) an access beyond
 * its first instance. On error v is left as it was. v must hold a view
 * (cnio__view_init). 0, -CNIO_ERR_INVAL, -CNIO_ERR_NOTSUP, -CNIO_ERR_NOMEM. */
int cnio__view_set(struct cnio_view *v, MPI_Offset disp, MPI_Datatype etype,
                   MPI_Datatype filetype);
/* 1 when t may be used in an access: predefined, or derived and committed (MPI-3.1 4.1.9;
 * as MPI_Pack finds it, under MPI_ERRORS_RETURN on comm for that one call); else 0. */
int cnio__view_committed(MPI_Comm comm, MPI_Datatype t);
void cnio__view_free(struct cnio_view *v);

/* One contiguous extent of a transfer in the file (absolute byte offset). */
struct cnio_extent {
    int64_t off;
    int64_t len;
};

/*
 * Maps a data access of nbytes starting at `offset` etypes into the view to the list of
 * file extents it touches, in data-stream order (the order of the bytes in the packed
 * user buffer); adjacent extents are merged. *out is malloc'ed (free it); *n its length.
 * 0, -CNIO_ERR_NOMEM, -CNIO_ERR_OVERFLOW, -CNIO_ERR_INVAL (negative offset or nbytes).
 * nbytes 0, or any nbytes through a view that holds no data (MPI-3.1 13.3: the view's
 * data is its filetype's, here none), gives *n = 0 and *out = NULL.
 */
int cnio__view_map(const struct cnio_view *v, MPI_Offset offset, int64_t nbytes,
                   struct cnio_extent **out, int64_t *n);

#endif /* CNIO_VIEW_H */
