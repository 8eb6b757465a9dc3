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
    // __fmul_rn: one fp32 product rounded to nearest, never contracted, as on the host. A NaN
    // skips it: the GPU's multiply returns the canonical NaN, while the host's (x86) keeps the
    // operand's sign and payload and sets the quiet bit, which is what this does.
    const uint32_t bits = floatBits(src[i]);
    const float value = (bits & 0x7fffffffu) > 0x7f800000u ? bitsToFloat(bits | 0x00400000u)
                                                           : __fmul_rn(src[i], scale);
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

// cudaLaunchKernel returns this launch's own error; cudaGetLastError after a <<<>>> launch
// would also return one an earlier call of the application left on this thread.
template <typename... Args>
cudaError_t launch(void (*kernel)(Args...), size_t count, cudaStream_t stream, Args... args) {
  void* pointers[] = {&args...};
  return cudaLaunchKernel(reinterpret_cast<const void*>(kernel), dim3(blocksFor(count)),
                          dim3(kThreads), pointers, 0, stream);
}

}  // namespace

bool halfKernelsRunHere() {
  // Asks for every kernel: each is its own image.
  cudaFuncAttributes attributes{};
  for (const void* kernel : {reinterpret_cast<const void*>(encodeKernel<false>),
                             reinterpret_cast<const void*>(encodeKernel<true>),
                             reinterpret_cast<const void*>(decodeKernel<false>),
                             reinterpret_cast<const void*>(decodeKernel<true>)}) {
    if (cudaFuncGetAttributes(&attributes, kernel) != cudaSuccess) {
      cudaGetLastError();  // the query's own error, which it leaves sticky until read
      return false;
    }
  }
  return true;
}

int encodeOnDevice(void* stream, void* dst, const float* src, size_t count, HalfFormat format,
                   float scale) {
  if (count == 0) return cudaSuccess;
  const auto s = static_cast<cudaStream_t>(stream);
  auto* out = static_cast<uint16_t*>(dst);
  return format == HalfFormat::kBfloat16
             ? launch(encodeKernel<true>, count, s, out, src, count, scale)
             : launch(encodeKernel<false>, count, s, out, src, count, scale);
}

int decodeOnDevice(void* stream, float* dst, const void* src, size_t count, HalfFormat format) {
  if (count == 0) return cudaSuccess;
  const auto s = static_cast<cudaStream_t>(stream);
  const auto* in = static_cast<const uint16_t*>(src);
  return format == HalfFormat::kBfloat16 ? launch(decodeKernel<true>, count, s, dst, in, count)
                                         : launch(decodeKernel<false>, count, s, dst, in, count);
}

}  // namespace gccl
