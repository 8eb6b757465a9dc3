#include "api/handles.h"

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "base/error.h"

namespace gccl::api {

namespace {

// The one global of the C layer: a freed pointer cannot be told apart from a live one without
// it, and "use after destroy" must be an error, not a crash. Its mutex also guards every
// handle's bookkeeping: entering a handle checks that it is live and counts the call in one
// step, or a retiring thread could free the handle in between.
struct Registry {
  std::mutex mutex;
  std::set<gcclComm*> live;
  uint64_t registered = 0;                         // handles ever registered: the next one's serial
  std::map<const void*, HandleKind> others;        // live requests and gradient syncs
  std::vector<std::unique_ptr<gcclComm>> retired;  // emptied, never reused (retire())
};

Registry& registry() {
  static Registry instance;
  return instance;
}

bool isLive(gcclComm* comm) {  // registry mutex held
  return comm != nullptr && registry().live.count(comm) > 0;
}

thread_local std::string threadLastError;  // this thread's last failure, whatever the handle
thread_local std::string returnedError;    // what lastError() last returned to this thread

}  // namespace

void registerHandle(gcclComm* comm) {
  std::lock_guard lock(registry().mutex);
  comm->serial = ++registry().registered;
  registry().live.insert(comm);
}

HandleCall::HandleCall(gcclComm* comm, Admit admit) : comm_(comm), admit_(admit) {
  if (comm == nullptr) fail(Status::kInvalidArgument, "communicator is NULL");
  std::lock_guard lock(registry().mutex);
  if (!isLive(comm)) {
    fail(Status::kInvalidArgument, "communicator ", static_cast<void*>(comm),
         " is not live (already destroyed, or never created)");
  }
  if (comm->closing && admit == Admit::kUnlessClosing) {
    fail(Status::kInvalidUsage, "communicator ", static_cast<void*>(comm),
         " is being destroyed or aborted by another thread");
  }
  ++comm->callsInside;
  if (admit == Admit::kUnlessClosing) ++comm->collectivesInside;
}

HandleCall::~HandleCall() {
  std::lock_guard lock(registry().mutex);
  const bool lastCollective = admit_ == Admit::kUnlessClosing && --comm_->collectivesInside == 0;
  const bool lastCall = --comm_->callsInside == 0;
  // Notified under the mutex: the retiring thread frees the communicator as soon as it can
  // take the mutex back, so the handle must not be touched after the unlock.
  if ((lastCollective || lastCall) && comm_->closing) comm_->lastLeft.notify_all();
}

bool HandleCall::claim() {
  std::lock_guard lock(registry().mutex);
  if (comm_->closing) return false;
  comm_->closing = true;
  return true;
}

void retire(gcclComm* comm) {
  {
    std::unique_lock lock(registry().mutex);
    // Registered while they leave (none enters: the handle is closing), so that a watchdog's
    // gcclCommAbort can still enter and cut them short.
    comm->lastLeft.wait(lock, [&] { return comm->collectivesInside == 0; });
    // Unregistered before the short calls leave: a caller looping on gcclCommGetAsyncError
    // cannot keep the handle alive for ever.
    registry().live.erase(comm);
    comm->lastLeft.wait(lock, [&] { return comm->callsInside == 0; });
  }
  // Emptied outside the mutex: the communicator's destructor drains and closes its
  // connections, and calls on other handles must not wait behind that. Device work first
  // (gcclComm's declaration order).
  comm->device.reset();
  comm->copyEngine.reset();
  comm->communicator.reset();
  std::lock_guard lock(registry().mutex);
  comm->lastError = std::string();
  registry().retired.emplace_back(comm);
}

void registerLive(const void* handle, HandleKind kind) {
  std::lock_guard lock(registry().mutex);
  registry().others.emplace(handle, kind);
}

bool isLiveHandle(const void* handle, HandleKind kind) {
  std::lock_guard lock(registry().mutex);
  const auto found = registry().others.find(handle);
  return found != registry().others.end() && found->second == kind;
}

namespace {

[[noreturn]] void notLive(const void* handle, const char* what) {
  if (handle == nullptr) fail(Status::kInvalidArgument, what, " is NULL");
  fail(Status::kInvalidArgument, what, " ", handle,
       " is not live (already completed or destroyed, or never created as one)");
}

}  // namespace

void requireLive(const void* handle, HandleKind kind, const char* what) {
  if (!isLiveHandle(handle, kind)) notLive(handle, what);
}

void takeLive(const void* handle, HandleKind kind, const char* what) {
  {
    std::lock_guard lock(registry().mutex);
    const auto found = registry().others.find(handle);
    if (found != registry().others.end() && found->second == kind) {
      registry().others.erase(found);
      return;
    }
  }
  notLive(handle, what);
}

void unregisterLive(const void* handle) {
  std::lock_guard lock(registry().mutex);
  registry().others.erase(handle);
}

void recordError(gcclComm* comm, const std::string& message) noexcept {
  try {
    threadLastError = message;
    std::lock_guard lock(registry().mutex);
    if (isLive(comm)) comm->lastError = message;
  } catch (...) {
    // Out of memory while copying the message: the result code still reports the failure.
  }
}

const char* lastError(gcclComm* comm) noexcept {
  try {
    std::lock_guard lock(registry().mutex);
    returnedError = isLive(comm) ? comm->lastError : threadLastError;
    return returnedError.c_str();
  } catch (...) {
    return "out of memory while copying the last error";
  }
}

}  // namespace gccl::api
