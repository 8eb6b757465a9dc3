// What init learns about a job beyond addresses, over the real TCP bootstrap (ranks as threads
// of this process): rank 0's cost figures decide every rank's algorithm, GCCL_HOST_ID fakes a
// two-host layout that the hierarchical algorithm runs on, and a tune file rank 0 cannot use
// leaves every rank with the defaults.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "core/init.h"

namespace gccl {
namespace {

constexpr int kRanks = 4;

Config baseConfig() {
  Config config;
  config.socketAddr = "127.0.0.1";
  config.timeoutMs = 20000;
  config.debug = "NONE";
  return config;
}

// Initialises kRanks ranks, rank r with configOf(r); a rank whose init threw has a null
// communicator and its message in errors[r].
struct Job {
  std::vector<std::unique_ptr<Communicator>> ranks{kRanks};
  std::vector<std::string> errors{kRanks};

  explicit Job(const std::function<Config(int rank)>& configOf) {
    const UniqueId id = createUniqueId(baseConfig());
    std::vector<std::thread> threads;
    for (int r = 0; r < kRanks; ++r) {
      threads.emplace_back([&, r] {
        try {
          ranks[r] = createCommunicator(r, kRanks, id, configOf(r));
        } catch (const Error& e) {
          errors[r] = e.what();
        }
      });
    }
    for (auto& thread : threads) thread.join();
  }

  // Every rank's init error: the first to fail is often not the one that names the cause.
  std::string failures() const {
    std::string text;
    for (int r = 0; r < kRanks; ++r) {
      if (!errors[r].empty()) text += "\n  rank " + std::to_string(r) + ": " + errors[r];
    }
    return text;
  }

  // One float32 sum allreduce of `count` elements on every rank; true when every rank has the
  // exact sum (rank r contributes r + 1 + i % 7 at element i).
  bool allreduceIsExact(size_t count) {
    std::vector<std::vector<float>> data(kRanks);
    std::vector<std::shared_ptr<Request>> requests;
    for (int r = 0; r < kRanks; ++r) {
      for (size_t i = 0; i < count; ++i) data[r].push_back(static_cast<float>(r + 1 + i % 7));
      requests.push_back(ranks[r]->allreduce(data[r].data(), data[r].data(), count,
                                             DataType::kFloat32, ReduceOp::kSum));
    }
    bool exact = true;
    for (int r = 0; r < kRanks; ++r) {
      requests[r]->wait();
      EXPECT_EQ(requests[r]->status(), Status::kSuccess) << requests[r]->message();
      for (size_t i = 0; i < count; ++i) {
        const float expected = static_cast<float>(kRanks * (kRanks + 1) / 2 + kRanks * (i % 7));
        if (data[r][i] != expected) exact = false;
      }
    }
    return exact;
  }
};

std::string writeTuneFile(const std::string& name, const std::string& body) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << "gccl-tune 1\n" << body;
  return path;
}

// Rank 0's file says the tree is 20x faster than its closed form; every other rank's says the
// ring is. Had each rank used its own, they would run different schedules and never finish.
TEST(JobLayout, EveryRankChoosesWithRankZerosFigures) {
  const std::string treeFast = writeTuneFile("tree_fast", "scale.allreduce.tree=0.05,0.05\n");
  const std::string ringFast = writeTuneFile("ring_fast", "scale.allreduce.ring=0.05,0.05\n");
  Job job([&](int rank) {
    Config config = baseConfig();
    config.tuneFile = rank == 0 ? treeFast : ringFast;
    return config;
  });
  for (int r = 0; r < kRanks; ++r) {
    ASSERT_NE(job.ranks[r], nullptr) << job.failures();
    for (size_t bytes : {size_t{8}, size_t{1} << 20, size_t{64} << 20}) {
      EXPECT_EQ(job.ranks[r]->algorithmFor(CollectiveKind::kAllreduce, bytes).name, "tree")
          << "rank " << r << ", " << bytes << " bytes";
    }
  }
  EXPECT_TRUE(job.allreduceIsExact(100000));
}

// GCCL_HOST_ID dealt over two fake hosts: the census reports two hosts of two ranks, and the
// hierarchical allreduce (forced, and chosen when the links between hosts are slow) is exact.
TEST(JobLayout, HostIdsFakeTwoHostsForTheHierarchy) {
  const std::string slowBetween =
      writeTuneFile("slow_between", "inter_alpha_us=500\ninter_beta_us_per_byte=0.1\n");
  for (const char* algorithm : {"hierarchical", "auto"}) {
    Job job([&](int rank) {
      Config config = baseConfig();
      config.hostId = rank % 2 == 0 ? "even" : "odd";
      config.algorithm = algorithm;
      config.tuneFile = slowBetween;
      return config;
    });
    for (int r = 0; r < kRanks; ++r) {
      ASSERT_NE(job.ranks[r], nullptr) << job.failures();
      EXPECT_EQ(job.ranks[r]->algorithmFor(CollectiveKind::kAllreduce, 4 << 20).name,
                "hierarchical")
          << algorithm << ", rank " << r;
    }
    for (size_t count : {size_t{1}, size_t{1000}, size_t{1} << 20}) {
      EXPECT_TRUE(job.allreduceIsExact(count)) << algorithm << ", " << count << " elements";
    }
  }
}

// A tune file only steers speed: one that rank 0 cannot use is refused with a warning and
// every rank takes the defaults, whatever its own file says.
TEST(JobLayout, UnusableTuneFileOfRankZeroMeansDefaultsEverywhere) {
  const std::string treeFast = writeTuneFile("tree_fast", "scale.allreduce.tree=0.05,0.05\n");
  const std::string broken = writeTuneFile("broken", "intra_alpha_us=-3\n");
  Job defaults([](int) { return baseConfig(); });
  for (const std::string& rankZeroFile : {std::string("/nonexistent/gccl.tune"), broken}) {
    Job job([&](int rank) {
      Config config = baseConfig();
      config.tuneFile = rank == 0 ? rankZeroFile : treeFast;
      return config;
    });
    for (int r = 0; r < kRanks; ++r) {
      ASSERT_NE(job.ranks[r], nullptr) << job.failures();
      for (size_t bytes : {size_t{8}, size_t{64} << 20}) {
        EXPECT_EQ(job.ranks[r]->algorithmFor(CollectiveKind::kAllreduce, bytes).name,
                  defaults.ranks[0]->algorithmFor(CollectiveKind::kAllreduce, bytes).name)
            << rankZeroFile << ", rank " << r;
      }
    }
    EXPECT_TRUE(job.allreduceIsExact(1000));
  }
}

}  // namespace
}  // namespace gccl
