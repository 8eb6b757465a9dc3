#include "base/shareable_memory.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <iterator>
#include <map>
#include <mutex>

namespace gccl {

namespace {

constexpr size_t kHugePageBytes = size_t{2} << 20;

struct Region {
  uint64_t id;
  int fd;
  uint64_t device;
  uint64_t inode;
  size_t bytes;
  pid_t owner;  // the allocating process: a child forked since shares the pages, not owns them
};

// Live regions by start address.
class Regions {
 public:
  void* allocate(size_t bytes) {
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    if (bytes == 0 || bytes > SIZE_MAX - page) {
      errno = EINVAL;
      return nullptr;
    }
    const size_t rounded = (bytes + page - 1) / page * page;
    const int fd = ::memfd_create("gccl-buffer", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return nullptr;
    struct stat status {};
    void* memory = MAP_FAILED;
    // Sealed at its size: a peer that maps the file can then never touch a page past its end
    // (SIGBUS), whatever this process does with it.
    if (::ftruncate(fd, static_cast<off_t>(rounded)) == 0 &&
        ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == 0 &&
        ::fstat(fd, &status) == 0) {
      memory = ::mmap(nullptr, rounded, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    }
    if (memory == MAP_FAILED) {
      const int error = errno;
      ::close(fd);
      errno = error;
      return nullptr;
    }
#ifdef MADV_HUGEPAGE
    // Advice only: memory files get huge pages where the system allows them (shmem_enabled
    // "advise"; Debian's default, "never", does not).
    if (rounded >= kHugePageBytes) (void)::madvise(memory, rounded, MADV_HUGEPAGE);
#endif
    try {
      std::lock_guard lock(mutex_);
      regions_[reinterpret_cast<uintptr_t>(memory)] = {++lastId_,
                                                       fd,
                                                       static_cast<uint64_t>(status.st_dev),
                                                       static_cast<uint64_t>(status.st_ino),
                                                       rounded,
                                                       ::getpid()};
    } catch (...) {  // no memory for the entry
      ::munmap(memory, rounded);
      ::close(fd);
      errno = ENOMEM;
      return nullptr;
    }
    return memory;
  }

  bool free(void* address) {
    Region region{};
    {
      std::lock_guard lock(mutex_);
      auto found = regions_.find(reinterpret_cast<uintptr_t>(address));
      if (found == regions_.end()) return false;
      region = found->second;
      regions_.erase(found);
    }
    // Peers that mapped the file hold it open: give its pages back now rather than when the
    // last of them unmaps. Not from a forked child: the pages are its parent's too.
    if (region.owner == ::getpid()) {
      (void)::fallocate(region.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
                        static_cast<off_t>(region.bytes));
    }
    ::munmap(address, region.bytes);
    ::close(region.fd);
    return true;
  }

  void lock() {
    mutex_.lock();
  }
  void unlock() {
    mutex_.unlock();
  }

  std::optional<ShareableSpan> find(const void* address, size_t bytes) {
    const auto start = reinterpret_cast<uintptr_t>(address);
    std::lock_guard lock(mutex_);
    auto after = regions_.upper_bound(start);
    if (after == regions_.begin()) return std::nullopt;
    const auto& [base, region] = *std::prev(after);
    const uintptr_t offset = start - base;
    if (offset > region.bytes || bytes > region.bytes - offset) return std::nullopt;
    return ShareableSpan{region.id, region.fd, region.device, region.inode, region.bytes, offset};
  }

 private:
  std::mutex mutex_;
  std::map<uintptr_t, Region> regions_;
  uint64_t lastId_ = 0;
};

Regions& regions() {
  // Never destroyed: frees may come from static destructors. A fork while another thread holds
  // the lock (the engine looks up every large send) would leave the child's copy locked for
  // good: the fork waits for it instead.
  static Regions* all = [] {
    auto* made = new Regions();
    ::pthread_atfork([] { regions().lock(); }, [] { regions().unlock(); },
                     [] { regions().unlock(); });
    return made;
  }();
  return *all;
}

}  // namespace

void* allocateShareable(size_t bytes) {
  return regions().allocate(bytes);
}

bool freeShareable(void* address) {
  return regions().free(address);
}

std::optional<ShareableSpan> findShareable(const void* address, size_t bytes) {
  return regions().find(address, bytes);
}

}  // namespace gccl
