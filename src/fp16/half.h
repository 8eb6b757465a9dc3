// Scalar IEEE binary16 and bfloat16 conversions, round-to-nearest-even. The reference for the
// vectorised codecs and the fallback where the CPU has no F16C.
//
// Bit-exact with the hardware paths, NaNs included (tests/unit/test_half_codec.cc checks it):
//  - half -> float quiets a NaN and keeps its payload, as VCVTPH2PS does;
//  - float -> half keeps the top 10 payload bits and sets the quiet bit, as VCVTPS2PH does;
//  - float -> bfloat16 keeps the top 7 payload bits and sets the quiet bit. Subnormals are kept
//    (rounded, not flushed); that is why the kernels round bfloat16 with integer arithmetic
//    rather than VCVTNEPS2BF16, which flushes subnormal inputs to zero.
// Every rounding is integer arithmetic: like the hardware conversions, which fix round to
// nearest even in the instruction, the result ignores the FPU's rounding mode (a thread may
// run under another one, and scalar tails must match the vector lanes beside them).
//
// The CUDA conversion kernels (src/cuda/half_kernels.cu) compile these same functions for the
// device, so a GPU encodes bit for bit as the host does (nvcc's default: no flush to zero).
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define GCCL_HOST_DEVICE __host__ __device__
#else
#define GCCL_HOST_DEVICE
#endif

namespace gccl {

GCCL_HOST_DEVICE inline uint32_t floatBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

GCCL_HOST_DEVICE inline float bitsToFloat(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

GCCL_HOST_DEVICE inline float halfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) {
    const uint32_t quiet = mantissa != 0 ? 0x00400000u : 0u;  // NaN comes out quiet
    return bitsToFloat(sign | 0x7f800000u | quiet | (mantissa << 13));
  }
  if (exponent != 0) return bitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
  if (mantissa == 0) return bitsToFloat(sign);  // signed zero
  // Subnormal half: value = mantissa * 2^-24, exact in fp32.
  const float magnitude = static_cast<float>(mantissa) * bitsToFloat(0x33800000u);
  return bitsToFloat(sign | floatBits(magnitude));
}

GCCL_HOST_DEVICE inline uint16_t floatToHalf(float value) {
  const uint32_t bits = floatBits(value);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) {  // NaN: quiet, top payload bits kept
    return sign | 0x7e00u | static_cast<uint16_t>((magnitude >> 13) & 0x3ffu);
  }
  if (magnitude >= 0x477ff000u) return sign | 0x7c00u;  // inf, or rounds to >= 65520: overflow
  if (magnitude < 0x38800000u) {  // below the smallest normal half: a multiple of 2^-24
    // value / 2^-24 = (mantissa with its implicit bit) / 2^shift, rounded to nearest even.
    const uint32_t shift = 126u - (magnitude >> 23);
    if (shift > 24) return sign;  // under half of 2^-24 (fp32 subnormals included)
    const uint32_t mantissa = (magnitude & 0x7fffffu) | 0x800000u;
    const uint32_t kept = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    const uint32_t up = rest > half || (rest == half && (kept & 1u)) ? 1u : 0u;
    return sign | static_cast<uint16_t>(kept + up);  // 0x400 when it rounds up to 2^-14
  }
  const uint32_t mantissaOdd = (magnitude >> 13) & 1u;
  const uint32_t rounded = magnitude + 0xfffu + mantissaOdd - (112u << 23);
  return sign | static_cast<uint16_t>(rounded >> 13);
}

GCCL_HOST_DEVICE inline float bfloat16ToFloat(uint16_t b) {
  return bitsToFloat(static_cast<uint32_t>(b) << 16);
}

GCCL_HOST_DEVICE inline uint16_t floatToBfloat16(float value) {
  const uint32_t bits = floatBits(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);
  const uint32_t lsb = (bits >> 16) & 1u;
  return static_cast<uint16_t>((bits + 0x7fffu + lsb) >> 16);
}

}  // namespace gccl
