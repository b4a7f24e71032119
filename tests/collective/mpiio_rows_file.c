/*
 * mpiio_rows_file.c - check_mpiio rows about files as a whole: open/close/delete and the
 * access modes, sizes, info, error handlers, Fortran handles, sequential mode, datarep.
 */
#include "mpiio_rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RW_CREATE (MPI_MODE_CREATE | MPI_MODE_RDWR)

void row_open_close(struct rctx *c)
{
    char name[700];
    MPI_File fh = MPI_FILE_NULL;
    MPI_Group g, wg;
    int rc, amode = -1, cmp = -1;

    rname(c->row, NULL, name, sizeof(name));
    rc = MPI_File_open(MPI_COMM_WORLD, name, RW_CREATE, MPI_INFO_NULL, &fh);
    rout(c, "open=%s notnull=%d", cls(rc), fh != MPI_FILE_NULL);
    rc = MPI_File_get_amode(fh, &amode);
    rout(c, " amode=%s,%d", cls(rc), amode == RW_CREATE);
    rc = MPI_File_get_group(fh, &g);
    MPI_Comm_group(MPI_COMM_WORLD, &wg);
    if (rc == MPI_SUCCESS) {
        MPI_Group_compare(g, wg, &cmp);
        MPI_Group_free(&g);
    }
    MPI_Group_free(&wg);
    rout(c, " group=%s,%d", cls(rc), cmp == MPI_IDENT);
    rc = MPI_File_close(&fh);
    rout(c, " close=%s null=%d", cls(rc), fh == MPI_FILE_NULL);
    if (rk == 0)
        MPI_File_delete(name, MPI_INFO_NULL);
}

void row_open_errors(struct rctx *c)
{
    char name[700], missing[700];
    MPI_File fh = MPI_FILE_NULL;
    int rc;

    rname(c->row, NULL, name, sizeof(name));
    rname(c->row, ".missing", missing, sizeof(missing));
    rc = MPI_File_open(MPI_COMM_WORLD, missing, MPI_MODE_RDONLY, MPI_INFO_NULL, &fh);
    rout(c, "missing=%s null=%d", cls(rc), fh == MPI_FILE_NULL);
    rc = MPI_File_open(MPI_COMM_WORLD, name, RW_CREATE, MPI_INFO_NULL, &fh);
    if (rc == MPI_SUCCESS)
        MPI_File_close(&fh);
    rc = MPI_File_open(MPI_COMM_WORLD, name, RW_CREATE | MPI_MODE_EXCL, MPI_INFO_NULL, &fh);
    rout(c, " excl=%s", cls(rc));
    if (rc == MPI_SUCCESS)
        MPI_File_close(&fh);
    rc = MPI_File_open(MPI_COMM_WORLD, name, MPI_MODE_RDONLY | MPI_MODE_CREATE, MPI_INFO_NULL, &fh);
    rout(c, " rdonly_create=%s", cls(rc));
    if (rc == MPI_SUCCESS)
        MPI_File_close(&fh);
    rc = MPI_File_open(MPI_COMM_WORLD, name, MPI_MODE_RDONLY | MPI_MODE_WRONLY, MPI_INFO_NULL, &fh);
    rout(c, " two_modes=%s", cls(rc));
    if (rc == MPI_SUCCESS)
        MPI_File_close(&fh);
    if (is_cnio && rk == 0) {
        char text[MPI_MAX_ERROR_STRING];
        int len = 0;

        MPI_File_open(MPI_COMM_SELF, missing, MPI_MODE_RDONLY, MPI_INFO_NULL, &fh);
        rc = MPI_File_open(MPI_COMM_SELF, missing, MPI_MODE_RDONLY, MPI_INFO_NULL, &fh);
        MPI_Error_string(rc, text, &len);
        rcheck(c, strstr(text, "cnio: no such object") != NULL, text);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    if (rk == 0)
        MPI_File_delete(name, MPI_INFO_NULL);
}

/* MPI_MODE_EXCL against a file another process is creating (open, not yet closed): the
 * file exists from its creator's open on (POSIX O_EXCL); a second EXCL open fails at
 * once, rather than at close, where it would discard what the creator wrote. */
void row_excl_live(struct rctx *c)
{
    char name[700];
    MPI_File fh = MPI_FILE_NULL;
    int rc, v = rk;

    rname(c->row, NULL, name, sizeof(name));
    if (rk == 0) {
        rc = MPI_File_open(MPI_COMM_SELF, name, MPI_MODE_CREATE | MPI_MODE_WRONLY |
                           MPI_MODE_EXCL, MPI_INFO_NULL, &fh);
        rout(c, "creator=%s", cls(rc));
    }
    MPI_Barrier(MPI_COMM_WORLD);   /* rank 0 holds it open, unwritten, while the others try */
    if (rk != 0) {   /* write-only (cnio stages it), then read-write */
        rc = MPI_File_open(MPI_COMM_SELF, name, MPI_MODE_CREATE | MPI_MODE_WRONLY |
                           MPI_MODE_EXCL, MPI_INFO_NULL, &fh);
        rout(c, "second=%s", cls(rc));
        if (rc == MPI_SUCCESS) {
            MPI_File_write_at(fh, (MPI_Offset)rk * sizeof(v), &v, 1, MPI_INT, MPI_STATUS_IGNORE);
            rout(c, " close=%s", cls(MPI_File_close(&fh)));
        }
        rc = MPI_File_open(MPI_COMM_SELF, name, RW_CREATE | MPI_MODE_EXCL, MPI_INFO_NULL, &fh);
        rout(c, " rw=%s", cls(rc));
        if (rc == MPI_SUCCESS)
            rout(c, " close=%s", cls(MPI_File_close(&fh)));
    }
    MPI_Barrier(MPI_COMM_WORLD);
    if (rk == 0 && fh != MPI_FILE_NULL) {   /* the creator writes and closes last */
        v = 12345;
        MPI_File_write_at(fh, 0, &v, 1, MPI_INT, MPI_STATUS_IGNORE);
        rout(c, " close=%s", cls(MPI_File_close(&fh)));
        v = -1;
        rc = MPI_File_open(MPI_COMM_SELF, name, MPI_MODE_RDONLY, MPI_INFO_NULL, &fh);
        if (rc == MPI_SUCCESS) {
            MPI_File_read_at(fh, 0, &v, 1, MPI_INT, MPI_STATUS_IGNORE);
            MPI_File_close(&fh);
        }
        rout(c, " kept=%d", v == 12345);   /* its bytes are there */
    }
    MPI_Barrier(MPI_COMM_WORLD);
    if (rk == 0)
        MPI_File_delete(name, MPI_INFO_NULL);
}

void row_delete(struct rctx *c)
{
    char name[700];
    MPI_File fh;
    int rc;

    rname(c->row, NULL, name, sizeof(name));
    rc = MPI_File_open(MPI_COMM_WORLD, name, RW_CREATE, MPI_INFO_NULL, &fh);
    if (rc == MPI_SUCCESS)
        MPI_File_close(&fh);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rk == 0) {
        rc = MPI_File_delete(name, MPI_INFO_NULL);
        rout(c, "delete=%s", cls(rc));
        rc = MPI_File_delete(name, MPI_INFO_NULL);
        rout(c, " again=%s", cls(rc));
    }
    MPI_Barrier(MPI_COMM_WORLD);
    rc = MPI_File_open(MPI_COMM_WORLD, name, MPI_MODE_RDONLY, MPI_INFO_NULL, &fh);
    rout(c, " open=%s", cls(rc));
    if (rc == MPI_SUCCESS)
        MPI_File_close(&fh);
}

/* Closes *fh, then opens name again read-only (and closes it): " close=... reopen=...",
 * the reopen's class saying whether the file is still there. */
static void close_reopen(struct rctx *c, MPI_File *fh, const char *name)
{
    int rc = MPI_File_close(fh);

    rout(c, " close=%s", cls(rc));
    rc = MPI_File_open(MPI_COMM_WORLD, name, MPI_MODE_RDONLY, MPI_INFO_NULL, fh);
    rout(c, " reopen=%s", cls(rc));
    if (rc == MPI_SUCCESS)
        MPI_File_close(fh);
}

/* MPI_File_delete of a file every rank has open and has written to, new (cnio stages
 * it) or opened again read-write (cnio writes it in place): the writes and the close go
 * on without error, as with a POSIX file unlinked while open, and it stays deleted. */
void row_delete_open(struct rctx *c)
{
    char name[700];
    MPI_File fh;
    int rc, v = rk;

    rname(c->row, NULL, name, sizeof(name));
    for (int again = 0; again < 2; again++) {
        if (again) {   /* the file first, closed */
            rc = MPI_File_open(MPI_COMM_WORLD, name, RW_CREATE, MPI_INFO_NULL, &fh);
            if (rc == MPI_SUCCESS)
                MPI_File_close(&fh);
        }
        rc = MPI_File_open(MPI_COMM_WORLD, name, again ? MPI_MODE_RDWR : RW_CREATE,
                           MPI_INFO_NULL, &fh);
        rout(c, "%sopen=%s", again ? " | again: " : "", cls(rc));
        if (rc != MPI_SUCCESS)
            continue;
        rc = MPI_File_write_at_all(fh, (MPI_Offset)rk * sizeof(v), &v, 1, MPI_INT,
                                   MPI_STATUS_IGNORE);
        rout(c, " write=%s", cls(rc));
        MPI_Barrier(MPI_COMM_WORLD);
        if (rk == 0)
            rout(c, " delete=%s", cls(MPI_File_delete(name, MPI_INFO_NULL)));
        MPI_Barrier(MPI_COMM_WORLD);
        rc = MPI_File_write_at_all(fh, (MPI_Offset)(nr + rk) * sizeof(v), &v, 1, MPI_INT,
                                   MPI_STATUS_IGNORE);
        rout(c, " write_after=%s", cls(rc));
        close_reopen(c, &fh, name);
    }
}

/* A handle opened with MPI_MODE_DELETE_ON_CLOSE closed while the job has the file open
 * through another (round 0: a file that exists, read-only; round 1: a new one, both
 * handles deleting on close): the other's writes and close go on without error, as
 * with MPI_File_delete (row_delete_open). Round 2: a handle deleting on close of a file
 * the job deleted meanwhile closes without error. As in ROMIO and OMPIO; each of these
 * closes failed "removed while open" (MPI_ERR_NO_SUCH_FILE). */
void row_delete_on_close_beside(struct rctx *c)
{
    char name[700];
    MPI_File a, b;
    int rc, v = rk;

    rname(c->row, NULL, name, sizeof(name));
    for (int round = 0; round < 3; round++) {
        if (round != 1) {   /* the file first, closed */
            rc = MPI_File_open(MPI_COMM_WORLD, name, RW_CREATE, MPI_INFO_NULL, &b);
            if (rc == MPI_SUCCESS)
                MPI_File_close(&b);
        }
        if (round == 2) {
            rc = MPI_File_open(MPI_COMM_WORLD, name, MPI_MODE_RDWR | MPI_MODE_DELETE_ON_CLOSE,
                               MPI_INFO_NULL, &a);
            rout(c, " | open_doc=%s", cls(rc));
            MPI_Barrier(MPI_COMM_WORLD);
            if (rk == 0)
                rout(c, " delete=%s", cls(MPI_File_delete(name, MPI_INFO_NULL)));
            MPI_Barrier(MPI_COMM_WORLD);
            if (rc == MPI_SUCCESS)
                rout(c, " close_doc=%s", cls(MPI_File_close(&a)));
            continue;
        }
        rc = MPI_File_open(MPI_COMM_WORLD, name,
                           round ? RW_CREATE | MPI_MODE_DELETE_ON_CLOSE : MPI_MODE_RDWR,
                           MPI_INFO_NULL, &b);
        rout(c, "%sopen=%s", round ? " | " : "", cls(rc));
        if (rc != MPI_SUCCESS)
            continue;
        rc = MPI_File_open(MPI_COMM_WORLD, name,
                           (round ? MPI_MODE_RDWR : MPI_MODE_RDONLY) | MPI_MODE_DELETE_ON_CLOSE,
                           MPI_INFO_NULL, &a);
        rout(c, " open_doc=%s", cls(rc));
        if (rc == MPI_SUCCESS)
            rout(c, " close_doc=%s", cls(MPI_File_close(&a)));
        rc = MPI_File_write_at_all(b, (MPI_Offset)rk * sizeof(v), &v, 1, MPI_INT,
                                   MPI_STATUS_IGNORE);
        rout(c, " write=%s", cls(rc));
        rout(c, " close=%s", cls(MPI_File_close(&b)));
    }
    rc = MPI_File_open(MPI_COMM_WORLD, name, MPI_MODE_RDONLY, MPI_INFO_NULL, &b);
    rout(c, " | reopen=%s", cls(rc));
    if (rc == MPI_SUCCESS)
        MPI_File_close(&b);
}

void row_delete_on_close(struct rctx *c)
{
    char name[700], b[64] = "x";
    MPI_File fh;
    int rc;

    rname(c->row, NULL, name, sizeof(name));
    rc = MPI_File_open(MPI_COMM_WORLD, name, RW_CREATE | MPI_MODE_DELETE_ON_CLOSE,
                       MPI_INFO_NULL, &fh);
    rout(c, "open=%s", cls(rc));
    rc = MPI_File_write_at(fh, rk * 64, b, 64, MPI_BYTE, MPI_STATUS_IGNORE);
    rout(c, " write=%s", cls(rc));
    close_reopen(c, &fh, name);
}

void row_append(struct rctx *c)
{
    char name[700], b[100];
    MPI_Offset pos = -1, spos = -1, size = -1;
    MPI_File fh;
    int rc;

    rname(c->row, NULL, name, sizeof(name));
    memset(b, 'a', sizeof(b));
    rc = MPI_File_open(MPI_COMM_WORLD, name, RW_CREATE, MPI_INFO_NULL, &fh);
    if (rk == 0)
        MPI_File_write_at(fh, 0, b, 100, MPI_BYTE, MPI_STATUS_IGNORE);
    MPI_File_close(&fh);
    rc = MPI_File_open(MPI_COMM_WORLD, name, MPI_MODE_WRONLY | MPI_MODE_APPEND, MPI_INFO_NULL, &fh);
    rout(c, "open=%s", cls(rc));
    MPI_File_get_position(fh, &pos);
    MPI_File_get_position_shared(fh, &spos);
    rout(c, " pos=%lld shared=%lld", (long long)pos, (long long)spos);
    if (rk == 0)
        rc = MPI_File_write(fh, b, 10, MPI_BYTE, MPI_STATUS_IGNORE);
    MPI_File_get_position(fh, &pos);
    rout(c, " write=%s pos=%lld", cls(rc), (long long)pos);
    MPI_File_close(&fh);
    MPI_File_open(MPI_COMM_WORLD, name, MPI_MODE_RDONLY | MPI_MODE_DELETE_ON_CLOSE,
                  MPI_INFO_NULL, &fh);
    MPI_File_get_size(fh, &size);
    rout(c, " size=%lld", (long long)size);
    MPI_File_close(&fh);
}

/* Writes through a read-only file and reads through a write-only one: the classes
 * Open MPI gives (and ROMIO, but for its write_shared). The collective forms hang in
 * Open MPI's own MPI-IO on 4 ranks (its aggregators fail, the others wait), and its
 * set_size says MPI_ERR_OTHER: those are checked on cnio alone. */
void row_wrong_access(struct rctx *c)
{
    char name[700], b[64] = "x";
    MPI_Request req;
    MPI_File fh;
    int rc;

    rname(c->row, NULL, name, sizeof(name));
    MPI_File_open(MPI_COMM_WORLD, name, RW_CREATE, MPI_INFO_NULL, &fh);
    MPI_File_close(&fh);
    MPI_File_open(MPI_COMM_WORLD, name, MPI_MODE_RDONLY, MPI_INFO_NULL, &fh);
    rc = MPI_File_write_at(fh, 0, b, 64, MPI_BYTE, MPI_STATUS_IGNORE);
    rout(c, "write_at=%s", cls(rc));
    rc = MPI_File_write(fh, b, 64, MPI_BYTE, MPI_STATUS_IGNORE);
    rout(c, " write=%s", cls(rc));
    rc = MPI_File_iwrite_at(fh, 0, b, 64, MPI_BYTE, &req);
    if (rc == MPI_SUCCESS)
        rc = MPI_Wait(&req, MPI_STATUS_IGNORE);
    rout(c, " iwrite_at=%s", cls(rc));
    rc = MPI_File_write_shared(fh, b, 64, MPI_BYTE, MPI_STATUS_IGNORE);
    rout(c, " write_shared=%s", cls(rc));
    if (is_cnio) {
        rc = MPI_File_write_at_all(fh, 0, b, 64, MPI_BYTE, MPI_STATUS_IGNORE);
        rcheck(c, !strcmp(cls(rc), "READ_ONLY"), "write_at_all on RDONLY is READ_ONLY");
        rc = MPI_File_write_ordered(fh, b, 64, MPI_BYTE, MPI_STATUS_IGNORE);
        rcheck(c, !strcmp(cls(rc), "READ_ONLY"), "write_ordered on RDONLY is READ_ONLY");
        rc = MPI_File_preallocate(fh, 100);
        rcheck(c, !strcmp(cls(rc), "READ_ONLY"), "preallocate on RDONLY is READ_ONLY");
        rc = MPI_File_set_size(fh, 100);
        rcheck(c, !strcmp(cls(rc), "READ_ONLY"), "set_size on RDONLY is READ_ONLY");
    }
    MPI_File_close(&fh);
    MPI_File_open(MPI_COMM_WORLD, name, MPI_MODE_WRONLY | MPI_MODE_DELETE_ON_CLOSE,
                  MPI_INFO_NULL, &fh);
    rc = MPI_File_read_at(fh, 0, b, 64, MPI_BYTE, MPI_STATUS_IGNORE);
    rout(c, " read_at=%s", cls(rc));
    if (is_cnio) {
        rc = MPI_File_read_at_all(fh, 0, b, 64, MPI_BYTE, MPI_STATUS_IGNORE);
        rcheck(c, !strcmp(cls(rc), "ACCESS"), "read_at_all on WRONLY is ACCESS");
    }
    MPI_File_close(&fh);
}

void row_sizes(struct rctx *c)
{
    char name[700];
    MPI_Offset s[5] = { -1, -1, -1, -1, -1 };
    MPI_File fh;
    int rc[5];

    rname(c->row, NULL, name, sizeof(name));
    MPI_File_open(MPI_COMM_WORLD, name, RW_CREATE | MPI_MODE_DELETE_ON_CLOSE, MPI_INFO_NULL, &fh);
    /* A barrier after each size: Open MPI's own set_size does not wait for every rank. */
    rc[0] = MPI_File_set_size(fh, 100000);
    MPI_File_get_size(fh, &s[0]);
    MPI_Barrier(MPI_COMM_WORLD);
    rc[1] = MPI_File_set_size(fh, 10);
    MPI_File_get_size(fh, &s[1]);
    MPI_Barrier(MPI_COMM_WORLD);
    rc[2] = MPI_File_preallocate(fh, 5000);
    MPI_File_get_size(fh, &s[2]);
    MPI_Barrier(MPI_COMM_WORLD);
    rc[3] = MPI_File_preallocate(fh, 100);
    MPI_File_get_size(fh, &s[3]);
    MPI_Barrier(MPI_COMM_WORLD);
    rc[4] = MPI_File_sync(fh);
    rout(c, "set=%s,%lld shrink=%s,%lld prealloc=%s,%lld noshrink=%s,%lld sync=%s",
         cls(rc[0]), (long long)s[0], cls(rc[1]), (long long)s[1], cls(rc[2]),
         (long long)s[2], cls(rc[3]), (long long)s[3], cls(rc[4]));
    MPI_File_close(&fh);
}

static void info_value(MPI_Info info, const char *key, char *val, size_t cap)
{
    int flag = 0;

    snprintf(val, cap, "-");
    if (info != MPI_INFO_NULL)
        MPI_Info_get(info, key, (int)cap - 1, val, &flag);
    if (!flag)
        snprintf(val, cap, "-");
}

/* Hints reach the file and get_info reports them (cnio's names and values checked). */
void row_info(struct rctx *c)
{
    char name[700], v1[64], v2[64];
    MPI_Info info, used = MPI_INFO_NULL;
    MPI_File fh;
    int rc;

    rname(c->row, NULL, name, sizeof(name));
    MPI_Info_create(&info);
    MPI_Info_set(info, "cb_buffer_size", "1048576");
    MPI_Info_set(info, "striping_unit", "65536");
    rc = MPI_File_open(MPI_COMM_WORLD, name, RW_CREATE | MPI_MODE_DELETE_ON_CLOSE, info, &fh);
    rout(c, "open=%s", cls(rc));
    rc = MPI_File_get_info(fh, &used);
    info_value(used, "cb_buffer_size", v1, sizeof(v1));
    info_value(used, "striping_unit", v2, sizeof(v2));
    rout(c, " get=%s cb_buffer_size=%s striping_unit=%s", cls(rc), v1, v2);
    if (used != MPI_INFO_NULL)
        MPI_Info_free(&used);
    MPI_Info_set(info, "cb_buffer_size", "2097152");
    rc = MPI_File_set_info(fh, info);
    MPI_File_get_info(fh, &used);
    info_value(used, "cb_buffer_size", v1, sizeof(v1));
    rout(c, " set=%s cb_buffer_size=%s", cls(rc), v1);
    if (is_cnio) {
        rcheck(c, strstr(c->out, "striping_unit=65536") != NULL, "striping_unit in effect");
        rcheck(c, strstr(c->out, "set=ok cb_buffer_size=2097152") != NULL, "set_info");
    }
    if (used != MPI_INFO_NULL)
        MPI_Info_free(&used);
    /* values that differ between the ranks (MPI-3.1 13.2.8 wants them the same): cnio
     * takes rank 0's on every rank, as at the open */
    snprintf(v1, sizeof(v1), "%d", 65536 * (rk + 1));
    MPI_Info_set(info, "cb_buffer_size", v1);
    snprintf(v1, sizeof(v1), "%d", rk + 1);
    MPI_Info_set(info, "cb_nodes", v1);
    rc = MPI_File_set_info(fh, info);
    used = MPI_INFO_NULL;
    MPI_File_get_info(fh, &used);
    info_value(used, "cb_buffer_size", v1, sizeof(v1));
    info_value(used, "cb_nodes", v2, sizeof(v2));
    rout(c, " differ=%s cb_buffer_size=%s cb_nodes=%s", cls(rc), v1, v2);
    if (is_cnio)
        rcheck(c, strstr(c->out, "differ=ok cb_buffer_size=65536 cb_nodes=1") != NULL,
               "set_info of values that differ between the ranks");
    if (used != MPI_INFO_NULL)
        MPI_Info_free(&used);
    MPI_Info_free(&info);
    MPI_File_close(&fh);
}

static int eh_calls, eh_code;
static MPI_File eh_file;

static void eh_fn(MPI_File *fh, int *code, ...)
{
    eh_calls++;
    eh_code = *code;
    eh_file = *fh;
}

void row_errhandler(struct rctx *c)
{
    char name[700], missing[700], b[8] = "";
    MPI_Errhandler eh, got, fnull;
    MPI_File fh, fh2;
    int rc;

    rname(c->row, NULL, name, sizeof(name));
    rname(c->row, ".missing", missing, sizeof(missing));
    MPI_File_open(MPI_COMM_WORLD, name, MPI_MODE_CREATE | MPI_MODE_WRONLY, MPI_INFO_NULL, &fh);
    MPI_File_get_errhandler(fh, &got);
    rout(c, "default_return=%d", got == MPI_ERRORS_RETURN);
    MPI_Errhandler_free(&got);
    MPI_File_create_errhandler(eh_fn, &eh);
    rc = MPI_File_set_errhandler(fh, eh);
    MPI_File_get_errhandler(fh, &got);
    rout(c, " set=%s same=%d", cls(rc), got == eh);
    MPI_Errhandler_free(&got);
    rc = MPI_File_read_at(fh, 0, b, 8, MPI_BYTE, MPI_STATUS_IGNORE);
    rout(c, " read_wronly=%s calls=%d on_file=%d code_same=%d", cls(rc), eh_calls,
         eh_file == fh, eh_code == rc);
    rc = MPI_File_call_errhandler(fh, MPI_ERR_OTHER);
    rout(c, " call=%s calls=%d code=%s", cls(rc), eh_calls, cls(eh_code));
    /* The handler on MPI_FILE_NULL: open errors, and the default of new files. */
    MPI_File_get_errhandler(MPI_FILE_NULL, &fnull);
    MPI_File_set_errhandler(MPI_FILE_NULL, eh);
    rc = MPI_File_open(MPI_COMM_WORLD, missing, MPI_MODE_RDONLY, MPI_INFO_NULL, &fh2);
    rout(c, " open_missing=%s calls=%d on_null=%d", cls(rc), eh_calls, eh_file == MPI_FILE_NULL);
    /* RDWR: a read-only open of an object this job is still creating is refused on cnio
     * (doc/mpiio.md, "Objects being created"); a second writer joins it. */
    rc = MPI_File_open(MPI_COMM_WORLD, name, MPI_MODE_RDWR, MPI_INFO_NULL, &fh2);
    MPI_File_get_errhandler(fh2, &got);
    rout(c, " inherited=%d", got == eh);
    MPI_Errhandler_free(&got);
    rc = MPI_File_close(&fh2);
    rout(c, " close=%s calls=%d", cls(rc), eh_calls);
    MPI_File_set_errhandler(MPI_FILE_NULL, fnull);
    MPI_Errhandler_free(&fnull);
    MPI_Errhandler_free(&eh);
    rc = MPI_File_read_at(fh, 0, b, 8, MPI_BYTE, MPI_STATUS_IGNORE);
    rout(c, " after_free=%s calls=%d", cls(rc), eh_calls);
    MPI_File_set_errhandler(fh, MPI_ERRORS_RETURN);
    MPI_File_close(&fh);
    eh_calls = 0;
    MPI_Barrier(MPI_COMM_WORLD);
    if (rk == 0)
        MPI_File_delete(name, MPI_INFO_NULL);
}

void row_fortran(struct rctx *c)
{
    char name[700];
    MPI_File fh;
    MPI_Fint fi;

    rname(c->row, NULL, name, sizeof(name));
    MPI_File_open(MPI_COMM_WORLD, name, RW_CREATE | MPI_MODE_DELETE_ON_CLOSE, MPI_INFO_NULL, &fh);
    fi = MPI_File_c2f(fh);
    rout(c, "roundtrip=%d null=%d", MPI_File_f2c(fi) == fh,
         MPI_File_f2c(MPI_File_c2f(MPI_FILE_NULL)) == MPI_FILE_NULL);
    if (is_cnio)
        rcheck(c, fi >= 0x40000000, "cnio Fortran handles start at 2^30");
    MPI_File_close(&fh);
}

/* MPI_MODE_SEQUENTIAL: the shared pointer only (cnio refuses the others, documented). */
void row_sequential(struct rctx *c)
{
    char name[700], b[16];
    MPI_Offset pos = -1;
    MPI_File fh;
    int rc;

    rname(c->row, NULL, name, sizeof(name));
    memset(b, 's', sizeof(b));
    rc = MPI_File_open(MPI_COMM_WORLD, name, MPI_MODE_CREATE | MPI_MODE_WRONLY |
                       MPI_MODE_SEQUENTIAL | MPI_MODE_DELETE_ON_CLOSE, MPI_INFO_NULL, &fh);
    rout(c, "open=%s", cls(rc));
    rc = MPI_File_write_shared(fh, b, 16, MPI_BYTE, MPI_STATUS_IGNORE);
    rout(c, " write_shared=%s", cls(rc));
    rc = MPI_File_write_ordered(fh, b, 16, MPI_BYTE, MPI_STATUS_IGNORE);
    MPI_File_get_position_shared(fh, &pos);
    rout(c, " write_ordered=%s pos=%lld", cls(rc), (long long)pos);
    rc = MPI_File_write_at(fh, 0, b, 16, MPI_BYTE, MPI_STATUS_IGNORE);
    rout(c, " write_at=%s", cls(rc));
    if (is_cnio) {
        MPI_Offset disp = -1;
        MPI_Datatype et, ft;
        char rep[MPI_MAX_DATAREP_STRING];

        /* MPI_DISPLACEMENT_CURRENT: the view starts at the shared pointer's byte. */
        rc = MPI_File_set_view(fh, MPI_DISPLACEMENT_CURRENT, MPI_INT, MPI_INT, "native",
                               MPI_INFO_NULL);
        MPI_File_get_view(fh, &disp, &et, &ft, rep);
        MPI_File_get_position_shared(fh, &pos);
        rout(c, " current=%s,%lld,%lld", cls(rc), (long long)disp, (long long)pos);
        rcheck(c, rc == MPI_SUCCESS && disp == 32LL * nr && pos == 0,
               "set_view(MPI_DISPLACEMENT_CURRENT)");
    }
    if (is_cnio)
        rcheck(c, strstr(c->out, "pos=") && !strstr(c->out, "write_at=ok"),
               "explicit offsets refused in sequential mode");
    rc = MPI_File_seek(fh, 0, MPI_SEEK_SET);
    rout(c, " seek=%s", cls(rc));
    MPI_File_close(&fh);
}

void row_datarep(struct rctx *c)
{
    char name[700];
    MPI_File fh;
    int rc;

    rname(c->row, NULL, name, sizeof(name));
    MPI_File_open(MPI_COMM_WORLD, name, RW_CREATE | MPI_MODE_DELETE_ON_CLOSE, MPI_INFO_NULL, &fh);
    rc = MPI_File_set_view(fh, 0, MPI_INT, MPI_INT, "external32", MPI_INFO_NULL);
    rout(c, "external32=%s", cls(rc));
    if (is_cnio)
        rcheck(c, !strcmp(cls(rc), "UNSUPPORTED_DATAREP"), "external32 refused");
    rc = MPI_File_set_view(fh, 0, MPI_INT, MPI_INT, "native", MPI_INFO_NULL);
    rout(c, " native=%s", cls(rc));
    MPI_File_close(&fh);
}

/* A copy of a closed cnio handle is still known: MPI_ERR_FILE, never Open MPI's code.
 * (On Open MPI's own files a stale handle is undefined behaviour: cnio files only.) */
void row_stale(struct rctx *c)
{
    char name[700];
    MPI_Offset size;
    MPI_File fh, copy;
    int rc;

    if (!is_cnio) {
        rout(c, "cnio only");
        return;
    }
    rname(c->row, NULL, name, sizeof(name));
    MPI_File_open(MPI_COMM_WORLD, name, RW_CREATE | MPI_MODE_DELETE_ON_CLOSE, MPI_INFO_NULL, &fh);
    copy = fh;
    MPI_File_close(&fh);
    rc = MPI_File_get_size(copy, &size);
    rout(c, "get_size=%s", cls(rc));
    rc = MPI_File_close(&copy);
    rout(c, " close=%s", cls(rc));
    rcheck(c, !strcmp(c->out, "get_size=FILE close=FILE"), "stale handle");
}
