/*
 * mpiio_file.c - MPI_File_open/close/delete on cnio:// names, and the calls about the
 * file as a whole: size, preallocate, sync, info, amode, group, atomicity.
 *
 * Beside the collective layer's handle, a cnio file opened through MPI-IO holds an MPI
 * RMA window of one int64 on rank 0: the shared file pointer, which ranks move with
 * MPI_Fetch_and_op under a shared passive-target lock. The window's exclusive lock is
 * also the atomic-mode mutex (mpiio__lock).
 */
#include "mpiio.h"
#include "client.h"
#include "log.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* The amode bits cnio_file_open acts on; the others are the interposition's business. */
#define MPIIO_MODE_PASSED (MPI_MODE_RDONLY | MPI_MODE_WRONLY | MPI_MODE_RDWR | \
                           MPI_MODE_CREATE | MPI_MODE_EXCL | MPI_MODE_DELETE_ON_CLOSE)

/* Creates the shared-pointer window (collective). A failure leaves win NULL: shared
 * pointers and atomic mode then answer MPI_ERR_UNSUPPORTED_OPERATION, the rest works. */
static void mpiio_win_open(struct mpiio_file *m)
{
    MPI_Comm comm = m->fh->comm;
    int64_t zero = 0;
    int rc = 0, code;

    m->win = MPI_WIN_NULL;
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    code = MPI_Win_allocate(m->fh->rank == 0 ? (MPI_Aint)sizeof(int64_t) : 0, sizeof(int64_t),
                            MPI_INFO_NULL, comm, &m->win_base, &m->win);
    if (code != MPI_SUCCESS) {
        m->win = MPI_WIN_NULL;
        m->win_err = code;
        rc = -CNIO_ERR_NOTSUP;
    }
    if (rc == 0) {
        MPI_Win_set_errhandler(m->win, MPI_ERRORS_RETURN);
        if (m->fh->rank == 0 && (MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, m->win) != MPI_SUCCESS ||
                                 MPI_Put(&zero, 1, MPI_INT64_T, 0, 0, 1, MPI_INT64_T,
                                         m->win) != MPI_SUCCESS ||
                                 MPI_Win_unlock(0, m->win) != MPI_SUCCESS))
            rc = -CNIO_ERR_MPI;
    }
    if (cnio__coll_agree(comm, rc) != 0 && m->win != MPI_WIN_NULL)
        MPI_Win_free(&m->win);
}

/* This process said mpiio_nowin_say's line (once, whichever file). */
static atomic_int mpiio_nowin_said;

/* Says, once per process, why call is refused on m and the way out. */
static void mpiio_nowin_say(struct mpiio_file *m, const char *call)
{
    char why[MPI_MAX_ERROR_STRING];
    int len = 0;

    if (m->win_err == MPI_SUCCESS || MPI_Error_string(m->win_err, why, &len) != MPI_SUCCESS)
        len = 0;   /* (made, then freed: another rank could not set it up) */
    why[len] = '\0';
    if (!atomic_exchange(&mpiio_nowin_said, 1))
        cnio__err("%s: %s: not supported without an MPI one-sided window over the "
                  "file's ranks, which the MPI library could not create "
                  "(MPI_Win_allocate: %s): across nodes, give the MPI library an RMA "
                  "transport (Open MPI: mpirun --mca osc ucx; or --mca osc pt2pt, for a "
                  "program that does not ask for MPI_THREAD_MULTIPLE)", m->fh->uri, call,
                  len ? why : "failed");
}

/*
 * Shared file pointers and atomic mode without a window. Across nodes Open MPI 4.1 over
 * TCP (pml ob1) makes no window by default, and the program only saw "cnio: not
 * supported", although mpirun --mca osc ucx makes one. Said once per job, by rank 0:
 * each rank said it, and an independent MPI_File_write_shared on N ranks gave N lines.
 * A rank other than 0 cannot know whether rank 0 has said it (there is no window to
 * ask through), so it says nothing on stderr itself; its error's MPI_Error_string gives
 * the reason (MPIIO_ERR_NOWIN), and the close, collective, has rank 0 say the line if
 * it was not said (mpiio__nowin_close).
 */
int mpiio__nowin(struct mpiio_file *m, const char *call)
{
    if (m->fh->rank == 0)
        mpiio_nowin_say(m, call);
    else
        m->nowin_refused = 1;
    return MPIIO_ERR_NOWIN;
}

void mpiio__nowin_close(struct mpiio_file *m)
{
    int any = 0;

    if (MPI_Allreduce(&m->nowin_refused, &any, 1, MPI_INT, MPI_MAX, m->fh->comm) !=
        MPI_SUCCESS)
        return;
    if (any && m->fh->rank == 0)
        mpiio_nowin_say(m, "shared file pointers (on a rank other than 0)");
}

int mpiio__shared_add(struct mpiio_file *m, int64_t n, int64_t *old)
{
    int rc = 0;

    if (m->win == MPI_WIN_NULL)
        return mpiio__nowin(m, "shared file pointers");
    if (MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, m->win) != MPI_SUCCESS)
        return -CNIO_ERR_MPI;
    if (MPI_Fetch_and_op(&n, old, MPI_INT64_T, 0, 0, n ? MPI_SUM : MPI_NO_OP, m->win) !=
        MPI_SUCCESS)
        rc = -CNIO_ERR_MPI;
    if (MPI_Win_unlock(0, m->win) != MPI_SUCCESS)
        rc = -CNIO_ERR_MPI;
    return rc;
}

int mpiio__shared_set(struct mpiio_file *m, int64_t v)
{
    int rc = 0;

    if (m->win == MPI_WIN_NULL)
        return cnio__coll_agree(m->fh->comm, 0);
    /* Every rank's earlier shared-pointer accesses are complete before rank 0 writes. */
    rc = cnio__coll_agree(m->fh->comm, v < 0 ? -CNIO_ERR_INVAL : 0);
    if (rc == 0 && m->fh->rank == 0) {
        if (MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, m->win) != MPI_SUCCESS)
            rc = -CNIO_ERR_MPI;
        else if (MPI_Put(&v, 1, MPI_INT64_T, 0, 0, 1, MPI_INT64_T, m->win) != MPI_SUCCESS)
            rc = -CNIO_ERR_MPI;
        if (MPI_Win_unlock(0, m->win) != MPI_SUCCESS)
            rc = -CNIO_ERR_MPI;
    }
    return cnio__coll_agree(m->fh->comm, rc);
}

/*
 * The atomic-mode mutex: the window's exclusive lock on rank 0, held around one
 * independent access. An exclusive lock epoch excludes every other lock epoch on the same
 * target, so conflicting accesses by the file's ranks are serialized. A no-op fetch
 * inside makes the lock be taken now even by an implementation that takes locks lazily.
 */
int mpiio__lock(struct mpiio_file *m)
{
    int64_t dummy = 0, out;

    if (!m->atomic)
        return 0;
    if (MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, m->win) != MPI_SUCCESS)
        return -CNIO_ERR_MPI;
    if (MPI_Fetch_and_op(&dummy, &out, MPI_INT64_T, 0, 0, MPI_NO_OP, m->win) != MPI_SUCCESS ||
        MPI_Win_flush(0, m->win) != MPI_SUCCESS) {
        MPI_Win_unlock(0, m->win);
        return -CNIO_ERR_MPI;
    }
    return 0;
}

void mpiio__unlock(struct mpiio_file *m)
{
    if (m->atomic)
        MPI_Win_unlock(0, m->win);
}

static int mpiio_amode_check(int amode)
{
    if ((amode & MPI_MODE_SEQUENTIAL) && (amode & MPI_MODE_RDWR))
        return -CNIO_ERR_AMODE;
    return 0;
}


/* 1 when the hints of an open of name (info, the environment, the configuration) ask
 * for cnio_resume. */
static int mpiio_resuming(const char *name, MPI_Info info)
{
    struct cnio_uri u;
    struct cnio_hints h;
    int on;

    if (cnio__uri_parse(name, &u))
        return 0;
    on = cnio__coll_hints(&u, info, &h, 0) == 0 && h.resume;   /* (the open says what is bad) */
    cnio__uri_free(&u);
    return on;
}

/*
 * A resumed upload is committed at close as the job leaves it, and nothing in it says how
 * much its interrupted writer meant to write: a program that resumed and closed without
 * writing everything again committed a half-written file as the whole, with success.
 * Rank 0 says what it resumed, so that the user sees it at the open.
 */
static void mpiio_resumed_say(cnio_file_t *fh, const char *name)
{
    MPI_Offset size = 0;

    if (fh->rank != 0 || cnio_file_get_size(fh, &size) != 0)
        return;
    cnio__warn("%s: resumed an interrupted upload of it (%lld bytes, hint cnio_resume=true): "
               "the close commits it as this job leaves it, with the interrupted writer's "
               "bytes wherever this job does not write", name, (long long)size);
}

/* MPI_MODE_APPEND: both file pointers start at the end (the default view counts bytes). */
static int mpiio_append(struct mpiio_file *m)
{
    MPI_Offset size = 0;
    int rc = 0;

    if (m->fh->rank == 0)
        rc = cnio_file_get_size(m->fh, &size);
    rc = cnio__coll_agree(m->fh->comm, rc);
    if (rc == 0 && MPI_Bcast(&size, 1, MPI_OFFSET, 0, m->fh->comm) != MPI_SUCCESS)
        rc = -CNIO_ERR_MPI;
    if (rc == 0)
        m->ptr = size;
    if (rc == 0 && m->win != MPI_WIN_NULL)
        rc = mpiio__shared_set(m, size);
    return rc;
}

/*
 * Whether the ranks of comm all named cnio:// objects, or all other files, as one
 * collective open must (MPI-3.1, 13.2.1: the same file): 0, or MPI_ERR_NOT_SAME on every
 * rank, rank 0 saying so. Mixed, the cnio ranks waited in cnio_file_open's collectives
 * while the others were in Open MPI's own open, and the job hung. (An intercommunicator,
 * or a comm MPI refuses, is left to the open to refuse.)
 */
static int mpiio_open_same_kind(MPI_Comm comm, const char *name, int is_cnio)
{
    int in[2] = { is_cnio, !is_cnio }, out[2], inter = 1, me = -1;

    if (comm == MPI_COMM_NULL || PMPI_Comm_test_inter(comm, &inter) != MPI_SUCCESS || inter ||
        PMPI_Allreduce(in, out, 2, MPI_INT, MPI_MAX, comm) != MPI_SUCCESS)
        return MPI_SUCCESS;
    if (!out[0] || !out[1])
        return MPI_SUCCESS;
    if (PMPI_Comm_rank(comm, &me) == MPI_SUCCESS && me == 0)
        cnio__err("MPI_File_open: the ranks named cnio:// objects and other files in one "
                  "collective open (rank 0: %s), which MPI-3.1 requires to name the same "
                  "file on every rank: nothing opened", name ? name : "(null)");
    return MPI_ERR_NOT_SAME;
}

MPIIO_API int MPI_File_open(MPI_Comm comm, const char *name, int amode, MPI_Info info,
                            MPI_File *fh)
{
    struct mpiio_file *m;
    int rc, registered = 0, me = -1, inter = 1, is_cnio = name && cnio__uri_is_cnio(name);
    unsigned said;

    rc = mpiio_open_same_kind(comm, name, is_cnio);
    if (rc != MPI_SUCCESS) {
        if (fh)
            *fh = MPI_FILE_NULL;
        return mpiio__raise(NULL, rc);
    }
    if (!is_cnio)
        return PMPI_File_open(comm, name, amode, info, fh);
    if (!fh)
        return mpiio__raise(NULL, MPI_ERR_ARG);
    if (comm == MPI_COMM_NULL || PMPI_Comm_test_inter(comm, &inter) != MPI_SUCCESS || inter) {
        *fh = MPI_FILE_NULL;   /* as OMPIO and ROMIO answer: it hung */
        return mpiio__raise(NULL, MPI_ERR_COMM);
    }
    *fh = MPI_FILE_NULL;
    m = calloc(1, sizeof(*m));
    if (!m)
        return mpiio__err(NULL, -CNIO_ERR_NOMEM);
    m->amode = amode;
    m->eh = MPI_ERRHANDLER_NULL;
    rc = mpiio_amode_check(amode);
    if (rc == 0 && (amode & ~(MPIIO_MODE_PASSED | MPI_MODE_APPEND | MPI_MODE_UNIQUE_OPEN |
                              MPI_MODE_SEQUENTIAL)))
        rc = -CNIO_ERR_AMODE;
    /* Every rank opens, even when its amode is bad, so that all agree in the open. */
    said = cnio__log_errors();
    rc = cnio_file_open(comm, name, rc ? -1 : amode & MPIIO_MODE_PASSED, info, &m->fh);
    /* a directory's name: the library leaves it to its caller to say (cnio cp copies
     * into it); MPI_ERR_BAD_FILE alone would not say why */
    if (rc == -CNIO_ERR_ISDIR && !cnio__log_said_since(said, "directory") &&
        MPI_Comm_rank(comm, &me) == MPI_SUCCESS && me == 0)
        cnio__err("%s: is a directory, not a file", name);
    /* a resume with nothing to resume: the library leaves that to its caller too (cp
     * then copies afresh); MPI_ERR_NO_SUCH_FILE alone would read as a missing object */
    if (rc == -CNIO_ERR_NOENT && (amode & (MPI_MODE_WRONLY | MPI_MODE_RDWR)) &&
        mpiio_resuming(name, info) && MPI_Comm_rank(comm, &me) == MPI_SUCCESS && me == 0)
        cnio__err("%s: no interrupted upload of it to resume (hint cnio_resume=true; "
                  "open it without that hint to write it afresh)", name);
    if (rc) {
        free(m);
        return mpiio__err(NULL, rc);
    }
    if ((amode & (MPI_MODE_WRONLY | MPI_MODE_RDWR)) && mpiio_resuming(name, info))
        mpiio_resumed_say(m->fh, name);
    mpiio_win_open(m);
    if (amode & MPI_MODE_APPEND)
        rc = mpiio_append(m);
    if (rc == 0)
        rc = mpiio__eh_default(&m->eh) == MPI_SUCCESS ? 0 : -CNIO_ERR_MPI;
    if (rc == 0) {
        registered = mpiio__register(m);
        rc = cnio__coll_agree(m->fh->comm, registered);
        registered = registered == 0;
    }
    if (rc) {
        if (m->win != MPI_WIN_NULL)
            MPI_Win_free(&m->win);
        cnio_file_close(&m->fh);
        mpiio__eh_release(&m->eh);
        if (!registered)        /* else it stays, dead, like a closed file's */
            free(m);
        return mpiio__err(NULL, rc);
    }
    *fh = mpiio__handle(m);
    return MPI_SUCCESS;
}

MPIIO_API int MPI_File_close(MPI_File *fh)
{
    struct mpiio_file *m = fh ? mpiio__lookup(*fh) : NULL;
    int rc, code;

    if (!m)
        return PMPI_File_close(fh);
    if (!m->fh)
        return mpiio__raise(m, MPI_ERR_FILE);
    if (m->win != MPI_WIN_NULL)
        MPI_Win_free(&m->win);
    else   /* (the same on every rank: the open made it or not) */
        mpiio__nowin_close(m);
    rc = cnio_file_close(&m->fh);
    mpiio__lost_forget(m);
    code = mpiio__err(m, rc);
    mpiio__eh_release(&m->eh);
    *fh = MPI_FILE_NULL;
    return code;
}

MPIIO_API int MPI_File_delete(const char *name, MPI_Info info)
{
    if (!cnio__uri_is_cnio(name))
        return PMPI_File_delete(name, info);
    return mpiio__err(NULL, cnio_file_delete(name, info));
}

MPIIO_API int MPI_File_get_size(MPI_File f, MPI_Offset *size)
{
    MPIIO_ENTER(m, f, PMPI_File_get_size(f, size));
    return mpiio__err(m, cnio_file_get_size(m->fh, size));
}

MPIIO_API int MPI_File_set_size(MPI_File f, MPI_Offset size)
{
    MPIIO_ENTER(m, f, PMPI_File_set_size(f, size));
    if (m->amode & MPI_MODE_SEQUENTIAL)
        return mpiio__raise(m, MPI_ERR_UNSUPPORTED_OPERATION);
    if (m->amode & MPI_MODE_RDONLY)
        return mpiio__err(m, MPIIO_ERR_READ_ONLY);
    return mpiio__err(m, cnio_file_set_size(m->fh, size));
}

/*
 * Rank 0 asks every host to grow the object to size bytes if it is smaller and to
 * allocate storage for its part of the first size bytes (cnio__obj_preallocate). On
 * every rank: 0, 1 when a host's server cannot (the caller sets the size alone), or the
 * error (-CNIO_ERR_NOSPC: a host has no room). Collective.
 */
static int mpiio_allocate(struct mpiio_file *m, MPI_Offset size)
{
    int rc = 1;   /* (the other ranks' part in the minimum: rank 0's outcome) */

    if (m->fh->rank == 0) {
        cnio__file_lock(m->fh);
        rc = cnio__obj_preallocate(cnio__file_obj(m->fh), (uint64_t)size);
        cnio__file_unlock(m->fh);
    }
    return cnio__coll_agree(m->fh->comm, rc);
}

/* Collective (MPI-3.1 13.2.5): storage is allocated for the first size bytes on every
 * host, and the object grows to size bytes if it is smaller (what lies beyond the old
 * end reads as zeros); with servers that cannot allocate, the size alone. */
MPIIO_API int MPI_File_preallocate(MPI_File f, MPI_Offset size)
{
    MPI_Offset cur = 0;
    int rc = 0;

    MPIIO_ENTER(m, f, PMPI_File_preallocate(f, size));
    if (m->amode & MPI_MODE_SEQUENTIAL)
        return mpiio__raise(m, MPI_ERR_UNSUPPORTED_OPERATION);
    if (m->amode & MPI_MODE_RDONLY)
        return mpiio__err(m, MPIIO_ERR_READ_ONLY);
    if (size < 0)
        rc = -CNIO_ERR_INVAL;
    rc = cnio__coll_agree(m->fh->comm, rc);
    /* before cur < size is judged: ranks of different sizes would not all set it */
    if (rc == 0)
        rc = cnio__coll_same(m->fh->comm, (int64_t)size, "MPI_File_preallocate");
    if (rc == 0) {
        rc = mpiio_allocate(m, size);
        if (rc != 1)
            return mpiio__err(m, rc);
        rc = 0;
    }
    if (rc == 0 && m->fh->rank == 0)
        rc = cnio_file_get_size(m->fh, &cur);
    rc = cnio__coll_agree(m->fh->comm, rc);
    if (rc == 0 && MPI_Bcast(&cur, 1, MPI_OFFSET, 0, m->fh->comm) != MPI_SUCCESS)
        rc = -CNIO_ERR_MPI;
    if (rc == 0 && cur < size)
        rc = cnio_file_set_size(m->fh, size);
    return mpiio__err(m, rc);
}

MPIIO_API int MPI_File_sync(MPI_File f)
{
    MPIIO_ENTER(m, f, PMPI_File_sync(f));
    return mpiio__err(m, cnio_file_sync(m->fh));
}

MPIIO_API int MPI_File_get_info(MPI_File f, MPI_Info *info_used)
{
    MPIIO_ENTER(m, f, PMPI_File_get_info(f, info_used));
    return mpiio__err(m, cnio_file_get_info(m->fh, info_used));
}

MPIIO_API int MPI_File_set_info(MPI_File f, MPI_Info info)
{
    MPIIO_ENTER(m, f, PMPI_File_set_info(f, info));
    return mpiio__err(m, cnio_file_set_info(m->fh, info));
}

MPIIO_API int MPI_File_get_amode(MPI_File f, int *amode)
{
    MPIIO_ENTER(m, f, PMPI_File_get_amode(f, amode));
    if (!amode)
        return mpiio__raise(m, MPI_ERR_ARG);
    *amode = m->amode;
    return MPI_SUCCESS;
}

MPIIO_API int MPI_File_get_group(MPI_File f, MPI_Group *group)
{
    MPIIO_ENTER(m, f, PMPI_File_get_group(f, group));
    if (!group)
        return mpiio__raise(m, MPI_ERR_ARG);
    return mpiio__err(m, MPI_Comm_group(m->fh->comm, group) == MPI_SUCCESS ? 0 : -CNIO_ERR_MPI);
}

MPIIO_API int MPI_File_get_atomicity(MPI_File f, int *flag)
{
    MPIIO_ENTER(m, f, PMPI_File_get_atomicity(f, flag));
    if (!flag)
        return mpiio__raise(m, MPI_ERR_ARG);
    *flag = m->atomic;
    return MPI_SUCCESS;
}

/* Collective; every rank must pass the same flag. Switching waits for every rank, so no
 * access of the old mode overlaps one of the new. */
MPIIO_API int MPI_File_set_atomicity(MPI_File f, int flag)
{
    int rc;

    MPIIO_ENTER(m, f, PMPI_File_set_atomicity(f, flag));
    rc = cnio__coll_same(m->fh->comm, !!flag, "MPI_File_set_atomicity");
    if (rc == 0 && flag && m->win == MPI_WIN_NULL)
        rc = mpiio__nowin(m, "atomic mode (MPI_File_set_atomicity)");
    if (rc == 0) {
        m->atomic = !!flag;
        cnio__file_lock(m->fh);
        m->fh->rcache.disabled = m->atomic;   /* every read sees the others' writes at once */
        cnio__rcache_drop(m->fh);
        cnio__file_unlock(m->fh);
    }
    return mpiio__err(m, rc);
}
