#!/usr/bin/env bash
# scale-netns.sh - bench/scale.sh's measurement across network namespaces (scripts/netns.sh):
# M cnio-server hosts behind rate-limited links (tc tbf, no added latency), K client hosts
# holding the ranks, and optionally a round trip added to every server link (netem on the
# switch port toward each server, with the same rate), to see set-up cost against RTT.
#
#   bench/scale-netns.sh [--ranks "8 16 32 64"] [--servers M] [--clients K] [--rate R]
#                        [--delay MS] [--sizes "touch 1M"] [--reps R] [--build DIR]
#
#   --delay MS   one-way delay added toward every server (the RTT grows by MS); default 0
#   --sizes L    the writes to run: touch (8 bytes to every server per rank) and/or SIZE
#
# Runs `cnio bench --pattern open` (8 bytes to every server per rank) and with --size 1M
# (a collective write of 1 MiB per rank) at each rank count, old scheme (eager) and new
# (on_demand) in every repetition, and prints the same table as bench/scale.sh. Results go
# to bench/results/scale-netns-STAMP.{jsonl,txt}. Needs root; exit 77 when namespaces
# cannot be made here. Everything it starts it stops (trap); every mpirun is bounded.
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ranks="8 16 32 64" servers=4 clients=2 rate=1gbit delay=0 reps=3 sizes="touch 1M" PORT=7447
build=${CNIO_BUILD_DIR:-$top/_build}
while [ $# -gt 0 ]; do
  case $1 in
    --ranks) ranks=$2; shift ;;
    --servers) servers=$2; shift ;;
    --clients) clients=$2; shift ;;
    --rate) rate=$2; shift ;;
    --delay) delay=$2; shift ;;
    --sizes) sizes=$2; shift ;;
    --reps) reps=$2; shift ;;
    --build) build=$2; shift ;;
    -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "scale-netns.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
CNIO_BIN=$build/src/cli/cnio CNIO_SERVER_BIN=$build/src/server/cnio-server
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# shellcheck source=../scripts/netns.sh
. "$top/scripts/netns.sh"
netns_check >&2 || exit 77
work=$(mktemp -d /dev/shm/cnio-scale-netns-XXXXXX)
trap 'netns_down >/dev/null 2>&1; rm -rf "$work"' EXIT
netns_cleanup_stale >/dev/null
netns_up "$clients" "$servers" "$rate" >&2 || exit 1
if [ "$delay" != 0 ]; then
  bytes=$(netns__rate_bytes "$rate")
  for ((i = 0; i < servers; i++)); do
    ip netns exec "${NETNS_PREFIX}sw" tc qdisc replace dev "s$i" root netem \
      delay "${delay}ms" rate "$rate" limit $((bytes / 1000 * delay / 1000 + 10000)) || exit 1
  done
fi
timeout 20 "$CNIO_BIN" keygen -q "$work/key" || exit 1
hosts=
for ((i = 0; i < servers; i++)); do
  addr=${NETNS_SERVER_ADDRS[$i]}
  mkdir -p "$work/root$i"
  netns_exec "s$i" timeout -k 5 3600 "$CNIO_SERVER_BIN" --root "$work/root$i" \
    --listen "$addr:$PORT" --port-file "$work/port$i" --key "$work/key" --log-level warn \
    >"$work/server$i.log" 2>&1 &
  for ((t = 0; t < 150; t++)); do
    [ -s "$work/port$i" ] && netns_probe c0 "$addr" "$PORT" 2 && break
    sleep 0.1
  done
  hosts=$hosts${hosts:+,}$addr:$PORT
done
mkdir -p "$top/bench/results"
out=$top/bench/results/scale-netns-$(date -u +%Y%m%d-%H%M%S)
: >"$out.jsonl"
for n in $ranks; do
  list=
  for ((i = 0; i < clients; i++)); do
    k=$((n / clients + (i < n % clients ? 1 : 0)))
    [ "$k" -gt 0 ] && list=$list${list:+,}c$i:$k
  done
  for size in $sizes; do
    args=(--pattern open --reps "$reps" --json --hosts "$hosts" --key "$work/key")
    [ "$size" = touch ] || args+=(--size "$size")
    line=$(netns_mpirun -n "$n" --host "$list" "$CNIO_BIN" bench "${args[@]}" | grep '^{')
    if [ -z "$line" ]; then
      echo "scale-netns.sh: $n ranks, $size: no result; server logs in $out.logs/" >&2
      mkdir -p "$out.logs" && cp "$work"/server*.log "$out.logs/"
      exit 1
    fi
    echo "{\"write\":\"$size\",\"rate\":\"$rate\",\"delay_ms\":$delay,\"r\":$line}" >>"$out.jsonl"
    echo "scale-netns.sh: $n ranks, write $size done" >&2
  done
done
echo "rig: $clients client hosts, $servers servers at $rate each way, +$delay ms toward servers" |
  tee "$out.txt"
sed -n '/^\/usr\/bin\/python3 - /,/^EOF$/p' "$top/bench/scale.sh" | sed '1d;$d' >"$work/fit.py"
/usr/bin/python3 "$work/fit.py" "$out.jsonl" | tee -a "$out.txt"
echo "scale-netns.sh: results in $out.jsonl and $out.txt" >&2
