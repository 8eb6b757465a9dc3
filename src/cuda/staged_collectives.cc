#include "cuda/staged_collectives.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "base/error.h"
#include "base/logging.h"
#include "base/shareable_memory.h"
#include "cuda/slice_plan.h"

namespace gccl {

StagingOptions stagingOptionsFrom(const Config& config) {
  StagingOptions options;
  // Whole cache lines (both settings are at least 64): every slot then starts aligned for any
  // element type, so the reduction reads doubles and int64s where they belong.
  constexpr size_t kLine = 64;
  options.sliceBytes = std::min(config.gpuSliceBytes, config.gpuStagingBytes) / kLine * kLine;
  options.slots = std::max<size_t>(1, config.gpuStagingBytes / options.sliceBytes);
  return options;
}

namespace {

// One slice's way through the pipeline; each stage but kStaged waits on its pending step.
enum class Stage {
  kToHost,      // device -> slot copies queued
  kStaged,      // in the slot, waiting for the earlier slices' collectives to be issued
  kCollective,  // the slot's collective running
  kToDevice,    // slot -> device copies queued
  kFinished,    // the slot is free again (or the slice failed and has nothing pending)
};

struct Slice {
  size_t index = 0;
  size_t slot = 0;
  SliceWork work;
  Stage stage = Stage::kToHost;
  std::vector<CopyTicket> tickets;  // the stage's copies not settled yet
  std::shared_ptr<Request> request;
};

// The state of one run(): slices in flight (oldest first), free slots, the first error.
class Pipeline {
 public:
  Pipeline(Communicator& comm, CopyEngine& engine, const StagingOptions& options,
           std::byte* staging, const CollectiveCall& call, size_t longestBlock)
      : comm_(comm),
        engine_(engine),
        options_(options),
        staging_(staging),
        call_(call),
        planner_(call, comm.rank(), comm.size(), options.sliceBytes, longestBlock) {
    for (size_t slot = options.slots; slot-- > 0;) freeSlots_.push_back(slot);
  }

  void run() {
    while (!error_ && (nextSlice_ < planner_.slices() || !inFlight_.empty())) {
      fill();
      bool progressed = false;
      for (Slice& slice : inFlight_) {
        if (error_) break;
        progressed = step(slice, /*block=*/false) || progressed;
      }
      // Nothing moved: sleep on the oldest slice, whose step every later slice's collective
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
    while (nextSlice_ < planner_.slices() && !freeSlots_.empty()) {
      Slice slice;
      slice.index = nextSlice_++;
      slice.slot = freeSlots_.back();
      freeSlots_.pop_back();
      inFlight_.push_back(std::move(slice));
      Slice& queued = inFlight_.back();
      guard(queued, [&] {
        queued.work = planner_.slice(queued.index, slotOf(queued));
        queueCopies(queued, /*toHost=*/true);
      });
      if (error_) return;
    }
  }

  // Queues the stage's copies; if one cannot be queued, waits for those that were, so that a
  // failed slice has nothing pending.
  void queueCopies(Slice& slice, bool toHost) {
    const std::vector<CopyPiece>& pieces = toHost ? slice.work.in : slice.work.out;
    auto* input = static_cast<const std::byte*>(call_.input);
    auto* output = static_cast<std::byte*>(call_.output);
    std::byte* slot = slotOf(slice);
    try {
      for (const CopyPiece& piece : pieces) {
        slice.tickets.push_back(
            toHost ? engine_.copyToHost(slot + piece.slot, input + piece.device, piece.bytes)
                   : engine_.copyToDevice(output + piece.device, slot + piece.slot, piece.bytes));
      }
    } catch (const Error&) {
      settleQuietly(slice);
      throw;
    }
  }

  // Are the stage's copies complete? Blocks for them when `block`. Throws the first failure,
  // after waiting for the slice's other copies.
  bool copiesDone(Slice& slice, bool block) {
    try {
      while (!slice.tickets.empty()) {
        const CopyTicket ticket = slice.tickets.back();
        if (block) {
          engine_.wait(ticket);
        } else if (!engine_.done(ticket)) {
          return false;
        }
        slice.tickets.pop_back();
      }
      return true;
    } catch (const Error&) {
      slice.tickets.pop_back();  // settled by its failure
      settleQuietly(slice);
      throw;
    }
  }

  void settleQuietly(Slice& slice) {
    for (CopyTicket ticket : slice.tickets) {
      try {
        engine_.wait(ticket);
      } catch (const Error&) {
      }
    }
    slice.tickets.clear();
  }

  // Is the slice's pending step complete? Blocks for it when `block`. Throws its error.
  bool pendingDone(Slice& slice, bool block) {
    switch (slice.stage) {
      case Stage::kToHost:
      case Stage::kToDevice: return copiesDone(slice, block);
      case Stage::kCollective:
        if (block) slice.request->wait(waitPolicyOf(comm_.config()));
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
          if (slice.index != nextCollective_) return;
          ++nextCollective_;
          slice.stage = Stage::kCollective;
          slice.request = comm_.start(slice.work.call, false);
          moved = true;
          return;
        case Stage::kCollective:
          slice.stage = Stage::kToDevice;
          queueCopies(slice, /*toHost=*/false);
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
      slice.stage = Stage::kFinished;
      if (error_) return;
      const std::string what =
          strCat(collectiveName(call_.kind), " of device buffers on rank ", comm_.rank(),
                 ": slice ", slice.index, " of ", planner_.slices(), ": ", e.what());
      error_.emplace(e.status(), what, e.origin());
      // This rank issues no more collectives, so its sequence now differs from its peers':
      // abort so that they fail promptly and no later collective pairs with a wrong slice.
      // Also where the slice's own collective failed: most such failures have broken the
      // communicator already, but a refusal that fails one operation alone (a relayed
      // alltoallv's disagreeing pair) leaves the later slices that some ranks had issued
      // meanwhile waiting for ranks that never issue them.
      comm_.abort(what);
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
  const CollectiveCall& call_;
  const SlicePlanner planner_;
  std::deque<Slice> inFlight_;  // by slice index
  std::vector<size_t> freeSlots_;
  size_t nextSlice_ = 0;       // next slice to copy to a slot
  size_t nextCollective_ = 0;  // next slice to issue its collective
  std::optional<Error> error_;
};

}  // namespace

StagedCollectives::StagedCollectives(Communicator& comm, CopyEngine& engine,
                                     const StagingOptions& options)
    : comm_(comm), engine_(engine), options_(options) {
  if (options.slots == 0 || options.sliceBytes < sizeof(double)) {
    fail(Status::kInvalidArgument, "staged collectives: ", options.slots, " slots of ",
         options.sliceBytes, " bytes (need at least 1 slot of 8 bytes)");
  }
  staging_ = allocateSlots();
}

StagedCollectives::~StagedCollectives() {
  // A destructor cannot report, and must not throw (a CUDA runtime that is unloading at exit
  // fails every call): a failed unpin or free is logged, and shareable slots are freed anyway.
  try {
    if (shareableSlots_) {
      engine_.unpinHost(staging_);
    } else {
      engine_.freeStaging(staging_);
    }
  } catch (const Error& e) {
    GCCL_WARN(LogSubsys::kColl, "rank ", comm_.rank(),
              ": freeing the GPU staging slots: ", e.what());
  }
  if (shareableSlots_) freeShareable(staging_);
}

// With peers that map shareable memory, the slots come from it, pinned for the engine: each
// slice's collective then reads and reduces peers' slots in place, where slots of the engine's
// own pinned memory went through the shm rings (messages below 1 MiB, the single-copy threshold
// of heap buffers) or cross-memory attach, which pins the peer's pages on every message
// (docs/architecture.md, "Zero-copy"). Where the system refuses either, the engine's pinned
// memory serves.
std::byte* StagedCollectives::allocateSlots() {
  const size_t bytes = stagingBytes();
  if (comm_.hasZeroCopyPeers()) {
    if (void* memory = allocateShareable(bytes)) {
      if (engine_.pinHost(memory, bytes)) {
        shareableSlots_ = true;
        return static_cast<std::byte*>(memory);
      }
      freeShareable(memory);
    }
  }
  return engine_.allocateStaging(bytes);
}

void StagedCollectives::check(const CollectiveCall& call) const {
  if (call.kind == CollectiveKind::kBarrier) {
    fail(Status::kInvalidArgument, "a barrier has no buffers to stage");
  }
  const BufferLayout layout = checkCall(call, comm_.rank(), comm_.size(), options_.sliceBytes);
  const size_t elementSize = dataTypeSize(call.type);
  // The whole of each buffer in one allocation: a host buffer that merely starts inside a
  // device allocation, or a count that runs past it, would be copied out of bounds.
  const auto isDeviceRange = [&](const void* buffer, size_t count) {
    return count == 0 || engine_.isDeviceRange(buffer, count * elementSize);
  };
  if (!isDeviceRange(call.input, layout.inputCount) ||
      !isDeviceRange(call.output, layout.outputCount)) {
    fail(Status::kInvalidArgument, collectiveName(call.kind), " on rank ", comm_.rank(),
         ": send and receive buffers must both be device memory, for their whole length");
  }
  // (An alltoallv's slices follow the longest block of all ranks, agreed in run(); whether one
  // element of each block fits a slot does not depend on it.)
  [[maybe_unused]] const SlicePlanner fits(call, comm_.rank(), comm_.size(), options_.sliceBytes,
                                           longestOwnBlock(call));
}

void StagedCollectives::run(const CollectiveCall& call) {
  check(call);
  const size_t longestBlock =
      call.kind == CollectiveKind::kAllToAllV ? agreeOnLongestBlock(call) : 0;
  Pipeline(comm_, engine_, options_, staging_, call, longestBlock).run();
}

// An allreduce (max) of each rank's longest block, on the host, before the slices: every rank
// then cuts as many. Its failure is the communicator's (a collective), not this rank's alone.
size_t StagedCollectives::agreeOnLongestBlock(const CollectiveCall& call) {
  uint64_t longest = longestOwnBlock(call);
  try {
    comm_.start(allreduceCall(&longest, &longest, 1, DataType::kUint64, ReduceOp::kMax), true)
        ->rethrow();
  } catch (const Error& e) {
    throw Error(e.status(),
                strCat("alltoallv of device buffers on rank ", comm_.rank(),
                       ": agreeing on the longest block: ", e.what()),
                e.origin());
  }
  return static_cast<size_t>(longest);
}

void StagedCollectives::allreduce(const void* input, void* output, size_t count, DataType type,
                                  ReduceOp op) {
  run(allreduceCall(input, output, count, type, op));
}

}  // namespace gccl
