#!/usr/bin/env bash
# Compares cnio with its peers on this one machine, over loopback, and plots the result.
#
#   bench/compare.sh [--quick] [--ranks 1,2,4] [--servers 1,2,4] [--size 256M] [--reps 5]
#                    [--lanes 1] [--open-ranks 4,16,64] [--hdf5-size 1G] [--build DIR]
#                    [--no-build]
#   bench/compare.sh --replot bench/results/compare-STAMP.csv
#
# For every repetition, and within it every (ranks N, servers M) pair, it runs one after
# another (alternating, so that drift hits every tool alike):
#   iperf3      iperf3 -P N*M*lanes, memory to memory: the loopback path's limit
#   cnio        mpirun -n N cnio bench --pattern contiguous: a collective write, then read,
#               of SIZE per rank to M cnio-servers whose roots are in /dev/shm
#   gridftp     globus-url-copy -p N*M*lanes of the same total bytes from a file in
#               /dev/shm to a globus-gridftp-server on loopback, into /dev/null and into
#               a file in /dev/shm (wall time of the client, setup included)
#   cnio cp     the same file to the M cnio-servers with `cnio cp` (N = 1: one process;
#               else mpirun -n N), timed the same way: GridFTP's own job, file to file
# and for every N:
#   gather0     MPI_Gatherv to rank 0, then one TCP stream to bench/tcpsink writing a file
#               in /dev/shm (the hand-rolled practice)
#   romio       MPI_File_write_at_all / read_at_all (Open MPI's ROMIO) of the same pattern
#               to a file in /dev/shm: a collective layer's cost without a network
#   mpiio       the strided pattern (1 MiB segments interleaved by rank) through the MPI-IO
#               interposition (bench/romio under `cnio run`, on a cnio:// name), and
#               `cnio bench --pattern strided` to the same servers: the interposition's cost
# and, for every --open-ranks count with the largest server count, `cnio bench --pattern
# open` (open + 8 bytes to every server per rank + close, eager versus on demand); and with
# the largest rank and server counts, when parallel HDF5 was found:
#   h5-local    bench/h5write: one collective H5Dwrite of a --hdf5-size dataset through
#               HDF5's MPI-IO driver to a file in /dev/shm (Open MPI's own MPI-IO)
#   h5-cnio     the same program under `cnio run`, to a cnio:// name on the servers
#
# Beside each client's CPU it records the server side's: the cnio-servers' (from
# /proc/PID/stat, over each cnio bench and each cnio cp), globus-gridftp-server's with the
# session processes it forks, and iperf3's receiver (its JSON's remote_total).
# Every figure is one run; the summary prints the median over repetitions of each, the
# ratios, and writes bench/results/compare-STAMP.{csv,txt,png}. Everything it starts it
# stops; every run is bounded by a timeout. --replot remakes the summary and the plot of an
# earlier run from its CSV, running nothing. Default run: about 3 minutes on 2 cores;
# --quick (ranks 1,2; servers 1,2; 64M; HDF5 256M; 3 repetitions): about 40 seconds.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

ranks=1,2,4 servers=1,2,4 size=256M reps=5 lanes=1 open_ranks=4,16,64 hdf5_size=1G
build=${CNIO_BUILD_DIR:-$top/_build} do_build=1 replot=
run_timeout=180

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

while [ $# -gt 0 ]; do
  case $1 in
    --quick) ranks=1,2 servers=1,2 size=64M reps=3 open_ranks=4,16 hdf5_size=256M ;;
    --ranks) ranks=$2; shift ;;
    --servers) servers=$2; shift ;;
    --size) size=$2; shift ;;
    --reps) reps=$2; shift ;;
    --lanes) lanes=$2; shift ;;
    --open-ranks) open_ranks=$2; shift ;;
    --hdf5-size) hdf5_size=$2; shift ;;
    --build) build=$2; shift ;;
    --no-build) do_build=0 ;;
    --replot) replot=$2; shift ;;
    -h|--help) usage 0 ;;
    *) echo "compare.sh: unknown option $1" >&2; usage ;;
  esac
  shift
done
IFS=, read -r -a rank_list <<<"$ranks"
IFS=, read -r -a server_list <<<"$servers"
IFS=, read -r -a open_list <<<"$open_ranks"
max() { local m=0 v; for v in "$@"; do ((v > m)) && m=$v; done; echo "$m"; }
rmax=$(max "${rank_list[@]}") smax=$(max "${server_list[@]}")
case $size in
  *K) bytes=$((${size%K} << 10)) ;; *M) bytes=$((${size%M} << 20)) ;;
  *G) bytes=$((${size%G} << 30)) ;; *) bytes=$size ;;
esac

bash "$top/scripts/install-deps.sh" --bench
# Builds (unless --no-build), checks the programs, makes the work directory and the names.
setup_run() {
  if [ "$do_build" = 1 ]; then
    echo "== building cnio in $build" >&2
    CNIO_BUILD_DIR=$build bash "$top/scripts/build.sh"
  fi
  export CNIO_SERVER_BIN=$build/src/server/cnio-server CNIO_BIN=$build/src/cli/cnio
  for b in "$CNIO_SERVER_BIN" "$CNIO_BIN" "$build/bench/gather0" "$build/bench/tcpsink" \
           "$build/bench/romio"; do
    [ -x "$b" ] || { echo "compare.sh: $b is missing (build first)" >&2; exit 1; }
  done
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  mpirun=(timeout -k 5 "$run_timeout" mpirun --oversubscribe)
  . "$top/scripts/servers.sh"

  stamp=$(date +%Y%m%d-%H%M%S)
  results=$top/bench/results
  mkdir -p "$results"
  csv=$results/compare-$stamp.csv txt=$results/compare-$stamp.txt png=$results/compare-$stamp.png
  work=$(mktemp -d /dev/shm/cnio-compare-XXXXXX)
  chmod 755 "$work"
  pids=()
  trap cleanup EXIT
  trap 'exit 130' INT TERM
}

cleanup() {
  local p
  servers_stop
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}

free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 40000))
    ss -Hltn "sport = :$p" | grep -q . || { echo "$p"; return 0; }
  done
  return 1
}

wait_port() {
  local t
  for t in $(seq 100); do ss -Hltn "sport = :$1" | grep -q . && return 0; sleep 0.1; done
  echo "compare.sh: nothing listens on port $1 ($2)" >&2
  return 1
}

# A number from a one-line JSON object: jnum JSON KEY.
jnum() { sed -n "s/.*\"$2\":\([-0-9.e+]*\).*/\1/p" <<<"$1"; }

# row TOOL OP RANKS SERVERS STREAMS BYTES SECONDS CPU_SECONDS
row() {
  awk -v rep="$rep" -v t="$1" -v op="$2" -v r="$3" -v s="$4" -v st="$5" -v by="$6" \
      -v sec="$7" -v cpu="$8" -v l="$lanes" 'BEGIN {
    gbps = (by > 0 && sec > 0) ? sprintf("%.4f", by / sec / 1e9) : "";
    cpg = (by > 0 && cpu != "") ? sprintf("%.4f", cpu / (by / 1e9)) : "";
    printf "%s,%s,%s,%s,%s,%s,%s,%s,%.6f,%s,%s\n", rep, t, op, r, s, l, st, by, sec, gbps, cpg
  }' >>"$csv"
}

start_peers() {
  mkdir -p "$work/cnio"
  servers_start "$smax" "$work/cnio"
  all_hosts=$CNIO_HOSTS
  iperf_port=$(free_port)
  iperf3 -s -B 127.0.0.1 -p "$iperf_port" >"$work/iperf3.log" 2>&1 &
  pids+=($!)
  mkdir -p "$work/gftp" && chmod 1777 "$work/gftp"
  gftp_port=$(free_port)
  # Running as root it needs an unprivileged user for anonymous access: nobody.
  globus-gridftp-server -aa -anonymous-user nobody -p "$gftp_port" \
    -control-interface 127.0.0.1 -data-interface 127.0.0.1 -log-level error \
    -l "$work/gridftp.log" >"$work/gridftp.out" 2>&1 &
  pids+=($!)
  gftp_pid=$!
  wait_port "$iperf_port" iperf3
  wait_port "$gftp_port" globus-gridftp-server
}

# CPU seconds (user + system) the servers have used so far: every cnio-server; the
# globus-gridftp-server with the session processes it forked and reaped.
tck=$(getconf CLK_TCK)
cnio_srv_cpu() {
  local p t=0
  for p in "${CNIO_SERVER_PIDS[@]}"; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat"))); done
  awk -v t="$t" -v k="$tck" 'BEGIN { printf "%.4f\n", t / k }'
}
gftp_srv_cpu() { awk -v k="$tck" '{ printf "%.4f\n", ($14 + $15 + $16 + $17) / k }' "/proc/$gftp_pid/stat"; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f\n", a - b }'; }

# The first M servers' host list.
hosts_of() { cut -d, -f1-"$1" <<<"$all_hosts"; }

run_iperf3() {
  local n=$1 s=$2 st=$(($1 * $2 * lanes)) total=$(($1 * bytes)) out sec cpu rcpu
  # At least 1 GiB, so that the path's limit shows past TCP's start-up.
  out=$(timeout -k 5 "$run_timeout" iperf3 -c 127.0.0.1 -p "$iperf_port" -P "$st" \
        -n "$((total > 1 << 30 ? total : 1 << 30))" -J)
  sec=$(awk '/"sum_received"/ { f = 1 } f && /"seconds"/ { gsub(/[,\t ]/, ""); split($0, a, ":");
              print a[2]; exit }' <<<"$out")
  cpu=$(awk '/"host_total"/ { gsub(/[,\t ]/, ""); split($0, a, ":"); print a[2]; exit }' <<<"$out")
  rcpu=$(awk '/"remote_total"/ { gsub(/[,\t ]/, ""); split($0, a, ":"); print a[2]; exit }' <<<"$out")
  total=$(awk '/"sum_received"/ { f = 1 } f && /"bytes"/ { gsub(/[,\t ]/, ""); split($0, a, ":");
                print a[2]; exit }' <<<"$out")
  row iperf3 mem "$n" "$s" "$st" "$total" "$sec" "$(awk -v c="$cpu" -v t="$sec" \
      'BEGIN { print c * t / 100 }')"
  row iperf3-srv mem "$n" "$s" "$st" "$total" "$sec" "$(awk -v c="$rcpu" -v t="$sec" \
      'BEGIN { print c * t / 100 }')"
}

run_cnio() {
  local n=$1 s=$2 out total op c0
  c0=$(cnio_srv_cpu)
  out=$("${mpirun[@]}" -n "$n" "$CNIO_BIN" bench --pattern contiguous --size "$size" --reps 1 \
        --lanes "$lanes" --hosts "$(hosts_of "$s")" --json)
  total=$(jnum "$out" total_bytes)
  # The servers' CPU over the write and the read together, per GB moved (2 x total).
  row cnio-srv rw "$n" "$s" $((n * s * lanes)) $((2 * total)) \
      "$(awk -v a="$(jnum "$out" write_s)" -v b="$(jnum "$out" read_s)" 'BEGIN { print a + b }')" \
      "$(minus "$(cnio_srv_cpu)" "$c0")"
  for op in write read; do
    row cnio "$op" "$n" "$s" $((n * s * lanes)) "$total" "$(jnum "$out" "${op}_s")" \
        "$(per_gb_to_s "$(jnum "$out" "${op}_cpu_s_per_gb")" "$total")"
  done
}

# CPU seconds from CPU seconds per GB and bytes.
per_gb_to_s() { awk -v c="$1" -v b="$2" 'BEGIN { print c * b / 1e9 }'; }

# The source file the file-to-file copies read: TOTAL bytes in /dev/shm, made once.
copy_src() {
  local src=$work/gftp-src.$1
  [ -f "$src" ] || { head -c "$1" /dev/zero >"$src"; chmod 644 "$src"; }
  echo "$src"
}

# timed_row TOOL OP RANKS SERVERS STREAMS BYTES CMD...: runs CMD (output dropped) and
# records its wall time and its user+sys CPU.
timed_row() {
  local t real user sys
  t=$( { TIMEFORMAT='%R %U %S'; time "${@:7}" >/dev/null; } 2>&1 | tail -1)
  read -r real user sys <<<"$t"
  row "${@:1:6}" "$real" "$(awk -v u="$user" -v y="$sys" 'BEGIN { print u + y }')"
}

# globus-url-copy of a file of the same total bytes: run_gridftp N M devnull|shm
run_gridftp() {
  local n=$1 s=$2 mode=$3 dst st=$(($1 * $2 * lanes)) total=$(($1 * bytes)) src c0 c1
  src=$(copy_src "$total")
  if [ "$mode" = devnull ]; then dst=/dev/null; else dst=$work/gftp/dst; rm -f "$dst"; fi
  c0=$(gftp_srv_cpu)
  timed_row gridftp "$mode" "$n" "$s" "$st" "$total" timeout -k 5 "$run_timeout" \
    globus-url-copy -p "$st" "file://$src" "ftp://127.0.0.1:$gftp_port$dst"
  # The session's process is the server's child: counted once reaped (bounded wait).
  for _ in $(seq 20); do
    c1=$(gftp_srv_cpu)
    [ "$(pgrep -c -P "$gftp_pid")" -eq 0 ] && break
    sleep 0.05
  done
  row gridftp-srv "$mode" "$n" "$s" "$st" "$total" "" "$(minus "$c1" "$c0")"
  rm -f "$work/gftp/dst"
}

# cnio cp of the same file as run_gridftp, to M servers: wall time, setup included.
run_cp() {
  local n=$1 s=$2 total=$(($1 * bytes)) src launch=(timeout -k 5 "$run_timeout") c0
  src=$(copy_src "$total")
  [ "$n" -gt 1 ] && launch=("${mpirun[@]}" -n "$n")
  c0=$(cnio_srv_cpu)
  timed_row cnio-cp shm "$n" "$s" $((n * s * lanes)) "$total" "${launch[@]}" "$CNIO_BIN" cp -q \
    -o cnio_lanes="$lanes" "$src" "cnio://$(hosts_of "$s")/cp.dat"
  row cnio-cp-srv shm "$n" "$s" $((n * s * lanes)) "$total" "" "$(minus "$(cnio_srv_cpu)" "$c0")"
  "$CNIO_BIN" rm "cnio://$(hosts_of "$s")/cp.dat" >/dev/null   # fresh pages next time too
}

# MPI_Gatherv to rank 0 and one TCP stream to tcpsink (writing to /dev/shm).
run_gather0() {
  local n=$1 out pf=$work/sink.port sp total
  rm -f "$pf"
  timeout -k 5 "$run_timeout" "$build/bench/tcpsink" --port-file "$pf" --out "$work/sink.dat" \
    --timeout 60 >"$work/sink.log" 2>&1 &
  sp=$!
  pids+=("$sp")
  for _ in $(seq 100); do [ -s "$pf" ] && break; sleep 0.05; done
  out=$("${mpirun[@]}" -n "$n" "$build/bench/gather0" --size "$size" --json \
        "127.0.0.1:$(cat "$pf")")
  wait "$sp"
  rm -f "$work/sink.dat"
  total=$(jnum "$out" total_bytes)
  row gather0 write "$n" 1 1 "$total" "$(jnum "$out" write_s)" \
      "$(per_gb_to_s "$(jnum "$out" write_cpu_s_per_gb)" "$total")"
}

# MPI-IO (ROMIO) write_at_all / read_at_all of the contiguous pattern to /dev/shm.
run_romio() {
  local n=$1 out total op
  out=$("${mpirun[@]}" --mca io romio321 -n "$n" "$build/bench/romio" --size "$size" \
        --reps 1 --json "$work/romio.dat")
  total=$(jnum "$out" total_bytes)
  for op in write read; do
    row romio "$op" "$n" 0 0 "$total" "$(jnum "$out" "${op}_s")" \
        "$(per_gb_to_s "$(jnum "$out" "${op}_cpu_s_per_gb")" "$total")"
  done
}

# The strided pattern through the MPI-IO interposition and through the native API.
run_mpiio() {
  local n=$1 out total op
  out=$("${mpirun[@]}" -n "$n" "$CNIO_BIN" bench --pattern strided --size "$size" --reps 1 \
        --lanes "$lanes" --hosts "$all_hosts" --json)
  total=$(jnum "$out" total_bytes)
  for op in write read; do
    row cnio-strided "$op" "$n" "$smax" $((n * smax * lanes)) "$total" "$(jnum "$out" "${op}_s")" \
        "$(per_gb_to_s "$(jnum "$out" "${op}_cpu_s_per_gb")" "$total")"
  done
  out=$("${mpirun[@]}" -n "$n" "$CNIO_BIN" run "$build/bench/romio" --pattern strided \
        --size "$size" --reps 1 --json "cnio://$all_hosts/mpiio.dat?lanes=$lanes")
  total=$(jnum "$out" total_bytes)
  for op in write read; do
    row mpiio "$op" "$n" "$smax" $((n * smax * lanes)) "$total" "$(jnum "$out" "${op}_s")" \
        "$(per_gb_to_s "$(jnum "$out" "${op}_cpu_s_per_gb")" "$total")"
  done
}

# Connection setup: open + 8 bytes to every server per rank + close with N ranks, the old
# eager scheme and on demand (doc/scale.md; the median of 3 inside one run, after a warm-up).
run_open() {
  local n=$1 out conns k
  out=$("${mpirun[@]}" -n "$n" "$CNIO_BIN" bench --pattern open --reps 3 --lanes "$lanes" \
        --hosts "$all_hosts" --json)
  conns=$(jnum "$out" eager_conns_per_server)
  for k in eager on_demand; do
    row cnio "open_$k" "$n" "$smax" "$conns" 0 \
        "$(awk -v m="$(jnum "$out" "${k}_ms")" 'BEGIN { print m / 1e3 }')" ""
  done
}

# A field of h5write's line "h5write: BYTES bytes SECONDS s GBPS GB/s": h5_field OUT N.
h5_field() { awk -v f="$2" '/^h5write:/ { print $f }' <<<"$1"; }

# Parallel HDF5: h5write to /dev/shm through Open MPI's MPI-IO, then to M servers through
# cnio (cnio run), N ranks, one collective write of hdf5_size each.
run_hdf5() {
  local n=$1 s=$2 out uri="cnio://$(hosts_of "$2")/h5write.h5?lanes=$lanes"
  out=$("${mpirun[@]}" -n "$n" "$build/bench/h5write" "$work/h5write.h5" "$hdf5_size" 1)
  rm -f "$work/h5write.h5"
  row h5-local write "$n" 0 0 "$(h5_field "$out" 2)" "$(h5_field "$out" 4)" ""
  out=$("${mpirun[@]}" -n "$n" "$CNIO_BIN" run "$build/bench/h5write" "$uri" "$hdf5_size" 1)
  "$CNIO_BIN" rm "${uri%%\?*}" >/dev/null
  row h5-cnio write "$n" "$s" $((n * s * lanes)) "$(h5_field "$out" 2)" "$(h5_field "$out" 4)" ""
}

# One repetition: every tool once for every configuration, always in the same order.
run_rep() {
  local n s
  for n in "${rank_list[@]}"; do
    for s in "${server_list[@]}"; do
      echo "== rep $rep/$reps: $n rank(s), $s server(s): iperf3, cnio, gridftp, cnio cp" >&2
      run_iperf3 "$n" "$s"
      run_cnio "$n" "$s"
      run_gridftp "$n" "$s" devnull
      run_gridftp "$n" "$s" shm
      run_cp "$n" "$s"
    done
    echo "== rep $rep/$reps: $n rank(s): gather0, romio, mpiio" >&2
    run_gather0 "$n"
    run_romio "$n"
    run_mpiio "$n"
  done
  for n in "${open_list[@]}"; do
    echo "== rep $rep/$reps: open+close, $n ranks x $smax servers" >&2
    run_open "$n"
  done
  if [ -x "$build/bench/h5write" ]; then
    echo "== rep $rep/$reps: parallel HDF5, $rmax ranks, $hdf5_size: local /dev/shm, cnio" >&2
    run_hdf5 "$rmax" "$smax"
  fi
}

# Medians over repetitions, one line per measurement:
#   tool,op,ranks,servers,streams,gbps,cpu_s_per_gb,seconds
medians() {
  tail -n +2 "$csv" | sort -t, -k2,2 -k3,3 -k4,4n -k5,5n -k7,7n | awk -F, '
    function med(a, k,   i, j, x) {
      for (i = 2; i <= k; i++) {
        x = a[i]
        for (j = i - 1; j >= 1 && a[j] + 0 > x + 0; j--)
          a[j + 1] = a[j]
        a[j + 1] = x
      }
      if (a[1] == "")
        return ""
      return k % 2 ? a[(k + 1) / 2] : sprintf("%.4f", (a[k / 2] + a[k / 2 + 1]) / 2)
    }
    function flush() {
      if (key != "")
        printf "%s,%s,%s,%s\n", key, med(g, n), med(c, n), med(t, n)
    }
    {
      k = $2 "," $3 "," $4 "," $5 "," $7
      if (k != key) { flush(); key = k; n = 0 }
      n++; g[n] = $10; c[n] = $11; t[n] = $9
    }
    END { flush() }'
}

# m TOOL OP RANKS SERVERS FIELD (6 GB/s, 7 CPU s/GB, 8 seconds): one median, or "-".
m() {
  awk -F, -v t="$1" -v o="$2" -v r="$3" -v s="$4" -v f="$5" '
    $1 == t && $2 == o && $3 == r && $4 == s && $f != "" { v = $f }
    END { print (v == "" ? "-" : v) }' "$work/medians"
}

ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    print (a == "-" || b == "-" || b + 0 == 0) ? "-" : sprintf("%.2f", a / b) }'
}

# How many (ranks, servers) configurations meet the targets: cnio >= 0.9 x iperf3 with
# the same streams, and >= 2 x GridFTP with the same streams (both to /dev/shm).
targets() {
  local n s cw cr iw gw a=0 b=0 c=0 total=0
  for n in "${rank_list[@]}"; do
    for s in "${server_list[@]}"; do
      cw=$(m cnio write "$n" "$s" 6) cr=$(m cnio read "$n" "$s" 6)
      iw=$(m iperf3 mem "$n" "$s" 6) gw=$(m gridftp shm "$n" "$s" 6)
      total=$((total + 1))
      awk -v x="$cw" -v y="$iw" 'BEGIN { exit !(x != "-" && y != "-" && x >= 0.9 * y) }' && a=$((a + 1))
      awk -v x="$cr" -v y="$iw" 'BEGIN { exit !(x != "-" && y != "-" && x >= 0.9 * y) }' && b=$((b + 1))
      awk -v x="$cw" -v y="$gw" 'BEGIN { exit !(x != "-" && y != "-" && x >= 2 * y) }' && c=$((c + 1))
    done
  done
  echo "targets met (of $total configurations): cnio write >= 0.9 x iperf3: $a;" \
       "cnio read >= 0.9 x iperf3: $b; cnio write >= 2 x GridFTP to /dev/shm: $c"
}

summary() {
  local n s iw
  echo "cnio bench/compare.sh, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores" \
       "($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), Linux $(uname -r)"
  echo "size $size per rank, lanes $lanes, median of $reps repetition(s); GB/s = 10^9 bytes/s"
  if [ -n "$replot" ]; then
    echo "(replotted from $replot: machine and date above are today's)"
  else
    echo "load average before: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "${faults_line:-}"
  fi
  echo
  echo "Throughput, GB/s (streams = ranks x servers x lanes; gridftp and cnio cp: wall time"
  echo "of a file-to-file copy, setup included)"
  printf '%5s %7s %7s | %7s | %7s %7s | %8s %8s | %7s | %8s %8s %8s %7s\n' ranks servers \
    streams iperf3 cnio-w cnio-r gftp-null gftp-shm cnio-cp w/iperf3 r/iperf3 w/gftp cp/gftp
  for n in "${rank_list[@]}"; do
    for s in "${server_list[@]}"; do
      iw=$(m iperf3 mem "$n" "$s" 6)
      printf '%5s %7s %7s | %7s | %7s %7s | %8s %8s | %7s | %8s %8s %8s %7s\n' "$n" "$s" \
        $((n * s * lanes)) "$iw" "$(m cnio write "$n" "$s" 6)" "$(m cnio read "$n" "$s" 6)" \
        "$(m gridftp devnull "$n" "$s" 6)" "$(m gridftp shm "$n" "$s" 6)" \
        "$(m cnio-cp shm "$n" "$s" 6)" \
        "$(ratio "$(m cnio write "$n" "$s" 6)" "$iw")" "$(ratio "$(m cnio read "$n" "$s" 6)" "$iw")" \
        "$(ratio "$(m cnio write "$n" "$s" 6)" "$(m gridftp shm "$n" "$s" 6)")" \
        "$(ratio "$(m cnio-cp shm "$n" "$s" 6)" "$(m gridftp shm "$n" "$s" 6)")"
    done
  done
  targets
  echo
  echo "CPU s/GB on both sides: client (iperf3 -c; cnio's ranks, write and read; globus-url-copy"
  echo "to /dev/shm; cnio cp) and server (iperf3 -s; the cnio-servers over write + read; the"
  echo "globus-gridftp-server with its session processes; the cnio-servers under cp)"
  printf '%5s %7s | %6s %6s | %6s %6s %6s | %6s %6s | %6s %6s\n' ranks servers ip-c ip-s \
    cn-cw cn-cr cn-s gf-c gf-s cp-c cp-s
  for n in "${rank_list[@]}"; do
    for s in "${server_list[@]}"; do
      printf '%5s %7s | %6s %6s | %6s %6s %6s | %6s %6s | %6s %6s\n' "$n" "$s" \
        "$(m iperf3 mem "$n" "$s" 7)" "$(m iperf3-srv mem "$n" "$s" 7)" \
        "$(m cnio write "$n" "$s" 7)" "$(m cnio read "$n" "$s" 7)" "$(m cnio-srv rw "$n" "$s" 7)" \
        "$(m gridftp shm "$n" "$s" 7)" "$(m gridftp-srv shm "$n" "$s" 7)" \
        "$(m cnio-cp shm "$n" "$s" 7)" "$(m cnio-cp-srv shm "$n" "$s" 7)"
    done
  done
  echo
  echo "Per rank count, with $smax server(s) for cnio: GB/s, and CPU s/GB of the ranks"
  printf '%5s | %7s %7s | %7s | %7s %7s | %9s | %6s %6s %6s %6s\n' ranks cnio-w cnio-r \
    gather0 romio-w romio-r cnio/g0 cpu-cw cpu-cr cpu-g0 cpu-rw
  for n in "${rank_list[@]}"; do
    printf '%5s | %7s %7s | %7s | %7s %7s | %9s | %6s %6s %6s %6s\n' "$n" \
      "$(m cnio write "$n" "$smax" 6)" "$(m cnio read "$n" "$smax" 6)" "$(m gather0 write "$n" 1 6)" \
      "$(m romio write "$n" 0 6)" "$(m romio read "$n" 0 6)" \
      "$(ratio "$(m cnio write "$n" "$smax" 6)" "$(m gather0 write "$n" 1 6)")" \
      "$(m cnio write "$n" "$smax" 7)" "$(m cnio read "$n" "$smax" 7)" \
      "$(m gather0 write "$n" 1 7)" "$(m romio write "$n" 0 7)"
  done
  echo
  echo "MPI-IO interposition (bench/romio under cnio run) vs cnio bench, strided, $smax server(s), GB/s"
  printf '%5s | %7s %7s | %7s %7s | %7s %7s\n' ranks native-w native-r mpiio-w mpiio-r ratio-w ratio-r
  for n in "${rank_list[@]}"; do
    printf '%5s | %7s %7s | %7s %7s | %7s %7s\n' "$n" \
      "$(m cnio-strided write "$n" "$smax" 6)" "$(m cnio-strided read "$n" "$smax" 6)" \
      "$(m mpiio write "$n" "$smax" 6)" "$(m mpiio read "$n" "$smax" 6)" \
      "$(ratio "$(m mpiio write "$n" "$smax" 6)" "$(m cnio-strided write "$n" "$smax" 6)")" \
      "$(ratio "$(m mpiio read "$n" "$smax" 6)" "$(m cnio-strided read "$n" "$smax" 6)")"
  done
  echo
  echo "Connection setup: open + write to every server + close, $smax server(s), ms (eager vs on demand)"
  printf '%5s %11s | %8s %9s\n' ranks conns/srv eager on_demand
  for n in "${open_list[@]}"; do
    printf '%5s %11s | %8s %9s\n' "$n" \
      "$(awk -F, -v r="$n" '$1 == "cnio" && $2 == "open_eager" && $3 == r { print $5 }' "$work/medians")" \
      "$(awk -v s="$(m cnio open_eager "$n" "$smax" 8)" 'BEGIN { printf "%.1f", s * 1e3 }')" \
      "$(awk -v s="$(m cnio open_on_demand "$n" "$smax" 8)" 'BEGIN { printf "%.1f", s * 1e3 }')"
  done
  if grep -q '^h5-cnio,' "$work/medians"; then
    echo
    echo "Parallel HDF5 (bench/h5write): one collective write of a $hdf5_size dataset by $rmax"
    echo "ranks, create to close, GB/s: through cnio to $smax server(s) vs Open MPI's MPI-IO to /dev/shm"
    printf '%8s %8s | %10s (target >= 0.8)\n' h5-cnio h5-local cnio/local
    printf '%8s %8s | %10s\n' "$(m h5-cnio write "$rmax" "$smax" 6)" "$(m h5-local write "$rmax" 0 6)" \
      "$(ratio "$(m h5-cnio write "$rmax" "$smax" 6)" "$(m h5-local write "$rmax" 0 6)")"
  fi
}

plot() {
  local n s
  for n in "${rank_list[@]}"; do
    echo "$n $(m iperf3 mem "$n" "$smax" 6) $(m cnio write "$n" "$smax" 6)" \
         "$(m cnio read "$n" "$smax" 6) $(m gather0 write "$n" 1 6)" \
         "$(m gridftp shm "$n" "$smax" 6) $(m romio write "$n" 0 6)" \
         "$(m cnio-cp shm "$n" "$smax" 6)"
  done >"$work/by_ranks.dat"
  for s in "${server_list[@]}"; do
    echo "$s $(m iperf3 mem "$rmax" "$s" 6) $(m cnio write "$rmax" "$s" 6)" \
         "$(m cnio read "$rmax" "$s" 6) $(m gridftp shm "$rmax" "$s" 6)" \
         "$(m cnio-cp shm "$rmax" "$s" 6)"
  done >"$work/by_servers.dat"
  gnuplot <<GNUPLOT
set terminal pngcairo size 1100,480 font ",10" noenhanced
set output "$png"
set datafile missing "-"
set style line 1 lc rgb "#777777" dt 2 lw 1.5 pt 1
set style line 2 lc rgb "#08519c" lw 2.5 pt 7
set style line 3 lc rgb "#6baed6" lw 2.5 pt 5
set style line 4 lc rgb "#cb181d" lw 1.5 pt 9
set style line 5 lc rgb "#e6550d" lw 1.5 pt 11
set style line 6 lc rgb "#31a354" dt 3 lw 1.5 pt 13
set style line 7 lc rgb "#756bb1" dt 4 lw 1.5 pt 15
set multiplot layout 1,2 title "cnio and its peers on loopback: $(nproc) cores, $size per rank, lanes $lanes, median of $reps"
set ylabel "GB/s (10^9 bytes/s)"
set yrange [0:*]
set key top right vertical opaque box samplen 3
set offsets graph 0, graph 0, graph 0.55, graph 0
set grid
set xlabel "MPI ranks (cnio: $smax servers; streams = ranks x servers x lanes)"
set xtics (${ranks//,/, })
plot "$work/by_ranks.dat" u 1:2 w lp ls 1 t "iperf3 -P streams (path limit)", \
     "" u 1:3 w lp ls 2 t "cnio write_at_all", "" u 1:4 w lp ls 3 t "cnio read_at_all", \
     "" u 1:5 w lp ls 4 t "gather to rank 0 + one TCP stream", \
     "" u 1:6 w lp ls 5 t "GridFTP -p streams, to /dev/shm", \
     "" u 1:7 w lp ls 6 t "ROMIO write_at_all, local /dev/shm", \
     "" u 1:8 w lp ls 7 t "cnio cp of a file (mpirun -n ranks)"
set xlabel "cnio-servers ($rmax ranks)"
set xtics (${servers//,/, })
plot "$work/by_servers.dat" u 1:2 w lp ls 1 t "iperf3 -P streams (path limit)", \
     "" u 1:3 w lp ls 2 t "cnio write_at_all", "" u 1:4 w lp ls 3 t "cnio read_at_all", \
     "" u 1:5 w lp ls 5 t "GridFTP -p streams, to /dev/shm", \
     "" u 1:6 w lp ls 7 t "cnio cp of a file (mpirun -n ranks)"
unset multiplot
GNUPLOT
}

# --replot: the lists, size and repetitions of an earlier run, from its CSV.
replot_main() {
  local list
  list() { awk -F, -v o="$1" -v c="$2" 'NR > 1 && $3 == o && !s[$c]++ { print $c }' "$replot" |
           sort -n | paste -sd, -; }
  ranks=$(list write 4) servers=$(awk -F, 'NR > 1 && $2 == "cnio" && $3 == "write" && !s[$5]++ {
    print $5 }' "$replot" | sort -n | paste -sd, -) open_ranks=$(list open_eager 4)
  lanes=$(awk -F, 'NR == 2 { print $6 }' "$replot")
  hdf5_size=$(awk -F, 'NR > 1 && $2 == "h5-cnio" { printf "%dM", $8 / 1048576; exit }' "$replot")
  reps=$(awk -F, 'NR > 1 && $1 > r { r = $1 } END { print r }' "$replot")
  size=$(awk -F, 'NR > 1 && $2 == "cnio" && $3 == "write" { printf "%dM", $8 / $4 / 1048576; exit }' "$replot")
  IFS=, read -r -a rank_list <<<"$ranks"
  IFS=, read -r -a server_list <<<"$servers"
  IFS=, read -r -a open_list <<<"$open_ranks"
  rmax=$(max "${rank_list[@]}") smax=$(max "${server_list[@]}")
  csv=$replot png=${replot%.csv}.png
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  medians >"$work/medians"
  summary
  plot
  echo "wrote $png"
}

if [ -n "$replot" ]; then
  replot_main
  exit 0
fi
setup_run
echo "rep,tool,op,ranks,servers,lanes,streams,bytes,seconds,gbps,cpu_s_per_gb" >"$csv"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
if awk -v l="${load_before%% *}" 'BEGIN { exit !(l > 0.5) }'; then
  echo "compare.sh: WARNING: load average $load_before: something else runs here; the" \
       "figures will be noisy" >&2
fi
# What a page fault costs here against a copy or a populated mapping (issue 13): the
# figures below depend on it, so it goes on record with them.
faults_line=$("$build/bench/faults" "$work/faults.dat" 256 2>&1 || echo "bench/faults failed")
rm -f "$work/faults.dat"
start_peers
t0=$SECONDS
for ((rep = 1; rep <= reps; rep++)); do
  run_rep
done
medians >"$work/medians"
summary | tee "$txt"
plot
echo
echo "took $((SECONDS - t0)) s; wrote $csv, $txt and $png"
