// AVX2 + F16C codecs. Built with -mavx2 -mf16c -ffp-contract=off (kernels.cmake): only called
// when detectSimdLevel() >= kAvx2. Vector loops take sixteen elements at a time and stop at the
// last full group; the scalar codecs finish the tail.
#include <cstddef>

#include "fp16/codec_kernels.h"
#include "fp16/codec_loops.h"
#include "fp16/half_avx2.h"

namespace gccl::kernels {
namespace {

using Bytes = unsigned char;
constexpr size_t kLanes = 16;  // two fp32 vectors, one vector of 16-bit values

struct Floats {
  __m256 first, second;
};

Floats loadFloats(const float* p) {
  return {_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)};
}

void storeFloats(float* p, Floats v) {
  _mm256_storeu_ps(p, v.first);
  _mm256_storeu_ps(p + 8, v.second);
}

__m256i loadHalves(const Bytes* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

void storeHalves(Bytes* p, __m256i h) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), h);
}

template <typename L>
Floats widen(__m256i h) {
  return {L::widen(_mm256_castsi256_si128(h)), L::widen(_mm256_extracti128_si256(h, 1))};
}

template <typename L>
__m256i narrow(Floats v) {
  return L::narrow2(v.first, v.second);
}

// local * scale + incoming, in fp32.
Floats scaledSum(Floats local, __m256 scale, Floats incoming) {
  return {_mm256_add_ps(_mm256_mul_ps(local.first, scale), incoming.first),
          _mm256_add_ps(_mm256_mul_ps(local.second, scale), incoming.second)};
}

__m256i nonFiniteFloats(Floats v) {
  const __m256i exponent = _mm256_set1_epi32(0x7f800000);
  auto check = [&](__m256 x) {
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_castps_si256(x), exponent), exponent);
  };
  return _mm256_or_si256(check(v.first), check(v.second));
}

bool anySet(__m256i lanes) {
  return !_mm256_testz_si256(lanes, lanes);
}

template <typename L, bool kCheck>
CodecProgress encodeLoop(Bytes* dst, const float* src, size_t count, float scale) {
  const __m256 s = _mm256_set1_ps(scale);
  __m256i bad = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + kLanes <= count; i += kLanes) {
    const Floats v = loadFloats(src + i);
    const __m256i h = narrow<L>({_mm256_mul_ps(v.first, s), _mm256_mul_ps(v.second, s)});
    if constexpr (kCheck) bad = _mm256_or_si256(bad, avx2::nonFiniteLanes<L>(h));
    storeHalves(dst + 2 * i, h);
  }
  return {i, anySet(bad)};
}

template <typename L, bool kCheck>
CodecProgress decodeLoop(float* dst, const Bytes* src, size_t count) {
  __m256i bad = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + kLanes <= count; i += kLanes) {
    const __m256i h = loadHalves(src + 2 * i);
    if constexpr (kCheck) bad = _mm256_or_si256(bad, avx2::nonFiniteLanes<L>(h));
    storeFloats(dst + i, widen<L>(h));
  }
  return {i, anySet(bad)};
}

template <typename L, bool kCheck>
CodecProgress decodeAccumulateLoop(float* acc, const Bytes* src, size_t count, float scale) {
  const __m256 s = _mm256_set1_ps(scale);
  __m256i bad = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + kLanes <= count; i += kLanes) {
    const Floats sum = scaledSum(loadFloats(acc + i), s, widen<L>(loadHalves(src + 2 * i)));
    if constexpr (kCheck) bad = _mm256_or_si256(bad, nonFiniteFloats(sum));
    storeFloats(acc + i, sum);
  }
  return {i, anySet(bad)};
}

template <typename L, bool kCheck>
CodecProgress accumulateEncodeLoop(Bytes* dst, const float* acc, const Bytes* src, size_t count,
                                   float scale) {
  const __m256 s = _mm256_set1_ps(scale);
  __m256i bad = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + kLanes <= count; i += kLanes) {
    const Floats sum = scaledSum(loadFloats(acc + i), s, widen<L>(loadHalves(src + 2 * i)));
    const __m256i h = narrow<L>(sum);
    if constexpr (kCheck) bad = _mm256_or_si256(bad, avx2::nonFiniteLanes<L>(h));
    storeHalves(dst + 2 * i, h);
  }
  return {i, anySet(bad)};
}

template <typename Loop>
CodecProgress run(HalfFormat format, bool check, Loop&& loop) {
  return withFormat<avx2::Float16Lanes, avx2::Bfloat16Lanes>(format, check, loop);
}

// Each entry point runs its vector loop, then hands the tail to the scalar codec.
bool encode(HalfFormat format, void* dst, const float* src, size_t count, float scale, bool check) {
  auto* out = static_cast<Bytes*>(dst);
  const CodecProgress p = run(format, check, [&]<typename L, bool kCheck>() {
    return encodeLoop<L, kCheck>(out, src, count, scale);
  });
  if (p.done == count) return p.nonFinite;
  const size_t n = p.done;
  return kScalarCodec.encode(format, out + 2 * n, src + n, count - n, scale, check) || p.nonFinite;
}

bool decode(HalfFormat format, float* dst, const void* src, size_t count, bool check) {
  const auto* in = static_cast<const Bytes*>(src);
  const CodecProgress p = run(format, check, [&]<typename L, bool kCheck>() {
    return decodeLoop<L, kCheck>(dst, in, count);
  });
  if (p.done == count) return p.nonFinite;
  const size_t n = p.done;
  return kScalarCodec.decode(format, dst + n, in + 2 * n, count - n, check) || p.nonFinite;
}

bool decodeAccumulate(HalfFormat format, float* acc, const void* src, size_t count, float scale,
                      bool check) {
  const auto* in = static_cast<const Bytes*>(src);
  const CodecProgress p = run(format, check, [&]<typename L, bool kCheck>() {
    return decodeAccumulateLoop<L, kCheck>(acc, in, count, scale);
  });
  if (p.done == count) return p.nonFinite;
  const size_t n = p.done;
  return kScalarCodec.decodeAccumulate(format, acc + n, in + 2 * n, count - n, scale, check) ||
         p.nonFinite;
}

bool accumulateEncode(HalfFormat format, void* dst, const float* acc, const void* src, size_t count,
                      float scale, bool check) {
  auto* out = static_cast<Bytes*>(dst);
  const auto* in = static_cast<const Bytes*>(src);
  const CodecProgress p = run(format, check, [&]<typename L, bool kCheck>() {
    return accumulateEncodeLoop<L, kCheck>(out, acc, in, count, scale);
  });
  if (p.done == count) return p.nonFinite;
  const size_t n = p.done;
  return kScalarCodec.accumulateEncode(format, out + 2 * n, acc + n, in + 2 * n, count - n, scale,
                                       check) ||
         p.nonFinite;
}

}  // namespace

const CodecKernels kAvx2Codec = {encode, decode, decodeAccumulate, accumulateEncode};

}  // namespace gccl::kernels
