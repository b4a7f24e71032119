/*
 * sums_int.h - what sums.c (the block sums on the data path) and sums_file.c (the sums
 * files' life) share: the file format and the helpers both use.
 *
 * File: 16-byte header (magic "CNIOSUMS", version u32, block size u32), then one 8-byte
 * entry per block, little-endian: crc u32 | covered u32. covered (bits 0-30) is how many
 * bytes from the block's start crc covers; the block's bytes past them, up to the end of
 * the block or of the file, are zeros (a file grown by a hole or by ftruncate needs no
 * update). An entry past the end of the sums file reads as {0, 0}: all zeros. Bit 31 of
 * covered (SUMS_PENDING) marks a block whose data is being written: a WRITE sets it on
 * every block it touches, writes the data, then writes the new entries; so a server
 * killed in between leaves the affected blocks marked, and they are reported (scrub) or
 * checked against nothing but recomputed (READ), never taken as verified, until a writer
 * vouches for them again (cnio__srv_sums_heal: a resumed upload, a clean close).
 */
#ifndef CNIO_SRV_SUMS_INT_H
#define CNIO_SRV_SUMS_INT_H

#include "server.h"

#define SUMS_MAGIC "CNIOSUMS"
#define SUMS_VERSION 1
#define SUMS_HDR 16
#define SUMS_ENT 8
#define SUMS_PENDING 0x80000000u
/* Entries of one WRITE or READ: a largest payload spans this many blocks at most. */
#define SUMS_MAX_BLOCKS (CNIO_WIRE_MAX_PAYLOAD / CNIO_SRV_BLOCK + 2)

struct sums_ent {
    uint32_t crc;
    uint32_t covered;   /* with SUMS_PENDING */
};

/* pread of exactly len bytes unless the file ends first: bytes read, or -1 (errno). */
ssize_t cnio__srv_sums_pread_full(int fd, void *buf, size_t len, uint64_t off);
/* pwrite of all len bytes: 0 or a negative code. */
int cnio__srv_sums_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);
/* Writes the entries of blocks [b0, b0 + n) (n <= SUMS_MAX_BLOCKS): 0 or a negative code. */
int cnio__srv_sums_put(const struct cnio_srv_sums *s, uint64_t b0, size_t n,
                       const struct sums_ent *e);
/* The entry of a block from its bytes (len of them; trailing zeros need no cover). */
struct sums_ent cnio__srv_sums_from_data(const uint8_t *p, uint32_t len);
/* 1 when h (len bytes, what the file's start holds) is the header this server writes. */
int cnio__srv_sums_header_ok(const uint8_t *h, size_t len);
/* The 16-byte header at the start of fd: 0 or a negative code. */
int cnio__srv_sums_header_write(int fd);

#endif /* CNIO_SRV_SUMS_INT_H */
