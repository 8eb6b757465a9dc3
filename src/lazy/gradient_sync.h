// Lazy allreduce of a model's gradients (docs/api.md, "Gradient sync"): the framework registers
// its gradients in backward order, gets views into one contiguous pool (or, in copy mode, keeps
// its own memory and gccl copies through the pool), and marks each gradient ready as backward
// writes it. A bucket of the static plan (bucket_plan.h) starts as an asynchronous allreduce as
// soon as its gradients and every earlier bucket are ready, so communication overlaps the rest
// of backward; wait() returns when every bucket is reduced.
//
//   backward:  g7 g6 g5 g4 g3 g2 g1 g0          markReady(i) as each gradient is written
//   buckets:   [  b0  ][  b1   ][ b2 ]          b0 starts when g7..g6 are ready, b1 after b0 ...
//   wire:         ~~~b0~~~ ~~~b1~~~ ~~b2~~      wait(): decode, flag non-finite, copy out
//
// One object serves one communicator; calls are serialised by a mutex, so markReady may come
// from several backward threads. Every rank must register the same tensors in the same order
// (a difference fails the first mismatched bucket with kInvalidUsage on the ranks involved).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/config.h"
#include "base/dtype.h"
#include "base/error.h"
#include "core/communicator.h"
#include "core/request.h"
#include "lazy/aligned_buffer.h"
#include "lazy/bucket_plan.h"
#include "lazy/ready_tracker.h"
#include "lazy/sparse_exchange.h"
#include "lazy/wire_format.h"

namespace gccl {

// How copy mode moves a tensor between the framework's buffer and the pool (dst, src, bytes):
// memcpy when empty. The C API's copies stage device buffers through the communicator's
// copy engine, which this layer does not know.
//
// A copy may still be running when it returns: it then returns how to wait for it (which
// throws if the copy failed). A copy in is waited for before the tensor's bucket starts, so
// that markReady returns while the copy waits for the GPU and the copies of a bucket's tensors
// overlap; the copies out of a step all run at once and wait() waits for them before it
// returns.
using CopyWait = std::function<void()>;  // empty: the copy is done
using TensorCopy = std::function<CopyWait(void*, const void*, size_t)>;
// Copy mode, for an fp32 tensor in a bucket that travels as 16-bit values: moves the
// framework's tensor straight into the bucket's wire copy (wire, buffer, count, format, scale:
// wire[i] = round(buffer[i] * scale)), so that a device converts it before the copy. The wait
// when it did (the way back is then HalfCopyOut); nullopt to take copyIn through the pool
// instead.
using HalfCopyIn =
    std::function<std::optional<CopyWait>(void*, const void*, size_t, HalfFormat, float)>;
// The way back of a tensor HalfCopyIn took: buffer[i] = widen(wire[i]) (buffer, wire, count,
// format).
using HalfCopyOut = std::function<CopyWait(void*, const void*, size_t, HalfFormat)>;
// Copy mode: the host buffers the copies write (the pool, the wire buffer; pointer, bytes),
// announced by finalize() and withdrawn before they are freed, so that the copies' owner may
// pin them (a GPU's copy into memory that is not pinned makes the caller wait for it).
using HostBufferNotice = std::function<void(std::byte*, size_t)>;

struct GradientSyncOptions {
  size_t thetaBytes = size_t{25} << 20;  // bucket threshold (bucket_plan.h); 0: one per tensor
  size_t alignment = 64;                 // of every tensor's offset in the pool; a power of 2
  WireFormat wire = WireFormat::kNone;   // fp32 buckets on the wire as fp16 / bf16
  bool average = true;                   // divide the sum by the rank count
  bool preDivide = false;                // divide before the allreduce (needs average)
  bool copyMode = false;                 // the framework's buffers, copied in and out
  TensorCopy copyIn;                     // buffer -> pool, from markReady
  TensorCopy copyOut;                    // pool -> buffer, in wait
  HalfCopyIn encodeIn;                   // buffer -> wire, from markReady; empty: never
  HalfCopyOut decodeOut;                 // wire -> buffer, in wait
  HostBufferNotice announceHostBuffer;   // at finalize; empty: none
  HostBufferNotice withdrawHostBuffer;   // before freeing (bytes as announced)
  SparseOptions sparse;                  // fp32 buckets sparse with error feedback
  // The pool and the wire buffer in shareable memory (base/shareable_memory.h), which shm
  // peers read zero-copy: for a communicator with a peer that maps it
  // (Communicator::hasZeroCopyPeers). In copy mode too: the C API pins them for the GPU.
  bool shareablePool = false;
};

// Throws Error(kInvalidArgument) for an alignment that is not a power of 2 in [1, 4096], or
// preDivide without average, and for bad sparse options (checkSparseOptions).
void checkOptions(const GradientSyncOptions& options);

// What one step did, the same on every rank.
struct StepStats {
  size_t wireBytes = 0;  // bytes this rank handed to allreduce, in the wire format
  size_t buckets = 0;    // buckets reduced (a sparse one issues two allreduces: norms, payload)
  bool nonFinite = false;
  size_t sparseChunks = 0;       // chunks sent by the sparse buckets (0 in dense steps)
  size_t sparseChunksTotal = 0;  // chunks of the sparse buckets
};

class GradientSync {
 public:
  // `rank`, `size` and `waits` are the communicator's that markReady() will be given.
  GradientSync(int rank, int size, WaitPolicy waits, const GradientSyncOptions& options);
  // Waits for the buckets still in flight (the engine writes into the pool until they finish)
  // and the copies in, then withdraws the host buffers announced.
  ~GradientSync();
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  // The next tensor in backward order; returns its index. `name` may be empty; a non-empty one
  // must be new (kInvalidArgument). After finalize(): kInvalidUsage.
  size_t registerTensor(const std::string& name, size_t count, DataType type);
  // Sparse mode: tensor `index` is always sent whole (biases, norms). Before finalize()
  // (kInvalidUsage after); kInvalidArgument for an unknown index. Every rank must agree.
  void setExempt(size_t index);
  // Lays out the pool and plans the buckets. Once (kInvalidUsage after that).
  // kInvalidArgument, before anything is allocated (it can be retried), for a bucket that
  // moves more than `maxBucketBytes` in one collective: the communicator's bound
  // (maxSlicesPerCollective slices of GCCL_CHUNK_BYTES), which its first markReady would
  // otherwise meet mid-step.
  void finalize(size_t maxBucketBytes = SIZE_MAX);

  // After finalize() (kInvalidUsage before).
  std::byte* pool() const;
  size_t poolBytes() const;
  std::byte* tensorData(size_t index) const;  // kInvalidArgument for an unknown index
  size_t tensorBytes(size_t index) const;     // likewise
  std::vector<Bucket> buckets() const;

  // Tensor `index` is written. Copy mode: `buffer` is the framework's tensor, copied into the
  // pool now and the result copied back in wait(); it must stay valid until then. View mode:
  // `buffer` is null or the tensor's view. Starts every bucket that became startable, on
  // `comm`. kInvalidUsage before finalize() or for a tensor already ready this step;
  // kInvalidArgument for an unknown index or a bad buffer.
  void markReady(Communicator& comm, size_t index, void* buffer = nullptr);
  // Waits for every bucket, finishes them (decode, non-finite flag, copy out) and starts a new
  // step. kInvalidUsage, changing nothing, while a tensor is not ready, unless a bucket failed
  // to start (markReady threw): that error then ends the step. A failed allreduce is rethrown
  // (after every bucket has finished, the step then is over too). `comm` is the step's
  // communicator, or null once it is gone (destroyed): where the ranks combine their flags
  // (combinesFlags) the step then fails. A step that fails on one rank while they combine
  // fails on every rank (kRemoteError on the others).
  StepStats wait(Communicator* comm);
  // The step's communicator can run no more of it (aborted, destroyed): wait() then ends the
  // step with `error` instead of refusing to wait for tensors that can no longer be marked.
  // Before finalize(), or after an earlier failure of the step, nothing changes.
  void failStep(const Error& error);
  // Steps ended so far, by wait() (with or without an error) or reset().
  uint64_t stepsEnded() const;
  // Abandons the step: waits for the buckets in flight and forgets which tensors were ready;
  // clears the sparse residuals (the warm-up is not repeated).
  void reset();
  // Sparse mode: a copy of bucket `b`'s residual V (empty for a dense bucket). For tests.
  std::vector<float> sparseResidual(size_t b) const;
  // Buckets of this step whose allreduce has completed, wait() or not: how far communication
  // has got while backward runs (tests of the overlap, progress displays).
  size_t bucketsCompleted() const;

 private:
  std::string describe(size_t tensor) const;
  void requireFinalized(const char* call) const;
  void requireTensor(size_t index) const;  // lock held
  std::shared_ptr<Request> startBucket(Communicator& comm, size_t bucket);
  std::shared_ptr<Request> launchBucket(Communicator& comm, size_t bucket);  // startBucket's work
  // Copy mode: tensor `index` from `buffer` into the pool, or encoded into its wire copy.
  void copyIn(size_t index, const void* buffer);
  void copyOut(size_t bucket, size_t tensor);
  // Waits for the copies in of tensors [first, end) still running; throws the first failure
  // after waiting for them all.
  void finishCopiesIn(size_t first, size_t end);
  // Waits for tensors [first, end)'s copies still running in `copies`; throws the first
  // failure, naming the tensor, once every one finished.
  void waitForCopies(std::vector<CopyWait>& copies, size_t first, size_t end,
                     const char* direction);
  // fp32 -> 16 bits for the bucket's tensors that encodeIn did not take, or the other way.
  void encodeBucket(size_t bucket, HalfFormat half, float scale);
  void decodeBucket(size_t bucket, HalfFormat half, bool* nonFinite);
  std::byte* wireOf(size_t bucket, size_t tensor) const;  // the tensor's 16-bit copy
  float encodeScale() const;                              // 1/n with pre-division
  bool anyEncodedIn(size_t bucket) const;
  // `byShares`: scan a dense full-precision result for inf/NaN only in this rank's share.
  void finishBucket(size_t bucket, StepStats& stats, bool byShares);
  // A bucket's failed collective as wait() reports it; a mismatch (kInvalidUsage) names what
  // the ranks' gradient syncs must share (sync_agreement.h).
  Error bucketFailure(size_t bucket) const;
  // Whether this step is past the sparse warm-up: the same on every rank.
  bool afterWarmup() const;
  // Whether `bucket` goes sparse in this step, or in a step in the warm-up or past it: the
  // same on every rank.
  bool sendsSparse(size_t bucket) const;
  bool goesSparse(size_t bucket, bool pastWarmup) const;
  // Whether `bucket` is a dense full-precision average, divided after the sum, in a step in
  // the warm-up or past it.
  bool dividesDense(size_t bucket, bool pastWarmup) const;
  // Whether the engine looks for inf/NaN in `bucket` while it divides: in the cache, with no
  // pass of its own, but each rank sees only what it divided, so the ranks' flags are then
  // combined. For the dense averages of a step that together reach kShareScanMinBytes (below,
  // every rank scans all and no collective is added). The same on every rank.
  bool engineFindsNonFinite(size_t bucket) const;
  // denseAverageBytes_, at finalize: O(buckets) once, not per call.
  void countDenseAverages();
  // Whether this step scans its other dense full-precision results by shares, one per rank,
  // and combines the ranks' flags: where they are large enough for that to pay. The same on
  // every rank (it depends on the plan and the step only).
  bool scanByShares() const;
  // Whether wait() ends with the ranks combining their non-finite and failure flags: when
  // each rank saw a part (by shares, or what the engine divided), and in copy mode, where a
  // copy out can fail on one rank alone. The same on every rank (the config must be).
  bool combinesFlags(bool byShares) const;
  // Every rank's non-finite flag and whether its step failed, each ORed over the ranks on
  // `comm` (kInvalidUsage for null): the ranks then skip, or fail, the same steps.
  struct StepAgreement {
    bool nonFinite;
    bool failed;
  };
  StepAgreement agree(Communicator* comm, bool nonFinite, bool failed) const;
  void makeSparseBuckets();
  void waitStarted();  // and the copies in; ignores failures
  void endStep();

  const int rank_;
  const int size_;
  const WaitPolicy waits_;
  const GradientSyncOptions options_;

  mutable std::mutex mutex_;
  std::vector<TensorSpec> tensors_;
  std::vector<std::string> names_;
  std::set<std::string> usedNames_;
  std::vector<bool> exempt_;  // per tensor
  uint32_t agreement_ = 0;    // syncAgreement: carried by every bucket's first collective
  // Bytes of the buckets for which dividesDense holds, in the warm-up and after it.
  std::array<size_t, 2> denseAverageBytes_{};
  bool finalized_ = false;
  PoolLayout layout_;
  std::vector<Bucket> buckets_;
  AlignedBuffer pool_;
  AlignedBuffer wire_;                                 // 16-bit copies of the compressed buckets
  std::vector<size_t> wireOffsets_;                    // bucket -> byte offset in wire_
  std::vector<size_t> bucketOf_;                       // tensor -> its bucket
  std::vector<std::unique_ptr<SparseBucket>> sparse_;  // per bucket; null: always dense

  // The step.
  uint64_t step_ = 0;
  ReadyTracker tracker_;
  std::vector<std::shared_ptr<Request>> requests_;  // per started bucket
  std::vector<void*> copyTargets_;                  // copy mode: per tensor
  std::vector<bool> encodedIn_;                     // per tensor: taken by encodeIn this step
  std::vector<CopyWait> copiesIn_;                  // per tensor: its copy in, still running
  std::vector<CopyWait> copiesOut_;                 // per tensor, in wait(): likewise
  std::optional<Error> failedStart_;                // fails the rest of the step
  std::vector<bool> sentSparse_;                    // per started bucket, this step
};

}  // namespace gccl
