#!/usr/bin/env bash
# More ranks than cores: gccl waiting by yielding (GCCL_YIELD_US=auto, 1 ms where ranks
# outnumber cores) against sleeping at once (GCCL_YIELD_US=0), over shared memory and loopback
# TCP, beside Open MPI's shared memory (vader, which yields when oversubscribed), alternating,
# 4 ranks, float32 sum from 8 B to 64 MiB. Raw rows (size, then out-of-place and in-place
# time in us); the medians are in docs/benchmarks.md.
#
#   perf/baselines/oversubscribed.sh [REPS] [NP]
set -euo pipefail
cd "$(dirname "$0")/../.."
reps=${1:-3}
np=${2:-4}
# Both libraries' ranks left to the scheduler, as when the figures in docs/benchmarks.md were
# taken: gccl's tools pin theirs unless told --bind none, mpirun where ranks fit the cores.
mpi=(mpirun --allow-run-as-root --oversubscribe --bind-to none --mca pml ob1 --mca btl vader,self)
iterations() {
  case $1 in
    64M) echo "-n 5 -w 1" ;;
    1M) echo "-n 50 -w 5" ;;
    *) echo "-n 300 -w 30" ;;
  esac
}
# One run's table rows (size, out-of-place us, in-place us); a run that fails stops the script
# with its output, so that no empty row reaches the medians.
row_times() {
  local label=$1 out
  shift
  if ! out=$("$@" 2>&1); then
    echo "$label failed:" >&2
    echo "$out" >&2
    exit 1
  fi
  echo "$label $(grep -E '^\s+[0-9]' <<<"$out" | awk '{print $1, $5, $9}')"
}
for rep in $(seq "$reps"); do
  for size in 8 64K 1M 64M; do
    for transport in shm tcp; do
      for wait in auto 0; do
        # shellcheck disable=SC2046
        row_times "rep $rep gccl-$transport yield=$wait" env GCCL_TRANSPORT=$transport \
          GCCL_YIELD_US=$wait timeout 300 build/bin/allreduce_perf --np "$np" --bind none \
          -b $size -e $size $(iterations $size)
      done
    done
    # shellcheck disable=SC2046
    row_times "rep $rep mpi-vader" timeout 300 "${mpi[@]}" -np "$np" build/bin/mpi_allreduce_perf \
      -b $size -e $size $(iterations $size)
  done
done
