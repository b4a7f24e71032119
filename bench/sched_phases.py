#!/usr/bin/python3
"""Where the wall time of a cnio bench run goes, from the scheduler's point of view.

    bench/sched_phases.py PERF_DATA SERVER_PIDS RANK_PIDS

PERF_DATA is a system-wide recording of the scheduler and of the servers' data calls
around one `cnio bench` run (doc/performance.md, "Where the wall time goes"):

    perf record -a -e sched:sched_switch -e sched:sched_wakeup -e sched:sched_wakeup_new \
        -e syscalls:sys_enter_pwrite64 -e syscalls:sys_enter_sendfile64 \
        -e syscalls:sys_enter_sendmsg -o PERF_DATA -- sleep 60

SERVER_PIDS and RANK_PIDS are comma-separated process ids (cnio-server processes, MPI
ranks). The write phase is taken as the servers' first to last pwrite of 64 KiB or more,
the read phase as their first sendfile or sendmsg after it to the last before a pause of
50 ms. For each phase it
prints how many of these processes' threads were running or runnable over time (on a
machine with C cores, fewer than C means a core the workload left idle), the machine's
idle CPU time, and each thread's time running, runnable (waiting for a core) and asleep.
"""
import collections
import re
import subprocess
import sys

EVENT = re.compile(r'\s*(\d+)/(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+?):?\s+(.*)')
SWITCH = re.compile(r'prev_pid=(\d+) .*prev_state=(\S+) ==> .*next_pid=(\d+)')
WAKEUP = re.compile(r'comm=.* pid=(\d+) ')
COUNT = re.compile(r'(?:count|len): (0x[0-9a-f]+)')


def events(data):
    out = subprocess.run(['perf', 'script', '-i', data, '-F', 'pid,tid,cpu,time,event,trace'],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        m = EVENT.match(line)
        if m:
            yield float(m[4]), int(m[1]), int(m[2]), int(m[3]), m[5], m[6]


def phases(evs, servers):
    big = lambda tr: (m := COUNT.search(tr)) and int(m[1], 16) >= 65536
    w = [t for t, pid, _, _, e, tr in evs if pid in servers and e.endswith('pwrite64') and big(tr)]
    if not w:
        sys.exit('sched_phases: no pwrite of 64 KiB or more by the servers in the recording')
    r = [t for t, pid, _, _, e, tr in evs
         if pid in servers and t > w[-1] and (e.endswith('sendfile64') or e.endswith('sendmsg'))]
    out = [('write', w[0], w[-1])]
    if r:   # the phase ends where the replies stop: a pause of 50 ms (the close comes later)
        end = next((a for a, b in zip(r, r[1:]) if b - a > 0.05), r[-1])
        out.append(('read', r[0], end))
    return out


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    servers = {int(p) for p in sys.argv[2].split(',')}
    ranks = {int(p) for p in sys.argv[3].split(',')}
    evs = list(events(sys.argv[1]))
    tgid = {tid: pid for _, pid, tid, _, _, _ in evs}
    ours = lambda tid: tgid.get(tid) in servers or tgid.get(tid) in ranks
    spans = phases(evs, servers)
    res = {n: {'hist': collections.Counter(), 'idle': 0.0,
               'per': collections.defaultdict(collections.Counter)} for n, _, _ in spans}
    state, idle, last = {}, {}, None
    for t, _, _, cpu, e, tr in evs:
        if last is not None:
            for name, a, b in spans:
                d = min(t, b) - max(last, a)
                if d <= 0:
                    continue
                r = res[name]
                r['hist'][min(3, sum(1 for k, s in state.items() if s != 'sleep' and ours(k)))] += d
                r['idle'] += d * sum(idle.values())
                for k, s in state.items():
                    if ours(k):
                        r['per'][k][s] += d
        last = t
        if e == 'sched:sched_switch' and (m := SWITCH.search(tr)):
            state[int(m[1])] = 'runnable' if m[2].startswith('R') else 'sleep'
            state[int(m[3])] = 'run'
            idle[cpu] = int(m[3]) == 0
        elif e.startswith('sched:sched_wakeup') and (m := WAKEUP.search(tr)):
            if state.get(int(m[1])) != 'run':
                state[int(m[1])] = 'runnable'
    for name, a, b in spans:
        r, span = res[name], b - a
        print(f'{name}: {span * 1e3:.0f} ms; machine idle {r["idle"] * 1e3:.0f} cpu-ms')
        print('  threads of ours running or runnable: ' +
              ', '.join(f'{k}{"+" if k == 3 else ""}: {v / span * 100:.0f}%'
                        for k, v in sorted(r['hist'].items())))
        rows = sorted((('server' if tgid[k] in servers else 'rank'), tgid[k], k, c)
                      for k, c in r['per'].items() if c['run'] > 0.002)
        for kind, pid, tid, c in rows:
            print(f'  {kind:6} {pid}/{tid}: run {c["run"] * 1e3:6.0f}  runnable '
                  f'{c["runnable"] * 1e3:6.0f}  asleep {c["sleep"] * 1e3:6.0f} ms')


if __name__ == '__main__':
    main()
