#include "transport/shm/peer_regions.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
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

void noteRefused(const std::string& peerName, int errnoValue) {
  static std::atomic<bool> said{false};
  if (said.exchange(true)) return;
  logInfo(LogSubsys::kInit, "shm: the kernel refused to hand over a gcclMemAlloc buffer of ",
          peerName, " (pidfd_getfd: ", std::strerror(errnoValue),
          "); such buffers are copied with process_vm_readv instead");
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
    : peerProcess_(peerProcess), peerName_(std::move(peerName)), refused_(peerProcess < 0) {}

PeerRegions::PeerRegions(PeerRegions&& other) noexcept
    : peerProcess_(other.peerProcess_),
      peerName_(std::move(other.peerName_)),
      mappings_(std::move(other.mappings_)),
      uses_(other.uses_),
      refused_(other.refused_) {
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
    if (errno == EPERM || errno == ENOSYS || errno == EACCES) {
      refused_ = true;
      noteRefused(peerName_, errno);
      return nullptr;
    }
    fail(Status::kRemoteError, "cannot map the buffer of ", peerName_, " (pidfd_getfd of its ",
         "descriptor ", descriptor.fd, ": ", std::strerror(errno), ")");
  }
  // The number may have named another file by now: the identity must match, and the file must
  // be sealed against shrinking, so no read of the mapping can fault past its end.
  struct stat status {};
  const bool same = ::fstat(fd, &status) == 0 && S_ISREG(status.st_mode) &&
                    static_cast<uint64_t>(status.st_ino) == descriptor.inode &&
                    static_cast<uint64_t>(status.st_size) == descriptor.regionBytes &&
                    (::fcntl(fd, F_GET_SEALS) & F_SEAL_SHRINK) != 0;
  void* base =
      same ? ::mmap(nullptr, descriptor.regionBytes, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
  const int error = errno;
  ::close(fd);
  if (!same) {
    fail(Status::kRemoteError, "malformed message from ", peerName_, " (descriptor ", descriptor.fd,
         " is not the sealed region ", descriptor.region, " it names)");
  }
  if (base == MAP_FAILED) {
    fail(Status::kSystemError, "cannot map ", descriptor.regionBytes, " B of ", peerName_,
         "'s buffer: ", std::strerror(error));
  }
  logInfo(LogSubsys::kNet, "shm: mapped a gcclMemAlloc buffer of ", peerName_, " (region ",
          descriptor.region, ", ", descriptor.regionBytes, " B): zero-copy from it on");
  if (mappings_.size() == kMaxMappings) unmapLeastRecent();
  mappings_.push_back(
      {descriptor.region, static_cast<const std::byte*>(base), descriptor.regionBytes, ++uses_});
  return &mappings_.back();
}

void PeerRegions::unmapLeastRecent() {
  auto oldest = std::min_element(mappings_.begin(), mappings_.end(),
                                 [](auto& a, auto& b) { return a.lastUse < b.lastUse; });
  ::munmap(const_cast<std::byte*>(oldest->base), oldest->bytes);
  mappings_.erase(oldest);
}

}  // namespace gccl::transport::shm
