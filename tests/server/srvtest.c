/*
 * srvtest.c - raw-frame clients for the cnio-server tests (srvtest.h).
 */
#include "srvtest.h"
#include "net.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <poll.h>
#include <string.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

void st_key(const struct fx *f, struct cnio_key *k)
{
    ck_assert_int_eq(cnio__key_load(f->key, k), 0);
}

int st_send(int fd, struct cnio_wire_hdr *h, const void *p, uint32_t len)
{
    uint8_t hdr[CNIO_WIRE_HDR_SIZE];
    struct iovec iov[2];

    h->length = len;
    h->payload_crc = len ? cnio__crc32c(0, p, len) : 0;
    cnio__wire_hdr_encode(h, hdr);
    iov[0].iov_base = hdr;
    iov[0].iov_len = sizeof(hdr);
    iov[1].iov_base = (void *)p;
    iov[1].iov_len = len;
    return cnio__net_sendv_all(fd, iov, len ? 2 : 1, cnio__now_ms() + ST_TIMEOUT_MS);
}

int st_recv(int fd, struct cnio_wire_hdr *h, uint8_t *buf, size_t cap)
{
    uint8_t hdr[CNIO_WIRE_HDR_SIZE];
    int64_t deadline = cnio__now_ms() + ST_TIMEOUT_MS;
    int ret = cnio__net_recv_all(fd, hdr, sizeof(hdr), deadline);

    if (ret)
        return ret;
    if (cnio__wire_hdr_decode(hdr, h))
        return -CNIO_ERR_PROTO;
    if (h->length > cap && h->status && (h->flags & CNIO_WIRE_F_REASON)) {
        uint8_t why[CNIO_WIRE_MAX_REASON];

        ret = cnio__net_recv_all(fd, why, h->length, deadline);
        return ret ? ret : cnio__wire_payload_check(h, why);
    }
    if (h->length > cap)
        return -CNIO_ERR_PROTO;
    ret = h->length ? cnio__net_recv_all(fd, buf, h->length, deadline) : 0;
    if (ret)
        return ret;
    return cnio__wire_payload_check(h, buf);
}

int st_closed(int fd, int timeout_ms)
{
    int64_t deadline = cnio__now_ms() + timeout_ms;
    char buf[4096];

    for (;;) {
        ssize_t r;
        int w = cnio__net_wait(fd, POLLIN, deadline);

        if (w == -CNIO_ERR_CONN)
            return 1;
        if (w)
            return 0;
        r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
            return 1;
    }
}

int st_connect(const struct fx *f, int i, struct st_conn *c)
{
    struct cnio_wire_hdr h;
    uint8_t buf[CNIO_WIRE_CHALLENGE_SIZE];
    int ret;

    memset(c, 0, sizeof(*c));
    c->fd = fx_connect(f, i);
    ck_assert_int_ge(c->fd, 0);
    ret = st_recv(c->fd, &h, buf, sizeof(buf));
    if (ret)
        return ret;
    ck_assert_uint_eq(h.type, CNIO_WIRE_CHALLENGE);
    if (h.status)
        return h.status;
    ck_assert_int_eq(cnio__wire_challenge_parse(buf, h.length, &c->ch), 0);
    return 0;
}

int st_auth_raw(struct st_conn *c, const uint8_t *k, size_t klen, uint32_t mode,
                uint32_t rank, uint64_t object)
{
    struct cnio_wire_auth a;
    struct cnio_wire_hdr h;
    uint8_t buf[CNIO_WIRE_AUTH_SIZE];
    int ret;

    ck_assert_int_eq(cnio__auth_respond(k, klen, &c->ch, mode, rank, object, &a), 0);
    ck_assert_int_eq(cnio__wire_auth_encode(&a, buf, sizeof(buf)), CNIO_WIRE_AUTH_SIZE);
    memset(&h, 0, sizeof(h));
    h.type = CNIO_WIRE_AUTH;
    h.flags = c->legacy ? 0 : CNIO_WIRE_F_REASON;
    h.reqid = ++c->reqid;
    ret = st_send(c->fd, &h, buf, CNIO_WIRE_AUTH_SIZE);
    if (!ret)
        ret = st_recv(c->fd, &h, buf, sizeof(buf));
    if (ret)
        return ret;
    ck_assert_uint_eq(h.type, CNIO_WIRE_AUTH | CNIO_WIRE_REPLY);
    ck_assert_uint_eq(h.reqid, c->reqid);
    if (h.status)
        return h.status;
    ck_assert_uint_eq(h.length, CNIO_WIRE_MAC);
    ck_assert_int_eq(cnio__auth_check_server(k, klen, &a, &c->ch, buf), 0);
    ck_assert_uint_ne(h.session, 0);
    c->session = h.session;
    c->server_id = h.object;
    return 0;
}

int st_auth_key(struct st_conn *c, const uint8_t *k, size_t klen)
{
    return st_auth_raw(c, k, klen, CNIO_WIRE_AUTH_KEY, 0, 0);
}

int st_auth_token(struct st_conn *c, const struct cnio_key *key, uint64_t object, uint32_t rank)
{
    uint8_t token[CNIO_WIRE_MAC];

    ck_assert_int_eq(cnio__auth_token(key, object, rank, token), 0);
    return st_auth_raw(c, token, sizeof(token), CNIO_WIRE_AUTH_TOKEN, rank, object);
}

void st_session(const struct fx *f, int i, struct st_conn *c)
{
    struct cnio_key k;

    st_key(f, &k);
    ck_assert_int_eq(st_connect(f, i, c), 0);
    ck_assert_int_eq(st_auth_key(c, k.bytes, k.len), 0);
    cnio__key_wipe(&k);
}

void st_close(struct st_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

int st_call(struct st_conn *c, uint16_t type, uint64_t object, uint64_t offset,
            const void *p, uint32_t len, struct cnio_wire_hdr *rh, uint8_t *rbuf, size_t rcap)
{
    struct cnio_wire_hdr h, rep;
    uint8_t scratch[CNIO_WIRE_INFO_SIZE];
    int ret;

    memset(&h, 0, sizeof(h));
    h.type = type;
    h.flags = c->flags;
    c->flags = 0;
    h.reqid = ++c->reqid;
    h.session = c->session;
    h.object = object;
    h.offset = offset;
    ret = st_send(c->fd, &h, p, len);
    if (!ret)
        ret = st_recv(c->fd, &rep, rbuf ? rbuf : scratch, rbuf ? rcap : sizeof(scratch));
    if (ret)
        return ret;
    ck_assert_uint_eq(rep.type, type | CNIO_WIRE_REPLY);
    ck_assert_uint_eq(rep.reqid, c->reqid);
    if (rh)
        *rh = rep;
    return rep.status;
}

int st_named(struct st_conn *c, uint16_t type, const char *name, uint32_t flags,
             uint32_t count, uint64_t unit, uint32_t index, uint64_t offset,
             struct cnio_wire_hdr *rh, uint8_t *rbuf, size_t rcap)
{
    uint8_t p[CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME];
    struct cnio_wire_open o = {
        .flags = flags, .stripe_count = count, .stripe_unit = unit, .stripe_index = index,
        .name_len = (uint32_t)strlen(name), .name = name,
    };
    int n = cnio__wire_open_encode(&o, p, sizeof(p));

    ck_assert_int_gt(n, 0);
    return st_call(c, type, 0, offset, p, (uint32_t)n, rh, rbuf, rcap);
}

int st_open(struct st_conn *c, const char *name, uint32_t flags, uint32_t count, uint64_t unit,
            uint32_t index, uint64_t *handle, struct cnio_wire_info *info)
{
    struct cnio_wire_hdr rh;
    uint8_t buf[CNIO_WIRE_INFO_SIZE];
    struct cnio_wire_info tmp;
    int ret = st_named(c, CNIO_WIRE_OPEN, name, flags, count, unit, index, 0, &rh, buf,
                       sizeof(buf));

    if (ret)
        return ret;
    ck_assert_int_eq(cnio__wire_info_parse(buf, rh.length, info ? info : &tmp), 0);
    ck_assert_uint_ne(rh.object, 0);
    if (handle)
        *handle = rh.object;
    return 0;
}

int st_stat(struct st_conn *c, const char *name, struct cnio_wire_info *info)
{
    struct cnio_wire_hdr rh;
    uint8_t buf[CNIO_WIRE_INFO_SIZE];
    int ret = st_named(c, CNIO_WIRE_STAT, name, 0, 0, 0, 0, 0, &rh, buf, sizeof(buf));

    if (ret)
        return ret;
    ck_assert_int_eq(cnio__wire_info_parse(buf, rh.length, info), 0);
    return 0;
}

int st_unlink(struct st_conn *c, const char *name)
{
    return st_named(c, CNIO_WIRE_UNLINK, name, 0, 0, 0, 0, 0, NULL, NULL, 0);
}

int st_list(struct st_conn *c, const char *dir, uint64_t cursor, struct cnio_wire_hdr *rh,
            uint8_t *buf, size_t cap)
{
    return st_named(c, CNIO_WIRE_LIST, dir, 0, 0, 0, 0, cursor, rh, buf, cap);
}

int st_write(struct st_conn *c, uint64_t handle, uint64_t off, const void *buf, uint32_t len)
{
    return st_call(c, CNIO_WIRE_WRITE, handle, off, buf, len, NULL, NULL, 0);
}

int st_read(struct st_conn *c, uint64_t handle, uint64_t off, void *buf, uint32_t len,
            uint32_t *got)
{
    struct cnio_wire_hdr rh;
    uint8_t p[8];
    int ret;

    cnio__put_le64(p, len);
    ret = st_call(c, CNIO_WIRE_READ, handle, off, p, sizeof(p), &rh, buf, len);
    if (!ret && got)
        *got = rh.length;
    return ret;
}

struct fx st_fx;

void st_setup(void)
{
    ck_assert_int_eq(fx_start(&st_fx, 1, NULL), 0);
}

void st_teardown(void)
{
    fx_stop(&st_fx);
}

void st_meta_head(const char *name, uint8_t meta[64], ino_t *ino)
{
    char path[PATH_MAX + 16];
    struct stat sb;
    int fd;

    snprintf(path, sizeof(path), "%s/.cnio/meta/%s", st_fx.root[0], name);
    fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, meta, 64, 0), 64);
    ck_assert_int_eq(fstat(fd, &sb), 0);
    close(fd);
    if (ino)
        *ino = sb.st_ino;
}

uint64_t st_server_rss(void)
{
    char path[64], line[256];
    unsigned long long kb = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%ld/status", (long)st_fx.pid[0]);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %llu kB", &kb) == 1)
            break;
    fclose(f);
    return kb * 1024;
}

int st_server_fds(void)
{
    char path[64];
    struct dirent *e;
    int n = 0;
    DIR *d;

    snprintf(path, sizeof(path), "/proc/%ld/fd", (long)st_fx.pid[0]);
    d = opendir(path);
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}
