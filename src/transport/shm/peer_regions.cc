#include "transport/shm/peer_regions.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

#include "base/error.h"
#include "base/logging.h"

namespace gccl::transport::shm {

namespace {

// A job's buffers are few (a framework's gradient pool, an allreduce_perf pair): beyond this
// many, the least recently used mapping goes. A region the peer freed is never named again,
// and its pages went back to the system when it was freed: its mapping costs address space only.
constexpr size_t kMaxMappings = 16;

// Mappings of one peer's regions together stay within this machine's memory: a peer's memory
// file may claim any size (its pages are not allocated until touched), and address space
// handed to its mappings is taken from this process's own.
uint64_t mappableBytes() {
  static const uint64_t bytes = static_cast<uint64_t>(::sysconf(_SC_PHYS_PAGES)) *
                                static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  return bytes;
}

void noteRefused(const std::string& peerName, const char* call, int errnoValue, bool permanent) {
  // Once for a policy, once for a shortage: the first must not hide the other.
  static std::atomic<bool> said[2]{false, false};
  if (said[permanent ? 1 : 0].exchange(true)) return;
  logInfo(LogSubsys::kNet, "shm: cannot map a gcclMemAlloc buffer of ", peerName, " (", call, ": ",
          std::strerror(errnoValue), "); ", permanent ? "its buffers are" : "this one is",
          " copied with process_vm_readv instead (results for it go back as data)");
}

bool isNamedRegion(int fd, const CmaDescriptor& descriptor) {
  struct stat status {};
  struct statfs system {};
  if (::fstat(fd, &status) != 0 || ::fstatfs(fd, &system) != 0) return false;
  const int seals = ::fcntl(fd, F_GET_SEALS);
  return S_ISREG(status.st_mode) && static_cast<uint64_t>(status.st_dev) == descriptor.device &&
         static_cast<uint64_t>(status.st_ino) == descriptor.inode &&
         static_cast<uint64_t>(status.st_size) == descriptor.regionBytes &&
         system.f_type == TMPFS_MAGIC && seals >= 0 && (seals & F_SEAL_SHRINK) != 0;
}

// The peer's descriptor `fd`, as a descriptor of this process; -1 with errno on failure.
int fetchPeerFile(int peerProcess, int64_t fd) {
#ifdef SYS_pidfd_getfd
  if (fd < 0 || fd > INT32_MAX) {
    errno = EBADF;
    return -1;
  }
  return static_cast<int>(::syscall(SYS_pidfd_getfd, peerProcess, static_cast<int>(fd), 0));
#else
  (void)peerProcess;
  (void)fd;
  errno = ENOSYS;
  return -1;
#endif
}

}  // namespace

RegionMapping mapPeerRegion(int peerProcess, const CmaDescriptor& descriptor,
                            const std::string& peerName) {
  if (peerProcess < 0) return {nullptr, 0, ESRCH, "pidfd_open", true};
  if (descriptor.regionBytes > mappableBytes()) {
    return {nullptr, 0, ENOMEM, "a region larger than this machine's memory", false};
  }
  const int fd = fetchPeerFile(peerProcess, descriptor.fd);
  if (fd < 0) {
    const int error = errno;
    if (error == EPERM || error == EACCES || error == ENOSYS) {
      return {nullptr, 0, error, "pidfd_getfd", true};
    }
    if (error == EMFILE || error == ENFILE || error == ENOMEM) {
      return {nullptr, 0, error, "pidfd_getfd", false};
    }
    fail(Status::kRemoteError, "malformed message from ", peerName, " (its descriptor ",
         descriptor.fd, " for region ", descriptor.region, ": ", std::strerror(error), ")");
  }
  // The number may have named another file by now.
  if (!isNamedRegion(fd, descriptor)) {
    ::close(fd);
    fail(Status::kRemoteError, "malformed message from ", peerName, " (descriptor ", descriptor.fd,
         " is not the sealed memory file of region ", descriptor.region, ")");
  }
  void* base = ::mmap(nullptr, descriptor.regionBytes, PROT_READ, MAP_SHARED, fd, 0);
  const int error = errno;
  ::close(fd);
  if (base == MAP_FAILED) return {nullptr, 0, error, "mmap", false};
  return {static_cast<std::byte*>(base), descriptor.regionBytes, 0, "", false};
}

PeerRegions::PeerRegions(int peerProcess, std::string peerName)
    : peerProcess_(peerProcess), peerName_(std::move(peerName)), refused_(peerProcess < 0) {
  mappings_.reserve(kMaxMappings);  // so that keeping a new mapping cannot fail
}

PeerRegions::PeerRegions(PeerRegions&& other) noexcept
    : peerProcess_(other.peerProcess_),
      peerName_(std::move(other.peerName_)),
      mappings_(std::move(other.mappings_)),
      mappedBytes_(other.mappedBytes_),
      uses_(other.uses_),
      refused_(other.refused_),
      recycling_(other.recycling_) {
  other.mappings_.clear();
}

PeerRegions::~PeerRegions() {
  for (const Mapping& mapping : mappings_) {
    ::munmap(mapping.base, mapping.bytes);
  }
}

void PeerRegions::checkFits(const CmaDescriptor& descriptor) const {
  if (descriptor.offset > descriptor.regionBytes ||
      descriptor.bytes > descriptor.regionBytes - descriptor.offset) {
    fail(Status::kRemoteError, "malformed message from ", peerName_, " (", descriptor.bytes,
         " B at offset ", descriptor.offset, " of a region of ", descriptor.regionBytes, " B)");
  }
}

std::byte* PeerRegions::payload(const CmaDescriptor& descriptor) {
  if (descriptor.region == 0 || refused_) return nullptr;
  checkFits(descriptor);
  Mapping* mapping = map(descriptor, 0);
  return mapping == nullptr ? nullptr : mapping->base + descriptor.offset;
}

std::byte* PeerRegions::destination(const CmaDescriptor& descriptor, uint64_t keepRegion) {
  if (descriptor.region == 0 || refused_) return nullptr;
  checkFits(descriptor);
  Mapping* mapping = map(descriptor, keepRegion);
  if (mapping == nullptr || !makeWritable(*mapping)) return nullptr;
  return mapping->base + descriptor.offset;
}

// A shared mapping of a file opened for writing may be made writable later (the kernel
// decided at mmap whether it may): what a peer offers for writing is, the rest stays
// read-only, so that a stray write faults here rather than lands in a peer's memory.
bool PeerRegions::makeWritable(Mapping& mapping) {
  if (mapping.writable || mapping.writeRefused) return mapping.writable;
  if (::mprotect(mapping.base, mapping.bytes, PROT_READ | PROT_WRITE) == 0) {
    mapping.writable = true;
    return true;
  }
  mapping.writeRefused = true;
  logInfo(LogSubsys::kNet, "shm: cannot write into a gcclMemAlloc buffer of ", peerName_,
          " (mprotect: ", std::strerror(errno), "): its results go back to it as data");
  return false;
}

PeerRegions::Mapping* PeerRegions::map(const CmaDescriptor& descriptor, uint64_t keepRegion) {
  for (Mapping& mapping : mappings_) {
    if (mapping.region != descriptor.region) continue;
    if (mapping.bytes != descriptor.regionBytes) {
      fail(Status::kRemoteError, "malformed message from ", peerName_, " (region ",
           descriptor.region, " of ", descriptor.regionBytes, " B, mapped at ", mapping.bytes,
           " B)");
    }
    mapping.lastUse = ++uses_;
    return &mapping;
  }
  // Before evicting anything for it: the region does not fit beside the one kept.
  uint64_t keptBytes = 0;
  for (const Mapping& mapping : mappings_) {
    if (mapping.region == keepRegion) keptBytes = mapping.bytes;
  }
  if (descriptor.regionBytes > mappableBytes() - std::min(keptBytes, mappableBytes())) {
    noteRefused(peerName_, "regions larger than this machine's memory", ENOMEM, false);
    return nullptr;
  }
  // Room first, so that a process at its limit of mappings gets one back before it asks.
  if (mappings_.size() == kMaxMappings) unmapLeastRecent(keepRegion);
  while (mappedBytes_ + descriptor.regionBytes > mappableBytes()) unmapLeastRecent(keepRegion);
  const RegionMapping made = mapPeerRegion(peerProcess_, descriptor, peerName_);
  if (made.base == nullptr) {
    refused_ = made.permanent;
    noteRefused(peerName_, made.call, made.error, made.permanent);
    return nullptr;
  }
  mappings_.push_back({descriptor.region, made.base, made.bytes, ++uses_});
  mappedBytes_ += made.bytes;
  if (!recycling_) {
    logInfo(LogSubsys::kNet, "shm: mapped a shareable buffer (gcclMemAlloc's kind) of ", peerName_,
            " (region ", descriptor.region, ", ", descriptor.regionBytes,
            " B): zero-copy from it on");
  }
  return &mappings_.back();
}

void PeerRegions::unmapLeastRecent(uint64_t keepRegion) {
  if (!recycling_) {
    recycling_ = true;
    logInfo(LogSubsys::kNet, "shm: the gcclMemAlloc buffers of ", peerName_,
            " in use exceed what is kept mapped (", kMaxMappings,
            " buffers, this machine's memory): mappings are recycled, each remap costing page "
            "faults");
  }
  // Region ids start at 1 (0 names none), so a keepRegion of 0 keeps nothing.
  auto oldest = std::min_element(mappings_.begin(), mappings_.end(), [&](auto& a, auto& b) {
    return (a.region == keepRegion) != (b.region == keepRegion) ? b.region == keepRegion
                                                                : a.lastUse < b.lastUse;
  });
  ::munmap(oldest->base, oldest->bytes);
  mappedBytes_ -= oldest->bytes;
  mappings_.erase(oldest);
}

}  // namespace gccl::transport::shm
