// Forks N local ranks and waits for them, bounded in time: a benchmark must fail, not hang.
#pragma once

#include <chrono>
#include <functional>

#include "../cpu_binding.h"

namespace baselines {

// Runs body(rank) in `nranks` forked processes, rank r pinned to `placement[r]` (as gccl's
// perf tools place theirs, cpu_binding.h; an empty set, or no entry, leaves it unbound). Returns 0
// when all of them return 0; otherwise, as soon as one fails, kills the rest and returns its exit
// status (128 + signal when killed). After `timeout` kills every rank and returns 124, as
// timeout(1) does. Call it before any thread exists: fork copies only the calling thread.
int runLocalRanks(int nranks, std::chrono::seconds timeout, const cpu_binding::Placement& placement,
                  const std::function<int(int rank)>& body);

}  // namespace baselines
