// How a collective over device buffers is cut into slices that each fit one pinned staging
// slot: per slice, the pieces copied from the device input into the slot, the host collective
// run on the slot, and the pieces copied from the slot back to the device output.
//
//   allreduce, broadcast, reduce: slice s is elements [sE, sE+E) of the buffer
//   allgather(v), reduce-scatter, all-to-all: slice s is elements [sE, sE+E) of every rank's
//                                 block, so a slot holds one piece per rank, packed
//   alltoallv: slice s is elements [sE, sE+E) of every block this rank sends and of every
//              block it receives: the slot holds the pieces sent, packed, in its first half
//              and those received in its second (blocks differ in length, so the slot's
//              alltoallv runs out of place)
//
// Every rank derives the same slices from the same arguments, so the k-th collective of every
// rank is the same slice; each slice's call carries the whole call's count (or blocks) in its
// agreement field, so ranks that disagree on the whole call fail on the first slice (an
// alltoallv's pairs agree message by message instead: a pair that disagrees fails on the
// first slice where its two pieces differ).
#pragma once

#include <cstddef>
#include <vector>

#include "core/collective_call.h"

namespace gccl {

// Bytes: `device` from the start of the device buffer, `slot` from the start of the slot.
struct CopyPiece {
  size_t device = 0;
  size_t slot = 0;
  size_t bytes = 0;
};

// This rank's longest alltoallv block, sent or received (the planner's longestBlock is the
// largest of every rank's).
size_t longestOwnBlock(const CollectiveCall& call);

struct SliceWork {
  std::vector<CopyPiece> in;   // device input -> slot, before the collective
  CollectiveCall call;         // on the slot (its buffers point into it)
  std::vector<CopyPiece> out;  // slot -> device output, after it
};

class SlicePlanner {
 public:
  // `call` over device buffers, already checked (checkCall). Throws Error(kInvalidArgument)
  // when one element per rank does not fit a slot of `slotBytes`. An alltoallv's slices
  // follow `longestBlock`, the longest block any rank sends or receives: a rank knows only its
  // own blocks, so the caller agrees on it with the others (every rank must pass the same, at
  // least longestOwnBlock(call)), and every rank then cuts as many slices.
  SlicePlanner(const CollectiveCall& call, int rank, int size, size_t slotBytes,
               size_t longestBlock = 0);

  size_t slices() const { return slices_; }
  // Slice `index` (< slices()) with its collective's buffers in `slot`.
  SliceWork slice(size_t index, std::byte* slot) const;

 private:
  SliceWork rootedOrAllreduce(size_t index, std::byte* slot) const;
  SliceWork blockwise(size_t index, std::byte* slot) const;
  SliceWork allToAllV(size_t index, std::byte* slot) const;

  CollectiveCall call_;
  int rank_;
  int size_;
  size_t elementSize_;
  size_t sliceElements_ = 0;  // per rank's block for the blockwise collectives
  size_t slices_ = 0;
};

}  // namespace gccl
