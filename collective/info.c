/*
 * info.c - file views, the hints in effect, and the statistics summary that
 * CNIO_STATS=1 prints at close.
 */
#include "coll.h"
#include "client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int file_set_view(cnio_file_t *fh, MPI_Offset disp, MPI_Datatype etype,
                         MPI_Datatype filetype, const char *datarep, MPI_Info info)
{
    int rc = 0;

    (void)info;
    if (!fh)
        return -CNIO_ERR_INVAL;
    if (disp < 0 || !datarep || strcmp(datarep, "native") != 0)
        rc = datarep && strcmp(datarep, "native") ? -CNIO_ERR_NOTSUP : -CNIO_ERR_INVAL;
    if (rc == 0 && !(cnio__view_committed(fh->comm, etype) &&
                     cnio__view_committed(fh->comm, filetype)))
        rc = -CNIO_ERR_INVAL;
    if (rc == 0)
        rc = cnio__view_set(&fh->view, disp, etype, filetype);
    return cnio__coll_agree(fh->comm, rc);
}

CNIO_API int cnio_file_set_view(cnio_file_t *fh, MPI_Offset disp, MPI_Datatype etype,
                                MPI_Datatype filetype, const char *datarep, MPI_Info info)
{
    int rc;

    if (!fh)
        return -CNIO_ERR_INVAL;
    cnio__file_lock(fh);
    rc = file_set_view(fh, disp, etype, filetype, datarep, info);
    cnio__file_unlock(fh);
    return rc;
}

static int info_put(const char *name, const char *value, void *arg)
{
    return MPI_Info_set(*(MPI_Info *)arg, name, value) == MPI_SUCCESS ? 0 : -CNIO_ERR_MPI;
}

static int file_get_info(cnio_file_t *fh, MPI_Info *info_used)
{
    struct cnio_hints h;
    MPI_Info info;
    int rc;

    if (!fh || !info_used)
        return -CNIO_ERR_INVAL;
    /* The values in effect: an object keeps the layout it was made with, whatever the
     * hints at this open said, and two-phase I/O uses cb_nodes aggregators (default one
     * per stripe column), at most one per rank. */
    h = fh->hints;
    if (fh->obj) {
        const struct cnio_layout *l = cnio__obj_layout(fh->obj);

        h.striping_unit = l->unit;
        h.striping_factor = l->count;
        h.cb_nodes = h.cb_nodes ? h.cb_nodes : l->count;
    }
    if (h.cb_nodes > (uint32_t)fh->size)
        h.cb_nodes = (uint32_t)fh->size;
    /* The route chosen under cnio_max_conns_per_server (connect.c): aggregators, and how
     * many, or direct. */
    h.route = fh->route_nagg ? CNIO_ROUTE_AGGREGATE : CNIO_ROUTE_DIRECT;
    if (fh->route_nagg)
        h.cb_nodes = (uint32_t)fh->route_nagg;
    if (MPI_Info_create(&info) != MPI_SUCCESS)
        return -CNIO_ERR_MPI;
    rc = cnio__hints_foreach(&h, info_put, &info);
    if (rc) {
        MPI_Info_free(&info);
        return rc;
    }
    *info_used = info;
    return 0;
}

CNIO_API int cnio_file_get_info(cnio_file_t *fh, MPI_Info *info_used)
{
    int rc;

    if (!fh)
        return -CNIO_ERR_INVAL;
    cnio__file_lock(fh);
    rc = file_get_info(fh, info_used);
    cnio__file_unlock(fh);
    return rc;
}

/* Hints that may change on an open file; the others (striping, lanes, transport, key)
 * were used at open and are ignored here, as MPI-IO lets an implementation do. */
static const char *const info_mutable_hints[] = {
    "cb_nodes", "cb_buffer_size", "romio_cb_write", "romio_cb_read", "cnio_cb_direct_min",
    "romio_ds_read", "ind_rd_buffer_size", "cnio_timeout_ms", "cnio_lost_abort_ms",
};

/* Sets in h the changeable hints info gives: 0, or -CNIO_ERR_MPI, -CNIO_ERR_HINT. */
static int info_apply(struct cnio_hints *h, MPI_Info info)
{
    char val[MPI_MAX_INFO_VAL + 1];
    int flag;

    if (info == MPI_INFO_NULL)
        return 0;
    for (size_t i = 0; i < CNIO_ARRAY_LEN(info_mutable_hints); i++) {
        if (MPI_Info_get(info, info_mutable_hints[i], MPI_MAX_INFO_VAL, val, &flag) !=
            MPI_SUCCESS)
            return -CNIO_ERR_MPI;
        if (flag && cnio__hints_set_mpi(h, info_mutable_hints[i], val,
                                        cnio__coll_world_rank() == 0) < 0)
            return -CNIO_ERR_HINT;
    }
    return 0;
}

static int file_set_info(cnio_file_t *fh, MPI_Info info)
{
    struct cnio_hints h = fh->hints;
    int rc = cnio__coll_agree(fh->comm, info_apply(&h, info));

    /* rank 0's values of those the collective plan is made from, as at the open */
    if (rc == 0)
        rc = cnio__coll_agree(fh->comm, cnio__coll_hints_same(fh->comm, &h, fh->uri));
    if (rc == 0) {
        fh->hints = h;
        cnio__obj_set_timeout(fh->obj, h.timeout_ms);
    }
    return rc;
}

CNIO_API int cnio_file_set_info(cnio_file_t *fh, MPI_Info info)
{
    int rc;

    if (!fh)
        return -CNIO_ERR_INVAL;
    cnio__file_lock(fh);
    rc = file_set_info(fh, info);
    cnio__file_unlock(fh);
    return rc;
}

/* The per-rank figures gathered on rank 0 at close. */
enum { ST_WRITTEN, ST_READ, ST_REQS, ST_CONNECTS, ST_CONNECT_NS, ST_EXCH_NS, ST_NET_NS,
       ST_OPEN_NS, ST_N };

static void info_print(const cnio_file_t *fh, const uint64_t *all, const uint64_t *hosts,
                       int nhosts, double secs)
{
    uint64_t tot[ST_N] = { 0 };

    fprintf(stderr, "cnio stats: %s, %d rank%s, %d host%s, %u lane%s\n", fh->uri, fh->size,
            fh->size > 1 ? "s" : "", nhosts, nhosts > 1 ? "s" : "", fh->hints.lanes,
            fh->hints.lanes > 1 ? "s" : "");
    fprintf(stderr, "  transport: %s\n", cnio__obj_carrier(fh->obj));
    fprintf(stderr, "  %6s %14s %14s %9s %8s %10s %10s %10s\n", "rank", "written", "read",
            "requests", "connects", "setup ms", "exch ms", "net ms");
    for (int r = 0; r < fh->size; r++) {
        const uint64_t *v = all + (size_t)r * ST_N;

        for (int k = 0; k < ST_N; k++)
            tot[k] += v[k];
        fprintf(stderr, "  %6d %14llu %14llu %9llu %8llu %10.1f %10.1f %10.1f\n", r,
                (unsigned long long)v[ST_WRITTEN], (unsigned long long)v[ST_READ],
                (unsigned long long)v[ST_REQS], (unsigned long long)v[ST_CONNECTS],
                v[ST_CONNECT_NS] / 1e6, v[ST_EXCH_NS] / 1e6, v[ST_NET_NS] / 1e6);
    }
    for (int j = 0; j < nhosts; j++)
        fprintf(stderr, "  host %d: %llu bytes\n", j, (unsigned long long)hosts[j]);
    fprintf(stderr, "  total: %llu bytes written, %llu read, %llu connections, open %.1f ms "
            "(rank 0), exchange %.1f ms vs network %.1f ms (summed over ranks), %.3f GB/s over "
            "%.3f s open\n", (unsigned long long)tot[ST_WRITTEN], (unsigned long long)tot[ST_READ],
            (unsigned long long)tot[ST_CONNECTS], all[ST_OPEN_NS] / 1e6, tot[ST_EXCH_NS] / 1e6,
            tot[ST_NET_NS] / 1e6, secs > 0 ? (tot[ST_WRITTEN] + tot[ST_READ]) / secs / 1e9 : 0.0,
            secs);
}

/* With CNIO_STATS=1: gathers every rank's counters on rank 0, which prints them. */
int cnio__coll_stats(cnio_file_t *fh, double secs)
{
    const char *env = getenv("CNIO_STATS");
    struct cnio_obj_stats os = { 0 };
    uint64_t mine[ST_N], *all = NULL, *hosts = NULL, *hsum = NULL;
    int nhosts, rc = 0;

    if (!env || !*env || !strcmp(env, "0") || !fh->obj)
        return 0;
    nhosts = cnio__obj_nhosts(fh->obj);
    cnio__obj_stats(fh->obj, &os);
    mine[ST_WRITTEN] = fh->stats.bytes_written;
    mine[ST_READ] = fh->stats.bytes_read;
    mine[ST_REQS] = os.requests;
    mine[ST_CONNECTS] = os.connects;
    mine[ST_CONNECT_NS] = (uint64_t)os.connect_ns;
    mine[ST_EXCH_NS] = (uint64_t)fh->stats.exch_ns;
    mine[ST_NET_NS] = (uint64_t)(fh->stats.net_ns ? fh->stats.net_ns : os.net_ns);
    mine[ST_OPEN_NS] = (uint64_t)fh->stats.open_ns;
    hosts = calloc((size_t)nhosts, sizeof(uint64_t));
    hsum = calloc((size_t)nhosts, sizeof(uint64_t));
    if (fh->rank == 0)
        all = calloc((size_t)fh->size * ST_N, sizeof(uint64_t));
    if (!hosts || !hsum || (fh->rank == 0 && !all))
        rc = -CNIO_ERR_NOMEM;
    rc = cnio__coll_agree(fh->comm, rc);
    if (rc == 0) {
        for (int j = 0; j < nhosts; j++)
            hosts[j] = cnio__obj_host_bytes(fh->obj, j);
        MPI_Gather(mine, ST_N, MPI_UINT64_T, all, ST_N, MPI_UINT64_T, 0, fh->comm);
        MPI_Reduce(hosts, hsum, nhosts, MPI_UINT64_T, MPI_SUM, 0, fh->comm);
        if (fh->rank == 0)
            info_print(fh, all, hsum, nhosts, secs);
    }
    free(all);
    free(hosts);
    free(hsum);
    return rc;
}
