// grad_bench (issue 14's benchmark): one model's gradients synchronised per step by several
// modes in the same run -- one allreduce per tensor, the gradient sync dense in fp32 and fp16
// on the wire, the sparse (CSC) gradient sync, and Gloo per tensor as the outside baseline.
// Declarations shared by its files: options, the table of modes, one result row.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <gccl/gccl.h>

#include "buffer_space.h"
#include "cpu_binding.h"
#include "grad_models.h"

namespace gccl::perf {

struct GradBenchOptions {
  std::optional<int> localRanks;  // --np: fork this many ranks; unset: maybe the environment's
  // --bind cpus|none: the forked ranks (and gloo_grad_bench's) pinned each to its own CPUs
  // (cpu_binding.h), or not.
  cpu_binding::Binding binding = cpu_binding::Binding::kCpus;
  std::string model = "resnet50";
  int iterations = 10;    // -n: timed steps, the median is reported
  int warmup = 2;         // -w
  double backwardMs = 0;  // marks spread evenly over this long, as backward would produce them
  std::vector<std::string> modes;  // --modes, in table order
  std::string jsonPath;
  int timeoutSeconds = 600;
  // --device cuda|standin: the gradients live in device memory and the gradient sync runs in
  // copy mode (its lazy modes only); "host": views into the pool, as a framework on CPU.
  std::string device = "host";
};

enum class GradModeKind { kPerTensor, kLazy, kGloo };

struct GradMode {
  const char* name;
  GradModeKind kind;
  gcclWireFormat_t compression;  // dense gradient sync: fp32 buckets on the wire
  double density;                // > 0: sparse gradient sync sending this share of chunks
};

// Every mode, in table order; nullptr for an unknown name.
const std::vector<GradMode>& gradModes();
const GradMode* findGradMode(const std::string& name);

// One row of the table. Plain data: rank 0 of forked ranks writes it into memory it shares
// with the launcher, which adds the Gloo row and prints.
struct GradResult {
  char mode[32] = {};
  double stepMs = 0;       // median over the timed steps of the slowest rank's step
  uint64_t wireBytes = 0;  // handed to allreduce per rank per step, in the wire format
  uint64_t buckets = 0;    // allreduces per step (a sparse bucket counts once)
  uint64_t wrong = 0;      // this rank's failed checks, summed over every step
};

// Runs `mode` (not Gloo) over `comm` for warmup + iterations steps and checks each step. With
// `space` (--device) the lazy modes' gradients live there.
GradResult runGradMode(const GradMode& mode, const GradBenchOptions& options,
                       const std::vector<GradTensor>& model, gcclComm_t comm, BufferSpace* space);

}  // namespace gccl::perf
