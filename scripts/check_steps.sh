# shellcheck shell=bash disable=SC2154  # out_dir, budget, reserve: set by the sourcing script
# Steps of a check script run on a borrowed machine (scripts/gpu_check.sh,
# scripts/algorithms_check.sh): each step under `timeout`, all of them within one budget, each
# one's outcome a line of steps.tsv, so that the script ends in time whatever hangs and says what
# ran. Sourced; the script sets out_dir (with a logs/ folder), budget (seconds for the whole
# script, counted by bash's SECONDS) and reserve (seconds kept back for its summary).

# The sourcing script's header comment as its usage; exits with $1 (default 2).
usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  exit "${1:-2}"
}

# One line per step in steps.tsv: name, status (PASS FAIL TIMEOUT SKIP NOTRUN), seconds, detail.
record() {
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4//[$'\t\n']/ }" >>"$out_dir/steps.tsv"
}

# Seconds a step may run: its own cap, or what the budget has left once the reserve is kept.
allowance() {
  local cap=$1 left=$((budget - SECONDS - reserve))
  echo $((left < cap ? left : cap))
}

# The last non-blank line of a log: what ran when a step was stopped.
last_line() {
  grep -v '^[[:space:]]*$' "$1" | tail -n 1 | sed 's/^[[:space:]]*//'
}

# Why a step failed: its first "error:"/"Error:" line (a compiler's, an exception's), else its
# last line (make's and ctest's closing lines say little).
failure_line() {
  grep -m 1 'rror:' "$1" | sed 's/^[[:space:]]*//' | grep . || last_line "$1"
}

# run_step NAME CAP COMMAND...: COMMAND under `timeout`, its output in logs/NAME.log.
run_step() {
  local name=$1 cap start rc log=$out_dir/logs/$1.log
  cap=$(allowance "$2")
  shift 2
  if ((cap < 5)); then
    record "$name" NOTRUN 0 "budget of ${budget}s spent"
    return 1
  fi
  echo "== $name (at most ${cap}s): $*"
  start=$SECONDS
  timeout --kill-after=5 "$cap" "$@" >"$log" 2>&1
  rc=$?
  local took=$((SECONDS - start))
  case $rc in
    0) record "$name" PASS "$took" "" ;;
    124|137) record "$name" TIMEOUT "$took" "stopped after ${cap}s: $(last_line "$log")" ;;
    *) record "$name" FAIL "$took" "exit $rc: $(failure_line "$log")" ;;
  esac
  return "$rc"
}

