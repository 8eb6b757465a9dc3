#!/usr/bin/env bash
# Inter-host comparison on the namespace testbed (netns_run.sh): gccl with GCCL_NSOCKS=1 and 4,
# Gloo and Open MPI (TCP BTL; mpirun reaches the namespaces through ns_agent.sh), one
# collective of float32 at the given sizes, for each rate. Prints each run's table;
# docs/benchmarks.md quotes the busbw or the times.
#
#   tests/netns/bench.sh [--hosts 4] [--rates "1gbit 10gbit"] [--sizes "1M 64M"] [--iters 10]
#                        [--collective allreduce|alltoall] [--gccl-tool alltoallv_perf]
#                        [--algos direct,recursive_doubling]
#
# --collective: allreduce (Gloo's ring_chunked) or alltoall (Gloo's pairwise exchange).
# --gccl-tool: gccl's program instead of <collective>_perf (alltoallv_perf: the same blocks
# through gcclAllToAllV). --algos: gccl's algorithms, timed in turn (perf tools' -a).
set -euo pipefail
cd "$(dirname "$0")/../.."
hosts=4
rates="1gbit 10gbit"
sizes="1M 64M"
iters=5
collective=allreduce
gccl_tool=""
algos=""
while (($#)); do
  case $1 in
    --hosts) hosts=$2; shift 2 ;;
    --rates) rates=$2; shift 2 ;;
    --sizes) sizes=$2; shift 2 ;;
    --iters) iters=$2; shift 2 ;;
    --collective) collective=$2; shift 2 ;;
    --gccl-tool) gccl_tool=$2; shift 2 ;;
    --algos) algos=$2; shift 2 ;;
    *) echo "usage: $0 [--hosts K] [--rates \"1gbit 10gbit\"] [--sizes \"1M 64M\"] [--iters N]" \
         "[--collective allreduce|alltoall] [--gccl-tool TOOL] [--algos A,B]" >&2; exit 2 ;;
  esac
done
case $collective in
  allreduce) gloo_algo=ring_chunked; baseline_collective=() ;;
  alltoall) gloo_algo=pairwise; baseline_collective=(--collective alltoall) ;;
  *) echo "$0: --collective allreduce or alltoall" >&2; exit 2 ;;
esac
gccl_tool=build/bin/${gccl_tool:-${collective}_perf}
gccl_algos=()
[[ -n $algos ]] && gccl_algos=(-a "$algos")
run=tests/netns/netns_run.sh
for rate in $rates; do
  for size in $sizes; do
    sweep=(-b "$size" -e "$size" -n "$iters" -w 2)
    for nsocks in 1 4; do
      echo "=== gccl GCCL_NSOCKS=$nsocks, $hosts hosts at $rate, $size"
      GCCL_NSOCKS=$nsocks "$run" --hosts "$hosts" --rate "$rate" --timeout 300 -- \
        "$gccl_tool" "${gccl_algos[@]}" "${sweep[@]}"
    done
    if [[ -x build/bin/gloo_allreduce_perf ]]; then
      echo "=== gloo $gloo_algo, $hosts hosts at $rate, $size"
      "$run" --hosts "$hosts" --rate "$rate" --timeout 300 -- env "GLOO_PERF_RANK={rank}" \
        "GLOO_PERF_STORE={store}" "GLOO_PERF_ADDR={addr}" build/bin/gloo_allreduce_perf \
        --np "$hosts" "${baseline_collective[@]}" --algo "$gloo_algo" "${sweep[@]}" --timeout 240
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
        "$PWD/build/bin/mpi_allreduce_perf" --transport-label tcp "${baseline_collective[@]}" \
        "${sweep[@]}"
    fi
  done
done
