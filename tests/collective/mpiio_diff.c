/*
 * mpiio_diff.c - one plain MPI-IO program (no cnio in it) that walks the calls of MPI-3.1
 * chapter 13 a real code makes and prints what a user sees: error classes, status counts
 * (MPI_Get_count, MPI_Get_elements), positions, sizes and the values read back, one line
 * per check and rank, in rank order, from rank 0.
 *
 *   mpiio_diff BASE [romio|ompio]   BASE a directory (Open MPI's own MPI-IO: say which,
 *                                   see skip()) or a cnio:// prefix (run under `cnio
 *                                   run`); the files are BASE/NAME
 *
 * mpiio-diff.test runs it on a local directory through ROMIO and on cnio-servers through
 * libcnio_mpiio.so, with 1, 2 and 3 ranks, and diffs the outputs line by line; the files
 * it leaves (v, p, s, c, z) are compared byte for byte (cmp with `cnio cp URI -`).
 * Lines whose tag starts with '~' differ by design (doc/mpiio.md) and are not compared.
 */
#include "mpiio_class.h"

#include <mpi.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rk, nr;
static char base[1024];
static char out[16384];
static const char *impl = "cnio";   /* the MPI-IO underneath: "cnio", "romio" or "ompio" */

static void say(const char *tag, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const char *tag, const char *fmt, ...)
{
    size_t used = strlen(out);
    va_list ap;

    snprintf(out + used, sizeof(out) - used, "%s ", tag);
    used = strlen(out);
    va_start(ap, fmt);
    vsnprintf(out + used, sizeof(out) - used, fmt, ap);
    va_end(ap);
    used = strlen(out);
    snprintf(out + used, sizeof(out) - used, "\n");
}

/* Prints this section's lines of every rank, rank by rank, prefixed "SECTION rR ". */
static void flush(const char *section)
{
    char *all = NULL;

    if (rk == 0)
        all = malloc(sizeof(out) * (size_t)nr);
    MPI_Gather(out, sizeof(out), MPI_CHAR, all, sizeof(out), MPI_CHAR, 0, MPI_COMM_WORLD);
    for (int r = 0; rk == 0 && r < nr; r++) {
        char *s = all + (size_t)r * sizeof(out), *nl;

        for (; (nl = strchr(s, '\n')); s = nl + 1)
            printf("%s r%d %.*s\n", section, r, (int)(nl - s), s);
    }
    fflush(stdout);
    free(all);
    out[0] = 0;
    MPI_Barrier(MPI_COMM_WORLD);
}

/*
 * Open MPI 4.1's own MPI-IO cannot make some calls: its ROMIO (romio321) has no MPI-3.1
 * nonblocking collectives (MPI_File_iwrite_at_all and the like crash with SIGSEGV), and
 * OMPIO's split collective read that meets the end of the file never ends. Run on
 * that one (the test says which), such a call is not made: its line says "skipped", and
 * the test takes the other one's line as the reference.
 */
static int skip(const char *which, const char *tag)
{
    if (strcmp(impl, which) != 0)
        return 0;
    say(tag, "skipped");
    return 1;
}

static void name(const char *n, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", base, n);
}

/*
 * A status no call has filled in: 7777 bytes. A call that leaves its status alone (ROMIO's
 * collective and ordered writes of 0 items do) shows this, or the last call's counts,
 * not whatever the stack held.
 */
static void unset(MPI_Status *st)
{
    memset(st, 0, sizeof(*st));
    MPI_Status_set_elements_x(st, MPI_BYTE, 7777);
}

/* The counts a status gives for datatype dt: count, elements, bytes. */
static void counts(const char *tag, int rc, MPI_Status *st, MPI_Datatype dt)
{
    int c = -7, e = -7;
    MPI_Count b = -7;

    if (rc != MPI_SUCCESS) {
        say(tag, "%s", cls(rc));
        return;
    }
    MPI_Get_count(st, dt, &c);
    MPI_Get_elements(st, dt, &e);
    MPI_Get_elements_x(st, MPI_BYTE, &b);
    say(tag, "ok count=%d elements=%d bytes=%lld", c == MPI_UNDEFINED ? -1 : c,
        e == MPI_UNDEFINED ? -1 : e, (long long)b);
}

static void ints(const char *tag, const int *v, int n)
{
    char s[2048] = "";

    for (int i = 0; i < n; i++)
        snprintf(s + strlen(s), sizeof(s) - strlen(s), " %d", v[i]);
    say(tag, "%s", s);
}

static void pos(const char *tag, MPI_File fh)
{
    MPI_Offset p = -7;
    int rc = MPI_File_get_position(fh, &p);

    say(tag, "%s %lld", cls(rc), (long long)p);
}

/*
 * The shared pointer, read by every rank between two barriers. MPI_File_get_position_shared
 * is not collective, and a collective call need not synchronise (MPI-3.1 13.6.4, 5.13): a
 * rank may still be reading the pointer when another has gone on into the next
 * seek_shared or ordered access and moved it, or read it before the last ordered access
 * has moved it for every rank. ROMIO does both: its seek_shared sets the pointer on rank
 * 0 before its barrier, its ordered calls move it rank by rank as a token passes.
 */
static MPI_Offset pos_shared(const char *tag, MPI_File fh)
{
    MPI_Offset p = -7;
    int rc;

    MPI_Barrier(MPI_COMM_WORLD);
    rc = MPI_File_get_position_shared(fh, &p);
    MPI_Barrier(MPI_COMM_WORLD);
    say(tag, "%s %lld", cls(rc), (long long)p);
    return p;
}

static void size(const char *tag, MPI_File fh)
{
    MPI_Offset s = -7;
    int rc = MPI_File_get_size(fh, &s);

    say(tag, "%s %lld", cls(rc), (long long)s);
}

static void byte_offsets(const char *tag, MPI_File fh, int n)
{
    char s[1024] = "";

    for (int i = 0; i < n; i++) {
        MPI_Offset d = -7;
        int rc = MPI_File_get_byte_offset(fh, i, &d);

        snprintf(s + strlen(s), sizeof(s) - strlen(s), " %s:%lld",
                 rc == MPI_SUCCESS ? "" : cls(rc), (long long)d);
    }
    say(tag, "%s", s);
}

static void sync3(MPI_File fh)
{
    MPI_File_sync(fh);
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_File_sync(fh);
}

static int opn(const char *n, int amode, MPI_File *fh)
{
    char p[1100];

    name(n, p, sizeof(p));
    *fh = MPI_FILE_NULL;
    return MPI_File_open(MPI_COMM_WORLD, p, amode, MPI_INFO_NULL, fh);
}

static void cls_open(const char *tag, const char *n, int amode)
{
    MPI_File fh;
    int rc = opn(n, amode, &fh);

    say(tag, "%s null=%d", cls(rc), fh == MPI_FILE_NULL);
    if (rc == MPI_SUCCESS)
        MPI_File_close(&fh);
}

/* Rank 0 alone deletes n (MPI_File_delete is not collective). */
static void del0(const char *tag, const char *n)
{
    char p[1100];

    name(n, p, sizeof(p));
    if (rk == 0)
        say(tag, "%s", cls(MPI_File_delete(p, MPI_INFO_NULL)));
    MPI_Barrier(MPI_COMM_WORLD);
}

/* ---- open modes and their errors ---- */
static void sec_open(void)
{
    MPI_File fh;
    MPI_Status st;
    char w[8];
    int rc;

    unset(&st);
    del0("del_missing", "m");
    cls_open("open_rdonly_missing", "m", MPI_MODE_RDONLY);
    cls_open("open_rdwr_missing", "m", MPI_MODE_RDWR);
    rc = opn("m", MPI_MODE_CREATE | MPI_MODE_WRONLY, &fh);
    say("open_create", "%s", cls(rc));
    memset(w, 'A' + rk, sizeof(w));
    rc = MPI_File_write_at(fh, rk * 8, w, 8, MPI_CHAR, &st);
    counts("write_at", rc, &st, MPI_CHAR);
    say("close", "%s", cls(MPI_File_close(&fh)));
    cls_open("open_excl_existing", "m", MPI_MODE_CREATE | MPI_MODE_EXCL | MPI_MODE_WRONLY);
    cls_open("open_create_rdonly", "m", MPI_MODE_CREATE | MPI_MODE_RDONLY);
    cls_open("open_rdonly_wronly", "m", MPI_MODE_RDONLY | MPI_MODE_WRONLY);
    cls_open("open_no_access", "m", 0);
    cls_open("open_seq_rdwr", "m", MPI_MODE_SEQUENTIAL | MPI_MODE_RDWR);
    flush("open");
}

/* ---- read-only and write-only handles ---- */
static void sec_rdonly(void)
{
    MPI_File fh;
    MPI_Status st;
    MPI_Request rq;
    char b[16], w[8];
    int rc, am = -1;

    unset(&st);
    memset(w, 'A' + rk, sizeof(w));
    rc = opn("m", MPI_MODE_RDONLY, &fh);
    say("open_rdonly", "%s", cls(rc));
    MPI_File_get_amode(fh, &am);
    say("amode", "%d", am == MPI_MODE_RDONLY);
    size("size", fh);
    memset(b, 0, sizeof(b));
    rc = MPI_File_read_at(fh, ((rk + 1) % nr) * 8, b, 8, MPI_CHAR, &st);
    counts("read_at", rc, &st, MPI_CHAR);
    say("read_at_bytes", "%.8s", b);
    say("ro_write_at", "%s", cls(MPI_File_write_at(fh, 0, w, 8, MPI_CHAR, &st)));
    say("ro_write_at_all", "%s", cls(MPI_File_write_at_all(fh, 0, w, 8, MPI_CHAR, &st)));
    rq = MPI_REQUEST_NULL;
    rc = MPI_File_iwrite_at(fh, 0, w, 8, MPI_CHAR, &rq);
    if (rc == MPI_SUCCESS)
        rc = MPI_Wait(&rq, &st);
    say("ro_iwrite_at", "%s", cls(rc));
    say("ro_write", "%s", cls(MPI_File_write(fh, w, 8, MPI_CHAR, &st)));
    say("ro_set_size", "%s", cls(MPI_File_set_size(fh, 4)));
    say("ro_preallocate", "%s", cls(MPI_File_preallocate(fh, 4096)));
    size("ro_size_after", fh);
    say("close", "%s", cls(MPI_File_close(&fh)));

    rc = opn("m", MPI_MODE_WRONLY, &fh);
    say("open_wronly", "%s", cls(rc));
    say("wo_read_at", "%s", cls(MPI_File_read_at(fh, 0, b, 8, MPI_CHAR, &st)));
    say("wo_read_at_all", "%s", cls(MPI_File_read_at_all(fh, 0, b, 8, MPI_CHAR, &st)));
    say("wo_read", "%s", cls(MPI_File_read(fh, b, 8, MPI_CHAR, &st)));
    pos("wo_pos", fh);
    say("close", "%s", cls(MPI_File_close(&fh)));
    flush("rdonly");
}

/* ---- APPEND, DELETE_ON_CLOSE, MPI_File_delete ---- */
static void sec_append(void)
{
    MPI_File fh;
    MPI_Status st;
    char b[16], w[8];
    int rc;

    unset(&st);
    rc = opn("m", MPI_MODE_WRONLY | MPI_MODE_APPEND, &fh);
    say("open_append", "%s", cls(rc));
    pos("append_pos", fh);
    pos_shared("append_pos_shared", fh);
    MPI_Barrier(MPI_COMM_WORLD);
    memset(w, 'a' + rk, sizeof(w));
    rc = MPI_File_write_ordered(fh, w, 4, MPI_CHAR, &st);
    counts("append_write_ordered", rc, &st, MPI_CHAR);
    pos_shared("append_pos_shared2", fh);
    pos("append_pos2", fh);
    say("close", "%s", cls(MPI_File_close(&fh)));
    rc = opn("m", MPI_MODE_RDWR | MPI_MODE_DELETE_ON_CLOSE, &fh);
    say("open_doc", "%s", cls(rc));
    size("doc_size", fh);
    memset(b, 0, sizeof(b));
    rc = MPI_File_read_at(fh, 8 * nr + 4 * rk, b, 8, MPI_CHAR, &st);
    counts("doc_read_tail", rc, &st, MPI_CHAR);
    say("doc_read_tail_bytes", "%.4s", b);
    say("close", "%s", cls(MPI_File_close(&fh)));
    cls_open("open_after_doc", "m", MPI_MODE_RDONLY);
    cls_open("open_excl_new", "m2", MPI_MODE_CREATE | MPI_MODE_EXCL | MPI_MODE_RDWR);
    del0("delete", "m2");
    del0("delete_again", "m2");
    cls_open("open_deleted", "m2", MPI_MODE_RDONLY);
    flush("append");
}

/* Rank r's ints of a subarray view: global [4][2*nr], this rank's [4][2] at column 2r. */
static MPI_Datatype subarray_type(void)
{
    int gs[2] = { 4, 2 * nr }, ss[2] = { 4, 2 }, st[2] = { 0, 2 * rk };
    MPI_Datatype t;

    MPI_Type_create_subarray(2, gs, ss, st, MPI_ORDER_C, MPI_INT, &t);
    MPI_Type_commit(&t);
    return t;
}

/* One int of every nr, three to a tile, the tile resized to 3*nr ints. */
static MPI_Datatype vector_type(void)
{
    MPI_Datatype v, t;

    MPI_Type_vector(3, 1, nr, MPI_INT, &v);
    MPI_Type_create_resized(v, 0, (MPI_Aint)(3 * nr * sizeof(int)), &t);
    MPI_Type_commit(&t);
    MPI_Type_free(&v);
    return t;
}

static void view_back(const char *tag, MPI_File fh)
{
    MPI_Offset d = -1;
    MPI_Datatype e, f;
    char rep[MPI_MAX_DATAREP_STRING] = "";
    int ni, na, nd, ce = -1, cf = -1, rc;

    rc = MPI_File_get_view(fh, &d, &e, &f, rep);
    if (rc != MPI_SUCCESS) {
        say(tag, "%s", cls(rc));
        return;
    }
    MPI_Type_get_envelope(e, &ni, &na, &nd, &ce);
    MPI_Type_get_envelope(f, &ni, &na, &nd, &cf);
    say(tag, "ok disp=%lld etype_int=%d ecomb=%d rep=%s", (long long)d, e == MPI_INT, ce, rep);
    say("~get_view_filetype_combiner", "%d", cf);
    if (ce != MPI_COMBINER_NAMED)
        MPI_Type_free(&e);
    if (cf != MPI_COMBINER_NAMED)
        MPI_Type_free(&f);
}

/* ---- views: subarray, resized vector, non-zero displacements, holes, EOF ---- */
static void sec_view(void)
{
    MPI_File fh;
    MPI_Status st;
    MPI_Datatype sub = subarray_type(), vec = vector_type(), two;
    MPI_Offset sz = 0;
    MPI_Aint ext = -1;
    int v[16], r[16], rc;
    unsigned char *all;

    unset(&st);
    opn("v", MPI_MODE_CREATE | MPI_MODE_RDWR, &fh);
    rc = MPI_File_set_view(fh, 16, MPI_INT, sub, "native", MPI_INFO_NULL);
    say("set_view_subarray", "%s", cls(rc));
    view_back("get_view_subarray", fh);
    MPI_File_get_type_extent(fh, sub, &ext);
    say("type_extent", "%ld", (long)ext);
    for (int i = 0; i < 8; i++)
        v[i] = rk * 1000 + i;
    rc = MPI_File_write_all(fh, v, 8, MPI_INT, &st);
    counts("write_all_subarray", rc, &st, MPI_INT);
    pos("pos_subarray", fh);
    byte_offsets("byte_offsets_subarray", fh, 10);
    sync3(fh);
    memset(r, 0, sizeof(r));
    rc = MPI_File_read_at_all(fh, 0, r, 8, MPI_INT, &st);
    counts("read_at_all_subarray", rc, &st, MPI_INT);
    ints("read_subarray", r, 8);

    rc = MPI_File_set_view(fh, 16 + 32 * nr + 4 * rk, MPI_INT, vec, "native", MPI_INFO_NULL);
    say("set_view_vector", "%s", cls(rc));
    view_back("get_view_vector", fh);
    pos("pos_after_set_view", fh);
    for (int i = 0; i < 5; i++)
        v[i] = rk * 100 + i + 1;
    rc = MPI_File_write_at_all(fh, 1, v, 5, MPI_INT, &st);
    counts("write_at_all_vector", rc, &st, MPI_INT);
    byte_offsets("byte_offsets_vector", fh, 7);
    sync3(fh);
    MPI_File_get_size(fh, &sz);
    say("size_vector", "%lld", (long long)sz);
    for (int i = 0; i < 16; i++)
        r[i] = -1;
    rc = MPI_File_read_at_all(fh, 0, r, 7, MPI_INT, &st);
    counts("read_at_all_vector_eof", rc, &st, MPI_INT);
    ints("read_vector_eof", r, 6);
    MPI_Type_contiguous(2, MPI_INT, &two);
    MPI_Type_commit(&two);
    for (int i = 0; i < 16; i++)
        r[i] = -1;
    rc = MPI_File_read_at(fh, 4, r, 2, two, &st);
    counts("read_at_two_eof", rc, &st, two);
    ints("read_two_eof", r, 2);
    rc = MPI_File_seek(fh, 0, MPI_SEEK_END);
    say("seek_end_vector", "%s", cls(rc));
    pos("pos_end_vector", fh);
    MPI_Type_free(&two);

    rc = MPI_File_set_view(fh, 0, MPI_BYTE, MPI_BYTE, "native", MPI_INFO_NULL);
    say("set_view_bytes", "%s", cls(rc));
    all = calloc(1, (size_t)sz + 64);
    rc = MPI_File_read_all(fh, all, (int)sz + 64, MPI_BYTE, &st);
    counts("~read_all_bytes_eof", rc, &st, MPI_BYTE);
    {
        uint32_t h = 2166136261u;

        for (MPI_Offset i = 0; i < sz + 64; i++)
            h = (h ^ all[i]) * 16777619u;
        say("read_all_bytes_hash", "%08x", h);
    }
    free(all);
    pos("~pos_bytes_eof", fh);
    say("close", "%s", cls(MPI_File_close(&fh)));
    MPI_Type_free(&sub);
    MPI_Type_free(&vec);
    flush("view");
}

/* ---- the individual file pointer through a view ---- */
static void sec_ptr(void)
{
    MPI_File fh;
    MPI_Status st;
    MPI_Datatype vec = vector_type();
    int v[16], r[16], rc;

    unset(&st);
    opn("p", MPI_MODE_CREATE | MPI_MODE_RDWR, &fh);
    rc = MPI_File_set_view(fh, 8 + 4 * rk, MPI_INT, vec, "native", MPI_INFO_NULL);
    say("set_view", "%s", cls(rc));
    say("seek_set", "%s", cls(MPI_File_seek(fh, 2, MPI_SEEK_SET)));
    for (int i = 0; i < 3; i++)
        v[i] = rk * 10 + i + 7;
    rc = MPI_File_write(fh, v, 3, MPI_INT, &st);
    counts("write", rc, &st, MPI_INT);
    pos("pos_write", fh);
    byte_offsets("byte_offsets", fh, 6);
    say("seek_cur", "%s", cls(MPI_File_seek(fh, -2, MPI_SEEK_CUR)));
    pos("pos_seek_cur", fh);
    memset(r, 0, sizeof(r));
    rc = MPI_File_read(fh, r, 2, MPI_INT, &st);
    counts("read", rc, &st, MPI_INT);
    ints("read_vals", r, 2);
    pos("pos_read", fh);
    say("seek_neg", "%s", cls(MPI_File_seek(fh, -100, MPI_SEEK_CUR)));
    pos("pos_seek_neg", fh);
    sync3(fh);
    say("seek_end", "%s", cls(MPI_File_seek(fh, 0, MPI_SEEK_END)));
    pos("pos_seek_end", fh);
    say("seek_set0", "%s", cls(MPI_File_seek(fh, 0, MPI_SEEK_SET)));
    for (int i = 0; i < 16; i++)
        r[i] = -1;
    rc = MPI_File_read(fh, r, 10, MPI_INT, &st);
    counts("read_eof", rc, &st, MPI_INT);
    ints("read_eof_vals", r, 10);
    pos("~pos_read_eof", fh);
    say("seek_set3", "%s", cls(MPI_File_seek(fh, 3, MPI_SEEK_SET)));
    rc = MPI_File_read_all(fh, r, 4, MPI_INT, &st);
    counts("~read_all_eof", rc, &st, MPI_INT);
    pos("~pos_read_all_eof", fh);
    say("seek_set1", "%s", cls(MPI_File_seek(fh, 1, MPI_SEEK_SET)));
    rc = MPI_File_write_all(fh, v, rk == 1 ? 0 : 1, MPI_INT, &st);
    counts("write_all_some_zero", rc, &st, MPI_INT);
    pos("pos_write_all_some_zero", fh);
    say("close", "%s", cls(MPI_File_close(&fh)));
    MPI_Type_free(&vec);
    flush("ptr");
}

/* ---- the shared file pointer, ordered access ---- */
static void sec_shared(void)
{
    MPI_File fh;
    MPI_Status st;
    MPI_Offset base_pos = 0;
    int v[16], r[16], rc;

    unset(&st);
    opn("s", MPI_MODE_CREATE | MPI_MODE_RDWR, &fh);
    rc = MPI_File_set_view(fh, 12, MPI_INT, MPI_INT, "native", MPI_INFO_NULL);
    say("set_view", "%s", cls(rc));
    pos_shared("pos_shared0", fh);
    MPI_Barrier(MPI_COMM_WORLD);
    for (int t = 0; t < nr; t++) {
        if (t == rk) {
            v[0] = rk * 10 + 1;
            v[1] = rk * 10 + 2;
            rc = MPI_File_write_shared(fh, v, 2, MPI_INT, &st);
            counts("write_shared", rc, &st, MPI_INT);
        }
        MPI_Barrier(MPI_COMM_WORLD);
    }
    pos_shared("pos_shared_after", fh);
    say("seek_shared0", "%s", cls(MPI_File_seek_shared(fh, 0, MPI_SEEK_SET)));
    memset(r, 0, sizeof(r));
    rc = MPI_File_read_ordered(fh, r, 2, MPI_INT, &st);
    counts("read_ordered", rc, &st, MPI_INT);
    ints("read_ordered_vals", r, 2);
    /* the offset of a seek_shared must be the same on every rank (MPI-3.1 13.4.4) */
    base_pos = pos_shared("pos_shared_read_ordered", fh);
    for (int i = 0; i < rk; i++)
        v[i] = 500 + rk * 10 + i;
    rc = MPI_File_write_ordered(fh, v, rk, MPI_INT, &st);
    counts("write_ordered_var", rc, &st, MPI_INT);
    pos_shared("pos_shared_write_ordered", fh);
    say("seek_shared_back", "%s", cls(MPI_File_seek_shared(fh, base_pos, MPI_SEEK_SET)));
    memset(r, 0, sizeof(r));
    rc = MPI_File_read_ordered(fh, r, rk + 1, MPI_INT, &st);
    counts("read_ordered_eof", rc, &st, MPI_INT);
    ints("read_ordered_eof_vals", r, rk + 1);
    say("seek_shared_end", "%s", cls(MPI_File_seek_shared(fh, 0, MPI_SEEK_END)));
    pos_shared("pos_shared_end", fh);
    say("seek_shared_cur", "%s", cls(MPI_File_seek_shared(fh, -1, MPI_SEEK_CUR)));
    pos_shared("pos_shared_cur", fh);
    sync3(fh);
    if (rk == nr - 1) {
        rc = MPI_File_read_shared(fh, r, 4, MPI_INT, &st);
        counts("read_shared_eof", rc, &st, MPI_INT);
        ints("read_shared_eof_val", r, 1);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    pos_shared("pos_shared_read_eof", fh);
    rc = MPI_File_write_shared(fh, v, 0, MPI_INT, &st);
    counts("write_shared_zero", rc, &st, MPI_INT);
    say("close", "%s", cls(MPI_File_close(&fh)));
    flush("shared");
}

static int waitc(const char *tag, int rc, MPI_Request *rq, MPI_Datatype dt, int test)
{
    MPI_Status st;
    int flag = 0;

    if (rc != MPI_SUCCESS) {
        say(tag, "%s", cls(rc));
        return rc;
    }
    if (test) {
        while (!flag && rc == MPI_SUCCESS)
            rc = MPI_Test(rq, &flag, &st);
    } else {
        rc = MPI_Wait(rq, &st);
    }
    counts(tag, rc, &st, dt);
    say(tag, "request_null=%d", *rq == MPI_REQUEST_NULL);
    return rc;
}

/* A nonblocking collective, or its blocking twin, whose lines then say "skipped", on
 * ROMIO (which has none) and for reads on OMPIO (whose iread_all that meets the end of
 * the file never completes). */
static void nb_coll(const char *tag, MPI_File fh, MPI_Offset off, void *buf, int count,
                    int write)
{
    MPI_Request rq;
    MPI_Status st;
    int rc;

    if (strcmp(impl, "romio") == 0 || (strcmp(impl, "ompio") == 0 && !write)) {
        if (off < 0)
            rc = write ? MPI_File_write_all(fh, buf, count, MPI_INT, &st)
                       : MPI_File_read_all(fh, buf, count, MPI_INT, &st);
        else
            rc = write ? MPI_File_write_at_all(fh, off, buf, count, MPI_INT, &st)
                       : MPI_File_read_at_all(fh, off, buf, count, MPI_INT, &st);
        say(tag, "skipped");
        say(tag, "skipped");
        return;
    }
    if (off < 0)
        rc = write ? MPI_File_iwrite_all(fh, buf, count, MPI_INT, &rq)
                   : MPI_File_iread_all(fh, buf, count, MPI_INT, &rq);
    else
        rc = write ? MPI_File_iwrite_at_all(fh, off, buf, count, MPI_INT, &rq)
                   : MPI_File_iread_at_all(fh, off, buf, count, MPI_INT, &rq);
    waitc(tag, rc, &rq, MPI_INT, write);
}

/* ---- collective access with empty ranks, split collectives ---- */
static void sec_coll(void)
{
    MPI_File fh;
    MPI_Status st;
    int v[64], r[64], rc, n = rk % 2 ? 0 : 16;

    unset(&st);
    for (int i = 0; i < 64; i++)
        v[i] = rk * 1000 + i;
    opn("c", MPI_MODE_CREATE | MPI_MODE_RDWR, &fh);
    rc = MPI_File_set_view(fh, 4, MPI_INT, MPI_INT, "native", MPI_INFO_NULL);
    say("set_view", "%s", cls(rc));
    rc = MPI_File_write_at_all(fh, rk * 16, v, n, MPI_INT, &st);
    counts("write_at_all_some_empty", rc, &st, MPI_INT);
    rc = MPI_File_seek(fh, 16 * nr + rk * 4, MPI_SEEK_SET);
    rc = MPI_File_write_all_begin(fh, v + 1, 4, MPI_INT);
    say("write_all_begin", "%s", cls(rc));
    rc = MPI_File_write_all_end(fh, v + 1, &st);
    counts("write_all_end", rc, &st, MPI_INT);
    pos("pos_split", fh);
    sync3(fh);
    memset(r, 0, sizeof(r));
    rc = MPI_File_read_at_all_begin(fh, rk * 16, r, 16, MPI_INT);
    say("read_at_all_begin", "%s", cls(rc));
    rc = MPI_File_read_at_all_end(fh, r, &st);
    counts("read_at_all_end", rc, &st, MPI_INT);
    ints("read_split_vals", r, 3);
    rc = MPI_File_seek(fh, 20 * nr - 2, MPI_SEEK_SET);
    if (skip("ompio", "read_all_begin_eof")) {
        say("~read_all_end_eof", "skipped");
    } else {
        rc = MPI_File_read_all_begin(fh, r, 4, MPI_INT);
        say("read_all_begin_eof", "%s", cls(rc));
        rc = MPI_File_read_all_end(fh, r, &st);
        counts("~read_all_end_eof", rc, &st, MPI_INT);
    }
    say("seek_shared", "%s", cls(MPI_File_seek_shared(fh, 20 * nr, MPI_SEEK_SET)));
    rc = MPI_File_write_ordered_begin(fh, v, rk + 1, MPI_INT);
    say("write_ordered_begin", "%s", cls(rc));
    rc = MPI_File_write_ordered_end(fh, v, &st);
    counts("write_ordered_end", rc, &st, MPI_INT);
    pos_shared("pos_shared_split", fh);
    sync3(fh);
    say("seek_shared2", "%s", cls(MPI_File_seek_shared(fh, 20 * nr, MPI_SEEK_SET)));
    rc = MPI_File_read_ordered_begin(fh, r, rk + 1, MPI_INT);
    say("read_ordered_begin", "%s", cls(rc));
    rc = MPI_File_read_ordered_end(fh, r, &st);
    counts("read_ordered_end", rc, &st, MPI_INT);
    ints("read_ordered_split_vals", r, rk + 1);
    say("~end_without_begin", "%s", cls(MPI_File_read_all_end(fh, r, &st)));
    say("close", "%s", cls(MPI_File_close(&fh)));
    flush("coll");
}

/* ---- nonblocking access of each kind, completed by MPI_Wait, MPI_Test, MPI_Waitall ---- */
static void sec_nonblocking(void)
{
    MPI_File fh;
    MPI_Request rq, rqs[2];
    MPI_Status sts[2];
    int v[64], r[64], rc;

    for (int i = 0; i < 64; i++)
        v[i] = rk * 1000 + i;
    opn("c", MPI_MODE_RDWR, &fh);
    rc = MPI_File_set_view(fh, 4, MPI_INT, MPI_INT, "native", MPI_INFO_NULL);
    say("set_view", "%s", cls(rc));
    rc = MPI_File_iwrite_at(fh, 40 * nr + rk * 8, v + 2, 8, MPI_INT, &rq);
    waitc("iwrite_at", rc, &rq, MPI_INT, 0);
    rc = MPI_File_iread_at(fh, 40 * nr + rk * 8, r, 8, MPI_INT, &rq);
    waitc("iread_at", rc, &rq, MPI_INT, 1);
    ints("iread_at_vals", r, 8);
    nb_coll("iwrite_at_all_some_empty", fh, 48 * nr + rk * 4, v + 3, rk % 2 ? 0 : 4, 1);
    sync3(fh);
    rc = MPI_File_seek(fh, 48 * nr + rk * 4, MPI_SEEK_SET);
    memset(r, 0, sizeof(r));
    nb_coll("~iread_all_eof", fh, -1, r, 8, 0);
    ints("iread_all_vals", r, rk % 2 ? 0 : 4);
    rc = MPI_File_seek(fh, 52 * nr + rk * 3, MPI_SEEK_SET);
    rc = MPI_File_iwrite(fh, v + 5, 2, MPI_INT, &rq);
    waitc("iwrite", rc, &rq, MPI_INT, 0);
    pos("pos_iwrite", fh);
    nb_coll("iwrite_all", fh, -1, v + 6, 1, 1);
    pos("pos_iwrite_all", fh);
    sync3(fh);
    rc = MPI_File_seek_shared(fh, 52 * nr, MPI_SEEK_SET);
    for (int t = 0; t < nr; t++) {
        if (t == rk) {
            rc = MPI_File_iread_shared(fh, r, 2, MPI_INT, &rq);
            waitc("iread_shared", rc, &rq, MPI_INT, 0);
            ints("iread_shared_vals", r, 2);
        }
        MPI_Barrier(MPI_COMM_WORLD);
    }
    /* (OMPIO's nonblocking read that meets the end of the file never completes; ROMIO's
     * counts what was asked: no reference for the second) */
    rc = MPI_File_iread_at(fh, 0, r, 2, MPI_INT, &rqs[0]);
    if (rc == MPI_SUCCESS)
        rc = MPI_File_iread_at(fh, strcmp(impl, "ompio") ? 60 * nr : 0, r + 2, 2, MPI_INT,
                               &rqs[1]);
    if (rc == MPI_SUCCESS)
        rc = MPI_Waitall(2, rqs, sts);
    say("waitall", "%s", cls(rc));
    counts("waitall0", rc, &sts[0], MPI_INT);
    counts("~waitall1_eof", rc, &sts[1], MPI_INT);
    say("close", "%s", cls(MPI_File_close(&fh)));
    flush("nonblocking");
}

/* ---- sizes, preallocate, reads at and past the end ---- */
static void sec_size(void)
{
    MPI_File fh;
    MPI_Status st;
    unsigned char b[256];
    int r[16], rc, nz = 0;

    unset(&st);
    opn("z", MPI_MODE_CREATE | MPI_MODE_RDWR, &fh);
    size("size_new", fh);
    say("set_size_100", "%s", cls(MPI_File_set_size(fh, 100)));
    size("size_100", fh);
    memset(b, 'x', sizeof(b));
    if (rk == 0)
        MPI_File_write_at(fh, 0, b, 60, MPI_BYTE, &st);
    sync3(fh);
    say("set_size_40", "%s", cls(MPI_File_set_size(fh, 40)));
    size("size_40", fh);
    say("preallocate_200", "%s", cls(MPI_File_preallocate(fh, 200)));
    size("size_200", fh);
    say("preallocate_50", "%s", cls(MPI_File_preallocate(fh, 50)));
    size("size_still_200", fh);
    memset(b, 0xee, sizeof(b));
    rc = MPI_File_read_at(fh, 30, b, 200, MPI_BYTE, &st);
    counts("read_hole_eof", rc, &st, MPI_BYTE);
    for (int i = 0; i < 170; i++)
        nz += b[i] != (i < 10 ? 'x' : 0);
    say("read_hole_bad_bytes", "%d", nz);
    say("byte_past_count", "%02x", b[170]);
    say("set_size_neg", "%s", cls(MPI_File_set_size(fh, -1)));
    say("set_size_38", "%s", cls(MPI_File_set_size(fh, 38)));
    rc = MPI_File_set_view(fh, 0, MPI_INT, MPI_INT, "native", MPI_INFO_NULL);
    say("set_view_ints", "%s", cls(rc));
    rc = MPI_File_read_at_all(fh, 6, r, 4, MPI_INT, &st);
    counts("read_partial_etype", rc, &st, MPI_INT);
    rc = MPI_File_read_at(fh, 9, r, 4, MPI_INT, &st);
    counts("read_at_eof", rc, &st, MPI_INT);
    rc = MPI_File_read_at(fh, 100, r, 4, MPI_INT, &st);
    counts("read_far_past_eof", rc, &st, MPI_INT);
    rc = MPI_File_read_at(fh, 0, r, 0, MPI_INT, &st);
    counts("read_zero", rc, &st, MPI_INT);
    rc = MPI_File_write_at(fh, 0, r, 0, MPI_INT, &st);
    counts("write_zero", rc, &st, MPI_INT);
    size("size_after_zero_write", fh);
    say("close", "%s", cls(MPI_File_close(&fh)));
    flush("size");
}

/* ---- atomic mode, sync, the hints in effect ---- */
static void sec_atomic(void)
{
    MPI_File fh;
    MPI_Status st;
    MPI_Info info = MPI_INFO_NULL;
    unsigned char b[64];
    int rc, flag = -1, nz = 0, nk = -1;

    unset(&st);
    opn("z", MPI_MODE_RDWR, &fh);
    say("set_atomicity", "%s", cls(MPI_File_set_atomicity(fh, 1)));
    MPI_File_get_atomicity(fh, &flag);
    say("get_atomicity", "%d", flag);
    memset(b, 'P' + rk, 64);
    rc = MPI_File_write_at(fh, 0, b, 64, MPI_BYTE, &st);
    counts("atomic_write", rc, &st, MPI_BYTE);
    sync3(fh);
    memset(b, 0, 64);
    rc = MPI_File_read_at(fh, 0, b, 64, MPI_BYTE, &st);
    nz = 0;
    for (int i = 1; i < 64; i++)
        nz += b[i] != b[0];
    say("atomic_read_uniform", "%s %d", cls(rc), nz == 0);
    say("unset_atomicity", "%s", cls(MPI_File_set_atomicity(fh, 0)));
    MPI_File_get_atomicity(fh, &flag);
    say("get_atomicity0", "%d", flag);
    memset(b, 'Z', 64);
    if (rk == 0)
        MPI_File_write_at(fh, 0, b, 64, MPI_BYTE, &st);
    say("sync", "%s", cls(MPI_File_sync(fh)));
    size("size_final", fh);

    rc = MPI_File_get_info(fh, &info);
    if (rc == MPI_SUCCESS)
        MPI_Info_get_nkeys(info, &nk);
    say("get_info", "%s", cls(rc));
    if (rc == MPI_SUCCESS) {
        char key[MPI_MAX_INFO_KEY + 1], val[256];
        char s[4096] = "";

        for (int i = 0; i < nk; i++) {
            MPI_Info_get_nthkey(info, i, key);
            MPI_Info_get(info, key, sizeof(val) - 1, val, &flag);
            snprintf(s + strlen(s), sizeof(s) - strlen(s), " %s=%s", key, val);
        }
        say("~info", "%s", s);
        MPI_Info_free(&info);
    }
    say("close", "%s", cls(MPI_File_close(&fh)));
    flush("atomic");
}

/* ---- argument errors ---- */
static void sec_err(void)
{
    MPI_File fh;
    MPI_Status st;
    MPI_Offset d;
    int r[8] = { 0 };

    unset(&st);
    opn("e", MPI_MODE_CREATE | MPI_MODE_RDWR | MPI_MODE_DELETE_ON_CLOSE, &fh);
    say("write_neg_count", "%s", cls(MPI_File_write_at(fh, 0, r, -1, MPI_INT, &st)));
    say("read_neg_count", "%s", cls(MPI_File_read_at(fh, 0, r, -1, MPI_INT, &st)));
    say("write_neg_offset", "%s", cls(MPI_File_write_at(fh, -4, r, 1, MPI_INT, &st)));
    say("read_neg_offset", "%s", cls(MPI_File_read_at(fh, -4, r, 1, MPI_INT, &st)));
    say("write_null_type", "%s",
        cls(MPI_File_write_at(fh, 0, r, 1, MPI_DATATYPE_NULL, &st)));
    say("seek_bad_whence", "%s", cls(MPI_File_seek(fh, 0, 12345)));
    say("byte_offset_neg", "%s", cls(MPI_File_get_byte_offset(fh, -1, &d)));
    say("set_view_neg_disp", "%s",
        cls(MPI_File_set_view(fh, -5, MPI_INT, MPI_INT, "native", MPI_INFO_NULL)));
    say("set_view_ints_of_chars", "%s",
        cls(MPI_File_set_view(fh, 0, MPI_INT, MPI_CHAR, "native", MPI_INFO_NULL)));
    say("set_view_ok", "%s",
        cls(MPI_File_set_view(fh, 0, MPI_INT, MPI_INT, "native", MPI_INFO_NULL)));
    say("~write_partial_etype", "%s", cls(MPI_File_write_at(fh, 0, r, 3, MPI_CHAR, &st)));
    say("close", "%s", cls(MPI_File_close(&fh)));
    cls_open("open_after_doc", "e", MPI_MODE_RDONLY);
    flush("err");
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rk);
    MPI_Comm_size(MPI_COMM_WORLD, &nr);
    if (argc != 2 && argc != 3) {
        if (rk == 0)
            fprintf(stderr, "usage: mpiio_diff BASE [romio|ompio]\n");
        MPI_Finalize();
        return 2;
    }
    snprintf(base, sizeof(base), "%s", argv[1]);
    if (argc == 3)
        impl = argv[2];
    sec_open();
    sec_rdonly();
    sec_append();
    sec_view();
    sec_ptr();
    sec_shared();
    sec_coll();
    sec_nonblocking();
    sec_size();
    sec_atomic();
    sec_err();
    MPI_Finalize();
    return 0;
}
