// What the reporting rank of a perf tool prints (the nccl-tests table) and writes (--json).
#pragma once

#include <vector>

#include "collective.h"
#include "perf_options.h"
#include "sweep.h"

namespace gccl::perf {

void printHeader(const CollectiveSpec& spec, const PerfOptions& options, int nranks);
void printRow(const CollectiveSpec& spec, const PerfOptions& options, const SizeResult& result);
void printFooter(const CollectiveSpec& spec, const PerfOptions& options,
                 const std::vector<SizeResult>& results);

// Keys as the baselines write them (perf/baselines/perf_report.cc), so compare.py lines them
// up. allreduce_perf's file is unchanged from before the other tools: "collective" is written
// only for the others, "root" for rooted ones and "algorithm" when one was chosen.
bool writeJson(const CollectiveSpec& spec, const PerfOptions& options, int nranks,
               const std::vector<SizeResult>& results);

}  // namespace gccl::perf
