// The log file (GCCL_DEBUG_FILE) is not inherited by programs the application executes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "base/config.h"
#include "base/logging.h"
#include "base/warning_budget.h"

namespace gccl {
namespace {

namespace fs = std::filesystem;

// The descriptor this process has open on `path`, or -1.
int descriptorOf(const fs::path& path) {
  for (const auto& entry : fs::directory_iterator("/proc/self/fd")) {
    std::error_code error;
    if (fs::read_symlink(entry.path(), error) == path) return std::stoi(entry.path().filename());
  }
  return -1;
}

TEST(Logging, TheLogFileIsClosedOnExec) {
  const fs::path directory = fs::canonical(testing::TempDir());
  Config config;
  config.debugFile = (directory / "gccl_test_logging.%p.log").string();
  configureLogging(config);  // opens the file (the first configuration of this process)
  const fs::path path = directory / ("gccl_test_logging." + std::to_string(::getpid()) + ".log");
  const int fd = descriptorOf(path);
  ASSERT_GE(fd, 0) << "the log file " << path << " is not open";
  EXPECT_NE(::fcntl(fd, F_GETFD) & FD_CLOEXEC, 0) << "a child would inherit the log file";
  fs::remove(path);
}

// A flood of refused strangers logs the first few, then one in `every`, each saying how many
// it stands for.
TEST(WarningBudget, LetsTheFirstThroughThenOneInEvery) {
  WarningBudget budget(3, 10);
  std::vector<uint64_t> logged;      // which warnings got through, counted from 1
  std::vector<uint64_t> heldBefore;  // and how many were dropped before each
  for (uint64_t n = 1; n <= 45; ++n) {
    if (const auto held = budget.admit()) {
      logged.push_back(n);
      heldBefore.push_back(*held);
    }
  }
  EXPECT_EQ(logged, (std::vector<uint64_t>{1, 2, 3, 13, 23, 33, 43}));
  EXPECT_EQ(heldBefore, (std::vector<uint64_t>{0, 0, 0, 9, 9, 9, 9}));
  EXPECT_EQ(heldBack(9), " (9 more like it not logged)");
  EXPECT_EQ(heldBack(0), "");
}

}  // namespace
}  // namespace gccl
