#!/usr/bin/env bash
# Trees: `cnio cp -r` against GridFTP's `globus-url-copy -r -cc N -pp`, both ways, on this
# machine over loopback, with every root in /dev/shm (--roots: in a directory made
# beneath DIR instead, e.g. on a disk, where each cnio commit waits for its fsyncs and
# GridFTP's writes do not):
#
#   bench/tree.sh [--files 2000] [--ranks "0 1 4"] [--cc "4"] [--servers 2] [--reps 3]
#                 [--roots DIR] [--build DIR]
#
# --ranks 0 is `cnio cp -r` run as one process without mpirun, as at a shell (what
# globus-url-copy is): it skips mpirun's start, 0.2-0.3 s here.
#
# The tree is tests/cli/tree_make.py's (most files 1 B-64 KiB, a few MiB-sized, empty
# files and directories, names with spaces) without its symlinks, which the two tools
# treat differently, and with its unicode names made ASCII, which GridFTP does not keep. Per repetition, alternating: `mpirun -n R cnio cp -r
# --chunk 1M` up to SERVERS cnio-servers and back down, and `globus-url-copy -r -cd -cc
# N -pp` up to a globus-gridftp-server and back down; each timed by wall clock, setup
# included, each copy checked with `diff -r` afterwards (outside the time); and the
# tree as one stream, `tar c | cnio cp - URI` up and `cnio cp URI - | tar x` down, one
# process. Prints files/s and GB/s (of the files' bytes; medians, files/s min-max) and
# the ratio of each row to the best GridFTP row of the same direction. The rows "cnio -n
# R, 0 files" time the same commands on an empty directory: what starting the ranks, the
# connections and the listing cost, given as the files/s the tree would reach if its
# files cost nothing. Needs globus-gridftp-server-progs and globus-gass-copy-progs
# (scripts/install-deps.sh --bench). Everything it starts it stops; every copy is
# bounded by a timeout.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
files=2000 ranks="0 1 4" ccs="4" nserv=2 reps=3 roots=/dev/shm build=${CNIO_BUILD_DIR:-$top/_build}
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
  case $1 in
    --files) files=$2; shift ;;
    --ranks) ranks=$2; shift ;;
    --cc) ccs=$2; shift ;;
    --servers) nserv=$2; shift ;;
    --reps) reps=$2; shift ;;
    --roots) roots=$2; shift ;;
    --build) build=$2; shift ;;
    -h|--help) usage 0 ;;
    *) echo "tree.sh: unknown argument $1" >&2; usage ;;
  esac
  shift
done
for t in globus-url-copy globus-gridftp-server mpirun; do
  command -v "$t" >/dev/null || { echo "tree.sh: $t not found (scripts/install-deps.sh --bench)" >&2; exit 1; }
done
export CNIO_BIN=$build/src/cli/cnio CNIO_SERVER_BIN=$build/src/server/cnio-server
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
. "$top/scripts/servers.sh"
work=$(mktemp -d "$roots/cnio-tree-bench-XXXXXX")
chmod 755 "$work"   # the GridFTP server runs as nobody
gpid=''
cleanup() {
  servers_stop
  # (|| true: the server's status is 143, and under set -e a failing last command of
  # this list ended the script here, leaving its work directory behind)
  [ -n "$gpid" ] && kill -TERM "$gpid" 2>/dev/null && wait "$gpid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

/usr/bin/python3 "$top/tests/cli/tree_make.py" "$work/src" "$files"
find "$work/src" -type l -delete
# globus-url-copy 10.12 drops non-ASCII letters from names (ünïcödé arrives as ncd): the
# benchmark's tree is made ASCII so both tools copy the same one (tree.test keeps unicode).
/usr/bin/python3 - "$work/src" <<'PY'
import os, sys
for d, subdirs, names in os.walk(sys.argv[1], topdown=False):
    for n in subdirs + names:
        a = n.encode("ascii", "replace").decode().replace("?", "u")
        if a != n:
            os.rename(os.path.join(d, n), os.path.join(d, a))
PY
nfiles=$(find "$work/src" -type f | wc -l)
servers_start "$nserv" "$work"
mkdir -p "$work/gftp" && chmod 1777 "$work/gftp"
gport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# Running as root it needs an unprivileged user for anonymous access: nobody.
globus-gridftp-server -aa -anonymous-user nobody -p "$gport" -control-interface 127.0.0.1 \
  -data-interface 127.0.0.1 -log-level error -l "$work/gridftp.log" >"$work/gridftp.out" 2>&1 &
gpid=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$gport") 2>/dev/null && break; sleep 0.1; done

nbytes=$(find "$work/src" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
declare -A got
launch() {   # launch N: the words that start `cnio` as N ranks (0: one process, no mpirun)
  if [ "$1" = 0 ]; then echo "$CNIO_BIN"; else echo "mpirun -n $1 $CNIO_BIN"; fi
}
label() { if [ "$1" = 0 ]; then echo "cnio alone"; else echo "cnio -n $1"; fi; }
wall() {   # wall KEY CMD...: runs CMD, adds its wall-clock seconds to got[KEY]
  local key=$1 t0 t1; shift
  t0=$(date +%s.%N)
  timeout -k 5 600 "$@" >/dev/null
  t1=$(date +%s.%N)
  got[$key]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }') "
}
same() { diff -r "$work/src" "$1" >"$work/diff" 2>&1 || { cat "$work/diff" >&2; false; } || { echo "tree.sh: $2: the copy differs" >&2; exit 1; }; }

mkdir "$work/empty"
for ((r = 1; r <= reps; r++)); do
  for n in $ranks; do
    l=$(label "$n")
    uri="cnio://$CNIO_HOSTS/e$r.$n"
    wall "$l, 0 files up" $(launch "$n") cp -r -q --chunk 1M "$work/empty" "$uri"
    wall "$l, 0 files down" $(launch "$n") cp -r -q --chunk 1M "$uri" "$work/down"
    rm -rf "$work/down"
    "$CNIO_BIN" rm -r "$uri" >/dev/null
    uri="cnio://$CNIO_HOSTS/t$r.$n"
    wall "$l up" $(launch "$n") cp -r -q --chunk 1M "$work/src" "$uri"
    wall "$l down" $(launch "$n") cp -r -q --chunk 1M "$uri" "$work/down"
    same "$work/down" "$l"
    rm -rf "$work/down"
    "$CNIO_BIN" rm -r "$uri" >/dev/null
  done
  uri="cnio://$CNIO_HOSTS/t$r.tar"
  wall "tar | cnio up" bash -c 'tar cf - -C "$1" . | "$2" cp -q - "$3"' _ "$work/src" "$CNIO_BIN" "$uri"
  mkdir "$work/down"
  wall "tar | cnio down" bash -c '"$2" cp -q "$3" - | tar xf - -C "$1"' _ "$work/down" "$CNIO_BIN" "$uri"
  same "$work/down" "tar | cnio"
  rm -rf "$work/down"
  "$CNIO_BIN" rm "$uri" >/dev/null
  for cc in $ccs; do
    wall "gridftp -cc $cc up" globus-url-copy -r -cd -cc "$cc" -pp "file://$work/src/" \
      "ftp://127.0.0.1:$gport$work/gftp/t/"
    wall "gridftp -cc $cc down" globus-url-copy -r -cd -cc "$cc" -pp \
      "ftp://127.0.0.1:$gport$work/gftp/t/" "file://$work/down/"
    same "$work/down" "gridftp -cc $cc"
    rm -rf "$work/down" "$work/gftp/t"
  done
done

stats() {   # median min max of the words in $1
  tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g |
    awk '{ v[NR] = $1 } END { printf "%.4f %.4f %.4f\n", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[1], v[NR] }'
}
echo "tree.sh: $nfiles files, $nbytes bytes, $nserv cnio-servers, roots in $roots" \
     "($(df --output=fstype "$work" | tail -1)), $reps repetitions;" \
     "load average $(cut -d' ' -f1 /proc/loadavg) at the end"
printf '%-24s %10s %13s %8s %10s\n' "" files/s min-max GB/s "/ GridFTP"
for dir in up down; do
  best=0
  for cc in $ccs; do
    read -r m _ _ < <(stats "${got[gridftp -cc $cc $dir]}")
    best=$(awk -v a="$best" -v m="$m" 'BEGIN { print (a == 0 || m < a ? m : a) }')
  done
  for key in $(for n in $ranks; do l=$(label "$n"); echo "${l// /:}:$dir"; done
               for n in $ranks; do l=$(label "$n"); echo "${l// /:},:0:files:$dir"; done
               echo "tar:|:cnio:$dir"
               for cc in $ccs; do echo "gridftp:-cc:$cc:$dir"; done); do
    key=${key//:/ }
    read -r m lo hi < <(stats "${got[$key]}")
    awk -v k="$key" -v n="$nfiles" -v b="$nbytes" -v m="$m" -v lo="$lo" -v hi="$hi" -v best="$best" \
      'BEGIN { printf "%-24s %10.0f %13s %8s %10.2f\n", k, n / m, sprintf("%.0f-%.0f", n / hi, n / lo),
               k ~ /0 files/ ? "-" : sprintf("%.3f", b / m / 1e9), best / m }'
  done
done
