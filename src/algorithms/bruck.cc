#include "algorithms/bruck.h"

#include <algorithm>
#include <set>

#include "algorithms/partition.h"
#include "algorithms/steps.h"

namespace gccl {

// Before round k (distance d = 2^k) rank r holds blocks r .. r+d-1 (mod n). It sends the first
// min(d, n-d) of them to r - d and receives as many from r + d, the blocks r+d onwards, so it
// then holds min(2d, n) blocks. 5 ranks, the blocks rank 0 holds:
//
//   start    {0}
//   round 0  {0, 1}           sends 0 to 4,      receives 1 from 1
//   round 1  {0, 1, 2, 3}     sends 0-1 to 3,    receives 2-3 from 2
//   round 2  {0, 1, 2, 3, 4}  sends 0 to 1,      receives 4 from 4
//
// A round's blocks travel as one message per run of blocks that follow each other in the
// output (for allgatherv they may be anywhere, in any order; empty blocks are skipped), each
// cut into slices, so no message is unbounded. Sender and receiver derive the messages from the
// same blocks, so they pair up. A round waits for every receive of the rounds before it: what a
// rank forwards is exactly what it has received so far.

namespace {

int wrap(long long value, int size) {
  const long long m = value % size;
  return static_cast<int>(m < 0 ? m + size : m);
}

// The messages carrying blocks first .. first+blocksToMove-1 (mod n), as ranges of the output;
// one empty message if they hold nothing, so that every round exchanges something.
std::vector<Range> messagesOf(const std::vector<Range>& blocks, int first, int blocksToMove,
                              size_t sliceElements) {
  const int n = static_cast<int>(blocks.size());
  std::vector<Range> runs;
  for (int i = 0; i < blocksToMove; ++i) {
    const Range& block = blocks[static_cast<size_t>(wrap(first + i, n))];
    if (block.count == 0) continue;
    if (!runs.empty() && runs.back().end() == block.offset) {
      runs.back().count += block.count;
    } else {
      runs.push_back(block);
    }
  }
  if (runs.empty()) runs.push_back({0, 0});
  std::vector<Range> messages;
  for (const Range& run : runs) {
    for (const Range& part : slicesOf(run, sliceElements)) messages.push_back(part);
  }
  return messages;
}

Schedule bruck(const ScheduleShape& shape, const std::vector<Range>& blocks) {
  Schedule schedule;
  const int n = shape.size;
  const int r = shape.rank;
  const Range own = blocks[static_cast<size_t>(r)];
  // Complete once every block this rank holds is in its output.
  int32_t held = kNoStep;
  if (!shape.inPlace) {
    held = addCopy(schedule, BufferRole::kInput, {0, own.count}, BufferRole::kOutput, own, kNoStep);
  }
  for (int d = 1; d < n; d <<= 1) {
    const int blocksToMove = std::min(d, n - d);
    const int to = wrap(r - d, n);
    const int from = wrap(r + d, n);
    if (d == 1) {
      // Only the own block moves: straight from the input, without waiting for the copy. Its
      // slices are those the receiver cuts from the same block.
      for (const Range& part : slicesOf({0, own.count}, shape.sliceElements)) {
        addSend(schedule, to, BufferRole::kInput, part, kNoStep);
      }
    } else {
      for (const Range& part : messagesOf(blocks, r, blocksToMove, shape.sliceElements)) {
        addSend(schedule, to, BufferRole::kOutput, part, held);
      }
    }
    std::vector<int32_t> received = {held};
    for (const Range& part : messagesOf(blocks, from, blocksToMove, shape.sliceElements)) {
      received.push_back(addRecv(schedule, from, BufferRole::kOutput, part, kNoStep));
    }
    if (2 * d < n) held = schedule.join(received);  // the next round forwards them
  }
  return schedule;
}

}  // namespace

std::vector<int> bruckPeers(int rank, int size) {
  std::set<int> peers;
  for (int d = 1; d < size; d <<= 1) {
    peers.insert(wrap(rank - d, size));
    peers.insert(wrap(rank + d, size));
  }
  return {peers.begin(), peers.end()};
}

Schedule bruckAllgather(const ScheduleShape& shape) {
  std::vector<Range> blocks;
  blocks.reserve(static_cast<size_t>(shape.size));
  for (int r = 0; r < shape.size; ++r) {
    blocks.push_back({static_cast<size_t>(r) * shape.count, shape.count});
  }
  return bruck(shape, blocks);
}

Schedule bruckAllgatherV(const ScheduleShape& shape) {
  return bruck(shape, shape.blocks);
}

}  // namespace gccl
