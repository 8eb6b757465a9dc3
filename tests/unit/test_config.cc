#include <gtest/gtest.h>

#include <map>

#include "base/config.h"
#include "base/error.h"
#include "bootstrap/launch_environment.h"

namespace gccl {
namespace {

Environment mapEnvironment(std::map<std::string, std::string> values) {
  return [values](std::string_view name) -> std::optional<std::string> {
    auto it = values.find(std::string(name));
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

TEST(Config, DefaultsWithoutVariables) {
  const Config config = configFromEnvironment(mapEnvironment({}));
  EXPECT_EQ(config.timeoutMs, 60000);
  EXPECT_EQ(config.algorithm, "auto");
}

TEST(Config, ReadsRegisteredVariables) {
  const Config config = configFromEnvironment(mapEnvironment(
      {{"GCCL_TIMEOUT_MS", "1500"}, {"GCCL_ALGO", "ring"}, {"GCCL_CHUNK_BYTES", "4096"}}));
  EXPECT_EQ(config.timeoutMs, 1500);
  EXPECT_EQ(config.algorithm, "ring");
  EXPECT_EQ(config.chunkBytes, 4096u);
}

TEST(Config, SpinIsAutoUnlessANumberIsGiven) {
  EXPECT_EQ(configFromEnvironment(mapEnvironment({})).spinUs, kAutoSpinUs);
  EXPECT_EQ(configFromEnvironment(mapEnvironment({{"GCCL_SPIN_US", "auto"}})).spinUs, kAutoSpinUs);
  EXPECT_EQ(configFromEnvironment(mapEnvironment({{"GCCL_SPIN_US", "0"}})).spinUs, 0);
  EXPECT_EQ(configFromEnvironment(mapEnvironment({{"GCCL_SPIN_US", "120"}})).spinUs, 120);
  EXPECT_THROW(configFromEnvironment(mapEnvironment({{"GCCL_SPIN_US", "-1"}})), Error);
  EXPECT_THROW(configFromEnvironment(mapEnvironment({{"GCCL_SPIN_US", "fast"}})), Error);
  EXPECT_EQ(configFromEnvironment(mapEnvironment({})).yieldUs, kAutoYieldUs);
  EXPECT_EQ(configFromEnvironment(mapEnvironment({{"GCCL_YIELD_US", "auto"}})).yieldUs,
            kAutoYieldUs);
  EXPECT_EQ(configFromEnvironment(mapEnvironment({{"GCCL_YIELD_US", "0"}})).yieldUs, 0);
  EXPECT_EQ(configFromEnvironment(mapEnvironment({{"GCCL_YIELD_US", "2000"}})).yieldUs, 2000);
  EXPECT_THROW(configFromEnvironment(mapEnvironment({{"GCCL_YIELD_US", "-5"}})), Error);
  EXPECT_THROW(configFromEnvironment(mapEnvironment({{"GCCL_YIELD_US", "yes"}})), Error);
}

TEST(Config, SocketCountIsOneUnlessSetWithinItsRange) {
  EXPECT_EQ(configFromEnvironment(mapEnvironment({})).nsocks, 1);
  EXPECT_EQ(configFromEnvironment(mapEnvironment({{"GCCL_NSOCKS", "4"}})).nsocks, 4);
  EXPECT_THROW(configFromEnvironment(mapEnvironment({{"GCCL_NSOCKS", "0"}})), Error);
  EXPECT_THROW(configFromEnvironment(mapEnvironment({{"GCCL_NSOCKS", "17"}})), Error);
}

TEST(Config, MalformedValueNamesTheVariable) {
  try {
    configFromEnvironment(mapEnvironment({{"GCCL_TIMEOUT_MS", "soon"}}));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("GCCL_TIMEOUT_MS"), std::string::npos);
  }
  EXPECT_THROW(configFromEnvironment(mapEnvironment({{"GCCL_TIMEOUT_MS", "-5"}})), Error);
}

// A word setting takes its words in any case; a typo fails init naming the choices, instead of
// quietly meaning the default.
TEST(Config, WordSettingsTakeAnyCaseAndRefuseTypos) {
  const Config config =
      configFromEnvironment(mapEnvironment({{"GCCL_DEBUG", "info"}, {"GCCL_SIMD", "AVX2"}}));
  EXPECT_EQ(config.debug, "INFO");
  EXPECT_EQ(config.simd, "avx2");
  // Set but empty means the default, as for every setting.
  const Config blank = configFromEnvironment(
      mapEnvironment({{"GCCL_DEBUG", ""}, {"GCCL_SIMD", ""}, {"GCCL_TIMEOUT_MS", ""}}));
  EXPECT_EQ(blank.debug, Config{}.debug);
  EXPECT_EQ(blank.simd, Config{}.simd);
  EXPECT_EQ(blank.timeoutMs, Config{}.timeoutMs);
  for (const auto& [name, value] : {std::pair{"GCCL_DEBUG", "BOGUS"}, {"GCCL_SIMD", "sse9"}}) {
    try {
      configFromEnvironment(mapEnvironment({{name, value}}));
      ADD_FAILURE() << name << "=" << value << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("expected one of"), std::string::npos) << e.what();
    }
  }
}

TEST(Config, DescribeListsEverySetting) {
  const std::string text = describeSettings(mapEnvironment({}));
  for (const Setting& setting : settings()) {
    EXPECT_NE(text.find(setting.name), std::string::npos) << setting.name;
  }
}

LaunchInfo launch(std::map<std::string, std::string> values) {
  const Environment env = mapEnvironment(values);
  return resolveLaunch(configFromEnvironment(env), env);
}

TEST(LaunchEnvironment, GcclVariables) {
  const LaunchInfo info = launch({{"GCCL_RANK", "2"},
                                  {"GCCL_WORLD_SIZE", "4"},
                                  {"GCCL_ROOT_ADDR", "10.0.0.1"},
                                  {"GCCL_ROOT_PORT", "4000"}});
  EXPECT_EQ(info.rank, 2);
  EXPECT_EQ(info.size, 4);
  EXPECT_EQ(info.id.root.toString(), "10.0.0.1:4000");
}

TEST(LaunchEnvironment, Torchrun) {
  const LaunchInfo info = launch({{"RANK", "1"},
                                  {"WORLD_SIZE", "8"},
                                  {"LOCAL_RANK", "1"},
                                  {"MASTER_ADDR", "node0"},
                                  {"MASTER_PORT", "29500"}});
  EXPECT_EQ(info.rank, 1);
  EXPECT_EQ(info.size, 8);
  EXPECT_EQ(info.id.root.toString(), "node0:29501");  // MASTER_PORT belongs to torch's store
}

TEST(LaunchEnvironment, OpenMpiOnOneHostUsesLoopback) {
  const LaunchInfo info = launch({{"OMPI_COMM_WORLD_RANK", "3"},
                                  {"OMPI_COMM_WORLD_SIZE", "4"},
                                  {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"}});
  EXPECT_EQ(info.rank, 3);
  EXPECT_EQ(info.id.root.host, "127.0.0.1");
  EXPECT_EQ(info.id.root.port, kDefaultRootPort);
}

TEST(LaunchEnvironment, SlurmNeedsARootAddress) {
  EXPECT_THROW(launch({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "16"}}), Error);
  const LaunchInfo info = launch({{"SLURM_PROCID", "5"},
                                  {"SLURM_NTASKS", "16"},
                                  {"GCCL_ROOT_ADDR", "n1"},
                                  {"GCCL_ROOT_PORT", "7000"}});
  EXPECT_EQ(info.rank, 5);
  EXPECT_EQ(info.size, 16);
}

TEST(LaunchEnvironment, RejectsMissingAndOutOfRange) {
  EXPECT_THROW(launch({}), Error);
  EXPECT_THROW(launch({{"RANK", "4"}, {"WORLD_SIZE", "4"}, {"MASTER_ADDR", "a"}}), Error);
  EXPECT_THROW(launch({{"RANK", "x"}, {"WORLD_SIZE", "4"}, {"MASTER_ADDR", "a"}}), Error);
  // gccl's store takes MASTER_PORT + 1: a MASTER_PORT that leaves none says so.
  for (const char* port : {"65535", "99999", "0", "-1", "2147483647"}) {
    try {
      launch({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", port}});
      ADD_FAILURE() << "MASTER_PORT=" << port << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("GCCL_ROOT_PORT"), std::string::npos) << e.what();
    }
  }
}

TEST(LaunchEnvironment, SameTokenOnEveryRank) {
  const auto a =
      launch({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}});
  const auto b =
      launch({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}});
  EXPECT_EQ(a.id.token, b.id.token);
}

}  // namespace
}  // namespace gccl
