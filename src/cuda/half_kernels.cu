#include "cuda/half_kernels.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>

#include "fp16/half.h"

namespace gccl {
namespace {

constexpr unsigned kThreads = 256;
// Enough blocks to fill any current GPU; a grid-stride loop covers larger counts.
constexpr size_t kMaxBlocks = 4096;

unsigned blocksFor(size_t count) {
  return static_cast<unsigned>(std::min(kMaxBlocks, (count + kThreads - 1) / kThreads));
}

template <bool kBfloat16>
__global__ void encodeKernel(uint16_t* dst, const float* src, size_t count, float scale) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += stride) {
    // __fmul_rn: one fp32 product rounded to nearest, never contracted, as on the host.
    const float value = __fmul_rn(src[i], scale);
    dst[i] = kBfloat16 ? floatToBfloat16(value) : floatToHalf(value);
  }
}

template <bool kBfloat16>
__global__ void decodeKernel(float* dst, const uint16_t* src, size_t count) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += stride) {
    dst[i] = kBfloat16 ? bfloat16ToFloat(src[i]) : halfToFloat(src[i]);
  }
}

}  // namespace

int encodeOnDevice(void* stream, void* dst, const float* src, size_t count, HalfFormat format,
                   float scale) {
  if (count == 0) return cudaSuccess;
  const auto s = static_cast<cudaStream_t>(stream);
  auto* out = static_cast<uint16_t*>(dst);
  if (format == HalfFormat::kBfloat16) {
    encodeKernel<true><<<blocksFor(count), kThreads, 0, s>>>(out, src, count, scale);
  } else {
    encodeKernel<false><<<blocksFor(count), kThreads, 0, s>>>(out, src, count, scale);
  }
  return cudaGetLastError();
}

int decodeOnDevice(void* stream, float* dst, const void* src, size_t count, HalfFormat format) {
  if (count == 0) return cudaSuccess;
  const auto s = static_cast<cudaStream_t>(stream);
  const auto* in = static_cast<const uint16_t*>(src);
  if (format == HalfFormat::kBfloat16) {
    decodeKernel<true><<<blocksFor(count), kThreads, 0, s>>>(dst, in, count);
  } else {
    decodeKernel<false><<<blocksFor(count), kThreads, 0, s>>>(dst, in, count);
  }
  return cudaGetLastError();
}

}  // namespace gccl
