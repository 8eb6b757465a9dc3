#include "api/handles.h"

#include <mutex>
#include <set>

#include "base/error.h"

namespace gccl::api {

namespace {

struct Registry {
  std::mutex mutex;
  std::set<gcclComm*> live;
};

Registry& registry() {
  static Registry instance;
  return instance;
}

thread_local std::string threadLastError;

}  // namespace

void registerHandle(gcclComm* comm) {
  std::lock_guard lock(registry().mutex);
  registry().live.insert(comm);
}

void unregisterHandle(gcclComm* comm) {
  std::lock_guard lock(registry().mutex);
  registry().live.erase(comm);
}

gcclComm& liveHandle(gcclComm* comm) {
  if (comm == nullptr) fail(Status::kInvalidArgument, "communicator is NULL");
  std::lock_guard lock(registry().mutex);
  if (registry().live.count(comm) == 0) {
    fail(Status::kInvalidArgument, "communicator ", static_cast<void*>(comm),
         " is not live (already destroyed, or never created)");
  }
  return *comm;
}

void recordError(gcclComm* comm, const std::string& message) {
  threadLastError = message;
  std::lock_guard lock(registry().mutex);
  if (comm != nullptr && registry().live.count(comm) > 0) comm->lastError = message;
}

const char* lastError(gcclComm* comm) {
  std::lock_guard lock(registry().mutex);
  if (comm != nullptr && registry().live.count(comm) > 0) return comm->lastError.c_str();
  return threadLastError.c_str();
}

}  // namespace gccl::api
