/*
 * check_mpiio_err.c - error mapping through the MPI-IO interposition (run preloaded under
 * mpirun): a missing object, MPI_MODE_EXCL on an existing one, a wrong key, and a server
 * killed in the middle of collective writes and reads; cnio_timeout_ms changed on an open
 * file by MPI_File_set_info. Every rank must see the same MPI error class,
 * MPI_Error_string must give cnio's text, and nothing may hang.
 */
#include "fixture.h"

#include <mpi.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int rank, nranks, failures;

/* expect, and MPI_Error_string's text holds words (when not NULL) and not avoid (when
 * not NULL). */
static void expect_text(const char *what, int rc, int want_class, const char *words,
                        const char *avoid)
{
    char text[MPI_MAX_ERROR_STRING] = "";
    int c = -1, len = 0, *all = malloc(sizeof(int) * (size_t)nranks), same = 1;

    MPI_Error_class(rc, &c);
    MPI_Error_string(rc, text, &len);
    MPI_Allgather(&c, 1, MPI_INT, all, 1, MPI_INT, MPI_COMM_WORLD);
    for (int r = 0; r < nranks; r++)
        same &= all[r] == c;
    if (c != want_class || !same || !strstr(text, "cnio: ") || (words && !strstr(text, words)) ||
        (avoid && strstr(text, avoid))) {
        fprintf(stderr, "check_mpiio_err: rank %d, %s: class %d (want %d), same on all %d, "
                "text '%s'\n", rank, what, c, want_class, same, text);
        failures++;
    } else if (rank == 0) {
        printf("%s: class %d on every rank: %s\n", what, c, text);
    }
    free(all);
}

/* Rank 0's standard error, captured between said_start and said_check (which restores it
 * and writes what it caught there): the library's own lines. */
static int said_fd = -1, said_saved = -1;

static void said_start(void)
{
    char path[] = "/tmp/cnio-mpiio-err-XXXXXX";

    if (rank != 0)
        return;
    fflush(stderr);
    said_fd = mkstemp(path);
    said_saved = dup(2);
    if (said_fd < 0 || said_saved < 0 || dup2(said_fd, 2) < 0) {
        fprintf(stderr, "check_mpiio_err: cannot capture standard error\n");
        failures++;
    }
    unlink(path);
}

/* Rank 0: whether what it wrote since said_start holds text (counted as a failure if not). */
static void said_check(const char *what, const char *text)
{
    char buf[4096];
    ssize_t n;

    if (rank != 0 || said_fd < 0)
        return;
    fflush(stderr);
    dup2(said_saved, 2);
    close(said_saved);
    n = pread(said_fd, buf, sizeof(buf) - 1, 0);
    close(said_fd);
    said_fd = -1;
    buf[n > 0 ? n : 0] = '\0';
    fputs(buf, stderr);
    if (!strstr(buf, text)) {
        fprintf(stderr, "check_mpiio_err: %s: rank 0 did not say '%s'\n", what, text);
        failures++;
    }
}

static void expect(const char *what, int rc, int want_class)
{
    expect_text(what, rc, want_class, NULL, NULL);
}

static void test_open_errors(const struct fx *f)
{
    char uri[700], bad_key[PATH_MAX];
    MPI_File fh, creating = MPI_FILE_NULL;
    MPI_Info info;
    FILE *k;
    int rc;

    snprintf(uri, sizeof(uri), "cnio://%s/err/missing.dat", f->hosts);
    rc = MPI_File_open(MPI_COMM_WORLD, uri, MPI_MODE_RDONLY, MPI_INFO_NULL, &fh);
    expect("missing object", rc, MPI_ERR_NO_SUCH_FILE);
    snprintf(uri, sizeof(uri), "cnio://%s/err/exists.dat", f->hosts);
    rc = MPI_File_open(MPI_COMM_WORLD, uri, MPI_MODE_CREATE | MPI_MODE_RDWR, MPI_INFO_NULL, &fh);
    if (rc == MPI_SUCCESS)
        MPI_File_close(&fh);
    rc = MPI_File_open(MPI_COMM_WORLD, uri, MPI_MODE_CREATE | MPI_MODE_EXCL | MPI_MODE_RDWR,
                       MPI_INFO_NULL, &fh);
    expect("MPI_MODE_EXCL on an existing object", rc, MPI_ERR_FILE_EXISTS);
    /* A well-formed key that is not the servers'. */
    snprintf(bad_key, sizeof(bad_key), "%s/wrong.key", f->dir);
    if (rank == 0 && (k = fopen(bad_key, "w"))) {
        fputs("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n", k);
        fclose(k);
        chmod(bad_key, 0600);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Info_create(&info);
    MPI_Info_set(info, "cnio_key_file", bad_key);
    rc = MPI_File_open(MPI_COMM_WORLD, uri, MPI_MODE_RDWR, info, &fh);
    expect("wrong key", rc, MPI_ERR_ACCESS);
    MPI_Info_free(&info);
    /* Every cnio error has an MPI class other than MPI_SUCCESS: one added after the
     * table was written (an object still being created, read-only) included. */
    snprintf(uri, sizeof(uri), "cnio://%s/err/staged.dat", f->hosts);
    rc = MPI_File_open(MPI_COMM_WORLD, uri, MPI_MODE_CREATE | MPI_MODE_WRONLY, MPI_INFO_NULL,
                       &creating);
    if (rc != MPI_SUCCESS)
        expect("creating an object", rc, MPI_SUCCESS);
    rc = MPI_File_open(MPI_COMM_WORLD, uri, MPI_MODE_RDONLY, MPI_INFO_NULL, &fh);
    if (rc == MPI_SUCCESS)
        MPI_File_close(&fh);
    /* the text must not blame an interruption: nothing was interrupted */
    expect_text("read-only open of an object still being created", rc, MPI_ERR_IO,
                "being written", "interrupted");
    if (creating != MPI_FILE_NULL)
        MPI_File_close(&creating);
    /* Ranks naming different objects, or giving different amodes, in one collective
     * open: MPI_ERR_NOT_SAME on every rank and nothing made. (Rank 0's name was opened
     * for every rank, silently: the others' data went into rank 0's object.) */
    snprintf(uri, sizeof(uri), "cnio://%s/err/rank%d.dat", f->hosts, rank);
    rc = MPI_File_open(MPI_COMM_WORLD, uri, MPI_MODE_CREATE | MPI_MODE_RDWR, MPI_INFO_NULL,
                       &fh);
    if (rc == MPI_SUCCESS)
        MPI_File_close(&fh);
    expect("a different object on each rank", rc, MPI_ERR_NOT_SAME);
    rc = MPI_File_open(MPI_COMM_SELF, uri, MPI_MODE_RDONLY, MPI_INFO_NULL, &fh);
    if (rc == MPI_SUCCESS)
        MPI_File_close(&fh);
    expect("the object a mismatched open named", rc, MPI_ERR_NO_SUCH_FILE);
    snprintf(uri, sizeof(uri), "cnio://%s/err/amodes.dat", f->hosts);
    rc = MPI_File_open(MPI_COMM_WORLD, uri,
                       MPI_MODE_CREATE | (rank ? MPI_MODE_WRONLY : MPI_MODE_RDWR),
                       MPI_INFO_NULL, &fh);
    if (rc == MPI_SUCCESS)
        MPI_File_close(&fh);
    expect("a different amode on one rank", rc, MPI_ERR_NOT_SAME);
    /* A name ending in '/' is a directory (open(2) says EISDIR of "x/"); it used to
     * create the object x. */
    snprintf(uri, sizeof(uri), "cnio://%s/err/slash/", f->hosts);
    rc = MPI_File_open(MPI_COMM_WORLD, uri, MPI_MODE_CREATE | MPI_MODE_RDWR, MPI_INFO_NULL,
                       &fh);
    if (rc == MPI_SUCCESS)
        MPI_File_close(&fh);
    expect("a name ending in '/'", rc, MPI_ERR_BAD_FILE);
    snprintf(uri, sizeof(uri), "cnio://%s/err/slash", f->hosts);
    rc = MPI_File_open(MPI_COMM_WORLD, uri, MPI_MODE_RDONLY, MPI_INFO_NULL, &fh);
    if (rc == MPI_SUCCESS)
        MPI_File_close(&fh);
    expect("the object a name ending in '/' named", rc, MPI_ERR_NO_SUCH_FILE);
    /* the name of an existing directory (err/, which holds amodes.dat) */
    snprintf(uri, sizeof(uri), "cnio://%s/err", f->hosts);
    rc = MPI_File_open(MPI_COMM_WORLD, uri, MPI_MODE_CREATE | MPI_MODE_RDWR, MPI_INFO_NULL,
                       &fh);
    if (rc == MPI_SUCCESS)
        MPI_File_close(&fh);
    expect("a directory's name", rc, MPI_ERR_BAD_FILE);
}

/*
 * The other collective calls whose arguments MPI-3.1 requires to be the same on every
 * rank: MPI_File_seek_shared (13.4.4) and MPI_File_set_atomicity (13.6.1). Different ones
 * give MPI_ERR_NOT_SAME on every rank and change nothing (they gave MPI_ERR_ARG).
 */
static void test_not_same(MPI_File fh)
{
    MPI_Offset pos = -1;
    int flag = -1, rc;

    rc = MPI_File_seek_shared(fh, 8 * rank, MPI_SEEK_SET);
    expect_text("MPI_File_seek_shared of an offset per rank", rc, MPI_ERR_NOT_SAME, NULL, NULL);
    /* rank 0 names the whences, not the implementation's numbers for them */
    said_start();
    rc = MPI_File_seek_shared(fh, 0, rank ? MPI_SEEK_CUR : MPI_SEEK_SET);
    said_check("MPI_File_seek_shared of a whence per rank",
               "whence: the ranks passed different values (from MPI_SEEK_SET to MPI_SEEK_CUR)");
    expect("MPI_File_seek_shared of a whence per rank", rc, MPI_ERR_NOT_SAME);
    rc = MPI_File_set_atomicity(fh, rank == 1);
    expect("MPI_File_set_atomicity of a flag per rank", rc, MPI_ERR_NOT_SAME);
    /* the same on every rank, INT64_MIN included: a negative position, not "different" */
    rc = MPI_File_seek_shared(fh, INT64_MIN, MPI_SEEK_SET);
    expect("MPI_File_seek_shared to INT64_MIN on every rank", rc, MPI_ERR_ARG);
    if (MPI_File_get_position_shared(fh, &pos) != MPI_SUCCESS || pos != 0 ||
        MPI_File_get_atomicity(fh, &flag) != MPI_SUCCESS || flag != 0) {
        fprintf(stderr, "check_mpiio_err: rank %d: after them the shared pointer is %lld, "
                "atomicity %d (not 0, 0)\n", rank, (long long)pos, flag);
        failures++;
    }
}

/*
 * Hints that job scripts pass to every file system, with values ROMIO ignores (Lustre's
 * striping_factor -1, zeros, romio_cb_write=true): the open succeeds (it failed with
 * MPI_ERR_INFO_VALUE); a cnio_* hint's bad value is still refused. Sizes that differ
 * between ranks in MPI_File_set_size and MPI_File_preallocate: MPI_ERR_NOT_SAME on every
 * rank, and the size as it was (rank 0's was set for all, with success; preallocate
 * could leave ranks waiting for each other); seek_shared and set_atomicity so too.
 */
/* rc's class is want (MPI_Error_class), on this rank. */
static void expect_class(const char *what, int rc, int want)
{
    int c = -1;

    MPI_Error_class(rc, &c);
    if (c != want) {
        fprintf(stderr, "check_mpiio_err: rank %d, %s: class %d (want %d)\n", rank, what, c,
                want);
        failures++;
    } else if (rank == 0) {
        printf("%s: class %d\n", what, c);
    }
}

/* A negative count and MPI_DATATYPE_NULL: MPI_ERR_COUNT and MPI_ERR_TYPE, as ROMIO and
 * OMPIO say (MPI_ERR_ARG before), through the independent, nonblocking, split and
 * collective forms (every rank passing the same bad argument). */
/* Views MPI-IO forbids, each refused on every rank with ROMIO's and OMPIO's class (cnio
 * said MPI_ERR_ARG of them all, and took an uncommitted filetype), the view in effect
 * kept. */
static void test_bad_views(MPI_File fh)
{
    int blens[2] = { 1, 1 }, displs[2] = { 3, 1 };
    MPI_Datatype loose, down, three;
    char buf[8] = "viewsok", back[8] = { 0 };

    MPI_Type_contiguous(2, MPI_INT, &loose);   /* never committed */
    MPI_Type_indexed(2, blens, displs, MPI_INT, &down);
    MPI_Type_commit(&down);
    MPI_Type_contiguous(3, MPI_BYTE, &three);
    MPI_Type_commit(&three);
    expect_class("MPI_File_set_view of a filetype not committed",
                 MPI_File_set_view(fh, 0, MPI_INT, loose, "native", MPI_INFO_NULL),
                 MPI_ERR_TYPE);
    expect_class("MPI_File_set_view of an etype not committed",
                 MPI_File_set_view(fh, 0, loose, MPI_BYTE, "native", MPI_INFO_NULL),
                 MPI_ERR_TYPE);
    expect_class("MPI_File_set_view of decreasing displacements",
                 MPI_File_set_view(fh, 0, MPI_INT, down, "native", MPI_INFO_NULL),
                 MPI_ERR_TYPE);
    expect_class("MPI_File_set_view of a filetype the etype does not divide",
                 MPI_File_set_view(fh, 0, MPI_INT, three, "native", MPI_INFO_NULL),
                 MPI_ERR_ARG);
    expect_class("MPI_File_set_view of a negative disp",
                 MPI_File_set_view(fh, -5, MPI_BYTE, MPI_BYTE, "native", MPI_INFO_NULL),
                 MPI_ERR_ARG);
    expect_class("MPI_File_set_view of MPI_DATATYPE_NULL",
                 MPI_File_set_view(fh, 0, MPI_BYTE, MPI_DATATYPE_NULL, "native",
                                   MPI_INFO_NULL), MPI_ERR_TYPE);
    /* the byte view the file had still holds */
    expect_class("a write after the refused views",
           MPI_File_write_at(fh, 100 + 8 * rank, buf, 8, MPI_BYTE, MPI_STATUS_IGNORE),
           MPI_SUCCESS);
    expect_class("... reads back",
           MPI_File_read_at(fh, 100 + 8 * rank, back, 8, MPI_BYTE, MPI_STATUS_IGNORE),
           MPI_SUCCESS);
    if (memcmp(buf, back, sizeof(buf)) != 0) {
        fprintf(stderr, "check_mpiio_err: rank %d: a refused view changed the view\n", rank);
        failures++;
    }
    MPI_Type_free(&loose);
    MPI_Type_free(&down);
    MPI_Type_free(&three);
}

static void test_bad_args(MPI_File fh)
{
    MPI_Request req = MPI_REQUEST_NULL;
    char buf[16];

    expect_class("MPI_File_read_at of count -1",
                 MPI_File_read_at(fh, 0, buf, -1, MPI_BYTE, MPI_STATUS_IGNORE), MPI_ERR_COUNT);
    expect_class("MPI_File_write_at of MPI_DATATYPE_NULL",
                 MPI_File_write_at(fh, 0, buf, 1, MPI_DATATYPE_NULL, MPI_STATUS_IGNORE),
                 MPI_ERR_TYPE);
    expect_class("MPI_File_iread_at of count -1",
                 MPI_File_iread_at(fh, 0, buf, -1, MPI_BYTE, &req), MPI_ERR_COUNT);
    expect_class("MPI_File_read_all of count -1 on every rank",
                 MPI_File_read_all(fh, buf, -1, MPI_BYTE, MPI_STATUS_IGNORE), MPI_ERR_COUNT);
    expect_class("MPI_File_write_at_all of MPI_DATATYPE_NULL on every rank",
                 MPI_File_write_at_all(fh, 0, buf, 1, MPI_DATATYPE_NULL, MPI_STATUS_IGNORE),
                 MPI_ERR_TYPE);
    expect_class("MPI_File_read_all_begin of count -1 on every rank",
                 MPI_File_read_all_begin(fh, buf, -1, MPI_BYTE), MPI_ERR_COUNT);
    MPI_File_read_all_end(fh, buf, MPI_STATUS_IGNORE);
    test_bad_views(fh);
}

/* One collective open in which rank 0 names a cnio:// object and the others a local file
 * (an erroneous program): MPI_ERR_NOT_SAME on every rank, nothing opened or made. It
 * hung: the cnio rank waited in its open's collectives, the others in Open MPI's. */
static void test_mixed_names(const struct fx *f)
{
    char name[700];
    MPI_File fh = MPI_FILE_NULL;
    struct stat sb;
    int rc;

    if (rank == 0)
        snprintf(name, sizeof(name), "cnio://%s/err/mixed.dat", f->hosts);
    else
        snprintf(name, sizeof(name), "%s/mixed-local-%d", f->dir, rank);
    rc = MPI_File_open(MPI_COMM_WORLD, name, MPI_MODE_CREATE | MPI_MODE_RDWR, MPI_INFO_NULL,
                       &fh);
    expect_class("an open naming a cnio:// object on rank 0 and local files elsewhere", rc,
                 MPI_ERR_NOT_SAME);
    if (rc == MPI_SUCCESS)
        MPI_File_close(&fh);
    if (rank != 0 && stat(name, &sb) == 0) {
        fprintf(stderr, "check_mpiio_err: rank %d: %s was made\n", rank, name);
        failures++;
    }
}

/* An open on an intercommunicator (MPI-3.1 13.2.1 takes intracommunicators):
 * MPI_ERR_COMM at once, as OMPIO and ROMIO say. It hung in the open's first broadcast. */
static void test_intercomm(const struct fx *f)
{
    MPI_Comm half, inter;
    MPI_File fh = MPI_FILE_NULL;
    char name[700];
    int rc;

    MPI_Comm_split(MPI_COMM_WORLD, rank % 2, rank, &half);
    MPI_Intercomm_create(half, 0, MPI_COMM_WORLD, rank % 2 ? 0 : 1, 7, &inter);
    snprintf(name, sizeof(name), "cnio://%s/err/inter.dat", f->hosts);
    rc = MPI_File_open(inter, name, MPI_MODE_CREATE | MPI_MODE_RDWR, MPI_INFO_NULL, &fh);
    expect_class("an open on an intercommunicator", rc, MPI_ERR_COMM);
    if (rc == MPI_SUCCESS)
        MPI_File_close(&fh);
    MPI_Comm_free(&inter);
    MPI_Comm_free(&half);
}

static void test_hints_and_sizes(const struct fx *f)
{
    static const char *const lenient[][2] = {
        { "striping_factor", "-1" }, { "striping_unit", "0" }, { "cb_nodes", "0" },
        { "cb_buffer_size", "0" }, { "romio_cb_write", "true" }, { "romio_cb_read", "bogus" },
        { "ind_rd_buffer_size", "0" },
    };
    char uri[700];
    MPI_Offset size = -1;
    MPI_File fh;
    MPI_Info info;
    int rc;

    snprintf(uri, sizeof(uri), "cnio://%s/err/hints.dat", f->hosts);
    MPI_Info_create(&info);
    for (size_t i = 0; i < sizeof(lenient) / sizeof(lenient[0]); i++)
        MPI_Info_set(info, lenient[i][0], lenient[i][1]);
    rc = MPI_File_open(MPI_COMM_WORLD, uri, MPI_MODE_CREATE | MPI_MODE_RDWR, info, &fh);
    MPI_Info_free(&info);
    if (rc != MPI_SUCCESS) {
        expect("an open with ROMIO hints ROMIO ignores", rc, MPI_SUCCESS);
        return;
    }
    if (rank == 0)
        printf("an open with ROMIO hints ROMIO ignores: opened\n");
    rc = MPI_File_set_size(fh, 100 + rank);
    if (nranks > 1)
        expect_text("MPI_File_set_size of a size per rank", rc, MPI_ERR_NOT_SAME, NULL, NULL);
    rc = MPI_File_preallocate(fh, 200 + rank);
    if (nranks > 1)
        expect("MPI_File_preallocate of a size per rank", rc, MPI_ERR_NOT_SAME);
    rc = MPI_File_get_size(fh, &size);
    if (rc != MPI_SUCCESS || (nranks > 1 && size != 0)) {
        fprintf(stderr, "check_mpiio_err: rank %d: the size after them is %lld, not 0\n", rank,
                (long long)size);
        failures++;
    }
    if (nranks > 1)
        test_not_same(fh);
    test_bad_args(fh);
    MPI_File_close(&fh);
    MPI_Info_create(&info);
    MPI_Info_set(info, "cnio_lanes", "0");
    rc = MPI_File_open(MPI_COMM_WORLD, uri, MPI_MODE_RDWR, info, &fh);
    MPI_Info_free(&info);
    if (rc == MPI_SUCCESS)
        MPI_File_close(&fh);
    expect("a bad value of a cnio_* hint", rc, MPI_ERR_INFO_VALUE);
}

/* Rank 0 starts two servers of the test's own into f2 (stopped by fx_stop on rank 0);
 * every rank gets their host list into hosts (cap bytes). Rank 0: server 1's pid, which
 * the test may stop or kill; the others: 0. */
static pid_t own_servers(struct fx *f2, char *hosts, size_t cap)
{
    pid_t victim = 0;

    if (rank == 0 && fx_start(f2, 2, NULL) != 0)
        MPI_Abort(MPI_COMM_WORLD, 99);
    if (rank == 0) {
        snprintf(hosts, cap, "%s", f2->hosts);
        victim = f2->pid[1];
    }
    MPI_Bcast(hosts, (int)cap, MPI_CHAR, 0, MPI_COMM_WORLD);
    return victim;
}

/* Collective writes (or reads) in a loop while rank 0's child kills one server. */
static void test_server_killed(int reading)
{
    enum { MB8 = 8 << 20 };
    struct fx f2;
    char uri[700], hosts[512];
    char *buf = malloc(MB8);
    pid_t victim, killer = -1;
    MPI_File fh;
    double t0;
    int rc = 0, crc;

    victim = own_servers(&f2, hosts, sizeof(hosts));
    snprintf(uri, sizeof(uri), "cnio://%s/victim.dat?stripe_unit=256K&timeout_ms=5000", hosts);
    fx_fill(buf, MB8, (uint64_t)rank + 1);
    MPI_File_open(MPI_COMM_WORLD, uri, MPI_MODE_CREATE | MPI_MODE_RDWR, MPI_INFO_NULL, &fh);
    if (reading)
        MPI_File_write_at_all(fh, (MPI_Offset)rank * MB8, buf, MB8, MPI_BYTE, MPI_STATUS_IGNORE);
    if (rank == 0) {
        killer = fork();
        if (killer == 0) {
            usleep(300000);
            kill(victim, SIGKILL);
            _exit(0);
        }
    }
    t0 = MPI_Wtime();
    for (int it = 0; it < 5000 && rc == MPI_SUCCESS && MPI_Wtime() - t0 < 60; it++) {
        MPI_Offset off = reading ? (MPI_Offset)rank * MB8 : ((MPI_Offset)it * nranks + rank) * MB8;

        rc = reading ? MPI_File_read_at_all(fh, off, buf, MB8, MPI_BYTE, MPI_STATUS_IGNORE)
                     : MPI_File_write_at_all(fh, off, buf, MB8, MPI_BYTE, MPI_STATUS_IGNORE);
    }
    expect(reading ? "server killed during read_at_all" : "server killed during write_at_all",
           rc, MPI_ERR_IO);
    if (MPI_Wtime() - t0 > 40) {
        fprintf(stderr, "check_mpiio_err: the failure took %.1f s\n", MPI_Wtime() - t0);
        failures++;
    }
    crc = MPI_File_close(&fh);
    {
        int c, lo, hi;

        MPI_Error_class(crc, &c);
        MPI_Allreduce(&c, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
        MPI_Allreduce(&c, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        if (lo != hi || fh != MPI_FILE_NULL) {
            fprintf(stderr, "check_mpiio_err: close after the failure: classes %d..%d\n", lo, hi);
            failures++;
        }
    }
    if (rank == 0) {
        waitpid(killer, NULL, 0);
        fx_stop(&f2);
    }
    free(buf);
}

/* All ranks write 1 MiB each at_all while rank 0 holds server 1 stopped for stop_s
 * seconds (a child of it sends SIGCONT): the call's error class, the same on every rank. */
static int write_across_stop(MPI_File fh, pid_t server, int stop_s, char *buf)
{
    pid_t waker = -1;
    int rc, c, lo, hi;

    if (rank == 0) {
        kill(server, SIGSTOP);
        waker = fork();
        if (waker == 0) {
            sleep((unsigned)stop_s);
            kill(server, SIGCONT);
            _exit(0);
        }
    }
    MPI_Barrier(MPI_COMM_WORLD);
    rc = MPI_File_write_at_all(fh, (MPI_Offset)rank << 20, buf, 1 << 20, MPI_BYTE,
                               MPI_STATUS_IGNORE);
    MPI_Error_class(rc, &c);
    MPI_Allreduce(&c, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&c, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0) {
        waitpid(waker, NULL, 0);
        kill(server, SIGCONT);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    return lo == hi ? c : -1;
}

/* Opens name on hosts with cnio_timeout_ms=open_ms, sets it to set_ms by
 * MPI_File_set_info, and writes across a stop_s second stop of server 1 (pid victim on
 * rank 0): the write's error class, the same on every rank (-1 if not). */
static int retimed_write(const char *hosts, const char *name, int open_ms, int set_ms,
                         pid_t victim, int stop_s, char *buf)
{
    char uri[700], val[16];
    MPI_File fh;
    MPI_Info info;
    int c;

    snprintf(uri, sizeof(uri), "cnio://%s/%s?stripe_unit=64K&timeout_ms=%d", hosts, name,
             open_ms);
    if (MPI_File_open(MPI_COMM_WORLD, uri, MPI_MODE_CREATE | MPI_MODE_RDWR, MPI_INFO_NULL,
                      &fh) != MPI_SUCCESS) {
        fprintf(stderr, "check_mpiio_err: rank %d cannot open %s\n", rank, uri);
        MPI_Abort(MPI_COMM_WORLD, 99);
    }
    snprintf(val, sizeof(val), "%d", set_ms);
    MPI_Info_create(&info);
    MPI_Info_set(info, "cnio_timeout_ms", val);
    if (MPI_File_set_info(fh, info) != MPI_SUCCESS) {
        fprintf(stderr, "check_mpiio_err: rank %d: MPI_File_set_info cnio_timeout_ms=%s "
                "failed\n", rank, val);
        failures++;
    }
    MPI_Info_free(&info);
    c = write_across_stop(fh, victim, stop_s, buf);
    MPI_File_close(&fh);
    return c;
}

/*
 * cnio_timeout_ms set by MPI_File_set_info bounds the waits after it (doc/mpiio.md: it
 * changes on an open file). Opened with 1000 ms and raised to 30000, a write across a
 * 3 s stop of a server succeeds; opened with 30000 and lowered to 1000, one across a
 * 10 s stop fails with MPI_ERR_IO (the 30 s bound would have seen the server back).
 * While the hint did not reach the open object's connections, the first failed and
 * the second succeeded.
 */
static void test_set_info_timeout(void)
{
    struct fx f2;
    char hosts[512];
    char *buf = malloc(1 << 20);
    pid_t victim;
    int c;

    victim = own_servers(&f2, hosts, sizeof(hosts));
    fx_fill(buf, 1 << 20, (uint64_t)rank + 7);
    c = retimed_write(hosts, "raised.dat", 1000, 30000, victim, 3, buf);
    if (c != MPI_SUCCESS) {
        fprintf(stderr, "check_mpiio_err: rank %d: a write across a 3 s stop with "
                "cnio_timeout_ms raised from 1000 to 30000 by MPI_File_set_info: class %d\n",
                rank, c);
        failures++;
    }
    c = retimed_write(hosts, "lowered.dat", 30000, 1000, victim, 10, buf);
    if (c != MPI_ERR_IO) {
        fprintf(stderr, "check_mpiio_err: rank %d: a write across a 10 s stop with "
                "cnio_timeout_ms lowered from 30000 to 1000 by MPI_File_set_info: class %d, "
                "not MPI_ERR_IO\n", rank, c);
        failures++;
    } else if (rank == 0) {
        printf("cnio_timeout_ms by MPI_File_set_info: raised, a 3 s stop is waited out; "
               "lowered, a 10 s one fails\n");
    }
    if (rank == 0)
        fx_stop(&f2);
    free(buf);
}

int main(int argc, char **argv)
{
    static struct fx fx;
    char key[PATH_MAX] = "", dir[128] = "", hosts[512] = "";
    int any;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    if (rank == 0) {
        if (fx_start(&fx, 2, NULL) != 0)
            MPI_Abort(MPI_COMM_WORLD, 99);
        snprintf(key, sizeof(key), "%s", fx.key);
        snprintf(dir, sizeof(dir), "%s", fx.dir);
        snprintf(hosts, sizeof(hosts), "%s", fx.hosts);
    }
    MPI_Bcast(key, sizeof(key), MPI_CHAR, 0, MPI_COMM_WORLD);
    MPI_Bcast(dir, sizeof(dir), MPI_CHAR, 0, MPI_COMM_WORLD);
    MPI_Bcast(hosts, sizeof(hosts), MPI_CHAR, 0, MPI_COMM_WORLD);
    if (rank != 0) {
        snprintf(fx.dir, sizeof(fx.dir), "%s", dir);
        snprintf(fx.hosts, sizeof(fx.hosts), "%s", hosts);
    }
    setenv("CNIO_KEY_FILE", key, 1);
    test_open_errors(&fx);
    test_hints_and_sizes(&fx);
    if (nranks > 1) {
        test_mixed_names(&fx);
        test_intercomm(&fx);
    }
    test_server_killed(0);
    test_server_killed(1);
    test_set_info_timeout();
    MPI_Allreduce(&failures, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0)
        fx_stop(&fx);
    MPI_Finalize();
    return any ? 1 : 0;
}
