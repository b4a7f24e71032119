# Sourceable: start and stop cnio-servers on loopback for scripts and tests.
#   servers_start N WORKDIR [extra cnio-server args...]
#       makes WORKDIR/key and WORKDIR/rootI, starts N servers on free loopback ports,
#       exports CNIO_KEY_FILE and sets CNIO_HOSTS="127.0.0.1:P0,127.0.0.1:P1,..."
#   servers_stop        SIGTERM every server started, and waits for them
# Needs $CNIO_SERVER_BIN and $CNIO_BIN (paths of cnio-server and cnio).
CNIO_SERVER_PIDS=()

servers_start() {
  local n=$1 work=$2 i; shift 2
  CNIO_HOSTS=""
  "$CNIO_BIN" keygen -q "$work/key" || return 1
  export CNIO_KEY_FILE=$work/key
  for ((i = 0; i < n; i++)); do
    mkdir -p "$work/root$i"
    "$CNIO_SERVER_BIN" --root "$work/root$i" --listen 127.0.0.1:0 --port-file "$work/port$i" \
      --key "$work/key" --log-level warn "$@" 2>"$work/server$i.log" &
    CNIO_SERVER_PIDS+=($!)
  done
  for ((i = 0; i < n; i++)); do
    local t
    for t in $(seq 100); do [ -s "$work/port$i" ] && break; sleep 0.1; done
    if [ ! -s "$work/port$i" ]; then
      echo "cnio-server $i did not start:" >&2; cat "$work/server$i.log" >&2; return 1
    fi
    CNIO_HOSTS="$CNIO_HOSTS${CNIO_HOSTS:+,}127.0.0.1:$(cat "$work/port$i")"
  done
}

servers_stop() {
  local p
  for p in "${CNIO_SERVER_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${CNIO_SERVER_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  CNIO_SERVER_PIDS=()
}
