// The CopyEngine of a CUDA device: pinned staging from cudaHostAlloc, copies by
// cudaMemcpyAsync on a stream of its own, one CUDA event per ticket (a copy's, or a mark on the
// caller's stream). The ...After() copies run on a second stream, made to wait for the
// caller's stream by an event, so that they never hold up the staging copies. A converting
// copy runs its kernel (half_kernels.h) on its copy's stream, on 16-bit scratch allocated and
// freed in stream order from a memory pool of the engine's own, which keeps what it took (the
// device's default pool would hand it back at every synchronisation, and is the application's
// to configure). A caller's stream is held by cuStreamWaitValue64 on a word of mapped pinned
// memory that releaseStreams() raises. Built only when CMake finds the CUDA toolkit
// (src/CMakeLists.txt); this header keeps the CUDA headers to the .cc.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cuda/copy_engine.h"

struct CUstream_st;
struct CUevent_st;
struct CUmemPoolHandle_st;

namespace gccl {

class CudaCopyEngine final : public CopyEngine {
 public:
  // On `device` (-1: the calling thread's current device). Throws Error(kSystemError) starting
  // "no CUDA device" when the machine has none (or no driver).
  explicit CudaCopyEngine(int device = -1);
  // Waits for the stream, then releases it and the events.
  ~CudaCopyEngine() override;
  CudaCopyEngine(const CudaCopyEngine&) = delete;
  CudaCopyEngine& operator=(const CudaCopyEngine&) = delete;

  bool isDevice(const void* pointer) const override;
  int deviceOrdinal() const override { return device_; }
  bool isDeviceRange(const void* pointer, size_t bytes) const override;
  std::byte* allocateStaging(size_t bytes) override;
  void freeStaging(std::byte* staging) override;
  bool pinHost(void* pointer, size_t bytes) override;
  void unpinHost(void* pointer) override;
  CopyTicket copyToHost(void* hostDst, const void* deviceSrc, size_t bytes) override;
  CopyTicket copyToDevice(void* deviceDst, const void* hostSrc, size_t bytes) override;
  bool convertsHalf() const override;
  CopyTicket encodeToHost(void* hostDst, const float* deviceSrc, size_t count, HalfFormat format,
                          float scale) override;
  CopyTicket decodeToDevice(float* deviceDst, const void* hostSrc, size_t count,
                            HalfFormat format) override;
  CopyTicket copyToHostAfter(void* stream, void* hostDst, const void* deviceSrc,
                             size_t bytes) override;
  CopyTicket encodeToHostAfter(void* stream, void* hostDst, const float* deviceSrc, size_t count,
                               HalfFormat format, float scale) override;
  bool done(CopyTicket ticket) override;
  void wait(CopyTicket ticket) override;
  CopyTicket streamReached(void* stream) override;
  bool holdStream(void* stream, uint64_t hold) override;
  void releaseStreams(uint64_t through) override;

 private:
  struct Pending {
    CUevent_st* event;  // recorded after the copy
    std::string what;   // "copy 3 (device->host, 4096 bytes)"
  };
  // On stream `on`, device_ current; the lock is taken for the bookkeeping only.
  CopyTicket copy(CUstream_st* on, void* dst, const void* src, size_t bytes, bool toHost);
  CopyTicket encode(CUstream_st* on, void* hostDst, const float* deviceSrc, size_t count,
                    HalfFormat format, float scale);
  void follow(CUstream_st* stream);  // afterStream_ waits for `stream`'s work so far
  CopyTicket reserveTicket();
  // The ticket's event, recorded on `stream` after the work queued there.
  CopyTicket record(CUstream_st* stream, CopyTicket ticket, std::string what);
  CUevent_st* spareEvent();  // lock held
  bool createScratchPool();  // false: none on this device (logged)
  void* allocateScratch(CUstream_st* on, size_t bytes, const std::string& what);  // stream ordered
  void refuseCapture(CUstream_st* stream);
  void resolveStreamHolds();
  Pending& pending(CopyTicket ticket, const char* call);  // lock held
  void settle(CopyTicket ticket, int result);             // lock held; throws a failure

  int device_ = 0;
  CUstream_st* stream_ = nullptr;
  CUstream_st* afterStream_ = nullptr;  // the ...After() copies, behind a caller's stream
  // An ...After() copy waits for its own caller's stream only: its follow() and its copy are
  // queued on afterStream_ with no other caller's in between. Never taken by done()/wait().
  std::mutex afterMutex_;
  std::mutex mutex_;                       // guards what follows, up to nextTicket_, and lastHold_
  std::map<CopyTicket, Pending> pending_;  // until settled
  std::vector<CUevent_st*> spare_;         // settled tickets' events, reused
  CopyTicket nextTicket_ = 0;
  // cuStreamWaitValue64, or null when the driver or device lacks stream memory operations.
  void* waitValue_ = nullptr;
  uint64_t* releasedHost_ = nullptr;           // mapped pinned memory: the highest released hold
  unsigned long long releasedDevice_ = 0;      // its device address
  uint64_t lastHold_ = 0;                      // the highest hold issued
  CUmemPoolHandle_st* scratchPool_ = nullptr;  // when convertsHalf_
  bool convertsHalf_ = false;  // built with the kernels, and they run on this device
};

}  // namespace gccl
