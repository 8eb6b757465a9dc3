#include "cuda/cuda_copy_engine.h"

#include <cuda.h>
#include <cuda_runtime_api.h>

#include <atomic>
#include <cstdint>
#include <utility>

#include "base/error.h"
#include "base/logging.h"
#include "cuda/device_pointers.h"
#include "cuda/half_kernels.h"

namespace gccl {
namespace {

void check(cudaError_t result, const char* what) {
  if (result != cudaSuccess) {
    fail(Status::kSystemError, what, ": ", cudaGetErrorName(result), " (",
         cudaGetErrorString(result), ")");
  }
}

// A driver function by name, or null (no driver, or one too old for it).
void* driverFunction(const char* name) {
  void* function = nullptr;
  cudaDriverEntryPointQueryResult found{};
#if CUDART_VERSION >= 12050
  const cudaError_t result =
      cudaGetDriverEntryPointByVersion(name, &function, 12000, cudaEnableDefault, &found);
#else
  const cudaError_t result = cudaGetDriverEntryPoint(name, &function, cudaEnableDefault, &found);
#endif
  if (result != cudaSuccess || found != cudaDriverEntryPointSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  return function;
}

// Makes `device` current on the calling thread for one call, and gives a thread that had a
// device of its own that device back afterwards: calls come from the user's threads too. A
// thread with no context bound (the proxy, a fresh user thread) keeps ours: "restoring" the
// device 0 that cudaGetDevice reports there would create a context on GPU 0 in every rank. A
// failure to switch shows in the CUDA call that follows.
class CurrentDevice {
 public:
  explicit CurrentDevice(int device) {
    using GetCurrent = CUresult (*)(CUcontext*);
    static const auto getCurrent = reinterpret_cast<GetCurrent>(driverFunction("cuCtxGetCurrent"));
    CUcontext context = nullptr;
    const bool bound =
        getCurrent != nullptr && getCurrent(&context) == CUDA_SUCCESS && context != nullptr;
    int current = -1;
    if (bound && cudaGetDevice(&current) == cudaSuccess) {
      if (current == device) return;
      previous_ = current;
    }
    cudaSetDevice(device);
  }
  ~CurrentDevice() {
    if (previous_ >= 0) cudaSetDevice(previous_);
  }
  CurrentDevice(const CurrentDevice&) = delete;
  CurrentDevice& operator=(const CurrentDevice&) = delete;

 private:
  int previous_ = -1;  // the thread's own device, to give back; -1: none
};

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
  const CurrentDevice current(device_);
  // Non-blocking: the copies must not serialize behind the legacy default stream's work.
  cudaStream_t stream = nullptr;
  check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
  stream_ = stream;
  try {
    check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
    afterStream_ = stream;
#ifdef GCCL_HALF_KERNELS
    convertsHalf_ = halfKernelsRunHere() && createScratchPool();
#endif
    resolveStreamHolds();
  } catch (const Error&) {
    if (scratchPool_ != nullptr) cudaMemPoolDestroy(scratchPool_);
    if (afterStream_ != nullptr) cudaStreamDestroy(afterStream_);
    cudaStreamDestroy(stream_);
    throw;
  }
}

// Holding a caller's stream needs the driver's stream memory operations (64-bit ones: a hold
// number never wraps). Without them holdStream() says so and the caller runs synchronously.
void CudaCopyEngine::resolveStreamHolds() {
  using GetAttribute = CUresult (*)(int*, CUdevice_attribute, CUdevice);
  const auto getAttribute = reinterpret_cast<GetAttribute>(driverFunction("cuDeviceGetAttribute"));
  void* waitValue = driverFunction("cuStreamWaitValue64");
  int supported = 0;
  if (getAttribute == nullptr || waitValue == nullptr ||
      getAttribute(&supported, CU_DEVICE_ATTRIBUTE_CAN_USE_64_BIT_STREAM_MEM_OPS, device_) !=
          CUDA_SUCCESS ||
      supported == 0) {
    return;
  }
  void* host = nullptr;
  check(cudaHostAlloc(&host, sizeof(uint64_t), cudaHostAllocMapped), "cudaHostAlloc (hold word)");
  releasedHost_ = static_cast<uint64_t*>(host);
  *releasedHost_ = 0;
  void* device = nullptr;
  check(cudaHostGetDevicePointer(&device, host, 0), "cudaHostGetDevicePointer");
  releasedDevice_ = reinterpret_cast<unsigned long long>(device);
  waitValue_ = waitValue;
}

CudaCopyEngine::~CudaCopyEngine() {
  // Errors are dropped: a destructor cannot report them, and the copies' owners already have.
  const CurrentDevice current(device_);
  // Every hold released (each call releases its own; this is the net for one that did not).
  // The word itself is never freed: a caller's stream may reach a released hold only after
  // this engine is gone, and must still read it (8 bytes per engine, for the process's life).
  if (releasedHost_ != nullptr) releaseStreams(lastHold_);
  cudaStreamSynchronize(stream_);
  cudaStreamSynchronize(afterStream_);
  if (scratchPool_ != nullptr) cudaMemPoolDestroy(scratchPool_);
  for (const auto& [ticket, copy] : pending_) cudaEventDestroy(copy.event);
  for (CUevent_st* event : spare_) cudaEventDestroy(event);
  cudaStreamDestroy(afterStream_);
  cudaStreamDestroy(stream_);
}

bool CudaCopyEngine::isDevice(const void* pointer) const {
  // The driver's answer, as before the engine existed: managed memory, which it may call host
  // or device memory, must take the same path whether or not a device call came first.
  return locatePointer(pointer).device;
}

bool CudaCopyEngine::isDeviceRange(const void* pointer, size_t bytes) const {
  return gccl::isDeviceRange(pointer, bytes);
}

std::byte* CudaCopyEngine::allocateStaging(size_t bytes) {
  const CurrentDevice current(device_);
  void* staging = nullptr;
  check(cudaHostAlloc(&staging, bytes, cudaHostAllocPortable), "cudaHostAlloc");
  return static_cast<std::byte*>(staging);
}

void CudaCopyEngine::freeStaging(std::byte* staging) {
  const CurrentDevice current(device_);
  check(cudaFreeHost(staging), "cudaFreeHost");
}

bool CudaCopyEngine::pinHost(void* pointer, size_t bytes) {
  const CurrentDevice current(device_);
  // Portable: the pinning serves the copies of every context, as staging memory does.
  if (cudaHostRegister(pointer, bytes, cudaHostRegisterPortable) != cudaSuccess) {
    cudaGetLastError();  // unpinned still works: copies into it are synchronous
    return false;
  }
  return true;
}

void CudaCopyEngine::unpinHost(void* pointer) {
  const CurrentDevice current(device_);
  check(cudaHostUnregister(pointer), "cudaHostUnregister");
}

// The lock guards the engine's bookkeeping only, never a CUDA call that may block: a copy into
// pageable memory returns once it is done, which for an ...After() copy is once the caller's
// stream gets there, which may be once a stream hold is released, which the proxy does after
// done() and wait(), which need the lock.
CopyTicket CudaCopyEngine::copyToHost(void* hostDst, const void* deviceSrc, size_t bytes) {
  const CurrentDevice current(device_);  // the streams belong to device_
  return copy(stream_, hostDst, deviceSrc, bytes, true);
}

CopyTicket CudaCopyEngine::copyToDevice(void* deviceDst, const void* hostSrc, size_t bytes) {
  const CurrentDevice current(device_);
  return copy(stream_, deviceDst, hostSrc, bytes, false);
}

CopyTicket CudaCopyEngine::copyToHostAfter(void* stream, void* hostDst, const void* deviceSrc,
                                           size_t bytes) {
  const CurrentDevice current(device_);
  const std::lock_guard after(afterMutex_);
  follow(static_cast<cudaStream_t>(stream));
  return copy(afterStream_, hostDst, deviceSrc, bytes, true);
}

CopyTicket CudaCopyEngine::copy(CUstream_st* on, void* dst, const void* src, size_t bytes,
                                bool toHost) {
  const CopyTicket ticket = reserveTicket();
  std::string what = strCat("copy ", ticket, " (", toHost ? "device->host" : "host->device", ", ",
                            bytes, " bytes)");
  check(cudaMemcpyAsync(dst, src, bytes, toHost ? cudaMemcpyDeviceToHost : cudaMemcpyHostToDevice,
                        on),
        what.c_str());
  return record(on, ticket, std::move(what));
}

// afterStream_ waits for the work queued on `stream` so far. The wait takes the event's record
// as it is now, so the event is free again at once.
void CudaCopyEngine::follow(CUstream_st* stream) {
  refuseCapture(stream);
  std::lock_guard lock(mutex_);
  cudaEvent_t event = spareEvent();
  cudaError_t result = cudaEventRecord(event, stream);
  if (result == cudaSuccess) result = cudaStreamWaitEvent(afterStream_, event, 0);
  spare_.push_back(event);
  check(result, "ordering a copy after the caller's stream");
}

bool CudaCopyEngine::convertsHalf() const {
  return convertsHalf_;
}

#ifdef GCCL_HALF_KERNELS

// Internal dependencies off: reusing a block freed on the other stream would make this stream
// wait for that one, tying the staging copies to the ...After() copies again, and those may
// wait behind a held caller's stream that only the staging copies' completion releases.
bool CudaCopyEngine::createScratchPool() {
  // Without the pool (a GPU or driver without stream-ordered allocation) the conversions are
  // left out, not the engine: copies then take the fp32 path.
  int supported = 0;
  cudaMemPool_t pool = nullptr;
  cudaMemPoolProps properties{};
  properties.allocType = cudaMemAllocationTypePinned;
  properties.location.type = cudaMemLocationTypeDevice;
  properties.location.id = device_;
  cudaError_t result = cudaDeviceGetAttribute(&supported, cudaDevAttrMemoryPoolsSupported, device_);
  if (result == cudaSuccess && supported == 0) result = cudaErrorNotSupported;
  if (result == cudaSuccess) result = cudaMemPoolCreate(&pool, &properties);
  uint64_t keepAll = UINT64_MAX;
  int noCrossStreamWaits = 0;
  if (result == cudaSuccess) {
    result = cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keepAll);
  }
  if (result == cudaSuccess) {
    result = cudaMemPoolSetAttribute(pool, cudaMemPoolReuseAllowInternalDependencies,
                                     &noCrossStreamWaits);
  }
  if (result != cudaSuccess) {
    if (pool != nullptr) cudaMemPoolDestroy(pool);
    cudaGetLastError();
    logInfo(LogSubsys::kInit, "CUDA device ", device_, ": no memory pool for the fp16/bf16 ",
            "conversions (", cudaGetErrorName(result), "): 16-bit wires convert on the host");
    return false;
  }
  scratchPool_ = pool;
  return true;
}

void* CudaCopyEngine::allocateScratch(CUstream_st* on, size_t bytes, const std::string& what) {
  void* scratch = nullptr;
  check(cudaMallocFromPoolAsync(&scratch, bytes, scratchPool_, on), what.c_str());
  return scratch;
}

CopyTicket CudaCopyEngine::encodeToHost(void* hostDst, const float* deviceSrc, size_t count,
                                        HalfFormat format, float scale) {
  const CurrentDevice current(device_);
  return encode(stream_, hostDst, deviceSrc, count, format, scale);
}

CopyTicket CudaCopyEngine::encodeToHostAfter(void* stream, void* hostDst, const float* deviceSrc,
                                             size_t count, HalfFormat format, float scale) {
  const CurrentDevice current(device_);
  const std::lock_guard after(afterMutex_);
  follow(static_cast<cudaStream_t>(stream));
  return encode(afterStream_, hostDst, deviceSrc, count, format, scale);
}

// The scratch is freed in stream order whether the kernel or the copy failed or not: the
// queued work that reads it still runs before the free.
CopyTicket CudaCopyEngine::encode(CUstream_st* on, void* hostDst, const float* deviceSrc,
                                  size_t count, HalfFormat format, float scale) {
  if (!convertsHalf_) {
    fail(Status::kInvalidUsage, "encodeToHost: the kernels do not run on this GPU");
  }
  const CopyTicket ticket = reserveTicket();
  std::string what =
      strCat("copy ", ticket, " (device->host, ", count, " floats encoded to 16 bits)");
  if (count == 0) return record(on, ticket, std::move(what));
  void* scratch = allocateScratch(on, count * 2, what);
  cudaError_t result =
      static_cast<cudaError_t>(encodeOnDevice(on, scratch, deviceSrc, count, format, scale));
  if (result == cudaSuccess) {
    result = cudaMemcpyAsync(hostDst, scratch, count * 2, cudaMemcpyDeviceToHost, on);
  }
  cudaFreeAsync(scratch, on);
  check(result, what.c_str());
  return record(on, ticket, std::move(what));
}

CopyTicket CudaCopyEngine::decodeToDevice(float* deviceDst, const void* hostSrc, size_t count,
                                          HalfFormat format) {
  if (!convertsHalf_)
    fail(Status::kInvalidUsage, "decodeToDevice: the kernels do not run on this GPU");
  const CurrentDevice current(device_);
  const CopyTicket ticket = reserveTicket();
  std::string what = strCat("copy ", ticket, " (host->device, ", count, " 16-bit values decoded)");
  if (count == 0) return record(stream_, ticket, std::move(what));
  void* scratch = allocateScratch(stream_, count * 2, what);
  cudaError_t result =
      cudaMemcpyAsync(scratch, hostSrc, count * 2, cudaMemcpyHostToDevice, stream_);
  if (result == cudaSuccess) {
    result = static_cast<cudaError_t>(decodeOnDevice(stream_, deviceDst, scratch, count, format));
  }
  cudaFreeAsync(scratch, stream_);
  check(result, what.c_str());
  return record(stream_, ticket, std::move(what));
}

#else

CopyTicket CudaCopyEngine::encodeToHost(void*, const float*, size_t, HalfFormat, float) {
  fail(Status::kInternalError, "encodeToHost: gccl was built without CUDA kernels");
}

CopyTicket CudaCopyEngine::encodeToHostAfter(void*, void*, const float*, size_t, HalfFormat,
                                             float) {
  fail(Status::kInternalError, "encodeToHost: gccl was built without CUDA kernels");
}

CopyTicket CudaCopyEngine::decodeToDevice(float*, const void*, size_t, HalfFormat) {
  fail(Status::kInternalError, "decodeToDevice: gccl was built without CUDA kernels");
}

#endif

// A stream capturing a CUDA graph would record the mark into the graph: the call would run
// now, on data the graph has not computed, and every replay would skip it.
void CudaCopyEngine::refuseCapture(CUstream_st* stream) {
  cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
  check(cudaStreamIsCapturing(stream, &capturing), "cudaStreamIsCapturing");
  if (capturing != cudaStreamCaptureStatusNone) {
    fail(Status::kInvalidUsage, "the stream is capturing a CUDA graph: gccl's stream-ordered ",
         "calls cannot be captured (call them outside the capture)");
  }
}

CopyTicket CudaCopyEngine::streamReached(void* stream) {
  const CurrentDevice current(device_);
  refuseCapture(static_cast<cudaStream_t>(stream));
  const CopyTicket ticket = reserveTicket();
  return record(static_cast<cudaStream_t>(stream), ticket, strCat("stream mark ", ticket));
}

bool CudaCopyEngine::holdStream(void* stream, uint64_t hold) {
  if (waitValue_ == nullptr) return false;
  std::lock_guard lock(mutex_);
  const CurrentDevice current(device_);
  using WaitValue = CUresult (*)(CUstream, CUdeviceptr, cuuint64_t, unsigned int);
  const CUresult result = reinterpret_cast<WaitValue>(waitValue_)(
      static_cast<CUstream>(stream), releasedDevice_, hold, CU_STREAM_WAIT_VALUE_GEQ);
  if (result != CUDA_SUCCESS) {
    fail(Status::kSystemError, "cuStreamWaitValue64 (holding the caller's stream) failed: error ",
         static_cast<int>(result));
  }
  lastHold_ = hold;
  return true;
}

void CudaCopyEngine::releaseStreams(uint64_t through) {
  if (releasedHost_ == nullptr) return;
  // The GPU reads the word over the bus; the release orders the staged results before it. The
  // driver compares cyclically ((int64_t)(word - hold) >= 0), so only holds issued may be
  // released: a larger value would read as "before" them.
  std::atomic_ref<uint64_t>(*releasedHost_).store(through, std::memory_order_release);
}

CUevent_st* CudaCopyEngine::spareEvent() {
  cudaEvent_t event = nullptr;
  if (spare_.empty()) {
    // Timing off: the event only marks completion, and untimed events are cheaper to record.
    check(cudaEventCreateWithFlags(&event, cudaEventDisableTiming), "cudaEventCreate");
  } else {
    event = spare_.back();
    spare_.pop_back();
  }
  return event;
}

CopyTicket CudaCopyEngine::reserveTicket() {
  std::lock_guard lock(mutex_);
  return nextTicket_++;
}

// Tickets are settled one by one, never assumed done because a later one is: threads queue
// copies on one stream concurrently, so ticket order need not be stream order.
CopyTicket CudaCopyEngine::record(CUstream_st* stream, CopyTicket ticket, std::string what) {
  std::lock_guard lock(mutex_);
  cudaEvent_t event = spareEvent();
  const cudaError_t recorded = cudaEventRecord(event, stream);
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
  const CurrentDevice current(device_);  // the proxy's first runtime call must not bind GPU 0
  std::lock_guard lock(mutex_);
  const cudaError_t state = cudaEventQuery(pending(ticket, "done").event);
  if (state == cudaErrorNotReady) return false;
  settle(ticket, state);
  return true;
}

void CudaCopyEngine::wait(CopyTicket ticket) {
  const CurrentDevice current(device_);
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

std::unique_ptr<CopyEngine> makeCudaCopyEngine(int device) {
  return std::make_unique<CudaCopyEngine>(device);
}

}  // namespace gccl
