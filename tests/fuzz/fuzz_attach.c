/*
 * fuzz_attach.c - fuzz target for the object description parser, cnio__obj_desc_parse
 * (src/client_export.c): the bytes that rank 0 exports for every other rank at a
 * collective open (collective/file.c scatters them over MPI) and that
 * cnio__obj_attach / cnio__obj_attach_on_demand parse before they connect.
 *
 * Each input is parsed as it is, then again with its trailing CRC32C made right, so that
 * mutations get past the CRC into the field rules. Properties (abort on violation):
 *   - a description that parses holds what attach relies on: 1..CNIO_MAX_HOSTS hosts,
 *     a layout cnio__layout_check takes with one column per host, hints in range, a
 *     path that obeys the name rules, and for each host a name as a URI gives one, a port, an IPv4 or IPv6 address and a handle
 *     (and a fabric address, with a fabric transport);
 *   - the encoding is canonical: the parsed object, given a key, exports again for the
 *     rank it was made for (cnio__obj_export) to the very same bytes but for the tokens
 *     and the CRC. Tokens cannot round-trip: an exporter writes HMAC(key, handle, rank),
 *     and a parsed object holds the tokens but not the key; so each token of the new
 *     export must be that HMAC with the fuzzer's key, and the parser must have kept the
 *     input's token bytes, host by host;
 *   - that export parses again, to the same rank and the new tokens.
 * No leak (ASan), no read outside the input (replay.c and libFuzzer hand each input in a
 * buffer of its exact size).
 *
 * With -DCNIO_LIBFUZZER it is a libFuzzer target; otherwise replay.c's main replays files,
 * and `fuzz_attach --corpus DIR` writes the seed corpus: descriptions that the real
 * exporter makes of objects set up in memory as an open leaves them (1 to 8 hosts, IPv4
 * and IPv6, with and without the fabric part), each checked to parse.
 */
#include "common.h"
#include "auth.h"
#include "client_int.h"
#include "log.h"
#include "fuzz_check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int cnio_fuzz_corpus(const char *dir);

/* client_export.c's fixed part: magic .. path length, before the path. */
#define FZ_FIXED 66

static const struct cnio_key fz_key = { 32, "fuzz-attach-key-0123456789abcdef" };

/* What attach relies on, of an object the parser accepted. */
static void fz_sane(const struct cnio_obj *o)
{
    int fab = cnio__cl_fabric(&o->h);

    FZ_CHECK(o->nhosts >= 1 && o->nhosts <= CNIO_MAX_HOSTS && o->hosts && o->tokens);
    FZ_CHECK(o->layout.count == (uint32_t)o->nhosts && !cnio__layout_check(&o->layout));
    FZ_CHECK(o->h.lanes >= 1 && o->h.lanes <= CNIO_MAX_LANES && o->h.timeout_ms > 0 &&
             o->h.connect_window > 0 && !(o->oflags & ~CNIO_WIRE_O_ALL));
    FZ_CHECK(o->h.transport[0] && memchr(o->h.transport, '\0', sizeof(o->h.transport)));
    FZ_CHECK(memchr(o->h.ofi_provider, '\0', sizeof(o->h.ofi_provider)));
    FZ_CHECK(o->path && o->path[0] && strlen(o->path) <= CNIO_WIRE_MAX_NAME);
    FZ_CHECK(!cnio__name_problem(o->path, strlen(o->path)));   /* no "..", no control bytes */
    FZ_CHECK(!o->st && !o->has_key);
    for (int j = 0; j < o->nhosts; j++) {
        const struct cnio__cl_host *h = &o->hosts[j];
        int fam = h->addr.ss.ss_family;

        FZ_CHECK(h->name[0] && memchr(h->name, '\0', sizeof(h->name)) && h->port && h->handle);
        FZ_CHECK(cnio__host_name_ok(h->name));   /* it goes into messages */
        FZ_CHECK((fam == AF_INET && h->addr.len == sizeof(struct sockaddr_in)) ||
                 (fam == AF_INET6 && h->addr.len == sizeof(struct sockaddr_in6)));
        FZ_CHECK(h->resolved && !h->nlanes && !h->ctl);
        FZ_CHECK(fab ? h->fab.len >= 1 && h->fab.len <= sizeof(h->fab.ss) : h->fab.len == 0);
    }
}

/*
 * In want (a copy of the input d), puts at each host's token the one an exporter with
 * fz_key writes, after checking that the parser kept d's token there; fixes the CRC.
 */
static void fz_expect(const struct cnio_obj *o, const uint8_t *d, uint8_t *want, size_t n)
{
    size_t pos = FZ_FIXED + strlen(o->path);

    for (int j = 0; j < o->nhosts; j++) {
        const struct cnio__cl_host *h = &o->hosts[j];

        pos += 2 + strlen(h->name) + 4 + (h->addr.ss.ss_family == AF_INET ? 4 : 16) + 8;
        FZ_CHECK(pos + CNIO_WIRE_MAC + 4 <= n);
        FZ_CHECK(!memcmp(o->tokens[j], d + pos, CNIO_WIRE_MAC));
        FZ_CHECK(!cnio__auth_token(&fz_key, h->handle, o->rank, want + pos));
        pos += CNIO_WIRE_MAC;
    }
    cnio__put_le32(want + n - 4, cnio__crc32c(0, want, n - 4));
}

static void fz_check(const uint8_t *d, size_t n)
{
    struct cnio_obj *a, *b;
    uint8_t *want, *out;
    ssize_t m;

    if (cnio__obj_desc_parse(d, n, &a))
        return;
    fz_sane(a);
    a->has_key = 1;
    a->key = fz_key;
    m = cnio__obj_export(a, a->rank, NULL, 0);
    FZ_CHECK(m == (ssize_t)n);
    want = malloc(n);
    out = malloc(n);
    FZ_CHECK(want && out);
    FZ_CHECK(cnio__obj_export(a, a->rank, out, n) == m);
    memcpy(want, d, n);
    fz_expect(a, d, want, n);
    FZ_CHECK(!memcmp(want, out, n));
    FZ_CHECK(cnio__obj_desc_parse(out, n, &b) == 0);
    fz_sane(b);
    FZ_CHECK(b->rank == a->rank && b->nhosts == a->nhosts);
    for (int j = 0; j < a->nhosts; j++) {
        uint8_t t[CNIO_WIRE_MAC];

        FZ_CHECK(!cnio__auth_token(&fz_key, a->hosts[j].handle, a->rank, t));
        FZ_CHECK(!memcmp(b->tokens[j], t, CNIO_WIRE_MAC));
    }
    cnio__cl_free(b);
    cnio__cl_free(a);
    free(out);
    free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    uint8_t *fixed;

    if (!quiet) {
        cnio__log_set_level(CNIO_LOG_ERROR);
        quiet = 1;
    }
    fz_check(data, size);
    if (size < 4 || !(fixed = malloc(size)))
        return 0;
    memcpy(fixed, data, size);
    cnio__put_le32(fixed + size - 4, cnio__crc32c(0, fixed, size - 4));
    fz_check(fixed, size);
    free(fixed);
    return 0;
}

/* ---- the seed corpus ----------------------------------------------------------------- */

/* One seed: an object as an open leaves it, and the rank it is exported for. */
struct fz_seed {
    const char *path;
    const char *transport;
    const char *provider;
    uint32_t rank, oflags, lanes;
    uint64_t unit, recorded;
    int nhosts;
    const char *addr[8];            /* "10.0.0.1" or "fd00::1" */
};

static const struct fz_seed fz_seeds[] = {
    { "a", "tcp", "", 1, 0, 1, 1u << 20, 0, 1, { "127.0.0.1" } },
    { "run7/out.dat", "tcp", "", 3, CNIO_WIRE_O_CREATE | CNIO_WIRE_O_WRITE, 2, 512u << 10,
      3u << 20, 2, { "10.0.0.1", "10.0.0.2" } },
    { "v6/only", "tcp", "", 0, 0, 4, 4u << 20, 12345, 2, { "::1", "fd00::2" } },
    { "mixed/x.h5", "tcp", "", 7, CNIO_WIRE_O_WRITE | CNIO_WIRE_O_STAGE | CNIO_WIRE_O_JOIN, 3,
      1u << 16, 1ull << 40, 4, { "192.168.1.10", "fe80::1", "10.1.2.3", "2001:db8::7" } },
    { "deep/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/file.nc", "tcp", "", 1000000,
      CNIO_WIRE_O_ALL, CNIO_MAX_LANES, 1ull << 40, UINT64_MAX, 8,
      { "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "::ffff:10.0.0.5", "fd00::6",
        "10.0.0.7", "fd00::8" } },
    { "fab/ofi", "ofi", "tcp;ofi_rxm", 1, CNIO_WIRE_O_WRITE, 2, 1u << 20, 0, 3,
      { "10.0.0.1", "10.0.0.2", "10.0.0.3" } },
    { "fab/udp6", "udp", "udp;ofi_rxd", 2, 0, 1, 1u << 20, 99, 2, { "fd00::1", "fd00::2" } },
    { "fab/any", "ofi", "", 5, 0, 1, 8u << 20, 0, 1, { "127.0.0.1" } },
};

/* hosts[j] of seed s: name, port, address; a fabric address beside the control one. */
static int fz_seed_host(const struct fz_seed *s, int j, struct cnio__cl_host *h)
{
    int len, got = 0;

    snprintf(h->name, sizeof(h->name), j == 3 ? "storage-%d.a.rather.long.domain.name.example"
                                              : "h%d", j);
    h->port = (uint16_t)(7000 + j);
    h->handle = 0x100000001ull * (uint64_t)(j + 1);
    h->resolved = 1;
    if (cnio__net_resolve(s->addr[j], h->port, &h->addr, 1, &got) || got != 1)
        return -1;
    if (!strcmp(s->transport, "tcp"))
        return 0;
    len = (int)h->addr.len;
    memcpy(&h->fab.ss, &h->addr.ss, (size_t)len);   /* a sockaddr, as FABRIC replies carry */
    ((struct sockaddr_in *)(void *)&h->fab.ss)->sin_port = htons((uint16_t)(9000 + j));
    h->fab.len = (socklen_t)len;
    return 0;
}

/* The exporter's bytes for seed s, checked to parse; NULL on failure. */
static uint8_t *fz_seed_export(const struct fz_seed *s, size_t *n)
{
    struct cnio_obj o = { 0 }, *back = NULL;
    uint8_t *buf = NULL;
    ssize_t m = -1;

    cnio__hints_default(&o.h);
    snprintf(o.h.transport, sizeof(o.h.transport), "%s", s->transport);
    snprintf(o.h.ofi_provider, sizeof(o.h.ofi_provider), "%s", s->provider);
    o.h.lanes = s->lanes;
    o.layout = (struct cnio_layout){ s->unit, (uint32_t)s->nhosts };
    o.nhosts = o.nuri = s->nhosts;
    o.oflags = s->oflags;
    o.recorded = s->recorded;
    o.has_key = 1;
    o.key = fz_key;
    o.path = (char *)s->path;
    o.hosts = calloc((size_t)s->nhosts, sizeof(*o.hosts));
    for (int j = 0; o.hosts && j < s->nhosts; j++)
        if (fz_seed_host(s, j, &o.hosts[j]))
            goto out;
    if (o.hosts && (m = cnio__obj_export(&o, s->rank, NULL, 0)) > 0 && (buf = malloc((size_t)m)))
        m = cnio__obj_export(&o, s->rank, buf, (size_t)m);
    if (buf && m > 0 && cnio__obj_desc_parse(buf, (size_t)m, &back) == 0) {
        cnio__cl_free(back);
        *n = (size_t)m;
        free(o.hosts);
        return buf;
    }
out:
    free(buf);
    free(o.hosts);
    return NULL;
}

int cnio_fuzz_corpus(const char *dir)
{
    for (size_t i = 0; i < CNIO_ARRAY_LEN(fz_seeds); i++) {
        char path[4096];
        size_t n = 0;
        uint8_t *d = fz_seed_export(&fz_seeds[i], &n);
        FILE *f;

        if (!d) {
            fprintf(stderr, "fuzz_attach: seed %zu does not export and parse\n", i);
            return 1;
        }
        snprintf(path, sizeof(path), "%s/seed-%02zu-%s-%dh", dir, i, fz_seeds[i].transport,
                 fz_seeds[i].nhosts);
        f = fopen(path, "wb");
        if (!f || fwrite(d, 1, n, f) != n || fclose(f)) {
            fprintf(stderr, "fuzz_attach: cannot write %s\n", path);
            free(d);
            return 1;
        }
        free(d);
    }
    printf("fuzz_attach: %zu seeds in %s\n", CNIO_ARRAY_LEN(fz_seeds), dir);
    return 0;
}
