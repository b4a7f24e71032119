/*
 * stage_idx.c - the staged instances a server holds, kept in memory (id and name), so
 * that finding a name's instances (at every COMMIT, which removes the interrupted ones
 * of its name; at STAT, OPEN and LIST of the name) costs no scan of ROOT/.cnio/stage.
 * It is built from that directory at startup (stage.c, cnio__srv_stage_load) and
 * changed where instances are made and removed: stage_create adds, a commit and a
 * discard remove. The files stay the truth for what is saved: every instance found here
 * is checked against them (stage.c), and one whose files went is dropped.
 *
 * What is not saved yet lives here: an instance's metadata file ID.meta is written only
 * once it matters for recovery - when the writer asks for SYNC, releases the instance
 * without committing it (CLOSE, its connection lost, the server stopped), or has
 * written past CNIO_SRV_STAGE_LAZY bytes (a long upload, resumable after a server crash)
 * - and a SETSIZE's size waits here the same way. A commit writes the object's own
 * metadata and removes ID.meta, so a batch upload's small files never write it (a
 * temporary file, a rename and an unlink each). Until it is written, stage.c reads the
 * metadata from here; a server that crashes meanwhile finds the data file without its
 * ID.meta at startup, an upload too young to resume, and removes it.
 */
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cnio__srv_stage_idx_add(struct cnio_srv_store *st, uint64_t id, const char *name,
                            const struct cnio_srv_meta *m, int unsaved)
{
    size_t n = strlen(name);
    struct cnio_srv_staged *s = malloc(sizeof(*s) + n + 1);

    if (!s)
        return -CNIO_ERR_NOMEM;
    s->id = id;
    s->m = *m;
    s->unsaved = unsaved;
    s->on_disk = !unsaved;
    s->prepared = !unsaved;   /* one found at startup may have been prepared before */
    s->torn = 0;
    memcpy(s->name, name, n + 1);
    pthread_mutex_lock(&st->stage_lock);
    s->next = st->staged;
    st->staged = s;
    pthread_mutex_unlock(&st->stage_lock);
    return 0;
}

int cnio__srv_stage_idx_del(struct cnio_srv_store *st, uint64_t id)
{
    struct cnio_srv_staged **pp, *s;
    int knew = 0;

    pthread_mutex_lock(&st->stage_lock);
    for (pp = &st->staged; *pp; pp = &(*pp)->next)
        if ((*pp)->id == id) {
            s = *pp;
            *pp = s->next;
            knew = CNIO_SRV_IDX_FOUND | (s->on_disk ? 0 : CNIO_SRV_IDX_NEVER) |
                   (s->prepared ? CNIO_SRV_IDX_PREPARED : 0);
            free(s);
            break;
        }
    pthread_mutex_unlock(&st->stage_lock);
    return knew;
}

int cnio__srv_stage_idx_ids(struct cnio_srv_store *st, const char *name, uint64_t **ids,
                            size_t *n)
{
    size_t k = 0, cap = 0;
    uint64_t *v = NULL;
    int ret = 0;

    pthread_mutex_lock(&st->stage_lock);
    for (struct cnio_srv_staged *s = st->staged; s && !ret; s = s->next) {
        if (name && strcmp(s->name, name))
            continue;
        if (k == cap) {
            uint64_t *nv = realloc(v, (cap = cap ? cap * 2 : 8) * sizeof(*v));

            if (!nv) {
                ret = -CNIO_ERR_NOMEM;
                break;
            }
            v = nv;
        }
        v[k++] = s->id;
    }
    pthread_mutex_unlock(&st->stage_lock);
    if (ret) {
        free(v);
        return ret;
    }
    *ids = v;
    *n = k;
    return 0;
}

int cnio__srv_stage_idx_live_under(struct cnio_srv_store *st, const char *name,
                                   int (*live)(void *arg, uint64_t id), void *arg)
{
    size_t n = strlen(name), k = 0, cap = 0;
    uint64_t *v = NULL;
    int found = 0;

    pthread_mutex_lock(&st->stage_lock);
    for (struct cnio_srv_staged *s = st->staged; s; s = s->next) {
        if (strncmp(s->name, name, n) || (s->name[n] && s->name[n] != '/'))
            continue;
        if (k == cap) {
            uint64_t *nv = realloc(v, (cap = cap ? cap * 2 : 8) * sizeof(*v));

            if (!nv)
                break;   /* (the ids so far are looked at) */
            v = nv;
        }
        v[k++] = s->id;
    }
    pthread_mutex_unlock(&st->stage_lock);
    for (size_t i = 0; i < k && !found; i++)
        found = live(arg, v[i]);
    free(v);
    return found;
}

void cnio__srv_stage_idx_free(struct cnio_srv_store *st)
{
    while (st->staged) {
        struct cnio_srv_staged *s = st->staged;

        st->staged = s->next;
        free(s);
    }
}

/* Instance id's entry, or NULL (stage_lock held). */
static struct cnio_srv_staged *staged_find(struct cnio_srv_store *st, uint64_t id)
{
    struct cnio_srv_staged *s = st->staged;

    while (s && s->id != id)
        s = s->next;
    return s;
}

int cnio__srv_stage_idx_set_size(struct cnio_srv_store *st, uint64_t id, uint64_t *size,
                                 int grow)
{
    struct cnio_srv_staged *s;

    pthread_mutex_lock(&st->stage_lock);
    s = staged_find(st, id);
    if (s) {
        s->m.size = grow ? CNIO_MAX(s->m.size, *size) : *size;
        s->unsaved = 1;
        *size = s->m.size;
    }
    pthread_mutex_unlock(&st->stage_lock);
    return s ? 0 : -CNIO_ERR_NOENT;
}

void cnio__srv_stage_idx_size(struct cnio_srv_store *st, uint64_t id, uint64_t *size)
{
    struct cnio_srv_staged *s;

    pthread_mutex_lock(&st->stage_lock);
    if ((s = staged_find(st, id)) != NULL)
        *size = s->m.size;
    pthread_mutex_unlock(&st->stage_lock);
}

int cnio__srv_stage_idx_unsaved(struct cnio_srv_store *st, uint64_t id, struct cnio_srv_meta *m,
                                char name[CNIO_WIRE_MAX_NAME + 1])
{
    struct cnio_srv_staged *s;
    int ret;

    pthread_mutex_lock(&st->stage_lock);
    s = staged_find(st, id);
    ret = s && s->unsaved;
    if (ret) {
        *m = s->m;
        if (name)
            snprintf(name, CNIO_WIRE_MAX_NAME + 1, "%s", s->name);
    }
    pthread_mutex_unlock(&st->stage_lock);
    return ret;
}

void cnio__srv_stage_idx_prepared(struct cnio_srv_store *st, uint64_t id)
{
    struct cnio_srv_staged *s;

    pthread_mutex_lock(&st->stage_lock);
    if ((s = staged_find(st, id)) != NULL)
        s->prepared = 1;
    pthread_mutex_unlock(&st->stage_lock);
}

int cnio__srv_stage_idx_torn(struct cnio_srv_store *st, uint64_t id, int set)
{
    struct cnio_srv_staged *s;
    int torn = 0;

    pthread_mutex_lock(&st->stage_lock);
    if ((s = staged_find(st, id)) != NULL) {
        s->torn |= set;
        torn = s->torn;
    }
    pthread_mutex_unlock(&st->stage_lock);
    return torn;
}

int cnio__srv_stage_idx_saved(struct cnio_srv_store *st, uint64_t id, uint64_t size)
{
    struct cnio_srv_staged *s;

    pthread_mutex_lock(&st->stage_lock);
    s = staged_find(st, id);
    if (s) {
        if (s->m.size == size)
            s->unsaved = 0;
        s->on_disk = 1;
    }
    pthread_mutex_unlock(&st->stage_lock);
    return s != NULL;
}
