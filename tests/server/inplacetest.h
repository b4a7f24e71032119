/*
 * inplacetest.h - what the tests of updates in place share (check_server_inplace.c,
 * check_server_inplace_meta.c, check_server_inplace_hold.c): an object committed, its
 * dirty mark read from its metadata file, STAT by handle, the writers' going, one
 * request from a thread, an upload with a joiner; and the tests each file adds to the
 * suite of check_server_inplace.c.
 */
#ifndef CNIO_TEST_INPLACETEST_H
#define CNIO_TEST_INPLACETEST_H

#include "committest.h"

#include <check.h>
#include <stdatomic.h>
#include <sys/types.h>

/* I_INPLACE of a STAT by handle h of name on c, asked with flags. */
uint32_t handle_inplace(struct st_conn *c, uint64_t h, const char *name, uint32_t flags);
/*
 * Waits (10 s at most) until the server has let go of the writers in place of name whose
 * handles wait_released found gone: a handle leaves the table before it leaves the
 * writers (it goes when its last reference does, handles.c), and a STAT between the two
 * says a writer live and no mark (1 round in about 300 of test_inplace_die_during_close
 * was counted "read as complete" so). own: a handle of c's still writing it, or 0.
 */
void writers_left(struct st_conn *c, const char *name, uint64_t own);
/* Name made on c's server as generation id holding data (len bytes): staged, written,
 * committed and closed. */
void committed(struct st_conn *c, const char *name, uint64_t id, const uint8_t *data,
               uint32_t len);
/* One request (type: a CLOSE, a COMMIT) on handle h over c, from a thread running
 * call_it(x): its code, and done once it is in. */
struct caller {
    struct st_conn *c;
    uint16_t type;
    uint64_t h;
    int ret;
    atomic_int done;
};
void *call_it(void *x);
/* The dirty mark in name's metadata on server 0, read from its file: 1 or 0; *ino (may
 * be NULL) the file's inode, which each write of it changes (a new file renamed over
 * it). STAT cannot say the mark while a writer holds the object (the live update's). */
int marked(const char *name, ino_t *ino);
/* A 16 MiB upload of name staged over a (instance ia, handle *ha), written len bytes of
 * data at a time, and a second open of it over j that joins it (ij, *hj): a joiner, before
 * the upload commits. */
void upload_joined(struct st_conn *a, struct st_conn *j, const char *name, uint64_t ia,
                   uint64_t ij, uint64_t *ha, uint64_t *hj, const uint8_t *data, size_t len);

/* check_server_inplace_meta.c: the joiners' tests, added to tc (tcase "inplace"), and
 * tcase "meta" (requests other than OPEN and CLOSE), added to s. */
void inplace_add_joins(TCase *tc);
void inplace_add_meta(Suite *s);
/* check_server_inplace_hold.c: tcases "hold" and "undo" (requests held inside the
 * server by tests/cli/hold.c), added to s unless in a sanitizer build. */
void inplace_add_hold(Suite *s);

#endif
