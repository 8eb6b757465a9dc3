#!/usr/bin/env bash
# Inter-host comparison on the namespace testbed (netns_run.sh): gccl with GCCL_NSOCKS=1 and 4,
# Gloo (ring_chunked) and Open MPI (TCP BTL; mpirun reaches the namespaces through
# ns_agent.sh), allreduce of float32 at the given sizes, for each rate. Prints each run's table;
# docs/benchmarks.md quotes the in-place busbw.
#
#   tests/netns/bench.sh [--hosts 4] [--rates "1gbit 10gbit"] [--sizes "1M 64M"] [--iters 10]
set -euo pipefail
cd "$(dirname "$0")/../.."
hosts=4
rates="1gbit 10gbit"
sizes="1M 64M"
iters=5
while (($#)); do
  case $1 in
    --hosts) hosts=$2; shift 2 ;;
    --rates) rates=$2; shift 2 ;;
    --sizes) sizes=$2; shift 2 ;;
    --iters) iters=$2; shift 2 ;;
    *) echo "usage: $0 [--hosts K] [--rates \"1gbit 10gbit\"] [--sizes \"1M 64M\"] [--iters N]" >&2; exit 2 ;;
  esac
done
run=tests/netns/netns_run.sh
for rate in $rates; do
  for size in $sizes; do
    sweep=(-b "$size" -e "$size" -n "$iters" -w 2)
    for nsocks in 1 4; do
      echo "=== gccl GCCL_NSOCKS=$nsocks, $hosts hosts at $rate, $size"
      GCCL_NSOCKS=$nsocks "$run" --hosts "$hosts" --rate "$rate" --timeout 300 -- \
        build/bin/allreduce_perf "${sweep[@]}"
    done
    if [[ -x build/bin/gloo_allreduce_perf ]]; then
      echo "=== gloo ring_chunked, $hosts hosts at $rate, $size"
      "$run" --hosts "$hosts" --rate "$rate" --timeout 300 -- env "GLOO_PERF_RANK={rank}" \
        "GLOO_PERF_STORE={store}" "GLOO_PERF_ADDR={addr}" build/bin/gloo_allreduce_perf \
        --np "$hosts" --algo ring_chunked "${sweep[@]}" --timeout 240
    fi
    if [[ -x build/bin/mpi_allreduce_perf ]] && command -v mpirun >/dev/null; then
      # One slot per host, the TCP BTL on the testbed's links; ranks yield when idle, as gccl's
      # do when a machine's ranks outnumber its cores (they share this machine's cores).
      hostlist=$(seq -s, -f "h%g" 0 $((hosts - 1)))
      echo "=== open mpi tcp, $hosts hosts at $rate, $size"
      "$run" --hosts "$hosts" --rate "$rate" --timeout 300 --launcher -- mpirun --allow-run-as-root \
        --host "$hostlist" -np "$hosts" --mca plm_rsh_agent "$PWD/tests/netns/ns_agent.sh" \
        --mca pml ob1 --mca btl tcp,self --mca btl_tcp_if_include eth0 \
        --mca oob_tcp_if_include eth0 --mca mpi_yield_when_idle 1 \
        "$PWD/build/bin/mpi_allreduce_perf" --transport-label tcp "${sweep[@]}"
    fi
  done
done
