#!/usr/bin/env bash
# Trains the digits MLP with PyTorch alone, then with 4 ranks started by mpirun through
# gccl.torch (dense, fp16, sparse); fails unless every gccl run's test accuracy is within 0.01
# (one point) of the single process's, and its ranks ended with the same weights.
#   check_convergence.sh path/to/python3 path/to/mpirun
# GCCL_LIBRARY (libgccl.so) and PYTHONPATH (python/) are passed on to the ranks.
set -euo pipefail
python=${1:?usage: $0 python3 mpirun}
mpirun=${2:?usage: $0 python3 mpirun}
script=$(dirname "$0")/train_digits.py

accuracy() {  # command... -> the number after "test accuracy:"
  local out
  if ! out=$(timeout 240 "$@" 2>&1); then
    echo "FAIL: $* exited non-zero:" >&2
    echo "$out" >&2
    exit 1
  fi
  echo "$out" | sed -n 's/^test accuracy: \([0-9.]*\)$/\1/p'
}

reference=$(accuracy "$python" "$script" --single)
[[ -n $reference ]] || { echo "FAIL: --single printed no test accuracy" >&2; exit 1; }
echo "single: test accuracy $reference"
status=0
for mode in "--compression none" "--compression fp16" "--sparse 0.1"; do
  # shellcheck disable=SC2086 # $mode is two words on purpose
  acc=$(accuracy "$mpirun" --allow-run-as-root --oversubscribe -np 4 -x GCCL_LIBRARY \
        -x PYTHONPATH "$python" "$script" $mode)
  [[ -n $acc ]] || { echo "FAIL: $mode printed no test accuracy" >&2; exit 1; }
  if awk -v a="$acc" -v r="$reference" 'BEGIN { d = a - r; exit !(d <= 0.01 && d >= -0.01) }'; then
    echo "$mode: test accuracy $acc (single $reference): ok"
  else
    echo "FAIL: $mode: test accuracy $acc is more than 0.01 from single's $reference" >&2
    status=1
  fi
done
exit $status
