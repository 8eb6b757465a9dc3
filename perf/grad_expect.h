// What the sparse gradient sync must report per step for a model, derived independently from
// the rules docs/api.md states (pool layout, bucket plan, chunk selection), so that grad_bench
// checks the library's stats against the documentation rather than against itself.
#pragma once

#include <cstddef>
#include <vector>

#include "grad_models.h"

namespace gccl::perf {

struct SparseChunks {
  size_t sent = 0;   // per step: ceil(rho K) per bucket (at most its non-exempt chunks) + exempt
  size_t total = 0;  // K summed over the buckets
};

// fp32 tensors in registration order, each at the next multiple of `alignment` bytes; buckets
// closed where their span reaches `bucketBytes`; chunks of `chunk` elements over each bucket;
// every chunk touching a `vector` tensor exempt.
SparseChunks expectedSparseChunks(const std::vector<GradTensor>& tensors, size_t alignment,
                                  size_t bucketBytes, size_t chunk, double density);

}  // namespace gccl::perf
