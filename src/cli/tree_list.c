/*
 * tree_list.c - the lists of entries that `cnio cp -r` walks and copies (tree.h): grown,
 * sorted, searched, and packed to travel between ranks (tree_pwalk.c gathers the
 * directories each rank listed, tree_plan.c spreads the plan). tree_list_unpack is the
 * one parser of those bytes: it takes exactly what tree_list_pack writes
 * (tests/fuzz/fuzz_treelist.c).
 */
#include "tree.h"
#include "wire.h"

#include <stdlib.h>
#include <string.h>

int tree_list_add(struct tree_list *l, const struct tree_ent *e)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        struct tree_ent *ne = realloc(l->e, cap * sizeof(*ne));

        if (!ne)
            return -CNIO_ERR_NOMEM;
        l->e = ne;
        l->cap = cap;
    }
    l->e[l->n++] = *e;
    return 0;
}

void tree_list_free(struct tree_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->e[i].rel);
        free(l->e[i].link);
    }
    free(l->e);
    memset(l, 0, sizeof(*l));
}

static int list_cmp(const void *a, const void *b)
{
    return strcmp(((const struct tree_ent *)a)->rel, ((const struct tree_ent *)b)->rel);
}

void tree_list_sort(struct tree_list *l)
{
    if (l->n)
        qsort(l->e, l->n, sizeof(*l->e), list_cmp);
}

const struct tree_ent *tree_list_find(const struct tree_list *l, const char *rel)
{
    struct tree_ent key = { .rel = (char *)rel };

    return l->n ? bsearch(&key, l->e, l->n, sizeof(*l->e), list_cmp) : NULL;
}

/* Packing: per entry u8 type, u8 incomplete, u32 mode, u32 alloc, u64 size, u64 mtime,
 * u64 dev, u64 ino, u32 from, u32 rel length, rel, u32 link length, link. */
int tree_list_pack(const struct tree_list *l, uint8_t **buf, uint64_t *len)
{
    uint64_t cap = 8, pos = 8;
    uint8_t *b;

    for (size_t i = 0; i < l->n; i++)
        cap += 54 + strlen(l->e[i].rel) + (l->e[i].link ? strlen(l->e[i].link) : 0);
    b = malloc(cap);
    if (!b)
        return -CNIO_ERR_NOMEM;
    cnio__put_le64(b, l->n);
    for (size_t i = 0; i < l->n; i++) {
        const struct tree_ent *e = &l->e[i];
        uint32_t rl = (uint32_t)strlen(e->rel), ll = e->link ? (uint32_t)strlen(e->link) : 0;

        b[pos] = e->type;
        b[pos + 1] = e->incomplete;
        cnio__put_le32(b + pos + 2, e->mode);
        cnio__put_le32(b + pos + 6, e->alloc_kib);
        cnio__put_le64(b + pos + 10, e->size);
        cnio__put_le64(b + pos + 18, (uint64_t)e->mtime_ns);
        cnio__put_le64(b + pos + 26, e->dev);
        cnio__put_le64(b + pos + 34, e->ino);
        cnio__put_le32(b + pos + 42, e->from);
        cnio__put_le32(b + pos + 46, rl);
        memcpy(b + pos + 50, e->rel, rl);
        pos += 50 + rl;
        cnio__put_le32(b + pos, ll);
        if (ll)
            memcpy(b + pos + 4, e->link, ll);
        pos += 4 + ll;
    }
    *buf = b;
    *len = pos;
    return 0;
}

/* A string of the packing: u32 length, then that many bytes, none of them NUL (one would
 * cut the string short, and the entry would name another file than the one listed). */
static char *list_str(const uint8_t *buf, uint64_t len, uint64_t *pos)
{
    uint32_t n;
    char *s;

    if (len - *pos < 4)
        return NULL;
    n = cnio__get_le32(buf + *pos);
    if (len - *pos - 4 < n || memchr(buf + *pos + 4, '\0', n) || !(s = malloc((size_t)n + 1)))
        return NULL;
    memcpy(s, buf + *pos + 4, n);
    s[n] = '\0';
    *pos += 4 + n;
    return s;
}

/* One entry at *pos, its strings malloc'd: 0, or -1 when the bytes are not one that
 * tree_list_pack writes. */
static int list_ent(const uint8_t *buf, uint64_t len, uint64_t *pos, struct tree_ent *e)
{
    const uint8_t *p = buf + *pos;

    memset(e, 0, sizeof(*e));
    if (len - *pos < 46 || p[0] < TREE_FILE || p[0] > TREE_LINK || p[1] > TREE_STATE_LAST)
        return -1;
    e->type = p[0];
    e->incomplete = p[1];
    e->mode = cnio__get_le32(p + 2);
    e->alloc_kib = cnio__get_le32(p + 6);
    e->size = cnio__get_le64(p + 10);
    e->mtime_ns = (int64_t)cnio__get_le64(p + 18);
    e->dev = cnio__get_le64(p + 26);
    e->ino = cnio__get_le64(p + 34);
    e->from = cnio__get_le32(p + 42);
    *pos += 46;
    e->rel = list_str(buf, len, pos);
    e->link = e->rel ? list_str(buf, len, pos) : NULL;
    if (!e->link) {
        free(e->rel);
        return -1;
    }
    if (!e->link[0]) {   /* no link: packed as an empty one */
        free(e->link);
        e->link = NULL;
    }
    return 0;
}

int tree_list_unpack(const uint8_t *buf, uint64_t len, struct tree_list *l)
{
    uint64_t n, pos = 8;

    memset(l, 0, sizeof(*l));
    if (len < 8)
        return -CNIO_ERR_PROTO;
    n = cnio__get_le64(buf);
    for (uint64_t i = 0; i < n; i++) {
        struct tree_ent e;

        if (list_ent(buf, len, &pos, &e))
            goto bad;
        if (tree_list_add(l, &e)) {
            free(e.rel);
            free(e.link);
            goto bad;
        }
    }
    if (pos == len)   /* nothing after the last entry, as pack writes it */
        return 0;
bad:
    tree_list_free(l);
    return -CNIO_ERR_PROTO;
}
