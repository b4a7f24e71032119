#!/usr/bin/env bash
# Installs the dependencies and builds cnio out of tree (default: _build/ beside the
# sources; CNIO_BUILD_DIR overrides it). Extra arguments go to configure.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${CNIO_BUILD_DIR:-$top/_build}

bash "$top/scripts/install-deps.sh"
if [ ! -x "$top/configure" ] || [ "$top/configure.ac" -nt "$top/configure" ]; then
  (cd "$top" && autoreconf -fi >/dev/null 2>&1) || (cd "$top" && autoreconf -fi)
fi
mkdir -p "$build"
cd "$build"
if [ ! -f Makefile ] || [ "$top/configure" -nt config.status ]; then
  "$top/configure" -q --enable-werror "$@"
fi
# make's compile lines counted into a line every 25 files: the build takes minutes on 2
# cores, and said nothing all that time (a newcomer could not tell it from a hang).
# Warnings and errors go to stderr, shown as they come.
make --no-print-directory -j"$(nproc)" V=0 |
  awk '/^ *(CC|CCLD|CXX)/ { if (++n % 25 == 0) { printf "  ... %d files compiled\n", n; fflush() } }'
