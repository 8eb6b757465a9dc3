// Collectives over device buffers, staged through pinned host memory in slices so that the
// copies of some slices overlap the wire time of others:
//
//   slice:   0          1          2          3  ...
//   slot:    0          1          0          1     (2 slots here)
//            D->H       D->H                        copy the slice's input pieces to the slot
//              collective collective                in slice order, on every rank
//                 H->D       H->D                   copy the slot's output pieces back
//                  (slot 0 free) D->H  ...          a slot is reused once its H->D is done
//
// Each slice is a separate collective on the communicator, issued in slice order: every rank
// derives the same slices from the same arguments (slice_plan.h), so the n-th collective of
// every rank is the same slice. Staging memory is bounded: slots x slice bytes, allocated once
// per object (shareable memory that shm peers map, where the communicator has such peers).
#pragma once

#include <cstddef>

#include "base/config.h"
#include "core/collective_call.h"
#include "core/communicator.h"
#include "cuda/copy_engine.h"

namespace gccl {

struct StagingOptions {
  size_t sliceBytes = 4u << 20;  // GCCL_GPU_SLICE_BYTES: one slot, the largest slice
  size_t slots = 4;              // GCCL_GPU_STAGING_BYTES / sliceBytes, at least 1
};

StagingOptions stagingOptionsFrom(const Config& config);

class StagedCollectives {
 public:
  // `comm` and `engine` must outlive this object.
  StagedCollectives(Communicator& comm, CopyEngine& engine, const StagingOptions& options);
  StagedCollectives(Communicator& comm, CopyEngine& engine)
      : StagedCollectives(comm, engine, stagingOptionsFrom(comm.config())) {}
  ~StagedCollectives();
  StagedCollectives(const StagedCollectives&) = delete;
  StagedCollectives& operator=(const StagedCollectives&) = delete;

  // Runs `call` (any collective but barrier) whose buffers are device memory of `engine`;
  // returns when every slice is back on the device. An alltoallv first agrees with the other
  // ranks on its longest block (one small host allreduce), from which all cut their slices. Errors
  // are the host collectives' (a bad root, buffers overlapping wrongly, ...) plus host memory where
  // device memory belongs. On failure throws Error naming the slice and rank, once nothing is left
  // in flight; a local failure (a copy) also aborts the communicator, whose collective sequence
  // then differs from its peers'.
  void run(const CollectiveCall& call);
  // run()'s argument checks alone, with no copy and no collective.
  void check(const CollectiveCall& call) const;

  // The allreduce of `count` elements from `input` into `output` (in place when equal).
  void allreduce(const void* input, void* output, size_t count, DataType type, ReduceOp op);

  size_t stagingBytes() const { return options_.slots * options_.sliceBytes; }

 private:
  std::byte* allocateSlots();
  size_t agreeOnLongestBlock(const CollectiveCall& call);

  Communicator& comm_;
  CopyEngine& engine_;
  const StagingOptions options_;
  std::byte* staging_ = nullptr;  // slots x sliceBytes
  bool shareableSlots_ = false;   // from allocateShareable, pinned by the engine
};

}  // namespace gccl
