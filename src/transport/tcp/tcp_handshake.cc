#include "transport/tcp/tcp_handshake.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/error.h"
#include "base/logging.h"

namespace gccl::transport::tcp {

void sendHello(const Socket& socket, const Hello& hello, const Deadline& deadline) {
  socket.sendAll(&hello, sizeof hello, deadline);
  uint32_t ack = 0;
  socket.recvAll(&ack, sizeof ack, deadline);
  if (ack != kAckMagic) fail(Status::kRemoteError, "bad handshake reply");
}

void sendAck(const Socket& socket, const Deadline& deadline) {
  socket.sendAll(&kAckMagic, sizeof kAckMagic, deadline);
}

HelloAcceptor::HelloAcceptor(const Socket& listener, const JobToken& token, int myRank, int size,
                             int nsocks)
    : listener_(listener), token_(token), myRank_(myRank), size_(size), nsocks_(nsocks) {}

std::optional<Caller> HelloAcceptor::next(const Deadline& deadline) {
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
      if (state == HelloState::kValid) {
        return Caller{done.hello.fromRank, done.hello.lane, std::move(done.socket)};
      }
    }
    if (fds[0].revents != 0) acceptOne();
    dropExpired();
    if (deadline.expired()) return std::nullopt;
  }
}

HelloAcceptor::Pending HelloAcceptor::take(size_t index) {
  Pending pending = std::move(pending_[index]);
  pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(index));
  return pending;
}

void HelloAcceptor::acceptOne() {
  std::optional<Socket> socket = listener_.accept(Deadline::afterMs(0));
  if (!socket) return;  // the caller gave up between poll and accept
  if (pending_.size() >= kMaxPendingHandshakes) {
    refuse(take(0), "too many connections without a hello");
  }
  std::string remote = socket->peerAddress().toString();
  pending_.push_back(
      {std::move(*socket), std::move(remote), Deadline::afterMs(kHandshakeTimeoutMs)});
}

HelloAcceptor::HelloState HelloAcceptor::readHello(Pending& pending) const {
  auto* into = reinterpret_cast<char*>(&pending.hello) + pending.received;
  const ssize_t n =
      ::recv(pending.socket.fd(), into, sizeof pending.hello - pending.received, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return HelloState::kIncomplete;
  if (n <= 0) {
    refuse(pending, n == 0 ? "closed before its hello" : std::strerror(errno));
    return HelloState::kRefused;
  }
  pending.received += static_cast<size_t>(n);
  if (pending.received < sizeof pending.hello) return HelloState::kIncomplete;
  if (const char* reason = refusal(pending.hello)) {
    refuse(pending, reason);
    return HelloState::kRefused;
  }
  return HelloState::kValid;
}

const char* HelloAcceptor::refusal(const Hello& hello) const {
  if (hello.magic != kHelloMagic) return "not a gccl peer (bad magic)";
  if (hello.version != kHelloVersion) return "another gccl wire version";
  if (hello.token != token_) return "wrong job token";
  if (hello.toRank != myRank_) return "connection meant for another rank";
  if (hello.fromRank < 0 || hello.fromRank >= size_) return "caller rank out of range";
  // Ranks compare GCCL_NSOCKS through the store first and fail init naming the peer; this
  // only keeps a confused caller's sockets out of the lanes.
  if (hello.nsocks != nsocks_) return "another GCCL_NSOCKS";
  if (hello.lane < 0 || hello.lane >= nsocks_) return "socket lane out of range";
  return nullptr;
}

void HelloAcceptor::refuse(const Pending& pending, const std::string& reason) const {
  GCCL_WARN(LogSubsys::kInit, "rank ", myRank_, " refused data connection from ", pending.remote,
            ": ", reason);
}

void HelloAcceptor::dropExpired() {
  while (!pending_.empty() && pending_.front().deadline.expired()) {
    refuse(take(0), strCat("no hello within ", kHandshakeTimeoutMs, " ms"));
  }
}

int HelloAcceptor::pollTimeoutMs(const Deadline& deadline) const {
  const int untilDeadline = deadline.remainingMs();
  if (pending_.empty()) return untilDeadline;
  return std::min(untilDeadline, pending_.front().deadline.remainingMs());
}

}  // namespace gccl::transport::tcp
