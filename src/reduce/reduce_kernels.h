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
};

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
