// A rank that dies (SIGKILL) or stops answering (SIGSTOP) mid-collective: every other rank
// must return gcclRemoteError or gcclTimeout within GCCL_TIMEOUT_MS, with a message naming
// the operation and a peer, and must not hang.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "multiproc/process_group.h"

namespace gccl {
namespace {

using testing_support::ChildReport;
using testing_support::monotonicSeconds;
using testing_support::ProcessGroup;

constexpr int kTimeoutMs = 3000;
constexpr int kRanks = 4;

// Each rank allreduces 4 MiB over and over until an error; reports
// "<result> <failure time> <message>". Exit 0 only when it saw the expected kind of error.
int allreduceUntilFailure(int rank, int nranks, const gcclUniqueId& id, std::string& report) {
  gcclComm_t comm = nullptr;
  if (gcclCommInitRank(&comm, nranks, id, rank) != gcclSuccess) {
    report = std::string("init failed: ") + gcclGetLastError(nullptr);
    return 1;
  }
  std::vector<float> data(1 << 20, 1.0f);
  const double giveUp = monotonicSeconds() + 60;
  gcclResult_t result = gcclSuccess;
  while (result == gcclSuccess && monotonicSeconds() < giveUp) {
    result = gcclAllReduce(data.data(), data.data(), data.size(), gcclFloat32, gcclMin, comm);
  }
  report = std::to_string(static_cast<int>(result)) + " " + std::to_string(monotonicSeconds()) +
           " " + gcclGetLastError(comm);
  gcclCommAbort(comm);
  return result == gcclRemoteError || result == gcclTimeout ? 0 : 1;
}

struct Outcome {
  int result = -1;
  double failedAt = 0;
  std::string message;
};

Outcome parse(const ChildReport& report) {
  Outcome outcome;
  const size_t first = report.text.find(' ');
  const size_t second = report.text.find(' ', first + 1);
  if (first == std::string::npos || second == std::string::npos) return outcome;
  outcome.result = std::atoi(report.text.substr(0, first).c_str());
  outcome.failedAt = std::atof(report.text.substr(first + 1, second - first - 1).c_str());
  outcome.message = report.text.substr(second + 1);
  return outcome;
}

void expectSurvivorsFailInTime(int victim, int signal) {
  setenv("GCCL_TIMEOUT_MS", std::to_string(kTimeoutMs).c_str(), 1);
  ProcessGroup group(kRanks, allreduceUntilFailure);
  unsetenv("GCCL_TIMEOUT_MS");
  std::this_thread::sleep_for(std::chrono::milliseconds(700));  // mid-stream
  const double signalledAt = monotonicSeconds();
  group.signal(victim, signal);
  const auto reports = group.collect(kTimeoutMs + 15000, {victim});
  bool someoneNamedTheVictim = false;
  for (int r = 0; r < kRanks; ++r) {
    if (r == victim) continue;
    const Outcome outcome = parse(reports[r]);
    EXPECT_FALSE(reports[r].killedByParent) << "rank " << r << " hung";
    EXPECT_EQ(reports[r].exitCode, 0) << "rank " << r << ": " << reports[r].text;
    EXPECT_LT(outcome.failedAt - signalledAt, kTimeoutMs / 1000.0 + 2.0)
        << "rank " << r << " failed too late: " << outcome.message;
    EXPECT_NE(outcome.message.find("allreduce #"), std::string::npos) << outcome.message;
    EXPECT_NE(outcome.message.find("on rank " + std::to_string(r)), std::string::npos)
        << outcome.message;
    EXPECT_NE(outcome.message.find("host"), std::string::npos) << outcome.message;
    someoneNamedTheVictim |=
        outcome.message.find("rank " + std::to_string(victim) + " (host") != std::string::npos;
  }
  EXPECT_TRUE(someoneNamedTheVictim) << "no survivor named rank " << victim;
}

TEST(Faults, KilledRankFailsEveryOtherRankInTime) {
  expectSurvivorsFailInTime(2, SIGKILL);
}

TEST(Faults, StoppedRankFailsEveryOtherRankInTime) {
  expectSurvivorsFailInTime(1, SIGSTOP);
}

}  // namespace
}  // namespace gccl
