// finalizeAverage (and reduceAndDivide): the one division of an average, on every SIMD level, on
// literal values with hand-computed results and against the test's own reference
// (reduce_reference.h). Integers truncate toward zero in 64 bits; floats divide in the element type
// (half types in fp32, rounded once).
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "kernel_test_util.h"
#include "reduce/reduce.h"
#include "reduce_reference.h"
#include "reduce_test_data.h"

namespace gccl::testing {
namespace {

constexpr size_t kCopies = 67;  // more than one full vector of any type, plus a tail

// finalizeAverage on the active level over kCopies copies of value: every copy must give `want`,
// bit for bit; and so must the reference.
template <typename T>
void expectAverage(DataType type, T value, int divisor, T want) {
  const auto* expected = reinterpret_cast<const unsigned char*>(&want);
  T fromReference = value;
  reference::finalizeAverage(type, &fromReference, 1, divisor);
  EXPECT_EQ(hexBytes(reinterpret_cast<const unsigned char*>(&fromReference), sizeof(T)),
            hexBytes(expected, sizeof(T)))
      << "the reference: " << dataTypeName(type) << " / " << divisor;
  std::vector<T> data(kCopies, value);
  finalizeAverage(type, data.data(), kCopies, divisor);
  for (size_t i = 0; i < kCopies; ++i) {
    const auto* got = reinterpret_cast<const unsigned char*>(&data[i]);
    ASSERT_EQ(hexBytes(got, sizeof(T)), hexBytes(expected, sizeof(T)))
        << levelLabel(activeSimdLevel()) << " " << dataTypeName(type) << " / " << divisor << " at "
        << i;
  }
}

class ReduceAverage : public EachSimdLevel {};

TEST_P(ReduceAverage, IntegersTruncateTowardZero) {
  expectAverage<int8_t>(DataType::kInt8, -7, 2, -3);
  expectAverage<int8_t>(DataType::kInt8, 7, 2, 3);
  expectAverage<int8_t>(DataType::kInt8, -128, 3, -42);
  expectAverage<uint8_t>(DataType::kUint8, 250, 200, 1);  // divisor wider than the type
  expectAverage<int32_t>(DataType::kInt32, -9, 4, -2);
  expectAverage<uint32_t>(DataType::kUint32, 0xffffffffu, 2, 0x7fffffffu);
  expectAverage<int64_t>(DataType::kInt64, INT64_MIN, 7, -1317624576693539401);
  expectAverage<int64_t>(DataType::kInt64, -1, 2, 0);
  expectAverage<uint64_t>(DataType::kUint64, UINT64_MAX, 3, 0x5555555555555555);
}

TEST_P(ReduceAverage, FloatsDivideAndRoundOnce) {
  expectAverage<float>(DataType::kFloat32, 1.0f, 3, 1.0f / 3.0f);
  expectAverage<double>(DataType::kFloat64, 1.0, 3, 1.0 / 3.0);
  expectAverage<uint16_t>(DataType::kFloat16, 0x3c00, 3, 0x3555);   // 1/3
  expectAverage<uint16_t>(DataType::kBfloat16, 0x3f80, 3, 0x3eab);  // 1/3
  expectAverage<uint16_t>(DataType::kFloat16, 0x0001, 2, 0x0000);   // 2^-25: tie to even 0
  expectAverage<uint16_t>(DataType::kFloat16, 0x0003, 2, 0x0002);   // 1.5 * 2^-24: tie to 2
  expectAverage<uint16_t>(DataType::kFloat16, 0xc200, 2, 0xbe00);   // -3 / 2 = -1.5
  expectAverage<uint16_t>(DataType::kBfloat16, 0x0001, 2, 0x0000);  // 2^-134: tie to even 0
  expectAverage<uint16_t>(DataType::kBfloat16, 0x0003, 2, 0x0002);  // tie to 2 * 2^-133
  expectAverage<float>(DataType::kFloat32, floatOf(0x00000003), 2, floatOf(0x00000002));  // no FTZ
  expectAverage<double>(DataType::kFloat64, -7.0, 2, -3.5);
}

TEST_P(ReduceAverage, DivisorOneLeavesDataUntouched) {
  const float signalling = std::numeric_limits<float>::signaling_NaN();
  expectAverage<float>(DataType::kFloat32, signalling, 1, signalling);
  expectAverage<int8_t>(DataType::kInt8, -128, 1, -128);
}

TEST_P(ReduceAverage, MatchesReference) {
  std::mt19937_64 rng(3);
  for (DataType type : {DataType::kInt8, DataType::kUint8, DataType::kInt32, DataType::kUint32,
                        DataType::kInt64, DataType::kUint64, DataType::kFloat16,
                        DataType::kBfloat16, DataType::kFloat32, DataType::kFloat64}) {
    for (size_t count : {0, 1, 7, 63, 129, 100003}) {
      const Buffer input = randomBuffer(type, count, rng);
      for (int divisor : {1, 2, 3, 4, 7, 16, 200}) {  // powers of two multiply instead
        Buffer want = input;
        reference::finalizeAverage(type, want.data(), count, divisor);
        Buffer got(input.size() + 1);  // misaligned by one byte
        std::copy(input.begin(), input.end(), got.begin() + 1);
        finalizeAverage(type, got.data() + 1, count, divisor);
        ASSERT_TRUE(sameElements(type, ReduceOp::kAvg, got.data() + 1, want.data(), count))
            << levelLabel(level()) << " " << dataTypeName(type) << " / " << divisor;
      }
    }
  }
}

// The last reduction of an average, fused with its division: the bits of reduce() then
// finalizeAverage(), across the kernel's 16 KiB blocks, in place and out of place.
TEST_P(ReduceAverage, ReduceAndDivideIsTheSumThenTheDivision) {
  std::mt19937_64 rng(5);
  for (DataType type : {DataType::kInt8, DataType::kInt32, DataType::kUint64, DataType::kFloat16,
                        DataType::kBfloat16, DataType::kFloat32, DataType::kFloat64}) {
    for (size_t count : {0, 1, 4097, 100003}) {
      const Buffer a = randomBuffer(type, count, rng);
      const Buffer b = randomBuffer(type, count, rng);
      for (int divisor : {1, 2, 3, 8}) {
        Buffer want(a.size());
        reference::reduce(type, ReduceOp::kSum, want.data(), a.data(), b.data(), count);
        reference::finalizeAverage(type, want.data(), count, divisor);
        Buffer out(a.size());
        reduceAndDivide(type, out.data(), a.data(), b.data(), count, divisor);
        ASSERT_TRUE(sameElements(type, ReduceOp::kAvg, out.data(), want.data(), count))
            << levelLabel(level()) << " " << dataTypeName(type) << " / " << divisor;
        Buffer inPlace = a;
        reduceAndDivide(type, inPlace.data(), inPlace.data(), b.data(), count, divisor);
        ASSERT_TRUE(sameElements(type, ReduceOp::kAvg, inPlace.data(), want.data(), count))
            << levelLabel(level()) << " " << dataTypeName(type) << " / " << divisor << ", in place";
      }
    }
  }
}

// A chain of reductions in one pass (the direct allreduce's): the bits of the reductions
// done one after another with the reference, each operand order as its step says, in place
// (the first local operand is dst) and not, across the 16 KiB blocks; then an average's
// division.
TEST_P(ReduceAverage, ReduceChainIsTheReductionsOneAfterAnother) {
  std::mt19937_64 rng(7);
  for (DataType type : {DataType::kInt32, DataType::kFloat16, DataType::kBfloat16,
                        DataType::kFloat32, DataType::kFloat64}) {
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kMin, ReduceOp::kProd, ReduceOp::kAvg}) {
      for (size_t count : {0, 1, 5000, 100003}) {
        const Buffer first = randomBuffer(type, count, rng);
        std::vector<Buffer> received;
        for (int k = 0; k < 3; ++k) received.push_back(randomBuffer(type, count, rng));
        const bool receivedFirst[] = {false, true, false};
        const int divisor = op == ReduceOp::kAvg ? 3 : 1;
        Buffer want(first.size());
        for (int k = 0; k < 3; ++k) {
          const void* local = k == 0 ? first.data() : want.data();
          const void* theirs = received[k].data();
          if (receivedFirst[k]) std::swap(local, theirs);
          reference::reduce(type, op, want.data(), local, theirs, count);
        }
        reference::finalizeAverage(type, want.data(), count, divisor);
        for (bool inPlace : {false, true}) {
          Buffer got = inPlace ? first : Buffer(first.size());
          std::vector<ChainOperands> chain;
          for (int k = 0; k < 3; ++k) {
            const void* local = k == 0 && !inPlace ? first.data() : got.data();
            chain.push_back({local, received[k].data(), receivedFirst[k]});
          }
          reduceChain(type, op, got.data(), chain, count, divisor, nullptr);
          ASSERT_TRUE(sameElements(type, op, got.data(), want.data(), count))
              << levelLabel(level()) << " " << dataTypeName(type) << " " << reduceOpName(op)
              << " count " << count << (inPlace ? ", in place" : "");
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Simd, ReduceAverage, ::testing::ValuesIn(kAllSimdLevels), levelName);

}  // namespace
}  // namespace gccl::testing
