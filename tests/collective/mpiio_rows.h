/*
 * mpiio_rows.h - the rows of check_mpiio's table (mpiio_rows_file.c: files as a whole,
 * error handlers; mpiio_rows_data.c: data access) and the helpers they share.
 */
#ifndef CNIO_TEST_MPIIO_ROWS_H
#define CNIO_TEST_MPIIO_ROWS_H

#include "fixture.h"
#include "mpiio_class.h"

#include <mpi.h>
#include <stdarg.h>

struct rctx {
    const char *row;
    char out[512];      /* what this rank saw, compared across targets */
};

struct row {
    const char *name;
    int same;           /* 1: the result must be the same on every target */
    void (*fn)(struct rctx *c);
};

extern int rk, nr, is_cnio, failures;

/* The name of this row's file (suffix may be NULL). */
void rname(const char *row, const char *suffix, char *buf, size_t cap);
/* Appends to the row's result. */
void rout(struct rctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A check of what cnio's documentation promises: counts a failure when !ok. */
void rcheck(struct rctx *c, int ok, const char *what);
/* sync, barrier, sync. */
void rsync(MPI_File fh);

void row_open_close(struct rctx *c);
void row_open_errors(struct rctx *c);
void row_excl_live(struct rctx *c);
void row_delete(struct rctx *c);
void row_delete_open(struct rctx *c);
void row_delete_on_close_beside(struct rctx *c);
void row_delete_on_close(struct rctx *c);
void row_append(struct rctx *c);
void row_wrong_access(struct rctx *c);
void row_sizes(struct rctx *c);
void row_info(struct rctx *c);
void row_errhandler(struct rctx *c);
void row_fortran(struct rctx *c);
void row_sequential(struct rctx *c);
void row_datarep(struct rctx *c);
void row_stale(struct rctx *c);
void row_explicit(struct rctx *c);
void row_explicit_all(struct rctx *c);
void row_view(struct rctx *c);
void row_bottom(struct rctx *c);
void row_byte_offset(struct rctx *c);
void row_empty_view(struct rctx *c);
void row_individual(struct rctx *c);
void row_shared(struct rctx *c);
void row_ordered(struct rctx *c);
void row_split(struct rctx *c);
void row_nonblocking(struct rctx *c);
void row_atomicity(struct rctx *c);

#endif /* CNIO_TEST_MPIIO_ROWS_H */
