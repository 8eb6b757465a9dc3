// A CopyEngine over host memory: the stand-in for a GPU in tests. "Device" memory is what
// allocateDevice() returned, so isDevice() is exact. Copies are memcpy on one worker thread,
// each no earlier than its injected latency after it was queued: like a DMA engine, several
// copies are in flight at once and a pipeline that overlaps them finishes sooner. Streams are
// HostStreams (host_stream.h); a null stream names the engine's own default stream, as it names
// the legacy default stream in CUDA. As in CUDA, a copy from the device into host memory that is
// neither staging nor pinned (pinHost) finishes before the call that queued it returns.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cuda/copy_engine.h"
#include "cuda/host_stream.h"

namespace gccl {

// Test hooks.
struct HostCopyFaults {
  std::chrono::microseconds delay{0};   // latency of every copy
  std::chrono::microseconds jitter{0};  // plus a random extra in [0, jitter] per copy
  // Nonzero: of the copies ready at once, a random one (from this seed) completes next, so
  // completions come out of order. Zero: the oldest ready one.
  uint64_t shuffleSeed = 0;
  int64_t failCopy = -1;              // the copy with this index (from 0, in queue order) fails
  const void* failAddress = nullptr;  // copies whose device range holds this address fail
  bool holdsStreams = true;  // false: holdStream() refuses, like a GPU without stream memory ops
  bool convertsHalf = true;  // false: no converting copies, like CUDA's engine without kernels
  bool failHolds = false;    // holdStream() throws, like a failed cuStreamWaitValue64
};

class HostCopyEngine final : public CopyEngine {
 public:
  explicit HostCopyEngine(HostCopyFaults faults = {});
  // Waits for the queued copies (their buffers must still be alive).
  ~HostCopyEngine() override;

  // What a null stream names.
  HostStream& defaultStream() { return *defaultStream_; }
  // Test helpers: "device" memory, zero-filled.
  std::byte* allocateDevice(size_t bytes);
  void freeDevice(std::byte* device);
  // Replaces the hooks for the copies queued from now on (the failure ones apply to queued
  // copies too); a test may thus aim a failure at memory it allocated with this engine.
  void setFaults(const HostCopyFaults& faults);
  // The most staging memory allocated at once, in bytes.
  size_t stagingHighWater() const;
  uint64_t copiesQueued() const;
  // Copies queued or finished whose tickets are not settled yet: 0 once a caller drained.
  size_t copiesUnsettled() const;
  // Copies that completed while an earlier-queued one was still pending.
  uint64_t completedOutOfOrder() const;
  // The most copies queued and not yet finished at one time: 1 when a caller never has two
  // in flight.
  size_t copiesInFlightHighWater() const;
  // Bytes the completed copies moved across the "bus", both ways: 2 per value of a converting
  // copy, whose device side holds 4.
  uint64_t busBytes() const;

  bool isDevice(const void* pointer) const override;
  bool isDeviceRange(const void* pointer, size_t bytes) const override;
  std::byte* allocateStaging(size_t bytes) override;
  void freeStaging(std::byte* staging) override;
  bool pinHost(void* pointer, size_t bytes) override;
  void unpinHost(void* pointer) override;
  size_t pinnedBuffers() const;
  CopyTicket copyToHost(void* hostDst, const void* deviceSrc, size_t bytes) override;
  CopyTicket copyToDevice(void* deviceDst, const void* hostSrc, size_t bytes) override;
  bool convertsHalf() const override;
  CopyTicket encodeToHost(void* hostDst, const float* deviceSrc, size_t count, HalfFormat format,
                          float scale) override;
  CopyTicket decodeToDevice(float* deviceDst, const void* hostSrc, size_t count,
                            HalfFormat format) override;
  bool done(CopyTicket ticket) override;
  void wait(CopyTicket ticket) override;
  CopyTicket streamReached(void* stream) override;
  CopyTicket copyToHostAfter(void* stream, void* hostDst, const void* deviceSrc,
                             size_t bytes) override;
  CopyTicket encodeToHostAfter(void* stream, void* hostDst, const float* deviceSrc, size_t count,
                               HalfFormat format, float scale) override;
  bool holdStream(void* stream, uint64_t hold) override;
  void releaseStreams(uint64_t through) override;

 private:
  using Clock = std::chrono::steady_clock;
  enum class State { kQueued, kDone, kFailed };
  enum class Kind { kPlain, kEncode, kDecode };
  struct Conversion {
    Kind kind = Kind::kPlain;
    HalfFormat format = HalfFormat::kFloat16;
    float scale = 1.0f;
  };
  struct Copy {
    void* dst;
    const void* src;
    size_t bytes;        // of the device side: 4 per value of a converting copy
    const void* device;  // the device side, for failAddress
    Conversion conversion;
    Clock::time_point readyAt;
    State state = State::kQueued;
    std::string what;              // "copy 3 (device->host, 4096 bytes)"
    bool streamMark = false;       // not a copy: done by its stream's task (streamReached)
    std::optional<uint64_t> gate;  // the ...After() copies: runs once its stream opened it
  };

  CopyTicket queue(void* dst, const void* src, size_t bytes, const void* device,
                   const char* direction, Conversion conversion,
                   std::optional<uint64_t> gate = std::nullopt);
  // A gate that `stream` opens once it gets to the work queued on it so far.
  void run(const Copy& copy);                              // lock held
  bool settle(std::map<CopyTicket, Copy>::iterator copy);  // lock held; erases unless queued
  uint64_t gateOn(void* stream);
  bool gateOpen(const Copy& copy) const;  // lock held
  // A copy into `host`: returns once it finished unless `host` is staging or pinned memory.
  CopyTicket toHost(CopyTicket ticket, const void* host);
  bool isPinned(const void* host) const;  // lock held
  HostStream& streamOf(void* stream);
  void worker();

  HostCopyFaults faults_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::mt19937_64 random_;
  std::map<CopyTicket, Copy> copies_;  // queued and finished-but-unsettled, by ticket
  CopyTicket nextTicket_ = 0;
  std::map<const std::byte*, size_t> device_;   // allocation -> bytes
  std::map<const std::byte*, size_t> staging_;  // allocation -> bytes
  std::map<const std::byte*, size_t> pinned_;   // pinHost() -> bytes
  size_t stagingBytes_ = 0;
  size_t stagingHighWater_ = 0;
  uint64_t outOfOrder_ = 0;
  size_t copiesInFlight_ = 0;
  size_t copiesInFlightHighWater_ = 0;
  uint64_t busBytes_ = 0;
  uint64_t gatesIssued_ = 0;
  std::set<uint64_t> closedGates_;  // gates whose stream has not reached them
  uint64_t released_ = 0;           // releaseStreams' highest hold
  bool stopping_ = false;
  std::unique_ptr<HostStream> defaultStream_;
  std::thread thread_;  // last: started once the rest is constructed
};

}  // namespace gccl
