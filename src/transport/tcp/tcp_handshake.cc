#include "transport/tcp/tcp_handshake.h"

#include <algorithm>

#include "base/error.h"
#include "base/logging.h"

namespace gccl::transport::tcp {

namespace {
constexpr int kHelloTimeoutMs = 5000;
}

void sendHello(const Socket& socket, const Hello& hello, const Deadline& deadline) {
  socket.sendAll(&hello, sizeof hello, deadline);
  uint32_t ack = 0;
  socket.recvAll(&ack, sizeof ack, deadline);
  if (ack != kAckMagic) fail(Status::kRemoteError, "bad handshake reply");
}

std::optional<int> acceptHello(const Socket& socket, const JobToken& token, int myRank, int size,
                               const Deadline& deadline) {
  const std::string remote = socket.peerAddress().toString();
  Hello hello{};
  try {
    const Deadline helloDeadline(std::min(deadline.at(), Deadline::afterMs(kHelloTimeoutMs).at()));
    socket.recvAll(&hello, sizeof hello, helloDeadline);
  } catch (const Error& e) {
    GCCL_WARN(LogSubsys::kInit, "refused data connection from ", remote, ": ", e.what());
    return std::nullopt;
  }
  const char* reason = nullptr;
  if (hello.magic != kHelloMagic)
    reason = "not a gccl peer (bad magic)";
  else if (hello.version != kHelloVersion)
    reason = "another gccl wire version";
  else if (hello.token != token)
    reason = "wrong job token";
  else if (hello.toRank != myRank)
    reason = "connection meant for another rank";
  else if (hello.fromRank < 0 || hello.fromRank >= size)
    reason = "caller rank out of range";
  if (reason != nullptr) {
    GCCL_WARN(LogSubsys::kInit, "rank ", myRank, " refused data connection from ", remote, ": ",
              reason);
    return std::nullopt;
  }
  return hello.fromRank;
}

void sendAck(const Socket& socket, const Deadline& deadline) {
  socket.sendAll(&kAckMagic, sizeof kAckMagic, deadline);
}

}  // namespace gccl::transport::tcp
