#!/usr/bin/env bash
# sockets-starve.sh - the socket shim against a listener starved of CPU (doc/sockets.md,
# "A listener starved of CPU"): 16 ranks (mpirun, oversubscribed) of tests/sockets/storm
# connect at one instant to tests/sockets/storm_listener (backlog 4), which is stopped
# (SIGSTOP) at that instant for STALL ms (default 300); without the shim, with it (window
# capped at the backlog), and with it told the stall (CNIO_SOCKETS_SETTLE_MS=STALL).
# Prints, per run, the listen overflows, how many ranks' data arrived and the slowest
# connect. Root (a network namespace of its own, so nothing else moves the counter).
#
#   scripts/sockets-starve.sh [RUNS]     (build dir: $CNIO_BUILD_DIR, default _build)
set -u
case ${1:-} in -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
if [ -z "${CNIO_STARVE_IN_NS:-}" ]; then
    exec unshare -n env CNIO_STARVE_IN_NS=1 bash "$0" "$@"
fi
top=$(cd "$(dirname "$0")/.." && pwd)
B=${CNIO_BUILD_DIR:-$top/_build}
ip link set lo up
export CNIO_SOCKETS_LIB=$B/sockets/.libs/libcnio_sockets.so CNIO_PROXY_BIN=$B/sockets/cnio-proxy
export CNIO_SOCKETS_RUNDIR=$(mktemp -d) OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
N=16 BACKLOG=4 STALL=${STALL:-300} RUNS=${1:-3}
out=$(mktemp -d)
trap 'rm -rf "$out" "$CNIO_SOCKETS_RUNDIR"' EXIT
ov() { nstat -az TcpExtListenOverflows | awk '/ListenOverflows/ { print $2 }'; }
run() {
    local mode=$1 port=$((20000 + RANDOM % 20000)) before lp mp start
    before=$(ov)
    "$B/tests/sockets/storm_listener" 127.0.0.1 $port $BACKLOG $N 60 65536 > "$out/l" & lp=$!
    sleep 0.3
    start=$(( $(date +%s%3N) + 2500 ))
    if [ "$mode" = plain ]; then
        timeout 120 mpirun -n $N "$B/tests/sockets/storm" localhost $port $start any > "$out/r" &
    else
        env CNIO_SOCKETS_MANAGE=all CNIO_SOCKETS_WINDOW_MAX=$BACKLOG ${EXTRA:-} timeout 120 \
            mpirun -n $N "$B/src/cli/cnio" run --sockets "$B/tests/sockets/storm" localhost \
            $port $start any > "$out/r" &
    fi
    mp=$!
    while [ "$(date +%s%3N)" -lt $start ]; do sleep 0.005; done
    kill -STOP $lp
    sleep "$(awk -v s="$STALL" 'BEGIN { print s / 1000 }')"
    kill -CONT $lp
    wait $mp
    wait $lp
    echo "$mode${EXTRA:+ $EXTRA} stall ${STALL} ms: overflows $(( $(ov) - before )), data arrived $(grep -c ' ok ' "$out/r")/$N, slowest connect $(awk '$3 == "ok" { print $5 }' "$out/r" | sort -n | tail -1) ms"
}
for ((i = 0; i < RUNS; i++)); do
    run plain
    run shim
    EXTRA=CNIO_SOCKETS_SETTLE_MS=$STALL run shim
done
