// The public reduce.h entry points: one table row per SimdLevel, indexed by the active level.
#include <array>

#include "base/simd.h"
#include "reduce/reduce.h"
#include "reduce/reduce_kernels.h"

namespace gccl {
namespace {

// Indexed by SimdLevel. Off x86 detectSimdLevel() is always kScalar.
#if defined(__x86_64__)
constexpr std::array<const kernels::ReduceKernels*, 3> kRows = {
    &kernels::kScalarReduce, &kernels::kAvx2Reduce, &kernels::kAvx512Reduce};
#else
constexpr std::array<const kernels::ReduceKernels*, 3> kRows = {
    &kernels::kScalarReduce, &kernels::kScalarReduce, &kernels::kScalarReduce};
#endif

const kernels::ReduceKernels& activeRow() {
  return *kRows[static_cast<size_t>(activeSimdLevel())];
}

}  // namespace

void reduce(DataType type, ReduceOp op, void* dst, const void* a, const void* b, size_t count) {
  if (count == 0) return;
  activeRow().reduce(type, op, dst, a, b, count);
}

void finalizeAverage(DataType type, void* dst, size_t count, int divisor) {
  if (count == 0 || divisor == 1) return;
  activeRow().finalizeAverage(type, dst, count, divisor);
}

}  // namespace gccl
