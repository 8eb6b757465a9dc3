#include "transport/tcp/tcp_handshake.h"

#include <chrono>
#include <cstring>
#include <thread>

#include "base/error.h"
#include "base/logging.h"

namespace gccl::transport::tcp {

Socket dialWithHello(const SocketAddress& address, const Hello& hello, const Deadline& deadline) {
  for (int attempt = 1;; ++attempt) {
    Socket socket = Socket::connectTo(address, deadline);
    uint32_t ack = 0;
    try {
      socket.sendAll(&hello, sizeof hello, deadline);
      socket.recvAll(&ack, sizeof ack, deadline);
    } catch (const Error& e) {
      // Closed or reset by the listener before its ack: dropped unread, or refused (a wrong
      // token, another wire version), which looks the same from here. So a few attempts only:
      // a refused caller still fails at once. A timeout is not retried.
      if (e.status() != Status::kRemoteError || attempt >= kMaxDials || deadline.expired()) {
        throw;
      }
      logInfo(LogSubsys::kInit, "rank ", hello.fromRank, ": rank ", hello.toRank,
              " dropped connection ", attempt, " (socket ", hello.lane,
              ") before its ack (a listener busy with other callers); dialling again");
      std::this_thread::sleep_for(std::chrono::milliseconds(5 * attempt));
      continue;
    }
    if (ack != kAckMagic) fail(Status::kRemoteError, "bad handshake reply");
    return socket;
  }
}

void sendAck(const Socket& socket, const Deadline& deadline) {
  socket.sendAll(&kAckMagic, sizeof kAckMagic, deadline);
}

namespace {

static_assert(sizeof(Hello) <= HelloGate::kMaxHelloBytes);

Hello helloOf(const std::byte* bytes) {
  Hello hello;
  std::memcpy(&hello, bytes, sizeof hello);
  return hello;
}

}  // namespace

HelloAcceptor::HelloAcceptor(const Socket& listener, const JobToken& token, int myRank, int size,
                             int nsocks)
    : token_(token),
      myRank_(myRank),
      size_(size),
      nsocks_(nsocks),
      gate_(listener,
            HelloGate::Rules{
                .helloBytes = sizeof(Hello),
                .helloTimeoutMs = kHandshakeTimeoutMs,
                .maxPending = kMaxPendingHandshakes,
                .judge = [this](const std::byte* bytes,
                                const Socket&) { return refusal(helloOf(bytes)); },
                .describe = [](const Socket& caller) { return caller.peerAddress().toString(); },
                .refuser = strCat("rank ", myRank, " refused data connection from"),
            }) {}

std::optional<Caller> HelloAcceptor::next(const Deadline& deadline) {
  std::optional<HelloGate::Admitted> admitted = gate_.next(deadline);
  if (!admitted) return std::nullopt;
  const Hello hello = helloOf(admitted->hello.data());
  return Caller{hello.fromRank, hello.lane, std::move(admitted->socket)};
}

const char* HelloAcceptor::refusal(const Hello& hello) const {
  if (hello.magic != kHelloMagic) return "not a gccl peer (bad magic)";
  if (hello.version != kHelloVersion) return "another gccl wire version";
  if (!isJobToken(token_, hello.token.data())) return "wrong job token";
  if (hello.toRank != myRank_) return "connection meant for another rank";
  if (hello.fromRank < 0 || hello.fromRank >= size_) return "caller rank out of range";
  // Ranks compare GCCL_NSOCKS through the store first and fail init naming the peer; this
  // only keeps a confused caller's sockets out of the lanes.
  if (hello.nsocks != nsocks_) return "another GCCL_NSOCKS";
  if (hello.lane < 0 || hello.lane >= nsocks_) return "socket lane out of range";
  return nullptr;
}

}  // namespace gccl::transport::tcp
