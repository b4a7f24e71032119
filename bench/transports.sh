#!/usr/bin/env bash
# One row per transport of `cnio bench` (contiguous, N ranks x 2 loopback servers):
# tcp, ofi over tcp;ofi_rxm, ofi over shm, udp (udp;ofi_rxd), and each one's ratio to
# tcp measured in the same run. Prints a markdown table.
#   bench/transports.sh [RANKS (4)] [SIZE per rank (64M)] [REPS (3)]
# Needs CNIO_SERVER_BIN and CNIO_BIN (default: the _build tree beside this script).
set -euo pipefail
case ${1:-} in -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${CNIO_SERVER_BIN:=$top/_build/src/server/cnio-server}" "${CNIO_BIN:=$top/_build/src/cli/cnio}"
export CNIO_SERVER_BIN CNIO_BIN
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
ranks=${1:-4} size=${2:-64M} reps=${3:-3}
work=$(mktemp -d /tmp/cnio-transports-XXXXXX)
. "$top/scripts/servers.sh"
trap 'servers_stop; rm -rf "$work"' EXIT
servers_start 2 "$work" --transport tcp,ofi,udp --ofi-provider 'tcp;ofi_rxm,shm'

row() {   # row ARGS... : "write read" GB/s and CPU s/GB, from --json
  timeout 600 mpirun -n "$ranks" --mca btl self,vader,tcp --mca btl_vader_single_copy_mechanism none \
    "$CNIO_BIN" bench --hosts "$CNIO_HOSTS" --size "$size" --reps "$reps" --json "$@" |
    /usr/bin/python3 -c '
import json, sys, statistics as st
r = [json.loads(l) for l in sys.stdin if l.startswith("{")][-1]
print("%.3f %.3f %.2f %.2f" % (r["write_gbps"], r["read_gbps"], r["write_cpu_s_per_gb"],
                               r["read_cpu_s_per_gb"]))'
}

echo "| transport | write GB/s | read GB/s | write / tcp | read / tcp | CPU s/GB write | CPU s/GB read |"
echo "|---|---|---|---|---|---|---|"
read -r tw tr twc trc < <(row --transport tcp)
echo "| tcp | $tw | $tr | 1.00 | 1.00 | $twc | $trc |"
for t in "ofi tcp;ofi_rxm" "ofi shm" "udp udp;ofi_rxd"; do
  set -- $t
  args=(--transport "$1")
  [ "$1" = ofi ] && args+=(-o "cnio_ofi_provider=$2")
  read -r w r wc rc < <(row "${args[@]}")
  printf '| %s | %s | %s | %.2f | %.2f | %s | %s |\n' "$1 ($2)" "$w" "$r" \
    "$(echo "$w / $tw" | bc -l)" "$(echo "$r / $tr" | bc -l)" "$wc" "$rc"
done
