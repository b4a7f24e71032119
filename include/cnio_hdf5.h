/*
 * cnio_hdf5.h - parallel HDF5 files on cnio:// names, without a preload.
 *
 *   hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
 *   H5Pset_fapl_cnio(fapl, MPI_COMM_WORLD, MPI_INFO_NULL);
 *   hid_t f = H5Fcreate("cnio://h1,h2/run/out.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
 *
 * Build: mpicc app.c $(pkg-config --cflags --libs cnio-hdf5). libcnio_hdf5 carries
 * cnio's MPI-IO interposition: HDF5's own MPI-IO driver runs on top of it, and its
 * MPI_File_* calls on cnio:// names reach cnio because libcnio_hdf5 comes before the
 * MPI library in the program's link line (pkg-config's order; mpicc adds -lmpi last).
 * Everything HDF5's MPI-IO driver offers works as it does on a local file: independent
 * and collective raw data (H5Pset_dxpl_mpio), collective metadata
 * (H5Pset_all_coll_metadata_ops, H5Pset_coll_metadata_write), hints in info (ROMIO's
 * and cnio_*). doc/hdf5.md says why this mechanism rather than a driver class of its own.
 */
#ifndef CNIO_HDF5_H
#define CNIO_HDF5_H

#include <hdf5.h>
#include <mpi.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Sets fapl_id to access files through cnio: HDF5's MPI-IO driver (H5Pset_fapl_mpio)
 * with communicator comm (duplicated by HDF5) and info (copied; MPI_INFO_NULL for none),
 * over cnio's interposition. Files opened with fapl_id may have cnio:// names (see the
 * README for URIs and hints) or local names (those go to the MPI library unchanged).
 * Collective: every rank of comm that opens the file must use the same settings.
 *
 * Returns a non-negative value on success; a negative value when fapl_id is not a file
 * access property list or comm is invalid (HDF5's own error, on its error stack), or
 * when the program's MPI_File_* calls would not reach cnio because the MPI library was
 * linked before libcnio_hdf5 (a message on stderr names the fix: link with
 * `pkg-config --libs cnio-hdf5` ahead of the MPI library, or run under `cnio run`).
 */
herr_t H5Pset_fapl_cnio(hid_t fapl_id, MPI_Comm comm, MPI_Info info);

#ifdef __cplusplus
}
#endif

#endif /* CNIO_HDF5_H */
