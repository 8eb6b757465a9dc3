// float16 / bfloat16 <-> fp32 for sixteen lanes with AVX-512 F/BW/VL, bit-exact with half.h.
// Include only from translation units compiled with the AVX-512 flags (see kernels.cmake).
// Loads and stores take a lane mask so loop tails need no scalar code.
#pragma once

#include "base/x86_intrinsics.h"

namespace gccl::avx512 {

inline __m256i loadHalfBits(const void* p, __mmask16 mask) {
  return _mm256_maskz_loadu_epi16(mask, p);
}

inline void storeHalfBits(void* p, __m256i h, __mmask16 mask) {
  _mm256_mask_storeu_epi16(p, mask, h);
}

struct Float16Lanes {
  static constexpr int kExponent = 0x7c00;  // all ones: inf or NaN
  static __m512 widen(__m256i h) { return _mm512_cvtph_ps(h); }
  static __m256i narrow(__m512 v) { return _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT); }
};

struct Bfloat16Lanes {
  static constexpr int kExponent = 0x7f80;
  static __m512 widen(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  // Round to nearest even on the integer bits, NaNs quieted (see half_avx2.h); 32-bit lanes
  // holding the bfloat16 in their low half. Not VCVTNEPS2BF16: it flushes subnormal inputs to
  // zero, and half.h keeps them.
  static __m512i roundedBits(__m512 v) {
    const __m512i bits = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
    const __m512i bias = _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff));
    const __mmask16 isNan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    const __m512i quiet = _mm512_set1_epi32(0x400000);
    const __m512i rounded = _mm512_mask_or_epi32(_mm512_add_epi32(bits, bias), isNan, bits, quiet);
    return _mm512_srli_epi32(rounded, 16);
  }
  static __m256i narrow(__m512 v) { return _mm512_cvtepi32_epi16(roundedBits(v)); }
};

// Thirty-two bfloat16 values as two fp32 vectors in lane-interleaved order (see half_avx2.h):
// unpack on the way in and pack on the way out, no cross-lane permute.
inline void widenInterleaved(__m512i h, __m512& lo, __m512& hi) {
  const __m512i zero = _mm512_setzero_si512();
  lo = _mm512_castsi512_ps(_mm512_unpacklo_epi16(zero, h));
  hi = _mm512_castsi512_ps(_mm512_unpackhi_epi16(zero, h));
}

inline __m512i narrowInterleaved(__m512 lo, __m512 hi) {
  return _mm512_packus_epi32(Bfloat16Lanes::roundedBits(lo), Bfloat16Lanes::roundedBits(hi));
}

// Lanes where h is inf or NaN (exponent field all ones).
template <typename Lanes>
__mmask16 nonFiniteLanes(__m256i h) {
  const __m256i exponent = _mm256_set1_epi16(static_cast<short>(Lanes::kExponent));
  return _mm256_cmpeq_epi16_mask(_mm256_and_si256(h, exponent), exponent);
}

}  // namespace gccl::avx512
