// The cost model and the automatic choice it drives: figures parsed and written back, errors
// named by line, predictions that behave (positive, growing with size), and choices that follow
// them — latency-bound sizes take a log-depth algorithm, bandwidth-bound ones avoid sending
// the whole buffer log(n) times, slow links between hosts make the hierarchy pay.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "algorithms/cost_model.h"
#include "algorithms/registry.h"
#include "base/error.h"

namespace gccl {
namespace {

using K = CollectiveKind;

ScheduleShape layout(int size, int hosts = 1) {
  ScheduleShape shape;
  shape.size = size;
  if (hosts > 1) {
    auto hostOf = std::make_shared<std::vector<int>>();
    for (int r = 0; r < size; ++r) hostOf->push_back(r / (size / hosts));
    shape.hostOf = hostOf;
  }
  return shape;
}

AlgorithmId automaticChoice(K collective, const ScheduleShape& shape, size_t bytes,
                            const CostFigures& figures = {}) {
  CostInputs costs = costInputsOf(shape, 1 << 20, figures);
  costs.bytes = bytes;
  return selectAlgorithm(collective, "auto", shape, costs).id;
}

TEST(CostFigures, RoundTripAndDefaultsForMissingKeys) {
  CostFigures figures;
  figures.intraHost = {3.5, 1.0 / 9000};
  figures.gammaUsPerByte = 1.0 / 12000;
  const CostFigures back = parseCostFigures(formatCostFigures(figures));
  EXPECT_DOUBLE_EQ(back.intraHost.alphaUs, 3.5);
  EXPECT_DOUBLE_EQ(back.intraHost.betaUsPerByte, 1.0 / 9000);
  EXPECT_DOUBLE_EQ(back.gammaUsPerByte, 1.0 / 12000);
  const CostFigures partial = parseCostFigures("# measured\ngccl-tune 1\nintra_alpha_us=7\n");
  EXPECT_DOUBLE_EQ(partial.intraHost.alphaUs, 7);
  EXPECT_DOUBLE_EQ(partial.interHost.alphaUs, CostFigures{}.interHost.alphaUs);
}

TEST(CostFigures, ScalesRoundTripAndSteerTheChoice) {
  const CostFigures figures =
      parseCostFigures("gccl-tune 1\nscale.allreduce.tree=0.5,0.25\nscale.broadcast.ring=2,3\n");
  ASSERT_EQ(figures.scales.size(), 2u);
  const Scale tree = figures.scales.at({K::kAllreduce, AlgorithmId::kTree});
  EXPECT_DOUBLE_EQ(tree.latency, 0.5);
  EXPECT_DOUBLE_EQ(tree.bandwidth, 0.25);
  EXPECT_EQ(parseCostFigures(formatCostFigures(figures)).scales.size(), 2u);
  // Unscaled, 64 MiB on 6 ranks is not the tree's; measured four times faster, it is.
  EXPECT_NE(automaticChoice(K::kAllreduce, layout(6), 64 << 20), AlgorithmId::kTree);
  EXPECT_EQ(automaticChoice(K::kAllreduce, layout(6), 64 << 20, figures), AlgorithmId::kTree);
}

TEST(CostFigures, BandwidthScalesPerSizeRoundTripAndInterpolateInLogSize) {
  const CostFigures figures = parseCostFigures(
      "gccl-tune 1\n"
      "scale.allreduce.tree@16777216=2\n"  // a size before its scale's line, out of order
      "scale.allreduce.tree=0.5,3\n"
      "scale.allreduce.tree@1048576=1\n");
  const Scale tree = figures.scales.at({K::kAllreduce, AlgorithmId::kTree});
  EXPECT_DOUBLE_EQ(tree.latency, 0.5);
  EXPECT_DOUBLE_EQ(tree.bandwidth, 3);
  ASSERT_EQ(tree.bandwidthAt.size(), 2u);
  EXPECT_EQ(tree.bandwidthAt[0].first, 1u << 20);
  EXPECT_EQ(tree.bandwidthAt[1].first, 16u << 20);
  // At the measured sizes their own; 4 MiB is half-way between 1 and 16 MiB in log(bytes);
  // beyond the ends the nearest.
  EXPECT_DOUBLE_EQ(tree.bandwidthFor(1 << 20), 1);
  EXPECT_DOUBLE_EQ(tree.bandwidthFor(16 << 20), 2);
  EXPECT_DOUBLE_EQ(tree.bandwidthFor(4 << 20), 1.5);
  EXPECT_DOUBLE_EQ(tree.bandwidthFor(8), 1);
  EXPECT_DOUBLE_EQ(tree.bandwidthFor(size_t{1} << 30), 2);
  const Scale single{1, 3, {}};  // no sizes: one factor everywhere
  EXPECT_DOUBLE_EQ(single.bandwidthFor(4 << 20), 3);

  const CostFigures back = parseCostFigures(formatCostFigures(figures));
  EXPECT_EQ(back.scales.at({K::kAllreduce, AlgorithmId::kTree}).bandwidthAt, tree.bandwidthAt);

  // The prediction takes the size's scale: 4 MiB's bandwidth part weighs 1.5, not 3.
  CostInputs inputs = costInputsOf(layout(4), 1 << 20, figures);
  inputs.bytes = 4 << 20;
  const CostParts parts = *predictParts(K::kAllreduce, AlgorithmId::kTree, inputs);
  EXPECT_DOUBLE_EQ(*predictMicros(K::kAllreduce, AlgorithmId::kTree, inputs),
                   0.5 * parts.latencyUs + 1.5 * parts.bandwidthUs);
}

TEST(CostFigures, ScalesPerSizeSteerTheChoicePerSize) {
  // The tree measured ten times faster than its closed form at 1 MiB and 20 times slower at
  // 64 MiB: auto takes it where it was fast and leaves it where it was slow.
  const CostFigures figures = parseCostFigures(
      "gccl-tune 1\n"
      "scale.allreduce.tree=1,0.1\n"
      "scale.allreduce.tree@1048576=0.1\n"
      "scale.allreduce.tree@67108864=20\n");
  EXPECT_EQ(automaticChoice(K::kAllreduce, layout(6), 1 << 20, figures), AlgorithmId::kTree);
  EXPECT_NE(automaticChoice(K::kAllreduce, layout(6), 64 << 20, figures), AlgorithmId::kTree);
}

TEST(CostFigures, MalformedFilesNameTheLine) {
  const auto message = [](const std::string& text) {
    try {
      parseCostFigures(text);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message("").find("empty"), std::string::npos);
  EXPECT_NE(message("gccl-tune 2\n").find("line 1"), std::string::npos);
  EXPECT_NE(message("gccl-tune 1\nintra_alpha_us=-1\n").find("line 2"), std::string::npos);
  EXPECT_NE(message("gccl-tune 1\nintra_alpha_us=1x\n").find("line 2"), std::string::npos);
  EXPECT_NE(message("gccl-tune 1\n\nwarp=3\n").find("unknown key 'warp'"), std::string::npos);
  EXPECT_NE(message("gccl-tune 1\ngamma_us_per_byte=nan\n").find("line 2"), std::string::npos);
  EXPECT_NE(message("gccl-tune 1\nscale.allreduce.tree=1\n").find("line 2"), std::string::npos);
  EXPECT_NE(message("gccl-tune 1\nscale.allreduce.tree=1,0\n").find("line 2"), std::string::npos);
  EXPECT_NE(message("gccl-tune 1\nscale.allreduce.warp=1,1\n").find("line 2"), std::string::npos);
  EXPECT_NE(message("gccl-tune 1\nscale.allreduce.tree@0=1\n").find("line 2"), std::string::npos);
  EXPECT_NE(message("gccl-tune 1\nscale.allreduce.tree@1M=1\n").find("line 2"), std::string::npos);
  EXPECT_NE(message("gccl-tune 1\nscale.allreduce.tree@64=-1\n").find("line 2"), std::string::npos);
  EXPECT_NE(message("gccl-tune 1\nscale.allreduce.tree@64=1,2\n").find("line 2"),
            std::string::npos);
  EXPECT_NE(message("gccl-tune 1\nscale.allreduce.tree@64=1\nscale.allreduce.tree@64=2\n")
                .find("line 3: a second scale at 64 bytes"),
            std::string::npos);
  EXPECT_NE(message("gccl-tune 1\nscale.allreduce.warp@64=1\n").find("unknown key"),
            std::string::npos);
}

TEST(CostModel, EveryAlgorithmHasAPredictionThatGrowsWithSize) {
  for (const Algorithm& algorithm : algorithms()) {
    for (int size : {2, 3, 8, 64}) {
      CostInputs costs = costInputsOf(layout(size, size % 2 == 0 ? 2 : 1), 1 << 20, {});
      double previous = -1;
      for (size_t bytes : {size_t{0}, size_t{4096}, size_t{1} << 20, size_t{64} << 20}) {
        costs.bytes = bytes;
        const auto micros = predictMicros(algorithm.collective, algorithm.id, costs);
        if (algorithm.id == AlgorithmId::kHierarchical && costs.hosts < 2) continue;
        // Bruck's alltoallv is unpriced: alltoallv's bytes differ per rank, and every rank
        // must choose alike (the pairwise exchange where it runs, Bruck's elsewhere).
        if (needsPairCounts(algorithm)) {
          EXPECT_FALSE(micros) << size << " ranks";
          continue;
        }
        // The direct and one-shot allreduces run on one machine; the pairwise all-to-all, under
        // the name "direct", on any hosts.
        const bool allToAll = algorithm.collective == CollectiveKind::kAllToAll ||
                              algorithm.collective == CollectiveKind::kAllToAllV;
        const bool oneMachineOnly = !allToAll && (algorithm.id == AlgorithmId::kDirect ||
                                                  algorithm.id == AlgorithmId::kOneShot);
        if (oneMachineOnly && costs.hosts > 1) {
          EXPECT_FALSE(micros) << size << " ranks";
          continue;
        }
        ASSERT_TRUE(micros) << algorithm.name << " of " << collectiveName(algorithm.collective);
        EXPECT_GT(*micros, previous) << algorithm.name << " " << size << " ranks " << bytes;
        previous = *micros;
      }
    }
  }
}

// The choice is the cheapest prediction among what can run.
TEST(CostModel, AutomaticChoiceIsTheCheapestPrediction) {
  for (int size : {2, 3, 4, 6, 8, 16, 64, 512}) {
    for (size_t bytes = 4; bytes <= (size_t{256} << 20); bytes *= 8) {
      const ScheduleShape shape = layout(size);
      CostInputs costs = costInputsOf(shape, 1 << 20, {});
      costs.bytes = bytes;
      const Algorithm& chosen = selectAlgorithm(K::kAllreduce, "auto", shape, costs);
      const double best = *predictMicros(K::kAllreduce, chosen.id, costs);
      for (const Algorithm& other : algorithms()) {
        if (other.collective != K::kAllreduce || !other.supports(shape)) continue;
        if (other.id == AlgorithmId::kRecursiveDoubling && bytes > (size_t{16} << 20)) continue;
        EXPECT_LE(best, *predictMicros(K::kAllreduce, other.id, costs))
            << chosen.name << " over " << other.name << " at " << size << " ranks, " << bytes;
      }
    }
  }
}

// At 2 ranks the direct allreduce and the ring move the same messages and tie: the direct one
// is taken, which over shared memory reduces from the peer's buffer where it lies and writes
// its result back.
TEST(CostModel, TwoRanksOfOneHostTakeTheDirectAllreduceForLargeBuffers) {
  for (size_t bytes = size_t{1} << 20; bytes <= (size_t{256} << 20); bytes *= 4) {
    CostInputs costs = costInputsOf(layout(2), 1 << 20, {});
    costs.bytes = bytes;
    EXPECT_EQ(*predictMicros(K::kAllreduce, AlgorithmId::kDirect, costs),
              *predictMicros(K::kAllreduce, AlgorithmId::kRing, costs))
        << "no tie to break at " << bytes;
    EXPECT_EQ(automaticChoice(K::kAllreduce, layout(2), bytes), AlgorithmId::kDirect) << bytes;
  }
}

TEST(CostModel, SmallSizesTakeLogDepthAndLargeOnesAvoidWholeBufferExchanges) {
  for (int size : {8, 12, 64, 256}) {
    EXPECT_NE(automaticChoice(K::kAllreduce, layout(size), 4096), AlgorithmId::kRing) << size;
    EXPECT_NE(automaticChoice(K::kAllreduce, layout(size), 64 << 20),
              AlgorithmId::kRecursiveDoubling)
        << size;
  }
  // Beyond the one-shot allreduce's reach (16 ranks of one machine), recursive doubling.
  EXPECT_EQ(automaticChoice(K::kAllreduce, layout(32), 8), AlgorithmId::kRecursiveDoubling);
}

// The one-shot allreduce, one round of whole-buffer messages, is the default figures' choice
// for small buffers among 3 to 15 ranks of one machine: at 4 ranks it saves half an alpha on
// recursive doubling (a + 2 a / 4 against 2 a) for 3 B sent against 2 B; at 16 its fifteen
// messages cost more than four rounds (4.5 a against 4 a). Larger buffers and jobs across
// hosts take others.
TEST(CostModel, SmallBuffersOfOneMachineTakeTheOneShotAllreduce) {
  EXPECT_EQ(automaticChoice(K::kAllreduce, layout(16), 8), AlgorithmId::kRecursiveDoubling);
  for (int size : {3, 4, 8}) {
    for (K collective : {K::kAllreduce, K::kBarrier}) {
      EXPECT_EQ(automaticChoice(collective, layout(size), 8), AlgorithmId::kOneShot) << size;
    }
    EXPECT_NE(automaticChoice(K::kAllreduce, layout(size), 1 << 20), AlgorithmId::kOneShot);
    if (size % 2 == 0) {
      EXPECT_NE(automaticChoice(K::kAllreduce, layout(size, 2), 8), AlgorithmId::kOneShot);
    }
  }
  EXPECT_NE(automaticChoice(K::kAllreduce, layout(32), 8), AlgorithmId::kOneShot);
  CostInputs costs = costInputsOf(layout(4), 1 << 20, {});
  costs.bytes = 0;
  const double alpha = costs.figures.intraHost.alphaUs;
  EXPECT_DOUBLE_EQ(*predictMicros(K::kAllreduce, AlgorithmId::kOneShot, costs), 1.5 * alpha);
  EXPECT_DOUBLE_EQ(*predictMicros(K::kAllreduce, AlgorithmId::kRecursiveDoubling, costs),
                   2 * alpha);
}

// Between hosts 10x slower than within: the hierarchy sends 1/m of the data over them.
TEST(CostModel, SlowLinksBetweenHostsChooseTheHierarchy) {
  CostFigures figures;
  figures.interHost = {50.0, 1.0 / 200};
  EXPECT_EQ(automaticChoice(K::kAllreduce, layout(16, 2), 64 << 20, figures),
            AlgorithmId::kHierarchical);
  EXPECT_NE(automaticChoice(K::kAllreduce, layout(16), 64 << 20, figures),
            AlgorithmId::kHierarchical);
}

// Recursive doubling and halving-doubling pay each exchange on the link it takes: partners at
// a distance below the hosts' block of consecutive ranks stay on the host; the others cross,
// all ranks of a host at once through one NIC.
TEST(CostModel, LogDepthExchangesPayTheLinkOfTheirDistance) {
  EXPECT_EQ(costInputsOf(layout(64, 8), 1 << 20, {}).sameHostDistance, 8);
  EXPECT_EQ(costInputsOf(layout(12), 1 << 20, {}).sameHostDistance, 16);
  ScheduleShape dealt = layout(8);
  dealt.hostOf = std::make_shared<std::vector<int>>(std::vector<int>{0, 1, 0, 1, 0, 1, 0, 1});
  EXPECT_EQ(costInputsOf(dealt, 1 << 20, {}).sameHostDistance, 1);

  CostFigures figures;
  figures.intraHost = {10.0, 1.0 / 5000};
  figures.interHost = {2.0, 1.0 / 12500};
  figures.gammaUsPerByte = 1.0 / 8000;
  CostInputs costs = costInputsOf(layout(64, 8), 1 << 20, figures);
  costs.bytes = 16384;
  const double B = 16384, g = B / 8000;
  // Distances 1, 2, 4 within the host; 8, 16, 32 across, eight ranks sharing the NIC.
  const double expected = 3 * (10.0 + B / 5000 + g) + 3 * (2.0 + 8 * B / 12500 + g);
  EXPECT_NEAR(*predictMicros(K::kAllreduce, AlgorithmId::kRecursiveDoubling, costs), expected,
              1e-9);
  // Dealt round-robin, every exchange crosses.
  CostInputs crossing = costInputsOf(dealt, 1 << 20, figures);
  crossing.bytes = 16384;
  EXPECT_NEAR(*predictMicros(K::kAllreduce, AlgorithmId::kRecursiveDoubling, crossing),
              3 * (2.0 + 4 * B / 12500 + g), 1e-9);
}

}  // namespace
}  // namespace gccl
