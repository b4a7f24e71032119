/*
 * hdf5_fapl.c - H5Pset_fapl_cnio (include/cnio_hdf5.h): HDF5's MPI-IO driver over the
 * MPI-IO interposition that libcnio_hdf5.so carries (the mpiio*.c sources, built in).
 *
 * HDF5 1.10.8 keeps its MPI-IO driver's class private (no public H5FD_mpio_* callbacks
 * to wrap) and calls MPI_File_* through the dynamic linker like any other caller, so
 * the interposition linked ahead of libmpi is what makes cnio names work (doc/hdf5.md).
 * The one thing that can go wrong is the link order; it is checked here, once, so that
 * a misordered program fails at H5Pset_fapl_cnio with a message instead of creating a
 * local file named "cnio:".
 */
#include "cnio_hdf5.h"
#include "log.h"

#include <dlfcn.h>
#include <string.h>

#define H5FD_API __attribute__((visibility("default")))

/* 1 when the MPI_File_open the program's libraries bind to is cnio's: this library's
 * own, or a preloaded libcnio_mpiio.so. */
static int h5fd_interposed(void)
{
    void *open = dlsym(RTLD_DEFAULT, "MPI_File_open");
    Dl_info mine, bound;

    if (!open || !dladdr((void *)h5fd_interposed, &mine) || !dladdr(open, &bound) ||
        !mine.dli_fname || !bound.dli_fname)
        return 0;
    return !strcmp(mine.dli_fname, bound.dli_fname) || strstr(bound.dli_fname, "libcnio_mpiio");
}

H5FD_API herr_t H5Pset_fapl_cnio(hid_t fapl_id, MPI_Comm comm, MPI_Info info)
{
    if (!h5fd_interposed()) {
        cnio__err("H5Pset_fapl_cnio: MPI_File_* resolve to the MPI library, not to cnio: "
                  "link with `pkg-config --libs cnio-hdf5` before the MPI library "
                  "(or run the program under `cnio run`)");
        return -1;
    }
    return H5Pset_fapl_mpio(fapl_id, comm, info);
}
