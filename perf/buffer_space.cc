#include "buffer_space.h"

#include <cstring>
#include <stdexcept>

#include "api/device_buffers.h"
#include "cuda/host_copy_engine.h"

namespace gccl::perf {

namespace {

// The stand-in GPU: "device" memory is host memory HostCopyEngine knows, so the C API stages it
// exactly as it stages CUDA memory.
class StandInSpace final : public BufferSpace {
 public:
  explicit StandInSpace(std::span<const gcclComm_t> comms)
      : engine_(std::make_shared<HostCopyEngine>()) {
    for (gcclComm_t comm : comms) api::attachCopyEngine(comm, engine_);
  }
  unsigned char* allocate(size_t bytes) override {
    return reinterpret_cast<unsigned char*>(engine_->allocateDevice(bytes));
  }
  void release(unsigned char* buffer) override {
    engine_->freeDevice(reinterpret_cast<std::byte*>(buffer));
  }
  void toDevice(unsigned char* device, const unsigned char* host, size_t bytes) override {
    std::memcpy(device, host, bytes);
  }
  void toHost(unsigned char* host, const unsigned char* device, size_t bytes) override {
    std::memcpy(host, device, bytes);
  }

 private:
  std::shared_ptr<HostCopyEngine> engine_;  // shared with the communicators, which may outlive us
};

}  // namespace

bool isDeviceName(const std::string& name) {
  return name == "host" || name == "cuda" || name == "standin";
}

std::unique_ptr<BufferSpace> makeBufferSpace(const std::string& device,
                                             std::span<const gcclComm_t> comms, int rank) {
  if (device == "cuda") return makeCudaBufferSpace(rank);
  if (device == "standin") {
    try {
      return std::make_unique<StandInSpace>(comms);
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("--device standin: ") + e.what());
    }
  }
  return nullptr;
}

}  // namespace gccl::perf
