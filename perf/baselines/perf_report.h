// Results of a sweep, and their two outputs: the nccl-tests style table that gccl's perf tools
// print, and the JSON file that compare.py reads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "perf_collective.h"
#include "perf_types.h"

namespace baselines {

struct RunInfo {
  Collective collective = Collective::kAllreduce;
  int root = 0;           // rooted collectives only
  std::string library;    // "gloo", "openmpi"
  std::string algorithm;  // "ring_chunked", ..., "default"
  std::string transport;  // "tcp", "sm"
  std::string note;       // appended to the table's first line
  int nranks = 0;
  DType dtype = DType::kFloat32;
  Op op = Op::kSum;  // shown as "none" for collectives that reduce nothing
  int iters = 0;
  int warmup = 0;
  bool check = true;
};

struct Timing {
  double timeUs = 0;
  double algbw = 0;  // GB/s, 1e9 B/s
  double busbw = 0;
  int64_t wrong = 0;
};

struct SizeResult {
  size_t bytes = 0;
  size_t count = 0;
  Timing oop;  // out-of-place
  Timing ip;   // in-place
};

struct Run {
  RunInfo info;
  std::vector<SizeResult> results;
};

// iterTimesUs holds, per timed iteration, the max over ranks; the median of those is the time.
// `bytes` is the size column.
Timing makeTiming(Collective c, size_t bytes, int nranks, std::vector<double> iterTimesUs,
                  int64_t wrong);

void printHeader(const RunInfo& info);
void printRow(const RunInfo& info, const SizeResult& result);
void printFooter(const std::vector<SizeResult>& results);

// One JSON object for a single run, a list of objects for several (gloo --algo all). Keys as
// gccl's tools write them: "collective" only when not allreduce, "root" for rooted ones.
bool writeJson(const std::string& path, const std::vector<Run>& runs);

}  // namespace baselines
