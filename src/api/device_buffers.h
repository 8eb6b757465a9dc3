// Device buffers at the C boundary: which calls take the staging path, and each communicator's
// DeviceCollectives, made on the first call that has device memory.
#pragma once

#include <memory>

#include "api/handles.h"
#include "core/collective_call.h"
#include "cuda/copy_engine.h"
#include "cuda/device_collectives.h"

namespace gccl::api {

// Whether a buffer of `call` is device memory: asked of the communicator's engine once it has
// one, else of the CUDA driver (cuda/device_pointers.h).
bool hasDeviceBuffer(gcclComm& comm, const CollectiveCall& call);

// The communicator's device collectives, made on first use: with the engine a test attached,
// else with CUDA's for the device of the call's buffers. Throws Error(kSystemError) without
// CUDA (or a GPU).
DeviceCollectives& deviceCollectives(gcclComm& comm, const CollectiveCall& call);

// Before a host-buffer collective, and at destroy: the stream-ordered calls queued so far
// finish first, so that every rank issues the collectives in the order they were called.
// Throws the first failure among them.
void finishDeviceCalls(gcclComm& comm);

// Tests: the engine `comm` uses for device buffers instead of CUDA's (a HostCopyEngine). Before
// the first device call.
void attachCopyEngine(gcclComm* comm, std::shared_ptr<CopyEngine> engine);

}  // namespace gccl::api
