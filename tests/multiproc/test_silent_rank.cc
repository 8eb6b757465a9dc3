// The rank that went silent is named by every survivor, not only by its neighbours: one or two
// ranks are stopped (SIGSTOP) mid-collective in 3-, 8- and 16-rank jobs over TCP, ring and
// recursive doubling, and every other rank's error must name a stopped rank and its host within
// the timeout + the diagnosis grace + 2 s. A killed rank (SIGKILL) keeps the fast path.
#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "multiproc/failing_rank.h"
#include "multiproc/process_group.h"

namespace gccl {
namespace {

// These tests are about TCP: ranks of one machine would otherwise take shared memory
// (test_shm_processes covers that). A GCCL_TRANSPORT set outside runs them over that instead.
[[maybe_unused]] const bool kOverTcp = setenv("GCCL_TRANSPORT", "tcp", 0) == 0;

using testing_support::allreduceUntilFailure;
using testing_support::monotonicSeconds;
using testing_support::Outcome;
using testing_support::parse;
using testing_support::ProcessGroup;

constexpr int kTimeoutMs = 3000;
constexpr double kGraceSeconds = 0.75;  // min(1 s, timeout / 4)

struct Case {
  int ranks;
  const char* algorithm;
  std::vector<int> stopped;
  size_t count;  // floats per allreduce
};

// The verdict: "rank V (host h) stopped responding", or, when rank 0 (the store) is the silent
// one, the store's silence naming rank 0.
bool namesAStoppedRank(const std::string& message, const std::vector<int>& stopped) {
  for (int victim : stopped) {
    // One phrase: a message blaming another rank that mentions this one elsewhere is wrong.
    const std::string head = "rank " + std::to_string(victim) + " (host ";
    const std::string tail = ") stopped responding";
    for (size_t at = message.find(head); at != std::string::npos; at = message.find(head, at + 1)) {
      const size_t close = message.find(')', at + head.size());
      if (close != std::string::npos && message.compare(close, tail.size(), tail) == 0) return true;
    }
    if (victim == 0 && message.find("rank 0 is stopped or unreachable") != std::string::npos) {
      return true;
    }
  }
  return false;
}

class SilentRank : public testing::TestWithParam<Case> {};

TEST_P(SilentRank, EverySurvivorNamesAStoppedRank) {
  const Case c = GetParam();
  static size_t count;
  count = c.count;
  setenv("GCCL_TIMEOUT_MS", std::to_string(kTimeoutMs).c_str(), 1);
  setenv("GCCL_ALGO", c.algorithm, 1);
  ProcessGroup group(c.ranks, [](int rank, int nranks, const gcclUniqueId& id, std::string& r) {
    return allreduceUntilFailure(rank, nranks, id, r, count, gcclSum);
  });
  unsetenv("GCCL_TIMEOUT_MS");
  unsetenv("GCCL_ALGO");
  ASSERT_TRUE(group.waitForLine("ready", 60000)) << "ranks did not start";
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // mid-stream
  const double stoppedAt = monotonicSeconds();
  for (int victim : c.stopped) group.signal(victim, SIGSTOP);
  const auto reports = group.collect(kTimeoutMs + 20000, c.stopped);
  const double bound = kTimeoutMs / 1000.0 + kGraceSeconds + 2.0;
  int named = 0;
  for (int r = 0; r < c.ranks; ++r) {
    if (std::count(c.stopped.begin(), c.stopped.end(), r) != 0) continue;
    const Outcome outcome = parse(reports[r]);
    EXPECT_FALSE(reports[r].killedByParent) << "rank " << r << " hung";
    EXPECT_EQ(reports[r].exitCode, 0) << "rank " << r << ": " << reports[r].text;
    EXPECT_LT(outcome.failedAt - stoppedAt, bound)
        << "rank " << r << " failed too late: " << outcome.message;
    const bool ok = namesAStoppedRank(outcome.message, c.stopped);
    named += ok ? 1 : 0;
    EXPECT_TRUE(ok) << "rank " << r << " blamed the wrong rank: " << outcome.message;
  }
  RecordProperty("survivors_naming_a_stopped_rank", named);
}

INSTANTIATE_TEST_SUITE_P(
    Jobs, SilentRank,
    testing::Values(Case{3, "ring", {1}, 1 << 18}, Case{3, "ring", {2}, 1 << 18},
                    Case{8, "ring", {3}, 1 << 16}, Case{8, "recursive_doubling", {5}, 1 << 12},
                    Case{8, "ring", {0}, 1 << 16}, Case{8, "ring", {2, 6}, 1 << 16},
                    Case{16, "ring", {11}, 1 << 14}, Case{16, "recursive_doubling", {15}, 1 << 12},
                    Case{8, "halving_doubling", {5}, 1 << 12},
                    Case{4, "halving_doubling", {3}, 1 << 12}),
    [](const testing::TestParamInfo<Case>& info) {
      std::string name = std::to_string(info.param.ranks) + "ranks_" + info.param.algorithm;
      for (int victim : info.param.stopped) name += "_stop" + std::to_string(victim);
      return name;
    });

// A killed rank's sockets are reset by its kernel: nobody waits for the timeout or a diagnosis.
TEST(SilentRankKilled, KilledRankStillFailsEveryoneAtOnce) {
  setenv("GCCL_TIMEOUT_MS", std::to_string(testing_support::kLongTimeoutMs).c_str(), 1);
  ProcessGroup group(8, [](int rank, int nranks, const gcclUniqueId& id, std::string& r) {
    return allreduceUntilFailure(rank, nranks, id, r, 1 << 16, gcclSum);
  });
  unsetenv("GCCL_TIMEOUT_MS");
  ASSERT_TRUE(group.waitForLine("ready", 60000)) << "ranks did not start";
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const double killedAt = monotonicSeconds();
  group.signal(3, SIGKILL);
  const auto reports = group.collect(testing_support::kLongTimeoutMs + 20000, {3});
  for (int r = 0; r < 8; ++r) {
    if (r == 3) continue;
    const Outcome outcome = parse(reports[r]);
    EXPECT_EQ(outcome.result, static_cast<int>(gcclRemoteError)) << outcome.message;
    EXPECT_LT(outcome.failedAt - killedAt, testing_support::kAtOnceSeconds)
        << "rank " << r << ": " << outcome.message;
  }
}

}  // namespace
}  // namespace gccl
