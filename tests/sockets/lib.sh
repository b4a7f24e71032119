# lib.sh - sourced by the socket shim's tests: paths, a private run directory for the
# proxy, cleanup, and small helpers. Every wait is bounded.
top_build=${CNIO_TOP_BUILDDIR:?run from make check}
export CNIO_SOCKETS_LIB=$top_build/sockets/.libs/libcnio_sockets.so
export CNIO_PROXY_BIN=$top_build/sockets/cnio-proxy
CNIO=${CNIO_BIN:-$top_build/src/cli/cnio}
PROXY=$CNIO_PROXY_BIN
SK_TMP=$(mktemp -d /tmp/cnio-shim-test.XXXXXX)
chmod 700 "$SK_TMP"
export CNIO_SOCKETS_RUNDIR=$SK_TMP/run
# The proxies' logs (stderr and final report), kept after they exit, for the tests to read.
export CNIO_SOCKETS_PROXY_LOG=$SK_TMP/proxy.log
SK_PIDS=()

# The pid of the proxy listening on socket $1 (from its own report), or nothing.
sk_proxy_pid() {
    "$PROXY" stats "$1" 2>/dev/null | awk '$1 == "proxy" && $2 == "pid" { print $3 }'
}

sk_cleanup() {
    local p s
    for p in "${SK_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for s in "$CNIO_SOCKETS_RUNDIR"/*.sock; do
        [ -S "$s" ] || continue
        p=$(sk_proxy_pid "$s")
        [ -n "$p" ] && kill "$p" 2>/dev/null
    done
    for p in "${SK_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$SK_TMP"
}
trap sk_cleanup EXIT

sk_fail() { echo "FAIL: $*"; exit 1; }
sk_skip() { echo "SKIP: $*"; exit 77; }

# A free TCP port on 127.0.0.1.
sk_free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits (at most $2 s, default 20) until something listens on TCP port $1 (without
# connecting: one-shot servers such as iperf3 -1 take the first connection they get).
sk_wait_port() {
    local i
    for i in $(seq $((${2:-20} * 10))); do
        [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ] && return 0
        sleep 0.1
    done
    return 1
}

# The one proxy socket in the run directory (after a `cnio run --sockets`).
sk_sock() {
    local s
    for s in "$CNIO_SOCKETS_RUNDIR"/*.sock; do [ -S "$s" ] && { echo "$s"; return 0; }; done
    return 1
}

# Value of field $2 on the line of the proxy report that starts with $1 (first match).
sk_stat() {
    "$PROXY" stats "$SK_SOCK" | awk -v k="$1" -v f="$2" '
        index($0, k) == 1 { for (i = 1; i < NF; i++) if ($i == f) { print $(i + 1); exit } }'
}
