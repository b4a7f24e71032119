/*
 * crc32c.c - CRC32C (Castagnoli, reflected polynomial 0x82F63B78).
 *
 * Two implementations compute the same function:
 *
 *   - software: slicing-by-8, eight 256-entry tables, one 8-byte word per step;
 *   - hardware: the SSE4.2 crc32 instruction, chosen at run time when the CPU has it.
 *
 * The crc32 instruction has a latency of three cycles and a throughput of one per
 * cycle, so a single dependency chain runs at a third of the possible speed. Large
 * buffers are therefore cut into three equal streams whose CRCs are computed in one
 * interleaved loop and then combined: the raw (uninverted) CRC register is linear over
 * GF(2), so
 *
 *     crc(A || B) = shift(crc(A), |B|) ^ crc_from_zero(B)
 *
 * where shift(c, n) is the register after feeding n zero bytes from state c. Shifting by
 * a fixed n is a 32x32 bit-matrix product, tabulated once per block size as four
 * 256-entry tables (one per byte of the register).
 *
 * When the build found Intel's ISA-L (configure --with-isal, the default when it is
 * installed), cnio__crc32c uses its crc32_iscsi instead: it picks at run time the best
 * of its own implementations for the CPU, and the one for AVX-512 with VPCLMULQDQ folds
 * 256 bytes per step with carry-less multiplication, about twice the speed of the
 * three-stream loop here (bench_crc32c: 55 against 27 GB/s on a 1 MiB buffer, 24 against
 * 14 GB/s streaming from memory, on the AMD EPYC of doc/performance.md). The two
 * implementations here remain the fallback and the reference the tests hold it to.
 *
 * cnio__crc32c_combine is the same algebra for arbitrary lengths, on standard CRCs (as
 * zlib's crc32_combine is for its polynomial): multiplying a CRC by x^(8n) modulo the
 * polynomial is the shift by n zero bytes, and x^(8n) is a product of the powers
 * x^(2^k) tabulated once. The server combines its stored per-block CRCs with it, so a
 * READ reply's CRC costs no pass over the data (src/server/sums.c).
 *
 * The public convention: cnio__crc32c(0, buf, len) is the standard CRC32C of buf
 * (initial value ~0 and final xor ~0 are applied inside), and
 * cnio__crc32c(cnio__crc32c(0, a, n), b, m) is the CRC of a || b.
 */
#include "cnio_config.h"
#include "common.h"
#include "wire.h"

#include <limits.h>
#include <pthread.h>
#include <string.h>

#ifdef HAVE_ISAL
#include <isa-l/crc.h>
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#define CRC_HAVE_X86 1
#include <nmmintrin.h>
#else
#define CRC_HAVE_X86 0
#endif

#define CRC_POLY 0x82f63b78u
/* Per-stream lengths of the interleaved hardware loop (powers of two). */
#define CRC_LONG 8192
#define CRC_SHORT 256

static uint32_t crc_table[8][256];
static uint32_t crc_long_zeros[4][256];
static uint32_t crc_short_zeros[4][256];
static uint32_t crc_x2n[64];   /* x^(2^k) mod P, reflected */
static int crc_hw_ok;
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

/* Product of a 32x32 GF(2) matrix (one column per word) and a vector. */
static uint32_t crc_gf2_times(const uint32_t *mat, uint32_t vec)
{
    uint32_t sum = 0;

    while (vec) {
        if (vec & 1)
            sum ^= *mat;
        vec >>= 1;
        mat++;
    }
    return sum;
}

static void crc_gf2_square(uint32_t *square, const uint32_t *mat)
{
    for (int n = 0; n < 32; n++)
        square[n] = crc_gf2_times(mat, mat[n]);
}

/* The operator that feeds len zero bytes (len a power of two) into a raw register. */
static void crc_zeros_op(uint32_t even[32], size_t len)
{
    uint32_t odd[32];
    uint32_t row = 1;

    odd[0] = CRC_POLY;              /* one zero bit */
    for (int n = 1; n < 32; n++) {
        odd[n] = row;
        row <<= 1;
    }
    crc_gf2_square(even, odd);      /* two zero bits */
    crc_gf2_square(odd, even);      /* four zero bits */
    for (;;) {
        crc_gf2_square(even, odd);  /* 1, 4, 16, ... bytes */
        len >>= 1;
        if (len == 0)
            return;
        crc_gf2_square(odd, even);  /* 2, 8, 32, ... bytes */
        len >>= 1;
        if (len == 0)
            break;
    }
    memcpy(even, odd, sizeof(odd));
}

static void crc_zeros_table(uint32_t zeros[4][256], size_t len)
{
    uint32_t op[32];

    crc_zeros_op(op, len);
    for (uint32_t n = 0; n < 256; n++) {
        zeros[0][n] = crc_gf2_times(op, n);
        zeros[1][n] = crc_gf2_times(op, n << 8);
        zeros[2][n] = crc_gf2_times(op, n << 16);
        zeros[3][n] = crc_gf2_times(op, n << 24);
    }
}

static inline uint32_t crc_shift(const uint32_t zeros[4][256], uint32_t crc)
{
    return zeros[0][crc & 0xff] ^ zeros[1][(crc >> 8) & 0xff] ^
           zeros[2][(crc >> 16) & 0xff] ^ zeros[3][crc >> 24];
}

/* a * b modulo the polynomial (reflected: bit 31 is x^0). */
static uint32_t crc_multmodp(uint32_t a, uint32_t b)
{
    uint32_t m = 1u << 31, p = 0;

    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0)
                break;
        }
        m >>= 1;
        b = (b & 1) ? (b >> 1) ^ CRC_POLY : b >> 1;
    }
    return p;
}

/* x^(n * 2^k) modulo the polynomial. */
static uint32_t crc_x2nmodp(uint64_t n, unsigned k)
{
    uint32_t p = 1u << 31;   /* x^0 */

    while (n) {
        if (n & 1)
            p = crc_multmodp(crc_x2n[k & 63], p);
        n >>= 1;
        k++;
    }
    return p;
}

static void crc_init(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;

        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ CRC_POLY : c >> 1;
        crc_table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++)
        for (int k = 1; k < 8; k++)
            crc_table[k][n] = (crc_table[k - 1][n] >> 8) ^ crc_table[0][crc_table[k - 1][n] & 0xff];
    crc_x2n[0] = 1u << 30;   /* x^1 */
    for (int k = 1; k < 64; k++)
        crc_x2n[k] = crc_multmodp(crc_x2n[k - 1], crc_x2n[k - 1]);
    crc_zeros_table(crc_long_zeros, CRC_LONG);
    crc_zeros_table(crc_short_zeros, CRC_SHORT);
#if CRC_HAVE_X86
    __builtin_cpu_init();
    crc_hw_ok = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#endif
}

/* Slicing-by-8 on the raw register. */
static uint32_t crc_sw_raw(uint32_t crc, const uint8_t *p, size_t len)
{
    while (len && ((uintptr_t)p & 7)) {
        crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
        len--;
    }
    while (len >= 8) {
        uint32_t lo = cnio__get_le32(p) ^ crc;
        uint32_t hi = cnio__get_le32(p + 4);

        crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
              crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
              crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
              crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

#if CRC_HAVE_X86
static inline uint64_t crc_load64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

/* Three interleaved streams of n bytes each (n a multiple of 8), combined with zeros. */
__attribute__((target("sse4.2")))
static uint64_t crc_hw_3way(uint64_t c0, const uint8_t *p, size_t n, const uint32_t zeros[4][256])
{
    const uint8_t *end = p + n;
    uint64_t c1 = 0, c2 = 0;

    do {
        c0 = _mm_crc32_u64(c0, crc_load64(p));
        c1 = _mm_crc32_u64(c1, crc_load64(p + n));
        c2 = _mm_crc32_u64(c2, crc_load64(p + 2 * n));
        p += 8;
    } while (p < end);
    c0 = crc_shift(zeros, (uint32_t)c0) ^ c1;
    return crc_shift(zeros, (uint32_t)c0) ^ c2;
}

__attribute__((target("sse4.2")))
static uint32_t crc_hw_raw(uint32_t crc, const uint8_t *p, size_t len)
{
    uint64_t c = crc;

    while (len && ((uintptr_t)p & 7)) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        len--;
    }
    while (len >= 3 * CRC_LONG) {
        c = crc_hw_3way(c, p, CRC_LONG, crc_long_zeros);
        p += 3 * CRC_LONG;
        len -= 3 * CRC_LONG;
    }
    while (len >= 3 * CRC_SHORT) {
        c = crc_hw_3way(c, p, CRC_SHORT, crc_short_zeros);
        p += 3 * CRC_SHORT;
        len -= 3 * CRC_SHORT;
    }
    while (len >= 8) {
        c = _mm_crc32_u64(c, crc_load64(p));
        p += 8;
        len -= 8;
    }
    while (len--)
        c = _mm_crc32_u8((uint32_t)c, *p++);
    return (uint32_t)c;
}
#endif

uint32_t cnio__crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&crc_once, crc_init);
    return ~crc_sw_raw(~crc, buf, len);
}

uint32_t cnio__crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&crc_once, crc_init);
#if CRC_HAVE_X86
    if (crc_hw_ok)
        return ~crc_hw_raw(~crc, buf, len);
#endif
    return ~crc_sw_raw(~crc, buf, len);
}

int cnio__crc32c_have_hw(void)
{
    pthread_once(&crc_once, crc_init);
    return crc_hw_ok;
}

/* ISA-L's crc32_iscsi works on the raw register (no inversions) and takes an int length. */
uint32_t cnio__crc32c_isal(uint32_t crc, const void *buf, size_t len)
{
#ifdef HAVE_ISAL
    const uint8_t *p = buf;
    unsigned int c = ~crc;

    while (len) {
        int n = len > (size_t)INT_MAX ? (INT_MAX & ~63) : (int)len;

        c = crc32_iscsi((unsigned char *)p, n, c);
        p += n;
        len -= (size_t)n;
    }
    return ~c;
#else
    return cnio__crc32c_hw(crc, buf, len);
#endif
}

const char *cnio__crc32c_impl(void)
{
#ifdef HAVE_ISAL
    return "isa-l";
#else
    return cnio__crc32c_have_hw() ? "sse4.2" : "software";
#endif
}

uint32_t cnio__crc32c_shift_op(uint64_t len2)
{
    pthread_once(&crc_once, crc_init);
    return crc_x2nmodp(len2, 3);
}

uint32_t cnio__crc32c_combine_op(uint32_t crc1, uint32_t crc2, uint32_t op)
{
    pthread_once(&crc_once, crc_init);
    return crc_multmodp(op, crc1) ^ crc2;
}

uint32_t cnio__crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t len2)
{
    pthread_once(&crc_once, crc_init);
    return crc_multmodp(crc_x2nmodp(len2, 3), crc1) ^ crc2;
}

uint32_t cnio__crc32c_zeros(uint64_t len)
{
    pthread_once(&crc_once, crc_init);
    return crc_multmodp(crc_x2nmodp(len, 3), 0xffffffffu) ^ 0xffffffffu;
}

uint32_t cnio__crc32c(uint32_t crc, const void *buf, size_t len)
{
#ifdef HAVE_ISAL
    return cnio__crc32c_isal(crc, buf, len);
#else
    return cnio__crc32c_hw(crc, buf, len);
#endif
}
