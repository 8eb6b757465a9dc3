#include "base/dtype.h"

#include <array>

namespace gccl {
namespace {

struct TypeInfo {
  std::string_view name;
  size_t size;
};

constexpr std::array<TypeInfo, kNumDataTypes> kTypes = {{
    {"int8", 1},
    {"uint8", 1},
    {"int32", 4},
    {"uint32", 4},
    {"int64", 8},
    {"uint64", 8},
    {"float16", 2},
    {"bfloat16", 2},
    {"float32", 4},
    {"float64", 8},
}};

constexpr std::array<std::string_view, kNumReduceOps> kOps = {"sum", "prod", "min", "max", "avg"};

}  // namespace

size_t dataTypeSize(DataType type) {
  return kTypes.at(static_cast<size_t>(type)).size;
}

std::string_view dataTypeName(DataType type) {
  return kTypes.at(static_cast<size_t>(type)).name;
}

std::string_view reduceOpName(ReduceOp op) {
  return kOps.at(static_cast<size_t>(op));
}

std::optional<DataType> parseDataType(std::string_view name) {
  // nccl-tests spellings are accepted too, so scripts can share flags.
  if (name == "half") return DataType::kFloat16;
  if (name == "float") return DataType::kFloat32;
  if (name == "double") return DataType::kFloat64;
  if (name == "bf16") return DataType::kBfloat16;
  for (size_t i = 0; i < kTypes.size(); ++i) {
    if (kTypes[i].name == name) return static_cast<DataType>(i);
  }
  return std::nullopt;
}

std::optional<ReduceOp> parseReduceOp(std::string_view name) {
  for (size_t i = 0; i < kOps.size(); ++i) {
    if (kOps[i] == name) return static_cast<ReduceOp>(i);
  }
  return std::nullopt;
}

}  // namespace gccl
