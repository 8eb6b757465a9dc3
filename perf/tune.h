// allreduce_perf --tune FILE: calibrates the cost model on this machine and writes the figures
// that GCCL_TUNE_FILE=FILE makes every later job use (rank 0's file, shared at init).
//   1. reduction speed (gamma): the float32 sum kernel on 16 MiB, timed in this process;
//   2. latency and bandwidth (alpha, beta): the ring allreduce at 8 B and 16 MiB over --np
//      local ranks, solved from the ring's closed form;
//   3. per algorithm, how far its measured times stray from its closed form: the latency
//      and bandwidth scales of each allreduce algorithm (and the barrier, an empty allreduce)
//      and of each all-to-all algorithm.
// It runs local ranks: one machine's loopback gives both the intra- and the inter-host figures
// (docs/tuning.md says how to set the inter_* lines for a cluster).
#pragma once

#include "perf_options.h"

namespace gccl::perf {

int runTune(const PerfOptions& options, const char* path);

}  // namespace gccl::perf
