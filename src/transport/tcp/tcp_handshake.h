// The first bytes on every data connection: who is calling, for whom, with which job token.
#pragma once

#include <cstdint>
#include <optional>

#include "base/job_token.h"
#include "base/socket.h"

namespace gccl::transport::tcp {

inline constexpr uint32_t kHelloMagic = 0x47434849;  // "GCHI"
inline constexpr uint32_t kAckMagic = 0x47434f4b;    // "GCOK"
// 2: every connection carries data one way, from the dialling rank to the accepting one.
inline constexpr uint32_t kHelloVersion = 2;

struct Hello {
  uint32_t magic = kHelloMagic;
  uint32_t version = kHelloVersion;
  JobToken token{};
  int32_t fromRank = -1;
  int32_t toRank = -1;
};

// Connector side: sends the hello and waits for the acceptor's ack.
void sendHello(const Socket& socket, const Hello& hello, const Deadline& deadline);

// Acceptor side: reads and validates a hello. Returns the caller's rank, or nullopt (after a
// warning naming the remote address and the reason) when the connection must be refused.
std::optional<int> acceptHello(const Socket& socket, const JobToken& token, int myRank, int size,
                               const Deadline& deadline);

// Acceptor side: tells the caller its connection is taken (only then: a caller that gets no
// ack fails its init instead of sending into a dropped socket).
void sendAck(const Socket& socket, const Deadline& deadline);

}  // namespace gccl::transport::tcp
