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
  size_t wrong = 0;  // summed over ranks
};

struct SizeResult {
  size_t bytes = 0;
  size_t count = 0;
  Measurement outOfPlace;
  Measurement inPlace;
};

// Runs the sweep on `comm`; every rank returns the same results. Returns false (after printing
// the gccl error) when a collective fails.
bool runSweep(const PerfOptions& options, gcclComm_t comm, std::vector<SizeResult>& results);

void printHeader(const PerfOptions& options, int nranks);
void printRow(const PerfOptions& options, const SizeResult& result);
void printFooter(const std::vector<SizeResult>& results);
bool writeJson(const PerfOptions& options, int nranks, const std::vector<SizeResult>& results);

}  // namespace gccl::perf
