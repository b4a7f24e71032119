/*
 * agree.c - what the ranks of a collective call agree on, and say once: the outcome of
 * every call (cnio__coll_agree, which waits politely), values MPI-3.1 requires to be the
 * same on every rank, the hints every rank must hold alike (rank 0's), and the one line
 * of a host lost under a call; with the hints of MPI_Info, the world rank and a status's
 * count, the MPI helpers every file of collective/ uses.
 */
#include "coll.h"
#include "client.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * The agreement waits politely: a rank that arrives early (its share done) polls the
 * nonblocking reduction for a few microseconds, then sleeps between polls with a
 * pause that doubles from 5 us up to 2 ms (so it notices the last rank at most about as
 * late again as that rank came). A spinning MPI_Allreduce would take a core from the
 * ranks and servers still moving data, which on shared or oversubscribed nodes is
 * where the time goes; and naps of a few microseconds for ever, beside ranks spinning
 * in sched_yield, starve the kernel's workers (src/stack.c).
 */
int cnio__coll_min(MPI_Comm comm, const int64_t *in, int64_t *out, int n)
{
    struct timespec pause = { 0, 0 };
    MPI_Request req;
    int done = 0;
    int64_t t0 = cnio__now_ns();

    if (MPI_Iallreduce(in, out, n, MPI_INT64_T, MPI_MIN, comm, &req) != MPI_SUCCESS)
        return -CNIO_ERR_MPI;
    for (;;) {
        if (MPI_Test(&req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS)
            return -CNIO_ERR_MPI;
        if (done)
            return 0;
        if (cnio__now_ns() - t0 < 20000)
            continue;
        pause.tv_nsec = CNIO_MIN(2000000, CNIO_MAX(5000, 2 * pause.tv_nsec));
        nanosleep(&pause, NULL);
    }
}

int cnio__coll_agree(MPI_Comm comm, int rc)
{
    int64_t in = rc, out;
    int ret = cnio__coll_min(comm, &in, &out, 1);

    return ret ? ret : (int)out;
}

void cnio__coll_quiet(cnio_file_t *fh, int close)
{
    fh->kept.key = CNIO_KEPT_NONE;
    fh->kept.line[0] = '\0';
    fh->kept.say = 0;
    if (close)
        memcpy(fh->kept.skip, fh->lost_said, sizeof(fh->kept.skip));
    else
        memset(fh->kept.skip, 0, sizeof(fh->kept.skip));
    if (!close || fh->size > 1)
        cnio__obj_set_quiet(fh->obj, &fh->kept);
}

void cnio__coll_unquiet(cnio_file_t *fh)
{
    cnio__obj_set_quiet(fh->obj, NULL);
}

#define LOST_TAG 0x4200   /* the line kept, from the rank that kept it to rank 0 */

void cnio__coll_say_lost(cnio_file_t *fh)
{
    int64_t mine = fh->kept.key, low;
    int from, j;

    if (mine != CNIO_KEPT_NONE)
        mine |= fh->rank;   /* of the ranks that kept the least, the lowest says it */
    if (cnio__coll_min(fh->comm, &mine, &low, 1) || low == CNIO_KEPT_NONE)
        return;
    from = (int)(low & ((INT64_C(1) << CNIO_KEPT_FREE_BITS) - 1));
    j = cnio__kept_host(low);
    fh->lost_said[j / 8] |= (uint8_t)(1u << (j % 8));
    if (from != 0 && fh->rank == from)
        MPI_Send(fh->kept.line, (int)strlen(fh->kept.line) + 1, MPI_CHAR, 0, LOST_TAG,
                 fh->comm);
    if (fh->rank != 0 || (from != 0 && MPI_Recv(fh->kept.line, (int)sizeof(fh->kept.line),
                                                 MPI_CHAR, from, LOST_TAG, fh->comm,
                                                 MPI_STATUS_IGNORE) != MPI_SUCCESS))
        return;
    fh->kept.line[sizeof(fh->kept.line) - 1] = '\0';
    cnio__err("%s", fh->kept.line);
}

int cnio__coll_same_as(MPI_Comm comm, int64_t v, const char *what,
                       const char *(*name)(int64_t v))
{
    int64_t in[2] = { v, ~v }, out[2];   /* (min of ~v: ~ of the max, for every v) */
    char lo[32], hi[32];
    const char *a = lo, *b = hi;
    int me = 1;

    if (MPI_Allreduce(in, out, 2, MPI_INT64_T, MPI_MIN, comm) != MPI_SUCCESS)
        return -CNIO_ERR_MPI;
    if (out[0] == ~out[1])
        return 0;
    if (MPI_Comm_rank(comm, &me) != MPI_SUCCESS || me != 0)
        return -CNIO_ERR_NOT_SAME;
    if (name) {
        a = name(out[0]);
        b = name(~out[1]);
    } else {
        snprintf(lo, sizeof(lo), "%lld", (long long)out[0]);
        snprintf(hi, sizeof(hi), "%lld", (long long)~out[1]);
    }
    cnio__err("%s: the ranks passed different values (from %s to %s), which MPI-3.1 "
              "requires to be the same on every rank", what, a, b);
    return -CNIO_ERR_NOT_SAME;
}

int cnio__coll_same(MPI_Comm comm, int64_t v, const char *what)
{
    return cnio__coll_same_as(comm, v, what, NULL);
}

int cnio__coll_world_rank(void)
{
    int up = 0, down = 0, r = 0;

    if (MPI_Initialized(&up) != MPI_SUCCESS || !up || MPI_Finalized(&down) != MPI_SUCCESS ||
        down || MPI_Comm_rank(MPI_COMM_WORLD, &r) != MPI_SUCCESS)
        return 0;
    return r;
}

int cnio__coll_hints(const struct cnio_uri *u, MPI_Info info, struct cnio_hints *h, int say)
{
    char key[MPI_MAX_INFO_KEY + 1], *val;
    int rc, nkeys, flag, set;

    rc = cnio__hints_resolve_say(h, u, say);
    if (rc || info == MPI_INFO_NULL)
        return rc;
    if (MPI_Info_get_nkeys(info, &nkeys) != MPI_SUCCESS)
        return -CNIO_ERR_MPI;
    val = malloc(MPI_MAX_INFO_VAL + 1);
    if (!val)
        return -CNIO_ERR_NOMEM;
    for (int i = 0; i < nkeys && rc == 0; i++) {
        if (MPI_Info_get_nthkey(info, i, key) != MPI_SUCCESS ||
            MPI_Info_get(info, key, MPI_MAX_INFO_VAL, val, &flag) != MPI_SUCCESS) {
            rc = -CNIO_ERR_MPI;
            break;
        }
        if (!flag)
            continue;
        set = cnio__hints_set_mpi(h, key, val, say);
        if (set < 0)
            rc = -CNIO_ERR_HINT;
        /* Other keys may be another layer's (romio_*, a file system's), ignored as MPI
         * says; one in cnio's own namespace that cnio does not know is misspelled, and
         * ignoring it silently left the user with the default they meant to change. */
        else if (set == 1 && say && !strncmp(key, "cnio_", 5))
            cnio__warn("ignoring unknown hint \"%s\" in MPI_Info (cnio's hints: "
                       "cnio-hints(7))", key);
    }
    free(val);
    return rc;
}

/*
 * The hints every rank of a collective open must hold alike (MPI-3.1 13.2.8 marks the
 * MPI ones [SAME]): the layout rank 0 creates the object with; those every rank makes
 * the two-phase plan from (aggregators, rounds, direct or aggregated); and those that
 * choose the route and pace the connections, where ranks that disagree would call
 * different collectives. The rest (timeouts, key file, data sieving of independent
 * reads) are each process's own.
 */
static const char *const coll_same_hints[] = {
    "striping_unit", "striping_factor", "cb_nodes", "cb_buffer_size", "romio_cb_write",
    "romio_cb_read", "cnio_cb_direct_min", "cnio_lanes", "cnio_connect_window",
    "cnio_transport", "cnio_ofi_provider", "cnio_replace", "cnio_resume",
    "cnio_max_conns_per_server", "cnio_connect_mode", "cnio_route",
};
_Static_assert(CNIO_ARRAY_LEN(coll_same_hints) <= 32, "one bit each in a uint32_t");

int cnio__coll_hints_same(MPI_Comm comm, struct cnio_hints *h, const char *what)
{
    struct cnio_hints r0 = *h;
    uint32_t differ = 0;
    char said[1024] = "", val[80];
    int me = 0;

    if (MPI_Bcast(&r0, (int)sizeof(r0), MPI_BYTE, 0, comm) != MPI_SUCCESS)
        return -CNIO_ERR_MPI;
    for (size_t i = 0; i < CNIO_ARRAY_LEN(coll_same_hints); i++)
        if (cnio__hints_adopt(h, &r0, coll_same_hints[i]) > 0)
            differ |= 1u << i;
    if (MPI_Allreduce(MPI_IN_PLACE, &differ, 1, MPI_UINT32_T, MPI_BOR, comm) != MPI_SUCCESS ||
        MPI_Comm_rank(comm, &me) != MPI_SUCCESS)
        return -CNIO_ERR_MPI;
    if (!differ || me != 0)
        return 0;
    for (size_t i = 0; i < CNIO_ARRAY_LEN(coll_same_hints); i++)
        if ((differ & (1u << i)) && cnio__hints_get(h, coll_same_hints[i], val, sizeof(val)) == 0)
            snprintf(said + strlen(said), sizeof(said) - strlen(said), "%s%s=%s",
                     said[0] ? ", " : "", coll_same_hints[i], val);
    cnio__warn("%s: the ranks gave different values of hints that MPI-3.1 (13.2.8) requires "
               "to be the same on every rank; every rank uses rank 0's, as ROMIO does: %s",
               what, said);
    return 0;
}

void cnio__coll_set_status(MPI_Status *status, int64_t nbytes)
{
    if (status != MPI_STATUS_IGNORE)
        MPI_Status_set_elements_x(status, MPI_BYTE, (MPI_Count)nbytes);
}
