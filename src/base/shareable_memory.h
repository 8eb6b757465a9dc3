// Memory the other processes of this machine can map: what gcclMemAlloc hands out. Each region
// is an anonymous memory file (memfd) mapped shared. The shm transport, finding a large send
// inside one, passes the region's file instead of the address, and the receiving rank maps it
// once and from then on reads or reduces straight out of it: no copy into a scratch slot, and
// no pinning of the sender's pages on every message, which cross-memory attach
// (process_vm_readv) cannot avoid.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace gccl {

// Where a buffer lies in a shareable region.
struct ShareableSpan {
  uint64_t region = 0;       // unique for the life of the process: never reused after a free
  int fd = -1;               // the region's memory file, in this process
  uint64_t device = 0;       // with `inode`, the file's identity: a peer that fetches `fd` by
  uint64_t inode = 0;        // number checks it
  uint64_t regionBytes = 0;  // the file's size (fixed: sealed against shrinking and growing)
  uint64_t offset = 0;       // of the buffer's first byte in the region
};

// At least `bytes` (nonzero) of zeroed shareable memory, page aligned; nullptr (with errno set)
// when the system refuses. Thread-safe, as are the two below.
void* allocateShareable(size_t bytes);

// Frees a region allocateShareable returned, even where a peer still maps it: its pages go back
// to the system at once (a peer's stale mapping then reads zeros, and never past the file's
// end: its size is sealed). In a process
// forked after the allocation, which shares the pages, it only unmaps them there: the parent's
// data stays. False when `address` is not the start of a live region.
bool freeShareable(void* address);

// The region that wholly holds [address, address + bytes), if any.
std::optional<ShareableSpan> findShareable(const void* address, size_t bytes);

}  // namespace gccl
