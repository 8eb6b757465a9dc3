// Absolute deadlines for everything that waits on a peer: no wait in gccl is unbounded.
#pragma once

#include <algorithm>
#include <chrono>

namespace gccl {

using Clock = std::chrono::steady_clock;

class Deadline {
 public:
  static Deadline afterMs(long long ms) {
    return Deadline(Clock::now() + std::chrono::milliseconds(ms));
  }
  explicit Deadline(Clock::time_point at) : at_(at) {}

  bool expired() const { return Clock::now() >= at_; }
  // Milliseconds left, clamped to [0, cap], for poll()/epoll_wait().
  int remainingMs(int cap = 1 << 30) const {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(at_ - Clock::now());
    return static_cast<int>(std::clamp<long long>(left.count() + 1, 0, cap));
  }
  Clock::time_point at() const { return at_; }

 private:
  Clock::time_point at_;
};

}  // namespace gccl
