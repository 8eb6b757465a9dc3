// The first two stages of a WaitPolicy, timed from the last progress: busy-poll for spinUs,
// then poll yielding the core for yieldUs; after that the caller sleeps (in its poller, on a
// futex). One place for the rule that the engine's driver, its idle progress thread and a
// caller waiting on a request all follow.
#pragma once

#include <chrono>
#include <thread>

#include "base/config.h"
#include "base/deadline.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace gccl {

inline void cpuRelax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

class WaitStages {
 public:
  explicit WaitStages(WaitPolicy waits) : WaitStages(waits, Clock::now()) {}
  WaitStages(WaitPolicy waits, Clock::time_point start) : waits_(waits) { restart(start); }

  // Progress at `now`: the stages start over.
  void restart(Clock::time_point now) {
    spinUntil_ = now + std::chrono::microseconds(waits_.spinUs);
    yieldUntil_ = spinUntil_ + std::chrono::microseconds(waits_.yieldUs);
  }

  // One pause of the stage `now` falls in: true after a spin or a yield, false when the
  // stages are over and the caller should sleep.
  bool pause(Clock::time_point now) const {
    if (now < spinUntil_) {
      cpuRelax();
      return true;
    }
    if (now < yieldUntil_) {
      std::this_thread::yield();
      return true;
    }
    return false;
  }

 private:
  const WaitPolicy waits_;
  Clock::time_point spinUntil_;
  Clock::time_point yieldUntil_;
};

}  // namespace gccl
