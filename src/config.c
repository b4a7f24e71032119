/*
 * config.c - hints: their values parsed and said back, from MPI_Info, the URI query and
 * the environment, in that precedence (src/config.h; the URIs themselves: uri.c).
 */
#include "common.h"
#include "config.h"
#include "env.h"
#include "log.h"
#include "wire.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- hint values ------------------------------------------------------------------ */

int cnio__parse_size(const char *s, uint64_t *out)
{
    uint64_t v = 0, mul = 1;
    const char *p = s;

    if (!s || !isdigit((unsigned char)*s))
        return -CNIO_ERR_HINT;
    for (; isdigit((unsigned char)*p); p++) {
        uint64_t d = (uint64_t)(*p - '0');

        if (v > (UINT64_MAX - d) / 10)
            return -CNIO_ERR_HINT;
        v = v * 10 + d;
    }
    switch (*p) {
    case '\0': break;
    case 'k': case 'K': mul = 1ull << 10; p++; break;
    case 'm': case 'M': mul = 1ull << 20; p++; break;
    case 'g': case 'G': mul = 1ull << 30; p++; break;
    default: return -CNIO_ERR_HINT;
    }
    if (*p != '\0' || (v && mul > UINT64_MAX / v))
        return -CNIO_ERR_HINT;
    *out = v * mul;
    return 0;
}

/* A size in [lo, hi]. */
static int cfg_size_in(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    uint64_t v;

    if (cnio__parse_size(s, &v) || v < lo || v > hi)
        return -CNIO_ERR_HINT;
    *out = v;
    return 0;
}

static int cfg_cb_mode(const char *s, int *out)
{
    if (strcasecmp(s, "automatic") == 0)
        *out = CNIO_CB_AUTOMATIC;
    else if (strcasecmp(s, "enable") == 0)
        *out = CNIO_CB_ENABLE;
    else if (strcasecmp(s, "disable") == 0)
        *out = CNIO_CB_DISABLE;
    else
        return -CNIO_ERR_HINT;
    return 0;
}

static int cfg_bool(const char *s, int *out)
{
    if (!strcasecmp(s, "true") || !strcmp(s, "1"))
        *out = 1;
    else if (!strcasecmp(s, "false") || !strcmp(s, "0"))
        *out = 0;
    else
        return -CNIO_ERR_HINT;
    return 0;
}

/* Copies the n-byte string s into out[cap] and clears the rest: a value set after a
 * longer one leaves nothing of it behind (hints compare and copy as whole structs). */
static void cfg_copy(char *out, size_t cap, const char *s, size_t n)
{
    memcpy(out, s, n);
    memset(out + n, 0, cap - n);
}

/* A transport cnio knows, else a bad value: tcp, ofi, udp. Whether this build has the
 * last two is the registry's to say when one opens (CNIO_ERR_NOTSUP: transport.c). */
static int cfg_transport(const char *s, char *out, size_t cap)
{
    static const char *const known[] = { "tcp", "ofi", "udp" };

    for (size_t i = 0; i < CNIO_ARRAY_LEN(known); i++)
        if (strcmp(s, known[i]) == 0) {
            cfg_copy(out, cap, s, strlen(s));   /* (each fits cnio_hints.transport) */
            return 0;
        }
    return -CNIO_ERR_HINT;
}

/* A libfabric provider name ("tcp;ofi_rxm", "shm", ...) or "" (the best available). */
static int cfg_provider(const char *s, char *out, size_t cap)
{
    size_t n = strlen(s);

    if (n >= cap)
        return -CNIO_ERR_HINT;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) &&
            !strchr("_;-", s[i]))
            return -CNIO_ERR_HINT;
    cfg_copy(out, cap, s, n);
    return 0;
}

/* ---- the hint table --------------------------------------------------------------- */

enum cfg_kind { CFG_SIZE64, CFG_U32, CFG_INT, CFG_CB, CFG_TRANSPORT, CFG_PATH, CFG_BOOL,
                CFG_CONNECT, CFG_ROUTE, CFG_PROVIDER };

struct cfg_hint {
    const char *name;   /* full hint name */
    const char *alias;  /* URI short name, or NULL */
    const char *env;    /* CNIO_* environment variable */
    const char *env_alias;
    enum cfg_kind kind;
    size_t off;
    uint64_t lo, hi;
};

/* The value names of an enumerated hint, NULL-terminated, indexed by value. */
static const char *const *cfg_names(enum cfg_kind k)
{
    static const char *const connect[] = { "on_demand", "eager", NULL };
    static const char *const route[] = { "automatic", "direct", "aggregate", NULL };

    return k == CFG_CONNECT ? connect : route;
}

#define CFG_OFF(f) offsetof(struct cnio_hints, f)

static const struct cfg_hint cfg_hints[] = {
    { "striping_unit", "stripe_unit", "CNIO_STRIPING_UNIT", "CNIO_STRIPE_UNIT", CFG_SIZE64,
      CFG_OFF(striping_unit), 1, 1ull << 40 },
    { "striping_factor", "stripe_count", "CNIO_STRIPING_FACTOR", "CNIO_STRIPE_COUNT", CFG_U32,
      CFG_OFF(striping_factor), 0, CNIO_MAX_HOSTS },
    { "cb_nodes", NULL, "CNIO_CB_NODES", NULL, CFG_U32, CFG_OFF(cb_nodes), 1, 1u << 24 },
    { "cb_buffer_size", NULL, "CNIO_CB_BUFFER_SIZE", NULL, CFG_SIZE64, CFG_OFF(cb_buffer_size),
      1, 1ull << 30 },
    { "romio_cb_write", NULL, "CNIO_ROMIO_CB_WRITE", NULL, CFG_CB, CFG_OFF(romio_cb_write), 0, 0 },
    { "romio_cb_read", NULL, "CNIO_ROMIO_CB_READ", NULL, CFG_CB, CFG_OFF(romio_cb_read), 0, 0 },
    { "cnio_cb_direct_min", "cb_direct_min", "CNIO_CB_DIRECT_MIN", NULL, CFG_SIZE64,
      CFG_OFF(cb_direct_min), 0, 1ull << 40 },
    { "romio_ds_read", NULL, "CNIO_ROMIO_DS_READ", NULL, CFG_CB, CFG_OFF(romio_ds_read), 0, 0 },
    { "ind_rd_buffer_size", NULL, "CNIO_IND_RD_BUFFER_SIZE", NULL, CFG_SIZE64,
      CFG_OFF(ind_rd_buffer_size), 1, 1ull << 30 },
    { "cnio_lanes", "lanes", "CNIO_LANES", NULL, CFG_U32, CFG_OFF(lanes), 1, CNIO_MAX_LANES },
    { "cnio_timeout_ms", "timeout_ms", "CNIO_TIMEOUT_MS", NULL, CFG_INT, CFG_OFF(timeout_ms),
      1, INT_MAX },
    { "cnio_connect_window", "connect_window", "CNIO_CONNECT_WINDOW", NULL, CFG_INT,
      CFG_OFF(connect_window), 1, 1u << 20 },
    { "cnio_transport", "transport", "CNIO_TRANSPORT", NULL, CFG_TRANSPORT, CFG_OFF(transport),
      0, 0 },
    { "cnio_key_file", "key_file", "CNIO_KEY_FILE", NULL, CFG_PATH, CFG_OFF(key_file), 0, 0 },
    { "cnio_resume", "resume", "CNIO_RESUME", NULL, CFG_BOOL, CFG_OFF(resume), 0, 0 },
    { "cnio_replace", "replace", "CNIO_REPLACE", NULL, CFG_BOOL, CFG_OFF(replace), 0, 0 },
    { "cnio_max_conns_per_server", "max_conns_per_server", "CNIO_MAX_CONNS_PER_SERVER", NULL,
      CFG_U32, CFG_OFF(max_conns_per_server), 1, 1u << 24 },
    { "cnio_connect_mode", "connect_mode", "CNIO_CONNECT_MODE", NULL, CFG_CONNECT,
      CFG_OFF(connect_mode), 0, 0 },
    { "cnio_route", "route", "CNIO_ROUTE", NULL, CFG_ROUTE, CFG_OFF(route), 0, 0 },
    { "cnio_ofi_provider", "ofi_provider", "CNIO_OFI_PROVIDER", NULL, CFG_PROVIDER,
      CFG_OFF(ofi_provider), 0, 0 },
    { "cnio_lost_abort_ms", "lost_abort_ms", "CNIO_LOST_ABORT_MS", NULL, CFG_INT,
      CFG_OFF(lost_abort_ms), 0, INT_MAX },
};

void cnio__hints_default(struct cnio_hints *h)
{
    memset(h, 0, sizeof(*h));
    h->striping_unit = 1u << 20;
    h->striping_factor = 0;
    h->cb_nodes = 0;
    h->cb_buffer_size = 16u << 20;
    h->romio_cb_write = CNIO_CB_AUTOMATIC;
    h->romio_cb_read = CNIO_CB_AUTOMATIC;
    h->cb_direct_min = 16u << 10;
    h->romio_ds_read = CNIO_CB_AUTOMATIC;
    h->ind_rd_buffer_size = 4u << 20;
    h->lanes = 1;
    h->timeout_ms = 30000;
    h->lost_abort_ms = 60000;
    h->connect_window = 16;
    h->max_conns_per_server = 512;
    h->connect_mode = CNIO_CONNECT_ON_DEMAND;
    h->route = CNIO_ROUTE_AUTOMATIC;
    snprintf(h->transport, sizeof(h->transport), "tcp");
    h->key_file[0] = '\0';
}

static const struct cfg_hint *cfg_find(const char *name)
{
    for (size_t i = 0; i < CNIO_ARRAY_LEN(cfg_hints); i++)
        if (strcmp(cfg_hints[i].name, name) == 0 ||
            (cfg_hints[i].alias && strcmp(cfg_hints[i].alias, name) == 0))
            return &cfg_hints[i];
    return NULL;
}

static int cfg_apply(struct cnio_hints *h, const struct cfg_hint *d, const char *value)
{
    char *field = (char *)h + d->off;
    uint64_t v;

    switch (d->kind) {
    case CFG_SIZE64:
        if (cfg_size_in(value, d->lo, d->hi, &v))
            return -CNIO_ERR_HINT;
        memcpy(field, &v, sizeof(uint64_t));
        return 0;
    case CFG_U32:
    case CFG_INT:
        if (!isdigit((unsigned char)value[0]) || cfg_size_in(value, d->lo, d->hi, &v) ||
            !isdigit((unsigned char)value[strlen(value) - 1]))
            return -CNIO_ERR_HINT;
        if (d->kind == CFG_U32)
            *(uint32_t *)(void *)field = (uint32_t)v;
        else
            *(int *)(void *)field = (int)v;
        return 0;
    case CFG_CB:
        return cfg_cb_mode(value, (int *)(void *)field);
    case CFG_BOOL:
        return cfg_bool(value, (int *)(void *)field);
    case CFG_CONNECT:
    case CFG_ROUTE:
        for (int i = 0; cfg_names(d->kind)[i]; i++)
            if (strcasecmp(value, cfg_names(d->kind)[i]) == 0) {
                *(int *)(void *)field = i;
                return 0;
            }
        return -CNIO_ERR_HINT;
    case CFG_TRANSPORT:
        return cfg_transport(value, field, sizeof(h->transport));
    case CFG_PROVIDER:
        return cfg_provider(value, field, sizeof(h->ofi_provider));
    case CFG_PATH:
        if (strlen(value) >= sizeof(h->key_file))
            return -CNIO_ERR_HINT;
        cfg_copy(field, sizeof(h->key_file), value, strlen(value));
        return 0;
    }
    return -CNIO_ERR_HINT;
}

/* v as a size a hint takes: with the largest suffix (K, M, G) that divides it. */
static void cfg_size_words(char *buf, size_t cap, uint64_t v)
{
    static const char suffix[] = "GMK";

    for (int i = 0; i < 3; i++) {
        uint64_t unit = 1ull << (10 * (3 - i));

        if (v >= unit && v % unit == 0) {
            snprintf(buf, cap, "%llu%c", (unsigned long long)(v / unit), suffix[i]);
            return;
        }
    }
    snprintf(buf, cap, "%llu", (unsigned long long)v);
}

/* What d takes, in words (cnio__hints_takes). */
static const char *cfg_takes(const struct cfg_hint *d, char *buf, size_t cap)
{
    char lo[32], hi[32];

    switch (d->kind) {
    case CFG_SIZE64:
        cfg_size_words(lo, sizeof(lo), d->lo);
        cfg_size_words(hi, sizeof(hi), d->hi);
        snprintf(buf, cap, "a size in bytes from %s to %s (suffix K, M or G: 4M)", lo, hi);
        break;
    case CFG_U32:
    case CFG_INT:
        snprintf(buf, cap, "an integer from %llu to %llu", (unsigned long long)d->lo,
                 (unsigned long long)d->hi);
        break;
    case CFG_CB:
        snprintf(buf, cap, "automatic, enable or disable");
        break;
    case CFG_BOOL:
        snprintf(buf, cap, "true or false (1 or 0)");
        break;
    case CFG_CONNECT:
    case CFG_ROUTE:
        snprintf(buf, cap, "%s", d->kind == CFG_CONNECT ? "on_demand or eager"
                                                        : "automatic, direct or aggregate");
        break;
    case CFG_TRANSPORT:
        snprintf(buf, cap, "tcp, ofi or udp");
        break;
    case CFG_PROVIDER:
        snprintf(buf, cap, "a libfabric provider name (lower-case letters, digits, '_', "
                 "';', '-': tcp;ofi_rxm) shorter than %zu bytes",
                 sizeof(((struct cnio_hints *)0)->ofi_provider));
        break;
    case CFG_PATH:
        snprintf(buf, cap, "a file name shorter than %zu bytes",
                 sizeof(((struct cnio_hints *)0)->key_file));
        break;
    }
    return buf;
}

const char *cnio__hints_takes(const char *name, char *buf, size_t cap)
{
    const struct cfg_hint *d = name ? cfg_find(name) : NULL;

    if (cap)
        buf[0] = '\0';
    return d && cap ? cfg_takes(d, buf, cap) : buf;
}

/* cnio__hints_set, a bad value said only when say (rank 0 of a job, not every rank). */
static int cfg_set(struct cnio_hints *h, const char *name, const char *value, int say)
{
    const struct cfg_hint *d;
    char takes[160];

    if (!name || !value)
        return -CNIO_ERR_HINT;
    d = cfg_find(name);
    if (!d)
        return 1;
    if (cfg_apply(h, d, value)) {
        if (say)
            cnio__warn("bad value \"%s\" for hint %s: it takes %s", value, d->name,
                       cfg_takes(d, takes, sizeof(takes)));
        return -CNIO_ERR_HINT;
    }
    return 0;
}

int cnio__hints_set(struct cnio_hints *h, const char *name, const char *value)
{
    return cfg_set(h, name, value, 1);
}

/* 1 the first time this process is to say what (of the last 16 it said): hints are read
 * more than once (an open reads its MPI_Info twice; a command reads the environment for
 * its key file, then at every open), and a bad value is said once. */
static int cfg_first_time(const char *what)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static char said[16][160];
    static unsigned n;
    int again = 0;

    pthread_mutex_lock(&lock);
    for (unsigned i = 0; i < n && i < CNIO_ARRAY_LEN(said) && !again; i++)
        again = strncmp(said[i], what, sizeof(said[i]) - 1) == 0;   /* (as stored: cut) */
    if (!again)
        snprintf(said[n++ % CNIO_ARRAY_LEN(said)], sizeof(said[0]), "%s", what);
    pthread_mutex_unlock(&lock);
    return !again;
}

int cnio__hints_set_mpi(struct cnio_hints *h, const char *name, const char *value, int say)
{
    const struct cfg_hint *d = name && value ? cfg_find(name) : NULL;
    char now[160], takes[160];

    if (!d || !strncmp(d->name, "cnio_", 5))
        return cfg_set(h, name, value, say);
    /* Lustre's "all the OSTs", which job scripts pass to every file system: all hosts */
    if (!strcmp(d->name, "striping_factor") && !strcmp(value, "-1"))
        return 0;
    if (!cfg_apply(h, d, value))
        return 0;
    snprintf(now, sizeof(now), "info %s=%s", d->name, value);
    if (cfg_first_time(now) && say)
        cnio__warn("ignoring bad value \"%s\" for hint %s, which takes %s (cnio keeps its "
                   "default, as an MPI-IO implementation may ignore a hint)", value, d->name,
                   cfg_takes(d, takes, sizeof(takes)));
    return 0;
}

/* Says a bad environment hint once per process, however often the hints are read. */
static void cfg_env_bad(const struct cfg_hint *d, const char *var, const char *v)
{
    char now[160], takes[160];

    snprintf(now, sizeof(now), "env %s=%s", var, v);
    if (cfg_first_time(now))
        cnio__err("bad value \"%s\" in environment variable %s: it takes %s", v, var,
                  cfg_takes(d, takes, sizeof(takes)));
}

int cnio__hints_from_env(struct cnio_hints *h)
{
    for (size_t i = 0; i < CNIO_ARRAY_LEN(cfg_hints); i++) {
        const struct cfg_hint *d = &cfg_hints[i];
        const char *var = d->env, *v = getenv(var);

        if ((!v || !*v) && d->env_alias) {
            var = d->env_alias;
            v = getenv(var);
        }
        if (!v || !*v)
            continue;
        if (cfg_apply(h, d, v)) {
            cfg_env_bad(d, var, v);
            return -CNIO_ERR_HINT;
        }
    }
    return 0;
}

/* One "key=value" of length n; an unknown name is said when say. */
static int cfg_query_pair(struct cnio_hints *h, const char *s, size_t n, int say)
{
    char buf[PATH_MAX + 64];
    char *eq;
    int ret;

    if (n >= sizeof(buf))
        return -CNIO_ERR_URI;
    memcpy(buf, s, n);
    buf[n] = '\0';
    eq = strchr(buf, '=');
    if (!eq || eq == buf)
        return -CNIO_ERR_URI;
    *eq = '\0';
    ret = cfg_set(h, buf, eq + 1, say);
    if (ret == 1) {   /* (said once: an open resolves its URI's hints more than once) */
        char now[160];

        snprintf(now, sizeof(now), "query %.150s", buf);
        /* (a check that hushes the log, as cli_check_uri's, has not said it) */
        if (say && cnio__log_get_level() >= CNIO_LOG_WARN && cfg_first_time(now))
            cnio__warn("ignoring unknown hint \"%s\" in URI query", buf);
        ret = 0;
    }
    return ret;
}

static int cfg_from_query(struct cnio_hints *h, const char *query, int say)
{
    const char *p = query;

    if (!query)
        return 0;
    while (*p) {
        size_t n = strcspn(p, "&");

        if (n > 0) {
            int ret = cfg_query_pair(h, p, n, say);
            if (ret)
                return ret;
        }
        p += n;
        if (*p == '&')
            p++;
    }
    return 0;
}

int cnio__hints_from_query(struct cnio_hints *h, const char *query)
{
    return cfg_from_query(h, query, 1);
}

void cnio__env_say(void)
{
    char names[1024];
    int n;

    if (!cnio__env_first())
        return;
    n = cnio__env_unknown(environ, names, sizeof(names));
    if (n)
        cnio__warn("ignoring unknown environment variable%s %s: no part of cnio reads %s "
                   "(cnio's variables: cnio(1), cnio-hints(7))", n > 1 ? "s" : "", names,
                   n > 1 ? "them" : "it");
}

int cnio__hints_resolve_say(struct cnio_hints *h, const struct cnio_uri *u, int say)
{
    int ret;

    if (say)
        cnio__env_say();
    cnio__hints_default(h);
    ret = cnio__hints_from_env(h);
    if (ret)
        return ret;
    return cfg_from_query(h, u ? u->query : NULL, say);
}

int cnio__hints_resolve(struct cnio_hints *h, const struct cnio_uri *u)
{
    return cnio__hints_resolve_say(h, u, 1);
}

static int cfg_format(const struct cnio_hints *h, const struct cfg_hint *d, char *buf,
                      size_t cap)
{
    const char *field = (const char *)h + d->off;
    static const char *const cb_names[] = { "automatic", "enable", "disable" };
    uint64_t v64;
    int iv;

    switch (d->kind) {
    case CFG_SIZE64:
        memcpy(&v64, field, sizeof(v64));
        return snprintf(buf, cap, "%llu", (unsigned long long)v64);
    case CFG_U32:
        return snprintf(buf, cap, "%u", *(const uint32_t *)(const void *)field);
    case CFG_INT:
        return snprintf(buf, cap, "%d", *(const int *)(const void *)field);
    case CFG_CB:
        iv = *(const int *)(const void *)field;
        return snprintf(buf, cap, "%s", cb_names[iv >= 0 && iv <= 2 ? iv : 0]);
    case CFG_BOOL:
        return snprintf(buf, cap, "%s", *(const int *)(const void *)field ? "true" : "false");
    case CFG_CONNECT:
    case CFG_ROUTE:
        iv = *(const int *)(const void *)field;
        for (int i = 0; cfg_names(d->kind)[i]; i++)
            if (i == iv)
                return snprintf(buf, cap, "%s", cfg_names(d->kind)[i]);
        return -1;
    case CFG_TRANSPORT:
    case CFG_PATH:
    case CFG_PROVIDER:
        return snprintf(buf, cap, "%s", field);
    }
    return -1;
}

int cnio__hints_foreach(const struct cnio_hints *h,
                        int (*fn)(const char *name, const char *value, void *arg), void *arg)
{
    char buf[PATH_MAX];

    for (size_t i = 0; i < CNIO_ARRAY_LEN(cfg_hints); i++) {
        int ret;

        if (cfg_format(h, &cfg_hints[i], buf, sizeof(buf)) < 0)
            return -CNIO_ERR_HINT;
        if ((cfg_hints[i].kind == CFG_PATH || cfg_hints[i].kind == CFG_PROVIDER) && buf[0] == '\0')
            continue;
        if (cfg_hints[i].kind == CFG_U32 && cfg_hints[i].lo > 0 && !strcmp(buf, "0"))
            continue;   /* unset (cb_nodes): 0 is no value it may be set to */
        ret = fn(cfg_hints[i].name, buf, arg);
        if (ret)
            return ret;
    }
    return 0;
}

/* The bytes d's field takes in struct cnio_hints. */
static size_t cfg_field_size(const struct cfg_hint *d)
{
    const struct cnio_hints *h = NULL;

    switch (d->kind) {
    case CFG_SIZE64:
        return sizeof(uint64_t);
    case CFG_U32:
        return sizeof(uint32_t);
    case CFG_TRANSPORT:
        return sizeof(h->transport);
    case CFG_PROVIDER:
        return sizeof(h->ofi_provider);
    case CFG_PATH:
        return sizeof(h->key_file);
    case CFG_INT:
    case CFG_CB:
    case CFG_BOOL:
    case CFG_CONNECT:
    case CFG_ROUTE:
        return sizeof(int);
    }
    return 0;
}

int cnio__hints_adopt(struct cnio_hints *h, const struct cnio_hints *from, const char *name)
{
    const struct cfg_hint *d = name ? cfg_find(name) : NULL;
    size_t n;

    if (!d)
        return -CNIO_ERR_HINT;
    /* (strings are zero-padded to their arrays' ends: cfg_copy) */
    n = cfg_field_size(d);
    if (memcmp((char *)h + d->off, (const char *)from + d->off, n) == 0)
        return 0;
    memcpy((char *)h + d->off, (const char *)from + d->off, n);
    return 1;
}

int cnio__hints_get(const struct cnio_hints *h, const char *name, char *buf, size_t cap)
{
    const struct cfg_hint *d = name ? cfg_find(name) : NULL;
    int n = d ? cfg_format(h, d, buf, cap) : -1;

    return n < 0 || (size_t)n >= cap ? -CNIO_ERR_HINT : 0;
}
