// One error type for the whole core. Background threads store it and the caller's wait rethrows
// it; the C boundary maps it to gcclResult_t (Status values equal the C enum values).
#pragma once

#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

namespace gccl {

enum class Status : int {
  kSuccess = 0,
  kInvalidArgument = 1,
  kInvalidUsage = 2,
  kSystemError = 3,
  kRemoteError = 4,
  kTimeout = 5,
  kInternalError = 6,
  kInProgress = 7,
};

const char* statusName(Status status);

class Error : public std::runtime_error {
 public:
  Error(Status status, const std::string& message, const std::string& origin = {})
      : std::runtime_error(message),
        status_(status),
        origin_(origin.empty() ? nullptr : std::make_shared<const std::string>(origin)) {}
  Status status() const { return status_; }
  // Set when a peer reported this failure: the first failing rank's own words. A rank passes
  // them on unchanged, so the text does not nest once per hop along a ring.
  std::string origin() const { return origin_ ? *origin_ : std::string(); }

 private:
  Status status_;
  std::shared_ptr<const std::string> origin_;  // shared: copying an exception must not throw
};

// Concatenates anything streamable: the core's only formatting helper (GCC 12 has no <format>).
template <typename... Parts>
std::string strCat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

template <typename... Parts>
[[noreturn]] void fail(Status status, const Parts&... parts) {
  throw Error(status, strCat(parts...));
}

// Throws kSystemError with strerror(errnoValue) appended.
[[noreturn]] void failErrno(int errnoValue, const std::string& what);

// `e` as an Error: itself, or kInternalError with its text (out of memory, a library's throw).
Error errorOf(const std::exception& e);

}  // namespace gccl
