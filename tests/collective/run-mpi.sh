#!/bin/sh
# Runs an MPI test program under mpirun with N ranks (oversubscribed, as root if need be),
# bounded by a timeout so that a broken collective fails instead of hanging.
#   run-mpi.sh N PROGRAM [ARGS...]
n=$1; shift
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
exec timeout -k 10 "${CNIO_MPI_TIMEOUT:-400}" mpirun -n "$n" --oversubscribe \
    --mca btl self,vader,tcp --mca btl_vader_single_copy_mechanism none "$@"
