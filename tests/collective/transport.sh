#!/bin/sh
# Runs a test program over one transport of the matrix: the servers the fixture starts
# get fabric endpoints (tcp;ofi_rxm, shm, udp;ofi_rxd), the clients the transport hints.
#   transport.sh tcp|ofi|shm|udp N PROGRAM [ARGS...]    (N = 0: no mpirun)
t=$1; n=$2; shift 2
# Servers killed by the tests leave their shm region behind (16 MiB of /dev/shm): only
# the shm run gives them an shm endpoint.
export CNIO_TEST_SERVER_TRANSPORT=tcp,ofi,udp CNIO_TEST_SERVER_OFI_PROVIDER='tcp;ofi_rxm'
case $t in
tcp) export CNIO_TRANSPORT=tcp ;;
ofi) export CNIO_TRANSPORT=ofi CNIO_OFI_PROVIDER='tcp;ofi_rxm' ;;
shm) export CNIO_TRANSPORT=ofi CNIO_OFI_PROVIDER=shm CNIO_TEST_SERVER_OFI_PROVIDER=shm ;;
udp) export CNIO_TRANSPORT=udp ;;
*) echo "transport.sh: unknown transport $t" >&2; exit 99 ;;
esac
if [ "$n" = 0 ]; then
    exec timeout -k 10 "${CNIO_MPI_TIMEOUT:-400}" "$@"
fi
exec "$CNIO_TOP_SRCDIR/tests/collective/run-mpi.sh" "$n" "$@"
