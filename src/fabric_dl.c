/*
 * fabric_dl.c - libfabric loaded on first use (fabric_dl.h says why).
 */
#include "cnio_config.h"
#include "common.h"
#include "fabric_dl.h"
#include "log.h"

#include <dlfcn.h>
#include <pthread.h>

struct cnio_fi_fns cnio__fi;

static pthread_once_t fab_dl_once = PTHREAD_ONCE_INIT;
static int fab_dl_ret;

/* One function by name and symbol version: its address, or NULL (reason logged). */
static void *fab_dl_sym(void *lib, const char *name, const char *version)
{
    void *p = dlvsym(lib, name, version);

    if (!p)
        cnio__warn("libfabric.so.1 has no %s@%s: the ofi and udp transports are off", name,
                   version);
    return p;
}

static void fab_dl_open(void)
{
    void *lib = dlopen("libfabric.so.1", RTLD_NOW | RTLD_LOCAL);

    fab_dl_ret = -CNIO_ERR_NOTSUP;
    if (!lib) {
        cnio__warn("libfabric could not be loaded (%s): the ofi and udp transports are off; "
                   "Debian's package is libfabric1", dlerror());
        return;
    }
    *(void **)&cnio__fi.getinfo = fab_dl_sym(lib, "fi_getinfo", "FABRIC_1.3");
    *(void **)&cnio__fi.freeinfo = fab_dl_sym(lib, "fi_freeinfo", "FABRIC_1.3");
    *(void **)&cnio__fi.dupinfo = fab_dl_sym(lib, "fi_dupinfo", "FABRIC_1.3");
    *(void **)&cnio__fi.fabric = fab_dl_sym(lib, "fi_fabric", "FABRIC_1.1");
    *(void **)&cnio__fi.strerror = fab_dl_sym(lib, "fi_strerror", "FABRIC_1.0");
    if (cnio__fi.getinfo && cnio__fi.freeinfo && cnio__fi.dupinfo && cnio__fi.fabric &&
        cnio__fi.strerror)
        fab_dl_ret = 0;
    /* never dlclose'd: providers keep threads and atexit handlers inside it */
}

int cnio__fab_load(void)
{
    pthread_once(&fab_dl_once, fab_dl_open);
    return fab_dl_ret;
}
