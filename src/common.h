/*
 * common.h - what every MPI-free source of libcnio's core includes first: the public
 * error codes without MPI, visibility and small helpers.
 */
#ifndef CNIO_COMMON_H
#define CNIO_COMMON_H

#define CNIO_CORE_ONLY
#include "cnio.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Marks the public API (the library is built with -fvisibility=hidden). */
#define CNIO_API __attribute__((visibility("default")))

#define CNIO_MIN(a, b) ((a) < (b) ? (a) : (b))
#define CNIO_MAX(a, b) ((a) > (b) ? (a) : (b))
#define CNIO_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* What the words on a kept upload say of `cnio rm`: it removes the name, whatever it
 * holds (the upload, and a previous version the failed commit left in place). */
#define CNIO_RM_ADVICE "`cnio rm` removes it (and the name's previous version, if any)"

/* Maps an errno value to a negative CNIO_ERR_* code. */
int cnio__err_from_errno(int err);
/* Maps a negative CNIO_ERR_* code to an errno value (for the socket shim and servers). */
int cnio__errno_from_err(int err);
/* 1 when err (a negative CNIO_ERR_*) is a connection that failed: refused, unreachable,
 * reset or lost (CNIO_ERR_REFUSED, _UNREACH, _CONN), else 0. */
static inline int cnio__err_conn(int err)
{
    return err == -CNIO_ERR_CONN || err == -CNIO_ERR_REFUSED || err == -CNIO_ERR_UNREACH;
}

/*
 * The rules an object name obeys (len bytes, not terminated; the wire carries at most
 * CNIO_NAME_MAX bytes): NULL when name is fine, else the rule it breaks, in words
 * ("names may not start with '.'", "component longer than 255 bytes", "control
 * character in name", ...). Checked by the client before sending and by the server.
 */
#define CNIO_NAME_MAX 1024
#define CNIO_NAME_COMPONENT_MAX 255
const char *cnio__name_problem(const char *name, size_t len);

/* A time as signed ns since the epoch (before 1970: negative; the wire carries it in two's
 * complement), from ts (saturating beyond the years 1678 and 2262), and back, with tv_nsec
 * in [0, 1e9) as struct timespec and utimensat want it. */
int64_t cnio__ns_of_ts(const struct timespec *ts);
struct timespec cnio__ts_of_ns(int64_t ns);

/*
 * FNV-1a (Fowler, Noll and Vo; the IETF draft "The FNV Non-Cryptographic Hash
 * Algorithm"), 64 or 32 bits, of the n bytes at p, going on from h: CNIO_FNV64_BASIS or
 * CNIO_FNV32_BASIS to begin. For names of files, locks and marks that every process must
 * compute alike; not for tables an adversary's bytes could fill.
 */
#define CNIO_FNV64_BASIS 0xcbf29ce484222325ull
#define CNIO_FNV32_BASIS 0x811c9dc5u
static inline uint64_t cnio__fnv1a64(uint64_t h, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const uint8_t *)p)[i]) * 0x100000001b3ull;
    return h;
}
static inline uint32_t cnio__fnv1a32(uint32_t h, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const uint8_t *)p)[i]) * 0x01000193u;
    return h;
}

/* Monotonic clock in milliseconds / nanoseconds. */
int64_t cnio__now_ms(void);
int64_t cnio__now_ns(void);

#endif /* CNIO_COMMON_H */
