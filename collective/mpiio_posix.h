/*
 * mpiio_posix.h - the POSIX calls that MPI-IO clients make on cnio names, beside
 * MPI-IO (part of libcnio_mpiio.so; plain C over cnio's client core, no MPI).
 *
 * mpiio_posix_sym.c defines the libc names (open, stat, access, read, ...) and sends
 * every call whose path is a cnio name, or whose fd was opened here, to the functions
 * below; everything else goes to the next definition (libc) untouched.
 *
 * A path is a cnio name when (rule documented in doc/hdf5.md, "POSIX calls"):
 *  - it starts with "cnio://" (the scheme in any case) and nothing named as its first
 *    5 characters ("cnio:") exists in the working directory; or
 *  - it is what PnetCDF keeps after cutting a name at its first ':', "//HOSTS/path":
 *    exactly two slashes, then a first component HOSTS that holds a ',' or a ':'
 *    followed by a digit (a host list or a host with its port), and "/HOSTS" does
 *    not exist locally.
 * An existing local path is therefore never taken for a cnio name.
 *
 * An fd opened here is a real kernel fd: a sealed, write-only memfd as long as the
 * object, so that the kernel keeps its file position, fstat reports the object's
 * size, lseek/dup/select/close behave, and a read that does not come through the
 * interposed calls fails loudly (EBADF) instead of returning wrong bytes. The bytes
 * of read/pread/readv/preadv on it come from the object, through cnio's client.
 */
#ifndef CNIO_MPIIO_POSIX_H
#define CNIO_MPIIO_POSIX_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

/* The libc functions underneath, resolved with dlsym(RTLD_NEXT) (mpiio_posix_sym.c). */
struct cnio_px_real {
    int (*openat)(int dirfd, const char *path, int flags, ...);
    int (*close)(int fd);
    ssize_t (*read)(int fd, void *buf, size_t len);
    off_t (*lseek)(int fd, off_t off, int whence);
    int (*dup)(int fd);
    int (*dup2)(int fd, int fd2);
    int (*dup3)(int fd, int fd2, int flags);
    int (*fstat)(int fd, struct stat *sb);
};
/* The table, resolved on first use. */
const struct cnio_px_real *cnio__px_real(void);

/*
 * When path is a cnio name (rule above), writes the full "cnio://..." URI into uri
 * (cap bytes) and returns 1; else 0 (also when it does not fit: such a path is left
 * to libc). Never touches errno.
 */
int cnio__px_name(const char *path, char *uri, size_t cap);

/* Path calls on a cnio URI, with POSIX conventions (-1 and errno on failure). */
/* open: O_RDONLY only (O_CLOEXEC, O_NONBLOCK, O_NOCTTY, O_LARGEFILE ignored or kept);
 * any write, create or truncate flag: EOPNOTSUPP; O_DIRECTORY: ENOTDIR. */
int cnio__px_open(const char *uri, int flags);
/* stat: S_IFREG 0644 (or S_IFDIR 0755), st_size the object's size, st_mtim its
 * modification time, st_blksize its stripe unit, owner the caller. */
int cnio__px_stat(const char *uri, struct stat *sb);
/*
 * When fd was opened on a cnio name, makes what fstat gave for it (the memfd's) say what
 * stat() of the name says: st_dev, st_ino, st_mode, st_nlink and st_blksize (the size is
 * the memfd's, the object's). Returns 1 then, 0 for any other fd (sb untouched). Never
 * touches errno.
 */
int cnio__px_fstat_fix(int fd, struct stat *sb);
/*
 * lseek's SEEK_DATA and SEEK_HOLE on an fd opened on a cnio name: the object is all data
 * (the memfd underneath is all hole, which cp and tar would copy as zeros). Returns 1
 * when fd is such an fd and whence one of the two, with *out the new position (the fd's
 * is moved there) or -1 and errno (ENXIO at or past the end); 0 otherwise.
 */
int cnio__px_lseek(int fd, off_t off, int whence, off_t *out);
/* access: 0 when the object exists and mode asks for R_OK/W_OK/F_OK at most; X_OK on
 * an object is EACCES. */
int cnio__px_access(const char *uri, int mode);
/* truncate: sets the object's size on every host (ENOENT when missing). */
int cnio__px_truncate(const char *uri, off_t len);
/* unlink: removes the object from every host (ENOENT when no host had it). */
int cnio__px_unlink(const char *uri);

/* fd calls. cnio__px_fd is lock-free and cheap: 1 when fd was opened here. */
int cnio__px_fd(int fd);
ssize_t cnio__px_pread(int fd, void *buf, size_t len, off_t off);
/* read/readv at the kernel's file position of fd, which they advance. */
ssize_t cnio__px_read(int fd, void *buf, size_t len);
ssize_t cnio__px_preadv(int fd, const struct iovec *iov, int n, off_t off);
ssize_t cnio__px_readv(int fd, const struct iovec *iov, int n);
/* Forgets fd (closing the object when its last fd goes), then closes it. */
int cnio__px_close(int fd);
/* Records that newfd (returned by dup/dup2/dup3 of a served fd) reads the same object. */
void cnio__px_dup(int oldfd, int newfd);

#endif /* CNIO_MPIIO_POSIX_H */
