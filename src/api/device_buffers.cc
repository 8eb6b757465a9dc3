#include "api/device_buffers.h"

#include <cstring>
#include <initializer_list>
#include <map>
#include <mutex>
#include <set>

#include "base/logging.h"
#include "cuda/device_pointers.h"

namespace gccl::api {

bool isDeviceBuffer(gcclComm& comm, const void* pointer) {
  if (pointer == nullptr) return false;
  std::shared_ptr<CopyEngine> engine;
  {
    std::lock_guard lock(comm.deviceMutex);
    engine = comm.copyEngine;
  }
  return engine ? engine->isDevice(pointer) : locatePointer(pointer).device;
}

bool DeviceState::holdsBufferOf(const CollectiveCall& call) const {
  if (engine) return engine->isDevice(call.input) || engine->isDevice(call.output);
  return anyDevicePointer({call.input, call.output});
}

DeviceState deviceState(gcclComm& comm) {
  std::lock_guard lock(comm.deviceMutex);
  return {comm.copyEngine, comm.device.get()};
}

namespace {

[[noreturn]] void failDevices(const gcclComm& comm, int used, int serving, const char* whose) {
  fail(Status::kInvalidArgument, "rank ", comm.communicator->rank(), ": buffers on CUDA device ",
       used, ", but ", whose, " device ", serving, " (one device per communicator)");
}

// Made on first use, with CUDA's engine on the device of `buffers` that are device memory
// (the calling thread's current device if none is), unless a test attached one. A
// communicator serves one device: its engine's stream, events and pinned memory live there,
// so every device buffer of every call must be on it.
DeviceCollectives& madeOnFirstUse(gcclComm& comm, std::initializer_list<const void*> buffers) {
  int ordinal = -1;
  for (const void* buffer : buffers) {
    const PointerLocation location = locatePointer(buffer);
    if (!location.device) continue;
    if (ordinal >= 0 && location.ordinal != ordinal) {
      failDevices(comm, location.ordinal, ordinal, "another buffer of the call is on");
    }
    ordinal = location.ordinal;
  }
  std::lock_guard lock(comm.deviceMutex);
  if (!comm.copyEngine) comm.copyEngine = makeCudaCopyEngine(ordinal);
  // The engine's own device, also when it was made on the caller's current device.
  const int serving = comm.copyEngine->deviceOrdinal();
  if (ordinal >= 0 && serving >= 0 && ordinal != serving) {
    failDevices(comm, ordinal, serving, "this communicator serves");
  }
  if (!comm.device) {
    comm.device = std::make_unique<DeviceCollectives>(*comm.communicator, comm.copyEngine);
  }
  return *comm.device;
}

}  // namespace

DeviceCollectives& deviceCollectives(gcclComm& comm, const CollectiveCall& call) {
  return madeOnFirstUse(comm, {call.input, call.output});
}

std::shared_ptr<CopyEngine> copyEngine(gcclComm& comm, const void* deviceBuffer) {
  madeOnFirstUse(comm, {deviceBuffer});
  std::lock_guard lock(comm.deviceMutex);
  return comm.copyEngine;
}

namespace {

// The state the copies share: which buffers of this step were device memory, the engine that
// copied them in (kept here, so that copying out needs no communicator), and the gradient
// sync's host buffers, pinned for that engine so that the copies into them run asynchronously.
struct DeviceTensors {
  std::mutex mutex;
  std::shared_ptr<CopyEngine> engine;
  std::set<const void*> staged;
  std::map<std::byte*, size_t> hostBuffers;  // announced
  std::set<std::byte*> pinned;               // of those, the ones the engine pinned

  // The first device tensor names the engine (one per communicator); lock held.
  void use(const std::shared_ptr<CopyEngine>& first) {
    if (engine) return;
    engine = first;
    for (const auto& [buffer, bytes] : hostBuffers) {
      if (bytes == 0) continue;
      if (engine->pinHost(buffer, bytes)) {
        pinned.insert(buffer);
      } else {
        GCCL_WARN(LogSubsys::kColl, "gradient sync: pinning ", bytes, " bytes of its host ",
                  "buffers failed: device tensors' copies into them wait for the GPU");
      }
    }
  }
};

void requireDeviceRange(gcclComm& comm, CopyEngine& engine, const void* buffer, size_t bytes) {
  if (!engine.isDeviceRange(buffer, bytes)) {
    fail(Status::kInvalidArgument, "gradient sync on rank ", comm.communicator->rank(),
         ": a device tensor of ", bytes, " bytes runs past the end of its allocation");
  }
}

}  // namespace

void useDeviceAwareCopies(gcclComm* comm, GradientSyncOptions& options) {
  auto tensors = std::make_shared<DeviceTensors>();
  // A device tensor's copy is queued behind the legacy default stream and left running: the
  // gradient sync waits for it when the tensor's bucket starts.
  options.copyIn = [comm, tensors](void* view, const void* buffer, size_t bytes) -> CopyWait {
    if (!isDeviceBuffer(*comm, buffer)) {
      std::memcpy(view, buffer, bytes);
      return nullptr;
    }
    std::shared_ptr<CopyEngine> engine = copyEngine(*comm, buffer);
    requireDeviceRange(*comm, *engine, buffer, bytes);
    std::lock_guard lock(tensors->mutex);
    tensors->use(engine);
    const CopyTicket copy = engine->copyToHostAfter(nullptr, view, buffer, bytes);
    tensors->staged.insert(buffer);
    return [engine, copy] { engine->wait(copy); };
  };
  // fp32 tensors of a bucket sent as 16-bit values: a device tensor converts on the device,
  // halving the bytes over the bus, when the engine can (else it comes through copyIn).
  options.encodeIn = [comm, tensors](void* wire, const void* buffer, size_t count,
                                     HalfFormat format, float scale) -> std::optional<CopyWait> {
    if (!isDeviceBuffer(*comm, buffer)) return std::nullopt;
    std::shared_ptr<CopyEngine> engine = copyEngine(*comm, buffer);
    if (!engine->convertsHalf()) return std::nullopt;
    requireDeviceRange(*comm, *engine, buffer, count * sizeof(float));
    std::lock_guard lock(tensors->mutex);
    tensors->use(engine);
    const CopyTicket copy = engine->encodeToHostAfter(
        nullptr, wire, static_cast<const float*>(buffer), count, format, scale);
    return [engine, copy] { engine->wait(copy); };
  };
  options.decodeOut = [tensors](void* buffer, const void* wire, size_t count,
                                HalfFormat format) -> CopyWait {
    std::shared_ptr<CopyEngine> engine;
    {
      std::lock_guard lock(tensors->mutex);
      engine = tensors->engine;
    }
    const CopyTicket copy =
        engine->decodeToDevice(static_cast<float*>(buffer), wire, count, format);
    return [engine, copy] { engine->wait(copy); };
  };
  options.announceHostBuffer = [tensors](std::byte* buffer, size_t bytes) {
    std::lock_guard lock(tensors->mutex);
    tensors->hostBuffers[buffer] = bytes;
  };
  options.withdrawHostBuffer = [tensors](std::byte* buffer, size_t) {
    std::lock_guard lock(tensors->mutex);
    tensors->hostBuffers.erase(buffer);
    if (tensors->pinned.erase(buffer) == 0) return;
    try {
      tensors->engine->unpinHost(buffer);
    } catch (const Error& e) {
      // From a destructor: the memory is freed next either way.
      GCCL_WARN(LogSubsys::kColl, "gradient sync: unpinning its host buffer failed: ", e.what());
    }
  };
  // Queued and left running: wait() waits for all of them at once.
  options.copyOut = [tensors](void* buffer, const void* view, size_t bytes) -> CopyWait {
    std::shared_ptr<CopyEngine> engine;
    {
      std::lock_guard lock(tensors->mutex);
      if (tensors->staged.erase(buffer) > 0) engine = tensors->engine;
    }
    if (!engine) {
      std::memcpy(buffer, view, bytes);
      return nullptr;
    }
    const CopyTicket copy = engine->copyToDevice(buffer, view, bytes);
    return [engine, copy] { engine->wait(copy); };
  };
}

void DeviceState::finishEarlierCalls() const {
  if (collectives != nullptr) collectives->finish();
}

void finishDeviceCalls(gcclComm& comm) {
  deviceState(comm).finishEarlierCalls();
}

void attachCopyEngine(gcclComm* comm, std::shared_ptr<CopyEngine> engine) {
  HandleCall call(comm, HandleCall::Admit::kUnlessClosing);
  std::lock_guard lock(comm->deviceMutex);
  if (comm->device) fail(Status::kInvalidUsage, "attachCopyEngine after the first device call");
  comm->copyEngine = std::move(engine);
}

}  // namespace gccl::api
