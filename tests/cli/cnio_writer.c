/*
 * cnio_writer.c - a small MPI-IO-style writer for tests/cli/commit.test, through the
 * public API (singleton MPI):
 *
 *   cnio_writer inplace-die URI     open an existing object MPI_MODE_RDWR, write 64 KiB
 *                                   at 0, print "written", wait to be killed
 *   cnio_writer inplace-close URI   the same, then close cleanly
 *   cnio_writer create-die URI      open a new object WRONLY|CREATE, write, print, wait
 *   cnio_writer resume URI FILE     open with hint cnio_resume=true, write FILE whole,
 *                                   set the size, close (commit)
 *   cnio_writer create-wait URI FILE  open a new object WRONLY|CREATE, write 64 KiB of 0x5a
 *                                   at 0, print "written", wait until FILE exists (at
 *                                   most 10 minutes), write 64 KiB of 0xa5 at 64 KiB, close
 *   cnio_writer inplace-wait URI FILE  the same, opening an existing object RDWR (in place)
 *   cnio_writer inplace-ends URI    open an existing object RDWR (in place), write 64 KiB of
 *                                   0x5a at 0 and 64 KiB of 0xa5 at its last 64 KiB, close
 *                                   (an update a reader's pass may straddle)
 *   cnio_writer sized-wait URI FILE  as create-wait, both writes and the size set (128
 *                                   KiB) before it prints and waits: its close then
 *                                   sends nothing before the commit (tests/cli/finish.test
 *                                   holds a server there)
 *   cnio_writer two-opens URI       open a new object WRONLY|CREATE, then again RDWR|CREATE
 *                                   (as PnetCDF opens its independent handle); 64 KiB of
 *                                   0x5a at 0 through the first, of 0xa5 at 64 KiB through
 *                                   the second; close the second, then the first
 *
 * Exit 0, or 1 with "cnio_writer: what: reason" on stderr.
 */
#include "cnio.h"

#include <fcntl.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define W_BYTES (64 << 10)

static int w_fail(const char *what, int rc)
{
    fprintf(stderr, "cnio_writer: %s: %s\n", what, cnio_strerror(rc));
    MPI_Finalize();
    return 1;
}

/* The whole of file path in *buf (malloc'd), its size in *len: 0 or -1. */
static int w_slurp(const char *path, char **buf, size_t *len)
{
    struct stat sb;
    size_t got = 0;
    int fd = open(path, O_RDONLY);

    if (fd < 0 || fstat(fd, &sb) < 0 || !(*buf = malloc((size_t)sb.st_size + 1)))
        return -1;
    while (got < (size_t)sb.st_size) {
        ssize_t n = read(fd, *buf + got, (size_t)sb.st_size - got);
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    close(fd);
    *len = got;
    return 0;
}

static int w_resume(const char *uri, const char *path)
{
    MPI_Info info;
    cnio_file_t *fh;
    char *buf;
    size_t len;
    int rc;

    if (w_slurp(path, &buf, &len))
        return w_fail(path, -CNIO_ERR_IO);
    MPI_Info_create(&info);
    MPI_Info_set(info, "cnio_resume", "true");
    rc = cnio_file_open(MPI_COMM_SELF, uri, MPI_MODE_WRONLY | MPI_MODE_CREATE, info, &fh);
    MPI_Info_free(&info);
    if (rc)
        return w_fail("open with cnio_resume=true", rc);
    for (size_t off = 0; rc == 0 && off < len; off += 1 << 20) {
        int n = (int)(len - off < (1 << 20) ? len - off : (1 << 20));
        rc = cnio_file_write_at(fh, (MPI_Offset)off, buf + off, n, MPI_BYTE, MPI_STATUS_IGNORE);
    }
    if (rc == 0)
        rc = cnio_file_set_size(fh, (MPI_Offset)len);
    if (rc)
        return w_fail("write", rc);
    rc = cnio_file_close(&fh);
    free(buf);
    if (rc)
        return w_fail("close", rc);
    MPI_Finalize();
    return 0;
}

static int w_two_opens(const char *uri)
{
    static char a[W_BYTES], b[W_BYTES];
    cnio_file_t *f1, *f2;
    int rc;

    memset(a, 0x5a, sizeof(a));
    memset(b, 0xa5, sizeof(b));
    rc = cnio_file_open(MPI_COMM_SELF, uri, MPI_MODE_WRONLY | MPI_MODE_CREATE, MPI_INFO_NULL,
                        &f1);
    if (rc)
        return w_fail("first open", rc);
    rc = cnio_file_open(MPI_COMM_SELF, uri, MPI_MODE_RDWR | MPI_MODE_CREATE, MPI_INFO_NULL, &f2);
    if (rc)
        return w_fail("second open", rc);
    rc = cnio_file_write_at(f1, 0, a, W_BYTES, MPI_BYTE, MPI_STATUS_IGNORE);
    if (rc == 0)
        rc = cnio_file_write_at(f2, W_BYTES, b, W_BYTES, MPI_BYTE, MPI_STATUS_IGNORE);
    if (rc)
        return w_fail("write", rc);
    rc = cnio_file_close(&f2);
    if (rc == 0)
        rc = cnio_file_close(&f1);
    if (rc)
        return w_fail("close", rc);
    MPI_Finalize();
    return 0;
}

/* create-wait, inplace-wait: a writer that pauses between two writes for as long as the
 * test wants; sized-wait: after both, and the size set. */
static int w_wait(const char *uri, const char *file, int amode, int sized)
{
    static char data[W_BYTES];
    cnio_file_t *fh;
    int rc = cnio_file_open(MPI_COMM_SELF, uri, amode, MPI_INFO_NULL, &fh);

    if (rc)
        return w_fail("open", rc);
    memset(data, 0x5a, sizeof(data));
    rc = cnio_file_write_at(fh, 0, data, W_BYTES, MPI_BYTE, MPI_STATUS_IGNORE);
    if (rc)
        return w_fail("write", rc);
    for (int k = 0; k < 2; k++) {
        if (k == sized) {
            printf("written\n");
            fflush(stdout);
            for (int i = 0; i < 60000 && access(file, F_OK) != 0; i++)
                usleep(10000);
        }
        if (k == 1)
            break;
        memset(data, 0xa5, sizeof(data));
        rc = cnio_file_write_at(fh, W_BYTES, data, W_BYTES, MPI_BYTE, MPI_STATUS_IGNORE);
        if (rc == 0 && sized)
            rc = cnio_file_set_size(fh, 2 * W_BYTES);
        if (rc)
            return w_fail("second write", rc);
    }
    rc = cnio_file_close(&fh);
    if (rc)
        return w_fail("close", rc);
    MPI_Finalize();
    return 0;
}

/* inplace-ends: its first and last 64 KiB rewritten, one update in place. */
static int w_ends(const char *uri)
{
    static char data[W_BYTES];
    MPI_Offset size = 0;
    cnio_file_t *fh;
    int rc = cnio_file_open(MPI_COMM_SELF, uri, MPI_MODE_RDWR, MPI_INFO_NULL, &fh);

    if (rc)
        return w_fail("open", rc);
    rc = cnio_file_get_size(fh, &size);
    if (rc == 0 && size < 2 * W_BYTES)
        rc = -CNIO_ERR_INVAL;
    memset(data, 0x5a, sizeof(data));
    if (rc == 0)
        rc = cnio_file_write_at(fh, 0, data, W_BYTES, MPI_BYTE, MPI_STATUS_IGNORE);
    memset(data, 0xa5, sizeof(data));
    if (rc == 0)
        rc = cnio_file_write_at(fh, size - W_BYTES, data, W_BYTES, MPI_BYTE,
                                MPI_STATUS_IGNORE);
    if (rc)
        return w_fail("write", rc);
    rc = cnio_file_close(&fh);
    if (rc)
        return w_fail("close", rc);
    MPI_Finalize();
    return 0;
}

int main(int argc, char **argv)
{
    static char data[W_BYTES];
    cnio_file_t *fh;
    int amode, rc;

    MPI_Init(&argc, &argv);
    if (argc == 4 && !strcmp(argv[1], "resume"))
        return w_resume(argv[2], argv[3]);
    if (argc == 4 && !strcmp(argv[1], "create-wait"))
        return w_wait(argv[2], argv[3], MPI_MODE_WRONLY | MPI_MODE_CREATE, 0);
    if (argc == 4 && !strcmp(argv[1], "sized-wait"))
        return w_wait(argv[2], argv[3], MPI_MODE_WRONLY | MPI_MODE_CREATE, 1);
    if (argc == 4 && !strcmp(argv[1], "inplace-wait"))
        return w_wait(argv[2], argv[3], MPI_MODE_RDWR, 0);
    if (argc == 3 && !strcmp(argv[1], "inplace-ends"))
        return w_ends(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "two-opens"))
        return w_two_opens(argv[2]);
    if (argc != 3)
        return w_fail("usage", -CNIO_ERR_INVAL);
    amode = !strcmp(argv[1], "create-die") ? MPI_MODE_WRONLY | MPI_MODE_CREATE : MPI_MODE_RDWR;
    rc = cnio_file_open(MPI_COMM_SELF, argv[2], amode, MPI_INFO_NULL, &fh);
    if (rc)
        return w_fail("open", rc);
    memset(data, 0x5a, sizeof(data));
    rc = cnio_file_write_at(fh, 0, data, W_BYTES, MPI_BYTE, MPI_STATUS_IGNORE);
    if (rc)
        return w_fail("write", rc);
    if (strcmp(argv[1], "inplace-close")) {
        printf("written\n");
        fflush(stdout);
        for (;;)
            pause();   /* the test kills it */
    }
    rc = cnio_file_close(&fh);
    if (rc)
        return w_fail("close", rc);
    MPI_Finalize();
    return 0;
}
