#include "base/error.h"

#include <cstring>

namespace gccl {

const char* statusName(Status status) {
  switch (status) {
    case Status::kSuccess: return "success";
    case Status::kInvalidArgument: return "invalid argument";
    case Status::kInvalidUsage: return "invalid usage";
    case Status::kSystemError: return "system error";
    case Status::kRemoteError: return "remote error";
    case Status::kTimeout: return "timeout";
    case Status::kInternalError: return "internal error";
    case Status::kInProgress: return "in progress";
  }
  return "unknown result";
}

void failErrno(int errnoValue, const std::string& what) {
  char buffer[256];
  // GNU strerror_r returns the message pointer, which may or may not be buffer.
  const char* text = strerror_r(errnoValue, buffer, sizeof buffer);
  fail(Status::kSystemError, what, ": ", text);
}

Error errorOf(const std::exception& e) {
  if (const auto* error = dynamic_cast<const Error*>(&e)) return *error;
  return Error(Status::kInternalError, e.what());
}

}  // namespace gccl
