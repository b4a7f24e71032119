/*
 * cp_dst.c - the destination of `cnio cp`, opened before the bytes move and committed
 * after: a remote DST as a fresh staged instance, or with --resume the one an
 * interrupted upload left (or nothing to do when DST already holds SRC); a local DST as
 * a part file beside it, locked, that becomes DST by a rename once every rank is done.
 */
#include "cp.h"
#include "client.h"
#include "stack.h"
#include "../../collective/coll.h"

#include <errno.h>
#include <fcntl.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Rank 0: 1 when a STAT finds DST a complete object of SRC's size, so that opening it
 * to compare is worth it (an open of an incomplete one would be refused, its server's
 * reason said as an error, in a copy that goes on well); 2 when DST is a directory. */
static int cp_dst_complete(const struct cp_job *j)
{
    struct cnio_uri u;
    struct cnio_hints h;
    struct cnio_stack *st = NULL;
    struct cnio_obj_stat sb;
    int ok = 0;

    if (cnio__uri_parse(j->dst.name, &u))
        return 0;
    if (!cli_hints(&j->o, &u, &h) && !cnio__stack_open(&st))
        ok = cnio__obj_stat(st, &u, &h, &sb) != 0 ? 0 : sb.is_dir ? 2 :
             !(sb.state & CNIO_OBJ_INCOMPLETE) && sb.size == j->total;
    if (st)
        cnio__stack_close(st);
    cnio__uri_free(&u);
    return ok;
}

/* This rank's share [j->lo, j->hi) of local fd against obj, chunk by chunk (each host
 * computes the CRC32C of its pieces, cli_resume_same): 1 when all of it matches, the
 * answer agreed over the ranks. Collective. */
static int cp_share_same(struct cp_job *j, int fd, struct cnio_obj *obj)
{
    char *buf;
    int same, all = 0;

    cp_range(j);
    buf = cli_buf_alloc(j->o.chunk);
    same = buf != NULL && fd >= 0;
    for (uint64_t off = j->lo, len; same && off < j->hi; off += len) {
        int s = 0;

        len = CNIO_MIN(j->o.chunk, j->hi - off);
        same = pread(fd, buf, (size_t)len, (off_t)off) == (ssize_t)len &&
               cli_resume_same(obj, buf, off, len, &s) == 0 && s;
    }
    MPI_Allreduce(&same, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    cli_buf_free(buf, j->o.chunk);
    return all;
}

/*
 * --resume with no interrupted upload to continue: 1 on every rank when DST is already a
 * complete object with SRC's size and bytes (each rank compares its share chunk by
 * chunk, the server's CRC32C of each piece against the local bytes', as a resumed upload
 * does), so that nothing need move; 2 when DST is a directory; else 0. Collective.
 */
static int cp_already_there(struct cp_job *j)
{
    cnio_file_t *fh = NULL;
    MPI_Offset size = -1;
    int same, all = 0;

    same = j->rank == 0 ? cp_dst_complete(j) : 0;
    MPI_Bcast(&same, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (same != 1)
        return same;   /* a directory; or none, incomplete, another size or unreadable */
    if (cnio_file_open(MPI_COMM_WORLD, j->dst.name, MPI_MODE_RDONLY, j->info, &fh) != 0)
        return 0;   /* the same answer on every rank */
    same = cnio_file_get_size(fh, &size) == 0 && (uint64_t)size == j->total;
    MPI_Allreduce(&same, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (all)
        all = cp_share_same(j, j->src.fd, cnio__file_obj(fh));
    cnio_file_close(&fh);
    return all;
}

/* DST names a directory on the servers: it becomes DST/NAME, as in cp(1), when the
 * command allows it (j->into_ok) and it has not done so yet. 1 when it did. */
static int cp_go_into(struct cp_job *j)
{
    if (!j->into_ok || j->into || !(j->into = cp_into_dir(j->src.name, j->dst.name, 0, 1, 1)))
        return 0;
    j->dst.name = j->into;
    return 1;
}

/*
 * Opens a remote destination as a fresh staged instance that replaces the object at
 * close (hint cnio_replace), or with --resume the staged instance an interrupted upload
 * left (hint cnio_resume; when there is none and DST is not already SRC, a fresh one).
 */
static int cp_open_remote(struct cp_job *j, MPI_Info info)
{
    int rc = cnio_file_open(MPI_COMM_WORLD, j->dst.name, MPI_MODE_WRONLY | MPI_MODE_CREATE,
                            info, &j->dst.fh);

    /* DST a directory on the servers: into it, as cp(1) does (DST/ said so already) */
    if (rc == -CNIO_ERR_ISDIR && cp_go_into(j))
        rc = cnio_file_open(MPI_COMM_WORLD, j->dst.name, MPI_MODE_WRONLY | MPI_MODE_CREATE,
                            info, &j->dst.fh);
    return rc;
}

static int cp_open_remote_dst(struct cp_job *j)
{
    MPI_Info info;
    int rc, there = 0;

    MPI_Info_dup(j->info, &info);
    MPI_Info_set(info, "cnio_replace", "true");
    MPI_Info_set(info, "cnio_resume", j->o.resume ? "true" : "false");
    rc = cp_open_remote(j, info);
    if (j->o.resume && rc == -CNIO_ERR_NOENT)
        there = cp_already_there(j);
    /* a resume to a directory's name finds no upload of it: DST/NAME's, as cp(1) */
    if (there == 2 && cp_go_into(j)) {
        rc = cp_open_remote(j, info);
        there = rc == -CNIO_ERR_NOENT ? cp_already_there(j) : 0;
    }
    if (j->o.resume && rc == -CNIO_ERR_NOENT && there == 1) {
        j->there = 1;
        rc = 0;
    } else if (j->o.resume && rc == -CNIO_ERR_NOENT) {
        if (j->rank == 0 && !j->o.quiet)
            cli_err("cnio cp: %s: no interrupted upload to resume; copying all of it\n",
                    j->dst.name);
        MPI_Info_set(info, "cnio_resume", "false");
        rc = cp_open_remote(j, info);
    } else if (rc == 0) {
        j->resumed = j->o.resume;
        if (j->resumed && j->rank == 0)
            cli_resume_layout(&j->o, j->dst.name, cnio__file_obj(j->dst.fh));
    }
    MPI_Info_free(&info);
    return rc;
}

/*
 * The names of a download: j->final, the file DST names (the target of a symlink DST,
 * which stays a link), and j->part beside it. A DST that exists must be a regular file
 * (its mode is kept in *mode, else 0). Every rank computes the same names.
 */
static int cp_part_names(struct cp_job *j, mode_t *mode)
{
    struct stat sb;
    size_t n;

    *mode = 0;
    j->final = NULL;
    if (lstat(j->dst.name, &sb) == 0 && S_ISLNK(sb.st_mode)) {
        j->final = realpath(j->dst.name, NULL);
        /* dangling: neither replaced by a file nor written through (GNU cp refuses it) */
        if (!j->final)
            return cp_local_fail(&j->dst, errno, errno == ENOENT ? "a symbolic link to "
                                 "nothing: not written through (remove it, or make what "
                                 "it points at)" : NULL);
    }
    if (!j->final)
        j->final = strdup(j->dst.name);
    n = j->final ? strlen(j->final) + sizeof(CLI_PART) + 17 : 0;
    j->part = n ? malloc(n) : NULL;
    if (!j->part)
        return cp_local_fail(&j->dst, ENOMEM, NULL);
    cli_part_name(j->final, j->part, n);
    if (stat(j->final, &sb) < 0)
        return errno == ENOENT ? 0 : cp_local_fail(&j->dst, errno, NULL);
    if (!S_ISREG(sb.st_mode))
        return cp_local_fail(&j->dst, S_ISDIR(sb.st_mode) ? EISDIR : EINVAL,
                             S_ISDIR(sb.st_mode) ? NULL : "not a regular file");
    *mode = sb.st_mode & 07777;
    return 0;
}

/* 1 when fd is still the file named j->part; else 0, errno 0 (it was renamed away) or
 * the error of looking. */
static int cp_still_part(const struct cp_job *j, int fd)
{
    struct stat a, b;

    if (fstat(fd, &a) < 0)
        return 0;
    if (stat(j->part, &b) < 0) {
        if (errno == ENOENT)
            errno = 0;
        return 0;
    }
    errno = 0;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/*
 * Rank 0 opens the download's part file at the source's size: fresh, or with --resume
 * the one an interrupted download left; with --resume and none there, a DST that exists
 * is what the chunks are compared with (*ref: it may be the same object, an earlier
 * download, or a partial one from a cnio that wrote into DST).
 */
static int cp_open_part(struct cp_job *j, mode_t mode, int *ref)
{
    static char why[128];   /* (rank 0's, said once at the end: cp_local_fail) */
    int fd = open(j->part, O_RDWR | O_CLOEXEC), existed = fd >= 0;

    *ref = 0;
    if (fd < 0 && errno == ENOENT) {
        fd = open(j->part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {   /* DST's end, not SRC's, is what is missing or refused */
            snprintf(why, sizeof(why), "cannot create it: %s", strerror(errno));
            return cp_local_fail(&j->dst, errno, why);
        }
    }
    if (fd < 0)
        return cp_local_fail(&j->dst, errno, NULL);
    /* One download at a time writes a part file: a second one to the same DST would
     * truncate it under the first, which could then rename a file of zeros into place.
     * The lock is held (part_lock) until the rename; a file locked after that rename
     * (opened as the part file before it) is the other download's DST, no part file. */
    if (flock(fd, LOCK_EX | LOCK_NB) < 0 || !cp_still_part(j, fd)) {
        int e = errno ? errno : EWOULDBLOCK;

        close(fd);
        return cp_local_fail(&j->dst, e, e == EWOULDBLOCK ? "another cnio cp is downloading "
                             "to it (its .cnio-part file is in use)" : NULL);
    }
    j->part_lock = fd;
    j->part_open = 1;
    if (!existed || !j->o.resume) {
        *ref = j->o.resume && mode;
        if (ftruncate(fd, 0) < 0)
            return cp_local_fail(&j->dst, errno, NULL);
    }
    j->dst.fd = dup(fd);
    if (j->dst.fd < 0 || (mode && fchmod(fd, mode) < 0) || ftruncate(fd, (off_t)j->total) < 0)
        return cp_local_fail(&j->dst, errno, NULL);
    return 0;
}

/*
 * A download with --resume that finds no part file and a DST of the source's size: 1
 * when every rank's range of DST matches the object chunk by chunk (each host computes
 * the CRC32C of its pieces, cli_resume_same), the same answer on every rank. It was
 * copied chunk by chunk into a new part file and renamed over itself: a local copy of
 * the whole to move nothing.
 */
static int cp_down_there(struct cp_job *j)
{
    struct stat sb;
    int same = 0, fd;

    if (j->rank == 0)
        same = access(j->part, F_OK) < 0 && errno == ENOENT && stat(j->final, &sb) == 0 &&
               (uint64_t)sb.st_size == j->total && j->total > 0;
    MPI_Bcast(&same, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (!same)
        return 0;
    fd = open(j->final, O_RDONLY | O_CLOEXEC);
    same = cp_share_same(j, fd, cnio__file_obj(j->src.fh));
    if (fd >= 0)
        close(fd);
    return same;
}

int cp_open_dst(struct cp_job *j)
{
    mode_t mode;
    int rc = 0, ref = 0;

    if (j->dst.remote) {
        rc = cp_open_remote_dst(j);
        if (rc == 0 && !j->there)
            rc = cnio_file_set_size(j->dst.fh, (MPI_Offset)j->total);
        return rc;
    }
    j->resumed = j->o.resume;
    rc = cp_agree(cp_part_names(j, &mode));
    if (rc == 0 && j->o.resume && cp_down_there(j)) {
        j->there = 1;   /* DST is left as it is */
        return 0;
    }
    if (rc == 0 && j->rank == 0)
        rc = cp_open_part(j, mode, &ref);
    rc = cp_agree(rc);
    if (rc)
        return rc;
    MPI_Bcast(&ref, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (j->rank != 0) {
        j->dst.fd = open(j->part, O_RDWR | O_CLOEXEC);
        if (j->dst.fd < 0)
            rc = cp_local_fail(&j->dst, errno, NULL);
    }
    if (rc == 0 && ref) {
        j->ref_fd = open(j->final, O_RDONLY | O_CLOEXEC);
        if (j->ref_fd < 0)
            rc = cp_local_fail(&j->dst, errno, NULL);
    }
    return cp_agree(rc);
}

int cp_commit_part(struct cp_job *j)
{
    if (rename(j->part, j->final) < 0)
        return cp_local_fail(&j->dst, errno, NULL);
    j->part_open = 0;
    return 0;
}
