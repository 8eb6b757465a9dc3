// The log file (GCCL_DEBUG_FILE) is not inherited by programs the application executes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "base/config.h"
#include "base/logging.h"

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

}  // namespace
}  // namespace gccl
