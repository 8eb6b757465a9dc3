// Whether a pointer is CUDA device memory, asked of the CUDA driver per call, but only once the
// process has loaded the driver: a process that never touched CUDA holds no device memory, and
// must pay nothing for the question (no driver loaded, no context made). Needs no CUDA headers:
// the one driver function is looked up by name, so even a gccl built without CUDA tells a
// device pointer from a host one and refuses it clearly.
#pragma once

namespace gccl {

struct PointerLocation {
  bool device = false;  // the driver calls it device memory
  int ordinal = -1;     // its CUDA device, when device
};

PointerLocation locatePointer(const void* pointer);

}  // namespace gccl
