/*
 * log.c - leveled logging to stderr, one write(2) per line.
 */
#include "common.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static int log_level = -1;
static const char *log_ident = "cnio";
/* This thread's error lines: how many, and the last CNIO_LOG_KEPT (cnio__log_errors) */
static __thread unsigned log_errors;
static __thread char log_kept[CNIO_LOG_KEPT][1024];

static const char *const level_names[] = { "error", "warn", "info", "debug" };

int cnio__log_parse_level(const char *s)
{
    if (!s || !*s)
        return -1;
    for (int i = 0; i < (int)CNIO_ARRAY_LEN(level_names); i++)
        if (!strcasecmp(s, level_names[i]))
            return i;
    if (s[0] >= '0' && s[0] <= '3' && s[1] == '\0')
        return s[0] - '0';
    return -1;
}

void cnio__log_set_level(int level)
{
    log_level = level;
}

int cnio__log_get_level(void)
{
    if (log_level < 0) {
        int l = cnio__log_parse_level(getenv("CNIO_LOG_LEVEL"));
        log_level = l >= 0 ? l : CNIO_LOG_WARN;
    }
    return log_level;
}

void cnio__log_set_ident(const char *ident)
{
    log_ident = ident;
}

size_t cnio__escape_ctl(char *dst, size_t cap, const char *src, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)src[i];
        char e[4];
        size_t k = 0;

        if (b == '\n' || b == '\t') {
            e[k++] = '\\';
            e[k++] = b == '\n' ? 'n' : 't';
        } else if (b < 0x20 || b == 0x7f) {
            e[k++] = '\\';
            e[k++] = 'x';
            e[k++] = hex[b >> 4];
            e[k++] = hex[b & 15];
        } else {
            e[k++] = (char)b;
        }
        if (o + k >= cap)
            break;
        memcpy(dst + o, e, k);
        o += k;
    }
    dst[o] = '\0';
    return o;
}

void cnio__log(int level, const char *fmt, ...)
{
    char msg[1024], line[1024];
    va_list ap;
    int n, m;

    if (level > cnio__log_get_level())
        return;
    n = snprintf(line, sizeof(line), "%s: %s: ", log_ident, level_names[level]);
    va_start(ap, fmt);
    m = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += (int)cnio__escape_ctl(line + n, sizeof(line) - 1 - (size_t)n, msg,
                               CNIO_MIN((size_t)m, sizeof(msg) - 1));
    if (level == CNIO_LOG_ERROR) {
        char *kept = log_kept[log_errors++ % CNIO_LOG_KEPT];

        memcpy(kept, line, (size_t)n);
        kept[n] = '\0';
    }
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, (size_t)n) < 0)
        return;
}

unsigned cnio__log_errors(void)
{
    return log_errors;
}

int cnio__log_said_since(unsigned mark, const char *text)
{
    for (unsigned k = 0; k < CNIO_LOG_KEPT && log_errors - k != mark; k++)
        if (strstr(log_kept[(log_errors - 1 - k) % CNIO_LOG_KEPT], text))
            return 1;
    return 0;
}
