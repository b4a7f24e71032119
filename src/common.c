/*
 * common.c - error names, errno mapping, clocks.
 */
#include "common.h"

#include <errno.h>
#include <time.h>

static const char *const err_names[CNIO_ERR_MAX_] = {
    [CNIO_SUCCESS] = "success",
    [CNIO_ERR_INVAL] = "invalid argument",
    [CNIO_ERR_NOMEM] = "out of memory",
    [CNIO_ERR_IO] = "I/O error on a remote host",
    [CNIO_ERR_NOENT] = "no such object",
    [CNIO_ERR_EXIST] = "object exists",
    [CNIO_ERR_ACCESS] = "access refused",
    [CNIO_ERR_AUTH] = "authentication failed (wrong key or token)",
    [CNIO_ERR_TIMEOUT] = "remote host did not answer in time",
    [CNIO_ERR_CONN] = "connection reset or lost",
    [CNIO_ERR_PROTO] = "protocol error",
    [CNIO_ERR_URI] = "malformed cnio:// URI",
    [CNIO_ERR_HINT] = "bad hint name or value",
    [CNIO_ERR_LIMIT] = "server limit reached",
    [CNIO_ERR_LAYOUT] = "the object's layout does not match this URI's hosts",
    [CNIO_ERR_RESOLVE] = "host name could not be resolved",
    [CNIO_ERR_KEY] = "key file missing, malformed or readable by others",
    [CNIO_ERR_AMODE] = "bad access mode",
    [CNIO_ERR_MPI] = "MPI call failed",
    [CNIO_ERR_CHECKSUM] = "checksum mismatch: bytes that do not match their CRC32C "
                          "(damaged on a host's disk, or in transit)",
    [CNIO_ERR_NOSPC] = "no space left on a remote host",
    [CNIO_ERR_NOTSUP] = "not supported",
    [CNIO_ERR_ISDIR] = "is a directory",
    [CNIO_ERR_OVERFLOW] = "size or offset out of range",
    [CNIO_ERR_INCOMPLETE] =
        "object is incomplete (being written, or its writer stopped before it finished)",
    [CNIO_ERR_NOT_SAME] = "ranks passed different arguments to a collective call",
    [CNIO_ERR_STALE] = "a remote host no longer knows this open: it restarted, or released "
                       "it; open the file again",
    [CNIO_ERR_REFUSED] = "connection refused",
    [CNIO_ERR_UNREACH] = "host or network unreachable",
};

CNIO_API const char *cnio_strerror(int err)
{
    if (err < 0)
        err = err < -CNIO_ERR_MAX_ ? CNIO_ERR_MAX_ : -err;   /* (INT_MIN has no -) */
    if (err >= CNIO_ERR_MAX_ || !err_names[err])
        return "unknown cnio error";
    return err_names[err];
}

int cnio__err_from_errno(int err)
{
    switch (err) {
    case 0: return 0;
    case ENOENT: case ENOTDIR: return -CNIO_ERR_NOENT;
    case EEXIST: return -CNIO_ERR_EXIST;
    case EACCES: case EPERM: case ELOOP: case EXDEV: case EROFS: return -CNIO_ERR_ACCESS;
    case ENOSPC: case EDQUOT: return -CNIO_ERR_NOSPC;
    case EISDIR: return -CNIO_ERR_ISDIR;
    case EFBIG: case EOVERFLOW: return -CNIO_ERR_OVERFLOW;
    case ENOMEM: return -CNIO_ERR_NOMEM;
    case EINVAL: case ENAMETOOLONG: return -CNIO_ERR_INVAL;
    case ETIMEDOUT: return -CNIO_ERR_TIMEOUT;
    case ECONNREFUSED: case ECONNRESET: case EPIPE: case ENOTCONN: case EHOSTUNREACH:
    case ENETUNREACH: case ECONNABORTED: return -CNIO_ERR_CONN;
    default: return -CNIO_ERR_IO;
    }
}

int cnio__errno_from_err(int err)
{
    switch (err < 0 ? -err : err) {
    case CNIO_SUCCESS: return 0;
    case CNIO_ERR_INVAL: case CNIO_ERR_URI: case CNIO_ERR_HINT: case CNIO_ERR_AMODE: return EINVAL;
    case CNIO_ERR_NOMEM: return ENOMEM;
    case CNIO_ERR_NOENT: return ENOENT;
    case CNIO_ERR_EXIST: return EEXIST;
    case CNIO_ERR_ACCESS: case CNIO_ERR_AUTH: case CNIO_ERR_KEY: return EACCES;
    case CNIO_ERR_TIMEOUT: return ETIMEDOUT;
    case CNIO_ERR_CONN: return ECONNRESET;
    case CNIO_ERR_REFUSED: return ECONNREFUSED;
    case CNIO_ERR_UNREACH: return EHOSTUNREACH;
    case CNIO_ERR_RESOLVE: return EHOSTUNREACH;
    case CNIO_ERR_LIMIT: return EAGAIN;
    case CNIO_ERR_NOSPC: return ENOSPC;
    case CNIO_ERR_NOTSUP: return ENOTSUP;
    case CNIO_ERR_ISDIR: return EISDIR;
    case CNIO_ERR_OVERFLOW: return EOVERFLOW;
    case CNIO_ERR_STALE: return ESTALE;
    default: return EIO;
    }
}

int64_t cnio__ns_of_ts(const struct timespec *ts)
{
    const int64_t lim = INT64_MAX / 1000000000 - 1;

    if (ts->tv_sec > lim)
        return INT64_MAX;
    if (ts->tv_sec < -lim)
        return INT64_MIN;
    return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

struct timespec cnio__ts_of_ns(int64_t ns)
{
    int64_t s = ns / 1000000000, r = ns % 1000000000;

    if (r < 0) {
        r += 1000000000;
        s--;
    }
    return (struct timespec){ .tv_sec = (time_t)s, .tv_nsec = (long)r };
}

int64_t cnio__now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t cnio__now_ms(void)
{
    return cnio__now_ns() / 1000000;
}

const char *cnio__name_problem(const char *name, size_t len)
{
    size_t i = 0;

    if (len == 0)
        return "empty name";
    if (len > CNIO_NAME_MAX)
        return "name longer than 1024 bytes";
    for (size_t k = 0; k < len; k++) {
        unsigned char b = (unsigned char)name[k];

        if (b == 0)
            return "NUL byte in name";
        if (b < 0x20 || b == 0x7f)
            return "control character in name";
    }
    while (i < len) {
        size_t j = i;

        while (j < len && name[j] != '/')
            j++;
        if (j == i)
            return "empty component in name (a leading, doubled or trailing '/')";
        if (name[i] == '.')
            return "names may not start with '.' (in any component)";
        if (j - i > CNIO_NAME_COMPONENT_MAX)
            return "component longer than 255 bytes";
        if (j == len - 1)
            return "empty component in name (a leading, doubled or trailing '/')";
        i = j + 1;
    }
    return NULL;
}
