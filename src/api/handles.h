// What the opaque C handles point to, and the bookkeeping that lets the C boundary reject a
// destroyed or foreign communicator instead of crashing.
#pragma once

#include <memory>
#include <string>

#include "core/communicator.h"
#include "core/request.h"

struct gcclComm {
  std::unique_ptr<gccl::Communicator> communicator;
  std::string lastError;
};

struct gcclRequest {
  std::shared_ptr<gccl::Request> request;
  int spinUs = 0;
};

namespace gccl::api {

// Live communicator handles. The one global of the C layer: a freed pointer cannot be told
// apart from a live one without it, and "use after destroy" must be an error, not a crash.
void registerHandle(gcclComm* comm);
void unregisterHandle(gcclComm* comm);
// Throws Error(kInvalidArgument) for NULL or a handle that is not (or no longer) live.
gcclComm& liveHandle(gcclComm* comm);

// Records the message for gcclGetLastError (per handle, and per thread for NULL handles).
void recordError(gcclComm* comm, const std::string& message);
const char* lastError(gcclComm* comm);

}  // namespace gccl::api
