#!/usr/bin/env bash
# Installs, with apt-get, the Debian 12 packages that cnio's build, tests and demo need.
# Idempotent: when everything is already there it prints nothing and changes nothing.
#   --bench  also the peers bench/compare.sh measures cnio against (GridFTP, gnuplot);
#            the build, tests and demo never need them. The test suite uses the real
#            clients (h5py, mpi4py, PnetCDF, redis, curl, iperf3), so they are in the base list.
set -euo pipefail

pkgs=(
  build-essential autoconf automake libtool pkg-config
  libopenmpi-dev openmpi-bin
  check libssl-dev libisal-dev libfabric-dev libfabric-bin libhdf5-openmpi-dev
  valgrind strace iproute2 procps psmisc time
  python3-h5py-mpi python3-mpi4py libpnetcdf-dev pnetcdf-bin hdf5-tools
  libpmix-dev redis-server redis-tools curl iperf3 socat iptables clang libclang-rt-14-dev
)
bench_pkgs=(
  globus-gridftp-server-progs globus-gass-copy-progs gnuplot-nox
)
for a in "$@"; do
  case $a in
    --bench) pkgs+=("${bench_pkgs[@]}") ;;
    *) echo "usage: install-deps.sh [--bench]" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root (or install them)" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get -qq update >/dev/null
apt-get -qq install -y --no-install-recommends "${missing[@]}" >/dev/null
