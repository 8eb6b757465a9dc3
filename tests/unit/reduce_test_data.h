// Inputs and comparisons for the reduction kernel tests: random buffers of any DataType with a
// share of special values, and an element-wise comparison that knows which NaN payloads
// reduce.h leaves unspecified. Built without the library's own conversions (half.h).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <vector>

#include "base/dtype.h"
#include "half_reference.h"
#include "kernel_test_util.h"

namespace gccl::testing {

using Buffer = std::vector<unsigned char>;

template <typename F>
using BitsOf = std::conditional_t<sizeof(F) == 4, uint32_t, uint64_t>;

// A NaN whose low mantissa bits carry a payload, to see which operand a result came from.
template <typename F>
F nanWithPayload(F nan, BitsOf<F> payload) {
  return bitCast<F>(static_cast<BitsOf<F>>(bitCast<BitsOf<F>>(nan) | payload));
}

template <typename F>
const std::vector<F>& specialFloats() {
  using L = std::numeric_limits<F>;
  const F inf = L::infinity(), nan = L::quiet_NaN(), tiny = L::denorm_min();
  const F nanA = nanWithPayload(nan, 0x15), signallingB = nanWithPayload(-L::signaling_NaN(), 0x2a);
  static const std::vector<F> values = {0,     -F(0),    1,        -1,       3.5,         inf,
                                        -inf,  nan,      -nan,     nanA,     signallingB, tiny,
                                        -tiny, L::min(), L::max(), -L::max()};
  return values;
}

inline const std::vector<uint16_t>& specialHalves(DataType type) {
  static const std::vector<uint16_t> float16 = {0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0xfe00,
                                                0x7e15, 0x7c01, 0x0001, 0x8001, 0x03ff, 0x0400,
                                                0x7bff, 0xfbff, 0x3c00, 0xbc00};
  static const std::vector<uint16_t> bfloat16 = {0x0000, 0x8000, 0x7f80, 0xff80, 0x7fc0, 0xffc0,
                                                 0x7fd5, 0x7f81, 0x0001, 0x8001, 0x007f, 0x0080,
                                                 0x7f7f, 0xff7f, 0x3f80, 0xbf80};
  return type == DataType::kFloat16 ? float16 : bfloat16;
}

// The special values of a floating-point type as raw bytes.
inline Buffer specialValues(DataType type) {
  auto bytesOf = [](const auto& values) {
    Buffer out(values.size() * sizeof(values[0]));
    std::memcpy(out.data(), values.data(), out.size());
    return out;
  };
  if (type == DataType::kFloat32) return bytesOf(specialFloats<float>());
  if (type == DataType::kFloat64) return bytesOf(specialFloats<double>());
  return bytesOf(specialHalves(type));
}

template <typename T>
void put(Buffer& out, size_t i, T value) {
  std::memcpy(out.data() + i * sizeof(T), &value, sizeof(T));
}

// One element in four is special (NaN, inf, ±0, subnormal, extremes); the rest are ordinary
// values. Integers are uniformly random bits, so sums and products wrap often.
inline Buffer randomBuffer(DataType type, size_t count, std::mt19937_64& rng) {
  Buffer out(count * dataTypeSize(type));
  std::uniform_real_distribution<double> ordinary(-300.0, 300.0);
  auto special = [&](const auto& list) { return list[rng() % list.size()]; };
  for (size_t i = 0; i < count; ++i) {
    const bool pickSpecial = rng() % 4 == 0;
    switch (type) {
      case DataType::kFloat32:
        put(out, i, pickSpecial ? special(specialFloats<float>()) : float(ordinary(rng)));
        break;
      case DataType::kFloat64:
        put(out, i, pickSpecial ? special(specialFloats<double>()) : ordinary(rng));
        break;
      case DataType::kFloat16:
      case DataType::kBfloat16: {
        const uint16_t bits = rng() % 2 ? uint16_t(rng()) : special(specialHalves(type));
        const float value = float(ordinary(rng));
        const uint16_t plain = type == DataType::kFloat16 ? referenceFloatToHalf(value)
                                                          : referenceFloatToBfloat16(value);
        put(out, i, pickSpecial ? bits : plain);
        break;
      }
      default:
        for (size_t b = 0; b < dataTypeSize(type); ++b) out[i * dataTypeSize(type) + b] = rng();
    }
  }
  return out;
}

// Two buffers that together hold every (x, y) with x from xs and y from ys (raw elements).
struct Pairs {
  Buffer a, b;
  size_t count = 0;
};

inline Pairs everyPair(DataType type, const Buffer& xs, const Buffer& ys) {
  const size_t size = dataTypeSize(type);
  const size_t nx = xs.size() / size, ny = ys.size() / size;
  Pairs pairs{Buffer(nx * ny * size), Buffer(nx * ny * size), nx * ny};
  for (size_t i = 0; i < nx; ++i) {
    for (size_t j = 0; j < ny; ++j) {
      std::memcpy(&pairs.a[(i * ny + j) * size], &xs[i * size], size);
      std::memcpy(&pairs.b[(i * ny + j) * size], &ys[j * size], size);
    }
  }
  return pairs;
}

template <typename T>
T load(const unsigned char* p) {
  T value;
  std::memcpy(&value, p, sizeof value);
  return value;
}

inline bool isNanElement(DataType type, const unsigned char* p) {
  switch (type) {
    case DataType::kFloat16: return (load<uint16_t>(p) & 0x7fff) > 0x7c00;
    case DataType::kBfloat16: return (load<uint16_t>(p) & 0x7fff) > 0x7f80;
    case DataType::kFloat32: return std::isnan(load<float>(p));
    case DataType::kFloat64: return std::isnan(load<double>(p));
    default: return false;
  }
}

inline std::string hexBytes(const unsigned char* p, size_t n) {
  std::ostringstream out;
  for (size_t i = n; i-- > 0;) out << std::hex << (p[i] >> 4) << (p[i] & 15);  // little endian
  return out.str();
}

// Bit-exact, except that sum/prod/avg of floats may pick either NaN operand's payload.
inline ::testing::AssertionResult sameElements(DataType type, ReduceOp op, const unsigned char* got,
                                               const unsigned char* want, size_t count) {
  const size_t size = dataTypeSize(type);
  const bool anyNan = isFloatingPoint(type) && op != ReduceOp::kMin && op != ReduceOp::kMax;
  for (size_t i = 0; i < count; ++i) {
    const unsigned char* g = got + i * size;
    const unsigned char* w = want + i * size;
    if (std::memcmp(g, w, size) == 0) continue;
    if (anyNan && isNanElement(type, g) && isNanElement(type, w)) continue;
    return ::testing::AssertionFailure() << "element " << i << " of " << count << ": got 0x"
                                         << hexBytes(g, size) << ", want 0x" << hexBytes(w, size);
  }
  return ::testing::AssertionSuccess();
}

}  // namespace gccl::testing
