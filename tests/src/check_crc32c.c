/*
 * check_crc32c.c - CRC32C: published vectors, ISA-L and SSE4.2 against software against
 * a bit-at-a-time reference, chaining.
 */
#include "common.h"
#include "wire.h"

#include "fixture.h"
#include <check.h>
#include <stdlib.h>
#include <string.h>

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static const crc_fn crc_impls[] = { cnio__crc32c, cnio__crc32c_sw, cnio__crc32c_hw,
                                     cnio__crc32c_isal };

/* The definition, one bit at a time. */
static uint32_t crc_ref(const uint8_t *p, size_t len)
{
    uint32_t crc = 0xffffffffu;

    while (len--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc & 1) ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
    }
    return ~crc;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fill(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rng();
}

START_TEST(test_vectors)
{
    uint8_t buf[32];
    const crc_fn fn = crc_impls[_i];

    ck_assert_uint_eq(fn(0, "123456789", 9), 0xE3069283u);
    memset(buf, 0, sizeof(buf));
    ck_assert_uint_eq(fn(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, sizeof(buf));
    ck_assert_uint_eq(fn(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    ck_assert_uint_eq(fn(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    ck_assert_uint_eq(fn(0, buf, 32), 0x113FDB5Cu);
    ck_assert_uint_eq(fn(0, NULL, 0), 0);
    ck_assert_uint_eq(fn(0x12345678u, NULL, 0), 0x12345678u);
}
END_TEST

START_TEST(test_small_lengths_unaligned)
{
    uint8_t *buf = malloc(300 + 16);

    ck_assert_ptr_nonnull(buf);
    for (size_t len = 0; len <= 300; len++) {
        for (size_t start = 0; start < 16; start++) {
            uint32_t ref;

            fill(buf + start, len);
            ref = crc_ref(buf + start, len);
            ck_assert_uint_eq(cnio__crc32c_sw(0, buf + start, len), ref);
            ck_assert_uint_eq(cnio__crc32c_hw(0, buf + start, len), ref);
            ck_assert_uint_eq(cnio__crc32c_isal(0, buf + start, len), ref);
            ck_assert_uint_eq(cnio__crc32c(0, buf + start, len), ref);
        }
    }
    free(buf);
}
END_TEST

/* Lengths around the interleaved block sizes (3 x 256 and 3 x 8192 bytes). */
START_TEST(test_large_lengths)
{
    static const size_t lens[] = { 767, 768, 769, 775, 776, 1536, 1543, 24575, 24576, 24577,
                                   24576 + 768, 49152 + 767, 100003, 262144 + 5 };
    size_t max = 262144 + 5 + 8;
    uint8_t *buf = malloc(max);

    ck_assert_ptr_nonnull(buf);
    fill(buf, max);
    for (size_t i = 0; i < CNIO_ARRAY_LEN(lens); i++) {
        for (size_t start = 0; start < 8; start += 3) {
            uint32_t ref = crc_ref(buf + start, lens[i]);

            ck_assert_uint_eq(cnio__crc32c_sw(0, buf + start, lens[i]), ref);
            ck_assert_uint_eq(cnio__crc32c_hw(0, buf + start, lens[i]), ref);
            ck_assert_uint_eq(cnio__crc32c_isal(0, buf + start, lens[i]), ref);
        }
    }
    for (int round = 0; round < 50; round++) {
        size_t len = rng() % (max - 8), start = rng() % 8;
        uint32_t sw = cnio__crc32c_sw(0, buf + start, len);

        ck_assert_uint_eq(cnio__crc32c_hw(0, buf + start, len), sw);
        ck_assert_uint_eq(cnio__crc32c_isal(0, buf + start, len), sw);
    }
    free(buf);
}
END_TEST

START_TEST(test_chaining)
{
    const crc_fn fn = crc_impls[_i];
    size_t len = 3 * 8192 * 2 + 1000;
    uint8_t *buf = malloc(len);
    uint32_t whole;

    ck_assert_ptr_nonnull(buf);
    fill(buf, len);
    whole = fn(0, buf, len);
    for (size_t cut = 0; cut <= len; cut += (cut < 600 ? 1 : 997)) {
        uint32_t a = fn(0, buf, cut);

        ck_assert_uint_eq(fn(a, buf + cut, len - cut), whole);
    }
    ck_assert_uint_eq(fn(fn(fn(0, "123", 3), "456", 3), "789", 3), 0xE3069283u);
    free(buf);
}
END_TEST

/* combine(crc(A), crc(B), |B|) is crc(A || B), checked against the bitwise reference. */
START_TEST(test_combine)
{
    size_t len = 3 * 65536 + 777;
    uint8_t *buf = malloc(len);
    uint32_t whole, op;

    ck_assert_ptr_nonnull(buf);
    fill(buf, len);
    whole = crc_ref(buf, len);
    for (size_t cut = 0; cut <= len; cut += (cut < 300 ? 1 : 4099)) {
        uint32_t a = crc_ref(buf, cut), b = crc_ref(buf + cut, len - cut);

        ck_assert_uint_eq(cnio__crc32c_combine(a, b, len - cut), whole);
        op = cnio__crc32c_shift_op(len - cut);
        ck_assert_uint_eq(cnio__crc32c_combine_op(a, b, op), whole);
    }
    /* many equal pieces with one operator, as the server combines its 64 KiB blocks */
    op = cnio__crc32c_shift_op(65536);
    {
        uint32_t c = 0;

        for (size_t off = 0; off + 65536 <= len; off += 65536)
            c = cnio__crc32c_combine_op(c, crc_ref(buf + off, 65536), op);
        ck_assert_uint_eq(c, crc_ref(buf, 3 * 65536));
    }
    ck_assert_uint_eq(cnio__crc32c_combine(0x12345678u, 0, 0), 0x12345678u);
    free(buf);
}
END_TEST

START_TEST(test_zeros)
{
    static const size_t lens[] = { 0, 1, 7, 8, 63, 4096, 65535, 65536, 200001, 1u << 22 };
    uint8_t *z = calloc(1, 1u << 22);

    ck_assert_ptr_nonnull(z);
    for (size_t i = 0; i < CNIO_ARRAY_LEN(lens); i++)
        ck_assert_uint_eq(cnio__crc32c_zeros(lens[i]), cnio__crc32c_sw(0, z, lens[i]));
    /* data followed by zeros: a block whose file grew past its end by a hole */
    {
        uint8_t d[1000];

        fill(d, sizeof(d));
        memcpy(z, d, sizeof(d));
        ck_assert_uint_eq(cnio__crc32c_combine(crc_ref(d, sizeof(d)), cnio__crc32c_zeros(5000),
                                               5000), crc_ref(z, 6000));
        memset(z, 0, sizeof(d));
    }
    free(z);
}
END_TEST

START_TEST(test_dispatch)
{
    uint8_t buf[4096];

    fill(buf, sizeof(buf));
    ck_assert_int_ge(cnio__crc32c_have_hw(), 0);
    ck_assert_uint_eq(cnio__crc32c(0, buf, sizeof(buf)), cnio__crc32c_sw(0, buf, sizeof(buf)));
    ck_assert(!strcmp(cnio__crc32c_impl(), "isa-l") || !strcmp(cnio__crc32c_impl(), "sse4.2") ||
              !strcmp(cnio__crc32c_impl(), "software"));
}
END_TEST

static Suite *crc32c_suite(void)
{
    Suite *s = suite_create("crc32c");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_vectors, 0, (int)CNIO_ARRAY_LEN(crc_impls));
    tcase_add_test(tc, test_small_lengths_unaligned);
    tcase_add_test(tc, test_large_lengths);
    tcase_add_loop_test(tc, test_chaining, 0, (int)CNIO_ARRAY_LEN(crc_impls));
    tcase_add_test(tc, test_dispatch);
    tcase_add_test(tc, test_combine);
    tcase_add_test(tc, test_zeros);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_run(crc32c_suite());
}
