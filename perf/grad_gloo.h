// grad_bench's outside baseline: Gloo allreducing the same tensors one by one, run as the
// separate program gloo_grad_bench (perf/baselines/), which links Gloo and not gccl.
#pragma once

#include <optional>

#include "grad_bench.h"

namespace gccl::perf {

// Runs gloo_grad_bench from this executable's directory with the same ranks, steps and model,
// and returns its row; nullopt, with the reason on stderr, when it is not there or fails: the
// row is then left out, never estimated.
std::optional<GradResult> runGlooGradBench(const GradBenchOptions& options, int nranks);

}  // namespace gccl::perf
