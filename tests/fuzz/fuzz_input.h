/*
 * fuzz_input.h - a fuzz target's input read from the front, for targets that build
 * their cases field by field from it (fuzz_client.c, fuzz_list.c, fuzz_fabmsg.c).
 */
#ifndef CNIO_FUZZ_INPUT_H
#define CNIO_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

/* The input not yet taken: n bytes at p. */
struct fz_in {
    const uint8_t *p;
    size_t n;
};

/* The next `bytes` bytes (at most 8) as a little-endian number; past the input's end
 * every byte is 0. */
static inline uint64_t fz_take(struct fz_in *in, size_t bytes)
{
    uint64_t v = 0;

    for (size_t i = 0; i < bytes && in->n; i++, in->p++, in->n--)
        v |= (uint64_t)*in->p << (8 * i);
    return v;
}

#endif /* CNIO_FUZZ_INPUT_H */
