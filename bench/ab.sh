#!/usr/bin/env bash
# A/B of cnio binaries on this machine: runs `cnio bench` with each binary in turn,
# alternating, three times, against servers on loopback with roots in /dev/shm, and
# prints write/read GB/s and client CPU s/GB of each run. Keep a copy of the old
# binary (cp _build/src/cli/cnio /tmp/cnio.old), rebuild, then:
#   bench/ab.sh /tmp/cnio.old _build/src/cli/cnio
# Environment: NR ranks (4), NSRV servers (1), PAT pattern (contiguous), SIZE (128M),
# CNIO_BUILD_DIR (the build whose cnio-server is used; default _build).
set -uo pipefail
case ${1:-} in -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${CNIO_BUILD_DIR:-$top/_build}
export CNIO_SERVER_BIN=$build/src/server/cnio-server CNIO_BIN=$build/src/cli/cnio
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
. "$top/scripts/servers.sh"
w=$(mktemp -d /dev/shm/cnio-ab-XXXXXX)
trap 'servers_stop; rm -rf "$w"' EXIT
servers_start "${NSRV:-1}" "$w" >/dev/null || exit 1
for rep in 1 2 3; do
  for b in "$@"; do
    timeout 300 mpirun --oversubscribe -n "${NR:-4}" "$b" bench --pattern "${PAT:-contiguous}" \
      --size "${SIZE:-128M}" --reps 3 --hosts "$CNIO_HOSTS" --json 2>/dev/null | tail -1 |
      python3 -c "import json,sys; d=json.loads(sys.stdin.read()); print('$b', 'w %.2f r %.2f GB/s  cpu w %.2f r %.2f' % (d['write_gbps'], d['read_gbps'], d['write_cpu_s_per_gb'], d['read_cpu_s_per_gb']))"
  done
done
