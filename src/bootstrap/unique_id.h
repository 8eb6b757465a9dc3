// The unique id: the root store's address and the job token, packed in the 128 bytes that
// gcclGetUniqueId hands out and every rank passes to gcclCommInitRank.
#pragma once

#include "base/config.h"
#include "base/job_token.h"
#include "base/socket.h"

namespace gccl {

struct UniqueId {
  SocketAddress root;
  JobToken token{};
};

inline constexpr size_t kUniqueIdBytes = 128;

void encodeUniqueId(const UniqueId& id, char (&out)[kUniqueIdBytes]);
// Throws Error(kInvalidArgument) when the bytes are not a gccl unique id.
UniqueId decodeUniqueId(const char (&in)[kUniqueIdBytes]);

// How many ids' listening sockets are kept (unique_id.cc says why so few).
inline constexpr size_t kMaxReservedListeners = 8;

// Reserves the root's listening socket now (so the port cannot be lost to a race) and draws a
// random token. The socket is kept for rank 0's communicator in this process (or its fork);
// only the last kMaxReservedListeners ids' sockets are kept.
UniqueId createUniqueId(const Config& config);

// The listener createUniqueId reserved for this token in this process, or an invalid socket.
Socket takeReservedListener(const JobToken& token);

}  // namespace gccl
