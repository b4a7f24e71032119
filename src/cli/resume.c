/*
 * resume.c - what `cnio cp --resume` compares before it moves a chunk: the CRC32C of
 * each stripe-unit piece of the chunk as the server holding it has it (a CRC request,
 * answered from the server's file), against the CRC32C of the same bytes here. A chunk
 * whose pieces all match is already there and is skipped; any other is copied whole.
 */
#include "cli.h"
#include "client.h"
#include "wire.h"

#include <stdlib.h>

int cli_resume_same(struct cnio_obj *obj, const char *data, uint64_t off, uint64_t len,
                    int *same)
{
    const struct cnio_layout *l = cnio__obj_layout(obj);
    uint64_t *offs, *lens, *cov, pos, n = 0, cap;
    uint32_t *crcs;
    int rc;

    *same = 0;
    if (!l || !len)
        return 0;
    cap = len / CNIO_MIN(l->unit, CNIO_WIRE_MAX_PAYLOAD) + 2;
    offs = calloc(cap, sizeof(*offs));
    lens = calloc(cap, sizeof(*lens));
    cov = calloc(cap, sizeof(*cov));
    crcs = calloc(cap, sizeof(*crcs));
    rc = offs && lens && cov && crcs ? 0 : -CNIO_ERR_NOMEM;
    for (pos = 0; rc == 0 && pos < len; n++) {
        struct cnio_piece p = cnio__layout_piece(l, off + pos, len - pos);

        offs[n] = off + pos;
        lens[n] = CNIO_MIN(p.len, CNIO_WIRE_MAX_PAYLOAD);
        pos += lens[n];
    }
    if (rc == 0)
        rc = cnio__obj_crcx(obj, offs, lens, (size_t)n, crcs, cov);
    if (rc == 0) {
        *same = 1;
        for (uint64_t k = 0; k < n && *same; k++)
            *same = cov[k] == lens[k] &&
                    crcs[k] == cnio__crc32c(0, data + (offs[k] - off), (size_t)lens[k]);
    }
    free(offs);
    free(lens);
    free(cov);
    free(crcs);
    return rc;
}
