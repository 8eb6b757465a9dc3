// float16 / bfloat16 conversions: half.h and every SIMD level's codec against an independent
// double-arithmetic reference (half_reference.h) — all 65536 bit patterns, every rounding
// boundary (ties, overflow, subnormals), and a million random floats. half.h is not dispatched
// by level, so its tests are plain TESTs; the codec's run once per level.
#include <gtest/gtest.h>

#include <cfenv>
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

const HalfReference& referenceOf(HalfFormat format) {
  return format == HalfFormat::kFloat16 ? kFloat16Reference : kBfloat16Reference;
}

uint16_t halfHEncode(HalfFormat format, float f) {
  return format == HalfFormat::kFloat16 ? floatToHalf(f) : floatToBfloat16(f);
}

float halfHDecode(HalfFormat format, uint16_t h) {
  return format == HalfFormat::kFloat16 ? halfToFloat(h) : bfloat16ToFloat(h);
}

// For each pair of neighbouring finite float16 values: the midpoint (a tie), one float ulp on
// either side of it, and the value itself; the last midpoint is 65520, where overflow begins.
std::vector<float> float16Boundaries() {
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
  return input;
}

// bfloat16 values are the top halves of floats: the midpoint of h and h + 1 has bits
// (h << 16) | 0x8000. Covers subnormals and the overflow tie at the largest finite value.
std::vector<float> bfloat16Boundaries() {
  std::vector<float> input;
  for (uint32_t h = 0; h <= 0x7f7f; ++h) {
    const uint32_t mid = (h << 16) | 0x8000u;
    for (uint32_t bits : {h << 16, mid, mid - 1, mid + 1, (h << 16) | 0xffffu}) {
      input.push_back(floatOf(bits));
      input.push_back(floatOf(bits | 0x80000000u));
    }
  }
  return input;
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

// half.h's scalar conversion must equal the reference for every input.
void expectHalfHEncodeMatchesReference(HalfFormat format, const std::vector<float>& input) {
  const HalfReference& reference = referenceOf(format);
  for (float f : input) {
    ASSERT_EQ(halfHEncode(format, f), reference.narrow(f))
        << reference.name << " half.h, input bits 0x" << std::hex << bitsOf(f);
  }
}

// encode() on the active level must equal the reference for every input.
void expectEncodeMatchesReference(HalfFormat format, const std::vector<float>& input) {
  const HalfReference& reference = referenceOf(format);
  std::vector<uint16_t> got(input.size());
  encode(format, got.data(), input.data(), input.size());
  for (size_t i = 0; i < input.size(); ++i) {
    ASSERT_EQ(got[i], reference.narrow(input[i]))
        << reference.name << " " << levelLabel(activeSimdLevel()) << ", input bits 0x" << std::hex
        << bitsOf(input[i]);
  }
}

// Decoding is exact: bit-identical floats, NaNs quiet with their payload (float16) or unchanged
// (bfloat16, whose decode is a shift).
::testing::AssertionResult decodesLikeReference(HalfFormat format, uint16_t h, float got) {
  const float want = referenceOf(format).widen(h);
  if (bitsOf(got) == bitsOf(want)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << referenceOf(format).name << " 0x" << std::hex << h
                                       << ": got 0x" << bitsOf(got) << ", want 0x" << bitsOf(want);
}

TEST(HalfH, EveryPatternDecodesExactly) {
  for (HalfFormat format : {HalfFormat::kFloat16, HalfFormat::kBfloat16}) {
    for (uint16_t h : allPatterns()) {
      ASSERT_TRUE(decodesLikeReference(format, h, halfHDecode(format, h)));
    }
  }
}

// The reference itself, on values worked out by hand.
TEST(HalfH, ReferenceDecodesKnownPatterns) {
  EXPECT_EQ(referenceHalfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(referenceHalfToFloat(0xc000), -2.0f);
  EXPECT_EQ(referenceHalfToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(referenceHalfToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(referenceHalfToFloat(0x0400), std::ldexp(1.0f, -14));
  EXPECT_EQ(bitsOf(referenceHalfToFloat(0x8000)), 0x80000000u);
  EXPECT_EQ(bitsOf(referenceHalfToFloat(0xfc00)), 0xff800000u);
  EXPECT_EQ(bitsOf(referenceHalfToFloat(0x7c01)), 0x7fc02000u);  // quieted, payload kept
  EXPECT_EQ(referenceBfloat16ToFloat(0x3f80), 1.0f);
  EXPECT_EQ(referenceBfloat16ToFloat(0xc040), -3.0f);
}

TEST(HalfH, ReferenceEncodesKnownValues) {
  EXPECT_EQ(referenceFloatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(referenceFloatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(referenceFloatToHalf(65519.0f), 0x7bff);
  EXPECT_EQ(referenceFloatToHalf(65520.0f), 0x7c00);                      // the tie rounds to inf
  EXPECT_EQ(referenceFloatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie to even
  EXPECT_EQ(referenceFloatToHalf(35000.0f), 0x7846);                      // 35008 is nearest
  EXPECT_EQ(referenceFloatToHalf(std::ldexp(1.0f, -25)), 0x0000);         // tie to even 0
  EXPECT_EQ(referenceFloatToHalf(floatOf(0x7f800001)), 0x7e00);  // quieted, low payload lost
  EXPECT_EQ(referenceFloatToBfloat16(1.0f), 0x3f80);
  EXPECT_EQ(referenceFloatToBfloat16(floatOf(0x3f808000)), 0x3f80);  // tie to even
  EXPECT_EQ(referenceFloatToBfloat16(floatOf(0x3f818000)), 0x3f82);  // tie to even, upwards
  EXPECT_EQ(referenceFloatToBfloat16(floatOf(0x7f7f8000)), 0x7f80);  // overflow tie: inf
  EXPECT_EQ(referenceFloatToBfloat16(floatOf(0x00008000)), 0x0000);  // subnormal tie, kept
  EXPECT_EQ(referenceFloatToBfloat16(floatOf(0xff800001)), 0xffc0);  // quieted
}

TEST(HalfH, EncodeMatchesReferenceAtRoundingBoundaries) {
  expectHalfHEncodeMatchesReference(HalfFormat::kFloat16, float16Boundaries());
  expectHalfHEncodeMatchesReference(HalfFormat::kBfloat16, bfloat16Boundaries());
}

TEST(HalfH, EncodeMatchesReferenceOnMillionRandomFloats) {
  const std::vector<float> input = randomFloats(1000000, 42);
  expectHalfHEncodeMatchesReference(HalfFormat::kFloat16, input);
  expectHalfHEncodeMatchesReference(HalfFormat::kBfloat16, input);
}

class HalfCodec : public EachSimdLevel {};

TEST_P(HalfCodec, EveryPatternDecodesExactly) {
  const std::vector<uint16_t> all = allPatterns();
  for (HalfFormat format : {HalfFormat::kFloat16, HalfFormat::kBfloat16}) {
    std::vector<float> wide(all.size());
    decode(format, wide.data(), all.data(), all.size());
    for (size_t i = 0; i < all.size(); ++i) {
      ASSERT_TRUE(decodesLikeReference(format, all[i], wide[i])) << levelLabel(level());
    }
  }
}

// decode then encode must return every pattern unchanged, except that NaNs come back quiet.
TEST_P(HalfCodec, EveryPatternRoundTrips) {
  const std::vector<uint16_t> all = allPatterns();
  for (HalfFormat format : {HalfFormat::kFloat16, HalfFormat::kBfloat16}) {
    const HalfReference& reference = referenceOf(format);
    std::vector<float> wide(all.size());
    std::vector<uint16_t> back(all.size());
    decode(format, wide.data(), all.data(), all.size());
    encode(format, back.data(), wide.data(), wide.size());
    for (uint16_t h : all) {
      const uint16_t want = reference.isNan(h) ? h | reference.quietBit : h;
      ASSERT_EQ(back[h], want) << reference.name << " " << levelLabel(level()) << " 0x" << std::hex
                               << h;
    }
  }
}

TEST_P(HalfCodec, Float16RoundingBoundaries) {
  expectEncodeMatchesReference(HalfFormat::kFloat16, float16Boundaries());
}

TEST_P(HalfCodec, Bfloat16RoundingBoundaries) {
  expectEncodeMatchesReference(HalfFormat::kBfloat16, bfloat16Boundaries());
}

TEST_P(HalfCodec, MillionRandomFloatsMatchReference) {
  const std::vector<float> input = randomFloats(1000000, 42);
  expectEncodeMatchesReference(HalfFormat::kFloat16, input);
  expectEncodeMatchesReference(HalfFormat::kBfloat16, input);
}

// A thread may run under another rounding mode: the conversions must not follow it (the vector
// instructions fix round to nearest even, so a scalar tail that followed it would differ from
// the lanes beside it). The reference rounds with nearbyint, so it runs under the default.
TEST_P(HalfCodec, EncodingIgnoresTheRoundingMode) {
  for (HalfFormat format : {HalfFormat::kFloat16, HalfFormat::kBfloat16}) {
    const std::vector<float> input =
        format == HalfFormat::kFloat16 ? float16Boundaries() : bfloat16Boundaries();
    std::vector<uint16_t> want(input.size());
    for (size_t i = 0; i < input.size(); ++i) want[i] = referenceOf(format).narrow(input[i]);
    for (int mode : {FE_TOWARDZERO, FE_UPWARD, FE_DOWNWARD}) {
      std::vector<uint16_t> got(input.size()), scalar(input.size());
      ASSERT_EQ(std::fesetround(mode), 0);
      encode(format, got.data(), input.data(), input.size());
      for (size_t i = 0; i < input.size(); ++i) scalar[i] = halfHEncode(format, input[i]);
      std::fesetround(FE_TONEAREST);
      for (size_t i = 0; i < input.size(); ++i) {
        ASSERT_EQ(got[i], want[i])
            << referenceOf(format).name << " " << levelLabel(level()) << ", mode " << mode
            << ", input bits 0x" << std::hex << bitsOf(input[i]);
        ASSERT_EQ(scalar[i], want[i])
            << "half.h, mode " << mode << ", input bits 0x" << std::hex << bitsOf(input[i]);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Simd, HalfCodec, ::testing::ValuesIn(kAllSimdLevels), levelName);

}  // namespace
}  // namespace gccl::testing
