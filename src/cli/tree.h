/*
 * tree.h - what the files of `cnio cp -r` share. tree_pwalk.c lists a tree (a local
 * directory, or objects beneath a cnio:// name) into entries with all ranks, one
 * directory at a time by tree_walk.c; tree_file.c copies one entry within one rank,
 * tree_batch.c many small ones at once; tree_dst.c makes the destination's directories,
 * sets modes and mtimes, and says what stands in a directory's way; tree.c spreads the
 * entries over the ranks, and tree_summary.c reports.
 */
#ifndef CNIO_CLI_TREE_H
#define CNIO_CLI_TREE_H

#include "cli.h"
#include "client.h"

#include <stdint.h>

enum tree_type { TREE_FILE = 1, TREE_DIR = 2, TREE_LINK = 3 };

/* What a listing says of an object that is not complete: an upload, update or commit
 * did not finish (TREE_INCOMPLETE: not copied); or a commit has reached some of its
 * hosts while an instance of the name is still staged beside the object on another,
 * which is a commit under way as often as one that stopped (TREE_SETTLING: copied,
 * and its open tells the two apart, waiting for a commit under way); or what a write
 * through another order of the same hosts left (TREE_FOREIGN: not copied); or an object
 * that a host's directory of its name shadows (TREE_SHADOWED, and _FOREIGN when that
 * object is of another order: not copied, since that directory may hold a tree as well);
 * or an object of which a host of this URI holds no column that the layout has
 * (TREE_MISSING, CNIO_OBJ_MISSING: written through other hosts; not copied). */
enum tree_state {
    TREE_INCOMPLETE = 1, TREE_SETTLING = 2, TREE_FOREIGN = 3, TREE_SHADOWED = 4,
    TREE_SHADOWED_FOREIGN = 5, TREE_MISSING = 6,
    /* not an object's state: a source file of the plan's queue (--sync, --resume without
     * -p) whose destination holds a complete file of its size, which no mtime vouches
     * for: copied only when their CRC32C differ (tree_copy_one) */
    TREE_COMPARE = 7,
    /* an object of more columns than the URI names hosts (CNIO_OBJ_WIDE): not copied,
     * and rm -r through that URI removes nothing */
    TREE_WIDE = 8,
    /* not an object's state: a source file of the plan's queue (an upload with --resume
     * or --sync) of which the destination holds nothing, not even an interrupted upload:
     * copied as a fresh copy copies it, a small one in a batch (tree_small) */
    TREE_ABSENT = 9,
    TREE_STATE_LAST = TREE_ABSENT
};

/* One entry of a tree, by its path relative to the tree's top ("" is the top). */
struct tree_ent {
    char *rel;
    char *link;             /* a local symlink's target (TREE_LINK from a local tree) */
    uint64_t size;
    int64_t mtime_ns;       /* signed ns since the epoch (before 1970: negative) */
    uint32_t mode;          /* st_mode bits (0: unknown) */
    uint32_t alloc_kib;     /* local files: KiB allocated (sparse files hold fewer) */
    uint8_t type;           /* enum tree_type */
    uint8_t incomplete;     /* objects: enum tree_state, or 0 */
    uint64_t dev, ino;      /* local directories: their device and inode (-L: cycles) */
    uint32_t from;          /* the walk: index of the directory it was listed from */
};

struct tree_list {
    struct tree_ent *e;
    size_t n, cap;
};

/* One end of a tree copy: a local directory, or a cnio:// URI and its hints. */
struct tree_end {
    const char *name;       /* as given */
    int remote;
    struct cnio_uri u;      /* remote: parsed */
    struct cnio_hints h;    /* remote: hints in effect */
    int dirfd;              /* local: the top directory, opened by each rank */
    int top_is_dir;         /* remote: this rank has STATed the top, a directory */
};

/*
 * Lists the tree of e beneath its top with every rank of MPI_COMM_WORLD at once
 * (tree_pwalk.c; collective): into l, the same on every rank. Local: follow (-L) makes
 * symlinks to files files and symlinks to directories directories; a directory that is
 * its own ancestor (a cycle of links), and one beneath the top that the user may not
 * read, are said and counted in *left_out (rank 0), not walked (the latter is listed,
 * empty), as is a symlink that leads nowhere. Remote: ns is this rank's session to e's
 * servers. A missing top with missing_ok is an empty list. 0, or a negative CNIO_ERR_*
 * (said), the same on every rank.
 */
int tree_walk(struct cnio_stack *st, const struct tree_end *e, struct cnio_ns *ns, int follow,
              int missing_ok, struct tree_list *l, int *left_out);
/* One directory rel of the local tree beneath topfd, appended to l (entries' from =
 * from); its device and inode in *dev, *ino. With follow, a symlink that leads nowhere
 * is said, counted in *left_out and not listed. 0, or -errno (the path in bad). */
int tree_walk_local_dir(int topfd, const char *rel, int follow, uint32_t from,
                        struct tree_list *l, uint64_t *dev, uint64_t *ino, char *bad,
                        size_t badcap, int *left_out);
/* One directory rel beneath e's path, listed over session ns, appended to l. For the
 * top (rel ""), a missing one with missing_ok lists nothing, and an object is
 * -CNIO_ERR_NOTSUP. 0 or a negative CNIO_ERR_*. */
int tree_walk_remote_dir(struct cnio_stack *st, const struct tree_end *e, struct cnio_ns *ns,
                         const char *rel, uint32_t from, int missing_ok, struct tree_list *l);
/* Lists the objects beneath e's path (recursively, LIST on each directory over one
 * session), within one process. A missing top with missing_ok is an empty list. 0 or a
 * negative CNIO_ERR_*. */
int tree_walk_remote(struct cnio_stack *st, const struct tree_end *e, int missing_ok,
                     struct tree_list *l);
int tree_list_add(struct tree_list *l, const struct tree_ent *e);
void tree_list_free(struct tree_list *l);
/* Sorts by rel; tree_list_find then finds rel by binary search (NULL when absent). */
void tree_list_sort(struct tree_list *l);
const struct tree_ent *tree_list_find(const struct tree_list *l, const char *rel);
/* Serialises l into a malloc'd buffer (*len bytes), and back (tree_list.c); 0 or
 * -CNIO_ERR_NOMEM / -CNIO_ERR_PROTO. Unpack takes exactly the bytes pack writes: no NUL
 * inside a string, types and states of their enums, nothing after the last entry. */
int tree_list_pack(const struct tree_list *l, uint8_t **buf, uint64_t *len);
int tree_list_unpack(const uint8_t *buf, uint64_t len, struct tree_list *l);

/* dir "/" name, or name alone when dir is "" (malloc'd; NULL on failure). */
char *tree_join(const char *dir, const char *name);
/* The object name of rel beneath e (malloc'd; NULL on failure). */
char *tree_obj_name(const struct tree_end *e, const char *rel);
/* The URI string of rel beneath e, percent-encoded, with e's query (malloc'd). */
char *tree_uri_string(const struct tree_end *e, const char *rel);

/* Per-rank state for copying entries. */
struct tree_ctx {
    const struct cli_opts *o;
    struct tree_end *src, *dst;
    struct cnio_stack *st;
    struct cnio_ns *ns;     /* a session to the destination's servers (remote DST) */
    struct cnio_ns *src_ns; /* and to the source's (remote SRC); objects borrow them */
    uint64_t chunk;         /* bytes per request */
    char *buf;              /* chunk bytes */
    char *buf2;             /* chunk bytes (resume, checksum) */
    char *batch;            /* a batch's bytes (tree_put_small, tree_get_small), kept */
    size_t batch_cap;       /* between batches so that its pages are faulted in once */
    uint64_t moved;         /* bytes this rank moved */
    uint64_t skipped;       /* bytes this rank found already there (resume, checksum) */
    char why[512];          /* the first local failure: "path: reason" */
};

/* Copies entry e (a file or a link) from ctx->src to ctx->dst within this rank (resume:
 * continue a partial destination; checksum: skip it when the CRC32C match). 0 or a
 * negative code (a local failure said in ctx->why). */
int tree_copy_one(struct tree_ctx *ctx, const struct tree_ent *e);
/* Files of at most this size are copied in batches (tree_batch.c: tree_put_small,
 * tree_get_small). */
#define TREE_SMALL (256u << 10)
/* 1 when e is copied in a batch, without --resume or --checksum (with them, a file the
 * plan found absent from DST, TREE_ABSENT, is): a local file of at most TREE_SMALL bytes
 * (and one stripe) going to objects, or an object of at most TREE_SMALL bytes coming to
 * a local file. */
int tree_small(const struct tree_ctx *ctx, const struct tree_ent *e);
/* Uploads e[0..n) (each tree_small) as one batch over ctx->ns, several requests in
 * flight (cnio__ns_put_small): status[i] 0 or the error of e[i] (a local one said in
 * ctx->why). Returns 0, or an error that stopped the whole batch (status[] then
 * undefined; copy the files one by one). */
int tree_put_small(struct tree_ctx *ctx, const struct tree_ent *const *e, int n, int *status);
/* Downloads e[0..n) (each tree_small) as one batch over ctx->src_ns, several requests in
 * flight (cnio__ns_get_small), into local files: status[i] 0 or the error of e[i] (a
 * local one said in ctx->why; -CNIO_ERR_OVERFLOW: larger than one stripe or than listed,
 * or written in place as it was read: copy it alone, where its passes are checked). Returns
 * 0, or an error that stopped the whole batch (status[] then undefined; copy the files
 * one by one). */
int tree_get_small(struct tree_ctx *ctx, const struct tree_ent *const *e, int n, int *status);

/* Helpers of tree_file.c and tree_dst.c, for each other (tree.c uses the tree_ calls). */
/* Says "rel: strerror(err)" in ctx->why (unless one is said already): err as a CNIO code. */
int tf_fail(struct tree_ctx *ctx, const char *rel, int err);
/* The directory holding rel beneath dirfd (an fd, or -1 and errno); *base: rel's last part. */
int tf_parent(int dirfd, const char *rel, const char **base);
/* Opens rel beneath dirfd without following any symlink (-1 and errno on failure). */
int tf_open(int dirfd, const char *rel, int flags, mode_t mode);
/* Opens object rel beneath end (flags: CNIO_WIRE_O_*) into *obj: 0, or a negative code. */
int tf_obj(struct tree_ctx *ctx, struct tree_end *end, const char *rel, uint32_t flags,
           struct cnio_obj **obj);
/* A symlink's target: its longest, with the NUL. */
#define TF_LINK_MAX 4096
/* Reads the whole object (a link's target, size < TF_LINK_MAX bytes) into buf. */
int tf_read_link(struct cnio_obj *obj, uint64_t size, char *buf);
/* 1 when a local non-directory stands in the way of rel's directories (self: rel too); said. */
int tf_in_the_way(struct tree_ctx *ctx, const char *rel, int self);
/* The same for an object beneath a remote DST, on any host (a STAT per host and prefix:
 * for explaining failures). */
int tf_obj_in_the_way(struct tree_ctx *ctx, const char *rel, int self);

/* Pieces of one file's copy (tree_file.c) that the batches (tree_batch.c) use too. */
/* Opens source file rel to read (through symlinks with -L, else beneath the top), a
 * regular file only: the fd, or a negative code (said). */
int tf_open_src(struct tree_ctx *ctx, const char *rel);
/* e as the local file of snap is now: its size and mtime. */
struct tree_ent tf_now(const struct tree_ent *e, const struct cli_snap *snap);
/* Writes the blocks of buf (len bytes at off) that are not all zeros to a fresh
 * destination, object obj or (obj NULL) local fd: 0, or a negative code. */
int tf_put_runs(struct tree_ctx *ctx, const char *rel, struct cnio_obj *obj, int fd,
                const char *buf, uint64_t len, uint64_t off);
/* Opens rel's part file beneath DST into *fd, locked (*lock; part: its name, a buffer of
 * CNIO_WIRE_MAX_NAME + 1), fresh or (resume) as a killed copy left it; *ref: what to
 * compare with, or -1. 0, or a negative code (said). */
int tf_part_open(struct tree_ctx *ctx, const char *rel, int resume, char *part, int *fd,
                 int *ref, int *lock);
/* Gives local fd e's copy its size (and -p's mode and mtime) and closes it: ret, or the
 * first failure. */
int tf_local_finish(struct tree_ctx *ctx, const struct tree_ent *e, int fd, uint64_t size,
                    int ret);
/* After the part file was closed: renamed to rel when ret is 0, else removed (kept with
 * --resume); lock closed. ret, or the rename's failure. */
int tf_part_done(struct tree_ctx *ctx, const char *rel, const char *part, int ret, int lock);

/* 1 when a file or an object stands beneath DST where a directory of rel's path must be
 * (said in ctx->why: "rel: not copied: DST/x is a file, not a directory"), else 0. */
int tree_in_the_way(struct tree_ctx *ctx, const char *rel);
/* When file or link e's copy failed with err because a directory stands at its name
 * beneath DST (a server's "is a directory", or a local directory the copy could not
 * replace), says so in ctx->why ("x: not copied: DST/x is a directory, which a file
 * cannot replace", as cp(1) and cnio mv say it): 1, else 0. */
int tree_dir_in_the_way(struct tree_ctx *ctx, const struct tree_ent *e, int err);
/* Makes directory rel at the destination (and its parents): 0, or a negative code;
 * -CNIO_ERR_EXIST with ctx->why said when a file or an object is in the way. */
int tree_mkdir(struct tree_ctx *ctx, const char *rel);
/* Applies mode and mtime of e at the destination (-p). A local entry not of e's type
 * there (the copy that should have made it failed, and said so) keeps its own. */
int tree_setattr(struct tree_ctx *ctx, const struct tree_ent *e);
/* Makes the blocks of zeros of local file rel (beneath DST) holes again, after a
 * download split over the ranks wrote them: 0, or a negative code. */
int tree_punch_zeros(struct tree_ctx *ctx, const char *rel);
/* --checksum (tree_same.c): 1 when the destination holds file e with the same CRC32C,
 * or link e with the same target; else 0. */
int tree_same_crc(struct tree_ctx *ctx, const struct tree_ent *e);
int tree_same_link(struct tree_ctx *ctx, const struct tree_ent *e);
/* CRC32C of every byte of a local file or of an object (`cnio sum`, --checksum). */
int tree_crc_local(int fd, char *buf, uint64_t cap, uint32_t *crc, uint64_t *size);
/* As tree_crc_local, of what read(2) gives from fd's position to its end (a pipe). */
int tree_crc_stream(int fd, char *buf, uint64_t cap, uint32_t *crc, uint64_t *size);
int tree_crc_obj(struct cnio_obj *obj, char *buf, uint64_t cap, uint32_t *crc, uint64_t *size);

#endif /* CNIO_CLI_TREE_H */
