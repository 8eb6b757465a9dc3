#include "transport/shm/peer_process.h"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "base/logging.h"

namespace gccl::transport::shm {

namespace {

void noteUnavailable(pid_t pid, int errnoValue) {
  static std::atomic<bool> said{false};
  if (said.exchange(true)) return;
  logInfo(LogSubsys::kInit, "shm: no process handle (pidfd) on peer pid ", pid, " (",
          std::strerror(errnoValue),
          "); a dead peer is noticed when its doorbell socket closes, which a child it forked "
          "can delay until GCCL_TIMEOUT_MS");
}

}  // namespace

PeerProcess PeerProcess::open(pid_t pid) {
#ifdef SYS_pidfd_open
  if (pid > 0) {
    const long fd = ::syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0) return PeerProcess(static_cast<int>(fd));
    noteUnavailable(pid, errno);
    return {};
  }
  noteUnavailable(pid, ESRCH);
#else
  noteUnavailable(pid, ENOSYS);
#endif
  return {};
}

bool PeerProcess::exited() const {
  if (!valid()) return false;
  pollfd process{fd(), POLLIN, 0};
  return ::poll(&process, 1, 0) > 0 && (process.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

}  // namespace gccl::transport::shm
