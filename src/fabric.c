/*
 * fabric.c - opening one libfabric RDM endpoint with tagged messages (fabric.h).
 */
#include "cnio_config.h"
#include "common.h"
#include "auth.h"
#include "fabric.h"
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cnio__fab_provider(const char *transport, const char *hint)
{
    if (transport && strcmp(transport, "udp") == 0)
        return "udp;ofi_rxd";
    return hint ? hint : "";
}

#ifdef HAVE_LIBFABRIC

#include <errno.h>
#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_tagged.h>
#include <unistd.h>

#include "fabric_dl.h"

#define FAB_CQ_SIZE 4096
#define FAB_AV_KEEP 1024      /* peer addresses kept when unused */
#define FAB_AV_MAX 16384      /* peer addresses in use at most */

int cnio__fab_available(void)
{
    return cnio__fab_load() == 0;
}

int cnio__fab_err(int e)
{
    if (e < 0)
        e = -e;
    switch (e) {
    case 0:
        return 0;
    case FI_ETIMEDOUT:
        return -CNIO_ERR_TIMEOUT;
    case FI_ECONNREFUSED:
        return -CNIO_ERR_REFUSED;
    case FI_EHOSTUNREACH:
    case FI_ENETUNREACH:
    case FI_EHOSTDOWN:
    case FI_ENETDOWN:
        return -CNIO_ERR_UNREACH;
    case FI_ENOMEM:
        return -CNIO_ERR_NOMEM;
    case FI_ETRUNC:
    case FI_EMSGSIZE:
        return -CNIO_ERR_PROTO;
    case FI_ENOSYS:
    case FI_EOPNOTSUPP:
    case FI_ENODATA:
        return -CNIO_ERR_NOTSUP;
    default:
        return -CNIO_ERR_CONN;
    }
}

/* The first entry of list that provider prov names, or (prov empty) that a general
 * choice may take: not shm (one host only), not a datagram or test emulation. */
static struct fi_info *fab_pick(struct fi_info *list, const char *prov)
{
    for (struct fi_info *i = list; i; i = i->next) {
        const char *name = i->fabric_attr->prov_name;

        if (*prov ? strcmp(name, prov) == 0
                  : !strstr(name, "shm") && !strstr(name, "ofi_rxd") && !strstr(name, "sockets") &&
                        !strstr(name, "psm") && !strstr(name, "ofi_hook") &&
                        !strstr(name, "ofi_mrail"))
            return i;
    }
    return NULL;
}

static int fab_info(const char *prov, const char *where, struct fi_info **out)
{
    struct fi_info *hints, *list = NULL, *pick;
    const char *colon = where ? strrchr(where, ':') : NULL, *node = where, *service = NULL;
    char host[256];
    int ret;

    if (cnio__fab_load())
        return -CNIO_ERR_NOTSUP;
    if (where && !*where)
        node = NULL;
    if (colon && where[0] != '[' && strchr(where, ':') == colon &&
        (size_t)(colon - where) < sizeof(host)) {
        /* HOST:PORT */
        memcpy(host, where, (size_t)(colon - where));
        host[colon - where] = '\0';
        node = host;
        service = colon + 1;
    }
    hints = fi_allocinfo();
    if (!hints)
        return -CNIO_ERR_NOMEM;
    hints->caps = FI_TAGGED;
    hints->mode = FI_CONTEXT | FI_CONTEXT2;
    hints->ep_attr->type = FI_EP_RDM;
    hints->domain_attr->threading = FI_THREAD_DOMAIN;
    hints->domain_attr->mr_mode = 0;
    hints->tx_attr->msg_order = FI_ORDER_SAS;
    if (*prov && strchr(prov, ';') == NULL)
        hints->fabric_attr->prov_name = strdup(prov);
    ret = fi_getinfo(FI_VERSION(1, 9), node, service, node ? FI_SOURCE : 0, hints, &list);
    fi_freeinfo(hints);
    if (ret) {
        cnio__debug("fi_getinfo(%s, %s): %s", *prov ? prov : "best", where ? where : "-",
                    fi_strerror(-ret));
        return -CNIO_ERR_NOTSUP;
    }
    pick = fab_pick(list, prov);
    *out = pick ? fi_dupinfo(pick) : NULL;
    fi_freeinfo(list);
    if (!pick)
        cnio__debug("libfabric: no RDM provider %s", *prov ? prov : "for cnio");
    return pick ? (*out ? 0 : -CNIO_ERR_NOMEM) : -CNIO_ERR_NOTSUP;
}

/*
 * shm's cross-memory-attach path (libfabric 1.17) loses messages that arrive before
 * their receive is posted: 4 ranks writing to one server hang. Its copy through shared
 * buffers has no such problem. libfabric reads the variable at its first fi_getinfo; a
 * value the user set stays. Set once, before the first thread that may load libfabric
 * starts: setenv while another thread is in getenv (libfabric's dlopen reads the
 * environment) can crash that thread.
 */
static pthread_once_t fab_env_once = PTHREAD_ONCE_INIT;

static void fab_env_set(void)
{
    setenv("FI_SHM_DISABLE_CMA", "1", 0);
}

static pthread_mutex_t fab_warm_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t fab_warm_thread;
static int fab_warm_state;     /* 0 never started, 1 running, 2 over (fab_warm_lock) */

static void *fab_warm_run(void *arg)
{
    struct fi_info *info = NULL;

    (void)arg;
    if (fab_info("", NULL, &info) == 0)   /* loads libfabric, then its providers' init */
        fi_freeinfo(info);
    return NULL;
}

void cnio__fab_warm(void)
{
    pthread_once(&fab_env_once, fab_env_set);
    pthread_mutex_lock(&fab_warm_lock);
    if (fab_warm_state == 0)
        fab_warm_state = pthread_create(&fab_warm_thread, NULL, fab_warm_run, NULL) ? 2 : 1;
    pthread_mutex_unlock(&fab_warm_lock);
}

void cnio__fab_warm_wait(void)
{
    pthread_mutex_lock(&fab_warm_lock);
    if (fab_warm_state == 1) {
        pthread_join(fab_warm_thread, NULL);
        fab_warm_state = 2;
    }
    pthread_mutex_unlock(&fab_warm_lock);
}

static int fab_objects(struct cnio_fab *f)
{
    struct fi_cq_attr cq = { .size = FAB_CQ_SIZE, .format = FI_CQ_FORMAT_TAGGED,
                             .wait_obj = FI_WAIT_NONE };
    struct fi_av_attr av = { .type = FI_AV_TABLE };
    int ret;

    if (!strcmp(f->prov, "shm")) {
        /* shm names its region after the process id by default; a process killed before
         * it could remove its region (SIGKILL) leaves one that a later process with the
         * same id cannot create: a random name never meets such a leftover. The pid
         * namespace tells a peer that finds no such process whether it is gone
         * (cnio__fab_guard_peer). */
        unsigned long long ns = cnio__fab_own_pidns();
        uint64_t r = 0;
        char *name = malloc(80);

        if (!name || cnio__random(&r, sizeof(r))) {
            free(name);
            return -FI_ENOMEM;
        }
        if (ns)
            snprintf(name, 80, "fi_shm://cnio-%d-%llx-%016llx", (int)getpid(), ns,
                     (unsigned long long)r);
        else
            snprintf(name, 80, "fi_shm://cnio-%d-%016llx", (int)getpid(),
                     (unsigned long long)r);
        free(f->info->src_addr);
        f->info->src_addr = name;
        f->info->src_addrlen = strlen(name) + 1;
        f->info->addr_format = FI_ADDR_STR;
    }
    ret = fi_fabric(f->info->fabric_attr, &f->fabric, NULL);
    if (!ret)
        ret = fi_domain(f->fabric, f->info, &f->domain, NULL);
    if (!ret)
        ret = fi_cq_open(f->domain, &cq, &f->cq, NULL);
    if (!ret)
        ret = fi_av_open(f->domain, &av, &f->av, NULL);
    if (!ret)
        ret = fi_endpoint(f->domain, f->info, &f->ep, NULL);
    if (!ret)
        ret = fi_ep_bind(f->ep, &f->cq->fid, FI_TRANSMIT | FI_RECV);
    if (!ret)
        ret = fi_ep_bind(f->ep, &f->av->fid, 0);
    if (!ret)
        ret = fi_enable(f->ep);
    if (!ret) {
        f->namelen = sizeof(f->name);
        ret = fi_getname(&f->ep->fid, f->name, &f->namelen);
    }
    return ret;
}

int cnio__fab_open(const char *prov, const char *node, struct cnio_fab *f)
{
    int ret;

    memset(f, 0, sizeof(*f));
    pthread_once(&fab_env_once, fab_env_set);
    ret = fab_info(prov ? prov : "", node, &f->info);
    if (ret)
        return ret;
    snprintf(f->prov, sizeof(f->prov), "%s", f->info->fabric_attr->prov_name);
    f->iov_limit = f->info->tx_attr->iov_limit;
    ret = fab_objects(f);
    if (ret) {
        cnio__warn("libfabric %s: %s", f->prov, fi_strerror(-ret));
        cnio__fab_close(f);
        return -CNIO_ERR_IO;
    }
    return 0;
}

/* Removes an unused entry to make room: 0, or -1 when every entry is in use. The peers
 * of a guarded endpoint change under the guard's lock (the watchdog reads them), never
 * held across a call into libfabric. */
static int fab_av_evict(struct cnio_fab *f)
{
    for (int i = 0; i < f->npeers; i++) {
        if (f->peers[i].refs == 0) {
            fi_addr_t a = f->peers[i].fi_addr;

            cnio__fab_enter(f);
            fi_av_remove(f->av, &a, 1, 0);
            cnio__fab_leave(f);
            cnio__fab_guard_lock(f);
            f->peers[i] = f->peers[--f->npeers];
            cnio__fab_guard_unlock(f);
            return 0;
        }
    }
    return -1;
}

/* The new entry's slot in f->peers (grown if need be), or NULL. */
static struct cnio_fab_peer *fab_av_slot(struct cnio_fab *f)
{
    if (f->npeers == f->peers_cap) {
        int cap = f->peers_cap ? 2 * f->peers_cap : 16;
        struct cnio_fab_peer *np;

        cnio__fab_guard_lock(f);
        np = realloc(f->peers, (size_t)cap * sizeof(*np));
        if (np) {
            f->peers = np;
            f->peers_cap = cap;
        }
        cnio__fab_guard_unlock(f);
        if (!np)
            return NULL;
    }
    return &f->peers[f->npeers];
}

static int fab_av_add(struct cnio_fab *f, const void *addr, size_t len, uint64_t *fi_addr)
{
    struct cnio_fab_peer *p;
    fi_addr_t a;
    int ret;

    if (f->npeers >= FAB_AV_KEEP && fab_av_evict(f) && f->npeers >= FAB_AV_MAX)
        return -CNIO_ERR_LIMIT;
    p = fab_av_slot(f);
    if (!p)
        return -CNIO_ERR_NOMEM;
    /* the slot past the last entry: the watchdog does not look at it yet */
    memcpy(p->addr, addr, len);
    p->len = len;
    p->pid = 0;
    if (f->shm && (ret = cnio__fab_guard_peer(f, p)) != 0)
        return ret;   /* a dead process: libfabric would map its region */
    cnio__fab_enter(f);
    ret = fi_av_insert(f->av, addr, 1, &a, 0, NULL) == 1 ? 0 : -CNIO_ERR_CONN;
    cnio__fab_leave(f);
    if (ret)
        return ret;
    p->fi_addr = a;
    p->refs = 1;
    cnio__fab_guard_lock(f);
    f->npeers++;
    cnio__fab_guard_unlock(f);
    *fi_addr = a;
    return 0;
}

int cnio__fab_av_get(struct cnio_fab *f, const void *addr, size_t len, uint64_t *fi_addr)
{
    int ret;

    if (len == 0 || len > CNIO_FAB_ADDR_MAX)
        return -CNIO_ERR_CONN;
    if ((ret = cnio__fab_live(f)) != 0)
        return ret;
    for (int i = 0; i < f->npeers; i++)
        if (f->peers[i].len == len && !memcmp(f->peers[i].addr, addr, len)) {
            f->peers[i].refs++;
            *fi_addr = f->peers[i].fi_addr;
            return 0;
        }
    return fab_av_add(f, addr, len, fi_addr);
}

/* An entry no connection uses stays (up to FAB_AV_KEEP of them): a peer that comes back
 * finds the provider's state of it (ofi_rxd's sequence numbers, shm's mapping) intact.
 * (ofi_rxd keeps that state while its endpoint lives whatever we do: a new endpoint at
 * an old peer's address is taken for it; transport_ofi_conn.c's HELLO copes.) */
void cnio__fab_av_put(struct cnio_fab *f, uint64_t fi_addr)
{
    for (int i = 0; i < f->npeers; i++)
        if (f->peers[i].refs && f->peers[i].fi_addr == fi_addr) {
            f->peers[i].refs--;
            return;
        }
}

void cnio__fab_close(struct cnio_fab *f)
{
    /* a guarded endpoint stays watched while it closes (shm unmaps its peers' regions) */
    cnio__fab_enter(f);
    if (f->ep)
        fi_close(&f->ep->fid);
    if (f->av)
        fi_close(&f->av->fid);
    if (f->cq)
        fi_close(&f->cq->fid);
    if (f->domain)
        fi_close(&f->domain->fid);
    if (f->fabric)
        fi_close(&f->fabric->fid);
    cnio__fab_leave(f);
    cnio__fab_unguard(f);
    free(f->peers);
    if (f->info)
        fi_freeinfo(f->info);
    memset(f, 0, sizeof(*f));
}

#else /* !HAVE_LIBFABRIC */

int cnio__fab_available(void)
{
    return 0;
}

void cnio__fab_warm(void)
{
}

void cnio__fab_warm_wait(void)
{
}

int cnio__fab_err(int fi_err)
{
    return fi_err ? -CNIO_ERR_CONN : 0;
}

int cnio__fab_open(const char *prov, const char *node, struct cnio_fab *f)
{
    memset(f, 0, sizeof(*f));
    return -CNIO_ERR_NOTSUP;
}

int cnio__fab_av_get(struct cnio_fab *f, const void *addr, size_t len, uint64_t *fi_addr)
{
    return -CNIO_ERR_NOTSUP;
}

void cnio__fab_av_put(struct cnio_fab *f, uint64_t fi_addr)
{
}

void cnio__fab_close(struct cnio_fab *f)
{
    memset(f, 0, sizeof(*f));
}

#endif
