// The public reduce.h entry points: one table row per SimdLevel, indexed by the active level.
#include <algorithm>
#include <array>
#include <cstddef>

#include "base/simd.h"
#include "reduce/non_finite.h"
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

void reduceAndDivide(DataType type, void* dst, const void* a, const void* b, size_t count,
                     int divisor, bool* nonFinite) {
  constexpr size_t kBlockBytes = 16 * 1024;  // with its two operands, within a 48 KiB L1
  const kernels::ReduceKernels& row = activeRow();
  const size_t elementSize = dataTypeSize(type);
  const size_t block = kBlockBytes / elementSize;
  auto* out = static_cast<std::byte*>(dst);
  const auto* left = static_cast<const std::byte*>(a);
  const auto* right = static_cast<const std::byte*>(b);
  for (size_t done = 0; done < count; done += block) {
    const size_t n = std::min(block, count - done);
    const size_t at = done * elementSize;
    row.reduce(type, ReduceOp::kSum, out + at, left + at, right + at, n);
    if (divisor != 1) row.finalizeAverage(type, out + at, n, divisor);
    if (nonFinite != nullptr && !*nonFinite && hasNonFinite(type, out + at, n)) *nonFinite = true;
  }
}

}  // namespace gccl
