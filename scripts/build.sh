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
make -s -j"$(nproc)" >/dev/null
