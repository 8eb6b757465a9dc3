#!/bin/sh
# The test of allreduce_perf's checker (CTest allreduce_perf_detects_a_wrong_rank): rank 2 of 3
# corrupts one element of each checked output; the run must exit non-zero and the launcher,
# which sums the ranks' own counts (not through gccl), must count all 6 (3 sizes x 2 placements).
set -u
perf=$1
if out=$("$perf" --np 3 -b 4 -e 1K -f 16 -n 1 -w 0 --timeout 60 --corrupt-rank 2); then
  echo "$out"
  echo "FAIL: allreduce_perf exited 0 despite wrong elements on rank 2"
  exit 1
fi
echo "$out"
if ! echo "$out" | grep -q "Out of bounds values, all 3 ranks : 6 FAILED"; then
  echo "FAIL: the launcher did not count rank 2's 6 wrong elements"
  exit 1
fi
