#!/usr/bin/env bash
# Issue 12's measurements on a machine with a core for every rank (the borrowed GPU machine has
# 16): builds allreduce_perf in build-algo (and the Gloo baseline where libgloo is installed),
# then, over loopback TCP and over shared memory in turn, calibrates (allreduce_perf --tune) and
# runs perf/baselines/compare_algorithms.py at 4 ranks, small sizes (4 B-256 KiB) and large
# ones (1-64 MiB): gccl's algorithms and auto together in one launch per repetition, their
# calls taken in turn, Gloo's in launches of their own; each table ends with the issue's
# targets held or missed. Then, budget permitting, auto against the ring at 8 and 16
# ranks. Every step runs under `timeout` and all share one budget (ALGO_CHECK_BUDGET_S,
# default 540 s), so the script ends within it whatever hangs; a step the budget no longer
# allows is NOTRUN, and a comparison stopped by its cap still prints what it measured.
#
#   scripts/algorithms_check.sh                      # builds, then measures
#   scripts/algorithms_check.sh --bin build/bin      # measures an existing build's tools
#   scripts/algorithms_check.sh --quick              # few calls and repetitions: a dry run
#
# Results go to $OUT when set (the remote runner collects it), else /tmp/gccl-algorithms-check:
# logs/<step>.log, tables/<step>.md, json/<step>.json, tune/<transport>.tune, steps.tsv,
# summary.txt. Gloo: gloo_allreduce_perf where it was built, else PyTorch's (PYTHON names the
# interpreter, default python3), else none. Exit status: 0 when every step that ran passed,
# 1 otherwise; a missed target is a result, not a failure.
set -uo pipefail  # not -e: a failing step is recorded and the summary still comes
cd "$(dirname "$0")/.." || exit 1
# usage, record, allowance, run_step: steps under one budget, each line in steps.tsv
source scripts/check_steps.sh

budget=${ALGO_CHECK_BUDGET_S:-540}
out_dir=${OUT:-/tmp/gccl-algorithms-check}
build_dir=build-algo
bin_dir=$build_dir/bin
built_here=1
quick=0
reserve=15
transports=(tcp shm)

parse_args() {
  while (($#)); do
    case $1 in
      --bin)
        (($# >= 2)) || usage
        bin_dir=$2 built_here=0
        shift 2 ;;
      --quick) quick=1; shift ;;
      -h|--help) usage 0 ;;
      *) echo "unknown argument: $1" >&2; usage ;;
    esac
  done
}

build() {
  local configure=(cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DGCCL_BUILD_TESTS=OFF
                   -DGCCL_WARNINGS_AS_ERRORS=OFF)  # a measurement: another compiler may warn
  local targets=(allreduce_perf)
  run_step configure 90 "${configure[@]}" || return 1
  grep -q "/gloo_allreduce_perf\.dir\$" "$build_dir/CMakeFiles/TargetDirectories.txt" \
    2>/dev/null && targets+=(gloo_allreduce_perf)
  run_step build 240 cmake --build "$build_dir" -j"$(nproc)" --target "${targets[@]}"
}

# compare STEP CAP ARGS...: one compare_algorithms.py run, its table in tables/STEP.md (also
# the partial one of a run its cap stopped).
compare() {
  local step=$1 cap=$2 log=$out_dir/logs/$1.log
  shift 2
  run_step "$step" "$cap" perf/baselines/compare_algorithms.py --bin "$bin_dir" \
    --json "$out_dir/json/$step.json" "$@"
  if grep -q '^| bytes' "$log" 2>/dev/null; then cp "$log" "$out_dir/tables/$step.md"; fi
}

measure_transport() {
  local transport=$1 tune=$out_dir/tune/$1.tune
  local small=(-b 4 -e 256K -f 4 -n 100 -w 10 --reps 5)
  local large=(-b 1M -e 64M -f 4 -n 10 -w 3 --reps 3)
  if ((quick)); then
    small=(-b 4 -e 64K -f 16 -n 20 -w 2 --reps 1)
    large=(-b 1M -e 4M -f 4 -n 3 -w 1 --reps 1)
  fi
  export GCCL_TRANSPORT=$transport
  if run_step "tune_$transport" 60 "$bin_dir/allreduce_perf" --np 4 --tune "$tune"; then
    compare "${transport}_np4_small" 120 --np 4 "${small[@]}" --tune-file "$tune"
    compare "${transport}_np4_large" 150 --np 4 "${large[@]}" --tune-file "$tune"
  else
    record "${transport}_np4_small ${transport}_np4_large" NOTRUN 0 "no tune file"
  fi
  unset GCCL_TRANSPORT
}

# Auto against the ring beyond 4 ranks, shared memory (no target; how the choice scales),
# default figures.
measure_scale() {
  local np sweep=(-b 4 -e 64K -f 16 -n 200 -w 20 --reps 3)
  ((quick)) && sweep=(-b 4 -e 64K -f 16 -n 20 -w 2 --reps 1)
  for np in 8 16; do
    ((np <= $(nproc))) || { record "shm_np$np" SKIP 0 "$(nproc) CPUs"; continue; }
    compare "shm_np$np" 60 --np "$np" "${sweep[@]}" --algos auto,ring --gloo none
  done
}

summary() {
  {
    echo "# steps (name, status, seconds, detail)"
    cat "$out_dir/steps.tsv"
    echo
    echo "# issue 12's targets, per table"
    local table
    for table in "$out_dir"/tables/*.md; do
      [[ -e $table ]] || continue
      echo "## $(basename "$table" .md)"
      grep '^- ' "$table"
    done
  } | tee "$out_dir/summary.txt"
  ! grep -qP '\t(FAIL|TIMEOUT|NOTRUN)\t' "$out_dir/steps.tsv"
}

main() {
  parse_args "$@"
  rm -rf "$out_dir/json" "$out_dir/tables" "$out_dir/tune"  # nothing of an earlier run is read
  mkdir -p "$out_dir/logs" "$out_dir/json" "$out_dir/tables" "$out_dir/tune"
  : >"$out_dir/steps.tsv"
  {
    echo "$(nproc) CPUs, $(uname -r)"
    grep -m 1 'model name' /proc/cpuinfo
    git log -1 --format='commit %h %s' 2>/dev/null
  } >"$out_dir/machine.txt"
  if ((built_here)) && ! build; then
    summary
    return 1
  fi
  local transport
  for transport in "${transports[@]}"; do measure_transport "$transport"; done
  measure_scale
  summary
}

main "$@"
