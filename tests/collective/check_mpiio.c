/*
 * check_mpiio.c - the MPI-IO interposition, table-driven: every row calls a group of
 * MPI_File_* functions on one file and writes what a user sees (error classes, counts,
 * positions, sizes, whether the bytes read back are right) as one line per rank.
 *
 *   check_mpiio local OUT    files in a fresh /tmp directory (Open MPI's own MPI-IO,
 *                            with or without libcnio_mpiio.so preloaded)
 *   check_mpiio cnio OUT     files cnio://.../mpiio/ROW on servers rank 0 starts
 *
 * Rank 0 writes "=ROW rank: RESULT" lines to OUT for rows whose results must be the same
 * on every target, "~ROW ..." for those where cnio and Open MPI legitimately differ
 * (hint names, documented unsupported forms). mpiio.test runs the program without the
 * library, with it on local files, and with it on cnio, and compares the outputs. Rows
 * also check what the documentation promises of cnio itself (a failure exits 1).
 */
#include "mpiio_rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct row rows[] = {
    { "open_close", 1, row_open_close },
    { "open_errors", 1, row_open_errors },
    { "excl_live", 1, row_excl_live },
    { "delete", 1, row_delete },
    { "delete_open", 1, row_delete_open },
    { "delete_on_close", 1, row_delete_on_close },
    { "delete_on_close_beside", 1, row_delete_on_close_beside },
    { "append", 1, row_append },
    { "explicit", 1, row_explicit },
    { "explicit_all", 1, row_explicit_all },
    { "view", 1, row_view },
    { "bottom", 1, row_bottom },
    { "byte_offset", 1, row_byte_offset },
    { "empty_view", 1, row_empty_view },
    { "individual", 1, row_individual },
    { "shared", 1, row_shared },
    { "ordered", 1, row_ordered },
    { "split", 1, row_split },
    { "nonblocking", 1, row_nonblocking },
    { "wrong_access", 1, row_wrong_access },
    { "sizes", 1, row_sizes },
    { "info", 0, row_info },
    { "atomicity", 1, row_atomicity },
    { "errhandler", 1, row_errhandler },
    { "fortran", 0, row_fortran },
    { "sequential", 0, row_sequential },
    { "datarep", 0, row_datarep },
    { "stale", 0, row_stale },
};

int rk, nr, is_cnio, failures;
static char base[600];

void rname(const char *row, const char *suffix, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s%s", base, row, suffix ? suffix : "");
}

void rout(struct rctx *c, const char *fmt, ...)
{
    va_list ap;
    size_t used = strlen(c->out);

    va_start(ap, fmt);
    vsnprintf(c->out + used, sizeof(c->out) - used, fmt, ap);
    va_end(ap);
}

void rcheck(struct rctx *c, int ok, const char *what)
{
    if (ok)
        return;
    fprintf(stderr, "check_mpiio: rank %d, row %s (%s): %s\n", rk, c->row,
            is_cnio ? "cnio" : "local", what);
    failures++;
}

/* Makes the bytes every rank wrote visible to every rank (MPI-IO's sync-barrier-sync). */
void rsync(MPI_File fh)
{
    MPI_File_sync(fh);
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_File_sync(fh);
}

static void run_rows(FILE *out)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct rctx c = { .row = rows[i].name };
        char *all = NULL;

        rows[i].fn(&c);
        MPI_Barrier(MPI_COMM_WORLD);
        if (rk == 0)
            all = malloc(sizeof(c.out) * (size_t)nr);
        MPI_Gather(c.out, sizeof(c.out), MPI_CHAR, all, sizeof(c.out), MPI_CHAR, 0,
                   MPI_COMM_WORLD);
        for (int r = 0; rk == 0 && r < nr; r++)
            fprintf(out, "%c%s %d: %s\n", rows[i].same ? '=' : '~', rows[i].name, r,
                    all + (size_t)r * sizeof(c.out));
        free(all);
    }
}

int main(int argc, char **argv)
{
    static struct fx fx;
    char key[PATH_MAX] = "";
    FILE *out = NULL;
    int any;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rk);
    MPI_Comm_size(MPI_COMM_WORLD, &nr);
    if (argc != 3 || (strcmp(argv[1], "local") && strcmp(argv[1], "cnio"))) {
        if (rk == 0)
            fprintf(stderr, "usage: check_mpiio local|cnio OUT\n");
        MPI_Finalize();
        return 2;
    }
    is_cnio = !strcmp(argv[1], "cnio");
    if (rk == 0) {
        char tmpl[] = "/tmp/cnio-mpiio-XXXXXX";

        if (is_cnio && fx_start(&fx, 2, NULL) != 0)
            MPI_Abort(MPI_COMM_WORLD, 99);
        if (is_cnio)
            snprintf(base, sizeof(base), "cnio://%s/mpiio", fx.hosts);
        else if (mkdtemp(tmpl))
            snprintf(base, sizeof(base), "%s", tmpl);
        else
            MPI_Abort(MPI_COMM_WORLD, 99);
        snprintf(key, sizeof(key), "%s", is_cnio ? fx.key : "");
        out = fopen(argv[2], "w");
        if (!out)
            MPI_Abort(MPI_COMM_WORLD, 99);
    }
    MPI_Bcast(base, sizeof(base), MPI_CHAR, 0, MPI_COMM_WORLD);
    MPI_Bcast(key, sizeof(key), MPI_CHAR, 0, MPI_COMM_WORLD);
    if (key[0])
        setenv("CNIO_KEY_FILE", key, 1);
    run_rows(out);
    MPI_Allreduce(&failures, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (rk == 0) {
        char cmd[700];

        fclose(out);
        if (is_cnio) {
            fx_stop(&fx);
        } else {
            snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
            if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", base);
        }
    }
    MPI_Finalize();
    return any ? 1 : 0;
}
