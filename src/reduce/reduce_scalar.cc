// Portable scalar kernels: the reference every vectorised variant is tested against, the
// fallback on CPUs without AVX2, and the tail of the AVX2 loops. The rules are in reduce.h.
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "fp16/half.h"
#include "reduce/reduce_kernels.h"
#include "reduce/reduce_loops.h"

namespace gccl::kernels {
namespace {

// Sets the quiet bit (the top mantissa bit), as x86 arithmetic does to a signalling NaN.
template <typename F>
F quieted(F nan) {
  using Bits = std::conditional_t<sizeof(F) == 4, uint32_t, uint64_t>;
  constexpr Bits kQuietBit = Bits{1} << (std::numeric_limits<F>::digits - 2);
  Bits bits;
  std::memcpy(&bits, &nan, sizeof bits);
  bits |= kQuietBit;
  std::memcpy(&nan, &bits, sizeof bits);
  return nan;
}

// min/max: the first NaN operand wins; -0 is below +0.
template <typename F>
F floatMin(F a, F b) {
  if (std::isnan(a)) return quieted(a);
  if (std::isnan(b)) return quieted(b);
  if (a == b) return std::signbit(a) ? a : b;
  return b < a ? b : a;
}

template <typename F>
F floatMax(F a, F b) {
  if (std::isnan(a)) return quieted(a);
  if (std::isnan(b)) return quieted(b);
  if (a == b) return std::signbit(a) ? b : a;
  return b > a ? b : a;
}

template <typename T>
T combine(ReduceOp op, T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    // Promotion of small unsigned types to int would reintroduce signed overflow, so
    // multiply in unsigned int / the unsigned type itself.
    using Wide = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, U>;
    switch (op) {
      case ReduceOp::kSum:
      case ReduceOp::kAvg:
        return static_cast<T>(static_cast<U>(static_cast<Wide>(static_cast<U>(a)) +
                                             static_cast<Wide>(static_cast<U>(b))));
      case ReduceOp::kProd:
        return static_cast<T>(static_cast<U>(static_cast<Wide>(static_cast<U>(a)) *
                                             static_cast<Wide>(static_cast<U>(b))));
      case ReduceOp::kMin: return b < a ? b : a;
      case ReduceOp::kMax: return b > a ? b : a;
    }
  } else {
    // Of two NaNs, a's: a op a is a, quieted, whichever operand the compiler puts first (it
    // swapped float64 sums, leaving b's where the vector levels left a's).
    const T second = std::isnan(a) ? a : b;
    switch (op) {
      case ReduceOp::kSum:
      case ReduceOp::kAvg: return a + second;
      case ReduceOp::kProd: return a * second;
      case ReduceOp::kMin: return floatMin(a, b);
      case ReduceOp::kMax: return floatMax(a, b);
    }
  }
  return a;
}

template <typename T>
void reduceTyped(ReduceOp op, void* dst, const void* a, const void* b, size_t count) {
  // Element-by-element through memcpy keeps unaligned and exactly-aliased buffers legal.
  auto* out = static_cast<unsigned char*>(dst);
  const auto* x = static_cast<const unsigned char*>(a);
  const auto* y = static_cast<const unsigned char*>(b);
  for (size_t i = 0; i < count; ++i) {
    T va, vb;
    std::memcpy(&va, x + i * sizeof(T), sizeof(T));
    std::memcpy(&vb, y + i * sizeof(T), sizeof(T));
    const T r = combine(op, va, vb);
    std::memcpy(out + i * sizeof(T), &r, sizeof(T));
  }
}

template <float (*Widen)(uint16_t), uint16_t (*Narrow)(float)>
void reduceHalf(ReduceOp op, void* dst, const void* a, const void* b, size_t count) {
  auto* out = static_cast<unsigned char*>(dst);
  const auto* x = static_cast<const unsigned char*>(a);
  const auto* y = static_cast<const unsigned char*>(b);
  for (size_t i = 0; i < count; ++i) {
    uint16_t ha, hb;
    std::memcpy(&ha, x + 2 * i, 2);
    std::memcpy(&hb, y + 2 * i, 2);
    const uint16_t r = Narrow(combine(op, Widen(ha), Widen(hb)));
    std::memcpy(out + 2 * i, &r, 2);
  }
}

// The average's one division; by a power of two, a multiply by its exact reciprocal
// (isPowerOfTwo): the same bits as the vector kernels give.
template <typename T>
T divideBy(T v, int divisor) {
  if (isPowerOfTwo(divisor)) return v * (T{1} / static_cast<T>(divisor));
  return v / static_cast<T>(divisor);
}

template <typename T>
void divideTyped(void* dst, size_t count, int divisor) {
  auto* out = static_cast<unsigned char*>(dst);
  for (size_t i = 0; i < count; ++i) {
    T v;
    std::memcpy(&v, out + i * sizeof(T), sizeof(T));
    if constexpr (std::is_floating_point_v<T>) {
      v = divideBy(v, divisor);
    } else {
      // Divide in 64 bits: the rank count need not fit in T (int8 with 200 ranks).
      using Wide = std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>;
      v = static_cast<T>(static_cast<Wide>(v) / static_cast<Wide>(divisor));
    }
    std::memcpy(out + i * sizeof(T), &v, sizeof(T));
  }
}

template <float (*Widen)(uint16_t), uint16_t (*Narrow)(float)>
void divideHalf(void* dst, size_t count, int divisor) {
  auto* out = static_cast<unsigned char*>(dst);
  for (size_t i = 0; i < count; ++i) {
    uint16_t h;
    std::memcpy(&h, out + 2 * i, 2);
    h = Narrow(divideBy(Widen(h), divisor));
    std::memcpy(out + 2 * i, &h, 2);
  }
}

}  // namespace

void reduceScalar(DataType type, ReduceOp op, void* dst, const void* a, const void* b,
                  size_t count) {
  switch (type) {
    case DataType::kInt8: return reduceTyped<int8_t>(op, dst, a, b, count);
    case DataType::kUint8: return reduceTyped<uint8_t>(op, dst, a, b, count);
    case DataType::kInt32: return reduceTyped<int32_t>(op, dst, a, b, count);
    case DataType::kUint32: return reduceTyped<uint32_t>(op, dst, a, b, count);
    case DataType::kInt64: return reduceTyped<int64_t>(op, dst, a, b, count);
    case DataType::kUint64: return reduceTyped<uint64_t>(op, dst, a, b, count);
    case DataType::kFloat16: return reduceHalf<halfToFloat, floatToHalf>(op, dst, a, b, count);
    case DataType::kBfloat16:
      return reduceHalf<bfloat16ToFloat, floatToBfloat16>(op, dst, a, b, count);
    case DataType::kFloat32: return reduceTyped<float>(op, dst, a, b, count);
    case DataType::kFloat64: return reduceTyped<double>(op, dst, a, b, count);
  }
}

void finalizeAverageScalar(DataType type, void* dst, size_t count, int divisor) {
  switch (type) {
    case DataType::kInt8: return divideTyped<int8_t>(dst, count, divisor);
    case DataType::kUint8: return divideTyped<uint8_t>(dst, count, divisor);
    case DataType::kInt32: return divideTyped<int32_t>(dst, count, divisor);
    case DataType::kUint32: return divideTyped<uint32_t>(dst, count, divisor);
    case DataType::kInt64: return divideTyped<int64_t>(dst, count, divisor);
    case DataType::kUint64: return divideTyped<uint64_t>(dst, count, divisor);
    case DataType::kFloat16: return divideHalf<halfToFloat, floatToHalf>(dst, count, divisor);
    case DataType::kBfloat16:
      return divideHalf<bfloat16ToFloat, floatToBfloat16>(dst, count, divisor);
    case DataType::kFloat32: return divideTyped<float>(dst, count, divisor);
    case DataType::kFloat64: return divideTyped<double>(dst, count, divisor);
  }
}

const ReduceKernels kScalarReduce = {reduceScalar, finalizeAverageScalar, nullptr};

}  // namespace gccl::kernels
