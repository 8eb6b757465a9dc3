// The poller owns two descriptors (epoll and eventfd): it closes both when destroyed, and
// closes the first when opening the second fails. A descriptor with no events never ends a
// sleep, even after its peer hung up.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
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

TEST(Poller, AnIdleDescriptorWhosePeerHungUpDoesNotEndASleep) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
  Poller poller;
  poller.watch(pair[0]);
  ::close(pair[1]);  // epoll now reports a hang-up on pair[0] whatever its mask
  EXPECT_EQ(poller.wait(0), 0) << "watched with no events yet";
  poller.setEvents(pair[0], EPOLLIN);
  EXPECT_EQ(poller.wait(0), 1) << "waiting to read: the hang-up is news";
  poller.setEvents(pair[0], 0);
  EXPECT_EQ(poller.wait(0), 0) << "idle again: the engine would spin on every sleep";
  poller.setEvents(pair[0], EPOLLOUT);
  EXPECT_EQ(poller.wait(0), 1) << "re-armed";
  poller.forget(pair[0]);
  EXPECT_EQ(poller.wait(0), 0);
  poller.wake();
  EXPECT_EQ(poller.wait(0), 1);
  ::close(pair[0]);
}

}  // namespace
}  // namespace gccl
