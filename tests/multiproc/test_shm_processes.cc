// The shared-memory transport between real processes, where it differs from TCP: a killed
// peer fails the others at once and leaves no segment behind, a stopped peer is a timeout, a
// process without the job token can neither find nor join a pair, silent callers delay no
// rank, another user's process is trusted neither as listener nor as caller, and a rank killed
// while connecting fails its peer and leaves nothing.
#include <gtest/gtest.h>

#include <dirent.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
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
#include "unit/smaps.h"

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

// Every survivor of the killed `victim` failed with a remote error within kAtOnceSeconds of
// `killedAt`; returns whether one of them named the victim over shared memory.
bool survivorsFailedAtOnce(const std::vector<testing_support::ChildReport>& reports, int victim,
                           double killedAt) {
  bool named = false;
  for (int r = 0; r < static_cast<int>(reports.size()); ++r) {
    if (r == victim) continue;
    const Outcome outcome = parse(reports[r]);
    EXPECT_FALSE(reports[r].killedByParent) << "rank " << r << " hung";
    EXPECT_EQ(outcome.result, static_cast<int>(gcclRemoteError)) << outcome.message;
    EXPECT_LT(outcome.failedAt - killedAt, testing_support::kAtOnceSeconds)
        << "rank " << r << ": " << outcome.message;
    named |=
        outcome.message.find("rank " + std::to_string(victim) + " (host") != std::string::npos &&
        outcome.message.find("shm") != std::string::npos;
  }
  return named;
}

// The victim's doorbell sockets close with it: its neighbours fail at once naming it, and
// their notices fail the rest; the kernel frees the segments, whose names were gone already.
TEST_F(ShmFaults, KilledPeerFailsEveryoneAtOnceAndLeavesNoSegment) {
  const std::set<std::string> before = gcclSegments();
  constexpr int kRanks = 4, kVictim = 2;
  setenv("GCCL_TIMEOUT_MS", std::to_string(testing_support::kLongTimeoutMs).c_str(), 1);
  ProcessGroup group(kRanks, [](int rank, int nranks, const gcclUniqueId& id, std::string& r) {
    return allreduceUntilFailure(rank, nranks, id, r, 1 << 18, gcclSum);
  });
  ASSERT_TRUE(group.waitForLine("ready", 30000)) << "ranks did not start";
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // mid-stream
  const double killedAt = monotonicSeconds();
  group.signal(kVictim, SIGKILL);
  const auto reports = group.collect(testing_support::kLongTimeoutMs + 20000, {kVictim});
  EXPECT_TRUE(survivorsFailedAtOnce(reports, kVictim, killedAt)) << "no survivor named rank 2";
  const std::set<std::string> left = leftSegments(before);
  EXPECT_TRUE(left.empty()) << "left in /dev/shm: " << *left.begin();
}

// A rank that forked (a data loader's worker, Python's multiprocessing) and is then killed:
// its child keeps the rank's doorbell sockets open, so only the rank's process handle tells
// the peers it is gone. They fail at once all the same, naming it, not at the timeout.
TEST_F(ShmFaults, KilledPeerWhoseChildHoldsItsSocketsFailsEveryoneAtOnce) {
  constexpr int kRanks = 3, kVictim = 1;
  int release[2];  // the victim's child lives until this test closes the write end
  ASSERT_EQ(::pipe(release), 0);
  setenv("GCCL_TIMEOUT_MS", std::to_string(testing_support::kLongTimeoutMs).c_str(), 1);
  ProcessGroup group(kRanks, [&](int rank, int nranks, const gcclUniqueId& id, std::string& r) {
    ::close(release[1]);  // only the test holds the write end
    return allreduceUntilFailure(rank, nranks, id, r, 1 << 18, gcclSum, [&] {
      if (rank != kVictim || ::fork() != 0) return;
      // The child: every descriptor of the victim, its doorbells too, until the test ends.
      char byte = 0;
      while (::read(release[0], &byte, 1) < 0 && errno == EINTR) {
      }
      ::_exit(0);
    });
  });
  ::close(release[0]);
  ASSERT_TRUE(group.waitForLine("ready", 30000)) << "ranks did not start";
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // mid-stream
  const double killedAt = monotonicSeconds();
  group.signal(kVictim, SIGKILL);
  const auto reports = group.collect(testing_support::kLongTimeoutMs + 20000, {kVictim});
  ::close(release[1]);  // the child goes
  EXPECT_TRUE(survivorsFailedAtOnce(reports, kVictim, killedAt)) << "no survivor named rank 1";
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

// A pair's doorbell name comes from the token: another token names nothing of this job's.
TEST(ShmNames, DependOnTokenScopeAndPairOnly) {
  const std::string name = doorbellName(tokenOf('a'), "", 0, 1);
  EXPECT_EQ(name, doorbellName(tokenOf('a'), "", 1, 0));
  EXPECT_NE(name, doorbellName(tokenOf('b'), "", 0, 1));
  EXPECT_NE(name, doorbellName(tokenOf('a'), "split/1/0/", 0, 1));
  EXPECT_NE(name, doorbellName(tokenOf('a'), "", 0, 2));
  // Neither the token nor its hex digits ('a' is 0x61) show in it.
  EXPECT_EQ(name.find("aaaa"), std::string::npos) << name;
  EXPECT_EQ(name.find("61616161"), std::string::npos) << name;
}

// Ranks that are threads of one process probe for shared memory at the same time: every probe
// must succeed, or a rank would talk TCP to peers that wait for it on shared memory.
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

// Descriptors of pair segments this process holds open (memfds, as /proc/self/fd shows them).
int segmentDescriptors() {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ignored;
    const auto target = std::filesystem::read_symlink(entry.path(), ignored).string();
    count += target.find("memfd:gccl-pair") != std::string::npos ? 1 : 0;
  }
  return count;
}

// The lower rank's side of a pair: admits one caller, then hands it a segment whose ring 0
// says "welcome".
void admitOne(const Socket& listener, const JobToken& job, const Deadline& deadline) {
  Socket bell = acceptShmHello(listener, job, 0, 1, deadline);
  SharedSegment segment = SharedSegment::create(4096);
  const char welcome[] = "welcome";
  segment.ring(0).write(welcome, sizeof welcome);
  sendShmAck(bell, segment.fd(), deadline);
}

// The higher rank's side: presents the job's hello and reads ring 0 of the segment it gets.
std::string joinPair(const std::string& name, const JobToken& job) {
  Socket bell = dialAbstract(name, Deadline::afterMs(5000));
  const int fd = presentShmHello(bell, ShmHello{kShmHelloMagic, kShmHelloVersion, job, 1, 0},
                                 Deadline::afterMs(5000));
  SharedSegment segment = SharedSegment::adopt(fd, 4096);
  char got[8] = {};
  segment.ring(0).read(got, sizeof got);
  return got;
}

// A stranger with another token finds no socket under the name it can compute, and one that
// learned the name (/proc/net/unix lists it) is refused for its token, while the real peer gets
// in and is handed the pair's segment, which has no name anywhere.
TEST(ShmStranger, CannotJoinAPair) {
  const std::set<std::string> before = gcclSegments();
  const int descriptorsBefore = segmentDescriptors();
  const JobToken job = tokenOf('j');
  const std::string name = doorbellName(job, "", 0, 1);
  Socket listener = listenAbstract(name);
  EXPECT_THROW(dialAbstract(doorbellName(tokenOf('s'), "", 0, 1), Deadline::afterMs(50)), Error);

  std::thread lowerRank([&] { admitOne(listener, job, Deadline::afterMs(10000)); });
  Socket stranger = dialAbstract(name, Deadline::afterMs(5000));
  EXPECT_THROW(
      presentShmHello(stranger, ShmHello{kShmHelloMagic, kShmHelloVersion, tokenOf('s'), 1, 0},
                      Deadline::afterMs(5000)),
      Error);
  EXPECT_EQ(joinPair(name, job), "welcome");
  lowerRank.join();
  EXPECT_EQ(gcclSegments(), before);
  EXPECT_EQ(segmentDescriptors(), descriptorsBefore) << "a segment's descriptor was left open";
}

// Callers that connect and say nothing hold up nobody: the real peer is let in while they wait
// (one at a time, each silent caller would cost kShmHandshakeTimeoutMs).
TEST(ShmStranger, SilentCallersDelayNobody) {
  const JobToken job = tokenOf('q');
  const std::string name = doorbellName(job, "", 0, 1);
  Socket listener = listenAbstract(name);
  std::vector<Socket> silent;
  for (int i = 0; i < 3; ++i) silent.push_back(dialAbstract(name, Deadline::afterMs(5000)));
  const auto start = std::chrono::steady_clock::now();
  std::thread lowerRank([&] { admitOne(listener, job, Deadline::afterMs(30000)); });
  EXPECT_EQ(joinPair(name, job), "welcome");
  lowerRank.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start,
            std::chrono::milliseconds(kShmHandshakeTimeoutMs));
}

// A listener whose queue is full (callers it never accepts: a squatter's, or the peer's own
// flooded by strangers) makes the dial a timeout at its deadline, not a connect blocked in the
// kernel for ever.
TEST(ShmStranger, AFullListenerIsATimeoutNotAHang) {
  const std::string name = doorbellName(tokenOf('f'), "", 0, 1);
  auto listener = std::make_unique<Socket>(listenAbstract(name));
  std::vector<Socket> queued;
  auto dialing = std::async(std::launch::async, [&] {
    for (int i = 0; i < 64; ++i) {
      try {
        queued.push_back(dialAbstract(name, Deadline::afterMs(200)));
      } catch (const Error& e) {
        return e.status();
      }
    }
    return Status::kSuccess;
  });
  const bool ended = dialing.wait_for(std::chrono::seconds(20)) == std::future_status::ready;
  if (!ended) listener.reset();  // what unblocks a connect stuck in the kernel, to end the test
  EXPECT_TRUE(ended) << "a dial blocked past its deadline";
  EXPECT_EQ(dialing.get(), Status::kTimeout);
  EXPECT_GE(queued.size(), 16u) << "the listener's queue (16) was not what refused the dial";
}

// Runs `body` in a child process as user nobody; `ready` is written once it is set up.
pid_t asNobody(const std::function<int(int ready)>& body, int& readyFd) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  std::fflush(nullptr);
  const pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(99);
    _exit(body(fds[1]));
  }
  close(fds[1]);
  readyFd = fds[0];
  return child;
}

bool waitReady(int readyFd) {
  char byte = 0;
  const bool ready = read(readyFd, &byte, 1) == 1;
  close(readyFd);
  return ready;
}

// A connection to the abstract socket `name` without dialAbstract's checks: a stranger's.
int rawDial(const std::string& name) {
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path + 1, name.data(), name.size());
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  if (fd < 0 || connect(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0) return -1;
  return fd;
}

// A stranger that took the doorbell's name first (another user: the name is in
// /proc/net/unix once a socket listens under it, or computable when the token is) gets no
// hello — the job token never leaves — and the dialling rank says who holds the name.
TEST(ShmStranger, ListenerOfAnotherUserGetsNoHello) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run a process as another user";
  const std::string name = doorbellName(tokenOf('u'), "", 0, 1);
  int readyFd = -1;
  const pid_t squatter = asNobody(
      [&](int ready) {
        Socket listener = listenAbstract(name);
        (void)!write(ready, "r", 1);
        std::optional<Socket> caller = listener.accept(Deadline::afterMs(5000));
        if (!caller) return 2;
        char byte = 0;
        return recv(caller->fd(), &byte, 1, 0) > 0 ? 1 : 0;  // 1: it was told something
      },
      readyFd);
  ASSERT_GT(squatter, 0);
  ASSERT_TRUE(waitReady(readyFd));
  try {
    dialAbstract(name, Deadline::afterMs(2000));
    ADD_FAILURE() << "dialled a listener of another user";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("another user (uid 65534"), std::string::npos) << e.what();
  }
  int status = 0;
  waitpid(squatter, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
}

// A caller of another user is refused even with the job token (a leaked or derived token is
// no key to another user's memory), and the rank waits on for its real peer.
TEST(ShmStranger, CallerOfAnotherUserIsRefusedEvenWithTheToken) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run a process as another user";
  const JobToken job = tokenOf('v');
  const std::string name = doorbellName(job, "", 0, 1);
  Socket listener = listenAbstract(name);
  std::thread lowerRank([&] { admitOne(listener, job, Deadline::afterMs(10000)); });
  int readyFd = -1;
  const pid_t stranger = asNobody(
      [&](int) {
        const int fd = rawDial(name);
        const ShmHello hello{kShmHelloMagic, kShmHelloVersion, job, 1, 0};
        if (fd < 0 || write(fd, &hello, sizeof hello) != sizeof hello) return 2;
        char byte = 0;
        return recv(fd, &byte, 1, 0) == 0 ? 0 : 1;  // 0: closed without an ack
      },
      readyFd);
  ASSERT_GT(stranger, 0);
  close(readyFd);
  int status = 0;
  waitpid(stranger, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  EXPECT_EQ(joinPair(name, job), "welcome");
  lowerRank.join();
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

// Whether an abstract socket named `name` is listed (listening) on this machine.
bool doorbellListed(const std::string& name) {
  std::ifstream table("/proc/net/unix");
  std::string line;
  while (std::getline(table, line)) {
    if (line.find("@" + name) != std::string::npos) return true;
  }
  return false;
}

// A lower rank killed while it waits for its peer: the peer fails (no listener, then its
// timeout) instead of hanging, and nothing of the pair is left anywhere.
TEST(ShmInit, KilledLowerRankFailsItsPeerAndLeavesNothing) {
  const std::set<std::string> before = gcclSegments();
  const JobToken token = tokenOf('k');
  const std::string name = doorbellName(token, "", 0, 1);
  std::fflush(nullptr);
  const pid_t lower = fork();
  if (lower == 0) {
    MemoryStore store;
    Poller poller;
    ShmTransport(true, true).connect(pairRequest(0, token, 60000), store, poller);
    _exit(0);
  }
  bool listening = false;
  for (int i = 0; i < 500 && !listening; ++i) {
    listening = doorbellListed(name);
    if (!listening) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(lower, SIGKILL);
  waitpid(lower, nullptr, 0);
  ASSERT_TRUE(listening) << "the lower rank never listened on @" << name;
  EXPECT_FALSE(doorbellListed(name));
  MemoryStore store;
  Poller poller;
  EXPECT_THROW(ShmTransport(true, true).connect(pairRequest(1, token, 300), store, poller), Error);
  EXPECT_EQ(gcclSegments(), before);
}

// KiB that this process wrote of ring 0 and of ring 1 through its one mapping of a pair's
// segment, or {-1, -1}. The mapping is split at the rings' bounds first (another flag on the
// control page and on ring 1; not on ring 0, or they would merge back), so that smaps reports
// each ring apart.
std::pair<long, long> ringKibWritten() {
  constexpr size_t kControlBytes = 4096;  // before the rings (shm_segment.cc)
  std::vector<uintptr_t> pairs;
  for (const testing_support::Mapping& mapping : testing_support::selfMappings()) {
    if (mapping.name.find("gccl-pair") != std::string::npos &&
        mapping.high - mapping.low == kControlBytes + 2 * kRingBytes) {
      pairs.push_back(mapping.low);
    }
  }
  if (pairs.size() != 1) return {-1, -1};
  const uintptr_t ring0 = pairs[0] + kControlBytes, ring1 = ring0 + kRingBytes;
  if (madvise(reinterpret_cast<void*>(pairs[0]), kControlBytes, MADV_DONTFORK) != 0 ||
      madvise(reinterpret_cast<void*>(ring1), kRingBytes, MADV_DONTFORK) != 0) {
    return {-1, -1};
  }
  // Split, the ring's own mapping holds each ring's first byte.
  return {testing_support::dirtyKibAt(reinterpret_cast<const void*>(ring0)),
          testing_support::dirtyKibAt(reinterpret_cast<const void*>(ring1))};
}

// Each end of a pair warms its rings while connecting, before the first message: it writes
// every page of the ring it sends on and none of the other's (smaps counts a page dirty in the
// mapping it was written through), so that the first ring's worth of messages does not pay,
// page by page, for what a VM charges on a first touch (a 16 KiB allreduce's first 64 calls took
// 5-17x as long before, docs/benchmarks.md). Ring 0 carries the lower rank's sends, ring 1 the
// higher rank's; each end is a process of its own with its own mapping. Both look while both
// mappings live: an unmapped page's written state passes to the page itself, and smaps would
// then count it dirty in the other mapping too. So neither unmaps before both have looked (the
// higher rank's look had come after the lower rank's unmap in half the runs: ring 0 read
// dirty there too).
TEST(ShmInit, EachEndWarmsItsRingBeforeTheFirstMessage) {
  const JobToken token = tokenOf('w');
  constexpr long kRingKib = kRingBytes / 1024;
  int lowerLooked[2], higherLooked[2];
  ASSERT_EQ(pipe(lowerLooked), 0);
  ASSERT_EQ(pipe(higherLooked), 0);
  std::fflush(nullptr);
  const pid_t higher = fork();
  // Either end that fails to connect says so and fails the test; neither leaves the other
  // waiting: a closed pipe (an end's exit included) reads as "looked".
  if (higher == 0) {
    close(lowerLooked[1]);
    close(higherLooked[0]);
    int code = 2;
    try {
      MemoryStore store;
      Poller poller;
      const auto connections =
          ShmTransport(true, true).connect(pairRequest(1, token, 10000), store, poller);
      const auto [ring0, ring1] = ringKibWritten();
      std::fprintf(stderr, "higher rank wrote %ld KiB of ring 0, %ld of ring 1\n", ring0, ring1);
      close(higherLooked[1]);
      char end = 0;
      (void)!read(lowerLooked[0], &end, 1);  // returns when the lower rank closes its end
      code = ring0 == 0 && ring1 == kRingKib ? 0 : 1;
    } catch (const Error& e) {
      std::fprintf(stderr, "higher rank: %s\n", e.what());
    }
    _exit(code);
  }
  close(lowerLooked[0]);
  close(higherLooked[1]);
  try {
    MemoryStore store;
    Poller poller;
    const auto connections =
        ShmTransport(true, true).connect(pairRequest(0, token, 10000), store, poller);
    EXPECT_EQ(ringKibWritten(), std::make_pair(kRingKib, 0L)) << "KiB of ring 0, of ring 1";
    char end = 0;
    (void)!read(higherLooked[0], &end, 1);  // returns when the higher rank closes its end
    close(lowerLooked[1]);
  } catch (const Error& e) {
    close(lowerLooked[1]);
    ADD_FAILURE() << "lower rank: " << e.what();
  }
  close(higherLooked[0]);
  int status = 0;
  ASSERT_EQ(waitpid(higher, &status, 0), higher);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "the higher rank's mapping (exit 1) or connection (exit 2)";
}

}  // namespace
}  // namespace gccl
