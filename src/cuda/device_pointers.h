// Whether a pointer is CUDA device memory, asked of the CUDA driver per call, but only once the
// process has loaded the driver: a process that never touched CUDA holds no device memory, and
// must pay nothing for the question (no driver loaded, no context made). Needs no CUDA headers:
// the one driver function is looked up by name, so even a gccl built without CUDA tells a
// device pointer from a host one and refuses it clearly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>

namespace gccl {

struct PointerLocation {
  bool device = false;  // the driver calls it device memory
  int ordinal = -1;     // its CUDA device, when device
  // The allocation holding it, when device: [rangeStart, rangeStart + rangeBytes).
  uintptr_t rangeStart = 0;
  size_t rangeBytes = 0;
};

PointerLocation locatePointer(const void* pointer);

// Whether any of `pointers` is device memory. Where no driver is loaded (a host-only process,
// on every collective) that is known after one look for it, whatever the number of pointers.
bool anyDevicePointer(std::initializer_list<const void*> pointers);

// Whether [pointer, pointer + bytes) lies within one device allocation.
bool isDeviceRange(const void* pointer, size_t bytes);

}  // namespace gccl
