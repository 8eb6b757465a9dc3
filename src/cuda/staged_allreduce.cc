#include "cuda/staged_allreduce.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "base/error.h"

namespace gccl {

StagingOptions stagingOptionsFrom(const Config& config) {
  StagingOptions options;
  options.sliceBytes = std::min(config.gpuSliceBytes, config.gpuStagingBytes);
  options.slots = std::max<size_t>(1, config.gpuStagingBytes / options.sliceBytes);
  return options;
}

StagingPlan planStaging(size_t count, DataType type, const StagingOptions& options) {
  StagingPlan plan;
  plan.sliceElements = std::max<size_t>(1, options.sliceBytes / dataTypeSize(type));
  plan.slices = (count + plan.sliceElements - 1) / plan.sliceElements;
  return plan;
}

namespace {

// One slice's way through the pipeline; each stage but kStaged waits on one pending step.
enum class Stage {
  kToHost,    // device -> slot copy queued
  kStaged,    // in the slot, waiting for the earlier slices' allreduces to be issued
  kReducing,  // allreduce of the slot running
  kToDevice,  // slot -> device copy queued
  kFinished,  // the slot is free again (or the slice failed and has nothing pending)
};

struct Slice {
  size_t index = 0;
  size_t slot = 0;
  size_t firstElement = 0;
  size_t elements = 0;
  Stage stage = Stage::kToHost;
  CopyTicket ticket = 0;
  std::shared_ptr<Request> request;
};

// The state of one run(): slices in flight (oldest first), free slots, the first error.
class Pipeline {
 public:
  Pipeline(Communicator& comm, CopyEngine& engine, const StagingOptions& options,
           std::byte* staging, const void* input, void* output, size_t count, DataType type,
           ReduceOp op)
      : comm_(comm),
        engine_(engine),
        options_(options),
        staging_(staging),
        input_(static_cast<const std::byte*>(input)),
        output_(static_cast<std::byte*>(output)),
        type_(type),
        op_(op),
        elementSize_(dataTypeSize(type)),
        count_(count),
        plan_(planStaging(count, type, options)) {
    for (size_t slot = options.slots; slot-- > 0;) freeSlots_.push_back(slot);
  }

  void run() {
    while (!error_ && (nextSlice_ < plan_.slices || !inFlight_.empty())) {
      fill();
      bool progressed = false;
      for (Slice& slice : inFlight_) {
        if (error_) break;
        progressed = step(slice, /*block=*/false) || progressed;
      }
      // Nothing moved: sleep on the oldest slice, whose step every later slice's allreduce
      // waits behind anyway (collectives are issued in slice order).
      if (!progressed && !error_ && !inFlight_.empty()) step(inFlight_.front(), /*block=*/true);
      retire();
    }
    if (error_) {
      drain();
      throw *error_;
    }
  }

 private:
  std::byte* slotOf(const Slice& slice) const {
    return staging_ + slice.slot * options_.sliceBytes;
  }

  // Starts the device -> host copies of the next slices while slots are free.
  void fill() {
    while (nextSlice_ < plan_.slices && !freeSlots_.empty()) {
      Slice slice;
      slice.index = nextSlice_++;
      slice.slot = freeSlots_.back();
      freeSlots_.pop_back();
      slice.firstElement = slice.index * plan_.sliceElements;
      slice.elements = std::min(plan_.sliceElements, count_ - slice.firstElement);
      inFlight_.push_back(slice);
      Slice& queued = inFlight_.back();
      guard(queued, [&] {
        queued.ticket = engine_.copyToHost(slotOf(queued), input_ + bytesBefore(queued),
                                           queued.elements * elementSize_);
      });
      if (error_) return;
    }
  }

  size_t bytesBefore(const Slice& slice) const { return slice.firstElement * elementSize_; }

  // Is the slice's pending step complete? Blocks for it when `block`. Throws its error.
  bool pendingDone(Slice& slice, bool block) {
    switch (slice.stage) {
      case Stage::kToHost:
      case Stage::kToDevice:
        if (!block) return engine_.done(slice.ticket);
        engine_.wait(slice.ticket);
        return true;
      case Stage::kReducing:
        if (block) slice.request->wait(std::max(0, comm_.config().spinUs));
        if (!slice.request->isDone()) return false;
        slice.request->rethrow();
        return true;
      case Stage::kStaged:
      case Stage::kFinished: return true;
    }
    return true;
  }

  // Moves the slice on by at most one stage; true if it moved.
  bool step(Slice& slice, bool block) {
    bool moved = false;
    guard(slice, [&] {
      if (slice.stage == Stage::kFinished || !pendingDone(slice, block)) return;
      switch (slice.stage) {
        case Stage::kToHost:
          slice.stage = Stage::kStaged;
          moved = true;
          [[fallthrough]];
        case Stage::kStaged:
          if (slice.index != nextAllreduce_) return;
          ++nextAllreduce_;
          slice.stage = Stage::kReducing;
          slice.request = comm_.allreduce(slotOf(slice), slotOf(slice), slice.elements, type_, op_);
          moved = true;
          return;
        case Stage::kReducing:
          slice.stage = Stage::kToDevice;
          slice.ticket = engine_.copyToDevice(output_ + bytesBefore(slice), slotOf(slice),
                                              slice.elements * elementSize_);
          moved = true;
          return;
        case Stage::kToDevice:
          slice.stage = Stage::kFinished;
          moved = true;
          return;
        case Stage::kFinished: return;
      }
    });
    return moved;
  }

  // Runs `action` on `slice`; an Error becomes the run's error, naming the slice and rank. The
  // failed step has settled, so the slice has nothing pending.
  template <typename Action>
  void guard(Slice& slice, const Action& action) {
    try {
      action();
    } catch (const Error& e) {
      const bool local = slice.stage != Stage::kReducing;
      slice.stage = Stage::kFinished;
      if (error_) return;
      const std::string what =
          strCat("staged allreduce on rank ", comm_.rank(), ": slice ", slice.index, " of ",
                 plan_.slices, " (elements ", slice.firstElement, "..",
                 slice.firstElement + slice.elements, "): ", e.what());
      error_.emplace(e.status(), what, e.origin());
      // This rank issues no more collectives, so its sequence now differs from its peers':
      // abort so that they fail promptly and no later collective pairs with a wrong slice.
      if (local) comm_.abort(what);
    }
  }

  void retire() {
    // A later slice may finish before an older one (copies complete in any order).
    for (auto slice = inFlight_.begin(); slice != inFlight_.end();) {
      if (slice->stage == Stage::kFinished) {
        freeSlots_.push_back(slice->slot);
        slice = inFlight_.erase(slice);
      } else {
        ++slice;
      }
    }
  }

  // After an error: waits for every pending step, so that no copy or collective still writes
  // the staging memory or the output when run() throws. Later errors are dropped.
  void drain() {
    for (Slice& slice : inFlight_) {
      if (slice.stage == Stage::kFinished || slice.stage == Stage::kStaged) continue;
      try {
        pendingDone(slice, /*block=*/true);
      } catch (const Error&) {
      }
      slice.stage = Stage::kFinished;
    }
    retire();
  }

  Communicator& comm_;
  CopyEngine& engine_;
  const StagingOptions& options_;
  std::byte* const staging_;
  const std::byte* const input_;
  std::byte* const output_;
  const DataType type_;
  const ReduceOp op_;
  const size_t elementSize_;
  const size_t count_;
  const StagingPlan plan_;
  std::deque<Slice> inFlight_;  // by slice index
  std::vector<size_t> freeSlots_;
  size_t nextSlice_ = 0;      // next slice to copy to a slot
  size_t nextAllreduce_ = 0;  // next slice to issue its allreduce
  std::optional<Error> error_;
};

}  // namespace

StagedAllreduce::StagedAllreduce(Communicator& comm, CopyEngine& engine,
                                 const StagingOptions& options)
    : comm_(comm), engine_(engine), options_(options) {
  if (options.slots == 0 || options.sliceBytes < sizeof(double)) {
    fail(Status::kInvalidArgument, "staged allreduce: ", options.slots, " slots of ",
         options.sliceBytes, " bytes (need at least 1 slot of 8 bytes)");
  }
  staging_ = engine_.allocateStaging(stagingBytes());
}

StagedAllreduce::~StagedAllreduce() {
  engine_.freeStaging(staging_);
}

void StagedAllreduce::run(const void* input, void* output, size_t count, DataType type,
                          ReduceOp op) {
  // Both ends of both buffers: a host buffer that merely starts inside a device allocation
  // would be copied out of bounds.
  const size_t last = count == 0 ? 0 : count * dataTypeSize(type) - 1;
  const auto deviceRange = [&](const void* buffer) {
    return engine_.isDevice(buffer) &&
           engine_.isDevice(static_cast<const std::byte*>(buffer) + last);
  };
  if (count > 0 && (!deviceRange(input) || !deviceRange(output))) {
    fail(Status::kInvalidArgument, "staged allreduce on rank ", comm_.rank(),
         ": input and output must be device memory");
  }
  Pipeline(comm_, engine_, options_, staging_, input, output, count, type, op).run();
}

}  // namespace gccl
