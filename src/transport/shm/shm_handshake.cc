#include "transport/shm/shm_handshake.h"

#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <thread>
#include <vector>

#include "base/error.h"
#include "base/logging.h"
#include "base/shareable_memory.h"
#include "transport/hello_gate.h"
#include "transport/shm/cma.h"
#include "transport/shm/peer_regions.h"

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

Socket newUnixSocket(int flags = 0) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
  if (fd < 0) failErrno(errno, "socket(AF_UNIX)");
  return Socket(fd);
}

static_assert(sizeof(ShmHello) <= HelloGate::kMaxHelloBytes);

// The 4-byte ack with room for one descriptor beside it, as sendmsg and recvmsg take them.
struct AckMessage {
  uint32_t ack = 0;
  iovec data{&ack, sizeof ack};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};

  AckMessage() {
    message.msg_iov = &data;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
  }
  AckMessage(const AckMessage&) = delete;
  AckMessage& operator=(const AckMessage&) = delete;
};

const char* refusal(const ShmHello& hello, const JobToken& token, int myRank, int peer) {
  if (hello.magic != kShmHelloMagic) return "not a gccl peer (bad magic)";
  if (hello.version != kShmHelloVersion) return "another gccl wire version";
  if (!isJobToken(token, hello.token.data())) return "wrong job token";
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
    // Non-blocking: a listener whose queue is full (a squatter's that never accepts, or the
    // peer's own flooded by callers) answers EAGAIN, retried until the deadline, where a
    // blocking connect would wait in the kernel with no deadline at all. Everything sent or
    // received on the socket later waits with a deadline of its own.
    Socket socket = newUnixSocket(SOCK_NONBLOCK);
    if (::connect(socket.fd(), reinterpret_cast<const sockaddr*>(&address), length) == 0) {
      const PeerCredentials listener = peerCredentials(socket);
      if (listener.uid != ::geteuid()) {
        fail(Status::kSystemError, "@", name, " is held by another user (uid ", listener.uid,
             ", pid ", listener.pid, "), not by the peer: the job token is not sent to it");
      }
      return socket;
    }
    // Refused: the lower rank does not listen yet (it is still connecting to its own lower
    // ranks), or its queue is full. Retried like a TCP dial, a millisecond apart, only during
    // init.
    const int error = errno;
    if (error != ECONNREFUSED && error != ENOENT && error != EAGAIN && error != EINTR) {
      failErrno(error, strCat("connect to the abstract socket @", name));
    }
    if (deadline.expired()) {
      fail(Status::kTimeout,
           error == EAGAIN ? "the listener's queue stayed full on @" : "nobody listens on @", name);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

int presentShmHello(const Socket& socket, const ShmHello& hello, const Deadline& deadline) {
  socket.sendAll(&hello, sizeof hello, deadline);
  if (!waitFor(socket.fd(), POLLIN, deadline)) fail(Status::kTimeout, "no handshake reply");
  // The ack and its descriptor leave in one sendmsg of 4 bytes, so they arrive together.
  AckMessage reply;
  msghdr& message = reply.message;
  const ssize_t n = ::recvmsg(socket.fd(), &message, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  if (n < 0) failErrno(errno, "receiving the handshake reply");
  // Exactly one descriptor is expected; every one that arrived is ours to close otherwise.
  std::vector<int> received;
  for (const cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
       header = CMSG_NXTHDR(&message, const_cast<cmsghdr*>(header))) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
    const size_t fds = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < fds; ++i) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof fd);
      received.push_back(fd);
    }
  }
  if (n != sizeof reply.ack || reply.ack != kShmAckMagic || received.size() != 1 ||
      (message.msg_flags & MSG_CTRUNC) != 0) {
    for (int fd : received) ::close(fd);
    fail(Status::kRemoteError, n == 0 ? "connection closed by peer" : "bad handshake reply");
  }
  return received.front();
}

void sendShmAck(const Socket& socket, int segmentFd, const Deadline& deadline) {
  AckMessage reply;
  reply.ack = kShmAckMagic;
  cmsghdr* header = CMSG_FIRSTHDR(&reply.message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(header), &segmentFd, sizeof segmentFd);
  if (!waitFor(socket.fd(), POLLOUT, deadline)) fail(Status::kTimeout, "send timed out");
  if (::sendmsg(socket.fd(), &reply.message, MSG_NOSIGNAL | MSG_DONTWAIT) != sizeof reply.ack) {
    failErrno(errno, "handing the shared segment to the peer");
  }
}

Socket acceptShmHello(const Socket& listener, const JobToken& token, int myRank, int peer,
                      const Deadline& deadline) {
  HelloGate::Rules rules;
  rules.helloBytes = sizeof(ShmHello);
  rules.helloTimeoutMs = kShmHandshakeTimeoutMs;
  rules.maxPending = kShmMaxPendingHandshakes;
  rules.judge = [&](const std::byte* bytes, const Socket& caller) -> const char* {
    if (peerCredentials(caller).uid != ::geteuid()) return "another user's process";
    ShmHello hello;
    std::memcpy(&hello, bytes, sizeof hello);
    return refusal(hello, token, myRank, peer);
  };
  rules.describe = [](const Socket& caller) {
    const PeerCredentials who = peerCredentials(caller);
    return strCat("(pid ", who.pid, ", uid ", who.uid, ")");
  };
  rules.refuser = strCat("rank ", myRank, " refused a shared-memory connection");
  HelloGate gate(listener, std::move(rules));
  std::optional<HelloGate::Admitted> caller = gate.next(deadline);
  if (!caller) fail(Status::kTimeout, "rank ", peer, " did not connect");
  return std::move(caller->socket);
}

PeerCredentials peerCredentials(const Socket& socket) {
  ucred credentials{};
  socklen_t length = sizeof credentials;
  if (::getsockopt(socket.fd(), SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return {};
  return {credentials.pid, credentials.uid};
}

namespace {

// Says once per process why zero-copy is off for a pair (each pair that probes would say the
// same).
void noteNoZeroCopy(const std::string& why) {
  static std::atomic<bool> said{false};
  if (said.exchange(true)) return;
  logInfo(LogSubsys::kInit, "shm: zero-copy off: ", why, "; gcclMemAlloc buffers go as any other");
}

// Whether this process can map the page the peer offered in its probe, and read the word it
// wrote there.
bool canMapPeerPage(int peerProcess, const CmaDescriptor& offered, uint64_t word,
                    const std::string& peerName) {
  if (offered.region == 0 || offered.regionBytes < sizeof word) return false;
  try {
    const RegionMapping mapping = mapPeerRegion(peerProcess, offered, peerName);
    if (mapping.base == nullptr) {
      noteNoZeroCopy(strCat("cannot map a buffer of ", peerName, " (", mapping.call, ": ",
                            std::strerror(mapping.error), ")"));
      return false;
    }
    uint64_t seen = 0;
    std::memcpy(&seen, mapping.base, sizeof seen);
    ::munmap(mapping.base, mapping.bytes);
    return seen == word;
  } catch (const Error& e) {
    noteNoZeroCopy(e.what());
    return false;
  }
}

// The page of shareable memory a probe offers: freed when the probe ends, however it ends.
class ProbePage {
 public:
  explicit ProbePage(bool wanted)
      : bytes_(static_cast<size_t>(::sysconf(_SC_PAGESIZE))),
        page_(wanted ? allocateShareable(bytes_) : nullptr) {
    if (wanted && page_ == nullptr) {
      noteNoZeroCopy(strCat("cannot allocate shareable memory (", std::strerror(errno), ")"));
    }
  }
  ~ProbePage() {
    if (page_ != nullptr) freeShareable(page_);
  }
  ProbePage(const ProbePage&) = delete;
  ProbePage& operator=(const ProbePage&) = delete;
  // The page holding `word`, as a single-copy descriptor names it; region 0 without a page.
  CmaDescriptor offer(uint64_t word) const {
    if (page_ == nullptr) return {};
    std::memcpy(page_, &word, sizeof word);
    return describeBuffer(page_, bytes_);
  }

 private:
  size_t bytes_;
  void* page_;
};

}  // namespace

CmaAbility probeCma(const Socket& socket, pid_t peer, int peerProcess, const std::string& peerName,
                    const Deadline& deadline) {
  // Each end shows a word of its memory, and a page of shareable memory holding the same word;
  // the other reads the first and maps the second. Both live until the verdicts are exchanged,
  // after which nobody reads them. An end that does not try (`peer` 0) offers no page.
  struct Probe {
    uint64_t address;
    uint64_t value;
    CmaDescriptor page;  // region 0 where this end cannot make one, or does not try
  };
  const uint64_t word = 0x9e3779b97f4a7c15ULL ^ static_cast<uint64_t>(::getpid());
  const ProbePage page(peer > 0);
  const Probe mine{reinterpret_cast<uint64_t>(&word), word, page.offer(word)};
  socket.sendAll(&mine, sizeof mine, deadline);
  Probe theirs{};
  socket.recvAll(&theirs, sizeof theirs, deadline);
  uint64_t seen = 0;
  const int error = peer > 0 ? readRemote(peer, theirs.address, &seen, sizeof seen) : 0;
  CmaAbility ability;
  ability.receive = peer > 0 && error == 0 && seen == theirs.value;
  if (error != 0) noteCmaRefused(error);
  ability.mapReceive =
      ability.receive && canMapPeerPage(peerProcess, theirs.page, theirs.value, peerName);
  const uint8_t verdicts[2] = {static_cast<uint8_t>(ability.receive ? 1 : 0),
                               static_cast<uint8_t>(ability.mapReceive ? 1 : 0)};
  socket.sendAll(verdicts, sizeof verdicts, deadline);
  uint8_t peerVerdicts[2] = {0, 0};
  socket.recvAll(peerVerdicts, sizeof peerVerdicts, deadline);
  ability.send = peerVerdicts[0] == 1;
  ability.mapSend = ability.send && peerVerdicts[1] == 1;
  return ability;
}

}  // namespace gccl::transport::shm
