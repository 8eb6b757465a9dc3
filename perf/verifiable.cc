#include "verifiable.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fp16/half.h"
#include "mixed.h"

namespace gccl::perf {

namespace {

// Inputs repeat every kPeriod elements; within a period they are pseudo-random in both the
// position and the rank, so data at a wrong offset (by any shift shorter than a period) or
// from a wrong rank differs in almost every element. A pattern linear in the position would
// repeat with the value bound (every 16 elements or fewer) and hide shifts by that much.
constexpr size_t kPeriod = 251;

// Values stay below this bound so that every partial sum stays exact, even in bfloat16 (whose
// integers are exact up to 256).
double valueBound(int nranks) {
  return std::clamp(256 / nranks, 2, 16);
}

// Min and max need no sum bound, but a rank-by-rank pattern would make the extreme the same
// value nearly everywhere at many ranks (checking values, not their placement). Instead one
// rank per element, chosen pseudo-randomly, holds the extreme: a value in [64, 128) for max
// ([0, 64) for min) that varies with the position, while the others stay on the other side.
// Below 128, every value is exact in every type, int8 included.
double minMaxInput(gcclRedOp_t op, int rank, int nranks, uint64_t c) {
  const uint64_t position = mixed(c);
  const bool extreme = position % static_cast<uint64_t>(nranks) == static_cast<uint64_t>(rank);
  const auto low = static_cast<double>(extreme ? (position >> 32) % 64
                                               : mixed(c << 32 | static_cast<uint32_t>(rank)) % 64);
  return extreme == (op == gcclMax) ? 64 + low : low;
}

// The input value of (rank, element) as an exact small integer.
double inputValue(gcclRedOp_t op, int rank, int nranks, size_t i) {
  const uint64_t c = i % kPeriod;
  const uint64_t random = mixed(c << 32 | static_cast<uint32_t>(rank));
  switch (op) {
    // A product of ones and twos: exact powers of two, wrapping alike in every integer type.
    // About four twos per element whatever the rank count, so that few products overflow.
    case gcclProd: return random % static_cast<uint64_t>(std::max(2, nranks / 4)) == 0 ? 2 : 1;
    case gcclMin:
    case gcclMax: return minMaxInput(op, rank, nranks, c);
    default: return static_cast<double>(random % static_cast<uint64_t>(valueBound(nranks)));
  }
}

double exactResult(gcclRedOp_t op, int nranks, size_t i) {
  double result = inputValue(op, 0, nranks, i);
  for (int r = 1; r < nranks; ++r) {
    const double v = inputValue(op, r, nranks, i);
    if (op == gcclProd)
      result *= v;
    else if (op == gcclMin)
      result = std::fmin(result, v);
    else if (op == gcclMax)
      result = std::fmax(result, v);
    else
      result += v;
  }
  return result;
}

// Stores an exact integer-valued double as `type`. Integers wrap like the kernels do.
void store(void* buffer, size_t i, gcclDataType_t type, double value) {
  auto* bytes = static_cast<unsigned char*>(buffer);
  auto put = [&](auto v) { std::memcpy(bytes + i * sizeof v, &v, sizeof v); };
  const auto wrapped = static_cast<uint64_t>(static_cast<int64_t>(value));
  switch (type) {
    case gcclInt8: put(static_cast<int8_t>(wrapped)); break;
    case gcclUint8: put(static_cast<uint8_t>(wrapped)); break;
    case gcclInt32: put(static_cast<int32_t>(wrapped)); break;
    case gcclUint32: put(static_cast<uint32_t>(wrapped)); break;
    case gcclInt64: put(static_cast<int64_t>(wrapped)); break;
    case gcclUint64: put(wrapped); break;
    case gcclFloat16: put(floatToHalf(static_cast<float>(value))); break;
    case gcclBfloat16: put(floatToBfloat16(static_cast<float>(value))); break;
    case gcclFloat32: put(static_cast<float>(value)); break;
    default: put(value); break;
  }
}

// An integer-valued double as the integer type holds it after two's-complement wrapping.
double wrapped(gcclDataType_t type, double value) {
  const auto bits = static_cast<uint64_t>(static_cast<int64_t>(value));
  switch (type) {
    case gcclInt8: return static_cast<int8_t>(bits);
    case gcclUint8: return static_cast<uint8_t>(bits);
    case gcclInt32: return static_cast<int32_t>(bits);
    case gcclUint32: return static_cast<uint32_t>(bits);
    case gcclInt64: return static_cast<double>(static_cast<int64_t>(bits));
    default: return static_cast<double>(bits);
  }
}

// The average as the kernels compute it: an exact sum, one division in the type's arithmetic.
void storeAverage(void* buffer, size_t i, gcclDataType_t type, double sum, int nranks) {
  switch (type) {
    case gcclFloat16:
    case gcclBfloat16:
    case gcclFloat32:
      store(buffer, i, type,
            static_cast<double>(static_cast<float>(sum) / static_cast<float>(nranks)));
      break;
    case gcclFloat64: store(buffer, i, type, sum / nranks); break;
    default: store(buffer, i, type, std::trunc(wrapped(type, sum) / nranks)); break;
  }
}

// Elements of `actual` that differ from `expected`, which holds one period (values repeat every
// kPeriod elements, whatever the first element).
size_t countDifferences(const unsigned char* actual, const std::vector<unsigned char>& expected,
                        size_t count, size_t elementSize) {
  const size_t p = kPeriod;
  size_t wrong = 0;
  for (size_t begin = 0; begin < count; begin += p) {
    const size_t n = std::min(p, count - begin);
    if (std::memcmp(actual + begin * elementSize, expected.data(), n * elementSize) == 0) continue;
    for (size_t i = 0; i < n; ++i) {
      wrong += std::memcmp(actual + (begin + i) * elementSize, expected.data() + i * elementSize,
                           elementSize) != 0;
    }
  }
  return wrong;
}

}  // namespace

void fillInput(void* buffer, size_t count, gcclDataType_t type, gcclRedOp_t op, int rank,
               int nranks, size_t first) {
  const size_t elementSize = gcclTypeSize(type);
  const size_t p = std::min(kPeriod, count);
  for (size_t i = 0; i < p; ++i) store(buffer, i, type, inputValue(op, rank, nranks, first + i));
  auto* bytes = static_cast<unsigned char*>(buffer);
  for (size_t done = p; done < count;) {
    const size_t chunk = std::min(done, count - done);  // doubling copies of whole periods
    std::memcpy(bytes + done * elementSize, bytes, chunk * elementSize);
    done += chunk;
  }
}

size_t countWrong(const void* output, size_t count, gcclDataType_t type, gcclRedOp_t op, int nranks,
                  size_t first) {
  const size_t elementSize = gcclTypeSize(type);
  std::vector<unsigned char> expected(kPeriod * elementSize);
  for (size_t i = 0; i < kPeriod; ++i) {
    const double exact = exactResult(op, nranks, first + i);
    if (op == gcclAvg)
      storeAverage(expected.data(), i, type, exact, nranks);
    else
      store(expected.data(), i, type, exact);
  }
  return countDifferences(static_cast<const unsigned char*>(output), expected, count, elementSize);
}

size_t countWrongInput(const void* output, size_t count, gcclDataType_t type, gcclRedOp_t op,
                       int rank, int nranks, size_t first) {
  const size_t elementSize = gcclTypeSize(type);
  std::vector<unsigned char> expected(kPeriod * elementSize);
  for (size_t i = 0; i < kPeriod; ++i) {
    store(expected.data(), i, type, inputValue(op, rank, nranks, first + i));
  }
  return countDifferences(static_cast<const unsigned char*>(output), expected, count, elementSize);
}

}  // namespace gccl::perf
