/*
 * committest.h - what the tests of commit semantics share (check_server_commit.c,
 * check_server_stage.c, check_server_finish.c, check_server_group.c): OPEN of a column,
 * CRC, UNLINK of an instance, RENAME, the stage directory's instances, reading an object
 * back, a staged upload through the client.
 */
#ifndef CNIO_TEST_COMMITTEST_H
#define CNIO_TEST_COMMITTEST_H

#include "srvtest.h"
#include "client.h"
#include "client_int.h"
#include "stack.h"

#define W CNIO_WIRE_O_WRITE
#define STAGE (CNIO_WIRE_O_CREATE | CNIO_WIRE_O_WRITE | CNIO_WIRE_O_STAGE)
#define UNIT 65536

/* OPEN of column index of count with header offset off: status; *handle, *info and the
 * reply's offset. */
int open_col(struct st_conn *c, const char *name, uint32_t flags, uint32_t count,
             uint32_t index, uint64_t off, uint64_t *handle, struct cnio_wire_info *info,
             uint64_t *roff);
int open_at(struct st_conn *c, const char *name, uint32_t flags, uint64_t off,
            uint64_t *handle, struct cnio_wire_info *info, uint64_t *roff);
int crc_of(struct st_conn *c, uint64_t h, uint64_t off, uint64_t len,
           struct cnio_wire_crc *cr);
int unlink_id(struct st_conn *c, const char *name, uint64_t id);
/* RENAME of from to to on c: the reply's status. */
int rename_req(struct st_conn *c, const char *from, const char *to);
/* Staged instances (data files) in server j's stage directory; the block sums and
 * metadata files there (an instance's ID.meta is written only when it matters, see
 * src/server/stage_idx.c; ID.commit and ID.final, by a PREPARE) must each have their
 * instance's data file. */
int staged_files_on(int j);
int staged_files(void);
/* Waits (bounded) until the server has released handle h, which a connection that
 * closed owned: a CRC by it is then -CNIO_ERR_NOENT. */
void wait_released(struct st_conn *c, uint64_t h);
void read_back(struct st_conn *c, const char *name, const void *want, uint32_t len);
/* Restarts st_fx as two fresh servers with a session on each (c[0], c[1]), and opens a
 * client stack, URI (of name on both) and hints to read through. */
void two_servers(const char *name, struct st_conn *c, struct cnio_stack **stk,
                 struct cnio_uri *u, struct cnio_hints *hints);
/*
 * On two fresh servers, opens NAME through the client for a staged (truncating) upload
 * with UNIT stripes and writes DATA from offset 0; the caller closes or aborts it, and
 * owns *stk and *u.
 */
struct cnio_obj *staged_upload(const char *name, const uint8_t *data, size_t len,
                                 struct cnio_stack **stk, struct cnio_uri *u,
                                 struct cnio_hints *hints);

#endif
