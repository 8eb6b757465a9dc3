// Portable scalar codecs: the reference for the vectorised ones and the fallback without F16C.
#include <cstdint>
#include <cstring>

#include "fp16/codec_kernels.h"
#include "fp16/half.h"

namespace gccl::kernels {
namespace {

using Bytes = unsigned char;

struct Float16Scalar {
  static constexpr uint16_t kExponent = 0x7c00;  // all ones: inf or NaN
  static float widen(uint16_t h) { return halfToFloat(h); }
  static uint16_t narrow(float f) { return floatToHalf(f); }
};

struct Bfloat16Scalar {
  static constexpr uint16_t kExponent = 0x7f80;
  static float widen(uint16_t h) { return bfloat16ToFloat(h); }
  static uint16_t narrow(float f) { return floatToBfloat16(f); }
};

// 16-bit buffers come off the wire at any alignment: access them through memcpy.
uint16_t loadBits(const void* p, size_t i) {
  uint16_t h;
  std::memcpy(&h, static_cast<const Bytes*>(p) + 2 * i, 2);
  return h;
}

void storeBits(void* p, size_t i, uint16_t h) {
  std::memcpy(static_cast<Bytes*>(p) + 2 * i, &h, 2);
}

template <typename F>
bool isNonFinite(uint16_t h) {
  return (h & F::kExponent) == F::kExponent;
}

bool isNonFinite(float f) {
  return (floatBits(f) & 0x7f800000u) == 0x7f800000u;
}

template <typename F>
bool encodeTyped(void* dst, const float* src, size_t count, float scale) {
  bool bad = false;
  for (size_t i = 0; i < count; ++i) {
    const uint16_t h = F::narrow(src[i] * scale);
    bad |= isNonFinite<F>(h);
    storeBits(dst, i, h);
  }
  return bad;
}

template <typename F>
bool decodeTyped(float* dst, const void* src, size_t count) {
  bool bad = false;
  for (size_t i = 0; i < count; ++i) {
    const uint16_t h = loadBits(src, i);
    bad |= isNonFinite<F>(h);
    dst[i] = F::widen(h);
  }
  return bad;
}

template <typename F>
bool decodeAccumulateTyped(float* acc, const void* src, size_t count, float scale) {
  bool bad = false;
  for (size_t i = 0; i < count; ++i) {
    acc[i] = acc[i] * scale + F::widen(loadBits(src, i));
    bad |= isNonFinite(acc[i]);
  }
  return bad;
}

template <typename F>
bool accumulateEncodeTyped(void* dst, const float* acc, const void* src, size_t count,
                           float scale) {
  bool bad = false;
  for (size_t i = 0; i < count; ++i) {
    const uint16_t h = F::narrow(acc[i] * scale + F::widen(loadBits(src, i)));
    bad |= isNonFinite<F>(h);
    storeBits(dst, i, h);
  }
  return bad;
}

// The scalar loops test finiteness unconditionally: one compare per element costs nothing here.
bool encode(HalfFormat format, void* dst, const float* src, size_t count, float scale, bool) {
  return format == HalfFormat::kFloat16 ? encodeTyped<Float16Scalar>(dst, src, count, scale)
                                        : encodeTyped<Bfloat16Scalar>(dst, src, count, scale);
}

bool decode(HalfFormat format, float* dst, const void* src, size_t count, bool) {
  return format == HalfFormat::kFloat16 ? decodeTyped<Float16Scalar>(dst, src, count)
                                        : decodeTyped<Bfloat16Scalar>(dst, src, count);
}

bool decodeAccumulate(HalfFormat format, float* acc, const void* src, size_t count, float scale,
                      bool) {
  return format == HalfFormat::kFloat16
             ? decodeAccumulateTyped<Float16Scalar>(acc, src, count, scale)
             : decodeAccumulateTyped<Bfloat16Scalar>(acc, src, count, scale);
}

bool accumulateEncode(HalfFormat format, void* dst, const float* acc, const void* src, size_t count,
                      float scale, bool) {
  return format == HalfFormat::kFloat16
             ? accumulateEncodeTyped<Float16Scalar>(dst, acc, src, count, scale)
             : accumulateEncodeTyped<Bfloat16Scalar>(dst, acc, src, count, scale);
}

}  // namespace

const CodecKernels kScalarCodec = {encode, decode, decodeAccumulate, accumulateEncode};

}  // namespace gccl::kernels
