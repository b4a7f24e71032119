# Sourceable: start and stop cnio-servers on loopback for scripts and tests.
#   servers_start N WORKDIR [extra cnio-server args...]
#       makes WORKDIR/key and WORKDIR/rootI, starts N servers on free loopback ports,
#       exports CNIO_KEY_FILE and sets CNIO_HOSTS="127.0.0.1:P0,127.0.0.1:P1,..."
#       With SERVERS_LOW_PORTS=1 the ports are picked at random below the kernel's
#       ephemeral range (20000-29999; a port in use is tried again): a test that kills a
#       server and starts it again on its port needs one that no client socket of a
#       test running beside it can be given meanwhile.
#   servers_stop        SIGTERM every server started, and waits for them
# Needs $CNIO_SERVER_BIN and $CNIO_BIN (paths of cnio-server and cnio).
CNIO_SERVER_PIDS=()

servers_start() {
  local n=$1 work=$2 i base=${#CNIO_SERVER_PIDS[@]}; shift 2
  CNIO_HOSTS=""
  "$CNIO_BIN" keygen -q "$work/key" || return 1
  export CNIO_KEY_FILE=$work/key
  for ((i = 0; i < n; i++)); do
    mkdir -p "$work/root$i"
    servers__one "$i" $((base + i)) "$work" "$@"
  done
  for ((i = 0; i < n; i++)); do
    local t try
    for try in $(seq 10); do
      for t in $(seq 100); do
        [ -s "$work/port$i" ] && break
        kill -0 "${CNIO_SERVER_PIDS[$((base + i))]}" 2>/dev/null || break   # bind failed
        sleep 0.1
      done
      [ -s "$work/port$i" ] || [ "${SERVERS_LOW_PORTS:-0}" != 1 ] && break
      wait "${CNIO_SERVER_PIDS[$((base + i))]}" 2>/dev/null
      servers__one "$i" $((base + i)) "$work" "$@"
    done
    if [ ! -s "$work/port$i" ]; then
      echo "cnio-server $i did not start:" >&2; cat "$work/server$i.log" >&2; return 1
    fi
    CNIO_HOSTS="$CNIO_HOSTS${CNIO_HOSTS:+,}127.0.0.1:$(cat "$work/port$i")"
  done
}

# Starts server $1 (root $3/root$1) as CNIO_SERVER_PIDS[$2].
servers__one() {
  local i=$1 slot=$2 work=$3 listen=127.0.0.1:0; shift 3
  [ "${SERVERS_LOW_PORTS:-0}" = 1 ] && listen=127.0.0.1:$((20000 + RANDOM % 10000))
  rm -f "$work/port$i"
  "$CNIO_SERVER_BIN" --root "$work/root$i" --listen "$listen" --port-file "$work/port$i" \
    --key "$work/key" --log-level warn "$@" 2>"$work/server$i.log" &
  CNIO_SERVER_PIDS[slot]=$!
}

servers_stop() {
  local p
  for p in "${CNIO_SERVER_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${CNIO_SERVER_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  CNIO_SERVER_PIDS=()
}
