// Cross-memory attach: the receiver of a large message copies it straight out of the
// sender's buffer with process_vm_readv, one copy instead of two through the ring. The kernel
// may refuse (EPERM under a strict ptrace policy or between users, ENOSYS without the call);
// the pair then keeps to the rings.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace gccl::transport::shm {

// Messages of at least this many bytes (a ring's size, shm_transport.h) go single-copy when
// the pair can. A smaller message fits the ring: its sender writes it and goes on, while a
// single-copy send waits for the reader's copy and ack, a wake-up on a loaded machine (on the
// 2-vCPU VM a 64 KiB threshold made 2-rank allreduces of 64 KiB-1 MiB 1.4-2.7x slower).
// Above it, the sender would wait for the reader anyway, and one copy spares memory bandwidth.
inline constexpr size_t kCmaMinBytes = size_t{1} << 20;

// From a gcclMemAlloc buffer (base/shareable_memory.h), messages go zero-copy from this size
// on: the reader maps the buffer once and pins nothing per call, and a reduction reads it
// where it lies. It must lie below a slice's size (GCCL_CHUNK_BYTES, 1 MiB): schedules cut a
// buffer into equal slices of at most that, so a 4 MiB bucket between 2 ranks travels as
// three slices of 0.67 MiB, which a 1 MiB threshold would never send zero-copy.
inline constexpr size_t kZeroCopyMinBytes = size_t{64} << 10;

// On a pair that can go single-copy, a message of kZeroCopyMinBytes or more carries a word
// after its header saying what follows: its payload, or a descriptor of where to read it.
// A descriptor may come writable (its send offers write-back, Message::writeBackTo): a second
// descriptor then follows, of where the result goes. And a message may carry neither payload
// nor descriptor: its receiver's copy was written already.
enum class BodyKind : uint64_t {
  kPayload = 0x4c594150,             // "PAYL"
  kDescriptor = 0x43534544,          // "DESC"
  kWritableDescriptor = 0x57534544,  // "DESW"
  kDelivered = 0x444c5644,           // "DVLD"
};

// What a single-copy message carries in the ring instead of its payload.
struct CmaDescriptor {
  uint64_t address = 0;  // in the sender's address space
  uint64_t bytes = 0;
  // Where the payload lies in a shareable region of the sender (base/shareable_memory.h), which
  // the receiver may map instead (peer_regions.h); region 0: none.
  uint64_t region = 0;
  uint64_t regionBytes = 0;
  uint64_t offset = 0;
  uint64_t device = 0;  // with inode: the region's file, which the receiver checks
  uint64_t inode = 0;
  int64_t fd = -1;  // the region's file, in the sender
};

// The descriptor of a single-copy send of [address, address + bytes): its region too when it
// lies in shareable memory.
CmaDescriptor describeBuffer(const void* address, size_t bytes);

// Reads all `bytes`; returns 0 or the errno of the failing call.
int readRemote(pid_t pid, uint64_t address, void* into, size_t bytes);

// Logs once per process that single-copy is off, and why.
void noteCmaRefused(int errnoValue);

}  // namespace gccl::transport::shm
