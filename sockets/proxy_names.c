/*
 * proxy_names.c - the job-wide name cache: each distinct question (getaddrinfo's node,
 * service and hints, or getnameinfo's address and flags) reaches the resolver at most
 * once per TTL for the whole job; answers and negative answers are kept, transient
 * failures (EAI_AGAIN, EAI_SYSTEM, EAI_MEMORY) are not.
 *
 * The resolver is called synchronously from the proxy's loop: while one lookup waits on
 * DNS, other requests wait too (bounded by the resolver's own time-outs).
 */
#include "proxy.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAMES_MAX_ENTRIES 1024
#define NAMES_NEG_TTL_MS 5000

struct pn_entry {
    struct cnio__skp_msg req;   /* the question (type GAI_REQ or GNI_REQ) */
    struct cnio__skp_msg rep;
    int64_t expires_ms;
    uint64_t lookups, requests;
    struct pn_entry *next;
};

static struct pn_entry *names_head;
static unsigned names_count;
static uint64_t names_requests, names_lookups;

static int names_same(const struct cnio__skp_msg *a, const struct cnio__skp_msg *b)
{
    return a->type == b->type && !memcmp(a->i, b->i, sizeof(a->i)) && !strcmp(a->name, b->name)
           && !strcmp(a->serv, b->serv) && a->salen == b->salen
           && !memcmp(&a->sa, &b->sa, a->salen);
}

static void names_gai(const struct cnio__skp_msg *q, struct cnio__skp_msg *rep)
{
    struct addrinfo hints = { .ai_flags = q->i[0], .ai_family = q->i[1],
                              .ai_socktype = q->i[2], .ai_protocol = q->i[3] };
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(q->name, q->i[4] ? q->serv : NULL, &hints, &res);

    rep->type = CNIO__SKP_GAI_REP;
    rep->i[0] = rc;
    rep->i[1] = rc == EAI_SYSTEM ? errno : 0;
    for (struct addrinfo *a = res; a && rep->nai < CNIO__SKP_MAX_AI; a = a->ai_next) {
        struct cnio__skp_ai *o = &rep->ai[rep->nai];

        if (!cnio__skp_inet_ok(a->ai_addr, a->ai_addrlen))
            continue;
        o->family = a->ai_family;
        o->socktype = a->ai_socktype;
        o->protocol = a->ai_protocol;
        o->addrlen = a->ai_addrlen;
        memcpy(&o->addr, a->ai_addr, a->ai_addrlen);
        if (a == res && a->ai_canonname && strlen(a->ai_canonname) <= CNIO__SKP_NAME_MAX) {
            strcpy(rep->name, a->ai_canonname);
            rep->i[2] = 1;
        }
        rep->nai++;
    }
    if (res)
        freeaddrinfo(res);
}

static void names_gni(const struct cnio__skp_msg *q, struct cnio__skp_msg *rep)
{
    char host[NI_MAXHOST] = "", serv[NI_MAXSERV] = "";
    int rc = getnameinfo((const struct sockaddr *)&q->sa, q->salen, host,
                         q->i[1] ? sizeof(host) : 0, serv, q->i[2] ? sizeof(serv) : 0, q->i[0]);

    rep->type = CNIO__SKP_GNI_REP;
    rep->i[0] = rc;
    rep->i[1] = rc == EAI_SYSTEM ? errno : 0;
    if (rc == 0) {
        snprintf(rep->name, sizeof(rep->name), "%s", host);
        snprintf(rep->serv, sizeof(rep->serv), "%s", serv);
    }
}

static int64_t names_ttl(struct px *px, int rc)
{
    if (rc == 0)
        return px->conf.name_ttl_ms;
    if (rc == EAI_AGAIN || rc == EAI_SYSTEM || rc == EAI_MEMORY)
        return 0;
    return px->conf.name_ttl_ms < NAMES_NEG_TTL_MS ? px->conf.name_ttl_ms : NAMES_NEG_TTL_MS;
}

/* Frees expired entries once the cache is full. */
static void names_trim(int64_t now)
{
    struct pn_entry **pp = &names_head;

    while (*pp) {
        struct pn_entry *e = *pp;

        if (e->expires_ms <= now) {
            *pp = e->next;
            free(e);
            names_count--;
        } else {
            pp = &e->next;
        }
    }
}

void px_names_answer(struct px *px, const struct cnio__skp_msg *req, struct cnio__skp_msg *rep,
                     int64_t now)
{
    struct pn_entry *e;

    names_requests++;
    for (e = names_head; e; e = e->next)
        if (names_same(&e->req, req))
            break;
    if (e && now < e->expires_ms) {
        e->requests++;
        *rep = e->rep;
        return;
    }
    if (!e && names_count >= NAMES_MAX_ENTRIES)
        names_trim(now);
    if (!e && names_count < NAMES_MAX_ENTRIES && (e = calloc(1, sizeof(*e)))) {
        e->req = *req;
        e->next = names_head;
        names_head = e;
        names_count++;
    }
    memset(rep, 0, sizeof(*rep));
    if (req->type == CNIO__SKP_GAI_REQ)
        names_gai(req, rep);
    else
        names_gni(req, rep);
    names_lookups++;
    if (e) {
        e->rep = *rep;
        e->lookups++;
        e->requests++;
        e->expires_ms = now + names_ttl(px, rep->i[0]);
    }
}

void px_names_report(char *buf, size_t cap)
{
    size_t used = strlen(buf);

    snprintf(buf + used, cap - used, "names requests %llu lookups %llu\n",
             (unsigned long long)names_requests, (unsigned long long)names_lookups);
    for (struct pn_entry *e = names_head; e; e = e->next) {
        used = strlen(buf);
        snprintf(buf + used, cap - used, "name %s%s%s lookups %llu requests %llu\n",
                 e->req.type == CNIO__SKP_GAI_REQ ? e->req.name : "(reverse)",
                 e->req.i[4] ? " " : "", e->req.i[4] ? e->req.serv : "",
                 (unsigned long long)e->lookups, (unsigned long long)e->requests);
    }
}

void px_names_free(void)
{
    while (names_head) {
        struct pn_entry *e = names_head;

        names_head = e->next;
        free(e);
    }
    names_count = 0;
}
