/*
 * client_apart.c - the hosts of an object that hold one generation and still disagree,
 * by their updates in place alone (doc/protocol.md, "Update counts"): an update
 * interrupted on some of them, or a column restored from a backup of another time.
 * Which host to name: the one the counts and a majority of the others single out, or,
 * where they cannot (two hosts), every one, none blamed. What a reader's refusal, the
 * state `cnio stat` shows and a writer in place's warning say, in the same words.
 */
#include "common.h"
#include "client_int.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How many times a reader asks its hosts again (cnio__cl_apart_again): 1 ms before the
 * first time, twice as long before each next, about 130 ms in all. */
#define APART_AGAIN 7

/* Appends to buf (cap bytes, holding *len), as snprintf would; past cap, "..." ends it. */
static void apart_put(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    int k;

    if (*len + 1 >= cap)
        return;
    va_start(ap, fmt);
    k = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (k >= 0 && *len + (size_t)k < cap) {
        *len += (size_t)k;
        return;
    }
    *len = cap - 1;
    if (cap > 4)
        memcpy(buf + cap - 4, "...", 4);
}

/* Appends the hosts j with pick[j] as a list ("A", "A and B", "A, B and C"), each with
 * its count where counts is set. */
static void apart_list(char *buf, size_t cap, size_t *len, const struct cnio__cl_host *hosts,
                       int n, const uint8_t *pick, const uint32_t *upd, int counts)
{
    int total = 0, k = 0;
    char hp[CNIO_HOSTPORT_MAX];

    for (int j = 0; j < n; j++)
        total += pick[j] != 0;
    for (int j = 0; j < n; j++) {
        if (!pick[j])
            continue;
        apart_put(buf, cap, len, "%s%s", k == 0 ? "" : k == total - 1 ? " and " : ", ",
                  cnio__hostport(hp, sizeof(hp), hosts[j].name, hosts[j].port));
        if (counts)
            apart_put(buf, cap, len, " (update %u)", upd[j]);
        k++;
    }
}

/* a comes after b as update counts do, mod 2^16 */
static int apart_after(uint32_t a, uint32_t b)
{
    return (int16_t)(uint16_t)(a - b) > 0;
}

int cnio__cl_apart(const struct cnio__cl_host *hosts, int n, const uint32_t *upd,
                   const uint8_t *role, char *buf, size_t cap)
{
    uint8_t *pick = calloc((size_t)CNIO_MAX(n, 1), 1);
    int nclean = 0, ndirty = 0, npick = 0, agree = 1, first = -1, maj = -1, lead = -1;
    int kind, one = 1;
    size_t len = 0;

    if (!pick)
        return 0;
    if (cap)
        buf[0] = '\0';
    for (int j = 0; j < n; j++) {
        if (role[j] == CNIO__APART_DIRTY)
            ndirty++;
        if (role[j] != CNIO__APART_CLEAN)
            continue;
        nclean++;
        first = first < 0 ? j : first;
        agree &= upd[j] == upd[first];
    }
    /* a count more than half the clean hosts hold */
    for (int j = 0; j < n && maj < 0; j++) {
        int same = 0;

        for (int i = 0; role[j] == CNIO__APART_CLEAN && i < n; i++)
            same += role[i] == CNIO__APART_CLEAN && upd[i] == upd[j];
        if (2 * same > nclean)
            maj = j;
    }
    kind = !nclean || (agree && !ndirty) ? 0 : agree ? CNIO_APART_DIRTY : CNIO_APART_ODD;
    /* interrupted, where each marked host missed that update's count (or the last few,
     * their writers dead mid-close, which a count one behind stands for): else it holds
     * its column as of another time too */
    for (int j = 0; kind == CNIO_APART_DIRTY && j < n; j++)
        if (role[j] == CNIO__APART_DIRTY && upd[j] != upd[first] &&
            upd[j] != ((upd[first] - 1) & 0xffffu))
            kind = CNIO_APART_UNSURE;
    /* restored: the hosts a majority of the others leaves out, each behind them (a backup
     * puts a column back to an earlier update, never a later one) */
    if (kind == CNIO_APART_ODD && maj < 0)
        kind = CNIO_APART_UNSURE;
    for (int j = 0; kind == CNIO_APART_ODD && j < n; j++)
        if (role[j] == CNIO__APART_CLEAN && upd[j] != upd[maj] && !apart_after(upd[maj], upd[j]))
            kind = CNIO_APART_UNSURE;
    for (int j = 0; j < n; j++) {
        pick[j] = kind == CNIO_APART_DIRTY ? role[j] == CNIO__APART_DIRTY
                  : kind == CNIO_APART_ODD ? role[j] == CNIO__APART_CLEAN && upd[j] != upd[maj]
                  : kind == CNIO_APART_UNSURE && role[j] != CNIO__APART_SKIP;
        if (!pick[j])
            continue;
        lead = lead < 0 ? j : lead;   /* the first named */
        one &= upd[j] == upd[lead];
        npick++;
    }
    if (kind == CNIO_APART_DIRTY) {
        apart_put(buf, cap, &len, "an update in place was interrupted on host%s ",
                  npick > 1 ? "s" : "");
        apart_list(buf, cap, &len, hosts, n, pick, upd, 0);
        apart_put(buf, cap, &len, " (its writer, or that server, stopped before it closed it "
                  "there; the other hosts closed it)");
    } else if (kind == CNIO_APART_ODD) {
        apart_put(buf, cap, &len, "host%s ", npick > 1 ? "s" : "");
        apart_list(buf, cap, &len, hosts, n, pick, upd, !one);
        if (one)
            apart_put(buf, cap, &len, " %s as of an earlier update in place (update %u)",
                      npick > 1 ? "hold their columns" : "holds its column", upd[lead]);
        else
            apart_put(buf, cap, &len, " hold their columns as of earlier updates in place");
        apart_put(buf, cap, &len, " than the other hosts (update %u)", upd[maj]);
    } else if (kind == CNIO_APART_UNSURE) {
        apart_put(buf, cap, &len, "hosts ");
        apart_list(buf, cap, &len, hosts, n, pick, upd, 1);
        apart_put(buf, cap, &len, " hold their columns as of different updates in place");
    }
    free(pick);
    return kind;
}

int cnio__cl_apart_gens(const struct cnio__cl_host *hosts, int n, char *buf, size_t cap)
{
    uint32_t *upd = calloc((size_t)CNIO_MAX(n, 1), sizeof(*upd));
    uint8_t *role = calloc((size_t)CNIO_MAX(n, 1), 1);
    int kind = 0, ok = upd && role && n > 1;

    if (cap)
        buf[0] = '\0';
    /* one generation everywhere, each block's count told from it; else nothing to say */
    for (int j = 0; ok && j < n; j++) {
        ok = hosts[j].gen && hosts[j].gen == hosts[0].gen &&
             !(hosts[j].info.flags & (CNIO_WIRE_I_STAGED | CNIO_WIRE_I_COMMITTING |
                                      CNIO_WIRE_I_INPLACE)) &&
             !cnio__wire_gen_updates(hosts[j].info.gen, hosts[j].gen, &upd[j]);
        role[j] = (hosts[j].info.flags & CNIO_WIRE_I_DIRTY) ? CNIO__APART_DIRTY
                                                            : CNIO__APART_CLEAN;
    }
    if (ok)
        kind = cnio__cl_apart(hosts, n, upd, role, buf, cap);
    free(upd);
    free(role);
    return kind;
}

int cnio__cl_apart_alone(const struct cnio_obj *obj, const struct cnio__cl_stat *s,
                         uint32_t state)
{
    uint32_t u;

    if ((obj->oflags & CNIO_WIRE_O_WRITE) || !obj->hosts[0].gen || !(state & CNIO_OBJ_TORN) ||
        (state & (CNIO_OBJ_STAGED | CNIO_OBJ_DIRTY | CNIO_OBJ_PENDING | CNIO_OBJ_INPLACE)))
        return 0;
    for (int j = 0; j < obj->nhosts; j++)
        if (s[j].status || obj->hosts[j].gen != obj->hosts[0].gen ||
            (s[j].info.flags & CNIO_WIRE_I_COMMITTING) ||
            cnio__wire_gen_updates(s[j].info.gen, obj->hosts[j].gen, &u))
            return 0;
    return 1;
}

/* 1 when a STAT of s[0..n) says something the open's replies did not: another count or
 * generation, or a writer in place, an upload or a mark. */
static int apart_moved(const struct cnio_obj *obj, const struct cnio__cl_stat *s, int n)
{
    const uint32_t news = CNIO_WIRE_I_INPLACE | CNIO_WIRE_I_STAGED | CNIO_WIRE_I_PENDING |
                          CNIO_WIRE_I_DIRTY | CNIO_WIRE_I_COMMITTING;

    for (int j = 0; j < n; j++)
        if (s[j].info.gen != obj->hosts[j].info.gen || (s[j].info.flags & news))
            return 1;
    return 0;
}

int cnio__cl_apart_again(struct cnio_obj *obj, struct cnio__cl_stat *s)
{
    long nap_ms = 1, slept_ms = 0;

    cnio__debug("%s: its hosts hold their columns as of different updates in place, and no "
                "writer in place holds it: asking them again (a last writer's close may be "
                "between two of them)", obj->path);
    for (int k = 0; k < APART_AGAIN && slept_ms + nap_ms <= obj->h.timeout_ms; k++) {
        struct timespec ts = { nap_ms / 1000, (nap_ms % 1000) * 1000000L };

        nanosleep(&ts, NULL);
        slept_ms += nap_ms;
        nap_ms *= 2;
        if (cnio__cl_stat_each(obj->st, s, obj->nhosts, obj->path, obj->path, NULL, 0))
            return 0;
        for (int j = 0; j < obj->nhosts; j++)
            if (s[j].status)
                return 0;
        if (apart_moved(obj, s, obj->nhosts))
            return 1;
    }
    return 0;
}
