// Sparse gradients (coarse-grained sparse communication with error feedback) with ranks as
// threads over the in-process transport: agreement on the chunks, conservation of the gradient
// mass (applied + residual = sum of gradients), exempt tensors, the dense warm-up, density 1
// against the dense allreduce, and momentum correction on an example worked out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
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

GradientSyncOptions sparseOptions(SparsePayload payload, double density) {
  GradientSyncOptions options;
  options.thetaBytes = size_t{1} << 30;  // one bucket at pool offset 0: residual = pool floats
  options.average = false;               // sums: exact on integer data
  options.sparse.enabled = true;
  options.sparse.chunkElements = 64;
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

StepStats runStep(GradientSync& sync, Communicator& comm) {
  for (size_t t = kModel.size(); t-- > 0;) sync.markReady(comm, t);
  return sync.wait();
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
      GradientSync sync(rank, size, 0, sparseOptions(payload, 0.1));
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
    GradientSync sync(rank, size, 0, sparseOptions(SparsePayload::kFloat32, 1e-9));
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

TEST(SparseThreads, WarmupIsDenseAndLeavesTheResidual) {
  const int size = 4;
  auto ranks = makeRanks(size);
  onEveryRank(ranks, [&](int rank, Communicator& comm) {
    GradientSyncOptions options = sparseOptions(SparsePayload::kFloat32, 0.05);
    options.sparse.warmupSteps = 2;
    GradientSync sync(rank, size, 0, options);
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
      GradientSync sparse(rank, size, 0, sparseOpts), dense(rank, size, 0, denseOpts);
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

// m = 0.5, chunk 1, density 0.5 (one of two chunks), both ranks g = {1, 2} every step:
//   step 0: U = {1, 2}      V = {1, 2}      norms {2, 4}   send chunk 1: {0, 4}   V = {1, 0}
//   step 1: U = {1.5, 2}    V = {2.5, 2}    norms {5, 4}   send chunk 0: {5, 0}   V = {0, 2}
//   step 2: U = {1, 3}      V = {1, 5}      norms {2, 10}  send chunk 1: {0, 10}  V = {1, 0}
TEST(SparseThreads, MomentumCorrectionByHand) {
  auto ranks = makeRanks(2);
  const std::vector<std::vector<float>> results = {{0, 4}, {5, 0}, {0, 10}};
  const std::vector<std::vector<float>> residuals = {{1, 0}, {0, 2}, {1, 0}};
  onEveryRank(ranks, [&](int rank, Communicator& comm) {
    GradientSyncOptions options = sparseOptions(SparsePayload::kFloat32, 0.5);
    options.sparse.chunkElements = 1;
    options.sparse.momentum = 0.5f;
    GradientSync sync(rank, 2, 0, options);
    sync.registerTensor("w", 2, DataType::kFloat32);
    sync.finalize();
    auto* data = reinterpret_cast<float*>(sync.tensorData(0));
    for (size_t step = 0; step < results.size(); ++step) {
      data[0] = 1;
      data[1] = 2;
      sync.markReady(comm, 0);
      sync.wait();
      EXPECT_EQ(std::vector<float>(data, data + 2), results[step]) << "step " << step;
      EXPECT_EQ(sync.sparseResidual(0), residuals[step]) << "step " << step;
    }
  });
}

}  // namespace
}  // namespace gccl
