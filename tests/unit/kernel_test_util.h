// Helpers shared by the kernel tests: the SIMD levels to sweep, a level guard, and bit-level
// access to float values.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "base/simd.h"

namespace gccl::testing {

// Every level this CPU can run, scalar first.
inline std::vector<SimdLevel> supportedLevels() {
  std::vector<SimdLevel> levels;
  for (SimdLevel level : {SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    if (level <= detectSimdLevel()) levels.push_back(level);
  }
  return levels;
}

// Forces a level for one scope and restores the previous one.
class ScopedSimdLevel {
 public:
  explicit ScopedSimdLevel(SimdLevel level) : previous_(activeSimdLevel()) { setSimdLevel(level); }
  ~ScopedSimdLevel() { setSimdLevel(previous_); }
  ScopedSimdLevel(const ScopedSimdLevel&) = delete;
  ScopedSimdLevel& operator=(const ScopedSimdLevel&) = delete;

 private:
  SimdLevel previous_;
};

inline std::string levelLabel(SimdLevel level) {
  return "simd=" + std::string(simdLevelName(level));
}

template <typename To, typename From>
To bitCast(From from) {
  static_assert(sizeof(To) == sizeof(From));
  To to;
  std::memcpy(&to, &from, sizeof to);
  return to;
}

inline uint32_t bitsOf(float f) {
  return bitCast<uint32_t>(f);
}
inline float floatOf(uint32_t bits) {
  return bitCast<float>(bits);
}

}  // namespace gccl::testing
