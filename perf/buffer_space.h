// Where a perf tool's buffers live: host memory (the default), CUDA device memory
// (--device cuda) or the host stand-in GPU (--device standin: HostCopyEngine, which runs the
// device path of the C API on a machine without a GPU). The sweep always fills and checks host
// mirrors; with a device space it copies them across before each checked call and back after.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include <gccl/gccl.h>

namespace gccl::perf {

class BufferSpace {
 public:
  virtual ~BufferSpace() = default;
  virtual unsigned char* allocate(size_t bytes) = 0;
  virtual void release(unsigned char* buffer) = 0;
  virtual void toDevice(unsigned char* device, const unsigned char* host, size_t bytes) = 0;
  virtual void toHost(unsigned char* host, const unsigned char* device, size_t bytes) = 0;
};

// The names --device takes.
bool isDeviceName(const std::string& name);

// The space for `device` ("host": null, the sweep's own host buffers), made for `comms` before
// their first call (the stand-in attaches itself to each: a communicator without it would take
// its buffers for host memory). Rank r of a CUDA run uses device r % (devices on the machine).
// Throws std::runtime_error when it cannot be made (no GPU, a gccl built without CUDA).
std::unique_ptr<BufferSpace> makeBufferSpace(const std::string& device,
                                             std::span<const gcclComm_t> comms, int rank);

// Defined in cuda_buffer_space.cc, or in no_cuda_buffer_space.cc without the CUDA toolkit.
std::unique_ptr<BufferSpace> makeCudaBufferSpace(int rank);

}  // namespace gccl::perf
