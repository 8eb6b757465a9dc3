// The per-instruction-set rows behind reduce.h; reduce_dispatch.cc picks one per call from the
// active SimdLevel. Internal to src/reduce. Each row lives in a translation unit compiled for its
// own instruction set, so nothing in it may run unless detectSimdLevel() allows it.
#pragma once

#include <cstddef>

#include "base/dtype.h"

namespace gccl::kernels {

struct ReduceKernels {
  void (*reduce)(DataType, ReduceOp, void* dst, const void* a, const void* b, size_t count);
  void (*finalizeAverage)(DataType, void* dst, size_t count, int divisor);
  // The bits of reduce(a, b), then of finalizeAverage by `divisor` when it is > 1, stored into
  // each of `outputCount` outputs with non-temporal stores, whole kStreamAlignment lines only,
  // then fenced; every output aligned to kStreamAlignment. Returns how many elements were done
  // (0: none can be, here: an integer average). Null where the level has no such stores.
  size_t (*reduceStreaming)(DataType, ReduceOp, void* const* outputs, size_t outputCount,
                            const void* a, const void* b, size_t count, int divisor);
};

// What reduceStreaming needs of every output's address, and the unit it streams: a cache line,
// the widest vector any level stores.
inline constexpr size_t kStreamAlignment = 64;

extern const ReduceKernels kScalarReduce;
#if defined(__x86_64__)
extern const ReduceKernels kAvx2Reduce;
extern const ReduceKernels kAvx512Reduce;
#endif

// The scalar row's functions, also used for the AVX2 loop tails.
void reduceScalar(DataType type, ReduceOp op, void* dst, const void* a, const void* b,
                  size_t count);
void finalizeAverageScalar(DataType type, void* dst, size_t count, int divisor);

}  // namespace gccl::kernels
