// Where a transport lets its peers in: accepts connections on a listener and reads each
// caller's fixed-size hello as its bytes arrive, all callers together, so a silent or slow
// stranger costs only its own handshake time, never a rank's. A caller that hangs up, sends a
// hello the judge refuses, or stays silent for `helloTimeoutMs` is dropped with a warning
// naming it and the reason; past `maxPending` callers without a hello the oldest is dropped,
// so a flood of strangers costs a bounded number of file descriptors.
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/deadline.h"
#include "base/socket.h"
#include "base/warning_budget.h"

namespace gccl::transport {

class HelloGate {
 public:
  static constexpr size_t kMaxHelloBytes = 128;

  struct Rules {
    size_t helloBytes = 0;  // at most kMaxHelloBytes
    int helloTimeoutMs = 5000;
    size_t maxPending = 64;
    // nullptr admits the caller; otherwise the reason it is refused. The hello is complete.
    std::function<const char*(const std::byte* hello, const Socket& caller)> judge;
    // The caller in a warning: "127.0.0.1:40000", "pid 123 (uid 1000)".
    std::function<std::string(const Socket& caller)> describe;
    std::string refuser;  // what starts a warning: "rank 3 refused data connection from"
  };

  struct Admitted {
    Socket socket;
    std::array<std::byte, kMaxHelloBytes> hello{};
  };

  HelloGate(const Socket& listener, Rules rules);

  // The next caller whose hello the judge admits, or nullopt once `deadline` has passed.
  std::optional<Admitted> next(const Deadline& deadline);

 private:
  struct Pending {
    Socket socket;
    std::string who;    // rules_.describe of it, taken when accepted
    Deadline deadline;  // for its hello
    std::array<std::byte, kMaxHelloBytes> hello{};
    size_t received = 0;  // bytes of the hello read so far
  };
  enum class HelloState { kIncomplete, kAdmitted, kRefused };

  void acceptOne();
  Pending take(size_t index);  // removes pending_[index]
  HelloState readHello(Pending& pending) const;
  void refuse(const Pending& pending, const std::string& reason) const;
  void dropExpired();
  int pollTimeoutMs(const Deadline& deadline) const;

  const Socket& listener_;
  Rules rules_;
  mutable WarningBudget refusals_{WarningBudget::kFreeStrangerWarnings,
                                  WarningBudget::kStrangerWarningsEvery};
  std::vector<Pending> pending_;  // in the order accepted, so the oldest deadline is first
};

}  // namespace gccl::transport
