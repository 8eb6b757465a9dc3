// Command line of the baseline perf tools: the nccl-tests flags that gccl's own perf tools
// take, plus a few flags specific to one tool.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "../cpu_binding.h"
#include "perf_collective.h"
#include "perf_types.h"

namespace baselines {

// kStream: the raw TCP ring of tcp_stream_perf (forks its ranks, like the Gloo tool).
enum class Tool { kGloo, kMpi, kStream };

struct PerfArgs {
  // Defaults as gccl's allreduce_perf.
  size_t minBytes = 8;                 // -b
  size_t maxBytes = size_t{64} << 20;  // -e
  double factor = 2;                   // -f
  int iters = 20;                      // -n
  int warmup = 5;                      // -w
  bool check = true;                   // -c
  DType dtype = DType::kFloat32;       // -d
  Op op = Op::kSum;                    // -o
  std::string json;                    // --json FILE (written by rank 0)
  // Gloo and MPI: which collective; allreduce's table and JSON are as before the others.
  Collective collective = Collective::kAllreduce;  // --collective
  int root = 0;                                    // -r, broadcast and reduce
  // Gloo only: one of the collective's algorithms (gloo_collectives.h) or all.
  std::string algo = "all";  // --algo
  // Gloo and stream: the tool forks its own local ranks.
  int np = 2;  // --np
  // Gloo and stream: the forked ranks pinned each to its own CPUs, as gccl's tools pin theirs.
  cpu_binding::Binding binding = cpu_binding::Binding::kCpus;  // --bind
  int timeoutSec = 600;  // --timeout: the whole run, after which ranks are killed
  // Stream only: congestion control of its sockets, as GCCL_SOCKET_CONGESTION ("auto": reno,
  // which is what gccl picks between ranks of one machine; "system": the kernel's default).
  std::string congestion = "auto";  // --congestion
  // MPI only: the launcher picks the transport, so the caller tells us its name.
  std::string transportLabel = "unknown";  // --transport-label
};

// Parses "4", "16K", "64M", "1.5G", "64MB" (powers of 1024), as gccl's allreduce_perf does.
std::optional<size_t> parseSize(const std::string& text);

// The swept sizes, as gccl's allreduce_perf steps them: minBytes, times factor, ..., the last
// one capped at maxBytes.
std::vector<size_t> sweepSizes(const PerfArgs& args);

// Returns nullopt after printing the reason (or the usage for -h) to stderr.
std::optional<PerfArgs> parseArgs(int argc, char** argv, Tool tool);

}  // namespace baselines
