/*
 * tree_summary.c - what `cnio cp -r` says (rank 0): as it goes, on a terminal, a progress
 * line; when it is done, the files and directories copied, the bytes moved and the rate;
 * with --sync, --checksum and --resume, what was found already there and how; with
 * --verify, how many compared the same. The counts come from every rank's workers
 * (MPI_Reduce; for the progress line, rank 0's MPI window).
 */
#include "tree_int.h"

#include <mpi.h>
#include <stdio.h>
#include <string.h>

/* Rank 0's progress line on a terminal, as a single file's (cp_progress): files and bytes
 * done, the rate of the bytes that moved since the files began to go (not those --resume,
 * --sync or --checksum found there already, which count as done) and the time left at
 * that rate. The files the plan found there already (--sync, --resume: same size and
 * mtime, never queued) are done from the start: out of the line, a --sync that found 2
 * of 3 files there showed "1/1 files", and the bytes of that one alone. */
void tree_progress(struct tree_run *r, int final)
{
    double now = MPI_Wtime(), el = now - r->t_copy, rate;
    uint64_t bytes, files, moved, total = r->total_bytes + r->skipped_bytes;
    char a[32], b[32];

    if (r->j->rank != 0 || !r->j->tty || r->j->o.quiet || (!final && now - r->last < 0.25))
        return;
    r->last = now;
    MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, r->win);
    bytes = r->q[1] + r->skipped_bytes;
    files = r->q[2] + r->skipped_files;
    moved = r->q[4];
    MPI_Win_unlock(0, r->win);
    rate = el > 0 ? moved / el : 0;
    fprintf(stderr, "\r  %llu/%llu files  %s / %s", (unsigned long long)files,
            (unsigned long long)(r->files.n + r->skipped_files), cli_bytes(bytes, a, sizeof(a)),
            cli_bytes(total, b, sizeof(b)));
    cli_progress_rate(rate, total - CNIO_MIN(bytes, total), final);
}

/*
 * Rank 0, --sync, --checksum and --resume: the files found already there, and how they
 * were found so: same (the files --checksum read and found with the same CRC32C, and the
 * links with the same target), and by the size (and mtime: --sync, -p) rank 0's plan
 * compared, without reading them; of those, the ones there but for their mode, and
 * whether it was set (not when the copy stopped: it said "now set" all the same);
 * moved, the bytes this copy moved; and the directories DST held already, which the
 * first line does not count as made.
 */
static void tree_summary_skipped(const struct tree_run *r, unsigned long long same,
                                 unsigned long long moved)
{
    unsigned long long n = same + r->skipped_files, d = r->dirs_found;
    char how[200] = "", f[96] = "", dirs[64] = "";

    if (r->skipped_files)
        snprintf(how, sizeof(how), "%llu of the same size%s, not read (--checksum compares "
                 "their bytes)", (unsigned long long)r->skipped_files,
                 r->j->o.preserve ? " and mtime" : "");
    if (same)
        snprintf(how + strlen(how), sizeof(how) - strlen(how), "%s%llu identical (compared)",
                 r->skipped_files ? ", " : "", same);
    if (r->attrs.n && r->attrs_set == r->attrs.n)
        snprintf(f, sizeof(f), "; %llu of them but for their mode, now set",
                 (unsigned long long)r->attrs.n);
    else if (r->attrs.n && r->lost)   /* (tree_dir_attrs did not run) */
        snprintf(f, sizeof(f), "; %llu of them but for their mode, not set: the copy stopped",
                 (unsigned long long)r->attrs.n);
    else if (r->attrs.n)   /* (the others' failures are said above) */
        snprintf(f, sizeof(f), "; %llu of them but for their mode, %llu now set",
                 (unsigned long long)r->attrs.n, (unsigned long long)r->attrs_set);
    if (d)
        snprintf(dirs, sizeof(dirs), "; %llu director%s there already", d,
                 d == 1 ? "y was" : "ies were");
    printf("cnio cp: %s: %llu %s already there%s%s%s; moved %llu of %llu bytes%s\n",
           r->j->o.resume ? "resumed" : "sync", n, n == 1 ? "file was" : "files were",
           n ? ": " : "", how, f, moved,
           (unsigned long long)(r->total_bytes + r->skipped_bytes), dirs);
}

/* The summary's parenthesis, in f (cap bytes): the files that failed, were not tried, or
 * were copied at another try (what the "trying it again" lines came to); "" for none. */
static void tree_summary_counts(char *f, size_t cap, unsigned long long failed,
                                unsigned long long not_tried, unsigned long long retried)
{
    int n = 0;

    f[0] = '\0';
    if (failed || not_tried)
        n = snprintf(f, cap, " (%llu failed", failed);
    if (not_tried)
        n += snprintf(f + n, cap - (size_t)n, ", %llu not tried", not_tried);
    if (retried)
        n += snprintf(f + n, cap - (size_t)n, "%s%llu copied at another try", n ? "; " : " (",
                      retried);
    if (n)
        snprintf(f + n, cap - (size_t)n, ")");
}

/*
 * Rank 0: the summary. Its counts are of what was copied: not the files that failed or
 * that --checksum found identical (the second line counts those, as it does the files
 * --sync found identical by size and mtime), nor the directories that could not be made
 * or were there already (--sync, --resume: the second line counts those).
 * Its time is the whole run's, said as the walk's (and plan's) and the copy's after it;
 * the rates are of the copy: of the whole, a long walk made the copy look slow.
 */
void tree_summary(struct tree_run *r, double secs)
{
    double copy = CNIO_MAX(secs - r->walk, 0.0);
    unsigned long long v[8] = { r->ctx.moved, r->ctx.skipped,
                                (unsigned long long)(r->failed + r->files_failed + r->dirs_failed),
                                r->crc_skipped, (unsigned long long)r->files_failed,
                                (unsigned long long)r->dirs_failed, 0, r->verified }, s[8],
                       files, dirs;
    char a[32], f[128] = "", rate[64] = "";

    for (int k = 0; k < r->nw; k++) {
        v[0] += r->w[k].ctx.moved;
        v[1] += r->w[k].ctx.skipped;
        v[2] += (unsigned long long)r->w[k].failed;
        v[3] += r->w[k].crc_skipped;
        v[4] += (unsigned long long)r->w[k].failed;
        v[6] += (unsigned long long)r->w[k].retried;
        v[7] += r->w[k].verified;
    }
    MPI_Reduce(v, s, 8, MPI_UNSIGNED_LONG_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
    if (r->j->rank == 0) {   /* the files no rank took or tried: q[2] counts the others */
        MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, r->win);
        r->not_tried = r->files.n - CNIO_MIN(r->files.n, r->q[2]);
        MPI_Win_unlock(0, r->win);
    }
    r->failed = (int)(s[2] + r->not_tried);
    if (r->j->rank != 0 || r->j->o.quiet)
        return;
    files = r->files.n - CNIO_MIN(r->files.n, s[3] + s[4] + r->not_tried);
    /* made: not those that failed, nor those DST held already (it counted them made) */
    dirs = r->dirs.n - CNIO_MIN(r->dirs.n, s[5] + r->dirs_found);
    tree_summary_counts(f, sizeof(f), s[2], r->not_tried, s[6]);
    if (files && copy > 0)   /* (no rate of nothing: a --sync that found all the same) */
        snprintf(rate, sizeof(rate), ": %.0f files/s, %.3f GB/s", files / copy,
                 s[0] / copy / 1e9);
    printf("cnio cp: %s -> %s: %llu file%s and %llu director%s%s; moved %llu bytes (%s) in "
           "%.3f s (walk %.3f s, copy %.3f s%s); %d rank%s\n", r->src.name, r->dst.name,
           files, files == 1 ? "" : "s", dirs, dirs == 1 ? "y" : "ies", f, s[0],
           cli_bytes(s[0], a, sizeof(a)), secs, r->walk, copy, rate, r->j->size,
           r->j->size > 1 ? "s" : "");
    if (r->j->o.sync || r->j->o.resume)
        tree_summary_skipped(r, s[3], s[0]);
    if (r->j->o.verify)   /* (those that differ are named above, and failed) */
        printf("cnio cp: verify: %llu %s the same at both ends (CRC32C; a link: its target)\n",
               s[7], s[7] == 1 ? "file has" : "files have");
}
