#!/usr/bin/env bash
# netns.sh - a multi-host rig made of Linux network namespaces, for cnio's integration tests
# and benchmarks. Needs root (or CAP_SYS_ADMIN + CAP_NET_ADMIN), iproute2 and util-linux.
#
# Topology of one rig (PREFIX = cnio<owner pid>-, unique per run):
#
#   PREFIXsw  "switch" namespace: bridge br0 with address SUBNET.254 (the head node, where
#             mpirun runs), one veth port per host, named after the host (c0, s1, ...)
#   PREFIXc0 .. PREFIXc<N-1>   clients: eth0 = SUBNET.10+i, lo up
#   PREFIXs0 .. PREFIXs<M-1>   servers: eth0 = SUBNET.100+j, lo up
#
# Nothing is added to the root namespace but the namespaces' names (/var/run/netns) and a
# state directory ($NETNS_RUNDIR/PREFIX): its routing, addresses and links stay untouched,
# and rig traffic never leaves the rig's own bridge. SUBNET is 10.A.B with A.B derived from
# the owner pid (override: CNIO_NETNS_SUBNET=10.x.y); rigs are isolated from one another,
# so two rigs with the same subnet do not interfere.
#
# Rate limit: with RATE (a tc rate: 100mbit, 1gbit, 2.5gbit, 50mbps...), each server's link
# gets a token bucket (tc tbf) in both directions: egress of the server's eth0 (what it
# sends) and egress of the switch-side port toward it (what it receives). Clients and the
# head are not limited. burst = max(64 KiB, RATE x 4 ms): 4 ms is one jiffy at HZ=250, and
# 64 KiB holds one full GSO/TSO segment from a veth, which tbf would otherwise have to split
# or drop; latency 25 ms bounds the queue (limit = RATE x 25 ms + burst).
#
# As a library (". scripts/netns.sh"), the functions, after netns_up, set:
#   NETNS_PREFIX NETNS_SUBNET NETNS_CIDR NETNS_HEAD_ADDR NETNS_STATE
#   NETNS_CLIENTS NETNS_SERVERS (arrays of short names) and
#   NETNS_CLIENT_ADDRS NETNS_SERVER_ADDRS (arrays of addresses), and export
#   CNIO_NETNS_PREFIX (read by netns-agent.sh).
# The caller owns cleanup: trap 'netns_down' EXIT (netns_up cleans up after its own failure).
#
#   netns_check                      0 when namespaces can be made here, else 1 (says why)
#   netns_up NCLIENTS NSERVERS [RATE]   create the rig, print the addresses
#   netns_down                       kill every process inside the rig, remove it all
#   netns_exec HOST CMD...           run CMD in HOST (c0, s1, sw), hostname set to HOST
#   netns_addr HOST                  print HOST's address
#   netns_probe HOST ADDR PORT [SEC] 0 if a TCP connect from HOST to ADDR:PORT succeeds,
#                                    2 if refused (reachable, nothing listening), 1 else
#   netns_mpirun MPIRUN-ARGS...      mpirun from the head node, ranks placed in the hosts
#                                    named by --host/--hostfile (bounded by
#                                    NETNS_MPIRUN_TIMEOUT seconds, default 600)
#   netns_mpirun_flags               print the mpirun flags netns_mpirun adds, one per line
#   netns_cleanup_stale              remove rigs whose owner process is gone
#
# As a command: netns.sh help.

NETNS_RUN_DIR=/var/run/netns
NETNS_RUNDIR=${CNIO_NETNS_RUNDIR:-/run/cnio-netns}
NETNS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NETNS_AGENT=$NETNS_LIB_DIR/netns-agent.sh
NETNS_BURST_MIN=65536
NETNS_BURST_MS=4
NETNS_LATENCY=25ms
NETNS_MAX_CLIENTS=90
NETNS_MAX_SERVERS=100

netns__say() { echo "netns: $*"; }
netns__err() { echo "netns: $*" >&2; }

# Namespace name of a rig host: c0, s1, sw (or a full name of this rig).
netns__ns() {
    case $1 in
        "$NETNS_PREFIX"*) echo "$1" ;;
        *) echo "$NETNS_PREFIX$1" ;;
    esac
}

# The kernel's start time of process $1 (field 22 of /proc/PID/stat), or nothing.
netns__starttime() {
    local stat fields
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    read -r -a fields <<<"${stat##*) }"
    echo "${fields[19]}"
}

# Converts a tc rate (1gbit, 100mbit, 50mbps, 1gibit, 800000 = bit/s) to bytes per second.
netns__rate_bytes() {
    local r=${1,,} num unit m
    if [[ ! $r =~ ^([0-9]+(\.[0-9]+)?)([a-z]*)$ ]]; then
        return 1
    fi
    num=${BASH_REMATCH[1]}
    unit=${BASH_REMATCH[3]}
    case $unit in
        ''|bit) m=0.125 ;;
        kbit) m=125 ;;        mbit) m=125000 ;;      gbit) m=125000000 ;;
        tbit) m=125000000000 ;;
        kibit) m=128 ;;       mibit) m=131072 ;;     gibit) m=134217728 ;;
        bps) m=1 ;;           kbps) m=1000 ;;        mbps) m=1000000 ;;
        gbps) m=1000000000 ;;
        *) return 1 ;;
    esac
    awk -v n="$num" -v m="$m" 'BEGIN { v = n * m; if (v < 1) exit 1; printf "%.0f\n", v }'
}

netns_check() {
    local probe=cnio$$-probe$RANDOM out
    if [ "$(id -u)" -ne 0 ]; then
        netns__err "network namespaces need root (running as uid $(id -u))"
        return 1
    fi
    if ! command -v ip >/dev/null 2>&1; then
        netns__err "the ip command (iproute2) is missing"
        return 1
    fi
    if ! out=$(ip netns add "$probe" 2>&1); then
        netns__err "ip netns add fails here: $out"
        return 1
    fi
    if ! out=$(ip -n "$probe" link add br0 type bridge 2>&1 &&
               ip -n "$probe" link add v0 type veth peer name v1 2>&1); then
        ip netns del "$probe" 2>/dev/null
        netns__err "cannot make a bridge and veth pairs: $out"
        return 1
    fi
    if ! out=$(ip netns exec "$probe" unshare --uts sh -c 'hostname probe' 2>&1); then
        ip netns del "$probe" 2>/dev/null
        netns__err "cannot run commands inside a namespace (ip netns exec, unshare --uts): $out"
        return 1
    fi
    ip netns del "$probe"
}

# Writes the state directory: owner, subnet, hosts. The agent and cleanup-stale read it.
netns__write_state() {
    local owner=$1 i
    mkdir -p "$NETNS_STATE" || return 1
    {
        echo "owner $owner $(netns__starttime "$owner") $(readlink /proc/self/ns/pid)"
        echo "subnet $NETNS_SUBNET"
    } >"$NETNS_STATE/info"
    {
        echo "sw $NETNS_HEAD_ADDR head"
        for i in "${!NETNS_CLIENTS[@]}"; do
            echo "${NETNS_CLIENTS[$i]} ${NETNS_CLIENT_ADDRS[$i]} client"
        done
        for i in "${!NETNS_SERVERS[@]}"; do
            echo "${NETNS_SERVERS[$i]} ${NETNS_SERVER_ADDRS[$i]} server"
        done
    } >"$NETNS_STATE/hosts"
}

# Creates the switch namespace with its bridge and head address.
netns__make_switch() {
    local sw=${NETNS_PREFIX}sw out
    out=$(ip netns add "$sw" 2>&1) || { netns__err "ip netns add $sw: $out"; return 1; }
    ip -n "$sw" link set lo up &&
        ip -n "$sw" link add br0 type bridge &&
        ip -n "$sw" addr add "$NETNS_HEAD_ADDR/24" dev br0 &&
        ip -n "$sw" link set br0 up
}

# Creates host namespace $1 with address $2, cabled to the switch.
netns__make_host() {
    local h=$1 addr=$2 ns=$NETNS_PREFIX$1 sw=${NETNS_PREFIX}sw out
    out=$(ip netns add "$ns" 2>&1) || { netns__err "ip netns add $ns: $out"; return 1; }
    ip -n "$sw" link add "$h" type veth peer name eth0 netns "$ns" &&
        ip -n "$sw" link set "$h" master br0 up &&
        ip -n "$ns" link set lo up &&
        ip -n "$ns" addr add "$addr/24" dev eth0 &&
        ip -n "$ns" link set eth0 up
}

# Token buckets on server $1's link, both directions.
netns__limit() {
    local h=$1 rate=$2 bytes burst
    bytes=$(netns__rate_bytes "$rate") || { netns__err "bad rate '$rate'"; return 1; }
    burst=$((bytes * NETNS_BURST_MS / 1000))
    [ "$burst" -ge "$NETNS_BURST_MIN" ] || burst=$NETNS_BURST_MIN
    ip netns exec "$NETNS_PREFIX$h" tc qdisc add dev eth0 root tbf \
        rate "$rate" burst "$burst" latency "$NETNS_LATENCY" &&
        ip netns exec "${NETNS_PREFIX}sw" tc qdisc add dev "$h" root tbf \
            rate "$rate" burst "$burst" latency "$NETNS_LATENCY"
}

# Checks, bounded, that every host answers on the bridge (a refused connect is an answer).
netns__verify() {
    local addrs="${NETNS_CLIENT_ADDRS[*]} ${NETNS_SERVER_ADDRS[*]}" a rc
    for a in $addrs; do
        netns_probe sw "$a" 9 3
        rc=$?
        if [ "$rc" -eq 1 ]; then
            netns__err "host $a does not answer on the bridge"
            return 1
        fi
    done
}

netns__print() {
    local i
    netns__say "rig ${NETNS_PREFIX} subnet $NETNS_CIDR, head/switch ${NETNS_PREFIX}sw $NETNS_HEAD_ADDR"
    for i in "${!NETNS_CLIENTS[@]}"; do
        netns__say "client ${NETNS_CLIENTS[$i]} ${NETNS_CLIENT_ADDRS[$i]}"
    done
    for i in "${!NETNS_SERVERS[@]}"; do
        netns__say "server ${NETNS_SERVERS[$i]} ${NETNS_SERVER_ADDRS[$i]}${NETNS_RATE:+ rate $NETNS_RATE each way}"
    done
}

netns_up() {
    local nc=${1:-} ns=${2:-} rate=${3:-} owner=${NETNS_OWNER:-$$} i
    if ! [[ $nc =~ ^[0-9]+$ && $ns =~ ^[0-9]+$ ]] || [ "$nc" -lt 1 ] ||
       [ "$nc" -gt "$NETNS_MAX_CLIENTS" ] || [ "$ns" -gt "$NETNS_MAX_SERVERS" ]; then
        netns__err "usage: netns_up NCLIENTS(1-$NETNS_MAX_CLIENTS) NSERVERS(0-$NETNS_MAX_SERVERS) [RATE]"
        return 1
    fi
    if [ -n "${NETNS_PREFIX:-}" ]; then
        netns__err "a rig ($NETNS_PREFIX) is already up in this shell"
        return 1
    fi
    if [ -n "$rate" ] && ! netns__rate_bytes "$rate" >/dev/null; then
        netns__err "bad rate '$rate' (use a tc rate such as 100mbit or 1gbit)"
        return 1
    fi
    NETNS_PREFIX=cnio$owner-
    if [ -e "$NETNS_RUN_DIR/${NETNS_PREFIX}sw" ]; then
        netns__err "namespace ${NETNS_PREFIX}sw already exists (a rig of this owner is up)"
        NETNS_PREFIX=
        return 1
    fi
    NETNS_SUBNET=${CNIO_NETNS_SUBNET:-10.$((64 + (owner >> 8) % 128)).$((owner % 256))}
    if ! [[ $NETNS_SUBNET =~ ^10\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])$ ]]; then
        netns__err "CNIO_NETNS_SUBNET must be 10.X.Y (a /24 in 10.0.0.0/8), not '$NETNS_SUBNET'"
        NETNS_PREFIX=
        return 1
    fi
    NETNS_CIDR=$NETNS_SUBNET.0/24
    NETNS_HEAD_ADDR=$NETNS_SUBNET.254
    NETNS_STATE=$NETNS_RUNDIR/$NETNS_PREFIX
    NETNS_RATE=$rate
    NETNS_CLIENTS=() NETNS_CLIENT_ADDRS=() NETNS_SERVERS=() NETNS_SERVER_ADDRS=()
    for ((i = 0; i < nc; i++)); do
        NETNS_CLIENTS+=("c$i") NETNS_CLIENT_ADDRS+=("$NETNS_SUBNET.$((10 + i))")
    done
    for ((i = 0; i < ns; i++)); do
        NETNS_SERVERS+=("s$i") NETNS_SERVER_ADDRS+=("$NETNS_SUBNET.$((100 + i))")
    done
    export CNIO_NETNS_PREFIX=$NETNS_PREFIX CNIO_NETNS_RUNDIR=$NETNS_RUNDIR
    if ! netns__build "$owner"; then
        netns__err "rig setup failed; removing what was made"
        netns_down >/dev/null
        return 1
    fi
    netns__print
}

netns__build() {
    local owner=$1 i
    netns__write_state "$owner" || return 1
    netns__make_switch || return 1
    for i in "${!NETNS_CLIENTS[@]}"; do
        netns__make_host "${NETNS_CLIENTS[$i]}" "${NETNS_CLIENT_ADDRS[$i]}" || return 1
    done
    for i in "${!NETNS_SERVERS[@]}"; do
        netns__make_host "${NETNS_SERVERS[$i]}" "${NETNS_SERVER_ADDRS[$i]}" || return 1
        if [ -n "$NETNS_RATE" ]; then
            netns__limit "${NETNS_SERVERS[$i]}" "$NETNS_RATE" || return 1
        fi
    done
    netns__verify
}

# The namespaces of rig $1, one per line.
netns__list() {
    ip netns list 2>/dev/null | awk -v p="$1" 'index($1, p) == 1 { print $1 }'
}

# Kills every process in the namespaces given (TERM, then KILL after 5 s).
netns__kill_all() {
    local n t pids=()
    for t in TERM TERM TERM TERM TERM TERM TERM TERM TERM TERM KILL; do
        pids=()
        for n in "$@"; do
            mapfile -t -O "${#pids[@]}" pids < <(ip netns pids "$n" 2>/dev/null)
        done
        [ "${#pids[@]}" -gt 0 ] || return 0
        if [ "$t" = KILL ]; then
            netns__err "killing leftover processes: ${pids[*]}"
            kill -KILL "${pids[@]}" 2>/dev/null
            sleep 0.2
            return 0
        fi
        kill -TERM "${pids[@]}" 2>/dev/null
        sleep 0.5
    done
}

# Removes rig $1 (a prefix): its processes, namespaces and state.
netns__destroy() {
    local prefix=$1 names n
    [[ $prefix =~ ^cnio[0-9]+-$ ]] || return 1
    mapfile -t names < <(netns__list "$prefix")
    if [ "${#names[@]}" -gt 0 ]; then
        netns__kill_all "${names[@]}"
        for n in "${names[@]}"; do
            ip netns del "$n" 2>/dev/null || netns__err "cannot remove namespace $n"
        done
    fi
    rm -rf "${NETNS_RUNDIR:?}/$prefix"
}

netns_down() {
    [ -n "${NETNS_PREFIX:-}" ] || return 0
    if ! [[ $NETNS_PREFIX =~ ^cnio[0-9]+-$ ]]; then
        netns__err "'$NETNS_PREFIX' is not a rig prefix (cnio<pid>-)"
        return 1
    fi
    if [ -n "$(netns__list "$NETNS_PREFIX")" ] || [ -d "$NETNS_RUNDIR/$NETNS_PREFIX" ]; then
        netns__destroy "$NETNS_PREFIX"
        netns__say "rig $NETNS_PREFIX removed"
    else
        netns__say "no rig $NETNS_PREFIX to remove"
    fi
    NETNS_PREFIX=
    unset CNIO_NETNS_PREFIX
}

# Runs CMD in host $1 of the current rig (CNIO_NETNS_PREFIX when not set up by this shell).
netns_exec() {
    local h=$1
    shift
    : "${NETNS_PREFIX:=${CNIO_NETNS_PREFIX:-}}"
    if [ -z "$NETNS_PREFIX" ] || [ ! -e "$NETNS_RUN_DIR/$(netns__ns "$h")" ]; then
        netns__err "no host '$h' in rig '${NETNS_PREFIX}'"
        return 1
    fi
    # shellcheck disable=SC2016 # $0 and $@ belong to the inner sh
    ip netns exec "$(netns__ns "$h")" unshare --uts \
        sh -c 'hostname "$0" && exec "$@"' "${h#"$NETNS_PREFIX"}" "$@"
}

netns_addr() {
    : "${NETNS_PREFIX:=${CNIO_NETNS_PREFIX:-}}"
    awk -v h="${1#"$NETNS_PREFIX"}" '$1 == h { print $2; found = 1 } END { exit !found }' \
        "$NETNS_RUNDIR/$NETNS_PREFIX/hosts" 2>/dev/null
}

netns_probe() {
    local h=$1 addr=$2 port=$3 sec=${4:-2} out
    # shellcheck disable=SC2016 # $0 and $1 belong to the inner bash
    out=$(netns_exec "$h" timeout "$sec" bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$addr" "$port" 2>&1)
    case $? in
        0) return 0 ;;
        *) case $out in *"refused"*) return 2 ;; esac ;;
    esac
    return 1
}

netns_mpirun_flags() {
    local agent=$NETNS_AGENT
    [ -x "$agent" ] || agent="/bin/sh $NETNS_AGENT"
    printf '%s\n' --mca plm_rsh_agent "$agent" --mca plm_rsh_no_tree_spawn 1 \
        --mca routed direct --mca oob_tcp_if_include "$NETNS_CIDR" \
        --mca btl_tcp_if_include "$NETNS_CIDR" --mca pml ob1 --mca btl self,vader,tcp \
        --oversubscribe
    [ "$(id -u)" -ne 0 ] || echo --allow-run-as-root
}

netns_mpirun() {
    local flags
    : "${NETNS_PREFIX:=${CNIO_NETNS_PREFIX:-}}"
    if [ -z "${NETNS_CIDR:-}" ]; then
        NETNS_SUBNET=$(awk '$1 == "subnet" { print $2 }' "$NETNS_RUNDIR/$NETNS_PREFIX/info" 2>/dev/null)
        [ -n "$NETNS_SUBNET" ] || { netns__err "no rig is up"; return 1; }
        NETNS_CIDR=$NETNS_SUBNET.0/24
    fi
    mapfile -t flags < <(netns_mpirun_flags)
    # In the background, and waited for, so that a trapped signal interrupts the wait at
    # once (timeout puts mpirun in a process group of its own, out of reach of Ctrl-C).
    CNIO_NETNS_PREFIX=$NETNS_PREFIX CNIO_NETNS_RUNDIR=$NETNS_RUNDIR \
        timeout -k 10 "${NETNS_MPIRUN_TIMEOUT:-600}" \
        ip netns exec "${NETNS_PREFIX}sw" mpirun "${flags[@]}" "$@" <&0 &
    wait "$!"
}

# 0 when the owner of rig $1 may still be running (or cannot be judged), 1 when it is gone.
netns__owner_alive() {
    local prefix=$1 pid start nspid rec
    pid=${prefix#cnio}
    pid=${pid%-}
    [ -d "/proc/$pid" ] || return 1
    rec=$(awk '$1 == "owner" { print $3, $4 }' "$NETNS_RUNDIR/$prefix/info" 2>/dev/null)
    [ -n "$rec" ] || return 0
    read -r start nspid <<<"$rec"
    [ "$nspid" = "$(readlink /proc/self/ns/pid)" ] || return 0
    [ "$start" = "$(netns__starttime "$pid")" ]
}

netns_cleanup_stale() {
    local prefixes p d n=0
    prefixes=$({
        ip netns list 2>/dev/null | awk '{ print $1 }' | sed -n 's/^\(cnio[0-9]\{1,\}-\).*/\1/p'
        for d in "$NETNS_RUNDIR"/cnio*-; do
            [[ -d $d && ${d##*/} =~ ^cnio[0-9]+-$ ]] && echo "${d##*/}"
        done
    } | sort -u)
    for p in $prefixes; do
        netns__owner_alive "$p" && continue
        netns__say "removing stale rig $p (its owner is gone)"
        netns__destroy "$p"
        n=$((n + 1))
    done
    netns__say "cleanup-stale: $n stale rig(s) removed"
}

# A small MPI program for selftest: every rank reports its host, an Allreduce checks the sum
# of the ranks, then rank 0 streams MiB to the last rank and reports the rate.
netns__selftest_src() {
    cat <<'EOF'
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int rank, size, sum = 0, mib = argc > 1 ? atoi(argv[1]) : 64;
    char host[64] = "";
    static char buf[1 << 20];
    double t;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    gethostname(host, sizeof(host) - 1);
    MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    printf("selftest: rank %d of %d on %s: allreduce sum %d (expected %d)\n", rank, size,
           host, sum, size * (size - 1) / 2);
    fflush(stdout);
    MPI_Barrier(MPI_COMM_WORLD);
    t = MPI_Wtime();
    for (int i = 0; size > 1 && i < mib; i++) {
        if (rank == 0)
            MPI_Send(buf, sizeof(buf), MPI_BYTE, size - 1, 0, MPI_COMM_WORLD);
        else if (rank == size - 1)
            MPI_Recv(buf, sizeof(buf), MPI_BYTE, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    }
    if (rank == size - 1 && size > 1) {
        t = MPI_Wtime() - t;
        printf("selftest: %d MiB rank 0 -> rank %d (%s): %.2f s, %.0f Mbit/s\n", mib,
               rank, host, t, mib * 8.388608 / t);
    }
    MPI_Finalize();
    return sum != size * (size - 1) / 2;
}
EOF
}

# Brings up 2 clients and 1 server (RATE on its link), shows where ranks land, runs an
# Allreduce over c0, c1 and s0, and measures the rate from c0 to s0.
netns__selftest() {
    local rate=${1:-} tmp
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/cnio-netns-selftest.XXXXXX") || return 1
    # shellcheck disable=SC2064 # tmp is fixed now
    trap "netns_down; rm -rf '$tmp'" EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    netns__selftest_src >"$tmp/selftest.c"
    mpicc -O2 -o "$tmp/selftest" "$tmp/selftest.c" || return 1
    netns_up 2 1 "$rate" || return 1
    netns__say "mpirun $(netns_mpirun_flags | tr '\n' ' ')..."
    # shellcheck disable=SC2016 # expanded by each rank's shell
    netns_mpirun -n 4 --host c0:2,c1:2 \
        sh -c 'echo "selftest: rank $OMPI_COMM_WORLD_RANK: $(hostname) $(ip -4 -o addr show eth0 | awk "{ print \$4 }")"' ||
        return 1
    netns_mpirun -n 3 --host c0:1,c1:1,s0:1 "$tmp/selftest" "${NETNS_SELFTEST_MIB:-64}"
}

netns__usage() {
    cat <<EOF
usage: netns.sh COMMAND ...   (as root)

  check                          can network namespaces be made here? (exit 0 / 1)
  up NCLIENTS NSERVERS [RATE]    make a rig owned by the calling shell (\$PPID) and print
                                 its hosts; then: export CNIO_NETNS_PREFIX=<printed prefix>
  down [PREFIX]                  remove the rig (default \$CNIO_NETNS_PREFIX)
  exec HOST CMD...               run CMD in HOST (c0.., s0.., sw)
  addr HOST                      print HOST's address
  mpirun ARGS...                 mpirun from the head node, e.g.
                                 mpirun -n 4 --host c0:2,c1:2 hostname
  flags                          print the mpirun flags the rig uses
  run NCLIENTS NSERVERS [RATE] -- CMD...
                                 make a rig, run CMD (in the root namespace, with
                                 CNIO_NETNS_PREFIX set, so CMD can call netns.sh exec /
                                 mpirun), remove the rig when CMD ends or on a signal
  list                           the rigs present, with their owners
  cleanup-stale                  remove rigs whose owner process is gone
  selftest [RATE]                2 clients + 1 server: rank placement, an MPI Allreduce
                                 across namespaces, and the rate c0 -> s0 (compiles a
                                 small MPI program with mpicc)

RATE is a tc rate (100mbit, 1gbit) applied to each server's link, both directions.
EOF
}

netns__cli_run() {
    local nc=$1 ns=$2 rate=
    shift 2
    if [ "${1:-}" != "--" ]; then
        rate=${1:-}
        shift
    fi
    [ "${1:-}" = "--" ] && shift
    [ $# -gt 0 ] || { netns__usage >&2; return 2; }
    trap 'netns_down' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    netns_up "$nc" "$ns" "$rate" || return 1
    "$@"
}

netns__cli_list() {
    local p state
    for p in $(ip netns list 2>/dev/null | awk '{ print $1 }' |
               sed -n 's/^\(cnio[0-9]\{1,\}-\).*/\1/p' | sort -u); do
        state="owner alive"
        netns__owner_alive "$p" || state="owner gone (stale)"
        echo "$p $(netns__list "$p" | wc -l) namespaces, $state"
    done
}

netns__cli() {
    local cmd=${1:-help}
    shift || true
    case $cmd in
        check) netns_check ;;
        up) NETNS_OWNER=${NETNS_OWNER:-$PPID} netns_up "$@" &&
                netns__say "export CNIO_NETNS_PREFIX=$NETNS_PREFIX" ;;
        down) NETNS_PREFIX=${1:-${CNIO_NETNS_PREFIX:-}} netns_down ;;
        exec) netns_exec "$@" ;;
        addr) netns_addr "$@" ;;
        mpirun) netns_mpirun "$@" ;;
        flags) NETNS_CIDR=${NETNS_CIDR:-SUBNET.0/24} netns_mpirun_flags ;;
        run) [ $# -ge 3 ] || { netns__usage >&2; return 2; }; netns__cli_run "$@" ;;
        list) netns__cli_list ;;
        cleanup-stale) netns_cleanup_stale ;;
        selftest) netns__selftest "$@" ;;
        help|-h|--help) netns__usage ;;
        *) netns__usage >&2; return 2 ;;
    esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -u
    netns__cli "$@"
    exit
fi
