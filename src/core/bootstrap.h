// From a unique id (or the environment) to a connected TCP communicator.
#pragma once

#include <memory>

#include "core/communicator.h"
#include "core/config.h"
#include "core/job_token.h"
#include "core/socket.h"

namespace gccl {

struct UniqueId {
  SocketAddress root;
  JobToken token{};
};

inline constexpr size_t kUniqueIdBytes = 128;

void encodeUniqueId(const UniqueId& id, char (&out)[kUniqueIdBytes]);
// Throws Error(kInvalidArgument) when the bytes are not a gccl unique id.
UniqueId decodeUniqueId(const char (&in)[kUniqueIdBytes]);

// Reserves the root's listening socket now (so the port cannot be lost to a race) and draws a
// random token. The socket is kept for rank 0's communicator in this process (or its fork).
UniqueId createUniqueId(const Config& config);

std::unique_ptr<Communicator> createTcpCommunicator(int rank, int size, const UniqueId& id,
                                                    const Config& config);

}  // namespace gccl
