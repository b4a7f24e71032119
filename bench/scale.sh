#!/usr/bin/env bash
# scale.sh - connection set-up at growing rank counts (doc/scale.md): the old scheme
# (cnio_connect_mode=eager: every rank to every server at open, in waves of
# cnio_connect_window ranks separated by barriers) against the new one (on_demand: a rank
# connects to the servers its access touches, paced per server by token passing), both
# from one build.
#
#   bench/scale.sh [--ranks "8 16 32 64"] [--servers M] [--reps R] [--build DIR]
#
# For each rank count N (oversubscribed on this machine), against M cnio-servers on
# loopback (default 4), it runs
#   mpirun -n N cnio bench --pattern open             open + a write of 8 bytes to every
#                                                     server per rank + close (the most
#                                                     connections a job can need)
#   mpirun -n N cnio bench --pattern open --size 1M   open + a collective write of 1 MiB
#                                                     per rank + close
# each timing both schemes in every repetition, and prints per N: open ms, open+write+close
# ms and connections on the busiest server, then a least-squares line (ms = a + b x N) per
# scheme and figure. JSON lines go to bench/results/scale-STAMP.jsonl, the table beside it
# (.txt). Every mpirun is bounded by a timeout; the servers are stopped on exit.
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ranks="8 16 32 64" servers=4 reps=3
build=${CNIO_BUILD_DIR:-$top/_build}
while [ $# -gt 0 ]; do
  case $1 in
    --ranks) ranks=$2; shift ;;
    --servers) servers=$2; shift ;;
    --reps) reps=$2; shift ;;
    --build) build=$2; shift ;;
    -h|--help) sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "scale.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
export CNIO_BIN=$build/src/cli/cnio CNIO_SERVER_BIN=$build/src/server/cnio-server
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# shellcheck source=../scripts/servers.sh
. "$top/scripts/servers.sh"
work=$(mktemp -d /dev/shm/cnio-scale-XXXXXX)
trap 'servers_stop; rm -rf "$work"' EXIT
servers_start "$servers" "$work" || exit 1
mkdir -p "$top/bench/results"
stamp=$(date -u +%Y%m%d-%H%M%S)
out=$top/bench/results/scale-$stamp
: >"$out.jsonl"
for n in $ranks; do
  for size in touch 1M; do
    args=(--pattern open --reps "$reps" --json --hosts "$CNIO_HOSTS")
    [ "$size" = touch ] || args+=(--size "$size")
    line=$(timeout -k 10 600 mpirun -n "$n" --oversubscribe --mca btl self,vader,tcp \
             --mca btl_vader_single_copy_mechanism none "$CNIO_BIN" bench "${args[@]}" |
           grep '^{')
    [ -n "$line" ] || { echo "scale.sh: $n ranks, $size: no result" >&2; exit 1; }
    echo "{\"write\":\"$size\",\"r\":$line}" >>"$out.jsonl"
    echo "scale.sh: $n ranks, write $size done" >&2
  done
done
/usr/bin/python3 - "$out.jsonl" <<'EOF' | tee "$out.txt"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("ranks write      eager: open ms  total ms  conns/srv | on_demand: open ms  total ms  conns/srv")
fits = {}
for r in rows:
    d = r["r"]
    n = d["ranks"]
    print("%5d %-6s %15.1f %9.1f %10d | %19.1f %9.1f %10d" % (
        n, r["write"], d["eager_open_ms"], d["eager_ms"], d["eager_conns_per_server"],
        d["on_demand_open_ms"], d["on_demand_ms"], d["on_demand_conns_per_server"]))
    for k in ("eager", "on_demand"):
        for f in ("open_ms", "ms", "conns_per_server"):
            fits.setdefault((r["write"], k, f), []).append((n, d["%s_%s" % (k, f)]))
print("\nleast squares y = a + b x ranks (medians of %d repetitions)" % rows[0]["r"]["reps"])
for (w, k, f), pts in sorted(fits.items()):
    if len(pts) < 2:
        continue
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    b = sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx if sxx else 0.0
    print("  write %-6s %-9s %-17s a = %9.2f  b = %8.3f per rank" % (w, k, f, my - b * mx, b))
EOF
echo "scale.sh: results in $out.jsonl and $out.txt" >&2
