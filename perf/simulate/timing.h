// One simulated collective: the shape every rank builds its schedule from (what
// Communicator::start fills in), and the algorithm timed at it.
#pragma once

#include <cstddef>

#include "algorithms/registry.h"
#include "report.h"
#include "sim_options.h"

namespace gccl::sim {

// The collective's count argument for nccl-tests' `bytes` (float32): allgather and
// reduce-scatter ranks each contribute bytes/N.
size_t countFor(const SimOptions& options, size_t bytes);
// The larger buffer of a rank, in bytes: what the selector is given and busbw divides.
size_t bytesFor(const SimOptions& options, size_t count);

// Rank 0's shape (the selector's view); hosts hold consecutive ranks.
ScheduleShape shapeFor(const SimOptions& options, size_t count);

// Builds every rank's schedule with `algorithm` and times it.
SimRow timeAlgorithm(const Algorithm& algorithm, const SimOptions& options, size_t count);

}  // namespace gccl::sim
