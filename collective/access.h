/*
 * access.h - one rank's side of a data access: where its bytes go in the file (extents
 * through the view, in stream order) and where they are in memory (the "stream": the
 * user's buffer when it is contiguous, else one packed copy).
 */
#ifndef CNIO_ACCESS_H
#define CNIO_ACCESS_H

#include "coll.h"
#include "view.h"

struct coll_access {
    int write;
    int64_t nbytes;                 /* bytes in the stream */
    struct cnio_extent *ext;        /* file extents in stream order (sorted, disjoint) */
    int64_t next;
    char *stream;                   /* nbytes of data in stream order */
    char *packed;                   /* owned copy when memory is not contiguous, else NULL */
    void *user;                     /* the caller's buffer */
    int count;
    const struct cnio_flat *mem;    /* flattened memory datatype */
};

/*
 * Maps (offset, count, datatype) through fh's view. For writes, packs a non-contiguous
 * memory layout into one stream copy; for reads, prepares a stream to unpack later.
 * 0 or a negative CNIO_ERR_*; on error nothing is left allocated.
 */
int cnio__access_init(cnio_file_t *fh, MPI_Offset offset, const void *buf, int count,
                      MPI_Datatype datatype, int write, struct coll_access *a);
/* Reads: copies the stream's first nread bytes (those before the object's end) into the
 * caller's memory layout, which keeps its bytes past them (no-op when contiguous). */
void cnio__access_unpack(struct coll_access *a, int64_t nread);
void cnio__access_free(struct coll_access *a);
/* Moves the whole access directly between this rank and the servers (no aggregation).
 * Reads (end_out not NULL) leave the stream past the object's end as it was, and
 * *end_out receives that end as far as the access reaches (cnio__obj_readx_eof). */
int cnio__access_direct(cnio_file_t *fh, struct coll_access *a, uint64_t *end_out);

/* A small independent read on a read-only handle, from the handle's cached block
 * (rcache.c): 0 done (*end_out as cnio__access_direct gives it), a negative code, or 1
 * when the read is not the cache's (then cnio__access_direct). */
int cnio__rcache_read(cnio_file_t *fh, struct coll_access *a, uint64_t *end_out);

/* Bytes of the stream that lie before file offset eof (a read's element count). */
int64_t cnio__access_bytes_before(const struct coll_access *a, uint64_t eof);

#endif /* CNIO_ACCESS_H */
