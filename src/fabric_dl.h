/*
 * fabric_dl.h - libfabric loaded on first use, not linked.
 *
 * Debian's libfabric1 links libpsm2 and libpsm_infinipath, whose constructors calibrate
 * a clock with a loop of short sleeps (about 0.25 s of every process start on the 2-core
 * development machine; opa-psm2 issue #73). Linked, it made every cnio process pay that,
 * every cnio-server, every `cnio ls` and every program linking libcnio, whether or not
 * it ever used a fabric. Loaded here, only a process that opens a fabric endpoint pays.
 *
 * The five libfabric functions cnio calls are not inline (the rest reach the provider
 * through the ops tables of the objects these return); they are looked up by the symbol
 * versions a link against libfabric 1.x chooses (fi_getinfo, fi_freeinfo and fi_dupinfo
 * FABRIC_1.3, fi_fabric FABRIC_1.1, fi_strerror FABRIC_1.0), so their ABI is the one the
 * headers describe. Include this after <rdma/fabric.h>: it redirects the five names.
 */
#ifndef CNIO_FABRIC_DL_H
#define CNIO_FABRIC_DL_H

#include <rdma/fabric.h>

struct cnio_fi_fns {
    int (*getinfo)(uint32_t version, const char *node, const char *service, uint64_t flags,
                   const struct fi_info *hints, struct fi_info **info);
    void (*freeinfo)(struct fi_info *info);
    struct fi_info *(*dupinfo)(const struct fi_info *info);
    int (*fabric)(struct fi_fabric_attr *attr, struct fid_fabric **fabric, void *context);
    const char *(*strerror)(int errnum);
};

extern struct cnio_fi_fns cnio__fi;

/*
 * Loads libfabric.so.1 (once per process, thread-safe) and fills cnio__fi: 0, or
 * -CNIO_ERR_NOTSUP when the library or one of its functions is missing (the reason logged
 * once, as a warning). Every path into libfabric calls it first: cnio__fab_available and
 * cnio__fab_open.
 */
int cnio__fab_load(void);

#undef fi_allocinfo
#define fi_getinfo (*cnio__fi.getinfo)
#define fi_freeinfo (*cnio__fi.freeinfo)
#define fi_dupinfo (*cnio__fi.dupinfo)
#define fi_allocinfo() ((*cnio__fi.dupinfo)(NULL))
#define fi_fabric (*cnio__fi.fabric)
#define fi_strerror (*cnio__fi.strerror)

#endif
