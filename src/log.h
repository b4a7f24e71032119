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
/* on = 1: every line begins with the time, in UTC to the millisecond (ISO 8601,
 * "2026-12-06T17:05:18.123Z "), as a daemon's log written to a file needs; 0 (the
 * default): none. */
void cnio__log_set_stamp(int on);
/* Writes one line: the prefix, the level, the message, a newline. Control characters
 * in the message (from a file name, say) are written escaped, \n, \t or \xHH, so that
 * a message is one line and cannot drive the terminal. */
void cnio__log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An error line (as cnio__err) that says why a call fails with err (a negative CNIO_ERR_*
 * code), so that its caller learns it was said from cnio__log_said_err_since, whatever
 * its words. With said_before 1 the line is not written, for it was said earlier in this
 * process (the same failure met again), but it is counted and kept as if written (for
 * cnio__log_errors, cnio__log_said_since, cnio__log_first_since), not in
 * cnio__log_errors_said. */
void cnio__log_err(int err, int said_before, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* How many error lines this thread has written (cnio__log at CNIO_LOG_ERROR) since it
 * began: a caller compares it before and after a call to learn whether the call said
 * why it failed. */
unsigned cnio__log_errors(void);
/* 1 when one of the error lines this thread wrote since cnio__log_errors() returned mark
 * holds text (of the last CNIO_LOG_KEPT of them), else 0. */
int cnio__log_said_since(unsigned mark, const char *text);
#define CNIO_LOG_KEPT 8
/* 1 when one of the error lines this thread wrote (or kept as said before) since
 * cnio__log_errors() returned mark was a cnio__log_err of err (of the last CNIO_LOG_KEPT
 * of them), else 0: the library said why it failed with err. */
int cnio__log_said_err_since(unsigned mark, int err);
/* The error line (of the last CNIO_LOG_KEPT) that this thread wrote first since
 * cnio__log_errors() returned mark, without its "ident: error: " prefix: the cause, where
 * the lines after it say what followed from it. NULL when there is none, or it is no
 * longer kept. Valid until this thread's next error line. */
const char *cnio__log_first_since(unsigned mark);
/*
 * Holds back this thread's lines, whatever their level, until cnio__log_release: for a
 * caller that will try again what fails, whose user should read the words of a try only
 * when it is the last (cnio cp -r). They are counted and kept for cnio__log_errors and
 * cnio__log_said_since as if written. Other threads' lines are written as ever.
 */
void cnio__log_hold(void);
/* Error lines written to standard error so far, by every thread of the process (held
 * lines once written; not those a release dropped): a command compares it before and
 * after its work, so that one whose library said an error does not end as a success. */
unsigned cnio__log_errors_said(void);
/* Ends cnio__log_hold: writes the lines held, in order, when write_them is 1; drops them
 * when it is 0. Returns how many there were. */
unsigned cnio__log_release(int write_them);
/*
 * The length in bytes (1 to 4) of the well-formed UTF-8 sequence at p, of which at most
 * avail bytes (avail >= 1) may be read, or 0 when the bytes there are not one (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF; a sequence cut short by avail
 * or by a NUL is not one). A NUL-terminated string may pass SIZE_MAX.
 */
int cnio__utf8_len(const unsigned char *p, size_t avail);
/* Whether the sequence of n bytes at p (n from cnio__utf8_len) is one a terminal must
 * not be given as it is: a byte that is not UTF-8 (n 0: in an 8-bit locale 0x9b is CSI),
 * a C0 control (below 0x20), DEL, or a C1 control (U+0080 to U+009F, C2 80 to C2 9F). */
static inline int cnio__utf8_ctl(const unsigned char *p, int n)
{
    return n == 0 || p[0] < 0x20 || p[0] == 0x7f || (n == 2 && p[0] == 0xc2 && p[1] < 0xa0);
}
/*
 * Copies src[0..n) into dst (cap bytes, cap >= 1, always NUL-terminated, cut short when
 * full, never inside a UTF-8 sequence) with each byte of a control (cnio__utf8_ctl: C0,
 * DEL, C1, a byte that is not UTF-8) written as \n, \t or \xHH; every other byte, the
 * rest of UTF-8 included, as it is. Returns the length written, without the NUL.
 */
size_t cnio__escape_ctl(char *dst, size_t cap, const char *src, size_t n);

#define cnio__err(...) cnio__log(CNIO_LOG_ERROR, __VA_ARGS__)
#define cnio__warn(...) cnio__log(CNIO_LOG_WARN, __VA_ARGS__)
#define cnio__info(...) cnio__log(CNIO_LOG_INFO, __VA_ARGS__)
#define cnio__debug(...) \
    do { if (cnio__log_get_level() >= CNIO_LOG_DEBUG) cnio__log(CNIO_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif /* CNIO_LOG_H */
