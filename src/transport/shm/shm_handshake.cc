#include "transport/shm/shm_handshake.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <thread>

#include "base/error.h"
#include "base/logging.h"
#include "transport/shm/cma.h"

namespace gccl::transport::shm {

namespace {

// The abstract namespace: sun_path starts with a NUL, and the length, not a terminator, ends
// the name.
socklen_t abstractAddress(const std::string& name, sockaddr_un& address) {
  address = {};
  address.sun_family = AF_UNIX;
  if (name.size() + 1 > sizeof address.sun_path) {
    fail(Status::kInternalError, "socket name too long: ", name);
  }
  std::memcpy(address.sun_path + 1, name.data(), name.size());
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
}

Socket newUnixSocket() {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) failErrno(errno, "socket(AF_UNIX)");
  return Socket(fd);
}

const char* refusal(const ShmHello& hello, const JobToken& token, int myRank, int peer) {
  if (hello.magic != kShmHelloMagic) return "not a gccl peer (bad magic)";
  if (hello.version != kShmHelloVersion) return "another gccl wire version";
  if (hello.token != token) return "wrong job token";
  if (hello.toRank != myRank || hello.fromRank != peer) return "meant for another pair of ranks";
  return nullptr;
}

}  // namespace

Socket listenAbstract(const std::string& name) {
  Socket socket = newUnixSocket();
  sockaddr_un address;
  const socklen_t length = abstractAddress(name, address);
  if (::bind(socket.fd(), reinterpret_cast<const sockaddr*>(&address), length) != 0) {
    failErrno(errno, strCat("bind to the abstract socket @", name));
  }
  if (::listen(socket.fd(), 16) != 0) failErrno(errno, "listen");
  return socket;
}

Socket dialAbstract(const std::string& name, const Deadline& deadline) {
  sockaddr_un address;
  const socklen_t length = abstractAddress(name, address);
  for (;;) {
    Socket socket = newUnixSocket();
    if (::connect(socket.fd(), reinterpret_cast<const sockaddr*>(&address), length) == 0) {
      return socket;
    }
    // Refused: the lower rank does not listen yet (it is still connecting to its own lower
    // ranks). Retried like a TCP dial, a millisecond apart, only during init.
    if (errno != ECONNREFUSED && errno != ENOENT && errno != EAGAIN && errno != EINTR) {
      failErrno(errno, strCat("connect to the abstract socket @", name));
    }
    if (deadline.expired()) fail(Status::kTimeout, "nobody listens on @", name);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void sendShmHello(const Socket& socket, const ShmHello& hello, const Deadline& deadline) {
  socket.sendAll(&hello, sizeof hello, deadline);
  uint32_t ack = 0;
  socket.recvAll(&ack, sizeof ack, deadline);
  if (ack != kShmAckMagic) fail(Status::kRemoteError, "bad handshake reply");
}

Socket acceptShmHello(const Socket& listener, const JobToken& token, int myRank, int peer,
                      const Deadline& deadline) {
  for (;;) {
    std::optional<Socket> caller = listener.accept(deadline);
    if (!caller) fail(Status::kTimeout, "rank ", peer, " did not connect");
    // A caller that stays silent costs only its own handshake time, never the whole init.
    const Deadline helloBy(std::min(deadline.at(), Deadline::afterMs(kShmHandshakeTimeoutMs).at()));
    ShmHello hello;
    const char* reason = nullptr;
    try {
      caller->recvAll(&hello, sizeof hello, helloBy);
      reason = refusal(hello, token, myRank, peer);
    } catch (const Error&) {
      reason = "no valid hello";
    }
    if (reason != nullptr) {
      GCCL_WARN(LogSubsys::kInit, "rank ", myRank, " refused a shared-memory connection (pid ",
                peerPid(*caller), "): ", reason);
      continue;
    }
    caller->sendAll(&kShmAckMagic, sizeof kShmAckMagic, deadline);
    return std::move(*caller);
  }
}

pid_t peerPid(const Socket& socket) {
  ucred credentials{};
  socklen_t length = sizeof credentials;
  if (::getsockopt(socket.fd(), SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return 0;
  return credentials.pid;
}

CmaAbility probeCma(const Socket& socket, pid_t peer, const Deadline& deadline) {
  // Each end shows a word of its memory; the other reads it. The word lives on this stack
  // until both verdicts are exchanged, after which nobody reads it.
  struct Probe {
    uint64_t address;
    uint64_t value;
  };
  const uint64_t word = 0x9e3779b97f4a7c15ULL ^ static_cast<uint64_t>(::getpid());
  const Probe mine{reinterpret_cast<uint64_t>(&word), word};
  socket.sendAll(&mine, sizeof mine, deadline);
  Probe theirs{};
  socket.recvAll(&theirs, sizeof theirs, deadline);
  uint64_t seen = 0;
  const int error = peer > 0 ? readRemote(peer, theirs.address, &seen, sizeof seen) : 0;
  CmaAbility ability;
  ability.receive = peer > 0 && error == 0 && seen == theirs.value;
  if (error != 0) noteCmaRefused(error);
  const uint8_t verdict = ability.receive ? 1 : 0;
  socket.sendAll(&verdict, 1, deadline);
  uint8_t peerVerdict = 0;
  socket.recvAll(&peerVerdict, 1, deadline);
  ability.send = peerVerdict == 1;
  return ability;
}

}  // namespace gccl::transport::shm
