/*
 * mpiio.h - the MPI-IO interposition library's private header (libcnio_mpiio.so).
 *
 * The library defines MPI_File_* (the profiling interface lets it): calls on files it
 * opened on a cnio:// name go to the collective layer, everything else to PMPI_File_*
 * untouched. The MPI_File values it hands out are pointers to struct mpiio_file, kept in
 * a registry and looked up on every call; Open MPI never sees them. doc/mpiio.md has the
 * coverage table and the semantics.
 */
#ifndef CNIO_MPIIO_H
#define CNIO_MPIIO_H

#include "coll.h"

#define MPIIO_API __attribute__((visibility("default")))

/* Fortran handles of cnio files: MPIIO_FINT_BASE + registry slot. Open MPI's are indices
 * into its own table, which starts at 0 and never reaches 2^30 in a real program. */
#define MPIIO_FINT_BASE 0x40000000

/* A pending split collective (one per file, as the standard allows). */
struct mpiio_split {
    int active;
    int rc;
    MPI_Status status;
};

struct mpiio_file {
    uint32_t magic;
    int slot;                   /* registry slot: Fortran handle MPIIO_FINT_BASE + slot */
    cnio_file_t *fh;
    int amode;                  /* as the caller gave it */
    int atomic;
    MPI_Errhandler eh;          /* a reference we hold */
    MPI_Offset ptr;             /* individual file pointer, in etypes of the view */
    MPI_Win win;                /* on rank 0: the shared file pointer (int64, etypes) */
    int64_t *win_base;          /* and its exclusive lock is the atomic-mode mutex */
    int win_err;                /* MPI_Win_allocate's error code when win is MPI_WIN_NULL */
    int nowin_refused;          /* a call was refused for want of it here (mpiio__nowin) */
    struct mpiio_split split;
};

/* The struct behind f when f is a cnio file (open, or closed: then fh is NULL), else NULL
 * (f is Open MPI's: pass it on to PMPI_File_*). */
struct mpiio_file *mpiio__lookup(MPI_File f);
/* The start of every MPI_File_* that takes a handle: Open MPI's go to pmpi_call, a
 * closed cnio file gets MPI_ERR_FILE. */
#define MPIIO_ENTER(m, f, pmpi_call)                 \
    struct mpiio_file *m = mpiio__lookup(f);         \
    if (!m)                                          \
        return pmpi_call;                            \
    if (!m->fh)                                      \
        return mpiio__raise(m, MPI_ERR_FILE)
/* Enters a new struct in the registry (sets magic and slot): 0 or a negative CNIO_ERR_*. */
int mpiio__register(struct mpiio_file *m);
static inline MPI_File mpiio__handle(struct mpiio_file *m)
{
    return (MPI_File)(void *)m;
}

/* A write (or a size change) on a file opened MPI_MODE_RDONLY: MPI_ERR_READ_ONLY, as
 * Open MPI and ROMIO answer (the collective layer says CNIO_ERR_AMODE). mpiio__err takes
 * it as it takes a negative CNIO_ERR_*. */
#define MPIIO_ERR_READ_ONLY (-CNIO_ERR_MAX_)
/* A shared-pointer or atomic-mode call on a file without its window (mpiio__nowin):
 * MPI_ERR_UNSUPPORTED_OPERATION, whose MPI_Error_string says why on every rank. */
#define MPIIO_ERR_NOWIN (-CNIO_ERR_MAX_ - 1)

/*
 * Turns a collective-layer result into what MPI_File_* returns: 0 stays MPI_SUCCESS; a
 * negative CNIO_ERR_* (or MPIIO_ERR_READ_ONLY) becomes an error code of the matching MPI class (with cnio's text
 * for MPI_Error_string), and the file's error handler is called with it (m NULL: the one
 * on MPI_FILE_NULL, as for open and delete).
 */
int mpiio__err(struct mpiio_file *m, int rc);
/* m's call failed with rc: when a server is out of reach (CNIO_ERR_CONN, _REFUSED,
 * _UNREACH, _TIMEOUT) or no longer knows the open (_STALE), m is watched, and the job
 * aborted if m is still open cnio_lost_abort_ms later (mpiio_lost.c). */
void mpiio__lost(const struct mpiio_file *m, int rc);
/* m is closed: no longer watched. */
void mpiio__lost_forget(const struct mpiio_file *m);
/* Calls m's error handler with an MPI error class or code (m NULL: MPI_FILE_NULL's);
 * returns the code. */
int mpiio__raise(struct mpiio_file *m, int mpi_code);
/* A new reference to the handler on MPI_FILE_NULL (a new file's default); releasing one. */
int mpiio__eh_default(MPI_Errhandler *out);
void mpiio__eh_release(MPI_Errhandler *eh);

/* A file without its window (the MPI library could not make it) refuses call: rank 0
 * says so, once per process, naming call, what MPI answered and the way out; another
 * rank notes it for mpiio__nowin_close. Returns MPIIO_ERR_NOWIN. */
int mpiio__nowin(struct mpiio_file *m, const char *call);
/* Collective, at the close of a file without its window: rank 0 says what mpiio__nowin
 * says when another rank was refused and this process has not said it. */
void mpiio__nowin_close(struct mpiio_file *m);
/* Shared file pointer: fetch-and-add n etypes (n 0: read it); *old gets the value before. */
int mpiio__shared_add(struct mpiio_file *m, int64_t n, int64_t *old);
/* Collectively sets the shared file pointer (rank 0 writes, every rank waits). */
int mpiio__shared_set(struct mpiio_file *m, int64_t v);
/* The atomic-mode mutex around one independent access (no-op outside atomic mode). */
int mpiio__lock(struct mpiio_file *m);
void mpiio__unlock(struct mpiio_file *m);

/* Etypes in the view before the end of the object (for MPI_SEEK_END and APPEND). */
int mpiio__eof_etypes(struct mpiio_file *m, int64_t *out);
/* Etypes that count items of datatype make (a data access's pointer advance; 0 through a
 * view that holds no data, which moves none). */
int mpiio__etypes(struct mpiio_file *m, int count, MPI_Datatype datatype, int64_t *out);

/* Which data access: explicit offset, individual or shared pointer; collective or not. */
enum mpiio_pos { MPIIO_AT, MPIIO_IND, MPIIO_SHARED, MPIIO_ORDERED };

/*
 * One data access through the collective layer's own paths (cnio_file_*_at and
 * cnio_file_*_at_all: the same two-phase and direct paths as the native API). For
 * MPIIO_IND and MPIIO_SHARED/ORDERED the offset is taken from (and the pointer advanced
 * past) the access. Returns 0 or a negative CNIO_ERR_*; status as MPI_File_read* sets it.
 */
int mpiio__access(struct mpiio_file *m, enum mpiio_pos pos, int coll, MPI_Offset offset,
                  void *buf, int count, MPI_Datatype datatype, MPI_Status *status, int write);
/* The MPI error (raised on m's handler) for mpiio__access's rc of a call with count and
 * datatype: MPI_ERR_COUNT for a negative count and MPI_ERR_TYPE for MPI_DATATYPE_NULL, as
 * ROMIO and OMPIO answer (MPI-3.1, 8.4), else mpiio__err's class; MPI_SUCCESS for 0. */
int mpiio__access_err(struct mpiio_file *m, int rc, int count, MPI_Datatype datatype);

/* A completed generalized request carrying status (MPI_Wait/MPI_Test return it):
 * MPI_SUCCESS or an MPI error code. */
int mpiio__request(const MPI_Status *status, MPI_Request *req);

#endif /* CNIO_MPIIO_H */
