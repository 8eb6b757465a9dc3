#include "cuda/slice_plan.h"

#include <algorithm>

#include "base/error.h"

namespace gccl {

namespace {

bool isBlockwise(CollectiveKind kind) {
  return kind == CollectiveKind::kAllgather || kind == CollectiveKind::kAllgatherV ||
         kind == CollectiveKind::kReduceScatter || kind == CollectiveKind::kAllToAll ||
         kind == CollectiveKind::kAllToAllV;
}

// Pieces per slot: one per rank for the blockwise collectives, two for alltoallv's (one sent,
// one received).
size_t piecesPerSlot(CollectiveKind kind, int size) {
  if (!isBlockwise(kind)) return 1;
  const size_t n = static_cast<size_t>(size);
  return kind == CollectiveKind::kAllToAllV ? 2 * n : n;
}

// An alltoallv's blocks sent: its own out of place, the received ones in place.
const std::vector<Range>& sentBlocks(const CollectiveCall& call) {
  return call.sendBlocks.empty() ? call.blocks : call.sendBlocks;
}

// The whole call, as the value every slice's collective carries for the ranks to agree on.
uint32_t wholeCallAgreement(const CollectiveCall& call) {
  if (call.kind == CollectiveKind::kAllgatherV) return hashRanges(call.blocks) | 1u;
  // Alltoallv's pairs agree message by message (each carries its pair's count), and its
  // slices follow the longest block, on which the ranks have agreed first.
  if (call.kind == CollectiveKind::kAllToAllV) return 1u;
  return hashRanges({Range{0, call.count}}) | 1u;  // never 0: 0 is "nothing to agree on"
}

// Elements of each rank's block that slice s covers: [first, first + length).
struct Span {
  size_t first = 0;
  size_t length = 0;
};

Span spanOf(size_t index, size_t sliceElements, size_t blockCount) {
  const size_t first = index * sliceElements;
  return {first, first < blockCount ? std::min(sliceElements, blockCount - first) : 0};
}

// The slice for a call of `longest` elements per block, where the slot is no bound: a quarter
// of the call, so that a call of a few slots still has kPipelinedSlices slices whose copies
// overlap the others' collectives; but no slice below kLeastSliceBytes per slot, where a
// slice's own collective costs more than the overlap saves. Whole cache lines of elements, so
// that every slice starts as aligned as the buffer (the slot's own bound, which the caller
// applies, is whole lines only where the slot holds one piece). `pieces`: per slot (one per
// rank for the blockwise collectives).
size_t pipelinedSliceElements(size_t longest, size_t elementSize, size_t pieces) {
  constexpr size_t kPipelinedSlices = 4;
  constexpr size_t kLeastSliceBytes = size_t{256} << 10;
  constexpr size_t kLineBytes = 64;
  const size_t lineElements = std::max<size_t>(1, kLineBytes / elementSize);
  const auto wholeLines = [&](size_t elements) {
    return (elements + lineElements - 1) / lineElements * lineElements;
  };
  const size_t quarter = (longest + kPipelinedSlices - 1) / kPipelinedSlices;
  const size_t least = kLeastSliceBytes / (elementSize * pieces);
  return wholeLines(std::max({quarter, least, size_t{1}}));
}

}  // namespace

size_t longestOwnBlock(const CollectiveCall& call) {
  size_t longest = 0;
  for (const Range& block : call.blocks) longest = std::max(longest, block.count);
  for (const Range& block : call.sendBlocks) longest = std::max(longest, block.count);
  return longest;
}

SlicePlanner::SlicePlanner(const CollectiveCall& call, int rank, int size, size_t slotBytes,
                           size_t longestBlock)
    : call_(call), rank_(rank), size_(size), elementSize_(dataTypeSize(call.type)) {
  const size_t pieces = piecesPerSlot(call.kind, size);
  sliceElements_ = slotBytes / (elementSize_ * pieces);
  if (sliceElements_ == 0) {
    fail(Status::kInvalidArgument, collectiveName(call.kind), " on rank ", rank,
         ": a staging slot of ", slotBytes, " bytes holds no element per rank for ", size,
         " ranks; raise GCCL_GPU_SLICE_BYTES");
  }
  size_t longest = call.count;  // the longest block a slice walks through
  if (call.kind == CollectiveKind::kAllgatherV) longest = longestOwnBlock(call);  // all ranks'
  if (call.kind == CollectiveKind::kAllToAllV) {
    if (longestBlock < longestOwnBlock(call)) {  // the caller did not agree on it first
      fail(Status::kInternalError, "alltoallv on rank ", rank, ": slices of ", longestBlock,
           " elements at most, but a block of ", longestOwnBlock(call));
    }
    longest = longestBlock;
  }
  sliceElements_ = std::min(sliceElements_, pipelinedSliceElements(longest, elementSize_, pieces));
  // At least one: an empty call still runs one empty collective, which carries the agreement,
  // so a rank that passes 0 where its peers pass more fails with them at once instead of
  // leaving them to time out.
  slices_ = std::max<size_t>(1, (longest + sliceElements_ - 1) / sliceElements_);
  call_.agreement = wholeCallAgreement(call);
}

SliceWork SlicePlanner::slice(size_t index, std::byte* slot) const {
  SliceWork work = call_.kind == CollectiveKind::kAllToAllV ? allToAllV(index, slot)
                   : isBlockwise(call_.kind)                ? blockwise(index, slot)
                                                            : rootedOrAllreduce(index, slot);
  // Empty pieces copy nothing (a rank whose allgatherv block ended earlier, an empty call).
  std::erase_if(work.in, [](const CopyPiece& piece) { return piece.bytes == 0; });
  std::erase_if(work.out, [](const CopyPiece& piece) { return piece.bytes == 0; });
  return work;
}

// One contiguous piece of the buffer, in place in the slot.
SliceWork SlicePlanner::rootedOrAllreduce(size_t index, std::byte* slot) const {
  const Span span = spanOf(index, sliceElements_, call_.count);
  const CopyPiece piece{span.first * elementSize_, 0, span.length * elementSize_};
  const bool root = rank_ == call_.root;
  SliceWork work;
  // Broadcast reads only the root's input; reduce writes only the root's output.
  if (call_.kind != CollectiveKind::kBroadcast || root) work.in.push_back(piece);
  if (call_.kind != CollectiveKind::kReduce || root) work.out.push_back(piece);
  work.call = call_;
  work.call.input = slot;
  work.call.output = slot;
  work.call.count = span.length;
  return work;
}

// Piece r of the slot is rank r's part of the slice, packed: its offset is the lengths of the
// pieces before it. The slot's collective runs in NCCL's in-place layout.
SliceWork SlicePlanner::blockwise(size_t index, std::byte* slot) const {
  const size_t n = static_cast<size_t>(size_);
  const size_t me = static_cast<size_t>(rank_);
  std::vector<Range> blocks;  // in the device output (allgather(v)) or input (reduce-scatter)
  for (size_t r = 0; r < n; ++r) {
    blocks.push_back(call_.kind == CollectiveKind::kAllgatherV
                         ? call_.blocks[r]
                         : Range{r * call_.count, call_.count});
  }
  std::vector<Range> pieces;  // in the slot
  size_t packed = 0;
  for (const Range& block : blocks) {
    const Span span = spanOf(index, sliceElements_, block.count);
    pieces.push_back({packed, span.length});
    packed += span.length;
  }
  const size_t first = index * sliceElements_;
  const auto bytes = [&](size_t elements) { return elements * elementSize_; };
  const auto devicePiece = [&](size_t r) {  // rank r's piece of the slice, in the block buffer
    return CopyPiece{bytes(blocks[r].offset + first), bytes(pieces[r].offset),
                     bytes(pieces[r].count)};
  };
  const CopyPiece own{bytes(first), bytes(pieces[me].offset), bytes(pieces[me].count)};

  SliceWork work;
  work.call = call_;
  work.call.count = pieces[me].count;
  if (call_.kind == CollectiveKind::kAllToAll) {
    // Every block in and out: the slot's all-to-all runs in place.
    for (size_t r = 0; r < n; ++r) work.in.push_back(devicePiece(r));
    work.call.input = slot;
    work.call.output = slot;
    for (size_t r = 0; r < n; ++r) work.out.push_back(devicePiece(r));
  } else if (call_.kind == CollectiveKind::kReduceScatter) {
    for (size_t r = 0; r < n; ++r) work.in.push_back(devicePiece(r));
    work.call.input = slot;
    work.call.output = slot + own.slot;
    work.out.push_back(own);
  } else {
    work.in.push_back(own);
    work.call.input = slot + own.slot;
    work.call.output = slot;
    for (size_t r = 0; r < n; ++r) work.out.push_back(devicePiece(r));
    if (call_.kind == CollectiveKind::kAllgatherV) work.call.blocks = pieces;
  }
  return work;
}

// Every block's piece of the slice, packed in block order: those sent from the start of the
// slot, those received from its middle (n x E elements in). A block shorter than the slice's
// start has an empty piece, which the slot's alltoallv still exchanges (empty), so that both
// ends of every pair take part in every slice.
SliceWork SlicePlanner::allToAllV(size_t index, std::byte* slot) const {
  const auto bytes = [&](size_t elements) { return elements * elementSize_; };
  const std::vector<Range>& sent = sentBlocks(call_);
  const size_t received = static_cast<size_t>(size_) * sliceElements_;  // the second half
  SliceWork work;
  work.call = call_;
  work.call.input = slot;
  work.call.output = slot + bytes(received);
  work.call.blocks.clear();
  work.call.sendBlocks.clear();
  size_t packedSent = 0;
  size_t packedReceived = 0;
  for (size_t p = 0; p < static_cast<size_t>(size_); ++p) {
    const Span out = spanOf(index, sliceElements_, sent[p].count);
    work.in.push_back({bytes(sent[p].offset + out.first), bytes(packedSent), bytes(out.length)});
    work.call.sendBlocks.push_back({packedSent, out.length});
    packedSent += out.length;
    const Range& block = call_.blocks[p];
    const Span in = spanOf(index, sliceElements_, block.count);
    work.out.push_back(
        {bytes(block.offset + in.first), bytes(received + packedReceived), bytes(in.length)});
    work.call.blocks.push_back({packedReceived, in.length});
    packedReceived += in.length;
  }
  return work;
}

}  // namespace gccl
