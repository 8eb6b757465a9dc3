// The per-instruction-set codec entry points behind codec.h; codec_dispatch.cc picks one row
// per call from the active SimdLevel. Internal to src/fp16. Each function returns whether any
// value it wrote was inf or NaN when checkFinite is set (false otherwise).
#pragma once

#include <cstddef>

#include "fp16/codec.h"

namespace gccl::kernels {

struct CodecKernels {
  bool (*encode)(HalfFormat, void*, const float*, size_t, float, bool checkFinite);
  bool (*decode)(HalfFormat, float*, const void*, size_t, bool checkFinite);
  bool (*decodeAccumulate)(HalfFormat, float*, const void*, size_t, float, bool checkFinite);
  bool (*accumulateEncode)(HalfFormat, void*, const float*, const void*, size_t, float,
                           bool checkFinite);
};

extern const CodecKernels kScalarCodec;
#if defined(__x86_64__)
extern const CodecKernels kAvx2Codec;
extern const CodecKernels kAvx512Codec;
#endif

}  // namespace gccl::kernels
