// A handle on a shared-memory peer's process (a pidfd): it becomes readable when that process
// exits, whoever still holds the descriptors it shared, and it never names another process.
// The pair's doorbell socket hangs up when the peer exits too, but not while a child the peer
// forked (a data loader's worker, Python's multiprocessing) still holds the socket: a killed
// rank then looked alive to its peers until GCCL_TIMEOUT_MS, and a single-copy read could not
// tell whether the peer's pid still named the peer.
#pragma once

#include <sys/types.h>

#include "base/socket.h"

namespace gccl::transport::shm {

class PeerProcess {
 public:
  PeerProcess() = default;  // none: the pair falls back on its doorbell's hang-up
  // Opens `pid`, which must be alive now (the caller hears from it afterwards, so the handle
  // is the peer's and not a successor's). Without pidfd_open (Linux before 5.3, a seccomp
  // filter) or a pid this namespace cannot see (0), returns none and logs once why.
  static PeerProcess open(pid_t pid);

  bool valid() const { return handle_.valid(); }
  int fd() const { return handle_.fd(); }
  // Whether the process exited (a zombie counts); false without a handle.
  bool exited() const;

 private:
  explicit PeerProcess(int fd) : handle_(fd) {}
  Socket handle_;  // the descriptor's owner: closed with it (not a socket)
};

}  // namespace gccl::transport::shm
