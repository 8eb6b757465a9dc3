#!/usr/bin/env bash
# Installs what gccl needs to build, test and benchmark on Debian 12 (skips apt when present).
set -euo pipefail

packages=(cmake make g++ pkg-config python3 libgtest-dev libgmock-dev libbenchmark-dev
          libgloo-dev libopenmpi-dev openmpi-bin iproute2 libucx-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
