// Element types and reduction ops shared by the baseline perf tools, plus the
// exact-result input pattern used to count wrong elements.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace baselines {

enum class DType { kFloat32, kFloat64, kInt32 };
enum class Op { kSum, kProd, kMin, kMax };

std::optional<DType> parseDType(const std::string& name);
std::optional<Op> parseOp(const std::string& name);
const char* dtypeName(DType dtype);
const char* opName(Op op);

// Calls fn(T{}) with the C++ type of `dtype`: the one place a runtime dtype becomes a template.
template <typename Fn>
decltype(auto) visitDType(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::kFloat64: return fn(double{});
    case DType::kInt32: return fn(int32_t{});
    case DType::kFloat32: break;
  }
  return fn(float{});
}

// Small integers, so every reduction order gives the same, exactly representable result
// (the nccl-tests "verifiable" idea). Products use only 1 and 2: 2^nranks stays exact in
// float32 for up to 24 ranks, while 0..4 would overflow int32 at 16 ranks.
inline int inputValue(Op op, int rank, size_t index) {
  const int v = static_cast<int>(((rank + 1) * (index % 7 + 1)) % 5);
  return op == Op::kProd ? 1 + v % 2 : v;
}

// The allreduce result every rank must hold at `index`.
inline int64_t expectedValue(Op op, int nranks, size_t index) {
  int64_t acc = inputValue(op, 0, index);
  for (int r = 1; r < nranks; ++r) {
    const int64_t v = inputValue(op, r, index);
    switch (op) {
      case Op::kSum: acc += v; break;
      case Op::kProd: acc *= v; break;
      case Op::kMin: acc = v < acc ? v : acc; break;
      case Op::kMax: acc = v > acc ? v : acc; break;
    }
  }
  return acc;
}

template <typename T>
void fillInput(T* data, size_t count, Op op, int rank) {
  for (size_t i = 0; i < count; ++i) data[i] = static_cast<T>(inputValue(op, rank, i));
}

// Elements of `data` that differ from `expected` at elements [first, first + count) of the
// pattern. It repeats every 7 elements, so the expected values are tabulated once.
template <typename T, typename Expected>
int64_t countDifferences(const T* data, size_t count, size_t first, Expected expected) {
  T table[7];
  for (size_t k = 0; k < 7; ++k) table[k] = static_cast<T>(expected(k));
  int64_t wrong = 0;
  for (size_t i = 0; i < count; ++i) wrong += data[i] != table[(first + i) % 7];
  return wrong;
}

// Against the reduction of every rank's input (allreduce, reduce, a reduce-scatter block).
template <typename T>
int64_t countWrong(const T* data, size_t count, Op op, int nranks, size_t first = 0) {
  return countDifferences(data, count, first,
                          [&](size_t k) { return expectedValue(op, nranks, k); });
}

// Against `rank`'s input from element `first` on (a broadcast from that root, an allgather
// block of that rank, that rank's all-to-all block for another).
template <typename T>
int64_t countWrongInput(const T* data, size_t count, Op op, int rank, size_t first = 0) {
  return countDifferences(data, count, first, [&](size_t k) { return inputValue(op, rank, k); });
}

}  // namespace baselines
