#include "algorithms/ring.h"

#include "algorithms/partition.h"

namespace gccl {

// The data flow for 4 ranks (segment k is the k-th quarter of the buffer):
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
// on slice j of step s, so receiving, reducing and sending overlap along the ring.
//
// The reduction order needs no care here: each segment is reduced once, along one chain of
// ranks, and then copied to everyone, so every rank ends with the owner's bits.
//
// No dependency protects the allgather's receive into segment r-s-1 from an earlier send of the
// same memory (in place, reduce-scatter step 0 sends input segment r-1). Causality does: that
// data can only arrive after it travelled the whole ring, which starts with this rank's send
// having been consumed. This holds for any transport whose send completes once the bytes are
// taken; one that completed receives early (speculatively) would need an explicit edge.

namespace {

size_t wrap(long long value, int size) {
  const long long m = value % size;
  return static_cast<size_t>(m < 0 ? m + size : m);
}

struct RingGeometry {
  ScheduleShape shape;
  size_t slices;
  int right;
  int left;

  explicit RingGeometry(const ScheduleShape& s)
      : shape(s),
        slices(slicesPerPiece(s.count, static_cast<size_t>(s.size), s.sliceElements)),
        right(static_cast<int>(wrap(s.rank + 1, s.size))),
        left(static_cast<int>(wrap(s.rank - 1, s.size))) {}

  Range sliceOf(long long segment, size_t j) const {
    const Range piece =
        balancedPiece(shape.count, static_cast<size_t>(shape.size), wrap(segment, shape.size));
    return slice(piece, slices, j);
  }
};

// An allreduce step touches the same range of whichever buffers it reads and writes.
Step transfer(StepKind kind, BufferRole source, int peer, Range range, int32_t after) {
  Step step;
  step.kind = kind;
  step.source = source;
  step.peer = peer;
  if (kind != StepKind::kRecv && kind != StepKind::kDivide) step.input = range;
  if (kind != StepKind::kSend) step.output = range;
  step.after = {after, kNoStep};
  return step;
}

}  // namespace

std::vector<int> ringPeers(int rank, int size) {
  if (size == 1) return {};
  ScheduleShape shape;
  shape.rank = rank;
  shape.size = size;
  const RingGeometry ring(shape);
  if (ring.left == ring.right) return {ring.left};
  return {ring.left, ring.right};
}

std::vector<int32_t> appendRingReduceScatter(Schedule& schedule, const ScheduleShape& shape) {
  const RingGeometry ring(shape);
  const long long r = shape.rank;
  std::vector<int32_t> reduced(ring.slices, kNoStep);  // last reduction per slice
  for (int s = 0; s + 1 < shape.size; ++s) {
    for (size_t j = 0; j < ring.slices; ++j) {
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
  const RingGeometry ring(shape);
  const long long r = shape.rank;
  std::vector<int32_t> previous = ready;
  for (int s = 0; s + 1 < shape.size; ++s) {
    for (size_t j = 0; j < ring.slices; ++j) {
      schedule.add(transfer(StepKind::kSend, BufferRole::kOutput, ring.right,
                            ring.sliceOf(r - s, j), previous[j]));
      previous[j] = schedule.add(transfer(StepKind::kRecv, BufferRole::kOutput, ring.left,
                                          ring.sliceOf(r - s - 1, j), kNoStep));
    }
  }
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
    const RingGeometry ring(shape);
    for (size_t j = 0; j < ring.slices; ++j) {
      ready[j] = schedule.add(transfer(StepKind::kDivide, BufferRole::kOutput, -1,
                                       ring.sliceOf(shape.rank, j), ready[j]));
    }
  }
  appendRingAllgather(schedule, shape, ready);
  return schedule;
}

}  // namespace gccl
