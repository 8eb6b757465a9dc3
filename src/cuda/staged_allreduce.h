// One allreduce of a device buffer, staged through pinned host memory in slices so that the
// copies of some slices overlap the wire time of others:
//
//   slice:   0          1          2          3  ...
//   slot:    0          1          0          1     (2 slots here)
//            D->H       D->H                        copy device to the slot
//              allreduce  allreduce                 in slice order, on every rank
//                 H->D       H->D                   copy the slot back
//                  (slot 0 free) D->H  ...          a slot is reused once its H->D is done
//
// Each slice is a separate collective on the communicator, issued in slice order: every rank
// derives the same slicing from (count, type, options), so the n-th collective of every rank is
// the same slice. Staging memory is bounded: slots x slice bytes, allocated once per object.
#pragma once

#include <cstddef>

#include "base/config.h"
#include "base/dtype.h"
#include "core/communicator.h"
#include "cuda/copy_engine.h"

namespace gccl {

struct StagingOptions {
  size_t sliceBytes = 1u << 20;  // GCCL_GPU_SLICE_BYTES
  size_t slots = 8;              // GCCL_GPU_STAGING_BYTES / sliceBytes, at least 1
};

StagingOptions stagingOptionsFrom(const Config& config);

// How one call is cut: the same on every rank for the same (count, type, options).
struct StagingPlan {
  size_t sliceElements = 0;
  size_t slices = 0;
};
StagingPlan planStaging(size_t count, DataType type, const StagingOptions& options);

class StagedAllreduce {
 public:
  // `comm` and `engine` must outlive this object.
  StagedAllreduce(Communicator& comm, CopyEngine& engine, const StagingOptions& options);
  StagedAllreduce(Communicator& comm, CopyEngine& engine)
      : StagedAllreduce(comm, engine, stagingOptionsFrom(comm.config())) {}
  ~StagedAllreduce();
  StagedAllreduce(const StagedAllreduce&) = delete;
  StagedAllreduce& operator=(const StagedAllreduce&) = delete;

  // Allreduces `count` elements of device memory from `input` into `output` (in place when
  // equal); returns when every slice is back on the device. On failure throws Error naming the
  // slice and rank, once nothing is left in flight; a local failure (a copy) also aborts the
  // communicator, whose collective sequence then differs from its peers'.
  void run(const void* input, void* output, size_t count, DataType type, ReduceOp op);

  size_t stagingBytes() const { return options_.slots * options_.sliceBytes; }

 private:
  Communicator& comm_;
  CopyEngine& engine_;
  const StagingOptions options_;
  std::byte* staging_ = nullptr;  // slots x sliceBytes
};

}  // namespace gccl
