#include "core/collective_call.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>
#include <string>

#include "base/error.h"
#include "base/fnv1a.h"

namespace gccl {

namespace {

constexpr size_t kMaxBytes = std::numeric_limits<size_t>::max() / 4;

// "allgather on rank 3: "
std::string where(const CollectiveCall& call, int rank) {
  return strCat(collectiveName(call.kind), " on rank ", rank, ": ");
}

// a x b, or an error when the product does not fit comfortably in a size_t.
size_t product(const CollectiveCall& call, int rank, size_t a, size_t b) {
  if (a != 0 && b > kMaxBytes / a) {
    fail(Status::kInvalidArgument, where(call, rank), "count ", call.count,
         " overflows the buffer size");
  }
  return a * b;
}

}  // namespace

size_t maxSlicesPerCollective(int size) {
  // Steps per slice on the busiest rank stay below 2 (bit_width(n) + 1): a binomial root's
  // sends and reduction, Bruck's forwarding, the ring's and the trees' constant few.
  const auto perSlice = 2 * (static_cast<size_t>(std::bit_width(static_cast<unsigned>(size))) + 1);
  return std::min(kMaxSlicesPerCollective, kMaxScheduleSteps / perSlice);
}

size_t mostBytesPerCollective(int size, size_t chunkBytes) {
  const size_t slices = maxSlicesPerCollective(size);
  return chunkBytes > SIZE_MAX / slices ? SIZE_MAX : slices * chunkBytes;
}

uint32_t hashRanges(const std::vector<Range>& ranges) {
  Fnv1a hash;
  for (const Range& range : ranges) {
    hash.add(range.offset);
    hash.add(range.count);
  }
  return hash.folded();
}

namespace {

// The elements a buffer of `blocks` (one per rank) spans. Throws for a block that overflows
// and, where the buffer is written (`written`), for two blocks that overlap.
size_t extentOf(const CollectiveCall& call, int rank, int size, size_t elementSize,
                const std::vector<Range>& blocks, bool written) {
  if (blocks.size() != static_cast<size_t>(size)) {
    fail(Status::kInvalidArgument, where(call, rank), "needs one count and displacement per rank");
  }
  size_t extent = 0;
  std::vector<Range> sorted;
  for (const Range& block : blocks) {
    // An empty block names no element: its displacement, whatever it is (MPI callers leave
    // those of empty blocks unset), sizes nothing.
    if (block.count == 0) continue;
    if (block.count > kMaxBytes / elementSize || block.offset > kMaxBytes / elementSize ||
        block.end() > kMaxBytes / elementSize) {
      fail(Status::kInvalidArgument, where(call, rank), "block [", block.offset, ", +", block.count,
           ") overflows the buffer size");
    }
    extent = std::max(extent, block.end());
    sorted.push_back(block);
  }
  if (!written) return extent;
  std::sort(sorted.begin(), sorted.end(),
            [](const Range& a, const Range& b) { return a.offset < b.offset; });
  for (size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i].offset < sorted[i - 1].end()) {
      fail(Status::kInvalidArgument, where(call, rank), "the blocks of two ranks overlap at ",
           sorted[i].offset);
    }
  }
  return extent;
}

BufferLayout allgatherVLayout(const CollectiveCall& call, int rank, int size, size_t elementSize) {
  BufferLayout layout;
  layout.outputCount = extentOf(call, rank, size, elementSize, call.blocks, true);
  layout.inputCount = call.blocks[static_cast<size_t>(rank)].count;
  layout.inPlace = call.input != nullptr &&
                   call.input == static_cast<const std::byte*>(call.output) +
                                     call.blocks[static_cast<size_t>(rank)].offset * elementSize;
  layout.agreementHash = hashRanges(call.blocks);
  return layout;
}

// In place (the same buffer for both, MPI_IN_PLACE's meaning) each block of the output goes
// out to its rank and is replaced by that rank's; out of place the input has blocks of its
// own, which may overlap (they are only read). The counts of a pair differ between ranks and
// are no agreement of all: each message carries its pair's (Operation::sendCounts).
BufferLayout allToAllVLayout(const CollectiveCall& call, int rank, int size, size_t elementSize) {
  BufferLayout layout;
  layout.outputCount = extentOf(call, rank, size, elementSize, call.blocks, true);
  layout.inPlace = call.input == call.output;  // both null: nothing to move either way
  const std::vector<Range>& sent = layout.inPlace ? call.blocks : call.sendBlocks;
  if (!layout.inPlace) {
    layout.inputCount = extentOf(call, rank, size, elementSize, call.sendBlocks, false);
  }
  // Send blocks may overlap: what goes out can be (n - 1) x what the input spans.
  for (const Range& block : sent) {
    if (block.count > kMaxBytes / elementSize - layout.movedCount) {
      fail(Status::kInvalidArgument, where(call, rank), "the blocks sent overflow the buffer size");
    }
    layout.movedCount += block.count;
  }
  if (layout.inPlace) return layout;
  const size_t sends = call.sendBlocks[static_cast<size_t>(rank)].count;
  const size_t receives = call.blocks[static_cast<size_t>(rank)].count;
  if (sends != receives) {
    fail(Status::kInvalidArgument, where(call, rank), "sends ", sends,
         " elements to itself but receives ", receives);
  }
  return layout;
}

BufferLayout layoutOf(const CollectiveCall& call, int rank, int size, size_t elementSize) {
  const auto* in = static_cast<const std::byte*>(call.input);
  const auto* out = static_cast<const std::byte*>(call.output);
  const size_t n = static_cast<size_t>(size);
  const size_t myOffset = static_cast<size_t>(rank) * call.count;
  BufferLayout layout;
  switch (call.kind) {
    case CollectiveKind::kAllreduce: layout = {call.count, call.count, in == out, 0}; break;
    case CollectiveKind::kBroadcast:
      layout = {rank == call.root ? call.count : 0, call.count, in == out, 0};
      break;
    case CollectiveKind::kReduce:
      layout = {call.count, rank == call.root ? call.count : 0, in == out, 0};
      break;
    case CollectiveKind::kAllgather:
      layout = {call.count, product(call, rank, call.count, n),
                in != nullptr && in == out + myOffset * elementSize, 0};
      break;
    case CollectiveKind::kReduceScatter:
      layout = {product(call, rank, call.count, n), call.count,
                out != nullptr && out == in + myOffset * elementSize, 0};
      break;
    case CollectiveKind::kAllgatherV: return allgatherVLayout(call, rank, size, elementSize);
    case CollectiveKind::kAllToAllV: return allToAllVLayout(call, rank, size, elementSize);
    case CollectiveKind::kAllToAll: {
      const size_t elements = product(call, rank, call.count, n);
      layout = {elements, elements, in != nullptr && in == out, 0};
      break;
    }
    case CollectiveKind::kBarrier: break;
  }
  return layout;
}

}  // namespace

CollectiveCall allreduceCall(const void* input, void* output, size_t count, DataType type,
                             ReduceOp op) {
  CollectiveCall call;
  call.kind = CollectiveKind::kAllreduce;
  call.input = input;
  call.output = output;
  call.count = count;
  call.type = type;
  call.op = op;
  return call;
}

BufferLayout checkCall(const CollectiveCall& call, int rank, int size, size_t chunkBytes) {
  if (isRooted(call.kind) && (call.root < 0 || call.root >= size)) {
    fail(Status::kInvalidArgument, where(call, rank), "root ", call.root, " is not a rank of ",
         size);
  }
  const size_t elementSize = dataTypeSize(call.type);
  if (call.count > kMaxBytes / elementSize) {
    fail(Status::kInvalidArgument, where(call, rank), "count ", call.count,
         " overflows the buffer size");
  }
  BufferLayout layout = layoutOf(call, rank, size, elementSize);
  layout.agreementHash ^= call.agreement;
  const size_t inBytes = product(call, rank, layout.inputCount, elementSize);
  const size_t outBytes = product(call, rank, layout.outputCount, elementSize);
  if ((inBytes > 0 && call.input == nullptr) || (outBytes > 0 && call.output == nullptr)) {
    const bool send = inBytes > 0 && call.input == nullptr;
    fail(Status::kInvalidArgument, where(call, rank), "null ", send ? "send" : "receive",
         " buffer for ", send ? layout.inputCount : layout.outputCount, " elements");
  }
  const auto* in = static_cast<const std::byte*>(call.input);
  const auto* out = static_cast<const std::byte*>(call.output);
  const bool overlap = inBytes > 0 && outBytes > 0 && in < out + outBytes && out < in + inBytes;
  if (overlap && !layout.inPlace) {
    fail(Status::kInvalidArgument, where(call, rank),
         "send and receive buffers overlap other than in place");
  }
  // A tiny slice on a huge buffer would build a schedule of millions of steps.
  const size_t bytes = std::max({inBytes, outBytes, layout.movedCount * elementSize});
  const size_t slices = (bytes + chunkBytes - 1) / chunkBytes;
  const size_t most = maxSlicesPerCollective(size);
  if (slices > most) {
    fail(Status::kInvalidArgument, where(call, rank), bytes, " bytes would be cut into ", slices,
         " slices of GCCL_CHUNK_BYTES=", chunkBytes, " (at most ", most, " at ", size,
         " ranks): raise GCCL_CHUNK_BYTES to at least ", (bytes + most - 1) / most);
  }
  return layout;
}

}  // namespace gccl
