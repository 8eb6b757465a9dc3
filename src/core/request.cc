#include "core/request.h"

#include <chrono>
#include <thread>

#include "base/deadline.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace gccl {

void Request::complete(Status status, std::string message) {
  status_ = status;
  message_ = std::move(message);
  done_.store(1, std::memory_order_release);
  done_.notify_all();
}

void Request::wait(WaitPolicy waits) const {
  const auto spinUntil = Clock::now() + std::chrono::microseconds(waits.spinUs);
  while (!isDone() && Clock::now() < spinUntil) {
#if defined(__x86_64__)
    _mm_pause();
#endif
  }
  const auto yieldUntil = spinUntil + std::chrono::microseconds(waits.yieldUs);
  while (!isDone() && Clock::now() < yieldUntil) std::this_thread::yield();
  while (!isDone()) done_.wait(0, std::memory_order_acquire);
}

void Request::rethrow() const {
  if (status_ != Status::kSuccess) throw Error(status_, message_);
}

}  // namespace gccl
