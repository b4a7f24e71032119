/*
 * cnio.h - collective network I/O for MPI programs.
 *
 * An object ("file") lives on one or more remote hosts running cnio-server and is
 * named by a URI:
 *
 *     cnio://host[:port][,host[:port]...]/path[?stripe_unit=4M&stripe_count=2&lanes=2]
 *
 * The calls mirror MPI-IO (MPI_File_*). Every call returns CNIO_SUCCESS (0) or a
 * negative CNIO_ERR_* code; cnio_strerror() names it.
 */
#ifndef CNIO_H
#define CNIO_H

#ifdef __cplusplus
extern "C" {
#endif

#define CNIO_VERSION_MAJOR 0
#define CNIO_VERSION_MINOR 1

/* TCP port cnio-server listens on when a URI names a host without one. */
#define CNIO_DEFAULT_PORT 7447

/* Key file used when neither hint cnio_key_file nor $CNIO_KEY_FILE names one:
 * "$HOME/.cnio/key" (or "/etc/cnio/key" when HOME is unset). */
#define CNIO_DEFAULT_KEY_FILE "~/.cnio/key"

/* Error codes: calls return 0 or the negative of one of these. */
enum {
    CNIO_SUCCESS = 0,
    CNIO_ERR_INVAL = 1,      /* invalid argument */
    CNIO_ERR_NOMEM = 2,      /* out of memory */
    CNIO_ERR_IO = 3,         /* I/O error on a remote host's storage */
    CNIO_ERR_NOENT = 4,      /* no such object */
    CNIO_ERR_EXIST = 5,      /* object exists (MPI_MODE_EXCL) */
    CNIO_ERR_ACCESS = 6,     /* access refused (path outside root, read-only open) */
    CNIO_ERR_AUTH = 7,       /* authentication failed (wrong key or token) */
    CNIO_ERR_TIMEOUT = 8,    /* a remote host did not answer within cnio_timeout_ms */
    CNIO_ERR_CONN = 9,       /* connection reset or lost (refused and unreachable have
                                codes of their own: CNIO_ERR_REFUSED, CNIO_ERR_UNREACH) */
    CNIO_ERR_PROTO = 10,     /* protocol error: malformed or unexpected frame */
    CNIO_ERR_URI = 11,       /* malformed cnio:// URI */
    CNIO_ERR_HINT = 12,      /* bad hint name or value */
    CNIO_ERR_LIMIT = 13,     /* a server limit was reached (connections, open objects) */
    CNIO_ERR_LAYOUT = 14,    /* the object's layout does not match the URI's hosts */
    CNIO_ERR_RESOLVE = 15,   /* host name could not be resolved */
    CNIO_ERR_KEY = 16,       /* key file missing, malformed or readable by others */
    CNIO_ERR_AMODE = 17,     /* bad access mode, or operation not allowed by it */
    CNIO_ERR_MPI = 18,       /* an MPI call failed */
    CNIO_ERR_CHECKSUM = 19,  /* CRC32C mismatch: received bytes, or stored ones (a damaged
                                disk: what a server stored no longer matches its CRC32C) */
    CNIO_ERR_NOSPC = 20,     /* no space left on a remote host */
    CNIO_ERR_NOTSUP = 21,    /* not supported */
    CNIO_ERR_ISDIR = 22,     /* the name is a directory */
    CNIO_ERR_OVERFLOW = 23,  /* size or offset out of range */
    CNIO_ERR_INCOMPLETE = 24, /* the object is incomplete: it is being created or committed,
                                 or an upload, an update in place or a commit was
                                 interrupted (a read-only open cannot tell which always) */
    CNIO_ERR_NOT_SAME = 25,  /* ranks passed different arguments to a collective call that
                                needs them the same (the object, the access mode) */
    CNIO_ERR_STALE = 26,     /* a remote host no longer knows this open: it restarted since
                                the open (or released it), so the handles and tokens it gave
                                are gone there; open the file again */
    CNIO_ERR_REFUSED = 27,   /* connection refused: nothing listens at the host's port (no
                                cnio-server there, or not yet) */
    CNIO_ERR_UNREACH = 28,   /* the host or its network is unreachable from here */
    CNIO_ERR_MAX_ = 29
};

/* A static, human-readable name for err (either sign); never NULL. */
const char *cnio_strerror(int err);

/* cnio's own MPI-free sources define CNIO_CORE_ONLY to see only what is above. */
#ifndef CNIO_CORE_ONLY
#include <mpi.h>

typedef struct cnio_file cnio_file_t;

/*
 * Thread safety: the calls below on one handle may come from several threads of a
 * process (MPI_THREAD_MULTIPLE); each holds the handle's lock for its whole length, so
 * they run one at a time. Collective calls on one handle from several threads of one
 * rank must be ordered by the caller, as MPI-3.1 requires of collectives.
 *
 * Opens (amode & MPI_MODE_CREATE: creates) the object named by uri, collectively over
 * comm: every rank of comm calls with the same uri and amode (the same hosts and path;
 * the hints may differ), else every rank gets -CNIO_ERR_NOT_SAME and nothing is opened.
 * amode takes MPI_MODE_RDONLY, MPI_MODE_WRONLY or MPI_MODE_RDWR, optionally with
 * MPI_MODE_CREATE, MPI_MODE_EXCL, MPI_MODE_DELETE_ON_CLOSE. info may be MPI_INFO_NULL;
 * its hints override the URI's query, which overrides CNIO_* environment variables.
 * Every rank then takes rank 0's values of the hints the layout, the collective plan and
 * the connections depend on (striping_*, cb_*, romio_cb_*, cnio_lanes, cnio_route, ...;
 * MPI-3.1 13.2.8 requires them to be the same), rank 0 warning when some rank's differed.
 * On success *fh owns the open object; cnio_file_close releases it.
 * Returns 0 or a negative CNIO_ERR_*, the same on every rank; among them:
 * -CNIO_ERR_INVAL for a NULL uri or fh, MPI_COMM_NULL or an intercommunicator (MPI-3.1
 * 13.2.1: an intracommunicator), on each rank at once, nothing collective done;
 * -CNIO_ERR_NOENT, no such object (without MPI_MODE_CREATE), or with hint cnio_resume no
 * interrupted upload of it left to resume on a host of its columns (nothing is said:
 * the caller decides whether to write afresh); -CNIO_ERR_EXIST (MPI_MODE_EXCL);
 * -CNIO_ERR_ISDIR (the name is a directory; nothing is said either); -CNIO_ERR_AMODE;
 * -CNIO_ERR_INCOMPLETE (a read of an object being created, or interrupted);
 * -CNIO_ERR_REFUSED, -CNIO_ERR_UNREACH, -CNIO_ERR_CONN, -CNIO_ERR_TIMEOUT,
 * -CNIO_ERR_RESOLVE (a host: refused, unreachable, reset, silent, unknown); -CNIO_ERR_STALE (a
 * host restarted while the ranks were opening: it refused the open's tokens);
 * -CNIO_ERR_URI (also: two hosts of the URI are one server, under two names or at two
 * addresses);
 * -CNIO_ERR_LAYOUT (the hosts hold an object of this name in another layout or order
 * than the URI's: with MPI_MODE_CREATE, an object whose column 0 is not on the URI's
 * first host is neither created over nor opened; -CNIO_ERR_EXIST under MPI_MODE_EXCL);
 * -CNIO_ERR_NOTSUP for MPI_MODE_SEQUENTIAL (the MPI-IO interposition implements it above
 * this call); -CNIO_ERR_HINT, for a bad cnio_* hint, or a bad hint in the URI's query or
 * the environment, a connection budget too small to work included
 * (cnio_max_conns_per_server below rank 0's connections to a server plus one lane set,
 * with more than one rank; doc/scale.md). A bad value of an MPI-IO hint in info
 * (striping_unit or cb_buffer_size, say) is ignored and said once, as ROMIO ignores it
 * (cnio-hints(7)).
 */
int cnio_file_open(MPI_Comm comm, const char *uri, int amode, MPI_Info info, cnio_file_t **fh);

/* Collectively flushes, commits the size and closes *fh; sets *fh to NULL. (A handle
 * still open at MPI_Finalize is closed there, rank 0 saying so on stderr.) Returns 0 or
 * a negative CNIO_ERR_*, the same on every rank. An object that a rank of the job deleted
 * while open (cnio_file_delete with the same URI host and path) closes with success and
 * stays deleted, what was written to it gone with it, as a POSIX file unlinked while open
 * (and ROMIO's MPI_File_delete of an open file). Deleted by anyone else (`cnio rm`,
 * another job), a written object fails the close with -CNIO_ERR_NOENT: what the job
 * wrote is not there. A host that restarted since the open (or released it) fails the
 * close with -CNIO_ERR_STALE, as it fails the calls below. */
int cnio_file_close(cnio_file_t **fh);

/*
 * Independent write / read of count items of datatype at byte offset (in the view:
 * etype units) from / into buf. status may be MPI_STATUS_IGNORE, otherwise it carries
 * the number of items transferred (MPI_Get_count / MPI_Get_elements). Reading past the
 * end of the object transfers fewer items; holes read as zeros. buf may be MPI_BOTTOM
 * (NULL) with a datatype of absolute addresses (MPI_Get_address, MPI-3.1 section 4.1.12);
 * a NULL buf whose datatype reaches below address 4096 is -CNIO_ERR_INVAL. The same holds
 * for the collective calls below.
 * Under the connection budget (hint cnio_max_conns_per_server; doc/scale.md), when the
 * job's collective calls go through aggregators (cnio_file_get_info: cnio_route
 * aggregate), a rank that does not aggregate connects to the servers it needs for the
 * call alone and closes after it; when a server says the job's budget there is full, it
 * waits and tries again, for at most cnio_timeout_ms, then returns -CNIO_ERR_LIMIT.
 * A connection that a server closed while nothing was in flight on it (its
 * --idle-timeout, or a restart) is made again before the call sends anything (with the
 * key, for about 3 s while a restarted server is not listening yet: doc/protocol.md);
 * when the host no longer knows the open (it restarted since the open, or released it:
 * the ranks' tokens and handles there are gone), a rank that authenticates with the key
 * (rank 0 of the open) opens the object there again and goes on; the others (they hold
 * only the open's token, which a restarted server does not know), and a rank whose
 * reopen finds the object replaced meanwhile by another upload, get -CNIO_ERR_STALE, and
 * only a new open goes on (doc/protocol.md).
 * Other errors: -CNIO_ERR_CONN (a connection lost with requests in flight),
 * -CNIO_ERR_REFUSED, -CNIO_ERR_UNREACH (a host out of reach when connecting again),
 * -CNIO_ERR_TIMEOUT, -CNIO_ERR_AMODE, -CNIO_ERR_NOSPC, ...
 */
int cnio_file_write_at(cnio_file_t *fh, MPI_Offset offset, const void *buf, int count,
                       MPI_Datatype datatype, MPI_Status *status);
int cnio_file_read_at(cnio_file_t *fh, MPI_Offset offset, void *buf, int count,
                      MPI_Datatype datatype, MPI_Status *status);

/* The object's current size in bytes. 0, or a negative CNIO_ERR_* (-CNIO_ERR_STALE, ...:
 * as cnio_file_write_at). */
int cnio_file_get_size(cnio_file_t *fh, MPI_Offset *size);

/* Collectively truncates or extends the object to size bytes (extension reads as zeros).
 * 0, or a negative CNIO_ERR_* (-CNIO_ERR_STALE, ...: as cnio_file_write_at). */
int cnio_file_set_size(cnio_file_t *fh, MPI_Offset size);

/* Collectively makes every byte written so far durable on the remote hosts (fsync).
 * 0, or a negative CNIO_ERR_* (-CNIO_ERR_STALE, ...: as cnio_file_write_at). */
int cnio_file_sync(cnio_file_t *fh);

/*
 * Sets the file view, as MPI_File_set_view: the data-access calls' offsets then count
 * etypes, and their bytes go to the filetype's blocks, tiled from byte disp. datarep must
 * be "native" (another gives -CNIO_ERR_NOTSUP, NULL -CNIO_ERR_INVAL). Collective. info
 * may be MPI_INFO_NULL (its hints are ignored here).
 * A rank's filetype may hold no data (size 0: a darray or subarray piece that owns no
 * element): any access of that rank through it then moves nothing and succeeds (a count
 * of 0 in its status), and takes part in the collectives. Returns 0, or
 * -CNIO_ERR_INVAL for a view MPI-IO forbids (negative disp, overlapping or decreasing
 * filetype blocks, an etype whose size does not divide the filetype's, MPI_DATATYPE_NULL
 * or a derived type not committed), the same on all ranks.
 */
int cnio_file_set_view(cnio_file_t *fh, MPI_Offset disp, MPI_Datatype etype,
                       MPI_Datatype filetype, const char *datarep, MPI_Info info);

/*
 * Collective write / read, as MPI_File_write_at_all / MPI_File_read_at_all: every rank of
 * the file's communicator calls (count may be 0). Two-phase I/O: the accessed range is cut
 * into stripe-aligned file domains owned by aggregators (hint cb_nodes), data moves to them
 * with MPI and they write their domains in rounds of cb_buffer_size. With romio_cb_write /
 * romio_cb_read = automatic (the default), accesses whose pieces average at least
 * cnio_cb_direct_min bytes (16 KiB) on every rank skip aggregation and go directly.
 * All ranks return the same code: 0, or the errors of cnio_file_write_at (among them
 * -CNIO_ERR_STALE, a host that restarted since the open, on every rank).
 */
int cnio_file_write_at_all(cnio_file_t *fh, MPI_Offset offset, const void *buf, int count,
                           MPI_Datatype datatype, MPI_Status *status);
int cnio_file_read_at_all(cnio_file_t *fh, MPI_Offset offset, void *buf, int count,
                          MPI_Datatype datatype, MPI_Status *status);

/* A new info object (free it with MPI_Info_free) with every hint's value in effect:
 * striping_unit and striping_factor are the object's own layout, cb_nodes the aggregators
 * collective calls use. 0, or -CNIO_ERR_INVAL (NULL argument), -CNIO_ERR_MPI, -CNIO_ERR_HINT. */
int cnio_file_get_info(cnio_file_t *fh, MPI_Info *info_used);

/* Changes the hints that can change on an open file, as MPI_File_set_info (MPI-3.1
 * 13.2.8): cb_nodes, cb_buffer_size, romio_cb_write, romio_cb_read, cnio_cb_direct_min,
 * romio_ds_read, ind_rd_buffer_size, cnio_timeout_ms (then the bound of every wait on the
 * file's connections, as if opened with it), cnio_lost_abort_ms; info's other hints are
 * ignored, and so is MPI_INFO_NULL. Collective: ranks giving different values take rank
 * 0's, rank 0 warning. Hold from the next call on. 0 on every rank, or the same negative
 * CNIO_ERR_* on every rank: -CNIO_ERR_INVAL (fh NULL, on that rank alone), -CNIO_ERR_MPI,
 * -CNIO_ERR_HINT (a cnio_* hint's value is not valid: nothing changed). */
int cnio_file_set_info(cnio_file_t *fh, MPI_Info info);

/* Deletes the object named by uri on all its hosts. Not collective. Handles of this job
 * that have it open go on, and close without error (cnio_file_close). 0, or a negative
 * CNIO_ERR_* (-CNIO_ERR_NOENT: no such object). */
int cnio_file_delete(const char *uri, MPI_Info info);

#endif /* CNIO_CORE_ONLY */

#ifdef __cplusplus
}
#endif

#endif /* CNIO_H */
