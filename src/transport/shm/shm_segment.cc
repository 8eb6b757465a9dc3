#include "transport/shm/shm_segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <utility>

#include "base/error.h"

namespace gccl::transport::shm {

namespace {

constexpr uint32_t kSegmentMagic = 0x4743534d;  // "GCSM"

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

void* mapFd(int fd, size_t bytes, const std::string& name) {
  void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int error = errno;
  ::close(fd);
  if (base == MAP_FAILED) failErrno(error, strCat("mmap of shared segment ", name));
  return base;
}

}  // namespace

SharedSegment SharedSegment::create(const std::string& name, size_t ringBytes) {
  int fd = ::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0 && errno == EEXIST) {
    // Left by an earlier job with the same token whose lower rank died before the higher one
    // had mapped it (nobody else can name it): it is ours to replace.
    ::shm_unlink(name.c_str());
    fd = ::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
  }
  if (fd < 0) failErrno(errno, strCat("shm_open(", name, ", O_CREAT | O_EXCL)"));
  const size_t bytes = segmentBytes(ringBytes);
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    const int error = errno;
    ::close(fd);
    ::shm_unlink(name.c_str());
    failErrno(error, strCat("ftruncate of shared segment ", name));
  }
  SharedSegment segment(mapFd(fd, bytes, name), bytes, ringBytes);
  auto* layout = new (segment.base_) Layout;
  layout->ringBytes = static_cast<uint32_t>(ringBytes);
  layout->magic.store(kSegmentMagic, std::memory_order_release);
  return segment;
}

SharedSegment SharedSegment::open(const std::string& name, size_t ringBytes) {
  const int fd = ::shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) {
    fail(Status::kRemoteError, "cannot open shared segment ", name, ": ", std::strerror(errno));
  }
  struct stat info {};
  const size_t bytes = segmentBytes(ringBytes);
  if (::fstat(fd, &info) != 0 || static_cast<size_t>(info.st_size) != bytes) {
    ::close(fd);
    fail(Status::kRemoteError, "shared segment ", name, " has the wrong size");
  }
  SharedSegment segment(mapFd(fd, bytes, name), bytes, ringBytes);
  const auto* layout = static_cast<const Layout*>(segment.base_);
  if (layout->magic.load(std::memory_order_acquire) != kSegmentMagic ||
      layout->ringBytes != ringBytes) {
    fail(Status::kRemoteError, "shared segment ", name, " is not a gccl pair's");
  }
  return segment;
}

void SharedSegment::unlink(const std::string& name) {
  ::shm_unlink(name.c_str());
}

SharedSegment::SharedSegment(SharedSegment&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)),
      bytes_(other.bytes_),
      ringBytes_(other.ringBytes_) {}

SharedSegment& SharedSegment::operator=(SharedSegment&& other) noexcept {
  if (this != &other) {
    if (base_ != nullptr) ::munmap(base_, bytes_);
    base_ = std::exchange(other.base_, nullptr);
    bytes_ = other.bytes_;
    ringBytes_ = other.ringBytes_;
  }
  return *this;
}

SharedSegment::~SharedSegment() {
  if (base_ != nullptr) ::munmap(base_, bytes_);
}

ByteRing SharedSegment::ring(int index) const {
  auto* layout = static_cast<Layout*>(base_);
  auto* data = static_cast<std::byte*>(base_) + kControlBytes + index * ringBytes_;
  return ByteRing(&layout->rings[index], data, ringBytes_);
}

}  // namespace gccl::transport::shm
