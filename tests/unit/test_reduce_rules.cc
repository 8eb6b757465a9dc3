// The rules of reduce.h on concrete values, on every SIMD level: integer wrap, NaN and signed-zero
// handling of min/max, half types rounded once, and the average's division. Buffers are long
// enough (kCopies repeats) that the vector loops, not only the tails, produce the results.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "fp16/half.h"
#include "kernel_test_util.h"
#include "reduce/reduce.h"
#include "reduce/reduce_kernels.h"
#include "reduce_test_data.h"

namespace gccl::testing {
namespace {

constexpr size_t kCopies = 67;  // more than one full vector of any type, plus a tail

// reduce(op, a, b) with a and b repeated kCopies times; every copy must give `want`, bit for bit.
template <typename T>
void expectReduce(DataType type, ReduceOp op, T a, T b, T want) {
  for (SimdLevel level : supportedLevels()) {
    ScopedSimdLevel scoped(level);
    std::vector<T> x(kCopies, a), y(kCopies, b), out(kCopies);
    reduce(type, op, out.data(), x.data(), y.data(), kCopies);
    for (size_t i = 0; i < kCopies; ++i) {
      const auto* got = reinterpret_cast<const unsigned char*>(&out[i]);
      const auto* expected = reinterpret_cast<const unsigned char*>(&want);
      ASSERT_EQ(hexBytes(got, sizeof(T)), hexBytes(expected, sizeof(T)))
          << levelLabel(level) << " " << dataTypeName(type) << " " << reduceOpName(op)
          << " element " << i;
    }
  }
}

TEST(ReduceRules, IntegersWrapAsTwosComplement) {
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
}

TEST(ReduceRules, IntegerMinMaxRespectSignedness) {
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

TEST(ReduceRules, FloatMinMaxPropagateFirstNanAndOrderZeros) {
  expectFloatMinMaxRules<float>(DataType::kFloat32);
  expectFloatMinMaxRules<double>(DataType::kFloat64);
}

TEST(ReduceRules, HalfMinMaxFollowTheSameRules) {
  expectReduce<uint16_t>(DataType::kFloat16, ReduceOp::kMin, 0x0000, 0x8000, 0x8000);
  expectReduce<uint16_t>(DataType::kFloat16, ReduceOp::kMax, 0x8000, 0x0000, 0x0000);
  expectReduce<uint16_t>(DataType::kFloat16, ReduceOp::kMin, 0x7e01, 0xfe02, 0x7e01);
  expectReduce<uint16_t>(DataType::kFloat16, ReduceOp::kMax, 0x3c00, 0x7c01, 0x7e01);  // quieted
  expectReduce<uint16_t>(DataType::kBfloat16, ReduceOp::kMin, 0x0000, 0x8000, 0x8000);
  expectReduce<uint16_t>(DataType::kBfloat16, ReduceOp::kMax, 0x7f81, 0x3f80, 0x7fc1);
  expectReduce<uint16_t>(DataType::kBfloat16, ReduceOp::kMin, 0x3f80, 0xffc5, 0xffc5);
}

TEST(ReduceRules, HalfTypesRoundOnceToNearestEven) {
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

// Every pair of special values, on every level, against the scalar kernel.
TEST(ReduceRules, SpecialValuePairsMatchScalar) {
  for (DataType type :
       {DataType::kFloat16, DataType::kBfloat16, DataType::kFloat32, DataType::kFloat64}) {
    const size_t size = dataTypeSize(type);
    const Buffer specials = specialValues(type);
    const size_t n = specials.size() / size;
    Buffer a(n * n * size), b(n * n * size);
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < n; ++j) {
        std::memcpy(&a[(i * n + j) * size], &specials[i * size], size);
        std::memcpy(&b[(i * n + j) * size], &specials[j * size], size);
      }
    }
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kProd, ReduceOp::kMin, ReduceOp::kMax}) {
      Buffer want(a.size());
      kernels::reduceScalar(type, op, want.data(), a.data(), b.data(), n * n);
      for (SimdLevel level : supportedLevels()) {
        ScopedSimdLevel scoped(level);
        Buffer got(a.size());
        reduce(type, op, got.data(), a.data(), b.data(), n * n);
        EXPECT_TRUE(sameElements(type, op, got.data(), want.data(), n * n))
            << levelLabel(level) << " " << dataTypeName(type) << " " << reduceOpName(op);
      }
    }
  }
}

}  // namespace
}  // namespace gccl::testing
