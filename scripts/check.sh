#!/usr/bin/env bash
# Installs the dependencies, builds cnio with -Werror, and runs the whole test suite
# (`make check`): unit tests, integration tests against real cnio-servers on loopback,
# MPI tests under mpirun, a 60 s soak of 512 clients; the client and server tests again
# under AddressSanitizer (leak checking on), the server tests and the soak under
# ThreadSanitizer; then every fuzz target under libFuzzer for 20 s. Exits non-zero on
# any failure. This is what CI runs.
set -euo pipefail
case ${1:-} in -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
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
export CNIO_SANITIZER=asan   # tests skip what a sanitizer build cannot show (RSS, valgrind)
make -j"$(nproc)" check TESTS="$(cd "$build" && make -s print-asan-tests)" || {
  show_failures "$asan"; exit 1; }

# The server tests and the soak once more, built with ThreadSanitizer (the server's
# workers share the handle table and the limits). A report halts the process and is
# kept in $tsan/tsan-report.PID; any report fails the run.
tsan=$build-tsan
CNIO_BUILD_DIR=$tsan bash "$top/scripts/build.sh" --enable-tsan
cd "$tsan"
rm -f "$tsan"/tsan-report.*
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 log_path=$tsan/tsan-report"
export CNIO_SANITIZER=tsan
make -j"$(nproc)" check TESTS="$(cd "$build" && make -s print-tsan-tests)" || {
  show_failures "$tsan"; cat "$tsan"/tsan-report.* 2>/dev/null; exit 1; }
if ls "$tsan"/tsan-report.* >/dev/null 2>&1; then
  cat "$tsan"/tsan-report.*; exit 1
fi
unset TSAN_OPTIONS CNIO_SANITIZER

# Every fuzz target under libFuzzer for a bounded time each (when clang has libFuzzer;
# scripts/fuzz.sh says so and runs nothing otherwise), from the seed corpora.
bash "$top/scripts/fuzz.sh" -t "${CNIO_FUZZ_SECONDS:-20}"
