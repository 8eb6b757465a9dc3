#include "algorithms/direct.h"

#include <algorithm>

#include "algorithms/partition.h"
#include "algorithms/steps.h"

namespace gccl {

namespace {

Range pieceOf(const ScheduleShape& shape, int owner) {
  return balancedPiece(shape.count, static_cast<size_t>(shape.size), static_cast<size_t>(owner));
}

// The k-th peer of round 1 (k = 1 .. n-1): rank r sends first to r+1 and reduces first what
// r-1 sent, so no rank is everyone's first destination.
int sendPeer(const ScheduleShape& shape, int k) {
  return (shape.rank + k) % shape.size;
}
int reducePeer(const ScheduleShape& shape, int k) {
  return (shape.rank - k + shape.size) % shape.size;
}

}  // namespace

bool directSupports(const ScheduleShape& shape) {
  if (shape.size > kMaxDirectRanks) return false;
  if (!shape.hostOf || shape.hostOf->empty()) return true;
  const std::vector<int>& hosts = *shape.hostOf;
  return std::all_of(hosts.begin(), hosts.end(), [&](int host) { return host == hosts[0]; });
}

std::vector<int> directPeers(const ScheduleShape& shape) {
  std::vector<int> peers;
  for (int k = 1; k < shape.size; ++k) peers.push_back(sendPeer(shape, k));
  return peers;
}

// Per peer, both ends list the same messages in the same order: round 1 carries the
// receiver's piece, round 2 the sender's, each cut by slicesOf alike.
Schedule directAllreduce(const ScheduleShape& shape) {
  Schedule schedule;
  const int n = shape.size;
  const Range mine = pieceOf(shape, shape.rank);
  if (n == 1) {
    if (!shape.inPlace)
      addCopy(schedule, BufferRole::kInput, mine, BufferRole::kOutput, mine, kNoStep);
    return schedule;
  }
  // Round 1: every other rank's piece of the input, sliced; kept to order round 2's receives.
  // Each part offers its owner the same range of the output for the result (Step::writeBack):
  // where the owner can write into it, round 2 carries a notice instead of the data.
  std::vector<std::vector<int32_t>> sentTo(static_cast<size_t>(n));
  for (int k = 1; k < n; ++k) {
    const int peer = sendPeer(shape, k);
    for (const Range part : slicesOf(pieceOf(shape, peer), shape.sliceElements)) {
      const int32_t sent = addSend(schedule, peer, BufferRole::kInput, part, kNoStep);
      Step& send = schedule.steps[static_cast<size_t>(sent)];
      send.writeBack = true;
      send.target = BufferRole::kOutput;
      send.output = part;
      sentTo[static_cast<size_t>(peer)].push_back(sent);
    }
  }
  // Own piece, slice by slice: a fixed chain of reductions (the same order every call, so the
  // result does not depend on which peer was quickest), then the division of an average. The
  // chain runs in one pass over the slice once every peer's part has arrived
  // (Step::reducedWithNext): read from the peers' memory where they share it, each element is
  // then read once and written once, not n - 1 times.
  const std::vector<Range> mySlices = slicesOf(mine, shape.sliceElements);
  std::vector<int32_t> reduced;
  // receivedFrom[peer][j]: the reduction of slice j with what `peer` sent of it.
  std::vector<std::vector<int32_t>> receivedFrom(static_cast<size_t>(n));
  for (const Range part : mySlices) {
    int32_t previous = kNoStep;
    BufferRole partial = BufferRole::kInput;
    for (int k = 1; k < n; ++k) {
      if (previous != kNoStep) schedule.steps[static_cast<size_t>(previous)].reducedWithNext = true;
      const int peer = reducePeer(shape, k);
      previous =
          addRecvReduce(schedule, peer, partial, part, BufferRole::kOutput, part, false, previous);
      schedule.steps[static_cast<size_t>(previous)].writeBack = true;
      receivedFrom[static_cast<size_t>(peer)].push_back(previous);
      partial = BufferRole::kOutput;
    }
    if (shape.average) previous = addDivide(schedule, part, previous);
    reduced.push_back(previous);
  }
  // Round 2: the reduced piece to everyone; the others' pieces into the output, each slice
  // once its round-1 send has left (in place, it overwrites what that send read).
  for (int k = 1; k < n; ++k) {
    const int peer = sendPeer(shape, k);
    const auto p = static_cast<size_t>(peer);
    for (size_t j = 0; j < mySlices.size(); ++j) {
      const int32_t sent = addSend(schedule, peer, BufferRole::kOutput, mySlices[j], reduced[j]);
      schedule.steps[static_cast<size_t>(sent)].deliveredBy = receivedFrom[p][j];
    }
    const std::vector<Range> theirs = slicesOf(pieceOf(shape, peer), shape.sliceElements);
    for (size_t j = 0; j < theirs.size(); ++j) {
      const int32_t received =
          addRecv(schedule, peer, BufferRole::kOutput, theirs[j], sentTo[p][j]);
      schedule.steps[static_cast<size_t>(received)].deliveredBy = sentTo[p][j];
    }
  }
  return schedule;
}

}  // namespace gccl
