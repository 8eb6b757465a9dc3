#!/usr/bin/env bash
# A remote shell for launchers (Open MPI's plm_rsh_agent) on the netns_run.sh testbed: runs the
# command line in host <name>'s namespace instead of over ssh. Each host also gets its own UTS
# namespace named after it, so the launcher sees K distinct nodes rather than one machine
# (namespaces share the hostname otherwise).
#   ns_agent.sh h2 orted ...   (NETNS_PREFIX from netns_run.sh --launcher)
set -euo pipefail
host=$1
shift
[[ $host =~ ^h[0-9]+$ ]] || { echo "ns_agent.sh: unknown host $host" >&2; exit 2; }
exec ip netns exec "$NETNS_PREFIX-$host" unshare --uts sh -c "hostname $host && $*"
