// One collective as the caller asked for it, and what follows from the arguments alone: how
// many elements each buffer holds on this rank, whether it runs in place, and whether the
// arguments are acceptable. Pure: no communicator state, so every rule is unit-tested.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "algorithms/schedule.h"
#include "base/collective.h"
#include "base/dtype.h"

namespace gccl {

// Slices of GCCL_CHUNK_BYTES one collective may be cut into: bounds the schedule's length
// (kMaxScheduleSteps) and the memory it takes.
inline constexpr size_t kMaxSlicesPerCollective = size_t{1} << 16;

// The bound for `size` ranks: fewer slices at scale, so that no rank's schedule outgrows
// kMaxScheduleSteps. Some ranks take many steps per slice (a binomial root sends each slice
// to log2(n) children, Bruck forwards a large block in every round); a limit met on those
// ranks only would fail them at once and leave the others to time out. Every rank computes
// the same bound from the same call, so all accept or all refuse.
size_t maxSlicesPerCollective(int size);

// The most bytes one collective on `size` ranks moves in slices of `chunkBytes` (saturated).
size_t mostBytesPerCollective(int size, size_t chunkBytes);

struct CollectiveCall {
  CollectiveKind kind = CollectiveKind::kAllreduce;
  const void* input = nullptr;
  void* output = nullptr;
  size_t count = 0;  // NCCL's meaning: allgather sendcount, reduce-scatter recvcount
  DataType type = DataType::kFloat32;
  ReduceOp op = ReduceOp::kSum;
  int root = 0;
  std::vector<Range> blocks;  // allgatherv, alltoallv: each rank's block of the output
  // alltoallv out of place: the block for each rank in the input (in place, `blocks` go out).
  std::vector<Range> sendBlocks;
  // Any value every rank must pass the same, checked like the count: a staged slice carries
  // its whole call's count here, so that ranks disagreeing on it fail on the first slice.
  uint32_t agreement = 0;
  // An average also looks for inf and NaN in what this rank divides, while it divides
  // (Request::nonFinite). Every element is divided once, on the rank that finishes it (by
  // every rank, in recursive doubling), so the ranks' flags together cover the whole result.
  bool findNonFinite = false;
  // Operation::keepAlive: what the buffers point into, for a call gccl makes for itself.
  std::shared_ptr<const void> keepAlive;
};

// An allreduce of `count` elements from `input` into `output`.
CollectiveCall allreduceCall(const void* input, void* output, size_t count, DataType type,
                             ReduceOp op);

struct BufferLayout {
  size_t inputCount = 0;       // elements this rank reads from its send buffer
  size_t outputCount = 0;      // elements this rank writes in its receive buffer
  bool inPlace = false;        // ScheduleShape::inPlace
  uint32_t agreementHash = 0;  // of what every rank must pass the same: blocks, agreement
  // Alltoallv: the elements this rank sends, block by block (its send blocks may overlap, so
  // this can exceed inputCount); 0 for the other collectives.
  size_t movedCount = 0;
};

// Throws Error(kInvalidArgument) naming the collective and the rank for a root out of range,
// a count whose bytes overflow, allgatherv blocks that overflow, overlap or leave this rank no
// room, a null buffer with elements to move, buffers that overlap other than in NCCL's in-place
// way, or more than maxSlicesPerCollective(size) slices of `chunkBytes`.
BufferLayout checkCall(const CollectiveCall& call, int rank, int size, size_t chunkBytes);

// FNV-1a over the ranges' offsets and counts.
uint32_t hashRanges(const std::vector<Range>& ranges);

}  // namespace gccl
