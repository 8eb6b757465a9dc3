// Sparse gradients (coarse-grained sparse communication with error feedback) with ranks as
// threads over the in-process transport: agreement on the chunks, conservation of the gradient
// mass (applied + residual = sum of gradients), exempt tensors, the dense warm-up, density 1
// against the dense allreduce, and momentum correction on an example worked out by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <random>
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

const std::vector<size_t> kModel = {1000, 3, 2500, 17};

GradientSyncOptions sparseOptions(SparsePayload payload, double density, size_t chunk = 64) {
  GradientSyncOptions options;
  options.thetaBytes = size_t{1} << 30;  // one bucket at pool offset 0: residual = pool floats
  options.average = false;               // sums: exact on integer data
  options.sparse.enabled = true;
  options.sparse.chunkElements = chunk;
  options.sparse.density = density;
  options.sparse.payload = payload;
  return options;
}

void registerModel(GradientSync& sync, const std::vector<size_t>& exempt = {}) {
  for (size_t i = 0; i < kModel.size(); ++i) {
    sync.registerTensor(strCat("t", i), kModel[i], DataType::kFloat32);
  }
  for (const size_t t : exempt) sync.setExempt(t);
  sync.finalize();
}

// Writes integer-valued gradients (times `unit`) into the pool tensors; returns the pool image.
std::vector<float> writeGradients(GradientSync& sync, int rank, int step, float unit) {
  std::mt19937 random(static_cast<unsigned>(rank * 1000 + step));
  std::uniform_int_distribution<int> value(-8, 8);
  for (size_t t = 0; t < kModel.size(); ++t) {
    auto* data = reinterpret_cast<float*>(sync.tensorData(t));
    for (size_t i = 0; i < kModel[t]; ++i) data[i] = static_cast<float>(value(random)) * unit;
  }
  const auto* pool = reinterpret_cast<const float*>(sync.pool());
  return std::vector<float>(pool, pool + sync.poolBytes() / sizeof(float));
}

// Registers one fp32 tensor of `count` elements and finalizes: a single bucket. Its view.
float* registerOneTensor(GradientSync& sync, size_t count) {
  sync.registerTensor("w", count, DataType::kFloat32);
  sync.finalize();
  return reinterpret_cast<float*>(sync.tensorData(0));
}

StepStats runStep(GradientSync& sync, Communicator& comm) {
  for (size_t t = kModel.size(); t-- > 0;) sync.markReady(comm, t);
  return sync.wait(&comm);
}

std::vector<float> poolImage(GradientSync& sync) {
  const auto* pool = reinterpret_cast<const float*>(sync.pool());
  return std::vector<float>(pool, pool + sync.poolBytes() / sizeof(float));
}

// Sum over ranks of the gradients, of the residuals, and (rank 0) the applied results. `unit`
// scales the integers; `tolerance` is relative to the summed magnitudes (0: exact).
void checkConservation(SparsePayload payload, float unit, float tolerance = 0.0f) {
  for (const int size : {1, 2, 3, 5, 8}) {
    SCOPED_TRACE(strCat(size, " ranks"));
    auto ranks = makeRanks(size);
    constexpr int kSteps = 6;
    std::vector<std::vector<float>> gradientSum(size), magnitude(size), applied(size),
        residual(size);
    std::vector<std::vector<size_t>> picked(size);
    onEveryRank(ranks, [&](int rank, Communicator& comm) {
      GradientSync sync(rank, size, WaitPolicy{}, sparseOptions(payload, 0.1));
      registerModel(sync);
      const size_t floats = sync.poolBytes() / sizeof(float);
      gradientSum[rank].assign(floats, 0.0f);
      magnitude[rank].assign(floats, 0.0f);
      applied[rank].assign(floats, 0.0f);
      for (int step = 0; step < kSteps; ++step) {
        const auto g = writeGradients(sync, rank, step, unit);
        for (size_t i = 0; i < floats; ++i) {
          gradientSum[rank][i] += g[i];
          magnitude[rank][i] += std::fabs(g[i]);
        }
        const StepStats stats = runStep(sync, comm);
        picked[rank].push_back(stats.sparseChunks);
        const auto result = poolImage(sync);
        for (size_t i = 0; i < floats; ++i) applied[rank][i] += result[i];
        // With an exact payload every rank's residual is 0 wherever something was applied:
        // the chunks it cleared are the chunks the allreduce carried.
        const auto v = sync.sparseResidual(0);
        for (size_t i = 0; i < floats && payload == SparsePayload::kFloat32; ++i) {
          if (result[i] != 0.0f) {
            ASSERT_EQ(v[i], 0.0f) << "rank " << rank << " element " << i;
          }
        }
      }
      residual[rank] = sync.sparseResidual(0);
    });
    for (int r = 1; r < size; ++r) {
      EXPECT_EQ(applied[r], applied[0]) << "rank " << r;
      EXPECT_EQ(picked[r], picked[0]) << "rank " << r;
    }
    // Conservation alone would hold if nothing were ever sent (all kept in the residual).
    EXPECT_GT(*std::max_element(picked[0].begin(), picked[0].end()), 0u);
    EXPECT_GT(std::count_if(applied[0].begin(), applied[0].end(), [](float v) { return v != 0; }),
              0);
    for (size_t i = 0; i < applied[0].size(); ++i) {
      float expected = 0.0f, kept = 0.0f, scale = 0.0f;
      for (int r = 0; r < size; ++r) {
        expected += gradientSum[r][i];
        kept += residual[r][i];
        scale += magnitude[r][i];
      }
      if (tolerance == 0.0f) {
        ASSERT_EQ(applied[0][i] + kept, expected) << "element " << i;
      } else {
        ASSERT_NEAR(applied[0][i] + kept, expected, tolerance * scale) << "element " << i;
      }
    }
  }
}

TEST(SparseThreads, ConservationExactWithFp32Payload) {
  checkConservation(SparsePayload::kFloat32, 1.0f);
}

// Quarter-integers up to a few hundred are exact in fp16: the packed values and the sums too.
TEST(SparseThreads, ConservationExactWithFp16PayloadOnRepresentableData) {
  checkConservation(SparsePayload::kFloat16, 0.25f);
}

// Values fp16 cannot hold: the packing error stays in the residual, and only the rounding of
// the sums on the wire (a few fp16 ulps of the summed magnitudes) is lost.
TEST(SparseThreads, ConservationWithinFp16RoundingOnArbitraryData) {
  checkConservation(SparsePayload::kFloat16, 1.0f / 7.0f, 1.0f / 256.0f);
}

TEST(SparseThreads, ExemptTensorsAreAlwaysSent) {
  const int size = 3;
  auto ranks = makeRanks(size);
  onEveryRank(ranks, [&](int rank, Communicator& comm) {
    GradientSync sync(rank, size, WaitPolicy{}, sparseOptions(SparsePayload::kFloat32, 1e-9));
    registerModel(sync, {1, 3});
    for (int step = 0; step < 4; ++step) {
      for (size_t t = 0; t < kModel.size(); ++t) {
        auto* data = reinterpret_cast<float*>(sync.tensorData(t));
        for (size_t i = 0; i < kModel[t]; ++i) data[i] = static_cast<float>(t + 1);
      }
      runStep(sync, comm);
      for (const size_t t : {size_t{1}, size_t{3}}) {
        const auto* data = reinterpret_cast<const float*>(sync.tensorData(t));
        for (size_t i = 0; i < kModel[t]; ++i) {
          ASSERT_EQ(data[i], static_cast<float>((t + 1) * size)) << "tensor " << t;
        }
      }
    }
  });
}

// A chunk larger than the bucket (SIZE_MAX: "one chunk per bucket") is the whole bucket: no
// allocation or count sized by the chunk instead of the bucket, an exempt tensor in it marks
// it, and it is sent whole, fp16 payload (exact on these small integers).
TEST(SparseThreads, AChunkLargerThanTheBucketIsTheWholeBucket) {
  const int size = 2;
  auto ranks = makeRanks(size);
  onEveryRank(ranks, [&](int rank, Communicator& comm) {
    GradientSyncOptions options =
        sparseOptions(SparsePayload::kFloat16, 0.5, std::numeric_limits<size_t>::max());
    GradientSync sync(rank, size, WaitPolicy{}, options);
    registerModel(sync, {3});
    for (size_t t = 0; t < kModel.size(); ++t) {
      auto* data = reinterpret_cast<float*>(sync.tensorData(t));
      for (size_t i = 0; i < kModel[t]; ++i) data[i] = static_cast<float>(t + 1);
    }
    const StepStats stats = runStep(sync, comm);
    EXPECT_EQ(stats.sparseChunks, 1u);
    EXPECT_EQ(stats.sparseChunksTotal, 1u);
    for (size_t t = 0; t < kModel.size(); ++t) {
      const auto* data = reinterpret_cast<const float*>(sync.tensorData(t));
      for (size_t i = 0; i < kModel[t]; ++i) {
        ASSERT_EQ(data[i], static_cast<float>((t + 1) * size)) << "tensor " << t;
      }
    }
  });
}

TEST(SparseThreads, WarmupIsDenseAndLeavesTheResidual) {
  const int size = 4;
  auto ranks = makeRanks(size);
  onEveryRank(ranks, [&](int rank, Communicator& comm) {
    GradientSyncOptions options = sparseOptions(SparsePayload::kFloat32, 0.05);
    options.sparse.warmupSteps = 2;
    GradientSync sync(rank, size, WaitPolicy{}, options);
    registerModel(sync);
    for (int step = 0; step < 3; ++step) {
      for (size_t t = 0; t < kModel.size(); ++t) {
        auto* data = reinterpret_cast<float*>(sync.tensorData(t));
        for (size_t i = 0; i < kModel[t]; ++i) data[i] = static_cast<float>(rank + 1);
      }
      const StepStats stats = runStep(sync, comm);
      const auto v = sync.sparseResidual(0);
      if (step < 2) {
        EXPECT_EQ(stats.sparseChunks, 0u);
        for (size_t t = 0; t < kModel.size(); ++t) {
          const auto* data = reinterpret_cast<const float*>(sync.tensorData(t));
          for (size_t i = 0; i < kModel[t]; ++i) ASSERT_EQ(data[i], 10.0f);  // 1+2+3+4
        }
        for (const float x : v) ASSERT_EQ(x, 0.0f);
      } else {
        EXPECT_GT(stats.sparseChunks, 0u);
        EXPECT_LT(stats.sparseChunks, stats.sparseChunksTotal);
      }
    }
  });
}

TEST(SparseThreads, DensityOneEqualsDenseAllreduceBitwise) {
  for (const int size : {1, 2, 3, 7}) {
    SCOPED_TRACE(strCat(size, " ranks"));
    auto ranks = makeRanks(size);
    onEveryRank(ranks, [&](int rank, Communicator& comm) {
      GradientSyncOptions sparseOpts = sparseOptions(SparsePayload::kFloat32, 1.0);
      sparseOpts.average = true;
      GradientSyncOptions denseOpts = sparseOpts;
      denseOpts.sparse.enabled = false;
      GradientSync sparse(rank, size, WaitPolicy{}, sparseOpts),
          dense(rank, size, WaitPolicy{}, denseOpts);
      registerModel(sparse);
      registerModel(dense);
      std::mt19937 random(static_cast<unsigned>(rank));
      std::uniform_real_distribution<float> value(-1.0f, 1.0f);
      for (int step = 0; step < 3; ++step) {
        for (size_t t = 0; t < kModel.size(); ++t) {
          auto* a = reinterpret_cast<float*>(sparse.tensorData(t));
          auto* b = reinterpret_cast<float*>(dense.tensorData(t));
          for (size_t i = 0; i < kModel[t]; ++i) a[i] = b[i] = value(random);
        }
        runStep(sparse, comm);
        runStep(dense, comm);
        ASSERT_EQ(0, std::memcmp(sparse.pool(), dense.pool(), dense.poolBytes()));
      }
    });
  }
}

// The chunks sent are exactly ceil(rho * K) of the K chunks of the non-exempt tensors, plus
// every chunk holding part of an exempt one; with every norm equal the ties go to the lower
// chunk indices, on every rank alike.
TEST(SparseThreads, ExactDensityAndTiesToTheLowerChunks) {
  constexpr size_t kChunk = 64;
  for (const int size : {2, 3}) {
    for (const double density : {0.01, 0.1, 0.25, 0.5}) {
      SCOPED_TRACE(strCat(size, " ranks, density ", density));
      auto ranks = makeRanks(size);
      onEveryRank(ranks, [&](int rank, Communicator& comm) {
        GradientSync sync(rank, size, WaitPolicy{},
                          sparseOptions(SparsePayload::kFloat32, density));
        float* data = registerOneTensor(sync, 50 * kChunk);
        std::fill(data, data + 50 * kChunk, 1.0f);  // every chunk's norm ties
        sync.markReady(comm, 0);
        const StepStats stats = sync.wait(&comm);
        const auto expected = static_cast<size_t>(std::ceil(density * 50));
        EXPECT_EQ(stats.sparseChunksTotal, 50u);
        EXPECT_EQ(stats.sparseChunks, expected);
        for (size_t i = 0; i < 50 * kChunk; ++i) {
          const float sent = i < expected * kChunk ? static_cast<float>(size) : 0.0f;
          ASSERT_EQ(data[i], sent) << "rank " << rank << " element " << i;
        }
      });
    }
  }
  // Exempt chunks come on top: tensor 1 (3 elements) and tensor 3 (17) share chunks with
  // others or sit alone; the count is ceil(rho * K) of all K chunks, plus the exempt ones (at
  // rho 0.5, not ceil(rho * non-exempt): 28 of K = 56, against 27 of the 54 non-exempt).
  auto ranks = makeRanks(2);
  onEveryRank(ranks, [&](int rank, Communicator& comm) {
    GradientSync sync(rank, 2, WaitPolicy{}, sparseOptions(SparsePayload::kFloat32, 0.5));
    registerModel(sync, {1, 3});
    const StepStats stats = runStep(sync, comm);
    std::vector<bool> exempt(stats.sparseChunksTotal, false);
    for (const size_t t : {size_t{1}, size_t{3}}) {
      const size_t first = static_cast<size_t>(reinterpret_cast<float*>(sync.tensorData(t)) -
                                               reinterpret_cast<float*>(sync.pool()));
      for (size_t c = first / 64; c <= (first + kModel[t] - 1) / 64; ++c) exempt[c] = true;
    }
    const auto exemptCount = static_cast<size_t>(std::count(exempt.begin(), exempt.end(), true));
    EXPECT_EQ(stats.sparseChunksTotal, 56u);
    EXPECT_EQ(exemptCount, 2u);
    EXPECT_EQ(stats.sparseChunks, 28u + exemptCount) << "rank " << rank;
  });
}

// Chunks are ranked by the sum of every rank's own norm, not by the norm of the summed
// gradient: here rank 0 has {3, 2} and rank 1 {-3, 2}. The summed norms {6, 4} send chunk 0,
// whose sum is 0; the norm of the sum {0, 4} would have sent chunk 1.
TEST(SparseThreads, PicksBySummedLocalNormsNotByTheNormOfTheSum) {
  auto ranks = makeRanks(2);
  onEveryRank(ranks, [&](int rank, Communicator& comm) {
    GradientSync sync(rank, 2, WaitPolicy{}, sparseOptions(SparsePayload::kFloat32, 0.5, 1));
    float* data = registerOneTensor(sync, 2);
    data[0] = rank == 0 ? 3.0f : -3.0f;
    data[1] = 2.0f;
    sync.markReady(comm, 0);
    sync.wait(&comm);
    EXPECT_EQ(std::vector<float>(data, data + 2), (std::vector<float>{0.0f, 0.0f}));
    EXPECT_EQ(sync.sparseResidual(0), (std::vector<float>{0.0f, 2.0f})) << "rank " << rank;
  });
}

// SGD over many steps with fp16 payloads of arbitrary values: every rank applies the same
// update, so the weights stay bit-identical.
TEST(SparseThreads, WeightsStayIdenticalOnEveryRankOverManySteps) {
  constexpr int kSize = 3;
  constexpr int kSteps = 40;
  auto ranks = makeRanks(kSize);
  std::vector<std::vector<float>> weights(kSize);
  onEveryRank(ranks, [&](int rank, Communicator& comm) {
    GradientSyncOptions options = sparseOptions(SparsePayload::kFloat16, 0.1);
    options.average = true;
    options.sparse.momentum = 0.9f;
    options.sparse.warmupSteps = 3;
    GradientSync sync(rank, kSize, WaitPolicy{}, options);
    registerModel(sync, {1});
    const size_t floats = sync.poolBytes() / sizeof(float);
    std::vector<float> w(floats, 0.5f);
    std::mt19937 random(static_cast<unsigned>(rank + 1));
    std::normal_distribution<float> noise(0.0f, 1.0f);
    auto* pool = reinterpret_cast<float*>(sync.pool());
    for (int step = 0; step < kSteps; ++step) {
      // A gradient that depends on the weights (pulling them to 0) plus per-rank noise.
      for (size_t t = 0; t < kModel.size(); ++t) {
        const auto offset =
            static_cast<size_t>(reinterpret_cast<float*>(sync.tensorData(t)) - pool);
        for (size_t i = 0; i < kModel[t]; ++i) {
          pool[offset + i] = w[offset + i] + 0.1f * noise(random);
        }
      }
      runStep(sync, comm);
      for (size_t i = 0; i < floats; ++i) w[i] -= 0.05f * pool[i];
    }
    weights[rank] = w;
  });
  for (int r = 1; r < kSize; ++r) {
    EXPECT_EQ(std::memcmp(weights[r].data(), weights[0].data(), weights[0].size() * 4), 0)
        << "rank " << r << " differs from rank 0";
  }
}

// What a sparse step puts on the wire, counted by the engine: with a ring allreduce every rank
// sends 2(n-1)/n of each buffer, so the ranks together send 2(n-1) * (4K + payload) bytes: K
// fp32 norms, then the picked chunks as fp16 (the last chunk of the pool may be short).
TEST(SparseThreads, WireBytesAreTheRingsShareOfNormsAndPayload) {
  constexpr size_t kChunk = 64;
  for (const int size : {2, 3, 5}) {
    SCOPED_TRACE(strCat(size, " ranks"));
    auto ranks = testing_support::makeThreadRanks(size, "ring");
    std::vector<uint64_t> sent(size);
    std::vector<size_t> expected(size);
    onEveryRank(ranks, [&](int rank, Communicator& comm) {
      GradientSync sync(rank, size, WaitPolicy{}, sparseOptions(SparsePayload::kFloat16, 0.1));
      registerModel(sync);
      const size_t floats = sync.poolBytes() / sizeof(float);
      writeGradients(sync, rank, 0, 1.0f);
      const uint64_t before = comm.payloadBytesSent();
      const StepStats stats = runStep(sync, comm);
      sent[rank] = comm.payloadBytesSent() - before;
      // The payload: the picked chunks' elements, read off the residual (an fp32 payload
      // would clear them; here the fp16 rounding of integers is exact, so they are 0).
      const auto v = sync.sparseResidual(0);
      const size_t chunks = (floats + kChunk - 1) / kChunk;
      size_t payloadElements = 0;
      for (size_t c = 0; c < chunks; ++c) {
        const size_t end = std::min(floats, (c + 1) * kChunk);
        bool cleared = true, nonzero = false;
        const auto* pool = reinterpret_cast<const float*>(sync.pool());
        for (size_t i = c * kChunk; i < end; ++i) {
          cleared &= v[i] == 0.0f;
          nonzero |= pool[i] != 0.0f;
        }
        if (cleared && nonzero) payloadElements += end - c * kChunk;
      }
      EXPECT_EQ(stats.sparseChunksTotal, chunks);
      expected[rank] = 4 * chunks + 2 * payloadElements;
      EXPECT_EQ(stats.wireBytes, expected[rank]) << "rank " << rank;
    });
    uint64_t total = 0;
    for (int r = 0; r < size; ++r) total += sent[r];
    EXPECT_EQ(total, 2u * static_cast<uint64_t>(size - 1) * expected[0]);
  }
}

// m = 0.5, chunk 1, density 0.5 (one of two chunks), both ranks g = {1, 2} every step:
//   step 0: U = {1, 2}      V = {1, 2}      norms {2, 4}   send chunk 1: {0, 4}   V = {1, 0}
//   step 1: U = {1.5, 2}    V = {2.5, 2}    norms {5, 4}   send chunk 0: {5, 0}   V = {0, 2}
//   step 2: U = {1, 3}      V = {1, 5}      norms {2, 10}  send chunk 1: {0, 10}  V = {1, 0}
TEST(SparseThreads, MomentumCorrectionByHand) {
  auto ranks = makeRanks(2);
  const std::vector<std::vector<float>> results = {{0, 4}, {5, 0}, {0, 10}};
  const std::vector<std::vector<float>> residuals = {{1, 0}, {0, 2}, {1, 0}};
  onEveryRank(ranks, [&](int rank, Communicator& comm) {
    GradientSyncOptions options = sparseOptions(SparsePayload::kFloat32, 0.5, 1);
    options.sparse.momentum = 0.5f;
    GradientSync sync(rank, 2, WaitPolicy{}, options);
    float* data = registerOneTensor(sync, 2);
    for (size_t step = 0; step < results.size(); ++step) {
      data[0] = 1;
      data[1] = 2;
      sync.markReady(comm, 0);
      sync.wait(&comm);
      EXPECT_EQ(std::vector<float>(data, data + 2), results[step]) << "step " << step;
      EXPECT_EQ(sync.sparseResidual(0), residuals[step]) << "step " << step;
    }
  });
}

// An overflow on one rank: three chunks hold inf, one chunk goes out a step. That step is
// flagged on every rank; the next, of finite gradients, is not: the inf left in the chunks not
// sent are dropped from the residual rather than sent, and flagged, one step after another.
TEST(SparseThreads, OneOverflowedStepFlagsThatStepOnly) {
  constexpr size_t kChunk = 4;
  constexpr size_t kChunks = 10;
  auto ranks = makeRanks(2);
  onEveryRank(ranks, [&](int rank, Communicator& comm) {
    GradientSyncOptions options = sparseOptions(SparsePayload::kFloat32, 0.1, kChunk);
    options.sparse.momentum = 0.5f;
    GradientSync sync(rank, 2, WaitPolicy{}, options);
    float* data = registerOneTensor(sync, kChunks * kChunk);
    for (int step = 0; step < 4; ++step) {
      std::fill(data, data + kChunks * kChunk, 1.0f);
      if (step == 0 && rank == 0) {
        for (const size_t c : {2, 5, 7}) {
          data[c * kChunk + 1] = std::numeric_limits<float>::infinity();
        }
      }
      sync.markReady(comm, 0);
      const StepStats stats = sync.wait(&comm);
      EXPECT_EQ(stats.nonFinite, step == 0) << "rank " << rank << " step " << step;
      EXPECT_EQ(stats.sparseChunks, 1u);
      const std::vector<float> residual = sync.sparseResidual(0);
      EXPECT_TRUE(
          std::all_of(residual.begin(), residual.end(), [](float x) { return std::isfinite(x); }))
          << "rank " << rank << " step " << step;
    }
  });
}

// A finite chunk whose L1 norm overflows ties with the chunk holding a real inf and, lower in
// index, is the one sent: its values reduce to finite ones, yet the step must be flagged, on
// every rank, for the inf that was not sent (and dropped from the residual).
TEST(SparseThreads, AnInfNotSentStillFlagsTheStep) {
  auto ranks = makeRanks(2);
  onEveryRank(ranks, [&](int rank, Communicator& comm) {
    GradientSync sync(rank, 2, WaitPolicy{}, sparseOptions(SparsePayload::kFloat32, 0.1, 2));
    float* data = registerOneTensor(sync, 20);
    std::fill(data, data + 20, 0.0f);
    if (rank == 0) {
      data[0] = data[1] = 3e38f;  // finite, but 6e38 is beyond fp32: an infinite norm
      data[2] = std::numeric_limits<float>::infinity();
    }
    sync.markReady(comm, 0);
    const StepStats stats = sync.wait(&comm);
    EXPECT_EQ(stats.sparseChunks, 1u);
    EXPECT_EQ(data[0], 3e38f) << "rank " << rank;  // chunk 0 was the one sent
    EXPECT_TRUE(stats.nonFinite) << "rank " << rank;
  });
}

}  // namespace
}  // namespace gccl
