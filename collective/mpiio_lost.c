/*
 * mpiio_lost.c - the watchdog of files that lost a server (hint cnio_lost_abort_ms).
 *
 * An MPI-IO call that fails because a server is out of reach (CNIO_ERR_CONN, _REFUSED,
 * _UNREACH, _TIMEOUT) or no longer knows the open (CNIO_ERR_STALE: it restarted) leaves
 * the file unusable, and every rank of a collective call gets
 * the error (the ranks agree on it). A program should then close the file, or abort.
 * Some libraries' error paths take different collective calls on different ranks
 * instead: HDF5 1.10's file close after a failed metadata flush leaves one rank in
 * MPI_Barrier and another in MPI_Bcast (helper-75, with h5py), and the job hangs until
 * its walltime. So once a file has lost a server, a thread watches it: if it is still
 * open cnio_lost_abort_ms later, the job is aborted (MPI_Abort, status 1) with a line
 * saying why. A program that closes the file in time is never touched; 0 turns the
 * watchdog off.
 *
 * Every rank of a collective call that failed watches the file, and each would say the
 * line before its own MPI_Abort (N ranks, N lines). Rank 0 of the file's communicator
 * fires at cnio_lost_abort_ms; the others LOST_LATER_MS after it, by which time rank 0's
 * abort, when rank 0 is in the same state, has taken them down unheard. A rank alone in
 * the state (an independent call failed there, or rank 0 closed the file) still aborts,
 * that much later.
 */
#include "mpiio.h"
#include "common.h"
#include "log.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOST_MAX 64   /* files watched at once (more are not: they lost a server too) */
#define LOST_LATER_MS 5000   /* how much later than rank 0 the other ranks abort */

struct lost_file {
    const struct mpiio_file *m;
    int64_t since_ms, deadline_ms;
    char uri[1024];             /* the file's URI without its query (the hints) */
};

static struct lost_file lost_tab[LOST_MAX];
static int lost_n;
static pthread_mutex_t lost_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t lost_cv;
static int lost_started;

/* Says why, as an error line of its own, then aborts the job: never returns. */
static void lost_abort(const struct lost_file *f, int64_t now)
{
    cnio__err("%s: a server of this file was lost %.1f s ago and the program has not closed "
              "it since: aborting the job, which is probably waiting in a collective call "
              "that other ranks left after the error (hint cnio_lost_abort_ms=0 waits "
              "instead)", f->uri, (double)(now - f->since_ms) / 1e3);
    PMPI_Abort(MPI_COMM_WORLD, 1);
    _exit(1);
}

static void *lost_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lost_lock);
    for (;;) {
        int64_t now = cnio__now_ms(), next = INT64_MAX;
        struct timespec ts;

        for (int i = 0; i < lost_n; i++) {
            if (lost_tab[i].deadline_ms <= now) {
                struct lost_file f = lost_tab[i];

                pthread_mutex_unlock(&lost_lock);
                lost_abort(&f, now);
            }
            next = CNIO_MIN(next, lost_tab[i].deadline_ms);
        }
        if (next == INT64_MAX) {
            pthread_cond_wait(&lost_cv, &lost_lock);
            continue;
        }
        ts.tv_sec = (time_t)(next / 1000);
        ts.tv_nsec = (long)(next % 1000) * 1000000L;
        pthread_cond_timedwait(&lost_cv, &lost_lock, &ts);   /* CLOCK_MONOTONIC */
    }
    return NULL;
}

/* The thread, started once (lost_lock held): 0, or -1 when it cannot be. */
static int lost_start(void)
{
    pthread_condattr_t ca;
    pthread_attr_t a;
    pthread_t tid;
    int ret;

    if (lost_started)
        return lost_started > 0 ? 0 : -1;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&lost_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    ret = pthread_create(&tid, &a, lost_main, NULL);
    pthread_attr_destroy(&a);
    lost_started = ret == 0 ? 1 : -1;
    return ret == 0 ? 0 : -1;
}

void mpiio__lost(const struct mpiio_file *m, int rc)
{
    int64_t now = cnio__now_ms();
    int ms;

    if (!m || !m->fh || (!cnio__err_conn(rc) && rc != -CNIO_ERR_TIMEOUT &&
                         rc != -CNIO_ERR_STALE))
        return;
    ms = m->fh->hints.lost_abort_ms;
    if (ms <= 0)
        return;
    pthread_mutex_lock(&lost_lock);
    for (int i = 0; i < lost_n; i++)
        if (lost_tab[i].m == m)
            goto out;   /* watched since its first loss */
    if (lost_n == LOST_MAX || lost_start())
        goto out;
    lost_tab[lost_n] = (struct lost_file){
        .m = m, .since_ms = now,
        .deadline_ms = now + ms + (m->fh->rank ? LOST_LATER_MS : 0) };
    snprintf(lost_tab[lost_n].uri, sizeof(lost_tab[lost_n].uri), "%.*s",
             (int)strcspn(m->fh->uri, "?"), m->fh->uri);
    lost_n++;
    pthread_cond_signal(&lost_cv);
out:
    pthread_mutex_unlock(&lost_lock);
}

void mpiio__lost_forget(const struct mpiio_file *m)
{
    pthread_mutex_lock(&lost_lock);
    for (int i = 0; i < lost_n; i++)
        if (lost_tab[i].m == m)
            lost_tab[i--] = lost_tab[--lost_n];
    pthread_mutex_unlock(&lost_lock);
}
