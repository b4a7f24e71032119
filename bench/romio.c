/*
 * romio.c - the reference cost of a collective I/O layer with no network: the same
 * patterns as `cnio bench` (contiguous: one block per rank; strided: 1 MiB segments
 * interleaved by rank through a vector view) with MPI_File_write_at_all and
 * MPI_File_read_at_all on a local file (put it in /dev/shm to leave the disk out).
 *
 *   mpirun --mca io romio321 -n N romio [--pattern contiguous|strided] [--size SIZE]
 *          [--reps R] [--json] [--keep] FILE
 *
 * Timing, verification and figures are as in `cnio bench`: each phase between barriers,
 * the slowest rank's time, CPU user+sys summed over ranks, median over repetitions.
 */
#include <mpi.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define RM_SEGMENT (1u << 20)
#define RM_MAX_REPS 100

struct rm {
    unsigned long long size, block;
    int strided, reps, json, keep;
    const char *path;
    int rank, nranks;
    MPI_Datatype ft;
    uint64_t *buf;
    double secs[2][RM_MAX_REPS], cpu[2][RM_MAX_REPS];
};

static int rm_parse(struct rm *m, int argc, char **argv)
{
    m->size = 256ull << 20;
    m->reps = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;

        if (!strcmp(a, "--json") || !strcmp(a, "--keep")) {
            *(a[2] == 'j' ? &m->json : &m->keep) = 1;
            continue;
        }
        if (a[0] != '-' && !m->path) {
            m->path = a;
            continue;
        }
        if (!v)
            return -1;
        i++;
        if (!strcmp(a, "--pattern") && (!strcmp(v, "strided") || !strcmp(v, "contiguous")))
            m->strided = v[0] == 's';
        else if (!strcmp(a, "--reps"))
            m->reps = atoi(v);
        else if (!strcmp(a, "--size"))
            m->size = strtoull(v, &end, 10) << (*end == 'K' ? 10 : *end == 'M' ? 20 :
                                                *end == 'G' ? 30 : 0);
        else
            return -1;
    }
    m->size &= ~7ull;
    return m->path && m->reps >= 1 && m->reps <= RM_MAX_REPS && m->size >= 8 &&
           m->size <= INT_MAX ? 0 : -1;
}

static uint64_t rm_off(const struct rm *m, uint64_t i)
{
    if (!m->strided)
        return (uint64_t)m->rank * m->size + i;
    return (i / m->block * (uint64_t)m->nranks + (uint64_t)m->rank) * m->block + i % m->block;
}

static uint64_t rm_word(uint64_t off, uint64_t seed)
{
    return ((off >> 3) + 1) * 0x9e3779b97f4a7c15ull ^ seed;
}

static double rm_cpu(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru))
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* One timed collective phase; returns the MPI error code (agreed). */
static int rm_phase(struct rm *m, MPI_File f, int wr, int rep)
{
    MPI_Offset off = m->strided ? 0 : (MPI_Offset)rm_off(m, 0);
    double t, c;
    int rc, out;

    MPI_Barrier(MPI_COMM_WORLD);
    c = rm_cpu();
    t = MPI_Wtime();
    if (wr)
        rc = MPI_File_write_at_all(f, off, m->buf, (int)m->size, MPI_BYTE, MPI_STATUS_IGNORE);
    else
        rc = MPI_File_read_at_all(f, off, m->buf, (int)m->size, MPI_BYTE, MPI_STATUS_IGNORE);
    t = MPI_Wtime() - t;
    c = rm_cpu() - c;
    MPI_Allreduce(&rc, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Reduce(&t, &m->secs[!wr][rep], 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Reduce(&c, &m->cpu[!wr][rep], 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    return out;
}

static int rm_rep(struct rm *m, int rep)
{
    uint64_t seed = 0x6a09e667f3bcc909ull * (uint64_t)(rep + 1);
    unsigned long long bad = 0, allbad = 0;
    MPI_File f;
    int rc;

    for (uint64_t i = 0; i < m->size; i += 8)
        m->buf[i / 8] = rm_word(rm_off(m, i), seed);
    rc = MPI_File_open(MPI_COMM_WORLD, m->path, MPI_MODE_CREATE | MPI_MODE_RDWR, MPI_INFO_NULL,
                       &f);
    if (rc != MPI_SUCCESS)
        return rc;
    if (m->strided)
        rc = MPI_File_set_view(f, (MPI_Offset)rm_off(m, 0), MPI_BYTE, m->ft, "native",
                               MPI_INFO_NULL);
    if (rc == MPI_SUCCESS)
        rc = rm_phase(m, f, 1, rep);
    memset(m->buf, 0, m->size);
    if (rc == MPI_SUCCESS)
        rc = rm_phase(m, f, 0, rep);
    MPI_File_close(&f);
    for (uint64_t i = 0; rc == MPI_SUCCESS && i < m->size; i += 8)
        bad += m->buf[i / 8] != rm_word(rm_off(m, i), seed);
    MPI_Allreduce(&bad, &allbad, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
    if (allbad && m->rank == 0)
        fprintf(stderr, "romio: DATA MISMATCH: %llu words differ\n", allbad);
    return rc != MPI_SUCCESS ? rc : allbad ? MPI_ERR_IO : MPI_SUCCESS;
}

static int rm_cmp(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;

    return a < b ? -1 : a > b;
}

static double rm_median(const double *v, int n)
{
    double s[RM_MAX_REPS];

    memcpy(s, v, (size_t)n * sizeof(double));
    qsort(s, (size_t)n, sizeof(double), rm_cmp);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void rm_report(const struct rm *m)
{
    static const char *const ph[2] = { "write", "read" };
    double total = (double)m->size * m->nranks, gb = total / 1e9;

    if (m->json)
        printf("{\"tool\":\"romio\",\"pattern\":\"%s\",\"ranks\":%d,\"bytes_per_rank\":%llu,"
               "\"total_bytes\":%.0f,\"reps\":%d", m->strided ? "strided" : "contiguous",
               m->nranks, m->size, total, m->reps);
    else
        printf("romio: %s, %d ranks x %llu bytes, %s, median of %d\n",
               m->strided ? "strided" : "contiguous", m->nranks, m->size, m->path, m->reps);
    for (int k = 0; k < 2; k++) {
        double s = rm_median(m->secs[k], m->reps), c = rm_median(m->cpu[k], m->reps);

        if (m->json)
            printf(",\"%s_s\":%.6f,\"%s_gbps\":%.4f,\"%s_cpu_s_per_gb\":%.4f", ph[k], s, ph[k],
                   gb / s, ph[k], c / gb);
        else
            printf("  %-5s %9.3f s %9.3f GB/s %9.3f CPU s/GB\n", ph[k], s, gb / s, c / gb);
    }
    if (m->json)
        printf("}\n");
}

int main(int argc, char **argv)
{
    struct rm m = { .ft = MPI_DATATYPE_NULL, .block = RM_SEGMENT };
    int rc = MPI_SUCCESS;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &m.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &m.nranks);
    if (rm_parse(&m, argc, argv)) {
        if (m.rank == 0)
            fprintf(stderr, "usage: mpirun -n N romio [--pattern contiguous|strided] "
                    "[--size SIZE] [--reps R] [--json] [--keep] FILE\n");
        MPI_Finalize();
        return 2;
    }
    if (m.strided) {
        m.block = m.size < RM_SEGMENT ? m.size : RM_SEGMENT;
        m.size = m.size / m.block * m.block;
        MPI_Type_vector((int)(m.size / m.block), (int)m.block, (int)m.block * m.nranks,
                        MPI_BYTE, &m.ft);
        MPI_Type_commit(&m.ft);
    }
    m.buf = malloc(m.size);
    if (!m.buf)
        MPI_Abort(MPI_COMM_WORLD, 1);
    for (int r = 0; r < m.reps && rc == MPI_SUCCESS; r++)
        rc = rm_rep(&m, r);
    if (rc == MPI_SUCCESS && m.rank == 0)
        rm_report(&m);
    if (rc != MPI_SUCCESS && m.rank == 0)
        fprintf(stderr, "romio: %s: MPI-IO failed (error %d)\n", m.path, rc);
    if (!m.keep && m.rank == 0)
        MPI_File_delete(m.path, MPI_INFO_NULL);
    if (m.ft != MPI_DATATYPE_NULL)
        MPI_Type_free(&m.ft);
    free(m.buf);
    MPI_Finalize();
    return rc == MPI_SUCCESS ? 0 : 1;
}
