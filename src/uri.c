/*
 * uri.c - cnio:// URIs parsed: the hosts and their ports, the object name (percent-
 * decoded and checked as a server checks it), the raw query (src/config.h; the hints
 * the query holds: config.c).
 */
#include "common.h"
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#define CFG_SCHEME "cnio://"

int cnio__uri_is_cnio(const char *s)
{
    /* the scheme is case-insensitive (RFC 3986, 3.1): "CNIO://" is one too */
    return s && strncasecmp(s, CFG_SCHEME, sizeof(CFG_SCHEME) - 1) == 0;
}

void cnio__uri_free(struct cnio_uri *u)
{
    if (!u)
        return;
    free(u->hosts);
    free(u->path);
    free(u->query);
    memset(u, 0, sizeof(*u));
}

static int cfg_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_';
}

static int cfg_v6_char(char c)
{
    return isalnum((unsigned char)c) || c == ':' || c == '.' || c == '%';
}

int cnio__host_name_ok(const char *name)
{
    size_t len = strnlen(name, CNIO_HOSTNAME_MAX + 1);
    int v6 = memchr(name, ':', len) != NULL;

    if (len == 0 || len > CNIO_HOSTNAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!(v6 ? cfg_v6_char(name[i]) : cfg_name_char(name[i])))
            return 0;
    return 1;
}

/* Parses decimal digits [s, e) as a port 1..65535. */
static int cfg_port(const char *s, const char *e, uint16_t *port)
{
    unsigned long v = 0;

    if (s == e || e - s > 5)
        return -CNIO_ERR_URI;
    for (const char *p = s; p < e; p++) {
        if (!isdigit((unsigned char)*p))
            return -CNIO_ERR_URI;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v < 1 || v > 65535)
        return -CNIO_ERR_URI;
    *port = (uint16_t)v;
    return 0;
}

/* One "host[:port]" or "[v6][:port]" in [s, e) into h. */
static int cfg_host(const char *s, const char *e, struct cnio_host *h)
{
    const char *name = s, *name_end, *colon;
    size_t len;

    h->port = CNIO_DEFAULT_PORT;
    if (e <= s)
        return -CNIO_ERR_URI;
    if (*s == '[') {
        name = s + 1;
        name_end = memchr(name, ']', (size_t)(e - name));
        if (!name_end || !memchr(name, ':', (size_t)(name_end - name)))
            return -CNIO_ERR_URI;
        colon = name_end + 1 < e ? name_end + 1 : NULL;
        if (colon && *colon != ':')
            return -CNIO_ERR_URI;
    } else {
        colon = memchr(s, ':', (size_t)(e - s));
        name_end = colon ? colon : e;
    }
    len = (size_t)(name_end - name);
    if (len == 0 || len > CNIO_HOSTNAME_MAX)
        return -CNIO_ERR_URI;
    memcpy(h->name, name, len);
    h->name[len] = '\0';
    /* its characters: an IPv6 address's (it holds a ':') or a host name's */
    if (strlen(h->name) != len || !cnio__host_name_ok(h->name))
        return -CNIO_ERR_URI;
    if (colon)
        return cfg_port(colon + 1, e, &h->port);
    return 0;
}

/* Why the last cnio__uri_parse of this thread failed (cnio__uri_why). */
static __thread const char *cfg_uri_why;

/* The authority [s, e): comma-separated hosts, each at most once. */
static int cfg_hosts(const char *s, const char *e, struct cnio_uri *u)
{
    int n = 1;

    for (const char *p = s; p < e; p++)
        n += *p == ',';
    if (s == e || n > CNIO_MAX_HOSTS)
        return -CNIO_ERR_URI;
    u->hosts = calloc((size_t)n, sizeof(*u->hosts));
    if (!u->hosts)
        return -CNIO_ERR_NOMEM;
    for (const char *p = s; p <= e; ) {
        const char *comma = memchr(p, ',', (size_t)(e - p));
        const char *end = comma ? comma : e;
        int ret = cfg_host(p, end, &u->hosts[u->nhosts]);

        if (ret)
            return ret;
        for (int i = 0; i < u->nhosts; i++) {   /* h1,h1 for h1,h2: one server twice */
            if (u->hosts[i].port == u->hosts[u->nhosts].port &&
                !strcasecmp(u->hosts[i].name, u->hosts[u->nhosts].name)) {
                cfg_uri_why = "a host is listed twice";
                return -CNIO_ERR_URI;
            }
        }
        u->nhosts++;
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

static char *cfg_strndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);

    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

const char *cnio__uri_why(void)
{
    return cfg_uri_why ? cfg_uri_why : "malformed URI";
}

static int cfg_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes (RFC 3986) the n bytes at s in place: the decoded length, or -1 for a
 * '%' not followed by two hex digits. */
static ssize_t cfg_unescape(char *s, size_t n)
{
    size_t r = 0, w = 0;

    while (r < n) {
        if (s[r] != '%') {
            s[w++] = s[r++];
            continue;
        }
        if (r + 2 >= n)
            return -1;
        if (cfg_hex(s[r + 1]) < 0 || cfg_hex(s[r + 2]) < 0)
            return -1;
        s[w++] = (char)(cfg_hex(s[r + 1]) << 4 | cfg_hex(s[r + 2]));
        r += 3;
    }
    return (ssize_t)w;
}

/*
 * The object name of the URI: [path, q) decoded, one trailing '/' dropped (it names a
 * directory), checked. Any other '/' out of place, leading, doubled or a second one at
 * the end, is an empty component and refused, as a server refuses it; "" + "/" (from
 * "cnio://h//") is the root as a directory.
 */
static int cfg_path(const char *path, const char *q, struct cnio_uri *u)
{
    const char *why;
    ssize_t n;

    u->path = cfg_strndup(path, (size_t)(q - path));
    if (!u->path)
        return -CNIO_ERR_NOMEM;
    n = cfg_unescape(u->path, strlen(u->path));
    if (n < 0) {
        cfg_uri_why = "'%' not followed by two hex digits in the path";
        return -CNIO_ERR_URI;
    }
    if (memchr(u->path, '\0', (size_t)n)) {
        cfg_uri_why = "NUL byte in name";
        return -CNIO_ERR_URI;
    }
    u->path[n] = '\0';
    /* "cnio://h/dir/" names the directory "dir". */
    if (n > 0 && u->path[n - 1] == '/') {
        u->path[--n] = '\0';
        u->dir_slash = 1;
    }
    why = n ? cnio__name_problem(u->path, (size_t)n) : NULL;
    if (why) {
        cfg_uri_why = why;
        return -CNIO_ERR_URI;
    }
    return 0;
}

int cnio__uri_parse(const char *uri, struct cnio_uri *u)
{
    const char *auth, *auth_end, *path, *q;
    int ret;

    memset(u, 0, sizeof(*u));
    cfg_uri_why = "not a cnio:// URI";
    if (!uri || !cnio__uri_is_cnio(uri))
        return -CNIO_ERR_URI;
    auth = uri + sizeof(CFG_SCHEME) - 1;
    auth_end = auth + strcspn(auth, "/?");
    cfg_uri_why = "bad host list (host[:port][,host[:port]...])";
    ret = cfg_hosts(auth, auth_end, u);
    if (ret)
        goto fail;
    path = auth_end;
    if (*path == '/')   /* the one '/' between the hosts and the name */
        path++;
    q = strchr(path, '?');
    if (!q)
        q = path + strlen(path);
    cfg_uri_why = NULL;
    ret = cfg_path(path, q, u);
    if (ret)
        goto fail;
    ret = -CNIO_ERR_NOMEM;
    u->query = cfg_strndup(*q ? q + 1 : "", *q ? strlen(q + 1) : 0);
    if (!u->query)
        goto fail;
    return 0;
fail:
    cnio__uri_free(u);
    return ret;
}
