#include "verifiable.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fp16/half.h"

namespace gccl::perf {

namespace {

// The input value of (rank, element) as an exact small integer.
double inputValue(gcclRedOp_t op, int rank, int nranks, size_t i) {
  switch (op) {
    case gcclProd: return i % static_cast<size_t>(nranks) == static_cast<size_t>(rank) ? 2 : 1;
    case gcclMin:
    case gcclMax: return static_cast<double>((static_cast<size_t>(rank) * 7 + i) % 11);
    default: return static_cast<double>((static_cast<size_t>(rank) + i) % 4);
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
    default: store(buffer, i, type, std::trunc(sum / nranks)); break;
  }
}

// Inputs and results repeat with this period in the element index, so one period is computed
// and then tiled: checking 64 MiB costs about as much as comparing memory.
size_t period(gcclRedOp_t op, int nranks) {
  switch (op) {
    case gcclProd: return static_cast<size_t>(nranks);
    case gcclMin:
    case gcclMax: return 11;
    default: return 4;
  }
}

}  // namespace

void fillInput(void* buffer, size_t count, gcclDataType_t type, gcclRedOp_t op, int rank,
               int nranks) {
  const size_t elementSize = gcclTypeSize(type);
  const size_t p = std::min(period(op, nranks), count);
  for (size_t i = 0; i < p; ++i) store(buffer, i, type, inputValue(op, rank, nranks, i));
  auto* bytes = static_cast<unsigned char*>(buffer);
  for (size_t done = p; done < count;) {
    const size_t chunk = std::min(done, count - done);  // doubling copies of whole periods
    std::memcpy(bytes + done * elementSize, bytes, chunk * elementSize);
    done += chunk;
  }
}

size_t countWrong(const void* output, size_t count, gcclDataType_t type, gcclRedOp_t op,
                  int nranks) {
  const size_t elementSize = gcclTypeSize(type);
  const size_t p = period(op, nranks);
  std::vector<unsigned char> expected(p * elementSize);
  for (size_t i = 0; i < p; ++i) {
    const double exact = exactResult(op, nranks, i);
    if (op == gcclAvg)
      storeAverage(expected.data(), i, type, exact, nranks);
    else
      store(expected.data(), i, type, exact);
  }
  const auto* actual = static_cast<const unsigned char*>(output);
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

}  // namespace gccl::perf
