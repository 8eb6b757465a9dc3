// Starts N ranks of this program on this host (<collective>_perf --np N): the parent makes the
// unique id, forks the ranks, reaps them within a time bound, and collects what each rank
// reports about its own result check.
#pragma once

#include <cstdint>
#include <functional>

#include <gccl/gccl.h>

#include "cpu_binding.h"

namespace gccl::perf {

// What one rank hands back to the launcher.
struct RankReport {
  int exitStatus = 1;
  uint64_t wrongElements = 0;  // in this rank's own output, over the whole sweep
};

// What the launcher saw of all ranks. The wrong elements are summed here, through a pipe from
// each child, never through gccl: a broken collective cannot hide its errors.
struct LocalRun {
  bool allSucceeded = false;  // every rank exited 0 and reported, none was killed
  int reported = 0;           // ranks whose report arrived
  uint64_t wrongElements = 0;
};

// Runs `rankMain(id, rank, nranks)` in `nranks` child processes, rank r pinned to
// `placement[r]` (cpu_binding.h; an empty set, or no entry, leaves it unbound). A child that
// fails makes the others fail within GCCL_TIMEOUT_MS; children still running after
// `timeoutSeconds` are killed. `tool` names the program in messages.
LocalRun runLocalRanks(
    const char* tool, int nranks, int timeoutSeconds, const cpu_binding::Placement& placement,
    const std::function<RankReport(const gcclUniqueId&, int rank, int nranks)>& rankMain);

}  // namespace gccl::perf
