#!/usr/bin/env bash
# Trains the digits MLP alone and with 4 ranks (dense, fp16, csc); fails unless every gccl mode's
# test accuracy is within 0.01 (one point) of the single process's.
#   check_convergence.sh path/to/example_train_digits [extra flags for every run...]
set -euo pipefail
bin=${1:?usage: $0 path/to/example_train_digits [flags...]}
shift
# shellcheck source=examples/convergence.sh
source "$(dirname "$0")/../convergence.sh"

reference=$(accuracy "$bin" --mode single "$@")
echo "single: test accuracy $reference"
status=0
for mode in dense fp16 csc; do
  acc=$(accuracy "$bin" --mode "$mode" --np 4 "$@")
  within_a_point "$mode" "$acc" "$reference" || status=1
done
exit $status
