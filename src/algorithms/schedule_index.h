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

struct ScheduleIndex {
  std::vector<int32_t> local;    // copy, divide and wait steps, in schedule order
  std::vector<PeerSteps> peers;  // in the order of each peer's first step
};

ScheduleIndex indexSchedule(const Schedule& schedule);

}  // namespace gccl
