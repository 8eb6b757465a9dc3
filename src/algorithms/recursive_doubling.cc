#include "algorithms/recursive_doubling.h"

namespace gccl {

bool recursiveDoublingSupports(int size) {
  return size > 0 && (size & (size - 1)) == 0;
}

std::vector<int> recursiveDoublingPeers(int rank, int size) {
  std::vector<int> peers;
  if (!recursiveDoublingSupports(size)) return peers;
  for (int distance = 1; distance < size; distance <<= 1) peers.push_back(rank ^ distance);
  return peers;
}

Schedule recursiveDoublingAllreduce(const ScheduleShape& shape) {
  Schedule schedule;
  int32_t previous = kNoStep;  // the last reduction: the partial result so far
  const Range whole{0, shape.count};
  if (!shape.inPlace && shape.size == 1) {
    Step copy;
    copy.kind = StepKind::kCopy;
    copy.input = whole;
    copy.output = whole;
    previous = schedule.add(copy);
  }
  for (int distance = 1; distance < shape.size; distance <<= 1) {
    // Round 0 reads the input; later rounds the partial result in the output.
    const BufferRole current = previous == kNoStep ? BufferRole::kInput : BufferRole::kOutput;
    Step send;
    send.kind = StepKind::kSend;
    send.source = current;
    send.peer = shape.rank ^ distance;
    send.input = whole;
    send.after = {previous, kNoStep};
    const int32_t sent = schedule.add(send);
    // The reduction overwrites what the send reads when in place, so it waits for the send.
    // Both partners combine the same two partials: the lower block's goes first on both, so
    // they compute the same bits (min/max of NaNs, NaN payloads of sums).
    Step reduce = send;
    reduce.kind = StepKind::kRecvReduce;
    reduce.output = whole;
    reduce.receivedFirst = send.peer < shape.rank;
    reduce.after = {sent, previous};
    previous = schedule.add(reduce);
  }
  if (shape.average && shape.size > 1) {
    Step divide;
    divide.kind = StepKind::kDivide;
    divide.source = BufferRole::kOutput;
    divide.output = whole;
    divide.after = {previous, kNoStep};
    schedule.add(divide);
  }
  return schedule;
}

}  // namespace gccl
