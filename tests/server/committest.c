/*
 * committest.c - the helpers committest.h declares.
 */
#include "committest.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int open_col(struct st_conn *c, const char *name, uint32_t flags, uint32_t count,
             uint32_t index, uint64_t off, uint64_t *handle, struct cnio_wire_info *info,
             uint64_t *roff)
{
    uint8_t p[CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME], buf[CNIO_WIRE_INFO_SIZE];
    struct cnio_wire_open o = { .flags = flags, .stripe_count = count, .stripe_unit = UNIT,
                                .stripe_index = index, .name_len = (uint32_t)strlen(name),
                                .name = name };
    struct cnio_wire_info tmp;
    struct cnio_wire_hdr rh;
    int n = cnio__wire_open_encode(&o, p, sizeof(p)), ret;

    ck_assert_int_gt(n, 0);
    ret = st_call(c, CNIO_WIRE_OPEN, 0, off, p, (uint32_t)n, &rh, buf, sizeof(buf));
    if (ret)
        return ret;
    ck_assert_int_eq(cnio__wire_info_parse(buf, rh.length, info ? info : &tmp), 0);
    if (handle)
        *handle = rh.object;
    if (roff)
        *roff = rh.offset;
    return 0;
}

int open_at(struct st_conn *c, const char *name, uint32_t flags, uint64_t off,
            uint64_t *handle, struct cnio_wire_info *info, uint64_t *roff)
{
    return open_col(c, name, flags, 1, 0, off, handle, info, roff);
}

int crc_of(struct st_conn *c, uint64_t h, uint64_t off, uint64_t len,
           struct cnio_wire_crc *cr)
{
    uint8_t p[8], buf[CNIO_WIRE_CRC_SIZE];
    struct cnio_wire_hdr rh;
    int ret;

    cnio__wire_u64_encode(len, p, sizeof(p));
    ret = st_call(c, CNIO_WIRE_CRC, h, off, p, 8, &rh, buf, sizeof(buf));
    if (ret)
        return ret;
    ck_assert_int_eq(cnio__wire_crc_parse(buf, rh.length, cr), 0);
    return 0;
}

int unlink_id(struct st_conn *c, const char *name, uint64_t id)
{
    uint8_t p[CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME];
    struct cnio_wire_open o = { .name_len = (uint32_t)strlen(name), .name = name };
    int n = cnio__wire_open_encode(&o, p, sizeof(p));

    return st_call(c, CNIO_WIRE_UNLINK, 0, id, p, (uint32_t)n, NULL, NULL, 0);
}

int rename_req(struct st_conn *c, const char *from, const char *to)
{
    struct cnio_wire_open a = { .name = from, .name_len = (uint32_t)strlen(from) };
    struct cnio_wire_open b = { .name = to, .name_len = (uint32_t)strlen(to) };
    uint8_t buf[2 * (CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME)];
    int n = cnio__wire_rename_encode(&a, &b, buf, sizeof(buf));

    ck_assert_int_gt(n, 0);
    return st_call(c, CNIO_WIRE_RENAME, 0, 0, buf, (uint32_t)n, NULL, NULL, 0);
}

int staged_files_on(int j)
{
    char path[PATH_MAX + 16];
    struct dirent *de;
    int n = 0;
    DIR *d;

    snprintf(path, sizeof(path), "%s/.cnio/stage", st_fx.root[j]);
    d = opendir(path);
    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d))) {
        const char *dot = strchr(de->d_name, '.');

        if (dot && dot != de->d_name && (!strcmp(dot, ".sums") || !strcmp(dot, ".meta") ||
                                         !strcmp(dot, ".commit") || !strcmp(dot, ".final"))) {
            /* block sums, metadata and the metadata a PREPARE reserved go with their
             * instance: never left behind by it */
            char data[PATH_MAX + 300];

            snprintf(data, sizeof(data), "%s/%.*s", path, (int)(dot - de->d_name), de->d_name);
            ck_assert_msg(access(data, F_OK) == 0, "%s left behind", de->d_name);
            continue;
        }
        n += de->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

int staged_files(void)
{
    return staged_files_on(0);
}

void wait_released(struct st_conn *c, uint64_t h)
{
    struct cnio_wire_crc cr;
    int ret = 0;

    for (int i = 0; i < 1000; i++) {
        ret = crc_of(c, h, 0, 1, &cr);
        if (ret == -CNIO_ERR_NOENT)
            break;
        usleep(10000);
    }
    ck_assert_int_eq(ret, -CNIO_ERR_NOENT);
}

void read_back(struct st_conn *c, const char *name, const void *want, uint32_t len)
{
    uint8_t *buf = malloc(len + 1);
    uint32_t got = 0;
    uint64_t h;

    ck_assert_int_eq(open_at(c, name, 0, 0, &h, NULL, NULL), 0);
    ck_assert_int_eq(st_read(c, h, 0, buf, len + 1, &got), 0);
    ck_assert_uint_eq(got, len);
    ck_assert_int_eq(memcmp(buf, want, len), 0);
    ck_assert_int_eq(st_call(c, CNIO_WIRE_CLOSE, h, 0, NULL, 0, NULL, NULL, 0), 0);
    free(buf);
}

struct cnio_obj *staged_upload(const char *name, const uint8_t *data, size_t len,
                                 struct cnio_stack **stk, struct cnio_uri *u,
                                 struct cnio_hints *hints)
{
    struct cnio_obj *obj;
    char uri[1024];

    fx_stop(&st_fx);
    ck_assert_int_eq(fx_start(&st_fx, 2, NULL), 0);
    ck_assert_int_eq(cnio__stack_open(stk), 0);
    ck_assert_int_eq(cnio__uri_parse(fx_uri(&st_fx, name, NULL, uri, sizeof(uri)), u), 0);
    ck_assert_int_eq(cnio__hints_resolve(hints, u), 0);
    hints->striping_unit = UNIT;
    ck_assert_int_eq(cnio__obj_open(*stk, u, hints, STAGE | CNIO_WIRE_O_TRUNC, &obj), 0);
    ck_assert_int_eq(cnio__obj_pwrite(obj, data, len, 0), (ssize_t)len);
    return obj;
}

void two_servers(const char *name, struct st_conn *c, struct cnio_stack **stk,
                 struct cnio_uri *u, struct cnio_hints *hints)
{
    char uri[1024];

    fx_stop(&st_fx);
    ck_assert_int_eq(fx_start(&st_fx, 2, NULL), 0);
    st_session(&st_fx, 0, &c[0]);
    st_session(&st_fx, 1, &c[1]);
    ck_assert_int_eq(cnio__stack_open(stk), 0);
    ck_assert_int_eq(cnio__uri_parse(fx_uri(&st_fx, name, NULL, uri, sizeof(uri)), u), 0);
    ck_assert_int_eq(cnio__hints_resolve(hints, u), 0);
}
