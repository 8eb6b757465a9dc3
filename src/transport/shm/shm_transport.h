// Shared-memory backend for ranks on one machine. Each pair gets a segment with one byte ring
// per direction and a doorbell socket; the lower rank of a pair listens, the higher one dials
// and proves it holds the job token, and the lower one hands it the segment as a descriptor
// (shm_segment.h): nothing is ever in /dev/shm, whatever happens to the processes.
#pragma once

#include <cstddef>
#include <string>

#include "transport/transport.h"

namespace gccl::transport::shm {

// Per direction of a pair: small messages and single-copy descriptors live here, and the whole
// traffic when the kernel refuses single-copy.
inline constexpr size_t kRingBytes = size_t{1} << 20;
// Whole pages: each ring then starts on a page boundary, which warming its pages relies on
// (ByteRing::warmForProducer).
static_assert(kRingBytes % 4096 == 0);

class ShmTransport final : public Transport {
 public:
  // `singleCopy` (GCCL_SHM_SINGLE_COPY): read peers' buffers with cross-memory attach. Decided
  // per direction: a rank without it receives everything through the rings. `writeBack`
  // (GCCL_SHM_WRITE_BACK): offer this rank's buffers for write-back, and write into those
  // that peers offer (Message::writeBackTo).
  ShmTransport(bool singleCopy, bool writeBack) : singleCopy_(singleCopy), writeBack_(writeBack) {}
  std::string name() const override { return "shm"; }
  ConnectionMap connect(const ConnectRequest& request, Store& store, Poller& poller) override;

 private:
  bool singleCopy_;
  bool writeBack_;
};

// Whether this process can create a segment at all (a kernel without memfd_create, or a
// seccomp profile that forbids it, cannot): GCCL_TRANSPORT=auto then keeps to TCP.
bool sharedMemoryUsable(std::string* why = nullptr);

}  // namespace gccl::transport::shm
