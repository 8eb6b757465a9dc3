// AVX2 (+F16C) reduction kernels. Built with -mavx2 -mf16c -ffp-contract=off (kernels.cmake):
// only called when detectSimdLevel() >= kAvx2. The vector loops stop at the last full vector;
// the scalar kernels finish the tail, so both paths share one definition of every rule.
#include <cstddef>

#include "reduce/reduce_kernels.h"
#include "reduce/reduce_loops.h"
#include "reduce/vec_avx2.h"

namespace gccl::kernels {
namespace {

using Bytes = unsigned char;

// Two vectors per iteration, both loaded before either is stored: exact aliasing of dst with a
// or b stays correct. Returns how many elements were done.
template <typename V, typename Op>
size_t reduceVectors(Bytes* dst, const Bytes* a, const Bytes* b, size_t count) {
  constexpr size_t kStep = V::kLanes * V::kElemSize;
  const size_t bytes = count * V::kElemSize;
  size_t i = 0;
  for (; i + 2 * kStep <= bytes; i += 2 * kStep) {
    const auto a0 = V::load(a + i), a1 = V::load(a + i + kStep);
    const auto b0 = V::load(b + i), b1 = V::load(b + i + kStep);
    V::store(dst + i, Op::template apply<V>(a0, b0));
    V::store(dst + i + kStep, Op::template apply<V>(a1, b1));
  }
  if (i + kStep <= bytes) {
    V::store(dst + i, Op::template apply<V>(V::load(a + i), V::load(b + i)));
    i += kStep;
  }
  return i / V::kElemSize;
}

// dst[i] = f(dst[i]) over whole vectors; returns how many elements were done.
template <typename V, typename F>
size_t mapVectors(Bytes* dst, size_t count, F f) {
  constexpr size_t kStep = V::kLanes * V::kElemSize;
  const size_t bytes = count * V::kElemSize;
  size_t i = 0;
  for (; i + kStep <= bytes; i += kStep) V::store(dst + i, f(V::load(dst + i)));
  return i / V::kElemSize;
}

template <typename V>
size_t divideVectors(Bytes* dst, size_t count, int divisor) {
  return withDivision<V>(divisor, [&](auto f) { return mapVectors<V>(dst, count, f); });
}

size_t reduceVectorsFor(DataType type, ReduceOp op, Bytes* dst, const Bytes* a, const Bytes* b,
                        size_t count) {
  auto loop = [&]<typename V, typename Op>() { return reduceVectors<V, Op>(dst, a, b, count); };
  return withTypeAndOp<avx2::Elements>(type, op, loop);
}

// Integer averages stay scalar: there is no vector 64-bit division, and the step runs once per
// collective on the final buffer.
size_t divideVectorsFor(DataType type, Bytes* dst, size_t count, int divisor) {
  switch (type) {
    case DataType::kFloat16: return divideVectors<avx2::Float16>(dst, count, divisor);
    case DataType::kBfloat16: return divideVectors<avx2::Bfloat16>(dst, count, divisor);
    case DataType::kFloat32: return divideVectors<avx2::Float32>(dst, count, divisor);
    case DataType::kFloat64: return divideVectors<avx2::Float64>(dst, count, divisor);
    default: return 0;
  }
}

void reduceAvx2(DataType type, ReduceOp op, void* dst, const void* a, const void* b, size_t count) {
  auto* out = static_cast<Bytes*>(dst);
  const auto* x = static_cast<const Bytes*>(a);
  const auto* y = static_cast<const Bytes*>(b);
  const size_t done = reduceVectorsFor(type, op, out, x, y, count);
  if (done == count) return;
  const size_t offset = done * dataTypeSize(type);
  reduceScalar(type, op, out + offset, x + offset, y + offset, count - done);
}

void finalizeAverageAvx2(DataType type, void* dst, size_t count, int divisor) {
  auto* out = static_cast<Bytes*>(dst);
  const size_t done = divideVectorsFor(type, out, count, divisor);
  if (done == count) return;
  finalizeAverageScalar(type, out + done * dataTypeSize(type), count - done, divisor);
}

size_t reduceStreamingAvx2(DataType type, ReduceOp op, void* const* outputs, size_t outputCount,
                           const void* a, const void* b, size_t count, int divisor) {
  const size_t done =
      streamLines<avx2::Elements>(type, op, outputs, outputCount, a, b, count, divisor);
  _mm_sfence();  // the stores are weakly ordered: whoever is told of them next must see them
  return done;
}

}  // namespace

const ReduceKernels kAvx2Reduce = {reduceAvx2, finalizeAverageAvx2, reduceStreamingAvx2};

}  // namespace gccl::kernels
