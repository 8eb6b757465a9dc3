// Where a pair of ranks meets: the name of its shared segment and of its doorbell socket.
// Both are derived from the job token, the communicator's scope and the two ranks, so the two
// ranks of a pair find each other and nobody else finds them: a process without the token
// cannot compute the names (a stranger's token gives other names).
#pragma once

#include <string>

#include "base/job_token.h"

namespace gccl::transport::shm {

struct PairNames {
  std::string segment;  // for shm_open: "/gccl-<digest>-<lo>-<hi>"
  std::string socket;   // abstract Unix socket name, without the leading NUL
};

PairNames pairNames(const JobToken& token, const std::string& scope, int rankA, int rankB);

// The common prefix of every segment gccl creates, for tests that check /dev/shm is clean.
inline constexpr const char* kSegmentPrefix = "gccl-";

}  // namespace gccl::transport::shm
