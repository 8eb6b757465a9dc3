// A rank that dies (SIGKILL) or stops answering (SIGSTOP) mid-collective: every other rank
// must return gcclRemoteError or gcclTimeout within GCCL_TIMEOUT_MS, with a message naming
// the operation and a peer, and must not hang. Then it must be able to let go of its
// communicator: gcclCommDestroy and gcclCommAbort of a failed communicator both succeed at once.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "multiproc/failing_rank.h"
#include "multiproc/process_group.h"

namespace gccl {
namespace {

// TCP by default: ranks of one machine would otherwise take shared memory. A GCCL_TRANSPORT
// set outside runs them over that instead (ctest runs them with shm too: "shm." tests).
[[maybe_unused]] const bool kOverTcp = setenv("GCCL_TRANSPORT", "tcp", 0) == 0;

using testing_support::allreduceUntilFailure;
using testing_support::ChildReport;
using testing_support::destroysAfterFailure;
using testing_support::kAtOnceSeconds;
using testing_support::kLongTimeoutMs;
using testing_support::monotonicSeconds;
using testing_support::Outcome;
using testing_support::parse;
using testing_support::ProcessGroup;

constexpr int kTimeoutMs = 3000;
constexpr int kRanks = 4;

// Tearing a failed communicator down returns gcclSuccess: the collective already reported the
// failure, and gccl_api.cc's destroy (drain, then free) and abort (abort, then free) throw
// nothing for a broken communicator. Its connections are closed, so neither waits for a peer.
void expectCleanTeardown(int rank, const Outcome& outcome) {
  const char* call = destroysAfterFailure(rank) ? "gcclCommDestroy" : "gcclCommAbort";
  EXPECT_EQ(outcome.teardownResult, gcclSuccess) << call << " on rank " << rank;
  EXPECT_LT(outcome.teardownSeconds, 2.0) << call << " on rank " << rank << " was slow";
}

// `within`: how soon after the signal every survivor must have failed, with GCCL_TIMEOUT_MS
// `timeoutMs`. `expected`: the result every survivor must return, or -1 for "remote error or
// timeout, at least one timeout".
void expectSurvivorsFailInTime(int victim, int signal, int timeoutMs, double within, int expected) {
  setenv("GCCL_TIMEOUT_MS", std::to_string(timeoutMs).c_str(), 1);
  ProcessGroup group(kRanks, [](int rank, int nranks, const gcclUniqueId& id, std::string& report) {
    return allreduceUntilFailure(rank, nranks, id, report);
  });
  unsetenv("GCCL_TIMEOUT_MS");
  ASSERT_TRUE(group.waitForLine("ready", 30000)) << "ranks did not start";
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // mid-stream
  const double signalledAt = monotonicSeconds();
  group.signal(victim, signal);
  const auto reports = group.collect(timeoutMs + 15000, {victim});
  bool someoneNamedTheVictim = false;
  bool someoneTimedOut = false;
  for (int r = 0; r < kRanks; ++r) {
    if (r == victim) continue;
    const Outcome outcome = parse(reports[r]);
    EXPECT_FALSE(reports[r].killedByParent) << "rank " << r << " hung";
    EXPECT_EQ(reports[r].exitCode, 0) << "rank " << r << ": " << reports[r].text;
    EXPECT_LT(outcome.failedAt - signalledAt, within)
        << "rank " << r << " failed too late: " << outcome.message;
    if (expected >= 0) {
      EXPECT_EQ(outcome.result, expected) << outcome.message;
    }
    someoneTimedOut |= outcome.result == gcclTimeout;
    EXPECT_NE(outcome.message.find("allreduce #"), std::string::npos) << outcome.message;
    EXPECT_NE(outcome.message.find("on rank " + std::to_string(r)), std::string::npos)
        << outcome.message;
    EXPECT_NE(outcome.message.find("host"), std::string::npos) << outcome.message;
    expectCleanTeardown(r, outcome);
    someoneNamedTheVictim |=
        outcome.message.find("rank " + std::to_string(victim) + " (host") != std::string::npos;
  }
  EXPECT_TRUE(someoneNamedTheVictim) << "no survivor named rank " << victim;
  if (expected < 0) {
    EXPECT_TRUE(someoneTimedOut) << "a stopped peer must surface as a timeout";
  }
}

// A dead peer's sockets are reset by its kernel: no survivor may wait for the timeout, which
// is far beyond the bound here so that a loaded machine's delays fit between the two.
TEST(Faults, KilledRankFailsEveryOtherRankAtOnce) {
  expectSurvivorsFailInTime(2, SIGKILL, kLongTimeoutMs, kAtOnceSeconds, gcclRemoteError);
}

// A stopped peer says nothing: its neighbours time out, the others learn it from them. The
// diagnosis after the timeout waits up to its grace (timeout/4, at most 1 s) for a stopped
// rank's neighbours to report, then probes them; 2 s of slack beyond that for a loaded machine.
TEST(Faults, StoppedRankFailsEveryOtherRankWithinTheTimeout) {
  expectSurvivorsFailInTime(1, SIGSTOP, kTimeoutMs, kTimeoutMs / 1000.0 + 0.75 + 2.0, -1);
}

// gcclCommAbort on one rank while the others are mid-collective: the aborting rank's notice
// reaches every survivor (directly or passed along the ring), so each reports a remote error
// that says who aborted, not only that a connection closed. Small and large collectives: a
// rank that passes the notice on may be in the middle of a 1 MiB message, which it finishes
// first.
class AbortNotice : public testing::TestWithParam<size_t> {};

// The aborting rank: one allreduce, then gcclCommAbort while the others wait in the next one.
// Reports "<abort result> <destroy result>", the second from destroying the aborted handle.
int abortMidCollective(int rank, int nranks, const gcclUniqueId& id, std::string& report,
                       size_t count) {
  gcclComm_t comm = nullptr;
  if (gcclCommInitRank(&comm, nranks, id, rank) != gcclSuccess) return 1;
  std::vector<float> data(count, 1.0f);
  if (gcclAllReduce(data.data(), data.data(), data.size(), gcclFloat32, gcclMin, comm) !=
      gcclSuccess) {
    report = std::string("first allreduce failed: ") + gcclGetLastError(comm);
    return 1;
  }
  ProcessGroup::say("ready");
  // The others are blocked in their next allreduce, waiting for this rank.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const gcclResult_t aborted = gcclCommAbort(comm);
  // The handle is gone: the live-handle registry turns a second teardown into an error.
  const gcclResult_t destroyed = gcclCommDestroy(comm);
  report = std::to_string(aborted) + " " + std::to_string(destroyed);
  return 0;
}

TEST_P(AbortNotice, AbortedRankTellsEveryOtherRankWhy) {
  constexpr int kAborting = 2;
  static size_t count;
  count = GetParam();
  setenv("GCCL_TIMEOUT_MS", "20000", 1);
  ProcessGroup group(kRanks, [](int rank, int nranks, const gcclUniqueId& id, std::string& report) {
    if (rank != kAborting) return allreduceUntilFailure(rank, nranks, id, report, count);
    return abortMidCollective(rank, nranks, id, report, count);
  });
  unsetenv("GCCL_TIMEOUT_MS");
  ASSERT_TRUE(group.waitForLine("ready", 30000)) << "ranks did not start";
  const double startedAt = monotonicSeconds();
  const auto reports = group.collect(30000);
  for (int r = 0; r < kRanks; ++r) {
    EXPECT_EQ(reports[r].exitCode, 0) << "rank " << r << ": " << reports[r].text;
    if (r == kAborting) continue;
    const Outcome outcome = parse(reports[r]);
    EXPECT_EQ(outcome.result, gcclRemoteError) << outcome.message;
    EXPECT_LT(outcome.failedAt - startedAt, 5.0) << "rank " << r << " waited for the timeout";
    EXPECT_NE(outcome.message.find("on rank " + std::to_string(r)), std::string::npos)
        << outcome.message;
    EXPECT_NE(outcome.message.find("rank 2 aborted: gcclCommAbort was called"), std::string::npos)
        << "rank " << r << ": " << outcome.message;
    expectCleanTeardown(r, outcome);
  }
  // Aborting a live communicator succeeds; the handle is then no longer live.
  int aborted = -1, destroyed = -1;
  ASSERT_EQ(std::sscanf(reports[kAborting].text.c_str(), "ready\n%d %d", &aborted, &destroyed), 2)
      << reports[kAborting].text;
  EXPECT_EQ(aborted, gcclSuccess) << "gcclCommAbort of a live communicator";
  EXPECT_EQ(destroyed, gcclInvalidArgument) << "gcclCommDestroy of an aborted communicator";
}

INSTANTIATE_TEST_SUITE_P(Counts, AbortNotice, testing::Values(size_t{1000}, size_t{1} << 22));

}  // namespace
}  // namespace gccl
