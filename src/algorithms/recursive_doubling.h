// Recursive doubling: log2(n) rounds of whole-buffer exchange with rank ^ 2^k. One message
// latency per round instead of the ring's 2(n-1): the choice for small messages. Power-of-two
// rank counts only (the selector falls back to the ring otherwise).
#pragma once

#include <vector>

#include "algorithms/schedule.h"

namespace gccl {

bool recursiveDoublingSupports(int size);
std::vector<int> recursiveDoublingPeers(int rank, int size);
Schedule recursiveDoublingAllreduce(const ScheduleShape& shape);

}  // namespace gccl
