/*
 * layout.c - RAID-0 stripe arithmetic (src/layout.h).
 */
#include "common.h"
#include "config.h"
#include "layout.h"

/* a * b + c, saturating at UINT64_MAX. */
static uint64_t layout_muladd(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t r;

    if (__builtin_mul_overflow(a, b, &r) || __builtin_add_overflow(r, c, &r))
        return UINT64_MAX;
    return r;
}

uint64_t cnio__layout_local_size(const struct cnio_layout *l, uint32_t column, uint64_t size)
{
    uint64_t full = size / l->unit, rem = size % l->unit;
    uint64_t stripes = full / l->count + (column < full % l->count ? 1 : 0);
    uint64_t local = stripes * l->unit;

    if (rem && full % l->count == column)
        local += rem;
    return local;
}

uint64_t cnio__layout_logical_off(const struct cnio_layout *l, uint32_t column,
                                  uint64_t local_off)
{
    uint64_t k = local_off / l->unit, within = local_off % l->unit;
    uint64_t stripe = layout_muladd(k, l->count, column);

    if (stripe == UINT64_MAX)
        return UINT64_MAX;
    return layout_muladd(stripe, l->unit, within);
}

uint64_t cnio__layout_logical_end(const struct cnio_layout *l, uint32_t column,
                                  uint64_t local_size)
{
    uint64_t last;

    if (local_size == 0)
        return 0;
    last = cnio__layout_logical_off(l, column, local_size - 1);
    return last == UINT64_MAX ? UINT64_MAX : last + 1;
}

int cnio__layout_check(const struct cnio_layout *l)
{
    if (!l || l->unit == 0 || l->unit > (1ull << 40) || l->count == 0 ||
        l->count > CNIO_MAX_HOSTS)
        return -CNIO_ERR_LAYOUT;
    return 0;
}
