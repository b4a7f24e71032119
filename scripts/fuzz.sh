#!/usr/bin/env bash
# Builds cnio's fuzz targets for libFuzzer (clang, -fsanitize=fuzzer,address,undefined)
# and runs each from its seed corpus in tests/fuzz/corpus/TARGET.
#
#   scripts/fuzz.sh [-t SECONDS | -r RUNS] [TARGET...]
#
# Targets: wire, server, config, view, attach, skproto, meta, treelist, client, list,
# keyfile, fabmsg (default: all). Each runs for SECONDS (default 20) or RUNS executions;
# new inputs go to $CNIO_FUZZ_DIR/corpus-TARGET (default _build-fuzz/), crashes to
# $CNIO_FUZZ_DIR/crash-TARGET-*. Prints the executions of each run and exits non-zero
# when one crashed. Exits 0 with a note when clang cannot build a libFuzzer target here
# (scripts/check.sh calls it only when it can).
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${CNIO_FUZZ_DIR:-$top/_build-fuzz}
limit=(-max_total_time=20)
case ${1:-} in -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
while getopts "t:r:" opt; do
  case $opt in
    t) limit=(-max_total_time="$OPTARG") ;;
    r) limit=(-runs="$OPTARG") ;;
    *) echo "usage: $0 [-t SECONDS | -r RUNS] [TARGET...]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
targets=("${@:-wire server config view attach skproto meta treelist client list keyfile fabmsg}")
targets=(${targets[*]})
mkdir -p "$out"

fuzz_available() {
  printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }\n' \
    > "$out/probe.c"
  clang -fsanitize=fuzzer "$out/probe.c" -o "$out/probe" 2>/dev/null
}
if ! command -v clang >/dev/null || ! fuzz_available; then
  echo "fuzz.sh: clang with libFuzzer (clang, libclang-rt-dev) not found: nothing run"
  exit 0
fi

: > "$out/cnio_config.h"   # crc32c.c's configure header: no ISA-L here
cflags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
        -DCNIO_LIBFUZZER -D_GNU_SOURCE -I"$top/include" -I"$top/src" -I"$out")
core=(common log wire crc32c auth config env uri layout net)
core_src=("${core[@]/#/$top/src/}")
core_src=("${core_src[@]/%/.c}")

# attach parses the session description, whose fabric part exists only where the fabric
# transports do: every source of libcnio_core (src/*.c) and libfabric's headers, with its
# own configure header (libfabric is loaded with dlopen, so nothing more is linked).
fab_cflags=()
if pkg-config --exists libfabric 2>/dev/null; then
  mkdir -p "$out/fab"
  echo '#define HAVE_LIBFABRIC 1' > "$out/fab/cnio_config.h"
  fab_cflags=(-I"$out/fab" $(pkg-config --cflags libfabric))
fi
lib_src=("$top"/src/*.c)
[ ${#fab_cflags[@]} -gt 0 ] || lib_src=($(printf '%s\n' "${lib_src[@]}" | grep -v -e transport_ofi -e fabric_dl))

# Every server source but main.c (the fuzz target drives the server's own request path):
# a new file in src/server/ is in the target without a change here.
server_src=()
for f in "$top"/src/server/*.c; do [ "${f##*/}" = main.c ] || server_src+=("$f"); done

build() {   # build TARGET
  case $1 in
    wire)   clang "${cflags[@]}" "$top/tests/fuzz/fuzz_wire.c" "$top/src/wire.c" \
              "$top/src/crc32c.c" -lpthread -o "$out/fuzz_wire" ;;
    config) clang "${cflags[@]}" "$top/tests/fuzz/fuzz_config.c" "${core_src[@]}" \
              -lcrypto -lpthread -o "$out/fuzz_config" ;;
    server) clang "${cflags[@]}" -I"$top/src/server" "$top/tests/fuzz/fuzz_server.c" \
              "${server_src[@]}" "${core_src[@]}" \
              -lcrypto -lpthread -o "$out/fuzz_server" ;;
    attach) clang "${fab_cflags[@]}" "${cflags[@]}" "$top/tests/fuzz/fuzz_attach.c" \
              "${lib_src[@]}" -lcrypto -lpthread -ldl -o "$out/fuzz_attach" ;;
    # client (an endpoint over a transport of the target's own) and list (the LIST merge):
    # the client library, as attach
    client|list) clang "${fab_cflags[@]}" "${cflags[@]}" "$top/tests/fuzz/fuzz_$1.c" \
              "${lib_src[@]}" -lcrypto -lpthread -ldl -o "$out/fuzz_$1" ;;
    keyfile) clang "${cflags[@]}" "$top/tests/fuzz/fuzz_keyfile.c" "${core_src[@]}" \
              -lcrypto -lpthread -o "$out/fuzz_keyfile" ;;
    # fabmsg: what peers send over a fabric endpoint (src/fab_msg.c), and an endpoint
    # of the client library over a message transport of the target's own
    fabmsg) clang "${fab_cflags[@]}" "${cflags[@]}" "$top/tests/fuzz/fuzz_fabmsg.c" \
              "${lib_src[@]}" -lcrypto -lpthread -ldl -o "$out/fuzz_fabmsg" ;;
    skproto) clang "${cflags[@]}" -I"$top/sockets" "$top/tests/fuzz/fuzz_skproto.c" \
              "$top/sockets/skproto.c" -o "$out/fuzz_skproto" ;;
    meta)   clang "${cflags[@]}" -I"$top/src/server" "$top/tests/fuzz/fuzz_meta.c" \
              "${server_src[@]}" "${core_src[@]}" \
              -lcrypto -lpthread -o "$out/fuzz_meta" ;;
    # treelist: MPI's headers (tree.h is the command's), but no MPI function, so no libmpi
    treelist) clang "${cflags[@]}" -I"$top/src/cli" $(mpicc --showme:compile) "$top/tests/fuzz/fuzz_treelist.c" \
              "$top/src/cli/tree_list.c" -o "$out/fuzz_treelist" ;;
    view)   OMPI_CC=clang mpicc "${cflags[@]}" -I"$top/collective" \
              "$top/tests/fuzz/fuzz_view.c" "$top/collective/view.c" "$top/collective/flatten.c" "${core_src[@]}" \
              -lcrypto -lpthread -o "$out/fuzz_view" ;;
    *) echo "fuzz.sh: unknown target $1" >&2; return 2 ;;
  esac
}

status=0
for t in "${targets[@]}"; do
  build "$t"
  mkdir -p "$out/corpus-$t"
  log="$out/fuzz-$t.log"
  # ASan's leak check is off for view: Open MPI's own allocations would drown it.
  leak=1; [ "$t" = view ] && leak=0
  # skproto's messages run to 8 KiB (CNIO__SKP_MAX): room for two back to back.
  maxlen=4096; [ "$t" = skproto ] && maxlen=16384
  if ASAN_OPTIONS=detect_leaks=$leak:abort_on_error=1 \
     "$out/fuzz_$t" "${limit[@]}" -max_len=$maxlen -rss_limit_mb=4096 -print_final_stats=1 \
       -artifact_prefix="$out/crash-$t-" "$out/corpus-$t" "$top/tests/fuzz/corpus/$t" \
       >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz.sh: $t: ${runs:-?} executions, no crash (${limit[*]}; log $log)"
  else
    echo "fuzz.sh: $t: FAILED, log $log:"; tail -n 40 "$log"; status=1
  fi
done
exit $status
