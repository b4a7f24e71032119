#!/usr/bin/env bash
# bench/sockets.sh - the socket shim's figures (doc/sockets.md), short runs:
#   1. one blocking connect() on loopback, natively and through the proxy: p50/p99;
#   2. iperf3 natively and under the shim (client and server), alternating: the ratio;
#   3. a connection storm: N ranks (mpirun, oversubscribed) to one listener with backlog
#      B, plain and under `cnio run --sockets`: time until all are connected, listen
#      overflows (in a network namespace of its own: needs root).
# Usage: bench/sockets.sh [BUILD_DIR]   env: ROUNDS (iperf3 pairs, 3), SECS (3), N (64), B (16)
set -euo pipefail
case ${1:-} in -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
in_ns=0
[ "${1:-}" = --storm ] && { in_ns=1; shift; }
build=${1:-$top/_build}
export CNIO_SOCKETS_LIB=$build/sockets/.libs/libcnio_sockets.so
export CNIO_PROXY_BIN=$build/sockets/cnio-proxy
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
cnio=$build/src/cli/cnio
ROUNDS=${ROUNDS:-3} SECS=${SECS:-3} N=${N:-64} B=${B:-16}
tmp=$(mktemp -d /tmp/cnio-sockets-bench.XXXXXX)
chmod 700 "$tmp"
export CNIO_SOCKETS_RUNDIR=$tmp/run
trap 'rm -rf "$tmp"' EXIT
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do [ -n "$(ss -Hltn "sport = :$1")" ] && return 0; sleep 0.1; done; return 1; }

# One storm (inside the namespace): $1 plain|shim|shim-hint. Prints one line.
storm() {
    local mode=$1 port before after lp start t
    port=$(free_port)
    before=$(nstat -az TcpExtListenOverflows | awk '/ListenOverflows/ { print $2 }')
    "$build/tests/sockets/storm_listener" 127.0.0.1 "$port" "$B" "$N" 150 > "$tmp/l.$mode" & lp=$!
    wait_port "$port"
    start=$(( $(date +%s%3N) + 12000 ))
    case $mode in
        plain) timeout 300 mpirun -n "$N" "$build/tests/sockets/storm" 127.0.0.1 "$port" $start 65536 any > "$tmp/r.$mode" || true ;;
        shim) CNIO_SOCKETS_MANAGE=all timeout 300 mpirun -n "$N" "$cnio" run --sockets \
            "$build/tests/sockets/storm" 127.0.0.1 "$port" $start 65536 any > "$tmp/r.$mode" || true ;;
        shim-hint) CNIO_SOCKETS_MANAGE=all CNIO_SOCKETS_WINDOW_MAX=$B timeout 300 mpirun -n "$N" \
            "$cnio" run --sockets "$build/tests/sockets/storm" 127.0.0.1 "$port" $start 65536 any > "$tmp/r.$mode" || true ;;
    esac
    wait $lp || true
    after=$(nstat -az TcpExtListenOverflows | awk '/ListenOverflows/ { print $2 }')
    t=$(awk '$3 == "ok" { print $5 }' "$tmp/r.$mode" | sort -n | awk '{ a[NR] = $1 } END { printf "%d connected: p50 %d ms, last after %d ms", NR, a[int(NR / 2) + 1], a[NR] }')
    { grep -v ' ok ' "$tmp/r.$mode" || true; } | sed 's/^/    /' | head -5
    printf '  %-10s %s; %s; listen overflows %d\n' "$mode" "$(tail -1 "$tmp/l.$mode")" "$t" $((after - before))
}

if [ $in_ns = 1 ]; then
    ip link set lo up
    echo "3. storm: $N ranks, one listener with backlog $B (connect time from the common start)"
    storm plain; storm shim; storm shim-hint
    exit 0
fi

echo "1. one blocking connect() on loopback"
echo "  native:      $("$build/bench/sockets_connect_lat" 2000)"
echo "  via proxy:   $(CNIO_SOCKETS_MANAGE=all "$cnio" run --sockets "$build/bench/sockets_connect_lat" 2000)"

echo "2. iperf3 -t $SECS on loopback, $ROUNDS alternating pairs"
iperf() {   # $1: "" or the cnio run prefix
    local port=$(free_port) bps
    $1 iperf3 -s -1 -B 127.0.0.1 -p "$port" >/dev/null 2>&1 & local s=$!
    wait_port "$port"
    bps=$($1 iperf3 -c 127.0.0.1 -p "$port" -t "$SECS" -J | /usr/bin/python3 -c \
        'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])')
    wait $s
    echo "$bps"
}
nat=() shm=()
for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then   # ABBA order: a drifting load favours neither side
        nat+=("$(iperf "")")
        shm+=("$(CNIO_SOCKETS_MANAGE=all iperf "$cnio run --sockets --")")
    else
        shm+=("$(CNIO_SOCKETS_MANAGE=all iperf "$cnio run --sockets --")")
        nat+=("$(iperf "")")
    fi
    /usr/bin/python3 -c 'import sys; print("  round %s: native %.2f Gbit/s, shim %.2f Gbit/s" % (sys.argv[1], float(sys.argv[2]) / 1e9, float(sys.argv[3]) / 1e9))' "$r" "${nat[-1]}" "${shm[-1]}"
done
/usr/bin/python3 -c 'import sys; a=[float(x) for x in sys.argv[1].split()]; b=[float(x) for x in sys.argv[2].split()]
print("  mean native %.2f Gbit/s, shim %.2f Gbit/s, ratio %.3f" % (sum(a)/len(a)/1e9, sum(b)/len(b)/1e9, sum(b)/sum(a)))' "${nat[*]}" "${shm[*]}"

unshare -n bash "${BASH_SOURCE[0]}" --storm "$build"
