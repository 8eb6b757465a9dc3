// The shared-memory transport between real processes, where it differs from TCP: a killed
// peer fails the others at once and leaves no segment behind, a stopped peer is a timeout, a
// process without the job token can neither find nor join a pair, and a rank killed while
// connecting leaves no name in /dev/shm once its peer gives up.
#include <gtest/gtest.h>

#include <dirent.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "base/poller.h"
#include "bootstrap/memory_store.h"
#include "multiproc/failing_rank.h"
#include "multiproc/process_group.h"
#include "transport/shm/shm_handshake.h"
#include "transport/shm/shm_names.h"
#include "transport/shm/shm_segment.h"
#include "transport/shm/shm_transport.h"

namespace gccl {
namespace {

using testing_support::allreduceUntilFailure;
using testing_support::monotonicSeconds;
using testing_support::Outcome;
using testing_support::parse;
using testing_support::ProcessGroup;
using namespace transport::shm;

constexpr int kTimeoutMs = 2000;

std::set<std::string> gcclSegments() {
  std::set<std::string> names;
  if (DIR* dir = opendir("/dev/shm")) {
    while (const dirent* entry = readdir(dir)) {
      if (std::string(entry->d_name).rfind(kSegmentPrefix, 0) == 0) names.insert(entry->d_name);
    }
    closedir(dir);
  }
  return names;
}

// Segments that appeared since `before` and are still there a second later: another test
// connecting at the same moment holds its names for microseconds only.
std::set<std::string> leftSegments(const std::set<std::string>& before) {
  std::set<std::string> left;
  for (int attempt = 0; attempt < 10; ++attempt) {
    left.clear();
    for (const std::string& name : gcclSegments()) {
      if (before.count(name) == 0) left.insert(name);
    }
    if (left.empty()) return left;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return left;
}

class ShmFaults : public testing::Test {
 protected:
  void SetUp() override {
    setenv("GCCL_TRANSPORT", "shm", 1);
    setenv("GCCL_TIMEOUT_MS", std::to_string(kTimeoutMs).c_str(), 1);
  }
  void TearDown() override {
    unsetenv("GCCL_TRANSPORT");
    unsetenv("GCCL_TIMEOUT_MS");
  }
};

// The victim's doorbell sockets close with it: its neighbours fail at once naming it, and
// their notices fail the rest; the kernel frees the segments, whose names were gone already.
TEST_F(ShmFaults, KilledPeerFailsEveryoneAtOnceAndLeavesNoSegment) {
  const std::set<std::string> before = gcclSegments();
  constexpr int kRanks = 4, kVictim = 2;
  ProcessGroup group(kRanks, [](int rank, int nranks, const gcclUniqueId& id, std::string& r) {
    return allreduceUntilFailure(rank, nranks, id, r, 1 << 18, gcclSum);
  });
  ASSERT_TRUE(group.waitForLine("ready", 30000)) << "ranks did not start";
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // mid-stream
  const double killedAt = monotonicSeconds();
  group.signal(kVictim, SIGKILL);
  const auto reports = group.collect(kTimeoutMs + 20000, {kVictim});
  bool named = false;
  for (int r = 0; r < kRanks; ++r) {
    if (r == kVictim) continue;
    const Outcome outcome = parse(reports[r]);
    EXPECT_FALSE(reports[r].killedByParent) << "rank " << r << " hung";
    EXPECT_EQ(outcome.result, static_cast<int>(gcclRemoteError)) << outcome.message;
    EXPECT_LT(outcome.failedAt - killedAt, 1.5) << "rank " << r << ": " << outcome.message;
    named |= outcome.message.find("rank 2 (host") != std::string::npos &&
             outcome.message.find("shm") != std::string::npos;
  }
  EXPECT_TRUE(named) << "no survivor named rank 2 over shm";
  const std::set<std::string> left = leftSegments(before);
  EXPECT_TRUE(left.empty()) << "left in /dev/shm: " << *left.begin();
}

// A stopped peer holds its segments and sockets open and says nothing: a timeout, not a hang.
TEST_F(ShmFaults, StoppedPeerIsATimeoutNotAHang) {
  constexpr int kRanks = 3, kVictim = 1;
  ProcessGroup group(kRanks, [](int rank, int nranks, const gcclUniqueId& id, std::string& r) {
    return allreduceUntilFailure(rank, nranks, id, r, 1 << 18, gcclSum);
  });
  ASSERT_TRUE(group.waitForLine("ready", 30000)) << "ranks did not start";
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const double stoppedAt = monotonicSeconds();
  group.signal(kVictim, SIGSTOP);
  const auto reports = group.collect(kTimeoutMs + 20000, {kVictim});
  bool timedOut = false;
  for (int r = 0; r < kRanks; ++r) {
    if (r == kVictim) continue;
    const Outcome outcome = parse(reports[r]);
    EXPECT_FALSE(reports[r].killedByParent) << "rank " << r << " hung";
    EXPECT_EQ(reports[r].exitCode, 0) << "rank " << r << ": " << reports[r].text;
    EXPECT_LT(outcome.failedAt - stoppedAt, kTimeoutMs / 1000.0 + 3.0) << outcome.message;
    EXPECT_NE(outcome.message.find("rank 1 (host"), std::string::npos) << outcome.message;
    timedOut |= outcome.result == gcclTimeout;
  }
  EXPECT_TRUE(timedOut) << "a stopped peer must surface as a timeout";
  group.signal(kVictim, SIGCONT);
}

JobToken tokenOf(char fill) {
  JobToken token;
  token.fill(fill);
  return token;
}

// A pair's names come from the token: another token names nothing of this job's.
TEST(ShmNames, DependOnTokenScopeAndPairOnly) {
  const PairNames names = pairNames(tokenOf('a'), "", 0, 1);
  EXPECT_EQ(names.segment, pairNames(tokenOf('a'), "", 1, 0).segment);
  EXPECT_NE(names.segment, pairNames(tokenOf('b'), "", 0, 1).segment);
  EXPECT_NE(names.socket, pairNames(tokenOf('b'), "", 0, 1).socket);
  EXPECT_NE(names.segment, pairNames(tokenOf('a'), "split/1/0/", 0, 1).segment);
  EXPECT_NE(names.segment, pairNames(tokenOf('a'), "", 0, 2).segment);
  // Neither the token nor its hex digits ('a' is 0x61) show in a name.
  for (const std::string& name : {names.segment, names.socket}) {
    EXPECT_EQ(name.find("aaaa"), std::string::npos) << name;
    EXPECT_EQ(name.find("61616161"), std::string::npos) << name;
  }
}

// Ranks that are threads of one process probe /dev/shm at the same time: every probe must
// succeed, or a rank would talk TCP to peers that wait for it on shared memory.
TEST(ShmProbe, ThreadsProbingAtOnceAllFindSharedMemoryUsable) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 200;
  std::atomic<int> failures{0};
  std::atomic<int> arrived{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      arrived++;
      while (arrived.load() < kThreads) std::this_thread::yield();
      for (int round = 0; round < kRounds; ++round) {
        std::string why;
        if (!sharedMemoryUsable(&why)) failures++;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

// The lower rank of a pair waits for its peer; a stranger with another token finds neither its
// segment nor its socket under the names it can compute, and one that learned the socket name
// (it is listed in /proc/net/unix) is refused for its token, while the real peer gets in.
TEST(ShmStranger, CannotOpenOrJoinAPair) {
  const JobToken job = tokenOf('j');
  const PairNames names = pairNames(job, "", 0, 1);
  SharedSegment segment = SharedSegment::create(names.segment, 4096);
  struct stat info {};
  const int fd = shm_open(names.segment.c_str(), O_RDONLY, 0);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(fstat(fd, &info), 0);
  close(fd);
  EXPECT_EQ(info.st_mode & 0077, 0u) << "the segment must be the owner's only";
  Socket listener = listenAbstract(names.socket);

  const PairNames guessed = pairNames(tokenOf('s'), "", 0, 1);
  EXPECT_LT(shm_open(guessed.segment.c_str(), O_RDWR, 0), 0);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_THROW(dialAbstract(guessed.socket, Deadline::afterMs(50)), Error);

  std::thread lowerRank([&] {
    Socket bell = acceptShmHello(listener, job, 0, 1, Deadline::afterMs(10000));
    const uint8_t welcome = 7;
    bell.sendAll(&welcome, 1, Deadline::afterMs(10000));
  });
  Socket stranger = dialAbstract(names.socket, Deadline::afterMs(5000));
  EXPECT_THROW(
      sendShmHello(stranger, ShmHello{kShmHelloMagic, kShmHelloVersion, tokenOf('s'), 1, 0},
                   Deadline::afterMs(5000)),
      Error);
  Socket peer = dialAbstract(names.socket, Deadline::afterMs(5000));
  sendShmHello(peer, ShmHello{kShmHelloMagic, kShmHelloVersion, job, 1, 0},
               Deadline::afterMs(5000));
  uint8_t welcome = 0;
  peer.recvAll(&welcome, 1, Deadline::afterMs(5000));
  EXPECT_EQ(welcome, 7);
  lowerRank.join();
  SharedSegment::unlink(names.segment);
}

ConnectRequest pairRequest(int rank, const JobToken& token, int timeoutMs) {
  ConnectRequest request;
  request.rank = rank;
  request.size = 2;
  request.peers = {1 - rank};
  request.token = token;
  request.timeoutMs = timeoutMs;
  return request;
}

// The one window where a name exists: the lower rank created the segment and waits for its
// peer. Killed there, it leaves the name to the peer, which removes it when it gives up.
TEST(ShmInit, KilledLowerRankLeavesNoSegmentOnceItsPeerGivesUp) {
  const JobToken token = tokenOf('k');
  const std::string path = "/dev/shm" + pairNames(token, "", 0, 1).segment;
  std::fflush(nullptr);
  const pid_t lower = fork();
  if (lower == 0) {
    MemoryStore store;
    Poller poller;
    ShmTransport(true).connect(pairRequest(0, token, 60000), store, poller);
    _exit(0);
  }
  bool created = false;
  for (int i = 0; i < 500 && !created; ++i) {
    created = access(path.c_str(), F_OK) == 0;
    if (!created) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(lower, SIGKILL);
  waitpid(lower, nullptr, 0);
  ASSERT_TRUE(created) << "the lower rank never created " << path;
  MemoryStore store;
  Poller poller;
  EXPECT_THROW(ShmTransport(true).connect(pairRequest(1, token, 300), store, poller), Error);
  EXPECT_NE(access(path.c_str(), F_OK), 0) << path << " was left behind";
}

}  // namespace
}  // namespace gccl
