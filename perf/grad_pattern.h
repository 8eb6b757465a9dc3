// The exact gradients grad_bench and its Gloo baseline fill and check: element i of tensor t
// on a rank is a small integer, pseudo-random in the rank and in the phase (7t + i) mod 61, so
// that a result in the wrong tensor, at the wrong offset or from a wrong rank differs. A
// pattern linear in the rank, such as (rank + t + i) mod 8, sums to one constant at 8 ranks.
#pragma once

#include <cstddef>
#include <cstdint>

#include "mixed.h"

namespace gccl::perf {

inline constexpr size_t kGradPeriod = 61;  // prime: no tensor size lines it up

inline size_t gradPhase(size_t tensor, size_t i) {
  return (tensor * 7 + i) % kGradPeriod;
}

// In [0, 8): every sum over up to 2^21 ranks is exact in fp32.
inline float gradValue(int rank, size_t phase) {
  const uint64_t x = mixed(static_cast<uint64_t>(rank) << 32 | phase);
  return static_cast<float>(x % 8);
}

// The sum over the ranks of each phase's value.
struct GradSums {
  float sum[kGradPeriod] = {};
  explicit GradSums(int nranks) {
    for (size_t phase = 0; phase < kGradPeriod; ++phase) {
      for (int r = 0; r < nranks; ++r) sum[phase] += gradValue(r, phase);
    }
  }
};

}  // namespace gccl::perf
