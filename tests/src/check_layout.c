/*
 * check_layout.c - RAID-0 stripe arithmetic (src/layout.c) against a brute-force byte map.
 */
#include "common.h"
#include "config.h"
#include "layout.h"

#include "fixture.h"
#include <check.h>
#include <stdlib.h>
#include <string.h>

/* Brute force: walks every logical byte of [0, size), recording where it lands. */
static void brute(const struct cnio_layout *l, uint64_t size, uint64_t *local_size)
{
    memset(local_size, 0, sizeof(uint64_t) * l->count);
    for (uint64_t b = 0; b < size; b++) {
        uint64_t stripe = b / l->unit;
        uint32_t col = (uint32_t)(stripe % l->count);
        uint64_t loff = (stripe / l->count) * l->unit + b % l->unit;

        if (loff + 1 > local_size[col])
            local_size[col] = loff + 1;
    }
}

START_TEST(piece_mapping)
{
    struct cnio_layout l = { 4, 3 };
    struct cnio_piece p;

    p = cnio__layout_piece(&l, 0, 100);
    ck_assert_uint_eq(p.column, 0);
    ck_assert_uint_eq(p.local_off, 0);
    ck_assert_uint_eq(p.len, 4);
    p = cnio__layout_piece(&l, 5, 100);
    ck_assert_uint_eq(p.column, 1);
    ck_assert_uint_eq(p.local_off, 1);
    ck_assert_uint_eq(p.len, 3);
    p = cnio__layout_piece(&l, 13, 2);
    ck_assert_uint_eq(p.column, 0);
    ck_assert_uint_eq(p.local_off, 5);
    ck_assert_uint_eq(p.len, 2);
    p = cnio__layout_piece(&l, 23, 9);
    ck_assert_uint_eq(p.column, 2);
    ck_assert_uint_eq(p.local_off, 7);
    ck_assert_uint_eq(p.len, 1);
}
END_TEST

/* Every byte of a range, walked piece by piece, lands where the byte map says. */
START_TEST(piece_walk)
{
    static const uint64_t units[] = { 1, 2, 3, 7, 16 };

    for (size_t ui = 0; ui < CNIO_ARRAY_LEN(units); ui++)
        for (uint32_t c = 1; c <= 5; c++) {
            struct cnio_layout l = { units[ui], c };

            for (uint64_t off = 0; off < 40; off += 3)
                for (uint64_t len = 1; len < 50; len += 5) {
                    uint64_t pos = off, left = len;

                    while (left) {
                        struct cnio_piece p = cnio__layout_piece(&l, pos, left);

                        ck_assert_uint_gt(p.len, 0);
                        ck_assert_uint_le(p.len, left);
                        ck_assert_uint_eq(pos / l.unit, (pos + p.len - 1) / l.unit);
                        for (uint64_t k = 0; k < p.len; k++) {
                            uint64_t b = pos + k, s = b / l.unit;
                            ck_assert_uint_eq(p.column, s % c);
                            ck_assert_uint_eq(p.local_off + k, (s / c) * l.unit + b % l.unit);
                            ck_assert_uint_eq(cnio__layout_logical_off(&l, p.column,
                                                                       p.local_off + k), b);
                        }
                        pos += p.len;
                        left -= p.len;
                    }
                }
        }
}
END_TEST

/* local_size against the byte map, and logical_end round trips, for many (S, C, size). */
START_TEST(sizes_round_trip)
{
    static const uint64_t units[] = { 1, 2, 3, 4, 5, 8, 13, 64 };
    uint64_t local[9];

    for (size_t ui = 0; ui < CNIO_ARRAY_LEN(units); ui++)
        for (uint32_t c = 1; c <= 9; c++) {
            struct cnio_layout l = { units[ui], c };

            for (uint64_t size = 0; size <= 3 * units[ui] * c + 7; size++) {
                uint64_t end = 0;

                brute(&l, size, local);
                for (uint32_t j = 0; j < c; j++) {
                    uint64_t e;
                    ck_assert_uint_eq(cnio__layout_local_size(&l, j, size), local[j]);
                    e = cnio__layout_logical_end(&l, j, local[j]);
                    ck_assert_uint_le(e, size);
                    end = CNIO_MAX(end, e);
                }
                /* the object's size is recovered from its columns' local sizes */
                ck_assert_uint_eq(end, size);
            }
        }
}
END_TEST

START_TEST(logical_end_single)
{
    struct cnio_layout l = { 1u << 20, 2 };

    ck_assert_uint_eq(cnio__layout_logical_end(&l, 0, 0), 0);
    ck_assert_uint_eq(cnio__layout_logical_end(&l, 1, 0), 0);
    ck_assert_uint_eq(cnio__layout_logical_end(&l, 0, 1), 1);
    ck_assert_uint_eq(cnio__layout_logical_end(&l, 1, 1), (1u << 20) + 1);
    ck_assert_uint_eq(cnio__layout_logical_end(&l, 0, (1u << 20) + 5), (2u << 20) + 5);
    /* a sparse object written at 10 MiB only: column 0 holds stripe 10 at local 5 MiB */
    ck_assert_uint_eq(cnio__layout_local_size(&l, 0, (10u << 20) + 1), (5u << 20) + 1);
    ck_assert_uint_eq(cnio__layout_local_size(&l, 1, (10u << 20) + 1), 5u << 20);
}
END_TEST

START_TEST(large_values)
{
    struct cnio_layout l = { 1ull << 40, CNIO_MAX_HOSTS };

    ck_assert_uint_eq(cnio__layout_logical_end(&l, 255, UINT64_MAX), UINT64_MAX);
    ck_assert_uint_eq(cnio__layout_local_size(&l, 0, UINT64_MAX), (1ull << 40) * 65536);
    ck_assert_uint_eq(cnio__layout_local_size(&l, 255, UINT64_MAX), (1ull << 56) - 1);
    ck_assert_uint_eq(cnio__layout_logical_end(&l, 255, (1ull << 56) - 1), UINT64_MAX);
    ck_assert_uint_eq(cnio__layout_logical_end(&l, 0, 1ull << 56),
                      UINT64_MAX - (1ull << 40) * 255 + 1);
}
END_TEST

START_TEST(check)
{
    struct cnio_layout ok = { 1, 1 }, big = { 1ull << 40, CNIO_MAX_HOSTS };
    struct cnio_layout zero_unit = { 0, 1 }, zero_count = { 1, 0 };
    struct cnio_layout huge_unit = { (1ull << 40) + 1, 1 }, many = { 1, CNIO_MAX_HOSTS + 1 };

    ck_assert_int_eq(cnio__layout_check(&ok), 0);
    ck_assert_int_eq(cnio__layout_check(&big), 0);
    ck_assert_int_eq(cnio__layout_check(&zero_unit), -CNIO_ERR_LAYOUT);
    ck_assert_int_eq(cnio__layout_check(&zero_count), -CNIO_ERR_LAYOUT);
    ck_assert_int_eq(cnio__layout_check(&huge_unit), -CNIO_ERR_LAYOUT);
    ck_assert_int_eq(cnio__layout_check(&many), -CNIO_ERR_LAYOUT);
    ck_assert_int_eq(cnio__layout_check(NULL), -CNIO_ERR_LAYOUT);
}
END_TEST

static Suite *layout_suite(void)
{
    Suite *s = suite_create("layout");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, piece_mapping);
    tcase_add_test(tc, piece_walk);
    tcase_add_test(tc, sizes_round_trip);
    tcase_add_test(tc, logical_end_single);
    tcase_add_test(tc, large_values);
    tcase_add_test(tc, check);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fx_run(layout_suite());
}
