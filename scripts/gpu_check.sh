#!/usr/bin/env bash
# Issue 15 on a GPU machine: builds a Release tree in build-gpu, runs the GPU tests (the PyTorch
# plugin's CUDA tests among them), times gccl's allreduce with host and with device buffers
# beside torch.distributed's gloo on CUDA tensors, then the gradient sync (grad_bench) with
# gradients in host and in GPU memory, and prints one summary (scripts/gpu_summary.py). Every
# step runs under `timeout` and all of them share one budget (GPU_CHECK_BUDGET_S, default
# 400 s), so the script ends within 7 minutes whatever hangs; a step the budget no longer
# allows is reported NOTRUN. When the build fails
# on warnings (-Werror, e.g. a newer compiler's), that is reported as a failure and the build
# is redone with warnings non-fatal (GCCL_WARNINGS_AS_ERRORS=OFF), so the measurements still come.
#
#   scripts/gpu_check.sh                             # on the GPU machine
#   scripts/gpu_check.sh --dry-run-host build/bin    # no GPU: no build, no tests; the host runs
#                                                    # of an existing build and torch on the CPU
#
# Results go to $OUT when set (the remote runner collects it), else /tmp/gccl-gpu-check:
# logs/<step>.log, json/<run>.json, steps.tsv, gpu.txt, summary.txt. PYTHON picks the interpreter
# that has PyTorch (default python3). Exit status: 0 when every step that ran passed, 1 when one
# failed, timed out or was not reached, 2 when no GPU was found (without --dry-run-host).
set -uo pipefail  # not -e: a failing step is recorded and the summary still comes
cd "$(dirname "$0")/.." || exit 1
# usage, record, allowance, run_step: steps under one budget, each line in steps.tsv
source scripts/check_steps.sh

budget=${GPU_CHECK_BUDGET_S:-400}
out_dir=${OUT:-/tmp/gccl-gpu-check}
json_dir=$out_dir/json
python=${PYTHON:-python3}
build_dir="build-gpu"
bin_dir=$build_dir/bin
dry_run=0
nps=(2 4)
sweep=(-b 16M -e 64M -f 4 -n 20 -w 3)
small=(-b 1M -e 4M -f 2 -n 20 -w 3)
# gccl's tools and the torch baseline pin their ranks by default; here both run unpinned, as
# when the figures of earlier sessions were taken.
unbound=(--bind none)
# Seconds kept back for the summary (up to 30) and `timeout`'s grace period (5): the script
# then ends within the budget plus a few seconds.
reserve=40

parse_args() {
  while (($#)); do
    case $1 in
      --dry-run-host)
        (($# >= 2)) || usage
        dry_run=1 bin_dir=$2
        shift 2 ;;
      -h|--help) usage 0 ;;
      *) echo "unknown argument: $1" >&2; usage ;;
    esac
  done
}

# True when nvidia-smi lists a GPU; gpu.txt says which, or why none.
detect_gpu() {
  local listed
  if ! command -v nvidia-smi >/dev/null; then
    echo "none (nvidia-smi not found)" >"$out_dir/gpu.txt"
    return 1
  fi
  if ! listed=$(timeout 30 nvidia-smi --query-gpu=name,memory.total,driver_version \
                  --format=csv,noheader 2>&1) || [[ -z $listed ]]; then
    echo "none (nvidia-smi: ${listed:-no GPU listed})" >"$out_dir/gpu.txt"
    return 1
  fi
  echo "$listed" >"$out_dir/gpu.txt"
}

# True when the configured tree defines TARGET (any generator writes this list).
has_target() {
  grep -q "/$1\.dir\$" "$build_dir/CMakeFiles/TargetDirectories.txt" 2>/dev/null
}

# The warnings a failed build turned into errors: g++'s by name, nvcc's by number ("" when the
# build failed otherwise). nvcc marks a warning it made an error with "-D" after the number.
werror_names() {
  { grep -o '\[-Werror=[A-Za-z0-9_-]*' "$1" | sed 's/^\[-Werror=/-W/'
    grep -oE 'error #[0-9]+-D' "$1" | sed 's/^error /nvcc /'; } | sort -u | tr '\n' ' ' |
    sed 's/ $//'
}

build() {
  # Each discovered test bounded well below the ctest step's cap (tests/CMakeLists.txt): a hang
  # must cost one test, not every test after it.
  local configure=(cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DGCCL_TEST_TIMEOUT=60)
  local targets optional warned
  # A hint only: FindCUDAToolkit also looks there, but not when another nvcc is first on PATH.
  [[ -d /usr/local/cuda ]] && configure+=(-DCUDAToolkit_ROOT=/usr/local/cuda)
  # Warnings as errors, explicitly: a cached relaxed configuration of an earlier run must not
  # carry over.
  if ! run_step configure 90 "${configure[@]}" -DGCCL_WARNINGS_AS_ERRORS=ON; then
    # No GoogleTest there: the configure stays FAIL, but the measurements need no tests.
    grep -q GTest "$out_dir/logs/configure.log" || return 1
    configure+=(-DGCCL_BUILD_TESTS=OFF)
    run_step configure_without_tests 60 "${configure[@]}" -DGCCL_WARNINGS_AS_ERRORS=ON || return 1
  fi
  targets=(allreduce_perf alltoall_perf alltoallv_perf grad_bench gccl)  # gccl: for the plugin
  for optional in test_cuda_copy_engine test_staged_collectives test_device_collectives; do
    if has_target "$optional"; then
      targets+=("$optional")
    else
      record "target $optional" SKIP 0 "not defined by this tree's CMake"
    fi
  done
  local build=(cmake --build "$build_dir" -j"$(nproc)" --target "${targets[@]}")
  run_step build 180 "${build[@]}" && return 0
  # This compiler may warn where the one the project is developed with does not (-Werror, host
  # and nvcc). The build stays FAIL in the summary, but the device measurements should not be
  # lost to it: once more with warnings left as warnings.
  warned=$(werror_names "$out_dir/logs/build.log")
  [[ -n $warned ]] || return 1
  record "warnings as errors" FAIL 0 "$("${CXX:-c++}" -dumpfullversion 2>/dev/null): $warned"
  run_step configure_relaxed 60 "${configure[@]}" -DGCCL_WARNINGS_AS_ERRORS=OFF &&
    run_step build_relaxed 180 "${build[@]}"
}

# The GPU tests; on a GPU machine the CUDA copy engine's tests must have run, not skipped.
# They go first, on their own: a stall among the stand-in's tests must not leave them unrun.
gpu_tests() {
  local have_gpu=$1 log=$out_dir/logs/gpu_tests.log passed skipped
  # --timeout covers tests registered without a TIMEOUT of their own; the discovered ones have
  # GCCL_TEST_TIMEOUT (60 s, set by build()).
  run_step gpu_tests 90 ctest --test-dir "$build_dir" -R 'Cuda' \
    --output-on-failure --no-tests=error --timeout 60
  run_step stand_in_tests 90 ctest --test-dir "$build_dir" -R 'Staged|Device' \
    --output-on-failure --no-tests=error --timeout 60
  ((have_gpu)) || return 0
  # All-to-all's blockwise staging on real device memory, every row checked.
  run_step alltoall_device_np2 30 "$bin_dir/alltoall_perf" --device cuda --np 2 -b 12 -e 4M \
    -f 16 -n 3 -w 1 --timeout 25
  # Alltoallv's: its slices follow the longest block, agreed first.
  run_step alltoallv_device_np2 30 "$bin_dir/alltoallv_perf" --device cuda --np 2 -b 12 -e 4M \
    -f 16 -n 3 -w 1 --timeout 25
  if ! has_target test_cuda_copy_engine; then
    record "CUDA tests ran" FAIL 0 "CMake found no CUDA toolkit: test_cuda_copy_engine not built"
    return 1
  fi
  passed=$(grep -cE 'CudaCopyEngine\.[A-Za-z0-9_]+ .*Passed' "$log")
  skipped=$(grep -ciE 'CudaCopyEngine\.[A-Za-z0-9_]+ .*(skipped|not run)' "$log")
  if ((skipped == 0 && passed > 0)); then
    record "CUDA tests ran" PASS 0 "$passed CudaCopyEngine tests passed"
  else
    record "CUDA tests ran" FAIL 0 "$passed passed, $skipped skipped on a machine with a GPU"
  fi
}

# The PyTorch plugin with CUDA tensors: the stream-ordered calls and the gradient sync's copy
# mode, whose Python side has run on no other machine. Exact results, as in the CPU tests. CPU
# cases first: this machine's PyTorch 2 takes the gradient hooks and step wrapping that
# Debian's 1.13 in CI does not, and its ProcessGroup and Work bindings differ from 1.13's.
plugin_tests() {
  local have_gpu=$1 launch case
  launch=(env "GCCL_LIBRARY=$PWD/$build_dir/lib/libgccl.so" "$python" tests/python/launch.py
          --np 2 --timeout 40)
  for case in overlap scheduler; do
    run_step "torch_plugin_${case}_cpu" 45 "${launch[@]}" tests/python/torch_optimizer.py "$case"
  done
  for case in collectives ddp async_mismatch dead_before_ddp dead_in_ddp; do
    run_step "torch_process_group_${case}_cpu" 45 env GCCL_TIMEOUT_MS=10000 "${launch[@]}" \
      --torchrun tests/python/torch_process_group.py "$case" 2
  done
  if ! ((have_gpu)); then
    record torch_plugin_cuda SKIP 0 "no GPU"
    return 0
  fi
  run_step torch_plugin_collectives_cuda 45 "${launch[@]}" tests/python/torch_collectives.py 2 cuda
  run_step torch_plugin_optimizer_cuda 45 "${launch[@]}" tests/python/torch_optimizer.py dense cuda
  run_step torch_plugin_optimizer_fp16_cuda 45 "${launch[@]}" tests/python/torch_optimizer.py fp16 \
    cuda
  for case in collectives ddp; do
    run_step "torch_process_group_${case}_cuda" 45 "${launch[@]}" --torchrun \
      tests/python/torch_process_group.py "$case" 2 cuda
  done
}

# gccl with host buffers, gccl with device buffers, torch-gloo: one rank count, interleaved so
# that every library sees the machine in the same state.
bench() {
  local np=$1 have_gpu=$2 torch_device=cpu cap
  run_step "gccl_host_np$np" 45 "$bin_dir/allreduce_perf" --np "$np" "${sweep[@]}" "${unbound[@]}" \
    --json "$json_dir/gccl_host_np$np.json"
  if ((have_gpu)); then
    torch_device=cuda
    run_step "gccl_device_np$np" 45 "$bin_dir/allreduce_perf" --device cuda --np "$np" \
      "${sweep[@]}" "${unbound[@]}" --json "$json_dir/gccl_device_np$np.json"
  else
    record "gccl_device_np$np" SKIP 0 "no GPU"
  fi
  # The tool's own bound sits inside the step's, so it kills its ranks itself first.
  cap=$(allowance 75)
  run_step "torch_gloo_${torch_device}_np$np" 75 "$python" \
    perf/baselines/torch_gloo_allreduce_perf.py --device "$torch_device" --np "$np" \
    "${sweep[@]}" "${unbound[@]}" --timeout $((cap > 10 ? cap - 5 : 5)) \
    --json "$json_dir/torch_gloo_${torch_device}_np$np.json"
}

# Calls of 1-4 MiB, which the staging cuts into slices smaller than its slots (up to 4, none
# below 256 KiB per slot): device beside host, for the next session to tune. JSON only; run
# last, so that the budget spares every run the summary reads.
small_calls() {
  local np=$1
  run_step "gccl_host_small_np$np" 30 "$bin_dir/allreduce_perf" --np "$np" "${small[@]}" \
    "${unbound[@]}" --json "$json_dir/gccl_host_small_np$np.json"
  run_step "gccl_device_small_np$np" 30 "$bin_dir/allreduce_perf" --device cuda \
    --np "$np" "${small[@]}" "${unbound[@]}" --json "$json_dir/gccl_device_small_np$np.json"
}

# The gradient sync with ResNet-50's gradients in GPU memory (copy mode; lazy_fp16 converts on
# the GPU, halving the PCIe bytes) beside the same modes on host memory, 2 ranks. After the
# allreduce comparison above, which is the issue's target.
grad_runs() {
  local device=$1 cap
  cap=$(allowance 40)
  run_step "grad_bench_${device}_np2" 40 "$bin_dir/grad_bench" --np 2 --device "$device" \
    "${unbound[@]}" --modes lazy,lazy_fp16 -n 5 -w 1 --timeout $((cap > 10 ? cap - 5 : 5)) \
    --json "$json_dir/grad_bench_$device.json"
}

summary() {
  local have_gpu=$1 rc torch_device=cpu
  ((have_gpu)) && torch_device=cuda
  timeout 30 "$python" scripts/gpu_summary.py --dir "$out_dir" --np "${nps[*]}" \
    --have-gpu "$have_gpu" --dry-run "$dry_run" --torch-device "$torch_device" \
    | tee "$out_dir/summary.txt"
  rc=${PIPESTATUS[0]}
  if ((rc != 0 && rc != 1 && rc != 2)); then  # the helper itself broke: the raw steps then
    echo "gpu_summary.py failed (exit $rc); steps:"
    cat "$out_dir/steps.tsv"
    rc=1
  fi
  return "$rc"
}

main() {
  parse_args "$@"
  rm -rf "$json_dir"  # only this script's folder: no result of an earlier run may be read
  mkdir -p "$out_dir/logs" "$json_dir"
  : >"$out_dir/steps.tsv"
  local have_gpu=0 built=0 np
  detect_gpu && have_gpu=1
  if ((dry_run)); then
    record build SKIP 0 "--dry-run-host: using $bin_dir"
    built=1
  elif build; then
    built=1
    gpu_tests "$have_gpu"
    plugin_tests "$have_gpu"
  fi
  # Never a binary left by an earlier run: only what this run built (or was pointed at).
  if ((built)) && [[ -x $bin_dir/allreduce_perf ]]; then
    for np in "${nps[@]}"; do bench "$np" "$have_gpu"; done
    if [[ -x $bin_dir/grad_bench ]]; then
      grad_runs host
      if ((have_gpu)); then grad_runs cuda; else record grad_bench_cuda_np2 SKIP 0 "no GPU"; fi
    fi
    if ((have_gpu)); then
      for np in "${nps[@]}"; do small_calls "$np"; done
    fi
  else
    record benchmarks NOTRUN 0 "no allreduce_perf built by this run"
  fi
  summary "$have_gpu"
}

main "$@"
