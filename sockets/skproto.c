/*
 * skproto.c - encoding and the one bounds-checked parser of the shim <-> proxy protocol
 * (format in skproto.h).
 */
#include "skproto.h"

#include <netinet/in.h>
#include <string.h>

struct skp_w {
    unsigned char *p;
    size_t len, cap;
    int bad;
};

struct skp_r {
    const unsigned char *p;
    size_t len, off;
    int bad;
};

static void skp_put(struct skp_w *w, const void *src, size_t n)
{
    if (w->bad || n > w->cap - w->len) {
        w->bad = 1;
        return;
    }
    memcpy(w->p + w->len, src, n);
    w->len += n;
}

static void skp_put_bytes(struct skp_w *w, const void *src, size_t n)
{
    uint16_t n16 = (uint16_t)n;

    if (n > UINT16_MAX) {
        w->bad = 1;
        return;
    }
    skp_put(w, &n16, sizeof(n16));
    skp_put(w, src, n);
}

static void skp_get(struct skp_r *r, void *dst, size_t n)
{
    if (r->bad || n > r->len - r->off) {
        r->bad = 1;
        memset(dst, 0, n);
        return;
    }
    memcpy(dst, r->p + r->off, n);
    r->off += n;
}

/* A length-prefixed field of at most cap bytes into dst; returns its length. */
static size_t skp_get_bytes(struct skp_r *r, void *dst, size_t cap)
{
    uint16_t n = 0;

    skp_get(r, &n, sizeof(n));
    if (r->bad || n > cap || n > r->len - r->off) {
        r->bad = 1;
        return 0;
    }
    memcpy(dst, r->p + r->off, n);
    r->off += n;
    return n;
}

/* A string of at most cap bytes, NUL-free, NUL-terminated into dst (cap + 1 bytes). */
static void skp_get_str(struct skp_r *r, char *dst, size_t cap)
{
    size_t n = skp_get_bytes(r, dst, cap);

    dst[n] = '\0';
    if (memchr(dst, '\0', n))
        r->bad = 1;
}

int cnio__skp_inet_ok(const struct sockaddr *sa, size_t salen)
{
    if (salen >= sizeof(struct sockaddr_in) && sa->sa_family == AF_INET)
        return salen == sizeof(struct sockaddr_in);
    if (salen >= sizeof(struct sockaddr_in6) && sa->sa_family == AF_INET6)
        return salen == sizeof(struct sockaddr_in6);
    return 0;
}

static int skp_addr_ok(const void *sa, size_t salen)
{
    return salen == 0 || (salen >= sizeof(sa_family_t) && cnio__skp_inet_ok(sa, salen));
}

int cnio__skp_encode(const struct cnio__skp_msg *m, void *buf, size_t cap)
{
    struct skp_w w = { .p = buf, .cap = cap };
    uint16_t magic = CNIO__SKP_MAGIC;
    uint8_t ver = CNIO__SKP_VERSION;
    uint32_t plen = 0;

    if (m->type < CNIO__SKP_HELLO || m->type >= CNIO__SKP_TYPE_END || m->nai > CNIO__SKP_MAX_AI
        || strlen(m->name) > CNIO__SKP_NAME_MAX || strlen(m->serv) > CNIO__SKP_SERV_MAX
        || m->salen > sizeof(m->sa) || !skp_addr_ok(&m->sa, m->salen))
        return -1;
    skp_put(&w, &magic, 2);
    skp_put(&w, &ver, 1);
    skp_put(&w, &m->type, 1);
    skp_put(&w, &plen, 4);
    skp_put(&w, m->i, sizeof(m->i));
    skp_put_bytes(&w, m->name, strlen(m->name));
    skp_put_bytes(&w, m->serv, strlen(m->serv));
    skp_put_bytes(&w, &m->sa, m->salen);
    skp_put(&w, &m->nai, 4);
    for (uint32_t k = 0; k < m->nai; k++) {
        const struct cnio__skp_ai *a = &m->ai[k];

        if (a->addrlen > sizeof(a->addr) || !skp_addr_ok(&a->addr, a->addrlen))
            return -1;
        skp_put(&w, &a->family, 4);
        skp_put(&w, &a->socktype, 4);
        skp_put(&w, &a->protocol, 4);
        skp_put_bytes(&w, &a->addr, a->addrlen);
    }
    if (w.bad || w.len > CNIO__SKP_MAX)
        return -1;
    plen = (uint32_t)(w.len - CNIO__SKP_HDR);
    memcpy(w.p + 4, &plen, 4);
    return (int)w.len;
}

int cnio__skp_parse(const void *buf, size_t len, struct cnio__skp_msg *m)
{
    const unsigned char *p = buf;
    uint16_t magic;
    uint32_t plen;
    struct skp_r r;

    memset(m, 0, sizeof(*m));
    if (len < CNIO__SKP_HDR)
        return 0;
    memcpy(&magic, p, 2);
    memcpy(&plen, p + 4, 4);
    m->type = p[3];
    if (magic != CNIO__SKP_MAGIC || p[2] != CNIO__SKP_VERSION || m->type < CNIO__SKP_HELLO
        || m->type >= CNIO__SKP_TYPE_END || plen > CNIO__SKP_MAX - CNIO__SKP_HDR)
        return -1;
    if (len - CNIO__SKP_HDR < plen)
        return 0;
    r = (struct skp_r){ .p = p + CNIO__SKP_HDR, .len = plen };
    skp_get(&r, m->i, sizeof(m->i));
    skp_get_str(&r, m->name, CNIO__SKP_NAME_MAX);
    skp_get_str(&r, m->serv, CNIO__SKP_SERV_MAX);
    m->salen = (uint32_t)skp_get_bytes(&r, &m->sa, sizeof(m->sa));
    skp_get(&r, &m->nai, 4);
    if (r.bad || m->nai > CNIO__SKP_MAX_AI || !skp_addr_ok(&m->sa, m->salen))
        return -1;
    for (uint32_t k = 0; k < m->nai && !r.bad; k++) {
        struct cnio__skp_ai *a = &m->ai[k];

        skp_get(&r, &a->family, 4);
        skp_get(&r, &a->socktype, 4);
        skp_get(&r, &a->protocol, 4);
        a->addrlen = (uint32_t)skp_get_bytes(&r, &a->addr, sizeof(a->addr));
        if (!r.bad && (a->addrlen == 0 || !skp_addr_ok(&a->addr, a->addrlen)
                       || a->family != a->addr.ss_family))
            r.bad = 1;
    }
    if (r.bad || r.off != r.len)
        return -1;
    return (int)(CNIO__SKP_HDR + plen);
}
