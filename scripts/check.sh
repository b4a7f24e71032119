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

# The log of every test that failed in the build dir $1 (automake's .trs files hold
# ":test-result: FAIL", or ERROR, for them).
show_failures() {
  local f
  find "$1" -name '*.trs' | while read -r f; do
    if grep -q -E '^:test-result: (FAIL|ERROR|XPASS)' "$f"; then
      echo "===== ${f%.trs}.log"; tail -n 80 "${f%.trs}.log"
    fi
  done
}

CNIO_BUILD_DIR=$build bash "$top/scripts/build.sh"
cd "$build"
status=0
make -j"$(nproc)" check || status=$?
if [ $status -ne 0 ]; then
  show_failures "$build"
  exit $status
fi

# The integration tests once more, built with AddressSanitizer + LeakSanitizer.
asan=$build-asan
CNIO_BUILD_DIR=$asan bash "$top/scripts/build.sh" --enable-asan
cd "$asan"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
make -j"$(nproc)" check TESTS="$(cd "$build" && make -s print-asan-tests)" || {
  show_failures "$asan"; exit 1; }

# Every fuzz target under libFuzzer for a bounded time each (when clang has libFuzzer;
# scripts/fuzz.sh says so and runs nothing otherwise), from the seed corpora.
bash "$top/scripts/fuzz.sh" -t "${CNIO_FUZZ_SECONDS:-20}"
