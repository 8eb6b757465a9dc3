// The parameter tensors of the models grad_bench synchronises: names and element counts only,
// generated from the architecture rather than listed, so that a count can be checked against
// the published total (tests/unit/test_grad_models.cc). No gccl dependency: the Gloo baseline
// (perf/baselines/gloo_grad_bench.cc) builds the same tensors from this file.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace gccl::perf {

struct GradTensor {
  std::string name;
  size_t count = 0;
  // A bias or a norm's scale or shift: small, so the sparse modes always send it whole.
  bool vector = false;
};

// The model's tensors in backward order (the reverse of the forward order, the order backward
// produces the gradients and the gradient sync registers them); nullopt for an unknown name.
// Names: "resnet50" (161 tensors, 25,557,032 parameters), "transformer" (BERT-base: 199
// tensors, 109,482,240 parameters).
std::optional<std::vector<GradTensor>> gradModel(const std::string& name);

size_t totalParameters(const std::vector<GradTensor>& tensors);

}  // namespace gccl::perf
