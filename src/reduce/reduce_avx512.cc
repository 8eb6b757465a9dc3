// AVX-512 (F, BW, VL, DQ) reduction kernels. Built with the AVX-512 flags and
// -ffp-contract=off (kernels.cmake); only called when detectSimdLevel() == kAvx512. The last,
// partial vector runs under a lane mask, so no element goes through scalar code.
#include <cstddef>

#include "reduce/reduce_kernels.h"
#include "reduce/reduce_loops.h"
#include "reduce/vec_avx512.h"

namespace gccl::kernels {
namespace {

using Bytes = unsigned char;

// Two vectors per iteration, both loaded before either is stored (exact aliasing stays legal),
// then whole vectors, then one masked vector for the tail: masked stores are slow on some cores
// (AMD Zen 4), so only the tail uses them.
template <typename V, typename Op>
void reduceVectors(Bytes* dst, const Bytes* a, const Bytes* b, size_t count) {
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
  if (i < bytes) {
    const auto m = avx512::lowLanes<typename V::Mask>((bytes - i) / V::kElemSize);
    V::store(dst + i, Op::template apply<V>(V::load(a + i, m), V::load(b + i, m)), m);
  }
}

// dst[i] = f(dst[i]), the tail under a lane mask.
template <typename V, typename F>
void mapVectors(Bytes* dst, size_t count, F f) {
  constexpr size_t kStep = V::kLanes * V::kElemSize;
  const size_t bytes = count * V::kElemSize;
  size_t i = 0;
  for (; i + kStep <= bytes; i += kStep) V::store(dst + i, f(V::load(dst + i)));
  if (i < bytes) {
    const auto m = avx512::lowLanes<typename V::Mask>((bytes - i) / V::kElemSize);
    V::store(dst + i, f(V::load(dst + i, m)), m);
  }
}

template <typename V>
void divideVectors(Bytes* dst, size_t count, int divisor) {
  withDivision<V>(divisor, [&](auto f) { mapVectors<V>(dst, count, f); });
}

void reduceAvx512(DataType type, ReduceOp op, void* dst, const void* a, const void* b,
                  size_t count) {
  auto* out = static_cast<Bytes*>(dst);
  const auto* x = static_cast<const Bytes*>(a);
  const auto* y = static_cast<const Bytes*>(b);
  auto loop = [&]<typename V, typename Op>() { reduceVectors<V, Op>(out, x, y, count); };
  withTypeAndOp<avx512::Elements>(type, op, loop);
}

// Integer averages stay scalar: there is no vector 64-bit division, and the step runs once per
// collective on the final buffer.
void finalizeAverageAvx512(DataType type, void* dst, size_t count, int divisor) {
  auto* out = static_cast<Bytes*>(dst);
  switch (type) {
    case DataType::kFloat16: return divideVectors<avx512::Float16>(out, count, divisor);
    case DataType::kBfloat16: return divideVectors<avx512::Bfloat16>(out, count, divisor);
    case DataType::kFloat32: return divideVectors<avx512::Float32>(out, count, divisor);
    case DataType::kFloat64: return divideVectors<avx512::Float64>(out, count, divisor);
    default: return finalizeAverageScalar(type, dst, count, divisor);
  }
}

size_t reduceStreamingAvx512(DataType type, ReduceOp op, void* const* outputs, size_t outputCount,
                             const void* a, const void* b, size_t count, int divisor) {
  const size_t done =
      streamLines<avx512::Elements>(type, op, outputs, outputCount, a, b, count, divisor);
  _mm_sfence();  // the stores are weakly ordered: whoever is told of them next must see them
  return done;
}

}  // namespace

const ReduceKernels kAvx512Reduce = {reduceAvx512, finalizeAverageAvx512, reduceStreamingAvx512};

}  // namespace gccl::kernels
