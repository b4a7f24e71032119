#!/usr/bin/env bash
# netns-rig.sh - cnio against rate-limited links: a multi-host rig made of network
# namespaces (scripts/netns.sh), M cnio-server hosts each behind a link that tc tbf limits
# to RATE in both directions, K client hosts where mpirun places N ranks.
#
#   bench/netns-rig.sh [--servers M] [--clients K] [--ranks N] [--rate RATE] [--size SIZE]
#                      [--transports LIST] [--loss LIST] [--reps R] [--quick]
#                      [--build DIR] [--no-build] [--keep]
#
#   --servers M   server hosts, each with a cnio-server whose root is in /dev/shm (default 2)
#   --clients K   client hosts; the N ranks are spread over them evenly (default 2)
#   --ranks N     MPI ranks (default 4)
#   --rate RATE   tc rate of every server link, each way: 100mbit, 1gbit... (default 1gbit)
#   --size SIZE   bytes per rank (K, M, G suffixes); default: what makes one collective
#                 phase to all M servers last about 2 s at M x RATE (1 s with --quick)
#   --transports LIST  cnio transports to run, comma-separated: tcp, ofi (tcp;ofi_rxm),
#                 udp (udp;ofi_rxd) (default tcp; ofi and udp need a libfabric build)
#   --loss LIST   packet loss rates to run, comma-separated (default 0): iptables in each
#                 server host drops that fraction of the packets on its link, both ways
#                 (-m statistic --mode random); "0,0.01" gives a table without loss and
#                 one with 1%, in the same run
#   --reps R      repetitions; the table gives the median of each figure (default 3)
#   --quick       1 repetition of 1 s phases
#   --build DIR   the build tree with cnio, cnio-server, bench/gather0, bench/tcpsink
#                 (default $CNIO_BUILD_DIR, else _build/ beside the sources)
#   --no-build    do not run scripts/build.sh first (it is incremental)
#   --keep        keep the work directory in /dev/shm (server logs)
#
# Each repetition runs, at each loss rate, one after another (so that drift hits all
# alike):
#   cnio M      for each transport T, mpirun -n N cnio bench --pattern contiguous --reps 1
#               --transport T to all M servers: a collective write, then a read (GB/s of
#               the slowest rank's phase)
#   cnio 1      the same to server s0 alone (the first transport only)
#   gather0     bench/gather0: MPI_Gatherv to rank 0, then one TCP stream to bench/tcpsink
#               in s0, which writes it to a file in /dev/shm
# and prints, per loss rate, the medians with their fraction of the link limit (M x RATE,
# or RATE) and, without loss, the targets: cnio >= 0.9 x M x RATE for every transport;
# cnio >= M x gather0 for the first. Under loss it reports the fractions only.
# "busy" is the machine's CPU use (all cores, /proc/stat) over the whole mpirun, start-up
# included; "ranks" is the cores the ranks used during the phase (CPU s/GB x GB/s).
# The table and a CSV go to bench/results/netns-rig-STAMP.{txt,csv}.
#
# Needs root (network namespaces). Exit: 0 done (targets met or not), 1 error, 2 usage,
# 77 when namespaces cannot be made here. Everything it starts it stops (trap); every run
# is bounded by a timeout. Default run (1gbit, 2 servers, 4 ranks, tcp, no loss): about
# 1.5 minutes; with --transports tcp,ofi,udp --loss 0,0.01, about 5.
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

servers=2 clients=2 ranks=4 rate=1gbit size='' reps=3 quick=0 keep=0 do_build=1
transports=tcp losses=0
build=${CNIO_BUILD_DIR:-$top/_build}
phase_s=2                       # target seconds of one phase to all M servers
PORT=7447
work='' server_pids=() sink_pid='' t_start=$SECONDS

rig_usage() {   # the header comment, whole
  awk 'NR > 1 && !/^#/ { exit } NR > 1' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit "${1:-2}"
}
rig_log() { echo "netns-rig: $*" >&2; }
rig_die() { rig_log "ERROR: $*"; exit 1; }

rig_parse() {
  while [ $# -gt 0 ]; do
    case $1 in
      --servers|--clients|--ranks|--rate|--size|--reps|--build|--transports|--loss)
        [ $# -ge 2 ] || { rig_log "$1 needs a value"; rig_usage; } ;;
    esac
    case $1 in
      --servers) servers=$2; shift ;;
      --clients) clients=$2; shift ;;
      --ranks) ranks=$2; shift ;;
      --rate) rate=$2; shift ;;
      --size) size=$2; shift ;;
      --reps) reps=$2; shift ;;
      --transports) transports=${2//,/ }; shift ;;
      --loss) losses=${2//,/ }; shift ;;
      --build) build=$2; shift ;;
      --quick) quick=1 ;;
      --no-build) do_build=0 ;;
      --keep) keep=1 ;;
      -h|--help) rig_usage 0 ;;
      *) rig_log "unknown option $1"; rig_usage ;;
    esac
    shift
  done
  if [ "$quick" = 1 ]; then
    reps=1 phase_s=1
  fi
  local v
  for v in servers clients ranks reps; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { rig_log "--$v must be a positive integer"; rig_usage; }
  done
  for v in $transports; do
    case $v in tcp|ofi|udp) ;; *) rig_log "unknown transport '$v'"; rig_usage ;; esac
  done
  for v in $losses; do
    [[ $v =~ ^(0|0?\.[0-9]+|1)$ ]] || { rig_log "bad loss rate '$v' (0 to 1)"; rig_usage; }
  done
  [ -n "$transports" ] && [ -n "$losses" ] || rig_usage
}

# Bytes of a SIZE with an optional K, M or G suffix.
rig_bytes() {
  case $1 in
    *K) echo $((${1%K} << 10)) ;; *M) echo $((${1%M} << 20)) ;;
    *G) echo $((${1%G} << 30)) ;; *) echo "$1" ;;
  esac
}

# Sets rate_bytes (bytes/s of one link), size/bytes (per rank) and run_timeout.
rig_sizes() {
  rate_bytes=$(netns__rate_bytes "$rate") || { rig_log "bad rate '$rate'"; rig_usage; }
  if [ -z "$size" ]; then
    # One phase to all M servers: N x bytes / (M x rate) = phase_s; in whole MiB, >= 1 MiB.
    size=$(awk -v r="$rate_bytes" -v m="$servers" -v n="$ranks" -v t="$phase_s" \
           'BEGIN { s = int(r * m * t / n / 1048576); print (s < 1 ? 1 : s) "M" }')
  fi
  [[ $size =~ ^[1-9][0-9]*[KMG]?$ ]] || { rig_log "bad --size '$size'"; rig_usage; }
  bytes=$(rig_bytes "$size")
  [ "$bytes" -le $((2047 << 20)) ] || { rig_log "--size must be at most 2047M"; rig_usage; }
  # The slowest run (cnio 1: a write and a read through one link), 4 times over, + 60 s.
  run_timeout=$(awk -v b="$bytes" -v n="$ranks" -v r="$rate_bytes" \
                'BEGIN { printf "%d", 60 + 4 * 2 * b * n / r }')
  export NETNS_MPIRUN_TIMEOUT=$run_timeout
}

rig_cleanup() {
  local rc=$? p
  trap - EXIT INT TERM
  for p in "${server_pids[@]}" $sink_pid; do kill -TERM "$p" 2>/dev/null; done
  for p in "${server_pids[@]}" $sink_pid; do
    timeout 10 tail --pid="$p" -f /dev/null 2>/dev/null
  done
  netns_down >/dev/null
  if [ -n "$work" ] && [ -d "$work" ]; then
    if [ "$keep" = 1 ]; then rig_log "work directory kept: $work"; else rm -rf "$work"; fi
  fi
  rig_log "done in $((SECONDS - t_start)) s, exit $rc"
  exit "$rc"
}

# Exits 77 when the rig cannot be made here; 1 when the programs are missing.
rig_check() {
  local t why
  for t in ip tc mpirun timeout unshare awk; do
    command -v "$t" >/dev/null 2>&1 || { rig_log "SKIP: the $t command is missing"; exit 77; }
  done
  if ! why=$(netns_check 2>&1); then
    rig_log "SKIP: network namespaces cannot be made here: ${why#netns: }"
    exit 77
  fi
  if [ "$do_build" = 1 ]; then
    rig_log "building cnio in $build"
    CNIO_BUILD_DIR=$build bash "$top/scripts/build.sh" || rig_die "build failed"
  fi
  CNIO_BIN=$build/src/cli/cnio CNIO_SERVER_BIN=$build/src/server/cnio-server
  for t in "$CNIO_BIN" "$CNIO_SERVER_BIN" "$build/bench/gather0" "$build/bench/tcpsink"; do
    [ -x "$t" ] || rig_die "$t is missing (build first, or give --build DIR)"
  done
  srv_fabric=()
  case " $transports " in
  *" ofi "*|*" udp "*)
    grep -q "^#define HAVE_LIBFABRIC 1" "$build/cnio_config.h" 2>/dev/null ||
      rig_die "--transports $transports: the build in $build has no libfabric"
    srv_fabric=(--transport tcp,ofi,udp --ofi-provider 'tcp;ofi_rxm') ;;
  esac
  case $losses in
  0) ;;
  *) command -v iptables >/dev/null 2>&1 || { rig_log "SKIP: --loss needs iptables"; exit 77; } ;;
  esac
}

# Drops packets with probability $1 on every server host's link, both ways (replacing
# any earlier rule); 0 removes them.
rig_set_loss() {
  local i
  for ((i = 0; i < servers; i++)); do
    netns_exec "s$i" iptables -F INPUT && netns_exec "s$i" iptables -F OUTPUT || return 1
    [ "$1" = 0 ] && continue
    netns_exec "s$i" iptables -A INPUT -i eth0 -m statistic --mode random \
      --probability "$1" -j DROP &&
      netns_exec "s$i" iptables -A OUTPUT -o eth0 -m statistic --mode random \
        --probability "$1" -j DROP || return 1
  done
}

# Starts cnio-server in s$1 (root in the work directory) and waits until c0 reaches it.
rig_start_server() {
  local i=$1 addr=${NETNS_SERVER_ADDRS[$1]} t
  mkdir -p "$work/root$i" || return 1
  netns_exec "s$i" timeout -k 5 $((run_timeout * (3 * reps + 2) * runs)) "$CNIO_SERVER_BIN" \
    --root "$work/root$i" --listen "$addr:$PORT" --port-file "$work/port$i" \
    --key "$work/key" --log-level warn "${srv_fabric[@]}" >"$work/server$i.log" 2>&1 &
  server_pids[i]=$!
  for ((t = 0; t < 150; t++)); do
    kill -0 "${server_pids[$i]}" 2>/dev/null || { rig_log "cnio-server in s$i exited"; return 1; }
    [ -s "$work/port$i" ] && netns_probe c0 "$addr" "$PORT" 2 && return 0
    sleep 0.1
  done
  rig_log "cnio-server in s$i not reachable from c0 within 15 s"
  return 1
}

# The --host list that spreads the N ranks over the K clients (c0:2,c1:2).
rig_hosts() {
  local i n list=
  for ((i = 0; i < clients; i++)); do
    n=$((ranks / clients + (i < ranks % clients ? 1 : 0)))
    [ "$n" -gt 0 ] && list=$list${list:+,}c$i:$n
  done
  echo "$list"
}

# Idle and total jiffies of all cores, from /proc/stat.
rig_cpu() { awk '$1 == "cpu" { t = 0; for (i = 2; i <= 9; i++) t += $i; print $5 + $6, t }' /proc/stat; }

# The busy fraction of the machine between two rig_cpu readings.
rig_busy() {
  awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " "); t = y[2] - x[2];
    busy = 0; if (t > 0) busy = 1 - (y[1] - x[1]) / t; printf "%.2f", busy }'
}

# A number from a one-line JSON object: rig_jnum JSON KEY.
rig_jnum() { sed -n "s/.*\"$2\":\([-0-9.e+]*\).*/\1/p" <<<"$1" | head -1; }

# row TOOL OP SERVERS GBPS CPU_S_PER_GB BUSY (at loss rate $loss)
rig_row() { echo "$rep,$loss,$1,$2,$3,$4,$5,$6" >>"$csv"; }

# cnio bench over transport $2 to the first $1 servers: one collective write, then read.
rig_run_cnio() {
  local m=$1 t=$2 hosts out c0 c1 op i args=(--transport "$2")
  [ "$t" = ofi ] && args+=(-o 'cnio_ofi_provider=tcp;ofi_rxm')
  hosts=$(for ((i = 0; i < m; i++)); do echo "${NETNS_SERVER_ADDRS[$i]}:$PORT"; done | paste -sd,)
  c0=$(rig_cpu)
  out=$(netns_mpirun -n "$ranks" --host "$host_list" "$CNIO_BIN" bench --pattern contiguous \
        --size "$size" --reps 1 --hosts "$hosts" --key "$work/key" --json "${args[@]}") ||
    { rig_log "cnio bench over $t to $m server(s) failed"; return 1; }
  c1=$(rig_cpu)
  for op in write read; do
    rig_row "cnio-$t" "$op" "$m" "$(rig_jnum "$out" "${op}_gbps")" \
      "$(rig_jnum "$out" "${op}_cpu_s_per_gb")" "$(rig_busy "$c0" "$c1")"
  done
}

# gather0 to a tcpsink in s0 writing to /dev/shm.
rig_run_gather0() {
  local addr=${NETNS_SERVER_ADDRS[0]} pf=$work/sink.port out c0 c1 t
  rm -f "$pf"
  netns_exec s0 timeout -k 5 "$run_timeout" "$build/bench/tcpsink" --listen "$addr:0" \
    --port-file "$pf" --out "$work/sink.dat" --timeout 60 >"$work/sink.log" 2>&1 &
  sink_pid=$!
  for ((t = 0; t < 100; t++)); do [ -s "$pf" ] && break; sleep 0.05; done
  [ -s "$pf" ] || { rig_log "tcpsink in s0 did not start"; return 1; }
  c0=$(rig_cpu)
  out=$(netns_mpirun -n "$ranks" --host "$host_list" "$build/bench/gather0" --size "$size" \
        --json "$addr:$(cat "$pf")") || { rig_log "gather0 failed"; return 1; }
  c1=$(rig_cpu)
  wait "$sink_pid" || { rig_log "tcpsink failed: $(cat "$work/sink.log")"; return 1; }
  sink_pid=
  rm -f "$work/sink.dat"
  rig_row gather0 write 1 "$(rig_jnum "$out" write_gbps)" \
    "$(rig_jnum "$out" write_cpu_s_per_gb)" "$(rig_busy "$c0" "$c1")"
}

# Bytes switch port $1 has sent toward its host.
rig_port_tx() { netns_exec sw cat "/sys/class/net/$1/statistics/tx_bytes"; }

# One repetition at loss rate $loss; the first also checks that every server link
# carried its share.
rig_rep() {
  local i tx=() d t first=${transports%% *}
  for t in $transports; do
    for ((i = 0; i < servers; i++)); do tx[i]=$(rig_port_tx "s$i"); done
    rig_log "rep $rep/$reps, loss $loss: cnio over $t to $servers server(s)"
    rig_run_cnio "$servers" "$t" || return 1
    for ((i = 0; rep == 1 && i < servers; i++)); do
      d=$(($(rig_port_tx "s$i") - tx[i]))
      if [ "$d" -lt $((bytes * ranks / servers / 2)) ]; then
        rig_log "server link s$i carried $d bytes of a $((bytes * ranks))-byte write over $t"
        return 1
      fi
    done
  done
  if [ "$servers" -gt 1 ]; then
    rig_log "rep $rep/$reps, loss $loss: cnio over $first to server s0 alone"
    rig_run_cnio 1 "$first" || return 1
  fi
  rig_log "rep $rep/$reps, loss $loss: gather0 to tcpsink in s0"
  rig_run_gather0
}

# Median of field $4 (6 GB/s, 7 CPU s/GB, 8 busy) of TOOL OP SERVERS at loss $loss, or "-".
rig_med() {
  awk -F, -v l="$loss" -v t="$1" -v o="$2" -v s="$3" -v f="$4" \
    'NR > 1 && $2 == l && $3 == t && $4 == o && $5 == s && $f != "" { print $f }' "$csv" |
    sort -g |
    awk '{ v[NR] = $1 } END { if (!NR) print "-"; else if (NR % 2) print v[(NR + 1) / 2];
                             else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# rig_line LABEL TOOL OP SERVERS LIMIT_LINKS: GB/s, fraction of the limit, CPU.
rig_line() {
  local g c b
  g=$(rig_med "$2" "$3" "$4" 6) c=$(rig_med "$2" "$3" "$4" 7) b=$(rig_med "$2" "$3" "$4" 8)
  awk -v l="$1" -v g="$g" -v c="$c" -v b="$b" -v k="$5" -v r="$rate_bytes" 'BEGIN {
    f = g == "-" ? "-" : sprintf("%.3f", g * 1e9 / (k * r));
    u = (g == "-" || c == "-") ? "-" : sprintf("%.2f", g * c);
    printf "%-34s %7s %8.4f %8s %6s %6s\n", l, g, k * r / 1e9, f, u, b }'
}

# rig_target TEXT VALUE MIN: one line with the verdict and the shortfall.
rig_target() {
  awk -v t="$1" -v v="$2" -v m="$3" 'BEGIN {
    if (v == "-") { printf "  %-44s %7s  (no figure)\n", t, "-"; exit }
    ok = v + 0 >= m + 0;
    printf "  %-44s %7.3f  %s", t, v, ok ? "met" : "MISSED";
    if (!ok) printf " by %.1f%%", 100 * (m - v) / m;
    printf "\n" }'
}

rig_ratio() {
  awk -v a="$1" -v b="$2" -v d="$3" 'BEGIN {
    print (a == "-" || b == "-" || b + 0 == 0) ? "-" : sprintf("%.3f", a / b / d) }'
}

rig_summary() {
  echo "cnio bench/netns-rig.sh, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores" \
       "($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), Linux $(uname -r)"
  echo "$servers server host(s) behind tc tbf $rate each way; $clients client host(s)," \
       "$ranks ranks ($host_list); $size per rank; median of $reps; GB/s = 10^9 bytes/s"
  echo "load average before: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)"
  for loss in $losses; do
    echo
    rig_summary_loss
  done
}

# The table of loss rate $loss, and its targets when it is 0.
rig_summary_loss() {
  local m=$servers t first=${transports%% *} cw cr g0 lim
  lim=$(awk -v r="$rate_bytes" -v m="$m" 'BEGIN { print r * m / 1e9 }')
  [ "$loss" = 0 ] && echo "without loss:" || echo "loss $loss on every server link, both ways:"
  printf '%-34s %7s %8s %8s %6s %6s\n' run GB/s limit fraction ranks busy
  for t in $transports; do
    rig_line "cnio $t write, $m server(s)" "cnio-$t" write "$m" "$m"
    rig_line "cnio $t read, $m server(s)" "cnio-$t" read "$m" "$m"
  done
  if [ "$m" -gt 1 ]; then
    rig_line "cnio $first write, s0 alone" "cnio-$first" write 1 1
    rig_line "cnio $first read, s0 alone" "cnio-$first" read 1 1
  fi
  rig_line "gather0 + 1 TCP stream to s0" gather0 write 1 1
  [ "$loss" = 0 ] || return 0
  echo
  echo "targets (value / goal):"
  for t in $transports; do
    cw=$(rig_med "cnio-$t" write "$m" 6) cr=$(rig_med "cnio-$t" read "$m" 6)
    rig_target "cnio $t write / (0.9 x $m x $rate)" "$(rig_ratio "$cw" "$lim" 0.9)" 1
    rig_target "cnio $t read / (0.9 x $m x $rate)" "$(rig_ratio "$cr" "$lim" 0.9)" 1
  done
  cw=$(rig_med "cnio-$first" write "$m" 6) cr=$(rig_med "cnio-$first" read "$m" 6)
  g0=$(rig_med gather0 write 1 6)
  rig_target "cnio $first write / ($m x gather0)" "$(rig_ratio "$cw" "$g0" "$m")" 1
  rig_target "cnio $first read / ($m x gather0)" "$(rig_ratio "$cr" "$g0" "$m")" 1
}

rig_main() {
  local i
  rig_parse "$@"
  # shellcheck source=/dev/null
  . "$top/scripts/netns.sh" || rig_die "cannot load scripts/netns.sh"
  rig_sizes
  runs=$(($(wc -w <<<"$losses") * $(wc -w <<<"$transports")))
  rig_check
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  trap rig_cleanup EXIT
  trap 'rig_log "interrupted"; exit 130' INT
  trap 'rig_log "terminated"; exit 143' TERM
  netns_cleanup_stale >/dev/null
  work=$(mktemp -d /dev/shm/cnio-netns-rig-XXXXXX) || rig_die "mktemp in /dev/shm"
  netns_up "$clients" "$servers" "$rate" >&2 || rig_die "cannot set up the namespaces"
  timeout 20 "$CNIO_BIN" keygen -q "$work/key" || rig_die "cnio keygen"
  for ((i = 0; i < servers; i++)); do
    rig_start_server "$i" || rig_die "server s$i did not start"
  done
  host_list=$(rig_hosts)
  stamp=$(date +%Y%m%d-%H%M%S)
  mkdir -p "$top/bench/results" || rig_die "cannot make bench/results"
  csv=$top/bench/results/netns-rig-$stamp.csv txt=$top/bench/results/netns-rig-$stamp.txt
  echo "rep,loss,tool,op,servers,gbps,cpu_s_per_gb,busy" >"$csv"
  load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  if awk -v l="${load_before%% *}" 'BEGIN { exit !(l > 0.5) }'; then
    rig_log "WARNING: load average $load_before: something else runs here; the figures" \
            "will be noisy"
  fi
  for ((rep = 1; rep <= reps; rep++)); do
    for loss in $losses; do
      rig_set_loss "$loss" || rig_die "cannot set loss $loss on the server links"
      rig_rep || rig_die "repetition $rep at loss $loss failed"
    done
  done
  rig_summary | tee "$txt"
  echo
  echo "wrote $csv and $txt"
}

rig_main "$@"
