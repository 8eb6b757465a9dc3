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

namespace {

constexpr size_t kBlockBytes = 16 * 1024;  // with its two operands, within a 48 KiB L1

}  // namespace

void reduceAndDivide(DataType type, void* dst, const void* a, const void* b, size_t count,
                     int divisor, bool* nonFinite) {
  const ChainOperands sum{a, b, false};
  reduceChain(type, ReduceOp::kSum, dst, {&sum, 1}, count, divisor, nonFinite);
}

void reduceChain(DataType type, ReduceOp op, void* dst, std::span<const ChainOperands> chain,
                 size_t count, int divisor, bool* nonFinite) {
  const kernels::ReduceKernels& row = activeRow();
  const size_t elementSize = dataTypeSize(type);
  const size_t block = kBlockBytes / elementSize;
  auto* out = static_cast<std::byte*>(dst);
  for (size_t done = 0; done < count; done += block) {
    const size_t n = std::min(block, count - done);
    const size_t at = done * elementSize;
    for (const ChainOperands& operands : chain) {
      const auto* local = static_cast<const std::byte*>(operands.local) + at;
      const auto* received = static_cast<const std::byte*>(operands.received) + at;
      if (operands.receivedFirst) {
        row.reduce(type, op, out + at, received, local, n);
      } else {
        row.reduce(type, op, out + at, local, received, n);
      }
    }
    if (divisor != 1) row.finalizeAverage(type, out + at, n, divisor);
    if (nonFinite != nullptr && !*nonFinite && hasNonFinite(type, out + at, n)) *nonFinite = true;
  }
}

}  // namespace gccl
