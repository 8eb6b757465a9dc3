#!/usr/bin/env bash
# Configures and builds one flavour: scripts/build.sh [release|asan|tsan] -> build[-asan|-tsan]/
set -euo pipefail
cd "$(dirname "$0")/.."

flavour=${1:-release}
case "$flavour" in
  release) dir=build; args=(-DCMAKE_BUILD_TYPE=Release) ;;
  asan) dir=build-asan; args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DGCCL_SANITIZE=address -DGCCL_BUILD_PERF=OFF) ;;
  # TSan also builds gccl as a machine without the CUDA toolkit would (device buffers get an
  # error; the stand-in GPU's tests run the same).
  tsan) dir=build-tsan; args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DGCCL_SANITIZE=thread -DGCCL_BUILD_PERF=OFF
                              -DCMAKE_DISABLE_FIND_PACKAGE_CUDAToolkit=ON) ;;
  *) echo "usage: $0 [release|asan|tsan]" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" "${args[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)"
