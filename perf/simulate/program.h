// The schedules of every rank, compacted for the simulator: 16 bytes per step plus 4 for its
// place in its peer queue, against ~56 for a Step. A 4096-rank ring allreduce has 16K steps
// per rank, 67M in all, so the compaction is what lets it fit in memory. Each rank's Schedule
// is built, compacted and dropped before the next is built.
//
// The queues mirror core/execution.h: per peer, the sends in schedule order and the receives
// in schedule order; the i-th send of a to b meets the i-th receive of b from a.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "algorithms/schedule.h"

namespace gccl::sim {

struct SimStep {
  uint32_t elements = 0;  // Step::count()
  std::array<int32_t, 2> after = {kNoStep, kNoStep};
  uint16_t queue = 0;  // the peer queue of a send or receive
  StepKind kind = StepKind::kWait;
  uint8_t state = 0;  // kDone | kArrived, set while simulating
};
static_assert(sizeof(SimStep) == 16);

inline constexpr uint8_t kDone = 1;
inline constexpr uint8_t kArrived = 2;  // a receive's data is all here

// One peer of one rank: where its sends and receives lie in RankProgram::order, and how far
// the simulation has posted and completed them.
struct PeerQueue {
  int32_t peer = -1;
  uint32_t mirror = 0;  // the peer's queue for this rank
  uint32_t sendBegin = 0, sendCount = 0;
  uint32_t recvBegin = 0, recvCount = 0;
  uint32_t sendsPosted = 0;
  uint32_t recvsPosted = 0, recvsDone = 0;
  uint32_t freeSlots = 0;  // scratch slots for RecvReduce receives
  bool reducing = false;   // the first incomplete receive is being reduced
};

struct RankProgram {
  std::vector<SimStep> steps;
  std::vector<PeerQueue> queues;  // sorted by peer
  std::vector<uint32_t> order;    // per queue: its sends, then its receives (step indices)
  std::vector<uint32_t> local;    // copy, reduce, divide and wait steps
  size_t remaining = 0;           // steps not yet done

  const SimStep& step(uint32_t index) const { return steps[index]; }
  bool ready(const SimStep& s) const;
};

struct Program {
  std::vector<RankProgram> ranks;
  uint64_t steps = 0;
  uint64_t messages = 0;
};

// Builds rank 0 .. nranks-1 one at a time and pairs up their queues. `slotsPerPeer` bounds the
// RecvReduce receives posted at once per peer (kScratchSlotsPerPeer in the engine). Throws
// Error(kInvalidArgument) for a schedule the simulator cannot run: a peer out of range, a
// dependency on a later step, more than 2^32-1 elements in one step, or sends and receives of
// two ranks that do not pair up in number and size.
Program compileProgram(int nranks, const std::function<Schedule(int rank)>& build,
                       size_t slotsPerPeer);

}  // namespace gccl::sim
