// SimdLevel selection: names, parsing, detection (checked against /proc/cpuinfo), and forcing a
// level within what the CPU supports.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <iostream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>

#include "base/simd.h"
#include "bootstrap/memory_store.h"
#include "bootstrap/tcp_store.h"
#include "core/communicator.h"
#include "kernel_test_util.h"
#include "reduce/simd_calibration.h"
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

// The flags Linux reports for the first CPU. The kernel hides features whose register state it
// does not save, which is what detection's XGETBV check is about.
std::set<std::string> cpuinfoFlags(std::istream& cpuinfo) {
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    return {std::istream_iterator<std::string>(words), std::istream_iterator<std::string>()};
  }
  return {};
}

SimdLevel levelFromFlags(const std::set<std::string>& flags) {
  const auto has = [&](std::initializer_list<const char*> names) {
    return std::all_of(names.begin(), names.end(), [&](const char* n) { return flags.count(n); });
  };
  if (!has({"avx", "avx2", "f16c"})) return SimdLevel::kScalar;
  if (has({"avx512f", "avx512dq", "avx512bw", "avx512vl"})) return SimdLevel::kAvx512;
  return SimdLevel::kAvx2;
}

// Detection checked against the kernel's view of the CPU (CPUID read another way); and the one
// line saying which levels the kernel tests run on this machine and which they skip.
TEST(Simd, DetectionAgreesWithProcCpuinfo) {
  std::ifstream cpuinfo("/proc/cpuinfo");
  if (!cpuinfo) GTEST_SKIP() << "no /proc/cpuinfo to compare detection with";
  const std::set<std::string> flags = cpuinfoFlags(cpuinfo);
  ASSERT_FALSE(flags.empty()) << "no flags line in /proc/cpuinfo";
  EXPECT_EQ(detectSimdLevel(), levelFromFlags(flags));
  std::string run, skipped;
  for (SimdLevel level : kAllSimdLevels) {
    (level <= detectSimdLevel() ? run : skipped).append(" ").append(simdLevelName(level));
  }
  std::cout << "[   SIMD   ] kernel tests run on:" << run
            << "; skipped (CPU lacks):" << (skipped.empty() ? " none" : skipped) << std::endl;
  RecordProperty("simd_levels_run", run);
  RecordProperty("simd_levels_skipped", skipped);
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

// GCCL_SIMD=auto takes the level that summed float32 faster, both levels timed once per process.
TEST(Simd, CalibrationChoosesTheFasterMeasuredLevel) {
  const SimdCalibration& calibration = calibrateSimdLevel();
  EXPECT_EQ(&calibration, &calibrateSimdLevel());  // measured once
  if (detectSimdLevel() != SimdLevel::kAvx512) {
    EXPECT_EQ(calibration.chosen, detectSimdLevel());
    EXPECT_EQ(calibration.avx2GBps, 0.0);
    return;
  }
  EXPECT_GT(calibration.avx2GBps, 0.0);
  EXPECT_GT(calibration.avx512GBps, 0.0);
  EXPECT_EQ(calibration.chosen,
            calibration.avx2GBps > calibration.avx512GBps ? SimdLevel::kAvx2 : SimdLevel::kAvx512);
}

// In a process where nobody forced a level, an "auto" communicator adopts the calibrated one;
// a forced level then stays, whatever later "auto" communicators measure.
TEST(SimdDeathTest, AutoAdoptsTheCalibratedLevelUnlessOneWasForced) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto communicator = [](const char* simd) {
    const TransportRouter router(std::make_shared<transport::inproc::InprocTransport>(
        std::make_shared<transport::inproc::InprocFabric>()));
    Config config;
    config.simd = simd;
    Communicator comm(0, 1, config, JobToken{}, std::make_unique<MemoryStore>(), nullptr, router);
  };
  EXPECT_EXIT(
      {
        communicator("auto");
        const bool adopted = activeSimdLevel() == calibrateSimdLevel().chosen;
        communicator("scalar");
        communicator("auto");
        std::exit(adopted && activeSimdLevel() == SimdLevel::kScalar ? 0 : 1);  // NOLINT
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace gccl::testing
