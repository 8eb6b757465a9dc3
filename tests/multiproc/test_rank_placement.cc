// Where the two local launchers put their ranks: gccl's perf tools' (perf/local_launcher.h) and
// the Gloo and stream baselines' (perf/baselines/local_ranks.h). Each forked rank reads its own
// affinity mask: bound, exactly the CPU cpu_binding.h gives its rank; unbound, the parent's.
#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "baselines/local_ranks.h"
#include "cpu_binding.h"
#include "local_launcher.h"

namespace {

using cpu_binding::Binding;

// The mask a rank of `binding` must find itself with.
std::vector<int> expectedMask(Binding binding, const std::vector<int>& parent, int rank) {
  if (binding == Binding::kNone) return parent;
  return {cpu_binding::cpuForRank(parent, rank)};
}

class RankPlacement : public testing::TestWithParam<Binding> {};

TEST_P(RankPlacement, GcclPerfToolsRanksRunWhereTheBindingSays) {
  const std::vector<int> parent = cpu_binding::allowedCpus();
  ASSERT_FALSE(parent.empty());
  // More ranks than this machine has CPUs (2 here): the placement wraps round.
  const int nranks = static_cast<int>(parent.size()) + 1;
  const gccl::perf::LocalRun run = gccl::perf::runLocalRanks(
      "test_rank_placement", nranks, 60, GetParam(), [&](const gcclUniqueId&, int rank, int) {
        gccl::perf::RankReport report;
        report.exitStatus = 0;
        // Counted as a wrong element: the launcher sums them from every rank.
        const bool placed = cpu_binding::allowedCpus() == expectedMask(GetParam(), parent, rank);
        report.wrongElements = placed ? 0 : 1;
        return report;
      });
  EXPECT_TRUE(run.allSucceeded);
  EXPECT_EQ(run.reported, nranks);
  EXPECT_EQ(run.wrongElements, 0u);
  EXPECT_EQ(cpu_binding::allowedCpus(), parent) << "the launcher itself stays unbound";
}

TEST_P(RankPlacement, BaselineRanksRunWhereTheBindingSays) {
  const std::vector<int> parent = cpu_binding::allowedCpus();
  ASSERT_FALSE(parent.empty());
  const int nranks = static_cast<int>(parent.size()) + 1;
  const int status =
      baselines::runLocalRanks(nranks, std::chrono::seconds(60), GetParam(), [&](int rank) {
        return cpu_binding::allowedCpus() == expectedMask(GetParam(), parent, rank) ? 0 : 3;
      });
  EXPECT_EQ(status, 0);
  EXPECT_EQ(cpu_binding::allowedCpus(), parent);
}

INSTANTIATE_TEST_SUITE_P(Bindings, RankPlacement, testing::Values(Binding::kCore, Binding::kNone),
                         [](const testing::TestParamInfo<Binding>& info) {
                           return std::string(cpu_binding::bindingName(info.param));
                         });

}  // namespace
