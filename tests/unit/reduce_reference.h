// An independent reference for reduce() and finalizeAverage(), written from the rules at the
// top of reduce/reduce.h and from nothing else of the library: one plain loop per type, half
// conversions from half_reference.h (double arithmetic) instead of fp16/half.h, and integer
// arithmetic done differently from reduce_scalar.cc (in uint64_t). Every SIMD level, the scalar
// one included, is compared with it, so a bug shared by the scalar kernel and the vector
// kernels (whose tails call it) cannot pass.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "base/dtype.h"
#include "half_reference.h"
#include "kernel_test_util.h"

namespace gccl::testing::reference {

// Integers wrap as two's complement: uint64_t arithmetic is modular, the low bits of a sum or
// product do not depend on the high bits of the operands, and converting back to T keeps the
// low bits (C++20).
template <typename T>
T combineIntegers(ReduceOp op, T a, T b) {
  const auto x = static_cast<uint64_t>(a), y = static_cast<uint64_t>(b);
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg: return static_cast<T>(x + y);
    case ReduceOp::kProd: return static_cast<T>(x * y);
    case ReduceOp::kMin: return a < b ? a : b;
    case ReduceOp::kMax: return a < b ? b : a;
  }
  return a;
}

// IEEE 754-2019 minimum/maximum order for non-NaN values: numeric, with -0 below +0.
template <typename F>
bool below(F a, F b) {
  return a < b || (a == b && std::signbit(a) && !std::signbit(b));
}

// Sets the top mantissa bit, as x86 arithmetic does to a signalling NaN.
template <typename F>
F quieted(F nan) {
  using Bits = std::conditional_t<sizeof(F) == 4, uint32_t, uint64_t>;
  return bitCast<F>(
      static_cast<Bits>(bitCast<Bits>(nan) | Bits{1} << (std::numeric_limits<F>::digits - 2)));
}

// Sum and prod of two NaNs give a's payload, quieted (the rule of reduce.h), said here rather
// than left to `a + b`: a compiler may commute that (GCC did, in the TSan build), and with one
// NaN operand only which one comes first does not matter.
template <typename F>
F combineFloats(ReduceOp op, F a, F b) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg: return std::isnan(a) ? quieted(a) : a + b;
    case ReduceOp::kProd: return std::isnan(a) ? quieted(a) : a * b;
    case ReduceOp::kMin:
    case ReduceOp::kMax:
      if (std::isnan(a)) return quieted(a);  // the first NaN operand wins, quieted
      if (std::isnan(b)) return quieted(b);
      return below(a, b) == (op == ReduceOp::kMin) ? a : b;
  }
  return a;
}

// Half types: min/max pick an operand (quieting a NaN sets its top mantissa bit, which is what
// a round trip through fp32 does); the arithmetic widens both to fp32, combines in fp32 and
// rounds once.
inline uint16_t combineHalves(const HalfReference& format, ReduceOp op, uint16_t a, uint16_t b) {
  if (op == ReduceOp::kMin || op == ReduceOp::kMax) {
    if (format.isNan(a)) return a | format.quietBit;
    if (format.isNan(b)) return b | format.quietBit;
    return below(format.widen(a), format.widen(b)) == (op == ReduceOp::kMin) ? a : b;
  }
  return format.narrow(combineFloats(op, format.widen(a), format.widen(b)));
}

template <typename T, typename Combine>
void elementwise(void* dst, const void* a, const void* b, size_t count, Combine combine) {
  for (size_t i = 0; i < count; ++i) {
    T x, y;
    std::memcpy(&x, static_cast<const unsigned char*>(a) + i * sizeof(T), sizeof(T));
    std::memcpy(&y, static_cast<const unsigned char*>(b) + i * sizeof(T), sizeof(T));
    const T result = combine(x, y);
    std::memcpy(static_cast<unsigned char*>(dst) + i * sizeof(T), &result, sizeof(T));
  }
}

// dst[i] = a[i] op b[i]; dst must not alias a or b.
inline void reduce(DataType type, ReduceOp op, void* dst, const void* a, const void* b,
                   size_t count) {
  const auto integers = [op](auto x, auto y) { return combineIntegers(op, x, y); };
  const auto floats = [op](auto x, auto y) { return combineFloats(op, x, y); };
  const auto float16 = [op](uint16_t x, uint16_t y) {
    return combineHalves(kFloat16Reference, op, x, y);
  };
  const auto bfloat16 = [op](uint16_t x, uint16_t y) {
    return combineHalves(kBfloat16Reference, op, x, y);
  };
  switch (type) {
    case DataType::kInt8: return elementwise<int8_t>(dst, a, b, count, integers);
    case DataType::kUint8: return elementwise<uint8_t>(dst, a, b, count, integers);
    case DataType::kInt32: return elementwise<int32_t>(dst, a, b, count, integers);
    case DataType::kUint32: return elementwise<uint32_t>(dst, a, b, count, integers);
    case DataType::kInt64: return elementwise<int64_t>(dst, a, b, count, integers);
    case DataType::kUint64: return elementwise<uint64_t>(dst, a, b, count, integers);
    case DataType::kFloat16: return elementwise<uint16_t>(dst, a, b, count, float16);
    case DataType::kBfloat16: return elementwise<uint16_t>(dst, a, b, count, bfloat16);
    case DataType::kFloat32: return elementwise<float>(dst, a, b, count, floats);
    case DataType::kFloat64: return elementwise<double>(dst, a, b, count, floats);
  }
}

// The average's division: integers in 64 bits, truncating toward zero (C++ division does);
// floats in their own type; half types in fp32, rounded once.
template <typename T>
T divided(T value, int divisor) {
  if constexpr (std::is_floating_point_v<T>) {
    return value / static_cast<T>(divisor);
  } else if constexpr (std::is_signed_v<T>) {
    return static_cast<T>(static_cast<int64_t>(value) / divisor);
  } else {
    return static_cast<T>(static_cast<uint64_t>(value) / static_cast<uint64_t>(divisor));
  }
}

inline uint16_t dividedHalf(const HalfReference& format, uint16_t value, int divisor) {
  return format.narrow(format.widen(value) / static_cast<float>(divisor));
}

template <typename T, typename Divide>
void eachInPlace(void* data, size_t count, Divide divide) {
  auto* bytes = static_cast<unsigned char*>(data);
  for (size_t i = 0; i < count; ++i) {
    T value;
    std::memcpy(&value, bytes + i * sizeof(T), sizeof(T));
    value = divide(value);
    std::memcpy(bytes + i * sizeof(T), &value, sizeof(T));
  }
}

// dst[i] = dst[i] / divisor; a divisor of 1 leaves dst untouched (signalling NaNs included).
inline void finalizeAverage(DataType type, void* dst, size_t count, int divisor) {
  if (divisor == 1) return;
  const auto plain = [divisor](auto value) { return divided(value, divisor); };
  const auto float16 = [divisor](uint16_t h) { return dividedHalf(kFloat16Reference, h, divisor); };
  const auto bfloat16 = [divisor](uint16_t h) {
    return dividedHalf(kBfloat16Reference, h, divisor);
  };
  switch (type) {
    case DataType::kInt8: return eachInPlace<int8_t>(dst, count, plain);
    case DataType::kUint8: return eachInPlace<uint8_t>(dst, count, plain);
    case DataType::kInt32: return eachInPlace<int32_t>(dst, count, plain);
    case DataType::kUint32: return eachInPlace<uint32_t>(dst, count, plain);
    case DataType::kInt64: return eachInPlace<int64_t>(dst, count, plain);
    case DataType::kUint64: return eachInPlace<uint64_t>(dst, count, plain);
    case DataType::kFloat16: return eachInPlace<uint16_t>(dst, count, float16);
    case DataType::kBfloat16: return eachInPlace<uint16_t>(dst, count, bfloat16);
    case DataType::kFloat32: return eachInPlace<float>(dst, count, plain);
    case DataType::kFloat64: return eachInPlace<double>(dst, count, plain);
  }
}

}  // namespace gccl::testing::reference
