// The perf tools' command line, nccl-tests style: -b -e -f -n -w -c -d -o (-r for rooted
// collectives), plus -a/--algo, --np, --bind, --device, --json, --timeout, --print-config and
// --corrupt-rank.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gccl/gccl.h>

#include "cpu_binding.h"

namespace gccl::perf {

struct CollectiveSpec;

struct PerfOptions {
  size_t minBytes = 8;
  size_t maxBytes = 64u << 20;
  double factor = 2.0;
  int iterations = 20;
  int warmup = 5;
  bool check = true;
  gcclDataType_t dataType = gcclFloat32;
  gcclRedOp_t op = gcclSum;
  int root = 0;  // -r, broadcast and reduce only
  // -a/--algo: exported as GCCL_ALGO before init; else GCCL_ALGO as found. Empty: neither set,
  // and the header and JSON say nothing (gccl chooses).
  std::string algorithm;
  // -a A,B,...: each algorithm on its own communicator, their calls taken in turn, a row per
  // size and algorithm (algorithm_comms.h); `algorithm` is then empty. Empty otherwise.
  std::vector<std::string> algorithmsInTurn;
  std::optional<int> localRanks;  // --np: start this many ranks here
  // --bind cpus|none: --np ranks pinned each to its own share of the CPUs (cpu_binding.h), or
  // left to the scheduler. Under a launcher (mpirun, torchrun) placement is the launcher's.
  cpu_binding::Binding binding = cpu_binding::Binding::kCpus;
  std::string jsonPath;
  std::string tunePath;  // --tune FILE (allreduce_perf): calibrate instead of sweeping
  bool printConfig = false;
  int timeoutSeconds = 900;  // whole-run bound for --np children
  // --corrupt-rank: this rank flips a bit of its checked output, to test that a wrong element
  // on any rank fails the run (tests/CMake: allreduce_perf_detects_a_wrong_rank). -1: none.
  int corruptRank = -1;
  // --device: where the buffers live, host, cuda or standin (buffer_space.h).
  std::string device = "host";
  // -R 1: the host buffers come from gcclMemAlloc, which the ranks of a machine share (zero-copy
  // over shm); -R 0, the default: from the C++ heap, as a framework's tensors do.
  bool sharedBuffers = false;
};

// Parses argv for `spec`'s tool; on bad input prints the problem and the usage, and exits with
// status 2. An -a name is checked against gccl's algorithm table.
PerfOptions parsePerfOptions(const CollectiveSpec& spec, int argc, char** argv);

// Whether `name` is "auto" or an algorithm of `spec`'s collective in gccl's table (GCCL_ALGO
// accepts any collective's; one without it runs its automatic choice).
bool hasVariant(const CollectiveSpec& spec, std::string_view name);

const char* dataTypeName(gcclDataType_t type);
const char* opName(gcclRedOp_t op);

}  // namespace gccl::perf
