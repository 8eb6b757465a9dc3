// Ring allreduce = ring reduce-scatter followed by ring allgather, pipelined in slices.
#pragma once

#include <vector>

#include "algorithms/schedule.h"

namespace gccl {

std::vector<int> ringPeers(int rank, int size);

// Appends the reduce-scatter. On return, rank r's output holds the reduced segment r; the
// returned vector holds, per slice of that segment, the step that completes it.
std::vector<int32_t> appendRingReduceScatter(Schedule& schedule, const ScheduleShape& shape);

// Appends the allgather of every rank's segment r (of the output), starting once the steps in
// `ready` (one per slice of segment r) are complete.
void appendRingAllgather(Schedule& schedule, const ScheduleShape& shape,
                         const std::vector<int32_t>& ready);

Schedule ringAllreduce(const ScheduleShape& shape);

}  // namespace gccl
