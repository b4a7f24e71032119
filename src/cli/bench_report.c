/*
 * bench_report.c - `cnio bench`'s figures, on rank 0: every repetition's seconds, GB/s,
 * CPU seconds per GB (or latencies, or open times) and their medians, as a table or as
 * JSON.
 */
#include "bench.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

const char *const bench_pat_names[PAT_OPEN + 1] = { "contiguous", "strided", "subarray", "small", "open" };

int bench_cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, c = *(const double *)y;

    return a < c ? -1 : a > c;
}

static double bench_median(const struct bench *b, size_t field_off, int k)
{
    double v[BENCH_MAX_REPS];

    for (int i = 0; i < b->reps; i++)
        v[i] = ((const double *)((const char *)&b->res[i] + field_off))[k];
    qsort(v, (size_t)b->reps, sizeof(double), bench_cmp_double);
    return b->reps % 2 ? v[b->reps / 2] : (v[b->reps / 2 - 1] + v[b->reps / 2]) / 2;
}

#define BENCH_MED(b, field, k) bench_median(b, offsetof(struct bench_res, field), k)

static double bench_total(const struct bench *b)
{
    return (double)b->bytes * b->nranks;
}

static double bench_gbps(const struct bench *b, double secs)
{
    return secs > 0 ? bench_total(b) / secs / 1e9 : 0;
}

static double bench_cpu_gb(const struct bench *b, double cpu)
{
    return b->bytes ? cpu / (bench_total(b) / 1e9) : 0;
}

static void bench_json_rep(const struct bench *b, int i)
{
    const struct bench_res *r = &b->res[i];

    for (int k = 0; k < 2; k++) {
        printf("%s{\"rep\":%d,\"phase\":\"%s\",\"s\":%.6f", i || k ? "," : "", i + 1,
               b->pat == PAT_OPEN ? (k ? "on_demand" : "eager") : (k ? "read" : "write"),
               r->secs[k]);
        if (b->pat == PAT_OPEN)
            printf(",\"open_s\":%.6f,\"conns_per_server\":%.0f", r->open_s[k], r->conns[k]);
        else
            printf(",\"gbps\":%.4f,\"cpu_s\":%.4f", bench_gbps(b, r->secs[k]), r->cpu[k]);
        if (b->pat == PAT_SMALL)
            printf(",\"p50\":%.1f,\"p99\":%.1f", r->p50[k], r->p99[k]);
        printf("}");
    }
}

void bench_json(const struct bench *b)
{
    static const char *const ph[2][2] = { { "write", "read" }, { "eager", "on_demand" } };
    int o = b->pat == PAT_OPEN;
    uint64_t unit = 0;

    cnio__parse_size(b->unit_used, &unit);
    printf("{\"tool\":\"cnio\",\"pattern\":\"%s\",\"ranks\":%d,\"servers\":%d,\"lanes\":%d,"
           "\"transport\":\"%s\",\"stripe_unit\":%llu,\"bytes_per_rank\":%llu,"
           "\"total_bytes\":%.0f,\"reps\":%d", bench_pat_names[b->pat], b->nranks, b->nhosts,
           atoi(b->lanes_used), b->transport_used, (unsigned long long)unit,
           (unsigned long long)b->bytes, bench_total(b), b->reps);
    for (int k = 0; k < 2; k++) {
        double s = BENCH_MED(b, secs, k);

        if (o) {
            printf(",\"%s_ms\":%.3f,\"%s_open_ms\":%.3f,\"%s_conns_per_server\":%.0f",
                   ph[1][k], s * 1e3, ph[1][k], BENCH_MED(b, open_s, k) * 1e3, ph[1][k],
                   BENCH_MED(b, conns, k));
            continue;
        }
        printf(",\"%s_s\":%.6f,\"%s_gbps\":%.4f,\"%s_cpu_s_per_gb\":%.4f", ph[0][k], s,
               ph[0][k], bench_gbps(b, s), ph[0][k], bench_cpu_gb(b, BENCH_MED(b, cpu, k)));
        if (b->pat == PAT_SMALL)
            printf(",\"%s_p50_us\":%.1f,\"%s_p99_us\":%.1f,\"%s_kiops\":%.2f", ph[0][k],
                   BENCH_MED(b, p50, k), ph[0][k], BENCH_MED(b, p99, k), ph[0][k],
                   s > 0 ? (double)b->size * b->nranks / s / 1e3 : 0.0);
    }
    printf(",\"runs\":[");
    for (int i = 0; i < b->reps; i++)
        bench_json_rep(b, i);
    printf("]}\n");
}

static void bench_table_head(const struct bench *b)
{
    char a[32], c[32], u[32];
    uint64_t unit = 0;

    cnio__parse_size(b->unit_used, &unit);
    printf("cnio bench: %s, %d rank%s, %d server%s x %s lane%s (%s), stripe unit %s\n",
           bench_pat_names[b->pat], b->nranks, b->nranks > 1 ? "s" : "", b->nhosts,
           b->nhosts > 1 ? "s" : "", b->lanes_used, atoi(b->lanes_used) > 1 ? "s" : "",
           b->transport_used, cli_bytes(unit, u, sizeof(u)));
    if (b->pat == PAT_OPEN)
        printf("  write of %s per rank; %d repetition%s; object %s\n",
               b->size_set ? cli_bytes(b->bytes, a, sizeof(a)) : "8 B x servers", b->reps,
               b->reps > 1 ? "s" : "", b->uri);
    else
        printf("  %s per rank%s, %s per phase, %d repetition%s; object %s\n",
               cli_bytes(b->bytes, a, sizeof(a)), b->pat == PAT_SMALL ? " in 4 KiB ops" : "",
               cli_bytes((uint64_t)bench_total(b), c, sizeof(c)), b->reps,
               b->reps > 1 ? "s" : "", b->uri);
}

static void bench_table_row(const struct bench *b, const char *rep, int k, double s,
                            double cpu, double p50, double p99, double open_s, double conns)
{
    static const char *const ph[2][2] = { { "write", "read" }, { "eager", "on_demand" } };

    if (b->pat == PAT_OPEN) {
        printf("  %6s  %-9s %10.1f %10.1f %8.0f\n", rep, ph[1][k], open_s * 1e3, s * 1e3,
               conns);
        return;
    }
    printf("  %6s  %-8s %9.3f %9.3f %10.3f", rep, ph[0][k], s, bench_gbps(b, s),
           bench_cpu_gb(b, cpu));
    if (b->pat == PAT_SMALL)
        printf(" %9.1f %9.1f", p50, p99);
    printf("\n");
}

void bench_table(const struct bench *b)
{
    char rep[16];

    bench_table_head(b);
    if (b->pat == PAT_OPEN)
        printf("  %6s  %-9s %10s %10s %8s\n", "rep", "connect", "open ms", "total ms",
               "conns/srv");
    else
        printf("  %6s  %-8s %9s %9s %10s%s\n", "rep", "phase", "seconds", "GB/s", "CPU s/GB",
               b->pat == PAT_SMALL ? "   p50 us    p99 us" : "");
    for (int i = 0; i < b->reps; i++)
        for (int k = 0; k < 2; k++) {
            const struct bench_res *r = &b->res[i];

            snprintf(rep, sizeof(rep), "%d", i + 1);
            bench_table_row(b, rep, k, r->secs[k], r->cpu[k], r->p50[k], r->p99[k],
                            r->open_s[k], r->conns[k]);
        }
    for (int k = 0; k < 2 && b->reps > 1; k++)
        bench_table_row(b, "median", k, BENCH_MED(b, secs, k), BENCH_MED(b, cpu, k),
                        BENCH_MED(b, p50, k), BENCH_MED(b, p99, k), BENCH_MED(b, open_s, k),
                        BENCH_MED(b, conns, k));
    if (b->pat != PAT_OPEN)
        printf("  (CPU: user+sys of all ranks; the cnio-servers' CPU is not included)\n");
}
