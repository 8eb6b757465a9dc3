// AVX2 element traits for the reduction loops: for each element type, the vector it widens to,
// how many elements one vector holds, and the arithmetic, following the rules in reduce.h.
// `stream` is a non-temporal store of one vector, to an address aligned to its size.
// Include only from translation units compiled with -mavx2 -mf16c (see kernels.cmake).
#pragma once

#include "base/x86_intrinsics.h"

#include <cstddef>
#include <cstdint>

#include "fp16/half_avx2.h"
#include "reduce/reduce_loops.h"

namespace gccl::avx2 {

struct IntVec {
  using Vec = __m256i;
  static Vec load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
  static void store(void* p, Vec v) { _mm256_storeu_si256(static_cast<__m256i*>(p), v); }
  static void stream(void* p, Vec v) { _mm256_stream_si256(static_cast<__m256i*>(p), v); }
};

template <bool kSigned>
struct Int8 : IntVec {
  static constexpr size_t kElemSize = 1, kLanes = 32;
  static Vec add(Vec a, Vec b) { return _mm256_add_epi8(a, b); }
  // No byte multiply: multiply 16-bit words twice, once for the even and once for the odd
  // bytes, and keep the low byte of each product (two's complement wrap for either sign).
  static Vec mul(Vec a, Vec b) {
    const Vec even = _mm256_mullo_epi16(a, b);
    const Vec odd = _mm256_mullo_epi16(_mm256_srli_epi16(a, 8), _mm256_srli_epi16(b, 8));
    return _mm256_or_si256(_mm256_and_si256(even, _mm256_set1_epi16(0xff)),
                           _mm256_slli_epi16(odd, 8));
  }
  static Vec min(Vec a, Vec b) {
    if constexpr (kSigned) return _mm256_min_epi8(a, b);
    return _mm256_min_epu8(a, b);
  }
  static Vec max(Vec a, Vec b) {
    if constexpr (kSigned) return _mm256_max_epi8(a, b);
    return _mm256_max_epu8(a, b);
  }
};

template <bool kSigned>
struct Int32 : IntVec {
  static constexpr size_t kElemSize = 4, kLanes = 8;
  static Vec add(Vec a, Vec b) { return _mm256_add_epi32(a, b); }
  static Vec mul(Vec a, Vec b) { return _mm256_mullo_epi32(a, b); }
  static Vec min(Vec a, Vec b) {
    if constexpr (kSigned) return _mm256_min_epi32(a, b);
    return _mm256_min_epu32(a, b);
  }
  static Vec max(Vec a, Vec b) {
    if constexpr (kSigned) return _mm256_max_epi32(a, b);
    return _mm256_max_epu32(a, b);
  }
};

template <bool kSigned>
struct Int64 : IntVec {
  static constexpr size_t kElemSize = 8, kLanes = 4;
  static Vec add(Vec a, Vec b) { return _mm256_add_epi64(a, b); }
  // lo(a)*lo(b) + ((hi(a)*lo(b) + lo(a)*hi(b)) << 32): the low 64 bits of the product.
  static Vec mul(Vec a, Vec b) {
    const Vec low = _mm256_mul_epu32(a, b);
    const Vec cross = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), b),
                                       _mm256_mul_epu32(a, _mm256_srli_epi64(b, 32)));
    return _mm256_add_epi64(low, _mm256_slli_epi64(cross, 32));
  }
  // AVX2 has only a signed 64-bit compare; flipping the sign bit orders unsigned values.
  static Vec greater(Vec a, Vec b) {
    if constexpr (kSigned) return _mm256_cmpgt_epi64(a, b);
    const Vec flip = _mm256_set1_epi64x(INT64_MIN);
    return _mm256_cmpgt_epi64(_mm256_xor_si256(a, flip), _mm256_xor_si256(b, flip));
  }
  static Vec min(Vec a, Vec b) { return _mm256_blendv_epi8(a, b, greater(a, b)); }
  static Vec max(Vec a, Vec b) { return _mm256_blendv_epi8(a, b, greater(b, a)); }
};

// min/max for both float widths. The hardware min returns b when the operands compare equal
// or either is NaN; the blends then apply the reduce.h rules: equal operands give a | b for
// min (-0 wins) and a & b for max (+0 wins), a NaN a wins over b, and any NaN comes out quiet.
template <typename Ops>
struct FloatMinMax {
  using Vec = typename Ops::Vec;
  static Vec min(Vec a, Vec b) { return fix(Ops::min(a, b), Ops::bitOr(a, b), a, b); }
  static Vec max(Vec a, Vec b) { return fix(Ops::max(a, b), Ops::bitAnd(a, b), a, b); }
  static Vec fix(Vec r, Vec ifEqual, Vec a, Vec b) {
    r = Ops::blend(r, ifEqual, Ops::template cmp<_CMP_EQ_OQ>(a, b));
    r = Ops::blend(r, a, Ops::template cmp<_CMP_UNORD_Q>(a, a));
    return Ops::bitOr(r, Ops::bitAnd(Ops::template cmp<_CMP_UNORD_Q>(a, b), Ops::quietBit()));
  }
  // The second operand of a sum or product, a itself where a is NaN. Of two NaNs, x86 returns
  // its first source's, but the compiler may swap commutative operands (it did, in the scalar
  // kernels): a op a is a, quieted, in either order, so a NaN a always wins (reduce.h).
  static Vec nanFirst(Vec a, Vec b) {
    return Ops::blend(b, a, Ops::template cmp<_CMP_UNORD_Q>(a, a));
  }
};

struct PsOps {
  using Vec = __m256;
  static __m256 min(__m256 a, __m256 b) { return _mm256_min_ps(a, b); }
  static __m256 max(__m256 a, __m256 b) { return _mm256_max_ps(a, b); }
  static __m256 bitOr(__m256 a, __m256 b) { return _mm256_or_ps(a, b); }
  static __m256 bitAnd(__m256 a, __m256 b) { return _mm256_and_ps(a, b); }
  static __m256 blend(__m256 a, __m256 b, __m256 m) { return _mm256_blendv_ps(a, b, m); }
  template <int kPredicate>
  static __m256 cmp(__m256 a, __m256 b) {
    return _mm256_cmp_ps(a, b, kPredicate);
  }
  static __m256 quietBit() { return _mm256_castsi256_ps(_mm256_set1_epi32(0x400000)); }
};

struct PdOps {
  using Vec = __m256d;
  static __m256d min(__m256d a, __m256d b) { return _mm256_min_pd(a, b); }
  static __m256d max(__m256d a, __m256d b) { return _mm256_max_pd(a, b); }
  static __m256d bitOr(__m256d a, __m256d b) { return _mm256_or_pd(a, b); }
  static __m256d bitAnd(__m256d a, __m256d b) { return _mm256_and_pd(a, b); }
  static __m256d blend(__m256d a, __m256d b, __m256d m) { return _mm256_blendv_pd(a, b, m); }
  template <int kPredicate>
  static __m256d cmp(__m256d a, __m256d b) {
    return _mm256_cmp_pd(a, b, kPredicate);
  }
  static __m256d quietBit() { return _mm256_castsi256_pd(_mm256_set1_epi64x(1ll << 51)); }
};

struct Float32 : FloatMinMax<PsOps> {
  static constexpr size_t kElemSize = 4, kLanes = 8;
  static Vec load(const void* p) { return _mm256_loadu_ps(static_cast<const float*>(p)); }
  static void store(void* p, Vec v) { _mm256_storeu_ps(static_cast<float*>(p), v); }
  static void stream(void* p, Vec v) { _mm256_stream_ps(static_cast<float*>(p), v); }
  static Vec splat(int divisor) { return _mm256_set1_ps(static_cast<float>(divisor)); }
  static Vec reciprocal(int divisor) { return _mm256_set1_ps(1.0f / static_cast<float>(divisor)); }
  static Vec scale(Vec a, Vec factor) { return _mm256_mul_ps(a, factor); }
  static Vec add(Vec a, Vec b) { return _mm256_add_ps(a, nanFirst(a, b)); }
  static Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, nanFirst(a, b)); }
  static Vec div(Vec a, Vec b) { return _mm256_div_ps(a, b); }
};

struct Float64 : FloatMinMax<PdOps> {
  static constexpr size_t kElemSize = 8, kLanes = 4;
  static Vec load(const void* p) { return _mm256_loadu_pd(static_cast<const double*>(p)); }
  static void store(void* p, Vec v) { _mm256_storeu_pd(static_cast<double*>(p), v); }
  static void stream(void* p, Vec v) { _mm256_stream_pd(static_cast<double*>(p), v); }
  static Vec splat(int divisor) { return _mm256_set1_pd(static_cast<double>(divisor)); }
  static Vec reciprocal(int divisor) { return _mm256_set1_pd(1.0 / static_cast<double>(divisor)); }
  static Vec scale(Vec a, Vec factor) { return _mm256_mul_pd(a, factor); }
  static Vec add(Vec a, Vec b) { return _mm256_add_pd(a, nanFirst(a, b)); }
  static Vec mul(Vec a, Vec b) { return _mm256_mul_pd(a, nanFirst(a, b)); }
  static Vec div(Vec a, Vec b) { return _mm256_div_pd(a, b); }
};

// Half types compute in fp32: only loading and storing differ.
struct Float16 : Float32 {
  static constexpr size_t kElemSize = 2;
  static Vec load(const void* p) { return Float16Lanes::widen(loadHalfBits(p)); }
  static void store(void* p, Vec v) { storeHalfBits(p, Float16Lanes::narrow(v)); }
  static void stream(void* p, Vec v) {
    _mm_stream_si128(static_cast<__m128i*>(p), Float16Lanes::narrow(v));
  }
};

// Sixteen elements per step, widened in lane-interleaved order (half_avx2.h).
struct Bfloat16 : kernels::PairArithmetic<Float32> {
  static constexpr size_t kElemSize = 2, kLanes = 16;
  static Vec load(const void* p) {
    Vec v;
    widenInterleaved(_mm256_loadu_si256(static_cast<const __m256i*>(p)), v.lo, v.hi);
    return v;
  }
  static void store(void* p, Vec v) {
    _mm256_storeu_si256(static_cast<__m256i*>(p), narrowInterleaved(v.lo, v.hi));
  }
  static void stream(void* p, Vec v) {
    _mm256_stream_si256(static_cast<__m256i*>(p), narrowInterleaved(v.lo, v.hi));
  }
};

// Every element type's traits, by the name withTypeAndOp (reduce_loops.h) looks them up by.
struct Elements {
  using Int8 = avx2::Int8<true>;
  using Uint8 = avx2::Int8<false>;
  using Int32 = avx2::Int32<true>;
  using Uint32 = avx2::Int32<false>;
  using Int64 = avx2::Int64<true>;
  using Uint64 = avx2::Int64<false>;
  using Float16 = avx2::Float16;
  using Bfloat16 = avx2::Bfloat16;
  using Float32 = avx2::Float32;
  using Float64 = avx2::Float64;
};

}  // namespace gccl::avx2
