#!/usr/bin/env bash
# Trains the digits MLP with PyTorch alone, then with 4 ranks started by mpirun through
# gccl.torch (dense, fp16, sparse) and through DDP on torch.distributed's gccl backend; fails
# unless every gccl run's test accuracy is within 0.01 (one point) of the single process's, and
# its ranks ended with the same weights.
#   check_convergence.sh path/to/python3 path/to/mpirun
# GCCL_LIBRARY (libgccl.so) and PYTHONPATH (python/) are passed on to the ranks.
set -euo pipefail
python=${1:?usage: $0 python3 mpirun}
mpirun=${2:?usage: $0 python3 mpirun}
script=$(dirname "$0")/train_digits.py
# shellcheck source=examples/convergence.sh
source "$(dirname "$0")/../convergence.sh"

reference=$(accuracy "$python" "$script" --single)
echo "single: test accuracy $reference"
status=0
for mode in "--compression none" "--compression fp16" "--sparse 0.1"; do
  # shellcheck disable=SC2086 # $mode is two words on purpose
  acc=$(accuracy "$mpirun" --allow-run-as-root --oversubscribe -np 4 -x GCCL_LIBRARY \
        -x PYTHONPATH "$python" "$script" $mode)
  within_a_point "$mode" "$acc" "$reference" || status=1
done
# DDP meets through torch's env:// rendezvous on a port that was free a moment before.
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
acc=$(accuracy "$mpirun" --allow-run-as-root --oversubscribe -np 4 -x GCCL_LIBRARY -x PYTHONPATH \
      -x MASTER_ADDR=127.0.0.1 -x MASTER_PORT="$port" "$python" "$script" --ddp)
within_a_point "--ddp" "$acc" "$reference" || status=1
exit $status
