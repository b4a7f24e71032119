#!/bin/sh
# The MPI-IO interposition's table (check_mpiio) on N ranks, three ways: Open MPI alone
# on local files, the same with libcnio_mpiio.so preloaded (must be identical: the
# library passes local files through untouched), and preloaded on cnio:// files (the
# rows marked '=' must give what Open MPI gives on local files).
#   mpiio-table.sh N
n=$1
b=$CNIO_TOP_BUILDDIR
lib=$b/.libs/libcnio_mpiio.so
run="$CNIO_TOP_SRCDIR/tests/collective/run-mpi.sh"
tmp=$(mktemp -d /tmp/cnio-mpiio-table-XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0

"$run" "$n" tests/collective/check_mpiio local "$tmp/plain" || fail=1
"$run" "$n" -x LD_PRELOAD="$lib" tests/collective/check_mpiio local "$tmp/local" || fail=1
"$run" "$n" -x LD_PRELOAD="$lib" tests/collective/check_mpiio cnio "$tmp/cnio" || fail=1
[ $fail -eq 0 ] || { echo "check_mpiio failed"; exit 1; }
if ! diff "$tmp/plain" "$tmp/local"; then
    echo "FAIL: local files behave differently with the library preloaded"
    exit 1
fi
grep '^=' "$tmp/plain" > "$tmp/plain.same"
grep '^=' "$tmp/cnio" > "$tmp/cnio.same"
if ! diff "$tmp/plain.same" "$tmp/cnio.same"; then
    echo "FAIL: cnio files behave differently from Open MPI's local files (< local, > cnio)"
    exit 1
fi
echo "cnio results (all rows):"
cat "$tmp/cnio"
