// Ring collectives, pipelined in slices: allreduce = reduce-scatter + allgather; allgather(v);
// reduce-scatter; and, along the ring as a pipelined chain, broadcast and reduce.
#pragma once

#include <vector>

#include "algorithms/schedule.h"

namespace gccl {

std::vector<int> ringPeers(int rank, int size);

// Appends the reduce-scatter of an allreduce, in the output buffer. On return, rank r's output
// holds the reduced segment r; the returned vector holds, per slice of that segment, the step
// that completes it.
std::vector<int32_t> appendRingReduceScatter(Schedule& schedule, const ScheduleShape& shape);

// Appends the allgather of every rank's segment r (of the output), starting once the steps in
// `ready` (one per slice of segment r) are complete. Segments are an allreduce's balanced split.
void appendRingAllgather(Schedule& schedule, const ScheduleShape& shape,
                         const std::vector<int32_t>& ready);

Schedule ringAllreduce(const ScheduleShape& shape);
// Output block r (count elements at r * count) comes from rank r's input.
Schedule ringAllgather(const ScheduleShape& shape);
// Block r (shape.blocks[r]) comes from rank r's input of shape.blocks[r].count elements.
Schedule ringAllgatherV(const ScheduleShape& shape);
// Rank r's output (count elements) is the reduction of every input's block r.
Schedule ringReduceScatter(const ScheduleShape& shape);
// The root's input reaches every rank's output along the ring, slice by slice.
Schedule ringBroadcast(const ScheduleShape& shape);
// Every input reduced into the root's output along the ring, slice by slice.
Schedule ringReduce(const ScheduleShape& shape);

}  // namespace gccl
