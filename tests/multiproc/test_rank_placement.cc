// Where the two local launchers put their ranks: gccl's perf tools' (perf/local_launcher.h) and
// the Gloo and stream baselines' (perf/baselines/local_ranks.h). Each forked rank reads its own
// affinity mask: bound, exactly the CPUs cpu_binding.h gives its rank; unbound, the parent's.
// Two rank counts: as many as CPUs (a block each) and one more (round robin).
#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "baselines/local_ranks.h"
#include "cpu_binding.h"
#include "local_launcher.h"

namespace {

using cpu_binding::Binding;

// The mask a rank must find itself with: its placement's, or the parent's when unbound.
std::vector<int> expectedMask(Binding binding, const std::vector<int>& parent, int rank,
                              int nranks) {
  if (binding == Binding::kNone) return parent;
  return cpu_binding::placement(parent, nranks)[static_cast<size_t>(rank)];
}

class RankPlacement : public testing::TestWithParam<Binding> {
 protected:
  const std::vector<int> parent_ = cpu_binding::allowedCpus();
};

TEST_P(RankPlacement, GcclPerfToolsRanksRunWhereTheBindingSays) {
  ASSERT_FALSE(parent_.empty());
  const int cpus = static_cast<int>(parent_.size());
  for (const int nranks : {cpus, cpus + 1}) {
    const auto placement = cpu_binding::placementFor(GetParam(), nranks);
    const gccl::perf::LocalRun run = gccl::perf::runLocalRanks(
        "test_rank_placement", nranks, 60, placement, [&](const gcclUniqueId&, int rank, int) {
          gccl::perf::RankReport report;
          report.exitStatus = 0;
          // Counted as a wrong element: the launcher sums them from every rank.
          const bool placed =
              cpu_binding::allowedCpus() == expectedMask(GetParam(), parent_, rank, nranks);
          report.wrongElements = placed ? 0 : 1;
          return report;
        });
    EXPECT_TRUE(run.allSucceeded) << nranks << " ranks";
    EXPECT_EQ(run.reported, nranks);
    EXPECT_EQ(run.wrongElements, 0u) << "ranks in the wrong place, of " << nranks;
  }
  EXPECT_EQ(cpu_binding::allowedCpus(), parent_) << "the launcher itself stays unbound";
}

TEST_P(RankPlacement, BaselineRanksRunWhereTheBindingSays) {
  ASSERT_FALSE(parent_.empty());
  const int cpus = static_cast<int>(parent_.size());
  for (const int nranks : {cpus, cpus + 1}) {
    const auto placement = cpu_binding::placementFor(GetParam(), nranks);
    const int status =
        baselines::runLocalRanks(nranks, std::chrono::seconds(60), placement, [&](int rank) {
          return cpu_binding::allowedCpus() == expectedMask(GetParam(), parent_, rank, nranks) ? 0
                                                                                               : 3;
        });
    EXPECT_EQ(status, 0) << nranks << " ranks";
  }
  EXPECT_EQ(cpu_binding::allowedCpus(), parent_);
}

INSTANTIATE_TEST_SUITE_P(Bindings, RankPlacement, testing::Values(Binding::kCpus, Binding::kNone),
                         [](const testing::TestParamInfo<Binding>& info) {
                           return std::string(cpu_binding::bindingName(info.param));
                         });

}  // namespace
