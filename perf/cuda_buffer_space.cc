// --device cuda: buffers from cudaMalloc on device rank % (devices), mirrors copied with
// cudaMemcpy (synchronous: the sweep copies outside the timed calls).
#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

#include "buffer_space.h"

namespace gccl::perf {

namespace {

void check(cudaError_t result, const char* what) {
  if (result != cudaSuccess) {
    throw std::runtime_error(std::string("--device cuda: ") + what + ": " +
                             cudaGetErrorString(result));
  }
}

class CudaSpace final : public BufferSpace {
 public:
  explicit CudaSpace(int rank) {
    int devices = 0;
    check(cudaGetDeviceCount(&devices), "cudaGetDeviceCount");
    if (devices == 0) throw std::runtime_error("--device cuda: no CUDA device");
    check(cudaSetDevice(rank % devices), "cudaSetDevice");
  }
  unsigned char* allocate(size_t bytes) override {
    void* buffer = nullptr;
    check(cudaMalloc(&buffer, bytes), "cudaMalloc");
    return static_cast<unsigned char*>(buffer);
  }
  void release(unsigned char* buffer) override { cudaFree(buffer); }
  void toDevice(unsigned char* device, const unsigned char* host, size_t bytes) override {
    check(cudaMemcpy(device, host, bytes, cudaMemcpyHostToDevice), "cudaMemcpy to the device");
  }
  void toHost(unsigned char* host, const unsigned char* device, size_t bytes) override {
    check(cudaMemcpy(host, device, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy to the host");
  }
};

}  // namespace

std::unique_ptr<BufferSpace> makeCudaBufferSpace(int rank) {
  return std::make_unique<CudaSpace>(rank);
}

}  // namespace gccl::perf
