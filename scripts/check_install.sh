#!/usr/bin/env bash
# Installs the release build into a scratch prefix and builds and runs a consumer against it,
# through find_package(gccl) (a CMake project) and through pkg-config (a plain compiler command
# that knows only PKG_CONFIG_PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install build --prefix "$prefix" >/dev/null
cmake -S tests/install -B "$prefix/consumer" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$prefix/consumer" -j"$(nproc)" >/dev/null
pkg_flags=$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs gccl)
read -ra flags <<<"$pkg_flags"
cc -std=c99 -o "$prefix/consumer/consumer_pkgconfig" examples/allreduce.c "${flags[@]}"
for exe in consumer_cmake consumer_pkgconfig; do
  LD_LIBRARY_PATH="$prefix/lib" GCCL_RANK=0 GCCL_WORLD_SIZE=1 GCCL_ROOT_ADDR=127.0.0.1 \
    "$prefix/consumer/$exe" >/dev/null
done
echo "install check: find_package(gccl) and pkg-config consumers built and ran"
