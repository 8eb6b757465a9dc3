// Independent reference conversions for the half tests, written with double arithmetic
// (frexp / ldexp / nearbyint under the default round-to-nearest-even mode) rather than the bit
// tricks of half.h, so the two implementations can check each other. Nothing here includes the
// library: the reduction and codec tests build their expected values from these functions.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernel_test_util.h"

namespace gccl::testing {

inline double referenceHalfValue(uint16_t h) {
  const int exponent = (h >> 10) & 0x1f;
  const int mantissa = h & 0x3ff;
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  if (exponent == 0x1f) return mantissa ? std::nan("") : sign * INFINITY;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

// float16 -> float, exact. A NaN comes out quiet with its payload, as VCVTPH2PS does.
inline float referenceHalfToFloat(uint16_t h) {
  const double value = referenceHalfValue(h);
  if (!std::isnan(value)) return static_cast<float>(value);
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  return floatOf(sign | 0x7fc00000u | (static_cast<uint32_t>(h & 0x3ff) << 13));
}

// bfloat16 -> float: by definition the top half of a float (a NaN keeps its bits).
inline float referenceBfloat16ToFloat(uint16_t b) {
  return floatOf(static_cast<uint32_t>(b) << 16);
}

// The IEEE exponent of |x| > 0: x in [2^e, 2^(e+1)).
inline int exponentOf(double x) {
  int e = 0;
  std::frexp(x, &e);
  return e - 1;
}

// Rounds |x| to a multiple of 2^quantumExponent, ties to even (nearbyint in the default mode).
inline double roundToQuantum(double x, int quantumExponent) {
  return std::nearbyint(std::ldexp(x, -quantumExponent));
}

// float -> float16, round to nearest even. NaN: quiet, top ten payload bits kept (x86 rule).
inline uint16_t referenceFloatToHalf(float f) {
  const uint32_t bits = bitsOf(f);
  const uint16_t sign = (bits >> 16) & 0x8000;
  if (std::isnan(f)) return sign | 0x7e00 | ((bits >> 13) & 0x3ff);
  const double x = std::fabs(static_cast<double>(f));
  if (x >= 65520.0) return sign | 0x7c00;  // 65520 is halfway from 65504 to 2^16: to even (inf)
  if (x < std::ldexp(1.0, -14)) {
    return sign | static_cast<uint16_t>(roundToQuantum(x, -24));  // 1024 is the smallest normal
  }
  int e = exponentOf(x);
  double m = roundToQuantum(x, e - 10);  // in [1024, 2048]
  if (m == 2048) {
    m = 1024;
    ++e;
  }
  return sign | static_cast<uint16_t>(((e + 15) << 10) | (static_cast<int>(m) - 1024));
}

// float -> bfloat16, round to nearest even, subnormals kept. NaN: quiet, top payload bits kept.
inline uint16_t referenceFloatToBfloat16(float f) {
  const uint32_t bits = bitsOf(f);
  if (std::isnan(f)) return static_cast<uint16_t>((bits >> 16) | 0x40);
  const uint16_t sign = (bits >> 16) & 0x8000;
  const double x = std::fabs(static_cast<double>(f));
  if (x == 0) return sign;
  // Eight significant bits; below 2^-126 the quantum stays 2^-133 (bfloat16 subnormals).
  const int quantum = x < std::ldexp(1.0, -126) ? -133 : exponentOf(x) - 7;
  const double rounded = std::ldexp(roundToQuantum(x, quantum), quantum);
  if (rounded >= std::ldexp(1.0, 128)) return sign | 0x7f80;
  return sign | static_cast<uint16_t>(bitsOf(static_cast<float>(rounded)) >> 16);
}

// The two half formats behind one description, for tests that sweep both.
struct HalfReference {
  const char* name;
  float (*widen)(uint16_t);
  uint16_t (*narrow)(float);
  uint16_t exponentMask;  // all ones: inf or NaN
  uint16_t quietBit;      // the top mantissa bit

  bool isNan(uint16_t h) const { return (h & 0x7fff) > exponentMask; }
  bool isNonFinite(uint16_t h) const { return (h & exponentMask) == exponentMask; }
};

inline constexpr HalfReference kFloat16Reference = {"float16", referenceHalfToFloat,
                                                    referenceFloatToHalf, 0x7c00, 0x0200};
inline constexpr HalfReference kBfloat16Reference = {"bfloat16", referenceBfloat16ToFloat,
                                                     referenceFloatToBfloat16, 0x7f80, 0x0040};

}  // namespace gccl::testing
