// What the opaque C handles point to, and the bookkeeping that lets the C boundary reject a
// destroyed or foreign communicator instead of crashing, and free one only once no call is
// inside it.
//
// Lifetime of a communicator handle:
//
//   registered ──claim()──> closing ──retire()──> unregistered ──> freed
//   (every call enters)     (only abort, async     (no call enters; the retiring thread
//                            error, count, rank)    waits for those inside to leave)
//
// Every call on a handle holds a HandleCall while it uses the communicator. Destroy and abort
// claim the handle (one of them wins), make the calls inside return — abort fails their
// operations, destroy waits for them — and retire it: the handle is freed by the claiming
// thread, after the last call has left.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "core/communicator.h"
#include "core/request.h"
#include "cuda/copy_engine.h"
#include "cuda/device_collectives.h"

struct gcclComm {
  std::unique_ptr<gccl::Communicator> communicator;
  // Set once by registerHandle, unique in the process: a handle made later at a freed handle's
  // address is told apart from it (gcclGradSync keeps the number beside the pointer).
  uint64_t serial = 0;
  // Device buffers (api/device_buffers.h), made by the first call that has some; declared
  // after the communicator, so destroyed (its queued calls finished) before it.
  std::mutex deviceMutex;
  std::shared_ptr<gccl::CopyEngine> copyEngine;  // CUDA's, or a test's stand-in
  std::unique_ptr<gccl::DeviceCollectives> device;
  // The rest is guarded by the registry's mutex (handles.cc).
  std::string lastError;
  int callsInside = 0;
  int collectivesInside = 0;         // of them, calls admitted unless closing (they may block)
  bool closing = false;              // a destroy or abort claimed it and will free it
  std::condition_variable lastLeft;  // either count fell to 0 while closing
};

struct gcclRequest {
  std::shared_ptr<gccl::Request> request;
  gccl::WaitPolicy waits;
};

namespace gccl::api {

void registerHandle(gcclComm* comm);

// One call inside a communicator handle: while it exists, the handle is not freed.
class HandleCall {
 public:
  enum class Admit {
    kUnlessClosing,  // a collective: refused once a destroy or abort has claimed the handle
    kUntilRetired,   // abort, async error, count, rank: safe at any moment
  };
  // Throws Error(kInvalidArgument) for NULL or a handle that is not (or no longer) live, and
  // Error(kInvalidUsage) for a closing one that `admit` refuses.
  HandleCall(gcclComm* comm, Admit admit);
  ~HandleCall();
  HandleCall(const HandleCall&) = delete;
  HandleCall& operator=(const HandleCall&) = delete;

  Communicator& communicator() const { return *comm_->communicator; }
  // Marks the handle closing, so that collectives are refused from now on. True for the
  // first claim, whose thread must retire() the handle once this call has ended.
  bool claim();

 private:
  gcclComm* comm_;
  Admit admit_;
};

// Waits until the calls that may block (admitted unless closing) have left, the handle still
// registered so that an abort can enter and cut them short; then unregisters it, waits for
// the short calls still inside and frees its communicator. The emptied handle itself is kept
// for the life of the process, so that no later handle gets its address: a stale copy stays
// "not live" instead of naming a newer communicator. Only the thread whose claim() won calls
// it, after its own HandleCall ended.
void retire(gcclComm* comm);

// Requests and gradient syncs: the handles made and not yet freed, by kind, so that a freed,
// foreign or other-kind one is an error (kInvalidArgument naming `what`) instead of a crash.
// takeLive checks and unregisters in one step: of two threads freeing one handle at once,
// one gets it and the other an error.
enum class HandleKind { kRequest, kGradientSync };
void registerLive(const void* handle, HandleKind kind);
bool isLiveHandle(const void* handle, HandleKind kind);
void requireLive(const void* handle, HandleKind kind, const char* what);
void takeLive(const void* handle, HandleKind kind, const char* what);
void unregisterLive(const void* handle);

// Records the message for gcclGetLastError (per handle while it is registered, and per
// thread).
void recordError(gcclComm* comm, const std::string& message) noexcept;
// A copy in the calling thread's own buffer, valid until its next lastError(): another thread
// may record a new error on the handle at any moment.
const char* lastError(gcclComm* comm) noexcept;

}  // namespace gccl::api
