/*
 * bench_crc32c.c - throughput of the CRC32C implementations on a 64 MiB buffer
 * (not a test: `make check` builds it, run it by hand).
 *
 *   tests/src/bench_crc32c [MiB]
 */
#include "common.h"
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static double bench_run(crc_fn fn, const uint8_t *buf, size_t len, uint32_t *crc)
{
    double best = 0;

    for (int round = 0; round < 5; round++) {
        int64_t t0 = cnio__now_ns();
        double mbs;

        *crc = fn(0, buf, len);
        mbs = (double)len / (1 << 20) / ((double)(cnio__now_ns() - t0) / 1e9);
        if (mbs > best)
            best = mbs;
    }
    return best;
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
    size_t len = mib << 20;
    uint8_t *buf = malloc(len ? len : 1);
    uint32_t c_sw, c_hw;
    double sw, hw;

    if (!buf || !len) {
        fprintf(stderr, "bench_crc32c: bad size\n");
        return EXIT_FAILURE;
    }
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(i * 2654435761u >> 13);
    sw = bench_run(cnio__crc32c_sw, buf, len, &c_sw);
    hw = bench_run(cnio__crc32c_hw, buf, len, &c_hw);
    printf("crc32c on %zu MiB: software (slicing-by-8) %.0f MiB/s, hardware (%s) %.0f MiB/s\n",
           mib, sw, cnio__crc32c_have_hw() ? "sse4.2, 3-way" : "unavailable", hw);
    free(buf);
    if (c_sw != c_hw) {
        fprintf(stderr, "bench_crc32c: results differ: %08x %08x\n", c_sw, c_hw);
        return EXIT_FAILURE;
    }
    return EXIT_SUCCESS;
}
