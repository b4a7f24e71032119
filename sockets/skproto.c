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

/*
 * Where one message's fields are, so that one encoder and one parser serve a whole
 * message and a small one (name, serv, nai and ai NULL: none, and none accepted).
 */
struct skp_fields {
    uint8_t *type;
    int32_t *i;
    char *name, *serv;
    uint32_t *salen;
    struct sockaddr_storage *sa;
    uint32_t *nai;
    struct cnio__skp_ai *ai;
};

static int skp_encode(const struct skp_fields *f, void *buf, size_t cap)
{
    struct skp_w w = { .p = buf, .cap = cap };
    const char *name = f->name ? f->name : "", *serv = f->serv ? f->serv : "";
    uint32_t nai = f->nai ? *f->nai : 0;
    uint16_t magic = CNIO__SKP_MAGIC;
    uint8_t ver = CNIO__SKP_VERSION;
    uint32_t plen = 0;

    if (*f->type < CNIO__SKP_HELLO || *f->type >= CNIO__SKP_TYPE_END || nai > CNIO__SKP_MAX_AI
        || strlen(name) > CNIO__SKP_NAME_MAX || strlen(serv) > CNIO__SKP_SERV_MAX
        || *f->salen > sizeof(*f->sa) || !skp_addr_ok(f->sa, *f->salen))
        return -1;
    skp_put(&w, &magic, 2);
    skp_put(&w, &ver, 1);
    skp_put(&w, f->type, 1);
    skp_put(&w, &plen, 4);
    skp_put(&w, f->i, CNIO__SKP_NINT * sizeof(int32_t));
    skp_put_bytes(&w, name, strlen(name));
    skp_put_bytes(&w, serv, strlen(serv));
    skp_put_bytes(&w, f->sa, *f->salen);
    skp_put(&w, &nai, 4);
    for (uint32_t k = 0; k < nai; k++) {
        const struct cnio__skp_ai *a = &f->ai[k];

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

/* The address list of a parsed message into f (none accepted when f has no room). */
static void skp_get_ai(struct skp_r *r, const struct skp_fields *f)
{
    uint32_t nai = 0;

    skp_get(r, &nai, 4);
    if (r->bad || nai > (f->ai ? CNIO__SKP_MAX_AI : 0)) {
        r->bad = 1;
        return;
    }
    if (f->nai)
        *f->nai = nai;
    for (uint32_t k = 0; k < nai && !r->bad; k++) {
        struct cnio__skp_ai *a = &f->ai[k];

        skp_get(r, &a->family, 4);
        skp_get(r, &a->socktype, 4);
        skp_get(r, &a->protocol, 4);
        a->addrlen = (uint32_t)skp_get_bytes(r, &a->addr, sizeof(a->addr));
        if (!r->bad && (a->addrlen == 0 || !skp_addr_ok(&a->addr, a->addrlen)
                        || a->family != a->addr.ss_family))
            r->bad = 1;
    }
}

/* Decodes into f, whose storage the caller cleared. */
static int skp_parse(const void *buf, size_t len, const struct skp_fields *f)
{
    const unsigned char *p = buf;
    char none[1];
    uint16_t magic;
    uint32_t plen;
    struct skp_r r;

    if (len < CNIO__SKP_HDR)
        return 0;
    memcpy(&magic, p, 2);
    memcpy(&plen, p + 4, 4);
    *f->type = p[3];
    if (magic != CNIO__SKP_MAGIC || p[2] != CNIO__SKP_VERSION || *f->type < CNIO__SKP_HELLO
        || *f->type >= CNIO__SKP_TYPE_END || plen > CNIO__SKP_MAX - CNIO__SKP_HDR)
        return -1;
    if (len - CNIO__SKP_HDR < plen)
        return 0;
    r = (struct skp_r){ .p = p + CNIO__SKP_HDR, .len = plen };
    skp_get(&r, f->i, CNIO__SKP_NINT * sizeof(int32_t));
    skp_get_str(&r, f->name ? f->name : none, f->name ? CNIO__SKP_NAME_MAX : 0);
    skp_get_str(&r, f->serv ? f->serv : none, f->serv ? CNIO__SKP_SERV_MAX : 0);
    *f->salen = (uint32_t)skp_get_bytes(&r, f->sa, sizeof(*f->sa));
    if (r.bad || !skp_addr_ok(f->sa, *f->salen))
        return -1;
    skp_get_ai(&r, f);
    if (r.bad || r.off != r.len)
        return -1;
    return (int)(CNIO__SKP_HDR + plen);
}

static struct skp_fields skp_msg_fields(struct cnio__skp_msg *m)
{
    return (struct skp_fields){ .type = &m->type, .i = m->i, .name = m->name, .serv = m->serv,
                                .salen = &m->salen, .sa = &m->sa, .nai = &m->nai, .ai = m->ai };
}

static struct skp_fields skp_small_fields(struct cnio__skp_small *m)
{
    return (struct skp_fields){ .type = &m->type, .i = m->i, .salen = &m->salen, .sa = &m->sa };
}

/* The encoders only read through the fields. */
int cnio__skp_encode(const struct cnio__skp_msg *m, void *buf, size_t cap)
{
    struct skp_fields f = skp_msg_fields((struct cnio__skp_msg *)m);

    return skp_encode(&f, buf, cap);
}

int cnio__skp_encode_small(const struct cnio__skp_small *m, void *buf, size_t cap)
{
    struct skp_fields f = skp_small_fields((struct cnio__skp_small *)m);

    return skp_encode(&f, buf, cap);
}

int cnio__skp_parse(const void *buf, size_t len, struct cnio__skp_msg *m)
{
    struct skp_fields f = skp_msg_fields(m);

    memset(m, 0, sizeof(*m));
    return skp_parse(buf, len, &f);
}

int cnio__skp_parse_small(const void *buf, size_t len, struct cnio__skp_small *m)
{
    struct skp_fields f = skp_small_fields(m);

    memset(m, 0, sizeof(*m));
    return skp_parse(buf, len, &f);
}
