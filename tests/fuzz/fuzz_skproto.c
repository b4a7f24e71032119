/*
 * fuzz_skproto.c - fuzz target for the shim <-> proxy protocol's one parser,
 * sockets/skproto.c (cnio__skp_parse, cnio__skp_parse_small): what cnio-proxy reads from
 * every process on its unix socket, and what the job proxy and the node proxies read
 * from each other over TCP once their HMAC handshake is done (sockets/proxy_job.c).
 *
 * The input is read as a stream, as the proxy reads one: message after message while
 * they parse. Properties of each message that parses (abort on violation):
 *   - its fields are in range: strings NUL-terminated within their limits, an address
 *     that is none or a well-formed IPv4 / IPv6 one, at most CNIO__SKP_MAX_AI addresses,
 *     each of its stated family;
 *   - it encodes back (cnio__skp_encode) to the very same bytes;
 *   - every shorter prefix of it is "read more" (0), never an error nor a message: the
 *     proxy's reads may stop anywhere;
 *   - the small parser agrees: it takes the message exactly when it has no name, service
 *     or address list, with the same bytes consumed and the same fields, and
 *     cnio__skp_encode_small gives the same bytes back.
 * No leak (ASan), no read outside the input (an exact-size buffer).
 *
 * With -DCNIO_LIBFUZZER it is a libFuzzer target; otherwise replay.c's main replays files,
 * and `fuzz_skproto --corpus DIR` writes seeds: one message of each type as the shim and
 * the proxy encode them, and two back to back.
 */
#include "skproto.h"
#include "fuzz_check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int cnio_fuzz_corpus(const char *dir);

static void fz_sane(const struct cnio__skp_msg *m)
{
    FZ_CHECK(m->type >= CNIO__SKP_HELLO && m->type < CNIO__SKP_TYPE_END);
    FZ_CHECK(strlen(m->name) <= CNIO__SKP_NAME_MAX && strlen(m->serv) <= CNIO__SKP_SERV_MAX);
    FZ_CHECK(m->salen == 0 || cnio__skp_inet_ok((const struct sockaddr *)&m->sa, m->salen));
    FZ_CHECK(m->nai <= CNIO__SKP_MAX_AI);
    for (uint32_t k = 0; k < m->nai; k++)
        FZ_CHECK(cnio__skp_inet_ok((const struct sockaddr *)&m->ai[k].addr, m->ai[k].addrlen) &&
                 m->ai[k].family == m->ai[k].addr.ss_family);
}

/* The small parser on the message m that cnio__skp_parse read from d (n bytes). */
static void fz_small(const uint8_t *d, size_t avail, int n, const struct cnio__skp_msg *m)
{
    struct cnio__skp_small s;
    uint8_t out[CNIO__SKP_SMALL_MAX];
    int sn = cnio__skp_parse_small(d, avail, &s);

    if (m->name[0] || m->serv[0] || m->nai) {
        FZ_CHECK(sn == -1);
        return;
    }
    FZ_CHECK(sn == n && s.type == m->type && !memcmp(s.i, m->i, sizeof(s.i)) &&
             s.salen == m->salen && !memcmp(&s.sa, &m->sa, m->salen));
    FZ_CHECK(cnio__skp_encode_small(&s, out, sizeof(out)) == n && !memcmp(out, d, (size_t)n));
}

static void fz_one(const uint8_t *d, size_t avail, int n, struct cnio__skp_msg *m)
{
    static uint8_t out[CNIO__SKP_MAX];
    int back;

    FZ_CHECK(n >= CNIO__SKP_HDR && n <= CNIO__SKP_MAX && (size_t)n <= avail);
    fz_sane(m);
    back = cnio__skp_encode(m, out, sizeof(out));
    FZ_CHECK(back == n && !memcmp(out, d, (size_t)n));
    fz_small(d, avail, n, m);
    FZ_CHECK(cnio__skp_parse(d, (size_t)n - 1, m) == 0);
    FZ_CHECK(cnio__skp_parse(d, (size_t)n / 2, m) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cnio__skp_msg *m = malloc(sizeof(*m));
    size_t off = 0;
    int n;

    if (!m)
        return 0;
    while (off < size && (n = cnio__skp_parse(data + off, size - off, m)) > 0) {
        fz_one(data + off, size - off, n, m);
        off += (size_t)n;
    }
    free(m);
    return 0;
}

/* ---- the seed corpus ----------------------------------------------------------------- */

static void fz_sin(struct sockaddr_storage *ss, uint32_t *len, const char *a, int port)
{
    memset(ss, 0, sizeof(*ss));
    if (strchr(a, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, a, &s6->sin6_addr);
        *len = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, a, &s4->sin_addr);
        *len = sizeof(*s4);
    }
}

/* Seed k (0 .. 12) into m: one of each type, with the fields skproto.h gives it. */
static void fz_seed(int k, struct cnio__skp_msg *m)
{
    static const char *ai[] = { "10.0.0.1", "fd00::1", "192.168.7.3" };

    memset(m, 0, sizeof(*m));
    m->type = (uint8_t)(k < CNIO__SKP_TYPE_END - 1 ? k + 1 : CNIO__SKP_GAI_REP);
    m->i[0] = 1234;
    m->i[1] = k % 2 ? -1 : 3;
    switch (m->type) {
    case CNIO__SKP_GAI_REQ:
        snprintf(m->name, sizeof(m->name), "node-%d.cluster", k);
        snprintf(m->serv, sizeof(m->serv), "7000");
        break;
    case CNIO__SKP_GAI_REP:
        snprintf(m->name, sizeof(m->name), "canonical.example");
        m->nai = k < CNIO__SKP_TYPE_END - 1 ? 3 : CNIO__SKP_MAX_AI;
        for (uint32_t a = 0; a < m->nai; a++) {
            fz_sin(&m->ai[a].addr, &m->ai[a].addrlen, ai[a % 3], 7000 + (int)a);
            m->ai[a].family = m->ai[a].addr.ss_family;
            m->ai[a].socktype = 1;
            m->ai[a].protocol = 6;
        }
        break;
    case CNIO__SKP_GNI_REQ:
    case CNIO__SKP_ADMIT_REQ:
        fz_sin(&m->sa, &m->salen, k % 2 ? "fd00::2" : "10.0.0.2", 7001);
        break;
    case CNIO__SKP_GNI_REP:
        snprintf(m->name, sizeof(m->name), "h2");
        snprintf(m->serv, sizeof(m->serv), "7001");
        break;
    case CNIO__SKP_ADMIT_REP:
    case CNIO__SKP_OUTCOME:
        m->i[3] = 0x12345678;
        m->i[4] = 1;
        break;
    case CNIO__SKP_STATS_REP:
        memset(m->name, 'x', 300);
        m->name[99] = m->name[199] = '\n';
        m->i[0] = 1;
        break;
    default:
        break;
    }
}

static int fz_write(const char *dir, const char *what, const uint8_t *d, size_t n)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/seed-%s", dir, what);
    f = fopen(path, "wb");
    if (!f || fwrite(d, 1, n, f) != n || fclose(f)) {
        fprintf(stderr, "fuzz_skproto: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

int cnio_fuzz_corpus(const char *dir)
{
    static struct cnio__skp_msg m, back;
    static uint8_t buf[2 * CNIO__SKP_MAX];
    int k, n, two = 0;

    for (k = 0; k < CNIO__SKP_TYPE_END; k++) {
        char what[32];

        fz_seed(k, &m);
        n = cnio__skp_encode(&m, buf, CNIO__SKP_MAX);
        if (n <= 0 || cnio__skp_parse(buf, (size_t)n, &back) != n) {
            fprintf(stderr, "fuzz_skproto: seed %d does not encode and parse\n", k);
            return 1;
        }
        snprintf(what, sizeof(what), "%02d-type%u", k, m.type);
        if (fz_write(dir, what, buf, (size_t)n))
            return 1;
    }
    fz_seed(CNIO__SKP_ADMIT_REQ - 1, &m);
    n = cnio__skp_encode(&m, buf, CNIO__SKP_MAX);
    fz_seed(CNIO__SKP_GAI_REP - 1, &m);
    if (n > 0)
        two = cnio__skp_encode(&m, buf + n, CNIO__SKP_MAX);
    if (n <= 0 || two <= 0 || fz_write(dir, "two-messages", buf, (size_t)(n + two)))
        return 1;
    printf("fuzz_skproto: %d seeds in %s\n", CNIO__SKP_TYPE_END + 1, dir);
    return 0;
}
