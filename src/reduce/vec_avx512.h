// AVX-512 element traits for the reduction loops (see vec_avx2.h): the same arithmetic on
// 512-bit vectors, plus masked loads and stores so loop tails stay vectorised. Include only from
// translation units compiled with -mavx512f -mavx512bw -mavx512vl -mavx512dq (kernels.cmake).
#pragma once

#include "base/x86_intrinsics.h"

#include <cstddef>
#include <cstdint>

#include "fp16/half_avx512.h"
#include "reduce/reduce_loops.h"

namespace gccl::avx512 {

// The low n lanes of a mask type, n < the number of lanes.
template <typename Mask>
Mask lowLanes(size_t n) {
  return static_cast<Mask>((uint64_t{1} << n) - 1);
}

struct IntVec {
  using Vec = __m512i;
  static Vec load(const void* p) { return _mm512_loadu_si512(p); }
  static void store(void* p, Vec v) { _mm512_storeu_si512(p, v); }
  static void stream(void* p, Vec v) { _mm512_stream_si512(static_cast<__m512i*>(p), v); }
};

template <bool kSigned>
struct Int8 : IntVec {
  using Mask = __mmask64;
  static constexpr size_t kElemSize = 1, kLanes = 64;
  static Vec load(const void* p, Mask m) { return _mm512_maskz_loadu_epi8(m, p); }
  static void store(void* p, Vec v, Mask m) { _mm512_mask_storeu_epi8(p, m, v); }
  using IntVec::load, IntVec::store;
  static Vec add(Vec a, Vec b) { return _mm512_add_epi8(a, b); }
  // 16-bit products of the even and of the odd bytes; each supplies the low byte of its lanes.
  static Vec mul(Vec a, Vec b) {
    const Vec even = _mm512_mullo_epi16(a, b);
    const Vec odd = _mm512_mullo_epi16(_mm512_srli_epi16(a, 8), _mm512_srli_epi16(b, 8));
    return _mm512_mask_blend_epi8(0xaaaaaaaaaaaaaaaaull, even, _mm512_slli_epi16(odd, 8));
  }
  static Vec min(Vec a, Vec b) {
    if constexpr (kSigned) return _mm512_min_epi8(a, b);
    return _mm512_min_epu8(a, b);
  }
  static Vec max(Vec a, Vec b) {
    if constexpr (kSigned) return _mm512_max_epi8(a, b);
    return _mm512_max_epu8(a, b);
  }
};

template <bool kSigned>
struct Int32 : IntVec {
  using Mask = __mmask16;
  static constexpr size_t kElemSize = 4, kLanes = 16;
  static Vec load(const void* p, Mask m) { return _mm512_maskz_loadu_epi32(m, p); }
  static void store(void* p, Vec v, Mask m) { _mm512_mask_storeu_epi32(p, m, v); }
  using IntVec::load, IntVec::store;
  static Vec add(Vec a, Vec b) { return _mm512_add_epi32(a, b); }
  static Vec mul(Vec a, Vec b) { return _mm512_mullo_epi32(a, b); }
  static Vec min(Vec a, Vec b) {
    if constexpr (kSigned) return _mm512_min_epi32(a, b);
    return _mm512_min_epu32(a, b);
  }
  static Vec max(Vec a, Vec b) {
    if constexpr (kSigned) return _mm512_max_epi32(a, b);
    return _mm512_max_epu32(a, b);
  }
};

template <bool kSigned>
struct Int64 : IntVec {
  using Mask = __mmask8;
  static constexpr size_t kElemSize = 8, kLanes = 8;
  static Vec load(const void* p, Mask m) { return _mm512_maskz_loadu_epi64(m, p); }
  static void store(void* p, Vec v, Mask m) { _mm512_mask_storeu_epi64(p, m, v); }
  using IntVec::load, IntVec::store;
  static Vec add(Vec a, Vec b) { return _mm512_add_epi64(a, b); }
  static Vec mul(Vec a, Vec b) { return _mm512_mullo_epi64(a, b); }
  static Vec min(Vec a, Vec b) {
    if constexpr (kSigned) return _mm512_min_epi64(a, b);
    return _mm512_min_epu64(a, b);
  }
  static Vec max(Vec a, Vec b) {
    if constexpr (kSigned) return _mm512_max_epi64(a, b);
    return _mm512_max_epu64(a, b);
  }
};

// min/max rules of reduce.h with mask registers; see FloatMinMax in vec_avx2.h for the why.
template <typename Ops>
struct FloatMinMax {
  using Vec = typename Ops::Vec;
  static Vec min(Vec a, Vec b) { return fix<false>(Ops::min(a, b), a, b); }
  static Vec max(Vec a, Vec b) { return fix<true>(Ops::max(a, b), a, b); }
  template <bool kMax>
  static Vec fix(Vec r, Vec a, Vec b) {
    const auto equal = Ops::template cmp<_CMP_EQ_OQ>(a, b);
    r = kMax ? Ops::maskAnd(r, equal, a, b) : Ops::maskOr(r, equal, a, b);
    r = Ops::maskMov(r, Ops::template cmp<_CMP_UNORD_Q>(a, a), a);
    return Ops::maskOr(r, Ops::template cmp<_CMP_UNORD_Q>(a, b), r, Ops::quietBit());
  }
  // The second operand of a sum or product: a where a is NaN (see vec_avx2.h).
  static Vec nanFirst(Vec a, Vec b) {
    return Ops::maskMov(b, Ops::template cmp<_CMP_UNORD_Q>(a, a), a);
  }
};

struct PsOps {
  using Vec = __m512;
  using Mask = __mmask16;
  static Vec min(Vec a, Vec b) { return _mm512_min_ps(a, b); }
  static Vec max(Vec a, Vec b) { return _mm512_max_ps(a, b); }
  template <int kPredicate>
  static Mask cmp(Vec a, Vec b) {
    return _mm512_cmp_ps_mask(a, b, kPredicate);
  }
  static Vec maskOr(Vec r, Mask m, Vec a, Vec b) { return _mm512_mask_or_ps(r, m, a, b); }
  static Vec maskAnd(Vec r, Mask m, Vec a, Vec b) { return _mm512_mask_and_ps(r, m, a, b); }
  static Vec maskMov(Vec r, Mask m, Vec a) { return _mm512_mask_mov_ps(r, m, a); }
  static Vec quietBit() { return _mm512_castsi512_ps(_mm512_set1_epi32(0x400000)); }
};

struct PdOps {
  using Vec = __m512d;
  using Mask = __mmask8;
  static Vec min(Vec a, Vec b) { return _mm512_min_pd(a, b); }
  static Vec max(Vec a, Vec b) { return _mm512_max_pd(a, b); }
  template <int kPredicate>
  static Mask cmp(Vec a, Vec b) {
    return _mm512_cmp_pd_mask(a, b, kPredicate);
  }
  static Vec maskOr(Vec r, Mask m, Vec a, Vec b) { return _mm512_mask_or_pd(r, m, a, b); }
  static Vec maskAnd(Vec r, Mask m, Vec a, Vec b) { return _mm512_mask_and_pd(r, m, a, b); }
  static Vec maskMov(Vec r, Mask m, Vec a) { return _mm512_mask_mov_pd(r, m, a); }
  static Vec quietBit() { return _mm512_castsi512_pd(_mm512_set1_epi64(1ll << 51)); }
};

struct Float32 : FloatMinMax<PsOps> {
  using Mask = __mmask16;
  static constexpr size_t kElemSize = 4, kLanes = 16;
  static Vec load(const void* p) { return _mm512_loadu_ps(p); }
  static Vec load(const void* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(void* p, Vec v) { _mm512_storeu_ps(p, v); }
  static void stream(void* p, Vec v) { _mm512_stream_ps(static_cast<float*>(p), v); }
  static void store(void* p, Vec v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
  static Vec splat(int divisor) { return _mm512_set1_ps(static_cast<float>(divisor)); }
  static Vec reciprocal(int divisor) { return _mm512_set1_ps(1.0f / static_cast<float>(divisor)); }
  static Vec scale(Vec a, Vec factor) { return _mm512_mul_ps(a, factor); }
  static Vec add(Vec a, Vec b) { return _mm512_add_ps(a, nanFirst(a, b)); }
  static Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, nanFirst(a, b)); }
  static Vec div(Vec a, Vec b) { return _mm512_div_ps(a, b); }
};

struct Float64 : FloatMinMax<PdOps> {
  using Mask = __mmask8;
  static constexpr size_t kElemSize = 8, kLanes = 8;
  static Vec load(const void* p) { return _mm512_loadu_pd(p); }
  static Vec load(const void* p, Mask m) { return _mm512_maskz_loadu_pd(m, p); }
  static void store(void* p, Vec v) { _mm512_storeu_pd(p, v); }
  static void stream(void* p, Vec v) { _mm512_stream_pd(static_cast<double*>(p), v); }
  static void store(void* p, Vec v, Mask m) { _mm512_mask_storeu_pd(p, m, v); }
  static Vec splat(int divisor) { return _mm512_set1_pd(static_cast<double>(divisor)); }
  static Vec reciprocal(int divisor) { return _mm512_set1_pd(1.0 / static_cast<double>(divisor)); }
  static Vec scale(Vec a, Vec factor) { return _mm512_mul_pd(a, factor); }
  static Vec add(Vec a, Vec b) { return _mm512_add_pd(a, nanFirst(a, b)); }
  static Vec mul(Vec a, Vec b) { return _mm512_mul_pd(a, nanFirst(a, b)); }
  static Vec div(Vec a, Vec b) { return _mm512_div_pd(a, b); }
};

// Half types compute in fp32: only loading and storing differ. The full-vector forms stay
// unmasked: a masked store is much slower than a plain one on some cores (AMD Zen 4).
struct Float16 : Float32 {
  static constexpr size_t kElemSize = 2;
  static Vec load(const void* p) { return Float16Lanes::widen(_mm256_loadu_si256(halves(p))); }
  static Vec load(const void* p, Mask m) { return Float16Lanes::widen(loadHalfBits(p, m)); }
  static void store(void* p, Vec v) { _mm256_storeu_si256(halves(p), Float16Lanes::narrow(v)); }
  static void store(void* p, Vec v, Mask m) { storeHalfBits(p, Float16Lanes::narrow(v), m); }
  static void stream(void* p, Vec v) { _mm256_stream_si256(halves(p), Float16Lanes::narrow(v)); }
  static __m256i* halves(void* p) { return static_cast<__m256i*>(p); }
  static const __m256i* halves(const void* p) { return static_cast<const __m256i*>(p); }
};

// Thirty-two elements per step, widened in lane-interleaved order (half_avx512.h).
struct Bfloat16 : kernels::PairArithmetic<Float32> {
  using Mask = __mmask32;
  static constexpr size_t kElemSize = 2, kLanes = 32;
  static Vec load(const void* p) { return widen(_mm512_loadu_si512(p)); }
  static Vec load(const void* p, Mask m) { return widen(_mm512_maskz_loadu_epi16(m, p)); }
  static void store(void* p, Vec v) { _mm512_storeu_si512(p, narrowInterleaved(v.lo, v.hi)); }
  static void stream(void* p, Vec v) {
    _mm512_stream_si512(static_cast<__m512i*>(p), narrowInterleaved(v.lo, v.hi));
  }
  static void store(void* p, Vec v, Mask m) {
    _mm512_mask_storeu_epi16(p, m, narrowInterleaved(v.lo, v.hi));
  }
  static Vec widen(__m512i h) {
    Vec v;
    widenInterleaved(h, v.lo, v.hi);
    return v;
  }
};

// Every element type's traits, by the name withTypeAndOp (reduce_loops.h) looks them up by.
struct Elements {
  using Int8 = avx512::Int8<true>;
  using Uint8 = avx512::Int8<false>;
  using Int32 = avx512::Int32<true>;
  using Uint32 = avx512::Int32<false>;
  using Int64 = avx512::Int64<true>;
  using Uint64 = avx512::Int64<false>;
  using Float16 = avx512::Float16;
  using Bfloat16 = avx512::Bfloat16;
  using Float32 = avx512::Float32;
  using Float64 = avx512::Float64;
};

}  // namespace gccl::avx512
