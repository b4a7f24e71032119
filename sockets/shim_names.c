/*
 * shim_names.c - getaddrinfo, freeaddrinfo, gethostbyname, gethostbyname2 and
 * getnameinfo, and the reentrant gethostbyname_r and gethostbyname2_r, answered by the
 * proxy's job-wide cache. Questions the resolver would not
 * be asked anyway (numeric hosts, AI_NUMERICHOST, NI_NUMERICHOST, no host wanted) and
 * every question while the proxy is off go to libc directly; so does a question the
 * protocol cannot carry (names over 4000 bytes, services over 63).
 *
 * Answers from the proxy are allocated as glibc allocates its own (each entry on its
 * own, the canonical name apart), so freeaddrinfo is libc's for both, and frees any
 * sublist. gethostbyname and gethostbyname2 each return their own process-wide static
 * hostent, as glibc's do, without aliases.
 */
#include "shim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static int shim_numeric(const char *node)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, node, buf) == 1 || inet_pton(AF_INET6, node, buf) == 1;
}

/* The longest the shim waits for one lookup at the proxy (heartbeats included) before
 * asking libc itself. */
#define SHIM_NAME_WAIT_MS 30000

/* One conversation about a name: the message and its encoding (14.5 KiB) on the heap,
 * not on the caller's stack, which may be a small thread's (glibc's own lookups
 * allocate too). */
struct shim_q {
    struct cnio__skp_msg m;
    unsigned char buf[CNIO__SKP_MAX];
};

/* An empty question of the given type; NULL when out of memory (libc answers then). */
static struct shim_q *shim_q_new(int type)
{
    struct shim_q *q = malloc(sizeof(*q));

    if (q) {
        memset(&q->m, 0, sizeof(q->m));
        q->m.type = (uint8_t)type;
    }
    return q;
}

/* The next message of the conversation into q->m; 0, or -1. */
static int shim_q_recv(int fd, struct shim_q *q)
{
    int n = shim_rpc_recv(fd, q->buf, sizeof(q->buf));

    if (n < 0)
        return -1;
    if (cnio__skp_parse(q->buf, (size_t)n, &q->m) != n) {
        errno = EPROTO;
        return -1;
    }
    return 0;
}

/* One question: 0 with q->m the answer, or -1 (ask libc instead). While the proxy's
 * resolver works on it, the proxy sends heartbeats (a third of the proxy time-out). */
static int shim_ask(struct shim_q *q, int want)
{
    int64_t end = shim_now_ms() + SHIM_NAME_WAIT_MS;
    int fd = shim_rpc_open(), n;

    if (fd < 0)
        return -1;
    n = cnio__skp_encode(&q->m, q->buf, sizeof(q->buf));
    if (n < 0)
        errno = EINVAL;
    if (n < 0 || shim_rpc_send(fd, q->buf, (size_t)n) < 0)
        goto failed;
    for (;;) {
        if (shim_q_recv(fd, q) < 0)
            goto failed;
        if (q->m.type == want)
            break;
        if (q->m.type != CNIO__SKP_ADMIT_REP || q->m.i[0] != CNIO__SKP_QUEUED)
            goto failed;
        if (shim_now_ms() > end) {   /* the proxy lives, its resolver is stuck */
            shim_rpc_close(fd);
            return -1;
        }
    }
    shim_rpc_close(fd);
    /* an answer too large for the proxy's (GAI_REP i3) is libc's: not counted here */
    if (!(q->m.type == CNIO__SKP_GAI_REP && q->m.i[3]))
        SHIM_ADD(names_proxy, 1);
    return 0;
failed:
    shim_proxy_failed("stopped answering");
    shim_rpc_close(fd);
    return -1;
}

/*
 * Builds a getaddrinfo result from the proxy's answer, every entry with the hints' flags,
 * laid out exactly as glibc's getaddrinfo does it: each entry one allocation holding the
 * addrinfo with its address right behind it (ai_addr = entry + 1, of ai_addrlen bytes),
 * and the canonical name, in the first entry only, an allocation of its own. So libc's
 * freeaddrinfo (free ai_canonname, then the entry, for each entry) frees any sublist,
 * a list the program relinked, or an entry whose canonical name the program freed
 * itself, as it does for its own answers. NULL when out of memory.
 */
static struct addrinfo *shim_ai_build(const struct cnio__skp_msg *m, int flags)
{
    struct addrinfo *head = NULL, **tail = &head;

    for (uint32_t k = 0; k < m->nai; k++) {
        struct addrinfo *a = calloc(1, sizeof(*a) + m->ai[k].addrlen);

        if (!a)
            goto free_list;
        a->ai_flags = flags;
        a->ai_family = m->ai[k].family;
        a->ai_socktype = m->ai[k].socktype;
        a->ai_protocol = m->ai[k].protocol;
        a->ai_addrlen = m->ai[k].addrlen;
        a->ai_addr = (struct sockaddr *)(a + 1);
        memcpy(a->ai_addr, &m->ai[k].addr, m->ai[k].addrlen);
        *tail = a;
        tail = &a->ai_next;
    }
    if (head && m->i[2] && !(head->ai_canonname = strdup(m->name)))
        goto free_list;
    return head;
free_list:
    shim_real.freeaddrinfo(head);
    return NULL;
}

/* The proxy's answer to q (a GAI_REP) as getaddrinfo returns it. */
static int shim_gai_answer(const struct shim_q *q, int flags, int e, struct addrinfo **res)
{
    if (q->m.i[0]) {
        errno = q->m.i[0] == EAI_SYSTEM ? q->m.i[1] : e;
        return q->m.i[0];
    }
    if (q->m.nai == 0)
        return EAI_NONAME;
    *res = shim_ai_build(&q->m, flags);
    errno = e;
    return *res ? 0 : EAI_MEMORY;
}

SHIM_EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                            struct addrinfo **res)
{
    struct addrinfo def = { .ai_flags = AI_V4MAPPED | AI_ADDRCONFIG };
    struct shim_q *q = NULL;
    int e = errno, rc;

    shim_init();
    SHIM_ADD(names, 1);
    if (!hints)
        hints = &def;
    if (!shim_conf.names || !shim_proxy_on() || !node || !*node || !res
        || (hints->ai_flags & AI_NUMERICHOST)
        || strlen(node) > CNIO__SKP_NAME_MAX || (service && strlen(service) > CNIO__SKP_SERV_MAX)
        || shim_numeric(node) || !(q = shim_q_new(CNIO__SKP_GAI_REQ)))
        return shim_real.getaddrinfo(node, service, hints == &def ? NULL : hints, res);
    strcpy(q->m.name, node);
    if (service)
        strcpy(q->m.serv, service);
    q->m.i[0] = hints->ai_flags;
    q->m.i[1] = hints->ai_family;
    q->m.i[2] = hints->ai_socktype;
    q->m.i[3] = hints->ai_protocol;
    q->m.i[4] = service != NULL;
    if (shim_ask(q, CNIO__SKP_GAI_REP) < 0 || q->m.i[3]) {   /* i3: more than it holds */
        free(q);
        return shim_real.getaddrinfo(node, service, hints == &def ? NULL : hints, res);
    }
    rc = shim_gai_answer(q, hints->ai_flags, e, res);
    free(q);
    return rc;
}

/* Ours are laid out as libc's (shim_ai_build): libc's freeaddrinfo frees both. */
SHIM_EXPORT void freeaddrinfo(struct addrinfo *ai)
{
    shim_init();
    shim_real.freeaddrinfo(ai);
}

struct shim_hostent {
    struct hostent h;
    char *addrs[CNIO__SKP_MAX_AI + 1];
    char *aliases[1];
    char name[CNIO__SKP_NAME_MAX + 1];
    struct in6_addr data[CNIO__SKP_MAX_AI];
};

/*
 * gethostbyname's and gethostbyname2's results, one each, as glibc keeps one static
 * result per function: process-wide, valid until the next call of the same function by
 * any thread, never freed (a thread may hand its result to another and exit). Static
 * storage (.bss), not TLS: it costs no thread any stack. Filled under a lock, as glibc
 * fills its own; reading it stays as unsafe across threads as glibc's.
 */
static struct shim_hostent shim_he_byname, shim_he_byname2;
static pthread_mutex_t shim_he_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * A gethostbyname2 question to the proxy. Returns NULL when libc must answer instead,
 * else the conversation (the caller frees it): then *herr is 0 and its message holds at
 * least one address of family af, or *herr is the h_errno of the failure.
 */
static struct shim_q *shim_host_ask(const char *name, int af, int *herr)
{
    struct shim_q *q = NULL;
    struct cnio__skp_msg *m;
    uint32_t n = 0;

    if (!shim_conf.names || !shim_proxy_on() || !name || !*name || strlen(name) > CNIO__SKP_NAME_MAX
        || (af != AF_INET && af != AF_INET6) || shim_numeric(name)
        || !(q = shim_q_new(CNIO__SKP_GAI_REQ)))
        return NULL;
    m = &q->m;
    strcpy(m->name, name);
    m->i[0] = AI_CANONNAME;
    m->i[1] = af;
    m->i[2] = SOCK_STREAM;
    if (shim_ask(q, CNIO__SKP_GAI_REP) < 0 || m->i[3]) {   /* i3: more than it holds */
        free(q);
        return NULL;
    }
    for (uint32_t k = 0; k < m->nai; k++)
        n += m->ai[k].addr.ss_family == af;
    *herr = 0;
    if (m->i[0] || m->nai == 0)
        *herr = m->i[0] == EAI_AGAIN ? TRY_AGAIN : m->i[0] == EAI_NONAME || m->i[0] == 0
                ? HOST_NOT_FOUND : NO_RECOVERY;
    else if (n == 0)
        *herr = NO_DATA;
    if (!m->i[2])
        strcpy(m->name, name);   /* checked above: it fits */
    return q;
}

/* The k-th address of family af in m's answer, as h_addr_list wants it. */
static const void *shim_host_addr(const struct cnio__skp_msg *m, int af, uint32_t k)
{
    const struct sockaddr_storage *ss = &m->ai[k].addr;

    if (ss->ss_family != af)
        return NULL;
    return af == AF_INET ? (const void *)&((const struct sockaddr_in *)ss)->sin_addr
                         : (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
}

/* gethostbyname2 through the proxy into he (the calling function's result): the answer,
 * NULL with h_errno, or NULL with *fallback set. errno is left as it was. */
static struct hostent *shim_hostent(struct shim_hostent *he, const char *name, int af,
                                    int *fallback)
{
    struct shim_q *q;
    size_t alen = af == AF_INET ? 4 : 16;
    int n = 0, herr, e = errno;

    q = shim_host_ask(name, af, &herr);
    errno = e;
    *fallback = !q;
    if (!q)
        return NULL;
    if (herr) {
        free(q);
        h_errno = herr;
        return NULL;
    }
    pthread_mutex_lock(&shim_he_lock);
    memset(he, 0, sizeof(*he));
    strcpy(he->name, q->m.name);   /* both hold CNIO__SKP_NAME_MAX bytes */
    for (uint32_t k = 0; k < q->m.nai; k++) {
        const void *a = shim_host_addr(&q->m, af, k);

        if (!a)
            continue;
        memcpy(&he->data[n], a, alen);
        he->addrs[n] = (char *)&he->data[n];
        n++;
    }
    he->h = (struct hostent){ .h_name = he->name, .h_aliases = he->aliases,
                              .h_addrtype = af, .h_length = (int)alen, .h_addr_list = he->addrs };
    pthread_mutex_unlock(&shim_he_lock);
    free(q);
    errno = e;
    return &he->h;
}

/*
 * The proxy's answer m laid out in the caller's buffer (addresses, then the address and
 * alias pointer arrays, then the name), as glibc lays it out: 0 with *ret filled, or
 * ERANGE (errno ERANGE) when buf is too small.
 */
static int shim_hostent_lay(const struct cnio__skp_msg *m, int af, struct hostent *ret,
                            char *buf, size_t buflen)
{
    size_t alen = af == AF_INET ? 4 : 16, naddr = 0, need, nlen;
    char **addrs, *p;

    for (uint32_t k = 0; k < m->nai; k++)
        naddr += shim_host_addr(m, af, k) != NULL;
    nlen = strlen(m->name) + 1;
    need = naddr * alen + (naddr + 2) * sizeof(char *) + nlen + sizeof(char *);
    if (!buf || buflen < need) {   /* as glibc: h_errno left alone */
        errno = ERANGE;
        return ERANGE;
    }
    /* Pointers aligned: the first byte of buf that is a multiple of sizeof(char *). */
    p = buf + (-(uintptr_t)buf & (sizeof(char *) - 1));
    addrs = (char **)p;
    p += (naddr + 2) * sizeof(char *);
    naddr = 0;
    for (uint32_t k = 0; k < m->nai; k++) {
        const void *a = shim_host_addr(m, af, k);

        if (!a)
            continue;
        memcpy(p, a, alen);
        addrs[naddr++] = p;
        p += alen;
    }
    addrs[naddr] = NULL;
    addrs[naddr + 1] = NULL;   /* the (empty) alias list */
    memcpy(p, m->name, nlen);
    *ret = (struct hostent){ .h_name = p, .h_aliases = &addrs[naddr + 1], .h_addrtype = af,
                             .h_length = (int)alen, .h_addr_list = addrs };
    return 0;
}

/*
 * gethostbyname2_r through the proxy, everything in the caller's buffer: 0 with *result
 * set; 0 with *result NULL and *herr when the name has no address; ERANGE (errno ERANGE,
 * *herr NETDB_INTERNAL) when buf is too small; or -1 via *fallback. A failure sets
 * h_errno to *herr as well, as glibc does (threaded Perl reads h_errno after it).
 */
static int shim_hostent_r(const char *name, int af, struct hostent *ret, char *buf,
                          size_t buflen, struct hostent **result, int *herr, int *fallback)
{
    struct shim_q *q;
    int h, rc;

    q = shim_host_ask(name, af, &h);
    *fallback = !q;
    if (!q)
        return -1;
    *result = NULL;
    if (h) {
        free(q);
        *herr = h_errno = h;
        return h == TRY_AGAIN ? EAGAIN : 0;
    }
    rc = shim_hostent_lay(&q->m, af, ret, buf, buflen);
    free(q);
    if (rc == ERANGE)   /* (the retry loop's test: NETDB_INTERNAL with errno ERANGE) */
        *herr = h_errno = NETDB_INTERNAL;
    if (rc)
        return rc;
    *result = ret;
    *herr = 0;
    return 0;
}

SHIM_EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf,
                                 size_t buflen, struct hostent **result, int *h_errnop)
{
    int fallback, e = errno, rc;

    shim_init();
    SHIM_ADD(names, 1);
    rc = shim_hostent_r(name, af, ret, buf, buflen, result, h_errnop, &fallback);
    if (fallback)
        return shim_real.gethostbyname2_r(name, af, ret, buf, buflen, result, h_errnop);
    if (rc == 0)
        errno = e;
    return rc;
}

SHIM_EXPORT int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t buflen,
                                struct hostent **result, int *h_errnop)
{
    int fallback, e = errno, rc;

    shim_init();
    SHIM_ADD(names, 1);
    rc = shim_hostent_r(name, AF_INET, ret, buf, buflen, result, h_errnop, &fallback);
    if (fallback)
        return shim_real.gethostbyname_r(name, ret, buf, buflen, result, h_errnop);
    if (rc == 0)
        errno = e;
    return rc;
}

SHIM_EXPORT struct hostent *gethostbyname2(const char *name, int af)
{
    int fallback;
    struct hostent *h;

    shim_init();
    SHIM_ADD(names, 1);
    h = shim_hostent(&shim_he_byname2, name, af, &fallback);
    return fallback ? shim_real.gethostbyname2(name, af) : h;
}

SHIM_EXPORT struct hostent *gethostbyname(const char *name)
{
    int fallback;
    struct hostent *h;

    shim_init();
    SHIM_ADD(names, 1);
    h = shim_hostent(&shim_he_byname, name, AF_INET, &fallback);
    return fallback ? shim_real.gethostbyname(name) : h;
}

SHIM_EXPORT int getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host,
                            socklen_t hostlen, char *serv, socklen_t servlen, int flags)
{
    struct shim_q *q = NULL;
    int e = errno, rc;

    shim_init();
    SHIM_ADD(names, 1);
    if (!shim_conf.names || !shim_proxy_on() || !host || !hostlen || (flags & NI_NUMERICHOST)
        || !sa || !cnio__skp_inet_ok(sa, salen) || !(q = shim_q_new(CNIO__SKP_GNI_REQ)))
        return shim_real.getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
    q->m.salen = salen;
    memcpy(&q->m.sa, sa, salen);
    q->m.i[0] = flags;
    q->m.i[1] = 1;
    q->m.i[2] = serv && servlen;
    if (shim_ask(q, CNIO__SKP_GNI_REP) < 0) {
        free(q);
        return shim_real.getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
    }
    if (q->m.i[0]) {
        rc = q->m.i[0];
        errno = rc == EAI_SYSTEM ? q->m.i[1] : e;
    } else if (strlen(q->m.name) >= hostlen || (serv && servlen && strlen(q->m.serv) >= servlen)) {
        rc = EAI_OVERFLOW;
    } else {
        strcpy(host, q->m.name);
        if (serv && servlen)
            strcpy(serv, q->m.serv);
        errno = e;
        rc = 0;
    }
    free(q);
    return rc;
}
