// The rules of reduce.h on literal inputs with hand-computed results, on every SIMD level: integer
// wrap, NaN and signed-zero handling of min/max, half types rounded once. Buffers are long enough
// (kCopies repeats) that the vector loops, not only the tails, produce the results. Each literal
// case also checks the test's own reference (reduce_reference.h), which the random sweeps trust.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "reduce/reduce.h"
#include "reduce_reference.h"
#include "reduce_test_data.h"

namespace gccl::testing {
namespace {

constexpr size_t kCopies = 67;  // more than one full vector of any type, plus a tail

template <typename T>
::testing::AssertionResult sameBits(const T& got, const T& want) {
  const auto* g = reinterpret_cast<const unsigned char*>(&got);
  const auto* w = reinterpret_cast<const unsigned char*>(&want);
  if (std::memcmp(g, w, sizeof(T)) == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "got 0x" << hexBytes(g, sizeof(T)) << ", want 0x" << hexBytes(w, sizeof(T));
}

// reduce(op, a, b) on the active level with a and b repeated kCopies times: every copy must give
// `want`, bit for bit; and so must the reference.
template <typename T>
void expectReduce(DataType type, ReduceOp op, T a, T b, T want) {
  SCOPED_TRACE(std::string(dataTypeName(type)) + " " + std::string(reduceOpName(op)));
  T fromReference;
  reference::reduce(type, op, &fromReference, &a, &b, 1);
  EXPECT_TRUE(sameBits(fromReference, want)) << "the reference";
  std::vector<T> x(kCopies, a), y(kCopies, b), out(kCopies);
  reduce(type, op, out.data(), x.data(), y.data(), kCopies);
  for (size_t i = 0; i < kCopies; ++i) {
    ASSERT_TRUE(sameBits(out[i], want)) << levelLabel(activeSimdLevel()) << " element " << i;
  }
}

class ReduceRules : public EachSimdLevel {};

TEST_P(ReduceRules, IntegersWrapAsTwosComplement) {
  expectReduce<int8_t>(DataType::kInt8, ReduceOp::kSum, 127, 1, -128);
  expectReduce<int8_t>(DataType::kInt8, ReduceOp::kProd, -128, -1, -128);
  expectReduce<int8_t>(DataType::kInt8, ReduceOp::kProd, 16, 17, 16);  // 272 mod 256
  expectReduce<uint8_t>(DataType::kUint8, ReduceOp::kSum, 200, 100, 44);
  expectReduce<uint8_t>(DataType::kUint8, ReduceOp::kProd, 255, 255, 1);
  expectReduce<int32_t>(DataType::kInt32, ReduceOp::kSum, INT32_MAX, 1, INT32_MIN);
  expectReduce<uint32_t>(DataType::kUint32, ReduceOp::kProd, 65536, 65537, 65536);
  expectReduce<int64_t>(DataType::kInt64, ReduceOp::kProd, int64_t{1} << 62, 4, 0);
  expectReduce<int64_t>(DataType::kInt64, ReduceOp::kProd, -3, 0x5555555555555556, -2);
  expectReduce<uint64_t>(DataType::kUint64, ReduceOp::kProd, 0xffffffffffffffff, 0xffffffffffffffff,
                         1);
  expectReduce<int32_t>(DataType::kInt32, ReduceOp::kProd, INT32_MIN, -1, INT32_MIN);
  expectReduce<uint32_t>(DataType::kUint32, ReduceOp::kSum, 0xfffffffeu, 3, 1);
  expectReduce<int64_t>(DataType::kInt64, ReduceOp::kSum, INT64_MAX, INT64_MAX, -2);
  expectReduce<uint64_t>(DataType::kUint64, ReduceOp::kSum, UINT64_MAX, 1, 0);
  // avg reduces as a plain (wrapping) sum; its division comes later, in finalizeAverage.
  expectReduce<int8_t>(DataType::kInt8, ReduceOp::kAvg, 100, 100, -56);
}

TEST_P(ReduceRules, IntegerMinMaxRespectSignedness) {
  expectReduce<int8_t>(DataType::kInt8, ReduceOp::kMin, -1, 1, -1);
  expectReduce<uint8_t>(DataType::kUint8, ReduceOp::kMin, 255, 1, 1);
  expectReduce<int32_t>(DataType::kInt32, ReduceOp::kMax, -5, INT32_MIN, -5);
  expectReduce<uint32_t>(DataType::kUint32, ReduceOp::kMax, 0x80000000u, 1, 0x80000000u);
  expectReduce<int64_t>(DataType::kInt64, ReduceOp::kMin, INT64_MIN, 0, INT64_MIN);
  expectReduce<uint64_t>(DataType::kUint64, ReduceOp::kMax, uint64_t{1} << 63, 1,
                         uint64_t{1} << 63);
  expectReduce<uint64_t>(DataType::kUint64, ReduceOp::kMin, uint64_t{1} << 63, 1, 1);
}

template <typename F>
void expectFloatMinMaxRules(DataType type) {
  using L = std::numeric_limits<F>;
  const F pz = F(0), nz = -F(0);
  expectReduce<F>(type, ReduceOp::kMin, pz, nz, nz);
  expectReduce<F>(type, ReduceOp::kMin, nz, pz, nz);
  expectReduce<F>(type, ReduceOp::kMax, pz, nz, pz);
  expectReduce<F>(type, ReduceOp::kMax, nz, pz, pz);
  const F qa = nanWithPayload(L::quiet_NaN(), 1), qb = nanWithPayload(-L::quiet_NaN(), 2);
  const F sa = nanWithPayload(L::signaling_NaN(), 3);
  const F quietSa = nanWithPayload(sa, BitsOf<F>{1} << (L::digits - 2));
  for (ReduceOp op : {ReduceOp::kMin, ReduceOp::kMax}) {
    expectReduce<F>(type, op, qa, F(1), qa);  // a is NaN: a
    expectReduce<F>(type, op, F(1), qb, qb);  // b is NaN: b
    expectReduce<F>(type, op, qa, qb, qa);    // both: a
    expectReduce<F>(type, op, -L::infinity(), qb, qb);
    expectReduce<F>(type, op, sa, F(1), quietSa);
    expectReduce<F>(type, op, F(2), sa, quietSa);
  }
  expectReduce<F>(type, ReduceOp::kMin, -L::infinity(), L::max(), -L::infinity());
  expectReduce<F>(type, ReduceOp::kMax, L::denorm_min(), pz, L::denorm_min());
}

// Two NaNs: every level keeps the first operand's payload (x86 arithmetic returns its first
// source). Recursive doubling's partners rely on it: both combine the lower rank's partial
// first, and ranks on different machines may run different levels.
template <typename F>
void expectFirstNanPayloadOfSumAndProd(DataType type) {
  using L = std::numeric_limits<F>;
  const F qa = nanWithPayload(L::quiet_NaN(), 1), qb = nanWithPayload(-L::quiet_NaN(), 2);
  for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kProd, ReduceOp::kAvg}) {
    expectReduce<F>(type, op, qa, qb, qa);
    expectReduce<F>(type, op, qb, qa, qb);
  }
}

TEST_P(ReduceRules, SumAndProdOfTwoNansKeepTheFirstPayload) {
  expectFirstNanPayloadOfSumAndProd<float>(DataType::kFloat32);
  expectFirstNanPayloadOfSumAndProd<double>(DataType::kFloat64);
  for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kProd}) {
    expectReduce<uint16_t>(DataType::kFloat16, op, 0x7e01, 0xfe02, 0x7e01);
    expectReduce<uint16_t>(DataType::kFloat16, op, 0xfe02, 0x7e01, 0xfe02);
    expectReduce<uint16_t>(DataType::kBfloat16, op, 0x7fc1, 0xffc2, 0x7fc1);
    expectReduce<uint16_t>(DataType::kBfloat16, op, 0xffc2, 0x7fc1, 0xffc2);
  }
}

TEST_P(ReduceRules, FloatMinMaxPropagateFirstNanAndOrderZeros) {
  expectFloatMinMaxRules<float>(DataType::kFloat32);
  expectFloatMinMaxRules<double>(DataType::kFloat64);
}

TEST_P(ReduceRules, HalfMinMaxFollowTheSameRules) {
  expectReduce<uint16_t>(DataType::kFloat16, ReduceOp::kMin, 0x0000, 0x8000, 0x8000);
  expectReduce<uint16_t>(DataType::kFloat16, ReduceOp::kMax, 0x8000, 0x0000, 0x0000);
  expectReduce<uint16_t>(DataType::kFloat16, ReduceOp::kMin, 0x7e01, 0xfe02, 0x7e01);
  expectReduce<uint16_t>(DataType::kFloat16, ReduceOp::kMax, 0x3c00, 0x7c01, 0x7e01);  // quieted
  expectReduce<uint16_t>(DataType::kBfloat16, ReduceOp::kMin, 0x0000, 0x8000, 0x8000);
  expectReduce<uint16_t>(DataType::kBfloat16, ReduceOp::kMax, 0x7f81, 0x3f80, 0x7fc1);
  expectReduce<uint16_t>(DataType::kBfloat16, ReduceOp::kMin, 0x3f80, 0xffc5, 0xffc5);
  expectReduce<uint16_t>(DataType::kFloat16, ReduceOp::kMin, 0x3c00, 0xfc01, 0xfe01);  // b, quieted
  expectReduce<uint16_t>(DataType::kFloat16, ReduceOp::kMax, 0x0001, 0x8001, 0x0001);  // subnormals
  expectReduce<uint16_t>(DataType::kFloat16, ReduceOp::kMin, 0xfc00, 0xfbff, 0xfc00);  // -inf
  expectReduce<uint16_t>(DataType::kBfloat16, ReduceOp::kMax, 0x0000, 0x8000, 0x0000);
  expectReduce<uint16_t>(DataType::kBfloat16, ReduceOp::kMax, 0x4000, 0x4040, 0x4040);  // 2 < 3
}

TEST_P(ReduceRules, HalfTypesRoundOnceToNearestEven) {
  expectReduce<uint16_t>(DataType::kFloat16, ReduceOp::kSum, 0x3c00, 0x3c00, 0x4000);    // 1 + 1
  expectReduce<uint16_t>(DataType::kFloat16, ReduceOp::kProd, 0x4000, 0x4200, 0x4600);   // 2 * 3
  expectReduce<uint16_t>(DataType::kFloat16, ReduceOp::kSum, 0x0001, 0x0001, 0x0002);    // no DAZ
  expectReduce<uint16_t>(DataType::kFloat16, ReduceOp::kSum, 0x3c00, 0xbc00, 0x0000);    // +0
  expectReduce<uint16_t>(DataType::kBfloat16, ReduceOp::kProd, 0x4000, 0x4040, 0x40c0);  // 2 * 3
  // 1 + 2^-11 is halfway between 1 and the next float16: ties go to the even 1.
  expectReduce<uint16_t>(DataType::kFloat16, ReduceOp::kSum, 0x3c00, 0x1000, 0x3c00);
  expectReduce<uint16_t>(DataType::kFloat16, ReduceOp::kSum, 0x3c00, 0x1001, 0x3c01);
  expectReduce<uint16_t>(DataType::kFloat16, ReduceOp::kSum, 0x3c01, 0x1000, 0x3c02);
  expectReduce<uint16_t>(DataType::kFloat16, ReduceOp::kSum, 0x7bff, 0x4800, 0x7bff);   // 65512
  expectReduce<uint16_t>(DataType::kFloat16, ReduceOp::kSum, 0x7bff, 0x4c00, 0x7c00);   // 65520
  expectReduce<uint16_t>(DataType::kFloat16, ReduceOp::kProd, 0x0001, 0x3800, 0x0000);  // tie
  expectReduce<uint16_t>(DataType::kFloat16, ReduceOp::kProd, 0x0003, 0x3800, 0x0002);
  expectReduce<uint16_t>(DataType::kBfloat16, ReduceOp::kSum, 0x3f80, 0x3b80, 0x3f80);
  expectReduce<uint16_t>(DataType::kBfloat16, ReduceOp::kSum, 0x3f81, 0x3b80, 0x3f82);
  expectReduce<uint16_t>(DataType::kBfloat16, ReduceOp::kSum, 0x7f7f, 0x7b80, 0x7f80);   // inf
  expectReduce<uint16_t>(DataType::kBfloat16, ReduceOp::kProd, 0x0001, 0x3f00, 0x0000);  // tie
  expectReduce<uint16_t>(DataType::kBfloat16, ReduceOp::kProd, 0x0003, 0x3f00, 0x0002);
}

// fp32 and fp64 in the default MXCSR mode: round to nearest even, subnormals neither flushed
// nor treated as zero.
TEST_P(ReduceRules, FloatArithmeticIsPlainIeee) {
  const auto f = floatOf;
  const auto d = [](uint64_t bits) { return bitCast<double>(bits); };
  // 1 + 2^-24 is a tie between 1 and 1 + 2^-23: to the even 1; from 1 + 2^-23 up to 1 + 2^-22.
  expectReduce(DataType::kFloat32, ReduceOp::kSum, f(0x3f800000), f(0x33800000), f(0x3f800000));
  expectReduce(DataType::kFloat32, ReduceOp::kSum, f(0x3f800001), f(0x33800000), f(0x3f800002));
  expectReduce(DataType::kFloat32, ReduceOp::kSum, f(0x00000001), f(0x00000001), f(0x00000002));
  // 1.5 * 2^-149 is a tie between 2^-149 and 2^-148: to the even 2^-148.
  expectReduce(DataType::kFloat32, ReduceOp::kProd, f(0x00000001), f(0x3fc00000), f(0x00000002));
  expectReduce(DataType::kFloat32, ReduceOp::kProd, f(0x7f7fffff), f(0x40000000), f(0x7f800000));
  expectReduce(DataType::kFloat32, ReduceOp::kSum, f(0x3f800000), f(0xbf800000), f(0x00000000));
  expectReduce(DataType::kFloat64, ReduceOp::kSum, d(0x3ff0000000000000), d(0x3ca0000000000000),
               d(0x3ff0000000000000));  // 1 + 2^-53: tie to the even 1
  expectReduce(DataType::kFloat64, ReduceOp::kSum, d(0x3ff0000000000001), d(0x3ca0000000000000),
               d(0x3ff0000000000002));
  expectReduce(DataType::kFloat64, ReduceOp::kProd, d(0x0000000000000003), d(0x3fe0000000000000),
               d(0x0000000000000002));  // 1.5 * 2^-1074: tie to 2 * 2^-1074
  expectReduce(DataType::kFloat64, ReduceOp::kProd, d(0xc000000000000000), d(0x4008000000000000),
               d(0xc018000000000000));  // -2 * 3 = -6
}

// Every pair of special values against the reference.
TEST_P(ReduceRules, SpecialValuePairsMatchReference) {
  for (DataType type :
       {DataType::kFloat16, DataType::kBfloat16, DataType::kFloat32, DataType::kFloat64}) {
    const Pairs pairs = everyPair(type, specialValues(type), specialValues(type));
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kProd, ReduceOp::kMin, ReduceOp::kMax}) {
      Buffer want(pairs.a.size()), got(pairs.a.size());
      reference::reduce(type, op, want.data(), pairs.a.data(), pairs.b.data(), pairs.count);
      reduce(type, op, got.data(), pairs.a.data(), pairs.b.data(), pairs.count);
      EXPECT_TRUE(sameElements(type, op, got.data(), want.data(), pairs.count))
          << levelLabel(level()) << " " << dataTypeName(type) << " " << reduceOpName(op);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Simd, ReduceRules, ::testing::ValuesIn(kAllSimdLevels), levelName);

}  // namespace
}  // namespace gccl::testing
