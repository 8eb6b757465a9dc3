// The shareable regions of a shm peer (base/shareable_memory.h: what gcclMemAlloc hands out)
// that this rank has mapped. A single-copy message from inside one names the region instead of
// only an address, and the receiver reads it, or reduces it, straight out of its mapping of the
// peer's memory file: no copy into a scratch slot first, and none of the per-call page pinning
// of process_vm_readv. The mapping is made on a region's first message and kept: a training
// loop sends from the same buffers every step.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "transport/shm/cma.h"

namespace gccl::transport::shm {

// One mapping of a peer's region, or why there is none.
struct RegionMapping {
  std::byte* base = nullptr;
  uint64_t bytes = 0;
  int error = 0;           // without a mapping: the errno of `call`, which this process
  const char* call = "";   // could not complete (a policy, a shortage: copy instead)
  bool permanent = false;  // the refusal will not change (a policy, an old kernel)
};

// Maps the region `descriptor` names from the peer behind `peerProcess` (a pidfd): fetches the
// peer's file (pidfd_getfd), checks that it is the sealed memory file named (device, inode,
// size, tmpfs, shrink seal: no access to the mapping can run past its end) and maps it
// read-only.
// Throws naming the peer when the descriptor names no such file of the peer's.
RegionMapping mapPeerRegion(int peerProcess, const CmaDescriptor& descriptor,
                            const std::string& peerName);

class PeerRegions {
 public:
  // `peerProcess`: the peer's pidfd (-1: none, and nothing is mapped). Not owned.
  PeerRegions(int peerProcess, std::string peerName);
  ~PeerRegions();
  PeerRegions(PeerRegions&& other) noexcept;
  PeerRegions& operator=(PeerRegions&&) = delete;

  // The payload of `descriptor` in this rank's mapping of the peer's region, or nullptr where
  // the descriptor names no region or it cannot be mapped here (the kernel refuses to hand
  // over the peer's files, this process is short of descriptors, memory or mappings, or the
  // region is larger than this machine's memory: logged once, and the caller copies with
  // process_vm_readv instead). Throws naming the peer when the descriptor does not fit the
  // region it names, or names no file of the peer's. Read-only.
  std::byte* payload(const CmaDescriptor& descriptor);
  // The same for where a write-back's result goes (the second descriptor of a writable one:
  // Message::writeBackTo), made writable: its region's mapping is made writable too, once, or
  // nullptr where it cannot be (a write-sealed file, or one the peer opened read-only: its
  // results then go back as data). Only regions offered for writing are ever mapped writable.
  // Mapping it does not unmap `keepRegion` (the payload's, in use beside it).
  std::byte* destination(const CmaDescriptor& descriptor, uint64_t keepRegion);
  // Maps nothing more (the peer's process handle is about to close); mappings stay until
  // destruction.
  void detach() {
    refused_ = true;
    peerProcess_ = -1;
  }

 private:
  struct Mapping {
    uint64_t region;
    std::byte* base;
    uint64_t bytes;
    uint64_t lastUse;
    bool writable = false;
    bool writeRefused = false;
  };
  // Throws unless `descriptor` lies inside the region it names.
  void checkFits(const CmaDescriptor& descriptor) const;
  Mapping* map(const CmaDescriptor& descriptor, uint64_t keepRegion);
  bool makeWritable(Mapping& mapping);
  void unmapLeastRecent(uint64_t keepRegion);

  int peerProcess_;
  std::string peerName_;
  std::vector<Mapping> mappings_;
  uint64_t mappedBytes_ = 0;
  uint64_t uses_ = 0;
  bool refused_ = false;    // the kernel would not hand over the peer's files: stop asking
  bool recycling_ = false;  // more regions than mappings kept: said once, then quiet
};

}  // namespace gccl::transport::shm
