#!/usr/bin/env bash
# Trains the digits MLP alone and with 4 ranks (dense, fp16, csc); fails unless every gccl mode's
# test accuracy is within 0.01 (one point) of the single process's.
#   check_convergence.sh path/to/example_train_digits [extra flags for every run...]
set -euo pipefail
bin=${1:?usage: $0 path/to/example_train_digits [flags...]}
shift

accuracy() {  # mode [flags...] -> the number after "test accuracy:"
  local mode=$1 out
  shift
  if ! out=$("$bin" --mode "$mode" "$@" 2>&1); then
    echo "FAIL: --mode $mode exited non-zero:" >&2
    echo "$out" >&2
    exit 1
  fi
  echo "$out" | sed -n 's/^test accuracy: \([0-9.]*\)$/\1/p'
}

reference=$(accuracy single "$@")
[[ -n $reference ]] || { echo "FAIL: single printed no test accuracy" >&2; exit 1; }
echo "single: test accuracy $reference"
status=0
for mode in dense fp16 csc; do
  acc=$(accuracy "$mode" --np 4 "$@")
  [[ -n $acc ]] || { echo "FAIL: $mode printed no test accuracy" >&2; exit 1; }
  if awk -v a="$acc" -v r="$reference" 'BEGIN { d = a - r; exit !(d <= 0.01 && d >= -0.01) }'; then
    echo "$mode: test accuracy $acc (single $reference): ok"
  else
    echo "FAIL: $mode: test accuracy $acc is more than 0.01 from single's $reference" >&2
    status=1
  fi
done
exit $status
