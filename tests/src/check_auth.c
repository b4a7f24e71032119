/*
 * check_auth.c - key files (generation, loading, refusals) and the HMAC
 * challenge-response in both modes, including replayed and tampered messages.
 */
#include "common.h"
#include "auth.h"
#include "log.h"

#include "fixture.h"
#include <check.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];

static void tmp_setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_auth.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void tmp_teardown(void)
{
    char cmd[PATH_MAX + 16];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static char *tmp_path(const char *name, char *buf)
{
    snprintf(buf, PATH_MAX, "%s/%s", tmpdir, name);
    return buf;
}

/* Writes len bytes of content to a new file with the given mode (set with chmod). */
static void write_file(const char *path, const void *content, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, content, len), (ssize_t)len);
    ck_assert_int_eq(close(fd), 0);
    ck_assert_int_eq(chmod(path, mode), 0);
}

/* Runs cnio__key_load with stderr captured into msg[cap]. */
static int load_capture(const char *path, struct cnio_key *key, char *msg, size_t cap)
{
    char logf[PATH_MAX];
    int fd, saved, ret;
    ssize_t n;

    fd = open(tmp_path("stderr.log", logf), O_RDWR | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    saved = dup(2);
    dup2(fd, 2);
    ret = cnio__key_load(path, key);
    dup2(saved, 2);
    close(saved);
    n = pread(fd, msg, cap - 1, 0);
    msg[n > 0 ? n : 0] = '\0';
    close(fd);
    return ret;
}

START_TEST(test_key_generate_load)
{
    char path[PATH_MAX], dir[PATH_MAX];
    struct cnio_key key;
    struct stat st;

    /* a missing directory is an error (only ~/.cnio is made: test_key_path) */
    tmp_path("sub/key", path);
    ck_assert_int_eq(cnio__key_generate(path), -CNIO_ERR_NOENT);
    ck_assert_int_eq(stat(tmp_path("sub", dir), &st), -1);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    ck_assert_int_eq(cnio__key_generate(path), 0);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0600);
    ck_assert_int_eq(st.st_size, 65);
    ck_assert_int_eq(cnio__key_load(path, &key), 0);
    ck_assert_uint_eq(key.len, 64);
    for (size_t i = 0; i < key.len; i++)
        ck_assert(strchr("0123456789abcdef", key.bytes[i]) != NULL);
    ck_assert_int_eq(cnio__key_generate(path), -CNIO_ERR_EXIST);
    cnio__key_wipe(&key);
    ck_assert_uint_eq(key.len, 0);
    ck_assert_uint_eq(key.bytes[0], 0);

    /* Two generated keys differ. */
    {
        char path2[PATH_MAX];
        struct cnio_key k1, k2;

        ck_assert_int_eq(cnio__key_generate(tmp_path("sub/key2", path2)), 0);
        ck_assert_int_eq(cnio__key_load(path, &k1), 0);
        ck_assert_int_eq(cnio__key_load(path2, &k2), 0);
        ck_assert_int_ne(memcmp(k1.bytes, k2.bytes, 64), 0);
    }
}
END_TEST

START_TEST(test_key_refusals)
{
    char path[PATH_MAX], msg[2048];
    char big[CNIO_KEY_MAX + 2];
    struct cnio_key key;

    memset(big, 'k', sizeof(big));
    write_file(tmp_path("k644", path), "0123456789abcdef0123\n", 21, 0644);
    ck_assert_int_eq(load_capture(path, &key, msg, sizeof(msg)), -CNIO_ERR_KEY);
    ck_assert_msg(strstr(msg, path) && strstr(msg, "0644") && strstr(msg, "chmod 600"),
                  "message: %s", msg);
    ck_assert_int_eq(chmod(path, 0640), 0);
    ck_assert_int_eq(cnio__key_load(path, &key), -CNIO_ERR_KEY);
    ck_assert_int_eq(chmod(path, 0602), 0);
    ck_assert_int_eq(cnio__key_load(path, &key), -CNIO_ERR_KEY);
    ck_assert_int_eq(chmod(path, 0400), 0);
    ck_assert_int_eq(cnio__key_load(path, &key), 0);
    ck_assert_uint_eq(key.len, 20);

    write_file(tmp_path("short", path), "0123456789abcde\n", 16, 0600);
    ck_assert_int_eq(load_capture(path, &key, msg, sizeof(msg)), -CNIO_ERR_KEY);
    ck_assert_msg(strstr(msg, path) && strstr(msg, "short"), "message: %s", msg);
    write_file(tmp_path("min", path), "0123456789abcdef", 16, 0600);
    ck_assert_int_eq(cnio__key_load(path, &key), 0);
    ck_assert_uint_eq(key.len, 16);
    write_file(tmp_path("max", path), big, CNIO_KEY_MAX, 0600);
    ck_assert_int_eq(cnio__key_load(path, &key), 0);
    ck_assert_uint_eq(key.len, CNIO_KEY_MAX);
    big[CNIO_KEY_MAX] = '\n';
    write_file(tmp_path("maxnl", path), big, CNIO_KEY_MAX + 1, 0600);
    ck_assert_int_eq(cnio__key_load(path, &key), 0);
    ck_assert_uint_eq(key.len, CNIO_KEY_MAX);
    big[CNIO_KEY_MAX] = 'k';
    write_file(tmp_path("long", path), big, CNIO_KEY_MAX + 1, 0600);
    ck_assert_int_eq(cnio__key_load(path, &key), -CNIO_ERR_KEY);
    write_file(tmp_path("empty", path), "", 0, 0600);
    ck_assert_int_eq(cnio__key_load(path, &key), -CNIO_ERR_KEY);

    ck_assert_int_eq(load_capture(tmp_path("missing", path), &key, msg, sizeof(msg)),
                     -CNIO_ERR_KEY);
    ck_assert_msg(strstr(msg, path) != NULL, "message: %s", msg);
    ck_assert_int_eq(cnio__key_load(tmpdir, &key), -CNIO_ERR_KEY);
    ck_assert_int_eq(mkfifo(tmp_path("fifo", path), 0600), 0);
    ck_assert_int_eq(cnio__key_load(path, &key), -CNIO_ERR_KEY);
}
END_TEST

START_TEST(test_key_foreign_owner)
{
    char path[PATH_MAX];
    struct cnio_key key;

    if (geteuid() != 0)
        return;
    write_file(tmp_path("foreign", path), "0123456789abcdef0123", 20, 0600);
    ck_assert_int_eq(chown(path, 12345, 12345), 0);
    ck_assert_int_eq(cnio__key_load(path, &key), -CNIO_ERR_KEY);
}
END_TEST

START_TEST(test_key_path)
{
    char buf[PATH_MAX], path[PATH_MAX];
    struct cnio_key key;
    struct stat st;

    unsetenv("CNIO_KEY_FILE");
    setenv("HOME", "/home/someone", 1);
    ck_assert_int_eq(cnio__key_path("/x/key", buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "/x/key");
    ck_assert_int_eq(cnio__key_path(NULL, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "/home/someone/.cnio/key");
    ck_assert_int_eq(cnio__key_path("~/k", buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "/home/someone/k");
    setenv("CNIO_KEY_FILE", "/env/key", 1);
    ck_assert_int_eq(cnio__key_path("", buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "/env/key");
    ck_assert_int_eq(cnio__key_path("/x/key", buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "/x/key");
    setenv("CNIO_KEY_FILE", "", 1);
    unsetenv("HOME");
    ck_assert_int_eq(cnio__key_path(NULL, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "/etc/cnio/key");
    ck_assert_int_eq(cnio__key_path("/x/key", buf, 4), -CNIO_ERR_INVAL);

    /* The default path is what cnio__key_load and cnio__key_generate use. */
    setenv("HOME", tmpdir, 1);
    unsetenv("CNIO_KEY_FILE");
    ck_assert_int_eq(cnio__key_generate(NULL), 0);   /* makes ~/.cnio, mode 0700 */
    ck_assert_int_eq(cnio__key_load(NULL, &key), 0);
    ck_assert_int_eq(access(tmp_path(".cnio/key", path), R_OK), 0);
    ck_assert_int_eq(stat(tmp_path(".cnio", path), &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0700);
}
END_TEST

static struct cnio_key key_a, key_b;

static void keys_setup(void)
{
    memcpy(key_a.bytes, "alpha-key-0123456789abcdef", 26);
    key_a.len = 26;
    memcpy(key_b.bytes, "bravo-key-0123456789abcdef", 26);
    key_b.len = 26;
}

static void challenge_new(struct cnio_wire_challenge *c)
{
    memset(c, 0, sizeof(*c));
    c->max_payload = 1u << 20;
    c->credits = 16;
    ck_assert_int_eq(cnio__random(c->nonce, sizeof(c->nonce)), 0);
}

START_TEST(test_handshake_key)
{
    struct cnio_wire_challenge c;
    struct cnio_wire_auth a;
    uint8_t proof[CNIO_WIRE_MAC];

    challenge_new(&c);
    ck_assert_int_eq(cnio__auth_respond(key_a.bytes, key_a.len, &c, CNIO_WIRE_AUTH_KEY, 0, 0, &a),
                     0);
    ck_assert_int_eq(cnio__auth_verify(&key_a, c.nonce, &a, proof), 0);
    ck_assert_int_eq(cnio__auth_check_server(key_a.bytes, key_a.len, &a, &c, proof), 0);
    /* A server without the key cannot produce the proof. */
    proof[0] ^= 1;
    ck_assert_int_eq(cnio__auth_check_server(key_a.bytes, key_a.len, &a, &c, proof),
                     -CNIO_ERR_AUTH);
    ck_assert_int_eq(cnio__auth_server_mac(key_b.bytes, key_b.len, a.nonce, c.nonce, proof), 0);
    ck_assert_int_eq(cnio__auth_check_server(key_a.bytes, key_a.len, &a, &c, proof),
                     -CNIO_ERR_AUTH);
}
END_TEST

START_TEST(test_handshake_wrong_key)
{
    struct cnio_wire_challenge c;
    struct cnio_wire_auth a;
    uint8_t proof[CNIO_WIRE_MAC];

    challenge_new(&c);
    ck_assert_int_eq(cnio__auth_respond(key_b.bytes, key_b.len, &c, CNIO_WIRE_AUTH_KEY, 0, 0, &a),
                     0);
    ck_assert_int_eq(cnio__auth_verify(&key_a, c.nonce, &a, proof), -CNIO_ERR_AUTH);
}
END_TEST

START_TEST(test_handshake_replay)
{
    struct cnio_wire_challenge c1, c2;
    struct cnio_wire_auth a;
    uint8_t proof[CNIO_WIRE_MAC];

    challenge_new(&c1);
    challenge_new(&c2);
    ck_assert_int_ne(memcmp(c1.nonce, c2.nonce, CNIO_WIRE_NONCE), 0);
    ck_assert_int_eq(cnio__auth_respond(key_a.bytes, key_a.len, &c1, CNIO_WIRE_AUTH_KEY, 0, 0, &a),
                     0);
    ck_assert_int_eq(cnio__auth_verify(&key_a, c1.nonce, &a, proof), 0);
    ck_assert_int_eq(cnio__auth_verify(&key_a, c2.nonce, &a, proof), -CNIO_ERR_AUTH);
}
END_TEST

START_TEST(test_handshake_token)
{
    struct cnio_wire_challenge c;
    struct cnio_wire_auth a;
    uint8_t token[CNIO_WIRE_MAC], proof[CNIO_WIRE_MAC];
    const uint64_t obj = 0x1234abcd5678ef00ull;

    ck_assert_int_eq(cnio__auth_token(&key_a, obj, 3, token), 0);
    challenge_new(&c);
    ck_assert_int_eq(cnio__auth_respond(token, sizeof(token), &c, CNIO_WIRE_AUTH_TOKEN, 3, obj, &a),
                     0);
    ck_assert_int_eq(cnio__auth_verify(&key_a, c.nonce, &a, proof), 0);
    ck_assert_int_eq(cnio__auth_check_server(token, sizeof(token), &a, &c, proof), 0);
    ck_assert_int_eq(cnio__auth_verify(&key_b, c.nonce, &a, proof), -CNIO_ERR_AUTH);

    /* The rank-3 token presented as rank 4, or for another object. */
    ck_assert_int_eq(cnio__auth_respond(token, sizeof(token), &c, CNIO_WIRE_AUTH_TOKEN, 4, obj, &a),
                     0);
    ck_assert_int_eq(cnio__auth_verify(&key_a, c.nonce, &a, proof), -CNIO_ERR_AUTH);
    ck_assert_int_eq(cnio__auth_respond(token, sizeof(token), &c, CNIO_WIRE_AUTH_TOKEN, 3, obj + 1,
                                        &a), 0);
    ck_assert_int_eq(cnio__auth_verify(&key_a, c.nonce, &a, proof), -CNIO_ERR_AUTH);
    /* A token is not the key. */
    ck_assert_int_eq(cnio__auth_respond(token, sizeof(token), &c, CNIO_WIRE_AUTH_KEY, 3, obj, &a),
                     0);
    ck_assert_int_eq(cnio__auth_verify(&key_a, c.nonce, &a, proof), -CNIO_ERR_AUTH);
    /* Tokens differ per rank and per object. */
    {
        uint8_t t4[CNIO_WIRE_MAC], to[CNIO_WIRE_MAC];

        ck_assert_int_eq(cnio__auth_token(&key_a, obj, 4, t4), 0);
        ck_assert_int_eq(cnio__auth_token(&key_a, obj + 1, 3, to), 0);
        ck_assert_int_ne(memcmp(token, t4, sizeof(token)), 0);
        ck_assert_int_ne(memcmp(token, to, sizeof(token)), 0);
    }
}
END_TEST

START_TEST(test_handshake_tampered)
{
    struct cnio_wire_challenge c;
    struct cnio_wire_auth a, t;
    uint8_t token[CNIO_WIRE_MAC], proof[CNIO_WIRE_MAC];

    challenge_new(&c);
    ck_assert_int_eq(cnio__auth_token(&key_a, 99, 3, token), 0);
    ck_assert_int_eq(cnio__auth_respond(token, sizeof(token), &c, CNIO_WIRE_AUTH_TOKEN, 3, 99, &a),
                     0);
    for (int bit = 0; bit < CNIO_WIRE_MAC * 8; bit++) {
        t = a;
        t.mac[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        ck_assert_int_eq(cnio__auth_verify(&key_a, c.nonce, &t, proof), -CNIO_ERR_AUTH);
    }
    t = a;
    t.nonce[5] ^= 0x10;
    ck_assert_int_eq(cnio__auth_verify(&key_a, c.nonce, &t, proof), -CNIO_ERR_AUTH);
    t = a;
    t.mode = 3;
    ck_assert_int_eq(cnio__auth_verify(&key_a, c.nonce, &t, proof), -CNIO_ERR_AUTH);
    c.nonce[31] ^= 1;
    ck_assert_int_eq(cnio__auth_verify(&key_a, c.nonce, &a, proof), -CNIO_ERR_AUTH);
    c.nonce[31] ^= 1;
    ck_assert_int_eq(cnio__auth_verify(&key_a, c.nonce, &a, proof), 0);
}
END_TEST

static void hmac_ref(const uint8_t *k, size_t klen, const uint8_t *msg, size_t len, uint8_t *out)
{
    unsigned int n = 0;

    ck_assert_ptr_nonnull(HMAC(EVP_sha256(), k, (int)klen, msg, len, out, &n));
    ck_assert_uint_eq(n, CNIO_WIRE_MAC);
}

/* The MACs are exactly the formulas of auth.h and doc/protocol.md. */
START_TEST(test_mac_formula)
{
    struct cnio_wire_auth a = { .mode = CNIO_WIRE_AUTH_TOKEN, .rank = 0x01020304,
                                .object = 0x1122334455667788ull };
    uint8_t ns[CNIO_WIRE_NONCE], msg[128], got[CNIO_WIRE_MAC], want[CNIO_WIRE_MAC];
    static const uint8_t le_obj[8] = { 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11 };
    static const uint8_t le_rank[4] = { 0x04, 0x03, 0x02, 0x01 };

    for (int i = 0; i < CNIO_WIRE_NONCE; i++) {
        ns[i] = (uint8_t)i;
        a.nonce[i] = (uint8_t)(100 + i);
    }
    memcpy(msg, "cnio-token-v1", 13);
    memcpy(msg + 13, le_obj, 8);
    memcpy(msg + 21, le_rank, 4);
    hmac_ref(key_a.bytes, key_a.len, msg, 25, want);
    ck_assert_int_eq(cnio__auth_token(&key_a, a.object, a.rank, got), 0);
    ck_assert_int_eq(memcmp(got, want, sizeof(got)), 0);

    memcpy(msg, "cnio-auth-v1", 12);
    memcpy(msg + 12, ns, 32);
    memcpy(msg + 44, a.nonce, 32);
    cnio__put_le32(msg + 76, CNIO_WIRE_AUTH_TOKEN);
    memcpy(msg + 80, le_rank, 4);
    memcpy(msg + 84, le_obj, 8);
    hmac_ref(key_b.bytes, key_b.len, msg, 92, want);
    ck_assert_int_eq(cnio__auth_client_mac(key_b.bytes, key_b.len, ns, &a, got), 0);
    ck_assert_int_eq(memcmp(got, want, sizeof(got)), 0);

    memcpy(msg, "cnio-server-v1", 14);
    memcpy(msg + 14, a.nonce, 32);
    memcpy(msg + 46, ns, 32);
    hmac_ref(key_b.bytes, key_b.len, msg, 78, want);
    ck_assert_int_eq(cnio__auth_server_mac(key_b.bytes, key_b.len, a.nonce, ns, got), 0);
    ck_assert_int_eq(memcmp(got, want, sizeof(got)), 0);

}
END_TEST

START_TEST(test_bad_arguments)
{
    struct cnio_wire_challenge c;
    struct cnio_wire_auth a;
    struct cnio_key empty = { .len = 0 };
    uint8_t proof[CNIO_WIRE_MAC], buf[16];

    challenge_new(&c);
    ck_assert_int_eq(cnio__auth_respond(key_a.bytes, key_a.len, &c, 9, 0, 0, &a), -CNIO_ERR_INVAL);
    ck_assert_int_eq(cnio__auth_respond(key_a.bytes, 0, &c, CNIO_WIRE_AUTH_KEY, 0, 0, &a),
                     -CNIO_ERR_INVAL);
    ck_assert_int_eq(cnio__auth_respond(key_a.bytes, key_a.len, &c, CNIO_WIRE_AUTH_KEY, 0, 0, &a),
                     0);
    ck_assert_int_eq(cnio__auth_verify(&empty, c.nonce, &a, proof), -CNIO_ERR_AUTH);
    ck_assert_int_eq(cnio__random(buf, sizeof(buf)), 0);
    ck_assert_int_eq(cnio__random(buf, 0), 0);
}
END_TEST

static Suite *auth_suite(void)
{
    Suite *s = suite_create("auth");
    TCase *tk = tcase_create("keyfile");
    TCase *th = tcase_create("handshake");

    tcase_add_checked_fixture(tk, tmp_setup, tmp_teardown);
    tcase_set_timeout(tk, 30);
    tcase_add_test(tk, test_key_generate_load);
    tcase_add_test(tk, test_key_refusals);
    tcase_add_test(tk, test_key_foreign_owner);
    tcase_add_test(tk, test_key_path);
    suite_add_tcase(s, tk);

    tcase_add_checked_fixture(th, keys_setup, NULL);
    tcase_set_timeout(th, 30);
    tcase_add_test(th, test_handshake_key);
    tcase_add_test(th, test_handshake_wrong_key);
    tcase_add_test(th, test_handshake_replay);
    tcase_add_test(th, test_handshake_token);
    tcase_add_test(th, test_handshake_tampered);
    tcase_add_test(th, test_mac_formula);
    tcase_add_test(th, test_bad_arguments);
    suite_add_tcase(s, th);
    return s;
}

int main(void)
{
    return fx_run(auth_suite());
}
