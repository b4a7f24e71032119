/*
 * proxy_names.c - the job-wide name cache: each distinct question (getaddrinfo's node,
 * service and hints, or getnameinfo's address and flags) reaches the resolver at most
 * once per TTL for everyone the proxy serves; answers and negative answers are kept,
 * transient failures (EAI_AGAIN, EAI_SYSTEM, EAI_MEMORY) are not.
 *
 * Lookups run on resolver threads, so a slow DNS server delays only the processes
 * waiting for that name: the proxy's loop goes on admitting connects. Questions are
 * taken in the order they came, and a question that finds every thread busy starts
 * another, up to NAMES_THREADS_MAX: a name libc answers at once (/etc/hosts) does not
 * wait behind other names whose DNS server is slow or dead. Processes
 * asking while a lookup is under way wait for that same lookup (one lookup, many
 * waiters), and get heartbeats (px->beat_ms) so their bounded waits do not expire.
 */
#include "proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NAMES_MAX_ENTRIES 1024
#define NAMES_NEG_TTL_MS 5000
#define NAMES_THREADS 2          /* started with the proxy */
#define NAMES_THREADS_MAX 16     /* questions in the resolver at once, at most */

struct pn_entry {
    struct cnio__skp_msg req;   /* the question (type GAI_REQ or GNI_REQ) */
    struct cnio__skp_msg rep;   /* the answer, once resolved */
    int pending;                /* a resolver thread owns it: never freed meanwhile */
    int64_t expires_ms, beat_ms;
    uint64_t lookups, requests;
    struct px_client *waiters;  /* linked through wnext */
    struct pn_entry *next;      /* the cache */
    struct pn_entry *jnext;     /* the job or done list */
};

static struct pn_entry *names_head;
static unsigned names_count;
static uint64_t names_requests, names_lookups;

static pthread_mutex_t names_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t names_cond = PTHREAD_COND_INITIALIZER;
/* Under names_lock: the questions waiting for a thread (first to last), the answered
 * ones, the threads there are, those waiting for a question, and the questions
 * waiting. */
static struct pn_entry *names_jobs, **names_jobs_tail = &names_jobs, *names_done;
static int names_threads, names_idle, names_queued;
static int names_pipe[2] = { -1, -1 };

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
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        struct cnio__skp_ai *o = &rep->ai[rep->nai];

        if (!cnio__skp_inet_ok(a->ai_addr, a->ai_addrlen))
            continue;
        if (rep->nai == CNIO__SKP_MAX_AI) {   /* more than an answer holds: libc's turn */
            rep->i[3] = 1;
            break;
        }
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

/* A resolver thread: takes questions, answers them into their entries, reports. */
static void *names_worker(void *arg)
{
    struct cnio__skp_msg *r = arg;   /* this thread's scratch answer */

    for (;;) {
        struct pn_entry *e;

        pthread_mutex_lock(&names_lock);
        names_idle++;
        while (!names_jobs)
            pthread_cond_wait(&names_cond, &names_lock);
        names_idle--;
        names_queued--;
        e = names_jobs;
        names_jobs = e->jnext;
        if (!names_jobs)
            names_jobs_tail = &names_jobs;
        pthread_mutex_unlock(&names_lock);
        memset(r, 0, sizeof(*r));
        if (e->req.type == CNIO__SKP_GAI_REQ)
            names_gai(&e->req, r);
        else
            names_gni(&e->req, r);
        pthread_mutex_lock(&names_lock);
        e->rep = *r;
        e->jnext = names_done;
        names_done = e;
        pthread_mutex_unlock(&names_lock);
        (void)!write(names_pipe[1], "", 1);
    }
    return NULL;
}

/* One more resolver thread, with its scratch answer (names_lock held): 0, or -1. */
static int names_thread_add(void)
{
    static struct cnio__skp_msg scratch[NAMES_THREADS_MAX];
    pthread_t t;
    int e;

    if (names_threads == NAMES_THREADS_MAX)
        return -1;
    e = pthread_create(&t, NULL, names_worker, &scratch[names_threads]);
    if (e != 0) {
        errno = e;   /* (px_names_start's caller says it) */
        return -1;
    }
    pthread_detach(t);
    names_threads++;
    return 0;
}

int px_names_start(void)
{
    int ret = 0;

    if (pipe2(names_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return -1;
    pthread_mutex_lock(&names_lock);
    for (int k = 0; k < NAMES_THREADS && !ret; k++)
        ret = names_thread_add();
    pthread_mutex_unlock(&names_lock);
    return ret;
}

int px_names_fd(void)
{
    return names_pipe[0];
}

static int64_t names_ttl(struct px *px, int rc)
{
    if (rc == 0)
        return px->conf.name_ttl_ms;
    if (rc == EAI_AGAIN || rc == EAI_SYSTEM || rc == EAI_MEMORY)
        return 0;
    return px->conf.name_ttl_ms < NAMES_NEG_TTL_MS ? px->conf.name_ttl_ms : NAMES_NEG_TTL_MS;
}

/* Once the cache is full: frees the expired entries nobody waits for, and if none was,
 * the answered one that expires first, to make room for a new question. Entries that a
 * resolver thread owns stay (there are at most as many as connected processes, each
 * asking one question at a time). The cache used to refuse the new question, the
 * proxy then dropped the asking process's connection, and that process passed
 * everything to libc from then on: a job asking more than NAMES_MAX_ENTRIES distinct
 * questions in a TTL (a rank per port, many peers' names) lost its proxy. */
static void names_trim(int64_t now)
{
    struct pn_entry **pp = &names_head, **first = NULL;
    unsigned had = names_count;

    while (*pp) {
        struct pn_entry *e = *pp;

        if (!e->pending && e->expires_ms <= now) {
            *pp = e->next;
            free(e);
            names_count--;
            continue;
        }
        if (!e->pending && (!first || e->expires_ms < (*first)->expires_ms))
            first = pp;
        pp = &e->next;
    }
    if (names_count == had && first) {
        struct pn_entry *e = *first;

        *first = e->next;
        free(e);
        names_count--;
    }
}

static void names_reply(struct px_client *c, const struct cnio__skp_msg *rep)
{
    if (px_send(c, rep) < 0)
        c->dead = 1;
}

int px_names_request(struct px *px, struct px_client *c, const struct cnio__skp_msg *req,
                     int64_t now)
{
    struct pn_entry *e;

    if (c->name_wait)
        return -1;   /* one question at a time per connection */
    names_requests++;
    for (e = names_head; e; e = e->next)
        if (names_same(&e->req, req))
            break;
    if (e && !e->pending && now < e->expires_ms) {
        e->requests++;
        names_reply(c, &e->rep);
        return 0;
    }
    if (!e) {
        if (names_count >= NAMES_MAX_ENTRIES)
            names_trim(now);
        if (!(e = calloc(1, sizeof(*e))))
            return -1;   /* out of memory: the connection goes; the shim asks libc */
        e->req = *req;
        e->next = names_head;
        names_head = e;
        names_count++;
    }
    e->requests++;
    c->name_wait = e;
    c->wnext = e->waiters;
    e->waiters = c;
    if (!e->pending) {
        e->pending = 1;
        e->beat_ms = now;
        pthread_mutex_lock(&names_lock);
        e->jnext = NULL;
        *names_jobs_tail = e;
        names_jobs_tail = &e->jnext;
        /* more questions waiting than threads free (a slow DNS server holds them): one
         * thread more, so that this question does not wait for theirs (at the most:
         * it waits its turn) */
        if (++names_queued > names_idle)
            (void)names_thread_add();
        pthread_cond_signal(&names_cond);
        pthread_mutex_unlock(&names_lock);
    }
    return 0;
}

void px_names_ready(struct px *px, int64_t now)
{
    struct pn_entry *done;
    char sink[64];

    while (read(names_pipe[0], sink, sizeof(sink)) > 0)
        ;
    pthread_mutex_lock(&names_lock);
    done = names_done;
    names_done = NULL;
    pthread_mutex_unlock(&names_lock);
    while (done) {
        struct pn_entry *e = done;

        done = e->jnext;
        e->pending = 0;
        e->lookups++;
        names_lookups++;
        e->expires_ms = now + names_ttl(px, e->rep.i[0]);
        while (e->waiters) {
            struct px_client *c = e->waiters;

            e->waiters = c->wnext;
            c->wnext = NULL;
            c->name_wait = NULL;
            names_reply(c, &e->rep);
        }
    }
}

void px_names_drop(struct px_client *c)
{
    struct pn_entry *e = c->name_wait;

    if (!e)
        return;
    for (struct px_client **pp = &e->waiters; *pp; pp = &(*pp)->wnext)
        if (*pp == c) {
            *pp = c->wnext;
            break;
        }
    c->name_wait = NULL;
    c->wnext = NULL;
}

int64_t px_names_tick(struct px *px, int64_t now)
{
    struct cnio__skp_msg beat = { .type = CNIO__SKP_ADMIT_REP };
    int64_t next = px->beat_ms;

    beat.i[0] = CNIO__SKP_QUEUED;
    for (struct pn_entry *e = names_head; e; e = e->next) {
        if (!e->pending || !e->waiters)
            continue;
        if (now - e->beat_ms >= px->beat_ms) {
            e->beat_ms = now;
            for (struct px_client *c = e->waiters; c; c = c->wnext)
                names_reply(c, &beat);
        }
        if (e->beat_ms + px->beat_ms - now < next)
            next = e->beat_ms + px->beat_ms - now;
    }
    return next < 1 ? 1 : next;
}

void px_names_report(struct px_text *t)
{
    px_text_add(t, "names requests %llu lookups %llu\n",
                (unsigned long long)names_requests, (unsigned long long)names_lookups);
    for (struct pn_entry *e = names_head; e; e = e->next)
        px_text_add(t, "name %s%s%s lookups %llu requests %llu\n",
                    e->req.type == CNIO__SKP_GAI_REQ ? e->req.name : "(reverse)",
                    e->req.i[4] ? " " : "", e->req.i[4] ? e->req.serv : "",
                    (unsigned long long)e->lookups, (unsigned long long)e->requests);
}

void px_names_free(void)
{
    struct pn_entry **pp = &names_head;

    while (*pp) {
        struct pn_entry *e = *pp;

        if (e->pending) {   /* a resolver thread may still write it */
            pp = &e->next;
            continue;
        }
        *pp = e->next;
        free(e);
    }
}
