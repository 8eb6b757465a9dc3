// fp32 <-> float16 / bfloat16 conversions on a CUDA device: the converting copies of
// CudaCopyEngine, so that only 16-bit values cross the bus. The kernels compile fp16/half.h's
// scalar conversions for the device: bit for bit the host codec (fp16/codec.h), NaNs included.
// Built only when CMake can compile CUDA (GCCL_HALF_KERNELS); this header needs no CUDA header.
#pragma once

#include <cstddef>

#include "fp16/codec.h"

namespace gccl {

// True when the current device can run the kernels: the library carries code for its
// architecture (SASS, or PTX the driver can compile). A GPU it cannot serve makes the
// converting copies unavailable rather than failing each one.
bool halfKernelsRunHere();

// Queue on `stream` (a cudaStream_t): dst[i] = round(src[i] * scale), as codec.h's encode.
// Returns the launch's cudaError_t.
int encodeOnDevice(void* stream, void* dst, const float* src, size_t count, HalfFormat format,
                   float scale);
// dst[i] = widen(src[i]), as codec.h's decode.
int decodeOnDevice(void* stream, float* dst, const void* src, size_t count, HalfFormat format);

}  // namespace gccl
