// One rank's part of the allreduce_perf sweep, and the report rank 0 prints.
#pragma once

#include <vector>

#include <gccl/gccl.h>

#include "perf_options.h"

namespace gccl::perf {

struct Measurement {
  double timeUs = 0;  // median over iterations of the slowest rank's time
  double algbw = 0;   // GB/s
  double busbw = 0;
  // Elements of this rank's own output that differ from the exact result. Never summed with
  // gcclAllReduce: a broken allreduce could hide its own errors. The #wrong columns and the
  // JSON show rank 0's; the local launcher adds up every rank's, and under mpirun/torchrun each
  // rank reports its own and exits non-zero on any.
  size_t wrong = 0;
};

struct SizeResult {
  size_t bytes = 0;
  size_t count = 0;
  Measurement outOfPlace;
  Measurement inPlace;
};

// Runs the sweep on `comm`; every rank returns the same timings and its own wrong counts (a rank
// with wrong elements says so on stderr). Returns false (after printing the gccl error) when a
// collective fails.
bool runSweep(const PerfOptions& options, gcclComm_t comm, std::vector<SizeResult>& results);

void printHeader(const PerfOptions& options, int nranks);
void printRow(const PerfOptions& options, const SizeResult& result);
void printFooter(const std::vector<SizeResult>& results);
bool writeJson(const PerfOptions& options, int nranks, const std::vector<SizeResult>& results);

}  // namespace gccl::perf
