// One UCP context and worker per communicator: every connection of the communicator sends and
// receives through it, and the engine sleeps on its wake-up descriptor. Progressing the worker
// from any connection progresses them all.
#pragma once

#include <string>

#include "transport/ucx/ucx_library.h"

namespace gccl {
class Poller;
}

namespace gccl::transport::ucx {

class UcxWorker {
 public:
  // Reads UCX's configuration from the environment (UCX_TLS, UCX_NET_DEVICES, ...). Throws
  // Error(kSystemError) saying why when UCX cannot start (an unknown transport, no device).
  UcxWorker();
  ~UcxWorker();
  UcxWorker(const UcxWorker&) = delete;
  UcxWorker& operator=(const UcxWorker&) = delete;

  ucp_worker_h handle() const { return worker_; }
  // This worker's address, for peers to create endpoints to.
  const std::string& address() const { return address_; }
  // Runs UCX's progress until nothing moves; true if anything did.
  bool progress();
  // The engine's idle progress: once per `round`, however many connections share the worker.
  void progressIdle(uint64_t round) noexcept;
  // Before the engine sleeps: registers the wake-up descriptor once and arms it; when events
  // are already pending the poller is woken, so the sleep returns at once.
  void prepareToSleep(Poller& poller);

 private:
  ucp_context_h context_ = nullptr;
  ucp_worker_h worker_ = nullptr;
  std::string address_;
  int wakeupFd_ = -1;
  Poller* watchedBy_ = nullptr;
  uint64_t lastIdleRound_ = 0;  // the engine's rounds count from 1
};

// "Destination is unreachable": UCX's words for a status.
std::string describe(ucs_status_t status);

}  // namespace gccl::transport::ucx
