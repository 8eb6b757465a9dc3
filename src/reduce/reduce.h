// Element-wise reduction kernels over type-erased buffers. The collective algorithms call only
// these functions; the instruction set that runs them is the active level of base/simd.h
// (read per call, set by whoever owns the configuration), and every level gives bit-identical
// results.
//
// Semantics, the same on every level (the scalar kernels in reduce_scalar.cc are the reference):
//  - integer sum and prod wrap as two's complement;
//  - avg reduces as sum; finalizeAverage performs its one division;
//  - float16 and bfloat16 are widened to fp32, combined, and rounded once (nearest-even);
//  - fp arithmetic is plain IEEE in the default MXCSR mode, never contracted into FMAs;
//  - min/max propagate NaN: if a is NaN the result is a, quieted; else if b is NaN it is b,
//    quieted. Sum and prod of two NaNs give a's payload (x86 arithmetic returns its first
//    source; the tests hold every level to it, as recursive doubling's partners rely on it);
//  - min(+0, -0) = min(-0, +0) = -0 and max(+0, -0) = max(-0, +0) = +0 (IEEE 754-2019 minimum
//    and maximum), so the result never depends on the operand order;
//  - integer avg divides in 64 bits with truncation toward zero; float avg divides in the
//    element type (float16/bfloat16: in fp32, rounded once).
// Buffers need no particular alignment.
#pragma once

#include <cstddef>
#include <span>

#include "base/dtype.h"

namespace gccl {

// dst[i] = a[i] op b[i] for i < count. dst may alias a or b exactly (not partially).
// ReduceOp::kAvg reduces as a sum: the division happens once, in finalizeAverage.
void reduce(DataType type, ReduceOp op, void* dst, const void* a, const void* b, size_t count);

// dst[i] = dst[i] op src[i]: the in-place form of reduce().
inline void reduceInto(DataType type, ReduceOp op, void* dst, const void* src, size_t count) {
  reduce(type, op, dst, dst, src, count);
}

// The one scaling step of an average: dst[i] = dst[i] / divisor (divisor > 0). A divisor of 1
// leaves dst untouched (a signalling NaN stays signalling).
void finalizeAverage(DataType type, void* dst, size_t count, int divisor);

// reduce(type, kSum, ...) then finalizeAverage(type, dst, count, divisor), the same bits, in
// blocks small enough that each is divided while it is still in the L1 cache: an average's last
// reduction, with no pass of its own for the division. With `nonFinite`, each block is also
// looked at there, and *nonFinite set when one holds inf or NaN (left alone otherwise).
void reduceAndDivide(DataType type, void* dst, const void* a, const void* b, size_t count,
                     int divisor, bool* nonFinite = nullptr);

// One reduction of a chain: dst = local op received, or received op local when
// `receivedFirst` (the operand order reduce() takes).
struct ChainOperands {
  const void* local;
  const void* received;
  bool receivedFirst;
};

// The reductions of a chain over one range, in order, each writing dst; every one after the
// first has dst itself as its `local`. Then, with `divisor` > 1, the average's division and,
// with `nonFinite`, the look for inf and NaN (as reduceAndDivide). The bits of reduce() called
// once per reduction, but done block by block, so that dst stays in the L1 cache between the
// reductions: each operand is read from memory once and dst written once, where one call per
// reduction would read and write dst again each time.
void reduceChain(DataType type, ReduceOp op, void* dst, std::span<const ChainOperands> chain,
                 size_t count, int divisor, bool* nonFinite);

// How reduceChainToAll stores its result.
enum class Stores {
  kCached,     // ordinary stores: the result stays in the cache for whoever reads it next
  kStreaming,  // non-temporal stores where the level has them, the outputs' alignment allows
               // and no output is an operand (in place, its lines are in the cache already):
               // each output line goes to memory once and is never read first (for results
               // larger than the cache, which would only evict what the reader needs)
};

// The most outputs reduceChainToAll streams into (its array of them is on the stack); more are
// written the ordinary way. The engine passes at most kMaxChainLinks + 1.
inline constexpr size_t kMaxStreamOutputs = 128;

// reduceChain's result (the same bits) stored into every one of `outputs`: the first is the
// chain's dst (the operands' `local` after the first link), the others copies, each written
// from the vector that computed it where the stores stream. No output may overlap another, or
// any operand except exactly. With `nonFinite` (an average's look for inf and NaN) nothing
// streams: the look reads the result back, which streaming would have sent to memory. Returns
// how many elements were streamed.
size_t reduceChainToAll(DataType type, ReduceOp op, std::span<void* const> outputs,
                        std::span<const ChainOperands> chain, size_t count, int divisor,
                        bool* nonFinite, Stores stores);

}  // namespace gccl
