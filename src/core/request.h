// Completion of one submitted operation, shared by the engine (which completes it) and the
// caller (who waits). The caller spins briefly, polls yielding its core, then sleeps on a
// futex (WaitPolicy).
#pragma once

#include <atomic>
#include <string>

#include "base/config.h"
#include "base/error.h"

namespace gccl {

class Request {
 public:
  void complete(Status status, std::string message);
  bool isDone() const { return done_.load(std::memory_order_acquire) != 0; }
  // Returns when complete. Bounded: the engine completes every request within its timeout.
  void wait(WaitPolicy waits = {}) const;
  // Valid once isDone().
  Status status() const { return status_; }
  const std::string& message() const { return message_; }
  // Throws the stored error, if any.
  void rethrow() const;
  // An average that asked (CollectiveCall::findNonFinite) found inf or NaN among the values
  // this rank divided. Set by the engine before it completes the request; valid once isDone().
  bool nonFinite() const { return nonFinite_; }
  void setNonFinite() { nonFinite_ = true; }

 private:
  std::atomic<uint32_t> done_{0};
  Status status_ = Status::kSuccess;
  std::string message_;
  bool nonFinite_ = false;
};

}  // namespace gccl
