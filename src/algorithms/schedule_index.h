// A schedule's steps sorted by who takes part in them, worked out once per schedule (the
// communicator caches schedules) instead of in every execution of it: the local steps, and per
// peer its sends and its receives in schedule order — the order that matches them to the
// peer's — with what its receive slots need.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "algorithms/schedule.h"

namespace gccl {

struct PeerSteps {
  int peer = -1;
  std::vector<int32_t> sends;
  std::vector<int32_t> recvs;
  size_t recvReduces = 0;        // RecvReduce steps among `recvs`
  size_t largestRecvReduce = 0;  // elements of the largest of them
};

// The longest reduction chain (the direct allreduce's: one step per other rank).
inline constexpr size_t kMaxChainLinks = 64;

// One step of a reduction chain (Step::reducedWithNext), and the entry of its peer in
// ScheduleIndex::peers.
struct ChainLink {
  int32_t step = 0;
  uint32_t peer = 0;
};

struct ScheduleIndex {
  std::vector<int32_t> local;    // copy, reduce, divide and wait steps, in schedule order
  std::vector<PeerSteps> peers;  // in the order of each peer's first step
  // Reduction chains, each in schedule order (its last step is the one not flagged), and the
  // chain of every step (-1: none); empty when the schedule has none.
  std::vector<std::vector<ChainLink>> chains;
  std::vector<int32_t> chainOf;
};

// Throws Error(kInternalError) for a reducedWithNext step whose next step does not continue
// its chain as Step::reducedWithNext says: a RecvReduce from a peer not yet in the chain, over
// the same range of the same buffer, reading this one's result and waiting on it, and the only
// step that waits on it; and for a chain longer than kMaxChainLinks, a link that divides
// before the last, or one that waits on a link of its chain other than the one before it.
ScheduleIndex indexSchedule(const Schedule& schedule);

}  // namespace gccl
