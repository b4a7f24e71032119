/*
 * fuzz_list.c - fuzz target for the merge of LIST replies (src/client_list.c): what
 * `cnio ls` and the walk of `cnio cp -r` make of the entries that each host of a URI
 * sends for one directory (cnio__cl_list_take, one reply at a time, then
 * cnio__cl_list_each, which merges the entries of one name from all hosts).
 *
 * Input: a byte whose bits 0..2 are the number of hosts less one, bit 3 says raw, and
 * bits 4..7 the call of fn (from 1) that returns an error (0: none); then replies, each
 * a byte naming its host and
 *   raw:  a 2-byte length and that many bytes of reply payload;
 *   else: up to 7 entries built from the input (a short name from a small alphabet with
 *         '/', '.' and a control byte; a directory or a column of an object: layout,
 *         sizes, generation, state and mode bits), encoded by cnio__wire_entry_encode.
 *
 * Properties (abort on violation):
 *   - fn sees each name once, in strcmp order, and every name that a host sent in the
 *     replies taken (until the first malformed one) is seen;
 *   - each name is one component that a store may hold: no '/', no leading '.' (so not
 *     "." or ".."), at most CNIO_NAME_COMPONENT_MAX bytes (an entry with another fails
 *     its reply's take: -CNIO_ERR_PROTO);
 *   - what it is told of a name is sane: a name of directories only is a directory with
 *     no layout, size or state; one with no directory is not one; an object and a
 *     directory of one name (another order's, or a host's own) is an object, torn and
 *     shadowed; only known state bits, FOREIGN and SHADOWED only with TORN, NOSIZE
 *     only with FOREIGN and a size of 0; a mode of 16 bits;
 *   - fn's error stops the calls, and is returned;
 *   - no leak (ASan), no read outside the input.
 *
 * `fuzz_list --corpus DIR` writes the seeds: raw replies made by the real encoder as
 * servers send them (objects of one to eight columns, directories on some hosts, a
 * column missing, an object of another order, a directory shadowing an object, states).
 */
#include "common.h"
#include "client_int.h"
#include "log.h"
#include "fuzz_input.h"
#include "fuzz_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int cnio_fuzz_corpus(const char *dir);

#define FZ_RAW 0x8u
#define FZ_STATES (CNIO_OBJ_STAGED | CNIO_OBJ_DIRTY | CNIO_OBJ_TORN | CNIO_OBJ_PENDING | \
                   CNIO_OBJ_FOREIGN | CNIO_OBJ_SHADOWED | CNIO_OBJ_MISSING | CNIO_OBJ_INPLACE | \
                   CNIO_OBJ_WIDE | CNIO_OBJ_NOSIZE)

/* What fn checks against: the sorted list, the group it is at, the calls. */
struct fz_walk {
    const struct cnio__cl_list *l;
    size_t at;
    int calls, stop;
};

static int fz_fn(const char *name, const struct cnio_obj_stat *s, void *arg)
{
    struct fz_walk *w = arg;
    const struct cnio__cl_list *l = w->l;
    size_t end = w->at;
    int dirs = 0, objs = 0;

    FZ_CHECK(w->at < l->n && name == l->e[w->at].name);
    FZ_CHECK(!w->at || strcmp(l->e[w->at - 1].name, name) < 0);
    /* one component a store may hold: cp -r joins it to the path of its destination */
    FZ_CHECK(name[0] != '.' && !strchr(name, '/') && strlen(name) <= CNIO_NAME_COMPONENT_MAX);
    for (; end < l->n && !strcmp(l->e[end].name, name); end++)
        if (l->e[end].info.flags & CNIO_WIRE_I_DIR)
            dirs++;
        else
            objs++;
    FZ_CHECK(!(s->state & ~FZ_STATES) && s->mode <= 0xffff);
    FZ_CHECK(!(s->state & (CNIO_OBJ_FOREIGN | CNIO_OBJ_SHADOWED | CNIO_OBJ_MISSING)) ||
             (s->state & CNIO_OBJ_TORN));
    FZ_CHECK(!(s->state & CNIO_OBJ_NOSIZE) || ((s->state & CNIO_OBJ_FOREIGN) && !s->size));
    if (!objs)
        FZ_CHECK(s->is_dir && !s->state && !s->size && !s->layout.unit && !s->layout.count);
    else
        FZ_CHECK(!s->is_dir);
    if (objs && dirs)
        FZ_CHECK(s->state & CNIO_OBJ_SHADOWED);
    w->at = end;
    return ++w->calls == w->stop ? -CNIO_ERR_IO : 0;
}

/* One entry of the input's into b (cap bytes): its length, or 0 when it fits no rule. */
static size_t fz_entry(struct fz_in *in, uint8_t *b, size_t cap)
{
    static const char alphabet[] = "abcab./\x01";
    static const uint64_t units[] = { 1u << 20, 4096, 1, 0, 1ull << 40, (1ull << 40) + 1 };
    struct cnio_wire_entry e = { 0 };
    char name[16];
    size_t len = 1 + (size_t)fz_take(in, 1) % sizeof(name);
    uint8_t kind = (uint8_t)fz_take(in, 1);
    int n;

    for (size_t i = 0; i < len; i++)
        name[i] = alphabet[fz_take(in, 1) % (sizeof(alphabet) - 1)];
    e.name = name;
    e.name_len = (uint32_t)len;
    e.info.flags = (uint32_t)(kind & CNIO_WIRE_I_ALL) |
                   (uint32_t)fz_take(in, kind & 0x80 ? 2 : 0) << CNIO_WIRE_I_MODE_SHIFT;
    if (!(e.info.flags & CNIO_WIRE_I_DIR)) {
        e.info.stripe_unit = units[fz_take(in, 1) % CNIO_ARRAY_LEN(units)];
        e.info.stripe_count = (uint32_t)fz_take(in, 1) % 10;
        e.info.stripe_index = (uint32_t)fz_take(in, 1) % 10;
        e.info.size = fz_take(in, 1) << (fz_take(in, 1) % 64);
        e.info.local_size = fz_take(in, 1) << (fz_take(in, 1) % 64);
        e.info.gen = (uint32_t)fz_take(in, 1) % 3;
    }
    e.info.mtime_ns = (int64_t)fz_take(in, 2);
    n = cnio__wire_entry_encode(&e, b, cap);
    return n > 0 ? (size_t)n : 0;
}

/* The payload of one reply: raw from the input, or entries built from it. */
static size_t fz_reply(struct fz_in *in, int raw, uint8_t *b, size_t cap)
{
    size_t len = 0;

    if (raw) {
        len = (size_t)fz_take(in, 2);   /* (CNIO_MIN would take it twice) */
        len = CNIO_MIN(len, in->n);
        memcpy(b, in->p, len);
        in->p += len;
        in->n -= len;
        return len;
    }
    for (int k = (int)(fz_take(in, 1) % 8); k > 0; k--)
        len += fz_entry(in, b + len, cap - len);
    return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    struct fz_in in = { data, size };
    uint8_t mode = (uint8_t)fz_take(&in, 1);
    int nhosts = (mode & 7) + 1, ret = 0, want, groups = 0;
    struct cnio__cl_list l = { 0 };
    struct fz_walk w = { .l = &l, .stop = mode >> 4 };
    uint8_t *b = malloc(CNIO_WIRE_MAX_CTRL);

    if (!quiet) {
        cnio__log_set_level(CNIO_LOG_ERROR);
        quiet = 1;
    }
    FZ_CHECK(b);
    while (!ret && in.n) {
        int host = (int)(fz_take(&in, 1) % (uint64_t)nhosts);
        size_t len = fz_reply(&in, mode & FZ_RAW, b, CNIO_WIRE_MAX_CTRL);
        uint8_t *exact = malloc(len + 1);   /* the reply in a buffer of its size */

        FZ_CHECK(exact);
        memcpy(exact, b, len);
        ret = cnio__cl_list_take(&l, exact, len, host);
        FZ_CHECK(ret == 0 || ret == -CNIO_ERR_PROTO);
        free(exact);
    }
    free(b);
    ret = cnio__cl_list_each(&l, nhosts, fz_fn, &w);
    for (size_t i = 0; i < l.n; i++)
        groups += !i || strcmp(l.e[i - 1].name, l.e[i].name);
    want = w.stop && w.stop <= groups ? w.stop : groups;
    FZ_CHECK(w.calls == want);
    FZ_CHECK(ret == (w.stop && w.stop <= groups ? -CNIO_ERR_IO : 0));
    cnio__cl_list_free(&l);
    return 0;
}

/* ---- the seed corpus ----------------------------------------------------------------- */

/* One host's entry of a seed: a name, and a column of an object or a directory. */
struct fz_sent {
    int host;
    const char *name;
    int dir;
    uint32_t count, index, flags, gen;
    uint64_t size;
};

/* Appends the seed's reply of each host (in host order) to out: the raw input. */
static size_t fz_seed_bytes(const struct fz_sent *s, size_t n, int nhosts, uint8_t *out,
                            size_t cap)
{
    size_t used = 1;

    out[0] = (uint8_t)((nhosts - 1) | FZ_RAW);
    for (int h = 0; h < nhosts; h++) {
        size_t at = used + 3, len = 0;

        for (size_t i = 0; i < n; i++) {
            struct cnio_wire_entry e = { .name = s[i].name,
                                         .name_len = (uint32_t)strlen(s[i].name) };
            int k;

            if (s[i].host != h)
                continue;
            e.info.flags = s[i].flags | (s[i].dir ? CNIO_WIRE_I_DIR | (040755u << 16)
                                                  : 0100644u << 16);
            if (!s[i].dir) {
                e.info.stripe_unit = 1u << 20;
                e.info.stripe_count = s[i].count;
                e.info.stripe_index = s[i].index;
                e.info.size = s[i].size;
                e.info.local_size = s[i].size / s[i].count;
                e.info.gen = s[i].gen;
            }
            e.info.mtime_ns = 1700000000000000000ll + (int64_t)i;
            k = cnio__wire_entry_encode(&e, out + at + len, cap - at - len);
            FZ_CHECK(k > 0);
            len += (size_t)k;
        }
        out[used] = (uint8_t)h;
        cnio__put_le16(out + used + 1, (uint16_t)len);
        used = at + len;
    }
    return used;
}

int cnio_fuzz_corpus(const char *dir)
{
    static const struct fz_sent two[] = {
        { 0, "a.dat", 0, 2, 0, 0, 0, 3u << 20 }, { 1, "a.dat", 0, 2, 1, 0, 0, 3u << 20 },
        { 0, "sub", 1, 0, 0, 0, 0, 0 }, { 1, "sub", 1, 0, 0, 0, 0, 0 },
        { 0, "one", 0, 1, 0, 0, 0, 100 },
        { 1, "torn", 0, 2, 1, 0, 5, 10 }, { 0, "torn", 0, 2, 0, 0, 4, 10 },
        { 1, "foreign", 0, 2, 0, 0, 0, 10 }, { 0, "foreign", 0, 2, 1, 0, 0, 10 },
        { 0, "shadow", 0, 1, 0, 0, 0, 10 }, { 1, "shadow", 1, 0, 0, 0, 0, 0 },
        { 0, "up", 0, 2, 0, CNIO_WIRE_I_STAGED, 9, 0 },
        { 0, "busy", 0, 2, 0, CNIO_WIRE_I_PENDING | CNIO_WIRE_I_DIRTY, 0, 5 },
        { 1, "busy", 0, 2, 1, CNIO_WIRE_I_COMMITTING, 0, 5 },
    };
    static const struct fz_sent eight[] = {
        { 0, "wide", 0, 8, 0, 0, 0, 8u << 20 }, { 1, "wide", 0, 8, 1, 0, 0, 8u << 20 },
        { 2, "wide", 0, 8, 2, 0, 0, 8u << 20 }, { 3, "wide", 0, 8, 3, 0, 0, 8u << 20 },
        { 4, "wide", 0, 8, 4, 0, 0, 8u << 20 }, { 5, "wide", 0, 8, 5, 0, 0, 8u << 20 },
        { 6, "wide", 0, 8, 6, 0, 0, 8u << 20 }, { 7, "wide", 0, 8, 7, 0, 0, 8u << 20 },
        { 3, "missing0", 0, 8, 3, 0, 0, 1 }, { 5, "d", 1, 0, 0, 0, 0, 0 },
        { 0, "small", 0, 3, 0, 0, 0, 100 }, { 1, "small", 0, 3, 1, 0, 0, 100 },
    };
    static const struct { const char *name; const struct fz_sent *s; size_t n; int hosts; }
        seeds[] = {
            { "seed-2hosts", two, CNIO_ARRAY_LEN(two), 2 },
            { "seed-1host", two, 5, 1 },
            { "seed-8hosts", eight, CNIO_ARRAY_LEN(eight), 8 },
        };
    static uint8_t buf[65536];

    for (size_t i = 0; i < CNIO_ARRAY_LEN(seeds); i++) {
        char path[4096];
        size_t n = fz_seed_bytes(seeds[i].s, seeds[i].n, seeds[i].hosts, buf, sizeof(buf));
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, seeds[i].name);
        f = fopen(path, "wb");
        if (!f || fwrite(buf, 1, n, f) != n || fclose(f)) {
            fprintf(stderr, "fuzz_list: cannot write %s\n", path);
            return 1;
        }
        LLVMFuzzerTestOneInput(buf, n);   /* and it holds */
    }
    printf("fuzz_list: %zu seeds in %s\n", CNIO_ARRAY_LEN(seeds), dir);
    return 0;
}
