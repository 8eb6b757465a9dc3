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
# The Python package finds the installed library by itself (no GCCL_LIBRARY) and reduces.
env -u GCCL_LIBRARY PYTHONPATH="$prefix/lib/python3/dist-packages" GCCL_RANK=0 \
  GCCL_WORLD_SIZE=1 GCCL_ROOT_ADDR=127.0.0.1 GCCL_EXPECTED_PREFIX="$prefix" python3 -c '
import ctypes, os, gccl
comm = gccl.Communicator.from_env()
data = (ctypes.c_float * 3)(1, 2, 3)
comm.allreduce(ctypes.addressof(data), ctypes.addressof(data), 3, gccl.FLOAT32, gccl.SUM)
loaded = os.path.realpath(gccl._capi.lib._name)
assert list(data) == [1, 2, 3], list(data)
assert loaded.startswith(os.path.realpath(os.environ["GCCL_EXPECTED_PREFIX"])), loaded
comm.destroy()'
echo "install check: find_package(gccl), pkg-config and Python consumers built and ran"
