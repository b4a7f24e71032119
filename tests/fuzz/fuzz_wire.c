/*
 * fuzz_wire.c - fuzz target for the wire parsers.
 *
 * LLVMFuzzerTestOneInput feeds its input to every parser of src/wire.c, twice:
 *
 *   1. the whole input to cnio__wire_hdr_decode (first 64 bytes), to every payload
 *      parser and to the LIST entry iterator;
 *   2. as a frame: the first 64 bytes with their header CRC recomputed (so that the
 *      fuzzer gets past the CRC into the per-type rules), then, when the header decodes
 *      and the rest is exactly `length` bytes, the payload check and the parser that a
 *      receiver would run for that type.
 *
 * Whatever a parser accepts must encode back to the same bytes; a difference aborts.
 *
 * Built with -DCNIO_LIBFUZZER and -fsanitize=fuzzer it is a libFuzzer target (see
 * tests/fuzz/README.md). Otherwise it has its own main, which runs the target over
 * random inputs and mutations of valid frames, for `make check`:
 *
 *   fuzz_wire [iterations [seed]]      default 200000 iterations, seed 1
 *   fuzz_wire --corpus DIR             writes the valid frames as a seed corpus
 */
#include "common.h"
#include "wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs that reached the per-type payload parser (reported by the standalone main). */
static unsigned long fz_frames;

static void fz_same(const uint8_t *in, size_t len, const uint8_t *enc, int n, const char *what)
{
    if (n < 0 || (size_t)n != len || memcmp(in, enc, len) != 0) {
        fprintf(stderr, "fuzz_wire: %s: accepted input does not encode back\n", what);
        abort();
    }
}

/* Runs the payload parsers on in[len]; re-encodes what they accept. */
static void fz_payloads(const uint8_t *in, size_t len, int only_type)
{
    uint8_t out[CNIO_WIRE_OPEN_FIXED + CNIO_WIRE_MAX_NAME + CNIO_WIRE_ENTRY_FIXED];
    struct cnio_wire_challenge c;
    struct cnio_wire_auth a;
    struct cnio_wire_open o;
    struct cnio_wire_info i;
    struct cnio_wire_entry e;
    struct cnio_wire_crc cr;
    uint64_t v;
    size_t pos = 0, prev = 0;
    int t = only_type, ret;

    if ((!t || t == CNIO_WIRE_CHALLENGE) && cnio__wire_challenge_parse(in, len, &c) == 0)
        fz_same(in, len, out, cnio__wire_challenge_encode(&c, out, sizeof(out)), "challenge");
    if ((!t || t == CNIO_WIRE_AUTH) && cnio__wire_auth_parse(in, len, &a) == 0)
        fz_same(in, len, out, cnio__wire_auth_encode(&a, out, sizeof(out)), "auth");
    if ((!t || t == CNIO_WIRE_OPEN) && cnio__wire_open_parse(in, len, 0, &o) == 0)
        fz_same(in, len, out, cnio__wire_open_encode(&o, out, sizeof(out)), "open");
    if ((!t || t == CNIO_WIRE_LIST) && cnio__wire_open_parse(in, len, 1, &o) == 0)
        fz_same(in, len, out, cnio__wire_open_encode(&o, out, sizeof(out)), "list");
    if ((!t || t == CNIO_WIRE_STAT) && cnio__wire_info_parse(in, len, &i) == 0)
        fz_same(in, len, out, cnio__wire_info_encode(&i, out, sizeof(out)), "info");
    if ((!t || t == CNIO_WIRE_READ) && cnio__wire_u64_parse(in, len, &v) == 0)
        fz_same(in, len, out, cnio__wire_u64_encode(v, out, sizeof(out)), "u64");
    if ((!t || t == (CNIO_WIRE_CRC | CNIO_WIRE_REPLY)) && cnio__wire_crc_parse(in, len, &cr) == 0)
        fz_same(in, len, out, cnio__wire_crc_encode(&cr, out, sizeof(out)), "crc");
    if (t && t != (CNIO_WIRE_LIST | CNIO_WIRE_REPLY))
        return;
    while ((ret = cnio__wire_entry_next(in, len, &pos, &e)) == 1) {
        if (pos <= prev || pos > len)
            abort();
        fz_same(in + prev, pos - prev, out, cnio__wire_entry_encode(&e, out, sizeof(out)), "entry");
        prev = pos;
    }
    if (ret == 0 && pos != len)
        abort();
}

/* The parser a receiver runs for a decoded header h. */
static void fz_frame(const struct cnio_wire_hdr *h, const uint8_t *payload)
{
    uint16_t base = h->type & (uint16_t)~CNIO_WIRE_REPLY;
    int reply = (h->type & CNIO_WIRE_REPLY) != 0;

    if (cnio__wire_payload_check(h, payload) != 0 && h->length == 0)
        abort();
    fz_frames++;
    if (h->status != 0 || h->length == 0)
        return;
    switch (base) {
    case CNIO_WIRE_CHALLENGE:
        fz_payloads(payload, h->length, CNIO_WIRE_CHALLENGE);
        break;
    case CNIO_WIRE_AUTH:
        if (!reply)
            fz_payloads(payload, h->length, CNIO_WIRE_AUTH);
        break;
    case CNIO_WIRE_OPEN: case CNIO_WIRE_STAT: case CNIO_WIRE_SETSIZE: case CNIO_WIRE_UNLINK:
        fz_payloads(payload, h->length, reply ? CNIO_WIRE_STAT : CNIO_WIRE_OPEN);
        break;
    case CNIO_WIRE_LIST:
        fz_payloads(payload, h->length, reply ? CNIO_WIRE_LIST | CNIO_WIRE_REPLY : CNIO_WIRE_LIST);
        break;
    case CNIO_WIRE_READ:
        if (!reply)
            fz_payloads(payload, h->length, CNIO_WIRE_READ);
        break;
    case CNIO_WIRE_CRC:
        fz_payloads(payload, h->length, reply ? CNIO_WIRE_CRC | CNIO_WIRE_REPLY : CNIO_WIRE_READ);
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t hdr[CNIO_WIRE_HDR_SIZE], again[CNIO_WIRE_HDR_SIZE];
    struct cnio_wire_hdr h;

    fz_payloads(data, size, 0);
    if (size < CNIO_WIRE_HDR_SIZE)
        return 0;
    if (cnio__wire_hdr_decode(data, &h) == 0) {
        cnio__wire_hdr_encode(&h, again);
        fz_same(data, CNIO_WIRE_HDR_SIZE, again, CNIO_WIRE_HDR_SIZE, "header");
    }
    memcpy(hdr, data, sizeof(hdr));
    cnio__put_le32(hdr + 60, cnio__crc32c(0, hdr, 60));
    if (cnio__wire_hdr_decode(hdr, &h) != 0)
        return 0;
    cnio__wire_hdr_encode(&h, again);
    fz_same(hdr, CNIO_WIRE_HDR_SIZE, again, CNIO_WIRE_HDR_SIZE, "header");
    if (size - CNIO_WIRE_HDR_SIZE == h.length)
        fz_frame(&h, data + CNIO_WIRE_HDR_SIZE);
    return 0;
}

#ifndef CNIO_LIBFUZZER
#include <errno.h>

#define FZ_MAX_SEEDS 32
#define FZ_MAX_LEN (CNIO_WIRE_HDR_SIZE + 2048)

struct fz_seed {
    size_t len;
    uint8_t buf[FZ_MAX_LEN];
};

static uint64_t fz_rng_state;

static uint64_t fz_rng(void)
{
    fz_rng_state ^= fz_rng_state << 13;
    fz_rng_state ^= fz_rng_state >> 7;
    fz_rng_state ^= fz_rng_state << 17;
    return fz_rng_state;
}

/* Appends the frame header type/flags/status + payload p[n] to the seed list. */
static void fz_add(struct fz_seed *s, int *ns, uint16_t type, uint32_t flags, int32_t status,
                   const uint8_t *p, int n)
{
    struct cnio_wire_hdr h = { .version = CNIO_WIRE_VERSION, .type = type, .flags = flags,
                               .status = status, .reqid = (uint64_t)*ns + 1, .session = 77,
                               .object = 0x1234, .offset = 4096 };

    if (n < 0 || *ns >= FZ_MAX_SEEDS || (size_t)n > FZ_MAX_LEN - CNIO_WIRE_HDR_SIZE)
        abort();
    h.length = (uint32_t)n;
    h.payload_crc = cnio__crc32c(0, p, (size_t)n);
    cnio__wire_hdr_encode(&h, s[*ns].buf);
    if (n)
        memcpy(s[*ns].buf + CNIO_WIRE_HDR_SIZE, p, (size_t)n);
    s[*ns].len = CNIO_WIRE_HDR_SIZE + (size_t)n;
    (*ns)++;
}

/* Valid frames of every type: the starting points of the mutations. */
static int fz_seeds(struct fz_seed *s)
{
    static const uint16_t empty[] = { CNIO_WIRE_PING, CNIO_WIRE_SETSIZE, CNIO_WIRE_SYNC,
                                      CNIO_WIRE_CLOSE, CNIO_WIRE_SYNC | CNIO_WIRE_REPLY,
                                      CNIO_WIRE_WRITE | CNIO_WIRE_REPLY, CNIO_WIRE_PREPARE,
                                      CNIO_WIRE_PREPARE | CNIO_WIRE_REPLY };
    struct cnio_wire_challenge c = { .max_payload = 1u << 20, .credits = 64 };
    struct cnio_wire_auth a = { .mode = CNIO_WIRE_AUTH_TOKEN, .rank = 3, .object = 0x1234 };
    struct cnio_wire_open o = { .flags = CNIO_WIRE_O_CREATE | CNIO_WIRE_O_WRITE,
                                .stripe_count = 2, .stripe_unit = 1u << 20, .stripe_index = 1,
                                .name_len = 9, .name = "run/x.dat" };
    struct cnio_wire_info i = { .stripe_unit = 1u << 20, .stripe_count = 2, .size = 5000,
                                .local_size = 4096, .flags = CNIO_WIRE_I_CREATED };
    struct cnio_wire_entry e = { .info = i, .name_len = 5, .name = "a.dat" };
    uint8_t p[512];
    int ns = 0, n;

    for (size_t k = 0; k < CNIO_ARRAY_LEN(empty); k++)
        fz_add(s, &ns, empty[k], 0, 0, p, 0);
    fz_add(s, &ns, CNIO_WIRE_CHALLENGE, 0, 0, p, cnio__wire_challenge_encode(&c, p, sizeof(p)));
    fz_add(s, &ns, CNIO_WIRE_CHALLENGE, 0, -CNIO_ERR_LIMIT, p, 0);
    fz_add(s, &ns, CNIO_WIRE_AUTH, 0, 0, p, cnio__wire_auth_encode(&a, p, sizeof(p)));
    fz_add(s, &ns, CNIO_WIRE_AUTH | CNIO_WIRE_REPLY, 0, 0, p, CNIO_WIRE_MAC);
    fz_add(s, &ns, CNIO_WIRE_AUTH | CNIO_WIRE_REPLY, 0, -CNIO_ERR_AUTH, p, 0);
    fz_add(s, &ns, CNIO_WIRE_OPEN, 0, 0, p, cnio__wire_open_encode(&o, p, sizeof(p)));
    fz_add(s, &ns, CNIO_WIRE_UNLINK, 0, 0, p, cnio__wire_open_encode(&o, p, sizeof(p)));
    o.name_len = 0;
    fz_add(s, &ns, CNIO_WIRE_LIST, 0, 0, p, cnio__wire_open_encode(&o, p, sizeof(p)));
    fz_add(s, &ns, CNIO_WIRE_OPEN | CNIO_WIRE_REPLY, 0, 0, p,
           cnio__wire_info_encode(&i, p, sizeof(p)));
    fz_add(s, &ns, CNIO_WIRE_STAT | CNIO_WIRE_REPLY, 0, -CNIO_ERR_NOENT, p, 0);
    n = cnio__wire_entry_encode(&e, p, sizeof(p));
    e.name = "subdir";
    e.name_len = 6;
    e.info.flags = CNIO_WIRE_I_DIR;
    n += cnio__wire_entry_encode(&e, p + n, sizeof(p) - (size_t)n);
    fz_add(s, &ns, CNIO_WIRE_LIST | CNIO_WIRE_REPLY, CNIO_WIRE_F_MORE, 0, p, n);
    fz_add(s, &ns, CNIO_WIRE_READ, 0, 0, p, cnio__wire_u64_encode(65536, p, sizeof(p)));
    fz_add(s, &ns, CNIO_WIRE_WRITE, 0, 0, (const uint8_t *)"0123456789abcdef", 16);
    fz_add(s, &ns, CNIO_WIRE_READ | CNIO_WIRE_REPLY, 0, 0, (const uint8_t *)"data", 4);
    return ns;
}

/* One random change to buf[*len] (capacity FZ_MAX_LEN). */
static void fz_mutate_once(uint8_t *buf, size_t *len)
{
    static const uint32_t interesting[] = { 0, 1, 7, 8, 23, 24, 47, 48, 55, 56, 79, 80,
                                            CNIO_WIRE_MAX_NAME, CNIO_WIRE_MAX_NAME + 1,
                                            CNIO_WIRE_MAX_CTRL, CNIO_WIRE_MAX_CTRL + 1,
                                            CNIO_WIRE_MAX_PAYLOAD, CNIO_WIRE_MAX_PAYLOAD + 1,
                                            CNIO_WIRE_REPLY, 0x7fffffffu, 0x80000000u,
                                            0xfffffff0u, 0xffffffffu };
    size_t off = *len ? (size_t)(fz_rng() % *len) : 0;

    switch (fz_rng() % 6) {
    case 0:
        if (*len)
            buf[off] ^= (uint8_t)(1u << (fz_rng() % 8));
        break;
    case 1:
        if (*len)
            buf[off] = (uint8_t)fz_rng();
        break;
    case 2:
        if (*len >= 4) {
            off = (off & ~(size_t)3) % (*len - 3);
            cnio__put_le32(buf + off, interesting[fz_rng() % CNIO_ARRAY_LEN(interesting)]);
        }
        break;
    case 3:
        *len = *len ? (size_t)(fz_rng() % *len) : 0;
        break;
    case 4:
        for (size_t k = fz_rng() % 16; k > 0 && *len < FZ_MAX_LEN; k--)
            buf[(*len)++] = (uint8_t)fz_rng();
        break;
    default:
        if (*len >= 2)
            buf[off] = buf[fz_rng() % *len];
        break;
    }
}

/* A mutated seed, with its header and payload CRCs sometimes made right again. */
static size_t fz_mutate(const struct fz_seed *seed, uint8_t *buf)
{
    size_t len = seed->len;
    int rounds = 1 + (int)(fz_rng() % 4);

    memcpy(buf, seed->buf, len);
    while (rounds--)
        fz_mutate_once(buf, &len);
    if (len >= CNIO_WIRE_HDR_SIZE && fz_rng() % 2) {
        size_t plen = len - CNIO_WIRE_HDR_SIZE;

        if (fz_rng() % 2)
            cnio__put_le32(buf + 48, (uint32_t)plen);
        cnio__put_le32(buf + 52, cnio__crc32c(0, buf + CNIO_WIRE_HDR_SIZE, plen));
        cnio__put_le32(buf + 60, cnio__crc32c(0, buf, 60));
    }
    return len;
}

static int fz_write_corpus(const char *dir, const struct fz_seed *s, int ns)
{
    char path[4096];

    for (int k = 0; k < ns; k++) {
        FILE *f;

        snprintf(path, sizeof(path), "%s/seed-%02d", dir, k);
        f = fopen(path, "wb");
        if (!f || fwrite(s[k].buf, 1, s[k].len, f) != s[k].len || fclose(f)) {
            fprintf(stderr, "fuzz_wire: %s: %s\n", path, strerror(errno));
            return EXIT_FAILURE;
        }
    }
    printf("fuzz_wire: wrote %d seeds to %s\n", ns, dir);
    return EXIT_SUCCESS;
}

/* Runs the target on an exact-size heap copy, so that reads past the end show. */
static void fz_run(const uint8_t *buf, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);

    if (!copy)
        abort();
    memcpy(copy, buf, len);
    LLVMFuzzerTestOneInput(copy, len);
    free(copy);
}

int main(int argc, char **argv)
{
    static struct fz_seed seeds[FZ_MAX_SEEDS];
    uint8_t buf[FZ_MAX_LEN];
    unsigned long iters = 200000, seed = 1;
    int ns = fz_seeds(seeds);

    if (argc == 3 && !strcmp(argv[1], "--corpus"))
        return fz_write_corpus(argv[2], seeds, ns);
    if (argc > 1)
        iters = strtoul(argv[1], NULL, 0);
    if (argc > 2)
        seed = strtoul(argv[2], NULL, 0);
    fz_rng_state = 0x9e3779b97f4a7c15ull ^ ((uint64_t)seed * 0x2545f4914f6cdd1dull);
    for (int k = 0; k < ns; k++)
        fz_run(seeds[k].buf, seeds[k].len);
    if (fz_frames != (unsigned long)ns) {
        fprintf(stderr, "fuzz_wire: only %lu of %d valid seed frames parsed\n", fz_frames, ns);
        return EXIT_FAILURE;
    }
    for (unsigned long it = 0; it < iters; it++) {
        size_t len;

        if (it % 8 == 0) {
            len = (size_t)(fz_rng() % 300);
            for (size_t k = 0; k < len; k++)
                buf[k] = (uint8_t)fz_rng();
        } else {
            len = fz_mutate(&seeds[fz_rng() % (uint64_t)ns], buf);
        }
        fz_run(buf, len);
    }
    printf("fuzz_wire: %lu inputs (seed %lu), %lu reached a payload parser\n", iters, seed,
           fz_frames);
    return EXIT_SUCCESS;
}
#endif
