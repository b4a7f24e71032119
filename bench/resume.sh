#!/usr/bin/env bash
# What `cnio cp --resume` costs against the copy it saves, measured in the same run on this
# machine, over loopback, two cnio-servers, files in /dev/shm:
#
#   bench/resume.sh [--size 1G] [--reps 3] [--build DIR]
#
# Per repetition, alternating:
#   upload          `cnio cp` of a SIZE file to a fresh object
#   resume up       `cnio cp --resume` of the same file to that object: every chunk
#                   compared by CRC32C on both sides ("already there"), nothing moved
#   download        `cnio cp` of the object to a fresh local file
#   resume down     `cnio cp --resume` of the object to that file, left as its part file
#                   (DST.cnio-part, a download interrupted at its rename): compared,
#                   nothing moved, renamed
# and prints the wall seconds and the servers' CPU seconds (utime + stime from
# /proc/PID/stat) of each (median, min-max) and the resume / copy ratios. A resume that
# finds everything there should cost well under the copy (it moved 3.6 s against a 1.3 s
# upload while each CRC request faulted in a fresh buffer). Every process it starts it
# stops; every run is bounded by a timeout.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$top/bench/opts.sh"
bench_opts "${BASH_SOURCE[0]}" "$@"
bytes=$(numfmt --from=iec "$size")
export CNIO_SERVER_BIN=$build/src/server/cnio-server CNIO_BIN=$build/src/cli/cnio
for b in "$CNIO_SERVER_BIN" "$CNIO_BIN"; do
  [ -x "$b" ] || { echo "resume.sh: $b not built (make -C $build)" >&2; exit 1; }
done
. "$top/scripts/servers.sh"
work=$(mktemp -d /dev/shm/cnio-resume-XXXXXX)
trap 'servers_stop; rm -rf "$work"' EXIT
servers_start 2 "$work" >/dev/null
spids=${CNIO_SERVER_PIDS[*]}
tck=$(getconf CLK_TCK)
cpu() {   # the servers' CPU ticks
  local t=0 p
  for p in $spids; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat"))); done
  echo "$t"
}
uri=cnio://$CNIO_HOSTS/resume.dat
head -c "$bytes" /dev/urandom > "$work/src"

declare -A wall srv
# timed KEY CMD...: the wall and the servers' CPU seconds of CMD, added to KEY's lists
timed() {
  local key=$1 c0 t0 t1; shift
  c0=$(cpu); t0=$(date +%s.%N)
  timeout -k 5 300 "$@" >/dev/null
  t1=$(date +%s.%N)
  wall[$key]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') "
  srv[$key]+="$(awk -v a="$c0" -v b="$(cpu)" -v t="$tck" 'BEGIN { print (b - a) / t }') "
}
for ((r = 1; r <= reps; r++)); do
  timed up "$CNIO_BIN" cp -q "$work/src" "$uri"
  timed rup "$CNIO_BIN" cp -q --resume "$work/src" "$uri"
  timed down "$CNIO_BIN" cp -q "$uri" "$work/dl"
  mv "$work/dl" "$work/dl.cnio-part"
  timed rdown "$CNIO_BIN" cp -q --resume "$uri" "$work/dl"
  cmp -s "$work/src" "$work/dl" || { echo "resume.sh: download differs" >&2; exit 1; }
  rm -f "$work/dl"
  "$CNIO_BIN" rm "$uri" >/dev/null
done

echo "resume.sh: $size, $reps repetitions, load average $(cut -d' ' -f1 /proc/loadavg) at the end"
printf '%-12s %20s %26s\n' "" "wall s median min-max" "servers' CPU s median min-max"
declare -A med
for k in up rup down rdown; do
  read -r wm wl wh < <(bench_stats "${wall[$k]}")
  read -r cm cl ch < <(bench_stats "${srv[$k]}")
  med[$k]=$wm
  case $k in
    up) n=upload ;; rup) n="resume up" ;; down) n=download ;; rdown) n="resume down" ;;
  esac
  printf '%-12s %8s %11s %14s %11s\n' "$n" "$wm" "$wl-$wh" "$cm" "$cl-$ch"
done
awk -v a="${med[rup]}" -v b="${med[up]}" -v c="${med[rdown]}" -v d="${med[down]}" \
  'BEGIN { printf "resume / copy (wall): up %.2f, down %.2f\n", a / b, c / d }'
