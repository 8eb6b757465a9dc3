#include "cuda/cuda_copy_engine.h"

#include <cuda_runtime_api.h>

#include <utility>

#include "base/error.h"

namespace gccl {
namespace {

void check(cudaError_t result, const char* what) {
  if (result != cudaSuccess) {
    fail(Status::kSystemError, what, ": ", cudaGetErrorName(result), " (",
         cudaGetErrorString(result), ")");
  }
}

}  // namespace

CudaCopyEngine::CudaCopyEngine(int device) {
  int devices = 0;
  const cudaError_t counted = cudaGetDeviceCount(&devices);
  if (counted != cudaSuccess || devices == 0) {
    fail(Status::kSystemError, "no CUDA device: ",
         counted == cudaSuccess ? "cudaGetDeviceCount found none" : cudaGetErrorString(counted));
  }
  if (device < 0) {
    check(cudaGetDevice(&device_), "cudaGetDevice");
  } else if (device >= devices) {
    fail(Status::kInvalidArgument, "CUDA device ", device, " of ", devices);
  } else {
    device_ = device;
  }
  check(cudaSetDevice(device_), "cudaSetDevice");
  cudaStream_t stream = nullptr;
  // Non-blocking: the copies must not serialize behind the legacy default stream's work.
  check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
  stream_ = stream;
}

CudaCopyEngine::~CudaCopyEngine() {
  // Errors are dropped: a destructor cannot report them, and the copies' owners already have.
  cudaSetDevice(device_);
  cudaStreamSynchronize(stream_);
  for (const auto& [ticket, copy] : pending_) cudaEventDestroy(copy.event);
  for (CUevent_st* event : spare_) cudaEventDestroy(event);
  cudaStreamDestroy(stream_);
}

bool CudaCopyEngine::isDevice(const void* pointer) const {
  cudaPointerAttributes attributes{};
  if (cudaPointerGetAttributes(&attributes, pointer) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky-until-read error of an unknown pointer
    return false;
  }
  return attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged;
}

std::byte* CudaCopyEngine::allocateStaging(size_t bytes) {
  void* staging = nullptr;
  check(cudaHostAlloc(&staging, bytes, cudaHostAllocDefault), "cudaHostAlloc");
  return static_cast<std::byte*>(staging);
}

void CudaCopyEngine::freeStaging(std::byte* staging) {
  check(cudaFreeHost(staging), "cudaFreeHost");
}

CopyTicket CudaCopyEngine::copyToHost(void* hostDst, const void* deviceSrc, size_t bytes) {
  return copy(hostDst, deviceSrc, bytes, true);
}

CopyTicket CudaCopyEngine::copyToDevice(void* deviceDst, const void* hostSrc, size_t bytes) {
  return copy(deviceDst, hostSrc, bytes, false);
}

CopyTicket CudaCopyEngine::copy(void* dst, const void* src, size_t bytes, bool toHost) {
  std::lock_guard lock(mutex_);
  // The calling thread's current device may be another: the stream belongs to device_.
  check(cudaSetDevice(device_), "cudaSetDevice");
  cudaEvent_t event = nullptr;
  if (spare_.empty()) {
    // Timing off: the event only marks completion, and untimed events are cheaper to record.
    check(cudaEventCreateWithFlags(&event, cudaEventDisableTiming), "cudaEventCreate");
  } else {
    event = spare_.back();
    spare_.pop_back();
  }
  const CopyTicket ticket = nextTicket_++;
  std::string what = strCat("copy ", ticket, " (", toHost ? "device->host" : "host->device", ", ",
                            bytes, " bytes)");
  const cudaError_t queued = cudaMemcpyAsync(
      dst, src, bytes, toHost ? cudaMemcpyDeviceToHost : cudaMemcpyHostToDevice, stream_);
  const cudaError_t recorded = queued == cudaSuccess ? cudaEventRecord(event, stream_) : queued;
  if (recorded != cudaSuccess) {
    spare_.push_back(event);
    check(recorded, what.c_str());
  }
  pending_[ticket] = Pending{event, std::move(what)};
  return ticket;
}

CudaCopyEngine::Pending& CudaCopyEngine::pending(CopyTicket ticket, const char* call) {
  auto found = pending_.find(ticket);
  if (found == pending_.end()) fail(Status::kInvalidUsage, call, ": copy ", ticket, " unknown");
  return found->second;
}

void CudaCopyEngine::settle(CopyTicket ticket, int result) {
  auto found = pending_.find(ticket);
  const std::string what = std::move(found->second.what);
  spare_.push_back(found->second.event);
  pending_.erase(found);
  check(static_cast<cudaError_t>(result), what.c_str());
}

bool CudaCopyEngine::done(CopyTicket ticket) {
  std::lock_guard lock(mutex_);
  const cudaError_t state = cudaEventQuery(pending(ticket, "done").event);
  if (state == cudaErrorNotReady) return false;
  settle(ticket, state);
  return true;
}

void CudaCopyEngine::wait(CopyTicket ticket) {
  cudaEvent_t event = nullptr;
  {
    std::lock_guard lock(mutex_);
    event = pending(ticket, "wait").event;
  }
  // Outside the lock: other threads may queue and poll copies meanwhile.
  const cudaError_t state = cudaEventSynchronize(event);
  std::lock_guard lock(mutex_);
  settle(ticket, state);
}

}  // namespace gccl
