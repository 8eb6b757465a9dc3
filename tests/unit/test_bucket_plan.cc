// The pure parts of the lazy allreduce: pool layout, bucket plan and ready tracking.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "base/error.h"
#include "lazy/bucket_plan.h"
#include "lazy/ready_tracker.h"
#include "lazy/wire_format.h"
#include "reduce/non_finite.h"

namespace gccl {
namespace {

std::vector<TensorSpec> floats(std::initializer_list<size_t> counts) {
  std::vector<TensorSpec> tensors;
  for (size_t count : counts) tensors.push_back({count, DataType::kFloat32});
  return tensors;
}

// Every tensor in exactly one bucket, in order; buckets back to back over the tensors, each of
// one type, spanning its tensors exactly.
void expectCovers(const std::vector<TensorSpec>& tensors, const PoolLayout& layout,
                  const std::vector<Bucket>& buckets) {
  size_t next = 0;
  for (const Bucket& bucket : buckets) {
    ASSERT_EQ(bucket.firstTensor, next);
    ASSERT_GT(bucket.endTensor, bucket.firstTensor);
    EXPECT_EQ(bucket.offset, layout.offsets[bucket.firstTensor]);
    const TensorSpec& last = tensors[bucket.endTensor - 1];
    const size_t end = layout.offsets[bucket.endTensor - 1] + last.count * dataTypeSize(last.type);
    EXPECT_EQ(bucket.offset + bucket.count * dataTypeSize(bucket.type), end);
    for (size_t t = bucket.firstTensor; t < bucket.endTensor; ++t) {
      EXPECT_EQ(tensors[t].type, bucket.type);
    }
    next = bucket.endTensor;
  }
  EXPECT_EQ(next, tensors.size());
}

TEST(PoolLayout, AlignsEveryOffsetAndNeverOverlaps) {
  const std::vector<TensorSpec> tensors = {{3, DataType::kFloat32},
                                           {0, DataType::kFloat32},
                                           {5, DataType::kFloat16},
                                           {1, DataType::kFloat64},
                                           {17, DataType::kInt8}};
  for (size_t alignment : {1, 2, 8, 64, 4096}) {
    const PoolLayout layout = layoutPool(tensors, alignment);
    size_t end = 0;
    for (size_t i = 0; i < tensors.size(); ++i) {
      const size_t elementSize = dataTypeSize(tensors[i].type);
      EXPECT_EQ(layout.offsets[i] % std::max(alignment, elementSize), 0u) << alignment;
      EXPECT_GE(layout.offsets[i], end);
      end = layout.offsets[i] + tensors[i].count * elementSize;
    }
    EXPECT_EQ(layout.bytes, end);
  }
  EXPECT_EQ(layoutPool(floats({3, 1}), 64).offsets[1], 64u);
  EXPECT_EQ(layoutPool(floats({3, 1}), 4).offsets[1], 12u);
}

TEST(PoolLayout, OverflowIsAnError) {
  const std::vector<TensorSpec> tensors = {{1, DataType::kFloat32},
                                           {~size_t{0} / 4, DataType::kFloat32}};
  EXPECT_THROW(layoutPool(tensors, 64), Error);
}

TEST(BucketPlan, ThetaZeroGivesOneBucketPerTensor) {
  const auto tensors = floats({4, 0, 16, 1});
  const PoolLayout layout = layoutPool(tensors, 64);
  const auto buckets = planBuckets(tensors, layout, 0);
  ASSERT_EQ(buckets.size(), tensors.size());
  expectCovers(tensors, layout, buckets);
}

TEST(BucketPlan, HugeThetaGivesOneBucket) {
  const auto tensors = floats({4, 0, 16, 1});
  const PoolLayout layout = layoutPool(tensors, 64);
  const auto buckets = planBuckets(tensors, layout, ~size_t{0});
  ASSERT_EQ(buckets.size(), 1u);
  EXPECT_EQ(buckets[0].count, layout.bytes / 4);  // padding included
  expectCovers(tensors, layout, buckets);
}

TEST(BucketPlan, ClosesAtTheTensorWhereTheSpanReachesTheta) {
  // Offsets 0, 64, 128, 192 (16 floats each, 64-byte aligned): spans 64, 128, 192, 256.
  const auto tensors = floats({16, 16, 16, 16});
  const PoolLayout layout = layoutPool(tensors, 64);
  auto buckets = planBuckets(tensors, layout, 128);  // exactly at the end of tensor 1
  ASSERT_EQ(buckets.size(), 2u);
  EXPECT_EQ(buckets[0].endTensor, 2u);
  EXPECT_EQ(buckets[1].count, 32u);
  buckets = planBuckets(tensors, layout, 129);  // one byte more: tensor 2 closes it
  ASSERT_EQ(buckets.size(), 2u);
  EXPECT_EQ(buckets[0].endTensor, 3u);
  EXPECT_EQ(buckets[1].endTensor, 4u);  // the last takes the rest, below theta
  buckets = planBuckets(tensors, layout, 127);
  ASSERT_EQ(buckets.size(), 2u);
  EXPECT_EQ(buckets[0].endTensor, 2u);
  expectCovers(tensors, layout, buckets);
}

TEST(BucketPlan, ATypeChangeClosesABucket) {
  const std::vector<TensorSpec> tensors = {{8, DataType::kFloat32},
                                           {8, DataType::kFloat32},
                                           {8, DataType::kFloat16},
                                           {8, DataType::kFloat32}};
  const PoolLayout layout = layoutPool(tensors, 64);
  const auto buckets = planBuckets(tensors, layout, 1 << 20);
  ASSERT_EQ(buckets.size(), 3u);
  EXPECT_EQ(buckets[1].type, DataType::kFloat16);
  expectCovers(tensors, layout, buckets);
}

TEST(BucketPlan, CoversThePoolForRandomModels) {
  std::mt19937 random(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<TensorSpec> tensors(1 + random() % 40);
    for (TensorSpec& tensor : tensors) {
      tensor.count = random() % 3 == 0 ? random() % 4 : random() % 5000;
      tensor.type = random() % 5 == 0 ? DataType::kBfloat16 : DataType::kFloat32;
    }
    const size_t alignment = size_t{1} << (random() % 8);
    const PoolLayout layout = layoutPool(tensors, alignment);
    const size_t theta = random() % 3 == 0 ? 0 : random() % 40000;
    const auto buckets = planBuckets(tensors, layout, theta);
    expectCovers(tensors, layout, buckets);
    // Only the last bucket of a run of one type may stay below theta.
    for (size_t b = 0; b + 1 < buckets.size(); ++b) {
      if (buckets[b + 1].type != buckets[b].type) continue;
      EXPECT_GE(buckets[b].count * dataTypeSize(buckets[b].type), theta);
    }
  }
}

TEST(ReadyTracker, StartsBucketsInPlanOrderWhateverTheArrivalOrder) {
  const auto tensors = floats({16, 16, 16, 16, 16, 16});
  const auto buckets = planBuckets(tensors, layoutPool(tensors, 64), 128);  // 3 of 2 tensors
  ASSERT_EQ(buckets.size(), 3u);
  std::vector<size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937 random(1);
  for (int trial = 0; trial < 50; ++trial) {
    std::shuffle(order.begin(), order.end(), random);
    ReadyTracker tracker(buckets, tensors.size());
    std::vector<size_t> started;
    for (size_t t : order) {
      tracker.markReady(t);
      while (const auto b = tracker.nextStartable()) {
        // Started only once all its tensors and all earlier buckets are ready.
        for (size_t u = 0; u < buckets[*b].endTensor; ++u) EXPECT_TRUE(tracker.isReady(u));
        started.push_back(*b);
        tracker.started();
      }
    }
    EXPECT_EQ(started, (std::vector<size_t>{0, 1, 2}));
    EXPECT_FALSE(tracker.firstMissing().has_value());
    tracker.reset();
    ASSERT_TRUE(tracker.firstMissing().has_value());
    EXPECT_EQ(*tracker.firstMissing(), 0u);
    EXPECT_EQ(tracker.startedCount(), 0u);
  }
}

TEST(WireFormat, CompressesOnlyFloat32) {
  EXPECT_EQ(wireType(WireFormat::kFloat16, DataType::kFloat32), DataType::kFloat16);
  EXPECT_EQ(wireType(WireFormat::kBfloat16, DataType::kFloat32), DataType::kBfloat16);
  EXPECT_EQ(wireType(WireFormat::kFloat16, DataType::kFloat64), DataType::kFloat64);
  EXPECT_EQ(wireType(WireFormat::kNone, DataType::kFloat32), DataType::kFloat32);
}

TEST(WireFormat, FindsNonFiniteValues) {
  std::vector<float> values(100, 1.0f);
  EXPECT_FALSE(hasNonFinite(DataType::kFloat32, values.data(), values.size()));
  values[97] = -std::numeric_limits<float>::infinity();
  EXPECT_TRUE(hasNonFinite(DataType::kFloat32, values.data(), values.size()));
  EXPECT_FALSE(hasNonFinite(DataType::kFloat32, values.data(), 97));
  const uint16_t half[] = {0x3c00, 0x7e00};  // 1, NaN
  EXPECT_TRUE(hasNonFinite(DataType::kFloat16, half, 2));
  EXPECT_FALSE(hasNonFinite(DataType::kFloat16, half, 1));
  const uint16_t bf16[] = {0x3f80, 0xff80};  // 1, -inf
  EXPECT_TRUE(hasNonFinite(DataType::kBfloat16, bf16, 2));
  const int32_t ints[] = {-1, 0x7fffffff};
  EXPECT_FALSE(hasNonFinite(DataType::kInt32, ints, 2));
}

// The scan goes block by block (64 elements) and then the rest, from any byte offset: one
// non-finite value is found wherever it sits, and the largest finite values are not flagged.
template <typename Bits>
void checkEveryPosition(DataType type, Bits nonFinite, Bits largestFinite) {
  for (size_t count : {size_t{1}, size_t{63}, size_t{64}, size_t{65}, size_t{200}}) {
    std::vector<unsigned char> storage((count + 1) * sizeof(Bits));
    unsigned char* data = storage.data() + 1;  // unaligned, as a pool offset may be
    for (size_t i = 0; i < count; ++i)
      std::memcpy(data + i * sizeof(Bits), &largestFinite, sizeof(Bits));
    ASSERT_FALSE(hasNonFinite(type, data, count)) << "count " << count;
    for (size_t at = 0; at < count; ++at) {
      std::memcpy(data + at * sizeof(Bits), &nonFinite, sizeof(Bits));
      EXPECT_TRUE(hasNonFinite(type, data, count)) << "count " << count << ", at " << at;
      EXPECT_FALSE(hasNonFinite(type, data, at)) << "count " << at;
      std::memcpy(data + at * sizeof(Bits), &largestFinite, sizeof(Bits));
    }
  }
}

TEST(WireFormat, FindsANonFiniteValueAtEveryPositionOfEveryFloatType) {
  checkEveryPosition<uint32_t>(DataType::kFloat32, 0xff800000u, 0x7f7fffffu);  // -inf, max
  checkEveryPosition<uint16_t>(DataType::kFloat16, 0x7c01u, 0xfbffu);          // NaN, -max
  checkEveryPosition<uint16_t>(DataType::kBfloat16, 0x7fc0u, 0x7f7fu);         // NaN, max
  checkEveryPosition<uint64_t>(DataType::kFloat64, 0x7ff0000000000000u, 0x7fefffffffffffffu);
  EXPECT_FALSE(hasNonFinite(DataType::kFloat32, nullptr, 0));  // an empty tensor
}

}  // namespace
}  // namespace gccl
