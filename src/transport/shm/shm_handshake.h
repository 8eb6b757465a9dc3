// Setting up a pair's doorbell socket: a Unix stream socket in the abstract namespace (no file
// to leave behind), which anyone on the machine could dial or, knowing its name, take first.
// So each end checks the other's user as the kernel reports it (SO_PEERCRED): the dialling
// rank presents the job token only to a listener of its own user, and the listening rank
// admits only callers of its own user with the token, reading every caller's hello at once
// (HelloGate). Its ack carries the pair's segment as a descriptor (SCM_RIGHTS). Then each end
// tries to read the other's memory with cross-memory attach and tells it whether that worked.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "base/job_token.h"
#include "base/socket.h"

namespace gccl::transport::shm {

inline constexpr uint32_t kShmHelloMagic = 0x47435348;  // "GCSH"
inline constexpr uint32_t kShmAckMagic = 0x4743534b;    // "GCSK"
// 2: the ack carries the segment's descriptor; segments have no names.
// 3: the probe tries mapping too; on single-copy pairs records of 64 KiB or more carry a body
//    kind, and descriptors name shareable regions (cma.h).
// 4: writable descriptors and delivered notices (write-back); the rings' consumerWritingView.
// 5: a writable descriptor is followed by a second one, where the result goes (out of place:
//    the sender's output).
inline constexpr uint32_t kShmHelloVersion = 5;
// An accepted caller gets this long to present its hello, then it is dropped with a warning.
inline constexpr int kShmHandshakeTimeoutMs = 5000;
// Callers still without a complete hello, at most: past it the oldest is dropped.
inline constexpr size_t kShmMaxPendingHandshakes = 64;

struct ShmHello {
  uint32_t magic = kShmHelloMagic;
  uint32_t version = kShmHelloVersion;
  JobToken token{};
  int32_t fromRank = -1;
  int32_t toRank = -1;
};

Socket listenAbstract(const std::string& name);
// Retries while nobody listens yet; throws kTimeout at the deadline, and kSystemError when
// the listener is another user's (a stranger took the name).
Socket dialAbstract(const std::string& name, const Deadline& deadline);

// Higher rank: presents the hello; returns the descriptor of the pair's segment that comes
// with the ack (the caller owns it).
int presentShmHello(const Socket& socket, const ShmHello& hello, const Deadline& deadline);
// Lower rank: the first caller on `listener` of this user whose hello is `peer`'s with the job
// token; anyone else is refused with a warning. Throws kTimeout at the deadline.
Socket acceptShmHello(const Socket& listener, const JobToken& token, int myRank, int peer,
                      const Deadline& deadline);
// Lower rank: acks an accepted hello, handing over the pair's segment.
void sendShmAck(const Socket& socket, int segmentFd, const Deadline& deadline);

// The process at the other end of a Unix socket, as the kernel saw it connect (or listen).
struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = static_cast<uid_t>(-1);
};
PeerCredentials peerCredentials(const Socket& socket);
inline pid_t peerPid(const Socket& socket) {
  return peerCredentials(socket).pid;
}

// Both ends call it after the hello: whether this end can read the peer's memory (it receives
// single-copy) and whether the peer can read this end's (it sends single-copy); and whether
// this end can map the peer's shareable regions and the peer this end's (zero-copy, which
// rides on single-copy). `peer` 0: this end does not try (GCCL_SHM_SINGLE_COPY=0): it receives
// through the rings and offers nothing to map, though it still sends single-copy when the
// peer could read its memory. `peerProcess`: the peer's pidfd, -1 for none; `peerName` names
// the peer in what is logged.
struct CmaAbility {
  bool receive = false;
  bool send = false;
  bool mapReceive = false;
  bool mapSend = false;
};
CmaAbility probeCma(const Socket& socket, pid_t peer, int peerProcess, const std::string& peerName,
                    const Deadline& deadline);

}  // namespace gccl::transport::shm
