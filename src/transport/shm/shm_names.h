// Where a pair of ranks meets: the name of its doorbell socket (abstract namespace), derived
// from the job token, the communicator's scope and the two ranks, so the two ranks of a pair
// find each other and a process without the token cannot compute it. The name is no secret
// once the socket listens (/proc/net/unix lists it): the socket checks its callers' user and
// token, and its segment travels as a descriptor, never under a name.
#pragma once

#include <string>

#include "base/job_token.h"

namespace gccl::transport::shm {

// Without the leading NUL: "gccl-<digest>-<lo>-<hi>.bell".
std::string doorbellName(const JobToken& token, const std::string& scope, int rankA, int rankB);

// The prefix of gccl's names, for tests that check /dev/shm holds nothing of gccl's.
inline constexpr const char* kSegmentPrefix = "gccl-";

}  // namespace gccl::transport::shm
