// float16 / bfloat16 <-> fp32 for eight lanes with AVX2 + F16C, bit-exact with half.h.
// Include only from translation units compiled with -mavx2 -mf16c (see kernels.cmake): these
// inline functions must never be emitted into a file built for a lesser instruction set.
#pragma once

#include "base/x86_intrinsics.h"

namespace gccl::avx2 {

inline __m128i loadHalfBits(const void* p) {
  return _mm_loadu_si128(static_cast<const __m128i*>(p));
}

inline void storeHalfBits(void* p, __m128i h) {
  _mm_storeu_si128(static_cast<__m128i*>(p), h);
}

struct Float16Lanes {
  static constexpr int kExponent = 0x7c00;  // all ones: inf or NaN
  static __m256 widen(__m128i h) { return _mm256_cvtph_ps(h); }
  static __m128i narrow(__m256 v) { return _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT); }
  // Sixteen values, first then second, in element order.
  static __m256i narrow2(__m256 first, __m256 second) {
    return _mm256_set_m128i(narrow(second), narrow(first));
  }
};

struct Bfloat16Lanes {
  static constexpr int kExponent = 0x7f80;
  static __m256 widen(__m128i h) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  // Round to nearest even on the integer bits: add 0x7fff plus the lowest kept bit, keep the top
  // half. A NaN is quieted instead, so rounding can never turn it into an infinity. Returns
  // 32-bit lanes holding the bfloat16 in their low half.
  static __m256i roundedBits(__m256 v) {
    const __m256i bits = _mm256_castps_si256(v);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
    const __m256i bias = _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff));
    const __m256i rounded = _mm256_add_epi32(bits, bias);
    const __m256i quiet = _mm256_or_si256(bits, _mm256_set1_epi32(0x400000));
    const __m256i isNan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    return _mm256_srli_epi32(_mm256_blendv_epi8(rounded, quiet, isNan), 16);
  }
  // packus works within 128-bit lanes: quadwords 0 2 1 3 restore element order.
  static __m256i narrow2(__m256 first, __m256 second) {
    const __m256i packed = _mm256_packus_epi32(roundedBits(first), roundedBits(second));
    return _mm256_permute4x64_epi64(packed, 0xd8);
  }
  static __m128i narrow(__m256 v) { return _mm256_castsi256_si128(narrow2(v, v)); }
};

// Sixteen bfloat16 values as two fp32 vectors in lane-interleaved order: lo holds elements 0-3
// and 8-11, hi holds 4-7 and 12-15. Element-wise kernels do not care about the order, and
// narrowInterleaved restores it, so neither direction needs a cross-lane permute.
inline void widenInterleaved(__m256i h, __m256& lo, __m256& hi) {
  const __m256i zero = _mm256_setzero_si256();
  lo = _mm256_castsi256_ps(_mm256_unpacklo_epi16(zero, h));
  hi = _mm256_castsi256_ps(_mm256_unpackhi_epi16(zero, h));
}

inline __m256i narrowInterleaved(__m256 lo, __m256 hi) {
  return _mm256_packus_epi32(Bfloat16Lanes::roundedBits(lo), Bfloat16Lanes::roundedBits(hi));
}

// All-ones 16-bit lanes where h is inf or NaN (exponent field all ones).
template <typename Lanes>
__m256i nonFiniteLanes(__m256i h) {
  const __m256i exponent = _mm256_set1_epi16(static_cast<short>(Lanes::kExponent));
  return _mm256_cmpeq_epi16(_mm256_and_si256(h, exponent), exponent);
}

}  // namespace gccl::avx2
