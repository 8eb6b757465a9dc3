// Which vector instruction set the reduction kernels and fp16 codecs run on: the best level the
// CPU supports until someone sets another. The kernels read no configuration: the communicator
// passes GCCL_SIMD in (setSimdLevel) at init, and tests and benchmarks force each level to
// compare the paths. The level is process-wide because the CPU is.
#pragma once

#include <optional>
#include <string_view>

namespace gccl {

// Ordered: a level implies every level below it.
//  kAvx2   = AVX2 + F16C (the fp16 conversions need F16C);
//  kAvx512 = AVX-512 F, BW, VL and DQ. bfloat16 is rounded with integer arithmetic, so
//            AVX-512 BF16 is not required (VCVTNEPS2BF16 would flush subnormals).
enum class SimdLevel : int { kScalar = 0, kAvx2, kAvx512 };

// The highest level this CPU and OS (saved register state, via XGETBV) support.
SimdLevel detectSimdLevel();

// The level the kernels use now.
SimdLevel activeSimdLevel();

// Forces a level, clamped to detectSimdLevel(); returns the level actually set.
// Safe to call concurrently with running kernels (each call reads the level once).
SimdLevel setSimdLevel(SimdLevel level);

// The level of GCCL_SIMD=auto (the measured faster one, reduce/simd_calibration.h): set only
// while nobody has forced one with setSimdLevel, which wins for the rest of the process.
// Returns the active level.
SimdLevel adoptDefaultSimdLevel(SimdLevel level);

// "avx512" | "avx2" | "scalar"; anything else (the config's "auto" included) is nullopt.
std::optional<SimdLevel> parseSimdLevel(std::string_view name);
std::string_view simdLevelName(SimdLevel level);

}  // namespace gccl
