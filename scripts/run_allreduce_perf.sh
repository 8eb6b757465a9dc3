#!/usr/bin/env bash
# The main job: installs, builds, and runs allreduce_perf over 4 local ranks with checking.
# Extra arguments go to allreduce_perf (e.g. -d float16 -o avg).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh release
exec ./build/bin/allreduce_perf --np 4 -b 8 -e 64M -f 4 -c 1 "$@"
