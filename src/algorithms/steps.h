// One line per step kind for the schedule builders that need many kinds (trees, Bruck, recursive
// halving), and a join of any number of steps. Each returns the index of the step it appended.
#pragma once

#include <vector>

#include "algorithms/schedule.h"

namespace gccl {

inline int32_t addSend(Schedule& schedule, int peer, BufferRole source, Range input,
                       int32_t after) {
  Step step;
  step.kind = StepKind::kSend;
  step.source = source;
  step.peer = peer;
  step.input = input;
  step.after = {after, kNoStep};
  return schedule.add(step);
}

inline int32_t addRecv(Schedule& schedule, int peer, BufferRole target, Range output,
                       int32_t after) {
  Step step;
  step.kind = StepKind::kRecv;
  step.target = target;
  step.peer = peer;
  step.output = output;
  step.after = {after, kNoStep};
  return schedule.add(step);
}

// target[output] = source[input] op received, or received op source[input] if receivedFirst.
inline int32_t addRecvReduce(Schedule& schedule, int peer, BufferRole source, Range input,
                             BufferRole target, Range output, bool receivedFirst, int32_t after) {
  Step step;
  step.kind = StepKind::kRecvReduce;
  step.source = source;
  step.target = target;
  step.peer = peer;
  step.input = input;
  step.output = output;
  step.receivedFirst = receivedFirst;
  step.after = {after, kNoStep};
  return schedule.add(step);
}

// A step between this rank's own buffers, from source[input] into target[output].
inline int32_t addLocal(Schedule& schedule, StepKind kind, BufferRole source, Range input,
                        BufferRole target, Range output, int32_t after) {
  Step step;
  step.kind = kind;
  step.source = source;
  step.target = target;
  step.input = input;
  step.output = output;
  step.after = {after, kNoStep};
  return schedule.add(step);
}

inline int32_t addCopy(Schedule& schedule, BufferRole source, Range input, BufferRole target,
                       Range output, int32_t after) {
  return addLocal(schedule, StepKind::kCopy, source, input, target, output, after);
}

// target[output] = target[output] op source[input]: a local operand joins a partial result.
inline int32_t addReduce(Schedule& schedule, BufferRole source, Range input, BufferRole target,
                         Range output, int32_t after) {
  return addLocal(schedule, StepKind::kReduce, source, input, target, output, after);
}

// Divides target[output] by the rank count: the last step of an average.
inline int32_t addDivide(Schedule& schedule, Range output, int32_t after,
                         BufferRole target = BufferRole::kOutput) {
  Step step;
  step.kind = StepKind::kDivide;
  step.source = target;
  step.target = target;
  step.output = output;
  step.after = {after, kNoStep};
  return schedule.add(step);
}

}  // namespace gccl
