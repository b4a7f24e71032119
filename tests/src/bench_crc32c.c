/*
 * bench_crc32c.c - throughput of the CRC32C implementations, streaming over a buffer of
 * MiB (default 64, beyond the caches) and over a 1 MiB buffer that stays in cache (a
 * frame just received). Not a test: `make check` builds it, run it by hand.
 *
 *   tests/src/bench_crc32c [MiB]
 */
#include "common.h"
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

/* Best of 5 rounds, MiB/s, of CRCs of len bytes in 1 MiB pieces taken from the first
 * span bytes of buf over and over (span = len: a stream; 1 MiB: a buffer in cache). */
static double bench_run(crc_fn fn, const uint8_t *buf, size_t len, size_t span, uint32_t *crc)
{
    double best = 0;

    for (int round = 0; round < 5; round++) {
        int64_t t0 = cnio__now_ns();
        double mbs;

        *crc = 0;
        for (size_t off = 0; off < len; off += 1 << 20)
            *crc = fn(*crc, buf + off % span, 1 << 20);
        mbs = (double)len / (1 << 20) / ((double)(cnio__now_ns() - t0) / 1e9);
        if (mbs > best)
            best = mbs;
    }
    return best;
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
    size_t len = mib << 20;   /* a whole number of MiB */
    uint8_t *buf = malloc(len ? len : 1);
    static const struct { const char *name; crc_fn fn; } impls[] = {
        { "software (slicing-by-8)", cnio__crc32c_sw },
        { "sse4.2, 3-way", cnio__crc32c_hw },
        { "isa-l", cnio__crc32c_isal },
    };
    uint32_t want = 0;
    int bad = 0;

    if (!buf || !len) {
        fprintf(stderr, "bench_crc32c: bad size\n");
        return EXIT_FAILURE;
    }
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(i * 2654435761u >> 13);
    printf("crc32c, MiB/s: %zu MiB streamed, and 1 MiB in cache (x%zu); cnio__crc32c uses %s\n",
           mib, mib, cnio__crc32c_impl());
    for (size_t i = 0; i < CNIO_ARRAY_LEN(impls); i++) {
        uint32_t c_stream, c_hot;
        double stream = bench_run(impls[i].fn, buf, len, len, &c_stream);
        double hot = bench_run(impls[i].fn, buf, len, 1 << 20, &c_hot);

        if (i == 1 && !cnio__crc32c_have_hw())
            printf("  %-24s unavailable on this CPU\n", impls[i].name);
        else
            printf("  %-24s %8.0f %8.0f\n", impls[i].name, stream, hot);
        if (!i)
            want = c_stream;
        bad |= c_stream != want;
        (void)c_hot;
    }
    free(buf);
    if (bad) {
        fprintf(stderr, "bench_crc32c: the implementations disagree\n");
        return EXIT_FAILURE;
    }
    return EXIT_SUCCESS;
}
