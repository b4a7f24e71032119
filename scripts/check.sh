#!/usr/bin/env bash
# Installs the dependencies, builds cnio with -Werror, and runs the whole test suite
# (`make check`): unit tests, integration tests against real cnio-servers on loopback,
# MPI tests under mpirun, and the client integration tests again under AddressSanitizer
# (leak checking on). Exits non-zero on any failure. This is what CI runs.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${CNIO_BUILD_DIR:-$top/_build}

# mpirun as root on a 2-core machine.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1

CNIO_BUILD_DIR=$build bash "$top/scripts/build.sh"
cd "$build"
status=0
make -j"$(nproc)" check || status=$?
if [ $status -ne 0 ]; then
  for f in $(find . -name '*.log' ! -name 'config.log' ! -name 'test-suite.log'); do
    if grep -q -E '^(FAIL|ERROR)' "${f%.log}.trs" 2>/dev/null; then
      echo "===== $f"; tail -n 60 "$f"
    fi
  done
  exit $status
fi

# The integration tests once more, built with AddressSanitizer + LeakSanitizer.
asan=$build-asan
CNIO_BUILD_DIR=$asan bash "$top/scripts/build.sh" --enable-asan
cd "$asan"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
make -j"$(nproc)" check TESTS="$(cd "$build" && make -s print-asan-tests)" || {
  cat tests/*/*.log 2>/dev/null | tail -n 80; exit 1; }
