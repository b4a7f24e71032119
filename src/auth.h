/*
 * auth.h - shared-key authentication: HMAC-SHA256 challenge-response (OpenSSL libcrypto).
 *
 * The conversation (doc/protocol.md): the server sends a CHALLENGE with a fresh random
 * nonce Ns; the client answers AUTH with its own nonce Nc and
 *     mac_c = HMAC(K, "cnio-auth-v1" || Ns || Nc || le32(mode) || le32(rank) || le64(object))
 * and the server answers with
 *     mac_s = HMAC(K, "cnio-server-v1" || Nc || Ns)
 * so both sides prove knowledge of K. K is the shared key (mode KEY) or a per-rank token
 *     token = HMAC(key, "cnio-token-v1" || le64(object) || le32(rank))
 * (mode TOKEN), which the proxy hands to a rank and the server recomputes from its key.
 * Comparisons are constant-time (CRYPTO_memcmp).
 */
#ifndef CNIO_AUTH_H
#define CNIO_AUTH_H

#include "common.h"
#include "wire.h"

#define CNIO_KEY_MIN 16
#define CNIO_KEY_MAX 256

struct cnio_key {
    size_t len;
    uint8_t bytes[CNIO_KEY_MAX];
};

/*
 * Loads a key file: must be a regular file owned by the caller's uid with no group or
 * other permission bits (0600 or 0400), holding CNIO_KEY_MIN..CNIO_KEY_MAX bytes (a
 * trailing newline is stripped). path NULL or "" picks $CNIO_KEY_FILE, else the default
 * "$HOME/.cnio/key". Returns 0, -CNIO_ERR_KEY (missing, unsafe or malformed; a message
 * naming the file and the reason goes to the log), or -CNIO_ERR_NOMEM.
 */
int cnio__key_load(const char *path, struct cnio_key *key);
/* The path cnio__key_load would read for path (NULL/"": env, then default) into buf. */
int cnio__key_path(const char *path, char *buf, size_t cap);
/* Writes a fresh random key (32 random bytes, hex-encoded, a newline) to path, mode
 * 0600, O_EXCL; path "-": to standard output. 0, -CNIO_ERR_INVAL (no path), or the
 * error of creating or writing it (said). */
int cnio__key_generate(const char *path);
/* Wipes a key from memory. */
void cnio__key_wipe(struct cnio_key *key);

/* Fills buf with cryptographically random bytes: 0 or -CNIO_ERR_IO. */
int cnio__random(void *buf, size_t len);

/* token = HMAC(key, "cnio-token-v1" || le64(object) || le32(rank)). */
int cnio__auth_token(const struct cnio_key *key, uint64_t object, uint32_t rank,
                     uint8_t token[CNIO_WIRE_MAC]);

/* mac_c as above; k/klen is the key bytes or the token. */
int cnio__auth_client_mac(const uint8_t *k, size_t klen, const uint8_t ns[CNIO_WIRE_NONCE],
                          const struct cnio_wire_auth *a, uint8_t mac[CNIO_WIRE_MAC]);
/* mac_s as above. */
int cnio__auth_server_mac(const uint8_t *k, size_t klen, const uint8_t nc[CNIO_WIRE_NONCE],
                          const uint8_t ns[CNIO_WIRE_NONCE], uint8_t mac[CNIO_WIRE_MAC]);

/*
 * Client side: fills a (fresh nonce, mac) for mode/rank/object given the server's
 * challenge. k/klen: the key (mode KEY) or token (mode TOKEN).
 */
int cnio__auth_respond(const uint8_t *k, size_t klen, const struct cnio_wire_challenge *c,
                       uint32_t mode, uint32_t rank, uint64_t object, struct cnio_wire_auth *a);
/* Client side: checks the server's proof: 0 or -CNIO_ERR_AUTH. */
int cnio__auth_check_server(const uint8_t *k, size_t klen, const struct cnio_wire_auth *a,
                            const struct cnio_wire_challenge *c, const uint8_t mac[CNIO_WIRE_MAC]);
/*
 * Server side: checks a client's AUTH against the nonce ns it sent, with the server's
 * key (deriving the token for mode TOKEN). On success fills the server's proof in
 * mac_out and returns 0; otherwise -CNIO_ERR_AUTH.
 */
int cnio__auth_verify(const struct cnio_key *key, const uint8_t ns[CNIO_WIRE_NONCE],
                      const struct cnio_wire_auth *a, uint8_t mac_out[CNIO_WIRE_MAC]);

#endif /* CNIO_AUTH_H */
