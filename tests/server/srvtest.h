/*
 * srvtest.h - raw-frame clients for the cnio-server tests: they speak the protocol
 * through the real src/wire.c and src/auth.c, one blocking request at a time, with
 * every wait bounded (ST_TIMEOUT_MS).
 */
#ifndef CNIO_TEST_SRVTEST_H
#define CNIO_TEST_SRVTEST_H

#include "common.h"
#include "auth.h"
#include "wire.h"
#include "fixture.h"

#define ST_TIMEOUT_MS 10000

struct st_conn {
    int fd;
    uint64_t session;
    uint64_t server_id;        /* the AUTH reply header's object (CNIO_WIRE_CAP_ID) */
    uint64_t reqid;
    struct cnio_wire_challenge ch;
    int legacy;                /* set before AUTH: act as a client from before 2026-11-30,
                                  which sent no CNIO_WIRE_F_REASON at AUTH: error replies
                                  without reasons, INFO blocks in the old form (every
                                  other session asks for reasons, as today's clients do) */
    uint32_t flags;            /* header flags of the next st_call alone */
};

/* Loads the fixture's key. */
void st_key(const struct fx *f, struct cnio_key *k);
/* Sends one frame (fills length and payload crc from len and p). 0 or negative. */
int st_send(int fd, struct cnio_wire_hdr *h, const void *p, uint32_t len);
/* Receives one frame; the payload goes to buf (cap bytes). 0, -CNIO_ERR_CONN at EOF,
 * -CNIO_ERR_TIMEOUT, -CNIO_ERR_PROTO on a bad header or a payload over cap (but an
 * error reply's reason longer than cap is read and dropped). */
int st_recv(int fd, struct cnio_wire_hdr *h, uint8_t *buf, size_t cap);
/* 1 when the server closes fd (EOF or reset) within timeout_ms, else 0. */
int st_closed(int fd, int timeout_ms);

/* The one-server fixture most server tests share: st_setup starts st_fx (one
 * cnio-server), st_teardown stops it (tcase_add_checked_fixture). */
extern struct fx st_fx;
void st_setup(void);
void st_teardown(void);

/* Connects to server i and reads the CHALLENGE (its status: 0, or -CNIO_ERR_LIMIT). */
int st_connect(const struct fx *f, int i, struct st_conn *c);
/* AUTH with the key (mode KEY) or a token derived from it: the reply's status. */
int st_auth_key(struct st_conn *c, const uint8_t *k, size_t klen);
int st_auth_token(struct st_conn *c, const struct cnio_key *key, uint64_t object, uint32_t rank);
/* AUTH with secret k/klen claiming mode, rank and object. */
int st_auth_raw(struct st_conn *c, const uint8_t *k, size_t klen, uint32_t mode, uint32_t rank,
                uint64_t object);
/* st_connect + st_auth_key with the fixture's key; fails the test on error. */
void st_session(const struct fx *f, int i, struct st_conn *c);
void st_close(struct st_conn *c);

/* One request and its reply: the reply's status (or a negative transport error). *rh
 * (may be NULL) receives the reply header, rbuf (rcap bytes) its payload. */
int st_call(struct st_conn *c, uint16_t type, uint64_t object, uint64_t offset,
            const void *p, uint32_t len, struct cnio_wire_hdr *rh, uint8_t *rbuf, size_t rcap);
/* OPEN / STAT / UNLINK / LIST with a name: status; *handle and *info when not NULL. */
int st_open(struct st_conn *c, const char *name, uint32_t flags, uint32_t count, uint64_t unit,
            uint32_t index, uint64_t *handle, struct cnio_wire_info *info);
/* A request of type with an OPEN block for name: the status; reply header and payload. */
int st_named(struct st_conn *c, uint16_t type, const char *name, uint32_t flags,
             uint32_t count, uint64_t unit, uint32_t index, uint64_t offset,
             struct cnio_wire_hdr *rh, uint8_t *rbuf, size_t rcap);
int st_stat(struct st_conn *c, const char *name, struct cnio_wire_info *info);
int st_unlink(struct st_conn *c, const char *name);
/* LIST of dir from cursor: status; reply header and entries in buf. */
int st_list(struct st_conn *c, const char *dir, uint64_t cursor, struct cnio_wire_hdr *rh,
            uint8_t *buf, size_t cap);
int st_write(struct st_conn *c, uint64_t handle, uint64_t off, const void *buf, uint32_t len);
/* READ of len bytes: status; *got the bytes returned. */
int st_read(struct st_conn *c, uint64_t handle, uint64_t off, void *buf, uint32_t len,
            uint32_t *got);
/* The first 64 bytes of name's metadata file on st_fx's server 0 into meta (the test
 * fails if it cannot read them); *ino (may be NULL) the file's inode, which each write
 * of it changes (a new file renamed over it). Flags at 28 (le32), generation at 40 and
 * commit order at 48 (le64): src/server/meta.c. */
void st_meta_head(const char *name, uint8_t meta[64], ino_t *ino);
/* st_fx's server 0 from /proc: its resident set in bytes (0 if unread), its open fds. */
uint64_t st_server_rss(void);
int st_server_fds(void);

#endif /* CNIO_TEST_SRVTEST_H */
