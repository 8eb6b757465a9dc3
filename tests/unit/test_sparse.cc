// The pure pieces of sparse gradients (src/sparse): chunk norms, top-k with deterministic ties,
// pack/unpack and the residual update, each checked against values worked out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "sparse/chunk_select.h"
#include "sparse/error_feedback.h"

namespace gccl {
namespace {

TEST(SparseChunks, CountCoversTheShortLastChunk) {
  EXPECT_EQ(chunkCount(0, 4), 0u);
  EXPECT_EQ(chunkCount(4, 4), 1u);
  EXPECT_EQ(chunkCount(5, 4), 2u);
  EXPECT_EQ(chunkCount(9, 4), 3u);
}

TEST(SparseChunks, NormsAreL1PerChunk) {
  const std::vector<float> v = {1, -2, 3, -4, 0.5f, -0.5f, 7};
  std::vector<float> norms(chunkCount(v.size(), 3));
  chunkNorms(v.data(), v.size(), 3, norms.data());
  EXPECT_EQ(norms, (std::vector<float>{6, 5, 7}));
}

// Eight running sums, element i into sum i % 8, combined pairwise: a fixed order, spelled out.
TEST(SparseChunks, L1NormSumsInEightLanesThenPairwise) {
  std::vector<float> v(21);
  for (size_t i = 0; i < v.size(); ++i) v[i] = (i % 2 == 0 ? 1.0f : -1.0f) * (0.1f + i * 1e-3f);
  float lane[8] = {};
  for (size_t i = 0; i < v.size(); ++i) lane[i % 8] += std::fabs(v[i]);
  const float expected =
      ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
  EXPECT_EQ(l1Norm(v.data(), v.size()), expected);
  EXPECT_EQ(l1Norm(v.data(), 0), 0.0f);
}

// The fused pass gives exactly what accumulating and then taking the norms gives.
TEST(SparseResidual, FusedAccumulateAndNormsEqualsTheTwoPasses) {
  std::mt19937 random(7);
  std::uniform_real_distribution<float> value(-3.0f, 3.0f);
  for (const float momentum : {0.0f, 0.9f}) {
    const size_t count = 1000, chunk = 64;
    std::vector<float> g(count), v1(count), u1(count), v2, u2;
    for (auto* x : {&g, &v1, &u1}) {
      for (float& e : *x) e = value(random);
    }
    v2 = v1;
    u2 = u1;
    std::vector<float> norms1(chunkCount(count, chunk)), norms2(norms1.size());
    accumulateResidual(v1.data(), u1.data(), g.data(), count, momentum);
    chunkNorms(v1.data(), count, chunk, norms1.data());
    accumulateResidualAndNorms(v2.data(), u2.data(), g.data(), count, momentum, chunk,
                               norms2.data());
    EXPECT_EQ(v1, v2);
    EXPECT_EQ(u1, u2);
    EXPECT_EQ(norms1, norms2);
  }
}

TEST(SparseChunks, TopCountIsCeilClamped) {
  EXPECT_EQ(topCount(100, 0.01), 1u);
  EXPECT_EQ(topCount(101, 0.01), 2u);
  EXPECT_EQ(topCount(7, 1.0), 7u);
  EXPECT_EQ(topCount(0, 0.5), 0u);
  EXPECT_EQ(topCount(3, 1e-9), 1u);
  // rho * K a hair above an integer in double: ceil of the product meant, not of its rounding.
  EXPECT_EQ(topCount(100, 0.07), 7u);
  EXPECT_EQ(topCount(100, 0.14), 14u);
  EXPECT_EQ(topCount(100, 0.55), 55u);
  EXPECT_EQ(topCount(100, 0.57), 57u);
}

TEST(SparseChunks, SelectsLargestWithTiesToLowerIndex) {
  const std::vector<float> norms = {1, 5, 3, 5, 0, 3};
  // k = ceil(0.34 * 6) = 3: the two 5s, then the 3 at index 2 before the 3 at index 5.
  EXPECT_EQ(selectChunks(norms, 0.34, {}), (std::vector<size_t>{1, 2, 3}));
}

TEST(SparseChunks, TiesBreakToLowerIndex) {
  const std::vector<float> norms = {2, 2, 2, 2};
  EXPECT_EQ(selectChunks(norms, 0.5, {}), (std::vector<size_t>{0, 1}));
  const std::vector<float> some = {1, 3, 3, 3, 9};
  EXPECT_EQ(selectChunks(some, 0.3, {}), (std::vector<size_t>{1, 4}));  // k = ceil(1.5)
}

TEST(SparseChunks, ExemptChunksAreAddedOnTop) {
  const std::vector<float> norms = {0, 9, 1, 8};
  // k = ceil(0.25 * 4) = 1 among the non-exempt {0, 2, 3}: chunk 3; plus exempt 0 and 1.
  EXPECT_EQ(selectChunks(norms, 0.25, {true, true, false, false}), (std::vector<size_t>{0, 1, 3}));
}

TEST(SparseChunks, NanNormIsPicked) {
  const std::vector<float> norms = {5, std::numeric_limits<float>::quiet_NaN(), 9};
  EXPECT_EQ(selectChunks(norms, 0.3, {}), (std::vector<size_t>{1}));
}

TEST(SparseResidual, AccumulateWithoutMomentum) {
  std::vector<float> v = {1, 2}, g = {3, -5};
  accumulateResidual(v.data(), nullptr, g.data(), 2, 0.0f);
  EXPECT_EQ(v, (std::vector<float>{4, -3}));
}

TEST(SparseResidual, MomentumCorrectionByHand) {
  // m = 0.5: U = 0.5 U + g, V += U.  U0 = 0, V0 = 0.
  // step 1, g = 2: U = 2,           V = 2
  // step 2, g = 4: U = 1 + 4 = 5,   V = 7
  std::vector<float> v = {0}, u = {0};
  const float g1 = 2, g2 = 4;
  accumulateResidual(v.data(), u.data(), &g1, 1, 0.5f);
  EXPECT_EQ(u[0], 2.0f);
  EXPECT_EQ(v[0], 2.0f);
  accumulateResidual(v.data(), u.data(), &g2, 1, 0.5f);
  EXPECT_EQ(u[0], 5.0f);
  EXPECT_EQ(v[0], 7.0f);
}

TEST(SparseResidual, PackFp32ClearsSentChunksExactly) {
  std::vector<float> v = {1, 2, 3, 4, 5, 6, 7}, u = {9, 9, 9, 9, 9, 9, 9};
  std::vector<float> wire(7, -1);
  const size_t packed =
      packChunks(SparsePayload::kFloat32, wire.data(), v.data(), u.data(), v.size(), 3, {0, 2});
  EXPECT_EQ(packed, 4u);
  EXPECT_EQ(std::vector<float>(wire.begin(), wire.begin() + 4), (std::vector<float>{1, 2, 3, 7}));
  EXPECT_EQ(v, (std::vector<float>{0, 0, 0, 4, 5, 6, 0}));
  EXPECT_EQ(u, (std::vector<float>{0, 0, 0, 9, 9, 9, 0}));

  std::vector<float> grad(7, 42);
  bool nonFinite = false;
  unpackChunks(SparsePayload::kFloat32, grad.data(), wire.data(), grad.size(), 3, {0, 2},
               &nonFinite);
  EXPECT_EQ(grad, (std::vector<float>{1, 2, 3, 0, 0, 0, 7}));
  EXPECT_FALSE(nonFinite);
}

TEST(SparseResidual, PackFp16KeepsTheRoundingError) {
  // 1 + 2^-12 is not an fp16 value (11-bit significand): it rounds to 1 (ties to even), and
  // 2^-12 stays in the residual. 2049 rounds to 2048 (ties to even), leaving 1.
  const float tiny = std::ldexp(1.0f, -12);
  std::vector<float> v = {1.0f + tiny, 2049.0f, 3.0f};
  std::vector<uint16_t> wire(3);
  EXPECT_EQ(packChunks(SparsePayload::kFloat16, wire.data(), v.data(), nullptr, 3, 2, {0}), 2u);
  EXPECT_EQ(v, (std::vector<float>{tiny, 1.0f, 3.0f}));
  std::vector<float> grad(3, 5);
  unpackChunks(SparsePayload::kFloat16, grad.data(), wire.data(), 3, 2, {0}, nullptr);
  EXPECT_EQ(grad, (std::vector<float>{1.0f, 2048.0f, 0.0f}));
}

// inf and NaN left in chunks that were not sent are dropped from V and U; finite values, picked
// chunks and chunks whose summed norm is finite (a NaN elsewhere cannot hide there) are kept.
TEST(SparseResidual, NonFiniteValuesOfChunksNotSentAreDropped) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> v = {kInf, 1, 2, kNan, kInf, -kInf, 3, 4, 5};
  std::vector<float> u = {kNan, 1, 2, 3, kInf, 5, 6, kInf, 8};
  const std::vector<float> norms = {kInf, kNan, kInf, 9, 5};  // chunks of 2, the last short
  EXPECT_TRUE(dropNonFiniteUnsent(v.data(), u.data(), v.size(), 2, norms, {2}));
  EXPECT_EQ(v[0], 0.0f);
  EXPECT_EQ(v[1], 1.0f);
  EXPECT_EQ(v[2], 2.0f);
  EXPECT_EQ(v[3], 0.0f);
  EXPECT_TRUE(std::isinf(v[4]));  // chunk 2 was sent
  EXPECT_TRUE(std::isinf(v[5]));
  EXPECT_EQ(u[0], 0.0f);
  EXPECT_EQ(u[3], 3.0f);
  EXPECT_TRUE(std::isinf(u[4]));
  EXPECT_TRUE(std::isinf(u[7]));  // chunk 3's summed norm is finite: not scanned
  EXPECT_EQ(v[8], 5.0f);
  // Only chunks not sent count: with 0, 1 and 2 sent nothing non-finite is left unsent.
  EXPECT_FALSE(dropNonFiniteUnsent(v.data(), u.data(), v.size(), 2, norms, {0, 1, 2}));
}

TEST(SparseResidual, Fp16OverflowLeavesFiniteResidualAndFlags) {
  std::vector<float> v = {1e6f};
  uint16_t wire = 0;
  packChunks(SparsePayload::kFloat16, &wire, v.data(), nullptr, 1, 1, {0});
  EXPECT_EQ(v[0], 0.0f);
  float grad = 0;
  bool nonFinite = false;
  unpackChunks(SparsePayload::kFloat16, &grad, &wire, 1, 1, {0}, &nonFinite);
  EXPECT_TRUE(std::isinf(grad));
  EXPECT_TRUE(nonFinite);
}

}  // namespace
}  // namespace gccl
