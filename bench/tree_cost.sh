#!/usr/bin/env bash
# What one small file of a tree upload (or download) costs the servers: system calls
# and CPU per file.
#
#   bench/tree_cost.sh [--files 2000] [--ranks 1] [--down] [--strace] [--roots DIR]
#                      [--build DIR]
#
# Makes tests/cli/tree_make.py's tree (as bench/tree.sh does, symlinks left out), starts
# 2 cnio-servers on loopback with roots in /dev/shm (--roots: in a directory made
# beneath DIR, say on a disk, where each commit's fsyncs cost what they cost), uploads
# the tree once with `mpirun -n RANKS cnio cp -r -q --chunk 1M` (with --down: then
# downloads it back, and measures that), and prints the wall time, files/s, the
# client's CPU (/usr/bin/time of mpirun) and the servers' CPU per file (from
# /proc/PID/stat; not with --strace). With
# --strace, `strace -f -c` is attached to each server for the measured copy only, and
# each server's system-call table is printed with its total per file. CPU and call
# counts hold on a loaded machine where files/s does not.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
files=2000 ranks=1 trace=0 down=0 roots=/dev/shm build=${CNIO_BUILD_DIR:-$top/_build}
while [ $# -gt 0 ]; do
  case $1 in
    --files) files=$2; shift ;;
    --ranks) ranks=$2; shift ;;
    --strace) trace=1 ;;
    --down) down=1 ;;
    --build) build=$2; shift ;;
    --roots) roots=$2; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "tree_cost.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
cnio=$build/src/cli/cnio server=$build/src/server/cnio-server
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
work=$(mktemp -d /dev/shm/cnio-tree-cost-XXXXXX)
rootdir=$(mktemp -d "$roots/cnio-tree-cost-roots-XXXXXX")
spids=()
stop() {   # the servers themselves (a traced one's strace then writes its table and exits)
  local p
  for p in "${spids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 100); do
    local alive=0
    for p in "${spids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  spids=()
  wait 2>/dev/null || true
}
trap 'stop; rm -rf "$work" "$rootdir"' EXIT
/usr/bin/python3 "$top/tests/cli/tree_make.py" "$work/src" "$files" >/dev/null
find "$work/src" -type l -delete
nf=$(find "$work/src" -type f | wc -l)
"$cnio" keygen -q "$work/key"
export CNIO_KEY_FILE=$work/key
hosts=""
for i in 0 1; do
  mkdir -p "$rootdir/root$i"
  args=(--root "$rootdir/root$i" --listen 127.0.0.1:0 --port-file "$work/port$i" --key "$work/key"
        --log-level warn)
  "$server" "${args[@]}" 2>"$work/server$i.log" &
  sp=$!
  for _ in $(seq 100); do [ -s "$work/port$i" ] && break; sleep 0.1; done
  spids+=("$sp")
  hosts="$hosts${hosts:+,}127.0.0.1:$(cat "$work/port$i")"
done
ticks() { local s=0 p; for p in "${spids[@]}"; do s=$((s + $(awk '{ print $14 + $15 }' "/proc/$p/stat"))); done; echo $s; }
from=$work/src to=cnio://$hosts/t dir=up
if [ $down = 1 ]; then
  mpirun -n "$ranks" "$cnio" cp -r -q --chunk 1M "$work/src" "cnio://$hosts/t"
  from=cnio://$hosts/t to=$work/back dir=down
fi
tpids=()
if [ $trace = 1 ]; then
  for i in 0 1; do
    strace -f -c -o "$work/strace$i" -p "${spids[$i]}" 2>/dev/null &
    tpids+=($!)
  done
  sleep 0.5   # attached to every thread
fi
c0=$(ticks)
t0=$(date +%s.%N)
/usr/bin/time -f "%U %S" -o "$work/time" mpirun -n "$ranks" "$cnio" cp -r -q --chunk 1M "$from" "$to"
t1=$(date +%s.%N)
c1=$(ticks)
read -r cu cs <"$work/time"
awk -v n="$nf" -v a="$t0" -v b="$t1" -v cu="$cu" -v cs="$cs" -v st=$((c1 - c0)) -v tr=$trace -v d=$dir 'BEGIN {
  printf "tree_cost.sh: %d files %s in %.2f s, %.0f files/s; client CPU %.0f us a file", n, d, b - a, n / (b - a), (cu + cs) * 1e6 / n
  if (!tr) printf "; servers %.0f us a file", st * 1e4 / n
  printf "\n" }'
if [ $trace = 1 ]; then
  for p in "${tpids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${tpids[@]}"; do wait "$p" 2>/dev/null || true; done
  for i in 0 1; do
    echo "server $i:"
    awk -v n="$nf" '$NF == "total" { printf "  %d system calls, %.1f a file\n", $(NF - 2), $(NF - 2) / n }
      NR > 2 && $NF != "total" && /^ *[0-9]/ { c = ($(NF - 1) ~ /^[0-9]+$/ && NF == 6) ? $(NF - 2) : $4
      if (c / n >= 0.5) printf "  %-12s %5.1f a file\n", $NF, c / n }' "$work/strace$i"
  done
fi
