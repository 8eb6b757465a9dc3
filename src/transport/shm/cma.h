// Cross-memory attach: the receiver of a large message copies it straight out of the
// sender's buffer with process_vm_readv, one copy instead of two through the ring. The kernel
// may refuse (EPERM under a strict ptrace policy or between users, ENOSYS without the call);
// the pair then keeps to the rings.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace gccl::transport::shm {

// Messages of at least this many bytes go single-copy when the pair can.
inline constexpr size_t kCmaMinBytes = 64 * 1024;

// What a single-copy message carries in the ring instead of its payload.
struct CmaDescriptor {
  uint64_t address = 0;  // in the sender's address space
  uint64_t bytes = 0;
};

// Reads all `bytes`; returns 0 or the errno of the failing call.
int readRemote(pid_t pid, uint64_t address, void* into, size_t bytes);

// Logs once per process that single-copy is off, and why.
void noteCmaRefused(int errnoValue);

}  // namespace gccl::transport::shm
