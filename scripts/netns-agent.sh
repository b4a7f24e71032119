#!/bin/sh
# netns-agent.sh - the "remote shell" Open MPI's mpirun uses to start its daemons (orted) on
# the hosts of a scripts/netns.sh rig: instead of logging in with ssh, it enters the host's
# network namespace. Give it to mpirun as --mca plm_rsh_agent /path/netns-agent.sh (as
# netns_mpirun does).
#
#   netns-agent.sh [ssh-style options] HOST COMMAND...
#
# Options are ignored (with their values, for the ssh options that take one). HOST is
#   - a rig host's short name (c0, s1, sw), in the rig named by $CNIO_NETNS_PREFIX;
#   - a full namespace name (cnio1234-c0);
#   - or an address of a rig host (looked up in $CNIO_NETNS_RUNDIR/PREFIX/hosts).
# COMMAND runs as ssh runs it: its words joined by spaces and given to sh -c, inside the
# namespace, in a private UTS namespace whose hostname is the short name (so `hostname` in
# a rank says which rig host it is on). The environment is inherited from mpirun.
# Exit status: COMMAND's, or 255 (as ssh) when HOST is not a host of a rig.

run_dir=/var/run/netns
rig_dir=${CNIO_NETNS_RUNDIR:-/run/cnio-netns}
prefix=${CNIO_NETNS_PREFIX:-}

while [ $# -gt 0 ]; do
    case $1 in
        --) shift; break ;;
        -[bcDEeFIiJLlmOopQRSWw]) shift 2 ;;
        -*) shift ;;
        *) break ;;
    esac
done
if [ $# -lt 2 ]; then
    echo "netns-agent: usage: netns-agent.sh [options] HOST COMMAND..." >&2
    exit 255
fi
host=$1
shift

case $host in
    *[!A-Za-z0-9_.:-]*|'')
        echo "netns-agent: bad host name '$host'" >&2
        exit 255 ;;
esac

ns=
short=
if [ -n "$prefix" ] && [ -e "$run_dir/$prefix$host" ]; then
    ns=$prefix$host
    short=$host
elif [ -e "$run_dir/$host" ]; then
    case $host in
        cnio[0-9]*-*) ns=$host; short=${host#cnio*-} ;;
    esac
fi
if [ -z "$ns" ]; then
    for f in "$rig_dir/$prefix"*/hosts; do
        [ -r "$f" ] || continue
        short=$(awk -v a="$host" '$2 == a { print $1; exit }' "$f")
        if [ -n "$short" ]; then
            ns=$(basename "$(dirname "$f")")$short
            break
        fi
    done
fi
if [ -z "$ns" ] || [ ! -e "$run_dir/$ns" ]; then
    echo "netns-agent: '$host' is not a host of a netns rig (CNIO_NETNS_PREFIX='$prefix')" >&2
    exit 255
fi

exec ip netns exec "$ns" unshare --uts sh -c "hostname '$short' || exit 255
$*"
