#include "algorithms/ring.h"

#include <algorithm>

#include "algorithms/partition.h"

namespace gccl {

// The data flow of allreduce for 4 ranks (segment k is the k-th quarter of the buffer):
//
//   reduce-scatter step s: rank r sends segment r-s-1 to r+1, and receives segment r-s-2
//   from r-1, reducing it into its output. After n-1 steps rank r owns the reduced segment r.
//
//          step 0         step 1         step 2
//   r0:  send 3 -> r1   send 2 -> r1   send 1 -> r1    owns 0
//   r1:  send 0 -> r2   send 3 -> r2   send 2 -> r2    owns 1
//
//   allgather step s: rank r sends segment r-s and receives segment r-s-1 in place.
//
// Each segment is cut into the same number of slices, and slice j of step s+1 depends only
// on slice j of step s, so receiving, reducing and sending overlap along the ring. An
// allgatherv's blocks may differ wildly in size: each is cut by its own size instead (slice j
// of a block still waits only for slice j of the same block), so a 5 GiB block beside empty
// ones costs its own slices, not that many empty messages per block.
//
// The reduction order needs no care here: each segment is reduced once, along one chain of
// ranks, and then copied to everyone, so every rank ends with the owner's bits.
//
// No dependency protects the allgather's receive into segment r-s-1 from an earlier send of the
// same memory (in place, reduce-scatter step 0 sends input segment r-1). Causality does: that
// data can only arrive after it travelled the whole ring, which starts with this rank's send
// having been consumed. This holds for any transport whose send completes once the bytes are
// taken; one that completed receives early (speculatively) would need an explicit edge.
//
// Broadcast and reduce run along the same ring as a pipelined chain: from the root onwards
// (broadcast) or towards it (reduce), slice j moving one hop while slice j+1 follows.

namespace {

size_t wrap(long long value, int size) {
  const long long m = value % size;
  return static_cast<size_t>(m < 0 ? m + size : m);
}

// How a ring cuts its segments: all alike, in the largest one's slice count (the reductions
// reuse work slots by slice index), or each by its own size (an allgatherv's blocks).
enum class Slicing { kUniform, kPerSegment };

size_t slicesOfCount(size_t count, size_t sliceElements) {
  return std::max<size_t>(1, (count + sliceElements - 1) / sliceElements);
}

// The ring's neighbours and the segments it moves, each cut into slicesOf(segment) slices.
struct RingGeometry {
  int rank;
  int size;
  std::vector<Range> segments;  // indexed by rank
  std::vector<size_t> slices;   // likewise
  int right;
  int left;

  RingGeometry(const ScheduleShape& s, std::vector<Range> segmentsByRank,
               Slicing slicing = Slicing::kUniform)
      : rank(s.rank),
        size(s.size),
        segments(std::move(segmentsByRank)),
        slices(slicesFor(segments, s.sliceElements, slicing)),
        right(static_cast<int>(wrap(s.rank + 1, s.size))),
        left(static_cast<int>(wrap(s.rank - 1, s.size))) {}

  static std::vector<size_t> slicesFor(const std::vector<Range>& segments, size_t sliceElements,
                                       Slicing slicing) {
    std::vector<size_t> slices;
    for (const Range& segment : segments) {
      slices.push_back(slicesOfCount(segment.count, sliceElements));
    }
    if (slicing == Slicing::kUniform) {
      std::fill(slices.begin(), slices.end(), *std::max_element(slices.begin(), slices.end()));
    }
    return slices;
  }

  size_t slicesOf(long long segment) const { return slices[wrap(segment, size)]; }

  Range sliceOf(long long segment, size_t j) const {
    return slice(segments[wrap(segment, size)], slicesOf(segment), j);
  }
  // The same slice, counted from the start of its segment.
  Range localSliceOf(long long segment, size_t j) const {
    const Range within = sliceOf(segment, j);
    return {within.offset - segments[wrap(segment, size)].offset, within.count};
  }
};

// An allreduce's segments: the balanced split of the whole buffer.
std::vector<Range> balancedSegments(const ScheduleShape& shape) {
  std::vector<Range> segments;
  for (int r = 0; r < shape.size; ++r) {
    segments.push_back(
        balancedPiece(shape.count, static_cast<size_t>(shape.size), static_cast<size_t>(r)));
  }
  return segments;
}

// Blocks of `count` elements, rank r's at r x count.
std::vector<Range> equalBlocks(const ScheduleShape& shape) {
  std::vector<Range> blocks;
  for (int r = 0; r < shape.size; ++r)
    blocks.push_back({static_cast<size_t>(r) * shape.count, shape.count});
  return blocks;
}

Step transfer(StepKind kind, BufferRole source, int peer, Range input, Range output, int32_t after,
              BufferRole target = BufferRole::kOutput) {
  Step step;
  step.kind = kind;
  step.source = source;
  step.target = target;
  step.peer = peer;
  if (kind != StepKind::kRecv && kind != StepKind::kDivide) step.input = input;
  if (kind != StepKind::kSend) step.output = output;
  step.after = {after, kNoStep};
  return step;
}

// An allreduce step touches the same range of whichever buffers it reads and writes.
Step transfer(StepKind kind, BufferRole source, int peer, Range range, int32_t after) {
  return transfer(kind, source, peer, range, range, after);
}

// Sends segment r-s and receives segment r-s-1 into the output, for s = 0 .. n-2; slice j of
// the first send waits for ready[j], and slice j of every later send for the receive of the
// same slice of the same segment one step before.
void appendAllgatherSteps(Schedule& schedule, const RingGeometry& ring,
                          const std::vector<int32_t>& ready) {
  const long long r = ring.rank;
  std::vector<int32_t> sendable = ready;  // per slice of segment r-s
  for (int s = 0; s + 1 < ring.size; ++s) {
    const size_t sends = ring.slicesOf(r - s), recvs = ring.slicesOf(r - s - 1);
    std::vector<int32_t> received(recvs, kNoStep);
    for (size_t j = 0; j < std::max(sends, recvs); ++j) {
      if (j < sends) {
        schedule.add(transfer(StepKind::kSend, BufferRole::kOutput, ring.right,
                              ring.sliceOf(r - s, j), sendable[j]));
      }
      if (j < recvs) {
        received[j] = schedule.add(transfer(StepKind::kRecv, BufferRole::kOutput, ring.left,
                                            ring.sliceOf(r - s - 1, j), kNoStep));
      }
    }
    sendable = std::move(received);
  }
}

// Allgather(v): this rank's input into its own block of the output (unless it is there
// already), then the ring passes every block round.
Schedule gatherAround(const ScheduleShape& shape, const RingGeometry& ring) {
  Schedule schedule;
  const size_t slices = ring.slicesOf(shape.rank);
  std::vector<int32_t> ready(slices, kNoStep);
  if (!shape.inPlace) {
    const Range own = ring.segments[static_cast<size_t>(shape.rank)];
    for (size_t j = 0; j < slices; ++j) {
      const Range part = slice(own, slices, j);
      ready[j] = schedule.add(transfer(StepKind::kCopy, BufferRole::kInput, -1,
                                       {part.offset - own.offset, part.count}, part, kNoStep));
    }
  }
  appendAllgatherSteps(schedule, ring, ready);
  return schedule;
}

// A pipelined chain round the ring, starting at rank `first`: this rank's place on it, its
// neighbours, and the slices of the whole buffer that move along it.
struct Chain {
  int position;
  int left;
  int right;
  size_t slices;
  Range whole;

  Chain(const ScheduleShape& shape, int first)
      : position(static_cast<int>(wrap(shape.rank - first, shape.size))),
        left(static_cast<int>(wrap(shape.rank - 1, shape.size))),
        right(static_cast<int>(wrap(shape.rank + 1, shape.size))),
        slices(std::max<size_t>(1, (shape.count + shape.sliceElements - 1) / shape.sliceElements)),
        whole{0, shape.count} {}

  Range part(size_t j) const { return slice(whole, slices, j); }
};

}  // namespace

std::vector<int> ringPeers(int rank, int size) {
  if (size == 1) return {};
  const int right = static_cast<int>(wrap(rank + 1, size));
  const int left = static_cast<int>(wrap(rank - 1, size));
  if (left == right) return {left};
  return {left, right};
}

std::vector<int32_t> appendRingReduceScatter(Schedule& schedule, const ScheduleShape& shape) {
  const RingGeometry ring(shape, balancedSegments(shape));
  const long long r = shape.rank;
  const size_t slices = ring.slicesOf(r);         // uniform: the same for every segment
  std::vector<int32_t> reduced(slices, kNoStep);  // last reduction per slice
  for (int s = 0; s + 1 < shape.size; ++s) {
    for (size_t j = 0; j < slices; ++j) {
      const BufferRole from = s == 0 ? BufferRole::kInput : BufferRole::kOutput;
      schedule.add(
          transfer(StepKind::kSend, from, ring.right, ring.sliceOf(r - s - 1, j), reduced[j]));
      reduced[j] = schedule.add(transfer(StepKind::kRecvReduce, BufferRole::kInput, ring.left,
                                         ring.sliceOf(r - s - 2, j), kNoStep));
    }
  }
  return reduced;
}

void appendRingAllgather(Schedule& schedule, const ScheduleShape& shape,
                         const std::vector<int32_t>& ready) {
  appendAllgatherSteps(schedule, RingGeometry(shape, balancedSegments(shape)), ready);
}

Schedule ringAllreduce(const ScheduleShape& shape) {
  Schedule schedule;
  if (shape.size == 1) {
    if (!shape.inPlace) {
      schedule.add(transfer(StepKind::kCopy, BufferRole::kInput, -1, {0, shape.count}, kNoStep));
    }
    return schedule;  // an average over one rank divides by one: nothing to do
  }
  std::vector<int32_t> ready = appendRingReduceScatter(schedule, shape);
  if (shape.average) {
    const RingGeometry ring(shape, balancedSegments(shape));
    for (size_t j = 0; j < ready.size(); ++j) {
      ready[j] = schedule.add(transfer(StepKind::kDivide, BufferRole::kOutput, -1,
                                       ring.sliceOf(shape.rank, j), ready[j]));
    }
  }
  appendRingAllgather(schedule, shape, ready);
  return schedule;
}

Schedule ringAllgather(const ScheduleShape& shape) {
  return gatherAround(shape, RingGeometry(shape, equalBlocks(shape)));
}

Schedule ringAllgatherV(const ScheduleShape& shape) {
  return gatherAround(shape, RingGeometry(shape, shape.blocks, Slicing::kPerSegment));
}

// Partial results roll through the work buffer (one segment long): the partial reduced at step s
// is what step s+1 sends, so each reduction waits for the send that still reads its slot. The
// last step writes the output, so the input is never written, in place or not.
Schedule ringReduceScatter(const ScheduleShape& shape) {
  const RingGeometry ring(shape, equalBlocks(shape));
  const long long r = shape.rank;
  Schedule schedule;
  schedule.workElements = shape.size > 2 ? shape.count : 0;
  if (shape.size == 1) {
    if (!shape.inPlace) {
      schedule.add(transfer(StepKind::kCopy, BufferRole::kInput, -1, {0, shape.count},
                            {0, shape.count}, kNoStep));
    }
    return schedule;
  }
  const size_t slices = ring.slicesOf(r);  // uniform: the same for every segment
  std::vector<int32_t> reduced(slices, kNoStep);
  for (int s = 0; s + 1 < shape.size; ++s) {
    const bool last = s + 2 == shape.size;
    for (size_t j = 0; j < slices; ++j) {
      const Range local = ring.localSliceOf(r - s - 1, j);
      const int32_t sent =
          s == 0 ? schedule.add(transfer(StepKind::kSend, BufferRole::kInput, ring.right,
                                         ring.sliceOf(r - 1, j), {}, kNoStep))
                 : schedule.add(transfer(StepKind::kSend, BufferRole::kWork, ring.right, local, {},
                                         reduced[j]));
      Step reduce = transfer(StepKind::kRecvReduce, BufferRole::kInput, ring.left,
                             ring.sliceOf(r - s - 2, j), ring.localSliceOf(r - s - 2, j), sent,
                             last ? BufferRole::kOutput : BufferRole::kWork);
      reduce.after[1] = reduced[j];
      reduced[j] = schedule.add(reduce);
    }
  }
  if (shape.average) {
    for (size_t j = 0; j < slices; ++j) {
      schedule.add(transfer(StepKind::kDivide, BufferRole::kOutput, -1, {}, ring.localSliceOf(r, j),
                            reduced[j]));
    }
  }
  return schedule;
}

Schedule ringBroadcast(const ScheduleShape& shape) {
  Schedule schedule;
  const Chain chain(shape, shape.root);
  if (chain.position == 0 && !shape.inPlace) {
    schedule.add(transfer(StepKind::kCopy, BufferRole::kInput, -1, chain.whole, kNoStep));
  }
  if (shape.size == 1) return schedule;
  for (size_t j = 0; j < chain.slices; ++j) {
    int32_t received = kNoStep;
    if (chain.position > 0) {
      received = schedule.add(
          transfer(StepKind::kRecv, BufferRole::kOutput, chain.left, chain.part(j), kNoStep));
    }
    if (chain.position + 1 < shape.size) {
      // The root sends from its input: no need to wait for its own copy.
      const BufferRole from = chain.position == 0 ? BufferRole::kInput : BufferRole::kOutput;
      schedule.add(transfer(StepKind::kSend, from, chain.right, chain.part(j), received));
    }
  }
  return schedule;
}

// The chain starts right of the root and ends at it; ranks in between reduce into the work
// buffer and pass the partial on.
Schedule ringReduce(const ScheduleShape& shape) {
  Schedule schedule;
  const bool root = shape.rank == shape.root;
  if (shape.size == 1) {
    if (!shape.inPlace) {
      const Range whole{0, shape.count};
      schedule.add(transfer(StepKind::kCopy, BufferRole::kInput, -1, whole, kNoStep));
    }
    return schedule;
  }
  const Chain chain(shape, shape.root + 1);
  const bool first = chain.position == 0;
  const BufferRole into = root ? BufferRole::kOutput : BufferRole::kWork;
  if (!root && !first) schedule.workElements = shape.count;
  for (size_t j = 0; j < chain.slices; ++j) {
    const Range part = chain.part(j);
    int32_t partial = kNoStep;
    if (!first) {
      partial = schedule.add(transfer(StepKind::kRecvReduce, BufferRole::kInput, chain.left, part,
                                      part, kNoStep, into));
    }
    if (!root) {
      schedule.add(transfer(StepKind::kSend, first ? BufferRole::kInput : BufferRole::kWork,
                            chain.right, part, part, partial));
    } else if (shape.average) {
      schedule.add(transfer(StepKind::kDivide, BufferRole::kOutput, -1, {}, part, partial));
    }
  }
  return schedule;
}

}  // namespace gccl
