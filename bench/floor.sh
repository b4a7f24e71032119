#!/usr/bin/env bash
# A cnio-server's CPU per GiB against the kernel's floor, measured in the same run on this
# machine, over loopback, with files in /dev/shm:
#
#   bench/floor.sh [--size 1G] [--reps 3] [--build DIR]
#
# Per repetition, alternating:
#   server write   `cnio cp` of a SIZE file to one cnio-server: the server's CPU (utime +
#                  stime from /proc/PID/stat) over the upload; fresh tmpfs pages each time
#   bare write     bench/tcpsource --size SIZE into bench/tcpsink --crc --out FILE: the bare
#                  recv + CRC32C + pwrite loop a WRITE needs at least
#   server read    `cnio cp` of the object back: the server's CPU over the download
#                  (block CRCs combined, payload by sendfile)
#   bare read      bench/tcpsource --sendfile FILE into bench/tcpsink (discarding): the bare
#                  page cache -> socket loop a READ needs at least
# and prints CPU seconds per GiB of each (median, min-max) and the server / bare ratios.
# On loopback the receiver's TCP path runs in the sender's softirqs and is charged to the
# sender, on both sides of each comparison alike. Every process it starts it stops; every
# run is bounded by a timeout. About 20 s for the defaults on 2 cores.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$top/bench/opts.sh"
bench_opts "${BASH_SOURCE[0]}" "$@"
bytes=$(numfmt --from=iec "$size")
server=$build/src/server/cnio-server cnio=$build/src/cli/cnio
for b in "$server" "$cnio" "$build/bench/tcpsink" "$build/bench/tcpsource"; do
  [ -x "$b" ] || { echo "floor.sh: $b not built (make -C $build)" >&2; exit 1; }
done
work=$(mktemp -d /dev/shm/cnio-floor-XXXXXX)
spid=''
cleanup() {
  [ -n "$spid" ] && kill -TERM "$spid" 2>/dev/null && wait "$spid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

tck=$(getconf CLK_TCK)
cpu_of() { awk -v t="$tck" '{ printf "%.4f\n", ($14 + $15) / t }' "/proc/$1/stat"; }
per_gib() { awk -v c="$1" -v b="$bytes" 'BEGIN { printf "%.4f\n", c / (b / 1073741824) }'; }
sink_cpu() { sed -n 's/.*, cpu \([0-9.]*\) s.*/\1/p' "$1"; }

"$cnio" keygen -q "$work/key"
mkdir -p "$work/root"
"$server" --root "$work/root" --listen 127.0.0.1:0 --port-file "$work/port" --key "$work/key" \
  --log-level warn 2>"$work/server.log" &
spid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { echo "floor.sh: cnio-server did not start" >&2; cat "$work/server.log" >&2; exit 1; }
export CNIO_KEY_FILE=$work/key
uri=cnio://127.0.0.1:$(cat "$work/port")/floor.dat
head -c "$bytes" /dev/urandom > "$work/src"

# bare LOG [SINK ARGS...] -- SOURCE ARGS...: one tcpsource -> tcpsink run; the sink's or
# the source's CPU seconds (whichever side is measured) are read from their output.
bare() {
  local log=$1 sargs=() pf=$work/sink.port sink; shift
  while [ "$1" != "--" ]; do sargs+=("$1"); shift; done; shift
  rm -f "$pf"
  timeout -k 5 120 "$build/bench/tcpsink" --port-file "$pf" --timeout 60 "${sargs[@]}" \
    >"$log.sink" 2>&1 &
  sink=$!
  for _ in $(seq 100); do [ -s "$pf" ] && break; sleep 0.05; done
  timeout -k 5 120 "$build/bench/tcpsource" --connect "127.0.0.1:$(cat "$pf")" "$@" >"$log.source"
  wait "$sink"
}

declare -A got
for ((r = 1; r <= reps; r++)); do
  c0=$(cpu_of "$spid")
  timeout -k 5 120 "$cnio" cp -q "$work/src" "$uri"
  c1=$(cpu_of "$spid")
  got[sw]+="$(per_gib "$(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }')") "

  bare "$work/bw" --crc --out "$work/bare.out" -- --size "$bytes"
  got[bw]+="$(per_gib "$(sink_cpu "$work/bw.sink")") "
  rm -f "$work/bare.out"

  c0=$(cpu_of "$spid")
  timeout -k 5 120 "$cnio" cp -q "$uri" "$work/dl"
  c1=$(cpu_of "$spid")
  got[sr]+="$(per_gib "$(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }')") "
  cmp -s "$work/src" "$work/dl" || { echo "floor.sh: download differs" >&2; exit 1; }
  rm -f "$work/dl"

  bare "$work/br" -- --sendfile "$work/src"
  got[br]+="$(per_gib "$(sink_cpu "$work/br.source")") "
  "$cnio" rm "$uri" >/dev/null   # fresh tmpfs pages for the next upload
done

read -r swm swl swh < <(bench_stats "${got[sw]}")
read -r bwm bwl bwh < <(bench_stats "${got[bw]}")
read -r srm srl srh < <(bench_stats "${got[sr]}")
read -r brm brl brh < <(bench_stats "${got[br]}")
echo "floor.sh: $size, $reps repetitions, load average $(cut -d' ' -f1 /proc/loadavg) at the end"
printf '%-44s %8s %15s\n' "CPU s per GiB" median min-max
printf '%-44s %8s %15s\n' "cnio-server WRITE (recv, CRC32C, pwrite, sums)" "$swm" "$swl-$swh"
printf '%-44s %8s %15s\n' "bare recv + CRC32C + pwrite (tcpsink --crc)" "$bwm" "$bwl-$bwh"
printf '%-44s %8s %15s\n' "cnio-server READ (block sums, sendfile)" "$srm" "$srl-$srh"
printf '%-44s %8s %15s\n' "bare sendfile (tcpsource --sendfile)" "$brm" "$brl-$brh"
awk -v a="$swm" -v b="$bwm" -v c="$srm" -v d="$brm" \
  'BEGIN { printf "server / bare: write %.2f, read %.2f\n", a / b, c / d }'
