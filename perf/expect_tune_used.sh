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
  scale.allreduce.tree scale.allreduce.halving_doubling scale.barrier.ring \
  scale.allreduce.ring@16384 scale.allreduce.ring@262144 scale.allreduce.ring@1048576 \
  scale.allreduce.tree@67108864 scale.alltoall.direct scale.alltoall.recursive_doubling \
  scale.alltoall.direct@1048576; do
  grep -q "^$key=" "$file" || { echo "missing $key in the tune file"; cat "$file"; exit 1; }
done
run_with() {  # tune file, log
  GCCL_TUNE_FILE=$1 GCCL_DEBUG=INFO GCCL_DEBUG_SUBSYS=COLL \
    "$perf" --np 2 -b 8 -e 1M -f 1024 -n 2 -w 1 --timeout 60 >"$2" 2>&1
  if grep -q "GCCL_TUNE_FILE.*is not used" "$2"; then cat "$2"; exit 1; fi
}
# rank 0's prediction for the 8-byte allreduce, in us
predicted() { sed -n 's/.*allreduce of 8 bytes .*predicted \([0-9]*\) us.*/\1/p' "$1" | head -n 1; }
run_with "$file" "$log"
measured=$(predicted "$log")
[ -n "$measured" ] || { echo "no logged prediction"; cat "$log"; exit 1; }
# The predictions come from the file: a file with a 1000 times slower hop predicts far more.
slow_file=$(mktemp)
slow_log=$(mktemp)
trap 'rm -f "$file" "$log" "$slow_file" "$slow_log"' EXIT
alpha=$(sed -n 's/^intra_alpha_us=//p' "$file")
sed "s/^intra_alpha_us=.*/intra_alpha_us=$(awk -v a="$alpha" 'BEGIN { print a * 1000 }')/" \
  "$file" >"$slow_file"
run_with "$slow_file" "$slow_log"
slow=$(predicted "$slow_log")
if [ -z "$slow" ] || [ "$slow" -lt $((measured * 10 + 10)) ]; then
  echo "a 1000 times slower hop in the tune file predicted ${slow:-nothing} us (file: $measured us)"
  cat "$slow_log"
  exit 1
fi
echo "tune file written and used: 8 B predicted $measured us, with a 1000x hop $slow us"
