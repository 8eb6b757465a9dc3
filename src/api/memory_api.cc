// The C boundary for memory the ranks of one machine can share (base/shareable_memory.h).
#include <gccl/gccl.h>

#include <cerrno>
#include <cstdio>

#include "api/boundary.h"
#include "base/error.h"
#include "base/shareable_memory.h"

using gccl::Status;
using gccl::api::guarded;
using gccl::api::requirePointer;

gcclResult_t gcclMemAlloc(void** ptr, size_t size) {
  return guarded(__func__, nullptr, [&] {
    requirePointer(ptr, "ptr");
    *ptr = nullptr;
    if (size == 0) gccl::fail(Status::kInvalidArgument, "size is 0");
    void* memory = gccl::allocateShareable(size);
    if (memory == nullptr) {
      const int error = errno;  // before strCat allocates
      gccl::failErrno(error, gccl::strCat("cannot allocate ", size, " B of shareable memory"));
    }
    *ptr = memory;
  });
}

gcclResult_t gcclMemFree(void* ptr) {
  return guarded(__func__, nullptr, [&] {
    if (ptr != nullptr && !gccl::freeShareable(ptr)) {
      char address[32];
      std::snprintf(address, sizeof address, "%p", ptr);
      gccl::fail(Status::kInvalidArgument, "ptr ", address,
                 " is not the start of a buffer gcclMemAlloc returned (or was freed already)");
    }
  });
}
