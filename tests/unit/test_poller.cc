// The poller owns two descriptors (epoll and eventfd): it closes both when destroyed, and
// closes the first when opening the second fails.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/error.h"
#include "base/poller.h"

namespace gccl {
namespace {

// The descriptor number the next open() gets: the lowest free one.
int lowestFreeFd() {
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ::close(fd);
  return fd;
}

TEST(Poller, ClosesItsDescriptorsWhenDestroyed) {
  const int first = lowestFreeFd();
  { Poller poller; }
  EXPECT_EQ(lowestFreeFd(), first);
}

TEST(Poller, AConstructorThatThrowsClosesWhatItOpened) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // At the descriptor limit the sanitizer runtime cannot work either: UBSan opens a pipe to
  // check a vptr while the error message is formatted, and reports a false error.
  GTEST_SKIP() << "needs a process with no free descriptor, which a sanitizer cannot run in";
#endif
  const int first = lowestFreeFd();
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  // Room below the limit for the epoll descriptor only: the eventfd fails with EMFILE.
  rlimit tight = saved;
  tight.rlim_cur = static_cast<rlim_t>(first) + 1;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
  bool threw = false;
  try {
    Poller poller;
  } catch (const Error& e) {
    threw = true;
    EXPECT_NE(std::string(e.what()).find("eventfd"), std::string::npos) << e.what();
  }
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  EXPECT_TRUE(threw);
  EXPECT_EQ(lowestFreeFd(), first) << "the epoll descriptor leaked";
}

}  // namespace
}  // namespace gccl
