/*
 * fuzz_treelist.c - fuzz target for tree_list_unpack (src/cli/tree_list.c): the lists
 * of entries that the ranks of `cnio cp -r` send each other over MPI (tree_pwalk.c
 * gathers the directories each rank listed, tree_plan.c broadcasts the plan).
 *
 * Properties (abort on violation):
 *   - what unpacks is sane: every entry has a rel, a type of enum tree_type, a state of
 *     enum tree_state or 0, and a link that is NULL or not empty; no string holds a NUL
 *     (one would cut it short, and the entry would name another file);
 *   - it packs back (tree_list_pack) to the very same bytes, which unpack again to the
 *     same list; what fails to unpack leaves an empty list;
 *   - the other way: a list built from the input's bytes (names with any byte but NUL)
 *     packs and unpacks to itself.
 * No leak (ASan), no read outside the input.
 *
 * `fuzz_treelist --corpus DIR` writes the seeds: lists packed by tree_list_pack, as a
 * local walk (files, directories, symlinks) and a remote one (states) leave them.
 */
#include "tree.h"
#include "fuzz_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int cnio_fuzz_corpus(const char *dir);

static int fz_str_same(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static int fz_ent_same(const struct tree_ent *a, const struct tree_ent *b)
{
    return fz_str_same(a->rel, b->rel) && fz_str_same(a->link, b->link) &&
           a->size == b->size && a->mtime_ns == b->mtime_ns && a->mode == b->mode &&
           a->alloc_kib == b->alloc_kib && a->type == b->type &&
           a->incomplete == b->incomplete && a->dev == b->dev && a->ino == b->ino &&
           a->from == b->from;
}

static void fz_same_list(const struct tree_list *a, const struct tree_list *b)
{
    FZ_CHECK(a->n == b->n);
    for (size_t i = 0; i < a->n; i++)
        FZ_CHECK(fz_ent_same(&a->e[i], &b->e[i]));
}

/* Packs l, checks the bytes against want (when not NULL) and that they unpack to l. */
static void fz_roundtrip(const struct tree_list *l, const uint8_t *want, size_t n)
{
    struct tree_list back;
    uint8_t *b = NULL;
    uint64_t len = 0;

    FZ_CHECK(tree_list_pack(l, &b, &len) == 0);
    if (want)
        FZ_CHECK(len == n && !memcmp(b, want, n));
    FZ_CHECK(tree_list_unpack(b, len, &back) == 0);
    fz_same_list(l, &back);
    tree_list_free(&back);
    free(b);
}

static void fz_unpack(const uint8_t *d, size_t n)
{
    struct tree_list l;

    if (tree_list_unpack(d, n, &l)) {
        FZ_CHECK(l.n == 0 && l.e == NULL);
        return;
    }
    for (size_t i = 0; i < l.n; i++) {
        const struct tree_ent *e = &l.e[i];

        FZ_CHECK(e->rel && e->type >= TREE_FILE && e->type <= TREE_LINK &&
                 e->incomplete <= TREE_STATE_LAST && (!e->link || e->link[0]));
    }
    fz_roundtrip(&l, d, n);
    tree_list_free(&l);
}

/* A list built from the input: per entry a byte of type and state, a byte of lengths,
 * then the names' bytes (NUL made 'x') and the numbers. */
static void fz_build(const uint8_t *d, size_t n)
{
    struct tree_list l = { 0 };
    size_t pos = 0;

    while (pos + 2 <= n && l.n < 64) {
        struct tree_ent e = { 0 };
        size_t rl = d[pos + 1] & 15, ll = d[pos + 1] >> 4;

        e.type = (uint8_t)(TREE_FILE + d[pos] % 3);
        e.incomplete = (uint8_t)((d[pos] >> 2) % (TREE_STATE_LAST + 1));
        pos += 2;
        if (pos + rl + ll > n)
            break;
        e.rel = calloc(1, rl + 1);
        e.link = ll ? calloc(1, ll + 1) : NULL;
        FZ_CHECK(e.rel && (!ll || e.link));
        for (size_t k = 0; k < rl; k++)
            e.rel[k] = d[pos + k] ? (char)d[pos + k] : 'x';
        for (size_t k = 0; k < ll; k++)
            e.link[k] = d[pos + rl + k] ? (char)d[pos + rl + k] : 'x';
        pos += rl + ll;
        e.size = (uint64_t)pos * 0x9e3779b97f4a7c15ull;
        e.mtime_ns = -(int64_t)pos;
        e.mode = (uint32_t)(S_IFREG | pos);
        e.from = (uint32_t)l.n;
        FZ_CHECK(tree_list_add(&l, &e) == 0);
    }
    fz_roundtrip(&l, NULL, 0);
    tree_list_free(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_unpack(data, size);
    fz_build(data, size);
    return 0;
}

/* ---- the seed corpus ----------------------------------------------------------------- */

static const struct tree_ent fz_ents[] = {
    { "a", NULL, 12, 1700000000000000000ll, S_IFREG | 0644, 4, TREE_FILE, 0, 0, 0, 0 },
    { "d", NULL, 0, 1600000000123456789ll, S_IFDIR | 0755, 0, TREE_DIR, 0, 2049, 131, 0 },
    { "d/link", "../a", 4, 0, S_IFLNK | 0777, 0, TREE_LINK, 0, 0, 0, 1 },
    { "d/sparse.bin", NULL, 1ull << 40, -1000000000ll, S_IFREG | 0600, 8, TREE_FILE, 0, 0, 0,
      1 },
    { "remote/torn.h5", NULL, 4096, 5, S_IFREG | 0644, 0, TREE_FILE, TREE_INCOMPLETE, 0, 0, 2 },
    { "remote/settling", NULL, 1, 6, S_IFREG | 0644, 0, TREE_FILE, TREE_SETTLING, 0, 0, 2 },
    { "remote/dir", NULL, 0, 7, S_IFDIR | 0755, 0, TREE_DIR, TREE_SHADOWED_FOREIGN, 0, 0, 2 },
    { "remote/link", NULL, 9, 8, S_IFLNK | 0777, 0, TREE_LINK, TREE_FOREIGN, 0, 0, 2 },
    { "with space/ütf8 ñame", NULL, 3, 9, S_IFREG | 0644, 4, TREE_FILE, TREE_SHADOWED, 0, 0, 3 },
};

static int fz_seed(const char *dir, const char *name, size_t from, size_t count)
{
    struct tree_list l = { 0 };
    char path[4096];
    uint8_t *b = NULL;
    uint64_t len = 0;
    FILE *f;
    int bad;

    for (size_t i = from; i < from + count; i++) {
        struct tree_ent e = fz_ents[i];

        e.rel = strdup(e.rel);
        e.link = e.link ? strdup(e.link) : NULL;
        if (!e.rel || tree_list_add(&l, &e))
            return 1;
    }
    bad = tree_list_pack(&l, &b, &len);
    tree_list_free(&l);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = bad ? NULL : fopen(path, "wb");
    bad = !f || fwrite(b, 1, (size_t)len, f) != (size_t)len;
    if (f && fclose(f))
        bad = 1;
    free(b);
    if (bad)
        fprintf(stderr, "fuzz_treelist: cannot write %s\n", path);
    return bad;
}

int cnio_fuzz_corpus(const char *dir)
{
    if (fz_seed(dir, "seed-empty", 0, 0) || fz_seed(dir, "seed-one-file", 0, 1) ||
        fz_seed(dir, "seed-local", 0, 4) || fz_seed(dir, "seed-remote", 4, 4) ||
        fz_seed(dir, "seed-all", 0, CNIO_ARRAY_LEN(fz_ents)))
        return 1;
    printf("fuzz_treelist: seeds in %s\n", dir);
    return 0;
}
