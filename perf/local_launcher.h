// Starts N ranks of this program on this host (allreduce_perf --np N): the parent makes the
// unique id, forks the ranks, and reaps them within a time bound.
#pragma once

#include <functional>

#include <gccl/gccl.h>

namespace gccl::perf {

// Runs `rankMain(id, rank, nranks)` in `nranks` child processes. Returns 0 when every child
// exits 0; otherwise kills the rest and returns 1. Children still running after
// `timeoutSeconds` are killed (the run then fails).
int runLocalRanks(int nranks, int timeoutSeconds,
                  const std::function<int(const gcclUniqueId&, int rank, int nranks)>& rankMain);

}  // namespace gccl::perf
