#include "lazy/aligned_buffer.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#include "base/shareable_memory.h"

namespace gccl {

namespace {

// From one huge page up, the buffer starts on a huge-page boundary and asks the kernel for huge
// pages (where transparent huge pages are "madvise", the default of Debian and Ubuntu, only
// memory that asks gets them). The pool is what every allreduce reads and writes: with 4 KiB
// pages a shared-memory peer's single-copy read (process_vm_readv) pins it page by page, and
// 2-rank allreduces ran 1.15x faster on huge pages at 16 MiB, 1.3-1.7x at 64 MiB
// (docs/benchmarks.md, "Huge pages").
constexpr size_t kHugePageBytes = size_t{2} << 20;

void adviseHugePages([[maybe_unused]] void* memory, [[maybe_unused]] size_t bytes) {
#ifdef MADV_HUGEPAGE
  // Advice only: a kernel without transparent huge pages refuses it, and 4 KiB pages serve.
  (void)madvise(memory, bytes, MADV_HUGEPAGE);
#endif
}

}  // namespace

AlignedBuffer::AlignedBuffer(size_t bytes, size_t alignment, bool shareable) : bytes_(bytes) {
  if (shareable) {
    if (alignment > static_cast<size_t>(::sysconf(_SC_PAGESIZE))) {
      throw std::invalid_argument("shareable memory is aligned to a page at most");
    }
    // Zeroed by the system; never null, also for 0 bytes. Where the system refuses (out of
    // descriptors), heap memory serves: peers then copy it as they copy any other.
    if (void* memory = allocateShareable(std::max<size_t>(bytes, 1))) {
      memory_ = std::unique_ptr<std::byte, Free>(static_cast<std::byte*>(memory), Free(true));
      return;
    }
  }
  const bool huge = bytes >= kHugePageBytes;
  if (huge) alignment = std::max(alignment, kHugePageBytes);
  // aligned_alloc wants a size that is a multiple of the alignment (and not zero).
  const size_t rounded = bytes == 0 ? alignment : (bytes + alignment - 1) / alignment * alignment;
  if (rounded < bytes) throw std::bad_alloc();
  void* memory = std::aligned_alloc(alignment, rounded);
  if (memory == nullptr) throw std::bad_alloc();
  if (huge) adviseHugePages(memory, rounded);  // before the first touch, which places the pages
  std::memset(memory, 0, rounded);
  memory_.reset(static_cast<std::byte*>(memory));
}

void AlignedBuffer::Free::operator()(std::byte* memory) const {
  if (shareable) {
    freeShareable(memory);
  } else {
    std::free(memory);
  }
}

}  // namespace gccl
