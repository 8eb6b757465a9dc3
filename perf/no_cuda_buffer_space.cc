// --device cuda in a build without the CUDA toolkit.
#include <stdexcept>

#include "buffer_space.h"

namespace gccl::perf {

std::unique_ptr<BufferSpace> makeCudaBufferSpace(int) {
  throw std::runtime_error("--device cuda: built without the CUDA toolkit");
}

}  // namespace gccl::perf
