/*
 * faults.c - what reading a file in the page cache costs on this machine, four ways (the
 * choice cnio cp's upload path rests on; doc/performance.md, issue 13):
 *
 *   mmap, touching one byte a page    one page fault per 4 KiB (or per fault-around batch)
 *   pread into a reused 4 MiB buffer  one copy, no fault
 *   mmap with MAP_POPULATE, whole     the page tables built in one call
 *   16 MiB windows, MAP_POPULATE      what a per-chunk mapping costs (map, touch, unmap)
 *
 * usage: faults [FILE [MiB]]   (default /dev/shm/cnio-faults, 256 MiB; made if missing)
 * Prints CPU seconds (user + system: what a loaded machine does not distort) per GiB for
 * each, and the cost of one fault in the first.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FAULTS_CHUNK (4u << 20)
#define FAULTS_WINDOW (16u << 20)

static double faults_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Reads one byte a page of [p, p + len): the sum, so that nothing is optimised away. */
static unsigned faults_touch(const volatile unsigned char *p, size_t len, size_t page)
{
    unsigned sum = 0;

    for (size_t o = 0; o < len; o += page)
        sum += p[o];
    return sum;
}

static int faults_make(const char *path, size_t len)
{
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    char *buf = malloc(FAULTS_CHUNK);
    struct stat sb;

    if (fd < 0 || !buf || fstat(fd, &sb) < 0)
        return -1;
    if ((size_t)sb.st_size < len) {
        for (size_t i = 0; i < FAULTS_CHUNK; i++)
            buf[i] = (char)(i * 7 + 1);
        for (size_t o = 0; o < len; o += FAULTS_CHUNK)
            if (pwrite(fd, buf, FAULTS_CHUNK, (off_t)o) != FAULTS_CHUNK)
                return -1;
    }
    free(buf);
    return fd;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/dev/shm/cnio-faults";
    size_t len = (size_t)(argc > 2 ? atol(argv[2]) : 256) << 20, page = (size_t)sysconf(_SC_PAGESIZE);
    double gib = (double)len / (1u << 30), t0, t[4];
    unsigned sum = 0;
    char *buf = malloc(FAULTS_CHUNK), *p;
    int fd = faults_make(path, len);

    if (fd < 0 || !buf || len < FAULTS_WINDOW) {
        fprintf(stderr, "faults: cannot make %s of %zu bytes\n", path, len);
        return 1;
    }
    memset(buf, 0, FAULTS_CHUNK);
    t0 = faults_now();
    p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return 1;
    sum += faults_touch((unsigned char *)p, len, page);
    munmap(p, len);
    t[0] = faults_now() - t0;
    t0 = faults_now();
    for (size_t o = 0; o < len; o += FAULTS_CHUNK)
        if (pread(fd, buf, FAULTS_CHUNK, (off_t)o) != FAULTS_CHUNK)
            return 1;
    sum += (unsigned char)buf[7];
    t[1] = faults_now() - t0;
    t0 = faults_now();
    p = mmap(NULL, len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (p == MAP_FAILED)
        return 1;
    sum += faults_touch((unsigned char *)p, len, page);
    munmap(p, len);
    t[2] = faults_now() - t0;
    t0 = faults_now();
    for (size_t o = 0; o < len; o += FAULTS_WINDOW) {
        p = mmap(NULL, FAULTS_WINDOW, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, (off_t)o);
        if (p == MAP_FAILED)
            return 1;
        sum += faults_touch((unsigned char *)p, FAULTS_WINDOW, page);
        munmap(p, FAULTS_WINDOW);
    }
    t[3] = faults_now() - t0;
    printf("page cache, CPU s per GiB: mmap+touch %.3f (%.2f us a 4 KiB page), pread 4M %.3f, "
           "MAP_POPULATE whole %.3f, 16M populated windows %.3f  [%s, %zu MiB, check %u]\n",
           t[0] / gib, t[0] * 1e6 / (double)(len / page), t[1] / gib, t[2] / gib, t[3] / gib,
           path, len >> 20, sum & 1);
    free(buf);
    close(fd);
    return 0;
}
