#!/bin/sh
# The test of a perf tool's checker (CTest <tool>_detects_a_wrong_rank): rank 2 of 3 corrupts
# one element of each checked output; the run must exit non-zero and the launcher, which sums
# the ranks' own counts (not through gccl), must count every one of them.
#   expect_wrong_detected.sh TOOL [EXPECTED [EXTRA FLAGS...]]
# EXPECTED defaults to 6: 3 sizes x 2 placements (fewer where a size has no element to check).
set -u
perf=$1
expected=${2:-6}
[ $# -ge 2 ] && shift 2 || shift $#
if out=$("$perf" --np 3 -b 4 -e 1K -f 16 -n 1 -w 0 --timeout 60 --corrupt-rank 2 "$@"); then
  echo "$out"
  echo "FAIL: $perf exited 0 despite wrong elements on rank 2"
  exit 1
fi
echo "$out"
if ! echo "$out" | grep -q "Out of bounds values, all 3 ranks : $expected FAILED"; then
  echo "FAIL: the launcher did not count rank 2's $expected wrong elements"
  exit 1
fi
