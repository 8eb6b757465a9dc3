#include "lazy/aligned_buffer.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace gccl {

AlignedBuffer::AlignedBuffer(size_t bytes, size_t alignment) : bytes_(bytes) {
  // aligned_alloc wants a size that is a multiple of the alignment (and not zero).
  const size_t rounded = bytes == 0 ? alignment : (bytes + alignment - 1) / alignment * alignment;
  if (rounded < bytes) throw std::bad_alloc();
  void* memory = std::aligned_alloc(alignment, rounded);
  if (memory == nullptr) throw std::bad_alloc();
  std::memset(memory, 0, rounded);
  memory_.reset(static_cast<std::byte*>(memory));
}

void AlignedBuffer::Free::operator()(std::byte* memory) const {
  std::free(memory);
}

}  // namespace gccl
