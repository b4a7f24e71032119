/*
 * log.h - leveled logging to stderr, for the library, cnio-server and the cnio command.
 * The level comes from cnio__log_set_level() or, for the library, $CNIO_LOG_LEVEL
 * (error, warn, info, debug; default warn). Thread-safe: one line per call.
 */
#ifndef CNIO_LOG_H
#define CNIO_LOG_H

enum cnio_log_level { CNIO_LOG_ERROR = 0, CNIO_LOG_WARN, CNIO_LOG_INFO, CNIO_LOG_DEBUG };

/* Parses "error", "warn", "info", "debug" (or 0..3): the level, or -1. */
int cnio__log_parse_level(const char *s);
void cnio__log_set_level(int level);
int cnio__log_get_level(void);
/* Prefix printed before every line, e.g. "cnio-server" (default "cnio"). */
void cnio__log_set_ident(const char *ident);
void cnio__log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define cnio__err(...) cnio__log(CNIO_LOG_ERROR, __VA_ARGS__)
#define cnio__warn(...) cnio__log(CNIO_LOG_WARN, __VA_ARGS__)
#define cnio__info(...) cnio__log(CNIO_LOG_INFO, __VA_ARGS__)
#define cnio__debug(...) \
    do { if (cnio__log_get_level() >= CNIO_LOG_DEBUG) cnio__log(CNIO_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif /* CNIO_LOG_H */
