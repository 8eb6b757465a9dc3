#include "cuda/device_pointers.h"

#include <dlfcn.h>
#include <link.h>

#include <atomic>
#include <cstdint>
#include <mutex>

namespace gccl {

namespace {

// cuPointerGetAttribute(void* data, CUpointer_attribute, CUdeviceptr) and the values gccl asks
// for, from cuda.h (a stable driver ABI).
using GetAttribute = int (*)(void*, int, unsigned long long);
constexpr int kSuccess = 0;
constexpr int kAttributeMemoryType = 2;     // CU_POINTER_ATTRIBUTE_MEMORY_TYPE
constexpr int kAttributeDeviceOrdinal = 9;  // CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL
constexpr int kAttributeRangeStart = 11;    // CU_POINTER_ATTRIBUTE_RANGE_START_ADDR
constexpr int kAttributeRangeSize = 12;     // CU_POINTER_ATTRIBUTE_RANGE_SIZE
constexpr unsigned kMemoryTypeDevice = 2;   // CU_MEMORYTYPE_DEVICE

// dl_iterate_phdr's count of objects ever loaded: unchanged means no driver came since the
// last look, so a host-only process pays one callback per call, not a dlopen.
uint64_t objectsLoaded() {
  uint64_t adds = 0;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* result) {
        *static_cast<uint64_t*>(result) = info->dlpi_adds;
        return 1;  // the first object tells
      },
      &adds);
  return adds;
}

class Driver {
 public:
  GetAttribute getAttribute() {
    if (GetAttribute found = function_.load(std::memory_order_acquire)) return found;
    const uint64_t adds = objectsLoaded();
    if (adds == checkedAt_.load(std::memory_order_acquire)) return nullptr;
    std::lock_guard lock(mutex_);
    // RTLD_NOLOAD: only a driver the process has already loaded. The handle is kept (never
    // closed): the function stays valid for the life of the process.
    if (void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD)) {
      function_.store(reinterpret_cast<GetAttribute>(dlsym(driver, "cuPointerGetAttribute")),
                      std::memory_order_release);
    }
    checkedAt_.store(adds, std::memory_order_release);
    return function_.load(std::memory_order_acquire);
  }

 private:
  std::mutex mutex_;
  std::atomic<GetAttribute> function_{nullptr};
  std::atomic<uint64_t> checkedAt_{UINT64_MAX};
};

Driver& driver() {
  static Driver instance;
  return instance;
}

}  // namespace

PointerLocation locatePointer(const void* pointer) {
  PointerLocation location;
  const GetAttribute getAttribute = driver().getAttribute();
  if (getAttribute == nullptr || pointer == nullptr) return location;
  const auto address = reinterpret_cast<unsigned long long>(pointer);
  unsigned memoryType = 0;
  // A host pointer, or a driver not initialized yet (no device memory can exist then): an
  // error, and host memory.
  if (getAttribute(&memoryType, kAttributeMemoryType, address) != kSuccess ||
      memoryType != kMemoryTypeDevice) {
    return location;
  }
  int ordinal = -1;
  unsigned long long rangeStart = 0;
  size_t rangeBytes = 0;
  if (getAttribute(&ordinal, kAttributeDeviceOrdinal, address) != kSuccess ||
      getAttribute(&rangeStart, kAttributeRangeStart, address) != kSuccess ||
      getAttribute(&rangeBytes, kAttributeRangeSize, address) != kSuccess) {
    return location;
  }
  location.device = true;
  location.ordinal = ordinal;
  location.rangeStart = static_cast<uintptr_t>(rangeStart);
  location.rangeBytes = rangeBytes;
  return location;
}

bool anyDevicePointer(std::initializer_list<const void*> pointers) {
  if (driver().getAttribute() == nullptr) return false;
  for (const void* pointer : pointers) {
    if (locatePointer(pointer).device) return true;
  }
  return false;
}

bool isDeviceRange(const void* pointer, size_t bytes) {
  const PointerLocation location = locatePointer(pointer);
  const auto start = reinterpret_cast<uintptr_t>(pointer);
  return location.device && start - location.rangeStart <= location.rangeBytes &&
         bytes <= location.rangeBytes - (start - location.rangeStart);
}

}  // namespace gccl
