/*
 * env.h - the CNIO_* environment variables: the one table of the names that some part of
 * cnio reads (the library, the cnio command, the socket shim and its proxy, cnio-server,
 * and the project's own tests and scripts), and the check that finds the others in an
 * environment: a misspelled name (CNIO_TIMOUT_MS) was ignored silently, and the job ran
 * with the default its user meant to change.
 *
 * libc only, no state but the once-per-process flag: the socket shim compiles its own
 * copy, and its constructor calls it.
 */
#ifndef CNIO_ENV_H
#define CNIO_ENV_H

#include <stddef.h>

/* 1 when name is a CNIO_* variable that cnio (or its tests and scripts) reads, else 0. */
int cnio__env_known(const char *name);

/*
 * Writes into out[cap] (always NUL-terminated when cap > 0) the CNIO_* names of envp (an
 * environ-style array, NAME=VALUE strings, NULL-terminated) that cnio__env_known does not
 * know, separated by ", ", each followed by " (did you mean KNOWN?)" when a known name is
 * near it (a letter or two away, case aside, or the known name with a suffix more):
 * "CNIO_TIMOUT_MS (did you mean CNIO_TIMEOUT_MS?), CNIO_X". Names that do not fit are
 * left out, ", ..." said instead. Returns how many unknown names envp holds (0: out "").
 */
int cnio__env_unknown(char *const *envp, char *out, size_t cap);

/* 1 the first time it is called in this process, then 0 (thread-safe): the line of
 * unknown names is said once per process, whichever part of cnio gets there first. */
int cnio__env_first(void);

/* 0 when a launcher started this process as a rank other than 0 (the first of
 * OMPI_COMM_WORLD_RANK, PMIX_RANK and PMI_RANK set says so), else 1: a line said once per
 * job, of what every rank's environment holds alike, is said by rank 0 (or by a process
 * no launcher started). */
int cnio__env_rank0(void);

#endif
