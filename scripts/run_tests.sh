#!/usr/bin/env bash
# The whole test suite: installs, builds, and runs every test in the release build, under
# ASan+UBSan, and the engine's multi-threaded tests under TSan.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh --tests

# --no-tests=error: a run that selects nothing (the TSan -R regex after a rename, an empty
# build) fails instead of passing with zero tests.
run_ctest() {  # dir, extra ctest args...
  local dir=$1; shift
  (cd "$dir" && ctest --output-on-failure --no-tests=error --timeout 300 "$@")
}

echo "=== release build"
scripts/build.sh release
# The optional parts must have been built: CMake skips a baseline or a transport whose package
# it cannot find with a message only, and their tests would then be left out of a green run.
for target in gloo_allreduce_perf mpi_allreduce_perf test_ucx; do
  [[ -x build/bin/$target ]] || { echo "build/bin/$target was not built (its package?)" >&2; exit 1; }
done
# Likewise the PyTorch plugin's tests, which need /usr/bin/python3 to import torch.
(cd build && ctest -N -R '^python_torch_' | grep -q 'Total Tests: [1-9]') ||
  { echo "the PyTorch plugin's tests were left out (python3-torch?)" >&2; exit 1; }
run_ctest build
# The example and the main job, quickly, as a user would run them.
./build/bin/allreduce_perf --np 3 -b 4 -e 4M -f 16 -n 3 -w 1 >/dev/null
./build/bin/allreduce_perf --print-config >/dev/null
scripts/check_install.sh

echo "=== ASan + UBSan build"
scripts/build.sh asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  run_ctest build-asan

echo "=== TSan build (engine, transports, multi-threaded ranks)"
scripts/build.sh tsan
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  run_ctest build-tsan -R "AllreduceThreads|AbortThreads|AllreduceSweep.*(ring[1-4]|recursive_doubling2|tree3|halving_doubling3|hierarchical4on2hosts|direct3|one_shot3)|Store|ScheduleExecution|EngineTcp|Locality|TransportRouter|SpecialValues|StallDiagnosis|Collectives\..*size(3|4)( |$)|CommSplit|Lazy|SparseThreads|StagedCollectives|DeviceCollectives|ZeroCopy"

echo "=== all tests passed"
