#include "reduce/simd_calibration.h"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <vector>

#include "base/logging.h"
#include "reduce/reduce_kernels.h"

namespace gccl {

namespace {

// 16 MiB per buffer: beyond the L2 caches and most of an L3 slice, so the sum runs at
// memory speed as it does in a large allreduce, yet a round of both levels takes a few ms.
constexpr size_t kElements = size_t{4} << 20;
constexpr int kRounds = 3;

#if defined(__x86_64__)
// Straight through the level's own row: the active level, which other threads may be using,
// stays untouched.
double secondsToSum(const kernels::ReduceKernels& row, std::vector<float>& dst,
                    const std::vector<float>& src) {
  const auto start = std::chrono::steady_clock::now();
  row.reduce(DataType::kFloat32, ReduceOp::kSum, dst.data(), dst.data(), src.data(), dst.size());
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
#endif

SimdCalibration measure() {
  SimdCalibration result;
  result.chosen = detectSimdLevel();
#if defined(__x86_64__)
  if (result.chosen != SimdLevel::kAvx512) return result;
  const kernels::ReduceKernels& avx2Row = kernels::kAvx2Reduce;
  const kernels::ReduceKernels& avx512Row = kernels::kAvx512Reduce;
  // Small integers: the sums stay exact, and no denormal or overflow slows either level.
  std::vector<float> dst(kElements, 1.0f), src(kElements, 2.0f);
  double avx2 = 1e9, avx512 = 1e9;
  for (int round = 0; round < kRounds; ++round) {
    // Alternating, in both orders, so neither level always runs on a warmer cache.
    if (round % 2 == 0) {
      avx2 = std::min(avx2, secondsToSum(avx2Row, dst, src));
      avx512 = std::min(avx512, secondsToSum(avx512Row, dst, src));
    } else {
      avx512 = std::min(avx512, secondsToSum(avx512Row, dst, src));
      avx2 = std::min(avx2, secondsToSum(avx2Row, dst, src));
    }
    std::fill(dst.begin(), dst.end(), 1.0f);
  }
  const double bytes = static_cast<double>(kElements * sizeof(float));
  result.avx2GBps = bytes / avx2 / 1e9;
  result.avx512GBps = bytes / avx512 / 1e9;
  result.chosen = avx2 < avx512 ? SimdLevel::kAvx2 : SimdLevel::kAvx512;
#endif
  return result;
}

}  // namespace

const SimdCalibration& calibrateSimdLevel() {
  static SimdCalibration result;
  static std::once_flag once;
  std::call_once(once, [] {
    result = measure();
    logInfo(LogSubsys::kInit, "SIMD level for reductions: ", simdLevelName(result.chosen),
            result.avx2GBps > 0
                ? strCat(" (float32 sum of 16 MiB, best of ", kRounds, ": avx2 ", result.avx2GBps,
                         " GB/s, avx512 ", result.avx512GBps, " GB/s)")
                : std::string(" (detected; nothing to compare)"));
  });
  return result;
}

}  // namespace gccl
