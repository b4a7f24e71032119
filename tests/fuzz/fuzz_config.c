/*
 * fuzz_config.c - fuzz target for what src/uri.c and src/config.c parse from users: URIs
 * (hosts, ports, percent-escapes, the name rules), URI queries, hint values and sizes.
 *
 * The input is split at its first two NUL bytes into up to three strings: a URI
 * (prefixed with "cnio://" when the first byte is even, so that most inputs get past the
 * scheme), a hint name and a hint value. Properties checked (abort on violation):
 *   - a URI that parses has 1..CNIO_MAX_HOSTS hosts with names and nonzero ports, and
 *     a path that is "" or obeys every name rule (cnio__name_problem), no longer than
 *     the input (decoding only shortens);
 *   - a refused URI says why (cnio__uri_why);
 *   - hints that are set can be listed and set again to the same values.
 * With -DCNIO_LIBFUZZER it is a libFuzzer target; otherwise replay.c's main replays files.
 */
#include "common.h"
#include "config.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fz_set_again(const char *name, const char *value, void *arg)
{
    return cnio__hints_set(arg, name, value) < 0 ? -1 : 0;
}

static void fz_uri(const char *s, size_t raw_len)
{
    struct cnio_uri u;
    int ret = cnio__uri_parse(s, &u);

    if (ret == -CNIO_ERR_URI) {
        if (!cnio__uri_why() || !*cnio__uri_why())
            abort();
        return;
    }
    if (ret)
        return;   /* out of memory */
    if (u.nhosts < 1 || u.nhosts > CNIO_MAX_HOSTS)
        abort();
    for (int i = 0; i < u.nhosts; i++)
        if (!u.hosts[i].port || !u.hosts[i].name[0])
            abort();
    if (strlen(u.path) > raw_len ||
        (u.path[0] && cnio__name_problem(u.path, strlen(u.path))))
        abort();
    {
        struct cnio_hints h, again;

        cnio__hints_default(&h);
        if (cnio__hints_from_query(&h, u.query) == 0) {
            cnio__hints_default(&again);
            if (cnio__hints_foreach(&h, fz_set_again, &again) ||
                memcmp(&h, &again, sizeof(h)))
                abort();
        }
    }
    cnio__uri_free(&u);
}

/* The string after the one at s, when it starts before end. */
static const char *fz_next(const char *s, const char *end)
{
    const char *n = s ? s + strlen(s) + 1 : NULL;

    return n && n < end ? n : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    char *buf = malloc(size + 8);
    const char *end, *name, *value;
    struct cnio_hints h, again;
    size_t len = 0;
    uint64_t v;

    if (!quiet) {
        cnio__log_set_level(CNIO_LOG_ERROR);
        quiet = 1;
    }
    if (!buf)
        return 0;
    if (size && !(data[0] & 1)) {   /* most inputs: a cnio:// URI */
        memcpy(buf, "cnio://", 7);
        len = 7;
        data++;
        size--;
    }
    memcpy(buf + len, data, size);
    len += size;
    buf[len] = '\0';
    end = buf + len;
    fz_uri(buf, strlen(buf));
    name = fz_next(buf, end);
    value = fz_next(name, end);
    if (name && value) {
        cnio__hints_default(&h);
        if (cnio__hints_set(&h, name, value) == 0) {
            cnio__hints_default(&again);
            if (cnio__hints_foreach(&h, fz_set_again, &again) || memcmp(&h, &again, sizeof(h)))
                abort();
        }
        cnio__parse_size(value, &v);
    }
    free(buf);
    return 0;
}
