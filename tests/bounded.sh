#!/usr/bin/env bash
# tests/bounded.sh TEST [ARGS...]: runs one test of `make check` (the harness's
# LOG_COMPILER) with a time limit, so that a test that hangs fails alone, saying where
# it hung, instead of holding up the whole suite until CI gives up on it.
#
# The test runs in a session of its own. After CNIO_TEST_TIMEOUT seconds (default 1200;
# the slowest test takes about 2 minutes, 5 under a sanitizer) its processes are listed
# with their state and kernel wait channel, those of cnio's own programs with their
# threads' stacks (gdb, when installed), then the session gets SIGTERM (its EXIT traps
# stop its servers) and 10 s later SIGKILL. Exit status: the test's, or 124 when it was
# stopped.
set -u
limit=${CNIO_TEST_TIMEOUT:-1200}
case $limit in '' | *[!0-9]*) echo "bounded.sh: CNIO_TEST_TIMEOUT='$limit' is not a number of seconds" >&2; exit 99 ;; esac
[ $# -ge 1 ] || { echo "usage: bounded.sh TEST [ARGS...]" >&2; exit 99; }

# In a non-interactive shell a background job is not a process group leader, so setsid
# makes its session without forking: the job's pid is the session's id.
setsid "$@" &
pid=$!
sleep "$limit" &
timer=$!
# make interrupted (^C, or killed): the test's session goes with it, not on alone
trap 'kill -TERM -- "-$pid" 2>/dev/null; kill -CONT -- "-$pid" 2>/dev/null; kill "$timer" 2>/dev/null; exit 130' INT TERM HUP
wait -n -p done "$pid" "$timer"
rc=$?
if [ "${done:-}" = "$pid" ]; then
  kill "$timer" 2>/dev/null; wait "$timer" 2>/dev/null
  exit "$rc"
fi

# The stacks first, the process table last: a log is read from its end (check.sh shows
# a failed test's last 80 lines).
echo
echo "bounded.sh: $1 ran longer than $limit s (CNIO_TEST_TIMEOUT); stacks of cnio's processes:"
for p in $(ps -s "$pid" -o pid= 2>/dev/null); do
  exe=$(readlink "/proc/$p/exe" 2>/dev/null) || continue
  case ${exe##*/} in cnio | cnio-server | cnio-proxy | check_* | lt-*) ;; *) continue ;; esac
  state=$(ps -o stat= -p "$p" 2>/dev/null)
  echo "--- $p ${exe##*/} (state $state)"
  if command -v gdb >/dev/null && [ "${state:0:1}" != T ] && [ "${state:0:1}" != t ]; then
    timeout 20 gdb -q -batch -nx -p "$p" -ex 'thread apply all bt 12' 2>/dev/null |
      grep -E '^(Thread|#)' | cut -c1-160 | head -40
  fi
done
echo "bounded.sh: $1 ran longer than $limit s (CNIO_TEST_TIMEOUT); its processes:"
ps -s "$pid" -o pid,ppid,stat,wchan:22,etime,args --forest 2>/dev/null | cut -c1-180
trap - INT TERM HUP
kill -TERM -- "-$pid" 2>/dev/null
kill -CONT -- "-$pid" 2>/dev/null
# 10 s of grace by the clock, not by a count of naps (on a loaded machine 100 naps of
# 0.1 s took twice that)
grace=$((SECONDS + 10))
while [ "$SECONDS" -lt "$grace" ] && kill -0 -- "-$pid" 2>/dev/null; do sleep 0.1; done
kill -KILL -- "-$pid" 2>/dev/null
wait "$pid" 2>/dev/null
# the killed are gone once reaped (by init: they were the test's children)
grace=$((SECONDS + 5))
while [ "$SECONDS" -lt "$grace" ] && kill -0 -- "-$pid" 2>/dev/null; do sleep 0.1; done
exit 124
