// Bruck's allgather: ceil(log2 n) rounds for any rank count, instead of the ring's n - 1. Every
// block lands straight in its place in the output (transfers are ranges of the output, not a
// rotated staging buffer), so there is no final rotation.
#pragma once

#include <vector>

#include "algorithms/schedule.h"

namespace gccl {

// The ranks r - 2^k and r + 2^k for every 2^k < n.
std::vector<int> bruckPeers(int rank, int size);

// Output block r (count elements at r * count) comes from rank r's input.
Schedule bruckAllgather(const ScheduleShape& shape);
// Block r (shape.blocks[r]: any length, any place) comes from rank r's input.
Schedule bruckAllgatherV(const ScheduleShape& shape);

}  // namespace gccl
