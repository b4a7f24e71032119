#!/usr/bin/env bash
# The MPI-IO interposition's overhead: the strided pattern (1 MiB segments interleaved by
# rank through a vector view, MPI_File_write_at_all / read_at_all) run by bench/romio
# through `cnio run` on a cnio:// name, against `cnio bench --pattern strided` (the native
# API) on the same servers, alternating, and the ratio of the medians.
#
#   bench/mpiio.sh [--ranks N] [--servers M] [--size 64M] [--reps 5] [--build DIR]
#
# Needs a build (scripts/build.sh; bench/romio is built with `make bench/romio`). Servers
# are started on loopback with their roots in /dev/shm, and stopped at the end.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
n=4 m=2 size=64M reps=5 build=${CNIO_BUILD_DIR:-$top/_build}
while [ $# -gt 0 ]; do
  case $1 in
    --ranks) n=$2; shift ;; --servers) m=$2; shift ;; --size) size=$2; shift ;;
    --reps) reps=$2; shift ;; --build) build=$2; shift ;;
    -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "mpiio.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
export CNIO_SERVER_BIN=$build/src/server/cnio-server CNIO_BIN=$build/src/cli/cnio
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
make -C "$build" -s bench/romio >/dev/null
. "$top/scripts/servers.sh"
work=$(mktemp -d /dev/shm/cnio-mpiio-bench-XXXXXX)
trap 'servers_stop; rm -rf "$work"' EXIT
servers_start "$m" "$work"
run=(timeout -k 5 300 mpirun --oversubscribe -n "$n")
jnum() { sed -n "s/.*\"$2\":\([0-9.e+-]*\).*/\1/p" <<<"$1"; }
: >"$work/rows"
for rep in $(seq "$reps"); do
  out=$("${run[@]}" "$CNIO_BIN" bench --pattern strided --size "$size" --reps 1 \
        --hosts "$CNIO_HOSTS" --json)
  echo "native $(jnum "$out" write_gbps) $(jnum "$out" read_gbps)" \
    "$(jnum "$out" write_cpu_s_per_gb) $(jnum "$out" read_cpu_s_per_gb)" >>"$work/rows"
  out=$("${run[@]}" "$CNIO_BIN" run "$build/bench/romio" --pattern strided --size "$size" \
        --reps 1 --json "cnio://$CNIO_HOSTS/mpiio-bench.dat")
  echo "mpiio $(jnum "$out" write_gbps) $(jnum "$out" read_gbps)" \
    "$(jnum "$out" write_cpu_s_per_gb) $(jnum "$out" read_cpu_s_per_gb)" >>"$work/rows"
done
awk -v n="$n" -v m="$m" -v size="$size" '
  function med(a, k,   i, j, x) {
    for (i = 2; i <= k; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
    return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
  }
  { k[$1]++; w[$1, k[$1]] = $2; r[$1, k[$1]] = $3; cw[$1, k[$1]] = $4; cr[$1, k[$1]] = $5 }
  END {
    for (t in k) {
      for (i = 1; i <= k[t]; i++) { ww[i] = w[t, i]; rr[i] = r[t, i] }
      mw[t] = med(ww, k[t]); mr[t] = med(rr, k[t])
      for (i = 1; i <= k[t]; i++) { ww[i] = cw[t, i]; rr[i] = cr[t, i] }
      mcw[t] = med(ww, k[t]); mcr[t] = med(rr, k[t])
    }
    printf "strided, %d ranks, %d servers, %s per rank, median of %d (GB/s):\n", n, m, size, k["native"]
    printf "  native cnio bench   write %.3f  read %.3f\n", mw["native"], mr["native"]
    printf "  MPI-IO via cnio run write %.3f  read %.3f\n", mw["mpiio"], mr["mpiio"]
    printf "  ratio mpiio/native  write %.3f  read %.3f\n", mw["mpiio"] / mw["native"], mr["mpiio"] / mr["native"]
    printf "CPU s/GB (user+sys over ranks): native write %.3f read %.3f; MPI-IO write %.3f read %.3f\n", \
      mcw["native"], mcr["native"], mcw["mpiio"], mcr["mpiio"]
  }' "$work/rows"
