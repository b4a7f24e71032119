/*
 * mpiio.c - the interposition's handle registry, error codes and file error handlers,
 * and MPI_File_c2f / MPI_File_f2c.
 *
 * Handles: an MPI_File that this library hands out is a pointer to a struct mpiio_file.
 * Every MPI_File_* call first looks its handle up in a pointer hash; only handles found
 * there are cnio files, so none reaches Open MPI's file code, and every other handle
 * (MPI_FILE_NULL included) goes to PMPI_File_* untouched. A closed cnio handle stays in
 * the hash as dead (its struct is kept, a few dozen bytes), so that a stale copy gets
 * MPI_ERR_FILE instead of being passed to Open MPI as if it were one of its own.
 *
 * Errors: each CNIO_ERR_* gets an MPI error code of its class (MPI_Add_error_code) whose
 * MPI_Error_string is cnio's own text, created on first use.
 */
#include "mpiio.h"
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MPIIO_MAGIC 0x636e696fu

static pthread_mutex_t mpiio_lock = PTHREAD_MUTEX_INITIALIZER;

/* Every struct ever handed out, by address (open addressing, linear probing). */
static struct mpiio_file **mpiio_hash;
static size_t mpiio_hcap, mpiio_hcount;
/* By Fortran slot. */
static struct mpiio_file **mpiio_slots;
static int mpiio_nslots, mpiio_capslots;

static size_t mpiio_hash_at(const void *p, size_t cap)
{
    uintptr_t x = (uintptr_t)p;

    x ^= x >> 17;
    x *= 0x9e3779b97f4a7c15ull;
    return (size_t)(x >> 20) & (cap - 1);
}

static int mpiio_hash_put(struct mpiio_file *m)
{
    if ((mpiio_hcount + 1) * 2 > mpiio_hcap) {
        size_t ncap = mpiio_hcap ? mpiio_hcap * 2 : 64;
        struct mpiio_file **n = calloc(ncap, sizeof(*n));

        if (!n)
            return -CNIO_ERR_NOMEM;
        for (size_t i = 0; i < mpiio_hcap; i++) {
            size_t h = 0;

            if (!mpiio_hash[i])
                continue;
            for (h = mpiio_hash_at(mpiio_hash[i], ncap); n[h]; h = (h + 1) & (ncap - 1))
                ;
            n[h] = mpiio_hash[i];
        }
        free(mpiio_hash);
        mpiio_hash = n;
        mpiio_hcap = ncap;
    }
    for (size_t h = mpiio_hash_at(m, mpiio_hcap);; h = (h + 1) & (mpiio_hcap - 1)) {
        if (!mpiio_hash[h]) {
            mpiio_hash[h] = m;
            mpiio_hcount++;
            return 0;
        }
    }
}

struct mpiio_file *mpiio__lookup(MPI_File f)
{
    struct mpiio_file *found = NULL;

    if (f == MPI_FILE_NULL || !f)
        return NULL;
    pthread_mutex_lock(&mpiio_lock);
    if (mpiio_hcap) {
        for (size_t h = mpiio_hash_at(f, mpiio_hcap); mpiio_hash[h];
             h = (h + 1) & (mpiio_hcap - 1)) {
            if ((void *)mpiio_hash[h] == (void *)f) {
                found = mpiio_hash[h];
                break;
            }
        }
    }
    pthread_mutex_unlock(&mpiio_lock);
    return found;
}

/* Enters a new struct in the registry: 0 or -CNIO_ERR_NOMEM. */
int mpiio__register(struct mpiio_file *m)
{
    int rc = 0;

    pthread_mutex_lock(&mpiio_lock);
    if (mpiio_nslots == mpiio_capslots) {
        int ncap = mpiio_capslots ? mpiio_capslots * 2 : 16;
        struct mpiio_file **n = realloc(mpiio_slots, (size_t)ncap * sizeof(*n));

        if (n) {
            mpiio_slots = n;
            mpiio_capslots = ncap;
        } else {
            rc = -CNIO_ERR_NOMEM;
        }
    }
    if (rc == 0 && mpiio_nslots >= (1 << 30) - 1)
        rc = -CNIO_ERR_LIMIT;
    if (rc == 0)
        rc = mpiio_hash_put(m);
    if (rc == 0) {
        m->magic = MPIIO_MAGIC;
        m->slot = mpiio_nslots;
        mpiio_slots[mpiio_nslots++] = m;
    }
    pthread_mutex_unlock(&mpiio_lock);
    return rc;
}

/*
 * Files a program left open are closed before MPI finalizes, the newest first, as Open
 * MPI's own MPI-IO does (the collective layer's MPI_COMM_SELF attribute would close the
 * handles too, but not free their shared-pointer windows).
 */
MPIIO_API int MPI_Finalize(void)
{
    for (;;) {
        struct mpiio_file *m = NULL;
        MPI_File f;

        pthread_mutex_lock(&mpiio_lock);
        for (int i = mpiio_nslots - 1; i >= 0 && !m; i--)
            if (mpiio_slots[i]->fh)
                m = mpiio_slots[i];
        pthread_mutex_unlock(&mpiio_lock);
        if (!m)
            break;
        if (m->fh->rank == 0)
            cnio__warn("%s: still open at MPI_Finalize: closing it", cnio__file_uri(m->fh));
        f = mpiio__handle(m);
        MPI_File_close(&f);
    }
    return PMPI_Finalize();
}

MPIIO_API MPI_Fint MPI_File_c2f(MPI_File f)
{
    struct mpiio_file *m = mpiio__lookup(f);

    return m ? (MPI_Fint)(MPIIO_FINT_BASE + m->slot) : PMPI_File_c2f(f);
}

MPIIO_API MPI_File MPI_File_f2c(MPI_Fint f)
{
    MPI_File out = MPI_FILE_NULL;
    int found = 0;

    if (f >= MPIIO_FINT_BASE) {
        pthread_mutex_lock(&mpiio_lock);
        if (f - MPIIO_FINT_BASE < mpiio_nslots) {
            out = mpiio__handle(mpiio_slots[f - MPIIO_FINT_BASE]);
            found = 1;
        }
        pthread_mutex_unlock(&mpiio_lock);
    }
    return found ? out : PMPI_File_f2c(f);
}

/* ---- error codes ---- */

static const int mpiio_class_of[CNIO_ERR_MAX_ + 2] = {
    [CNIO_ERR_INVAL] = MPI_ERR_ARG,
    [CNIO_ERR_NOMEM] = MPI_ERR_NO_MEM,
    [CNIO_ERR_IO] = MPI_ERR_IO,
    [CNIO_ERR_NOENT] = MPI_ERR_NO_SUCH_FILE,
    [CNIO_ERR_EXIST] = MPI_ERR_FILE_EXISTS,
    [CNIO_ERR_ACCESS] = MPI_ERR_ACCESS,
    [CNIO_ERR_AUTH] = MPI_ERR_ACCESS,
    [CNIO_ERR_TIMEOUT] = MPI_ERR_IO,
    [CNIO_ERR_CONN] = MPI_ERR_IO,
    [CNIO_ERR_PROTO] = MPI_ERR_IO,
    [CNIO_ERR_URI] = MPI_ERR_BAD_FILE,
    [CNIO_ERR_HINT] = MPI_ERR_INFO_VALUE,
    [CNIO_ERR_LIMIT] = MPI_ERR_IO,
    [CNIO_ERR_LAYOUT] = MPI_ERR_IO,
    [CNIO_ERR_RESOLVE] = MPI_ERR_BAD_FILE,
    [CNIO_ERR_KEY] = MPI_ERR_ACCESS,
    [CNIO_ERR_AMODE] = MPI_ERR_AMODE,
    [CNIO_ERR_MPI] = MPI_ERR_OTHER,
    [CNIO_ERR_CHECKSUM] = MPI_ERR_IO,
    [CNIO_ERR_NOSPC] = MPI_ERR_NO_SPACE,
    [CNIO_ERR_NOTSUP] = MPI_ERR_UNSUPPORTED_OPERATION,
    [CNIO_ERR_ISDIR] = MPI_ERR_BAD_FILE,
    [CNIO_ERR_OVERFLOW] = MPI_ERR_ARG,
    [CNIO_ERR_INCOMPLETE] = MPI_ERR_IO,
    [CNIO_ERR_NOT_SAME] = MPI_ERR_NOT_SAME,
    [CNIO_ERR_STALE] = MPI_ERR_IO,
    [CNIO_ERR_REFUSED] = MPI_ERR_IO,
    [CNIO_ERR_UNREACH] = MPI_ERR_IO,
    [-MPIIO_ERR_READ_ONLY] = MPI_ERR_READ_ONLY,
    [-MPIIO_ERR_NOWIN] = MPI_ERR_UNSUPPORTED_OPERATION,
};
/* A new CNIO_ERR_* needs its row above; one without a row would map to MPI_ERR_OTHER. */
_Static_assert(CNIO_ERR_MAX_ == CNIO_ERR_UNREACH + 1, "map every CNIO_ERR_* to an MPI class");

static int mpiio_codes[CNIO_ERR_MAX_ + 2];
static int mpiio_codes_made;

/* The MPI error code for -rc, a CNIO_ERR_*, MPIIO_ERR_READ_ONLY or MPIIO_ERR_NOWIN
 * (created on first use; its class alone if that fails). */
static int mpiio_code(int rc)
{
    int e = -rc;

    if (e <= 0 || e > -MPIIO_ERR_NOWIN)
        return MPI_ERR_OTHER;
    pthread_mutex_lock(&mpiio_lock);
    if (!mpiio_codes_made) {
        char text[MPI_MAX_ERROR_STRING];

        for (int i = 1; i <= -MPIIO_ERR_NOWIN; i++) {
            int cls = mpiio_class_of[i] ? mpiio_class_of[i] : MPI_ERR_OTHER;

            mpiio_codes[i] = cls;
            if (PMPI_Add_error_code(cls, &mpiio_codes[i]) != MPI_SUCCESS) {
                mpiio_codes[i] = cls;
                continue;
            }
            snprintf(text, sizeof(text), "cnio: %s",
                     -i == MPIIO_ERR_READ_ONLY ? "file opened read-only (MPI_MODE_RDONLY)"
                     : -i == MPIIO_ERR_NOWIN
                         ? "not supported without an MPI one-sided window over the file's "
                           "ranks, which the MPI library could not create at the open "
                           "(across nodes: mpirun --mca osc ucx)"
                         : cnio_strerror(-i));
            PMPI_Add_error_string(mpiio_codes[i], text);
        }
        mpiio_codes_made = 1;
    }
    pthread_mutex_unlock(&mpiio_lock);
    return mpiio_codes[e];
}

/* ---- file error handlers ---- */

/* The functions of the handlers MPI_File_create_errhandler made, by handle. */
struct mpiio_ehfn {
    MPI_Errhandler eh;
    MPI_File_errhandler_function *fn;
};
static struct mpiio_ehfn *mpiio_ehfns;
static int mpiio_nehfns;

static MPI_File_errhandler_function *mpiio_eh_fn(MPI_Errhandler eh)
{
    MPI_File_errhandler_function *fn = NULL;

    pthread_mutex_lock(&mpiio_lock);
    for (int i = 0; i < mpiio_nehfns && !fn; i++)
        if (mpiio_ehfns[i].eh == eh)
            fn = mpiio_ehfns[i].fn;
    pthread_mutex_unlock(&mpiio_lock);
    return fn;
}

MPIIO_API int MPI_File_create_errhandler(MPI_File_errhandler_function *fn, MPI_Errhandler *eh)
{
    int rc = PMPI_File_create_errhandler(fn, eh);
    struct mpiio_ehfn *n;
    int i;

    if (rc != MPI_SUCCESS)
        return rc;
    pthread_mutex_lock(&mpiio_lock);
    for (i = 0; i < mpiio_nehfns && mpiio_ehfns[i].eh != *eh; i++)
        ;
    if (i == mpiio_nehfns && (n = realloc(mpiio_ehfns, (size_t)(i + 1) * sizeof(*n)))) {
        mpiio_ehfns = n;
        mpiio_nehfns++;
    }
    if (i < mpiio_nehfns)
        mpiio_ehfns[i] = (struct mpiio_ehfn){ *eh, fn };
    else
        rc = MPI_ERR_NO_MEM;
    pthread_mutex_unlock(&mpiio_lock);
    return rc;
}

/*
 * A reference of our own to eh. Open MPI counts references to a file error handler
 * only through files, so the one object it keeps for all of them, MPI_FILE_NULL, lends
 * its slot: eh is set there and read back (which retains it), then the previous handler
 * is put back.
 */
static int mpiio_eh_retain(MPI_Errhandler eh, MPI_Errhandler *out)
{
    MPI_Errhandler old;
    int rc = PMPI_File_get_errhandler(MPI_FILE_NULL, &old);

    if (rc != MPI_SUCCESS)
        return rc;
    rc = PMPI_File_set_errhandler(MPI_FILE_NULL, eh);
    if (rc == MPI_SUCCESS)
        rc = PMPI_File_get_errhandler(MPI_FILE_NULL, out);
    PMPI_File_set_errhandler(MPI_FILE_NULL, old);
    PMPI_Errhandler_free(&old);
    return rc;
}

int mpiio__eh_default(MPI_Errhandler *out)
{
    return PMPI_File_get_errhandler(MPI_FILE_NULL, out);
}

void mpiio__eh_release(MPI_Errhandler *eh)
{
    if (*eh != MPI_ERRHANDLER_NULL)
        PMPI_Errhandler_free(eh);
    *eh = MPI_ERRHANDLER_NULL;
}

/* Calls handler eh for file h with code, as MPI does: returns code unless it aborts. */
static int mpiio_invoke(MPI_Errhandler eh, MPI_File h, const char *name, int code)
{
    MPI_File_errhandler_function *fn;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;

    if (eh == MPI_ERRORS_RETURN)
        return code;
    if (eh == MPI_ERRORS_ARE_FATAL) {
        PMPI_Error_string(code, text, &len);
        fprintf(stderr, "cnio MPI-IO: error on %s: %s; MPI_ERRORS_ARE_FATAL: aborting\n",
                name, text);
        PMPI_Abort(MPI_COMM_WORLD, code);
        return code;
    }
    fn = mpiio_eh_fn(eh);
    if (fn)
        fn(&h, &code);
    return code;
}

int mpiio__raise(struct mpiio_file *m, int code)
{
    MPI_Errhandler eh;

    if (code == MPI_SUCCESS)
        return code;
    if (m)
        return mpiio_invoke(m->eh, mpiio__handle(m), m->fh ? m->fh->uri : "a closed file",
                            code);
    /* Open MPI's MPI_File_call_errhandler refuses MPI_FILE_NULL: use its handler here. */
    if (PMPI_File_get_errhandler(MPI_FILE_NULL, &eh) != MPI_SUCCESS)
        return code;
    mpiio_invoke(eh, MPI_FILE_NULL, "MPI_FILE_NULL", code);
    PMPI_Errhandler_free(&eh);
    return code;
}

int mpiio__err(struct mpiio_file *m, int rc)
{
    if (rc == 0)
        return MPI_SUCCESS;
    mpiio__lost(m, rc);
    return mpiio__raise(m, mpiio_code(rc));
}

MPIIO_API int MPI_File_set_errhandler(MPI_File f, MPI_Errhandler eh)
{
    struct mpiio_file *m = mpiio__lookup(f);
    MPI_Errhandler mine;
    int rc;

    if (!m)
        return PMPI_File_set_errhandler(f, eh);
    if (eh != MPI_ERRORS_RETURN && eh != MPI_ERRORS_ARE_FATAL && !mpiio_eh_fn(eh))
        return mpiio__raise(m, MPI_ERR_ARG);
    rc = mpiio_eh_retain(eh, &mine);
    if (rc != MPI_SUCCESS)
        return mpiio__raise(m, rc);
    mpiio__eh_release(&m->eh);
    m->eh = mine;
    return MPI_SUCCESS;
}

MPIIO_API int MPI_File_get_errhandler(MPI_File f, MPI_Errhandler *eh)
{
    struct mpiio_file *m = mpiio__lookup(f);

    if (!m)
        return PMPI_File_get_errhandler(f, eh);
    if (!eh)
        return mpiio__raise(m, MPI_ERR_ARG);
    return mpiio_eh_retain(m->eh, eh);
}

MPIIO_API int MPI_File_call_errhandler(MPI_File f, int code)
{
    struct mpiio_file *m = mpiio__lookup(f);

    if (!m)
        return PMPI_File_call_errhandler(f, code);
    mpiio__raise(m, code);
    return MPI_SUCCESS;
}
