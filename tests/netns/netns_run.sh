#!/usr/bin/env bash
# A multi-host testbed on one machine: K network namespaces ("hosts") joined through a switch
# namespace, each by a veth pair whose two directions are shaped with tc tbf to --rate, and one
# rank of COMMAND per host. Nothing is added to the caller's namespace, and everything created
# is removed on exit, however the run ends.
#
#   host i (netns <prefix>-h<i>)            switch (netns <prefix>-sw)
#   eth0 10.77.0.<i+1>/24 --tbf-->  <--tbf-- v<i> --- bridge br0 --- v<j> ...
#
# Each rank gets gccl's rendezvous variables (GCCL_RANK, GCCL_WORLD_SIZE, GCCL_ROOT_ADDR/PORT,
# GCCL_JOB_TOKEN, GCCL_HOST_ID=<host name>, GCCL_SOCKET_ADDR=<its address>), so gccl's perf
# tools run one rank per process. In COMMAND, {rank} {size} {addr} {host} {store} are replaced
# per rank ({store}: a directory all ranks share, for a baseline's file-based rendezvous).
#
# With --launcher, COMMAND runs once, in host 0, with NETNS_PREFIX and NETNS_HOSTS exported: for
# a launcher that starts the ranks itself, e.g. mpirun with tests/netns/ns_agent.sh as its remote
# shell (hosts are named h0..h<K-1>; see bench.sh).
#
# Exit: 0 when every rank exited 0; 1 when any failed or timed out (their logs are printed), or
# the testbed could not be built; 77 when this user is not allowed to create namespaces (CTest
# SKIP_RETURN_CODE); 2 on bad usage.
#
#   tests/netns/netns_run.sh --hosts 4 --rate 10gbit -- build/bin/allreduce_perf -b 1M -e 64M
set -euo pipefail

usage() {
  echo "usage: $0 [--hosts K] [--rate 1gbit] [--timeout SEC] [--mtu BYTES] [--quiet] [--launcher]" \
    "-- COMMAND..." >&2
  exit 2
}

hosts=3
rate=1gbit
timeout_s=120
mtu=1500
quiet=0
launcher=0
while (($#)); do
  case $1 in
    --hosts) hosts=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --mtu) mtu=$2; shift 2 ;;
    --quiet) quiet=1; shift ;;
    --launcher) launcher=1; shift ;;
    --) shift; break ;;
    *) usage ;;
  esac
done
(($# > 0)) || usage
if ! [[ $hosts =~ ^[0-9]+$ ]] || ((hosts < 1 || hosts > 200)); then usage; fi

# The pid keeps concurrent runs (CTest -j, other helpers) apart.
prefix="gcclnet$$"
switch="$prefix-sw"
work=$(mktemp -d /tmp/netns_run.XXXXXX)
created=()
pids=()

cleanup() {
  local pid ns i
  # Each rank runs under `timeout`, which puts itself and the rank in a process group of its
  # own (the group's id is its pid): killing only timeout would leave the rank running, and
  # with it the namespaces it holds.
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  # Deleting a namespace deletes its veth ends, and with them their peers. The switch goes last:
  # a run killed half-way through this still leaves it, which the next run's sweep looks for.
  for ((i = ${#created[@]} - 1; i >= 0; i--)); do ip netns delete "${created[i]}" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Namespaces of runs that were killed outright (SIGKILL runs no trap: a CTest timeout) and
# whose process is gone: their pid may come round again and collide with ours.
for stale in /run/netns/gcclnet*-sw; do
  [[ -e $stale ]] || continue
  stale_prefix=$(basename "$stale" -sw)
  # Alive, and not this script (whose pid the dead run had): another run's, still in use.
  [[ ${stale_prefix#gcclnet} != "$$" ]] && kill -0 "${stale_prefix#gcclnet}" 2>/dev/null && continue
  for ns in /run/netns/"$stale_prefix"-*; do ip netns delete "$(basename "$ns")" 2>/dev/null || true; done
done

if ! ip netns add "$switch" 2>"$work/err"; then
  if grep -qi "not permitted\|permission denied" "$work/err"; then
    echo "SKIP: cannot create network namespaces ($(cat "$work/err")); needs root or CAP_SYS_ADMIN" >&2
    exit 77
  fi
  echo "cannot create the switch namespace: $(cat "$work/err")" >&2
  exit 1
fi
created+=("$switch")

# tbf needs a bucket of at least one timer tick of traffic and a queue that holds a few ms of it;
# 2 ms of traffic (at least 64 KiB) is the bucket, 20 ms the queue.
[[ ${rate,,} =~ ^([0-9]+)([kmg]?)bit$ ]] || { echo "bad --rate $rate (e.g. 100mbit, 1gbit)" >&2; exit 2; }
case ${BASH_REMATCH[2]} in
  k) rate_bits=$((BASH_REMATCH[1] * 1000)) ;;
  m) rate_bits=$((BASH_REMATCH[1] * 1000000)) ;;
  g) rate_bits=$((BASH_REMATCH[1] * 1000000000)) ;;
  *) rate_bits=${BASH_REMATCH[1]} ;;
esac
burst=$((rate_bits / 8 / 500))
((burst >= 65536)) || burst=65536
limit=$((rate_bits / 8 / 50))
((limit >= 2 * burst)) || limit=$((2 * burst))
shape() {  # namespace, device
  ip netns exec "$1" tc qdisc replace dev "$2" root tbf rate "$rate" burst "$burst" limit "$limit"
}

ipx() { ip netns exec "$switch" ip "$@"; }
ipx link add br0 type bridge
ipx link set br0 up
ipx link set lo up
addr_of() { echo "10.77.$(($1 / 250)).$(($1 % 250 + 1))"; }
for ((i = 0; i < hosts; i++)); do
  ns="$prefix-h$i"
  ip netns add "$ns"
  created+=("$ns")
  # Both ends made inside their namespaces: nothing in the caller's, and short names (a
  # device name holds 15 characters; one built from a 7-digit pid would not fit).
  ip link add eth0 netns "$ns" type veth peer name "v$i" netns "$switch"
  ip netns exec "$ns" ip link set eth0 mtu "$mtu" up
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" ip addr add "$(addr_of "$i")/16" dev eth0
  ipx link set "v$i" mtu "$mtu" master br0 up
  shape "$ns" eth0   # host -> switch
  shape "$switch" "v$i"  # switch -> host
done

root_addr=$(addr_of 0)
token="netns-$$-$RANDOM$RANDOM"
mkdir -p "$work/store"
export NETNS_PREFIX=$prefix NETNS_HOSTS=$hosts
ranks=$hosts
((launcher)) && ranks=1
for ((i = 0; i < ranks; i++)); do
  ns="$prefix-h$i"
  addr=$(addr_of "$i")
  args=()
  for a in "$@"; do
    a=${a//\{rank\}/$i}
    a=${a//\{size\}/$hosts}
    a=${a//\{addr\}/$addr}
    a=${a//\{host\}/$ns}
    a=${a//\{store\}/$work/store}
    args+=("$a")
  done
  # --kill-after: a rank that ignores TERM still ends.
  ip netns exec "$ns" env GCCL_RANK="$i" GCCL_WORLD_SIZE="$hosts" GCCL_ROOT_ADDR="$root_addr" \
    GCCL_ROOT_PORT=29611 GCCL_JOB_TOKEN="$token" GCCL_HOST_ID="$ns" GCCL_SOCKET_ADDR="$addr" \
    timeout --kill-after=5 "$timeout_s" "${args[@]}" >"$work/rank$i.log" 2>&1 &
  pids+=($!)
done

failed=0
for ((i = 0; i < ranks; i++)); do
  rc=0
  wait "${pids[$i]}" || rc=$?
  if ((rc != 0)); then
    failed=1
    echo "rank $i (netns $prefix-h$i) exited $rc$( ((rc == 124)) && echo " (timed out after ${timeout_s}s)")" >&2
    sed "s/^/[rank $i] /" "$work/rank$i.log" >&2
  fi
done
pids=()
((quiet)) || cat "$work/rank0.log"
if ((failed)); then
  echo "FAILED: $hosts hosts at $rate" >&2
  exit 1
fi
