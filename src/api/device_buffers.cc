#include "api/device_buffers.h"

#include "cuda/device_pointers.h"

namespace gccl::api {

namespace {

bool isDevice(gcclComm& comm, const void* pointer) {
  if (pointer == nullptr) return false;
  std::shared_ptr<CopyEngine> engine;
  {
    std::lock_guard lock(comm.deviceMutex);
    engine = comm.copyEngine;
  }
  return engine ? engine->isDevice(pointer) : locatePointer(pointer).device;
}

}  // namespace

bool hasDeviceBuffer(gcclComm& comm, const CollectiveCall& call) {
  return isDevice(comm, call.input) || isDevice(comm, call.output);
}

DeviceCollectives& deviceCollectives(gcclComm& comm, const CollectiveCall& call) {
  std::lock_guard lock(comm.deviceMutex);
  if (!comm.device) {
    if (!comm.copyEngine) {
      PointerLocation location = locatePointer(call.input);
      if (!location.device) location = locatePointer(call.output);
      comm.copyEngine = makeCudaCopyEngine(location.device ? location.ordinal : -1);
    }
    comm.device = std::make_unique<DeviceCollectives>(*comm.communicator, comm.copyEngine);
  }
  return *comm.device;
}

void finishDeviceCalls(gcclComm& comm) {
  DeviceCollectives* device = nullptr;
  {
    std::lock_guard lock(comm.deviceMutex);
    device = comm.device.get();
  }
  if (device != nullptr) device->finish();
}

void attachCopyEngine(gcclComm* comm, std::shared_ptr<CopyEngine> engine) {
  HandleCall call(comm, HandleCall::Admit::kUnlessClosing);
  std::lock_guard lock(comm->deviceMutex);
  if (comm->device) fail(Status::kInvalidUsage, "attachCopyEngine after the first device call");
  comm->copyEngine = std::move(engine);
}

}  // namespace gccl::api
