// The public codec.h entry points: one table row per SimdLevel, indexed by the active level.
#include <array>

#include "base/simd.h"
#include "fp16/codec.h"
#include "fp16/codec_kernels.h"

namespace gccl {
namespace {

// Indexed by SimdLevel. Off x86 detectSimdLevel() is always kScalar.
#if defined(__x86_64__)
constexpr std::array<const kernels::CodecKernels*, 3> kRows = {
    &kernels::kScalarCodec, &kernels::kAvx2Codec, &kernels::kAvx512Codec};
#else
constexpr std::array<const kernels::CodecKernels*, 3> kRows = {
    &kernels::kScalarCodec, &kernels::kScalarCodec, &kernels::kScalarCodec};
#endif

const kernels::CodecKernels& activeRow() {
  return *kRows[static_cast<size_t>(activeSimdLevel())];
}

// The flag is sticky: only ever raised, so it can collect a whole collective.
void report(bool* nonFinite, bool found) {
  if (nonFinite != nullptr && found) *nonFinite = true;
}

}  // namespace

void encode(HalfFormat format, void* dst, const float* src, size_t count, float scale,
            bool* nonFinite) {
  if (count == 0) return;
  const bool found = activeRow().encode(format, dst, src, count, scale, nonFinite != nullptr);
  report(nonFinite, found);
}

void decode(HalfFormat format, float* dst, const void* src, size_t count, bool* nonFinite) {
  if (count == 0) return;
  const bool found = activeRow().decode(format, dst, src, count, nonFinite != nullptr);
  report(nonFinite, found);
}

void decodeAccumulate(HalfFormat format, float* acc, const void* src, size_t count, float scale,
                      bool* nonFinite) {
  if (count == 0) return;
  const bool found =
      activeRow().decodeAccumulate(format, acc, src, count, scale, nonFinite != nullptr);
  report(nonFinite, found);
}

void accumulateEncode(HalfFormat format, void* dst, const float* acc, const void* src, size_t count,
                      float scale, bool* nonFinite) {
  if (count == 0) return;
  const bool found =
      activeRow().accumulateEncode(format, dst, acc, src, count, scale, nonFinite != nullptr);
  report(nonFinite, found);
}

}  // namespace gccl
