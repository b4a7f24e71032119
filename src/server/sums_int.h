/*
 * sums_int.h - what sums.c (the block sums on the data path) and sums_file.c (the sums
 * files' life) share: the file format and the helpers both use.
 *
 * File (version 3): a 32-byte header, magic "CNIOSUMS", version u32 = 3, block size u32,
 * generation u64, 4 zero bytes, and a CRC32C of the 28 bytes before it; then one 16-byte
 * entry per block, all little-endian: crc u32 | covered u32 | zero u32 | check u32, where
 * check is the CRC32C of the block's index (u64) followed by the entry's first 12 bytes.
 * The generation is the staged instance the sums were made for (the object's generation
 * once committed; 0 for sums made for an object written in place): sums naming another
 * generation than the object's metadata are another object's, put under this name
 * behind the server's back with its data, and refused as damaged. Version 2 (the
 * earlier servers') is version 3 with 12 zero bytes in place of the generation and the
 * zeros; it is read and written as it is.
 *
 * covered (bits 0-30) is how many bytes from the block's start crc covers; the block's
 * bytes past them, up to the end of the block or of the file, are zeros (a file grown by
 * a hole or by ftruncate needs no update). An entry past the end of the sums file, or of
 * 16 zero bytes (a hole in the sums file), reads as {0, 0}: all zeros, which the data is
 * checked against like any other entry. Bit 31 of covered (SUMS_PENDING) marks a block
 * whose data is being written: a WRITE sets it on every block it touches, writes the
 * data, then writes the new entries; so a server killed in between leaves the affected
 * blocks marked, and they are reported (scrub) or checked against nothing but recomputed
 * (READ), never taken as verified, until a writer vouches for them again
 * (cnio__srv_sums_heal: a resumed upload, a clean close).
 *
 * Why the check words (version 1 had none): READ trusts what an entry says, so damage to
 * an entry must not pass for a state that turns checking off. In version 1, one flipped
 * bit 31 made a block pending, served unchecked, and a damaged header made READ ignore
 * the whole file and the next writer rebuild it from the data: damaged bytes then read
 * back with success. Now an entry whose check does not match is damaged (SUMS_BAD once
 * read): READ of its block fails as damaged data does, the scrub reports it, a WRITE
 * replaces it only by rewriting the whole block, and nothing recomputes it from the data
 * (that would vouch for whatever the disk holds). The index in the check catches an
 * entry written to or read from another slot (a misdirected write of the sums file),
 * which would otherwise be a valid entry for the wrong block. A header whose CRC does not
 * match makes the whole file damaged (sums_file.c): reads fail, and it is rebuilt only
 * when the data file is empty (nothing to vouch for). Entries are 16 bytes, not 12, so
 * that none straddles a 512-byte sector or a page: a write torn by a crash leaves each
 * entry old or new, never half of each (which would read as damage, not as pending).
 *
 * Version 1 (16-byte header "CNIOSUMS", 1, block size; 8-byte entries crc | covered, no
 * check), the files of earlier servers, is still read and written as version 1 rather
 * than converted: rebuilding it from the data would vouch for bytes damaged since they
 * were written, and carrying its entries into a new file needs every open handle of the
 * old one closed first. A pending entry in a version-1 file cannot be told from a flipped
 * bit, so READ refuses it as damaged (a writer's clean close still heals it); a version-1
 * file is replaced by a version-2 one when its object is rewritten (cnio cp, a TRUNC open).
 */
#ifndef CNIO_SRV_SUMS_INT_H
#define CNIO_SRV_SUMS_INT_H

#include "server.h"

#define SUMS_MAGIC "CNIOSUMS"
#define SUMS_VERSION 3   /* the header written: version 2's, with the generation */
#define SUMS_V2 2
#define SUMS_HDR 32
#define SUMS_ENT 16
#define SUMS_V1_HDR 16
#define SUMS_V1_ENT 8
#define SUMS_PENDING 0x80000000u
/* covered of an entry whose check failed (damaged): not pending, and more than a block
 * holds, so that whatever forgets to test for it still takes it for no valid sum. */
#define SUMS_BAD 0x7fffffffu
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
/* The version of the sums file whose start h holds (len bytes, at least the header of
 * that version): 3 (*gen: the generation it names, 0 for none), 2, 1, or 0 when it is
 * no header this server reads (damaged). */
int cnio__srv_sums_header_ok(const uint8_t *h, size_t len, uint64_t *gen);
/* The 16 bytes of block b's version-2 entry e. */
void cnio__srv_sums_ent_encode(uint64_t b, const struct sums_ent *e, uint8_t *raw);
/* Block b's version-2 entry from its 16 bytes: {0, SUMS_BAD} when its check fails. */
struct sums_ent cnio__srv_sums_ent_decode(uint64_t b, const uint8_t *raw);
/* The version-3 header at the start of fd, naming generation gen (the staged instance
 * the sums were made for; 0: none): 0 or a negative code. */
int cnio__srv_sums_header_write(int fd, uint64_t gen);

#endif /* CNIO_SRV_SUMS_INT_H */
