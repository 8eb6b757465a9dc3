// The shared memory of one pair of ranks: a control page, then one byte ring per direction.
// The lower rank creates it (O_EXCL, mode 0600), the higher one opens it, and the name is
// unlinked as soon as both have it mapped: from then on nothing of it is in /dev/shm, and the
// kernel frees it when the last of the two processes exits, however it exits.
#pragma once

#include <cstddef>
#include <string>

#include "transport/shm/byte_ring.h"

namespace gccl::transport::shm {

class SharedSegment {
 public:
  // Ring 0 carries the lower rank's sends, ring 1 the higher rank's.
  static SharedSegment create(const std::string& name, size_t ringBytes);
  // Throws Error(kRemoteError) when there is no such segment or it is not a gccl pair's.
  static SharedSegment open(const std::string& name, size_t ringBytes);
  // Harmless when the name is gone already.
  static void unlink(const std::string& name);

  SharedSegment() = default;
  SharedSegment(SharedSegment&& other) noexcept;
  SharedSegment& operator=(SharedSegment&& other) noexcept;
  SharedSegment(const SharedSegment&) = delete;
  SharedSegment& operator=(const SharedSegment&) = delete;
  ~SharedSegment();

  ByteRing ring(int index) const;

 private:
  SharedSegment(void* base, size_t bytes, size_t ringBytes)
      : base_(base), bytes_(bytes), ringBytes_(ringBytes) {}

  void* base_ = nullptr;
  size_t bytes_ = 0;
  size_t ringBytes_ = 0;
};

}  // namespace gccl::transport::shm
