// SimdLevel selection: names, parsing, and forcing a level within what the CPU supports.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "kernel_test_util.h"
#include "base/simd.h"
#include "bootstrap/memory_store.h"
#include "bootstrap/tcp_store.h"
#include "core/communicator.h"
#include "transport/inproc/inproc_transport.h"

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

// The kernels read no configuration: in a fresh process GCCL_SIMD changes nothing until a
// communicator passes it in.
TEST(SimdDeathTest, KernelsIgnoreTheEnvironment) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const SimdLevel detected = detectSimdLevel();
  EXPECT_EXIT(
      {
        setenv("GCCL_SIMD", "scalar", 1);                  // NOLINT(concurrency-mt-unsafe)
        std::exit(activeSimdLevel() == detected ? 0 : 1);  // NOLINT(concurrency-mt-unsafe)
      },
      ::testing::ExitedWithCode(0), "");
}

// A communicator is where GCCL_SIMD (Config::simd) reaches the kernels; "auto" keeps the level.
TEST(Simd, CommunicatorPassesTheConfiguredLevelIn) {
  ScopedSimdLevel restore(detectSimdLevel());
  const TransportRouter router(std::make_shared<transport::inproc::InprocTransport>(
      std::make_shared<transport::inproc::InprocFabric>()));
  Config config;
  config.simd = "scalar";
  Communicator scalar(0, 1, config, JobToken{}, std::make_unique<MemoryStore>(), nullptr, router);
  EXPECT_EQ(activeSimdLevel(), SimdLevel::kScalar);
  config.simd = "auto";
  Communicator unchanged(0, 1, config, JobToken{}, std::make_unique<MemoryStore>(), nullptr,
                         router);
  EXPECT_EQ(activeSimdLevel(), SimdLevel::kScalar);
}

}  // namespace
}  // namespace gccl::testing
