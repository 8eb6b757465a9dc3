#include "transport/shm/cma.h"

#include <sys/uio.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "base/logging.h"
#include "base/shareable_memory.h"

namespace gccl::transport::shm {

int readRemote(pid_t pid, uint64_t address, void* into, size_t bytes) {
  size_t done = 0;
  while (done < bytes) {
    // The kernel may copy less than asked (it stops at a page it cannot read, or early on a
    // signal): go on from there.
    const iovec local{static_cast<char*>(into) + done, bytes - done};
    const iovec remote{reinterpret_cast<void*>(address + done), bytes - done};
    const ssize_t n = ::process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 ? errno : EFAULT;
    done += static_cast<size_t>(n);
  }
  return 0;
}

CmaDescriptor describeBuffer(const void* address, size_t bytes) {
  CmaDescriptor descriptor{reinterpret_cast<uint64_t>(address), bytes};
  if (const auto span = findShareable(address, bytes)) {
    descriptor.region = span->region;
    descriptor.regionBytes = span->regionBytes;
    descriptor.offset = span->offset;
    descriptor.device = span->device;
    descriptor.inode = span->inode;
    descriptor.fd = span->fd;
  }
  return descriptor;
}

void noteCmaRefused(int errnoValue) {
  static std::atomic<bool> said{false};
  if (said.exchange(true)) return;
  logInfo(LogSubsys::kInit, "shm: single-copy (process_vm_readv) refused by the kernel (",
          std::strerror(errnoValue), "); large messages go through the rings");
}

}  // namespace gccl::transport::shm
