/*
 * fab_rescue.c - releasing a lock that a dead peer left held in an shm region of
 * libfabric 1.17, so that the call of ours spinning on it returns (fabric.h).
 *
 * libfabric's shm provider guards each endpoint's shared region with a process-shared
 * spinlock in the region's header (struct smr_region: version, flags, pid, ...,
 * base_addr, lock). A process killed while it held its own region's lock, or ours
 * (it was writing into our queue), leaves it held, and any thread of ours that wants it
 * spins forever inside libfabric: it may already be spinning when the peer dies (the
 * lock is contended while data moves), so no check before the call can prevent it. The
 * watchdog (fab_live.c) calls cnio__fab_rescue for a call that has not returned for
 * CNIO_FAB_RESCUE_MS while a peer is dead: the dead peer's lock, if held, is released
 * (nobody alive can be holding a dead process's region for long: its queue has no
 * reader); our own region's lock is released if it was held at two wake-ups a second
 * apart while the call stayed stuck (an alive peer holds it for microseconds). The call
 * then returns, and the endpoint, which has a dead peer, is never entered again.
 *
 * The header is used only after checking that it is 1.17's for that process: version 4,
 * the pid, a page-aligned base address and the region's size where 1.17 has them; any
 * other layout is left alone (the watchdog's exit remains).
 */
#include "cnio_config.h"
#include "common.h"
#include "fabric.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* struct smr_region of libfabric 1.17 (prov/shm, LP64) */
#define SMR17_VERSION 4
#define SMR17_PID_OFF 4
#define SMR17_BASE_OFF 16
#define SMR17_LOCK_OFF 24
#define SMR17_SIZE_OFF 40
#define SMR17_HDR 4096
#define SMR_PREFIX "fi_shm://"

void *cnio__fab_region_map(const void *addr, size_t len, int pid)
{
    char name[CNIO_FAB_ADDR_MAX + 1];
    const size_t pl = sizeof(SMR_PREFIX) - 1;
    uint64_t base, size;
    uint8_t *h;
    struct stat st;
    int fd, pv;

    if (sizeof(void *) != 8 || len <= pl || len > CNIO_FAB_ADDR_MAX ||
        memcmp(addr, SMR_PREFIX, pl))
        return NULL;
    memcpy(name, (const char *)addr + pl, len - pl);
    name[len - pl] = '\0';
    fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    h = fstat(fd, &st) || st.st_size < SMR17_HDR
            ? MAP_FAILED
            : mmap(NULL, SMR17_HDR, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (h == MAP_FAILED)
        return NULL;
    memcpy(&pv, h + SMR17_PID_OFF, sizeof(pv));
    memcpy(&base, h + SMR17_BASE_OFF, sizeof(base));
    memcpy(&size, h + SMR17_SIZE_OFF, sizeof(size));
    if (h[0] != SMR17_VERSION || pv != pid || !base || (base & 4095) ||
        size != (uint64_t)st.st_size) {
        munmap(h, SMR17_HDR);
        return NULL;
    }
    return h;
}

pthread_spinlock_t *cnio__fab_region_lock(void *hdr)
{
    return (pthread_spinlock_t *)((uint8_t *)hdr + SMR17_LOCK_OFF);
}

void cnio__fab_region_unmap(void *hdr)
{
    if (hdr)
        munmap(hdr, SMR17_HDR);
}

/* Releases the lock of region addr (process pid) if it is held and `force`, or notes
 * that it is held: 1 released, 0 free, 2 held (not released), -1 not a 1.17 region. */
static int rescue_one(const void *addr, size_t len, int pid, int force)
{
    void *h = cnio__fab_region_map(addr, len, pid);
    pthread_spinlock_t *lock;
    int ret = 0;

    if (!h)
        return -1;
    lock = cnio__fab_region_lock(h);
    if (pthread_spin_trylock(lock) == 0) {
        pthread_spin_unlock(lock);
    } else if (force) {
        pthread_spin_unlock(lock);
        ret = 1;
    } else {
        ret = 2;
    }
    cnio__fab_region_unmap(h);
    return ret;
}

static void rescue_say(const struct cnio_fab *f, int pid, const char *whose)
{
    char line[256];
    int n = snprintf(line, sizeof(line),
                     "cnio: libfabric %s: server %d died holding %s shared region's lock "
                     "(libfabric 1.17 smr); released it so that the stuck call returns\n",
                     f->prov, pid, whose);

    if (n > 0 && write(STDERR_FILENO, line, CNIO_MIN((size_t)n, sizeof(line) - 1)) < 0)
        n = 0;
}

void cnio__fab_rescue(struct cnio_fab *f, int64_t call_began, int dead_pid)
{
    int own;

    for (int i = 0; i < f->npeers; i++) {
        const struct cnio_fab_peer *p = &f->peers[i];
        unsigned long long start = p->start;

        if (p->pid && cnio__proc_state(p->pid, &start) <= 0 &&
            rescue_one(p->addr, p->len, p->pid, 1) == 1)
            rescue_say(f, p->pid, "its");
    }
    own = rescue_one(f->name, f->namelen, (int)getpid(), f->own_held_call == call_began);
    if (own == 1)
        rescue_say(f, dead_pid, "our");
    f->own_held_call = own == 2 ? call_began : 0;
}
