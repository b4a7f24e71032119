/*
 * bench.h - what the two files of `cnio bench` share: bench.c runs the repetitions,
 * bench_report.c prints their figures (a table, or JSON with --json).
 */
#ifndef CNIO_CLI_BENCH_H
#define CNIO_CLI_BENCH_H

#include "cli.h"

#include <stdint.h>

enum bench_pat { PAT_CONTIG, PAT_STRIDED, PAT_SUBARRAY, PAT_SMALL, PAT_OPEN };

extern const char *const bench_pat_names[PAT_OPEN + 1];   /* by enum bench_pat */

#define BENCH_SEGMENT (1u << 20)      /* strided: block per rank and segment */
#define BENCH_SMALL_OP 4096u          /* small: bytes per operation */
#define BENCH_MAX_REPS 1000

/* One repetition's figures (rank 0): [0] write / eager open, [1] read / on-demand open. */
struct bench_res {
    double secs[2], cpu[2], p50[2], p99[2];
    double open_s[2];           /* open: the open call alone */
    double conns[2];            /* open: connections on the busiest server */
};

struct bench {
    struct cli_opts o;
    enum bench_pat pat;
    uint64_t size;              /* --size: bytes per rank, or ops per rank (small) */
    int size_set;
    int reps, json, keep, fsync;
    int made;                   /* it created its object (a --uri that exists is refused) */
    const char *hosts, *uri_arg, *lanes, *transport, *stripe;
    char uri[4096];
    MPI_Info info;
    int rank, nranks, nhosts;
    /* what one phase moves, per rank */
    uint64_t bytes;             /* bytes per rank and phase */
    uint64_t block;             /* strided, small: interleave unit */
    int gsz[2], lsz[2], start[2];   /* subarray: global, local sizes, local start */
    MPI_Datatype ft;            /* file type of the view, or MPI_DATATYPE_NULL */
    char *buf;
    double *lat;                /* small: per-op latencies of this rank */
    /* reported from the open file */
    char lanes_used[32], transport_used[32], unit_used[32];
    struct bench_res *res;
};

/* qsort's comparison of two doubles, in increasing order. */
int bench_cmp_double(const void *x, const void *y);
/* Rank 0: the figures of every repetition and their medians, as a table... */
void bench_table(const struct bench *b);
/* ... or as one JSON object (--json). */
void bench_json(const struct bench *b);

#endif /* CNIO_CLI_BENCH_H */
