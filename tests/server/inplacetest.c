/*
 * inplacetest.c - the helpers inplacetest.h declares.
 */
#include "inplacetest.h"

#include <string.h>
#include <unistd.h>

uint32_t handle_inplace(struct st_conn *c, uint64_t h, const char *name, uint32_t flags)
{
    uint8_t p[CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME], buf[CNIO_WIRE_INFO_SIZE];
    struct cnio_wire_open o = { .name_len = (uint32_t)strlen(name), .name = name };
    struct cnio_wire_info info;
    struct cnio_wire_hdr rh;
    int n = cnio__wire_open_encode(&o, p, sizeof(p));

    ck_assert_int_gt(n, 0);
    c->flags = flags;
    ck_assert_int_eq(st_call(c, CNIO_WIRE_STAT, h, 0, p, (uint32_t)n, &rh, buf, sizeof(buf)),
                     0);
    ck_assert_int_eq(cnio__wire_info_parse(buf, rh.length, &info), 0);
    return info.flags & CNIO_WIRE_I_INPLACE;
}

void writers_left(struct st_conn *c, const char *name, uint64_t own)
{
    const uint32_t others = CNIO_WIRE_F_INPLACE | CNIO_WIRE_F_OTHERS;
    struct cnio_wire_info info;
    uint32_t live = 1;

    for (int i = 0; i < 1000 && live; i++) {
        if (i)
            usleep(10000);
        if (own) {
            live = handle_inplace(c, own, name, others);
        } else {
            c->flags = CNIO_WIRE_F_INPLACE;
            ck_assert_int_eq(st_stat(c, name, &info), 0);
            live = info.flags & CNIO_WIRE_I_INPLACE;
        }
    }
    ck_assert_msg(!live, "a writer of %s still live 10 s after its handle went", name);
}

void committed(struct st_conn *c, const char *name, uint64_t id, const uint8_t *data,
               uint32_t len)
{
    uint64_t h;

    ck_assert_int_eq(open_at(c, name, STAGE, id, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_write(c, h, 0, data, len), 0);
    ck_assert_int_eq(st_call(c, CNIO_WIRE_COMMIT, h, 0, NULL, 0, NULL, NULL, 0), 0);
    ck_assert_int_eq(st_call(c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
}

void *call_it(void *arg)
{
    struct caller *x = arg;

    x->ret = st_call(x->c, x->type, x->h, 0, NULL, 0, NULL, NULL, 0);
    atomic_store(&x->done, 1);
    return NULL;
}

int marked(const char *name, ino_t *ino)
{
    uint8_t meta[64];

    st_meta_head(name, meta, ino);
    return (cnio__get_le32(meta + 28) & 0x1) != 0;   /* CNIO_SRV_META_DIRTY */
}

void upload_joined(struct st_conn *a, struct st_conn *j, const char *name, uint64_t ia,
                   uint64_t ij, uint64_t *ha, uint64_t *hj, const uint8_t *data,
                   size_t len)
{
    ck_assert_int_eq(open_at(a, name, STAGE, ia, ha, NULL, NULL), 0);
    for (uint64_t off = 0; off < (16u << 20); off += len)
        ck_assert_int_eq(st_write(a, *ha, off, data, (uint32_t)len), 0);
    ck_assert_int_eq(open_at(j, name, STAGE, ij, hj, NULL, NULL), 0);
}
