// Device buffers at the C boundary: which calls take the staging path, and each communicator's
// DeviceCollectives, made on the first call that has device memory.
#pragma once

#include <memory>

#include "api/handles.h"
#include "core/collective_call.h"
#include "cuda/copy_engine.h"
#include "cuda/device_collectives.h"
#include "lazy/gradient_sync.h"

namespace gccl::api {

// Whether `pointer` is device memory: asked of the communicator's engine once it has one, else
// of the CUDA driver (cuda/device_pointers.h).
bool isDeviceBuffer(gcclComm& comm, const void* pointer);

// What a collective call needs of the communicator's device state, taken in one look (a
// host-memory collective pays for it on every call).
struct DeviceState {
  std::shared_ptr<CopyEngine> engine;        // null before the first device call
  DeviceCollectives* collectives = nullptr;  // likewise; lives as long as the communicator
  // Whether a buffer of `call` is device memory.
  bool holdsBufferOf(const CollectiveCall& call) const;
  // finishDeviceCalls, with the state already looked up.
  void finishEarlierCalls() const;
};
DeviceState deviceState(gcclComm& comm);

// The communicator's device collectives, made on first use: with the engine a test attached,
// else with CUDA's for the device of the call's buffers. Throws Error(kSystemError) without
// CUDA (or a GPU).
DeviceCollectives& deviceCollectives(gcclComm& comm, const CollectiveCall& call);
// Its engine, for copies of `deviceBuffer` outside a collective.
std::shared_ptr<CopyEngine> copyEngine(gcclComm& comm, const void* deviceBuffer);

// The gradient sync's copy mode with framework tensors that may be device memory: a device
// tensor comes into the pool after the work queued on the legacy default stream (as a blocking
// collective starts), by a copy that markReady queues and leaves running (its bucket waits for
// it), and goes back in wait(), through the communicator's copy engine; a host tensor by
// memcpy. With a 16-bit wire format a device tensor is converted on the device and
// crosses the bus as 16-bit values (encodeIn / decodeOut), when the engine can convert. The
// copies in run inside a call on `comm` (markReady); those out touch no communicator, since
// wait() works after its destroy.
void useDeviceAwareCopies(gcclComm* comm, GradientSyncOptions& options);

// Before a host-buffer collective (as DeviceState::finishEarlierCalls there), a gradient
// sync's collectives, a split, and at destroy: the stream-ordered calls queued so far finish
// first, so that every rank issues the collectives in the order they were called. Throws the
// first failure among them.
void finishDeviceCalls(gcclComm& comm);

// Tests: the engine `comm` uses for device buffers instead of CUDA's (a HostCopyEngine). Before
// the first device call.
void attachCopyEngine(gcclComm* comm, std::shared_ptr<CopyEngine> engine);

}  // namespace gccl::api
