// Recursive halving-doubling allreduce (Rabenseifner) for any rank count: a reduce-scatter by
// recursive halving, then an allgather by recursive doubling, over the largest power of two p
// <= n ranks. The n - p extra ranks fold in first (each sends its buffer to a partner, which
// reduces it) and get the result back at the end. 2 log2(p) (+2) exchanges, and each rank
// sends about twice its buffer, like a ring: the bandwidth of a ring at the latency of a tree.
#pragma once

#include <vector>

#include "algorithms/schedule.h"

namespace gccl {

std::vector<int> halvingDoublingPeers(int rank, int size);
Schedule halvingDoublingAllreduce(const ScheduleShape& shape);

}  // namespace gccl
