// Which vector level sums float32 faster on this machine. The widest is not always the fastest:
// on AMD Zen 4, which splits 512-bit operations in two, the AVX-512 float32 sum measured 7-19%
// slower than AVX2 on 64 MiB buffers, where memory, not arithmetic, sets the pace. At memory
// speed (shared memory between ranks) the reduction is on the critical path, so GCCL_SIMD=auto
// times both levels once per process and takes the faster. Every level gives bit-identical
// results (reduce.h), so ranks that choose differently still agree to the bit.
#pragma once

#include "base/simd.h"

namespace gccl {

struct SimdCalibration {
  SimdLevel chosen = SimdLevel::kScalar;
  double avx2GBps = 0;    // float32 sum, bytes of the destination per second; 0: not timed
  double avx512GBps = 0;  // likewise
};

// Times the float32 sum at AVX2 and AVX-512 on buffers larger than the caches, alternating,
// best of a few rounds; without AVX-512 nothing is timed and the detected level is chosen.
// Runs once per process (tens of milliseconds), logs the figures at INFO, and returns the same
// result to every later caller. Calls each level's kernels directly: the active level is not
// touched.
const SimdCalibration& calibrateSimdLevel();

}  // namespace gccl
