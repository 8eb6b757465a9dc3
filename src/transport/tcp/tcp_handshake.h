// The first bytes on every data connection: who is calling, for whom, with which job token.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/job_token.h"
#include "base/socket.h"
#include "transport/hello_gate.h"

namespace gccl::transport::tcp {

inline constexpr uint32_t kHelloMagic = 0x47434849;  // "GCHI"
inline constexpr uint32_t kAckMagic = 0x47434f4b;    // "GCOK"
// 2: every connection carries data one way, from the dialling rank to the accepting one.
// 3: GCCL_NSOCKS connections per direction, each hello naming its lane and the count.
inline constexpr uint32_t kHelloVersion = 3;

// An accepted connection gets this long to present its hello, then it is dropped with a
// warning. Ranks send theirs right after connecting, so only strangers come near it.
inline constexpr int kHandshakeTimeoutMs = 5000;
// Accepted connections still without a complete hello, at most (HelloGate).
inline constexpr size_t kMaxPendingHandshakes = 64;

struct Hello {
  uint32_t magic = kHelloMagic;
  uint32_t version = kHelloVersion;
  JobToken token{};
  int32_t fromRank = -1;
  int32_t toRank = -1;
  int32_t lane = 0;    // which of the caller's sockets to this rank, from 0
  int32_t nsocks = 1;  // the caller's GCCL_NSOCKS
};

// Connector side: connects to `address` and presents `hello` until acked. A listener flooded
// by callers without hellos drops the oldest of them (HelloGate), which may be a rank whose
// hello was not read yet: its connection closes before the ack, and it dials again (its lane
// is still expected there), up to kMaxDials times within `deadline`.
inline constexpr int kMaxDials = 4;
Socket dialWithHello(const SocketAddress& address, const Hello& hello, const Deadline& deadline);

// Acceptor side: tells the caller its connection is taken (only then: a caller that gets no
// ack fails its init instead of sending into a dropped socket).
void sendAck(const Socket& socket, const Deadline& deadline);

// A connection whose hello named this rank with the job token: `rank` is the caller's.
struct Caller {
  int rank = -1;
  int lane = 0;
  Socket socket;
};

// Acceptor side: the callers whose hello names this rank with the job token (a HelloGate:
// hellos read together as bytes arrive, so a silent or slow stranger costs only its own
// handshake time, never a rank's; strangers refused with a warning naming their address).
class HelloAcceptor {
 public:
  HelloAcceptor(const Socket& listener, const JobToken& token, int myRank, int size,
                int nsocks = 1);
  HelloAcceptor(const HelloAcceptor&) = delete;  // the gate's judge holds `this`
  HelloAcceptor& operator=(const HelloAcceptor&) = delete;

  // The next caller with a valid hello, or nullopt once `deadline` has passed.
  std::optional<Caller> next(const Deadline& deadline);

 private:
  const char* refusal(const Hello& hello) const;

  JobToken token_;
  int myRank_;
  int size_;
  int nsocks_;
  HelloGate gate_;
};

}  // namespace gccl::transport::tcp
