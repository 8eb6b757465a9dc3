// AVX-512 (F, BW, VL, DQ) codecs. Built with the AVX-512 flags and -ffp-contract=off
// (kernels.cmake): only called when detectSimdLevel() == kAvx512. The last, partial vector runs
// under a lane mask, so no element goes through scalar code.
#include <cstddef>
#include <cstdint>

#include "fp16/codec_kernels.h"
#include "fp16/codec_loops.h"
#include "fp16/half_avx512.h"

namespace gccl::kernels {
namespace {

using Bytes = unsigned char;
constexpr size_t kLanes = 16;

// Loads and stores for one vector of the loop: plain for full vectors, masked for the tail. Masked
// stores are much slower than plain ones on some cores (AMD Zen 4), so only the tail pays.
template <bool kTail>
struct VectorIo {
  __mmask16 mask;
  __mmask16 lanes() const { return kTail ? mask : __mmask16{0xffff}; }
  __m512 loadFloats(const float* p) const {
    if constexpr (kTail) return _mm512_maskz_loadu_ps(mask, p);
    return _mm512_loadu_ps(p);
  }
  void storeFloats(float* p, __m512 v) const {
    if constexpr (kTail) return _mm512_mask_storeu_ps(p, mask, v);
    _mm512_storeu_ps(p, v);
  }
  __m256i loadHalves(const Bytes* p) const {
    if constexpr (kTail) return _mm256_maskz_loadu_epi16(mask, p);
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  }
  void storeHalves(Bytes* p, __m256i h) const {
    if constexpr (kTail) return _mm256_mask_storeu_epi16(p, mask, h);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), h);
  }
};

// Calls step(i, io) for every vector of kLanes elements starting at element i.
template <typename Step>
void forEachVector(size_t count, Step&& step) {
  size_t i = 0;
  for (; i + kLanes <= count; i += kLanes) step(i, VectorIo<false>{0xffff});
  if (i < count) step(i, VectorIo<true>{static_cast<__mmask16>((1u << (count - i)) - 1)});
}

__mmask16 nonFiniteFloats(__m512 v) {
  const __m512i exponent = _mm512_set1_epi32(0x7f800000);
  return _mm512_cmpeq_epi32_mask(_mm512_and_si512(_mm512_castps_si512(v), exponent), exponent);
}

// Masked-off tail lanes load as zero but are excluded from the finiteness check all the same:
// 0 * scale is NaN when scale is infinite.
template <typename L, bool kCheck>
CodecProgress encodeLoop(Bytes* dst, const float* src, size_t count, float scale) {
  const __m512 s = _mm512_set1_ps(scale);
  __mmask16 bad = 0;
  forEachVector(count, [&](size_t i, auto io) {
    const __m256i h = L::narrow(_mm512_mul_ps(io.loadFloats(src + i), s));
    if constexpr (kCheck) bad |= avx512::nonFiniteLanes<L>(h) & io.lanes();
    io.storeHalves(dst + 2 * i, h);
  });
  return {count, bad != 0};
}

template <typename L, bool kCheck>
CodecProgress decodeLoop(float* dst, const Bytes* src, size_t count) {
  __mmask16 bad = 0;
  forEachVector(count, [&](size_t i, auto io) {
    const __m256i h = io.loadHalves(src + 2 * i);
    if constexpr (kCheck) bad |= avx512::nonFiniteLanes<L>(h) & io.lanes();
    io.storeFloats(dst + i, L::widen(h));
  });
  return {count, bad != 0};
}

template <typename L, bool kCheck>
CodecProgress decodeAccumulateLoop(float* acc, const Bytes* src, size_t count, float scale) {
  const __m512 s = _mm512_set1_ps(scale);
  __mmask16 bad = 0;
  forEachVector(count, [&](size_t i, auto io) {
    const __m512 local = _mm512_mul_ps(io.loadFloats(acc + i), s);
    const __m512 sum = _mm512_add_ps(local, L::widen(io.loadHalves(src + 2 * i)));
    if constexpr (kCheck) bad |= nonFiniteFloats(sum) & io.lanes();
    io.storeFloats(acc + i, sum);
  });
  return {count, bad != 0};
}

template <typename L, bool kCheck>
CodecProgress accumulateEncodeLoop(Bytes* dst, const float* acc, const Bytes* src, size_t count,
                                   float scale) {
  const __m512 s = _mm512_set1_ps(scale);
  __mmask16 bad = 0;
  forEachVector(count, [&](size_t i, auto io) {
    const __m512 local = _mm512_mul_ps(io.loadFloats(acc + i), s);
    const __m256i h = L::narrow(_mm512_add_ps(local, L::widen(io.loadHalves(src + 2 * i))));
    if constexpr (kCheck) bad |= avx512::nonFiniteLanes<L>(h) & io.lanes();
    io.storeHalves(dst + 2 * i, h);
  });
  return {count, bad != 0};
}

template <typename Loop>
bool run(HalfFormat format, bool check, Loop&& loop) {
  return withFormat<avx512::Float16Lanes, avx512::Bfloat16Lanes>(format, check, loop).nonFinite;
}

bool encode(HalfFormat format, void* dst, const float* src, size_t count, float scale, bool check) {
  return run(format, check, [&]<typename L, bool kCheck>() {
    return encodeLoop<L, kCheck>(static_cast<Bytes*>(dst), src, count, scale);
  });
}

bool decode(HalfFormat format, float* dst, const void* src, size_t count, bool check) {
  return run(format, check, [&]<typename L, bool kCheck>() {
    return decodeLoop<L, kCheck>(dst, static_cast<const Bytes*>(src), count);
  });
}

bool decodeAccumulate(HalfFormat format, float* acc, const void* src, size_t count, float scale,
                      bool check) {
  return run(format, check, [&]<typename L, bool kCheck>() {
    return decodeAccumulateLoop<L, kCheck>(acc, static_cast<const Bytes*>(src), count, scale);
  });
}

bool accumulateEncode(HalfFormat format, void* dst, const float* acc, const void* src, size_t count,
                      float scale, bool check) {
  return run(format, check, [&]<typename L, bool kCheck>() {
    return accumulateEncodeLoop<L, kCheck>(static_cast<Bytes*>(dst), acc,
                                           static_cast<const Bytes*>(src), count, scale);
  });
}

}  // namespace

const CodecKernels kAvx512Codec = {encode, decode, decodeAccumulate, accumulateEncode};

}  // namespace gccl::kernels
