# shellcheck shell=bash
# Sourced by the examples' check_convergence.sh scripts: run a training, read its accuracy,
# compare it with the reference's.

# command... -> the number after "test accuracy:" (exits the script when the command fails or
# prints none; at most 240 s)
accuracy() {
  local out acc
  if ! out=$(timeout 240 "$@" 2>&1); then
    echo "FAIL: $* exited non-zero:" >&2
    echo "$out" >&2
    exit 1
  fi
  acc=$(echo "$out" | sed -n 's/^test accuracy: \([0-9.]*\)$/\1/p')
  [[ -n $acc ]] || { echo "FAIL: $* printed no test accuracy" >&2; exit 1; }
  echo "$acc"
}

# name accuracy reference -> true when the accuracy is within 0.01 (one point) of the
# reference's; says which
within_a_point() {
  local name=$1 acc=$2 reference=$3
  if awk -v a="$acc" -v r="$reference" 'BEGIN { d = a - r; exit !(d <= 0.01 && d >= -0.01) }'
  then
    echo "$name: test accuracy $acc (single $reference): ok"
  else
    echo "FAIL: $name: test accuracy $acc is more than 0.01 from single's $reference" >&2
    return 1
  fi
}
