#!/usr/bin/env bash
# Installs what gccl needs to build, test and benchmark on Debian 12 (skips apt when present).
#   install_deps.sh           the library, its tools and baselines
#   install_deps.sh --tests   also what only the test suite needs (PyTorch, for the plugin)
set -euo pipefail

packages=(cmake make g++ pkg-config python3 libgtest-dev libgmock-dev libbenchmark-dev
          libgloo-dev libopenmpi-dev openmpi-bin iproute2 libucx-dev)
case ${1:-} in
  --tests) packages+=(python3-torch) ;;
  "") ;;
  *) echo "usage: $0 [--tests]" >&2; exit 2 ;;
esac
missing=()
for p in "${packages[@]}"; do
  # Installed, not merely known to dpkg (a removed package keeps its configuration files).
  [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  SUDO=()
  [[ $(id -u) -ne 0 ]] && SUDO=(sudo)
  # A freshly booted machine may be running its daily apt job: wait for the lock, and retry
  # downloads a mirror dropped.
  apt=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600
       -o Acquire::Retries=5)
  for attempt in 1 2 3; do
    "${apt[@]}" update -qq && break
    ((attempt < 3)) || exit 1
    echo "apt-get update failed; retrying in 10 s" >&2
    sleep 10
  done
  "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}"
fi
