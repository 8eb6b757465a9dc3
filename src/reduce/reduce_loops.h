// The operation functors shared by the vectorised reduction loops: each maps a ReduceOp to the
// element traits' arithmetic (see vec_avx2.h, vec_avx512.h), so a loop is instantiated once per
// (type, op) with no branch inside it.
#pragma once

#include <array>
#include <cstddef>

#include "base/dtype.h"
#include "reduce/reduce_kernels.h"

namespace gccl::kernels {

struct SumOp {
  template <typename V>
  static typename V::Vec apply(typename V::Vec a, typename V::Vec b) {
    return V::add(a, b);
  }
};

struct ProdOp {
  template <typename V>
  static typename V::Vec apply(typename V::Vec a, typename V::Vec b) {
    return V::mul(a, b);
  }
};

struct MinOp {
  template <typename V>
  static typename V::Vec apply(typename V::Vec a, typename V::Vec b) {
    return V::min(a, b);
  }
};

struct MaxOp {
  template <typename V>
  static typename V::Vec apply(typename V::Vec a, typename V::Vec b) {
    return V::max(a, b);
  }
};

// Element-wise arithmetic on a pair of vectors, for types that widen one load into two.
template <typename F>
struct PairArithmetic {
  struct Vec {
    typename F::Vec lo, hi;
  };
  static Vec splat(int divisor) { return {F::splat(divisor), F::splat(divisor)}; }
  static Vec reciprocal(int divisor) { return {F::reciprocal(divisor), F::reciprocal(divisor)}; }
  static Vec scale(Vec a, Vec f) { return {F::scale(a.lo, f.lo), F::scale(a.hi, f.hi)}; }
  static Vec add(Vec a, Vec b) { return {F::add(a.lo, b.lo), F::add(a.hi, b.hi)}; }
  static Vec mul(Vec a, Vec b) { return {F::mul(a.lo, b.lo), F::mul(a.hi, b.hi)}; }
  static Vec div(Vec a, Vec b) { return {F::div(a.lo, b.lo), F::div(a.hi, b.hi)}; }
  static Vec min(Vec a, Vec b) { return {F::min(a.lo, b.lo), F::min(a.hi, b.hi)}; }
  static Vec max(Vec a, Vec b) { return {F::max(a.lo, b.lo), F::max(a.hi, b.hi)}; }
};

// x / d for a power of two d is x * (1/d) exactly: both round the same real number once (1/d
// is exact), so an average over 2, 4, 8... ranks multiplies, at a multiply's cost, where a
// vector division takes 5-16 cycles.
inline bool isPowerOfTwo(int d) {
  return d > 0 && (d & (d - 1)) == 0;
}

// map(f) with f the element function of an average's division by `divisor`: a multiply by
// the exact reciprocal for a power of two, else the division.
template <typename V, typename Map>
auto withDivision(int divisor, Map&& map) {
  if (isPowerOfTwo(divisor)) {
    const auto r = V::reciprocal(divisor);
    return map([r](auto v) { return V::scale(v, r); });
  }
  const auto d = V::splat(divisor);
  return map([d](auto v) { return V::div(v, d); });
}

// Calls loop.template run<V, Op>() for the functor matching op; avg reduces as sum.
template <typename V, typename Loop>
auto withOp(ReduceOp op, Loop&& loop) {
  switch (op) {
    case ReduceOp::kProd: return loop.template operator()<V, ProdOp>();
    case ReduceOp::kMin: return loop.template operator()<V, MinOp>();
    case ReduceOp::kMax: return loop.template operator()<V, MaxOp>();
    case ReduceOp::kSum:
    case ReduceOp::kAvg: break;
  }
  return loop.template operator()<V, SumOp>();
}

// Calls loop.template run<V, Op>() for the element traits V of `type` among `Elements` (an
// instruction set's table: avx2::Elements, avx512::Elements) and the functor Op of `op`.
template <typename Elements, typename Loop>
auto withTypeAndOp(DataType type, ReduceOp op, Loop&& loop) {
  switch (type) {
    case DataType::kInt8: return withOp<typename Elements::Int8>(op, loop);
    case DataType::kUint8: return withOp<typename Elements::Uint8>(op, loop);
    case DataType::kInt32: return withOp<typename Elements::Int32>(op, loop);
    case DataType::kUint32: return withOp<typename Elements::Uint32>(op, loop);
    case DataType::kInt64: return withOp<typename Elements::Int64>(op, loop);
    case DataType::kUint64: return withOp<typename Elements::Uint64>(op, loop);
    case DataType::kFloat16: return withOp<typename Elements::Float16>(op, loop);
    case DataType::kBfloat16: return withOp<typename Elements::Bfloat16>(op, loop);
    case DataType::kFloat32: return withOp<typename Elements::Float32>(op, loop);
    case DataType::kFloat64: break;
  }
  return withOp<typename Elements::Float64>(op, loop);
}

// Whole 64-byte lines of finish(a op b), each stored into every one of `outputs` with
// non-temporal stores (ReduceKernels::reduceStreaming); every output aligned to a line. A line
// is computed once, then written whole into one output after another: each output's line
// then fills one write-combining buffer at a time (a core has about ten), however many outputs
// there are. Returns how many elements were done.
template <typename V, typename Op, typename Finish>
size_t streamVectors(unsigned char* const* outputs, size_t outputCount, const unsigned char* a,
                     const unsigned char* b, size_t count, Finish finish) {
  constexpr size_t kStep = V::kLanes * V::kElemSize;  // the bytes one vector stores
  constexpr size_t kPerLine = kStreamAlignment / kStep;
  static_assert(kPerLine * kStep == kStreamAlignment);
  const size_t bytes = count * V::kElemSize;
  size_t i = 0;
  for (; i + kStreamAlignment <= bytes; i += kStreamAlignment) {
    std::array<decltype(finish(V::load(a))), kPerLine> line;
    for (size_t j = 0; j < kPerLine; ++j) {
      line[j] =
          finish(Op::template apply<V>(V::load(a + i + j * kStep), V::load(b + i + j * kStep)));
    }
    for (size_t k = 0; k < outputCount; ++k) {
      for (size_t j = 0; j < kPerLine; ++j) V::stream(outputs[k] + i + j * kStep, line[j]);
    }
  }
  return i / V::kElemSize;
}

// streamVectors with the average's division when divisor > 1; element types without a vector
// division (the integers) stream nothing then, and return 0.
template <typename V, typename Op>
size_t streamVectorsDividing(unsigned char* const* outputs, size_t outputCount,
                             const unsigned char* a, const unsigned char* b, size_t count,
                             int divisor) {
  if (divisor == 1) {
    return streamVectors<V, Op>(outputs, outputCount, a, b, count, [](auto v) { return v; });
  }
  if constexpr (requires { V::splat(divisor); }) {
    return withDivision<V>(divisor, [&](auto divide) {
      if constexpr (V::kElemSize == 2) {
        // Half types compute in fp32, but the division divides the sum as reduce() stores it:
        // rounded to the element type first.
        return streamVectors<V, Op>(outputs, outputCount, a, b, count, [&](auto sum) {
          alignas(64) unsigned char rounded[V::kLanes * V::kElemSize];
          V::store(rounded, sum);
          return divide(V::load(rounded));
        });
      } else {
        return streamVectors<V, Op>(outputs, outputCount, a, b, count, divide);
      }
    });
  }
  return 0;
}

// ReduceKernels::reduceStreaming for the instruction set of `Elements`, all but its closing
// fence (an intrinsic of the set's own translation unit).
template <typename Elements>
size_t streamLines(DataType type, ReduceOp op, void* const* outputs, size_t outputCount,
                   const void* a, const void* b, size_t count, int divisor) {
  auto* const* out = reinterpret_cast<unsigned char* const*>(outputs);
  const auto* x = static_cast<const unsigned char*>(a);
  const auto* y = static_cast<const unsigned char*>(b);
  return withTypeAndOp<Elements>(type, op, [&]<typename V, typename Op>() {
    return streamVectorsDividing<V, Op>(out, outputCount, x, y, count, divisor);
  });
}

}  // namespace gccl::kernels
