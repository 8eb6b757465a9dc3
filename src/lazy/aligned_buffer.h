// The memory behind the gradient pool (and the fusion buffer of copy mode): one zeroed,
// aligned allocation whose padding stays zero, so buckets may reduce across it. Heap memory, or
// shareable memory (base/shareable_memory.h) that shm peers read zero-copy.
#pragma once

#include <cstddef>
#include <memory>

namespace gccl {

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  // Zeroed; never null, also for 0 bytes (collectives take a null buffer only when empty, and a
  // view of an empty tensor is still a pointer the framework may hold). Alignment: a power of 2.
  // From 2 MiB up, aligned to 2 MiB, rounded up to a multiple of it (all zeroed) and advised
  // to use huge pages. `shareable` (an alignment of at most a page): from shareable memory
  // instead where the system gives it (else as above), page aligned; huge pages there are the
  // system's choice (shmem_enabled).
  AlignedBuffer(size_t bytes, size_t alignment, bool shareable = false);

  std::byte* data() const { return memory_.get(); }
  size_t size() const { return bytes_; }
  bool shareable() const { return memory_.get_deleter().shareable; }

 private:
  struct Free {
    Free() noexcept : shareable(false) {}
    explicit Free(bool fromShareableMemory) noexcept : shareable(fromShareableMemory) {}
    bool shareable;
    void operator()(std::byte* memory) const;
  };
  std::unique_ptr<std::byte, Free> memory_;
  size_t bytes_ = 0;
};

}  // namespace gccl
