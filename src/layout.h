/*
 * layout.h - RAID-0 stripe arithmetic.
 *
 * An object of stripe unit S and stripe count C keeps logical stripe i (bytes
 * [i*S, (i+1)*S)) on host column i mod C, stored densely: on column j, logical stripe
 * i = k*C + j sits at local offset k*S. All functions are pure.
 */
#ifndef CNIO_LAYOUT_H
#define CNIO_LAYOUT_H

#include "common.h"

struct cnio_layout {
    uint64_t unit;   /* S > 0 */
    uint32_t count;  /* C > 0 */
};

/* One stripe-bounded piece of a logical range. */
struct cnio_piece {
    uint32_t column;     /* host column j */
    uint64_t local_off;  /* offset in column j's local file */
    uint64_t len;        /* bytes, never crossing a stripe boundary */
};

/* The piece of [off, off + len) that starts at off (len > 0). */
static inline struct cnio_piece cnio__layout_piece(const struct cnio_layout *l, uint64_t off,
                                                   uint64_t len)
{
    uint64_t stripe = off / l->unit, within = off % l->unit;
    struct cnio_piece p;
    p.column = (uint32_t)(stripe % l->count);
    p.local_off = (stripe / l->count) * l->unit + within;
    p.len = CNIO_MIN(len, l->unit - within);
    return p;
}

/* Bytes of logical range [0, size) that column j holds. */
uint64_t cnio__layout_local_size(const struct cnio_layout *l, uint32_t column, uint64_t size);
/* Logical end (one past the last byte) of a column j local file of local_size bytes
 * (0 when local_size is 0). */
uint64_t cnio__layout_logical_end(const struct cnio_layout *l, uint32_t column,
                                  uint64_t local_size);
/* Logical offset of column j's local byte local_off. */
uint64_t cnio__layout_logical_off(const struct cnio_layout *l, uint32_t column,
                                  uint64_t local_off);
/* 0 when the layout is usable (unit > 0 and <= 1 TiB, 0 < count <= CNIO_MAX_HOSTS),
 * else -CNIO_ERR_LAYOUT. */
int cnio__layout_check(const struct cnio_layout *l);

#endif /* CNIO_LAYOUT_H */
