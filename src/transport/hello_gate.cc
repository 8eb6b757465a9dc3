#include "transport/hello_gate.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "base/error.h"
#include "base/logging.h"

namespace gccl::transport {

namespace {

constexpr auto kExhaustedPause = std::chrono::milliseconds(10);

}  // namespace

HelloGate::HelloGate(const Socket& listener, Rules rules)
    : listener_(listener), rules_(std::move(rules)) {
  if (rules_.helloBytes == 0 || rules_.helloBytes > kMaxHelloBytes) {
    fail(Status::kInternalError, "hello of ", rules_.helloBytes, " bytes");
  }
}

std::optional<HelloGate::Admitted> HelloGate::next(const Deadline& deadline) {
  for (;;) {
    // One poll over the listener and every pending hello: pollfd i + 1 is pending_[i].
    std::vector<pollfd> fds{{listener_.fd(), POLLIN, 0}};
    for (const Pending& pending : pending_) fds.push_back({pending.socket.fd(), POLLIN, 0});
    if (::poll(fds.data(), fds.size(), pollTimeoutMs(deadline)) < 0 && errno != EINTR) {
      failErrno(errno, "poll");
    }
    // From the back, so that erasing keeps the indices still to visit.
    for (size_t i = pending_.size(); i-- > 0;) {
      if (fds[i + 1].revents == 0) continue;
      const HelloState state = readHello(pending_[i]);
      if (state == HelloState::kIncomplete) continue;
      Pending done = take(i);  // closed when refused
      if (state == HelloState::kAdmitted) return Admitted{std::move(done.socket), done.hello};
    }
    if (fds[0].revents != 0) acceptOne();
    dropExpired();
    if (deadline.expired()) return std::nullopt;
  }
}

HelloGate::Pending HelloGate::take(size_t index) {
  Pending pending = std::move(pending_[index]);
  pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(index));
  return pending;
}

void HelloGate::acceptOne() {
  int exhausted = 0;
  std::optional<Socket> socket = listener_.accept(Deadline::afterMs(0), &exhausted);
  if (exhausted != 0) {
    // Out of descriptors: one held for a hello goes, and the caller behind it waits in the
    // backlog; with none to shed, a pause lets others close some (the deadline still holds).
    if (pending_.empty()) {
      std::this_thread::sleep_for(kExhaustedPause);
      return;
    }
    Pending dropped = take(0);
    dropped.socket.close();  // first: writing the warning may itself need a descriptor
    refuse(dropped, strCat("dropped to free a descriptor (", std::strerror(exhausted), ")"));
    return;
  }
  if (!socket) return;  // the caller gave up between poll and accept
  if (pending_.size() >= rules_.maxPending) {
    refuse(take(0), "too many connections without a hello");
  }
  std::string who = rules_.describe(*socket);
  pending_.push_back(
      {std::move(*socket), std::move(who), Deadline::afterMs(rules_.helloTimeoutMs)});
}

HelloGate::HelloState HelloGate::readHello(Pending& pending) const {
  std::byte* into = pending.hello.data() + pending.received;
  const ssize_t n =
      ::recv(pending.socket.fd(), into, rules_.helloBytes - pending.received, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return HelloState::kIncomplete;
  if (n <= 0) {
    refuse(pending, n == 0 ? "closed before its hello" : std::strerror(errno));
    return HelloState::kRefused;
  }
  pending.received += static_cast<size_t>(n);
  if (pending.received < rules_.helloBytes) return HelloState::kIncomplete;
  if (const char* reason = rules_.judge(pending.hello.data(), pending.socket)) {
    refuse(pending, reason);
    return HelloState::kRefused;
  }
  return HelloState::kAdmitted;
}

void HelloGate::refuse(const Pending& pending, const std::string& reason) const {
  GCCL_WARN_WITHIN(refusals_, LogSubsys::kInit, rules_.refuser, " ", pending.who, ": ", reason);
}

void HelloGate::dropExpired() {
  while (!pending_.empty() && pending_.front().deadline.expired()) {
    refuse(take(0), strCat("no hello within ", rules_.helloTimeoutMs, " ms"));
  }
}

int HelloGate::pollTimeoutMs(const Deadline& deadline) const {
  const int untilDeadline = deadline.remainingMs();
  if (pending_.empty()) return untilDeadline;
  return std::min(untilDeadline, pending_.front().deadline.remainingMs());
}

}  // namespace gccl::transport
