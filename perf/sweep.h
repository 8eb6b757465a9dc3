// One rank's part of a perf tool's sweep: per size, a checked call, then timed calls.
#pragma once

#include <span>
#include <string>
#include <vector>

#include <gccl/gccl.h>

#include "collective.h"
#include "perf_options.h"

namespace gccl::perf {

struct Measurement {
  double timeUs = 0;  // median over iterations of the slowest rank's time
  double algbw = 0;   // GB/s
  double busbw = 0;
  // Elements of this rank's own output that differ from the exact result. Never summed with
  // gccl: a broken collective could hide its own errors. The #wrong columns and the JSON show
  // the reporting rank's; the local launcher adds up every rank's, and under mpirun/torchrun
  // each rank reports its own and exits non-zero on any.
  size_t wrong = 0;
};

struct SizeResult {
  std::string algorithm;  // -a A,B,...: the algorithm of the row's communicator; else empty
  size_t bytes = 0;       // the size column (collective.h)
  size_t count = 0;       // the call's count argument
  Measurement outOfPlace;
  Measurement inPlace;
};

// The rank that prints the table and writes the JSON: the root of a rooted collective (whose
// output is the one reduce defines), else rank 0.
int reportingRank(const CollectiveSpec& spec, const PerfOptions& options);

// Runs the sweep on `comms`: one communicator, or one per algorithm of options.algorithmsInTurn,
// whose calls it takes in turn (a row per size and communicator, in their order). Every rank
// returns the same timings and its own wrong counts (a rank with wrong elements says so on
// stderr). Returns false (after printing the gccl error) when a collective fails.
bool runSweep(const CollectiveSpec& spec, const PerfOptions& options,
              std::span<const gcclComm_t> comms, std::vector<SizeResult>& results);

}  // namespace gccl::perf
