// SimdLevel selection: names, parsing, and forcing a level within what the CPU supports.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "kernel_test_util.h"
#include "reduce/simd.h"

namespace gccl::testing {
namespace {

TEST(Simd, NamesRoundTrip) {
  for (SimdLevel level : {SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    EXPECT_EQ(parseSimdLevel(simdLevelName(level)), level);
  }
  EXPECT_EQ(simdLevelName(SimdLevel::kAvx512), "avx512");
  EXPECT_EQ(parseSimdLevel("avx2"), SimdLevel::kAvx2);
  EXPECT_EQ(parseSimdLevel("scalar"), SimdLevel::kScalar);
  EXPECT_EQ(parseSimdLevel("AVX2"), std::nullopt);
  EXPECT_EQ(parseSimdLevel(""), std::nullopt);
  EXPECT_EQ(parseSimdLevel("sse"), std::nullopt);
}

TEST(Simd, SetLevelClampsToTheCpu) {
  const SimdLevel detected = detectSimdLevel();
  ScopedSimdLevel restore(activeSimdLevel());
  EXPECT_EQ(setSimdLevel(SimdLevel::kAvx512), detected);
  EXPECT_EQ(activeSimdLevel(), detected);
  EXPECT_EQ(setSimdLevel(SimdLevel::kScalar), SimdLevel::kScalar);
  EXPECT_EQ(activeSimdLevel(), SimdLevel::kScalar);
  const SimdLevel avx2 = setSimdLevel(SimdLevel::kAvx2);
  EXPECT_EQ(avx2, detected < SimdLevel::kAvx2 ? detected : SimdLevel::kAvx2);
  EXPECT_EQ(activeSimdLevel(), avx2);
}

TEST(Simd, ActiveLevelNeverExceedsDetection) {
  EXPECT_LE(activeSimdLevel(), detectSimdLevel());
}

// GCCL_SIMD is read once, at first use, so each case runs in a fresh child process.
void expectDefaultFromEnvironment(const char* value, SimdLevel want) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv("GCCL_SIMD", value, 1);                 // NOLINT(concurrency-mt-unsafe)
        std::exit(activeSimdLevel() == want ? 0 : 1);  // NOLINT(concurrency-mt-unsafe)
      },
      ::testing::ExitedWithCode(0), "")
      << "GCCL_SIMD=" << value;
}

TEST(SimdDeathTest, EnvironmentChoosesTheDefault) {
  const SimdLevel detected = detectSimdLevel();
  expectDefaultFromEnvironment("scalar", SimdLevel::kScalar);
  expectDefaultFromEnvironment("avx2", std::min(SimdLevel::kAvx2, detected));
  expectDefaultFromEnvironment("avx512", detected);
  expectDefaultFromEnvironment("bogus", detected);  // unknown names fall back to detection
}

}  // namespace
}  // namespace gccl::testing
