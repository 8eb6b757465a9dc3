// Hierarchical allreduce for ranks spread over hosts, each with the same number m of ranks:
//   1. within each host, a ring reduce-scatter: local rank l holds segment l (of m) reduced
//      over its host;
//   2. between hosts, the ranks with local index l allreduce segment l (a ring, or halving-
//      doubling when the segment fits in one slice: latency then dominates);
//   3. within each host, a ring allgather of the segments.
// Only 1/m of the buffer crosses hosts per rank, and the slow links carry H-rank collectives
// instead of n-rank ones. Hosts come from ScheduleShape::hostOf (the census, or GCCL_HOST_ID).
#pragma once

#include <vector>

#include "algorithms/schedule.h"

namespace gccl {

// At least two hosts with equally many ranks each.
bool hierarchicalSupports(const ScheduleShape& shape);
std::vector<int> hierarchicalPeers(const ScheduleShape& shape);
Schedule hierarchicalAllreduce(const ScheduleShape& shape);

}  // namespace gccl
