// Built when CMake found no CUDA toolkit: device buffers get this error, nothing else changes.
#include "base/error.h"
#include "cuda/copy_engine.h"

namespace gccl {

std::unique_ptr<CopyEngine> makeCudaCopyEngine(int device) {
  fail(Status::kSystemError, "device buffers (CUDA device ", device,
       "): this gccl was built without CUDA; rebuild it where CMake finds the CUDA toolkit");
}

}  // namespace gccl
