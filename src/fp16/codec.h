// fp32 <-> float16 / bfloat16 codecs for compressed allreduce: gradients stay fp32 in memory and
// travel as 16-bit values; every hop accumulates in fp32 and rounds once. Vectorised like the
// reduction kernels (the level of base/simd.h applies) and bit-exact with half.h on every level.
//
// A ring reduce-scatter hop with pre-division by n (scale = 1/n), for one chunk:
//
//   first hop     wire = encode(local, scale)                   --send-->
//   middle hops   wire = accumulateEncode(local, wire, scale)   <--recv--  --send-->
//   owner         wire = accumulateEncode(local, wire, scale)   then allgather wire
//   every rank    local = decode(wire)                          owner too, so all ranks agree
//
// decodeAccumulate serves a reducer that folds several incoming buffers into one fp32
// accumulator (tree, direct) before it encodes once.
//
// scale multiplies the fp32 operand only (the local contribution); decoded values were already
// scaled by the rank that encoded them. scale 1 is exact. Arithmetic follows reduce.h: fp32, no
// FMA contraction, one rounding to 16 bits; when both addends are NaN either payload may survive.
//
// nonFinite, when not null, is set to true if any value written is inf or NaN (an fp16 overflow
// included) and left untouched otherwise, so one flag can collect a whole collective for loss
// scaling. 16-bit buffers need no alignment; dst may alias the 16-bit src exactly.
#pragma once

#include <cstddef>

namespace gccl {

enum class HalfFormat { kFloat16, kBfloat16 };

// dst[i] = round(src[i] * scale)
void encode(HalfFormat format, void* dst, const float* src, size_t count, float scale = 1.0f,
            bool* nonFinite = nullptr);

// dst[i] = widen(src[i]) (exact)
void decode(HalfFormat format, float* dst, const void* src, size_t count,
            bool* nonFinite = nullptr);

// acc[i] = acc[i] * scale + widen(src[i]), in fp32
void decodeAccumulate(HalfFormat format, float* acc, const void* src, size_t count,
                      float scale = 1.0f, bool* nonFinite = nullptr);

// dst[i] = round(acc[i] * scale + widen(src[i])), the sum in fp32 rounded once
void accumulateEncode(HalfFormat format, void* dst, const float* acc, const void* src, size_t count,
                      float scale = 1.0f, bool* nonFinite = nullptr);

}  // namespace gccl
