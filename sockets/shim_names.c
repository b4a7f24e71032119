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
 * sublist. gethostbyname* return a per-thread static hostent (glibc's is per-process),
 * without aliases.
 */
#include "shim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
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

/* One question: 0 with *m the answer, or -1 (ask libc instead). While the proxy's
 * resolver works on it, the proxy sends heartbeats (a third of the proxy time-out). */
static int shim_ask(struct cnio__skp_msg *m, int want)
{
    int64_t end = shim_now_ms() + SHIM_NAME_WAIT_MS;
    int fd = shim_rpc_open();

    if (fd < 0)
        return -1;
    if (shim_rpc_send(fd, m) < 0)
        goto failed;
    for (;;) {
        if (shim_rpc_recv(fd, m) < 0)
            goto failed;
        if (m->type == want)
            break;
        if (m->type != CNIO__SKP_ADMIT_REP || m->i[0] != CNIO__SKP_QUEUED)
            goto failed;
        if (shim_now_ms() > end) {   /* the proxy lives, its resolver is stuck */
            shim_rpc_close(fd);
            return -1;
        }
    }
    shim_rpc_close(fd);
    /* an answer too large for the proxy's (GAI_REP i3) is libc's: not counted here */
    if (!(m->type == CNIO__SKP_GAI_REP && m->i[3]))
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

SHIM_EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                            struct addrinfo **res)
{
    struct cnio__skp_msg m = { .type = CNIO__SKP_GAI_REQ };
    struct addrinfo def = { .ai_flags = AI_V4MAPPED | AI_ADDRCONFIG };
    int e = errno;

    shim_init();
    SHIM_ADD(names, 1);
    if (!hints)
        hints = &def;
    if (!shim_conf.names || !shim_proxy_on() || !node || !*node || !res
        || (hints->ai_flags & AI_NUMERICHOST)
        || strlen(node) > CNIO__SKP_NAME_MAX || (service && strlen(service) > CNIO__SKP_SERV_MAX)
        || shim_numeric(node))
        return shim_real.getaddrinfo(node, service, hints == &def ? NULL : hints, res);
    strcpy(m.name, node);
    if (service)
        strcpy(m.serv, service);
    m.i[0] = hints->ai_flags;
    m.i[1] = hints->ai_family;
    m.i[2] = hints->ai_socktype;
    m.i[3] = hints->ai_protocol;
    m.i[4] = service != NULL;
    if (shim_ask(&m, CNIO__SKP_GAI_REP) < 0 || m.i[3])   /* i3: more than the answer holds */
        return shim_real.getaddrinfo(node, service, hints == &def ? NULL : hints, res);
    if (m.i[0]) {
        errno = m.i[0] == EAI_SYSTEM ? m.i[1] : e;
        return m.i[0];
    }
    if (m.nai == 0)
        return EAI_NONAME;
    *res = shim_ai_build(&m, hints->ai_flags);
    errno = e;
    return *res ? 0 : EAI_MEMORY;
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

static __thread struct shim_hostent shim_he;

/*
 * A gethostbyname2 question to the proxy. Returns 1 when libc must answer instead, else
 * 0: then *herr is 0 and m holds at least one address of family af, or *herr is the
 * h_errno of the failure.
 */
static int shim_host_ask(const char *name, int af, struct cnio__skp_msg *m, int *herr)
{
    uint32_t n = 0;

    if (!shim_conf.names || !shim_proxy_on() || !name || !*name || strlen(name) > CNIO__SKP_NAME_MAX
        || (af != AF_INET && af != AF_INET6) || shim_numeric(name))
        return 1;
    memset(m, 0, sizeof(*m));
    m->type = CNIO__SKP_GAI_REQ;
    strcpy(m->name, name);
    m->i[0] = AI_CANONNAME;
    m->i[1] = af;
    m->i[2] = SOCK_STREAM;
    if (shim_ask(m, CNIO__SKP_GAI_REP) < 0 || m->i[3])   /* i3: more than the answer holds */
        return 1;
    for (uint32_t k = 0; k < m->nai; k++)
        n += m->ai[k].addr.ss_family == af;
    *herr = 0;
    if (m->i[0] || m->nai == 0)
        *herr = m->i[0] == EAI_AGAIN ? TRY_AGAIN : m->i[0] == EAI_NONAME || m->i[0] == 0
                ? HOST_NOT_FOUND : NO_RECOVERY;
    else if (n == 0)
        *herr = NO_DATA;
    if (!m->i[2])
        snprintf(m->name, sizeof(m->name), "%s", name);
    return 0;
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

/* gethostbyname2 through the proxy: the answer, NULL with h_errno, or -1 via *fallback. */
static struct hostent *shim_hostent(const char *name, int af, int *fallback)
{
    struct cnio__skp_msg m;
    struct shim_hostent *he = &shim_he;
    size_t alen = af == AF_INET ? 4 : 16;
    int n = 0, herr;

    *fallback = shim_host_ask(name, af, &m, &herr);
    if (*fallback)
        return NULL;
    if (herr) {
        h_errno = herr;
        return NULL;
    }
    memset(he, 0, sizeof(*he));
    snprintf(he->name, sizeof(he->name), "%s", m.name);
    for (uint32_t k = 0; k < m.nai; k++) {
        const void *a = shim_host_addr(&m, af, k);

        if (!a)
            continue;
        memcpy(&he->data[n], a, alen);
        he->addrs[n] = (char *)&he->data[n];
        n++;
    }
    he->h = (struct hostent){ .h_name = he->name, .h_aliases = he->aliases,
                              .h_addrtype = af, .h_length = (int)alen, .h_addr_list = he->addrs };
    return &he->h;
}

/*
 * gethostbyname2_r through the proxy, everything in the caller's buffer (addresses,
 * then the address and alias pointer arrays, then the name), as glibc lays it out:
 * 0 with *result set; 0 with *result NULL and *herr when the name has no address; ERANGE
 * (errno ERANGE) when buf is too small; or -1 via *fallback.
 */
static int shim_hostent_r(const char *name, int af, struct hostent *ret, char *buf,
                          size_t buflen, struct hostent **result, int *herr, int *fallback)
{
    struct cnio__skp_msg m;
    size_t alen = af == AF_INET ? 4 : 16, naddr = 0, need, nlen;
    char **addrs, *p;
    int h;

    *fallback = shim_host_ask(name, af, &m, &h);
    if (*fallback)
        return -1;
    *result = NULL;
    if (h) {
        *herr = h;
        return h == TRY_AGAIN ? EAGAIN : 0;
    }
    for (uint32_t k = 0; k < m.nai; k++)
        naddr += shim_host_addr(&m, af, k) != NULL;
    nlen = strlen(m.name) + 1;
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
    for (uint32_t k = 0; k < m.nai; k++) {
        const void *a = shim_host_addr(&m, af, k);

        if (!a)
            continue;
        memcpy(p, a, alen);
        addrs[naddr++] = p;
        p += alen;
    }
    addrs[naddr] = NULL;
    addrs[naddr + 1] = NULL;   /* the (empty) alias list */
    memcpy(p, m.name, nlen);
    *ret = (struct hostent){ .h_name = p, .h_aliases = &addrs[naddr + 1], .h_addrtype = af,
                             .h_length = (int)alen, .h_addr_list = addrs };
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
    h = shim_hostent(name, af, &fallback);
    return fallback ? shim_real.gethostbyname2(name, af) : h;
}

SHIM_EXPORT struct hostent *gethostbyname(const char *name)
{
    int fallback;
    struct hostent *h;

    shim_init();
    SHIM_ADD(names, 1);
    h = shim_hostent(name, AF_INET, &fallback);
    return fallback ? shim_real.gethostbyname(name) : h;
}

SHIM_EXPORT int getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host,
                            socklen_t hostlen, char *serv, socklen_t servlen, int flags)
{
    struct cnio__skp_msg m = { .type = CNIO__SKP_GNI_REQ };
    int e = errno;

    shim_init();
    SHIM_ADD(names, 1);
    if (!shim_conf.names || !shim_proxy_on() || !host || !hostlen || (flags & NI_NUMERICHOST)
        || !sa || !cnio__skp_inet_ok(sa, salen))
        return shim_real.getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
    m.salen = salen;
    memcpy(&m.sa, sa, salen);
    m.i[0] = flags;
    m.i[1] = 1;
    m.i[2] = serv && servlen;
    if (shim_ask(&m, CNIO__SKP_GNI_REP) < 0)
        return shim_real.getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
    if (m.i[0]) {
        errno = m.i[0] == EAI_SYSTEM ? m.i[1] : e;
        return m.i[0];
    }
    if (strlen(m.name) >= hostlen || (serv && servlen && strlen(m.serv) >= servlen))
        return EAI_OVERFLOW;
    strcpy(host, m.name);
    if (serv && servlen)
        strcpy(serv, m.serv);
    errno = e;
    return 0;
}
