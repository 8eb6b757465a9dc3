// The public reduce.h entry points: one table row per SimdLevel, indexed by the active level.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>

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

namespace {

// The chain into outputs[0] with ordinary stores, then copied into the others.
void chainThenCopy(DataType type, ReduceOp op, std::span<void* const> outputs,
                   std::span<const ChainOperands> chain, size_t count, int divisor,
                   bool* nonFinite) {
  reduceChain(type, op, outputs[0], chain, count, divisor, nonFinite);
  for (size_t k = 1; k < outputs.size(); ++k) {
    std::memcpy(outputs[k], outputs[0], count * dataTypeSize(type));
  }
}

// The offset of `p` within its kStreamAlignment line.
size_t lineOffset(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % kernels::kStreamAlignment;
}

// Whether a head of whole elements brings every output to a line boundary at once.
bool alignTogether(std::span<void* const> outputs, size_t elementSize) {
  const size_t first = lineOffset(outputs[0]);
  if (first % elementSize != 0) return false;
  return std::all_of(outputs.begin(), outputs.end(),
                     [&](const void* p) { return lineOffset(p) == first; });
}

void* advance(void* p, size_t bytes) {
  return static_cast<std::byte*>(p) + bytes;
}
const void* advance(const void* p, size_t bytes) {
  return static_cast<const std::byte*>(p) + bytes;
}

// Whether an output is also one of the chain's operands (in place): its lines were read into
// the cache just before they are written, so ordinary stores read nothing more, while
// streaming stores would first have to push those lines out.
bool writesAnOperand(std::span<void* const> outputs, std::span<const ChainOperands> chain) {
  return std::any_of(outputs.begin(), outputs.end(), [&](const void* output) {
    return output == chain[0].local ||
           std::any_of(chain.begin(), chain.end(),
                       [&](const ChainOperands& link) { return output == link.received; });
  });
}

}  // namespace

// Streaming: a head up to the outputs' first line boundary the ordinary way; then per block the
// links but the last into a staging block that stays in the L1 cache, and the last link
// computed once per line and streamed into every output; what the level streams not (a
// tail shorter than a line, an integer average) the ordinary way.
size_t reduceChainToAll(DataType type, ReduceOp op, std::span<void* const> outputs,
                        std::span<const ChainOperands> chain, size_t count, int divisor,
                        bool* nonFinite, Stores stores) {
  const kernels::ReduceKernels& row = activeRow();
  const size_t elementSize = dataTypeSize(type);
  if (count == 0) return 0;
  if (chain.empty() || stores == Stores::kCached || nonFinite != nullptr ||
      row.reduceStreaming == nullptr || outputs.size() > kMaxStreamOutputs ||
      !alignTogether(outputs, elementSize) || writesAnOperand(outputs, chain)) {
    chainThenCopy(type, op, outputs, chain, count, divisor, nonFinite);
    return 0;
  }
  const size_t head = std::min(count, (kernels::kStreamAlignment - lineOffset(outputs[0])) %
                                          kernels::kStreamAlignment / elementSize);
  chainThenCopy(type, op, outputs, chain, head, divisor, nullptr);

  // On the stack: 16 KiB of a thread's stack costs nothing where a thread_local block would
  // cost every thread of the application, gccl's or not.
  alignas(kernels::kStreamAlignment) std::byte staging[kBlockBytes];
  const size_t block = kBlockBytes / elementSize;
  std::array<void*, kMaxStreamOutputs> shifted{};
  size_t streamedInAll = 0;
  for (size_t done = head; done < count; done += block) {
    const size_t n = std::min(block, count - done);
    const size_t at = done * elementSize;
    for (size_t k = 0; k + 1 < chain.size(); ++k) {  // the links before the last
      const void* local = k == 0 ? advance(chain[k].local, at) : staging;
      const void* received = advance(chain[k].received, at);
      if (chain[k].receivedFirst) std::swap(local, received);
      row.reduce(type, op, staging, local, received, n);
    }
    const ChainOperands& last = chain.back();
    const void* a = chain.size() == 1 ? advance(last.local, at) : staging;
    const void* b = advance(last.received, at);
    if (last.receivedFirst) std::swap(a, b);
    for (size_t k = 0; k < outputs.size(); ++k) shifted[k] = advance(outputs[k], at);
    const size_t streamed =
        row.reduceStreaming(type, op, shifted.data(), outputs.size(), a, b, n, divisor);
    streamedInAll += streamed;
    if (streamed == n) continue;
    const size_t rest = streamed * elementSize;
    row.reduce(type, op, advance(shifted[0], rest), advance(a, rest), advance(b, rest),
               n - streamed);
    if (divisor != 1) row.finalizeAverage(type, advance(shifted[0], rest), n - streamed, divisor);
    for (size_t k = 1; k < outputs.size(); ++k) {
      std::memcpy(advance(shifted[k], rest), advance(shifted[0], rest),
                  (n - streamed) * elementSize);
    }
  }
  return streamedInAll;
}

}  // namespace gccl
