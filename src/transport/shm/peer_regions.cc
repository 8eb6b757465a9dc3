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

void noteRefused(const std::string& peerName, const char* call, int errnoValue) {
  static std::atomic<bool> said{false};
  if (said.exchange(true)) return;
  logInfo(LogSubsys::kInit, "shm: cannot map a gcclMemAlloc buffer of ", peerName, " (", call, ": ",
          std::strerror(errnoValue), "); copied with process_vm_readv instead");
}

// Whether `fd` is the region the descriptor names: the same file (device and inode), of its
// size, a memory file (tmpfs: no disk file, no hugetlbfs pool that could run dry) sealed
// against shrinking, so that no read of its mapping can fault.
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

PeerRegions::PeerRegions(int peerProcess, std::string peerName)
    : peerProcess_(peerProcess), peerName_(std::move(peerName)), refused_(peerProcess < 0) {
  mappings_.reserve(kMaxMappings);  // so that keeping a new mapping cannot fail
}

PeerRegions::PeerRegions(PeerRegions&& other) noexcept
    : peerProcess_(other.peerProcess_),
      peerName_(std::move(other.peerName_)),
      mappings_(std::move(other.mappings_)),
      uses_(other.uses_),
      refused_(other.refused_),
      recycling_(other.recycling_) {
  other.mappings_.clear();
}

PeerRegions::~PeerRegions() {
  for (const Mapping& mapping : mappings_) {
    ::munmap(const_cast<std::byte*>(mapping.base), mapping.bytes);
  }
}

const std::byte* PeerRegions::payload(const CmaDescriptor& descriptor) {
  if (descriptor.region == 0 || refused_) return nullptr;
  if (descriptor.offset > descriptor.regionBytes ||
      descriptor.bytes > descriptor.regionBytes - descriptor.offset) {
    fail(Status::kRemoteError, "malformed message from ", peerName_, " (", descriptor.bytes,
         " B at offset ", descriptor.offset, " of a region of ", descriptor.regionBytes, " B)");
  }
  const Mapping* mapping = map(descriptor);
  return mapping == nullptr ? nullptr : mapping->base + descriptor.offset;
}

const PeerRegions::Mapping* PeerRegions::map(const CmaDescriptor& descriptor) {
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
  const int fd = fetchPeerFile(peerProcess_, descriptor.fd);
  if (fd < 0) {
    const int error = errno;
    if (error == EPERM || error == EACCES || error == ENOSYS) {
      refused_ = true;  // for good: a policy, or an old kernel
      noteRefused(peerName_, "pidfd_getfd", error);
      return nullptr;
    }
    if (error == EMFILE || error == ENFILE || error == ENOMEM) {
      noteRefused(peerName_, "pidfd_getfd", error);  // this message: the next may map
      return nullptr;
    }
    fail(Status::kRemoteError, "malformed message from ", peerName_, " (its descriptor ",
         descriptor.fd, " for region ", descriptor.region, ": ", std::strerror(error), ")");
  }
  // The number may have named another file by now.
  if (!isNamedRegion(fd, descriptor)) {
    ::close(fd);
    fail(Status::kRemoteError, "malformed message from ", peerName_, " (descriptor ", descriptor.fd,
         " is not the sealed memory file of region ", descriptor.region, ")");
  }
  void* base = ::mmap(nullptr, descriptor.regionBytes, PROT_READ, MAP_SHARED, fd, 0);
  const int error = errno;
  ::close(fd);
  if (base == MAP_FAILED) {
    noteRefused(peerName_, "mmap", error);  // short of address space or mappings
    return nullptr;
  }
  if (mappings_.size() == kMaxMappings) unmapLeastRecent();
  mappings_.push_back(
      {descriptor.region, static_cast<const std::byte*>(base), descriptor.regionBytes, ++uses_});
  if (!recycling_) {
    logInfo(LogSubsys::kNet, "shm: mapped a gcclMemAlloc buffer of ", peerName_, " (region ",
            descriptor.region, ", ", descriptor.regionBytes, " B): zero-copy from it on");
  }
  return &mappings_.back();
}

void PeerRegions::unmapLeastRecent() {
  if (!recycling_) {
    recycling_ = true;
    logInfo(LogSubsys::kNet, "shm: more than ", kMaxMappings, " gcclMemAlloc buffers of ",
            peerName_, " in use: their mappings are recycled (each remap costs page faults)");
  }
  auto oldest = std::min_element(mappings_.begin(), mappings_.end(),
                                 [](auto& a, auto& b) { return a.lastUse < b.lastUse; });
  ::munmap(const_cast<std::byte*>(oldest->base), oldest->bytes);
  mappings_.erase(oldest);
}

}  // namespace gccl::transport::shm
