// float16 / bfloat16 conversions: half.h and every SIMD level's codec against an independent
// double-arithmetic reference (half_reference.h) — all 65536 bit patterns, every rounding
// boundary (ties, overflow, subnormals), and a million random floats.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "fp16/codec.h"
#include "fp16/half.h"
#include "half_reference.h"
#include "kernel_test_util.h"

namespace gccl::testing {
namespace {

std::vector<uint16_t> allPatterns() {
  std::vector<uint16_t> all(65536);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i);
  return all;
}

uint16_t referenceEncode(HalfFormat format, float f) {
  return format == HalfFormat::kFloat16 ? referenceFloatToHalf(f) : referenceFloatToBfloat16(f);
}

uint16_t scalarEncode(HalfFormat format, float f) {
  return format == HalfFormat::kFloat16 ? floatToHalf(f) : floatToBfloat16(f);
}

float scalarDecode(HalfFormat format, uint16_t h) {
  return format == HalfFormat::kFloat16 ? halfToFloat(h) : bfloat16ToFloat(h);
}

const char* nameOf(HalfFormat format) {
  return format == HalfFormat::kFloat16 ? "float16" : "bfloat16";
}

// half.h and encode() on every level must both equal the reference for every input.
void expectEncodeMatchesReference(HalfFormat format, const std::vector<float>& input) {
  std::vector<uint16_t> want(input.size());
  for (size_t i = 0; i < input.size(); ++i) {
    want[i] = referenceEncode(format, input[i]);
    ASSERT_EQ(scalarEncode(format, input[i]), want[i])
        << nameOf(format) << " half.h, input bits 0x" << std::hex << bitsOf(input[i]);
  }
  for (SimdLevel level : supportedLevels()) {
    ScopedSimdLevel scoped(level);
    std::vector<uint16_t> got(input.size());
    encode(format, got.data(), input.data(), input.size());
    for (size_t i = 0; i < input.size(); ++i) {
      ASSERT_EQ(got[i], want[i]) << nameOf(format) << " " << levelLabel(level) << ", input bits 0x"
                                 << std::hex << bitsOf(input[i]);
    }
  }
}

TEST(HalfConversion, EveryFloat16PatternDecodesExactly) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = halfToFloat(static_cast<uint16_t>(h));
    const double want = referenceHalfValue(static_cast<uint16_t>(h));
    const uint32_t sign = (h & 0x8000u) << 16;
    if (std::isnan(want)) {
      // NaNs come out quiet with their payload, as VCVTPH2PS does.
      EXPECT_EQ(bitsOf(f), sign | 0x7fc00000u | ((h & 0x3ffu) << 13)) << std::hex << h;
    } else {
      EXPECT_EQ(static_cast<double>(f), want) << std::hex << h;
      EXPECT_EQ(bitsOf(f) & 0x80000000u, sign) << std::hex << h;
    }
  }
}

// decode then encode must return every pattern unchanged, except that NaNs come back quiet.
TEST(HalfConversion, EveryPatternRoundTripsOnEveryLevel) {
  const std::vector<uint16_t> all = allPatterns();
  for (HalfFormat format : {HalfFormat::kFloat16, HalfFormat::kBfloat16}) {
    const uint16_t quietBit = format == HalfFormat::kFloat16 ? 0x0200 : 0x0040;
    const uint16_t exponent = format == HalfFormat::kFloat16 ? 0x7c00 : 0x7f80;
    for (SimdLevel level : supportedLevels()) {
      ScopedSimdLevel scoped(level);
      std::vector<float> wide(all.size());
      std::vector<uint16_t> back(all.size());
      decode(format, wide.data(), all.data(), all.size());
      encode(format, back.data(), wide.data(), wide.size());
      for (size_t h = 0; h < all.size(); ++h) {
        const float scalar = scalarDecode(format, all[h]);
        ASSERT_EQ(bitsOf(wide[h]), bitsOf(scalar)) << nameOf(format) << " " << levelLabel(level);
        const bool nan = (h & exponent) == exponent && (h & ~(exponent | 0x8000)) != 0;
        ASSERT_EQ(back[h], nan ? (h | quietBit) : h) << nameOf(format) << " " << levelLabel(level);
      }
    }
  }
}

// For each pair of neighbouring finite float16 values: the midpoint (a tie), one float ulp on
// either side of it, and the value itself; the last midpoint is 65520, where overflow begins.
TEST(HalfConversion, Float16RoundingBoundaries) {
  std::vector<float> input;
  for (uint16_t h = 0; h <= 0x7bff; ++h) {
    const double low = referenceHalfValue(h);
    const double high = h == 0x7bff ? 65536.0 : referenceHalfValue(h + 1);
    const float mid = static_cast<float>((low + high) / 2);  // exact: 12 significant bits
    for (float f :
         {static_cast<float>(low), mid, std::nextafter(mid, 0.0f), std::nextafter(mid, INFINITY)}) {
      input.push_back(f);
      input.push_back(-f);
    }
  }
  for (float f : {65536.0f, 1e10f, std::numeric_limits<float>::max(),
                  std::numeric_limits<float>::denorm_min(), std::ldexp(1.0f, -25),
                  std::numeric_limits<float>::infinity()}) {
    input.push_back(f);
    input.push_back(-f);
  }
  expectEncodeMatchesReference(HalfFormat::kFloat16, input);
}

// bfloat16 values are the top halves of floats: the midpoint of h and h + 1 has bits
// (h << 16) | 0x8000. Covers subnormals and the overflow tie at the largest finite value.
TEST(HalfConversion, Bfloat16RoundingBoundaries) {
  std::vector<float> input;
  for (uint32_t h = 0; h <= 0x7f7f; ++h) {
    const uint32_t mid = (h << 16) | 0x8000u;
    for (uint32_t bits : {h << 16, mid, mid - 1, mid + 1, (h << 16) | 0xffffu}) {
      input.push_back(floatOf(bits));
      input.push_back(floatOf(bits | 0x80000000u));
    }
  }
  expectEncodeMatchesReference(HalfFormat::kBfloat16, input);
}

// Half of the inputs are arbitrary bit patterns (NaN payloads, huge and tiny values); the other
// half have exponents around the float16 range, where the rounding is interesting.
std::vector<float> randomFloats(size_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<float> out(count);
  for (float& f : out) {
    const uint32_t bits = static_cast<uint32_t>(rng());
    const uint32_t exponent = 127 - 27 + static_cast<uint32_t>(rng() % 45);  // 2^-27 .. 2^17
    f = floatOf(rng() % 2 ? bits : (bits & 0x807fffffu) | (exponent << 23));
  }
  return out;
}

TEST(HalfConversion, MillionRandomFloatsMatchReference) {
  const std::vector<float> input = randomFloats(1000000, 42);
  expectEncodeMatchesReference(HalfFormat::kFloat16, input);
  expectEncodeMatchesReference(HalfFormat::kBfloat16, input);
}

}  // namespace
}  // namespace gccl::testing
