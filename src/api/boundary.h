// What every C entry point shares: the exception barrier, reading enum arguments a C caller may
// have set to anything, and argument checks.
#pragma once

#include <gccl/gccl.h>

#include <cstring>
#include <new>
#include <string>
#include <type_traits>

#include "api/handles.h"
#include "base/error.h"

namespace gccl::api {

static_assert(static_cast<int>(Status::kTimeout) == gcclTimeout);
static_assert(static_cast<int>(Status::kInProgress) == gcclInProgress);

// Runs `body`, mapping whatever it throws to a result code and the message to
// gcclGetLastError, prefixed with `entry`, the C function the caller called (its __func__):
// no exception crosses the C boundary, and every message names the call that failed.
template <typename Body>
gcclResult_t guarded(const char* entry, gcclComm* comm, Body&& body) {
  const auto record = [&](const char* what, const char* detail) noexcept {
    try {
      recordError(comm, std::string(entry) + ": " + what + detail);
    } catch (...) {
      recordError(comm, "out of memory");  // fits the string's own storage: no allocation
    }
  };
  try {
    body();
    return gcclSuccess;
  } catch (const Error& e) {
    record(e.what(), "");
    return static_cast<gcclResult_t>(e.status());
  } catch (const std::bad_alloc&) {
    record("out of memory", "");
    return gcclSystemError;
  } catch (const std::exception& e) {
    record("internal error: ", e.what());
    return gcclInternalError;
  } catch (...) {
    record("internal error: unknown exception", "");
    return gcclInternalError;
  }
}

// The integer a C caller passed for an enum parameter. C may pass any int; in C++ merely
// loading an enum object outside its range is undefined, so the bits are copied out instead.
template <typename Enum>
int rawValue(const Enum& value) {
  std::underlying_type_t<Enum> raw;
  static_assert(sizeof raw == sizeof value);
  std::memcpy(&raw, &value, sizeof raw);
  return static_cast<int>(raw);
}

template <typename T>
void requirePointer(const T* pointer, const char* what) {
  if (pointer == nullptr) fail(Status::kInvalidArgument, what, " is NULL");
}

// Throws Error(kInvalidArgument) unless `datatype` and `op` are values of their enums.
inline void checkTypeAndOp(int datatype, int op) {
  if (datatype < 0 || datatype >= gcclNumTypes) {
    fail(Status::kInvalidArgument, "datatype ", datatype, " is invalid");
  }
  if (op < 0 || op >= gcclNumOps)
    fail(Status::kInvalidArgument, "reduction op ", op, " is invalid");
}

}  // namespace gccl::api
