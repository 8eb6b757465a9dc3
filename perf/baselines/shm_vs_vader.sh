#!/usr/bin/env bash
# gccl over shared memory (buffers from the heap, and from gcclMemAlloc: zero-copy) against gccl
# over loopback TCP and Open MPI's shared memory (vader), alternating, float32 sum at 16 and 64 MiB on 2 and 4 ranks, then the 4-byte allreduce at 2
# ranks, then one core's memcpy rate (the ceiling within a machine). Raw tables; the medians
# are in docs/benchmarks.md.
#
#   perf/baselines/shm_vs_vader.sh [REPS]
set -euo pipefail
cd "$(dirname "$0")/../.."
reps=${1:-3}
# Both libraries' ranks left to the scheduler, as when the figures in docs/benchmarks.md were
# taken: gccl's tools pin theirs unless told --bind none, mpirun where ranks fit the cores.
mpi=(mpirun --allow-run-as-root --oversubscribe --bind-to none --mca pml ob1 --mca btl vader,self)
rows() { grep -vE '^#' | grep -v '^$' || true; }
for rep in $(seq "$reps"); do
  for np in 2 4; do
    for t in shm shm-memalloc tcp; do
      echo "== rep $rep np $np gccl-$t"
      GCCL_TRANSPORT=${t%%-*} timeout 300 build/bin/allreduce_perf --np "$np" --bind none \
        -b 16M -e 64M -f 4 -n 5 -w 2 -R "$([ "$t" = shm-memalloc ] && echo 1 || echo 0)" 2>&1 | rows
    done
    echo "== rep $rep np $np mpi-vader"
    timeout 300 "${mpi[@]}" -np "$np" build/bin/mpi_allreduce_perf -b 16M -e 64M -f 4 -n 5 -w 2 2>&1 | rows
  done
  echo "== rep $rep np 2 4B gccl-shm"
  GCCL_TRANSPORT=shm timeout 300 build/bin/allreduce_perf --np 2 --bind none -b 4 -e 4 \
    -n 2000 -w 200 2>&1 | rows
  echo "== rep $rep np 2 4B mpi-vader"
  timeout 300 "${mpi[@]}" -np 2 build/bin/mpi_allreduce_perf -b 4 -e 4 -n 2000 -w 200 2>&1 | rows
done
python3 -c "import sys; sys.path.insert(0, 'perf/baselines'); import compare; \
print(f'memcpy, one core, 64 MiB: {compare.memcpy_gbps():.2f} GB/s')"
