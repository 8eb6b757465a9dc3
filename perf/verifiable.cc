#include "verifiable.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fp16/half.h"

namespace gccl::perf {

namespace {

// Inputs repeat every kPeriod elements. The period is prime, so no segment or slice size
// lines it up, and values vary with both the position and the rank (their reduction is not a
// constant): data landing at the wrong offset is caught.
constexpr size_t kPeriod = 251;

// Values stay below this bound so that every partial sum stays exact, even in bfloat16 (whose
// integers are exact up to 256).
double valueBound(int nranks) {
  return std::clamp(256 / nranks, 2, 16);
}

// The input value of (rank, element) as an exact small integer.
double inputValue(gcclRedOp_t op, int rank, int nranks, size_t i) {
  const auto c = static_cast<double>(i % kPeriod);
  const double r = rank;
  const double m = valueBound(nranks);
  switch (op) {
    // A product of ones and twos: exact powers of two, wrapping alike in every integer type.
    case gcclProd: return std::fmod(c + r, r + 2) == 0 ? 2 : 1;
    case gcclMin:
    case gcclMax: return std::fmod(c * 5 + (r + 1) * 3, m);
    default: return std::fmod((c + 1) * (r + 1) + r, m);
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
