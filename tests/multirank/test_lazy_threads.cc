// The lazy allreduce with ranks as threads over the in-process transport: every rank marks its
// gradients ready in its own random order, and every rank must end with the same, exact result
// (integer-valued data), or within the wire format's rounding and bit-identical across ranks.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <iterator>
#include <limits>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bootstrap/memory_store.h"
#include "core/communicator.h"
#include "lazy/gradient_sync.h"
#include "multirank/thread_ranks.h"

namespace gccl {
namespace {

std::vector<std::unique_ptr<Communicator>> makeRanks(int size) {
  return testing_support::makeThreadRanks(size);
}

using testing_support::onEveryRank;

// A small model: odd sizes, an empty tensor, one large enough for a pipelined allreduce.
const std::vector<size_t> kModel = {1, 7, 1000, 0, 3, 40000, 33, 256, 17, 5000};

size_t registerModel(GradientSync& sync) {
  for (size_t i = 0; i < kModel.size(); ++i) {
    sync.registerTensor(strCat("t", i), kModel[i], DataType::kFloat32);
  }
  sync.finalize();
  return kModel.size();
}

// Small integers: every sum is exact in fp32 (and in fp16 for the small ones).
float exactValue(int rank, size_t tensor, size_t i, int step) {
  return static_cast<float>(static_cast<int>((rank * 7 + tensor * 3 + i * 5 + step) % 23) - 11);
}

float* view(GradientSync& sync, size_t tensor) {
  return reinterpret_cast<float*>(sync.tensorData(tensor));
}

// The bytes of every bucket in `wireElementSize`-byte elements (padding between buckets is
// not sent).
size_t bucketBytes(const GradientSync& sync, size_t wireElementSize) {
  size_t bytes = 0;
  for (const Bucket& bucket : sync.buckets()) bytes += bucket.count * wireElementSize;
  return bytes;
}

std::vector<size_t> shuffled(size_t count, unsigned seed) {
  std::vector<size_t> order(count);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937 random(seed);
  std::shuffle(order.begin(), order.end(), random);
  return order;
}

struct ExactCase {
  int size;
  size_t theta;
  bool average;
};

class LazyExact : public testing::TestWithParam<ExactCase> {};

TEST_P(LazyExact, AnyArrivalOrderGivesTheExactResultOnEveryRank) {
  const ExactCase c = GetParam();
  auto ranks = makeRanks(c.size);
  GradientSyncOptions options;
  options.thetaBytes = c.theta;
  options.average = c.average;
  std::vector<size_t> bucketCounts(c.size);
  onEveryRank(ranks, [&](int rank, Communicator& comm) {
    GradientSync sync(rank, c.size, WaitPolicy{}, options);
    registerModel(sync);
    bucketCounts[rank] = sync.buckets().size();
    for (int step = 0; step < 3; ++step) {
      for (size_t t = 0; t < kModel.size(); ++t) {
        for (size_t i = 0; i < kModel[t]; ++i) view(sync, t)[i] = exactValue(rank, t, i, step);
      }
      const uint64_t collectivesBefore = comm.collectivesStarted();
      for (size_t t : shuffled(kModel.size(), rank * 1000 + step)) {
        sync.markReady(comm, t);
        if (t % 3 == 0) std::this_thread::yield();  // let buckets run while "backward" goes on
      }
      const StepStats stats = sync.wait(&comm);
      EXPECT_EQ(stats.buckets, sync.buckets().size());
      // Fused: one allreduce per bucket, not one per tensor.
      EXPECT_EQ(comm.collectivesStarted() - collectivesBefore, sync.buckets().size());
      EXPECT_FALSE(stats.nonFinite);
      EXPECT_EQ(stats.wireBytes, bucketBytes(sync, 4));
      size_t wrong = 0;
      for (size_t t = 0; t < kModel.size(); ++t) {
        for (size_t i = 0; i < kModel[t]; ++i) {
          float sum = 0;
          for (int r = 0; r < c.size; ++r) sum += exactValue(r, t, i, step);
          const float expected = c.average ? sum / static_cast<float>(c.size) : sum;
          wrong += view(sync, t)[i] != expected;
        }
      }
      EXPECT_EQ(wrong, 0u) << "rank " << rank << " step " << step;
    }
  });
  for (int r = 1; r < c.size; ++r) EXPECT_EQ(bucketCounts[r], bucketCounts[0]);
}

INSTANTIATE_TEST_SUITE_P(
    Plans, LazyExact,
    testing::Values(ExactCase{1, 0, true}, ExactCase{2, 0, true}, ExactCase{3, 4096, true},
                    ExactCase{4, 4096, false}, ExactCase{5, 1 << 20, true}, ExactCase{4, 64, true},
                    ExactCase{3, ~size_t{0}, false}, ExactCase{8, 16384, true}),
    [](const testing::TestParamInfo<ExactCase>& info) {
      const auto& c = info.param;
      return std::to_string(c.size) + "ranks_theta" +
             (c.theta == ~size_t{0} ? std::string("Huge") : std::to_string(c.theta)) +
             (c.average ? "_avg" : "_sum");
    });

// A backward that releases its gradients over time: the first bucket's allreduce completes,
// straight into the pool views, before backward has written the last gradient. Were buckets
// started only in wait(), or reduced in a staging buffer copied back there, neither could be
// seen before the last markReady.
TEST(LazyOverlap, FirstBucketIsReducedInPlaceBeforeBackwardEnds) {
  constexpr int kSize = 3;
  constexpr size_t kTensors = 6;
  constexpr size_t kCount = 4096;  // 16 KiB: one bucket per tensor at theta 16 KiB
  auto ranks = makeRanks(kSize);
  GradientSyncOptions options;
  options.thetaBytes = kCount * sizeof(float);
  options.average = false;
  onEveryRank(ranks, [&](int rank, Communicator& comm) {
    GradientSync sync(rank, kSize, WaitPolicy{}, options);
    for (size_t t = 0; t < kTensors; ++t) sync.registerTensor("", kCount, DataType::kFloat32);
    sync.finalize();
    ASSERT_EQ(sync.buckets().size(), kTensors);
    for (size_t t = 0; t < kTensors; ++t) {
      for (size_t i = 0; i < kCount; ++i) view(sync, t)[i] = exactValue(rank, t, i, 0);
    }
    for (size_t t = 0; t + 1 < kTensors; ++t) {
      sync.markReady(comm, t);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // the rest of backward
    }
    // Every rank has released the first bucket; its allreduce runs on the engine's threads.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (sync.bucketsCompleted() == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_GE(sync.bucketsCompleted(), 1u) << "rank " << rank;
    size_t wrong = 0;
    for (size_t i = 0; i < kCount; ++i) {
      float sum = 0;
      for (int r = 0; r < kSize; ++r) sum += exactValue(r, 0, i, 0);
      wrong += view(sync, 0)[i] != sum;
    }
    EXPECT_EQ(wrong, 0u) << "rank " << rank << ": first bucket not reduced in the pool";
    sync.markReady(comm, kTensors - 1);
    const StepStats stats = sync.wait(&comm);
    EXPECT_EQ(stats.buckets, kTensors);
    EXPECT_EQ(sync.bucketsCompleted(), 0u);  // a new step
  });
}

// Real-valued data in [-4, 4): the result is within the wire format's rounding of the exact
// average (each input rounded once when encoded, each hop once) and bit-identical on every rank.
void checkHalfWire(WireFormat wire, int size, bool preDivide) {
  auto ranks = makeRanks(size);
  GradientSyncOptions options;
  options.thetaBytes = 8192;
  options.wire = wire;
  options.preDivide = preDivide;
  const double epsilon = wire == WireFormat::kFloat16 ? std::ldexp(1.0, -11) : std::ldexp(1.0, -8);
  // inputs[rank][tensor][i], drawn before the ranks start.
  std::vector<std::vector<std::vector<float>>> inputs(size);
  std::mt19937 random(static_cast<unsigned>(size * 10 + static_cast<int>(wire)));
  std::uniform_real_distribution<float> uniform(-4.0f, 4.0f);
  for (auto& tensors : inputs) {
    for (size_t count : kModel) {
      tensors.emplace_back(count);
      for (float& v : tensors.back()) v = uniform(random);
    }
  }
  auto value = [&](int rank, size_t t, size_t i) { return inputs[rank][t][i]; };
  std::vector<std::vector<float>> results(size);
  onEveryRank(ranks, [&](int rank, Communicator& comm) {
    GradientSync sync(rank, size, WaitPolicy{}, options);
    registerModel(sync);
    for (size_t t = 0; t < kModel.size(); ++t) {
      for (size_t i = 0; i < kModel[t]; ++i) view(sync, t)[i] = value(rank, t, i);
    }
    for (size_t t : shuffled(kModel.size(), rank + 17)) sync.markReady(comm, t);
    const StepStats stats = sync.wait(&comm);
    EXPECT_EQ(stats.wireBytes, bucketBytes(sync, 2));
    EXPECT_FALSE(stats.nonFinite);
    size_t wrong = 0;
    for (size_t t = 0; t < kModel.size(); ++t) {
      for (size_t i = 0; i < kModel[t]; ++i) {
        double exact = 0, magnitude = 0;
        for (int r = 0; r < size; ++r) {
          exact += value(r, t, i);
          magnitude += std::fabs(value(r, t, i));
        }
        const double bound = (size + 2) * epsilon * magnitude / size + 1e-6;
        const float got = view(sync, t)[i];
        if (std::fabs(got - exact / size) > bound) {
          if (wrong++ < 5)
            ADD_FAILURE() << "tensor " << t << "[" << i << "] = " << got << ", exact "
                          << exact / size << " on rank " << rank;
        }
      }
    }
    EXPECT_EQ(wrong, 0u);
    const float* pool = reinterpret_cast<const float*>(sync.pool());
    results[rank].assign(pool, pool + sync.poolBytes() / sizeof(float));
  });
  for (int r = 1; r < size; ++r) {
    EXPECT_EQ(std::memcmp(results[r].data(), results[0].data(), results[0].size() * 4), 0)
        << "rank " << r << " differs from rank 0";
  }
}

TEST(LazyHalfWire, Float16WithinRoundingAndIdenticalOnEveryRank) {
  for (int size : {2, 3, 4}) checkHalfWire(WireFormat::kFloat16, size, false);
}

TEST(LazyHalfWire, Bfloat16WithinRoundingAndIdenticalOnEveryRank) {
  for (int size : {2, 3, 5}) checkHalfWire(WireFormat::kBfloat16, size, false);
}

TEST(LazyHalfWire, PreDividedWithinRounding) {
  checkHalfWire(WireFormat::kFloat16, 4, true);
  checkHalfWire(WireFormat::kBfloat16, 3, true);
}

// Runs one step of one tensor of `count` floats per rank; returns the agreed flags and every
// rank's result.
struct FlagRun {
  std::vector<int> nonFinite;
  std::vector<std::vector<float>> results;  // by rank
};

FlagRun runOneTensor(int size, const GradientSyncOptions& options,
                     const std::function<float(int, size_t)>& value, size_t count) {
  auto ranks = makeRanks(size);
  FlagRun run{std::vector<int>(size), std::vector<std::vector<float>>(size)};
  onEveryRank(ranks, [&](int rank, Communicator& comm) {
    GradientSync sync(rank, size, WaitPolicy{}, options);
    sync.registerTensor("g", count, DataType::kFloat32);
    sync.registerTensor("h", 5, DataType::kFloat32);
    sync.finalize();
    for (size_t i = 0; i < count; ++i) view(sync, 0)[i] = value(rank, i);
    sync.markReady(comm, 1);
    sync.markReady(comm, 0);
    run.nonFinite[rank] = sync.wait(&comm).nonFinite;
    run.results[rank].assign(view(sync, 0), view(sync, 0) + count);
  });
  return run;
}

TEST(LazyHalfWire, PreDivisionKeepsLossScaledSumsInRange) {
  // 4 ranks x 40000: the sum (160000) overflows fp16 (65504); divided first, it does not.
  GradientSyncOptions options;
  options.wire = WireFormat::kFloat16;
  auto large = [](int, size_t) { return 40000.0f; };
  FlagRun overflow = runOneTensor(4, options, large, 100);
  EXPECT_EQ(overflow.nonFinite, (std::vector<int>{1, 1, 1, 1}));
  options.preDivide = true;
  FlagRun divided = runOneTensor(4, options, large, 100);
  EXPECT_EQ(divided.nonFinite, (std::vector<int>{0, 0, 0, 0}));
  for (const std::vector<float>& result : divided.results) {
    // 10000 and 40000 are exact in fp16
    EXPECT_EQ(result, std::vector<float>(100, 40000.0f));
  }
}

// Pre-division is for floating-point buckets (their sums stay in range); an integer bucket
// is averaged after the sum, since each term divided first would lose its remainder:
// (1 + 2 + 3) / 3 = 2, where 1/3 + 2/3 + 3/3 would give 1.
TEST(LazyPreDivide, IntegerBucketsAreAveragedAfterTheSum) {
  constexpr int kSize = 3;
  auto ranks = makeRanks(kSize);
  std::vector<std::vector<int32_t>> integers(kSize);
  std::vector<std::vector<float>> floats(kSize);
  onEveryRank(ranks, [&](int rank, Communicator& comm) {
    GradientSyncOptions options;
    options.thetaBytes = 0;
    options.preDivide = true;
    GradientSync sync(rank, kSize, WaitPolicy{}, options);
    sync.registerTensor("steps", 5, DataType::kInt32);
    sync.registerTensor("w", 5, DataType::kFloat32);
    sync.finalize();
    auto* steps = reinterpret_cast<int32_t*>(sync.tensorData(0));
    std::fill(steps, steps + 5, rank + 1);
    std::fill(view(sync, 1), view(sync, 1) + 5, static_cast<float>(3 * (rank + 1)));
    sync.markReady(comm, 0);
    sync.markReady(comm, 1);
    sync.wait(&comm);
    integers[rank].assign(steps, steps + 5);
    floats[rank].assign(view(sync, 1), view(sync, 1) + 5);
  });
  for (int rank = 0; rank < kSize; ++rank) {
    EXPECT_EQ(integers[rank], std::vector<int32_t>(5, 2)) << "rank " << rank;
    EXPECT_EQ(floats[rank], std::vector<float>(5, 6.0f)) << "rank " << rank;  // 1 + 2 + 3
  }
}

TEST(LazyNonFinite, EveryRankAgreesWhenOneRankHasAnInf) {
  const float inf = std::numeric_limits<float>::infinity();
  for (WireFormat wire : {WireFormat::kNone, WireFormat::kFloat16, WireFormat::kBfloat16}) {
    GradientSyncOptions options;
    options.wire = wire;
    options.thetaBytes = 0;
    auto oneInf = [&](int rank, size_t i) { return rank == 2 && i == 77 ? inf : 1.0f; };
    EXPECT_EQ(runOneTensor(3, options, oneInf, 300).nonFinite, (std::vector<int>{1, 1, 1}));
    auto finite = [](int rank, size_t) { return static_cast<float>(rank); };
    FlagRun clean = runOneTensor(3, options, finite, 300);
    EXPECT_EQ(clean.nonFinite, (std::vector<int>{0, 0, 0}));
    for (const std::vector<float>& result : clean.results) {
      EXPECT_EQ(result, std::vector<float>(300, 1.0f));  // (0 + 1 + 2) / 3
    }
  }
}

// From 1 MiB of dense fp32 results a step, each rank looks at a part of them and one more
// collective combines the ranks' flags: averages are looked at by the engine as it divides
// them (on the rank that finishes each element); pre-divided sums, which nothing divides
// after the allreduce, are scanned in shares, one per rank. A NaN at either end of any rank's
// share, whichever rank sends it, is seen by every rank, over several steps of one gradient
// sync (the steps must not mix up their flags). Smaller steps are scanned whole by every rank
// (EveryRankAgreesWhenOneRankHasAnInf) with one collective per bucket (LazyExact).
class LazyLargeSteps : public ::testing::TestWithParam<bool> {};  // pre-divided?

TEST_P(LazyLargeSteps, EveryRankSeesANonFiniteValueOfAnyRank) {
  constexpr int kSize = 3;
  constexpr size_t kCount = 300001;  // 1.2 MB: shares of 100000, 100000 and 100001 elements
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const size_t positions[] = {0, 99999, 100000, 199999, 200000, 300000};
  auto ranks = makeRanks(kSize);
  std::vector<std::vector<int>> flags(kSize);
  std::vector<std::vector<uint64_t>> collectives(kSize);
  onEveryRank(ranks, [&](int rank, Communicator& comm) {
    GradientSyncOptions options;
    options.preDivide = GetParam();
    GradientSync sync(rank, kSize, WaitPolicy{}, options);
    sync.registerTensor("g", kCount, DataType::kFloat32);
    sync.finalize();
    ASSERT_EQ(sync.buckets().size(), 1u);
    ASSERT_EQ(sync.buckets()[0].count, kCount);
    for (size_t step = 0; step < 2 * std::size(positions); ++step) {
      // Even steps: a NaN from rank (step / 2) % kSize at positions[step / 2]; odd: finite.
      std::fill(view(sync, 0), view(sync, 0) + kCount, 1.0f);
      const size_t at = positions[step / 2];
      if (step % 2 == 0 && rank == static_cast<int>(step / 2) % kSize) view(sync, 0)[at] = nan;
      const uint64_t before = comm.collectivesStarted();
      sync.markReady(comm, 0);
      flags[rank].push_back(sync.wait(&comm).nonFinite ? 1 : 0);
      collectives[rank].push_back(comm.collectivesStarted() - before);
    }
  });
  std::vector<int> expected;
  for (size_t step = 0; step < 2 * std::size(positions); ++step) expected.push_back(step % 2 == 0);
  for (int r = 0; r < kSize; ++r) {
    EXPECT_EQ(flags[r], expected) << "rank " << r;
    // The bucket's allreduce and the flags'.
    EXPECT_EQ(collectives[r], std::vector<uint64_t>(expected.size(), 2)) << "rank " << r;
  }
}

INSTANTIATE_TEST_SUITE_P(LazyNonFinite, LazyLargeSteps, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "PreDividedScannedByShares"
                                             : "AveragedFoundAsDivided";
                         });

// finalize() refuses a bucket larger than one collective moves (the C API passes the
// communicator's bound) before it allocates anything, so it can be retried; the bound counts
// the bytes on the wire (fp16: two per element) and a bucket of exactly that size fits.
TEST(LazyPlan, ABucketTooLargeForOneCollectiveIsRefusedAtFinalize) {
  GradientSync sync(0, 2, WaitPolicy{}, GradientSyncOptions{});
  sync.registerTensor("w", 300, DataType::kFloat32);  // 1200 bytes
  try {
    sync.finalize(1199);
    ADD_FAILURE() << "a 1200-byte bucket passed a 1199-byte bound";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("bucket 0 (tensors 0 to 0)"), std::string::npos)
        << e.what();
  }
  EXPECT_NO_THROW(sync.finalize(1200));
  GradientSyncOptions half;
  half.wire = WireFormat::kFloat16;
  GradientSync halves(0, 2, WaitPolicy{}, half);
  halves.registerTensor("w", 300, DataType::kFloat32);
  EXPECT_NO_THROW(halves.finalize(600));
}

// One step of gradient syncs that may differ between the ranks: `shapeOf(rank)` gives each
// rank's tensors (in registration order) and options. Returns each rank's wait() error
// (kSuccess and "" when the step went through).
struct SyncShape {
  std::vector<size_t> counts;  // fp32 tensors
  GradientSyncOptions options;
};

std::vector<std::pair<Status, std::string>> oneStep(int size,
                                                    const std::function<SyncShape(int)>& shapeOf) {
  auto ranks = makeRanks(size);
  std::vector<std::pair<Status, std::string>> outcome(size, {Status::kSuccess, ""});
  onEveryRank(ranks, [&](int rank, Communicator& comm) {
    const SyncShape shape = shapeOf(rank);
    GradientSync sync(rank, size, WaitPolicy{}, shape.options);
    std::vector<std::vector<float>> own;  // the framework's buffers, in copy mode
    for (size_t t = 0; t < shape.counts.size(); ++t) {
      sync.registerTensor(std::to_string(t), shape.counts[t], DataType::kFloat32);
      own.emplace_back(shape.counts[t], 1.0f);
    }
    sync.finalize();
    try {
      for (size_t t = 0; t < shape.counts.size(); ++t) {
        sync.markReady(comm, t, shape.options.copyMode ? own[t].data() : nullptr);
      }
      sync.wait(&comm);
    } catch (const Error& e) {
      outcome[rank] = {e.status(), e.what()};
    }
  });
  return outcome;
}

// Every bucket's collective carries a hash of what the ranks' gradient syncs must share
// (sync_agreement.h), so ranks that differ fail at their first bucket, on every rank, with an
// error that says what must agree. Two tensors registered in the other order on one rank fill
// a bucket of the same size (48 + 16 floats, 64-byte aligned either way): without the hash the
// allreduce would run and mix the tensors up. Copy mode on one rank alone would have that rank
// combine the ranks' flags in a collective the others never start.
TEST(LazyAgreement, RanksWhoseSyncsDifferFailAtTheFirstBucket) {
  const auto swapped = oneStep(2, [](int rank) {
    return SyncShape{rank == 0 ? std::vector<size_t>{48, 16} : std::vector<size_t>{16, 48}, {}};
  });
  const auto copyModeOnOne = oneStep(2, [](int rank) {
    SyncShape shape{{48, 16}, {}};
    shape.options.copyMode = rank == 1;
    return shape;
  });
  for (const auto* outcome : {&swapped, &copyModeOnOne}) {
    for (int rank = 0; rank < 2; ++rank) {
      EXPECT_EQ((*outcome)[rank].first, Status::kInvalidUsage) << "rank " << rank;
      EXPECT_NE((*outcome)[rank].second.find("the same tensors, in the same order"),
                std::string::npos)
          << (*outcome)[rank].second;
    }
  }
  // The same shape on every rank goes through.
  const auto same = oneStep(2, [](int) { return SyncShape{{48, 16}, {}}; });
  EXPECT_EQ(same[0].first, Status::kSuccess) << same[0].second;
  EXPECT_EQ(same[1].first, Status::kSuccess) << same[1].second;
}

// Where the ranks combine their flags, they also agree on failure: a copy out that fails on
// one rank fails the step on every rank (the others' results are good, but applying a step
// the failing rank drops would set the replicas apart), and the next step runs everywhere.
TEST(LazyNonFinite, AStepThatFailsOnOneRankFailsOnEvery) {
  constexpr int kSize = 3;
  constexpr size_t kCount = 300001;  // 1.2 MB: scanned by shares
  auto ranks = makeRanks(kSize);
  std::vector<Status> failed(kSize, Status::kSuccess);
  std::vector<std::string> messages(kSize);
  std::vector<size_t> wrongAfter(kSize);
  onEveryRank(ranks, [&](int rank, Communicator& comm) {
    bool refuse = rank == 1;
    GradientSyncOptions options;
    options.copyMode = true;
    options.copyOut = [&refuse](void* to, const void* from, size_t bytes) -> CopyWait {
      if (refuse) fail(Status::kSystemError, "the device refused the copy");
      std::memcpy(to, from, bytes);
      return {};
    };
    GradientSync sync(rank, kSize, WaitPolicy{}, options);
    sync.registerTensor("g", kCount, DataType::kFloat32);
    sync.finalize();
    std::vector<float> gradient(kCount, 1.0f);
    sync.markReady(comm, 0, gradient.data());
    try {
      sync.wait(&comm);
    } catch (const Error& e) {
      failed[rank] = e.status();
      messages[rank] = e.what();
    }
    refuse = false;
    std::fill(gradient.begin(), gradient.end(), static_cast<float>(rank));
    sync.markReady(comm, 0, gradient.data());
    EXPECT_FALSE(sync.wait(&comm).nonFinite);
    wrongAfter[rank] = static_cast<size_t>(
        std::count_if(gradient.begin(), gradient.end(), [](float v) { return v != 1.0f; }));
  });
  EXPECT_EQ(failed, (std::vector<Status>{Status::kRemoteError, Status::kSystemError,
                                         Status::kRemoteError}));
  EXPECT_NE(messages[1].find("refused the copy"), std::string::npos) << messages[1];
  for (int r : {0, 2}) {
    EXPECT_NE(messages[r].find("failed on another rank"), std::string::npos) << messages[r];
  }
  // Every element of the next step on every rank: (0 + 1 + 2) / 3.
  EXPECT_EQ(wrongAfter, std::vector<size_t>(kSize, 0));
}

TEST(LazyCopyMode, CopiesInAtMarkReadyAndOutAtWait) {
  const int size = 3;
  auto ranks = makeRanks(size);
  GradientSyncOptions options;
  options.copyMode = true;
  options.thetaBytes = 4096;
  options.average = false;
  onEveryRank(ranks, [&](int rank, Communicator& comm) {
    GradientSync sync(rank, size, WaitPolicy{}, options);
    registerModel(sync);
    std::vector<std::vector<float>> mine(kModel.size());
    for (int step = 0; step < 2; ++step) {
      for (size_t t = 0; t < kModel.size(); ++t) {
        mine[t].resize(kModel[t] + 1);
        for (size_t i = 0; i < kModel[t]; ++i) mine[t][i] = exactValue(rank, t, i, step);
        mine[t][kModel[t]] = -99.0f;  // beyond the tensor: never written
      }
      for (size_t t : shuffled(kModel.size(), rank * 31 + step)) {
        sync.markReady(comm, t, mine[t].data());
      }
      sync.wait(&comm);
      for (size_t t = 0; t < kModel.size(); ++t) {
        for (size_t i = 0; i < kModel[t]; ++i) {
          float sum = 0;
          for (int r = 0; r < size; ++r) sum += exactValue(r, t, i, step);
          ASSERT_EQ(mine[t][i], sum) << "rank " << rank << " tensor " << t << "[" << i << "]";
        }
        EXPECT_EQ(mine[t][kModel[t]], -99.0f);
      }
    }
  });
}

TEST(LazyMixedTypes, HalfTensorsTravelAsTheyAreBesideCompressedOnes) {
  const int size = 2;
  auto ranks = makeRanks(size);
  GradientSyncOptions options;
  options.wire = WireFormat::kBfloat16;
  options.average = false;
  onEveryRank(ranks, [&](int rank, Communicator& comm) {
    GradientSync sync(rank, size, WaitPolicy{}, options);
    sync.registerTensor("a", 10, DataType::kFloat32);
    sync.registerTensor("b", 10, DataType::kFloat16);
    sync.registerTensor("c", 10, DataType::kFloat64);
    sync.finalize();
    ASSERT_EQ(sync.buckets().size(), 3u);
    auto* a = reinterpret_cast<float*>(sync.tensorData(0));
    auto* b = reinterpret_cast<uint16_t*>(sync.tensorData(1));
    auto* c = reinterpret_cast<double*>(sync.tensorData(2));
    for (int i = 0; i < 10; ++i) {
      a[i] = static_cast<float>(i + rank);
      b[i] = 0x3c00;  // 1.0
      c[i] = 0.1 * (rank + 1);
    }
    sync.markReady(comm, 2);
    sync.markReady(comm, 0);
    sync.markReady(comm, 1);
    const StepStats stats = sync.wait(&comm);
    EXPECT_EQ(stats.wireBytes, 10u * 2 + 10u * 2 + 10u * 8);
    for (int i = 0; i < 10; ++i) {
      EXPECT_EQ(a[i], static_cast<float>(2 * i + 1));
      EXPECT_EQ(b[i], 0x4000);  // 2.0
      EXPECT_EQ(c[i], 0.1 + 0.2);
    }
  });
}

TEST(LazyErrors, WrongOrderAndUnknownTensorsAreRefusedWithoutHarm) {
  auto ranks = makeRanks(1);
  Communicator& comm = *ranks[0];
  GradientSync sync(0, 1, WaitPolicy{}, {});
  sync.registerTensor("w", 4, DataType::kFloat32);
  sync.registerTensor("b", 2, DataType::kFloat32);
  auto expectStatus = [](Status status, const std::function<void()>& call, const char* word) {
    try {
      call();
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), status) << e.what();
      EXPECT_NE(std::string(e.what()).find(word), std::string::npos) << e.what();
    }
  };
  expectStatus(
      Status::kInvalidUsage, [&] { sync.markReady(comm, 0); }, "before finalize");
  expectStatus(
      Status::kInvalidArgument, [&] { sync.registerTensor("w", 1, DataType::kFloat32); },
      "already registered as tensor 0");
  sync.finalize();
  expectStatus(
      Status::kInvalidUsage, [&] { sync.registerTensor("x", 1, DataType::kFloat32); },
      "after finalize");
  expectStatus(
      Status::kInvalidUsage, [&] { sync.finalize(); }, "twice");
  expectStatus(
      Status::kInvalidArgument, [&] { sync.markReady(comm, 2); }, "unknown");
  view(sync, 0)[0] = 5;
  sync.markReady(comm, 0);
  expectStatus(
      Status::kInvalidUsage, [&] { sync.markReady(comm, 0); }, "'w') marked ready twice");
  expectStatus(
      Status::kInvalidUsage, [&] { sync.wait(&comm); }, "before tensor 1 ('b')");
  sync.markReady(comm, 1);
  EXPECT_EQ(sync.wait(&comm).buckets, 1u);
  EXPECT_EQ(view(sync, 0)[0], 5.0f);
  // reset abandons a step; the next one starts clean.
  sync.markReady(comm, 1);
  sync.reset();
  sync.markReady(comm, 0);
  sync.markReady(comm, 1);
  EXPECT_NO_THROW(sync.wait(&comm));
}

}  // namespace
}  // namespace gccl
