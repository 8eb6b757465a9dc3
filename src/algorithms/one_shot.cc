#include "algorithms/one_shot.h"

#include <vector>

#include "algorithms/partition.h"
#include "algorithms/steps.h"

namespace gccl {

namespace {

// The k-th destination (k = 1 .. n-1): rank r sends first to r+1, so that no rank is
// everyone's first.
int destination(const ScheduleShape& shape, int k) {
  return (shape.rank + k) % shape.size;
}

}  // namespace

// Per peer, both ends list one message per slice, in slice order.
Schedule oneShotAllreduce(const ScheduleShape& shape) {
  Schedule schedule;
  const Range whole{0, shape.count};
  if (shape.size == 1) {
    if (!shape.inPlace)
      addCopy(schedule, BufferRole::kInput, whole, BufferRole::kOutput, whole, kNoStep);
    return schedule;
  }
  // In place the input is the output, and the sends read it: the partial result grows in the
  // work buffer and is copied out once every peer has been sent the slice.
  const BufferRole partial = shape.inPlace ? BufferRole::kWork : BufferRole::kOutput;
  if (shape.inPlace) schedule.workElements = shape.count;
  for (const Range part : slicesOf(whole, shape.sliceElements)) {
    std::vector<int32_t> sent;
    for (int k = 1; k < shape.size; ++k) {
      sent.push_back(addSend(schedule, destination(shape, k), BufferRole::kInput, part, kNoStep));
    }
    // ((x0 op x1) op x2) ... in rank order; `previous` holds the partial result so far.
    int32_t previous = kNoStep;
    for (int p = 0; p < shape.size; ++p) {
      if (p == shape.rank) {
        // Rank 0's own input is the first operand, read where it lies by the next step.
        if (p > 0)
          previous = addReduce(schedule, BufferRole::kInput, part, partial, part, previous);
      } else if (p == 1 && shape.rank == 0) {
        previous =
            addRecvReduce(schedule, p, BufferRole::kInput, part, partial, part, false, kNoStep);
      } else if (p == 0) {
        previous = addRecv(schedule, p, partial, part, kNoStep);
      } else {
        previous = addRecvReduce(schedule, p, partial, part, partial, part, false, previous);
      }
    }
    // An average divides in the last reduction (fuseDivides), before the copy out.
    if (shape.average) previous = addDivide(schedule, part, previous, partial);
    if (shape.inPlace) {
      sent.push_back(previous);
      addCopy(schedule, BufferRole::kWork, part, BufferRole::kOutput, part, schedule.join(sent));
    }
  }
  return schedule;
}

}  // namespace gccl
