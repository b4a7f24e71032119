/*
 * log.c - leveled logging to stderr, one write(2) per line.
 */
#include "common.h"
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Read by every thread of a process (the MPI-IO library's POSIX calls come from any);
 * unset (-1) until cnio__log_set_level or the first read, from CNIO_LOG_LEVEL. */
static atomic_int log_level = -1;
static int log_stamp;   /* each line begins with the time (cnio__log_set_stamp) */
static const char *log_ident = "cnio";
/* This thread's error lines: how many, and the last CNIO_LOG_KEPT (cnio__log_errors) */
static __thread unsigned log_errors;
static __thread char log_kept[CNIO_LOG_KEPT][1024];
static __thread int log_kept_err[CNIO_LOG_KEPT];   /* the error each says (cnio__log_err) */
/* This thread's lines held back (cnio__log_hold) until cnio__log_release: how many, and
 * each with its newline. A line that finds them all taken writes them out first: held
 * lines are late, never lost, but to a release that drops them. */
#define LOG_HELD 16
static __thread int log_holding;
static __thread unsigned log_nheld;
static __thread char log_held[LOG_HELD][1024];
static __thread unsigned short log_held_len[LOG_HELD];
static __thread unsigned char log_held_err[LOG_HELD];   /* the held line is an error */
/* Error lines written to stderr by every thread (cnio__log_errors_said) */
static atomic_uint log_said;

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
    atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

int cnio__log_get_level(void)
{
    int level = atomic_load_explicit(&log_level, memory_order_relaxed);

    if (level < 0) {
        int unset = -1, l = cnio__log_parse_level(getenv("CNIO_LOG_LEVEL"));

        level = l >= 0 ? l : CNIO_LOG_WARN;
        if (!atomic_compare_exchange_strong_explicit(&log_level, &unset, level,
                                                     memory_order_relaxed, memory_order_relaxed))
            level = unset;   /* set meanwhile by another thread */
    }
    return level;
}

void cnio__log_set_ident(const char *ident)
{
    log_ident = ident;
}

void cnio__log_set_stamp(int on)
{
    log_stamp = on;
}

/* out (cap bytes) = the time now, "2026-12-06T17:05:18.123Z ", then line[0..n): the
 * length, at most cap. */
static size_t log_stamped(char *out, size_t cap, const char *line, size_t n)
{
    struct timespec ts;
    struct tm tm;
    size_t k = 0;

    if (clock_gettime(CLOCK_REALTIME, &ts) == 0 && gmtime_r(&ts.tv_sec, &tm)) {
        k = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
        k += (size_t)snprintf(out + k, cap - k, ".%03ldZ ", ts.tv_nsec / 1000000);
    }
    n = CNIO_MIN(n, cap - k);
    memcpy(out + k, line, n);
    return k + n;
}

int cnio__utf8_len(const unsigned char *p, size_t avail)
{
    int n = p[0] < 0x80 ? 1 : p[0] >= 0xc2 && p[0] <= 0xdf ? 2
          : p[0] >= 0xe0 && p[0] <= 0xef ? 3 : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;

    if ((size_t)n > avail)
        return 0;
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0) ||
        (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))
        return 0;
    return n;
}

size_t cnio__escape_ctl(char *dst, size_t cap, const char *src, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    for (size_t i = 0; i < n;) {
        const unsigned char *p = (const unsigned char *)src + i;
        int len = cnio__utf8_len(p, n - i), ctl = cnio__utf8_ctl(p, len);
        size_t take = len ? (size_t)len : 1, k = 0;
        char e[16];   /* a C1 control's two bytes as \xHH each; else at most 4 */

        for (size_t j = 0; j < take; j++) {
            unsigned char b = p[j];

            if (b == '\n' || b == '\t') {
                e[k++] = '\\';
                e[k++] = b == '\n' ? 'n' : 't';
            } else if (ctl) {
                e[k++] = '\\';
                e[k++] = 'x';
                e[k++] = hex[b >> 4];
                e[k++] = hex[b & 15];
            } else {
                e[k++] = (char)b;
            }
        }
        if (o + k >= cap)
            break;
        memcpy(dst + o, e, k);
        o += k;
        i += take;
    }
    dst[o] = '\0';
    return o;
}

static void log_write_held(void)
{
    for (unsigned i = 0; i < log_nheld; i++) {
        if (log_held_err[i])
            atomic_fetch_add(&log_said, 1);
        if (write(STDERR_FILENO, log_held[i], log_held_len[i]) < 0)
            break;
    }
    log_nheld = 0;
}

/* The line of level (err: the error it says, or 0), written unless quiet (said before). */
static void log_line(int level, int err, int quiet, const char *fmt, va_list ap)
{
    char msg[1024], line[1024], stamped[1024 + 32], *out = line;
    int n, m;

    if (level > cnio__log_get_level())
        return;
    n = snprintf(line, sizeof(line), "%s: %s: ", log_ident, level_names[level]);
    m = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (m < 0)
        m = 0;
    n += (int)cnio__escape_ctl(line + n, sizeof(line) - 1 - (size_t)n, msg,
                               CNIO_MIN((size_t)m, sizeof(msg) - 1));
    if (level == CNIO_LOG_ERROR) {
        char *kept = log_kept[log_errors % CNIO_LOG_KEPT];

        log_kept_err[log_errors++ % CNIO_LOG_KEPT] = err;
        memcpy(kept, line, (size_t)n);
        kept[n] = '\0';
    }
    if (quiet)
        return;
    line[n++] = '\n';
    if (log_stamp) {
        n = (int)log_stamped(stamped, sizeof(stamped), line, (size_t)n);
        out = stamped;
    }
    if (log_holding) {
        if (log_nheld == LOG_HELD)
            log_write_held();
        n = CNIO_MIN(n, (int)sizeof(log_held[0]));
        memcpy(log_held[log_nheld], out, (size_t)n);
        log_held_err[log_nheld] = level == CNIO_LOG_ERROR;
        log_held_len[log_nheld++] = (unsigned short)n;
        return;
    }
    if (level == CNIO_LOG_ERROR)
        atomic_fetch_add(&log_said, 1);
    if (write(STDERR_FILENO, out, (size_t)n) < 0)
        return;
}

void cnio__log(int level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_line(level, 0, 0, fmt, ap);
    va_end(ap);
}

void cnio__log_err(int err, int said_before, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_line(CNIO_LOG_ERROR, err, said_before, fmt, ap);
    va_end(ap);
}

void cnio__log_hold(void)
{
    log_holding = 1;
}

unsigned cnio__log_release(int write_them)
{
    unsigned n = log_nheld;

    if (write_them)
        log_write_held();
    log_nheld = 0;
    log_holding = 0;
    return n;
}

const char *cnio__log_first_since(unsigned mark)
{
    unsigned n = log_errors - mark;

    if (n == 0 || n > CNIO_LOG_KEPT)
        return NULL;
    return log_kept[mark % CNIO_LOG_KEPT] + strlen(log_ident) + strlen(": error: ");
}

unsigned cnio__log_errors_said(void)
{
    return atomic_load(&log_said);
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

int cnio__log_said_err_since(unsigned mark, int err)
{
    for (unsigned k = 0; k < CNIO_LOG_KEPT && log_errors - k != mark; k++)
        if (err && log_kept_err[(log_errors - 1 - k) % CNIO_LOG_KEPT] == err)
            return 1;
    return 0;
}
