#include "core/request.h"

#include "core/wait_stages.h"

namespace gccl {

void Request::complete(Status status, std::string message) {
  status_ = status;
  message_ = std::move(message);
  done_.store(1, std::memory_order_release);
  done_.notify_all();
}

void Request::wait(WaitPolicy waits) const {
  const WaitStages stages(waits);
  while (!isDone() && stages.pause(Clock::now())) {
  }
  while (!isDone()) done_.wait(0, std::memory_order_acquire);
}

void Request::rethrow() const {
  if (status_ != Status::kSuccess) throw Error(status_, message_);
}

}  // namespace gccl
