// The codec.h operations on every SIMD level against their formulas, written in fp32 with the
// test's own conversions (half_reference.h, not the library's half.h): encode with a scale,
// decode, decodeAccumulate, accumulateEncode, the sticky non-finite flag, odd lengths, 16-bit
// buffers at odd addresses, and dst aliasing src.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "fp16/codec.h"
#include "half_reference.h"
#include "kernel_test_util.h"

namespace gccl::testing {
namespace {

constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
constexpr std::array kFormats = {HalfFormat::kFloat16, HalfFormat::kBfloat16};
constexpr std::array kScales = {1.0f, 0.125f, 1.0f / 3.0f, 1.0f / 7.0f};

const HalfReference& referenceOf(HalfFormat f) {
  return f == HalfFormat::kFloat16 ? kFloat16Reference : kBfloat16Reference;
}
uint16_t narrow(HalfFormat f, float v) {
  return referenceOf(f).narrow(v);
}
float widen(HalfFormat f, uint16_t h) {
  return referenceOf(f).widen(h);
}
bool nonFinite(HalfFormat f, uint16_t h) {
  return referenceOf(f).isNonFinite(h);
}
bool isNan(HalfFormat f, uint16_t h) {
  return referenceOf(f).isNan(h);
}

// Bit-exact, except that a NaN sum of two NaNs may carry either payload (codec.h).
::testing::AssertionResult sameSum(float got, float want) {
  if (bitsOf(got) == bitsOf(want) || (std::isnan(got) && std::isnan(want))) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << std::hex << bitsOf(got) << " != " << bitsOf(want);
}
::testing::AssertionResult sameSum(HalfFormat f, uint16_t got, uint16_t want) {
  if (got == want || (isNan(f, got) && isNan(f, want))) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << std::hex << got << " != " << want;
}

// acc * scale + x with the product rounded to fp32 first, as the kernels do: the volatile stops
// the compiler from fusing the two into an FMA however this test is built.
float scaledSum(float acc, float scale, float x) {
  volatile float product = acc * scale;
  return product + x;
}

// 16-bit values kept at an odd address, as they may arrive from the wire.
class OddBuffer {
 public:
  explicit OddBuffer(size_t count) : bytes_(2 * count + 1) {}
  void* data() { return bytes_.data() + 1; }
  uint16_t get(size_t i) const {
    uint16_t h;
    std::memcpy(&h, bytes_.data() + 1 + 2 * i, 2);
    return h;
  }
  void set(size_t i, uint16_t h) { std::memcpy(bytes_.data() + 1 + 2 * i, &h, 2); }

 private:
  std::vector<unsigned char> bytes_;
};

struct Inputs {
  std::vector<float> wide;       // ordinary values, with the odd special
  std::vector<uint16_t> narrow;  // encoded ordinary values
};

Inputs randomInputs(HalfFormat f, size_t count, std::mt19937_64& rng, bool specials) {
  std::uniform_real_distribution<float> value(-300.0f, 300.0f);
  Inputs in{std::vector<float>(count), std::vector<uint16_t>(count)};
  for (size_t i = 0; i < count; ++i) {
    in.wide[i] = value(rng);
    in.narrow[i] = narrow(f, value(rng));
    if (specials && rng() % 16 == 0) in.wide[i] = rng() % 2 ? kNan : 1e30f;
    if (specials && rng() % 16 == 0) in.narrow[i] = static_cast<uint16_t>(rng());
  }
  return in;
}

// Every operation on the active level.
void checkAllOps(HalfFormat f, size_t count, float scale, const Inputs& in) {
  OddBuffer src(count);
  for (size_t i = 0; i < count; ++i) src.set(i, in.narrow[i]);
  SCOPED_TRACE(levelLabel(activeSimdLevel()) + " count=" + std::to_string(count) +
               " scale=" + std::to_string(scale));
  bool wantFlag = false, flag = false;
  OddBuffer out(count);
  encode(f, out.data(), in.wide.data(), count, scale, &flag);
  for (size_t i = 0; i < count; ++i) {
    const uint16_t want = narrow(f, in.wide[i] * scale);
    ASSERT_EQ(out.get(i), want) << "encode " << i;
    wantFlag |= nonFinite(f, want);
  }
  ASSERT_EQ(flag, wantFlag) << "encode flag";

  std::vector<float> decoded(count);
  flag = wantFlag = false;
  decode(f, decoded.data(), src.data(), count, &flag);
  for (size_t i = 0; i < count; ++i) {
    ASSERT_EQ(bitsOf(decoded[i]), bitsOf(widen(f, in.narrow[i]))) << "decode " << i;
    wantFlag |= nonFinite(f, in.narrow[i]);
  }
  ASSERT_EQ(flag, wantFlag) << "decode flag";

  std::vector<float> acc = in.wide;
  flag = wantFlag = false;
  decodeAccumulate(f, acc.data(), src.data(), count, scale, &flag);
  for (size_t i = 0; i < count; ++i) {
    const float want = scaledSum(in.wide[i], scale, widen(f, in.narrow[i]));
    ASSERT_TRUE(sameSum(acc[i], want)) << "decodeAccumulate " << i;
    wantFlag |= !std::isfinite(want);
  }
  ASSERT_EQ(flag, wantFlag) << "decodeAccumulate flag";

  OddBuffer inPlace = src;  // dst aliases src exactly
  flag = wantFlag = false;
  accumulateEncode(f, inPlace.data(), in.wide.data(), inPlace.data(), count, scale, &flag);
  for (size_t i = 0; i < count; ++i) {
    const uint16_t want = narrow(f, scaledSum(in.wide[i], scale, widen(f, in.narrow[i])));
    ASSERT_TRUE(sameSum(f, inPlace.get(i), want)) << "accumulateEncode " << i;
    wantFlag |= nonFinite(f, want);
  }
  ASSERT_EQ(flag, wantFlag) << "accumulateEncode flag";
}

class CodecOps : public EachSimdLevel {};

TEST_P(CodecOps, MatchTheFormulas) {
  std::mt19937_64 rng(7);
  for (HalfFormat f : kFormats) {
    SCOPED_TRACE(f == HalfFormat::kFloat16 ? "float16" : "bfloat16");
    for (float scale : kScales) {
      for (size_t count = 0; count <= 70; ++count) {
        for (bool specials : {false, true}) {
          const Inputs in = randomInputs(f, count, rng, specials);
          ASSERT_NO_FATAL_FAILURE(checkAllOps(f, count, scale, in));
        }
      }
      ASSERT_NO_FATAL_FAILURE(checkAllOps(f, 100003, scale, randomInputs(f, 100003, rng, true)));
    }
  }
}

TEST_P(CodecOps, Float16OverflowRaisesTheFlagButBfloat16DoesNot) {
  const std::vector<float> big(33, 70000.0f);
  std::vector<uint16_t> out(big.size());
  bool flag = false;
  encode(HalfFormat::kFloat16, out.data(), big.data(), big.size(), 1.0f, &flag);
  EXPECT_TRUE(flag) << levelLabel(level());
  EXPECT_EQ(out[0], 0x7c00) << levelLabel(level());
  flag = false;
  encode(HalfFormat::kFloat16, out.data(), big.data(), big.size(), 0.5f, &flag);  // 35000
  EXPECT_FALSE(flag) << levelLabel(level());
  EXPECT_EQ(out[32], 0x7846) << levelLabel(level());  // 35008, the nearest float16
  encode(HalfFormat::kBfloat16, out.data(), big.data(), big.size(), 1.0f, &flag);
  EXPECT_FALSE(flag) << levelLabel(level());
}

TEST_P(CodecOps, FlagIsStickyAndOptional) {
  const std::vector<float> finite(40, 1.5f);
  std::vector<uint16_t> out(finite.size());
  bool flag = true;  // raised by an earlier chunk: must stay raised
  encode(HalfFormat::kFloat16, out.data(), finite.data(), finite.size(), 1.0f, &flag);
  EXPECT_TRUE(flag) << levelLabel(level());
  encode(HalfFormat::kFloat16, out.data(), finite.data(), finite.size());  // no flag at all
  EXPECT_EQ(out[39], 0x3e00) << levelLabel(level());
}

// A NaN only in the last element must be seen (tails), and NaNs just past count must not
// (masked-off lanes).
TEST_P(CodecOps, FlagCoversTailsAndOnlyTheRange) {
  for (size_t count = 1; count <= 40; ++count) {
    SCOPED_TRACE(levelLabel(level()) + " count=" + std::to_string(count));
    std::vector<float> wide(64, kNan);
    std::vector<uint16_t> narrow16(64, 0x7e00);
    std::fill_n(wide.begin(), count, 2.0f);
    std::fill_n(narrow16.begin(), count, uint16_t{0x4000});
    std::vector<uint16_t> out(64);
    std::vector<float> acc = wide;
    bool flag = false;
    encode(HalfFormat::kFloat16, out.data(), wide.data(), count, 1.0f, &flag);
    decode(HalfFormat::kFloat16, acc.data(), narrow16.data(), count, &flag);
    decodeAccumulate(HalfFormat::kFloat16, acc.data(), narrow16.data(), count, 1.0f, &flag);
    accumulateEncode(HalfFormat::kFloat16, out.data(), wide.data(), narrow16.data(), count, 1.0f,
                     &flag);
    EXPECT_FALSE(flag);
    wide[count - 1] = kNan;
    encode(HalfFormat::kFloat16, out.data(), wide.data(), count, 1.0f, &flag);
    EXPECT_TRUE(flag);
    flag = false;
    narrow16[count - 1] = 0x7c00;
    decode(HalfFormat::kFloat16, acc.data(), narrow16.data(), count, &flag);
    EXPECT_TRUE(flag);
  }
}

INSTANTIATE_TEST_SUITE_P(Simd, CodecOps, ::testing::ValuesIn(kAllSimdLevels), levelName);

}  // namespace
}  // namespace gccl::testing
