/*
 * auth.c - key files and the HMAC-SHA256 challenge-response of auth.h.
 *
 * A key is the raw content of its key file (a trailing newline stripped): cnio keys are
 * generated as 64 hex characters, and both sides feed those characters to HMAC as they
 * are. Every MAC is compared in constant time, and every secret that passes through a
 * stack buffer is wiped before the function returns.
 */
#include "common.h"
#include "auth.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#define AUTH_LABEL_CLIENT "cnio-auth-v1"
#define AUTH_LABEL_SERVER "cnio-server-v1"
#define AUTH_LABEL_TOKEN "cnio-token-v1"
#define AUTH_SYSTEM_KEY "/etc/cnio/key"
#define AUTH_HOME_KEY "/.cnio/key"
#define AUTH_GEN_BYTES 32

/* Writes a followed by b into buf[cap]: 1 when it fit, 0 when it did not. */
static int auth_copy(char *buf, size_t cap, const char *a, const char *b)
{
    int n = snprintf(buf, cap, "%s%s", a, b);

    return n >= 0 && (size_t)n < cap;
}

int cnio__key_path(const char *path, char *buf, size_t cap)
{
    const char *home = getenv("HOME");
    int have_home = home && *home;

    if (!buf || cap == 0)
        return -CNIO_ERR_INVAL;
    if (!path || !*path) {
        const char *env = getenv("CNIO_KEY_FILE");

        path = (env && *env) ? env : NULL;
    }
    if (!path) {
        if (!have_home)
            return auth_copy(buf, cap, AUTH_SYSTEM_KEY, "") ? 0 : -CNIO_ERR_INVAL;
        return auth_copy(buf, cap, home, AUTH_HOME_KEY) ? 0 : -CNIO_ERR_INVAL;
    }
    if (path[0] == '~' && (path[1] == '/' || path[1] == '\0')) {
        if (!have_home)
            return -CNIO_ERR_INVAL;
        return auth_copy(buf, cap, home, path + 1) ? 0 : -CNIO_ERR_INVAL;
    }
    return auth_copy(buf, cap, path, "") ? 0 : -CNIO_ERR_INVAL;
}

/* Refuses anything but a regular file owned by us with no group or other bits. */
static int auth_key_check_stat(int fd, const char *file)
{
    struct stat st;
    unsigned mode;

    if (fstat(fd, &st)) {
        cnio__err("key file %s: cannot stat: %s", file, strerror(errno));
        return -CNIO_ERR_KEY;
    }
    mode = (unsigned)st.st_mode & 07777;
    if (!S_ISREG(st.st_mode)) {
        cnio__err("key file %s: not a regular file", file);
        return -CNIO_ERR_KEY;
    }
    if (st.st_uid != geteuid()) {
        cnio__err("key file %s: owned by uid %u, not by this user (uid %u)", file,
                  (unsigned)st.st_uid, (unsigned)geteuid());
        return -CNIO_ERR_KEY;
    }
    if (mode & 077) {
        cnio__err("key file %s: %s by group or others (mode %04o); chmod 600 it", file,
                  (mode & 044) ? "readable" : "accessible", mode);
        return -CNIO_ERR_KEY;
    }
    return 0;
}

/* Reads the key bytes (at most CNIO_KEY_MAX plus one newline) from fd. */
static int auth_key_read(int fd, const char *file, struct cnio_key *key)
{
    uint8_t buf[CNIO_KEY_MAX + 2];
    size_t len = 0;
    int ret = 0;

    while (len < sizeof(buf)) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            cnio__err("key file %s: cannot read: %s", file, strerror(errno));
            ret = -CNIO_ERR_KEY;
            goto wipe;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (len < CNIO_KEY_MIN) {
        cnio__err("key file %s: key too short (%zu bytes; at least %d)", file, len, CNIO_KEY_MIN);
        ret = -CNIO_ERR_KEY;
        goto wipe;
    }
    if (len > CNIO_KEY_MAX) {
        cnio__err("key file %s: key too long (more than %d bytes)", file, CNIO_KEY_MAX);
        ret = -CNIO_ERR_KEY;
        goto wipe;
    }
    memcpy(key->bytes, buf, len);
    key->len = len;
wipe:
    OPENSSL_cleanse(buf, sizeof(buf));
    return ret;
}

/*
 * What the error of a key file that cannot be opened (errno err) adds: CNIO_KEY_FILE when
 * the name is its (path is empty, or its value: hints read the variable as theirs), nothing
 * for another path, and for the default that does not exist how to name one (a client on
 * a host whose servers were given /etc/cnio/key read ~/.cnio/key, and was told only that
 * it cannot be opened).
 */
static const char *auth_key_whence(const char *path, int err)
{
    const char *env = getenv("CNIO_KEY_FILE");

    if (env && *env && (!path || !*path || !strcmp(path, env)))   /* hints take it as theirs */
        return " (named by CNIO_KEY_FILE)";
    if (path && *path)
        return "";
    if (err != ENOENT)
        return " (the default key file)";
    return " (the default key file, as no key was named: name the servers' key with --key "
           "FILE or CNIO_KEY_FILE (an MPI program: the hint cnio_key_file), or copy it "
           "there; cnio keygen FILE writes a new one)";
}

int cnio__key_load(const char *path, struct cnio_key *key)
{
    char file[PATH_MAX];
    int fd, ret;

    if (!key)
        return -CNIO_ERR_INVAL;
    memset(key, 0, sizeof(*key));
    if (cnio__key_path(path, file, sizeof(file))) {
        cnio__err("key file %s: path too long, or ~ used with HOME unset",
                  path && *path ? path : "(default)");
        return -CNIO_ERR_KEY;
    }
    fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int err = errno;

        cnio__err("key file %s: cannot open: %s%s", file, strerror(err),
                  auth_key_whence(path, err));
        return -CNIO_ERR_KEY;
    }
    ret = auth_key_check_stat(fd, file);
    if (ret)
        goto close_fd;
    ret = auth_key_read(fd, file, key);
close_fd:
    close(fd);
    return ret;
}

/* Creates the directory holding file (mode 0700) when it does not exist and is the
 * default key's, $HOME/.cnio (whatever file in it is asked for); any other missing
 * directory is an error (as with ssh-keygen: a mistyped path makes no directories). */
static int auth_make_parent(const char *file)
{
    char dir[PATH_MAX], dflt[PATH_MAX];
    char *slash;
    struct stat sb;

    if (!auth_copy(dir, sizeof(dir), file, ""))
        return -CNIO_ERR_INVAL;
    slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    if (stat(dir, &sb) == 0 || errno != ENOENT)
        return 0;   /* the open says what is wrong, if anything */
    if (cnio__key_path("~" AUTH_HOME_KEY, dflt, sizeof(dflt)) ||
        strncmp(dflt, dir, strlen(dir)) || strcmp(dflt + strlen(dir), "/key")) {
        cnio__err("key file %s: directory %s does not exist", file, dir);
        return -CNIO_ERR_NOENT;
    }
    if (mkdir(dir, 0700) && errno != EEXIST) {
        cnio__err("key file %s: cannot create directory %s: %s", file, dir, strerror(errno));
        return cnio__err_from_errno(errno);
    }
    return 0;
}

static int auth_write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Writes text to the new key file fd, makes it durable and closes fd. */
static int auth_key_write(int fd, const char *file, const char *text, size_t len)
{
    int ret = 0;

    if (fchmod(fd, 0600) || auth_write_all(fd, text, len) || fsync(fd)) {
        ret = errno == ENOSPC ? -CNIO_ERR_NOSPC : -CNIO_ERR_IO;
        cnio__err("key file %s: cannot write: %s", file, strerror(errno));
        close(fd);
        return ret;
    }
    if (close(fd)) {
        cnio__err("key file %s: cannot write: %s", file, strerror(errno));
        ret = -CNIO_ERR_IO;
    }
    return ret;
}

int cnio__key_generate(const char *path)
{
    static const char hexdig[] = "0123456789abcdef";
    uint8_t raw[AUTH_GEN_BYTES];
    char text[2 * AUTH_GEN_BYTES + 1];
    char file[PATH_MAX];
    int fd, ret, to_stdout = path && !strcmp(path, "-");

    if (!to_stdout && cnio__key_path(path, file, sizeof(file)))
        return -CNIO_ERR_INVAL;
    ret = to_stdout ? 0 : auth_make_parent(file);
    if (ret)
        return ret;
    ret = cnio__random(raw, sizeof(raw));
    if (ret)
        goto wipe;
    for (size_t i = 0; i < sizeof(raw); i++) {
        text[2 * i] = hexdig[raw[i] >> 4];
        text[2 * i + 1] = hexdig[raw[i] & 0xf];
    }
    text[2 * AUTH_GEN_BYTES] = '\n';
    if (to_stdout) {   /* (as `wg genkey` does: for a pipe, e.g. to ssh) */
        ret = auth_write_all(STDOUT_FILENO, text, sizeof(text)) ? -CNIO_ERR_IO : 0;
        if (ret)
            cnio__err("key: cannot write it to standard output: %s", strerror(errno));
        goto wipe;
    }
    fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        ret = cnio__err_from_errno(errno);
        cnio__err("key file %s: cannot create: %s", file, strerror(errno));
        goto wipe;
    }
    ret = auth_key_write(fd, file, text, sizeof(text));
    if (ret)
        unlink(file);
wipe:
    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(text, sizeof(text));
    return ret;
}

void cnio__key_wipe(struct cnio_key *key)
{
    if (key)
        OPENSSL_cleanse(key, sizeof(*key));
}

int cnio__random(void *buf, size_t len)
{
    uint8_t *p = buf;

    while (len) {
        int n = len > INT_MAX ? INT_MAX : (int)len;

        if (RAND_bytes(p, n) != 1)
            return -CNIO_ERR_IO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* mac = HMAC-SHA256(k, msg): 0, -CNIO_ERR_INVAL (no key) or -CNIO_ERR_IO (libcrypto). */
static int auth_hmac(const uint8_t *k, size_t klen, const uint8_t *msg, size_t len,
                     uint8_t mac[CNIO_WIRE_MAC])
{
    unsigned int maclen = 0;

    if (!k || klen == 0 || klen > INT_MAX)
        return -CNIO_ERR_INVAL;
    if (!HMAC(EVP_sha256(), k, (int)klen, msg, len, mac, &maclen) || maclen != CNIO_WIRE_MAC)
        return -CNIO_ERR_IO;
    return 0;
}

int cnio__auth_token(const struct cnio_key *key, uint64_t object, uint32_t rank,
                     uint8_t token[CNIO_WIRE_MAC])
{
    uint8_t msg[sizeof(AUTH_LABEL_TOKEN) - 1 + 12];
    size_t n = sizeof(AUTH_LABEL_TOKEN) - 1;

    if (!key || key->len > CNIO_KEY_MAX)
        return -CNIO_ERR_INVAL;
    memcpy(msg, AUTH_LABEL_TOKEN, n);
    cnio__put_le64(msg + n, object);
    cnio__put_le32(msg + n + 8, rank);
    return auth_hmac(key->bytes, key->len, msg, sizeof(msg), token);
}

int cnio__auth_client_mac(const uint8_t *k, size_t klen, const uint8_t ns[CNIO_WIRE_NONCE],
                          const struct cnio_wire_auth *a, uint8_t mac[CNIO_WIRE_MAC])
{
    uint8_t msg[sizeof(AUTH_LABEL_CLIENT) - 1 + 2 * CNIO_WIRE_NONCE + 16];
    uint8_t *p = msg;

    memcpy(p, AUTH_LABEL_CLIENT, sizeof(AUTH_LABEL_CLIENT) - 1);
    p += sizeof(AUTH_LABEL_CLIENT) - 1;
    memcpy(p, ns, CNIO_WIRE_NONCE);
    p += CNIO_WIRE_NONCE;
    memcpy(p, a->nonce, CNIO_WIRE_NONCE);
    p += CNIO_WIRE_NONCE;
    cnio__put_le32(p, a->mode);
    cnio__put_le32(p + 4, a->rank);
    cnio__put_le64(p + 8, a->object);
    return auth_hmac(k, klen, msg, sizeof(msg), mac);
}

int cnio__auth_server_mac(const uint8_t *k, size_t klen, const uint8_t nc[CNIO_WIRE_NONCE],
                          const uint8_t ns[CNIO_WIRE_NONCE], uint8_t mac[CNIO_WIRE_MAC])
{
    uint8_t msg[sizeof(AUTH_LABEL_SERVER) - 1 + 2 * CNIO_WIRE_NONCE];
    size_t n = sizeof(AUTH_LABEL_SERVER) - 1;

    memcpy(msg, AUTH_LABEL_SERVER, n);
    memcpy(msg + n, nc, CNIO_WIRE_NONCE);
    memcpy(msg + n + CNIO_WIRE_NONCE, ns, CNIO_WIRE_NONCE);
    return auth_hmac(k, klen, msg, sizeof(msg), mac);
}

int cnio__auth_respond(const uint8_t *k, size_t klen, const struct cnio_wire_challenge *c,
                       uint32_t mode, uint32_t rank, uint64_t object, struct cnio_wire_auth *a)
{
    int ret;

    if (mode != CNIO_WIRE_AUTH_KEY && mode != CNIO_WIRE_AUTH_TOKEN)
        return -CNIO_ERR_INVAL;
    memset(a, 0, sizeof(*a));
    a->mode = mode;
    a->rank = rank;
    a->object = object;
    ret = cnio__random(a->nonce, sizeof(a->nonce));
    if (ret)
        return ret;
    return cnio__auth_client_mac(k, klen, c->nonce, a, a->mac);
}

int cnio__auth_check_server(const uint8_t *k, size_t klen, const struct cnio_wire_auth *a,
                            const struct cnio_wire_challenge *c, const uint8_t mac[CNIO_WIRE_MAC])
{
    uint8_t expect[CNIO_WIRE_MAC];
    int ret;

    ret = cnio__auth_server_mac(k, klen, a->nonce, c->nonce, expect);
    if (ret)
        return ret;
    ret = CRYPTO_memcmp(expect, mac, CNIO_WIRE_MAC) ? -CNIO_ERR_AUTH : 0;
    OPENSSL_cleanse(expect, sizeof(expect));
    return ret;
}

int cnio__auth_verify(const struct cnio_key *key, const uint8_t ns[CNIO_WIRE_NONCE],
                      const struct cnio_wire_auth *a, uint8_t mac_out[CNIO_WIRE_MAC])
{
    uint8_t token[CNIO_WIRE_MAC];
    uint8_t expect[CNIO_WIRE_MAC];
    const uint8_t *k = key->bytes;
    size_t klen = key->len;
    int ret;

    if (key->len < CNIO_KEY_MIN || key->len > CNIO_KEY_MAX)
        return -CNIO_ERR_AUTH;
    if (a->mode == CNIO_WIRE_AUTH_TOKEN) {
        ret = cnio__auth_token(key, a->object, a->rank, token);
        if (ret)
            goto wipe;
        k = token;
        klen = sizeof(token);
    } else if (a->mode != CNIO_WIRE_AUTH_KEY) {
        return -CNIO_ERR_AUTH;
    }
    ret = cnio__auth_client_mac(k, klen, ns, a, expect);
    if (ret)
        goto wipe;
    if (CRYPTO_memcmp(expect, a->mac, CNIO_WIRE_MAC)) {
        ret = -CNIO_ERR_AUTH;
        goto wipe;
    }
    ret = cnio__auth_server_mac(k, klen, a->nonce, ns, mac_out);
wipe:
    OPENSSL_cleanse(token, sizeof(token));
    OPENSSL_cleanse(expect, sizeof(expect));
    return ret;
}
