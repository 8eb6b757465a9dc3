// Helpers shared by the kernel tests: a fixture that runs a test once per SIMD level, a level
// guard, and bit-level access to float values.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <ostream>
#include <string>

#include "base/simd.h"

namespace gccl {

// How gtest prints a level parameter in failure messages ("avx2", not "4-byte object").
inline void PrintTo(SimdLevel level, std::ostream* out) {
  *out << simdLevelName(level);
}

}  // namespace gccl

namespace gccl::testing {

// Every level the kernels have, whether or not this CPU runs it: a level the CPU lacks must
// show up as a skipped test, not vanish from the run.
inline constexpr std::array kAllSimdLevels = {SimdLevel::kScalar, SimdLevel::kAvx2,
                                              SimdLevel::kAvx512};

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

// Base of the kernel test fixtures: TEST_P bodies run with GetParam()'s level active. On a CPU
// without that level the test is skipped with a message naming it, so the report shows which
// levels were checked (the level is also the last part of every test name). Instantiate with
//   INSTANTIATE_TEST_SUITE_P(Simd, Fixture, ::testing::ValuesIn(kAllSimdLevels), levelName);
class EachSimdLevel : public ::testing::TestWithParam<SimdLevel> {
 protected:
  void SetUp() override {
    const SimdLevel level = GetParam();
    if (level > detectSimdLevel()) {
      GTEST_SKIP() << "this CPU lacks " << simdLevelName(level)
                   << " (best level: " << simdLevelName(detectSimdLevel()) << ")";
    }
    scoped_.emplace(level);
    ASSERT_EQ(activeSimdLevel(), level) << "could not force " << simdLevelName(level);
    RecordProperty("simd_level", std::string(simdLevelName(level)));
  }
  void TearDown() override { scoped_.reset(); }

  SimdLevel level() const { return GetParam(); }

 private:
  std::optional<ScopedSimdLevel> scoped_;
};

inline std::string levelName(const ::testing::TestParamInfo<SimdLevel>& info) {
  return std::string(simdLevelName(info.param));
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
