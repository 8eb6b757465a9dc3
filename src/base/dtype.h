// Element types and reduction operations as the core sees them: type-erased buffers carry
// (pointer, count, DataType); only the kernels behind reduce.h know the element layout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace gccl {

// Values match gcclDataType_t / gcclRedOp_t so the C boundary converts with a range check.
enum class DataType : int {
  kInt8 = 0,
  kUint8,
  kInt32,
  kUint32,
  kInt64,
  kUint64,
  kFloat16,
  kBfloat16,
  kFloat32,
  kFloat64,
};
inline constexpr int kNumDataTypes = 10;

enum class ReduceOp : int { kSum = 0, kProd, kMin, kMax, kAvg };
inline constexpr int kNumReduceOps = 5;

size_t dataTypeSize(DataType type);
std::string_view dataTypeName(DataType type);
std::string_view reduceOpName(ReduceOp op);
std::optional<DataType> parseDataType(std::string_view name);
std::optional<ReduceOp> parseReduceOp(std::string_view name);

inline bool isFloatingPoint(DataType type) {
  return type == DataType::kFloat16 || type == DataType::kBfloat16 || type == DataType::kFloat32 ||
         type == DataType::kFloat64;
}

}  // namespace gccl
