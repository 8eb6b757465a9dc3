// The staging pipeline of a device-buffer allreduce (src/cuda/staged_allreduce.h), with ranks as
// threads and HostCopyEngine standing in for each rank's GPU: exact results, copies completing
// late and out of order, a failing copy, bounded staging memory, and copies overlapping.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cuda/host_copy_engine.h"
#include "cuda/staged_allreduce.h"
#include "thread_ranks.h"
#include "verifiable.h"

namespace gccl {
namespace {

using testing_support::makeThreadRanks;
using testing_support::onEveryRank;
using Ranks = std::vector<std::unique_ptr<Communicator>>;
using Clock = std::chrono::steady_clock;

// Tiny slices, so that a few hundred elements make many of them.
constexpr StagingOptions kSmall{.sliceBytes = 64, .slots = 3};

Config testConfig(int timeoutMs) {
  Config config;
  config.timeoutMs = timeoutMs;
  return config;
}

// One rank's "GPU": its engine and pipeline, and device buffers filled with its exact input.
struct Gpu {
  HostCopyEngine engine;
  StagedAllreduce staged;
  Gpu(Communicator& comm, const HostCopyFaults& faults, const StagingOptions& options)
      : engine(faults), staged(comm, engine, options) {}
};

size_t bytesOf(size_t count, gcclDataType_t type) {
  return count * dataTypeSize(static_cast<DataType>(type));
}

std::string label(int size, size_t count, gcclDataType_t type, gcclRedOp_t op, bool inPlace) {
  return strCat("ranks ", size, " count ", count, " type ", static_cast<int>(type), " op ",
                static_cast<int>(op), inPlace ? " in place" : " out of place");
}

// Runs one staged allreduce on every rank and checks every output exactly.
void checkAllreduce(Ranks& ranks, std::vector<std::unique_ptr<Gpu>>& gpus, size_t count,
                    gcclDataType_t type, gcclRedOp_t op, bool inPlace) {
  const int size = static_cast<int>(ranks.size());
  onEveryRank(ranks, [&](int rank, Communicator&) {
    Gpu& gpu = *gpus[rank];
    // At least one byte: memcpy and memcmp take no null pointer, even for 0 bytes.
    std::vector<std::byte> host(std::max<size_t>(1, bytesOf(count, type)));
    perf::fillInput(host.data(), count, type, op, rank, size);
    std::byte* input = gpu.engine.allocateDevice(host.size());
    std::byte* output = inPlace ? input : gpu.engine.allocateDevice(host.size());
    std::memcpy(input, host.data(), host.size());
    gpu.staged.run(input, output, count, static_cast<DataType>(type), static_cast<ReduceOp>(op));
    EXPECT_EQ(perf::countWrong(output, count, type, op, size), 0u)
        << label(size, count, type, op, inPlace) << " rank " << rank;
    if (!inPlace) {
      EXPECT_EQ(std::memcmp(input, host.data(), host.size()), 0) << "input changed";
      gpu.engine.freeDevice(output);
    }
    gpu.engine.freeDevice(input);
  });
}

std::vector<std::unique_ptr<Gpu>> makeGpus(Ranks& ranks, const StagingOptions& options,
                                           HostCopyFaults faults = {}) {
  std::vector<std::unique_ptr<Gpu>> gpus;
  for (auto& comm : ranks) {
    if (faults.shuffleSeed != 0) faults.shuffleSeed += 1;  // a different order on every rank
    gpus.push_back(std::make_unique<Gpu>(*comm, faults, options));
  }
  return gpus;
}

TEST(StagedAllreduce, PlanIsTheSameForEveryRankAndCoversTheBuffer) {
  const StagingPlan plan = planStaging(1000, DataType::kInt32, kSmall);
  EXPECT_EQ(plan.sliceElements, 16u);
  EXPECT_EQ(plan.slices, 63u);
  EXPECT_EQ(planStaging(0, DataType::kFloat32, kSmall).slices, 0u);
  EXPECT_EQ(planStaging(1, DataType::kFloat16, kSmall).slices, 1u);

  Config config;
  config.gpuStagingBytes = 1000;
  config.gpuSliceBytes = 256;
  EXPECT_EQ(stagingOptionsFrom(config).slots, 3u);  // whole slices only
  config.gpuStagingBytes = 100;                     // less than a slice: one smaller slot
  EXPECT_EQ(stagingOptionsFrom(config).sliceBytes, 100u);
  EXPECT_EQ(stagingOptionsFrom(config).slots, 1u);
}

TEST(StagedAllreduce, ExactResults) {
  for (int size : {1, 2, 3, 4}) {
    Ranks ranks = makeThreadRanks(size, testConfig(20000));
    auto gpus = makeGpus(ranks, kSmall);
    for (size_t count : {size_t{0}, size_t{1}, size_t{37}, size_t{1000}}) {
      for (gcclDataType_t type : {gcclFloat32, gcclInt32, gcclFloat16}) {
        for (gcclRedOp_t op : {gcclSum, gcclAvg}) {
          for (bool inPlace : {true, false}) checkAllreduce(ranks, gpus, count, type, op, inPlace);
        }
      }
    }
    for (auto& gpu : gpus) {
      // Allocated once, reused by every call: never more than slots x slice.
      EXPECT_EQ(gpu->engine.stagingHighWater(), kSmall.slots * kSmall.sliceBytes);
    }
  }
}

TEST(StagedAllreduce, CopiesLateAndOutOfOrder) {
  HostCopyFaults faults;
  faults.jitter = std::chrono::microseconds(300);
  faults.shuffleSeed = 7;
  for (int size : {2, 3}) {
    Ranks ranks = makeThreadRanks(size, testConfig(20000));
    auto gpus = makeGpus(ranks, kSmall, faults);
    for (gcclDataType_t type : {gcclInt32, gcclFloat16}) {
      checkAllreduce(ranks, gpus, 301, type, gcclSum, true);
      checkAllreduce(ranks, gpus, 301, type, gcclAvg, false);
    }
    for (auto& gpu : gpus) {
      EXPECT_EQ(gpu->engine.stagingHighWater(), kSmall.slots * kSmall.sliceBytes);
      EXPECT_GT(gpu->engine.completedOutOfOrder(), 0u);  // the hooks did their job
    }
  }
}

TEST(StagedAllreduce, RejectsHostMemory) {
  Ranks ranks = makeThreadRanks(1, testConfig(20000));
  HostCopyEngine engine;
  StagedAllreduce staged(*ranks[0], engine, kSmall);
  std::vector<float> host(10);
  try {
    staged.run(host.data(), host.data(), host.size(), DataType::kFloat32, ReduceOp::kSum);
    FAIL() << "host memory accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::kInvalidArgument);
  }
  // A count that runs past the end of its device allocation is refused too, before any copy.
  std::byte* device = engine.allocateDevice(10 * sizeof(float));
  try {
    staged.run(device, device, 11, DataType::kFloat32, ReduceOp::kSum);
    FAIL() << "a buffer past its device allocation accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::kInvalidArgument);
  }
  EXPECT_EQ(engine.copiesQueued(), 0u);
  engine.freeDevice(device);
}

// The copies of `failingSlice` fail on `failingRank`: it reports that slice, and the others
// fail too (the failing rank aborts its communicator) within a bounded time.
void checkFailure(int size, int failingRank, size_t failingSlice) {
  constexpr int kTimeoutMs = 3000;
  constexpr size_t kCount = 1000;
  const StagingPlan plan = planStaging(kCount, DataType::kInt32, kSmall);
  ASSERT_LT(failingSlice, plan.slices);
  Ranks ranks = makeThreadRanks(size, testConfig(kTimeoutMs));
  std::vector<std::string> errors(size);
  std::vector<double> seconds(size);
  onEveryRank(ranks, [&](int rank, Communicator& comm) {
    HostCopyEngine engine;
    auto* buffer = reinterpret_cast<int32_t*>(engine.allocateDevice(kCount * sizeof(int32_t)));
    if (rank == failingRank) {
      HostCopyFaults faults;
      faults.delay = std::chrono::microseconds(200);
      faults.failAddress = buffer + failingSlice * plan.sliceElements + 1;
      engine.setFaults(faults);
    }
    const auto start = Clock::now();
    try {
      StagedAllreduce staged(comm, engine, kSmall);
      staged.run(buffer, buffer, kCount, DataType::kInt32, ReduceOp::kSum);
    } catch (const Error& e) {
      errors[rank] = e.what();
    }
    seconds[rank] = std::chrono::duration<double>(Clock::now() - start).count();
    EXPECT_EQ(engine.copiesUnsettled(), 0u) << "rank " << rank << " threw before draining";
    EXPECT_EQ(engine.stagingHighWater(), kSmall.slots * kSmall.sliceBytes);
  });
  for (int rank = 0; rank < size; ++rank) {
    // Peers fail in the allreduce of the same slice, with the failing rank's abort notice.
    EXPECT_NE(errors[rank].find(strCat("staged allreduce on rank ", rank, ": slice ")),
              std::string::npos)
        << "rank " << rank << ": " << errors[rank];
    // Bounded: at worst a peer waits out its timeout once.
    EXPECT_LT(seconds[rank], kTimeoutMs / 1000.0 + 5) << "rank " << rank;
  }
  const std::string& failed = errors[failingRank];
  EXPECT_NE(
      failed.find(strCat("on rank ", failingRank, ": slice ", failingSlice, " of ", plan.slices)),
      std::string::npos)
      << failed;
  EXPECT_NE(failed.find("device->host"), std::string::npos) << failed;
}

TEST(StagedAllreduce, FailingCopyNamesTheSliceAndFailsThePeers) {
  checkFailure(2, 1, 0);
  checkFailure(3, 1, 7);
  checkFailure(4, 3, 62);  // the last slice
}

TEST(StagedAllreduce, FailingNthCopy) {
  Ranks ranks = makeThreadRanks(2, testConfig(3000));
  std::vector<std::string> errors(2);
  onEveryRank(ranks, [&](int rank, Communicator& comm) {
    HostCopyFaults faults;
    if (rank == 0) faults.failCopy = 5;
    HostCopyEngine engine(faults);
    std::byte* buffer = engine.allocateDevice(1000 * sizeof(float));
    try {
      StagedAllreduce staged(comm, engine, kSmall);
      staged.run(buffer, buffer, 1000, DataType::kFloat32, ReduceOp::kAvg);
    } catch (const Error& e) {
      errors[rank] = e.what();
    }
    EXPECT_EQ(engine.copiesUnsettled(), 0u) << "rank " << rank << " threw before draining";
  });
  EXPECT_NE(errors[0].find("on rank 0: slice "), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("copy 5 ("), std::string::npos) << errors[0];
  EXPECT_FALSE(errors[1].empty());
}

// With a copy latency D and S slices, copying one slice at a time would take S x 2D; with 4
// slots the copies of 4 slices are in flight together. D is large so that a loaded machine's
// scheduling noise stays small beside it.
TEST(StagedAllreduce, CopiesOverlap) {
  constexpr auto kDelay = std::chrono::milliseconds(20);
  constexpr size_t kSlices = 8;
  constexpr StagingOptions kOptions{.sliceBytes = 1024, .slots = 4};
  const size_t count = kSlices * kOptions.sliceBytes / sizeof(float);
  Ranks ranks = makeThreadRanks(2, testConfig(20000));
  HostCopyFaults faults;
  faults.delay = kDelay;
  auto gpus = makeGpus(ranks, kOptions, faults);
  std::vector<double> seconds(2);
  onEveryRank(ranks, [&](int rank, Communicator&) {
    Gpu& gpu = *gpus[rank];
    std::vector<float> host(count);
    perf::fillInput(host.data(), count, gcclFloat32, gcclSum, rank, 2);
    std::byte* buffer = gpu.engine.allocateDevice(count * sizeof(float));
    std::memcpy(buffer, host.data(), count * sizeof(float));
    const auto start = Clock::now();
    gpu.staged.run(buffer, buffer, count, DataType::kFloat32, ReduceOp::kSum);
    seconds[rank] = std::chrono::duration<double>(Clock::now() - start).count();
    EXPECT_EQ(perf::countWrong(buffer, count, gcclFloat32, gcclSum, 2), 0u);
    EXPECT_EQ(gpu.engine.copiesQueued(), 2 * kSlices);
  });
  const double serial = kSlices * 2 * std::chrono::duration<double>(kDelay).count();
  for (int rank = 0; rank < 2; ++rank) {
    EXPECT_GE(seconds[rank], 2 * std::chrono::duration<double>(kDelay).count() * 0.9);
    EXPECT_LT(seconds[rank], 0.75 * serial) << "rank " << rank << ": " << seconds[rank] << " s";
    std::cout << "rank " << rank << ": " << kSlices << " slices in " << seconds[rank]
              << " s (one at a time: " << serial << " s)\n";
  }
}

}  // namespace
}  // namespace gccl
