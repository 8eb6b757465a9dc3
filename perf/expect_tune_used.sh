#!/usr/bin/env bash
# allreduce_perf --tune writes a tune file with every figure; a run with GCCL_TUNE_FILE reads
# it (rank 0), shares it, and logs predictions made with it.
set -euo pipefail
perf=$1
file=$(mktemp)
log=$(mktemp)
trap 'rm -f "$file" "$log"' EXIT
"$perf" --np 2 --tune "$file" --timeout 120
for key in intra_alpha_us intra_beta_us_per_byte gamma_us_per_byte scale.allreduce.ring \
  scale.allreduce.tree scale.allreduce.halving_doubling scale.barrier.ring; do
  grep -q "^$key=" "$file" || { echo "missing $key in the tune file"; cat "$file"; exit 1; }
done
GCCL_TUNE_FILE=$file GCCL_DEBUG=INFO GCCL_DEBUG_SUBSYS=COLL \
  "$perf" --np 2 -b 8 -e 1M -f 1024 -n 2 -w 1 --timeout 60 >"$log" 2>&1
grep -q "predicted" "$log" || { echo "no logged choice"; cat "$log"; exit 1; }
if grep -q "GCCL_TUNE_FILE.*is not used" "$log"; then cat "$log"; exit 1; fi
echo "tune file written and used"
