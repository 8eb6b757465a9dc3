// What grad_bench prints (one row per mode) and writes with --json.
#pragma once

#include <vector>

#include "grad_bench.h"

namespace gccl::perf {

void printGradTable(const GradBenchOptions& options, const std::vector<GradTensor>& model,
                    int nranks, const std::vector<GradResult>& rows);

// {"nranks":N,"model":"resnet50","device":"host","results":[{"mode":"per_tensor",
//  "step_ms":T,...}, ...]}
bool writeGradJson(const std::string& path, const GradBenchOptions& options, int nranks,
                   const std::vector<GradResult>& rows);

}  // namespace gccl::perf
