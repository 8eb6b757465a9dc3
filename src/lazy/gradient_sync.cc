#include "lazy/gradient_sync.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

#include "base/error.h"
#include "core/collective_call.h"
#include "fp16/codec.h"
#include "lazy/sync_agreement.h"
#include "reduce/non_finite.h"
#include "reduce/reduce.h"
#include "sparse/chunk_select.h"

namespace gccl {

namespace {

constexpr size_t kMaxAlignment = 4096;
constexpr size_t kPoolAlignment = 64;  // at least a cache line, whatever the tensors ask for
// Copy mode's host buffers may be pinned (announceHostBuffer), which works in whole pages: each
// then has pages of its own, shared with no other allocation.
constexpr size_t kPageBytes = 4096;

// From this many bytes of dense full-precision results in a step, each rank scans only its
// share of them for inf/NaN and one 2-byte allreduce combines the flags: that allreduce costs
// tens of microseconds, a core scans a megabyte in about a hundred, and sharing saves n - 1 of
// n scans on every rank. Below it every rank scans all: one collective per bucket, no more
// (outside copy mode, which combines the flags whatever the size: combinesFlags).
constexpr size_t kShareScanMinBytes = 1 << 20;

}  // namespace

void checkOptions(const GradientSyncOptions& options) {
  const size_t a = options.alignment;
  if (a == 0 || a > kMaxAlignment || (a & (a - 1)) != 0) {
    fail(Status::kInvalidArgument, "gradient sync alignment ", a,
         " must be a power of 2 in [1, 4096]");
  }
  if (options.preDivide && !options.average) {
    fail(Status::kInvalidArgument, "gradient sync preDivide needs average (it divides by nranks)");
  }
  if (static_cast<bool>(options.encodeIn) != static_cast<bool>(options.decodeOut) ||
      static_cast<bool>(options.announceHostBuffer) !=
          static_cast<bool>(options.withdrawHostBuffer)) {
    fail(Status::kInvalidArgument,
         "gradient sync hooks come in pairs: encodeIn with decodeOut, announceHostBuffer with ",
         "withdrawHostBuffer");
  }
  checkSparseOptions(options.sparse);
}

GradientSync::GradientSync(int rank, int size, WaitPolicy waits, const GradientSyncOptions& options)
    : rank_(rank), size_(size), waits_(waits), options_(options) {
  checkOptions(options);
}

GradientSync::~GradientSync() {
  waitStarted();
  if (finalized_ && options_.copyMode && options_.withdrawHostBuffer) {
    options_.withdrawHostBuffer(pool_.data(), pool_.size());
    options_.withdrawHostBuffer(wire_.data(), wire_.size());
  }
}

std::string GradientSync::describe(size_t tensor) const {
  if (names_[tensor].empty()) return strCat("tensor ", tensor);
  return strCat("tensor ", tensor, " ('", names_[tensor], "')");
}

void GradientSync::requireFinalized(const char* call) const {
  if (!finalized_) {
    fail(Status::kInvalidUsage, "gradient sync on rank ", rank_, ": ", call, " before finalize");
  }
}

size_t GradientSync::registerTensor(const std::string& name, size_t count, DataType type) {
  std::lock_guard lock(mutex_);
  const size_t index = tensors_.size();
  if (finalized_) {
    fail(Status::kInvalidUsage, "gradient sync on rank ", rank_, ": registering tensor ", index,
         name.empty() ? "" : strCat(" ('", name, "')"), " after finalize");
  }
  if (count > std::numeric_limits<size_t>::max() / dataTypeSize(type)) {
    fail(Status::kInvalidArgument, "gradient sync on rank ", rank_, ": tensor ", index, " count ",
         count, " overflows its byte size");
  }
  if (!name.empty() && !usedNames_.insert(name).second) {
    const size_t first = std::find(names_.begin(), names_.end(), name) - names_.begin();
    fail(Status::kInvalidArgument, "gradient sync on rank ", rank_, ": '", name,
         "' is already registered as tensor ", first);
  }
  tensors_.push_back({count, type});
  names_.push_back(name);
  exempt_.push_back(false);
  return index;
}

void GradientSync::setExempt(size_t index) {
  std::lock_guard lock(mutex_);
  if (finalized_) {
    fail(Status::kInvalidUsage, "gradient sync on rank ", rank_, ": setExempt after finalize");
  }
  if (index >= tensors_.size()) {
    fail(Status::kInvalidArgument, "gradient sync on rank ", rank_, ": setExempt of unknown ",
         "tensor index ", index, " (", tensors_.size(), " registered)");
  }
  exempt_[index] = true;
}

// A chunk is exempt when any element of an exempt tensor lies in it (chunks are over the
// bucket, padding included, so a chunk may straddle two tensors).
void GradientSync::makeSparseBuckets() {
  sparse_.clear();
  sparse_.resize(buckets_.size());
  if (!options_.sparse.enabled) return;
  const size_t chunk = options_.sparse.chunkElements;
  for (size_t b = 0; b < buckets_.size(); ++b) {
    const Bucket& bucket = buckets_[b];
    if (bucket.type != DataType::kFloat32 || bucket.count == 0) continue;
    std::vector<bool> exempt(chunkCount(bucket.count, chunk), false);
    for (size_t t = bucket.firstTensor; t < bucket.endTensor; ++t) {
      if (!exempt_[t] || tensors_[t].count == 0) continue;
      const size_t first = (layout_.offsets[t] - bucket.offset) / sizeof(float);
      const size_t last = first + tensors_[t].count - 1;
      for (size_t c = first / chunk; c <= last / chunk; ++c) exempt[c] = true;
    }
    sparse_[b] = std::make_unique<SparseBucket>(bucket.count, options_.sparse, std::move(exempt));
  }
}

void GradientSync::finalize(size_t maxBucketBytes) {
  std::lock_guard lock(mutex_);
  if (finalized_) fail(Status::kInvalidUsage, "gradient sync on rank ", rank_, ": finalized twice");
  // From scratch: an earlier call may have failed half-way (out of memory) and left some.
  wireOffsets_.clear();
  bucketOf_.clear();
  layout_ = layoutPool(tensors_, options_.alignment);
  buckets_ = planBuckets(tensors_, layout_, options_.thetaBytes);
  for (size_t b = 0; b < buckets_.size(); ++b) {
    const Bucket& bucket = buckets_[b];
    const size_t bytes = bucket.count * dataTypeSize(wireType(options_.wire, bucket.type));
    if (bytes > maxBucketBytes) {
      fail(Status::kInvalidArgument, "gradient sync on rank ", rank_, ": bucket ", b, " (tensors ",
           bucket.firstTensor, " to ", bucket.endTensor - 1, ") would move ", bytes,
           " bytes in one collective, more than the ", maxBucketBytes,
           " this communicator takes: lower the bucket threshold (bucketBytes) or raise "
           "GCCL_CHUNK_BYTES");
    }
  }
  const size_t bufferAlignment = options_.copyMode ? kPageBytes : kPoolAlignment;
  // What the buckets' allreduces read, in shareable memory where shm peers can read it in
  // place: the pool, and the 16-bit copies of compressed buckets. In copy mode too: the GPU's
  // copies need them pinned, which the C API does to shareable memory as to any other.
  const bool shareable = options_.shareablePool;
  pool_ = AlignedBuffer(layout_.bytes, std::max(options_.alignment, bufferAlignment), shareable);
  size_t wireBytes = 0;
  for (const Bucket& bucket : buckets_) {
    wireOffsets_.push_back(wireBytes);
    if (halfFormatFor(options_.wire, bucket.type)) wireBytes += bucket.count * 2;
  }
  wire_ = AlignedBuffer(wireBytes, bufferAlignment, shareable && wireBytes > 0);
  for (size_t b = 0; b < buckets_.size(); ++b) {
    bucketOf_.insert(bucketOf_.end(), buckets_[b].endTensor - buckets_[b].firstTensor, b);
  }
  makeSparseBuckets();
  agreement_ = syncAgreement(options_, tensors_, exempt_);
  countDenseAverages();
  tracker_ = ReadyTracker(buckets_, tensors_.size());
  requests_.resize(buckets_.size());
  sentSparse_.assign(buckets_.size(), false);
  copyTargets_.assign(tensors_.size(), nullptr);
  encodedIn_.assign(tensors_.size(), false);
  copiesIn_.assign(tensors_.size(), nullptr);
  copiesOut_.assign(tensors_.size(), nullptr);
  finalized_ = true;
  if (options_.copyMode && options_.announceHostBuffer) {
    options_.announceHostBuffer(pool_.data(), pool_.size());
    options_.announceHostBuffer(wire_.data(), wire_.size());
  }
}

std::byte* GradientSync::pool() const {
  std::lock_guard lock(mutex_);
  requireFinalized("pool");
  return pool_.data();
}

size_t GradientSync::poolBytes() const {
  std::lock_guard lock(mutex_);
  requireFinalized("poolBytes");
  return layout_.bytes;
}

std::byte* GradientSync::tensorData(size_t index) const {
  std::lock_guard lock(mutex_);
  requireFinalized("tensor view");
  requireTensor(index);
  return pool_.data() + layout_.offsets[index];
}

size_t GradientSync::tensorBytes(size_t index) const {
  std::lock_guard lock(mutex_);
  requireTensor(index);
  return tensors_[index].count * dataTypeSize(tensors_[index].type);
}

void GradientSync::requireTensor(size_t index) const {
  if (index >= tensors_.size()) {
    fail(Status::kInvalidArgument, "gradient sync on rank ", rank_, ": unknown tensor index ",
         index, " (", tensors_.size(), " registered)");
  }
}

std::vector<Bucket> GradientSync::buckets() const {
  std::lock_guard lock(mutex_);
  requireFinalized("buckets");
  return buckets_;
}

void GradientSync::markReady(Communicator& comm, size_t index, void* buffer) {
  std::lock_guard lock(mutex_);
  requireFinalized("markReady");
  if (index >= tensors_.size()) {
    fail(Status::kInvalidArgument, "gradient sync on rank ", rank_, ": markReady of unknown ",
         "tensor index ", index, " (", tensors_.size(), " registered)");
  }
  if (tracker_.isReady(index)) {
    fail(Status::kInvalidUsage, "gradient sync on rank ", rank_, ": ", describe(index),
         " marked ready twice in step ", step_);
  }
  std::byte* view = pool_.data() + layout_.offsets[index];
  const size_t bytes = tensors_[index].count * dataTypeSize(tensors_[index].type);
  if (options_.copyMode) {
    if (buffer == nullptr && bytes > 0) {
      fail(Status::kInvalidArgument, "gradient sync on rank ", rank_, ": ", describe(index),
           " marked ready without its buffer (copy mode)");
    }
    if (bytes > 0) copyIn(index, buffer);
    copyTargets_[index] = buffer;
  } else if (buffer != nullptr && buffer != view) {
    fail(Status::kInvalidArgument, "gradient sync on rank ", rank_, ": ", describe(index),
         " marked ready with a buffer other than its pool view (view mode)");
  }
  tracker_.markReady(index);
  // In plan order only: a ready bucket behind an unready one waits (ready_tracker.h).
  while (const auto bucket = tracker_.nextStartable()) {
    requests_[*bucket] = startBucket(comm, *bucket);
    tracker_.started();
  }
}

float GradientSync::encodeScale() const {
  return options_.preDivide ? 1.0f / static_cast<float>(size_) : 1.0f;
}

std::byte* GradientSync::wireOf(size_t b, size_t t) const {
  const size_t element = (layout_.offsets[t] - buckets_[b].offset) / sizeof(float);
  return wire_.data() + wireOffsets_[b] + element * 2;
}

bool GradientSync::anyEncodedIn(size_t b) const {
  const Bucket& bucket = buckets_[b];
  return std::any_of(encodedIn_.begin() + static_cast<ptrdiff_t>(bucket.firstTensor),
                     encodedIn_.begin() + static_cast<ptrdiff_t>(bucket.endTensor),
                     [](bool encoded) { return encoded; });
}

void GradientSync::copyIn(size_t t, const void* buffer) {
  const size_t b = bucketOf_[t];
  const auto half = halfFormatFor(options_.wire, buckets_[b].type);
  // A sparse bucket keeps its fp32 residual in the pool: its tensors always come through it.
  if (half && sparse_[b] == nullptr && options_.encodeIn) {
    if (auto wait =
            options_.encodeIn(wireOf(b, t), buffer, tensors_[t].count, *half, encodeScale())) {
      encodedIn_[t] = true;
      copiesIn_[t] = std::move(*wait);
      return;
    }
  }
  std::byte* view = pool_.data() + layout_.offsets[t];
  const size_t bytes = tensors_[t].count * dataTypeSize(tensors_[t].type);
  if (options_.copyIn) {
    copiesIn_[t] = options_.copyIn(view, buffer, bytes);
  } else {
    std::memcpy(view, buffer, bytes);
  }
}

// Every copy is waited for before the first failure is thrown: their buffers must outlive them.
void GradientSync::waitForCopies(std::vector<CopyWait>& copies, size_t first, size_t end,
                                 const char* direction) {
  std::optional<Error> failure;
  for (size_t t = first; t < end; ++t) {
    if (!copies[t]) continue;
    const CopyWait wait = std::move(copies[t]);
    copies[t] = nullptr;
    try {
      wait();
    } catch (const std::exception& e) {
      if (failure) continue;
      failure.emplace(errorOf(e).status(),
                      strCat("gradient sync on rank ", rank_, " step ", step_, ": copying ",
                             describe(t), " ", direction, ": ", e.what()));
    }
  }
  if (failure) throw *failure;
}

void GradientSync::finishCopiesIn(size_t first, size_t end) {
  waitForCopies(copiesIn_, first, end, "in");
}

void GradientSync::copyOut(size_t b, size_t t) {
  const size_t bytes = tensors_[t].count * dataTypeSize(tensors_[t].type);
  if (bytes == 0) return;
  if (encodedIn_[t]) {
    copiesOut_[t] = options_.decodeOut(copyTargets_[t], wireOf(b, t), tensors_[t].count,
                                       *halfFormatFor(options_.wire, buckets_[b].type));
    return;
  }
  const std::byte* view = pool_.data() + layout_.offsets[t];
  if (options_.copyOut) {
    copiesOut_[t] = options_.copyOut(copyTargets_[t], view, bytes);
  } else {
    std::memcpy(copyTargets_[t], view, bytes);
  }
}

void GradientSync::encodeBucket(size_t b, HalfFormat half, float scale) {
  const Bucket& bucket = buckets_[b];
  if (!anyEncodedIn(b)) {
    encode(half, wire_.data() + wireOffsets_[b],
           reinterpret_cast<const float*>(pool_.data() + bucket.offset), bucket.count, scale);
    return;
  }
  // Around the tensors encodeIn wrote. The padding between tensors stays 0 on the wire: wire_
  // starts zeroed, a whole-bucket encode writes the pool's zeros there, and zeros sum to 0.
  for (size_t t = bucket.firstTensor; t < bucket.endTensor; ++t) {
    if (encodedIn_[t]) continue;
    encode(half, wireOf(b, t), reinterpret_cast<const float*>(pool_.data() + layout_.offsets[t]),
           tensors_[t].count, scale);
  }
}

void GradientSync::decodeBucket(size_t b, HalfFormat half, bool* nonFinite) {
  const Bucket& bucket = buckets_[b];
  if (!anyEncodedIn(b)) {
    decode(half, reinterpret_cast<float*>(pool_.data() + bucket.offset),
           wire_.data() + wireOffsets_[b], bucket.count, nonFinite);
    return;
  }
  // A tensor encodeIn wrote is decoded by decodeOut, into its own buffer; here it is only
  // checked, on its 16-bit values.
  const DataType type = wireType(options_.wire, bucket.type);
  for (size_t t = bucket.firstTensor; t < bucket.endTensor; ++t) {
    if (!encodedIn_[t]) {
      decode(half, reinterpret_cast<float*>(pool_.data() + layout_.offsets[t]), wireOf(b, t),
             tensors_[t].count, nonFinite);
    } else if (hasNonFinite(type, wireOf(b, t), tensors_[t].count)) {
      *nonFinite = true;
    }
  }
}

// A bucket that fails to start fails the rest of the step: a retry would send what a failed
// copy left, or repeat on this rank alone what the start had done (the residual's update, a
// pre-division, the norms' allreduce). The peers' allreduces of it would wait for a timeout,
// so they are failed now, by aborting the communicator.
std::shared_ptr<Request> GradientSync::startBucket(Communicator& comm, size_t b) {
  if (failedStart_) throw *failedStart_;
  try {
    return launchBucket(comm, b);
  } catch (const std::exception& e) {
    failedStart_.emplace(errorOf(e));
    comm.abort(strCat(e.what(), " (bucket ", b, " cannot start)"));
    throw *failedStart_;
  }
}

std::shared_ptr<Request> GradientSync::launchBucket(Communicator& comm, size_t b) {
  const Bucket& bucket = buckets_[b];
  finishCopiesIn(bucket.firstTensor, bucket.endTensor);
  std::byte* data = pool_.data() + bucket.offset;
  // Sparse after the warm-up, counted in steps ended by wait() or reset(): the same on every
  // rank. Synchronous norms phase, asynchronous payload (sparse_exchange.h).
  sentSparse_[b] = sendsSparse(b);
  if (sentSparse_[b]) {
    return sparse_[b]->start(comm, reinterpret_cast<const float*>(data), options_.average, waits_,
                             agreement_);
  }
  // Pre-division makes the allreduce a plain sum of terms already divided by n: a loss-scaled
  // fp16 sum then stays in range where the sum of the undivided terms would overflow. Not for
  // integers: each term divided first would lose its remainder.
  const bool preDivide = options_.preDivide && isFloatingPoint(bucket.type);
  const ReduceOp op = options_.average && !preDivide ? ReduceOp::kAvg : ReduceOp::kSum;
  if (const auto half = halfFormatFor(options_.wire, bucket.type)) {
    std::byte* wire = wire_.data() + wireOffsets_[b];
    encodeBucket(b, *half, encodeScale());
    CollectiveCall call =
        allreduceCall(wire, wire, bucket.count, wireType(options_.wire, bucket.type), op);
    call.agreement = agreement_;
    return comm.start(call, false);
  }
  if (preDivide) finalizeAverage(bucket.type, data, bucket.count, size_);
  CollectiveCall call = allreduceCall(data, data, bucket.count, bucket.type, op);
  call.agreement = agreement_;
  call.findNonFinite = engineFindsNonFinite(b);
  return comm.start(call, false);
}

void GradientSync::finishBucket(size_t b, StepStats& stats, bool byShares) {
  const Bucket& bucket = buckets_[b];
  std::byte* data = pool_.data() + bucket.offset;
  const DataType onWire = wireType(options_.wire, bucket.type);
  if (sentSparse_[b]) {
    sparse_[b]->finish(reinterpret_cast<float*>(data), &stats.nonFinite);
    stats.wireBytes += sparse_[b]->sentBytes();
    stats.sparseChunks += sparse_[b]->pickedChunks();
    stats.sparseChunksTotal += sparse_[b]->chunks();
  } else if (const auto half = halfFormatFor(options_.wire, bucket.type)) {
    // Every rank decodes the same 16-bit result (the allgather copies the owner's bits), so
    // every rank's fp32 gradients, and its non-finite flag, are the same.
    decodeBucket(b, *half, &stats.nonFinite);
  } else if (engineFindsNonFinite(b)) {
    if (requests_[b]->nonFinite()) stats.nonFinite = true;  // in what this rank divided
  } else {
    // Every rank holds the same result too, so a share of it is scanned by each rank when
    // wait() combines the flags, else all of it.
    const size_t begin = byShares ? bucket.count * rank_ / size_ : 0;
    const size_t end = byShares ? bucket.count * (rank_ + 1) / size_ : bucket.count;
    const size_t elementSize = dataTypeSize(bucket.type);
    if (hasNonFinite(bucket.type, data + begin * elementSize, end - begin)) {
      stats.nonFinite = true;
    }
  }
  if (!sentSparse_[b]) stats.wireBytes += bucket.count * dataTypeSize(onWire);
  if (!options_.copyMode) return;
  for (size_t t = bucket.firstTensor; t < bucket.endTensor; ++t) copyOut(b, t);
}

bool GradientSync::scanByShares() const {
  if (size_ == 1) return false;
  size_t bytes = 0;
  for (size_t b = 0; b < tracker_.startedCount(); ++b) {
    const Bucket& bucket = buckets_[b];
    if (!sentSparse_[b] && !halfFormatFor(options_.wire, bucket.type) && !engineFindsNonFinite(b)) {
      bytes += bucket.count * dataTypeSize(bucket.type);
    }
  }
  return bytes >= kShareScanMinBytes;
}

Error GradientSync::bucketFailure(size_t b) const {
  const Request& request = *requests_[b];
  // A mismatch is kInvalidUsage, and so is an abort: only the first says "mismatched
  // collective" (checkFrame, transport/frame.cc).
  if (request.status() != Status::kInvalidUsage ||
      request.message().find("mismatched collective") == std::string::npos) {
    return Error(request.status(), request.message());
  }
  return Error(Status::kInvalidUsage,
               strCat(request.message(), " (bucket ", b, " of the gradient sync on rank ", rank_,
                      ": every rank must register the same tensors, in the same order, with the "
                      "same config)"));
}

bool GradientSync::afterWarmup() const {
  return step_ >= options_.sparse.warmupSteps;
}

bool GradientSync::sendsSparse(size_t b) const {
  return goesSparse(b, afterWarmup());
}

bool GradientSync::goesSparse(size_t b, bool pastWarmup) const {
  return sparse_[b] != nullptr && pastWarmup;
}

bool GradientSync::dividesDense(size_t b, bool pastWarmup) const {
  const DataType type = buckets_[b].type;
  return !goesSparse(b, pastWarmup) && !halfFormatFor(options_.wire, type) &&
         isFloatingPoint(type) && options_.average && !options_.preDivide;
}

bool GradientSync::engineFindsNonFinite(size_t b) const {
  const bool pastWarmup = afterWarmup();
  return size_ > 1 && dividesDense(b, pastWarmup) &&
         denseAverageBytes_[pastWarmup ? 1 : 0] >= kShareScanMinBytes;
}

void GradientSync::countDenseAverages() {
  for (const bool pastWarmup : {false, true}) {
    size_t& bytes = denseAverageBytes_[pastWarmup ? 1 : 0];
    bytes = 0;
    for (size_t b = 0; b < buckets_.size(); ++b) {
      if (dividesDense(b, pastWarmup)) bytes += buckets_[b].count * dataTypeSize(buckets_[b].type);
    }
  }
}

bool GradientSync::combinesFlags(bool byShares) const {
  if (byShares || (options_.copyMode && size_ > 1)) return true;
  for (size_t b = 0; b < tracker_.startedCount(); ++b) {
    if (engineFindsNonFinite(b)) return true;
  }
  return false;
}

GradientSync::StepAgreement GradientSync::agree(Communicator* comm, bool nonFinite,
                                                bool failed) const {
  if (comm == nullptr) {
    fail(Status::kInvalidUsage, "gradient sync on rank ", rank_, " step ", step_,
         ": the communicator was destroyed (or aborted) before wait, so the ranks' non-finite "
         "flags could not be combined");
  }
  std::array<uint8_t, 2> flags{nonFinite ? uint8_t{1} : uint8_t{0},
                               failed ? uint8_t{1} : uint8_t{0}};
  const auto request =
      comm->allreduce(flags.data(), flags.data(), flags.size(), DataType::kUint8, ReduceOp::kMax);
  request->wait(waits_);
  if (request->status() != Status::kSuccess) {
    fail(request->status(), "gradient sync on rank ", rank_, " step ", step_,
         ": combining the non-finite flags: ", request->message());
  }
  return {flags[0] != 0, flags[1] != 0};
}

StepStats GradientSync::wait(Communicator* comm) {
  std::lock_guard lock(mutex_);
  requireFinalized("wait");
  // After a failed start the framework may stop marking (its hook raised): that error ends
  // the step, rather than a wait that can never be satisfied.
  const auto missing = tracker_.firstMissing();
  if (missing && !failedStart_) {
    fail(Status::kInvalidUsage, "gradient sync on rank ", rank_, ": wait in step ", step_,
         " before ", describe(*missing), " was marked ready");
  }
  StepStats stats;
  stats.buckets = buckets_.size();
  const bool byShares = scanByShares();
  std::optional<Error> failure = failedStart_;
  // Anything thrown is caught: the later buckets, the copies out and the other ranks' combine
  // must still be waited for and joined, whatever went wrong here.
  const auto record = [&](const std::exception& e) {
    if (!failure) failure.emplace(errorOf(e));
  };
  for (size_t b = 0; b < tracker_.startedCount(); ++b) {
    requests_[b]->wait(waits_);
    if (requests_[b]->status() != Status::kSuccess) {
      if (!failure) failure.emplace(bucketFailure(b));
      continue;
    }
    // Also after a failure elsewhere: the result is good, and this rank's share of the flags
    // is part of every rank's answer.
    try {
      finishBucket(b, stats, byShares);
    } catch (const std::exception& e) {
      record(e);  // a failed copy out (a device buffer) fails the step like a failed allreduce
    }
  }
  try {
    waitForCopies(copiesOut_, 0, copiesOut_.size(), "out");
  } catch (const std::exception& e) {
    record(e);
  }
  // Joined whatever failed here, the failure included: a rank that left it out would leave
  // the others waiting, and one that failed alone would see the others take the step.
  if (combinesFlags(byShares)) {
    try {
      const StepAgreement agreed = agree(comm, stats.nonFinite, failure.has_value());
      stats.nonFinite = agreed.nonFinite;
      if (agreed.failed && !failure) {
        failure.emplace(Status::kRemoteError,
                        strCat("gradient sync on rank ", rank_, " step ", step_,
                               ": the step failed on another rank (its error says why), so "
                               "every rank fails it"));
      }
    } catch (const std::exception& e) {
      record(e);
    }
  }
  const bool allStarted = tracker_.startedCount() == buckets_.size();
  const uint64_t step = step_;
  try {
    finishCopiesIn(0, tensors_.size());  // those of a bucket that failed to start
  } catch (const Error&) {
    // That bucket's own failure is the one reported below.
  }
  endStep();
  if (failure) throw *failure;
  if (!allStarted) {
    fail(Status::kInvalidUsage, "gradient sync on rank ", rank_, ": step ", step,
         " abandoned: a bucket failed to start in markReady (see its error)");
  }
  return stats;
}

uint64_t GradientSync::stepsEnded() const {
  std::lock_guard lock(mutex_);
  return step_;
}

void GradientSync::failStep(const Error& error) {
  std::lock_guard lock(mutex_);
  if (finalized_ && !failedStart_) failedStart_.emplace(error);
}

void GradientSync::reset() {
  std::lock_guard lock(mutex_);
  if (!finalized_) return;
  waitStarted();
  endStep();
  for (const auto& sparse : sparse_) {
    if (sparse) sparse->clearResidual();
  }
}

size_t GradientSync::bucketsCompleted() const {
  std::lock_guard lock(mutex_);
  size_t completed = 0;
  for (size_t b = 0; b < tracker_.startedCount(); ++b) {
    if (requests_[b] != nullptr && requests_[b]->isDone()) ++completed;
  }
  return completed;
}

std::vector<float> GradientSync::sparseResidual(size_t b) const {
  std::lock_guard lock(mutex_);
  requireFinalized("sparseResidual");
  if (b >= sparse_.size() || !sparse_[b]) return {};
  return sparse_[b]->residual();
}

void GradientSync::waitStarted() {
  for (size_t b = 0; b < tracker_.startedCount(); ++b) requests_[b]->wait(waits_);
  try {
    finishCopiesIn(0, copiesIn_.size());
  } catch (const Error&) {
    // Abandoned with the step: only their buffers mattered, and they are free again now.
  }
}

void GradientSync::endStep() {
  tracker_.reset();
  std::fill(requests_.begin(), requests_.end(), nullptr);
  std::fill(copyTargets_.begin(), copyTargets_.end(), nullptr);
  std::fill(encodedIn_.begin(), encodedIn_.end(), false);
  failedStart_.reset();
  ++step_;
}

}  // namespace gccl
