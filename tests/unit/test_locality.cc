// The machine census behind GCCL_SPIN_US=auto.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "core/config.h"
#include "core/locality.h"
#include "core/store.h"

namespace gccl {
namespace {

TEST(Locality, EveryRankOfOneMachineCountsAll) {
  constexpr int kSize = 5;
  MemoryStore store;
  std::vector<int> counts(kSize, -1);
  std::vector<std::thread> ranks;
  for (int rank = 0; rank < kSize; ++rank) {
    ranks.emplace_back([&, rank] {
      counts[rank] = ranksOnThisMachine(store, rank, kSize, Deadline::afterMs(10000));
    });
  }
  for (auto& rank : ranks) rank.join();
  for (int rank = 0; rank < kSize; ++rank) EXPECT_EQ(counts[rank], kSize) << "rank " << rank;
}

TEST(Locality, RanksOnOtherMachinesAreNotCounted) {
  // Ranks 1 and 3 pose as another machine by publishing its id before the census reads it.
  MemoryStore store;
  store.set("locality/machine/1", "elsewhere");
  store.set("locality/machine/3", "elsewhere");
  std::vector<int> counts(4, -1);
  std::vector<std::thread> ranks;
  for (int rank : {0, 2}) {
    ranks.emplace_back([&, rank] {
      counts[rank] = ranksOnThisMachine(store, rank, 4, Deadline::afterMs(10000));
    });
  }
  for (auto& rank : ranks) rank.join();
  EXPECT_EQ(counts[0], 2);
  EXPECT_EQ(counts[2], 2);
  EXPECT_EQ(store.get("locality/count/1", Deadline::afterMs(0)), "2");
}

TEST(Locality, MachineIdIsStableAndNonEmpty) {
  EXPECT_FALSE(machineId().empty());
  EXPECT_EQ(machineId(), machineId());
  EXPECT_GE(usableCpus(), 1);
}

TEST(Locality, SpinOnlyWhileEveryRankHasACore) {
  EXPECT_EQ(autoSpinUs(2, 2), kDefaultSpinUs);
  EXPECT_EQ(autoSpinUs(1, 64), kDefaultSpinUs);
  EXPECT_EQ(autoSpinUs(3, 2), 0);
  EXPECT_EQ(autoSpinUs(16, 8), 0);
}

}  // namespace
}  // namespace gccl
