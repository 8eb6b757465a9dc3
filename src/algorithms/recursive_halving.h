// Recursive halving reduce-scatter: log2(n) exchanges, each of half the data of the one before,
// instead of the ring's n - 1; any rank count (the excess over a power of two is folded in
// first and served last).
#pragma once

#include <vector>

#include "algorithms/schedule.h"

namespace gccl {

std::vector<int> recursiveHalvingPeers(int rank, int size);

// Rank r's output (count elements) is the reduction of every input's block r.
Schedule recursiveHalvingReduceScatter(const ScheduleShape& shape);

}  // namespace gccl
