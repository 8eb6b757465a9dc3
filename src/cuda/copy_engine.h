// Asynchronous copies between device memory and pinned host staging memory, and the caller's
// stream order: all that the staging pipeline (staged_collectives.h) and the stream-ordered
// calls (device_collectives.h) know of a GPU. CudaCopyEngine runs the copies on a CUDA stream;
// HostCopyEngine stands in for it in tests, on machines without a GPU.
//
// Contract: copies may complete in any order. A ticket is settled once: after done() returned
// true or threw, or wait() returned or threw, the ticket is forgotten and must not be asked
// again. Until a copy is settled its buffers must stay alive (the engine may still write them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "fp16/codec.h"

namespace gccl {

using CopyTicket = uint64_t;

class CopyEngine {
 public:
  virtual ~CopyEngine() = default;

  // True when `pointer` is device memory this engine can copy from and to.
  virtual bool isDevice(const void* pointer) const = 0;
  // The CUDA device its streams and pinned memory belong to; -1 for a stand-in.
  virtual int deviceOrdinal() const { return -1; }
  // True when [pointer, pointer + bytes) lies within one allocation of such memory: a range
  // running into a neighbouring allocation, or a gap, would fault the copy.
  virtual bool isDeviceRange(const void* pointer, size_t bytes) const = 0;
  // Pinned host memory for staging (copies from and to it may run asynchronously).
  virtual std::byte* allocateStaging(size_t bytes) = 0;
  virtual void freeStaging(std::byte* staging) = 0;
  // Pins host memory allocated elsewhere, as staging memory is: a copy from the device into
  // memory that is not pinned finishes before copyToHost returns (CUDA's rule for pageable
  // memory). False when it cannot (the memory stays usable, unpinned). Unpin before freeing.
  virtual bool pinHost(void* pointer, size_t bytes) = 0;
  virtual void unpinHost(void* pointer) = 0;

  virtual CopyTicket copyToHost(void* hostDst, const void* deviceSrc, size_t bytes) = 0;
  virtual CopyTicket copyToDevice(void* deviceDst, const void* hostSrc, size_t bytes) = 0;

  // Converting copies, for fp32 gradients that travel as 16-bit values: the device converts,
  // so only half the bytes cross the bus. Bit for bit fp16/codec.h's encode and decode.
  // False from convertsHalf(): this engine cannot (CUDA's without its kernels).
  virtual bool convertsHalf() const = 0;
  // hostDst[i] = round(deviceSrc[i] * scale) in `format` (2 * count bytes).
  virtual CopyTicket encodeToHost(void* hostDst, const float* deviceSrc, size_t count,
                                  HalfFormat format, float scale) = 0;
  // deviceDst[i] = widen(hostSrc[i]).
  virtual CopyTicket decodeToDevice(float* deviceDst, const void* hostSrc, size_t count,
                                    HalfFormat format) = 0;

  // As copyToHost and encodeToHost, started only once the work queued on `stream` so far has
  // finished (see streamReached), without the caller waiting for it: a gradient's copy queued
  // as backward hands it over. They run apart from the other copies (CUDA: on a stream of their
  // own), so a stream that a stream-ordered call holds cannot hold up that call's staging.
  virtual CopyTicket copyToHostAfter(void* stream, void* hostDst, const void* deviceSrc,
                                     size_t bytes) = 0;
  virtual CopyTicket encodeToHostAfter(void* stream, void* hostDst, const float* deviceSrc,
                                       size_t count, HalfFormat format, float scale) = 0;
  // Never blocks: true once the copy finished. Throws Error naming the copy if it failed.
  virtual bool done(CopyTicket ticket) = 0;
  // Blocks until the copy finished; throws like done().
  virtual void wait(CopyTicket ticket) = 0;

  // The caller's stream order. `stream` is a cudaStream_t (null: the legacy default stream)
  // or, for HostCopyEngine, a HostStream.
  // A ticket, settled like a copy's, done once the work queued on `stream` so far has finished.
  virtual CopyTicket streamReached(void* stream) = 0;
  // Makes the work queued on `stream` after this call wait until releaseStreams(h) with
  // h >= `hold`. Holds are made with rising numbers. False when this engine cannot hold a
  // stream (the caller then runs the call before returning).
  virtual bool holdStream(void* stream, uint64_t hold) = 0;
  virtual void releaseStreams(uint64_t through) = 0;
};

// The engine of CUDA device `device`. Throws Error(kSystemError) when gccl was built without
// CUDA or the machine has no such device.
std::unique_ptr<CopyEngine> makeCudaCopyEngine(int device);

}  // namespace gccl
