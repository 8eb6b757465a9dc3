// The shared memory of one pair of ranks: a control page, then one byte ring per direction.
// The lower rank creates it as an anonymous memory file (memfd_create: no name in /dev/shm,
// ever) and hands the descriptor to its peer over their doorbell socket once the peer proved
// the job token; nobody else can reach it, and the kernel frees it when the last of the two
// processes exits, however it exits.
#pragma once

#include <cstddef>

#include "transport/shm/byte_ring.h"

namespace gccl::transport::shm {

class SharedSegment {
 public:
  // Ring 0 carries the lower rank's sends, ring 1 the higher rank's.
  static SharedSegment create(size_t ringBytes);
  // Maps a segment whose descriptor came from the peer; takes ownership of `fd`. Throws
  // Error(kRemoteError) when it is not a gccl pair's segment of this user with these rings.
  static SharedSegment adopt(int fd, size_t ringBytes);

  SharedSegment() = default;
  SharedSegment(SharedSegment&& other) noexcept;
  SharedSegment& operator=(SharedSegment&& other) noexcept;
  SharedSegment(const SharedSegment&) = delete;
  SharedSegment& operator=(const SharedSegment&) = delete;
  ~SharedSegment();

  ByteRing ring(int index) const;
  // The creator's descriptor, to hand to the peer; -1 once closed (the mapping stays).
  int fd() const { return fd_; }
  void closeDescriptor();

 private:
  SharedSegment(int fd, void* base, size_t bytes, size_t ringBytes)
      : fd_(fd), base_(base), bytes_(bytes), ringBytes_(ringBytes) {}
  void release();

  int fd_ = -1;
  void* base_ = nullptr;
  size_t bytes_ = 0;
  size_t ringBytes_ = 0;
};

}  // namespace gccl::transport::shm
