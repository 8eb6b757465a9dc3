#include "transport/shm/shm_segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <new>
#include <utility>

#include "base/error.h"

namespace gccl::transport::shm {

namespace {

constexpr uint32_t kSegmentMagic = 0x4743534d;  // "GCSM"
constexpr int kSizeSeals = F_SEAL_SHRINK | F_SEAL_GROW;

struct Layout {
  std::atomic<uint32_t> magic{0};  // set last by the creator: the rest is initialised
  uint32_t ringBytes = 0;
  RingControl rings[2];
};
// The rings start on their own page, after the control block.
constexpr size_t kControlBytes = 4096;
static_assert(sizeof(Layout) <= kControlBytes);

size_t segmentBytes(size_t ringBytes) {
  return kControlBytes + 2 * ringBytes;
}

// Closes `fd` when mapping fails. Populated: the rings' pages are allocated and mapped here,
// at connection time, not faulted in by the first megabyte of messages; with more ranks than
// vCPUs those first faults made a 3-rank 4 KiB allreduce take 220-250 us a call for its first
// ~250 calls instead of 34-43 (docs/benchmarks.md).
void* mapFd(int fd, size_t bytes) {
  void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  if (base == MAP_FAILED) {
    const int error = errno;
    ::close(fd);
    failErrno(error, "mmap of a shared segment");
  }
  return base;
}

}  // namespace

SharedSegment SharedSegment::create(size_t ringBytes) {
  const int fd = ::memfd_create("gccl-pair", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) failErrno(errno, "memfd_create");
  const size_t bytes = segmentBytes(ringBytes);
  // Sealed at its size: the peer maps it, and a segment its creator could still shrink would
  // let the creator crash the peer with SIGBUS.
  const char* step = nullptr;
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    step = "ftruncate of a shared segment";
  } else if (::fcntl(fd, F_ADD_SEALS, kSizeSeals | F_SEAL_SEAL) != 0) {
    step = "sealing a shared segment";
  }
  if (step != nullptr) {
    const int error = errno;
    ::close(fd);
    failErrno(error, step);
  }
  SharedSegment segment(fd, mapFd(fd, bytes), bytes, ringBytes);
  auto* layout = new (segment.base_) Layout;
  layout->ringBytes = static_cast<uint32_t>(ringBytes);
  layout->magic.store(kSegmentMagic, std::memory_order_release);
  return segment;
}

SharedSegment SharedSegment::adopt(int fd, size_t ringBytes) {
  struct stat info {};
  const size_t bytes = segmentBytes(ringBytes);
  const char* wrong = nullptr;
  if (::fstat(fd, &info) != 0) {
    wrong = "cannot be inspected";
  } else if (!S_ISREG(info.st_mode) || static_cast<size_t>(info.st_size) != bytes) {
    wrong = "has the wrong size";
  } else if (info.st_uid != ::geteuid()) {
    wrong = "belongs to another user";
  } else if (const int seals = ::fcntl(fd, F_GET_SEALS);
             seals < 0 || (seals & kSizeSeals) != kSizeSeals) {
    wrong = "is not sealed at its size (its creator could shrink it under us)";
  }
  if (wrong != nullptr) {
    ::close(fd);
    fail(Status::kRemoteError, "the peer's shared segment ", wrong);
  }
  SharedSegment segment(fd, mapFd(fd, bytes), bytes, ringBytes);
  segment.closeDescriptor();  // the mapping keeps the memory
  const auto* layout = static_cast<const Layout*>(segment.base_);
  if (layout->magic.load(std::memory_order_acquire) != kSegmentMagic ||
      layout->ringBytes != ringBytes) {
    fail(Status::kRemoteError, "the peer's shared segment is not a gccl pair's");
  }
  return segment;
}

SharedSegment::SharedSegment(SharedSegment&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      base_(std::exchange(other.base_, nullptr)),
      bytes_(other.bytes_),
      ringBytes_(other.ringBytes_) {}

SharedSegment& SharedSegment::operator=(SharedSegment&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = std::exchange(other.fd_, -1);
    base_ = std::exchange(other.base_, nullptr);
    bytes_ = other.bytes_;
    ringBytes_ = other.ringBytes_;
  }
  return *this;
}

SharedSegment::~SharedSegment() {
  release();
}

void SharedSegment::closeDescriptor() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void SharedSegment::release() {
  if (base_ != nullptr) ::munmap(base_, bytes_);
  if (fd_ >= 0) ::close(fd_);
  base_ = nullptr;
  fd_ = -1;
}

ByteRing SharedSegment::ring(int index) const {
  auto* layout = static_cast<Layout*>(base_);
  auto* data = static_cast<std::byte*>(base_) + kControlBytes + index * ringBytes_;
  return ByteRing(&layout->rings[index], data, ringBytes_);
}

}  // namespace gccl::transport::shm
